/**
 * The replay: the built-in platform, settings by key, the replay loop's counters, checks and
 * errors, generated traces from specs, and trace files opened by format.
 */
import { describe, expect, it } from "vitest";

import { isMemweaveError } from "../base/errors.js";
import { encodeBinaryTrace } from "./trace/binary.js";
import { openTrace, scanBounds } from "./trace/open.js";
import {
  DEFAULT_TRACE_START,
  formatTraceSpec,
  generateTrace,
  parseCount,
  parseTraceSpec,
} from "./trace/spec.js";
import { arrayCursor, collect } from "./trace/types.js";
import type { TraceAccess } from "./trace/types.js";
import {
  choosePolicy,
  createReplayMachine,
  offsetCursor,
  REPLAY_COUNTERS,
  replayTrace,
  splitSettings,
} from "./replay.js";
import { compareTable, countersTable, groupDigits, timeTable } from "./replay-report.js";
import { HPAGE } from "./types.js";

const M = 2 ** 20;
const BASE = DEFAULT_TRACE_START;

const SMALL_CSV = `who,op,addr,size,value
cpu,w,0x1000000000,4,deadbeef
cpu,w,0x1000200000,8,0102030405060708
gpu0,r,0x1000000000,4,deadbeef
gpu0,w,0x1000000010,2,cafe
gpu0,r,0x1000200000,8,0102030405060708
gpu0,w,0x1000400000,8
gpu0,r,0x1000400000,8,0000000000000000
cpu,r,0x1000000010,2,cafe
cpu,r,0x1000400000,8,0000000000000000
gpu0,r,0x1000000000,4,deadbeef
`;

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (isMemweaveError(e)) return e.message;
    throw e;
  }
  throw new Error("expected a MemweaveError");
}

function opened(text: string) {
  const t = openTrace(new TextEncoder().encode(text), "t.csv", { devices: ["gpu0"] });
  if (!t.ok) throw new Error(t.lines.join("\n"));
  return t;
}

describe("createReplayMachine", () => {
  it("maps the trace's addresses, rounded out to 2 MiB, at the lowest one rounded down", () => {
    const m = createReplayMachine({ bounds: { start: BASE + 0x1234, end: BASE + 5 * M + 1 } });
    expect(m.mapping).toEqual({ start: BASE, size: 6 * M });
    expect(m.process.vmas()).toEqual([
      expect.objectContaining({ start: BASE, end: BASE + 6 * M, peerShared: true }),
    ]);
    expect(m.deviceMemory).toBe(1024 * M);
    expect(m.hostMemory).toBe(1024 * M);
    expect(m.gmem.hnodes().map((h) => h.size)).toEqual([512]);
    expect(m.dev.name).toBe("gpu0");
    expect(m.policy.evictBatch).toBe(16);
  });

  it("sizes host memory to the mapping when it is larger than 1 GiB", () => {
    const m = createReplayMachine({
      bounds: { start: BASE, end: BASE + 3 * 1024 * M },
      deviceMemory: 64 * M,
    });
    expect(m.hostMemory).toBe(3 * 1024 * M);
    expect(m.gmem.hnodes()[0]!.size).toBe(32);
  });

  it("refuses bad memory sizes, empty bounds and addresses beyond 2^47", () => {
    expect(
      errorOf(() => createReplayMachine({ bounds: { start: 0, end: 8 }, deviceMemory: 3 * M })),
    ).toMatch(/^EINVAL: deviceMemory 3 MiB is not a multiple of 2 MiB/);
    expect(errorOf(() => createReplayMachine({ bounds: { start: 8, end: 8 } }))).toMatch(
      /not a range/,
    );
    expect(
      errorOf(() => createReplayMachine({ bounds: { start: 2 ** 47, end: 2 ** 47 + 8 } })),
    ).toMatch(/beyond the 48-bit user range/);
  });

  it("takes cost parameters and policy switches by key", () => {
    const m = createReplayMachine({
      bounds: { start: 0, end: 8 },
      set: { farFaultNs: "20us", "linkBandwidth.host->gpu0": "8GB/s", evictBatch: "4" },
    });
    expect(m.cost.params.farFaultNs).toBe(20_000);
    expect(m.cost.bandwidth("host", "gpu0")).toBe(8e9);
    expect(m.policy.evictBatch).toBe(4);
  });
});

describe("settings", () => {
  it("sorts keys into cost parameters and policy switches, converting policy values", () => {
    const s = splitSettings({ farFaultNs: "1us", evictRounds: "3", eviction: "accessed" });
    expect(s.cost).toEqual([["farFaultNs", "1us"]]);
    expect(s.policy).toEqual({ evictRounds: 3, eviction: "accessed" });
  });

  it("refuses an unknown key with the closest known one, and bad values naming the key", () => {
    expect(errorOf(() => splitSettings({ farFault: "1us" }))).toMatch(
      /^EINVAL: unknown setting "farFault", did you mean "farFaultNs"\? \(cost: farFaultNs, /,
    );
    expect(errorOf(() => splitSettings({ evictBatc: 3 }))).toMatch(/did you mean "evictBatch"/);
    expect(errorOf(() => splitSettings({ evictBatch: "many" }))).toMatch(
      /^EINVAL: policy evictBatch: "many" is not a number/,
    );
    expect(errorOf(() => choosePolicy("gmem", { evictBatch: 0 }))).toMatch(/evictBatch/);
    expect(
      errorOf(() =>
        createReplayMachine({ bounds: { start: 0, end: 8 }, set: { farFaultNs: "fast" } }),
      ),
    ).toMatch(/^EINVAL: cost parameter farFaultNs: "fast" is not a time/);
  });
});

describe("replayTrace", () => {
  it("replays the small CSV trace with the counts worked out by hand", () => {
    const t = opened(SMALL_CSV);
    const m = createReplayMachine({ bounds: scanBounds(t.cursor)! });
    const r = replayTrace(m.gmem, t.cursor, { cost: m.cost, file: "t.csv" });
    // gpu0 faults on blocks 0 (from the CPU), 1 (from the CPU), 2 (a first touch: no
    // migration) and block 0 again after the CPU took it back; the CPU faults on blocks 0 and
    // 2. Every migration moves a whole 2 MiB block.
    expect(r).toMatchObject({ ok: true, accesses: 10, reads: 6, writes: 4, mismatchCount: 0 });
    expect(Object.keys(r.stats)).toEqual([...REPLAY_COUNTERS, "simulatedTimeNs"]);
    expect(r.stats).toMatchObject({
      deviceFaults: 4,
      hostFaults: 2,
      migrationsToDevice: 3,
      migrationsToHost: 2,
      evictions: 0,
      prefetchedPages: 0,
      thrashingEvents: 0,
      bytesToDevice: 3 * HPAGE,
      bytesToHost: 2 * HPAGE,
    });
    // 4 far faults (45 us) + 5 migrations of 2 MiB at 16 GB/s (131.072 us) + walks and accesses.
    expect(r.stats.simulatedTimeNs).toBeCloseTo(
      4 * 45_000 + 5 * 131_072 + r.breakdown.walksNs + 10,
      6,
    );
    expect(r.breakdown.migrationByLink).toEqual({
      "host->gpu0": { ns: 3 * 131_072, bytes: 3 * HPAGE, count: 3 },
      "gpu0->host": { ns: 2 * 131_072, bytes: 2 * HPAGE, count: 2 },
    });
    expect(r.stats.simulatedTimeNs).toBe(m.cost.timeNs);
  });

  it("reports a read that finds other bytes with its line, and goes on", () => {
    const t = opened(
      "cpu,w,0x1000,4,01020304\n# a comment\ngpu0,r,0x1000,4,01020305\ngpu0,r,0x1000,2,0102\n",
    );
    const m = createReplayMachine({ bounds: scanBounds(t.cursor)! });
    const r = replayTrace(m.gmem, t.cursor, { file: "t.csv" });
    expect(r.ok).toBe(false);
    expect(r.accesses).toBe(3);
    expect(r.mismatches).toEqual([
      {
        line: 3,
        who: "gpu0",
        addr: 0x1000,
        expected: "01020305",
        got: "01020304",
        message: "t.csv:3: gpu0 read 0x1000 (4 bytes): expected 01020305, got 01020304",
      },
    ]);
  });

  it("counts only its own accesses, and names the access the model refused", () => {
    const m = createReplayMachine({ bounds: { start: BASE, end: BASE + 4 * M } });
    const first = replayTrace(m.gmem, arrayCursor([{ who: "gpu0", op: "r", addr: BASE, size: 8 }]));
    expect(first.stats.deviceFaults).toBe(1);
    const again = replayTrace(
      m.gmem,
      arrayCursor([{ who: "gpu0", op: "r", addr: BASE + 8, size: 8 }]),
    );
    expect(again.stats.deviceFaults).toBe(0);
    expect(again.stats.simulatedTimeNs).toBeLessThan(100);
    const outside: TraceAccess[] = [{ who: "cpu", op: "r", addr: BASE + 64 * M, size: 8, line: 7 }];
    expect(errorOf(() => replayTrace(m.gmem, arrayCursor(outside), { file: "x.csv" }))).toMatch(
      /^EFAULT: x\.csv:7: cpu read at 0x1004000000: /,
    );
  });

  it("calls onProgress every progressEvery accesses and at the end", () => {
    const g = generateTrace(parseTraceSpec("gen:uniform,length=8M,count=10,seed=3"));
    const m = createReplayMachine({ bounds: g.bounds });
    const calls: Array<[number, number | undefined]> = [];
    replayTrace(m.gmem, g.cursor, { progressEvery: 4, onProgress: (d, t) => calls.push([d, t]) });
    expect(calls).toEqual([
      [4, 10],
      [8, 10],
      [10, 10],
    ]);
  });

  it("offsetCursor places a trace elsewhere", () => {
    const c = offsetCursor(arrayCursor([{ who: "cpu", op: "r", addr: 16, size: 8 }]), 0x1000);
    expect(collect(c).map((a) => a.addr)).toEqual([0x1010]);
  });

  it("oversubscribes a small device: faults and evictions on a hot set over twice the device", () => {
    const g = generateTrace(
      parseTraceSpec("gen:hotset,length=64M,hot=8M,count=20000,writes=0.3,seed=1"),
    );
    const m = createReplayMachine({ bounds: g.bounds, deviceMemory: 16 * M });
    const r = replayTrace(m.gmem, g.cursor);
    expect(r.stats.evictions).toBeGreaterThan(0);
    expect(r.stats.migrationsToHost).toBe(r.stats.evictions);
    expect(r.stats.bytesToDevice).toBe(r.stats.migrationsToDevice * HPAGE);
    // Every block the device faulted on is counted once as a first touch or a migration.
    expect(r.stats.deviceFaults).toBe(r.stats.migrationsToDevice + m.gmem.stats.deviceFirstTouches);
  });
});

describe("trace specs", () => {
  it("parses the text form with units and defaults", () => {
    expect(parseTraceSpec("gen:hotset,length=4G,hot=1G,count=10M,writes=0.3,seed=1")).toEqual({
      kind: "hotset",
      length: 4 * 2 ** 30,
      hot: 2 ** 30,
      count: 10_000_000,
      writes: 0.3,
      seed: 1,
    });
    expect(parseTraceSpec("gen:Strided,length=1M,stride=64K,WHO=cpu:1+gpu0:3,writes=25%")).toEqual({
      kind: "strided",
      length: M,
      stride: 64 * 1024,
      who: { cpu: 1, gpu0: 3 },
      writes: 0.25,
    });
    expect(parseCount("250k")).toBe(250_000);
    expect(parseCount("1_000")).toBe(1000);
    const g = generateTrace({ kind: "uniform", length: 8 * M, count: 3 });
    expect(g.bounds).toEqual({ start: BASE, end: BASE + 8 * M });
    expect(collect(g.cursor).map((a) => a.who)).toEqual(["gpu0", "gpu0", "gpu0"]);
  });

  it("refuses unknown kinds and keys with suggestions, keys of other kinds, missing keys", () => {
    expect(errorOf(() => parseTraceSpec("gen:hotst,length=1M"))).toMatch(
      /unknown trace kind "hotst", did you mean "hotset"\?/,
    );
    expect(errorOf(() => parseTraceSpec("gen:hotset,length=4G,hott=1G"))).toMatch(
      /unknown trace key "hott", did you mean "hot"\?/,
    );
    expect(errorOf(() => parseTraceSpec("gen:uniform,length=1M,count=5,stride=8"))).toMatch(
      /a uniform trace has no "stride"/,
    );
    expect(errorOf(() => parseTraceSpec("gen:hotset,length=1M,count=5"))).toMatch(/needs "hot"/);
    expect(errorOf(() => parseTraceSpec("gen:uniform,length=1M,count=lots"))).toMatch(
      /not a count/,
    );
    expect(errorOf(() => parseTraceSpec("gen:uniform,length=1M,count=5,count=6"))).toMatch(
      /given twice/,
    );
  });

  it("formats a spec that parses back to itself", () => {
    const s = parseTraceSpec(
      "gen:hotset,start=0x2000000000,length=4G,hot=1G,count=1M,writes=0.3,who=cpu:1+gpu0:3",
    );
    expect(parseTraceSpec(formatTraceSpec(s))).toEqual(s);
  });
});

describe("openTrace", () => {
  it("tells CSV from binary by the magic, and streams both", () => {
    const accesses: TraceAccess[] = [
      { who: "cpu", op: "w", addr: 0x2000, size: 2, value: Uint8Array.of(1, 2) },
      { who: "gpu0", op: "r", addr: 0x2000, size: 2, value: Uint8Array.of(1, 2) },
    ];
    const bin = openTrace(encodeBinaryTrace(accesses), "t.bin", { devices: ["gpu0"] });
    expect(bin.ok && bin.format).toBe("binary");
    if (!bin.ok) return;
    expect(bin.names).toEqual(["cpu", "gpu0"]);
    expect(scanBounds(bin.cursor)).toEqual({ start: 0x2000, end: 0x2002 });
    const m = createReplayMachine({ bounds: { start: 0x2000, end: 0x2002 } });
    expect(replayTrace(m.gmem, bin.cursor).ok).toBe(true);
    const csv = opened("gpu0,r,0x10\n");
    expect(csv.format).toBe("csv");
    expect(csv.names).toEqual(["gpu0"]);
  });

  it("refuses a malformed CSV with every problem at its line, and unknown devices", () => {
    const t = openTrace(
      new TextEncoder().encode("cpu,w,0x10\ngpu1,r,0x20\ncpu,x,zz\n"),
      "bad.csv",
      {
        devices: ["gpu0"],
      },
    );
    expect(t.ok).toBe(false);
    if (t.ok) return;
    expect(t.lines).toEqual([
      'bad.csv:2: unknown device "gpu1", did you mean "gpu0"? (have: cpu, gpu0)',
      'bad.csv:3: op must be "r" or "w", got "x"',
      'bad.csv:3: addr must be hex (0x...) or decimal, got "zz"',
    ]);
    expect(t.problems.map((p) => p.line)).toEqual([2, 3, 3]);
    const bin = openTrace(encodeBinaryTrace([{ who: "npu", op: "r", addr: 0, size: 8 }]), "t.bin", {
      devices: ["gpu0"],
    });
    expect(bin.ok ? "" : bin.lines[0]).toMatch(/^t\.bin: the name table has device "npu"/);
  });
});

describe("tables", () => {
  it("prints counters, time and runs side by side", () => {
    const t = opened(SMALL_CSV);
    const m = createReplayMachine({ bounds: scanBounds(t.cursor)! });
    const r = replayTrace(m.gmem, t.cursor);
    const c = countersTable(r);
    expect(c.rows[0]).toEqual(["accesses", "10 (6 r, 4 w)"]);
    expect(c.rows).toContainEqual(["bytesToDevice", "6 MiB (6,291,456)"]);
    expect(timeTable(r.breakdown).rows.map((x) => x[0])).toEqual([
      "far faults",
      "page walks",
      "migrations",
      "  gpu0->host",
      "  host->gpu0",
      "remote accesses",
      "local accesses",
      "total",
    ]);
    const side = compareTable([
      { name: "a", ...r },
      { name: "b", ...r },
    ]);
    expect(side.head).toEqual(["counter", "a", "b"]);
    expect(side.rows[1]).toEqual(["deviceFaults", "4", "4"]);
    expect(groupDigits(1234567.891)).toBe("1,234,567.89");
  });
});
