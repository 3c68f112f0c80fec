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

/**
 * A workload measured against the native reference (bench/native/translate.c) in the same run:
 * rounds alternate between memweave's side and the native program's, and the figure is the
 * ratio of the two medians. Without a C compiler the case reports memweave's figure against
 * `targetNs` alone.
 */
export interface NativeCase {
  kind: "native";
  name: string;
  /** The native program's workload (`translate W2 <ops>`). */
  workload: string;
  /** Operations per round, on both sides. */
  ops: number;
  /** The target: memweave's time per operation at most this many times native's. */
  targetRatio: number;
  /** The absolute target when there is no native figure (no compiler). */
  targetNs: number;
  /**
   * Builds memweave's side once; `round()` performs `ops` operations and returns the
   * nanoseconds its timed part took (setup and teardown of a round left out); `check` runs after
   * every round, outside the timed part, with the native round's counts when there is one:
   * it throws if the counts differ from what the workload's distribution implies.
   */
  setup: () => { round(): number; check(native: NativeFigures | undefined): void };
}

/** What a native round printed. */
export interface NativeFigures {
  readonly workload: string;
  readonly nsPerOp: number;
  readonly ops: number;
  readonly checksum: number;
  readonly [count: string]: number | string;
}

/** Runs one native round of a workload; undefined when there is no native program. */
export type NativeRunner = (workload: string, ops: number) => NativeFigures | undefined;

export type Case = TimeCase | MemoryCase | NativeCase;

/**
 * The process's CPU time in nanoseconds (user + system; the native side reads
 * CLOCK_PROCESS_CPUTIME_ID): another job on a shared machine does not move a native case's
 * round, and the garbage collector's and compiler's threads count against memweave.
 */
export function nowNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

/** Throw unless `got` equals `want`: a count the workload's definition implies. */
export function expectCount(what: string, got: number, want: number): void {
  if (got !== want) throw new Error(`${what}: ${got}, expected ${want}`);
}

/** Throw unless memweave's round and the native one did the same operations. */
export function expectSameWork(checksum: number, native: NativeFigures | undefined): void {
  if (native !== undefined && native.checksum <= Number.MAX_SAFE_INTEGER)
    expectCount(`checksum against native ${native.workload}`, checksum, native.checksum);
}

const cases: Case[] = [];

export function benchCase(c: Omit<TimeCase, "kind">): void {
  cases.push({ kind: "time", ...c });
}

export function nativeCase(c: Omit<NativeCase, "kind">): void {
  cases.push({ kind: "native", ...c });
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
  /** Native cases: the native median in the same run, and memweave's ratio to it. */
  native?: number;
  ratio?: number;
}

/** Rounds of each side in a native comparison. */
const NATIVE_ROUNDS = 7;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

function runNative(c: NativeCase, native: NativeRunner): Result {
  const side = c.setup();
  side.round(); // warm-up: the first round compiles the hot path
  side.check(undefined);
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let r = 0; r < NATIVE_ROUNDS; r++) {
    ours.push(side.round() / c.ops);
    const n = native(c.workload, c.ops);
    side.check(n);
    if (n !== undefined) theirs.push(n.nsPerOp);
  }
  const value = median(ours);
  const nativeNs = theirs.length > 0 ? median(theirs) : undefined;
  const ratio = nativeNs !== undefined ? value / nativeNs : undefined;
  return {
    name: c.name,
    unit: "ns/op",
    value,
    p50: value,
    min: Math.min(...ours),
    target: nativeNs !== undefined ? nativeNs * c.targetRatio : c.targetNs,
    met: ratio !== undefined ? ratio <= c.targetRatio : value <= c.targetNs,
    ...(nativeNs !== undefined ? { native: nativeNs, ratio } : {}),
    note: nativeNs !== undefined ? `${c.targetRatio} x native` : "no native reference",
  };
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

export async function runCases(
  filter?: RegExp,
  native: NativeRunner = () => undefined,
): Promise<Result[]> {
  const results: Result[] = [];
  // Memory cases first: garbage left by timing cases would skew a heap measurement.
  const ordered = [
    ...cases.filter((c) => c.kind === "memory"),
    ...cases.filter((c) => c.kind !== "memory"),
  ];
  for (const c of ordered) {
    if (filter && !filter.test(c.name)) continue;
    if (c.kind === "native") {
      results.push(runNative(c, native));
    } else if (c.kind === "time") {
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
    if (r.ratio !== undefined) {
      console.log(
        `${r.met ? "ok  " : "MISS"} ${r.name.padEnd(70)} ${fmt(r.value).padStart(9)} ns/op  native ${fmt(r.native!)} ns/op  ratio ${r.ratio.toFixed(2)} (target <= ${c.kind === "native" ? c.targetRatio : "?"}, min ${fmt(r.min!)})`,
      );
      continue;
    }
    console.log(
      `${r.met ? "ok  " : "MISS"} ${r.name.padEnd(70)} ${fmt(r.value).padStart(9)} ${r.unit.padEnd(5)} (target <= ${fmt(r.target)}${r.note ? ` = ${r.note}` : ""}${r.p50 !== undefined ? `, p50 ${fmt(r.p50)}` : ""}${r.min !== undefined ? `, min ${fmt(r.min)}` : ""})`,
    );
  }
  return results;
}
