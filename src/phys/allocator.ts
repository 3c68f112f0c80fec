/**
 * What every physical allocator shares: chunks, statistics, and the checks of a request.
 */
import type { PhysAddr } from "../base/address.js";
import { hex } from "../base/address.js";
import { checkPowerOfTwo } from "../base/align.js";
import { fail } from "../base/errors.js";
import { formatSize } from "../base/size.js";
import { checkArray, checkInteger, checkLength } from "../base/validate.js";
import { STORE_PAGE_SIZE } from "./byte-store.js";

/** A physically contiguous piece of an allocation (the seed's `struct phys_chunk`). */
export interface Chunk {
  readonly pa: PhysAddr;
  readonly size: number;
}

/** Statistics every allocator reports. */
export interface AllocatorStats {
  /** Bytes the allocator manages. */
  totalBytes: number;
  /** Bytes not allocated. */
  freeBytes: number;
  /** The largest request of one contiguous piece that would succeed now. */
  largestFreeBlock: number;
  /** Allocations handed out and not yet freed. */
  liveAllocations: number;
}

/** The smallest unit any allocator hands out: one 4 KiB page. */
export const MIN_CHUNK = STORE_PAGE_SIZE;

/**
 * Check a request's size and alignment: size non-zero and a multiple of 4 KiB, alignment a
 * power of two of at least 4 KiB. EINVAL naming `owner` and the value otherwise.
 */
export function checkRequest(owner: string, size: number, align: number): void {
  checkLength(owner, "size", size);
  checkInteger(owner, "align", align, 1);
  if (!Number.isSafeInteger(size) || size <= 0)
    fail("EINVAL", `${owner}: allocation size ${String(size)} is not a positive integer`);
  if (size % MIN_CHUNK !== 0)
    fail("EINVAL", `${owner}: allocation size ${hex(size)} is not a multiple of 4 KiB`);
  checkPowerOfTwo(align, `${owner}: alignment`);
  if (align < MIN_CHUNK) fail("EINVAL", `${owner}: alignment ${hex(align)} is below 4 KiB`);
}

export function describeChunks(chunks: readonly Chunk[]): string {
  checkArray("describeChunks", "chunks", chunks);
  return chunks.map((c) => `${hex(c.pa)}+${formatSize(c.size)}`).join(", ");
}
