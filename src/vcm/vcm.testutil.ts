/**
 * Test machines for the VCM: 512 MiB of DRAM with a chunk-pool target ("vcm-pools": 16M, 1M,
 * 64K and 4K pools plus an 8 MiB contiguous pool) for VCM_MEMTYPE_0, a table target, an SMMU
 * "smmu0" with contexts vcodec / vfe / jpeg / rot (a master on each), a CPU "cpu0" whose user
 * table is TTBR0 and kernel table TTBR1 (split at 0x8000_0000_0000), and a one-to-one device
 * "mdp" whose window is the contiguous pool.
 */
import { expect } from "vitest";

import type { ErrorCode, MemweaveError } from "../base/errors.js";
import { expectError } from "../base/errors.testutil.js";
import { formatSize } from "../base/size.js";
import { Cpu } from "../devices/cpu.js";
import { OneToOneDevice } from "../devices/one-to-one.js";
import { Platform } from "../devices/platform.js";
import { Smmu } from "../devices/smmu.js";
import { createLpaeFormat } from "../mmu/lpae.js";
import type { AnyPageTable } from "../mmu/page-table.js";
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

export function vcmMachine(
  options: Partial<VcmManagerOptions> = {},
  /** A larger DRAM (its "system" target grows) and kernel VCM range, for gigabyte mappings. */
  size: { dram?: number; kernel?: number } = {},
) {
  const platform = new Platform({
    regions: [{ name: "dram", base: DRAM, size: size.dram ?? 512 * M, kind: "ram" }],
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
      kernel: { table: kernel, start: KERNEL_VA, len: size.kernel ?? 256 * M },
      user: { table: user, start: USER_VA, len: 256 * M },
    },
    ...options,
  });
  return { platform, memory, user, kernel, cpu, smmu, masters, mdp, vcmm, cont };
}

export type VcmMachine = ReturnType<typeof vcmMachine>;

/** Every live page table a VCM may write: the CPU's two, each context instance's, clones'. */
export function liveTables(m: VcmMachine): AnyPageTable[] {
  const out: AnyPageTable[] = [m.user, m.kernel];
  for (const d of m.vcmm.devices.instances()) if (d.live) out.push(d.table);
  for (const v of m.vcmm.vcms())
    if (v.table !== undefined && !out.includes(v.table)) out.push(v.table);
  return out.filter((t) => t.live);
}

/** A table's descriptors: every non-zero word of every table page, as `addr=value`. */
export function descriptors(t: AnyPageTable): string {
  const out: string[] = [];
  for (const p of t.tablePages())
    for (let off = 0; off < p.bytes; off += 4096) {
      const words = t.memory.words(p.addr + off);
      const n = Math.min(1024, (p.bytes - off) / 4);
      for (let i = 0; i < n; i++)
        if (words[i] !== 0)
          out.push(`${(p.addr + off + 4 * i).toString(16)}=${words[i]!.toString(16)}`);
    }
  return out.join(" ");
}

/** The leaves of a table in `[start, end)`: `{ va, size, pa }` in address order. */
export function leavesOf(
  t: AnyPageTable,
  start = 0,
  end?: number,
): Array<{ va: number; size: number; pa: number }> {
  const out: Array<{ va: number; size: number; pa: number }> = [];
  t.walk({ leaf: (l) => void out.push({ va: l.va, size: l.size, pa: l.pa }) }, start, end);
  return out;
}

/** How many leaves of each size (`"1 MiB" -> 3`) a table has in `[start, end)`. */
export function leafSizes(t: AnyPageTable, start = 0, end?: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of leavesOf(t, start, end)) {
    const k = formatSize(l.size);
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/**
 * Every page of table memory (the "pgtables" target, where every table of the machine lives),
 * each as `page:hash` of its words: the same facts as {@link descriptors} of every table, far
 * cheaper than walking each table (for tests that take the state at every step).
 */
export function tablePages(m: VcmMachine): string {
  const lo = DRAM;
  const hi = DRAM + 64 * M;
  const out: string[] = [];
  for (const pfn of m.platform.store.materializedPfns()) {
    const pa = pfn * 4096;
    if (pa < lo || pa >= hi) continue;
    const words = m.platform.store.pageWords(pa);
    let h = 0x811c9dc5;
    let any = false;
    for (let i = 0; i < 1024; i++) {
      const w = words[i]!;
      if (w === 0) continue;
      any = true;
      h = Math.imul(h ^ i, 0x01000193) ^ w;
      h = Math.imul(h, 0x01000193);
    }
    // A zero page is no table content (a walk may have materialized it by reading it); the
    // tables allocated are counted apart.
    if (any) out.push(`${pa.toString(16)}:${(h >>> 0).toString(16)}`);
  }
  return out.join(" ");
}

/**
 * Everything a VCM call may change, as plain data: the VCMs (their free device addresses,
 * reservations with device addresses and backing, associations with their active flags, bounds),
 * the physmems with their chunks and backers, every live table's descriptors (or, cheaper, every
 * table page's contents: `tables: "pages"`), the context instances' and the CPU's state, the memory targets' free bytes, the owner labels and the
 * manager's statistics. A refused call must leave it equal.
 */
export function vcmState(m: VcmMachine, options: { tables?: "walk" | "pages" } = {}) {
  const { vcmm, platform, cpu } = m;
  return {
    vcms: vcmm.vcms().map((v) => ({
      vcm: v.describe(),
      free: v.pool?.freeExtents(),
      reservations: v.reservations().map((r) => r.describe()),
      associations: v
        .associations()
        .map((a) => `${a.describe()}${a.programmed ? " programmed" : ""}`),
      bounds: v.bounds().map((b) => `${b.describe()} free ${JSON.stringify(b.pool.freeExtents())}`),
    })),
    physmems: vcmm.physmems().map(
      (p) =>
        `${p.describe()} backers ${[...p.backers]
          .map((r) => r.name)
          .sort()
          .join(",")}`,
    ),
    tables:
      options.tables === "pages"
        ? [tablePages(m)]
        : liveTables(m).map((t) => `${t.name}@${t.root.toString(16)}: ${descriptors(t)}`),
    tableCounts: [m.memory.liveTables, vcmm.tableMemory.liveTables],
    contexts: vcmm.devices.instances().map((d) => `${d.name} ${d.live && d.isActive()}`),
    cpu: [cpu.mmu.ttbr0?.root, cpu.mmu.ttbr1?.root],
    targets: platform.targets().map((t) => {
      const s = t.stats();
      return `${t.name} free ${s.freeBytes} live ${s.liveAllocations}`;
    }),
    owners: platform.owners
      .list()
      .map((o) => `${o.owner.system}/${o.owner.kind}/${o.owner.name}: ${o.description}`),
    stats: JSON.stringify(vcmm.stats),
  };
}

/**
 * `fn` must throw a MemweaveError with `code` whose message contains every text, and change
 * nothing ({@link vcmState} before and after are equal); returns the error.
 */
export function expectRefused(
  m: VcmMachine,
  fn: () => unknown,
  code: ErrorCode,
  ...texts: string[]
): MemweaveError {
  const before = vcmState(m);
  const e = expectError(fn, code, ...texts);
  expect(vcmState(m)).toEqual(before);
  return e;
}
