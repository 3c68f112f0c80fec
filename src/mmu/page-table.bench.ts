import { benchCase, memoryCase } from "../../bench/harness.js";
import { Rng } from "../base/rng.js";
import { createLpaeFormat } from "./lpae.js";
import { PageTable } from "./page-table.js";
import { PROT } from "./prot.js";
import { PhysTableMemory } from "./table-memory.js";
import { geometryOf, walkTable, WalkOut } from "./walk.js";

const K = 1024;
const M = 1024 * K;
const G = 1024 * M;
const RW = PROT.READ | PROT.WRITE;
const format = createLpaeFormat({ stage: 1, granule: 4096, ias: 48, oas: 48 });

function tableMemory(): PhysTableMemory {
  return PhysTableMemory.standalone(4 * G);
}

const N = 4096;

benchCase({
  name: "mmu W2: full 4-level walk (no TLB), random among 65,536 4K pages in a 1 GiB window",
  targetNs: 50,
  ops: N,
  setup: () => {
    const table = new PageTable(format, tableMemory());
    const rng = new Rng(7);
    const window = 0x7f00_0000_0000;
    const pages = new Set<number>();
    while (pages.size < 65_536) pages.add(rng.int(0, 262_143));
    for (const p of pages) table.map(window + p * 4096, 0x1_0000_0000 + p * 4096, 4096, RW);
    const list = [...pages];
    const vas = new Float64Array(N);
    for (let i = 0; i < N; i++) vas[i] = window + rng.pick(list) * 4096 + 8;
    const g = geometryOf(format);
    const out = new WalkOut();
    const mem = table.memory;
    const root = table.root;
    if (walkTable(format, g, mem, root, vas[0]!, out) !== 0 || out.reads !== 4)
      throw new Error("setup: walk");
    return () => {
      let sum = 0;
      for (let i = 0; i < N; i++) {
        walkTable(format, g, mem, root, vas[i]!, out);
        sum += out.pa;
      }
      return sum;
    };
  },
});

const W3_PAGES = 262_144;
benchCase({
  name: "mmu W3: map 262,144 contiguous 4K pages, one call per page (per page)",
  targetNs: 250,
  ops: W3_PAGES,
  setup: () => {
    const mem = tableMemory();
    return () => {
      const table = new PageTable(format, mem);
      const va = 0x4000_0000;
      for (let i = 0; i < W3_PAGES; i++)
        table.map(va + i * 4096, 0x1_0000_0000 + i * 4096, 4096, RW);
      table.destroy();
      return table;
    };
  },
});

benchCase({
  name: "mmu: map a 1 GiB range as one 1G block (create + map + destroy)",
  targetNs: 200_000,
  setup: () => {
    const mem = tableMemory();
    return () => {
      const table = new PageTable(format, mem);
      table.map(0x40_0000_0000, 0x1_0000_0000, G, RW);
      table.destroy();
      return table;
    };
  },
});

benchCase({
  name: "mmu: map a 1 GiB range as 512 2M blocks (create + map + destroy)",
  targetNs: 200_000,
  setup: () => {
    const mem = tableMemory();
    return () => {
      const table = new PageTable(format, mem);
      table.map(0x40_0020_0000, 0x1_0020_0000, G, RW);
      table.destroy();
      return table;
    };
  },
});

memoryCase({
  name: "mmu: one million mapped 4K pages, heap beyond the table pages",
  targetBytes: 64 * M,
  build: () => {
    const mem = tableMemory();
    const table = new PageTable(format, mem);
    table.map(0x10_0000_0000, 0x1_0000_0000, 4 * G, RW | PROT.NOEXEC);
    // 4 GiB aligned to 1G maps as blocks: split it into one million 4K pages by remapping.
    table.unmap(0x10_0000_0000, 4 * G);
    for (let i = 0; i < 1 << 20; i += 512)
      table.map(0x10_0000_0000 + i * 4096, 0x1_0000_0000 + i * 4096 + 4096, 512 * 4096 - 4096, RW);
    for (let i = 0; i < 1 << 20; i += 512)
      table.map(
        0x10_0000_0000 + i * 4096 + (512 * 4096 - 4096),
        0x1_0000_0000 + i * 4096,
        4096,
        RW,
      );
    return table;
  },
  exclude: (t) => (t as PageTable).tablePages().reduce((s, p) => s + Math.max(p.bytes, 4096), 0),
});
