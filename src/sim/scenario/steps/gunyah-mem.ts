/**
 * The memory-parcel RPCs that make and announce parcels, as steps (reference §4, §7):
 * `gunyah.lend`, `gunyah.share`, `gunyah.donate`, `gunyah.append`, `gunyah.notify` and
 * `gunyah.lookupSgl` (`gunyah-accept.ts` has accept, release and reclaim). Each sends one
 * request through the calling VM's RM client (see `gunyah-common.ts` for names, `expect` and
 * errors).
 *
 * | op                       | fields                                                          |
 * | ------------------------ | --------------------------------------------------------------- |
 * | gunyah.lend/share/donate | from?, memType?, acl, sgl, attrs?, label?, flags? [SANITIZE, APPEND], linux?, expect? { err, handle }, as? |
 * | gunyah.append            | from?, handle, sgl, flags? [END], expect?                       |
 * | gunyah.notify            | from?, handle, flags (SHARED / RELEASED / ACCEPTED / RECALL), tag?, vms?, expect? |
 * | gunyah.lookupSgl         | from?, memType?, label?, acl, sgl, attrs?, expect? { err, handle } |
 *
 * Decisions:
 * - `from` defaults to the host.
 * - `linux: true` on a create sends it as the Linux driver does (`gh_rm_mem_lend`): the first
 *   512 entries in the create, flagged APPEND when there are more, then MEM_APPEND in chunks of
 *   512 with END on the last, and a MEM_RECLAIM if an append fails; `expect` judges the whole.
 */
import { z } from "zod";

import { memDonate, memLend, memShare } from "../../../gunyah/client/linux.js";
import type { GunyahVm } from "../../../gunyah/hyp/vm.js";
import {
  APPEND_FLAGS,
  CREATE_FLAGS,
  MAX_LIST_ENTRIES,
  NOTIFY_FLAGS,
} from "../../../gunyah/rm/types.js";
import type { RmReply } from "../../../gunyah/wire/codec.js";
import type { ScenarioGunyah } from "../machine/gunyah.js";
import { ipaSpace } from "../machine/gunyah.js";
import { nameOf, rightsLetters } from "../machine/gunyah-report.js";
import type { StepContext, StepDefinition } from "../step-module.js";
import { PHYSICAL } from "../step-module.js";
import {
  aclOf,
  aclSchema,
  asSchema,
  attrsOf,
  attrsSchema,
  callerOf,
  checkBindable,
  defineGunyahStep,
  expandSgl,
  expectValue,
  flagsSchema,
  handleOf,
  judge,
  memTypeSchema,
  namedSchema,
  noteName,
  PARCEL,
  parcelRefSchema,
  rpc,
  rpcExpect,
  rpcReport,
  sglSchema,
  showFlags,
  showParcel,
  showSgl,
  showVm,
  vmidOf,
  vmRefSchema,
  wordSchema,
  fromField,
  labelField,
  parcelWords,
} from "./gunyah-common.js";

/** Bind `name` to parcel `handle` of `owner`: its first region's IPA (owner's) and PA. */
function bindParcel(
  ctx: StepContext,
  g: ScenarioGunyah,
  name: string,
  owner: GunyahVm,
  handle: number,
): void {
  const parcel = g.rm.parcels.get(handle);
  if (parcel === undefined) return;
  const first = parcel.regions[0]!;
  ctx.bind(name, {
    kind: PARCEL,
    value: { handle, parcel },
    isLive: () => g.rm.parcels.get(handle) === parcel,
    addresses: { [ipaSpace(owner)]: first.ipa, [PHYSICAL]: first.pa },
  });
  noteName(g, name, PARCEL.name);
}

// --- create: LEND, SHARE, DONATE ----------------------------------------------------------------

const CREATE = {
  lend: { id: "MEM_LEND", flow: memLend, does: "lends memory: the owner loses access at once" },
  share: { id: "MEM_SHARE", flow: memShare, does: "shares memory: the owner keeps its ACL rights" },
  donate: {
    id: "MEM_DONATE",
    flow: memDonate,
    does: "donates memory: the accepter owns it for good once it accepts with DONE",
  },
} as const;

function createStep<K extends keyof typeof CREATE>(kind: K) {
  const { id, flow, does } = CREATE[kind];
  return defineGunyahStep({
    schema: z
      .strictObject({
        op: z.literal(`gunyah.${kind}` as const),
        from: fromField,
        memType: memTypeSchema.optional(),
        acl: aclSchema,
        sgl: sglSchema,
        attrs: attrsSchema.optional(),
        label: labelField,
        flags: flagsSchema("create", CREATE_FLAGS).optional(),
        linux: z.boolean().optional().meta({
          description:
            "Send it as the Linux driver does: 512 entries in the create (APPEND when there are more), the rest in MEM_APPENDs of 512, END on the last; a failed append reclaims.",
        }),
        expect: rpcExpect(
          { handle: wordSchema(0xffff_ffff, "The handle.").optional() },
          "the handle",
        ),
        as: asSchema("parcel's handle").optional(),
      })
      .superRefine((s, c) => {
        if (s.linux === true && s.flags !== undefined)
          c.addIssue({
            code: "custom",
            path: ["flags"],
            message:
              "with linux: true the driver sets the flags itself (APPEND when more than 512 entries)",
          });
      })
      .meta({
        title: `gunyah.${kind}`,
        description: `${id}: the caller ${does}. Replies the parcel's handle.`,
      }),
    describe: (s) =>
      `${id} ${showSgl(s.sgl)} from ${s.from !== undefined ? showVm(s.from) : "hlos"} to ${s.acl.map((e) => `${showVm(e.vm)} ${rightsLetters(e.rights)}`).join(", ") || "nobody"}${s.flags ? ` [${showFlags(CREATE_FLAGS, s.flags)}]` : ""}${s.linux === true ? " (as Linux)" : ""}${s.as !== undefined ? ` as ${s.as}` : ""}`,
    run(ctx, step, g) {
      const owner = callerOf(ctx, g, step.from);
      if (step.as !== undefined) checkBindable(ctx, step.as);
      const acl = aclOf(ctx, g, step.acl);
      const attrs = attrsOf(ctx, g, step.attrs ?? []);
      const sgl = expandSgl(ctx, owner, step.sgl);
      const memType = step.memType ?? 0;
      const label = step.label ?? 0;
      let reply: RmReply;
      let head: string;
      let ok: boolean;
      if (step.linux === true) {
        const messages = Math.max(1, Math.ceil(sgl.length / MAX_LIST_ENTRIES));
        head = `${id} from ${owner.name} as Linux (${sgl.length} entries, ${messages} message${messages === 1 ? "" : "s"})`;
        const r = g.client(owner.vmid).run(flow({ memType, label, acl, mem: sgl, attrs }));
        reply = (r.ok ? { id, err: "OK", handle: r.value } : { id, err: r.err }) as RmReply;
        ok = judge(ctx, head, reply.err, step.expect);
      } else
        ({ reply, head, ok } = rpc(
          ctx,
          g,
          owner,
          { id, memType, flags: step.flags ?? 0, label, acl, sgl, attrs },
          `(${sgl.length} entr${sgl.length === 1 ? "y" : "ies"})`,
          step.expect,
        ));
      const handle = reply.err === "OK" ? (reply as { handle: number }).handle : undefined;
      if (ok && handle !== undefined) {
        if (step.expect?.handle !== undefined)
          expectValue(ctx, `${head}: handle`, step.expect.handle, handle);
        if (step.as !== undefined) bindParcel(ctx, g, step.as, owner, handle);
      }
      const p = handle === undefined ? undefined : g.rm.parcels.get(handle);
      return rpcReport(
        { reply, head },
        `handle ${handle}${p !== undefined ? `: ${parcelWords(g, p)}` : ""}`,
        {
          from: owner.name,
          entries: sgl.length,
          ...(handle !== undefined ? { handle } : {}),
          ...(p !== undefined ? { size: p.size, state: p.state } : {}),
        },
      );
    },
  });
}

// --- APPEND -------------------------------------------------------------------------------------

const append = defineGunyahStep({
  schema: z
    .strictObject({
      op: z.literal("gunyah.append"),
      from: fromField,
      handle: parcelRefSchema,
      sgl: sglSchema,
      flags: flagsSchema("append", APPEND_FLAGS).optional(),
      expect: rpcExpect({}, ""),
    })
    .meta({
      title: "gunyah.append",
      description:
        "MEM_APPEND: more memory for a parcel created with APPEND; END finishes it (SHARING).",
    }),
  describe: (s) =>
    `MEM_APPEND ${showSgl(s.sgl)} to ${showParcel(s.handle)}${s.flags ? ` [${showFlags(APPEND_FLAGS, s.flags)}]` : ""}`,
  run(ctx, step, g) {
    const owner = callerOf(ctx, g, step.from);
    const handle = handleOf(ctx, g, step.handle);
    const sgl = expandSgl(ctx, owner, step.sgl);
    const r = rpc(
      ctx,
      g,
      owner,
      { id: "MEM_APPEND", handle, flags: step.flags ?? 0, sgl },
      `to handle ${handle} (${sgl.length} entr${sgl.length === 1 ? "y" : "ies"})`,
      step.expect,
    );
    const p = g.rm.parcels.get(handle);
    return rpcReport(r, p !== undefined ? parcelWords(g, p) : "", {
      from: owner.name,
      handle,
      entries: sgl.length,
    });
  },
});

// --- NOTIFY -------------------------------------------------------------------------------------

const notify = defineGunyahStep({
  schema: z
    .strictObject({
      op: z.literal("gunyah.notify"),
      from: fromField,
      handle: parcelRefSchema,
      flags: namedSchema("a notify flag", NOTIFY_FLAGS, 0xff),
      tag: wordSchema(
        0xffff_ffff,
        "mem_info_tag (default 0); the first NOTIFY sets the parcel's.",
      ).optional(),
      vms: z
        .array(vmRefSchema)
        .optional()
        .meta({ description: "SHARED and RECALL: the VMs to tell (ACL members)." }),
      expect: rpcExpect({}, ""),
    })
    .superRefine((s, c) => {
      const needs = s.flags === NOTIFY_FLAGS.SHARED || s.flags === NOTIFY_FLAGS.RECALL;
      if (needs && s.vms === undefined)
        c.addIssue({
          code: "custom",
          path: ["vms"],
          message: 'missing required key "vms" (SHARED and RECALL name the VMs to tell)',
        });
      if (!needs && s.vms !== undefined)
        c.addIssue({
          code: "custom",
          path: ["vms"],
          message: `vms go with SHARED and RECALL, not ${nameOf(NOTIFY_FLAGS, s.flags)}`,
        });
    })
    .meta({
      title: "gunyah.notify",
      description:
        "MEM_NOTIFY: the owner tells ACL VMs of a parcel (SHARED: MEM_SHARED; RECALL: MEM_RECALL), or an accepter tells the owner it took or released it (ACCEPTED, RELEASED).",
    }),
  describe: (s) =>
    `MEM_NOTIFY ${nameOf(NOTIFY_FLAGS, s.flags)} ${showParcel(s.handle)} from ${s.from !== undefined ? showVm(s.from) : "hlos"}${s.vms !== undefined ? ` to ${s.vms.map(showVm).join(", ")}` : ""}`,
  run(ctx, step, g) {
    const caller = callerOf(ctx, g, step.from);
    const handle = handleOf(ctx, g, step.handle);
    const vmids = step.vms?.map((v) => vmidOf(ctx, g, v));
    const base = {
      id: "MEM_NOTIFY" as const,
      handle,
      flags: step.flags,
      memInfoTag: step.tag ?? 0,
    };
    const r = rpc(
      ctx,
      g,
      caller,
      vmids === undefined ? base : { ...base, vmids },
      `${nameOf(NOTIFY_FLAGS, step.flags)} of handle ${handle}`,
      step.expect,
    );
    return rpcReport(r, "", {
      from: caller.name,
      handle,
      ...(vmids !== undefined ? { vmids } : {}),
    });
  },
});

// --- QCOM_LOOKUP_SGL -------------------------------------------------------------------------------

const lookupSgl = defineGunyahStep({
  schema: z
    .strictObject({
      op: z.literal("gunyah.lookupSgl"),
      from: fromField,
      memType: memTypeSchema.optional(),
      label: labelField,
      acl: aclSchema,
      sgl: sglSchema,
      attrs: attrsSchema.optional(),
      expect: rpcExpect(
        { handle: parcelRefSchema.optional() },
        "the handle (a number or a parcel's name)",
      ),
    })
    .meta({
      title: "gunyah.lookupSgl",
      description:
        "MEM_QCOM_LOOKUP_SGL: the handle of the caller's own SHARING parcel whose ACL, memory and attributes match exactly (else LOOKUP_FAILED).",
    }),
  describe: (s) =>
    `MEM_QCOM_LOOKUP_SGL ${showSgl(s.sgl)} from ${s.from !== undefined ? showVm(s.from) : "hlos"}`,
  run(ctx, step, g) {
    const caller = callerOf(ctx, g, step.from);
    const r = rpc(
      ctx,
      g,
      caller,
      {
        id: "MEM_QCOM_LOOKUP_SGL",
        memType: step.memType ?? 0,
        label: step.label ?? 0,
        acl: aclOf(ctx, g, step.acl),
        sgl: expandSgl(ctx, caller, step.sgl),
        attrs: attrsOf(ctx, g, step.attrs ?? []),
      },
      "",
      step.expect,
    );
    const handle = r.reply.err === "OK" ? (r.reply as { handle: number }).handle : undefined;
    if (r.ok && handle !== undefined && step.expect?.handle !== undefined)
      expectValue(ctx, `${r.head}: handle`, handleOf(ctx, g, step.expect.handle), handle);
    return rpcReport(r, `handle ${handle}`, {
      from: caller.name,
      ...(handle !== undefined ? { handle } : {}),
    });
  },
});

/** The steps that make and announce parcels, by op. */
export const gunyahMemOps: Record<string, StepDefinition> = {
  "gunyah.lend": createStep("lend"),
  "gunyah.share": createStep("share"),
  "gunyah.donate": createStep("donate"),
  "gunyah.append": append,
  "gunyah.notify": notify,
  "gunyah.lookupSgl": lookupSgl,
};
