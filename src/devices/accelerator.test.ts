import type { ErrorCode } from "../base/errors.js";
import { describe, expect, it } from "vitest";

import { PROT } from "../mmu/prot.js";
import { Accelerator } from "./accelerator.js";
import { Cpu } from "./cpu.js";
import {
  bytes,
  DRAM,
  expectError,
  faultOf,
  K,
  M,
  machine,
  pattern,
  RO,
  RW,
  S1,
  S2,
} from "./machine.testutil.js";

const HBM = 2 ** 40;

describe("Accelerator", () => {
  it("brings device-local memory: a region it owns and a buddy target over it", () => {
    const { platform, table } = machine();
    const npu = new Accelerator(platform, {
      name: "npu0",
      localMemory: { region: { name: "hbm", base: HBM, size: 64 * M }, target: "npu-mem" },
    });
    expect(npu.localRegion).toMatchObject({
      name: "hbm",
      kind: "device-local",
      device: "npu0",
      base: HBM,
    });
    expect(platform.map.get("hbm")).toBe(npu.localRegion);
    expect(npu.localTarget).toBe(platform.target("npu-mem"));
    expect(npu.localTarget!.kind).toBe("buddy");
    expect([npu.tlb.sets, npu.tlb.ways]).toEqual([64, 4]);
    // Its own table over its own memory.
    const pt = table(S1, "npu");
    const a = platform.alloc("npu-mem", 2 * M, { align: 2 * M });
    pt.map(0x1000_0000, a.chunks[0]!.pa, 2 * M, RW);
    npu.setTable(pt, 3);
    npu.write(0x1000_0ff0, pattern(32));
    expect(platform.read(a.chunks[0]!.pa + 0xff0, 32)).toEqual(pattern(32));
    expect(npu.asid).toBe(3);
  });

  it("the target defaults to the region's name", () => {
    const { platform } = machine();
    new Accelerator(platform, {
      name: "gpu0",
      localMemory: { region: { name: "vram", base: HBM, size: 16 * M, kind: "device-local" } },
    });
    expect(platform.target("vram").ranges).toEqual([{ region: "vram", base: HBM, size: 16 * M }]);
  });

  it("adds its local memory atomically: any failure changes nothing", () => {
    const { platform } = machine();
    const snapshot = () => ({
      regions: platform.map.regions().map((r) => r.name),
      targets: platform.targets().map((t) => t.name),
      devices: platform.devices().map((d) => d.name),
    });
    const before = snapshot();
    const region = { name: "hbm", base: HBM, size: 16 * M };
    const cases: Array<[() => unknown, ErrorCode, string]> = [
      [
        () =>
          new Accelerator(platform, {
            name: "n",
            localMemory: { region: { ...region, base: DRAM } },
          }),
        "EEXIST",
        "overlaps",
      ],
      [
        () =>
          new Accelerator(platform, {
            name: "n",
            localMemory: { region: { ...region, name: "dram" } },
          }),
        "EEXIST",
        "dram",
      ],
      [
        () => new Accelerator(platform, { name: "n", localMemory: { region, target: "data" } }),
        "EEXIST",
        "target",
      ],
      [
        () =>
          new Accelerator(platform, {
            name: "n",
            localMemory: { region: { ...region, kind: "ram" } },
          }),
        "EINVAL",
        "device-local",
      ],
      [
        () =>
          new Accelerator(platform, {
            name: "n",
            localMemory: { region: { ...region, device: "other" } },
          }),
        "EINVAL",
        "other",
      ],
      [
        () =>
          new Accelerator(platform, {
            name: "n",
            localMemory: { region: { ...region, size: 100 } },
          }),
        "EINVAL",
        "4 KiB",
      ],
      [
        () => new Accelerator(platform, { name: "n", asid: -1, localMemory: { region } }),
        "EINVAL",
        "asid",
      ],
      [
        () => new Accelerator(platform, { name: "n", tlb: { ways: 0 }, localMemory: { region } }),
        "EINVAL",
        "ways",
      ],
    ];
    for (const [fn, code, text] of cases) {
      expectError(fn, code, text);
      expect(snapshot()).toEqual(before);
    }
    new Cpu(platform, { name: "taken" });
    expectError(
      () => new Accelerator(platform, { name: "taken", localMemory: { region } }),
      "EEXIST",
      "taken",
    );
    expect(platform.map.has("hbm")).toBe(false);
  });

  describe("GMEM SHARE mode: walking the CPU's own table", () => {
    function shared() {
      const m = machine();
      const proc = m.table(S1, "process");
      const cpu = new Cpu(m.platform, { name: "cpu0", ttbr0: proc, asid: 5 });
      const npu = new Accelerator(m.platform, { name: "npu0" });
      npu.shareTableWith(proc, 5);
      return { ...m, proc, cpu, npu };
    }

    it("sees the CPU's mappings and bytes", () => {
      const { proc, cpu, npu, phys } = shared();
      proc.map(0x40_0000, phys(64 * K), 64 * K, RW);
      cpu.write(0x40_1000, pattern(100), { privileged: false });
      expect(npu.read(0x40_1000, 100)).toEqual(pattern(100));
      npu.write(0x40_2000, bytes(7));
      expect(cpu.read(0x40_2000, 1)).toEqual(bytes(7));
      expect(npu.mmu.ttbr0?.root).toBe(proc.root);
    });

    it("stays coherent after the CPU unmaps or write-protects", () => {
      const { proc, npu, phys } = shared();
      proc.map(0x40_0000, phys(2 * M, 2 * M), 2 * M, RW);
      npu.read(0x40_0000, 1);
      expect(npu.tlb.stats().valid).toBe(1);
      proc.protect(0x40_0000, 2 * M, RO);
      expect(faultOf(() => npu.write(0x40_0000, bytes(1))).kind).toBe("permission");
      proc.unmap(0x40_0000, 2 * M);
      expect(npu.tlb.stats().valid).toBe(0);
      expect(faultOf(() => npu.read(0x40_0000, 1)).kind).toBe("translation");
    });

    it("accesses are unprivileged by default: kernel-only mappings fault", () => {
      const { proc, npu, phys } = shared();
      proc.map(0x1000, phys(4 * K), 4 * K, RW | PROT.PRIV);
      expect(faultOf(() => npu.read(0x1000, 1)).kind).toBe("permission");
      expect(npu.read(0x1000, 1, { privileged: true })).toEqual(bytes(0));
    });

    it("a device page fault served by a handler that maps into the shared table", () => {
      const { proc, cpu, npu, phys } = shared();
      const page = phys(4 * K);
      npu.addFaultHandler((f) => {
        proc.map(Math.floor(f.va / 4096) * 4096, page, 4 * K, RW);
        return "retry";
      });
      npu.write(0x7000, bytes(42));
      expect(cpu.read(0x7000, 1)).toEqual(bytes(42));
    });
  });

  it("checks the stages of its tables and offers TLB maintenance", () => {
    const { platform, table, phys } = machine();
    expectError(
      () => new Accelerator(platform, { name: "x", ttbr0: table(S2) }),
      "EINVAL",
      "stage-1",
    );
    const s2 = table(S2);
    const pt = table(S1);
    const npu = new Accelerator(platform, { name: "npu0", ttbr0: pt });
    expectError(() => npu.setTable(s2), "EINVAL");
    expectError(() => npu.setStage2(pt), "EINVAL");
    pt.map(0x1000, phys(4 * K), 4 * K, RW);
    npu.read(0x1000, 1);
    npu.tlbiRange(0x1000, 4 * K);
    expect(npu.tlb.stats().valid).toBe(0);
    npu.read(0x1000, 1);
    npu.tlbiAsid();
    expect(npu.tlb.stats().valid).toBe(0);
    npu.read(0x1000, 1);
    npu.tlbiAll();
    expect(npu.tlb.stats().valid).toBe(0);
    npu.read(0x1000, 1);
    npu.tlbiVmid(npu.vmid + 1);
    expect(npu.tlb.stats().valid).toBe(1);
    npu.tlbiVmid();
    expect(npu.tlb.stats().valid).toBe(0);
    // No table at all: the MMU is off, addresses are physical.
    npu.setTable(undefined);
    platform.write(DRAM + 0x40, bytes(6));
    expect(npu.read(DRAM + 0x40, 1)).toEqual(bytes(6));
  });
});
