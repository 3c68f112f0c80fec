/**
 * The VM-management queries as steps (reference §1): `gunyah.vmGetState` (a VM's state, OS
 * and app status; by default the caller's own, VMID 0), `gunyah.vmGetVmid` (the caller's VMID)
 * and `gunyah.vmGetHypResources` (a VM's vCPUs and message queues), each with the values its
 * reply returns as expectations.
 */
import { z } from "zod";

import { hex } from "../../../base/address.js";
import { VM_STATE } from "../../../gunyah/hyp/vm.js";
import { HYP_RESOURCE_TYPE, OS_STATUS } from "../../../gunyah/wire/vm.js";
import { nameOf } from "../machine/gunyah-report.js";
import type { StepDefinition } from "../step-module.js";
import { countSchema } from "../values.js";
import {
  callerOf,
  defineGunyahStep,
  expectValue,
  namedSchema,
  rpc,
  rpcExpect,
  rpcReport,
  showVm,
  vmidOf,
  vmRefSchema,
  wordSchema,
  nameOfVmid,
  osStatusSchema,
  vmStateSchema,
} from "./gunyah-common.js";
import type { VmRef } from "./gunyah-common.js";

const fromField = vmRefSchema
  .optional()
  .meta({ description: "The calling VM (default: the host, hlos)." });
const vmField = vmRefSchema.meta({ description: "The VM the request is about." });
const from = (s: { from?: VmRef | undefined }) =>
  s.from !== undefined ? ` from ${showVm(s.from)}` : "";

const vmGetState = defineGunyahStep({
  schema: z
    .strictObject({
      op: z.literal("gunyah.vmGetState"),
      from: fromField,
      vm: vmRefSchema
        .optional()
        .meta({ description: "The VM asked about (default: the caller itself, VMID 0)." }),
      expect: rpcExpect(
        {
          state: vmStateSchema.optional(),
          os: osStatusSchema.optional(),
          app: wordSchema(0xffff, "The app status.").optional(),
        },
        "the VM's state, OS status and app status",
      ),
    })
    .meta({
      title: "gunyah.vmGetState",
      description: "VM_GET_STATE: a VM's state, OS status and app status.",
    }),
  describe: (s) => `VM_GET_STATE ${s.vm !== undefined ? showVm(s.vm) : "self"}${from(s)}`,
  run(ctx, step, g) {
    const caller = callerOf(ctx, g, step.from);
    const vmid = step.vm === undefined ? 0 : vmidOf(ctx, g, step.vm);
    const r = rpc(
      ctx,
      g,
      caller,
      { id: "VM_GET_STATE", vmid },
      vmid === 0 ? "of itself" : `of ${nameOfVmid(g, vmid)}`,
      step.expect,
    );
    const s =
      r.reply.err === "OK"
        ? (r.reply as unknown as { vmState: number; osStatus: number; appStatus: number })
        : undefined;
    const e = step.expect;
    if (r.ok && s !== undefined) {
      if (e?.state !== undefined)
        expectValue(ctx, `${r.head}: state`, e.state, s.vmState, (x) => nameOf(VM_STATE, x));
      if (e?.os !== undefined)
        expectValue(ctx, `${r.head}: OS status`, e.os, s.osStatus, (x) => nameOf(OS_STATUS, x));
      if (e?.app !== undefined) expectValue(ctx, `${r.head}: app status`, e.app, s.appStatus);
    }
    return rpcReport(
      r,
      s !== undefined
        ? `${nameOf(VM_STATE, s.vmState)}, OS ${nameOf(OS_STATUS, s.osStatus)}, app ${s.appStatus}`
        : "",
      s !== undefined
        ? {
            from: caller.name,
            state: nameOf(VM_STATE, s.vmState),
            vmState: s.vmState,
            osStatus: s.osStatus,
            appStatus: s.appStatus,
          }
        : { from: caller.name },
    );
  },
});

const vmGetVmid = defineGunyahStep({
  schema: z
    .strictObject({
      op: z.literal("gunyah.vmGetVmid"),
      from: fromField,
      expect: rpcExpect({ vmid: vmRefSchema.optional() }, "the caller's VMID"),
    })
    .meta({ title: "gunyah.vmGetVmid", description: "VM_GET_VMID: the caller's own VMID." }),
  describe: (s) => `VM_GET_VMID${from(s)}`,
  run(ctx, step, g) {
    const caller = callerOf(ctx, g, step.from);
    const r = rpc(ctx, g, caller, { id: "VM_GET_VMID" }, "", step.expect);
    const vmid = r.reply.err === "OK" ? (r.reply as { vmid: number }).vmid : undefined;
    if (r.ok && vmid !== undefined && step.expect?.vmid !== undefined)
      expectValue(ctx, `${r.head}: VMID`, vmidOf(ctx, g, step.expect.vmid), vmid, hex);
    return rpcReport(r, vmid !== undefined ? hex(vmid) : "", {
      from: caller.name,
      ...(vmid !== undefined ? { vmid } : {}),
    });
  },
});

const resourceTypeSchema = namedSchema("a resource type", HYP_RESOURCE_TYPE, 0xff);

const vmGetHypResources = defineGunyahStep({
  schema: z
    .strictObject({
      op: z.literal("gunyah.vmGetHypResources"),
      from: fromField,
      vm: vmField,
      expect: rpcExpect(
        {
          count: countSchema.optional().meta({ description: "How many entries." }),
          vcpus: countSchema.optional().meta({ description: "How many VCPU entries." }),
          types: z
            .array(resourceTypeSchema)
            .optional()
            .meta({ description: "The entries' types, in order (VCPU, MSGQ_TX, ...)." }),
        },
        "the entries",
      ),
    })
    .meta({
      title: "gunyah.vmGetHypResources",
      description: "VM_GET_HYP_RESOURCES: the VM's hypervisor resources (vCPUs, message queues).",
    }),
  describe: (s) => `VM_GET_HYP_RESOURCES ${showVm(s.vm)}${from(s)}`,
  run(ctx, step, g) {
    const caller = callerOf(ctx, g, step.from);
    const vmid = vmidOf(ctx, g, step.vm);
    const r = rpc(
      ctx,
      g,
      caller,
      { id: "VM_GET_HYP_RESOURCES", vmid },
      `of ${nameOfVmid(g, vmid)}`,
      step.expect,
    );
    const res =
      r.reply.err === "OK"
        ? (r.reply as unknown as { resources: Array<{ type: number; capId: number }> }).resources
        : [];
    const e = step.expect;
    const types = res.map((x) => x.type);
    const typeNames = (ts: readonly number[]) =>
      ts.map((t) => nameOf(HYP_RESOURCE_TYPE, t)).join(", ") || "none";
    if (r.ok) {
      if (e?.count !== undefined) expectValue(ctx, `${r.head}: entries`, e.count, res.length);
      if (e?.vcpus !== undefined)
        expectValue(
          ctx,
          `${r.head}: VCPU entries`,
          e.vcpus,
          types.filter((t) => t === HYP_RESOURCE_TYPE.VCPU).length,
        );
      if (e?.types !== undefined) expectValue(ctx, `${r.head}: types`, e.types, types, typeNames);
    }
    return rpcReport(r, r.reply.err === "OK" ? `${res.length} entries: ${typeNames(types)}` : "", {
      from: caller.name,
      vmid,
      resources: res as unknown as Record<string, unknown>[],
    });
  },
});

/** The VM-management queries, by op. */
export const gunyahVmQueryOps: Record<string, StepDefinition> = {
  "gunyah.vmGetState": vmGetState,
  "gunyah.vmGetVmid": vmGetVmid,
  "gunyah.vmGetHypResources": vmGetHypResources,
};
