/**
 * The codec's buffers: zeroed, the caller's alone, and 8-byte aligned when carved from a slab.
 */
import { describe, expect, it } from "vitest";

import { copyBytes, newBytes } from "./bytes.js";

describe("newBytes", () => {
  it("gives zeroed buffers of the size asked for, small and large", () => {
    for (const n of [0, 1, 64, 65, 8216, 16 * 1024, 16 * 1024 + 1, 100_000]) {
      const b = newBytes(n);
      expect(b.length).toBe(n);
      expect(b.every((x) => x === 0)).toBe(true);
    }
  });

  it("never hands out a byte twice", () => {
    const bufs = Array.from({ length: 100 }, (_, i) => newBytes(65 + 97 * i));
    bufs.forEach((b, i) => b.fill(i + 1));
    bufs.forEach((b, i) => expect(b.every((x) => x === i + 1)).toBe(true));
  });

  it("aligns a slab buffer to 8 bytes", () => {
    for (const n of [65, 99, 233, 4097]) expect(newBytes(n).byteOffset % 8).toBe(0);
  });
});

describe("copyBytes", () => {
  it("copies the bytes from an offset on, small and large, into a buffer of its own", () => {
    for (const n of [8, 12, 72, 73, 240]) {
      const src = Uint8Array.from({ length: n }, (_, i) => i & 0xff);
      const copy = copyBytes(src, 8);
      expect(Array.from(copy)).toEqual(Array.from(src.subarray(8)));
      src.fill(0xff);
      expect(copy.every((x, i) => x === ((i + 8) & 0xff))).toBe(true);
    }
  });
});
