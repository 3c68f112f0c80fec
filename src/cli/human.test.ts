import { describe, expect, it } from "vitest";

import { parseScenario, runScenario } from "../sim/index.js";
import { formatRunFailures, formatRunSummary, outputWidth, painter, wantsColor } from "./human.js";

const ESC = "\u001b";

describe("colour", () => {
  it("only on a TTY, never with NO_COLOR set or TERM=dumb", () => {
    expect(wantsColor({ isTTY: true }, {})).toBe(true);
    expect(wantsColor({ isTTY: false }, {})).toBe(false);
    expect(wantsColor({}, {})).toBe(false);
    expect(wantsColor({ isTTY: true }, { NO_COLOR: "1" })).toBe(false);
    expect(wantsColor({ isTTY: true }, { NO_COLOR: "" })).toBe(true);
    expect(wantsColor({ isTTY: true }, { TERM: "dumb" })).toBe(false);
  });

  it("styles text only when on", () => {
    expect(painter(true)("red", "x")).toBe(`${ESC}[31mx${ESC}[39m`);
    expect(painter(false)("red", "x")).toBe("x");
  });
});

describe("formatRunSummary", () => {
  const text = `version: 1
name: tiny
machine:
  regions: [{ name: dram, base: 0x8000_0000, size: 1M, kind: ram }]
steps:
  - { op: write, addr: 0x8000_0000, data: "01" }
  - { op: read, addr: 0x8000_0000, expect: "02" }
`;
  const parsed = parseScenario(text, "tiny.yaml");
  if (!parsed.ok) throw new Error("invalid");
  const result = runScenario(parsed.scenario);

  it("shows the header, the steps, the failed expectation at its line, and the verdict", () => {
    const out = formatRunSummary(result, { file: "tiny.yaml", source: parsed.source });
    expect(out.startsWith("Scenario tiny (tiny.yaml), seed 0\n")).toBe(true);
    expect(out).toContain("│ dram   │ 0x80000000-0x800fffff │ 1 MiB │ ram  │");
    expect(out).toContain("✗ [1] read 1 byte at 0x80000000: expected 02, got 01 (tiny.yaml:7)");
    expect(out).toContain("FAILED: expected 02, got 01");
    expect(out.endsWith("FAIL: 1 of 1 expectation(s) failed\n")).toBe(true);
    // No targets: no target table, and a machine-wide statistics line still.
    expect(out).toContain("Byte store: 1 page(s) materialized (4 KiB)");
  });

  it("--quiet's text: the verdict and the failed expectation at its line", () => {
    expect(formatRunFailures(result, { file: "tiny.yaml", source: parsed.source })).toBe(
      "FAIL: 1 of 1 expectation(s) failed (tiny.yaml)\n" +
        "  ✗ [1] read 1 byte at 0x80000000: expected 02, got 01 (tiny.yaml:7)\n",
    );
  });

  it("--summary's text: the failed step, no machine, the statistics", () => {
    const out = formatRunSummary(result, { file: "tiny.yaml", detail: "summary" });
    expect(out).toContain("Steps: 2 of 2 ran, 1 failed; expectations: 0 passed, 1 failed\n");
    expect(out).toMatch(/│ 1 │ read +│ read 1 byte at 0x80000000 │ FAILED: expected 02, got 01 │/);
    expect(out).not.toContain("Machine");
    expect(out).toContain("Byte store: 1 page(s) materialized (4 KiB)");
  });

  it("is plain text without a painter, and the same every time", () => {
    const a = formatRunSummary(result, { file: "tiny.yaml" });
    expect(a).not.toContain(ESC);
    expect(formatRunSummary(runScenario(parsed.scenario), { file: "tiny.yaml" })).toBe(a);
  });
});

describe("outputWidth", () => {
  it("--width, else the terminal's columns, else COLUMNS, else 80; 0 is no limit", () => {
    expect(outputWidth(100, { isTTY: true, columns: 60 }, { COLUMNS: "70" })).toBe(100);
    expect(outputWidth(0, {}, {})).toBe(Infinity);
    expect(outputWidth(undefined, { isTTY: true, columns: 60 }, { COLUMNS: "70" })).toBe(60);
    // A pipe has no columns of its own: COLUMNS decides.
    expect(outputWidth(undefined, { isTTY: false, columns: 60 }, { COLUMNS: "70" })).toBe(70);
    expect(outputWidth(undefined, {}, { COLUMNS: "wide" })).toBe(80);
    expect(outputWidth(undefined, {}, {})).toBe(80);
    // Never narrower than tables can stay tables.
    expect(outputWidth(undefined, { isTTY: true, columns: 20 }, {})).toBe(40);
  });
});

describe("formatRunFailures", () => {
  it("is empty for a passing run and names each failure at its line otherwise", () => {
    const parsed = parseScenario(
      `version: 1
name: two
machine:
  regions: [{ name: dram, base: 0x8000_0000, size: 1M, kind: ram }]
steps:
  - { op: write, addr: 0x8000_0000, data: "01" }
  - { op: read, addr: 0x8000_0000, expect: "01" }
`,
      "two.yaml",
    );
    if (!parsed.ok) throw new Error("invalid");
    expect(formatRunFailures(runScenario(parsed.scenario), { file: "two.yaml" })).toBe("");
  });
});
