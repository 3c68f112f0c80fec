/**
 * The RM's message IDs and message types (reference §1, §5), as `include/memparcel_msg.h`,
 * `vm_mgnt_message.h` and `vm_creation_message.h` of the resource manager define them.
 *
 * A message ID names a request (and the reply to it, which carries the same ID) or a
 * notification; the header's type field says which of the two a message is.
 */

/** Every message ID this codec knows, by the RM's name. */
export const MSG = {
  // Memory requests.
  MEM_DONATE: 0x5100_0010,
  MEM_ACCEPT: 0x5100_0011,
  MEM_LEND: 0x5100_0012,
  MEM_SHARE: 0x5100_0013,
  MEM_RELEASE: 0x5100_0014,
  MEM_RECLAIM: 0x5100_0015,
  MEM_NOTIFY: 0x5100_0017,
  MEM_APPEND: 0x5100_0018,
  MEM_QCOM_LOOKUP_SGL: 0x5100_001a,
  // Memory notifications.
  MEM_SHARED: 0x5110_0011,
  MEM_RELEASED: 0x5110_0012,
  MEM_ACCEPTED: 0x5110_0013,
  MEM_RECALL: 0x5110_0014,
  // VM management requests.
  VM_ALLOCATE: 0x5600_0001,
  VM_DEALLOCATE: 0x5600_0002,
  VM_START: 0x5600_0004,
  VM_STOP: 0x5600_0005,
  VM_RESET: 0x5600_0006,
  VM_CONFIG_IMAGE: 0x5600_0009,
  VM_AUTH_IMAGE: 0x5600_000a,
  VM_INIT: 0x5600_000b,
  VM_GET_STATE: 0x5600_0017,
  VM_GET_HYP_RESOURCES: 0x5600_0020,
  VM_GET_VMID: 0x5600_0024,
  VM_SET_FIRMWARE_MEM: 0x5600_0032,
  VM_EXIT: 0x5600_0085,
  // VM notifications.
  VM_EXITED: 0x5610_0001,
  VM_SHUTDOWN: 0x5610_0002,
  VM_STATUS: 0x5610_0008,
} as const;

/** A message's name, as the RM spells it. */
export type MsgName = keyof typeof MSG;

/** The requests (a reply carries its request's ID). */
export const REQUEST_NAMES = [
  "MEM_DONATE",
  "MEM_ACCEPT",
  "MEM_LEND",
  "MEM_SHARE",
  "MEM_RELEASE",
  "MEM_RECLAIM",
  "MEM_NOTIFY",
  "MEM_APPEND",
  "MEM_QCOM_LOOKUP_SGL",
  "VM_ALLOCATE",
  "VM_DEALLOCATE",
  "VM_START",
  "VM_STOP",
  "VM_RESET",
  "VM_CONFIG_IMAGE",
  "VM_AUTH_IMAGE",
  "VM_INIT",
  "VM_GET_STATE",
  "VM_GET_HYP_RESOURCES",
  "VM_GET_VMID",
  "VM_SET_FIRMWARE_MEM",
  "VM_EXIT",
] as const satisfies readonly MsgName[];

/** The notifications the RM sends. */
export const NOTIFICATION_NAMES = [
  "MEM_SHARED",
  "MEM_RELEASED",
  "MEM_ACCEPTED",
  "MEM_RECALL",
  "VM_EXITED",
  "VM_SHUTDOWN",
  "VM_STATUS",
] as const satisfies readonly MsgName[];

/** The name of a request (and of its reply). */
export type RequestName = (typeof REQUEST_NAMES)[number];
/** The name of a notification. */
export type NotificationName = (typeof NOTIFICATION_NAMES)[number];

/** The header's message type, bits [1:0] of byte 1 (reference §5). */
export const MSG_TYPE = { CONTINUATION: 0, REQUEST: 1, REPLY: 2, NOTIFICATION: 3 } as const;
/** A message type value: 0 CONTINUATION, 1 REQUEST, 2 REPLY, 3 NOTIFICATION. */
export type MsgType = (typeof MSG_TYPE)[keyof typeof MSG_TYPE];

const NAME_BY_ID = new Map<number, MsgName>(
  (Object.keys(MSG) as MsgName[]).map((name) => [MSG[name], name]),
);
const REQUESTS = new Set<string>(REQUEST_NAMES);
const NOTIFICATIONS = new Set<string>(NOTIFICATION_NAMES);

/** The name of a message ID (`0x51000012` → `"MEM_LEND"`), or undefined for an unknown ID. */
export function msgName(id: number): MsgName | undefined {
  return NAME_BY_ID.get(id);
}

/** The message ID of a name (`"MEM_LEND"` → `0x51000012`), or undefined for an unknown name. */
export function msgIdByName(name: string): number | undefined {
  return Object.prototype.hasOwnProperty.call(MSG, name) ? MSG[name as MsgName] : undefined;
}

/** True if `name` names a request. */
export function isRequestName(name: string): name is RequestName {
  return REQUESTS.has(name);
}

/** True if `name` names a notification. */
export function isNotificationName(name: string): name is NotificationName {
  return NOTIFICATIONS.has(name);
}

/** An ID as the RM logs print it: its name if known, else `0x5100abcd`. */
export function formatMsgId(id: number): string {
  return msgName(id) ?? `0x${(id >>> 0).toString(16).padStart(8, "0")}`;
}
