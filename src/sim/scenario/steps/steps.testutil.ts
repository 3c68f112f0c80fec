/**
 * Test helpers for step modules: a scenario made of a fixed machine text and some steps (one
 * YAML flow mapping each), run or checked for its load errors.
 */
import { parseScenario } from "../parse.js";
import type { RunResult, StepResult } from "../run.js";
import { runScenario } from "../run.js";

/**
 * The helpers for scenarios whose text is `machine` (ending in `steps:\n`) plus `steps`,
 * reported as file `file`.
 */
export function stepScenarios(machine: string, file: string) {
  const text = (steps: readonly string[]): string =>
    machine + (steps.length > 0 ? steps.map((s) => `  - ${s}\n`).join("") : "  []\n");
  return {
    text,
    /** Parse and run; a load error throws with every message. */
    run: (...steps: string[]): RunResult => {
      const r = parseScenario(text(steps), file);
      if (!r.ok) throw new Error(r.errors.map((e) => `${e.path}: ${e.message}`).join("\n"));
      return runScenario(r.scenario);
    },
    /** The load errors as `line:col path: message` (the scenario must be invalid). */
    errors: (...steps: string[]): string[] => {
      const r = parseScenario(text(steps), file);
      if (r.ok) throw new Error("expected the scenario to be invalid");
      return r.errors.map((e) => `${e.line}:${e.column} ${e.path}: ${e.message}`);
    },
  };
}

/** Step `i` of a run. */
export const stepOf = (r: RunResult, i: number): StepResult => r.steps[i]!;
