/**
 * Thrashing detection and pinning (`thrashing: true`: 3 events within 500 us; pinned 150 ms),
 * on a CPU / device ping-pong, with a clock the test sets (the sink's `timeNs`).
 */
import { describe, expect, it } from "vitest";

import { gmemMachine, pattern } from "../gmem.testutil.js";
import { UVM_POLICY } from "../policy.js";
import { HPAGE } from "../types.js";
import { ClockSink, checkPieces, where } from "./uvm.testutil.js";

const K4 = 4096;
const US = 1e3;
const MS = 1e6;

function machine(policy: object) {
  const sink = new ClockSink();
  const m = gmemMachine({ policy, cost: sink });
  const P = m.va + 3 * K4 + 8;
  m.gmem.access("cpu", "w", P, 4, pattern(4));
  const step = (who: "cpu" | "gpu0", dt = 10 * US) => {
    sink.timeNs += dt;
    let got: Uint8Array | undefined;
    m.gmem.access(who, "r", P, 4, undefined, (b) => (got = b.slice()));
    m.gmem.flush();
    expect(got, `${who} read`).toEqual(pattern(4));
  };
  return { m, sink, P, step };
}

describe("a CPU / device ping-pong", () => {
  it("4 migrations each within 500 us: thrashing; pinned home, the device maps it remotely", () => {
    const { m, sink, P, step } = machine({ residency: "page", thrashing: true });
    const { gmem } = m;
    step("gpu0"); // migration 1: its time stamp
    step("cpu"); // 2: thrashing event 1
    step("gpu0"); // 3: event 2
    expect(gmem.stats.thrashingEvents).toBe(0);
    step("cpu"); // 4: event 3 -> thrashing, pinned in host memory
    expect(gmem.stats).toMatchObject({
      thrashingEvents: 1,
      migrationsToDevice: 2,
      migrationsToHost: 2,
      hostFaults: 2,
      deviceFaults: 2,
    });
    step("gpu0"); // a fault served by a remote mapping: no migration
    expect(gmem.stats).toMatchObject({ deviceFaults: 3, migrationsToDevice: 2 });
    expect(gmem.uvm!.stats.remoteMaps).toBe(1);
    expect(where(m, P)).toBe("cpu");
    checkPieces(m);
    const remote0 = sink.counts.remoteAccess;
    for (let k = 0; k < 5; k++) {
      step("cpu");
      step("gpu0");
    }
    // No fault either side: the CPU local, the device remote.
    expect(gmem.stats).toMatchObject({ deviceFaults: 3, hostFaults: 2, migrationsToDevice: 2 });
    expect(sink.counts.remoteAccess - remote0).toBe(5);
    // 150 ms later the pin ends: the remote mapping goes, the device faults and migrates.
    step("gpu0", 150 * MS);
    expect(gmem.uvm!.stats.unpins).toBe(1);
    expect(gmem.stats).toMatchObject({
      deviceFaults: 4,
      migrationsToDevice: 3,
      thrashingEvents: 1,
    });
    expect(where(m, P)).toBe("gpu0");
    checkPieces(m);
  });

  it("gaps longer than the lapse are no thrashing", () => {
    const { m, step } = machine({ residency: "page", thrashing: true });
    for (let k = 0; k < 5; k++) {
      step("gpu0", 600 * US);
      step("cpu", 600 * US);
    }
    expect(m.gmem.stats).toMatchObject({ thrashingEvents: 0, migrationsToDevice: 5 });
  });

  it("without the switch nothing is detected; thrashingEvents and the lapse are settable", () => {
    const off = machine({ residency: "page" });
    for (let k = 0; k < 4; k++) {
      off.step("gpu0");
      off.step("cpu");
    }
    expect(off.m.gmem.stats.thrashingEvents).toBe(0);
    const two = machine({ residency: "page", thrashing: true, thrashingEvents: 2 });
    two.step("gpu0");
    two.step("cpu");
    two.step("gpu0"); // the third migration: 2 events
    expect(two.m.gmem.stats.thrashingEvents).toBe(1);
    const short = machine({ residency: "page", thrashing: true, thrashingLapseUs: 5 });
    for (let k = 0; k < 4; k++) {
      short.step("gpu0");
      short.step("cpu");
    }
    expect(short.m.gmem.stats.thrashingEvents).toBe(0);
  });

  it("thrashingPinMs 0 pins for ever", () => {
    const { m, step } = machine({ residency: "page", thrashing: true, thrashingPinMs: 0 });
    for (let k = 0; k < 2; k++) {
      step("gpu0");
      step("cpu");
    }
    step("gpu0");
    step("gpu0", 10_000 * MS);
    expect(m.gmem.stats).toMatchObject({
      thrashingEvents: 1,
      migrationsToDevice: 2,
      deviceFaults: 3,
    });
  });

  it("evictions are no thrashing events", () => {
    const { m, step } = machine({ residency: "page", thrashing: true });
    for (let k = 0; k < 2; k++) {
      step("gpu0");
      m.gmem.reclaim(m.gpu.hnode.id, 1); // home by eviction, not by a fault
    }
    step("gpu0");
    // Recorded: the three fault migrations to the device only (events 2 < 3).
    expect(m.gmem.stats).toMatchObject({ evictions: 2, migrationsToDevice: 3, thrashingEvents: 0 });
    step("cpu"); // 4th recorded: thrashing
    expect(m.gmem.stats.thrashingEvents).toBe(1);
  });
});

describe("thrashing under the other residencies", () => {
  it("residency block: the 2 MiB block thrashes, is pinned, and is mapped remotely whole", () => {
    const { m, sink, P, step } = machine({ thrashing: true });
    for (let k = 0; k < 2; k++) {
      step("gpu0");
      step("cpu");
    }
    expect(m.gmem.stats).toMatchObject({
      thrashingEvents: 1,
      bytesToDevice: 2 * HPAGE,
      bytesToHost: 2 * HPAGE,
    });
    step("gpu0");
    const r0 = sink.counts.remoteAccess;
    m.gmem.access("gpu0", "r", P + HPAGE / 2, 4); // elsewhere in the block: mapped already
    expect(sink.counts.remoteAccess - r0).toBe(1);
    expect(m.gmem.stats).toMatchObject({ deviceFaults: 3, migrationsToDevice: 2 });
    checkPieces(m);
  });

  it("uvm: the big page moves whole, so its 16 pages thrash together; then only remote", () => {
    const { m, step } = machine(UVM_POLICY);
    for (let k = 0; k < 2; k++) {
      step("gpu0");
      step("cpu");
    }
    expect(m.gmem.stats).toMatchObject({ thrashingEvents: 16, bytesToDevice: 2 * 64 * 1024 });
    for (let k = 0; k < 3; k++) {
      step("gpu0");
      step("cpu");
    }
    expect(m.gmem.stats).toMatchObject({
      thrashingEvents: 16,
      migrationsToDevice: 2,
      hostFaults: 2,
    });
    checkPieces(m);
  });
});
