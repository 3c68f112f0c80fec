/**
 * The translation part of the `machine` section: page tables (`pageTables`) and the bus masters
 * and SMMUs that translate through them (`devices`), as a {@link MachineModule}.
 *
 * ```yaml
 * pageTables:
 *   - { name: cpu-pt, format: { kind: lpae, stage: 1, granule: 4K, ias: 48, oas: 48 }, target: pgtables }
 *   - { name: dev-pt, format: { kind: v7s }, target: pgtables }
 * devices:
 *   - { kind: cpu, name: cpu0, ttbr0: cpu-pt, asid: 1, tlb: { sets: 16, ways: 4 } }
 *   - kind: smmu
 *     name: smmu0
 *     contexts: [{ name: dma, table: dev-pt }]   # bound, and active unless `active: false`
 *     masters: [{ name: dma0, context: dma }]   # a bus master named dma0
 *   - { kind: one-to-one, name: dma1, base: 0x8000_0000, size: 16M }
 *   - { kind: accelerator, name: npu0, table: npu-pt, localMemory: { name: hbm, base: 0x40_0000_0000, size: 1G } }
 * ```
 *
 * Page tables are built first, in order, each from its memory target (its root table is
 * allocated at once, so it shows in the target's statistics); then the devices, in order.
 * What the model refuses — an unknown target or table, a chunk-pool target, a table of the
 * wrong stage, an SMMU context whose ASID / VMID clash with another's (EBUSY), a name already
 * taken — is reported at the item, or at the field the error is about. A device that names a
 * refused table is skipped, so one mistake gives one error.
 *
 * Decisions:
 * - SMMU masters are bus masters with names of their own, unique among all devices (they are
 *   registered in the platform's device registry as `attachMaster` does): steps address them by
 *   that name (`dma0`), not as `smmu0/dma0`. The SMMU itself is addressed by its name for its
 *   TLB and contexts.
 * - A TLB's random-replacement seed defaults to one derived from the scenario's seed and the
 *   device's name, so `--seed` varies it and runs stay reproducible.
 */
import { z } from "zod";

import { isMemweaveError, MemweaveError } from "../../../base/errors.js";
import { Accelerator } from "../../../devices/accelerator.js";
import type { TlbGeometry } from "../../../devices/coherence.js";
import { Cpu } from "../../../devices/cpu.js";
import { OneToOneDevice } from "../../../devices/one-to-one.js";
import type { Platform } from "../../../devices/platform.js";
import { Smmu } from "../../../devices/smmu.js";
import type { PageTableFormat } from "../../../mmu/format.js";
import { createLpaeFormat } from "../../../mmu/lpae.js";
import { PageTable } from "../../../mmu/page-table.js";
import { PhysTableMemory } from "../../../mmu/table-memory.js";
import { createV7sFormat } from "../../../mmu/v7s.js";
import { showSize, showValue } from "../format.js";
import type { DocPath, MachineBuildContext } from "../machine-module.js";
import { defineMachineModule, fieldPath } from "../machine-module.js";
import { countSchema, objectNameSchema, sizeSchema } from "../values.js";
import { PAGE_TABLE } from "./translation-lookup.js";
import { translationReports } from "./translation-report.js";

export * from "./translation-lookup.js";

// --- schemas -----------------------------------------------------------------------------------

const GRANULES = [4096, 16384, 65536] as const;

function bitsMessage(what: string) {
  return (issue: { input?: unknown }): string | undefined =>
    issue.input === undefined
      ? undefined
      : `expected ${what} in bits, 32..48, got ${showValue(issue.input)}`;
}

function addressBits(what: string, description: string) {
  const error = bitsMessage(what);
  return z
    .number({ error })
    .int({ error })
    .min(32, { error })
    .max(48, { error })
    .default(48)
    .meta({ description });
}

const lpaeFormatSchema = z
  .strictObject({
    kind: z.literal("lpae"),
    stage: z.literal([1, 2]).meta({
      description: "1: VA -> PA (or IPA); 2: IPA -> PA, a VM's stage 2 (tagged by a VMID).",
    }),
    granule: sizeSchema
      .refine((n) => (GRANULES as readonly number[]).includes(n), {
        error: (issue) =>
          `expected a granule of 4K, 16K or 64K, got ${typeof issue.input === "number" ? showSize(issue.input) : showValue(issue.input)}`,
      })
      .default(4096)
      .meta({ description: "The translation granule: 4K, 16K or 64K (default 4K)." }),
    ias: addressBits("an input address size", "Input address size in bits, 32..48 (default 48)."),
    oas: addressBits("an output address size", "Output address size in bits, 32..48 (default 48)."),
  })
  .meta({
    title: "AArch64 long-descriptor format",
    description:
      "VMSAv8-64 (LPAE) as Linux io-pgtable-arm builds it: 4K granule pages 4K/2M/1G, 16K: 16K/32M, 64K: 64K/512M.",
  });

const v7sFormatSchema = z.strictObject({ kind: z.literal("v7s") }).meta({
  title: "ARMv7 short-descriptor format",
  description:
    "io-pgtable-arm-v7s (SMMU): 32-bit input and output, pages 4K, 64K, 1M sections, 16M supersections.",
});

const formatSchema = z
  .discriminatedUnion("kind", [lpaeFormatSchema, v7sFormatSchema])
  .meta({ description: "The descriptor format: lpae (stage 1 or 2) or v7s." });

/** A page table of the machine. */
export const pageTableSchema = z
  .strictObject({
    name: objectNameSchema.meta({ description: "The table's name, unique among page tables." }),
    format: formatSchema,
    target: objectNameSchema.meta({
      description:
        "The memory target its table pages are allocated from: a buddy or contiguous target.",
    }),
  })
  .meta({
    title: "Page table",
    description:
      "A page table whose descriptors live in simulated physical memory. Its root table is allocated when the machine is built.",
  });

const tableRef = (description: string) => objectNameSchema.meta({ description });

const tagError = (what: string) => (issue: { input?: unknown }) =>
  issue.input === undefined
    ? undefined
    : `expected ${what} 0..65535, got ${showValue(issue.input)}`;
const tagSchema = (what: string, description: string) =>
  z
    .number({ error: tagError(what) })
    .int({ error: tagError(what) })
    .min(0, { error: tagError(what) })
    .max(0xffff, { error: tagError(what) })
    .meta({ description });

const tlbSchema = z
  .strictObject({
    sets: countSchema
      .optional()
      .meta({ description: "Sets: a power of two >= 1 (1: fully associative)." }),
    ways: countSchema.optional().meta({ description: "Ways per set, >= 1 (1: direct mapped)." }),
    replacement: z
      .enum(["lru", "fifo", "random"])
      .optional()
      .meta({ description: "The replacement policy (default lru)." }),
    seed: countSchema.optional().meta({
      description: "Seed of the random policy (default: derived from the scenario's seed).",
    }),
  })
  .meta({
    title: "TLB geometry",
    description:
      "A set-associative TLB, tagged by ASID and VMID. Defaults: CPU 128 sets x 4 ways, SMMU and accelerator 64 x 4, LRU.",
  });

const cpuSchema = z
  .strictObject({
    kind: z.literal("cpu"),
    name: objectNameSchema.meta({ description: "The CPU's name, unique among devices." }),
    ttbr0: tableRef(
      "The stage-1 table for addresses below split (all addresses without one).",
    ).optional(),
    ttbr1: tableRef("The stage-1 table for addresses at or above split.").optional(),
    split: sizeSchema
      .optional()
      .meta({ description: "With ttbr1: the first address ttbr1 translates." }),
    asid: tagSchema(
      "an ASID",
      "The ASID its stage-1 TLB entries are tagged with (default 0).",
    ).optional(),
    stage2: tableRef(
      "A vCPU: the stage-2 table (IPA -> PA); its stage-1 tables are then in IPA space.",
    ).optional(),
    vmid: tagSchema("a VMID", "The VMID its TLB entries are tagged with (default 0).").optional(),
    tlb: tlbSchema.optional(),
  })
  .superRefine((d, ctx) => {
    if (d.ttbr1 !== undefined && d.split === undefined)
      ctx.addIssue({
        code: "custom",
        path: ["split"],
        message: 'missing required key "split" (ttbr1 needs a split)',
      });
    if (d.split !== undefined && d.ttbr1 === undefined)
      ctx.addIssue({ code: "custom", path: ["split"], message: "a split needs a ttbr1" });
  })
  .meta({
    title: "CPU",
    description:
      "A CPU: an MMU (TTBR0/TTBR1, ASID, optional stage 2 and VMID) with its own TLB. Accesses are privileged unless a step says otherwise.",
  });

const smmuContextSchema = z
  .strictObject({
    name: objectNameSchema.meta({ description: "The context bank's name, unique in the SMMU." }),
    table: tableRef(
      "The table it is bound to: a stage-1 table, or a stage-2 table alone (a device assigned to a VM). Absent: unbound, every access faults.",
    ).optional(),
    stage2: tableRef("Nested translation: a stage-2 table under the stage-1 table.").optional(),
    asid: tagSchema(
      "an ASID",
      "The ASID of its entries in the shared TLB (default: its index).",
    ).optional(),
    vmid: tagSchema("a VMID", "The VMID (default 0, or index + 1 with a stage 2).").optional(),
    active: z
      .boolean()
      .default(true)
      .meta({ description: "Activated when the machine is built (default true)." }),
  })
  .superRefine((c, ctx) => {
    if (c.table === undefined)
      for (const key of ["stage2", "asid", "vmid"] as const)
        if (c[key] !== undefined)
          ctx.addIssue({
            code: "custom",
            path: [key],
            message: `${key} is for a bound context: name its table first`,
          });
  })
  .meta({
    title: "SMMU context",
    description: "A context bank: a translation regime of the SMMU.",
  });

const smmuMasterSchema = z
  .strictObject({
    name: objectNameSchema.meta({
      description: "The master's name: a bus master, unique among devices.",
    }),
    context: objectNameSchema.meta({ description: "The context its accesses translate through." }),
  })
  .meta({ title: "SMMU master", description: "A device behind the SMMU (a stream master)." });

const smmuSchema = z
  .strictObject({
    kind: z.literal("smmu"),
    name: objectNameSchema.meta({ description: "The SMMU's name, unique among devices." }),
    tlb: tlbSchema.optional(),
    contexts: z
      .array(smmuContextSchema)
      .min(1, { error: "expected at least one context" })
      .meta({ description: "The context banks, numbered from 0 in this order." }),
    masters: z
      .array(smmuMasterSchema)
      .optional()
      .meta({ description: "The devices behind it (default: none)." }),
  })
  .meta({
    title: "SMMU",
    description: "An SMMU: context banks sharing one TLB, and the masters attached to them.",
  });

const oneToOneSchema = z
  .strictObject({
    kind: z.literal("one-to-one"),
    name: objectNameSchema.meta({ description: "The device's name, unique among devices." }),
    base: sizeSchema.meta({ description: "The physical window it reaches: its base." }),
    size: sizeSchema.meta({ description: "The window's size." }),
  })
  .meta({
    title: "One-to-one device",
    description:
      "A device without translation: its addresses are physical, within a window; outside it an access faults.",
  });

const acceleratorSchema = z
  .strictObject({
    kind: z.literal("accelerator"),
    name: objectNameSchema.meta({ description: "The accelerator's name, unique among devices." }),
    table: tableRef("Its own stage-1 table (absent: none yet, every access faults).").optional(),
    asid: tagSchema("an ASID", "The ASID of its TLB entries (default 0).").optional(),
    stage2: tableRef("A stage-2 table under its stage 1.").optional(),
    vmid: tagSchema("a VMID", "The VMID of its TLB entries (default 0).").optional(),
    tlb: tlbSchema.optional(),
    localMemory: z
      .strictObject({
        name: objectNameSchema.meta({ description: "The device-local region's name." }),
        base: sizeSchema.meta({ description: "Its physical base (4 KiB aligned)." }),
        size: sizeSchema.meta({ description: "Its size." }),
        target: objectNameSchema
          .optional()
          .meta({ description: "The buddy target over it (default: the region's name)." }),
      })
      .optional()
      .meta({
        description:
          "Memory on the device: a device-local region and a buddy target over it, added to the machine.",
      }),
  })
  .meta({
    title: "Accelerator",
    description: "An accelerator (GPU, NPU): an MMU and TLB of its own, and optional local memory.",
  });

/** A device of the machine. */
export const deviceSchema = z
  .discriminatedUnion("kind", [cpuSchema, smmuSchema, oneToOneSchema, acceleratorSchema])
  .meta({ description: "A device: cpu, smmu, one-to-one or accelerator." });

export type PageTableConfig = z.output<typeof pageTableSchema>;
export type DeviceConfig = z.output<typeof deviceSchema>;
type TlbConfig = z.output<typeof tlbSchema>;

// --- building --------------------------------------------------------------------------------

function createFormat(f: PageTableConfig["format"]): PageTableFormat {
  if (f.kind === "v7s") return createV7sFormat();
  return createLpaeFormat({
    stage: f.stage,
    granule: f.granule as 4096 | 16384 | 65536,
    ias: f.ias,
    oas: f.oas,
  });
}

/**
 * Run `body`; a MemweaveError it throws is reported at `path(error)` and `undefined` returned.
 */
function attempt<T>(
  ctx: MachineBuildContext,
  path: (e: MemweaveError) => DocPath,
  body: () => T,
): T | undefined {
  try {
    return body();
  } catch (e) {
    if (!isMemweaveError(e)) throw e;
    ctx.problem(path(e), e);
    return undefined;
  }
}

function buildPageTable(ctx: MachineBuildContext, t: PageTableConfig, i: number): void {
  const at: DocPath = ["machine", "pageTables", i];
  const refuse = () => ctx.refuse("page table", t.name);
  if (ctx.refused("target", t.target)) return refuse();
  if (ctx.objects.has(PAGE_TABLE, t.name))
    // The first table of that name stays.
    return ctx.problem(
      [...at, "name"],
      new MemweaveError("EEXIST", `page table "${t.name}" already exists`),
    );
  const format = attempt(
    ctx,
    () => [...at, "format"],
    () => createFormat(t.format),
  );
  const memory = attempt(
    ctx,
    () => [...at, "target"],
    () => new PhysTableMemory(ctx.platform.store, ctx.platform.target(t.target)),
  );
  if (format === undefined || memory === undefined) return refuse();
  const table = attempt(
    ctx,
    () => [...at, "target"], // the root could not be allocated from the target
    () => new PageTable(format, memory, { name: t.name, bus: ctx.platform.bus }),
  );
  if (table === undefined) return refuse();
  ctx.objects.add(PAGE_TABLE, t.name, { table, target: t.target });
}

/**
 * The table a field names: undefined when the field is absent; "skip" when the name is unknown
 * (reported here) or names a refused table (reported already), so the device is not built.
 */
type Resolve = (field: DocPath, name: string | undefined) => PageTable | undefined | "skip";

function tableResolver(ctx: MachineBuildContext, at: DocPath): Resolve {
  return (field, name) => {
    if (name === undefined) return undefined;
    if (ctx.refused("page table", name)) return "skip";
    const t = attempt(
      ctx,
      () => [...at, ...field],
      () => ctx.objects.get(PAGE_TABLE, name),
    );
    return t === undefined ? "skip" : t.table;
  };
}

function tlbGeometry(platform: Platform, device: string, t: TlbConfig | undefined): TlbGeometry {
  const g: TlbGeometry = {
    seed: t?.seed ?? platform.rng.fork(`tlb ${device}`).u32(),
  };
  if (t?.sets !== undefined) g.sets = t.sets;
  if (t?.ways !== undefined) g.ways = t.ways;
  if (t?.replacement !== undefined) g.replacement = t.replacement;
  return g;
}

/**
 * The scenario key of a device error's field: the model's option names are the scenario's,
 * but an accelerator's stage-1 table is its `table` (the model's `ttbr0`).
 */
function deviceKeys(kind: DeviceConfig["kind"]) {
  return (f: Array<string | number>): Array<string | number> =>
    kind === "accelerator" && f[0] === "ttbr0" ? ["table"] : f.slice(0, 1);
}

function buildDevice(ctx: MachineBuildContext, d: DeviceConfig, i: number): void {
  const at: DocPath = ["machine", "devices", i];
  const platform = ctx.platform;
  const resolve = tableResolver(ctx, at);
  const refuse = () => ctx.refuse("device", d.name);
  switch (d.kind) {
    case "cpu": {
      const ttbr0 = resolve(["ttbr0"], d.ttbr0);
      const ttbr1 = resolve(["ttbr1"], d.ttbr1);
      const stage2 = resolve(["stage2"], d.stage2);
      if (ttbr0 === "skip" || ttbr1 === "skip" || stage2 === "skip") return refuse();
      const cpu = attempt(
        ctx,
        (e) => fieldPath(at, e, deviceKeys(d.kind)),
        () =>
          new Cpu(platform, {
            name: d.name,
            ...(ttbr0 !== undefined ? { ttbr0 } : {}),
            ...(ttbr1 !== undefined ? { ttbr1 } : {}),
            ...(d.split !== undefined ? { split: d.split } : {}),
            ...(d.asid !== undefined ? { asid: d.asid } : {}),
            ...(stage2 !== undefined ? { stage2 } : {}),
            ...(d.vmid !== undefined ? { vmid: d.vmid } : {}),
            tlb: tlbGeometry(platform, d.name, d.tlb),
          }),
      );
      if (cpu === undefined) refuse();
      return;
    }
    case "one-to-one": {
      const dev = attempt(
        ctx,
        (e) => fieldPath(at, e, deviceKeys(d.kind)),
        () => new OneToOneDevice(platform, { name: d.name, base: d.base, size: d.size }),
      );
      if (dev === undefined) refuse();
      return;
    }
    case "accelerator": {
      const table = resolve(["table"], d.table);
      const stage2 = resolve(["stage2"], d.stage2);
      if (table === "skip" || stage2 === "skip") return refuse();
      const local = d.localMemory;
      const acc = attempt(
        ctx,
        (e) => fieldPath(at, e, deviceKeys(d.kind)),
        () =>
          new Accelerator(platform, {
            name: d.name,
            ...(table !== undefined ? { ttbr0: table } : {}),
            ...(d.asid !== undefined ? { asid: d.asid } : {}),
            ...(stage2 !== undefined ? { stage2 } : {}),
            ...(d.vmid !== undefined ? { vmid: d.vmid } : {}),
            tlb: tlbGeometry(platform, d.name, d.tlb),
            ...(local !== undefined
              ? {
                  localMemory: {
                    region: { name: local.name, base: local.base, size: local.size },
                    ...(local.target !== undefined ? { target: local.target } : {}),
                  },
                }
              : {}),
          }),
      );
      if (acc === undefined) refuse();
      return;
    }
    case "smmu":
      return buildSmmu(ctx, d, at);
  }
}

function buildSmmu(
  ctx: MachineBuildContext,
  d: Extract<DeviceConfig, { kind: "smmu" }>,
  at: DocPath,
): void {
  const platform = ctx.platform;
  const names = d.contexts.map((c) => c.name);
  const smmu = attempt(
    ctx,
    (e) => fieldPath(at, e, (f) => (f[0] === "contexts" ? f : f.slice(0, 1))),
    () =>
      new Smmu(platform, {
        name: d.name,
        contexts: names,
        tlb: tlbGeometry(platform, d.name, d.tlb),
      }),
  );
  if (smmu === undefined) return ctx.refuse("device", d.name);
  d.contexts.forEach((c, j) => {
    const cat: DocPath = [...at, "contexts", j];
    const resolve = tableResolver(ctx, cat);
    const table = resolve(["table"], c.table);
    const stage2 = resolve(["stage2"], c.stage2);
    if (table === "skip" || stage2 === "skip") return;
    const bank = smmu.contextBank(c.name);
    if (table !== undefined)
      attempt(
        ctx,
        // A tag clash (EBUSY) has no field: the context as a whole.
        (e) => fieldPath(cat, e, (f) => f.slice(0, 1)),
        () =>
          bank.bind(table, {
            ...(c.asid !== undefined ? { asid: c.asid } : {}),
            ...(stage2 !== undefined ? { stage2 } : {}),
            ...(c.vmid !== undefined ? { vmid: c.vmid } : {}),
          }),
      );
    if (c.active) bank.activate();
  });
  (d.masters ?? []).forEach((m, k) => {
    const mat: DocPath = [...at, "masters", k];
    const master = attempt(
      ctx,
      (e) => fieldPath(mat, e, (f) => f.slice(0, 1)),
      () => smmu.attachMaster(m.name, m.context),
    );
    if (master === undefined) ctx.refuse("device", m.name);
  });
}

/** The machine module of page tables and devices. */
export const translationMachine = defineMachineModule({
  name: "translation",
  shape: {
    pageTables: z
      .array(pageTableSchema)
      .optional()
      .meta({ description: "The page tables (default: none)." }),
    devices: z.array(deviceSchema).optional().meta({
      description:
        "The devices: CPUs, SMMUs and their masters, one-to-one devices, accelerators (default: none).",
    }),
  },
  build(ctx, section) {
    (section.pageTables ?? []).forEach((t, i) => buildPageTable(ctx, t, i));
    (section.devices ?? []).forEach((d, i) => buildDevice(ctx, d, i));
  },
  ...translationReports,
});
