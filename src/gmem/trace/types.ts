/**
 * Trace accesses and the cursor that streams them.
 *
 * A trace is a sequence of {@link TraceAccess}es: who accesses (`cpu` or a device name), read or
 * write, where, how many bytes, and, for traces read from files, the bytes written or expected.
 *
 * Streaming design: a trace is consumed through a {@link TraceCursor}, `next(out)`, which fills
 * a caller-owned access object and returns false at the end. The replay loop allocates one
 * `TraceAccess` and passes it to every call, so a 10-million-access generated trace allocates
 * nothing per access (`who` strings come from a fixed table; generators never set `value`).
 * A struct-of-arrays batch API was considered and not taken: the core serves one access at a
 * time (each may fault, migrate, evict), so batches would only be copied out of again, and one
 * reused object keeps the call sites monomorphic. For convenience (tests, small traces),
 * {@link iterate} and {@link collect} turn a cursor into fresh objects, and {@link arrayCursor}
 * turns an array (a parsed CSV file) into a cursor.
 */
import { fail } from "../../base/errors.js";
import { checkArray, checkObject } from "../../base/validate.js";
/** An access's operation: read or write. */
export type TraceOp = "r" | "w";

/** One access of a trace. */
export interface TraceAccess {
  /** Who accesses: `"cpu"` or a device name (`"gpu0"`). */
  who: string;
  /** Read or write. */
  op: TraceOp;
  /** The virtual address of the first byte: a non-negative safe integer. */
  addr: number;
  /** Bytes accessed, 1..{@link MAX_ACCESS_SIZE}; {@link DEFAULT_ACCESS_SIZE} unless given. */
  size: number;
  /**
   * Exactly `size` bytes, in address order (byte 0 at `addr`): what a write writes, what a read
   * must find. Only file traces carry values; generators never do.
   */
  value?: Uint8Array | undefined;
  /** Where the access came from: the 1-based line of a CSV file, the record of a binary one. */
  line?: number | undefined;
}

/** The size of an access that gives none: 8 bytes, a 64-bit load or store. */
export const DEFAULT_ACCESS_SIZE = 8;

/** The largest access: 65535 bytes (the binary format's u16 size field). */
export const MAX_ACCESS_SIZE = 0xffff;

/** The `who` of the CPU. */
export const CPU = "cpu";

/**
 * A stream of accesses. `next(out)` overwrites every field of `out` (clearing `value` and
 * `line` when the access has none) and returns true, or returns false at the end and leaves
 * `out` as it was. `rewind()` starts the same sequence again.
 */
export interface TraceCursor {
  /** The number of accesses the cursor yields from the start, when known. */
  readonly total: number | undefined;
  /** Fill `out` with the next access; false at the end. */
  next(out: TraceAccess): boolean;
  /** Start again from the first access (the same accesses, in the same order). */
  rewind(): void;
}

/** True if `s` can be a `who`: non-empty, without whitespace, `,` or `#` (CSV's delimiters). */
export function isTraceName(s: unknown): s is string {
  return typeof s === "string" && /^[^\s,#]+$/.test(s);
}

/** A fresh access object to pass to {@link TraceCursor.next}. */
export function newAccess(): TraceAccess {
  return {
    who: CPU,
    op: "r",
    addr: 0,
    size: DEFAULT_ACCESS_SIZE,
    value: undefined,
    line: undefined,
  };
}

/** A copy of `a` (sharing its value bytes), without undefined optional fields. */
export function copyAccess(a: TraceAccess): TraceAccess {
  const c: TraceAccess = { who: a.who, op: a.op, addr: a.addr, size: a.size };
  if (a.value !== undefined) c.value = a.value;
  if (a.line !== undefined) c.line = a.line;
  return c;
}

/** The accesses of `cursor` from where it stands, each a fresh object: the convenient path. */
export function* iterate(cursor: TraceCursor): Generator<TraceAccess, void, undefined> {
  const out = newAccess();
  while (cursor.next(out)) yield copyAccess(out);
}

/** At most `limit` accesses of `cursor` from where it stands, as an array of fresh objects. */
export function collect(cursor: TraceCursor, limit = Infinity): TraceAccess[] {
  checkObject("collect", "cursor", cursor);
  const list: TraceAccess[] = [];
  const out = newAccess();
  while (list.length < limit && cursor.next(out)) list.push(copyAccess(out));
  return list;
}

/** A cursor over an array of accesses (not copied; each `next` copies one into `out`). */
export function arrayCursor(accesses: readonly TraceAccess[]): TraceCursor {
  checkArray("arrayCursor", "accesses", accesses);
  let i = 0;
  return {
    total: accesses.length,
    next(out) {
      const a = accesses[i];
      if (a === undefined) return false;
      i++;
      out.who = a.who;
      out.op = a.op;
      out.addr = a.addr;
      out.size = a.size;
      out.value = a.value;
      out.line = a.line;
      return true;
    },
    rewind() {
      i = 0;
    },
  };
}

/**
 * Check one access (EINVAL naming `what` and the field at fault): a non-empty `who` without
 * whitespace, `,` or `#`; op `r`/`w`; size 1..65535; addr + size at most 2^53; a value of exactly
 * `size` bytes.
 */
export function checkAccess(a: TraceAccess, what = "access"): void {
  if (typeof a !== "object" || a === null) checkObject(what, "access", a);
  if (!isTraceName(a.who))
    fail("EINVAL", `${what}: who ${JSON.stringify(a.who)} is not a name`, "who");
  if (a.op !== "r" && a.op !== "w")
    fail("EINVAL", `${what}: op must be "r" or "w", got ${JSON.stringify(a.op)}`, "op");
  if (!Number.isInteger(a.size) || a.size < 1 || a.size > MAX_ACCESS_SIZE)
    fail("EINVAL", `${what}: size ${a.size} is not in 1..${MAX_ACCESS_SIZE}`, "size");
  if (!Number.isSafeInteger(a.addr) || a.addr < 0 || a.addr + a.size > 2 ** 53)
    fail(
      "EINVAL",
      `${what}: addr ${a.addr} is not an address with room for ${a.size} bytes`,
      "addr",
    );
  if (a.value !== undefined && a.value.length !== a.size)
    fail("EINVAL", `${what}: value has ${a.value.length} bytes, size is ${a.size}`, "value");
}
