/**
 * Attribute aliasing (reference §1, Russell King's objection): one physical page mapped
 * cacheable by one path and non-cacheable by another. `vcm_back`, `vcm_set_res_attr` and
 * `vcm_activate` refuse it (EINVAL naming the conflicting mapping: master, address, table)
 * unless the manager allows aliases; then each is counted in `stats.aliases` and announced.
 */
import { describe, expect, it } from "vitest";

import { whoReaches } from "../devices/graph/reverse-map.js";
import { PROT } from "../mmu/prot.js";
import {
  VCM_MEMTYPE_0,
  VCM_NOTCACHED,
  VCM_PHYS_CONT,
  VCM_PREBUILT_KERNEL,
  VCM_READ,
  VCM_WB_NWA,
  VCM_WB_WA,
  VCM_WT,
  VCM_WRITE,
} from "./attrs.js";
import { VCM_DEV_ATTR_CACHED_WT, VCM_DEV_ATTR_SH } from "./smmu/dev-attr.js";
import type { VcmMachine } from "./vcm.testutil.js";
import { expectRefused, K, KERNEL_VA, M, vcmMachine } from "./vcm.testutil.js";

const RW = VCM_READ | VCM_WRITE;
const hexOf = (n: number) => "0x" + n.toString(16);

/** A device VCM active on vcodec, the kernel VCM active on cpu0, and a 64K physmem. */
function setup(allowAliases = false) {
  const m = vcmMachine({ allowAliases });
  const { vcmm } = m;
  const dev = vcmm.create(0x1000_0000, 64 * M, "dev");
  const vcodec = dev.assoc(vcmm.devices.getCtxInstance("vcodec"), 0, "dev.vcodec");
  vcodec.activate();
  const kern = vcmm.createFromPrebuilt(VCM_PREBUILT_KERNEL, "kern");
  kern.assoc(m.cpu, 0, "kern.cpu").activate();
  const pm = vcmm.physAlloc(VCM_MEMTYPE_0, 64 * K, 0, "pm");
  const pa = pm.chunks[0]!.pa;
  const aliases: unknown[] = [];
  m.platform.bus.on("vcm.alias", (e) => void aliases.push(e));
  return { m, vcmm, dev, vcodec, kern, pm, pa, aliases };
}

/** The memory types the live paths to `pa` use, by master. */
function memTypes(m: VcmMachine, pa: number): string[] {
  return whoReaches(m.platform, pa, pa + 1, { onlyLive: true }).map(
    (p) => `${p.master} ${p.memType}`,
  );
}

describe("vcm_back refuses a mismatched alias", () => {
  it("against a scenario's own non-cacheable CPU mapping, naming master, address and table", () => {
    const { m, dev, pm, pa } = setup();
    m.user.map(0x4000_0000, pa + 16 * K, 16 * K, PROT.READ | PROT.WRITE); // normal-nc
    const res = dev.reserve(64 * K, RW | VCM_WB_WA, "wb");
    expectRefused(
      m,
      () => res.back(pm),
      "EINVAL",
      "vcm_back",
      "wb",
      "cpu0",
      "virt 0x40000000",
      "user-pt",
      "normal-nc",
      hexOf(pa + 16 * K),
    );
    // The same memory type is no alias.
    const nc = dev.reserve(64 * K, RW | VCM_NOTCACHED, "nc");
    nc.back(pm);
    expect(memTypes(m, pa + 16 * K)).toEqual(["cpu0 normal-nc", "vcodec0 normal-nc"]);
  });

  it("against another reservation's VCM_NOTCACHED mapping (an SMMU context's table)", () => {
    const { m, dev, kern, pm } = setup();
    const nc = dev.reserve(64 * K, RW | VCM_NOTCACHED, "nc");
    nc.back(pm);
    const wb = kern.reserve(64 * K, RW | VCM_WB_WA, "kwb");
    expectRefused(
      m,
      () => wb.back(pm),
      "EINVAL",
      "kwb",
      "vcodec0",
      `virt ${hexOf(nc.getDevAddr())}`,
      "table vcodec",
    );
  });

  it("and the other way round: a non-cacheable backing against the kernel's cacheable one", () => {
    const { m, dev, kern, pm } = setup();
    const wb = kern.reserve(64 * K, RW | VCM_WB_NWA, "kwb");
    wb.back(pm);
    const nc = dev.reserve(64 * K, RW, "nc");
    expectRefused(
      m,
      () => nc.back(pm),
      "EINVAL",
      "nc",
      "cpu0",
      hexOf(wb.getDevAddr()),
      "kernel-pt",
    );
    expect(wb.getDevAddr()).toBeGreaterThanOrEqual(KERNEL_VA);
  });

  it("cacheable policies alias each other freely (one cacheable type)", () => {
    const { m, dev, kern, pm, pa } = setup();
    dev.reserve(64 * K, RW | VCM_WT).back(pm);
    kern.reserve(64 * K, RW | VCM_WB_WA).back(pm);
    expect(m.vcmm.stats.aliases).toBe(0);
    expect(memTypes(m, pa)).toEqual(["cpu0 normal-wb", "vcodec0 normal-wb"]);
  });

  it("allowed with allowAliases: true, counted and announced", () => {
    const { m, dev, kern, pm, pa, aliases } = setup(true);
    m.user.map(0x4000_0000, pa, 4 * K, PROT.READ);
    dev.reserve(64 * K, RW | VCM_NOTCACHED, "nc").back(pm);
    expect(m.vcmm.stats.aliases).toBe(0);
    kern.reserve(64 * K, RW | VCM_WB_WA, "kwb").back(pm);
    // Two conflicting paths: the scenario's CPU mapping and the device reservation.
    expect(m.vcmm.stats.aliases).toBe(2);
    expect(aliases).toMatchObject([
      { type: "vcm.alias", res: "kwb", pa, size: 4 * K, with: "cpu0", memType: "normal-nc" },
      { type: "vcm.alias", res: "kwb", pa, size: 64 * K, with: "vcodec0", memType: "normal-nc" },
    ]);
  });
});

describe("vcm_set_res_attr checks a change of cache policy the same way", () => {
  it("refuses making a backed reservation non-cacheable under a cacheable alias", () => {
    const { m, dev, kern, pm } = setup();
    const a = dev.reserve(64 * K, RW | VCM_WB_WA, "a");
    a.back(pm);
    const b = kern.reserve(64 * K, RW | VCM_WB_WA, "b");
    b.back(pm);
    expectRefused(
      m,
      () => b.setAttr(RW | VCM_NOTCACHED),
      "EINVAL",
      "vcm_set_res_attr",
      "b",
      "vcodec0",
      "table vcodec",
    );
    expect(b.getAttr()).toBe(RW | VCM_WB_WA);
  });

  it("changes attributes within the cacheable type without a check, on every device", () => {
    const { m, dev, pm, pa } = setup();
    m.user.map(0x4000_0000, pa, 4 * K, PROT.READ | PROT.WRITE | PROT.CACHE);
    const a = dev.reserve(64 * K, RW | VCM_WB_WA, "a");
    a.back(pm);
    a.setAttr(VCM_READ | VCM_WT);
    const vcodec = m.vcmm.devices.getCtxInstance("vcodec");
    expect(vcodec.mappings()).toEqual([
      {
        va: a.getDevAddr(),
        len: 64 * K,
        pa,
        attr: VCM_DEV_ATTR_SH | VCM_DEV_ATTR_CACHED_WT,
        rights: PROT.READ | PROT.NOEXEC,
      },
    ]);
    expect(() => m.masters[0]!.write(a.getDevAddr(), Uint8Array.of(1))).toThrow(/permission/);
  });

  it("allowed with allowAliases: true: the kernel's mapping becomes non-cacheable, counted", () => {
    const { m, dev, kern, pm, pa } = setup(true);
    dev.reserve(64 * K, RW | VCM_WB_WA, "a").back(pm);
    const b = kern.reserve(64 * K, RW | VCM_WB_WA, "b");
    b.back(pm);
    b.setAttr(RW | VCM_NOTCACHED);
    expect(m.vcmm.stats.aliases).toBe(1);
    expect(memTypes(m, pa)).toEqual(["cpu0 normal-nc", "vcodec0 normal-wb"]);
  });
});

describe("vcm_activate checks the mappings it makes live", () => {
  it("a device's non-cacheable mapping meeting a cacheable one made while it was inactive", () => {
    const { m, dev, vcodec, kern, pm } = setup();
    dev.reserve(64 * K, RW | VCM_NOTCACHED, "nc").back(pm);
    vcodec.deactivate();
    // vcodec's mapping is not live: nothing to conflict with now.
    kern.reserve(64 * K, RW | VCM_WB_WA, "kwb").back(pm);
    expectRefused(m, () => vcodec.activate(), "EINVAL", "vcm_activate", "nc", "cpu0", "kernel-pt");
  });

  it("a new association programmed with a reservation that would alias", () => {
    const { m, dev, vcodec, kern, pm } = setup();
    const big = m.vcmm.physAlloc(VCM_MEMTYPE_0, 2 * M, VCM_PHYS_CONT, "big");
    dev.reserve(64 * K, RW | VCM_NOTCACHED, "nc").back(pm);
    dev.reserve(2 * M, RW, "nc2").back(big);
    vcodec.deactivate();
    kern.reserve(2 * M, RW | VCM_WB_WA, "kwb").back(big);
    const jpeg = dev.assoc(m.vcmm.devices.getCtxInstance("jpeg"), 0, "dev.jpeg");
    expectRefused(m, () => jpeg.activate(), "EINVAL", "vcm_activate", "nc2", "cpu0");
  });

  it("allowed with allowAliases: true, counted at each activation that makes it live", () => {
    const { m, dev, vcodec, kern, pm } = setup(true);
    dev.reserve(64 * K, RW | VCM_NOTCACHED, "nc").back(pm);
    vcodec.deactivate();
    kern.reserve(64 * K, RW | VCM_WB_WA, "kwb").back(pm);
    expect(m.vcmm.stats.aliases).toBe(0);
    vcodec.activate();
    expect(m.vcmm.stats.aliases).toBe(1);
  });
});
