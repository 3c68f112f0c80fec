/**
 * A seeded, deterministic random number generator: xoshiro128** (Blackman and Vigna), seeded
 * through splitmix32. The same seed gives the same sequence on every platform, which keeps
 * scenarios, traces and seeded replacement policies reproducible byte for byte.
 *
 * @example
 * const rng = new Rng(42);
 * rng.int(0, 9);          // 0..9 inclusive
 * rng.fork("tlb").u32();  // an independent stream derived from the seed and a label
 */
import { fail } from "./errors.js";

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** FNV-1a over a string, for deriving sub-seeds from labels. */
function hashLabel(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** A seed's 32 bits, with the bits above 2^32 folded in (unchanged for seeds below 2^32). */
function fold(seed: number): number {
  return ((seed >>> 0) ^ Math.imul(Math.floor(seed / 0x1_0000_0000), 0x27d4eb2d)) >>> 0;
}

export class Rng {
  readonly seed: number;
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0)
      fail("EINVAL", `seed ${seed} is not a non-negative integer`);
    this.seed = seed;
    // Fold the high bits in, so seeds above 2^32 differ from their low 32 bits.
    const sm = splitmix32(fold(seed));
    this.a = sm();
    this.b = sm();
    this.c = sm();
    this.d = sm();
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  /** The next 32-bit unsigned integer. */
  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** A float in [0, 1) with 53 random bits. */
  float(): number {
    const hi = this.u32() >>> 5; // 27 bits
    const lo = this.u32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** An integer in [min, max], both inclusive, without modulo bias. */
  int(min: number, max: number): number {
    if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || max < min)
      fail("EINVAL", `random range [${min}, ${max}] is empty or not integer`);
    const span = max - min + 1;
    if (span <= 0x1_0000_0000) {
      const limit = 0x1_0000_0000 - (0x1_0000_0000 % span);
      let x: number;
      do x = this.u32();
      while (x >= limit);
      return min + (x % span);
    }
    return min + Math.floor(this.float() * span);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) fail("EINVAL", "cannot pick from an empty list");
    return items[this.int(0, items.length - 1)]!;
  }

  /** Fisher-Yates shuffle in place; returns the array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const t = items[i]!;
      items[i] = items[j]!;
      items[j] = t;
    }
    return items;
  }

  /** Fill a byte array with random bytes. */
  bytes(out: Uint8Array): Uint8Array {
    for (let i = 0; i < out.length; i += 4) {
      let x = this.u32();
      for (let k = 0; k < 4 && i + k < out.length; k++, x >>>= 8) out[i + k] = x & 0xff;
    }
    return out;
  }

  /** An independent generator derived from this one's seed and a label (not its position). */
  fork(label: string): Rng {
    // Mixed, not a plain XOR: else fork("a").fork("b") would equal fork("b").fork("a"), and
    // fork("a").fork("a") would replay this generator.
    return new Rng(splitmix32(fold(this.seed) ^ hashLabel(label))());
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * One step of xorshift32 (Marsaglia's 13/17/5): the next state of `x` (a non-zero uint32). Cheap
 * enough to draw a fresh input per operation inside a benchmark's timed loop, and the same
 * sequence as the native reference's `next()` (bench/native/translate.c), so both sides do the
 * very same operations.
 */
export function xorshift32(x: number): number {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return x >>> 0;
}
