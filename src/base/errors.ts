/**
 * One error type for the whole model, carrying an errno-like code.
 *
 * The codes and their numbers are Linux's (include/uapi/asm-generic/errno-base.h and errno.h),
 * because the seeds' functions return them (`-EINVAL`, `-EBUSY`, ...). A message names the
 * object and the value at fault, e.g. `ENOMEM: target "system": no free block of 64 KiB`.
 */

/** Linux errno numbers of the codes the model uses. */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EAGAIN: 11,
  ENOMEM: 12,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENOSPC: 28,
  ERANGE: 34,
  EOVERFLOW: 75,
} as const;

export type ErrorCode = keyof typeof ERRNO;

/** Every code, in errno order; used by schemas that accept a code name. */
export const ERROR_CODES = Object.keys(ERRNO) as ErrorCode[];

export function isErrorCode(s: string): s is ErrorCode {
  return Object.prototype.hasOwnProperty.call(ERRNO, s);
}

/**
 * The model's error: `code` is the errno name, `errno` its Linux number, `message` starts with
 * the code and names the object and value at fault.
 *
 * @example
 * try { target.free(0x1234 as PhysAddr) } catch (e) {
 *   if (e instanceof MemweaveError && e.code === "EINVAL") ...
 * }
 */
export class MemweaveError extends Error {
  readonly code: ErrorCode;
  readonly errno: number;
  /** The message without the leading code. */
  readonly detail: string;
  /**
   * The argument or key at fault, as a dotted path into the call's argument (`"name"`,
   * `"ranges.1.region"`, `"allocator.pools"`, `"tlb"`), when the error is about one: what a
   * caller with a document (a scenario) maps to a position, without reading the message.
   */
  readonly field: string | undefined;

  constructor(code: ErrorCode, detail: string, field?: string) {
    super(`${code}: ${detail}`);
    this.name = "MemweaveError";
    this.code = code;
    this.errno = ERRNO[code];
    this.detail = detail;
    this.field = field;
  }

  /** The same error with `prefix` in front of its field (`"allocator"` + `"pools"`). */
  within(prefix: string): MemweaveError {
    return new MemweaveError(
      this.code,
      this.detail,
      this.field === undefined ? prefix : `${prefix}.${this.field}`,
    );
  }

  /** The negative errno a seed's C function would return. */
  get negErrno(): number {
    return -this.errno;
  }

  toJSON(): { code: ErrorCode; errno: number; message: string } {
    return { code: this.code, errno: this.errno, message: this.message };
  }
}

/**
 * Throw a {@link MemweaveError}; typed `never` so it ends control flow. `field` names the
 * argument or key at fault (see {@link MemweaveError.field}).
 */
export function fail(code: ErrorCode, detail: string, field?: string): never {
  throw new MemweaveError(code, detail, field);
}

/**
 * Run `body`; a MemweaveError it throws gets `prefix` in front of its field (for an error of a
 * nested part of an argument: a target's allocator, a device's TLB).
 */
export function inField<T>(prefix: string, body: () => T): T {
  try {
    return body();
  } catch (e) {
    if (e instanceof MemweaveError) throw e.within(prefix);
    throw e;
  }
}

/** True if `e` is a MemweaveError, optionally with the given code. */
export function isMemweaveError(e: unknown, code?: ErrorCode): e is MemweaveError {
  return e instanceof MemweaveError && (code === undefined || e.code === code);
}
