/**
 * The scenario runner: builds the machine, runs the steps in order through their step modules,
 * keeps the expectations, and reports everything as one plain, JSON-serializable
 * {@link RunResult}.
 *
 * Semantics of a step:
 * - it succeeds: status `ok` (or `failed` if one of its own expectations failed, e.g. a read
 *   whose bytes differ; the run goes on);
 * - it has `expectError: CODE` and fails with CODE: status `expected-error`, one expectation
 *   passed; it succeeds or fails with another code: status `failed`, one expectation failed
 *   (the run goes on — a failed operation changed nothing);
 * - it has no `expectError` and fails: status `failed`, counted as a failed expectation, and the
 *   run stops there; the remaining steps are `skipped`.
 *
 * The runner is pure and deterministic: the same scenario and seed give the same result, byte
 * for byte once serialized. It knows no step's operation: modules run them.
 *
 * @example
 * const result = runScenario(scenario, { seed: 7 });
 * result.expectations.failed === 0;
 * JSON.stringify(result);
 */
import type { ErrorCode, MemweaveError } from "../../base/errors.js";
import { fail, isMemweaveError } from "../../base/errors.js";
import type { EventBus, Json } from "../../base/events.js";
import { createMachine, machineStatistics, summarizeMachine } from "./machine.js";
import type { MachineStatistics, MachineSummary } from "./machine-summary.js";
import type { BuiltMachine } from "./machine-module.js";
import type { ScenarioStep, StepRegistry } from "./registry.js";
import type { Scenario } from "./schema.js";
import type { ObjectKind } from "./machine-module.js";
import type {
  AddressSpaceId,
  NameBinding,
  ReportBlock,
  ReportTable,
  StepContext,
  StepDefinition,
} from "./step-module.js";
import { PHYSICAL } from "./step-module.js";
import { ALLOCATION } from "./steps/phys.js";
import { defaultStepRegistry } from "./steps/index.js";
import type { AddressExpr } from "./values.js";
import { showAddress } from "./values.js";

export type StepStatus = "ok" | "failed" | "skipped" | "expected-error";

/** What happened to one step. */
export type StepResult = {
  /** The step's index in `steps` (0-based, as in error paths: `steps[3]`). */
  index: number;
  op: string;
  /** One line, e.g. `alloc 64 KiB from system as buf`. */
  description: string;
  status: StepStatus;
  /** The error code the step had to fail with, if any. */
  expectError?: ErrorCode;
  /** One line of result for people, e.g. the chunks of an allocation or the bytes read. */
  summary?: string;
  /** Machine-readable results of the step's module. */
  output?: { [key: string]: Json };
  /** Tables for people (e.g. the statistics of a `stats` step). */
  tables?: ReportTable[];
  /** Preformatted text for people (e.g. the dump of a `dump` step). */
  blocks?: ReportBlock[];
  /** The error the step failed with, if it failed (expectedly or not). */
  error?: { code: string; message: string };
};

/** One checked expectation. */
export type Expectation = {
  /** The index of the step that checked it. */
  step: number;
  passed: boolean;
  /** What was checked; for a failure, what was expected and what was found. */
  message: string;
};

/** Everything a run reports; plain JSON data. */
export type RunResult = {
  name: string;
  description?: string;
  seed: number;
  /** True when every expectation held (no step failed). */
  ok: boolean;
  machine: MachineSummary;
  steps: StepResult[];
  expectations: { passed: number; failed: number; list: Expectation[] };
  /** The index of the step whose unexpected failure stopped the run, if one did. */
  stoppedAt?: number;
  /** Statistics after the last step that ran. */
  statistics: MachineStatistics;
  /** Events published on the platform bus during the steps, in total and per type. */
  events: { total: number; byType: { [type: string]: number } };
};

export interface RunOptions {
  /** Overrides the scenario's seed. */
  readonly seed?: number;
  /** The step modules (default: every built-in module). */
  readonly registry?: StepRegistry;
  /**
   * Called once after the last step that ran, with the machine as the steps left it (before
   * the final statistics are taken): for dumps (`memweave dump`) and inspection in tests.
   */
  readonly onFinish?: (machine: BuiltMachine) => void;
  /**
   * Run only the first `stopBefore` steps (the rest are `skipped`): the machine as it is at that
   * point of the run, for `memweave who` / `graph --at-step N`.
   */
  readonly stopBefore?: number;
  /**
   * Called after each step, run or skipped, with how many steps are done and how many the
   * scenario has: for a progress bar (`memweave run` on a terminal). It sees no machine and
   * changes nothing, so the result is the same with it or without.
   */
  readonly onStep?: (done: number, total: number) => void;
}

/** The names a scenario binds (`as: buf`), and what they stand for. */
class Names {
  private readonly bindings = new Map<string, NameBinding>();

  check(name: string): void {
    const b = this.bindings.get(name);
    if (b !== undefined && b.isLive())
      fail("EEXIST", `name "${name}" is already bound to a live ${b.kind.name}; free it first`);
  }

  bind<T>(name: string, binding: NameBinding<T>): void {
    this.check(name);
    this.bindings.set(name, binding);
  }

  get(name: string, what: string): NameBinding {
    const b = this.bindings.get(name);
    if (b === undefined) {
      const known = [...this.bindings.keys()];
      fail(
        "ENOENT",
        `no ${what} named "${name}" (names so far: ${known.length > 0 ? known.join(", ") : "none"})`,
      );
    }
    return b;
  }

  lookup<T>(name: string, kind: ObjectKind<T>): T {
    const b = this.get(name, kind.name);
    if (b.kind !== kind) fail("EINVAL", `"${name}" is a ${b.kind.name}, not a ${kind.name}`);
    return b.value as T;
  }

  resolve(address: AddressExpr, spaces: AddressSpaceId | readonly AddressSpaceId[]): number {
    if (address.kind === "absolute") return address.pa;
    const list: readonly AddressSpaceId[] = typeof spaces === "string" ? [spaces] : spaces;
    const physical = list.length === 1 && list[0] === PHYSICAL;
    const b = this.get(address.name, physical ? ALLOCATION.name : "object");
    const space = list.find((s) => b.addresses?.[s] !== undefined);
    const base = space === undefined ? undefined : b.addresses?.[space];
    if (space === undefined || base === undefined)
      fail(
        "EINVAL",
        physical
          ? `"${address.name}" is a ${b.kind.name}, which has no physical address`
          : `"${address.name}" is a ${b.kind.name}, which has no address in ${list.join(" or ")}`,
      );
    const at = base + address.offset;
    if (at < 0 || !Number.isSafeInteger(at))
      fail(
        "EINVAL",
        `address ${showAddress(address)} = ${at} is not ${physical ? "a physical address" : `an address in ${space}`}`,
      );
    return at;
  }
}

/**
 * How the runner observes the platform's events: it subscribes to nothing (the bus counts every
 * event, observed or not), so every access nobody else watches keeps its fast path. `result()`
 * gives the events since the tally began, in total and per type (types in sorted order).
 */
export function tallyEvents(bus: EventBus): { result(): RunResult["events"] } {
  const before = bus.occurrences();
  return {
    result() {
      const byType: Array<[string, number]> = [];
      let total = 0;
      for (const [type, n] of bus.occurrences()) {
        const d = n - (before.get(type) ?? 0);
        if (d === 0) continue;
        byType.push([type, d]);
        total += d;
      }
      byType.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return { total, byType: Object.fromEntries(byType) };
    },
  };
}

function describeStep(definition: StepDefinition | undefined, step: ScenarioStep): string {
  if (definition === undefined) return step.op;
  return definition.describe(step);
}

/**
 * Run a validated scenario. Throws (a MemweaveError naming the item) only if the machine cannot
 * be built — {@link parseScenario} reports that as a validation error first; every failure of a
 * step is reported in the result.
 */
export function runScenario(scenario: Scenario, options: RunOptions = {}): RunResult {
  const registry = options.registry ?? defaultStepRegistry;
  const seed = options.seed ?? scenario.seed;
  const built = createMachine(scenario.machine, seed);
  const platform = built.platform;
  const machine = summarizeMachine(built);

  const tally = tallyEvents(platform.bus);

  const names = new Names();
  const expectations: Expectation[] = [];
  let current = -1;
  const ctx: StepContext = {
    platform,
    objects: built.objects,
    checkName: (name) => names.check(name),
    bind: (name, binding) => names.bind(name, binding),
    lookup: (name, kind) => names.lookup(name, kind),
    resolve: ((
      address: AddressExpr,
      space: AddressSpaceId | readonly AddressSpaceId[] = PHYSICAL,
    ) => names.resolve(address, space)) as StepContext["resolve"],
    expect: (passed, message) => {
      expectations.push({ step: current, passed, message });
    },
    file: (path) =>
      scenario.files?.get(path) ??
      fail(
        "ENOENT",
        `file "${path}" was not loaded (a scenario read with loadScenarioFile has its steps' files; one parsed from text needs them in scenario.files)`,
      ),
  };

  const steps: StepResult[] = [];
  let stoppedAt: number | undefined;
  const total = scenario.steps.length;
  const onStep = options.onStep;
  scenario.steps.forEach((step, index) => {
    runStep(step, index);
    onStep?.(index + 1, total);
  });
  function runStep(step: ScenarioStep, index: number): void {
    const definition = registry.get(step.op);
    const result: StepResult = {
      index,
      op: step.op,
      description: describeStep(definition, step),
      status: "skipped",
    };
    if (step.expectError !== undefined) result.expectError = step.expectError;
    steps.push(result);
    if (stoppedAt !== undefined) return;
    if (options.stopBefore !== undefined && index >= options.stopBefore) return;

    current = index;
    const before = expectations.length;
    let thrown: unknown;
    let failed = false;
    try {
      if (definition === undefined) fail("ENOENT", `no step module defines op "${step.op}"`);
      const report = definition.run(ctx, step) ?? {};
      if (report.summary !== undefined) result.summary = report.summary;
      if (report.output !== undefined) result.output = { ...report.output };
      if (report.tables !== undefined) result.tables = [...report.tables];
      if (report.blocks !== undefined) result.blocks = [...report.blocks];
    } catch (e) {
      thrown = e;
      failed = true;
    }
    const what = result.description;

    if (failed && !isMemweaveError(thrown)) {
      // Not a failure of the model but a bug: report it and stop.
      const message = thrown instanceof Error ? thrown.message : String(thrown);
      result.error = { code: "INTERNAL", message };
      result.status = "failed";
      ctx.expect(false, `${what}: internal error: ${message}`);
      stoppedAt = index;
      return;
    }
    const error = failed ? (thrown as MemweaveError) : undefined;
    if (error !== undefined) result.error = { code: error.code, message: error.message };

    const want = step.expectError;
    if (want !== undefined) {
      if (error === undefined)
        ctx.expect(false, `${what}: expected ${want}, but the step succeeded`);
      else if (error.code === want) ctx.expect(true, `${what} fails with ${want}`);
      else ctx.expect(false, `${what}: expected ${want}, got ${error.message}`);
    } else if (error !== undefined) {
      ctx.expect(false, `${what}: step failed: ${error.message}`);
      stoppedAt = index;
    }
    const own = expectations.slice(before);
    result.status = own.some((x) => !x.passed)
      ? "failed"
      : want !== undefined
        ? "expected-error"
        : "ok";
  }
  const events = tally.result();
  options.onFinish?.(built);

  const passed = expectations.filter((x) => x.passed).length;
  const failedCount = expectations.length - passed;
  // Keys in a fixed, readable order: name first, statistics last.
  return {
    name: scenario.name,
    ...(scenario.description !== undefined ? { description: scenario.description } : {}),
    seed,
    ok: failedCount === 0,
    machine,
    steps,
    expectations: { passed, failed: failedCount, list: expectations },
    ...(stoppedAt !== undefined ? { stoppedAt } : {}),
    statistics: machineStatistics(built),
    events,
  };
}
