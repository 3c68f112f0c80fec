import { fc, it } from "@fast-check/vitest";
import { describe, expect, expectTypeOf } from "vitest";

import type { IpaAddr, Iova, PhysAddr, VirtAddr } from "./address.js";
import {
  checkAddress,
  hex,
  hexPad,
  hexRange,
  iova,
  ipaAddr,
  MAX_ADDR,
  physAddr,
  virtAddr,
} from "./address.js";
import type { ErrorCode } from "./errors.js";
import { caught } from "./errors.testutil.js";

const constructors = [
  ["physAddr", physAddr, "physical address"],
  ["ipaAddr", ipaAddr, "IPA"],
  ["virtAddr", virtAddr, "virtual address"],
  ["iova", iova, "IOVA"],
] as const;

describe.each(constructors)("%s", (_name, make, label) => {
  it.each([0, 1, 0x8000_0000, 2 ** 40, 2 ** 52, 2 ** 53 - 1])("accepts %d unchanged", (n) => {
    expect(make(n)).toBe(n);
  });

  it.each([
    [-1, "EINVAL", "-1"],
    [-4096, "EINVAL", "-4096"],
    [1.5, "EINVAL", "1.5"],
    [NaN, "EINVAL", "NaN"],
    [Infinity, "EINVAL", "Infinity"],
    [-Infinity, "EINVAL", "-Infinity"],
    [2 ** 53, "ERANGE", "9007199254740992"],
    [2 ** 60, "ERANGE", String(2 ** 60)],
  ] as Array<[number, ErrorCode, string]>)("refuses %d with %s naming it", (n, code, shown) => {
    const e = caught(() => make(n));
    expect(e.code).toBe(code);
    expect(e.message).toContain(`${label} ${shown}`);
  });

  it("uses the caller's label", () => {
    expect(caught(() => make(-1, "step 2: base")).message).toContain("step 2: base -1");
  });

  it.prop([fc.maxSafeNat()], { numRuns: 100 })("accepts every safe integer", (n) => {
    expect(make(n)).toBe(n);
  });
});

describe("checkAddress", () => {
  it("is silent for valid addresses and names the object otherwise", () => {
    expect(() => checkAddress(0, "x")).not.toThrow();
    expect(() => checkAddress(MAX_ADDR, "x")).not.toThrow();
    const e = caught(() => checkAddress("12" as unknown as number, "region base"));
    expect(e.code).toBe("EINVAL");
    expect(e.message).toContain("region base 12");
  });

  it("MAX_ADDR is 2^53 - 1", () => {
    expect(MAX_ADDR).toBe(2 ** 53 - 1);
  });
});

describe("hex, hexPad, hexRange", () => {
  it.each([
    [0, "0x0"],
    [255, "0xff"],
    [0x8000_0000, "0x80000000"],
    [2 ** 40, "0x10000000000"],
    [Number.MAX_SAFE_INTEGER, "0x1fffffffffffff"],
    [0xdead_beefn, "0xdeadbeef"],
    [0xffff_ffff_ffff_ffffn, "0xffffffffffffffff"],
  ])("hex(%s) = %s", (n, text) => {
    expect(hex(n)).toBe(text);
  });

  it.each([
    [0, 16, "0x0000000000000000"],
    [0x1000, 8, "0x00001000"],
    [0x4000_0000_0703n, 16, "0x0000400000000703"],
    [0x1_2345_6789, 4, "0x123456789"],
  ])("hexPad(%s, %d) = %s", (n, digits, text) => {
    expect(hexPad(n, digits)).toBe(text);
  });

  it.each([
    [0x8000_0000, 0x1000, "0x80000000-0x80000fff"],
    [0, 1, "0x0"], // one byte: its address alone
    [0, 2, "0x0-0x1"],
    [2 ** 40, 2 ** 30, "0x10000000000-0x1003fffffff"],
  ])("hexRange(%d, %d) = %s", (base, size, text) => {
    expect(hexRange(base, size)).toBe(text);
  });
});

describe("brands", () => {
  it("keep address spaces apart at compile time", () => {
    const va: VirtAddr = virtAddr(0x1000);
    const pa: PhysAddr = physAddr(0x1000);
    const ipa: IpaAddr = ipaAddr(0x1000);
    // @ts-expect-error a virtual address is not a physical address
    const bad1: PhysAddr = va;
    // @ts-expect-error a physical address is not a virtual address
    const bad2: VirtAddr = pa;
    // @ts-expect-error an IPA is not a physical address
    const bad3: PhysAddr = ipa;
    // @ts-expect-error a plain number is not an address
    const bad4: PhysAddr = 0x1000;
    // An IOVA is a virtual address, and every address is a number.
    const io: Iova = va;
    const n: number = pa;
    expect([bad1, bad2, bad3, bad4, io, n]).toEqual([
      0x1000, 0x1000, 0x1000, 0x1000, 0x1000, 0x1000,
    ]);
    expectTypeOf<VirtAddr>().not.toEqualTypeOf<PhysAddr>();
    expectTypeOf<Iova>().toEqualTypeOf<VirtAddr>();
    expectTypeOf(physAddr).returns.toEqualTypeOf<PhysAddr>();
  });
});
