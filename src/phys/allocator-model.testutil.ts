/**
 * Shared pieces of the allocators' model-based tests: a reference model of live allocations
 * and the checks every allocator must pass (no overlap, inside the managed range, every byte
 * accounted for).
 */
import { expect } from "vitest";
import type { Chunk } from "./allocator.js";
import type { ErrorCode } from "../base/errors.js";
import { expectError } from "../base/errors.testutil.js";

/** The reference: what the test believes is allocated, in allocation order. */
export interface AllocModel {
  live: Array<{ key: number; chunks: Chunk[]; asked: number }>;
}

/** No two live chunks overlap, and every chunk lies inside one of `ranges`. */
export function checkNoOverlap(
  model: AllocModel,
  ranges: ReadonlyArray<{ base: number; size: number }>,
): void {
  const all = model.live.flatMap((a) => a.chunks).sort((x, y) => x.pa - y.pa);
  for (let i = 0; i < all.length; i++) {
    const c = all[i]!;
    expect(
      ranges.some((r) => c.pa >= r.base && c.pa + c.size <= r.base + r.size),
      `chunk ${c.pa.toString(16)}+${c.size.toString(16)} outside the managed ranges`,
    ).toBe(true);
    if (i > 0) {
      const p = all[i - 1]!;
      expect(
        p.pa + p.size,
        `chunks at ${p.pa.toString(16)} and ${c.pa.toString(16)} overlap`,
      ).toBeLessThanOrEqual(c.pa);
    }
  }
}

/** The bytes the model holds. */
export function modelBytes(model: AllocModel): number {
  return model.live.reduce((s, a) => s + a.chunks.reduce((t, c) => t + c.size, 0), 0);
}

/** `fn` must fail with a MemweaveError of `code`. */
export function expectCode(fn: () => unknown, code: ErrorCode): void {
  expectError(fn, code);
}
