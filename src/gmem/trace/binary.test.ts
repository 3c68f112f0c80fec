import { fc, it } from "@fast-check/vitest";
import { describe, expect } from "vitest";

import { expectError } from "../../base/errors.testutil.js";
import { decodeBinaryTrace, encodeBinaryTrace, isBinaryTrace, openBinaryTrace } from "./binary.js";
import { formatCsvTrace, parseCsvTrace } from "./csv.js";
import { uniform } from "./generators.js";
import type { TraceAccess } from "./types.js";
import { collect } from "./types.js";

const hex = (b: Uint8Array): string =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");
const bytes = (s: string): Uint8Array =>
  Uint8Array.from(s.trim().split(/\s+/), (x) => parseInt(x, 16));
const noLine = (list: TraceAccess[]): TraceAccess[] => list.map(({ line: _line, ...a }) => a);

const SMALL: TraceAccess[] = [
  { who: "cpu", op: "w", addr: 0x1000, size: 4, value: Uint8Array.of(10, 11, 12, 13) },
  { who: "gpu0", op: "r", addr: 0x1_0000_2000, size: 8 },
];

// prettier-ignore
const GOLDEN = [
  "4d 57 54 52 01 00 02 00", // magic, version 1, flags 0, 2 names
  "02 00 00 00 00 00 00 00", // 2 records
  "04 00 00 00 00 00 00 00", // 4 value bytes
  "03 63 70 75 04 67 70 75", // "cpu", "gpu…
  "30 00 00 00 00 00 00 00", // …0", padding to 8
  "00 03 04 00 00 00 00 00", // cpu, write + value, size 4, value at 0
  "00 10 00 00 00 00 00 00", //   addr 0x1000
  "01 00 08 00 00 00 00 00", // gpu0, read, size 8
  "00 20 00 00 01 00 00 00", //   addr 0x1_0000_2000
  "0a 0b 0c 0d",             // the value heap
].join(" ");

describe("golden bytes", () => {
  it("encodes the small trace to the documented layout", () => {
    expect(hex(encodeBinaryTrace(SMALL, ["gpu0"]))).toBe(GOLDEN);
    expect(hex(encodeBinaryTrace(SMALL))).toBe(GOLDEN); // names in order of appearance
  });

  it("an empty trace is the header and the cpu name", () => {
    expect(hex(encodeBinaryTrace([]))).toBe(
      "4d 57 54 52 01 00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 03 63 70 75 00 00 00 00",
    );
  });

  it("decodes them back, line = record number", () => {
    const { names, accesses } = decodeBinaryTrace(bytes(GOLDEN));
    expect(names).toEqual(["cpu", "gpu0"]);
    expect(accesses).toEqual(SMALL.map((a, i) => ({ ...a, line: i + 1 })));
    expect(isBinaryTrace(bytes(GOLDEN))).toBe(true);
    expect(isBinaryTrace(new TextEncoder().encode("cpu,r,0\n"))).toBe(false);
  });

  it("reads a view into a larger buffer (a Node Buffer's slice) and copies values out", () => {
    const golden = bytes(GOLDEN);
    const big = new Uint8Array(golden.length + 13);
    big.set(golden, 5);
    const view = big.subarray(5, 5 + golden.length);
    const { accesses } = decodeBinaryTrace(view);
    expect(noLine(accesses)).toEqual(SMALL);
    big.fill(0);
    expect(accesses[0]!.value).toEqual(Uint8Array.of(10, 11, 12, 13));
  });

  it("the cursor streams views of the values and rewinds", () => {
    const t = openBinaryTrace(bytes(GOLDEN));
    expect(t.total).toBe(2);
    const c = t.cursor();
    expect(noLine(collect(c))).toEqual(SMALL);
    c.rewind();
    expect(collect(c, 1)[0]!.line).toBe(1);
  });
});

describe("decode errors name the byte offset", () => {
  const patch = (at: number, ...values: number[]): Uint8Array => {
    const b = bytes(GOLDEN);
    b.set(values, at);
    return b;
  };
  const cases: [string, Uint8Array, string][] = [
    ["short", bytes("4d 57 54"), "t.bin: byte 0 (0x0): the file ends (3 bytes) inside the header"],
    [
      "magic",
      patch(0, 0x4d, 0x5a),
      'byte 0 (0x0): not a memweave binary trace: magic "MWTR" expected, got 4d 5a 54 52',
    ],
    ["version", patch(4, 2), "byte 4 (0x4): version 2 is not supported (this reader knows 1)"],
    ["flags", patch(5, 1), "byte 5 (0x5): header flags 1 are not 0"],
    ["no names", patch(6, 0), "byte 6 (0x6): 0 names"],
    ["count", patch(14, 0x20), "byte 8 (0x8): record count is not below 2^53"],
    ["empty name", patch(24, 0), "byte 24 (0x18): name 0 is empty"],
    ["duplicate", patch(28, 3, 0x63, 0x70, 0x75), 'byte 29 (0x1d): name 1 "cpu" appears twice'],
    ["utf-8", patch(25, 0xff), "byte 25 (0x19): name 0 is not UTF-8"],
    ["padding", patch(33, 1), "byte 33 (0x21): padding byte is not 0"],
    ["who", patch(40, 7), "byte 40 (0x28): record 1: who 7 is not in the name table (2 names)"],
    ["rflags", patch(41, 0x07), "byte 41 (0x29): record 1: unknown flags 0x7"],
    ["size 0", patch(58, 0, 0), "byte 58 (0x3a): record 2: size is 0"],
    [
      "heap",
      patch(44, 1),
      "byte 44 (0x2c): record 1: value at 1, 4 bytes, is beyond the heap (4 bytes)",
    ],
    ["offset", patch(60, 1), "byte 60 (0x3c): record 2: value offset 1 without a value"],
    ["addr", patch(70, 0x20), "byte 64 (0x40): record 2: addr + size goes beyond 2^53"],
    [
      "trailing",
      Uint8Array.of(...bytes(GOLDEN), 0),
      "2 records and 4 value bytes make 76 bytes, the file has 77",
    ],
    [
      "truncated",
      bytes(GOLDEN).subarray(0, 70),
      "byte 70 (0x46): 2 records and 4 value bytes make 76 bytes",
    ],
  ];
  for (const [name, input, message] of cases)
    it(name, () => {
      expectError(() => decodeBinaryTrace(input, "t.bin"), "EINVAL", message);
    });
});

describe("encode", () => {
  it("refuses accesses it cannot hold, naming the access and its line", () => {
    expectError(
      () => encodeBinaryTrace([{ ...SMALL[1]!, line: 7 }], []),
      "EINVAL",
      'access 1 (line 7): who "gpu0" is not cpu or one of: ',
    );
    expectError(
      () => encodeBinaryTrace([{ who: "cpu", op: "w", addr: 0, size: 2, value: Uint8Array.of(1) }]),
      "EINVAL",
      "access 1: value has 1 bytes, size is 2",
    );
    expectError(
      () => encodeBinaryTrace([{ who: "cpu", op: "r", addr: 0, size: 0 }]),
      "EINVAL",
      "size 0",
    );
    expectError(() => encodeBinaryTrace([], ["bad name"]), "EINVAL", "not a name");
    const many = Array.from({ length: 255 }, (_, i) => `d${i}`);
    expectError(() => encodeBinaryTrace([], many), "EINVAL", "256 names; the format holds 255");
  });

  it("encodes a generator by two passes, as its array", () => {
    const opts = {
      start: 0,
      length: 1 << 24,
      count: 300,
      writeRatio: 0.5,
      who: { cpu: 1, gpu0: 1 },
    };
    const a = encodeBinaryTrace(uniform(opts), ["gpu0"]);
    expect(a).toEqual(encodeBinaryTrace(collect(uniform(opts)), ["gpu0"]));
    expect(noLine(decodeBinaryTrace(a).accesses)).toEqual(collect(uniform(opts)));
  });
});

const access = fc
  .record({
    who: fc.constantFrom("cpu", "gpu0", "npu-1"),
    op: fc.constantFrom("r" as const, "w" as const),
    addr: fc.nat({ max: 2 ** 53 - 64 }),
    size: fc.integer({ min: 1, max: 64 }),
    withValue: fc.boolean(),
    seed: fc.nat(),
  })
  .map(({ withValue, seed, ...a }): TraceAccess => {
    if (!withValue) return a;
    const value = Uint8Array.from({ length: a.size }, (_, i) => (seed >>> (i % 24)) & 0xff);
    return { ...a, value };
  });

describe("round trip", () => {
  it.prop([fc.array(access, { maxLength: 40 })], { numRuns: 150 })(
    "csv -> accesses -> binary -> accesses is the identity (lines aside)",
    (list) => {
      const parsed = parseCsvTrace(formatCsvTrace(list), "p.csv", { devices: ["gpu0", "npu-1"] });
      expect(parsed.ok).toBe(true);
      if (!parsed.ok) return;
      expect(noLine(parsed.accesses)).toEqual(list);
      const encoded = encodeBinaryTrace(parsed.accesses, parsed.devices);
      const decoded = decodeBinaryTrace(encoded);
      expect(noLine(decoded.accesses)).toEqual(list);
      expect(noLine(collect(openBinaryTrace(encoded).cursor()))).toEqual(list);
      expect(encodeBinaryTrace(decoded.accesses, parsed.devices)).toEqual(encoded);
    },
  );
});
