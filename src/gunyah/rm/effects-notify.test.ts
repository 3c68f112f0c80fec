/**
 * The notifications of MEM_NOTIFY (reference §4, §7: who gets what, with which fields and
 * mem_info_tag) and the memory side of VM_RESET (parcels released, MEM_RELEASED to owners).
 */
import { describe, expect, it } from "vitest";
import { VM_STATE } from "../hyp/vm.js";
import {
  acceptArgs,
  acceptDone,
  acl,
  create,
  G1,
  G2,
  G3,
  HOST,
  machine,
  ok,
  PAGE,
  pages,
  readFaults,
  runningGuest,
  vm,
  withGuests,
} from "./rm.testutil.js";
import { CREATE_FLAGS, MEM_ATTR, NOTIFY_FLAGS, RIGHTS, TRANS_TYPE } from "./types.js";
import { STOP_FLAGS } from "./vm-mgnt.js";

const { LEND, SHARE } = TRANS_TYPE;
const { R, RW, RWX } = RIGHTS;
const N = NOTIFY_FLAGS;

function setup() {
  const m = machine();
  withGuests(m, 3);
  const h = create(m, SHARE, {
    flags: CREATE_FLAGS.SANITIZE,
    label: 0x1234,
    acl: acl([HOST, RWX], [G1, RW], [G2, R]),
    sgl: [...pages(0), ...pages(4, 3)],
    attrs: [{ vmid: G1, attr: MEM_ATTR.UNCACHED }],
  });
  m.take();
  return { m, h };
}

describe("MEM_NOTIFY", () => {
  it("SHARED: MEM_SHARED to each VM named, with the parcel's fields and region sizes", () => {
    const { m, h } = setup();
    ok(m.rm.parcels.notifyCall(HOST, h, N.SHARED, 0xfeed, [G2, G1]));
    const shared = (to: number) => ({
      kind: "MEM_SHARED",
      to,
      handle: h,
      memType: 0,
      transType: SHARE,
      sanitize: true,
      owner: HOST,
      label: 0x1234,
      memInfoTag: 0xfeed,
      acl: acl([HOST, RWX], [G1, RW], [G2, R]),
      sizes: [PAGE, 3 * PAGE],
      attrs: [{ vmid: G1, attr: MEM_ATTR.UNCACHED }],
    });
    expect(m.take()).toEqual([shared(G2), shared(G1)]);
    expect(m.rm.drain(G2)).toEqual([shared(G2)]);
    expect(m.rm.drain(G1)).toEqual([shared(G1)]);
    expect(m.rm.drain(HOST)).toEqual([]);
    expect(m.rm.parcels.get(h)!.memInfoTag).toBe(0xfeed);
  });

  it("the first NOTIFY SHARED sets the tag; later ones must repeat it; RECALL and owner notices carry it", () => {
    const { m, h } = setup();
    ok(m.rm.parcels.notifyCall(HOST, h, N.SHARED, 7, [G1]));
    m.take();
    expect(m.rm.parcels.notifyCall(HOST, h, N.SHARED, 8, [G1]).err).toBe("ARGUMENT_INVALID");
    expect(m.rm.parcels.notifyCall(HOST, h, N.RECALL, 0, [G1]).err).toBe("ARGUMENT_INVALID");
    ok(m.rm.parcels.notifyCall(HOST, h, N.RECALL, 7, [G1, G2]));
    expect(m.take()).toEqual([
      { kind: "MEM_RECALL", to: G1, handle: h, memInfoTag: 7 },
      { kind: "MEM_RECALL", to: G2, handle: h, memInfoTag: 7 },
    ]);
    acceptDone(m, G1, h);
    expect(m.take()).toEqual([]); // accepting tells nobody by itself
    ok(m.rm.parcels.notifyCall(G1, h, N.ACCEPTED, 7, undefined));
    expect(m.take()).toEqual([
      { kind: "MEM_ACCEPTED", to: HOST, handle: h, vmid: G1, memInfoTag: 7 },
    ]);
    ok(m.rm.parcels.release(G1, h, 0));
    expect(m.take()).toEqual([]); // nor does releasing
    ok(m.rm.parcels.notifyCall(G1, h, N.RELEASED, 7, undefined));
    expect(m.take()).toEqual([
      { kind: "MEM_RELEASED", to: HOST, handle: h, vmid: G1, memInfoTag: 7 },
    ]);
  });

  it("without a first NOTIFY SHARED the tag is free and reported as 0; RECALL does not set it", () => {
    const { m, h } = setup();
    ok(m.rm.parcels.notifyCall(HOST, h, N.RECALL, 3, [G1]));
    expect(m.take()).toEqual([{ kind: "MEM_RECALL", to: G1, handle: h, memInfoTag: 3 }]);
    expect(m.rm.parcels.get(h)!.memInfoTag).toBeUndefined();
    acceptDone(m, G2, h);
    ok(m.rm.parcels.notifyCall(G2, h, N.ACCEPTED, 99, undefined));
    expect(m.take()).toEqual([
      { kind: "MEM_ACCEPTED", to: HOST, handle: h, vmid: G2, memInfoTag: 0 },
    ]);
    ok(m.rm.parcels.notifyCall(HOST, h, N.SHARED, 4, [G1]));
    expect(m.take()).toMatchObject([{ kind: "MEM_SHARED", to: G1, memInfoTag: 4 }]);
  });

  it("SHARED may name the owner itself when it is in the ACL (a SHARE)", () => {
    const { m, h } = setup();
    ok(m.rm.parcels.notifyCall(HOST, h, N.SHARED, 1, [HOST]));
    expect(m.take()).toMatchObject([{ kind: "MEM_SHARED", to: HOST, handle: h }]);
  });

  it("at most 256 notifications wait for a VM; beyond that the oldest is dropped", () => {
    const { m, h } = setup();
    ok(m.rm.parcels.notifyCall(HOST, h, N.SHARED, 9, [G1]));
    for (let i = 0; i < 299; i++) ok(m.rm.parcels.notifyCall(HOST, h, N.RECALL, 9, [G1]));
    expect(m.rm.pending(G1)).toBe(256);
    expect(m.rm.dropped.get(G1)).toBe(44);
    const q = m.rm.drain(G1);
    expect(q.every((n) => n.kind === "MEM_RECALL")).toBe(true); // the MEM_SHARED went first
    expect(m.rm.pending(G1)).toBe(0);
    expect(m.rm.pending(G2)).toBe(0);
  });
});

describe("VM_RESET releases what the VM accepted", () => {
  it("MEM_INUSE before the reset, MEM_RELEASED to each owner at reset, reclaim OK after", () => {
    const m = machine();
    withGuests(m, 3);
    const image = runningGuest(m, G1, 100);
    // G1 accepts a parcel of the host's and one of G2's (G2 got memory by donation).
    const fromHost = create(m, LEND, { acl: acl([G1, RW], [G3, R]), sgl: pages(0) });
    const [a] = acceptDone(m, G1, fromHost);
    const got = acceptDone(
      m,
      G2,
      create(m, TRANS_TYPE.DONATE, { acl: acl([G2, RWX]), sgl: pages(8) }),
    );
    const fromG2 = ok(
      m.rm.parcels.create(G2, LEND, {
        memType: 0,
        flags: 0,
        label: 0,
        acl: acl([G1, RW]),
        sgl: got,
        attrs: [],
      }),
    );
    ok(m.rm.parcels.notifyCall(G2, fromG2, N.SHARED, 0x77, [G1]));
    acceptDone(m, G1, fromG2);
    // G3 accepted the host's parcel too; a parcel G1 only reserved IPAs for is released as well.
    acceptDone(m, G3, fromHost);
    const reserved = create(m, LEND, { acl: acl([G1, RW]), sgl: pages(2) });
    ok(m.rm.parcels.accept(G1, acceptArgs(m, reserved, { flags: 0 })));
    m.take();
    expect(m.rm.parcels.reclaim(HOST, fromHost, 0).err).toBe("MEM_INUSE");
    expect(m.rm.parcels.reclaim(G2, fromG2, 0).err).toBe("MEM_INUSE");
    ok(m.rm.vms.stop(HOST, G1, STOP_FLAGS.FORCE, 0));
    m.take();
    ok(m.rm.vms.reset(HOST, G1));
    const status = (s: number) => ({
      kind: "VM_STATUS",
      to: HOST,
      vmid: G1,
      vmStatus: s,
      osStatus: expect.any(Number) as number,
      appStatus: 0,
    });
    expect(m.take()).toEqual([
      status(VM_STATE.RESETTING),
      // In handle order: the image (accepted by VM_START), then the others.
      { kind: "MEM_RELEASED", to: HOST, handle: image, vmid: G1, memInfoTag: 0 },
      { kind: "MEM_RELEASED", to: HOST, handle: fromHost, vmid: G1, memInfoTag: 0 },
      { kind: "MEM_RELEASED", to: G2, handle: fromG2, vmid: G1, memInfoTag: 0x77 },
      { kind: "MEM_RELEASED", to: HOST, handle: reserved, vmid: G1, memInfoTag: 0 },
      status(VM_STATE.RESET),
    ]);
    expect(readFaults(vm(m, G1), a!.ipa)).toBe(true);
    expect(vm(m, G1).ipaSpace.list()).toEqual([]);
    expect(vm(m, G1).stage2.mappedBytes(0, 2 ** 44)).toBe(0);
    expect(m.rm.parcels.acceptedBy(G1)).toEqual([]);
    // G3 still holds the host's parcel.
    expect(m.rm.parcels.reclaim(HOST, fromHost, 0).err).toBe("MEM_INUSE");
    ok(m.rm.parcels.release(G3, fromHost, 0));
    ok(m.rm.parcels.reclaim(HOST, fromHost, 0));
    ok(m.rm.parcels.reclaim(G2, fromG2, 0));
    ok(m.rm.parcels.reclaim(HOST, reserved, 0));
    ok(m.rm.parcels.reclaim(HOST, image, 0));
  });
});
