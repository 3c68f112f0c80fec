/**
 * Parsing and formatting of sizes and addresses written by people.
 *
 * Accepted: plain decimal (`4096`), hex (`0x1000`), a number with a binary unit (`4K`, `64KiB`,
 * `2M`, `1G`, `1T`, `1P`; `K`, `KB` and `KiB` all mean 1024, the convention of the seeds'
 * `SZ_4K`), and `_` as a digit separator (`0x8000_0000`). Refused with a clear error: negative
 * or fractional values, values of 2^53 or more, and anything else.
 *
 * @example
 * parseSize("64KiB") === 65536; parseSize("0x8000_0000") === 2147483648;
 * formatSize(2 * 1024 * 1024) === "2 MiB"; formatSize(0x101000) === "1 MiB + 4 KiB";
 */
import { fail } from "./errors.js";

const UNITS: Record<string, bigint> = {
  "": 1n,
  B: 1n,
  K: 1n << 10n,
  M: 1n << 20n,
  G: 1n << 30n,
  T: 1n << 40n,
  P: 1n << 50n,
};

const SIZE_RE = /^(0x[0-9a-f_]+|0b[01_]+|[0-9][0-9_]*)\s*(?:([kmgtp])(?:i?b)?|(b))?$/i;

/**
 * Parse a size or address; `what` names the value in the error (e.g. `"step 3: size"`).
 * Numbers are accepted as they are if they are non-negative safe integers.
 */
export function parseSize(input: string | number, what = "size"): number {
  if (typeof input === "number") {
    if (!Number.isFinite(input)) fail("EINVAL", `${what} ${input} is not a finite number`);
    if (input < 0) fail("EINVAL", `${what} ${input} is negative`);
    if (!Number.isInteger(input)) fail("EINVAL", `${what} ${input} is not a whole number`);
    if (!Number.isSafeInteger(input)) fail("ERANGE", `${what} ${input} is not below 2^53`);
    return input;
  }
  const s = input.trim();
  if (s.startsWith("-")) fail("EINVAL", `${what} "${input}" is negative`);
  if (/^[0-9]*\.[0-9]/.test(s)) fail("EINVAL", `${what} "${input}" is fractional`);
  const m = SIZE_RE.exec(s);
  if (!m || /__|_$|^0[xb]_/i.test(m[1]!))
    fail(
      "EINVAL",
      `${what} "${input}" is not a size (expected e.g. 4096, 0x1000, 4K, 64KiB, 2M, 1G)`,
    );
  const digits = m[1]!.replace(/_/g, "");
  const unit = (m[2] ?? "").toUpperCase();
  const value = BigInt(digits) * UNITS[unit]!;
  if (value > BigInt(Number.MAX_SAFE_INTEGER))
    fail("ERANGE", `${what} "${input}" is not below 2^53`);
  return Number(value);
}

const NAMES = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/**
 * A size for people, always exact, in one style everywhere the model prints a size:
 * - below 1 KiB, bytes: `0 B`, `12 B`;
 * - from 1 KiB, whole numbers of the largest binary unit it holds: `4 KiB`, `64 KiB`, `2 MiB`;
 * - with a remainder, the sum of two terms when two suffice (each below 1024 of its unit):
 *   `1 MiB + 4 KiB`, `63 MiB + 960 KiB`, `64 KiB + 64 B`, `3 GiB + 1 B`;
 * - else the bytes: `1234567 B` (1 MiB + 181 KiB + 647 B).
 * Never a fraction, never hex (hex is for addresses). A number and its unit are one word: a
 * table that wraps the text breaks at ` + `, never between `16` and `KiB`.
 */
export function formatSize(n: number): string {
  const unit = largestUnit(n);
  if (unit === 0) return `${n} B`;
  const scale = 1024 ** unit;
  const whole = Math.floor(n / scale);
  const rest = n - whole * scale;
  const head = `${whole} ${NAMES[unit]}`;
  if (rest === 0) return head;
  const restUnit = largestUnit(rest);
  if (rest % 1024 ** restUnit === 0)
    return `${head} + ${rest / 1024 ** restUnit} ${NAMES[restUnit]}`;
  return `${n} B`;
}

/** The largest binary unit (0 = bytes, 1 = KiB, …) of which `n` holds at least one. */
function largestUnit(n: number): number {
  for (let unit = NAMES.length - 1; unit > 0; unit--) if (n >= 1024 ** unit) return unit;
  return 0;
}

/** The short form used in configuration (`4K`, `2M`, `1G`) when exact, else decimal bytes. */
export function formatSizeShort(n: number): string {
  for (const [u, f] of [
    ["P", 2 ** 50],
    ["T", 2 ** 40],
    ["G", 2 ** 30],
    ["M", 2 ** 20],
    ["K", 2 ** 10],
  ] as const) {
    if (n >= f && n % f === 0) return `${n / f}${u}`;
  }
  return String(n);
}
