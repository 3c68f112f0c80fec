/**
 * Alignment and power-of-two helpers for addresses and sizes up to 2^53.
 *
 * JavaScript's bitwise operators work on 32 bits, and addresses are wider, so everything here
 * uses arithmetic. Callers pass powers of two for alignments; these helpers do not check it on
 * the hot path ({@link checkPowerOfTwo} does at API edges).
 */
import { fail } from "./errors.js";

const TWO_32 = 0x1_0000_0000;

export function isPowerOfTwo(n: number): boolean {
  if (!Number.isSafeInteger(n) || n <= 0) return false;
  if (n < TWO_32) return (n & (n - 1)) === 0;
  return Number.isInteger(Math.log2(n)) && 2 ** Math.log2(n) === n;
}

/** Throws EINVAL naming `what` unless `n` is a power of two. */
export function checkPowerOfTwo(n: number, what: string): void {
  if (!isPowerOfTwo(n)) fail("EINVAL", `${what} ${n} is not a power of two`);
}

/** log2 of a power of two (exact). */
export function log2(n: number): number {
  if (n < TWO_32) return 31 - Math.clz32(n);
  return Math.round(Math.log2(n));
}

/** True when `n` is a multiple of the power-of-two `align`. */
export function isAligned(n: number, align: number): boolean {
  return n % align === 0;
}

export function alignDown(n: number, align: number): number {
  return n - (n % align);
}

export function alignUp(n: number, align: number): number {
  const r = n % align;
  return r === 0 ? n : n + (align - r);
}

/**
 * The largest power of two dividing `n` (n & -n for wide numbers); `Infinity` for 0, so that
 * "aligned to anything" composes with Math.min.
 */
export function lowestSetBit(n: number): number {
  if (n === 0) return Infinity;
  const lo = n % TWO_32;
  if (lo !== 0) return (lo & -lo) >>> 0;
  const hi = Math.floor(n / TWO_32);
  return ((hi & -hi) >>> 0) * TWO_32;
}

/** The smallest power of two >= n (n >= 1). */
export function roundUpPowerOfTwo(n: number): number {
  if (n <= 1) return 1;
  if (n <= 0x8000_0000) return 2 ** (32 - Math.clz32(n - 1));
  // Math.log2 may round either way near a power of two (2^52 + 1 gives exactly 52): correct it.
  const p = 2 ** Math.ceil(Math.log2(n));
  return p / 2 >= n ? p / 2 : p >= n ? p : p * 2;
}

/** The largest power of two <= n (n >= 1). */
export function roundDownPowerOfTwo(n: number): number {
  if (n < TWO_32) return 2 ** (31 - Math.clz32(n));
  const p = 2 ** Math.floor(Math.log2(n));
  return p * 2 <= n ? p * 2 : p > n ? p / 2 : p;
}
