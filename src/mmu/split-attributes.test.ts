import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";

import { createLpaeFormat } from "./lpae.js";
import { PageTable } from "./page-table.js";
import { PROT } from "./prot.js";
import { PhysTableMemory } from "./table-memory.js";

const M = 1 << 20;
const s1 = createLpaeFormat({ stage: 1, granule: 4096, ias: 48, oas: 48 });
const s2 = createLpaeFormat({ stage: 2, granule: 4096, ias: 40, oas: 40 });

/** `iopte_prot`: ARM_LPAE_PTE_ATTR_MASK, bits 11:2 and 51, 53, 54. */
function attrBits(lo: number, hi: number): [number, number] {
  return [lo & (0x3ff << 2), hi & ((1 << 19) | (1 << 21) | (1 << 22))];
}

describe("a split keeps the leaf's attribute bits (arm_lpae_split_blk_unmap)", () => {
  it("an MMIO|CACHE block split by a partial unmap keeps its shareability and memory type", () => {
    const table = new PageTable(s1, PhysTableMemory.standalone(64 * M));
    // Written as descriptors by hand: prot flags cannot say inner-shareable device memory.
    table.map(0x4000_0000, 0x8000_0000, 2 * M, PROT.READ | PROT.WRITE);
    table.rewrite((leaf) => ({ lo: (leaf.lo & ~(3 << 8)) | (3 << 8) | (1 << 2), hi: leaf.hi }));
    const block = table.translate(0x4000_0000)!;
    expect(block.size).toBe(2 * M);
    expect(table.unmap(0x4000_1000, 4096)).toBe(4096);
    for (const va of [0x4000_0000, 0x4000_2000, 0x401f_f000]) {
      const piece = table.translate(va)!;
      expect(piece.size).toBe(4096);
      expect(attrBits(piece.lo, piece.hi)).toEqual(attrBits(block.lo, block.hi));
      expect((piece.lo >>> 8) & 3).toBe(3); // inner shareable, as the block was
    }
  });

  test.prop(
    [
      fc.constantFrom(s1, s2),
      fc.integer({ min: 0, max: 0x3ff }),
      fc.boolean(),
      fc.boolean(),
      fc.integer({ min: 0, max: 511 }),
    ],
    { numRuns: 100 },
  )("every piece of any block keeps bits 11:2, XN, PXN and DBM", (format, attrs, xn, pxn, hole) => {
    const table = new PageTable(format, PhysTableMemory.standalone(64 * M));
    table.map(0x4000_0000, 0x8000_0000, 2 * M, PROT.READ | PROT.WRITE);
    const hiBits = (xn ? 1 << 22 : 0) | (pxn ? 1 << 21 : 0) | (1 << 19);
    table.rewrite((leaf) => ({
      lo: ((leaf.lo & ~(0x3ff << 2)) | (attrs << 2) | (1 << 10)) >>> 0,
      hi: (leaf.hi | hiBits) >>> 0,
    }));
    const block = table.translate(0x4000_0000)!;
    table.unmap(0x4000_0000 + hole * 4096, 4096);
    const other = ((hole + 1) % 512) * 4096;
    const piece = table.translate(0x4000_0000 + other)!;
    expect(piece.size).toBe(4096);
    expect(piece.pa).toBe(0x8000_0000 + other);
    expect(attrBits(piece.lo, piece.hi)).toEqual(attrBits(block.lo, block.hi));
  });
});
