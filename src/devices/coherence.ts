/**
 * Keeps one TLB coherent with the page tables whose translations it may hold, under every tag
 * (ASID, VMID) it may hold them with: the model of the TLB maintenance a kernel issues after it
 * changes a page table (`flush_tlb_range` -> `TLBI VAE1IS`; for stage 2 `TLBI IPAS2E1IS`, or
 * `TLBI VMALLS12E1IS` where combined entries hide the IPA).
 *
 * A CPU may switch TTBR0 and ASID without flushing (entries are tagged), so entries cached from
 * a table under an older ASID stay in the TLB and must still be invalidated when that table
 * changes. A tracked table therefore remembers every tag it was used with, and its flushes go to
 * all of them. Over-invalidating (a tag now used with another table) costs only misses.
 *
 * - stage-1 table, leaf or walk range: `invalidateRange(va, size, asid, vmid)` per tag (global
 *   entries in the range go too);
 * - stage-1 table, everything (the table was destroyed): the whole input range per tag, so the
 *   table's global entries go as well;
 * - stage-2 table used alone (the TLB caches IPA -> PA): the IPA range, any ASID, per VMID;
 * - stage-2 table used under a stage 1 (the TLB caches VA -> PA, no IPA to match): every entry
 *   of each VMID.
 *
 * Lifetimes: tracking registers a flush target on the table; {@link untrack} and
 * {@link dispose} remove it. When a tracked table is destroyed it is untracked by itself and
 * `onDestroyed` is told, so the device lets go of it.
 */
import { fail, inField } from "../base/errors.js";
import type { Disposable } from "../base/lifetime.js";
import type { AnyPageTable } from "../mmu/page-table.js";
import { PageTable } from "../mmu/page-table.js";
import type { TableRoot } from "../mmu/regime.js";
import { rootOf } from "../mmu/regime.js";
import type { TlbReplacement } from "../mmu/tlb.js";
import { Tlb } from "../mmu/tlb.js";

/** The geometry of a TLB a device builds for itself; unset fields take the device's defaults. */
export interface TlbGeometry {
  sets?: number;
  ways?: number;
  replacement?: TlbReplacement;
  /** Seed of the random replacement policy. */
  seed?: number;
}

/** `spec` itself if it is a TLB (shared), else a new TLB of that geometry over `defaults`. */
export function tlbFrom(
  spec: Tlb | TlbGeometry | undefined,
  defaults: { sets: number; ways: number },
  name: string,
): Tlb {
  if (spec instanceof Tlb) return spec;
  return inField(
    "tlb",
    () =>
      new Tlb({
        sets: spec?.sets ?? defaults.sets,
        ways: spec?.ways ?? defaults.ways,
        replacement: spec?.replacement ?? "lru",
        name,
        ...(spec?.seed !== undefined ? { seed: spec.seed } : {}),
      }),
  );
}

/** A table root from a page table or a root. */
export function asRoot(table: AnyPageTable | TableRoot): TableRoot {
  return table instanceof PageTable ? rootOf(table) : table;
}

/** Check an ASID or VMID (16 bits, as SMMUv2 and VMSAv8 with 16-bit ASIDs allow). */
export function checkTag(what: "asid" | "vmid", owner: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff)
    fail("EINVAL", `${owner}: ${what} ${String(v)} is not 0..65535`, what);
}

/** The whole input range of an invalidation. */
const ALL_INPUTS = 2 ** 52;

interface Tag {
  asid: number;
  vmid: number;
  /** Stage 2 only: used under a stage 1 (entries keyed by VA), else alone (keyed by IPA). */
  nested: boolean;
}

interface Tracked {
  /** Tags by `asid:vmid` (stage 1) or `vmid:nested` (stage 2). */
  tags: Map<string, Tag>;
  registration: Disposable;
}

export class TlbCoherence implements Disposable {
  private readonly tables = new Map<AnyPageTable, Tracked>();

  constructor(
    private readonly tlb: Tlb,
    /** Told when a tracked table is destroyed (after it was untracked). */
    private readonly onDestroyed: (table: AnyPageTable) => void = () => {},
  ) {}

  /**
   * From now on, `table`'s invalidations reach this TLB for entries tagged `asid` / `vmid`;
   * for a stage-2 table, `nested` says whether a stage 1 runs over it. Idempotent; tags add up.
   */
  track(table: AnyPageTable, asid: number, vmid: number, nested = false): void {
    const stage = table.format.stage;
    let t = this.tables.get(table);
    if (t === undefined) {
      const tags = new Map<string, Tag>();
      const tlb = this.tlb;
      const registration = table.addFlushTarget(
        stage === 1
          ? {
              flushLeaf: (va, size) => {
                for (const g of tags.values()) tlb.invalidateRange(va, size, g.asid, g.vmid);
              },
              flushWalk: (va, size) => {
                for (const g of tags.values()) tlb.invalidateRange(va, size, g.asid, g.vmid);
              },
              flushAll: () => {
                for (const g of tags.values()) tlb.invalidateRange(0, ALL_INPUTS, g.asid, g.vmid);
              },
              tableDestroyed: (x) => this.destroyed(x),
            }
          : {
              flushLeaf: (ipa, size) => this.invalidateStage2(tags, ipa, size),
              flushWalk: (ipa, size) => this.invalidateStage2(tags, ipa, size),
              flushAll: () => {
                for (const g of tags.values()) tlb.invalidateVmid(g.vmid);
              },
              tableDestroyed: (x) => this.destroyed(x),
            },
      );
      t = { tags, registration };
      this.tables.set(table, t);
    }
    const key = stage === 1 ? `${asid}:${vmid}` : `${vmid}:${nested}`;
    t.tags.set(key, { asid, vmid, nested });
  }

  private invalidateStage2(tags: Map<string, Tag>, ipa: number, size: number): void {
    for (const g of tags.values())
      if (g.nested) this.tlb.invalidateVmid(g.vmid);
      else this.tlb.invalidateRange(ipa, size, undefined, g.vmid);
  }

  private destroyed(table: AnyPageTable): void {
    this.untrack(table);
    this.onDestroyed(table);
  }

  /** Stop forwarding `table`'s invalidations (nothing is flushed). */
  untrack(table: AnyPageTable): void {
    const t = this.tables.get(table);
    if (t === undefined) return;
    t.registration.dispose();
    this.tables.delete(table);
  }

  /** The tables tracked now. */
  tracked(): AnyPageTable[] {
    return [...this.tables.keys()];
  }

  /** Untrack every table. */
  dispose(): void {
    for (const table of [...this.tables.keys()]) this.untrack(table);
  }
}
