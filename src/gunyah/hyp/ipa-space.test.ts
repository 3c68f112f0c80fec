import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { IpaSpace, RM_IPA_WINDOW } from "./ipa-space.js";

const P = 4096;
const M2 = 2 * 1024 * 1024;
const W = RM_IPA_WINDOW.base;
const LIMIT = RM_IPA_WINDOW.base + RM_IPA_WINDOW.size;

describe("IpaSpace", () => {
  it("fixed allocations: taken ranges refuse overlaps, adjacent ones merge", () => {
    const s = new IpaSpace();
    expect(s.alloc(0x8000_0000, 0x10_0000)).toBe(0x8000_0000);
    expect(s.alloc(0x8010_0000, P)).toBe(0x8010_0000);
    expect(s.list()).toEqual([{ start: 0x8000_0000, end: 0x8010_1000 }]);
    expect(s.alloc(0x8010_0000, P)).toBeUndefined();
    expect(s.alloc(0x7fff_f000, 2 * P)).toBeUndefined(); // overlaps the first page
    expect(s.alloc(0x7fff_f000, P)).toBe(0x7fff_f000);
    expect(s.overlaps(0x8010_1000, P)).toBe(false);
    expect(s.overlaps(0x8010_0fff, 1)).toBe(true);
    expect(s.list()).toEqual([{ start: 0x7fff_f000, end: 0x8010_1000 }]);
  });

  it("chosen allocations: first fit in the window, 4K alignment below 2M, 2M alignment from 2M", () => {
    const s = new IpaSpace();
    expect(s.alloc(undefined, P)).toBe(W);
    expect(s.alloc(undefined, 3 * P)).toBe(W + P);
    expect(s.alloc(undefined, M2)).toBe(W + M2); // not W + 4P: 2M-aligned
    expect(s.alloc(undefined, P)).toBe(W + 4 * P); // back to the gap after the 4K ones
    expect(s.alloc(undefined, M2 + P)).toBe(W + 2 * M2);
    // A 2M-or-larger range never lands at an unaligned address, even when a gap is big enough.
    const t = new IpaSpace();
    t.alloc(W, P);
    const got = t.alloc(undefined, 3 * M2)!;
    expect(got % M2).toBe(0);
    expect(got).toBe(W + M2);
  });

  it("chosen allocations ignore ranges outside the window and skip ranges inside it", () => {
    const s = new IpaSpace();
    s.alloc(0x8000_0000, 1 << 30); // RAM below the window
    s.alloc(W - P, 2 * P); // straddles the window's base
    expect(s.alloc(undefined, P)).toBe(W + P);
  });

  it("window exhaustion: NORESOURCE (undefined) and nothing taken", () => {
    const s = new IpaSpace();
    expect(s.alloc(undefined, RM_IPA_WINDOW.size - P)).toBe(W);
    expect(s.alloc(undefined, 2 * P)).toBeUndefined();
    expect(s.alloc(undefined, P)).toBe(LIMIT - P);
    expect(s.alloc(undefined, P)).toBeUndefined();
    expect(s.list()).toEqual([{ start: W, end: LIMIT }]);
    // A 2M range does not fit in the last 4K-aligned hole either.
    const t = new IpaSpace();
    t.alloc(W, RM_IPA_WINDOW.size - 2 * M2 + P); // the last 2M-aligned slot is cut by a page
    expect(t.alloc(undefined, M2 + P)).toBeUndefined();
    expect(t.alloc(undefined, M2)).toBe(LIMIT - M2);
    expect(t.alloc(undefined, M2 - 2 * P)).toBe(LIMIT - 2 * M2 + P); // 4K-aligned, below 2M
  });

  it("free of sub-ranges splits, free of what is not taken changes nothing", () => {
    const s = new IpaSpace();
    s.alloc(0x1000_0000, 8 * P);
    s.free(0x1000_0000 + 2 * P, 2 * P);
    expect(s.list()).toEqual([
      { start: 0x1000_0000, end: 0x1000_2000 },
      { start: 0x1000_4000, end: 0x1000_8000 },
    ]);
    s.free(0x2000_0000, P);
    s.free(0x1000_1000, 4 * P); // across the hole
    expect(s.list()).toEqual([
      { start: 0x1000_0000, end: 0x1000_1000 },
      { start: 0x1000_5000, end: 0x1000_8000 },
    ]);
    expect(s.alloc(0x1000_1000, 4 * P)).toBe(0x1000_1000); // the freed part is free again
    expect(s.list()).toEqual([{ start: 0x1000_0000, end: 0x1000_8000 }]);
  });

  it("matches a page-set model under random fixed / chosen allocations and frees", () => {
    // A small window view: chosen allocations land in [W, W + 64 pages) in this model's terms
    // as long as nothing is taken above; we track every page taken.
    const op = fc.oneof(
      fc.record({
        kind: fc.constant("fixed" as const),
        at: fc.nat(63),
        n: fc.integer({ min: 1, max: 8 }),
      }),
      fc.record({
        kind: fc.constant("chosen" as const),
        at: fc.constant(0),
        n: fc.constantFrom(1, 2, 3, 512, 513, 1024),
      }),
      fc.record({
        kind: fc.constant("free" as const),
        at: fc.nat(2047),
        n: fc.integer({ min: 1, max: 600 }),
      }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        const s = new IpaSpace();
        const taken = new Set<number>(); // page numbers relative to W
        const free = (a: number, n: number) => [...Array(n).keys()].every((i) => !taken.has(a + i));
        for (const { kind, at, n } of ops) {
          if (kind === "fixed") {
            const got = s.alloc(W + at * P, n * P);
            if (free(at, n)) {
              expect(got).toBe(W + at * P);
              for (let i = 0; i < n; i++) taken.add(at + i);
            } else expect(got).toBeUndefined();
          } else if (kind === "chosen") {
            const align = n * P >= M2 ? M2 / P : 1;
            let want = 0;
            while (!free(want, n)) want += align;
            expect(s.alloc(undefined, n * P)).toBe(W + want * P);
            for (let i = 0; i < n; i++) taken.add(want + i);
          } else {
            s.free(W + at * P, n * P);
            for (let i = 0; i < n; i++) taken.delete(at + i);
          }
          const ranges = s.list();
          const pagesTaken = new Set<number>();
          for (let i = 0; i < ranges.length; i++) {
            const r = ranges[i]!;
            if (i > 0) expect(r.start).toBeGreaterThan(ranges[i - 1]!.end); // merged and disjoint
            for (let a = r.start; a < r.end; a += P) pagesTaken.add((a - W) / P);
          }
          expect(pagesTaken).toEqual(taken);
        }
      }),
      { numRuns: 150 },
    );
  });
});
