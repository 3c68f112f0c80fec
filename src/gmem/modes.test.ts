import { describe, expect, it } from "vitest";

import { expectError } from "../base/errors.testutil.js";
import { Accelerator } from "../devices/accelerator.js";
import { whoReaches } from "../devices/graph/reverse-map.js";
import { DriverPmap } from "./accelerator-driver.js";
import {
  checkResidency,
  deviceTable,
  type GmemMachine,
  gmemMachine,
  M,
  pattern,
  placement,
  RecordingSink,
  statsOf,
} from "./gmem.testutil.js";
import { GM_MMU_MODE, HPAGE, MADV, NO_HNID } from "./types.js";

describe("SHARE: the device walks the CPU's own table", () => {
  it("no migration: device faults populate host pages; device accesses are remote", () => {
    const sink = new RecordingSink();
    const m = gmemMachine({ mode: GM_MMU_MODE.SHARE, cost: sink });
    const { gmem, va, gpu, proc, platform } = m;
    expect(gpu.accel.mmu.ttbr0?.root).toBe(proc.mm.root);
    const pmap = gpu.ctx.pmap as DriverPmap;
    expect(pmap.own).toBeUndefined();
    gmem.access("gpu0", "w", va + 8, 8, pattern(8));
    expect(gmem.access("cpu", "r", va + 8, 8)).toEqual(pattern(8));
    expect(statsOf(m)).toMatchObject({
      deviceFaults: 1,
      cpuFirstTouches: 1,
      deviceFirstTouches: 0,
      hostFaults: 0,
      migrationsToDevice: 0,
      migrationsToHost: 0,
    });
    expect(placement(m)[0]).toBe("cpu");
    expect(gpu.hnode.nrActivePages).toBe(0);
    // The bytes are in host memory; the device reached them through the CPU's table.
    const host = proc.vmObject!.lookup(va)!.host!;
    expect(platform.store.isMaterialized(host.pa)).toBe(true);
    const paths = whoReaches(platform, host.pa, host.pa + 4096).map((p) => p.master);
    expect(paths).toEqual(expect.arrayContaining(["cpu0", "gpu0"]));
    // The CPU's first touch of block 1 is seen by the device without a fault.
    gmem.access("cpu", "w", va + HPAGE, 4, pattern(4, 2));
    expect(gmem.access("gpu0", "r", va + HPAGE, 4)).toEqual(pattern(4, 2));
    expect(gmem.stats.deviceFaults).toBe(1);
    expect(sink.calls.filter((c) => c.startsWith("remote"))).toEqual([
      "remote gpu0 8",
      "remote gpu0 4",
    ]);
    checkResidency(m);
  });

  it("the CPU's unmaps invalidate the device's TLB (it follows the shared table)", () => {
    const m = gmemMachine({ mode: GM_MMU_MODE.SHARE });
    const { gmem, va } = m;
    gmem.access("gpu0", "w", va, 8, pattern(8));
    gmem.hmadvise(NO_HNID, va, HPAGE, MADV.DONTNEED);
    checkResidency(m); // no stale entry in gpu0's TLB
    expect(gmem.access("gpu0", "r", va, 8)).toEqual(new Uint8Array(8));
    expect(gmem.stats.deviceFaults).toBe(2);
  });
});

describe("COHERENT_EXCLUSIVE: a block lives in exactly one place", () => {
  it("ping-pongs between the CPU and the device with its data", () => {
    const m = gmemMachine();
    const { gmem, va } = m;
    for (let i = 0; i < 4; i++) {
      const who = i % 2 === 0 ? "cpu" : "gpu0";
      gmem.access(who, "w", va + i, 1, new Uint8Array([i + 1]));
      expect(placement(m)[0]).toBe(who === "cpu" ? "cpu" : "device gpu0");
      checkResidency(m);
    }
    expect(gmem.access("cpu", "r", va, 4)).toEqual(new Uint8Array([1, 2, 3, 4]));
    expect(statsOf(m)).toMatchObject({ migrationsToDevice: 2, migrationsToHost: 2, hostFaults: 2 });
  });
});

describe("REPLICATE: CPU mappings are replicated into the device's table", () => {
  it("the device reads host pages without faulting, remotely", () => {
    const sink = new RecordingSink();
    const m = gmemMachine({ mode: GM_MMU_MODE.REPLICATE, cost: sink });
    const { gmem, va, gpu, proc } = m;
    gmem.access("cpu", "w", va + 16, 8, pattern(8));
    const host = proc.vmObject!.lookup(va)!.host!;
    expect(deviceTable(gpu).translate(va)?.pa).toBe(host.pa);
    expect(gmem.access("gpu0", "r", va + 16, 8)).toEqual(pattern(8));
    gmem.access("gpu0", "w", va + 24, 8, pattern(8, 5)); // writes go to host memory too
    expect(gmem.access("cpu", "r", va + 24, 8)).toEqual(pattern(8, 5));
    expect(statsOf(m)).toMatchObject({
      deviceFaults: 0,
      migrationsToDevice: 0,
      cpuFirstTouches: 1,
    });
    expect(sink.calls.filter((c) => c.startsWith("remote"))).toEqual([
      "remote gpu0 8",
      "remote gpu0 8",
    ]);
    checkResidency(m);
  });

  it("a block the device touches first lives on it; the CPU brings it back, replicated again", () => {
    const sink = new RecordingSink();
    const m = gmemMachine({ mode: GM_MMU_MODE.REPLICATE, cost: sink });
    const { gmem, va, gpu, proc } = m;
    gmem.access("gpu0", "w", va + HPAGE, 8, pattern(8));
    expect(placement(m)[1]).toBe("device gpu0");
    expect(sink.calls.at(-1)).toBe("local gpu0 8");
    checkResidency(m);
    expect(gmem.access("cpu", "r", va + HPAGE, 8)).toEqual(pattern(8));
    expect(statsOf(m)).toMatchObject({ deviceFaults: 1, hostFaults: 1, migrationsToHost: 1 });
    const host = proc.vmObject!.lookup(va + HPAGE)!.host!;
    expect(deviceTable(gpu).translate(va + HPAGE)?.pa).toBe(host.pa);
    expect(gmem.access("gpu0", "r", va + HPAGE, 8)).toEqual(pattern(8));
    expect(gmem.stats.deviceFaults).toBe(1);
    checkResidency(m);
  });

  it("prefetch migrates a replicated block (the replica goes first)", () => {
    const m = gmemMachine({ mode: GM_MMU_MODE.REPLICATE });
    const { gmem, va, gpu } = m;
    gmem.access("cpu", "w", va, 8, pattern(8));
    gmem.hmadvise(gpu.hnode.id, va, HPAGE, MADV.PREFETCH);
    expect(placement(m)[0]).toBe("device gpu0");
    expect(deviceTable(gpu).translate(va)?.pa).toBe(gpu.hnode.base);
    expect(gmem.access("gpu0", "r", va, 8)).toEqual(pattern(8));
    checkResidency(m);
  });

  it("replicates the mappings made before attach, and stops at detach", () => {
    const m = gmemMachine({ mode: GM_MMU_MODE.COHERENT_EXCLUSIVE, devices: [] });
    const { gmem, va, as } = m;
    gmem.access("cpu", "w", va, 8, pattern(8));
    const npu = addDevice(m, "npu0");
    const ctx = as.attach(npu.dev, GM_MMU_MODE.REPLICATE, true);
    const own = (ctx.pmap as DriverPmap).own!;
    expect(own.translate(va)?.pa).toBe(m.proc.vmObject!.lookup(va)!.host!.pa);
    expect(gmem.access("npu0", "r", va, 8)).toEqual(pattern(8));
    as.detach(npu.dev);
    expect(own.live).toBe(false);
    expect(npu.accel.mmu.ttbr0).toBeUndefined();
    expectError(() => gmem.access("npu0", "r", va, 8), "EFAULT");
  });
});

/** Another accelerator brought up on a machine (not attached). */
function addDevice(m: GmemMachine, name: string) {
  const accel = new Accelerator(m.platform, {
    name,
    localMemory: { region: { name: `${name}-hbm`, base: 2 ** 41, size: 8 * M } },
  });
  const { dev, driver } = m.gmem.addAccelerator(accel, { tables: "pgtables" });
  return { accel, dev, driver };
}
