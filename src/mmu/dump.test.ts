import { describe, expect, it } from "vitest";

import { EventBus } from "../base/events.js";
import { ByteStore } from "../phys/byte-store.js";
import { MemoryMap } from "../phys/memory-map.js";
import { MemoryTarget } from "../phys/target.js";
import { rootOf, TranslateOut, TranslationRegime } from "./regime.js";
import {
  describeTranslation,
  dumpPageTable,
  formatDescriptor,
  formatPageTableStats,
  pageTableStats,
} from "./dump.js";
import type { PageTableFormat } from "./format.js";
import { createLpaeFormat } from "./lpae.js";
import { PageTable } from "./page-table.js";
import { PROT } from "./prot.js";
import { PhysTableMemory } from "./table-memory.js";
import { Tlb } from "./tlb.js";
import { createV7sFormat } from "./v7s.js";

const K = 1024;
const M = 1024 * K;
const RW = PROT.READ | PROT.WRITE;
const DRAM = 0x8000_0000;
const S1 = createLpaeFormat({ stage: 1, granule: 4096, ias: 48, oas: 48 });
const S2 = createLpaeFormat({ stage: 2, granule: 4096, ias: 40, oas: 40 });

function setup(format: PageTableFormat = S1) {
  const memory = PhysTableMemory.standalone(64 * M, DRAM);
  return { memory, table: new PageTable(format, memory, { name: "t" }) };
}

describe("dumpPageTable", () => {
  it("shows tables and leaves, indented by level, with attributes and raw descriptors", () => {
    const { table } = setup();
    table.map(0x1000, 0x9000_0000, 4 * K, RW | PROT.CACHE);
    table.map(0x20_0000, 0x9020_0000, 2 * M, PROT.READ | PROT.NOEXEC);
    const text = dumpPageTable(table);
    const lines = text.split("\n");
    expect(lines[0]).toBe(`page table "t" (${S1.name}): root 0x${table.root.toString(16)}`);
    expect(lines[1]).toBe(`L0 table @0x${table.root.toString(16)} [0x0-0xffffffffffff]`);
    expect(lines[2]).toMatch(/^ {2}L1 table @0x[0-9a-f]+ \[0x0-0x7fffffffff\]$/);
    expect(lines[3]).toMatch(/^ {4}L2 table @0x[0-9a-f]+ \[0x0-0x3fffffff\]$/);
    expect(lines[4]).toMatch(/^ {6}L3 table @0x[0-9a-f]+ \[0x0-0x1fffff\]$/);
    const page = lines[5]!;
    expect(page).toMatch(
      /^ {8}L3 0x1000-0x1fff -> 0x90000000-0x90000fff 4K rwx user nG AF normal-wb inner desc 0x[0-9a-f]{16} @0x[0-9a-f]+$/,
    );
    const leaf = table.translate(0x1000)!;
    expect(page).toContain(`desc ${formatDescriptor(S1, leaf.lo, leaf.hi)}`);
    expect(lines[6]).toMatch(
      /^ {6}L2 0x200000-0x3fffff -> 0x90200000-0x903fffff 2M r-- user nG AF normal-nc outer desc 0x0060000090200[0-9a-f]{3} @/,
    );
    expect(lines).toHaveLength(7);
  });

  it("limits the dump to a range", () => {
    const { table } = setup();
    table.map(0x1000, 0x9000_0000, 4 * K, RW);
    table.map(0x4000_0000, 0x9020_0000, 2 * M, RW);
    const text = dumpPageTable(table, { start: 0x4000_0000, end: 0x4020_0000 });
    expect(text).toContain("0x40000000-0x401fffff");
    expect(text).not.toContain("0x1000-0x1fff");
  });

  it("v7s: 8-digit descriptors, and multi-entry leaves noted x16", () => {
    const { table } = setup(createV7sFormat());
    table.map(0x1_0000, 0x9001_0000, 64 * K, RW);
    table.map(0x100_0000, 0x9100_0000, 16 * M, RW);
    table.map(0x20_0000, 0x9020_0000, 1 * M, RW);
    const text = dumpPageTable(table);
    expect(text).toMatch(
      /\nL1 table @0x[0-9a-f]+ \[0x0-0xffffffff\]\n {2}L2 table @0x[0-9a-f]+ \[0x0-0xfffff\]\n/,
    );
    expect(text).toMatch(
      /\n {4}L2 0x10000-0x1ffff -> 0x90010000-0x9001ffff 64K x16 .* desc 0x[0-9a-f]{8} @/,
    );
    expect(text).toMatch(
      /\n {2}L1 0x200000-0x2fffff -> 0x90200000-0x902fffff 1M .* desc 0x[0-9a-f]{8} @/,
    );
    expect(text).toMatch(/\n {2}L1 0x1000000-0x1ffffff -> 0x91000000-0x91ffffff 16M x16 /);
  });
});

describe("pageTableStats", () => {
  it("counts tables per level, leaves per size, and bytes, via the walker", () => {
    const { table } = setup();
    table.map(0x1000, 0x9000_0000, 8 * K, RW);
    table.map(0x20_0000, 0x9020_0000, 4 * M, RW);
    const s = pageTableStats(table);
    expect(s.tables).toEqual([
      { level: 0, count: 1, bytes: 4 * K },
      { level: 1, count: 1, bytes: 4 * K },
      { level: 2, count: 1, bytes: 4 * K },
      { level: 3, count: 1, bytes: 4 * K },
    ]);
    expect(s.leaves).toEqual([
      { size: 4 * K, count: 2, entries: 2 },
      { size: 2 * M, count: 2, entries: 2 },
    ]);
    expect(s.tableBytes).toBe(16 * K);
    expect(s.mappedBytes).toBe(4 * M + 8 * K);
    expect(formatPageTableStats(s)).toBe(
      `${S1.name} root 0x${table.root.toString(16)}: tables L0:1 L1:1 L2:1 L3:1 (16 KiB), leaves 4K:2 2M:2, mapped 4 MiB + 8 KiB`,
    );
  });

  it("v7s: a 16 KiB root, 1 KiB level-2 tables, entries of multi-entry leaves", () => {
    const { table } = setup(createV7sFormat());
    table.map(0x1_0000, 0x9001_0000, 64 * K, RW);
    const s = pageTableStats(table);
    expect(s.tables).toEqual([
      { level: 1, count: 1, bytes: 16 * K },
      { level: 2, count: 1, bytes: 1 * K },
    ]);
    expect(s.leaves).toEqual([{ size: 64 * K, count: 1, entries: 16 }]);
    expect(formatPageTableStats(s)).toContain("64K:1 (16 entries)");
  });
});

describe("describeTranslation", () => {
  it("walks one address descriptor by descriptor and says whether the TLB holds it", () => {
    const { table } = setup();
    table.map(0x1000, 0x9000_0000, 4 * K, RW);
    const tlb = new Tlb({ sets: 16, ways: 2, replacement: "lru" });
    const ctx = new TranslationRegime({ name: "cpu0", ttbr0: rootOf(table), asid: 2, tlb });
    let text = describeTranslation(ctx, 0x1234);
    expect(text).toContain("0x1234 in cpu0 (asid 2, vmid 0):");
    expect(text).toContain("stage 1 (ttbr0");
    expect(text.match(/-> table/g)).toHaveLength(3);
    expect(text).toContain("=> PA 0x90000234 (4K translation); TLB: not cached");
    ctx.translate(0x1234, { kind: "read", privileged: true }, new TranslateOut());
    text = describeTranslation(ctx, 0x1234);
    expect(text).toContain("TLB: cached (4K entry -> 0x90000000)");
    expect(describeTranslation(ctx, 0x5000)).toContain("translation fault");
  });

  it("follows a nested walk: stage-1 table addresses through stage 2, then the output", () => {
    const map = new MemoryMap();
    map.add({ name: "dram", base: DRAM, size: 64 * M, kind: "ram" });
    const target = new MemoryTarget(
      { name: "pt", ranges: [{ region: "dram" }], allocator: { kind: "buddy" } },
      map,
      new EventBus(),
      () => 1,
    );
    const memory = new PhysTableMemory(new ByteStore(), target);
    const s2 = new PageTable(S2, memory);
    const s1 = new PageTable(S1, memory); // host-built: identity-mapped into the IPA space
    s1.map(0x1000, 0x4000_0000, 4 * K, RW);
    for (const p of s1.tablePages()) s2.map(p.addr, p.addr, 4 * K, PROT.READ);
    s2.map(0x4000_0000, 0x9000_0000, 2 * M, RW);
    const ctx = new TranslationRegime({
      name: "vm",
      ttbr0: rootOf(s1),
      stage2: rootOf(s2),
      vmid: 4,
    });
    const text = describeTranslation(ctx, 0x1008);
    expect(text).toContain("stage 2 (");
    expect(text).toContain("of IPA 0x40000008");
    expect(text).toContain("=> PA 0x90000008 (4K translation); no TLB");
    s2.unmap(s1.tablePages()[1]!.addr, 4 * K);
    expect(describeTranslation(ctx, 0x1008)).toContain("does not translate at stage 2");
  });
});
