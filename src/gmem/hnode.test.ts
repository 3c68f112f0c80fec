import { fc, it } from "@fast-check/vitest";
import { describe, expect } from "vitest";

import { expectError } from "../base/errors.testutil.js";
import { Accelerator } from "../devices/accelerator.js";
import { Platform } from "../devices/platform.js";
import { AcceleratorDriver } from "./accelerator-driver.js";
import { GmDev } from "./device.js";
import { Gmem } from "./gmem.js";
import { checkResidency, DRAM, gmemMachine, HBM, M, pattern, placement } from "./gmem.testutil.js";
import { Hnode } from "./hnode.js";
import { GM_DEV_CAP, GM_MMU_MODE, HPAGE } from "./types.js";

describe("Hnode lists", () => {
  type Op = { kind: "alloc" } | { kind: "touch" | "release" | "activate"; pick: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.constant({ kind: "alloc" as const }),
    fc.record({
      kind: fc.constantFrom("touch" as const, "release" as const, "activate" as const),
      pick: fc.nat(),
    }),
  );

  it.prop([fc.array(op, { maxLength: 80 }), fc.integer({ min: 1, max: 9 })], { numRuns: 100 })(
    "free and active lists match a model: every frame on one list, LRU order kept",
    (ops, n) => {
      const h = new Hnode(3, {} as GmDev, HBM, HBM + n * HPAGE, HPAGE);
      let free = Array.from({ length: n }, (_, i) => i); // next handed out first
      let active: number[] = [];
      let held: number[] = []; // allocated, on no list
      for (const o of ops) {
        if (o.kind === "alloc") {
          const p = h.allocFree();
          expect(p?.index).toBe(free[0]);
          if (p !== undefined) {
            free = free.slice(1);
            held.push(p.index);
          }
          continue;
        }
        const all = [...active, ...held];
        if (all.length === 0) continue;
        const i = all[o.pick % all.length]!;
        const page = h.pages[i]!;
        if (o.kind === "activate") {
          h.addActive(page);
          active = [...active.filter((x) => x !== i), i];
          held = held.filter((x) => x !== i);
        } else if (o.kind === "touch") {
          h.touch(page);
          if (active.includes(i)) active = [...active.filter((x) => x !== i), i];
        } else {
          h.release(page);
          active = active.filter((x) => x !== i);
          held = held.filter((x) => x !== i);
          free = [i, ...free];
        }
        expect(h.activeList().map((p) => p.index)).toEqual(active);
        expect(h.freeList().map((p) => p.index)).toEqual(free);
        expect(h.stats()).toEqual({
          maxMemsize: n * HPAGE,
          nrFreePages: free.length,
          nrActivePages: active.length,
        });
      }
      for (let i = 0; i < n; i++) expect(h.pageAt(HBM + i * HPAGE + 5)?.index).toBe(i);
      expect(h.pageAt(HBM + n * HPAGE)).toBeUndefined();
    },
  );
});

describe("gm_dev_register_physmem", () => {
  function twoNodes() {
    // Two RAM regions: CPU nodes 0 and 1, so the first hnode is 2.
    const platform = new Platform({
      regions: [
        { name: "dram0", base: DRAM, size: 64 * M, kind: "ram" },
        { name: "dram1", base: DRAM + 64 * M, size: 64 * M, kind: "ram" },
      ],
      targets: [
        {
          name: "pgtables",
          ranges: [{ region: "dram0", size: 16 * M }],
          allocator: { kind: "buddy" },
        },
        { name: "system", ranges: [{ region: "dram1" }], allocator: { kind: "buddy" } },
      ],
    });
    const gmem = new Gmem(platform, { host: "system", tables: "pgtables" });
    const accel = new Accelerator(platform, {
      name: "gpu0",
      localMemory: { region: { name: "vram", base: HBM, size: 16 * M } },
    });
    const driver = new AcceleratorDriver(accel, { tables: "pgtables" });
    const dev = gmem.devCreate(driver, accel, GM_DEV_CAP.REPLAYABLE, {
      name: "gpu0",
      master: accel,
    });
    return { platform, gmem, accel, driver, dev };
  }

  it("hnode ids follow the CPU nodes; the range is rounded in to 2 MiB", () => {
    const { gmem, dev } = twoNodes();
    expect(gmem.cpuNodes).toBe(2);
    const h = gmem.registerPhysmem(dev, HBM + 4096, HBM + 7 * M);
    expect([h.id, h.base, h.end, h.size]).toEqual([2, HBM + HPAGE, HBM + 6 * M, 2]);
    expect([...dev.registeredHnodes]).toEqual([2]);
    const h2 = gmem.registerPhysmem(dev, HBM + 8 * M, HBM + 16 * M);
    expect(h2.id).toBe(3);
    gmem.unregisterPhysmem(dev, 2);
    expect(gmem.registerPhysmem(dev, HBM, HBM + 2 * M).id).toBe(2); // the lowest free id
  });

  it("refuses ranges that hold no page, are not device-local, or overlap an hnode", () => {
    const { gmem, dev } = twoNodes();
    expectError(
      () => gmem.registerPhysmem(dev, HBM + 4096, HBM + 2 * M),
      "EINVAL",
      "no 2 MiB page",
    );
    expectError(() => gmem.registerPhysmem(dev, DRAM, DRAM + 4 * M), "EINVAL", "device-local");
    gmem.registerPhysmem(dev, HBM, HBM + 8 * M);
    expectError(() => gmem.registerPhysmem(dev, HBM + 6 * M, HBM + 10 * M), "EEXIST", "hnode 2");
    expect(gmem.hnodes()).toHaveLength(1);
  });

  it("the driver claims all of its local memory as one hnode", () => {
    const { gmem, driver, dev, accel } = twoNodes();
    const ranges = driver.claimLocalMemory();
    expect(ranges).toEqual([{ begin: HBM, end: HBM + 16 * M }]);
    expect(accel.localTarget!.stats().freeBytes).toBe(0);
    const h = gmem.registerPhysmem(dev, ranges[0]!.begin, ranges[0]!.end);
    expect(h.stats()).toEqual({ maxMemsize: 16 * M, nrFreePages: 8, nrActivePages: 0 });
    driver.releaseLocalMemory();
    expect(accel.localTarget!.stats().freeBytes).toBe(16 * M);
  });

  it("unregister refuses while pages back mappings; the task may use new hnodes at once", () => {
    const m = gmemMachine();
    const { gmem, gpu, proc } = m;
    expect(proc.memsAllowed.has(gpu.hnode.id)).toBe(true);
    gmem.access("gpu0", "w", m.va, 1, pattern(1));
    expectError(() => gmem.unregisterPhysmem(gpu.dev, gpu.hnode.id), "EBUSY", "1 pages in use");
    expectError(() => gmem.unregisterPhysmem(gpu.dev, 0), "EINVAL");
  });
});

describe("devices and address spaces", () => {
  it("gm_dev_create hands out the lowest free id; names are unique", () => {
    const m = gmemMachine({ blocks: 0 });
    const d1 = m.gmem.devCreate(m.gpu.driver, undefined, 0);
    expect([d1.id, d1.name]).toEqual([1, "gmdev1"]);
    expectError(() => m.gmem.devCreate(m.gpu.driver, undefined, 0, { name: "gpu0" }), "EEXIST");
    m.gmem.devDestroy(d1);
    expect(m.gmem.devCreate(m.gpu.driver, undefined, 0).id).toBe(1);
    expect(m.gmem.device("gpu0")).toBe(m.gpu.dev);
    expectError(() => m.gmem.device("nope"), "ENOENT", "gpu0");
  });

  it("gm_dev_destroy refuses while attached; after detach it unregisters the hnodes", () => {
    const m = gmemMachine();
    const { gmem, gpu, as } = m;
    expectError(() => gmem.devDestroy(gpu.dev), "EBUSY", "as1");
    as.detach(gpu.dev);
    gmem.devDestroy(gpu.dev);
    expect(gpu.dev.live).toBe(false);
    expect(gmem.hnodes()).toEqual([]);
    expect(() => gmem.access("gpu0", "r", m.va, 1)).toThrow(/ENOENT/);
  });

  it("gm_as_attach: EEXIST twice; the context is in both lists and current when activated", () => {
    const m = gmemMachine();
    const { gmem, gpu, as } = m;
    expect(gpu.dev.contexts).toEqual([gpu.ctx]);
    expect(as.contexts).toEqual([gpu.ctx]);
    expect(gpu.dev.currentCtx).toBe(gpu.ctx);
    expectError(() => as.attach(gpu.dev, GM_MMU_MODE.SHARE), "EEXIST");
    expectError(() => gmem.asAttach(as, gpu.dev, 9 as never), "EINVAL", "gm_mmu_mode");
    expect(
      m.platform.owners.list().map((o) => `${o.owner.kind} ${o.owner.name}: ${o.description}`),
    ).toEqual([
      "process app: table app-mm",
      `address space as1: table app-mm ${"0x0-0x7fffffffffff"}`,
      `hnode hnode1: phys 0x10000000000-0x100007fffff`,
      `address space as1: table gpu0-pt1 0x0-0x7fffffffffff`,
    ]);
  });

  it("detach brings the device's blocks home with their data; the process may not use its hnodes", () => {
    const m = gmemMachine();
    const { gmem, gpu, as, va, proc } = m;
    for (let b = 0; b < 3; b++) gmem.access("gpu0", "w", va + b * HPAGE, 4, pattern(4, b));
    as.detach(gpu.dev);
    expect(placement(m).slice(0, 3)).toEqual(["cpu", "cpu", "cpu"]);
    expect(gmem.stats.migrationsToHost).toBe(3);
    expect(gpu.dev.contexts).toEqual([]);
    expect(gpu.dev.currentCtx).toBeUndefined();
    expect(gpu.driver.peerVaRanges(proc)).toEqual([]);
    expect(proc.memsAllowed.has(gpu.hnode.id)).toBe(false);
    for (let b = 0; b < 3; b++)
      expect(gmem.access("cpu", "r", va + b * HPAGE, 4)).toEqual(pattern(4, b));
    // Attached again (after the mapping was made): the mapping's VAs are reserved again.
    as.attach(gpu.dev, GM_MMU_MODE.COHERENT_EXCLUSIVE, true);
    expect(gpu.driver.peerVaRanges(proc)).toEqual([{ start: va, end: va + 8 * HPAGE }]);
    expect(gmem.access("gpu0", "r", va, 4)).toEqual(pattern(4, 0));
    m.gpu.ctx = gpu.dev.currentCtx!;
    checkResidency(m);
  });

  it("gm_as_destroy detaches every device; gm_as_create checks its range", () => {
    const m = gmemMachine();
    const { gmem, as, proc, gpu } = m;
    gmem.access("gpu0", "w", m.va, 4, pattern(4));
    gmem.asDestroy(as);
    expect(proc.as).toBeUndefined();
    expect(gpu.dev.contexts).toEqual([]);
    expect(placement(m)[0]).toBe("cpu");
    expectError(() => gmem.asCreate(proc, 5, 2 * HPAGE), "EINVAL", "2 MiB");
    expectError(() => gmem.asCreate(proc, HPAGE, HPAGE), "EINVAL");
    const as2 = gmem.asCreate(proc, 0, 64 * HPAGE);
    expectError(() => gmem.asCreate(proc, 0, 64 * HPAGE), "EBUSY", as2.name);
  });
});
