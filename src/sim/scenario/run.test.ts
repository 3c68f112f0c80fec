import { describe, expect, it } from "vitest";

import { isMemweaveError } from "../../base/errors.js";
import type { Scenario } from "./schema.js";
import { parseScenario } from "./parse.js";
import type { RunResult } from "./run.js";
import { runScenario } from "./run.js";

const MACHINE = `version: 1
name: t
seed: 5
machine:
  regions:
    - { name: dram, base: 0x8000_0000, size: 64M, kind: ram }
    - { name: uart, base: 0x0900_0000, size: 4K, kind: io }
  targets:
    - { name: system, allocator: buddy, ranges: [{ region: dram, size: 32M }] }
    - name: mm
      allocator: chunk-pool
      ranges: [{ region: dram, offset: 32M, size: 8M }]
      pools: [{ chunk: 1M, size: 4M }, { chunk: 64K, size: 1M }, { chunk: 4K, size: 1M }]
      contiguous: 2M
steps:
`;

/** A scenario of MACHINE and these steps (YAML flow maps, one per line). */
function scenario(...steps: string[]): Scenario {
  const text = MACHINE + (steps.length > 0 ? steps.map((s) => `  - ${s}\n`).join("") : "  []\n");
  const r = parseScenario(text, "t.yaml");
  if (!r.ok) throw new Error(r.errors.map((e) => `${e.path}: ${e.message}`).join("\n"));
  return r.scenario;
}

function run(...steps: string[]): RunResult {
  return runScenario(scenario(...steps));
}

describe("runScenario: steps and expectations", () => {
  it("runs steps and counts the expectations that hold", () => {
    const r = run(
      "{ op: alloc, target: system, size: 64K, as: buf }",
      "{ op: write, addr: buf + 0xffe, data: 'de ad be ef' }",
      "{ op: read, addr: buf + 0xffe, expect: 'de ad be ef' }",
      "{ op: read, addr: buf + 4K, size: 2 }",
      "{ op: expect, target: system, liveAllocations: 1, freeBytes: 0x1ff0000 }",
      "{ op: expect, materializedPages: 2 }",
      "{ op: free, alloc: buf }",
      "{ op: expect, target: system, freeBytes: 32M, largestFreeBlock: 32M, liveAllocations: 0 }",
    );
    expect(r.ok).toBe(true);
    expect(r.expectations).toMatchObject({ passed: 7, failed: 0 });
    expect(r.steps.map((s) => s.status)).toEqual(Array(8).fill("ok"));
    expect(r.steps[0]!.output).toEqual({
      id: 1,
      target: "system",
      size: 65536,
      chunks: [{ pa: 0x8000_0000, size: 65536 }],
    });
    expect(r.steps[3]!.output).toMatchObject({ pa: 0x8000_1000, size: 2, data: "be ef" });
    expect(r.statistics.store.materializedPages).toBe(2);
    expect(r.stoppedAt).toBeUndefined();
  });

  it("allocates chunk-pool memory max-munch", () => {
    const r = run(
      "{ op: alloc, target: mm, size: 0x112000, as: f }",
      "{ op: expect, target: mm, freeChunks: { 1M: 3, 64K: 15, 4K: 254 } }",
      "{ op: alloc, target: mm, size: 64K, chunkSizes: [4K], as: g }",
      "{ op: alloc, target: mm, size: 1M, contiguous: true, align: 1M, as: h }",
    );
    expect(r.ok).toBe(true);
    const chunks = (i: number) =>
      (r.steps[i]!.output!.chunks as Array<{ size: number }>).map((c) => c.size);
    expect(chunks(0)).toEqual([1 << 20, 64 << 10, 4096, 4096]);
    expect(chunks(2)).toEqual(Array(16).fill(4096));
    expect(chunks(3)).toEqual([1 << 20]);
    expect(r.steps[2]!.summary).toBe("g #2: 16 chunks (16×4 KiB), first 0x82502000");
  });

  it("a failed value check fails the step but the run goes on", () => {
    const r = run(
      "{ op: write, addr: 0x8000_0000, data: '01 02' }",
      "{ op: read, addr: 0x8000_0000, expect: '01 03' }",
      "{ op: expect, target: system, liveAllocations: 1, freeBytes: 32M }",
      "{ op: stats }",
    );
    expect(r.ok).toBe(false);
    expect(r.expectations).toMatchObject({ passed: 1, failed: 2 });
    expect(r.expectations.list.map((e) => [e.step, e.passed, e.message])).toEqual([
      [1, false, "read 2 bytes at 0x80000000: expected 01 03, got 01 02"],
      [2, true, "system.freeBytes = 32 MiB"],
      [2, false, "system.liveAllocations: expected 1, got 0"],
    ]);
    expect(r.steps.map((s) => s.status)).toEqual(["ok", "failed", "failed", "ok"]);
    expect(r.stoppedAt).toBeUndefined();
  });
});

describe("runScenario: expectError", () => {
  it("the expected code passes; another code or success fails, and the run goes on", () => {
    const r = run(
      "{ op: alloc, target: system, size: 64M, expectError: ENOMEM }",
      "{ op: alloc, target: system, size: 100, expectError: ENOMEM }",
      "{ op: alloc, target: system, size: 4K, as: a, expectError: ENOMEM }",
      "{ op: free, alloc: a }",
      "{ op: free, alloc: a, expectError: EINVAL }",
      "{ op: write, addr: 0x0900_0000, data: '00', expectError: EFAULT }",
      "{ op: read, addr: 0x4000_0000, size: 4, expectError: EFAULT }",
      "{ op: free, alloc: nobody, expectError: ENOENT }",
    );
    expect(r.steps.map((s) => s.status)).toEqual([
      "expected-error",
      "failed",
      "failed",
      "ok",
      "expected-error",
      "expected-error",
      "expected-error",
      "expected-error",
    ]);
    expect(r.expectations).toMatchObject({ passed: 5, failed: 2 });
    expect(r.expectations.list[1]!.message).toMatch(
      /^alloc 100 B from system: expected ENOMEM, got EINVAL: system: allocation size 0x64/,
    );
    expect(r.expectations.list[2]!.message).toBe(
      "alloc 4 KiB from system as a: expected ENOMEM, but the step succeeded",
    );
    expect(r.steps[0]!.error?.code).toBe("ENOMEM");
    expect(r.stoppedAt).toBeUndefined();
  });

  it("an unexpected failure is a failed expectation and stops the run", () => {
    const r = run(
      "{ op: alloc, target: system, size: 4K, as: a }",
      // The target has 32 MiB: only the run can find that it cannot give 64 MiB.
      "{ op: alloc, target: system, size: 64M }",
      "{ op: free, alloc: a }",
      "{ op: stats }",
    );
    expect(r.ok).toBe(false);
    expect(r.stoppedAt).toBe(1);
    expect(r.steps.map((s) => s.status)).toEqual(["ok", "failed", "skipped", "skipped"]);
    expect(r.steps[2]!.description).toBe("free a");
    expect(r.steps[1]!.error).toEqual({
      code: "ENOMEM",
      message: "ENOMEM: system: no free block of 64 MiB (free 31 MiB + 1020 KiB, largest 16 MiB)",
    });
    expect(r.expectations.list).toEqual([
      {
        step: 1,
        passed: false,
        message:
          "alloc 64 MiB from system: step failed: ENOMEM: system: no free block of 64 MiB (free 31 MiB + 1020 KiB, largest 16 MiB)",
      },
    ]);
    // The statistics are those after the last step that ran: "a" is still allocated.
    expect(r.statistics.targets[0]!.liveAllocations).toBe(1);
  });
});

describe("runScenario: names", () => {
  it("an unknown name is ENOENT; a live name cannot be bound again; a freed one can", () => {
    const r = run(
      "{ op: read, addr: buf, size: 4, expectError: ENOENT }",
      "{ op: alloc, target: system, size: 4K, as: buf }",
      "{ op: alloc, target: system, size: 4K, as: buf, expectError: EEXIST }",
      "{ op: expect, target: system, liveAllocations: 1, allocCalls: 1 }",
      "{ op: free, alloc: buf }",
      "{ op: alloc, target: system, size: 8K, as: buf }",
      "{ op: write, addr: buf - 0x8000_0001, data: '00', expectError: EINVAL }",
    );
    expect(r.ok).toBe(true);
    expect(r.expectations.failed).toBe(0);
  });
});

describe("runScenario: atomicity is observable", () => {
  /** The target statistics reported by the stats steps of a run. */
  function statsSteps(r: RunResult) {
    return r.steps.filter((s) => s.op === "stats").map((s) => s.output!.targets);
  }

  it("a failed buddy allocation changes nothing but its counters", () => {
    const r = run(
      "{ op: alloc, target: system, size: 4M }",
      "{ op: stats, target: system }",
      "{ op: alloc, target: system, size: 32M, expectError: ENOMEM }",
      "{ op: stats, target: system }",
    );
    const [before, after] = statsSteps(r) as Array<Array<Record<string, number>>>;
    expect(after![0]).toEqual({ ...before![0], allocCalls: 2, failedCalls: 1 });
    expect(before![0]!.failedCalls).toBe(0);
  });

  it("a chunk-pool request that cannot be met takes no chunk", () => {
    const r = run(
      "{ op: alloc, target: mm, size: 3M }",
      "{ op: stats, target: mm }",
      // 1M + 1M + 64K*16 + 4K*256: more than is left (1M + 1M + 1M).
      "{ op: alloc, target: mm, size: 4M, expectError: ENOMEM }",
      "{ op: stats, target: mm }",
      "{ op: expect, target: mm, freeChunks: { 1M: 1, 64K: 16, 4K: 256 } }",
    );
    expect(r.ok).toBe(true);
    const [before, after] = statsSteps(r) as Array<Array<Record<string, unknown>>>;
    expect(after![0]!.pools).toEqual(before![0]!.pools);
    expect(after![0]!.freeBytes).toBe(before![0]!.freeBytes);
  });

  it("a refused name allocates nothing", () => {
    const r = run(
      "{ op: alloc, target: system, size: 4K, as: x }",
      "{ op: alloc, target: system, size: 4K, as: x, expectError: EEXIST }",
      "{ op: expect, target: system, liveAllocations: 1, allocCalls: 1, freeBytes: 0x1fff000 }",
    );
    expect(r.ok).toBe(true);
  });
});

describe("runScenario: determinism and the result", () => {
  const steps = [
    "{ op: alloc, target: mm, size: 0x112000, as: f }",
    "{ op: alloc, target: system, size: 12K, as: s }",
    "{ op: fill, addr: s, size: 12K, value: 0x5a }",
    "{ op: copy, from: s, to: f + 0x100, size: 0x200 }",
    "{ op: read, addr: f + 0x100, size: 300 }",
    "{ op: alloc, target: system, size: 1G, expectError: EINVAL }",
    "{ op: stats }",
  ];

  it("the same scenario and seed give byte-identical JSON", () => {
    const a = JSON.stringify(runScenario(scenario(...steps)));
    const b = JSON.stringify(runScenario(scenario(...steps)));
    expect(a).toBe(b);
    expect(JSON.stringify(runScenario(scenario(...steps), { seed: 9 }))).toBe(
      JSON.stringify(runScenario(scenario(...steps), { seed: 9 })),
    );
  });

  it("is plain JSON data, with the seed of the run", () => {
    const r = runScenario(scenario(...steps), { seed: 77 });
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    expect(r.seed).toBe(77);
    expect(runScenario(scenario(...steps)).seed).toBe(5);
    expect(Object.keys(r)).toEqual([
      "name",
      "seed",
      "ok",
      "machine",
      "steps",
      "expectations",
      "statistics",
      "events",
    ]);
    expect(r.steps[4]!.output).toMatchObject({ size: 300, truncated: true });
  });

  it("counts the events of the platform bus", () => {
    const r = runScenario(scenario(...steps));
    expect(r.events.byType).toEqual({
      "phys.alloc": 2,
      "phys.alloc-failed": 1,
      "phys.write": 2,
    });
    expect(r.events.total).toBe(5);
  });

  it("reports the machine as built", () => {
    const r = runScenario(scenario());
    expect(r.machine.regions.map((x) => x.name)).toEqual(["uart", "dram"]);
    expect(r.machine.targets[1]).toEqual({
      name: "mm",
      allocator: "chunk-pool",
      ranges: [{ region: "dram", base: 0x8000_0000 + (32 << 20), size: 8 << 20 }],
    });
    expect(r.statistics.targets[1]!.pools).toEqual([
      { chunkSize: 1 << 20, chunks: 4, freeChunks: 4 },
      { chunkSize: 64 << 10, chunks: 16, freeChunks: 16 },
      { chunkSize: 4096, chunks: 256, freeChunks: 256 },
    ]);
  });

  it("throws, naming the item, for a machine the platform refuses", () => {
    const good = scenario();
    const bad: Scenario = {
      ...good,
      machine: {
        regions: [
          ...good.machine.regions,
          { name: "x", base: 0x8000_0000, size: 4096, kind: "ram" },
        ],
      },
    };
    let caught: unknown;
    try {
      runScenario(bad);
    } catch (e) {
      caught = e;
    }
    expect(isMemweaveError(caught, "EEXIST")).toBe(true);
    expect((caught as Error).message).toMatch(/^EEXIST: machine\.regions\[2\]: region "x"/);
  });
});
