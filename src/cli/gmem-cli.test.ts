/**
 * End-to-end tests of `memweave gmem replay` and `memweave gmem compare`, run as a user would:
 * the built executable (dist/cli/main.js) in a child process — CSV, binary and generated traces,
 * the results table, `--json`'s exact counters, malformed traces and bad settings refused with
 * exit 2 before anything runs, mismatching reads with exit 1 — and the progress bar in-process.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { encodeBinaryTrace } from "../gmem/trace/binary.js";
import { ensureBuilt, memweave, root, tempFolder } from "./cli.testutil.js";
import { runCli } from "./program.js";

const tmp = tempFolder("memweave-gmem-cli-");

beforeAll(ensureBuilt, 180_000);
afterAll(tmp.remove);

const SMALL = "examples/traces/gmem-small.csv";

const COUNTERS = [
  "deviceFaults",
  "hostFaults",
  "migrationsToDevice",
  "migrationsToHost",
  "evictions",
  "prefetchedPages",
  "thrashingEvents",
  "bytesToDevice",
  "bytesToHost",
  "simulatedTimeNs",
];

describe("memweave gmem replay", () => {
  it("replays the small CSV trace and prints the counters and the time", async () => {
    const r = await memweave(["gmem", "replay", SMALL]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^GMEM replay of examples\/traces\/gmem-small\.csv \(csv, 10 accesses\)\nplatform: cpu0 \+ gpu0 \(COHERENT_EXCLUSIVE\), device memory 1 GiB, host memory 1 GiB, mapping 0x1000000000-0x10005fffff \(6 MiB\); policy gmem\n/,
    );
    expect(r.stdout).toMatch(/│ deviceFaults +│ 4 +│/);
    expect(r.stdout).toMatch(/│ hostFaults +│ 2 +│/);
    expect(r.stdout).toMatch(/│ bytesToDevice +│ 6 MiB \(6,291,456\) +│/);
    expect(r.stdout).toMatch(/│ simulatedTimeNs +│ 835\.73 us \(835,727 ns\) +│/);
    expect(r.stdout).toMatch(/│ {3}host->gpu0 +│ 393\.22 us +│ 47\.1% +│ 3 \(6 MiB\) +│/);
    expect(r.stdout).toMatch(/\nwall time: gmem [\d.]+ s \([\d,]+ accesses\/s\)\n$/);
  });

  it("--json prints one document whose stats are exactly the counters and simulatedTimeNs", async () => {
    const r = await memweave(["gmem", "replay", SMALL, "--json", "--set", "farFaultNs=20us"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const doc = JSON.parse(r.stdout) as Record<string, unknown> & {
      stats: Record<string, number>;
    };
    expect(Object.keys(doc.stats)).toEqual(COUNTERS);
    expect(doc.stats).toMatchObject({
      deviceFaults: 4,
      hostFaults: 2,
      migrationsToDevice: 3,
      migrationsToHost: 2,
      evictions: 0,
      prefetchedPages: 0,
      thrashingEvents: 0,
      bytesToDevice: 6 * 2 ** 20,
      bytesToHost: 4 * 2 ** 20,
    });
    // 4 far faults at 20 us, 5 migrations of 2 MiB at 16 GB/s, 10 local accesses, the walks.
    const walks = (doc.time as { walksNs: number }).walksNs;
    expect(doc.stats.simulatedTimeNs).toBeCloseTo(4 * 20_000 + 5 * 131_072 + 10 + walks, 6);
    expect(doc).toMatchObject({
      trace: SMALL,
      format: "csv",
      accesses: 10,
      reads: 6,
      writes: 4,
      ok: true,
      mismatches: [],
      settings: { farFaultNs: "20us" },
      policy: { name: "gmem", evictBatch: 16 },
      platform: { device: "gpu0", deviceMemory: 2 ** 30, mapping: { start: 0x10_0000_0000 } },
    });
  });

  it("replays a generator and a binary trace", async () => {
    const g = await memweave([
      "gmem",
      "replay",
      "gen:hotset,length=64M,hot=8M,count=5k,writes=0.3,seed=1",
      "--device-memory",
      "16M",
      "--json",
    ]);
    expect(g.code).toBe(0);
    const doc = JSON.parse(g.stdout) as {
      accesses: number;
      format: string;
      stats: Record<string, number>;
    };
    expect(doc.format).toBe("generated");
    expect(doc.accesses).toBe(5000);
    expect(doc.stats.evictions).toBeGreaterThan(0);
    expect(doc.stats.bytesToDevice).toBe(doc.stats.migrationsToDevice! * 2 ** 21);

    const file = join(tmp.dir, "t.bin");
    writeFileSync(
      file,
      encodeBinaryTrace([
        { who: "cpu", op: "w", addr: 0x4000_0000, size: 4, value: Uint8Array.of(9, 8, 7, 6) },
        { who: "gpu0", op: "r", addr: 0x4000_0000, size: 4, value: Uint8Array.of(9, 8, 7, 6) },
      ]),
    );
    const b = await memweave(["gmem", "replay", file, "--json"]);
    expect(b.code).toBe(0);
    expect(JSON.parse(b.stdout)).toMatchObject({
      format: "binary",
      ok: true,
      stats: { deviceFaults: 1, migrationsToDevice: 1 },
    });
  });

  it("refuses a malformed CSV as file:line: what was expected, runs nothing, exits 2", async () => {
    const file = tmp.file("bad.csv", "who,op,addr\ncpu,w,0x1000\ngpu1,r,0x2000\ncpu,x,zz,0\n");
    const r = await memweave(["gmem", "replay", file]);
    expect(r).toEqual({
      code: 2,
      stdout: "",
      stderr: [
        `${file}:3: unknown device "gpu1", did you mean "gpu0"? (have: cpu, gpu0)`,
        `${file}:4: op must be "r" or "w", got "x"`,
        `${file}:4: addr must be hex (0x...) or decimal, got "zz"`,
        `${file}:4: size must be a number of bytes in 1..65535, got "0"`,
        "",
      ].join("\n"),
    });
  });

  it("refuses an unknown --set key with a suggestion, a bad value, a bad generator: exit 2", async () => {
    const r = await memweave(["gmem", "replay", SMALL, "--set", "farFault=1us"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(
      /^memweave gmem replay: unknown setting "farFault", did you mean "farFaultNs"\? \(cost: farFaultNs, .*; policy: granularity, evictBatch, /,
    );
    const v = await memweave(["gmem", "replay", SMALL, "--set", "linkBandwidth=fast"]);
    expect(v.code).toBe(2);
    expect(v.stderr).toMatch(/cost parameter linkBandwidth: "fast" is not a bandwidth/);
    const n = await memweave(["gmem", "replay", SMALL, "--set", "novalue"]);
    expect(n.code).toBe(2);
    expect(n.stderr).toMatch(/expected KEY=VALUE/);
    const gen = await memweave(["gmem", "replay", "gen:hotset,length=4G,hott=1G"]);
    expect(gen).toMatchObject({ code: 2, stdout: "" });
    expect(gen.stderr).toMatch(/unknown trace key "hott", did you mean "hot"\?/);
    const p = await memweave(["gmem", "replay", SMALL, "--policy", "cuda"]);
    expect(p.code).toBe(2);
    expect(p.stderr).toMatch(/expected gmem or uvm, got "cuda"/);
    const missing = await memweave(["gmem", "replay", "nope.csv"]);
    expect(missing).toEqual({
      code: 2,
      stdout: "",
      stderr: "nope.csv: cannot read the trace: no such file\n",
    });
  });

  it("a read that finds other bytes is reported with its line: exit 1", async () => {
    const file = tmp.file("mismatch.csv", "cpu,w,0x1000,2,0102\ngpu0,r,0x1000,2,0103\n");
    const r = await memweave(["gmem", "replay", file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      `mismatch: ${file}:2: gpu0 read 0x1000 (2 bytes): expected 0103, got 0102\n`,
    );
  });

  it("runs the uvm policy", async () => {
    const r = await memweave(["gmem", "replay", SMALL, "--policy", "uvm", "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      ok: boolean;
      policy: { name: string };
      stats: Record<string, number>;
    };
    expect(doc.ok).toBe(true);
    expect(doc.policy.name).toBe("uvm");
    expect(doc.stats.bytesToDevice).toBeLessThan(6 * 2 ** 20);
  });
});

describe("memweave gmem compare", () => {
  it("prints gmem and uvm side by side on the same trace", async () => {
    const r = await memweave(["gmem", "compare", SMALL]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/GMEM policies side by side\n/);
    expect(r.stdout).toMatch(/│ counter +│ gmem +│ uvm +│/);
    expect(r.stdout).toMatch(/│ deviceFaults +│ 4 +│ \d+ +│/);
    expect(r.stdout).toMatch(/│ bytesToDevice +│ 6 MiB \(6,291,456\) +│ [\d.]+ KiB/);
  });

  it("--json gives one run per policy, each with exactly the counters", async () => {
    const r = await memweave([
      "gmem",
      "compare",
      SMALL,
      "--policy",
      "gmem",
      "--policy",
      "uvm",
      "--json",
    ]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      runs: Array<{ policy: { name: string }; stats: object }>;
    };
    expect(doc.runs.map((x) => x.policy.name)).toEqual(["gmem", "uvm"]);
    for (const run of doc.runs) expect(Object.keys(run.stats)).toEqual(COUNTERS);
  });
});

describe("scenarios with trace files", () => {
  it("memweave run replays examples/gmem-compare.yaml with the tables side by side", async () => {
    const r = await memweave(["run", "examples/gmem-compare.yaml"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Step 2 (gmem.compare): GMEM policies side by side\n");
    expect(r.stdout).toMatch(/│ counter +│ gmem +│ uvm +│/);
  });

  it("a malformed trace is a load error at its own line, and nothing runs", async () => {
    const machine = readFileSync(join(root, "examples/gmem-compare.yaml"), "utf8");
    const yaml = machine.replace(
      /\nsteps:[\s\S]*$/,
      "\nsteps:\n  - { op: gmem.trace, file: bad.csv }\n",
    );
    const file = tmp.file("s.yaml", yaml);
    tmp.file("bad.csv", "gpu0,r,0x1000000000\ngpu0,q,0x1000000000\n");
    const r = await memweave(["run", file]);
    expect(r).toEqual({
      code: 2,
      stdout: "",
      stderr: `${join(tmp.dir, "bad.csv")}:2:1: steps[0].file: op must be "r" or "w", got "q"\n`,
    });
  });
});

describe("the progress bar", () => {
  async function run(isTTY: boolean, count: string) {
    let stdout = "";
    let stderr = "";
    const code = await runCli(
      ["gmem", "replay", `gen:uniform,length=8M,count=${count},seed=2`, "--json"],
      {
        stdout: { write: (s: string) => (stdout += s) },
        stderr: { write: (s: string) => (stderr += s), isTTY },
        env: {},
      },
    );
    return { code, stdout, stderr };
  }

  it("goes to stderr on a terminal for a long trace, and is cleared at the end", async () => {
    const r = await run(true, "200k");
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^\rgmem: \[[#.]{30}\] +\d+% [\d,]+\/200,000 accesses/);
    expect(r.stderr.endsWith("\r\u001b[K")).toBe(true);
    expect(JSON.parse(r.stdout)).toMatchObject({ accesses: 200_000 });
  });

  it("is not shown off a terminal, nor for a short trace", async () => {
    expect((await run(false, "200k")).stderr).toBe("");
    expect((await run(true, "1000")).stderr).toBe("");
  });
});
