/**
 * The tree prefetcher (`prefetch: "tree"`, `prefetchThreshold: 51`): the bitmap tree itself, and
 * sequential device sweeps with exact fault, prefetch and migration counts.
 */
import { describe, expect, it } from "vitest";

import { gmemMachine, pattern, RecordingSink, statsOf } from "../gmem.testutil.js";
import { HPAGE } from "../types.js";
import { PAGES } from "./block.js";
import { prefetchPages } from "./prefetch.js";
import { census, checkPieces } from "./uvm.testutil.js";

const K4 = 4096;
const TREE = { residency: "page" as const, prefetch: "tree" as const };

function pages(mask: Uint8Array): number[] {
  const out: number[] = [];
  mask.forEach((v, i) => v === 1 && out.push(i));
  return out;
}

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a }, (_, i) => a + i);
}

describe("the bitmap tree", () => {
  const out = new Uint8Array(PAGES);
  const resident = (n: number) => {
    const r = new Uint8Array(PAGES);
    r.fill(1, 0, n);
    return r;
  };

  it("a first fault in an empty block: its 64 KiB big page", () => {
    prefetchPages(resident(0), [0], undefined, 51, out);
    expect(pages(out)).toEqual(range(1, 16));
    prefetchPages(resident(0), [37], undefined, 51, out);
    expect(pages(out)).toEqual(range(32, 48).filter((p) => p !== 37));
  });

  it("prefetches the largest subtree more than 51% resident-or-faulted", () => {
    // 246 resident + the faulted big page 256..271 = 262 of 512: 51.2% > 51%: the whole block.
    prefetchPages(resident(246), [256], undefined, 51, out);
    expect(pages(out)).toEqual([...range(0, 256), ...range(257, 512)]);
    // 245 + 16 = 261 of 512: 50.98%, not more than 51%: the big page only.
    prefetchPages(resident(245), [256], undefined, 51, out);
    expect(pages(out)).toEqual(range(257, 272));
    // The same with threshold 50: 261 > 256.
    prefetchPages(resident(245), [256], undefined, 50, out);
    expect(pages(out).length).toBe(511);
  });

  it("threshold 100 prefetches nothing; thrashing pages stop big pages and are never prefetched", () => {
    prefetchPages(resident(0), [0], undefined, 100, out);
    expect(pages(out)).toEqual([]);
    const thr = new Uint8Array(PAGES);
    thr[5] = 1;
    prefetchPages(resident(0), [3], thr, 51, out);
    expect(pages(out)).toEqual([]);
    // Pages 0..3 resident and the faulted big page 16..31: [0, 32) is 20/32 > 51%: prefetched
    // (the resident pages are in the mask: moving them is nothing), but thrashing page 5.
    prefetchPages(resident(4), [20], thr, 51, out);
    expect(pages(out)).toEqual(range(0, 32).filter((p) => p !== 5 && p !== 20));
  });
});

/** gpu0 reads the first 8 bytes of every page of block 0 in order; the faulting pages. */
function sweep(m: ReturnType<typeof gmemMachine>): number[] {
  const faults: number[] = [];
  for (let p = 0; p < PAGES; p++) {
    const before = m.gmem.stats.deviceFaults;
    m.gmem.access("gpu0", "r", m.va + p * K4, 8);
    if (m.gmem.stats.deviceFaults !== before) faults.push(p);
  }
  return faults;
}

describe("a sequential device sweep", () => {
  it("over an untouched block: 6 faults populate it all (506 pages prefetched)", () => {
    const m = gmemMachine({ policy: TREE });
    // 0: its big page; 16: [0,32) 32/32; 32: [0,64) 48/64; 64: [0,128) 80/128;
    // 128: [0,256) 144/256; 256: [0,512) 272/512 = 53% > 51%.
    expect(sweep(m)).toEqual([0, 16, 32, 64, 128, 256]);
    expect(m.gmem.stats).toMatchObject({
      deviceFaults: 6,
      deviceFirstTouches: 6,
      prefetchedPages: 15 + 15 + 31 + 63 + 127 + 255,
      migrationsToDevice: 0,
      bytesToDevice: 0,
    });
    expect(census(m, m.va)).toEqual({ nomap: 0, cpu: 0, dev: 512 });
    checkPieces(m);
  });

  it("over a host-resident block: 6 faults, 6 migrations, 2 MiB moved", () => {
    const sink = new RecordingSink();
    const m = gmemMachine({ policy: TREE, cost: sink });
    for (let p = 0; p < PAGES; p++) m.gmem.access("cpu", "w", m.va + p * K4, 4, pattern(4, p));
    const before = { ...m.gmem.stats };
    const far0 = sink.counts.farFault;
    expect(sweep(m)).toEqual([0, 16, 32, 64, 128, 256]);
    const s = statsOf(m);
    expect(s.migrationsToDevice - before.migrationsToDevice).toBe(6);
    expect(s.bytesToDevice - before.bytesToDevice).toBe(HPAGE);
    expect(s.prefetchedPages - before.prefetchedPages).toBe(506);
    expect(sink.counts.farFault - far0).toBe(6);
    for (const p of [0, 100, 511])
      expect(m.gmem.access("gpu0", "r", m.va + p * K4, 4)).toEqual(pattern(4, p));
    checkPieces(m);
  });

  it("without the prefetcher every page faults; with threshold 100 likewise", () => {
    expect(sweep(gmemMachine({ policy: { residency: "page" } })).length).toBe(512);
    const m = gmemMachine({ policy: { ...TREE, prefetchThreshold: 100 } });
    expect(sweep(m).length).toBe(512);
    expect(m.gmem.stats.prefetchedPages).toBe(0);
  });

  it("under residency block the tree has nothing to add (the block moves whole)", () => {
    const m = gmemMachine({ policy: { prefetch: "tree" } });
    expect(sweep(m)).toEqual([0]);
    expect(m.gmem.stats).toMatchObject({ prefetchedPages: 0, deviceFirstTouches: 1 });
  });
});
