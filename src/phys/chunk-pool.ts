/**
 * The VCMM chunk-pool allocator (the seed's `vcm_alloc.c`: `vcm_phys_alloc`, `vcm_phys_free`,
 * `chunk_sizes[]`, and the memtype's contiguous pool).
 *
 * Memory is split at start-up into pools of fixed-size chunks — by default 16M, 1M, 64K and 4K,
 * each pool naturally aligned to its chunk size — and optionally a contiguous pool (a
 * {@link ContiguousPool}) for `VCM_PHYS_CONT` requests. The pools never split or merge chunks:
 * the point is that a buffer is built from few large chunks, so an IOMMU maps it with few large
 * page-table entries and its small TLB covers it.
 *
 * Allocation is "max-munch" (reference vcmm-iommu.md §1): for each allowed size from largest to
 * smallest, take `len / size` chunks; what a pool cannot supply is added back to `len` for the
 * smaller sizes; a remainder below the smallest size takes one more smallest chunk. Chunks are
 * taken lowest address first. If the request still cannot be met, every chunk taken is returned
 * and the call fails with ENOMEM: nothing changes.
 *
 * Decision (the seed leaves it open): the allowed sizes can be limited per request (the seed's
 * `VCM_PHYS_ALL`, `VCM_PHYS_1MB`, `VCM_PHYS_64KB`, `VCM_PHYS_4KB` attributes); the chunks of one
 * allocation are listed by size, largest first, each size in ascending address order, which is
 * the order `vcm_phys_alloc` appends them in.
 *
 * @example
 * const pools = new ChunkPoolAllocator(0x8000_0000 as PhysAddr, 64 << 20, {
 *   pools: [{ chunkSize: 1 << 20, bytes: 32 << 20 }, { chunkSize: 64 << 10, bytes: 16 << 20 },
 *           { chunkSize: 4096, bytes: 16 << 20 }],
 * });
 * pools.alloc(0x110000);   // 1 x 1M + 1 x 64K
 */
import type { PhysAddr } from "../base/address.js";
import { hex, hexRange } from "../base/address.js";
import { alignUp, isPowerOfTwo } from "../base/align.js";
import { fail } from "../base/errors.js";
import { formatSize } from "../base/size.js";
import {
  checkAddress,
  checkArray,
  checkInteger,
  checkLength,
  checkName,
  checkObject,
  checkOptionalInteger,
} from "../base/validate.js";
import type { AllocatorStats, Chunk } from "./allocator.js";
import { MIN_CHUNK } from "./allocator.js";
import { checkAllocOptions, checkRangeEnd } from "./checks.js";
import { ContiguousPool } from "./contiguous-pool.js";

/** The chunk sizes of the later VCMM (MSM) kernels, largest first. */
export const VCM_CHUNK_SIZES = [16 << 20, 1 << 20, 64 << 10, 4 << 10] as const;

export interface ChunkPoolSpec {
  chunkSize: number;
  /** Bytes given to this pool; a multiple of the chunk size. */
  bytes: number;
}

export interface ChunkPoolConfig {
  /** The pools, in any order; each chunk size at most once. */
  pools: ChunkPoolSpec[];
  /** Bytes of a contiguous pool for physically contiguous requests (0 or absent: none). */
  contiguousBytes?: number;
}

export interface ChunkAllocOptions {
  /** Only these chunk sizes may be used (default: all pools). */
  chunkSizes?: readonly number[];
  /** Serve the request from the contiguous pool as one chunk (`VCM_PHYS_CONT`). */
  contiguous?: boolean;
  /** Alignment of a contiguous request. */
  align?: number;
}

class Pool {
  readonly free: Uint8Array;
  freeCount: number;
  /** No free chunk below this index. */
  private hint = 0;

  constructor(
    readonly chunkSize: number,
    readonly base: number,
    readonly count: number,
  ) {
    this.free = new Uint8Array(count).fill(1);
    this.freeCount = count;
  }

  take(): number {
    let i = this.hint;
    while (this.free[i] === 0) i++;
    this.free[i] = 0;
    this.freeCount--;
    this.hint = i + 1;
    return this.base + i * this.chunkSize;
  }

  give(pa: number): void {
    const i = (pa - this.base) / this.chunkSize;
    this.free[i] = 1;
    this.freeCount++;
    if (i < this.hint) this.hint = i;
  }

  indexOf(pa: number): number {
    const i = (pa - this.base) / this.chunkSize;
    return Number.isInteger(i) && i >= 0 && i < this.count ? i : -1;
  }
}

export class ChunkPoolAllocator {
  readonly base: PhysAddr;
  readonly size: number;
  readonly name: string;
  /** Largest chunk size first. */
  private readonly pools: Pool[];
  readonly contiguous: ContiguousPool | undefined;
  /** Live allocations by their first chunk's address. */
  private readonly live = new Map<number, Chunk[]>();
  /** Every chunk handed out, by address, to refuse frees of inner chunks. */
  private readonly owner = new Map<number, number>();

  constructor(base: PhysAddr | number, size: number, config: ChunkPoolConfig, name = "chunk-pool") {
    checkName("new ChunkPoolAllocator", "name", name);
    checkAddress(name, "base", base);
    checkLength(name, "size", size);
    checkRangeEnd(name, base, size);
    checkObject(name, "config", config);
    checkArray(name, "pools", config.pools).forEach((p, i) => {
      checkObject(name, `pools.${i}`, p);
      checkInteger(name, `pools.${i}.chunkSize`, p.chunkSize);
      checkInteger(name, `pools.${i}.bytes`, p.bytes);
    });
    checkOptionalInteger(name, "contiguousBytes", config.contiguousBytes);
    this.base = base as PhysAddr;
    this.size = size;
    this.name = name;
    if (config.pools.length === 0 && !config.contiguousBytes)
      fail("EINVAL", `${name}: needs at least one pool or a contiguous pool`, "pools");
    const seen = new Set<number>();
    config.pools.forEach((p, i) => {
      if (!isPowerOfTwo(p.chunkSize) || p.chunkSize < MIN_CHUNK)
        fail(
          "EINVAL",
          `${name}: chunk size ${hex(p.chunkSize)} is not a power of two >= 4 KiB`,
          `pools.${i}.chunkSize`,
        );
      if (seen.has(p.chunkSize))
        fail("EEXIST", `${name}: two pools of ${formatSize(p.chunkSize)}`, `pools.${i}.chunkSize`);
      seen.add(p.chunkSize);
      if (p.bytes <= 0 || p.bytes % p.chunkSize !== 0)
        fail(
          "EINVAL",
          `${name}: pool of ${formatSize(p.chunkSize)} chunks has ${hex(p.bytes)} bytes, not a positive multiple of the chunk size`,
          `pools.${i}.bytes`,
        );
    });
    // Lay the pools out from the base, largest chunks first so each is naturally aligned with
    // the least padding; then the contiguous pool.
    const sorted = [...config.pools].sort((a, b) => b.chunkSize - a.chunkSize);
    let cursor = base;
    this.pools = sorted.map((p) => {
      const start = alignUp(cursor, p.chunkSize);
      cursor = start + p.bytes;
      return new Pool(p.chunkSize, start, p.bytes / p.chunkSize);
    });
    const contBytes = config.contiguousBytes ?? 0;
    if (contBytes % MIN_CHUNK !== 0)
      fail(
        "EINVAL",
        `${name}: contiguous pool size ${hex(contBytes)} is not a multiple of 4 KiB`,
        "contiguousBytes",
      );
    const contBase = cursor;
    cursor += contBytes;
    if (cursor > base + size)
      fail(
        "ENOSPC",
        `${name}: pools need ${formatSize(cursor - base)} with alignment but ${hexRange(base, size)} holds ${formatSize(size)}`,
        config.pools.length > 0 ? "pools" : "contiguousBytes",
      );
    this.contiguous =
      contBytes > 0 ? new ContiguousPool(contBase, contBytes, `${name}/contiguous`) : undefined;
  }

  /** The chunk sizes of the pools, largest first. */
  get chunkSizes(): number[] {
    return this.pools.map((p) => p.chunkSize);
  }

  /**
   * `vcm_phys_alloc`: allocate `len` bytes as chunks (max-munch), or as one contiguous chunk.
   * EINVAL for a bad length or unknown chunk size; ENOMEM if the pools cannot supply it.
   */
  alloc(len: number, options?: ChunkAllocOptions): Chunk[] {
    checkLength(this.name, "len", len);
    options = checkAllocOptions(this.name, options);
    if (!Number.isSafeInteger(len) || len <= 0)
      fail("EINVAL", `${this.name}: allocation length ${String(len)} is not a positive integer`);
    if (options.contiguous) {
      if (!this.contiguous) fail("ENOMEM", `${this.name}: has no contiguous pool`);
      const size = alignUp(len, MIN_CHUNK);
      const pa = this.contiguous.alloc(size, options.align ?? MIN_CHUNK);
      const chunks = [{ pa, size }];
      this.live.set(pa, chunks);
      this.owner.set(pa, pa);
      return chunks;
    }
    let pools = this.pools;
    if (options.chunkSizes) {
      for (const s of options.chunkSizes)
        if (!this.pools.some((p) => p.chunkSize === s))
          fail(
            "EINVAL",
            `${this.name}: no pool of ${formatSize(s)} chunks (have ${this.pools.map((p) => formatSize(p.chunkSize)).join(", ")})`,
          );
      pools = this.pools.filter((p) => options.chunkSizes!.includes(p.chunkSize));
    }
    if (pools.length === 0) fail("EINVAL", `${this.name}: no chunk sizes allowed`);
    // Plan first, so a failure changes nothing.
    const plan: number[] = [];
    let remaining = len;
    for (const p of pools) {
      const want = Math.floor(remaining / p.chunkSize);
      const got = Math.min(want, p.freeCount);
      plan.push(got);
      remaining -= got * p.chunkSize;
    }
    if (remaining > 0) {
      // "Any leftover takes one more chunk" of the smallest size that still has one.
      const last = pools.length - 1;
      if (remaining < pools[last]!.chunkSize && plan[last]! < pools[last]!.freeCount) {
        plan[last]!++;
        remaining = 0;
      }
    }
    if (remaining > 0)
      fail(
        "ENOMEM",
        `${this.name}: cannot supply ${formatSize(len)} from chunks of ${pools.map((p) => formatSize(p.chunkSize)).join("/")} (free ${formatSize(this.freeBytes)})`,
      );
    const chunks: Chunk[] = [];
    pools.forEach((p, i) => {
      for (let k = 0; k < plan[i]!; k++)
        chunks.push({ pa: p.take() as PhysAddr, size: p.chunkSize });
    });
    const first = chunks[0]!.pa;
    this.live.set(first, chunks);
    for (const c of chunks) this.owner.set(c.pa, first);
    return chunks;
  }

  /** `vcm_phys_free`: free the allocation whose first chunk is at `pa`. EINVAL if unknown. */
  free(pa: PhysAddr | number): Chunk[] {
    checkAddress(this.name, "pa", pa);
    const chunks = this.live.get(pa);
    if (chunks === undefined) {
      const first = this.owner.get(pa);
      fail(
        "EINVAL",
        first !== undefined
          ? `${this.name}: ${hex(pa)} is inside the allocation at ${hex(first)}; free that`
          : `${this.name}: ${hex(pa)} is not an allocation (unknown or already freed)`,
      );
    }
    this.live.delete(pa);
    for (const c of chunks) {
      this.owner.delete(c.pa);
      if (this.contiguous?.contains(c.pa)) this.contiguous.free(c.pa);
      else this.pools.find((p) => p.chunkSize === c.size && p.indexOf(c.pa) >= 0)!.give(c.pa);
    }
    return chunks;
  }

  /** The chunks of the live allocation at `pa`, or undefined. */
  chunksOf(pa: number): readonly Chunk[] | undefined {
    return this.live.get(pa);
  }

  contains(pa: number): boolean {
    return pa >= this.base && pa < this.base + this.size;
  }

  get freeBytes(): number {
    let sum = this.contiguous?.freeBytes ?? 0;
    for (const p of this.pools) sum += p.freeCount * p.chunkSize;
    return sum;
  }

  /** Bytes the pools hold (excluding alignment padding between pools). */
  get managedBytes(): number {
    let sum = this.contiguous?.size ?? 0;
    for (const p of this.pools) sum += p.count * p.chunkSize;
    return sum;
  }

  /** Free chunks per pool. */
  poolStats(): Array<{ chunkSize: number; base: PhysAddr; chunks: number; free: number }> {
    return this.pools.map((p) => ({
      chunkSize: p.chunkSize,
      base: p.base as PhysAddr,
      chunks: p.count,
      free: p.freeCount,
    }));
  }

  largestFreeBlock(): number {
    let max = this.contiguous?.largestFreeBlock() ?? 0;
    for (const p of this.pools) if (p.freeCount > 0 && p.chunkSize > max) max = p.chunkSize;
    return max;
  }

  stats(): AllocatorStats {
    return {
      totalBytes: this.managedBytes,
      freeBytes: this.freeBytes,
      largestFreeBlock: this.largestFreeBlock(),
      liveAllocations: this.live.size,
    };
  }
}
