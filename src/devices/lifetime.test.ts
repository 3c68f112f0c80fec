/**
 * Lifetimes: nothing is retained. Page tables are created, bound to an SMMU context bank,
 * loaded into CPUs (TTBR0) and a vCPU (stage 2), used, and destroyed, over and over; afterwards
 * no device refers to a destroyed table, no table keeps a registration, and every table page
 * went back to the store. Fault handlers are disposables that stop being called once disposed.
 */
import { describe, expect, it } from "vitest";

import type { Disposable } from "../base/lifetime.js";
import { IotlbGather } from "../mmu/flush.js";
import type { PageTable } from "../mmu/page-table.js";
import { rootOf } from "../mmu/regime.js";
import { Accelerator } from "./accelerator.js";
import type { FaultHandler } from "./bus-master.js";
import { Cpu } from "./cpu.js";
import {
  bytes,
  caught,
  DRAM,
  expectError,
  faultOf,
  K,
  machine,
  pattern,
  RO,
  RW,
  S1,
  S2,
  smmuMachine,
} from "./machine.testutil.js";
import { Smmu } from "./smmu.js";

const PAGE = 4 * K;
/** The split of cpu0: TTBR1 translates the top half of its 48-bit input range. */
const SPLIT = 2 ** 47;
/** The addresses every iteration uses again, so a stale translation would show. */
const IOVA = 0x1000_0000;
const CPU_VA = 0x40_0000;
const GUEST_VA = 0x1000;
const GUEST_IPA = 0x4000_0000;
const ITERATIONS = 12;
const DATA_PAGES = 4;

/**
 * cpu0 (TTBR1 = a kernel table that lives throughout, TTBR0 loaded per iteration), cpu1
 * (TTBR0 only), a vCPU whose guest stage 1 lives throughout and whose stage 2 is loaded per
 * iteration, an SMMU with one master on bank "gpu", and DATA_PAGES data pages of distinct bytes.
 */
function world() {
  const m = machine();
  const { platform, table, phys } = m;
  const data = phys(DATA_PAGES * PAGE);
  for (let i = 0; i < DATA_PAGES; i++) platform.write(data + i * PAGE, pattern(64, 16 * i + 1));
  const kernel = table(S1, "kernel");
  kernel.map(SPLIT + 0x1000, data, PAGE, RW);
  const cpu0 = new Cpu(platform, { name: "cpu0", ttbr1: kernel, split: SPLIT, asid: 1 });
  const cpu1 = new Cpu(platform, { name: "cpu1", asid: 1 });
  // The guest's stage 1 is in physical table memory (host-built); each stage 2 maps its tables
  // one to one, and the guest page GUEST_VA at IPA GUEST_IPA.
  const guest = table(S1, "guest");
  guest.map(GUEST_VA, GUEST_IPA, PAGE, RW);
  const vcpu = new Cpu(platform, { name: "vcpu0", ttbr0: guest, asid: 1, vmid: 3 });
  const smmu = new Smmu(platform, { name: "smmu0", contexts: ["gpu", "dsp"] });
  const bank = smmu.contextBank("gpu");
  const dev = smmu.attachMaster("dev", "gpu");
  return { ...m, data, kernel, cpu0, cpu1, guest, vcpu, smmu, bank, dev };
}

/** What must come back to its value once every table made in the loop is destroyed. */
function footprint(w: ReturnType<typeof world>) {
  return {
    pinned: w.platform.store.pinnedPages,
    materialized: w.platform.store.materializedPages,
    liveTables: w.tables.liveTables,
    freeTableMemory: w.platform.target("tables").stats().freeBytes,
  };
}

describe("nothing is retained", () => {
  it("tables bound, loaded, used and destroyed over and over leave no trace", () => {
    const w = world();
    const { platform, table, data, kernel, cpu0, cpu1, guest, vcpu, smmu, bank, dev } = w;
    const before = footprint(w);
    expect(before.liveTables).toBe(kernel.tablePages().length + guest.tablePages().length);
    const destroyed: PageTable[] = [];

    for (let i = 0; i < ITERATIONS; i++) {
      const page = data + (i % DATA_PAGES) * PAGE;
      const expected = pattern(64, 16 * (i % DATA_PAGES) + 1);

      const tS = table(S1, `iova-${i}`);
      tS.map(IOVA, page, PAGE, RW);
      const tC = table(S1, `proc-${i}`);
      tC.map(CPU_VA, page, PAGE, RW);
      const tV = table(S2, `vm-${i}`);
      for (const p of guest.tablePages()) tV.map(p.addr, p.addr, PAGE, RO);
      tV.map(GUEST_IPA, page, PAGE, RW);
      const mine = [tS, tC, tV];
      const seen: number[] = [];
      for (const t of mine) t.onChange(() => seen.push(i));

      bank.bind(tS);
      bank.activate();
      cpu0.setTtbr0(tC);
      cpu1.setTtbr0(tC);
      // A hypervisor reusing VMID 3 for a new stage 2 invalidates it first, as on the hardware.
      vcpu.tlbiVmid();
      vcpu.setStage2(tV, 3);

      // Twice: a miss, then a hit. Every iteration maps the same addresses to another page, so
      // a translation kept from an earlier iteration would read other bytes.
      for (let k = 0; k < 2; k++) {
        expect(dev.read(IOVA, 64)).toEqual(expected);
        expect(cpu0.read(CPU_VA, 64)).toEqual(expected);
        expect(cpu1.read(CPU_VA, 64)).toEqual(expected);
        expect(vcpu.read(GUEST_VA, 64)).toEqual(expected);
      }
      expect(dev.translate(IOVA)).toMatchObject({ ok: true, pa: page, hit: true });
      dev.write(IOVA + 64, bytes(i));
      expect(cpu1.read(CPU_VA + 64, 1)).toEqual(bytes(i));
      expect(tS.flushTargetCount).toBe(1); // the bank
      expect(tC.flushTargetCount).toBe(2); // cpu0 and cpu1
      expect(tV.flushTargetCount).toBe(1); // the vCPU
      expect(cpu0.trackedTables()).toEqual([kernel, tC]);
      expect(vcpu.trackedTables()).toEqual([guest, tV]);

      // A gather still pending when its table is destroyed is synced harmlessly afterwards.
      const gather = new IotlbGather();
      tC.map(CPU_VA + PAGE, page, PAGE, RO);
      expect(tC.unmapFast(CPU_VA + PAGE, PAGE, gather)).toBe(PAGE);
      expect(gather.empty).toBe(false);

      // Destroy in a different order each time.
      const order = [...mine.slice(i % 3), ...mine.slice(0, i % 3)];
      for (const t of order) t.destroy();
      gather.sync();
      destroyed.push(...mine);
      expect(seen).toEqual([i, i]); // the two changes made to tC after the listeners were added

      for (const t of mine) {
        expect(t.live).toBe(false);
        expect(t.flushTargetCount).toBe(0);
        expect(t.listenerCount).toBe(0);
      }
      // The TLBs kept nothing of the destroyed tables (flushAll before tableDestroyed).
      expect(smmu.tlb.stats().valid).toBe(0);
      expect(cpu1.tlb.stats().valid).toBe(0);
      expect(vcpu.tlb.stats().valid).toBe(0);
      expect(cpu0.tlb.entries().every((e) => e.va >= SPLIT)).toBe(true);

      // The bank let go of its domain and stopped: unbound, inactive, every access faults.
      expect(bank.bound).toBe(false);
      expect(bank.active).toBe(false);
      expect(bank.domain).toBeUndefined();
      expect(bank.pageTable).toBeUndefined();
      expect(bank.regime.ttbr0).toBeUndefined();
      expect(faultOf(() => dev.read(IOVA, 4))).toMatchObject({
        kind: "translation",
        stage: 1,
        level: 0,
        context: "smmu0/gpu",
      });
      expect(bank.translate(IOVA)).toMatchObject({ ok: false, fault: { kind: "translation" } });

      // cpu0 keeps its TTBR1: the empty TTBR0 half faults (a split regime does not bypass)...
      expect(cpu0.mmu.ttbr0).toBeUndefined();
      expect(cpu0.capabilities().regimes[0]!.tables).toEqual({ ttbr1: kernel });
      expect(faultOf(() => cpu0.read(CPU_VA, 4))).toMatchObject({
        kind: "translation",
        stage: 1,
        level: 0,
        context: "cpu0",
      });
      expect(cpu0.read(SPLIT + 0x1000, 4)).toEqual(pattern(4, 1));
      // ...while cpu1 has no table left: its MMU is off, addresses are physical.
      expect(cpu1.mmu.ttbr0).toBeUndefined();
      expect(cpu1.mmu.hasStage1).toBe(false);
      expect(cpu1.capabilities().regimes[0]!.tables).toEqual({});
      expect(cpu1.translate(CPU_VA)).toMatchObject({ ok: true, pa: CPU_VA });
      expect(cpu1.read(page, 64)).toEqual(expected); // physical
      // The vCPU lost its stage 2 only: its stage 1 outputs IPAs that are now physical.
      expect(vcpu.mmu.stage2).toBeUndefined();
      expect(vcpu.mmu.ttbr0?.root).toBe(guest.root);
      expect(vcpu.capabilities().regimes[0]!.tables).toEqual({ ttbr0: guest });
      expect(vcpu.translate(GUEST_VA)).toMatchObject({ ok: true, pa: GUEST_IPA });

      // Only live tables are tracked, and the live tables still have exactly their devices.
      expect(cpu0.trackedTables()).toEqual([kernel]);
      expect(cpu1.trackedTables()).toEqual([]);
      expect(vcpu.trackedTables()).toEqual([guest]);
      expect(kernel.flushTargetCount).toBe(1);
      expect(guest.flushTargetCount).toBe(1);
      // Every page of the destroyed tables went back: to the target and to the store.
      expect(footprint(w)).toEqual(before);
    }

    for (const c of [cpu0, cpu1, vcpu])
      for (const t of destroyed) expect(c.trackedTables()).not.toContain(t);
    expect(destroyed.every((t) => t.flushTargetCount === 0 && t.listenerCount === 0)).toBe(true);
    expect(footprint(w)).toEqual(before);
    // The platform's devices are the ones made at the start: nothing was added on the way.
    expect(platform.devices().map((d) => d.name)).toEqual([
      "cpu0",
      "cpu1",
      "vcpu0",
      "smmu0",
      "dev",
    ]);
    // The store's views were released: reading a freed table page gives zeros.
    const t = table(S1);
    const root = t.root;
    t.destroy();
    expect(platform.read(root, 8)).toEqual(new Uint8Array(8));
  });

  it("a nested bank and a shared stage 2: destroying either table frees the other's registration", () => {
    const { smmu, table, phys, tables, platform } = smmuMachine();
    const baseline = { live: tables.liveTables, pinned: platform.store.pinnedPages };
    const ram = phys(PAGE);
    const bank = smmu.contextBank("gpu");
    const dsp = smmu.contextBank("dsp");
    const dev = smmu.attachMaster("dev", "gpu");
    for (let i = 0; i < 6; i++) {
      const s1 = table(S1, `s1-${i}`);
      const s2 = table(S2, `s2-${i}`);
      s1.map(0x10_0000, 0x4000_0000, PAGE, RW);
      for (const p of s1.tablePages()) s2.map(p.addr, p.addr, PAGE, RO);
      s2.map(0x4000_0000, ram, PAGE, RW);
      bank.bind(s1, { stage2: s2 });
      bank.activate();
      dsp.bind(s2); // the same stage 2 alone, in another VMID
      dsp.activate();
      expect(dev.read(0x10_0000, 4)).toEqual(new Uint8Array(4));
      expect([s1.flushTargetCount, s2.flushTargetCount]).toEqual([1, 2]);
      // Even iterations destroy the stage 1 first, odd ones the stage 2 (which both banks use).
      if (i % 2 === 0) {
        s1.destroy();
        expect(bank.bound).toBe(false);
        expect(dsp.bound).toBe(true);
        expect(s2.flushTargetCount).toBe(1); // the nested bank's registration went with it
        dsp.deactivate();
        dsp.unbind();
        expect(s2.flushTargetCount).toBe(0);
        s2.destroy();
      } else {
        s2.destroy();
        expect([bank.bound, bank.active, dsp.bound, dsp.active]).toEqual([
          false,
          false,
          false,
          false,
        ]);
        expect(s1.flushTargetCount).toBe(0);
        s1.destroy();
      }
      expect(faultOf(() => dev.read(0x10_0000, 4)).kind).toBe("translation");
      expect(smmu.tlb.stats().valid).toBe(0);
    }
    expect(tables.liveTables).toBe(baseline.live);
    expect(platform.store.pinnedPages).toBe(baseline.pinned);
  });

  it("an accelerator sharing a CPU's table lets go of it when it is destroyed", () => {
    const { platform, table, phys } = machine();
    const proc = table(S1, "process");
    const pa = phys(PAGE);
    proc.map(0x40_0000, pa, PAGE, RW);
    const cpu = new Cpu(platform, { name: "cpu0", ttbr0: proc, asid: 5 });
    const npu = new Accelerator(platform, { name: "npu0" });
    npu.shareTableWith(proc, 5);
    npu.read(0x40_0000, 1);
    cpu.read(0x40_0000, 1);
    expect(proc.flushTargetCount).toBe(2);
    proc.destroy();
    expect(proc.flushTargetCount).toBe(0);
    expect(npu.trackedTables()).toEqual([]);
    expect(cpu.trackedTables()).toEqual([]);
    expect(npu.mmu.ttbr0).toBeUndefined();
    expect(npu.capabilities().regimes[0]!.tables).toEqual({});
    expect(npu.tlb.stats().valid).toBe(0);
  });

  it("a bypass translation is not cached: it cannot outlive the bypass", () => {
    // A CPU whose only table was destroyed runs with its MMU off (VA = PA). What it translates
    // then must not stay in its TLB: an identity entry would be used by the next table it loads,
    // under any ASID (with every permission, it would even be global).
    const { platform, table, phys } = machine();
    const pa = phys(PAGE);
    platform.write(pa, bytes(0x5a));
    const first = table(S1);
    const cpu = new Cpu(platform, { name: "cpu0", ttbr0: first, asid: 1 });
    first.destroy();
    expect(cpu.read(DRAM, 1)).toEqual(platform.read(DRAM, 1)); // bypass: physical
    expect(cpu.translate(pa)).toMatchObject({ ok: true, pa });
    expect(cpu.tlb.stats().valid).toBe(0);
    // The next table maps those very addresses elsewhere; an ASID of its own, as a kernel would.
    const next = table(S1);
    next.map(DRAM, pa, PAGE, RW);
    cpu.setAsid(2);
    cpu.setTtbr0(next);
    expect(cpu.read(DRAM, 1)).toEqual(bytes(0x5a));
    expect(faultOf(() => cpu.read(pa, 1)).kind).toBe("translation");
    // Same for an accelerator whose MMU was left without a table.
    const npu = new Accelerator(platform, { name: "npu0" });
    expect(npu.read(pa, 1)).toEqual(bytes(0x5a));
    npu.setTable(next, 9);
    expect(faultOf(() => npu.read(pa, 1)).kind).toBe("translation");
  });

  describe("a destroyed table cannot be loaded or bound, and a refusal changes nothing", () => {
    it("CPU and accelerator slots", () => {
      const { platform, table } = machine();
      const live = table(S1, "live");
      const dead = table(S1, "dead");
      const deadS2 = table(S2, "dead-s2");
      dead.destroy();
      deadS2.destroy();
      // A construction that fails registers nothing on the live table, nor the device.
      expectError(
        () => new Cpu(platform, { name: "c", ttbr0: live, stage2: deadS2 }),
        "ENODEV",
        "dead-s2",
      );
      expectError(() => new Cpu(platform, { name: "c", ttbr0: dead }), "ENODEV");
      expect(live.flushTargetCount).toBe(0);
      expect(platform.devices()).toEqual([]);
      const cpu = new Cpu(platform, { name: "cpu0", ttbr0: live });
      expect(live.flushTargetCount).toBe(1);
      expectError(() => cpu.setTtbr0(dead), "ENODEV", "dead");
      expectError(() => cpu.setTtbr1(dead, SPLIT), "ENODEV");
      expectError(() => cpu.setStage2(deadS2), "ENODEV");
      expect(cpu.mmu.ttbr0?.root).toBe(live.root);
      expect(cpu.mmu.ttbr1).toBeUndefined();
      expect(cpu.mmu.split).toBeUndefined();
      expect(cpu.mmu.stage2).toBeUndefined();
      expect(cpu.trackedTables()).toEqual([live]);
      expect(cpu.capabilities().regimes[0]!.tables).toEqual({ ttbr0: live });
      const npu = new Accelerator(platform, { name: "npu0", ttbr0: live, asid: 4 });
      expectError(() => npu.shareTableWith(dead, 5), "ENODEV");
      expectError(() => npu.setTable(dead), "ENODEV");
      expect([npu.mmu.ttbr0?.root, npu.asid]).toEqual([live.root, 4]);
      // A bare root is not tracked, so nothing checks whether its tables are still there.
      const gone = table(S1);
      const bare = rootOf(gone);
      gone.destroy();
      expect(() => cpu.setTtbr1(bare, SPLIT)).not.toThrow();
    });

    it("SMMU banks: the earlier binding stays, the live tables get no registration", () => {
      const { smmu, table, phys } = smmuMachine();
      const a = table(S1, "a");
      const b = table(S1, "b");
      const s2 = table(S2, "s2");
      const pa = phys(PAGE);
      a.map(0x1000, pa, PAGE, RW);
      const bank = smmu.contextBank("gpu");
      const domain = bank.bind(a);
      s2.destroy();
      expectError(() => bank.bind(b, { stage2: s2 }), "ENODEV", "s2");
      expect(bank.domain).toBe(domain);
      expect(domain.bank).toBe(bank);
      expect(b.flushTargetCount).toBe(0);
      expect(a.flushTargetCount).toBe(1);
      bank.activate();
      const dev = smmu.attachMaster("dev", "gpu");
      expect(dev.translate(0x1000)).toMatchObject({ ok: true, pa });
      // A domain whose table was destroyed (it unbound its bank) cannot be bound again.
      bank.deactivate();
      a.destroy();
      expect(bank.bound).toBe(false);
      expect(domain.bank).toBeUndefined();
      const dsp = smmu.contextBank("dsp");
      dsp.bind(b);
      expectError(() => dsp.bindDomain(domain), "ENODEV", '"a"');
      expect(dsp.pageTable).toBe(b);
      expect(b.flushTargetCount).toBe(1);
    });
  });
});

describe("fault handlers are disposables", () => {
  it("a disposed handler is not called again; dispose is idempotent", () => {
    const { cpu, pt, phys } = (() => {
      const m = machine();
      const pt = m.table(S1);
      return { ...m, pt, cpu: new Cpu(m.platform, { name: "cpu0", ttbr0: pt }) };
    })();
    const calls: string[] = [];
    const h: FaultHandler = () => (calls.push("h"), "terminate");
    const first = cpu.addFaultHandler(h);
    const second = cpu.addFaultHandler(h); // the same function, registered twice
    expect(caught(() => cpu.read(0x1000, 1)).code).toBe("EFAULT");
    expect(calls).toEqual(["h", "h"]);
    first.dispose();
    first.dispose(); // again: must not remove the second registration
    calls.length = 0;
    caught(() => cpu.read(0x1000, 1));
    expect(calls).toEqual(["h"]);
    second.dispose();
    calls.length = 0;
    caught(() => cpu.read(0x1000, 1));
    expect(calls).toEqual([]);
    // A handler that maps and retries works until disposed.
    const page = phys(PAGE);
    const mapper = cpu.addFaultHandler((f) => {
      calls.push("map");
      pt.map(Math.floor(f.va / PAGE) * PAGE, page, PAGE, RW);
      return "retry";
    });
    cpu.write(0x2000, bytes(1));
    expect(calls).toEqual(["map"]);
    mapper.dispose();
    expect(faultOf(() => cpu.read(0x3000, 1)).va).toBe(0x3000);
    expect(calls).toEqual(["map"]);
  });

  it("handlers added and disposed in a loop do not pile up", () => {
    const { smmu, table, phys } = smmuMachine();
    const t = table(S1);
    const bank = smmu.contextBank("gpu");
    bank.bind(t);
    bank.activate();
    const dev = smmu.attachMaster("dev", "gpu");
    const page = phys(PAGE);
    const calls: number[] = [];
    const handles: Disposable[] = [];
    for (let i = 0; i < 10; i++) {
      const va = 0x10_0000 + i * PAGE;
      const d = dev.addFaultHandler((f) => {
        calls.push(i);
        t.map(Math.floor(f.va / PAGE) * PAGE, page, PAGE, RW);
        return "retry";
      });
      dev.read(va, 1);
      d.dispose();
      handles.push(d);
      // Disposed: the next fault reaches no handler and terminates the access.
      expect(faultOf(() => dev.read(va + 0x100_0000, 1)).kind).toBe("translation");
    }
    expect(calls).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const d of handles) d.dispose();
    const failures = dev.stats.failures;
    caught(() => dev.read(0x80_0000, 1));
    expect(calls).toHaveLength(10);
    expect(dev.stats.failures).toBe(failures + 1);
    // The bank's hook is taken back by setting undefined.
    let bankCalls = 0;
    bank.setFaultHandler(() => (bankCalls++, "terminate"));
    caught(() => dev.read(0x80_0000, 1));
    bank.setFaultHandler(undefined);
    caught(() => dev.read(0x80_0000, 1));
    expect(bankCalls).toBe(1);
  });
});
