import { fc, it as prop } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";

import { MemweaveError } from "./errors.js";
import { expectError } from "./errors.testutil.js";
import {
  allocBytes,
  checkAddress,
  checkArray,
  checkBoolean,
  checkBuffer,
  checkBytes,
  checkFunction,
  checkInstance,
  checkInteger,
  checkLength,
  checkName,
  checkObject,
  checkOneOf,
  checkOptionalInteger,
  checkOptionalName,
  checkOptions,
  checkString,
  describeValue,
} from "./validate.js";

describe("describeValue", () => {
  it.each<[unknown, string]>([
    [NaN, "NaN"],
    [-1, "-1"],
    [-0, "-0"],
    [1.5, "1.5"],
    [Infinity, "Infinity"],
    [2 ** 53, "9007199254740992"],
    ["abc", '"abc"'],
    ["", '""'],
    [null, "null"],
    [undefined, "undefined"],
    [true, "true"],
    [10n, "10n"],
    [Symbol("s"), "Symbol(s)"],
    [() => 1, "a function"],
    [{}, "an object"],
    [[1, 300], "[1, 300]"],
    [[1, 2, 3, 4, 5, 6], "[1, 2, 3, 4, … (6 items)]"],
    [new Uint16Array(2), "a Uint16Array"],
  ])("%s is shown as %s", (v, shown) => {
    expect(describeValue(v)).toBe(shown);
  });

  it("cuts long strings", () => {
    expect(describeValue("x".repeat(100))).toBe(`"${"x".repeat(40)}…"`);
  });
});

describe("checkAddress and checkLength", () => {
  it("return a non-negative safe integer as it is", () => {
    for (const v of [0, 1, 4096, Number.MAX_SAFE_INTEGER]) {
      expect(checkAddress("f", "pa", v)).toBe(v);
      expect(checkLength("f", "size", v)).toBe(v);
    }
  });

  it("refuse anything else with EINVAL naming the entry, the argument and the value", () => {
    const e = expectError(
      () => checkAddress("write", "pa", NaN),
      "EINVAL",
      "write: pa must be a non-negative safe integer, got NaN",
    );
    expect(e.field).toBe("pa");
    expect(e.message).toBe("EINVAL: write: pa must be a non-negative safe integer, got NaN");
    for (const v of [-1, 1.5, 2 ** 53, Infinity, "4096", null, undefined, {}, [4096], 10n])
      expectError(() => checkLength("read", "size", v), "EINVAL", "read: size must be");
  });

  prop.prop([fc.anything()])("never throw anything but a MemweaveError", (v) => {
    try {
      checkAddress("f", "a", v);
      expect(Number.isSafeInteger(v) && (v as number) >= 0).toBe(true);
    } catch (e) {
      expect(e).toBeInstanceOf(MemweaveError);
    }
  });
});

describe("checkInteger", () => {
  it("checks the range", () => {
    expect(checkInteger("f", "n", 5, 0, 10)).toBe(5);
    expect(checkInteger("f", "n", -1, -1)).toBe(-1);
    expectError(
      () => checkInteger("fill", "value", 300, 0, 255),
      "EINVAL",
      "be an integer in 0..255, got 300",
    );
    expectError(() => checkInteger("f", "n", 0, 1), "EINVAL", "be a safe integer of at least 1");
    expect(checkOptionalInteger("f", "n", undefined)).toBeUndefined();
    expectError(() => checkOptionalInteger("f", "n", null), "EINVAL", "got null");
  });
});

describe("checkBytes", () => {
  it("returns a Uint8Array itself, and an array of bytes as a new Uint8Array", () => {
    const u = new Uint8Array([1, 2]);
    expect(checkBytes("write", "data", u)).toBe(u);
    expect(checkBytes("write", "data", [0, 255, 7])).toEqual(new Uint8Array([0, 255, 7]));
    expect(checkBytes("write", "data", [])).toEqual(new Uint8Array(0));
  });

  it("refuses items that are no byte (never truncating them) and anything that is no byte data", () => {
    expectError(
      () => checkBytes("write", "data", [1, 300]),
      "EINVAL",
      "write: data[1] must be a byte (an integer 0..255), got 300",
    );
    for (const bad of [[-1], [1.5], [NaN], ["1"]])
      expectError(() => checkBytes("write", "data", bad), "EINVAL", "data[0]");
    for (const bad of ["abc", 42, null, undefined, {}, { length: 2 }, new Uint16Array(2)])
      expectError(
        () => checkBytes("write", "data", bad),
        "EINVAL",
        "write: data must be a Uint8Array or an array of integers 0..255",
      );
  });

  it("checkBuffer takes only a Uint8Array", () => {
    const u = new Uint8Array(4);
    expect(checkBuffer("readInto", "out", u)).toBe(u);
    expectError(() => checkBuffer("readInto", "out", [0]), "EINVAL", "out must be a Uint8Array");
  });

  it("allocBytes is ENOMEM, not a RangeError, for a buffer the host cannot make", () => {
    expect(allocBytes("read", 4)).toEqual(new Uint8Array(4));
    expectError(() => allocBytes("read", 2 ** 52), "ENOMEM", "read: cannot allocate");
  });
});

describe("names, strings, booleans, functions, instances, enumerations", () => {
  it("checkName wants a non-empty string", () => {
    expect(checkName("target", "name", "system")).toBe("system");
    for (const bad of ["", 42, null, undefined, {}, Symbol("s")])
      expectError(
        () => checkName("target", "name", bad),
        "EINVAL",
        "target: name must be a non-empty string",
      );
    expect(checkOptionalName("f", "name", undefined)).toBeUndefined();
    expectError(() => checkOptionalName("f", "name", ""), "EINVAL", 'got ""');
    expect(checkString("f", "s", "")).toBe("");
    expectError(() => checkString("f", "s", 1), "EINVAL", "be a string");
  });

  it("checkBoolean, checkFunction, checkInstance, checkOneOf", () => {
    checkBoolean("f", "b", true);
    checkBoolean("f", "b", undefined);
    expectError(() => checkBoolean("f", "b", undefined, false), "EINVAL", "be a boolean");
    expectError(() => checkBoolean("f", "b", 1), "EINVAL", "be a boolean, got 1");
    checkFunction("f", "h", () => {});
    expectError(() => checkFunction("f", "h", {}), "EINVAL", "be a function, got an object");
    const m = new Map();
    expect(checkInstance("f", "m", m, Map)).toBe(m);
    expectError(() => checkInstance("f", "m", {}, Map), "EINVAL", "m must be a Map");
    expect(checkOneOf("f", "op", "r", ["r", "w"])).toBe("r");
    expectError(
      () => checkOneOf("f", "op", "x", ["r", "w"]),
      "EINVAL",
      'be one of "r", "w", got "x"',
    );
  });
});

describe("objects and options", () => {
  it("checkObject refuses null, arrays and non-objects, and unknown keys when given", () => {
    const o = { a: 1 };
    expect(checkObject("f", "spec", o)).toBe(o);
    expect(checkObject("f", "spec", o, ["a", "b"])).toBe(o);
    for (const bad of [null, undefined, 42, "x", []])
      expectError(() => checkObject("f", "spec", bad as never), "EINVAL", "spec must be an object");
    const e = expectError(
      () => checkObject("f", "options", { c: 1 }, ["a", "b"]),
      "EINVAL",
      'f: options has no option "c" (have: a, b)',
    );
    expect(e.field).toBe("options.c");
  });

  it("checkOptions takes undefined as {}", () => {
    expect(checkOptions("f", "options", undefined)).toEqual({});
    expectError(() => checkOptions("f", "options", null), "EINVAL", "got null");
  });

  it("checkArray", () => {
    const a = [1];
    expect(checkArray("f", "ranges", a)).toBe(a);
    expectError(() => checkArray("f", "ranges", "x" as never), "EINVAL", "ranges must be an array");
  });
});
