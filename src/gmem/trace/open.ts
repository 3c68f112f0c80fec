/**
 * A trace file's bytes to a cursor, whichever format they are in: a binary trace by its magic
 * (`MWTR`), else CSV text (UTF-8). Everything is checked before anything runs: a malformed file
 * gives its problems (`file:line: ...` for CSV, `file: byte N (0x..): ...` for binary) and no
 * cursor. Pure: the caller reads the file.
 *
 * @example
 * const t = openTrace(readFileSync(path), path, { devices: ["gpu0"] });
 * if (!t.ok) for (const p of t.problems) console.error(p);
 */
import { isMemweaveError } from "../../base/errors.js";
import { isBinaryTrace, openBinaryTrace } from "./binary.js";
import type { TraceProblem } from "./csv.js";
import { formatProblem, parseCsvTrace } from "./csv.js";
import { didYouMean } from "../../base/suggest.js";
import type { TraceBounds } from "./spec.js";
import type { TraceCursor } from "./types.js";
import { arrayCursor, CPU, newAccess } from "./types.js";
import { checkBuffer, checkName, checkObject } from "../../base/validate.js";

/** An opened trace file. */
export interface OpenedTrace {
  readonly ok: true;
  readonly format: "csv" | "binary";
  readonly cursor: TraceCursor;
  /** Accesses in the file. */
  readonly total: number;
  /** Who accesses, `cpu` and devices, in order of first appearance (binary: its name table). */
  readonly names: readonly string[];
}

/** Why a trace file was refused: its problems, at their lines (0: the file as a whole). */
export interface RefusedTrace {
  readonly ok: false;
  readonly problems: readonly TraceProblem[];
  /** The problems as people read them: `file:line: message`, or `file: ...`. */
  readonly lines: readonly string[];
}

function refused(problems: TraceProblem[], omitted = 0): RefusedTrace {
  const lines = problems.map((p) => (p.line > 0 ? formatProblem(p) : p.message));
  if (omitted > 0) {
    const file = problems[0]?.file ?? "trace";
    lines.push(`${file}: ... and ${omitted} more problem(s)`);
    problems.push({ file, line: 0, message: `... and ${omitted} more problem(s)` });
  }
  return { ok: false, problems, lines };
}

export interface OpenTraceOptions {
  /** The device names a `who` may be besides `cpu` (default: any). */
  devices?: readonly string[];
}

/** Open a CSV or binary trace (detected by the binary magic); see the module comment. */
export function openTrace(
  bytes: Uint8Array,
  file: string,
  options: OpenTraceOptions = {},
): OpenedTrace | RefusedTrace {
  checkBuffer("openTrace", "bytes", bytes);
  checkName("openTrace", "file", file);
  checkObject("openTrace", "options", options);
  if (isBinaryTrace(bytes)) {
    let opened;
    try {
      opened = openBinaryTrace(bytes, file);
    } catch (e) {
      if (!isMemweaveError(e)) throw e;
      return refused([{ file, line: 0, message: e.detail }]);
    }
    const devices = options.devices;
    if (devices !== undefined) {
      const known = [CPU, ...devices];
      const unknown = opened.names.filter((n) => !known.includes(n));
      if (unknown.length > 0)
        return refused(
          unknown.map((n) => ({
            file,
            line: 0,
            message: `${file}: the name table has device "${n}"${didYouMean(n, known)}, which the platform does not have (have: ${known.join(", ")})`,
          })),
        );
    }
    return {
      ok: true,
      format: "binary",
      cursor: opened.cursor(),
      total: opened.total,
      names: opened.names,
    };
  }
  const text = new TextDecoder("utf-8").decode(bytes);
  const parsed = parseCsvTrace(text, file, options.devices ? { devices: options.devices } : {});
  if (!parsed.ok) return refused([...parsed.problems], parsed.omitted);
  const names = parsed.accesses.some((a) => a.who === CPU)
    ? [CPU, ...parsed.devices]
    : parsed.devices;
  return {
    ok: true,
    format: "csv",
    cursor: arrayCursor(parsed.accesses),
    total: parsed.accesses.length,
    names,
  };
}

/**
 * The addresses `cursor` touches, `[lowest, highest end)` (undefined for an empty trace), by a
 * pass over it; the cursor is rewound after.
 */
export function scanBounds(cursor: TraceCursor): TraceBounds | undefined {
  checkObject("scanBounds", "cursor", cursor);
  const a = newAccess();
  let start = Infinity;
  let end = -Infinity;
  cursor.rewind();
  while (cursor.next(a)) {
    if (a.addr < start) start = a.addr;
    if (a.addr + a.size > end) end = a.addr + a.size;
  }
  cursor.rewind();
  return start === Infinity ? undefined : { start, end };
}
