/**
 * End-to-end tests of the human output of `memweave run` at any size: `--summary`, `--quiet`,
 * tables fitted to the width, the progress bar (only on a terminal), one size style, and a
 * 50,000-step scenario printed whole.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { runCli } from "./program.js";
import type { CliIo } from "./program.js";
import { ensureBuilt, memweave, tempFolder } from "./cli.testutil.js";
import { widthOf } from "./text-table.js";

const tmp = tempFolder("memweave-output-");
beforeAll(ensureBuilt, 180_000);
afterAll(() => tmp.remove());

const MACHINE = `version: 1
name: sizes
machine:
  regions:
    - { name: dram, base: 0x8000_0000, size: 64M, kind: ram }
  targets:
    - { name: system, allocator: buddy, ranges: [{ region: dram, size: 32M }] }
    - { name: pool, allocator: contiguous, ranges: [{ region: dram, offset: 32M, size: 31M }] }
`;

/** Sizes that are not whole units: 1 MiB + 4 KiB, 64 KiB + 64 B, 31 MiB + 960 KiB free. */
const SIZES = tmp.file(
  "sizes.yaml",
  MACHINE +
    `steps:
  - { op: alloc, target: system, size: 64K, as: a }
  - { op: alloc, target: pool, size: 0x101000, as: odd }
  - { op: fill, addr: odd, size: 0x10040, value: 0xa5 }
  - { op: read, addr: odd + 0x10000, size: 4 }
  - { op: expect, target: system, freeBytes: 0x1ff_0000, liveAllocations: 1 }
  - { op: free, alloc: a }
  - { op: expect, target: system, freeBytes: 32M }
`,
);

/** Fails twice: an expectation of step 1, then an allocation too large, which stops the run at step 3. */
const FAILING = tmp.file(
  "failing.yaml",
  MACHINE +
    `steps:
  - { op: alloc, target: system, size: 16K, as: a }
  - { op: expect, target: system, liveAllocations: 2 }
  - { op: free, alloc: a }
  - { op: alloc, target: system, size: 1G }
  - { op: alloc, target: system, size: 4K }
`,
);

const UNIT = /^(?:B|KiB|MiB|GiB|TiB|PiB)\b/;
const ANSI = new RegExp(String.fromCharCode(27));

/** No line wider than `width`, and no table cell's line starting with a unit (16 / KiB). */
function expectFits(text: string, width: number): void {
  for (const line of text.split("\n")) {
    expect(widthOf(line), line).toBeLessThanOrEqual(width);
    for (const cell of line.split("│")) expect(cell.trim(), line).not.toMatch(UNIT);
  }
}

describe("--summary and --quiet", () => {
  it("--summary: the failures at their lines, the totals and the final statistics; no machine, no passing step", async () => {
    const r = await memweave(["run", FAILING, "--summary", "--width", "100"]);
    expect(r.code).toBe(1);
    const out = r.stdout;
    expect(out.startsWith(`Scenario sizes (${FAILING}), seed 0\n`)).toBe(true);
    expect(out).toContain("Steps: 4 of 5 ran, 2 failed; expectations: 0 passed, 2 failed\n");
    expect(out).toContain("Failed steps\n");
    expect(out).toMatch(/│ 1 +│ expect │ expect system: liveAllocations 2 +│ FAILED: /);
    expect(out).toMatch(/│ 3 +│ alloc +│ alloc 1 GiB from system +│ FAILED: step failed: ENOMEM/);
    expect(out).not.toMatch(/│ 0 +│ alloc/);
    expect(out).not.toContain("Machine\n");
    expect(out).toContain(`✗ [1] system.liveAllocations: expected 2, got 1 (${FAILING}:11)`);
    expect(out).toContain(`The run stopped at step 3 (${FAILING}:13); 1 step(s) skipped.`);
    expect(out).toContain("Final statistics\nMemory targets\n");
    expect(out.endsWith("FAIL: 2 of 2 expectation(s) failed\n")).toBe(true);
  });

  it("--summary of a passing run: the totals, the statistics, PASS", async () => {
    const r = await memweave(["run", SIZES, "--summary"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Steps: 7 of 7 ran, 0 failed; expectations: 3 passed, 0 failed\n");
    expect(r.stdout).not.toContain("Failed");
    expect(r.stdout.endsWith("PASS: all 3 expectation(s) held\n")).toBe(true);
  });

  it("--quiet: nothing on success, the failures briefly otherwise", async () => {
    const ok = await memweave(["run", SIZES, "--quiet"]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe("");
    const bad = await memweave(["run", FAILING, "--quiet", "--width", "200"]);
    expect(bad.code).toBe(1);
    expect(bad.stdout.split("\n")).toEqual([
      `FAIL: 2 of 2 expectation(s) failed (${FAILING})`,
      `  ✗ [1] system.liveAllocations: expected 2, got 1 (${FAILING}:11)`,
      `  ✗ [3] alloc 1 GiB from system: step failed: ENOMEM: system: no free block of 1 GiB (free 32 MiB, largest 32 MiB) (${FAILING}:13)`,
      `  The run stopped at step 3 (${FAILING}:13); 1 step(s) skipped.`,
      "",
    ]);
  });

  it("refuses --summary or --quiet with --json, and a width below 40", async () => {
    for (const args of [
      ["--summary", "--json"],
      ["--quiet", "--json"],
      ["--summary", "--quiet"],
      ["--width", "20"],
      ["--width", "wide"],
    ]) {
      const r = await memweave(["run", SIZES, ...args]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stdout).toBe("");
    }
  });
});

describe("tables that fit the width", () => {
  it.each([60, 80, 200])("--width %d: no line wider, no unit apart from its number", async (w) => {
    for (const file of ["examples/quickstart.yaml", "examples/translation.yaml", SIZES]) {
      const r = await memweave(["run", file, "--width", String(w)]);
      expect(r.code).toBe(0);
      expect(r.stdout).not.toMatch(ANSI);
      // The steps' dumps are preformatted blocks (indented): they keep their lines.
      const tables = r.stdout
        .split("\n\n")
        .filter((part) => !/^Step \d+ \(dump\)/.test(part))
        .join("\n\n");
      expectFits(tables, w);
    }
  });

  it("takes COLUMNS when stdout is not a terminal, else 80", async () => {
    const at = (env: Record<string, string>) =>
      memweave(["run", "examples/quickstart.yaml"], env).then((r) => r.stdout);
    const narrow = await at({ COLUMNS: "60" });
    expect(narrow).toBe(
      (await memweave(["run", "examples/quickstart.yaml", "--width", "60"])).stdout,
    );
    const fallback = await at({ COLUMNS: "" });
    expect(Math.max(...fallback.split("\n").map(widthOf))).toBe(80);
    // --width wins over COLUMNS; 0 is no limit.
    const wide = await memweave(["run", "examples/quickstart.yaml", "--width", "0"], {
      COLUMNS: "60",
    });
    expect(Math.max(...wide.stdout.split("\n").map(widthOf))).toBeGreaterThan(120);
  });

  it("wraps op names and descriptions instead of cutting them when there is room", async () => {
    const r = await memweave(["run", "examples/translation.yaml", "--width", "60"]);
    expect(r.stdout).toMatch(/│ \d+ +│ translate │/);
    expect(r.stdout).not.toMatch(/trans…/);
  });
});

describe("one size style", () => {
  it("exact binary units, a two-term sum otherwise, addresses in hex", async () => {
    const r = await memweave(["run", SIZES, "--width", "0"]);
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(out).toContain("alloc 1 MiB + 4 KiB from pool as odd");
    expect(out).toContain("fill 64 KiB + 64 B at odd with 0xa5");
    expect(out).toContain("odd #2: 0x82000000+1 MiB + 4 KiB");
    expect(out).toContain("64 KiB + 64 B at 0x82000000");
    expect(out).toContain("system.freeBytes = 31 MiB + 960 KiB");
    expect(out).toContain("Byte store: 17 page(s) materialized (68 KiB)");
    expect(out).toMatch(
      /│ pool +│ contiguous │ 31 MiB │ 29 MiB \+ 1020 KiB │ 29 MiB \+ 1020 KiB │/,
    );
    // Never the old forms: decimals, KiB counts above 1023, hex sizes, configuration shorthand.
    expect(out).not.toMatch(/\d\.\d+ [KMGT]iB/);
    expect(out).not.toMatch(/\b(?:1(?:02[4-9]|0[3-9]\d|[1-9]\d\d)|[2-9]\d{3}|\d{5,}) KiB/);
    expect(out).toContain("1020 KiB");
    // The JSON keeps numbers.
    const json = JSON.parse((await memweave(["run", SIZES, "--json"])).stdout) as {
      steps: Array<{ output?: { size?: number } }>;
      statistics: { targets: Array<{ freeBytes: number }> };
    };
    expect(json.steps[1]!.output).toMatchObject({ size: 0x101000 });
    expect(json.steps[2]!.output).toMatchObject({ size: 0x10040 });
    expect(json.statistics.targets[1]!.freeBytes).toBe(31 * 2 ** 20 - 0x101000);
  });
});

describe("the progress bar", () => {
  const many = tmp.file(
    "many.yaml",
    MACHINE +
      "steps:\n" +
      Array.from({ length: 1000 }, (_, i) =>
        i % 2 === 0
          ? `  - { op: alloc, target: system, size: 4K, as: b }\n`
          : `  - { op: free, alloc: b }\n`,
      ).join("") +
      "  - { op: expect, target: system, liveAllocations: 0, allocCalls: 500 }\n",
  );

  /** Runs the CLI in-process; `tty` makes stderr a terminal; each clock reading is `tick` ms on. */
  async function run(args: string[], tty: boolean, tick: number) {
    const out: string[] = [];
    const err: string[] = [];
    let t = 0;
    const io: CliIo = {
      stdout: { write: (s: string) => out.push(s) },
      stderr: { write: (s: string) => err.push(s), isTTY: tty, columns: 100 },
      env: {},
      now: () => (t += tick),
    };
    const code = await runCli(args, io);
    return { code, stdout: out.join(""), stderr: err.join("") };
  }

  it("on a terminal, once the run takes a second: drawn on stderr, then erased", async () => {
    const r = await run(["run", many], true, 10);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("\rrun: [");
    expect(r.stderr).toMatch(/\rrun: \[#{20}\] 100% 1001\/1001 steps/);
    expect(r.stderr.endsWith("\r\u001b[K")).toBe(true);
    // Not before a second of the clock: the first drawing is past step 100.
    const first = /\rrun: \[[#.]+\] +\d+% (\d+)\/1001 steps/.exec(r.stderr);
    expect(Number(first![1])).toBeGreaterThanOrEqual(99);
    // At most one drawing per 100 ms (10 steps of this clock), plus the last.
    expect(r.stderr.split("\r").length - 1).toBeLessThanOrEqual(1 + (1001 - 99) / 10 + 2);
    // The summary itself is the same as without a terminal.
    expect(r.stdout).toBe((await run(["run", many], false, 10)).stdout);
  });

  it("never when stderr is not a terminal, nor for a run shorter than a second", async () => {
    const pipe = await run(["run", many], false, 10);
    expect(pipe.stderr).not.toContain("\r");
    const quick = await run(["run", many], true, 0);
    expect(quick.stderr).not.toContain("\r");
    const dump = await run(["dump", many], true, 10);
    expect(dump.stderr).toContain("\rdump: [");
    expect(dump.stdout).not.toContain("\r");
  });

  it("the built executable's stderr, a pipe, never shows it", async () => {
    const r = await memweave(["run", many, "--quiet"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).not.toContain("\r");
  });
});

describe("a 50,000-step scenario", () => {
  const N = 50_000;
  const lines: string[] = [];
  for (let i = 0; i < N - 1; i++) {
    const name = `b${(i >> 1) % 8}`;
    lines.push(
      i % 2 === 0
        ? `  - { op: alloc, target: system, size: 16K, as: ${name} }`
        : `  - { op: free, alloc: ${name} }`,
    );
  }
  const allocs = Math.ceil((N - 1) / 2);
  lines.push(
    `  - { op: expect, target: system, liveAllocations: 1, allocCalls: ${allocs}, freeCalls: ${allocs - 1} }`,
  );
  const big = tmp.file("big.yaml", `${MACHINE}steps:\n${lines.join("\n")}\n`);

  it("prints every step's line, the right totals and the final statistics", async () => {
    const r = await memweave(["run", big, "--width", "200"]);
    expect(r.code).toBe(0);
    const out = r.stdout;
    const rows = out.split("\n").filter((l) => /^│ \d+ +│/.test(l));
    expect(rows.length).toBe(N);
    rows.forEach((row, i) => {
      expect(row.startsWith(`│ ${i} `)).toBe(true);
    });
    expect(rows[2]).toMatch(
      /│ alloc +│ alloc 16 KiB from system as b1 +│ b1 #2: 0x80000000\+16 KiB +│$/,
    );
    expect(rows[N - 3]).toMatch(
      new RegExp(`│ free +│ free b\\d +│ freed #${allocs - 1} \\(16 KiB\\) to system +│$`),
    );
    expect(rows[N - 1]).toMatch(/│ expect │ .* │ 3 checked +│$/);
    expect(out).toContain("Expectations: 3 passed, 0 failed\n");
    expect(out).toMatch(
      /│ system +│ buddy +│ 32 MiB │ 31 MiB \+ 1008 KiB │ 16 MiB +│ 1 +│ 25000 +│ 24999 +│ 0 +│/,
    );
    expect(out).toContain(`Events: ${N - 1} (phys.alloc ${allocs}, phys.free ${allocs - 1})`);
    expect(out.endsWith("PASS: all 3 expectation(s) held\n")).toBe(true);
    expectFits(out, 200);
  }, 60_000);
});
