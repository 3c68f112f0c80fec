import { describe, expect, it } from "vitest";

import type { ErrorCode } from "./errors.js";
import { ERRNO, ERROR_CODES, fail, isErrorCode, isMemweaveError, MemweaveError } from "./errors.js";

// Linux include/uapi/asm-generic/errno-base.h and errno.h.
const LINUX: Array<[ErrorCode, number]> = [
  ["EPERM", 1],
  ["ENOENT", 2],
  ["EAGAIN", 11],
  ["ENOMEM", 12],
  ["EFAULT", 14],
  ["EBUSY", 16],
  ["EEXIST", 17],
  ["ENODEV", 19],
  ["EINVAL", 22],
  ["ENOSPC", 28],
  ["ERANGE", 34],
  ["EOVERFLOW", 75],
];

describe("ERRNO", () => {
  it.each(LINUX)("%s is %d", (code, errno) => {
    expect(ERRNO[code]).toBe(errno);
    const e = new MemweaveError(code, "x");
    expect(e.errno).toBe(errno);
    expect(e.negErrno).toBe(-errno);
  });

  it("holds exactly these codes, listed in errno order", () => {
    expect(ERROR_CODES).toEqual(LINUX.map(([c]) => c));
    const numbers = ERROR_CODES.map((c) => ERRNO[c]);
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    expect(new Set(numbers).size).toBe(numbers.length);
  });

  it("isErrorCode recognizes codes and nothing else", () => {
    for (const c of ERROR_CODES) expect(isErrorCode(c)).toBe(true);
    for (const s of ["", "einval", "EIO", "toString", "constructor", "__proto__", "hasOwnProperty"])
      expect(isErrorCode(s)).toBe(false);
  });
});

describe("MemweaveError", () => {
  it("formats its message as CODE: detail", () => {
    const e = new MemweaveError("ENOMEM", 'target "system": no free block of 64 KiB');
    expect(e.message).toBe('ENOMEM: target "system": no free block of 64 KiB');
    expect(e.detail).toBe('target "system": no free block of 64 KiB');
    expect(e.code).toBe("ENOMEM");
    expect(e.name).toBe("MemweaveError");
    expect(String(e)).toBe('MemweaveError: ENOMEM: target "system": no free block of 64 KiB');
    expect(e).toBeInstanceOf(Error);
    expect(e).toBeInstanceOf(MemweaveError);
    expect(e.stack).toContain("ENOMEM");
  });

  it("serializes to plain JSON with code, errno and message", () => {
    const e = new MemweaveError("EBUSY", "device smmu0 is busy");
    expect(e.toJSON()).toEqual({
      code: "EBUSY",
      errno: 16,
      message: "EBUSY: device smmu0 is busy",
    });
    expect(JSON.parse(JSON.stringify(e))).toEqual({
      code: "EBUSY",
      errno: 16,
      message: "EBUSY: device smmu0 is busy",
    });
    expect(JSON.parse(JSON.stringify({ error: e }))).toEqual({ error: e.toJSON() });
  });
});

describe("fail", () => {
  it("throws a MemweaveError with the code and detail", () => {
    expect(() => fail("EPERM", "vm 3 may not donate")).toThrow(MemweaveError);
    expect(() => fail("EPERM", "vm 3 may not donate")).toThrow("EPERM: vm 3 may not donate");
    try {
      fail("EOVERFLOW", "count 70000");
    } catch (e) {
      expect(isMemweaveError(e, "EOVERFLOW")).toBe(true);
      expect((e as MemweaveError).negErrno).toBe(-75);
    }
    expect.assertions(4);
  });
});

describe("isMemweaveError", () => {
  const e = new MemweaveError("EINVAL", "bad");

  it("recognizes the type, with or without a code", () => {
    expect(isMemweaveError(e)).toBe(true);
    expect(isMemweaveError(e, "EINVAL")).toBe(true);
    expect(isMemweaveError(e, "ENOMEM")).toBe(false);
  });

  it.each([
    new Error("EINVAL: bad"),
    { code: "EINVAL", errno: 22, message: "EINVAL: bad" },
    e.toJSON(),
    "EINVAL",
    null,
    undefined,
  ])("refuses look-alikes: %j", (x) => {
    expect(isMemweaveError(x)).toBe(false);
    expect(isMemweaveError(x, "EINVAL")).toBe(false);
  });
});
