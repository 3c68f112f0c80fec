/**
 * All or nothing (memparcel.ts's promise): failures injected in the middle of an operation —
 * the hypervisor's stage-2 table memory ("hyp-tables") running out when a map, an unmap or a
 * protect needs a new table — leave the digest as it was, post no notification, and leave no
 * label on the platform graph; the same call succeeds once the memory is back.
 */
import { describe, expect, it } from "vitest";
import { whoReaches } from "../../devices/graph/reverse-map.js";
import { RM_IPA_WINDOW } from "../hyp/ipa-space.js";
import { VM_STATE } from "../hyp/vm.js";
import type { Machine } from "./rm.testutil.js";
import {
  acceptArgs,
  acceptDone,
  access,
  acl,
  create,
  createArgs,
  exhaust,
  G1,
  G2,
  HOST,
  lendTo,
  machine,
  ok,
  PAGE,
  pages,
  RAM,
  readyGuest,
  SIZE_2M,
  vm,
  withGuests,
} from "./rm.testutil.js";
import { ACCEPT_FLAGS, RIGHTS, TRANS_TYPE } from "./types.js";

const { LEND, SHARE, DONATE } = TRANS_TYPE;
const { R, RW, RWX } = RIGHTS;
const W = RM_IPA_WINDOW.base;

function setup() {
  const m = machine();
  withGuests(m, 2);
  return m;
}
const tables = (m: Machine) => m.platform.target("hyp-tables");
/** The parcel labels the graph shows on `[pa, pa+size)`. */
const parcelLabels = (m: Machine, pa: number, size: number) => [
  ...new Set(
    whoReaches(m.platform, pa, pa + size).flatMap((p) =>
      p.owners.filter((o) => o.kind === "parcel").map((o) => o.name),
    ),
  ),
];

/** `call` answers `err` and changes nothing; returns the digest it kept. */
function unchanged(m: Machine, err: string, call: () => { err: string }): string {
  const d = m.rm.digest();
  const posted = m.log.length;
  expect(call().err).toBe(err);
  expect(m.rm.digest()).toBe(d);
  expect(m.log.length).toBe(posted);
  return d;
}

describe("ACCEPT whose map runs out of table memory part-way: MAP_FAILED, nothing changed", () => {
  it("one region mapped, the next needs a table: the first is unmapped again, IPAs freed", () => {
    const m = setup();
    // G1's tables for the window's first 2M exist after a first accept.
    acceptDone(m, G1, lendTo(m, G1, pages(50)));
    const h = create(m, LEND, { acl: acl([G1, RW]), sgl: [...pages(0), ...pages(2)] });
    const sgl = [
      { ipa: W + PAGE, size: PAGE },
      { ipa: 0x2_0000_0000, size: PAGE },
    ];
    const giveBack = exhaust(tables(m));
    const ipasBefore = vm(m, G1).ipaSpace.list();
    unchanged(m, "MAP_FAILED", () => m.rm.parcels.accept(G1, acceptArgs(m, h, { sgl })));
    expect(vm(m, G1).ipaSpace.list()).toEqual(ipasBefore);
    expect(vm(m, G1).stage2.translate(W + PAGE)).toBeUndefined();
    expect(m.rm.parcels.get(h)!.state).toBe("SHARING");
    giveBack();
    ok(m.rm.parcels.accept(G1, acceptArgs(m, h, { sgl })));
    expect(vm(m, G1).stage2.translate(0x2_0000_0000)?.pa).toBe(RAM + 2 * PAGE);
  });

  it("RM-chosen, contiguous, and a second accept after a reservation: each MAP_FAILED, unchanged", () => {
    for (const flags of [ACCEPT_FLAGS.DONE, ACCEPT_FLAGS.DONE | ACCEPT_FLAGS.MAP_CONTIGUOUS, -1]) {
      const m = setup();
      const h = create(m, LEND, { acl: acl([G1, RW]), sgl: [...pages(0), ...pages(2)] });
      if (flags === -1) ok(m.rm.parcels.accept(G1, acceptArgs(m, h, { flags: 0 }))); // reserved, then DONE
      const giveBack = exhaust(tables(m), 1); // one table: not the three a first map needs
      unchanged(m, "MAP_FAILED", () =>
        m.rm.parcels.accept(
          G1,
          acceptArgs(m, h, { flags: flags === -1 ? ACCEPT_FLAGS.DONE : flags }),
        ),
      );
      giveBack();
      ok(
        m.rm.parcels.accept(
          G1,
          acceptArgs(m, h, { flags: flags === -1 ? ACCEPT_FLAGS.DONE : flags }),
        ),
      );
    }
  });

  it("DONATE: a failed DONE moves nothing; the parcel stays, the donor may reclaim", () => {
    const m = setup();
    const h = create(m, DONATE, { acl: acl([G1, RWX]), sgl: pages(7) });
    const giveBack = exhaust(tables(m));
    unchanged(m, "MAP_FAILED", () => m.rm.parcels.accept(G1, acceptArgs(m, h)));
    expect(m.hyp.ownership.ownerOf(RAM + 7 * PAGE, RAM + 8 * PAGE)).toBe(HOST);
    giveBack();
    ok(m.rm.parcels.reclaim(HOST, h, 0));
    expect(access(m.hyp.host, RAM + 7 * PAGE)).toBe("rwx");
  });
});

describe("create whose owner-side change runs out of table memory part-way: MAP_FAILED, nothing changed", () => {
  /** Split the host's first 2M into pages (lend a page and take it back). */
  const splitFirst2M = (m: Machine) =>
    ok(m.rm.parcels.reclaim(HOST, lendTo(m, G1, [{ ipa: RAM + SIZE_2M - PAGE, size: PAGE }]), 0));

  it("LEND of one region across a split page and an unsplit block", () => {
    const m = setup();
    splitFirst2M(m);
    const giveBack = exhaust(tables(m));
    const sgl = [{ ipa: RAM + SIZE_2M - PAGE, size: 2 * PAGE }];
    unchanged(m, "MAP_FAILED", () =>
      m.rm.parcels.create(HOST, LEND, createArgs({ acl: acl([G1, RWX]), sgl })),
    );
    expect(access(m.hyp.host, RAM + SIZE_2M - PAGE)).toBe("rwx");
    expect(access(m.hyp.host, RAM + SIZE_2M)).toBe("rwx");
    expect(parcelLabels(m, RAM + SIZE_2M - PAGE, 2 * PAGE)).toEqual([]);
    expect(m.rm.parcels.list()).toEqual([]);
    giveBack();
    const h = ok(m.rm.parcels.create(HOST, LEND, createArgs({ acl: acl([G1, RWX]), sgl })));
    acceptDone(m, G1, h);
    expect(parcelLabels(m, RAM + SIZE_2M - PAGE, 2 * PAGE)).toEqual([String(h)]);
  });

  it("LEND and DONATE of two regions: the first unmapped, the second fails, the first comes back", () => {
    for (const type of [LEND, DONATE]) {
      const m = setup();
      splitFirst2M(m);
      const giveBack = exhaust(tables(m));
      const sgl = [...pages(3), { ipa: RAM + 5 * SIZE_2M, size: PAGE }];
      unchanged(m, "MAP_FAILED", () =>
        m.rm.parcels.create(HOST, type, createArgs({ acl: acl([G1, RWX]), sgl })),
      );
      expect(access(m.hyp.host, RAM + 3 * PAGE)).toBe("rwx");
      giveBack();
      ok(m.rm.parcels.create(HOST, type, createArgs({ acl: acl([G1, RWX]), sgl })));
      expect(access(m.hyp.host, RAM + 3 * PAGE)).toBe("");
    }
  });

  it("SHARE of two regions: the first narrowed, the second fails, the first gets its rights back", () => {
    const m = setup();
    splitFirst2M(m);
    const giveBack = exhaust(tables(m));
    const args = createArgs({
      acl: acl([HOST, R], [G1, RW]),
      sgl: [...pages(3), { ipa: RAM + 5 * SIZE_2M, size: PAGE }],
    });
    unchanged(m, "MAP_FAILED", () => m.rm.parcels.create(HOST, SHARE, args));
    expect(access(m.hyp.host, RAM + 3 * PAGE)).toBe("rwx");
    expect(parcelLabels(m, RAM + 3 * PAGE, PAGE)).toEqual([]);
    giveBack();
    ok(m.rm.parcels.create(HOST, SHARE, args));
    expect(access(m.hyp.host, RAM + 3 * PAGE)).toBe("r");
    expect(access(m.hyp.host, RAM + 5 * SIZE_2M)).toBe("r");
  });

  it("APPEND failing part-way keeps the parcel as it was (INIT, its regions, its labels)", () => {
    const m = setup();
    splitFirst2M(m);
    const h = create(m, LEND, { flags: 2, acl: acl([G1, RWX]), sgl: pages(9) });
    const giveBack = exhaust(tables(m));
    unchanged(m, "MAP_FAILED", () =>
      m.rm.parcels.append(HOST, h, 1, [...pages(3), { ipa: RAM + 5 * SIZE_2M, size: PAGE }]),
    );
    expect(m.rm.parcels.get(h)!.state).toBe("INIT");
    expect(m.rm.parcels.get(h)!.labels).toHaveLength(1);
    giveBack();
  });
});

describe("VM_START whose second accept fails", () => {
  it("the image accepted first is released again: INIT_FAILED, NORESOURCE, the VM holds nothing", () => {
    const m = setup();
    // A 2M image maps as one block (two tables); the private page after it needs a third.
    const image = readyGuest(m, G1, 2 * (SIZE_2M / PAGE), SIZE_2M / PAGE);
    const priv = lendTo(m, G1, pages(1));
    m.take();
    const giveBack = exhaust(tables(m), 2);
    expect(m.rm.vms.start(HOST, G1).err).toBe("NORESOURCE");
    giveBack();
    const g = vm(m, G1);
    expect(g.state).toBe(VM_STATE.INIT_FAILED);
    expect(m.rm.parcels.acceptedBy(G1)).toEqual([]);
    expect(g.stage2.mappedBytes(0, 2 ** 44)).toBe(0);
    expect(g.ipaSpace.list()).toEqual([]);
    expect(m.rm.parcels.get(image)!.state).toBe("SHARING");
    expect(m.rm.parcels.get(priv)!.state).toBe("SHARING");
    // What the host is told: only the new state. The RM's own accept of the image is undone
    // silently: the owner was never told of it (releaseFor, not releaseAll).
    expect(m.take()).toEqual([
      {
        kind: "VM_STATUS",
        to: HOST,
        vmid: G1,
        vmStatus: VM_STATE.INIT_FAILED,
        osStatus: 0,
        appStatus: 0,
      },
    ]);
    // Reset, configure again, and it starts.
    ok(m.rm.vms.reset(HOST, G1));
    ok(
      m.rm.vms.configImage(HOST, {
        vmid: G1,
        auth: 0,
        handle: image,
        imageOffset: 0,
        imageSize: PAGE,
        dtbOffset: 0,
        dtbSize: PAGE,
      }),
    );
    ok(m.rm.vms.init(HOST, G1));
    ok(m.rm.vms.start(HOST, G1));
    expect(m.rm.parcels.get(priv)!.vmInfo(G1)!.ipas).toEqual([0x8000_0000 + SIZE_2M]);
    void G2;
  });
});
