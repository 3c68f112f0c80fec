import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { AllocModel } from "./allocator-model.testutil.js";
import { checkNoOverlap, expectCode, modelBytes } from "./allocator-model.testutil.js";
import type { ChunkPoolConfig } from "./chunk-pool.js";
import { ChunkPoolAllocator } from "./chunk-pool.js";

const K = 1024;
const M = 1024 * K;

/** The posted VCMM default: 32 MiB split 1/2 1M, 1/4 64K, 1/4 4K. */
const POSTED: ChunkPoolConfig = {
  pools: [
    { chunkSize: 1 * M, bytes: 16 * M },
    { chunkSize: 64 * K, bytes: 8 * M },
    { chunkSize: 4 * K, bytes: 8 * M },
  ],
};

const sizes = (cs: ReadonlyArray<{ size: number }>) => cs.map((c) => c.size);

describe("ChunkPoolAllocator (vcm_phys_alloc max-munch)", () => {
  it("lays out pools naturally aligned, largest first", () => {
    const a = new ChunkPoolAllocator(0x8000_0000, 64 * M, { ...POSTED, contiguousBytes: 4 * M });
    expect(a.poolStats()).toEqual([
      { chunkSize: 1 * M, base: 0x8000_0000, chunks: 16, free: 16 },
      { chunkSize: 64 * K, base: 0x8100_0000, chunks: 128, free: 128 },
      { chunkSize: 4 * K, base: 0x8180_0000, chunks: 2048, free: 2048 },
    ]);
    expect(a.contiguous?.base).toBe(0x8200_0000);
    expect(a.stats().totalBytes).toBe(36 * M);
  });

  it("takes len/size chunks of each size, largest first, lowest address first", () => {
    const a = new ChunkPoolAllocator(0x8000_0000, 32 * M, POSTED);
    const c = a.alloc(0x112000); // 1M + 64K + 8K
    expect(sizes(c)).toEqual([1 * M, 64 * K, 4 * K, 4 * K]);
    expect(c.map((x) => x.pa)).toEqual([0x8000_0000, 0x8100_0000, 0x8180_0000, 0x8180_1000]);
    const d = a.alloc(3 * M);
    expect(d.map((x) => x.pa)).toEqual([0x8010_0000, 0x8020_0000, 0x8030_0000]);
  });

  it("a leftover below the smallest size takes one more 4K chunk", () => {
    const a = new ChunkPoolAllocator(0, 32 * M, POSTED);
    expect(sizes(a.alloc(1 * M + 100))).toEqual([1 * M, 4 * K]);
    expect(sizes(a.alloc(5))).toEqual([4 * K]);
  });

  it("adds a pool's shortfall back for the smaller sizes", () => {
    const a = new ChunkPoolAllocator(0, 32 * M, POSTED);
    a.alloc(15 * M); // leaves one 1M chunk
    const c = a.alloc(2 * M + 64 * K);
    // 1 x 1M available; the missing 1M comes as 16 x 64K, plus the 64K asked for.
    expect(sizes(c)).toEqual([1 * M, ...Array<number>(17).fill(64 * K)]);
  });

  it("fails with ENOMEM and returns every chunk taken when it cannot supply", () => {
    const a = new ChunkPoolAllocator(0, 32 * M, POSTED);
    a.alloc(31 * M);
    const before = JSON.stringify([a.stats(), a.poolStats()]);
    expectCode(() => a.alloc(2 * M), "ENOMEM");
    expect(JSON.stringify([a.stats(), a.poolStats()])).toBe(before);
  });

  it("limits chunk sizes per request (VCM_PHYS_64KB | VCM_PHYS_4KB)", () => {
    const a = new ChunkPoolAllocator(0, 32 * M, POSTED);
    expect(sizes(a.alloc(1 * M + 4 * K, { chunkSizes: [64 * K, 4 * K] }))).toEqual([
      ...Array<number>(16).fill(64 * K),
      4 * K,
    ]);
    expectCode(() => a.alloc(4 * K, { chunkSizes: [16 * M] }), "EINVAL");
  });

  it("serves physically contiguous requests from the contiguous pool", () => {
    const a = new ChunkPoolAllocator(0x8000_0000, 40 * M, { ...POSTED, contiguousBytes: 8 * M });
    const c = a.alloc(2 * M + 4 * K, { contiguous: true });
    expect(c).toEqual([{ pa: 0x8200_0000, size: 2 * M + 4 * K }]);
    a.free(c[0]!.pa);
    expect(a.contiguous?.freeBytes).toBe(8 * M);
    const none = new ChunkPoolAllocator(0, 32 * M, POSTED);
    expectCode(() => none.alloc(4 * K, { contiguous: true }), "ENOMEM");
  });

  it("refuses frees of unknown, inner or already freed chunks", () => {
    const a = new ChunkPoolAllocator(0, 32 * M, POSTED);
    const c = a.alloc(0x112000);
    expect(() => a.free(c[1]!.pa)).toThrow(/inside the allocation at 0x0; free that/);
    expectCode(() => a.free(0x1234000), "EINVAL");
    a.free(c[0]!.pa);
    expectCode(() => a.free(c[0]!.pa), "EINVAL");
    expect(a.freeBytes).toBe(32 * M);
  });

  it("refuses configurations that do not fit or make no sense", () => {
    expectCode(() => new ChunkPoolAllocator(0, 16 * M, POSTED), "ENOSPC");
    expectCode(
      () => new ChunkPoolAllocator(0, 32 * M, { pools: [{ chunkSize: 3 * K, bytes: 12 * K }] }),
      "EINVAL",
    );
    expectCode(
      () =>
        new ChunkPoolAllocator(0, 32 * M, { pools: [{ chunkSize: 1 * M, bytes: 1 * M + 4 * K }] }),
      "EINVAL",
    );
    expectCode(
      () =>
        new ChunkPoolAllocator(0, 32 * M, {
          pools: [
            { chunkSize: 4 * K, bytes: 4 * K },
            { chunkSize: 4 * K, bytes: 4 * K },
          ],
        }),
      "EEXIST",
    );
    expectCode(() => new ChunkPoolAllocator(0, 32 * M, { pools: [] }), "EINVAL");
  });

  it("model: max-munch against a reference count of free chunks", () => {
    const small: ChunkPoolConfig = {
      pools: [
        { chunkSize: 1 * M, bytes: 4 * M },
        { chunkSize: 64 * K, bytes: 1 * M },
        { chunkSize: 4 * K, bytes: 256 * K },
      ],
      contiguousBytes: 2 * M,
    };
    type Op = { kind: "alloc"; len: number; cont: boolean } | { kind: "free"; pick: number };
    const op = fc.oneof(
      fc.record({
        kind: fc.constant("alloc" as const),
        len: fc.integer({ min: 1, max: 3 * M }),
        cont: fc.boolean(),
      }),
      fc.record({ kind: fc.constant("free" as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops: Op[]) => {
        const a = new ChunkPoolAllocator(0x8000_0000, 8 * M, small);
        const ranges = [{ base: 0x8000_0000, size: 8 * M }];
        const m: AllocModel = { live: [] };
        const total = a.freeBytes;
        for (const o of ops) {
          if (o.kind === "alloc") {
            const free = a.poolStats().map((p) => p.free);
            // Reference max-munch plan.
            let rem = o.len;
            const plan = a.poolStats().map((p, i) => {
              const got = Math.min(Math.floor(rem / p.chunkSize), free[i]!);
              rem -= got * p.chunkSize;
              return got;
            });
            if (rem > 0 && rem < 4 * K && plan[2]! < free[2]!) {
              plan[2]!++;
              rem = 0;
            }
            const before = JSON.stringify([a.stats(), a.poolStats()]);
            try {
              const cs = a.alloc(o.len, { contiguous: o.cont });
              if (!o.cont) {
                expect(rem).toBe(0);
                const got = a
                  .poolStats()
                  .map((p) => cs.filter((c) => c.size === p.chunkSize).length);
                expect(got).toEqual(plan);
              } else expect(cs).toHaveLength(1);
              expect(cs.reduce((s, c) => s + c.size, 0)).toBeGreaterThanOrEqual(o.len);
              m.live.push({ key: cs[0]!.pa, asked: o.len, chunks: cs });
            } catch (e) {
              expect((e as { code: string }).code).toBe("ENOMEM");
              if (!o.cont) expect(rem).toBeGreaterThan(0);
              expect(JSON.stringify([a.stats(), a.poolStats()])).toBe(before);
            }
          } else if (m.live.length > 0) {
            const [v] = m.live.splice(o.pick % m.live.length, 1);
            a.free(v!.key);
          }
          checkNoOverlap(m, ranges);
          expect(a.freeBytes + modelBytes(m)).toBe(total);
          expect(a.stats().liveAllocations).toBe(m.live.length);
        }
        for (const x of m.live) a.free(x.key);
        expect(a.freeBytes).toBe(total);
        expect(a.contiguous?.freeExtents()).toHaveLength(1);
      }),
      { numRuns: 150 },
    );
  });
});
