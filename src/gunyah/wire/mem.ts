/**
 * Memory-parcel messages (reference §4; the structs of the RM's `memparcel_msg.h`): requests,
 * the data of their replies, and the memory notifications. The fixed part of each layout is the
 * `struct(...)` string beside its encoder; the lists follow it as `lists.ts` says: ACL, SGL and
 * attribute lists for LEND / SHARE / DONATE / ACCEPT / QCOM_LOOKUP_SGL (ACCEPT's SGL list
 * carries map_vmid in its second le16), an SGL list for APPEND, a VMID list
 * `{le16 vmid; le16 res}[n]` for a NOTIFY whose flags are exactly SHARED or RECALL, and ACL,
 * le64 region-size and attribute lists for MEM_SHARED. Replies: `le32 handle` for LEND / SHARE
 * / DONATE / QCOM_LOOKUP_SGL; for ACCEPT none, or the RM-chosen IPAs `le16 n_sgl; u8 flags;
 * u8 res; sgl[n]`; none for the rest.
 *
 * Decoding follows the RM's handlers: a payload shorter than the RM's struct is MSG_INVALID
 * (create 20 bytes, ACCEPT 24, LOOKUP 16, APPEND 12, RELEASE / RECLAIM 8, NOTIFY 12 — 16 when it
 * needs its VMID list, whose header is never optional — and MEM_SHARED 32); so is a list that
 * overruns, or bytes left after the layout. Where the RM tolerates trailing bytes (RELEASE,
 * RECLAIM, NOTIFY) this codec refuses them, like every other layout. Reserved bytes are ignored
 * and encoded as 0. An ACCEPT whose payload ends where its SGL list would start has map_vmid 0.
 * Encoders write every list header (an empty attribute list as `u32 0`, as Linux does) and
 * throw EINVAL for a value that does not fit its field.
 */
import { fail } from "../../base/errors.js";
import { NOTIFY_FLAGS, type AclEntry, type AttrEntry, type SglEntry } from "../rm/types.js";
import {
  ENTRY_SIZE,
  listBytes,
  readAcl,
  readAttrs,
  readSgl,
  readSizes,
  readStruct,
  readVmidEntries,
  struct,
  type WireReader,
  WireWriter,
  writeAcl,
  writeAttrs,
  writeSgl,
  writeSizes,
  writeStruct,
} from "./lists.js";

/** LEND, SHARE or DONATE: one layout, the transaction type implied by the ID. */
export interface MemCreateRequest {
  readonly id: "MEM_LEND" | "MEM_SHARE" | "MEM_DONATE";
  readonly memType: number;
  readonly flags: number;
  readonly label: number;
  readonly acl: readonly AclEntry[];
  readonly sgl: readonly SglEntry[];
  readonly attrs: readonly AttrEntry[];
}

export interface MemAppendRequest {
  readonly id: "MEM_APPEND";
  readonly handle: number;
  readonly flags: number;
  readonly sgl: readonly SglEntry[];
}

export interface MemAcceptRequest {
  readonly id: "MEM_ACCEPT";
  readonly handle: number;
  readonly memType: number;
  readonly transType: number;
  readonly flags: number;
  readonly label: number;
  readonly acl: readonly AclEntry[];
  /** Empty: the RM picks the IPAs (and replies with them). */
  readonly sgl: readonly SglEntry[];
  /** The SGL list's second le16: the VM to map for (must be 0; the RM refuses MAP_OTHER). */
  readonly mapVmid: number;
  readonly attrs: readonly AttrEntry[];
}

/** RELEASE (by the accepter) or RECLAIM (by the owner). */
export interface MemReleaseRequest {
  readonly id: "MEM_RELEASE" | "MEM_RECLAIM";
  readonly handle: number;
  readonly flags: number;
}

export interface MemNotifyRequest {
  readonly id: "MEM_NOTIFY";
  readonly handle: number;
  /** One NOTIFY_FLAGS value, compared exactly. */
  readonly flags: number;
  readonly memInfoTag: number;
  /** The VMs to tell: present exactly when flags is SHARED or RECALL. */
  readonly vmids?: readonly number[];
}

export interface MemLookupSglRequest {
  readonly id: "MEM_QCOM_LOOKUP_SGL";
  readonly memType: number;
  readonly label: number;
  readonly acl: readonly AclEntry[];
  readonly sgl: readonly SglEntry[];
  readonly attrs: readonly AttrEntry[];
}

/** A memory request. */
export type MemRequest =
  | MemCreateRequest
  | MemAppendRequest
  | MemAcceptRequest
  | MemReleaseRequest
  | MemNotifyRequest
  | MemLookupSglRequest;

/** The name of a memory request. */
export type MemRequestName = MemRequest["id"];

/** Whether a NOTIFY with these flags carries a VMID list (flags exactly SHARED or RECALL). */
export function notifyHasVmids(flags: number): boolean {
  return flags === NOTIFY_FLAGS.SHARED || flags === NOTIFY_FLAGS.RECALL;
}

const CREATE = struct("memType:u8 res:r1 flags:u8 res:r1 label:u32");
const LOOKUP = struct("memType:u8 res:r3 label:u32");
const ACCEPT = struct("handle:u32 memType:u8 transType:u8 flags:u8 res:r1 label:u32");
/** APPEND's fixed part too. */
const RELEASE = struct("handle:u32 flags:u8 res:r3");
const APPEND = RELEASE;
const NOTIFY = struct("handle:u32 flags:u8 res:r3 memInfoTag:u32");

/** The payload of a memory request. */
export function encodeMemRequest(req: MemRequest): Uint8Array {
  switch (req.id) {
    case "MEM_LEND":
    case "MEM_SHARE":
    case "MEM_DONATE":
    case "MEM_QCOM_LOOKUP_SGL":
    case "MEM_ACCEPT": {
      const head =
        req.id === "MEM_QCOM_LOOKUP_SGL" ? LOOKUP : req.id === "MEM_ACCEPT" ? ACCEPT : CREATE;
      const size =
        head.bytes +
        listBytes(req.acl.length, ENTRY_SIZE.ACL) +
        listBytes(req.sgl.length, ENTRY_SIZE.SGL) +
        listBytes(req.attrs.length, ENTRY_SIZE.ATTR);
      const w = new WireWriter(req.id, size);
      writeStruct(w, head, req);
      writeAcl(w, req.acl);
      writeSgl(w, req.sgl, req.id === "MEM_ACCEPT" ? req.mapVmid : 0);
      writeAttrs(w, req.attrs);
      return w.done();
    }
    case "MEM_APPEND": {
      const w = new WireWriter(req.id, APPEND.bytes + listBytes(req.sgl.length, ENTRY_SIZE.SGL));
      writeStruct(w, APPEND, req);
      writeSgl(w, req.sgl);
      return w.done();
    }
    case "MEM_RELEASE":
    case "MEM_RECLAIM": {
      const w = new WireWriter(req.id, RELEASE.bytes);
      writeStruct(w, RELEASE, req);
      return w.done();
    }
    case "MEM_NOTIFY": {
      const withVmids = notifyHasVmids(req.flags);
      if (withVmids !== (req.vmids !== undefined))
        fail(
          "EINVAL",
          `MEM_NOTIFY: flags ${req.flags} ${withVmids ? "needs a" : "takes no"} VMID list (only SHARED and RECALL carry one)`,
          "vmids",
        );
      const vmids = req.vmids ?? [];
      const w = new WireWriter(req.id, NOTIFY.bytes + (withVmids ? listBytes(vmids.length, 4) : 0));
      writeStruct(w, NOTIFY, req);
      if (withVmids) {
        w.listHeader("VMID", vmids.length);
        vmids.forEach((vmid, i) => {
          w.u16(vmid, `VMID entry ${i}`);
          w.zeros(2);
        });
      }
      return w.done();
    }
  }
}

/** Decode the payload of memory request `id` into `r` (faults are recorded in `r`). */
export function readMemRequest(r: WireReader, id: MemRequestName): MemRequest {
  switch (id) {
    case "MEM_LEND":
    case "MEM_SHARE":
    case "MEM_DONATE":
    case "MEM_QCOM_LOOKUP_SGL":
    case "MEM_ACCEPT": {
      const head = id === "MEM_QCOM_LOOKUP_SGL" ? LOOKUP : id === "MEM_ACCEPT" ? ACCEPT : CREATE;
      // The RM's struct sizes: the attribute list header of LOOKUP is not counted.
      if (id === "MEM_QCOM_LOOKUP_SGL") r.atLeast(16, "its header and two list headers");
      else r.atLeast(head.bytes + 12, "its header and three list headers");
      const req: Record<string, unknown> = { id };
      readStruct(r, head, req);
      req.acl = readAcl(r);
      const { sgl, second } = readSgl(r);
      req.sgl = sgl;
      if (id === "MEM_ACCEPT") req.mapVmid = second;
      req.attrs = readAttrs(r);
      r.end("the attribute list");
      return req as unknown as MemRequest;
    }
    case "MEM_APPEND": {
      r.atLeast(APPEND.bytes + 4, "its header and the SGL list header");
      const { handle, flags } = readStruct(r, APPEND, { id } as MemAppendRequest);
      const { sgl } = readSgl(r);
      r.end("the SGL list");
      return { id, handle, flags, sgl };
    }
    case "MEM_RELEASE":
    case "MEM_RECLAIM":
      r.exactly(RELEASE.bytes);
      return readStruct(r, RELEASE, { id } as MemReleaseRequest);
    case "MEM_NOTIFY": {
      r.atLeast(NOTIFY.bytes, "its header");
      const fixed = readStruct(r, NOTIFY, { id } as MemNotifyRequest);
      if (!notifyHasVmids(fixed.flags)) {
        r.end("mem_info_tag");
        return fixed;
      }
      if (r.fault === undefined && r.left < 4)
        r.fail(`flags ${fixed.flags} needs a VMID list header (4 bytes), ${r.left} bytes left`);
      const count = r.u16("the VMID list count");
      r.skip(2, "the VMID list header");
      const vmids = r.checkCount("VMID", count, ENTRY_SIZE.VMID) ? readVmidEntries(r, count) : [];
      r.end("the VMID list");
      return { ...fixed, vmids };
    }
  }
}

/** A reply carrying a parcel handle (LEND, SHARE, DONATE, QCOM_LOOKUP_SGL). */
export interface HandleReply {
  readonly handle: number;
}

/** ACCEPT's reply: standard, or with the IPAs the RM chose (for an ACCEPT with no SGL). */
export interface AcceptReply {
  readonly chosen?: {
    /** ACCEPT_REPLY_FLAGS: INCOMPLETE (1) says call again for the rest. */
    readonly flags: number;
    readonly sgl: readonly SglEntry[];
  };
}

/** A reply with no data. */
export type EmptyReply = Record<never, never>;

/** The data of each memory request's successful reply. */
export type MemReplyData = {
  [N in "MEM_LEND" | "MEM_SHARE" | "MEM_DONATE" | "MEM_QCOM_LOOKUP_SGL"]: HandleReply;
} & { MEM_ACCEPT: AcceptReply } & {
  [N in "MEM_APPEND" | "MEM_RELEASE" | "MEM_RECLAIM" | "MEM_NOTIFY"]: EmptyReply;
};

/** Bytes of a successful memory reply's data (after the error word). */
export function memReplyDataSize(id: MemRequestName, data: MemReplyData[MemRequestName]): number {
  if (id === "MEM_ACCEPT") {
    const chosen = (data as AcceptReply).chosen;
    return chosen ? listBytes(chosen.sgl.length, 16) : 0;
  }
  return isHandleReply(id) ? 4 : 0;
}

/** Write a successful memory reply's data. */
export function writeMemReplyData(
  w: WireWriter,
  id: MemRequestName,
  data: MemReplyData[MemRequestName],
): void {
  if (id === "MEM_ACCEPT") {
    const chosen = (data as AcceptReply).chosen;
    if (!chosen) return;
    if (!(Number.isInteger(chosen.flags) && chosen.flags >= 0 && chosen.flags <= 0xff))
      w.bad("flags", chosen.flags, "u8"); // it shares a le16 with the reserved byte
    writeSgl(w, chosen.sgl, chosen.flags);
  } else if (isHandleReply(id)) w.u32((data as HandleReply).handle, "handle");
}

/** Read a successful memory reply's data (the cursor after the error word). */
export function readMemReplyData(r: WireReader, id: MemRequestName): MemReplyData[MemRequestName] {
  if (id === "MEM_ACCEPT") {
    if (r.left === 0) return {};
    if (!r.has(4, "the n_sgl / flags header")) return {};
    const { sgl, second } = readSgl(r);
    r.end("the SGL list");
    return { chosen: { flags: second & 0xff, sgl } };
  }
  if (isHandleReply(id)) {
    const handle = r.u32("handle");
    r.end("the handle");
    return { handle };
  }
  r.end("the error code");
  return {};
}

function isHandleReply(id: MemRequestName): boolean {
  return (
    id === "MEM_LEND" || id === "MEM_SHARE" || id === "MEM_DONATE" || id === "MEM_QCOM_LOOKUP_SGL"
  );
}

/** MEM_SHARED: a parcel was shared with the receiver (sent on the owner's NOTIFY SHARED). */
export interface MemSharedNotification {
  readonly id: "MEM_SHARED";
  readonly handle: number;
  readonly memType: number;
  readonly transType: number;
  /** Bit 0: the parcel was created with SANITIZE. */
  readonly flags: number;
  readonly owner: number;
  readonly label: number;
  readonly memInfoTag: number;
  readonly acl: readonly AclEntry[];
  /** The regions' sizes (no addresses). */
  readonly sizes: readonly number[];
  readonly attrs: readonly AttrEntry[];
}

/** MEM_ACCEPTED / MEM_RELEASED: to the owner, about the VM that accepted or released. */
export interface MemOwnerNotification {
  readonly id: "MEM_ACCEPTED" | "MEM_RELEASED";
  readonly handle: number;
  readonly vmid: number;
  readonly memInfoTag: number;
}

/** MEM_RECALL: the owner asks the receiver to release the parcel. */
export interface MemRecallNotification {
  readonly id: "MEM_RECALL";
  readonly handle: number;
  readonly memInfoTag: number;
}

/** A memory notification. */
export type MemNotification = MemSharedNotification | MemOwnerNotification | MemRecallNotification;

const SHARED = struct(
  "handle:u32 memType:u8 transType:u8 flags:u8 res:r1 owner:u16 res:r2 label:u32 memInfoTag:u32",
);
const OWNER = struct("handle:u32 vmid:u16 res:r2 memInfoTag:u32");
const RECALL = struct("handle:u32 memInfoTag:u32");

/** The payload of a memory notification. */
export function encodeMemNotification(n: MemNotification): Uint8Array {
  switch (n.id) {
    case "MEM_SHARED": {
      const size =
        SHARED.bytes +
        listBytes(n.acl.length, ENTRY_SIZE.ACL) +
        listBytes(n.sizes.length, ENTRY_SIZE.SIZE) +
        listBytes(n.attrs.length, ENTRY_SIZE.ATTR);
      const w = new WireWriter(n.id, size);
      writeStruct(w, SHARED, n);
      writeAcl(w, n.acl);
      writeSizes(w, n.sizes);
      writeAttrs(w, n.attrs);
      return w.done();
    }
    case "MEM_ACCEPTED":
    case "MEM_RELEASED":
    case "MEM_RECALL": {
      const layout = n.id === "MEM_RECALL" ? RECALL : OWNER;
      const w = new WireWriter(n.id, layout.bytes);
      writeStruct(w, layout, n);
      return w.done();
    }
  }
}

/** Decode the payload of memory notification `id` into `r` (faults are recorded in `r`). */
export function readMemNotification(r: WireReader, id: MemNotification["id"]): MemNotification {
  switch (id) {
    case "MEM_SHARED": {
      r.atLeast(SHARED.bytes + 12, "its header and three list headers");
      const fixed = readStruct(r, SHARED, { id } as MemSharedNotification);
      const acl = readAcl(r);
      const sizes = readSizes(r);
      const attrs = readAttrs(r);
      r.end("the attribute list");
      return { ...fixed, acl, sizes, attrs };
    }
    case "MEM_ACCEPTED":
    case "MEM_RELEASED":
    case "MEM_RECALL": {
      const layout = id === "MEM_RECALL" ? RECALL : OWNER;
      r.exactly(layout.bytes);
      return readStruct(r, layout, { id } as MemNotification);
    }
  }
}
