/**
 * Statistics of physical memory as plain JSON data: per memory target (with the pools of
 * chunk-pool targets) and of the byte store, their tables for people, and the comparison every
 * `expect` check makes. The physical-memory machine module (`machine/phys.ts`) reports them;
 * other modules report their own.
 */
import type { MemoryTarget } from "../../phys/target.js";
import { showSize } from "./format.js";
import type { StatResult, StatShow } from "./machine-module.js";
import type { ReportTable } from "./step-module.js";

/** One pool of fixed-size chunks of a chunk-pool target. */
export type PoolStatistics = {
  chunkSize: number;
  chunks: number;
  freeChunks: number;
};

/** A memory target's statistics. */
export type TargetStatistics = {
  name: string;
  allocator: string;
  totalBytes: number;
  freeBytes: number;
  largestFreeBlock: number;
  liveAllocations: number;
  allocCalls: number;
  freeCalls: number;
  failedCalls: number;
  /** chunk-pool targets: the pools, largest chunks first. */
  pools?: PoolStatistics[];
  /** chunk-pool targets with a contiguous pool: its bytes. */
  contiguousPool?: { totalBytes: number; freeBytes: number; largestFreeBlock: number };
};

/** The byte store's statistics. */
export type StoreStatistics = {
  /** 4 KiB pages that hold written data. */
  materializedPages: number;
};

/** The statistics of one target. */
export function targetStatistics(target: MemoryTarget): TargetStatistics {
  const s = target.stats();
  const out: TargetStatistics = {
    name: target.name,
    allocator: target.kind,
    totalBytes: s.totalBytes,
    freeBytes: s.freeBytes,
    largestFreeBlock: s.largestFreeBlock,
    liveAllocations: s.liveAllocations,
    allocCalls: s.allocCalls,
    freeCalls: s.freeCalls,
    failedCalls: s.failedCalls,
  };
  const pool = target.chunkPool;
  if (pool !== undefined) {
    out.pools = pool
      .poolStats()
      .map((p) => ({ chunkSize: p.chunkSize, chunks: p.chunks, freeChunks: p.free }));
    if (pool.contiguous !== undefined)
      out.contiguousPool = {
        totalBytes: pool.contiguous.size,
        freeBytes: pool.contiguous.freeBytes,
        largestFreeBlock: pool.contiguous.largestFreeBlock(),
      };
  }
  return out;
}

/** The outcome of comparing a statistic with what an `expect` step wants. */
export function compareStat(what: string, show: StatShow, want: number, got: number): StatResult {
  const showAs = (n: number) => (show === "size" ? showSize(n) : String(n));
  return {
    passed: got === want,
    message:
      got === want
        ? `${what} = ${showAs(want)}`
        : `${what}: expected ${showAs(want)}, got ${showAs(got)}`,
  };
}

/** Tables for people: one row per target, then the pools of each chunk-pool target. */
export function statisticsTables(targets: readonly TargetStatistics[]): ReportTable[] {
  const tables: ReportTable[] = [
    {
      title: "Memory targets",
      head: [
        "target",
        "allocator",
        "total",
        "free",
        "largest free",
        "live",
        "allocs",
        "frees",
        "failed",
      ],
      rows: targets.map((t) => [
        t.name,
        t.allocator,
        showSize(t.totalBytes),
        showSize(t.freeBytes),
        showSize(t.largestFreeBlock),
        String(t.liveAllocations),
        String(t.allocCalls),
        String(t.freeCalls),
        String(t.failedCalls),
      ]),
    },
  ];
  for (const t of targets) {
    if (t.pools === undefined) continue;
    const rows = t.pools.map((p) => [
      `${showSize(p.chunkSize)} chunks`,
      showSize(p.chunks * p.chunkSize),
      String(p.chunks),
      String(p.freeChunks),
      showSize(p.freeChunks * p.chunkSize),
    ]);
    if (t.contiguousPool !== undefined)
      rows.push([
        "contiguous",
        showSize(t.contiguousPool.totalBytes),
        "-",
        "-",
        showSize(t.contiguousPool.freeBytes),
      ]);
    tables.push({
      title: `Pools of ${t.name}`,
      head: ["pool", "size", "chunks", "free chunks", "free"],
      rows,
    });
  }
  return tables;
}
