/**
 * The `machine` section of a scenario, composed from machine modules (`machine-module.ts`):
 * this file's own — the physical memory map (regions) and the memory targets allocators draw
 * from — and the translation module's page tables and devices (`machine/translation.ts`).
 *
 * The schema checks the form of each item. What only the model can check — overlapping
 * regions, a target on an unknown region, pools that don't fit their range, a device naming an
 * unknown table — is found by building the machine item by item ({@link buildMachine}) and
 * reported against the item (or, where the error says which, the field of the item) that
 * caused it, so a loader can give its file:line:column.
 */
import { z } from "zod";

import { isMemweaveError, MemweaveError } from "../../base/errors.js";
import { Platform } from "../../devices/platform.js";
import type { RegionKind, RegionSpec } from "../../phys/memory-map.js";
import type { AllocatorKind, AllocatorSpec, TargetSpec } from "../../phys/target.js";
import { translationMachine } from "./machine/translation.js";
import type {
  BuiltMachine,
  DocPath,
  MachineBuildContext,
  MachineModule,
  MachineProblem,
} from "./machine-module.js";
import { defineMachineModule, MachineObjects } from "./machine-module.js";
import { objectNameSchema, sizeSchema } from "./values.js";

export type { DocPath, MachineProblem } from "./machine-module.js";

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

/** The machine module of physical memory: regions and memory targets. */
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
        ctx.problem(/already exists/.test(e.detail) ? [...at, "name"] : at, e);
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
        if (!/already exists/.test(e.detail)) ctx.refuse("target", t.name);
        ctx.problem(targetProblemPath(t, i, e, platform), e);
      }
    });
  },
});

/** The machine modules, in the order they build: physical memory first. */
export const BUILTIN_MACHINE_MODULES: readonly MachineModule[] = [physMachine, translationMachine];

/** The machine: regions and memory targets, page tables and devices. */
export const machineSchema = z
  .strictObject({ ...physMachine.shape, ...translationMachine.shape })
  .meta({ title: "Machine", description: "The machine the scenario runs on." });

/** The `machine` section after validation (sizes in bytes). */
export type MachineConfig = z.output<typeof machineSchema>;
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

/** The field of a target that a platform error is about, when the error says so. */
function targetProblemPath(t: TargetConfig, i: number, e: MemweaveError, p: Platform): DocPath {
  const at: DocPath = ["machine", "targets", i];
  if (/already exists/.test(e.detail)) return [...at, "name"];
  if (e.code === "ENOENT") {
    const j = t.ranges.findIndex((r) => !p.map.has(r.region));
    if (j >= 0) return [...at, "ranges", j, "region"];
  }
  if (e.code === "ENOSPC" || /chunk size|pool of|two pools/.test(e.detail))
    return [...at, t.pools !== undefined ? "pools" : "contiguous"];
  if (/overlaps target/.test(e.detail)) return [...at, "ranges"];
  const j = t.ranges.findIndex((r) => e.detail.includes(`"${r.region}"`));
  if (j >= 0) return [...at, "ranges", j];
  return at;
}

/**
 * Build the machine, module by module and item by item. Every item the model refuses is
 * reported as a {@link MachineProblem} with the path of the item (or its offending field); the
 * items it accepts are in the returned machine. An item that depends on a refused one (a
 * target on a refused region, a device on a refused table) is skipped, so one mistake is
 * reported once. Errors other than MemweaveErrors (bugs) propagate.
 */
export function buildMachine(
  machine: MachineConfig,
  seed = 0,
  modules: readonly MachineModule[] = BUILTIN_MACHINE_MODULES,
): { machine: BuiltMachine; problems: MachineProblem[] } {
  const platform = new Platform({ regions: [], seed });
  const objects = new MachineObjects();
  const problems: MachineProblem[] = [];
  const refused = new Set<string>();
  const key = (kind: string, name: string) => `${kind}\u0000${name}`;
  const ctx: MachineBuildContext = {
    platform,
    objects,
    problem: (path, error) => void problems.push({ path, error }),
    refuse: (kind, name) => void refused.add(key(kind, name)),
    refused: (kind, name) => refused.has(key(kind, name)),
  };
  for (const module of modules) module.build(ctx, machine);
  return { machine: { platform, objects }, problems };
}

/** {@link buildMachine}, for callers that need only the platform. */
export function buildPlatform(
  machine: MachineConfig,
  seed = 0,
): { platform: Platform; problems: MachineProblem[] } {
  const { machine: built, problems } = buildMachine(machine, seed);
  return { platform: built.platform, problems };
}

/**
 * Build the machine, or throw the first problem as a MemweaveError whose message starts with
 * the path of the offending item (e.g. `machine.regions[1]: ...`).
 */
export function createMachine(machine: MachineConfig, seed = 0): BuiltMachine {
  const { machine: built, problems } = buildMachine(machine, seed);
  const first = problems[0];
  if (first !== undefined)
    throw new MemweaveError(
      first.error.code,
      `${formatDocPath(first.path)}: ${first.error.detail}`,
    );
  return built;
}

/** {@link createMachine}, for callers that need only the platform. */
export function createPlatform(machine: MachineConfig, seed = 0): Platform {
  return createMachine(machine, seed).platform;
}

/** A document path as people read it: `steps[3].size`, `machine.regions[0]`. */
export function formatDocPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (typeof seg === "string" && /^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(seg))
      out += out === "" ? seg : `.${seg}`;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out === "" ? "(document)" : out;
}
