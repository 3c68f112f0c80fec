import { describe, expect, it } from "vitest";

import { Cpu } from "./cpu.js";
import { DRAM, M, machine, RW } from "./machine.testutil.js";

/**
 * TLB entries that keep their host page (the access path's hit path): what a hit reads and
 * writes is exactly what the general path would, across page boundaries and after the store's
 * pages change hands.
 */
describe("the access path's host pages", () => {
  function cpuWithBlock() {
    const m = machine();
    const table = m.table();
    table.map(0x4000_0000, DRAM + 2 * M, 2 * M, RW); // one 2M block: one TLB entry for 512 pages
    const cpu = new Cpu(m.platform, { name: "cpu0", ttbr0: table, asid: 1 });
    return { ...m, cpu };
  }

  it("a read across a 4 KiB boundary inside a block reads both pages", () => {
    const { cpu } = cpuWithBlock();
    const at = 0x4000_0000 + 4096 - 4;
    const data = Uint8Array.from({ length: 9 }, (_, i) => 1 + i * 31);
    cpu.write(at, data);
    expect([...cpu.read(at, 1)]).toEqual([1]); // fills the entry's host page
    expect([...cpu.read(at, 9)]).toEqual([...data]);
    expect([...cpu.read(at + 4, 5)]).toEqual([...data.subarray(4)]);
  });

  it("a write through a hit lands in the store, and a moved page is not read through stale", () => {
    const { cpu, platform } = cpuWithBlock();
    const va = 0x4000_0000 + 8;
    cpu.write(va, Uint8Array.of(7));
    cpu.read(va, 1);
    cpu.write(va, Uint8Array.of(9)); // the hit path
    expect(platform.store.readU8(DRAM + 2 * M + 8)).toBe(9);
    // The page's bytes move away (GMEM migrates this way): the hit must not read the old page.
    platform.store.movePages(DRAM + 8 * M, DRAM + 2 * M, 4096);
    expect([...cpu.read(va, 1)]).toEqual([0]);
    platform.store.writeU8(DRAM + 2 * M + 8, 5);
    expect([...cpu.read(va, 1)]).toEqual([5]);
    // A whole-page zero fill drops the page.
    platform.store.fill(DRAM + 2 * M, 4096, 0);
    expect([...cpu.read(va, 1)]).toEqual([0]);
  });

  it("counts a hit as the general path does", () => {
    const { cpu } = cpuWithBlock();
    cpu.write(0x4000_0000, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    cpu.read(0x4000_0000, 8);
    const before = { ...cpu.stats, tlb: cpu.mmu.tlb!.stats(), regime: { ...cpu.mmu.stats } };
    cpu.read(0x4000_0000, 8);
    expect(cpu.stats.reads).toBe(before.reads + 1);
    expect(cpu.stats.tlbHits).toBe(before.tlbHits + 1);
    expect(cpu.stats.translations).toBe(before.translations + 1);
    expect(cpu.mmu.tlb!.stats().hits).toBe(before.tlb.hits + 1);
    expect(cpu.mmu.tlb!.stats().lookups).toBe(before.tlb.lookups + 1);
    expect(cpu.mmu.stats.tlbHits).toBe(before.regime.tlbHits + 1);
  });

  it("an 8-byte hit reads the same into aligned and unaligned buffers, at any offset", () => {
    const { cpu } = cpuWithBlock();
    const data = Uint8Array.from({ length: 64 }, (_, i) => 200 - i);
    cpu.write(0x4000_0000, data);
    cpu.read(0x4000_0000, 8); // fills the entry's host page
    const backing = new ArrayBuffer(32);
    for (const byteOffset of [0, 1, 4, 7])
      for (const off of [0, 3, 4, 8, 13]) {
        const out = new Uint8Array(backing, byteOffset, 8);
        cpu.readInto(0x4000_0000 + off, out);
        expect([...out]).toEqual([...data.subarray(off, off + 8)]);
      }
  });
});
