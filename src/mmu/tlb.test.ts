import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PERM } from "./prot.js";
import type { TlbEntry, TlbReplacement } from "./tlb.js";
import { formatPerm, formatTlb, Tlb } from "./tlb.js";
import { expectError } from "../base/errors.testutil.js";

const K = 1024;
const M = 1024 * K;
const G = 1024 * M;

const RW = PERM.READ_PRIV | PERM.WRITE_PRIV | PERM.READ_USER | PERM.WRITE_USER | PERM.AF;
const RWG = RW | PERM.GLOBAL;

/** The vas of a TLB's entries, sorted, for compact assertions. */
function vas(tlb: Tlb): number[] {
  return tlb
    .entries()
    .map((e) => e.va)
    .sort((a, b) => a - b);
}

describe("Tlb geometry", () => {
  it("refuses bad geometry with EINVAL naming the value", () => {
    expectError(() => new Tlb({ sets: 0, ways: 4, replacement: "lru" }), "EINVAL", "sets 0");
    expectError(() => new Tlb({ sets: 3, ways: 4, replacement: "lru" }), "EINVAL", "sets 3");
    expectError(() => new Tlb({ sets: -4, ways: 4, replacement: "lru" }), "EINVAL", "sets -4");
    expectError(() => new Tlb({ sets: 2.5, ways: 4, replacement: "lru" }), "EINVAL", "sets 2.5");
    expectError(() => new Tlb({ sets: 4, ways: 0, replacement: "lru" }), "EINVAL", "ways 0");
    expectError(() => new Tlb({ sets: 4, ways: 1.5, replacement: "lru" }), "EINVAL", "ways 1.5");
    expectError(
      () => new Tlb({ sets: 2 ** 20, ways: 2, replacement: "lru", name: "huge" }),
      "EINVAL",
      `TLB "huge": 1048576 sets x 2 ways`,
    );
    expectError(
      () => new Tlb({ sets: 2 ** 33, ways: 1, replacement: "lru" }),
      "EINVAL",
      "8589934592 sets x 1 ways",
    );
    expectError(
      () => new Tlb({ sets: 4, ways: 4, replacement: "plru" as TlbReplacement }),
      "EINVAL",
      `"plru"`,
    );
    expectError(
      () => new Tlb({ sets: 4, ways: 4, replacement: "random", seed: -1 }),
      "EINVAL",
      "-1",
    );
  });

  it("accepts fully associative and direct-mapped shapes", () => {
    const fa = new Tlb({ sets: 1, ways: 32, replacement: "lru" });
    expect(fa.capacity).toBe(32);
    const dm = new Tlb({ sets: 64, ways: 1, replacement: "fifo" });
    expect(dm.capacity).toBe(64);
    for (let i = 0; i < 64; i++) dm.insert(i * 4 * K, 4 * K, i * 4 * K, RW, 1, 0, 3);
    expect(dm.stats().valid).toBe(64);
    expect(dm.stats().evictions).toBe(0);
  });

  it("refuses a page size that is not a power of two from 4K, changing nothing", () => {
    const tlb = new Tlb({ sets: 4, ways: 2, replacement: "lru", name: "t" });
    for (const bad of [0, 2048, 12 * K, 2 ** 53, NaN, -4096]) {
      expectError(() => tlb.insert(0, bad, 0, RW, 0, 0, 3), "EINVAL", `page size ${bad}`);
    }
    expect(tlb.stats()).toMatchObject({ inserts: 0, valid: 0 });
    expectError(() => tlb.invalidateRange(0, -1, undefined, 0), "EINVAL", "size -1");
  });
});

describe("Tlb lookup and insert", () => {
  it("hits on the cached page, misses elsewhere, with accessors and translate", () => {
    const tlb = new Tlb({ sets: 16, ways: 4, replacement: "lru" });
    const i = tlb.insert(0x4000_3000, 4 * K, 0x8765_4000, RW, 5, 2, 3);
    expect(tlb.lookup(0x4000_3000, 5, 2)).toBe(i);
    expect(tlb.lookup(0x4000_3fff, 5, 2)).toBe(i);
    expect(tlb.entryPa(i)).toBe(0x8765_4000);
    expect(tlb.entryVa(i)).toBe(0x4000_3000);
    expect(tlb.entryPageSize(i)).toBe(4 * K);
    expect(tlb.entryPageLog2(i)).toBe(12);
    expect(tlb.entryPerm(i)).toBe(RW);
    expect(tlb.entryLevel(i)).toBe(3);
    expect(tlb.entryAsid(i)).toBe(5);
    expect(tlb.entryVmid(i)).toBe(2);
    expect(tlb.translate(0x4000_3abc, 5, 2)).toBe(0x8765_4abc);
    expect(tlb.lookup(0x4000_4000, 5, 2)).toBe(-1); // next page
    expect(tlb.lookup(0x4000_2fff, 5, 2)).toBe(-1); // previous page
    expect(tlb.lookup(0x4000_3000, 6, 2)).toBe(-1); // other ASID
    expect(tlb.lookup(0x4000_3000, 5, 3)).toBe(-1); // other VMID
    expect(tlb.translate(0x4000_3000, 6, 2)).toBe(-1);
    expect(tlb.stats()).toEqual({
      lookups: 8,
      hits: 3,
      misses: 5,
      inserts: 1,
      evictions: 0,
      invalidations: 0,
      invalidatedEntries: 0,
      valid: 1,
    });
    // peek counts nothing.
    expect(tlb.peek(0x4000_3000, 5, 2)).toBe(i);
    expect(tlb.stats().lookups).toBe(8);
    tlb.resetStats();
    expect(tlb.stats()).toMatchObject({ lookups: 0, hits: 0, inserts: 0, valid: 1 });
  });

  it("handles addresses and page numbers above 2^32 exactly", () => {
    const tlb = new Tlb({ sets: 256, ways: 4, replacement: "lru" });
    const va = 2 ** 52 - 2 * M; // 52-bit VA, 2M aligned
    const pa = 2 ** 51 + 6 * M;
    tlb.insert(va, 2 * M, pa, RW, 1, 0, 2);
    tlb.insert(0xffff_f000 + 4 * K, 4 * K, 0x1_0000_0000, RW, 1, 0, 3);
    expect(tlb.translate(va + 0x1_2345, 1, 0)).toBe(pa + 0x1_2345);
    expect(tlb.translate(2 ** 52 - 1, 1, 0)).toBe(pa + 2 * M - 1);
    expect(tlb.translate(0x1_0000_0123, 1, 0)).toBe(0x1_0000_0123);
    expect(tlb.translate(va - 1, 1, 0)).toBe(-1);
    expect(tlb.translate(0x2_0000_0123, 1, 0)).toBe(-1); // same low 32 bits, different page
  });

  it("a 2M entry hits for every 4K page inside it: large pages extend reach", () => {
    const tlb = new Tlb({ sets: 16, ways: 4, replacement: "lru" });
    tlb.insert(0x4020_0000, 2 * M, 0x8020_0000, RW, 1, 0, 2);
    for (let p = 0; p < 512; p++) {
      const va = 0x4020_0000 + p * 4 * K + 0x10;
      expect(tlb.translate(va, 1, 0)).toBe(0x8020_0000 + p * 4 * K + 0x10);
    }
    expect(tlb.lookup(0x4040_0000, 1, 0)).toBe(-1);
    expect(tlb.lookup(0x401f_ffff, 1, 0)).toBe(-1);
    // 64 entries of 4K reach 256 KiB; 64 entries of 2M reach 128 MiB.
    const small = new Tlb({ sets: 16, ways: 4, replacement: "lru" });
    const big = new Tlb({ sets: 16, ways: 4, replacement: "lru" });
    for (let i = 0; i < 64; i++) {
      small.insert(i * 4 * K, 4 * K, i * 4 * K, RW, 0, 0, 3);
      big.insert(i * 2 * M, 2 * M, i * 2 * M, RW, 0, 0, 2);
    }
    let smallHits = 0;
    let bigHits = 0;
    for (let va = 0; va < 128 * M; va += 64 * K) {
      if (small.lookup(va, 0, 0) >= 0) smallHits++;
      if (big.lookup(va, 0, 0) >= 0) bigHits++;
    }
    expect(smallHits).toBe(4); // 256 KiB / 64 KiB
    expect(bigHits).toBe(2048); // everything
  });

  it("mixes page sizes: probes each present size, smallest first", () => {
    const tlb = new Tlb({ sets: 8, ways: 2, replacement: "lru" });
    expect(tlb.sizeHistogram()).toEqual([]);
    tlb.insert(0, 1 * G, 0x1_0000_0000, RW, 0, 0, 1);
    tlb.insert(0x20_0000, 2 * M, 0x4000_0000, RW, 0, 0, 2);
    tlb.insert(0x20_1000, 4 * K, 0x9000, RW, 0, 0, 3);
    tlb.insert(0x40_0000, 64 * K, 0x7_0000, RW, 0, 0, 3);
    expect(tlb.sizeHistogram()).toEqual([
      { size: 4 * K, count: 1 },
      { size: 64 * K, count: 1 },
      { size: 2 * M, count: 1 },
      { size: 1 * G, count: 1 },
    ]);
    expect(tlb.translate(0x20_1004, 0, 0)).toBe(0x9004); // 4K shadows 2M
    expect(tlb.translate(0x20_2004, 0, 0)).toBe(0x4000_2004); // 2M shadows 1G
    expect(tlb.translate(0x40_1000, 0, 0)).toBe(0x7_1000); // 64K
    expect(tlb.translate(0x50_0000, 0, 0)).toBe(0x1_0050_0000); // 1G
    expect(tlb.translate(1 * G, 0, 0)).toBe(-1);
    tlb.invalidateRange(0x20_1000, 4 * K, 0, 0); // removes the 4K, the 2M and the 1G entry
    expect(tlb.sizeHistogram()).toEqual([{ size: 64 * K, count: 1 }]);
  });

  it("replaces an entry of the same tag instead of duplicating it", () => {
    const tlb = new Tlb({ sets: 4, ways: 4, replacement: "lru" });
    const a = tlb.insert(0x1000, 4 * K, 0xa000, RW, 1, 0, 3);
    const b = tlb.insert(0x1000, 4 * K, 0xb000, RW & ~PERM.WRITE_USER, 1, 0, 3);
    expect(b).toBe(a);
    expect(tlb.stats()).toMatchObject({ valid: 1, evictions: 0, inserts: 2 });
    expect(tlb.translate(0x1234, 1, 0)).toBe(0xb234);
    expect(tlb.entryPerm(b)).toBe(RW & ~PERM.WRITE_USER);
    // Other ASIDs and VMIDs are other tags.
    tlb.insert(0x1000, 4 * K, 0xc000, RW, 2, 0, 3);
    tlb.insert(0x1000, 4 * K, 0xd000, RW, 1, 1, 3);
    expect(tlb.stats().valid).toBe(3);
    // A global entry is the same tag as every ASID's entry of its VMID: they all go.
    tlb.insert(0x1000, 4 * K, 0xe000, RWG, 7, 0, 3);
    expect(tlb.stats().valid).toBe(2);
    expect(tlb.translate(0x1000, 1, 0)).toBe(0xe000);
    expect(tlb.translate(0x1000, 2, 0)).toBe(0xe000);
    expect(tlb.translate(0x1000, 1, 1)).toBe(0xd000);
    // And a non-global insert replaces the global one it would be confused with.
    tlb.insert(0x1000, 4 * K, 0xf000, RW, 3, 0, 3);
    expect(tlb.stats().valid).toBe(2);
    expect(tlb.translate(0x1000, 1, 0)).toBe(-1);
    expect(tlb.translate(0x1000, 3, 0)).toBe(0xf000);
  });

  it("global entries match any ASID but not another VMID", () => {
    const tlb = new Tlb({ sets: 4, ways: 4, replacement: "lru" });
    tlb.insert(0xffff_0000, 4 * K, 0x1000, RWG, 0, 3, 3);
    for (const asid of [0, 1, 255, 65535]) expect(tlb.translate(0xffff_0008, asid, 3)).toBe(0x1008);
    expect(tlb.lookup(0xffff_0008, 0, 4)).toBe(-1);
    expect(tlb.lookup(0xffff_0008, 0, 0)).toBe(-1);
    // Invalidating an ASID leaves global entries; invalidating the VMID removes them.
    tlb.insert(0x2000, 4 * K, 0x2000, RW, 9, 3, 3);
    tlb.invalidateAsid(0, 3);
    tlb.invalidateAsid(9, 3);
    expect(vas(tlb)).toEqual([0xffff_0000]);
    tlb.invalidateVmid(2);
    expect(vas(tlb)).toEqual([0xffff_0000]);
    tlb.invalidateVmid(3);
    expect(vas(tlb)).toEqual([]);
    expect(tlb.stats()).toMatchObject({ invalidations: 4, invalidatedEntries: 2, valid: 0 });
  });
});

describe("Tlb replacement", () => {
  /** 1 set x 4 ways: insert A..D, use A, insert E; returns the vas left. */
  function scenario(replacement: TlbReplacement, seed?: number): Tlb {
    const tlb = new Tlb({ sets: 1, ways: 4, replacement, seed });
    for (let p = 0; p < 4; p++) tlb.insert(p * 4 * K, 4 * K, p * 4 * K, RW, 0, 0, 3);
    expect(tlb.lookup(0, 0, 0)).toBeGreaterThanOrEqual(0); // use A
    expect(tlb.lookup(0, 0, 0)).toBeGreaterThanOrEqual(0);
    tlb.insert(4 * 4 * K, 4 * K, 0, RW, 0, 0, 3); // E
    return tlb;
  }

  it("LRU evicts the least recently used entry", () => {
    const tlb = scenario("lru");
    expect(vas(tlb)).toEqual([0, 2, 3, 4].map((p) => p * 4 * K)); // B went
    tlb.lookup(2 * 4 * K, 0, 0); // use C; D is now the oldest
    tlb.insert(5 * 4 * K, 4 * K, 0, RW, 0, 0, 3);
    expect(vas(tlb)).toEqual([0, 2, 4, 5].map((p) => p * 4 * K));
    expect(tlb.stats().evictions).toBe(2);
  });

  it("FIFO evicts in insertion order regardless of hits", () => {
    const tlb = scenario("fifo");
    expect(vas(tlb)).toEqual([1, 2, 3, 4].map((p) => p * 4 * K)); // A went despite its hits
    for (let p = 1; p < 4; p++) tlb.lookup(p * 4 * K, 0, 0);
    tlb.insert(5 * 4 * K, 4 * K, 0, RW, 0, 0, 3);
    expect(vas(tlb)).toEqual([2, 3, 4, 5].map((p) => p * 4 * K));
    tlb.insert(6 * 4 * K, 4 * K, 0, RW, 0, 0, 3);
    tlb.insert(7 * 4 * K, 4 * K, 0, RW, 0, 0, 3);
    tlb.insert(8 * 4 * K, 4 * K, 0, RW, 0, 0, 3);
    expect(vas(tlb)).toEqual([5, 6, 7, 8].map((p) => p * 4 * K));
  });

  it("random replacement is deterministic for a seed", () => {
    function run(seed: number): string {
      const tlb = new Tlb({ sets: 2, ways: 4, replacement: "random", seed });
      for (let p = 0; p < 200; p++) tlb.insert(p * 4 * K, 4 * K, p, RW, 0, 0, 3);
      expect(tlb.stats().evictions).toBe(192);
      return JSON.stringify(tlb.entries());
    }
    expect(run(7)).toBe(run(7));
    expect(run(0)).toBe(run(0));
    const distinct = new Set([1, 2, 3, 4, 5].map(run));
    expect(distinct.size).toBeGreaterThan(1);
  });

  it("LRU order survives the 32-bit age clock wrapping", () => {
    const tlb = new Tlb({ sets: 2, ways: 3, replacement: "lru" });
    (tlb as unknown as { clock: number }).clock = 0xffff_fffd;
    for (let p = 0; p < 3; p++) tlb.insert(p * 8 * K, 4 * K, 0, RW, 0, 0, 3); // set 0; wraps
    tlb.lookup(0, 0, 0); // A is newest; B (8K) oldest
    tlb.insert(3 * 8 * K, 4 * K, 0, RW, 0, 0, 3);
    expect(vas(tlb)).toEqual([0, 16 * K, 24 * K]);
    expect((tlb as unknown as { clock: number }).clock).toBeLessThan(10);
  });

  it("fills invalid ways before evicting", () => {
    for (const replacement of ["lru", "fifo", "random"] as const) {
      const tlb = new Tlb({ sets: 1, ways: 4, replacement });
      for (let p = 0; p < 4; p++) tlb.insert(p * 4 * K, 4 * K, 0, RW, 0, 0, 3);
      tlb.invalidateRange(2 * 4 * K, 4 * K, undefined, 0);
      tlb.insert(9 * 4 * K, 4 * K, 0, RW, 0, 0, 3);
      expect(tlb.stats().evictions).toBe(0);
      expect(vas(tlb)).toEqual([0, 1, 3, 9].map((p) => p * 4 * K));
    }
  });
});

describe("Tlb invalidation", () => {
  it("invalidateRange removes big pages that overlap the range only in part", () => {
    const tlb = new Tlb({ sets: 64, ways: 4, replacement: "lru" });
    tlb.insert(0x4000_0000, 2 * M, 0x8000_0000, RW, 1, 0, 2); // [1G, 1G+2M)
    tlb.insert(0x4020_0000, 2 * M, 0x8020_0000, RW, 1, 0, 2); // [1G+2M, 1G+4M)
    tlb.insert(0x4040_0000, 4 * K, 0x8040_0000, RW, 1, 0, 3);
    tlb.insert(0x3fff_f000, 4 * K, 0x7fff_f000, RW, 1, 0, 3);
    // One 4K page in the middle of the first 2M page takes that whole entry only.
    tlb.invalidateRange(0x4010_0000, 4 * K, 1, 0);
    expect(vas(tlb)).toEqual([0x3fff_f000, 0x4020_0000, 0x4040_0000]);
    // A range straddling the boundary between the second 2M page and the 4K page takes both.
    tlb.invalidateRange(0x403f_f000, 8 * K, undefined, 0);
    expect(vas(tlb)).toEqual([0x3fff_f000]);
    // A range ending exactly at a page's base does not touch it; one starting at its end neither.
    tlb.insert(0x4000_0000, 2 * M, 0x8000_0000, RW, 1, 0, 2);
    tlb.invalidateRange(0x3000_0000, 0x0fff_f000, undefined, 0); // ends at 0x3fff_f000
    tlb.invalidateRange(0x4020_0000, 1 * G, undefined, 0);
    expect(vas(tlb)).toEqual([0x3fff_f000, 0x4000_0000]);
    tlb.invalidateRange(0x3fff_ffff, 2, undefined, 0);
    expect(vas(tlb)).toEqual([]);
    expect(tlb.stats()).toMatchObject({ invalidations: 5, invalidatedEntries: 5 });
  });

  it("invalidateRange with an ASID takes that ASID's and the global entries only", () => {
    const tlb = new Tlb({ sets: 64, ways: 4, replacement: "lru" });
    tlb.insert(0x1000, 4 * K, 0x1000, RW, 1, 0, 3);
    tlb.insert(0x1000, 4 * K, 0x2000, RW, 2, 0, 3);
    tlb.insert(0x1000, 4 * K, 0x3000, RW, 1, 1, 3);
    tlb.insert(0x2000, 4 * K, 0x4000, RWG, 0, 0, 3);
    tlb.invalidateRange(0, 16 * K, 1, 0);
    expect(tlb.entries().map((e) => e.pa)).toEqual([0x2000, 0x3000].sort((a, b) => a - b));
    tlb.invalidateRange(0, 16 * K, undefined, 1);
    expect(tlb.entries().map((e) => e.pa)).toEqual([0x2000]);
    tlb.invalidateRange(0, 0, undefined, 0); // empty range
    expect(tlb.stats()).toMatchObject({ valid: 1, invalidations: 3, invalidatedEntries: 3 });
  });

  it("probing and scanning give the same result", () => {
    // A large TLB with many entries: small ranges probe, large ranges scan.
    const ranges: Array<[number, number]> = [
      [0x10_0000, 4 * K],
      [0x10_3000, 20 * K],
      [0x1f_f000, 12 * K],
      [0, 64 * M],
      [0x20_0000, 2 * M],
      [0x13_5000, 3 * M],
    ];
    for (const [va, size] of ranges) {
      const tlb = new Tlb({ sets: 1024, ways: 4, replacement: "lru" });
      const all: TlbEntry[] = [];
      for (let p = 0; p < 1024; p++)
        tlb.insert(0x10_0000 + p * 4 * K, 4 * K, p * 4 * K, RW, 0, 0, 3);
      for (let p = 0; p < 8; p++) tlb.insert(0x40_0000 + p * 2 * M, 2 * M, p * 2 * M, RW, 0, 0, 2);
      all.push(...tlb.entries());
      tlb.invalidateRange(va, size, 0, 0);
      const expected = all.filter((e) => e.va + e.size <= va || va + size <= e.va);
      expect(vas(tlb)).toEqual(expected.map((e) => e.va).sort((a, b) => a - b));
      expect(tlb.stats().invalidatedEntries).toBe(all.length - expected.length);
    }
  });

  it("invalidateAll costs the valid entries, not the capacity", () => {
    const tlb = new Tlb({ sets: 2 ** 18, ways: 4, replacement: "fifo" });
    tlb.insert(0x1000, 4 * K, 0, RW, 0, 0, 3);
    tlb.insert(0x20_0000, 2 * M, 0, RW, 0, 0, 2);
    const t0 = performance.now();
    for (let i = 0; i < 10_000; i++) {
      tlb.invalidateAll();
      tlb.insert(0x1000, 4 * K, 0, RW, 0, 0, 3);
    }
    // 10,000 passes over a million slots would take seconds.
    expect(performance.now() - t0).toBeLessThan(500);
    tlb.invalidateAll();
    expect(tlb.stats()).toMatchObject({
      valid: 0,
      invalidations: 10_001,
      invalidatedEntries: 10_002,
    });
    expect(tlb.lookup(0x1000, 0, 0)).toBe(-1);
    expect(tlb.sizeHistogram()).toEqual([]);
  });
});

describe("Tlb dumps", () => {
  it("lists entries by set then way and formats them", () => {
    const tlb = new Tlb({ sets: 256, ways: 4, replacement: "lru", name: "cpu0" });
    tlb.insert(0x4020_0000, 2 * M, 0x8020_0000, RW, 5, 0, 2);
    tlb.insert(0x4020_0000, 4 * K, 0x9000, PERM.READ_PRIV | PERM.GLOBAL, 0, 1, 3);
    tlb.insert(0x3000, 4 * K, 0x3000, RW | PERM.EXEC_USER, 1, 0, 3);
    tlb.lookup(0x4020_0010, 5, 0);
    const e = tlb.entries();
    expect(e.map((x) => [x.set, x.way])).toEqual([
      [0, 0],
      [1, 0],
      [3, 0],
    ]);
    expect(e[1]).toEqual({
      va: 0x4020_0000,
      size: 2 * M,
      pa: 0x8020_0000,
      perm: RW,
      asid: 5,
      vmid: 0,
      global: false,
      level: 2,
      set: 1,
      way: 0,
    });
    expect(formatPerm(RW)).toBe("r w - R W -");
    expect(formatTlb(tlb).split("\n")).toEqual([
      `TLB "cpu0": 256 sets x 4 ways = 1024 entries, lru; 3 valid (4K:2 2M:1)`,
      `  lookups 1  hits 1 (100.0%)  misses 0  inserts 3  evictions 0  invalidations 0 (0 entries)`,
      `set   0 way 0  va 0x0000000040200000 -> pa 0x0000000000009000    4K  asid - vmid 1  perm r - - - - -  -- G L3`,
      `set   1 way 0  va 0x0000000040200000 -> pa 0x0000000080200000    2M  asid 5 vmid 0  perm r w - R W -  AF nG L2`,
      `set   3 way 0  va 0x0000000000003000 -> pa 0x0000000000003000    4K  asid 1 vmid 0  perm r w - R W X  AF nG L3`,
    ]);
  });
});

// ------------------------------------------------------------------------------------------------
// Model-based: random operations against an unbounded reference with the same semantics.

interface RefEntry {
  va: number;
  size: number;
  pa: number;
  perm: number;
  asid: number;
  vmid: number;
  level: number;
}
interface Model {
  entries: RefEntry[];
}
const isGlobal = (e: { perm: number }) => (e.perm & PERM.GLOBAL) !== 0;
const keyOf = (e: RefEntry | TlbEntry) =>
  `${e.va}/${e.size}/${e.pa}/${e.perm}/${isGlobal(e) ? "*" : e.asid}/${e.vmid}/${e.level}`;

/** Entries a lookup could not tell apart: an insert of one replaces the other. */
function sameTag(x: RefEntry, e: RefEntry): boolean {
  return (
    x.va === e.va &&
    x.size === e.size &&
    x.vmid === e.vmid &&
    (isGlobal(x) || isGlobal(e) || x.asid === e.asid)
  );
}

function refMatches(m: Model, va: number, asid: number, vmid: number): RefEntry[] {
  return m.entries.filter(
    (e) => e.vmid === vmid && (isGlobal(e) || e.asid === asid) && e.va <= va && va < e.va + e.size,
  );
}

/** Invariants after every command. */
function checkAll(m: Model, tlb: Tlb): void {
  const entries = tlb.entries();
  const st = tlb.stats();
  expect(st.valid).toBe(entries.length);
  expect(st.valid).toBeLessThanOrEqual(tlb.capacity);
  expect(st.hits + st.misses).toBe(st.lookups);
  const ref = new Set(m.entries.map(keyOf));
  // Nothing the reference doesn't have: no stale entry survives an invalidation.
  for (const e of entries) {
    expect(ref.has(keyOf(e)), `stale ${keyOf(e)}`).toBe(true);
    // Each entry sits in the set its page number selects.
    expect(e.set).toBe(Math.floor(e.va / e.size) % tlb.sets);
  }
  // With no eviction so far, the TLB holds exactly the reference.
  if (st.evictions === 0) expect(entries.map(keyOf).sort()).toEqual([...ref].sort());
}

class Insert implements fc.Command<Model, Tlb> {
  constructor(
    readonly va: number,
    readonly size: number,
    readonly pa: number,
    readonly perm: number,
    readonly asid: number,
    readonly vmid: number,
  ) {}
  check = () => true;
  run(m: Model, tlb: Tlb): void {
    const e: RefEntry = {
      va: this.va,
      size: this.size,
      pa: this.pa,
      perm: this.perm,
      asid: this.asid,
      vmid: this.vmid,
      level: this.size >= 2 * M ? 2 : 3,
    };
    const before = tlb.stats().valid;
    const slot = tlb.insert(e.va, e.size, e.pa, e.perm, e.asid, e.vmid, e.level);
    expect(slot).toBeGreaterThanOrEqual(0);
    expect(tlb.stats().valid).toBeLessThanOrEqual(before + 1);
    m.entries = m.entries.filter((x) => !sameTag(x, e));
    m.entries.push(e);
    // The new entry is immediately visible.
    expect(tlb.peek(e.va, e.asid, e.vmid)).toBeGreaterThanOrEqual(0);
    checkAll(m, tlb);
  }
  toString = () =>
    `insert(0x${this.va.toString(16)}, ${this.size / K}K, 0x${this.pa.toString(16)}, ${this.perm & PERM.GLOBAL ? "G" : "nG"}, asid ${this.asid}, vmid ${this.vmid})`;
}

class Lookup implements fc.Command<Model, Tlb> {
  constructor(
    readonly va: number,
    readonly asid: number,
    readonly vmid: number,
  ) {}
  check = () => true;
  run(m: Model, tlb: Tlb): void {
    const before = tlb.stats();
    const pa = tlb.translate(this.va, this.asid, this.vmid);
    const after = tlb.stats();
    expect(after.lookups).toBe(before.lookups + 1);
    expect(after.hits).toBe(before.hits + (pa >= 0 ? 1 : 0));
    const ref = refMatches(m, this.va, this.asid, this.vmid);
    if (pa >= 0) {
      // A hit is one of the reference's translations, and agrees with it.
      const slot = tlb.peek(this.va, this.asid, this.vmid);
      const hit = tlb.entries().find((e) => e.set * tlb.ways + e.way === slot)!;
      const r = ref.find((e) => keyOf(e) === keyOf(hit));
      expect(r, `hit 0x${this.va.toString(16)} not in reference`).toBeDefined();
      expect(pa).toBe(r!.pa + (this.va - r!.va));
      // Smallest size first among what the TLB holds.
      const held = tlb
        .entries()
        .filter(
          (e) =>
            e.vmid === this.vmid &&
            (e.global || e.asid === this.asid) &&
            e.va <= this.va &&
            this.va < e.va + e.size,
        );
      expect(hit.size).toBe(Math.min(...held.map((e) => e.size)));
    } else if (tlb.stats().evictions === 0) {
      expect(ref).toEqual([]);
    }
    if (tlb.stats().evictions === 0 && ref.length > 0) {
      const smallest = ref.reduce((a, b) => (b.size < a.size ? b : a));
      expect(pa).toBe(smallest.pa + (this.va - smallest.va));
    }
    checkAll(m, tlb);
  }
  toString = () => `lookup(0x${this.va.toString(16)}, asid ${this.asid}, vmid ${this.vmid})`;
}

/**
 * An invalidation: `applies` says which entries it removes (the same predicate for the TLB's
 * entries and the reference's). The TLB must then hold exactly its entries before minus those:
 * nothing stale is left and nothing else is lost, whatever was evicted before.
 */
abstract class Invalidation implements fc.Command<Model, Tlb> {
  check = () => true;
  abstract applies(e: RefEntry | TlbEntry): boolean;
  abstract invalidate(tlb: Tlb): void;
  run(m: Model, tlb: Tlb): void {
    const before = tlb.stats();
    const kept = tlb
      .entries()
      .filter((e) => !this.applies(e))
      .map(keyOf);
    this.invalidate(tlb);
    m.entries = m.entries.filter((e) => !this.applies(e));
    const after = tlb.stats();
    expect(tlb.entries().map(keyOf)).toEqual(kept);
    expect(after.invalidations).toBe(before.invalidations + 1);
    expect(after.invalidatedEntries - before.invalidatedEntries).toBe(before.valid - after.valid);
    checkAll(m, tlb);
  }
}

class InvAll extends Invalidation {
  applies = () => true;
  invalidate = (tlb: Tlb) => tlb.invalidateAll();
  override toString = () => "invalidateAll()";
}

class InvAsid extends Invalidation {
  constructor(
    readonly asid: number,
    readonly vmid: number,
  ) {
    super();
  }
  applies = (e: RefEntry | TlbEntry) =>
    e.vmid === this.vmid && e.asid === this.asid && !isGlobal(e);
  invalidate = (tlb: Tlb) => tlb.invalidateAsid(this.asid, this.vmid);
  override toString = () => `invalidateAsid(${this.asid}, ${this.vmid})`;
}

class InvVmid extends Invalidation {
  constructor(readonly vmid: number) {
    super();
  }
  applies = (e: RefEntry | TlbEntry) => e.vmid === this.vmid;
  invalidate = (tlb: Tlb) => tlb.invalidateVmid(this.vmid);
  override toString = () => `invalidateVmid(${this.vmid})`;
}

class InvRange extends Invalidation {
  constructor(
    readonly va: number,
    readonly size: number,
    readonly asid: number | undefined,
    readonly vmid: number,
  ) {
    super();
  }
  // An empty range overlaps nothing (the TLB's `size` 0 removes nothing): without the size
  // check, `[va, va)` with `va` strictly inside a page would pass both bound tests below.
  applies = (e: RefEntry | TlbEntry) =>
    this.size > 0 &&
    e.vmid === this.vmid &&
    (this.asid === undefined || isGlobal(e) || e.asid === this.asid) &&
    e.va < this.va + this.size &&
    this.va < e.va + e.size;
  invalidate = (tlb: Tlb) => tlb.invalidateRange(this.va, this.size, this.asid, this.vmid);
  override toString = () =>
    `invalidateRange(0x${this.va.toString(16)}, 0x${this.size.toString(16)}, ${this.asid}, ${this.vmid})`;
}

describe("Tlb model", () => {
  // Addresses in three windows (low, above 2^32, near 2^48) so page numbers exceed 2^32 too.
  const BASES = [0, 0x1_4000_0000, 2 ** 47];
  const SIZES = [4 * K, 16 * K, 64 * K, 2 * M];
  const WINDOW = 8 * M;
  const addr = fc
    .tuple(fc.constantFrom(...BASES), fc.integer({ min: 0, max: WINDOW - 1 }))
    .map(([b, off]) => b + off);
  const asid = fc.integer({ min: 0, max: 2 });
  const vmid = fc.integer({ min: 0, max: 1 });
  const insert = fc
    .tuple(
      addr,
      fc.constantFrom(...SIZES),
      fc.integer({ min: 0, max: 2 ** 20 }),
      fc.boolean(),
      asid,
      vmid,
    )
    .map(([va, size, paPage, global, a, v]) => {
      const base = va - (va % size);
      const pa = 2 ** 40 + Math.floor((paPage * 4 * K) / size) * size;
      return new Insert(base, size, pa, global ? RWG : RW, a, v);
    });
  const invRange = fc
    .tuple(
      addr,
      fc.oneof(
        fc.integer({ min: 1, max: 64 * K }),
        fc.integer({ min: 1, max: 64 * K }),
        fc.integer({ min: 0, max: 4 * M }),
        fc.constant(2 ** 48),
      ),
      fc.option(asid, { nil: undefined }),
      vmid,
    )
    .map(([va, size, a, v]) => new InvRange(va, size, a, v));
  // Inserts weigh most (4 of 7), so TLBs fill up and evict and small ranges take the probing
  // path; most invalidations are by range.
  const commands = [
    insert,
    insert,
    insert,
    insert,
    fc.tuple(addr, asid, vmid).map(([va, a, v]) => new Lookup(va, a, v)),
    fc.tuple(addr, asid, vmid).map(([va, a, v]) => new Lookup(va, a, v)),
    fc.oneof(
      { weight: 1, arbitrary: fc.constant(new InvAll()) },
      { weight: 2, arbitrary: fc.tuple(asid, vmid).map(([a, v]) => new InvAsid(a, v)) },
      { weight: 1, arbitrary: vmid.map((v) => new InvVmid(v)) },
      { weight: 8, arbitrary: invRange },
    ),
  ];

  it("never returns a translation the reference does not have; hits agree with it", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 2, 4, 8, 64, 1024),
        fc.integer({ min: 1, max: 5 }),
        fc.constantFrom<TlbReplacement>("lru", "fifo", "random"),
        fc.nat(1000),
        fc.commands(commands, { maxCommands: 150, size: "max" }),
        (sets, ways, replacement, seed, cmds) => {
          const tlb = new Tlb({ sets, ways, replacement, seed });
          fc.modelRun(() => ({ model: { entries: [] }, real: tlb }), cmds);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("invalidateRange on a well-filled TLB: probing and scanning remove exactly the overlaps", () => {
    // Many entries, so small ranges take the probing path (cost below the valid count).
    const page = fc.integer({ min: 0, max: 4095 });
    fc.assert(
      fc.property(
        fc.constantFrom(64, 256, 1024),
        fc.integer({ min: 2, max: 6 }),
        fc.array(
          fc.tuple(page, fc.constantFrom(...SIZES), fc.boolean(), asid, vmid, fc.nat(1000)),
          { minLength: 100, maxLength: 400 },
        ),
        fc.array(invRange, { minLength: 1, maxLength: 12 }),
        fc.constantFrom(...BASES),
        (sets, ways, inserts, ranges, base) => {
          const tlb = new Tlb({ sets, ways, replacement: "lru" });
          const m: Model = { entries: [] };
          for (const [p, size, global, a, v, paPage] of inserts) {
            const va = base + Math.floor((p * 4 * K) / size) * size;
            // Straight in, unchecked (the model test checks inserts): keeps runs and shrinking fast.
            const e = {
              va,
              size,
              pa: paPage * size,
              perm: global ? RWG : RW,
              asid: a,
              vmid: v,
              level: 3,
            };
            tlb.insert(e.va, e.size, e.pa, e.perm, e.asid, e.vmid, e.level);
            m.entries = m.entries.filter((x) => !sameTag(x, e));
            m.entries.push(e);
          }
          for (const r of ranges) {
            // Aim the range at the filled window.
            const inv = new InvRange(base + (r.va % (16 * M)), r.size, r.asid, r.vmid);
            inv.run(m, tlb);
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
