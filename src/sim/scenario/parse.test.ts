import { describe, expect, it } from "vitest";

import type { ScenarioError, ScenarioParseResult } from "./parse.js";
import { formatScenarioError, parseScenario, validateScenario } from "./parse.js";

/** A valid scenario's text with the given steps (YAML lines indented by 2). */
function withSteps(steps: string): string {
  return `version: 1
name: t
machine:
  regions:
    - { name: dram, base: 0x8000_0000, size: 16M, kind: ram }
  targets:
    - { name: system, allocator: buddy, ranges: [{ region: dram }] }
steps:
${steps}`;
}
// Line 9 of withSteps() is the first line of `steps`.
const FIRST_STEP_LINE = 9;

function errorsOf(result: ScenarioParseResult): readonly ScenarioError[] {
  if (result.ok) throw new Error("expected the scenario to be invalid");
  return result.errors;
}

/** The errors as `line:col path: message` strings, for compact assertions. */
function brief(text: string): string[] {
  return errorsOf(parseScenario(text, "t.yaml")).map(
    (e) => `${e.line}:${e.column} ${e.path}: ${e.message}`,
  );
}

describe("parseScenario: valid input", () => {
  it("parses YAML, converting sizes, addresses and data", () => {
    const r = parseScenario(
      withSteps(`  - { op: alloc, target: system, size: 64K, as: buf }
  - { op: write, addr: buf + 0xffe, data: "de ad" }
`),
      "t.yaml",
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.scenario.seed).toBe(0);
    expect(r.scenario.machine.regions[0]).toEqual({
      name: "dram",
      base: 0x8000_0000,
      size: 16 << 20,
      kind: "ram",
    });
    expect(r.scenario.steps[0]).toMatchObject({ op: "alloc", size: 65536, as: "buf" });
    expect(r.scenario.steps[1]).toMatchObject({
      addr: { kind: "allocation", name: "buf", offset: 0xffe },
    });
    expect(r.source.steps).toEqual([
      { line: FIRST_STEP_LINE, column: 5 },
      { line: FIRST_STEP_LINE + 1, column: 5 },
    ]);
  });

  it("parses JSON, and locates its errors too", () => {
    const json = JSON.stringify(
      {
        version: 1,
        name: "j",
        seed: 3,
        machine: { regions: [{ name: "dram", base: "0x8000_0000", size: "1M", kind: "ram" }] },
        steps: [{ op: "stats" }],
      },
      null,
      2,
    );
    const r = parseScenario(json, "t.json");
    expect(r.ok && r.scenario.seed).toBe(3);
    const bad = json.replace('"1M"', '"1.5M"');
    const [e] = errorsOf(parseScenario(bad, "t.json"));
    const line = bad.split("\n").findIndex((l) => l.includes('"1.5M"')) + 1;
    expect(e).toMatchObject({
      file: "t.json",
      line,
      path: "machine.regions[0].size",
      kind: "schema",
    });
    expect(e!.column).toBe(bad.split("\n")[line - 1]!.indexOf('"1.5M"') + 1);
  });
});

describe("parseScenario: every error kind has its line, column and path", () => {
  it("a bad size points at the value", () => {
    expect(brief(withSteps("  - op: alloc\n    target: system\n    size: 4.5K\n"))).toEqual([
      `${FIRST_STEP_LINE + 2}:11 steps[0].size: expected a size like 4K, 0x1000 or 65536, got "4.5K"`,
    ]);
  });

  it("an unknown key points at the key, with a suggestion and the allowed keys", () => {
    const [e] = brief(withSteps("  - op: free\n    alloc: buf\n    alloc_: x\n"));
    expect(e).toBe(
      `${FIRST_STEP_LINE + 2}:5 steps[0].alloc_: unknown key "alloc_", did you mean "alloc"? (allowed: op, alloc, expectError)`,
    );
  });

  it("a missing key points at the map that misses it", () => {
    expect(brief(withSteps("  - op: alloc\n    target: system\n"))).toEqual([
      `${FIRST_STEP_LINE}:5 steps[0].size: missing required key "size"`,
    ]);
    const noName = withSteps("  []").replace("name: t\n", "");
    expect(brief(noName)).toEqual(['1:1 name: missing required key "name"']);
  });

  it("an unknown op points at the op, a missing op at the step", () => {
    expect(brief(withSteps("  - op: allocate\n  - { size: 4K }\n"))).toEqual([
      `${FIRST_STEP_LINE}:9 steps[0].op: unknown op "allocate", did you mean "alloc"? (expected one of: alloc, free, write, read, fill, copy, expect, stats, map, unmap, protect, access, translate, dump, tlbi, smmu, stream, who, expectIsolated, aliases, stale, load, vcm.* (40 ops), gunyah.* (33 ops), gmem.* (6 ops))`,
      `${FIRST_STEP_LINE + 1}:5 steps[1].op: missing required key "op" (one of: alloc, free, write, read, fill, copy, expect, stats, map, unmap, protect, access, translate, dump, tlbi, smmu, stream, who, expectIsolated, aliases, stale, load, vcm.* (40 ops), gunyah.* (33 ops), gmem.* (6 ops))`,
    ]);
  });

  it("wrong types say what was expected and what was found", () => {
    expect(
      brief(
        withSteps(
          "  - { op: expect, target: system, liveAllocations: lots }\n  - { op: alloc, target: [a], size: 4K }\n",
        ),
      ),
    ).toEqual([
      `${FIRST_STEP_LINE}:52 steps[0].liveAllocations: expected a count (0, 1, 2, …), got "lots"`,
      `${FIRST_STEP_LINE + 1}:26 steps[1].target: expected a name, got a list`,
    ]);
    expect(brief(withSteps("  - op: stats\n").replace("version: 1", "version: 2"))).toEqual([
      "1:10 version: expected 1, got 2",
    ]);
  });

  it("an enum value gets a suggestion", () => {
    const text = withSteps("  []").replace("kind: ram", "kind: RAM");
    expect(brief(text)).toEqual([
      '5:57 machine.regions[0].kind: expected one of ram, io, device-local, got "RAM", did you mean "ram"?',
    ]);
  });

  it("cross-field checks of a step point at the field", () => {
    expect(
      brief(withSteps("  - { op: read, addr: 0x8000_0000, size: 8, expect: 'de ad' }\n")),
    ).toEqual([`${FIRST_STEP_LINE}:42 steps[0].size: size 8 differs from the 2 bytes of expect`]);
    expect(brief(withSteps("  - { op: expect, freeBytes: 4K }\n"))).toEqual([
      `${FIRST_STEP_LINE}:5 steps[0].target: missing required key "target" (freeBytes is a statistic of a target)`,
    ]);
  });

  it("YAML syntax errors have a position", () => {
    const errors = errorsOf(parseScenario("version: 1\nname: [a, b\nsteps: []\n", "s.yaml"));
    expect(errors[0]).toMatchObject({ file: "s.yaml", kind: "syntax", path: "" });
    expect(errors[0]!.line).toBeGreaterThanOrEqual(2);
    expect(errors[0]!.message).toMatch(/^YAML syntax error: /);
    const dup = errorsOf(parseScenario("version: 1\nversion: 1\n", "d.yaml"));
    expect(dup[0]).toMatchObject({ line: 2, column: 1, kind: "syntax" });
    const tab = errorsOf(parseScenario("version: 1\nname: x\n\tsteps: []\n", "d.yaml"));
    expect(tab[0]).toMatchObject({ line: 3, kind: "syntax" });
  });

  it("several documents, an empty file and an unresolved alias are errors", () => {
    expect(errorsOf(parseScenario("a: 1\n---\nb: 2\n"))[0]).toMatchObject({
      line: 2,
      kind: "syntax",
    });
    expect(brief("")).toEqual([
      "1:1 (document): expected a map (key: value), got null (an empty value)",
    ]);
    expect(errorsOf(parseScenario("name: *nowhere\n"))[0]!.message).toMatch(
      /^YAML (syntax )?error/,
    );
  });

  it("reports every error, sorted by position", () => {
    const text = withSteps(
      "  - { op: alloc, target: system, size: 4.5K }\n  - { op: free, alloc: 'b c' }\n",
    ).replace("version: 1", "version: 9");
    const lines = errorsOf(parseScenario(text)).map((e) => e.line);
    expect(lines).toEqual([1, FIRST_STEP_LINE, FIRST_STEP_LINE + 1]);
  });
});

describe("parseScenario: unknown keys are refused everywhere", () => {
  const cases: Array<[string, string, string]> = [
    ["top level", withSteps("  []").replace("name: t", "name: t\ncolor: red"), "color"],
    ["machine", withSteps("  []").replace("machine:", "machine:\n  cpus: 4"), "machine.cpus"],
    [
      "region",
      withSteps("  []").replace("kind: ram }", "kind: ram, speed: 1 }"),
      "machine.regions[0].speed",
    ],
    [
      "target",
      withSteps("  []").replace("allocator: buddy", "allocator: buddy, policy: x"),
      "machine.targets[0].policy",
    ],
    [
      "range",
      withSteps("  []").replace("{ region: dram }", "{ region: dram, node: 1 }"),
      "machine.targets[0].ranges[0].node",
    ],
    ["step", withSteps("  - { op: stats, verbose: true }\n"), "steps[0].verbose"],
    [
      "data",
      withSteps("  - { op: write, addr: 0x8000_0000, data: { text: hi, utf16: true } }\n"),
      "steps[0].data.utf16",
    ],
  ];
  it.each(cases)("%s", (_, text, path) => {
    const errors = errorsOf(parseScenario(text));
    const unknown = errors.find((e) => e.message.startsWith("unknown key"));
    expect(unknown?.path).toBe(path);
  });

  it("a pool's unknown key, and pools on a buddy target", () => {
    const text = withSteps("  []").replace(
      "- { name: system, allocator: buddy, ranges: [{ region: dram }] }",
      "- { name: system, allocator: buddy, ranges: [{ region: dram }], pools: [{ chunk: 1M, size: 4M, x: 1 }] }",
    );
    expect(brief(text)).toEqual([
      "7:76 machine.targets[0].pools: pools are only for chunk-pool targets (this target is buddy)",
      '7:100 machine.targets[0].pools[0].x: unknown key "x" (allowed: chunk, size)',
    ]);
    const onChunkPool = text
      .replace(", x: 1", "")
      .replace("allocator: buddy", "allocator: chunk-pool");
    expect(parseScenario(onChunkPool).ok).toBe(true);
  });
});

describe("parseScenario: what only the platform can check", () => {
  const machine = (regions: string, targets = "[]") =>
    `version: 1\nname: m\nmachine:\n  regions:\n${regions}\n  targets: ${targets}\nsteps: []\n`;

  it("overlapping regions point at the second region", () => {
    const text = machine(
      "    - { name: dram, base: 0x8000_0000, size: 16M, kind: ram }\n    - { name: sram, base: 0x8080_0000, size: 1M, kind: ram }",
    );
    const [e, ...rest] = errorsOf(parseScenario(text, "m.yaml"));
    expect(rest).toEqual([]);
    expect(e).toMatchObject({ line: 6, column: 7, path: "machine.regions[1]", kind: "machine" });
    expect(e!.message).toMatch(/^EEXIST: region "sram" .* overlaps region "dram"/);
  });

  it("a duplicate region name points at the name; a misaligned base at the region", () => {
    const text = machine(
      "    - { name: dram, base: 0x8000_0000, size: 16M, kind: ram }\n    - { name: dram, base: 0x9000_0000, size: 1M, kind: ram }\n    - { name: odd, base: 0x1001, size: 4K, kind: ram }",
    );
    expect(brief(text).map((s) => s.split(": ")[0])).toEqual([
      "6:15 machine.regions[1].name",
      "7:7 machine.regions[2]",
    ]);
  });

  it("a target on an unknown region points at the region name", () => {
    const text = machine(
      "    - { name: dram, base: 0x8000_0000, size: 16M, kind: ram }",
      "[{ name: system, allocator: buddy, ranges: [{ region: dram }, { region: hbm }] }]",
    );
    const [e] = errorsOf(parseScenario(text));
    expect(e).toMatchObject({ line: 6, column: 84, path: "machine.targets[0].ranges[1].region" });
    expect(e!.message).toMatch(/^ENOENT: .*no region named "hbm"/);
  });

  it("pools that don't fit point at the pools; overlapping targets at the ranges", () => {
    const fit = machine(
      "    - { name: dram, base: 0x8000_0000, size: 16M, kind: ram }",
      "[{ name: mm, allocator: chunk-pool, ranges: [{ region: dram, size: 4M }], pools: [{ chunk: 1M, size: 8M }] }]",
    );
    expect(errorsOf(parseScenario(fit))[0]).toMatchObject({
      path: "machine.targets[0].pools",
      message: expect.stringMatching(/^ENOSPC: /) as unknown,
    });
    const overlap = machine(
      "    - { name: dram, base: 0x8000_0000, size: 16M, kind: ram }",
      "\n    - { name: a, allocator: buddy, ranges: [{ region: dram }] }\n    - { name: b, allocator: contiguous, ranges: [{ region: dram, offset: 8M }] }",
    );
    expect(brief(overlap)).toEqual([
      expect.stringMatching(
        /^8:49 machine\.targets\[1\]\.ranges: EEXIST: target "b" range .* overlaps target "a"/,
      ) as unknown,
    ]);
  });

  it("targets on a refused region are not reported again", () => {
    const text = machine(
      "    - { name: dram, base: 0x1001, size: 16M, kind: ram }",
      "[{ name: system, allocator: buddy, ranges: [{ region: dram }] }]",
    );
    expect(errorsOf(parseScenario(text)).map((e) => e.path)).toEqual(["machine.regions[0]"]);
  });

  it("machine errors are found even when steps are invalid", () => {
    const text = machine(
      "    - { name: dram, base: 0x8000_0000, size: 16M, kind: ram }\n    - { name: sram, base: 0x8000_0000, size: 1M, kind: ram }",
    ).replace("steps: []", "steps: [{ op: nope }]");
    expect(errorsOf(parseScenario(text)).map((e) => e.path)).toEqual([
      "machine.regions[1]",
      "steps[0].op",
    ]);
  });
});

describe("validateScenario and formatScenarioError", () => {
  it("validates plain data, with paths but no positions", () => {
    const r = validateScenario({ version: 1, name: "x", machine: { regions: [] }, steps: [] });
    expect(errorsOf(r)).toEqual([
      {
        file: "<scenario>",
        line: 0,
        column: 0,
        path: "machine.regions",
        message: "expected at least one region",
        kind: "schema",
        code: "bad-value",
        severity: "error",
      },
    ]);
  });

  it("formats errors as file:line:col: path: message", () => {
    const e: ScenarioError = {
      file: "a.yaml",
      line: 3,
      column: 7,
      path: "steps[0].size",
      message: "m",
      kind: "schema",
      code: "bad-value",
      severity: "error",
    };
    expect(formatScenarioError(e)).toBe("a.yaml:3:7: steps[0].size: m");
    expect(formatScenarioError({ ...e, path: "" })).toBe("a.yaml:3:7: m");
    expect(formatScenarioError({ ...e, line: 0, column: 0, path: "", kind: "io" })).toBe(
      "a.yaml: m",
    );
  });
});
