import { benchCase } from "../../bench/harness.js";
import { Rng } from "../base/rng.js";
import { createLpaeFormat } from "../mmu/lpae.js";
import { PageTable } from "../mmu/page-table.js";
import { PROT } from "../mmu/prot.js";
import { PhysTableMemory } from "../mmu/table-memory.js";
import { Cpu } from "./cpu.js";
import { Platform } from "./platform.js";

const N = 4096;

/**
 * The W4 machine and its timed loop: 8-byte reads, 90% to 256 hot pages and 10% over 16,384
 * written 4K pages, through a CPU with a 4-way x 256-set TLB. `attach` runs on the platform
 * before the loop is returned (observers for the attached variant).
 */
export function w4(attach?: (p: Platform) => void): () => unknown {
  {
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
    const va = 0x40_0000_0000;
    // 16,384 4K pages, mapped page by page (the TLB holds 4K translations).
    for (let i = 0; i < 16_384; i++) {
      table.map(va + i * 4096, data + i * 4096, 4096, PROT.READ | PROT.WRITE);
      p.store.writeU32(data + i * 4096, i); // real data: every page materialized
    }
    const cpu = new Cpu(p, {
      name: "cpu0",
      ttbr0: table,
      asid: 1,
      tlb: { sets: 256, ways: 4, replacement: "lru" },
    });
    const rng = new Rng(11);
    const hot = Array.from({ length: 256 }, () => rng.int(0, 16_383));
    const addrs = new Float64Array(N);
    for (let i = 0; i < N; i++)
      addrs[i] =
        va + (rng.chance(0.9) ? rng.pick(hot) : rng.int(0, 16_383)) * 4096 + rng.int(0, 511) * 8;
    const out = new Uint8Array(8);
    attach?.(p);
    return () => {
      for (let i = 0; i < N; i++) cpu.readInto(addrs[i]!, out);
      return out;
    };
  }
}

/** The reads one call of the W4 loop makes. */
export const W4_OPS = N;
export const W4_NAME =
  "devices W4: 8-byte reads through the access path, 90% to 256 hot pages, 10% over 16,384 (4-way x 256-set TLB)";

benchCase({
  name: W4_NAME,
  targetNs: 40,
  ops: N,
  setup: () => w4(),
});
