import { describe, expect, it } from "vitest";

import type { MemEvent } from "../base/events.js";
import type { AccessFaultError } from "./bus-master.js";
import { bytes, caught, DRAM, expectError, K, M, machine, pattern } from "./machine.testutil.js";
import { OneToOneDevice } from "./one-to-one.js";

function dmaMachine() {
  const m = machine();
  const dma = new OneToOneDevice(m.platform, { name: "dma0", base: DRAM, size: 16 * M });
  return { ...m, dma };
}

describe("OneToOneDevice", () => {
  it("addresses are physical inside its window, in one chunk", () => {
    const { platform, dma } = dmaMachine();
    const rec = platform.bus.record();
    dma.write(DRAM + 0x1ff0, pattern(64 * K));
    rec.stop();
    expect(platform.read(DRAM + 0x1ff0, 64 * K)).toEqual(pattern(64 * K));
    expect(dma.read(DRAM + 0x1ff0, 4)).toEqual(pattern(4));
    const access = rec.events.find((e) => e.type === "device.access") as MemEvent<"device.access">;
    expect(access).toMatchObject({ pa: DRAM + 0x1ff0, chunks: 1, tlb: "none" });
    expect(dma.translate(DRAM + 5)).toMatchObject({ ok: true, pa: DRAM + 5 });
    expect(platform.device("dma0")).toBe(dma);
  });

  it("refuses an access outside the window: a translation fault naming the window", () => {
    const { dma } = dmaMachine();
    const e = expectError(
      () => dma.read(DRAM + 16 * M, 4),
      "EFAULT",
      "dma0",
      "0x80000000-0x80ffffff",
    );
    expect((e as AccessFaultError).fault).toMatchObject({
      kind: "translation",
      stage: 1,
      level: 0,
      va: DRAM + 16 * M,
      context: "dma0",
    });
    expect(caught(() => dma.read(0x1000, 1)).message).toContain("outside the physical window");
  });

  it("an access straddling the window's end writes nothing", () => {
    const { platform, dma } = dmaMachine();
    expectError(() => dma.write(DRAM + 16 * M - 2, bytes(1, 2, 3, 4)), "EFAULT");
    expect(platform.read(DRAM + 16 * M - 2, 2)).toEqual(bytes(0, 0));
  });

  it("delivers the fault to handlers: one that moves the window and retries succeeds", () => {
    const { platform, dma } = dmaMachine();
    dma.addFaultHandler((f, master) => {
      expect(master).toBe(dma);
      dma.setWindow(Math.floor(f.va / M) * M, M);
      return "retry";
    });
    dma.write(DRAM + 32 * M, bytes(9));
    expect(platform.read(DRAM + 32 * M, 1)).toEqual(bytes(9));
    expect([dma.base, dma.size]).toEqual([DRAM + 32 * M, M]);
  });

  it("a hole inside the window is a bus error", () => {
    const { platform } = machine();
    const dev = new OneToOneDevice(platform, { name: "wide", base: 0, size: 2 ** 33 });
    expectError(() => dev.read(0x1000, 4), "EFAULT", "bus error", "0x1000");
  });

  it("validates its window", () => {
    const { platform } = machine();
    expectError(() => new OneToOneDevice(platform, { name: "d", base: -1, size: 1 }), "EINVAL");
    expectError(() => new OneToOneDevice(platform, { name: "d", base: 0, size: 0 }), "EINVAL");
    expectError(
      () => new OneToOneDevice(platform, { name: "d", base: 2 ** 52, size: 2 ** 52 }),
      "ERANGE",
    );
    expect(platform.devices()).toEqual([]);
  });
});
