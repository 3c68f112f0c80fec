/**
 * The benchmark harness behind `npm run bench`.
 *
 * A `*.bench.ts` file beside the code registers cases with {@link benchCase} (timed with mitata's
 * `measure`; `ops` says how many operations one call performs, so figures are per operation) or
 * {@link memoryCase} (heap bytes retained by a built structure, measured after a forced GC).
 * Each case names its target from the issue; the run prints one line per case with the measured
 * figure, the target and whether it is met, and can write the results as JSON.
 */
import { do_not_optimize, measure } from "mitata";

export interface TimeCase {
  kind: "time";
  name: string;
  /** Target in nanoseconds per operation (with `relativeTo`: unused, give 0). */
  targetNs: number;
  /**
   * A target relative to another case measured in the same run: at most `factor` times its
   * figure (the other case must run first; with a filter that skips it, the absolute target
   * applies).
   */
  relativeTo?: { name: string; factor: number };
  /** Operations one call of `fn` performs. */
  ops?: number;
  /** Builds the state once; `fn` is then timed. */
  setup: () => () => unknown;
}

export interface MemoryCase {
  kind: "memory";
  name: string;
  /** Target in bytes. */
  targetBytes: number;
  /** Builds the structure and returns it (kept alive while measuring). */
  build: () => unknown;
  /** Bytes to leave out of the figure (e.g. table pages the issue does not count). */
  exclude?: (built: unknown) => number;
}

export type Case = TimeCase | MemoryCase;

const cases: Case[] = [];

export function benchCase(c: Omit<TimeCase, "kind">): void {
  cases.push({ kind: "time", ...c });
}

export function memoryCase(c: Omit<MemoryCase, "kind">): void {
  cases.push({ kind: "memory", ...c });
}

export interface Result {
  name: string;
  unit: "ns/op" | "MiB";
  value: number;
  p50?: number;
  /** The fastest sample: the figure least moved by a noisy machine. */
  min?: number;
  target: number;
  met: boolean;
  /** How a relative target was derived. */
  note?: string;
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error("run with --expose-gc (npm run bench does)");
  g();
  g();
}

function usedBytes(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

export async function runCases(filter?: RegExp): Promise<Result[]> {
  const results: Result[] = [];
  // Memory cases first: garbage left by timing cases would skew a heap measurement.
  const ordered = [
    ...cases.filter((c) => c.kind === "memory"),
    ...cases.filter((c) => c.kind === "time"),
  ];
  for (const c of ordered) {
    if (filter && !filter.test(c.name)) continue;
    if (c.kind === "time") {
      const fn = c.setup();
      const ops = c.ops ?? 1;
      const stats = await measure(() => do_not_optimize(fn()), { min_cpu_time: 500e6 });
      const value = stats.avg / ops;
      const base = c.relativeTo && results.find((r) => r.name === c.relativeTo!.name);
      const target = base ? base.value * c.relativeTo!.factor : c.targetNs;
      results.push({
        name: c.name,
        unit: "ns/op",
        value,
        p50: stats.p50 / ops,
        min: stats.min / ops,
        target,
        met: value <= target,
        ...(base ? { note: `${c.relativeTo!.factor} x "${base.name.slice(0, 40)}…"` } : {}),
      });
    } else {
      gc();
      const before = usedBytes();
      const built = c.build();
      gc();
      const bytes = usedBytes() - before - (c.exclude?.(built) ?? 0);
      do_not_optimize(built);
      const mib = bytes / (1024 * 1024);
      results.push({
        name: c.name,
        unit: "MiB",
        value: mib,
        target: c.targetBytes / (1024 * 1024),
        met: bytes <= c.targetBytes,
      });
    }
    const r = results[results.length - 1]!;
    const fmt = (x: number) =>
      r.unit === "MiB" ? x.toFixed(2) : x < 10 ? x.toFixed(2) : x.toFixed(1);
    console.log(
      `${r.met ? "ok  " : "MISS"} ${r.name.padEnd(70)} ${fmt(r.value).padStart(9)} ${r.unit.padEnd(5)} (target <= ${fmt(r.target)}${r.note ? ` = ${r.note}` : ""}${r.p50 !== undefined ? `, p50 ${fmt(r.p50)}` : ""}${r.min !== undefined ? `, min ${fmt(r.min)}` : ""})`,
    );
  }
  return results;
}
