import { describe, expect, it } from "vitest";

import { parseScenario, runScenario } from "../sim/index.js";
import { formatRunSummary, painter, wantsColor } from "./human.js";

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

  it("is plain text without a painter, and the same every time", () => {
    const a = formatRunSummary(result, { file: "tiny.yaml" });
    expect(a).not.toContain(ESC);
    expect(formatRunSummary(runScenario(parsed.scenario), { file: "tiny.yaml" })).toBe(a);
  });
});
