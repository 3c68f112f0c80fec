import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EventBus } from "../base/events.js";
import type { AllocModel } from "./allocator-model.testutil.js";
import { checkNoOverlap, expectCode } from "./allocator-model.testutil.js";
import { MemoryMap } from "./memory-map.js";
import type { TargetSpec } from "./target.js";
import { MemoryTarget } from "./target.js";

const K = 1024;
const M = 1024 * K;

function setup(spec: TargetSpec) {
  const map = new MemoryMap();
  map.add({ name: "dram0", base: 0x8000_0000, size: 64 * M, kind: "ram" });
  map.add({ name: "dram1", base: 0x1_0000_0000, size: 16 * M, kind: "ram" });
  map.add({ name: "hbm", base: 0x40_0000_0000, size: 32 * M, kind: "device-local", device: "npu" });
  map.add({ name: "regs", base: 0x0900_0000, size: 4 * K, kind: "io" });
  const bus = new EventBus();
  let id = 1;
  return { map, bus, target: new MemoryTarget(spec, map, bus, () => id++) };
}

describe("MemoryTarget", () => {
  it("draws on several ranges in order, moving on only when a range is full", () => {
    const { target } = setup({
      name: "system",
      ranges: [{ region: "dram0", offset: 60 * M, size: 4 * M }, { region: "dram1" }],
      allocator: { kind: "buddy" },
    });
    const a = target.alloc(4 * M);
    expect(a.chunks).toEqual([{ pa: 0x8000_0000 + 60 * M, size: 4 * M }]);
    const b = target.alloc(4 * K);
    expect(b.chunks[0]!.pa).toBe(0x1_0000_0000);
    expectCode(() => target.alloc(3000), "EINVAL"); // bad request fails at once
    expect(target.stats()).toMatchObject({
      totalBytes: 20 * M,
      freeBytes: 16 * M - 4 * K,
      liveAllocations: 2,
      allocCalls: 3,
      failedCalls: 1,
    });
    target.free(a);
    target.free(b.id);
    expect(target.stats().freeBytes).toBe(20 * M);
  });

  it("frees by allocation, id or first address; refuses unknown and double frees", () => {
    const { target } = setup({
      name: "t",
      ranges: [{ region: "dram0" }],
      allocator: { kind: "contiguous" },
    });
    const a = target.alloc(64 * K);
    const b = target.alloc(64 * K);
    const c = target.alloc(64 * K);
    target.free(a.chunks[0]!.pa);
    target.free(b.id);
    target.free(c);
    const before = JSON.stringify(target.stats());
    expectCode(() => target.free(c), "EINVAL");
    expectCode(() => target.free(999), "EINVAL");
    expect(() => target.free(b.id)).toThrow(
      `target "t": allocation ${b.id} (0x${b.id.toString(16)}) is unknown or already freed`,
    );
    expect(JSON.stringify(target.stats())).toBe(before);
  });

  it("uses the VCMM chunk pools and reports pool statistics", () => {
    const { target } = setup({
      name: "mm",
      ranges: [{ region: "hbm" }],
      allocator: {
        kind: "chunk-pool",
        pools: [
          { chunkSize: 1 * M, bytes: 8 * M },
          { chunkSize: 4 * K, bytes: 1 * M },
        ],
        contiguousBytes: 4 * M,
      },
    });
    const a = target.alloc(1 * M + 8 * K);
    expect(a.chunks.map((c) => c.size)).toEqual([1 * M, 4 * K, 4 * K]);
    expect(target.chunkPool?.poolStats().map((p) => p.free)).toEqual([7, 254]);
    const b = target.alloc(3 * M, { contiguous: true });
    expect(b.chunks).toHaveLength(1);
    expectCode(() => target.alloc(4 * K, { chunkSizes: [64 * K] }), "EINVAL");
  });

  it("refuses bad specifications", () => {
    expectCode(() => setup({ name: "x", ranges: [], allocator: { kind: "buddy" } }), "EINVAL");
    expectCode(
      () => setup({ name: "x", ranges: [{ region: "nope" }], allocator: { kind: "buddy" } }),
      "ENOENT",
    );
    expectCode(
      () => setup({ name: "x", ranges: [{ region: "regs" }], allocator: { kind: "buddy" } }),
      "EINVAL",
    );
    expectCode(
      () =>
        setup({
          name: "x",
          ranges: [{ region: "dram1", offset: 8 * M, size: 16 * M }],
          allocator: { kind: "buddy" },
        }),
      "ERANGE",
    );
    expectCode(
      () =>
        setup({
          name: "x",
          ranges: [{ region: "dram1", offset: 100 }],
          allocator: { kind: "buddy" },
        }),
      "EINVAL",
    );
    expectCode(
      () =>
        setup({
          name: "x",
          ranges: [{ region: "dram0" }, { region: "dram1" }],
          allocator: { kind: "chunk-pool", pools: [{ chunkSize: 4 * K, bytes: 4 * K }] },
        }),
      "EINVAL",
    );
    expectCode(
      () =>
        setup({
          name: "x",
          ranges: [{ region: "dram0" }],
          allocator: { kind: "buddy" },
        }).target.alloc(4 * K, { chunkSizes: [4 * K] }),
      "EINVAL",
    );
  });

  it("publishes alloc, free and failure events as plain JSON", () => {
    const { target, bus } = setup({
      name: "sys",
      ranges: [{ region: "dram1" }],
      allocator: { kind: "buddy" },
    });
    const { events } = bus.record();
    const a = target.alloc(8 * K);
    target.free(a);
    expectCode(() => target.alloc(32 * M), "ENOMEM");
    expect(JSON.parse(JSON.stringify(events))).toEqual([
      {
        seq: 1,
        type: "phys.alloc",
        target: "sys",
        id: a.id,
        size: 8 * K,
        chunks: [{ pa: 0x1_0000_0000, size: 8 * K }],
      },
      { seq: 2, type: "phys.free", target: "sys", id: a.id, size: 8 * K },
      expect.objectContaining({
        seq: 3,
        type: "phys.alloc-failed",
        target: "sys",
        size: 32 * M,
        code: "ENOMEM",
      }),
    ]);
  });

  it("model: every allocator kind keeps allocations disjoint and accounts for every byte", () => {
    const specs: TargetSpec[] = [
      {
        name: "b",
        ranges: [
          { region: "dram1", size: 2 * M },
          { region: "dram0", offset: 4 * M, size: 1 * M },
        ],
        allocator: { kind: "buddy" },
      },
      {
        name: "c",
        ranges: [
          { region: "dram1", size: 2 * M },
          { region: "hbm", size: 1 * M },
        ],
        allocator: { kind: "contiguous" },
      },
      {
        name: "p",
        ranges: [{ region: "dram0", size: 4 * M }],
        allocator: {
          kind: "chunk-pool",
          pools: [
            { chunkSize: 1 * M, bytes: 2 * M },
            { chunkSize: 64 * K, bytes: 1 * M },
            { chunkSize: 4 * K, bytes: 256 * K },
          ],
        },
      },
    ];
    const op = fc.oneof(
      fc.record({ alloc: fc.integer({ min: 1, max: 300 }) }),
      fc.record({ free: fc.nat() }),
      fc.record({ bogus: fc.integer({ min: 1, max: 10_000 }) }),
    );
    fc.assert(
      fc.property(fc.constantFrom(...specs), fc.array(op, { maxLength: 100 }), (spec, ops) => {
        const { target } = setup(spec);
        const total = target.stats().totalBytes;
        const live: AllocModel["live"] = [];
        for (const o of ops) {
          const before = JSON.stringify(target.stats());
          if ("alloc" in o) {
            try {
              const a = target.alloc(o.alloc * 4 * K);
              live.push({ key: a.id, asked: a.size, chunks: [...a.chunks] });
            } catch (e) {
              expect((e as { code: string }).code).toBe("ENOMEM");
              const after = JSON.parse(JSON.stringify(target.stats())) as Record<string, number>;
              const prev = JSON.parse(before) as Record<string, number>;
              expect({ ...after, allocCalls: 0, failedCalls: 0 }).toEqual({
                ...prev,
                allocCalls: 0,
                failedCalls: 0,
              });
            }
          } else if ("free" in o) {
            if (live.length === 0) continue;
            const [v] = live.splice(o.free % live.length, 1);
            target.free(v!.key);
          } else {
            if (live.some((l) => l.key === o.bogus)) continue;
            expectCode(() => target.free(o.bogus), "EINVAL");
            expect(JSON.stringify(target.stats())).toBe(before);
          }
          checkNoOverlap({ live }, target.ranges);
          const held = live.reduce((s, a) => s + a.chunks.reduce((t, c) => t + c.size, 0), 0);
          expect(target.stats().freeBytes + held).toBe(total);
        }
        for (const a of live) target.free(a.key);
        expect(target.stats().freeBytes).toBe(total);
      }),
      { numRuns: 120 },
    );
  });
});
