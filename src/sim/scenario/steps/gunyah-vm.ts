/**
 * The VM-management RPCs as steps (reference §1, §8): `gunyah.vmAllocate` .. `gunyah.vmExit`.
 * Each sends one request through the calling VM's RM client (the host unless `from` says
 * otherwise; `gunyah.vmExit` is a guest's); `vm` is the VM the request is about.
 *
 * | op                       | fields                                                                 |
 * | ------------------------ | ---------------------------------------------------------------------- |
 * | gunyah.vmAllocate        | from?, vmid? (0: any dynamic VMID), expect? { err, vmid }, as?          |
 * | gunyah.vmDeallocate      | from?, vm, expect?                                                     |
 * | gunyah.vmConfigImage     | from?, vm, auth?, handle, imageOffset?, imageSize?, dtbOffset?, dtbSize?, expect? |
 * | gunyah.vmAuthImage       | from?, vm, params? [{ type, param }], expect?                          |
 * | gunyah.vmInit / vmStart / vmReset | from?, vm, expect?                                            |
 * | gunyah.vmStop            | from?, vm, force? (default true), reason?, expect?                     |
 * | gunyah.vmSetFirmwareMem  | from?, vm, handle, offset?, size, expect?                              |
 * | gunyah.vmExit            | from (the guest), flags?, code?, expect?                               |
 *
 * Decisions: `gunyah.vmStop` stops by force with reason FORCE_STOP unless told otherwise, as
 * Linux's `gh_rm_vm_stop` does (without force the reason defaults to SHUTDOWN); a VM's `as`
 * name may not look like a VM's own (`vm129`), so names never shadow VMIDs.
 */
import { z } from "zod";

import { hex } from "../../../base/address.js";
import type { GunyahVm } from "../../../gunyah/hyp/vm.js";
import { VM_STATE } from "../../../gunyah/hyp/vm.js";
import type { RmRequest } from "../../../gunyah/wire/codec.js";
import { EXIT_CODE, STOP_REASON, VM_AUTH } from "../../../gunyah/wire/vm.js";
import type { ScenarioGunyah } from "../machine/gunyah.js";
import { nameOf } from "../machine/gunyah-report.js";
import type { StepContext, StepDefinition } from "../step-module.js";
import { sizeSchema } from "../values.js";
import {
  asSchema,
  callerOf,
  checkBindable,
  defineGunyahStep,
  expectValue,
  GUNYAH_VM,
  handleOf,
  namedSchema,
  noteName,
  parcelRefSchema,
  rpc,
  rpcExpect,
  rpcReport,
  showParcel,
  showVm,
  vmidOf,
  vmRefSchema,
  wordSchema,
  nameOfVmid,
} from "./gunyah-common.js";
import type { VmRef } from "./gunyah-common.js";

const fromField = vmRefSchema
  .optional()
  .meta({ description: "The calling VM (default: the host, hlos)." });
const vmField = vmRefSchema.meta({ description: "The VM the request is about." });
const from = (s: { from?: VmRef | undefined }) =>
  s.from !== undefined ? ` from ${showVm(s.from)}` : "";

/** Bind `name` to VM `vm` (a `gunyah.vmAllocate`'s `as`). */
export function bindVm(ctx: StepContext, g: ScenarioGunyah, name: string, vm: GunyahVm): void {
  ctx.bind(name, {
    kind: GUNYAH_VM,
    value: { vmid: vm.vmid, vm },
    isLive: () => g.hyp.vm(vm.vmid) === vm,
  });
  noteName(g, name, GUNYAH_VM.name);
}

const vmAllocate = defineGunyahStep({
  schema: z
    .strictObject({
      op: z.literal("gunyah.vmAllocate"),
      from: fromField,
      vmid: wordSchema(
        0xffff,
        "The VMID to allocate (0, the default: the RM picks one in 0x80..0xBE).",
      ).optional(),
      expect: rpcExpect({ vmid: vmRefSchema.optional() }, "the VMID"),
      as: asSchema("new VM").optional(),
    })
    .meta({
      title: "gunyah.vmAllocate",
      description: "VM_ALLOCATE: a new VM, in LOAD (only the host may ask). Replies its VMID.",
    }),
  describe: (s) =>
    `VM_ALLOCATE ${s.vmid ? hex(s.vmid) : "any VMID"}${from(s)}${s.as !== undefined ? ` as ${s.as}` : ""}`,
  run(ctx, step, g) {
    const caller = callerOf(ctx, g, step.from);
    if (step.as !== undefined) checkBindable(ctx, step.as);
    const r = rpc(ctx, g, caller, { id: "VM_ALLOCATE", vmid: step.vmid ?? 0 }, "", step.expect);
    const vmid = r.reply.err === "OK" ? (r.reply as { vmid: number }).vmid : undefined;
    g.sync();
    const vm = vmid === undefined ? undefined : g.hyp.vm(vmid);
    if (r.ok && vm !== undefined) {
      if (step.expect?.vmid !== undefined)
        expectValue(ctx, `${r.head}: VMID`, vmidOf(ctx, g, step.expect.vmid), vm.vmid, hex);
      if (step.as !== undefined) bindVm(ctx, g, step.as, vm);
    }
    return rpcReport(
      r,
      vm !== undefined
        ? `${vm.name} (VMID ${hex(vm.vmid)}), vCPUs ${vm.vcpus.map((c) => c.name).join(", ")}`
        : "",
      {
        from: caller.name,
        ...(vm !== undefined ? { vmid: vm.vmid, vm: vm.name } : {}),
      },
    );
  },
});

/** A request about one VM whose answer is standard (`{ le16 vmid; le16 res }`). */

function vmStep(
  kind: "vmDeallocate" | "vmInit" | "vmStart" | "vmReset",
  id: "VM_DEALLOCATE" | "VM_INIT" | "VM_START" | "VM_RESET",
  description: string,
) {
  return defineGunyahStep({
    schema: z
      .strictObject({
        op: z.literal(`gunyah.${kind}` as const),
        from: fromField,
        vm: vmField,
        expect: rpcExpect({}, ""),
      })
      .meta({ title: `gunyah.${kind}`, description: `${id}: ${description}` }),
    describe: (s) => `${id} ${showVm(s.vm)}${from(s)}`,
    run(ctx, step, g) {
      const caller = callerOf(ctx, g, step.from);
      const vmid = vmidOf(ctx, g, step.vm);
      const r = rpc(ctx, g, caller, { id, vmid }, `of ${nameOfVmid(g, vmid)}`, step.expect);
      return rpcReport(r, stateWords(g, vmid), { from: caller.name, vmid });
    },
  });
}

/** A VM's state after a step, for summaries. */
function stateWords(g: ScenarioGunyah, vmid: number): string {
  const vm = g.hyp.vm(vmid);
  return vm === undefined
    ? `${nameOfVmid(g, vmid)} is gone`
    : `${vm.name} is ${nameOf(VM_STATE, vm.state)}`;
}

const vmConfigImage = defineGunyahStep({
  schema: z
    .strictObject({
      op: z.literal("gunyah.vmConfigImage"),
      from: fromField,
      vm: vmField,
      auth: namedSchema("an authentication", VM_AUTH, 0xffff).optional().meta({
        description:
          "NONE (the default; -> INIT), PLATFORM (-> AUTH), ANDROID (-> INIT), or a number.",
      }),
      handle: parcelRefSchema.meta({
        description: "The image / DTB parcel (its ACL must include the VM).",
      }),
      imageOffset: sizeSchema
        .optional()
        .meta({ description: "The image's offset in the parcel (default 0)." }),
      imageSize: sizeSchema.optional().meta({ description: "The image's size (default 0)." }),
      dtbOffset: sizeSchema
        .optional()
        .meta({ description: "The DTB's offset in the parcel (default 0)." }),
      dtbSize: sizeSchema.optional().meta({ description: "The DTB's size (default 0)." }),
      expect: rpcExpect({}, ""),
    })
    .meta({
      title: "gunyah.vmConfigImage",
      description:
        "VM_CONFIG_IMAGE: the VM's image and DTB are in this parcel (in LOAD or RESET; a bad parcel or range: INIT_FAILED).",
    }),
  describe: (s) =>
    `VM_CONFIG_IMAGE ${showVm(s.vm)} with ${showParcel(s.handle)}${s.auth ? ` auth ${nameOf(VM_AUTH, s.auth)}` : ""}${from(s)}`,
  run(ctx, step, g) {
    const caller = callerOf(ctx, g, step.from);
    const vmid = vmidOf(ctx, g, step.vm);
    const memHandle = handleOf(ctx, g, step.handle);
    const req: RmRequest = {
      id: "VM_CONFIG_IMAGE",
      vmid,
      auth: step.auth ?? 0,
      memHandle,
      imageOffset: step.imageOffset ?? 0,
      imageSize: step.imageSize ?? 0,
      dtbOffset: step.dtbOffset ?? 0,
      dtbSize: step.dtbSize ?? 0,
    };
    const r = rpc(
      ctx,
      g,
      caller,
      req,
      `of ${nameOfVmid(g, vmid)} with handle ${memHandle}`,
      step.expect,
    );
    return rpcReport(r, stateWords(g, vmid), { from: caller.name, vmid, handle: memHandle });
  },
});

const vmAuthImage = defineGunyahStep({
  schema: z
    .strictObject({
      op: z.literal("gunyah.vmAuthImage"),
      from: fromField,
      vm: vmField,
      params: z
        .array(
          z.strictObject({
            type: wordSchema(0xffff_ffff, "The parameter's type."),
            param: wordSchema(0xffff_ffff, "Its value."),
          }),
        )
        .optional()
        .meta({ description: "The authentication parameters (default none)." }),
      expect: rpcExpect({}, ""),
    })
    .meta({
      title: "gunyah.vmAuthImage",
      description: "VM_AUTH_IMAGE: authenticate the image (AUTH -> INIT).",
    }),
  describe: (s) => `VM_AUTH_IMAGE ${showVm(s.vm)}${from(s)}`,
  run(ctx, step, g) {
    const caller = callerOf(ctx, g, step.from);
    const vmid = vmidOf(ctx, g, step.vm);
    const r = rpc(
      ctx,
      g,
      caller,
      { id: "VM_AUTH_IMAGE", vmid, params: step.params ?? [] },
      `of ${nameOfVmid(g, vmid)}`,
      step.expect,
    );
    return rpcReport(r, stateWords(g, vmid), { from: caller.name, vmid });
  },
});

const vmStop = defineGunyahStep({
  schema: z
    .strictObject({
      op: z.literal("gunyah.vmStop"),
      from: fromField,
      vm: vmField,
      force: z.boolean().optional().meta({
        description:
          "FORCE (default true, as Linux): EXITED at once, VM_EXITED to the owner; false: VM_SHUTDOWN to the guest.",
      }),
      reason: namedSchema("a stop reason", STOP_REASON, 0xffff_ffff).optional().meta({
        description:
          "SHUTDOWN, RESTART, CRASH, FORCE_STOP or a number (default: FORCE_STOP when forced, else SHUTDOWN).",
      }),
      expect: rpcExpect({}, ""),
    })
    .meta({ title: "gunyah.vmStop", description: "VM_STOP: stop a running VM." }),
  describe: (s) =>
    `VM_STOP ${showVm(s.vm)}${s.force === false ? "" : " FORCE"}${s.reason !== undefined ? ` ${nameOf(STOP_REASON, s.reason)}` : ""}${from(s)}`,
  run(ctx, step, g) {
    const caller = callerOf(ctx, g, step.from);
    const vmid = vmidOf(ctx, g, step.vm);
    const force = step.force !== false;
    const stopReason = step.reason ?? (force ? STOP_REASON.FORCE_STOP : STOP_REASON.SHUTDOWN);
    const r = rpc(
      ctx,
      g,
      caller,
      { id: "VM_STOP", vmid, flags: force ? 1 : 0, stopReason },
      `of ${nameOfVmid(g, vmid)}`,
      step.expect,
    );
    return rpcReport(r, stateWords(g, vmid), { from: caller.name, vmid });
  },
});

const vmSetFirmwareMem = defineGunyahStep({
  schema: z
    .strictObject({
      op: z.literal("gunyah.vmSetFirmwareMem"),
      from: fromField,
      vm: vmField,
      handle: parcelRefSchema.meta({
        description: "The firmware parcel (its ACL must include the VM).",
      }),
      offset: sizeSchema
        .optional()
        .meta({ description: "The firmware's offset in the parcel (default 0)." }),
      size: sizeSchema.meta({ description: "Its size." }),
      expect: rpcExpect({}, ""),
    })
    .meta({
      title: "gunyah.vmSetFirmwareMem",
      description:
        "VM_SET_FIRMWARE_MEM: the VM's firmware is in this parcel (only in INIT); VM_START accepts it.",
    }),
  describe: (s) => `VM_SET_FIRMWARE_MEM ${showVm(s.vm)} with ${showParcel(s.handle)}${from(s)}`,
  run(ctx, step, g) {
    const caller = callerOf(ctx, g, step.from);
    const vmid = vmidOf(ctx, g, step.vm);
    const handle = handleOf(ctx, g, step.handle);
    const r = rpc(
      ctx,
      g,
      caller,
      { id: "VM_SET_FIRMWARE_MEM", vmid, handle, offset: step.offset ?? 0, size: step.size },
      `of ${nameOfVmid(g, vmid)} with handle ${handle}`,
      step.expect,
    );
    return rpcReport(r, "", { from: caller.name, vmid, handle });
  },
});

const vmExit = defineGunyahStep({
  schema: z
    .strictObject({
      op: z.literal("gunyah.vmExit"),
      from: vmRefSchema.meta({ description: "The guest that exits." }),
      flags: wordSchema(0xffff, "exit_flags (default 0).").optional(),
      code: namedSchema("an exit code", EXIT_CODE, 0xff)
        .optional()
        .meta({ description: "NORMAL (default), SW_ERROR, UNKNOWN, BUS, DEVICE, or a number." }),
      expect: rpcExpect({}, ""),
    })
    .meta({
      title: "gunyah.vmExit",
      description: "VM_EXIT: a guest exits (EXITED; VM_EXITED to its owner).",
    }),
  describe: (s) => `VM_EXIT from ${showVm(s.from)}${s.code ? ` ${nameOf(EXIT_CODE, s.code)}` : ""}`,
  run(ctx, step, g) {
    const caller = callerOf(ctx, g, step.from);
    const r = rpc(
      ctx,
      g,
      caller,
      { id: "VM_EXIT", exitFlags: step.flags ?? 0, exitCode: step.code ?? 0 },
      "",
      step.expect,
    );
    return rpcReport(r, stateWords(g, caller.vmid), { from: caller.name });
  },
});

/** The VM-management steps, by op. */

export const gunyahVmOps: Record<string, StepDefinition> = {
  "gunyah.vmAllocate": vmAllocate,
  "gunyah.vmDeallocate": vmStep(
    "vmDeallocate",
    "VM_DEALLOCATE",
    "free the VMID (only from LOAD or RESET).",
  ),
  "gunyah.vmConfigImage": vmConfigImage,
  "gunyah.vmAuthImage": vmAuthImage,
  "gunyah.vmInit": vmStep("vmInit", "VM_INIT", "INIT -> READY."),
  "gunyah.vmStart": vmStep(
    "vmStart",
    "VM_START",
    "READY -> RUNNING: the RM accepts the image parcel at the memory base, the firmware and private parcels.",
  ),
  "gunyah.vmStop": vmStop,
  "gunyah.vmReset": vmStep(
    "vmReset",
    "VM_RESET",
    "RESETTING -> RESET: every parcel the VM accepted is released (MEM_RELEASED to the owners).",
  ),
  "gunyah.vmSetFirmwareMem": vmSetFirmwareMem,
  "gunyah.vmExit": vmExit,
};
