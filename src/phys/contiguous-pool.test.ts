import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { AllocModel } from "./allocator-model.testutil.js";
import { checkNoOverlap, expectCode, modelBytes } from "./allocator-model.testutil.js";
import { ContiguousPool } from "./contiguous-pool.js";

const K = 1024;
const M = 1024 * K;

describe("ContiguousPool (genalloc first fit)", () => {
  it("takes the lowest fitting range, honours alignment, merges on free", () => {
    const p = new ContiguousPool(0x9000_1000, 8 * M);
    const a = p.alloc(8 * K);
    expect(a).toBe(0x9000_1000);
    const b = p.alloc(2 * M + 4 * K, 1 * M);
    expect(b).toBe(0x9010_0000);
    const c = p.alloc(4 * K);
    expect(c).toBe(0x9000_3000); // first fit: the gap before the aligned block
    expect(p.freeExtents()[0]).toEqual({ pa: 0x9000_4000, size: 0x9010_0000 - 0x9000_4000 });
    p.free(b);
    p.free(a);
    p.free(c);
    expect(p.freeExtents()).toEqual([{ pa: 0x9000_1000, size: 8 * M }]);
    expect(p.stats()).toEqual({
      totalBytes: 8 * M,
      freeBytes: 8 * M,
      largestFreeBlock: 8 * M,
      liveAllocations: 0,
    });
  });

  it("refuses bad requests and unknown frees, changing nothing", () => {
    const p = new ContiguousPool(0, 1 * M, "carveout");
    const a = p.alloc(64 * K);
    const before = JSON.stringify([p.stats(), p.freeExtents()]);
    expectCode(() => p.alloc(0), "EINVAL");
    expectCode(() => p.alloc(1000), "EINVAL");
    expectCode(() => p.alloc(4 * K, 12 * K), "EINVAL");
    expectCode(() => p.alloc(2 * M), "ENOMEM");
    expectCode(() => p.free(a + 4 * K), "EINVAL");
    expectCode(() => p.free(16 * M), "EINVAL");
    expect(() => p.free(16 * M)).toThrow(/carveout: 0x1000000 is outside/);
    expect(JSON.stringify([p.stats(), p.freeExtents()])).toBe(before);
    p.free(a);
    expectCode(() => p.free(a), "EINVAL");
  });

  it("model: no overlap, bytes accounted for, everything merges back", () => {
    type Op =
      | { kind: "alloc"; pages: number; alignOrder: number }
      | { kind: "at"; page: number; pages: number }
      | { kind: "free"; pick: number };
    const op = fc.oneof(
      fc.record({
        kind: fc.constant("at" as const),
        page: fc.integer({ min: 0, max: 520 }),
        pages: fc.integer({ min: 1, max: 16 }),
      }),
      fc.record({
        kind: fc.constant("alloc" as const),
        pages: fc.integer({ min: 1, max: 64 }),
        alignOrder: fc.integer({ min: 0, max: 5 }),
      }),
      fc.record({ kind: fc.constant("free" as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 512 }),
        fc.array(op, { maxLength: 200 }),
        (pages, ops: Op[]) => {
          const base = 0x4000_0000;
          const size = pages * 4 * K;
          const p = new ContiguousPool(base, size);
          const m: AllocModel = { live: [] };
          for (const o of ops) {
            if (o.kind === "alloc") {
              const bytes = o.pages * 4 * K;
              const align = 4 * K * 2 ** o.alignOrder;
              const before = JSON.stringify(p.freeExtents());
              try {
                const pa = p.alloc(bytes, align);
                expect(pa % align).toBe(0);
                m.live.push({ key: pa, asked: bytes, chunks: [{ pa, size: bytes }] });
              } catch (e) {
                expect((e as { code: string }).code).toBe("ENOMEM");
                expect(JSON.stringify(p.freeExtents())).toBe(before);
                // First fit really found nothing: no extent holds an aligned range of this size.
                for (const ex of p.freeExtents()) {
                  const start = Math.ceil(ex.pa / align) * align;
                  expect(start + bytes).toBeGreaterThan(ex.pa + ex.size);
                }
              }
            } else if (o.kind === "at") {
              // allocAt succeeds exactly when the range is inside the pool and free.
              const pa = base + o.page * 4 * K;
              const bytes = o.pages * 4 * K;
              const inside = pa + bytes <= base + size;
              const free = m.live.every((a) => pa + bytes <= a.key || a.key + a.asked <= pa);
              const before = JSON.stringify(p.freeExtents());
              if (inside && free) {
                const got = p.allocAt(pa, bytes);
                expect(got).toBe(pa);
                m.live.push({ key: got, asked: bytes, chunks: [{ pa: got, size: bytes }] });
              } else {
                expectCode(() => p.allocAt(pa, bytes), inside ? "EBUSY" : "EINVAL");
                expect(JSON.stringify(p.freeExtents())).toBe(before);
              }
            } else if (m.live.length > 0) {
              const [v] = m.live.splice(o.pick % m.live.length, 1);
              p.free(v!.key);
            }
            checkNoOverlap(m, [{ base, size }]);
            expect(p.freeBytes + modelBytes(m)).toBe(size);
          }
          for (const a of m.live) p.free(a.key);
          expect(p.freeExtents()).toEqual([{ pa: base, size }]);
        },
      ),
      { numRuns: 100 },
    );
  });
});
