/**
 * Preferred-location and accessed-by hints (`hints: true`).
 */
import { describe, expect, it } from "vitest";

import { expectError } from "../../base/errors.testutil.js";
import { gmemMachine, pattern, RecordingSink } from "../gmem.testutil.js";
import { HPAGE } from "../types.js";
import { census, checkPieces, where } from "./uvm.testutil.js";

const K4 = 4096;
const HINTS = { residency: "page" as const, hints: true };

function machine(policy: object = HINTS) {
  const sink = new RecordingSink();
  const m = gmemMachine({ policy, cost: sink, blocks: 2 });
  return { m, sink, gmem: m.gmem, va: m.va };
}

describe("preferred location", () => {
  it("host memory: a device fault maps the page remotely; nothing migrates", () => {
    const { m, sink, gmem, va } = machine();
    gmem.access("cpu", "w", va, 4, pattern(4));
    gmem.setPreferredLocation(va, HPAGE, "cpu");
    expect(gmem.access("gpu0", "r", va, 4)).toEqual(pattern(4));
    expect(gmem.stats).toMatchObject({ deviceFaults: 1, migrationsToDevice: 0 });
    expect(gmem.uvm!.stats.remoteMaps).toBe(1);
    const r0 = sink.counts.remoteAccess;
    gmem.access("cpu", "w", va, 4, pattern(4, 9));
    expect(gmem.access("gpu0", "r", va, 4)).toEqual(pattern(4, 9));
    expect(sink.counts.remoteAccess - r0).toBe(1);
    // An untouched page is populated in host memory for the device.
    gmem.access("gpu0", "w", va + 5 * K4, 4, pattern(4, 5));
    expect(where(m, va + 5 * K4)).toBe("cpu");
    expect(gmem.stats).toMatchObject({
      deviceFaults: 2,
      deviceFirstTouches: 0,
      cpuFirstTouches: 2,
    });
    checkPieces(m);
    // Unset: the remote mappings go; the next fault migrates.
    gmem.setPreferredLocation(va, HPAGE, undefined);
    expect(gmem.access("gpu0", "r", va, 4)).toEqual(pattern(4, 9));
    expect(gmem.stats).toMatchObject({ deviceFaults: 3, migrationsToDevice: 1 });
    checkPieces(m);
  });

  it("a device: an untouched block faulted there is populated whole; the CPU takes its page only", () => {
    const { m, gmem, va } = machine({ ...HINTS, prefetch: "tree" });
    gmem.setPreferredLocation(va, HPAGE, "gpu0");
    gmem.access("gpu0", "w", va + 7 * K4, 4, pattern(4));
    expect(census(m, va)).toEqual({ nomap: 0, cpu: 0, dev: 512 });
    expect(gmem.stats).toMatchObject({ deviceFaults: 1, prefetchedPages: 511 });
    // The CPU cannot reach device memory: the page comes home, but no prefetch out of gpu0.
    expect(gmem.access("cpu", "r", va + 7 * K4, 4)).toEqual(pattern(4));
    expect(census(m, va)).toEqual({ nomap: 0, cpu: 1, dev: 511 });
    expect(gmem.stats).toMatchObject({ hostFaults: 1, bytesToHost: K4, prefetchedPages: 511 });
    // Without the hint the CPU's fault takes the big page.
    gmem.access("gpu0", "w", va + HPAGE, 4, pattern(4));
    gmem.access("cpu", "r", va + HPAGE, 4);
    expect(census(m, va + HPAGE).cpu).toBe(16);
    checkPieces(m);
  });
});

describe("accessed by", () => {
  it("the device maps host pages remotely wherever they are, and faults on none", () => {
    const { m, sink, gmem, va } = machine();
    for (let p = 0; p < 4; p++) gmem.access("cpu", "w", va + p * K4, 4, pattern(4, p));
    gmem.setAccessedBy(va, HPAGE, "gpu0");
    const r0 = sink.counts.remoteAccess;
    for (let p = 0; p < 4; p++)
      expect(gmem.access("gpu0", "r", va + p * K4, 4)).toEqual(pattern(4, p));
    expect(gmem.stats.deviceFaults).toBe(0);
    expect(sink.counts.remoteAccess - r0).toBe(4);
    // A page the CPU populates later is mapped at once.
    gmem.access("cpu", "w", va + 10 * K4, 4, pattern(4, 10));
    expect(gmem.access("gpu0", "r", va + 10 * K4, 4)).toEqual(pattern(4, 10));
    expect(gmem.stats.deviceFaults).toBe(0);
    // One the device populates lives on it; brought home by the CPU, it stays mapped.
    gmem.access("gpu0", "w", va + 20 * K4, 4, pattern(4, 20));
    expect(where(m, va + 20 * K4)).toBe("gpu0");
    gmem.access("cpu", "r", va + 20 * K4, 4);
    expect(gmem.access("gpu0", "r", va + 20 * K4, 4)).toEqual(pattern(4, 20));
    expect(gmem.stats).toMatchObject({ deviceFaults: 1, hostFaults: 1, migrationsToDevice: 0 });
    checkPieces(m);
    // Unset: the device faults and migrates.
    gmem.setAccessedBy(va, HPAGE, "gpu0", false);
    gmem.access("gpu0", "r", va, 4);
    expect(gmem.stats).toMatchObject({ deviceFaults: 2, migrationsToDevice: 1 });
    checkPieces(m);
  });

  it("survives an eviction: the evicted pages are mapped remotely again", () => {
    const { m, gmem, va } = machine();
    gmem.setAccessedBy(va, HPAGE, "gpu0");
    gmem.access("gpu0", "w", va, 4, pattern(4));
    gmem.access("cpu", "w", va + K4, 4, pattern(4, 2));
    expect(gmem.reclaim(m.gpu.hnode.id, 1)).toBe(1);
    expect(where(m, va)).toBe("cpu");
    expect(gmem.access("gpu0", "r", va, 4)).toEqual(pattern(4));
    expect(gmem.access("gpu0", "r", va + K4, 4)).toEqual(pattern(4, 2));
    expect(gmem.stats.deviceFaults).toBe(1);
    checkPieces(m);
  });
});

describe("hint errors", () => {
  it("names what is wrong", () => {
    const { gmem, va } = machine();
    expectError(() => gmem.setPreferredLocation(va, HPAGE, "tpu9"), "ENOENT", "tpu9");
    expectError(() => gmem.setAccessedBy(va, HPAGE, "cpu"), "ENOENT", '"cpu"');
    expectError(() => gmem.setPreferredLocation(va, 0, "cpu"), "EINVAL", "not a range");
    expectError(
      () => gmem.setPreferredLocation(va + 2 * HPAGE, K4, "cpu"),
      "ENOMEM",
      "not all mapped",
    );
  });
});
