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
import type { ObjectKind } from "../machine-module.js";
import type { NameUse, StepDefinition, StepModule, StepNames } from "../step-module.js";
import { ACCEPTED, builtinVmid, GUNYAH_VM, isParcelRef, isVmRef, PARCEL } from "./gunyah-common.js";
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

/** The kind each op's `as` binds. */
const BINDS: { readonly [op: string]: ObjectKind<unknown> } = {
  "gunyah.lend": PARCEL,
  "gunyah.share": PARCEL,
  "gunyah.donate": PARCEL,
  "gunyah.accept": ACCEPTED,
  "gunyah.vmAllocate": GUNYAH_VM,
  "gunyah.vmmCreate": GUNYAH_VM,
};

/** Every VM and parcel a step names (not `hlos`, `rm`, `vm<n>`: those are no bound names). */
function references(value: unknown, path: Array<string | number>, out: NameUse[]): NameUse[] {
  if (isVmRef(value)) {
    if ("name" in value && builtinVmid(value.name) === undefined)
      out.push({ path, name: value.name, kind: GUNYAH_VM });
  } else if (isParcelRef(value)) {
    // gunyah.who's expected `parcel: none` is a VM's own memory, no parcel.
    const own = path[path.length - 1] === "parcel" && "name" in value && value.name === "none";
    if ("name" in value && !own) out.push({ path, name: value.name, kind: PARCEL });
  } else if (Array.isArray(value)) value.forEach((v, i) => references(v, [...path, i], out));
  else if (value !== null && typeof value === "object" && !(value instanceof Uint8Array))
    for (const [k, v] of Object.entries(value)) references(v, [...path, k], out);
  return out;
}

/**
 * A Gunyah step with its {@link StepNames}: the VMs and parcels it names, and what its `as`
 * binds. An RPC may be expected to fail (its `expect: { err: … }`) and a bound VM's name stays
 * meaningful once the VM is gone, so what it binds is conditional: later steps may use it,
 * and bind it again, without an error.
 */
function withNames(op: string, d: StepDefinition): StepDefinition {
  const kind = BINDS[op];
  return {
    ...d,
    // gunyah.isolated is an expectation by itself (no VM but the owners reaches the range).
    ...(op === "gunyah.isolated" ? { expects: () => true } : {}),
    names(step): StepNames {
      const s = step;
      const as = typeof s.as === "string" ? s.as : undefined;
      return {
        uses: references(s, [], []),
        binds:
          kind !== undefined && as !== undefined
            ? [{ path: ["as"], name: as, kind, conditional: true }]
            : [],
      };
    },
  };
}

/** The Gunyah step module. */
export const gunyahSteps: StepModule = {
  name: "gunyah",
  namespace: "gunyah",
  ops: Object.fromEntries(
    [...ORDER, ...Object.keys(ALL).filter((op) => !ORDER.includes(op))].map((op) => [
      op,
      withNames(op, ALL[op]!),
    ]),
  ),
};
