/**
 * What the translation part of a machine reports, as plain JSON data and as tables for people:
 * the page tables and devices as built (for the run's `machine`), their statistics (TLBs,
 * translation contexts, accesses, page-table shape and operation counts), and dumps (page
 * tables with `dumpPageTable` and their leaves from the walker; TLBs with `formatTlb`).
 *
 * Used by the runner's final statistics, the `stats`, `expect` and `dump` steps, and
 * `memweave dump`.
 */
import { hex, hexRange } from "../../../base/address.js";
import type { BusMasterStats } from "../../../devices/bus-master.js";
import type { Platform } from "../../../devices/platform.js";
import type { Device, DeviceCapabilities, RegimeInfo } from "../../../devices/registry.js";
import type { RegimeStats, TableRoot, TranslationRegime } from "../../../mmu/regime.js";
import {
  dumpPageTable,
  formatDescriptor,
  formatPageTableStats,
  pageTableStats,
} from "../../../mmu/dump.js";
import type { PageTable } from "../../../mmu/page-table.js";
import { formatAttributes } from "../../../mmu/prot.js";
import type { Tlb, TlbStats } from "../../../mmu/tlb.js";
import { entryFacts, formatTlb } from "../../../mmu/tlb.js";
import { showSize } from "../format.js";
import { fail } from "../../../base/errors.js";
import type {
  BuiltMachine,
  MachineModule,
  MachineObjects,
  StatCheck,
  StatisticsGroup,
  StatisticsSubject,
} from "../machine-module.js";
import { objectKind } from "../machine-module.js";
import { compareStat } from "../statistics.js";
import type { SizedCount } from "../values.js";
import { sizeKeyedCounts } from "../values.js";
import type { ReportTable } from "../step-module.js";
import type { ScenarioPageTable } from "./translation-lookup.js";
import { deviceNamed, PAGE_TABLE, pageTableNamed, tlbOf } from "./translation-lookup.js";

// --- the machine as built ---------------------------------------------------------------------

/** A page table as built. */
export type PageTableSummary = { name: string; format: string; target: string; root: number };

/** A TLB's geometry. */
export type TlbSummary = { name: string; sets: number; ways: number; replacement: string };

/** An SMMU context bank as built. */
export type SmmuContextSummary = {
  name: string;
  index: number;
  table?: string;
  stage2?: string;
  asid: number;
  vmid: number;
  bound: boolean;
  active: boolean;
};

/** A device as built. Fields appear for the kinds they apply to. */
export type DeviceSummary = {
  name: string;
  /** cpu, smmu, smmu-master, one-to-one, accelerator. */
  kind: string;
  ttbr0?: string;
  ttbr1?: string;
  split?: number;
  stage2?: string;
  asid?: number;
  vmid?: number;
  tlb?: TlbSummary;
  /** SMMU: its context banks and masters. */
  contexts?: SmmuContextSummary[];
  masters?: Array<{ name: string; context: string }>;
  /** SMMU master: the SMMU and context it translates through. */
  smmu?: string;
  context?: string;
  /** One-to-one: the physical window. */
  window?: { base: number; size: number };
  /** Accelerator: the device-local region and its target. */
  localMemory?: { region: string; target: string };
};

/** The name of the page table at `root` (or its address, for a root not built as one). */
function tableName(objects: MachineObjects, root: TableRoot | undefined): string | undefined {
  if (root === undefined) return undefined;
  const t = objects
    .list(PAGE_TABLE)
    .find((x) => x.value.table.root === root.root && x.value.table.memory === root.memory);
  return t?.name ?? hex(root.root);
}

function tlbSummary(tlb: Tlb): TlbSummary {
  return { name: tlb.name, sets: tlb.sets, ways: tlb.ways, replacement: tlb.replacement };
}

/** The regime of a CPU or accelerator MMU. */
function regime(objects: MachineObjects, c: TranslationRegime): Partial<DeviceSummary> {
  const out: Partial<DeviceSummary> = {};
  const ttbr0 = tableName(objects, c.ttbr0);
  const ttbr1 = tableName(objects, c.ttbr1);
  const stage2 = tableName(objects, c.stage2);
  if (ttbr0 !== undefined) out.ttbr0 = ttbr0;
  if (ttbr1 !== undefined) out.ttbr1 = ttbr1;
  if (c.split !== undefined) out.split = c.split;
  if (stage2 !== undefined) out.stage2 = stage2;
  out.asid = c.asid;
  out.vmid = c.vmid;
  return out;
}

/** The context bank a master's accesses go through, by the regimes its SMMU reports. */
function bankOf(caps: DeviceCapabilities, master: string): string | undefined {
  return caps.regimes.find((r) => r.masters.some((m) => m.name === master))?.contextBank?.name;
}

/**
 * A device as built, from what it says it has: a bus master with an MMU of its own (CPU,
 * accelerator), an IOMMU (its context banks and masters), a master behind one, or a master with
 * a physical window.
 */
function deviceSummary(objects: MachineObjects, d: Device): DeviceSummary {
  const base: DeviceSummary = { name: d.name, kind: d.kind };
  const caps = d.capabilities();
  const own = caps.masters.some((m) => m.name === d.name);
  const r = caps.regimes[0];
  const tlb = caps.tlbs[0];
  if (own && r !== undefined && r.contextBank === undefined && tlb !== undefined) {
    const out: DeviceSummary = { ...base, ...regime(objects, r.regime), tlb: tlbSummary(tlb.tlb) };
    if (caps.localMemory !== undefined) out.localMemory = { ...caps.localMemory };
    return out;
  }
  if (!own && tlb !== undefined)
    return {
      ...base,
      tlb: tlbSummary(tlb.tlb),
      contexts: caps.regimes.map((c) => {
        const bank = c.contextBank!;
        const s: SmmuContextSummary = {
          name: bank.name,
          index: bank.index,
          asid: c.regime.asid,
          vmid: c.regime.vmid,
          bound: bank.bound,
          active: bank.active,
        };
        const table = tableName(objects, c.regime.ttbr0);
        const stage2 = tableName(objects, c.regime.stage2);
        if (table !== undefined) s.table = table;
        if (stage2 !== undefined) s.stage2 = stage2;
        return s;
      }),
      masters: caps.masters.map((m) => ({ name: m.name, context: bankOf(caps, m.name) ?? "?" })),
    };
  if (own && r?.contextBank !== undefined && r.tlb !== undefined)
    return { ...base, smmu: r.tlb.owner, context: r.contextBank.name };
  const w = caps.windows[0];
  if (w !== undefined) return { ...base, window: { base: w.base, size: w.size } };
  return base;
}

/** The page tables and devices of a machine, as built (empty lists when it has none). */
export function describeTranslationMachine(machine: BuiltMachine): {
  pageTables: PageTableSummary[];
  devices: DeviceSummary[];
} {
  const { platform, objects } = machine;
  return {
    pageTables: objects.list(PAGE_TABLE).map(({ name, value }) => ({
      name,
      format: value.table.format.name,
      target: value.target,
      root: value.table.root,
    })),
    devices: platform.devices().map((d) => deviceSummary(objects, d)),
  };
}

/**
 * What a device translates with, for people: `ttbr0 cpu-pt, asid 1`; an SMMU's contexts one
 * per line.
 */
export function describeDeviceTranslation(d: DeviceSummary): string {
  const parts: string[] = [];
  if (d.ttbr0 !== undefined) parts.push(`ttbr0 ${d.ttbr0}`);
  if (d.ttbr1 !== undefined) parts.push(`ttbr1 ${d.ttbr1} from ${hex(d.split ?? 0)}`);
  if (d.asid !== undefined && (d.ttbr0 !== undefined || d.ttbr1 !== undefined))
    parts.push(`asid ${d.asid}`);
  if (d.stage2 !== undefined) parts.push(`stage 2 ${d.stage2}`, `vmid ${d.vmid ?? 0}`);
  if (d.kind === "cpu" || d.kind === "accelerator")
    if (d.ttbr0 === undefined && d.ttbr1 === undefined && d.stage2 === undefined)
      parts.push("no table: every access faults");
  if (d.smmu !== undefined) parts.push(`behind ${d.smmu}, context ${d.context ?? "?"}`);
  if (d.window !== undefined)
    parts.push(`physical window ${hex(d.window.base)}+${showSize(d.window.size)}`);
  if (d.localMemory !== undefined)
    parts.push(`local memory ${d.localMemory.region} (target ${d.localMemory.target})`);
  const lines = parts.length > 0 ? [parts.join(", ")] : [];
  for (const c of d.contexts ?? []) {
    const tables = [c.table, c.stage2 !== undefined ? `stage 2 ${c.stage2}` : undefined]
      .filter((x) => x !== undefined)
      .join(" + ");
    const what = c.bound ? `${tables} (asid ${c.asid}, vmid ${c.vmid})` : "unbound";
    const masters = (d.masters ?? []).filter((m) => m.context === c.name).map((m) => m.name);
    lines.push(
      `context ${c.name}: ${what}${c.active ? "" : ", inactive"}${masters.length > 0 ? `; masters ${masters.join(", ")}` : ""}`,
    );
  }
  return lines.join("\n");
}

// --- statistics ---------------------------------------------------------------------------------

/**
 * The model's own statistics types as plain type aliases (mapped types), so that they are
 * assignable to JSON data as interfaces are not.
 */
type Plain<T> = { [K in keyof T]: T[K] };

/** A TLB's statistics. */
export type TlbStatistics = { name: string; capacity: number } & Plain<TlbStats>;

/** A translation context's counters (a CPU's or accelerator's MMU, an SMMU context bank). */
export type ContextStatistics = { name: string } & Plain<RegimeStats>;

/** The accesses of a bus master. */
export type AccessStatistics = Plain<BusMasterStats>;

/** A device's statistics. Fields appear for the kinds they apply to. */
export type DeviceStatistics = {
  name: string;
  kind: string;
  /** Bus masters: their accesses. */
  accesses?: AccessStatistics;
  /** CPU, accelerator: its MMU; SMMU master: its context bank (shared with its other masters). */
  context?: ContextStatistics;
  /** SMMU: every context bank. */
  contexts?: Array<ContextStatistics & { active: boolean; bound: boolean }>;
  /** CPU, accelerator: its own TLB; SMMU: the TLB its contexts share. */
  tlb?: TlbStatistics;
};

/** A page table's statistics: its shape now (from a walk) and its operations so far. */
export type PageTableStatistics = {
  name: string;
  format: string;
  target: string;
  root: number;
  /** Tables now, root included. */
  tables: number;
  tablesByLevel: Array<{ level: number; count: number }>;
  /** Bytes of those tables, as the format sizes them. */
  tableBytes: number;
  /** Leaves now, by size; `entries` counts descriptors (16 per ARMv7 large page). */
  leaves: Array<{ size: number; count: number; entries: number }>;
  mappedBytes: number;
  maps: number;
  unmaps: number;
  protects: number;
  splits: number;
  /** Range invalidations sent to the TLBs, and full ones. */
  flushes: number;
  flushAlls: number;
  tablesAllocated: number;
  tablesFreed: number;
  rollbacks: number;
};

export function tlbStatistics(tlb: Tlb): TlbStatistics {
  // `valid` first, as people read it.
  const { valid, ...counters } = tlb.stats();
  return { name: tlb.name, capacity: tlb.capacity, valid, ...counters };
}

function contextStatistics(c: TranslationRegime): ContextStatistics {
  return { name: c.name, ...c.stats };
}

function accessStatistics(stats: BusMasterStats): AccessStatistics {
  return { ...stats };
}

function regimeStatistics(r: RegimeInfo): ContextStatistics {
  return contextStatistics(r.regime);
}

/** The statistics of one device, from what it says it has. */
export function deviceStatistics(d: Device): DeviceStatistics {
  const out: DeviceStatistics = { name: d.name, kind: d.kind };
  const caps = d.capabilities();
  const self = caps.masters.find((m) => m.name === d.name);
  if (self !== undefined) out.accesses = accessStatistics(self.stats);
  const r = caps.regimes[0];
  const tlb = caps.tlbs[0];
  if (self !== undefined && r !== undefined) {
    out.context = regimeStatistics(r);
    if (tlb !== undefined) out.tlb = tlbStatistics(tlb.tlb);
  } else if (self === undefined && caps.regimes.length > 0) {
    out.contexts = caps.regimes.map((c) => ({
      ...regimeStatistics(c),
      active: c.contextBank?.active ?? c.live,
      bound: c.contextBank?.bound ?? true,
    }));
    if (tlb !== undefined) out.tlb = tlbStatistics(tlb.tlb);
  }
  return out;
}

/** The statistics of every device, in the order they were built. */
export function devicesStatistics(platform: Platform): DeviceStatistics[] {
  return platform.devices().map(deviceStatistics);
}

/** The statistics of one page table. */
export function pageTableStatistics(name: string, t: ScenarioPageTable): PageTableStatistics {
  const shape = pageTableStats(t.table);
  const ops = t.table.stats();
  return {
    name,
    format: shape.format,
    target: t.target,
    root: shape.root,
    tables: shape.tables.reduce((n, x) => n + x.count, 0),
    tablesByLevel: shape.tables.map((x) => ({ level: x.level, count: x.count })),
    tableBytes: shape.tableBytes,
    leaves: shape.leaves.map((x) => ({ size: x.size, count: x.count, entries: x.entries })),
    mappedBytes: shape.mappedBytes,
    maps: ops.maps,
    unmaps: ops.unmaps,
    protects: ops.protects,
    splits: ops.splits,
    flushes: ops.flushes,
    flushAlls: ops.flushAlls,
    tablesAllocated: ops.tablesAllocated,
    tablesFreed: ops.tablesFreed,
    rollbacks: ops.rollbacks,
  };
}

/** The statistics of every page table, in the order they were built. */
export function pageTablesStatistics(objects: MachineObjects): PageTableStatistics[] {
  return objects.list(PAGE_TABLE).map(({ name, value }) => pageTableStatistics(name, value));
}

/** Leaves by size in one cell: `4×4 KiB + 1×1 MiB`. */
export function showLeaves(leaves: PageTableStatistics["leaves"]): string {
  if (leaves.length === 0) return "none";
  return leaves
    .map(
      (l) =>
        `${l.count}×${showSize(l.size)}${l.entries > l.count ? ` (${l.entries} entries)` : ""}`,
    )
    .join(" + ");
}

const dash = (n: number | undefined): string => (n === undefined ? "-" : String(n));

/** Tables for people: devices (accesses and translation) and their TLBs. Empty ones go. */
export function deviceTables(devices: readonly DeviceStatistics[]): ReportTable[] {
  const tables: ReportTable[] = [];
  const rows = devices
    .filter((d) => d.accesses !== undefined || d.contexts !== undefined)
    .map((d) => {
      const ctxs = d.context !== undefined ? [d.context] : (d.contexts ?? []);
      const sum = (k: "walks" | "descriptorReads") =>
        ctxs.length > 0 ? ctxs.reduce((n, c) => n + c[k], 0) : undefined;
      const a = d.accesses;
      return [
        d.name,
        d.kind,
        dash(a?.reads),
        dash(a?.writes),
        dash(a?.faults),
        dash(a?.tlbHits ?? d.tlb?.hits),
        dash(a?.tlbMisses ?? d.tlb?.misses),
        dash(sum("walks")),
        dash(sum("descriptorReads")),
      ];
    });
  if (rows.length > 0)
    tables.push({
      title: "Devices",
      head: [
        "device",
        "kind",
        "reads",
        "writes",
        "faults",
        "TLB hits",
        "TLB misses",
        "walks",
        "descriptor reads",
      ],
      rows,
    });
  const tlbs = devices.filter((d) => d.tlb !== undefined);
  if (tlbs.length > 0)
    tables.push({
      title: "TLBs",
      head: ["TLB", "valid", "lookups", "hits", "misses", "inserts", "evictions", "invalidated"],
      rows: tlbs.map((d) => {
        const t = d.tlb!;
        return [
          `${t.name} (${t.capacity} entries)`,
          String(t.valid),
          String(t.lookups),
          String(t.hits),
          String(t.misses),
          String(t.inserts),
          String(t.evictions),
          `${t.invalidatedEntries} (${t.invalidations} calls)`,
        ];
      }),
    });
  return tables;
}

/** A table for people of page tables (none when there are none). */
export function pageTableTables(pageTables: readonly PageTableStatistics[]): ReportTable[] {
  const tables: ReportTable[] = [];
  if (pageTables.length > 0)
    tables.push({
      title: "Page tables",
      head: [
        "table",
        "format",
        "tables",
        "table bytes",
        "leaves",
        "mapped",
        "maps",
        "unmaps",
        "protects",
        "splits",
        "flushes",
      ],
      rows: pageTables.map((t) => [
        t.name,
        t.format,
        String(t.tables),
        showSize(t.tableBytes),
        showLeaves(t.leaves),
        showSize(t.mappedBytes),
        String(t.maps),
        String(t.unmaps),
        String(t.protects),
        String(t.splits),
        String(t.flushes),
      ]),
    });
  return tables;
}

// --- streams ---------------------------------------------------------------------------------------

/** What one `stream` step did: its accesses and the translation work they caused. */
export type StreamRecord = {
  /** The step's label (default: `stream <n>`, n counting the run's streams from 1). */
  label: string;
  device: string;
  va: number;
  size: number;
  stride: number;
  kind: "read" | "write";
  passes: number;
  accesses: number;
  tlbHits: number;
  tlbMisses: number;
  walks: number;
  descriptorReads: number;
};

/** The stream steps of a run so far, in order (kept in the machine's objects as "streams"). */
export const STREAM_LOG = objectKind<StreamRecord[]>("stream log");

/** The machine's stream log (created empty on first use). */
export function streamLog(objects: MachineObjects): StreamRecord[] {
  if (!objects.has(STREAM_LOG, "streams")) objects.add(STREAM_LOG, "streams", []);
  return objects.get(STREAM_LOG, "streams");
}

/** The Streams table for people: one row per stream step. */
export function streamTables(streams: readonly StreamRecord[]): ReportTable[] {
  if (streams.length === 0) return [];
  return [
    {
      title: "Streams",
      head: [
        "stream",
        "device",
        "range",
        "stride",
        "accesses",
        "TLB hits",
        "TLB misses",
        "walks",
        "descriptor reads",
      ],
      rows: streams.map((s) => [
        s.label,
        s.device,
        `${hexRange(s.va, s.size)}${s.passes > 1 ? ` x${s.passes}` : ""}`,
        showSize(s.stride),
        String(s.accesses),
        String(s.tlbHits),
        String(s.tlbMisses),
        String(s.walks),
        String(s.descriptorReads),
      ]),
    },
  ];
}

// --- the module's reports: summary, statistics groups, expect subjects -------------------------

declare module "../machine-summary.js" {
  interface MachineSummary {
    pageTables?: PageTableSummary[];
    devices?: DeviceSummary[];
  }
  interface MachineStatistics {
    devices?: DeviceStatistics[];
    pageTables?: PageTableStatistics[];
    streams?: StreamRecord[];
  }
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
} as const satisfies Record<string, StatCheck<DeviceView>>;

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
} as const satisfies Record<string, StatCheck<PageTableStatistics>>;

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

const isEmptyList = (v: unknown): boolean => (v as unknown[]).length === 0;

/** What the translation machine module reports. */
export const translationReports = {
  summarize(machine: BuiltMachine) {
    const { pageTables, devices } = describeTranslationMachine(machine);
    return {
      ...(pageTables.length > 0 ? { pageTables } : {}),
      ...(devices.length > 0 ? { devices } : {}),
    };
  },
  statistics: [
    {
      key: "devices",
      always: false,
      collect: (m) => devicesStatistics(m.platform),
      collectOne: (m, name) => [deviceStatistics(deviceNamed(m.platform, name))],
      isEmpty: isEmptyList,
      tables: (devices: DeviceStatistics[]) => deviceTables(devices),
      summary: (devices: DeviceStatistics[]) =>
        devices.map((d) => {
          const a = d.accesses;
          const t = d.tlb;
          return a !== undefined
            ? `${d.name}: ${a.reads} reads, ${a.writes} writes, TLB ${a.tlbHits}/${a.tlbHits + a.tlbMisses} hits`
            : `${d.name}: TLB ${t?.hits ?? 0}/${t?.lookups ?? 0} hits`;
        }),
    },
    {
      key: "pageTables",
      always: false,
      collect: (m) => pageTablesStatistics(m.objects),
      collectOne: (m, name) => [pageTableStatistics(name, m.objects.get(PAGE_TABLE, name))],
      isEmpty: isEmptyList,
      tables: (tables: PageTableStatistics[]) => pageTableTables(tables),
      summary: (tables: PageTableStatistics[]) =>
        tables.map((t) => `${t.name}: ${t.tables} tables, ${showSize(t.mappedBytes)} mapped`),
    },
    {
      key: "streams",
      always: false,
      collect: (m) => (m.objects.has(STREAM_LOG, "streams") ? [...streamLog(m.objects)] : []),
      isEmpty: isEmptyList,
      tables: (streams: StreamRecord[]) => streamTables(streams),
      summary: (streams: StreamRecord[]) =>
        streams.map((s) => `${s.label}: ${s.tlbMisses} TLB misses in ${s.accesses} accesses`),
    },
  ] satisfies StatisticsGroup[],
  subjects: [
    {
      key: "device",
      what: "a device",
      description: "The device (CPU, SMMU, master, accelerator…) whose statistics to check.",
      only: "Only this device.",
      checks: DEVICE_CHECKS,
      needsChecks: true,
      reference: (m, name) => void deviceNamed(m.platform, name),
      view: (m, name) => deviceView(m.platform, name),
      group: "devices",
    } satisfies StatisticsSubject<DeviceView>,
    {
      key: "table",
      what: "a page table",
      description: "The page table whose statistics to check.",
      only: "Only this page table.",
      checks: TABLE_CHECKS,
      extras: [
        {
          key: "leaves",
          schema: sizeKeyedCounts(
            "a page size",
            'Leaves of the table now, keyed by size, e.g. { "4K": 16, "2M": 1 }; sizes not given are not checked.',
          ),
          describe: (leaves: SizedCount[]) =>
            leaves.map((l) => `${l.count} ${showSize(l.size)} leaves`),
          check: (leaves: SizedCount[], table, stats: PageTableStatistics) =>
            leaves.map((l) =>
              compareStat(
                `${table} ${showSize(l.size)} leaves`,
                "count",
                l.count,
                stats.leaves.find((x) => x.size === l.size)?.count ?? 0,
              ),
            ),
        },
      ],
      needsChecks: true,
      reference: (m, name) => void pageTableNamed(m.objects, name),
      view: (m, name) => pageTableStatistics(name, m.objects.get(PAGE_TABLE, name)),
      group: "pageTables",
    } satisfies StatisticsSubject<PageTableStatistics>,
  ],
} satisfies Pick<MachineModule, "summarize" | "statistics" | "subjects">;

// --- dumps ----------------------------------------------------------------------------------------

/** A leaf of a page table, as JSON. */
export type LeafJson = {
  va: number;
  size: number;
  pa: number;
  level: number;
  /** Entries it occupies (16 for ARMv7 large pages and supersections). */
  copies: number;
  /** Decoded, e.g. `rw- user nG AF normal-wb inner`. */
  attributes: string;
  /** The raw descriptor in hex, and its physical address. */
  descriptor: string;
  descAddr: number;
};

/** A page table's dump: the text of `dumpPageTable`, its statistics line, and its leaves. */
export type PageTableDump = {
  name: string;
  format: string;
  target: string;
  root: number;
  text: string;
  stats: string;
  leaves: LeafJson[];
};

/** A TLB's dump: the text of `formatTlb` and its valid entries. */
export type TlbDump = {
  /** The device whose TLB it is (an SMMU for its masters). */
  device: string;
  tlb: string;
  text: string;
  entries: Array<{
    va: number;
    size: number;
    pa: number;
    perm: string;
    asid: number | null;
    vmid: number;
    level: number;
    set: number;
    way: number;
  }>;
};

/** The leaves of a table, from the walker. */
export function pageTableLeaves(table: PageTable): LeafJson[] {
  const f = table.format;
  const leaves: LeafJson[] = [];
  table.walk({
    leaf: (l) =>
      leaves.push({
        va: l.va,
        size: l.size,
        pa: l.pa,
        level: l.level,
        copies: l.copies,
        attributes: formatAttributes(f.attributes(l.levelIndex, l.lo, l.hi)),
        descriptor: formatDescriptor(f, l.lo, l.hi),
        descAddr: l.descAddr,
      }),
  });
  return leaves;
}

/** The dump of one page table. */
export function pageTableDump(name: string, t: ScenarioPageTable): PageTableDump {
  return {
    name,
    format: t.table.format.name,
    target: t.target,
    root: t.table.root,
    text: dumpPageTable(t.table),
    stats: formatPageTableStats(pageTableStats(t.table)),
    leaves: pageTableLeaves(t.table),
  };
}

/** The dump of the TLB a device uses (`tlbOf`). */
export function tlbDump(platform: Platform, device: string): TlbDump {
  const { tlb, owner } = tlbOf(platform, device);
  return {
    device: owner,
    tlb: tlb.name,
    text: formatTlb(tlb),
    entries: tlb.entries().map((e) => ({
      ...entryFacts(e),
      level: e.level,
      set: e.set,
      way: e.way,
    })),
  };
}

/** The devices that hold a TLB (CPUs, accelerators, SMMUs), in the order they were built. */
export function tlbOwners(platform: Platform): string[] {
  return platform
    .devices()
    .filter((d) => d.capabilities().tlbs.length > 0)
    .map((d) => d.name);
}

/** The dumps `memweave dump` prints. */
export type MachineDumps = { pageTables: PageTableDump[]; tlbs: TlbDump[] };

/**
 * Dumps of a machine: every page table and every TLB (of CPUs, accelerators and SMMUs, each
 * once); or, when `only` names a table or a device, just those. ENOENT / EINVAL for a name the
 * machine does not have (or a device without a TLB).
 */
export function machineDumps(
  machine: BuiltMachine,
  only: { readonly table?: string; readonly tlb?: string } = {},
): MachineDumps {
  const { platform, objects } = machine;
  const some = only.table !== undefined || only.tlb !== undefined;
  const pageTables =
    only.table !== undefined
      ? [pageTableDump(only.table, objects.get(PAGE_TABLE, only.table))]
      : some
        ? []
        : objects.list(PAGE_TABLE).map(({ name, value }) => pageTableDump(name, value));
  const tlbs =
    only.tlb !== undefined
      ? [tlbDump(platform, only.tlb)]
      : some
        ? []
        : tlbOwners(platform).map((name) => tlbDump(platform, name));
  return { pageTables, tlbs };
}
