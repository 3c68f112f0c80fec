import { describe, expect, it } from "vitest";

import { hex } from "../base/address.js";
import { fail } from "../base/errors.js";
import type { ByteStore } from "../phys/byte-store.js";
import type { MemoryTarget, PhysAllocation } from "../phys/target.js";
import { PageTable } from "../mmu/page-table.js";
import { PROT } from "../mmu/prot.js";
import type { TableMemory } from "../mmu/table-memory.js";
import { formatTlb, Tlb } from "../mmu/tlb.js";
import { Cpu } from "./cpu.js";
import {
  bytes,
  caught,
  DRAM,
  expectError,
  faultOf,
  K,
  M,
  machine,
  pattern,
  RO,
  RW,
  S1,
  S2,
} from "./machine.testutil.js";

describe("Cpu", () => {
  it("has a Cortex-A53-sized TLB by default, or the geometry it is given", () => {
    const { platform } = machine();
    const cpu = new Cpu(platform, { name: "cpu0" });
    expect([cpu.tlb.sets, cpu.tlb.ways, cpu.tlb.capacity, cpu.tlb.replacement]).toEqual([
      128,
      4,
      512,
      "lru",
    ]);
    const small = new Cpu(platform, {
      name: "cpu1",
      tlb: { sets: 8, ways: 2, replacement: "fifo" },
    });
    expect([small.tlb.capacity, small.tlb.replacement]).toEqual([16, "fifo"]);
    const shared = new Tlb({ sets: 4, ways: 4, replacement: "lru" });
    expect(new Cpu(platform, { name: "cpu2", tlb: shared }).tlb).toBe(shared);
  });

  it("registers itself under a unique name; a clash changes nothing", () => {
    const { platform } = machine();
    const cpu = new Cpu(platform, { name: "cpu0" });
    expect(platform.device("cpu0")).toBe(cpu);
    expect(platform.device("cpu0", Cpu)).toBe(cpu);
    expectError(() => new Cpu(platform, { name: "cpu0" }), "EEXIST", "cpu0");
    expectError(() => new Cpu(platform, { name: "" }), "EINVAL");
    expectError(() => new Cpu(platform, { name: "cpu9", asid: 70000 }), "EINVAL", "asid");
    expect(platform.devices()).toEqual([cpu]);
  });

  it("refuses a table of the wrong stage", () => {
    const { platform, table } = machine();
    expectError(() => new Cpu(platform, { name: "c", ttbr0: table(S2) }), "EINVAL", "stage-1");
    const cpu = new Cpu(platform, { name: "cpu0" });
    expectError(() => cpu.setStage2(table(S1)), "EINVAL", "stage-2");
    expectError(() => cpu.setTtbr1(table(S1)), "EINVAL", "split");
  });

  it("accesses are privileged unless privileged: false", () => {
    const { platform, table, phys } = machine();
    const pt = table();
    pt.map(0x1000, phys(4 * K), 4 * K, RW | PROT.PRIV);
    const cpu = new Cpu(platform, { name: "cpu0", ttbr0: pt });
    cpu.write(0x1000, bytes(1));
    expect(cpu.read(0x1000, 1, { privileged: true })).toEqual(bytes(1));
    expectError(() => cpu.read(0x1000, 1, { privileged: false }), "EFAULT", "permission");
  });

  it("splits the input range between TTBR0 and TTBR1", () => {
    const { platform, table, phys } = machine();
    const user = table(S1, "user");
    const kernel = table(S1, "kernel");
    const u = phys(4 * K);
    const k = phys(4 * K);
    const split = 2 ** 47;
    user.map(0x1000, u, 4 * K, RW);
    kernel.map(split + 0x1000, k, 4 * K, RW | PROT.PRIV);
    const cpu = new Cpu(platform, { name: "cpu0", ttbr0: user });
    expect(caught(() => cpu.read(split + 0x1000, 1)).code).toBe("EFAULT");
    cpu.setTtbr1(kernel, split);
    cpu.write(0x1000, bytes(1));
    cpu.write(split + 0x1000, bytes(2));
    expect(platform.read(u, 1)).toEqual(bytes(1));
    expect(platform.read(k, 1)).toEqual(bytes(2));
    // Without TTBR0, the lower half faults (it does not bypass translation).
    cpu.setTtbr0(undefined);
    expect(faultOf(() => cpu.read(u, 1))).toMatchObject({
      kind: "translation",
      level: 0,
    });
    cpu.setTtbr0(user);
    cpu.setTtbr1(undefined);
    expect(caught(() => cpu.read(split + 0x2000, 1)).code).toBe("EFAULT");
    // No table at all: the MMU is off, addresses are physical.
    cpu.setTtbr0(undefined);
    expect(cpu.read(u, 1)).toEqual(bytes(1));
  });

  describe("ASIDs and TLB maintenance", () => {
    function twoProcesses() {
      const m = machine();
      const a = m.table(S1, "proc-a");
      const b = m.table(S1, "proc-b");
      const pa = m.phys(4 * K);
      const pb = m.phys(4 * K);
      m.platform.write(pa, bytes(0xaa));
      m.platform.write(pb, bytes(0xbb));
      a.map(0x1000, pa, 4 * K, RW);
      b.map(0x1000, pb, 4 * K, RW);
      const cpu = new Cpu(m.platform, { name: "cpu0", ttbr0: a, asid: 1 });
      return { ...m, a, b, pa, pb, cpu };
    }

    it("a context switch needs no flush: entries are tagged by ASID", () => {
      const { a, b, cpu } = twoProcesses();
      expect(cpu.read(0x1000, 1)).toEqual(bytes(0xaa));
      cpu.setTtbr0(b);
      cpu.setAsid(2);
      expect(cpu.read(0x1000, 1)).toEqual(bytes(0xbb));
      expect(
        cpu.tlb
          .entries()
          .map((e) => e.asid)
          .sort(),
      ).toEqual([1, 2]);
      cpu.setTtbr0(a);
      cpu.setAsid(1);
      const hits = cpu.stats.tlbHits;
      expect(cpu.read(0x1000, 1)).toEqual(bytes(0xaa));
      expect(cpu.stats.tlbHits).toBe(hits + 1);
    });

    it("reusing an ASID for another table without TLBI sees the old entry, as hardware does", () => {
      const { b, cpu } = twoProcesses();
      expect(cpu.read(0x1000, 1)).toEqual(bytes(0xaa));
      cpu.setTtbr0(b); // same ASID 1
      expect(cpu.read(0x1000, 1)).toEqual(bytes(0xaa)); // stale, by the architecture's rules
      cpu.tlbiAsid();
      expect(cpu.read(0x1000, 1)).toEqual(bytes(0xbb));
    });

    it("a table changed while another ASID runs is still invalidated under its own ASID", () => {
      const { a, b, cpu } = twoProcesses();
      cpu.read(0x1000, 1);
      cpu.setTtbr0(b);
      cpu.setAsid(2);
      a.unmap(0x1000, 4 * K);
      cpu.setTtbr0(a);
      cpu.setAsid(1);
      const f = faultOf(() => cpu.read(0x1000, 1));
      expect(f.kind).toBe("translation");
    });

    it("tlbi helpers: all, by ASID, by range, by VMID", () => {
      const { cpu, a, phys } = twoProcesses();
      a.map(0x2000, phys(4 * K), 4 * K, RW);
      a.map(0x3000, phys(4 * K), 4 * K, RW | PROT.GLOBAL);
      cpu.read(0x1000, 1);
      cpu.read(0x2000, 1);
      cpu.read(0x3000, 1);
      expect(cpu.tlb.stats().valid).toBe(3);
      cpu.tlbiRange(0x2000, 4 * K);
      expect(cpu.tlb.stats().valid).toBe(2);
      cpu.tlbiAsid(1); // the global entry stays
      expect(cpu.tlb.entries().map((e) => e.va)).toEqual([0x3000]);
      cpu.read(0x1000, 1);
      cpu.tlbiRange(0, 16 * K, "any");
      expect(cpu.tlb.stats().valid).toBe(0);
      cpu.read(0x1000, 1);
      cpu.tlbiVmid(5);
      expect(cpu.tlb.stats().valid).toBe(1);
      cpu.tlbiVmid();
      expect(cpu.tlb.stats().valid).toBe(0);
      cpu.read(0x1000, 1);
      cpu.tlbiAll();
      expect(cpu.tlb.stats().valid).toBe(0);
    });

    it("stays coherent with unmap and protect: no stale entry is ever used", () => {
      const { a, cpu, platform, phys } = twoProcesses();
      const big = phys(2 * M);
      a.map(0x20_0000, big, 2 * M, RW);
      cpu.write(0x20_0000, bytes(1));
      cpu.write(0x1000, bytes(1));
      a.protect(0x20_0000, 2 * M, RO);
      expect(faultOf(() => cpu.write(0x20_0000, bytes(2))).kind).toBe("permission");
      // Unmapping part of the block splits it; the rest still reads, the part faults.
      a.unmap(0x20_1000, 4 * K);
      expect(cpu.read(0x20_0000, 1)).toEqual(bytes(1));
      expect(faultOf(() => cpu.read(0x20_1000, 1)).kind).toBe("translation");
      a.unmap(0x1000, 4 * K);
      expect(caught(() => cpu.read(0x1000, 1)).code).toBe("EFAULT");
      expect(platform.read(big, 1)).toEqual(bytes(1));
    });

    it("dumps its TLB with formatTlb", () => {
      const { cpu } = twoProcesses();
      cpu.read(0x1000, 1);
      const text = formatTlb(cpu.tlb);
      expect(text).toContain('TLB "cpu0 tlb": 128 sets x 4 ways');
      expect(text).toContain("asid 1 vmid 0");
    });
  });
});

/**
 * A guest's page-table memory: tables are addressed by IPA; each table page is host memory
 * mapped into the guest by stage 2 (the hypervisor backs guest RAM).
 */
class GuestTableMemory implements TableMemory {
  private nextIpa: number;
  private readonly backing = new Map<number, PhysAllocation>();

  constructor(
    private readonly store: ByteStore,
    private readonly target: MemoryTarget,
    private readonly s2: PageTable,
    ipaBase: number,
  ) {
    this.nextIpa = ipaBase;
  }

  allocTable(bytes: number): number {
    const size = Math.max(bytes, 4096);
    const ipa = Math.ceil(this.nextIpa / size) * size;
    const a = this.target.alloc(size, { align: size });
    this.s2.map(ipa, a.chunks[0]!.pa, size, RW);
    this.store.fill(a.chunks[0]!.pa, size, 0);
    this.backing.set(ipa, a);
    this.nextIpa = ipa + size;
    return ipa;
  }

  freeTable(ipa: number): void {
    const a = this.backing.get(ipa) ?? fail("EINVAL", `no guest table at ${hex(ipa)}`);
    this.s2.unmap(ipa, a.chunks[0]!.size);
    this.target.free(a);
    this.backing.delete(ipa);
  }

  words(ipaPage: number): Uint32Array {
    const t =
      this.s2.translate(ipaPage) ??
      fail("EFAULT", `guest table page ${hex(ipaPage)} is not mapped`);
    return this.store.pageWords(t.pa);
  }

  get viewEpoch(): number {
    return this.store.viewEpoch;
  }

  isTable(ipa: number): boolean {
    return this.backing.has(ipa);
  }

  get liveTables(): number {
    return this.backing.size;
  }
}

describe("a vCPU: stage 1 in guest IPA space, nested in stage 2", () => {
  const GUEST_TABLES = 0x1000_0000;
  const GUEST_RAM = 0x4000_0000;

  function vm() {
    const m = machine();
    const s2 = m.table(S2, "vm1-s2");
    const guestMem = new GuestTableMemory(
      m.platform.store,
      m.platform.target("data"),
      s2,
      GUEST_TABLES,
    );
    const guest = new PageTable(S1, guestMem, { name: "guest" });
    const ram = m.phys(4 * M, 2 * M);
    s2.map(GUEST_RAM, ram, 4 * M, RW);
    const vcpu = new Cpu(m.platform, { name: "vcpu0", ttbr0: guest, asid: 1, stage2: s2, vmid: 3 });
    return { ...m, s2, guest, guestMem, ram, vcpu };
  }

  it("reads through both stages the bytes the host wrote", () => {
    const { platform, guest, ram, vcpu } = vm();
    guest.map(0x1000, GUEST_RAM + 0x5000, 4 * K, RW);
    platform.write(ram + 0x5000, pattern(16));
    expect(vcpu.read(0x1000, 16)).toEqual(pattern(16));
    // A 4-level stage 1 whose 4 table reads each take a 3-level stage-2 walk (tables are 4K
    // pages in stage 2), then stage 2 of the output, a 2M block (2 levels): 4 * 3 + 4 + 2.
    expect(vcpu.mmu.stats.descriptorReads).toBe(18);
    expect(vcpu.tlb.entries()).toEqual([
      expect.objectContaining({ va: 0x1000, pa: ram + 0x5000, asid: 1, vmid: 3, size: 4 * K }),
    ]);
  });

  it("a stage-2 fault on a stage-1 table walk reports onTableWalk and the IPA", () => {
    const { s2, guest, vcpu } = vm();
    guest.map(0x1000, GUEST_RAM, 4 * K, RW);
    const last = guest.tablePages().at(-1)!; // the level-3 table, an IPA
    expect(last.level).toBe(3);
    s2.unmap(last.addr, 4 * K);
    const f = faultOf(() => vcpu.read(0x1000, 4));
    expect(f).toMatchObject({ kind: "translation", stage: 2, onTableWalk: true, va: 0x1000 });
    expect(Math.floor(f.ipa! / 4096) * 4096).toBe(last.addr);
    expect(caught(() => vcpu.read(0x1000, 4)).message).toContain("on a stage-1 table walk");
  });

  it("a stage-2 fault on the output reports the data IPA; the hypervisor's handler maps it", () => {
    const { s2, guest, vcpu, phys, platform } = vm();
    const IPA = 0x5000_0000;
    guest.map(0x2000, IPA, 4 * K, RW);
    const f = faultOf(() => vcpu.read(0x2010, 4));
    expect(f).toMatchObject({
      kind: "translation",
      stage: 2,
      onTableWalk: false,
      ipa: IPA + 0x10,
      va: 0x2010,
    });
    const page = phys(4 * K);
    vcpu.addFaultHandler((fault) => {
      if (fault.stage !== 2) return "terminate";
      s2.map(Math.floor(fault.ipa! / 4096) * 4096, page, 4 * K, RW);
      return "retry";
    });
    vcpu.write(0x2010, bytes(5, 6));
    expect(platform.read(page + 0x10, 2)).toEqual(bytes(5, 6));
  });

  it("stage-2 permission faults, and stage-1 ones first", () => {
    const { s2, guest, vcpu, phys } = vm();
    const IPA = 0x6000_0000;
    s2.map(IPA, phys(4 * K), 4 * K, RO);
    guest.map(0x3000, IPA, 4 * K, RW);
    guest.map(0x4000, IPA, 4 * K, RO);
    expect(vcpu.read(0x3000, 1)).toHaveLength(1);
    const f = faultOf(() => vcpu.write(0x3000, bytes(1)));
    expect(f).toMatchObject({ kind: "permission", stage: 2, ipa: IPA, level: 3 });
    const g = faultOf(() => vcpu.write(0x4000, bytes(1)));
    expect(g).toMatchObject({ kind: "permission", stage: 1 });
  });

  it("stays coherent when the hypervisor changes stage 2", () => {
    const { s2, guest, vcpu, ram, platform, phys } = vm();
    guest.map(0x1000, GUEST_RAM, 4 * K, RW);
    vcpu.write(0x1000, bytes(1));
    expect(vcpu.tlb.stats().valid).toBe(1);
    // The hypervisor moves the guest page elsewhere (a stage-2 migration).
    const other = phys(4 * K);
    platform.copy(other, ram, 4 * K);
    s2.unmap(GUEST_RAM, 4 * K);
    expect(vcpu.tlb.stats().valid).toBe(0);
    expect(faultOf(() => vcpu.read(0x1000, 1)).stage).toBe(2);
    s2.map(GUEST_RAM, other, 4 * K, RW);
    expect(vcpu.read(0x1000, 1)).toEqual(bytes(1));
    vcpu.write(0x1000, bytes(2));
    expect(platform.read(other, 1)).toEqual(bytes(2));
    expect(platform.read(ram, 1)).toEqual(bytes(1));
    expect(DRAM).toBeLessThan(other);
  });
});
