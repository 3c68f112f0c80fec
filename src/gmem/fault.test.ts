import { describe, expect, it } from "vitest";

import { expectError } from "../base/errors.testutil.js";
import { Accelerator } from "../devices/accelerator.js";
import { whoReaches } from "../devices/graph/reverse-map.js";
import { Platform } from "../devices/platform.js";
import { Gmem } from "./gmem.js";
import {
  checkResidency,
  deviceTable,
  gmemMachine,
  M,
  pattern,
  placement,
  RecordingSink,
  statsOf,
} from "./gmem.testutil.js";
import { GM_DEV_CAP, GM_FAULT_HINT, GM_MMU_MODE, GM_PAGE, GM_RET, HPAGE, MADV } from "./types.js";

const ZERO_STATS = {
  deviceFaults: 0,
  hostFaults: 0,
  migrationsToDevice: 0,
  migrationsToHost: 0,
  evictions: 0,
  prefetchedPages: 0,
  thrashingEvents: 0,
  bytesToDevice: 0,
  bytesToHost: 0,
  deviceFirstTouches: 0,
  cpuFirstTouches: 0,
};

describe("device fault on a NOMAP block", () => {
  it("maps a zeroed device page: one fault, one first touch, no migration", () => {
    const m = gmemMachine();
    const { gmem, gpu, va } = m;
    const got = gmem.access("gpu0", "r", va + 0x1234, 8);
    expect(got).toEqual(new Uint8Array(8));
    expect(statsOf(m)).toEqual({ ...ZERO_STATS, deviceFaults: 1, deviceFirstTouches: 1 });
    expect(placement(m)[0]).toBe("device gpu0");
    // One 2 MiB block descriptor in the device's own table, at the hnode's first frame.
    const t = deviceTable(gpu).translate(va);
    expect(t).toMatchObject({ pa: gpu.hnode.base, size: HPAGE });
    expect(gpu.hnode.stats()).toEqual({ maxMemsize: 8 * M, nrFreePages: 3, nrActivePages: 1 });
    expect(gpu.driver.stats).toMatchObject({ peerMaps: 1, copiesIn: 0, pmapEnters: 1 });
    // A second access hits: no fault.
    gmem.access("gpu0", "w", va + 0x10, 4, pattern(4));
    expect(gmem.access("gpu0", "r", va + 0x10, 4)).toEqual(pattern(4));
    expect(gmem.stats.deviceFaults).toBe(1);
    checkResidency(m);
  });

  it("labels the device page with the owning address space in the platform graph", () => {
    const m = gmemMachine();
    m.gmem.access("gpu0", "w", m.va, 4, pattern(4));
    const pa = m.gpu.hnode.base;
    const paths = whoReaches(m.platform, pa, pa + 4096);
    const gpuPath = paths.find((p) => p.master === "gpu0");
    expect(gpuPath?.input.start).toBe(m.va);
    expect(gpuPath?.owners).toEqual(
      expect.arrayContaining([
        { system: "gmem", kind: "address space", name: "as1" },
        { system: "gmem", kind: "hnode", name: "hnode1" },
      ]),
    );
  });

  it("device pages are labelled per page, or per hnode while the address space has pages there", () => {
    const labels = (m: ReturnType<typeof gmemMachine>) =>
      m.platform.owners
        .list()
        .filter((o) => o.owner.kind === "address space" && o.description.startsWith("phys"))
        .map((o) => o.description);
    const perPage = gmemMachine({ pageLabels: "page" });
    perPage.gmem.access("gpu0", "w", perPage.va, 1, pattern(1));
    perPage.gmem.access("gpu0", "w", perPage.va + HPAGE, 1, pattern(1));
    expect(labels(perPage)).toEqual([
      "phys 0x10000000000-0x100001fffff",
      "phys 0x10000200000-0x100003fffff",
    ]);
    perPage.gmem.access("cpu", "r", perPage.va, 1);
    expect(labels(perPage)).toEqual(["phys 0x10000200000-0x100003fffff"]);
    const perHnode = gmemMachine();
    perHnode.gmem.access("gpu0", "w", perHnode.va, 1, pattern(1));
    perHnode.gmem.access("gpu0", "w", perHnode.va + HPAGE, 1, pattern(1));
    expect(labels(perHnode)).toEqual(["phys 0x10000000000-0x100007fffff"]);
    perHnode.gmem.access("cpu", "r", perHnode.va, 1);
    expect(labels(perHnode)).toHaveLength(1);
    perHnode.gmem.access("cpu", "r", perHnode.va + HPAGE, 1);
    expect(labels(perHnode)).toEqual([]);
  });

  it("a device that is not REPLAYABLE cannot recover: the access fails", () => {
    const m = gmemMachine({ capability: GM_DEV_CAP.PEER });
    expectError(() => m.gmem.access("gpu0", "r", m.va, 8), "EFAULT", "gpu0");
    expect(m.gmem.stats.deviceFaults).toBe(1);
    expect(placement(m)[0]).toBe("nomap");
  });

  it("an access outside every mapping is not served (EFAULT)", () => {
    const m = gmemMachine();
    expectError(() => m.gmem.access("gpu0", "r", m.va + 64 * M, 8), "EFAULT");
    expectError(() => m.gmem.access("cpu", "r", m.va + 64 * M, 8), "EFAULT");
  });
});

describe("device fault on a CPU block", () => {
  it("unmaps it from the CPU and moves the data to the device: one migration, 2 MiB", () => {
    const m = gmemMachine();
    const { gmem, proc, gpu, va, platform } = m;
    const data = pattern(100, 3);
    gmem.access("cpu", "w", va + 0x20_0ff0, 100, data); // crosses a 4 KiB page of block 1
    expect(gmem.stats.cpuFirstTouches).toBe(1);
    const host = proc.vmObject!.lookup(va + HPAGE)!.host!;
    expect(platform.store.isMaterialized(host.pa + 0xff0)).toBe(true);
    const freeBefore = gmem.hostTarget.stats().freeBytes;

    expect(gmem.access("gpu0", "r", va + 0x20_0ff0, 100)).toEqual(data);
    expect(statsOf(m)).toEqual({
      ...ZERO_STATS,
      cpuFirstTouches: 1,
      deviceFaults: 1,
      migrationsToDevice: 1,
      bytesToDevice: 2 * M,
    });
    // The bytes live in device memory now, and not in host memory; the host page is free.
    const page = proc.vmObject!.lookup(va + HPAGE)!.page!;
    expect(platform.store.isMaterialized(page.pa + 0xff0)).toBe(true);
    expect(platform.store.isMaterialized(host.pa + 0xff0)).toBe(false);
    expect(platform.store.isMaterialized(host.pa + 0x1000)).toBe(false);
    expect(gmem.hostTarget.stats().freeBytes).toBe(freeBefore + 2 * M);
    expect(proc.mm.translate(va + HPAGE)).toBeUndefined();
    expect(gpu.driver.stats.copiesIn).toBe(1);
    checkResidency(m); // no stale TLB entries either: the CPU's went with its mapping
  });
});

describe("CPU fault on a DEVICE block (gm_host_fault_locked)", () => {
  it("brings the data home: one host fault, one migration to the host", () => {
    const m = gmemMachine();
    const { gmem, va, gpu } = m;
    const data = pattern(64, 9);
    gmem.access("gpu0", "w", va + 0x1000, 64, data);
    expect(gmem.access("cpu", "r", va + 0x1000, 64)).toEqual(data);
    expect(statsOf(m)).toEqual({
      ...ZERO_STATS,
      deviceFaults: 1,
      deviceFirstTouches: 1,
      hostFaults: 1,
      migrationsToHost: 1,
      bytesToHost: 2 * M,
    });
    expect(placement(m)[0]).toBe("cpu");
    expect(deviceTable(gpu).translate(va)).toBeUndefined();
    expect(gpu.hnode.nrFreePages).toBe(4);
    expect(gpu.driver.stats).toMatchObject({ copiesOut: 1, tlbInvalidations: 1 });
    checkResidency(m); // the device's TLB entry went with its mapping
    // The device's next access migrates it back.
    expect(gmem.access("gpu0", "r", va + 0x1000, 64)).toEqual(data);
    expect(gmem.stats).toMatchObject({ deviceFaults: 2, migrationsToDevice: 1 });
  });

  it("a block is looked up by its aligned address (the RFC's offset is not copied)", () => {
    const m = gmemMachine();
    m.gmem.access("gpu0", "w", m.va + 3 * HPAGE, 4, pattern(4));
    expect(m.gmem.hostFault(m.proc, m.va + 3 * HPAGE + 0x1_2345)).toBe(GM_RET.SUCCESS);
    expect(placement(m)[3]).toBe("cpu");
    expect(m.gmem.hostFault(m.proc, m.va)).toBe(GM_RET.FAILURE_UNKNOWN); // NOMAP
  });

  it("on a PINNED device page, fails with SIGBUS naming the address; nothing moves", () => {
    const m = gmemMachine();
    const { gmem, va } = m;
    gmem.access("gpu0", "w", va, 8, pattern(8));
    gmem.hmadvise(m.gpu.hnode.id, va, HPAGE, MADV.PINNED);
    expect(placement(m)[0]).toBe("device gpu0 +pinned");
    expectError(() => gmem.access("cpu", "r", va + 0x40, 8), "EFAULT", "SIGBUS", "0x40", "pinned");
    expect(gmem.stats).toMatchObject({ hostFaults: 1, migrationsToHost: 0 });
    expect(gmem.detail.sigbus).toBe(1);
    expect(placement(m)[0]).toBe("device gpu0 +pinned");
    // Unpinned, the CPU gets it.
    gmem.hmadvise(-1, va, HPAGE, MADV.UNPINNED);
    expect(gmem.access("cpu", "r", va, 8)).toEqual(pattern(8));
    expect(gmem.stats).toMatchObject({ hostFaults: 2, migrationsToHost: 1 });
    checkResidency(m);
  });
});

describe("MARK_HOT on a DEVICE block", () => {
  it("is an active-list touch: the page goes to the tail; nothing is counted or moved", () => {
    const m = gmemMachine();
    const { gmem, va, gpu, proc } = m;
    for (let b = 0; b < 3; b++) gmem.access("gpu0", "w", va + b * HPAGE, 1, pattern(1, b));
    const order = () => gpu.hnode.activeList().map((p) => (p.mapping!.va - va) / HPAGE);
    expect(order()).toEqual([0, 1, 2]);
    const before = statsOf(m);
    expect(gmem.devFault(proc, va + 5, gpu.dev, GM_FAULT_HINT.MARK_HOT)).toBe(GM_RET.SUCCESS);
    expect(order()).toEqual([1, 2, 0]);
    expect(statsOf(m)).toEqual(before);
    // Without the hint, nothing changes.
    expect(gmem.devFault(proc, va + HPAGE, gpu.dev, GM_FAULT_HINT.NONE)).toBe(GM_RET.SUCCESS);
    expect(order()).toEqual([1, 2, 0]);
    checkResidency(m);
  });
});

describe("the MIGRATING race (an eviction in flight)", () => {
  it("a device fault on a page being evicted gets MIGRATING: WILLNEED, success; the eviction is cancelled", () => {
    const m = gmemMachine();
    const { gmem, va, gpu } = m;
    gmem.access("gpu0", "w", va, 8, pattern(8));
    gmem.access("gpu0", "w", va + HPAGE, 8, pattern(8, 2));
    // The swap daemon starts evicting the head (block 0): unmapped from the device, data still there.
    expect(gmem.reclaim(gpu.hnode.id, 1, { defer: true })).toBe(1);
    const page = m.proc.vmObject!.lookup(va)!.page!;
    expect(page.evicting).toBe(true);
    expect(deviceTable(gpu).translate(va)).toBeUndefined();
    checkResidency(m);
    // The device touches it: a fault; peer_map answers MIGRATING; the replay waits, then hits.
    expect(gmem.access("gpu0", "r", va, 8)).toEqual(pattern(8));
    expect(gmem.detail).toMatchObject({ migratingAnswers: 1, evictionsCancelled: 1 });
    expect(gpu.driver.stats.migratingAnswers).toBe(1);
    expect(statsOf(m)).toEqual({
      ...ZERO_STATS,
      deviceFaults: 3,
      deviceFirstTouches: 2,
    });
    expect(page.evicting).toBe(false);
    expect(placement(m)[0]).toBe("device gpu0");
    expect(gpu.hnode.activeList().map((p) => p.mapping!.va)).toEqual([va + HPAGE, va]);
    checkResidency(m);
  });

  it("gm_dev_fault itself answers SUCCESS and sets WILLNEED", () => {
    const m = gmemMachine();
    const { gmem, va, gpu, proc } = m;
    gmem.access("gpu0", "w", va, 8, pattern(8));
    gmem.reclaim(gpu.hnode.id, 1, { defer: true });
    expect(gmem.devFault(proc, va, gpu.dev)).toBe(GM_RET.SUCCESS);
    expect(gmem.lastOutcome).toBe("migrating");
    expect(proc.vmObject!.lookup(va)!.flags & GM_PAGE.WILLNEED).toBe(GM_PAGE.WILLNEED);
    expect(gmem.finishReclaim()).toBe(0); // cancelled
    expect(placement(m)[0]).toBe("device gpu0");
    expect(gmem.access("gpu0", "r", va, 8)).toEqual(pattern(8));
    expect(gmem.stats.deviceFaults).toBe(1); // mapped again: a hit
  });

  it("without interference the eviction completes: one eviction, one migration to the host", () => {
    const m = gmemMachine();
    const { gmem, va, gpu } = m;
    gmem.access("gpu0", "w", va, 8, pattern(8));
    gmem.reclaim(gpu.hnode.id, 4, { defer: true });
    expect(gmem.finishReclaim()).toBe(1);
    expect(gmem.stats).toMatchObject({ evictions: 1, migrationsToHost: 1, bytesToHost: 2 * M });
    expect(placement(m)[0]).toBe("cpu");
    // Evicted pages are mapped on the CPU at once: no host fault.
    expect(gmem.access("cpu", "r", va, 8)).toEqual(pattern(8));
    expect(gmem.stats.hostFaults).toBe(0);
    checkResidency(m);
  });

  it("a CPU fault on a page in flight ends its eviction at once", () => {
    const m = gmemMachine();
    const { gmem, va, gpu } = m;
    gmem.access("gpu0", "w", va, 8, pattern(8));
    gmem.reclaim(gpu.hnode.id, 1, { defer: true });
    expect(gmem.access("cpu", "r", va, 8)).toEqual(pattern(8));
    expect(gmem.stats).toMatchObject({ hostFaults: 1, evictions: 1, migrationsToHost: 1 });
    expect(gmem.inFlight.size).toBe(0);
    checkResidency(m);
  });
});

describe("two devices in COHERENT_EXCLUSIVE", () => {
  it("a block on one device wanted by the other comes through the host", () => {
    const m = gmemMachine({ devices: ["gpu0", "npu0"] });
    const { gmem, va } = m;
    gmem.access("gpu0", "w", va, 8, pattern(8));
    expect(gmem.access("npu0", "r", va, 8)).toEqual(pattern(8));
    expect(statsOf(m)).toMatchObject({
      deviceFaults: 2,
      deviceFirstTouches: 1,
      migrationsToHost: 1,
      migrationsToDevice: 1,
    });
    expect(placement(m)[0]).toBe("device npu0");
    checkResidency(m);
  });
});

describe("costs", () => {
  it("reports far faults, walks, migrations and local accesses", () => {
    const sink = new RecordingSink();
    const m = gmemMachine({ cost: sink });
    const { gmem, va } = m;
    gmem.access("cpu", "w", va, 8, pattern(8));
    gmem.access("gpu0", "r", va, 8);
    gmem.access("gpu0", "r", va + 8, 8); // a TLB hit: no walk
    expect(sink.calls).toEqual([
      "walk cpu 3 2097152", // a 2 MiB block: three levels
      "local cpu 8",
      "farFault gpu0",
      "migrate 2097152 host->gpu0",
      "walk gpu0 3 2097152",
      "local gpu0 8",
      "local gpu0 8",
    ]);
    expect(sink.counts.farFault).toBe(gmem.stats.deviceFaults);
  });
});

/** The example of gmem.ts's doc comment, as written there, works. */
it("the facade's example: a CPU write, then a device read migrates the block", () => {
  const platform = new Platform({
    regions: [{ name: "dram", base: 0x8000_0000, size: 256 << 20, kind: "ram" }],
    targets: [
      {
        name: "pgtables",
        ranges: [{ region: "dram", size: 32 << 20 }],
        allocator: { kind: "buddy" },
      },
      {
        name: "system",
        ranges: [{ region: "dram", offset: 32 << 20 }],
        allocator: { kind: "buddy" },
      },
    ],
  });
  const gpu = new Accelerator(platform, {
    name: "gpu0",
    localMemory: { region: { name: "vram", base: 2 ** 40, size: 64 << 20 } },
  });
  const gmem = new Gmem(platform, { host: "system", tables: "pgtables" });
  const proc = gmem.createProcess("app", { cpu: "cpu0" });
  const { dev } = gmem.addAccelerator(gpu, { tables: "pgtables" });
  const as = gmem.asCreate(proc, 0, 2 ** 47);
  as.attach(dev, GM_MMU_MODE.COHERENT_EXCLUSIVE, true);
  const buf = proc.mmap(8 << 20, { peerShared: true });
  gmem.access("cpu", "w", buf, 4, new Uint8Array([1, 2, 3, 4]));
  expect([...gmem.access("gpu0", "r", buf, 4)]).toEqual([1, 2, 3, 4]);
  expect(gmem.stats).toMatchObject({
    deviceFaults: 1,
    migrationsToDevice: 1,
    bytesToDevice: 2 << 20,
  });
});
