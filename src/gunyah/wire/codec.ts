/**
 * The RM codec's entry: every request, reply and notification of the reference, as typed values
 * and as payload bytes (the part after the 8-byte header; `fragment.ts` frames payloads).
 *
 * - Requests: {@link encodeRequest} / {@link decodeRequest}. The layouts are in `mem.ts` and
 *   `vm.ts`.
 * - Replies: a reply payload is `le32 err_code` then, on success, the request's reply data
 *   ({@link encodeReply} / {@link decodeReply}). An error reply decodes to its error alone:
 *   bytes after the error word are ignored (the RM's VM_SET_FIRMWARE_MEM appends the
 *   hypervisor's error word to its error replies).
 * - Notifications: {@link encodeNotification} / {@link decodeNotification}, and
 *   {@link encodeNotice} for the semantic {@link RmNotice} of `rm/types.ts`.
 *
 * Decoders never throw, whatever the bytes: they refuse with MSG_INVALID (a payload too short
 * for its layout, a list count that overruns it, bytes left after the layout, a le64 above
 * 2^53-1, a reserved field the RM requires to be 0, an error code nobody defines) or
 * UNIMPLEMENTED (an ID that is not a request, or not a notification, of the reference), with a
 * reason naming the message, the field and the value. Encoders throw MemweaveError EINVAL for a
 * value that does not fit its field.
 */
import { fail } from "../../base/errors.js";
import type { RmError, RmNotice } from "../rm/types.js";
import { formatRmCode, rmErrorCode, rmErrorName } from "./errors.js";
import {
  formatMsgId,
  isNotificationName,
  isRequestName,
  MSG,
  msgName,
  type NotificationName,
  REQUEST_NAMES,
  type RequestName,
} from "./ids.js";
import { type DecodeResult, WireReader, WireWriter } from "./lists.js";
import {
  encodeMemNotification,
  encodeMemRequest,
  memReplyDataSize,
  type MemNotification,
  type MemReplyData,
  type MemRequest,
  type MemRequestName,
  readMemNotification,
  readMemReplyData,
  readMemRequest,
  writeMemReplyData,
} from "./mem.js";
import {
  encodeVmNotification,
  encodeVmRequest,
  readVmNotification,
  readVmReplyData,
  readVmRequest,
  type VmNotification,
  type VmReplyData,
  type VmRequest,
  vmReplyDataSize,
  writeVmReplyData,
} from "./vm.js";

export type { DecodeResult } from "./lists.js";

/** A request, by its ID's name: `{ id: "MEM_LEND", memType, flags, label, acl, sgl, attrs }`. */
export type RmRequest = MemRequest | VmRequest;

/** A notification the RM sends, by its ID's name. */
export type RmNotification = MemNotification | VmNotification;

/** The request variant named `N` (variants may share a layout and name several IDs). */
export type RequestOf<N extends RequestName> = Variant<RmRequest, N>;
/** The notification variant named `N`. */
export type NotificationOf<N extends NotificationName> = Variant<RmNotification, N>;

type Variant<U, N> = U extends { readonly id: infer I } ? (N extends I ? U : never) : never;

/** The data of each request's successful reply. */
export type ReplyData = MemReplyData & VmReplyData;

/** A reply to request `N`: success with its data, or an error alone. */
export type ReplyOf<N extends RequestName> =
  ({ readonly err: "OK" } & ReplyData[N]) | { readonly err: Exclude<RmError, "OK"> };

/** A decoded reply, with the name of the request it answers. */
export type RmReply = { [N in RequestName]: { readonly id: N } & ReplyOf<N> }[RequestName];

/** `"<name> reply"`, what a reply's faults and errors are prefixed with (made once). */
const REPLY_WHAT = Object.fromEntries(REQUEST_NAMES.map((n) => [n, `${n} reply`])) as Readonly<
  Record<RequestName, string>
>;

function isMem(name: RequestName): name is MemRequestName {
  return name.startsWith("MEM_");
}

function unimplemented(msgId: number, kind: string): DecodeResult<never> {
  const name = msgName(msgId);
  return {
    ok: false,
    err: "UNIMPLEMENTED",
    reason: name
      ? `${name} (0x${msgId.toString(16)}) is not a ${kind}`
      : `unknown ${kind} ID ${formatMsgId(msgId)}`,
  };
}

/** The message ID of a request. */
export function requestMsgId(req: RmRequest): number {
  return MSG[req.id];
}

/** The payload of a request. */
export function encodeRequest(req: RmRequest): Uint8Array {
  if (!isRequestName(req.id)) fail("EINVAL", `${String(req.id)} is not a request`, "id");
  return isMem(req.id) ? encodeMemRequest(req as MemRequest) : encodeVmRequest(req as VmRequest);
}

/** Decode a request's payload. Never throws. */
export function decodeRequest(msgId: number, payload: Uint8Array): DecodeResult<RmRequest> {
  const name = msgName(msgId);
  if (name === undefined || !isRequestName(name)) return unimplemented(msgId, "request");
  const r = new WireReader(name, payload);
  const value = isMem(name) ? readMemRequest(r, name) : readVmRequest(r, name);
  return r.result(value);
}

/** The payload of a reply to request `id` (`le32 err_code`, then the data on success). */
export function encodeReply<N extends RequestName>(id: N, reply: ReplyOf<N>): Uint8Array {
  if (!isRequestName(id)) fail("EINVAL", `${String(id)} is not a request`, "id");
  const code = rmErrorCode(reply.err);
  if (code === undefined)
    fail("EINVAL", `${id} reply: ${String(reply.err)} is not an RM error`, "err");
  if (reply.err !== "OK") {
    const w = new WireWriter(REPLY_WHAT[id], 4);
    w.u32(code, "err_code");
    return w.done();
  }
  const data = reply as ReplyData[N];
  const size = isMem(id) ? memReplyDataSize(id, data) : vmReplyDataSize(id, data);
  const w = new WireWriter(REPLY_WHAT[id], 4 + size);
  w.u32(code, "err_code");
  if (isMem(id)) writeMemReplyData(w, id, data);
  else writeVmReplyData(w, id, data);
  return w.done();
}

/** Decode a reply's payload; `msgId` is its request's. Never throws. */
export function decodeReply(msgId: number, payload: Uint8Array): DecodeResult<RmReply> {
  const name = msgName(msgId);
  if (name === undefined || !isRequestName(name)) return unimplemented(msgId, "request");
  const r = new WireReader(REPLY_WHAT[name], payload);
  r.atLeast(4, "the error code");
  const code = r.u32("err_code");
  const err = rmErrorName(code);
  if (r.fault === undefined && err === undefined)
    r.fail(`err_code ${formatRmCode(code)} is not an RM error code`);
  if (r.fault !== undefined || err === undefined)
    return { ok: false, err: "MSG_INVALID", reason: r.fault ?? "" };
  if (err !== "OK") return { ok: true, value: { id: name, err } as RmReply };
  const data = isMem(name) ? readMemReplyData(r, name) : readVmReplyData(r, name);
  return r.result({ id: name, err, ...data } as RmReply);
}

/** The payload of a notification. */
export function encodeNotification(n: RmNotification): Uint8Array {
  if (!isNotificationName(n.id)) fail("EINVAL", `${String(n.id)} is not a notification`, "id");
  return n.id.startsWith("MEM_")
    ? encodeMemNotification(n as MemNotification)
    : encodeVmNotification(n as VmNotification);
}

/** Decode a notification's payload. Never throws. */
export function decodeNotification(
  msgId: number,
  payload: Uint8Array,
): DecodeResult<RmNotification> {
  const name = msgName(msgId);
  if (name === undefined || !isNotificationName(name)) return unimplemented(msgId, "notification");
  const r = new WireReader(name, payload);
  const value = name.startsWith("MEM_")
    ? readMemNotification(r, name as MemNotification["id"])
    : readVmNotification(r, name as VmNotification["id"]);
  return r.result(value);
}

/** The wire notification of a semantic notice (MEM_SHARED's `sanitize` is flags bit 0). */
export function noticeToNotification(n: RmNotice): RmNotification {
  switch (n.kind) {
    case "MEM_SHARED":
      return {
        id: n.kind,
        handle: n.handle,
        memType: n.memType,
        transType: n.transType,
        flags: n.sanitize ? 1 : 0,
        owner: n.owner,
        label: n.label,
        memInfoTag: n.memInfoTag,
        acl: n.acl,
        sizes: n.sizes,
        attrs: n.attrs,
      };
    case "MEM_ACCEPTED":
    case "MEM_RELEASED":
      return { id: n.kind, handle: n.handle, vmid: n.vmid, memInfoTag: n.memInfoTag };
    case "MEM_RECALL":
      return { id: n.kind, handle: n.handle, memInfoTag: n.memInfoTag };
    case "VM_STATUS":
      return {
        id: n.kind,
        vmid: n.vmid,
        vmStatus: n.vmStatus,
        osStatus: n.osStatus,
        appStatus: n.appStatus,
      };
    case "VM_EXITED":
      return { id: n.kind, vmid: n.vmid, exitType: n.exitType, reason: n.reason };
    case "VM_SHUTDOWN":
      return { id: n.kind, stopReason: n.stopReason };
  }
}

/** A notice as it goes on the wire: to which VM, under which ID, with which payload. */
export interface EncodedNotice {
  readonly to: number;
  readonly msgId: number;
  readonly name: NotificationName;
  readonly payload: Uint8Array;
}

/** Encode a semantic notice of `rm/types.ts`. */
export function encodeNotice(n: RmNotice): EncodedNotice {
  const notification = noticeToNotification(n);
  return {
    to: n.to,
    msgId: MSG[notification.id],
    name: notification.id,
    payload: encodeNotification(notification),
  };
}
