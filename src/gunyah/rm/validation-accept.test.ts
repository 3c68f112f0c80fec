/**
 * Validation table for MEM_ACCEPT (reference §7), in the reference's order, with rows where
 * two checks fail at once (MEM_RELEASE and MEM_RECLAIM: validation-release.test.ts).
 */
import { describe, expect, it } from "vitest";
import { HOST_MMIO_BASE } from "../platform.js";
import { RM_IPA_WINDOW } from "../hyp/ipa-space.js";
import type { AcceptArgs } from "./memparcel.js";
import type { Machine, Row } from "./rm.testutil.js";
import {
  acceptArgs,
  acceptDone,
  acl,
  create,
  DONE,
  G1,
  G2,
  G3,
  HOST,
  machine,
  ok,
  pages,
  PAGE,
  runRow,
  vm,
  withGuests,
} from "./rm.testutil.js";
import {
  ACCEPT_FLAGS,
  CREATE_FLAGS,
  IPA_LIMIT,
  MEM_ATTR,
  MEM_TYPE,
  RIGHTS,
  TRANS_TYPE,
} from "./types.js";

const { LEND, SHARE } = TRANS_TYPE;
const { R, RW, RWX } = RIGHTS;
const F = ACCEPT_FLAGS;
const IO = MEM_TYPE.IO;
const many = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));

/** The parcel most rows accept: a LEND of 2 pages (two regions) to G1 RW and G2 R, label 7. */
const parcel = (m: Machine, flags = 0) =>
  create(m, LEND, {
    flags,
    label: 7,
    acl: acl([G1, RW], [G2, R]),
    sgl: [...pages(0), ...pages(2)],
    attrs: [{ vmid: G1, attr: MEM_ATTR.CACHED }],
  });
/** A SHARE of a page by the host with G1 (RW). */
const share = (m: Machine) => create(m, SHARE, { acl: acl([HOST, RWX], [G1, RW]), sgl: pages(0) });
/** An IO LEND of a page to G1. */
const ioParcel = (m: Machine) =>
  create(m, LEND, { memType: IO, acl: acl([G1, RW]), sgl: [{ ipa: HOST_MMIO_BASE, size: PAGE }] });

function ac(
  name: string,
  err: Row["err"],
  a: Partial<AcceptArgs>,
  setup: Row["setup"] = parcel,
  caller = G1,
): Row {
  return { name, setup, call: (m, h) => m.rm.parcels.accept(caller, acceptArgs(m, h, a)), err };
}

describe("accept: checks in order (reference §7)", () => {
  const rows: Row[] = [
    ac("control: RM-chosen IPAs, DONE", "OK", {}),
    ac("control: caller IPAs, one per region", "OK", {
      sgl: [
        { ipa: 0x1_0000_0000, size: PAGE },
        { ipa: 0x1_0001_0000, size: PAGE },
      ],
    }),
    ac(
      "control: every VALIDATE flag, everything matching",
      "OK",
      {
        flags: DONE | F.VALIDATE_ACL_ATTR | F.VALIDATE_LABEL | F.VALIDATE_SANITIZED,
        label: 7,
        acl: acl([G1, RW], [G2, R]),
        attrs: [{ vmid: G1, attr: MEM_ATTR.CACHED }],
      },
      (m) => parcel(m, CREATE_FLAGS.SANITIZE),
    ),
    ac("513 ACL entries", "NORESOURCE", { acl: many(513, () => ({ vmid: G1, rights: RW })) }),
    ac("513 SGL entries", "NORESOURCE", {
      sgl: many(513, (i) => ({ ipa: 0x1_0000_0000 + i * PAGE, size: PAGE })),
    }),
    ac("513 attribute entries", "NORESOURCE", { attrs: many(513, () => ({ vmid: G1, attr: 0 })) }),
    // handle
    {
      name: "unknown handle",
      err: "HANDLE_INVALID",
      setup: parcel,
      call: (m, h) => m.rm.parcels.accept(G1, { ...acceptArgs(m, h), handle: h + 1 }),
    },
    {
      name: "unknown handle AND a wrong mem_type: the handle first",
      err: "HANDLE_INVALID",
      setup: parcel,
      call: (m, h) => m.rm.parcels.accept(G1, { ...acceptArgs(m, h), handle: h + 1, memType: IO }),
    },
    // types
    ac("mem_type differs", "ARGUMENT_INVALID", { memType: IO }),
    ac("trans_type differs", "ARGUMENT_INVALID", { transType: SHARE }),
    ac("trans_type differs AND the label does not validate: types first", "ARGUMENT_INVALID", {
      transType: SHARE,
      flags: DONE | F.VALIDATE_LABEL,
      label: 8,
    }),
    // validations, in order
    ac("VALIDATE_SANITIZED on a parcel created without SANITIZE", "VALIDATE_FAILED", {
      flags: DONE | F.VALIDATE_SANITIZED,
    }),
    ac("VALIDATE_SANITIZED failing AND MAP_OTHER: the validation first", "VALIDATE_FAILED", {
      flags: DONE | F.VALIDATE_SANITIZED | F.MAP_OTHER,
    }),
    ac("VALIDATE_LABEL with another label", "VALIDATE_FAILED", {
      flags: DONE | F.VALIDATE_LABEL,
      label: 8,
    }),
    ac("VALIDATE_ACL_ATTR: rights differ", "VALIDATE_FAILED", {
      flags: DONE | F.VALIDATE_ACL_ATTR,
      acl: acl([G1, R], [G2, R]),
      attrs: [{ vmid: G1, attr: MEM_ATTR.CACHED }],
    }),
    ac("VALIDATE_ACL_ATTR: same entries, another order", "VALIDATE_FAILED", {
      flags: DONE | F.VALIDATE_ACL_ATTR,
      acl: acl([G2, R], [G1, RW]),
      attrs: [{ vmid: G1, attr: MEM_ATTR.CACHED }],
    }),
    ac("VALIDATE_ACL_ATTR: an ACL entry missing", "VALIDATE_FAILED", {
      flags: DONE | F.VALIDATE_ACL_ATTR,
      acl: acl([G1, RW]),
      attrs: [{ vmid: G1, attr: MEM_ATTR.CACHED }],
    }),
    ac("VALIDATE_ACL_ATTR: attributes differ", "VALIDATE_FAILED", {
      flags: DONE | F.VALIDATE_ACL_ATTR,
      acl: acl([G1, RW], [G2, R]),
      attrs: [{ vmid: G1, attr: MEM_ATTR.NORMAL }],
    }),
    ac("VALIDATE_ACL_ATTR: attributes missing", "VALIDATE_FAILED", {
      flags: DONE | F.VALIDATE_ACL_ATTR,
      acl: acl([G1, RW], [G2, R]),
    }),
    ac(
      "VALIDATE_ACL_ATTR failing AND the caller not in the ACL: the validation first",
      "VALIDATE_FAILED",
      { flags: DONE | F.VALIDATE_ACL_ATTR },
      parcel,
      G3,
    ),
    // MAP_OTHER, map_vmid
    ac("MAP_OTHER", "DENIED", { flags: DONE | F.MAP_OTHER }),
    ac(
      "MAP_OTHER AND the caller not in the ACL: MAP_OTHER first",
      "DENIED",
      { flags: DONE | F.MAP_OTHER },
      parcel,
      G3,
    ),
    ac("map_vmid not 0 (project decision: ARGUMENT_INVALID, as memparcel.c)", "ARGUMENT_INVALID", {
      mapVmid: G1,
    }),
    // caller
    ac("the caller not in the ACL", "VMID_INVALID", {}, parcel, G3),
    ac(
      "the caller not in the ACL AND MAP_CONTIGUOUS on IO: the ACL first",
      "VMID_INVALID",
      { flags: DONE | F.MAP_CONTIGUOUS },
      ioParcel,
      G3,
    ),
    ac("the caller is the owner (SHARE)", "DENIED", {}, share, HOST),
    ac(
      "the caller is the owner AND SANITIZE without W: the owner first",
      "DENIED",
      { flags: DONE | F.SANITIZE },
      (m) => create(m, SHARE, { acl: acl([HOST, R], [G1, RW]), sgl: pages(0) }),
      HOST,
    ),
    ac("double accept (mapped already)", "DENIED", {}, (m) => {
      const h = parcel(m);
      acceptDone(m, G1, h);
      return h;
    }),
    ac(
      "double accept AND MAP_CONTIGUOUS on IO: the double accept first",
      "DENIED",
      { flags: DONE | F.MAP_CONTIGUOUS },
      (m) => {
        const h = ioParcel(m);
        acceptDone(m, G1, h);
        return h;
      },
    ),
    ac("a parcel still in INIT (project decision)", "DENIED", {}, (m) =>
      parcel(m, CREATE_FLAGS.APPEND),
    ),
    // flags against the parcel
    ac("MAP_CONTIGUOUS on IO", "ARGUMENT_INVALID", { flags: DONE | F.MAP_CONTIGUOUS }, ioParcel),
    ac("SANITIZE without W rights", "ARGUMENT_INVALID", { flags: DONE | F.SANITIZE }, parcel, G2),
    ac("SANITIZE on IO", "ARGUMENT_INVALID", { flags: DONE | F.SANITIZE }, ioParcel),
    ac(
      "SANITIZE without W AND caller IPAs of a wrong size: SANITIZE first",
      "ARGUMENT_INVALID",
      { flags: DONE | F.SANITIZE, sgl: [{ ipa: 0x1_0000_0000, size: 3 * PAGE }] },
      parcel,
      G2,
    ),
    // IPAs
    ac("caller IPAs: a size that is not the region's", "ARGUMENT_INVALID", {
      sgl: [
        { ipa: 0x1_0000_0000, size: PAGE },
        { ipa: 0x1_0001_0000, size: 2 * PAGE },
      ],
    }),
    ac("caller IPAs: one entry too many", "ARGUMENT_INVALID", {
      sgl: many(3, (i) => ({ ipa: 0x1_0000_0000 + i * 0x1_0000, size: PAGE })),
    }),
    ac("caller IPAs: fewer than the regions, with DONE", "ARGUMENT_INVALID", {
      sgl: [{ ipa: 0x1_0000_0000, size: PAGE }],
    }),
    ac("caller IPAs: misaligned", "ARGUMENT_INVALID", {
      sgl: [
        { ipa: 0x1_0000_0800, size: PAGE },
        { ipa: 0x1_0001_0000, size: PAGE },
      ],
    }),
    ac("caller IPAs: beyond 2^44", "ARGUMENT_INVALID", {
      sgl: [
        { ipa: 0x1_0000_0000, size: PAGE },
        { ipa: IPA_LIMIT - PAGE / 2, size: PAGE },
      ],
    }),
    ac("caller IPAs: the two overlap", "NORESOURCE", {
      sgl: [
        { ipa: 0x1_0000_0000, size: PAGE },
        { ipa: 0x1_0000_0000, size: PAGE },
      ],
    }),
    ac(
      "caller IPAs: taken by another parcel",
      "NORESOURCE",
      {
        sgl: [
          { ipa: 0x1_0000_0000, size: PAGE },
          { ipa: 0x2_0000_0000, size: PAGE },
        ],
      },
      (m) => {
        const other = create(m, LEND, { acl: acl([G1, RWX]), sgl: pages(10) });
        ok(
          m.rm.parcels.accept(
            G1,
            acceptArgs(m, other, { sgl: [{ ipa: 0x2_0000_0000, size: PAGE }] }),
          ),
        );
        return parcel(m);
      },
    ),
    ac("MAP_CONTIGUOUS: one entry of the whole size is right, two are not", "ARGUMENT_INVALID", {
      flags: DONE | F.MAP_CONTIGUOUS,
      sgl: [
        { ipa: 0x1_0000_0000, size: PAGE },
        { ipa: 0x1_0000_1000, size: PAGE },
      ],
    }),
    ac("MAP_CONTIGUOUS: an entry of one region's size", "ARGUMENT_INVALID", {
      flags: DONE | F.MAP_CONTIGUOUS,
      sgl: [{ ipa: 0x1_0000_0000, size: PAGE }],
    }),
    ac("control: MAP_CONTIGUOUS with one entry of the whole size", "OK", {
      flags: DONE | F.MAP_CONTIGUOUS,
      sgl: [{ ipa: 0x1_0000_0000, size: 2 * PAGE }],
    }),
    ac(
      "MAP_CONTIGUOUS after IPAs reserved one per region",
      "ARGUMENT_INVALID",
      { flags: DONE | F.MAP_CONTIGUOUS },
      (m) => {
        const h = parcel(m);
        ok(m.rm.parcels.accept(G1, acceptArgs(m, h, { flags: 0 })));
        return h;
      },
    ),
    ac("RM-chosen IPAs: the window is full", "NORESOURCE", {}, (m) => {
      vm(m, G1).ipaSpace.alloc(RM_IPA_WINDOW.base, RM_IPA_WINDOW.size);
      return parcel(m);
    }),
  ];
  it.each(rows)("$name: $err", runRow);

  it("the second region failing its IPA leaves the first one's IPA free", () => {
    const m = machine();
    withGuests(m, 2);
    const h = parcel(m);
    const d = m.rm.digest();
    const r = m.rm.parcels.accept(
      G1,
      acceptArgs(m, h, {
        sgl: [
          { ipa: 0x1_0000_0000, size: PAGE },
          { ipa: 0x1_0000_0000, size: PAGE },
        ],
      }),
    );
    expect(r.err).toBe("NORESOURCE");
    expect(vm(m, G1).ipaSpace.list()).toEqual([]);
    expect(m.rm.digest()).toBe(d);
  });
});
