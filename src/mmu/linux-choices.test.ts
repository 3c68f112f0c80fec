import { describe, expect, it } from "vitest";

import { MemweaveError } from "../base/errors.js";
import { createLpaeFormat } from "./lpae.js";
import { PageTable } from "./page-table.js";
import { PROT } from "./prot.js";
import { PhysTableMemory } from "./table-memory.js";

const M = 1 << 20;
const RW = PROT.READ | PROT.WRITE;
const format = createLpaeFormat({ stage: 1, granule: 4096, ias: 48, oas: 48 });

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof MemweaveError) return e.code;
    throw e;
  }
  return undefined;
}

describe("where memweave decides otherwise than Linux io-pgtable (docs/translation.md)", () => {
  it("a block over a table holding live entries is EEXIST, and every structure stays as it was", () => {
    const mem = PhysTableMemory.standalone(64 * M);
    const table = new PageTable(format, mem);
    table.map(0x4010_0000, 0x9010_0000, 4096, RW);
    const tables = mem.liveTables;
    const stats = table.stats();
    // Linux's arm_lpae_init_pte would unmap the table and install the 2M block.
    expect(codeOf(() => table.map(0x4000_0000, 0x8000_0000, 2 * M, RW))).toBe("EEXIST");
    expect(table.translate(0x4010_0000)?.pa).toBe(0x9010_0000);
    expect(table.translate(0x4000_0000)).toBeUndefined();
    expect(mem.liveTables).toBe(tables);
    expect(table.stats()).toEqual({ ...stats, rollbacks: stats.rollbacks + 1 });
  });

  it("once the table is empty an unmap frees it, and the block then maps", () => {
    const mem = PhysTableMemory.standalone(64 * M);
    const table = new PageTable(format, mem);
    table.map(0x4010_0000, 0x9010_0000, 4096, RW);
    table.unmap(0x4010_0000, 4096);
    table.map(0x4000_0000, 0x8000_0000, 2 * M, RW);
    expect(table.translate(0x4010_0000)).toMatchObject({ size: 2 * M, pa: 0x8010_0000 });
  });

  it("a prot with neither read nor write is EINVAL (arm_lpae_map_pages since 5.x)", () => {
    const table = new PageTable(format, PhysTableMemory.standalone(64 * M));
    expect(codeOf(() => table.map(0x4000_0000, 0x8000_0000, 4096, PROT.NOEXEC))).toBe("EINVAL");
    expect(table.translate(0x4000_0000)).toBeUndefined();
  });

  it("a partial unmap of a block splits it (Linux before 6.13) rather than refusing", () => {
    const table = new PageTable(format, PhysTableMemory.standalone(64 * M));
    table.map(0x4000_0000, 0x8000_0000, 2 * M, RW);
    expect(table.unmap(0x4000_1000, 4096)).toBe(4096);
    expect(table.translate(0x4000_1000)).toBeUndefined();
    expect(table.translate(0x4000_2000)).toMatchObject({ size: 4096, pa: 0x8000_2000 });
  });
});
