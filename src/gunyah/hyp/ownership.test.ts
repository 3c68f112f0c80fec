import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { expectError } from "../../base/errors.testutil.js";
import { PhysOwnership } from "./ownership.js";

const P = 4096;

describe("PhysOwnership", () => {
  it("adds, merges adjacent spans of one owner and keeps others apart", () => {
    const o = new PhysOwnership();
    o.add(0x2000, 0x3000, 3);
    o.add(0x1000, 0x2000, 3);
    o.add(0x3000, 0x4000, 0x80);
    expect(o.list()).toEqual([
      { start: 0x1000, end: 0x3000, owner: 3 },
      { start: 0x3000, end: 0x4000, owner: 0x80 },
    ]);
    expectError(() => o.add(0x3800, 0x5000, 3), "EINVAL", "owned already");
    expect(o.list()).toHaveLength(2);
  });

  it("ownerOf: one owner for the whole range, else undefined (mixed owners, holes)", () => {
    const o = new PhysOwnership();
    o.add(0x1000, 0x3000, 3);
    o.add(0x3000, 0x4000, 0x80);
    o.add(0x5000, 0x6000, 3);
    expect(o.ownerOf(0x1000, 0x3000)).toBe(3);
    expect(o.ownerOf(0x2000, 0x2800)).toBe(3);
    expect(o.ownerOf(0x3000, 0x4000)).toBe(0x80);
    expect(o.ownerOf(0x2000, 0x4000)).toBeUndefined();
    expect(o.ownerOf(0x3000, 0x6000)).toBeUndefined(); // a hole at 0x4000
    expect(o.ownerOf(0x0, 0x2000)).toBeUndefined(); // unowned start
    expect(o.ownerOf(0x5000, 0x7000)).toBeUndefined(); // runs off the end
  });

  it("transfer splits a span and merges with neighbours of the new owner", () => {
    const o = new PhysOwnership();
    o.add(0x0, 0x4000, 3);
    o.add(0x4000, 0x5000, 0x80);
    o.transfer(0x3000, 0x4000, 0x80);
    expect(o.list()).toEqual([
      { start: 0x0, end: 0x3000, owner: 3 },
      { start: 0x3000, end: 0x5000, owner: 0x80 },
    ]);
    o.transfer(0x1000, 0x2000, 0x81);
    expect(o.ownerOf(0x1000, 0x2000)).toBe(0x81);
    expect(o.ownerOf(0x0, 0x1000)).toBe(3);
    expect(o.ownerOf(0x2000, 0x3000)).toBe(3);
    o.transfer(0x0, 0x5000, 3);
    expect(o.list()).toEqual([{ start: 0, end: 0x5000, owner: 3 }]);
  });

  it("list gives copies", () => {
    const o = new PhysOwnership();
    o.add(0, P, 3);
    o.list()[0]!.owner = 9;
    expect(o.ownerOf(0, P)).toBe(3);
  });

  it("matches a page-by-page model under random adds and transfers", () => {
    const pagesN = 32;
    const op = fc.oneof(
      fc.record({
        kind: fc.constant("add" as const),
        s: fc.nat(pagesN - 1),
        n: fc.integer({ min: 1, max: 6 }),
        owner: fc.integer({ min: 1, max: 3 }),
      }),
      fc.record({
        kind: fc.constant("transfer" as const),
        s: fc.nat(pagesN - 1),
        n: fc.integer({ min: 1, max: 8 }),
        owner: fc.integer({ min: 1, max: 3 }),
      }),
      fc.record({
        kind: fc.constant("query" as const),
        s: fc.nat(pagesN - 1),
        n: fc.integer({ min: 1, max: 8 }),
        owner: fc.constant(0),
      }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const o = new PhysOwnership();
        const model = new Map<number, number>();
        for (const { kind, s, n, owner } of ops) {
          const e = Math.min(s + n, pagesN);
          const range = [...Array(e - s).keys()].map((i) => s + i);
          if (kind === "add") {
            const taken = range.some((p) => model.has(p));
            let threw = false;
            try {
              o.add(s * P, e * P, owner);
            } catch {
              threw = true;
            }
            expect(threw).toBe(taken);
            if (!taken) for (const p of range) model.set(p, owner);
          } else if (kind === "transfer") {
            o.transfer(s * P, e * P, owner);
            for (const p of range) if (model.has(p)) model.set(p, owner);
          } else {
            const owners = new Set(range.map((p) => model.get(p)));
            const want = owners.size === 1 && !owners.has(undefined) ? [...owners][0] : undefined;
            expect(o.ownerOf(s * P, e * P)).toBe(want);
          }
          // The spans are sorted, disjoint, merged, and say what the model says.
          const spans = o.list();
          for (let i = 1; i < spans.length; i++) {
            expect(spans[i]!.start).toBeGreaterThanOrEqual(spans[i - 1]!.end);
            if (spans[i]!.start === spans[i - 1]!.end)
              expect(spans[i]!.owner).not.toBe(spans[i - 1]!.owner);
          }
          const fromSpans = new Map<number, number>();
          for (const sp of spans)
            for (let a = sp.start; a < sp.end; a += P) fromSpans.set(a / P, sp.owner);
          expect(fromSpans).toEqual(model);
        }
      }),
      { numRuns: 200 },
    );
  });
});
