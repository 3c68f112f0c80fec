import { describe, expect, it } from "vitest";

import { expectError } from "../../base/errors.testutil.js";
import { Cpu } from "../../devices/cpu.js";
import { K, machine, pattern, S1, V7S } from "../../devices/machine.testutil.js";
import { Smmu } from "../../devices/smmu.js";
import { SmmuDeviceTree } from "./device-tree.js";
import { SmmuDev, SmmuDriver } from "./driver.js";

/** The seed's tree: smmu0 with ctx0..ctx2, smmu1 with ctx3; and a CPU. */
function seedMachine() {
  const m = machine();
  const smmu0 = new Smmu(m.platform, { name: "smmu0", contexts: ["ctx0", "ctx1", "ctx2"] });
  const smmu1 = new Smmu(m.platform, { name: "smmu1", contexts: ["ctx3"] });
  new Cpu(m.platform, { name: "cpu0", ttbr0: m.table(S1) });
  return { ...m, smmu0, smmu1 };
}

describe("SmmuDeviceTree", () => {
  it("has a driver per SMMU and a bound context instance per bank, named after it", () => {
    const { platform, tables, smmu0, smmu1 } = seedMachine();
    const tree = new SmmuDeviceTree(platform, {
      tables,
      smmus: [
        { smmu: "smmu0", base: 0x0400_0000 },
        { smmu: "smmu1", irq: 9, version: 2 },
      ],
    });
    expect(tree.drivers().map((d) => [d.smmu, d.base, d.irq, d.version])).toEqual([
      [smmu0, 0x0400_0000, 0, 1],
      [smmu1, 0, 9, 2],
    ]);
    expect(tree.instances().map((d) => [d.name, d.context, d.driver?.name])).toEqual([
      ["ctx0", 0, "smmu0"],
      ["ctx1", 1, "smmu0"],
      ["ctx2", 2, "smmu0"],
      ["ctx3", 0, "smmu1"],
    ]);
    expect(SmmuDriver.of(smmu1)).toBe(tree.drivers()[1]);
    tree.getCtxInstance("ctx1").activate();
    expect(tree.contexts()).toEqual([
      {
        smmu: "smmu0",
        base: 0x0400_0000,
        irq: 0,
        contexts: [
          { name: "ctx0", context: 0, active: false, mappings: 0 },
          { name: "ctx1", context: 1, active: true, mappings: 0 },
          { name: "ctx2", context: 2, active: false, mappings: 0 },
        ],
      },
      {
        smmu: "smmu1",
        base: 0,
        irq: 9,
        contexts: [{ name: "ctx3", context: 0, active: false, mappings: 0 }],
      },
    ]);
  });

  it("the seed's example: look the context up by name, activate it, reach memory through it", () => {
    const m = machine();
    const smmu = new Smmu(m.platform, { name: "smmu0", contexts: ["vcodec_a_stream", "mdp"] });
    const tree = new SmmuDeviceTree(m.platform, { tables: m.tables, smmus: [{ smmu: "smmu0" }] });
    const dev = tree.getCtxInstance("vcodec_a_stream");
    const pa = m.phys(4 * K);
    dev.activate();
    dev.updateStart();
    dev.map(pa, 0x4000_0000, 4 * K);
    dev.updateDone();
    m.platform.write(pa + 8, pattern(8));
    expect(smmu.attachMaster("vcodec0", "vcodec_a_stream").read(0x4000_0008, 8)).toEqual(
      pattern(8),
    );
    expect(tree.getBaseAddr(dev)).toBe(0);
  });

  it("getCtxInstance: by bank name or smmu/bank; ENOENT naming the contexts; EINVAL when ambiguous", () => {
    const m = machine();
    new Smmu(m.platform, { name: "smmu0", contexts: ["gpu", "dsp"] });
    new Smmu(m.platform, { name: "smmu1", contexts: ["gpu"] });
    const tree = new SmmuDeviceTree(m.platform, {
      tables: m.tables,
      smmus: [{ smmu: "smmu0" }, { smmu: "smmu1" }],
    });
    const [gpu0, dsp, gpu1] = tree.instances();
    expect(tree.getCtxInstance("dsp")).toBe(dsp);
    expect(tree.getCtxInstance("smmu0/dsp")).toBe(dsp);
    expect(tree.getCtxInstance("smmu0/gpu")).toBe(gpu0);
    expect(tree.getCtxInstance("smmu1/gpu")).toBe(gpu1);
    expectError(
      () => tree.getCtxInstance("gpu"),
      "EINVAL",
      'smmu_get_ctx_instance: context "gpu" is ambiguous (smmu0/gpu, smmu1/gpu)',
    );
    expectError(
      () => tree.getCtxInstance("mdp"),
      "ENOENT",
      'no context "mdp" (have: smmu0/gpu, smmu0/dsp, smmu1/gpu)',
    );
    expectError(() => tree.getCtxInstance("smmu1/dsp"), "ENOENT", 'no context "smmu1/dsp"');
  });

  it("freeCtxInstance: EBUSY while active (nothing changes); then deinit and drop; ENOENT for a stranger", () => {
    const { platform, tables } = seedMachine();
    const tree = new SmmuDeviceTree(platform, { tables, smmus: [{ smmu: "smmu0" }] });
    const dev = tree.getCtxInstance("ctx2");
    dev.activate();
    expectError(() => tree.freeCtxInstance(dev), "EBUSY", 'smmu_dev "ctx2" is active');
    expect(tree.getCtxInstance("ctx2")).toBe(dev);
    dev.deactivate();
    const live = tables.liveTables;
    tree.freeCtxInstance(dev);
    expect([dev.live, tables.liveTables]).toEqual([false, live - 1]);
    expect(tree.instances().map((d) => d.name)).toEqual(["ctx0", "ctx1"]);
    expectError(() => tree.getCtxInstance("ctx2"), "ENOENT", "have: smmu0/ctx0, smmu0/ctx1");
    expectError(
      () => tree.freeCtxInstance(dev),
      "ENOENT",
      'smmu_free_ctx_instance: smmu_dev "ctx2" is not a context of this device tree',
    );
    const stranger = SmmuDev.init(platform, tables, 0, "stranger");
    expectError(() => tree.freeCtxInstance(stranger), "ENOENT", '"stranger"');
  });

  it("getBaseAddr: the base of the instance's SMMU; ENODEV unbound or deinitialized", () => {
    const { platform, tables } = seedMachine();
    const tree = new SmmuDeviceTree(platform, {
      tables,
      smmus: [
        { smmu: "smmu1", base: 0x0500_0000 },
        { smmu: "smmu0", base: 0x0400_0000 },
      ],
    });
    expect(tree.getBaseAddr(tree.getCtxInstance("ctx3"))).toBe(0x0500_0000);
    expect(tree.getBaseAddr(tree.getCtxInstance("ctx0"))).toBe(0x0400_0000);
    expect(tree.drivers().map((d) => d.irq)).toEqual([0, 1]);
    const lone = SmmuDev.init(platform, tables, 0, "lone");
    expectError(
      () => tree.getBaseAddr(lone),
      "ENODEV",
      'smmu_get_base_addr: smmu_dev "lone" is not bound',
    );
    lone.deinit();
    expectError(() => tree.getBaseAddr(lone), "ENODEV", "was deinitialized");
  });

  it.each<
    [
      string,
      (s: Smmu) => Array<{ smmu: string; irq?: number; base?: number }>,
      string,
      string,
      string,
    ]
  >([
    [
      "an unknown SMMU",
      () => [{ smmu: "smmu0" }, { smmu: "smmu9" }],
      "ENODEV",
      "smmus.1.smmu",
      'the platform has no SMMU "smmu9" (have: smmu0, smmu1)',
    ],
    ["a CPU", () => [{ smmu: "cpu0" }], "ENODEV", "smmus.0.smmu", 'no SMMU "cpu0"'],
    [
      "an SMMU listed twice",
      () => [{ smmu: "smmu1" }, { smmu: "smmu0" }, { smmu: "smmu1" }],
      "EINVAL",
      "smmus.2.smmu",
      'SMMU "smmu1" is listed twice',
    ],
    [
      "irq -1",
      () => [{ smmu: "smmu0" }, { smmu: "smmu1", irq: -1 }],
      "EINVAL",
      "smmus.1.irq",
      "irq -1",
    ],
    ["base -4", () => [{ smmu: "smmu0", base: -4 }], "EINVAL", "smmus.0.base", "base -4"],
    [
      "an SMMU with a driver",
      (s) => (SmmuDriver.init(s, 0x1000, 3), [{ smmu: "smmu0" }, { smmu: "smmu1" }]),
      "EBUSY",
      "smmus.1.smmu",
      'SMMU "smmu1": it has a driver already',
    ],
  ])("refuses %s, changing nothing", (_what, smmus, code, field, text) => {
    const { platform, tables, smmu0, smmu1, table } = seedMachine();
    const bank = smmu0.contextBank("ctx1");
    bank.bind(table(V7S));
    bank.activate();
    const list = smmus(smmu1);
    const live = tables.liveTables;
    const e = expectError(
      () => new SmmuDeviceTree(platform, { tables, smmus: list }),
      code as "EINVAL",
      text,
    );
    expect(e.field).toBe(field);
    expect([bank.active, bank.bound, tables.liveTables, SmmuDriver.of(smmu0)]).toEqual([
      true,
      true,
      live,
      undefined,
    ]);
  });

  it("is all or nothing: ENOMEM for the third table frees the first two and resets no bank", () => {
    const { platform, tables, smmu0, smmu1, table } = seedMachine();
    const bank = smmu0.contextBank("ctx0");
    bank.bind(table(V7S));
    bank.activate();
    const live = tables.liveTables;
    tables.failAfter = 2;
    expectError(
      () => new SmmuDeviceTree(platform, { tables, smmus: [{ smmu: "smmu0" }, { smmu: "smmu1" }] }),
      "ENOMEM",
    );
    expect([bank.active, tables.liveTables, SmmuDriver.of(smmu0), SmmuDriver.of(smmu1)]).toEqual([
      true,
      live,
      undefined,
      undefined,
    ]);
  });
});
