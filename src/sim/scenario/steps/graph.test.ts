import { describe, expect, it } from "vitest";

import type { RunResult } from "../run.js";
import { stepOf, stepScenarios } from "./steps.testutil.js";

/**
 * A CPU, an SMMU with an active bank (dev0) and a bound but inactive one (dev1), and a
 * one-to-one device whose window is 0x8100_0000+1M.
 */
const MACHINE = `version: 1
name: g
seed: 3
machine:
  regions:
    - { name: dram, base: 0x8000_0000, size: 64M, kind: ram }
  targets:
    - { name: system, allocator: buddy, ranges: [{ region: dram, size: 32M }] }
    - { name: tables, allocator: buddy, ranges: [{ region: dram, offset: 32M, size: 1M }] }
  pageTables:
    - { name: cpu-pt, format: { kind: lpae, stage: 1 }, target: tables }
    - { name: other-pt, format: { kind: lpae, stage: 1 }, target: tables }
    - { name: dev-pt, format: { kind: v7s }, target: tables }
    - { name: spare-pt, format: { kind: v7s }, target: tables }
  devices:
    - { kind: cpu, name: cpu0, ttbr0: cpu-pt, asid: 1, tlb: { sets: 8, ways: 2 } }
    - kind: smmu
      name: smmu0
      tlb: { sets: 8, ways: 2 }
      contexts: [{ name: dev, table: dev-pt }, { name: spare, table: spare-pt, active: false }]
      masters: [{ name: dev0, context: dev }, { name: dev1, context: spare }]
    - { kind: one-to-one, name: dma, base: 0x8100_0000, size: 1M }
steps:
`;
// Line 24 of MACHINE + steps is the first step.
const FIRST_STEP_LINE = 24;

/**
 * A 1 MiB buffer at 0x8000_0000, mapped for the CPU at 0x4000_0000 (16K, cacheable), for dev0 at
 * 0x1000_0000 (1M, non-cacheable) and, through the inactive bank, for dev1 at 0x2000_0000.
 */
const SHARED = [
  "{ op: alloc, target: system, size: 1M, as: buf }",
  "{ op: map, table: cpu-pt, va: 0x4000_0000, pa: buf, size: 16K, prot: rwc }",
  "{ op: map, table: dev-pt, va: 0x1000_0000, pa: buf, size: 1M, prot: rw }",
  "{ op: map, table: spare-pt, va: 0x2000_0000, pa: buf, size: 64K, prot: r }",
];

const { run, errors } = stepScenarios(MACHINE, "g.yaml");

/** Each expectation as [step, passed, message]. */
const expectations = (r: RunResult) =>
  r.expectations.list.map((e) => [e.step, e.passed, e.message] as const);
const step = stepOf;

describe("who", () => {
  it("an exact expectation passes, and the output lists every path", () => {
    const r = run(
      ...SHARED,
      "{ op: who, addr: buf, size: 4K, expect: [{ master: cpu0, rights: rw, space: virt }, { master: dev0, rights: wr, via: translation }] }",
      "{ op: who, addr: 0x8100_0000, expect: [{ master: dma, via: window, space: phys, rights: rwx }] }",
      "{ op: who, addr: buf + 512K, size: 4K, expect: [{ master: dev0 }] }",
      "{ op: who, addr: 0x8200_0000, expect: [] }",
    );
    expect(expectations(r)).toEqual([
      [4, true, "who reaches 0x80000000-0x80000fff: exactly cpu0 (rw), dev0 (rw)"],
      [5, true, "who reaches 0x81000000: exactly dma (rwx)"],
      [6, true, "who reaches 0x80080000-0x80080fff: exactly dev0"],
      [7, true, "who reaches 0x82000000: exactly nobody"],
    ]);
    expect(step(r, 4).description).toBe("who reaches buf+4 KiB");
    expect(step(r, 4).summary).toBe(
      "cpu0 virt 0x40000000-0x40000fff via cpu-pt: rw normal-wb; dev0 virt 0x10000000-0x10000fff via dev-pt: rw normal-nc",
    );
    expect(step(r, 4).output).toMatchObject({
      pa: 0x8000_0000,
      size: 4096,
      masters: ["cpu0", "dev0"],
      paths: [
        {
          master: "cpu0",
          via: "translation",
          input: { space: "virt", start: 0x4000_0000, end: 0x4000_1000 },
          phys: { start: 0x8000_0000, end: 0x8000_1000 },
          stage1: { table: "cpu-pt", ttbr: "ttbr0" },
          access: "rw",
          memType: "normal-wb",
          live: true,
        },
        {
          master: "dev0",
          regime: "smmu0/dev",
          contextBank: "dev",
          input: { space: "virt", start: 0x1000_0000, end: 0x1000_1000 },
          stage1: { table: "dev-pt" },
          access: "rw",
          memType: "normal-nc",
          live: true,
        },
      ],
    });
    const table = step(r, 4).tables![0]!;
    expect(table.title).toBe("who reaches 0x80000000-0x80000fff");
    expect(table.head).toEqual([
      "master",
      "address",
      "physical",
      "path",
      "rights",
      "attributes",
      "live",
      "owner",
    ]);
    expect(table.rows.map((row) => row[0])).toEqual(["cpu0", "dev0"]);
    expect(step(r, 5).summary).toBe("dma phys 0x81000000 via window: rwx");
    expect(step(r, 7).summary).toBe("nobody");
    expect(step(r, 7).output).toMatchObject({ masters: [], paths: [] });
  });

  it("fails, saying why, when a master is missing, extra, or has other rights", () => {
    const r = run(
      ...SHARED,
      "{ op: who, addr: buf, size: 4K, expect: [{ master: cpu0 }, { master: dev0 }, { master: dma }] }",
      "{ op: who, addr: buf, size: 4K, expect: [{ master: cpu0, rights: rw }] }",
      "{ op: who, addr: buf, size: 4K, expect: [{ master: cpu0, rights: r }, { master: dev0, rights: rwx }] }",
      "{ op: who, addr: buf, size: 4K, expect: [{ master: cpu0, space: ipa }, { master: dev0, via: window }] }",
      "{ op: who, addr: buf, size: 4K, expect: [] }",
    );
    expect(expectations(r)).toEqual([
      [4, false, "who reaches 0x80000000-0x80000fff: dma does not reach it"],
      [5, false, "who reaches 0x80000000-0x80000fff: dev0 reaches it too"],
      [6, false, "who reaches 0x80000000-0x80000fff: cpu0 may rw, not r; dev0 may rw, not rwx"],
      [
        7,
        false,
        "who reaches 0x80000000-0x80000fff: cpu0 does not reach it; dev0 does not reach it",
      ],
      [8, false, "who reaches 0x80000000-0x80000fff: cpu0 reaches it too; dev0 reaches it too"],
    ]);
    // A failed expectation fails its step, not the run.
    expect(r.steps.slice(4).map((s) => s.status)).toEqual(Array(5).fill("failed"));
    expect(r.stoppedAt).toBeUndefined();
  });

  it("counts only live paths unless live: false, which includes inactive banks", () => {
    const r = run(
      ...SHARED,
      "{ op: who, addr: buf, size: 4K, expect: [{ master: cpu0 }, { master: dev0 }] }",
      "{ op: who, addr: buf, size: 4K, live: false, expect: [{ master: cpu0 }, { master: dev0 }, { master: dev1, rights: r }] }",
      "{ op: who, addr: buf, size: 4K, live: false, expect: [{ master: cpu0 }, { master: dev0 }] }",
      "{ op: smmu, smmu: smmu0, context: spare, action: activate }",
      "{ op: who, addr: buf, size: 4K, expect: [{ master: cpu0 }, { master: dev0 }, { master: dev1, rights: r }] }",
    );
    expect(expectations(r)).toEqual([
      [4, true, "who reaches 0x80000000-0x80000fff: exactly cpu0, dev0"],
      [5, true, "who reaches 0x80000000-0x80000fff: exactly cpu0, dev0, dev1 (r)"],
      [6, false, "who reaches 0x80000000-0x80000fff: dev1 reaches it too"],
      [8, true, "who reaches 0x80000000-0x80000fff: exactly cpu0, dev0, dev1 (r)"],
    ]);
    expect(step(r, 5).summary).toContain(
      "dev1 virt 0x20000000-0x20000fff via spare-pt: r normal-nc (not live)",
    );
    expect(step(r, 5).output).toMatchObject({ masters: ["cpu0", "dev0", "dev1"] });
    const dev1 = step(r, 5).tables![0]!.rows.find((row) => row[0] === "dev1")!;
    expect(dev1[6]).toBe("no");
    expect(step(r, 8).summary).not.toContain("not live");
  });

  it("a master listed twice, or bad rights, is a load error at its line and column", () => {
    expect(
      errors(
        "{ op: who, addr: 0x8000_0000, expect: [{ master: cpu0 }, { master: dev0 }, { master: cpu0 }] }",
        "{ op: who, addr: 0x8000_0000, expect: [{ master: cpu0, rights: rq }] }",
        "{ op: who, addr: 0x8000_0000, expect: [{ master: cpu0, via: bus }] }",
      ),
    ).toEqual([
      `${FIRST_STEP_LINE}:90 steps[0].expect[2].master: master "cpu0" is listed twice`,
      `${FIRST_STEP_LINE + 1}:68 steps[1].expect[0].rights: expected rights as letters r, w, x (e.g. "rw"), got "rq"`,
      `${FIRST_STEP_LINE + 2}:65 steps[2].expect[0].via: expected one of translation, window, bypass, got "bus"`,
    ]);
  });
});

describe("expectIsolated", () => {
  it("passes when no live path and no TLB entry of the masters reaches the range", () => {
    const r = run(
      ...SHARED,
      "{ op: alloc, target: system, size: 64K, as: other }",
      "{ op: expectIsolated, masters: [cpu0, dev0, dma], addr: other, size: 64K }",
      // dev1's path is through an inactive bank: not live, so it does not count.
      "{ op: expectIsolated, masters: [dev1], addr: buf, size: 1M }",
      "{ op: expectIsolated, masters: [cpu0], addr: buf + 16K, size: 16K }",
    );
    expect(expectations(r)).toEqual([
      [5, true, "cpu0, dev0, dma isolated from 0x80100000-0x8010ffff"],
      [6, true, "dev1 isolated from 0x80000000-0x800fffff"],
      [7, true, "cpu0 isolated from 0x80004000-0x80007fff"],
    ]);
    expect(step(r, 5).description).toBe("expect cpu0, dev0, dma isolated from other+64 KiB");
    expect(step(r, 5).summary).toBe("isolated");
    expect(step(r, 5).output).toEqual({
      pa: 0x8010_0000,
      size: 65536,
      isolated: true,
      paths: [],
      cached: [],
    });
  });

  it("fails naming the path that reaches the range", () => {
    const r = run(
      ...SHARED,
      "{ op: expectIsolated, masters: [dev0], addr: buf + 4K, size: 4K }",
      "{ op: expectIsolated, masters: [dma, cpu0], addr: 0x8100_0000, size: 4K }",
    );
    expect(expectations(r)).toEqual([
      [
        4,
        false,
        "dev0 isolated from 0x80001000-0x80001fff: dev0 virt 0x10001000-0x10001fff via dev-pt: rw normal-nc",
      ],
      [
        5,
        false,
        "dma, cpu0 isolated from 0x81000000-0x81000fff: dma phys 0x81000000-0x81000fff via window: rwx",
      ],
    ]);
    expect(step(r, 4).output).toMatchObject({ isolated: false, paths: [{ master: "dev0" }] });
  });

  it("fails naming a cached TLB entry that still reaches the range (no live path)", () => {
    const r = run(
      ...SHARED,
      "{ op: access, device: cpu0, kind: read, va: 0x4000_0000, size: 4 }",
      "{ op: load, device: cpu0, ttbr0: other-pt }",
      "{ op: who, addr: buf, size: 16K, expect: [{ master: dev0 }] }",
      "{ op: expectIsolated, masters: [cpu0], addr: buf, size: 16K }",
      "{ op: tlbi, device: cpu0, asid: 1 }",
      "{ op: expectIsolated, masters: [cpu0], addr: buf, size: 16K }",
    );
    expect(expectations(r)).toEqual([
      [6, true, "who reaches 0x80000000-0x80003fff: exactly dev0"],
      [
        7,
        false,
        "cpu0 isolated from 0x80000000-0x80003fff: cpu0's TLB cpu0 tlb caches 0x40000000 -> 0x80000000",
      ],
      [9, true, "cpu0 isolated from 0x80000000-0x80003fff"],
    ]);
    expect(step(r, 7).output).toMatchObject({
      isolated: false,
      paths: [],
      cached: [{ master: "cpu0", tlb: "cpu0 tlb", va: 0x4000_0000, pa: 0x8000_0000, size: 4096 }],
    });
  });

  it("an unknown master, or one that is no bus master, is a load error at its name", () => {
    expect(
      errors(
        "{ op: expectIsolated, masters: [cpu0, cpu1], addr: 0x8000_0000 }",
        "{ op: expectIsolated, masters: [smmu0], addr: 0x8000_0000 }",
      ),
    ).toEqual([
      `${FIRST_STEP_LINE}:43 steps[0].masters[1]: no device named "cpu1", did you mean "cpu0"? (have: cpu0, smmu0, dev0, dev1, dma)`,
      `${FIRST_STEP_LINE + 1}:37 steps[1].masters[0]: "smmu0" is an SMMU, not a bus master: its masters make the accesses (dev0, dev1)`,
    ]);
    expect(errors("{ op: expectIsolated, masters: [], addr: 0x8000_0000 }")).toEqual([
      `${FIRST_STEP_LINE}:36 steps[0].masters: expected at least one master`,
    ]);
  });
});

describe("aliases and stale", () => {
  it("aliases counts the ranges reached both cacheable and not", () => {
    const r = run(
      ...SHARED,
      "{ op: aliases, expect: 1 }",
      "{ op: aliases, expect: 0 }",
      "{ op: aliases, addr: buf + 16K, size: 16K, expect: 0 }",
      "{ op: aliases, addr: buf + 4K, expect: 1 }",
      "{ op: protect, table: dev-pt, va: 0x1000_0000, size: 1M, prot: rwc }",
      "{ op: aliases, expect: 0 }",
      "{ op: aliases }",
    );
    expect(expectations(r)).toEqual([
      [4, true, "1 aliased range"],
      [5, false, "expected 0 aliased ranges, found 1"],
      [6, true, "0 aliased ranges"],
      [7, true, "1 aliased range"],
      [9, true, "0 aliased ranges"],
    ]);
    // The CPU maps 16K of the buffer cacheable; the device all of it non-cacheable.
    expect(step(r, 4).summary).toBe("0x80000000-0x80003fff: cpu0 normal-wb vs dev0 normal-nc");
    expect(step(r, 4).output).toMatchObject({
      count: 1,
      aliases: [{ start: 0x8000_0000, end: 0x8000_4000, memTypes: ["normal-wb", "normal-nc"] }],
    });
    expect(step(r, 7).output).toMatchObject({
      aliases: [{ start: 0x8000_1000, end: 0x8000_1001 }],
    });
    expect(step(r, 6).description).toBe("aliases in buf+0x4000+16 KiB");
    expect(step(r, 10).summary).toBe("no aliases");
    expect(step(r, 10).output).toEqual({ count: 0, aliases: [] });
  });

  it("stale counts the TLB entries the tables no longer grant", () => {
    const r = run(
      ...SHARED,
      "{ op: write, addr: buf, data: { text: secret } }",
      "{ op: access, device: cpu0, kind: read, va: 0x4000_0000, expect: { text: secret } }",
      "{ op: stale, expect: 0 }",
      "{ op: load, device: cpu0, ttbr0: other-pt }",
      "{ op: stale, expect: 1 }",
      "{ op: stale, expect: 0 }",
      "{ op: tlbi, device: cpu0, asid: 1 }",
      "{ op: stale, expect: 0 }",
    );
    expect(expectations(r)).toEqual([
      [5, true, "cpu0 read of 6 bytes at 0x40000000 = 73 65 63 72 65 74"],
      [6, true, "0 stale TLB entries"],
      [8, true, "1 stale TLB entry"],
      [9, false, "expected 0 stale TLB entries, found 1"],
      [11, true, "0 stale TLB entries"],
    ]);
    expect(step(r, 6).summary).toBe("no stale entries");
    expect(step(r, 8).summary).toBe(
      "cpu0 tlb: 0x40000000 -> 0x80000000 (0x40000000 no longer translates)",
    );
    expect(step(r, 8).output).toEqual({
      count: 1,
      entries: [
        {
          owner: "cpu0",
          tlb: "cpu0 tlb",
          entry: {
            va: 0x4000_0000,
            size: 4096,
            pa: 0x8000_0000,
            perm: "r w - R W -",
            asid: 1,
            vmid: 0,
          },
          regime: "cpu0",
          reason: "0x40000000 no longer translates",
        },
      ],
    });
  });
});

describe("load", () => {
  it("a context switch keeps the TLB: the old entry still translates, and is stale", () => {
    const r = run(
      ...SHARED,
      "{ op: write, addr: buf, data: { text: secret } }",
      "{ op: access, device: cpu0, kind: read, va: 0x4000_0000, expect: { text: secret } }",
      "{ op: load, device: cpu0, ttbr0: other-pt }",
      "{ op: access, device: cpu0, kind: read, va: 0x4000_0000, expect: { text: secret } }",
      "{ op: stale, expect: 1 }",
      "{ op: translate, device: cpu0, va: 0x4000_1000, expect: { fault: { kind: translation, stage: 1 } } }",
      "{ op: load, device: cpu0, asid: 2 }",
      "{ op: stale, expect: 0 }",
      "{ op: access, device: cpu0, kind: read, va: 0x4000_0000, size: 1, expectFault: { kind: translation, stage: 1 } }",
      "{ op: load, device: cpu0, ttbr0: cpu-pt, asid: 1 }",
      "{ op: stale, expect: 0 }",
      "{ op: access, device: cpu0, kind: read, va: 0x4000_0000, expect: { text: secret } }",
    );
    expect(r.expectations.failed).toBe(0);
    expect(step(r, 6).description).toBe("load ttbr0 other-pt into cpu0");
    expect(step(r, 6).summary).toBe("cpu0: asid 1, vmid 0; TLB kept (1 entry)");
    expect(step(r, 6).output).toEqual({ device: "cpu0", asid: 1, vmid: 0 });
    // The read after the switch hits the entry cached under cpu-pt.
    expect(step(r, 7).output).toMatchObject({ pa: 0x8000_0000, tlb: "hit" });
    expect(step(r, 10).description).toBe("load asid 2 into cpu0");
    expect(step(r, 10).output).toEqual({ device: "cpu0", asid: 2, vmid: 0 });
    expect(step(r, 10).summary).toBe("cpu0: asid 2, vmid 0; TLB kept (1 entry)");
    expect(step(run("{ op: load, device: cpu0, asid: 3 }"), 0).summary).toBe(
      "cpu0: asid 3, vmid 0; TLB kept (0 entries)",
    );
    expect(step(r, 13).description).toBe("load ttbr0 cpu-pt, asid 1 into cpu0");
    expect(r.stoppedAt).toBeUndefined();
  });

  it("a non-CPU device or an unknown table is a load error at its name", () => {
    expect(
      errors(
        "{ op: load, device: dev0, ttbr0: other-pt }",
        "{ op: load, device: cpu0, ttbr0: nope }",
        "{ op: load, device: cpu9, ttbr1: other-pt }",
        "{ op: load, device: smmu0, asid: 1 }",
        "{ op: load, device: dma, asid: 1 }",
        "{ op: load, device: cpu0, ttbr0: cpu-pt, ttbr1: other_pt, split: 0x8000_0000_0000, stage2: s2 }",
      ),
    ).toEqual([
      `${FIRST_STEP_LINE}:25 steps[0].device: device "dev0" is a smmu-master, not a CPU`,
      `${FIRST_STEP_LINE + 1}:38 steps[1].ttbr0: no page table named "nope" (have: cpu-pt, other-pt, dev-pt, spare-pt)`,
      `${FIRST_STEP_LINE + 2}:25 steps[2].device: no device named "cpu9", did you mean "cpu0"? (have: cpu0, smmu0, dev0, dev1, dma)`,
      `${FIRST_STEP_LINE + 3}:25 steps[3].device: "smmu0" is an SMMU, not a bus master: its masters make the accesses (dev0, dev1)`,
      `${FIRST_STEP_LINE + 4}:25 steps[4].device: device "dma" is a one-to-one, not a CPU`,
      `${FIRST_STEP_LINE + 5}:53 steps[5].ttbr1: no page table named "other_pt", did you mean "other-pt"? (have: cpu-pt, other-pt, dev-pt, spare-pt)`,
      `${FIRST_STEP_LINE + 5}:96 steps[5].stage2: no page table named "s2" (have: cpu-pt, other-pt, dev-pt, spare-pt)`,
    ]);
  });

  it("nothing to load, a split without ttbr1, a vmid without stage2 are load errors", () => {
    expect(
      errors(
        "{ op: load, device: cpu0 }",
        "{ op: load, device: cpu0, ttbr0: other-pt, split: 0x8000_0000 }",
        "{ op: load, device: cpu0, ttbr0: other-pt, vmid: 3 }",
      ),
    ).toEqual([
      `${FIRST_STEP_LINE}:5 steps[0]: expected something to load: "ttbr0", "ttbr1", "asid" or "stage2"`,
      `${FIRST_STEP_LINE + 1}:55 steps[1].split: a split goes with ttbr1`,
      `${FIRST_STEP_LINE + 2}:54 steps[2].vmid: a vmid goes with stage2`,
    ]);
  });
});
