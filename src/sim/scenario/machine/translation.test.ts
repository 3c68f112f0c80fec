import { describe, expect, it } from "vitest";

import { Cpu } from "../../../devices/cpu.js";
import { Smmu, SmmuMaster } from "../../../devices/smmu.js";
import { buildMachine, machineSchema } from "../machine.js";
import { parseScenario } from "../parse.js";
import { runScenario } from "../run.js";
import { describeTranslationMachine, machineDumps } from "./translation-report.js";
import { PAGE_TABLE } from "./translation.js";

/** A scenario whose machine has DRAM, two targets, and these pageTables / devices lines. */
function text(pageTables: string, devices: string, steps = "  []\n"): string {
  return `version: 1
name: t
machine:
  regions:
    - { name: dram, base: 0x8000_0000, size: 64M, kind: ram }
  targets:
    - { name: system, allocator: buddy, ranges: [{ region: dram, size: 32M }] }
    - name: mm
      allocator: chunk-pool
      ranges: [{ region: dram, offset: 32M, size: 4M }]
      pools: [{ chunk: 1M, size: 4M }]
  pageTables:
${pageTables}  devices:
${devices}steps:
${steps}`;
}
// Line 13 of text() is the first page table.
const FIRST_TABLE_LINE = 13;

const TABLES = `    - { name: pt, format: { kind: lpae, stage: 1, granule: 4K, ias: 48, oas: 48 }, target: system }
    - { name: s2, format: { kind: lpae, stage: 2, ias: 40, oas: 40 }, target: system }
    - { name: io, format: { kind: v7s }, target: system }
`;

/** The errors as `line:col path: message`. */
function errors(t: string): string[] {
  const r = parseScenario(t, "t.yaml");
  if (r.ok) throw new Error("expected the scenario to be invalid");
  return r.errors.map((e) => `${e.line}:${e.column} ${e.path}: ${e.message}`);
}

describe("machine: the schema of page tables and devices", () => {
  it("parses formats with their defaults, TLB geometry and SMMU contexts", () => {
    const r = parseScenario(
      text(
        TABLES,
        `    - { kind: cpu, name: cpu0, ttbr0: pt, asid: 1, tlb: { sets: 16, ways: 2, replacement: fifo } }
    - kind: smmu
      name: smmu0
      contexts: [{ name: c0, table: io }, { name: c1, table: pt, stage2: s2, active: false }]
      masters: [{ name: dev0, context: c0 }]
    - { kind: one-to-one, name: dma, base: 0x8000_0000, size: 1M }
    - { kind: accelerator, name: npu, table: pt, localMemory: { name: hbm, base: 0x1_0000_0000, size: 16M } }
`,
      ),
      "t.yaml",
    );
    if (!r.ok) throw new Error(r.errors.map((e) => e.message).join("\n"));
    const m = r.scenario.machine;
    expect(m.pageTables![0]!.format).toEqual({
      kind: "lpae",
      stage: 1,
      granule: 4096,
      ias: 48,
      oas: 48,
    });
    expect(m.pageTables![1]!.format).toMatchObject({ stage: 2, granule: 4096, ias: 40 });
    expect(m.devices![1]).toMatchObject({
      kind: "smmu",
      contexts: [
        { name: "c0", table: "io", active: true },
        { name: "c1", stage2: "s2", active: false },
      ],
    });
  });

  it("refuses a bad format, granule, address size, tag or kind, at the value", () => {
    expect(
      errors(
        text(
          `    - { name: a, format: { kind: lpa }, target: system }
    - { name: b, format: { kind: lpae, stage: 3 }, target: system }
    - { name: c, format: { kind: lpae, stage: 1, granule: 8K, ias: 52 }, target: system }
`,
          `    - { kind: gpu, name: g }
    - { kind: cpu, name: c, asid: 70000, ttbr1: a }
    - { kind: smmu, name: s, contexts: [{ name: x, asid: 1 }] }
`,
        ),
      ),
    ).toEqual([
      `${FIRST_TABLE_LINE}:34 machine.pageTables[0].format.kind: unknown kind "lpa", did you mean "lpae"? (expected one of: lpae, v7s)`,
      `${FIRST_TABLE_LINE + 1}:47 machine.pageTables[1].format.stage: expected one of 1, 2, got 3`,
      `${FIRST_TABLE_LINE + 2}:59 machine.pageTables[2].format.granule: expected a granule of 4K, 16K or 64K, got 8 KiB`,
      `${FIRST_TABLE_LINE + 2}:68 machine.pageTables[2].format.ias: expected an input address size in bits, 32..48, got 52`,
      `${FIRST_TABLE_LINE + 4}:15 machine.devices[0].kind: unknown kind "gpu", did you mean "cpu"? (expected one of: cpu, smmu, one-to-one, accelerator)`,
      `${FIRST_TABLE_LINE + 5}:7 machine.devices[1].split: missing required key "split" (ttbr1 needs a split)`,
      `${FIRST_TABLE_LINE + 5}:35 machine.devices[1].asid: expected an ASID 0..65535, got 70000`,
      `${FIRST_TABLE_LINE + 6}:58 machine.devices[2].contexts[0].asid: asid is for a bound context: name its table first`,
    ]);
  });
});

describe("machine: what the model refuses, at the item or field", () => {
  it("an unknown table, a wrong stage, a duplicate or chunk-pool or unknown target", () => {
    expect(
      errors(
        text(
          TABLES +
            `    - { name: pt, format: { kind: v7s }, target: system }
    - { name: cp, format: { kind: v7s }, target: mm }
    - { name: nt, format: { kind: v7s }, target: nowhere }
`,
          `    - { kind: cpu, name: cpu0, ttbr0: ptt }
    - { kind: cpu, name: cpu1, ttbr0: s2 }
    - { kind: cpu, name: cpu2, ttbr0: pt, stage2: pt }
    - { kind: cpu, name: cpu3, ttbr0: cp }
`,
        ),
      ),
    ).toEqual([
      `16:15 machine.pageTables[3].name: EEXIST: page table "pt" already exists`,
      `17:50 machine.pageTables[4].target: EINVAL: target "mm" is a chunk pool; page tables need a buddy or contiguous target`,
      `18:50 machine.pageTables[5].target: ENOENT: no memory target named "nowhere" (have: system, mm)`,
      `20:39 machine.devices[0].ttbr0: ENOENT: no page table named "ptt", did you mean "pt"? (have: pt, s2, io)`,
      `21:39 machine.devices[1].ttbr0: EINVAL: cpu1: ttbr0 needs a stage-1 table, not lpae-s2 4K ias40 oas40 concat2`,
      `22:51 machine.devices[2].stage2: EINVAL: cpu2: stage 2 needs a stage-2 table, not lpae-s1 4K ias48 oas48`,
      // cpu3 names the refused table "cp": skipped, not reported again.
    ]);
  });

  it("an SMMU: a tag clash (EBUSY), a master on an unknown context, a taken name", () => {
    expect(
      errors(
        text(
          TABLES,
          `    - { kind: cpu, name: cpu0, ttbr0: pt }
    - kind: smmu
      name: smmu0
      contexts: [{ name: a, table: pt, asid: 3 }, { name: b, table: io, asid: 3 }]
      masters: [{ name: m0, context: zz }, { name: cpu0, context: a }]
    - { kind: one-to-one, name: smmu0, base: 0x8000_0000, size: 1M }
    - { kind: cpu, name: cpu9, tlb: { sets: 3 } }
    - { kind: accelerator, name: npu, localMemory: { name: dram, base: 0x9000_0000, size: 16M } }
`,
        ),
      ),
    ).toEqual([
      `20:51 machine.devices[1].contexts[1]: EBUSY: context "smmu0/b": context "a" already uses asid 3 in vmid 0`,
      `21:38 machine.devices[1].masters[0].context: ENOENT: SMMU "smmu0" has no context "zz" (have: a, b)`,
      `21:52 machine.devices[1].masters[1].name: EEXIST: device "cpu0" already exists (a cpu)`,
      `22:33 machine.devices[2].name: EEXIST: device "smmu0" already exists (a smmu)`,
      `23:37 machine.devices[3].tlb: EINVAL: TLB "cpu9 tlb": sets 3 is not a power of two >= 1`,
      `24:52 machine.devices[4].localMemory: EEXIST: region "dram" already exists`,
    ]);
  });

  it("builds everything it accepts; a run throws for the first problem", () => {
    const r = parseScenario(text(TABLES, "    - { kind: cpu, name: cpu0, ttbr0: pt }\n"), "t.yaml");
    if (!r.ok) throw new Error("invalid");
    const { machine, problems } = buildMachine(r.scenario.machine, 3);
    expect(problems).toEqual([]);
    expect(machine.objects.list(PAGE_TABLE).map((t) => t.name)).toEqual(["pt", "s2", "io"]);
    expect(machine.platform.device("cpu0", Cpu).mmu.ttbr0?.root).toBe(
      machine.objects.get(PAGE_TABLE, "pt").table.root,
    );
    // The roots are allocated from the target at once.
    expect(machine.platform.target("system").stats().liveAllocations).toBe(3);
    const bad = machineSchema.parse({
      regions: [{ name: "dram", base: 0x8000_0000, size: "1M", kind: "ram" }],
      targets: [{ name: "t", allocator: "buddy", ranges: [{ region: "dram" }] }],
      devices: [{ kind: "cpu", name: "c", ttbr0: "nope" }],
    });
    expect(() => runScenario({ ...r.scenario, machine: bad })).toThrow(
      /^ENOENT: machine\.devices\[0\]\.ttbr0: no page table named "nope"/,
    );
  });
});

describe("machine: the summary and dumps", () => {
  const r = parseScenario(
    text(
      TABLES,
      `    - { kind: cpu, name: cpu0, ttbr0: pt, asid: 1, stage2: s2, vmid: 2 }
    - kind: smmu
      name: smmu0
      tlb: { sets: 4, ways: 2 }
      contexts: [{ name: c0, table: io }, { name: c1, active: false }]
      masters: [{ name: dev0, context: c0 }]
    - { kind: one-to-one, name: dma, base: 0x8000_0000, size: 1M }
`,
    ),
    "t.yaml",
  );
  if (!r.ok) throw new Error("invalid");
  const { machine } = buildMachine(r.scenario.machine);

  it("describes tables and devices by name", () => {
    const d = describeTranslationMachine(machine);
    expect(d.pageTables.map((t) => [t.name, t.format, t.target])).toEqual([
      ["pt", "lpae-s1 4K ias48 oas48", "system"],
      ["s2", "lpae-s2 4K ias40 oas40 concat2", "system"],
      ["io", "v7s", "system"],
    ]);
    expect(d.devices).toEqual([
      {
        name: "cpu0",
        kind: "cpu",
        ttbr0: "pt",
        stage2: "s2",
        asid: 1,
        vmid: 2,
        tlb: { name: "cpu0 tlb", sets: 128, ways: 4, replacement: "lru" },
      },
      {
        name: "smmu0",
        kind: "smmu",
        tlb: { name: "smmu0 tlb", sets: 4, ways: 2, replacement: "lru" },
        contexts: [
          { name: "c0", index: 0, table: "io", asid: 0, vmid: 0, bound: true, active: true },
          { name: "c1", index: 1, asid: 1, vmid: 0, bound: false, active: false },
        ],
        masters: [{ name: "dev0", context: "c0" }],
      },
      { name: "dev0", kind: "smmu-master", smmu: "smmu0", context: "c0" },
      { name: "dma", kind: "one-to-one", window: { base: 0x8000_0000, size: 1 << 20 } },
    ]);
    expect(machine.platform.device("dev0", SmmuMaster).smmu).toBe(
      machine.platform.device("smmu0", Smmu),
    );
  });

  it("dumps every table and TLB, or the ones named", () => {
    const all = machineDumps(machine);
    expect(all.pageTables.map((t) => t.name)).toEqual(["pt", "s2", "io"]);
    expect(all.tlbs.map((t) => t.device)).toEqual(["cpu0", "smmu0"]);
    expect(all.pageTables[2]!.text).toMatch(/^page table "io" \(v7s\): root 0x8/);
    const one = machineDumps(machine, { tlb: "dev0" });
    expect(one).toMatchObject({ pageTables: [], tlbs: [{ device: "smmu0", tlb: "smmu0 tlb" }] });
    expect(() => machineDumps(machine, { table: "nope" })).toThrow(/no page table named "nope"/);
    expect(() => machineDumps(machine, { tlb: "dma" })).toThrow(/one-to-one: it has no TLB/);
  });
});
