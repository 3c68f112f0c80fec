/**
 * A binary buddy allocator over one physically contiguous range, with blocks from 4 KiB
 * (order 0) to 1 GiB (order 18), in the manner of Linux's page allocator (mm/page_alloc.c:
 * `__rmqueue_smallest`, `expand`, `__free_one_page`).
 *
 * Blocks are naturally aligned in the *physical* address space (a 2 MiB block starts on a 2 MiB
 * boundary), so page tables can map them with block descriptors. A request is rounded up to a
 * power-of-two block; an alignment larger than the size takes a block of the alignment's order
 * (as `alloc_pages` does: the order is what is aligned).
 *
 * State lives in typed arrays indexed by page: a head byte per page (-1 inside a block, else the
 * block's order, plus {@link ALLOCATED} when handed out) and doubly linked free lists through
 * `next`/`prev`. Allocation takes the head of the smallest non-empty list of sufficient order and
 * splits it, keeping the low half; free merges with the buddy while the buddy is a free block of
 * the same order. Both are O(max order).
 *
 * Limit: one instance manages at most 2^24 pages (64 GiB); split larger memory into regions.
 *
 * @example
 * const buddy = new BuddyAllocator(0x8000_0000 as PhysAddr, 4 << 30);
 * const pa = buddy.alloc(4096);
 * buddy.free(pa);
 */
import type { PhysAddr } from "../base/address.js";
import { hex, hexRange } from "../base/address.js";
import { log2 } from "../base/align.js";
import { fail } from "../base/errors.js";
import { formatSize } from "../base/size.js";
import { checkAddress, checkInteger, checkLength, checkName } from "../base/validate.js";
import type { AllocatorStats } from "./allocator.js";
import { checkRequest, MIN_CHUNK } from "./allocator.js";
import { checkRangeEnd } from "./checks.js";

/** The largest order: 2^18 pages = 1 GiB. */
export const BUDDY_MAX_ORDER = 18;
const MAX_PAGES = 1 << 24;
const ALLOCATED = 0x40;
const NOT_HEAD = -1;

export class BuddyAllocator {
  readonly base: PhysAddr;
  readonly size: number;
  readonly name: string;
  private readonly basePfn: number;
  private readonly pages: number;
  /** Per page: NOT_HEAD, or order | (ALLOCATED if handed out). */
  private readonly head: Int8Array;
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  /** Per order: the first free block's page index, or -1. */
  private readonly freeList: Int32Array;
  private freePages: number;
  private live = 0;

  constructor(base: PhysAddr | number, size: number, name = "buddy") {
    checkName("new BuddyAllocator", "name", name);
    checkAddress(name, "base", base);
    checkLength(name, "size", size);
    checkRangeEnd(name, base, size);
    this.name = name;
    if (base % MIN_CHUNK !== 0 || size % MIN_CHUNK !== 0 || size <= 0)
      fail(
        "EINVAL",
        `${name}: range ${hex(base)}+${hex(size)} is not a non-empty 4 KiB-aligned range`,
      );
    if (size / MIN_CHUNK > MAX_PAGES)
      fail("EINVAL", `${name}: ${formatSize(size)} exceeds the 64 GiB one buddy allocator manages`);
    this.base = base as PhysAddr;
    this.size = size;
    this.basePfn = base / MIN_CHUNK;
    this.pages = size / MIN_CHUNK;
    this.head = new Int8Array(this.pages).fill(NOT_HEAD);
    this.next = new Int32Array(this.pages);
    this.prev = new Int32Array(this.pages);
    this.freeList = new Int32Array(BUDDY_MAX_ORDER + 1).fill(-1);
    this.freePages = 0;
    // Carve the range into the largest naturally aligned blocks, lowest address first; push in
    // reverse so each free list is in ascending address order at the start.
    const blocks: Array<[number, number]> = [];
    let idx = 0;
    while (idx < this.pages) {
      let order = BUDDY_MAX_ORDER;
      while (
        order > 0 &&
        ((this.basePfn + idx) % (1 << order) !== 0 || idx + (1 << order) > this.pages)
      )
        order--;
      blocks.push([idx, order]);
      idx += 1 << order;
    }
    for (let i = blocks.length - 1; i >= 0; i--) this.pushFree(blocks[i]![0], blocks[i]![1]);
    this.freePages = this.pages;
  }

  private pushFree(idx: number, order: number): void {
    const first = this.freeList[order]!;
    this.head[idx] = order;
    this.next[idx] = first;
    this.prev[idx] = -1;
    if (first >= 0) this.prev[first] = idx;
    this.freeList[order] = idx;
  }

  private unlinkFree(idx: number, order: number): void {
    const n = this.next[idx]!;
    const p = this.prev[idx]!;
    if (p >= 0) this.next[p] = n;
    else this.freeList[order] = n;
    if (n >= 0) this.prev[n] = p;
    this.head[idx] = NOT_HEAD;
  }

  /** The order of the block that serves `size` bytes aligned to `align`. */
  static orderFor(size: number, align = MIN_CHUNK): number {
    const pages = Math.max(size, align) / MIN_CHUNK;
    const order = log2(pages);
    return 2 ** order === pages ? order : order + 1;
  }

  /**
   * Allocate a block for `size` bytes aligned to `align`; returns its physical address.
   * EINVAL for a bad size or alignment or one beyond 1 GiB; ENOMEM when no block is free.
   * Nothing changes on failure.
   */
  alloc(size: number, align: number = MIN_CHUNK): PhysAddr {
    checkLength(this.name, "size", size);
    checkInteger(this.name, "align", align, 1);
    if (size % MIN_CHUNK !== 0 || size <= 0 || align < MIN_CHUNK || (align & (align - 1)) !== 0)
      checkRequest(this.name, size, align);
    const order = BuddyAllocator.orderFor(size, align);
    if (order > BUDDY_MAX_ORDER)
      fail(
        "EINVAL",
        `${this.name}: ${formatSize(Math.max(size, align))} exceeds the largest block (1 GiB)`,
      );
    let o = order;
    while (o <= BUDDY_MAX_ORDER && this.freeList[o]! < 0) o++;
    if (o > BUDDY_MAX_ORDER)
      fail(
        "ENOMEM",
        `${this.name}: no free block of ${formatSize(MIN_CHUNK * 2 ** order)} (free ${formatSize(this.freePages * MIN_CHUNK)}, largest ${formatSize(this.largestFreeBlock())})`,
      );
    const idx = this.freeList[o]!;
    this.unlinkFree(idx, o);
    // Split: keep the low half, return the high halves to the free lists (Linux `expand`).
    if (o > order) {
      // Inlined pushFree with the arrays in locals: this loop is the allocator's hot path.
      const head = this.head;
      const next = this.next;
      const prev = this.prev;
      const freeList = this.freeList;
      while (o > order) {
        o--;
        const half = idx + (1 << o);
        const first = freeList[o]!;
        head[half] = o;
        next[half] = first;
        prev[half] = -1;
        if (first >= 0) prev[first] = half;
        freeList[o] = half;
      }
    }
    this.head[idx] = order | ALLOCATED;
    this.freePages -= 1 << order;
    this.live++;
    return ((this.basePfn + idx) * MIN_CHUNK) as PhysAddr;
  }

  /** The size of the allocated block at `pa`, or EINVAL if `pa` is not an allocated block. */
  blockSize(pa: PhysAddr | number): number {
    const idx = this.allocatedIndex(pa);
    return MIN_CHUNK * 2 ** (this.head[idx]! & ~ALLOCATED);
  }

  private allocatedIndex(pa: number): number {
    checkAddress(this.name, "pa", pa);
    const idx = pa / MIN_CHUNK - this.basePfn;
    if (!Number.isInteger(idx) || idx < 0 || idx >= this.pages)
      fail("EINVAL", `${this.name}: ${hex(pa)} is outside ${hexRange(this.base, this.size)}`);
    const h = this.head[idx]!;
    if (h === NOT_HEAD || (h & ALLOCATED) === 0)
      fail(
        "EINVAL",
        `${this.name}: ${hex(pa)} is not an allocated block (unknown or already freed)`,
      );
    return idx;
  }

  /** Free the block at `pa`, merging with free buddies. EINVAL (and no change) if unknown. */
  free(pa: PhysAddr | number): void {
    let idx = this.allocatedIndex(pa);
    let order = this.head[idx]! & ~ALLOCATED;
    this.head[idx] = NOT_HEAD;
    this.live--;
    this.freePages += 1 << order;
    const head = this.head;
    const next = this.next;
    const prev = this.prev;
    const freeList = this.freeList;
    const pages = this.pages;
    const basePfn = this.basePfn;
    while (order < BUDDY_MAX_ORDER) {
      const span = 1 << order;
      // pfn / span is an integer below 2^53: ToInt32 keeps its parity.
      const buddyIdx = (((basePfn + idx) / span) & 1) === 0 ? idx + span : idx - span;
      if (buddyIdx < 0 || buddyIdx + span > pages || head[buddyIdx] !== order) break;
      // Inlined unlinkFree.
      const n = next[buddyIdx]!;
      const p = prev[buddyIdx]!;
      if (p >= 0) next[p] = n;
      else freeList[order] = n;
      if (n >= 0) prev[n] = p;
      head[buddyIdx] = NOT_HEAD;
      if (buddyIdx < idx) idx = buddyIdx;
      order++;
    }
    this.pushFree(idx, order);
  }

  /** True if `pa` is the start of an allocated block. */
  isAllocated(pa: number): boolean {
    const idx = pa / MIN_CHUNK - this.basePfn;
    if (!Number.isInteger(idx) || idx < 0 || idx >= this.pages) return false;
    const h = this.head[idx]!;
    return h !== NOT_HEAD && (h & ALLOCATED) !== 0;
  }

  contains(pa: number): boolean {
    return pa >= this.base && pa < this.base + this.size;
  }

  get freeBytes(): number {
    return this.freePages * MIN_CHUNK;
  }

  get liveAllocations(): number {
    return this.live;
  }

  largestFreeBlock(): number {
    for (let o = BUDDY_MAX_ORDER; o >= 0; o--)
      if (this.freeList[o]! >= 0) return MIN_CHUNK * 2 ** o;
    return 0;
  }

  /** Free blocks per order (index = order); walks the free lists. */
  freeBlocksByOrder(): number[] {
    const counts: number[] = [];
    for (let o = 0; o <= BUDDY_MAX_ORDER; o++) {
      let n = 0;
      for (let i = this.freeList[o]!; i >= 0; i = this.next[i]!) n++;
      counts.push(n);
    }
    return counts;
  }

  /** Every free block, ascending by address (for checks and tests; O(pages)). */
  freeBlocks(): Array<{ pa: PhysAddr; size: number }> {
    const out: Array<{ pa: PhysAddr; size: number }> = [];
    for (let i = 0; i < this.pages; i++) {
      const h = this.head[i]!;
      if (h !== NOT_HEAD && (h & ALLOCATED) === 0)
        out.push({ pa: ((this.basePfn + i) * MIN_CHUNK) as PhysAddr, size: MIN_CHUNK * 2 ** h });
    }
    return out;
  }

  stats(): AllocatorStats {
    return {
      totalBytes: this.size,
      freeBytes: this.freeBytes,
      largestFreeBlock: this.largestFreeBlock(),
      liveAllocations: this.live,
    };
  }
}
