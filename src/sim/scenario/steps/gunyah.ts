/**
 * The Gunyah steps, namespaced `gunyah`: every RPC of the resource manager as a step with its
 * expected answer (`gunyah-mem.ts`: making and announcing parcels; `gunyah-accept.ts`: accept,
 * release, reclaim; `gunyah-vm.ts`, `gunyah-vm-query.ts`: VM management), what the RPCs did made visible
 * (`gunyah-notifications.ts`; `gunyah-observe.ts`: accesses through a guest's vCPUs, which VMs
 * reach memory and through which parcel; `gunyah-info.ts`: the RM's view of parcels and VMs),
 * and the host's VM manager (`gunyah-vmm.ts`). The machine's `gunyah` section
 * (`machine/gunyah.ts`) builds the hypervisor; `gunyah-common.ts` and `gunyah-values.ts` have
 * the names, values and RPC plumbing they share. docs/scenarios.md ("Gunyah") documents every op.
 */
import type { StepDefinition, StepModule } from "../step-module.js";
import { gunyahAcceptOps } from "./gunyah-accept.js";
import { gunyahInfoOps } from "./gunyah-info.js";
import { gunyahMemOps } from "./gunyah-mem.js";
import { gunyahNotificationOps } from "./gunyah-notifications.js";
import { gunyahObserveOps } from "./gunyah-observe.js";
import { gunyahVmOps } from "./gunyah-vm.js";
import { gunyahVmQueryOps } from "./gunyah-vm-query.js";
import { gunyahVmmOps } from "./gunyah-vmm.js";

export { ACCEPTED, GUNYAH_VM, PARCEL } from "./gunyah-common.js";

const ALL: Record<string, StepDefinition> = {
  ...gunyahMemOps,
  ...gunyahAcceptOps,
  ...gunyahVmOps,
  ...gunyahVmQueryOps,
  ...gunyahNotificationOps,
  ...gunyahObserveOps,
  ...gunyahInfoOps,
  ...gunyahVmmOps,
};

/** The order of the ops in the schema: the RPCs as the reference lists them, then the rest. */
const ORDER = [
  "lend",
  "share",
  "donate",
  "append",
  "accept",
  "release",
  "reclaim",
  "notify",
  "lookupSgl",
  "vmAllocate",
  "vmDeallocate",
  "vmConfigImage",
  "vmAuthImage",
  "vmInit",
  "vmStart",
  "vmStop",
  "vmReset",
  "vmGetState",
  "vmGetVmid",
  "vmGetHypResources",
  "vmSetFirmwareMem",
  "vmExit",
  "notifications",
  "access",
  "who",
  "isolated",
  "parcelInfo",
  "vmInfo",
  "vmmCreate",
  "vmmRegion",
  "vmmDtb",
  "vmmStart",
  "vmmTeardown",
].map((n) => `gunyah.${n}`);

/** The Gunyah step module. */
export const gunyahSteps: StepModule = {
  name: "gunyah",
  namespace: "gunyah",
  ops: Object.fromEntries(
    [...ORDER, ...Object.keys(ALL).filter((op) => !ORDER.includes(op))].map((op) => [op, ALL[op]!]),
  ),
};
