/**
 * The RM's request dispatch (rm-rpc.c `rm_rpc_handle_msg`, memparcel.c
 * `memparcel_msg_handler`, vm_mgnt.c): a decoded request from a VM becomes a call of the
 * semantic layer, and its answer becomes the reply.
 *
 * {@link dispatch} works on typed values (the in-process path); {@link handleRequest} on payload
 * bytes: it decodes (a layout problem is the codec's MSG_INVALID, an unknown ID UNIMPLEMENTED),
 * dispatches, and encodes the reply. Neither throws on any input the protocol can carry; an
 * exception from the model beneath would be a bug, and is not dressed up as an RM answer.
 */
import type { RmReply, RmRequest } from "../wire/codec.js";
import { decodeRequest, encodeReply } from "../wire/codec.js";
import { rmErrorCode } from "../wire/errors.js";
import { msgName } from "../wire/ids.js";
import type { ResourceManager } from "./rm.js";
import type { RmError, RmResult } from "./types.js";
import { TRANS_TYPE } from "./types.js";

function reply<T>(
  id: RmRequest["id"],
  r: RmResult<T>,
  data: (v: T) => object = () => ({}),
): RmReply {
  return (r.err === "OK" ? { id, err: "OK", ...data(r.value) } : { id, err: r.err }) as RmReply;
}

const CREATE_TYPE = {
  MEM_LEND: TRANS_TYPE.LEND,
  MEM_SHARE: TRANS_TYPE.SHARE,
  MEM_DONATE: TRANS_TYPE.DONATE,
} as const;

/** Answer one decoded request from VM `caller`. */
export function dispatch(rm: ResourceManager, caller: number, req: RmRequest): RmReply {
  const p = rm.parcels;
  const v = rm.vms;
  switch (req.id) {
    case "MEM_LEND":
    case "MEM_SHARE":
    case "MEM_DONATE":
      return reply(req.id, p.create(caller, CREATE_TYPE[req.id], req), (handle) => ({ handle }));
    case "MEM_APPEND":
      return reply(req.id, p.append(caller, req.handle, req.flags, req.sgl));
    case "MEM_ACCEPT":
      return reply(req.id, p.accept(caller, req), (r) =>
        r === undefined ? {} : { chosen: { flags: r.incomplete ? 1 : 0, sgl: r.sgl } },
      );
    case "MEM_RELEASE":
      return reply(req.id, p.release(caller, req.handle, req.flags));
    case "MEM_RECLAIM":
      return reply(req.id, p.reclaim(caller, req.handle, req.flags));
    case "MEM_NOTIFY":
      return reply(req.id, p.notifyCall(caller, req.handle, req.flags, req.memInfoTag, req.vmids));
    case "MEM_QCOM_LOOKUP_SGL":
      return reply(req.id, p.lookupSgl(caller, req), (handle) => ({ handle }));
    case "VM_ALLOCATE":
      return reply(req.id, v.allocate(caller, req.vmid), (vmid) => ({ vmid }));
    case "VM_DEALLOCATE":
      return reply(req.id, v.deallocate(caller, req.vmid));
    case "VM_START":
      return reply(req.id, v.start(caller, req.vmid));
    case "VM_STOP":
      return reply(req.id, v.stop(caller, req.vmid, req.flags, req.stopReason));
    case "VM_RESET":
      return reply(req.id, v.reset(caller, req.vmid));
    case "VM_CONFIG_IMAGE":
      return reply(req.id, v.configImage(caller, { ...req, handle: req.memHandle }));
    case "VM_AUTH_IMAGE":
      return reply(req.id, v.authImage(caller, req.vmid));
    case "VM_INIT":
      return reply(req.id, v.init(caller, req.vmid));
    case "VM_GET_STATE":
      return reply(req.id, v.getState(caller, req.vmid), (s) => s);
    case "VM_GET_HYP_RESOURCES":
      return reply(req.id, v.hypResources(caller, req.vmid), (resources) => ({ resources }));
    case "VM_GET_VMID":
      return { id: req.id, err: "OK", vmid: caller };
    case "VM_SET_FIRMWARE_MEM":
      return reply(req.id, v.setFirmwareMem(caller, req.vmid, req.handle, req.offset, req.size));
    case "VM_EXIT":
      return reply(req.id, v.exit(caller, req.exitFlags, req.exitCode));
  }
}

/** What {@link handleRequest} did: the reply payload, and what to log. */
export interface HandledRequest {
  /** The request's name, or undefined for an unknown ID. */
  readonly name: string | undefined;
  readonly err: RmError;
  /** Why the codec refused the payload, if it did. */
  readonly reason?: string;
  readonly payload: Uint8Array;
}

/** Decode, answer and encode one request's payload from VM `caller`. */
export function handleRequest(
  rm: ResourceManager,
  caller: number,
  msgId: number,
  payload: Uint8Array,
): HandledRequest {
  const decoded = decodeRequest(msgId, payload);
  const name = msgName(msgId);
  if (!decoded.ok) {
    const err = decoded.err;
    // The error reply goes under the request's own ID (the RM's rm_standard_reply).
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setUint32(0, rmErrorCode(err), true);
    return { name, err, reason: decoded.reason, payload: bytes };
  }
  const r = dispatch(rm, caller, decoded.value);
  return { name, err: r.err, payload: encodeReply(r.id, r as never) };
}
