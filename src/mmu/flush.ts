/**
 * TLB maintenance as Linux io-pgtable and the IOMMU core have it: a page table reports
 * invalidations through flush operations (`struct iommu_flush_ops`), and leaf invalidations are
 * batched in a gather (`struct iommu_iotlb_gather`) that its owner syncs (`iommu_iotlb_sync`).
 *
 * - {@link TlbFlush.flushLeaf}: the leaves of a range changed or went away (`tlb_add_page`
 *   entries, synced as one range: the driver's `iotlb_sync`). Walk caches may keep the tables
 *   above, which are unchanged.
 * - {@link TlbFlush.flushWalk}: tables of a range were freed or replaced (a block split
 *   break-before-make, an emptied table freed: `tlb_flush_walk`): leaves and walk caches go.
 * - {@link TlbFlush.flushAll}: everything the table's translations may have left
 *   (`tlb_flush_all`, when a table is destroyed).
 *
 * A gather may be owned by the caller and span several operations (`iommu_unmap_fast` then one
 * `iommu_iotlb_sync`: a Gunyah reclaim, a GMEM eviction round): until it is synced, TLBs may
 * still hold the old translations, as on the hardware.
 *
 * @example
 * const gather = new IotlbGather();
 * for (const r of ranges) table.unmapFast(r.va, r.size, gather);
 * gather.sync(); // one invalidation per contiguous run of same-size pages
 */
import type { AnyPageTable } from "./page-table.js";

/** Where a page table's TLB invalidations go (an io-pgtable driver's `iommu_flush_ops`). */
export interface TlbFlush {
  /** `tlb_flush_all`: every translation the table may have left. */
  flushAll(): void;
  /**
   * `tlb_flush_walk`: translations and walk-cache entries of `[va, va+size)`, whose tables were
   * freed or replaced; `granule` is the smallest page size that may have been cached there.
   */
  flushWalk(va: number, size: number, granule: number): void;
  /**
   * `iotlb_sync` of a gathered range: leaf translations of `[va, va+size)`, made of leaves of
   * `granule`. `pa` is the output address of `va` when the range's old output was contiguous
   * (every gathered leaf followed the last), else -1.
   */
  flushLeaf(va: number, size: number, granule: number, pa: number): void;
  /**
   * The table was destroyed after its last `flushAll`: drop every reference to it. Optional;
   * the registration is removed by the table right after.
   */
  tableDestroyed?(table: AnyPageTable): void;
}

/**
 * An IOTLB gather (`struct iommu_iotlb_gather`): one pending range of leaf invalidations, of
 * one page size, for one page table's flush targets. Adding a page of another size, a range
 * disjoint from the pending one (`iommu_iotlb_gather_is_disjoint`: touching ranges are not), or
 * a page of another table syncs the pending range first, as `iommu_iotlb_gather_add_page` does.
 */
export class IotlbGather {
  /** The pending range `[start, end)`; empty when `end === start`. */
  start = 0;
  end = 0;
  /** The page size of its leaves. */
  pgsize = 0;
  /** The old output address at `start` while the output is contiguous, else -1. */
  pa = -1;
  /** Ranges sent so far. */
  syncs = 0;
  private sink: TlbFlush | undefined = undefined;

  get empty(): boolean {
    return this.end === this.start;
  }

  /** `iommu_iotlb_gather_add_page` for `sink` (a page table's flush fan-out). */
  add(sink: TlbFlush, va: number, size: number, pgsize: number, pa: number): void {
    if (
      this.end !== this.start &&
      (sink !== this.sink || pgsize !== this.pgsize || va > this.end || va + size < this.start)
    )
      this.sync();
    if (this.end === this.start) {
      this.sink = sink;
      this.start = va;
      this.end = va + size;
      this.pgsize = pgsize;
      this.pa = pa;
      return;
    }
    // Extending: the output stays contiguous only if this page continues the range upwards.
    if (!(va === this.end && this.pa >= 0 && pa === this.pa + (va - this.start))) {
      if (va + size === this.start && pa >= 0 && this.pa === pa + size) this.pa = pa;
      else this.pa = -1;
    }
    if (va < this.start) this.start = va;
    if (va + size > this.end) this.end = va + size;
  }

  /** `iommu_iotlb_sync`: send the pending range, if any, and empty the gather. */
  sync(): void {
    if (this.end === this.start) return;
    const sink = this.sink!;
    const { start, end, pgsize, pa } = this;
    this.start = this.end = 0;
    this.pa = -1;
    this.sink = undefined;
    this.syncs++;
    sink.flushLeaf(start, end - start, pgsize, pa);
  }
}
