/**
 * The change stream of a page table (`onChange`): what committed operations publish, that failed
 * operations publish nothing and keep their statistics out, and a model-based check that a
 * shadow built only from the stream always equals the table's leaves.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemweaveError } from "../base/errors.js";
import { errorCode as code, expectError } from "../base/errors.testutil.js";
import { formatSize } from "../base/size.js";
import type { PageTableFormat } from "./format.js";
import { createLpaeFormat } from "./lpae.js";
import type { LeafChange, PageTableStats, TlbFlush } from "./page-table.js";
import { PageTable } from "./page-table.js";
import { PERM, PROT } from "./prot.js";
import { PhysTableMemory } from "./table-memory.js";
import { createV7sFormat } from "./v7s.js";

const K = 1024;
const M = 1024 * K;
const G = 1024 * M;
const RW = PROT.READ | PROT.WRITE;

const S1_4K = createLpaeFormat({ stage: 1, granule: 4096, ias: 39, oas: 40 });
const V7S = createV7sFormat();

interface Flush {
  kind: "leaf" | "walk" | "all";
  va: number;
  size: number;
}

function setup(format: PageTableFormat) {
  const memory = PhysTableMemory.standalone(256 * M);
  const table = new PageTable(format, memory);
  const batches: LeafChange[][] = [];
  const subscription = table.onChange((changes, t) => {
    expect(t).toBe(table);
    batches.push([...changes]);
  });
  const flushes: Flush[] = [];
  const target: TlbFlush = {
    flushLeaf: (va, size) => void flushes.push({ kind: "leaf", va, size }),
    flushWalk: (va, size) => void flushes.push({ kind: "walk", va, size }),
    flushAll: () => void flushes.push({ kind: "all", va: 0, size: 0 }),
  };
  table.addFlushTarget(target);
  return { table, memory, batches, subscription, flushes };
}

interface Leaf {
  va: number;
  size: number;
  pa: number;
  lo: number;
  hi: number;
}

/** The table's leaves, in address order, from the generic walker. */
function leavesOf(table: PageTable): Leaf[] {
  const out: Leaf[] = [];
  table.walk({
    leaf: (l) => void out.push({ va: l.va, size: l.size, pa: l.pa, lo: l.lo, hi: l.hi }),
  });
  return out;
}

/** Leaves and tables: the table's full state, for "nothing changed". */
function snapshot(table: PageTable): string {
  const tables: number[] = [];
  table.walk({ table: (t) => void tables.push(t.addr) });
  return JSON.stringify({ leaves: leavesOf(table), tables });
}

/** The statistics an operation applies only when it commits. */
function committedStats(s: PageTableStats) {
  const { maps, unmaps, protects, remaps, ownerChanges, splits, mappedBySize } = s;
  const { tablesAllocated, tablesFreed } = s;
  return {
    maps,
    unmaps,
    protects,
    remaps,
    ownerChanges,
    splits,
    mappedBySize,
    tablesAllocated,
    tablesFreed,
  };
}

describe("PageTable change stream: what committed operations publish", () => {
  it("map publishes one change per leaf, with before null and after {pa, lo, hi, perm}", () => {
    const { table, batches } = setup(S1_4K);
    // iommu_map splits this into 4K + 2M + 2M + 4K.
    table.map(0x1ff000, 0x801ff000, 0x402000, RW | PROT.NOEXEC);
    expect(batches).toHaveLength(1);
    const changes = batches[0]!;
    expect(changes.map((c) => [c.va, c.size, c.levelIndex, c.level])).toEqual([
      [0x1ff000, 4 * K, 2, 3],
      [0x200000, 2 * M, 1, 2],
      [0x400000, 2 * M, 1, 2],
      [0x600000, 4 * K, 2, 3],
    ]);
    for (const c of changes) {
      expect(c.before).toBeNull();
      const t = table.translate(c.va)!;
      expect(JSON.parse(JSON.stringify(c.after))).toEqual({
        pa: c.va + 0x8000_0000,
        lo: t.lo,
        hi: t.hi,
        perm: t.perm,
      });
      expect(c.after!.perm & PERM.WRITE_PRIV).toBeTruthy();
      expect(c.after!.perm & PERM.EXEC_PRIV).toBe(0);
    }
  });

  it("the listener runs after the operation has completed, once per operation", () => {
    const memory = PhysTableMemory.standalone(64 * M);
    const table = new PageTable(S1_4K, memory);
    const seen: Array<number | undefined> = [];
    table.onChange((changes) => {
      // The table already shows the new state.
      for (const c of changes) seen.push(table.translate(c.va)?.pa);
    });
    table.map(0, 0x8000_0000, 12 * K, RW);
    expect(seen).toEqual([0x8000_0000, 0x8000_1000, 0x8000_2000]);
    table.unmap(4 * K, 4 * K);
    expect(seen.slice(3)).toEqual([undefined]);
  });

  it("unmap publishes removals with the old leaf as before and after null", () => {
    const { table, batches } = setup(S1_4K);
    table.map(0x10000, 0x9000_0000, 12 * K, PROT.READ);
    const added = batches[0]!;
    batches.length = 0;
    expect(table.unmap(0x10000, 12 * K)).toBe(12 * K);
    expect(batches).toHaveLength(1);
    expect(batches[0]).toEqual(added.map((c) => ({ ...c, before: c.after, after: null })));
  });

  it("a block-sized unmap over a table publishes the removal of every leaf under it", () => {
    const { table, batches } = setup(S1_4K);
    // A 1G range (a level-1 page size) holding a 2M block and a level-3 table of 4K pages.
    table.map(1 * G + 0, 0x8000_0000, 4 * K, RW);
    table.map(1 * G + 8 * K, 0x8000_8000, 4 * K, RW);
    table.map(1 * G + 1 * M, 0x8010_0000, 4 * K, RW);
    table.map(1 * G + 4 * M, 0x8040_0000, 2 * M, RW);
    const before = leavesOf(table);
    expect(before).toHaveLength(4);
    batches.length = 0;
    // Holes included: the whole subtree goes.
    expect(table.unmap(1 * G, 1 * G)).toBe(1 * G);
    expect(leavesOf(table)).toEqual([]);
    expect(batches).toHaveLength(1);
    const removed = batches[0]!;
    expect(removed.every((c) => c.after === null)).toBe(true);
    expect(
      removed.map((c) => ({
        va: c.va,
        size: c.size,
        pa: c.before!.pa,
        lo: c.before!.lo,
        hi: c.before!.hi,
      })),
    ).toEqual(before);
    expect(removed.map((c) => c.level)).toEqual([3, 3, 3, 2]);
  });

  it("protect publishes before/after pairs of the same leaves", () => {
    const { table, batches } = setup(S1_4K);
    table.map(0, 0x8000_0000, 16 * K, RW);
    batches.length = 0;
    table.protect(4 * K, 8 * K, PROT.READ | PROT.NOEXEC);
    expect(batches).toHaveLength(1);
    const changes = batches[0]!;
    expect(changes.map((c) => c.va)).toEqual([4 * K, 8 * K]);
    for (const c of changes) {
      expect(c.size).toBe(4 * K);
      expect(c.before!.pa).toBe(c.after!.pa);
      expect(c.before!.perm & PERM.WRITE_PRIV).toBeTruthy();
      expect(c.after!.perm & PERM.WRITE_PRIV).toBe(0);
      expect(c.after!.perm & PERM.EXEC_PRIV).toBe(0);
      const t = table.translate(c.va)!;
      expect([c.after!.lo, c.after!.hi]).toEqual([t.lo, t.hi]);
    }
  });

  it("a split publishes the removal of the block, then its pieces, then what the operation did", () => {
    const { table, batches } = setup(S1_4K);
    table.map(2 * M, 0x8020_0000, 2 * M, RW);
    const block = batches[0]![0]!;
    batches.length = 0;
    expect(table.unmap(2 * M + 8 * K, 4 * K)).toBe(4 * K);
    expect(batches).toHaveLength(1);
    const changes = batches[0]!;
    expect(changes).toHaveLength(1 + 512 + 1);
    expect(changes[0]).toEqual({ ...block, before: block.after, after: null });
    for (let i = 0; i < 512; i++) {
      const c = changes[1 + i]!;
      expect([c.va, c.size, c.level, c.before]).toEqual([2 * M + i * 4 * K, 4 * K, 3, null]);
      expect(c.after!.pa).toBe(0x8020_0000 + i * 4 * K);
      expect(c.after!.perm).toBe(block.after!.perm);
    }
    const last = changes[513]!;
    expect([last.va, last.size, last.after]).toEqual([2 * M + 8 * K, 4 * K, null]);
    expect(JSON.stringify(last.before)).toBe(JSON.stringify(changes[1 + 2]!.after));
    expect(table.stats().splits).toBe(1);
  });

  it("a v7s 64K large page and a 16M supersection are one change each, not 16", () => {
    const { table, batches } = setup(V7S);
    table.map(64 * K, 0x8001_0000, 64 * K, RW);
    table.map(16 * M, 0x8100_0000, 16 * M, RW);
    expect(batches.map((b) => b.map((c) => [c.va, c.size, c.level]))).toEqual([
      [[64 * K, 64 * K, 2]],
      [[16 * M, 16 * M, 1]],
    ]);
    batches.length = 0;
    table.protect(16 * M, 16 * M, PROT.READ);
    table.protect(64 * K, 64 * K, PROT.READ);
    expect(batches.map((b) => b.map((c) => [c.va, c.size]))).toEqual([
      [[16 * M, 16 * M]],
      [[64 * K, 64 * K]],
    ]);
    batches.length = 0;
    expect(table.unmap(16 * M, 16 * M)).toBe(16 * M);
    expect(table.unmap(64 * K, 64 * K)).toBe(64 * K);
    expect(batches.map((b) => b.map((c) => [c.va, c.size, c.after]))).toEqual([
      [[16 * M, 16 * M, null]],
      [[64 * K, 64 * K, null]],
    ]);
  });

  it("a partial unmap of a v7s large page publishes its removal, its 16 pages, one removal", () => {
    const { table, batches } = setup(V7S);
    table.map(64 * K, 0x8001_0000, 64 * K, RW);
    batches.length = 0;
    expect(table.unmap(64 * K + 12 * K, 4 * K)).toBe(4 * K);
    const changes = batches[0]!;
    expect(changes.map((c) => [c.va, c.size, c.before !== null, c.after !== null])).toEqual([
      [64 * K, 64 * K, true, false],
      ...Array.from({ length: 16 }, (_, i) => [64 * K + i * 4 * K, 4 * K, false, true]),
      [64 * K + 12 * K, 4 * K, true, false],
    ]);
  });

  it("an operation that changes no leaf calls no listener", () => {
    const { table, batches } = setup(S1_4K);
    expect(table.unmap(0, 4 * K)).toBe(0);
    table.setOwner(0, 2 * M, 3); // annotations are not leaves
    table.setOwner(0, 2 * M, 0);
    expect(table.rewrite(() => undefined)).toBe(0);
    expect(batches).toEqual([]);
  });
});

describe("PageTable change stream: failed operations publish nothing and count nothing", () => {
  it("a map that fails with EEXIST halfway leaves mappedBySize, splits and the leaves as they were", () => {
    const { table, batches, memory } = setup(S1_4K);
    table.map(2 * G, 0x8000_0000, 2 * M, RW);
    table.unmap(2 * G + 4 * K, 4 * K); // one split
    table.map(0x40_0000 + 12 * K, 0x9000_0000, 4 * K, RW);
    batches.length = 0;
    const stats = table.stats();
    const before = snapshot(table);
    const tables = memory.liveTables;
    // 2M at 0 and at 2M are mapped, then the 4K pages at 4M meet the existing page.
    expectError(() => table.map(0, 0x8000_0000, 8 * M, RW), "EEXIST", "overlaps a table");
    expect(batches).toEqual([]);
    expect(snapshot(table)).toBe(before);
    expect(memory.liveTables).toBe(tables);
    const after = table.stats();
    expect(after.mappedBySize).toEqual(stats.mappedBySize);
    expect(committedStats(after)).toEqual(committedStats(stats));
    expect(after.rollbacks).toBe(stats.rollbacks + 1);
    // Nothing of the failed map is applied by the next operation that commits.
    table.map(64 * M, 0x9800_0000, 4 * K, RW);
    expect(table.stats().mappedBySize).toEqual({
      ...stats.mappedBySize,
      "4 KiB": (stats.mappedBySize["4 KiB"] ?? 0) + 1,
    });
    expect(table.stats().splits).toBe(stats.splits);
  });

  it("injected ENOMEM in map, unmap (split), protect, remap and setOwner publishes nothing", () => {
    const { table, batches, memory } = setup(S1_4K);
    table.map(2 * M, 0x8020_0000, 2 * M, RW); // a block to split
    table.setOwner(8 * M, 2 * M, 7); // an annotation to split
    batches.length = 0;
    const stats = table.stats();
    const before = snapshot(table);
    const attempts: Array<() => unknown> = [
      () => table.map(5 * G + 4 * K, 0x1000, 8 * K, RW),
      () => table.unmap(2 * M + 4 * K, 4 * K),
      () => table.protect(2 * M, 4 * K, PROT.READ),
      () => table.remap(2 * M, 0x9000_1000, 2 * M, RW), // needs a level-3 table
      () => table.setOwner(8 * M + 4 * K, 4 * K, 9),
    ];
    for (const attempt of attempts) {
      memory.failAfter = 0;
      expect(code(attempt)).toBe("ENOMEM");
      memory.failAfter = undefined;
    }
    expect(batches).toEqual([]);
    expect(snapshot(table)).toBe(before);
    expect(committedStats(table.stats())).toEqual(committedStats(stats));
    expect(table.stats().rollbacks).toBe(stats.rollbacks + attempts.length);
    expect(table.ownerAt(8 * M + 4 * K)).toBe(7);
  });

  it("a remap that fails with ENOMEM after unmapping publishes nothing and keeps its leaves", () => {
    const { table, batches, memory } = setup(S1_4K);
    table.map(0, 0x8000_0000, 4 * M, RW); // two 2M blocks
    batches.length = 0;
    const before = snapshot(table);
    const stats = table.stats();
    memory.failAfter = 1; // the first level-3 table succeeds, the second fails
    expect(code(() => table.remap(0, 0x9000_1000, 4 * M, PROT.READ))).toBe("ENOMEM");
    memory.failAfter = undefined;
    expect(batches).toEqual([]);
    expect(snapshot(table)).toBe(before);
    expect(committedStats(table.stats())).toEqual(committedStats(stats));
  });

  it("a listener's exception reaches the caller of an operation that has completed", () => {
    const memory = PhysTableMemory.standalone(64 * M);
    const table = new PageTable(S1_4K, memory);
    const sub = table.onChange(() => {
      throw new Error("listener failed");
    });
    expect(() => table.map(0, 0x8000_0000, 4 * K, RW)).toThrow("listener failed");
    expect(table.translate(0)?.pa).toBe(0x8000_0000);
    expect(table.stats().maps).toBe(1);
    expect(table.stats().mappedBySize).toEqual({ "4 KiB": 1 });
    sub.dispose();
    expect(table.unmap(0, 4 * K)).toBe(4 * K);
    expect(table.stats().unmaps).toBe(1);
  });
});

describe("PageTable change stream: subscriptions", () => {
  it("disposing a subscription stops delivery; listenerCount follows", () => {
    const memory = PhysTableMemory.standalone(64 * M);
    const table = new PageTable(S1_4K, memory);
    expect(table.listenerCount).toBe(0);
    const a: LeafChange[][] = [];
    const b: LeafChange[][] = [];
    const subA = table.onChange((c) => void a.push([...c]));
    const subB = table.onChange((c) => void b.push([...c]));
    expect(table.listenerCount).toBe(2);
    table.map(0, 0x8000_0000, 4 * K, RW);
    expect(a).toHaveLength(1);
    expect(b).toEqual(a);
    subA.dispose();
    expect(table.listenerCount).toBe(1);
    table.map(4 * K, 0x8000_1000, 4 * K, RW);
    expect(a).toHaveLength(1);
    expect(b).toHaveLength(2);
    subA.dispose(); // idempotent: does not remove B
    expect(table.listenerCount).toBe(1);
    subB.dispose();
    expect(table.listenerCount).toBe(0);
    table.unmap(0, 8 * K);
    expect(b).toHaveLength(2);
  });

  it("the same listener registered twice is called twice and disposed one registration at a time", () => {
    const memory = PhysTableMemory.standalone(64 * M);
    const table = new PageTable(S1_4K, memory);
    let calls = 0;
    const listener = () => void calls++;
    const first = table.onChange(listener);
    table.onChange(listener);
    table.map(0, 0x8000_0000, 4 * K, RW);
    expect(calls).toBe(2);
    first.dispose();
    table.unmap(0, 4 * K);
    expect(calls).toBe(3);
  });

  it("a listener added after operations sees only later ones; a destroyed table takes none", () => {
    const memory = PhysTableMemory.standalone(64 * M);
    const table = new PageTable(S1_4K, memory);
    table.map(0, 0x8000_0000, 4 * K, RW);
    const seen: LeafChange[][] = [];
    table.onChange((c) => void seen.push([...c]));
    table.protect(0, 4 * K, PROT.READ);
    expect(seen).toHaveLength(1);
    expect(seen[0]![0]!.before).not.toBeNull();
    table.destroy();
    expect(table.listenerCount).toBe(0);
    expect(code(() => table.onChange(() => {}))).toBe("ENODEV");
  });
});

describe("PageTable change stream: model-based (fast-check)", () => {
  /**
   * Where a range operation starts: a random page of the window or, with an anchor, a page of
   * an existing leaf (so unmaps and protects meet leaves), aligned down; `within` keeps the
   * range inside that leaf (a part of a block: a split).
   */
  interface Where {
    anchor: number | null;
    /** Anchor on a leaf larger than the smallest page, if there is one. */
    block: boolean;
    within: boolean;
    page: number;
    align: number;
    pages: number;
  }
  type Op =
    | ({ op: "map"; delta: number; prot: number } & Where)
    | { op: "mapBlock"; page: number; size: number; count: number; slot: number; prot: number }
    | ({ op: "unmap" } & Where)
    | ({ op: "protect"; prot: number } & Where)
    | ({ op: "remap"; delta: number; prot: number } & Where)
    | { op: "remapLeaves"; leaf: number; leaves: number; delta: number; prot: number }
    | ({ op: "setOwner"; owner: number } & Where)
    | { op: "fail"; after: number };
  const PROTS = [RW, PROT.READ, RW | PROT.NOEXEC | PROT.CACHE, PROT.READ | PROT.PRIV];

  const CASES: Array<{ format: PageTableFormat; window: number }> = [
    { format: S1_4K, window: 8 * M },
    { format: createLpaeFormat({ stage: 2, granule: 4096, ias: 40, oas: 40 }), window: 8 * M },
    { format: createLpaeFormat({ stage: 1, granule: 16384, ias: 36, oas: 40 }), window: 64 * M },
    { format: V7S, window: 48 * M },
  ];

  /** Owner runs `[start, end, owner]`, sorted, non-zero owners only, neighbours merged. */
  type Runs = Array<[number, number, number]>;
  const assign = (runs: Runs, start: number, end: number, owner: number): Runs => {
    const out: Runs = [];
    for (const [s, e, o] of runs) {
      if (e <= start || s >= end) out.push([s, e, o]);
      else {
        if (s < start) out.push([s, start, o]);
        if (e > end) out.push([end, e, o]);
      }
    }
    if (owner !== 0) out.push([start, end, owner]);
    return merge(out);
  };
  const merge = (runs: Runs): Runs => {
    const out: Runs = [];
    for (const r of [...runs].sort((a, b) => a[0] - b[0])) {
      const top = out[out.length - 1];
      if (top !== undefined && top[1] === r[0] && top[2] === r[2]) top[1] = r[1];
      else out.push([...r]);
    }
    return out;
  };
  /** Leaves as one line per leaf (cheap to compare). */
  const textOf = (leaves: Leaf[]) =>
    leaves
      .map((l) => `${l.va.toString(16)} ${l.size} ${l.pa.toString(16)} ${l.lo} ${l.hi}`)
      .join("\n");
  /** One walk of `[0, window)`: leaves, table addresses and owner annotations. */
  const stateOf = (table: PageTable, window: number) => {
    const leaves: Leaf[] = [];
    const tables: number[] = [];
    const owners: Runs = [];
    table.walk(
      {
        table: (t) => void tables.push(t.addr),
        leaf: (l) => void leaves.push({ va: l.va, size: l.size, pa: l.pa, lo: l.lo, hi: l.hi }),
        annotation: (a) => void owners.push([a.va, a.va + a.span, a.annotation]),
      },
      0,
      window,
    );
    return {
      leaves,
      text: textOf(leaves),
      tables: tables.join(","),
      tableCount: tables.length,
      owners: JSON.stringify(merge(owners)),
    };
  };

  for (const { format, window } of CASES)
    it(`a shadow built only from the change stream equals the table's leaves: ${format.name}`, () => {
      const page = format.pageSizes[0]!;
      const sizes = format.pageSizes.filter((s) => s <= window / 2);
      const big = sizes[1]!;
      const windowPages = window / page;
      const where = (anchorFreq: number) =>
        fc.record({
          anchor: fc.option(fc.nat(1000), { nil: null, freq: anchorFreq }),
          block: fc.boolean(),
          within: fc.boolean(),
          page: fc.nat(windowPages - 1),
          align: fc.constantFrom(...sizes),
          pages: fc.oneof(
            fc.integer({ min: 1, max: 8 }),
            fc.constantFrom(...sizes.map((s) => s / page)),
            fc.integer({ min: 1, max: (2 * big) / page }),
          ),
        });
      // Output = va + delta (mod 2 windows): deltas of every page size, so blocks are possible.
      const delta = fc
        .tuple(fc.nat(7), fc.constantFrom(...sizes))
        .map(([n, unit]) => (n * unit) % (2 * window));
      const prot = fc.constantFrom(...PROTS);
      const op: fc.Arbitrary<Op> = fc.oneof(
        {
          weight: 3,
          arbitrary: fc
            .tuple(where(2), delta, prot)
            .map(([w, d, p]) => ({ op: "map" as const, ...w, delta: d, prot: p })),
        },
        {
          // Blocks: va and pa aligned to a larger page size, a whole number of them.
          weight: 2,
          arbitrary: fc.record({
            op: fc.constant("mapBlock" as const),
            page: fc.nat(windowPages - 1),
            size: fc.constantFrom(...sizes.slice(1)),
            count: fc.integer({ min: 1, max: 2 }),
            slot: fc.nat(7),
            prot,
          }),
        },
        { weight: 2, arbitrary: where(5).map((w) => ({ op: "unmap" as const, ...w })) },
        {
          weight: 2,
          arbitrary: fc
            .tuple(where(5), prot)
            .map(([w, p]) => ({ op: "protect" as const, ...w, prot: p })),
        },
        {
          weight: 1,
          arbitrary: fc
            .tuple(where(5), delta, prot)
            .map(([w, d, p]) => ({ op: "remap" as const, ...w, delta: d, prot: p })),
        },
        {
          weight: 2,
          arbitrary: fc.record({
            op: fc.constant("remapLeaves" as const),
            leaf: fc.nat(1000),
            leaves: fc.integer({ min: 1, max: 3 }),
            delta,
            prot,
          }),
        },
        {
          weight: 2,
          arbitrary: fc
            .tuple(where(3), fc.constantFrom(0, 0, 1, 3, 255))
            .map(([w, owner]) => ({ op: "setOwner" as const, ...w, owner })),
        },
        { weight: 2, arbitrary: fc.record({ op: fc.constant("fail" as const), after: fc.nat(2) }) },
      );

      fc.assert(
        fc.property(fc.array(op, { minLength: 10, maxLength: 30 }), (ops: Op[]) => {
          const memory = PhysTableMemory.standalone(256 * M);
          const table = new PageTable(format, memory);
          const base = 0x1000_0000; // output addresses start here
          // The shadow, built only from changes: va -> leaf, and page index -> va of its leaf.
          const shadow = new Map<number, Leaf>();
          const pages = new Map<number, number>();
          // What the listener saw: the last change list and how many lists so far.
          const published: { batch: readonly LeafChange[] | undefined; batches: number } = {
            batch: undefined,
            batches: 0,
          };
          table.onChange((changes) => {
            published.batch = changes;
            published.batches++;
          });
          const flushed: Array<[number, number]> = [];
          table.addFlushTarget({
            flushLeaf: (va, size) => void flushed.push([va, va + size]),
            flushWalk: (va, size) => void flushed.push([va, va + size]),
            flushAll: () => void flushed.push([0, 2 ** format.ias]),
          });
          let failNext: number | undefined;
          let state = stateOf(table, window);
          // The owners the operations' semantics give (setOwner sets them; whatever is mapped or
          // unmapped has none).
          let owners: Runs = [];

          // Checked without `expect` on the fast path (a split publishes hundreds of changes);
          // a mismatch fails through `expect` with the details.
          const apply = (c: LeafChange) => {
            const at = `${c.before === null ? "addition" : "removal"} at ${c.va.toString(16)}`;
            const info = format.levels[c.levelIndex];
            if (
              info?.level !== c.level ||
              !info.leafSizes.includes(c.size) ||
              c.va % c.size !== 0 ||
              (c.before === null && c.after === null)
            )
              expect.fail(`malformed change ${JSON.stringify(c)}`);
            if (c.before !== null) {
              const { pa, lo, hi } = c.before;
              const had = shadow.get(c.va);
              if (had?.size !== c.size || had.pa !== pa || had.lo !== lo || had.hi !== hi)
                expect(had, at).toEqual({ va: c.va, size: c.size, pa, lo, hi });
              if (c.before.perm !== format.perm(c.levelIndex, lo, hi))
                expect(c.before.perm, at).toBe(format.perm(c.levelIndex, lo, hi));
              shadow.delete(c.va);
              for (let p = c.va / page; p < (c.va + c.size) / page; p++) pages.delete(p);
            }
            if (c.after !== null) {
              const { pa, lo, hi } = c.after;
              if (c.after.perm !== format.perm(c.levelIndex, lo, hi))
                expect(c.after.perm, at).toBe(format.perm(c.levelIndex, lo, hi));
              for (let p = c.va / page; p < (c.va + c.size) / page; p++) {
                if (pages.has(p))
                  expect.fail(`${at}: over the leaf at ${pages.get(p)!.toString(16)}`);
                pages.set(p, c.va);
              }
              shadow.set(c.va, { va: c.va, size: c.size, pa, lo, hi });
            }
          };

          /** Is `[va, end)` inside the flushed ranges (merged once per operation)? */
          let merged: Array<[number, number]> | undefined;
          const covered = (va: number, end: number) => {
            if (merged === undefined) {
              merged = [];
              for (const [s, e] of [...flushed].sort((x, y) => x[0] - y[0])) {
                const top = merged[merged.length - 1];
                if (top !== undefined && s <= top[1]) top[1] = Math.max(top[1], e);
                else merged.push([s, e]);
              }
            }
            return merged.some(([s, e]) => s <= va && end <= e);
          };

          for (const o of ops) {
            if (o.op === "fail") {
              failNext = o.after;
              continue;
            }
            let va: number;
            let size: number;
            if (o.op === "remapLeaves") {
              // A run of up to three consecutive leaves (holes between them make it ENOENT).
              const leaves = state.leaves;
              if (leaves.length === 0) continue;
              const k = o.leaf % leaves.length;
              const last = leaves[Math.min(leaves.length - 1, k + o.leaves - 1)]!;
              va = leaves[k]!.va;
              size = last.va + last.size - va;
            } else if (o.op === "mapBlock") {
              va = Math.floor((o.page * page) / o.size) * o.size;
              size = Math.min(o.count * o.size, window - va);
            } else {
              let leaves = o.anchor === null ? [] : state.leaves;
              if (o.block && leaves.some((l) => l.size > page))
                leaves = leaves.filter((l) => l.size > page);
              const leaf = leaves[(o.anchor ?? 0) % Math.max(1, leaves.length)];
              va =
                leaf === undefined ? o.page * page : leaf.va + (o.page % (leaf.size / page)) * page;
              va = Math.floor(va / o.align) * o.align;
              size = Math.min(o.pages * page, window - va);
              if (leaf !== undefined && o.within && va >= leaf.va)
                size = Math.min(size, leaf.va + leaf.size - va);
            }
            const before = state;
            const stats = table.stats();
            published.batch = undefined;
            const count = published.batches;
            const batch = () => published.batch ?? [];
            flushed.length = 0;
            merged = undefined;
            memory.failAfter = failNext;
            failNext = undefined;
            let err: string | undefined;
            let unmapped = 0;
            try {
              switch (o.op) {
                case "map":
                  table.map(va, base + ((va + o.delta) % (2 * window)), size, o.prot);
                  break;
                case "mapBlock":
                  table.map(va, base + ((va + o.slot * o.size) % (2 * window)), size, o.prot);
                  break;
                case "unmap":
                  unmapped = table.unmap(va, size);
                  break;
                case "protect":
                  table.protect(va, size, o.prot);
                  break;
                case "remap":
                case "remapLeaves":
                  table.remap(va, base + ((va + o.delta) % (2 * window)), size, o.prot);
                  break;
                case "setOwner":
                  table.setOwner(va, size, o.owner);
                  break;
              }
            } catch (e) {
              if (!(e instanceof MemweaveError)) throw e;
              err = e.code;
            }
            memory.failAfter = undefined;
            if (err !== undefined) {
              expect(["EEXIST", "ENOMEM", "ENOENT"]).toContain(err);
              expect(published.batches, `${o.op} failed with ${err} and published`).toBe(count);
              expect(committedStats(table.stats())).toEqual(committedStats(stats));
            } else {
              expect(published.batches - count).toBeLessThanOrEqual(1);
              for (const c of batch()) {
                apply(c);
                // Every leaf that went or changed was invalidated by the end of the operation.
                if (c.before !== null && !covered(c.va, c.va + c.size))
                  expect.fail(`${o.op}: the old leaf at ${c.va.toString(16)} was not invalidated`);
              }
              if (o.op === "unmap") expect(table.mappedBytes(va, va + unmapped)).toBe(0);
              if (o.op === "unmap") owners = assign(owners, va, va + unmapped, 0);
              if (o.op === "map" || o.op === "mapBlock") owners = assign(owners, va, va + size, 0);
              if (o.op === "setOwner") owners = assign(owners, va, va + size, o.owner);
              // Leaves counted by size: exactly the leaves a map added.
              const counted = table.stats().mappedBySize;
              const added: Record<string, number> = { ...stats.mappedBySize };
              if (o.op === "map" || o.op === "mapBlock")
                for (const c of batch()) {
                  const key = formatSize(c.size);
                  added[key] = (added[key] ?? 0) + 1;
                }
              if (!o.op.startsWith("remap")) expect(counted).toEqual(added);
              if (o.op === "setOwner") {
                expect(table.mappedBytes(va, va + size)).toBe(0);
                expect(table.ownerAt(va)).toBe(o.owner);
                expect(table.ownerAt(va + size - page)).toBe(o.owner);
              }
              if (o.op === "map" || o.op === "mapBlock" || o.op.startsWith("remap"))
                expect(table.mappedBytes(va, va + size)).toBe(size);
            }
            state = stateOf(table, window);
            if (err !== undefined) {
              expect(state.text, `${o.op} failed with ${err}: leaves`).toBe(before.text);
              expect(state.tables, `${o.op} failed with ${err}: tables`).toBe(before.tables);
            }
            expect(textOf([...shadow.values()].sort((x, y) => x.va - y.va))).toBe(state.text);
            expect(state.owners, "owners").toBe(JSON.stringify(owners));
            // No table leaks: every live table of the memory is one of this table's.
            expect(memory.liveTables).toBe(state.tableCount);
          }
        }),
        { numRuns: 30 },
      );
    });
});
