/**
 * The steps of the Virtual Contiguous Memory Manager (`vcm.h`, the seed's API), namespaced
 * `vcm`: VCMs, reservations, bounds, physical memory, backing, associations and their
 * activation, translation between VCMs, reverse lookups, fault hooks and hardware versions,
 * queries with expectations, and the SMMU driver beneath (`smmu_map`, `smmu_unmap`,
 * `smmu_translate`). The machine's `vcm` section (`machine/vcm.ts`) builds the manager.
 *
 * | op                    | fields (the C call)                                                 |
 * | --------------------- | ------------------------------------------------------------------- |
 * | vcm.create            | start, len, as (vcm_create)                                         |
 * | vcm.createFromPrebuilt| id (kernel / user), as (vcm_create_from_prebuilt)                   |
 * | vcm.clone             | vcm, as (vcm_clone)                                                 |
 * | vcm.free              | vcm (vcm_free)                                                      |
 * | vcm.reserve           | vcm, len, attr, as (vcm_reserve)                                    |
 * | vcm.reserveAt         | vcm, len, attr, as (vcm_reserve_at VCM_START)                       |
 * | vcm.reserveFromBound  | bound, len, attr, as (vcm_reserve_from_bound)                       |
 * | vcm.createBound       | vcm, len, as (vcm_create_bound)                                     |
 * | vcm.freeBound         | bound (vcm_free_bound)                                              |
 * | vcm.unreserve         | res (vcm_unreserve)                                                 |
 * | vcm.setResAttr        | res, attr (vcm_set_res_attr)                                        |
 * | vcm.physAlloc         | memtype, len, attr?, as (vcm_phys_alloc)                            |
 * | vcm.mapPhysAddr       | pa, len, as (vcm_map_phys_addr)                                     |
 * | vcm.physFree          | physmem (vcm_phys_free)                                             |
 * | vcm.back / unback     | res, physmem / res (vcm_back, vcm_unback)                           |
 * | vcm.assoc             | vcm, device, attr?, as (vcm_assoc)                                  |
 * | vcm.deassoc, activate, deactivate | assoc                                                   |
 * | vcm.setAssocAttr      | assoc, attr (vcm_set_assoc_attr)                                    |
 * | vcm.copy              | to, toOff?, from, fromOff?, len, expect? (vcm_res_copy)             |
 * | vcm.translate         | addr, from, to, expect? (vcm_translate)                             |
 * | vcm.physRes           | pa, expect? (vcm_get_phys_num_res, vcm_get_next_phys_res)           |
 * | vcm.devAddrToPhys     | device, addr, expect? (vcm_dev_addr_to_phys_addr)                   |
 * | vcm.hook              | device, answer (vcm_hook: retry / terminate)                        |
 * | vcm.hwVer             | device, expect? (vcm_hw_ver)                                        |
 * | vcm.resInfo, vcmInfo, assocInfo, physInfo, boundInfo, hookInfo | the object, expect?        |
 * | vcm.contRegion        | memtype, expect? (vcm_get_cont_memtype_pa / _len)                   |
 * | vcm.minPageSize       | expect? (vcm_get_min_page_size)                                     |
 * | vcm.smmuMap / smmuUnmap / smmuTranslate | context, ... (smmu_map, smmu_unmap, smmu_translate) |
 *
 * **Attributes** are lists of the header's names without the `VCM_` prefix (`[READ, WRITE,
 * WB_WA, ALIGN_1M]`; physical `[PHYS_CONT, 1MB]`; association `[USE_LOW_BASE]`; SMMU
 * `[SH, CACHED_WB_WA]`), one name, or a number (the word as is; the model checks its bits). A
 * name the header does not have is a load error at its position naming the closest one; two
 * values of one field (two cache policies, two alignments) too.
 *
 * **Names.** `as` binds what a step creates under its own kind ({@link VCM}, {@link RESERVATION},
 * {@link PHYSMEM}, {@link ASSOCIATION}, {@link BOUND}) and is its name in the manager's reports
 * too. Names stand for addresses: a VCM its start and a reservation its device address, in the
 * space `vcm:<VCM name>` — so an `access` through a device associated with the VCM can write
 * `va: res1 + 0x100` (see `machine/vcm.ts`) —, a bound its start there, a physmem its first
 * physical address (`read` / `write` take `addr: pm1 + 16`).
 *
 * Decisions:
 * - A clone's reservations and bounds are bound under the names the manager gives them
 *   (`<clone>.res0`, …) when those names are free in the scenario.
 * - A one-to-one VCM's reservation has no device address until it is backed: its name has no
 *   address in the VCM's space until then (EINVAL when used).
 * - Memtypes are 0..2 for VCM_MEMTYPE_0..2 (the model's 1..3), as in the machine section.
 * - `vcm.physRes`'s `expect` is the set of reservation names (order not checked).
 * - `vcm.hook` counts the handler's calls; `vcm.hookInfo` checks the count, and the VCM graph
 *   (`memweave vcm`, the run's statistics) lists it.
 * - `vcm.smmuMap` / `vcm.smmuUnmap` are each one update bracket (`smmu_update_start`, the call,
 *   `smmu_update_done`).
 */
import { z } from "zod";

import { hex, hexRange } from "../../../base/address.js";
import { fail, isMemweaveError } from "../../../base/errors.js";
import type { Json } from "../../../base/events.js";
import { PROT } from "../../../mmu/prot.js";
import type { Association, Bound, Physmem, Reservation, Vcm } from "../../../vcm/index.js";
import {
  describeAssocAttr,
  describeDevAttr,
  describePhysAttr,
  describeResAttr,
  memtypeName,
  VCM_1MB,
  VCM_4KB,
  VCM_64KB,
  VCM_ALIGN_ATTR,
  VCM_ALL,
  VCM_COHERENT,
  VCM_DEV_ATTR_CACHED_WB_NWA,
  VCM_DEV_ATTR_CACHED_WB_WA,
  VCM_DEV_ATTR_CACHED_WT,
  VCM_DEV_ATTR_NON_SH,
  VCM_DEV_ATTR_NONCACHED,
  VCM_DEV_ATTR_SH,
  VCM_DEV_DEFAULT_ATTR,
  VCM_EXECUTE,
  VCM_NOTCACHED,
  VCM_PHYS_ALIGN,
  VCM_PHYS_CONT,
  VCM_PREBUILT_KERNEL,
  VCM_PREBUILT_USER,
  VCM_READ,
  VCM_SECURE,
  VCM_SPLIT,
  VCM_START,
  VCM_SUPERVISOR,
  VCM_USE_HIGH_BASE,
  VCM_USE_LOW_BASE,
  VCM_USER,
  VCM_WB_NWA,
  VCM_WB_WA,
  VCM_WRITE,
  VCM_WT,
  VcmManager,
} from "../../../vcm/index.js";
import { closest, showSize } from "../format.js";
import type { BuiltMachine, ObjectKind } from "../machine-module.js";
import { deviceAddressSpaces, objectKind } from "../machine-module.js";
import type { ScenarioVcm } from "../machine/vcm.js";
import { memtypeSchema, scenarioVcm, vcmTable } from "../machine/vcm.js";
import type {
  NameUse,
  StepContext,
  StepDefinition,
  StepModule,
  StepNames,
  StepProblem,
  StepReport,
} from "../step-module.js";
import { defineStep, PHYSICAL } from "../step-module.js";
import type { AddressExpr } from "../values.js";
import {
  addressSchema,
  allocationNameSchema,
  countSchema,
  objectNameSchema,
  showAddress,
  sizeSchema,
} from "../values.js";

// --- kinds of names ----------------------------------------------------------------------------

/** The kinds `as` binds VCM objects under. */
export const VCM = objectKind<Vcm>("VCM");
export const RESERVATION = objectKind<Reservation>("reservation");
export const PHYSMEM = objectKind<Physmem>("physmem");
export const ASSOCIATION = objectKind<Association>("association");
export const BOUND = objectKind<Bound>("bound");

/** The address space of a VCM's device addresses. */
export function vcmSpace(vcm: Vcm | string): string {
  return `vcm:${typeof vcm === "string" ? vcm : vcm.name}`;
}

/** The spaces a VCM's device address may be named in: its own; a one-to-one VCM's is physical. */
function spacesOfVcm(vcm: Vcm): string[] {
  return vcm.type === "one-to-one" ? [vcmSpace(vcm), PHYSICAL] : [vcmSpace(vcm)];
}

// --- attributes ------------------------------------------------------------------------------------

/** An attribute word's names: flags (ORed) and fields (one value each). */
interface AttrSpec {
  readonly what: string;
  readonly flags: Readonly<Record<string, number>>;
  readonly fields: ReadonlyArray<{
    readonly what: string;
    readonly values: Record<string, number>;
  }>;
}

const ALIGN_NAMES: Array<[string, number]> = [
  ["4K", 12],
  ["8K", 13],
  ["16K", 14],
  ["32K", 15],
  ["64K", 16],
  ["128K", 17],
  ["256K", 18],
  ["512K", 19],
  ["1M", 20],
  ["2M", 21],
  ["4M", 22],
  ["8M", 23],
  ["16M", 24],
  ["32M", 25],
  ["64M", 26],
  ["128M", 27],
  ["256M", 28],
  ["512M", 29],
  ["1GB", 30],
];

const RES_ATTR: AttrSpec = {
  what: "reservation",
  flags: {
    READ: VCM_READ,
    WRITE: VCM_WRITE,
    EXECUTE: VCM_EXECUTE,
    USER: VCM_USER,
    SUPERVISOR: VCM_SUPERVISOR,
    SECURE: VCM_SECURE,
  },
  fields: [
    {
      what: "cache policies",
      values: { NOTCACHED: VCM_NOTCACHED, WB_WA: VCM_WB_WA, WB_NWA: VCM_WB_NWA, WT: VCM_WT },
    },
    {
      what: "alignments",
      values: Object.fromEntries([
        ["ALIGN_DEFAULT", 0],
        ...ALIGN_NAMES.map(([n, order]) => [`ALIGN_${n}`, VCM_ALIGN_ATTR(order)]),
      ]) as Record<string, number>,
    },
  ],
};

const PHYS_ATTR: AttrSpec = {
  what: "physical allocation",
  flags: {
    COHERENT: VCM_COHERENT,
    PHYS_CONT: VCM_PHYS_CONT,
    ALL: VCM_ALL,
    "1MB": VCM_1MB,
    "64KB": VCM_64KB,
    "4KB": VCM_4KB,
  },
  fields: [
    {
      what: "alignments",
      values: Object.fromEntries(
        ALIGN_NAMES.map(([n, order]) => [`ALIGN_${n}`, VCM_PHYS_ALIGN(order)]),
      ),
    },
  ],
};

const ASSOC_ATTR: AttrSpec = {
  what: "association",
  flags: { USE_HIGH_BASE: VCM_USE_HIGH_BASE, USE_LOW_BASE: VCM_USE_LOW_BASE, SPLIT: VCM_SPLIT },
  fields: [],
};

const DEV_ATTR: AttrSpec = {
  what: "SMMU device",
  flags: {},
  fields: [
    { what: "shareabilities", values: { NON_SH: VCM_DEV_ATTR_NON_SH, SH: VCM_DEV_ATTR_SH } },
    {
      what: "cacheabilities",
      values: {
        NONCACHED: VCM_DEV_ATTR_NONCACHED,
        CACHED_WB_WA: VCM_DEV_ATTR_CACHED_WB_WA,
        CACHED_WB_NWA: VCM_DEV_ATTR_CACHED_WB_NWA,
        CACHED_WT: VCM_DEV_ATTR_CACHED_WT,
      },
    },
  ],
};

function namesOf(spec: AttrSpec): string[] {
  return [...Object.keys(spec.flags), ...spec.fields.flatMap((f) => Object.keys(f.values))];
}

/**
 * An attribute word: a list of names (`[READ, WRITE, WB_WA]`), one name, or a number. A bad
 * name is an error at its position naming the closest one; two values of one field too.
 */
function attrSchema(spec: AttrSpec, description: string) {
  const names = namesOf(spec);
  const nameSchema = z.string().meta({ enum: names });
  const message = (input: unknown) =>
    `expected ${spec.what} attributes: a list of names like ${names.slice(0, 3).join(", ")}, or a number, got ${JSON.stringify(input)}`;
  return z
    .union([z.number().int().min(0).max(0xffff_ffff), nameSchema, z.array(nameSchema)], {
      error: (issue) => (issue.input === undefined ? undefined : message(issue.input)),
    })
    .transform((value, ctx): number => {
      if (typeof value === "number") return value;
      const list = typeof value === "string" ? [value] : value;
      const at = (i: number) => (typeof value === "string" ? [] : [i]);
      let word = 0;
      const seen = new Map<number, string>();
      list.forEach((name, i) => {
        const flag = spec.flags[name];
        if (flag !== undefined) {
          word |= flag;
          return;
        }
        const f = spec.fields.findIndex((x) => x.values[name] !== undefined);
        if (f < 0) {
          const near = closest(name, names);
          ctx.issues.push({
            code: "custom",
            path: at(i),
            input: name,
            message: `unknown ${spec.what} attribute ${JSON.stringify(name)}${near !== undefined ? `, did you mean "${near}"?` : ""} (expected: ${names.join(", ")})`,
          });
          return;
        }
        const other = seen.get(f);
        if (other !== undefined && other !== name) {
          ctx.issues.push({
            code: "custom",
            path: at(i),
            input: name,
            message: `${other} and ${name} are both ${spec.fields[f]!.what}: give one`,
          });
          return;
        }
        seen.set(f, name);
        word |= spec.fields[f]!.values[name]!;
      });
      return word >>> 0;
    })
    .meta({ description });
}

const resAttr = (description: string) => attrSchema(RES_ATTR, description);
const RES_ATTR_DESCRIPTION =
  "The reservation's attributes: READ, WRITE, EXECUTE, USER, SUPERVISOR, SECURE, a cache policy (NOTCACHED, WB_WA, WB_NWA, WT) and an alignment (ALIGN_4K … ALIGN_1GB); or a number.";

// --- common parts --------------------------------------------------------------------------------

const asName = (what: string) =>
  allocationNameSchema.meta({
    description: `The name to bind the ${what} to, for later steps; also its name in the VCM manager's reports.`,
  });
const ref = (description: string) => objectNameSchema.meta({ description });
const vcmRef = ref("A VCM (a name bound by vcm.create, createFromPrebuilt or clone).");
const resRef = ref("A reservation (a name bound by vcm.reserve and its relatives).");
const physmemRef = ref("A physmem (a name bound by vcm.physAlloc or vcm.mapPhysAddr).");
const assocRef = ref("An association (a name bound by vcm.assoc).");
const boundRef = ref("A bound (a name bound by vcm.createBound).");
const deviceRef = ref(
  "A VCM device: an SMMU context of the VCM's device tree (by name, or smmu/context), a CPU or a one-to-one device.",
);
const contextRef = ref(
  "An SMMU context instance of the VCM's device tree (by name, or smmu/context).",
);

/** The machine's VCM manager (EINVAL without a `vcm` section; `check` says it at load time). */
function vcmOf(ctx: StepContext): ScenarioVcm {
  return (
    scenarioVcm(ctx.objects) ??
    fail("EINVAL", 'the machine has no "vcm" section: there is no VCM manager')
  );
}

/** Names a VCM step gives the machine, checked when the scenario is loaded. */
type VcmRef = readonly [field: string, kind: "device" | "context", name: string | undefined];

function checkVcm(op: string, machine: BuiltMachine, refs: readonly VcmRef[] = []): StepProblem[] {
  const v = scenarioVcm(machine.objects);
  if (v === undefined)
    return [
      {
        path: ["op"],
        code: "missing-section",
        message: `${op} needs the machine's "vcm" section (the VCM manager)`,
      },
    ];
  const problems: StepProblem[] = [];
  const contexts = v.manager.devices.instances().map((d) => d.name);
  for (const [field, kind, name] of refs) {
    if (name === undefined) continue;
    try {
      if (kind === "device") v.manager.device(name);
      else v.manager.devices.getCtxInstance(name);
    } catch (e) {
      if (!isMemweaveError(e)) throw e;
      const known =
        kind === "device"
          ? [
              ...contexts,
              ...machine.platform
                .devices()
                .filter((d) => d.kind === "cpu" || d.kind === "one-to-one")
                .map((d) => d.name),
            ]
          : contexts;
      const near = e.code === "ENOENT" ? closest(name, known) : undefined;
      problems.push({
        path: [field],
        code: e.code === "ENOENT" ? "unknown-name" : "bad-reference",
        ...(near !== undefined ? { suggestion: near } : {}),
        message:
          e.code === "ENOENT"
            ? `no VCM ${kind === "device" ? "device" : "SMMU context"} named "${name}"${near !== undefined ? `, did you mean "${near}"?` : ""} (have: ${known.join(", ") || "none"})`
            : e.detail,
      });
    }
  }
  return problems;
}

/** An object whose addresses are computed when asked (a one-to-one reservation's, once backed). */
function liveAddresses(space: string, get: () => number | undefined): Record<string, number> {
  const out = {} as Record<string, number>;
  Object.defineProperty(out, space, { enumerable: true, get });
  return out;
}

function bindVcm(ctx: StepContext, name: string, vcm: Vcm): void {
  ctx.bind(name, {
    kind: VCM,
    value: vcm,
    isLive: () => vcm.valid,
    addresses: { [vcmSpace(vcm)]: vcm.startAddr },
  });
}

function bindReservation(ctx: StepContext, name: string, res: Reservation): void {
  ctx.bind(name, {
    kind: RESERVATION,
    value: res,
    isLive: () => res.valid,
    addresses: liveAddresses(vcmSpace(res.vcm), () => res.devAddr),
  });
}

function bindBound(ctx: StepContext, name: string, bound: Bound): void {
  ctx.bind(name, {
    kind: BOUND,
    value: bound,
    isLive: () => bound.valid,
    addresses: { [vcmSpace(bound.vcm)]: bound.start },
  });
}

function bindPhysmem(ctx: StepContext, name: string, p: Physmem): void {
  ctx.bind(name, {
    kind: PHYSMEM,
    value: p,
    isLive: () => p.valid,
    addresses: { [PHYSICAL]: p.chunks[0]!.pa },
  });
}

/** One expectation: `what = want`, or what was found instead. */
function expectValue<T>(
  ctx: StepContext,
  what: string,
  want: T,
  got: T,
  show: (x: T) => string = (x) => String(x),
): void {
  const same = want === got;
  ctx.expect(
    same,
    same ? `${what} = ${show(want)}` : `${what}: expected ${show(want)}, got ${show(got)}`,
  );
}

const showHex = (x: number | null) => (x === null ? "none" : hex(x));
const showName = (x: string | null) => (x === null ? "none" : x);

function reservationJson(r: Reservation): { [key: string]: Json } {
  return {
    res: r.name,
    vcm: r.vcm.name,
    devAddr: r.devAddr ?? null,
    len: r.len,
    attr: r.attr_,
    attrs: describeResAttr(r.attr_),
    physmem: r.physmem_?.name ?? null,
  };
}

function physmemJson(p: Physmem): { [key: string]: Json } {
  return {
    physmem: p.name,
    memtype: p.memtype === 0 ? null : p.memtype - 1,
    len: p.len,
    attr: p.attr,
    attrs: describePhysAttr(p.attr),
    chunks: p.chunks.map((c) => ({ pa: c.pa, size: c.size })),
  };
}

function vcmJson(v: Vcm): { [key: string]: Json } {
  return {
    vcm: v.name,
    type: v.type,
    typeName: VcmManager.typeName(v.type),
    start: v.startAddr,
    len: v.len,
  };
}

/** Chunks by size for a summary: `16×64 KiB`. */
function chunkSummary(p: Physmem): string {
  const bySize = new Map<number, number>();
  for (const c of p.chunks) bySize.set(c.size, (bySize.get(c.size) ?? 0) + 1);
  const sizes = [...bySize].map(([size, n]) => `${n}×${showSize(size)}`).join(" + ");
  return `${sizes} from ${hex(p.chunks[0]!.pa)}`;
}

function resSummary(r: Reservation): string {
  const where =
    r.devAddr === undefined ? "(one-to-one: no address until backed)" : hexRange(r.devAddr, r.size);
  return `${r.name}: ${where} ${describeResAttr(r.attr_)}`;
}

// --- VCMs ------------------------------------------------------------------------------------------

const create = defineStep({
  schema: z
    .strictObject({
      op: z.literal("vcm.create"),
      start: sizeSchema.meta({ description: "The first device address of the VCM." }),
      len: sizeSchema.meta({ description: "Its length in bytes." }),
      as: asName("VCM"),
    })
    .meta({
      title: "vcm.create",
      description:
        "vcm_create: a device (IOMMU) VCM over [start, start+len), or a one-to-one VCM when the range is exactly a memory region or a memtype's contiguous region.",
    }),
  describe: (s) => `vcm_create ${hex(s.start)}+${showSize(s.len)} as ${s.as}`,
  check: (s, m) => checkVcm(s.op, m),
  run(ctx, step) {
    const { manager } = vcmOf(ctx);
    ctx.checkName(step.as);
    const vcm = manager.create(step.start, step.len, step.as);
    bindVcm(ctx, step.as, vcm);
    return { summary: vcm.describe(), output: vcmJson(vcm) };
  },
});

const createFromPrebuilt = defineStep({
  schema: z
    .strictObject({
      op: z.literal("vcm.createFromPrebuilt"),
      id: z.enum(["kernel", "user"]).meta({
        description: "VCM_PREBUILT_KERNEL (the kernel's TTBR1 space) or VCM_PREBUILT_USER (TTBR0).",
      }),
      as: asName("VCM"),
    })
    .meta({
      title: "vcm.createFromPrebuilt",
      description:
        "vcm_create_from_prebuilt: the VCM of a CPU address space configured in the machine's vcm.prebuilt (ENODEV if none; EBUSY if one stands for it already).",
    }),
  describe: (s) => `vcm_create_from_prebuilt ${s.id} as ${s.as}`,
  check: (s, m) => checkVcm(s.op, m),
  run(ctx, step) {
    const { manager } = vcmOf(ctx);
    ctx.checkName(step.as);
    const id = step.id === "kernel" ? VCM_PREBUILT_KERNEL : VCM_PREBUILT_USER;
    const vcm = manager.createFromPrebuilt(id, step.as);
    bindVcm(ctx, step.as, vcm);
    return { summary: vcm.describe(), output: vcmJson(vcm) };
  },
});

const clone = defineStep({
  schema: z
    .strictObject({
      op: z.literal("vcm.clone"),
      vcm: vcmRef,
      as: asName("clone"),
    })
    .meta({
      title: "vcm.clone",
      description:
        "vcm_clone: a deep copy of a VCM — its bounds and reservations at the same addresses, backed by the same physmems; they are bound under the names the manager gives them (<clone>.res0, …).",
    }),
  describe: (s) => `vcm_clone ${s.vcm} as ${s.as}`,
  check: (s, m) => checkVcm(s.op, m),
  run(ctx, step) {
    vcmOf(ctx);
    const src = ctx.lookup(step.vcm, VCM);
    ctx.checkName(step.as);
    const vcm = src.clone(step.as);
    bindVcm(ctx, step.as, vcm);
    const bound: string[] = [];
    const free = (name: string) => {
      try {
        ctx.checkName(name);
        return true;
      } catch (e) {
        if (isMemweaveError(e, "EEXIST")) return false;
        throw e;
      }
    };
    for (const b of vcm.bounds())
      if (free(b.name)) {
        bindBound(ctx, b.name, b);
        bound.push(b.name);
      }
    for (const r of vcm.reservations())
      if (free(r.name)) {
        bindReservation(ctx, r.name, r);
        bound.push(r.name);
      }
    return {
      summary: `${vcm.describe()}; ${vcm.reservations().length} reservation(s) (${
        vcm
          .reservations()
          .map((r) => r.name)
          .join(", ") || "none"
      })`,
      output: { ...vcmJson(vcm), names: bound },
    };
  },
});

const free = defineStep({
  schema: z.strictObject({ op: z.literal("vcm.free"), vcm: vcmRef }).meta({
    title: "vcm.free",
    description: "vcm_free: EBUSY while it has reservations, associations or bounds.",
  }),
  describe: (s) => `vcm_free ${s.vcm}`,
  check: (s, m) => checkVcm(s.op, m),
  run(ctx, step) {
    vcmOf(ctx);
    const vcm = ctx.lookup(step.vcm, VCM);
    vcm.free();
    return { summary: `${vcm.name} freed`, output: { vcm: vcm.name } };
  },
});

// --- reservations and bounds -------------------------------------------------------------------

function reserveReport(r: Reservation): StepReport {
  return { summary: resSummary(r), output: reservationJson(r) };
}

const reserve = defineStep({
  schema: z
    .strictObject({
      op: z.literal("vcm.reserve"),
      vcm: vcmRef,
      len: sizeSchema.meta({ description: "Bytes to reserve (rounded up to 4 KiB pages)." }),
      attr: resAttr(RES_ATTR_DESCRIPTION),
      as: asName("reservation"),
    })
    .meta({
      title: "vcm.reserve",
      description:
        "vcm_reserve: a contiguous range of the VCM's device addresses, aligned to the attribute's alignment or to the largest page size no larger than the length (ENOMEM if none fits).",
    }),
  describe: (s) =>
    `vcm_reserve ${showSize(s.len)} of ${s.vcm} (${describeResAttr(s.attr)}) as ${s.as}`,
  check: (s, m) => checkVcm(s.op, m),
  run(ctx, step) {
    vcmOf(ctx);
    const vcm = ctx.lookup(step.vcm, VCM);
    ctx.checkName(step.as);
    const r = vcm.reserve(step.len, step.attr, step.as);
    bindReservation(ctx, step.as, r);
    return reserveReport(r);
  },
});

const reserveAt = defineStep({
  schema: z
    .strictObject({
      op: z.literal("vcm.reserveAt"),
      vcm: vcmRef,
      len: sizeSchema.meta({ description: "Bytes to reserve." }),
      attr: resAttr(RES_ATTR_DESCRIPTION),
      as: asName("reservation"),
    })
    .meta({
      title: "vcm.reserveAt",
      description:
        "vcm_reserve_at(VCM_START, ...): a reservation at the VCM's first page (EBUSY if any of it is reserved; EINVAL on a one-to-one VCM).",
    }),
  describe: (s) =>
    `vcm_reserve_at VCM_START ${showSize(s.len)} of ${s.vcm} (${describeResAttr(s.attr)}) as ${s.as}`,
  check: (s, m) => checkVcm(s.op, m),
  run(ctx, step) {
    vcmOf(ctx);
    const vcm = ctx.lookup(step.vcm, VCM);
    ctx.checkName(step.as);
    const r = vcm.reserveAt(VCM_START, step.len, step.attr, step.as);
    bindReservation(ctx, step.as, r);
    return reserveReport(r);
  },
});

const reserveFromBound = defineStep({
  schema: z
    .strictObject({
      op: z.literal("vcm.reserveFromBound"),
      bound: boundRef,
      len: sizeSchema.meta({ description: "Bytes to reserve." }),
      attr: resAttr(RES_ATTR_DESCRIPTION),
      as: asName("reservation"),
    })
    .meta({
      title: "vcm.reserveFromBound",
      description: "vcm_reserve_from_bound: a reservation inside a bound of a VCM.",
    }),
  describe: (s) =>
    `vcm_reserve_from_bound ${showSize(s.len)} of ${s.bound} (${describeResAttr(s.attr)}) as ${s.as}`,
  check: (s, m) => checkVcm(s.op, m),
  run(ctx, step) {
    vcmOf(ctx);
    const bound = ctx.lookup(step.bound, BOUND);
    ctx.checkName(step.as);
    const r = bound.reserve(step.len, step.attr, step.as);
    bindReservation(ctx, step.as, r);
    return reserveReport(r);
  },
});

const createBound = defineStep({
  schema: z
    .strictObject({
      op: z.literal("vcm.createBound"),
      vcm: vcmRef,
      len: sizeSchema.meta({ description: "The bound's length." }),
      as: asName("bound"),
    })
    .meta({
      title: "vcm.createBound",
      description:
        "vcm_create_bound: a sub-range of the VCM that reservations can be made from (EINVAL on a one-to-one VCM).",
    }),
  describe: (s) => `vcm_create_bound ${showSize(s.len)} of ${s.vcm} as ${s.as}`,
  check: (s, m) => checkVcm(s.op, m),
  run(ctx, step) {
    vcmOf(ctx);
    const vcm = ctx.lookup(step.vcm, VCM);
    ctx.checkName(step.as);
    const b = vcm.createBound(step.len, step.as);
    bindBound(ctx, step.as, b);
    return {
      summary: b.describe(),
      output: { bound: b.name, vcm: vcm.name, start: b.start, len: b.len },
    };
  },
});

const freeBound = defineStep({
  schema: z.strictObject({ op: z.literal("vcm.freeBound"), bound: boundRef }).meta({
    title: "vcm.freeBound",
    description: "vcm_free_bound: EBUSY while it holds reservations.",
  }),
  describe: (s) => `vcm_free_bound ${s.bound}`,
  check: (s, m) => checkVcm(s.op, m),
  run(ctx, step) {
    vcmOf(ctx);
    const b = ctx.lookup(step.bound, BOUND);
    b.free();
    return { summary: `${b.name} freed`, output: { bound: b.name } };
  },
});

const unreserve = defineStep({
  schema: z
    .strictObject({ op: z.literal("vcm.unreserve"), res: resRef })
    .meta({ title: "vcm.unreserve", description: "vcm_unreserve: EBUSY while backed." }),
  describe: (s) => `vcm_unreserve ${s.res}`,
  check: (s, m) => checkVcm(s.op, m),
  run(ctx, step) {
    vcmOf(ctx);
    const r = ctx.lookup(step.res, RESERVATION);
    r.unreserve();
    return { summary: `${r.name} unreserved`, output: { res: r.name } };
  },
});

const setResAttr = defineStep({
  schema: z
    .strictObject({
      op: z.literal("vcm.setResAttr"),
      res: resRef,
      attr: resAttr(RES_ATTR_DESCRIPTION),
    })
    .meta({
      title: "vcm.setResAttr",
      description:
        "vcm_set_res_attr: new attributes; a backed reservation's mappings change in every associated device (refused like a backing when the new memory type would alias).",
    }),
  describe: (s) => `vcm_set_res_attr ${s.res} ${describeResAttr(s.attr)}`,
  check: (s, m) => checkVcm(s.op, m),
  run(ctx, step) {
    vcmOf(ctx);
    const r = ctx.lookup(step.res, RESERVATION);
    r.setAttr(step.attr);
    return reserveReport(r);
  },
});

// --- physical memory -------------------------------------------------------------------------

const physAlloc = defineStep({
  schema: z
    .strictObject({
      op: z.literal("vcm.physAlloc"),
      memtype: memtypeSchema,
      len: sizeSchema.meta({ description: "Bytes to allocate." }),
      attr: attrSchema(
        PHYS_ATTR,
        "The allocation's attributes: PHYS_CONT, COHERENT, the page sizes allowed (ALL, 1MB, 64KB, 4KB) and an alignment (ALIGN_4K … ALIGN_1GB); or a number (default 0: chunks of every size).",
      ).optional(),
      as: asName("physmem"),
    })
    .meta({
      title: "vcm.physAlloc",
      description:
        "vcm_phys_alloc: memory of a memtype — chunks by max-munch from its pools, or one contiguous range (PHYS_CONT) from its contiguous pool.",
    }),
  describe: (s) =>
    `vcm_phys_alloc ${memtypeName(s.memtype)} ${showSize(s.len)} (${describePhysAttr(s.attr ?? 0)}) as ${s.as}`,
  check: (s, m) => checkVcm(s.op, m),
  run(ctx, step) {
    const { manager } = vcmOf(ctx);
    ctx.checkName(step.as);
    const p = manager.physAlloc(step.memtype, step.len, step.attr ?? 0, step.as);
    bindPhysmem(ctx, step.as, p);
    return { summary: `${p.name}: ${chunkSummary(p)}`, output: physmemJson(p) };
  },
});

const mapPhysAddr = defineStep({
  schema: z
    .strictObject({
      op: z.literal("vcm.mapPhysAddr"),
      pa: addressSchema.meta({
        description: "The physical address (4 KiB aligned; an allocation name works).",
      }),
      len: sizeSchema.meta({ description: "Its length." }),
      as: asName("physmem"),
    })
    .meta({
      title: "vcm.mapPhysAddr",
      description:
        "vcm_map_phys_addr: a physmem for a contiguous physical range the VCM did not allocate (a carve-out).",
    }),
  describe: (s) => `vcm_map_phys_addr ${showAddress(s.pa)}+${showSize(s.len)} as ${s.as}`,
  check: (s, m) => checkVcm(s.op, m),
  run(ctx, step) {
    const { manager } = vcmOf(ctx);
    const pa = ctx.resolve(step.pa);
    ctx.checkName(step.as);
    const p = manager.mapPhysAddr(pa, step.len, step.as);
    bindPhysmem(ctx, step.as, p);
    return { summary: `${p.name}: ${chunkSummary(p)}`, output: physmemJson(p) };
  },
});

const physFree = defineStep({
  schema: z.strictObject({ op: z.literal("vcm.physFree"), physmem: physmemRef }).meta({
    title: "vcm.physFree",
    description: "vcm_phys_free: give the memory back (EBUSY while it backs reservations).",
  }),
  describe: (s) => `vcm_phys_free ${s.physmem}`,
  check: (s, m) => checkVcm(s.op, m),
  run(ctx, step) {
    vcmOf(ctx);
    const p = ctx.lookup(step.physmem, PHYSMEM);
    p.free();
    return { summary: `${p.name} freed`, output: { physmem: p.name } };
  },
});

const back = defineStep({
  schema: z.strictObject({ op: z.literal("vcm.back"), res: resRef, physmem: physmemRef }).meta({
    title: "vcm.back",
    description:
      "vcm_back: map the reservation to the physmem in every associated device, with the largest pages the chunks allow (all or nothing; EINVAL for a length mismatch or an attribute alias, EAGAIN with an inactive association).",
  }),
  describe: (s) => `vcm_back ${s.res} with ${s.physmem}`,
  check: (s, m) => checkVcm(s.op, m),
  run(ctx, step) {
    vcmOf(ctx);
    const r = ctx.lookup(step.res, RESERVATION);
    const p = ctx.lookup(step.physmem, PHYSMEM);
    r.back(p);
    const devices = r.vcm.associations().map((a) => a.device.name);
    return {
      summary: `${r.name} ${hexRange(r.devAddr!, r.size)} -> ${p.name} in ${devices.join(", ")}`,
      output: { ...reservationJson(r), devices },
    };
  },
});

const unback = defineStep({
  schema: z.strictObject({ op: z.literal("vcm.unback"), res: resRef }).meta({
    title: "vcm.unback",
    description:
      "vcm_unback: unmap the reservation from every associated device (their TLBs invalidated) and forget its physmem.",
  }),
  describe: (s) => `vcm_unback ${s.res}`,
  check: (s, m) => checkVcm(s.op, m),
  run(ctx, step) {
    vcmOf(ctx);
    const r = ctx.lookup(step.res, RESERVATION);
    const was = r.physmem_?.name ?? null;
    r.unback();
    return {
      summary: `${r.name} no longer backed by ${was ?? "?"}`,
      output: { res: r.name, physmem: was },
    };
  },
});

// --- associations ------------------------------------------------------------------------------

const ASSOC_ATTR_DESCRIPTION =
  "The association's attributes: USE_HIGH_BASE, USE_LOW_BASE, SPLIT; or a number (default 0).";

function assocReport(a: Association): StepReport {
  return {
    summary: a.describe(),
    output: {
      assoc: a.name,
      vcm: a.vcm.name,
      device: a.device.name,
      attr: a.attr_,
      attrs: describeAssocAttr(a.attr_),
      active: a.active_,
    },
  };
}

const assoc = defineStep({
  schema: z
    .strictObject({
      op: z.literal("vcm.assoc"),
      vcm: vcmRef,
      device: deviceRef,
      attr: attrSchema(ASSOC_ATTR, ASSOC_ATTR_DESCRIPTION).optional(),
      as: asName("association"),
    })
    .meta({
      title: "vcm.assoc",
      description:
        "vcm_assoc: associate a VCM with a device — an SMMU context for a device VCM, a CPU for a prebuilt one, a one-to-one device for a one-to-one VCM.",
    }),
  describe: (s) =>
    `vcm_assoc ${s.vcm} with ${s.device} (${describeAssocAttr(s.attr ?? 0)}) as ${s.as}`,
  check: (s, m) => checkVcm(s.op, m, [["device", "device", s.device]]),
  run(ctx, step) {
    const { manager } = vcmOf(ctx);
    const vcm = ctx.lookup(step.vcm, VCM);
    const device = manager.device(step.device);
    ctx.checkName(step.as);
    const a = vcm.assoc(device, step.attr ?? 0, step.as);
    ctx.bind(step.as, { kind: ASSOCIATION, value: a, isLive: () => a.valid });
    return assocReport(a);
  },
});

function assocStep<Op extends string>(
  op: Op,
  call: string,
  description: string,
  act: (a: Association) => void,
) {
  return defineStep({
    schema: z.strictObject({ op: z.literal(op), assoc: assocRef }).meta({ title: op, description }),
    describe: (s) => `${call} ${s.assoc}`,
    check: (s, m) => checkVcm(s.op, m),
    run(ctx, step) {
      vcmOf(ctx);
      const a = ctx.lookup(step.assoc, ASSOCIATION);
      act(a);
      return assocReport(a);
    },
  });
}

const deassoc = assocStep(
  "vcm.deassoc",
  "vcm_deassoc",
  "vcm_deassoc: EBUSY while active; a device VCM's mappings leave the device.",
  (a) => a.deassoc(),
);
const activate = assocStep(
  "vcm.activate",
  "vcm_activate",
  "vcm_activate: program the device with the VCM's mappings and switch it on (an SMMU context: a context switch; a CPU: its TTBR loaded). EBUSY if active.",
  (a) => a.activate(),
);
const deactivate = assocStep(
  "vcm.deactivate",
  "vcm_deactivate",
  "vcm_deactivate: an SMMU context faults from then on; a CPU keeps its table. ENOENT if not active.",
  (a) => a.deactivate(),
);

const setAssocAttr = defineStep({
  schema: z
    .strictObject({
      op: z.literal("vcm.setAssocAttr"),
      assoc: assocRef,
      attr: attrSchema(ASSOC_ATTR, ASSOC_ATTR_DESCRIPTION),
    })
    .meta({
      title: "vcm.setAssocAttr",
      description: "vcm_set_assoc_attr: EBUSY while active.",
    }),
  describe: (s) => `vcm_set_assoc_attr ${s.assoc} ${describeAssocAttr(s.attr)}`,
  check: (s, m) => checkVcm(s.op, m),
  run(ctx, step) {
    vcmOf(ctx);
    const a = ctx.lookup(step.assoc, ASSOCIATION);
    a.setAttr(step.attr);
    return assocReport(a);
  },
});

// --- across VCMs ---------------------------------------------------------------------------------

const copy = defineStep({
  schema: z
    .strictObject({
      op: z.literal("vcm.copy"),
      to: resRef,
      toOff: sizeSchema.optional().meta({ description: "Offset into `to` (default 0)." }),
      from: resRef,
      fromOff: sizeSchema.optional().meta({ description: "Offset into `from` (default 0)." }),
      len: sizeSchema.meta({ description: "Bytes to copy (clipped to both reservations)." }),
      expect: sizeSchema
        .optional()
        .meta({ description: "The bytes it must report copied (an expectation)." }),
    })
    .meta({
      title: "vcm.copy",
      description:
        "vcm_res_copy: copy bytes between two backed reservations, through their memory.",
    }),
  describe: (s) =>
    `vcm_res_copy ${showSize(s.len)} from ${s.from}+${hex(s.fromOff ?? 0)} to ${s.to}+${hex(s.toOff ?? 0)}`,
  check: (s, m) => checkVcm(s.op, m),
  run(ctx, step) {
    const { manager } = vcmOf(ctx);
    const to = ctx.lookup(step.to, RESERVATION);
    const from = ctx.lookup(step.from, RESERVATION);
    const n = manager.resCopy(to, step.toOff ?? 0, from, step.fromOff ?? 0, step.len);
    if (step.expect !== undefined)
      expectValue(ctx, `bytes copied from ${from.name} to ${to.name}`, step.expect, n, showSize);
    return { summary: `${n} bytes copied`, output: { to: to.name, from: from.name, copied: n } };
  },
});

const translate = defineStep({
  schema: z
    .strictObject({
      op: z.literal("vcm.translate"),
      addr: addressSchema.meta({
        description:
          "A device address of `from`: a number, or a reservation of it plus or minus an offset (res1 + 0x10).",
      }),
      from: vcmRef,
      to: vcmRef,
      expect: addressSchema.optional().meta({
        description:
          "The device address of `to` it must give: a number or a reservation of `to` plus an offset.",
      }),
    })
    .meta({
      title: "vcm.translate",
      description:
        "vcm_translate: the device address in `to` that maps the same physical memory as `addr` in `from` (ENOENT when none does).",
    }),
  describe: (s) => `vcm_translate ${showAddress(s.addr)} from ${s.from} to ${s.to}`,
  check: (s, m) => checkVcm(s.op, m),
  run(ctx, step) {
    const { manager } = vcmOf(ctx);
    const from = ctx.lookup(step.from, VCM);
    const to = ctx.lookup(step.to, VCM);
    const addr = ctx.resolve(step.addr, spacesOfVcm(from));
    const got = manager.translate(addr, from, to);
    if (step.expect !== undefined) {
      const want = ctx.resolve(step.expect, spacesOfVcm(to));
      expectValue(ctx, `${from.name} ${hex(addr)} in ${to.name}`, want, got, hex);
    }
    return {
      summary: `${from.name} ${hex(addr)} -> ${to.name} ${hex(got)}`,
      output: { from: from.name, to: to.name, addr, result: got },
    };
  },
});

const physRes = defineStep({
  schema: z
    .strictObject({
      op: z.literal("vcm.physRes"),
      pa: addressSchema.meta({
        description:
          "A physical address (a physmem's or an allocation's name works: pm1 + 0x1000).",
      }),
      expect: z
        .array(objectNameSchema)
        .optional()
        .meta({ description: "The reservations that must map it, by name (in any order)." }),
    })
    .meta({
      title: "vcm.physRes",
      description:
        "vcm_get_phys_num_res and vcm_get_next_phys_res: the reservations that map a physical address now.",
    }),
  describe: (s) => `reservations mapping ${showAddress(s.pa)}`,
  check: (s, m) => checkVcm(s.op, m),
  run(ctx, step) {
    const { manager } = vcmOf(ctx);
    const pa = ctx.resolve(step.pa);
    const n = manager.getPhysNumRes(pa);
    const found: Reservation[] = [];
    for (let next = manager.getNextPhysRes(pa); next !== undefined;) {
      found.push(next.res);
      next = manager.getNextPhysRes(pa, next.res);
    }
    const names = found.map((r) => r.name);
    if (step.expect !== undefined) {
      const want = [...step.expect].sort();
      const got = [...names].sort();
      const same = want.length === got.length && want.every((x, i) => x === got[i]);
      const show = (xs: string[]) => (xs.length > 0 ? xs.join(", ") : "none");
      ctx.expect(
        same,
        same
          ? `${hex(pa)} is mapped by ${show(want)}`
          : `${hex(pa)}: expected ${show(want)}, mapped by ${show(got)}`,
      );
    }
    return {
      summary: `${n} reservation${n === 1 ? "" : "s"}: ${names.join(", ") || "none"}`,
      output: { pa, count: n, reservations: names },
    };
  },
});

/** A VCM device's own addresses: its VCMs' spaces, then physical. */
function deviceInput(ctx: StepContext, device: string, address: AddressExpr): number {
  return ctx.resolve(address, [...deviceAddressSpaces(ctx.objects, device), PHYSICAL]);
}

const devAddrToPhys = defineStep({
  schema: z
    .strictObject({
      op: z.literal("vcm.devAddrToPhys"),
      device: deviceRef,
      addr: addressSchema.meta({
        description:
          "The device's address: a number, or a reservation of a VCM associated with it plus an offset.",
      }),
      expect: addressSchema
        .optional()
        .meta({ description: "The physical address it must translate to (a physmem name works)." }),
    })
    .meta({
      title: "vcm.devAddrToPhys",
      description:
        "vcm_dev_addr_to_phys_addr: the physical address a device address translates to through the device's tables (an SMMU context raises its fault hook; EFAULT if it does not translate).",
    }),
  describe: (s) => `vcm_dev_addr_to_phys_addr ${s.device} ${showAddress(s.addr)}`,
  check: (s, m) => checkVcm(s.op, m, [["device", "device", s.device]]),
  run(ctx, step) {
    const { manager } = vcmOf(ctx);
    const device = manager.device(step.device);
    const addr = deviceInput(ctx, step.device, step.addr);
    const pa = manager.devAddrToPhysAddr(device, addr);
    if (step.expect !== undefined)
      expectValue(ctx, `${device.name} ${hex(addr)}`, ctx.resolve(step.expect), pa, hex);
    return {
      summary: `${device.name} ${hex(addr)} -> ${hex(pa)}`,
      output: { device: device.name, addr, pa },
    };
  },
});

const hook = defineStep({
  schema: z
    .strictObject({
      op: z.literal("vcm.hook"),
      device: deviceRef,
      answer: z.enum(["retry", "terminate"]).meta({
        description:
          "What the handler answers: retry (1: the driver retries the transaction) or terminate (0).",
      }),
    })
    .meta({
      title: "vcm.hook",
      description:
        "vcm_hook: install a fault handler on the device (replacing the one before) that answers always the same; its calls are counted (vcm.hookInfo, the VCM graph).",
    }),
  describe: (s) => `vcm_hook ${s.device}: ${s.answer}`,
  check: (s, m) => checkVcm(s.op, m, [["device", "device", s.device]]),
  run(ctx, step) {
    const v = vcmOf(ctx);
    const device = v.manager.device(step.device);
    const record = { answer: step.answer, calls: 0 };
    const answer = step.answer === "retry" ? 1 : 0;
    v.manager.hook(device, () => {
      record.calls++;
      return answer;
    });
    v.hooks.set(device.name, record);
    return {
      summary: `${device.name}: faults ${step.answer === "retry" ? "retried" : "terminated"}`,
      output: { device: device.name, answer: step.answer },
    };
  },
});

const hwVer = defineStep({
  schema: z
    .strictObject({
      op: z.literal("vcm.hwVer"),
      device: deviceRef,
      expect: countSchema.optional().meta({ description: "The version it must report." }),
    })
    .meta({
      title: "vcm.hwVer",
      description:
        "vcm_hw_ver: an SMMU context's driver version (the machine's vcm.smmus version), 0 for a CPU or a one-to-one device.",
    }),
  describe: (s) => `vcm_hw_ver ${s.device}`,
  check: (s, m) => checkVcm(s.op, m, [["device", "device", s.device]]),
  run(ctx, step) {
    const { manager } = vcmOf(ctx);
    const device = manager.device(step.device);
    const ver = manager.hwVer(device);
    if (step.expect !== undefined)
      expectValue(ctx, `${device.name} hardware version`, step.expect, ver);
    return {
      summary: `${device.name}: version ${ver}`,
      output: { device: device.name, version: ver },
    };
  },
});

// --- queries -------------------------------------------------------------------------------------

const VCM_TYPES = ["device", "one-to-one", "ext-kernel", "ext-user"] as const;

const resInfo = defineStep({
  schema: z
    .strictObject({
      op: z.literal("vcm.resInfo"),
      res: resRef,
      expect: z
        .strictObject({
          vcm: objectNameSchema.optional().meta({ description: "vcm_get_vcm_from_res." }),
          devAddr: addressSchema.optional().meta({
            description:
              "vcm_get_dev_addr: a number, or a name in its VCM's space (a one-to-one reservation: its physmem's name).",
          }),
          len: sizeSchema.optional().meta({ description: "vcm_get_res_len." }),
          attr: resAttr("vcm_get_res_attr, as names or a number.").optional(),
          backed: z.boolean().optional().meta({ description: "Whether a physmem backs it." }),
          physmem: objectNameSchema
            .nullable()
            .optional()
            .meta({ description: "vcm_get_physmem_from_res: its name (null: not backed)." }),
        })
        .optional()
        .meta({ description: "What it must be; each key is one expectation." }),
    })
    .meta({
      title: "vcm.resInfo",
      description: "A reservation's device address, length, attributes and backing.",
    }),
  describe: (s) => `reservation ${s.res}`,
  check: (s, m) => checkVcm(s.op, m),
  run(ctx, step) {
    vcmOf(ctx);
    const r = ctx.lookup(step.res, RESERVATION);
    r.check("vcm_get_res_attr");
    const e = step.expect;
    const what = `reservation ${r.name}`;
    if (e?.vcm !== undefined) expectValue(ctx, `${what} VCM`, e.vcm, r.getVcm().name);
    if (e?.devAddr !== undefined) {
      const want = ctx.resolve(e.devAddr, [vcmSpace(r.vcm), PHYSICAL]);
      expectValue(ctx, `${what} device address`, want, r.devAddr ?? null, showHex);
    }
    if (e?.len !== undefined) expectValue(ctx, `${what} length`, e.len, r.getLen(), showSize);
    if (e?.attr !== undefined)
      expectValue(ctx, `${what} attributes`, e.attr, r.getAttr(), describeResAttr);
    if (e?.backed !== undefined) expectValue(ctx, `${what} backed`, e.backed, r.backed);
    if (e?.physmem !== undefined)
      expectValue(ctx, `${what} physmem`, e.physmem, r.physmem_?.name ?? null, showName);
    return {
      summary: `${resSummary(r)}${r.physmem_ ? ` backed by ${r.physmem_.name}` : ", not backed"}`,
      output: { ...reservationJson(r), backed: r.backed },
    };
  },
});

const vcmInfo = defineStep({
  schema: z
    .strictObject({
      op: z.literal("vcm.vcmInfo"),
      vcm: vcmRef,
      expect: z
        .strictObject({
          type: z.enum(VCM_TYPES).optional().meta({ description: "The kind of VCM." }),
          start: sizeSchema.optional().meta({ description: "vcm_get_start_addr." }),
          len: sizeSchema.optional().meta({ description: "vcm_get_len." }),
          numRes: countSchema.optional().meta({ description: "vcm_get_num_res." }),
          pgtblPa: sizeSchema.optional().meta({ description: "vcm_get_pgtbl_pa." }),
          table: objectNameSchema.optional().meta({
            description:
              "The name of its page table: a prebuilt VCM's CPU table, a device VCM's first context's.",
          }),
        })
        .optional()
        .meta({ description: "What it must be; each key is one expectation." }),
    })
    .meta({
      title: "vcm.vcmInfo",
      description: "A VCM's kind, range, reservations and page table.",
    }),
  describe: (s) => `VCM ${s.vcm}`,
  check: (s, m) => checkVcm(s.op, m),
  run(ctx, step) {
    vcmOf(ctx);
    const v = ctx.lookup(step.vcm, VCM);
    v.check("vcm_get_num_res");
    const e = step.expect;
    const what = `VCM ${v.name}`;
    if (e?.type !== undefined) expectValue(ctx, `${what} type`, e.type, v.type);
    if (e?.start !== undefined) expectValue(ctx, `${what} start`, e.start, v.getStartAddr(), hex);
    if (e?.len !== undefined) expectValue(ctx, `${what} length`, e.len, v.getLen(), showSize);
    if (e?.numRes !== undefined) expectValue(ctx, `${what} reservations`, e.numRes, v.getNumRes());
    if (e?.pgtblPa !== undefined)
      expectValue(ctx, `${what} page table`, e.pgtblPa, v.getPgtblPa(), hex);
    const t = vcmTable(v);
    if (e?.table !== undefined)
      expectValue(ctx, `${what} page table`, e.table, t?.name ?? null, showName);
    return {
      summary: `${v.describe()}; ${v.getNumRes()} reservation(s)${t !== undefined && v.table === undefined ? `, table ${t.name} @ ${hex(t.pa)}` : ""}`,
      output: {
        ...vcmJson(v),
        numRes: v.getNumRes(),
        reservations: v.reservations().map((r) => r.name),
        pgtblPa: t?.pa ?? null,
        table: t?.name ?? null,
      },
    };
  },
});

const resAt = defineStep({
  schema: z
    .strictObject({
      op: z.literal("vcm.resAt"),
      vcm: vcmRef,
      addr: addressSchema.meta({ description: "A device address of the VCM." }),
      expect: objectNameSchema
        .nullable()
        .optional()
        .meta({ description: "The reservation that must hold it (null: none)." }),
    })
    .meta({
      title: "vcm.resAt",
      description: "vcm_get_res: the reservation of a VCM whose range holds a device address.",
    }),
  describe: (s) => `vcm_get_res ${s.vcm} ${showAddress(s.addr)}`,
  check: (s, m) => checkVcm(s.op, m),
  run(ctx, step) {
    vcmOf(ctx);
    const v = ctx.lookup(step.vcm, VCM);
    const addr = ctx.resolve(step.addr, spacesOfVcm(v));
    const r = v.getRes(addr);
    if (step.expect !== undefined)
      expectValue(
        ctx,
        `${v.name} ${hex(addr)} reservation`,
        step.expect,
        r?.name ?? null,
        showName,
      );
    return {
      summary: r === undefined ? "no reservation" : resSummary(r),
      output: { vcm: v.name, addr, res: r?.name ?? null },
    };
  },
});

const assocInfo = defineStep({
  schema: z
    .strictObject({
      op: z.literal("vcm.assocInfo"),
      assoc: assocRef,
      expect: z
        .strictObject({
          active: z.boolean().optional().meta({ description: "vcm_is_active." }),
          attr: attrSchema(ASSOC_ATTR, "vcm_get_assoc_attr, as names or a number.").optional(),
          vcm: objectNameSchema.optional(),
          device: objectNameSchema.optional(),
        })
        .optional()
        .meta({ description: "What it must be; each key is one expectation." }),
    })
    .meta({ title: "vcm.assocInfo", description: "An association's state and attributes." }),
  describe: (s) => `association ${s.assoc}`,
  check: (s, m) => checkVcm(s.op, m),
  run(ctx, step) {
    vcmOf(ctx);
    const a = ctx.lookup(step.assoc, ASSOCIATION);
    a.check("vcm_is_active");
    const e = step.expect;
    const what = `association ${a.name}`;
    if (e?.active !== undefined) expectValue(ctx, `${what} active`, e.active, a.isActive());
    if (e?.attr !== undefined)
      expectValue(ctx, `${what} attributes`, e.attr, a.getAttr(), describeAssocAttr);
    if (e?.vcm !== undefined) expectValue(ctx, `${what} VCM`, e.vcm, a.vcm.name);
    if (e?.device !== undefined) expectValue(ctx, `${what} device`, e.device, a.device.name);
    return assocReport(a);
  },
});

const physInfo = defineStep({
  schema: z
    .strictObject({
      op: z.literal("vcm.physInfo"),
      physmem: physmemRef,
      expect: z
        .strictObject({
          memtype: z
            .union([z.literal(0), z.literal(1), z.literal(2), z.null()])
            .optional()
            .meta({
              description:
                "vcm_get_memtype_of_physalloc: 0..2 (null: a range of vcm_map_phys_addr).",
            }),
          len: sizeSchema.optional(),
          segments: countSchema.optional().meta({
            description: "Physically contiguous runs (vcm_get_next_phys_addr until the end).",
          }),
          contiguous: z.boolean().optional().meta({ description: "One physical run." }),
          backs: z
            .array(objectNameSchema)
            .optional()
            .meta({ description: "The reservations it backs (in any order)." }),
        })
        .optional()
        .meta({ description: "What it must be; each key is one expectation." }),
    })
    .meta({
      title: "vcm.physInfo",
      description: "A physmem's memtype, length, segments and backers.",
    }),
  describe: (s) => `physmem ${s.physmem}`,
  check: (s, m) => checkVcm(s.op, m),
  run(ctx, step) {
    vcmOf(ctx);
    const p = ctx.lookup(step.physmem, PHYSMEM);
    const memtype = p.getMemtype();
    const segments: Array<{ pa: number; len: number }> = [];
    for (let s = p.nextPhysAddr(); s !== undefined; s = p.nextPhysAddr(s.pa))
      segments.push({ pa: s.pa, len: s.len });
    const backs = [...p.backers].map((r) => r.name);
    const e = step.expect;
    const what = `physmem ${p.name}`;
    const mt = memtype === 0 ? null : memtype - 1;
    if (e?.memtype !== undefined)
      expectValue(ctx, `${what} memtype`, e.memtype, mt, (x) => (x === null ? "none" : String(x)));
    if (e?.len !== undefined) expectValue(ctx, `${what} length`, e.len, p.len, showSize);
    if (e?.segments !== undefined)
      expectValue(ctx, `${what} segments`, e.segments, segments.length);
    if (e?.contiguous !== undefined)
      expectValue(ctx, `${what} contiguous`, e.contiguous, segments.length === 1);
    if (e?.backs !== undefined) {
      const show = (xs: readonly string[]) => [...xs].sort().join(", ") || "none";
      expectValue(ctx, `${what} backs`, show(e.backs), show(backs));
    }
    return {
      summary: `${p.name}: ${chunkSummary(p)}; ${segments.length} segment(s); backs ${backs.join(", ") || "nothing"}`,
      output: { ...physmemJson(p), segments, backs },
    };
  },
});

const boundInfo = defineStep({
  schema: z
    .strictObject({
      op: z.literal("vcm.boundInfo"),
      bound: boundRef,
      expect: z
        .strictObject({
          start: sizeSchema.optional().meta({ description: "vcm_get_bound_start_addr." }),
          len: sizeSchema.optional().meta({ description: "vcm_get_bound_len." }),
          numRes: countSchema.optional().meta({ description: "Its reservations." }),
        })
        .optional()
        .meta({ description: "What it must be; each key is one expectation." }),
    })
    .meta({ title: "vcm.boundInfo", description: "A bound's range and reservations." }),
  describe: (s) => `bound ${s.bound}`,
  check: (s, m) => checkVcm(s.op, m),
  run(ctx, step) {
    vcmOf(ctx);
    const b = ctx.lookup(step.bound, BOUND);
    const e = step.expect;
    const what = `bound ${b.name}`;
    if (e?.start !== undefined) expectValue(ctx, `${what} start`, e.start, b.getStartAddr(), hex);
    if (e?.len !== undefined) expectValue(ctx, `${what} length`, e.len, b.getLen(), showSize);
    if (e?.numRes !== undefined)
      expectValue(ctx, `${what} reservations`, e.numRes, b.reservations().length);
    return {
      summary: `${b.describe()}, ${b.reservations().length} reservation(s)`,
      output: {
        bound: b.name,
        vcm: b.vcm.name,
        start: b.start,
        len: b.len,
        numRes: b.reservations().length,
      },
    };
  },
});

const hookInfo = defineStep({
  schema: z
    .strictObject({
      op: z.literal("vcm.hookInfo"),
      device: deviceRef,
      expect: z
        .strictObject({
          calls: countSchema.optional().meta({ description: "Calls of its handler so far." }),
        })
        .optional()
        .meta({ description: "What it must be." }),
    })
    .meta({
      title: "vcm.hookInfo",
      description: "The fault handler vcm.hook installed on a device, and its calls.",
    }),
  describe: (s) => `fault hook of ${s.device}`,
  check: (s, m) => checkVcm(s.op, m, [["device", "device", s.device]]),
  run(ctx, step) {
    const v = vcmOf(ctx);
    const name = v.manager.device(step.device).name;
    const h = v.hooks.get(name);
    const calls = h?.calls ?? 0;
    if (step.expect?.calls !== undefined)
      expectValue(ctx, `${name} fault hook calls`, step.expect.calls, calls);
    return {
      summary: h === undefined ? `${name}: no hook` : `${name}: ${h.answer}, ${calls} call(s)`,
      output: { device: name, answer: h?.answer ?? null, calls },
    };
  },
});

const contRegion = defineStep({
  schema: z
    .strictObject({
      op: z.literal("vcm.contRegion"),
      memtype: memtypeSchema,
      expect: z
        .strictObject({
          pa: addressSchema.optional().meta({ description: "vcm_get_cont_memtype_pa." }),
          len: sizeSchema.optional().meta({ description: "vcm_get_cont_memtype_len." }),
        })
        .optional()
        .meta({ description: "What it must be; each key is one expectation." }),
    })
    .meta({
      title: "vcm.contRegion",
      description:
        "vcm_get_cont_memtype_pa / _len: a memtype's contiguous region (its target's contiguous pool; ENOENT if none).",
    }),
  describe: (s) => `contiguous region of ${memtypeName(s.memtype)}`,
  check: (s, m) => checkVcm(s.op, m),
  run(ctx, step) {
    const { manager } = vcmOf(ctx);
    const pa = manager.getContMemtypePa(step.memtype);
    const len = manager.getContMemtypeLen(step.memtype);
    const what = `${memtypeName(step.memtype)} contiguous region`;
    if (step.expect?.pa !== undefined)
      expectValue(ctx, `${what} base`, ctx.resolve(step.expect.pa), pa, hex);
    if (step.expect?.len !== undefined)
      expectValue(ctx, `${what} length`, step.expect.len, len, showSize);
    return {
      summary: `${hexRange(pa, len)} (${showSize(len)})`,
      output: { memtype: step.memtype - 1, pa, len },
    };
  },
});

const minPageSize = defineStep({
  schema: z
    .strictObject({
      op: z.literal("vcm.minPageSize"),
      expect: sizeSchema.optional().meta({ description: "The size it must report." }),
    })
    .meta({ title: "vcm.minPageSize", description: "vcm_get_min_page_size: 4 KiB." }),
  describe: () => "vcm_get_min_page_size",
  check: (s, m) => checkVcm(s.op, m),
  run(ctx, step) {
    const { manager } = vcmOf(ctx);
    const size = manager.getMinPageSize();
    if (step.expect !== undefined)
      expectValue(ctx, "the minimum page size", step.expect, size, showSize);
    return { summary: showSize(size), output: { size } };
  },
});

// --- the SMMU driver -------------------------------------------------------------------------

const RIGHTS_RE = /^[rwxp]+$/;

const rightsSchema = z
  .string()
  .regex(RIGHTS_RE, {
    error: (i) =>
      `expected rights as letters r, w, x, p (e.g. "rw", "rwx", "rp"), got ${JSON.stringify(i.input)}`,
  })
  .transform((s): number => {
    let rights = 0;
    if (s.includes("r")) rights |= PROT.READ;
    if (s.includes("w")) rights |= PROT.WRITE;
    if (!s.includes("x")) rights |= PROT.NOEXEC;
    if (s.includes("p")) rights |= PROT.PRIV;
    return rights;
  })
  .meta({
    description:
      "The leaf's rights: r read, w write, x executable (without it: execute-never), p privileged only (default: read-write, executable, as the driver maps).",
  });

function smmuContext(ctx: StepContext, name: string) {
  return vcmOf(ctx).manager.devices.getCtxInstance(name);
}

/** A context instance's own addresses: its VCMs' spaces, then physical. */
function contextInput(ctx: StepContext, context: string, address: AddressExpr): number {
  return ctx.resolve(address, [...deviceAddressSpaces(ctx.objects, context), PHYSICAL]);
}

const smmuMap = defineStep({
  schema: z
    .strictObject({
      op: z.literal("vcm.smmuMap"),
      context: contextRef,
      pa: addressSchema.meta({ description: "The physical address (aligned to len)." }),
      va: addressSchema.meta({ description: "The device address (aligned to len)." }),
      len: sizeSchema.meta({ description: "4K, 64K, 1M or 16M: one leaf." }),
      attr: attrSchema(
        DEV_ATTR,
        "The device attribute: a shareability (NON_SH, SH) and a cacheability (NONCACHED, CACHED_WB_WA, CACHED_WB_NWA, CACHED_WT); or a number (default SH|NONCACHED).",
      ).optional(),
      rights: rightsSchema.optional(),
    })
    .meta({
      title: "vcm.smmuMap",
      description:
        "smmu_map between smmu_update_start and smmu_update_done: one leaf in a context instance's table (EEXIST over another mapping).",
    }),
  describe: (s) =>
    `smmu_map ${s.context} ${showAddress(s.va)} -> ${showAddress(s.pa)} (${showSize(s.len)}, ${describeDevAttr(s.attr ?? VCM_DEV_DEFAULT_ATTR)})`,
  check: (s, m) => checkVcm(s.op, m, [["context", "context", s.context]]),
  run(ctx, step) {
    const dev = smmuContext(ctx, step.context);
    const pa = ctx.resolve(step.pa);
    const va = contextInput(ctx, step.context, step.va);
    const attr = step.attr ?? VCM_DEV_DEFAULT_ATTR;
    dev.updateStart();
    try {
      dev.map(pa, va, step.len, attr, step.rights ?? PROT.READ | PROT.WRITE);
    } finally {
      dev.updateDone();
    }
    return {
      summary: `${dev.name}: ${hexRange(va, step.len)} -> ${hex(pa)} ${describeDevAttr(attr)}`,
      output: { context: dev.name, va, pa, len: step.len, attr },
    };
  },
});

const smmuUnmap = defineStep({
  schema: z
    .strictObject({
      op: z.literal("vcm.smmuUnmap"),
      context: contextRef,
      va: addressSchema.meta({ description: "The device address of the mapping." }),
      len: sizeSchema.meta({ description: "Its length (4K, 64K, 1M or 16M)." }),
    })
    .meta({
      title: "vcm.smmuUnmap",
      description:
        "smmu_unmap between smmu_update_start and smmu_update_done: remove exactly one leaf smmu_map made (ENOENT if nothing is mapped there).",
    }),
  describe: (s) => `smmu_unmap ${s.context} ${showAddress(s.va)} (${showSize(s.len)})`,
  check: (s, m) => checkVcm(s.op, m, [["context", "context", s.context]]),
  run(ctx, step) {
    const dev = smmuContext(ctx, step.context);
    const va = contextInput(ctx, step.context, step.va);
    dev.updateStart();
    try {
      dev.unmap(va, step.len);
    } finally {
      dev.updateDone();
    }
    return {
      summary: `${dev.name}: ${hexRange(va, step.len)} unmapped`,
      output: { context: dev.name, va, len: step.len },
    };
  },
});

const smmuTranslate = defineStep({
  schema: z
    .strictObject({
      op: z.literal("vcm.smmuTranslate"),
      context: contextRef,
      va: addressSchema.meta({ description: "The device address to translate." }),
      expect: addressSchema
        .optional()
        .meta({ description: "The physical address it must give (a physmem name works)." }),
    })
    .meta({
      title: "vcm.smmuTranslate",
      description:
        "smmu_translate: the hardware V2P translation through an active context instance (its TLB; on a fault its hook decides, else EFAULT).",
    }),
  describe: (s) => `smmu_translate ${s.context} ${showAddress(s.va)}`,
  check: (s, m) => checkVcm(s.op, m, [["context", "context", s.context]]),
  run(ctx, step) {
    const dev = smmuContext(ctx, step.context);
    const va = contextInput(ctx, step.context, step.va);
    const pa = dev.translate(va);
    if (step.expect !== undefined)
      expectValue(ctx, `${dev.name} ${hex(va)}`, ctx.resolve(step.expect), pa, hex);
    return {
      summary: `${dev.name}: ${hex(va)} -> ${hex(pa)}`,
      output: { context: dev.name, va, pa },
    };
  },
});

const smmuInfo = defineStep({
  schema: z
    .strictObject({
      op: z.literal("vcm.smmuInfo"),
      context: contextRef,
      expect: z
        .strictObject({
          active: z.boolean().optional().meta({ description: "smmu_is_active." }),
          baseAddr: sizeSchema.optional().meta({ description: "smmu_get_base_addr." }),
          mappings: countSchema.optional().meta({ description: "Leaves smmu_map made, now." }),
        })
        .optional()
        .meta({ description: "What it must be; each key is one expectation." }),
    })
    .meta({
      title: "vcm.smmuInfo",
      description: "An SMMU context instance: whether it is active, its SMMU's base, its mappings.",
    }),
  describe: (s) => `SMMU context ${s.context}`,
  check: (s, m) => checkVcm(s.op, m, [["context", "context", s.context]]),
  run(ctx, step) {
    const v = vcmOf(ctx);
    const dev = v.manager.devices.getCtxInstance(step.context);
    const active = dev.isActive();
    const base = v.manager.devices.getBaseAddr(dev);
    const mappings = dev.mappings();
    const e = step.expect;
    const what = `SMMU context ${dev.name}`;
    if (e?.active !== undefined) expectValue(ctx, `${what} active`, e.active, active);
    if (e?.baseAddr !== undefined) expectValue(ctx, `${what} base`, e.baseAddr, base, hex);
    if (e?.mappings !== undefined)
      expectValue(ctx, `${what} mappings`, e.mappings, mappings.length);
    return {
      summary: `${dev.name}: context ${dev.context}, ${active ? "active" : "inactive"}, ${mappings.length} mapping(s)`,
      output: {
        context: dev.name,
        index: dev.context,
        active,
        baseAddr: base,
        mappings: mappings.map((x) => ({ va: x.va, len: x.len, pa: x.pa, attr: x.attr })),
      },
    };
  },
});

/** The VCM steps. */
/** The names a VCM step uses, frees and binds: `[field, kind]` of each, by op. */
interface VcmNames {
  readonly uses?: ReadonlyArray<readonly [string, ObjectKind<unknown>]>;
  readonly frees?: ReadonlyArray<readonly [string, ObjectKind<unknown>]>;
  /** The kind `as` binds. */
  readonly binds?: ObjectKind<unknown>;
}

const VCM_NAMES: { readonly [op: string]: VcmNames } = {
  "vcm.create": { binds: VCM },
  "vcm.createFromPrebuilt": { binds: VCM },
  "vcm.clone": { uses: [["vcm", VCM]], binds: VCM },
  "vcm.free": { frees: [["vcm", VCM]] },
  "vcm.reserve": { uses: [["vcm", VCM]], binds: RESERVATION },
  "vcm.reserveAt": { uses: [["vcm", VCM]], binds: RESERVATION },
  "vcm.reserveFromBound": { uses: [["bound", BOUND]], binds: RESERVATION },
  "vcm.createBound": { uses: [["vcm", VCM]], binds: BOUND },
  "vcm.freeBound": { frees: [["bound", BOUND]] },
  "vcm.unreserve": { frees: [["res", RESERVATION]] },
  "vcm.setResAttr": { uses: [["res", RESERVATION]] },
  "vcm.physAlloc": { binds: PHYSMEM },
  "vcm.mapPhysAddr": { binds: PHYSMEM },
  "vcm.physFree": { frees: [["physmem", PHYSMEM]] },
  "vcm.back": {
    uses: [
      ["res", RESERVATION],
      ["physmem", PHYSMEM],
    ],
  },
  "vcm.unback": { uses: [["res", RESERVATION]] },
  "vcm.assoc": { uses: [["vcm", VCM]], binds: ASSOCIATION },
  "vcm.deassoc": { frees: [["assoc", ASSOCIATION]] },
  "vcm.activate": { uses: [["assoc", ASSOCIATION]] },
  "vcm.deactivate": { uses: [["assoc", ASSOCIATION]] },
  "vcm.setAssocAttr": { uses: [["assoc", ASSOCIATION]] },
  "vcm.copy": {
    uses: [
      ["to", RESERVATION],
      ["from", RESERVATION],
    ],
  },
  "vcm.translate": {
    uses: [
      ["from", VCM],
      ["to", VCM],
    ],
  },
  "vcm.resInfo": { uses: [["res", RESERVATION]] },
  "vcm.vcmInfo": { uses: [["vcm", VCM]] },
  "vcm.resAt": { uses: [["vcm", VCM]] },
  "vcm.assocInfo": { uses: [["assoc", ASSOCIATION]] },
  "vcm.physInfo": { uses: [["physmem", PHYSMEM]] },
  "vcm.boundInfo": { uses: [["bound", BOUND]] },
};

/**
 * A VCM step with its {@link StepNames}, for the static check: what {@link VCM_NAMES} says of
 * its op; a clone also binds its reservations and bounds under `<clone>.` names the manager
 * gives them.
 */
function withNames(op: string, d: StepDefinition): StepDefinition {
  const n = VCM_NAMES[op];
  if (n === undefined) return { ...d, names: () => ({}) };
  const refs = (list: VcmNames["uses"], step: Record<string, unknown>): NameUse[] =>
    (list ?? []).flatMap(([field, kind]) =>
      typeof step[field] === "string" ? [{ path: [field], name: step[field], kind }] : [],
    );
  return {
    ...d,
    names(step): StepNames {
      const s = step;
      const as = typeof s.as === "string" ? s.as : undefined;
      return {
        uses: refs(n.uses, s),
        frees: refs(n.frees, s),
        binds:
          n.binds !== undefined && as !== undefined
            ? [{ path: ["as"], name: as, kind: n.binds }]
            : [],
        ...(op === "vcm.clone" && as !== undefined ? { bindsPrefixed: [`${as}.`] } : {}),
      };
    },
  };
}

export const vcmSteps: StepModule = {
  name: "vcm",
  namespace: "vcm",
  ops: Object.fromEntries(
    Object.entries({
      "vcm.create": create,
      "vcm.createFromPrebuilt": createFromPrebuilt,
      "vcm.clone": clone,
      "vcm.free": free,
      "vcm.reserve": reserve,
      "vcm.reserveAt": reserveAt,
      "vcm.reserveFromBound": reserveFromBound,
      "vcm.createBound": createBound,
      "vcm.freeBound": freeBound,
      "vcm.unreserve": unreserve,
      "vcm.setResAttr": setResAttr,
      "vcm.physAlloc": physAlloc,
      "vcm.mapPhysAddr": mapPhysAddr,
      "vcm.physFree": physFree,
      "vcm.back": back,
      "vcm.unback": unback,
      "vcm.assoc": assoc,
      "vcm.deassoc": deassoc,
      "vcm.activate": activate,
      "vcm.deactivate": deactivate,
      "vcm.setAssocAttr": setAssocAttr,
      "vcm.copy": copy,
      "vcm.translate": translate,
      "vcm.physRes": physRes,
      "vcm.devAddrToPhys": devAddrToPhys,
      "vcm.hook": hook,
      "vcm.hwVer": hwVer,
      "vcm.resInfo": resInfo,
      "vcm.vcmInfo": vcmInfo,
      "vcm.resAt": resAt,
      "vcm.assocInfo": assocInfo,
      "vcm.physInfo": physInfo,
      "vcm.boundInfo": boundInfo,
      "vcm.hookInfo": hookInfo,
      "vcm.contRegion": contRegion,
      "vcm.minPageSize": minPageSize,
      "vcm.smmuMap": smmuMap,
      "vcm.smmuUnmap": smmuUnmap,
      "vcm.smmuTranslate": smmuTranslate,
      "vcm.smmuInfo": smmuInfo,
    } as Record<string, StepDefinition>).map(([op, d]) => [op, withNames(op, d)]),
  ),
};
