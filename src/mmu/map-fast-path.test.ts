import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";

import { createLpaeFormat } from "./lpae.js";
import { PageTable } from "./page-table.js";
import { PROT } from "./prot.js";
import { PhysTableMemory } from "./table-memory.js";

const M = 1 << 20;
const RW = PROT.READ | PROT.WRITE;
const format = createLpaeFormat({ stage: 1, granule: 4096, ias: 48, oas: 48 });

describe("the one-page map fast path and its memory of the last leaf table", () => {
  it("after an unmap frees the leaf table, the next map builds a new one and is reachable", () => {
    const mem = PhysTableMemory.standalone(64 * M);
    const table = new PageTable(format, mem);
    table.map(0x4000_0000, 0x8000_0000, 4096, RW);
    table.map(0x4000_1000, 0x8000_1000, 4096, RW); // quick: remembers the leaf table
    table.unmap(0x4000_0000, 8192); // the leaf table is empty and freed
    const tables = mem.liveTables;
    table.map(0x4000_2000, 0x8000_2000, 4096, RW);
    expect(tables).toBe(1); // the cascade freed every table but the root
    expect(mem.liveTables).toBe(4);
    expect(table.translate(0x4000_2000)?.pa).toBe(0x8000_2000);
    table.map(0x4000_3000, 0x8000_3000, 4096, RW);
    expect(table.translate(0x4000_3000)?.pa).toBe(0x8000_3000);
  });

  it("a parent entry rewritten behind the table's back makes it walk again", () => {
    const mem = PhysTableMemory.standalone(64 * M);
    const table = new PageTable(format, mem);
    table.map(0x4000_0000, 0x8000_0000, 4096, RW);
    table.map(0x4000_1000, 0x8000_1000, 4096, RW);
    // Clear the level-2 entry that points at the leaf table, with a raw store write.
    let l2Table = -1;
    table.walk({ table: (t) => void (t.level === 2 ? (l2Table = t.addr) : 0) });
    expect(l2Table).toBeGreaterThan(0);
    const l2Entry = l2Table + ((0x4000_0000 >>> 21) & 511) * 8;
    expect(mem.store.readU32(l2Entry) & 3).toBe(3);
    mem.store.writeU64(l2Entry, 0);
    expect(table.translate(0x4000_0000)).toBeUndefined();
    expect(() => table.map(0x4000_2000, 0x8000_2000, 4096, RW)).not.toThrow();
    expect(table.translate(0x4000_2000)?.pa).toBe(0x8000_2000);
  });

  test.prop(
    [
      fc.array(
        fc.record({
          op: fc.constantFrom("map", "map", "map", "unmap", "remap"),
          page: fc.integer({ min: 0, max: 2047 }),
          pages: fc.integer({ min: 1, max: 600 }),
        }),
        { maxLength: 60 },
      ),
    ],
    { numRuns: 60 },
  )("maps page by page agree with a model of the leaves, across unmaps and remaps", (ops) => {
    const table = new PageTable(format, PhysTableMemory.standalone(64 * M));
    const model = new Map<number, number>();
    const base = 0x40_0000_0000;
    for (const { op, page, pages } of ops) {
      if (op === "map") {
        for (let p = page; p < Math.min(page + pages, 2048); p++) {
          const va = base + p * 4096;
          const pa = 0x8000_0000 + ((p * 7) % 4096) * 4096;
          if (model.has(p)) expect(() => table.map(va, pa, 4096, RW)).toThrow(/EEXIST/);
          else {
            table.map(va, pa, 4096, RW);
            model.set(p, pa);
          }
        }
      } else if (op === "unmap") {
        if (model.has(page)) {
          table.unmap(base + page * 4096, 4096);
          model.delete(page);
        }
      } else if (model.has(page)) {
        table.remap(base + page * 4096, 0x9000_0000, 4096, RW);
        model.set(page, 0x9000_0000);
      }
    }
    for (let p = 0; p < 2048; p++)
      expect(table.translate(base + p * 4096)?.pa ?? null).toBe(model.get(p) ?? null);
  });
});
