/**
 * Validation tables for MEM_LEND / MEM_SHARE / MEM_DONATE (reference §7; MEM_APPEND in
 * validation-append.test.ts): one
 * row per check and error code, in the reference's order, and rows where two checks fail at
 * once to show which one comes first. Every refusal leaves the digest unchanged and posts no
 * notification (runRow).
 */
import { describe, it } from "vitest";
import type { Row } from "./rm.testutil.js";
import {
  acl,
  create,
  createArgs,
  G1,
  G2,
  HOST,
  lendTo,
  machine,
  ok,
  pages,
  PAGE,
  RAM,
  runRow,
  withGuests,
} from "./rm.testutil.js";
import { HOST_MMIO_BASE, HOST_RAM_SIZE } from "../platform.js";
import type { CreateArgs } from "./memparcel.js";
import { expect } from "vitest";
import type { SglEntry } from "./types.js";
import { CREATE_FLAGS, IPA_LIMIT, MEM_ATTR, MEM_TYPE, RIGHTS, TRANS_TYPE } from "./types.js";

const { LEND, SHARE, DONATE } = TRANS_TYPE;
const { R, RW, RWX, RX, W, X } = RIGHTS;
const IO = MEM_TYPE.IO;
const io = (n = 1): SglEntry[] => [{ ipa: HOST_MMIO_BASE, size: n * PAGE }];
const many = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));

type A = Partial<CreateArgs> & Pick<CreateArgs, "acl" | "sgl">;
/** A create row: `type` with `args` (host caller unless `caller`). */
function cr(
  name: string,
  type: number,
  args: A,
  err: Row["err"],
  setup?: Row["setup"],
  caller = HOST,
): Row {
  return { name, setup, call: (m) => m.rm.parcels.create(caller, type, createArgs(args)), err };
}
const lend1 = { acl: acl([G1, RWX]), sgl: pages(0) };
/** 64 parcels of the host's already. */
const fill64 = (m: Parameters<NonNullable<Row["setup"]>>[0]) => {
  for (let i = 0; i < 64; i++) lendTo(m, G1, pages(100 + i));
};

describe("create: checks in order (reference §7)", () => {
  const rows: Row[] = [
    cr("control: LEND", LEND, lend1, "OK"),
    cr(
      "control: SHARE with the owner in the ACL",
      SHARE,
      { acl: acl([HOST, RWX], [G1, R]), sgl: pages(0) },
      "OK",
    ),
    cr("control: DONATE", DONATE, lend1, "OK"),
    cr(
      "control: IO LEND with DEVICE",
      LEND,
      { memType: IO, acl: acl([G1, RW]), sgl: io(), attrs: [{ vmid: G1, attr: MEM_ATTR.DEVICE }] },
      "OK",
    ),
    // 0. lists longer than 512 entries (read before the checks)
    cr(
      "513 ACL entries",
      LEND,
      { acl: many(513, () => ({ vmid: G1, rights: RWX })), sgl: pages(0) },
      "NORESOURCE",
    ),
    cr(
      "513 SGL entries",
      LEND,
      { acl: acl([G1, RWX]), sgl: many(513, (i) => pages(2 * i)[0]!) },
      "NORESOURCE",
    ),
    cr(
      "513 attribute entries",
      LEND,
      { ...lend1, attrs: many(513, () => ({ vmid: G1, attr: 0 })) },
      "NORESOURCE",
    ),
    cr(
      "513 ACL entries AND no SGL: the list limit first",
      LEND,
      { acl: many(513, () => ({ vmid: G1, rights: RWX })), sgl: [] },
      "NORESOURCE",
    ),
    // 1. empty lists
    cr("no ACL entry", LEND, { acl: [], sgl: pages(0) }, "ARGUMENT_INVALID"),
    cr("no SGL entry", LEND, { acl: acl([G1, RWX]), sgl: [] }, "ARGUMENT_INVALID"),
    cr(
      "no ACL entry AND 64 parcels already: the empty list first",
      LEND,
      { acl: [], sgl: pages(0) },
      "ARGUMENT_INVALID",
      fill64,
    ),
    // 2. DONATE to more than one VM
    cr(
      "DONATE with two ACL entries",
      DONATE,
      { acl: acl([G1, RWX], [G2, RWX]), sgl: pages(0) },
      "ARGUMENT_INVALID",
    ),
    cr(
      "DONATE with two ACL entries AND bad rights: the count first",
      DONATE,
      { acl: acl([G1, R], [G2, R]), sgl: pages(0) },
      "ARGUMENT_INVALID",
    ),
    cr(
      "DONATE with two ACL entries AND 64 parcels already: the count first",
      DONATE,
      { acl: acl([G1, RWX], [G2, RWX]), sgl: pages(0) },
      "ARGUMENT_INVALID",
      fill64,
    ),
    // 3. 64 parcels per owner
    cr("the 65th parcel of an owner", LEND, lend1, "DENIED", fill64),
    cr(
      "the 65th parcel AND SANITIZE on IO: the parcel count first",
      LEND,
      { memType: IO, flags: CREATE_FLAGS.SANITIZE, acl: acl([G1, RW]), sgl: io() },
      "DENIED",
      fill64,
    ),
    cr(
      "the 65th parcel AND a bad ACL: the parcel count first",
      LEND,
      { acl: acl([G1, W]), sgl: pages(0) },
      "DENIED",
      fill64,
    ),
    // 4. SANITIZE on IO; an unknown mem_type (project decision)
    cr(
      "SANITIZE on IO memory",
      LEND,
      { memType: IO, flags: CREATE_FLAGS.SANITIZE, acl: acl([G1, RW]), sgl: io() },
      "ARGUMENT_INVALID",
    ),
    cr(
      "SANITIZE on IO AND DONATE with R only: SANITIZE first",
      DONATE,
      { memType: IO, flags: CREATE_FLAGS.SANITIZE, acl: acl([G1, R]), sgl: io() },
      "ARGUMENT_INVALID",
    ),
    cr("mem_type 2", LEND, { memType: 2, ...lend1 }, "ARGUMENT_INVALID"),
    // 5. ACL entries
    cr("duplicate VMID", LEND, { acl: acl([G1, RWX], [G1, R]), sgl: pages(0) }, "ARGUMENT_INVALID"),
    cr("VMID 0", LEND, { acl: acl([0, RWX]), sgl: pages(0) }, "ARGUMENT_INVALID"),
    cr(
      "VMID 0x7F (below the dynamic range)",
      LEND,
      { acl: acl([0x7f, RWX]), sgl: pages(0) },
      "ARGUMENT_INVALID",
    ),
    cr(
      "VMID 0xBF (above the dynamic range)",
      LEND,
      { acl: acl([0xbf, RWX]), sgl: pages(0) },
      "ARGUMENT_INVALID",
    ),
    cr(
      "VMID of no VM but valid (0xBE): allowed",
      LEND,
      { acl: acl([0xbe, RWX]), sgl: pages(0) },
      "OK",
    ),
    cr("the RM (0xFF) is a valid VMID", LEND, { acl: acl([0xff, RWX]), sgl: pages(0) }, "OK"),
    ...[0, W, X, W | X, 8].map((r) =>
      cr(`rights ${r}`, LEND, { acl: acl([G1, r]), sgl: pages(0) }, "ARGUMENT_INVALID"),
    ),
    ...[R, RX, RW, RWX].map((r) =>
      cr(`rights ${r}: valid`, LEND, { acl: acl([G1, r]), sgl: pages(0) }, "OK"),
    ),
    cr("X on IO memory", LEND, { memType: IO, acl: acl([G1, RX]), sgl: io() }, "ARGUMENT_INVALID"),
    cr("DONATE with R only", DONATE, { acl: acl([G1, R]), sgl: pages(0) }, "DENIED"),
    cr("DONATE with RW on normal memory", DONATE, { acl: acl([G1, RW]), sgl: pages(0) }, "DENIED"),
    cr(
      "DONATE of IO with RW (its maximum): allowed",
      DONATE,
      { memType: IO, acl: acl([G1, RW]), sgl: io() },
      "OK",
    ),
    cr(
      "DONATE of IO with RWX: X on IO before the donate rights",
      DONATE,
      { memType: IO, acl: acl([G1, RWX]), sgl: io() },
      "ARGUMENT_INVALID",
    ),
    cr(
      "entries in order: a bad entry 0 before a duplicate later",
      SHARE,
      { acl: acl([G1, W], [HOST, RWX], [G1, R]), sgl: pages(0) },
      "ARGUMENT_INVALID",
    ),
    cr(
      "DONATE to itself with R: the rights (5) before the owner check (6)",
      DONATE,
      { acl: acl([HOST, R]), sgl: pages(0) },
      "DENIED",
    ),
    // 6. the owner in the ACL exactly for SHARE
    cr("SHARE without the owner", SHARE, lend1, "ARGUMENT_INVALID"),
    cr(
      "LEND naming the owner",
      LEND,
      { acl: acl([G1, RWX], [HOST, RWX]), sgl: pages(0) },
      "ARGUMENT_INVALID",
    ),
    cr("DONATE to the owner", DONATE, { acl: acl([HOST, RWX]), sgl: pages(0) }, "ARGUMENT_INVALID"),
    cr(
      "LEND naming the owner AND an attribute of a VM not in the ACL: the owner check first",
      LEND,
      { acl: acl([G1, RWX], [HOST, RWX]), sgl: pages(0), attrs: [{ vmid: G2, attr: 0 }] },
      "ARGUMENT_INVALID",
    ),
    // 7. attributes
    cr(
      "attribute: duplicate VMID",
      LEND,
      {
        ...lend1,
        attrs: [
          { vmid: G1, attr: 0 },
          { vmid: G1, attr: 0 },
        ],
      },
      "ARGUMENT_INVALID",
    ),
    cr("attribute value 4", LEND, { ...lend1, attrs: [{ vmid: G1, attr: 4 }] }, "ARGUMENT_INVALID"),
    cr(
      "DEVICE on normal memory",
      LEND,
      { ...lend1, attrs: [{ vmid: G1, attr: MEM_ATTR.DEVICE }] },
      "ARGUMENT_INVALID",
    ),
    cr(
      "IO memory without DEVICE",
      LEND,
      { memType: IO, acl: acl([G1, RW]), sgl: io(), attrs: [{ vmid: G1, attr: MEM_ATTR.NORMAL }] },
      "ARGUMENT_INVALID",
    ),
    cr(
      "DONATE with UNCACHED (memparcel.c: donations are NORMAL only)",
      DONATE,
      { ...lend1, attrs: [{ vmid: G1, attr: MEM_ATTR.UNCACHED }] },
      "ARGUMENT_INVALID",
    ),
    ...[MEM_ATTR.NORMAL, MEM_ATTR.UNCACHED, MEM_ATTR.CACHED].map((a) =>
      cr(
        `attribute ${a} on normal memory: valid`,
        LEND,
        { ...lend1, attrs: [{ vmid: G1, attr: a }] },
        "OK",
      ),
    ),
    cr(
      "attribute of a VM not in the ACL",
      LEND,
      { ...lend1, attrs: [{ vmid: G2, attr: 0 }] },
      "VMID_INVALID",
    ),
    cr(
      "attribute of a VM not in the ACL AND a misaligned SGL: attributes first",
      LEND,
      { acl: acl([G1, RWX]), sgl: [{ ipa: RAM + 1, size: PAGE }], attrs: [{ vmid: G2, attr: 0 }] },
      "VMID_INVALID",
    ),
    cr(
      "attributes entry by entry: a VM not in the ACL (entry 0) before a bad value (entry 1)",
      LEND,
      {
        ...lend1,
        attrs: [
          { vmid: G2, attr: 0 },
          { vmid: G1, attr: 9 },
        ],
      },
      "VMID_INVALID",
    ),
    // 8. SGL entries, in order
    cr(
      "IPA not 4K-aligned",
      LEND,
      { acl: acl([G1, RWX]), sgl: [{ ipa: RAM + 0x800, size: PAGE }] },
      "ARGUMENT_INVALID",
    ),
    cr(
      "size not 4K-aligned",
      LEND,
      { acl: acl([G1, RWX]), sgl: [{ ipa: RAM, size: PAGE + 1 }] },
      "ARGUMENT_INVALID",
    ),
    cr(
      "size 0 (project decision)",
      LEND,
      { acl: acl([G1, RWX]), sgl: [{ ipa: RAM, size: 0 }] },
      "ARGUMENT_INVALID",
    ),
    cr(
      "IPA at 2^44",
      LEND,
      { acl: acl([G1, RWX]), sgl: [{ ipa: IPA_LIMIT, size: PAGE }] },
      "ARGUMENT_INVALID",
    ),
    cr(
      "IPA + size beyond 2^44",
      LEND,
      { acl: acl([G1, RWX]), sgl: [{ ipa: IPA_LIMIT - PAGE, size: 2 * PAGE }] },
      "ARGUMENT_INVALID",
    ),
    cr(
      "not mapped in the owner",
      LEND,
      { acl: acl([G1, RWX]), sgl: [{ ipa: RAM + HOST_RAM_SIZE, size: PAGE }] },
      "MEM_INVALID",
    ),
    cr(
      "partly mapped in the owner",
      LEND,
      { acl: acl([G1, RWX]), sgl: [{ ipa: RAM + HOST_RAM_SIZE - PAGE, size: 2 * PAGE }] },
      "MEM_INVALID",
    ),
    cr(
      "already lent",
      LEND,
      { acl: acl([G2, RWX]), sgl: pages(0, 2) },
      "MEM_INVALID",
      (m) => void lendTo(m, G1, pages(1)),
    ),
    cr(
      "already shared (still mapped in the owner)",
      LEND,
      { acl: acl([G2, RWX]), sgl: pages(0) },
      "MEM_INVALID",
      (m) => void create(m, SHARE, { acl: acl([HOST, RWX], [G1, R]), sgl: pages(0) }),
    ),
    cr(
      "already in a parcel being built (INIT)",
      SHARE,
      { acl: acl([HOST, RWX], [G2, R]), sgl: pages(0) },
      "MEM_INVALID",
      (m) =>
        void create(m, SHARE, {
          flags: CREATE_FLAGS.APPEND,
          acl: acl([HOST, RWX], [G1, R]),
          sgl: pages(0),
        }),
    ),
    cr(
      "two entries overlapping each other",
      LEND,
      { acl: acl([G1, RWX]), sgl: [...pages(0, 2), ...pages(1)] },
      "MEM_INVALID",
    ),
    cr("device memory as NORMAL", LEND, { acl: acl([G1, RWX]), sgl: io() }, "MEM_INVALID"),
    cr("RAM as IO", LEND, { memType: IO, acl: acl([G1, RW]), sgl: pages(0) }, "MEM_INVALID"),
    cr(
      "entries in order: not mapped (entry 0) before misaligned (entry 1)",
      LEND,
      {
        acl: acl([G1, RWX]),
        sgl: [
          { ipa: RAM + HOST_RAM_SIZE, size: PAGE },
          { ipa: RAM + 1, size: PAGE },
        ],
      },
      "MEM_INVALID",
    ),
    cr(
      "entries in order: misaligned (entry 0) before not mapped (entry 1)",
      LEND,
      {
        acl: acl([G1, RWX]),
        sgl: [
          { ipa: RAM + 1, size: PAGE },
          { ipa: RAM + HOST_RAM_SIZE, size: PAGE },
        ],
      },
      "ARGUMENT_INVALID",
    ),
    cr(
      "a good entry, then a bad one: nothing of the first is kept",
      LEND,
      { acl: acl([G1, RWX]), sgl: [...pages(0), { ipa: RAM + HOST_RAM_SIZE, size: PAGE }] },
      "MEM_INVALID",
    ),
    cr("a caller that is no VM (project decision)", LEND, lend1, "VMID_INVALID", undefined, 0x90),
    cr(
      "a guest lending memory it does not own",
      LEND,
      { acl: acl([G2, RWX]), sgl: pages(0) },
      "MEM_INVALID",
      undefined,
      G1,
    ),
  ];
  it.each(rows)("$name: $err", runRow);
});

describe("memory held but not owned cannot be passed on", () => {
  it("a guest that accepted a LEND cannot lend it on (MEM_INVALID), though it is mapped", () => {
    const m = machine();
    withGuests(m, 2);
    const h = lendTo(m, G1, pages(0));
    const [got] = ok(
      m.rm.parcels.accept(G1, {
        handle: h,
        memType: 0,
        transType: LEND,
        flags: 128,
        label: 0,
        acl: [],
        sgl: [],
        attrs: [],
        mapVmid: 0,
      }),
    )!.sgl;
    const d = m.rm.digest();
    expect(
      m.rm.parcels.create(G1, LEND, createArgs({ acl: acl([G2, RWX]), sgl: [got!] })).err,
    ).toBe("MEM_INVALID");
    expect(m.rm.digest()).toBe(d);
  });
});
