/**
 * Small formatting helpers shared by the scenario schema, the step modules and the runner:
 * values in error messages, sizes and bytes in descriptions. Pure and deterministic.
 */
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
 * A size for descriptions and summaries, in {@link formatSize}'s one exact style: `64 KiB`,
 * `1 MiB + 4 KiB`, `12 B`.
 */
export function showSize(n: number): string {
  return formatSize(n);
}

/** Bytes as spaced lower-case hex (`de ad be ef`); at most `limit` bytes, then `…`. */
export function hexBytes(bytes: Uint8Array, limit = Infinity): string {
  const n = Math.min(bytes.length, limit);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(bytes[i]!.toString(16).padStart(2, "0"));
  return parts.join(" ") + (n < bytes.length ? " …" : "");
}

/** The candidate closest to `word` when it is a plausible typo of it (base/suggest.ts). */
export { closest } from "../../base/suggest.js";
