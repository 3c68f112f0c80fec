/**
 * CSV traces: one access a line, `who,op,addr[,size[,value]]`.
 *
 * - `who`: `cpu` or a device name (checked against `devices` when given, with a suggestion);
 * - `op`: `r` (read) or `w` (write);
 * - `addr`: hex with `0x` (`0x7f00_1000` is not accepted: no separators) or decimal, below 2^53;
 * - `size`: bytes, decimal or `0x` hex, 1..65535; 8 when absent or empty;
 * - `value`: the bytes as hex digits, two a byte, in address order (`0a0b` puts 0x0a at
 *   `addr` and 0x0b at `addr + 1`; it is not a number, so no `0x`): exactly `size` bytes. A
 *   write writes them; a read checks them. Absent or empty: no value.
 *
 * `#` starts a comment, on a line of its own or after the fields; blank lines are skipped;
 * whitespace around fields is trimmed; `\r\n` line ends and a leading byte-order mark are
 * accepted. The first line that is not blank or a comment may be a header: `who,op,addr,size,
 * value` or a prefix of it of whole fields (`who,op,addr`), in any case.
 *
 * A malformed line is a problem `file:line: what was expected` — one per bad field, every line
 * checked, the first 50 kept (the rest counted) — and any problem refuses the whole trace.
 *
 * @example
 * const r = parseCsvTrace(text, "trace.csv", { devices: ["gpu0"] });
 * if (!r.ok) for (const p of r.problems) console.error(formatProblem(p));
 */
import type { TraceAccess } from "./types.js";
import { CPU, DEFAULT_ACCESS_SIZE, isTraceName, MAX_ACCESS_SIZE } from "./types.js";
import { didYouMean } from "../../base/suggest.js";
import {
  badArgument,
  checkBuffer,
  checkName,
  checkObject,
  checkString,
} from "../../base/validate.js";
/** One thing wrong with a trace file, at a 1-based line. */
export interface TraceProblem {
  file: string;
  line: number;
  message: string;
}

/** A parsed CSV trace, or why it was refused. */
export type CsvTraceResult =
  | {
      ok: true;
      accesses: TraceAccess[];
      /** The `who` names other than `cpu`, in order of first appearance. */
      devices: string[];
    }
  | {
      ok: false;
      /** The first `maxProblems` problems, in line order. */
      problems: TraceProblem[];
      /** Problems found beyond those listed. */
      omitted: number;
    };

/** {@link parseCsvTrace}'s options. */
export interface CsvTraceOptions {
  /** The device names a `who` may be besides `cpu`; when absent any name is accepted. */
  devices?: readonly string[];
  /** Problems listed at most (default 50). */
  maxProblems?: number;
}

const HEADER = ["who", "op", "addr", "size", "value"];
const FIELDS = "who,op,addr[,size[,value]]";
const NUMBER_RE = /^(?:0[xX][0-9a-fA-F]+|[0-9]+)$/;
const HEX_BYTES_RE = /^(?:[0-9a-fA-F]{2})+$/;

/** `file:line: message`. */
export function formatProblem(p: TraceProblem): string {
  checkObject("formatProblem", "problem", p);
  return `${p.file}:${p.line}: ${p.message}`;
}

/** A field as it appears in a message: quoted, cut at 40 characters. */
function show(s: string): string {
  return JSON.stringify(s.length > 40 ? s.slice(0, 40) + "…" : s);
}

/** Hex or decimal, or undefined when it is neither; may be 2^53 or more (checked by callers). */
function parseNumber(s: string): number | undefined {
  return NUMBER_RE.test(s) ? Number(s) : undefined;
}

function hexValue(digit: number): number {
  return digit <= 57 ? digit - 48 : (digit | 0x20) - 87; // 0-9, then a-f / A-F
}

/** Parse CSV trace text; `file` names the source in problems. Nothing is returned on a problem. */
export function parseCsvTrace(
  text: string,
  file = "trace.csv",
  options: CsvTraceOptions = {},
): CsvTraceResult {
  checkString("parseCsvTrace", "text", text);
  checkName("parseCsvTrace", "file", file);
  checkObject("parseCsvTrace", "options", options);
  const maxProblems = options.maxProblems ?? 50;
  const devices = options.devices;
  const known = devices !== undefined ? new Set([CPU, ...devices]) : undefined;
  const problems: TraceProblem[] = [];
  let omitted = 0;
  const accesses: TraceAccess[] = [];
  const seen = new Set<string>();
  const order: string[] = [];
  let headerPossible = true;
  let lineNo = 0;
  let pos = text.charCodeAt(0) === 0xfeff ? 1 : 0;

  const problem = (message: string): void => {
    if (problems.length < maxProblems) problems.push({ file, line: lineNo, message });
    else omitted++;
  };

  while (pos <= text.length) {
    let nl = text.indexOf("\n", pos);
    if (nl < 0) nl = text.length;
    let raw = text.slice(pos, nl);
    pos = nl + 1;
    lineNo++;
    const hash = raw.indexOf("#");
    if (hash >= 0) raw = raw.slice(0, hash);
    const content = raw.trim();
    if (content === "") continue;
    const fields = content.split(",").map((f) => f.trim());
    if (headerPossible) {
      headerPossible = false;
      if (fields.length <= HEADER.length && fields.every((f, i) => f.toLowerCase() === HEADER[i]))
        continue;
    }
    if (fields.length < 3 || fields.length > 5) {
      problem(`expected ${FIELDS} (3 to 5 fields), got ${fields.length} field(s)`);
      continue;
    }
    const [who, op, addrText] = fields as [string, string, string];
    const sizeText = fields[3] ?? "";
    const valueText = fields[4] ?? "";

    if (who === "") problem(`who is empty (expected "cpu" or a device name)`);
    else if (!isTraceName(who)) problem(`who ${show(who)} is not a name (no spaces)`);
    else if (known !== undefined && !known.has(who)) {
      const have = [...known];
      problem(`unknown device ${show(who)}${didYouMean(who, have)} (have: ${have.join(", ")})`);
    }
    if (op !== "r" && op !== "w") problem(`op must be "r" or "w", got ${show(op)}`);

    const addr = parseNumber(addrText);
    if (addr === undefined) problem(`addr must be hex (0x...) or decimal, got ${show(addrText)}`);
    else if (!Number.isSafeInteger(addr)) problem(`addr ${addrText} is not below 2^53`);

    let size = DEFAULT_ACCESS_SIZE;
    if (sizeText !== "") {
      const n = parseNumber(sizeText);
      if (n === undefined || n < 1 || n > MAX_ACCESS_SIZE) {
        problem(`size must be a number of bytes in 1..${MAX_ACCESS_SIZE}, got ${show(sizeText)}`);
        size = -1;
      } else size = n;
    }
    if (addr !== undefined && Number.isSafeInteger(addr) && size > 0 && addr + size > 2 ** 53)
      problem(`addr ${addrText} + size ${size} goes beyond 2^53`);

    let value: Uint8Array | undefined;
    if (valueText !== "") {
      if (/^0x/i.test(valueText))
        problem(
          `value is bytes in address order, without 0x (e.g. "0a0b0c0d"), got ${show(valueText)}`,
        );
      else if (!HEX_BYTES_RE.test(valueText))
        problem(
          `value must be hex bytes, two digits a byte (e.g. "0a0b0c0d"), got ${show(valueText)}`,
        );
      else if (size > 0 && valueText.length / 2 !== size)
        problem(
          `value has ${valueText.length / 2} byte(s) but size is ${size} (a value is exactly size bytes)`,
        );
      else {
        value = new Uint8Array(valueText.length / 2);
        for (let i = 0; i < value.length; i++)
          value[i] =
            (hexValue(valueText.charCodeAt(2 * i)) << 4) |
            hexValue(valueText.charCodeAt(2 * i + 1));
      }
    }

    if (problems.length + omitted > 0) continue; // refused anyway: keep nothing
    const access: TraceAccess = { who, op: op as "r" | "w", addr: addr!, size, line: lineNo };
    if (value !== undefined) access.value = value;
    accesses.push(access);
    if (who !== CPU && !seen.has(who)) {
      seen.add(who);
      order.push(who);
    }
  }
  if (problems.length > 0) return { ok: false, problems, omitted };
  return { ok: true, accesses, devices: order };
}

/** Bytes as hex digits, two a byte, in order (the CSV `value`). */
export function bytesToHex(bytes: Uint8Array): string {
  checkBuffer("bytesToHex", "bytes", bytes);
  return hexOf(bytes);
}

/** {@link bytesToHex} of bytes already checked (a line of {@link formatCsvTrace}). */
function hexOf(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += (b < 16 ? "0" : "") + b.toString(16);
  return s;
}

/**
 * CSV text for `accesses`, which {@link parseCsvTrace} reads back to the same accesses (lines
 * aside): a header, then `who,op,0xaddr,size[,value]` lines.
 */
export function formatCsvTrace(accesses: Iterable<TraceAccess>): string {
  if (
    typeof accesses !== "object" ||
    accesses === null ||
    typeof (accesses as Partial<Iterable<TraceAccess>>)[Symbol.iterator] !== "function"
  )
    badArgument("formatCsvTrace", "accesses", "be an iterable of accesses", accesses);
  const lines = [HEADER.join(",")];
  for (const a of accesses) {
    const base = `${a.who},${a.op},0x${a.addr.toString(16)},${a.size}`;
    lines.push(a.value !== undefined ? `${base},${hexOf(a.value)}` : base);
  }
  return lines.join("\n") + "\n";
}
