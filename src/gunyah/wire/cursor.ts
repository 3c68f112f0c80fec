/**
 * The cursors the message codecs read and write payloads with: {@link WireReader} (bounds
 * checked, never throws) and {@link WireWriter} (checks every field, throws EINVAL).
 *
 * Both work on the payload's bytes directly, little-endian by hand, with no DataView: V8 keeps a
 * typed array of at most 64 bytes (every fixed-size message) on its heap, and asking for its
 * `.buffer` — as a DataView must — copies it out into a new ArrayBuffer, which costs more than
 * the whole message. The SGL loops of `lists.ts` make a DataView of their own. A writer's
 * buffer comes from `bytes.ts`.
 */
import { fail } from "../../base/errors.js";
import type { RmError } from "../rm/types.js";
import { newBytes } from "./bytes.js";

/** A decoded value, or the error the RM answers a payload it cannot decode with, and why. */
export type DecodeResult<T> =
  | { readonly ok: true; readonly value: T }
  | {
      readonly ok: false;
      readonly err: Extract<RmError, "MSG_INVALID" | "UNIMPLEMENTED" | "NORESOURCE">;
      readonly reason: string;
    };

/** A list's header: le16 count, le16 second. */
export const LIST_HEADER_SIZE = 4;
/** 2^32. */
const TWO32 = 0x1_0000_0000;
/** The largest le64 high word of a safe integer (2^53-1 = 0x1f_ffff_ffff_ffff). */
const MAX_SAFE_HI = 0x1f_ffff;

/** The le32 at `at` of `b` (the caller checked that it is there). */
export function getU32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** The le16 at `at` of `b` (the caller checked that it is there). */
export function getU16(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8);
}

/** Store the low 32 bits of `v` little-endian at `at` of `b`. */
export function putU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v;
  b[at + 1] = v >>> 8;
  b[at + 2] = v >>> 16;
  b[at + 3] = v >>> 24;
}

/** A bounds-checked little-endian cursor over a payload being decoded. */
export class WireReader {
  /** The next byte to read. */
  pos = 0;
  /** The second le16 of the last list header read (0 if it was absent). */
  second = 0;
  private failure: string | undefined = undefined;
  private failureErr: "MSG_INVALID" | "NORESOURCE" = "MSG_INVALID";

  /** `what` prefixes every fault (`"MEM_LEND"`, `"VM_GET_STATE reply"`). */
  constructor(
    readonly what: string,
    readonly bytes: Uint8Array,
  ) {}

  /** Bytes after the cursor. */
  get left(): number {
    return this.bytes.length - this.pos;
  }

  /** The first fault, if any (with the message name in front). */
  get fault(): string | undefined {
    return this.failure;
  }

  /** Record a fault (only the first one is kept). */
  fail(reason: string): void {
    if (this.failure === undefined) this.failure = `${this.what}: ${reason}`;
  }

  /** Refuse a payload shorter than `min` bytes; `layout` says what those bytes hold. */
  atLeast(min: number, layout: string): void {
    if (this.bytes.length < min)
      this.fail(
        `payload of ${this.bytes.length} bytes is shorter than the ${min} bytes of ${layout}`,
      );
  }

  /** Refuse a payload of any size but `size` (the fixed-size messages). */
  exactly(size: number): void {
    if (this.bytes.length !== size)
      this.fail(`payload is ${this.bytes.length} bytes, the message is exactly ${size}`);
  }

  /** Whether `n` more bytes are there for `field` (a fault if not, or after a fault). */
  has(n: number, field: string): boolean {
    if (this.failure !== undefined) return false;
    if (this.bytes.length - this.pos >= n) return true;
    this.fail(`payload ends inside ${field} (byte ${this.pos}: ${n} needed, ${this.left} left)`);
    return false;
  }

  u8(field: string): number {
    return this.has(1, field) ? this.bytes[this.pos++]! : 0;
  }

  u16(field: string): number {
    if (!this.has(2, field)) return 0;
    const p = this.pos;
    this.pos = p + 2;
    return getU16(this.bytes, p);
  }

  u32(field: string): number {
    if (!this.has(4, field)) return 0;
    const p = this.pos;
    this.pos = p + 4;
    return getU32(this.bytes, p);
  }

  /** A le64; one above 2^53-1 is a fault (a JS number cannot hold it exactly). */
  u64(field: string): number {
    if (!this.has(8, field)) return 0;
    const v = this.u64At(this.pos);
    if (v < 0) this.failU64(this.pos, field);
    this.pos += 8;
    return Math.max(v, 0);
  }

  /** The le64 at `at` (checked by the caller to be there), or -1 if above 2^53-1. */
  u64At(at: number): number {
    const hi = getU32(this.bytes, at + 4);
    return hi > MAX_SAFE_HI ? -1 : hi * TWO32 + getU32(this.bytes, at);
  }

  /** Record the fault of a le64 at `at` above 2^53-1. */
  failU64(at: number, field: string): void {
    const v = (BigInt(getU32(this.bytes, at + 4)) << 32n) | BigInt(getU32(this.bytes, at));
    this.fail(`${field} 0x${v.toString(16)} is above 2^53-1`);
  }

  /** Skip reserved bytes (their value is ignored). */
  skip(n: number, field: string): void {
    if (this.has(n, field)) this.pos += n;
  }

  /** Reserved bytes the RM refuses unless zero (MSG_INVALID). */
  zero(n: number, field: string): void {
    if (!this.has(n, field)) return;
    for (let i = 0; i < n; i++) {
      const b = this.bytes[this.pos + i]!;
      if (b !== 0)
        return this.fail(`${field} must be 0, is 0x${b.toString(16)} (byte ${this.pos + i})`);
    }
    this.pos += n;
  }

  /**
   * A list header at the cursor (4-byte aligned: the cursor only moves in multiples of 4
   * between lists). Count 0 when the payload ends here; a fault if the header is cut short or
   * `count` entries of `entrySize` overrun the payload, and NORESOURCE for a count above
   * `maxEntries`. Leaves the cursor at the first entry. Returns the count; the second le16 is
   * then {@link second}.
   */
  listHeader(name: string, entrySize: number, maxEntries?: number): number {
    this.second = 0;
    if (this.failure !== undefined || this.left === 0) return 0;
    if (this.left < LIST_HEADER_SIZE) {
      this.fail(`${this.left} bytes left where the ${name} list header (4 bytes) would start`);
      return 0;
    }
    const count = getU16(this.bytes, this.pos);
    this.second = getU16(this.bytes, this.pos + 2);
    this.pos += LIST_HEADER_SIZE;
    if (maxEntries !== undefined && count > maxEntries) {
      // rm_rpc_read_list: a count above the limit is NORESOURCE, before any overrun check.
      this.fail(`${name} list count ${count} is above the ${maxEntries}-entry limit`);
      this.failureErr = "NORESOURCE";
      return 0;
    }
    return this.checkCount(name, count, entrySize) ? count : 0;
  }

  /** Whether `count` entries of `entrySize` fit after the cursor (a fault if not). */
  checkCount(name: string, count: number, entrySize: number): boolean {
    if (this.failure !== undefined) return false;
    if (count * entrySize <= this.left) return true;
    this.fail(
      `${name} list count ${count} overruns the payload (${this.left} bytes left, ${count * entrySize} needed)`,
    );
    return false;
  }

  /** Refuse bytes left after the layout; `after` names its last part. */
  end(after: string): void {
    if (this.failure === undefined && this.left !== 0)
      this.fail(`${this.left} bytes left over after ${after}`);
  }

  /** `value`, or the recorded fault as a MSG_INVALID (or NORESOURCE) refusal. */
  result<T>(value: T): DecodeResult<T> {
    return this.failure === undefined
      ? { ok: true, value }
      : { ok: false, err: this.failureErr, reason: this.failure };
  }
}

/**
 * A little-endian cursor over a payload being encoded, of a size known in advance. The buffer
 * starts zeroed, so reserved bytes are skipped rather than written.
 */
export class WireWriter {
  readonly bytes: Uint8Array;
  /** The next byte to write. */
  pos = 0;

  /** `what` names the message in errors. */
  constructor(
    readonly what: string,
    size: number,
  ) {
    this.bytes = newBytes(size);
  }

  /** Throw EINVAL: `field`'s `value` does not fit `kind`. */
  bad(field: string, value: unknown, kind: string): never {
    fail("EINVAL", `${this.what}: ${field} ${String(value)} is not a ${kind}`, field);
  }

  /** Throw EINVAL unless `v` is an unsigned integer of `bytes` bytes (nothing is written). */
  check(v: number, bytes: 1 | 2 | 4, field: string): void {
    const max = bytes === 1 ? 0xff : bytes === 2 ? 0xffff : 0xffff_ffff;
    if (!(Number.isInteger(v) && v >= 0 && v <= max)) this.bad(field, v, `u${bytes * 8}`);
  }

  /** An unsigned integer of 1, 2 or 4 bytes. */
  uint(v: number, bytes: 1 | 2 | 4, field: string): void {
    if (bytes === 1) this.u8(v, field);
    else if (bytes === 2) this.u16(v, field);
    else this.u32(v, field);
  }

  u8(v: number, field: string): void {
    if (!(Number.isInteger(v) && v >= 0 && v <= 0xff)) this.bad(field, v, "u8");
    this.bytes[this.pos++] = v;
  }

  u16(v: number, field: string): void {
    if (!(Number.isInteger(v) && v >= 0 && v <= 0xffff)) this.bad(field, v, "u16");
    const b = this.bytes;
    const p = this.pos;
    b[p] = v;
    b[p + 1] = v >>> 8;
    this.pos = p + 2;
  }

  u32(v: number, field: string): void {
    if (!(Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff)) this.bad(field, v, "u32");
    putU32(this.bytes, this.pos, v);
    this.pos += 4;
  }

  /** A le64 from a non-negative safe integer (two le32 halves). */
  u64(v: number, field: string): void {
    if (!(Number.isSafeInteger(v) && v >= 0)) this.bad(field, v, "u64 below 2^53");
    const lo = v >>> 0;
    putU32(this.bytes, this.pos, lo);
    putU32(this.bytes, this.pos + 4, (v - lo) / TWO32);
    this.pos += 8;
  }

  /** Reserved bytes, written as zero (the buffer starts zeroed). */
  zeros(n: number): void {
    this.pos += n;
  }

  /** A list header (the field names are only built for an error). */
  listHeader(name: string, count: number, second = 0): void {
    if (!(Number.isInteger(count) && count >= 0 && count <= 0xffff))
      this.bad(`${name} list count`, count, "u16");
    if (!(Number.isInteger(second) && second >= 0 && second <= 0xffff))
      this.bad(`${name} list second le16`, second, "u16");
    const b = this.bytes;
    const p = this.pos;
    b[p] = count;
    b[p + 1] = count >>> 8;
    b[p + 2] = second;
    b[p + 3] = second >>> 8;
    this.pos = p + LIST_HEADER_SIZE;
  }

  /** The payload; the layout must have filled it exactly. */
  done(): Uint8Array {
    if (this.pos !== this.bytes.length)
      throw new Error(`${this.what}: encoder wrote ${this.pos} of ${this.bytes.length} bytes`);
    return this.bytes;
  }
}
