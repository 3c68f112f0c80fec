/**
 * The machine module of physical memory: the memory map (`regions`) and the memory targets
 * allocators draw from (`targets`), as a {@link MachineModule}: their schemas, building them
 * item by item (a refused item is reported at the field its error names), the run's machine
 * summary and statistics of them, and the target checks of `expect`.
 */
import { z } from "zod";

import { fail, isMemweaveError } from "../../../base/errors.js";
import type { RegionKind, RegionSpec } from "../../../phys/memory-map.js";
import type { AllocatorKind, AllocatorSpec, TargetSpec } from "../../../phys/target.js";
import { closest, showSize } from "../format.js";
import type { BuiltMachine, DocPath, StatCheck, StatisticsSubject } from "../machine-module.js";
import { defineMachineModule, fieldPath } from "../machine-module.js";
import type { StoreStatistics, TargetStatistics } from "../statistics.js";
import { compareStat, statisticsTables, targetStatistics } from "../statistics.js";
import type { SizedCount } from "../values.js";
import { objectNameSchema, sizeKeyedCounts, sizeSchema } from "../values.js";

/** A region as a run's machine summary gives it. */
export type RegionSummary = {
  name: string;
  base: number;
  size: number;
  kind: string;
  device?: string;
};

/** A memory target as a run's machine summary gives it. */
export type TargetSummary = {
  name: string;
  allocator: string;
  ranges: Array<{ region: string; base: number; size: number }>;
};

declare module "../machine-summary.js" {
  interface MachineSummary {
    regions: RegionSummary[];
    targets: TargetSummary[];
  }
  interface MachineStatistics {
    targets: TargetStatistics[];
    store: StoreStatistics;
  }
}

const REGION_KIND_VALUES = ["ram", "io", "device-local"] as const satisfies readonly RegionKind[];
const ALLOCATOR_VALUES = [
  "buddy",
  "contiguous",
  "chunk-pool",
] as const satisfies readonly AllocatorKind[];

/** A region of the physical memory map. */
export const regionSchema = z
  .strictObject({
    name: objectNameSchema.meta({ description: "The region's name, unique in the machine." }),
    base: sizeSchema.meta({ description: "The physical base address (4 KiB aligned)." }),
    size: sizeSchema.meta({ description: "The size in bytes (a multiple of 4 KiB)." }),
    kind: z.enum(REGION_KIND_VALUES).meta({
      description:
        "ram: system memory; io: device registers (accesses need a register handler); device-local: memory on a device, addressed physically.",
    }),
    device: objectNameSchema
      .optional()
      .meta({ description: "For device-local regions only: the device the memory sits on." }),
  })
  .superRefine((r, ctx) => {
    if (r.device !== undefined && r.kind !== "device-local")
      ctx.addIssue({
        code: "custom",
        path: ["device"],
        message: `only device-local regions name a device (this region is ${r.kind})`,
      });
  })
  .meta({ title: "Region", description: "A named range of the physical address space." });

const targetRangeSchema = z
  .strictObject({
    region: objectNameSchema.meta({ description: "The region the range lies in." }),
    offset: sizeSchema.optional().meta({ description: "Offset into the region (default 0)." }),
    size: sizeSchema
      .optional()
      .meta({ description: "Bytes of the range (default: the rest of the region)." }),
  })
  .meta({ title: "Target range", description: "A piece of a region a memory target draws on." });

const poolSchema = z
  .strictObject({
    chunk: sizeSchema.meta({ description: "The chunk size (a power of two >= 4K)." }),
    size: sizeSchema.meta({ description: "Bytes of the pool (a multiple of the chunk size)." }),
  })
  .meta({
    title: "Chunk pool",
    description: "A pool of fixed-size chunks of a chunk-pool target.",
  });

/** A memory target: a named pool of physical memory with one allocator kind. */
export const targetSchema = z
  .strictObject({
    name: objectNameSchema.meta({ description: "The target's name, unique in the machine." }),
    allocator: z.enum(ALLOCATOR_VALUES).meta({
      description:
        "buddy: power-of-two, naturally aligned blocks; contiguous: first-fit ranges (genalloc); chunk-pool: the VCMM max-munch allocator over fixed-size chunk pools.",
    }),
    ranges: z
      .array(targetRangeSchema)
      .min(1, { error: "expected at least one range" })
      .meta({ description: "The region ranges the target manages (chunk-pool: exactly one)." }),
    pools: z
      .array(poolSchema)
      .min(1, { error: "expected at least one pool" })
      .optional()
      .meta({ description: "chunk-pool only: the chunk pools, e.g. 1M, 64K and 4K chunks." }),
    contiguous: sizeSchema.optional().meta({
      description: "chunk-pool only: bytes of a pool for physically contiguous requests.",
    }),
  })
  .superRefine((t, ctx) => {
    if (t.allocator !== "chunk-pool") {
      for (const key of ["pools", "contiguous"] as const)
        if (t[key] !== undefined)
          ctx.addIssue({
            code: "custom",
            path: [key],
            message: `${key} are only for chunk-pool targets (this target is ${t.allocator})`,
          });
    } else if (t.pools === undefined && t.contiguous === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["pools"],
        message: "a chunk-pool target needs pools, a contiguous pool, or both",
      });
    }
  })
  .meta({
    title: "Memory target",
    description: "A named pool of memory that allocations draw from.",
  });

/** The target statistics an `expect` step can check. */
const TARGET_CHECKS = {
  totalBytes: { show: "size", description: "Bytes the target manages.", get: (s) => s.totalBytes },
  freeBytes: {
    show: "size",
    description: "Bytes of the target not allocated.",
    get: (s) => s.freeBytes,
  },
  largestFreeBlock: {
    show: "size",
    description: "The largest single piece the target could allocate now.",
    get: (s) => s.largestFreeBlock,
  },
  liveAllocations: {
    show: "count",
    description: "Allocations not yet freed.",
    get: (s) => s.liveAllocations,
  },
  allocCalls: {
    show: "count",
    description: "alloc calls, failed or not.",
    get: (s) => s.allocCalls,
  },
  freeCalls: { show: "count", description: "Successful free calls.", get: (s) => s.freeCalls },
  failedCalls: { show: "count", description: "Failed alloc calls.", get: (s) => s.failedCalls },
} as const satisfies Record<string, StatCheck<TargetStatistics>>;

/**
 * The scenario keys of a target error's field: the model's `allocator.pools` and
 * `allocator.contiguousBytes` are the scenario's `pools` and `contiguous`; a range's error points
 * at the range (its region key when the region is unknown).
 */
function targetKeys(f: Array<string | number>): Array<string | number> {
  if (f[0] === "allocator")
    return f[1] === "pools" ? ["pools"] : f[1] === "contiguousBytes" ? ["contiguous"] : [];
  if (f[0] === "ranges" && typeof f[1] === "number")
    return f[2] === "region" ? ["ranges", f[1], "region"] : ["ranges", f[1]];
  return f.slice(0, 1);
}

/** The machine module of physical memory: regions and memory targets. */
/**
 * Load-time check that the machine has a memory target `name`: ENOENT naming the targets there
 * are, with a suggestion (`sytem`: did you mean "system"?).
 */
export function checkTarget(machine: BuiltMachine, name: string): void {
  const known = machine.platform.targets().map((t) => t.name);
  if (known.includes(name)) return;
  const near = closest(name, known);
  fail(
    "ENOENT",
    `no memory target named "${name}"${near !== undefined ? `, did you mean "${near}"?` : ""} (have: ${known.join(", ") || "none"})`,
  );
}

export const physMachine = defineMachineModule({
  name: "phys",
  shape: {
    regions: z
      .array(regionSchema)
      .min(1, { error: "expected at least one region" })
      .meta({ description: "The physical memory map." }),
    targets: z
      .array(targetSchema)
      .optional()
      .meta({ description: "The memory targets (default: none)." }),
  },
  build(ctx, machine) {
    const platform = ctx.platform;
    machine.regions.forEach((r, i) => {
      try {
        platform.addRegion(regionSpec(r));
      } catch (e) {
        if (!isMemweaveError(e)) throw e;
        ctx.refuse("region", r.name);
        const at: DocPath = ["machine", "regions", i];
        ctx.problem(e.field === "name" ? [...at, "name"] : at, e);
      }
    });
    (machine.targets ?? []).forEach((t, i) => {
      if (t.ranges.some((r) => ctx.refused("region", r.region)))
        return ctx.refuse("target", t.name);
      try {
        platform.addTarget(targetSpec(t));
      } catch (e) {
        if (!isMemweaveError(e)) throw e;
        // A second target of the same name is not refused: the first one stands.
        if (e.field !== "name") ctx.refuse("target", t.name);
        ctx.problem(fieldPath(["machine", "targets", i], e, targetKeys), e);
      }
    });
  },
  summarize: (machine) => {
    const platform = machine.platform;
    return {
      regions: platform.map.regions().map((r) => {
        const region: RegionSummary = { name: r.name, base: r.base, size: r.size, kind: r.kind };
        if (r.device !== undefined) region.device = r.device;
        return region;
      }),
      targets: platform.targets().map((t): TargetSummary => ({
        name: t.name,
        allocator: t.kind,
        ranges: t.ranges.map((r) => ({ region: r.region, base: r.base, size: r.size })),
      })),
    };
  },
  statistics: [
    {
      key: "targets",
      always: true,
      collect: (m) => m.platform.targets().map(targetStatistics),
      collectOne: (m, name) => [targetStatistics(m.platform.target(name))],
      isEmpty: (v) => (v as unknown[]).length === 0,
      tables: (targets: TargetStatistics[]) =>
        targets.length > 0 ? statisticsTables(targets) : [],
      summary: (targets: TargetStatistics[]) =>
        targets.map((t) => `${t.name}: ${showSize(t.freeBytes)} of ${showSize(t.totalBytes)} free`),
    },
    {
      key: "store",
      always: true,
      collect: (m): StoreStatistics => ({ materializedPages: m.platform.store.materializedPages }),
      summary: (s: StoreStatistics) => [
        `${s.materializedPages} page${s.materializedPages === 1 ? "" : "s"} materialized`,
      ],
      summaryLast: true,
    },
  ],
  subjects: [
    {
      key: "target",
      what: "a target",
      description: "The target whose statistics to check.",
      only: "Only this target.",
      checks: TARGET_CHECKS,
      extras: [
        {
          key: "freeChunks",
          schema: sizeKeyedCounts(
            "a chunk size",
            'chunk-pool targets: free chunks per pool, keyed by chunk size, e.g. { "1M": 31, "4K": 2048 }.',
          ),
          describe: (chunks: SizedCount[]) =>
            chunks.map((c) => `${c.count} free ${showSize(c.size)} chunks`),
          check: (chunks: SizedCount[], target, stats: TargetStatistics) =>
            chunks.map((c) => {
              if (stats.pools === undefined)
                fail("EINVAL", `target "${target}" is ${stats.allocator}, not a chunk-pool`);
              const pool =
                stats.pools.find((p) => p.chunkSize === c.size) ??
                fail("ENOENT", `target "${target}" has no pool of ${showSize(c.size)} chunks`);
              return compareStat(
                `${target} free ${showSize(c.size)} chunks`,
                "count",
                c.count,
                pool.freeChunks,
              );
            }),
        },
      ],
      unscoped: [
        {
          key: "materializedPages",
          description: "Store-wide: 4 KiB pages of physical memory that hold written data.",
          describe: (n) => `${n} pages materialized`,
          what: "materialized pages",
          get: (m) => m.platform.store.materializedPages,
        },
      ],
      needsChecks: false,
      reference: checkTarget,
      view: (m, name) => targetStatistics(m.platform.target(name)),
      group: "targets",
    } satisfies StatisticsSubject<TargetStatistics>,
  ],
});

/** The machine section's physical memory after validation (sizes in bytes). */
export type RegionConfig = z.output<typeof regionSchema>;
export type TargetConfig = z.output<typeof targetSchema>;

function regionSpec(r: RegionConfig): RegionSpec {
  const spec: RegionSpec = { name: r.name, base: r.base, size: r.size, kind: r.kind };
  if (r.device !== undefined) spec.device = r.device;
  return spec;
}

function targetSpec(t: TargetConfig): TargetSpec {
  let allocator: AllocatorSpec;
  if (t.allocator === "chunk-pool") {
    allocator = {
      kind: "chunk-pool",
      pools: (t.pools ?? []).map((p) => ({ chunkSize: p.chunk, bytes: p.size })),
    };
    if (t.contiguous !== undefined) allocator.contiguousBytes = t.contiguous;
  } else {
    allocator = { kind: t.allocator };
  }
  return {
    name: t.name,
    allocator,
    ranges: t.ranges.map((r) => {
      const range: TargetSpec["ranges"][number] = { region: r.region };
      if (r.offset !== undefined) range.offset = r.offset;
      if (r.size !== undefined) range.size = r.size;
      return range;
    }),
  };
}
