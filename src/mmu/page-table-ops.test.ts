/**
 * The page-table operations beyond map / unmap / protect: remap, owner annotations (setOwner /
 * ownerAt), the rewriting walker, adopt / detach, unmapFast with a caller's IOTLB gather, and
 * destroy (flush targets told, registrations dropped, table pages released).
 */
import { describe, expect, it } from "vitest";
import { errorCode as code, expectError } from "../base/errors.testutil.js";
import { IotlbGather } from "./flush.js";
import type { PageTableFormat } from "./format.js";
import { DESC_INVALID, DESC_LEAF } from "./format.js";
import { createLpaeFormat } from "./lpae.js";
import type { LeafChange, TlbFlush } from "./page-table.js";
import type { AnyPageTable } from "./page-table.js";
import { PageTable } from "./page-table.js";
import { PERM, PROT } from "./prot.js";
import { PhysTableMemory } from "./table-memory.js";
import { createV7sFormat } from "./v7s.js";
import { decodeDescriptor, geometryOf } from "./walk.js";

const K = 1024;
const M = 1024 * K;
const G = 1024 * M;
const RW = PROT.READ | PROT.WRITE;
/** lpae: the access flag, bit 10 of the low word. */
const LPAE_AF = 1 << 10;

const S1_4K = createLpaeFormat({ stage: 1, granule: 4096, ias: 39, oas: 40 });
const S2_4K = createLpaeFormat({ stage: 2, granule: 4096, ias: 40, oas: 40 });
const S1_64K = createLpaeFormat({ stage: 1, granule: 65536, ias: 42, oas: 48 });
const V7S = createV7sFormat();

type Call =
  | { op: "leaf"; va: number; size: number; granule: number; pa: number }
  | { op: "walk"; va: number; size: number; granule: number }
  | { op: "all" }
  | { op: "destroyed"; table: AnyPageTable };

/** A flush target that records every call. */
function recorder() {
  const calls: Call[] = [];
  const target: TlbFlush = {
    flushLeaf: (va, size, granule, pa) => void calls.push({ op: "leaf", va, size, granule, pa }),
    flushWalk: (va, size, granule) => void calls.push({ op: "walk", va, size, granule }),
    flushAll: () => void calls.push({ op: "all" }),
    tableDestroyed: (table) => void calls.push({ op: "destroyed", table }),
  };
  return { calls, target };
}

function setup(format: PageTableFormat, memory = PhysTableMemory.standalone(256 * M)) {
  const table = new PageTable(format, memory);
  const { calls, target } = recorder();
  const registration = table.addFlushTarget(target);
  const batches: LeafChange[][] = [];
  table.onChange((changes) => void batches.push([...changes]));
  return { table, memory, calls, registration, batches };
}

function leavesOf(table: PageTable): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  table.walk({ leaf: (l) => void out.push([l.va, l.size, l.pa]) });
  return out;
}

/** Every leaf with its descriptor, every table and every annotation: the full state. */
function snapshot(table: PageTable): string {
  const state: unknown[] = [];
  table.walk({
    table: (t) => void state.push(["table", t.addr]),
    leaf: (l) => void state.push(["leaf", l.va, l.size, l.pa, l.lo, l.hi]),
    annotation: (a) => void state.push(["owner", a.va, a.span, a.annotation]),
  });
  return JSON.stringify(state);
}

/** Annotations as merged runs `[start, end, owner]`. */
function ownerRuns(table: PageTable): Array<[number, number, number]> {
  const runs: Array<[number, number, number]> = [];
  table.walk({
    annotation: (a) => {
      const top = runs[runs.length - 1];
      if (top !== undefined && top[1] === a.va && top[2] === a.annotation) top[1] += a.span;
      else runs.push([a.va, a.va + a.span, a.annotation]);
    },
  });
  return runs;
}

const leafCalls = (calls: Call[]) => calls.filter((c) => c.op === "leaf");
const walkCalls = (calls: Call[]) => calls.filter((c) => c.op === "walk");

describe("PageTable.remap", () => {
  it("replaces the translations in one commit, pairing old and new leaves of the same size", () => {
    const { table, calls, batches } = setup(S1_4K);
    table.map(0, 0x1000_0000, 16 * K, RW);
    calls.length = 0;
    batches.length = 0;
    table.remap(0, 0x2000_0000, 16 * K, PROT.READ | PROT.NOEXEC);
    expect(batches).toHaveLength(1);
    expect(
      batches[0]!.map((c) => [c.va, c.size, c.before?.pa, c.after?.pa, c.after?.perm]),
    ).toEqual(
      [0, 1, 2, 3].map((i) => [
        i * 4 * K,
        4 * K,
        0x1000_0000 + i * 4 * K,
        0x2000_0000 + i * 4 * K,
        table.translate(i * 4 * K)!.perm,
      ]),
    );
    const t = table.translate(0x1008)!;
    expect(t.pa).toBe(0x2000_1008);
    expect(t.perm & PERM.WRITE_PRIV).toBe(0);
    // The old translations are invalidated: one gathered range with the old output address.
    expect(leafCalls(calls)).toEqual([
      { op: "leaf", va: 0, size: 16 * K, granule: 4 * K, pa: 0x1000_0000 },
    ]);
    const stats = table.stats();
    expect([stats.maps, stats.remaps, stats.unmaps]).toEqual([1, 1, 0]);
    expect(stats.mappedBySize).toEqual({ "4 KiB": 8 });
  });

  it("invalidates a remapped block as one leaf of its size", () => {
    const { table, calls } = setup(S1_4K);
    table.map(2 * M, 0x4020_0000, 2 * M, RW);
    calls.length = 0;
    table.remap(2 * M, 0x5000_1000, 2 * M, RW); // not 2M-aligned: 4K pages now
    expect(leafCalls(calls)).toEqual([
      { op: "leaf", va: 2 * M, size: 2 * M, granule: 2 * M, pa: 0x4020_0000 },
    ]);
    expect(table.translate(2 * M + 4 * K + 5)!.pa).toBe(0x5000_2005);
    expect(table.translate(2 * M)!.size).toBe(4 * K);
  });

  it("chooses page sizes for the new output address as map does", () => {
    const va = 0x1ff000;
    const size = 0x402000;
    for (const pa of [0x9000_0000 + va, 0x9000_1000, 0xa000_0000 + 0x3ff000]) {
      const { table } = setup(S1_4K);
      table.map(va, 0x801ff000, size, RW);
      table.remap(va, pa, size, RW);
      const fresh = setup(S1_4K).table;
      fresh.map(va, pa, size, RW);
      expect(leavesOf(table)).toEqual(leavesOf(fresh));
    }
    // Blocks where the old mapping had pages, and the other way round.
    const { table, batches } = setup(S1_4K);
    table.map(0, 0x8000_1000, 4 * M, RW); // 1024 pages
    batches.length = 0;
    table.remap(0, 0x8040_0000, 4 * M, RW);
    expect(leavesOf(table).map((l) => l[1])).toEqual([2 * M, 2 * M]);
    const changes = batches[0]!;
    // Sizes differ: 1024 removals, then 2 additions.
    expect(changes).toHaveLength(1026);
    expect(changes.slice(0, 1024).every((c) => c.after === null && c.size === 4 * K)).toBe(true);
    expect(changes.slice(1024).map((c) => [c.va, c.size, c.before, c.after?.pa])).toEqual([
      [0, 2 * M, null, 0x8040_0000],
      [2 * M, 2 * M, null, 0x8060_0000],
    ]);
    expect(table.stats().mappedBySize).toEqual({ "4 KiB": 1024, "2 MiB": 2 });
  });

  it("remaps part of a block, splitting it, and leaves the rest of the block as it was", () => {
    const { table, batches } = setup(S1_4K);
    table.map(2 * M, 0x4020_0000, 2 * M, RW);
    batches.length = 0;
    table.remap(2 * M + 8 * K, 0x7000_0000, 4 * K, PROT.READ);
    expect(table.translate(2 * M + 8 * K)!.pa).toBe(0x7000_0000);
    expect(table.translate(2 * M + 12 * K)!.pa).toBe(0x4020_0000 + 12 * K);
    expect(table.translate(2 * M)!.size).toBe(4 * K);
    const changes = batches[0]!;
    expect(changes).toHaveLength(1 + 512 + 1);
    expect([changes[0]!.size, changes[0]!.after]).toEqual([2 * M, null]);
    const last = changes[513]!;
    expect([last.va, last.before?.pa, last.after?.pa]).toEqual([
      2 * M + 8 * K,
      0x4020_0000 + 8 * K,
      0x7000_0000,
    ]);
    expect(table.stats().splits).toBe(1);
  });

  it("is ENOENT, changing nothing, when any part of the range is unmapped", () => {
    const { table, calls, batches } = setup(S1_4K);
    // A level-3 table with one hole under a 2M range: unmap would drop it, remap refuses.
    table.map(0, 0x8000_0000, 1 * M, RW);
    table.map(1 * M + 4 * K, 0x8010_1000, 1 * M - 4 * K, RW);
    table.setOwner(8 * M, 4 * K, 3);
    calls.length = 0;
    batches.length = 0;
    const before = snapshot(table);
    expectError(() => table.remap(0, 0x9000_0000, 2 * M, RW), "ENOENT", "is mapped");
    expect(code(() => table.remap(4 * M, 0x9000_0000, 4 * K, RW))).toBe("ENOENT");
    expect(code(() => table.remap(8 * M, 0x9000_0000, 4 * K, RW))).toBe("ENOENT"); // annotated
    expect(code(() => table.remap(1 * M - 4 * K, 0x9000_0000, 8 * K, RW))).toBe("ENOENT");
    expect(snapshot(table)).toBe(before);
    expect(batches).toEqual([]);
    expect(calls).toEqual([]);
    expect(table.stats().remaps).toBe(0);
  });

  it("checks its arguments as map does", () => {
    const { table } = setup(S1_4K);
    table.map(0, 0x8000_0000, 8 * K, RW);
    expect(code(() => table.remap(0, 0x9000_0000, 8 * K, PROT.NOEXEC))).toBe("EINVAL");
    expect(code(() => table.remap(0, 0x9000_0800, 8 * K, RW))).toBe("EINVAL");
    expect(code(() => table.remap(0x800, 0x9000_0000, 8 * K, RW))).toBe("EINVAL");
    expect(code(() => table.remap(0, 2 ** 40 - 4 * K, 8 * K, RW))).toBe("ERANGE");
    expect(table.translate(0)!.pa).toBe(0x8000_0000);
  });
});

describe("PageTable.setOwner / ownerAt (pKVM kvm_pgtable_stage2_set_owner)", () => {
  it("annotates an unmapped range with invalid entries carrying the owner in bits 9:2", () => {
    const { table, memory, batches } = setup(S2_4K);
    table.setOwner(2 * M, 2 * M, 3);
    expect(table.ownerAt(2 * M)).toBe(3);
    expect(table.ownerAt(4 * M - 4 * K)).toBe(3);
    expect(table.ownerAt(2 * M - 4 * K)).toBe(0);
    expect(table.ownerAt(4 * M)).toBe(0);
    expect(table.translate(2 * M + 5 * 4 * K)).toBeUndefined();
    const visits: unknown[] = [];
    table.walk({ annotation: (a) => void visits.push(a) });
    expect(visits).toEqual([
      expect.objectContaining({ va: 2 * M, span: 2 * M, level: 2, lo: 3 << 2, hi: 0 }),
    ]);
    expect(visits[0]).toMatchObject({ annotation: 3, levelIndex: 1 });
    expect(memory.liveTables).toBe(2); // the root and a level-2 table holding the annotation
    expect(batches).toEqual([]); // annotations are not leaves
    expect(table.stats().ownerChanges).toBe(1);
    // At the smallest size too.
    table.setOwner(0, 12 * K, 5);
    expect(ownerRuns(table)).toEqual([
      [0, 12 * K, 5],
      [2 * M, 4 * M, 3],
    ]);
    expect(table.format.describe(2, 5 << 2, 0)).toBe("INVALID owner=5");
  });

  it("unmaps a mapped range first, invalidating it in the flush targets", () => {
    const { table, calls, batches } = setup(S2_4K);
    table.map(0, 0x8000_0000, 16 * K, RW);
    calls.length = 0;
    batches.length = 0;
    table.setOwner(0, 8 * K, 7);
    expect(table.translate(0)).toBeUndefined();
    expect(table.translate(4 * K)).toBeUndefined();
    expect(table.translate(8 * K)!.pa).toBe(0x8000_2000);
    expect([table.ownerAt(0), table.ownerAt(4 * K), table.ownerAt(8 * K)]).toEqual([7, 7, 0]);
    expect(leafCalls(calls)).toEqual([
      { op: "leaf", va: 0, size: 8 * K, granule: 4 * K, pa: 0x8000_0000 },
    ]);
    expect(batches.map((b) => b.map((c) => [c.va, c.before?.pa, c.after]))).toEqual([
      [
        [0, 0x8000_0000, null],
        [4 * K, 0x8000_1000, null],
      ],
    ]);
  });

  it("annotating a mapped block's part splits the block and keeps the rest mapped", () => {
    const { table, calls } = setup(S2_4K);
    table.map(2 * M, 0x8020_0000, 2 * M, RW);
    calls.length = 0;
    table.setOwner(2 * M + 4 * K, 4 * K, 9);
    expect(table.translate(2 * M)!.pa).toBe(0x8020_0000);
    expect(table.translate(2 * M + 4 * K)).toBeUndefined();
    expect(table.ownerAt(2 * M + 4 * K)).toBe(9);
    expect(table.mappedBytes(2 * M, 4 * M)).toBe(2 * M - 4 * K);
    expect(walkCalls(calls)).toContainEqual({ op: "walk", va: 2 * M, size: 2 * M, granule: 2 * M });
    expect(leafCalls(calls)).toEqual([
      { op: "leaf", va: 2 * M + 4 * K, size: 4 * K, granule: 4 * K, pa: 0x8020_1000 },
    ]);
  });

  it("a block annotation split by a smaller setOwner or map keeps its owner on the rest", () => {
    const { table } = setup(S2_4K);
    table.setOwner(2 * M, 2 * M, 3);
    table.setOwner(2 * M + 4 * K, 4 * K, 9);
    expect(ownerRuns(table)).toEqual([
      [2 * M, 2 * M + 4 * K, 3],
      [2 * M + 4 * K, 2 * M + 8 * K, 9],
      [2 * M + 8 * K, 4 * M, 3],
    ]);
    // map over an annotated page takes it; its neighbours keep the owner.
    table.map(2 * M + 64 * K, 0x8000_0000, 4 * K, RW);
    expect(table.ownerAt(2 * M + 64 * K)).toBe(0);
    expect(table.translate(2 * M + 64 * K)!.pa).toBe(0x8000_0000);
    expect([table.ownerAt(2 * M + 60 * K), table.ownerAt(2 * M + 68 * K)]).toEqual([3, 3]);

    // A 1G annotation split twice by a map: level-2 and level-3 tables of the same owner.
    table.setOwner(1 * G, 1 * G, 2);
    table.map(1 * G + 4 * K, 0x8000_1000, 4 * K, RW);
    expect(ownerRuns(table).filter((r) => r[0] >= 1 * G)).toEqual([
      [1 * G, 1 * G + 4 * K, 2],
      [1 * G + 8 * K, 2 * G, 2],
    ]);
    expect(table.ownerAt(1 * G + 512 * M)).toBe(2);
    // Unmapping the page leaves a plain invalid entry: the owner is not restored.
    expect(table.unmap(1 * G + 4 * K, 4 * K)).toBe(4 * K);
    expect(table.ownerAt(1 * G + 4 * K)).toBe(0);
    expect(table.ownerAt(1 * G + 8 * K)).toBe(2);
  });

  it("owner 0 clears annotations and frees the tables it leaves all-zero", () => {
    const { table, memory } = setup(S2_4K);
    const allocated = table.stats().tablesAllocated;
    table.setOwner(0, 2 * M, 0); // nothing there: nothing to do, nothing allocated
    expect(memory.liveTables).toBe(1);
    expect(table.stats().tablesAllocated).toBe(allocated);

    table.setOwner(0, 4 * K, 3);
    expect(memory.liveTables).toBe(3);
    table.setOwner(0, 4 * K, 0);
    expect(table.ownerAt(0)).toBe(0);
    expect(memory.liveTables).toBe(1);
    expect(table.tablePages()).toHaveLength(1);

    table.setOwner(2 * M, 2 * M, 3);
    table.setOwner(2 * M + 4 * K, 4 * K, 0); // splits the annotation: 511 entries keep it
    expect(memory.liveTables).toBe(3);
    expect(ownerRuns(table)).toEqual([
      [2 * M, 2 * M + 4 * K, 3],
      [2 * M + 8 * K, 4 * M, 3],
    ]);
    table.setOwner(2 * M, 2 * M, 0);
    expect(ownerRuns(table)).toEqual([]);
    expect(memory.liveTables).toBe(1);
    expect(table.stats().tablesFreed).toBe(table.stats().tablesAllocated - 1);
  });

  it("unmap does not free a table that holds annotations, and stops at an annotated entry", () => {
    const { table, memory } = setup(S2_4K);
    table.map(0, 0x8000_0000, 4 * K, RW);
    table.setOwner(4 * K, 4 * K, 3);
    table.map(8 * K, 0x8000_2000, 4 * K, RW);
    expect(table.unmap(0, 12 * K)).toBe(4 * K);
    expect(table.translate(8 * K)).toBeDefined();
    expect(table.unmap(8 * K, 4 * K)).toBe(4 * K);
    expect(memory.liveTables).toBe(3); // root, level 2, level 3 with the annotation
    expect(table.ownerAt(4 * K)).toBe(3);
    // Without the annotation the same unmap frees both tables.
    table.setOwner(4 * K, 4 * K, 0);
    expect(memory.liveTables).toBe(1);
  });

  it("refuses an owner the format cannot hold (EINVAL), changing nothing", () => {
    const { table } = setup(S2_4K);
    table.setOwner(0, 4 * K, 1);
    const before = snapshot(table);
    expect(table.format.maxAnnotation).toBe(255);
    expectError(() => table.setOwner(0, 4 * K, 256), "EINVAL", "owner 256 is not 0..255");
    expect(code(() => table.setOwner(0, 4 * K, -1))).toBe("EINVAL");
    expect(code(() => table.setOwner(0, 4 * K, 1.5))).toBe("EINVAL");
    expect(code(() => table.setOwner(0x800, 4 * K, 1))).toBe("EINVAL");
    expect(code(() => table.setOwner(2 ** 40, 4 * K, 1))).toBe("ERANGE");
    expect(snapshot(table)).toBe(before);
    expect(table.stats().ownerChanges).toBe(1);
  });

  it("rolls back an annotation split that cannot allocate its table (ENOMEM)", () => {
    const { table, memory } = setup(S2_4K);
    table.setOwner(2 * M, 2 * M, 3);
    const before = snapshot(table);
    memory.failAfter = 0;
    expect(code(() => table.setOwner(2 * M + 4 * K, 4 * K, 9))).toBe("ENOMEM");
    expect(code(() => table.map(2 * M, 0x8000_0000, 4 * K, RW))).toBe("ENOMEM");
    memory.failAfter = undefined;
    expect(snapshot(table)).toBe(before);
    expect(table.ownerAt(2 * M + 4 * K)).toBe(3);
  });

  it("v7s: a supersection-sized annotation is 16 section entries; a map inside splits one", () => {
    const { table } = setup(V7S);
    table.setOwner(16 * M, 16 * M, 5);
    const visits: Array<[number, number, number]> = [];
    table.walk({ annotation: (a) => void visits.push([a.va, a.span, a.level]) });
    expect(visits).toEqual(Array.from({ length: 16 }, (_, i) => [16 * M + i * M, 1 * M, 1]));
    expect(table.ownerAt(16 * M + 5 * M + 4 * K)).toBe(5);
    table.map(16 * M + 4 * K, 0x8000_0000, 4 * K, RW);
    expect(ownerRuns(table)).toEqual([
      [16 * M, 16 * M + 4 * K, 5],
      [16 * M + 8 * K, 32 * M, 5],
    ]);
    // Annotating part of a supersection splits it into sections first.
    table.map(32 * M, 0x8100_0000, 16 * M, RW);
    table.setOwner(33 * M, 1 * M, 7);
    expect(table.translate(32 * M)!.size).toBe(1 * M);
    expect(table.translate(33 * M)).toBeUndefined();
    expect(table.ownerAt(33 * M)).toBe(7);
    expect(table.translate(34 * M)!.pa).toBe(0x8100_0000 + 2 * M);
  });

  it("golden descriptors: encodeInvalid, annotation and describe for lpae and v7s", () => {
    const out = new Uint32Array(2);
    for (const format of [S1_4K, S2_4K, S1_64K, V7S]) {
      const g = geometryOf(format);
      expect(format.maxAnnotation).toBe(255);
      format.levels.forEach((info, li) => {
        format.encodeInvalid(li, 3, out);
        expect([out[0], out[1]]).toEqual([3 << 2, 0]);
        expect(format.kind(li, out[0]!, out[1]!)).toBe(DESC_INVALID);
        expect(decodeDescriptor(format, g, li, out[0]!, out[1]!)).toBe(DESC_INVALID);
        expect(format.describe(li, 3 << 2, 0)).toBe("INVALID owner=3");
        expect(format.describe(li, 0, 0)).toBe("INVALID");
        expect(format.describe(li, (3 << 2) | (1 << 12), 0)).toBe(
          "INVALID owner=3 (other bits set)",
        );
        for (let a = 0; a <= 255; a++) {
          format.encodeInvalid(li, a, out);
          expect(out[0]).toBe(a << 2);
          expect(format.annotation(li, out[0]!, out[1]!)).toBe(a);
          expect(format.kind(li, out[0]!, out[1]!)).toBe(DESC_INVALID);
        }
        format.encodeInvalid(li, 0, out);
        expect([out[0], out[1]]).toEqual([0, 0]);
        expect(code(() => format.encodeInvalid(li, 256, out))).toBe("EINVAL");
        // Valid descriptors carry no annotation, whatever bits 9:2 hold.
        for (const size of info.leafSizes) {
          format.encodeLeaf(li, size, size * 3, RW | PROT.CACHE | PROT.NO_AF, out);
          expect(format.kind(li, out[0]!, out[1]!)).toBe(DESC_LEAF);
          expect(format.annotation(li, out[0]!, out[1]!)).toBe(0);
        }
        if (info.hasTables) {
          format.encodeTable(li, 0x8000_0000, out);
          expect(format.annotation(li, out[0]!, out[1]!)).toBe(0);
          expect(format.annotation(li, out[0]! | (0xff << 2), out[1]!)).toBe(0);
        }
      });
    }
  });
});

describe("PageTable.rewrite (the rewriting walker)", () => {
  it("clears the access flag of leaves: translations lose PERM.AF, in one change list", () => {
    for (const format of [S1_4K, S2_4K]) {
      const { table, calls, batches } = setup(format);
      table.map(0, 0x8000_0000, 16 * K, RW);
      expect(table.translate(0)!.perm & PERM.AF).toBeTruthy();
      calls.length = 0;
      batches.length = 0;
      const n = table.rewrite((l) => ({ lo: l.lo & ~LPAE_AF, hi: l.hi }), 0, 8 * K);
      expect(n).toBe(2);
      expect(table.translate(0)!.perm & PERM.AF).toBe(0);
      expect(table.translate(4 * K)!.perm & PERM.AF).toBe(0);
      expect(table.translate(8 * K)!.perm & PERM.AF).toBeTruthy();
      expect(table.translate(4 * K)!.pa).toBe(0x8000_1000);
      expect(table.format.attributes(2, table.translate(0)!.lo, 0).accessFlag).toBe(false);
      expect(batches).toHaveLength(1);
      expect(
        batches[0]!.map((c) => [c.va, c.before!.perm & PERM.AF, c.after!.perm & PERM.AF]),
      ).toEqual([
        [0, PERM.AF, 0],
        [4 * K, PERM.AF, 0],
      ]);
      expect(leafCalls(calls)).toEqual([
        { op: "leaf", va: 0, size: 8 * K, granule: 4 * K, pa: 0x8000_0000 },
      ]);
    }
  });

  it("shows every leaf meeting the range once, a multi-entry leaf with its copies", () => {
    const { table } = setup(V7S);
    table.map(0, 0x8000_0000, 4 * K, RW);
    table.map(64 * K, 0x8001_0000, 64 * K, RW);
    table.map(1 * M, 0x8010_0000, 1 * M, RW);
    const seen: Array<[number, number, number]> = [];
    table.rewrite((l) => void seen.push([l.va, l.size, l.copies]), 4 * K, 1 * M + 4 * K);
    expect(seen).toEqual([
      [64 * K, 64 * K, 16],
      [1 * M, 1 * M, 1],
    ]);
    // Clear AP0 (the access flag, bit 4 of a level-2 entry) of the large page: all 16 copies.
    expect(table.rewrite((l) => ({ lo: l.lo & ~(1 << 4), hi: 0 }), 64 * K, 128 * K)).toBe(1);
    for (let va = 64 * K; va < 128 * K; va += 4 * K)
      expect(table.translate(va)!.perm & PERM.AF).toBe(0);
    expect(table.translate(0)!.perm & PERM.AF).toBeTruthy();
  });

  it("rewriting a leaf to an invalid descriptor removes it", () => {
    const { table, calls, batches } = setup(S1_4K);
    table.map(0, 0x8000_0000, 12 * K, RW);
    calls.length = 0;
    batches.length = 0;
    expect(table.rewrite(() => ({ lo: 0, hi: 0 }), 4 * K, 8 * K)).toBe(1);
    expect(table.translate(4 * K)).toBeUndefined();
    expect(table.mappedBytes(0, 12 * K)).toBe(8 * K);
    expect(batches[0]!.map((c) => [c.va, c.before!.pa, c.after])).toEqual([
      [4 * K, 0x8000_1000, null],
    ]);
    expect(leafCalls(calls)).toEqual([
      { op: "leaf", va: 4 * K, size: 4 * K, granule: 4 * K, pa: 0x8000_1000 },
    ]);
  });

  it("a rewrite to another leaf of the same size moves it", () => {
    const { table } = setup(S1_4K);
    table.map(2 * M, 0x8020_0000, 2 * M, RW);
    const out = new Uint32Array(2);
    S1_4K.encodeLeaf(1, 2 * M, 0x9000_0000, PROT.READ, out);
    expect(table.rewrite(() => ({ lo: out[0]!, hi: out[1]! }))).toBe(1);
    expect(table.translate(2 * M + 5)!.pa).toBe(0x9000_0005);
  });

  it("a rewrite to a table descriptor or to a leaf of another size is EINVAL and changes nothing", () => {
    {
      const { table, batches } = setup(S1_4K);
      table.map(0, 0x8000_0000, 8 * K, RW);
      table.map(2 * M, 0x8020_0000, 2 * M, RW);
      batches.length = 0;
      const before = snapshot(table);
      // The pages are rewritten first (their AF cleared), then the block fails.
      expectError(
        () =>
          table.rewrite((l) =>
            l.size === 4 * K ? { lo: l.lo & ~LPAE_AF, hi: l.hi } : { lo: l.lo | 2, hi: l.hi },
          ),
        "EINVAL",
        "table descriptor",
      );
      expect(snapshot(table)).toBe(before);
      expect(batches).toEqual([]);
      expect(table.translate(0)!.perm & PERM.AF).toBeTruthy();
    }
    {
      const { table, batches } = setup(V7S);
      table.map(0, 0x8000_0000, 4 * K, RW);
      table.map(1 * M, 0x8010_0000, 1 * M, RW);
      batches.length = 0;
      const before = snapshot(table);
      // A small page (type 1x) turned into a large page (type 01): 64K, not 4K.
      expectError(
        () => table.rewrite((l) => (l.size === 4 * K ? { lo: (l.lo & ~3) | 1, hi: 0 } : undefined)),
        "EINVAL",
        "another size",
      );
      // A section turned into a supersection (bit 18).
      expectError(
        () =>
          table.rewrite((l) => (l.size === 1 * M ? { lo: l.lo | (1 << 18), hi: 0 } : undefined)),
        "EINVAL",
        "another size",
      );
      // A section turned into a table descriptor (type 01 at level 1).
      expectError(
        () => table.rewrite((l) => (l.size === 1 * M ? { lo: (l.lo & ~3) | 1, hi: 0 } : undefined)),
        "EINVAL",
        "table descriptor",
      );
      expect(snapshot(table)).toBe(before);
      expect(batches).toEqual([]);
    }
  });

  it("counts only leaves it changed; a rewriter that throws changes nothing", () => {
    const { table, calls, batches } = setup(S1_4K);
    table.map(0, 0x8000_0000, 8 * K, RW);
    calls.length = 0;
    batches.length = 0;
    expect(table.rewrite((l) => ({ lo: l.lo, hi: l.hi }))).toBe(0);
    expect(table.rewrite(() => undefined)).toBe(0);
    expect(batches).toEqual([]);
    expect(calls).toEqual([]);
    const before = snapshot(table);
    expect(() =>
      table.rewrite((l) => {
        if (l.va > 0) throw new Error("visitor failed");
        return { lo: 0, hi: 0 };
      }),
    ).toThrow("visitor failed");
    expect(snapshot(table)).toBe(before);
  });
});

describe("PageTable.adopt / detach", () => {
  it("detach returns the root and leaves the tables to their next owner", () => {
    const { table, memory, registration } = setup(S1_4K);
    table.map(0, 0x8000_0000, 4 * M + 8 * K, RW);
    const tables = memory.liveTables;
    expectError(() => table.detach(), "EBUSY", "flush target");
    expect(table.live).toBe(true);
    registration.dispose();
    const root = table.detach();
    expect(root).toBe(table.root);
    expect(table.live).toBe(false);
    expect(table.listenerCount).toBe(0);
    expect(memory.liveTables).toBe(tables);
    expect(code(() => table.map(8 * M, 0, 4 * K, RW))).toBe("ENODEV");
    expect(code(() => table.unmap(0, 4 * K))).toBe("ENODEV");
    expect(code(() => table.walk({}))).toBe("ENODEV");
    expect(code(() => table.addFlushTarget(recorder().target))).toBe("ENODEV");
    expect(code(() => table.onChange(() => {}))).toBe("ENODEV");
    expect(code(() => table.detach())).toBe("ENODEV");
    expect(code(() => table.translate(0))).toBe("ENODEV");
    table.destroy(); // a detached table frees nothing
    expect(memory.liveTables).toBe(tables);
  });

  it("adopt over a detached root translates the same and keeps working until destroyed", () => {
    const memory = PhysTableMemory.standalone(256 * M);
    const built = new PageTable(S1_4K, memory, { name: "builder" });
    built.map(0, 0x8000_0000, 4 * M + 8 * K, RW);
    built.setOwner(8 * M, 2 * M, 4);
    const before = snapshot(built);
    const root = built.detach();
    const tables = memory.liveTables;
    const adopted = PageTable.adopt(S1_4K, memory, root, { name: "kernel" });
    expect(adopted.name).toBe("kernel");
    expect(adopted.root).toBe(root);
    expect(memory.liveTables).toBe(tables); // nothing allocated
    expect(adopted.stats().tablesAllocated).toBe(0);
    expect(snapshot(adopted)).toBe(before);
    expect(adopted.translate(4 * M + 4 * K + 3)!.pa).toBe(0x8040_1003);
    expect(adopted.ownerAt(8 * M)).toBe(4);
    // Splits, new tables and frees work on the adopted tables.
    const { calls, target } = recorder();
    adopted.addFlushTarget(target);
    expect(adopted.unmap(2 * M + 4 * K, 4 * K)).toBe(4 * K);
    adopted.map(1 * G, 0x9000_0000, 4 * K, RW);
    expect(adopted.unmap(2 * M, 8 * K)).toBe(4 * K); // stops at the hole it made
    expect(adopted.translate(2 * M)).toBeUndefined();
    expect(adopted.translate(2 * M + 8 * K)!.pa).toBe(0x8020_2000);
    expect(adopted.translate(1 * G)!.pa).toBe(0x9000_0000);
    expect(calls.length).toBeGreaterThan(0);
    adopted.destroy();
    expect(memory.liveTables).toBe(0);
  });

  it("adopt refuses a root that is not a live table of the memory (EINVAL)", () => {
    const memory = PhysTableMemory.standalone(64 * M);
    const table = new PageTable(S1_4K, memory);
    table.map(0, 0x8000_0000, 4 * K, RW);
    for (const root of [12345, -4096, Number.NaN, 2 ** 60, table.root + 8])
      expectError(() => PageTable.adopt(S1_4K, memory, root), "EINVAL", "not a table");
    // Another table memory over the same store: the same bytes, but not its table.
    const other = new PhysTableMemory(
      memory.store,
      PhysTableMemory.standalone(64 * M, 0x1_0000_0000).target,
    );
    expectError(
      () => PageTable.adopt(S1_4K, other, table.root),
      "EINVAL",
      "is not a table of this table memory",
    );
    // A destroyed table's root is no table any more.
    const root = table.root;
    table.destroy();
    expect(code(() => PageTable.adopt(S1_4K, memory, root))).toBe("EINVAL");
    expect(memory.liveTables).toBe(0);
  });

  it("adopt refuses a tree holding a table that is not one of the memory's", () => {
    const m1 = PhysTableMemory.standalone(64 * M);
    const m2 = new PhysTableMemory(
      m1.store,
      PhysTableMemory.standalone(64 * M, 0x1_0000_0000).target,
    );
    const a = new PageTable(S1_4K, m1);
    a.map(0, 0x8000_0000, 4 * K, RW);
    const b = new PageTable(S1_4K, m2);
    b.map(0, 0x9000_0000, 4 * K, RW);
    // Point B's first root entry at A's level-2 table (a table of m1, not of m2).
    const aWords = m1.words(a.root);
    const bWords = m2.words(b.root);
    const foreign = a.tablePages()[1]!.addr;
    bWords[0] = aWords[0]!;
    bWords[1] = aWords[1]!;
    const root = b.detach();
    const live = m2.liveTables;
    expectError(
      () => PageTable.adopt(S1_4K, m2, root),
      "EINVAL",
      `0x${foreign.toString(16)} (a level-2 table under root 0x${root.toString(16)})`,
    );
    expect(m2.liveTables).toBe(live);
  });
});

describe("PageTable.unmapFast with a caller's IotlbGather", () => {
  const P = 0x8000_0000;

  it("sends no leaf invalidation until the gather is synced", () => {
    const { table, calls } = setup(S1_4K);
    table.map(0, P, 64 * K, RW);
    calls.length = 0;
    const gather = new IotlbGather();
    expect(table.unmapFast(0, 16 * K, gather)).toBe(16 * K);
    expect(table.translate(0)).toBeUndefined(); // the table has changed already
    expect(calls).toEqual([]);
    expect(table.stats().leafFlushes).toBe(0);
    expect([gather.empty, gather.start, gather.end, gather.pgsize, gather.pa]).toEqual([
      false,
      0,
      16 * K,
      4 * K,
      P,
    ]);
    gather.sync();
    expect(calls).toEqual([{ op: "leaf", va: 0, size: 16 * K, granule: 4 * K, pa: P }]);
    expect([gather.empty, gather.syncs, table.stats().leafFlushes]).toEqual([true, 1, 1]);
    gather.sync(); // empty: nothing more
    expect(calls).toHaveLength(1);
  });

  it("merges contiguous unmapFast calls of one page size into one range, either direction", () => {
    const { table, calls } = setup(S1_4K);
    table.map(0, P, 64 * K, RW);
    calls.length = 0;
    const gather = new IotlbGather();
    table.unmapFast(0, 16 * K, gather);
    table.unmapFast(16 * K, 16 * K, gather);
    table.unmapFast(32 * K, 8 * K, gather);
    expect(calls).toEqual([]);
    gather.sync();
    expect(calls).toEqual([{ op: "leaf", va: 0, size: 40 * K, granule: 4 * K, pa: P }]);
    calls.length = 0;
    table.unmapFast(52 * K, 4 * K, gather);
    table.unmapFast(48 * K, 4 * K, gather); // below the pending range, touching it
    expect([gather.start, gather.end, gather.pa]).toEqual([48 * K, 56 * K, P + 48 * K]);
    gather.sync();
    expect(calls).toEqual([
      { op: "leaf", va: 48 * K, size: 8 * K, granule: 4 * K, pa: P + 48 * K },
    ]);
  });

  it("a disjoint range or another page size syncs the pending range first", () => {
    const { table, calls } = setup(S1_4K);
    table.map(0, P, 64 * K, RW);
    table.map(2 * M, 0x9020_0000, 2 * M, RW);
    calls.length = 0;
    const gather = new IotlbGather();
    table.unmapFast(0, 8 * K, gather);
    table.unmapFast(32 * K, 4 * K, gather); // disjoint
    expect(calls).toEqual([{ op: "leaf", va: 0, size: 8 * K, granule: 4 * K, pa: P }]);
    table.unmapFast(2 * M, 2 * M, gather); // another page size
    expect(calls.slice(1)).toEqual([
      { op: "leaf", va: 32 * K, size: 4 * K, granule: 4 * K, pa: P + 32 * K },
    ]);
    gather.sync();
    expect(calls.slice(2)).toEqual([
      { op: "leaf", va: 2 * M, size: 2 * M, granule: 2 * M, pa: 0x9020_0000 },
    ]);
    expect(gather.syncs).toBe(3);
  });

  it("walk invalidations (freed tables, splits) are sent at once", () => {
    const { table, calls } = setup(S1_4K);
    table.map(0, P, 4 * K, RW);
    table.map(2 * M, 0x9020_0000, 2 * M, RW);
    calls.length = 0;
    const gather = new IotlbGather();
    // The last page of its level-3 table: the table is freed (its level-2 table stays).
    table.unmapFast(0, 4 * K, gather);
    expect(calls).toEqual([{ op: "walk", va: 0, size: 2 * M, granule: 4 * K }]);
    gather.sync();
    calls.length = 0;
    // A split: the block goes at once, break-before-make; the page's leaf invalidation waits.
    table.unmapFast(2 * M + 4 * K, 4 * K, gather);
    expect(calls).toEqual([{ op: "walk", va: 2 * M, size: 2 * M, granule: 2 * M }]);
    expect([gather.start, gather.pgsize, gather.pa]).toEqual([2 * M + 4 * K, 4 * K, 0x9020_1000]);
    gather.sync();
    expect(leafCalls(calls)).toEqual([
      { op: "leaf", va: 2 * M + 4 * K, size: 4 * K, granule: 4 * K, pa: 0x9020_1000 },
    ]);
  });

  it("gather.pa is the old output address while contiguous, else -1", () => {
    const { table, calls } = setup(S1_4K);
    table.map(0, P, 8 * K, RW);
    table.map(8 * K, 0x9000_0000, 4 * K, RW);
    table.map(16 * K, P + 16 * K, 4 * K, RW);
    calls.length = 0;
    const gather = new IotlbGather();
    table.unmapFast(0, 8 * K, gather);
    expect(gather.pa).toBe(P);
    table.unmapFast(8 * K, 4 * K, gather);
    expect(gather.pa).toBe(-1);
    gather.sync();
    expect(calls).toEqual([{ op: "leaf", va: 0, size: 12 * K, granule: 4 * K, pa: -1 }]);
    expect(gather.pa).toBe(-1);
    table.unmapFast(16 * K, 4 * K, gather);
    expect(gather.pa).toBe(P + 16 * K);
  });

  it("a gather shared by two tables syncs the first table's range when the second adds one", () => {
    const memory = PhysTableMemory.standalone(64 * M);
    const t1 = new PageTable(S1_4K, memory, { name: "one" });
    const t2 = new PageTable(S1_4K, memory, { name: "two" });
    const r1 = recorder();
    const r2 = recorder();
    t1.addFlushTarget(r1.target);
    t2.addFlushTarget(r2.target);
    t1.map(0, P, 8 * K, RW);
    t2.map(0, 0x9000_0000, 8 * K, RW);
    const gather = new IotlbGather();
    t1.unmapFast(0, 4 * K, gather);
    t2.unmapFast(4 * K, 4 * K, gather); // touching, but another table's
    expect(r1.calls).toEqual([{ op: "leaf", va: 0, size: 4 * K, granule: 4 * K, pa: P }]);
    expect(r2.calls).toEqual([]);
    gather.sync();
    expect(r2.calls).toEqual([
      { op: "leaf", va: 4 * K, size: 4 * K, granule: 4 * K, pa: 0x9000_1000 },
    ]);
    expect(r1.calls).toHaveLength(1);
  });

  it("leaves a pending gather alone while other operations flush their own", () => {
    const { table, calls } = setup(S1_4K);
    table.map(0, P, 16 * K, RW);
    calls.length = 0;
    const gather = new IotlbGather();
    table.unmapFast(0, 4 * K, gather);
    expect(table.unmap(8 * K, 4 * K)).toBe(4 * K);
    table.protect(12 * K, 4 * K, PROT.READ);
    expect(calls).toEqual([
      { op: "leaf", va: 8 * K, size: 4 * K, granule: 4 * K, pa: P + 8 * K },
      { op: "leaf", va: 12 * K, size: 4 * K, granule: 4 * K, pa: P + 12 * K },
    ]);
    expect([gather.start, gather.end]).toEqual([0, 4 * K]);
    gather.sync();
    expect(calls[2]).toEqual({ op: "leaf", va: 0, size: 4 * K, granule: 4 * K, pa: P });
  });

  it("needs a gather (EINVAL) and changes nothing on a failed split (ENOMEM)", () => {
    const { table, memory, calls } = setup(S1_4K);
    table.map(2 * M, 0x9020_0000, 2 * M, RW);
    calls.length = 0;
    expect(code(() => table.unmapFast(2 * M, 4 * K, {} as IotlbGather))).toBe("EINVAL");
    const gather = new IotlbGather();
    memory.failAfter = 0;
    expect(code(() => table.unmapFast(2 * M + 4 * K, 4 * K, gather))).toBe("ENOMEM");
    memory.failAfter = undefined;
    expect(table.translate(2 * M + 4 * K)!.size).toBe(2 * M);
    expect(gather.empty).toBe(true);
  });
});

describe("PageTable.destroy", () => {
  it("sends flushAll, then tableDestroyed, to every flush target and drops every registration", () => {
    const { table, calls } = setup(S1_4K);
    const other = recorder();
    table.addFlushTarget(other.target);
    table.onChange(() => {});
    table.map(0, 0x8000_0000, 8 * K, RW);
    calls.length = 0;
    expect([table.flushTargetCount, table.listenerCount]).toEqual([2, 2]);
    table.destroy();
    expect(calls).toEqual([{ op: "all" }, { op: "destroyed", table }]);
    expect(other.calls.slice(-2)).toEqual([{ op: "all" }, { op: "destroyed", table }]);
    expect([table.flushTargetCount, table.listenerCount, table.live]).toEqual([0, 0, false]);
    expect(table.stats().flushAlls).toBe(1);
    table.destroy(); // once only
    expect(calls).toHaveLength(2);
    expect(code(() => table.addFlushTarget(other.target))).toBe("ENODEV");
    expect(code(() => table.walk({}))).toBe("ENODEV");
  });

  for (const format of [S1_4K, S2_4K, S1_64K, V7S])
    it(`releases freed table pages from the byte store: ${format.name}`, () => {
      const memory = PhysTableMemory.standalone(256 * M);
      const { store, target } = memory;
      const pinned = store.pinnedPages;
      const materialized = store.materializedPages;
      const free = target.stats().freeBytes;
      const table = new PageTable(format, memory);
      const [page, block] = format.pageSizes as [number, number];
      table.map(0, 0x1000_0000, 3 * page, RW);
      table.map(block, 2 * block, block, RW);
      table.unmap(block + page, page); // a split: one more table
      table.map(64 * block, 0x2000_0000, page, RW);
      table.setOwner(128 * block + page, page, 9);
      expect(store.pinnedPages).toBeGreaterThan(pinned);
      expect(store.materializedPages).toBeGreaterThan(materialized);
      table.destroy();
      expect(memory.liveTables).toBe(0);
      expect(store.pinnedPages).toBe(pinned);
      expect(store.materializedPages).toBe(materialized);
      expect(target.stats().freeBytes).toBe(free);
    });

  it("a destroyed table translates nothing: ENODEV, and its released pages stay released", () => {
    const memory = PhysTableMemory.standalone(64 * M);
    const { store } = memory;
    const old = new PageTable(S1_4K, memory);
    old.setOwner(8 * M, 4 * K, 3);
    old.map(0, 0x8000_0000, 4 * K, RW);
    old.destroy();
    expect(code(() => old.translate(0))).toBe("ENODEV");
    expect(code(() => old.ownerAt(8 * M))).toBe("ENODEV");
    expect(code(() => old.mappedBytes(0, 4 * K))).toBe("ENODEV");
    expect([store.pinnedPages, store.materializedPages]).toEqual([0, 0]);
    // Its pages are reused by the next table: the old object must not read them as its own.
    const next = new PageTable(S1_4K, memory);
    next.map(0, 0x9000_0000, 4 * K, RW);
    expect(next.root).toBe(old.root);
    expect(code(() => old.translate(0))).toBe("ENODEV");
    expect(next.translate(0)!.pa).toBe(0x9000_0000);
  });

  it("tables an unmap frees are released from the byte store too", () => {
    const memory = PhysTableMemory.standalone(64 * M);
    const { store } = memory;
    const table = new PageTable(S1_4K, memory);
    table.map(0, 0x8000_0000, 4 * K, RW);
    expect([store.pinnedPages, store.materializedPages]).toEqual([3, 3]);
    table.map(5 * G, 0x8000_1000, 4 * K, RW);
    expect([store.pinnedPages, store.materializedPages]).toEqual([5, 5]);
    table.unmap(5 * G, 4 * K);
    expect([store.pinnedPages, store.materializedPages]).toEqual([3, 3]);
    expect(table.translate(0)!.pa).toBe(0x8000_0000);
  });
});
