/**
 * Validation table for MEM_APPEND (reference §7): one row per check and error code, in the
 * reference's order, and rows where two checks fail at once to show which one comes first.
 * Every refusal leaves the digest unchanged and posts no notification (runRow).
 */
import { describe, expect, it } from "vitest";
import { HOST_MMIO_BASE } from "../platform.js";
import type { Row } from "./rm.testutil.js";
import {
  acl,
  create,
  G1,
  G2,
  HOST,
  lendTo,
  machine,
  ok,
  PAGE,
  pages,
  RAM,
  runRow,
  withGuests,
} from "./rm.testutil.js";
import { CREATE_FLAGS, RIGHTS, TRANS_TYPE } from "./types.js";

const { LEND } = TRANS_TYPE;
const { RWX } = RIGHTS;
const io = [{ ipa: HOST_MMIO_BASE, size: PAGE }];
const many = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));
const lend1 = { acl: acl([G1, RWX]), sgl: pages(0) };

const appendRow = (
  name: string,
  err: Row["err"],
  call: Row["call"],
  setup: Row["setup"] = (m) => create(m, LEND, { flags: CREATE_FLAGS.APPEND, ...lend1 }),
): Row => ({ name, setup, call, err });

describe("append: checks in order (reference §7)", () => {
  const rows: Row[] = [
    appendRow("control", "OK", (m, h) => m.rm.parcels.append(HOST, h, 0, pages(2))),
    appendRow("control with END", "OK", (m, h) => m.rm.parcels.append(HOST, h, 1, pages(2))),
    appendRow("513 entries", "NORESOURCE", (m, h) =>
      m.rm.parcels.append(
        HOST,
        h,
        0,
        many(513, (i) => pages(10 + 2 * i)[0]!),
      ),
    ),
    appendRow("no SGL entry", "ARGUMENT_INVALID", (m, h) => m.rm.parcels.append(HOST, h, 0, [])),
    appendRow(
      "no SGL entry AND an unknown handle: the empty list first",
      "ARGUMENT_INVALID",
      (m, h) => m.rm.parcels.append(HOST, h + 1, 0, []),
    ),
    appendRow("unknown handle", "HANDLE_INVALID", (m, h) =>
      m.rm.parcels.append(HOST, h + 1, 0, pages(2)),
    ),
    appendRow("unknown handle AND a bad SGL: the handle first", "HANDLE_INVALID", (m, h) =>
      m.rm.parcels.append(HOST, h + 1, 0, [{ ipa: 1, size: 1 }]),
    ),
    appendRow("not the owner", "DENIED", (m, h) => m.rm.parcels.append(G1, h, 0, pages(2))),
    appendRow(
      "a parcel finished (SHARING)",
      "DENIED",
      (m, h) => m.rm.parcels.append(HOST, h, 1, pages(2)),
      (m) => lendTo(m, G1, pages(0)),
    ),
    appendRow(
      "a parcel finished by an APPEND with END",
      "DENIED",
      (m, h) => m.rm.parcels.append(HOST, h, 0, pages(3)),
      (m) => {
        const h = create(m, LEND, { flags: CREATE_FLAGS.APPEND, ...lend1 });
        ok(m.rm.parcels.append(HOST, h, 1, pages(2)));
        return h;
      },
    ),
    appendRow("not the owner AND a bad SGL: the owner first", "DENIED", (m, h) =>
      m.rm.parcels.append(G1, h, 0, [{ ipa: 1, size: 1 }]),
    ),
    appendRow("misaligned entry (with END: the parcel stays in INIT)", "ARGUMENT_INVALID", (m, h) =>
      m.rm.parcels.append(HOST, h, 1, [{ ipa: RAM + 2 * PAGE, size: 100 }]),
    ),
    appendRow("memory already in this parcel", "MEM_INVALID", (m, h) =>
      m.rm.parcels.append(HOST, h, 0, pages(0)),
    ),
    appendRow(
      "memory lent in another parcel",
      "MEM_INVALID",
      (m, h) => m.rm.parcels.append(HOST, h, 0, pages(5)),
      (m) => {
        lendTo(m, G2, pages(5));
        return create(m, LEND, { flags: CREATE_FLAGS.APPEND, ...lend1 });
      },
    ),
    appendRow("device memory to a NORMAL parcel", "MEM_INVALID", (m, h) =>
      m.rm.parcels.append(HOST, h, 0, io),
    ),
  ];
  it.each(rows)("$name: $err", runRow);

  it("INIT until END: regions accumulate, END makes it SHARING", () => {
    const m = machine();
    withGuests(m, 1);
    const h = create(m, LEND, { flags: CREATE_FLAGS.APPEND, ...lend1 });
    expect(m.rm.parcels.get(h)!.state).toBe("INIT");
    ok(m.rm.parcels.append(HOST, h, 0, pages(2)));
    expect(m.rm.parcels.get(h)!.state).toBe("INIT");
    ok(m.rm.parcels.append(HOST, h, 1, pages(4, 2)));
    const p = m.rm.parcels.get(h)!;
    expect(p.state).toBe("SHARING");
    expect(p.regions.map((r) => [r.ipa - RAM, r.size])).toEqual([
      [0, PAGE],
      [2 * PAGE, PAGE],
      [4 * PAGE, 2 * PAGE],
    ]);
    expect(m.log).toEqual([]);
  });
});
