import { describe, expect, it } from "vitest";

import type { Fault } from "../mmu/regime.js";
import { rootOf } from "../mmu/regime.js";
import { PROT } from "../mmu/prot.js";
import { Cpu } from "./cpu.js";
import {
  attachBound,
  bytes,
  caught,
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
  smmuMachine,
  V7S,
} from "./machine.testutil.js";
import { Smmu, SmmuMaster } from "./smmu.js";

describe("Smmu", () => {
  it("has named contexts sharing one TLB of 64 sets x 4 ways", () => {
    const { smmu, platform } = smmuMachine(3);
    expect(smmu.contextBanks().map((c) => [c.name, c.index, c.asid, c.vmid])).toEqual([
      ["cb0", 0, 0, 0],
      ["cb1", 1, 1, 0],
      ["cb2", 2, 2, 0],
    ]);
    expect([smmu.tlb.sets, smmu.tlb.ways, smmu.tlb.capacity]).toEqual([64, 4, 256]);
    for (const c of smmu.contextBanks()) expect(c.regime.tlb).toBe(smmu.tlb);
    expect(platform.device("smmu0")).toBe(smmu);
    expectError(() => smmu.contextBank("cb9"), "ENOENT", "cb9");
  });

  it("validates its description and changes nothing on failure", () => {
    const { platform } = machine();
    expectError(() => new Smmu(platform, { name: "s", contexts: [] }), "EINVAL");
    expectError(() => new Smmu(platform, { name: "s", contexts: 0 }), "EINVAL");
    expectError(() => new Smmu(platform, { name: "s", contexts: ["a", "a"] }), "EEXIST", '"a"');
    expectError(() => new Smmu(platform, { name: "s", contexts: 1, tlb: { sets: 3 } }), "EINVAL");
    expect(platform.devices()).toEqual([]);
  });

  it("the issue's example: a CPU and an SMMU-fronted device read the same bytes through different tables", () => {
    const { platform, smmu, table, phys } = smmuMachine();
    const buffer = phys(64 * K);
    const cpuTable = table(S1, "kernel");
    cpuTable.map(0xffff_0000_0000, buffer, 64 * K, RW);
    const cpu = new Cpu(platform, { name: "cpu0", ttbr0: cpuTable });
    const gpuTable = table(V7S, "gpu-iova");
    gpuTable.map(0x1000_0000, buffer, 64 * K, RW);
    const ctx = smmu.contextBank("gpu");
    ctx.bind(gpuTable);
    ctx.activate();
    const gpu = smmu.attachMaster("gpu0", "gpu");
    expect(gpu).toBeInstanceOf(SmmuMaster);
    expect(platform.device("gpu0")).toBe(gpu);

    cpu.write(0xffff_0000_0100, pattern(32));
    expect(gpu.read(0x1000_0100, 32)).toEqual(pattern(32));
    gpu.write(0x1000_8000, bytes(0xde, 0xad));
    expect(cpu.read(0xffff_0000_8000, 2)).toEqual(bytes(0xde, 0xad));
    expect(ctx.translate(0x1000_8001)).toMatchObject({
      ok: true,
      pa: buffer + 0x8001,
      size: 64 * K,
    });
  });

  it("page-crossing device accesses through v7s 64K large pages and 1M sections", () => {
    const { platform, smmu, table, phys } = smmuMachine();
    const t = table(V7S);
    const a = phys(64 * K);
    phys(64 * K);
    const b = phys(64 * K);
    t.map(0x10_0000, a, 64 * K, RW);
    t.map(0x11_0000, b, 64 * K, RW);
    const s1 = phys(1 * M);
    phys(1 * M);
    const s2 = phys(1 * M);
    t.map(0x100_0000, s1, 1 * M, RW);
    t.map(0x110_0000, s2, 1 * M, RW);
    const dev = attachBound(smmu, t);
    const rec = platform.bus.record();
    dev.write(0x10_fff8, pattern(16));
    dev.write(0x10f_fff0, pattern(32, 100));
    rec.stop();
    expect(platform.read(a + 64 * K - 8, 8)).toEqual(pattern(8));
    expect(platform.read(b, 8)).toEqual(pattern(8, 9));
    expect(platform.read(s1 + M - 16, 16)).toEqual(pattern(16, 100));
    expect(platform.read(s2, 16)).toEqual(pattern(16, 116));
    const chunks = rec.events.filter((e) => e.type === "device.access").map((e) => e.chunks);
    expect(chunks).toEqual([2, 2]);
    expect(dev.read(0x10_fff8, 16)).toEqual(pattern(16));
    expect(smmu.tlb.sizeHistogram()).toEqual([
      { size: 64 * K, count: 2 },
      { size: 1 * M, count: 2 },
    ]);
  });

  it("device accesses are unprivileged by default", () => {
    const { smmu, table, phys } = smmuMachine();
    const t = table(S1);
    t.map(0x1000, phys(4 * K), 4 * K, RW | PROT.PRIV);
    const dev = attachBound(smmu, t);
    const f = faultOf(() => dev.read(0x1000, 4));
    expect(f).toMatchObject({
      kind: "permission",
      stage: 1,
      access: { kind: "read", privileged: false },
    });
    expect(f.context).toBe("smmu0/gpu");
    expect(dev.read(0x1000, 4, { privileged: true })).toHaveLength(4);
  });

  describe("contexts", () => {
    it("an inactive or unbound context faults every access with a translation fault", () => {
      const { smmu, table, phys } = smmuMachine();
      const t = table(V7S);
      t.map(0x1000, phys(4 * K), 4 * K, RW);
      const ctx = smmu.contextBank("gpu");
      const dev = smmu.attachMaster("dev", "gpu");
      const unbound = faultOf(() => dev.read(0x1000, 4));
      expect(unbound).toMatchObject({
        kind: "translation",
        stage: 1,
        level: 0,
        context: "smmu0/gpu",
      });
      ctx.activate();
      expect(caught(() => dev.read(0x1000, 4)).code).toBe("EFAULT"); // active but unbound
      expectError(() => ctx.bind(t), "EBUSY", "active");
      ctx.deactivate();
      ctx.bind(t);
      expect(caught(() => dev.read(0x1000, 4)).code).toBe("EFAULT"); // bound but inactive
      ctx.activate();
      expect(dev.read(0x1000, 4)).toHaveLength(4);
      expect(smmu.tlb.stats().valid).toBe(1);
      ctx.deactivate();
      // The entry is still in the TLB, but a disabled context does not look it up.
      expect(smmu.tlb.stats().valid).toBe(1);
      expect(faultOf(() => dev.read(0x1000, 4)).kind).toBe("translation");
      expect(ctx.translate(0x1000)).toMatchObject({ ok: false, fault: { kind: "translation" } });
    });

    it("activate and deactivate follow vcm_activate / vcm_deactivate codes", () => {
      const { smmu } = smmuMachine();
      const ctx = smmu.contextBank("dsp");
      expectError(() => ctx.deactivate(), "ENOENT", "not active");
      ctx.activate();
      expect(ctx.active).toBe(true);
      expectError(() => ctx.activate(), "EBUSY", "already active");
      expectError(() => ctx.unbind(), "EBUSY");
    });

    it("bind checks the stages and the tags, and changes nothing on failure", () => {
      const { smmu, table } = smmuMachine(["a", "b", "c"]);
      const s1 = table(S1);
      const s2 = table(S2);
      const a = smmu.contextBank("a");
      const b = smmu.contextBank("b");
      expectError(() => a.bind(s1, { stage2: table(S1) }), "EINVAL", "stage-2");
      expectError(() => a.bind(s2, { stage2: s2 }), "EINVAL");
      expectError(() => a.bind(s1, { split: 0x1000 }), "EINVAL", "ttbr1");
      expectError(() => a.bind(s1, { ttbr1: table(S1) }), "EINVAL", "split");
      expectError(() => a.bind(s1, { asid: -1 }), "EINVAL", "asid");
      a.bind(s1, { asid: 7 });
      expectError(() => b.bind(s1, { asid: 7 }), "EBUSY", 'context "a"', "asid 7");
      expect(b.bound).toBe(false);
      b.bind(s1); // asid 1: two devices sharing one IOVA space
      expect([b.asid, b.vmid]).toEqual([1, 0]);
      // A stage-2-only context needs a VMID of its own.
      const c = smmu.contextBank("c");
      expectError(() => c.bind(s2, { vmid: 0 }), "EBUSY", "stage-2-only");
      c.bind(s2);
      expect([c.asid, c.vmid, c.hasStage1]).toEqual([2, 3, false]);
      // Contexts sharing a VMID share its stage 2.
      expectError(() => a.bind(s1, { stage2: table(S2), vmid: 3 }), "EBUSY", "stage-2-only");
      c.unbind();
      a.bind(s1, { stage2: s2, vmid: 9 });
      expectError(() => b.bind(s1, { stage2: table(S2), vmid: 9 }), "EBUSY", "another stage 2");
      b.bind(s1, { stage2: rootOf(s2), vmid: 9 });
      expect(b.stage2Root?.root).toBe(s2.root);
    });

    it("distinct contexts never see each other's entries in the shared TLB", () => {
      const { smmu, table, phys, platform } = smmuMachine();
      const pg = phys(4 * K);
      const pd = phys(4 * K);
      platform.write(pg, bytes(0x11));
      platform.write(pd, bytes(0x22));
      const tg = table(V7S, "gpu");
      const td = table(V7S, "dsp");
      tg.map(0x8000, pg, 4 * K, RW);
      td.map(0x8000, pd, 4 * K, RW);
      for (const [name, t] of [
        ["gpu", tg],
        ["dsp", td],
      ] as const) {
        smmu.contextBank(name).bind(t);
        smmu.contextBank(name).activate();
      }
      const gpu = smmu.attachMaster("gpu0", "gpu");
      const dsp = smmu.attachMaster("dsp0", "dsp");
      for (let i = 0; i < 3; i++) {
        expect(gpu.read(0x8000, 1)).toEqual(bytes(0x11));
        expect(dsp.read(0x8000, 1)).toEqual(bytes(0x22));
      }
      expect(
        smmu.tlb
          .entries()
          .map((e) => e.asid)
          .sort(),
      ).toEqual([0, 1]);
      // Coherence across the shared TLB: the gpu table's unmap drops only the gpu's entry.
      tg.unmap(0x8000, 4 * K);
      expect(faultOf(() => gpu.read(0x8000, 1)).kind).toBe("translation");
      const hits = dsp.stats.tlbHits;
      expect(dsp.read(0x8000, 1)).toEqual(bytes(0x22));
      expect(dsp.stats.tlbHits).toBe(hits + 1);
      td.protect(0x8000, 4 * K, RO);
      expect(faultOf(() => dsp.write(0x8000, bytes(0))).kind).toBe("permission");
    });

    it("unbinding or rebinding drops the context's TLB entries and stops following the old table", () => {
      const { smmu, table, phys } = smmuMachine();
      const t1 = table(V7S, "one");
      const t2 = table(V7S, "two");
      const p1 = phys(4 * K);
      const p2 = phys(4 * K);
      t1.map(0x1000, p1, 4 * K, RW);
      t2.map(0x1000, p2, 4 * K, RW);
      const ctx = smmu.contextBank("gpu");
      ctx.bind(t1);
      ctx.activate();
      expect(ctx.translate(0x1000)).toMatchObject({ ok: true, pa: p1 });
      ctx.deactivate();
      ctx.bind(t2);
      ctx.activate();
      expect(ctx.translate(0x1000)).toMatchObject({ ok: true, pa: p2, hit: false });
      expect(ctx.pageTable).toBe(t2);
      const flushes = smmu.tlb.stats().invalidations;
      t1.unmap(0x1000, 4 * K);
      expect(smmu.tlb.stats().invalidations).toBe(flushes);
    });

    it("a nested context translates through its stage 2; stage-2 changes stay coherent", () => {
      const { smmu, table, phys, platform } = smmuMachine();
      const s2 = table(S2, "vm-s2");
      const s1 = table(S1, "dev-s1"); // tables in physical memory: a host-built stage 1
      const ram = phys(2 * M, 2 * M);
      s2.map(0x4000_0000, ram, 2 * M, RW);
      // The stage-1 tables themselves must be reachable through stage 2: identity-map them.
      for (const p of s1.tablePages()) s2.map(p.addr, p.addr, 4 * K, RO);
      s1.map(0x10_0000, 0x4000_0000, 4 * K, RW);
      for (const p of s1.tablePages()) if (!s2.translate(p.addr)) s2.map(p.addr, p.addr, 4 * K, RO);
      const dev = attachBound(smmu, s1, { stage2: s2 });
      expect([dev.contextBank.asid, dev.contextBank.vmid]).toEqual([0, 1]);
      platform.write(ram + 0x10, bytes(4, 2));
      expect(dev.read(0x10_0010, 2)).toEqual(bytes(4, 2));
      s2.protect(0x4000_0000, 2 * M, RO);
      const f = faultOf(() => dev.write(0x10_0010, bytes(0)));
      expect(f).toMatchObject({ kind: "permission", stage: 2, ipa: 0x4000_0010 });
    });

    it("a stage-2-only context: IOVA = IPA", () => {
      const { smmu, table, phys, platform } = smmuMachine();
      const s2 = table(S2);
      const ram = phys(4 * K);
      s2.map(0x4000_0000, ram, 4 * K, RW);
      const dev = attachBound(smmu, s2, { context: "dsp" });
      dev.write(0x4000_0008, bytes(3));
      expect(platform.read(ram + 8, 1)).toEqual(bytes(3));
      s2.unmap(0x4000_0000, 4 * K);
      expect(faultOf(() => dev.read(0x4000_0008, 1)).stage).toBe(2);
    });
  });

  describe("fault handlers", () => {
    it("the context's handler (iommu_set_fault_handler) runs first and may map and retry", () => {
      const { smmu, table, phys, platform } = smmuMachine();
      const t = table(V7S);
      const dev = attachBound(smmu, t);
      const ctx = dev.contextBank;
      const order: string[] = [];
      const page = phys(4 * K);
      dev.addFaultHandler(() => (order.push("master"), "terminate"));
      ctx.setFaultHandler((fault: Fault, master, context) => {
        order.push("context");
        expect(master).toBe(dev);
        expect(context).toBe(ctx);
        t.map(Math.floor(fault.va / 4096) * 4096, page, 4 * K, RW);
        return "retry";
      });
      dev.write(0x3004, bytes(1, 2));
      expect(order).toEqual(["context"]);
      expect(platform.read(page + 4, 2)).toEqual(bytes(1, 2));
      expect(ctx.faultHandler).toBeDefined();
      ctx.setFaultHandler(() => (order.push("context"), "terminate"));
      order.length = 0;
      expectError(() => dev.read(0x9000, 1), "EFAULT", "dev", "0x9000", "smmu0/gpu");
      expect(order).toEqual(["context", "master"]);
      ctx.setFaultHandler(undefined);
      order.length = 0;
      caught(() => dev.read(0x9000, 1));
      expect(order).toEqual(["master"]);
    });
  });

  it("attaches and detaches masters", () => {
    const { smmu, platform } = smmuMachine();
    const a = smmu.attachMaster("a", "gpu");
    smmu.attachMaster("b", "dsp");
    expectError(() => smmu.attachMaster("a", "dsp"), "EEXIST");
    expectError(() => smmu.attachMaster("z", "nope"), "ENOENT");
    expect(platform.devices().map((d) => d.name)).toEqual(["smmu0", "a", "b"]);
    expect(smmu.contextBank("gpu").masters()).toEqual([a]);
    expect(smmu.master("a")).toBe(a);
    smmu.detachMaster("a");
    expect(smmu.masters().map((m) => m.name)).toEqual(["b"]);
    expectError(() => platform.device("a"), "ENOENT");
    expectError(() => smmu.detachMaster("a"), "ENOENT");
    smmu.tlbiAll();
  });
});
