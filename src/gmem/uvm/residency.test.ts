/**
 * `residency: "page"` alone and under the uvm policy: residency per 4 KiB page inside each
 * 2 MiB block, against the gmem policy's whole blocks, with exact counters.
 */
import { describe, expect, it } from "vitest";

import { gmemMachine, M, pattern, RecordingSink, statsOf } from "../gmem.testutil.js";
import { UVM_POLICY } from "../policy.js";
import { GM_MMU_MODE, HPAGE, MADV, NO_HNID, PROT_RW } from "../types.js";
import { PROT } from "../../mmu/prot.js";
import { census, checkPieces, where } from "./uvm.testutil.js";

const K4 = 4096;
const ZERO = {
  deviceFaults: 0,
  hostFaults: 0,
  migrationsToDevice: 0,
  migrationsToHost: 0,
  evictions: 0,
  prefetchedPages: 0,
  thrashingEvents: 0,
  bytesToDevice: 0,
  bytesToHost: 0,
  deviceFirstTouches: 0,
  cpuFirstTouches: 0,
};
const PAGE_ONLY = { residency: "page" as const };

/** The CPU writes page 7 of each of 4 blocks, then gpu0 reads each. */
function onePagePerBlock(policy: object) {
  const m = gmemMachine({ policy, blocks: 4 });
  const at = (b: number) => m.va + b * HPAGE + 7 * K4 + 24;
  for (let b = 0; b < 4; b++) m.gmem.access("cpu", "w", at(b), 8, pattern(8, b + 1));
  const got: Uint8Array[] = [];
  for (let b = 0; b < 4; b++)
    m.gmem.access("gpu0", "r", at(b), 8, undefined, (x) => got.push(x.slice()));
  m.gmem.flush();
  expect(got).toEqual([0, 1, 2, 3].map((b) => pattern(8, b + 1)));
  return m;
}

describe("one 4 KiB page touched per block", () => {
  it("gmem moves 2 MiB per block", () => {
    const m = onePagePerBlock({});
    expect(statsOf(m)).toEqual({
      ...ZERO,
      deviceFaults: 4,
      migrationsToDevice: 4,
      bytesToDevice: 4 * HPAGE,
      cpuFirstTouches: 4,
    });
  });

  it("residency page moves the 4 KiB page alone", () => {
    const m = onePagePerBlock(PAGE_ONLY);
    expect(statsOf(m)).toEqual({
      ...ZERO,
      deviceFaults: 4,
      migrationsToDevice: 4,
      bytesToDevice: 4 * K4,
      cpuFirstTouches: 4,
    });
    expect(census(m, m.va)).toEqual({ nomap: 511, cpu: 0, dev: 1 });
    checkPieces(m);
  });

  it("uvm moves the 64 KiB big page (the prefetcher's, on the CPU's first touch too)", () => {
    const m = onePagePerBlock(UVM_POLICY);
    // Each CPU first touch populates its big page (15 pages prefetched), each device fault
    // moves the 16 pages (15 prefetched): one batch of 4 faults, one service per block.
    expect(statsOf(m)).toEqual({
      ...ZERO,
      deviceFaults: 4,
      migrationsToDevice: 4,
      bytesToDevice: 4 * 64 * 1024,
      prefetchedPages: 4 * 15 + 4 * 15,
      cpuFirstTouches: 4,
    });
    expect(m.gmem.uvm!.stats).toMatchObject({ batches: 1, batchEntries: 4, blockServices: 8 });
    expect(census(m, m.va)).toEqual({ nomap: 496, cpu: 0, dev: 16 });
    checkPieces(m);
  });
});

describe("a block resident in two places", () => {
  it("a CPU fault brings one page home; the frame keeps the others", () => {
    const m = gmemMachine({ policy: PAGE_ONLY });
    const { gmem, va } = m;
    for (let p = 0; p < 3; p++) gmem.access("gpu0", "w", va + p * K4, 4, pattern(4, p + 1));
    expect(gmem.access("cpu", "r", va + K4, 4)).toEqual(pattern(4, 2));
    expect(statsOf(m)).toEqual({
      ...ZERO,
      deviceFaults: 3,
      deviceFirstTouches: 3,
      hostFaults: 1,
      migrationsToHost: 1,
      bytesToHost: K4,
    });
    expect([where(m, va), where(m, va + K4), where(m, va + 2 * K4)]).toEqual([
      "gpu0",
      "cpu",
      "gpu0",
    ]);
    expect(m.gpu.hnode.nrActivePages).toBe(1);
    checkPieces(m);
    // The device faults the page back; the others never left.
    expect(gmem.access("gpu0", "r", va + K4, 4)).toEqual(pattern(4, 2));
    expect(gmem.access("gpu0", "r", va + 2 * K4, 4)).toEqual(pattern(4, 3));
    expect(gmem.stats).toMatchObject({ deviceFaults: 4, migrationsToDevice: 1, bytesToDevice: K4 });
    checkPieces(m);
  });

  it("another device takes the pages it faults; the block's others come home first", () => {
    const m = gmemMachine({ policy: PAGE_ONLY, devices: ["gpu0", "npu0"] });
    const { gmem, va } = m;
    gmem.access("gpu0", "w", va, 4, pattern(4, 1));
    gmem.access("gpu0", "w", va + K4, 4, pattern(4, 2));
    expect(gmem.access("npu0", "r", va + K4, 4)).toEqual(pattern(4, 2));
    // gpu0's two pages home (one migration), the faulted one on to npu0 (one migration).
    expect(gmem.stats).toMatchObject({
      migrationsToHost: 1,
      bytesToHost: 2 * K4,
      migrationsToDevice: 1,
      bytesToDevice: K4,
    });
    expect([where(m, va), where(m, va + K4)]).toEqual(["cpu", "npu0"]);
    checkPieces(m);
  });
});

describe("eviction of partly resident blocks", () => {
  it("evicts the 2 MiB frame: the resident pieces go home as one migration", () => {
    // One page per eviction round (openEuler's rounds take 16: here all four would go).
    for (const [policy, bytes] of [
      [{ evictBatch: 1 }, HPAGE],
      [{ ...PAGE_ONLY, evictBatch: 1 }, 2 * K4],
    ] as const) {
      const m = gmemMachine({ policy, blocks: 5, deviceMemory: 8 * M });
      const { gmem, va } = m;
      for (let b = 0; b < 5; b++)
        for (const p of [0, 9])
          gmem.access("gpu0", "w", va + b * HPAGE + p * K4, 4, pattern(4, b + p));
      expect(gmem.stats.evictions).toBe(1);
      expect(gmem.stats.migrationsToHost).toBe(1);
      expect(gmem.stats.bytesToHost).toBe(bytes);
      // Evicted pages are mapped on the CPU at once: no host fault to read them.
      expect(gmem.access("cpu", "r", va + 9 * K4, 4)).toEqual(pattern(4, 9));
      expect(gmem.stats.hostFaults).toBe(0);
      if (policy.evictBatch === 1 && "residency" in policy) checkPieces(m);
    }
  });

  it("an eviction in flight is cancelled by a device fault (MIGRATING), its pieces mapped again", () => {
    const m = gmemMachine({ policy: PAGE_ONLY });
    const { gmem, va, gpu } = m;
    gmem.access("gpu0", "w", va + 3 * K4, 4, pattern(4));
    gmem.access("cpu", "w", va + 4 * K4, 4, pattern(4, 9));
    expect(gmem.reclaim(gpu.hnode.id, 1, { defer: true })).toBe(1);
    checkPieces(m);
    expect(gmem.access("gpu0", "r", va + 3 * K4, 4)).toEqual(pattern(4));
    expect(gmem.detail).toMatchObject({ migratingAnswers: 1, evictionsCancelled: 1 });
    expect(gmem.stats.evictions).toBe(0);
    checkPieces(m);
  });
});

describe("hints, frees and copies on pieces", () => {
  it("hmadvise PREFETCH takes the whole block (4 KiB pages counted)", () => {
    const m = gmemMachine({ policy: PAGE_ONLY });
    const { gmem, va, gpu } = m;
    for (const p of [1, 2, 300]) gmem.access("cpu", "w", va + p * K4, 4, pattern(4, p));
    expect(gmem.hmadvise(gpu.hnode.id, va, HPAGE, MADV.PREFETCH)).toBe(512);
    expect(gmem.stats).toMatchObject({
      prefetchedPages: 512,
      migrationsToDevice: 1,
      bytesToDevice: 3 * K4,
      deviceFaults: 0,
    });
    expect(census(m, va)).toEqual({ nomap: 0, cpu: 0, dev: 512 });
    expect(gmem.access("gpu0", "r", va + 300 * K4, 4)).toEqual(pattern(4, 300));
    expect(gmem.stats.deviceFaults).toBe(0);
    checkPieces(m);
  });

  it("DONTNEED and munmap free every piece; mprotect reaches both memories", () => {
    const m = gmemMachine({ policy: PAGE_ONLY, blocks: 2 });
    const { gmem, va, proc } = m;
    gmem.access("gpu0", "w", va, 4, pattern(4));
    gmem.access("cpu", "w", va + K4, 4, pattern(4));
    gmem.access("gpu0", "w", va + HPAGE, 4, pattern(4));
    proc.mprotect(va, HPAGE, PROT.READ);
    expect(() => gmem.access("cpu", "w", va + K4, 4, pattern(4))).toThrow();
    expect(() => gmem.access("gpu0", "w", va, 4, pattern(4))).toThrow();
    expect(gmem.access("gpu0", "r", va, 4)).toEqual(pattern(4));
    proc.mprotect(va, HPAGE, PROT_RW);
    checkPieces(m);
    gmem.hmadvise(NO_HNID, va, HPAGE, MADV.DONTNEED);
    expect(census(m, va)).toEqual({ nomap: 512, cpu: 0, dev: 0 });
    expect(gmem.access("cpu", "r", va + K4, 4)).toEqual(new Uint8Array(4));
    checkPieces(m);
    proc.munmap(va + HPAGE, HPAGE);
    expect(m.gpu.hnode.nrActivePages).toBe(0);
    checkPieces(m);
  });

  it("hmemcpy copies page by page and populates a NOMAP destination on the device", () => {
    const sink = new RecordingSink();
    const m = gmemMachine({ policy: PAGE_ONLY, cost: sink });
    const { gmem, va, gpu } = m;
    gmem.access("cpu", "w", va + K4 - 4, 8, pattern(8));
    gmem.hmemcpy(gpu.hnode.id, va + HPAGE + 100, va + K4 - 4, 8);
    expect(where(m, va + HPAGE)).toBe("gpu0");
    expect(gmem.access("gpu0", "r", va + HPAGE + 100, 8)).toEqual(pattern(8));
    expect(gmem.stats).toMatchObject({
      migrationsToDevice: 0,
      deviceFaults: 0,
      deviceFirstTouches: 1,
    });
    expect(sink.counts.migratedBytes).toBe(8);
    checkPieces(m);
  });
});

describe("SHARE and REPLICATE devices under the engine", () => {
  it("reach host memory: their faults bring pages home (populated there); nothing migrates to them", () => {
    for (const mode of [GM_MMU_MODE.SHARE, GM_MMU_MODE.REPLICATE]) {
      const m = gmemMachine({ policy: UVM_POLICY, mode });
      const { gmem, va } = m;
      gmem.access("gpu0", "w", va + 5 * K4, 4, pattern(4));
      expect(gmem.access("cpu", "r", va + 5 * K4, 4)).toEqual(pattern(4));
      expect(gmem.access("gpu0", "r", va + 5 * K4, 4)).toEqual(pattern(4));
      expect(where(m, va + 5 * K4)).toBe("cpu");
      expect(gmem.stats).toMatchObject({
        migrationsToDevice: 0,
        hostFaults: 0,
        cpuFirstTouches: 1,
      });
      expect(m.gpu.hnode.nrActivePages).toBe(0);
    }
  });
});
