/**
 * Replay results as tables for people: the counters, where the simulated time went, and several
 * runs side by side (one column per policy). Plain data — a title, a head and rows of text, the
 * shape of a scenario's report table — so the CLI and the scenario steps print the same thing.
 * Deterministic.
 */
import type { CostBreakdown } from "./cost.js";
import { formatDuration } from "./cost.js";
import type { ReplayCounter, ReplayStats } from "./replay.js";
import { REPLAY_COUNTERS } from "./replay.js";
import { checkArray, checkObject } from "../base/validate.js";

/** A table for people: cells are text. */
export interface ReplayTable {
  readonly title: string;
  readonly head: readonly string[];
  readonly rows: ReadonlyArray<readonly string[]>;
}

/** A replay's figures, as the tables need them. */
export interface ReplaySummary {
  readonly accesses: number;
  readonly reads: number;
  readonly writes: number;
  readonly stats: ReplayStats;
  readonly breakdown: CostBreakdown;
}

/** 1234567 -> `1,234,567` (integers; others keep two decimals). */
export function groupDigits(n: number): string {
  const neg = n < 0;
  const abs = Math.abs(n);
  const whole = Math.trunc(abs);
  const frac = abs - whole;
  const s = String(whole).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const out = frac > 0 ? `${s}${(Math.round(frac * 100) / 100).toFixed(2).slice(1)}` : s;
  return neg ? `-${out}` : out;
}

/** Bytes for people: `2 MiB`, `1.5 GiB` (and the exact count for small numbers). */
export function showBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${Number(v.toFixed(2))} ${units[i]}`;
}

const BYTE_COUNTERS = new Set<ReplayCounter>(["bytesToDevice", "bytesToHost"]);

/** One counter's value as text. */
export function showCounter(key: ReplayCounter | "simulatedTimeNs", value: number): string {
  if (key === "simulatedTimeNs") return formatDuration(value);
  if (BYTE_COUNTERS.has(key)) return `${showBytes(value)} (${groupDigits(value)})`;
  return groupDigits(value);
}

/** The counters of one replay: accesses, then the counters, then the simulated time. */
export function countersTable(r: ReplaySummary, title = "GMEM counters"): ReplayTable {
  checkObject("countersTable", "summary", r);
  return {
    title,
    head: ["counter", "value"],
    rows: [
      [
        "accesses",
        `${groupDigits(r.accesses)} (${groupDigits(r.reads)} r, ${groupDigits(r.writes)} w)`,
      ],
      ...REPLAY_COUNTERS.map((k) => [k, showCounter(k, r.stats[k])]),
      [
        "simulatedTimeNs",
        `${formatDuration(r.stats.simulatedTimeNs)} (${groupDigits(Math.round(r.stats.simulatedTimeNs))} ns)`,
      ],
    ],
  };
}

function share(part: number, total: number): string {
  return total > 0 ? `${((100 * part) / total).toFixed(1)}%` : "-";
}

/** Where one replay's simulated time went: faults, walks, migrations (per link), accesses. */
export function timeTable(b: CostBreakdown, title = "Simulated time"): ReplayTable {
  checkObject("timeTable", "breakdown", b);
  const c = b.counts;
  const rows: string[][] = [
    [
      "far faults",
      formatDuration(b.faultsNs),
      share(b.faultsNs, b.totalNs),
      groupDigits(c.farFaults),
    ],
    ["page walks", formatDuration(b.walksNs), share(b.walksNs, b.totalNs), groupDigits(c.walks)],
    [
      "migrations",
      formatDuration(b.migrationsNs),
      share(b.migrationsNs, b.totalNs),
      groupDigits(c.migrations),
    ],
  ];
  for (const [name, l] of Object.entries(b.migrationByLink).sort(([x], [y]) => (x < y ? -1 : 1)))
    rows.push([
      `  ${name}`,
      formatDuration(l.ns),
      share(l.ns, b.totalNs),
      `${groupDigits(l.count)} (${showBytes(l.bytes)})`,
    ]);
  rows.push(
    [
      "remote accesses",
      formatDuration(b.remoteNs),
      share(b.remoteNs, b.totalNs),
      groupDigits(c.remoteAccesses),
    ],
    [
      "local accesses",
      formatDuration(b.localNs),
      share(b.localNs, b.totalNs),
      groupDigits(c.localAccesses),
    ],
    ["total", formatDuration(b.totalNs), share(b.totalNs, b.totalNs), ""],
  );
  return { title, head: ["part", "time", "share", "events"], rows };
}

/**
 * Several replays side by side, one column each (`name` heads it): accesses, every counter, the
 * simulated time and its parts.
 */
export function compareTable(
  runs: ReadonlyArray<{ readonly name: string } & ReplaySummary>,
  title = "GMEM policies side by side",
): ReplayTable {
  checkArray("compareTable", "runs", runs).forEach((r, i) =>
    checkObject("compareTable", `runs.${i}`, r),
  );
  const row = (label: string, f: (r: ReplaySummary) => string) => [label, ...runs.map(f)];
  return {
    title,
    head: ["counter", ...runs.map((r) => r.name)],
    rows: [
      row("accesses", (r) => groupDigits(r.accesses)),
      ...REPLAY_COUNTERS.map((k) => row(k, (r) => showCounter(k, r.stats[k]))),
      row("simulatedTimeNs", (r) => formatDuration(r.stats.simulatedTimeNs)),
      row("  far faults", (r) => formatDuration(r.breakdown.faultsNs)),
      row("  migrations", (r) => formatDuration(r.breakdown.migrationsNs)),
      row("  page walks", (r) => formatDuration(r.breakdown.walksNs)),
      row("  accesses", (r) => formatDuration(r.breakdown.remoteNs + r.breakdown.localNs)),
    ],
  };
}
