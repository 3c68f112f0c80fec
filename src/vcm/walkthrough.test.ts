/**
 * The seed's two walk-throughs, in library code: "A Detailed Walk Through" (stage 1: map and
 * allocate memory for a device; stage 2: map the device's memory into the VMM's VCM) and
 * "Mapping IOMMU, one-to-one and VMM Reservations" (one 2M+4K contiguous physmem reached through
 * an IOMMU VCM, a one-to-one VCM and the kernel's VCM). Bytes written through any one device
 * read back identically through the others.
 */
import { describe, expect, it } from "vitest";

import {
  VCM_MEMTYPE_0,
  VCM_PHYS_CONT,
  VCM_PREBUILT_KERNEL,
  VCM_READ,
  VCM_WB_WA,
  VCM_WRITE,
} from "./attrs.js";
import { K, M, vcmMachine } from "./vcm.testutil.js";

const RW = VCM_READ | VCM_WRITE;

describe("A Detailed Walk Through", () => {
  it("stage 1 backs a device's reservation; stage 2 maps it into the VMM so the kernel reads it", () => {
    const { vcmm, masters, cpu } = vcmMachine();
    // Stage 1.
    const vcm = vcmm.create(0x1000_0000, 256 * M);
    const avcm = vcm.assoc(vcmm.devices.getCtxInstance("vcodec"), 0);
    avcm.activate();
    const res = vcm.reserve(2 * M, RW);
    const physmem = vcmm.physAlloc(VCM_MEMTYPE_0, 2 * M, 0);
    res.back(physmem);
    const devAddr = res.getDevAddr();
    expect(devAddr % M).toBe(0); // 1M-aligned: the largest SMMU size <= 2M
    masters[0]!.write(devAddr + 0x1234, new TextEncoder().encode("frame 0"));
    // Stage 2.
    const vcmVmm = vcmm.createFromPrebuilt(VCM_PREBUILT_KERNEL);
    const avcmVmm = vcmVmm.assoc(cpu, 0);
    avcmVmm.activate();
    const resVmm = vcmVmm.reserve(2 * M, RW);
    resVmm.back(physmem);
    const kva = resVmm.getDevAddr();
    expect(new TextDecoder().decode(cpu.read(kva + 0x1234, 7))).toBe("frame 0");
    expect(vcmm.translate(devAddr + 0x1234, vcm, vcmVmm)).toBe(kva + 0x1234);
    expect(vcmm.getPhysNumRes(physmem.chunks[0]!.pa)).toBe(2);
  });
});

describe("Mapping IOMMU, one-to-one and VMM Reservations", () => {
  it("one 2M+4K contiguous physmem, three reservations, one set of bytes", () => {
    const { vcmm, masters, cpu, mdp } = vcmMachine();
    const len = 2 * M + 4 * K;
    const physmem = vcmm.physAlloc(VCM_MEMTYPE_0, len, VCM_PHYS_CONT);
    const vcmIommu = vcmm.create(K, 16 * M);
    const vcmOneToOne = vcmm.create(
      vcmm.getContMemtypePa(VCM_MEMTYPE_0),
      vcmm.getContMemtypeLen(VCM_MEMTYPE_0),
    );
    expect(vcmOneToOne.type).toBe("one-to-one");
    const vcmVmm = vcmm.createFromPrebuilt(VCM_PREBUILT_KERNEL);
    const avcmIommu = vcmIommu.assoc(vcmm.devices.getCtxInstance("vfe"), 0);
    const avcmOneToOne = vcmOneToOne.assoc(mdp, 0);
    const avcmVmm = vcmVmm.assoc(cpu, 0);
    avcmIommu.activate();
    avcmOneToOne.activate();
    avcmVmm.activate();
    const resIommu = vcmIommu.reserve(len, RW | VCM_WB_WA);
    const resOneToOne = vcmOneToOne.reserve(len, RW | VCM_WB_WA);
    const resVmm = vcmVmm.reserve(len, RW | VCM_WB_WA);
    resIommu.back(physmem);
    resOneToOne.back(physmem);
    resVmm.back(physmem);
    const pa = physmem.chunks[0]!.pa;
    expect(resOneToOne.getDevAddr()).toBe(pa);
    const data = new Uint8Array(len).map((_, i) => (i * 7) & 0xff);
    masters[1]!.write(resIommu.getDevAddr(), data);
    // (Compared as buffers: a deep equality of 2 MiB element by element takes seconds.)
    const same = (got: Uint8Array) => Buffer.from(got).equals(Buffer.from(data));
    expect(same(mdp.read(resOneToOne.getDevAddr(), len))).toBe(true);
    expect(same(cpu.read(resVmm.getDevAddr(), len))).toBe(true);
    expect(vcmm.getPhysNumRes(pa + 2 * M)).toBe(3);
  });
});
