/**
 * The VCM part of the `machine` section: the Virtual Contiguous Memory Manager of the machine
 * (`vcm_sys_init`), as a {@link MachineModule} — which memory target each memtype allocates
 * from, where SMMU context tables come from, the SMMUs whose contexts the VCM drives (the seed's
 * device tree) and the CPU tables a prebuilt VCM stands for.
 *
 * ```yaml
 * vcm:
 *   memtypes: [{ memtype: 0, target: vcm-pools }]   # 0..2 = VCM_MEMTYPE_0..2, chunk-pool targets
 *   tables: pgtables                                 # SMMU context tables and clones' tables
 *   smmus: [{ smmu: smmu0, base: 0x0400_0000, irq: 32, version: 2 }]
 *   prebuilt:
 *     kernel: { table: kernel-pt, start: 0x8000_1000_0000, len: 256M }
 *     user: { table: user-pt, start: 0x1000_0000, len: 256M }
 *   allowAliases: false
 * ```
 *
 * It builds after the translation module (the tables and devices exist), item by item: a
 * memtype on an unknown or non-chunk-pool target, a memtype listed twice, an unknown SMMU or
 * one listed twice, a bad base / irq / version, an unknown prebuilt table are each reported at
 * their path, and the manager is built with the items accepted (none if `tables` is refused).
 * The manager is kept in the machine's objects ({@link VCM_MANAGER}); the `vcm.*` steps
 * (`steps/vcm.ts`) drive it.
 *
 * What it reports: the configuration as built (the run's `machine.vcm`), and the VCM graph as
 * the steps leave it (the `vcm` statistics group: devices, VCMs, associations, reservations,
 * bounds, physmems, fault hooks, the manager's counters) with its tables for people — also what
 * `memweave vcm` prints.
 *
 * Decisions:
 * - An SMMU's default irq is its index in the list as written (as the device tree defaults it),
 *   also when an item before it is refused.
 * - The address spaces a bus master sees ({@link DEVICE_ADDRESS_SPACES}): `vcm:<name>` of each
 *   VCM associated with it — an SMMU master's through its context bank's context instance, a
 *   CPU or a one-to-one device directly — active associations first.
 */
import { z } from "zod";

import { hex, hexRange } from "../../../base/address.js";
import { isMemweaveError, MemweaveError } from "../../../base/errors.js";
import type { Platform } from "../../../devices/platform.js";
import { Smmu } from "../../../devices/smmu.js";
import { PhysTableMemory } from "../../../mmu/table-memory.js";
import type { Association, PrebuiltSpace, VcmManagerOptions } from "../../../vcm/index.js";
import {
  deviceKind,
  describeAssocAttr,
  describePhysAttr,
  describeResAttr,
  memtypeName,
  SmmuDev,
  SmmuDriver,
  VcmManager,
} from "../../../vcm/index.js";
import type { Memtype, Vcm } from "../../../vcm/index.js";
import { showSize } from "../format.js";
import type {
  BuiltMachine,
  DocPath,
  MachineBuildContext,
  MachineObjects,
} from "../machine-module.js";
import {
  defineMachineModule,
  DEVICE_ADDRESS_SPACES,
  fieldPath,
  objectKind,
} from "../machine-module.js";
import type { ReportTable } from "../step-module.js";
import { countSchema, objectNameSchema, sizeSchema } from "../values.js";
import { PAGE_TABLE, regimeInfoOf } from "./translation-lookup.js";

// --- schema --------------------------------------------------------------------------------------

const memtypeError = (issue: { input?: unknown }) =>
  issue.input === undefined
    ? undefined
    : `expected a memtype 0, 1 or 2 (VCM_MEMTYPE_0..2), got ${JSON.stringify(issue.input)}`;

/** A memtype as scenarios write it: 0..2 for VCM_MEMTYPE_0..2 (the model's values 1..3). */
export const memtypeSchema = z
  .union([z.literal(0), z.literal(1), z.literal(2)], { error: memtypeError })
  .transform((n): Memtype => (n + 1) as Memtype)
  .meta({ description: "A memtype: 0, 1 or 2 for VCM_MEMTYPE_0, VCM_MEMTYPE_1, VCM_MEMTYPE_2." });

const prebuiltSpaceSchema = z
  .strictObject({
    table: objectNameSchema.meta({
      description: "The CPU's stage-1 page table it stands for (a page table of the machine).",
    }),
    start: sizeSchema.meta({ description: "The first virtual address reservations come from." }),
    len: sizeSchema.meta({ description: "The bytes of that range." }),
  })
  .meta({
    title: "Prebuilt address space",
    description: "A CPU address space vcm_create_from_prebuilt stands for.",
  });

/** The `vcm` key of the machine. */
export const vcmSectionSchema = z
  .strictObject({
    memtypes: z
      .array(
        z.strictObject({
          memtype: memtypeSchema,
          target: objectNameSchema.meta({
            description:
              "The chunk-pool target it allocates from: its pools are vcm_alloc's, its contiguous pool serves VCM_PHYS_CONT.",
          }),
        }),
      )
      .optional()
      .meta({ description: "The memory target of each memtype (default: none)." }),
    tables: objectNameSchema.meta({
      description:
        "The memory target (buddy or contiguous) SMMU context tables and clones' tables are allocated from.",
    }),
    smmus: z
      .array(
        z.strictObject({
          smmu: objectNameSchema.meta({
            description: "An SMMU of the machine: its contexts become VCM devices.",
          }),
          base: sizeSchema.optional().meta({
            description: "The configuration registers' base (smmu_get_base_addr; default 0).",
          }),
          irq: countSchema
            .optional()
            .meta({ description: "Its interrupt (default: its index in this list)." }),
          version: countSchema
            .optional()
            .meta({ description: "The hardware version vcm_hw_ver reports (default 1)." }),
        }),
      )
      .optional()
      .meta({ description: "The SMMUs the VCM drives: the seed's device tree (default: none)." }),
    prebuilt: z
      .strictObject({
        kernel: prebuiltSpaceSchema
          .optional()
          .meta({ description: "VCM_PREBUILT_KERNEL: the kernel's (TTBR1) address space." }),
        user: prebuiltSpaceSchema
          .optional()
          .meta({ description: "VCM_PREBUILT_USER: a user (TTBR0) address space." }),
      })
      .optional()
      .meta({ description: "The CPU address spaces vcm_create_from_prebuilt stands for." }),
    allowAliases: z.boolean().optional().meta({
      description:
        "Allow mappings of one page with conflicting memory types (counted; default: refused, EINVAL).",
    }),
  })
  .meta({
    title: "VCM",
    description:
      "The Virtual Contiguous Memory Manager (vcm_sys_init): memtypes, table memory, the SMMU device tree and prebuilt address spaces.",
  });

export type VcmSectionConfig = z.output<typeof vcmSectionSchema>;

// --- the manager in the machine ----------------------------------------------------------------

/** A fault hook a `vcm.hook` step installed, and how often it was called. */
export interface VcmHookRecord {
  readonly answer: "retry" | "terminate";
  calls: number;
}

/** The VCM manager of a scenario's machine and what the steps keep beside it. */
export interface ScenarioVcm {
  readonly manager: VcmManager;
  /** The fault hooks `vcm.hook` installed, by device name. */
  readonly hooks: Map<string, VcmHookRecord>;
}

/** The kind under which the machine keeps its VCM manager (one, named "vcm"). */
export const VCM_MANAGER = objectKind<ScenarioVcm>("VCM manager");

/** The machine's VCM manager, or undefined when the machine has no `vcm` section. */
export function scenarioVcm(objects: MachineObjects): ScenarioVcm | undefined {
  return objects.has(VCM_MANAGER, "vcm") ? objects.get(VCM_MANAGER, "vcm") : undefined;
}

/** The VCM spaces of the VCMs associated with a bus master (see the module's decisions). */
function spacesOf(platform: Platform, manager: VcmManager, device: string): string[] {
  let bank: { smmu: string; index: number } | undefined;
  try {
    const info = regimeInfoOf(platform, device);
    if (info.contextBank !== undefined && info.tlb !== undefined)
      bank = { smmu: info.tlb.owner, index: info.contextBank.index };
  } catch (e) {
    if (!isMemweaveError(e)) throw e;
  }
  const sees = (a: Association): boolean => {
    const d = a.device;
    if (d.name === device) return true;
    if (bank === undefined || !(d instanceof SmmuDev) || !d.live) return false;
    return d.driver?.name === bank.smmu && d.context === bank.index;
  };
  const found = manager
    .vcms()
    .flatMap((v) => v.associations())
    .filter(sees)
    .sort((a, b) => Number(b.active_) - Number(a.active_));
  return [...new Set(found.map((a) => `vcm:${a.vcm.name}`))];
}

// --- building --------------------------------------------------------------------------------------

function attempt(ctx: MachineBuildContext, path: DocPath, body: () => void): boolean {
  try {
    body();
    return true;
  } catch (e) {
    if (!isMemweaveError(e)) throw e;
    ctx.problem(path, e);
    return false;
  }
}

function buildVcm(ctx: MachineBuildContext, v: VcmSectionConfig): void {
  const at: DocPath = ["machine", "vcm"];
  const platform = ctx.platform;
  const refuse = () => ctx.refuse("vcm", "vcm");
  if (ctx.refused("target", v.tables)) return refuse();
  const tablesOk = attempt(
    ctx,
    [...at, "tables"],
    () => void new PhysTableMemory(platform.store, platform.target(v.tables)),
  );
  if (!tablesOk) return refuse();

  const memtypes: Array<{ memtype: Memtype; target: string }> = [];
  (v.memtypes ?? []).forEach((m, i) => {
    const mat: DocPath = [...at, "memtypes", i];
    if (ctx.refused("target", m.target)) return;
    if (memtypes.some((x) => x.memtype === m.memtype))
      return ctx.problem(
        [...mat, "memtype"],
        new MemweaveError("EINVAL", `${memtypeName(m.memtype)} is configured twice`),
      );
    // The model's own check of one memtype (a chunk-pool target), without its effects.
    const ok = attempt(
      ctx,
      [...mat, "target"],
      () => void new VcmManager(platform, { memtypes: [m], tables: v.tables }),
    );
    if (ok) memtypes.push(m);
  });

  const smmus: Array<{ smmu: string; base: number; irq: number; version?: number; at: number }> =
    [];
  const all = platform.devices().filter((d) => d.kind === "smmu");
  (v.smmus ?? []).forEach((s, i) => {
    const sat: DocPath = [...at, "smmus", i];
    if (ctx.refused("device", s.smmu)) return;
    const smmu = all.find((d) => d.name === s.smmu);
    if (smmu === undefined)
      return ctx.problem(
        [...sat, "smmu"],
        new MemweaveError(
          "ENODEV",
          `the machine has no SMMU "${s.smmu}" (have: ${all.map((d) => d.name).join(", ") || "none"})`,
        ),
      );
    if (smmus.some((x) => x.smmu === s.smmu))
      return ctx.problem(
        [...sat, "smmu"],
        new MemweaveError("EINVAL", `SMMU "${s.smmu}" is listed twice`),
      );
    const entry = {
      smmu: s.smmu,
      base: s.base ?? 0,
      irq: s.irq ?? i,
      ...(s.version !== undefined ? { version: s.version } : {}),
      at: i,
    };
    try {
      SmmuDriver.check(
        platform.device(s.smmu, Smmu),
        entry.base,
        entry.irq,
        s.version !== undefined ? { version: s.version } : {},
      );
      smmus.push(entry);
    } catch (e) {
      if (!isMemweaveError(e)) throw e;
      ctx.problem(fieldPath(sat, e), e);
    }
  });

  const prebuilt: { kernel?: PrebuiltSpace; user?: PrebuiltSpace } = {};
  for (const which of ["kernel", "user"] as const) {
    const p = v.prebuilt?.[which];
    if (p === undefined || ctx.refused("page table", p.table)) continue;
    attempt(ctx, [...at, "prebuilt", which, "table"], () => {
      const t = ctx.objects.get(PAGE_TABLE, p.table);
      prebuilt[which] = { table: t.table, start: p.start, len: p.len };
    });
  }

  const options: VcmManagerOptions = {
    memtypes,
    tables: v.tables,
    smmus: smmus.map(({ at: _at, ...s }) => s),
    prebuilt,
    ...(v.allowAliases !== undefined ? { allowAliases: v.allowAliases } : {}),
  };
  let manager: VcmManager | undefined;
  try {
    manager = new VcmManager(platform, options);
  } catch (e) {
    if (!isMemweaveError(e)) throw e;
    // The device tree's errors name their entry (`smmus.0.base`); a table it could not
    // allocate is the table memory's.
    const path =
      e.code === "ENOMEM"
        ? [...at, "tables"]
        : fieldPath(at, e, (f) =>
            f[0] === "smmus" && typeof f[1] === "number"
              ? ["smmus", smmus[f[1]]?.at ?? f[1], ...f.slice(2)]
              : [],
          );
    ctx.problem(path, e);
    return refuse();
  }
  const state: ScenarioVcm = { manager, hooks: new Map() };
  const built = manager;
  ctx.objects.add(VCM_MANAGER, "vcm", state);
  ctx.objects.add(DEVICE_ADDRESS_SPACES, "vcm", {
    spacesOf: (device) => spacesOf(platform, built, device),
  });
}

// --- the configuration as built -------------------------------------------------------------------

/** The VCM manager as built (the run's `machine.vcm`). */
export type VcmConfigSummary = {
  memtypes: Array<{
    memtype: string;
    target: string;
    contiguous?: { base: number; size: number };
  }>;
  tables: string;
  smmus: Array<{ smmu: string; base: number; irq: number; version: number; contexts: string[] }>;
  prebuilt: Array<{ id: "kernel" | "user"; table: string; start: number; len: number }>;
  allowAliases: boolean;
};

function configSummary(v: ScenarioVcm): VcmConfigSummary {
  const m = v.manager;
  const o = m.options;
  const platform = m.platform;
  const tree = m.devices.contexts();
  return {
    memtypes: o.memtypes.map((x) => {
      const cont = platform.target(x.target).chunkPool?.contiguous;
      return {
        memtype: memtypeName(x.memtype),
        target: x.target,
        ...(cont !== undefined ? { contiguous: { base: cont.base, size: cont.size } } : {}),
      };
    }),
    tables: o.tables,
    smmus: m.devices.drivers().map((d) => ({
      smmu: d.name,
      base: d.base,
      irq: d.irq,
      version: d.version,
      contexts: tree.find((n) => n.smmu === d.name)?.contexts.map((c) => c.name) ?? [],
    })),
    prebuilt: (["kernel", "user"] as const).flatMap((id) => {
      const p = o.prebuilt?.[id];
      return p === undefined ? [] : [{ id, table: p.table.name, start: p.start, len: p.len }];
    }),
    allowAliases: o.allowAliases === true,
  };
}

/** The configuration as a table for people (`memweave run`'s machine header). */
export function vcmConfigTable(c: VcmConfigSummary): ReportTable {
  const rows: string[][] = [];
  for (const m of c.memtypes)
    rows.push([
      m.memtype,
      `target ${m.target}${m.contiguous !== undefined ? `, contiguous ${hexRange(m.contiguous.base, m.contiguous.size)} (${showSize(m.contiguous.size)})` : ""}`,
    ]);
  rows.push(["tables", `target ${c.tables}`]);
  for (const s of c.smmus)
    rows.push([
      s.smmu,
      `base ${hex(s.base)}, irq ${s.irq}, version ${s.version}; contexts ${s.contexts.join(", ") || "none"}`,
    ]);
  for (const p of c.prebuilt)
    rows.push([`prebuilt ${p.id}`, `${p.table} ${hexRange(p.start, p.len)} (${showSize(p.len)})`]);
  rows.push(["aliases", c.allowAliases ? "allowed (counted)" : "refused (EINVAL)"]);
  return { title: "VCM manager", head: ["VCM", "configuration"], rows };
}

// --- the graph ---------------------------------------------------------------------------------------

/** A device the VCM drives: an SMMU context instance, or a CPU / one-to-one device associated. */
export type VcmDeviceRow = {
  name: string;
  kind: "smmu-context" | "cpu" | "one-to-one";
  /** SMMU context instances: their SMMU, hardware context, state and mappings. */
  smmu?: string;
  context?: number;
  active?: boolean;
  mappings?: number;
  associations: string[];
};

export type VcmRow = {
  name: string;
  /** device, one-to-one, ext-kernel, ext-user. */
  type: string;
  /** VCM_DEVICE, VCM_ONE_TO_ONE, VCM_EXT_KERNEL, VCM_EXT_USER. */
  typeName: string;
  start: number;
  len: number;
  /** vcm_get_pgtbl_pa, when it has one. */
  pgtblPa: number | null;
  /** The name of that page table (a prebuilt VCM's CPU table; a device VCM's context's). */
  table: string | null;
  reservations: number;
  bounds: number;
  associations: string[];
};

export type VcmAssociationRow = {
  name: string;
  vcm: string;
  device: string;
  attr: number;
  attrs: string;
  active: boolean;
};

export type VcmReservationRow = {
  name: string;
  vcm: string;
  /** Null for a one-to-one VCM's reservation not backed yet. */
  devAddr: number | null;
  len: number;
  attr: number;
  attrs: string;
  physmem: string | null;
  bound: string | null;
};

export type VcmBoundRow = {
  name: string;
  vcm: string;
  start: number;
  len: number;
  reservations: number;
};

export type VcmPhysmemRow = {
  name: string;
  /** VCM_MEMTYPE_n, or "mapped" (vcm_map_phys_addr). */
  memtype: string;
  len: number;
  attr: number;
  attrs: string;
  /** Chunks by size, largest first. */
  chunks: Array<{ size: number; count: number }>;
  /** Physically contiguous runs. */
  segments: Array<{ pa: number; len: number }>;
  backs: string[];
};

export type VcmHookRow = { device: string; answer: string; calls: number };

/** The VCM graph as the steps left it (the `vcm` statistics group, `memweave vcm`). */
export type VcmGraph = {
  devices: VcmDeviceRow[];
  vcms: VcmRow[];
  associations: VcmAssociationRow[];
  reservations: VcmReservationRow[];
  bounds: VcmBoundRow[];
  physmems: VcmPhysmemRow[];
  hooks: VcmHookRow[];
  stats: { backs: number; unbacks: number; pagesMapped: Record<string, number>; aliases: number };
};

/** A VCM's page table and its address, if it has one. */
export function vcmTable(vcm: Vcm): { pa: number; name: string } | undefined {
  if (vcm.table !== undefined) return { pa: vcm.table.root, name: vcm.table.name };
  const first = vcm.associations()[0]?.device;
  if (vcm.type !== "device" || !(first instanceof SmmuDev) || !first.live) return undefined;
  return { pa: first.table.root, name: first.table.name };
}

/** The VCM graph of a manager. */
export function vcmGraph(v: ScenarioVcm): VcmGraph {
  const m = v.manager;
  const vcms = m.vcms();
  const assocs = vcms.flatMap((x) => x.associations());
  const assocOf = (name: string) => assocs.filter((a) => a.device.name === name).map((a) => a.name);
  const devices: VcmDeviceRow[] = m.devices.contexts().flatMap((n) =>
    n.contexts.map((c) => ({
      name: c.name,
      kind: "smmu-context" as const,
      smmu: n.smmu,
      context: c.context,
      active: c.active,
      mappings: c.mappings,
      associations: assocOf(c.name),
    })),
  );
  for (const a of assocs) {
    const kind = deviceKind(a.device);
    if (kind === "smmu" || devices.some((d) => d.name === a.device.name)) continue;
    devices.push({ name: a.device.name, kind, associations: assocOf(a.device.name) });
  }
  const reservations = vcms.flatMap((x) => x.reservations());
  return {
    devices,
    vcms: vcms.map((x) => {
      const t = vcmTable(x);
      return {
        name: x.name,
        type: x.type,
        typeName: VcmManager.typeName(x.type),
        start: x.startAddr,
        len: x.len,
        pgtblPa: t?.pa ?? null,
        table: t?.name ?? null,
        reservations: x.reservations().length,
        bounds: x.bounds().length,
        associations: x.associations().map((a) => a.name),
      };
    }),
    associations: assocs.map((a) => ({
      name: a.name,
      vcm: a.vcm.name,
      device: a.device.name,
      attr: a.attr_,
      attrs: describeAssocAttr(a.attr_),
      active: a.active_,
    })),
    reservations: reservations.map((r) => ({
      name: r.name,
      vcm: r.vcm.name,
      devAddr: r.devAddr ?? null,
      len: r.len,
      attr: r.attr_,
      attrs: describeResAttr(r.attr_),
      physmem: r.physmem_?.name ?? null,
      bound: r.bound?.name ?? null,
    })),
    bounds: vcms.flatMap((x) =>
      x.bounds().map((b) => ({
        name: b.name,
        vcm: x.name,
        start: b.start,
        len: b.len,
        reservations: b.reservations().length,
      })),
    ),
    physmems: m.physmems().map((p) => {
      const bySize = new Map<number, number>();
      for (const c of p.chunks) bySize.set(c.size, (bySize.get(c.size) ?? 0) + 1);
      return {
        name: p.name,
        memtype: p.memtype === 0 ? "mapped" : memtypeName(p.memtype),
        len: p.len,
        attr: p.attr,
        attrs: describePhysAttr(p.attr),
        chunks: [...bySize].sort((a, b) => b[0] - a[0]).map(([size, count]) => ({ size, count })),
        segments: p.segments().map((s) => ({ pa: s.pa, len: s.len })),
        backs: [...p.backers].map((r) => r.name),
      };
    }),
    hooks: [...v.hooks].map(([device, h]) => ({ device, answer: h.answer, calls: h.calls })),
    stats: {
      backs: m.stats.backs,
      unbacks: m.stats.unbacks,
      pagesMapped: { ...m.stats.pagesMapped },
      aliases: m.stats.aliases,
    },
  };
}

/** The VCM graph of a machine, or undefined when it has no `vcm` section. */
export function machineVcmGraph(machine: BuiltMachine): VcmGraph | undefined {
  const v = scenarioVcm(machine.objects);
  return v === undefined ? undefined : vcmGraph(v);
}

const yes = (b: boolean) => (b ? "yes" : "no");
const list = (xs: readonly string[]) => (xs.length > 0 ? xs.join(", ") : "-");

/** Chunks by size for people: `16 x 64 KiB`. */
function showChunks(chunks: VcmPhysmemRow["chunks"]): string {
  return chunks.map((c) => `${c.count} x ${showSize(c.size)}`).join(" + ") || "-";
}

/** The VCM graph as tables for people; tables with nothing to show are left out. */
export function vcmGraphTables(g: VcmGraph): ReportTable[] {
  const tables: ReportTable[] = [];
  const add = (t: ReportTable) => void (t.rows.length > 0 && tables.push(t));
  add({
    title: "VCM devices",
    head: ["device", "kind", "smmu", "context", "active", "mappings", "associations"],
    rows: g.devices.map((d) => [
      d.name,
      d.kind,
      d.smmu ?? "-",
      d.context !== undefined ? String(d.context) : "-",
      d.active !== undefined ? yes(d.active) : "-",
      d.mappings !== undefined ? String(d.mappings) : "-",
      list(d.associations),
    ]),
  });
  add({
    title: "VCMs",
    head: ["VCM", "type", "range", "length", "page table", "reservations", "associations"],
    rows: g.vcms.map((v) => [
      v.name,
      v.typeName,
      hexRange(v.start, v.len),
      showSize(v.len),
      v.pgtblPa === null ? "-" : `${v.table ?? "?"} @ ${hex(v.pgtblPa)}`,
      String(v.reservations),
      list(v.associations),
    ]),
  });
  add({
    title: "VCM associations",
    head: ["association", "VCM", "device", "attributes", "active"],
    rows: g.associations.map((a) => [a.name, a.vcm, a.device, a.attrs, yes(a.active)]),
  });
  add({
    title: "VCM reservations",
    head: ["reservation", "VCM", "device addresses", "length", "attributes", "physmem"],
    rows: g.reservations.map((r) => [
      r.name + (r.bound !== null ? ` (in ${r.bound})` : ""),
      r.vcm,
      r.devAddr === null ? "(one-to-one, not backed)" : hexRange(r.devAddr, alignPage(r.len)),
      showSize(r.len),
      r.attrs,
      r.physmem ?? "-",
    ]),
  });
  add({
    title: "VCM bounds",
    head: ["bound", "VCM", "range", "length", "reservations"],
    rows: g.bounds.map((b) => [
      b.name,
      b.vcm,
      hexRange(b.start, b.len),
      showSize(b.len),
      String(b.reservations),
    ]),
  });
  add({
    title: "VCM physmems",
    head: ["physmem", "memtype", "length", "attributes", "chunks", "physical", "backs"],
    rows: g.physmems.map((p) => [
      p.name,
      p.memtype,
      showSize(p.len),
      p.attrs,
      showChunks(p.chunks),
      p.segments.length === 1
        ? hexRange(p.segments[0]!.pa, p.segments[0]!.len)
        : `${p.segments.length} segments from ${hex(p.segments[0]?.pa ?? 0)}`,
      list(p.backs),
    ]),
  });
  add({
    title: "VCM fault hooks",
    head: ["device", "answer", "calls"],
    rows: g.hooks.map((h) => [h.device, h.answer, String(h.calls)]),
  });
  const pages = Object.entries(g.stats.pagesMapped)
    .map(([size, n]) => `${n} x ${size}`)
    .join(", ");
  tables.push({
    title: "VCM statistics",
    head: ["backs", "unbacks", "pages mapped", "aliases"],
    rows: [[String(g.stats.backs), String(g.stats.unbacks), pages || "-", String(g.stats.aliases)]],
  });
  return tables;
}

function alignPage(n: number): number {
  return Math.ceil(n / 4096) * 4096;
}

// --- the module --------------------------------------------------------------------------------------

declare module "../machine-summary.js" {
  interface MachineSummary {
    vcm?: VcmConfigSummary;
  }
  interface MachineStatistics {
    vcm?: VcmGraph;
  }
}

/** The machine module of the VCM manager. */
export const vcmMachineModule = defineMachineModule({
  name: "vcm",
  shape: {
    vcm: vcmSectionSchema.optional(),
  },
  build(ctx, section) {
    if (section.vcm !== undefined) buildVcm(ctx, section.vcm);
  },
  summarize: (machine) => {
    const v = scenarioVcm(machine.objects);
    return v === undefined ? {} : { vcm: configSummary(v) };
  },
  statistics: [
    {
      key: "vcm",
      always: false,
      collect: (m) => machineVcmGraph(m),
      isEmpty: (v) => v === undefined,
      // `stats` calls these with what `collect` gave, also nothing (no vcm section).
      tables: (g: VcmGraph | undefined) => (g === undefined ? [] : vcmGraphTables(g)),
      summary: (g: VcmGraph | undefined) =>
        g === undefined
          ? []
          : [
              `${g.vcms.length} VCM${g.vcms.length === 1 ? "" : "s"}, ${g.reservations.length} reservation${g.reservations.length === 1 ? "" : "s"}, ${g.physmems.length} physmem${g.physmems.length === 1 ? "" : "s"}`,
            ],
    },
  ],
});
