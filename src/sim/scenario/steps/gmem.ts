/**
 * The steps of GMEM (`src/gmem/`), namespaced `gmem`, on the machine's `gmem` section
 * (`machine/gmem.ts`):
 *
 * | op             | fields                                                                        |
 * | -------------- | ----------------------------------------------------------------------------- |
 * | gmem.access    | who, op (r / w), va, size?, data?, expect? — one access through Gmem.access   |
 * | gmem.advise    | device? / hnid?, va, len, behavior — hmadvise (PREFETCH, WILLNEED, ...)       |
 * | gmem.memcpy    | device? / hnid?, dest, src, size — hmemcpy                                    |
 * | gmem.stats     | expect? — the machine's counters and simulated time so far                    |
 * | gmem.trace     | file / gen, offset?, policy?, set?, expect? — a trace replayed                |
 * | gmem.compare   | file / gen, offset?, policies?, set?, expect? — one trace, several policies   |
 *
 * **Addresses** (`va`, `dest`, `src`, `offset`, a generator's `start`) are numbers or a mapping
 * of the section by name, plus or minus an offset (`buf`, `buf+2M`).
 *
 * **Traces**: `file` is a CSV or binary trace, relative to the scenario file (the loader reads
 * it and checks it before anything runs: a malformed line is a load error at its own line);
 * `offset` is added to its addresses. `gen` describes a generated trace (src/gmem/trace/spec.ts):
 * `{ kind: hotset, start: buf, length: 64M, hot: 16M, count: 100000, writes: 0.3, seed: 1 }`;
 * `start` defaults to the first mapping, `length` to the rest of the mapping `start` is in,
 * `who` to the first accelerator.
 *
 * **Expectations** (`expect`) name counters — deviceFaults, hostFaults, migrationsToDevice,
 * migrationsToHost, evictions, prefetchedPages, thrashingEvents, bytesToDevice, bytesToHost
 * (`gmem.stats` also deviceFirstTouches, cpuFirstTouches and devicePages) — with a value or a
 * range `{ min, max }`, and `simulatedTimeNs` with a time (`1.5ms`, `45us`, or ns; an exact
 * time is compared to the nanosecond) or a range of times. Each key is one expectation.
 * `gmem.compare`'s `expect` is keyed by run name.
 *
 * Decisions:
 * - `gmem.trace` runs on the machine (its counters and time move on) unless it has `policy` or
 *   `set`: then it runs on a fresh copy of the machine built with them, and the machine is left
 *   as it was. `gmem.compare` always runs each policy on a fresh copy.
 * - A trace's counters are its own (the machine's after minus before); `gmem.stats` reports the
 *   machine's since it was built.
 * - A read whose bytes differ from the trace's value is a failed expectation naming its line.
 */
import { z } from "zod";

import { hex } from "../../../base/address.js";
import { fail, isMemweaveError } from "../../../base/errors.js";
import type { Json } from "../../../base/events.js";
import type { MadvBehavior } from "../../../gmem/index.js";
import { MADV, NO_HNID } from "../../../gmem/index.js";
import { formatDuration } from "../../../gmem/cost.js";
import type { ReplayCounter, ReplayResult, SettingValue } from "../../../gmem/replay.js";
import { offsetCursor, POLICY_NAMES, REPLAY_COUNTERS, replayTrace } from "../../../gmem/replay.js";
import {
  compareTable,
  countersTable,
  groupDigits,
  showBytes,
  showCounter,
  timeTable,
} from "../../../gmem/replay-report.js";
import { openTrace } from "../../../gmem/trace/open.js";
import type { TraceSpec } from "../../../gmem/trace/spec.js";
import {
  checkTraceSpec,
  generateTrace,
  parseCount,
  TRACE_KINDS,
} from "../../../gmem/trace/spec.js";
import type { TraceCursor } from "../../../gmem/trace/types.js";
import { closest, hexBytes } from "../format.js";
import type { BuiltMachine } from "../machine-module.js";
import type { ScenarioGmem } from "../machine/gmem.js";
import { gmemOf, settingsSchema } from "../machine/gmem.js";
import type {
  StepContext,
  StepDefinition,
  StepModule,
  StepProblem,
  StepReport,
} from "../step-module.js";
import { defineStep } from "../step-module.js";
import type { AddressExpr } from "../values.js";
import {
  addressSchema,
  countSchema,
  dataSchema,
  objectNameSchema,
  showAddress,
  sizeSchema,
} from "../values.js";

// --- the machine's GMEM and its addresses -------------------------------------------------------

function gmemIn(ctx: StepContext): ScenarioGmem {
  return gmemOf(ctx.objects) ?? fail("ENOENT", "the machine has no gmem section (machine.gmem)");
}

/** Load-time: the machine has GMEM, and what the step names exists. */
function checkGmem(
  machine: BuiltMachine,
  names: ReadonlyArray<readonly [string, "who" | "device" | "address", unknown]> = [],
): StepProblem[] {
  const g = gmemOf(machine);
  if (g === undefined)
    return [
      {
        path: ["op"],
        code: "missing-section",
        message: "the machine has no gmem section (machine.gmem)",
      },
    ];
  const out: StepProblem[] = [];
  for (const [key, kind, value] of names) {
    if (value === undefined) continue;
    if (kind === "address") {
      const a = value as AddressExpr;
      if (a.kind === "allocation" && !g.mappings.has(a.name)) {
        const near = closest(a.name, [...g.mappings.keys()]);
        out.push({
          path: [key],
          code: "unknown-name",
          message: `no mapping named "${a.name}"${near !== undefined ? `, did you mean "${near}"?` : ""} (mappings: ${[...g.mappings.keys()].join(", ") || "none"})`,
          ...(near !== undefined ? { suggestion: near } : {}),
        });
      }
    } else {
      const who = value as string;
      const ok = (kind === "who" && who === "cpu") || g.devices.includes(who);
      if (!ok) {
        const have = [...(kind === "who" ? ["cpu"] : []), ...g.devices];
        const near = closest(who, have);
        out.push({
          path: [key],
          code: "unknown-name",
          message: `no ${kind === "who" ? "cpu or " : ""}accelerator "${who}" in machine.gmem${near !== undefined ? `, did you mean "${near}"?` : ""} (have: ${have.join(", ") || "none"})`,
          ...(near !== undefined ? { suggestion: near } : {}),
        });
      }
    }
  }
  return out;
}

/** An address of the step: a number, or a mapping plus an offset. */
function va(g: ScenarioGmem, a: AddressExpr): number {
  if (a.kind === "absolute") return a.pa;
  const m =
    g.mappings.get(a.name) ??
    fail(
      "ENOENT",
      `no mapping named "${a.name}" (mappings: ${[...g.mappings.keys()].join(", ") || "none"})`,
    );
  return m.start + a.offset;
}

/** The hnode a step names: `hnid`, or the first hnode of `device` (default: -1, any). */
function hnidOf(
  g: ScenarioGmem,
  step: { device?: string | undefined; hnid?: number | undefined },
): number {
  if (step.hnid !== undefined) return step.hnid;
  if (step.device === undefined) return NO_HNID;
  const dev = g.gmem.device(step.device);
  const first = [...dev.registeredHnodes].sort((x, y) => x - y)[0];
  return first ?? fail("EINVAL", `${dev.name} has no device memory (no hnode)`);
}

// --- expectations -----------------------------------------------------------------------------------

const TIME_UNITS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9 };

function timeMessage(input: unknown): string {
  return `expected a time like 45us, 1.5ms, 2s or a number of ns, got ${JSON.stringify(input)}`;
}

/** A simulated time: a number of ns, or a string with a unit (ns, us, ms, s). */
const timeSchema = z
  .union([z.number().min(0), z.string()], {
    error: (i) => (i.input === undefined ? undefined : timeMessage(i.input)),
  })
  .transform((v, ctx): number => {
    if (typeof v === "number") return v;
    const m = /^\s*((?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*(ns|us|µs|ms|s)?\s*$/i.exec(v);
    if (!m) {
      ctx.issues.push({ code: "custom", message: timeMessage(v), input: v });
      return z.NEVER;
    }
    return Number(m[1]) * TIME_UNITS[(m[2] ?? "ns").toLowerCase()]!;
  })
  .meta({ description: "A simulated time: a number of ns, or 45us, 1.5ms, 2s." });

const range = <T extends z.ZodType<number, unknown>>(value: T, what: string) =>
  z
    .union([
      value,
      z.strictObject({
        min: value.optional().meta({ description: "At least this." }),
        max: value.optional().meta({ description: "At most this." }),
      }),
    ])
    .optional()
    .meta({ description: `${what}: exactly a value, or a range { min, max }.` });

type Want = number | { min?: number | undefined; max?: number | undefined };

const COUNTER_HELP: Record<ReplayCounter, string> = {
  deviceFaults: "Device accesses to a page not mapped on that device.",
  hostFaults: "CPU accesses to a page resident on a device.",
  migrationsToDevice: "Moves with data to a device (a first touch is none).",
  migrationsToHost: "Moves with data to the host (an eviction is one).",
  evictions: "Device pages evicted.",
  prefetchedPages: "Pages a prefetch made resident on a device.",
  thrashingEvents: "Thrashing detected (the uvm policy).",
  bytesToDevice: "Bytes moved to devices.",
  bytesToHost: "Bytes moved to the host.",
};

const countersShape = {
  ...Object.fromEntries(
    REPLAY_COUNTERS.map((k) => [
      k,
      range(k.startsWith("bytes") ? sizeSchema : countSchema, COUNTER_HELP[k]),
    ]),
  ),
  simulatedTimeNs: range(timeSchema, "The simulated time"),
} as unknown as Record<ReplayCounter | "simulatedTimeNs", ReturnType<typeof range>>;

const countersExpectSchema = z.strictObject(countersShape).meta({
  description: "What the counters and the simulated time must be; each key is one expectation.",
});

function show(key: string, n: number): string {
  if (key === "simulatedTimeNs") return `${groupDigits(Math.round(n))} ns`;
  if (key.startsWith("bytes")) return showBytes(n);
  return groupDigits(n);
}

/** One expectation per key of `want`: `what key = n`, or in a range. */
function expectCounters(
  ctx: StepContext,
  what: string,
  want: Readonly<Record<string, Want | undefined>> | undefined,
  got: Readonly<Record<string, number>>,
): void {
  for (const [key, w] of Object.entries(want ?? {})) {
    if (w === undefined) continue;
    const n = got[key] ?? 0;
    const name = `${what}${what === "" ? "" : " "}${key}`;
    if (typeof w === "number") {
      const same = key === "simulatedTimeNs" ? Math.round(n) === Math.round(w) : n === w;
      ctx.expect(
        same,
        same
          ? `${name} = ${show(key, n)}`
          : `${name}: expected ${show(key, w)}, got ${show(key, n)}`,
      );
    } else {
      const ok = (w.min === undefined || n >= w.min) && (w.max === undefined || n <= w.max);
      const bounds = `${w.min !== undefined ? show(key, w.min) : "-"} .. ${w.max !== undefined ? show(key, w.max) : "-"}`;
      ctx.expect(
        ok,
        ok
          ? `${name} = ${show(key, n)}, in ${bounds}`
          : `${name}: expected ${bounds}, got ${show(key, n)}`,
      );
    }
  }
}

// --- traces ----------------------------------------------------------------------------------------

const traceCountSchema = z
  .union([countSchema, z.string()])
  .transform((v, ctx): number => {
    if (typeof v === "number") return v;
    try {
      return parseCount(v);
    } catch (e) {
      ctx.issues.push({
        code: "custom",
        message: isMemweaveError(e) ? e.detail : String(e),
        input: v,
      });
      return z.NEVER;
    }
  })
  .meta({ description: "A count: a number, or with a decimal unit (100k, 10M)." });

const ratioSchema = z.number().min(0).max(1);

const genSchema = z
  .strictObject({
    kind: z.enum(TRACE_KINDS).meta({ description: "sequential, strided, uniform or hotset." }),
    start: addressSchema
      .optional()
      .meta({ description: "The region's start (default: the first mapping)." }),
    length: sizeSchema
      .optional()
      .meta({ description: "The region's bytes (default: the rest of the mapping start is in)." }),
    count: traceCountSchema
      .optional()
      .meta({ description: "Accesses (uniform and hotset need it; default one pass)." }),
    hot: sizeSchema.optional().meta({ description: "hotset: the hot set's bytes." }),
    hotStart: addressSchema
      .optional()
      .meta({ description: "hotset: where the hot set starts (default start)." }),
    hotFraction: ratioSchema
      .optional()
      .meta({ description: "hotset: the share of accesses to the hot set (0.8)." }),
    stride: sizeSchema
      .optional()
      .meta({ description: "sequential / strided: bytes between accesses." }),
    align: sizeSchema
      .optional()
      .meta({ description: "uniform / hotset: address alignment (default size)." }),
    writes: ratioSchema.optional().meta({ description: "The share of writes (default 0)." }),
    size: countSchema.optional().meta({ description: "Bytes per access (default 8)." }),
    seed: countSchema.optional().meta({ description: "The seed (default 0)." }),
    who: z
      .union([objectNameSchema, z.record(z.string(), z.number().min(0))])
      .optional()
      .meta({
        description:
          "cpu, an accelerator, or weights { cpu: 1, gpu0: 3 } (default: the first accelerator).",
      }),
  })
  .meta({ title: "Generated trace", description: "A generated trace (src/gmem/trace/spec.ts)." });

type GenConfig = z.output<typeof genSchema>;

const sourceShape = {
  file: z
    .string()
    .min(1)
    .optional()
    .meta({ description: "A CSV or binary trace file, relative to the scenario file." }),
  gen: genSchema.optional(),
  offset: addressSchema
    .optional()
    .meta({ description: "Added to every address of a file trace (a number or a mapping: buf)." }),
};

type Source = {
  file?: string | undefined;
  gen?: GenConfig | undefined;
  offset?: AddressExpr | undefined;
};

function refineSource(s: Source, ctx: z.RefinementCtx): void {
  if ((s.file === undefined) === (s.gen === undefined))
    ctx.addIssue({
      code: "custom",
      path: [s.file === undefined ? "file" : "gen"],
      message:
        s.file === undefined
          ? 'missing required key "file" or "gen"'
          : 'give "file" or "gen", not both',
    });
  if (s.gen !== undefined && s.offset !== undefined)
    ctx.addIssue({
      code: "custom",
      path: ["offset"],
      message: "offset is for file traces (give gen.start)",
    });
  if (s.gen !== undefined) {
    try {
      checkTraceSpec({
        ...s.gen,
        start: 0,
        hotStart: undefined,
        length: s.gen.length ?? 1,
      });
    } catch (e) {
      if (!isMemweaveError(e)) throw e;
      ctx.addIssue({
        code: "custom",
        path: ["gen", ...(e.field !== undefined ? [e.field] : [])],
        message: e.detail,
      });
    }
  }
}

function describeSource(s: Source): string {
  if (s.file !== undefined)
    return `trace ${s.file}${s.offset !== undefined ? ` at ${showAddress(s.offset)}` : ""}`;
  const g = s.gen!;
  const parts = [
    g.kind,
    g.start !== undefined ? `from ${showAddress(g.start)}` : undefined,
    g.length !== undefined ? `over ${showBytes(g.length)}` : undefined,
    g.hot !== undefined ? `hot ${showBytes(g.hot)}` : undefined,
    g.count !== undefined ? `${groupDigits(g.count)} accesses` : undefined,
    g.writes !== undefined ? `${Math.round(g.writes * 100)}% writes` : undefined,
  ].filter((x) => x !== undefined);
  return `generated trace (${parts.join(", ")})`;
}

function checkSource(s: Source, machine: BuiltMachine): StepProblem[] {
  const g = gmemOf(machine);
  if (g === undefined) return [];
  const out = checkGmem(machine, [
    ["offset", "address", s.offset],
    ["start", "address", s.gen?.start],
    ["hotStart", "address", s.gen?.hotStart],
  ]).map((p) => (p.path[0] === "offset" ? p : { ...p, path: ["gen", ...p.path] }));
  const who = s.gen?.who;
  const names = who === undefined ? [] : typeof who === "string" ? [who] : Object.keys(who);
  for (const n of names)
    if (n !== "cpu" && !g.devices.includes(n))
      out.push({
        path: ["gen", "who"],
        message: `no cpu or accelerator "${n}" in machine.gmem (have: ${["cpu", ...g.devices].join(", ")})`,
      });
  if (s.gen !== undefined && who === undefined && g.devices.length === 0)
    out.push({ path: ["gen", "who"], message: "machine.gmem has no accelerator: give who" });
  return out;
}

/** The cursor a step's source stands for, on `g`. */
function cursorOf(
  ctx: StepContext,
  g: ScenarioGmem,
  s: Source,
): { cursor: TraceCursor; label: string } {
  if (s.file !== undefined) {
    const opened = openTrace(ctx.file(s.file), s.file, { devices: g.devices });
    if (!opened.ok) fail("EINVAL", opened.lines.join("; "));
    const delta = s.offset !== undefined ? va(g, s.offset) : 0;
    return { cursor: offsetCursor(opened.cursor, delta), label: s.file };
  }
  const gen = s.gen!;
  const first = [...g.mappings.values()][0];
  const start =
    gen.start !== undefined
      ? va(g, gen.start)
      : (first?.start ?? fail("EINVAL", "gen: no start and no mapping"));
  let length = gen.length;
  if (length === undefined) {
    const m = [...g.mappings.values()].find((x) => start >= x.start && start < x.start + x.size);
    if (m === undefined)
      fail("EINVAL", `gen: give a length (${hex(start)} is in no mapping)`, "length");
    length = m.start + m.size - start;
  }
  const spec: TraceSpec = {
    kind: gen.kind,
    start,
    length,
    who: gen.who ?? g.devices[0] ?? "cpu",
    ...(gen.count !== undefined ? { count: gen.count } : {}),
    ...(gen.hot !== undefined ? { hot: gen.hot } : {}),
    ...(gen.hotStart !== undefined ? { hotStart: va(g, gen.hotStart) } : {}),
    ...(gen.hotFraction !== undefined ? { hotFraction: gen.hotFraction } : {}),
    ...(gen.stride !== undefined ? { stride: gen.stride } : {}),
    ...(gen.align !== undefined ? { align: gen.align } : {}),
    ...(gen.writes !== undefined ? { writes: gen.writes } : {}),
    ...(gen.size !== undefined ? { size: gen.size } : {}),
    ...(gen.seed !== undefined ? { seed: gen.seed } : {}),
  };
  return { cursor: generateTrace(spec).cursor, label: "generated trace" };
}

/** Replay on `g`; mismatches are failed expectations. */
function replay(
  ctx: StepContext,
  g: ScenarioGmem,
  cursor: TraceCursor,
  label: string,
  who: string,
): ReplayResult {
  const r = replayTrace(g.gmem, cursor, { cost: g.cost, file: label });
  for (const m of r.mismatches) ctx.expect(false, `${who}${m.message}`);
  if (r.mismatchCount > r.mismatches.length)
    ctx.expect(
      false,
      `${who}${label}: ${r.mismatchCount - r.mismatches.length} more reads found other bytes`,
    );
  return r;
}

function resultJson(r: ReplayResult): { [key: string]: Json } {
  return {
    accesses: r.accesses,
    reads: r.reads,
    writes: r.writes,
    stats: { ...r.stats },
    time: JSON.parse(JSON.stringify(r.breakdown)) as Json,
    ok: r.ok,
    mismatches: r.mismatches.map((m) => m.message),
  };
}

function filesOf(s: Source): string[] {
  return s.file !== undefined ? [s.file] : [];
}

function checkTraceFile(path: string, bytes: Uint8Array) {
  const opened = openTrace(bytes, path);
  return opened.ok
    ? []
    : opened.problems.map((p) => ({ line: p.line, message: p.message, path: ["file"] }));
}

const policyNameSchema = z.enum(POLICY_NAMES).meta({ description: "gmem or uvm." });

// --- the steps ----------------------------------------------------------------------------------------

const trace = defineStep({
  schema: z
    .strictObject({
      op: z.literal("gmem.trace"),
      ...sourceShape,
      policy: policyNameSchema.optional().meta({
        description:
          "Run on a fresh copy of the machine under this policy (the machine is left as it was).",
      }),
      set: settingsSchema.optional(),
      expect: countersExpectSchema.optional(),
    })
    .superRefine(refineSource)
    .meta({
      title: "gmem.trace",
      description: "Replay a trace (a file or a generator) and check its counters.",
    }),
  describe: (s) =>
    `replay ${describeSource(s)}${s.policy !== undefined ? ` under ${s.policy}` : ""}`,
  check: (s, m) => [...checkGmem(m), ...checkSource(s, m)],
  files: (s) => filesOf(s),
  checkFile: (_s, path, bytes) => checkTraceFile(path, bytes),
  run(ctx, step): StepReport {
    const machine = gmemIn(ctx);
    const fresh = step.policy !== undefined || step.set !== undefined;
    const g = fresh ? machine.fresh(step.policy ?? machine.config.policy.name, step.set) : machine;
    const { cursor, label } = cursorOf(ctx, g, step);
    const r = replay(ctx, g, cursor, label, "");
    expectCounters(ctx, "", step.expect, r.stats);
    return {
      summary: `${groupDigits(r.accesses)} accesses: ${groupDigits(r.stats.deviceFaults)} device faults, ${groupDigits(r.stats.hostFaults)} host faults, ${groupDigits(r.stats.migrationsToDevice + r.stats.migrationsToHost)} migrations, ${groupDigits(r.stats.evictions)} evictions, ${formatDuration(r.stats.simulatedTimeNs)} simulated${fresh ? ` (a fresh machine, ${step.policy ?? machine.config.policy.name})` : ""}`,
      output: { ...resultJson(r), policy: step.policy ?? machine.config.policy.name, fresh },
      tables: [countersTable(r, "GMEM trace counters"), timeTable(r.breakdown)],
    };
  },
});

const runSchema = z.union([
  policyNameSchema,
  z.strictObject({
    name: objectNameSchema.meta({ description: "The run's name (its column)." }),
    policy: policyNameSchema
      .optional()
      .meta({ description: "Its policy (default: the machine's)." }),
    set: settingsSchema.optional(),
  }),
]);

const compare = defineStep({
  schema: z
    .strictObject({
      op: z.literal("gmem.compare"),
      ...sourceShape,
      policies: z.array(runSchema).min(1).optional().meta({
        description:
          "The runs: policy names, or { name, policy, set } for a variant (default: gmem and uvm). Each runs on a fresh copy of the machine.",
      }),
      set: settingsSchema
        .optional()
        .meta({ description: "Settings every run gets (under a run's own)." }),
      expect: z
        .record(z.string(), countersExpectSchema)
        .optional()
        .meta({ description: "Per run name: what its counters and simulated time must be." }),
    })
    .superRefine(refineSource)
    .meta({
      title: "gmem.compare",
      description:
        "Replay one trace under several policies, each on a fresh copy of the machine, side by side.",
    }),
  describe: (s) => {
    const names = (s.policies ?? POLICY_NAMES).map((p) => (typeof p === "string" ? p : p.name));
    return `compare ${names.join(", ")} on ${describeSource(s)}`;
  },
  check: (s, m) => {
    const out = [...checkGmem(m), ...checkSource(s, m)];
    const names = (s.policies ?? POLICY_NAMES).map((p) => (typeof p === "string" ? p : p.name));
    names.forEach((n, i) => {
      if (names.indexOf(n) !== i)
        out.push({ path: ["policies", i], message: `run "${n}" is listed twice` });
    });
    for (const k of Object.keys(s.expect ?? {}))
      if (!names.includes(k))
        out.push({
          path: ["expect", k],
          message: `no run named "${k}" (runs: ${names.join(", ")})`,
        });
    return out;
  },
  files: (s) => filesOf(s),
  checkFile: (_s, path, bytes) => checkTraceFile(path, bytes),
  run(ctx, step): StepReport {
    const machine = gmemIn(ctx);
    const runs = (step.policies ?? POLICY_NAMES).map((p) =>
      typeof p === "string"
        ? { name: p, policy: p, set: undefined }
        : { name: p.name, policy: p.policy, set: p.set },
    );
    const results: Array<{ name: string; policy: string; r: ReplayResult }> = [];
    for (const run of runs) {
      const set: Record<string, SettingValue> = { ...(step.set ?? {}), ...(run.set ?? {}) };
      const policy = run.policy ?? machine.config.policy.name;
      const g = machine.fresh(policy, set);
      const { cursor, label } = cursorOf(ctx, g, step);
      const r = replay(ctx, g, cursor, label, `${run.name}: `);
      results.push({ name: run.name, policy, r });
      expectCounters(ctx, run.name, step.expect?.[run.name], r.stats);
    }
    const table = compareTable(results.map(({ name, r }) => ({ name, ...r })));
    const first = results[0]!.r;
    return {
      summary: `${groupDigits(first.accesses)} accesses under ${results.map((x) => `${x.name}: ${groupDigits(x.r.stats.deviceFaults)} faults, ${formatDuration(x.r.stats.simulatedTimeNs)}`).join("; ")}`,
      output: {
        runs: results.map(({ name, policy, r }) => ({ name, policy, ...resultJson(r) })),
      },
      tables: [table],
    };
  },
});

const access = defineStep({
  schema: z
    .strictObject({
      op: z.literal("gmem.access"),
      who: objectNameSchema.meta({
        description: "cpu (the process on its CPU) or an accelerator.",
      }),
      access: z.enum(["r", "w", "read", "write"]).meta({ description: "r (read) or w (write)." }),
      va: addressSchema.meta({
        description: "The virtual address: a number, or a mapping plus an offset.",
      }),
      size: sizeSchema
        .optional()
        .meta({ description: "Bytes (default: data's or expect's length, else 8)." }),
      data: dataSchema.optional().meta({ description: "A write's bytes (default zeros)." }),
      expect: dataSchema.optional().meta({ description: "The bytes a read must find." }),
      expectStats: countersExpectSchema
        .optional()
        .meta({ description: "What the access changed: counters of this access alone." }),
    })
    .superRefine((s, ctx) => {
      const write = s.access === "w" || s.access === "write";
      if (write && s.expect !== undefined)
        ctx.addIssue({
          code: "custom",
          path: ["expect"],
          message: "expect is for reads (a write writes data)",
        });
      if (!write && s.data !== undefined)
        ctx.addIssue({
          code: "custom",
          path: ["data"],
          message: "data is for writes (a read checks expect)",
        });
      const len = s.data?.length ?? s.expect?.length;
      if (s.size !== undefined && len !== undefined && s.size !== len)
        ctx.addIssue({
          code: "custom",
          path: ["size"],
          message: `size ${s.size} differs from the ${len} byte(s) given`,
        });
    })
    .meta({
      title: "gmem.access",
      description: "One access by the CPU or an accelerator, faults served on the way.",
    }),
  describe: (s) =>
    `${s.who} ${s.access.startsWith("w") ? "write" : "read"} ${s.size ?? s.data?.length ?? s.expect?.length ?? 8} bytes at ${showAddress(s.va)}`,
  check: (s, m) =>
    checkGmem(m, [
      ["who", "who", s.who],
      ["va", "address", s.va],
    ]),
  run(ctx, step): StepReport {
    const g = gmemIn(ctx);
    const addr = va(g, step.va);
    const size = step.size ?? step.data?.length ?? step.expect?.length ?? 8;
    const write = step.access.startsWith("w");
    const before = { ...g.gmem.stats };
    const t0 = g.cost.timeNs;
    let bytes = new Uint8Array(0);
    g.gmem.access(step.who, write ? "w" : "r", addr, size, step.data, (got) => {
      bytes = new Uint8Array(got); // a copy: reads share their buffer
    });
    g.gmem.flush(); // a device access buffered by fault batching is served now
    const delta: Record<string, number> = { simulatedTimeNs: g.cost.timeNs - t0 };
    for (const k of REPLAY_COUNTERS) delta[k] = g.gmem.stats[k] - before[k];
    if (step.expect !== undefined) {
      const want = step.expect;
      const same = bytes.every((b, i) => b === want[i]);
      const what = `${step.who} read of ${size} bytes at ${hex(addr)}`;
      ctx.expect(
        same,
        same
          ? `${what} = ${hexBytes(want, 32)}`
          : `${what}: expected ${hexBytes(want, 32)}, got ${hexBytes(bytes, 32)}`,
      );
    }
    expectCounters(ctx, "", step.expectStats, delta);
    const changed = REPLAY_COUNTERS.filter((k) => delta[k] !== 0).map(
      (k) => `${k} +${show(k, delta[k]!)}`,
    );
    return {
      summary: `${write ? "wrote" : `read ${hexBytes(bytes, 16)}`}${changed.length > 0 ? `; ${changed.join(", ")}` : "; no fault"} (${formatDuration(delta.simulatedTimeNs!)})`,
      output: {
        who: step.who,
        va: addr,
        size,
        ...(write ? {} : { data: hexBytes(bytes) }),
        stats: delta,
      },
    };
  },
});

const BEHAVIORS: Record<string, MadvBehavior> = {
  PREFETCH: MADV.PREFETCH,
  WILLNEED: MADV.WILLNEED,
  PINNED: MADV.PINNED,
  UNPINNED: MADV.UNPINNED,
  DONTNEED: MADV.DONTNEED,
};

const behaviorSchema = z
  .string()
  .transform((s, ctx): keyof typeof BEHAVIORS => {
    const n = s
      .trim()
      .toUpperCase()
      .replace(/^MADV_/, "");
    if (n in BEHAVIORS) return n;
    ctx.issues.push({
      code: "custom",
      message: `expected a behaviour: ${Object.keys(BEHAVIORS).join(", ")} (MADV_ prefix optional), got ${JSON.stringify(s)}`,
      input: s,
    });
    return z.NEVER;
  })
  .meta({
    description: "PREFETCH, WILLNEED, PINNED, UNPINNED or DONTNEED (MADV_ prefix optional).",
  });

const hnodeShape = {
  device: objectNameSchema
    .optional()
    .meta({ description: "The accelerator whose (first) hnode is meant." }),
  hnid: z
    .number()
    .int()
    .min(-1)
    .optional()
    .meta({ description: "An hnode id (-1: any, for the hints that accept it)." }),
};

const advise = defineStep({
  schema: z
    .strictObject({
      op: z.literal("gmem.advise"),
      ...hnodeShape,
      va: addressSchema.meta({
        description: "The range's start: a number, or a mapping plus an offset.",
      }),
      len: sizeSchema.meta({ description: "The range's length." }),
      behavior: behaviorSchema,
      expect: countSchema.optional().meta({ description: "The pages the call acted on." }),
    })
    .meta({
      title: "gmem.advise",
      description: "hmadvise(hnid, start, len, behavior): prefetch, hints, pinning, eager free.",
    }),
  describe: (s) =>
    `hmadvise ${s.behavior} ${showAddress(s.va)} +${showBytes(s.len)}${s.device !== undefined ? ` on ${s.device}` : ""}`,
  check: (s, m) =>
    checkGmem(m, [
      ["device", "device", s.device],
      ["va", "address", s.va],
    ]),
  run(ctx, step): StepReport {
    const g = gmemIn(ctx);
    const hnid = hnidOf(g, step);
    const before = { ...g.gmem.stats };
    const pages = g.gmem.hmadvise(hnid, va(g, step.va), step.len, BEHAVIORS[step.behavior]!);
    if (step.expect !== undefined)
      ctx.expect(
        pages === step.expect,
        pages === step.expect
          ? `hmadvise ${step.behavior} acted on ${pages} page(s)`
          : `hmadvise ${step.behavior}: expected ${step.expect} page(s), got ${pages}`,
      );
    const changed = REPLAY_COUNTERS.filter((k) => g.gmem.stats[k] !== before[k]).map(
      (k) => `${k} +${show(k, g.gmem.stats[k] - before[k])}`,
    );
    return {
      summary: `${pages} page(s)${changed.length > 0 ? `; ${changed.join(", ")}` : ""}`,
      output: { hnid, pages },
    };
  },
});

const memcpy = defineStep({
  schema: z
    .strictObject({
      op: z.literal("gmem.memcpy"),
      ...hnodeShape,
      dest: addressSchema.meta({ description: "Where to: a number, or a mapping plus an offset." }),
      src: addressSchema.meta({ description: "Where from." }),
      size: sizeSchema.meta({ description: "Bytes." }),
    })
    .meta({
      title: "gmem.memcpy",
      description: "hmemcpy(hnid, dest, src, size) with the hnode's device's engine.",
    }),
  describe: (s) => `hmemcpy ${showBytes(s.size)} ${showAddress(s.src)} -> ${showAddress(s.dest)}`,
  check: (s, m) =>
    checkGmem(m, [
      ["device", "device", s.device],
      ["dest", "address", s.dest],
      ["src", "address", s.src],
    ]),
  run(ctx, step): StepReport {
    const g = gmemIn(ctx);
    const hnid = hnidOf(g, step);
    g.gmem.hmemcpy(hnid, va(g, step.dest), va(g, step.src), step.size);
    return {
      summary: `${showBytes(step.size)} copied (hnode ${hnid})`,
      output: { hnid, size: step.size },
    };
  },
});

const statsExpectSchema = z
  .strictObject({
    ...countersShape,
    deviceFirstTouches: range(countSchema, "NOMAP pages a device fault populated"),
    cpuFirstTouches: range(countSchema, "NOMAP pages a CPU access populated"),
    devicePages: z
      .record(z.string(), range(countSchema, "Pages resident"))
      .optional()
      .meta({ description: "Per accelerator: its pages in use (active)." }),
  })
  .meta({ description: "What the machine's counters must be; each key is one expectation." });

const stats = defineStep({
  schema: z
    .strictObject({ op: z.literal("gmem.stats"), expect: statsExpectSchema.optional() })
    .meta({
      title: "gmem.stats",
      description: "The machine's GMEM counters and simulated time since it was built.",
    }),
  describe: () => "GMEM statistics",
  check: (s, m) => {
    const out = checkGmem(m);
    const g = gmemOf(m);
    for (const d of Object.keys(s.expect?.devicePages ?? {}))
      if (g !== undefined && !g.devices.includes(d))
        out.push({
          path: ["expect", "devicePages", d],
          message: `no accelerator "${d}" in machine.gmem (have: ${g.devices.join(", ") || "none"})`,
        });
    return out;
  },
  run(ctx, step): StepReport {
    const g = gmemIn(ctx);
    const s = { ...g.gmem.stats, simulatedTimeNs: g.cost.timeNs } as Record<string, number>;
    const { devicePages, ...counters } = step.expect ?? {};
    expectCounters(ctx, "", counters, s);
    const pages: Record<string, number> = {};
    for (const d of g.devices)
      pages[d] = [...g.gmem.device(d).registeredHnodes].reduce(
        (n, id) => n + (g.gmem.hnode(id)?.nrActivePages ?? 0),
        0,
      );
    expectCounters(ctx, "devicePages", devicePages, pages);
    return {
      summary: `${groupDigits(s.deviceFaults!)} device faults, ${groupDigits(s.hostFaults!)} host faults, ${groupDigits(s.migrationsToDevice! + s.migrationsToHost!)} migrations, ${groupDigits(s.evictions!)} evictions, ${formatDuration(g.cost.timeNs)} simulated`,
      output: { stats: s, devicePages: pages },
      tables: [
        {
          title: "GMEM statistics",
          head: ["counter", "value"],
          rows: [
            ...REPLAY_COUNTERS.map((k) => [k, showCounter(k, s[k]!)]),
            ["simulatedTimeNs", formatDuration(g.cost.timeNs)],
            ["deviceFirstTouches", groupDigits(s.deviceFirstTouches!)],
            ["cpuFirstTouches", groupDigits(s.cpuFirstTouches!)],
            ...g.devices.map((d) => [`${d} pages`, groupDigits(pages[d]!)]),
          ],
        },
      ],
    };
  },
});

/** The GMEM steps. */
/**
 * A GMEM step for the static check: its named addresses (`va: buf+4K`) name the mappings of
 * `machine.gmem`, which its `check` checks, not names earlier steps bind.
 */
function inGmemSpace(d: StepDefinition): StepDefinition {
  return { ...d, names: () => ({ ownAddresses: true }) };
}

export const gmemSteps: StepModule = {
  name: "gmem",
  namespace: "gmem",
  ops: Object.fromEntries(
    Object.entries({
      "gmem.access": access,
      "gmem.advise": advise,
      "gmem.memcpy": memcpy,
      "gmem.stats": stats,
      "gmem.trace": trace,
      "gmem.compare": compare,
    } as Record<string, StepDefinition>).map(([op, d]) => [op, inGmemSpace(d)]),
  ),
};
