/**
 * The host's RM client, as the Linux driver has it (seeds: drivers/virt/gunyah/rsc_mgr_rpc.c,
 * v13): `gh_rm_mem_lend` / `gh_rm_mem_share` (the first 512 memory entries in the create
 * message, flagged APPEND when there are more; then MEM_APPEND in chunks of 512, END on the
 * last; a failed append reclaims the parcel), `gh_rm_mem_reclaim`, and the VM calls
 * (`gh_rm_alloc_vmid` .. `gh_rm_get_hyp_resources`). A guest's calls (accept, release, notify,
 * VM_EXIT) are here too.
 *
 * Each function is an {@link RmFlow}; its result is the value, or the RM's error with the errno
 * Linux returns for it (`-EINVAL` for an argument Linux itself refuses before sending).
 */
import type { RmReply, RmRequest } from "../wire/codec.js";
import type { LinuxErrno } from "../wire/errors.js";
import { linuxErrno } from "../wire/errors.js";
import type { AclEntry, AttrEntry, RmError, SglEntry } from "../rm/types.js";
import { APPEND_FLAGS, CREATE_FLAGS, INVALID_HANDLE, MAX_LIST_ENTRIES } from "../rm/types.js";
import type { RmFlow } from "./flow.js";

/** A call's outcome: the value, or the RM error and the errno Linux makes of it. */
export type RmCallResult<T> =
  | { readonly ok: true; readonly value: T }
  | {
      readonly ok: false;
      readonly err: RmError;
      readonly errno: LinuxErrno;
      readonly reason?: string;
    };

function failed(err: Exclude<RmError, "OK">, reason?: string): RmCallResult<never> {
  return reason === undefined
    ? { ok: false, err, errno: linuxErrno(err) }
    : { ok: false, err, errno: linuxErrno(err), reason };
}

/** Linux's own -EINVAL (refused before anything is sent). */
function einval(reason: string): RmCallResult<never> {
  return { ok: false, err: "ARGUMENT_INVALID", errno: { name: "EINVAL", errno: 22 }, reason };
}

/** One call: send, and turn the reply into a result with `data`. */
function* call<T>(
  req: RmRequest,
  data: (r: RmReply & { err: "OK" }) => T,
): RmFlow<RmCallResult<T>> {
  const r = yield req;
  if (r.id !== req.id) return failed("MSG_INVALID", `a ${r.id} reply to ${req.id}`);
  return r.err === "OK" ? { ok: true, value: data(r) } : failed(r.err);
}

const none = (): undefined => undefined;

/** `struct gh_rm_mem_parcel`: what a lend or share describes. */
export interface MemParcel {
  readonly memType: number;
  readonly label: number;
  readonly acl: readonly AclEntry[];
  readonly mem: readonly SglEntry[];
  readonly attrs?: readonly AttrEntry[];
}

/** `gh_rm_mem_lend_common`: create with APPEND chunking; replies the handle. */
function* lendCommon(
  id: "MEM_LEND" | "MEM_SHARE" | "MEM_DONATE",
  p: MemParcel,
): RmFlow<RmCallResult<number>> {
  if (p.acl.length === 0 || p.mem.length === 0 || p.acl.length > 255)
    return einval(
      `${id}: ${p.acl.length} ACL and ${p.mem.length} memory entries (1..255 and at least 1)`,
    );
  const first = p.mem.slice(0, MAX_LIST_ENTRIES);
  const more = first.length !== p.mem.length;
  const created = yield* call(
    {
      id,
      memType: p.memType,
      flags: more ? CREATE_FLAGS.APPEND : 0,
      label: p.label,
      acl: p.acl,
      sgl: first,
      attrs: p.attrs ?? [],
    },
    (r) => (r as { handle: number }).handle,
  );
  if (!created.ok || !more) return created;
  const handle = created.value;
  for (let at = first.length; at < p.mem.length; at += MAX_LIST_ENTRIES) {
    const chunk = p.mem.slice(at, at + MAX_LIST_ENTRIES);
    const end = at + chunk.length === p.mem.length;
    const r = yield* call(
      { id: "MEM_APPEND", handle, flags: end ? APPEND_FLAGS.END : 0, sgl: chunk },
      none,
    );
    if (!r.ok) {
      yield* memReclaim(handle);
      return r;
    }
  }
  return created;
}

/** `gh_rm_mem_lend`: lend memory (the owner loses access while it is lent). */
export function memLend(p: MemParcel): RmFlow<RmCallResult<number>> {
  return lendCommon("MEM_LEND", p);
}

/** `gh_rm_mem_share`: share memory (the owner keeps access). */
export function memShare(p: MemParcel): RmFlow<RmCallResult<number>> {
  return lendCommon("MEM_SHARE", p);
}

/** Donate memory (not in the Linux driver; same layout). */
export function memDonate(p: MemParcel): RmFlow<RmCallResult<number>> {
  return lendCommon("MEM_DONATE", p);
}

/** `gh_rm_mem_reclaim`. */
export function* memReclaim(handle: number, flags = 0): RmFlow<RmCallResult<undefined>> {
  if (handle === INVALID_HANDLE) return einval("MEM_RECLAIM: invalid handle");
  return yield* call({ id: "MEM_RECLAIM", handle, flags }, none);
}

/** A guest's MEM_ACCEPT; replies the RM-chosen IPAs when `sgl` is empty. */
export function memAccept(a: Omit<Extract<RmRequest, { id: "MEM_ACCEPT" }>, "id">) {
  return call(
    { id: "MEM_ACCEPT", ...a },
    (r) => (r as { chosen?: { flags: number; sgl: readonly SglEntry[] } }).chosen,
  );
}

/** A guest's MEM_RELEASE. */
export function memRelease(handle: number, flags = 0): RmFlow<RmCallResult<undefined>> {
  return call({ id: "MEM_RELEASE", handle, flags }, none);
}

/** MEM_NOTIFY (`vmids` for SHARED and RECALL). */
export function memNotify(
  handle: number,
  flags: number,
  memInfoTag: number,
  vmids?: readonly number[],
) {
  return call(
    vmids === undefined
      ? { id: "MEM_NOTIFY", handle, flags, memInfoTag }
      : { id: "MEM_NOTIFY", handle, flags, memInfoTag, vmids },
    none,
  );
}

/** `gh_rm_alloc_vmid` (0: any dynamic VMID); replies the VMID. */
export function vmAllocVmid(vmid = 0): RmFlow<RmCallResult<number>> {
  return call({ id: "VM_ALLOCATE", vmid }, (r) => (r as { vmid: number }).vmid);
}

/** `gh_rm_dealloc_vmid`. */
export function vmDeallocVmid(vmid: number): RmFlow<RmCallResult<undefined>> {
  return call({ id: "VM_DEALLOCATE", vmid }, none);
}

/** `gh_rm_vm_configure`. */
export function vmConfigure(
  vmid: number,
  auth: number,
  memHandle: number,
  imageOffset: number,
  imageSize: number,
  dtbOffset: number,
  dtbSize: number,
): RmFlow<RmCallResult<undefined>> {
  return call(
    { id: "VM_CONFIG_IMAGE", vmid, auth, memHandle, imageOffset, imageSize, dtbOffset, dtbSize },
    none,
  );
}

/** `gh_rm_vm_init`. */
export function vmInit(vmid: number): RmFlow<RmCallResult<undefined>> {
  return call({ id: "VM_INIT", vmid }, none);
}

/** `gh_rm_vm_start`. */
export function vmStart(vmid: number): RmFlow<RmCallResult<undefined>> {
  return call({ id: "VM_START", vmid }, none);
}

/** `gh_rm_vm_stop`: Linux stops by force (flags FORCE, reason FORCE_STOP). */
export function vmStop(vmid: number, flags = 1, stopReason = 3): RmFlow<RmCallResult<undefined>> {
  return call({ id: "VM_STOP", vmid, flags, stopReason }, none);
}

/** `gh_rm_vm_reset`. */
export function vmReset(vmid: number): RmFlow<RmCallResult<undefined>> {
  return call({ id: "VM_RESET", vmid }, none);
}

/** VM_GET_STATE (0: self). */
export function vmGetState(vmid = 0) {
  return call({ id: "VM_GET_STATE", vmid }, (r) => {
    const s = r as unknown as { vmState: number; osStatus: number; appStatus: number };
    return { vmState: s.vmState, osStatus: s.osStatus, appStatus: s.appStatus };
  });
}

/** `gh_rm_get_hyp_resources`. */
export function getHypResources(vmid: number) {
  return call(
    { id: "VM_GET_HYP_RESOURCES", vmid },
    (r) => (r as unknown as { resources: unknown[] }).resources,
  );
}

/** `gh_rm_get_vmid`: the caller's own VMID. */
export function getVmid(): RmFlow<RmCallResult<number>> {
  return call({ id: "VM_GET_VMID" }, (r) => (r as { vmid: number }).vmid);
}

/** A guest's VM_EXIT. */
export function vmExit(exitFlags = 0, exitCode = 0): RmFlow<RmCallResult<undefined>> {
  return call({ id: "VM_EXIT", exitFlags, exitCode }, none);
}
