import { describe, expect, it } from "vitest";

import { VCM_MEMTYPE_1 } from "../../../vcm/index.js";
import { buildMachine, machineStatistics, summarizeMachine } from "../machine.js";
import { deviceAddressSpaces } from "../machine-module.js";
import { parseScenario } from "../parse.js";
import { runScenario } from "../run.js";
import { machineVcmGraph, scenarioVcm, vcmConfigTable, vcmGraphTables } from "./vcm.js";

/** A machine with two chunk-pool targets, a buddy one, tables, a CPU, an SMMU, and `vcm`. */
function text(vcm: string, steps = "  []\n"): string {
  return `version: 1
name: t
machine:
  regions:
    - { name: dram, base: 0x8000_0000, size: 64M, kind: ram }
  targets:
    - { name: pgtables, allocator: buddy, ranges: [{ region: dram, size: 16M }] }
    - name: pools
      allocator: chunk-pool
      ranges: [{ region: dram, offset: 16M, size: 16M }]
      pools: [{ chunk: 1M, size: 8M }, { chunk: 4K, size: 4M }]
      contiguous: 4M
    - { name: pools2, allocator: chunk-pool, ranges: [{ region: dram, offset: 32M, size: 4M }], pools: [{ chunk: 4K, size: 4M }] }
  pageTables:
    - { name: kernel-pt, format: { kind: lpae, stage: 1 }, target: pgtables }
  devices:
    - { kind: cpu, name: cpu0, ttbr1: kernel-pt, split: 0x8000_0000_0000 }
    - kind: smmu
      name: smmu0
      contexts: [{ name: c0 }, { name: c1 }]
      masters: [{ name: m0, context: c0 }, { name: m1, context: c1 }]
    - kind: smmu
      name: smmu1
      contexts: [{ name: d0 }]
  vcm:
${vcm}steps:
${steps}`;
}
// Line 26 of text() is the first line of the vcm section: line 1 in the errors below.
const VCM_LINE = 25;

function errors(t: string): string[] {
  const r = parseScenario(t, "t.yaml");
  if (r.ok) throw new Error("expected the scenario to be invalid");
  return r.errors.map((e) => `${e.line - VCM_LINE}:${e.column} ${e.path}: ${e.message}`);
}

function parsed(t: string) {
  const r = parseScenario(t, "t.yaml");
  if (!r.ok) throw new Error(r.errors.map((e) => `${e.path}: ${e.message}`).join("\n"));
  return r.scenario;
}

const GOOD = `    memtypes: [{ memtype: 0, target: pools }, { memtype: 1, target: pools2 }]
    tables: pgtables
    smmus: [{ smmu: smmu0, base: 0x0400_0000, version: 3 }, { smmu: smmu1, irq: 9 }]
    prebuilt: { kernel: { table: kernel-pt, start: 0x8000_1000_0000, len: 16M } }
`;

describe("machine.vcm: building the VCM manager", () => {
  it("builds the manager with its memtypes, device tree and prebuilt spaces, and summarizes it", () => {
    const { machine, problems } = buildMachine(parsed(text(GOOD)).machine);
    expect(problems).toEqual([]);
    const v = scenarioVcm(machine.objects)!;
    expect(v.manager.devices.instances().map((d) => d.name)).toEqual(["c0", "c1", "d0"]);
    expect(v.manager.physAlloc(VCM_MEMTYPE_1, 8192, 0).chunks).toHaveLength(2);
    const summary = summarizeMachine(machine).vcm!;
    expect(summary).toEqual({
      memtypes: [
        {
          memtype: "VCM_MEMTYPE_0",
          target: "pools",
          contiguous: { base: 0x8000_0000 + (28 << 20), size: 4 << 20 },
        },
        { memtype: "VCM_MEMTYPE_1", target: "pools2" },
      ],
      tables: "pgtables",
      smmus: [
        { smmu: "smmu0", base: 0x0400_0000, irq: 0, version: 3, contexts: ["c0", "c1"] },
        { smmu: "smmu1", base: 0, irq: 9, version: 1, contexts: ["d0"] },
      ],
      prebuilt: [{ id: "kernel", table: "kernel-pt", start: 0x8000_1000_0000, len: 16 << 20 }],
      allowAliases: false,
    });
    expect(vcmConfigTable(summary).rows).toEqual([
      ["VCM_MEMTYPE_0", "target pools, contiguous 0x81c00000-0x81ffffff (4 MiB)"],
      ["VCM_MEMTYPE_1", "target pools2"],
      ["tables", "target pgtables"],
      ["smmu0", "base 0x4000000, irq 0, version 3; contexts c0, c1"],
      ["smmu1", "base 0x0, irq 9, version 1; contexts d0"],
      ["prebuilt kernel", "kernel-pt 0x800010000000-0x800010ffffff (16 MiB)"],
      ["aliases", "refused (EINVAL)"],
    ]);
  });

  it("a machine without a vcm section has no manager, no summary key and no vcm statistics", () => {
    const t = text(GOOD).replace(/ {2}vcm:\n(?: {4}.*\n)+/, "");
    const { machine } = buildMachine(parsed(t).machine);
    expect(scenarioVcm(machine.objects)).toBeUndefined();
    expect(summarizeMachine(machine).vcm).toBeUndefined();
    expect(machineStatistics(machine).vcm).toBeUndefined();
    expect(machineVcmGraph(machine)).toBeUndefined();
  });

  it("reports each refused item at its path, and builds with the rest", () => {
    const t = text(`    memtypes:
      - { memtype: 0, target: pgtables }
      - { memtype: 1, target: nowhere }
      - { memtype: 2, target: pools }
      - { memtype: 2, target: pools2 }
    tables: pgtables
    smmus: [{ smmu: smmu9 }, { smmu: cpu0 }, { smmu: smmu0 }, { smmu: smmu0 }, { smmu: smmu1 }]
    prebuilt: { kernel: { table: kernel_pt, start: 0, len: 16M } }
`);
    expect(errors(t)).toEqual([
      '2:31 machine.vcm.memtypes[0].target: EINVAL: vcm_sys_init: VCM_MEMTYPE_0\'s target "pgtables" is a buddy target, not a chunk pool',
      '3:31 machine.vcm.memtypes[1].target: ENOENT: no memory target named "nowhere" (have: pgtables, pools, pools2)',
      "5:20 machine.vcm.memtypes[3].memtype: EINVAL: VCM_MEMTYPE_2 is configured twice",
      '7:21 machine.vcm.smmus[0].smmu: ENODEV: the machine has no SMMU "smmu9" (have: smmu0, smmu1)',
      '7:38 machine.vcm.smmus[1].smmu: ENODEV: the machine has no SMMU "cpu0" (have: smmu0, smmu1)',
      '7:71 machine.vcm.smmus[3].smmu: EINVAL: SMMU "smmu0" is listed twice',
      '8:34 machine.vcm.prebuilt.kernel.table: ENOENT: no page table named "kernel_pt", did you mean "kernel-pt"? (have: kernel-pt)',
    ]);
  });

  it("accepted items still build when others are refused; a default irq is the index as written", () => {
    const r = parseScenario(
      text(`    tables: pgtables
    smmus: [{ smmu: smmu9 }, { smmu: smmu1 }]
`),
      "t.yaml",
    );
    expect(r.ok).toBe(false);
    // Build the same machine by hand to see what it kept.
    const good = parsed(text(`    tables: pgtables\n    smmus: [{ smmu: smmu1 }]\n`)).machine;
    const m = {
      ...good,
      vcm: { ...good.vcm!, smmus: [{ smmu: "smmu9" }, { smmu: "smmu1" }] },
    };
    const { machine, problems } = buildMachine(m);
    expect(problems.map((p) => p.path.join("."))).toEqual(["machine.vcm.smmus.0.smmu"]);
    expect(summarizeMachine(machine).vcm!.smmus).toEqual([
      { smmu: "smmu1", base: 0, irq: 1, version: 1, contexts: ["d0"] },
    ]);
  });

  it("refuses table memory that is not a buddy or contiguous target, and then builds nothing", () => {
    expect(errors(text("    tables: pools\n"))).toEqual([
      '1:13 machine.vcm.tables: EINVAL: target "pools" is a chunk pool; page tables need a buddy or contiguous target',
    ]);
    expect(errors(text("    tables: nope\n"))).toEqual([
      '1:13 machine.vcm.tables: ENOENT: no memory target named "nope" (have: pgtables, pools, pools2)',
    ]);
    const m = parsed(text("    tables: pgtables\n")).machine;
    const { machine, problems } = buildMachine({ ...m, vcm: { ...m.vcm!, tables: "pools" } });
    expect(problems).toHaveLength(1);
    expect(scenarioVcm(machine.objects)).toBeUndefined();
  });

  it("checks the section's form: memtypes 0..2, unknown keys", () => {
    expect(
      errors(
        text(`    memtypes: [{ memtype: 3, target: pools }]
    tables: pgtables
    allowAlias: true
`),
      ),
    ).toEqual([
      "1:27 machine.vcm.memtypes[0].memtype: expected a memtype 0, 1 or 2 (VCM_MEMTYPE_0..2), got 3",
      '3:5 machine.vcm.allowAlias: unknown key "allowAlias", did you mean "allowAliases"? (allowed: memtypes, tables, smmus, prebuilt, allowAliases)',
    ]);
  });
});

describe("machine.vcm: the graph and the address spaces devices see", () => {
  const STEPS = `  - { op: vcm.create, start: 0x1000_0000, len: 16M, as: v }
  - { op: vcm.assoc, vcm: v, device: c0, as: a }
  - { op: vcm.activate, assoc: a }
  - { op: vcm.createBound, vcm: v, len: 1M, as: b }
  - { op: vcm.reserveFromBound, bound: b, len: 64K, attr: [READ, WRITE, WB_WA], as: r }
  - { op: vcm.physAlloc, memtype: 0, len: 64K, as: p }
  - { op: vcm.back, res: r, physmem: p }
  - { op: vcm.createFromPrebuilt, id: kernel, as: k }
  - { op: vcm.assoc, vcm: k, device: cpu0, as: ka }
  - { op: vcm.hook, device: c0, answer: terminate }
`;

  it("reports devices, VCMs, associations, reservations, bounds, physmems, hooks and stats", () => {
    let spaces: Record<string, string[]> = {};
    const r = runScenario(parsed(text(GOOD, STEPS)), {
      onFinish: (m) => {
        spaces = Object.fromEntries(
          ["m0", "m1", "c0", "cpu0"].map((d) => [d, deviceAddressSpaces(m.objects, d)]),
        );
      },
    });
    expect(r.ok).toBe(true);
    expect(spaces).toEqual({ m0: ["vcm:v"], m1: [], c0: ["vcm:v"], cpu0: ["vcm:k"] });
    const g = r.statistics.vcm!;
    expect(g.devices).toEqual([
      {
        name: "c0",
        kind: "smmu-context",
        smmu: "smmu0",
        context: 0,
        active: true,
        mappings: 16,
        associations: ["a"],
      },
      {
        name: "c1",
        kind: "smmu-context",
        smmu: "smmu0",
        context: 1,
        active: false,
        mappings: 0,
        associations: [],
      },
      {
        name: "d0",
        kind: "smmu-context",
        smmu: "smmu1",
        context: 0,
        active: false,
        mappings: 0,
        associations: [],
      },
      { name: "cpu0", kind: "cpu", associations: ["ka"] },
    ]);
    expect(g.vcms.map((v) => [v.name, v.typeName, v.table, v.bounds])).toEqual([
      ["v", "VCM_DEVICE", "c0", 1],
      ["k", "VCM_EXT_KERNEL", "kernel-pt", 0],
    ]);
    expect(g.associations).toEqual([
      { name: "a", vcm: "v", device: "c0", attr: 0, attrs: "0", active: true },
      { name: "ka", vcm: "k", device: "cpu0", attr: 0, attrs: "0", active: false },
    ]);
    expect(g.reservations).toEqual([
      {
        name: "r",
        vcm: "v",
        devAddr: 0x1000_0000,
        len: 64 << 10,
        attr: 0x301,
        attrs: "READ|WRITE|WB_WA",
        physmem: "p",
        bound: "b",
      },
    ]);
    expect(g.bounds).toEqual([
      { name: "b", vcm: "v", start: 0x1000_0000, len: 1 << 20, reservations: 1 },
    ]);
    expect(g.physmems).toEqual([
      {
        name: "p",
        memtype: "VCM_MEMTYPE_0",
        len: 64 << 10,
        attr: 0,
        attrs: "0",
        chunks: [{ size: 4096, count: 16 }],
        segments: [{ pa: 0x8000_0000 + (24 << 20), len: 64 << 10 }],
        backs: ["r"],
      },
    ]);
    expect(g.hooks).toEqual([{ device: "c0", answer: "terminate", calls: 0 }]);
    expect(g.stats).toEqual({ backs: 1, unbacks: 0, pagesMapped: { "4K": 16 }, aliases: 0 });
    expect(vcmGraphTables(g).map((t) => t.title)).toEqual([
      "VCM devices",
      "VCMs",
      "VCM associations",
      "VCM reservations",
      "VCM bounds",
      "VCM physmems",
      "VCM fault hooks",
      "VCM statistics",
    ]);
    expect(vcmGraphTables(g)[3]!.rows).toEqual([
      ["r (in b)", "v", "0x10000000-0x1000ffff", "64 KiB", "READ|WRITE|WB_WA", "p"],
    ]);
  });

  it("a stats step reports the graph; its summary counts it", () => {
    const r = runScenario(parsed(text(GOOD, STEPS + "  - { op: stats }\n")));
    const s = r.steps.at(-1)!;
    expect(s.summary).toContain("2 VCMs, 1 reservation, 1 physmem");
    expect((s.output as { vcm: { vcms: unknown[] } }).vcm.vcms).toHaveLength(2);
    expect(s.tables!.map((t) => t.title)).toContain("VCM reservations");
  });
});
