import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { PhysAddr } from "../base/address.js";
import type { AllocModel } from "./allocator-model.testutil.js";
import { checkNoOverlap, expectCode, modelBytes } from "./allocator-model.testutil.js";
import { BUDDY_MAX_ORDER, BuddyAllocator } from "./buddy.js";

const K = 1024;
const M = 1024 * K;
const G = 1024 * M;

describe("BuddyAllocator", () => {
  it("carves a range into naturally aligned blocks, largest first", () => {
    // 0x8000_3000 .. +2M+12K: 4K at 0x3000? No: 0x8000_3000 is 4K aligned, then 16K, 32K, ...
    const b = new BuddyAllocator(0x8000_3000, 2 * M + 12 * K);
    const blocks = b.freeBlocks();
    for (const blk of blocks) expect(blk.pa % blk.size).toBe(0);
    expect(blocks.reduce((s, x) => s + x.size, 0)).toBe(2 * M + 12 * K);
    expect(blocks[0]).toEqual({ pa: 0x8000_3000, size: 4 * K });
    expect(blocks[1]).toEqual({ pa: 0x8000_4000, size: 16 * K });
  });

  it("allocates naturally aligned power-of-two blocks and coalesces on free", () => {
    const b = new BuddyAllocator(0x4000_0000, 1 * G);
    expect(b.largestFreeBlock()).toBe(1 * G);
    const a = b.alloc(4 * K);
    expect(a).toBe(0x4000_0000);
    expect(b.freeBlocksByOrder().slice(0, BUDDY_MAX_ORDER)).toEqual(
      new Array(BUDDY_MAX_ORDER).fill(1),
    );
    const c = b.alloc(12 * K); // rounds up to 16K
    expect(c % (16 * K)).toBe(0);
    expect(b.blockSize(c)).toBe(16 * K);
    const d = b.alloc(4 * K, 2 * M); // alignment beyond size takes a 2M block
    expect(d % (2 * M)).toBe(0);
    expect(b.blockSize(d)).toBe(2 * M);
    expect(b.liveAllocations).toBe(3);
    b.free(a);
    b.free(d);
    b.free(c);
    expect(b.freeBlocks()).toEqual([{ pa: 0x4000_0000, size: 1 * G }]);
    expect(b.stats()).toEqual({
      totalBytes: G,
      freeBytes: G,
      largestFreeBlock: G,
      liveAllocations: 0,
    });
  });

  it("manages a 4 GiB pool above 4 GiB physical", () => {
    const b = new BuddyAllocator(0x1_0000_0000, 4 * G);
    const blocks = [];
    for (let i = 0; i < 4; i++) blocks.push(b.alloc(1 * G));
    expect(blocks).toEqual(
      [0x1_0000_0000, 0x1_4000_0000, 0x1_8000_0000, 0x1_c000_0000].sort((x, y) => x - y),
    );
    expectCode(() => b.alloc(4 * K), "ENOMEM");
    for (const x of blocks) b.free(x);
    expect(b.freeBytes).toBe(4 * G);
  });

  it("refuses bad requests with a clear error and changes nothing", () => {
    const b = new BuddyAllocator(0x8000_0000, 8 * M);
    const keep = b.alloc(64 * K);
    const before = JSON.stringify([b.stats(), b.freeBlocks()]);
    expectCode(() => b.alloc(0), "EINVAL");
    expectCode(() => b.alloc(100), "EINVAL");
    expectCode(() => b.alloc(4 * K, 3 * K), "EINVAL");
    expectCode(() => b.alloc(2 * G), "EINVAL");
    expectCode(() => b.alloc(16 * M), "ENOMEM");
    expectCode(() => b.free(keep + 4 * K), "EINVAL");
    expectCode(() => b.free(0x1000), "EINVAL");
    expectCode(() => b.free(0x8000_0001), "EINVAL");
    expect(JSON.stringify([b.stats(), b.freeBlocks()])).toBe(before);
    b.free(keep);
    expectCode(() => b.free(keep), "EINVAL"); // double free
    try {
      b.free(keep);
    } catch (e) {
      expect((e as Error).message).toMatch(/0x80000000 is not an allocated block/);
    }
    expect(b.freeBytes).toBe(8 * M);
  });

  it("names the allocator and sizes in ENOMEM", () => {
    const b = new BuddyAllocator(0, 64 * K, "dma32");
    b.alloc(64 * K);
    expect(() => b.alloc(4 * K)).toThrow(/ENOMEM: dma32: no free block of 4 KiB/);
  });

  it("refuses a range that is not 4 KiB aligned or too large", () => {
    expectCode(() => new BuddyAllocator(0x800, 4 * K), "EINVAL");
    expectCode(() => new BuddyAllocator(0, 0), "EINVAL");
    expectCode(() => new BuddyAllocator(0, 128 * G), "EINVAL");
  });

  // Model-based: random alloc / free / refused calls against a reference set of blocks.
  type Model = AllocModel & { b: BuddyAllocator; base: number; size: number; initial: string };
  class Alloc implements fc.Command<Model, BuddyAllocator> {
    constructor(
      readonly pages: number,
      readonly alignOrder: number,
    ) {}
    check = () => true;
    run(m: Model, b: BuddyAllocator): void {
      const size = this.pages * 4 * K;
      const align = 4 * K * 2 ** this.alignOrder;
      const before = JSON.stringify([b.stats(), b.freeBlocks()]);
      const want = 2 ** Math.ceil(Math.log2(Math.max(size, align)));
      let pa: PhysAddr;
      try {
        pa = b.alloc(size, align);
      } catch (e) {
        expect((e as { code: string }).code).toBe("ENOMEM");
        // Only refused when no free block of the needed order exists.
        expect(b.largestFreeBlock()).toBeLessThan(want);
        expect(JSON.stringify([b.stats(), b.freeBlocks()])).toBe(before);
        return;
      }
      expect(pa % want).toBe(0);
      expect(pa % align).toBe(0);
      expect(b.blockSize(pa)).toBe(want);
      m.live.push({ key: pa, asked: size, chunks: [{ pa, size: want }] });
      checkAll(m, b);
    }
    toString = () => `alloc(${this.pages}p, align 2^${this.alignOrder}p)`;
  }
  class Free implements fc.Command<Model, BuddyAllocator> {
    constructor(readonly pick: number) {}
    check = (m: Readonly<Model>) => m.live.length > 0;
    run(m: Model, b: BuddyAllocator): void {
      const [victim] = m.live.splice(this.pick % m.live.length, 1);
      b.free(victim!.key);
      checkAll(m, b);
    }
    toString = () => `free(#${this.pick})`;
  }
  class BadFree implements fc.Command<Model, BuddyAllocator> {
    constructor(readonly offset: number) {}
    check = () => true;
    run(m: Model, b: BuddyAllocator): void {
      const pa = m.base + this.offset;
      if (m.live.some((a) => a.key === pa)) return;
      const before = JSON.stringify([b.stats(), b.freeBlocks()]);
      expectCode(() => b.free(pa), "EINVAL");
      expect(JSON.stringify([b.stats(), b.freeBlocks()])).toBe(before);
    }
    toString = () => `badFree(+${this.offset.toString(16)})`;
  }
  function checkAll(m: Model, b: BuddyAllocator): void {
    checkNoOverlap(m, [{ base: m.base, size: m.size }]);
    expect(b.freeBytes + modelBytes(m)).toBe(m.size);
    expect(b.liveAllocations).toBe(m.live.length);
    // Free blocks never overlap live blocks.
    const live = m.live.flatMap((a) => a.chunks);
    for (const f of b.freeBlocks())
      for (const c of live) expect(f.pa + f.size <= c.pa || c.pa + c.size <= f.pa).toBe(true);
  }

  it("model: allocations never overlap, bytes are accounted for, freeing all coalesces fully", () => {
    const commands = [
      fc
        .tuple(fc.integer({ min: 1, max: 80 }), fc.integer({ min: 0, max: 6 }))
        .map(([p, a]) => new Alloc(p, a)),
      fc.integer({ min: 1, max: 8 }).map((p) => new Alloc(p, 0)),
      fc.nat().map((n) => new Free(n)),
      fc.integer({ min: 0, max: 600 }).map((n) => new BadFree(n * 4 * K)),
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(0x8000_0000, 0x8000_3000, 0x1_2345_6000),
        fc.integer({ min: 1, max: 4096 }),
        fc.commands(commands, { maxCommands: 150, size: "max" }),
        (base, pages, cmds) => {
          const size = pages * 4 * K;
          const b = new BuddyAllocator(base, size);
          const model: Model = { live: [], b, base, size, initial: JSON.stringify(b.freeBlocks()) };
          fc.modelRun(() => ({ model, real: b }), cmds);
          for (const a of [...model.live]) b.free(a.key);
          expect(JSON.stringify(b.freeBlocks())).toBe(model.initial);
          expect(b.stats()).toEqual({
            totalBytes: size,
            freeBytes: size,
            largestFreeBlock: Math.max(
              ...(JSON.parse(model.initial) as Array<{ size: number }>).map((x) => x.size),
            ),
            liveAllocations: 0,
          });
        },
      ),
      { numRuns: 60 },
    );
  });
});
