import { fc, it } from "@fast-check/vitest";
import { describe, expect } from "vitest";

import {
  alignDown,
  alignUp,
  checkPowerOfTwo,
  isAligned,
  isPowerOfTwo,
  log2,
  lowestSetBit,
  roundDownPowerOfTwo,
  roundUpPowerOfTwo,
} from "./align.js";
import { MemweaveError } from "./errors.js";

// BigInt reference implementations: exact for any width.
const big = (n: number): bigint => BigInt(n);
function refIsPowerOfTwo(n: number): boolean {
  const b = big(n);
  return b > 0n && (b & (b - 1n)) === 0n;
}
function refLowestSetBit(n: number): number {
  return Number(big(n) & -big(n));
}
function refRoundUp(n: number): number {
  let p = 1n;
  while (p < big(n)) p <<= 1n;
  return Number(p);
}
function refRoundDown(n: number): number {
  let p = 1n;
  while (p << 1n <= big(n)) p <<= 1n;
  return Number(p);
}
function refLog2(p: number): number {
  let k = 0;
  while (1n << BigInt(k) < big(p)) k++;
  return k;
}

const safe = fc.maxSafeNat();
const positive = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
/** Numbers near powers of two up to 2^52, where floating-point log2 is least reliable. */
const nearPowers = fc
  .tuple(fc.integer({ min: 0, max: 52 }), fc.integer({ min: -3, max: 3 }))
  .map(([k, d]) => 2 ** k + d)
  .filter((n) => n >= 1 && Number.isSafeInteger(n));
const wide = fc.oneof(positive, nearPowers);
/** Power-of-two alignments 2^0 .. 2^40. */
const alignment = fc.integer({ min: 0, max: 40 }).map((k) => 2 ** k);

describe("isPowerOfTwo", () => {
  it.each([1, 2, 4, 4096, 2 ** 31, 2 ** 32, 2 ** 33, 2 ** 40, 2 ** 52])("%d is", (n) => {
    expect(isPowerOfTwo(n)).toBe(true);
  });

  it.each([
    0,
    -1,
    -4096,
    3,
    6,
    4095,
    4097,
    2 ** 31 - 1,
    2 ** 31 + 1,
    2 ** 32 - 1,
    2 ** 32 + 1,
    2 ** 40 + 2 ** 33,
    2 ** 52 - 1,
    2 ** 52 + 1,
    2 ** 53,
    0.5,
    1.5,
    NaN,
    Infinity,
  ])("%d is not", (n) => {
    expect(isPowerOfTwo(n)).toBe(false);
  });

  it.prop([fc.oneof(safe, nearPowers)], { numRuns: 300 })("agrees with BigInt", (n) => {
    expect(isPowerOfTwo(n)).toBe(refIsPowerOfTwo(n));
  });

  it("checkPowerOfTwo throws EINVAL naming the value", () => {
    expect(() => checkPowerOfTwo(4096, "granule")).not.toThrow();
    try {
      checkPowerOfTwo(12288, "granule");
      expect.unreachable("no throw");
    } catch (e) {
      expect(e).toBeInstanceOf(MemweaveError);
      expect((e as MemweaveError).code).toBe("EINVAL");
      expect((e as MemweaveError).message).toContain("granule 12288");
    }
  });
});

describe("log2", () => {
  it.each([
    [1, 0],
    [2, 1],
    [4096, 12],
    [2 ** 31, 31],
    [2 ** 32, 32],
    [2 ** 40, 40],
    [2 ** 52, 52],
  ])("log2(%d) = %d", (n, k) => {
    expect(log2(n)).toBe(k);
  });

  it("is exact for every power of two up to 2^52", () => {
    for (let k = 0; k <= 52; k++) expect(log2(2 ** k)).toBe(k);
  });

  it.prop([fc.integer({ min: 0, max: 52 })])("matches the BigInt reference", (k) => {
    expect(log2(2 ** k)).toBe(refLog2(2 ** k));
  });
});

describe("isAligned / alignUp / alignDown", () => {
  it.each([
    [0, 4096, true],
    [4096, 4096, true],
    [4097, 4096, false],
    [0x8000_1000, 0x1000, true],
    [0x8000_1000, 0x2000, false],
    [2 ** 40, 2 ** 40, true],
    [2 ** 40 + 2 ** 33, 2 ** 33, true],
    [2 ** 40 + 2 ** 33, 2 ** 34, false],
    [2 ** 52, 2 ** 21, true],
    [2 ** 52 + 4096, 2 ** 21, false],
  ])("isAligned(%d, %d) = %s", (n, a, yes) => {
    expect(isAligned(n, a)).toBe(yes);
  });

  it.each([
    // n, align, down, up
    [0, 4096, 0, 0],
    [1, 4096, 0, 4096],
    [4095, 4096, 0, 4096],
    [4096, 4096, 4096, 4096],
    [4097, 4096, 4096, 8192],
    [0x8000_0fff, 0x1000, 0x8000_0000, 0x8000_1000],
    [0xffff_ffff, 0x1000, 0xffff_f000, 0x1_0000_0000],
    [2 ** 40 + 1, 2 ** 21, 2 ** 40, 2 ** 40 + 2 ** 21],
    [2 ** 40 + 2 ** 33 + 5, 2 ** 33, 2 ** 40 + 2 ** 33, 2 ** 40 + 2 ** 34],
    [2 ** 52 - 1, 2 ** 30, 2 ** 52 - 2 ** 30, 2 ** 52],
    [2 ** 52 + 12345, 4096, 2 ** 52 + 12288, 2 ** 52 + 16384],
    [7, 1, 7, 7],
  ])("alignDown/alignUp(%d, %d) = %d / %d", (n, a, down, up) => {
    expect(alignDown(n, a)).toBe(down);
    expect(alignUp(n, a)).toBe(up);
  });

  it.prop([fc.integer({ min: 0, max: 2 ** 52 }), alignment], { numRuns: 300 })(
    "agree with BigInt arithmetic",
    (n, a) => {
      const bn = big(n);
      const ba = big(a);
      const down = bn - (bn % ba);
      const up = ((bn + ba - 1n) / ba) * ba;
      expect(alignDown(n, a)).toBe(Number(down));
      expect(alignUp(n, a)).toBe(Number(up));
      expect(isAligned(n, a)).toBe(bn % ba === 0n);
      // Masking view of the same thing.
      expect(alignDown(n, a)).toBe(Number(bn & ~(ba - 1n)));
    },
  );

  it.prop([fc.integer({ min: 0, max: 2 ** 52 }), alignment], { numRuns: 200 })(
    "results are aligned and bracket n",
    (n, a) => {
      const d = alignDown(n, a);
      const u = alignUp(n, a);
      expect(isAligned(d, a) && isAligned(u, a)).toBe(true);
      expect(d <= n && n <= u).toBe(true);
      expect(u - d === 0 || u - d === a).toBe(true);
    },
  );
});

describe("lowestSetBit", () => {
  it.each([
    [1, 1],
    [6, 2],
    [4096, 4096],
    [0x8000_1000, 0x1000],
    [2 ** 31, 2 ** 31],
    [0xc000_0000, 2 ** 30],
    [0xffff_ffff, 1],
    [2 ** 32, 2 ** 32],
    [2 ** 32 + 2 ** 31, 2 ** 31],
    [2 ** 40, 2 ** 40],
    [2 ** 40 + 2 ** 33, 2 ** 33],
    [2 ** 52, 2 ** 52],
    [2 ** 52 + 2 ** 51, 2 ** 51],
    [Number.MAX_SAFE_INTEGER, 1],
    [Number.MAX_SAFE_INTEGER - 1, 2],
  ])("lowestSetBit(%d) = %d", (n, bit) => {
    expect(lowestSetBit(n)).toBe(bit);
  });

  it("is Infinity for 0, so it composes with Math.min", () => {
    expect(lowestSetBit(0)).toBe(Infinity);
    expect(Math.min(lowestSetBit(0), 2 ** 21)).toBe(2 ** 21);
  });

  it.prop([positive], { numRuns: 300 })("equals n & -n in BigInt", (n) => {
    expect(lowestSetBit(n)).toBe(refLowestSetBit(n));
  });

  it.prop([fc.integer({ min: 0, max: 52 }), fc.integer({ min: 0, max: 2 ** 20 })], {
    numRuns: 200,
  })("of an odd multiple of 2^k is 2^k", (k, m) => {
    const n = 2 ** k * (2 * m + 1);
    fc.pre(Number.isSafeInteger(n));
    expect(lowestSetBit(n)).toBe(2 ** k);
  });
});

describe("roundUpPowerOfTwo / roundDownPowerOfTwo", () => {
  it.each([
    // n, up, down
    [1, 1, 1],
    [2, 2, 2],
    [3, 4, 2],
    [4095, 4096, 2048],
    [4096, 4096, 4096],
    [4097, 8192, 4096],
    [2 ** 31 - 1, 2 ** 31, 2 ** 30],
    [2 ** 31, 2 ** 31, 2 ** 31],
    [2 ** 31 + 1, 2 ** 32, 2 ** 31],
    [2 ** 32 - 1, 2 ** 32, 2 ** 31],
    [2 ** 32, 2 ** 32, 2 ** 32],
    [2 ** 32 + 1, 2 ** 33, 2 ** 32],
    [2 ** 40, 2 ** 40, 2 ** 40],
    [2 ** 40 + 2 ** 33, 2 ** 41, 2 ** 40],
    [2 ** 49 + 1, 2 ** 50, 2 ** 49],
    [2 ** 52 - 1, 2 ** 52, 2 ** 51],
    [2 ** 52, 2 ** 52, 2 ** 52],
    [2 ** 52 + 1, 2 ** 53, 2 ** 52],
    [Number.MAX_SAFE_INTEGER, 2 ** 53, 2 ** 52],
  ])("n = %d: up %d, down %d", (n, up, down) => {
    expect(roundUpPowerOfTwo(n)).toBe(up);
    expect(roundDownPowerOfTwo(n)).toBe(down);
  });

  it("rounds every 2^k + 1 and 2^k - 1 correctly up to 2^52", () => {
    for (let k = 2; k <= 52; k++) {
      expect(roundUpPowerOfTwo(2 ** k + 1), `up(2^${k}+1)`).toBe(2 ** (k + 1));
      expect(roundUpPowerOfTwo(2 ** k - 1), `up(2^${k}-1)`).toBe(2 ** k);
      expect(roundDownPowerOfTwo(2 ** k + 1), `down(2^${k}+1)`).toBe(2 ** k);
      expect(roundDownPowerOfTwo(2 ** k - 1), `down(2^${k}-1)`).toBe(2 ** (k - 1));
    }
  });

  it.prop([wide], { numRuns: 300 })("roundUp agrees with a BigInt loop", (n) => {
    expect(roundUpPowerOfTwo(n)).toBe(refRoundUp(n));
  });

  it.prop([wide], { numRuns: 300 })("roundDown agrees with a BigInt loop", (n) => {
    expect(roundDownPowerOfTwo(n)).toBe(refRoundDown(n));
  });
});
