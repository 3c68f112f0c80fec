/**
 * A small machine for the device tests: 256 MiB of DRAM at 2 GiB (below 2^32, so the ARMv7
 * short-descriptor format can reach it), an IO page, a buddy target for page tables and one for
 * data, and helpers to build page tables, CPUs and SMMU masters on it, and to catch errors and
 * faults.
 */
import { expect } from "vitest";

import type { Fault, TableRoot } from "../mmu/regime.js";
import type { PageTableFormat } from "../mmu/format.js";
import { createLpaeFormat } from "../mmu/lpae.js";
import { PageTable } from "../mmu/page-table.js";
import { PROT } from "../mmu/prot.js";
import { PhysTableMemory } from "../mmu/table-memory.js";
import { createV7sFormat } from "../mmu/v7s.js";
import { AccessFaultError } from "./bus-master.js";
import { Cpu } from "./cpu.js";
import { Platform } from "./platform.js";
import type { BindOptions, SmmuMaster } from "./smmu.js";
import { Smmu } from "./smmu.js";
import { caught } from "../base/errors.testutil.js";
export { caught, expectError } from "../base/errors.testutil.js";

export const K = 1024;
export const M = 1024 * K;
export const DRAM = 0x8000_0000;
export const UART = 0x0900_0000;
export const RW = PROT.READ | PROT.WRITE;
export const RO = PROT.READ;

export const S1 = createLpaeFormat({ stage: 1, granule: 4096, ias: 48, oas: 48 });
export const S2 = createLpaeFormat({ stage: 2, granule: 4096, ias: 40, oas: 40 });
export const V7S = createV7sFormat();

export function machine() {
  const platform = new Platform({
    regions: [
      { name: "dram", base: DRAM, size: 256 * M, kind: "ram" },
      { name: "uart", base: UART, size: 0x1000, kind: "io" },
    ],
    targets: [
      { name: "tables", ranges: [{ region: "dram", size: 32 * M }], allocator: { kind: "buddy" } },
      {
        name: "data",
        ranges: [{ region: "dram", offset: 32 * M, size: 224 * M }],
        allocator: { kind: "buddy" },
      },
    ],
  });
  const tables = new PhysTableMemory(platform.store, platform.target("tables"));
  const table = (format: PageTableFormat = S1, name?: string) =>
    new PageTable(format, tables, { name: name ?? format.name, bus: platform.bus });
  /** A physical block of `size` bytes aligned to `align` (default: its size). */
  const phys = (size: number, align = size) =>
    platform.alloc("data", size, { align }).chunks[0]!.pa as number;
  return { platform, tables, table, phys };
}

/** {@link machine} with a CPU "cpu0" (ASID 1) whose TTBR0 is an empty stage-1 table `pt`. */
export function cpuMachine() {
  const m = machine();
  const pt = m.table(S1, "kernel");
  const cpu = new Cpu(m.platform, { name: "cpu0", ttbr0: pt, asid: 1 });
  return { ...m, pt, cpu };
}

/** {@link machine} with an SMMU "smmu0" of these contexts (default: "gpu" and "dsp"). */
export function smmuMachine(contexts: number | string[] = ["gpu", "dsp"]) {
  const m = machine();
  const smmu = new Smmu(m.platform, { name: "smmu0", contexts });
  return { ...m, smmu };
}

/**
 * Bind `table` to the SMMU context `context`, activate it, and attach a master `name` to it.
 */
export function attachBound(
  smmu: Smmu,
  table: PageTable | TableRoot,
  {
    context = "gpu",
    name = "dev",
    ...bind
  }: BindOptions & { context?: string; name?: string } = {},
): SmmuMaster {
  const ctx = smmu.contextBank(context);
  ctx.bind(table, bind);
  ctx.activate();
  return smmu.attachMaster(name, context);
}

/** The fault of an access that must fail with an {@link AccessFaultError}. */
export function faultOf(fn: () => unknown): Fault {
  const e = caught(fn);
  expect(e).toBeInstanceOf(AccessFaultError);
  return (e as AccessFaultError).fault;
}

export function bytes(...values: number[]): Uint8Array {
  return new Uint8Array(values);
}

/** `n` bytes counting up from `start` (mod 256). */
export function pattern(n: number, start = 1): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff);
}
