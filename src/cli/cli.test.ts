/**
 * End-to-end tests of the built `memweave` executable (dist/cli/main.js), run as a user would:
 * a child process, its stdout, stderr and exit code. dist/ is rebuilt first when any source is
 * newer than it (`npm test` builds anyway).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { RunResult } from "../sim/index.js";
import { ensureBuilt, memweave, root, tempFolder } from "./cli.testutil.js";

const tmp = tempFolder("memweave-cli-");
const scenarioFile = tmp.file;

beforeAll(ensureBuilt, 180_000);
afterAll(tmp.remove);

const SMALL = `version: 1
name: small
machine:
  regions: [{ name: dram, base: 0x8000_0000, size: 16M, kind: ram }]
  targets: [{ name: system, allocator: buddy, ranges: [{ region: dram }] }]
steps:
`;

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[/;
const ERROR_LINE = /^[^:]+:\d+:\d+: [^:]+: .+$/;

describe("memweave run", () => {
  it("prints the summary of the quickstart and exits 0", async () => {
    // No width limit: each table at its natural width (output-cli.test.ts fits widths).
    const r = await memweave(["run", "examples/quickstart.yaml", "--width", "0"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Scenario quickstart \(examples\/quickstart\.yaml\), seed 42\n/);
    for (const text of [
      "Machine",
      "│ dram   │ 0x80000000-0xbfffffff │ 1 GiB │ ram  │",
      "Steps",
      "frame #3: 0xa0000000+1 MiB, 0xa2000000+64 KiB, 0xa3000000+4 KiB, 0xa3001000+4 KiB",
      "ENOMEM as expected",
      "✓ [14] alloc 1 GiB from system fails with ENOMEM",
      "Final statistics",
      "│ multimedia │ chunk-pool │ 64 MiB",
      "PASS: all",
    ])
      expect(r.stdout).toContain(text);
    expect(r.stdout).not.toMatch(ANSI);
  });

  it("prints the same summary every time", async () => {
    const [a, b] = await Promise.all([
      memweave(["run", "examples/quickstart.yaml"]),
      memweave(["run", "examples/quickstart.yaml"]),
    ]);
    expect(a.stdout).toBe(b.stdout);
  });

  it("--json prints exactly one JSON document: the run result", async () => {
    const r = await memweave(["run", "examples/quickstart.yaml", "--json"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const result = JSON.parse(r.stdout) as RunResult;
    expect(result).toMatchObject({ name: "quickstart", seed: 42, ok: true });
    expect(result.expectations.failed).toBe(0);
    expect(result.steps[9]!.output!.chunks).toEqual([
      { pa: 0xa000_0000, size: 1 << 20 },
      { pa: 0xa200_0000, size: 64 << 10 },
      { pa: 0xa300_0000, size: 4096 },
      { pa: 0xa300_1000, size: 4096 },
    ]);
    const seeded = await memweave(["run", "examples/quickstart.yaml", "--json", "--seed", "7"]);
    expect((JSON.parse(seeded.stdout) as RunResult).seed).toBe(7);
  });

  it("exits 1 when an expectation fails, and says which", async () => {
    const file = scenarioFile(
      "failing.yaml",
      SMALL +
        "  - { op: alloc, target: system, size: 4K, as: a }\n" +
        "  - { op: expect, target: system, liveAllocations: 2 }\n" +
        "  - { op: free, alloc: a }\n",
    );
    const r = await memweave(["run", file, "--width", "0"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`✗ [1] system.liveAllocations: expected 2, got 1 (${file}:8)`);
    expect(r.stdout).toContain("FAIL: 1 of 1 expectation(s) failed");
    const json = await memweave(["run", file, "--json"]);
    expect(json.code).toBe(1);
    expect((JSON.parse(json.stdout) as RunResult).ok).toBe(false);
  });

  it("exits 1 when a step fails unexpectedly, and skips the rest", async () => {
    const file = scenarioFile(
      "stops.yaml",
      SMALL + "  - { op: alloc, target: system, size: 32M }\n  - { op: stats }\n",
    );
    const r = await memweave(["run", file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /│ 0 +│ alloc +│ alloc 32 MiB from system +│ FAILED: step failed: ENOMEM/,
    );
    expect(r.stdout).toContain(`✗ [0] alloc 32 MiB from system: step failed: ENOMEM: system:`);
    expect(r.stdout).toContain("The run stopped at step 0");
    expect(r.stdout).toMatch(/│ 1 +│ stats +│ statistics of everything +│ skipped/);
  });

  it("exits 2 for an invalid scenario, with errors on stderr only (--json: on stdout)", async () => {
    const r = await memweave(["run", "examples/invalid/bad-size.yaml"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      'examples/invalid/bad-size.yaml:13:11: steps[0].size: expected a size like 4K, 0x1000 or 65536, got "4.5K"\n',
    );
    const json = await memweave(["run", "examples/invalid/bad-size.yaml", "--json"]);
    expect(json.code).toBe(2);
    expect(json.stderr).toBe("");
    expect(JSON.parse(json.stdout)).toEqual({
      ok: false,
      diagnostics: [
        {
          file: "examples/invalid/bad-size.yaml",
          line: 13,
          column: 11,
          path: "steps[0].size",
          code: "bad-value",
          severity: "error",
          message: 'expected a size like 4K, 0x1000 or 65536, got "4.5K"',
        },
      ],
    });
  });

  it("exits 2 for a file it can't read", async () => {
    const r = await memweave(["run", "examples/nope.yaml"]);
    expect(r).toEqual({
      code: 2,
      stdout: "",
      stderr: "examples/nope.yaml: cannot read file: no such file\n",
    });
  });

  it("exits 2 for a bad --seed", async () => {
    const r = await memweave(["run", "examples/quickstart.yaml", "--seed", "-1"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/--seed <n>.*expected a non-negative integer/);
  });

  it("colours only when asked: never with NO_COLOR, never into a pipe", async () => {
    const r = await memweave(["run", "examples/quickstart.yaml"], {
      NO_COLOR: "1",
      FORCE_COLOR: "1",
    });
    expect(r.stdout).not.toMatch(ANSI);
  });

  const examples = readdirSync(join(root, "examples"))
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
  it.each(examples)("examples/%s runs and exits 0", async (name) => {
    const r = await memweave(["run", `examples/${name}`]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });
});

describe("memweave check", () => {
  it("prints ok and the number of steps for a valid file", async () => {
    const r = await memweave(["check", "examples/chunk-pool.yaml"]);
    expect(r).toEqual({ code: 0, stdout: "ok: examples/chunk-pool.yaml (21 steps)\n", stderr: "" });
  });

  it.each(readdirSync(join(root, "examples/invalid")).sort())(
    "reports examples/invalid/%s as file:line:col: path: message and exits 2",
    async (name) => {
      const r = await memweave(["check", `examples/invalid/${name}`]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      const lines = r.stderr.trimEnd().split("\n");
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) {
        expect(line.startsWith(`examples/invalid/${name}:`)).toBe(true);
        // YAML syntax errors have a position but no path.
        if (!line.includes("YAML syntax error")) expect(line).toMatch(ERROR_LINE);
      }
    },
  );
});

describe("the translation examples", () => {
  it("examples/translation.yaml: same bytes through two tables, a TLB hit, faults as expected", async () => {
    const r = await memweave(["run", "examples/translation.yaml", "--width", "0"]);
    expect(r.code).toBe(0);
    for (const text of [
      "│ cpu-pt     │ lpae-s1 4K ias48 oas48 │ pgtables │ 0x88000000 │",
      "context dma: dma-pt (asid 0, vmid 0); masters dma0",
      "0x10000000 -> 0x80000000, TLB hit: 68 65 6c 6c 6f",
      "permission fault, stage 1 level 2 (as expected)",
      "translation fault, stage 1 level 1 (as expected)",
      'Step 20 (dump): page table dma-pt (v7s, target pgtables)\n  page table "dma-pt" (v7s): root 0x88004000',
      "Step 21 (dump): TLB of smmu0",
      "PASS: all",
    ])
      expect(r.stdout).toContain(text);
    // The final statistics include devices, TLBs and page tables.
    const final = r.stdout.slice(r.stdout.indexOf("Final statistics"));
    for (const title of ["Devices", "TLBs", "Page tables"]) expect(final).toContain(`\n${title}\n`);
  });

  it("examples/nested.yaml: a vCPU through stage 1 and stage 2, and stage-2 faults", async () => {
    const r = await memweave(["run", "examples/nested.yaml", "--json"]);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as RunResult;
    const faults = result.steps
      .filter((s) => s.output?.fault !== undefined)
      .map((s) => s.output!.fault as { kind: string; stage: number; onTableWalk: boolean });
    expect(faults.map((f) => [f.kind, f.stage, f.onTableWalk])).toEqual([
      ["translation", 2, false],
      ["permission", 2, false],
      ["translation", 2, true],
    ]);
    expect(result.statistics.devices![0]!.context!.walks).toBeGreaterThan(0);
  });
});

describe("memweave dump", () => {
  it("prints every page table and TLB as the steps left them", async () => {
    const r = await memweave(["dump", "examples/translation.yaml"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^Scenario translation \(examples\/translation\.yaml\), seed 1: after \d+ step\(s\), all \d+ expectation\(s\) held\n\nPage table cpu-pt \(lpae-s1 4K ias48 oas48, target pgtables\)\n {2}page table "cpu-pt"/,
    );
    const titles = r.stdout.split("\n").filter((l) => /^(Page table|TLB of) /.test(l));
    expect(titles).toEqual([
      "Page table cpu-pt (lpae-s1 4K ias48 oas48, target pgtables)",
      "Page table dma-pt (v7s, target pgtables)",
      "TLB of cpu0",
      "TLB of smmu0",
    ]);
    expect(r.stdout).toContain(
      "    L2 0x20000000-0x2000ffff -> 0x80000000-0x8000ffff 64K x16 r-- user nG AF normal-nc outer desc 0x80009e31 @0x88008000",
    );
    expect(r.stdout).not.toMatch(ANSI);
  });

  it("--table and --tlb choose; --json gives the text and the structured leaves", async () => {
    const r = await memweave(["dump", "examples/translation.yaml", "--table", "dma-pt", "--json"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const doc = JSON.parse(r.stdout) as {
      ok: boolean;
      pageTables: Array<{ name: string; text: string; leaves: Array<Record<string, unknown>> }>;
      tlbs: unknown[];
    };
    expect(doc.ok).toBe(true);
    expect(doc.tlbs).toEqual([]);
    expect(doc.pageTables.map((t) => t.name)).toEqual(["dma-pt"]);
    expect(doc.pageTables[0]!.text).toMatch(/^page table "dma-pt" \(v7s\): root 0x88004000\n/);
    expect(doc.pageTables[0]!.leaves).toEqual([
      {
        va: 0x2000_0000,
        size: 65536,
        pa: 0x8000_0000,
        level: 2,
        copies: 16,
        attributes: "r-- user nG AF normal-nc outer",
        descriptor: "0x80009e31",
        descAddr: 0x8800_8000,
      },
    ]);
    const tlb = await memweave(["dump", "examples/translation.yaml", "--tlb", "dma0"]);
    expect(tlb.code).toBe(0);
    expect(tlb.stdout).toContain('TLB of smmu0\n  TLB "smmu0 tlb": 16 sets x 2 ways');
    expect(tlb.stdout).not.toContain("Page table");
  });

  it("exits 2 for an unknown table or device, 1 when an expectation fails, 0 with no tables", async () => {
    const unknown = await memweave(["dump", "examples/translation.yaml", "--table", "cpu_pt"]);
    expect(unknown).toEqual({
      code: 2,
      stdout: "",
      stderr:
        'examples/translation.yaml: no page table named "cpu_pt", did you mean "cpu-pt"? (have: cpu-pt, dma-pt)\n',
    });
    const noTlb = await memweave(["dump", "examples/quickstart.yaml", "--tlb", "cpu0"]);
    expect(noTlb.code).toBe(2);
    const none = await memweave(["dump", "examples/quickstart.yaml"]);
    expect(none.code).toBe(0);
    expect(none.stdout).toContain("The machine has no page tables and no TLBs.");
    const file = scenarioFile(
      "dump-failing.yaml",
      SMALL.replace(
        "steps:\n",
        "  pageTables: [{ name: pt, format: { kind: v7s }, target: system }]\nsteps:\n",
      ) + "  - { op: expect, table: pt, tables: 2 }\n",
    );
    const failing = await memweave(["dump", file, "--json"]);
    expect(failing.code).toBe(1);
    expect(JSON.parse(failing.stdout)).toMatchObject({
      ok: false,
      expectations: { passed: 0, failed: 1 },
      pageTables: [{ name: "pt" }],
    });
    const invalid = await memweave(["dump", "examples/invalid/bad-size.yaml"]);
    expect(invalid.code).toBe(2);
    expect(invalid.stdout).toBe("");
  });
});

describe("memweave schema, --help, --version", () => {
  it("schema prints the committed JSON Schema", async () => {
    const r = await memweave(["schema"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(root, "docs/scenario.schema.json"), "utf8"));
    expect(JSON.parse(r.stdout)).toMatchObject({ title: "memweave scenario", type: "object" });
  });

  it("--version prints the package's version", async () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
    for (const flag of ["--version", "-V"]) {
      const r = await memweave([flag]);
      expect(r).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: "" });
    }
  });

  it.each([
    [["--help"], "Usage: memweave [options] [command]"],
    [["run", "--help"], "Usage: memweave run [options] <scenario>"],
    [["check", "--help"], "Usage: memweave check [options] <scenario...>"],
    [["schema", "--help"], "Usage: memweave schema [options]"],
    [["dump", "--help"], "Usage: memweave dump [options] <scenario>"],
    [["help", "run"], "Usage: memweave run [options] <scenario>"],
  ])("%j prints help and exits 0", async (args, usage) => {
    const r = await memweave(args);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(usage);
    expect(r.stderr).toBe("");
  });

  it("a wrong command line exits 2 with usage on stderr", async () => {
    for (const args of [[], ["frobnicate"], ["run"], ["run", "a.yaml", "--colour"]]) {
      const r = await memweave(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).not.toBe("");
    }
  });
});
