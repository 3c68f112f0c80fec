/**
 * Fixed layouts and the RM's list encoding (reference §3, `rm_rpc_read_list` and
 * `memparcel_read_lists` of the RM), read and written with the cursors of `cursor.ts`.
 *
 * A list is `le16 count; le16 second; entries[count]`; the next list starts at the next 4-byte
 * boundary (every entry size here is a multiple of 4, so there is never padding). If the
 * payload ends exactly where a list would start, the list has 0 entries (which makes the
 * trailing attribute list optional). A list header cut short, a count whose entries overrun the
 * payload, or bytes left after the last list: MSG_INVALID. An ACL, SGL or attribute count
 * above 512 is NORESOURCE, checked before the overrun (as `rm_rpc_read_list`); nothing is
 * allocated before the entries are known to be present. The second le16 is unused except in
 * MEM_ACCEPT's SGL list, where it is map_vmid (and in ACCEPT's reply, where it holds the flags
 * byte).
 *
 * Decoding never throws: a {@link WireReader} records its first fault and reads zeros after it;
 * {@link WireReader.result} turns the fault into a MSG_INVALID refusal. Encoding throws a
 * MemweaveError EINVAL for a value that does not fit its field.
 *
 * The entry loops are the codec's hot paths (a 512-entry SGL is 8 KiB): they check and convert
 * each entry inline, build a field name only for an error, and make one object per entry. An
 * SGL moves through a DataView (faster than byte arithmetic for its 8-byte fields; see
 * readView for a small payload), the 4-byte entries byte by byte. A size or IPA below 2^32 is
 * decoded from its low word alone, so that it stays a small integer (a double there would turn
 * every SGL entry's `size` into a boxed number, for the encoder's callers too).
 */
import type { AclEntry, AttrEntry, SglEntry } from "../rm/types.js";
import { MAX_LIST_ENTRIES } from "../rm/types.js";
import { getU16, LIST_HEADER_SIZE, putU32, type WireReader, type WireWriter } from "./cursor.js";

export { type DecodeResult, LIST_HEADER_SIZE, WireReader, WireWriter } from "./cursor.js";

// The loops' constants are this module's own: an imported binding is live (and checked for
// its temporal dead zone), so V8 reads it again at every use instead of folding it in; a
// `TWO32` imported from cursor.ts made a 512-entry encode 0.6 µs (12%) slower.
/** 2^32. */
const TWO32 = 0x1_0000_0000;
/** The largest le64 high word of a safe integer (2^53-1 = 0x1f_ffff_ffff_ffff). */
const MAX_SAFE_HI = 0x1f_ffff;

/** Entry sizes in bytes. */
export const ENTRY_SIZE = { ACL: 4, SGL: 16, ATTR: 4, VMID: 4, SIZE: 8 } as const;

/** The largest typed array V8 keeps on its heap. */
const ON_HEAP_MAX = 64;
/** Bytes off V8's heap, and a DataView of them: they stand in for a small payload. */
const SCRATCH = new Uint8Array(new ArrayBuffer(ON_HEAP_MAX));
const SCRATCH_VIEW = new DataView(SCRATCH.buffer);

/**
 * A DataView for reading `b` (positions as in `b`): of `b` itself, or, for a `b` of at most 64
 * bytes, of a copy in SCRATCH. V8 keeps such a small array on its heap, and a DataView of it
 * would first move it out, which costs more than the copy (or than reading a 1-entry SGL).
 */
function readView(b: Uint8Array): DataView {
  if (b.length > ON_HEAP_MAX) return new DataView(b.buffer, b.byteOffset, b.byteLength);
  SCRATCH.set(b);
  return SCRATCH_VIEW;
}

/** Bytes of a list of `count` entries of `entrySize`, header included. */
export function listBytes(count: number, entrySize: number): number {
  return LIST_HEADER_SIZE + ((count * entrySize + 3) & ~3);
}

/** Read an ACL list: `{le16 vmid; u8 rights; u8 res}` entries. */
export function readAcl(r: WireReader, name = "ACL"): AclEntry[] {
  const count = r.listHeader(name, ENTRY_SIZE.ACL, MAX_LIST_ENTRIES);
  const out = new Array<AclEntry>(count);
  const b = r.bytes;
  for (let i = 0, p = r.pos; i < count; i++, p += 4)
    out[i] = { vmid: getU16(b, p), rights: b[p + 2]! };
  r.pos += count * ENTRY_SIZE.ACL;
  return out;
}

/** Read an SGL list: `{le64 ipa; le64 size}` entries, and the header's second le16. */
export function readSgl(r: WireReader, name = "SGL"): { sgl: SglEntry[]; second: number } {
  const count = r.listHeader(name, ENTRY_SIZE.SGL, MAX_LIST_ENTRIES);
  const second = r.second;
  if (count === 0) return { sgl: [], second };
  const sgl = new Array<SglEntry>(count);
  const v = readView(r.bytes);
  for (let i = 0, p = r.pos; i < count; i++, p += 16) {
    const ipaHi = v.getUint32(p + 4, true);
    const sizeHi = v.getUint32(p + 12, true);
    if (ipaHi > MAX_SAFE_HI || sizeHi > MAX_SAFE_HI) {
      const big = ipaHi > MAX_SAFE_HI;
      r.failU64(big ? p : p + 8, `${name} entry ${i} ${big ? "ipa" : "size"}`);
      return { sgl: [], second };
    }
    const ipaLo = v.getUint32(p, true);
    const sizeLo = v.getUint32(p + 8, true);
    sgl[i] = {
      ipa: ipaHi === 0 ? ipaLo : ipaHi * TWO32 + ipaLo,
      size: sizeHi === 0 ? sizeLo : sizeHi * TWO32 + sizeLo,
    };
  }
  r.pos += count * ENTRY_SIZE.SGL;
  return { sgl, second };
}

/** Read an attribute list: `{le16 attr; le16 vmid}` entries. */
export function readAttrs(r: WireReader, name = "attribute"): AttrEntry[] {
  const count = r.listHeader(name, ENTRY_SIZE.ATTR, MAX_LIST_ENTRIES);
  const out = new Array<AttrEntry>(count);
  const b = r.bytes;
  for (let i = 0, p = r.pos; i < count; i++, p += 4)
    out[i] = { attr: getU16(b, p), vmid: getU16(b, p + 2) };
  r.pos += count * ENTRY_SIZE.ATTR;
  return out;
}

/** Read a list of le64 region sizes (MEM_SHARED). */
export function readSizes(r: WireReader, name = "region size"): number[] {
  const count = r.listHeader(name, ENTRY_SIZE.SIZE);
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
  for (let i = 0; i < count; i++) out[i] = getU16(r.bytes, r.pos + 4 * i);
  r.pos += count * ENTRY_SIZE.VMID;
  return out;
}

function isU8(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= 0xff;
}

function isU16(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= 0xffff;
}

function isU64(v: number): boolean {
  return Number.isSafeInteger(v) && v >= 0;
}

/** Write an ACL list. */
export function writeAcl(w: WireWriter, acl: readonly AclEntry[], name = "ACL"): void {
  w.listHeader(name, acl.length);
  const b = w.bytes;
  let p = w.pos;
  for (let i = 0; i < acl.length; i++, p += 4) {
    const { vmid, rights } = acl[i]!;
    if (!isU16(vmid)) w.bad(`${name} entry ${i} vmid`, vmid, "u16");
    if (!isU8(rights)) w.bad(`${name} entry ${i} rights`, rights, "u8");
    b[p] = vmid;
    b[p + 1] = vmid >>> 8;
    b[p + 2] = rights;
  }
  w.pos = p;
}

/** Write an SGL list (`second`: ACCEPT's map_vmid, or its reply's flags). */
export function writeSgl(w: WireWriter, sgl: readonly SglEntry[], second = 0, name = "SGL"): void {
  w.listHeader(name, sgl.length, second);
  if (sgl.length === 0) return;
  const b = w.bytes;
  // A small payload is written in SCRATCH, and the entries copied over (see readView).
  const small = b.length <= ON_HEAP_MAX;
  const v = small ? SCRATCH_VIEW : new DataView(b.buffer, b.byteOffset, b.byteLength);
  let p = w.pos;
  for (let i = 0; i < sgl.length; i++, p += 16) {
    const { ipa, size } = sgl[i]!;
    if (!isU64(ipa)) w.bad(`${name} entry ${i} ipa`, ipa, "u64 below 2^53");
    if (!isU64(size)) w.bad(`${name} entry ${i} size`, size, "u64 below 2^53");
    // setUint32 truncates: ipa / 2^32 stores the high word.
    v.setUint32(p, ipa >>> 0, true);
    v.setUint32(p + 4, ipa / TWO32, true);
    v.setUint32(p + 8, size >>> 0, true);
    v.setUint32(p + 12, size / TWO32, true);
  }
  if (small) for (let q = w.pos; q < p; q++) b[q] = SCRATCH[q]!;
  w.pos = p;
}

/** Write an attribute list. */
export function writeAttrs(w: WireWriter, attrs: readonly AttrEntry[], name = "attribute"): void {
  w.listHeader(name, attrs.length);
  const b = w.bytes;
  let p = w.pos;
  for (let i = 0; i < attrs.length; i++, p += 4) {
    const { attr, vmid } = attrs[i]!;
    if (!isU16(attr)) w.bad(`${name} entry ${i} attr`, attr, "u16");
    if (!isU16(vmid)) w.bad(`${name} entry ${i} vmid`, vmid, "u16");
    b[p] = attr;
    b[p + 1] = attr >>> 8;
    b[p + 2] = vmid;
    b[p + 3] = vmid >>> 8;
  }
  w.pos = p;
}

/** Write a list of le64 region sizes. */
export function writeSizes(w: WireWriter, sizes: readonly number[], name = "region size"): void {
  w.listHeader(name, sizes.length);
  for (let i = 0; i < sizes.length; i++) {
    const size = sizes[i]!;
    if (!isU64(size)) w.bad(`${name} entry ${i}`, size, "u64 below 2^53");
    const lo = size >>> 0;
    putU32(w.bytes, w.pos, lo);
    putU32(w.bytes, w.pos + 4, (size - lo) / TWO32);
    w.pos += 8;
  }
}

/**
 * A fixed layout written like the C struct: `"vmid:u16 res:r2 stopReason:u32"`. Kinds: u8, u16,
 * u32, u64; rN = N reserved bytes, ignored when read and written as 0; zN = N reserved bytes
 * written as 0 that the RM refuses (MSG_INVALID) unless 0.
 */
export interface Struct {
  readonly fields: readonly StructField[];
  readonly bytes: number;
}

/** One field of a {@link Struct}: `n` is its size in bytes; `what` names it in a fault. */
interface StructField {
  readonly name: string;
  readonly kind: "u" | "r" | "z";
  readonly n: number;
  readonly what: string;
}

/** Parse a layout string (once, at module load). */
export function struct(layout: string): Struct {
  const fields = layout
    .split(" ")
    .filter((f) => f !== "")
    .map((f): StructField => {
      const [name = "", type = ""] = f.split(":");
      const m = /^(u|r|z)(\d+)$/.exec(type);
      if (!m) throw new Error(`bad field ${f} in layout "${layout}"`);
      const kind = m[1] as StructField["kind"];
      const n = kind === "u" ? Number(m[2]) / 8 : Number(m[2]);
      return { name, kind, n, what: kind === "r" ? `${name} (reserved)` : name };
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
    if (f.kind === "r") r.skip(f.n, f.what);
    else if (f.kind === "z") r.zero(f.n, f.name);
    else if (f.n === 1) values[f.name] = r.u8(f.name);
    else if (f.n === 2) values[f.name] = r.u16(f.name);
    else if (f.n === 4) values[f.name] = r.u32(f.name);
    else values[f.name] = r.u64(f.name);
  }
  return out;
}
