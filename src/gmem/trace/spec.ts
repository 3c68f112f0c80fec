/**
 * Generated traces described by data: a {@link TraceSpec} (what a scenario's `gen:` and the
 * CLI's `gen:<kind>,key=value,...` say) and the cursor it stands for.
 *
 * | key           | meaning                                                        | default        |
 * | ------------- | -------------------------------------------------------------- | -------------- |
 * | `kind`        | `sequential`, `strided`, `uniform` or `hotset`                 | (required)     |
 * | `start`       | the first address of the region                                | `0x1000000000` |
 * | `length`      | the region's bytes                                             | (required)     |
 * | `count`       | accesses (required for `uniform` and `hotset`)                 | one pass       |
 * | `hot`         | `hotset`: the hot set's bytes                                  | (required)     |
 * | `hotStart`    | `hotset`: where the hot set starts                             | `start`        |
 * | `hotFraction` | `hotset`: the share of accesses to the hot set                 | 0.8            |
 * | `stride`      | `sequential` / `strided`: bytes between accesses               | `size`         |
 * | `align`       | `uniform` / `hotset`: addresses are `start + k * align`        | `size`         |
 * | `writes`      | the share of writes                                            | 0              |
 * | `size`        | bytes per access                                               | 8              |
 * | `seed`        | the seed of every random choice                                | 0              |
 * | `who`         | `cpu`, a device, or weights (`{ cpu: 1, gpu0: 3 }`)             | `gpu0`         |
 *
 * The text form (`parseTraceSpec`): `gen:hotset,length=4G,hot=1G,count=10M,writes=0.3,seed=1`.
 * Keys are case-insensitive; sizes and addresses take binary units (`4G`, `0x10_0000_0000`);
 * counts take decimal ones (`10M` = 10,000,000, `250k`; or plain digits with `_`); `who` weights
 * are written `cpu:1+gpu0:3`.
 *
 * Decisions: the default `start` is `MMAP_BASE` (0x10_0000_0000, where a process's first mapping
 * goes); the default `who` is `gpu0`, the device of the replay platform (a trace for GMEM is
 * mostly the device's). Pure: imports `base/` and the trace modules only.
 */
import { fail } from "../../base/errors.js";
import { parseSize } from "../../base/size.js";
import { hotSet, sequential, strided, uniform } from "./generators.js";
import { didYouMean } from "../../base/suggest.js";
import type { TraceCursor } from "./types.js";
import { checkObject, checkString } from "../../base/validate.js";
/** The kinds of generated traces. */
export const TRACE_KINDS = ["sequential", "strided", "uniform", "hotset"] as const;
export type TraceKind = (typeof TRACE_KINDS)[number];

/** Where generated traces start when no `start` is given (gmem's MMAP_BASE). */
export const DEFAULT_TRACE_START = 0x10_0000_0000;

/** The device generated traces access when no `who` is given. */
export const DEFAULT_TRACE_WHO = "gpu0";

/** A generated trace, as data. */
export interface TraceSpec {
  kind: TraceKind;
  start?: number;
  length: number;
  count?: number;
  hot?: number;
  hotStart?: number;
  hotFraction?: number;
  stride?: number;
  align?: number;
  writes?: number;
  size?: number;
  seed?: number;
  who?: string | Readonly<Record<string, number>>;
}

/** The addresses a trace may touch: `[start, end)`. */
export interface TraceBounds {
  start: number;
  end: number;
}

/** A generated trace: its cursor and the addresses it may touch. */
export interface GeneratedTrace {
  readonly cursor: TraceCursor;
  readonly bounds: TraceBounds;
  /** The spec with its defaults filled in. */
  readonly spec: Readonly<
    Omit<TraceSpec, "start" | "who"> & {
      start: number;
      who: string | Readonly<Record<string, number>>;
    }
  >;
}

/** The keys of a spec (the text form's, lower-cased, map to these). */
const KEYS = [
  "kind",
  "start",
  "length",
  "count",
  "hot",
  "hotStart",
  "hotFraction",
  "stride",
  "align",
  "writes",
  "size",
  "seed",
  "who",
] as const;
type Key = (typeof KEYS)[number];

const SIZE_KEYS = new Set<Key>(["start", "length", "hot", "hotStart", "stride", "align", "size"]);
const COUNT_KEYS = new Set<Key>(["count", "seed"]);
const RATIO_KEYS = new Set<Key>(["hotFraction", "writes"]);

/** Which keys each kind takes besides the common ones. */
const KIND_KEYS: Record<TraceKind, readonly Key[]> = {
  sequential: ["stride", "count"],
  strided: ["stride", "count"],
  uniform: ["count", "align"],
  hotset: ["count", "align", "hot", "hotStart", "hotFraction"],
};
const COMMON: readonly Key[] = ["kind", "start", "length", "writes", "size", "seed", "who"];

const COUNT_UNITS: Record<string, number> = { "": 1, k: 1e3, m: 1e6, g: 1e9 };

/** A count: digits (with `_`), optionally with a decimal unit `k`, `M`, `G` (`10M`, `2.5k`). */
export function parseCount(text: string, what = "count"): number {
  checkString("parseCount", "text", text);
  const m = /^([0-9][0-9_]*(?:\.[0-9]+)?)\s*([kKmMgG]?)$/.exec(text.trim());
  const n = m ? Number(m[1]!.replace(/_/g, "")) * COUNT_UNITS[m[2]!.toLowerCase()]! : NaN;
  if (!Number.isSafeInteger(n))
    fail("EINVAL", `${what} "${text}" is not a count (e.g. 1000, 250k, 10M)`, what);
  return n;
}

/** A share in [0, 1]: `0.3` or `30%`. */
function parseRatio(text: string, what: string): number {
  const t = text.trim();
  const n = t.endsWith("%") ? Number(t.slice(0, -1)) / 100 : Number(t);
  if (t === "" || !(n >= 0 && n <= 1))
    fail("EINVAL", `${what} "${text}" is not a share in [0, 1] (e.g. 0.3 or 30%)`, what);
  return n;
}

/** `gpu0`, or weights `cpu:1+gpu0:3`. */
function parseWho(text: string): string | Record<string, number> {
  if (!text.includes(":")) return text.trim();
  const out: Record<string, number> = {};
  for (const part of text.split("+")) {
    const [name, w] = part.split(":");
    const weight = Number(w);
    if (name === undefined || name.trim() === "" || w === undefined || !(weight >= 0))
      fail("EINVAL", `who "${text}": expected name:weight+name:weight (e.g. cpu:1+gpu0:3)`, "who");
    out[name.trim()] = weight;
  }
  return out;
}

function isKind(s: string): s is TraceKind {
  return (TRACE_KINDS as readonly string[]).includes(s);
}

/** `hotset` from `hotset`, `hotSet`, `hot-set` (the kind names people write). */
function kindOf(text: string): TraceKind {
  const k = text.trim().toLowerCase().replace(/[-_]/g, "");
  if (isKind(k)) return k;
  fail(
    "EINVAL",
    `unknown trace kind "${text}"${didYouMean(k, TRACE_KINDS)} (kinds: ${TRACE_KINDS.join(", ")})`,
    "kind",
  );
}

/**
 * Parse the text form `gen:<kind>,key=value,...` (the `gen:` prefix optional). EINVAL naming the
 * key for a bad value, an unknown key (with a suggestion) or a key given twice.
 */
export function parseTraceSpec(text: string): TraceSpec {
  checkString("parseTraceSpec", "text", text);
  const body = text.startsWith("gen:") ? text.slice(4) : text;
  const [kindText, ...pairs] = body.split(",");
  if (kindText === undefined || kindText.trim() === "")
    fail(
      "EINVAL",
      `"${text}": expected gen:<kind>,key=value,... (kinds: ${TRACE_KINDS.join(", ")})`,
    );
  const spec: Record<string, unknown> = { kind: kindOf(kindText) };
  const byLower = new Map(KEYS.map((k) => [k.toLowerCase(), k]));
  for (const pair of pairs) {
    if (pair.trim() === "") continue;
    const eq = pair.indexOf("=");
    if (eq < 0) fail("EINVAL", `"${pair}": expected key=value`);
    const raw = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const key = byLower.get(raw.toLowerCase());
    if (key === undefined || key === "kind")
      fail(
        "EINVAL",
        `unknown trace key "${raw}"${didYouMean(raw, KEYS.slice(1))} (keys: ${KEYS.slice(1).join(", ")})`,
        raw,
      );
    if (spec[key] !== undefined) fail("EINVAL", `trace key "${key}" is given twice`, key);
    if (SIZE_KEYS.has(key)) spec[key] = parseSize(value, key);
    else if (COUNT_KEYS.has(key)) spec[key] = parseCount(value, key);
    else if (RATIO_KEYS.has(key)) spec[key] = parseRatio(value, key);
    else spec[key] = parseWho(value);
  }
  return checkTraceSpec(spec);
}

/** Check a spec's keys (EINVAL for a key its kind does not take, or a missing one). */
export function checkTraceSpec(spec: Readonly<Record<string, unknown>>): TraceSpec {
  checkObject("checkTraceSpec", "spec", spec);
  const kind = kindOf(String(spec.kind));
  const allowed = new Set<string>([...COMMON, ...KIND_KEYS[kind]]);
  for (const [key, value] of Object.entries(spec)) {
    if (value === undefined) continue;
    if (!(KEYS as readonly string[]).includes(key))
      fail("EINVAL", `unknown trace key "${key}"${didYouMean(key, KEYS)}`, key);
    if (!allowed.has(key))
      fail(
        "EINVAL",
        `a ${kind} trace has no "${key}" (it takes: ${[...allowed].filter((k) => k !== "kind").join(", ")})`,
        key,
      );
  }
  const need = (key: Key) => {
    if (spec[key] === undefined) fail("EINVAL", `a ${kind} trace needs "${key}"`, key);
  };
  need("length");
  if (kind === "uniform" || kind === "hotset") need("count");
  if (kind === "hotset") need("hot");
  return { ...spec, kind } as TraceSpec;
}

/** The cursor a spec stands for, and the addresses it may touch (EINVAL for bad values). */
export function generateTrace(input: TraceSpec): GeneratedTrace {
  checkObject("generateTrace", "spec", input);
  const s = checkTraceSpec(input as unknown as Record<string, unknown>);
  const start = s.start ?? DEFAULT_TRACE_START;
  const who = s.who ?? DEFAULT_TRACE_WHO;
  const common = {
    start,
    length: s.length,
    who,
    ...(s.writes !== undefined ? { writeRatio: s.writes } : {}),
    ...(s.size !== undefined ? { size: s.size } : {}),
    ...(s.seed !== undefined ? { seed: s.seed } : {}),
  };
  let cursor: TraceCursor;
  switch (s.kind) {
    case "sequential":
    case "strided": {
      const o = {
        ...common,
        ...(s.count !== undefined ? { count: s.count } : {}),
      };
      if (s.kind === "sequential")
        cursor = sequential({ ...o, ...(s.stride !== undefined ? { stride: s.stride } : {}) });
      else {
        if (s.stride === undefined) fail("EINVAL", `a strided trace needs "stride"`, "stride");
        cursor = strided({ ...o, stride: s.stride });
      }
      break;
    }
    case "uniform":
      cursor = uniform({
        ...common,
        count: s.count!,
        ...(s.align !== undefined ? { align: s.align } : {}),
      });
      break;
    case "hotset":
      cursor = hotSet({
        ...common,
        count: s.count!,
        hotLength: s.hot!,
        ...(s.hotStart !== undefined ? { hotStart: s.hotStart } : {}),
        ...(s.hotFraction !== undefined ? { hotFraction: s.hotFraction } : {}),
        ...(s.align !== undefined ? { align: s.align } : {}),
      });
      break;
  }
  return { cursor, bounds: { start, end: start + s.length }, spec: { ...s, start, who } };
}

/** The text form of a spec (what {@link parseTraceSpec} reads back). */
export function formatTraceSpec(s: TraceSpec): string {
  checkObject("formatTraceSpec", "spec", s);
  const parts: string[] = [`gen:${s.kind}`];
  for (const key of KEYS) {
    const v = s[key];
    if (key === "kind" || v === undefined) continue;
    if (key === "who" && typeof v === "object")
      parts.push(
        `who=${Object.entries(v)
          .map(([n, w]) => `${n}:${w}`)
          .join("+")}`,
      );
    else if (SIZE_KEYS.has(key) && typeof v === "number" && v >= 0x1000)
      parts.push(`${key}=0x${v.toString(16)}`);
    else parts.push(`${key}=${typeof v === "object" ? JSON.stringify(v) : String(v)}`);
  }
  return parts.join(",");
}
