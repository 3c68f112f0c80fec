/**
 * `Device.capabilities()`: what each kind of device says it has — its bus masters, the
 * translation regimes they go through (with their TLB, tables and liveness), the TLBs it holds,
 * its physical windows and local memory — and how that changes as tables are loaded and banks
 * bound.
 */
import { describe, expect, it } from "vitest";

import { rootOf } from "../mmu/regime.js";
import { Accelerator } from "./accelerator.js";
import { Cpu } from "./cpu.js";
import { DRAM, K, M, machine, RW, S1, S2, smmuMachine } from "./machine.testutil.js";
import { OneToOneDevice } from "./one-to-one.js";
import type { DeviceCapabilities } from "./registry.js";

const HBM = 2 ** 40;

describe("device capabilities", () => {
  it("a CPU: itself, one regime (its MMU), its own TLB and maintenance, its tables by role", () => {
    const { platform, table, phys } = machine();
    const pt = table(S1, "kernel");
    pt.map(0x1000, phys(4 * K), 4 * K, RW);
    const cpu = new Cpu(platform, { name: "cpu0", ttbr0: pt, asid: 1 });
    const caps = cpu.capabilities();
    expect(caps.masters).toEqual([cpu]);
    expect(caps.masters[0]).toBe(cpu);
    expect(caps.regimes).toHaveLength(1);
    const r = caps.regimes[0]!;
    expect(r.regime).toBe(cpu.mmu);
    expect(r.masters).toEqual([cpu]);
    expect(r.live).toBe(true);
    expect(r.contextBank).toBeUndefined();
    expect(r.tables.ttbr0).toBe(pt);
    expect(Object.keys(r.tables).filter((k) => r.tables[k as "ttbr0"] !== undefined)).toEqual([
      "ttbr0",
    ]);
    expect(r.tlb?.tlb).toBe(cpu.tlb);
    expect(r.tlb?.owner).toBe("cpu0");
    expect(caps.tlbs).toHaveLength(1);
    expect(caps.tlbs[0]!.tlb).toBe(cpu.tlb);
    expect(caps.tlbs[0]!.owner).toBe("cpu0");
    expect(caps.windows).toEqual([]);
    expect(caps.localMemory).toBeUndefined();
    expect("localMemory" in caps).toBe(false);
    // all() is TLBI ALLE1: the TLB is empty afterwards.
    cpu.read(0x1000, 1);
    cpu.setAsid(2);
    cpu.read(0x1000, 1);
    expect(cpu.tlb.stats().valid).toBe(2);
    caps.tlbs[0]!.all();
    expect(cpu.tlb.stats().valid).toBe(0);
    cpu.read(0x1000, 1);
    r.tlb!.all();
    expect(cpu.tlb.stats().valid).toBe(0);
    // The platform enumerates it without asking instanceof.
    expect(platform.device("cpu0").capabilities().regimes[0]!.regime).toBe(cpu.mmu);
  });

  it("a CPU's tables follow TTBR0, TTBR1, the stage 2; bare roots are not listed", () => {
    const { platform, table } = machine();
    const cpu = new Cpu(platform, { name: "cpu0" });
    const tables = () => cpu.capabilities().regimes[0]!.tables;
    expect(tables()).toEqual({});
    expect(cpu.capabilities().regimes[0]!.live).toBe(true); // MMU off: still the path, bypassed
    const a = table(S1, "a");
    const b = table(S1, "b");
    const k = table(S1, "k");
    const s2 = table(S2, "s2");
    cpu.setTtbr0(a);
    expect(tables()).toEqual({ ttbr0: a });
    cpu.setTtbr1(k, 2 ** 47);
    cpu.setStage2(s2, 4);
    expect(tables()).toEqual({ ttbr0: a, ttbr1: k, stage2: s2 });
    expect(tables().ttbr0).toBe(a);
    expect(tables().ttbr1).toBe(k);
    expect(tables().stage2).toBe(s2);
    cpu.setTtbr0(b);
    expect(tables().ttbr0).toBe(b);
    // A bare root runs but is not a PageTable the CPU follows: it is not listed.
    cpu.setTtbr0(rootOf(a));
    expect(cpu.mmu.ttbr0?.root).toBe(a.root);
    expect(tables().ttbr0).toBeUndefined();
    cpu.setStage2(undefined);
    cpu.setTtbr1(undefined);
    expect(tables()).toEqual({});
    // A snapshot: an earlier answer does not change under the caller.
    const snapshot = cpu.capabilities();
    cpu.setTtbr0(a);
    expect(snapshot.regimes[0]!.tables.ttbr0).toBeUndefined();
    expect(tables().ttbr0).toBe(a);
  });

  it("an accelerator: like a CPU, plus its local memory (region and target)", () => {
    const { platform, table } = machine();
    const npu = new Accelerator(platform, {
      name: "npu0",
      localMemory: { region: { name: "hbm", base: HBM, size: 64 * M }, target: "npu-mem" },
    });
    let caps: DeviceCapabilities = npu.capabilities();
    expect(caps.localMemory).toEqual({ region: "hbm", target: "npu-mem" });
    expect(caps.masters).toEqual([npu]);
    expect(caps.regimes[0]!.regime).toBe(npu.mmu);
    expect(caps.regimes[0]!.tables).toEqual({});
    expect(caps.tlbs[0]!.owner).toBe("npu0");
    expect(caps.tlbs[0]!.tlb).toBe(npu.tlb);
    expect(caps.windows).toEqual([]);
    const pt = table(S1);
    npu.setTable(pt, 3);
    caps = npu.capabilities();
    expect(caps.regimes[0]!.tables).toEqual({ ttbr0: pt });
    expect(caps.localMemory).toEqual({ region: "hbm", target: "npu-mem" });
    // The target defaults to the region's name; without local memory there is none.
    const gpu = new Accelerator(platform, {
      name: "gpu0",
      localMemory: { region: { name: "vram", base: HBM * 2, size: 16 * M } },
    });
    expect(gpu.capabilities().localMemory).toEqual({ region: "vram", target: "vram" });
    const plain = new Accelerator(platform, { name: "dsp0" });
    expect(plain.capabilities().localMemory).toBeUndefined();
    // Its local region is owned by it, and the platform knows the target.
    expect(platform.map.get(caps.localMemory!.region).device).toBe("npu0");
    expect(platform.target(caps.localMemory!.target).name).toBe("npu-mem");
  });

  it("an SMMU: its attached masters, one regime per bank with its state, one shared TLB", () => {
    const { platform, smmu, table, phys } = smmuMachine(["gpu", "dsp", "isp"]);
    let caps = smmu.capabilities();
    expect(caps.masters).toEqual([]);
    expect(caps.windows).toEqual([]);
    expect(caps.localMemory).toBeUndefined();
    expect(caps.tlbs).toHaveLength(1);
    expect(caps.tlbs[0]!.tlb).toBe(smmu.tlb);
    expect(caps.tlbs[0]!.owner).toBe("smmu0");
    expect(caps.regimes.map((r) => r.contextBank)).toEqual([
      { name: "gpu", index: 0, bound: false, active: false },
      { name: "dsp", index: 1, bound: false, active: false },
      { name: "isp", index: 2, bound: false, active: false },
    ]);
    caps.regimes.forEach((r, i) => {
      expect(r.regime).toBe(smmu.contextBanks()[i]!.regime);
      expect(r.live).toBe(false);
      expect(r.masters).toEqual([]);
      expect(r.tables).toEqual({});
      expect(r.tlb?.tlb).toBe(smmu.tlb);
      expect(r.tlb?.owner).toBe("smmu0");
    });

    const gpuTable = table(S1, "gpu");
    gpuTable.map(0x1000, phys(4 * K), 4 * K, RW);
    const s2 = table(S2, "vm");
    const gpu = smmu.contextBank("gpu");
    const dsp = smmu.contextBank("dsp");
    gpu.bind(gpuTable);
    const g0 = smmu.attachMaster("g0", "gpu");
    const g1 = smmu.attachMaster("g1", "gpu");
    const d0 = smmu.attachMaster("d0", "dsp");
    caps = smmu.capabilities();
    expect(caps.masters).toEqual([g0, g1, d0]);
    expect(caps.regimes[0]!.masters).toEqual([g0, g1]);
    expect(caps.regimes[1]!.masters).toEqual([d0]);
    expect(caps.regimes[2]!.masters).toEqual([]);
    // Bound but not active: not live.
    expect(caps.regimes[0]!.contextBank).toEqual({
      name: "gpu",
      index: 0,
      bound: true,
      active: false,
    });
    expect(caps.regimes[0]!.live).toBe(false);
    expect(caps.regimes[0]!.tables).toEqual({ ttbr0: gpuTable });
    // Active but not bound: not live either.
    dsp.activate();
    caps = smmu.capabilities();
    expect(caps.regimes[1]!.contextBank).toMatchObject({ bound: false, active: true });
    expect(caps.regimes[1]!.live).toBe(false);
    // Both: live.
    gpu.activate();
    caps = smmu.capabilities();
    expect(caps.regimes[0]!.live).toBe(true);
    expect(caps.regimes.map((r) => r.live)).toEqual([true, false, false]);
    dsp.deactivate();
    dsp.bind(s2);
    dsp.activate();
    caps = smmu.capabilities();
    expect(caps.regimes[1]!.tables).toEqual({ stage2: s2 });
    expect(caps.regimes[1]!.tables.stage2).toBe(s2);
    expect(caps.regimes.map((r) => r.live)).toEqual([true, true, false]);
    // The shared TLB's all() empties it for every bank.
    g0.read(0x1000, 1);
    expect(smmu.tlb.stats().valid).toBe(1);
    caps.tlbs[0]!.all();
    expect(smmu.tlb.stats().valid).toBe(0);
    // Detaching a master takes it out of the lists; unbinding changes the bank's state.
    smmu.detachMaster("g1");
    gpu.deactivate();
    gpu.unbind();
    caps = smmu.capabilities();
    expect(caps.masters).toEqual([g0, d0]);
    expect(caps.regimes[0]!.masters).toEqual([g0]);
    expect(caps.regimes[0]!.contextBank).toMatchObject({ bound: false, active: false });
    expect(caps.regimes[0]!.tables).toEqual({});
    expect(caps.regimes[0]!.live).toBe(false);
    // Nested: both tables by role.
    const s1 = table(S1, "s1");
    const vm2 = table(S2, "vm2");
    smmu.contextBank("isp").bind(s1, { stage2: vm2 });
    expect(smmu.capabilities().regimes[2]!.tables).toEqual({ ttbr0: s1, stage2: vm2 });
    expect(platform.device("smmu0").capabilities().regimes).toHaveLength(3);
  });

  it("an SMMU master: its bank's regime with only itself as master; the TLB is the SMMU's", () => {
    const { smmu, table } = smmuMachine();
    const t = table(S1, "gpu");
    const gpu = smmu.contextBank("gpu");
    gpu.bind(t);
    gpu.activate();
    const a = smmu.attachMaster("a", "gpu");
    smmu.attachMaster("b", "gpu");
    let caps = a.capabilities();
    expect(caps.masters).toEqual([a]);
    expect(caps.tlbs).toEqual([]); // it holds none itself
    expect(caps.windows).toEqual([]);
    expect(caps.regimes).toHaveLength(1);
    const r = caps.regimes[0]!;
    expect(r.regime).toBe(gpu.regime);
    expect(r.masters).toEqual([a]);
    expect(r.live).toBe(true);
    expect(r.tables).toEqual({ ttbr0: t });
    expect(r.tlb?.tlb).toBe(smmu.tlb);
    expect(r.tlb?.owner).toBe("smmu0");
    expect(r.contextBank).toEqual({ name: "gpu", index: 0, bound: true, active: true });
    // Re-attached: its bank's now.
    a.attach("dsp");
    caps = a.capabilities();
    expect(caps.regimes[0]!.regime).toBe(smmu.contextBank("dsp").regime);
    expect(caps.regimes[0]!.contextBank).toEqual({
      name: "dsp",
      index: 1,
      bound: false,
      active: false,
    });
    expect(caps.regimes[0]!.live).toBe(false);
    expect(caps.regimes[0]!.tables).toEqual({});
    expect(smmu.capabilities().regimes[1]!.masters).toEqual([a]);
    expect(smmu.capabilities().regimes[0]!.masters.map((m) => m.name)).toEqual(["b"]);
  });

  it("a one-to-one device: a physical window and nothing that translates", () => {
    const { platform } = machine();
    const dma = new OneToOneDevice(platform, { name: "dma0", base: DRAM, size: 16 * M });
    const caps = dma.capabilities();
    expect(caps.masters).toEqual([dma]);
    expect(caps.regimes).toEqual([]);
    expect(caps.tlbs).toEqual([]);
    expect(caps.windows).toEqual([{ base: DRAM, size: 16 * M, master: dma }]);
    expect(caps.windows[0]!.master).toBe(dma);
    expect(caps.localMemory).toBeUndefined();
    dma.setWindow(DRAM + 16 * M, 4 * M);
    expect(dma.capabilities().windows).toEqual([{ base: DRAM + 16 * M, size: 4 * M, master: dma }]);
    expect(caps.windows[0]!.base).toBe(DRAM); // the earlier answer is a snapshot
  });

  it("every device of a platform, enumerated through capabilities alone", () => {
    const { platform, smmu, table } = smmuMachine();
    const cpu = new Cpu(platform, { name: "cpu0", ttbr0: table(S1) });
    const dma = new OneToOneDevice(platform, { name: "dma0", base: DRAM, size: M });
    smmu.contextBank("gpu").bind(table(S1));
    smmu.contextBank("gpu").activate();
    const dev = smmu.attachMaster("dev", "gpu");
    const all = platform.devices().map((d) => [d.name, d.kind, d.capabilities()] as const);
    expect(all.map(([n, k]) => [n, k])).toEqual([
      ["smmu0", "smmu"],
      ["cpu0", "cpu"],
      ["dma0", "one-to-one"],
      ["dev", "smmu-master"],
    ]);
    // Live regimes and the masters they translate for.
    const live = all.flatMap(([n, , c]) =>
      c.regimes.filter((r) => r.live).map((r) => [n, r.regime.name, r.masters.map((m) => m.name)]),
    );
    expect(live).toEqual([
      ["smmu0", "smmu0/gpu", ["dev"]],
      ["cpu0", "cpu0", ["cpu0"]],
      ["dev", "smmu0/gpu", ["dev"]],
    ]);
    // TLB owners: each TLB once, held by a CPU or the SMMU (never by the SMMU's masters).
    const tlbs = all.flatMap(([, , c]) => c.tlbs);
    expect(tlbs.map((t) => t.owner)).toEqual(["smmu0", "cpu0"]);
    expect(new Set(tlbs.map((t) => t.tlb)).size).toBe(2);
    expect(all.flatMap(([, , c]) => c.windows)).toEqual([{ base: DRAM, size: M, master: dma }]);
    expect(all.find(([n]) => n === "dev")![2].regimes[0]!.tlb?.tlb).toBe(smmu.tlb);
    expect([cpu.kind, dev.kind]).toEqual(["cpu", "smmu-master"]);
  });
});
