/**
 * The RM's error codes (reference §6, `enum rm_error` of the RM and `enum gunyah_rm_error` of
 * the Linux driver) and the errno the Linux driver turns each into
 * (`gunyah_rm_error_remap()` of `drivers/virt/gunyah/rsc_mgr.c`).
 *
 * The driver's remap is a switch: OK → 0, UNIMPLEMENTED → -EOPNOTSUPP, NOMEM → -ENOMEM,
 * NORESOURCE → -ENODEV, DENIED → -EPERM, BUSY → -EBUSY, MSG_INVALID and ARGUMENT_INVALID ..
 * IRQ_RELEASED → -EINVAL, and its `default:` → -EBADMSG. IN_USE, IRQ_NOT_MAPPED and VM_STATE are
 * not in its enum, so they take the default, as does every code nobody defines.
 */
import type { RmError } from "../rm/types.js";

/** Each RM error's value on the wire. */
export const RM_ERROR_CODES: Readonly<Record<RmError, number>> = {
  OK: 0x0,
  UNIMPLEMENTED: 0xffff_ffff,
  NOMEM: 0x1,
  NORESOURCE: 0x2,
  DENIED: 0x3,
  MSG_INVALID: 0x4,
  BUSY: 0x5,
  ARGUMENT_INVALID: 0x6,
  HANDLE_INVALID: 0x7,
  VALIDATE_FAILED: 0x8,
  MAP_FAILED: 0x9,
  MEM_INVALID: 0xa,
  MEM_INUSE: 0xb,
  MEM_RELEASED: 0xc,
  VMID_INVALID: 0xd,
  LOOKUP_FAILED: 0xe,
  IRQ_INVALID: 0xf,
  IRQ_INUSE: 0x10,
  IRQ_RELEASED: 0x11,
  IN_USE: 0x12,
  IRQ_NOT_MAPPED: 0x13,
  VM_STATE: 0x14,
};

const NAME_BY_CODE = new Map<number, RmError>(
  (Object.keys(RM_ERROR_CODES) as RmError[]).map((name) => [RM_ERROR_CODES[name], name]),
);

/** The wire value of an RM error (`"DENIED"` → 3). */
export function rmErrorCode(name: RmError): number {
  return RM_ERROR_CODES[name];
}

/** The RM error a wire value names (3 → `"DENIED"`), or undefined for a code nobody defines. */
export function rmErrorName(code: number): RmError | undefined {
  return NAME_BY_CODE.get(code);
}

/** A code for a message: its name if it has one, else its hex value (`"0x1234"`). */
export function formatRmCode(code: number): string {
  return rmErrorName(code) ?? `0x${(code >>> 0).toString(16)}`;
}

/** The Linux errnos the driver's remap produces. */
export const LINUX_ERRNO = {
  OK: 0,
  EPERM: 1,
  ENOMEM: 12,
  EBUSY: 16,
  ENODEV: 19,
  EINVAL: 22,
  EBADMSG: 74,
  EOPNOTSUPP: 95,
} as const;

/** The name of an errno the driver's remap produces (`"OK"` for 0). */
export type LinuxErrnoName = keyof typeof LINUX_ERRNO;

/** An errno by name and positive number (the driver returns its negation). */
export interface LinuxErrno {
  readonly name: LinuxErrnoName;
  readonly errno: number;
}

function errno(name: LinuxErrnoName): LinuxErrno {
  return { name, errno: LINUX_ERRNO[name] };
}

/**
 * The errno the Linux driver maps an RM error to (a wire value or a name): `NOMEM` →
 * `{ name: "ENOMEM", errno: 12 }`. Codes the driver does not list, known to the RM (IN_USE,
 * IRQ_NOT_MAPPED, VM_STATE) or not, take its default: EBADMSG.
 */
export function linuxErrno(code: number | RmError): LinuxErrno {
  const name = typeof code === "number" ? rmErrorName(code) : code;
  switch (name) {
    case "OK":
      return errno("OK");
    case "UNIMPLEMENTED":
      return errno("EOPNOTSUPP");
    case "NOMEM":
      return errno("ENOMEM");
    case "NORESOURCE":
      return errno("ENODEV");
    case "DENIED":
      return errno("EPERM");
    case "BUSY":
      return errno("EBUSY");
    case "MSG_INVALID":
    case "ARGUMENT_INVALID":
    case "HANDLE_INVALID":
    case "VALIDATE_FAILED":
    case "MAP_FAILED":
    case "MEM_INVALID":
    case "MEM_INUSE":
    case "MEM_RELEASED":
    case "VMID_INVALID":
    case "LOOKUP_FAILED":
    case "IRQ_INVALID":
    case "IRQ_INUSE":
    case "IRQ_RELEASED":
      return errno("EINVAL");
    case "IN_USE":
    case "IRQ_NOT_MAPPED":
    case "VM_STATE":
    case undefined:
      return errno("EBADMSG");
  }
}
