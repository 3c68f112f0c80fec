import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemweaveError } from "../base/errors.js";
import type { PageTableFormat } from "./format.js";
import { createLpaeFormat } from "./lpae.js";
import type { TlbFlush } from "./page-table.js";
import { PageTable } from "./page-table.js";
import { iommuPgsize } from "./pgsize.js";
import { PERM, PROT } from "./prot.js";
import { PhysTableMemory } from "./table-memory.js";
import { createV7sFormat } from "./v7s.js";
import { errorCode as code } from "../base/errors.testutil.js";

const K = 1024;
const M = 1024 * K;
const G = 1024 * M;
const RW = PROT.READ | PROT.WRITE;

function setup(format: PageTableFormat) {
  const memory = PhysTableMemory.standalone(256 * M);
  const { store, target } = memory;
  const table = new PageTable(format, memory);
  const flushes: Array<[number, number]> = [];
  const flush: TlbFlush = {
    flushLeaf: (va, size) => flushes.push([va, size]),
    flushWalk: (va, size) => flushes.push([va, size]),
    flushAll: () => flushes.push([-1, -1]),
  };
  table.addFlushTarget(flush);
  return { table, memory, target, store, flushes };
}

/** Every leaf, as [va, size, pa, lo, hi], plus the table addresses: the table's full state. */
function snapshot(table: PageTable): string {
  const leaves: number[][] = [];
  const tables: number[] = [];
  table.walk({
    table: (t) => void tables.push(t.addr),
    leaf: (l) => void leaves.push([l.va, l.size, l.pa, l.lo, l.hi]),
  });
  return JSON.stringify({ leaves, tables });
}

const LPAE_CASES: Array<{ granule: 4096 | 16384 | 65536; sizes: number[] }> = [
  { granule: 4096, sizes: [4 * K, 2 * M, 1 * G] },
  { granule: 16384, sizes: [16 * K, 32 * M] },
  { granule: 65536, sizes: [64 * K, 512 * M] },
];

describe("PageTable: the Linux io-pgtable selftest sequence (arm_lpae_run_tests)", () => {
  for (const { granule, sizes } of LPAE_CASES)
    for (let ias = 32; ias <= 48; ias++)
      for (const stage of [1, 2] as const)
        it(`lpae-s${stage} ${granule / K}K ias${ias}`, () => {
          const format = createLpaeFormat({ stage, granule, ias, oas: 48 });
          const usable = format.pageSizes.filter((s) => sizes.includes(s));
          expect(usable.length).toBeGreaterThan(0);
          const { table, memory } = setup(format);
          // An empty table translates nothing.
          expect(table.translate(42)).toBeUndefined();
          // Map each page size at i x 1G, identity; a second map there fails; iova+42 translates.
          usable.forEach((size, i) => {
            const iova = i * G;
            table.map(iova, iova, size, RW | PROT.NOEXEC | PROT.CACHE);
            expect(code(() => table.map(iova, iova + size, size, PROT.READ | PROT.NOEXEC))).toBe(
              "EEXIST",
            );
            expect(table.translate(iova + 42)?.pa).toBe(iova + 42);
          });
          // Partial unmap: remove the smallest page from inside the second mapping, map it again elsewhere.
          const small = usable[0]!;
          if (usable.length > 1) {
            expect(table.unmap(1 * G + small, small)).toBe(small);
            expect(table.translate(1 * G + small + 42)).toBeUndefined();
            expect(table.translate(1 * G + 42)?.pa).toBe(1 * G + 42);
            table.map(1 * G + small, small, small, PROT.READ);
            expect(table.translate(1 * G + small + 42)?.pa).toBe(small + 42);
            expect(table.unmap(1 * G, usable[1]!)).toBe(usable[1]!);
            table.map(1 * G, 1 * G, usable[1]!, RW | PROT.NOEXEC | PROT.CACHE);
          }
          // Full unmap and remap with other permissions.
          usable.forEach((size, i) => {
            const iova = i * G;
            expect(table.unmap(iova, size)).toBe(size);
            expect(table.translate(iova + 42)).toBeUndefined();
            table.map(iova, iova, size, PROT.WRITE);
            const t = table.translate(iova + 42)!;
            expect(t.pa).toBe(iova + 42);
            expect(t.perm & PERM.WRITE_USER).toBeTruthy();
          });
          usable.forEach((size, i) => expect(table.unmap(i * G, size)).toBe(size));
          // Everything unmapped: only the root is left.
          expect(table.tablePages()).toHaveLength(1);
          expect(memory.liveTables).toBe(1);
        });

  it("v7s: 4K, 64K, 1M and 16M pages", () => {
    const { table, memory } = setup(createV7sFormat());
    expect(table.translate(42)).toBeUndefined();
    [4 * K, 64 * K, 1 * M, 16 * M].forEach((size, i) => {
      const iova = i * 64 * M;
      table.map(iova, iova + 0x8000_0000, size, RW);
      expect(code(() => table.map(iova, iova, size, PROT.READ))).toBe("EEXIST");
      expect(table.translate(iova + 42)?.pa).toBe(iova + 0x8000_0000 + 42);
      expect(table.translate(iova + size - 1)?.size).toBe(size);
    });
    // Partial unmap of a supersection splits it into sections, then a section into pages.
    expect(table.unmap(3 * 64 * M + 1 * M + 4 * K, 4 * K)).toBe(4 * K);
    expect(table.translate(3 * 64 * M + 1 * M + 4 * K)).toBeUndefined();
    expect(table.translate(3 * 64 * M + 1 * M)?.size).toBe(4 * K);
    expect(table.translate(3 * 64 * M + 2 * M)?.size).toBe(1 * M);
    expect(table.translate(3 * 64 * M + 15 * M + 5)?.pa).toBe(
      3 * 64 * M + 0x8000_0000 + 15 * M + 5,
    );
    // Splitting a 64K large page into small pages.
    expect(table.unmap(1 * 64 * M, 4 * K)).toBe(4 * K);
    expect(table.translate(1 * 64 * M + 4 * K)?.size).toBe(4 * K);
    expect(table.unmap(1 * 64 * M, 64 * K)).toBe(0); // a hole first: nothing unmapped
    expect(table.unmap(1 * 64 * M + 4 * K, 60 * K)).toBe(60 * K);
    for (const i of [0, 2, 3]) table.unmap(i * 64 * M, [4 * K, 64 * K, 1 * M, 16 * M][i]!);
    expect(table.tablePages()).toHaveLength(1);
    expect(memory.liveTables).toBe(1);
  });
});

describe("PageTable: walks that start inside a 16-copy leaf", () => {
  it("report the 64K large page or 16M supersection once, at its base, from its first copy", () => {
    const { table } = setup(createV7sFormat());
    table.map(0x1_0000, 0x9000_0000, 64 * K, RW);
    table.map(0x100_0000, 0xa000_0000, 16 * M, RW);
    const seen: Array<[number, number, number, number]> = [];
    const leafOf = (start: number, end: number) => {
      seen.length = 0;
      table.walk({ leaf: (l) => void seen.push([l.va, l.size, l.pa, l.descAddr]) }, start, end);
      return [...seen];
    };
    const whole = leafOf(0, 2 ** 32);
    expect(whole.map((l) => [l[0], l[1], l[2]])).toEqual([
      [0x1_0000, 64 * K, 0x9000_0000],
      [0x100_0000, 16 * M, 0xa000_0000],
    ]);
    // Inside each leaf, past its first copy: the same leaf, once, with its first descriptor.
    expect(leafOf(0x1_5000, 0x1_6000)).toEqual([whole[0]]);
    expect(leafOf(0x1_5000, 0x200_0000)).toEqual(whole);
    expect(leafOf(0x180_0000, 0x190_0000)).toEqual([whole[1]]);
    expect(table.mappedBytes(0x1_1000, 0x1_2000)).toBe(0x1000);
    expect(table.mappedBytes(0x180_0000, 0x200_0000)).toBe(8 * M);
  });
});

describe("PageTable: checks and errors", () => {
  const format = createLpaeFormat({ stage: 1, granule: 4096, ias: 39, oas: 40 });

  it("chooses page sizes as iommu_map does", () => {
    const { table } = setup(format);
    table.map(0x1ff000, 0x801ff000, 0x402000, RW);
    const sizes: number[] = [];
    table.walk({ leaf: (l) => void sizes.push(l.size) });
    expect(sizes).toEqual([4 * K, 2 * M, 2 * M, 4 * K]);
    expect(table.stats().mappedBySize).toEqual({ "4 KiB": 2, "2 MiB": 2 });
  });

  it("refuses misaligned, out-of-range and no-access requests, changing nothing", () => {
    const { table } = setup(format);
    table.map(0, 0, 4 * K, RW);
    const before = snapshot(table);
    expect(code(() => table.map(0x1000, 0x2001, 4 * K, RW))).toBe("EINVAL");
    expect(code(() => table.map(0x1800, 0x2000, 4 * K, RW))).toBe("EINVAL");
    expect(code(() => table.map(0x1000, 0x2000, 100, RW))).toBe("EINVAL");
    expect(code(() => table.map(2 ** 39 - 4 * K, 0, 8 * K, RW))).toBe("ERANGE");
    expect(code(() => table.map(0x1000, 2 ** 40 - 4 * K, 8 * K, RW))).toBe("ERANGE");
    expect(code(() => table.map(0x1000, 0x1000, 4 * K, PROT.NOEXEC))).toBe("EINVAL");
    expect(code(() => table.unmap(0x800, 4 * K))).toBe("EINVAL");
    expect(code(() => table.unmap(2 ** 39, 4 * K))).toBe("ERANGE");
    expect(code(() => table.protect(0x4000, 4 * K, RW))).toBe("ENOENT");
    expect(snapshot(table)).toBe(before);
    expect(() => table.map(0, 0x5000, 4 * K, RW)).toThrow(/0x0 is already mapped/);
  });

  it("a map that meets an existing mapping halfway changes nothing", () => {
    const { table, memory } = setup(format);
    table.map(0x40_0000 + 12 * K, 0x9000_0000, 4 * K, RW);
    const before = snapshot(table);
    const tables = memory.liveTables;
    expect(code(() => table.map(0, 0x8000_0000, 8 * M, RW))).toBe("EEXIST");
    expect(snapshot(table)).toBe(before);
    expect(memory.liveTables).toBe(tables);
    expect(table.stats().rollbacks).toBe(1);
  });

  it("rolls back when a table allocation fails midway (injected ENOMEM)", () => {
    for (let failAt = 0; failAt < 2; failAt++) {
      const { table, memory, target } = setup(format);
      table.map(2 * G, 0x8000_0000, 2 * M, RW); // a block to split later
      const before = snapshot(table);
      const free = target.stats().freeBytes;
      memory.failAfter = failAt;
      // Needs a level-2 and a level-3 table for the new range.
      expect(code(() => table.map(5 * G + 4 * K, 0x1000, 8 * K, RW))).toBe("ENOMEM");
      expect(snapshot(table)).toBe(before);
      expect(target.stats().freeBytes).toBe(free);
      // A split that cannot allocate its table.
      memory.failAfter = 0;
      expect(code(() => table.unmap(2 * G + 4 * K, 4 * K))).toBe("ENOMEM");
      expect(code(() => table.protect(2 * G, 4 * K, PROT.READ))).toBe("ENOMEM");
      expect(snapshot(table)).toBe(before);
      expect(target.stats().freeBytes).toBe(free);
      memory.failAfter = undefined;
      expect(table.unmap(2 * G + 4 * K, 4 * K)).toBe(4 * K);
    }
  });

  it("unmap stops at the first hole and returns the bytes unmapped", () => {
    const { table } = setup(format);
    table.map(0, 0, 16 * K, RW);
    table.map(20 * K, 20 * K, 4 * K, RW);
    expect(table.unmap(0, 24 * K)).toBe(16 * K);
    expect(table.translate(20 * K)).toBeDefined();
    expect(table.unmap(0, 4 * K)).toBe(0);
  });

  it("protect changes permissions, splitting blocks partly inside, and flushes", () => {
    const { table, flushes } = setup(format);
    table.map(2 * M, 0x8020_0000, 2 * M, RW);
    flushes.length = 0;
    table.protect(2 * M + 8 * K, 8 * K, PROT.READ | PROT.NOEXEC);
    expect(table.translate(2 * M + 8 * K)!.perm & PERM.WRITE_PRIV).toBe(0);
    expect(table.translate(2 * M + 16 * K)!.perm & PERM.WRITE_PRIV).toBeTruthy();
    expect(table.translate(2 * M + 8 * K)!.pa).toBe(0x8020_0000 + 8 * K);
    expect(table.stats().splits).toBe(1);
    // The block was flushed (break-before-make), then the two changed pages in one gather.
    expect(flushes).toEqual([
      [2 * M, 2 * M],
      [2 * M + 8 * K, 8 * K],
    ]);
  });

  it("gathers invalidations and flushes on a change of page size or a disjoint range", () => {
    const { table, flushes } = setup(format);
    table.map(0, 0, 4 * M + 16 * K, RW); // 2 x 2M + 4 x 4K
    table.map(64 * M, 0, 4 * K, RW);
    flushes.length = 0;
    expect(table.unmap(0, 4 * M + 16 * K)).toBe(4 * M + 16 * K);
    // The two 2M blocks in one range, the 4K pages in another, and the emptied level-3 table's
    // whole range as a walk flush.
    expect(flushes).toHaveLength(3);
    expect(flushes[0]).toEqual([0, 4 * M]);
    expect(flushes).toContainEqual([4 * M, 16 * K]);
    expect(flushes).toContainEqual([4 * M, 2 * M]);
  });

  it("frees tables an unmap leaves empty, but never the root", () => {
    const { table, memory } = setup(format);
    table.map(3 * G + 4 * K, 0, 4 * K, RW);
    expect(memory.liveTables).toBe(3);
    table.unmap(3 * G + 4 * K, 4 * K);
    expect(memory.liveTables).toBe(1);
    table.map(0, 0, 1 * G, RW);
    table.map(1 * G, 0, 4 * K, RW);
    expect(table.unmap(0, 1 * G + 4 * K)).toBe(1 * G + 4 * K);
    expect(memory.liveTables).toBe(1);
  });

  it("destroy frees every table", () => {
    const { table, memory, target } = setup(format);
    const free = target.stats().freeBytes + 4 * K;
    table.map(0, 0, 64 * M + 12 * K, RW);
    table.destroy();
    expect(memory.liveTables).toBe(0);
    expect(target.stats().freeBytes).toBe(free);
    expect(code(() => table.map(0, 0, 4 * K, RW))).toBe("ENODEV");
  });
});

describe("PageTable: model-based (fast-check)", () => {
  type Op =
    | { op: "map"; page: number; pages: number; pa: number; prot: number }
    | { op: "unmap"; page: number; pages: number }
    | { op: "protect"; page: number; pages: number; prot: number }
    | { op: "fail"; after: number };
  const PROTS = [RW, PROT.READ, RW | PROT.NOEXEC | PROT.CACHE, PROT.READ | PROT.PRIV];

  for (const format of [
    createLpaeFormat({ stage: 1, granule: 4096, ias: 32, oas: 40 }),
    createLpaeFormat({ stage: 2, granule: 4096, ias: 40, oas: 40 }),
    createLpaeFormat({ stage: 1, granule: 16384, ias: 36, oas: 40 }),
    createV7sFormat(),
  ])
    it(`agrees with a reference map of pages: ${format.name}`, () => {
      const page = format.pageSizes[0]!;
      // A window holding a few blocks of the second size, so blocks and splits happen.
      const big = format.pageSizes[1]!;
      const windowPages = Math.min(4 * big, 2 * big * Math.max(1, 2048 / (big / page))) / page;
      const op = fc.oneof(
        fc.record({
          op: fc.constant("map" as const),
          page: fc.nat(windowPages - 1),
          pages: fc.oneof(
            fc.integer({ min: 1, max: 8 }),
            fc.constant(big / page),
            fc.integer({ min: 1, max: (2 * big) / page }),
          ),
          pa: fc.nat(1023),
          prot: fc.constantFrom(...PROTS),
        }),
        fc.record({
          op: fc.constant("unmap" as const),
          page: fc.nat(windowPages - 1),
          pages: fc.integer({ min: 1, max: (2 * big) / page }),
        }),
        fc.record({
          op: fc.constant("protect" as const),
          page: fc.nat(windowPages - 1),
          pages: fc.integer({ min: 1, max: 64 }),
          prot: fc.constantFrom(...PROTS),
        }),
        fc.record({ op: fc.constant("fail" as const), after: fc.nat(3) }),
      );
      fc.assert(
        fc.property(fc.array(op, { maxLength: 25 }), (ops: Op[]) => {
          const { table, memory } = setup(format);
          // Reference: page index -> [pa, prot].
          const ref = new Map<number, [number, number]>();
          let failNext: number | undefined;
          const permOf = (prot: number) => {
            const t = setup(format).table;
            t.map(0, 0, page, prot);
            return t.translate(0)!.perm;
          };
          const permCache = new Map<number, number>();
          const perm = (prot: number) => {
            if (!permCache.has(prot)) permCache.set(prot, permOf(prot));
            return permCache.get(prot)!;
          };
          for (const o of ops) {
            if (o.op === "fail") {
              failNext = o.after;
              continue;
            }
            const pages = Math.min(o.pages, windowPages - o.page);
            const before = snapshot(table);
            memory.failAfter = failNext;
            failNext = undefined;
            let err: string | undefined;
            try {
              if (o.op === "map")
                table.map(o.page * page, (o.pa * big) / 4 + o.page * page, pages * page, o.prot);
              else if (o.op === "unmap") table.unmap(o.page * page, pages * page);
              else table.protect(o.page * page, pages * page, o.prot);
            } catch (e) {
              if (!(e instanceof MemweaveError)) throw e;
              err = e.code;
            }
            memory.failAfter = undefined;
            if (err !== undefined) {
              expect(["EEXIST", "ENOMEM", "ENOENT"]).toContain(err);
              expect(snapshot(table)).toBe(before);
              continue;
            }
            // Apply to the reference.
            if (o.op === "map")
              for (let i = 0; i < pages; i++)
                ref.set(o.page + i, [(o.pa * big) / 4 + (o.page + i) * page, o.prot]);
            else if (o.op === "unmap") {
              // Linux iommu_unmap: steps of iommu_pgsize(v, v, left); stop at an empty step.
              let v = o.page * page;
              let left = pages * page;
              while (left > 0) {
                const { pgsize } = iommuPgsize(format.pageSizes, v, v, left);
                const first = v / page;
                const n = pgsize / page;
                // Every entry of the step must be valid: an entry spanning `e` bytes is valid
                // when some page under it is mapped (tables are freed when empty).
                const level = format.levels.find((l) => l.leafSizes.includes(pgsize))!;
                const perEntry = 2 ** level.shift / page;
                let allValid = true;
                for (let e = 0; e < n; e += perEntry) {
                  let any = false;
                  for (let i = 0; i < perEntry; i++) if (ref.has(first + e + i)) any = true;
                  if (!any) allValid = false;
                }
                if (!allValid) break;
                for (let i = 0; i < n; i++) ref.delete(first + i);
                v += pgsize;
                left -= pgsize;
              }
            } else
              for (let i = 0; i < pages; i++)
                ref.set(o.page + i, [ref.get(o.page + i)![0], o.prot]);
            // Compare the pages around the operation (every page at the end of the run).
            const margin = Math.min(big / page, 256);
            const lo = Math.max(0, o.page - margin);
            const hi = Math.min(windowPages, o.page + pages + margin);
            for (let p = lo; p < hi; p++) {
              const t = table.translate(p * page + 8);
              const r = ref.get(p);
              if (r === undefined) expect(t, `page ${p}`).toBeUndefined();
              else {
                expect(t?.pa, `page ${p}`).toBe(r[0] + 8);
                expect(t?.perm, `page ${p} perm`).toBe(perm(r[1]));
              }
            }
          }
          for (let p = 0; p < windowPages; p++) {
            const t = table.translate(p * page);
            const r = ref.get(p);
            expect(t?.pa, `final page ${p}`).toBe(r?.[0]);
          }
          // No empty non-root tables remain.
          let empty = 0;
          table.walk({
            table: (t) => {
              if (t.levelIndex === 0) return;
              let any = false;
              table.walk(
                {
                  leaf: () => void (any = true),
                  table: (x) => void (x.levelIndex > t.levelIndex && (any = true)),
                },
                t.va,
                t.va + t.span,
              );
              if (!any) empty++;
            },
          });
          expect(empty).toBe(0);
        }),
        { numRuns: 40 },
      );
    });
});
