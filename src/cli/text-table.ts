/**
 * Tables and text that fit a width, for the human output of the CLI: box-drawn tables in
 * cli-table3's compact style, rendered in one pass over the rows (a 50,000-step table costs
 * fifty times a 1,000-step one), and free text wrapped at word boundaries.
 *
 * How a table fits `width` columns of terminal:
 * 1. At its natural width (every cell on its own lines) when that fits.
 * 2. Else each column narrows towards its narrowest word and cells wrap, at spaces and after a
 *    `/`, `_`, `.` or `-` inside a word (`0x80000000-` / `0x8000ffff`, `vcm.` /
 *    `reserve_from_bound`). A size is one word: `16 KiB` never breaks between `16` and `KiB`,
 *    `1 MiB + 4 KiB` only before its `+`, `0x80000000+16 KiB` not at all. A word wider than its column (a long name) is cut with `…`;
 *    no column is narrower than 12 characters for that (10, then 8 when 12 does not fit), and
 *    never narrower than its widest size or address: those are never cut.
 * 3. Else (too many columns for the width) each row becomes a record: the first column's
 *    header and value on one line, then each other column as `header  value`, indented.
 *
 * Widths count code points: the model prints ASCII, box drawing and a few symbols (`✓ ✗ × …`),
 * each one terminal column.
 */
import type { Painter, Style } from "./human.js";

/** A cell: plain text, or text with a style (applied line by line after wrapping). */
export type Cell = string | { readonly text: string; readonly style?: Style };

/** The narrowest a wrapped column is made before cutting its long words. */
const WORD_CAPS = [12, 10, 8];

/** The terminal width when nothing says otherwise. */
export const DEFAULT_WIDTH = 80;

/** The narrowest output the CLI accepts for `--width` (below, tables cannot stay tables). */
export const MIN_WIDTH = 40;

function textOf(c: Cell): string {
  return typeof c === "string" ? c : c.text;
}

function styleOf(c: Cell): Style | undefined {
  return typeof c === "string" ? undefined : c.style;
}

/** The width of `s` in terminal columns. */
export function widthOf(s: string): number {
  if (!SURROGATE.test(s)) return s.length;
  let n = 0;
  for (const _ of s) n++;
  return n;
}

const SURROGATE = /[\uD800-\uDFFF]/;

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isAlnum = (c: number): boolean => isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const isHex = (c: number): boolean => isDigit(c) || (c >= 97 && c <= 102);
const SPACE = 32;

/** Whether the space at `i` glues a number to its unit (`16 KiB`) or a `+` to a size (`+ 4 KiB`). */
function gluedSpace(line: string, i: number): boolean {
  const before = line.charCodeAt(i - 1);
  if (isDigit(before)) {
    const u = line.charCodeAt(i + 1);
    // B, or K/M/G/T/P followed by "iB", and not followed by a letter or digit.
    let end = -1;
    if (u === 66) end = i + 2;
    else if ("KMGTP".includes(line[i + 1] ?? "x") && line.startsWith("iB", i + 2)) end = i + 4;
    return end > 0 && !isAlnum(line.charCodeAt(end));
  }
  return before === 43 && line.charCodeAt(i - 2) === SPACE && isDigit(line.charCodeAt(i + 1));
}

/** Whether a line may break after its character at `i` (see {@link words}). */
function breaksAfter(line: string, i: number): boolean {
  const c = line.charCodeAt(i);
  if (c === SPACE) return line.charCodeAt(i + 1) !== SPACE && !gluedSpace(line, i);
  // "/", "_", ".", "-" between two letters or digits.
  if (c === 47 || c === 95 || c === 46 || c === 45)
    return isAlnum(line.charCodeAt(i - 1)) && isAlnum(line.charCodeAt(i + 1));
  return false;
}

/**
 * One line of text as its words: each word keeps the break that ends it (a trailing space, or a
 * `/ _ . -` it may break after). The space between a number and its unit does not end a word,
 * nor the one after the `+` of a sum of sizes.
 */
export function words(line: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < line.length; i++)
    if (breaksAfter(line, i)) {
      out.push(line.slice(start, i + 1));
      start = i + 1;
    }
  if (start < line.length) out.push(line.slice(start));
  return out;
}

/**
 * Whether a word holds a size (`64 KiB`) or an address (`0x80000000-`): such a word is never
 * cut, its column is at least as wide.
 */
function isWhole(line: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = line.charCodeAt(i);
    if (c === SPACE && i + 1 < end && gluedSpace(line, i) && isDigit(line.charCodeAt(i - 1)))
      return true;
    if (c === 48 && line.charCodeAt(i + 1) === 120 && i + 2 < end && isHex(line.charCodeAt(i + 2)))
      return true;
  }
  return false;
}

/** `s` cut to `width` columns, ending with `…` when something was cut. */
export function cut(s: string, width: number): string {
  if (widthOf(s) <= width) return s;
  return [...s].slice(0, Math.max(0, width - 1)).join("") + "…";
}

/**
 * Text wrapped to `width` columns (`rest` for the lines after a paragraph's first): its own
 * line breaks kept, each line filled greedily with words; a word wider than the line is cut
 * with `…` (`hard`: split over lines instead).
 */
export function wrap(text: string, width: number, hard = false, rest = width): string[] {
  const out: string[] = [];
  for (const para of text.includes("\n") ? text.split("\n") : [text]) {
    const total = widthOf(para);
    if (total <= width) out.push(para);
    else wrapLine(para, total === para.length, width, rest, hard, out);
  }
  return out;
}

/**
 * One line wrapped onto `out`, by indices into it (no string but the lines it makes); `exact`
 * when its width is its length (no surrogate pairs).
 */
function wrapLine(
  para: string,
  exact: boolean,
  width: number,
  rest: number,
  hard: boolean,
  out: string[],
): void {
  const span = (a: number, b: number) => (exact ? b - a : widthOf(para.slice(a, b)));
  let room = width;
  let lineStart = 0; // Where the line being filled starts,
  let lineEnd = 0; // where its text ends (trailing spaces left out),
  let wordStart = 0; // and where the next word starts.
  for (let i = 0; i < para.length; i++) {
    const last = i === para.length - 1;
    if (!last && !breaksAfter(para, i)) continue;
    const wordEnd = i + 1;
    let shownEnd = wordEnd;
    while (shownEnd > wordStart && para.charCodeAt(shownEnd - 1) === SPACE) shownEnd--;
    if (span(lineStart, shownEnd) <= room) {
      lineEnd = shownEnd;
      wordStart = wordEnd;
      continue;
    }
    if (wordStart > lineStart) {
      out.push(para.slice(lineStart, lineEnd));
      room = rest;
    }
    lineStart = wordStart;
    if (span(wordStart, shownEnd) > room) {
      const word = para.slice(wordStart, shownEnd);
      if (!hard) {
        out.push(cut(word, room));
        room = rest;
        lineStart = lineEnd = wordStart = wordEnd;
        continue;
      }
      // Split over lines, by code points.
      const chars = [...word];
      let k = 0;
      while (chars.length - k > room) {
        out.push(chars.slice(k, k + room).join(""));
        k += room;
        room = rest;
      }
      lineStart = shownEnd - chars.slice(k).join("").length;
    }
    lineEnd = shownEnd;
    wordStart = wordEnd;
  }
  if (lineEnd > lineStart) out.push(para.slice(lineStart, lineEnd));
}

/**
 * Free text fitted to `width`: wrapped at words (a too-long word split over lines), every
 * line after the first indented by `indent` spaces. `width` Infinity keeps the text as it is.
 */
export function fitText(text: string, width: number, indent = 0): string {
  if (!Number.isFinite(width) || widthOf(text) <= width) return text;
  const pad = " ".repeat(indent);
  return wrap(text, width, true, Math.max(1, width - indent))
    .map((l, k) => (k === 0 ? l : pad + l))
    .join("\n");
}

interface Column {
  natural: number;
  /** Widest word that must not be cut (a size, an address). */
  whole: number;
  /** Widest word of any kind. */
  word: number;
}

function measure(head: readonly string[], rows: ReadonlyArray<readonly Cell[]>): Column[] {
  const cols: Column[] = head.map(() => ({ natural: 0, whole: 0, word: 0 }));
  const see = (c: Column, text: string) => {
    for (const line of text.includes("\n") ? text.split("\n") : [text]) {
      const lw = widthOf(line);
      if (lw > c.natural) c.natural = lw;
      if (lw <= c.word) continue; // No word of it can be wider than the widest yet.
      const exact = lw === line.length; // No surrogate pairs: a word's width is its length.
      let start = 0;
      for (let i = 0; i < line.length; i++) {
        const last = i === line.length - 1;
        if (!last && !breaksAfter(line, i)) continue;
        let end = i + 1;
        while (end > start && line.charCodeAt(end - 1) === SPACE) end--;
        const ww = exact ? end - start : widthOf(line.slice(start, end));
        if (ww > c.word) c.word = ww;
        if (ww > c.whole && isWhole(line, start, end)) c.whole = ww;
        start = i + 1;
      }
    }
  };
  head.forEach((h, i) => see(cols[i]!, h));
  for (const row of rows) for (let i = 0; i < cols.length; i++) see(cols[i]!, textOf(row[i] ?? ""));
  return cols;
}

/** Column widths within `room` characters of content, or undefined when they cannot fit. */
function fitColumns(cols: readonly Column[], room: number): number[] | undefined {
  const natural = cols.map((c) => Math.max(1, c.natural));
  if (natural.reduce((a, b) => a + b, 0) <= room) return natural;
  for (const cap of WORD_CAPS) {
    const min = cols.map((c, i) =>
      Math.min(natural[i]!, Math.max(Math.min(c.word, cap), c.whole, 1)),
    );
    const least = min.reduce((a, b) => a + b, 0);
    if (least > room) continue;
    // Share the room fairly: the widest level T every column may reach (a column that wants
    // less keeps its natural width), then the leftover columns to the leftmost still short.
    const at = (t: number) => min.map((m, i) => Math.max(m, Math.min(t, natural[i]!)));
    const sum = (ws: readonly number[]) => ws.reduce((a, b) => a + b, 0);
    let t = 0;
    while (sum(at(t + 1)) <= room && t < Math.max(...natural)) t++;
    const widths = at(t);
    let left = room - sum(widths);
    for (let i = 0; left > 0 && i < widths.length; i++)
      if (widths[i]! < natural[i]!) {
        widths[i]!++;
        left--;
      }
    return widths;
  }
  return undefined;
}

/** Lines of a table joined at a time. */
const CHUNK_LINES = 512;

const SPACES: string[] = [];

/** `n` spaces (shared strings: a table pads every cell). */
function spaces(n: number): string {
  return (SPACES[n] ??= " ".repeat(Math.max(0, n)));
}

function rule(widths: readonly number[], left: string, mid: string, right: string): string {
  return left + widths.map((w) => "─".repeat(w + 2)).join(mid) + right;
}

/**
 * A table as text: `head` in bold, then the rows, fitted to `width` columns (Infinity: each
 * column at its natural width). No trailing newline.
 */
export function renderTable(
  head: readonly string[],
  rows: ReadonlyArray<readonly Cell[]>,
  paint: Painter,
  width: number = DEFAULT_WIDTH,
): string {
  const cols = measure(head, rows);
  const room = width - (3 * cols.length + 1);
  const widths = Number.isFinite(width)
    ? fitColumns(cols, room)
    : cols.map((c) => Math.max(1, c.natural));
  if (widths === undefined) return renderRecords(head, rows, paint, width);

  // Lines gather in chunks joined as they fill: a few long flat strings survive, not a
  // hundred thousand short ones.
  const out: string[] = [];
  let chunk: string[] = [rule(widths, "┌", "┬", "┐")];
  const line = (cells: readonly Cell[], bold: boolean) => {
    let height = 1;
    const lines: string[][] = [];
    for (let i = 0; i < widths.length; i++) {
      const text = textOf(cells[i] ?? "");
      const w = widths[i]!;
      const l = text.length <= w && !text.includes("\n") ? [text] : wrap(text, w);
      if (l.length > height) height = l.length;
      lines.push(l);
    }
    for (let k = 0; k < height; k++) {
      let text = "│";
      for (let i = 0; i < widths.length; i++) {
        const s = lines[i]![k] ?? "";
        const style = bold ? "bold" : styleOf(cells[i] ?? "");
        const shown = style !== undefined && s !== "" ? paint(style, s) : s;
        text += ` ${shown}${spaces(widths[i]! - widthOf(s))} │`;
      }
      chunk.push(text);
    }
    if (chunk.length >= CHUNK_LINES) {
      out.push(chunk.join("\n"));
      chunk = [];
    }
  };
  line(head, true);
  chunk.push(rule(widths, "├", "┼", "┤"));
  for (const row of rows) line(row, false);
  chunk.push(rule(widths, "└", "┴", "┘"));
  out.push(chunk.join("\n"));
  return out.join("\n");
}

/**
 * A table too wide for `width` as records: per row, the first column's header and value, then
 * each other column's `header  value`, indented, values wrapped under themselves.
 */
function renderRecords(
  head: readonly string[],
  rows: ReadonlyArray<readonly Cell[]>,
  paint: Painter,
  width: number,
): string {
  const label = Math.max(0, ...head.slice(1).map(widthOf));
  const inline = 2 + label + 2 <= width / 2;
  const out: string[] = [];
  const painted = (c: Cell, s: string) => {
    const style = styleOf(c);
    return style !== undefined && s !== "" ? paint(style, s) : s;
  };
  for (const row of rows) {
    const first = row[0] ?? "";
    const title = wrap(`${head[0] ?? ""} ${textOf(first)}`, width);
    out.push(...title.map((l) => paint("bold", l)));
    for (let i = 1; i < head.length; i++) {
      const c = row[i] ?? "";
      if (inline) {
        const indent = " ".repeat(2 + label + 2);
        const name = head[i]!;
        wrap(textOf(c), width - indent.length).forEach((l, k) =>
          out.push(
            k === 0
              ? `  ${paint("dim", name)}${" ".repeat(label - widthOf(name))}  ${painted(c, l)}`
              : indent + painted(c, l),
          ),
        );
      } else {
        out.push(...wrap(`  ${head[i]!}`, width).map((l) => paint("dim", l)));
        for (const l of wrap(textOf(c), width - 4)) out.push(`    ${painted(c, l)}`);
      }
    }
  }
  return out.join("\n");
}
