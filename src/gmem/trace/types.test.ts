import { describe, expect, it } from "vitest";

import { expectError } from "../../base/errors.testutil.js";
import type { TraceAccess } from "./types.js";
import { arrayCursor, checkAccess, collect, isTraceName, iterate, newAccess } from "./types.js";

const LIST: TraceAccess[] = [
  { who: "cpu", op: "w", addr: 16, size: 2, value: Uint8Array.of(1, 2), line: 3 },
  { who: "gpu0", op: "r", addr: 32, size: 8 },
];

describe("cursors", () => {
  it("arrayCursor fills out, clears absent fields, ends and rewinds", () => {
    const c = arrayCursor(LIST);
    expect(c.total).toBe(2);
    const out = newAccess();
    expect(c.next(out)).toBe(true);
    expect(out).toEqual(LIST[0]);
    expect(c.next(out)).toBe(true);
    expect(out.value).toBeUndefined();
    expect(out.line).toBeUndefined();
    expect(c.next(out)).toBe(false);
    c.rewind();
    expect(collect(c)).toEqual(LIST);
  });

  it("iterate yields fresh objects; collect stops at a limit", () => {
    const got = [...iterate(arrayCursor(LIST))];
    expect(got).toEqual(LIST);
    expect(got[0]).not.toBe(LIST[0]);
    expect(collect(arrayCursor(LIST), 1)).toEqual([LIST[0]]);
  });
});

describe("checkAccess", () => {
  it("accepts good accesses and names the field of a bad one", () => {
    for (const a of LIST) checkAccess(a);
    checkAccess({ who: "cpu", op: "r", addr: 2 ** 53 - 8, size: 8 });
    const bad: [Partial<TraceAccess>, string, string][] = [
      [{ who: "" }, "who", 'who "" is not a name'],
      [{ op: "x" as "r" }, "op", 'op must be "r" or "w", got "x"'],
      [{ size: 0 }, "size", "size 0 is not in 1..65535"],
      [{ addr: -1 }, "addr", "addr -1"],
      [{ addr: 2 ** 53 - 4 }, "addr", "room for 8 bytes"],
      [{ value: Uint8Array.of(1) }, "value", "value has 1 bytes, size is 8"],
    ];
    for (const [patch, field, text] of bad) {
      const e = expectError(() => checkAccess({ ...LIST[1]!, ...patch }, "a"), "EINVAL", text);
      expect(e.field).toBe(field);
    }
    expect(isTraceName("gpu-0.1")).toBe(true);
    expect(isTraceName("a,b")).toBe(false);
  });
});
