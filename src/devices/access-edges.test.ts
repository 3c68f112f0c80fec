import { fc, test } from "@fast-check/vitest";
import { describe, expect } from "vitest";

import { MemweaveError } from "../base/errors.js";
import { ByteStore } from "../phys/byte-store.js";
import { Cpu } from "./cpu.js";
import { DRAM, machine, RW } from "./machine.testutil.js";

/**
 * The hot path's entries (the byte store, a bus master's accesses) refuse bad arguments with a
 * MemweaveError EINVAL naming the argument, and change nothing: the checks sit where a good
 * call never pays more than a comparison (a bad argument never takes a hit path).
 */
const badAddress = fc.constantFrom<unknown>(
  NaN,
  -1,
  1.5,
  2 ** 53,
  Infinity,
  "0x1000",
  null,
  {},
  [],
);
const badBytes = fc.constantFrom<unknown>(
  "abc",
  [300],
  [-1],
  [1.5],
  null,
  42,
  {},
  new Uint16Array(2),
);
const badBuffer = fc.constantFrom<unknown>(
  "abc",
  [1, 2],
  null,
  undefined,
  42,
  {},
  new Uint16Array(2),
);

function digest(s: ByteStore): string {
  return s
    .materializedPfns()
    .map((pfn) => `${pfn}:${Array.from(s.read(pfn * 4096, new Uint8Array(4096))).join(",")}`)
    .join(";");
}

function expectRefused(f: () => unknown, state: () => string): void {
  const before = state();
  let thrown: unknown;
  try {
    f();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(MemweaveError);
  expect((thrown as MemweaveError).code).toBe("EINVAL");
  expect((thrown as MemweaveError).message).not.toMatch(/0xNaN|\[object Object\]/);
  expect(state()).toBe(before);
}

describe("the byte store's entries", () => {
  const s = new ByteStore();
  s.writeU32(0x8000_0000, 0xdead_beef);
  const state = () => digest(s);
  test.prop([badAddress])("an address that is not one", (pa) => {
    const a = pa as number;
    expectRefused(() => s.read(a, new Uint8Array(4)), state);
    expectRefused(() => s.write(a, Uint8Array.of(1)), state);
    expectRefused(() => s.fill(a, 8, 1), state);
    expectRefused(() => s.copy(a, 0x8000_0000, 8), state);
    expectRefused(() => s.copy(0x8000_0000, a, 8), state);
    expectRefused(() => s.readU8(a), state);
    expectRefused(() => s.readU32(a), state);
    expectRefused(() => s.writeU8(a, 1), state);
    expectRefused(() => s.writeU32(a, 1), state);
    expectRefused(() => s.writeU64(a, 1), state);
  });
  test.prop([badBytes])("data that is not bytes", (data) => {
    expectRefused(() => s.write(0x8000_0000, data as Uint8Array), state);
  });
  test.prop([badBuffer])("an output that is not a Uint8Array", (out) => {
    expectRefused(() => s.read(0x8000_0000, out as Uint8Array), state);
  });
  test.prop([fc.constantFrom(256, -1, 1.5, NaN, 2 ** 32)])("a value out of range", (v) => {
    expectRefused(() => s.writeU8(0x8000_0000, v), state);
    if (!(v >= 0 && v < 2 ** 32 && Number.isInteger(v)))
      expectRefused(() => s.writeU32(0x8000_0000, v), state);
  });
});

describe("a bus master's accesses", () => {
  const m = machine();
  const table = m.table();
  table.map(0x4000_0000, DRAM, 0x10000, RW);
  const cpu = new Cpu(m.platform, { name: "cpu0", ttbr0: table, asid: 1 });
  cpu.write(0x4000_0000, Uint8Array.of(1, 2, 3, 4));
  cpu.read(0x4000_0000, 4); // the entry keeps its page: the hit path is armed
  const state = () => digest(m.platform.store);
  test.prop([badAddress])("an address that is not one", (va) => {
    const a = va as number;
    expectRefused(() => cpu.read(a, 4), state);
    expectRefused(() => cpu.readInto(a, new Uint8Array(4)), state);
    expectRefused(() => cpu.write(a, Uint8Array.of(9)), state);
  });
  test.prop([badBytes])("data that is not bytes", (data) => {
    expectRefused(() => cpu.write(0x4000_0000, data as Uint8Array), state);
  });
  test.prop([badBuffer])("an output that is not a Uint8Array", (out) => {
    expectRefused(() => cpu.readInto(0x4000_0000, out as Uint8Array), state);
  });
  test.prop([fc.constantFrom<unknown>(NaN, -1, 1.5, "4", null, 2 ** 60)])("a bad length", (n) => {
    expectRefused(() => cpu.read(0x4000_0000, n as number), state);
  });
  test.prop([fc.constantFrom<unknown>(null, 42, "x", {})])(
    "a handler that is not a function",
    (h) => {
      expectRefused(() => cpu.addFaultHandler(h as never), state);
    },
  );
  test.prop([fc.constantFrom<unknown>(null, 42, "abc")])("options that are not an object", (o) => {
    expectRefused(() => cpu.read(0x4000_0000, 4, o as never), state);
    expectRefused(() => cpu.write(0x4000_0000, Uint8Array.of(1), o as never), state);
  });
  test.prop([fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 16 })])(
    "an array of bytes is written as bytes, through either path",
    (bytes) => {
      cpu.write(0x4000_0100, bytes as unknown as Uint8Array);
      expect([...cpu.read(0x4000_0100, bytes.length)]).toEqual(bytes);
    },
  );
});
