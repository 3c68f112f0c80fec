/**
 * The RM's and the hypervisor's view, not RPCs: `gunyah.parcelInfo` (a parcel's state, owner,
 * type, size, regions, label, and which VMs hold or map it) and `gunyah.vmInfo` (a VM's state,
 * the bytes its stage 2 maps, the parcels it owns and holds), each key of `expect` one
 * expectation. A parcel or VM that is gone answers `exists: false` (other keys: ENOENT).
 */
import { z } from "zod";

import { hex } from "../../../base/address.js";
import { fail } from "../../../base/errors.js";
import { IPA_BITS, VM_STATE } from "../../../gunyah/hyp/vm.js";
import type { ParcelState } from "../../../gunyah/rm/parcel.js";
import { TRANS_TYPE } from "../../../gunyah/rm/types.js";
import { showSize } from "../format.js";
import { nameOf } from "../machine/gunyah-report.js";
import type { StepDefinition, StepReport } from "../step-module.js";
import { countSchema, sizeSchema } from "../values.js";
import {
  defineGunyahStep,
  expectValue,
  handleOf,
  parcelRefSchema,
  showParcel,
  showVm,
  transTypeSchema,
  vmidOf,
  vmRefSchema,
  wordSchema,
  vmStateSchema,
} from "./gunyah-common.js";

// --- the RM's view -----------------------------------------------------------------------------------

const PARCEL_STATES = ["INIT", "SHARING", "SHARED"] as const satisfies readonly ParcelState[];

const parcelInfo = defineGunyahStep({
  schema: z
    .strictObject({
      op: z.literal("gunyah.parcelInfo"),
      handle: parcelRefSchema,
      expect: z
        .strictObject({
          exists: z.boolean().optional(),
          state: z.enum(PARCEL_STATES).optional(),
          owner: vmRefSchema.optional(),
          type: transTypeSchema.optional(),
          size: sizeSchema.optional(),
          regions: countSchema.optional(),
          label: wordSchema(0xffff_ffff, "The label.").optional(),
          accepted: z
            .array(vmRefSchema)
            .optional()
            .meta({ description: "The VMs that hold it, in ACL order." }),
          mapped: z
            .array(vmRefSchema)
            .optional()
            .meta({ description: "The VMs that have it mapped, in ACL order." }),
        })
        .optional()
        .meta({ description: "What it must be; each key is one expectation." }),
    })
    .meta({
      title: "gunyah.parcelInfo",
      description: "A parcel as the RM keeps it (not an RPC): state, owner, ACL sides, regions.",
    }),
  describe: (s) => `parcel ${showParcel(s.handle)}`,
  run(ctx, step, g): StepReport {
    const handle = handleOf(ctx, g, step.handle);
    const p = g.rm.parcels.get(handle);
    const e = step.expect;
    const what = `parcel ${handle}`;
    const names = (xs: readonly number[]) =>
      xs.map((v) => g.hyp.vm(v)?.name ?? hex(v)).join(", ") || "none";
    if (e?.exists !== undefined) expectValue(ctx, `${what} exists`, e.exists, p !== undefined);
    if (p === undefined) {
      if (e !== undefined && Object.keys(e).some((k) => k !== "exists"))
        fail("ENOENT", `${what} does not exist (reclaimed, donated, or never made)`);
      return { summary: `${what}: none`, output: { handle, exists: false } };
    }
    if (e?.state !== undefined) expectValue(ctx, `${what} state`, e.state, p.state);
    if (e?.owner !== undefined)
      expectValue(ctx, `${what} owner`, vmidOf(ctx, g, e.owner), p.owner, (v) => names([v]));
    if (e?.type !== undefined)
      expectValue(ctx, `${what} type`, e.type, p.transType, (v) => nameOf(TRANS_TYPE, v));
    if (e?.size !== undefined) expectValue(ctx, `${what} size`, e.size, p.size, showSize);
    if (e?.regions !== undefined) expectValue(ctx, `${what} regions`, e.regions, p.regions.length);
    if (e?.label !== undefined) expectValue(ctx, `${what} label`, e.label, p.label);
    const accepted = p.vms.filter((v) => v.shared).map((v) => v.vmid);
    const mapped = p.vms.filter((v) => v.mapped).map((v) => v.vmid);
    if (e?.accepted !== undefined)
      expectValue(
        ctx,
        `${what} accepted by`,
        e.accepted.map((v) => vmidOf(ctx, g, v)),
        accepted,
        names,
      );
    if (e?.mapped !== undefined)
      expectValue(
        ctx,
        `${what} mapped by`,
        e.mapped.map((v) => vmidOf(ctx, g, v)),
        mapped,
        names,
      );
    return {
      summary: `${what}: ${nameOf(TRANS_TYPE, p.transType)} from ${names([p.owner])}, ${p.state}, ${showSize(p.size)} in ${p.regions.length} region(s); accepted by ${names(accepted)}`,
      output: {
        handle,
        exists: true,
        state: p.state,
        owner: p.owner,
        size: p.size,
        regions: p.regions.length,
        accepted,
        mapped,
      },
    };
  },
});

const vmInfo = defineGunyahStep({
  schema: z
    .strictObject({
      op: z.literal("gunyah.vmInfo"),
      vm: vmRefSchema,
      expect: z
        .strictObject({
          exists: z.boolean().optional(),
          state: vmStateSchema.optional(),
          mapped: sizeSchema.optional().meta({ description: "Bytes its stage 2 maps." }),
          owns: z
            .array(parcelRefSchema)
            .optional()
            .meta({ description: "The parcels it owns, by handle order." }),
          accepted: z
            .array(parcelRefSchema)
            .optional()
            .meta({ description: "The parcels it holds, by handle order." }),
        })
        .optional()
        .meta({ description: "What it must be; each key is one expectation." }),
    })
    .meta({
      title: "gunyah.vmInfo",
      description: "A VM as the hypervisor keeps it (not an RPC): state, stage-2 bytes, parcels.",
    }),
  describe: (s) => `VM ${showVm(s.vm)}`,
  run(ctx, step, g): StepReport {
    const vmid = vmidOf(ctx, g, step.vm);
    const vm = g.hyp.vm(vmid);
    const e = step.expect;
    const what = `VM ${vm?.name ?? hex(vmid)}`;
    if (e?.exists !== undefined) expectValue(ctx, `${what} exists`, e.exists, vm !== undefined);
    if (vm === undefined) {
      if (e !== undefined && Object.keys(e).some((k) => k !== "exists"))
        fail("ENOENT", `${what} does not exist`);
      return { summary: `${what}: none`, output: { vmid, exists: false } };
    }
    const mapped = vm.stage2.mappedBytes(0, 2 ** IPA_BITS);
    const parcels = g.rm.parcels.list();
    const owns = parcels.filter((p) => p.owner === vmid).map((p) => p.handle);
    const accepted = parcels.filter((p) => p.vmInfo(vmid)?.shared === true).map((p) => p.handle);
    if (e?.state !== undefined)
      expectValue(ctx, `${what} state`, e.state, vm.state, (x) => nameOf(VM_STATE, x));
    if (e?.mapped !== undefined)
      expectValue(ctx, `${what} stage 2 maps`, e.mapped, mapped, showSize);
    if (e?.owns !== undefined)
      expectValue(
        ctx,
        `${what} owns`,
        e.owns.map((p) => handleOf(ctx, g, p)),
        owns,
      );
    if (e?.accepted !== undefined)
      expectValue(
        ctx,
        `${what} holds`,
        e.accepted.map((p) => handleOf(ctx, g, p)),
        accepted,
      );
    return {
      summary: `${what}: ${nameOf(VM_STATE, vm.state)}, stage 2 maps ${showSize(mapped)}; owns ${owns.join(", ") || "none"}; holds ${accepted.join(", ") || "none"}`,
      output: { vmid, exists: true, state: nameOf(VM_STATE, vm.state), mapped, owns, accepted },
    };
  },
});

/** The parcel and VM information steps, by op. */
export const gunyahInfoOps: Record<string, StepDefinition> = {
  "gunyah.parcelInfo": parcelInfo,
  "gunyah.vmInfo": vmInfo,
};
