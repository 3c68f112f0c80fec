/**
 * Address spaces in types at the API edges of mmu/ and devices/: plain numbers are accepted
 * everywhere; an address branded for one space is refused where another space is expected.
 * The `@ts-expect-error` lines are checked by the type-checker (`npm run lint`): if a mix ever
 * became legal, the unused directive would fail the build.
 */
import { describe, expect, expectTypeOf, it } from "vitest";

import type { IpaAddr, PhysAddr } from "../base/address.js";
import { ipaAddr, physAddr, virtAddr } from "../base/address.js";
import { PageTable } from "../mmu/page-table.js";
import { Cpu } from "./cpu.js";
import { K, machine, RW, S1, S2 } from "./machine.testutil.js";
import { OneToOneDevice } from "./one-to-one.js";

describe("address spaces in types", () => {
  it("a translation's output is physical; masters take their own space", () => {
    const { platform, tables, phys } = machine();
    const s1 = new PageTable(S1, tables);
    const stage2 = new PageTable<"ipa", "phys">(S2, tables);
    const page = physAddr(phys(4 * K));
    s1.map(0x1000, page, 4 * K, RW); // a literal input, a branded output: fine
    stage2.map(ipaAddr(0x4000_0000), page, 4 * K, RW);
    const cpu = new Cpu(platform, { name: "cpu0", ttbr0: s1 });
    const dma = new OneToOneDevice(platform, { name: "dma0", base: page, size: 4 * K });

    const t = s1.translate(virtAddr(0x1000))!;
    expectTypeOf(t.pa).toEqualTypeOf<PhysAddr>();
    expect(platform.read(t.pa, 1)).toEqual(new Uint8Array(1)); // physical where physical is due
    expect(dma.read(t.pa, 1)).toHaveLength(1);
    expect(cpu.read(0x1000, 1)).toHaveLength(1);
    const r = cpu.translate(0x1000);
    expect(r.ok && r.pa).toBe(page);
    if (r.ok) expectTypeOf(r.pa).toEqualTypeOf<PhysAddr>();

    // What would not compile: each line mixes two spaces.
    const wrong = (ipa: IpaAddr) => {
      // @ts-expect-error a CPU reads virtual addresses, not physical ones
      cpu.read(t.pa, 1);
      // @ts-expect-error a one-to-one device reads physical addresses, not virtual ones
      dma.read(virtAddr(0x1000), 1);
      // @ts-expect-error a stage-2 table's input is an IPA
      stage2.map(virtAddr(0x1000), page, 4 * K, RW);
      // @ts-expect-error its output is physical
      stage2.map(ipa, ipa, 4 * K, RW);
      // @ts-expect-error physical memory is read at physical addresses
      platform.read(ipa, 1);
      // @ts-expect-error a page table's input is never a physical address by default
      s1.unmap(t.pa, 4 * K);
    };
    expect(typeof wrong).toBe("function"); // never called: it only has to type-check
  });
});
