/**
 * Issue 7's benchmarks: `whoReaches` on one 4 KiB page, and the whole graph, of a machine with
 * 1,000,000 mapped 4 KiB pages over four masters.
 *
 * The machine: 1 GiB of data (262,144 frames) and four masters mapping 250,000 pages each, every
 * one at a frame of its own pseudo-random permutation (so no two neighbours coalesce and every
 * frame is reached by about four paths): cpu0 (TTBR0), cpu1 (TTBR0), a device behind an SMMU
 * stage-1 context bank, and a vCPU whose guest stage 1 maps to IPAs that its stage 2 maps onto
 * the data with 2 MiB blocks (the guest's table pages are reached through a one-to-one stage-2
 * map of the table memory, as a nested walk reads them).
 *
 * The first `whoReaches` walks every table once and indexes it (reverse-index.ts); the timed
 * queries are the ones after it, answered from the indexes.
 */
import { benchCase } from "../../../bench/harness.js";
import { Rng } from "../../base/rng.js";
import { createLpaeFormat } from "../../mmu/lpae.js";
import { PageTable } from "../../mmu/page-table.js";
import { PROT } from "../../mmu/prot.js";
import { PhysTableMemory } from "../../mmu/table-memory.js";
import { Cpu } from "../cpu.js";
import { Platform } from "../platform.js";
import { Smmu } from "../smmu.js";
import { buildGraph } from "./export.js";
import { whoReaches } from "./reverse-map.js";

const M = 1 << 20;
const PAGE = 4096;
const FRAMES = 262_144;
const PER_MASTER = 250_000;
const DRAM = 0x8000_0000;
const TABLES = 64 * M;
const RW = PROT.READ | PROT.WRITE | PROT.CACHE;
const S1 = createLpaeFormat({ stage: 1, granule: 4096, ias: 48, oas: 48 });
const S2 = createLpaeFormat({ stage: 2, granule: 4096, ias: 40, oas: 40 });

/** A pseudo-random permutation of the frames (Fisher–Yates). */
function permutation(rng: Rng): Uint32Array {
  const p = new Uint32Array(FRAMES);
  for (let i = 0; i < FRAMES; i++) p[i] = i;
  for (let i = FRAMES - 1; i > 0; i--) {
    const j = rng.int(0, i);
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

/** The machine of this file's header; `data` is the physical base of its 1 GiB of frames. */
export function millionPageMachine(seed = 1): { platform: Platform; data: number } {
  const platform = new Platform({
    regions: [{ name: "dram", base: DRAM, size: 2048 * M, kind: "ram" }],
    targets: [
      { name: "tables", ranges: [{ region: "dram", size: TABLES }], allocator: { kind: "buddy" } },
      { name: "data", ranges: [{ region: "dram", offset: TABLES }], allocator: { kind: "buddy" } },
    ],
  });
  const memory = new PhysTableMemory(platform.store, platform.target("tables"));
  const table = (name: string, format = S1) =>
    new PageTable(format, memory, { name, bus: platform.bus });
  const data = platform.alloc("data", FRAMES * PAGE, { align: FRAMES * PAGE }).chunks[0]!.pa;
  const rng = new Rng(seed);
  const fill = (t: PageTable, va: number, outBase: number) => {
    const perm = permutation(rng);
    for (let i = 0; i < PER_MASTER; i++) t.map(va + i * PAGE, outBase + perm[i]! * PAGE, PAGE, RW);
  };
  const va = 0x40_0000_0000;
  const k0 = table("cpu0.ttbr0");
  fill(k0, va, data);
  new Cpu(platform, { name: "cpu0", ttbr0: k0, asid: 1 });
  const k1 = table("cpu1.ttbr0");
  fill(k1, va, data);
  new Cpu(platform, { name: "cpu1", ttbr0: k1, asid: 2 });
  const io = table("gpu.s1");
  fill(io, 0x1000_0000, data);
  const smmu = new Smmu(platform, { name: "smmu0", contexts: ["gpu"] });
  smmu.contextBank("gpu").bind(io, { asid: 3 });
  smmu.contextBank("gpu").activate();
  smmu.attachMaster("gpu0", "gpu");
  // The guest: IPAs 4 GiB up map the data with 2 MiB blocks; the table memory one to one.
  const ipa = 0x1_0000_0000;
  const s2 = table("vm1.s2", S2);
  s2.map(ipa, data, FRAMES * PAGE, RW);
  s2.map(DRAM, DRAM, TABLES, RW);
  const guest = table("vm1.s1");
  fill(guest, va, ipa);
  new Cpu(platform, { name: "vcpu0", ttbr0: guest, asid: 1, stage2: s2, vmid: 1 });
  return { platform, data };
}

let machine: ReturnType<typeof millionPageMachine> | undefined;
const shared = () => (machine ??= millionPageMachine());

benchCase({
  // The first query indexes the tables (a walk each); the figure is the queries after it
  // (the target for an incremental answer).
  name: "graph: whoReaches on one random 4K page, 1,000,000 mapped 4K pages over 4 masters (one nested)",
  targetNs: 1e6,
  setup: () => {
    const { platform, data } = shared();
    const rng = new Rng(5);
    return () => {
      const pa = data + rng.int(0, FRAMES - 1) * PAGE;
      return whoReaches(platform, pa, pa + PAGE);
    };
  },
});

benchCase({
  name: "graph: buildGraph of that machine (all tiers, 64 mapping nodes per address space)",
  targetNs: 2e9,
  setup: () => {
    const { platform } = shared();
    return () => buildGraph(platform);
  },
});
