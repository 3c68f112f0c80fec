/**
 * Oversubscription: a working set of 1.5x device memory. The device has 8 MiB (four 2 MiB
 * frames); it writes six blocks B0..B5 round robin, twice, then the CPU reads all six. Every
 * count below is worked out by hand.
 */
import { describe, expect, it } from "vitest";

import { checkResidency, gmemMachine, M, placement, statsOf } from "./gmem.testutil.js";
import type { GmemPolicy } from "./policy.js";
import { HPAGE } from "./types.js";

function run(policy: Partial<GmemPolicy>) {
  const m = gmemMachine({ blocks: 6, policy });
  const { gmem, va } = m;
  const order = () => m.gpu.hnode.activeList().map((p) => `B${(p.mapping!.va - va) / HPAGE}`);
  const rounds: Array<ReturnType<typeof statsOf>> = [];
  const lists: string[][] = [];
  for (let round = 0; round < 2; round++) {
    for (let b = 0; b < 6; b++)
      gmem.access(
        "gpu0",
        "w",
        va + b * HPAGE + 8 * round,
        8,
        new Uint8Array(8).fill(16 * b + round + 1),
      );
    rounds.push(statsOf(m));
    lists.push(order());
    checkResidency(m);
  }
  // The CPU reads every block: both rounds' bytes are there, wherever the block was.
  for (let b = 0; b < 6; b++)
    for (let round = 0; round < 2; round++)
      expect(gmem.access("cpu", "r", va + b * HPAGE + 8 * round, 8)).toEqual(
        new Uint8Array(8).fill(16 * b + round + 1),
      );
  checkResidency(m);
  return { m, rounds, lists, final: statsOf(m) };
}

describe("oversubscription: 6 blocks on a 4-frame device", () => {
  it("gmem policy (evictBatch 16): a full device is emptied at once", () => {
    const { rounds, lists, final, m } = run({});
    // Round 1: B0..B3 populate the four frames (4 faults, 4 first touches). B4 finds no free
    // frame: one eviction round takes up to 16 pages from the head, i.e. all four (B0..B3:
    // 4 evictions, 4 migrations to the host, each mapped on the CPU); B4 and B5 populate.
    expect(rounds[0]).toMatchObject({
      deviceFaults: 6,
      deviceFirstTouches: 6,
      evictions: 4,
      migrationsToHost: 4,
      migrationsToDevice: 0,
    });
    expect(lists[0]).toEqual(["B4", "B5"]);
    // Round 2: B0, B1 migrate back into the two free frames (2 migrations to the device). B2
    // finds none: all four (B4, B5, B0, B1) are evicted (4 more); B2, B3, B4, B5 migrate in.
    expect(rounds[1]).toMatchObject({
      deviceFaults: 12,
      deviceFirstTouches: 6,
      evictions: 8,
      migrationsToHost: 8,
      migrationsToDevice: 6,
    });
    expect(lists[1]).toEqual(["B2", "B3", "B4", "B5"]);
    // The CPU: B0, B1 are on the host already (mapped at eviction: no fault); B2..B5 are on the
    // device: 4 host faults, 4 migrations to the host.
    expect(final).toEqual({
      deviceFaults: 12,
      hostFaults: 4,
      migrationsToDevice: 6,
      migrationsToHost: 12,
      evictions: 8,
      prefetchedPages: 0,
      thrashingEvents: 0,
      bytesToDevice: 6 * 2 * M,
      bytesToHost: 12 * 2 * M,
      deviceFirstTouches: 6,
      cpuFirstTouches: 0,
    });
    expect(placement(m)).toEqual(Array(6).fill("cpu"));
    expect(m.gpu.hnode.nrFreePages).toBe(4);
  });

  it("evictBatch 1: one page per fault, least recently migrated first", () => {
    const { rounds, lists, final } = run({ evictBatch: 1 });
    // Round 1: B0..B3 populate; B4 evicts B0, B5 evicts B1 (2 evictions).
    expect(rounds[0]).toMatchObject({ deviceFaults: 6, evictions: 2, migrationsToDevice: 0 });
    expect(lists[0]).toEqual(["B2", "B3", "B4", "B5"]);
    // Round 2: every access misses (round robin over 6 > 4 frames: LRU's worst case): each of
    // the 6 faults evicts the head and migrates its block in (6 evictions, 6 migrations in).
    expect(rounds[1]).toMatchObject({ deviceFaults: 12, evictions: 8, migrationsToDevice: 6 });
    expect(lists[1]).toEqual(["B2", "B3", "B4", "B5"]);
    // The CPU: B0, B1 evicted (on the host), B2..B5 host faults.
    expect(final).toMatchObject({
      hostFaults: 4,
      migrationsToHost: 8 + 4,
      bytesToHost: 12 * 2 * M,
      bytesToDevice: 6 * 2 * M,
    });
  });

  it("eviction order: `migrated` evicts the first to arrive, `accessed` the least recently used", () => {
    for (const [eviction, victim] of [
      ["migrated", "B0"],
      ["accessed", "B1"],
    ] as const) {
      const m = gmemMachine({ blocks: 6, policy: { evictBatch: 1, eviction } });
      const { gmem, va } = m;
      for (let b = 0; b < 4; b++) gmem.access("gpu0", "w", va + b * HPAGE, 1, new Uint8Array([b]));
      gmem.access("gpu0", "r", va, 1); // B0 again: a hit
      gmem.access("gpu0", "w", va + 4 * HPAGE, 1, new Uint8Array([4])); // one eviction
      const evicted = placement(m).findIndex((p) => p === "cpu");
      expect(`B${evicted}`, eviction).toBe(victim);
      expect(gmem.stats.evictions).toBe(1);
      checkResidency(m);
    }
  });

  it("pinned pages are skipped; with every page pinned a fault fails with ENOMEM", () => {
    const m = gmemMachine({ blocks: 6, policy: { evictBatch: 1 } });
    const { gmem, va } = m;
    for (let b = 0; b < 4; b++) gmem.access("gpu0", "w", va + b * HPAGE, 1, new Uint8Array([b]));
    gmem.hmadvise(m.gpu.hnode.id, va, HPAGE, 0x1001); // PINNED: B0
    gmem.access("gpu0", "w", va + 4 * HPAGE, 1, new Uint8Array([4]));
    expect(placement(m).slice(0, 2)).toEqual(["device gpu0 +pinned", "cpu"]); // B1 went
    gmem.hmadvise(m.gpu.hnode.id, va, 6 * HPAGE, 0x1001); // all pinned
    expect(() => gmem.access("gpu0", "r", va + 5 * HPAGE, 1)).toThrow(/ENOMEM.*gpu0/);
    expect(gmem.detail.failedDeviceFaults).toBe(1);
    checkResidency(m);
  });
});
