/**
 * What the VCM tells the platform graph and what it reads back from it: owner labels of
 * physmems, associations and reservations (while they live, gone when they go), `whoReaches`
 * naming the reservation behind each path, the reverse lookups `vcm_get_phys_num_res` /
 * `vcm_get_next_phys_res` agreeing with it; then `vcm_translate` between VCMs, `vcm_res_copy`
 * byte for byte, `vcm_get_res` and bounds.
 */
import { describe, expect, it } from "vitest";

import { whoReaches } from "../devices/graph/reverse-map.js";
import {
  VCM_4KB,
  VCM_64KB,
  VCM_MEMTYPE_0,
  VCM_PHYS_CONT,
  VCM_PREBUILT_KERNEL,
  VCM_READ,
  VCM_WB_WA,
  VCM_WRITE,
} from "./attrs.js";
import type { Reservation } from "./reservation.js";
import type { VcmMachine } from "./vcm.testutil.js";
import { expectRefused, K, M, vcmMachine } from "./vcm.testutil.js";

const RW = VCM_READ | VCM_WRITE;

/** The VCM's owner labels: `kind name: scope`. */
function vcmLabels(m: VcmMachine): string[] {
  return m.platform.owners
    .list()
    .filter((o) => o.owner.system === "vcm")
    .map((o) => `${o.owner.kind} ${o.owner.name}: ${o.description}`);
}

/** The reservations whoReaches names on the paths to `pa`, by master. */
function reachers(m: VcmMachine, pa: number): string[] {
  return whoReaches(m.platform, pa, pa + 1).flatMap((p) =>
    p.owners.filter((o) => o.kind === "reservation").map((o) => `${p.master} ${o.name}`),
  );
}

/** A device VCM on vcodec and vfe, the kernel VCM on cpu0, a one-to-one VCM on mdp. */
function trio() {
  const m = vcmMachine();
  const { vcmm } = m;
  const dev = vcmm.create(0x1000_0000, 64 * M, "dev");
  const da = dev.assoc(vcmm.devices.getCtxInstance("vcodec"), 0, "dev.vcodec");
  const db = dev.assoc(vcmm.devices.getCtxInstance("vfe"), 0, "dev.vfe");
  da.activate();
  db.activate();
  const kern = vcmm.createFromPrebuilt(VCM_PREBUILT_KERNEL, "kern");
  const ka = kern.assoc(m.cpu, 0, "kern.cpu");
  ka.activate();
  const o2o = vcmm.create(m.cont.base, m.cont.size, "o2o");
  const oa = o2o.assoc(m.mdp, 0, "o2o.mdp");
  oa.activate();
  return { m, vcmm, dev, da, db, kern, ka, o2o, oa };
}

describe("owners", () => {
  it("labels every physmem, association and backed reservation while it lives", () => {
    const { m, vcmm, dev, da, db, kern, o2o } = trio();
    expect(vcmLabels(m)).toEqual([
      "association dev.vcodec: table vcodec",
      "association dev.vfe: table vfe",
      "association kern.cpu: device cpu0",
      "association o2o.mdp: device mdp",
    ]);
    const pm = vcmm.physAlloc(VCM_MEMTYPE_0, 2 * M, VCM_PHYS_CONT, "pm");
    const pa = pm.chunks[0]!.pa;
    const hr = (a: number, n: number) => `0x${a.toString(16)}-0x${(a + n - 1).toString(16)}`;
    expect(vcmLabels(m)).toContain(`physmem pm: phys ${hr(pa, 2 * M)}`);
    const r1 = dev.reserve(2 * M, RW, "r1");
    const r2 = kern.reserve(2 * M, RW, "r2");
    const r3 = o2o.reserve(2 * M, RW, "r3");
    expect(vcmLabels(m).filter((l) => l.startsWith("reservation"))).toEqual([]); // unbacked
    for (const r of [r1, r2, r3]) r.back(pm);
    expect(vcmLabels(m).filter((l) => l.startsWith("reservation"))).toEqual([
      `reservation r1: table vcodec ${hr(r1.getDevAddr(), 2 * M)}`,
      `reservation r1: table vfe ${hr(r1.getDevAddr(), 2 * M)}`,
      `reservation r2: table kernel-pt ${hr(r2.getDevAddr(), 2 * M)}`,
      `reservation r3: phys ${hr(pa, 2 * M)}`,
    ]);
    // A device associated later: labelled when it is programmed, unlabelled when it goes.
    const late = dev.assoc(vcmm.devices.getCtxInstance("jpeg"), 0, "dev.jpeg");
    expect(vcmLabels(m)).toContain("association dev.jpeg: table jpeg");
    late.activate();
    expect(vcmLabels(m)).toContain(`reservation r1: table jpeg ${hr(r1.getDevAddr(), 2 * M)}`);
    late.deactivate();
    late.deassoc();
    expect(vcmLabels(m).filter((l) => l.includes("jpeg"))).toEqual([]);
    // Everything goes with its object.
    for (const r of [r1, r2, r3]) {
      r.unback();
      r.unreserve();
    }
    pm.free();
    for (const a of [da, db]) {
      a.deactivate();
      a.deassoc();
    }
    expect(vcmLabels(m)).toEqual([
      "association kern.cpu: device cpu0",
      "association o2o.mdp: device mdp",
    ]);
  });

  it("whoReaches names the reservation on every path to its memory; the reverse lookups agree", () => {
    const { m, vcmm, dev, kern, o2o } = trio();
    const pm = vcmm.physAlloc(VCM_MEMTYPE_0, M + 64 * K, VCM_PHYS_CONT, "pm");
    const other = vcmm.physAlloc(VCM_MEMTYPE_0, 64 * K, 0, "other");
    const r1 = dev.reserve(M + 64 * K, RW, "r1");
    const r2 = kern.reserve(M + 64 * K, RW, "r2");
    const r3 = o2o.reserve(M + 64 * K, RW, "r3");
    const r4 = dev.reserve(64 * K, RW, "r4");
    for (const r of [r1, r2, r3]) r.back(pm);
    r4.back(other);
    const pa = pm.physAt(M + 4 * K);
    // A one-to-one reservation is labelled on its physical range (it has no table), so every
    // path to that memory names it, not only mdp's window.
    expect(reachers(m, pa).sort()).toEqual([
      "cpu0 r2",
      "cpu0 r3",
      "mdp r3",
      "vcodec0 r1",
      "vcodec0 r3",
      "vfe0 r1",
      "vfe0 r3",
    ]);
    expect(reachers(m, other.physAt(0)).sort()).toEqual(["vcodec0 r4", "vfe0 r4"]);
    for (const p of [pa, pm.physAt(0), pm.physAt(M + 64 * K - 1), other.physAt(100)]) {
      const named = new Set(reachers(m, p).map((s) => s.split(" ")[1]));
      const chain: Reservation[] = [];
      for (let n = vcmm.getNextPhysRes(p); n !== undefined; n = vcmm.getNextPhysRes(p, n.res)) {
        expect(n.len).toBe(n.res.len);
        chain.push(n.res);
      }
      expect(new Set(chain.map((r) => r.name))).toEqual(named);
      expect(chain).toHaveLength(named.size);
      expect(vcmm.getPhysNumRes(p)).toBe(named.size);
    }
    // Memory no reservation maps.
    const free = vcmm.physAlloc(VCM_MEMTYPE_0, 4 * K, 0);
    expect(vcmm.getPhysNumRes(free.physAt(0))).toBe(0);
    expect(vcmm.getNextPhysRes(free.physAt(0))).toBeUndefined();
    r1.unback();
    expect(vcmm.getPhysNumRes(pa)).toBe(2);
  });
});

describe("vcm_translate", () => {
  it("finds the same memory's address in another VCM, chunk by chunk", () => {
    const { vcmm, dev, kern } = trio();
    const len = M + 64 * K + 8 * K;
    const pm = vcmm.physAlloc(VCM_MEMTYPE_0, len, 0); // 1M + 64K + 2 x 4K, apart
    expect(pm.segments().length).toBeGreaterThan(1);
    const rd = dev.reserve(len, RW, "rd");
    const rk = kern.reserve(len, RW, "rk");
    rd.back(pm);
    rk.back(pm);
    for (const off of [
      0,
      5,
      M - 1,
      M,
      M + 64 * K - 1,
      M + 64 * K,
      M + 64 * K + 4 * K + 7,
      len - 1,
    ]) {
      expect(vcmm.translate(rd.getDevAddr() + off, dev, kern)).toBe(rk.getDevAddr() + off);
      expect(vcmm.translate(rk.getDevAddr() + off, kern, dev)).toBe(rd.getDevAddr() + off);
    }
  });

  it("to and from a one-to-one VCM: the physical address", () => {
    const { vcmm, dev, o2o } = trio();
    const pm = vcmm.physAlloc(VCM_MEMTYPE_0, 2 * M + 4 * K, VCM_PHYS_CONT);
    const rd = dev.reserve(2 * M + 4 * K, RW);
    const ro = o2o.reserve(2 * M + 4 * K, RW);
    rd.back(pm);
    ro.back(pm);
    expect(vcmm.translate(rd.getDevAddr() + 2 * M + 3, dev, o2o)).toBe(pm.physAt(0) + 2 * M + 3);
    expect(vcmm.translate(ro.getDevAddr() + 17, o2o, dev)).toBe(rd.getDevAddr() + 17);
  });

  it("ENOENT when the destination does not map the memory (or no longer does)", () => {
    const { m, vcmm, dev, kern } = trio();
    const pm = vcmm.physAlloc(VCM_MEMTYPE_0, 64 * K, 0);
    const rd = dev.reserve(64 * K, RW, "rd");
    rd.back(pm);
    expectRefused(m, () => vcmm.translate(rd.getDevAddr(), dev, kern), "ENOENT", "kern");
    const rk = kern.reserve(64 * K, RW, "rk");
    rk.back(pm);
    expect(vcmm.translate(rd.getDevAddr() + 9, dev, kern)).toBe(rk.getDevAddr() + 9);
    rk.unback();
    expectRefused(m, () => vcmm.translate(rd.getDevAddr() + 9, dev, kern), "ENOENT", "kern");
    // Within one VCM: the reservation itself.
    expect(vcmm.translate(rd.getDevAddr() + 9, dev, dev)).toBe(rd.getDevAddr() + 9);
  });
});

describe("vcm_res_copy", () => {
  /** Two reservations of 72K over discontiguous (64K + 4K + 4K) and contiguous memory. */
  function copySetup() {
    const t = trio();
    const len = 72 * K;
    const a = t.vcmm.physAlloc(VCM_MEMTYPE_0, len, 0);
    expect(a.chunks.map((c) => c.size)).toEqual([64 * K, 4 * K, 4 * K]);
    const b = t.vcmm.physAlloc(VCM_MEMTYPE_0, len, VCM_PHYS_CONT);
    const from = t.dev.reserve(len, RW, "from");
    const to = t.kern.reserve(len, RW | VCM_WB_WA, "to");
    from.back(a);
    to.back(b);
    const pattern = Uint8Array.from({ length: len }, (_, i) => (i * 31 + 7) & 0xff);
    t.m.masters[0]!.write(from.getDevAddr(), pattern);
    t.m.cpu.write(to.getDevAddr(), new Uint8Array(len).fill(0xee));
    return { ...t, len, from, to, pattern };
  }

  it.each<[string, number, number, number, number]>([
    // [what, toOff, fromOff, len, copied]
    ["across the 64K chunk boundary", 100, 64 * K - 50, 200, 200],
    ["across both 4K chunks to the end", 0, 64 * K - 10, 8 * K + 10, 8 * K + 10],
    ["clipped by the destination's end", 72 * K - 10, 0, 100, 10],
    ["clipped by the source's end", 0, 72 * K - 30, 1000, 30],
    ["nothing at the very end", 72 * K, 0, 5, 0],
    ["a length of 0", 10, 10, 0, 0],
    ["the whole reservation", 0, 0, 72 * K, 72 * K],
  ])("%s", (_what, toOff, fromOff, n, copied) => {
    const { m, vcmm, len, from, to, pattern } = copySetup();
    expect(vcmm.resCopy(to, toOff, from, fromOff, n)).toBe(copied);
    const want = new Uint8Array(len).fill(0xee);
    want.set(pattern.subarray(fromOff, fromOff + copied), toOff);
    expect(Buffer.from(m.cpu.read(to.getDevAddr(), len)).equals(Buffer.from(want))).toBe(true);
    // The source is untouched.
    expect(
      Buffer.from(m.masters[1]!.read(from.getDevAddr(), len)).equals(Buffer.from(pattern)),
    ).toBe(true);
  });

  it("clips at a length that is not a whole number of pages", () => {
    const { m, vcmm, dev, kern } = trio();
    const pa = vcmm.physAlloc(VCM_MEMTYPE_0, 5000, VCM_4KB);
    const pb = vcmm.physAlloc(VCM_MEMTYPE_0, 5000, VCM_4KB);
    const a = dev.reserve(5000, RW);
    const b = kern.reserve(5000, RW);
    a.back(pa);
    b.back(pb);
    m.masters[0]!.write(a.getDevAddr(), new Uint8Array(8192).fill(0x5a));
    expect(vcmm.resCopy(b, 0, a, 0, 8192)).toBe(5000);
    expect(m.cpu.read(b.getDevAddr() + 4999, 2)).toEqual(Uint8Array.of(0x5a, 0));
  });
});

describe("vcm_get_res and bounds", () => {
  it("vcm_get_res finds the reservation holding any of its addresses", () => {
    const { dev } = trio();
    const r = dev.reserve(5000, RW);
    const a = r.getDevAddr();
    expect(dev.getRes(a)).toBe(r);
    expect(dev.getRes(a + 8191)).toBe(r); // its last page
    expect(dev.getRes(a + 8192)).toBeUndefined();
    expect(dev.getRes(a - 1)).toBeUndefined();
  });

  it("a bound is a range of the VCM its reservations come from, counted among the VCM's", () => {
    const { m, vcmm, dev } = trio();
    const bound = dev.createBound(4 * M, "b");
    expect([bound.getStartAddr() % M, bound.getLen()]).toEqual([0, 4 * M]);
    const inside = (r: Reservation) =>
      r.getDevAddr() >= bound.start && r.getDevAddr() + r.len <= bound.start + bound.len;
    const rs = [bound.reserve(M, RW), bound.reserve(2 * M, RW), bound.reserve(64 * K, RW)];
    expect(rs.every(inside)).toBe(true);
    expectRefused(m, () => bound.reserve(2 * M, RW), "ENOMEM", "b");
    const outside = dev.reserve(4 * M, RW);
    expect(inside(outside)).toBe(false);
    expect(dev.getNumRes()).toBe(4);
    const order: string[] = [];
    for (let r = dev.getNextRes(); r !== undefined; r = dev.getNextRes(r)) order.push(r.name);
    expect(order).toEqual([...rs, outside].map((r) => r.name));
    // A bound reservation backs like any other.
    const pm = vcmm.physAlloc(VCM_MEMTYPE_0, 64 * K, VCM_64KB);
    rs[2]!.back(pm);
    expect(m.masters[0]!.translate(rs[2]!.getDevAddr() + 5).ok).toBe(true);
    rs[2]!.unback();
    expectRefused(m, () => bound.free(), "EBUSY", "b");
    for (const r of rs) r.unreserve();
    bound.free();
    // Its range is the VCM's again.
    const again = dev.reserveAt(0, 4 * K, RW);
    expect(again.getDevAddr()).toBe(0x1000_0000);
  });
});
