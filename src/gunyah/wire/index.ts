/**
 * The Gunyah resource manager's wire codec: message IDs, error codes, the RPC header,
 * fragmentation and reassembly, and every request, reply and notification as bytes. Pure:
 * Uint8Array in, typed values out (and back); no I/O, no Node built-ins.
 */
export * from "./codec.js";
export * from "./errors.js";
export * from "./fragment.js";
export { fuzzCodec, type FuzzReport } from "./fuzz.js";
export * from "./header.js";
export * from "./ids.js";
export { ENTRY_SIZE, LIST_HEADER_SIZE } from "./lists.js";
export type {
  AcceptReply,
  EmptyReply,
  HandleReply,
  MemAcceptRequest,
  MemAppendRequest,
  MemCreateRequest,
  MemLookupSglRequest,
  MemNotification,
  MemNotifyRequest,
  MemOwnerNotification,
  MemRecallNotification,
  MemReleaseRequest,
  MemReplyData,
  MemRequest,
  MemRequestName,
  MemSharedNotification,
} from "./mem.js";
export { notifyHasVmids } from "./mem.js";
export type {
  AuthParam,
  HypResource,
  VmAuthImageRequest,
  VmConfigImageRequest,
  VmExitedNotification,
  VmExitRequest,
  VmGetVmidRequest,
  VmIdRequest,
  VmidReply,
  VmNotification,
  VmReplyData,
  VmRequest,
  VmRequestName,
  VmSetFirmwareMemRequest,
  VmShutdownNotification,
  VmStateReply,
  VmStatusNotification,
  VmStopRequest,
} from "./vm.js";
export {
  EXIT_CODE,
  EXIT_TYPE,
  HYP_RESOURCE_TYPE,
  OS_STATUS,
  STOP_REASON,
  VM_AUTH,
  VM_STOP_FLAGS,
} from "./vm.js";
