import { describe, expect, it } from "vitest";

import { bytesToHex, formatCsvTrace, formatProblem, parseCsvTrace } from "./csv.js";
import type { CsvTraceResult } from "./csv.js";
import type { TraceAccess } from "./types.js";

function accesses(r: CsvTraceResult): TraceAccess[] {
  if (!r.ok) throw new Error(r.problems.map(formatProblem).join("\n"));
  return r.accesses;
}

function problems(text: string, devices?: string[]): string[] {
  const r = parseCsvTrace(text, "trace.csv", devices ? { devices } : {});
  if (r.ok) throw new Error("expected problems");
  return r.problems.map(formatProblem);
}

describe("parseCsvTrace", () => {
  it("reads fields, defaults, comments, blank lines, a header and CRLF", () => {
    const text = [
      "\uFEFF# a trace", // 1
      "who, op, addr, size, value", // 2: header
      "", // 3
      "cpu,w,0x1000,4,0a0B0c0d   # trailing comment", // 4
      "  gpu0 , r , 4096 ", // 5
      "gpu0,r,0X2000,16\r", // 6
      "cpu,w,8,,", // 7: empty size and value
      "   # indented comment", // 8
      "npu,r,0x10,1,ff", // 9
    ].join("\n");
    const r = parseCsvTrace(text, "t.csv");
    expect(accesses(r)).toEqual([
      { who: "cpu", op: "w", addr: 0x1000, size: 4, value: Uint8Array.of(10, 11, 12, 13), line: 4 },
      { who: "gpu0", op: "r", addr: 4096, size: 8, line: 5 },
      { who: "gpu0", op: "r", addr: 0x2000, size: 16, line: 6 },
      { who: "cpu", op: "w", addr: 8, size: 8, line: 7 },
      { who: "npu", op: "r", addr: 16, size: 1, value: Uint8Array.of(255), line: 9 },
    ]);
    expect(r.ok && r.devices).toEqual(["gpu0", "npu"]);
  });

  it("accepts a header that is a prefix of the full one, only as the first line", () => {
    expect(accesses(parseCsvTrace("WHO,OP,ADDR\ncpu,r,0\n"))).toHaveLength(1);
    expect(problems("cpu,r,0\nwho,op,addr\n")).toEqual([
      'trace.csv:2: op must be "r" or "w", got "op"',
      'trace.csv:2: addr must be hex (0x...) or decimal, got "addr"',
    ]);
  });

  it("an empty trace is fine", () => {
    expect(accesses(parseCsvTrace("# nothing\n\n"))).toEqual([]);
    expect(accesses(parseCsvTrace(""))).toEqual([]);
  });

  it("reports every bad field of every line as file:line, and refuses the trace", () => {
    const text = [
      "cpu,x,0x10", // 1
      "cpu,r", // 2
      "cpu,r,0x10,8,0011", // 3
      "cpu,r,zz,0", // 4
      ",w,0x1g", // 5
      "cpu,w,0x10,2,0x0102", // 6
      "cpu,w,0x10,2,abc", // 7
      "cpu,r,9007199254740992", // 8
      "cpu,r,9007199254740990,4", // 9
      "cpu,r,1,2,3,4,5,6", // 10
      "gpu0,r,0", // 11: fine
      "cp u,r,0", // 12
      "cpu,r,0,65536", // 13
    ].join("\n");
    expect(problems(text)).toEqual([
      'trace.csv:1: op must be "r" or "w", got "x"',
      "trace.csv:2: expected who,op,addr[,size[,value]] (3 to 5 fields), got 2 field(s)",
      "trace.csv:3: value has 2 byte(s) but size is 8 (a value is exactly size bytes)",
      'trace.csv:4: addr must be hex (0x...) or decimal, got "zz"',
      'trace.csv:4: size must be a number of bytes in 1..65535, got "0"',
      'trace.csv:5: who is empty (expected "cpu" or a device name)',
      'trace.csv:5: addr must be hex (0x...) or decimal, got "0x1g"',
      'trace.csv:6: value is bytes in address order, without 0x (e.g. "0a0b0c0d"), got "0x0102"',
      'trace.csv:7: value must be hex bytes, two digits a byte (e.g. "0a0b0c0d"), got "abc"',
      "trace.csv:8: addr 9007199254740992 is not below 2^53",
      "trace.csv:9: addr 9007199254740990 + size 4 goes beyond 2^53",
      "trace.csv:10: expected who,op,addr[,size[,value]] (3 to 5 fields), got 8 field(s)",
      'trace.csv:12: who "cp u" is not a name (no spaces)',
      'trace.csv:13: size must be a number of bytes in 1..65535, got "65536"',
    ]);
  });

  it("checks devices when given, with a suggestion", () => {
    expect(accesses(parseCsvTrace("cpu,r,0\ngpu0,w,8\n", "t", { devices: ["gpu0"] }))).toHaveLength(
      2,
    );
    expect(problems("gpu1,r,0\nGPU0,r,0\nxyzzy,r,0\n", ["gpu0"])).toEqual([
      'trace.csv:1: unknown device "gpu1", did you mean "gpu0"? (have: cpu, gpu0)',
      'trace.csv:2: unknown device "GPU0", did you mean "gpu0"? (have: cpu, gpu0)',
      'trace.csv:3: unknown device "xyzzy" (have: cpu, gpu0)',
    ]);
  });

  it("keeps the first problems and counts the rest", () => {
    const text = "cpu,x,0\n".repeat(120);
    const r = parseCsvTrace(text, "big.csv");
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toHaveLength(50);
    expect(r.omitted).toBe(70);
    expect(r.problems[49]).toEqual({
      file: "big.csv",
      line: 50,
      message: 'op must be "r" or "w", got "x"',
    });
    const few = parseCsvTrace(text, "big.csv", { maxProblems: 3 });
    expect(!few.ok && [few.problems.length, few.omitted]).toEqual([3, 117]);
  });
});

describe("formatCsvTrace", () => {
  it("writes what parseCsvTrace reads back", () => {
    const list: TraceAccess[] = [
      { who: "cpu", op: "w", addr: 0xdead_beef_00, size: 3, value: Uint8Array.of(0, 1, 0xfe) },
      { who: "gpu0", op: "r", addr: 0, size: 8 },
    ];
    const text = formatCsvTrace(list);
    expect(text).toBe("who,op,addr,size,value\ncpu,w,0xdeadbeef00,3,0001fe\ngpu0,r,0x0,8\n");
    expect(accesses(parseCsvTrace(text)).map(({ line: _line, ...a }) => a)).toEqual(list);
    expect(bytesToHex(Uint8Array.of(1, 171))).toBe("01ab");
  });
});
