import { describe, expect, it } from "vitest";

import type { BuiltMachine } from "../machine-module.js";
import { PAGE_TABLE } from "../machine/translation.js";
import { parseScenario } from "../parse.js";
import type { RunResult } from "../run.js";
import { runScenario } from "../run.js";
import { streamTables } from "../machine/translation-report.js";
import { stepOf, stepScenarios } from "./steps.testutil.js";

const MACHINE = `version: 1
name: t
seed: 3
machine:
  regions:
    - { name: dram, base: 0x8000_0000, size: 64M, kind: ram }
  targets:
    - { name: system, allocator: buddy, ranges: [{ region: dram, size: 32M }] }
    - { name: tables, allocator: buddy, ranges: [{ region: dram, offset: 32M, size: 1M }] }
  pageTables:
    - { name: cpu-pt, format: { kind: lpae, stage: 1 }, target: tables }
    - { name: dev-pt, format: { kind: v7s }, target: tables }
    - { name: npu-pt, format: { kind: lpae, stage: 1, granule: 64K, ias: 40, oas: 40 }, target: tables }
  devices:
    - { kind: cpu, name: cpu0, ttbr0: cpu-pt, asid: 1, tlb: { sets: 8, ways: 2 } }
    - kind: smmu
      name: smmu0
      tlb: { sets: 8, ways: 2 }
      contexts: [{ name: dev, table: dev-pt }, { name: spare, active: false }]
      masters: [{ name: dev0, context: dev }]
    - { kind: one-to-one, name: dma, base: 0x8000_0000, size: 1M }
    - { kind: accelerator, name: npu, table: npu-pt, asid: 5, localMemory: { name: hbm, base: 0x1_0000_0000, size: 16M } }
steps:
`;
// Line 24 of MACHINE + steps is the first step.
const FIRST_STEP_LINE = 24;

/** A buffer mapped for the CPU at 0x4000_0000 (4K pages) and the device at 0x1000_0000 (1M). */
const SHARED = [
  "{ op: alloc, target: system, size: 1M, as: buf }",
  "{ op: map, table: cpu-pt, va: 0x4000_0000, pa: buf, size: 16K, prot: rwc }",
  "{ op: map, table: dev-pt, va: 0x1000_0000, pa: buf, size: 1M, prot: rw }",
];

const { run, errors, text } = stepScenarios(MACHINE, "t.yaml");

const failures = (r: RunResult) =>
  r.expectations.list.filter((e) => !e.passed).map((e) => e.message);
const step = stepOf;

describe("map, access: the same bytes through two tables", () => {
  it("the CPU writes, the device reads; outputs say where and whether the TLB hit", () => {
    const r = run(
      ...SHARED,
      "{ op: access, device: cpu0, kind: write, va: 0x4000_0ffe, data: 'de ad be ef' }",
      "{ op: access, device: dev0, kind: read, va: 0x1000_0ffe, expect: 'de ad be ef' }",
      "{ op: access, device: dev0, kind: read, va: 0x1000_1000, size: 2 }",
      "{ op: access, device: dev0, kind: write, va: 0x1000_2000, data: { text: hi } }",
      "{ op: access, device: cpu0, kind: read, va: 0x4000_2000, expect: { text: hi } }",
    );
    expect(failures(r)).toEqual([]);
    expect(step(r, 1).summary).toBe("0x40000000-0x40003fff -> 0x80000000: 4×4 KiB");
    expect(step(r, 2).output).toMatchObject({ leaves: [{ size: 1 << 20, count: 1 }] });
    // The write crosses a page boundary: two translations (two 4K pages), the first missing.
    expect(step(r, 3).output).toEqual({
      device: "cpu0",
      kind: "write",
      va: 0x4000_0ffe,
      size: 4,
      pa: 0x8000_0ffe,
      tlb: "miss",
      chunks: 2,
    });
    expect(step(r, 3).description).toBe("cpu0: write 4 bytes at 0x40000ffe");
    expect(step(r, 4).output).toMatchObject({ pa: 0x8000_0ffe, tlb: "miss", chunks: 1 });
    expect(step(r, 5).output).toMatchObject({ tlb: "hit", data: "be ef" });
    expect(step(r, 5).summary).toBe("0x10001000 -> 0x80001000, TLB hit: be ef");
    expect(step(r, 6).output).toMatchObject({ pa: 0x8000_2000, tlb: "hit" });
  });

  it("a one-to-one device reaches its window physically (allocation names work)", () => {
    const r = run(
      "{ op: alloc, target: system, size: 4K, as: b }",
      "{ op: access, device: dma, kind: write, va: b + 8, data: '01 02' }",
      "{ op: read, addr: b + 8, expect: '01 02' }",
      "{ op: access, device: dma, kind: read, va: 0x8010_0000, size: 1, expectFault: { kind: translation, stage: 1, level: 0 } }",
    );
    expect(failures(r)).toEqual([]);
    expect(step(r, 1).output).toMatchObject({ pa: 0x8000_0008, tlb: "none" });
  });

  it("an accelerator maps its local memory with 64K pages", () => {
    const r = run(
      "{ op: alloc, target: hbm, size: 64K, as: w }",
      "{ op: map, table: npu-pt, va: 0x20_0000, pa: w, size: 64K, prot: rw }",
      "{ op: access, device: npu, kind: write, va: 0x20_0010, data: { text: weights } }",
      "{ op: read, addr: w + 0x10, expect: { text: weights } }",
      "{ op: translate, device: npu, va: 0x20_0000, expect: { pa: w, size: 64K } }",
    );
    expect(failures(r)).toEqual([]);
    expect(r.machine.regions.map((x) => x.name)).toEqual(["dram", "hbm"]);
    expect(step(r, 0).output).toMatchObject({ chunks: [{ pa: 0x1_0000_0000 }] });
  });
});

describe("access: faults as expectations", () => {
  it("a matching fault passes; another fault, success or another error fails; the run goes on", () => {
    const r = run(
      ...SHARED,
      "{ op: map, table: dev-pt, va: 0x2000_0000, pa: buf, size: 64K, prot: r }",
      "{ op: access, device: dev0, kind: write, va: 0x2000_0000, data: '00', expectFault: { kind: permission, stage: 1, level: 2 } }",
      "{ op: access, device: dev0, kind: write, va: 0x2000_0000, data: '00', expectFault: { kind: translation } }",
      "{ op: access, device: dev0, kind: read, va: 0x2000_0000, size: 1, expectFault: { kind: permission } }",
      "{ op: access, device: dma, kind: read, va: 0x0, size: 1, expectFault: { kind: translation, level: 1 } }",
      "{ op: access, device: dev0, kind: write, va: 0x2000_0000, data: '00', expectError: EFAULT }",
      "{ op: map, table: dev-pt, va: 0x3000_0000, pa: 0x4000_0000, size: 1M, prot: rw }",
      "{ op: access, device: dev0, kind: read, va: 0x3000_0000, size: 1, expectFault: { kind: translation } }",
    );
    expect(r.expectations.list.map((e) => [e.step, e.passed, e.message])).toEqual([
      [4, true, "dev0 write of 1 byte at 0x20000000 faults: permission fault, stage 1 level 2"],
      [
        5,
        false,
        "dev0 write of 1 byte at 0x20000000: expected a translation fault, got permission fault, stage 1 level 2",
      ],
      [
        6,
        false,
        "dev0 read of 1 byte at 0x20000000: expected a permission fault, but it succeeded",
      ],
      [
        7,
        false,
        "dma read of 1 byte at 0x0: expected a translation fault (level 1), got translation fault, stage 1 level 0",
      ],
      [8, true, "dev0: write 1 byte at 0x20000000 fails with EFAULT"],
      [
        10,
        false,
        "dev0 read of 1 byte at 0x30000000: expected a translation fault, got EFAULT: bus error: physical address 0x40000000 is in no region",
      ],
    ]);
    expect(r.steps.slice(4).map((s) => s.status)).toEqual([
      "ok",
      "failed",
      "failed",
      "failed",
      "expected-error",
      "ok",
      "failed",
    ]);
    expect(step(r, 4).summary).toBe("permission fault, stage 1 level 2 (as expected)");
    expect(step(r, 4).output).toMatchObject({
      fault: { kind: "permission", stage: 1, level: 2, context: "smmu0/dev", ipa: null },
    });
    expect(r.stoppedAt).toBeUndefined();
  });

  it("an unexpected fault stops the run", () => {
    const r = run(
      "{ op: access, device: cpu0, kind: read, va: 0x4000_0000, size: 4 }",
      "{ op: stats }",
    );
    expect(r.stoppedAt).toBe(0);
    expect(step(r, 0).error!.message).toMatch(
      /^EFAULT: cpu0: privileged read of 0x40000000-0x40000003 faulted at 0x40000000: translation fault, stage 1 level 0/,
    );
    expect(step(r, 1).status).toBe("skipped");
  });

  it("unmap and protect leave no stale TLB entry", () => {
    const r = run(
      ...SHARED,
      "{ op: access, device: dev0, kind: read, va: 0x1000_0000, size: 4 }",
      "{ op: access, device: dev0, kind: read, va: 0x1000_0000, size: 4 }",
      "{ op: unmap, table: dev-pt, va: 0x1000_0000, size: 1M, expectUnmapped: 1M }",
      "{ op: access, device: dev0, kind: read, va: 0x1000_0000, size: 4, expectFault: { kind: translation, stage: 1, level: 1 } }",
      "{ op: access, device: cpu0, kind: write, va: 0x4000_0000, data: '01' }",
      "{ op: protect, table: cpu-pt, va: 0x4000_0000, size: 4K, prot: r }",
      "{ op: access, device: cpu0, kind: write, va: 0x4000_0000, data: '02', expectFault: { kind: permission, stage: 1, level: 3 } }",
      "{ op: access, device: cpu0, kind: read, va: 0x4000_0000, expect: '01' }",
      "{ op: unmap, table: cpu-pt, va: 0x4000_0000, size: 64K, expectUnmapped: 16K }",
      "{ op: unmap, table: cpu-pt, va: 0x4000_0000, size: 4K, expectUnmapped: 4K }",
    );
    expect(failures(r)).toEqual([
      "unmap of 4 KiB at 0x40000000 in cpu-pt: expected 4 KiB unmapped, got 0 B",
    ]);
    expect(step(r, 4).output).toMatchObject({ tlb: "hit" });
    expect(step(r, 11).summary).toBe("unmapped 16 KiB of 64 KiB");
  });
});

describe("translate, dump, tlbi, smmu", () => {
  it("translate probes a device (permissions, TLB) or a table alone", () => {
    const r = run(
      ...SHARED,
      "{ op: translate, device: cpu0, va: 0x4000_1234, expect: { pa: buf + 0x1234, size: 4K } }",
      "{ op: translate, device: cpu0, va: 0x4000_1000, kind: write, privileged: false }",
      "{ op: translate, device: cpu0, va: 0xc000_0000, expect: { fault: { kind: translation, stage: 1, level: 1 } } }",
      "{ op: translate, table: dev-pt, va: 0x1008_0000, expect: { pa: buf + 512K, size: 1M } }",
      "{ op: translate, table: dev-pt, va: 0x3000_0000, expect: { fault: { kind: translation, level: 1 } } }",
      "{ op: translate, table: cpu-pt, va: 0x4000_0000, expect: { pa: 0x9000_0000 } }",
    );
    expect(failures(r)).toEqual(["0x40000000 through cpu-pt: expected 0x90000000, got 0x80000000"]);
    expect(step(r, 3).output).toEqual({
      va: 0x4000_1234,
      pa: 0x8000_1234,
      size: 4096,
      perm: "r w - R W -",
      hit: false,
    });
    expect(step(r, 4).output).toMatchObject({ hit: true });
    expect(step(r, 5).summary).toBe("translation fault, stage 1 level 1");
    expect(step(r, 6).output).toMatchObject({ attributes: "rw- user nG AF normal-nc outer" });
  });

  it("dump records the text of a table, a TLB, a walk as blocks", () => {
    const r = run(
      ...SHARED,
      "{ op: access, device: dev0, kind: read, va: 0x1000_0000, size: 4 }",
      "{ op: dump, table: dev-pt }",
      "{ op: dump, tlb: dev0 }",
      "{ op: dump, walk: cpu0, va: 0x4000_0000 }",
    );
    expect(failures(r)).toEqual([]);
    const [table, tlb, walk] = [4, 5, 6].map((i) => step(r, i));
    expect(table!.blocks![0]!.title).toBe("page table dev-pt (v7s, target tables)");
    expect(table!.blocks![0]!.text).toMatch(
      /^page table "dev-pt" \(v7s\): root 0x82004000\nL1 table @0x82004000 \[0x0-0xffffffff\]\n {2}L1 0x10000000-0x100fffff -> 0x80000000-0x800fffff 1M rw- /,
    );
    expect(table!.output).toMatchObject({ table: "dev-pt", format: "v7s", leaves: 1 });
    expect(tlb!.blocks![0]!.title).toBe("TLB of smmu0");
    expect(tlb!.blocks![0]!.text).toMatch(
      /^TLB "smmu0 tlb": 8 sets x 2 ways = 16 entries, lru; 1 valid/,
    );
    expect(tlb!.summary).toBe("smmu0 tlb: 1 valid entry");
    expect(walk!.blocks![0]!.text).toMatch(/^0x40000000 in cpu0 \(asid 1, vmid 0\):\n {2}stage 1/);
    // JSON carries the text as strings.
    const json = JSON.parse(JSON.stringify(r)) as RunResult;
    expect(json.steps[5]!.blocks![0]!.text).toBe(tlb!.blocks![0]!.text);
  });

  it("tlbi removes entries of a CPU, an ASID, a range, an SMMU context", () => {
    const r = run(
      ...SHARED,
      "{ op: access, device: cpu0, kind: read, va: 0x4000_0000, size: 1 }",
      "{ op: access, device: cpu0, kind: read, va: 0x4000_1000, size: 1 }",
      "{ op: tlbi, device: cpu0, va: 0x4000_1000, size: 4K }",
      "{ op: tlbi, device: cpu0, asid: 2 }",
      "{ op: tlbi, device: cpu0, asid: 1 }",
      "{ op: access, device: dev0, kind: read, va: 0x1000_0000, size: 1 }",
      "{ op: tlbi, device: dev0, va: 0x1000_0000, size: 4K }",
      "{ op: access, device: dev0, kind: read, va: 0x1000_0000, size: 1 }",
      "{ op: tlbi, device: smmu0, context: dev }",
      "{ op: tlbi, device: smmu0, all: true }",
      "{ op: tlbi, device: smmu0, asid: 1, expectError: EINVAL }",
      "{ op: tlbi, device: cpu0, context: dev, expectError: EINVAL }",
      "{ op: tlbi, device: smmu0, va: 0, size: 4K, expectError: EINVAL }",
      "{ op: expect, device: cpu0, tlbEntries: 0, tlbInvalidated: 2 }",
      "{ op: expect, device: dev0, tlbEntries: 0, tlbMisses: 2 }",
    );
    expect(failures(r)).toEqual([]);
    expect([5, 6, 7, 9, 11, 12].map((i) => step(r, i).output!.removed)).toEqual([1, 0, 1, 1, 1, 0]);
    expect(step(r, 5).summary).toBe("cpu0 tlb: 1 entry removed, 1 left");
    expect(step(r, 5).description).toBe("tlbi cpu0: 0x40001000+4 KiB");
  });

  it("smmu deactivates and activates a context; its accesses fault meanwhile", () => {
    const r = run(
      ...SHARED,
      "{ op: smmu, smmu: smmu0, context: dev, action: deactivate }",
      "{ op: access, device: dev0, kind: read, va: 0x1000_0000, size: 1, expectFault: { kind: translation, stage: 1, level: 0 } }",
      "{ op: smmu, smmu: smmu0, context: dev, action: deactivate, expectError: ENOENT }",
      "{ op: smmu, smmu: smmu0, context: dev, action: activate }",
      "{ op: smmu, smmu: smmu0, context: dev, action: activate, expectError: EBUSY }",
      "{ op: access, device: dev0, kind: read, va: 0x1000_0000, size: 1 }",
      "{ op: smmu, smmu: smmu0, context: spare, action: activate }",
    );
    expect(failures(r)).toEqual([]);
    expect(step(r, 3).summary).toBe("smmu0/dev inactive");
    expect(step(r, 9).summary).toBe("smmu0/spare active (unbound: every access faults)");
  });
});

describe("expect and stats of devices and tables", () => {
  it("checks device and page-table statistics; each key is an expectation", () => {
    const r = run(
      ...SHARED,
      "{ op: access, device: cpu0, kind: write, va: 0x4000_0000, data: '01' }",
      "{ op: access, device: cpu0, kind: read, va: 0x4000_0000, size: 1 }",
      "{ op: access, device: dev0, kind: read, va: 0x1000_0000, size: 1 }",
      "{ op: expect, device: cpu0, reads: 1, writes: 1, faults: 0, tlbHits: 1, tlbMisses: 1, walks: 1, descriptorReads: 4, tlbEntries: 1 }",
      "{ op: expect, device: smmu0, tlbHits: 0, tlbMisses: 1, walks: 1, descriptorReads: 1, tlbEvictions: 0 }",
      "{ op: expect, table: cpu-pt, tables: 4, tableBytes: 16K, mappedBytes: 16K, leaves: { 4K: 4, 2M: 0 }, maps: 1, unmaps: 0, splits: 0, flushes: 0 }",
      "{ op: expect, table: dev-pt, tables: 2, leaves: { 1M: 1 } }",
      "{ op: expect, device: smmu0, reads: 1 }",
    );
    expect(failures(r)).toEqual([
      "dev-pt.tables: expected 2, got 1",
      'expect smmu0: reads 1: step failed: EINVAL: device "smmu0" is a smmu: it makes no accesses (reads counts a bus master\'s)',
    ]);
    expect(step(r, 6).description).toBe(
      "expect cpu0: reads 1, writes 1, faults 0, tlbHits 1, tlbMisses 1, tlbEntries 1, walks 1, descriptorReads 4",
    );
    expect(step(r, 8).description).toBe(
      "expect cpu-pt: tables 4, tableBytes 16 KiB, mappedBytes 16 KiB, maps 1, unmaps 0, splits 0, flushes 0, 4 4 KiB leaves, 0 2 MiB leaves",
    );
    expect(r.stoppedAt).toBe(10);
  });

  it("stats reports devices and tables (all, or the one named), with tables for people", () => {
    const r = run(
      ...SHARED,
      "{ op: stats, device: dev0 }",
      "{ op: stats, table: dev-pt }",
      "{ op: stats }",
    );
    expect(failures(r)).toEqual([]);
    expect(step(r, 3).output).toMatchObject({
      targets: [],
      devices: [{ name: "dev0", kind: "smmu-master", context: { name: "smmu0/dev", walks: 0 } }],
    });
    expect(step(r, 4).output!.pageTables).toMatchObject([
      { name: "dev-pt", format: "v7s", tables: 1, leaves: [{ size: 1 << 20, count: 1 }] },
    ]);
    expect(step(r, 5).tables!.map((t) => t.title)).toEqual([
      "Memory targets",
      "Devices",
      "TLBs",
      "Page tables",
    ]);
  });
});

describe("the run's machine and final statistics", () => {
  it("describes devices and tables, and ends with their statistics", () => {
    let seen: BuiltMachine | undefined;
    const parsed = parseScenario(text([...SHARED]), "t.yaml");
    if (!parsed.ok) throw new Error("invalid");
    const r = runScenario(parsed.scenario, { onFinish: (m) => (seen = m) });
    expect(seen!.objects.get(PAGE_TABLE, "cpu-pt").target).toBe("tables");
    expect(r.machine.pageTables!.map((t) => t.name)).toEqual(["cpu-pt", "dev-pt", "npu-pt"]);
    expect(r.machine.devices!.map((d) => `${d.name}:${d.kind}`)).toEqual([
      "cpu0:cpu",
      "smmu0:smmu",
      "dev0:smmu-master",
      "dma:one-to-one",
      "npu:accelerator",
    ]);
    expect(r.statistics.devices!.map((d) => Object.keys(d))).toEqual([
      ["name", "kind", "accesses", "context", "tlb"],
      ["name", "kind", "contexts", "tlb"],
      ["name", "kind", "accesses", "context"],
      ["name", "kind", "accesses"],
      ["name", "kind", "accesses", "context", "tlb"],
    ]);
    expect(r.statistics.pageTables![0]).toMatchObject({
      name: "cpu-pt",
      tables: 4,
      tablesByLevel: [
        { level: 0, count: 1 },
        { level: 1, count: 1 },
        { level: 2, count: 1 },
        { level: 3, count: 1 },
      ],
      maps: 1,
      leaves: [{ size: 4096, count: 4, entries: 4 }],
    });
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    expect(r.events.byType["mmu.map"]).toBe(2);
  });

  it("random TLB replacement follows the seed: same seed, same bytes", () => {
    const t = text([
      ...SHARED,
      "{ op: access, device: cpu0, kind: read, va: 0x4000_0000, size: 1 }",
      "{ op: stats }",
    ]).replace("tlb: { sets: 8, ways: 2 } }", "tlb: { sets: 1, ways: 2, replacement: random } }");
    const parsed = parseScenario(t, "t.yaml");
    if (!parsed.ok) throw new Error("invalid");
    const a = JSON.stringify(runScenario(parsed.scenario, { seed: 9 }));
    expect(JSON.stringify(runScenario(parsed.scenario, { seed: 9 }))).toBe(a);
  });
});

describe("loading: steps are checked against the machine, at their line and column", () => {
  it("a bad prot string points at the prot", () => {
    expect(
      errors(
        "{ op: map, table: cpu-pt, va: 0, pa: 0x8000_0000, size: 4K, prot: rq }",
        "{ op: protect, table: cpu-pt, va: 0, size: 4K, prot: x }",
        "{ op: map, table: cpu-pt, va: 0, pa: 0x8000_0000, size: 4K, prot: rwmc }",
      ),
    ).toEqual([
      `${FIRST_STEP_LINE}:71 steps[0].prot: expected a prot like "rw", "r", "rwx" or "rwc" (letters r w x c m p), got "rq"`,
      `${FIRST_STEP_LINE + 1}:58 steps[1].prot: expected a prot like "rw", "r", "rwx" or "rwc" (letters r w x c m p), got "x" (it grants neither r nor w)`,
      `${FIRST_STEP_LINE + 2}:71 steps[2].prot: expected a prot like "rw", "r", "rwx" or "rwc" (letters r w x c m p), got "rwmc" (MMIO and cacheable exclude each other)`,
    ]);
  });

  it("an unknown table or device, or one of the wrong kind, points at the name", () => {
    expect(
      errors(
        "{ op: map, table: cpu_pt, va: 0, pa: 0x8000_0000, size: 4K, prot: rw }",
        "{ op: access, device: smmu0, kind: read, va: 0, size: 4 }",
        "{ op: access, device: cpu1, kind: read, va: 0, size: 4 }",
        "{ op: dump, tlb: dma }",
        "{ op: dump, walk: dma, va: 0 }",
        "{ op: smmu, smmu: cpu0, context: dev, action: activate }",
        "{ op: expect, table: nope, tables: 1 }",
      ),
    ).toEqual([
      `${FIRST_STEP_LINE}:23 steps[0].table: no page table named "cpu_pt", did you mean "cpu-pt"? (have: cpu-pt, dev-pt, npu-pt)`,
      `${FIRST_STEP_LINE + 1}:27 steps[1].device: "smmu0" is an SMMU, not a bus master: its masters make the accesses (dev0)`,
      `${FIRST_STEP_LINE + 2}:27 steps[2].device: no device named "cpu1", did you mean "cpu0"? (have: cpu0, smmu0, dev0, dma, npu)`,
      `${FIRST_STEP_LINE + 3}:22 steps[3].tlb: device "dma" is a one-to-one: it has no TLB`,
      `${FIRST_STEP_LINE + 4}:23 steps[4].walk: device "dma" is a one-to-one: it does not translate`,
      `${FIRST_STEP_LINE + 5}:23 steps[5].smmu: device "cpu0" is a cpu, not an SMMU`,
      `${FIRST_STEP_LINE + 6}:26 steps[6].table: no page table named "nope" (have: cpu-pt, dev-pt, npu-pt)`,
    ]);
  });

  it("cross-field rules of the steps", () => {
    expect(
      errors(
        "{ op: access, device: cpu0, kind: write, va: 0, size: 4 }",
        "{ op: access, device: cpu0, kind: read, va: 0, data: '00' }",
        "{ op: translate, device: cpu0, table: cpu-pt, va: 0 }",
        "{ op: dump, table: cpu-pt, tlb: cpu0 }",
        "{ op: tlbi, device: cpu0 }",
        "{ op: expect, device: cpu0 }",
        "{ op: expect, tlbHits: 3 }",
      ),
    ).toEqual([
      `${FIRST_STEP_LINE}:5 steps[0].data: missing required key "data" (a write writes data)`,
      `${FIRST_STEP_LINE + 1}:5 steps[1].size: missing required key "size" (or "expect", whose length is the size)`,
      `${FIRST_STEP_LINE + 1}:58 steps[1].data: data is for writes (this access is a read)`,
      `${FIRST_STEP_LINE + 2}:43 steps[2].table: expected either "device" or "table" (one of them)`,
      `${FIRST_STEP_LINE + 3}:37 steps[3].tlb: expected one of "table", "tlb" or "walk"`,
      `${FIRST_STEP_LINE + 4}:5 steps[4]: expected what to invalidate: "all", "asid", "context", or "va" and "size"`,
      `${FIRST_STEP_LINE + 5}:27 steps[5].device: nothing to check of device "cpu0": give one of reads, writes, faults, tlbHits, tlbMisses, tlbEntries, tlbEvictions, tlbInvalidated, walks, descriptorReads`,
      `${FIRST_STEP_LINE + 6}:5 steps[6].device: missing required key "device" (tlbHits is a statistic of a device)`,
    ]);
  });
});

describe("stream: TLB reach, measured", () => {
  it("one access per stride through a bus master; the deltas of its statistics; a Streams table", () => {
    const r = run(
      "{ op: alloc, target: system, size: 1M, as: buf }",
      "{ op: map, table: cpu-pt, va: 0x4000_0000, pa: buf, size: 128K, prot: rw }",
      "{ op: map, table: dev-pt, va: 0x1000_0000, pa: buf, size: 1M, prot: rw }",
      // 32 4K pages through a 16-entry TLB, twice: every page misses every time.
      "{ op: stream, device: cpu0, va: 0x4000_0000, size: 128K, stride: 4K, passes: 2, label: cpu 4K, expect: { accesses: 64, tlbMisses: 64, walks: 64, descriptorReads: 256 } }",
      // One 1M section: one miss, the rest hit (default stride 64: 4096 accesses over 256K).
      "{ op: stream, device: dev0, va: 0x1000_0000, size: 256K, expect: { accesses: 4096, tlbHits: 4095, tlbMisses: 1, walks: 1 } }",
      "{ op: stream, device: dev0, va: 0x1000_0000, size: 16, stride: 8, kind: write, expect: { tlbMisses: 1 } }",
      "{ op: read, addr: buf, expect: '00 00 00 00 00 00 00 00 08 00 00 00' }",
      "{ op: stream, device: dma, va: buf, size: 4K, stride: 1K }",
    );
    expect(failures(r)).toEqual(["stream 3: expected 1 tlbMisses, got 0"]);
    expect(step(r, 3).summary).toBe(
      "cpu 4K: 64 accesses, 64 TLB misses, 64 walks, 256 descriptor reads",
    );
    expect(step(r, 3).description).toBe(
      "cpu0: stream read 128 KiB at 0x40000000 every 4 KiB, 2 passes",
    );
    expect(step(r, 4).output).toEqual({
      label: "stream 2",
      device: "dev0",
      va: 0x1000_0000,
      size: 256 << 10,
      stride: 64,
      kind: "read",
      passes: 1,
      accesses: 4096,
      tlbHits: 4095,
      tlbMisses: 1,
      walks: 1,
      descriptorReads: 1,
    });
    expect(step(r, 7).output).toMatchObject({ accesses: 4, walks: 0, tlbMisses: 0 });
    const streams = r.statistics.streams!;
    expect(streams.map((s) => [s.label, s.device, s.tlbMisses])).toEqual([
      ["cpu 4K", "cpu0", 64],
      ["stream 2", "dev0", 1],
      ["stream 3", "dev0", 0],
      ["stream 4", "dma", 0],
    ]);
    const table = streamTables(streams)[0]!;
    expect(table.title).toBe("Streams");
    expect(table.rows[0]).toEqual([
      "cpu 4K",
      "cpu0",
      "0x40000000-0x4001ffff x2",
      "4 KiB",
      "64",
      "0",
      "64",
      "64",
      "256",
    ]);
  });

  it("a machine without streams has no streams statistics; faults stop the run", () => {
    const r = run("{ op: stream, device: cpu0, va: 0x4000_0000, size: 4K }");
    expect(r.stoppedAt).toBe(0);
    expect(step(r, 0).error?.code).toBe("EFAULT");
    expect(run().statistics.streams).toBeUndefined();
  });

  it("refuses empty ranges, zero strides and too many accesses, at load", () => {
    expect(
      errors(
        "{ op: stream, device: cpu0, va: 0, size: 0 }",
        "{ op: stream, device: cpu0, va: 0, size: 4K, stride: 0, passes: 0 }",
        "{ op: stream, device: cpu0, va: 0, size: 1G, stride: 64 }",
      ),
    ).toEqual([
      `${FIRST_STEP_LINE}:46 steps[0].size: expected a size of at least 1 byte`,
      `${FIRST_STEP_LINE + 1}:58 steps[1].stride: expected a stride of at least 1 byte`,
      `${FIRST_STEP_LINE + 1}:69 steps[1].passes: expected at least 1 pass`,
      `${FIRST_STEP_LINE + 2}:46 steps[2].size: 16777216 accesses: at most 4194304 per stream (use a larger stride)`,
    ]);
    expect(errors("{ op: stream, device: smmu0, va: 0, size: 4K }")).toEqual([
      `${FIRST_STEP_LINE}:27 steps[0].device: "smmu0" is an SMMU, not a bus master: its masters make the accesses (dev0)`,
    ]);
  });
});
