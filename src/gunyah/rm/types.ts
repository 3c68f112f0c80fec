/**
 * The vocabulary of the RM's semantic layer (what a call means, after the codec decoded it):
 * error names, list entries, the value sets of the reference §2.
 */

/** RM error codes by name (reference §6); the codec maps them to their values. */
export type RmError =
  | "OK"
  | "UNIMPLEMENTED"
  | "NOMEM"
  | "NORESOURCE"
  | "DENIED"
  | "MSG_INVALID"
  | "BUSY"
  | "ARGUMENT_INVALID"
  | "HANDLE_INVALID"
  | "VALIDATE_FAILED"
  | "MAP_FAILED"
  | "MEM_INVALID"
  | "MEM_INUSE"
  | "MEM_RELEASED"
  | "VMID_INVALID"
  | "LOOKUP_FAILED"
  | "IRQ_INVALID"
  | "IRQ_INUSE"
  | "IRQ_RELEASED"
  | "IN_USE"
  | "IRQ_NOT_MAPPED"
  | "VM_STATE";

/** A call's outcome: an error, or success with a value. */
export type RmResult<T> =
  { readonly err: "OK"; readonly value: T } | { readonly err: Exclude<RmError, "OK"> };

export function ok<T>(value: T): RmResult<T> {
  return { err: "OK", value };
}

export function refuse(err: Exclude<RmError, "OK">): { readonly err: Exclude<RmError, "OK"> } {
  return { err };
}

export interface AclEntry {
  readonly vmid: number;
  readonly rights: number;
}

export interface SglEntry {
  readonly ipa: number;
  readonly size: number;
}

export interface AttrEntry {
  readonly attr: number;
  readonly vmid: number;
}

export const MEM_TYPE = { NORMAL: 0, IO: 1 } as const;
export const TRANS_TYPE = { DONATE: 0, LEND: 1, SHARE: 2 } as const;
export const RIGHTS = { X: 1, W: 2, R: 4, RX: 5, RW: 6, RWX: 7 } as const;
export const MEM_ATTR = { NORMAL: 0, DEVICE: 1, UNCACHED: 2, CACHED: 3 } as const;

export const CREATE_FLAGS = { SANITIZE: 1, APPEND: 2 } as const;
export const APPEND_FLAGS = { END: 1 } as const;
export const RELEASE_FLAGS = { SANITIZE: 1 } as const;
export const RECLAIM_FLAGS = { SANITIZE: 1 } as const;
export const ACCEPT_FLAGS = {
  VALIDATE_SANITIZED: 1,
  VALIDATE_ACL_ATTR: 2,
  VALIDATE_LABEL: 4,
  MAP_OTHER: 8,
  MAP_CONTIGUOUS: 16,
  SANITIZE: 32,
  DONE: 128,
} as const;
export const ACCEPT_REPLY_FLAGS = { INCOMPLETE: 1 } as const;
export const NOTIFY_FLAGS = { SHARED: 1, RELEASED: 2, ACCEPTED: 4, RECALL: 8 } as const;

export const INVALID_HANDLE = 0xffff_ffff;
/** Entries per list (more: NORESOURCE) and parcels per owner (more: DENIED). */
export const MAX_LIST_ENTRIES = 512;
export const MAX_PARCELS_PER_OWNER = 64;
/** IPAs and sizes must be below 2^44. */
export const IPA_LIMIT = 2 ** 44;

/** A notification the RM sends (encoded by the codec; `to` is the VM it goes to). */
export type RmNotice =
  | {
      readonly kind: "MEM_SHARED";
      readonly to: number;
      readonly handle: number;
      readonly memType: number;
      readonly transType: number;
      readonly sanitize: boolean;
      readonly owner: number;
      readonly label: number;
      readonly memInfoTag: number;
      readonly acl: readonly AclEntry[];
      readonly sizes: readonly number[];
      readonly attrs: readonly AttrEntry[];
    }
  | {
      readonly kind: "MEM_ACCEPTED" | "MEM_RELEASED";
      readonly to: number;
      readonly handle: number;
      readonly vmid: number;
      readonly memInfoTag: number;
    }
  | {
      readonly kind: "MEM_RECALL";
      readonly to: number;
      readonly handle: number;
      readonly memInfoTag: number;
    }
  | {
      readonly kind: "VM_STATUS";
      readonly to: number;
      readonly vmid: number;
      readonly vmStatus: number;
      readonly osStatus: number;
      readonly appStatus: number;
    }
  | {
      readonly kind: "VM_EXITED";
      readonly to: number;
      readonly vmid: number;
      readonly exitType: number;
      readonly reason: readonly number[];
    }
  | { readonly kind: "VM_SHUTDOWN"; readonly to: number; readonly stopReason: number };
