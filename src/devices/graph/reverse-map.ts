/**
 * The platform-wide reverse map: for a physical range, every way a bus master can reach it —
 * which master, at which input address (VA, IOVA or IPA; a physical address for a window or a
 * bypass), through which translation (the stage-1 table and leaf, with TTBR0 or TTBR1; the
 * stage-2 table and leaf; the tables other masters walk too), with which rights (read, write,
 * execute, privileged and unprivileged, after combining both stages), which memory type
 * (write-back cacheable, non-cacheable, device: the stronger of the two stages'), whether the
 * path is live (a CPU's MMU; a bound, active context bank), and the owners labelled on it.
 *
 * Devices are enumerated through their capabilities; a table is inverted on demand with the
 * generic walker (`walkRoot`) the first time it is asked about, then through its reverse index
 * (reverse-index.ts), which follows its change stream. Decision, by measurement (docs/graph.md):
 * recording every table's change stream from the start would make a 4K map 45% slower, and a
 * per-leaf index 200% slower (W3); indexing only the tables queried leaves the others as fast
 * as they were. A query inverts each distinct table at most once.
 *
 * Nested regimes are inverted in two hops: stage 2 gives the IPAs of the physical range, stage 1
 * the VAs whose output falls in them.
 *
 * @example
 * for (const p of whoReaches(platform, buf, buf + 4096))
 *   console.log(p.master, p.input.space, hex(p.input.start), p.rights, p.memType, p.live);
 */
import type { MemType } from "../../mmu/prot.js";
import { PERM } from "../../mmu/prot.js";
import { formatDescriptor } from "../../mmu/dump.js";
import type { AnyPageTable, LeafVisit } from "../../mmu/page-table.js";
import type { TableMemory, TableRoot } from "../../mmu/table-memory.js";
import { Stage2TableMemory } from "../../mmu/table-memory.js";
import { walkRoot } from "../../mmu/tree-walk.js";
import type { ReverseIndexes, TableIndex } from "./reverse-index.js";
import { formatPerm } from "../../mmu/tlb.js";
import { hex } from "../../base/address.js";
import type { BusMaster } from "../bus-master.js";
import type { Platform } from "../platform.js";
import type { RegimeInfo } from "../registry.js";
import type { Owner } from "./owners.js";

/** One stage of a translated path: the table and the leaf it went through. */
export interface StageHop {
  /** The table's name (a page table's), or its root address. */
  readonly table: string;
  /** Stage 1 only: the TTBR that holds the table. */
  readonly ttbr?: "ttbr0" | "ttbr1";
  /** The (first) leaf: its input base, size, output base, level and descriptor. */
  readonly leaf: {
    readonly va: number;
    readonly size: number;
    readonly pa: number;
    readonly level: number;
    readonly descAddr: number;
    readonly descriptor: string;
  };
  /** Leaves the path runs through (more than one for a coalesced run). */
  readonly leaves: number;
  /** Other masters whose regimes walk the same table (a shared table). */
  readonly sharedWith: readonly string[];
}

/** The address space of a path's input. */
export type InputSpace = "virt" | "ipa" | "phys";

/** One way to reach physical memory. Ranges are `[start, end)`. */
export interface ReachPath {
  /** The bus master whose accesses reach it, and its kind. */
  readonly master: string;
  readonly kind: string;
  /** Through translation, a physical window (one-to-one), or a bypass (no table: MMU off). */
  readonly via: "translation" | "window" | "bypass";
  /** The translation regime (`cpu0`, `smmu0/dma`), and the context bank for an SMMU master. */
  readonly regime?: string;
  readonly contextBank?: string;
  /** The input range, in its space. */
  readonly input: { readonly space: InputSpace; readonly start: number; readonly end: number };
  /** The physical range it reaches (within the one asked about). */
  readonly phys: { readonly start: number; readonly end: number };
  readonly stage1?: StageHop;
  readonly stage2?: StageHop;
  /** {@link PERM} bits both stages allow; `rights` as `r w x R W X` (privileged, then user). */
  readonly perm: number;
  readonly rights: string;
  /**
   * What the master's own accesses (at its default privilege: CPUs privileged, devices not)
   * may do: some of `r`, `w`, `x`, e.g. `"rw"`; empty when they may do nothing.
   */
  readonly access: string;
  /** The memory type the path accesses with; "unknown" for windows and bypasses. */
  readonly memType: MemType | "unknown";
  /** True if accesses take this path now. */
  readonly live: boolean;
  /** The owners labelled on the path's device, tables and ranges. */
  readonly owners: readonly Owner[];
}

/** A path's `perm`, `rights` and `access` from the mask both stages allow. */
function grants(perm: number, master: BusMaster): Pick<ReachPath, "perm" | "rights" | "access"> {
  return { perm, rights: formatPerm(perm), access: accessOf(perm, master.defaultPrivileged) };
}

/** The `rwx` letters a mask allows at one privilege. */
export function accessOf(perm: number, privileged: boolean): string {
  const [r, w, x] = privileged
    ? [PERM.READ_PRIV, PERM.WRITE_PRIV, PERM.EXEC_PRIV]
    : [PERM.READ_USER, PERM.WRITE_USER, PERM.EXEC_USER];
  return (perm & r ? "r" : "") + (perm & w ? "w" : "") + (perm & x ? "x" : "");
}

/** A leaf's piece that meets an output range: input start, output start, size, the leaf. */
interface Piece {
  readonly inStart: number;
  readonly outStart: number;
  readonly size: number;
  readonly leaf: LeafVisit;
}

type Range = readonly [start: number, end: number];

const MEM_RANK: Record<MemType, number> = { "normal-wb": 0, "normal-nc": 1, device: 2 };

/** A window's rights: everything but global, as a one-to-one device's own translation gives. */
const WINDOW_PERM = 0xff & ~PERM.GLOBAL;

/** The memory type of two stages: the stronger one (device over non-cacheable over cacheable). */
function combineMemType(a: MemType, b: MemType): MemType {
  return MEM_RANK[a] >= MEM_RANK[b] ? a : b;
}

/**
 * The memory a nested stage-1 walk reads: table addresses are IPAs, each page fetched through
 * stage 2 ({@link Stage2TableMemory}); a fetch stage 2 refuses reads as an all-zero page, so
 * nothing below it translates, as the walk faults there.
 */
function nestedMemory(stage2: TableRoot): TableMemory {
  const at = { descAddr: 0 };
  const s2 = new Stage2TableMemory(stage2, at);
  return {
    stableViews: false,
    viewEpoch: 0,
    liveTables: 0,
    allocTable: () => s2.allocTable(),
    freeTable: () => s2.freeTable(),
    isTable: () => false,
    words: (ipaPage) => {
      at.descAddr = ipaPage;
      s2.reset(stage2);
      return s2.words(ipaPage);
    },
  };
}

/** Per query: each distinct table root is walked at most once per set of output ranges. */
class Inverter {
  private readonly cache = new Map<TableMemory, Map<number, Map<string, Piece[]>>>();

  constructor(private readonly indexes: ReverseIndexes) {}
  private readonly nested = new Map<TableMemory, Map<number, TableMemory>>();

  /** A nested stage-1 root as its walk reads it: through `stage2` (one memory per stage 2). */
  nestedRoot(stage1: TableRoot, stage2: TableRoot): TableRoot {
    let byRoot = this.nested.get(stage2.memory);
    if (byRoot === undefined)
      this.nested.set(stage2.memory, (byRoot = new Map<number, TableMemory>()));
    let memory = byRoot.get(stage2.root);
    if (memory === undefined) byRoot.set(stage2.root, (memory = nestedMemory(stage2)));
    return { format: stage1.format, memory, root: stage1.root };
  }

  /**
   * The pieces of the leaves of `root` whose output meets one of `ranges` (sorted, disjoint):
   * from the table's reverse index when `table` is the page table at `root`, else by a walk.
   */
  invert(root: TableRoot, ranges: readonly Range[], table?: AnyPageTable): Piece[] {
    let byRoot = this.cache.get(root.memory);
    if (byRoot === undefined)
      this.cache.set(root.memory, (byRoot = new Map<number, Map<string, Piece[]>>()));
    let byRanges = byRoot.get(root.root);
    if (byRanges === undefined) byRoot.set(root.root, (byRanges = new Map<string, Piece[]>()));
    const key = ranges.map((r) => `${r[0]}:${r[1]}`).join(",");
    const cached = byRanges.get(key);
    if (cached !== undefined) return cached;
    const pieces: Piece[] = [];
    if (ranges.length > 0) {
      const lo = ranges[0]![0];
      const hi = ranges[ranges.length - 1]![1];
      const cut = (l: LeafVisit) => {
        const a = l.pa;
        const b = l.pa + l.size;
        if (b <= lo || a >= hi) return;
        for (const [s, e] of ranges) {
          const start = Math.max(a, s);
          const end = Math.min(b, e);
          if (start < end)
            pieces.push({
              inStart: l.va + (start - a),
              outStart: start,
              size: end - start,
              leaf: l,
            });
        }
      };
      const ix =
        table !== undefined && table.root === root.root ? this.indexes.of(table) : undefined;
      // A guest's stage 1 read through stage 2 (another memory than the table's own): the
      // index gives the candidates, the walk through stage 2 keeps those it reaches.
      const throughStage2 = table !== undefined && root.memory !== table.memory;
      const leaves = ix === undefined ? undefined : this.fromIndex(root, ix, lo, hi, throughStage2);
      if (leaves !== undefined) for (const l of leaves) cut(l);
      else walkRoot(root, { leaf: cut });
    }
    byRanges.set(key, pieces);
    return pieces;
  }

  /**
   * The leaves the index gives for `[lo, hi)`, each read from memory (for its descriptor's
   * address, and to check the index: one that differs — a raw write behind the table's back —
   * rebuilds the index and answers again).
   */
  private fromIndex(
    root: TableRoot,
    ix: TableIndex,
    lo: number,
    hi: number,
    throughStage2: boolean,
  ): LeafVisit[] {
    for (let attempt = 0; ; attempt++) {
      const out: LeafVisit[] = [];
      let stale = false;
      for (const l of ix.leavesIn(lo, hi)) {
        let seen: LeafVisit | undefined;
        walkRoot(root, { leaf: (v) => void (seen = v) }, l.va, l.va + 1);
        if (
          seen === undefined ||
          seen.pa !== l.pa ||
          seen.size !== l.size ||
          seen.lo !== l.lo ||
          seen.hi !== l.hi
        ) {
          // Through stage 2, a leaf the walk does not reach is refused there, not stale.
          if (throughStage2) continue;
          stale = true;
          break;
        }
        out.push(seen);
      }
      if (!stale || attempt > 0) return out;
      ix.rebuild();
    }
  }
}

/** Sorted, merged ranges. */
function mergeRanges(ranges: Range[]): Range[] {
  const sorted = [...ranges].sort((x, y) => x[0] - y[0]);
  const out: Array<[number, number]> = [];
  for (const [s, e] of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

/** What a path needs of a table: its root, its name, and who else walks it. */
interface TableRef {
  readonly root: TableRoot;
  readonly name: string;
  /** The page table behind the root, when a regime tracks one (it can be indexed). */
  readonly table: AnyPageTable | undefined;
}

function tableRef(root: TableRoot, table: AnyPageTable | undefined): TableRef {
  return { root, name: table?.name ?? hex(root.root), table };
}

function tableKey(root: TableRoot): string {
  return `${root.root}`;
}

/** A master's regime, as the reverse map walks it. */
interface MasterRegime {
  readonly master: BusMaster;
  readonly info: RegimeInfo;
}

function hop(
  ref: TableRef,
  leaf: LeafVisit,
  shared: ReadonlyMap<TableMemory, ReadonlyMap<string, readonly string[]>>,
  master: string,
  ttbr?: "ttbr0" | "ttbr1",
): StageHop {
  const others = (shared.get(ref.root.memory)?.get(tableKey(ref.root)) ?? []).filter(
    (m) => m !== master,
  );
  return {
    table: ref.name,
    ...(ttbr !== undefined ? { ttbr } : {}),
    leaf: {
      va: leaf.va,
      size: leaf.size,
      pa: leaf.pa,
      level: leaf.level,
      descAddr: leaf.descAddr,
      descriptor: formatDescriptor(ref.root.format, leaf.lo, leaf.hi),
    },
    leaves: 1,
    sharedWith: others,
  };
}

/**
 * Every way to reach physical `[start, end)` now, coalesced into runs (one path per master and
 * translation where consecutive leaves continue each other). Paths that are not live (an
 * inactive context bank) are included, marked `live: false`; `onlyLive` leaves them out.
 */
export function whoReaches(
  platform: Platform,
  start: number,
  end: number,
  options: { readonly onlyLive?: boolean } = {},
): ReachPath[] {
  const inverter = new Inverter(platform.indexes);
  const regimes: MasterRegime[] = [];
  const paths: ReachPath[] = [];
  const owners = platform.owners;
  // Every bus master, with its own regimes and windows (an SMMU's banks come through its masters).
  for (const d of platform.devices()) {
    const caps = d.capabilities();
    const master = caps.masters.find((m) => m.name === d.name);
    if (master === undefined) continue;
    for (const w of caps.windows) {
      const s = Math.max(start, w.base);
      const e = Math.min(end, w.base + w.size);
      if (s < e)
        paths.push({
          master: master.name,
          kind: master.kind,
          via: "window",
          input: { space: "phys", start: s, end: e },
          phys: { start: s, end: e },
          ...grants(WINDOW_PERM, master),
          memType: "unknown",
          live: true,
          owners: [...owners.ofDevice(master.name), ...owners.ofPhys(s, e)],
        });
    }
    for (const info of caps.regimes) regimes.push({ master, info });
  }
  // Who walks which table: for `sharedWith`.
  const shared = new Map<TableMemory, Map<string, string[]>>();
  for (const { master, info } of regimes)
    for (const root of [info.regime.ttbr0, info.regime.ttbr1, info.regime.stage2]) {
      if (root === undefined) continue;
      let m = shared.get(root.memory);
      if (m === undefined) shared.set(root.memory, (m = new Map<string, string[]>()));
      const list = m.get(tableKey(root)) ?? [];
      if (!list.includes(master.name)) list.push(master.name);
      m.set(tableKey(root), list);
    }
  for (const mr of regimes) paths.push(...regimePaths(mr, start, end, inverter, shared, platform));
  const out = coalesce(paths);

  return options.onlyLive === true ? out.filter((p) => p.live) : out;
}

/** The paths of one master's regime to `[start, end)`. */
function regimePaths(
  { master, info }: MasterRegime,
  start: number,
  end: number,
  inverter: Inverter,
  shared: ReadonlyMap<TableMemory, ReadonlyMap<string, readonly string[]>>,
  platform: Platform,
): ReachPath[] {
  const r = info.regime;
  const owners = platform.owners;
  const base = {
    master: master.name,
    kind: master.kind,
    regime: r.name,
    ...(info.contextBank !== undefined ? { contextBank: info.contextBank.name } : {}),
  };
  const live = info.live && r.enabled;
  const stage1 = [
    r.ttbr0 !== undefined
      ? { ref: tableRef(r.ttbr0, info.tables.ttbr0), ttbr: "ttbr0" as const }
      : undefined,
    r.ttbr1 !== undefined
      ? { ref: tableRef(r.ttbr1, info.tables.ttbr1), ttbr: "ttbr1" as const }
      : undefined,
  ].filter((x) => x !== undefined);
  const s2 = r.stage2 !== undefined ? tableRef(r.stage2, info.tables.stage2) : undefined;
  const out: ReachPath[] = [];
  if (stage1.length === 0 && s2 === undefined) {
    // No table at all: the MMU is off, addresses are physical (only while enabled).
    if (r.enabled)
      out.push({
        ...base,
        via: "bypass",
        input: { space: "phys", start, end },
        phys: { start, end },
        ...grants(0xff, master),
        memType: "unknown",
        live,
        owners: [...owners.ofDevice(master.name), ...owners.ofPhys(start, end)],
      });
    return out;
  }
  // Stage 2 first: the IPAs of the range (or, alone, the inputs themselves).
  const s2Pieces =
    s2 !== undefined ? inverter.invert(s2.root, [[start, end]], s2.table) : undefined;
  const splitOf = (ttbr: "ttbr0" | "ttbr1"): Range =>
    r.split === undefined ? [0, Infinity] : ttbr === "ttbr0" ? [0, r.split] : [r.split, Infinity];
  if (stage1.length === 0) {
    for (const p of s2Pieces!) {
      const perm = s2!.root.format.perm(p.leaf.levelIndex, p.leaf.lo, p.leaf.hi);
      const mem = s2!.root.format.attributes(p.leaf.levelIndex, p.leaf.lo, p.leaf.hi).memType;
      out.push({
        ...base,
        via: "translation",
        input: { space: "ipa", start: p.inStart, end: p.inStart + p.size },
        phys: { start: p.outStart, end: p.outStart + p.size },
        stage2: hop(s2!, p.leaf, shared, master.name),
        ...grants(perm, master),
        memType: mem,
        live,
        owners: [
          ...owners.ofDevice(master.name),
          ...owners.ofTable(s2!.root, p.inStart, p.inStart + p.size),
          ...owners.ofPhys(p.outStart, p.outStart + p.size),
        ],
      });
    }
    return out;
  }
  for (const { ref, ttbr } of stage1) {
    const [lo, hi] = splitOf(ttbr);
    if (s2Pieces === undefined) {
      for (const p of inverter.invert(ref.root, [[start, end]], ref.table)) {
        const s = Math.max(p.inStart, lo);
        const e = Math.min(p.inStart + p.size, hi);
        if (s >= e) continue;
        const shift = s - p.inStart;
        const f = ref.root.format;
        const perm = f.perm(p.leaf.levelIndex, p.leaf.lo, p.leaf.hi);
        out.push({
          ...base,
          via: "translation",
          input: { space: "virt", start: s, end: e },
          phys: { start: p.outStart + shift, end: p.outStart + shift + (e - s) },
          stage1: hop(ref, p.leaf, shared, master.name, ttbr),
          ...grants(perm, master),
          memType: f.attributes(p.leaf.levelIndex, p.leaf.lo, p.leaf.hi).memType,
          live,
          owners: [
            ...owners.ofDevice(master.name),
            ...owners.ofTable(ref.root, s, e),
            ...owners.ofPhys(p.outStart + shift, p.outStart + shift + (e - s)),
          ],
        });
      }
      continue;
    }
    // Nested: stage 1 leaves whose IPA output falls in the IPAs stage 2 gives the range; the
    // stage-1 tables are at IPAs too, read through stage 2 as the walk reads them.
    const ipas = mergeRanges(s2Pieces.map((p) => [p.inStart, p.inStart + p.size] as const));
    for (const p1 of inverter.invert(inverter.nestedRoot(ref.root, s2!.root), ipas, ref.table))
      for (const p2 of s2Pieces) {
        // The part of stage 1's output [p1.outStart, +size) that stage 2's piece takes in.
        const ipaStart = Math.max(p1.outStart, p2.inStart);
        const ipaEnd = Math.min(p1.outStart + p1.size, p2.inStart + p2.size);
        if (ipaStart >= ipaEnd) continue;
        const vs = p1.inStart + (ipaStart - p1.outStart);
        const s = Math.max(vs, lo);
        const e = Math.min(vs + (ipaEnd - ipaStart), hi);
        if (s >= e) continue;
        const pa = p2.outStart + (ipaStart - p2.inStart) + (s - vs);
        const f1 = ref.root.format;
        const f2 = s2!.root.format;
        const p1perm = f1.perm(p1.leaf.levelIndex, p1.leaf.lo, p1.leaf.hi);
        const p2perm = f2.perm(p2.leaf.levelIndex, p2.leaf.lo, p2.leaf.hi);
        // Stage 2 has no ASID: a global stage-1 entry stays global (as the regime combines).
        const perm = (p1perm & p2perm) | (p1perm & PERM.GLOBAL);
        const mem = combineMemType(
          f1.attributes(p1.leaf.levelIndex, p1.leaf.lo, p1.leaf.hi).memType,
          f2.attributes(p2.leaf.levelIndex, p2.leaf.lo, p2.leaf.hi).memType,
        );
        const ipa = ipaStart + (s - vs);
        out.push({
          ...base,
          via: "translation",
          input: { space: "virt", start: s, end: e },
          phys: { start: pa, end: pa + (e - s) },
          stage1: hop(ref, p1.leaf, shared, master.name, ttbr),
          stage2: hop(s2!, p2.leaf, shared, master.name),
          ...grants(perm, master),
          memType: mem,
          live,
          owners: [
            ...owners.ofDevice(master.name),
            ...owners.ofTable(ref.root, s, e),
            ...owners.ofTable(s2!.root, ipa, ipa + (e - s)),
            ...owners.ofPhys(pa, pa + (e - s)),
          ],
        });
      }
  }
  return out;
}

function sameOwners(a: readonly Owner[], b: readonly Owner[]): boolean {
  return (
    a.length === b.length &&
    a.every((o, i) => o.system === b[i]!.system && o.kind === b[i]!.kind && o.name === b[i]!.name)
  );
}

/**
 * Merge paths that continue each other: same master and regime, same tables and TTBR, same
 * rights, memory type, liveness and owners, input and physical ranges both contiguous.
 */
function coalesce(paths: ReachPath[]): ReachPath[] {
  const order = (p: ReachPath) =>
    `${p.master}\u0000${p.via}\u0000${p.stage1?.ttbr ?? ""}\u0000${p.input.space}`;
  const sorted = [...paths].sort((a, b) => {
    const ka = order(a);
    const kb = order(b);
    return ka < kb ? -1 : ka > kb ? 1 : a.input.start - b.input.start;
  });
  const out: ReachPath[] = [];
  // The leaves the last path of `out` ended in (a run counts each leaf once).
  let last1 = -1;
  let last2 = -1;
  for (const p of sorted) {
    const last = out[out.length - 1];
    const l1 = p.stage1?.leaf.va ?? -1;
    const l2 = p.stage2?.leaf.va ?? -1;
    if (
      last !== undefined &&
      last.master === p.master &&
      last.via === p.via &&
      last.regime === p.regime &&
      last.input.space === p.input.space &&
      last.input.end === p.input.start &&
      last.phys.end === p.phys.start &&
      last.stage1?.table === p.stage1?.table &&
      last.stage1?.ttbr === p.stage1?.ttbr &&
      last.stage2?.table === p.stage2?.table &&
      last.perm === p.perm &&
      last.memType === p.memType &&
      last.live === p.live &&
      sameOwners(last.owners, p.owners)
    ) {
      out[out.length - 1] = {
        ...last,
        input: { ...last.input, end: p.input.end },
        phys: { ...last.phys, end: p.phys.end },
        ...(last.stage1 !== undefined
          ? { stage1: { ...last.stage1, leaves: last.stage1.leaves + (l1 !== last1 ? 1 : 0) } }
          : {}),
        ...(last.stage2 !== undefined
          ? { stage2: { ...last.stage2, leaves: last.stage2.leaves + (l2 !== last2 ? 1 : 0) } }
          : {}),
      };
    } else out.push(p);
    last1 = l1;
    last2 = l2;
  }
  // People read paths per physical address: order by phys, then master.
  return out.sort(
    (a, b) =>
      a.phys.start - b.phys.start ||
      (a.master < b.master ? -1 : a.master > b.master ? 1 : 0) ||
      a.input.start - b.input.start,
  );
}
