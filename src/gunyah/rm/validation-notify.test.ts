/**
 * Validation tables for MEM_NOTIFY and MEM_QCOM_LOOKUP_SGL (reference §4, §7), and the limits
 * of §2: 64 parcels per owner, handle allocation.
 */
import { describe, expect, it } from "vitest";
import type { CreateArgs } from "./memparcel.js";
import type { Machine, Row } from "./rm.testutil.js";
import {
  acceptDone,
  acl,
  create,
  createArgs,
  G1,
  G2,
  G3,
  HOST,
  lendTo,
  machine,
  ok,
  PAGE,
  pages,
  runRow,
  withGuests,
} from "./rm.testutil.js";
import {
  CREATE_FLAGS,
  INVALID_HANDLE,
  MEM_ATTR,
  MEM_TYPE,
  NOTIFY_FLAGS,
  RIGHTS,
  TRANS_TYPE,
} from "./types.js";

const { LEND, SHARE } = TRANS_TYPE;
const { R, RW, RWX } = RIGHTS;
const N = NOTIFY_FLAGS;

/** A LEND to G1 and G2 (two ACL entries). */
const parcel = (m: Machine) => create(m, LEND, { acl: acl([G1, RW], [G2, R]), sgl: pages(0) });
/** The parcel with its tag set to 5 by a first NOTIFY SHARED. */
const tagged = (m: Machine) => {
  const h = parcel(m);
  ok(m.rm.parcels.notifyCall(HOST, h, N.SHARED, 5, [G1]));
  return h;
};
const acceptedBy1 = (m: Machine) => {
  const h = parcel(m);
  acceptDone(m, G1, h);
  return h;
};

function nt(
  name: string,
  err: Row["err"],
  caller: number,
  flags: number,
  tag: number,
  vmids: number[] | undefined,
  setup: Row["setup"] = parcel,
  dh = 0,
): Row {
  return {
    name,
    setup,
    call: (m, h) => m.rm.parcels.notifyCall(caller, h + dh, flags, tag, vmids),
    err,
  };
}

describe("notify: checks in order (reference §4, memparcel.c)", () => {
  const rows: Row[] = [
    nt("control: SHARED", "OK", HOST, N.SHARED, 5, [G1, G2]),
    nt("control: RECALL", "OK", HOST, N.RECALL, 0, [G1]),
    nt("control: ACCEPTED by an accepter", "OK", G1, N.ACCEPTED, 0, undefined, acceptedBy1),
    nt("control: RELEASED by a VM that released", "OK", G2, N.RELEASED, 0, undefined, acceptedBy1),
    nt("control: the same tag again", "OK", HOST, N.SHARED, 5, [G2], tagged),
    nt("unknown handle", "HANDLE_INVALID", HOST, N.SHARED, 5, [G1], parcel, 1),
    nt("a tag other than the first NOTIFY's", "ARGUMENT_INVALID", HOST, N.SHARED, 6, [G1], tagged),
    nt(
      "a tag other than the first AND not the owner: the tag first",
      "ARGUMENT_INVALID",
      G1,
      N.SHARED,
      6,
      [G1],
      tagged,
    ),
    nt(
      "a tag other than the first on ACCEPTED",
      "ARGUMENT_INVALID",
      G1,
      N.ACCEPTED,
      6,
      undefined,
      (m) => {
        const h = tagged(m);
        acceptDone(m, G1, h);
        return h;
      },
    ),
    nt("SHARED by another than the owner", "DENIED", G1, N.SHARED, 5, [G1]),
    nt("RECALL by another than the owner", "DENIED", G1, N.RECALL, 5, [G1]),
    nt("SHARED by another AND an empty VMID list: the owner first", "DENIED", G1, N.SHARED, 5, []),
    nt("SHARED without a VMID list", "MSG_INVALID", HOST, N.SHARED, 5, undefined),
    nt("SHARED with an empty VMID list", "ARGUMENT_INVALID", HOST, N.SHARED, 5, []),
    nt("RECALL with an empty VMID list", "ARGUMENT_INVALID", HOST, N.RECALL, 5, []),
    nt("more VMIDs than ACL entries", "ARGUMENT_INVALID", HOST, N.SHARED, 5, [G1, G2, G1]),
    nt("a VMID of no VM", "VMID_INVALID", HOST, N.SHARED, 5, [0x90]),
    nt("a VM not in the ACL", "ARGUMENT_INVALID", HOST, N.SHARED, 5, [G3]),
    nt(
      "in order: a VMID of no VM (entry 0) before one not in the ACL (entry 1)",
      "VMID_INVALID",
      HOST,
      N.SHARED,
      5,
      [0x90, G3],
    ),
    nt(
      "in order: a VM not in the ACL (entry 0) before a VMID of no VM (entry 1)",
      "ARGUMENT_INVALID",
      HOST,
      N.SHARED,
      5,
      [G3, 0x90],
    ),
    nt("a good VMID then a bad one: nobody is told", "VMID_INVALID", HOST, N.SHARED, 5, [G1, 0x90]),
    nt("ACCEPTED by a VM not in the ACL", "HANDLE_INVALID", G3, N.ACCEPTED, 0, undefined),
    nt(
      "ACCEPTED by the owner of a LEND (not in its ACL)",
      "HANDLE_INVALID",
      HOST,
      N.ACCEPTED,
      0,
      undefined,
    ),
    nt(
      "ACCEPTED without having accepted",
      "MEM_RELEASED",
      G2,
      N.ACCEPTED,
      0,
      undefined,
      acceptedBy1,
    ),
    nt("RELEASED while still holding it", "MEM_INUSE", G1, N.RELEASED, 0, undefined, acceptedBy1),
    nt("flags 0", "ARGUMENT_INVALID", HOST, 0, 5, [G1]),
    nt(
      "flags SHARED|RELEASED (an exact value, not a mask)",
      "ARGUMENT_INVALID",
      HOST,
      N.SHARED | N.RELEASED,
      5,
      [G1],
    ),
    nt("flags 16", "ARGUMENT_INVALID", HOST, 16, 5, [G1]),
  ];
  it.each(rows)("$name: $err", runRow);

  it("a refused first NOTIFY SHARED does not set the tag", () => {
    const m = machine();
    withGuests(m, 2);
    const h = parcel(m);
    expect(m.rm.parcels.notifyCall(HOST, h, N.SHARED, 5, [0x90]).err).toBe("VMID_INVALID");
    ok(m.rm.parcels.notifyCall(HOST, h, N.SHARED, 6, [G1]));
    expect(m.rm.parcels.get(h)!.memInfoTag).toBe(6);
  });
});

const shareArgs = (over: Partial<CreateArgs> = {}) =>
  createArgs({
    label: 9,
    acl: acl([HOST, RWX], [G1, R]),
    sgl: [...pages(0), ...pages(4, 2)],
    attrs: [{ vmid: G1, attr: MEM_ATTR.UNCACHED }],
    ...over,
  });
const shared = (m: Machine) => ok(m.rm.parcels.create(HOST, SHARE, shareArgs()));
function lk(
  name: string,
  err: Row["err"],
  over: Partial<CreateArgs>,
  setup: Row["setup"] = shared,
  caller = HOST,
): Row {
  return { name, setup, call: (m) => m.rm.parcels.lookupSgl(caller, shareArgs(over)), err };
}

describe("lookup SGL: the caller's SHARING parcel matching exactly (reference §4)", () => {
  const rows: Row[] = [
    lk("control", "OK", {}),
    lk("control: the label is not compared", "OK", { label: 1 }),
    lk("513 SGL entries", "NORESOURCE", {
      sgl: Array.from({ length: 513 }, (_, i) => pages(i)[0]!),
    }),
    lk("another mem_type", "LOOKUP_FAILED", { memType: MEM_TYPE.IO }),
    lk("the ACL in another order", "LOOKUP_FAILED", { acl: acl([G1, R], [HOST, RWX]) }),
    lk("other rights", "LOOKUP_FAILED", { acl: acl([HOST, RWX], [G1, RW]) }),
    lk("other attributes", "LOOKUP_FAILED", { attrs: [{ vmid: G1, attr: MEM_ATTR.CACHED }] }),
    lk("no attributes", "LOOKUP_FAILED", { attrs: [] }),
    lk("an SGL entry of another size", "LOOKUP_FAILED", { sgl: [...pages(0), ...pages(4, 1)] }),
    lk("the SGL entries in another order", "LOOKUP_FAILED", { sgl: [...pages(4, 2), ...pages(0)] }),
    lk("an SGL entry missing", "LOOKUP_FAILED", { sgl: pages(0) }),
    lk("another VM's parcel", "LOOKUP_FAILED", {}, shared, G1),
    lk("a parcel accepted (SHARED)", "LOOKUP_FAILED", {}, (m) => {
      const h = shared(m);
      acceptDone(m, G1, h);
    }),
    lk(
      "a parcel still in INIT",
      "LOOKUP_FAILED",
      { sgl: pages(0) },
      (m) =>
        void ok(
          m.rm.parcels.create(
            HOST,
            SHARE,
            shareArgs({ flags: CREATE_FLAGS.APPEND, sgl: pages(0) }),
          ),
        ),
    ),
    lk(
      "a parcel reclaimed",
      "LOOKUP_FAILED",
      {},
      (m) => void ok(m.rm.parcels.reclaim(HOST, shared(m), 0)),
    ),
  ];
  it.each(rows)("$name: $err", runRow);

  it("answers the parcel's handle", () => {
    const m = machine();
    withGuests(m, 1);
    lendTo(m, G1, pages(100));
    const h = shared(m);
    expect(m.rm.parcels.lookupSgl(HOST, shareArgs())).toEqual({ err: "OK", value: h });
  });

  it("matches the owner's SGL as sent, even where one entry is physically two runs", () => {
    const m = machine();
    withGuests(m, 2);
    // G1 owns two discontiguous pages at consecutive IPAs (a donation accepted contiguously).
    const d = create(m, TRANS_TYPE.DONATE, {
      label: 1,
      acl: acl([G1, RWX]),
      sgl: [...pages(0), ...pages(2)],
    });
    const [at] = acceptDone(m, G1, d, { flags: 128 | 16 });
    const args = createArgs({ acl: acl([G1, RWX], [G2, R]), sgl: [at!] });
    const h = ok(m.rm.parcels.create(G1, SHARE, args));
    expect(m.rm.parcels.get(h)!.regions).toHaveLength(2);
    expect(m.rm.parcels.lookupSgl(G1, args)).toEqual({ err: "OK", value: h });
    const halves = [
      { ipa: at!.ipa, size: PAGE },
      { ipa: at!.ipa + PAGE, size: PAGE },
    ];
    expect(m.rm.parcels.lookupSgl(G1, { ...args, sgl: halves }).err).toBe("LOOKUP_FAILED");
  });
});

describe("limits (reference §2)", () => {
  it("64 parcels per owner; the 65th is DENIED, and one reclaimed makes room", () => {
    const m = machine();
    withGuests(m, 2);
    // G1 owns a page (a donation accepted: the parcel is gone, it counts for nobody).
    const got = acceptDone(
      m,
      G1,
      create(m, TRANS_TYPE.DONATE, { acl: acl([G1, RWX]), sgl: pages(200) }),
    );
    const handles = Array.from({ length: 64 }, (_, i) => lendTo(m, G1, pages(i)));
    const d = m.rm.digest();
    expect(
      m.rm.parcels.create(HOST, LEND, createArgs({ acl: acl([G1, RWX]), sgl: pages(64) })).err,
    ).toBe("DENIED");
    expect(m.rm.digest()).toBe(d);
    // Another owner is not limited by the host's parcels.
    expect(m.rm.parcels.create(G1, LEND, createArgs({ acl: acl([G2, RWX]), sgl: got })).err).toBe(
      "OK",
    );
    ok(m.rm.parcels.reclaim(HOST, handles[10]!, 0));
    expect(
      m.rm.parcels.create(HOST, LEND, createArgs({ acl: acl([G1, RWX]), sgl: pages(64) })).err,
    ).toBe("OK");
  });

  it("handles count from 0; a freed handle is not reused; a refused create takes no handle", () => {
    const m = machine();
    withGuests(m, 1);
    expect(lendTo(m, G1, pages(0))).toBe(0);
    expect(lendTo(m, G1, pages(1))).toBe(1);
    ok(m.rm.parcels.reclaim(HOST, 0, 0));
    expect(m.rm.parcels.create(HOST, LEND, createArgs({ acl: [], sgl: pages(2) })).err).toBe(
      "ARGUMENT_INVALID",
    );
    expect(
      m.rm.parcels.create(HOST, LEND, createArgs({ acl: acl([G1, RWX]), sgl: pages(1) })).err,
    ).toBe("MEM_INVALID");
    expect(lendTo(m, G1, pages(2))).toBe(2);
    // Many creates and reclaims: the counter only moves on.
    for (let i = 0; i < 200; i++) ok(m.rm.parcels.reclaim(HOST, lendTo(m, G1, pages(10)), 0));
    expect(lendTo(m, G1, pages(3))).toBe(203);
  });

  it("the counter wraps at 2^32, skipping 0xFFFFFFFF and the handles in use", () => {
    const m = machine();
    withGuests(m, 1);
    expect(lendTo(m, G1, pages(0))).toBe(0);
    expect(lendTo(m, G1, pages(1))).toBe(1);
    ok(m.rm.parcels.reclaim(HOST, 1, 0));
    // 2^32 creates take too long: move the counter (a private field) to just before the wrap.
    Reflect.set(m.rm.parcels, "nextHandle", 0xffff_fffe);
    expect(lendTo(m, G1, pages(2))).toBe(0xffff_fffe);
    expect(lendTo(m, G1, pages(3))).toBe(1); // not 0xFFFFFFFF (invalid), not 0 (in use); 1 is free again
    expect(lendTo(m, G1, pages(4))).toBe(2);
    expect(m.rm.parcels.list().map((p) => p.handle)).toEqual([0, 1, 2, 0xffff_fffe]);
    expect(m.rm.parcels.get(INVALID_HANDLE)).toBeUndefined();
  });
});
