import { benchCase, memoryCase } from "../../bench/harness.js";
import { createLpaeFormat } from "./lpae.js";
import { PageTable } from "./page-table.js";
import { PROT } from "./prot.js";
import { PhysTableMemory } from "./table-memory.js";

const K = 1024;
const M = 1024 * K;
const G = 1024 * M;
const RW = PROT.READ | PROT.WRITE;
const format = createLpaeFormat({ stage: 1, granule: 4096, ias: 48, oas: 48 });

function tableMemory(): PhysTableMemory {
  return PhysTableMemory.standalone(4 * G);
}

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
