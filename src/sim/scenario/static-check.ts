/**
 * The static check of a scenario's steps: a symbolic run over the steps in order that follows
 * the names they bind (`as: buf`), free (`free`, `vcm.unreserve`) and use (`alloc: buf`,
 * `addr: buf+0x10`, `res: r1`), without running anything. A name used before any step binds
 * it, used after its object was freed, or used as another kind of object than the step needs
 * is an error at the step's line and column, with a did-you-mean among the names bound by then.
 *
 * Steps say what they do with names through {@link StepDefinition.names}; address expressions
 * (`{ kind: "allocation", name }`) anywhere in a step are found without it. What the machine
 * has (targets, tables, devices) is each step's `check` hook, called by the loader.
 *
 * Conservative where only the run knows:
 * - a step with `expectError`, or a binding the step marks `conditional` (an RPC expected to
 *   fail), may or may not bind: its names are "maybe bound" and never the cause of an error;
 * - a problem in a step with `expectError` is not reported when the run would fail the step
 *   with that very code (an unknown name with `expectError: ENOENT`; a double free with any);
 * - a step that binds names the run chooses (`vcm.clone`'s `<clone>.res0`) makes every name
 *   with that prefix "maybe bound";
 * - a step with an `as` key whose module gives no `names` hook binds that name as an object of
 *   unknown kind (maybe bound).
 *
 * @example
 * const problems = checkStepNames(scenario.steps, registry);
 * // [{ path: ["steps", 3, "alloc"], code: "unknown-name", message: 'no allocation named "bfu", did you mean "buf"? …' }]
 */
import type { ErrorCode } from "../../base/errors.js";
import { closest } from "../../base/suggest.js";
import type { DocPath, ObjectKind } from "./machine-module.js";
import type { ScenarioStep, StepRegistry } from "./registry.js";
import type { StepNames } from "./step-module.js";

/** A problem the static check found, with its path from the document's root. */
export interface StaticProblem {
  readonly path: DocPath;
  readonly message: string;
  /** `unknown-name`, `freed-name`, `wrong-kind` or `name-in-use`. */
  readonly code: string;
  readonly suggestion?: string;
}

/** What the symbolic run knows of a name. */
interface NameState {
  /** Undefined: a kind the check cannot know (a step without a `names` hook bound it). */
  readonly kind: ObjectKind<unknown> | undefined;
  /** live: surely bound; freed: surely gone; maybe: depends on the run. */
  readonly status: "live" | "freed" | "maybe";
  /** The step that bound (or freed) it. */
  readonly step: number;
}

/** One finding, before the step's `expectError` decides whether to report it. */
interface Finding extends StaticProblem {
  /** The error code the run would fail the step with; undefined: any `expectError` hides it. */
  readonly runCode: ErrorCode | undefined;
}

/** A validated address that names an object: `buf+0x10` once parsed. */
interface NamedAddress {
  readonly kind: "allocation";
  readonly name: string;
  readonly offset: number;
}

function isNamedAddress(v: unknown): v is NamedAddress {
  if (v === null || typeof v !== "object") return false;
  const o = v as Record<string, unknown>;
  return o.kind === "allocation" && typeof o.name === "string" && typeof o.offset === "number";
}

/** Every named address in a step's validated fields, with its path in the step. */
function namedAddresses(
  value: unknown,
  path: Array<string | number> = [],
): Array<{ path: DocPath; address: NamedAddress }> {
  if (isNamedAddress(value)) return [{ path, address: value }];
  if (value === null || typeof value !== "object" || value instanceof Uint8Array) return [];
  if (Array.isArray(value)) return value.flatMap((v, i) => namedAddresses(v, [...path, i]));
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) =>
    k === "op" ? [] : namedAddresses(v, [...path, k]),
  );
}

const article = (word: string) => (/^[aeiou]/i.test(word) ? "an" : "a");

/**
 * Follow the names of `steps` in order and report every name a step cannot have: see the
 * module's header. `registry` gives each op's {@link StepNames}.
 */
export function checkStepNames(
  steps: readonly ScenarioStep[],
  registry: StepRegistry,
): StaticProblem[] {
  const names = new Map<string, NameState>();
  const prefixes: string[] = [];
  const problems: StaticProblem[] = [];
  const maybe = (name: string) =>
    names.get(name)?.status === "maybe" ||
    (!names.has(name) && prefixes.some((p) => name.startsWith(p)));

  /** The names bound (live or maybe) so far, of `kind` when given: for suggestions. */
  const candidates = (kind: ObjectKind<unknown> | undefined) =>
    [...names]
      .filter(([, s]) => s.status !== "freed" && (kind === undefined || s.kind === kind))
      .map(([n]) => n);

  const unknown = (
    at: DocPath,
    name: string,
    what: string,
    kind: ObjectKind<unknown> | undefined,
  ): Finding => {
    const have = candidates(kind);
    // A freed name is still the likely meaning of a typo (its address stays valid).
    const ever = [...names]
      .filter(([, s]) => kind === undefined || s.kind === kind)
      .map(([n]) => n);
    const near = closest(name, ever.length > 0 ? ever : [...names.keys()]);
    return {
      path: at,
      code: "unknown-name",
      runCode: "ENOENT",
      message:
        `${what !== "" ? `no ${what} named "${name}"` : `nothing named "${name}"`} is bound by an earlier step` +
        (near !== undefined ? `, did you mean "${near}"?` : "") +
        ` (bound by then: ${have.length > 0 ? have.join(", ") : "none"})`,
      ...(near !== undefined ? { suggestion: near } : {}),
    };
  };

  steps.forEach((step, i) => {
    const definition = registry.get(step.op);
    const declared: StepNames = definition?.names?.(step) ?? {};
    const conditional = step.expectError !== undefined;
    const at = (path: DocPath): DocPath => ["steps", i, ...path];
    const findings: Finding[] = [];

    // Lookups and frees: the name must be bound, live, and of the kind the step needs.
    for (const use of [...(declared.uses ?? []), ...(declared.frees ?? [])]) {
      const state = names.get(use.name);
      if (maybe(use.name)) continue;
      if (state === undefined) {
        findings.push(unknown(at(use.path), use.name, use.kind.name, use.kind));
      } else if (state.kind !== undefined && state.kind !== use.kind) {
        findings.push({
          path: at(use.path),
          code: "wrong-kind",
          runCode: "EINVAL",
          message: `"${use.name}" is ${article(state.kind.name)} ${state.kind.name} (bound at steps[${state.step}]), not ${article(use.kind.name)} ${use.kind.name}`,
        });
      } else if (state.status === "freed") {
        findings.push({
          path: at(use.path),
          code: "freed-name",
          runCode: undefined,
          message: `${use.kind.name} "${use.name}" was freed at steps[${state.step}]; bind it again before using it`,
        });
      }
    }

    // Addresses written with a name (buf+0x10): the name must stand for an address.
    for (const { path, address } of declared.ownAddresses === true ? [] : namedAddresses(step)) {
      const state = names.get(address.name);
      if (maybe(address.name)) continue;
      if (state === undefined) findings.push(unknown(at(path), address.name, "", undefined));
    }

    // Names bound: not while another live object holds them.
    for (const bind of declared.binds ?? []) {
      const state = names.get(bind.name);
      if (state?.status === "live")
        findings.push({
          path: at(bind.path),
          code: "name-in-use",
          runCode: "EEXIST",
          message: `name "${bind.name}" is still bound to a live ${state.kind?.name ?? "object"} (bound at steps[${state.step}]); free it first or choose another name`,
        });
    }

    for (const f of findings) {
      const hidden = conditional && (f.runCode === undefined || f.runCode === step.expectError);
      if (!hidden)
        problems.push({
          path: f.path,
          message: f.message,
          code: f.code,
          ...(f.suggestion !== undefined ? { suggestion: f.suggestion } : {}),
        });
    }

    // What the step leaves bound, once it succeeded (or maybe succeeded).
    // A step that may fail leaves a freed name freed and a live object maybe freed; it cannot
    // bind over a live object (EEXIST), so that binding stays.
    for (const free of declared.frees ?? []) {
      const state = names.get(free.name);
      if (state === undefined || (conditional && state.status === "freed")) continue;
      names.set(free.name, { ...state, status: conditional ? "maybe" : "freed", step: i });
    }
    for (const bind of declared.binds ?? []) {
      const maybeBound = conditional || bind.conditional === true;
      if (maybeBound && names.get(bind.name)?.status === "live") continue;
      names.set(bind.name, {
        kind: bind.kind,
        status: maybeBound ? "maybe" : "live",
        step: i,
      });
    }
    prefixes.push(...(declared.bindsPrefixed ?? []));
    if (definition?.names === undefined && typeof step.as === "string")
      names.set(step.as, { kind: undefined, status: "maybe", step: i });
  });
  return problems;
}

/** A key of a step that checks something: `expect`, `expectFault`, `expectUnmapped`, … */
const EXPECT_KEY = /^expect(?:$|[A-Z])/;

/**
 * A warning when no step checks anything: no `expectError`, no `expect…` key, and no step
 * whose op checks by itself ({@link StepDefinition.expects}, `expect`). Such a scenario passes
 * whatever the model does.
 */
export function expectationWarnings(
  steps: readonly ScenarioStep[],
  registry: StepRegistry,
): StaticProblem[] {
  const checks = (step: ScenarioStep) =>
    step.expectError !== undefined ||
    Object.keys(step).some((k) => EXPECT_KEY.test(k) && step[k] !== undefined) ||
    registry.get(step.op)?.expects?.(step) === true;
  if (steps.some(checks)) return [];
  return [
    {
      path: ["steps"],
      code: "no-expectations",
      message:
        steps.length === 0
          ? "the scenario has no steps, so it checks nothing"
          : "no step checks anything (no expect, expect… key or expectError): the run passes whatever the model does",
    },
  ];
}
