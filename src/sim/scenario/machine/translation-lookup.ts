/**
 * Finding what translation steps name in the machine: page tables (kept in the machine's
 * objects), devices, and a device's bus master, translation regime and TLB, found through what
 * the device says it has ({@link DeviceCapabilities}), never by asking its class. Each lookup
 * fails with ENOENT (naming what there is, with a suggestion) or EINVAL (saying what the device
 * is instead), so a step's `check` reports it at its line and column.
 */
import { fail, isMemweaveError } from "../../../base/errors.js";
import type { BusMaster } from "../../../devices/bus-master.js";
import type { Platform } from "../../../devices/platform.js";
import type { Device, DeviceCapabilities, RegimeInfo } from "../../../devices/registry.js";
import { Smmu } from "../../../devices/smmu.js";
import type { PageTable } from "../../../mmu/page-table.js";
import type { TranslationRegime } from "../../../mmu/regime.js";
import type { Tlb } from "../../../mmu/tlb.js";
import { closest } from "../format.js";
import type { BuiltMachine, MachineObjects } from "../machine-module.js";
import { objectKind } from "../machine-module.js";
import type { StepProblem } from "../step-module.js";

/** A page table of the machine, and the memory target its tables come from. */
export interface ScenarioPageTable {
  readonly table: PageTable;
  readonly target: string;
}

/** The kind under which the machine keeps its page tables (`ctx.objects`). */
export const PAGE_TABLE = objectKind<ScenarioPageTable>("page table");

/** The page table named `name` (ENOENT, naming those there are). */
export function pageTableNamed(objects: MachineObjects, name: string): PageTable {
  return objects.get(PAGE_TABLE, name).table;
}

/** The device named `name`; ENOENT naming the devices there are, with a suggestion. */
export function deviceNamed(platform: Platform, name: string): Device {
  if (platform.registry.has(name)) return platform.device(name);
  const known = platform.devices().map((d) => d.name);
  const near = closest(name, known);
  return fail(
    "ENOENT",
    `no device named "${name}"${near !== undefined ? `, did you mean "${near}"?` : ""} (have: ${known.length > 0 ? known.join(", ") : "none"})`,
  );
}

/** True if the device runs translation for other masters (an IOMMU's context banks). */
function isIommu(caps: DeviceCapabilities): boolean {
  return caps.regimes.some((r) => r.contextBank !== undefined) && caps.tlbs.length > 0;
}

/** The device itself as a bus master, if it is one. */
function selfMaster(d: Device, caps: DeviceCapabilities): BusMaster | undefined {
  return caps.masters.find((m) => m.name === d.name);
}

/**
 * The TLB a device holds, or (an SMMU master) the one its translations are cached in, and the
 * device that holds it.
 */
export function tlbOf(platform: Platform, name: string): { tlb: Tlb; owner: string } {
  const d = deviceNamed(platform, name);
  const caps = d.capabilities();
  const m = caps.tlbs[0] ?? caps.regimes[0]?.tlb;
  if (m === undefined) return fail("EINVAL", `device "${name}" is a ${d.kind}: it has no TLB`);
  return { tlb: m.tlb, owner: m.owner };
}

/** The bus master named `name`; EINVAL (saying what to use instead) for an SMMU. */
export function busMasterNamed(platform: Platform, name: string): BusMaster {
  const d = deviceNamed(platform, name);
  const caps = d.capabilities();
  const self = selfMaster(d, caps);
  if (self !== undefined) return self;
  if (isIommu(caps)) {
    const masters = caps.masters.map((m) => m.name);
    fail(
      "EINVAL",
      `"${name}" is an SMMU, not a bus master: its masters make the accesses (${masters.length > 0 ? masters.join(", ") : "it has none"})`,
    );
  }
  return fail("EINVAL", `device "${name}" is a ${d.kind}, not a bus master`);
}

/** The translation regime (and what the device says of it) of a translating bus master. */
export function regimeInfoOf(platform: Platform, name: string): RegimeInfo {
  const d = deviceNamed(platform, name);
  const caps = d.capabilities();
  if (selfMaster(d, caps) !== undefined && caps.regimes[0] !== undefined) return caps.regimes[0];
  if (isIommu(caps))
    fail("EINVAL", `"${name}" is an SMMU: name one of its masters to use its context`);
  return fail("EINVAL", `device "${name}" is a ${d.kind}: it does not translate`);
}

/** The translation regime of a translating bus master (CPU, accelerator, SMMU master). */
export function regimeOf(platform: Platform, name: string): TranslationRegime {
  return regimeInfoOf(platform, name).regime;
}

/** The SMMU named `name` (ENOENT; EINVAL if it is another kind of device). */
export function smmuNamed(platform: Platform, name: string): Smmu {
  const d = deviceNamed(platform, name);
  if (!isIommu(d.capabilities())) fail("EINVAL", `device "${name}" is a ${d.kind}, not an SMMU`);
  return platform.device(name, Smmu);
}

/** What a step may name in the machine, and how it is looked up. */
const REFERENCES = {
  table: (m: BuiltMachine, name: string) => void pageTableNamed(m.objects, name),
  device: (m: BuiltMachine, name: string) => void deviceNamed(m.platform, name),
  "bus master": (m: BuiltMachine, name: string) => void busMasterNamed(m.platform, name),
  tlb: (m: BuiltMachine, name: string) => void tlbOf(m.platform, name),
  smmu: (m: BuiltMachine, name: string) => void smmuNamed(m.platform, name),
  translating: (m: BuiltMachine, name: string) => void regimeOf(m.platform, name),
} as const;

export type ReferenceKind = keyof typeof REFERENCES;

/**
 * Check names a step gives against the machine as built, for {@link StepDefinition.check}:
 * one problem per field whose name the machine does not have (or has as another kind).
 */
export function checkReferences(
  machine: BuiltMachine,
  refs: ReadonlyArray<readonly [field: string, kind: ReferenceKind, name: string | undefined]>,
): StepProblem[] {
  const problems: StepProblem[] = [];
  for (const [field, kind, name] of refs) {
    if (name === undefined) continue;
    try {
      REFERENCES[kind](machine, name);
    } catch (e) {
      if (!isMemweaveError(e)) throw e;
      problems.push({
        path: [field],
        message: e.detail,
        code: e.code === "ENOENT" ? "unknown-name" : "wrong-kind",
      });
    }
  }
  return problems;
}
