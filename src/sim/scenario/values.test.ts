import { describe, expect, it } from "vitest";
import { fc, test } from "@fast-check/vitest";

import { isMemweaveError } from "../../base/errors.js";
import { closest, hexBytes, showSize, showValue } from "./format.js";
import {
  addressSchema,
  dataSchema,
  parseAddress,
  parseHexBytes,
  protSchema,
  showAddress,
  sizeSchema,
} from "./values.js";
import { PROT } from "../../mmu/prot.js";

describe("sizes", () => {
  it("accepts numbers and the size strings of parseSize", () => {
    expect(sizeSchema.parse(4096)).toBe(4096);
    expect(sizeSchema.parse("4K")).toBe(4096);
    expect(sizeSchema.parse("64KiB")).toBe(65536);
    expect(sizeSchema.parse("0x8000_0000")).toBe(0x8000_0000);
    expect(sizeSchema.parse("1G")).toBe(1 << 30);
  });

  it("refuses fractions, negatives, other types and values beyond 2^53, saying what it expected", () => {
    const message = (v: unknown) => sizeSchema.safeParse(v).error?.issues[0]?.message;
    expect(message("4.5K")).toBe('expected a size like 4K, 0x1000 or 65536, got "4.5K"');
    expect(message(-1)).toBe("expected a size like 4K, 0x1000 or 65536, got -1");
    expect(message(1.5)).toBe("expected a size like 4K, 0x1000 or 65536, got 1.5");
    expect(message(true)).toBe("expected a size like 4K, 0x1000 or 65536, got true");
    expect(message("0x1_0000_0000_0000_0000")).toMatch(/not below 2\^53/);
  });

  test.prop([
    fc.nat({ max: 1 << 20 }),
    fc.constantFrom("", "K", "KiB", "kb", "M", "MiB", "G", "B", " K", " MiB"),
  ])("every size string parseSize accepts passes the JSON Schema pattern too", (n, unit) => {
    const grouped = String(n).replace(/\B(?=(\d{3})+$)/g, "_");
    for (const text of [`${n}${unit}`, `${grouped}${unit}`, `0x${n.toString(16)}${unit}`])
      expect(sizeSchema.safeParse(text).success, text).toBe(true);
  });

  test.prop([fc.nat()])("a number and its hex string are the same size", (n) => {
    expect(sizeSchema.parse("0x" + n.toString(16))).toBe(sizeSchema.parse(n));
  });
});

describe("addresses", () => {
  it("parses absolute addresses and allocation names with offsets", () => {
    expect(parseAddress(0x1000)).toEqual({ kind: "absolute", pa: 0x1000 });
    expect(parseAddress("0x8000_1000")).toEqual({ kind: "absolute", pa: 0x8000_1000 });
    expect(parseAddress("4K")).toEqual({ kind: "absolute", pa: 4096 });
    expect(parseAddress("buf")).toEqual({ kind: "allocation", name: "buf", offset: 0 });
    expect(parseAddress("buf+0x10")).toEqual({ kind: "allocation", name: "buf", offset: 16 });
    expect(parseAddress("buf + 4K")).toEqual({ kind: "allocation", name: "buf", offset: 4096 });
    expect(parseAddress("frame_1.y - 16")).toEqual({
      kind: "allocation",
      name: "frame_1.y",
      offset: -16,
    });
  });

  it("refuses what is neither", () => {
    for (const bad of ["buf+", "buf + 4.5K", "-4K", "buf*2", "", "+buf"]) {
      expect(() => parseAddress(bad), bad).toThrow();
      const r = addressSchema.safeParse(bad);
      expect(r.success).toBe(false);
      expect(r.error?.issues[0]?.message).toMatch(/^expected an address like 0x80000000, buf/);
    }
    try {
      parseAddress("buf*2");
    } catch (e) {
      expect(isMemweaveError(e, "EINVAL")).toBe(true);
    }
  });

  it("shows addresses as written, normalized", () => {
    expect(showAddress(parseAddress("buf + 4K"))).toBe("buf+0x1000");
    expect(showAddress(parseAddress("buf-16"))).toBe("buf-0x10");
    expect(showAddress(parseAddress("0x8000_0000"))).toBe("0x80000000");
  });
});

describe("data", () => {
  it("accepts hex with or without spaces, text and byte lists", () => {
    expect([...dataSchema.parse("de ad be ef")]).toEqual([0xde, 0xad, 0xbe, 0xef]);
    expect([...dataSchema.parse("DEADBEEF")]).toEqual([0xde, 0xad, 0xbe, 0xef]);
    expect([...dataSchema.parse({ text: "hi" })]).toEqual([0x68, 0x69]);
    expect([...dataSchema.parse({ bytes: [1, 2, 255] })]).toEqual([1, 2, 255]);
  });

  it("refuses odd digits, non-hex, empty data and bytes out of range", () => {
    expect(parseHexBytes("abc")).toBeUndefined();
    expect(parseHexBytes("zz")).toBeUndefined();
    expect(dataSchema.safeParse("").success).toBe(false);
    expect(dataSchema.safeParse({ text: "" }).error?.issues[0]?.message).toBe(
      "expected at least one byte",
    );
    const r = dataSchema.safeParse({ bytes: [1, 256] });
    expect(r.error?.issues[0]?.path).toEqual(["bytes", 1]);
    expect(r.error?.issues[0]?.message).toBe("expected a byte (0..255), got 256");
    expect(dataSchema.safeParse(5).error?.issues[0]?.message).toMatch(
      /^expected data: a hex string/,
    );
  });
});

describe("formatting", () => {
  it("shows sizes exactly", () => {
    expect(showSize(65536)).toBe("64 KiB");
    expect(showSize(0x112000)).toBe("1 MiB + 72 KiB");
    expect(showSize(0x100001)).toBe("1 MiB + 1 B");
    expect(showSize(0x10040)).toBe("64 KiB + 64 B");
    expect(showSize(0x123456)).toBe("1193046 B");
    expect(hexBytes(new Uint8Array([1, 2, 3]), 2)).toBe("01 02 …");
  });

  it("shows values in messages", () => {
    expect(showValue("x")).toBe('"x"');
    expect(showValue(undefined)).toBe("nothing");
    expect(showValue([1])).toBe("a list");
    expect(showValue({})).toBe("a map");
  });

  it("suggests close names only", () => {
    expect(closest("szie", ["size", "target"])).toBe("size");
    expect(closest("allocate", ["alloc", "free"])).toBe("alloc");
    expect(closest("Size", ["size"])).toBe("size");
    expect(closest("banana", ["size", "target"])).toBeUndefined();
  });
});

describe("prot strings", () => {
  it("become Linux IOMMU_* flags (execute-never unless x)", () => {
    expect(protSchema.parse("rw")).toBe(PROT.READ | PROT.WRITE | PROT.NOEXEC);
    expect(protSchema.parse("r")).toBe(PROT.READ | PROT.NOEXEC);
    expect(protSchema.parse("RWXC")).toBe(PROT.READ | PROT.WRITE | PROT.CACHE);
    expect(protSchema.parse("rwmp")).toBe(
      PROT.READ | PROT.WRITE | PROT.MMIO | PROT.PRIV | PROT.NOEXEC,
    );
  });

  it("refuse unknown letters, no access, and MMIO with cacheable, saying why", () => {
    const message = (v: unknown) => protSchema.safeParse(v).error?.issues[0]?.message;
    const start = 'expected a prot like "rw", "r", "rwx" or "rwc" (letters r w x c m p), got';
    expect(message("rq")).toBe(`${start} "rq"`);
    expect(message("")).toBe(`${start} ""`);
    expect(message(6)).toBe(`${start} 6`);
    expect(message("xc")).toBe(`${start} "xc" (it grants neither r nor w)`);
    expect(message("rmc")).toBe(`${start} "rmc" (MMIO and cacheable exclude each other)`);
  });
});
