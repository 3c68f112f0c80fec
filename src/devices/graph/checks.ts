/**
 * Checks built on the reverse map:
 *
 * - {@link findAliases}: physical memory reachable with conflicting memory attributes — as
 *   write-back cacheable by one path and non-cacheable or device by another. Arm forbids such
 *   mismatched aliases from ARMv6 on (the coherency of a line is lost), and it is the objection
 *   that stopped the VCMM upstream. Windows and bypasses carry no attributes and are left out.
 * - {@link findStaleEntries}: TLB entries that no table grants any more: for an entry, a live
 *   regime using that TLB under the entry's tags translates some address of the entry's range
 *   differently now (elsewhere, not at all, or with fewer rights). An entry no current regime's
 *   tags match cannot be hit now and is not reported.
 * - {@link reachableBy}: can any of these masters reach this range? Live paths, and the TLB
 *   entries of their regimes that map into it (a stale entry reaches memory too).
 */
import { hex } from "../../base/address.js";
import type { MemType } from "../../mmu/prot.js";
import { PERM } from "../../mmu/prot.js";
import type { TranslationRegime } from "../../mmu/regime.js";
import { TranslateOut } from "../../mmu/regime.js";
import type { Tlb, TlbEntry, TlbEntryFacts } from "../../mmu/tlb.js";
import { entryFacts, formatPerm } from "../../mmu/tlb.js";
import { FAULT_NONE, offsetIn } from "../../mmu/walk.js";
import type { Platform } from "../platform.js";
import type { ReachPath } from "./reverse-map.js";
import { whoReaches } from "./reverse-map.js";

/** The whole physical address space the model represents. */
export const ALL_MEMORY: readonly [number, number] = [0, 2 ** 52];

/** A physical range reached with more than one memory type. */
export interface Alias {
  readonly start: number;
  readonly end: number;
  /** The memory types it is reached with, in a fixed order. */
  readonly memTypes: readonly MemType[];
  /** The paths, one per master and input, that reach it. */
  readonly paths: ReadonlyArray<{
    readonly master: string;
    readonly input: ReachPath["input"];
    readonly memType: MemType;
  }>;
}

const MEM_ORDER: readonly MemType[] = ["normal-wb", "normal-nc", "device"];

/**
 * The physical ranges within `[start, end)` (default: everything) that live paths reach with
 * different memory types, each with the paths that do; sorted by address.
 */
export function findAliases(
  platform: Platform,
  start = ALL_MEMORY[0],
  end = ALL_MEMORY[1],
): Alias[] {
  const typed = whoReaches(platform, start, end, { onlyLive: true }).filter(
    (p): p is ReachPath & { memType: MemType } => p.memType !== "unknown",
  );
  // Sweep the paths' physical ranges: where the active ones disagree, there is an alias.
  const cuts = [...new Set(typed.flatMap((p) => [p.phys.start, p.phys.end]))].sort((a, b) => a - b);
  const out: Alias[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const a = cuts[i]!;
    const b = cuts[i + 1]!;
    const here = typed
      .filter((p) => p.phys.start <= a && p.phys.end >= b)
      .sort((x, y) =>
        x.master < y.master ? -1 : x.master > y.master ? 1 : x.input.start - y.input.start,
      );
    const types = MEM_ORDER.filter((t) => here.some((p) => p.memType === t));
    if (types.length < 2) continue;
    const paths = here.map((p) => ({
      master: p.master,
      input: {
        space: p.input.space,
        start: p.input.start + (a - p.phys.start),
        end: p.input.start + (b - p.phys.start),
      },
      memType: p.memType,
    }));
    const last = out[out.length - 1];
    // Adjacent pieces reached by the same masters with the same types, each from an input that
    // continues its input in the last piece, make one alias.
    if (
      last !== undefined &&
      last.end === a &&
      last.memTypes.join() === types.join() &&
      last.paths.map((p) => `${p.master}:${p.memType}`).join() ===
        paths.map((p) => `${p.master}:${p.memType}`).join() &&
      last.paths.every(
        (p, j) => p.input.space === paths[j]!.input.space && p.input.end === paths[j]!.input.start,
      )
    )
      out[out.length - 1] = {
        ...last,
        end: b,
        paths: last.paths.map((p, j) => ({
          ...p,
          input: { ...p.input, end: paths[j]!.input.end },
        })),
      };
    else out.push({ start: a, end: b, memTypes: types, paths });
  }
  return out;
}

/** A TLB entry that the tables no longer grant. */
export interface StaleEntry {
  /** The device that holds the TLB, and the TLB's name. */
  readonly owner: string;
  readonly tlb: string;
  readonly entry: TlbEntryFacts;
  /** The regime whose tables disagree, and how. */
  readonly regime: string;
  readonly reason: string;
}

interface TlbUse {
  readonly tlb: Tlb;
  readonly owner: string;
  readonly regimes: TranslationRegime[];
}

/** Every TLB of the machine with the live regimes that use it. */
function tlbUses(platform: Platform): TlbUse[] {
  const uses = new Map<Tlb, TlbUse>();
  for (const d of platform.devices())
    for (const info of d.capabilities().regimes) {
      const m = info.tlb;
      if (m === undefined) continue;
      let u = uses.get(m.tlb);
      if (u === undefined) uses.set(m.tlb, (u = { tlb: m.tlb, owner: m.owner, regimes: [] }));
      if (info.live && info.regime.enabled && !u.regimes.includes(info.regime))
        u.regimes.push(info.regime);
    }
  return [...uses.values()];
}

/** The bits of a TLB entry's permissions that grant accesses. */
const ACCESS_BITS =
  PERM.READ_PRIV |
  PERM.WRITE_PRIV |
  PERM.EXEC_PRIV |
  PERM.READ_USER |
  PERM.WRITE_USER |
  PERM.EXEC_USER;

/** `r w - R W -` as `rw-RW-`. */
function compactPerm(perm: number): string {
  return formatPerm(perm).replace(/ /g, "");
}

/** Why `e` is stale for regime `r`, or undefined if the tables still give it. */
function staleness(r: TranslationRegime, e: TlbEntry, out: TranslateOut): string | undefined {
  let va = e.va;
  const end = e.va + e.size;
  while (va < end) {
    if (r.probe(va, out) !== FAULT_NONE) return `${hex(va)} no longer translates`;
    const want = e.pa + (va - e.va);
    if (out.pa !== want) return `${hex(va)} now translates to ${hex(out.pa)}, not ${hex(want)}`;
    const extra = e.perm & ACCESS_BITS & ~out.perm;
    if (extra !== 0)
      return `${hex(va)} no longer allows ${compactPerm(extra)} (the tables give ${compactPerm(out.perm)})`;
    va += out.size - offsetIn(va, out.size);
  }
  return undefined;
}

/** Every stale TLB entry of the machine, by TLB, in entry order. */
export function findStaleEntries(platform: Platform): StaleEntry[] {
  const out: StaleEntry[] = [];
  const t = new TranslateOut();
  for (const u of tlbUses(platform))
    for (const e of u.tlb.entries()) {
      for (const r of u.regimes) {
        if (r.vmid !== e.vmid || (!e.global && r.asid !== e.asid)) continue;
        const reason = staleness(r, e, t);
        if (reason === undefined) continue;
        out.push({
          owner: u.owner,
          tlb: u.tlb.name,
          entry: entryFacts(e),
          regime: r.name,
          reason,
        });
        break; // one regime saying so is enough
      }
    }
  return out;
}

/** What `reachableBy` found: live paths and cached TLB entries into the range. */
export interface Reach {
  readonly paths: ReachPath[];
  readonly cached: ReadonlyArray<{
    readonly master: string;
    readonly tlb: string;
    readonly va: number;
    readonly pa: number;
    readonly size: number;
  }>;
}

/**
 * Whether any of `masters` can reach physical `[start, end)`: their live paths there, and the
 * entries of the TLBs their regimes use that map into it (under the regime's tags). The range
 * is isolated from them when both are empty.
 */
export function reachableBy(
  platform: Platform,
  masters: readonly string[],
  start: number,
  end: number,
): Reach {
  const paths = whoReaches(platform, start, end, { onlyLive: true }).filter((p) =>
    masters.includes(p.master),
  );
  const cached: Array<Reach["cached"][number]> = [];
  for (const d of platform.devices()) {
    const caps = d.capabilities();
    const m = caps.masters.find((x) => x.name === d.name);
    if (m === undefined || !masters.includes(m.name)) continue;
    for (const info of caps.regimes) {
      const tlb = info.tlb?.tlb;
      if (tlb === undefined || !info.live) continue;
      const r = info.regime;
      for (const e of tlb.entries())
        if (
          e.vmid === r.vmid &&
          (e.global || e.asid === r.asid) &&
          e.pa < end &&
          start < e.pa + e.size
        )
          cached.push({ master: m.name, tlb: tlb.name, va: e.va, pa: e.pa, size: e.size });
    }
  }
  return { paths, cached };
}
