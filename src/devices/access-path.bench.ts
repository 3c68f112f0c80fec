import type { NativeFigures } from "../../bench/harness.js";
import { expectCount, expectSameWork, nativeCase, nowNs } from "../../bench/harness.js";
import { xorshift32 } from "../base/rng.js";
import { createLpaeFormat } from "../mmu/lpae.js";
import { PageTable } from "../mmu/page-table.js";
import { PROT } from "../mmu/prot.js";
import { PhysTableMemory } from "../mmu/table-memory.js";
import { Cpu } from "./cpu.js";
import { Platform } from "./platform.js";

/** Reads per round. */
export const W4_OPS = 2_000_000;
/** 90% of 2^32: a draw below it picks a hot page. */
const HOT_BELOW = 3_865_470_566;

/**
 * W4: 8-byte reads through a CPU's access path (4-way x 256-set TLB, a walk on a miss), 90% to
 * 256 hot pages and 10% uniform over 16,384 mapped 4K pages, every data page written first.
 * Inputs are drawn per read from xorshift32 exactly as bench/native/translate.c draws them.
 * `attach` runs on the platform before the rounds (observers for the attached variant).
 *
 * The distribution implies the miss rate: 1,024 entries hold the 256 hot pages and 768 of the
 * 16,384 cold ones, so about 10% x (1 - 768/16,384) = 9.4% of reads miss; each round's misses
 * are checked against that (8.5%..10.5%) and against the native round's exact count (both
 * TLBs are LRU over the same reads).
 */
export function w4(attach?: (p: Platform) => void): {
  round(): number;
  check(native: NativeFigures | undefined): void;
} {
  const p = new Platform({
    regions: [{ name: "dram", base: 0x8000_0000, size: 1 << 30, kind: "ram" }],
    targets: [
      {
        name: "tables",
        ranges: [{ region: "dram", size: 64 << 20 }],
        allocator: { kind: "buddy" },
      },
      {
        name: "data",
        ranges: [{ region: "dram", offset: 64 << 20 }],
        allocator: { kind: "buddy" },
      },
    ],
  });
  const table = new PageTable(
    createLpaeFormat({ stage: 1, granule: 4096, ias: 48, oas: 48 }),
    new PhysTableMemory(p.store, p.target("tables")),
  );
  const data = p.alloc("data", 64 << 20).chunks[0]!.pa;
  const va0 = 0x40_0000_0000;
  for (let i = 0; i < 16_384; i++) {
    table.map(va0 + i * 4096, data + i * 4096, 4096, PROT.READ | PROT.WRITE);
    p.store.writeU32(data + i * 4096, i); // real data: every page materialized
  }
  const cpu = new Cpu(p, {
    name: "cpu0",
    ttbr0: table,
    asid: 1,
    tlb: { sets: 256, ways: 4, replacement: "lru" },
  });
  let x = 0xb;
  const hot = new Float64Array(256);
  for (let n = 0; n < 256;) {
    x = xorshift32(x);
    const page = x & 16_383;
    if (!hot.subarray(0, n).includes(page)) hot[n++] = page;
  }
  const start = x;
  const out = new Uint8Array(8);
  attach?.(p);
  const tlb = cpu.mmu.tlb!;
  let misses = 0;
  let checksum = 0;
  return {
    round() {
      tlb.invalidateAll(); // each round starts cold, as the native one does
      const before = tlb.stats().misses;
      let r = start;
      let sum = 0;
      const t0 = nowNs();
      for (let i = 0; i < W4_OPS; i++) {
        r = xorshift32(r);
        let page: number;
        if (r < HOT_BELOW) {
          r = xorshift32(r);
          page = hot[r & 255]!;
        } else {
          r = xorshift32(r);
          page = r & 16_383;
        }
        r = xorshift32(r);
        cpu.readInto(va0 + page * 4096 + (r & 511) * 8, out);
        sum += out[0]! + out[1]! * 256;
      }
      const t = nowNs() - t0;
      misses = tlb.stats().misses - before;
      checksum = sum;
      return t;
    },
    check(native) {
      const rate = misses / W4_OPS;
      if (!(rate >= 0.085 && rate <= 0.105))
        throw new Error(`W4 miss rate ${(100 * rate).toFixed(2)}%, expected about 9.4%`);
      expectSameWork(checksum, native);
      if (native !== undefined)
        expectCount("W4 misses against native", misses, native.misses as number);
    },
  };
}

export const W4_NAME =
  "devices W4: 8-byte reads through the access path, 90% to 256 hot pages, 10% over 16,384 (4-way x 256-set TLB)";

nativeCase({
  name: W4_NAME,
  workload: "W4",
  ops: W4_OPS,
  targetRatio: 2,
  targetNs: 40,
  setup: () => w4(),
});
