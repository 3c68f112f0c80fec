/**
 * The compact binary trace format, version 1 ("MWTR"). All integers little-endian.
 *
 * Header, 24 bytes:
 *
 * | offset | type   | field                                                        |
 * | -----: | ------ | ------------------------------------------------------------ |
 * |      0 | 4 B    | magic `MWTR` (4d 57 54 52)                                   |
 * |      4 | u8     | version, 1                                                   |
 * |      5 | u8     | flags, 0 (reserved: a reader refuses any other value)        |
 * |      6 | u16    | N, names in the name table, 1..255                           |
 * |      8 | u64    | R, records (< 2^53)                                          |
 * |     16 | u64    | V, bytes of the value heap (< 2^32)                          |
 *
 * Then the name table: N entries of `u8 length` (1..255) and that many bytes of UTF-8, the
 * names of `who` (no two alike; the encoder writes `cpu` first, then the devices); zero bytes
 * up to a multiple of 8. Then R records of 16 bytes:
 *
 * | offset | type | field                                                            |
 * | -----: | ---- | ---------------------------------------------------------------- |
 * |      0 | u8   | who: an index into the name table                                |
 * |      1 | u8   | flags: bit 0 write (else read), bit 1 has a value; others 0      |
 * |      2 | u16  | size in bytes, 1..65535                                          |
 * |      4 | u32  | value offset into the heap (0 without a value)                   |
 * |      8 | u64  | addr; addr + size <= 2^53                                        |
 *
 * Then the value heap, V bytes: a record with a value reads `size` bytes at its offset (in
 * address order, as CSV's `value`). The file ends there: trailing bytes are an error. Records
 * are fixed-size and 8-aligned, so record i is at `header + table + 16 i`. A binary trace has
 * no line numbers: decoded accesses carry their 1-based record number in `line`.
 *
 * Errors are EINVAL naming the file and the byte offset: `t.bin: byte 40 (0x28): record 1:
 * who 7 is not in the name table (3 names)`.
 */
import { fail } from "../../base/errors.js";
import type { TraceAccess, TraceCursor } from "./types.js";
import { arrayCursor, checkAccess, copyAccess, CPU, isTraceName, newAccess } from "./types.js";
import { checkArray, checkBuffer, checkName, checkObject } from "../../base/validate.js";
/** The magic bytes, `MWTR`. */
export const BINARY_TRACE_MAGIC = Uint8Array.of(0x4d, 0x57, 0x54, 0x52);
/** The version this module writes and reads. */
export const BINARY_TRACE_VERSION = 1;
const HEADER_BYTES = 24;
const RECORD_BYTES = 16;
const FLAG_WRITE = 1;
const FLAG_VALUE = 2;
const TWO32 = 0x1_0000_0000;

/** True if `bytes` starts with the binary trace magic (else it may be a CSV trace). */
export function isBinaryTrace(bytes: Uint8Array): boolean {
  checkBuffer("isBinaryTrace", "bytes", bytes);
  return bytes.length >= 4 && BINARY_TRACE_MAGIC.every((b, i) => bytes[i] === b);
}

/**
 * Encode a trace. The name table is `cpu`, then `devices` when given (an access by anyone else
 * is an error), else the other names in order of first appearance. A cursor is read twice
 * (sizes first, then bytes; it must yield the same accesses after `rewind`), so a generated
 * trace of any length is encoded without an array of accesses.
 */
export function encodeBinaryTrace(
  trace: readonly TraceAccess[] | TraceCursor,
  devices?: readonly string[],
): Uint8Array {
  if (!Array.isArray(trace)) checkObject("encodeBinaryTrace", "trace", trace as TraceCursor);
  if (devices !== undefined) checkArray("encodeBinaryTrace", "devices", devices);
  const cursor = Array.isArray(trace) ? arrayCursor(trace) : (trace as TraceCursor);
  const names = [CPU];
  for (const d of devices ?? []) {
    if (!isTraceName(d)) fail("EINVAL", `device ${JSON.stringify(d)} is not a name`);
    if (!names.includes(d)) names.push(d);
  }
  const index = new Map(names.map((n, i) => [n, i]));
  const a = newAccess();
  let records = 0;
  let values = 0;
  cursor.rewind();
  while (cursor.next(a)) {
    const what = `access ${records + 1}${a.line !== undefined ? ` (line ${a.line})` : ""}`;
    checkAccess(a, what);
    if (!index.has(a.who)) {
      if (devices !== undefined)
        fail("EINVAL", `${what}: who "${a.who}" is not cpu or one of: ${devices.join(", ")}`);
      index.set(a.who, names.push(a.who) - 1);
    }
    records++;
    if (a.value !== undefined) values += a.size;
  }
  const encoder = new TextEncoder();
  const nameBytes = names.map((n) => encoder.encode(n));
  if (names.length > 255) fail("EINVAL", `${names.length} names; the format holds 255`);
  if (values >= TWO32) fail("EINVAL", `${values} bytes of values; the format holds < 2^32`);
  for (const [i, b] of nameBytes.entries())
    if (b.length > 255) fail("EINVAL", `name "${names[i]}" is over 255 bytes of UTF-8`);
  const table = nameBytes.reduce((s, b) => s + 1 + b.length, 0);
  const recordsAt = HEADER_BYTES + Math.ceil(table / 8) * 8;
  const heapAt = recordsAt + records * RECORD_BYTES;
  const out = new Uint8Array(heapAt + values);
  const view = new DataView(out.buffer);

  out.set(BINARY_TRACE_MAGIC, 0);
  view.setUint8(4, BINARY_TRACE_VERSION);
  view.setUint16(6, names.length, true);
  setU64(view, 8, records);
  setU64(view, 16, values);
  let p = HEADER_BYTES;
  for (const b of nameBytes) {
    out[p++] = b.length;
    out.set(b, p);
    p += b.length;
  }
  cursor.rewind();
  let r = 0;
  let v = 0;
  while (cursor.next(a)) {
    if (r === records) fail("EINVAL", `the trace yielded more accesses after rewind`);
    const at = recordsAt + r * RECORD_BYTES;
    const who = index.get(a.who);
    if (who === undefined) fail("EINVAL", `access ${r + 1}: who "${a.who}" appeared after rewind`);
    view.setUint8(at, who);
    view.setUint8(at + 1, (a.op === "w" ? FLAG_WRITE : 0) | (a.value ? FLAG_VALUE : 0));
    view.setUint16(at + 2, a.size, true);
    if (a.value !== undefined) {
      view.setUint32(at + 4, v, true);
      out.set(a.value, heapAt + v);
      v += a.size;
    }
    setU64(view, at + 8, a.addr);
    r++;
  }
  if (r !== records || v !== values) fail("EINVAL", `the trace changed after rewind`);
  return out;
}

function setU64(view: DataView, at: number, n: number): void {
  view.setUint32(at, n % TWO32, true);
  view.setUint32(at + 4, Math.floor(n / TWO32), true);
}

/** A u64 below 2^53 at `at`, or undefined when it is 2^53 or more. */
function getU64(view: DataView, at: number): number | undefined {
  const hi = view.getUint32(at + 4, true);
  return hi >= 0x20_0000 ? undefined : hi * TWO32 + view.getUint32(at, true);
}

/** An opened, fully checked binary trace. */
export interface BinaryTrace {
  /** The name table: `names[who]`. */
  readonly names: readonly string[];
  /** The number of records. */
  readonly total: number;
  /** A fresh cursor over the records (values are views into the bytes, not copies). */
  cursor(): TraceCursor;
}

/**
 * Open a binary trace: check the header, the name table and every record (so nothing runs on a
 * malformed file), then stream it without allocating per record. `file` names it in errors.
 */
export function openBinaryTrace(bytes: Uint8Array, file = "trace"): BinaryTrace {
  checkBuffer("openBinaryTrace", "bytes", bytes);
  checkName("openBinaryTrace", "file", file);
  const bad = (at: number, what: string): never =>
    fail("EINVAL", `${file}: byte ${at} (0x${at.toString(16)}): ${what}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (at: number, n: number, what: string): void => {
    if (at + n > bytes.length)
      bad(at, `the file ends (${bytes.length} bytes) inside ${what} (${n} bytes)`);
  };
  need(0, HEADER_BYTES, "the header");
  if (!isBinaryTrace(bytes)) {
    const got = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0"));
    bad(0, `not a memweave binary trace: magic "MWTR" expected, got ${got.join(" ")}`);
  }
  const version = view.getUint8(4);
  if (version !== BINARY_TRACE_VERSION)
    bad(4, `version ${version} is not supported (this reader knows ${BINARY_TRACE_VERSION})`);
  if (view.getUint8(5) !== 0) bad(5, `header flags ${view.getUint8(5)} are not 0`);
  const n = view.getUint16(6, true);
  if (n < 1 || n > 255) bad(6, `${n} names; 1..255 expected`);
  const records = getU64(view, 8) ?? bad(8, "record count is not below 2^53");
  const values = getU64(view, 16) ?? bad(16, "value heap size is not below 2^53");
  if (values >= TWO32) bad(16, `value heap of ${values} bytes; the format holds < 2^32`);

  const decoder = new TextDecoder("utf-8", { fatal: true });
  const names: string[] = [];
  let p = HEADER_BYTES;
  for (let i = 0; i < n; i++) {
    need(p, 1, `name ${i}'s length`);
    const len = bytes[p]!;
    if (len === 0) bad(p, `name ${i} is empty`);
    need(p + 1, len, `name ${i}`);
    let name = "";
    try {
      name = decoder.decode(bytes.subarray(p + 1, p + 1 + len));
    } catch {
      bad(p + 1, `name ${i} is not UTF-8`);
    }
    if (!isTraceName(name)) bad(p + 1, `name ${i} ${JSON.stringify(name)} is not a name`);
    if (names.includes(name)) bad(p + 1, `name ${i} "${name}" appears twice`);
    names.push(name);
    p += 1 + len;
  }
  const recordsAt = HEADER_BYTES + Math.ceil((p - HEADER_BYTES) / 8) * 8;
  need(p, recordsAt - p, "the padding after the name table");
  for (let q = p; q < recordsAt; q++) if (bytes[q] !== 0) bad(q, "padding byte is not 0");
  const heapAt = recordsAt + records * RECORD_BYTES;
  if (heapAt + values !== bytes.length)
    bad(
      Math.min(heapAt + values, bytes.length),
      `${records} records and ${values} value bytes make ${heapAt + values} bytes, the file has ${bytes.length}`,
    );

  for (let r = 0; r < records; r++) {
    const at = recordsAt + r * RECORD_BYTES;
    const what = `record ${r + 1}`;
    const who = view.getUint8(at);
    if (who >= n) bad(at, `${what}: who ${who} is not in the name table (${n} names)`);
    const flags = view.getUint8(at + 1);
    if (flags & ~(FLAG_WRITE | FLAG_VALUE))
      bad(at + 1, `${what}: unknown flags 0x${flags.toString(16)}`);
    const size = view.getUint16(at + 2, true);
    if (size === 0) bad(at + 2, `${what}: size is 0`);
    const offset = view.getUint32(at + 4, true);
    if (flags & FLAG_VALUE) {
      if (offset + size > values)
        bad(
          at + 4,
          `${what}: value at ${offset}, ${size} bytes, is beyond the heap (${values} bytes)`,
        );
    } else if (offset !== 0) bad(at + 4, `${what}: value offset ${offset} without a value`);
    const addr = getU64(view, at + 8);
    if (addr === undefined || addr + size > 2 ** 53)
      bad(at + 8, `${what}: addr + size goes beyond 2^53`);
  }

  return {
    names,
    total: records,
    cursor(): TraceCursor {
      let r = 0;
      return {
        total: records,
        next(out) {
          if (r >= records) return false;
          const at = recordsAt + r * RECORD_BYTES;
          const flags = view.getUint8(at + 1);
          const size = view.getUint16(at + 2, true);
          out.who = names[view.getUint8(at)]!;
          out.op = flags & FLAG_WRITE ? "w" : "r";
          out.size = size;
          out.addr = view.getUint32(at + 12, true) * TWO32 + view.getUint32(at + 8, true);
          if (flags & FLAG_VALUE) {
            const v = heapAt + view.getUint32(at + 4, true);
            out.value = bytes.subarray(v, v + size);
          } else out.value = undefined;
          out.line = ++r;
          return true;
        },
        rewind() {
          r = 0;
        },
      };
    },
  };
}

/** Decode a whole binary trace into fresh accesses (values copied out of `bytes`). */
export function decodeBinaryTrace(
  bytes: Uint8Array,
  file = "trace",
): { names: string[]; accesses: TraceAccess[] } {
  const trace = openBinaryTrace(bytes, file);
  const cursor = trace.cursor();
  const out = newAccess();
  const accesses: TraceAccess[] = [];
  while (cursor.next(out)) {
    const a = copyAccess(out);
    if (a.value !== undefined) a.value = new Uint8Array(a.value); // a copy (Buffer's slice is a view)
    accesses.push(a);
  }
  return { names: [...trace.names], accesses };
}
