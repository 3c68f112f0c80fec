/**
 * End-to-end tests of `memweave check` and of `run`'s load errors, as a user sees them: the
 * static check of names and values at file:line:column with suggestions, every problem at
 * once, warnings, several files, standard input, `--json` diagnostics, and YAML's edge cases.
 */
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { Outcome } from "./cli.testutil.js";
import { bin, ensureBuilt, memweave, root, tempFolder } from "./cli.testutil.js";

const tmp = tempFolder("memweave-check-cli-");
const file = tmp.file;

beforeAll(ensureBuilt, 180_000);
afterAll(tmp.remove);

/** Run the built CLI with `input` on its standard input. */
function withStdin(args: string[], input: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input);
  });
}

const MACHINE = `version: 1
name: t
machine:
  regions:
    - { name: dram, base: 0x8000_0000, size: 64M, kind: ram }
  targets:
    - { name: system, allocator: buddy, ranges: [{ region: dram, size: 32M }] }
    - { name: pgtables, allocator: buddy, ranges: [{ region: dram, offset: 32M, size: 1M }] }
  pageTables:
    - { name: dma-pt, format: { kind: v7s }, target: pgtables }
steps:
`;
/** The line of MACHINE's first step. */
const FIRST = 12;

const scenario = (...steps: string[]) => MACHINE + steps.map((s) => `  - ${s}\n`).join("");

describe("memweave check: names and values, statically", () => {
  it("a typo'd target: its file:line:column and the suggestion, nothing run", async () => {
    const f = file("typo.yaml", scenario("{ op: alloc, target: sytem, size: 64K, as: buf }"));
    const r = await memweave(["check", f]);
    expect(r).toEqual({
      code: 2,
      stdout: "",
      stderr: `${f}:${FIRST}:26: steps[0].target: no memory target named "sytem", did you mean "system"? (have: system, pgtables)\n`,
    });
  });

  it("names bound by earlier steps: alloc, free, then use is an error", async () => {
    const f = file(
      "freed.yaml",
      scenario(
        "{ op: alloc, target: system, size: 64K, as: buf }",
        "{ op: free, alloc: buf }",
        "{ op: free, alloc: buf, expectError: EINVAL }", // a double free on purpose: fine
        "{ op: free, alloc: buf }",
      ),
    );
    const r = await memweave(["check", f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `${f}:${FIRST + 3}:24: steps[3].alloc: allocation "buf" was freed at steps[1]; bind it again before using it\n`,
    );
  });

  it("align: 3K is not a power of two", async () => {
    const f = file(
      "align.yaml",
      scenario("{ op: alloc, target: system, size: 64K, align: 3K, as: buf }"),
    );
    const r = await memweave(["check", f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `${f}:${FIRST}:52: steps[0].align: expected an alignment that is a power of two >= 4K (4K, 64K, 1M, …), got 3 KiB\n`,
    );
  });

  it("every problem at once, by position", async () => {
    const f = file(
      "many.yaml",
      scenario(
        "{ op: alloc, target: sytem, size: 64K, as: buf }",
        "{ op: alloc, target: system, size: 64K, align: 3K }",
        "{ op: map, table: dma_pt, va: 0x1000_0000, pa: buf, size: 64K, prot: rw }",
        "{ op: write, addr: bux + 4, data: '00' }",
        "{ op: free, alloc: bu }",
      ),
    );
    const r = await memweave(["check", f]);
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n").filter(Boolean)).toEqual([
      `${f}:${FIRST}:26: steps[0].target: no memory target named "sytem", did you mean "system"? (have: system, pgtables)`,
      `${f}:${FIRST + 1}:52: steps[1].align: expected an alignment that is a power of two >= 4K (4K, 64K, 1M, …), got 3 KiB`,
      `${f}:${FIRST + 2}:23: steps[2].table: no page table named "dma_pt", did you mean "dma-pt"? (have: dma-pt)`,
      `${f}:${FIRST + 3}:24: steps[3].addr: nothing named "bux" is bound by an earlier step, did you mean "buf"? (bound by then: buf)`,
      `${f}:${FIRST + 4}:24: steps[4].alloc: no allocation named "bu" is bound by an earlier step, did you mean "buf"? (bound by then: buf)`,
    ]);
  });

  it("run refuses the same file before anything runs", async () => {
    const f = file("run-typo.yaml", scenario("{ op: alloc, target: sytem, size: 64K }"));
    const r = await memweave(["run", f]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`${f}:${FIRST}:26: steps[0].target: no memory target named "sytem"`);
  });

  it("every example passes, in one invocation", async () => {
    const examples = readdirSync(`${root}/examples`)
      .filter((n) => n.endsWith(".yaml"))
      .map((n) => `examples/${n}`);
    const r = await memweave(["check", ...examples]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n").filter(Boolean)).toHaveLength(examples.length);
  });
});

describe("memweave check: warnings, several files, standard input", () => {
  it("warnings go to stderr as file:line:col: warning: …, and the file is valid", async () => {
    const f = file(
      "warn.yaml",
      scenario(
        "{ op: alloc, target: system, size: 64K, as: buf }",
        "{ op: map, table: dma-pt, va: 0x1000_0000, pa: buf, size: 64K, prot: w }",
      ),
    );
    const r = await memweave(["check", f]);
    expect(r).toEqual({
      code: 0,
      stdout: `ok: ${f} (2 steps)\n`,
      stderr:
        `${f}:${FIRST}:3: warning: steps: no step checks anything (no expect, expect… key or expectError): the run passes whatever the model does\n` +
        `${f}:${FIRST + 1}:74: warning: steps[1].prot: write-only prot (-w-) on page table "dma-pt" (v7s): a stage-1 format cannot express write-only, so the mapping is readable and writable (rw-)\n`,
    });
  });

  it("several files: each reported, exit 2 if any is invalid", async () => {
    const good = file(
      "good.yaml",
      scenario("{ op: stats }", "{ op: expect, target: system, liveAllocations: 0 }"),
    );
    const bad = file("bad.yaml", scenario("{ op: free, alloc: nothing }"));
    const r = await memweave(["check", good, bad]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe(`ok: ${good} (2 steps)\n`);
    expect(r.stderr).toBe(
      `${bad}:${FIRST}:24: steps[0].alloc: no allocation named "nothing" is bound by an earlier step (bound by then: none)\n`,
    );
    expect((await memweave(["check", good, good])).code).toBe(0);
  });

  it("- reads standard input, named <stdin>, for check and run", async () => {
    const text = scenario("{ op: alloc, target: sytem, size: 64K }");
    const checked = await withStdin(["check", "-"], text);
    expect(checked.code).toBe(2);
    expect(checked.stderr).toBe(
      `<stdin>:${FIRST}:26: steps[0].target: no memory target named "sytem", did you mean "system"? (have: system, pgtables)\n`,
    );
    const ran = await withStdin(
      ["run", "-", "--json"],
      scenario(
        "{ op: alloc, target: system, size: 64K }",
        "{ op: expect, target: system, liveAllocations: 1 }",
      ),
    );
    expect(ran.code).toBe(0);
    expect(JSON.parse(ran.stdout)).toMatchObject({ ok: true, expectations: { passed: 1 } });
    const valid = await withStdin(
      ["check", "-"],
      scenario("{ op: expect, target: system, liveAllocations: 0 }"),
    );
    expect(valid).toEqual({ code: 0, stdout: "ok: <stdin> (1 step)\n", stderr: "" });
  });
});

describe("--json diagnostics", () => {
  it("check --json: one document, the same bytes every time (golden)", async () => {
    const a = file(
      "j-bad.yaml",
      scenario("{ op: alloc, target: sytem, size: 64K, as: buf }", "{ op: free, alloc: buf }"),
    );
    const b = file("j-warn.yaml", scenario("{ op: alloc, target: system, size: 64K, as: buf }"));
    const r = await memweave(["check", a, b, "--json"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("");
    expect(r.stdout.replaceAll(tmp.dir, "<dir>")).toBe(`{
  "ok": false,
  "diagnostics": [
    {
      "file": "<dir>/j-bad.yaml",
      "line": ${FIRST},
      "column": 3,
      "path": "steps",
      "code": "no-expectations",
      "severity": "warning",
      "message": "no step checks anything (no expect, expect… key or expectError): the run passes whatever the model does"
    },
    {
      "file": "<dir>/j-bad.yaml",
      "line": ${FIRST},
      "column": 26,
      "path": "steps[0].target",
      "code": "unknown-name",
      "severity": "error",
      "message": "no memory target named \\"sytem\\", did you mean \\"system\\"? (have: system, pgtables)",
      "suggestion": "system"
    },
    {
      "file": "<dir>/j-warn.yaml",
      "line": ${FIRST},
      "column": 3,
      "path": "steps",
      "code": "no-expectations",
      "severity": "warning",
      "message": "no step checks anything (no expect, expect… key or expectError): the run passes whatever the model does"
    }
  ],
  "files": [
    {
      "file": "<dir>/j-bad.yaml",
      "ok": false,
      "errors": 1,
      "warnings": 1
    },
    {
      "file": "<dir>/j-warn.yaml",
      "ok": true,
      "steps": 1,
      "errors": 0,
      "warnings": 1
    }
  ]
}
`);
    const again = await memweave(["check", a, b, "--json"]);
    expect(again.stdout).toBe(r.stdout);
  });

  it("check --json on valid files: ok, no diagnostics, exit 0", async () => {
    const r = await memweave(["check", "examples/quickstart.yaml", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      ok: true,
      diagnostics: [],
      files: [{ file: "examples/quickstart.yaml", ok: true, steps: 26, errors: 0, warnings: 0 }],
    });
  });

  it("run --json on an invalid file: the diagnostics document on stdout, exit 2", async () => {
    const f = file("run-json.yaml", scenario("{ op: free, alloc: nope }"));
    const r = await memweave(["run", f, "--json"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("");
    const doc = JSON.parse(r.stdout) as { ok: boolean; diagnostics: unknown[] };
    expect(doc.ok).toBe(false);
    expect(doc.diagnostics).toEqual([
      {
        file: f,
        line: FIRST,
        column: 3,
        path: "steps",
        code: "no-expectations",
        severity: "warning",
        message:
          "no step checks anything (no expect, expect… key or expectError): the run passes whatever the model does",
      },
      {
        file: f,
        line: FIRST,
        column: 24,
        path: "steps[0].alloc",
        code: "unknown-name",
        severity: "error",
        message: 'no allocation named "nope" is bound by an earlier step (bound by then: none)',
      },
    ]);
    const unreadable = await memweave(["run", `${tmp.dir}/nope.yaml`, "--json"]);
    expect(JSON.parse(unreadable.stdout)).toEqual({
      ok: false,
      diagnostics: [
        {
          file: `${tmp.dir}/nope.yaml`,
          line: 0,
          column: 0,
          path: "",
          code: "io",
          severity: "error",
          message: "cannot read file: no such file",
        },
      ],
    });
  });
});

describe("YAML edge cases", () => {
  it("deep nesting: a clear error where the limit is crossed, not a stack overflow", async () => {
    const f = file(
      "deep.yaml",
      "version: 1\nname: deep\nmachine: {}\nsteps:\n  - " +
        "[".repeat(20000) +
        "]".repeat(20000) +
        "\n",
    );
    const r = await memweave(["check", f]);
    expect(r).toEqual({
      code: 2,
      stdout: "",
      stderr: `${f}:5:67: YAML nesting deeper than 64 levels (maps and lists inside each other): a scenario needs far fewer\n`,
    });
  });

  it("merge keys are merged (<<: *base), and errors point into the anchor", async () => {
    const steps = [
      "&one { op: alloc, target: system, size: 64K, as: a }",
      "{ <<: *one, as: b }",
      "{ op: expect, target: system, liveAllocations: 2 }",
    ];
    const ok = await memweave(["run", file("merge.yaml", scenario(...steps))]);
    expect(ok.code).toBe(0);
    const bad = file(
      "merge-bad.yaml",
      scenario(...steps).replace("target: system, size", "target: sytem, size"),
    );
    const r = await memweave(["check", bad]);
    expect(r.code).toBe(2);
    expect(
      r.stderr
        .split("\n")
        .filter(Boolean)
        .map((l) => l.slice(bad.length)),
    ).toEqual([
      `:${FIRST}:31: steps[0].target: no memory target named "sytem", did you mean "system"? (have: system, pgtables)`,
      `:${FIRST}:31: steps[1].target: no memory target named "sytem", did you mean "system"? (have: system, pgtables)`,
    ]);
  });

  it("tagged scalars: both types and the tag, never suggesting the same text", async () => {
    const f = file(
      "tag.yaml",
      MACHINE.replace("version: 1", "version: !!str 1") + "  - { op: stats }\n",
    );
    const r = await memweave(["check", f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `${f}:1:16: version: expected the number 1, got the string "1" (tagged !!str)\n`,
    );
  });
});
