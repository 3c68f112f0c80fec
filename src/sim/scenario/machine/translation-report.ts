/**
 * What the translation part of a machine reports, as plain JSON data and as tables for people:
 * the page tables and devices as built (for the run's `machine`), their statistics (TLBs,
 * translation contexts, accesses, page-table shape and operation counts), and dumps (page
 * tables with `dumpPageTable` and their leaves from the walker; TLBs with `formatTlb`).
 *
 * Used by the runner's final statistics, the `stats`, `expect` and `dump` steps, and
 * `memweave dump`.
 */
import { MmuMaster } from "../../../devices/mmu-master.js";
import { hex } from "../../../base/address.js";
import { formatSizeShort } from "../../../base/size.js";
import { Accelerator } from "../../../devices/accelerator.js";
import type { BusMasterStats } from "../../../devices/bus-master.js";
import { BusMaster } from "../../../devices/bus-master.js";
import { Cpu } from "../../../devices/cpu.js";
import { OneToOneDevice } from "../../../devices/one-to-one.js";
import type { Platform } from "../../../devices/platform.js";
import type { Device } from "../../../devices/registry.js";
import { Smmu, SmmuMaster } from "../../../devices/smmu.js";
import type { ContextStats, TableRoot, TranslationContext } from "../../../mmu/context.js";
import {
  dumpPageTable,
  formatDescriptor,
  formatPageTableStats,
  pageTableStats,
} from "../../../mmu/dump.js";
import type { PageTable } from "../../../mmu/page-table.js";
import { formatAttributes } from "../../../mmu/prot.js";
import type { Tlb, TlbStats } from "../../../mmu/tlb.js";
import { formatPerm, formatTlb } from "../../../mmu/tlb.js";
import { showSize } from "../format.js";
import type { BuiltMachine, MachineObjects } from "../machine-module.js";
import type { ReportTable } from "../step-module.js";
import type { ScenarioPageTable } from "./translation.js";
import { PAGE_TABLE, tlbOf } from "./translation.js";

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
function regime(objects: MachineObjects, c: TranslationContext): Partial<DeviceSummary> {
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

function deviceSummary(objects: MachineObjects, d: Device): DeviceSummary {
  const base: DeviceSummary = { name: d.name, kind: d.kind };
  if (d instanceof Cpu) return { ...base, ...regime(objects, d.mmu), tlb: tlbSummary(d.tlb) };
  if (d instanceof Accelerator) {
    const out: DeviceSummary = { ...base, ...regime(objects, d.mmu), tlb: tlbSummary(d.tlb) };
    if (d.localRegion !== undefined && d.localTarget !== undefined)
      out.localMemory = { region: d.localRegion.name, target: d.localTarget.name };
    return out;
  }
  if (d instanceof Smmu)
    return {
      ...base,
      tlb: tlbSummary(d.tlb),
      contexts: d.contexts().map((c) => {
        const s: SmmuContextSummary = {
          name: c.name,
          index: c.index,
          asid: c.asid,
          vmid: c.vmid,
          bound: c.bound,
          active: c.active,
        };
        const table = tableName(objects, c.ctx.ttbr0);
        const stage2 = tableName(objects, c.ctx.stage2);
        if (table !== undefined) s.table = table;
        if (stage2 !== undefined) s.stage2 = stage2;
        return s;
      }),
      masters: d.masters().map((m) => ({ name: m.name, context: m.context.name })),
    };
  if (d instanceof SmmuMaster) return { ...base, smmu: d.smmu.name, context: d.context.name };
  if (d instanceof OneToOneDevice) return { ...base, window: { base: d.base, size: d.size } };
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
export type ContextStatistics = { name: string } & Plain<ContextStats>;

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

function contextStatistics(c: TranslationContext): ContextStatistics {
  return { name: c.name, ...c.stats };
}

function accessStatistics(m: BusMaster): AccessStatistics {
  return { ...m.stats };
}

/** The statistics of one device. */
export function deviceStatistics(d: Device): DeviceStatistics {
  const out: DeviceStatistics = { name: d.name, kind: d.kind };
  if (d instanceof BusMaster) out.accesses = accessStatistics(d);
  if (d instanceof MmuMaster) {
    out.context = contextStatistics(d.mmu);
    out.tlb = tlbStatistics(d.tlb);
  } else if (d instanceof SmmuMaster) {
    out.context = contextStatistics(d.context.ctx);
  } else if (d instanceof Smmu) {
    out.contexts = d.contexts().map((c) => ({
      ...contextStatistics(c.ctx),
      active: c.active,
      bound: c.bound,
    }));
    out.tlb = tlbStatistics(d.tlb);
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

/** Leaves by size in one cell: `4K:4 1M:1`. */
export function showLeaves(leaves: PageTableStatistics["leaves"]): string {
  if (leaves.length === 0) return "none";
  return leaves
    .map(
      (l) =>
        `${formatSizeShort(l.size)}:${l.count}${l.entries > l.count ? ` (${l.entries} entries)` : ""}`,
    )
    .join(" ");
}

const dash = (n: number | undefined): string => (n === undefined ? "-" : String(n));

/** Tables for people: devices (accesses and translation), TLBs, page tables. Empty ones go. */
export function translationTables(
  devices: readonly DeviceStatistics[],
  pageTables: readonly PageTableStatistics[],
): ReportTable[] {
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
      va: e.va,
      size: e.size,
      pa: e.pa,
      perm: formatPerm(e.perm),
      asid: e.global ? null : e.asid,
      vmid: e.vmid,
      level: e.level,
      set: e.set,
      way: e.way,
    })),
  };
}

/** The devices that own a TLB (CPUs, accelerators, SMMUs), in the order they were built. */
export function tlbOwners(platform: Platform): string[] {
  return platform
    .devices()
    .filter((d) => d instanceof MmuMaster || d instanceof Smmu)
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
