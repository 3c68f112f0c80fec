/**
 * Fault batching (`faultBatch: 256`): faulting device accesses wait in a batch, duplicates are
 * coalesced, each VA block is served once per batch (one far fault), the accesses replayed.
 */
import { describe, expect, it } from "vitest";

import { gmemMachine, pattern, RecordingSink } from "../gmem.testutil.js";
import { HPAGE } from "../types.js";
import { checkPieces, where } from "./uvm.testutil.js";

const K4 = 4096;

function machine(policy: object, devices?: string[]) {
  const sink = new RecordingSink();
  const m = gmemMachine({ policy, cost: sink, ...(devices ? { devices } : {}) });
  return { m, sink, gmem: m.gmem, va: m.va, uvm: () => m.gmem.uvm!.stats };
}

describe("fault batching", () => {
  it("coalesces 256 duplicate faults into one service", () => {
    const { m, sink, gmem, va, uvm } = machine({ residency: "page", faultBatch: 256 });
    gmem.access("cpu", "w", va, 8, pattern(8));
    const got: Uint8Array[] = [];
    for (let k = 0; k < 255; k++) gmem.access("gpu0", "r", va, 8, undefined, (b) => got.push(b));
    // Waiting: counted as faults, nothing served yet.
    expect(gmem.stats).toMatchObject({ deviceFaults: 255, migrationsToDevice: 0 });
    expect(got.length).toBe(0);
    expect(sink.counts.farFault).toBe(0);
    gmem.access("gpu0", "r", va, 8, undefined, (b) => got.push(b)); // the 256th fills the batch
    expect(gmem.stats).toMatchObject({
      deviceFaults: 256,
      migrationsToDevice: 1,
      bytesToDevice: K4,
    });
    expect(uvm()).toMatchObject({
      batches: 1,
      batchEntries: 256,
      duplicates: 255,
      blockServices: 2,
    });
    expect(sink.counts.farFault).toBe(1);
    expect(got.length).toBe(256);
    for (const b of got) expect(b).toEqual(pattern(8));
    // Replayed accesses hit; the next access hits too.
    gmem.access("gpu0", "r", va, 8);
    expect(gmem.stats.deviceFaults).toBe(256);
    checkPieces(m);
  });

  it("serves each VA block once per batch, all its faulted pages together", () => {
    const { sink, gmem, va, uvm } = machine({ residency: "page", faultBatch: 256 });
    for (let b = 0; b < 3; b++)
      for (let p = 0; p < 4; p++) gmem.access("cpu", "w", va + b * HPAGE + p * K4, 4, pattern(4));
    for (let b = 0; b < 3; b++)
      for (let p = 0; p < 4; p++) gmem.access("gpu0", "r", va + b * HPAGE + p * K4, 4);
    gmem.flush();
    expect(uvm()).toMatchObject({ batches: 1, batchEntries: 12, duplicates: 0 });
    expect(sink.counts.farFault).toBe(3);
    // One migration per block service, with the bytes of its four pages.
    expect(gmem.stats).toMatchObject({
      deviceFaults: 12,
      migrationsToDevice: 3,
      bytesToDevice: 12 * K4,
    });
  });

  it("under residency block, faults in one block are duplicates of each other", () => {
    const { sink, gmem, va, uvm } = machine({ faultBatch: 256 });
    for (let p = 0; p < 10; p++) gmem.access("gpu0", "w", va + p * K4, 4, pattern(4, p));
    gmem.flush();
    expect(uvm()).toMatchObject({ batches: 1, batchEntries: 10, duplicates: 9 });
    expect(sink.counts.farFault).toBe(1);
    expect(gmem.stats).toMatchObject({ deviceFaults: 10, deviceFirstTouches: 1 });
    for (let p = 0; p < 10; p++)
      expect(gmem.access("cpu", "r", va + p * K4, 4)).toEqual(pattern(4, p));
  });

  it("without batching every fault is served at once (one far fault each)", () => {
    const { sink, gmem, va } = machine({ residency: "page" });
    for (let p = 0; p < 10; p++) gmem.access("gpu0", "w", va + p * K4, 4, pattern(4, p));
    expect(sink.counts.farFault).toBe(10);
    expect(gmem.stats).toMatchObject({ deviceFaults: 10, deviceFirstTouches: 10 });
  });

  it("a CPU access serves the batch first: it sees the device's waiting writes", () => {
    const { m, gmem, va } = machine({ residency: "page", faultBatch: 256 });
    gmem.access("gpu0", "w", va + 100, 4, pattern(4));
    gmem.access("gpu0", "r", va + 100, 4); // a duplicate, replayed after the write
    expect(gmem.uvm!.batcher.waiting).toBe(2);
    expect(gmem.access("cpu", "r", va + 100, 4)).toEqual(pattern(4));
    expect(gmem.uvm!.batcher.waiting).toBe(0);
    expect(gmem.stats).toMatchObject({ deviceFaults: 2, hostFaults: 1 });
    checkPieces(m);
  });

  it("a write's bytes are kept when it waits (the caller may reuse its buffer)", () => {
    const { gmem, va } = machine({ residency: "page", faultBatch: 8 });
    const buf = pattern(4, 1);
    gmem.access("gpu0", "w", va, 4, buf);
    buf.set(pattern(4, 2));
    gmem.flush();
    expect(gmem.access("cpu", "r", va, 4)).toEqual(pattern(4, 1));
  });

  it("another device's access to a block with waiting faults serves them first", () => {
    const { m, gmem, va } = machine({ residency: "page", faultBatch: 256 }, ["gpu0", "npu0"]);
    let got: Uint8Array | undefined;
    gmem.access("gpu0", "w", va, 4, pattern(4, 7));
    // gpu0's batch is served first (the write lands on gpu0), then npu0's fault waits.
    gmem.access("npu0", "r", va, 4, undefined, (b) => (got = b.slice()));
    expect(gmem.uvm!.stats.batches).toBe(1);
    gmem.flush();
    expect(got).toEqual(pattern(4, 7));
    gmem.access("gpu0", "w", va + HPAGE, 4, pattern(4, 1));
    gmem.access("npu0", "r", va + HPAGE, 4, undefined, (b) => (got = b.slice()));
    gmem.flush();
    expect(got).toEqual(pattern(4, 1));
    expect(where(m, va)).toBe("npu0");
    checkPieces(m);
  });

  it("a hit on bytes a waiting access across pages touches serves the batch first", () => {
    const { gmem, va } = machine({ residency: "page", faultBatch: 256 });
    gmem.access("gpu0", "w", va, 4, pattern(4));
    gmem.flush(); // page 0 resident on gpu0
    gmem.access("gpu0", "w", va + K4 - 4, 8, pattern(8, 3)); // page 1 faults: waits
    expect(gmem.uvm!.batcher.waiting).toBe(1);
    expect(gmem.access("gpu0", "r", va + K4 - 4, 4)).toEqual(pattern(8, 3).slice(0, 4));
    expect(gmem.uvm!.batcher.waiting).toBe(0);
  });
});
