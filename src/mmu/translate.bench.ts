/**
 * W1-W3, the translation layer's workloads, against the native reference (bench/native/
 * translate.c) in the same run. Each operation draws a fresh input from an inline xorshift32,
 * the same sequence the native program draws, so the two sides do the very same operations
 * (their checksums must agree); the counts each workload's distribution implies are checked
 * after every round, outside the timed loop. W4 is in devices/access-path.bench.ts.
 */
import { expectCount, expectSameWork, nativeCase, nowNs } from "../../bench/harness.js";
import { xorshift32 } from "../base/rng.js";
import { createLpaeFormat } from "./lpae.js";
import { PageTable } from "./page-table.js";
import { PERM, PROT } from "./prot.js";
import { PhysTableMemory } from "./table-memory.js";
import { Tlb } from "./tlb.js";
import { geometryOf, walkTable, WalkOut } from "./walk.js";

const RW = PROT.READ | PROT.WRITE;
const format = createLpaeFormat({ stage: 1, granule: 4096, ias: 48, oas: 48 });

const W1_OPS = 2_000_000;
nativeCase({
  name: "mmu W1: TLB-hit lookup of 512 resident translations in random order",
  workload: "W1",
  ops: W1_OPS,
  targetRatio: 1.5,
  targetNs: 20,
  setup: () => {
    // 4-way x 256 sets: 512 random distinct 4K pages of a 48-bit space, skipping pages whose
    // set is full, so every chosen page stays resident.
    const tlb = new Tlb({ sets: 256, ways: 4, replacement: "lru", name: "bench" });
    let x = 1;
    const pages = new Float64Array(512);
    const perSet = new Uint8Array(256);
    const chosen = new Set<number>();
    for (let n = 0; n < 512;) {
      x = xorshift32(x);
      const hi = x & 0xf;
      x = xorshift32(x);
      const vpn = hi * 0x1_0000_0000 + x;
      if (chosen.has(vpn) || perSet[vpn & 255] === 4) continue;
      chosen.add(vpn);
      perSet[vpn & 255]!++;
      pages[n++] = vpn * 4096;
    }
    const rw = PERM.READ_PRIV | PERM.WRITE_PRIV | PERM.READ_USER | PERM.WRITE_USER | PERM.AF;
    for (let i = 0; i < 512; i++) tlb.insert(pages[i]!, 4096, 0x8000_0000 + i * 4096, rw, 7, 0, 3);
    const start = x;
    let checksum = 0;
    let lookups = 0;
    return {
      round() {
        const before = tlb.stats();
        let r = start;
        let sum = 0;
        const t0 = nowNs();
        for (let i = 0; i < W1_OPS; i++) {
          r = xorshift32(r);
          sum += tlb.translate(pages[r & 511]! + ((r >>> 9) & 4095), 7, 0);
        }
        const t = nowNs() - t0;
        const after = tlb.stats();
        lookups = after.hits - before.hits;
        expectCount("W1 misses", after.misses - before.misses, 0);
        checksum = sum;
        return t;
      },
      check(native) {
        expectCount("W1 hits", lookups, W1_OPS);
        expectSameWork(checksum, native);
        if (native !== undefined) expectCount("W1 native misses", native.misses as number, 0);
      },
    };
  },
});

const W2_OPS = 1_000_000;
nativeCase({
  name: "mmu W2: full 4-level walk (no TLB), random among 65,536 4K pages in a 1 GiB window",
  workload: "W2",
  ops: W2_OPS,
  targetRatio: 3,
  targetNs: 50,
  setup: () => {
    const table = new PageTable(format, PhysTableMemory.standalone(2 ** 32));
    const window = 0x7f00_0000_0000;
    let x = 7;
    const taken = new Uint8Array(262_144);
    const list = new Float64Array(65_536);
    for (let n = 0; n < 65_536;) {
      x = xorshift32(x);
      const p = x & 262_143;
      if (taken[p] === 1) continue;
      taken[p] = 1;
      list[n++] = p;
    }
    for (const p of list) table.map(window + p * 4096, 0x1_0000_0000 + p * 4096, 4096, RW);
    const start = x;
    const g = geometryOf(format);
    const out = new WalkOut();
    const mem = table.memory;
    const root = table.root;
    let checksum = 0;
    let reads = 0;
    return {
      round() {
        let r = start;
        let sum = 0;
        let n = 0;
        const t0 = nowNs();
        for (let i = 0; i < W2_OPS; i++) {
          r = xorshift32(r);
          walkTable(
            format,
            g,
            mem,
            root,
            window + list[r & 65535]! * 4096 + ((r >>> 16) & 4095),
            out,
          );
          sum += out.pa;
          n += out.reads;
        }
        const t = nowNs() - t0;
        checksum = sum;
        reads = n;
        return t;
      },
      check(native) {
        expectCount("W2 descriptors read", reads, 4 * W2_OPS);
        expectSameWork(checksum, native);
        if (native !== undefined) expectCount("W2 native reads", native.reads as number, reads);
      },
    };
  },
});

const W3_PAGES = 262_144;
nativeCase({
  name: "mmu W3: map 262,144 contiguous 4K pages, one call per page (per page)",
  workload: "W3",
  ops: W3_PAGES,
  targetRatio: 5,
  targetNs: 250,
  setup: () => {
    const mem = PhysTableMemory.standalone(2 ** 32);
    let tables = 0;
    let leaves = 0;
    return {
      round() {
        const table = new PageTable(format, mem);
        const va = 0x4000_0000;
        const pa = 0x1_0000_0000;
        const t0 = nowNs();
        for (let i = 0; i < W3_PAGES; i++) table.map(va + i * 4096, pa + i * 4096, 4096, RW);
        const t = nowNs() - t0;
        tables = mem.liveTables;
        leaves = table.mappedBytes(0, 2 ** 48) / 4096;
        table.destroy();
        return t;
      },
      check(native) {
        // One table per level above the leaves (L0, L1, L2) and 512 leaf tables for 1 GiB.
        expectCount("W3 tables", tables, 3 + 512);
        expectCount("W3 leaves", leaves, W3_PAGES);
        if (native !== undefined) {
          expectCount("W3 native tables", native.tables as number, tables);
          expectCount("W3 native leaves", native.leaves as number, leaves);
        }
      },
    };
  },
});
