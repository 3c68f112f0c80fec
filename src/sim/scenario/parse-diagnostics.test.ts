/**
 * The loader's diagnostics as data (code, severity, suggestion), the static check through
 * parseScenario (every problem at once, at its line and column), warnings, and YAML's edge
 * cases: deep nesting, merge keys, tags.
 */
import { describe, expect, it } from "vitest";

import type { ScenarioError, ScenarioParseResult } from "./parse.js";
import { diagnosticJson, formatScenarioError, MAX_NESTING, parseScenario } from "./parse.js";

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
    - name: cpu-pt
      format: { kind: lpae, stage: 1, granule: 4K, ias: 48, oas: 48 }
      target: pgtables
    - name: s2-pt
      format: { kind: lpae, stage: 2, granule: 4K, ias: 40, oas: 40 }
      target: pgtables
steps:
`;
/** The line of MACHINE's first step. */
const FIRST = 18;

function errorsOf(r: ScenarioParseResult): readonly ScenarioError[] {
  if (r.ok) throw new Error("expected the scenario to be invalid");
  return r.errors;
}

/** Diagnostics as `line:col code path: message`. */
function brief(list: readonly ScenarioError[]): string[] {
  return list.map((e) => `${e.line}:${e.column} ${e.code} ${e.path}: ${e.message}`);
}

describe("diagnostics as data", () => {
  it("a typo'd target: code, suggestion and exact position", () => {
    const [e, ...rest] = errorsOf(
      parseScenario(MACHINE + "  - { op: alloc, target: sytem, size: 64K }\n", "t.yaml"),
    );
    expect(rest).toEqual([]);
    expect(e).toEqual({
      file: "t.yaml",
      line: FIRST,
      column: 26,
      path: "steps[0].target",
      message: 'no memory target named "sytem", did you mean "system"? (have: system, pgtables)',
      kind: "schema",
      code: "unknown-name",
      severity: "error",
      suggestion: "system",
    });
    expect(diagnosticJson(e!)).toEqual({
      file: "t.yaml",
      line: FIRST,
      column: 26,
      path: "steps[0].target",
      code: "unknown-name",
      severity: "error",
      message: 'no memory target named "sytem", did you mean "system"? (have: system, pgtables)',
      suggestion: "system",
    });
  });

  it("the schema's problems have codes: unknown-key, unknown-op, missing-key, bad-value", () => {
    const errors = errorsOf(
      parseScenario(
        MACHINE +
          [
            "  - { op: alloc, target: system, szie: 4K }",
            "  - { op: allocate }",
            "  - { op: free }",
            "  - { op: alloc, target: system, size: 4.5K }",
          ].join("\n") +
          "\n",
        "t.yaml",
      ),
    );
    expect(errors.map((e) => [e.path, e.code, e.suggestion])).toEqual([
      ["steps[0].size", "missing-key", undefined],
      ["steps[0].szie", "unknown-key", "size"],
      ["steps[1].op", "unknown-op", "alloc"],
      ["steps[2].alloc", "missing-key", undefined],
      ["steps[3].size", "bad-value", undefined],
    ]);
  });

  it("every problem at once: the schema's, the machine names' and the names' of earlier steps", () => {
    const r = parseScenario(
      MACHINE +
        [
          "  - { op: alloc, target: sytem, size: 64K, as: buf }",
          "  - { op: alloc, target: system, size: 64K, align: 3K, as: b2 }",
          "  - { op: free, alloc: buf }",
          "  - { op: free, alloc: buf }",
          "  - { op: map, table: cpu_pt, va: 0x1000, pa: buf, size: 4K, prot: rw }",
          "  - { op: free, alloc: b2 }", // b2's step is invalid: b2 may be bound
        ].join("\n") +
        "\n",
      "t.yaml",
    );
    expect(brief(errorsOf(r))).toEqual([
      `${FIRST}:26 unknown-name steps[0].target: no memory target named "sytem", did you mean "system"? (have: system, pgtables)`,
      `${FIRST + 1}:52 bad-value steps[1].align: expected an alignment that is a power of two >= 4K (4K, 64K, 1M, …), got 3 KiB`,
      `${FIRST + 3}:24 freed-name steps[3].alloc: allocation "buf" was freed at steps[2]; bind it again before using it`,
      `${FIRST + 4}:23 unknown-name steps[4].table: no page table named "cpu_pt", did you mean "cpu-pt"? (have: dma-pt, cpu-pt, s2-pt)`,
    ]);
  });

  it("alignments: a power of two of at least 4K", () => {
    for (const [align, ok] of [
      ["3K", false],
      ["2K", false],
      ["12K", false],
      ["4K", true],
      ["64K", true],
      ["4G", true],
    ] as const) {
      const r = parseScenario(
        MACHINE + `  - { op: alloc, target: system, size: 64K, align: ${align} }\n`,
      );
      expect(r.ok, align).toBe(ok);
    }
  });
});

describe("warnings", () => {
  const mapped = (table: string, prot: string) =>
    MACHINE +
    "  - { op: alloc, target: system, size: 64K, as: buf }\n" +
    `  - { op: map, table: ${table}, va: 0x1000_0000, pa: buf, size: 64K, prot: ${prot} }\n` +
    "  - { op: read, addr: buf, expect: '00' }\n";

  it("a write-only prot on a stage-1 table (v7s, LPAE stage 1) is widened to read-write", () => {
    for (const [table, format] of [
      ["dma-pt", "v7s"],
      ["cpu-pt", "lpae-s1 4K ias48 oas48"],
    ] as const) {
      const r = parseScenario(mapped(table, "w"), "t.yaml");
      expect(r.ok).toBe(true);
      expect(r.warnings.map(formatScenarioError)).toEqual([
        `t.yaml:${FIRST + 1}:74: warning: steps[1].prot: write-only prot (-w-) on page table "${table}" (${format}): a stage-1 format cannot express write-only, so the mapping is readable and writable (rw-)`,
      ]);
      expect(r.warnings[0]).toMatchObject({ code: "prot-widened", severity: "warning" });
    }
  });

  it("no warning where the format expresses the prot: stage 2, or read-write", () => {
    expect(parseScenario(mapped("s2-pt", "w")).warnings).toEqual([]);
    expect(parseScenario(mapped("dma-pt", "rw")).warnings).toEqual([]);
  });

  it("a scenario that checks nothing is warned about, still valid", () => {
    const r = parseScenario(MACHINE + "  - { op: alloc, target: system, size: 64K }\n", "t.yaml");
    expect(r.ok).toBe(true);
    expect(brief(r.warnings)).toEqual([
      `${FIRST}:3 no-expectations steps: no step checks anything (no expect, expect… key or expectError): the run passes whatever the model does`,
    ]);
  });

  it("an invalid scenario keeps its warnings apart from its errors", () => {
    const r = parseScenario(MACHINE + "  - { op: alloc, target: sytem, size: 64K }\n");
    expect(r.ok).toBe(false);
    expect(errorsOf(r).every((e) => e.severity === "error")).toBe(true);
  });
});

describe("YAML edge cases", () => {
  it(`nesting deeper than ${MAX_NESTING} levels is refused where it crosses the limit`, () => {
    const flow = "version: 1\nname: deep\nmachine: {}\nsteps:\n  - " + "[".repeat(5000);
    const [e, ...rest] = errorsOf(parseScenario(flow + "]".repeat(5000) + "\n", "d.yaml"));
    expect(rest).toEqual([]);
    // The top map is level 1, steps level 2, the first `[` (column 5) level 3: the 63rd is 65.
    expect(e).toMatchObject({ line: 5, column: 5 + 62, code: "yaml-depth", severity: "error" });
    expect(e!.message).toBe(
      "YAML nesting deeper than 64 levels (maps and lists inside each other): a scenario needs far fewer",
    );
    let block = "version: 1\nname: deep\nmachine:\n";
    for (let i = 1; i < 200; i++) block += `${"  ".repeat(i)}k${i}:\n`;
    expect(errorsOf(parseScenario(block))[0]).toMatchObject({ line: 3 + 64, code: "yaml-depth" });
  });

  it("exactly the limit is fine for the reader (the schema then says what is wrong)", () => {
    const text = "version: 1\nname: deep\nmachine: {}\nsteps:\n  - " + "[".repeat(62);
    const errors = errorsOf(parseScenario(text + "]".repeat(62) + "\n"));
    expect(errors.map((e) => e.code)).not.toContain("yaml-depth");
    const over = errorsOf(parseScenario(text + "[]" + "]".repeat(62) + "\n"));
    expect(over.map((e) => e.code)).toEqual(["yaml-depth"]);
  });

  it("merge keys are merged; errors in merged keys point where the anchor writes them", () => {
    const text =
      MACHINE +
      [
        "  - &small { op: alloc, target: system, size: 64K, as: a }",
        "  - { <<: *small, as: b }",
        "  - <<: *small",
        "    as: c",
        "  - { op: expect, target: system, liveAllocations: 3 }",
      ].join("\n") +
      "\n";
    const r = parseScenario(text);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.scenario.steps[2]).toMatchObject({ op: "alloc", size: 65536, as: "c" });
    const bad = parseScenario(
      text.replace("target: system, size: 64K", "target: sytem, size: 64K"),
    );
    expect(brief(errorsOf(bad)).map((l) => l.split(" no memory")[0])).toEqual([
      `${FIRST}:33 unknown-name steps[0].target:`,
      `${FIRST}:33 unknown-name steps[1].target:`,
      `${FIRST}:33 unknown-name steps[2].target:`,
    ]);
  });

  it("a merge source that is not a map is refused by name", () => {
    const errors = errorsOf(parseScenario(MACHINE + "  - { op: stats, <<: [1] }\n", "m.yaml"));
    expect(brief(errors)).toEqual([
      `${FIRST}:23 yaml-merge-key : a merge key (<<) takes a map, an alias to one (<<: *base) or a list of them, got a scalar`,
    ]);
  });

  it("a tagged scalar of the wrong type says both types and the tag, never the same text", () => {
    const errors = errorsOf(
      parseScenario(MACHINE.replace("version: 1", "version: !!str 1"), "t.yaml"),
    );
    expect(formatScenarioError(errors[0]!)).toBe(
      't.yaml:1:16: version: expected the number 1, got the string "1" (tagged !!str)',
    );
    expect(errors[0]).toMatchObject({ code: "yaml-tag" });
    expect(errors[0]!.suggestion).toBeUndefined();
    // Untagged, the same mistake has no tag to blame and no suggestion either.
    const plain = errorsOf(parseScenario(MACHINE.replace("version: 1", 'version: "1"')));
    expect(plain[0]!.message).toBe('expected the number 1, got the string "1"');
  });

  it("a tag that changes nothing is not blamed (`!!str 4K` is a size string anyway)", () => {
    const r = parseScenario(
      MACHINE + "  - { op: read, addr: 0x8000_0000, size: !!str 4K, expect: '00' }\n",
    );
    expect(brief(errorsOf(r))).toEqual([
      `${FIRST}:48 bad-value steps[0].size: size 4096 differs from the 1 byte of expect`,
    ]);
  });

  it("tags beyond the core ones, and core tags a value does not fit, are refused", () => {
    const errors = errorsOf(
      parseScenario(
        "version: 1\nname: !custom x\ndescription: !!binary aGVsbG8=\nseed: !!float abc\nmachine: {}\nsteps: []\n",
        "t.yaml",
      ),
    );
    expect(brief(errors)).toEqual([
      "2:15 yaml-tag : the tag !custom is not supported: scenario values are maps, lists, strings, numbers and booleans (core tags such as !!str and !!int are fine)",
      "3:23 yaml-tag : the tag !!binary is not supported: scenario values are maps, lists, strings, numbers and booleans (core tags such as !!str and !!int are fine)",
      "4:7 yaml-tag : the value does not fit its tag !!float",
    ]);
  });

  it("a syntax error has the code yaml-syntax", () => {
    expect(errorsOf(parseScenario("a: [1, 2\n"))[0]).toMatchObject({
      code: "yaml-syntax",
      severity: "error",
      kind: "syntax",
    });
  });
});
