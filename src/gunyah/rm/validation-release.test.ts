/**
 * Validation tables for MEM_RELEASE and MEM_RECLAIM (reference §7), in the reference's order,
 * with rows where two checks fail at once.
 */
import { describe, it } from "vitest";
import { HOST_MMIO_BASE } from "../platform.js";
import type { Machine, Row } from "./rm.testutil.js";
import {
  acceptArgs,
  acceptDone,
  acl,
  create,
  G1,
  G2,
  G3,
  HOST,
  ok,
  PAGE,
  pages,
  runRow,
} from "./rm.testutil.js";
import { CREATE_FLAGS, MEM_ATTR, MEM_TYPE, RIGHTS, TRANS_TYPE } from "./types.js";

const { LEND, SHARE } = TRANS_TYPE;
const { R, RW, RWX } = RIGHTS;
const IO = MEM_TYPE.IO;

/** The parcel of most rows: a LEND of 2 pages (two regions) to G1 RW and G2 R, label 7. */
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

function rl(
  name: string,
  err: Row["err"],
  caller: number,
  flags: number,
  setup: Row["setup"],
  dh = 0,
): Row {
  return { name, setup, call: (m, h) => m.rm.parcels.release(caller, h + dh, flags), err };
}
/** The parcel, accepted by G1 (RW) and G2 (R). */
const accepted = (m: Machine) => {
  const h = parcel(m);
  acceptDone(m, G1, h);
  acceptDone(m, G2, h);
  return h;
};

describe("release: checks in order (reference §7)", () => {
  const rows: Row[] = [
    rl("control", "OK", G1, 0, accepted),
    rl("control: SANITIZE with W", "OK", G1, 1, accepted),
    rl("unknown handle", "HANDLE_INVALID", G1, 0, accepted, 1),
    rl("the caller not in the ACL", "HANDLE_INVALID", G3, 0, accepted),
    rl(
      "the caller not in the ACL AND a bad SANITIZE: HANDLE_INVALID first",
      "HANDLE_INVALID",
      G3,
      1,
      accepted,
    ),
    rl("the caller is the owner (SHARE)", "DENIED", HOST, 0, share),
    rl("not accepted", "MEM_RELEASED", G1, 0, parcel),
    rl("accepted by another only", "MEM_RELEASED", G2, 0, (m) => {
      const h = parcel(m);
      acceptDone(m, G1, h);
      return h;
    }),
    rl("released already", "MEM_RELEASED", G1, 0, (m) => {
      const h = accepted(m);
      ok(m.rm.parcels.release(G1, h, 0));
      return h;
    }),
    rl("not accepted AND SANITIZE without W: MEM_RELEASED first", "MEM_RELEASED", G2, 1, parcel),
    rl("SANITIZE without W", "ARGUMENT_INVALID", G2, 1, accepted),
    rl("SANITIZE on IO", "ARGUMENT_INVALID", G1, 1, (m) => {
      const h = ioParcel(m);
      acceptDone(m, G1, h);
      return h;
    }),
  ];
  it.each(rows)("$name: $err", runRow);
});

function rc(
  name: string,
  err: Row["err"],
  caller: number,
  flags: number,
  setup: Row["setup"],
  dh = 0,
): Row {
  return { name, setup, call: (m, h) => m.rm.parcels.reclaim(caller, h + dh, flags), err };
}

describe("reclaim: checks in order (reference §7)", () => {
  const rows: Row[] = [
    rc("control", "OK", HOST, 0, parcel),
    rc("control: a parcel in INIT", "OK", HOST, 0, (m) => parcel(m, CREATE_FLAGS.APPEND)),
    rc("control: after every VM released", "OK", HOST, 0, (m) => {
      const h = accepted(m);
      ok(m.rm.parcels.release(G1, h, 0));
      ok(m.rm.parcels.release(G2, h, 0));
      return h;
    }),
    rc("unknown handle", "HANDLE_INVALID", HOST, 0, parcel, 1),
    rc("not the owner", "DENIED", G1, 0, parcel),
    rc("not the owner AND accepted: DENIED first", "DENIED", G1, 0, accepted),
    rc("accepted by someone", "MEM_INUSE", HOST, 0, accepted),
    rc("accepted by one of two still", "MEM_INUSE", HOST, 0, (m) => {
      const h = accepted(m);
      ok(m.rm.parcels.release(G1, h, 0));
      return h;
    }),
    rc("accepted without DONE (IPAs reserved only)", "MEM_INUSE", HOST, 0, (m) => {
      const h = parcel(m);
      ok(m.rm.parcels.accept(G1, acceptArgs(m, h, { flags: 0 })));
      return h;
    }),
    rc("accepted AND SANITIZE on IO: MEM_INUSE first", "MEM_INUSE", HOST, 1, (m) => {
      const h = ioParcel(m);
      acceptDone(m, G1, h);
      return h;
    }),
    rc("SANITIZE on IO", "ARGUMENT_INVALID", HOST, 1, ioParcel),
  ];
  it.each(rows)("$name: $err", runRow);
});
