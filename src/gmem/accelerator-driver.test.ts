import { describe, expect, it } from "vitest";

import { findStaleEntries } from "../devices/graph/checks.js";
import { DriverPmap } from "./accelerator-driver.js";
import { deviceTable, gmemMachine, HBM, M, pattern } from "./gmem.testutil.js";
import { cpuProt, GM_FAULT_HINT, GM_MMU_MODE, GM_RET, HPAGE, PROT_RW } from "./types.js";

describe("the simulated accelerator driver (gm_mmu on an Accelerator)", () => {
  it("pmap_create / activate: a table of its own with an ASID, loaded as a bare root", () => {
    const m = gmemMachine({ blocks: 0 });
    const pmap = m.gpu.ctx.pmap as DriverPmap;
    expect(pmap.own?.name).toBe("gpu0-pt1");
    expect(pmap.asid).toBe(1);
    expect(m.gpu.accel.mmu.ttbr0?.root).toBe(pmap.own!.root);
    // The driver, not the table, keeps the TLB coherent: the accelerator tracks no table.
    expect(m.gpu.accel.trackedTables()).toEqual([]);
  });

  it("pmap_enter / pmap_release / tlb_invl: no stale TLB entry once invalidated", () => {
    const m = gmemMachine({ blocks: 1 });
    const { driver, ctx, accel } = m.gpu;
    const pmap = ctx.pmap;
    const pa = HBM;
    expect(driver.pmapEnter(pmap, m.va, HPAGE, pa, cpuProt(PROT_RW))).toBe(GM_RET.SUCCESS);
    expect(driver.pmapEnter(pmap, m.va, HPAGE, pa, cpuProt(PROT_RW))).toBe(GM_RET.PAGE_EXIST);
    accel.write(m.va + 4, pattern(4));
    expect(m.platform.read(pa + 4, 4)).toEqual(pattern(4));
    expect(driver.pmapRelease(pmap, m.va, HPAGE)).toBe(GM_RET.SUCCESS);
    expect(findStaleEntries(m.platform)).toHaveLength(1); // the TLB still holds it...
    expect(driver.tlbInvl(pmap, m.va, HPAGE)).toBe(GM_RET.SUCCESS);
    expect(findStaleEntries(m.platform)).toEqual([]); // ...until tlb_invl
    expect(driver.pmapProtect(pmap, m.va, HPAGE, cpuProt(PROT_RW))).toBe(GM_RET.FAILURE_UNKNOWN);
    expect(driver.tlbInvlCoalesced(pmap, [{ va: m.va, size: HPAGE }])).toBe(GM_RET.SUCCESS);
  });

  it("peer_map maps the core's page with one 2 MiB block; copy moves the bytes in", () => {
    const m = gmemMachine({ blocks: 2 });
    const { gmem, gpu, va } = m;
    gmem.access("cpu", "w", va, 4, pattern(4));
    gmem.access("gpu0", "r", va, 4);
    expect(deviceTable(gpu).stats().mappedBySize).toEqual({ "2 MiB": 1 });
    expect(gpu.driver.stats).toMatchObject({ peerMaps: 1, copiesIn: 1, pmapEnters: 1 });
    // MARK_HOT on a mapped page: "recently used", nothing entered again.
    expect(gmem.devFault(m.proc, va, gpu.dev, GM_FAULT_HINT.MARK_HOT)).toBe(GM_RET.SUCCESS);
    expect(gpu.driver.stats).toMatchObject({ peerMaps: 2, pmapEnters: 1 });
  });

  it("a SHARE pmap walks the CPU's table and has no entries of its own", () => {
    const m = gmemMachine({ mode: GM_MMU_MODE.SHARE, blocks: 1 });
    const { driver, ctx, accel } = m.gpu;
    const pmap = ctx.pmap as DriverPmap;
    expect(pmap.table).toBe(m.proc.mm);
    expect(accel.trackedTables()).toEqual([m.proc.mm]);
    expect(driver.pmapEnter(pmap, m.va, HPAGE, HBM, cpuProt(PROT_RW))).toBe(GM_RET.FAILURE_UNKNOWN);
    expect(driver.pmapRelease(pmap, m.va, HPAGE)).toBe(GM_RET.FAILURE_UNKNOWN);
  });

  it("peer_va_alloc_fixed refuses overlaps with NOMEM; peer_va_free trims", () => {
    const m = gmemMachine({ blocks: 0 });
    const { driver } = m.gpu;
    const p = m.proc;
    expect(driver.peerVaAllocFixed(p, 0, 8 * M, 3)).toBe(GM_RET.SUCCESS);
    expect(driver.peerVaAllocFixed(p, 4 * M, 8 * M, 3)).toBe(GM_RET.NOMEM);
    driver.peerVaFree(p, 2 * M, 2 * M);
    expect(driver.peerVaRanges(p)).toEqual([
      { start: 0, end: 2 * M },
      { start: 4 * M, end: 8 * M },
    ]);
    expect(driver.peerVaAllocFixed(p, 2 * M, 2 * M, 3)).toBe(GM_RET.SUCCESS);
  });
});
