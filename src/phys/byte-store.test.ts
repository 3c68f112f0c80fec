import { fc, it } from "@fast-check/vitest";
import { describe, expect } from "vitest";

import { ByteStore, STORE_PAGE_SIZE } from "./byte-store.js";

const PAGE = STORE_PAGE_SIZE;
const HIGH = 2 ** 40 + 0x3000; // a page-aligned address above 2^32

function bytes(...values: number[]): Uint8Array {
  return new Uint8Array(values);
}

/** A recognizable pattern: byte i is (i * 7 + seed) & 0xff, never all zero. */
function pattern(length: number, seed = 1): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 7 + seed) & 0xff || 0x5a);
}

function read(store: ByteStore, pa: number, size: number): Uint8Array {
  return store.read(pa, new Uint8Array(size));
}

/** Byte-for-byte equality that stays fast on large buffers; reports the first difference. */
function expectSameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let i = 0;
  while (i < actual.length && actual[i] === expected[i]) i++;
  if (i < actual.length)
    expect(actual[i], `${what}: first difference at offset 0x${i.toString(16)}`).toBe(expected[i]);
}

describe("sparseness", () => {
  it("untouched memory reads zeros and materializes nothing", () => {
    const s = new ByteStore();
    expect(read(s, 0, 16)).toEqual(new Uint8Array(16));
    expect(read(s, HIGH - 5, 3 * PAGE)).toEqual(new Uint8Array(3 * PAGE));
    expect(s.readU8(0x1234)).toBe(0);
    expect(s.readU32(0xffe)).toBe(0);
    expect(s.readU64(HIGH + 8)).toBe(0);
    expect(s.equals(0x5000, new Uint8Array(100))).toBe(true);
    expect(s.isMaterialized(0)).toBe(false);
    expect(s.materializedPages).toBe(0);
    expect(s.materializedPfns()).toEqual([]);
  });

  it("a write materializes only the pages it touches", () => {
    const s = new ByteStore();
    s.writeU8(HIGH + 5, 1);
    expect(s.materializedPages).toBe(1);
    expect(s.isMaterialized(HIGH)).toBe(true);
    expect(s.isMaterialized(HIGH + PAGE - 1)).toBe(true);
    expect(s.isMaterialized(HIGH + PAGE)).toBe(false);
    expect(s.isMaterialized(HIGH - 1)).toBe(false);
    s.writeU8(7, 2);
    expect(s.materializedPfns()).toEqual([0, HIGH / PAGE]);
  });
});

describe("read and write", () => {
  it("10 bytes at 0xffb cross one page boundary", () => {
    const s = new ByteStore();
    const data = bytes(1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
    s.write(0xffb, data);
    expect(read(s, 0xffb, 10)).toEqual(data);
    expect(s.materializedPfns()).toEqual([0, 1]);
    // The bytes sit where they should on either side of the boundary.
    expect(s.readU8(0xffb)).toBe(1);
    expect(s.readU8(0xfff)).toBe(5);
    expect(s.readU8(0x1000)).toBe(6);
    expect(s.readU8(0x1004)).toBe(10);
    expect(s.readU8(0xffa)).toBe(0);
    expect(s.readU8(0x1005)).toBe(0);
    // A wider read around it has zeros at both ends.
    expect(read(s, 0xff9, 14)).toEqual(bytes(0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 0));
  });

  it("a buffer of more than 3 pages at an odd high address", () => {
    const s = new ByteStore();
    const pa = HIGH + 0x7ff; // odd, mid-page
    const data = pattern(3 * PAGE + 123, 3);
    s.write(pa, data);
    expect(read(s, pa, data.length)).toEqual(data);
    // Spans pages HIGH .. HIGH + 3 pages (the last partially): 4 pages.
    expect(s.materializedPages).toBe(4);
    // Unaligned sub-reads across each boundary.
    for (const off of [0, 1, PAGE - 0x7ff - 3, 2 * PAGE - 0x7ff - 1, data.length - 17]) {
      expect(read(s, pa + off, 17)).toEqual(data.subarray(off, off + 17));
    }
    expect(s.readU8(pa - 1)).toBe(0);
    expect(s.readU8(pa + data.length)).toBe(0);
  });

  it("overwrites part of earlier data and keeps the rest", () => {
    const s = new ByteStore();
    s.write(0x2000, pattern(64));
    s.write(0x2010, new Uint8Array(8).fill(0xee));
    const expected = pattern(64);
    expected.fill(0xee, 0x10, 0x18);
    expect(read(s, 0x2000, 64)).toEqual(expected);
  });

  it("read returns its out argument and zero-fills untouched parts of it", () => {
    const s = new ByteStore();
    s.write(0x1000, bytes(9, 9));
    const out = new Uint8Array(2 * PAGE + 10).fill(0xcc);
    expect(s.read(0x0ffe, out)).toBe(out);
    expect(Array.from(out.subarray(0, 4))).toEqual([0, 0, 9, 9]);
    expect(out.subarray(4).every((b) => b === 0)).toBe(true);
  });

  it("a write of 0 bytes does nothing", () => {
    const s = new ByteStore();
    s.write(0x1000, new Uint8Array(0));
    expect(s.materializedPages).toBe(0);
    expect(read(s, 0x1000, 0)).toEqual(new Uint8Array(0));
  });

  it("equals compares against the stored bytes", () => {
    const s = new ByteStore();
    s.write(0xffe, bytes(1, 2, 3, 4));
    expect(s.equals(0xffe, bytes(1, 2, 3, 4))).toBe(true);
    expect(s.equals(0xffe, bytes(1, 2, 3, 5))).toBe(false);
    expect(s.equals(0xffd, bytes(0, 1, 2))).toBe(true);
  });
});

describe("little-endian words", () => {
  it.each([0x10, 0xffc, 0xffd, 0xffe, 0xfff, HIGH + 0xffe])(
    "writeU32/readU32 at %d (page offset %d)",
    (pa) => {
      const s = new ByteStore();
      s.writeU32(pa, 0xdeadbeef);
      expect(read(s, pa, 4)).toEqual(bytes(0xef, 0xbe, 0xad, 0xde));
      expect(s.readU32(pa)).toBe(0xdeadbeef);
      expect(s.readU8(pa - 1)).toBe(0);
      expect(s.readU8(pa + 4)).toBe(0);
      // The unsigned result, not a negative int32.
      s.writeU32(pa, 0x8000_0001);
      expect(s.readU32(pa)).toBe(0x8000_0001);
      expect(s.readU32(pa)).toBeGreaterThan(0);
      s.writeU32(pa, 0xffff_ffff);
      expect(s.readU32(pa)).toBe(0xffff_ffff);
    },
  );

  it("readU32 assembles bytes written separately, across a boundary", () => {
    const s = new ByteStore();
    s.write(0xffe, bytes(0x78, 0x56, 0x34, 0x12));
    expect(s.readU32(0xffe)).toBe(0x12345678);
    expect(s.readU32(0xfff)).toBe(0x00123456);
    expect(s.readU32(0xffd)).toBe(0x34567800);
  });

  it.each([0x10, 0xffc, 0xffe, 0xff9, HIGH + 0xffc])("writeU64/readU64 at %d", (pa) => {
    const s = new ByteStore();
    const v = 0x1f_ffff_dead_beef; // 2^53 - 1 territory
    s.writeU64(pa, v);
    expect(read(s, pa, 8)).toEqual(bytes(0xef, 0xbe, 0xad, 0xde, 0xff, 0xff, 0x1f, 0x00));
    expect(s.readU64(pa)).toBe(v);
    expect(s.readU32(pa)).toBe(0xdeadbeef);
    expect(s.readU32(pa + 4)).toBe(0x001f_ffff);
    s.writeU64(pa, 2 ** 40 + 0x703);
    expect(read(s, pa, 8)).toEqual(bytes(0x03, 0x07, 0, 0, 0, 0x01, 0, 0));
    expect(s.readU64(pa)).toBe(2 ** 40 + 0x703);
    s.writeU64(pa, Number.MAX_SAFE_INTEGER);
    expect(s.readU64(pa)).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("readU64 refuses a value of 2^53 or more", () => {
    const s = new ByteStore();
    s.write(0xffc, bytes(0, 0, 0, 0, 0, 0, 0x20, 0));
    expect(() => s.readU64(0xffc)).toThrow(RangeError);
    expect(s.readU32(0xffc + 4)).toBe(0x20_0000);
  });

  it.prop([fc.nat({ max: 3 * PAGE }), fc.maxSafeNat()], { numRuns: 200 })(
    "writeU64 then readU64 round-trips any safe integer at any offset",
    (off, v) => {
      const s = new ByteStore();
      s.writeU64(HIGH + off, v);
      expect(s.readU64(HIGH + off)).toBe(v);
      const b = read(s, HIGH + off, 8);
      let ref = 0n;
      for (let i = 7; i >= 0; i--) ref = (ref << 8n) | BigInt(b[i]!);
      expect(ref).toBe(BigInt(v));
    },
  );
});

describe("fill", () => {
  it("with 0 over untouched pages materializes nothing", () => {
    const s = new ByteStore();
    s.fill(HIGH, 16 * PAGE, 0);
    s.fill(0x123, 0x4567, 0);
    expect(s.materializedPages).toBe(0);
  });

  it("with a value fills exactly the range, across pages", () => {
    const s = new ByteStore();
    s.fill(0xff0, PAGE + 0x20, 0xab);
    expect(s.readU8(0xfef)).toBe(0);
    expect(s.readU8(0xff0)).toBe(0xab);
    expect(s.readU8(0x200f)).toBe(0xab);
    expect(s.readU8(0x2010)).toBe(0);
    expect(s.materializedPages).toBe(3);
    // Only the low byte of the value counts.
    s.fill(0x10, 4, 0x1ff);
    expect(s.readU32(0x10)).toBe(0xffff_ffff);
  });

  it("with 0 over a whole written page drops it; a partial zero fill keeps it", () => {
    const s = new ByteStore();
    s.write(0x1000, pattern(3 * PAGE));
    expect(s.materializedPages).toBe(3);
    s.fill(0x2000, PAGE, 0);
    expect(s.materializedPages).toBe(2);
    expect(s.isMaterialized(0x2000)).toBe(false);
    expect(read(s, 0x2000, PAGE)).toEqual(new Uint8Array(PAGE));
    s.fill(0x1000, PAGE - 1, 0);
    expect(s.materializedPages).toBe(2);
    expect(s.readU8(0x1fff)).toBe(pattern(PAGE)[PAGE - 1]);
    expect(s.readU8(0x1000)).toBe(0);
    // The neighbour page is intact.
    expect(read(s, 0x3000, PAGE)).toEqual(pattern(3 * PAGE).subarray(2 * PAGE));
  });

  it("zeroing a dropped page's memory leaves no stale data for later accesses", () => {
    const s = new ByteStore();
    s.writeU32(0x5000, 0x11223344); // the page is now the store's most recent page
    s.fill(0x5000, PAGE, 0);
    expect(s.readU32(0x5000)).toBe(0);
    s.writeU8(0x5001, 0x99);
    expect(s.readU32(0x5000)).toBe(0x9900);
    expect(s.materializedPages).toBe(1);
  });

  it("discard forgets pages", () => {
    const s = new ByteStore();
    s.write(HIGH, pattern(2 * PAGE));
    s.discard(HIGH, 2 * PAGE);
    expect(s.materializedPages).toBe(0);
    expect(read(s, HIGH, 2 * PAGE)).toEqual(new Uint8Array(2 * PAGE));
  });

  it("with 0 does NOT drop a page handed out by pageWords: its view stays valid", () => {
    const s = new ByteStore();
    const words = s.pageWords(HIGH);
    words[3] = 0x12345678;
    expect(s.readU32(HIGH + 12)).toBe(0x12345678);
    const before = s.materializedPages;
    s.fill(HIGH, PAGE, 0);
    expect(s.materializedPages).toBe(before);
    expect(s.isMaterialized(HIGH)).toBe(true);
    expect(words[3]).toBe(0); // the view reads the zeros
    words[5] = 0xcafef00d; // and writes through it are still seen by the store
    expect(s.readU32(HIGH + 20)).toBe(0xcafef00d);
    expect(s.pageWords(HIGH + 100)).toBe(words);
  });

  it("with 0 does NOT drop a page handed out by pageBytes either", () => {
    const s = new ByteStore();
    const page = s.pageBytes(0x7000);
    page[1] = 0x42;
    expect(s.readU8(0x7001)).toBe(0x42);
    s.fill(0x7000, PAGE, 0);
    expect(page[1]).toBe(0);
    page[2] = 0x43;
    expect(s.readU8(0x7002)).toBe(0x43);
  });
});

describe("copy", () => {
  it("non-overlapping, across pages, at high addresses", () => {
    const s = new ByteStore();
    const data = pattern(2 * PAGE + 77, 9);
    s.write(HIGH + 0x123, data);
    s.copy(HIGH + 0x10_0ff1, HIGH + 0x123, data.length);
    expect(read(s, HIGH + 0x10_0ff1, data.length)).toEqual(data);
    expect(read(s, HIGH + 0x123, data.length)).toEqual(data);
  });

  it("overlapping forward (dst > src) behaves as memmove", () => {
    const s = new ByteStore();
    const data = pattern(3 * PAGE, 5);
    s.write(0x10_0000, data);
    s.copy(0x10_0000 + 0x801, 0x10_0000, data.length);
    expect(read(s, 0x10_0000 + 0x801, data.length)).toEqual(data);
    expect(read(s, 0x10_0000, 0x801)).toEqual(data.subarray(0, 0x801));
  });

  it("overlapping backward (dst < src) behaves as memmove", () => {
    const s = new ByteStore();
    const data = pattern(3 * PAGE, 6);
    s.write(0x10_0801, data);
    s.copy(0x10_0000, 0x10_0801, data.length);
    expect(read(s, 0x10_0000, data.length)).toEqual(data);
    // The tail of the source that was not overwritten is unchanged.
    expect(read(s, 0x10_0000 + data.length, 0x801)).toEqual(data.subarray(data.length - 0x801));
  });

  it("overlapping by more than its 64 KiB staging chunk, both directions", () => {
    const size = 200 * 1024 + 3;
    for (const shift of [4097, -4097, 1, -1]) {
      const s = new ByteStore();
      const src = HIGH + 0x10_0000;
      const data = pattern(size, 11);
      s.write(src, data);
      s.copy(src + shift, src, size);
      expect(s.equals(src + shift, data), `shift ${shift}`).toBe(true);
    }
  });

  it("of an untouched source keeps an untouched destination sparse", () => {
    const s = new ByteStore();
    s.copy(HIGH, 0x1000, 5 * PAGE + 3);
    expect(s.materializedPages).toBe(0);
  });

  it("of an untouched source zeroes a written destination", () => {
    const s = new ByteStore();
    s.write(0x20_0000, pattern(2 * PAGE));
    s.copy(0x20_0000 + 5, 0x1000, 2 * PAGE - 10);
    const expected = new Uint8Array(2 * PAGE);
    expected.set(pattern(2 * PAGE).subarray(0, 5));
    expected.set(pattern(2 * PAGE).subarray(2 * PAGE - 5), 2 * PAGE - 5);
    expect(read(s, 0x20_0000, 2 * PAGE)).toEqual(expected);
  });

  it("of size 0 or onto itself changes nothing", () => {
    const s = new ByteStore();
    s.write(0x1000, pattern(10));
    s.copy(0x9000, 0x1000, 0);
    s.copy(0x1000, 0x1000, 10);
    expect(s.materializedPages).toBe(1);
    expect(read(s, 0x1000, 10)).toEqual(pattern(10));
  });
});

describe("movePages", () => {
  const DIR = 512 * PAGE; // the store's 2 MiB directories

  it("moves written pages without copying; the source reads zeros and holds nothing", () => {
    const s = new ByteStore();
    const src = HIGH;
    const dst = HIGH + 3 * DIR + 5 * PAGE; // another directory, another offset within it
    s.write(src + 0x10, pattern(100, 3));
    s.write(src + 7 * PAGE + 0xff0, pattern(40, 4)); // crosses into page 8
    const before = s.pageBytes(src + 7 * PAGE).slice(); // (pins page 7: copied, not moved)
    s.write(dst + 2 * PAGE, pattern(8, 5)); // stale destination data goes
    s.movePages(dst, src, 512 * PAGE);
    expect(read(s, dst + 0x10, 100)).toEqual(pattern(100, 3));
    expect(read(s, dst + 7 * PAGE + 0xff0, 40)).toEqual(pattern(40, 4));
    expect(read(s, dst + 7 * PAGE, PAGE)).toEqual(before);
    expect(read(s, dst + 2 * PAGE, 8)).toEqual(new Uint8Array(8));
    expect(read(s, src, 512 * PAGE).every((b) => b === 0)).toBe(true);
    // Pages 0, 7 (pinned: kept, zeroed), 8 materialized at the destination; 7 at the source.
    expect(s.materializedPfns()).toEqual(
      [src + 7 * PAGE, dst, dst + 7 * PAGE, dst + 8 * PAGE].map((a) => a / PAGE),
    );
  });

  it("a view handed out at the destination stays valid: the bytes are copied into it", () => {
    const s = new ByteStore();
    const dst = HIGH + 8 * DIR;
    const words = s.pageWords(dst + PAGE); // pinned, and will receive source page 1
    const zeroed = s.pageBytes(dst + 2 * PAGE); // pinned, written, source page 2 is unwritten
    zeroed.fill(9);
    s.write(HIGH + PAGE + 8, pattern(4, 7));
    s.movePages(dst, HIGH, 4 * PAGE);
    expect(read(s, dst + PAGE + 8, 4)).toEqual(pattern(4, 7));
    expect(new Uint8Array(words.buffer, words.byteOffset + 8, 4)).toEqual(pattern(4, 7));
    expect(zeroed.every((b) => b === 0)).toBe(true);
    expect(s.isMaterialized(HIGH + PAGE)).toBe(false);
  });

  it("of unwritten memory onto unwritten memory materializes nothing", () => {
    const s = new ByteStore();
    s.movePages(HIGH + 2 * DIR, HIGH, 2 * DIR);
    expect(s.materializedPages).toBe(0);
  });

  it("an aligned 2 MiB stretch hands its whole directory over, caches and all", () => {
    const s = new ByteStore();
    const src = 2 ** 40; // directory-aligned
    const dst = 0x8000_0000 + 3 * DIR;
    s.write(src + 5 * PAGE + 3, pattern(10, 1));
    s.write(src + 511 * PAGE, pattern(PAGE, 2));
    // Fill the page cache with the source's present pages and the destination's absent ones,
    // and give the destination stale data of its own.
    expect(read(s, src + 5 * PAGE + 3, 10)).toEqual(pattern(10, 1));
    expect(read(s, dst + 5 * PAGE, 4)).toEqual(new Uint8Array(4));
    s.write(dst + 100 * PAGE, pattern(8, 3));
    s.movePages(dst, src, DIR);
    expect(read(s, dst + 5 * PAGE + 3, 10)).toEqual(pattern(10, 1));
    expect(read(s, dst + 511 * PAGE, PAGE)).toEqual(pattern(PAGE, 2));
    expect(read(s, dst + 100 * PAGE, 8)).toEqual(new Uint8Array(8));
    expect(read(s, src + 5 * PAGE + 3, 10)).toEqual(new Uint8Array(10));
    expect(s.materializedPfns()).toEqual([dst / PAGE + 5, dst / PAGE + 511]);
    // A write at the source now makes a page of its own; the destination's are untouched.
    s.write(src + 5 * PAGE, pattern(4, 9));
    expect(read(s, dst + 5 * PAGE + 3, 10)).toEqual(pattern(10, 1));
    expect(s.materializedPages).toBe(3);
    // And back, onto a source that has a page again: it is dropped.
    s.movePages(src, dst, DIR);
    expect(read(s, src + 5 * PAGE, 4)).toEqual(Uint8Array.of(0, 0, 0, pattern(10, 1)[0]!));
    expect(s.materializedPages).toBe(2);
  });

  it("a whole directory with a view handed out goes page by page (the view stays valid)", () => {
    const s = new ByteStore();
    const src = 2 ** 40;
    const dst = src + 4 * DIR;
    const view = s.pageBytes(src + 2 * PAGE);
    view.fill(7);
    s.write(src + 9 * PAGE, pattern(16, 4));
    s.movePages(dst, src, DIR);
    expect(view.every((b) => b === 0)).toBe(true); // zeroed in place, still the store's page
    expect(read(s, dst + 2 * PAGE, 3)).toEqual(Uint8Array.of(7, 7, 7));
    expect(read(s, dst + 9 * PAGE, 16)).toEqual(pattern(16, 4));
    view[0] = 1;
    expect(s.readU8(src + 2 * PAGE)).toBe(1);
  });

  it.prop(
    [
      fc.array(
        fc.tuple(
          fc.constantFrom("w", "r", "pin"),
          fc.nat({ max: 4 * 512 - 1 }),
          fc.integer({ min: 1, max: 255 }),
        ),
        { maxLength: 40 },
      ),
      fc.array(fc.tuple(fc.nat({ max: 3 }), fc.nat({ max: 3 }), fc.integer({ min: 1, max: 2 })), {
        minLength: 1,
        maxLength: 4,
      }),
    ],
    { numRuns: 60 },
  )(
    "aligned moves of whole directories match a model, with cached pages and views",
    (ops, moves) => {
      const s = new ByteStore();
      const base = 0x8000_0000; // directory-aligned; four directories A..D
      const model = new Uint8Array(4 * DIR);
      const at = (page: number, v: number) => base + page * PAGE + (v % 61);
      for (const [op, page, v] of ops) {
        if (op === "w") {
          s.writeU8(at(page, v), v);
          model[at(page, v) - base] = v;
        } else if (op === "r") expect(s.readU8(at(page, v))).toBe(model[at(page, v) - base]);
        else s.pageWords(base + page * PAGE);
      }
      for (const [from, to, n] of moves) {
        if (from === to || from + n > 4 || to + n > 4 || (from < to + n && to < from + n)) continue;
        s.movePages(base + to * DIR, base + from * DIR, n * DIR);
        model.copyWithin(to * DIR, from * DIR, (from + n) * DIR);
        model.fill(0, from * DIR, (from + n) * DIR);
        for (let i = 0; i < 64; i++) {
          const pa = base + ((i * 7919 * 61) % (4 * DIR));
          expect(s.readU8(pa)).toBe(model[pa - base]);
        }
      }
      expectSameBytes(read(s, base, 4 * DIR), model, "after the moves");
    },
  );

  it.prop(
    [
      fc.array(fc.tuple(fc.nat({ max: 4 * 1024 - 1 }), fc.integer({ min: 1, max: 255 })), {
        maxLength: 30,
      }),
      fc.nat({ max: 3 }).map((p) => p * 300 * PAGE),
      fc.nat({ max: 200 }),
    ],
    { numRuns: 60 },
  )("matches a model: dst gets src's bytes, src and nothing else changes", (writes, d, n) => {
    const s = new ByteStore();
    const size = n * PAGE;
    const src = 0x8000_0000;
    const dst = src + 2000 * PAGE + d;
    const model = new Map<number, number>();
    for (const [page, v] of writes) {
      const pa = (page < 2048 ? src : dst - 2048 * PAGE) + page * PAGE + (v % 64);
      s.writeU8(pa, v);
      model.set(pa, v);
    }
    s.movePages(dst, src, size);
    const want = new Map<number, number>();
    for (const [pa, v] of model) {
      const inSrc = pa >= src && pa < src + size;
      const inDst = pa >= dst && pa < dst + size;
      if (!inSrc && !inDst) want.set(pa, v);
    }
    for (const [pa, v] of model) if (pa >= src && pa < src + size) want.set(dst + (pa - src), v);
    for (const [pa, v] of want) expect(s.readU8(pa)).toBe(v);
    for (const pfn of s.materializedPfns()) {
      const page = read(s, pfn * PAGE, PAGE);
      for (let i = 0; i < PAGE; i++)
        if (page[i] !== 0) expect(want.get(pfn * PAGE + i)).toBe(page[i]);
    }
  });
});

describe("discard", () => {
  const DIR = 512 * PAGE;

  it("skips unwritten directories, drops whole ones, zeroes partial ones page by page", () => {
    const s = new ByteStore();
    const base = 2 ** 40;
    s.write(base + 3 * PAGE, pattern(8, 1)); // directory 0, dropped whole
    s.write(base + 2 * DIR + PAGE + 5, pattern(8, 2)); // directory 2: only partly covered
    s.write(base + 2 * DIR + 300 * PAGE, pattern(8, 3)); // beyond the range: kept
    expect(read(s, base + 3 * PAGE, 8)).toEqual(pattern(8, 1)); // cached
    s.discard(base, 2 * DIR + 200 * PAGE);
    expect(read(s, base + 3 * PAGE, 8)).toEqual(new Uint8Array(8));
    expect(read(s, base + 2 * DIR + PAGE + 5, 8)).toEqual(new Uint8Array(8));
    expect(read(s, base + 2 * DIR + 300 * PAGE, 8)).toEqual(pattern(8, 3));
    expect(s.materializedPages).toBe(1);
  });

  it("keeps pages with views (zeroed) and handles unaligned ends", () => {
    const s = new ByteStore();
    const base = 2 ** 40;
    const view = s.pageBytes(base + 10 * PAGE);
    view.fill(5);
    s.write(base, pattern(2 * PAGE, 4));
    s.discard(base + 100, DIR - 100 + 50);
    expect(read(s, base, 100)).toEqual(pattern(100, 4));
    expect(read(s, base + 100, PAGE).every((b) => b === 0)).toBe(true);
    expect(view.every((b) => b === 0)).toBe(true);
    expect(s.isMaterialized(base + 10 * PAGE)).toBe(true);
  });

  it.prop(
    [
      fc.array(fc.tuple(fc.nat({ max: 3 * 512 - 1 }), fc.integer({ min: 1, max: 255 })), {
        maxLength: 30,
      }),
      fc.nat({ max: 3 * DIR - 1 }),
      fc.nat({ max: 3 * DIR }),
    ],
    { numRuns: 60 },
  )("matches fill with zeros", (writes, start, len) => {
    const a = new ByteStore();
    const b = new ByteStore();
    const base = 0x8000_0000;
    for (const [page, v] of writes)
      for (const st of [a, b]) st.writeU8(base + page * PAGE + (v % 97), v);
    const size = Math.min(len, 3 * DIR - start);
    a.discard(base + start, size);
    b.fill(base + start, size, 0);
    expect(a.materializedPfns()).toEqual(b.materializedPfns());
    expectSameBytes(read(a, base, 3 * DIR), read(b, base, 3 * DIR), "discard vs fill");
  });
});

describe("page views", () => {
  it("pageWords is a little-endian Uint32Array over the page, shared with read/write", () => {
    const s = new ByteStore();
    const words = s.pageWords(HIGH + 0x40); // any address in the page
    expect(words).toBeInstanceOf(Uint32Array);
    expect(words.length).toBe(PAGE / 4);
    expect(s.materializedPages).toBe(1);
    words[0] = 0x04030201;
    words[1023] = 0xa1b2c3d4;
    expect(read(s, HIGH, 4)).toEqual(bytes(1, 2, 3, 4));
    expect(s.readU32(HIGH + PAGE - 4)).toBe(0xa1b2c3d4);
    s.writeU32(HIGH + 8, 0xfeedface);
    expect(words[2]).toBe(0xfeedface);
    s.write(HIGH + 16, bytes(0x11, 0x22, 0x33, 0x44));
    expect(words[4]).toBe(0x44332211);
    // The same view each time; another page gets another view.
    expect(s.pageWords(HIGH)).toBe(words);
    const other = s.pageWords(HIGH + PAGE);
    expect(other).not.toBe(words);
    other[0] = 7;
    expect(words[0]).toBe(0x04030201);
  });

  it("pageWords of a written page shows the data already there", () => {
    const s = new ByteStore();
    s.writeU64(0x3008, 2 ** 40 + 3);
    const w = s.pageWords(0x3000);
    expect([w[2], w[3]]).toEqual([3, 0x100]);
  });

  it("pageBytes is the page's bytes, shared with read/write", () => {
    const s = new ByteStore();
    s.writeU8(0x4005, 0x5a);
    const b = s.pageBytes(0x4fff);
    expect(b.length).toBe(PAGE);
    expect(b[5]).toBe(0x5a);
    b[6] = 0x6b;
    expect(s.readU8(0x4006)).toBe(0x6b);
  });
});

// ---------------------------------------------------------------------------------------------
// Model-based test: random operations in a 64 KiB window at a high address, checked against a
// plain Uint8Array.

const WINDOW = 64 * 1024;
const BASE = 2 ** 40 + 0x5_0000; // page-aligned, above 2^32

type Op =
  | { kind: "write"; off: number; data: Uint8Array }
  | { kind: "fill"; off: number; size: number; value: number }
  | { kind: "copy"; dst: number; src: number; size: number }
  | { kind: "read"; off: number; size: number }
  | { kind: "u32"; off: number; value: number }
  | { kind: "u64"; off: number; value: number };

/** An offset and a size that stay within the window; sizes favour page-crossing lengths. */
const span = fc
  .tuple(
    fc.nat({ max: WINDOW - 1 }),
    fc.oneof(
      fc.integer({ min: 0, max: 16 }),
      fc.integer({ min: 0, max: 3 * PAGE }),
      fc.constantFrom(PAGE, 2 * PAGE),
    ),
  )
  .map(([off, size]) => ({ off, size: Math.min(size, WINDOW - off) }));
/** Offsets near page boundaries, where most of the store's special cases live. */
const offset = fc.oneof(
  fc.nat({ max: WINDOW - 8 }),
  fc
    .tuple(fc.integer({ min: 1, max: WINDOW / PAGE - 1 }), fc.integer({ min: -8, max: 8 }))
    .map(([p, d]) => Math.min(Math.max(p * PAGE + d, 0), WINDOW - 8)),
);
const pageAligned = fc.nat({ max: WINDOW / PAGE - 1 }).map((p) => p * PAGE);

const op: fc.Arbitrary<Op> = fc.oneof(
  span.chain(({ off, size }) =>
    fc
      .uint8Array({ minLength: size, maxLength: size })
      .map((data): Op => ({ kind: "write", off, data })),
  ),
  fc
    .tuple(span, fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 255 })))
    .map(([{ off, size }, value]): Op => ({ kind: "fill", off, size, value })),
  // Whole-page zero fills, which drop pages.
  fc.tuple(pageAligned, fc.integer({ min: 1, max: 3 })).map(([off, n]): Op => ({
    kind: "fill",
    off,
    size: Math.min(n * PAGE, WINDOW - off),
    value: 0,
  })),
  fc.tuple(span, fc.nat({ max: WINDOW - 1 })).map(([{ off, size }, dst]): Op => {
    const n = Math.min(size, WINDOW - dst);
    return { kind: "copy", dst, src: off, size: n };
  }),
  // Overlapping copies: dst near src.
  fc
    .tuple(span, fc.integer({ min: -2 * PAGE, max: 2 * PAGE }))
    .map(([{ off, size }, shift]): Op => {
      const dst = Math.min(Math.max(off + shift, 0), WINDOW - 1);
      return { kind: "copy", dst, src: off, size: Math.min(size, WINDOW - dst) };
    }),
  span.map(({ off, size }): Op => ({ kind: "read", off, size })),
  fc
    .tuple(offset, fc.nat({ max: 0xffff_ffff }))
    .map(([off, value]): Op => ({ kind: "u32", off, value })),
  fc.tuple(offset, fc.maxSafeNat()).map(([off, value]): Op => ({ kind: "u64", off, value })),
);

function pagesOf(touched: Set<number>, off: number, size: number): void {
  if (size <= 0) return;
  for (let p = Math.floor(off / PAGE); p <= Math.floor((off + size - 1) / PAGE); p++)
    touched.add(p);
}

describe("model-based", () => {
  it.prop([fc.array(op, { minLength: 1, maxLength: 40 })], { numRuns: 150 })(
    "random write/fill/copy/read sequences match a plain Uint8Array",
    (ops) => {
      const store = new ByteStore();
      const model = new Uint8Array(WINDOW);
      // Pages that received bytes (writes, fills, copy destinations).
      const touched = new Set<number>();
      for (const o of ops) {
        switch (o.kind) {
          case "write":
            store.write(BASE + o.off, o.data);
            model.set(o.data, o.off);
            pagesOf(touched, o.off, o.data.length);
            break;
          case "fill":
            store.fill(BASE + o.off, o.size, o.value);
            model.fill(o.value, o.off, o.off + o.size);
            pagesOf(touched, o.off, o.size);
            break;
          case "copy":
            store.copy(BASE + o.dst, BASE + o.src, o.size);
            model.copyWithin(o.dst, o.src, o.src + o.size);
            pagesOf(touched, o.dst, o.size);
            break;
          case "read":
            expectSameBytes(
              read(store, BASE + o.off, o.size),
              model.subarray(o.off, o.off + o.size),
              `read 0x${o.off.toString(16)}+${o.size}`,
            );
            break;
          case "u32": {
            store.writeU32(BASE + o.off, o.value);
            new DataView(model.buffer).setUint32(o.off, o.value, true);
            pagesOf(touched, o.off, 4);
            expect(store.readU32(BASE + o.off)).toBe(
              new DataView(model.buffer).getUint32(o.off, true),
            );
            break;
          }
          case "u64": {
            store.writeU64(BASE + o.off, o.value);
            new DataView(model.buffer).setBigUint64(o.off, BigInt(o.value), true);
            pagesOf(touched, o.off, 8);
            expect(store.readU64(BASE + o.off)).toBe(o.value);
            break;
          }
        }
        expect(store.materializedPages).toBeLessThanOrEqual(touched.size);
      }
      // The whole window, and nothing outside it.
      expectSameBytes(read(store, BASE, WINDOW), model, "window");
      expect(read(store, BASE - 64, 64)).toEqual(new Uint8Array(64));
      expect(read(store, BASE + WINDOW, 64)).toEqual(new Uint8Array(64));
      for (const pfn of store.materializedPfns()) {
        expect(touched.has(pfn - BASE / PAGE)).toBe(true);
      }
      // A page never touched holds no memory.
      for (let p = 0; p < WINDOW / PAGE; p++)
        if (!touched.has(p)) expect(store.isMaterialized(BASE + p * PAGE)).toBe(false);
    },
  );
});
