/**
 * `vcm_back` and `vcm_unback` on the machine: the page sizes each kind of device is mapped with
 * (counted leaf by leaf in its table against an independent greedy choice), several
 * reservations backed by one physmem, unback unmapping and invalidating the TLBs, EAGAIN and
 * EINVAL, and the rollback of backing, activation and cloning proven by a table-allocation
 * failure injected at every allocation they make.
 */
import { describe, expect, it } from "vitest";

import { expectError } from "../base/errors.testutil.js";
import { AccessFaultError } from "../devices/bus-master.js";
import { Cpu } from "../devices/cpu.js";
import type { AnyPageTable } from "../mmu/page-table.js";
import type { PhysTableMemory } from "../mmu/table-memory.js";
import {
  VCM_1MB,
  VCM_4KB,
  VCM_64KB,
  VCM_ALIGN_64K,
  VCM_MEMTYPE_0,
  VCM_PHYS_CONT,
  VCM_PREBUILT_KERNEL,
  VCM_PREBUILT_USER,
  VCM_READ,
  VCM_WB_WA,
  VCM_WRITE,
} from "./attrs.js";
import type { Physmem } from "./physmem.js";
import type { Reservation } from "./reservation.js";
import { SMMU_MAP_SIZES } from "./smmu/driver.js";
import type { VcmMachine } from "./vcm.testutil.js";
import {
  expectRefused,
  K,
  leafSizes,
  leavesOf,
  M,
  POOLS,
  vcmMachine,
  vcmState,
} from "./vcm.testutil.js";

const RW = VCM_READ | VCM_WRITE;
const LPAE_SIZES = [4 * K, 2 * M, 1024 * M];

/**
 * The pages an independent greedy choice maps `res` backed by `physmem` with: chunk after chunk
 * (cut at the reservation's size), at each step the largest size that the device address, the
 * physical address and the length left allow.
 */
function greedyPages(sizes: readonly number[], res: Reservation, physmem: Physmem) {
  const desc = [...sizes].sort((a, b) => b - a);
  const out: Array<{ va: number; size: number; pa: number }> = [];
  const size = Math.ceil(res.len / 4096) * 4096;
  let va = res.getDevAddr();
  let left = size;
  for (const c of physmem.chunks) {
    const n = Math.min(c.size, left);
    for (let off = 0; off < n;) {
      const s = desc.find((s) => (va + off) % s === 0 && (c.pa + off) % s === 0 && n - off >= s)!;
      out.push({ va: va + off, size: s, pa: c.pa + off });
      off += s;
    }
    va += n;
    left -= n;
    if (left === 0) break;
  }
  return out;
}

function leavesOfRes(t: AnyPageTable, res: Reservation) {
  const a = res.getDevAddr();
  return leavesOf(t, a, a + Math.ceil(res.len / 4096) * 4096);
}

/** A device VCM active on the given contexts. */
function deviceVcm(m: VcmMachine, contexts: string[], start = 0x1000_0000, len = 256 * M) {
  const vcm = m.vcmm.create(start, len);
  const assocs = contexts.map((c) => vcm.assoc(m.vcmm.devices.getCtxInstance(c), 0));
  for (const a of assocs) a.activate();
  return { vcm, assocs, devs: contexts.map((c) => m.vcmm.devices.getCtxInstance(c)) };
}

describe("page sizes on a v7s SMMU context", () => {
  it.each<[string, number, number, Record<string, number>]>([
    ["one 16M chunk", 16 * M, 0, { "16 MiB": 1 }],
    ["1M chunks", 3 * M, VCM_1MB, { "1 MiB": 3 }],
    ["64K chunks", 192 * K, VCM_64KB, { "64 KiB": 3 }],
    ["4K chunks", 12 * K, VCM_4KB, { "4 KiB": 3 }],
    [
      "one chunk of each size",
      16 * M + M + 64 * K + 4 * K,
      0,
      { "16 MiB": 1, "1 MiB": 1, "64 KiB": 1, "4 KiB": 1 },
    ],
    ["a VCM_PHYS_CONT range of 2M+4K", 2 * M + 4 * K, VCM_PHYS_CONT, { "1 MiB": 2, "4 KiB": 1 }],
    [
      "a VCM_PHYS_CONT range of 1M+64K+4K",
      M + 68 * K,
      VCM_PHYS_CONT,
      { "1 MiB": 1, "64 KiB": 1, "4 KiB": 1 },
    ],
  ])("%s", (_what, len, attr, sizes) => {
    const m = vcmMachine();
    const { vcm, devs } = deviceVcm(m, ["vcodec", "vfe"]);
    const res = vcm.reserve(len, RW);
    const pm = m.vcmm.physAlloc(VCM_MEMTYPE_0, len, attr);
    res.back(pm);
    for (const d of devs) {
      expect(leafSizes(d.table, res.getDevAddr(), res.getDevAddr() + len)).toEqual(sizes);
      expect(leavesOfRes(d.table, res)).toEqual(greedyPages(SMMU_MAP_SIZES, res, pm));
      expect(d.translate(res.getDevAddr() + len - 1)).toBe(pm.physAt(len - 1));
    }
    const total = Object.entries(sizes).length;
    expect(Object.keys(m.vcmm.stats.pagesMapped)).toHaveLength(total);
  });

  it("uses only the sizes the addresses' alignment allows", () => {
    const m = vcmMachine();
    const { vcm, devs } = deviceVcm(m, ["vcodec"]);
    const dev = devs[0]!;
    // Memory at 64K past a 1M boundary: 64K pages even though the device address is 1M-aligned.
    const at64k = m.vcmm.mapPhysAddr(POOLS + 64 * M + 3 * M + 64 * K, M + 64 * K);
    const r1 = vcm.reserve(M + 64 * K, RW);
    expect(r1.getDevAddr() % M).toBe(0);
    r1.back(at64k);
    expect(leafSizes(dev.table, r1.getDevAddr(), r1.getDevAddr() + r1.len)).toEqual({
      "64 KiB": 17,
    });
    // Memory at 4K past a 64K boundary: 4K pages only.
    const at4k = m.vcmm.mapPhysAddr(POOLS + 64 * M + 6 * M + 4 * K, 128 * K);
    const r2 = vcm.reserve(128 * K, RW);
    r2.back(at4k);
    expect(leafSizes(dev.table, r2.getDevAddr(), r2.getDevAddr() + r2.len)).toEqual({
      "4 KiB": 32,
    });
    // A 1M chunk at a device address only 64K-aligned: 16 large pages.
    vcm.reserve(64 * K, RW);
    const r3 = vcm.reserve(M, RW | VCM_ALIGN_64K);
    expect(r3.getDevAddr() % M).not.toBe(0);
    expect(r3.getDevAddr() % (64 * K)).toBe(0);
    const pm3 = m.vcmm.physAlloc(VCM_MEMTYPE_0, M, VCM_1MB);
    r3.back(pm3);
    expect(leafSizes(dev.table, r3.getDevAddr(), r3.getDevAddr() + M)).toEqual({ "64 KiB": 16 });
    for (const [r, p] of [
      [r1, at64k],
      [r2, at4k],
      [r3, pm3],
    ] as const)
      expect(leavesOfRes(dev.table, r)).toEqual(greedyPages(SMMU_MAP_SIZES, r, p));
  });
});

describe("page sizes on a CPU VCM (4K-granule LPAE: 1G / 2M / 4K)", () => {
  it.each<[string, number, number, Record<string, number>]>([
    ["one 16M chunk", 16 * M, 0, { "2 MiB": 8 }],
    ["a VCM_PHYS_CONT range of 2M+4K", 2 * M + 4 * K, VCM_PHYS_CONT, { "2 MiB": 1, "4 KiB": 1 }],
    ["1M chunks (no 1M size: 4K pages)", 2 * M, VCM_1MB, { "4 KiB": 512 }],
    ["64K chunks", 128 * K, VCM_64KB, { "4 KiB": 32 }],
  ])("%s in the kernel table", (_what, len, attr, sizes) => {
    const m = vcmMachine();
    const kern = m.vcmm.createFromPrebuilt(VCM_PREBUILT_KERNEL);
    expect(kern.pageSizes).toEqual(LPAE_SIZES);
    kern.assoc(m.cpu, 0).activate();
    const res = kern.reserve(len, RW | VCM_WB_WA);
    const pm = m.vcmm.physAlloc(VCM_MEMTYPE_0, len, attr);
    res.back(pm);
    expect(leafSizes(m.kernel, res.getDevAddr(), res.getDevAddr() + len)).toEqual(sizes);
    expect(leavesOfRes(m.kernel, res)).toEqual(greedyPages(LPAE_SIZES, res, pm));
    const t = m.cpu.translate(res.getDevAddr() + len - 1);
    expect(t.ok && t.pa).toBe(pm.physAt(len - 1));
  });

  it("1G blocks where the addresses allow them", () => {
    const G = 1024 * M;
    const m = vcmMachine({}, { dram: 4 * G, kernel: 3 * G });
    const kern = m.vcmm.createFromPrebuilt(VCM_PREBUILT_KERNEL);
    kern.assoc(m.cpu, 0).activate();
    const len = G + 2 * M + 4 * K;
    const res = kern.reserve(len, RW);
    expect(res.getDevAddr() % G).toBe(0); // the default alignment: the largest size <= len
    const pm = m.vcmm.mapPhysAddr(0x1_0000_0000, len); // a carve-out of the system memory
    res.back(pm);
    expect(leafSizes(m.kernel, res.getDevAddr(), res.getDevAddr() + len)).toEqual({
      "1 GiB": 1,
      "2 MiB": 1,
      "4 KiB": 1,
    });
    expect(leavesOfRes(m.kernel, res)).toEqual(greedyPages(LPAE_SIZES, res, pm));
  });

  it("counts the pages once per table, not once per CPU sharing it", () => {
    const m = vcmMachine();
    const cpu1 = new Cpu(m.platform, { name: "cpu1", ttbr0: m.user, asid: 1 });
    const user = m.vcmm.createFromPrebuilt(VCM_PREBUILT_USER);
    user.assoc(m.cpu, 0).activate();
    user.assoc(cpu1, 0).activate();
    const res = user.reserve(2 * M, RW);
    res.back(m.vcmm.physAlloc(VCM_MEMTYPE_0, 2 * M, VCM_PHYS_CONT));
    expect(m.vcmm.stats.pagesMapped).toEqual({ "2M": 1 });
    for (const cpu of [m.cpu, cpu1]) expect(cpu.translate(res.getDevAddr()).ok).toBe(true);
  });
});

describe("several reservations backed by one physmem", () => {
  it("each maps the same bytes; each unbacks alone; the physmem is freed after the last", () => {
    const m = vcmMachine();
    const { vcmm, cpu, masters } = m;
    const len = M + 64 * K;
    const pm = vcmm.physAlloc(VCM_MEMTYPE_0, len, 0);
    const a = deviceVcm(m, ["vcodec"]);
    const b = deviceVcm(m, ["jpeg"], 0x2000_0000, 64 * M);
    const kern = vcmm.createFromPrebuilt(VCM_PREBUILT_KERNEL);
    kern.assoc(cpu, 0).activate();
    const r1 = a.vcm.reserve(len, RW);
    const r2 = a.vcm.reserve(len, RW);
    const r3 = b.vcm.reserve(len, RW);
    const r4 = kern.reserve(len, RW);
    for (const r of [r1, r2, r3, r4]) r.back(pm);
    expect([...pm.backers]).toEqual([r1, r2, r3, r4]);
    const data = Uint8Array.from({ length: 300 }, (_, i) => (i * 13 + 5) & 0xff);
    const off = M - 100; // across the 1M chunk into the 64K one
    masters[0]!.write(r1.getDevAddr() + off, data);
    expect(masters[0]!.read(r2.getDevAddr() + off, 300)).toEqual(data);
    expect(masters[2]!.read(r3.getDevAddr() + off, 300)).toEqual(data);
    expect(cpu.read(r4.getDevAddr() + off, 300)).toEqual(data);
    expect(vcmm.getPhysNumRes(pm.physAt(off + 200))).toBe(4);
    expectRefused(m, () => pm.free(), "EBUSY", pm.name, r1.name, r2.name, r3.name, r4.name);
    r2.unback();
    expect(() => masters[0]!.read(r2.getDevAddr(), 1)).toThrow(AccessFaultError);
    expect(masters[0]!.read(r1.getDevAddr() + off, 300)).toEqual(data);
    expect(vcmm.getPhysNumRes(pm.physAt(off + 200))).toBe(3);
    for (const r of [r1, r3, r4]) r.unback();
    pm.free();
    expect(vcmm.physmems()).toEqual([]);
  });
});

describe("vcm_unback", () => {
  it("unmaps from every device and leaves no TLB entry behind: the next access faults", () => {
    const m = vcmMachine();
    const { vcm, devs } = deviceVcm(m, ["vcodec", "vfe"]);
    const res = vcm.reserve(64 * K, RW);
    res.back(m.vcmm.physAlloc(VCM_MEMTYPE_0, 64 * K, 0));
    const va = res.getDevAddr();
    for (const master of [m.masters[0]!, m.masters[1]!]) master.read(va + 8, 4);
    const cached = () => m.smmu.tlb.entries().filter((e) => e.va <= va && va < e.va + e.size);
    expect(cached()).toHaveLength(2);
    res.unback();
    expect(cached()).toEqual([]);
    for (const d of devs) expect(leavesOf(d.table)).toEqual([]);
    for (const master of [m.masters[0]!, m.masters[1]!]) {
      const e = expectError(() => master.read(va + 8, 4), "EFAULT");
      expect((e as AccessFaultError).fault.kind).toBe("translation");
    }
  });

  it("on a CPU VCM: the CPU's cached entry goes, the access faults", () => {
    const m = vcmMachine();
    const kern = m.vcmm.createFromPrebuilt(VCM_PREBUILT_KERNEL);
    kern.assoc(m.cpu, 0).activate();
    const res = kern.reserve(2 * M, RW);
    res.back(m.vcmm.physAlloc(VCM_MEMTYPE_0, 2 * M, VCM_PHYS_CONT));
    const va = res.getDevAddr();
    m.cpu.write(va + 0x1000, Uint8Array.of(1, 2, 3));
    expect(m.cpu.tlb.entries().some((e) => e.va <= va && va < e.va + e.size)).toBe(true);
    res.unback();
    expect(m.cpu.tlb.entries().some((e) => e.va <= va && va < e.va + e.size)).toBe(false);
    expectError(() => m.cpu.read(va + 0x1000, 3), "EFAULT");
    expect(leavesOf(m.kernel)).toEqual([]);
  });

  it("EAGAIN while an association is inactive, for back and unback alike, changing nothing", () => {
    const m = vcmMachine();
    const { vcm, assocs } = deviceVcm(m, ["vcodec", "vfe"]);
    const res = vcm.reserve(64 * K, RW);
    const pm = m.vcmm.physAlloc(VCM_MEMTYPE_0, 64 * K, 0);
    assocs[1]!.deactivate();
    expectRefused(m, () => res.back(pm), "EAGAIN", assocs[1]!.name, "vfe");
    assocs[1]!.activate();
    res.back(pm);
    assocs[0]!.deactivate();
    expectRefused(m, () => res.unback(), "EAGAIN", assocs[0]!.name, "vcodec");
  });

  it("EINVAL unless the lengths are equal (not merely the same pages)", () => {
    const m = vcmMachine();
    const { vcm } = deviceVcm(m, ["vcodec"]);
    const res = vcm.reserve(5000, RW);
    const p8k = m.vcmm.physAlloc(VCM_MEMTYPE_0, 8 * K, 0, "p8k");
    expectRefused(m, () => res.back(p8k), "EINVAL", "5000", "8192");
    const pm = m.vcmm.physAlloc(VCM_MEMTYPE_0, 5000, VCM_4KB);
    res.back(pm);
    expect(leafSizes(m.vcmm.devices.getCtxInstance("vcodec").table)).toEqual({ "4 KiB": 2 });
  });
});

// --- Rollback under injected table-allocation failures -------------------------------------------

/**
 * Build the same machine twice (deterministic): on the first, run `op` to learn how many tables
 * it allocates from `memoryOf` (N); on the second, fail it at every allocation k = 0..N-1 —
 * ENOMEM, and the whole state as before — then run it with no injection. Both end equal.
 */
function everyAllocationFails(
  build: () => { m: VcmMachine; op: () => unknown },
  memoryOf: (m: VcmMachine) => PhysTableMemory,
): number {
  const twin = build();
  const mem0 = memoryOf(twin.m);
  const before0 = mem0.allocated;
  twin.op();
  const n = mem0.allocated - before0;
  const { m, op } = build();
  const mem = memoryOf(m);
  const before = vcmState(m);
  for (let k = 0; k < n; k++) {
    mem.failAfter = k;
    try {
      expectError(op, "ENOMEM", "injected");
    } finally {
      mem.failAfter = undefined;
    }
    expect(vcmState(m), `failure at allocation ${k}`).toEqual(before);
  }
  op();
  expect(vcmState(m)).toEqual(vcmState(twin.m));
  return n;
}

describe("all or nothing: a table allocation fails at every point", () => {
  it("vcm_back into three devices, three level-2 tables each", () => {
    const n = everyAllocationFails(
      () => {
        const m = vcmMachine();
        const { vcm } = deviceVcm(m, ["vcodec", "vfe", "jpeg"]);
        const len = 2 * M + 68 * K; // 33 x 64K + 1 x 4K, spanning three sections
        const res = vcm.reserve(len, RW);
        const pm = m.vcmm.physAlloc(VCM_MEMTYPE_0, len, VCM_64KB | VCM_4KB);
        expect(pm.chunks.length).toBe(34);
        return { m, op: () => res.back(pm) };
      },
      (m) => m.vcmm.tableMemory,
    );
    expect(n).toBe(9);
  });

  it("vcm_back into the kernel's table (the machine's table memory)", () => {
    const n = everyAllocationFails(
      () => {
        const m = vcmMachine();
        const kern = m.vcmm.createFromPrebuilt(VCM_PREBUILT_KERNEL);
        kern.assoc(m.cpu, 0).activate();
        const len = 4 * M + 64 * K; // 64K and 4K chunks: level-3 tables
        const res = kern.reserve(len, RW);
        const pm = m.vcmm.physAlloc(VCM_MEMTYPE_0, len, VCM_64KB | VCM_4KB);
        return { m, op: () => res.back(pm) };
      },
      (m) => m.memory,
    );
    expect(n).toBe(5); // level 1, level 2, and a level-3 table for each of three 2M regions
  });

  it("vcm_activate programming a device with the VCM's backed reservations", () => {
    const n = everyAllocationFails(
      () => {
        const m = vcmMachine();
        const { vcm } = deviceVcm(m, ["vcodec"]);
        const r1 = vcm.reserve(2 * M, RW);
        r1.back(m.vcmm.physAlloc(VCM_MEMTYPE_0, 2 * M, VCM_64KB));
        const r2 = vcm.reserve(12 * K, RW | VCM_WB_WA);
        r2.back(m.vcmm.physAlloc(VCM_MEMTYPE_0, 12 * K, VCM_4KB));
        const r3 = vcm.reserve(M, RW);
        r3.back(m.vcmm.physAlloc(VCM_MEMTYPE_0, M, VCM_1MB)); // a section: no table
        const late = vcm.assoc(m.vcmm.devices.getCtxInstance("rot"), 0);
        return {
          m,
          op: () => {
            late.activate();
            expect(late.isActive()).toBe(true);
          },
        };
      },
      (m) => m.vcmm.tableMemory,
    );
    expect(n).toBe(3);
  });

  it("vcm_clone of a prebuilt VCM: its own table, root first", () => {
    const n = everyAllocationFails(
      () => {
        const m = vcmMachine();
        const user = m.vcmm.createFromPrebuilt(VCM_PREBUILT_USER);
        user.assoc(m.cpu, 0).activate();
        const r1 = user.reserve(4 * M, RW);
        r1.back(m.vcmm.physAlloc(VCM_MEMTYPE_0, 4 * M, VCM_64KB));
        const r2 = user.reserve(2 * M, RW);
        r2.back(m.vcmm.physAlloc(VCM_MEMTYPE_0, 2 * M, VCM_PHYS_CONT));
        user.reserve(M, RW); // unbacked: copied, nothing mapped
        return { m, op: () => user.clone("fork") };
      },
      (m) => m.vcmm.tableMemory,
    );
    expect(n).toBe(5); // root, level 1, level 2, two level-3 tables (the 2M block needs none)
  });
});
