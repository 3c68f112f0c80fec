/**
 * The effects of the memory RPCs on stage 2 and on memory (reference §7), seen through the
 * VMs' vCPUs: what faults, what reads what, with which memory type.
 */
import { describe, expect, it } from "vitest";
import { HOST_MMIO_BASE } from "../platform.js";
import { RM_IPA_WINDOW } from "../hyp/ipa-space.js";
import {
  acceptArgs,
  acceptDone,
  access,
  acl,
  create,
  DONE,
  G1,
  G2,
  HOST,
  lendTo,
  machine,
  memTypeAt,
  ok,
  PAGE,
  pages,
  paOf,
  RAM,
  readFaults,
  SIZE_2M,
  vm,
  withGuests,
  writeFaults,
} from "./rm.testutil.js";
import { ACCEPT_FLAGS, CREATE_FLAGS, MEM_ATTR, MEM_TYPE, RIGHTS, TRANS_TYPE } from "./types.js";

const { LEND, SHARE, DONATE } = TRANS_TYPE;
const { R, RW, RWX, RX } = RIGHTS;
const F = ACCEPT_FLAGS;
const bytes = (...b: number[]) => new Uint8Array(b);

function setup(guests = 2) {
  const m = machine();
  withGuests(m, guests);
  return { m, host: m.hyp.host, g1: vm(m, G1), g2: vm(m, G2) };
}

describe("create: the owner's side", () => {
  it("LEND and DONATE take the owner's access away at create; only the parcel's pages", () => {
    for (const type of [LEND, DONATE]) {
      const { m, host } = setup();
      create(m, type, { acl: acl([G1, RWX]), sgl: pages(1) });
      expect(readFaults(host, RAM + PAGE)).toBe(true);
      expect(writeFaults(host, RAM + 2 * PAGE - 1)).toBe(true);
      expect(readFaults(host, RAM)).toBe(false);
      expect(readFaults(host, RAM + 2 * PAGE)).toBe(false);
    }
  });

  it("SHARE keeps the owner's access, narrowed to its ACL rights", () => {
    const { m, host } = setup();
    create(m, SHARE, { acl: acl([HOST, R], [G1, RW]), sgl: pages(0) });
    create(m, SHARE, { acl: acl([HOST, RW], [G1, RW]), sgl: pages(1) });
    create(m, SHARE, { acl: acl([HOST, RWX], [G1, R]), sgl: pages(2) });
    expect(readFaults(host, RAM)).toBe(false);
    expect(writeFaults(host, RAM)).toBe(true);
    expect(access(host, RAM)).toBe("r");
    expect(writeFaults(host, RAM + PAGE)).toBe(false);
    expect(access(host, RAM + PAGE)).toBe("rw");
    expect(access(host, RAM + 2 * PAGE)).toBe("rwx");
    expect(access(host, RAM + 3 * PAGE)).toBe("rwx");
  });

  it("SHARE of IO memory keeps it device memory for the owner", () => {
    const { m, host } = setup();
    create(m, SHARE, {
      memType: MEM_TYPE.IO,
      acl: acl([HOST, R], [G1, RW]),
      sgl: [{ ipa: HOST_MMIO_BASE, size: PAGE }],
    });
    expect(access(host, HOST_MMIO_BASE)).toBe("r");
    expect(memTypeAt(host, HOST_MMIO_BASE)).toBe("device");
  });

  it("SANITIZE at create zeroes the memory then", () => {
    const { m, g1 } = setup();
    m.platform.write(RAM, bytes(1, 2, 3));
    m.platform.write(RAM + PAGE, bytes(4, 5, 6));
    const h = create(m, LEND, { flags: CREATE_FLAGS.SANITIZE, acl: acl([G1, RWX]), sgl: pages(0) });
    expect([...m.platform.read(RAM, 3)]).toEqual([0, 0, 0]);
    expect([...m.platform.read(RAM + PAGE, 3)]).toEqual([4, 5, 6]); // not in the parcel
    const [at] = acceptDone(m, G1, h, { flags: DONE | F.VALIDATE_SANITIZED });
    expect([...g1.vcpus[0]!.read(at!.ipa, 3)]).toEqual([0, 0, 0]);
  });
});

describe("accept", () => {
  it("with DONE maps the owner's memory with the ACL rights: a write to an R parcel faults", () => {
    const { m, g1, g2 } = setup();
    m.platform.write(RAM, bytes(7, 8, 9));
    const h = create(m, LEND, { acl: acl([G1, R], [G2, RWX]), sgl: pages(0) });
    const [a1] = acceptDone(m, G1, h);
    const [a2] = acceptDone(m, G2, h);
    expect([...g1.vcpus[0]!.read(a1!.ipa, 3)]).toEqual([7, 8, 9]);
    expect(writeFaults(g1, a1!.ipa)).toBe(true);
    expect(access(g1, a1!.ipa)).toBe("r");
    expect(writeFaults(g2, a2!.ipa + 1, 0x44)).toBe(false);
    expect(access(g2, a2!.ipa)).toBe("rwx");
    expect([...g1.vcpus[0]!.read(a1!.ipa, 3)]).toEqual([7, 0x44, 9]); // the same page
    expect(paOf(g1, a1!.ipa)).toBe(RAM);
    const rx = lendTo(m, G1, pages(5), RX);
    expect(access(g1, acceptDone(m, G1, rx)[0]!.ipa)).toBe("rx");
    const rw = lendTo(m, G1, pages(6), RW);
    expect(access(g1, acceptDone(m, G1, rw)[0]!.ipa)).toBe("rw");
  });

  it("with DONE maps with the attributes: DEVICE, UNCACHED, CACHED, NORMAL", () => {
    const { m, g1 } = setup();
    const io = create(m, LEND, {
      memType: MEM_TYPE.IO,
      acl: acl([G1, RW]),
      sgl: [{ ipa: HOST_MMIO_BASE, size: PAGE }],
    });
    expect(memTypeAt(g1, acceptDone(m, G1, io)[0]!.ipa)).toBe("device");
    const want = {
      [MEM_ATTR.UNCACHED]: "normal-nc",
      [MEM_ATTR.CACHED]: "normal-wb",
      [MEM_ATTR.NORMAL]: "normal-wb",
    };
    for (const [i, attr] of [MEM_ATTR.UNCACHED, MEM_ATTR.CACHED, MEM_ATTR.NORMAL].entries()) {
      const h = create(m, LEND, {
        acl: acl([G1, RW], [G2, RW]),
        sgl: pages(10 + i),
        attrs: [{ vmid: G1, attr }],
      });
      expect(memTypeAt(g1, acceptDone(m, G1, h)[0]!.ipa)).toBe(want[attr]);
      expect(memTypeAt(vm(m, G2), acceptDone(m, G2, h)[0]!.ipa)).toBe("normal-wb"); // G2's default
    }
  });

  it("without DONE only reserves IPAs (accepted, but faults); an accept with DONE then maps there", () => {
    const { m, g1 } = setup();
    const h = create(m, LEND, { acl: acl([G1, RW]), sgl: [...pages(0), ...pages(2)] });
    const r = ok(m.rm.parcels.accept(G1, acceptArgs(m, h, { flags: 0 })))!;
    expect(r.incomplete).toBe(false);
    expect(r.sgl).toEqual([
      { ipa: RM_IPA_WINDOW.base, size: PAGE },
      { ipa: RM_IPA_WINDOW.base + PAGE, size: PAGE },
    ]);
    expect(m.rm.parcels.get(h)!.state).toBe("SHARED");
    expect(g1.ipaSpace.overlaps(RM_IPA_WINDOW.base, 2 * PAGE)).toBe(true);
    expect(readFaults(g1, RM_IPA_WINDOW.base)).toBe(true);
    expect(m.rm.parcels.reclaim(HOST, h, 0).err).toBe("MEM_INUSE");
    const again = ok(m.rm.parcels.accept(G1, acceptArgs(m, h)))!;
    expect(again.sgl).toEqual([]); // nothing new to allocate
    expect(paOf(g1, RM_IPA_WINDOW.base)).toBe(RAM);
    expect(paOf(g1, RM_IPA_WINDOW.base + PAGE)).toBe(RAM + 2 * PAGE);
    expect(m.rm.parcels.accept(G1, acceptArgs(m, h)).err).toBe("DENIED"); // mapped now
  });

  it("caller IPAs without DONE may come a region at a time", () => {
    const { m, g1 } = setup();
    const h = create(m, LEND, { acl: acl([G1, RW]), sgl: [...pages(0), ...pages(2)] });
    ok(
      m.rm.parcels.accept(
        G1,
        acceptArgs(m, h, { flags: 0, sgl: [{ ipa: 0x1_0000_0000, size: PAGE }] }),
      ),
    );
    ok(m.rm.parcels.accept(G1, acceptArgs(m, h, { sgl: [{ ipa: 0x2_0000_0000, size: PAGE }] })));
    expect(paOf(g1, 0x1_0000_0000)).toBe(RAM);
    expect(paOf(g1, 0x2_0000_0000)).toBe(RAM + 2 * PAGE);
  });

  it("RM-chosen IPAs: 2M-aligned for a region of 2M or more, 4K-aligned below", () => {
    const { m } = setup();
    const small = lendTo(m, G1, pages(0));
    expect(acceptDone(m, G1, small)).toEqual([{ ipa: RM_IPA_WINDOW.base, size: PAGE }]);
    const big = lendTo(m, G1, [{ ipa: RAM + SIZE_2M, size: SIZE_2M + PAGE }]);
    expect(acceptDone(m, G1, big)).toEqual([
      { ipa: RM_IPA_WINDOW.base + SIZE_2M, size: SIZE_2M + PAGE },
    ]);
    const next = lendTo(m, G1, pages(5));
    expect(acceptDone(m, G1, next)).toEqual([{ ipa: RM_IPA_WINDOW.base + PAGE, size: PAGE }]);
    // Contiguous: the alignment follows the whole size.
    const two = create(m, LEND, {
      acl: acl([G1, RW]),
      sgl: [
        { ipa: RAM + 8 * SIZE_2M, size: SIZE_2M / 2 },
        { ipa: RAM + 10 * SIZE_2M, size: SIZE_2M / 2 },
      ],
    });
    const [c] = acceptDone(m, G1, two, { flags: DONE | F.MAP_CONTIGUOUS });
    expect(c).toEqual({ ipa: RM_IPA_WINDOW.base + 3 * SIZE_2M, size: SIZE_2M });
  });

  it("MAP_CONTIGUOUS maps discontiguous regions back to back", () => {
    const { m, g1 } = setup();
    m.platform.write(RAM + 2 * PAGE - 1, bytes(0x11));
    m.platform.write(RAM + 7 * PAGE, bytes(0x22));
    const h = create(m, LEND, { acl: acl([G1, RW]), sgl: [...pages(1), ...pages(7, 2)] });
    const [c] = acceptDone(m, G1, h, {
      flags: DONE | F.MAP_CONTIGUOUS,
      sgl: [{ ipa: 0x3_0000_0000, size: 3 * PAGE }],
    });
    expect(c).toBeUndefined(); // caller IPAs: a standard reply
    expect([...g1.vcpus[0]!.read(0x3_0000_0000 + PAGE - 1, 2)]).toEqual([0x11, 0x22]);
    expect(paOf(g1, 0x3_0000_0000 + 2 * PAGE)).toBe(RAM + 8 * PAGE);
    expect(g1.ipaSpace.list()).toEqual([{ start: 0x3_0000_0000, end: 0x3_0000_3000 }]);
  });

  it("more than 512 regions: INCOMPLETE replies, 512 IPAs at a time, then DONE maps them all", () => {
    const { m, g1 } = setup();
    // 600 physically discontiguous regions: every other page, by APPEND.
    const odd = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => pages(2 * (from + i))[0]!);
    const h = create(m, LEND, { flags: CREATE_FLAGS.APPEND, acl: acl([G1, RW]), sgl: odd(0, 500) });
    ok(m.rm.parcels.append(HOST, h, 1, odd(500, 100)));
    expect(m.rm.parcels.get(h)!.regions).toHaveLength(600);
    // DONE with RM-chosen IPAs cannot map what one reply cannot describe (project decision).
    expect(m.rm.parcels.accept(G1, acceptArgs(m, h)).err).toBe("ARGUMENT_INVALID");
    const first = ok(m.rm.parcels.accept(G1, acceptArgs(m, h, { flags: 0 })))!;
    expect(first.incomplete).toBe(true);
    expect(first.sgl).toHaveLength(512);
    const second = ok(m.rm.parcels.accept(G1, acceptArgs(m, h, { flags: 0 })))!;
    expect(second.incomplete).toBe(false);
    expect(second.sgl).toHaveLength(88);
    expect(readFaults(g1, second.sgl[87]!.ipa)).toBe(true);
    ok(m.rm.parcels.accept(G1, acceptArgs(m, h)));
    const all = [...first.sgl, ...second.sgl];
    expect(new Set(all.map((e) => e.ipa)).size).toBe(600);
    all.forEach((e, i) => expect(paOf(g1, e.ipa)).toBe(RAM + 2 * i * PAGE));
    // The MEM_SHARED notification lists at most 512 sizes.
    ok(m.rm.parcels.notifyCall(HOST, h, 1, 0, [G1]));
    const n = m.take().find((x) => x.kind === "MEM_SHARED");
    expect(n?.kind === "MEM_SHARED" && n.sizes.length).toBe(512);
  });
});

describe("release and reclaim", () => {
  it("a whole cycle — allocate, lend, accept, release, reclaim, deallocate — comes back to the start", () => {
    const m = machine();
    const start = m.rm.digest();
    const g = ok(m.rm.vms.allocate(HOST, 0));
    for (const type of [LEND, SHARE]) {
      const list = type === SHARE ? acl([HOST, RWX], [g, RW]) : acl([g, RWX]);
      const h = create(m, type, { acl: list, sgl: [...pages(0, 600), ...pages(700, 3)] });
      acceptDone(m, g, h, { flags: DONE | F.MAP_CONTIGUOUS });
      expect(m.rm.parcels.reclaim(HOST, h, 0).err).toBe("MEM_INUSE");
      ok(m.rm.parcels.release(g, h, 0));
      ok(m.rm.parcels.reclaim(HOST, h, 0));
    }
    ok(m.rm.vms.deallocate(HOST, g));
    expect(m.rm.digest()).toBe(start);
  });

  it("RELEASE unmaps the caller and frees its IPAs; the others keep theirs", () => {
    const { m, g1, g2 } = setup();
    const h = create(m, LEND, { acl: acl([G1, RW], [G2, RW]), sgl: pages(0) });
    const [a1] = acceptDone(m, G1, h);
    const [a2] = acceptDone(m, G2, h);
    ok(m.rm.parcels.release(G1, h, 0));
    expect(readFaults(g1, a1!.ipa)).toBe(true);
    expect(g1.ipaSpace.list()).toEqual([]);
    expect(readFaults(g2, a2!.ipa)).toBe(false);
    expect(m.rm.parcels.get(h)!.state).toBe("SHARED");
    ok(m.rm.parcels.release(G2, h, 0));
    expect(m.rm.parcels.get(h)!.state).toBe("SHARING");
    // Accepted again, it may land elsewhere and still reads the same memory.
    const [again] = acceptDone(m, G1, h, { sgl: [{ ipa: 0x5_0000_0000, size: PAGE }] });
    expect(again).toBeUndefined();
    expect(paOf(g1, 0x5_0000_0000)).toBe(RAM);
  });

  it("RECLAIM gives the owner its memory back with full rights, data kept", () => {
    for (const type of [LEND, SHARE]) {
      const { m, host, g1 } = setup();
      const list = type === SHARE ? acl([HOST, R], [G1, RW]) : acl([G1, RWX]);
      const h = create(m, type, { acl: list, sgl: pages(3) });
      const [a] = acceptDone(m, G1, h, { flags: 0 });
      ok(m.rm.parcels.accept(G1, acceptArgs(m, h)));
      g1.vcpus[0]!.write(a!.ipa, bytes(0xab));
      ok(m.rm.parcels.release(G1, h, 0));
      ok(m.rm.parcels.reclaim(HOST, h, 0));
      expect(m.rm.parcels.get(h)).toBeUndefined();
      expect(access(host, RAM + 3 * PAGE)).toBe("rwx");
      expect(memTypeAt(host, RAM + 3 * PAGE)).toBe("normal-wb");
      expect([...host.vcpus[0]!.read(RAM + 3 * PAGE, 1)]).toEqual([0xab]);
    }
  });

  it("SANITIZE asked at create, accept, release or reclaim zeroes the memory at reclaim", () => {
    const ways = [
      { create: CREATE_FLAGS.SANITIZE, accept: 0, release: 0, reclaim: 0, zero: true },
      { create: 0, accept: F.SANITIZE, release: 0, reclaim: 0, zero: true },
      { create: 0, accept: 0, release: 1, reclaim: 0, zero: true },
      { create: 0, accept: 0, release: 0, reclaim: 1, zero: true },
      { create: 0, accept: 0, release: 0, reclaim: 0, zero: false },
    ];
    for (const w of ways) {
      const { m, host, g1 } = setup();
      const h = create(m, LEND, { flags: w.create, acl: acl([G1, RW]), sgl: pages(0) });
      const [a] = acceptDone(m, G1, h, { flags: DONE | w.accept });
      g1.vcpus[0]!.write(a!.ipa, bytes(1, 2));
      expect([...m.platform.read(RAM, 2)]).toEqual([1, 2]); // nothing zeroes at accept
      ok(m.rm.parcels.release(G1, h, w.release));
      expect([...m.platform.read(RAM, 2)]).toEqual([1, 2]); // nor at release
      ok(m.rm.parcels.reclaim(HOST, h, w.reclaim));
      expect([...host.vcpus[0]!.read(RAM, 2)]).toEqual(w.zero ? [0, 0] : [1, 2]);
    }
  });
});

describe("DONATE with DONE: for good", () => {
  it("moves the pages to the accepter; the old owner can never reclaim; the accepter can lend them on", () => {
    const { m, host, g1, g2 } = setup();
    m.platform.write(RAM + 4 * PAGE, bytes(0x5c));
    const h = create(m, DONATE, { acl: acl([G1, RWX]), sgl: pages(4, 2) });
    const [a] = acceptDone(m, G1, h);
    expect(m.rm.parcels.get(h)).toBeUndefined();
    expect(m.hyp.ownership.ownerOf(RAM + 4 * PAGE, RAM + 6 * PAGE)).toBe(G1);
    expect(host.ipaSpace.overlaps(RAM + 4 * PAGE, 2 * PAGE)).toBe(false);
    expect(m.rm.parcels.reclaim(HOST, h, 0).err).toBe("HANDLE_INVALID");
    expect(readFaults(host, RAM + 4 * PAGE)).toBe(true);
    expect(access(g1, a!.ipa)).toBe("rwx");
    // The host cannot pass the memory on any more; G1 can.
    expect(
      m.rm.parcels.create(HOST, LEND, {
        memType: 0,
        flags: 0,
        label: 0,
        acl: acl([G2, RWX]),
        sgl: pages(4),
        attrs: [],
      }).err,
    ).toBe("MEM_INVALID");
    const on = ok(
      m.rm.parcels.create(G1, LEND, {
        memType: 0,
        flags: 0,
        label: 0,
        acl: acl([G2, R]),
        sgl: [{ ipa: a!.ipa, size: PAGE }],
        attrs: [],
      }),
    );
    expect(readFaults(g1, a!.ipa)).toBe(true);
    expect(readFaults(g1, a!.ipa + PAGE)).toBe(false);
    const [b] = acceptDone(m, G2, on);
    expect([...g2.vcpus[0]!.read(b!.ipa, 1)]).toEqual([0x5c]);
    ok(m.rm.parcels.release(G2, on, 0));
    expect(m.rm.parcels.reclaim(HOST, on, 0).err).toBe("DENIED");
    ok(m.rm.parcels.reclaim(G1, on, 0));
    expect(access(g1, a!.ipa)).toBe("rwx");
  });

  it("accepted without DONE it is still a parcel: released, the donor reclaims it", () => {
    const { m, host } = setup();
    const h = create(m, DONATE, { acl: acl([G1, RWX]), sgl: pages(4) });
    ok(m.rm.parcels.accept(G1, acceptArgs(m, h, { flags: 0 })));
    expect(m.hyp.ownership.ownerOf(RAM + 4 * PAGE, RAM + 5 * PAGE)).toBe(HOST);
    ok(m.rm.parcels.release(G1, h, 0));
    ok(m.rm.parcels.reclaim(HOST, h, 0));
    expect(access(host, RAM + 4 * PAGE)).toBe("rwx");
  });
});
