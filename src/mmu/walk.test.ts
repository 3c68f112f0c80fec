/**
 * The one descriptor decoder and the one walk: `decodeDescriptor` (inline for AArch64 long
 * descriptors, through the format's methods otherwise) agrees with the format's `kind` /
 * `address` / `leafSize` for any descriptor, and `walkTable` with `out.trace` records exactly
 * the descriptors a walk by hand reads.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { PageTableFormat } from "./format.js";
import { DESC_INVALID, DESC_LEAF, DESC_TABLE } from "./format.js";
import { createLpaeFormat } from "./lpae.js";
import { PageTable } from "./page-table.js";
import { PROT } from "./prot.js";
import type { TableMemory } from "./table-memory.js";
import { PhysTableMemory } from "./table-memory.js";
import { createV7sFormat } from "./v7s.js";
import {
  decoded,
  decodeDescriptor,
  FAULT_ADDRESS_SIZE,
  FAULT_NONE,
  FAULT_TRANSLATION,
  geometryOf,
  leafSizeOf,
  WalkOut,
} from "./walk.js";
import { walkTable } from "./walk.js";

const K = 1024;
const M = 1024 * K;
const G = 1024 * M;
const RW = PROT.READ | PROT.WRITE;
const TWO_32 = 2 ** 32;
const TWO_48 = 2 ** 48;

const FORMATS: PageTableFormat[] = [
  createLpaeFormat({ stage: 1, granule: 4096, ias: 48, oas: 48 }),
  createLpaeFormat({ stage: 2, granule: 4096, ias: 40, oas: 40 }),
  createLpaeFormat({ stage: 1, granule: 16384, ias: 47, oas: 48 }),
  createLpaeFormat({ stage: 2, granule: 16384, ias: 40, oas: 44 }),
  createLpaeFormat({ stage: 1, granule: 65536, ias: 48, oas: 48 }),
  createLpaeFormat({ stage: 2, granule: 65536, ias: 42, oas: 42 }),
  createV7sFormat(),
  createV7sFormat({ ns: true }),
];

const word = fc.integer({ min: 0, max: 0xffff_ffff });
/** Low words: any, and any with each type-bit pattern (so valid descriptors are common). */
const loWord = fc.oneof(
  word,
  fc.tuple(word, fc.integer({ min: 0, max: 3 })).map(([w, t]) => ((w & ~3) | t) >>> 0),
);
/** High words: any, only OA[47:32], or none. */
const hiWord = fc.oneof(word, fc.integer({ min: 0, max: 0xffff }), fc.constant(0));

describe("decodeDescriptor: the one decoder agrees with the format's methods", () => {
  for (const format of FORMATS)
    it(`kind, address and leaf size of random descriptors: ${format.name}`, () => {
      const g = geometryOf(format);
      // The inline path for long descriptors, the methods for short ones: both are exercised.
      expect(g.fast !== undefined).toBe(format.family === "lpae");
      const hi = format.descriptorBytes === 8 ? hiWord : fc.constant(0);
      const kinds = new Set<number>();
      fc.assert(
        fc.property(fc.nat(format.levels.length - 1), loWord, hi, (li, lo, h) => {
          const kind = decodeDescriptor(format, g, li, lo, h);
          const next = decoded.next;
          kinds.add(kind);
          expect(kind, `kind at level index ${li}`).toBe(format.kind(li, lo, h));
          if (kind !== DESC_INVALID)
            expect(next, `address at level index ${li}`).toBe(format.address(li, lo, h));
          if (kind === DESC_LEAF)
            expect(leafSizeOf(format, g, li, lo, h)).toBe(format.leafSize(li, lo, h));
        }),
        { numRuns: 3000 },
      );
      expect([...kinds].sort()).toEqual([DESC_INVALID, DESC_TABLE, DESC_LEAF]);
    });

  for (const format of FORMATS)
    it(`decodes what the encoders write: ${format.name}`, () => {
      const g = geometryOf(format);
      const out = new Uint32Array(2);
      const limit = 2 ** format.oas;
      fc.assert(
        fc.property(
          fc.nat(format.levels.length - 1),
          fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
          fc.constantFrom(RW, PROT.READ, RW | PROT.CACHE | PROT.NOEXEC, PROT.WRITE | PROT.MMIO),
          (li, n, prot) => {
            const info = format.levels[li]!;
            for (const size of info.leafSizes) {
              const pa = (n % (limit / size)) * size;
              format.encodeLeaf(li, size, pa, prot, out);
              expect(decodeDescriptor(format, g, li, out[0]!, out[1]!)).toBe(DESC_LEAF);
              expect(decoded.next).toBe(pa);
              expect(leafSizeOf(format, g, li, out[0]!, out[1]!)).toBe(size);
            }
            if (info.hasTables) {
              const align = format.family === "v7s" ? 1024 : format.granule;
              const addr = (n % (limit / align)) * align;
              format.encodeTable(li, addr, out);
              expect(decodeDescriptor(format, g, li, out[0]!, out[1]!)).toBe(DESC_TABLE);
              expect(decoded.next).toBe(addr);
            }
          },
        ),
        { numRuns: 300 },
      );
    });

  it("64K granule: OA[51:48] comes from bits 15:12 of the low word", () => {
    const format = createLpaeFormat({ stage: 1, granule: 65536, ias: 48, oas: 48 });
    const g = geometryOf(format);
    expect(g.fast?.packedHigh).toBe(true);
    const last = format.levels.length - 1;
    // A page: OA[31:16] = 0x0001, OA[47:32] = 0xabcd, OA[51:48] = 5.
    expect(decodeDescriptor(format, g, last, 0x0001_5003, 0xabcd)).toBe(DESC_LEAF);
    expect(decoded.next).toBe(0x1_0000 + 0xabcd * TWO_32 + 5 * TWO_48);
    expect(format.address(last, 0x0001_5003, 0xabcd)).toBe(decoded.next);
    // A table one level up: OA[51:48] = 0xa.
    expect(decodeDescriptor(format, g, last - 1, 0x0003_a003, 0x12)).toBe(DESC_TABLE);
    expect(decoded.next).toBe(0x3_0000 + 0x12 * TWO_32 + 0xa * TWO_48);
    // The 4K granule keeps bits 15:12 in the address (they are OA[15:12]).
    const f4 = createLpaeFormat({ stage: 1, granule: 4096, ias: 48, oas: 48 });
    const g4 = geometryOf(f4);
    expect(g4.fast?.packedHigh).toBe(false);
    expect(decodeDescriptor(f4, g4, 3, 0x0001_5003, 0xabcd)).toBe(DESC_LEAF);
    expect(decoded.next).toBe(0x1_5000 + 0xabcd * TWO_32);
  });

  it("a block where the granule has none, and a block at the last level, are invalid", () => {
    const f4 = createLpaeFormat({ stage: 1, granule: 4096, ias: 48, oas: 48 });
    const g = geometryOf(f4);
    expect(f4.levels[0]!.leafSizes).toEqual([]); // no 512G blocks
    expect(decodeDescriptor(f4, g, 0, 0x4000_0001, 0)).toBe(DESC_INVALID);
    expect(decodeDescriptor(f4, g, 3, 0x4000_0001, 0)).toBe(DESC_INVALID);
    expect(decodeDescriptor(f4, g, 1, 0x4000_0001, 0)).toBe(DESC_LEAF);
    expect(decoded.next).toBe(0x4000_0000);
  });
});

/** A walk by hand: index each level, read the descriptor, follow tables with the format. */
function walkByHand(format: PageTableFormat, memory: TableMemory, root: number, va: number) {
  const reads: Array<[number, number, number]> = [];
  let table = root;
  const limit = 2 ** format.oas;
  for (let li = 0; li < format.levels.length; li++) {
    const span = 2 ** format.levels[li]!.shift;
    const entries = li === 0 ? format.rootEntries : format.levels[li]!.entries;
    const addr = table + (Math.floor(va / span) % entries) * format.descriptorBytes;
    const page = Math.floor(addr / 4096) * 4096;
    const words = memory.words(page);
    const k = (addr - page) / 4;
    const lo = words[k]!;
    const hi = format.descriptorBytes === 8 ? words[k + 1]! : 0;
    reads.push([addr, lo, hi]);
    const kind = format.kind(li, lo, hi);
    if (kind === DESC_INVALID) return { reads, code: FAULT_TRANSLATION, li };
    const next = format.address(li, lo, hi);
    if (next >= limit) return { reads, code: FAULT_ADDRESS_SIZE, li };
    if (kind === DESC_LEAF) {
      const size = format.leafSize(li, lo, hi);
      return { reads, code: FAULT_NONE, li, pa: next + (va % size), size };
    }
    table = next;
  }
  throw new Error("a walk by hand went past the last level");
}

describe("walkTable: out.trace records the descriptors of the walk", () => {
  interface Case {
    format: PageTableFormat;
    /** Builds mappings; returns input ranges worth walking into. */
    build: (table: PageTable) => Array<[number, number]>;
  }
  const CASES: Case[] = [
    {
      format: createLpaeFormat({ stage: 1, granule: 4096, ias: 48, oas: 40 }),
      build: (t) => {
        t.map(0, 0x1000_0000, 16 * K, RW);
        t.map(2 * M, 0x2000_0000, 4 * M, RW); // 2M blocks
        t.map(1 * G, 0x4000_0000, 1 * G, RW); // a 1G block
        t.unmap(1 * G + 2 * M + 4 * K, 4 * K); // split twice
        t.setOwner(8 * M, 2 * M, 3); // an annotated (invalid, non-zero) entry
        t.map(2 ** 47 + 5 * G, 0x3000_0000, 64 * K, RW); // another level-0 entry
        // A leaf whose output is beyond the 40-bit output size: an address-size fault.
        t.rewrite((l) => ({ lo: l.lo, hi: l.hi | 0x100 }), 4 * K, 8 * K);
        return [
          [0, 16 * K],
          [2 * M, 6 * M],
          [8 * M, 10 * M],
          [1 * G, 2 * G],
          [2 ** 47 + 5 * G, 2 ** 47 + 5 * G + 64 * K],
        ];
      },
    },
    {
      format: createLpaeFormat({ stage: 2, granule: 4096, ias: 40, oas: 40 }),
      build: (t) => {
        t.map(0, 0x1000_0000, 2 * M + 8 * K, RW);
        t.map(600 * G, 0x8000_0000, 1 * G, RW); // the second concatenated root page
        t.map(513 * G + 4 * K, 0x9000_0000, 4 * K, RW);
        return [
          [0, 2 * M + 8 * K],
          [600 * G, 601 * G],
          [513 * G, 513 * G + 2 * M],
        ];
      },
    },
    {
      format: createLpaeFormat({ stage: 1, granule: 65536, ias: 48, oas: 48 }),
      build: (t) => {
        t.map(0, 0x1_0000_0000, 512 * M + 128 * K, RW);
        t.map(2 ** 46, 0xabcd_0000_0000, 64 * K, RW);
        return [
          [0, 512 * M + 128 * K],
          [2 ** 46, 2 ** 46 + 64 * K],
        ];
      },
    },
    {
      format: createV7sFormat(),
      build: (t) => {
        t.map(0, 0x1000_0000, 8 * K, RW);
        t.map(64 * K, 0x1001_0000, 64 * K, RW); // a large page
        t.map(1 * M, 0x2010_0000, 1 * M, RW); // a section
        t.map(16 * M, 0x3000_0000, 16 * M, RW); // a supersection
        t.unmap(16 * M + 5 * M + 4 * K, 4 * K); // split
        t.setOwner(40 * M, 1 * M, 9);
        return [
          [0, 2 * M],
          [16 * M, 32 * M],
          [40 * M, 41 * M],
        ];
      },
    },
  ];

  for (const { format, build } of CASES)
    it(`trace equals a walk by hand: ${format.name}`, () => {
      const memory = PhysTableMemory.standalone(256 * M);
      const table = new PageTable(format, memory);
      const ranges = build(table);
      const g = geometryOf(format);
      const traced = new WalkOut();
      traced.trace = true;
      const plain = new WalkOut();
      plain.traceAddr.fill(-1);
      const inRange = fc
        .tuple(fc.constantFrom(...ranges), fc.nat())
        .map(([[start, end], n]) => start + ((n * 4096) % (end - start)));
      const anywhere = fc.integer({ min: 0, max: 2 ** format.ias - 1 });
      const codes = new Set<number>();
      fc.assert(
        fc.property(fc.oneof({ weight: 4, arbitrary: inRange }, anywhere), (va) => {
          const code = walkTable(format, g, memory, table.root, va, traced);
          const hand = walkByHand(format, memory, table.root, va);
          codes.add(code);
          expect(code).toBe(hand.code);
          expect(traced.reads).toBe(hand.reads.length);
          expect(traced.levelIndex).toBe(hand.li);
          for (let i = 0; i < traced.reads; i++)
            expect(
              [traced.traceAddr[i], traced.traceLo[i], traced.traceHi[i]],
              `read ${i}`,
            ).toEqual(hand.reads[i]);
          const [lastAddr, lastLo, lastHi] = hand.reads[hand.reads.length - 1]!;
          expect([traced.descAddr, traced.lo, traced.hi]).toEqual([lastAddr, lastLo, lastHi]);
          if (code === FAULT_NONE) {
            expect([traced.pa, traced.size]).toEqual([hand.pa, hand.size]);
            expect(table.translate(va)?.pa).toBe(hand.pa);
          }
          // Without trace: the same walk, and nothing recorded.
          expect(walkTable(format, g, memory, table.root, va, plain)).toBe(code);
          expect([plain.reads, plain.pa, plain.descAddr]).toEqual([
            traced.reads,
            traced.pa,
            traced.descAddr,
          ]);
          expect(plain.traceAddr.every((a) => a === -1)).toBe(true);
        }),
        { numRuns: 400 },
      );
      expect(codes.has(FAULT_NONE) && codes.has(FAULT_TRANSLATION)).toBe(true);
    });

  it("records the address-size fault's descriptor as the last read", () => {
    const format = createLpaeFormat({ stage: 1, granule: 4096, ias: 48, oas: 40 });
    const memory = PhysTableMemory.standalone(64 * M);
    const table = new PageTable(format, memory);
    table.map(0, 0x1000_0000, 4 * K, RW);
    table.rewrite((l) => ({ lo: l.lo, hi: l.hi | 0x100 })); // OA bit 40
    const out = new WalkOut();
    out.trace = true;
    expect(walkTable(format, geometryOf(format), memory, table.root, 8, out)).toBe(
      FAULT_ADDRESS_SIZE,
    );
    expect([out.reads, out.levelIndex]).toEqual([4, 3]);
    expect(out.traceHi[3]).toBe(0x100);
    expect(table.translate(8)).toBeUndefined();
  });

  it("an input address beyond the input size reads nothing", () => {
    const format = createLpaeFormat({ stage: 1, granule: 4096, ias: 39, oas: 40 });
    const memory = PhysTableMemory.standalone(64 * M);
    const table = new PageTable(format, memory);
    const out = new WalkOut();
    out.trace = true;
    expect(walkTable(format, geometryOf(format), memory, table.root, 2 ** 39, out)).toBe(
      FAULT_TRANSLATION,
    );
    expect([out.reads, out.levelIndex]).toEqual([0, 0]);
  });
});
