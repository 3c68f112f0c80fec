/**
 * Memory targets: named pools of physical memory that allocations draw from (the seed's
 * "Memory Targets" and `enum memtype_t`: "a platform independent way of specifying a physical
 * pool").
 *
 * A target draws on one or more ranges of RAM or device-local regions and manages them with one
 * allocator kind:
 * - `buddy`: a {@link BuddyAllocator} per range (power-of-two, naturally aligned blocks);
 * - `chunk-pool`: the VCMM {@link ChunkPoolAllocator} (max-munch over 16M/1M/64K/4K pools, and
 *   an optional contiguous pool) on exactly one range;
 * - `contiguous`: a first-fit {@link ContiguousPool} per range (genalloc).
 *
 * Every allocation gets a platform-unique id and is a list of chunks. A target counts its calls
 * and failures and publishes `phys.alloc`, `phys.free` and `phys.alloc-failed` events.
 */
import type { PhysAddr } from "../base/address.js";
import { hex, hexRange } from "../base/address.js";
import { fail, inField, MemweaveError } from "../base/errors.js";
import type { EventBus } from "../base/events.js";
import {
  checkArray,
  checkInteger,
  checkLength,
  checkName,
  checkObject,
  checkOptionalInteger,
} from "../base/validate.js";
import type { AllocatorStats, Chunk } from "./allocator.js";
import { MIN_CHUNK } from "./allocator.js";
import { checkAllocOptions } from "./checks.js";
import { BuddyAllocator } from "./buddy.js";
import type { ChunkPoolSpec } from "./chunk-pool.js";
import { ChunkPoolAllocator } from "./chunk-pool.js";
import { ContiguousPool } from "./contiguous-pool.js";
import type { MemoryMap } from "./memory-map.js";

declare module "../base/events.js" {
  interface EventMap {
    "phys.alloc": {
      target: string;
      id: number;
      size: number;
      chunks: Array<{ pa: number; size: number }>;
    };
    "phys.free": { target: string; id: number; size: number };
    "phys.alloc-failed": { target: string; size: number; code: string; message: string };
  }
}

export type AllocatorSpec =
  | { kind: "buddy" }
  | { kind: "contiguous" }
  | { kind: "chunk-pool"; pools: ChunkPoolSpec[]; contiguousBytes?: number };

export type AllocatorKind = AllocatorSpec["kind"];

/** A piece of a region a target draws on; without offset and size, the whole region. */
export interface TargetRange {
  region: string;
  offset?: number;
  size?: number;
}

export interface TargetSpec {
  name: string;
  ranges: TargetRange[];
  allocator: AllocatorSpec;
}

export interface AllocOptions {
  /** Alignment of the allocation (buddy, contiguous, and contiguous chunk-pool requests). */
  align?: number;
  /** Chunk-pool: serve as one physically contiguous chunk (`VCM_PHYS_CONT`). */
  contiguous?: boolean;
  /** Chunk-pool: only these chunk sizes. */
  chunkSizes?: readonly number[];
}

/** A physical allocation (the seed's `struct physmem`). */
export interface PhysAllocation {
  readonly id: number;
  readonly target: string;
  /** The size asked for. */
  readonly size: number;
  /** The memory handed out; its sizes add up to at least `size`. */
  readonly chunks: readonly Chunk[];
}

export interface TargetStats extends AllocatorStats {
  allocCalls: number;
  freeCalls: number;
  failedCalls: number;
}

/** The shape of a target spec (EINVAL naming the key); what it means is checked by the target. */
function checkTargetSpec(spec: TargetSpec): void {
  const fn = "addTarget";
  checkObject(fn, "spec", spec);
  const what = `target "${checkName(fn, "name", spec.name)}"`;
  checkArray(what, "ranges", spec.ranges).forEach((r, i) => {
    checkObject(what, `ranges.${i}`, r);
    checkName(what, `ranges.${i}.region`, r.region);
    checkOptionalInteger(what, `ranges.${i}.offset`, r.offset);
    checkOptionalInteger(what, `ranges.${i}.size`, r.size);
  });
  const a = checkObject(what, "allocator", spec.allocator);
  if (a.kind === "chunk-pool") {
    checkArray(what, "allocator.pools", a.pools).forEach((p, i) => {
      checkObject(what, `allocator.pools.${i}`, p);
      checkInteger(what, `allocator.pools.${i}.chunkSize`, p.chunkSize);
      checkInteger(what, `allocator.pools.${i}.bytes`, p.bytes);
    });
    checkOptionalInteger(what, "allocator.contiguousBytes", a.contiguousBytes);
  }
}

/** One allocator instance and the range it manages. */
type Backend =
  | { kind: "buddy"; alloc: BuddyAllocator }
  | { kind: "contiguous"; alloc: ContiguousPool }
  | { kind: "chunk-pool"; alloc: ChunkPoolAllocator };

export class MemoryTarget {
  readonly name: string;
  readonly kind: AllocatorKind;
  /** The physical ranges the target manages. */
  readonly ranges: ReadonlyArray<{ region: string; base: PhysAddr; size: number }>;
  private readonly backends: Backend[];
  private readonly live = new Map<number, PhysAllocation>();
  private readonly byFirstPa = new Map<number, PhysAllocation>();
  private allocCalls = 0;
  private freeCalls = 0;
  private failedCalls = 0;

  /** Built by {@link Platform}; `nextId` hands out platform-unique allocation ids. */
  constructor(
    spec: TargetSpec,
    map: MemoryMap,
    private readonly bus: EventBus,
    private readonly nextId: () => number,
  ) {
    checkTargetSpec(spec);
    this.name = spec.name;
    this.kind = spec.allocator.kind;
    const what = `target "${spec.name}"`;
    if (spec.ranges.length === 0) fail("EINVAL", `${what} draws on no region`, "ranges");
    this.ranges = spec.ranges.map((r, i) => {
      const region = map.has(r.region)
        ? map.get(r.region)
        : fail("ENOENT", `${what}: no region named "${r.region}"`, `ranges.${i}.region`);
      if (region.kind === "io")
        fail("EINVAL", `${what}: region "${r.region}" is IO, not memory`, `ranges.${i}`);
      const offset = r.offset ?? 0;
      const size = r.size ?? region.size - offset;
      if (offset % MIN_CHUNK !== 0 || size % MIN_CHUNK !== 0 || size <= 0)
        fail(
          "EINVAL",
          `${what}: range ${hex(offset)}+${hex(size)} of "${r.region}" is not a non-empty 4 KiB-aligned range`,
          `ranges.${i}`,
        );
      if (offset + size > region.size)
        fail(
          "ERANGE",
          `${what}: range ${hex(offset)}+${hex(size)} runs past the end of region "${r.region}" (${hex(region.size)})`,
          `ranges.${i}`,
        );
      return { region: r.region, base: (region.base + offset) as PhysAddr, size };
    });
    for (let i = 0; i < this.ranges.length; i++)
      for (let j = 0; j < i; j++) {
        const x = this.ranges[i]!;
        const y = this.ranges[j]!;
        if (x.base < y.base + y.size && y.base < x.base + x.size)
          fail(
            "EEXIST",
            `${what}: range ${hexRange(x.base, x.size)} overlaps its own range ${hexRange(y.base, y.size)}`,
            `ranges.${i}`,
          );
      }
    const a = spec.allocator;
    if (a.kind === "chunk-pool") {
      if (this.ranges.length !== 1)
        fail("EINVAL", `${what}: a chunk-pool target draws on exactly one range`, "ranges");
      const r = this.ranges[0]!;
      this.backends = [
        {
          kind: "chunk-pool",
          alloc: inField("allocator", () => new ChunkPoolAllocator(r.base, r.size, a, spec.name)),
        },
      ];
    } else if (a.kind === "buddy") {
      this.backends = this.ranges.map((r, i) => ({
        kind: "buddy",
        alloc: inField(`ranges.${i}`, () => new BuddyAllocator(r.base, r.size, spec.name)),
      }));
    } else if (a.kind === "contiguous") {
      this.backends = this.ranges.map((r, i) => ({
        kind: "contiguous",
        alloc: inField(`ranges.${i}`, () => new ContiguousPool(r.base, r.size, spec.name)),
      }));
    } else {
      fail(
        "EINVAL",
        `${what}: unknown allocator kind "${String((a as { kind: unknown }).kind)}"`,
        "allocator.kind",
      );
    }
  }

  /**
   * Allocate `size` bytes. Buddy and contiguous targets try their ranges in order and return
   * one chunk; chunk-pool targets return max-munch chunks. Nothing changes on failure.
   */
  alloc(size: number, options?: AllocOptions): PhysAllocation {
    // A malformed call is refused before it counts as a call (and changes nothing).
    checkLength("alloc", "size", size);
    options = checkAllocOptions("alloc", options);
    this.allocCalls++;
    let chunks: Chunk[];
    try {
      chunks = this.allocChunks(size, options);
    } catch (e) {
      this.failedCalls++;
      if (e instanceof MemweaveError)
        this.bus.emit("phys.alloc-failed", {
          target: this.name,
          size,
          code: e.code,
          message: e.message,
        });
      throw e;
    }
    const allocation: PhysAllocation = { id: this.nextId(), target: this.name, size, chunks };
    this.live.set(allocation.id, allocation);
    this.byFirstPa.set(chunks[0]!.pa, allocation);
    const ch = this.bus.channel("phys.alloc");
    if (ch.interest > 0)
      ch.emit({
        target: this.name,
        id: allocation.id,
        size,
        chunks: chunks.map((c) => ({ pa: c.pa, size: c.size })),
      });
    else ch.skip();
    return allocation;
  }

  private allocChunks(size: number, options: AllocOptions): Chunk[] {
    if (this.kind !== "chunk-pool" && (options.contiguous === false || options.chunkSizes))
      fail("EINVAL", `target "${this.name}": chunk options need a chunk-pool target`);
    let last: unknown;
    for (const b of this.backends) {
      try {
        switch (b.kind) {
          case "chunk-pool":
            return b.alloc.alloc(size, options);
          case "buddy": {
            const pa = b.alloc.alloc(size, options.align);
            return [{ pa, size: b.alloc.blockSize(pa) }];
          }
          case "contiguous":
            return [{ pa: b.alloc.alloc(size, options.align), size }];
        }
      } catch (e) {
        // Only "no memory here" moves on to the next range; a bad request fails at once.
        if (!(e instanceof MemweaveError) || e.code !== "ENOMEM") throw e;
        last = e;
      }
    }
    throw last;
  }

  /**
   * Free an allocation, given as itself, its id or its first chunk's address. EINVAL (and no
   * change) for an unknown or already freed allocation.
   */
  free(which: PhysAllocation | number): void {
    const allocation = this.lookup(which);
    const first = allocation.chunks[0]!.pa;
    const b =
      this.backends.length === 1
        ? this.backends[0]!
        : this.backends.find((x) => x.alloc.contains(first))!;
    b.alloc.free(first);
    this.live.delete(allocation.id);
    this.byFirstPa.delete(first);
    this.freeCalls++;
    this.bus.emit("phys.free", { target: this.name, id: allocation.id, size: allocation.size });
  }

  /** The live allocation for an allocation object, id or first address; EINVAL if none. */
  lookup(which: PhysAllocation | number): PhysAllocation {
    if (typeof which === "number") checkInteger("lookup", "which", which);
    else checkInteger("lookup", "which.id", checkObject("lookup", "which", which).id);
    const found =
      typeof which === "number"
        ? (this.live.get(which) ?? this.byFirstPa.get(which))
        : this.live.get(which.id) === which
          ? which
          : undefined;
    if (found === undefined) {
      const label = typeof which === "number" ? `${which} (${hex(which)})` : `#${which.id}`;
      fail("EINVAL", `target "${this.name}": allocation ${label} is unknown or already freed`);
    }
    return found;
  }

  has(id: number): boolean {
    return this.live.has(id);
  }

  /** The live allocations, by id. */
  allocations(): PhysAllocation[] {
    return [...this.live.values()].sort((a, b) => a.id - b.id);
  }

  /** True if `pa` lies in one of the target's ranges. */
  contains(pa: number): boolean {
    return this.ranges.some((r) => pa >= r.base && pa < r.base + r.size);
  }

  stats(): TargetStats {
    const s: TargetStats = {
      totalBytes: 0,
      freeBytes: 0,
      largestFreeBlock: 0,
      liveAllocations: this.live.size,
      allocCalls: this.allocCalls,
      freeCalls: this.freeCalls,
      failedCalls: this.failedCalls,
    };
    for (const b of this.backends) {
      const x = b.alloc.stats();
      s.totalBytes += x.totalBytes;
      s.freeBytes += x.freeBytes;
      s.largestFreeBlock = Math.max(s.largestFreeBlock, x.largestFreeBlock);
    }
    return s;
  }

  /** The chunk-pool allocator, for pool statistics; undefined for other kinds. */
  get chunkPool(): ChunkPoolAllocator | undefined {
    const b = this.backends[0];
    return b?.kind === "chunk-pool" ? b.alloc : undefined;
  }

  describe(): string {
    return `${this.name} (${this.kind}: ${this.ranges.map((r) => `${r.region} ${hexRange(r.base, r.size)}`).join(", ")})`;
  }
}
