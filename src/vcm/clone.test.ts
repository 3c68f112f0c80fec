/**
 * `vcm_clone` ("a deep copy: the resulting VCM will match the original at the point of
 * cloning; subsequent updates to either VCM will only be seen by that VCM") for device,
 * prebuilt and one-to-one VCMs, and what happens when a clone and its original — or any two
 * VCMs — take turns on one device: an SMMU context or a CPU's TTBR runs one VCM at a time.
 */
import { describe, expect, it } from "vitest";

import {
  VCM_4KB,
  VCM_64KB,
  VCM_MEMTYPE_0,
  VCM_NOTCACHED,
  VCM_PHYS_CONT,
  VCM_PREBUILT_USER,
  VCM_READ,
  VCM_WB_WA,
  VCM_WRITE,
} from "./attrs.js";
import { expectRefused, K, leavesOf, M, vcmMachine } from "./vcm.testutil.js";

const RW = VCM_READ | VCM_WRITE;

/** A device VCM on vcodec with a bound, a backed reservation, one in the bound, one unbacked. */
function source() {
  const m = vcmMachine();
  const { vcmm } = m;
  const vcodec = vcmm.devices.getCtxInstance("vcodec");
  const src = vcmm.create(0x1000_0000, 64 * M, "src");
  const a = src.assoc(vcodec, 0, "src.vcodec");
  a.activate();
  const bound = src.createBound(4 * M, "src.bound");
  const pm = vcmm.physAlloc(VCM_MEMTYPE_0, M + 64 * K, 0, "pm");
  const backed = src.reserve(M + 64 * K, RW | VCM_WB_WA, "backed");
  backed.back(pm);
  const pm2 = vcmm.physAlloc(VCM_MEMTYPE_0, 64 * K, 0, "pm2");
  const inBound = bound.reserve(64 * K, RW, "inBound");
  inBound.back(pm2);
  const unbacked = src.reserve(8 * K, VCM_READ, "unbacked");
  return { m, vcmm, vcodec, src, a, bound, pm, pm2, backed, inBound, unbacked };
}

describe("vcm_clone of a device VCM", () => {
  it("copies the kind, the range, the bounds and every reservation with its backing", () => {
    const { vcmm, src, bound, pm, pm2 } = source();
    const c = src.clone("c");
    expect([c.type, c.startAddr, c.len]).toEqual([src.type, src.startAddr, src.len]);
    expect(c.bounds().map((b) => [b.start, b.len])).toEqual([[bound.start, bound.len]]);
    const shape = (v: typeof src) =>
      v
        .reservations()
        .map((r) => [
          r.devAddr,
          r.len,
          r.getAttr(),
          r.backed ? r.getPhysmem().name : undefined,
          r.bound ? "bound" : "-",
        ]);
    expect(shape(c)).toEqual(shape(src));
    expect(c.reservations().map((r) => r.name)).toEqual(["c.res0", "c.res1", "c.res2"]);
    expect(c.reservations()[1]!.bound).toBe(c.bounds()[0]);
    expect([...pm.backers].map((r) => r.name)).toEqual(["backed", "c.res0"]);
    expect([...pm2.backers].map((r) => r.name)).toEqual(["inBound", "c.res1"]);
    expect(c.associations()).toEqual([]);
    expect(vcmm.getPhysNumRes(pm.physAt(0))).toBe(1); // the copy maps nothing yet
  });

  it("later changes are seen by one VCM only", () => {
    const { vcmm, src, backed, inBound, unbacked } = source();
    const c = src.clone("c");
    const [cBacked, cInBound, cUnbacked] = c.reservations();
    // Changes to the original.
    backed.unback();
    expect(cBacked!.backed).toBe(true);
    unbacked.unreserve();
    expect(c.getNumRes()).toBe(3);
    expect(src.getNumRes()).toBe(2);
    const r = src.reserve(4 * K, RW, "later");
    expect(c.getRes(r.getDevAddr())).not.toBe(r);
    expect(c.reservations().map((x) => x.name)).toEqual(["c.res0", "c.res1", "c.res2"]);
    // Changes to the clone.
    cUnbacked!.setAttr(RW | VCM_NOTCACHED);
    cUnbacked!.unreserve();
    const cb = c.bounds()[0]!;
    cb.reserve(64 * K, RW, "c.inBound2");
    expect(src.bounds()[0]!.reservations()).toEqual([inBound]);
    expect(cb.reservations().map((x) => x.name)).toEqual([cInBound!.name, "c.inBound2"]);
    expect(vcmm.reservation("c.inBound2")!.vcm).toBe(c);
  });

  it("is programmed into a device when an association of it is activated", () => {
    const { m, vcmm, backed, src } = source();
    const c = src.clone("c");
    const jpeg = vcmm.devices.getCtxInstance("jpeg");
    const assoc = c.assoc(jpeg, 0, "c.jpeg");
    expect(leavesOf(jpeg.table)).toEqual([]);
    assoc.activate();
    expect(leavesOf(jpeg.table)).toEqual(leavesOf(vcmm.devices.getCtxInstance("vcodec").table));
    const data = Uint8Array.from({ length: 64 }, (_, i) => i + 1);
    m.masters[0]!.write(backed.getDevAddr() + M - 32, data); // vcodec, across the chunks
    expect(m.masters[2]!.read(backed.getDevAddr() + M - 32, 64)).toEqual(data); // jpeg
    expect(vcmm.getPhysNumRes(backed.getPhysmem().physAt(M))).toBe(2);
    // The clone's copy can be unbacked now, from the clone's device only.
    c.reservations()[0]!.unback();
    expect(m.masters[0]!.read(backed.getDevAddr() + M - 32, 64)).toEqual(data);
    expect(() => m.masters[2]!.read(backed.getDevAddr(), 1)).toThrow(/translation/);
  });

  it("takes over its original's context only once the original lets go of it", () => {
    const { m, vcmm, vcodec, a, backed, src } = source();
    const c = src.clone("c");
    const ca = c.assoc(vcodec, 0, "c.vcodec");
    expectRefused(m, () => ca.activate(), "EBUSY", "vcodec");
    a.deactivate();
    // The original's mappings are still in vcodec's table (kept until deassoc): refused, not
    // programmed over them.
    expectRefused(m, () => ca.activate(), "EBUSY", "vcodec", "src.vcodec");
    a.deassoc();
    expect(leavesOf(vcodec.table)).toEqual([]);
    ca.activate();
    const t = vcmm.devAddrToPhysAddr(vcodec, backed.getDevAddr() + M);
    expect(t).toBe(backed.getPhysmem().physAt(M));
    // And back again: the original may not take it while the clone holds it.
    const a2 = src.assoc(vcodec, 0, "src.vcodec2");
    ca.deactivate();
    expectRefused(m, () => a2.activate(), "EBUSY", "c.vcodec");
  });
});

describe("two device VCMs sharing a context", () => {
  it("a second VCM at the same addresses cannot activate over the first's mappings", () => {
    const m = vcmMachine();
    const { vcmm } = m;
    const vfe = vcmm.devices.getCtxInstance("vfe");
    const v1 = vcmm.create(0x1000_0000, 16 * M, "v1");
    const v2 = vcmm.create(0x1000_0000, 16 * M, "v2");
    const a1 = v1.assoc(vfe, 0, "v1.vfe");
    const a2 = v2.assoc(vfe, 0, "v2.vfe");
    a1.activate();
    const r1 = v1.reserve(64 * K, RW, "r1");
    r1.back(vcmm.physAlloc(VCM_MEMTYPE_0, 64 * K, 0));
    a1.deactivate();
    expectRefused(m, () => a2.activate(), "EBUSY", "vfe", "v1.vfe");
    a1.deassoc();
    a2.activate();
    const r2 = v2.reserve(64 * K, RW, "r2");
    expect(r2.getDevAddr()).toBe(r1.getDevAddr());
    r2.back(vcmm.physAlloc(VCM_MEMTYPE_0, 64 * K, 0)); // no EEXIST: vfe holds v2's mappings only
    expect(leavesOf(vfe.table).map((l) => l.pa)).toEqual([r2.getPhysmem().chunks[0]!.pa]);
  });
});

describe("vcm_clone of a prebuilt VCM", () => {
  function userSetup() {
    const m = vcmMachine();
    const user = m.vcmm.createFromPrebuilt(VCM_PREBUILT_USER, "user");
    const ua = user.assoc(m.cpu, 0, "user.cpu");
    ua.activate();
    const r1 = user.reserve(2 * M + 4 * K, RW, "r1");
    r1.back(m.vcmm.physAlloc(VCM_MEMTYPE_0, 2 * M + 4 * K, VCM_PHYS_CONT));
    const r2 = user.reserve(192 * K, RW, "r2");
    r2.back(m.vcmm.physAlloc(VCM_MEMTYPE_0, 192 * K, VCM_64KB | VCM_4KB));
    return { m, user, ua, r1, r2 };
  }

  it("forks the address space: a table of its own with the same leaves", () => {
    const { m, user, r1, r2 } = userSetup();
    const fork = user.clone("fork");
    expect(fork.table).not.toBe(m.user);
    expect(fork.getPgtblPa()).toBe(fork.table!.root);
    expect(leavesOf(fork.table!)).toEqual(leavesOf(m.user));
    expect(leavesOf(m.user).map((l) => l.va)).toContain(r2.getDevAddr());
    // Later changes: one table only.
    r1.unback();
    expect(leavesOf(fork.table!).some((l) => l.va === r1.getDevAddr())).toBe(true);
    expect(leavesOf(m.user).some((l) => l.va === r1.getDevAddr())).toBe(false);
    const labels = m.platform.owners.list().filter((o) => o.owner.name.startsWith("fork."));
    const end2 = r2.getDevAddr() + 192 * K - 1;
    expect(labels.map((o) => o.description)).toEqual([
      `table fork.pt 0x10000000-0x10200fff`,
      `table fork.pt 0x${r2.getDevAddr().toString(16)}-0x${end2.toString(16)}`,
    ]);
  });

  it("is loaded into the CPU when its association is activated, once the original's is not", () => {
    const { m, user, ua, r2 } = userSetup();
    const fork = user.clone("fork");
    const fa = fork.assoc(m.cpu, 0, "fork.cpu");
    expectRefused(m, () => fa.activate(), "EBUSY", "cpu0", "user.cpu");
    ua.deactivate();
    fa.activate();
    expect(m.cpu.mmu.ttbr0?.root).toBe(fork.table!.root);
    // A backing of the fork lands in the fork's table, which the CPU now walks.
    const r3 = fork.reserve(4 * K, RW, "r3");
    r3.back(m.vcmm.physAlloc(VCM_MEMTYPE_0, 4 * K, VCM_4KB));
    expect(m.cpu.translate(r3.getDevAddr()).ok).toBe(true);
    expect(m.user.translate(r3.getDevAddr())).toBeUndefined();
    expect(m.cpu.translate(r2.getDevAddr()).ok).toBe(true);
    expectRefused(m, () => ua.activate(), "EBUSY", "cpu0", "fork.cpu");
    // Freed, its table leaves the CPU; the original's activation loads the original again.
    for (const r of [...fork.reservations()]) {
      if (r.backed) r.unback();
      r.unreserve();
    }
    fa.deactivate();
    expect(m.cpu.mmu.ttbr0?.root).toBe(fork.table!.root); // a CPU keeps its table
    fa.deassoc();
    fork.free();
    expect(m.cpu.mmu.ttbr0).toBeUndefined();
    ua.activate();
    expect(m.cpu.mmu.ttbr0?.root).toBe(m.user.root);
  });
});

describe("vcm_clone of a one-to-one VCM", () => {
  it("copies reservations at their memory's addresses, labelled on the memory", () => {
    const m = vcmMachine();
    const o2o = m.vcmm.create(m.cont.base, m.cont.size, "o2o");
    o2o.assoc(m.mdp, 0).activate();
    const res = o2o.reserve(64 * K, RW, "r");
    res.back(m.vcmm.physAlloc(VCM_MEMTYPE_0, 64 * K, VCM_PHYS_CONT));
    const c = o2o.clone("c");
    expect(c.type).toBe("one-to-one");
    expect(c.reservations()[0]!.getDevAddr()).toBe(res.getDevAddr());
    const owners = m.platform.owners.ofPhys(res.getDevAddr(), res.getDevAddr() + 1);
    expect(owners.map((o) => o.name)).toEqual(["pm0", "r", "c.res0"]);
  });
});
