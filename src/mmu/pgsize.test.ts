import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { iommuPgsize } from "./pgsize.js";

const K = 1024;
const M = 1024 * K;
const G = 1024 * M;
const SIZES_4K = [4 * K, 2 * M, 1 * G];

/** Split a map the way iommu_map's loop does. */
function plan(sizes: number[], iova: number, pa: number, size: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  while (size > 0) {
    const { pgsize, count } = iommuPgsize(sizes, iova, pa, size);
    out.push([pgsize, count]);
    iova += pgsize * count;
    pa += pgsize * count;
    size -= pgsize * count;
  }
  return out;
}

describe("iommuPgsize (Linux iommu_pgsize)", () => {
  it("reproduces the reference example: 1 x 4K, 2 x 2M, 1 x 4K", () => {
    expect(plan(SIZES_4K, 0x1ff000, 0x801ff000, 0x402000)).toEqual([
      [4 * K, 1],
      [2 * M, 2],
      [4 * K, 1],
    ]);
  });

  it("uses the largest size both addresses are aligned to", () => {
    expect(plan(SIZES_4K, 0x4000_0000, 0x1_4000_0000, 1 * G)).toEqual([[1 * G, 1]]);
    // Differently offset within 2M: never a 2M page.
    expect(plan(SIZES_4K, 0x20_0000, 0x20_1000, 4 * M)).toEqual([[4 * K, 1024]]);
    // Addresses above 2^32.
    expect(plan(SIZES_4K, 2 ** 40, 2 ** 41 + 2 * M, 4 * M + 8 * K)).toEqual([
      [2 * M, 2],
      [4 * K, 2],
    ]);
  });

  it("stops small pages at the boundary of the next size", () => {
    expect(iommuPgsize(SIZES_4K, 0x1f_e000, 0x1f_e000, 16 * M)).toEqual({
      pgsize: 4 * K,
      count: 2,
      index: 0,
    });
    // Not enough length for the larger size: all small pages.
    expect(iommuPgsize(SIZES_4K, 0x1f_e000, 0x1f_e000, 1 * M)).toEqual({
      pgsize: 4 * K,
      count: 256,
      index: 0,
    });
  });

  it("covers the whole length with supported, aligned pages (property)", () => {
    const sets = [SIZES_4K, [16 * K, 32 * M], [64 * K, 512 * M], [4 * K, 64 * K, 1 * M, 16 * M]];
    fc.assert(
      fc.property(
        fc.constantFrom(...sets),
        fc.integer({ min: 0, max: 2 ** 20 }),
        fc.integer({ min: 0, max: 2 ** 20 }),
        fc.integer({ min: 1, max: 4096 }),
        (sizes, a, b, n) => {
          const min = sizes[0]!;
          const iova = a * min;
          const pa = b * min;
          const size = n * min;
          let v = iova;
          let p = pa;
          for (const [pg, count] of plan(sizes, iova, pa, size)) {
            expect(sizes).toContain(pg);
            expect(count).toBeGreaterThan(0);
            expect(v % pg).toBe(0);
            expect(p % pg).toBe(0);
            v += pg * count;
            p += pg * count;
          }
          expect(v - iova).toBe(size);
        },
      ),
      { numRuns: 300 },
    );
  });
});
