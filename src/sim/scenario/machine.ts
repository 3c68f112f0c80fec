/**
 * The `machine` section of a scenario, composed from machine modules (`machine-module.ts`):
 * physical memory — the memory map (regions) and the memory targets allocators draw from
 * (`machine/phys.ts`) —, translation: page tables and devices (`machine/translation.ts`), the
 * VCM manager (`machine/vcm.ts`), the Gunyah hypervisor (`machine/gunyah.ts`) and GMEM
 * (`machine/gmem.ts`).
 *
 * The schema checks the form of each item. What only the model can check — overlapping
 * regions, a target on an unknown region, pools that don't fit their range, a device naming an
 * unknown table — is found by building the machine item by item ({@link buildMachine}) and
 * reported against the item (or, where the error says which, the field of the item) that
 * caused it, so a loader can give its file:line:column.
 */
import { z } from "zod";

import { MemweaveError } from "../../base/errors.js";
import { Platform } from "../../devices/platform.js";
import { physMachine } from "./machine/phys.js";
import { translationMachine } from "./machine/translation.js";
import { vcmMachineModule } from "./machine/vcm.js";
import { gunyahMachineModule } from "./machine/gunyah.js";
import { gmemMachineModule } from "./machine/gmem.js";
import type {
  BuiltMachine,
  MachineBuildContext,
  MachineModule,
  MachineProblem,
} from "./machine-module.js";
import { MachineObjects } from "./machine-module.js";
import type { MachineStatistics, MachineSummary } from "./machine-summary.js";
import type { ReportTable } from "./step-module.js";

export type { DocPath, MachineProblem } from "./machine-module.js";
export type { MachineStatistics, MachineSummary } from "./machine-summary.js";
export type { RegionConfig, TargetConfig } from "./machine/phys.js";
export { physMachine, regionSchema, targetSchema } from "./machine/phys.js";

/** The machine modules, in the order they build: physical memory first, the VCM last. */
export const BUILTIN_MACHINE_MODULES: readonly MachineModule[] = [
  physMachine,
  translationMachine,
  vcmMachineModule,
  gunyahMachineModule,
  gmemMachineModule,
];

/** The machine: regions and memory targets, page tables and devices. */
export const machineSchema = z
  .strictObject({
    ...physMachine.shape,
    ...translationMachine.shape,
    ...vcmMachineModule.shape,
    ...gunyahMachineModule.shape,
    ...gmemMachineModule.shape,
  })
  .meta({ title: "Machine", description: "The machine the scenario runs on." });

/** The `machine` section after validation (sizes in bytes). */
export type MachineConfig = z.output<typeof machineSchema>;

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

/** A run's machine summary: every module's keys, in module order. */
export function summarizeMachine(
  machine: BuiltMachine,
  modules: readonly MachineModule[] = BUILTIN_MACHINE_MODULES,
): MachineSummary {
  const out: Record<string, unknown> = {};
  for (const m of modules) Object.assign(out, m.summarize?.(machine));
  return out as unknown as MachineSummary;
}

/**
 * The statistics of a whole machine: every module's groups, in module order; a group that is
 * empty is left out unless it is always there.
 */
export function machineStatistics(
  machine: BuiltMachine,
  modules: readonly MachineModule[] = BUILTIN_MACHINE_MODULES,
): MachineStatistics {
  const out: Record<string, unknown> = {};
  for (const m of modules)
    for (const g of m.statistics ?? []) {
      const value = g.collect(machine);
      if (g.always || g.isEmpty?.(value) !== true) out[g.key] = value;
    }
  return out as unknown as MachineStatistics;
}

/** Tables for people of statistics (the run's final ones, a `stats` step's), group by group. */
export function statisticsReportTables(
  statistics: MachineStatistics | { readonly [key: string]: unknown },
  modules: readonly MachineModule[] = BUILTIN_MACHINE_MODULES,
): ReportTable[] {
  const values = statistics as { readonly [key: string]: unknown };
  const tables: ReportTable[] = [];
  for (const m of modules)
    for (const g of m.statistics ?? [])
      if (values[g.key] !== undefined && g.tables !== undefined)
        tables.push(...g.tables(values[g.key] as never));
  return tables;
}
