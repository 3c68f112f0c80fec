/**
 * SMMU domains apart from context banks (`arm_smmu_domain` vs `arm_smmu_cb`), and masters
 * re-attached from one bank to another (`arm_smmu_attach_dev` with another domain).
 */
import { describe, expect, it } from "vitest";

import type { Fault } from "../mmu/regime.js";
import {
  bytes,
  caught,
  expectError,
  faultOf,
  K,
  RO,
  RW,
  S1,
  S2,
  smmuMachine,
  V7S,
} from "./machine.testutil.js";
import { Smmu, SmmuDomain } from "./smmu.js";
import type { SmmuMaster } from "./smmu.js";

const PAGE = 4 * K;
const IOVA = 0x10_0000;

/** Three banks, two tables mapping IOVA to two pages of different bytes. */
function twoTables() {
  const m = smmuMachine(["gpu", "dsp", "isp"]);
  const { platform, table, phys } = m;
  const pa = phys(PAGE);
  const pb = phys(PAGE);
  platform.write(pa, bytes(0xaa));
  platform.write(pb, bytes(0xbb));
  const ta = table(S1, "ta");
  const tb = table(V7S, "tb");
  ta.map(IOVA, pa, PAGE, RW);
  tb.map(IOVA, pb, PAGE, RW);
  return { ...m, pa, pb, ta, tb };
}

describe("SmmuDomain", () => {
  it("bind returns the domain it made; the bank and the domain point at each other", () => {
    const { smmu, ta } = twoTables();
    const gpu = smmu.contextBank("gpu");
    const d = gpu.bind(ta);
    expect(d).toBeInstanceOf(SmmuDomain);
    expect(gpu.domain).toBe(d);
    expect(d.bank).toBe(gpu);
    expect(d.tables).toEqual({ ttbr0: ta });
    expect(d.s1?.root).toBe(ta.root);
    expect(d.s2).toBeUndefined();
    // The tags it leaves unset are the bank's choice.
    expect([d.asid, d.vmid]).toEqual([undefined, undefined]);
    expect([gpu.asid, gpu.vmid]).toEqual([0, 0]);
    expect(ta.flushTargetCount).toBe(1);
    gpu.unbind();
    expect(d.bank).toBeUndefined();
    expect(gpu.domain).toBeUndefined();
    expect(ta.flushTargetCount).toBe(0);
  });

  it("checks its tables and tags when made, before any bank sees it", () => {
    const { table } = smmuMachine();
    const s1 = table(S1);
    const s2 = table(S2);
    expectError(() => new SmmuDomain(s2, { stage2: s2 }), "EINVAL", "alone");
    expectError(() => new SmmuDomain(s1, { stage2: table(S1) }), "EINVAL", "stage-2");
    expectError(() => new SmmuDomain(s1, { ttbr1: s2, split: 1 << 30 }), "EINVAL", "stage-1");
    expectError(() => new SmmuDomain(s1, { ttbr1: table(S1) }), "EINVAL", "split");
    expectError(() => new SmmuDomain(s1, { split: 1 << 30 }), "EINVAL", "ttbr1");
    expectError(() => new SmmuDomain(s1, { vmid: 0x10000 }), "EINVAL", "vmid");
    const nested = new SmmuDomain(s1, { stage2: s2, asid: 7 });
    expect(nested.tables).toEqual({ ttbr0: s1, stage2: s2 });
    expect(nested.asid).toBe(7);
    expect(nested.bank).toBeUndefined();
    expect(s1.flushTargetCount + s2.flushTargetCount).toBe(0); // not bound: not registered
  });

  it("bindDomain of a domain bound to another bank is EBUSY and changes nothing", () => {
    const { smmu, ta, tb, pa, pb } = twoTables();
    const gpu = smmu.contextBank("gpu");
    const dsp = smmu.contextBank("dsp");
    const d = new SmmuDomain(ta);
    gpu.bindDomain(d);
    const other = dsp.bind(tb);
    gpu.activate();
    dsp.activate();
    const g = smmu.attachMaster("g", "gpu");
    const s = smmu.attachMaster("s", "dsp");
    expect(g.read(IOVA, 1)).toEqual(bytes(0xaa));
    expect(s.read(IOVA, 1)).toEqual(bytes(0xbb));
    dsp.deactivate();
    const valid = smmu.tlb.stats().valid;
    expectError(() => dsp.bindDomain(d), "EBUSY", "smmu0/dsp", 'bound to context "smmu0/gpu"');
    // Nothing changed: either bank, the domains, the tables' registrations, the TLB.
    expect(d.bank).toBe(gpu);
    expect(gpu.domain).toBe(d);
    expect(dsp.domain).toBe(other);
    expect(other.bank).toBe(dsp);
    expect([ta.flushTargetCount, tb.flushTargetCount]).toEqual([1, 1]);
    expect(smmu.tlb.stats().valid).toBe(valid);
    dsp.activate();
    expect(s.translate(IOVA)).toMatchObject({ ok: true, pa: pb, hit: true });
    expect(g.translate(IOVA)).toMatchObject({ ok: true, pa, hit: true });
    // Binding it again to its own bank is a rebind (its entries go), not a conflict.
    gpu.deactivate();
    gpu.bindDomain(d);
    gpu.activate();
    expect(d.bank).toBe(gpu);
    expect(ta.flushTargetCount).toBe(1);
    expect(g.translate(IOVA)).toMatchObject({ ok: true, pa, hit: false });
  });

  it("unbinding frees the domain to be bound elsewhere, with that bank's default tags", () => {
    const { smmu, ta, pa } = twoTables();
    const gpu = smmu.contextBank("gpu");
    const isp = smmu.contextBank("isp");
    const d = gpu.bind(ta);
    gpu.activate();
    const dev = smmu.attachMaster("dev", "gpu");
    dev.read(IOVA, 1);
    expect(smmu.tlb.entries().map((e) => [e.asid, e.vmid])).toEqual([[0, 0]]);
    gpu.deactivate();
    gpu.unbind();
    expect(smmu.tlb.stats().valid).toBe(0); // the bank's entries went with the binding
    isp.bindDomain(d);
    isp.activate();
    expect(d.bank).toBe(isp);
    expect([isp.asid, isp.vmid]).toEqual([2, 0]); // asid = index
    dev.attach("isp");
    expect(dev.read(IOVA, 1)).toEqual(bytes(0xaa));
    expect(smmu.tlb.entries().map((e) => [e.asid, e.vmid, e.pa])).toEqual([[2, 0, pa]]);
    // The table still has one registration: the new bank's, not the old one's.
    expect(ta.flushTargetCount).toBe(1);
    ta.unmap(IOVA, PAGE);
    expect(smmu.tlb.stats().valid).toBe(0);
    expect(faultOf(() => dev.read(IOVA, 1))).toMatchObject({
      kind: "translation",
      context: "smmu0/isp",
    });
  });

  it("default tags: asid = index; vmid = 0, or index + 1 with a stage 2; explicit tags win", () => {
    const { smmu, table } = twoTables();
    const gpu = smmu.contextBank("gpu");
    const dsp = smmu.contextBank("dsp");
    const isp = smmu.contextBank("isp");
    const s1 = table(S1);
    const s2 = table(S2);
    // Stage 1 alone.
    gpu.bind(s1);
    expect([gpu.asid, gpu.vmid]).toEqual([0, 0]);
    // Stage 1 over a stage 2 (nested).
    dsp.bind(table(S1), { stage2: s2 });
    expect([dsp.asid, dsp.vmid]).toEqual([1, 2]);
    // A stage 2 alone.
    isp.bind(s2);
    expect([isp.asid, isp.vmid, isp.hasStage1]).toEqual([2, 3, false]);
    // The same domain takes the defaults of each bank it is bound to.
    isp.unbind();
    const alone = new SmmuDomain(s2);
    gpu.unbind();
    gpu.bindDomain(alone);
    expect([gpu.asid, gpu.vmid]).toEqual([0, 1]);
    gpu.unbind();
    isp.bindDomain(alone);
    expect([isp.asid, isp.vmid]).toEqual([2, 3]);
    // Explicit tags are the domain's own, wherever it goes.
    isp.unbind();
    const tagged = new SmmuDomain(s1, { asid: 40, vmid: 0 });
    gpu.bindDomain(tagged);
    expect([gpu.asid, gpu.vmid]).toEqual([40, 0]);
    gpu.unbind();
    isp.bindDomain(tagged);
    expect([isp.asid, isp.vmid]).toEqual([40, 0]);
    // A domain whose tags clash with another bank's is refused, and stays free.
    const clash = new SmmuDomain(table(S1), { asid: 40 });
    expectError(() => gpu.bindDomain(clash), "EBUSY", "asid 40");
    expect(clash.bank).toBeUndefined();
    expect(gpu.bound).toBe(false);
    expect(clash.tables.ttbr0!.flushTargetCount).toBe(0);
  });

  it("a destroyed table unbinds and deactivates the bank that runs its domain", () => {
    const { smmu, table, phys } = smmuMachine();
    const s1 = table(S1, "s1");
    const s2 = table(S2, "s2");
    const ram = phys(PAGE);
    s1.map(IOVA, 0x4000_0000, PAGE, RW);
    for (const p of s1.tablePages()) s2.map(p.addr, p.addr, PAGE, RO);
    s2.map(0x4000_0000, ram, PAGE, RW);
    const gpu = smmu.contextBank("gpu");
    const d = gpu.bind(s1, { stage2: s2 });
    gpu.activate();
    const dev = smmu.attachMaster("dev", "gpu");
    dev.read(IOVA, 4);
    expect(smmu.tlb.stats().valid).toBe(1);
    s2.destroy();
    expect([gpu.bound, gpu.active]).toEqual([false, false]);
    expect(gpu.domain).toBeUndefined();
    expect(d.bank).toBeUndefined();
    expect(gpu.regime.stage2).toBeUndefined();
    expect(gpu.regime.ttbr0).toBeUndefined();
    expect(gpu.regime.enabled).toBe(false);
    expect(smmu.tlb.stats().valid).toBe(0);
    expect(s1.flushTargetCount).toBe(0);
    expect(faultOf(() => dev.read(IOVA, 4))).toMatchObject({
      kind: "translation",
      stage: 1,
      level: 0,
    });
    expect(smmu.capabilities().regimes[0]).toMatchObject({
      live: false,
      tables: {},
      contextBank: { bound: false, active: false },
    });
    // The bank can run another domain at once (it is inactive, so bind is allowed).
    const t = table(S1);
    t.map(IOVA, ram, PAGE, RW);
    gpu.bind(t);
    gpu.activate();
    expect(dev.translate(IOVA)).toMatchObject({ ok: true, pa: ram });
    // The other bank and its table are not touched by the destruction of an unrelated table.
    const dsp = smmu.contextBank("dsp");
    const u = table(S1);
    dsp.bind(u);
    dsp.activate();
    table(S1).destroy();
    expect([dsp.bound, dsp.active, gpu.bound, gpu.active]).toEqual([true, true, true, true]);
  });
});

describe("re-attachable masters", () => {
  function attached() {
    const m = twoTables();
    const gpu = m.smmu.contextBank("gpu");
    const dsp = m.smmu.contextBank("dsp");
    gpu.bind(m.ta);
    dsp.bind(m.tb);
    gpu.activate();
    dsp.activate();
    const dev = m.smmu.attachMaster("dev", "gpu");
    return { ...m, gpu, dsp, dev };
  }

  it("attach makes the next accesses translate through the other bank", () => {
    const { smmu, dev, gpu, dsp, pa, pb } = attached();
    expect(dev.read(IOVA, 1)).toEqual(bytes(0xaa));
    expect(dev.contextBank).toBe(gpu);
    dev.attach("dsp");
    expect(dev.contextBank).toBe(dsp);
    expect(dev.read(IOVA, 1)).toEqual(bytes(0xbb));
    expect(dev.translate(IOVA)).toMatchObject({ ok: true, pa: pb, hit: true });
    dev.write(IOVA + 1, bytes(0x11));
    expect(smmu.platform.read(pb + 1, 1)).toEqual(bytes(0x11));
    expect(smmu.platform.read(pa + 1, 1)).toEqual(bytes(0));
    // And back, by bank object: the gpu bank's cached entry is still valid, and is used.
    dev.attach(gpu);
    expect(dev.translate(IOVA)).toMatchObject({ ok: true, pa, hit: true });
    expect(dev.read(IOVA, 1)).toEqual(bytes(0xaa));
    expect(gpu.masters()).toEqual([dev]);
    expect(dsp.masters()).toEqual([]);
    // Faults report the bank it is attached to now.
    dev.attach("isp");
    expect(faultOf(() => dev.read(IOVA, 1)).context).toBe("smmu0/isp");
  });

  it("ENOENT for an unknown bank, EINVAL for another SMMU's bank; the master stays put", () => {
    const { platform, dev, gpu } = attached();
    expectError(() => dev.attach("nope"), "ENOENT", "nope");
    expect(dev.contextBank).toBe(gpu);
    const other = new Smmu(platform, { name: "smmu1", contexts: ["x"] });
    expectError(() => dev.attach(other.contextBank("x")), "EINVAL", "smmu1/x", "smmu0");
    expect(dev.contextBank).toBe(gpu);
    expect(dev.read(IOVA, 1)).toEqual(bytes(0xaa));
  });

  it("after a re-attach, the new bank's fault handler is asked, not the old one's", () => {
    const { dev, gpu, dsp, tb, phys } = attached();
    const page = phys(PAGE);
    const calls: Array<[string, string, string]> = [];
    const record =
      (tag: string) =>
      (_f: Fault, master: SmmuMaster, bank: { name: string }): "terminate" => (
        calls.push([tag, master.name, bank.name]),
        "terminate"
      );
    gpu.setFaultHandler(record("gpu"));
    dsp.setFaultHandler((f, master, bank) => {
      calls.push(["dsp", master.name, bank.name]);
      tb.map(Math.floor(f.va / PAGE) * PAGE, page, PAGE, RW);
      return "retry";
    });
    caught(() => dev.read(0x90_0000, 1));
    expect(calls).toEqual([["gpu", "dev", "gpu"]]);
    calls.length = 0;
    dev.attach("dsp");
    expect(dev.read(0x90_0000, 1)).toEqual(bytes(0)); // the dsp handler mapped it
    expect(calls).toEqual([["dsp", "dev", "dsp"]]);
    // The master's own handlers come after whichever bank's, and move with it.
    calls.length = 0;
    dsp.setFaultHandler(record("dsp"));
    dev.addFaultHandler(() => (calls.push(["own", "dev", "-"]), "terminate"));
    caught(() => dev.read(0xa0_0000, 1));
    dev.attach("gpu");
    caught(() => dev.read(0xa0_0000, 1));
    expect(calls).toEqual([
      ["dsp", "dev", "dsp"],
      ["own", "dev", "-"],
      ["gpu", "dev", "gpu"],
      ["own", "dev", "-"],
    ]);
  });

  it("a master re-attached to a bank whose table is then destroyed faults, and can move on", () => {
    const { dev, ta, tb, dsp, gpu } = attached();
    dev.attach("dsp");
    tb.destroy();
    expect([dsp.bound, dsp.active]).toEqual([false, false]);
    expect(faultOf(() => dev.read(IOVA, 1)).context).toBe("smmu0/dsp");
    dev.attach("gpu");
    expect(dev.read(IOVA, 1)).toEqual(bytes(0xaa));
    expect(gpu.bound).toBe(true);
    expect(ta.flushTargetCount).toBe(1);
  });
});
