/**
 * Statistics of a machine, as plain JSON data: per memory target (with the pools of chunk-pool
 * targets), of the byte store, and — when the machine has them — of its devices and page
 * tables (`machine/translation-report.ts`). Used by the `stats` and `expect` steps and by the
 * runner's final report.
 */
import type { Platform } from "../../devices/platform.js";
import type { MemoryTarget } from "../../phys/target.js";
import { showSize } from "./format.js";
import type { DeviceStatistics, PageTableStatistics } from "./machine/translation-report.js";
import { devicesStatistics, pageTablesStatistics } from "./machine/translation-report.js";
import type { BuiltMachine } from "./machine-module.js";
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

/** The statistics of every target, in the order the machine declares them, and of the store. */
export function platformStatistics(platform: Platform): {
  targets: TargetStatistics[];
  store: StoreStatistics;
} {
  return {
    targets: platform.targets().map(targetStatistics),
    store: { materializedPages: platform.store.materializedPages },
  };
}

/** Everything a run's final statistics hold; devices and page tables only when there are some. */
export type MachineStatistics = {
  targets: TargetStatistics[];
  store: StoreStatistics;
  devices?: DeviceStatistics[];
  pageTables?: PageTableStatistics[];
};

/** The statistics of a whole machine. */
export function machineStatistics(machine: BuiltMachine): MachineStatistics {
  const out: MachineStatistics = platformStatistics(machine.platform);
  const devices = devicesStatistics(machine.platform);
  const pageTables = pageTablesStatistics(machine.objects);
  if (devices.length > 0) out.devices = devices;
  if (pageTables.length > 0) out.pageTables = pageTables;
  return out;
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
