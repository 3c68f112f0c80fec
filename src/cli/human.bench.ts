import { benchCase } from "../../bench/harness.js";
import { parseScenario, runScenario } from "../sim/index.js";
import { formatRunSummary } from "./human.js";

/**
 * Issue 12, output at any size: `memweave run` of a 50,000-step scenario (alternating allocs
 * and frees, a final expectation) prints its human summary within 2x the time of its `--json`
 * run. Both cases run the scenario; one serializes the result as `--json` does, the other
 * renders the summary at 80 columns. Figures are per step. `npm run bench -- human` runs both.
 */
const STEPS = 50_000;

function scenario() {
  const lines: string[] = [];
  for (let i = 0; i < STEPS - 1; i++) {
    const name = `b${(i >> 1) % 8}`;
    lines.push(
      i % 2 === 0
        ? `  - { op: alloc, target: system, size: 16K, as: ${name} }`
        : `  - { op: free, alloc: ${name} }`,
    );
  }
  lines.push("  - { op: expect, target: system, liveAllocations: 1 }");
  const text = `version: 1
name: big
machine:
  regions:
    - { name: dram, base: 0x8000_0000, size: 64M, kind: ram }
  targets:
    - { name: system, allocator: buddy, ranges: [{ region: dram }] }
steps:
${lines.join("\n")}
`;
  const parsed = parseScenario(text, "big.yaml");
  if (!parsed.ok) throw new Error("the generated scenario is invalid");
  return parsed;
}

const JSON_NAME =
  "cli human output, the baseline: run --json of 50,000 steps (run + JSON.stringify), per step";

benchCase({
  name: JSON_NAME,
  targetNs: 100_000,
  ops: STEPS,
  setup: () => {
    const { scenario: s } = scenario();
    return () => JSON.stringify(runScenario(s), null, 2).length;
  },
});

benchCase({
  name: "cli human output: run of 50,000 steps, the summary at 80 columns, per step",
  targetNs: 0,
  relativeTo: { name: JSON_NAME, factor: 2 },
  ops: STEPS,
  setup: () => {
    const { scenario: s, source } = scenario();
    return () => {
      const out = formatRunSummary(runScenario(s), { file: "big.yaml", source, width: 80 });
      if (!out.endsWith("PASS: all 1 expectation(s) held\n")) throw new Error("the run failed");
      return out.length;
    };
  },
});
