import { fc, test } from "@fast-check/vitest";
import { describe, expect } from "vitest";

import { MemweaveError } from "../base/errors.js";
import { dumpPageTable } from "./dump.js";
import { IotlbGather } from "./flush.js";
import { createLpaeFormat } from "./lpae.js";
import { PageTable } from "./page-table.js";
import { PROT } from "./prot.js";
import { PhysTableMemory } from "./table-memory.js";

/**
 * A page table's public entries refuse bad arguments with a MemweaveError EINVAL (or the
 * documented ERANGE for an address beyond the input size) and change nothing.
 */
const M = 1 << 20;
const RW = PROT.READ | PROT.WRITE;
const bad = fc.constantFrom<unknown>(
  NaN,
  -1,
  1.5,
  2 ** 53,
  Infinity,
  "0x1000",
  null,
  undefined,
  {},
  [],
);

function fixture() {
  const table = new PageTable(
    createLpaeFormat({ stage: 1, granule: 4096, ias: 48, oas: 48 }),
    PhysTableMemory.standalone(64 * M),
  );
  table.map(0x4000_0000, 0x8000_0000, 2 * M, RW);
  table.map(0x4020_0000, 0x9000_0000, 4096, RW);
  return table;
}

function refused(table: PageTable, f: () => unknown): void {
  const before = dumpPageTable(table);
  let thrown: unknown;
  try {
    f();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(MemweaveError);
  expect(["EINVAL", "ERANGE"]).toContain((thrown as MemweaveError).code);
  expect((thrown as MemweaveError).message).not.toMatch(/0xNaN|\[object Object\]/);
  expect(dumpPageTable(table)).toBe(before);
}

describe("page-table entries", () => {
  const table = fixture();
  const v = (x: unknown) => x as number;
  test.prop([bad])("an address, size or prot that is not one", (x) => {
    refused(table, () => table.map(v(x), 0x8100_0000, 4096, RW));
    refused(table, () => table.map(0x4100_0000, v(x), 4096, RW));
    refused(table, () => table.map(0x4100_0000, 0x8100_0000, v(x), RW));
    refused(table, () => table.map(0x4100_0000, 0x8100_0000, 4096, v(x)));
    refused(table, () => table.remap(v(x), 0x8100_0000, 4096, RW));
    refused(table, () => table.unmap(v(x), 4096));
    refused(table, () => table.unmap(0x4020_0000, v(x)));
    refused(table, () => table.unmapFast(v(x), 4096, new IotlbGather()));
    refused(table, () => table.unmapFast(0x4020_0000, 4096, v(x) as never));
    refused(table, () => table.protect(v(x), 4096, RW));
    refused(table, () => table.protect(0x4020_0000, 4096, v(x)));
    refused(table, () => table.translate(v(x)));
    refused(table, () => table.ownerAt(v(x)));
    refused(table, () => table.mappedBytes(v(x), 2 ** 40));
    refused(table, () => table.mappedBytes(0, v(x)));
    if (x !== undefined) refused(table, () => table.walk({}, v(x))); // start is optional
  });
  test.prop([fc.constantFrom<unknown>(null, 42, "f", {}, [])])(
    "a callback that is not one",
    (f) => {
      refused(table, () => table.rewrite(f as never));
      refused(table, () => table.onChange(f as never));
      refused(table, () => table.addFlushTarget(f as never));
    },
  );
});
