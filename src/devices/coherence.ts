/**
 * Keeps one TLB coherent with the page tables whose translations it may hold, under every tag
 * (ASID, VMID) it may hold them with: the model of the TLB maintenance a kernel issues after it
 * changes a page table (`flush_tlb_range` -> `TLBI VAE1IS`, `TLBI VMALLS12E1IS` for stage 2).
 *
 * A CPU may switch TTBR0 and ASID without flushing (entries are tagged), so entries cached from
 * a table under an older ASID stay in the TLB and must still be invalidated when that table
 * changes. A tracked table therefore remembers every tag it was used with, and its flushes go to
 * all of them. Over-invalidating (a tag now used with another table) costs only misses.
 *
 * - stage-1 table, range: `invalidateRange(va, size, asid, vmid)` per tag (global entries in the
 *   range go too);
 * - stage-1 table, everything (the table was destroyed): the whole input range per tag, so the
 *   table's global entries go as well;
 * - stage-2 table: every entry of each VMID, because entries are tagged by input address, not by
 *   IPA (`TLBI IPAS2E1` must be followed by `TLBI VMALLE1`).
 */
import { fail } from "../base/errors.js";
import type { TableRoot } from "../mmu/context.js";
import { rootOf } from "../mmu/context.js";
import { PageTable } from "../mmu/page-table.js";
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
  return new Tlb({
    sets: spec?.sets ?? defaults.sets,
    ways: spec?.ways ?? defaults.ways,
    replacement: spec?.replacement ?? "lru",
    name,
    ...(spec?.seed !== undefined ? { seed: spec.seed } : {}),
  });
}

/** A table root from a page table or a root. */
export function asRoot(table: PageTable | TableRoot): TableRoot {
  return table instanceof PageTable ? rootOf(table) : table;
}

/** Check an ASID or VMID (16 bits, as SMMUv2 and VMSAv8 with 16-bit ASIDs allow). */
export function checkTag(what: string, owner: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff)
    fail("EINVAL", `${owner}: ${what} ${String(v)} is not 0..65535`);
}

interface Tracked {
  stage: 1 | 2;
  /** Tags by `asid:vmid` (stage 1) or `vmid` (stage 2). */
  tags: Map<string, { asid: number; vmid: number }>;
  off: () => void;
}

export class TlbCoherence {
  private readonly tables = new Map<PageTable, Tracked>();

  constructor(private readonly tlb: Tlb) {}

  /**
   * From now on, `table`'s invalidations reach this TLB for entries tagged `asid` / `vmid`
   * (stage 2: `vmid`). Idempotent; tags add up.
   */
  track(table: PageTable, asid: number, vmid: number): void {
    const stage = table.format.stage;
    let t = this.tables.get(table);
    if (t === undefined) {
      const tags = new Map<string, { asid: number; vmid: number }>();
      const tlb = this.tlb;
      const all = 2 ** table.format.ias;
      const off = table.addFlushTarget(
        stage === 1
          ? {
              invalidateRange: (va, size) => {
                for (const g of tags.values()) tlb.invalidateRange(va, size, g.asid, g.vmid);
              },
              invalidateAll: () => {
                for (const g of tags.values()) tlb.invalidateRange(0, all, g.asid, g.vmid);
              },
            }
          : {
              invalidateRange: () => {
                for (const g of tags.values()) tlb.invalidateVmid(g.vmid);
              },
              invalidateAll: () => {
                for (const g of tags.values()) tlb.invalidateVmid(g.vmid);
              },
            },
      );
      t = { stage, tags, off };
      this.tables.set(table, t);
    }
    t.tags.set(stage === 1 ? `${asid}:${vmid}` : String(vmid), { asid, vmid });
  }

  /** Stop forwarding `table`'s invalidations (nothing is flushed). */
  untrack(table: PageTable): void {
    const t = this.tables.get(table);
    if (t === undefined) return;
    t.off();
    this.tables.delete(table);
  }

  /** The tables tracked now. */
  tracked(): PageTable[] {
    return [...this.tables.keys()];
  }

  /** Untrack every table. */
  dispose(): void {
    for (const table of [...this.tables.keys()]) this.untrack(table);
  }
}
