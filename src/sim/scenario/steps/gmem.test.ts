/**
 * The gmem machine section and the gmem.* steps: building (and refusing) the section item by
 * item, accesses, hints and copies, traces from generators and files (with the loader reading
 * and checking them), expectations on every counter, and runs on fresh copies side by side.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { loadScenarioFile } from "../../node/load-file.js";
import { parseScenario } from "../parse.js";
import { runScenario } from "../run.js";
import { stepOf, stepScenarios } from "./steps.testutil.js";

const MACHINE = `version: 1
name: gmem-steps
machine:
  regions:
    - { name: dram, base: 0x8000_0000, size: 256M, kind: ram }
  targets:
    - { name: pgtables, allocator: buddy, ranges: [{ region: dram, size: 32M }] }
    - { name: system, allocator: buddy, ranges: [{ region: dram, offset: 32M }] }
  devices:
    - kind: accelerator
      name: gpu0
      localMemory: { name: gpu0-hbm, base: 0x100_0000_0000, size: 8M }
  gmem:
    host: system
    tables: pgtables
    accelerators: [{ device: gpu0, mode: coherent-exclusive }]
    mappings: [{ name: buf, size: 12M }]
    set: { evictBatch: 1 }
steps:
`;

const { run, errors, text } = stepScenarios(MACHINE, "g.yaml");

const dir = mkdtempSync(join(tmpdir(), "memweave-gmem-steps-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function failures(r: ReturnType<typeof run>): string[] {
  return r.expectations.list.filter((x) => !x.passed).map((x) => x.message);
}

describe("the gmem machine section", () => {
  it("builds GMEM on the machine and reports it", () => {
    const r = run();
    expect(r.machine.gmem).toMatchObject({
      host: "system",
      tables: "pgtables",
      cpu: "cpu0",
      process: "app",
      addressSpace: { name: "as1", start: 0, end: 2 ** 47 },
      accelerators: [
        { device: "gpu0", mode: "coherent-exclusive", hnodes: [{ id: 1, size: 8 << 20 }] },
      ],
      mappings: [{ name: "buf", start: 0x10_0000_0000, size: 12 << 20 }],
      policy: { name: "gmem", evictBatch: 1, evictRounds: 10, eviction: "migrated" },
      settings: { evictBatch: 1 },
    });
    expect(r.statistics.gmem).toMatchObject({
      stats: { deviceFaults: 0 },
      simulatedTimeNs: 0,
      devices: [{ device: "gpu0", hnode: 1, pages: 4, active: 0, free: 4 }],
    });
  });

  it("reports bad items at their paths", () => {
    const bad = MACHINE.replace("host: system", "host: pgtable")
      .replace("device: gpu0, mode: coherent-exclusive", "device: gpu1, mode: exclusive")
      .replace("set: { evictBatch: 1 }", "set: { evictBatc: 1 }");
    const r = parseScenario(bad + "  []\n", "g.yaml");
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => `${e.path}: ${e.message}`)).toEqual([
      'machine.gmem.accelerators[0].mode: expected a mode: share, coherent-exclusive, replicate (GM_MMU_MODE_SHARE, _COHERENT_EXCLUSIVE, _REPLICATE), got "exclusive"',
    ]);
    const r2 = parseScenario(bad.replace("mode: exclusive", "mode: share") + "  []\n", "g.yaml");
    expect(
      r2.ok ? [] : r2.errors.map((e) => `${e.line}:${e.column} ${e.path}: ${e.message}`),
    ).toEqual([
      expect.stringMatching(
        /^18:23 machine\.gmem\.set\.evictBatc: EINVAL: unknown setting "evictBatc", did you mean "evictBatch"\? \(cost: farFaultNs, .*; policy: granularity, evictBatch, /,
      ),
    ]);
    const r3 = parseScenario(
      bad.replace("mode: exclusive", "mode: share").replace("evictBatc", "evictBatch") + "  []\n",
      "g.yaml",
    );
    expect(r3.ok ? [] : r3.errors.map((e) => `${e.path}: ${e.message}`)).toEqual([
      'machine.gmem.host: ENOENT: no memory target named "pgtable", did you mean "pgtables"? (have: pgtables, system, gpu0-hbm)',
    ]);
  });
});

describe("gmem.access, gmem.stats", () => {
  it("moves a block to the device and back, bytes and counters checked", () => {
    const r = run(
      '{ op: gmem.access, who: cpu, access: w, va: buf+16, data: "de ad be ef" }',
      '{ op: gmem.access, who: gpu0, access: r, va: buf+16, expect: "de ad be ef", expectStats: { deviceFaults: 1, migrationsToDevice: 1, bytesToDevice: 2M } }',
      '{ op: gmem.access, who: cpu, access: r, va: buf+16, expect: "de ad be ef", expectStats: { hostFaults: 1, migrationsToHost: 1 } }',
      "{ op: gmem.stats, expect: { deviceFaults: 1, hostFaults: 1, cpuFirstTouches: 1, devicePages: { gpu0: 0 }, simulatedTimeNs: { min: 300us, max: 310us } } }",
    );
    expect(failures(r)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(stepOf(r, 1).summary).toMatch(
      /^read de ad be ef; deviceFaults \+1, migrationsToDevice \+1, bytesToDevice \+2 MiB/,
    );
    expect(stepOf(r, 3).output).toMatchObject({
      stats: { deviceFaults: 1, hostFaults: 1 },
      devicePages: { gpu0: 0 },
    });
  });

  it("records failed expectations, and refuses unknown devices and mappings at load", () => {
    const r = run(
      '{ op: gmem.access, who: gpu0, access: r, va: buf, size: 4, expect: "01 02 03 04", expectStats: { deviceFaults: 2 } }',
    );
    expect(failures(r)).toEqual([
      "gpu0 read of 4 bytes at 0x1000000000: expected 01 02 03 04, got 00 00 00 00",
      "deviceFaults: expected 2, got 1",
    ]);
    expect(errors("{ op: gmem.access, who: gpu1, access: r, va: bu }")).toEqual([
      '20:29 steps[0].who: no cpu or accelerator "gpu1" in machine.gmem, did you mean "gpu0"? (have: cpu, gpu0)',
      '20:50 steps[0].va: no mapping named "bu", did you mean "buf"? (mappings: buf)',
    ]);
    expect(errors('{ op: gmem.access, who: cpu, access: w, va: buf, expect: "00" }')).toEqual([
      "20:62 steps[0].expect: expect is for reads (a write writes data)",
    ]);
  });

  it("a CPU access to a pinned device page fails with EFAULT", () => {
    const r = run(
      "{ op: gmem.advise, device: gpu0, va: buf, len: 2M, behavior: prefetch, expect: 1 }",
      "{ op: gmem.advise, va: buf, len: 2M, behavior: MADV_PINNED }",
      "{ op: gmem.access, who: cpu, access: r, va: buf, expectError: EFAULT }",
      "{ op: gmem.stats, expect: { prefetchedPages: 1, devicePages: { gpu0: 1 } } }",
    );
    expect(failures(r)).toEqual([]);
    expect(stepOf(r, 2).status).toBe("expected-error");
  });

  it("gmem.memcpy copies between host and device memory", () => {
    const r = run(
      '{ op: gmem.access, who: cpu, access: w, va: buf, data: "11 22 33 44" }',
      "{ op: gmem.advise, device: gpu0, va: buf+2M, len: 2M, behavior: prefetch }",
      "{ op: gmem.memcpy, device: gpu0, dest: buf+0x200008, src: buf, size: 4 }",
      '{ op: gmem.access, who: gpu0, access: r, va: buf+0x200008, expect: "11 22 33 44", expectStats: { deviceFaults: 0 } }',
    );
    expect(failures(r)).toEqual([]);
  });
});

describe("gmem.trace and gmem.compare", () => {
  const SEQ = "{ kind: sequential, start: buf, length: 12M, stride: 2M, count: 18 }";

  it("replays a generated trace on the machine, every counter expected", () => {
    const r = run(
      `{ op: gmem.trace, gen: ${SEQ}, expect: { deviceFaults: 18, hostFaults: 0, migrationsToDevice: 12, migrationsToHost: 14, evictions: 14, prefetchedPages: 0, thrashingEvents: 0, bytesToDevice: 24M, bytesToHost: 28M, simulatedTimeNs: { min: 4.2ms, max: 4.25ms } } }`,
      "{ op: gmem.stats, expect: { deviceFaults: 18, deviceFirstTouches: 6, devicePages: { gpu0: 4 } } }",
    );
    expect(failures(r)).toEqual([]);
    expect(stepOf(r, 0).tables?.map((t) => t.title)).toEqual([
      "GMEM trace counters",
      "Simulated time",
    ]);
    expect(stepOf(r, 0).output).toMatchObject({ accesses: 18, policy: "gmem", fresh: false });
  });

  it("with a policy or settings, runs on a fresh copy and leaves the machine as it was", () => {
    const r = run(
      `{ op: gmem.trace, gen: ${SEQ}, set: { evictBatch: 16 }, expect: { deviceFaults: 18, evictions: 16 } }`,
      "{ op: gmem.stats, expect: { deviceFaults: 0, simulatedTimeNs: 0 } }",
    );
    expect(failures(r)).toEqual([]);
    expect(stepOf(r, 0).summary).toMatch(/\(a fresh machine, gmem\)$/);
  });

  it("compares runs side by side, with expectations per run", () => {
    const r = run(
      `{ op: gmem.compare, gen: ${SEQ}, policies: [gmem, { name: batch16, set: { evictBatch: 16 } }], expect: { gmem: { evictions: 14 }, batch16: { evictions: 16, migrationsToDevice: { max: 12 } } } }`,
    );
    expect(failures(r)).toEqual([]);
    const t = stepOf(r, 0).tables![0]!;
    expect(t.head).toEqual(["counter", "gmem", "batch16"]);
    expect(t.rows.find((x) => x[0] === "evictions")).toEqual(["evictions", "14", "16"]);
    expect(
      errors(
        `{ op: gmem.compare, gen: ${SEQ}, policies: [gmem], expect: { uvm: { evictions: 1 } } }`,
      ),
    ).toEqual([
      expect.stringMatching(/steps\[0\]\.expect\.uvm: no run named "uvm" \(runs: gmem\)$/),
    ]);
  });

  it("refuses a bad generator at load, and a trace with neither file nor gen", () => {
    expect(
      errors("{ op: gmem.trace, gen: { kind: uniform, length: 1M, count: 5, stride: 8 } }"),
    ).toEqual([expect.stringMatching(/steps\[0\]\.gen\.stride: a uniform trace has no "stride"/)]);
    expect(errors("{ op: gmem.trace, expect: { deviceFaults: 1 } }")).toEqual([
      expect.stringMatching(/steps\[0\]\.file: missing required key "file" or "gen"$/),
    ]);
  });

  it("replays a file trace given in scenario.files, read checks at their lines", () => {
    const parsed = parseScenario(
      text([
        "{ op: gmem.trace, file: t.csv, offset: buf, expect: { deviceFaults: 1, migrationsToDevice: 1 } }",
      ]),
      "g.yaml",
    );
    if (!parsed.ok) throw new Error(parsed.errors[0]!.message);
    const csv = "cpu,w,0x10,4,01020304\ngpu0,r,0x10,4,01020304\ngpu0,r,0x10,2,0103\n";
    const r = runScenario({
      ...parsed.scenario,
      files: new Map([["t.csv", new TextEncoder().encode(csv)]]),
    });
    expect(failures(r)).toEqual([
      "t.csv:3: gpu0 read 0x1000000010 (2 bytes): expected 0103, got 0102",
    ]);
    const without = runScenario(parsed.scenario);
    expect(without.steps[0]!.error?.message).toMatch(/^ENOENT: file "t\.csv" was not loaded/);
  });
});

describe("trace files through the loader", () => {
  it("reads them relative to the scenario and reports malformed lines at their own line", async () => {
    writeFileSync(join(dir, "good.csv"), "gpu0,r,0x0\ngpu0,w,0x200000,8\n");
    writeFileSync(join(dir, "bad.csv"), "# header comment\ngpu0,r,0x0\ngpu0,x,0x10\n");
    const scenario = (file: string) =>
      text([`{ op: gmem.trace, file: ${file}, offset: buf, expect: { deviceFaults: 2 } }`]);
    writeFileSync(join(dir, "ok.yaml"), scenario("good.csv"));
    const ok = await loadScenarioFile(join(dir, "ok.yaml"));
    expect(ok.ok).toBe(true);
    if (ok.ok) expect(runScenario(ok.scenario).ok).toBe(true);

    writeFileSync(join(dir, "bad.yaml"), scenario("bad.csv"));
    const bad = await loadScenarioFile(join(dir, "bad.yaml"));
    expect(bad.ok ? [] : bad.errors).toEqual([
      {
        file: join(dir, "bad.csv"),
        line: 3,
        column: 1,
        path: "steps[0].file",
        message: 'op must be "r" or "w", got "x"',
        kind: "schema",
        code: "bad-file",
        severity: "error",
      },
    ]);

    writeFileSync(join(dir, "missing.yaml"), scenario("nope.csv"));
    const missing = await loadScenarioFile(join(dir, "missing.yaml"));
    expect(
      missing.ok ? [] : missing.errors.map((e) => `${e.line} ${e.path}: ${e.message}`),
    ).toEqual([`20 steps[0]: cannot read file "${join(dir, "nope.csv")}": no such file`]);
  });
});
