/**
 * What the `gunyah.*` steps share: the kinds of names they bind, the value schemas of their
 * fields (VMs, parcels, rights, flags by name, ACL / SGL / attribute lists, RM errors), how a
 * name resolves, and how an RPC is sent and its answer judged against the step's `expect`.
 *
 * **VMs** are written as the hypervisor names them — `hlos` (VMID 3), `rm` (0xFF), `vm128`
 * (`vm<vmid>`, decimal) —, by VMID (a number), or by a name a `gunyah.vmAllocate` bound. A
 * `vm<n>` name always means VMID n, whether such a VM exists or not (so a scenario can ask the
 * RM about one that does not); a bound name means the VMID it was bound to (also once the VM is
 * gone). A name that is neither is ENOENT with a suggestion.
 *
 * **Parcels** are written by handle (a number) or by a name a create step bound (`as`); a
 * parcel's name stands for its first region's address, in the owner's IPA space and
 * physically. **Accepted memory** (`gunyah.accept`'s `as`) stands for the first IPA where the
 * accepter has it (space `ipa:<vm>`) and the parcel's first physical address.
 *
 * **RPCs.** Every RPC step speaks through the calling VM's RM client (its message queue: bytes
 * encoded, fragmented, reassembled, decoded). Its `expect` is an RM error by name (`err:
 * MEM_INUSE`) or success with the values the reply returns (`handle: 0`); a mismatch is a
 * failed expectation naming the RPC, the VM, what was expected and what came (the run goes
 * on). Without `expect` the RPC must succeed: any error fails the step and stops the run, with
 * the errno Linux makes of the RM error as its code (`DENIED`: EPERM, most others EINVAL).
 */
import { z } from "zod";

import { hex } from "../../../base/address.js";
import type { ErrorCode } from "../../../base/errors.js";
import { ERRNO, fail, isMemweaveError } from "../../../base/errors.js";
import type { GunyahVm } from "../../../gunyah/hyp/vm.js";
import { VMID_HLOS, VMID_RM } from "../../../gunyah/hyp/vm.js";
import type { Parcel } from "../../../gunyah/rm/parcel.js";
import type { AclEntry, AttrEntry, RmError, SglEntry } from "../../../gunyah/rm/types.js";
import type { RmReply, RmRequest } from "../../../gunyah/wire/codec.js";
import { linuxErrno } from "../../../gunyah/wire/errors.js";
import { closest, showSize } from "../format.js";
import { rightsLetters } from "../machine/gunyah-report.js";
import type { BuiltMachine } from "../machine-module.js";
import { objectKind } from "../machine-module.js";
import type { ScenarioGunyah } from "../machine/gunyah.js";
import { gunyahOf, ipaSpace } from "../machine/gunyah.js";
import type {
  StepContext,
  StepDefinition,
  StepProblem,
  StepReport,
  StepSchema,
} from "../step-module.js";
import { defineStep, PHYSICAL } from "../step-module.js";
import type { aclSchema, attrsSchema, ParcelRef, SglItem, VmRef } from "./gunyah-values.js";

export * from "./gunyah-values.js";

// --- kinds of names ------------------------------------------------------------------------------

export interface VmBinding {
  readonly vmid: number;
  readonly vm: GunyahVm;
}
export interface ParcelBinding {
  readonly handle: number;
  readonly parcel: Parcel;
}
export interface AcceptedBinding {
  readonly vmid: number;
  readonly handle: number;
  readonly ipas: readonly SglEntry[];
}

/** The kinds `as` binds Gunyah objects under. */
export const GUNYAH_VM = objectKind<VmBinding>("VM");
export const PARCEL = objectKind<ParcelBinding>("parcel");
export const ACCEPTED = objectKind<AcceptedBinding>("accepted memory");

// --- the machine's hypervisor ----------------------------------------------------------------------

/** The machine's Gunyah hypervisor (EINVAL without a `gunyah` section; `check` says it at load). */
export function gunyahCtx(ctx: StepContext): ScenarioGunyah {
  return (
    gunyahOf(ctx.objects) ??
    fail("EINVAL", 'the machine has no "gunyah" section: there is no hypervisor')
  );
}

/** A load-time problem when the machine has no `gunyah` section. */
export function checkGunyah(op: string, machine: BuiltMachine): StepProblem[] {
  return gunyahOf(machine) === undefined
    ? [
        {
          path: ["op"],
          code: "missing-section",
          message: `${op} needs the machine's "gunyah" section (the hypervisor and its RM)`,
        },
      ]
    : [];
}

/**
 * A `gunyah.*` step: it needs the machine's `gunyah` section (checked at load), runs with the
 * hypervisor, and leaves every VM with its RM session (a VM allocated by the step gets one).
 */
export function defineGunyahStep<S extends StepSchema>(d: {
  readonly schema: S;
  describe(step: z.output<S>): string;
  run(ctx: StepContext, step: z.output<S>, g: ScenarioGunyah): StepReport | void;
  check?(step: z.output<S>, machine: BuiltMachine): readonly StepProblem[];
}): StepDefinition<S> {
  return defineStep({
    schema: d.schema,
    describe: (s) => d.describe(s),
    check: (s, m) => {
      const missing = checkGunyah(String(s.op), m);
      return missing.length > 0 ? missing : (d.check?.(s, m) ?? []);
    },
    run(ctx, step) {
      const g = gunyahCtx(ctx);
      try {
        return d.run(ctx, step, g);
      } finally {
        g.sync();
      }
    },
  });
}

/** The VMID a `vm<n>` / `hlos` / `rm` name stands for, if it is one. */
export function builtinVmid(name: string): number | undefined {
  if (name === "hlos") return VMID_HLOS;
  if (name === "rm") return VMID_RM;
  const m = /^vm(\d{1,5})$/.exec(name);
  return m !== null ? Number(m[1]) : undefined;
}

/** Record a name a step bound, for suggestions. */
export function noteName(g: ScenarioGunyah, name: string, kind: string): void {
  g.names.set(name, kind);
}

/** Rethrow an ENOENT of a lookup with a suggestion among `known`. */
function withSuggestion(e: unknown, name: string, what: string, known: string[]): never {
  if (!isMemweaveError(e, "ENOENT")) throw e;
  const near = closest(name, known);
  return fail(
    "ENOENT",
    `no ${what} named "${name}"${near !== undefined ? `, did you mean "${near}"?` : ""} (have: ${known.join(", ") || "none"})`,
  );
}

/** The VMID a VM reference stands for. */
export function vmidOf(ctx: StepContext, g: ScenarioGunyah, ref: VmRef): number {
  if ("vmid" in ref) return ref.vmid;
  const builtin = builtinVmid(ref.name);
  if (builtin !== undefined) return builtin;
  try {
    return ctx.lookup(ref.name, GUNYAH_VM).vmid;
  } catch (e) {
    const bound = [...g.names].filter(([, k]) => k === GUNYAH_VM.name).map(([n]) => n);
    return withSuggestion(e, ref.name, "VM", [...g.hyp.list().map((v) => v.name), ...bound]);
  }
}

/** The VM a reference names, which must exist (ENOENT naming the VMs there are). */
export function vmOf(ctx: StepContext, g: ScenarioGunyah, ref: VmRef): GunyahVm {
  return g.vm(vmidOf(ctx, g, ref));
}

/** The caller of a step: `ref`, or the host. */
export function callerOf(ctx: StepContext, g: ScenarioGunyah, ref: VmRef | undefined): GunyahVm {
  return ref === undefined ? g.hyp.host : vmOf(ctx, g, ref);
}

/** The handle a parcel reference stands for. */
export function handleOf(ctx: StepContext, g: ScenarioGunyah, ref: ParcelRef): number {
  if ("handle" in ref) return ref.handle;
  try {
    return ctx.lookup(ref.name, PARCEL).handle;
  } catch (e) {
    const bound = [...g.names].filter(([, k]) => k === PARCEL.name).map(([n]) => n);
    return withSuggestion(e, ref.name, "parcel", bound);
  }
}

/** The entries of an SGL, addresses resolved in `vm`'s IPA space (then physically). */
export function expandSgl(ctx: StepContext, vm: GunyahVm, items: readonly SglItem[]): SglEntry[] {
  const spaces = [ipaSpace(vm), PHYSICAL];
  const out: SglEntry[] = [];
  for (const e of items) {
    if (e.ipa !== undefined) out.push({ ipa: ctx.resolve(e.ipa, spaces), size: e.size });
    else {
      const from = ctx.resolve(e.from!, spaces);
      const stride = e.stride ?? e.size;
      for (let i = 0; i < e.count!; i++) out.push({ ipa: from + i * stride, size: e.size });
    }
  }
  return out;
}

export function aclOf(
  ctx: StepContext,
  g: ScenarioGunyah,
  acl: z.output<typeof aclSchema>,
): AclEntry[] {
  return acl.map((e) => ({ vmid: vmidOf(ctx, g, e.vm), rights: e.rights }));
}

export function attrsOf(
  ctx: StepContext,
  g: ScenarioGunyah,
  attrs: z.output<typeof attrsSchema>,
): AttrEntry[] {
  return attrs.map((e) => ({ vmid: vmidOf(ctx, g, e.vm), attr: e.attr }));
}

/** Refuse a name `as` may not take: it would read as a VM's own name. */
export function checkBindable(ctx: StepContext, name: string): void {
  if (builtinVmid(name) !== undefined)
    fail("EINVAL", `"${name}" is how VMs are named (hlos, rm, vm<vmid>): bind another name`);
  ctx.checkName(name);
}

// --- RPCs and expectations ----------------------------------------------------------------------

/** The model's error code for an RM error a step did not expect (the errno Linux makes of it). */
export function errnoCode(err: RmError): ErrorCode {
  const name = linuxErrno(err).name;
  return Object.hasOwn(ERRNO, name) ? (name as ErrorCode) : "EINVAL";
}

/**
 * Judge an RPC's answer `got` against the step's `expect`; true when it succeeded as wanted
 * (the caller then checks the values and binds names). See the module's header.
 */
export function judge(
  ctx: StepContext,
  head: string,
  got: RmError,
  expect: { readonly err?: RmError | undefined } | undefined,
): boolean {
  const want = expect?.err ?? "OK";
  if (got !== want) {
    const message = `${head}: expected ${want}, got ${got}`;
    if (expect === undefined) fail(errnoCode(got), message);
    ctx.expect(false, message);
    return false;
  }
  if (want !== "OK") {
    ctx.expect(true, `${head}: ${want}, as expected`);
    return false;
  }
  const values = Object.entries(expect ?? {}).filter(([k, v]) => k !== "err" && v !== undefined);
  if (expect !== undefined && values.length === 0) ctx.expect(true, `${head}: OK`);
  return true;
}

/** Send `req` from `caller` through its RM client and judge the answer. */
export function rpc(
  ctx: StepContext,
  g: ScenarioGunyah,
  caller: GunyahVm,
  req: RmRequest,
  detail: string,
  expect: { readonly err?: RmError | undefined } | undefined,
): { reply: RmReply; ok: boolean; head: string } {
  const head = `${req.id} from ${caller.name}${detail !== "" ? ` ${detail}` : ""}`;
  const reply = g.client(caller.vmid).call(req);
  return { reply, ok: judge(ctx, head, reply.err, expect), head };
}

/** One value expectation: `what = want`, or what was found instead. */
export function expectValue<T>(
  ctx: StepContext,
  what: string,
  want: T,
  got: T,
  show: (x: T) => string = (x) => (typeof x === "string" ? x : JSON.stringify(x)),
): void {
  const same = JSON.stringify(want) === JSON.stringify(got);
  ctx.expect(
    same,
    same ? `${what} = ${show(want)}` : `${what}: expected ${show(want)}, got ${show(got)}`,
  );
}

/** The report of an RPC step: its summary and output. */
export function rpcReport(
  r: { reply: RmReply; head: string },
  summary: string,
  output: Record<string, unknown> = {},
): StepReport {
  return {
    summary: r.reply.err === "OK" ? `${r.head}: ${summary || "OK"}` : `${r.head}: ${r.reply.err}`,
    output: JSON.parse(
      JSON.stringify({ rpc: r.reply.id, err: r.reply.err, ...output }),
    ) as StepReport["output"],
  };
}

/** A parcel in words: `2 MiB in 1 region, ACL vm128 rwx, SHARING`. */
export function parcelWords(g: ScenarioGunyah, p: Parcel): string {
  const acl = p.acl.map(
    (e) => `${g.hyp.vm(e.vmid)?.name ?? hex(e.vmid)} ${rightsLetters(e.rights)}`,
  );
  return `${showSize(p.size)} in ${p.regions.length} region${p.regions.length === 1 ? "" : "s"}, ACL ${acl.join(", ")}, ${p.state}`;
}

/** A VM by VMID for messages: its name, or `VMID 0x90` when there is none. */
export function nameOfVmid(g: ScenarioGunyah, vmid: number): string {
  return g.hyp.vm(vmid)?.name ?? `VMID ${hex(vmid)}`;
}
