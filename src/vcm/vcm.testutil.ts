/**
 * Test machines for the VCM: 512 MiB of DRAM with a chunk-pool target ("vcm-pools": 16M, 1M,
 * 64K and 4K pools plus an 8 MiB contiguous pool) for VCM_MEMTYPE_0, a table target, an SMMU
 * "smmu0" with contexts vcodec / vfe / jpeg / rot (a master on each), a CPU "cpu0" whose user
 * table is TTBR0 and kernel table TTBR1 (split at 0x8000_0000_0000), and a one-to-one device
 * "mdp" whose window is the contiguous pool.
 */
import { Cpu } from "../devices/cpu.js";
import { OneToOneDevice } from "../devices/one-to-one.js";
import { Platform } from "../devices/platform.js";
import { Smmu } from "../devices/smmu.js";
import { createLpaeFormat } from "../mmu/lpae.js";
import { PageTable } from "../mmu/page-table.js";
import { PhysTableMemory } from "../mmu/table-memory.js";
import { VCM_MEMTYPE_0 } from "./attrs.js";
import type { VcmManagerOptions } from "./manager.js";
import { VcmManager } from "./manager.js";

export const K = 1024;
export const M = 1024 * K;
export const DRAM = 0x8000_0000;
/** Where the pools start: DRAM + 64M (the tables are below). */
export const POOLS = DRAM + 64 * M;
export const SPLIT = 0x8000_0000_0000;
export const KERNEL_VA = SPLIT + 0x1000_0000;
export const USER_VA = 0x1000_0000;
export const CONTEXTS = ["vcodec", "vfe", "jpeg", "rot"] as const;

export function vcmMachine(options: Partial<VcmManagerOptions> = {}) {
  const platform = new Platform({
    regions: [{ name: "dram", base: DRAM, size: 512 * M, kind: "ram" }],
    targets: [
      {
        name: "pgtables",
        ranges: [{ region: "dram", size: 64 * M }],
        allocator: { kind: "buddy" },
      },
      {
        name: "vcm-pools",
        ranges: [{ region: "dram", offset: 64 * M, size: 120 * M }],
        allocator: {
          kind: "chunk-pool",
          pools: [
            { chunkSize: 16 * M, bytes: 64 * M },
            { chunkSize: 1 * M, bytes: 32 * M },
            { chunkSize: 64 * K, bytes: 8 * M },
            { chunkSize: 4 * K, bytes: 8 * M },
          ],
          contiguousBytes: 8 * M,
        },
      },
      {
        name: "system",
        ranges: [{ region: "dram", offset: 256 * M }],
        allocator: { kind: "buddy" },
      },
    ],
  });
  const memory = new PhysTableMemory(platform.store, platform.target("pgtables"));
  const s1 = createLpaeFormat({ stage: 1, granule: 4096, ias: 48, oas: 48 });
  const user = new PageTable(s1, memory, { name: "user-pt", bus: platform.bus });
  const kernel = new PageTable(s1, memory, { name: "kernel-pt", bus: platform.bus });
  const cpu = new Cpu(platform, {
    name: "cpu0",
    ttbr0: user,
    ttbr1: kernel,
    split: SPLIT,
    asid: 1,
  });
  const smmu = new Smmu(platform, { name: "smmu0", contexts: [...CONTEXTS] });
  const masters = CONTEXTS.map((c) => smmu.attachMaster(`${c}0`, c));
  const cont = platform.target("vcm-pools").chunkPool!.contiguous!;
  const mdp = new OneToOneDevice(platform, { name: "mdp", base: cont.base, size: cont.size });
  const vcmm = new VcmManager(platform, {
    memtypes: [{ memtype: VCM_MEMTYPE_0, target: "vcm-pools" }],
    tables: "pgtables",
    smmus: [{ smmu: "smmu0", base: 0x0400_0000, irq: 32, version: 2 }],
    prebuilt: {
      kernel: { table: kernel, start: KERNEL_VA, len: 256 * M },
      user: { table: user, start: USER_VA, len: 256 * M },
    },
    ...options,
  });
  return { platform, memory, user, kernel, cpu, smmu, masters, mdp, vcmm, cont };
}
