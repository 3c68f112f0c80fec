/**
 * Loading a scenario from text: YAML or JSON (JSON is YAML), validated against the scenario
 * schema and by building its machine, with every error located at its file:line:column.
 *
 * Pure: it takes the text and a file name for messages; reading files is `sim/node/`'s job.
 *
 * Errors are reported all at once, sorted by position, each with the path in the document
 * (`steps[3].size`) and what was expected:
 *
 * ```text
 * quickstart.yaml:12:11: steps[3].size: expected a size like 4K, 0x1000 or 65536, got "4.5K"
 * quickstart.yaml:14:7: steps[4].szie: unknown key "szie", did you mean "size"? (allowed: …)
 * quickstart.yaml:6:7: machine.regions[1]: EEXIST: region "uart" 0x… overlaps region "dram" …
 * t.yaml:30:24: steps[4].table: no page table named "cpu_pt", did you mean "cpu-pt"? (have: …)
 * ```
 *
 * Each error carries a stable `code` (`unknown-key`, `unknown-name`, `yaml-depth`, …; see
 * {@link ScenarioError.code}), a `severity`, and the `suggestion` a did-you-mean names. Warnings
 * (a write-only mapping a stage-1 format widens, a scenario that checks nothing) do not make a
 * scenario invalid: they come with the result either way.
 *
 * Beyond the schema and the machine, the steps are checked statically: the machine's names
 * each step gives (its `check` hook), and the names steps bind and use, followed step by step
 * (`static-check.ts`).
 *
 * YAML: merge keys (`<<: *base`) are merged as YAML 1.1 does; nesting deeper than
 * {@link MAX_NESTING} levels, tags other than the core ones (`!!str`, `!!int`, …) and merge
 * sources that are not maps are errors at their position.
 *
 * @example
 * const result = parseScenario(text, "quickstart.yaml");
 * if (!result.ok) for (const e of result.errors) console.error(formatScenarioError(e));
 * else runScenario(result.scenario);
 */
import type { z } from "zod";
import type { Document } from "yaml";
import {
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  Parser,
  visit,
} from "yaml";

import { closest, showValue } from "./format.js";
import type { Position } from "./locate.js";
import { isMergeKey, locate, nodeAt, positionOf } from "./locate.js";
import { buildMachine, formatDocPath, machineSchema } from "./machine.js";
import type { ScenarioStep, StepRegistry } from "./registry.js";
import type { Scenario } from "./schema.js";
import { scenarioSchema } from "./schema.js";
import { checkStepNames, expectationWarnings } from "./static-check.js";
import type { DiagnosticSeverity } from "./step-module.js";
import { defaultStepRegistry } from "./steps/index.js";

/** Where an error comes from. */
export type ScenarioErrorKind = "syntax" | "schema" | "machine" | "io";

/**
 * How deep maps and lists may nest in a scenario file. The deepest scenario needs about ten
 * levels; a deeper document is refused where it crosses the limit, before it is read further.
 */
export const MAX_NESTING = 64;

/** One thing wrong with a scenario file (or, with severity `warning`, worth a look). */
export interface ScenarioError {
  readonly file: string;
  /** 1-based; 0 when the error has no position (the file can't be read; plain data). */
  readonly line: number;
  /** 1-based; 0 when the error has no position. */
  readonly column: number;
  /** The path in the document, e.g. `steps[3].size`; empty for syntax and I/O errors. */
  readonly path: string;
  /** What is wrong, saying what was expected. */
  readonly message: string;
  readonly kind: ScenarioErrorKind;
  /**
   * A stable kebab-case identifier of the problem, for tools: `yaml-syntax`, `yaml-depth`,
   * `yaml-tag`, `yaml-merge-key`, `yaml-error` (an alias to nothing); `unknown-key`,
   * `missing-key`, `unknown-op`, `bad-value` (the schema); `machine` (building the machine);
   * `unknown-name`, `wrong-kind`, `freed-name`, `name-in-use`, `missing-section`,
   * `bad-reference` (what steps name); `io`, `bad-file` (reading files); warnings
   * `prot-widened`, `no-expectations`.
   */
  readonly code: string;
  /** `error`: the scenario is invalid; `warning`: it is valid, but probably not as meant. */
  readonly severity: DiagnosticSeverity;
  /** The replacement a did-you-mean suggests (`"system"` for `sytem`), when there is one. */
  readonly suggestion?: string;
}

/** Where a valid scenario's parts were written, for messages about them. */
export interface ScenarioSource {
  readonly file: string;
  /** The position of each step, by index (0:0 for plain data). */
  readonly steps: readonly Position[];
}

/**
 * A scenario, valid or not. `warnings` (severity `warning`) come either way; `errors` hold
 * only errors.
 */
export type ScenarioParseResult =
  | {
      readonly ok: true;
      readonly scenario: Scenario;
      readonly source: ScenarioSource;
      readonly warnings: readonly ScenarioError[];
    }
  | {
      readonly ok: false;
      readonly errors: readonly ScenarioError[];
      readonly warnings: readonly ScenarioError[];
    };

export interface ParseOptions {
  /** The step modules to accept (default: every built-in module). */
  readonly registry?: StepRegistry;
}

/** A problem before it is located: a document path and a message. */
interface Problem {
  readonly path: ReadonlyArray<PropertyKey>;
  readonly message: string;
  /** Point at the key of the last segment (unknown keys) rather than at its value. */
  readonly onKey: boolean;
  readonly kind: ScenarioErrorKind;
  readonly code: string;
  readonly severity: DiagnosticSeverity;
  readonly suggestion?: string | undefined;
}

/** Marks messages that zod generated by default, which {@link describeIssue} rewrites. */
const GENERIC = "\u0000";

/**
 * The per-parse error map: schemas that define their own messages keep them; every other
 * issue is marked for {@link describeIssue}. Unknown keys carry the keys the object allows.
 */
const genericErrorMap = (issue: z.core.$ZodRawIssue): string => {
  if (issue.code === "unrecognized_keys" && issue.inst !== undefined && "shape" in issue.inst) {
    const shape = (issue.inst as { shape: Record<string, unknown> }).shape;
    return GENERIC + Object.keys(shape).join(",");
  }
  return GENERIC;
};

function valueAt(data: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let v = data;
  for (const seg of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

const TYPE_NAMES: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
  object: "a map (key: value)",
  record: "a map (key: value)",
  array: "a list",
  null: "an empty value",
};

/** `, did you mean "x"?` — never naming the very text given. */
function didYouMean(got: unknown, candidates: readonly string[]): string {
  if (typeof got !== "string") return "";
  const best = closest(got, candidates);
  return best !== undefined && best !== got ? `, did you mean "${best}"?` : "";
}

/** The replacement a message's did-you-mean names, if it names one. */
export function suggestionIn(message: string): string | undefined {
  return /did you mean "([^"]+)"\?/.exec(message)?.[1];
}

/** A value with its type spelled out: `the number 1`, `the string "1"`. */
function typedValue(v: unknown): string {
  if (typeof v === "number") return `the number ${v}`;
  if (typeof v === "string") return `the string ${showValue(v)}`;
  if (typeof v === "boolean") return `the boolean ${v}`;
  return showValue(v);
}

function lastKey(path: ReadonlyArray<PropertyKey>): string {
  return String(path[path.length - 1] ?? "");
}

/** The message for an issue zod described by default, from the issue and the value found. */
/**
 * Options as listed in a message: plain ones in full; namespaced ones (`vcm.reserve`) as
 * `vcm.* (40 ops)`, except those of the namespace `got` names, in full.
 */
function listOptions(options: readonly string[], got: unknown): string {
  const ns = (o: string) => (o.includes(".") ? o.slice(0, o.indexOf(".")) : undefined);
  const mine = typeof got === "string" ? ns(got) : undefined;
  const out: string[] = [];
  const counted = new Map<string, number>();
  for (const o of options) {
    const n = ns(o);
    if (n === undefined || n === mine) out.push(o);
    else if (!counted.has(n)) {
      counted.set(n, options.filter((x) => ns(x) === n).length);
      out.push(n);
    }
  }
  return out.map((o) => (counted.has(o) ? `${o}.* (${counted.get(o)} ops)` : o)).join(", ");
}

/** `reserve` for `vcm.reserve`: a namespaced option whose name is close to a plain `got`. */
function didYouMeanNamespaced(got: unknown, options: readonly string[]): string {
  if (typeof got !== "string" || got.includes(".")) return "";
  const dotted = options.filter((o) => o.includes("."));
  const best = closest(
    got,
    dotted.map((o) => o.slice(o.indexOf(".") + 1)),
  );
  const full = best === undefined ? undefined : dotted.find((o) => o.endsWith(`.${best}`));
  return full !== undefined ? `, did you mean "${full}"?` : "";
}

function describeIssue(issue: z.core.$ZodIssue, value: unknown): string {
  if (issue.code === "invalid_union" && issue.discriminator !== undefined) {
    const options = "options" in issue && issue.options ? issue.options.map(String) : [];
    const list = `one of: ${listOptions(options, value)}`;
    if (value === undefined) return `missing required key "${issue.discriminator}" (${list})`;
    return `unknown ${issue.discriminator} ${showValue(value)}${didYouMean(value, options) || didYouMeanNamespaced(value, options)} (expected ${list})`;
  }
  if (value === undefined && issue.path.length > 0)
    return `missing required key "${lastKey(issue.path)}"`;
  switch (issue.code) {
    case "invalid_type":
      return `expected ${TYPE_NAMES[issue.expected] ?? issue.expected}, got ${showValue(value)}`;
    case "invalid_value": {
      const values = issue.values.map((v) => (typeof v === "string" ? v : String(v)));
      // The right text as the wrong type (`!!str 1` for the number 1): say both types.
      const sameText = issue.values.find(
        (v) => typeof v !== typeof value && String(v) === String(value),
      );
      if (sameText !== undefined)
        return `expected ${typedValue(sameText)}, got ${typedValue(value)}`;
      const expected =
        values.length === 1 ? showValue(issue.values[0]) : `one of ${values.join(", ")}`;
      return `expected ${expected}, got ${showValue(value)}${didYouMean(value, values)}`;
    }
    case "too_small":
    case "too_big": {
      const bound = issue.code === "too_small" ? issue.minimum : issue.maximum;
      const cmp = issue.code === "too_small" ? ">=" : "<=";
      if (issue.origin === "array")
        return `expected ${issue.code === "too_small" ? "at least" : "at most"} ${bound} item(s), got ${Array.isArray(value) ? value.length : showValue(value)}`;
      if (issue.origin === "string")
        return `expected ${issue.code === "too_small" ? "at least" : "at most"} ${bound} character(s), got ${showValue(value)}`;
      return `expected a number ${cmp} ${bound}, got ${showValue(value)}`;
    }
    case "invalid_union":
      return `expected one of several forms, got ${showValue(value)}`;
    case "invalid_format":
      return `expected ${issue.format} format, got ${showValue(value)}`;
    case "not_multiple_of":
      return `expected a multiple of ${String(issue.divisor)}, got ${showValue(value)}`;
    case "custom":
    case "invalid_element":
    case "invalid_key":
    case "unrecognized_keys":
      return `invalid value ${showValue(value)}`;
  }
}

/** The code of a problem zod found by default, from the issue and the value found. */
function issueCode(issue: z.core.$ZodIssue, value: unknown): string {
  if (issue.code === "invalid_union" && issue.discriminator !== undefined)
    return value === undefined
      ? "missing-key"
      : issue.discriminator === "op"
        ? "unknown-op"
        : "bad-value";
  return value === undefined && issue.path.length > 0 ? "missing-key" : "bad-value";
}

/** A problem that is an error, with its suggestion read from the message when it has one. */
function error(
  path: ReadonlyArray<PropertyKey>,
  message: string,
  kind: ScenarioErrorKind,
  code: string,
  onKey = false,
): Problem {
  return { path, message, onKey, kind, code, severity: "error", suggestion: suggestionIn(message) };
}

/** Turn zod issues into located problems; unknown keys become one problem per key. */
function issueProblems(issues: readonly z.core.$ZodIssue[], data: unknown): Problem[] {
  const problems: Problem[] = [];
  for (const issue of issues) {
    if (!issue.message.startsWith(GENERIC)) {
      const code = issue.message.startsWith("missing required key") ? "missing-key" : "bad-value";
      problems.push(error(issue.path, issue.message, "schema", code));
    } else if (issue.code === "unrecognized_keys") {
      const allowed = issue.message.slice(GENERIC.length).split(",").filter(Boolean);
      for (const key of issue.keys)
        problems.push(
          error(
            [...issue.path, key],
            `unknown key "${key}"${didYouMean(key, allowed)}` +
              (allowed.length > 0 ? ` (allowed: ${allowed.join(", ")})` : ""),
            "schema",
            "unknown-key",
            true,
          ),
        );
    } else {
      const value = valueAt(data, issue.path);
      problems.push(
        error(issue.path, describeIssue(issue, value), "schema", issueCode(issue, value)),
      );
    }
  }
  return problems;
}

/** The op of a step that is not valid: no module has it, so checks pass over it. */
const INVALID_STEP = "<invalid>";

/**
 * Each step of `data` validated on its own: the step, or (when it is invalid, or the steps are
 * not a list) a placeholder that keeps the `as` it was written with.
 */
function validSteps(data: unknown, registry: StepRegistry): ScenarioStep[] {
  const raw = valueAt(data, ["steps"]);
  if (!Array.isArray(raw)) return [];
  return raw.map((s: unknown): ScenarioStep => {
    const one = registry.stepSchema.safeParse(s);
    if (one.success) return one.data;
    const as = valueAt(s, ["as"]);
    return { op: INVALID_STEP, ...(typeof as === "string" ? { as } : {}) };
  });
}

/** The default code of a step's `check` problem that gives none. */
function stepProblemCode(message: string, suggestion: string | undefined): string {
  return suggestion !== undefined || /^no .* named /.test(message)
    ? "unknown-name"
    : "bad-reference";
}

/**
 * Validate plain data: the schema first, then (if the machine section is valid) the machine,
 * then what the steps name: in the machine (their `check` hooks, once the machine is whole) and
 * among the names earlier steps bind (the static check, once the steps are valid).
 */
function check(
  data: unknown,
  registry: StepRegistry,
): { scenario: Scenario | undefined; problems: Problem[] } {
  const parsed = scenarioSchema(registry).safeParse(data, { error: genericErrorMap });
  const problems = parsed.success ? [] : issueProblems(parsed.error.issues, data);
  let machine = parsed.success ? parsed.data.machine : undefined;
  if (!parsed.success && !problems.some((p) => p.path[0] === "machine")) {
    const m = machineSchema.safeParse(valueAt(data, ["machine"]));
    if (m.success) machine = m.data;
  }
  // The steps that are valid on their own, so that what they name is checked even when
  // another part of the file is wrong (every problem at once); an invalid step is a
  // placeholder that may bind its `as`.
  const steps = parsed.success ? parsed.data.steps : validSteps(data, registry);
  if (machine !== undefined) {
    const built = buildMachine(machine);
    for (const p of built.problems)
      problems.push(error(p.path, p.error.message, "machine", "machine"));
    // What steps name in the machine (tables, devices), once the machine is whole.
    if (built.problems.length === 0)
      steps.forEach((step, i) => {
        for (const p of registry.get(step.op)?.check?.(step, built.machine) ?? []) {
          const suggestion = p.suggestion ?? suggestionIn(p.message);
          problems.push({
            path: ["steps", i, ...p.path],
            message: p.message,
            onKey: false,
            kind: "schema",
            code: p.code ?? stepProblemCode(p.message, suggestion),
            severity: p.severity ?? "error",
            suggestion,
          });
        }
      });
  }
  for (const p of checkStepNames(steps, registry))
    problems.push({ ...p, onKey: false, kind: "schema", severity: "error" });
  if (parsed.success)
    for (const p of expectationWarnings(parsed.data.steps, registry))
      problems.push({ ...p, onKey: false, kind: "schema", severity: "warning" });
  const valid = parsed.success && !problems.some((p) => p.severity === "error");
  return { scenario: valid ? parsed.data : undefined, problems };
}

function byPosition(a: ScenarioError, b: ScenarioError): number {
  return a.line - b.line || a.column - b.column;
}

/** A CST token of the `yaml` parser, as far as the nesting check reads it. */
interface CstToken {
  readonly type: string;
  readonly offset: number;
  readonly value?: CstToken;
  readonly key?: CstToken | null;
  readonly items?: ReadonlyArray<{ readonly key?: CstToken | null; readonly value?: CstToken }>;
}

const COLLECTIONS = new Set(["block-map", "block-seq", "flow-collection"]);

/**
 * The offset of the first map or list nested deeper than `limit`, from the parser's concrete
 * syntax tree, walked without recursion (so any depth is safe), or undefined.
 */
function tooDeep(text: string, limit: number): number | undefined {
  for (const token of new Parser().parse(text) as Iterable<CstToken>) {
    const stack: Array<[CstToken, number]> = token.value !== undefined ? [[token.value, 0]] : [];
    while (stack.length > 0) {
      const [t, depth] = stack.pop()!;
      if (!COLLECTIONS.has(t.type)) continue;
      if (depth + 1 > limit) return t.offset;
      for (const item of t.items ?? []) {
        if (item.key) stack.push([item.key, depth + 1]);
        if (item.value !== undefined) stack.push([item.value, depth + 1]);
      }
    }
  }
  return undefined;
}

/** The tags a scenario may use: YAML 1.2's core schema (`!!str 1` is the string "1"). */
const CORE_TAGS = new Set(
  ["str", "int", "float", "bool", "null", "map", "seq"].map((t) => `tag:yaml.org,2002:${t}`),
);

/** A tag as written: `!!str` for `tag:yaml.org,2002:str`. */
function shortTag(tag: string): string {
  return tag.startsWith("tag:yaml.org,2002:") ? `!!${tag.slice("tag:yaml.org,2002:".length)}` : tag;
}

/**
 * What the document holds that a scenario may not: tags beyond the core ones (`!!binary`,
 * `!!set`, `!custom`), a core tag that does not fit its value (`!!int abc`), and merge keys whose
 * source is not a map. Each at its node.
 */
function yamlProblems(doc: Document, lineCounter: LineCounter, file: string): ScenarioError[] {
  const out: ScenarioError[] = [];
  const at = (offset: number | undefined) =>
    offset !== undefined ? positionOf(lineCounter, offset) : { line: 1, column: 1 };
  const push = (offset: number | undefined, code: string, message: string) =>
    out.push({ file, ...at(offset), path: "", message, kind: "syntax", code, severity: "error" });
  visit(doc, {
    Node(_, node) {
      if (node.tag === undefined || CORE_TAGS.has(node.tag)) return;
      push(
        node.range?.[0],
        "yaml-tag",
        `the tag ${shortTag(node.tag)} is not supported: scenario values are maps, lists, strings, numbers and booleans (core tags such as !!str and !!int are fine)`,
      );
    },
    Pair(_, pair) {
      if (!isMergeKey(pair.key)) return;
      const sources = isSeq(pair.value) ? pair.value.items : [pair.value];
      for (const source of sources) {
        const target = isAlias(source) ? source.resolve(doc) : source;
        if (isAlias(source) && target === undefined) continue; // an unknown alias: said below
        if (!isMap(target))
          push(
            (isNode(source) ? source.range?.[0] : undefined) ?? pair.key.range?.[0],
            "yaml-merge-key",
            `a merge key (<<) takes a map, an alias to one (<<: *base) or a list of them, got ${isSeq(target) ? "a list" : "a scalar"}`,
          );
      }
    },
  });
  // A core tag the value does not fit (`!!float abc`); other tags were refused above.
  for (const w of doc.warnings) {
    const tag = /Unresolved tag: (\S+)/.exec(w.message)?.[1];
    if (w.code === "TAG_RESOLVE_FAILED" && tag !== undefined && CORE_TAGS.has(tag))
      push(w.pos[0], "yaml-tag", `the value does not fit its tag ${shortTag(tag)}`);
  }
  return out;
}

/**
 * When a value problem lands on a scalar whose explicit tag changed its type (`!!str 1`, the
 * string "1" where 1 would be the number), the tag is the likely cause: say so.
 */
function withTag(doc: Document, text: string, p: Problem): Problem {
  if (p.onKey || p.kind !== "schema") return p;
  const node = nodeAt(doc, p.path);
  if (!isScalar(node) || node.tag === undefined || node.range == null) return p;
  const untagged = parseDocument(text.slice(node.range[0], node.range[1])).toJS() as unknown;
  if (typeof untagged === typeof node.value) return p;
  return { ...p, message: `${p.message} (tagged ${shortTag(node.tag)})`, code: "yaml-tag" };
}

/**
 * Parse and validate a scenario written in YAML or JSON. `file` names the text in errors.
 * Never throws for bad input: every problem is an error in the result.
 */
export function parseScenario(
  text: string,
  file = "<scenario>",
  options: ParseOptions = {},
): ScenarioParseResult {
  const registry = options.registry ?? defaultStepRegistry;
  const lineCounter = new LineCounter();
  const invalid = (errors: ScenarioError[]): ScenarioParseResult => ({
    ok: false,
    errors: errors.sort(byPosition),
    warnings: [],
  });
  const deep = tooDeep(text, MAX_NESTING);
  if (deep !== undefined) {
    const before = text.slice(0, deep);
    const lineStart = before.lastIndexOf("\n") + 1;
    return invalid([
      {
        file,
        line: before.split("\n").length,
        column: deep - lineStart + 1,
        path: "",
        message: `YAML nesting deeper than ${MAX_NESTING} levels (maps and lists inside each other): a scenario needs far fewer`,
        kind: "syntax",
        code: "yaml-depth",
        severity: "error",
      },
    ]);
  }
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true });
  if (doc.errors.length > 0)
    return invalid(
      doc.errors.map((e): ScenarioError => {
        const at = positionOf(lineCounter, e.pos[0]);
        return {
          file,
          ...at,
          path: "",
          message: `YAML syntax error: ${e.message}`,
          kind: "syntax",
          code: "yaml-syntax",
          severity: "error",
        };
      }),
    );
  const yamlErrors = yamlProblems(doc, lineCounter, file);
  if (yamlErrors.length > 0) return invalid(yamlErrors);
  let data: unknown;
  try {
    data = doc.toJS();
  } catch (e) {
    // An alias to an anchor that does not exist, or too many aliases.
    const message = e instanceof Error ? e.message : String(e);
    return invalid([
      {
        file,
        line: 1,
        column: 1,
        path: "",
        message: `YAML error: ${message}`,
        kind: "syntax",
        code: "yaml-error",
        severity: "error",
      },
    ]);
  }
  const { scenario, problems } = check(data, registry);
  const located = problems.map((raw): ScenarioError => {
    const p = withTag(doc, text, raw);
    return toScenarioError(file, locate(doc, lineCounter, p.path, p.onKey), p);
  });
  const errors = located.filter((e) => e.severity === "error").sort(byPosition);
  const warnings = located.filter((e) => e.severity === "warning").sort(byPosition);
  if (scenario === undefined) return { ok: false, errors, warnings };
  const steps = scenario.steps.map((_, i) => locate(doc, lineCounter, ["steps", i]));
  return { ok: true, scenario, source: { file, steps }, warnings };
}

/** A problem as the error it is reported as, at `at` (line and column; 0:0 for plain data). */
function toScenarioError(
  file: string,
  at: { readonly line: number; readonly column: number },
  p: Problem,
): ScenarioError {
  return {
    file,
    line: at.line,
    column: at.column,
    path: formatDocPath(p.path),
    message: p.message,
    kind: p.kind,
    code: p.code,
    severity: p.severity,
    ...(p.suggestion !== undefined ? { suggestion: p.suggestion } : {}),
  };
}

/**
 * Validate a scenario given as plain data (e.g. built in code or received as JSON). Errors
 * carry paths but no positions (line and column 0).
 */
export function validateScenario(
  data: unknown,
  options: ParseOptions & { readonly file?: string } = {},
): ScenarioParseResult {
  const file = options.file ?? "<scenario>";
  const { scenario, problems } = check(data, options.registry ?? defaultStepRegistry);
  const unlocated = problems.map((p) => toScenarioError(file, { line: 0, column: 0 }, p));
  const warnings = unlocated.filter((e) => e.severity === "warning");
  if (scenario === undefined)
    return { ok: false, errors: unlocated.filter((e) => e.severity === "error"), warnings };
  return {
    ok: true,
    scenario,
    source: { file, steps: scenario.steps.map(() => ({ line: 0, column: 0 })) },
    warnings,
  };
}

/**
 * A diagnostic as one line: `file:line:col: path: message` (without the position when it has
 * none, without the path when it has none); a warning says so: `file:line:col: warning: …`.
 */
export function formatScenarioError(e: ScenarioError): string {
  const where = e.line > 0 ? `${e.file}:${e.line}:${e.column}` : e.file;
  const what = e.severity === "warning" ? "warning: " : "";
  return e.path !== ""
    ? `${where}: ${what}${e.path}: ${e.message}`
    : `${where}: ${what}${e.message}`;
}

/**
 * A diagnostic as plain data for `--json`: its position, path, code, severity, message and
 * suggestion, in that order (the order of the keys is fixed, so output is byte-stable).
 */
export function diagnosticJson(e: ScenarioError): {
  file: string;
  line: number;
  column: number;
  path: string;
  code: string;
  severity: DiagnosticSeverity;
  message: string;
  suggestion?: string;
} {
  return {
    file: e.file,
    line: e.line,
    column: e.column,
    path: e.path,
    code: e.code,
    severity: e.severity,
    message: e.message,
    ...(e.suggestion !== undefined ? { suggestion: e.suggestion } : {}),
  };
}
