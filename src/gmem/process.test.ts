import { fc, it } from "@fast-check/vitest";
import { describe, expect } from "vitest";

import { expectError } from "../base/errors.testutil.js";
import { checkResidency, gmemMachine, M, pattern, placement } from "./gmem.testutil.js";
import { GM_DEV_CAP, GMEM_MMAP_RETRY_TIMES, HPAGE } from "./types.js";

describe("mmap", () => {
  it("a peer-shared mapping is rounded out to 2 MiB and reserved on every PEER device", () => {
    const m = gmemMachine({ devices: ["gpu0", "npu0"], blocks: 0 });
    const [gpu, npu] = m.devs;
    const va = m.proc.mmap(3 * M, { peerShared: true });
    expect(va % HPAGE).toBe(0);
    expect(m.proc.vmas()).toEqual([{ start: va, end: va + 4 * M, prot: 3, peerShared: true }]);
    expect(m.proc.vmObject).toBeDefined();
    for (const d of [gpu!, npu!])
      expect(d.driver.peerVaRanges(m.proc)).toEqual([{ start: va, end: va + 4 * M }]);
    // An ordinary mapping: 4 KiB-rounded, reserved nowhere, paged on the CPU.
    const anon = m.proc.mmap(5000);
    expect(m.proc.vmas().find((v) => v.start === anon)).toMatchObject({
      end: anon + 8192,
      peerShared: false,
    });
    expect(gpu!.driver.peerVaRanges(m.proc)).toHaveLength(1);
    m.gmem.access("cpu", "w", anon + 4100, 4, pattern(4));
    expect(m.gmem.access("cpu", "r", anon + 4100, 4)).toEqual(pattern(4));
    expect(m.proc.anonPages.size).toBe(1);
    expect(m.gmem.detail.cpuMinorFaults).toBe(1);
  });

  it("a device without GM_DEV_CAP_PEER reserves nothing", () => {
    const m = gmemMachine({ capability: GM_DEV_CAP.REPLAYABLE, blocks: 2 });
    expect(m.gpu.driver.peerVaRanges(m.proc)).toEqual([]);
    m.gmem.access("gpu0", "w", m.va, 4, pattern(4));
    expect(placement(m)[0]).toBe("device gpu0");
  });

  it.prop([fc.integer({ min: 0, max: GMEM_MMAP_RETRY_TIMES + 3 }), fc.boolean()], { numRuns: 30 })(
    "a PEER device refusing the first k ranges: retried up to 10 times, ranges set aside",
    (k, second) => {
      // The peer OS keeps k consecutive 4 MiB ranges from the start of the address space: the
      // first k tries of a 4 MiB mmap land on them. With `second`, the refusing device is the
      // second attached, so the first must free what it reserved.
      const devices = second ? ["gpu0", "npu0"] : ["gpu0"];
      const refusing = devices[devices.length - 1]!;
      const mm = gmemMachine({
        devices,
        blocks: 0,
        reservedVa: {
          [refusing]: Array.from({ length: k }, (_, i) => ({
            start: i * 4 * M,
            end: (i + 1) * 4 * M,
          })),
        },
      });
      const go = () => mm.proc.mmap(4 * M, { peerShared: true });
      if (k <= GMEM_MMAP_RETRY_TIMES) {
        const va = go();
        expect(va).toBe(k * 4 * M);
        expect(mm.proc.setAside).toHaveLength(k);
        for (const d of mm.devs)
          expect(d.driver.peerVaRanges(mm.proc)).toEqual([{ start: va, end: va + 4 * M }]);
      } else {
        expectError(go, "ENOMEM", refusing, "gave up after 10 retries");
        expect(mm.proc.vmas()).toEqual([]);
        expect(mm.proc.setAside).toHaveLength(GMEM_MMAP_RETRY_TIMES + 1);
        for (const d of mm.devs) expect(d.driver.peerVaRanges(mm.proc)).toEqual([]);
      }
    },
  );

  it("a fixed mapping: exactly there, or EEXIST / EINVAL / ENOMEM, not retried", () => {
    const m = gmemMachine({ blocks: 0, reservedVa: { gpu0: [{ start: 64 * M, end: 66 * M }] } });
    const { proc } = m;
    expect(proc.mmap(2 * M, { peerShared: true, addr: 32 * M, fixed: true })).toBe(32 * M);
    expectError(() => proc.mmap(2 * M, { peerShared: true, addr: 32 * M, fixed: true }), "EEXIST");
    expectError(
      () => proc.mmap(2 * M, { peerShared: true, addr: 33 * M, fixed: true }),
      "EINVAL",
      "2 MiB",
    );
    expectError(
      () => proc.mmap(2 * M, { peerShared: true, addr: 64 * M, fixed: true }),
      "ENOMEM",
      "refused",
    );
    expect(proc.setAside).toEqual([]);
    expectError(() => proc.mmap(0), "EINVAL");
    expectError(() => proc.mmap(4096, { prot: 4 }), "EINVAL", "prot");
  });
});

describe("munmap", () => {
  it("frees every block wherever it is, releases the peer VAs, forgets the logical pages", () => {
    const m = gmemMachine({ blocks: 4 });
    const { gmem, proc, va, gpu } = m;
    const hostFree = gmem.hostTarget.stats().freeBytes;
    gmem.access("cpu", "w", va, 8, pattern(8));
    gmem.access("gpu0", "w", va + HPAGE, 8, pattern(8));
    gmem.access("gpu0", "w", va + 3 * HPAGE, 8, pattern(8));
    proc.munmap(va, 4 * HPAGE);
    expect(proc.vmas()).toEqual([]);
    expect(proc.vmObject!.size).toBe(0);
    expect(gpu.hnode.nrFreePages).toBe(4);
    expect(gmem.hostTarget.stats().freeBytes).toBe(hostFree);
    expect(gpu.driver.peerVaRanges(proc)).toEqual([]);
    expect(m.gmem.stats).toMatchObject({ migrationsToHost: 0, migrationsToDevice: 0 });
    expect(m.platform.store.materializedPfns().filter((p) => p * 4096 >= 2 ** 40)).toEqual([]);
    expectError(() => gmem.access("cpu", "r", va, 8), "EFAULT");
    expectError(() => gmem.access("gpu0", "r", va + HPAGE, 8), "EFAULT");
    checkResidency(m);
  });

  it("part of a mapping at 2 MiB boundaries splits it; off a boundary is refused, nothing changed", () => {
    const m = gmemMachine({ blocks: 4 });
    const { gmem, proc, va, gpu } = m;
    for (let b = 0; b < 4; b++) gmem.access("gpu0", "w", va + b * HPAGE, 1, pattern(1, b));
    expectError(() => proc.munmap(va + HPAGE + 4096, HPAGE), "EINVAL", "2 MiB boundary");
    expect(placement(m).slice(0, 4)).toEqual(Array(4).fill("device gpu0"));
    proc.munmap(va + HPAGE, 2 * HPAGE);
    expect(proc.vmas().map((v) => [v.start - va, v.end - va])).toEqual([
      [0, HPAGE],
      [3 * HPAGE, 4 * HPAGE],
    ]);
    expect(gpu.driver.peerVaRanges(proc)).toEqual([
      { start: va, end: va + HPAGE },
      { start: va + 3 * HPAGE, end: va + 4 * HPAGE },
    ]);
    expect(gmem.access("gpu0", "r", va + 3 * HPAGE, 1)).toEqual(pattern(1, 3));
    expect(gpu.hnode.nrFreePages).toBe(2);
    checkResidency(m);
  });

  it("of ordinary memory frees its 4 KiB pages", () => {
    const m = gmemMachine({ blocks: 0 });
    const anon = m.proc.mmap(16 * 4096);
    for (let i = 0; i < 16; i += 5) m.gmem.access("cpu", "w", anon + i * 4096, 1, pattern(1));
    expect(m.proc.anonPages.size).toBe(4);
    m.proc.munmap(anon, 16 * 4096);
    expect(m.proc.anonPages.size).toBe(0);
    expect(m.gmem.hostTarget.stats().liveAllocations).toBe(0);
  });
});

describe("mprotect", () => {
  it("changes the CPU's and the device's mappings (pmap_protect, tlb_invl)", () => {
    const m = gmemMachine({ blocks: 2 });
    const { gmem, proc, va } = m;
    gmem.access("cpu", "w", va, 1, pattern(1));
    gmem.access("gpu0", "w", va + HPAGE, 1, pattern(1));
    proc.mprotect(va, 2 * HPAGE, 1);
    expect(() => gmem.access("cpu", "w", va, 1, pattern(1))).toThrow(/EFAULT.*permission/);
    expect(() => gmem.access("gpu0", "w", va + HPAGE, 1, pattern(1))).toThrow(/EFAULT.*permission/);
    expect(gmem.access("gpu0", "r", va + HPAGE, 1)).toEqual(pattern(1));
    checkResidency(m);
    // A block that migrates later keeps the area's protection.
    expect(gmem.access("gpu0", "r", va, 1)).toEqual(pattern(1));
    expect(() => gmem.access("gpu0", "w", va, 1, pattern(1))).toThrow(/EFAULT.*permission/);
    expectError(() => proc.mprotect(va, 3 * HPAGE, 3), "ENOMEM");
  });
});
