/**
 * A first-fit range allocator over one physically contiguous range, in the manner of Linux's
 * genalloc (`gen_pool_alloc`, the allocator the VCMM used for its contiguous pool and for device
 * address space): the lowest-addressed free extent that can hold the aligned request wins.
 *
 * Free extents are kept sorted by address and merged with their neighbours on free, so freeing
 * everything leaves one extent. Allocation and free are O(number of free extents).
 *
 * @example
 * const pool = new ContiguousPool(0x9000_0000 as PhysAddr, 8 << 20);
 * const pa = pool.alloc(2 << 20 | 4096);   // 2 MiB + 4 KiB, physically contiguous
 * pool.free(pa);
 */
import type { PhysAddr } from "../base/address.js";
import { hex, hexRange } from "../base/address.js";
import { alignUp } from "../base/align.js";
import { fail } from "../base/errors.js";
import { formatSize } from "../base/size.js";
import { checkAddress, checkLength, checkName } from "../base/validate.js";
import type { AllocatorStats } from "./allocator.js";
import { checkRequest, MIN_CHUNK } from "./allocator.js";
import { checkRangeEnd } from "./checks.js";

interface Extent {
  start: number;
  size: number;
}

export class ContiguousPool {
  readonly base: PhysAddr;
  readonly size: number;
  readonly name: string;
  private readonly extents: Extent[];
  private readonly allocated = new Map<number, number>();
  private free_: number;

  constructor(base: PhysAddr | number, size: number, name = "contiguous") {
    checkName("new ContiguousPool", "name", name);
    checkAddress(name, "base", base);
    checkLength(name, "size", size);
    checkRangeEnd(name, base, size);
    if (base % MIN_CHUNK !== 0 || size % MIN_CHUNK !== 0 || size <= 0)
      fail(
        "EINVAL",
        `${name}: range ${hex(base)}+${hex(size)} is not a non-empty 4 KiB-aligned range`,
      );
    this.base = base as PhysAddr;
    this.size = size;
    this.name = name;
    this.extents = [{ start: base, size }];
    this.free_ = size;
  }

  /** Allocate `size` bytes aligned to `align`, lowest address first. ENOMEM if nothing fits. */
  alloc(size: number, align: number = MIN_CHUNK): PhysAddr {
    checkRequest(this.name, size, align);
    for (let i = 0; i < this.extents.length; i++) {
      const e = this.extents[i]!;
      const start = alignUp(e.start, align);
      const end = e.start + e.size;
      if (start + size > end) continue;
      // Split the extent into the part before the allocation, and the part after.
      const before: Extent = { start: e.start, size: start - e.start };
      const after: Extent = { start: start + size, size: end - (start + size) };
      const replace = [before, after].filter((x) => x.size > 0);
      this.extents.splice(i, 1, ...replace);
      this.allocated.set(start, size);
      this.free_ -= size;
      return start as PhysAddr;
    }
    fail(
      "ENOMEM",
      `${this.name}: no free range of ${formatSize(size)} aligned to ${formatSize(align)} (free ${formatSize(this.free_)}, largest ${formatSize(this.largestFreeBlock())})`,
    );
  }

  /**
   * Allocate exactly `[pa, pa+size)` (genalloc's `gen_pool_alloc_algo` with a fixed-offset fit).
   * EINVAL for a range outside the pool or not 4 KiB-aligned; EBUSY if any of it is allocated.
   */
  allocAt(pa: number, size: number): PhysAddr {
    checkAddress(this.name, "pa", pa);
    checkRequest(this.name, size, MIN_CHUNK);
    if (pa % MIN_CHUNK !== 0 || pa < this.base || pa + size > this.base + this.size)
      fail(
        "EINVAL",
        `${this.name}: ${hexRange(pa, size)} is not a 4 KiB-aligned range inside ${hexRange(this.base, this.size)}`,
      );
    const i = this.extents.findIndex((e) => e.start <= pa && pa + size <= e.start + e.size);
    if (i < 0) fail("EBUSY", `${this.name}: ${hexRange(pa, size)} is (partly) allocated`);
    const e = this.extents[i]!;
    const replace = [
      { start: e.start, size: pa - e.start },
      { start: pa + size, size: e.start + e.size - (pa + size) },
    ].filter((x) => x.size > 0);
    this.extents.splice(i, 1, ...replace);
    this.allocated.set(pa, size);
    this.free_ -= size;
    return pa as PhysAddr;
  }

  /** Free the allocation starting at `pa`. EINVAL (and no change) if there is none. */
  free(pa: PhysAddr | number): void {
    checkAddress(this.name, "pa", pa);
    const size = this.allocated.get(pa);
    if (size === undefined)
      fail(
        "EINVAL",
        this.contains(pa)
          ? `${this.name}: ${hex(pa)} is not an allocation (unknown or already freed)`
          : `${this.name}: ${hex(pa)} is outside ${hexRange(this.base, this.size)}`,
      );
    this.allocated.delete(pa);
    this.free_ += size;
    // Insert sorted, then merge with the neighbours.
    let i = 0;
    while (i < this.extents.length && this.extents[i]!.start < pa) i++;
    this.extents.splice(i, 0, { start: pa, size });
    const next = this.extents[i + 1];
    const cur = this.extents[i]!;
    if (next && cur.start + cur.size === next.start) {
      cur.size += next.size;
      this.extents.splice(i + 1, 1);
    }
    const prev = this.extents[i - 1];
    if (prev && prev.start + prev.size === cur.start) {
      prev.size += cur.size;
      this.extents.splice(i, 1);
    }
  }

  /** The size of the allocation at `pa`, or undefined. */
  allocationSize(pa: number): number | undefined {
    return this.allocated.get(pa);
  }

  contains(pa: number): boolean {
    return pa >= this.base && pa < this.base + this.size;
  }

  largestFreeBlock(): number {
    let max = 0;
    for (const e of this.extents) if (e.size > max) max = e.size;
    return max;
  }

  /** The free extents, ascending (copies). */
  freeExtents(): Array<{ pa: PhysAddr; size: number }> {
    return this.extents.map((e) => ({ pa: e.start as PhysAddr, size: e.size }));
  }

  get freeBytes(): number {
    return this.free_;
  }

  stats(): AllocatorStats {
    return {
      totalBytes: this.size,
      freeBytes: this.free_,
      largestFreeBlock: this.largestFreeBlock(),
      liveAllocations: this.allocated.size,
    };
  }
}
