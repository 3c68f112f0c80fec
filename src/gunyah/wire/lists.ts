/**
 * The cursors the message codecs read and write payloads with, fixed layouts, and the RM's
 * list encoding (reference §3, `rm_rpc_read_list` and `memparcel_read_lists` of the RM).
 *
 * A list is `le16 count; le16 second; entries[count]`; the next list starts at the next 4-byte
 * boundary (every entry size here is a multiple of 4, so there is never padding). If the
 * payload ends exactly where a list would start, the list has 0 entries (which makes the
 * trailing attribute list optional). A list header cut short, a count whose entries overrun the
 * payload, or bytes left after the last list: MSG_INVALID. An ACL, SGL or attribute count
 * above 512 is NORESOURCE, checked before the overrun (as `rm_rpc_read_list`); nothing is
 * allocated before the entries are known to be present. The second le16 is unused except in MEM_ACCEPT's SGL list,
 * where it is map_vmid (and in ACCEPT's reply, where it holds the flags byte).
 *
 * Decoding never throws: a {@link WireReader} records its first fault and reads zeros after it;
 * {@link WireReader.result} turns the fault into a MSG_INVALID refusal. Encoding throws a
 * MemweaveError EINVAL for a value that does not fit its field.
 */
import { fail } from "../../base/errors.js";
import type { AclEntry, AttrEntry, RmError, SglEntry } from "../rm/types.js";
import { MAX_LIST_ENTRIES } from "../rm/types.js";

/** A decoded value, or the error the RM answers a payload it cannot decode with, and why. */
export type DecodeResult<T> =
  | { readonly ok: true; readonly value: T }
  | {
      readonly ok: false;
      readonly err: Extract<RmError, "MSG_INVALID" | "UNIMPLEMENTED" | "NORESOURCE">;
      readonly reason: string;
    };

/** Entry sizes in bytes. */
export const ENTRY_SIZE = { ACL: 4, SGL: 16, ATTR: 4, VMID: 4, SIZE: 8 } as const;
/** A list's header: le16 count, le16 second. */
export const LIST_HEADER_SIZE = 4;

const TWO32 = 0x1_0000_0000;
const MAX = { 1: 0xff, 2: 0xffff, 4: 0xffff_ffff } as const;

/** A bounds-checked little-endian cursor over a payload being decoded. */
export class WireReader {
  /** @internal */
  readonly view: DataView;
  /** The next byte to read. */
  pos = 0;
  private failure: string | undefined;
  private failureErr: "MSG_INVALID" | "NORESOURCE" = "MSG_INVALID";

  /** `what` prefixes every fault (`"MEM_LEND"`, `"VM_GET_STATE reply"`). */
  constructor(
    readonly what: string,
    readonly bytes: Uint8Array,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

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
    if (this.left >= n) return true;
    this.fail(`payload ends inside ${field} (byte ${this.pos}: ${n} needed, ${this.left} left)`);
    return false;
  }

  u8(field: string): number {
    return this.has(1, field) ? this.view.getUint8(this.pos++) : 0;
  }

  u16(field: string): number {
    if (!this.has(2, field)) return 0;
    this.pos += 2;
    return this.view.getUint16(this.pos - 2, true);
  }

  u32(field: string): number {
    if (!this.has(4, field)) return 0;
    this.pos += 4;
    return this.view.getUint32(this.pos - 4, true);
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
    const hi = this.view.getUint32(at + 4, true);
    return hi > 0x1f_ffff ? -1 : hi * TWO32 + this.view.getUint32(at, true);
  }

  /** Record the fault of a le64 at `at` above 2^53-1. */
  failU64(at: number, field: string): void {
    const v = this.view.getBigUint64(at, true);
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
   * `count` entries of `entrySize` overrun the payload. Leaves the cursor at the first entry.
   */
  listHeader(
    name: string,
    entrySize: number,
    maxEntries?: number,
  ): { count: number; second: number } {
    if (this.failure !== undefined || this.left === 0) return { count: 0, second: 0 };
    if (this.left < LIST_HEADER_SIZE) {
      this.fail(`${this.left} bytes left where the ${name} list header (4 bytes) would start`);
      return { count: 0, second: 0 };
    }
    const count = this.view.getUint16(this.pos, true);
    const second = this.view.getUint16(this.pos + 2, true);
    this.pos += LIST_HEADER_SIZE;
    if (maxEntries !== undefined && count > maxEntries) {
      // rm_rpc_read_list: a count above the limit is NORESOURCE, before any overrun check.
      this.fail(`${name} list count ${count} is above the ${maxEntries}-entry limit`);
      this.failureErr = "NORESOURCE";
      return { count: 0, second };
    }
    return { count: this.checkCount(name, count, entrySize) ? count : 0, second };
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

  /** `value`, or the recorded fault as a MSG_INVALID refusal. */
  result<T>(value: T): DecodeResult<T> {
    return this.failure === undefined
      ? { ok: true, value }
      : { ok: false, err: this.failureErr, reason: this.failure };
  }
}

/** A little-endian cursor over a payload being encoded, of a size known in advance. */
export class WireWriter {
  readonly bytes: Uint8Array;
  /** @internal */
  readonly view: DataView;
  /** The next byte to write. */
  pos = 0;

  /** `what` names the message in errors. */
  constructor(
    readonly what: string,
    size: number,
  ) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  /** Throw EINVAL: `field`'s `value` does not fit `kind`. */
  bad(field: string, value: unknown, kind: string): never {
    fail("EINVAL", `${this.what}: ${field} ${String(value)} is not a ${kind}`, field);
  }

  /** An unsigned integer of 1, 2 or 4 bytes. */
  uint(v: number, bytes: 1 | 2 | 4, field: string): void {
    if (!(Number.isInteger(v) && v >= 0 && v <= MAX[bytes])) this.bad(field, v, `u${bytes * 8}`);
    if (bytes === 1) this.view.setUint8(this.pos, v);
    else if (bytes === 2) this.view.setUint16(this.pos, v, true);
    else this.view.setUint32(this.pos, v, true);
    this.pos += bytes;
  }

  u8(v: number, field: string): void {
    this.uint(v, 1, field);
  }

  u16(v: number, field: string): void {
    this.uint(v, 2, field);
  }

  u32(v: number, field: string): void {
    this.uint(v, 4, field);
  }

  /** A le64 from a non-negative safe integer. */
  u64(v: number, field: string): void {
    if (!(Number.isSafeInteger(v) && v >= 0)) this.bad(field, v, "u64 below 2^53");
    this.view.setUint32(this.pos, v >>> 0, true);
    this.view.setUint32(this.pos + 4, Math.floor(v / TWO32), true);
    this.pos += 8;
  }

  /** Reserved bytes, written as zero (the buffer starts zeroed). */
  zeros(n: number): void {
    this.pos += n;
  }

  /** A list header. */
  listHeader(name: string, count: number, second = 0): void {
    this.u16(count, `${name} list count`);
    this.u16(second, `${name} list second le16`);
  }

  /** The payload; the layout must have filled it exactly. */
  done(): Uint8Array {
    if (this.pos !== this.bytes.length)
      throw new Error(`${this.what}: encoder wrote ${this.pos} of ${this.bytes.length} bytes`);
    return this.bytes;
  }
}

/** Bytes of a list of `count` entries of `entrySize`, header included. */
export function listBytes(count: number, entrySize: number): number {
  return LIST_HEADER_SIZE + ((count * entrySize + 3) & ~3);
}

/** Read an ACL list: `{le16 vmid; u8 rights; u8 res}` entries. */
export function readAcl(r: WireReader, name = "ACL"): AclEntry[] {
  const { count } = r.listHeader(name, ENTRY_SIZE.ACL, MAX_LIST_ENTRIES);
  const out = new Array<AclEntry>(count);
  for (let i = 0, p = r.pos; i < count; i++, p += 4)
    out[i] = { vmid: r.view.getUint16(p, true), rights: r.view.getUint8(p + 2) };
  r.pos += count * ENTRY_SIZE.ACL;
  return out;
}

/** Read an SGL list: `{le64 ipa; le64 size}` entries, and the header's second le16. */
export function readSgl(r: WireReader, name = "SGL"): { sgl: SglEntry[]; second: number } {
  const { count, second } = r.listHeader(name, ENTRY_SIZE.SGL, MAX_LIST_ENTRIES);
  const sgl = new Array<SglEntry>(count);
  const v = r.view;
  for (let i = 0, p = r.pos; i < count; i++, p += 16) {
    const ipaHi = v.getUint32(p + 4, true);
    const sizeHi = v.getUint32(p + 12, true);
    if (ipaHi > 0x1f_ffff || sizeHi > 0x1f_ffff) {
      const big = ipaHi > 0x1f_ffff;
      r.failU64(big ? p : p + 8, `${name} entry ${i} ${big ? "ipa" : "size"}`);
      return { sgl: [], second };
    }
    sgl[i] = {
      ipa: ipaHi * TWO32 + v.getUint32(p, true),
      size: sizeHi * TWO32 + v.getUint32(p + 8, true),
    };
  }
  r.pos += count * ENTRY_SIZE.SGL;
  return { sgl, second };
}

/** Read an attribute list: `{le16 attr; le16 vmid}` entries. */
export function readAttrs(r: WireReader, name = "attribute"): AttrEntry[] {
  const { count } = r.listHeader(name, ENTRY_SIZE.ATTR, MAX_LIST_ENTRIES);
  const out = new Array<AttrEntry>(count);
  for (let i = 0, p = r.pos; i < count; i++, p += 4)
    out[i] = { attr: r.view.getUint16(p, true), vmid: r.view.getUint16(p + 2, true) };
  r.pos += count * ENTRY_SIZE.ATTR;
  return out;
}

/** Read a list of le64 region sizes (MEM_SHARED). */
export function readSizes(r: WireReader, name = "region size"): number[] {
  const { count } = r.listHeader(name, ENTRY_SIZE.SIZE);
  const out = new Array<number>(count);
  for (let i = 0, p = r.pos; i < count; i++, p += 8) {
    out[i] = r.u64At(p);
    if (out[i]! < 0) {
      r.failU64(p, `${name} entry ${i}`);
      return [];
    }
  }
  r.pos += count * ENTRY_SIZE.SIZE;
  return out;
}

/** Read `count` VMID entries `{le16 vmid; le16 res}` (header read, count checked). */
export function readVmidEntries(r: WireReader, count: number): number[] {
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) out[i] = r.view.getUint16(r.pos + 4 * i, true);
  r.pos += count * ENTRY_SIZE.VMID;
  return out;
}

/** Write an ACL list. */
export function writeAcl(w: WireWriter, acl: readonly AclEntry[], name = "ACL"): void {
  w.listHeader(name, acl.length);
  for (let i = 0; i < acl.length; i++) {
    w.u16(acl[i]!.vmid, `${name} entry ${i} vmid`);
    w.u8(acl[i]!.rights, `${name} entry ${i} rights`);
    w.zeros(1);
  }
}

/** Write an SGL list (`second`: ACCEPT's map_vmid, or its reply's flags). */
export function writeSgl(w: WireWriter, sgl: readonly SglEntry[], second = 0, name = "SGL"): void {
  w.listHeader(name, sgl.length, second);
  const v = w.view;
  for (let i = 0; i < sgl.length; i++) {
    const { ipa, size } = sgl[i]!;
    if (!(Number.isSafeInteger(ipa) && ipa >= 0))
      w.bad(`${name} entry ${i} ipa`, ipa, "u64 below 2^53");
    if (!(Number.isSafeInteger(size) && size >= 0))
      w.bad(`${name} entry ${i} size`, size, "u64 below 2^53");
    const p = w.pos;
    v.setUint32(p, ipa >>> 0, true);
    v.setUint32(p + 4, Math.floor(ipa / TWO32), true);
    v.setUint32(p + 8, size >>> 0, true);
    v.setUint32(p + 12, Math.floor(size / TWO32), true);
    w.pos = p + 16;
  }
}

/** Write an attribute list. */
export function writeAttrs(w: WireWriter, attrs: readonly AttrEntry[], name = "attribute"): void {
  w.listHeader(name, attrs.length);
  for (let i = 0; i < attrs.length; i++) {
    w.u16(attrs[i]!.attr, `${name} entry ${i} attr`);
    w.u16(attrs[i]!.vmid, `${name} entry ${i} vmid`);
  }
}

/** Write a list of le64 region sizes. */
export function writeSizes(w: WireWriter, sizes: readonly number[], name = "region size"): void {
  w.listHeader(name, sizes.length);
  for (let i = 0; i < sizes.length; i++) w.u64(sizes[i]!, `${name} entry ${i}`);
}

/**
 * A fixed layout written like the C struct: `"vmid:u16 res:r2 stopReason:u32"`. Kinds: u8, u16,
 * u32, u64; rN = N reserved bytes, ignored when read and written as 0; zN = N reserved bytes
 * written as 0 that the RM refuses (MSG_INVALID) unless 0.
 */
export interface Struct {
  readonly fields: readonly { readonly name: string; readonly kind: string; readonly n: number }[];
  readonly bytes: number;
}

/** Parse a layout string (once, at module load). */
export function struct(layout: string): Struct {
  const fields = layout
    .split(" ")
    .filter((f) => f !== "")
    .map((f) => {
      const [name = "", type = ""] = f.split(":");
      const m = /^(u|r|z)(\d+)$/.exec(type);
      if (!m) throw new Error(`bad field ${f} in layout "${layout}"`);
      return { name, kind: m[1]!, n: m[1] === "u" ? Number(m[2]) / 8 : Number(m[2]) };
    });
  return { fields, bytes: fields.reduce((s, f) => s + f.n, 0) };
}

/** Write the fields of `s` from `v`. */
export function writeStruct(w: WireWriter, s: Struct, v: object): void {
  const values = v as Readonly<Record<string, number>>;
  for (const f of s.fields) {
    if (f.kind !== "u") w.zeros(f.n);
    else if (f.n === 8) w.u64(values[f.name]!, f.name);
    else w.uint(values[f.name]!, f.n as 1 | 2 | 4, f.name);
  }
}

/** Read the fields of `s` into `out` (faults are recorded in `r`); returns `out`. */
export function readStruct<T extends object>(r: WireReader, s: Struct, out: T): T {
  const values = out as Record<string, number>;
  for (const f of s.fields) {
    if (f.kind === "r") r.skip(f.n, `${f.name} (reserved)`);
    else if (f.kind === "z") r.zero(f.n, f.name);
    else if (f.n === 1) values[f.name] = r.u8(f.name);
    else if (f.n === 2) values[f.name] = r.u16(f.name);
    else if (f.n === 4) values[f.name] = r.u32(f.name);
    else values[f.name] = r.u64(f.name);
  }
  return out;
}
