/**
 * The memory-parcel RPCs of the VMs that receive memory, and of the owner taking it back, as
 * steps (reference §4, §7): `gunyah.accept`, `gunyah.release`, `gunyah.reclaim`.
 *
 * | op             | fields                                                                       |
 * | -------------- | ---------------------------------------------------------------------------- |
 * | gunyah.accept  | by, handle, memType?, transType?, flags? (default [DONE]), label?, acl?, attrs?, sgl?, mapVmid?, expect? { err, sgl, incomplete }, as? |
 * | gunyah.release | by, handle, flags? [SANITIZE], expect?                                       |
 * | gunyah.reclaim | from?, handle, flags? [SANITIZE], expect?                                    |
 *
 * Decisions:
 * - `by` (the accepter, the releaser) has no default; `from` (the owner) defaults to the host.
 * - `gunyah.accept` sends the parcel's own mem_type and trans_type unless told otherwise (a
 *   client learns them from MEM_SHARED), and flags DONE unless `flags` says otherwise; without
 *   `sgl` the RM picks the IPAs and the reply carries them (`expect.sgl`, `expect.incomplete`).
 * - Its `as` binds the accepted memory: its first IPA in the accepter's space, and the parcel's
 *   first physical address; live while the VM holds it (for a donation: while the VM exists).
 */
import { z } from "zod";

import { hex } from "../../../base/address.js";
import type { GunyahVm } from "../../../gunyah/hyp/vm.js";
import type { Parcel } from "../../../gunyah/rm/parcel.js";
import type { SglEntry } from "../../../gunyah/rm/types.js";
import {
  ACCEPT_FLAGS,
  RECLAIM_FLAGS,
  RELEASE_FLAGS,
  TRANS_TYPE,
} from "../../../gunyah/rm/types.js";
import { showSize } from "../format.js";
import type { ScenarioGunyah } from "../machine/gunyah.js";
import { ipaSpace } from "../machine/gunyah.js";
import type { StepContext, StepDefinition } from "../step-module.js";
import { PHYSICAL } from "../step-module.js";
import { sizeSchema } from "../values.js";
import {
  ACCEPTED,
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
  memTypeSchema,
  noteName,
  parcelRefSchema,
  rpc,
  rpcExpect,
  rpcReport,
  sglSchema,
  showFlags,
  showParcel,
  showSgl,
  showVm,
  transTypeSchema,
  vmOf,
  vmRefSchema,
  wordSchema,
  byField,
  labelField,
  parcelWords,
} from "./gunyah-common.js";

// --- ACCEPT -------------------------------------------------------------------------------------

const ipaListSchema = z
  .array(z.strictObject({ ipa: sizeSchema, size: sizeSchema }))
  .meta({ description: "The IPAs the RM chose, in order." });

function bindAccepted(
  ctx: StepContext,
  g: ScenarioGunyah,
  name: string,
  vm: GunyahVm,
  p: Parcel,
  ipas: readonly SglEntry[],
): void {
  const donated = p.transType === TRANS_TYPE.DONATE;
  const first = p.regions[0]!;
  ctx.bind(name, {
    kind: ACCEPTED,
    value: { vmid: vm.vmid, handle: p.handle, ipas },
    isLive: () =>
      donated
        ? g.hyp.vm(vm.vmid) === vm
        : g.rm.parcels.get(p.handle) === p && p.vmInfo(vm.vmid)?.shared === true,
    addresses: {
      ...(ipas[0] !== undefined ? { [ipaSpace(vm)]: ipas[0].ipa } : {}),
      [PHYSICAL]: first.pa,
    },
  });
  noteName(g, name, ACCEPTED.name);
}

const accept = defineGunyahStep({
  schema: z
    .strictObject({
      op: z.literal("gunyah.accept"),
      by: byField("accepts (in the parcel's ACL)"),
      handle: parcelRefSchema,
      memType: memTypeSchema
        .optional()
        .meta({ description: "The mem_type sent (default: the parcel's)." }),
      transType: transTypeSchema
        .optional()
        .meta({ description: "The trans_type sent: DONATE, LEND, SHARE (default: the parcel's)." }),
      flags: flagsSchema("accept", ACCEPT_FLAGS).optional().meta({
        description:
          "Accept flags: VALIDATE_SANITIZED, VALIDATE_ACL_ATTR, VALIDATE_LABEL, MAP_OTHER, MAP_CONTIGUOUS, SANITIZE, DONE (default [DONE]), or a number.",
      }),
      label: labelField.meta({ description: "The label VALIDATE_LABEL checks (default 0)." }),
      acl: aclSchema
        .optional()
        .meta({ description: "The ACL VALIDATE_ACL_ATTR checks (default none)." }),
      attrs: attrsSchema
        .optional()
        .meta({ description: "The attributes VALIDATE_ACL_ATTR checks (default none)." }),
      sgl: sglSchema.optional().meta({
        description:
          "Where to map it in the accepter's IPA space: one entry per region (its size), or one for all with MAP_CONTIGUOUS. Absent: the RM picks.",
      }),
      mapVmid: wordSchema(0xffff, "The SGL list's map_vmid (must be 0).").optional(),
      expect: rpcExpect(
        {
          sgl: ipaListSchema.optional(),
          incomplete: z
            .boolean()
            .optional()
            .meta({ description: "INCOMPLETE: call again for the rest." }),
        },
        "the IPAs the RM chose (sgl) and INCOMPLETE",
      ),
      as: asSchema("accepted memory (its first IPA, and its first physical address)").optional(),
    })
    .meta({
      title: "gunyah.accept",
      description:
        "MEM_ACCEPT: a VM of the ACL takes the parcel; with DONE it is mapped in its stage 2 with the ACL's rights (a DONATE then changes owner for good).",
    }),
  describe: (s) =>
    `MEM_ACCEPT ${showParcel(s.handle)} by ${showVm(s.by)} [${showFlags(ACCEPT_FLAGS, s.flags ?? ACCEPT_FLAGS.DONE)}]${s.sgl !== undefined ? ` at ${showSgl(s.sgl)}` : ""}${s.as !== undefined ? ` as ${s.as}` : ""}`,
  run(ctx, step, g) {
    const vm = vmOf(ctx, g, step.by);
    const handle = handleOf(ctx, g, step.handle);
    if (step.as !== undefined) checkBindable(ctx, step.as);
    const p = g.rm.parcels.get(handle);
    const sgl = step.sgl === undefined ? [] : expandSgl(ctx, vm, step.sgl);
    const r = rpc(
      ctx,
      g,
      vm,
      {
        id: "MEM_ACCEPT",
        handle,
        memType: step.memType ?? p?.memType ?? 0,
        transType: step.transType ?? p?.transType ?? TRANS_TYPE.LEND,
        flags: step.flags ?? ACCEPT_FLAGS.DONE,
        label: step.label ?? 0,
        acl: aclOf(ctx, g, step.acl ?? []),
        sgl,
        mapVmid: step.mapVmid ?? 0,
        attrs: attrsOf(ctx, g, step.attrs ?? []),
      },
      `of handle ${handle}`,
      step.expect,
    );
    const chosen =
      r.reply.err === "OK"
        ? (r.reply as { chosen?: { flags: number; sgl: SglEntry[] } }).chosen
        : undefined;
    const ipas = chosen?.sgl ?? sgl;
    const incomplete = chosen !== undefined && (chosen.flags & 1) !== 0;
    if (r.ok) {
      if (step.expect?.sgl !== undefined)
        expectValue(ctx, `${r.head}: IPAs`, step.expect.sgl, chosen?.sgl ?? [], showIpas);
      if (step.expect?.incomplete !== undefined)
        expectValue(ctx, `${r.head}: INCOMPLETE`, step.expect.incomplete, incomplete);
      if (step.as !== undefined && p !== undefined) bindAccepted(ctx, g, step.as, vm, p, ipas);
    }
    const words = `${ipas.length > 0 ? `at ${showIpas(ipas)}` : "accepted"}${incomplete ? ", INCOMPLETE" : ""}`;
    return rpcReport(r, words, {
      by: vm.name,
      handle,
      ...(chosen !== undefined ? { chosen: chosen.sgl, incomplete } : {}),
    });
  },
});

function showIpas(ipas: readonly SglEntry[]): string {
  if (ipas.length === 0) return "none";
  const first = `${hex(ipas[0]!.ipa)}+${showSize(ipas[0]!.size)}`;
  return ipas.length === 1 ? first : `${first} and ${ipas.length - 1} more`;
}

// --- RELEASE, RECLAIM ---------------------------------------------------------------------------

function giveBack(kind: "release" | "reclaim") {
  const id = kind === "release" ? "MEM_RELEASE" : "MEM_RECLAIM";
  const flags = kind === "release" ? RELEASE_FLAGS : RECLAIM_FLAGS;
  return defineGunyahStep({
    schema: z
      .strictObject({
        op: z.literal(`gunyah.${kind}` as const),
        ...(kind === "release"
          ? { by: byField("accepted it") }
          : {
              from: vmRefSchema.optional().meta({ description: "The owner (default: the host)." }),
            }),
        handle: parcelRefSchema,
        flags: flagsSchema(kind, flags).optional(),
        expect: rpcExpect({}, ""),
      })
      .meta({
        title: `gunyah.${kind}`,
        description:
          kind === "release"
            ? "MEM_RELEASE: the accepter gives the parcel up (unmapped from its stage 2; SANITIZE zeroes it at reclaim)."
            : "MEM_RECLAIM: the owner takes the memory back (MEM_INUSE while anyone holds it; zeroed if sanitize was asked).",
      }),
    describe: (s) => {
      const who =
        (s as { by?: z.output<typeof vmRefSchema> }).by ??
        (s as { from?: z.output<typeof vmRefSchema> }).from;
      return `${id} ${showParcel(s.handle)} ${kind === "release" ? "by" : "from"} ${who !== undefined ? showVm(who) : "hlos"}${s.flags ? ` [${showFlags(flags, s.flags)}]` : ""}`;
    },
    run(ctx, step, g) {
      const s = step as typeof step & {
        by?: z.output<typeof vmRefSchema>;
        from?: z.output<typeof vmRefSchema>;
      };
      const caller = callerOf(ctx, g, s.by ?? s.from);
      const handle = handleOf(ctx, g, step.handle);
      const r = rpc(
        ctx,
        g,
        caller,
        { id, handle, flags: step.flags ?? 0 },
        `of handle ${handle}`,
        step.expect,
      );
      const p = g.rm.parcels.get(handle);
      const words =
        kind === "reclaim"
          ? `back with ${caller.name}, parcel ${handle} deleted`
          : `released; parcel ${handle}: ${p !== undefined ? parcelWords(g, p) : "gone"}`;
      return rpcReport(r, words, { [kind === "release" ? "by" : "from"]: caller.name, handle });
    },
  });
}

/** The accept, release and reclaim steps, by op. */
export const gunyahAcceptOps: Record<string, StepDefinition> = {
  "gunyah.accept": accept,
  "gunyah.release": giveBack("release"),
  "gunyah.reclaim": giveBack("reclaim"),
};
