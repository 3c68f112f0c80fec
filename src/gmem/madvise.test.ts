import { describe, expect, it } from "vitest";

import { expectError } from "../base/errors.testutil.js";
import {
  checkResidency,
  gmemMachine,
  M,
  pattern,
  placement,
  RecordingSink,
  statsOf,
} from "./gmem.testutil.js";
import { GM_MMU_MODE, HPAGE, MADV, NO_HNID } from "./types.js";

describe("hmadvise PREFETCH", () => {
  it("rounds out to 2 MiB, splits into ~4 chunks, faults each page with MARK_HOT", () => {
    const m = gmemMachine({ deviceMemory: 16 * M });
    const { gmem, va, gpu } = m;
    gmem.access("cpu", "w", va + HPAGE + 5, 3, pattern(3)); // block 1 on the CPU
    gmem.access("gpu0", "w", va + 4 * HPAGE, 1, pattern(1)); // block 4 on the device
    const before = statsOf(m);
    // From the middle of block 0 to the middle of block 4: blocks 0..4, five pages.
    const n = gmem.hmadvise(gpu.hnode.id, va + 0x1000, 4 * HPAGE, MADV.PREFETCH);
    expect(n).toBe(4); // 0, 2, 3 populated, 1 migrated; 4 was there (touched)
    expect(statsOf(m)).toEqual({
      ...before,
      prefetchedPages: 4,
      migrationsToDevice: 1,
      bytesToDevice: 2 * M,
    });
    // ceil(5 / 4) = 2 pages a chunk: [0, 1], [2, 3], [4].
    expect(gmem.detail.prefetchChunks).toBe(3);
    expect(placement(m).slice(0, 6)).toEqual([...Array<string>(5).fill("device gpu0"), "nomap"]);
    // No device fault was counted: prefetch is no access. The data moved with block 1.
    expect(gmem.stats.deviceFaults).toBe(before.deviceFaults);
    expect(gmem.access("gpu0", "r", va + HPAGE + 5, 3)).toEqual(pattern(3));
    expect(gmem.stats.deviceFaults).toBe(before.deviceFaults);
    // MARK_HOT moved block 4 behind the ones that arrived before it.
    expect(gpu.hnode.activeList().map((p) => (p.mapping!.va - va) / HPAGE)).toEqual([
      0, 1, 2, 3, 4,
    ]);
    checkResidency(m);
  });

  it("needs an hnode the task may use, of a device that migrates", () => {
    const m = gmemMachine();
    const { gmem, va } = m;
    expectError(() => gmem.hmadvise(0, va, HPAGE, MADV.PREFETCH), "EINVAL", "not an hnode");
    expectError(() => gmem.hmadvise(7, va, HPAGE, MADV.PREFETCH), "EINVAL", "not an hnode");
    m.as.detach(m.gpu.dev);
    expectError(
      () => gmem.hmadvise(m.gpu.hnode.id, va, HPAGE, MADV.PREFETCH),
      "EINVAL",
      "may not use",
    );
    const share = gmemMachine({ mode: GM_MMU_MODE.SHARE });
    expectError(
      () => share.gmem.hmadvise(share.gpu.hnode.id, share.va, HPAGE, MADV.PREFETCH),
      "EINVAL",
      "shares the CPU's table",
    );
  });

  it("outside peer-shared mappings: EINVAL (ordinary memory) or ENOMEM (unmapped)", () => {
    const m = gmemMachine();
    const anon = m.proc.mmap(HPAGE);
    expectError(
      () => m.gmem.hmadvise(m.gpu.hnode.id, anon, 4096, MADV.PREFETCH),
      "EINVAL",
      "not a peer-shared",
    );
    expectError(
      () => m.gmem.hmadvise(m.gpu.hnode.id, m.va + 8 * HPAGE, 4096, MADV.PREFETCH),
      "ENOMEM",
    );
  });

  it("reports the migrations to the cost sink", () => {
    const sink = new RecordingSink();
    const m = gmemMachine({ cost: sink });
    m.gmem.access("cpu", "w", m.va, 1, pattern(1));
    sink.calls.length = 0;
    m.gmem.hmadvise(m.gpu.hnode.id, m.va, 2 * HPAGE, MADV.PREFETCH);
    expect(sink.calls).toEqual(["migrate 2097152 host->gpu0"]);
  });
});

describe("hmadvise DONTNEED (eager free)", () => {
  it("rounds in to 2 MiB; CPU blocks unmapped, device blocks peer_unmapped without copy; NOMAP", () => {
    const m = gmemMachine();
    const { gmem, va, gpu, proc, platform } = m;
    for (let b = 0; b < 4; b++)
      gmem.access(b % 2 === 0 ? "cpu" : "gpu0", "w", va + b * HPAGE + 64, 8, pattern(8, b));
    expect(placement(m).slice(0, 4)).toEqual(["cpu", "device gpu0", "cpu", "device gpu0"]);
    const hostFree = gmem.hostTarget.stats().freeBytes;
    // [block 0 + 4K, block 3 + 4K) rounds in to blocks 1 and 2.
    const n = gmem.hmadvise(NO_HNID, va + 4096, 3 * HPAGE, MADV.DONTNEED);
    expect(n).toBe(2);
    expect(placement(m).slice(0, 4)).toEqual(["cpu", "nomap", "nomap", "device gpu0"]);
    expect(gmem.hostTarget.stats().freeBytes).toBe(hostFree + 2 * M);
    expect(gpu.hnode.nrFreePages).toBe(3);
    expect(gpu.driver.stats).toMatchObject({ scrubs: 1, copiesOut: 0 });
    // Nothing moved, and the freed blocks read as zeros again (first touches).
    expect(statsOf(m)).toMatchObject({ migrationsToHost: 0, migrationsToDevice: 0 });
    expect(gmem.access("cpu", "r", va + HPAGE + 64, 8)).toEqual(new Uint8Array(8));
    expect(gmem.access("gpu0", "r", va + 2 * HPAGE + 64, 8)).toEqual(new Uint8Array(8));
    expect(proc.vmObject!.lookup(va)!.describe()).toBe("cpu");
    expect(platform.store.materializedPfns().length).toBeGreaterThan(0);
    checkResidency(m);
  });

  it("a range that holds no whole block frees nothing; hnid may be -1 or an hnode", () => {
    const m = gmemMachine();
    m.gmem.access("cpu", "w", m.va, 1, pattern(1));
    expect(m.gmem.hmadvise(NO_HNID, m.va + 4096, HPAGE, MADV.DONTNEED)).toBe(0);
    expect(m.gmem.hmadvise(m.gpu.hnode.id, m.va, HPAGE, MADV.DONTNEED)).toBe(1);
    expectError(() => m.gmem.hmadvise(5, m.va, HPAGE, MADV.DONTNEED), "EINVAL");
  });
});

describe("hmadvise WILLNEED, PINNED, UNPINNED", () => {
  it("WILLNEED and PINNED move device pages to the active tail", () => {
    const m = gmemMachine();
    const { gmem, va, gpu } = m;
    for (let b = 0; b < 3; b++) gmem.access("gpu0", "w", va + b * HPAGE, 1, pattern(1, b));
    const order = () => gpu.hnode.activeList().map((p) => (p.mapping!.va - va) / HPAGE);
    gmem.hmadvise(NO_HNID, va, HPAGE, MADV.WILLNEED);
    expect(order()).toEqual([1, 2, 0]);
    expect(placement(m)[0]).toBe("device gpu0"); // the hint is consumed by the touch
    gmem.hmadvise(NO_HNID, va + HPAGE, HPAGE, MADV.PINNED);
    expect(order()).toEqual([2, 0, 1]);
    // On a block not on a device, WILLNEED stays until it arrives.
    gmem.hmadvise(NO_HNID, va + 5 * HPAGE, 1, MADV.WILLNEED);
    expect(placement(m)[5]).toBe("nomap +willneed");
    gmem.access("gpu0", "r", va + 5 * HPAGE, 1);
    expect(placement(m)[5]).toBe("device gpu0");
    gmem.hmadvise(NO_HNID, va, 8 * HPAGE, MADV.UNPINNED);
    expect(placement(m)[1]).toBe("device gpu0");
    expectError(() => gmem.hmadvise(NO_HNID, va, HPAGE, 77 as never), "EINVAL", "unknown behavior");
    checkResidency(m);
  });
});

describe("hmemcpy", () => {
  it("copies host <-> device through peer_hmemcpy, wherever each side is; nothing migrates", () => {
    const sink = new RecordingSink();
    const m = gmemMachine({ cost: sink });
    const { gmem, va, gpu } = m;
    const data = pattern(3 * 4096 + 100, 4);
    gmem.access("cpu", "w", va + 0x1f_f000, data.length, data); // blocks 0 and 1, on the CPU
    gmem.access("gpu0", "w", va + 2 * HPAGE, 1, pattern(1)); // block 2 on the device
    const before = statsOf(m);
    sink.calls.length = 0;
    // Host -> device: the source spans two blocks, so two pieces.
    gmem.hmemcpy(gpu.hnode.id, va + 2 * HPAGE + 0x100, va + 0x1f_f000, data.length);
    expect(statsOf(m)).toEqual(before);
    expect(sink.calls).toEqual([
      `migrate ${0x1000} host->gpu0`,
      `migrate ${data.length - 0x1000} host->gpu0`,
    ]);
    expect(gmem.access("gpu0", "r", va + 2 * HPAGE + 0x100, data.length)).toEqual(data);
    // Device -> host, and into a NOMAP destination (populated on the device first).
    gmem.hmemcpy(gpu.hnode.id, va + 0x10, va + 2 * HPAGE + 0x100, 64);
    expect(gmem.access("cpu", "r", va + 0x10, 64)).toEqual(data.subarray(0, 64));
    gmem.hmemcpy(gpu.hnode.id, va + 3 * HPAGE, va + 2 * HPAGE + 0x100, 64);
    expect(placement(m)[3]).toBe("device gpu0");
    expect(gmem.access("gpu0", "r", va + 3 * HPAGE, 64)).toEqual(data.subarray(0, 64));
    // A NOMAP source reads as zeros.
    gmem.hmemcpy(gpu.hnode.id, va + 0x10, va + 5 * HPAGE, 16);
    expect(gmem.access("cpu", "r", va + 0x10, 16)).toEqual(new Uint8Array(16));
    expect(gmem.detail.hmemcpyCalls).toBe(4);
    expect(statsOf(m).migrationsToDevice + statsOf(m).migrationsToHost).toBe(0);
    expectError(() => gmem.hmemcpy(gpu.hnode.id, va, va + 8, 64), "EINVAL", "overlap");
    expectError(() => gmem.hmemcpy(0, va, va + HPAGE, 64), "EINVAL", "not an hnode");
    checkResidency(m);
  });
});
