import { fc, it } from "@fast-check/vitest";
import { describe, expect } from "vitest";

import type { ErrorCode } from "./errors.js";
import { formatSize, formatSizeShort, parseSize } from "./size.js";
import { caught } from "./errors.testutil.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

function expectRefused(input: string | number, code: ErrorCode, text: string): void {
  const e = caught(() => parseSize(input));
  expect(e.code).toBe(code);
  expect(e.message).toContain(text);
  expect(e.message.startsWith(`${code}: `)).toBe(true);
}

describe("parseSize accepts", () => {
  it.each([
    [4096, 4096],
    ["4096", 4096],
    ["0x1000", 0x1000],
    ["0X1000", 0x1000],
    ["0xABCdef", 0xabcdef],
    ["4K", 4 * KiB],
    ["4k", 4 * KiB],
    ["4KB", 4 * KiB],
    ["4KiB", 4 * KiB],
    ["64KiB", 64 * KiB],
    ["64KB", 64 * KiB],
    ["64kib", 64 * KiB],
    ["2M", 2 * MiB],
    ["2MiB", 2 * MiB],
    ["1G", GiB],
    ["1T", TiB],
    ["1P", 2 ** 50],
    ["7P", 7 * 2 ** 50],
    ["0x8000_0000", 0x8000_0000],
    ["1_000", 1000],
    ["1_000_000", 1_000_000],
    [" 4K ", 4 * KiB],
    ["\t2M\n", 2 * MiB],
    ["4 K", 4 * KiB],
    ["0", 0],
    ["0K", 0],
    ["0x0", 0],
    ["0b101", 5],
    ["12B", 12],
    ["9007199254740991", Number.MAX_SAFE_INTEGER],
    ["0x1f_ffff_ffff_ffff", Number.MAX_SAFE_INTEGER],
    [0, 0],
    [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  ] as const)("%j -> %d", (input, expected) => {
    expect(parseSize(input)).toBe(expected);
  });
});

describe("parseSize refuses", () => {
  it.each([
    ["-1", '"-1"'],
    ["-4K", '"-4K"'],
    ["1.5K", '"1.5K"'],
    ["0.5", '"0.5"'],
    ["4.5K", '"4.5K"'],
    [".5", '".5"'],
    ["abc", '"abc"'],
    ["", '""'],
    ["   ", '"   "'],
    ["0x", '"0x"'],
    ["0xg", '"0xg"'],
    ["4Q", '"4Q"'],
    ["4KK", '"4KK"'],
    ["4 KiB extra", '"4 KiB extra"'],
    ["1__0", '"1__0"'],
    ["_1", '"_1"'],
    ["1_", '"1_"'],
    ["1_K", '"1_K"'],
    ["0x_1", '"0x_1"'],
    ["0b_1", '"0b_1"'],
    ["0b2", '"0b2"'],
    ["K", '"K"'],
    ["1e3", '"1e3"'],
  ])("string %j with EINVAL naming it", (input, shown) => {
    expectRefused(input, "EINVAL", shown);
  });

  it.each([
    [-1, "-1"],
    [1.5, "1.5"],
    [NaN, "NaN"],
    [Infinity, "Infinity"],
    [-Infinity, "-Infinity"],
  ])("number %d with EINVAL naming it", (input, shown) => {
    expectRefused(input, "EINVAL", `size ${shown} `);
  });

  it.each([
    ["9007199254740992", '"9007199254740992"'],
    ["8P", '"8P"'],
    ["0x20_0000_0000_0000", '"0x20_0000_0000_0000"'],
    ["8192T", '"8192T"'],
    ["99999999999999999999999", '"99999999999999999999999"'],
  ])("string %j of 2^53 or more with ERANGE", (input, shown) => {
    expectRefused(input, "ERANGE", shown);
  });

  it("the number 2^53 with ERANGE", () => {
    expectRefused(2 ** 53, "ERANGE", String(2 ** 53));
    expectRefused(1e300, "ERANGE", "1e+300");
  });

  it("names the value with the caller's label", () => {
    const e = caught(() => parseSize("4Q", "step 3: size"));
    expect(e.code).toBe("EINVAL");
    expect(e.message).toContain('step 3: size "4Q"');
  });
});

describe("parseSize properties", () => {
  const safe = fc.maxSafeNat();

  it.prop([safe], { numRuns: 300 })("decimal text of a safe integer parses back", (n) => {
    expect(parseSize(String(n))).toBe(n);
    expect(parseSize(n)).toBe(n);
  });

  it.prop([safe], { numRuns: 300 })("hex text of a safe integer parses back", (n) => {
    expect(parseSize("0x" + n.toString(16))).toBe(n);
    expect(parseSize("0x" + n.toString(16).toUpperCase())).toBe(n);
  });

  it.prop([fc.integer({ min: 0, max: 2 ** 20 })], { numRuns: 300 })("kK is k * 1024", (k) => {
    expect(parseSize(`${k}K`)).toBe(k * 1024);
    expect(parseSize(`${k}KiB`)).toBe(k * 1024);
  });

  it.prop([fc.maxSafeNat()], { numRuns: 200 })(
    "underscore-grouped decimal parses like the plain digits",
    (n) => {
      const grouped = String(n).replace(/\B(?=(\d{3})+(?!\d))/g, "_");
      expect(parseSize(grouped)).toBe(n);
    },
  );

  it.prop([fc.integer({ min: 1, max: 2 ** 40 })], { numRuns: 200 })(
    "negative text is refused with EINVAL",
    (n) => {
      expect(caught(() => parseSize(`-${n}`)).code).toBe("EINVAL");
    },
  );

  it.prop([fc.bigInt({ min: 2n ** 53n, max: 2n ** 80n })], { numRuns: 200 })(
    "decimal text of 2^53 or more is refused with ERANGE",
    (n) => {
      expect(caught(() => parseSize(n.toString())).code).toBe("ERANGE");
    },
  );

  it.prop([fc.maxSafeNat()], { numRuns: 200 })(
    "formatSizeShort output parses back to the same number",
    (n) => {
      expect(parseSize(formatSizeShort(n))).toBe(n);
    },
  );
});

describe("formatSize", () => {
  it.each([
    [0, "0 B"],
    [1, "1 B"],
    [1023, "1023 B"],
    [1024, "1 KiB"],
    [4096, "4 KiB"],
    [1536, "1 KiB + 512 B"],
    [1280, "1 KiB + 256 B"],
    [64 * KiB, "64 KiB"],
    [2 * MiB, "2 MiB"],
    [1.5 * MiB, "1 MiB + 512 KiB"],
    [MiB + 4 * KiB, "1 MiB + 4 KiB"],
    [64 * MiB - 64 * KiB, "63 MiB + 960 KiB"],
    [0x10040, "64 KiB + 64 B"],
    [GiB, "1 GiB"],
    [3 * GiB, "3 GiB"],
    [1023 * MiB, "1023 MiB"],
    [TiB, "1 TiB"],
    [2 ** 50, "1 PiB"],
    [2 ** 52, "4 PiB"],
  ])("%d -> %j", (n, text) => {
    expect(formatSize(n)).toBe(text);
  });

  it("does not show an inexact size as a whole unit (3 GiB + 1 byte), nor more than two terms", () => {
    expect(formatSize(3 * GiB + 1)).toBe("3 GiB + 1 B");
    expect(formatSize(1025)).toBe("1 KiB + 1 B");
    expect(formatSize(MiB + 181 * KiB + 647)).toBe("1234567 B");
  });

  it.prop([fc.maxSafeNat()], { numRuns: 300 })("the text is exact", (n) => {
    const text = formatSize(n);
    const terms = text.split(" + ");
    expect(terms.length).toBeLessThanOrEqual(2);
    let sum = 0;
    for (const term of terms) {
      const m = /^(\d+) (B|KiB|MiB|GiB|TiB|PiB)$/.exec(term);
      expect(m).not.toBeNull();
      const unit = { B: 0, KiB: 1, MiB: 2, GiB: 3, TiB: 4, PiB: 5 }[m![2] as "B"];
      if (terms.length === 2) expect(Number(m![1])).toBeLessThan(1024);
      sum += Number(m![1]) * 1024 ** unit;
    }
    expect(sum).toBe(n);
  });
});

describe("formatSizeShort", () => {
  it.each([
    [0, "0"],
    [1, "1"],
    [4096, "4K"],
    [4097, "4097"],
    [1536, "1536"],
    [2 << 20, "2M"],
    [3 * MiB, "3M"],
    [MiB + 4 * KiB, "1028K"],
    [GiB, "1G"],
    [3 * GiB + 1, "3221225473"],
    [TiB, "1T"],
    [2 ** 50, "1P"],
    [5 * 2 ** 50, "5P"],
  ])("%d -> %j", (n, text) => {
    expect(formatSizeShort(n)).toBe(text);
  });
});
