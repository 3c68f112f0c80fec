/**
 * Small formatting helpers shared by the scenario schema, the step modules and the runner:
 * values in error messages, sizes and bytes in descriptions. Pure and deterministic.
 */
import { hex } from "../../base/address.js";
import { formatSize } from "../../base/size.js";

/**
 * A value as it appears in an error message: strings quoted, numbers and booleans as written,
 * maps and lists by kind. Long strings are cut at 40 characters.
 *
 * @example
 * showValue("4.5K") === '"4.5K"'; showValue(undefined) === "nothing"; showValue([1]) === "a list"
 */
export function showValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null (an empty value)";
  if (typeof value === "string")
    return JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint")
    return String(value);
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  return typeof value;
}

/**
 * A size for descriptions, never rounded: binary units when `formatSize` shows it exactly
 * (`64 KiB`, `1.5 MiB`, `1096 KiB`), bytes below 1 KiB (`12 B`), hex otherwise (`0x100001`).
 */
export function showSize(n: number): string {
  if (n < 1024) return `${n} B`;
  const text = formatSize(n);
  const m = /^(\d+(?:\.\d+)?) ([KMGTP])iB$/.exec(text);
  const exact = m !== null && Number(m[1]) * 1024 ** ("KMGTP".indexOf(m[2]!) + 1) === n;
  return exact ? text : hex(n);
}

/** Bytes as spaced lower-case hex (`de ad be ef`); at most `limit` bytes, then `…`. */
export function hexBytes(bytes: Uint8Array, limit = Infinity): string {
  const n = Math.min(bytes.length, limit);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(bytes[i]!.toString(16).padStart(2, "0"));
  return parts.join(" ") + (n < bytes.length ? " …" : "");
}

/** The edit distance of two short strings (for "did you mean" suggestions). */
function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/**
 * The candidate closest to `word` when it is a plausible typo of it: another case, a prefix
 * (`allocate` for `alloc`), or one or two edits.
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const a = word.toLowerCase();
    const b = c.toLowerCase();
    const prefix = Math.min(a.length, b.length) >= 3 && (a.startsWith(b) || b.startsWith(a));
    const d = a === b ? 0 : prefix ? 1 : editDistance(word, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.min(2, Math.floor(word.length / 2)) ? best : undefined;
}
