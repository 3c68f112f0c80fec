/**
 * `memweave gmem replay` and `memweave gmem compare`: a GMEM trace replayed on the built-in
 * platform (src/gmem/replay.ts: one CPU, one accelerator `gpu0` in COHERENT_EXCLUSIVE mode, one
 * peer-shared mapping over every address the trace touches), with the counters, the simulated
 * time and where it went.
 *
 * - `gmem replay TRACE [--device-memory SIZE] [--host-memory SIZE] [--policy gmem|uvm]
 *   [--set KEY=VALUE ...] [--json] [--no-progress]` prints the counters and the time tables, or
 *   one JSON document whose `stats` has exactly the counters and `simulatedTimeNs`.
 * - `gmem compare TRACE [--policy P ...] [same options]` replays the same trace under each policy
 *   (default gmem and uvm), each on a fresh platform, and prints them side by side.
 *
 * TRACE is a CSV or binary trace file (told apart by the binary magic `MWTR`), or a generator:
 * `gen:<kind>,key=value,...` (src/gmem/trace/spec.ts). Exit codes: 0 the replay ran and every
 * read found its value; 1 a read found other bytes, or the model refused an access (out of host
 * memory, say); 2 a bad command line, an unreadable or malformed trace (each problem as
 * file:line: ..., and nothing runs), or an unknown setting.
 *
 * A progress bar goes to stderr when it is a terminal and the trace has 200,000 accesses or more.
 */
import { readFileSync } from "node:fs";

import type { Command } from "@commander-js/extra-typings";
import { InvalidArgumentError, Option } from "@commander-js/extra-typings";

import { hexRange } from "../base/address.js";
import { isMemweaveError } from "../base/errors.js";
import { parseSize } from "../base/size.js";
import type { CostBreakdown } from "../gmem/cost.js";
import type { PolicyName, ReplayMachine, ReplayResult, SettingValue } from "../gmem/replay.js";
import {
  createReplayMachine,
  POLICY_NAMES,
  REPLAY_LAYOUT,
  replayTrace,
  settingKeys,
} from "../gmem/replay.js";
import type { ReplayTable } from "../gmem/replay-report.js";
import {
  compareTable,
  countersTable,
  groupDigits,
  showBytes,
  timeTable,
} from "../gmem/replay-report.js";
import { openTrace, scanBounds } from "../gmem/trace/open.js";
import type { TraceBounds } from "../gmem/trace/spec.js";
import { generateTrace, parseTraceSpec } from "../gmem/trace/spec.js";
import type { TraceCursor } from "../gmem/trace/types.js";
import { painter, reportTable, wantsColor } from "./human.js";

/** What the `gmem` commands need of the CLI. */
export interface GmemIo {
  readonly stdout: { write(text: string): unknown; isTTY?: boolean };
  readonly stderr: { write(text: string): unknown; isTTY?: boolean };
  readonly env: Readonly<Record<string, string | undefined>>;
}

const EXIT = { ok: 0, failed: 1, invalid: 2 } as const;

/** Traces this long or longer get a progress bar on a terminal. */
const PROGRESS_MIN = 200_000;

function parseMemory(value: string): number {
  try {
    return parseSize(value, "size");
  } catch {
    throw new InvalidArgumentError(`expected a size like 512M, 2G or 0x8000_0000, got "${value}"`);
  }
}

function parsePolicy(value: string): PolicyName {
  if (!(POLICY_NAMES as readonly string[]).includes(value))
    throw new InvalidArgumentError(`expected ${POLICY_NAMES.join(" or ")}, got "${value}"`);
  return value as PolicyName;
}

function collectSet(value: string, previous: string[] | undefined): string[] {
  if (!/^[^=\s]+=/.test(value))
    throw new InvalidArgumentError(`expected KEY=VALUE (e.g. farFaultNs=20us), got "${value}"`);
  return [...(previous ?? []), value];
}

/** `--set` words as settings; the last of a key wins. */
function settingsOf(words: readonly string[]): Record<string, SettingValue> {
  const out: Record<string, SettingValue> = {};
  for (const w of words) {
    const eq = w.indexOf("=");
    out[w.slice(0, eq)] = w.slice(eq + 1);
  }
  return out;
}

/** A trace ready to replay: its cursor (rewound before each run) and what it touches. */
interface LoadedTrace {
  readonly label: string;
  readonly format: "csv" | "binary" | "generated";
  readonly cursor: TraceCursor;
  readonly bounds: TraceBounds;
  readonly total: number | undefined;
}

/** Read TRACE (a file or `gen:...`), or the lines that say why not. */
function loadTrace(trace: string): LoadedTrace | { problems: string[] } {
  const device = REPLAY_LAYOUT.device;
  const known = ["cpu", device];
  if (trace.startsWith("gen:")) {
    try {
      const g = generateTrace(parseTraceSpec(trace));
      const who = g.spec.who;
      const names = typeof who === "string" ? [who] : Object.keys(who);
      const bad = names.filter((n) => !known.includes(n));
      if (bad.length > 0)
        return {
          problems: [
            `${trace}: who ${bad.map((n) => `"${n}"`).join(", ")}: the replay platform has ${known.join(" and ")}`,
          ],
        };
      return {
        label: trace,
        format: "generated",
        cursor: g.cursor,
        bounds: g.bounds,
        total: g.cursor.total,
      };
    } catch (e) {
      if (!isMemweaveError(e)) throw e;
      return { problems: [`${trace}: ${e.detail}`] };
    }
  }
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(trace);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EISDIR"
          ? "it is a directory"
          : e instanceof Error
            ? e.message
            : String(e);
    return { problems: [`${trace}: cannot read the trace: ${why}`] };
  }
  const opened = openTrace(bytes, trace, { devices: [device] });
  if (!opened.ok) return { problems: [...opened.lines] };
  const bounds = scanBounds(opened.cursor);
  if (bounds === undefined) return { problems: [`${trace}: the trace has no accesses`] };
  return {
    label: trace,
    format: opened.format,
    cursor: opened.cursor,
    bounds,
    total: opened.total,
  };
}

/** A progress bar on stderr (a terminal only), updated at most every 100 ms. */
function progressBar(io: GmemIo, label: string, total: number | undefined) {
  const show = io.stderr.isTTY === true && (total === undefined || total >= PROGRESS_MIN);
  if (!show) return { update: undefined, done: () => {} };
  let last = 0;
  const width = 30;
  return {
    update: (done: number, all: number | undefined) => {
      const now = performance.now();
      if (now - last < 100 && done !== all) return;
      last = now;
      const frac = all !== undefined && all > 0 ? done / all : 0;
      const fill = Math.round(frac * width);
      const bar =
        all !== undefined
          ? `[${"#".repeat(fill)}${".".repeat(width - fill)}] ${(frac * 100).toFixed(0).padStart(3)}% `
          : "";
      io.stderr.write(
        `\r${label}: ${bar}${groupDigits(done)}${all !== undefined ? `/${groupDigits(all)}` : ""} accesses`,
      );
    },
    done: () => void io.stderr.write("\r\u001b[K"),
  };
}

/** One run of the trace under `policy`; a refused setting or option is an `invalid` string. */
function runOnce(
  io: GmemIo,
  trace: LoadedTrace,
  policy: PolicyName,
  o: { deviceMemory?: number; hostMemory?: number; set: Record<string, SettingValue> },
  progress: boolean,
):
  | { kind: "ran"; machine: ReplayMachine; result: ReplayResult; wallMs: number }
  | { kind: "invalid" | "failed"; message: string } {
  let machine: ReplayMachine;
  try {
    machine = createReplayMachine({
      bounds: trace.bounds,
      policy,
      set: o.set,
      ...(o.deviceMemory !== undefined ? { deviceMemory: o.deviceMemory } : {}),
      ...(o.hostMemory !== undefined ? { hostMemory: o.hostMemory } : {}),
    });
  } catch (e) {
    if (!isMemweaveError(e)) throw e;
    return { kind: "invalid", message: e.detail };
  }
  trace.cursor.rewind();
  const bar = progress
    ? progressBar(io, policy, trace.total)
    : { update: undefined, done: () => {} };
  const t0 = performance.now();
  try {
    const result = replayTrace(machine.gmem, trace.cursor, {
      cost: machine.cost,
      file: trace.label,
      ...(bar.update !== undefined ? { onProgress: bar.update } : {}),
    });
    return { kind: "ran", machine, result, wallMs: performance.now() - t0 };
  } catch (e) {
    if (!isMemweaveError(e)) throw e;
    return { kind: "failed", message: e.detail };
  } finally {
    bar.done();
  }
}

function policyJson(m: ReplayMachine, name: PolicyName) {
  return { name, ...m.policy };
}

function platformJson(m: ReplayMachine) {
  return {
    cpu: REPLAY_LAYOUT.cpu,
    device: REPLAY_LAYOUT.device,
    mode: "COHERENT_EXCLUSIVE",
    deviceMemory: m.deviceMemory,
    hostMemory: m.hostMemory,
    mapping: m.mapping,
  };
}

function timeJson(b: CostBreakdown) {
  return b;
}

function header(trace: LoadedTrace, m: ReplayMachine, policies: string): string {
  const total = trace.total !== undefined ? `${groupDigits(trace.total)} accesses` : "accesses";
  return [
    `GMEM replay of ${trace.label} (${trace.format}, ${total})`,
    `platform: ${REPLAY_LAYOUT.cpu} + ${REPLAY_LAYOUT.device} (COHERENT_EXCLUSIVE), device memory ${showBytes(m.deviceMemory)}, host memory ${showBytes(m.hostMemory)}, mapping ${hexRange(m.mapping.start, m.mapping.size)} (${showBytes(m.mapping.size)}); policy ${policies}`,
  ].join("\n");
}

function tablesText(io: GmemIo, tables: readonly ReplayTable[]): string {
  const paint = painter(wantsColor(io.stdout, io.env));
  return tables.map((t) => reportTable(t, paint)).join("\n\n");
}

const SET_HELP = () => {
  const k = settingKeys();
  return `KEY=VALUE settings (repeatable): cost-model parameters (${k.cost.join(", ")}) and policy switches (${k.policy.join(", ")})`;
};

const TRACE_HELP = `
TRACE is a trace file — CSV (who,op,addr[,size[,value]] a line) or the binary "MWTR" format,
told apart by its magic — or a generator: gen:<kind>,key=value,... with kind sequential,
strided, uniform or hotset and keys start (default 0x10_0000_0000), length, count, hot,
hotStart, hotFraction (0.8), stride, align, writes (share of writes), size (8), seed, who
(gpu0; or weights cpu:1+gpu0:3). Sizes take binary units (4G), counts decimal ones (10M).

The platform: one CPU (cpu0), one accelerator gpu0 with --device-memory of local memory
(default 1 GiB) in COHERENT_EXCLUSIVE mode, --host-memory of host memory (default: the
mapping's size, at least 1 GiB), and one peer-shared mapping over every address the trace
touches, rounded out to 2 MiB (the trace's addresses are virtual addresses in it).`;

/** Add `gmem replay` and `gmem compare` to `program`. */
export function addGmemCommands(
  program: Command,
  io: GmemIo,
  setExit: (code: number) => void,
): void {
  const gmem = program
    .command("gmem")
    .description("GMEM: replay a memory-access trace on a CPU + accelerator platform");

  const common = (c: Command) =>
    c
      .argument("<trace>", "a CSV or binary trace file, or gen:<kind>,key=value,...")
      .addOption(
        new Option("--device-memory <size>", "gpu0's local memory (default 1G)").argParser(
          parseMemory,
        ),
      )
      .addOption(
        new Option(
          "--host-memory <size>",
          "host memory (default: the mapping's size, at least 1G)",
        ).argParser(parseMemory),
      )
      .addOption(new Option("--set <key=value>", SET_HELP()).argParser(collectSet))
      .option("--json", "print one JSON document")
      .option("--no-progress", "no progress bar, even on a terminal");

  const replay = gmem
    .command("replay")
    .description("replay a trace and print the counters and the simulated time")
    .addOption(
      new Option("--policy <name>", "the policy: gmem or uvm (default gmem)").argParser(
        parsePolicy,
      ),
    );
  common(replay)
    .addHelpText(
      "after",
      `${TRACE_HELP}

--json prints one document: trace, format, accesses, reads, writes, platform, policy,
settings, stats (exactly deviceFaults, hostFaults, migrationsToDevice, migrationsToHost,
evictions, prefetchedPages, thrashingEvents, bytesToDevice, bytesToHost, simulatedTimeNs),
time (where the simulated time went), ok and mismatches.

Exit codes: 0 done, every read found its value; 1 a read found other bytes, or an access was
refused; 2 a bad command line, an unreadable or malformed trace (nothing runs), a bad setting.

Examples:
  memweave gmem replay examples/traces/gmem-small.csv
  memweave gmem replay gen:hotset,length=4G,hot=1G,count=1M,writes=0.3,seed=1 --device-memory 2G
  memweave gmem replay trace.bin --policy uvm --set farFaultNs=20us --set linkBandwidth=32GB/s --json`,
    )
    .action((trace: string, options: Record<string, unknown>) => {
      const code = replayAction(io, trace, options, [
        (options.policy as PolicyName | undefined) ?? "gmem",
      ]);
      setExit(code);
    });

  const compare = gmem
    .command("compare")
    .description("replay a trace under several policies and print the counters side by side")
    .addOption(
      new Option("--policy <name>", "a policy to run (repeatable; default gmem and uvm)").argParser(
        (v: string, prev: PolicyName[] | undefined) => [...(prev ?? []), parsePolicy(v)],
      ),
    );
  common(compare)
    .addHelpText(
      "after",
      `${TRACE_HELP}

Each policy runs on a fresh platform. --json prints { trace, format, platform, settings,
runs: [{ policy, accesses, stats, time, ok, mismatches }] }.

Examples:
  memweave gmem compare gen:hotset,length=4G,hot=1G,count=1M,writes=0.3 --device-memory 2G
  memweave gmem compare examples/traces/gmem-small.csv --policy gmem --policy uvm --json`,
    )
    .action((trace: string, options: Record<string, unknown>) => {
      const chosen = (options.policy as PolicyName[] | undefined) ?? [];
      const policies = chosen.length > 0 ? [...new Set(chosen)] : [...POLICY_NAMES];
      setExit(replayAction(io, trace, options, policies, true));
    });
}

function replayAction(
  io: GmemIo,
  traceArg: string,
  options: Record<string, unknown>,
  policies: readonly PolicyName[],
  side = false,
): number {
  const cmd = side ? "memweave gmem compare" : "memweave gmem replay";
  const trace = loadTrace(traceArg);
  if ("problems" in trace) {
    for (const p of trace.problems) io.stderr.write(`${p}\n`);
    return EXIT.invalid;
  }
  const set = settingsOf((options.set as string[] | undefined) ?? []);
  const o = {
    set,
    ...(options.deviceMemory !== undefined ? { deviceMemory: options.deviceMemory as number } : {}),
    ...(options.hostMemory !== undefined ? { hostMemory: options.hostMemory as number } : {}),
  };
  const runs: Array<{
    policy: PolicyName;
    machine: ReplayMachine;
    result: ReplayResult;
    wallMs: number;
  }> = [];
  for (const policy of policies) {
    const r = runOnce(io, trace, policy, o, options.progress !== false);
    if (r.kind !== "ran") {
      io.stderr.write(`${cmd}: ${r.message}\n`);
      return r.kind === "invalid" ? EXIT.invalid : EXIT.failed;
    }
    runs.push({ policy, ...r });
  }
  const ok = runs.every((r) => r.result.ok);
  const first = runs[0]!;
  if (options.json === true) {
    const runJson = (r: (typeof runs)[number]) => ({
      policy: policyJson(r.machine, r.policy),
      accesses: r.result.accesses,
      reads: r.result.reads,
      writes: r.result.writes,
      stats: r.result.stats,
      time: timeJson(r.result.breakdown),
      ok: r.result.ok,
      mismatches: r.result.mismatches,
      mismatchCount: r.result.mismatchCount,
    });
    const doc = side
      ? {
          trace: trace.label,
          format: trace.format,
          platform: platformJson(first.machine),
          settings: set,
          ok,
          runs: runs.map(runJson),
        }
      : (() => {
          const { policy, ...rest } = runJson(first);
          return {
            trace: trace.label,
            format: trace.format,
            platform: platformJson(first.machine),
            policy,
            settings: set,
            ...rest,
          };
        })();
    io.stdout.write(JSON.stringify(doc, null, 2) + "\n");
  } else {
    const lines = [header(trace, first.machine, policies.join(", ")), ""];
    if (side)
      lines.push(
        tablesText(io, [
          compareTable(
            runs.map((r) => ({
              name: r.policy,
              ...r.result,
            })),
          ),
        ]),
      );
    else
      lines.push(tablesText(io, [countersTable(first.result), timeTable(first.result.breakdown)]));
    for (const r of runs) {
      for (const m of r.result.mismatches) lines.push(`mismatch: ${m.message}`);
      if (r.result.mismatchCount > r.result.mismatches.length)
        lines.push(
          `... and ${r.result.mismatchCount - r.result.mismatches.length} more mismatches`,
        );
    }
    const wall = runs
      .map(
        (r) =>
          `${r.policy} ${(r.wallMs / 1000).toFixed(2)} s (${groupDigits(Math.round(r.result.accesses / Math.max(r.wallMs / 1000, 1e-9)))} accesses/s)`,
      )
      .join(", ");
    lines.push("", `wall time: ${wall}`, "");
    io.stdout.write(lines.join("\n"));
  }
  return ok ? EXIT.ok : EXIT.failed;
}
