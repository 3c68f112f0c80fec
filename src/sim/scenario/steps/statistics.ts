/**
 * The steps that check and report the statistics of the machine, whatever system they belong
 * to: memory targets and the byte store, devices (accesses, TLBs, translation contexts) and
 * page tables.
 *
 * | op     | fields                                                                          |
 * | ------ | ------------------------------------------------------------------------------- |
 * | expect | target + totalBytes/freeBytes/…/freeChunks; materializedPages;                  |
 * |        | device + reads/writes/faults/tlbHits/tlbMisses/tlbEntries/…/walks/descriptorReads; |
 * |        | table + tables/tableBytes/leaves/mappedBytes/maps/unmaps/protects/splits/flushes |
 * | stats  | target?, device?, table? (none: everything)                                     |
 *
 * Each key an `expect` checks is one expectation. Everything a step names is looked up before
 * any expectation is recorded, so an unknown target, device or table fails the step cleanly.
 */
import { z } from "zod";

import { fail } from "../../../base/errors.js";
import { parseSize } from "../../../base/size.js";
import type { Platform } from "../../../devices/platform.js";
import { showSize, showValue } from "../format.js";
import type { DeviceStatistics, PageTableStatistics } from "../machine/translation-report.js";
import {
  deviceStatistics,
  pageTableStatistics,
  pageTablesStatistics,
  devicesStatistics,
  tlbStatistics,
  translationTables,
} from "../machine/translation-report.js";
import { checkReferences, deviceNamed, PAGE_TABLE, tlbOf } from "../machine/translation.js";
import type { TargetStatistics } from "../statistics.js";
import { platformStatistics, statisticsTables, targetStatistics } from "../statistics.js";
import type { StepModule } from "../step-module.js";
import { defineStep } from "../step-module.js";
import { countSchema, objectNameSchema, sizeSchema } from "../values.js";

/** How a checked value is shown: as a size (`32 MiB`) or a count. */
type Show = "size" | "count";

interface Check<S> {
  readonly show: Show;
  readonly description: string;
  get(stats: S): number;
}

/** What the device checks read: the device's statistics and the TLB it uses. */
interface DeviceView {
  readonly stats: DeviceStatistics;
  readonly tlb: ReturnType<typeof tlbStatistics> | undefined;
}

function accesses(d: DeviceView, key: string): NonNullable<DeviceStatistics["accesses"]> {
  return (
    d.stats.accesses ??
    fail(
      "EINVAL",
      `device "${d.stats.name}" is a ${d.stats.kind}: it makes no accesses (${key} counts a bus master's)`,
    )
  );
}

function tlb(d: DeviceView, key: string): NonNullable<DeviceView["tlb"]> {
  return (
    d.tlb ??
    fail("EINVAL", `device "${d.stats.name}" is a ${d.stats.kind}: it has no TLB (for ${key})`)
  );
}

function contexts(d: DeviceView, key: string): Array<{ walks: number; descriptorReads: number }> {
  if (d.stats.context !== undefined) return [d.stats.context];
  if (d.stats.contexts !== undefined) return d.stats.contexts;
  return fail(
    "EINVAL",
    `device "${d.stats.name}" is a ${d.stats.kind}: it does not translate (for ${key})`,
  );
}

const sum = <T>(xs: readonly T[], f: (x: T) => number) => xs.reduce((n, x) => n + f(x), 0);

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
} as const satisfies Record<string, Check<TargetStatistics>>;

/** The device statistics an `expect` step can check. */
const DEVICE_CHECKS = {
  reads: {
    show: "count",
    description: "Bus masters: reads (instruction fetches included) that completed.",
    get: (d) => accesses(d, "reads").reads,
  },
  writes: {
    show: "count",
    description: "Bus masters: writes that completed.",
    get: (d) => accesses(d, "writes").writes,
  },
  faults: {
    show: "count",
    description: "Bus masters: translation faults their accesses met.",
    get: (d) => accesses(d, "faults").faults,
  },
  tlbHits: {
    show: "count",
    description:
      "Bus masters: translations of their accesses the TLB served (translate probes not counted); an SMMU: hits of its TLB.",
    get: (d) => d.stats.accesses?.tlbHits ?? tlb(d, "tlbHits").hits,
  },
  tlbMisses: {
    show: "count",
    description:
      "Bus masters: translations of their accesses that missed the TLB (and walked); an SMMU: misses of its TLB.",
    get: (d) => d.stats.accesses?.tlbMisses ?? tlb(d, "tlbMisses").misses,
  },
  tlbEntries: {
    show: "count",
    description: "Valid entries now in the TLB the device uses (an SMMU's masters: the SMMU's).",
    get: (d) => tlb(d, "tlbEntries").valid,
  },
  tlbEvictions: {
    show: "count",
    description: "Entries that TLB's replacement policy displaced.",
    get: (d) => tlb(d, "tlbEvictions").evictions,
  },
  tlbInvalidated: {
    show: "count",
    description: "Entries invalidations removed from that TLB (page-table changes, tlbi).",
    get: (d) => tlb(d, "tlbInvalidated").invalidatedEntries,
  },
  walks: {
    show: "count",
    description:
      "Table walks of the device's translation context (an SMMU master: its context bank; an SMMU: all of them).",
    get: (d) => sum(contexts(d, "walks"), (c) => c.walks),
  },
  descriptorReads: {
    show: "count",
    description: "Descriptors those walks read (a nested walk reads stage-2 descriptors too).",
    get: (d) => sum(contexts(d, "descriptorReads"), (c) => c.descriptorReads),
  },
} as const satisfies Record<string, Check<DeviceView>>;

/** The page-table statistics an `expect` step can check. */
const TABLE_CHECKS = {
  tables: { show: "count", description: "Tables now, the root included.", get: (t) => t.tables },
  tableBytes: {
    show: "size",
    description: "Bytes of those tables, as the format sizes them.",
    get: (t) => t.tableBytes,
  },
  mappedBytes: {
    show: "size",
    description: "Bytes of input address space mapped now.",
    get: (t) => t.mappedBytes,
  },
  maps: { show: "count", description: "map operations that succeeded.", get: (t) => t.maps },
  unmaps: { show: "count", description: "unmap operations.", get: (t) => t.unmaps },
  protects: { show: "count", description: "protect operations.", get: (t) => t.protects },
  splits: {
    show: "count",
    description: "Leaves split into smaller ones (by a partial unmap or protect).",
    get: (t) => t.splits,
  },
  flushes: {
    show: "count",
    description: "Range invalidations the table sent to the TLBs.",
    get: (t) => t.flushes,
  },
} as const satisfies Record<string, Check<PageTableStatistics>>;

type Checks<S> = Readonly<Record<string, Check<S>>>;

/** The optional schema keys of a group of checks. */
function checkShape<K extends string>(
  checks: Readonly<Record<K, Check<never>>>,
): { [k in K]: z.ZodOptional<z.ZodType<number, unknown>> } {
  const shape: Record<string, z.ZodOptional<z.ZodType<number, unknown>>> = {};
  for (const [key, c] of Object.entries<Check<never>>(checks))
    shape[key] = (c.show === "size" ? sizeSchema : countSchema)
      .optional()
      .meta({ description: c.description });
  return shape as { [k in K]: z.ZodOptional<z.ZodType<number, unknown>> };
}

/** A map keyed by sizes (`{ "1M": 31, "4K": 2048 }`), as a list of `{ size, count }`. */
function sizeKeyedCounts(what: string, description: string) {
  return z
    .record(z.string(), countSchema)
    .transform((record, ctx) => {
      const out: Array<{ size: number; count: number }> = [];
      for (const [key, count] of Object.entries(record)) {
        try {
          out.push({ size: parseSize(key), count });
        } catch {
          ctx.issues.push({
            code: "custom",
            path: [key],
            message: `expected ${what} like 1M or 64K as the key, got ${showValue(key)}`,
            input: key,
          });
        }
      }
      return out;
    })
    .meta({ description });
}

const targetName = objectNameSchema.meta({ description: "The name of a memory target." });

const keysOf = <C extends object>(checks: C) => Object.keys(checks) as Array<keyof C & string>;
const TARGET_KEYS = keysOf(TARGET_CHECKS);
const DEVICE_KEYS = keysOf(DEVICE_CHECKS);
const TABLE_KEYS = keysOf(TABLE_CHECKS);

const expectSchema = z
  .strictObject({
    op: z.literal("expect"),
    target: targetName.optional().meta({ description: "The target whose statistics to check." }),
    ...checkShape(TARGET_CHECKS),
    freeChunks: sizeKeyedCounts(
      "a chunk size",
      'chunk-pool targets: free chunks per pool, keyed by chunk size, e.g. { "1M": 31, "4K": 2048 }.',
    ).optional(),
    materializedPages: countSchema.optional().meta({
      description: "Store-wide: 4 KiB pages of physical memory that hold written data.",
    }),
    device: objectNameSchema.optional().meta({
      description: "The device (CPU, SMMU, master, accelerator…) whose statistics to check.",
    }),
    ...checkShape(DEVICE_CHECKS),
    table: objectNameSchema
      .optional()
      .meta({ description: "The page table whose statistics to check." }),
    ...checkShape(TABLE_CHECKS),
    leaves: sizeKeyedCounts(
      "a page size",
      'Leaves of the table now, keyed by size, e.g. { "4K": 16, "2M": 1 }; sizes not given are not checked.',
    ).optional(),
  })
  .superRefine((step, ctx) => {
    const groups = [
      {
        owner: "target" as const,
        keys: [...TARGET_KEYS, "freeChunks"] as const,
        what: "a target",
      },
      { owner: "device" as const, keys: DEVICE_KEYS, what: "a device" },
      { owner: "table" as const, keys: [...TABLE_KEYS, "leaves"] as const, what: "a page table" },
    ];
    let checked = step.materializedPages !== undefined;
    for (const g of groups) {
      const given = g.keys.filter((k) => step[k] !== undefined);
      if (given.length > 0) checked = true;
      if (given.length > 0 && step[g.owner] === undefined)
        ctx.addIssue({
          code: "custom",
          path: [g.owner],
          message: `missing required key "${g.owner}" (${given.join(", ")} ${given.length === 1 ? "is a statistic" : "are statistics"} of ${g.what})`,
        });
      else if (given.length === 0 && step[g.owner] !== undefined && g.owner !== "target")
        ctx.addIssue({
          code: "custom",
          path: [g.owner],
          message: `nothing to check of ${g.owner} ${showValue(step[g.owner])}: give one of ${g.keys.join(", ")}`,
        });
    }
    const owners =
      step.target !== undefined || step.device !== undefined || step.table !== undefined;
    if (!checked && !(owners && (step.device !== undefined || step.table !== undefined)))
      ctx.addIssue({
        code: "custom",
        path: [],
        message: `expected something to check: ${[...TARGET_KEYS, "freeChunks", "materializedPages"].join(", ")} (of a target); ${DEVICE_KEYS.join(", ")} (of a device); ${[...TABLE_KEYS, "leaves"].join(", ")} (of a table)`,
      });
  })
  .meta({
    title: "expect",
    description:
      "Check statistics of a target (with target), of the byte store (materializedPages), of a device (with device) and of a page table (with table); each key checked is one expectation.",
  });

type ExpectStep = z.output<typeof expectSchema>;

function showAs(show: Show, n: number): string {
  return show === "size" ? showSize(n) : String(n);
}

function describeGroup<S>(
  step: ExpectStep,
  checks: Checks<S>,
  keys: readonly string[],
  extra: string[],
): string[] {
  const parts: string[] = [];
  for (const k of keys) {
    const v = (step as unknown as Record<string, number | undefined>)[k];
    if (v !== undefined) parts.push(`${k} ${showAs(checks[k]!.show, v)}`);
  }
  return parts.concat(extra);
}

/** One expectation to record: computed first, recorded once everything was found. */
interface Result {
  passed: boolean;
  message: string;
}

function compare(what: string, show: Show, want: number, got: number): Result {
  return {
    passed: got === want,
    message:
      got === want
        ? `${what} = ${showAs(show, want)}`
        : `${what}: expected ${showAs(show, want)}, got ${showAs(show, got)}`,
  };
}

function checkGroup<S>(
  step: ExpectStep,
  owner: string,
  stats: S,
  checks: Checks<S>,
  keys: readonly string[],
): Result[] {
  const out: Result[] = [];
  for (const k of keys) {
    const want = (step as unknown as Record<string, number | undefined>)[k];
    if (want === undefined) continue;
    const c = checks[k]!;
    out.push(compare(`${owner}.${k}`, c.show, want, c.get(stats)));
  }
  return out;
}

function deviceView(platform: Platform, name: string): DeviceView {
  const stats = deviceStatistics(deviceNamed(platform, name));
  let t: DeviceView["tlb"];
  try {
    t = tlbStatistics(tlbOf(platform, name).tlb);
  } catch {
    t = undefined; // no TLB: the TLB checks say so
  }
  return { stats, tlb: t };
}

const expect = defineStep({
  schema: expectSchema,
  describe(step) {
    const groups: string[] = [];
    const target = describeGroup(
      step,
      TARGET_CHECKS,
      TARGET_KEYS,
      (step.freeChunks ?? []).map((c) => `${c.count} free ${showSize(c.size)} chunks`),
    );
    if (target.length > 0) groups.push(`${step.target}: ${target.join(", ")}`);
    const device = describeGroup(step, DEVICE_CHECKS, DEVICE_KEYS, []);
    if (device.length > 0) groups.push(`${step.device}: ${device.join(", ")}`);
    const table = describeGroup(
      step,
      TABLE_CHECKS,
      TABLE_KEYS,
      (step.leaves ?? []).map((l) => `${l.count} ${showSize(l.size)} leaves`),
    );
    if (table.length > 0) groups.push(`${step.table}: ${table.join(", ")}`);
    if (step.materializedPages !== undefined)
      groups.push(`${step.materializedPages} pages materialized`);
    return `expect ${groups.join("; ")}`;
  },
  check: (step, machine) =>
    checkReferences(machine, [
      ["device", "device", step.device],
      ["table", "table", step.table],
    ]),
  run(ctx, step) {
    // Look everything up first, so an unknown target, pool, device or table records nothing.
    const results: Result[] = [];
    if (step.target !== undefined) {
      const stats = targetStatistics(ctx.platform.target(step.target));
      results.push(...checkGroup(step, step.target, stats, TARGET_CHECKS, TARGET_KEYS));
      for (const c of step.freeChunks ?? []) {
        if (stats.pools === undefined)
          fail("EINVAL", `target "${step.target}" is ${stats.allocator}, not a chunk-pool`);
        const pool =
          stats.pools.find((p) => p.chunkSize === c.size) ??
          fail("ENOENT", `target "${step.target}" has no pool of ${showSize(c.size)} chunks`);
        results.push(
          compare(
            `${step.target} free ${showSize(c.size)} chunks`,
            "count",
            c.count,
            pool.freeChunks,
          ),
        );
      }
    }
    if (step.materializedPages !== undefined)
      results.push(
        compare(
          "materialized pages",
          "count",
          step.materializedPages,
          ctx.platform.store.materializedPages,
        ),
      );
    if (step.device !== undefined)
      results.push(
        ...checkGroup(
          step,
          step.device,
          deviceView(ctx.platform, step.device),
          DEVICE_CHECKS,
          DEVICE_KEYS,
        ),
      );
    if (step.table !== undefined) {
      const stats = pageTableStatistics(step.table, ctx.objects.get(PAGE_TABLE, step.table));
      results.push(...checkGroup(step, step.table, stats, TABLE_CHECKS, TABLE_KEYS));
      for (const l of step.leaves ?? []) {
        const got = stats.leaves.find((x) => x.size === l.size)?.count ?? 0;
        results.push(compare(`${step.table} ${showSize(l.size)} leaves`, "count", l.count, got));
      }
    }
    for (const r of results) ctx.expect(r.passed, r.message);
    const failed = results.filter((r) => !r.passed).length;
    return {
      summary: failed === 0 ? `${results.length} checked` : `${failed} of ${results.length} differ`,
    };
  },
});

const stats = defineStep({
  schema: z
    .strictObject({
      op: z.literal("stats"),
      target: targetName.optional().meta({ description: "Only this target." }),
      device: objectNameSchema.optional().meta({ description: "Only this device." }),
      table: objectNameSchema.optional().meta({ description: "Only this page table." }),
    })
    .meta({
      title: "stats",
      description:
        "Record statistics: of every target, the byte store, every device and every page table; or only of the target, device and table named.",
    }),
  describe(step) {
    const only = [step.target, step.device, step.table].filter((x) => x !== undefined);
    return `statistics of ${only.length > 0 ? only.join(", ") : "everything"}`;
  },
  check: (step, machine) =>
    checkReferences(machine, [
      ["device", "device", step.device],
      ["table", "table", step.table],
    ]),
  run(ctx, step) {
    const all = step.target === undefined && step.device === undefined && step.table === undefined;
    const phys = platformStatistics(ctx.platform);
    const targets = all
      ? phys.targets
      : step.target !== undefined
        ? [targetStatistics(ctx.platform.target(step.target))]
        : [];
    const devices = all
      ? devicesStatistics(ctx.platform)
      : step.device !== undefined
        ? [deviceStatistics(deviceNamed(ctx.platform, step.device))]
        : [];
    const pageTables = all
      ? pageTablesStatistics(ctx.objects)
      : step.table !== undefined
        ? [pageTableStatistics(step.table, ctx.objects.get(PAGE_TABLE, step.table))]
        : [];
    const pages = phys.store.materializedPages;
    const summary = [
      ...targets.map(
        (t) => `${t.name}: ${showSize(t.freeBytes)} of ${showSize(t.totalBytes)} free`,
      ),
      ...devices.map((d) => {
        const a = d.accesses;
        const t = d.tlb;
        return a !== undefined
          ? `${d.name}: ${a.reads} reads, ${a.writes} writes, TLB ${a.tlbHits}/${a.tlbHits + a.tlbMisses} hits`
          : `${d.name}: TLB ${t?.hits ?? 0}/${t?.lookups ?? 0} hits`;
      }),
      ...pageTables.map((t) => `${t.name}: ${t.tables} tables, ${showSize(t.mappedBytes)} mapped`),
      `${pages} page${pages === 1 ? "" : "s"} materialized`,
    ].join("; ");
    return {
      summary,
      output: {
        targets,
        store: phys.store,
        ...(devices.length > 0 ? { devices } : {}),
        ...(pageTables.length > 0 ? { pageTables } : {}),
      },
      tables: [
        ...(targets.length > 0 ? statisticsTables(targets) : []),
        ...translationTables(devices, pageTables),
      ],
    };
  },
});

/** The statistics steps. */
export const statisticsSteps: StepModule = { name: "statistics", ops: { expect, stats } };
