/**
 * VM-management messages (reference §1; the RM's `vm_mgnt.c`, `vm_creation.c`,
 * `vm_get_resources.c`): requests, the data of their replies, and the VM notifications.
 *
 * Every request has an exact size and the RM refuses any other with MSG_INVALID: 4 bytes
 * `{le16 vmid; le16 res}` (ALLOCATE, DEALLOCATE, START, RESET, INIT, GET_STATE,
 * GET_HYP_RESOURCES), VM_STOP 8, VM_CONFIG_IMAGE 40, VM_SET_FIRMWARE_MEM 24, VM_EXIT 4,
 * VM_GET_VMID 0, VM_AUTH_IMAGE 4 + 8 x n. Reserved bytes are ignored, except where the RM
 * itself refuses a non-zero one with MSG_INVALID: VM_INIT's res, VM_SET_FIRMWARE_MEM's res and
 * VM_EXIT's res. Value checks (an exit code the RM does not know, a stop reason) are the RM's,
 * not the codec's.
 *
 * Replies: VM_ALLOCATE and VM_GET_VMID `le32 vmid`; VM_GET_STATE `le32 vm_state | os << 8 |
 * app << 16`; VM_GET_HYP_RESOURCES `le32 n; entry[n]` with 44-byte entries `u8 type; u8 res;
 * le16 partner_vmid; le32 handle; le32 label; le64 capid; le32 virq_handle; le32 virq;
 * le64 base; le64 size` (the reference's "40 B" is a slip: its fields, the RM's
 * `rm_hyp_resource_resp` and Linux's `gunyah_rm_hyp_resource` are 44 bytes); the rest none.
 */
import {
  readStruct,
  struct,
  type Struct,
  type WireReader,
  WireWriter,
  writeStruct,
} from "./lists.js";

/** VM_STOP flags. */
export const VM_STOP_FLAGS = { FORCE: 1 } as const;
/** VM_STOP and VM_SHUTDOWN stop reasons. */
export const STOP_REASON = { SHUTDOWN: 0, RESTART: 1, CRASH: 2, FORCE_STOP: 3 } as const;
/** VM_STATUS os_status values. */
export const OS_STATUS = {
  NONE: 0,
  EARLY_BOOT: 1,
  BOOT: 2,
  INIT: 3,
  RUN: 4,
  SHUTDOWN: 5,
  HALTED: 6,
  CRASHED: 7,
} as const;
/** VM_EXITED exit_type values. */
export const EXIT_TYPE = {
  VM_EXIT: 0,
  PLATFORM_OFF: 1,
  PLATFORM_RESET: 2,
  PSCI_SYSTEM_RESET2: 3,
  WATCHDOG_BITE: 4,
  SOFTWARE_ERROR: 5,
  ASYNC_HW_ERROR: 6,
  VM_STOP_FORCED: 7,
} as const;
/** VM_EXIT exit_code values. */
export const EXIT_CODE = { NORMAL: 0, SW_ERROR: 1, UNKNOWN: 2, BUS: 3, DEVICE: 4 } as const;
/** VM_CONFIG_IMAGE auth values (Linux: QCOM_PIL_ELF 1, QCOM_ANDROID_PVM 2). */
export const VM_AUTH = { NONE: 0, PLATFORM: 1, ANDROID: 2 } as const;
/** GET_HYP_RESOURCES entry types (MEM_EXTENT and ADDR_SPACE from Linux v17). */
export const HYP_RESOURCE_TYPE = {
  BELL_TX: 0,
  BELL_RX: 1,
  MSGQ_TX: 2,
  MSGQ_RX: 3,
  VCPU: 4,
  VPM: 5,
  VIRTIO_MMIO: 6,
  VRTC: 7,
  WATCHDOG: 8,
  MEM_EXTENT: 9,
  ADDR_SPACE: 10,
} as const;

/** A request whose payload is `{le16 vmid; le16 res}` (vmid 0: self, for VM_GET_STATE). */
export interface VmIdRequest {
  readonly id:
    | "VM_ALLOCATE"
    | "VM_DEALLOCATE"
    | "VM_START"
    | "VM_RESET"
    | "VM_INIT"
    | "VM_GET_STATE"
    | "VM_GET_HYP_RESOURCES";
  readonly vmid: number;
}

export interface VmStopRequest {
  readonly id: "VM_STOP";
  readonly vmid: number;
  /** VM_STOP_FLAGS. */
  readonly flags: number;
  readonly stopReason: number;
}

export interface VmConfigImageRequest {
  readonly id: "VM_CONFIG_IMAGE";
  readonly vmid: number;
  readonly auth: number;
  readonly memHandle: number;
  readonly imageOffset: number;
  readonly imageSize: number;
  readonly dtbOffset: number;
  readonly dtbSize: number;
}

/** One VM_AUTH_IMAGE parameter `{le32 type; le32 param}`. */
export interface AuthParam {
  readonly type: number;
  readonly param: number;
}

export interface VmAuthImageRequest {
  readonly id: "VM_AUTH_IMAGE";
  readonly vmid: number;
  readonly params: readonly AuthParam[];
}

export interface VmGetVmidRequest {
  readonly id: "VM_GET_VMID";
}

export interface VmSetFirmwareMemRequest {
  readonly id: "VM_SET_FIRMWARE_MEM";
  readonly vmid: number;
  readonly handle: number;
  readonly offset: number;
  readonly size: number;
}

/** Sent by a guest about itself. */
export interface VmExitRequest {
  readonly id: "VM_EXIT";
  readonly exitFlags: number;
  readonly exitCode: number;
}

/** A VM-management request. */
export type VmRequest =
  | VmIdRequest
  | VmStopRequest
  | VmConfigImageRequest
  | VmAuthImageRequest
  | VmGetVmidRequest
  | VmSetFirmwareMemRequest
  | VmExitRequest;

/** The name of a VM-management request. */
export type VmRequestName = VmRequest["id"];

const VMID_ONLY = struct("vmid:u16 res:r2");

const REQUESTS: Readonly<Record<Exclude<VmRequestName, "VM_AUTH_IMAGE">, Struct>> = {
  VM_ALLOCATE: VMID_ONLY,
  VM_DEALLOCATE: VMID_ONLY,
  VM_START: VMID_ONLY,
  VM_RESET: VMID_ONLY,
  VM_INIT: struct("vmid:u16 res:z2"),
  VM_GET_STATE: VMID_ONLY,
  VM_GET_HYP_RESOURCES: VMID_ONLY,
  VM_STOP: struct("vmid:u16 flags:u8 res:r1 stopReason:u32"),
  VM_CONFIG_IMAGE: struct(
    "vmid:u16 auth:u16 memHandle:u32 imageOffset:u64 imageSize:u64 dtbOffset:u64 dtbSize:u64",
  ),
  VM_GET_VMID: struct(""),
  VM_SET_FIRMWARE_MEM: struct("vmid:u16 res:z2 handle:u32 offset:u64 size:u64"),
  VM_EXIT: struct("exitFlags:u16 exitCode:u8 res:z1"),
};

/** The payload of a VM-management request. */
export function encodeVmRequest(req: VmRequest): Uint8Array {
  if (req.id === "VM_AUTH_IMAGE") {
    const w = new WireWriter(req.id, 4 + 8 * req.params.length);
    w.u16(req.vmid, "vmid");
    w.u16(req.params.length, "number of auth params");
    req.params.forEach((p, i) => {
      w.u32(p.type, `auth param ${i} type`);
      w.u32(p.param, `auth param ${i} param`);
    });
    return w.done();
  }
  const layout = REQUESTS[req.id];
  const w = new WireWriter(req.id, layout.bytes);
  if (layout === VMID_ONLY) {
    // The most common request, written without interpreting its layout.
    w.u16((req as VmIdRequest).vmid, "vmid");
    w.zeros(2);
  } else writeStruct(w, layout, req);
  return w.done();
}

/** Decode the payload of VM-management request `id` into `r` (faults are recorded in `r`). */
export function readVmRequest(r: WireReader, id: VmRequestName): VmRequest {
  if (id === "VM_AUTH_IMAGE") {
    r.atLeast(4, "vmid and the number of auth params");
    const vmid = r.u16("vmid");
    const n = r.u16("number of auth params");
    if (r.fault === undefined && r.left !== 8 * n)
      r.fail(`${n} auth params need ${8 * n} bytes after the first 4, the payload has ${r.left}`);
    const params: AuthParam[] = [];
    for (let i = 0; i < n && r.fault === undefined; i++)
      params.push({ type: r.u32(`auth param ${i} type`), param: r.u32(`auth param ${i} param`) });
    return { id, vmid, params };
  }
  const layout = REQUESTS[id];
  r.exactly(layout.bytes);
  if (layout !== VMID_ONLY) return readStruct(r, layout, { id } as VmRequest);
  // The most common request, read without interpreting its layout.
  const vmid = r.u16("vmid");
  r.skip(2, "res (reserved)");
  return { id: id as VmIdRequest["id"], vmid };
}

/** VM_GET_STATE's reply: `le32 vm_state | os_status << 8 | app_status << 16`. */
export interface VmStateReply {
  readonly vmState: number;
  readonly osStatus: number;
  readonly appStatus: number;
}

/** One GET_HYP_RESOURCES entry (44 bytes). */
export interface HypResource {
  /** HYP_RESOURCE_TYPE. */
  readonly type: number;
  readonly partnerVmid: number;
  readonly handle: number;
  readonly label: number;
  readonly capId: number;
  readonly virqHandle: number;
  readonly virq: number;
  readonly base: number;
  readonly size: number;
}

/** A reply carrying a VMID (`le32`). */
export interface VmidReply {
  readonly vmid: number;
}

/** VM requests whose successful reply carries no data. */
type VmEmptyReplyName = Exclude<
  VmRequestName,
  "VM_ALLOCATE" | "VM_GET_VMID" | "VM_GET_STATE" | "VM_GET_HYP_RESOURCES"
>;

/** The data of each VM request's successful reply. */
export type VmReplyData = {
  VM_ALLOCATE: VmidReply;
  VM_GET_VMID: VmidReply;
  VM_GET_STATE: VmStateReply;
  VM_GET_HYP_RESOURCES: { readonly resources: readonly HypResource[] };
} & { [N in VmEmptyReplyName]: Record<never, never> };

const HYP_RESOURCE = struct(
  "type:u8 res:r1 partnerVmid:u16 handle:u32 label:u32 capId:u64 virqHandle:u32 virq:u32 base:u64 size:u64",
);
const VMID_REPLY = struct("vmid:u32");

/** Bytes of a successful VM reply's data (after the error word). */
export function vmReplyDataSize(id: VmRequestName, data: VmReplyData[VmRequestName]): number {
  if (id === "VM_ALLOCATE" || id === "VM_GET_VMID" || id === "VM_GET_STATE") return 4;
  if (id === "VM_GET_HYP_RESOURCES")
    return 4 + HYP_RESOURCE.bytes * (data as VmReplyData[typeof id]).resources.length;
  return 0;
}

/** Write a successful VM reply's data. */
export function writeVmReplyData(
  w: WireWriter,
  id: VmRequestName,
  data: VmReplyData[VmRequestName],
): void {
  if (id === "VM_ALLOCATE" || id === "VM_GET_VMID") writeStruct(w, VMID_REPLY, data);
  else if (id === "VM_GET_STATE") {
    const s = data as VmStateReply;
    // Each part checked against its own width, then packed into the one word.
    w.check(s.vmState, 1, "vmState");
    w.check(s.osStatus, 1, "osStatus");
    w.check(s.appStatus, 2, "appStatus");
    w.u32((s.vmState | (s.osStatus << 8) | (s.appStatus << 16)) >>> 0, "state word");
  } else if (id === "VM_GET_HYP_RESOURCES") {
    const { resources } = data as VmReplyData[typeof id];
    w.u32(resources.length, "number of resources");
    for (const res of resources) writeStruct(w, HYP_RESOURCE, res);
  }
}

/** Read a successful VM reply's data (the cursor after the error word). */
export function readVmReplyData(r: WireReader, id: VmRequestName): VmReplyData[VmRequestName] {
  if (id === "VM_ALLOCATE" || id === "VM_GET_VMID") {
    const vmid = r.u32("vmid");
    r.end("the vmid");
    return { vmid };
  }
  if (id === "VM_GET_STATE") {
    const word = r.u32("state word");
    r.end("the state word");
    return { vmState: word & 0xff, osStatus: (word >>> 8) & 0xff, appStatus: word >>> 16 };
  }
  if (id === "VM_GET_HYP_RESOURCES") {
    const n = r.u32("number of resources");
    const resources: HypResource[] = [];
    if (r.checkCount("resource", n, HYP_RESOURCE.bytes))
      for (let i = 0; i < n && r.fault === undefined; i++)
        resources.push(readStruct(r, HYP_RESOURCE, {} as HypResource));
    r.end("the resource list");
    return { resources };
  }
  r.end("the error code");
  return {};
}

/** VM_STATUS: a VM's state changed (to its peers and its owner). */
export interface VmStatusNotification {
  readonly id: "VM_STATUS";
  readonly vmid: number;
  readonly vmStatus: number;
  /** OS_STATUS. */
  readonly osStatus: number;
  readonly appStatus: number;
}

/** VM_EXITED: to the owner; `reason` in 32-bit words, reason[0] = flags | exit_code << 16. */
export interface VmExitedNotification {
  readonly id: "VM_EXITED";
  readonly vmid: number;
  /** EXIT_TYPE. */
  readonly exitType: number;
  readonly reason: readonly number[];
}

/** VM_SHUTDOWN: to a guest, on a non-forced VM_STOP. */
export interface VmShutdownNotification {
  readonly id: "VM_SHUTDOWN";
  readonly stopReason: number;
}

/** A VM notification. */
export type VmNotification = VmStatusNotification | VmExitedNotification | VmShutdownNotification;

const VM_STATUS = struct("vmid:u16 res:r2 vmStatus:u8 osStatus:u8 appStatus:u16");
const VM_SHUTDOWN = struct("stopReason:u32");

/** The payload of a VM notification. */
export function encodeVmNotification(n: VmNotification): Uint8Array {
  if (n.id === "VM_EXITED") {
    const w = new WireWriter(n.id, 8 + 4 * n.reason.length);
    w.u16(n.vmid, "vmid");
    w.u16(n.exitType, "exit_type");
    w.u32(4 * n.reason.length, "reason_size");
    n.reason.forEach((word, i) => w.u32(word, `reason word ${i}`));
    return w.done();
  }
  const layout = n.id === "VM_STATUS" ? VM_STATUS : VM_SHUTDOWN;
  const w = new WireWriter(n.id, layout.bytes);
  writeStruct(w, layout, n);
  return w.done();
}

/** Decode the payload of VM notification `id` into `r` (faults are recorded in `r`). */
export function readVmNotification(r: WireReader, id: VmNotification["id"]): VmNotification {
  if (id === "VM_EXITED") {
    r.atLeast(8, "vmid, exit_type and reason_size");
    const vmid = r.u16("vmid");
    const exitType = r.u16("exit_type");
    const size = r.u32("reason_size");
    if (r.fault === undefined && size !== r.left)
      r.fail(`reason_size ${size} does not match the ${r.left} bytes that follow`);
    else if (r.fault === undefined && size % 4 !== 0)
      r.fail(`reason_size ${size} is not a whole number of 32-bit words`);
    const reason: number[] = [];
    for (let i = 0; i < size / 4 && r.fault === undefined; i++)
      reason.push(r.u32(`reason word ${i}`));
    return { id, vmid, exitType, reason };
  }
  const layout = id === "VM_STATUS" ? VM_STATUS : VM_SHUTDOWN;
  r.exactly(layout.bytes);
  return readStruct(r, layout, { id } as VmNotification);
}
