import { describe, expect, it } from "vitest";

import { parseScenario } from "../parse.js";
import { stepOf } from "./steps.testutil.js";
import {
  errors,
  failures,
  FIRST_STEP_LINE,
  GUEST,
  messagesOf,
  run,
  statuses,
} from "./gunyah.testutil.js";

const LEND_2M =
  "{ op: gunyah.lend, acl: [{ vm: guest, rights: rwx }], sgl: [{ ipa: 0x8000_0000, size: 2M }], as: p }";

describe("gunyah.lend / share / donate", () => {
  it("a lend replies its handle, binds it, and the expectation names the RPC and the VM", () => {
    const r = run(
      GUEST,
      "{ op: gunyah.lend, acl: [{ vm: guest, rights: rwx }], sgl: [{ ipa: 0x8000_0000, size: 2M }], label: 9, as: p, expect: { handle: 0 } }",
      "{ op: gunyah.parcelInfo, handle: p, expect: { state: SHARING, owner: hlos, type: LEND, size: 2M, regions: 1, label: 9, accepted: [] } }",
    );
    expect(failures(r)).toEqual([]);
    const lend = stepOf(r, 1);
    expect(lend.description).toBe("MEM_LEND 0x80000000+2 MiB from hlos to guest rwx as p");
    expect(lend.summary).toBe(
      "MEM_LEND from hlos (1 entry): handle 0: 2 MiB in 1 region, ACL vm128 rwx, SHARING",
    );
    expect(lend.output).toEqual({
      rpc: "MEM_LEND",
      err: "OK",
      from: "hlos",
      entries: 1,
      handle: 0,
      size: 0x20_0000,
      state: "SHARING",
    });
    expect(messagesOf(r, 1)).toEqual(["ok MEM_LEND from hlos (1 entry): handle = 0"]);
    expect(messagesOf(r, 2)).toHaveLength(7);
  });

  it("an expected RM error is one passed expectation; another answer a failed one, and the run goes on", () => {
    const r = run(
      GUEST,
      // No ACL entries: ARGUMENT_INVALID (reference §7 check 1).
      "{ op: gunyah.lend, acl: [], sgl: [{ ipa: 0x8000_0000, size: 4K }], expect: { err: ARGUMENT_INVALID } }",
      // The owner in the ACL of a LEND: ARGUMENT_INVALID, not DENIED.
      "{ op: gunyah.lend, acl: [{ vm: hlos, rights: rwx }, { vm: guest, rights: r }], sgl: [{ ipa: 0x8000_0000, size: 4K }], expect: { err: DENIED } }",
      // Not host memory: MEM_INVALID; expected success instead.
      "{ op: gunyah.share, acl: [{ vm: guest, rights: rw }, { vm: hlos, rights: rwx }], sgl: [{ ipa: 0x4000_0000, size: 4K }], expect: { handle: 0 } }",
      "{ op: gunyah.share, acl: [{ vm: guest, rights: rw }, { vm: hlos, rights: rwx }], sgl: [{ ipa: 0x8000_0000, size: 4K }], expect: { err: OK } }",
    );
    expect(statuses(r)).toEqual(["ok", "ok", "failed", "failed", "ok"]);
    expect(failures(r)).toEqual([
      "MEM_LEND from hlos (1 entry): expected DENIED, got ARGUMENT_INVALID",
      "MEM_SHARE from hlos (1 entry): expected OK, got MEM_INVALID",
    ]);
    expect(messagesOf(r, 1)).toEqual([
      "ok MEM_LEND from hlos (1 entry): ARGUMENT_INVALID, as expected",
    ]);
    expect(messagesOf(r, 4)).toEqual(["ok MEM_SHARE from hlos (1 entry): OK"]);
    expect(stepOf(r, 3).summary).toBe("MEM_SHARE from hlos (1 entry): MEM_INVALID");
  });

  it("without expect an RM error fails the step with the errno Linux makes of it, and stops the run", () => {
    const r = run(
      GUEST,
      LEND_2M,
      LEND_2M.replace("as: p", "as: q"),
      "{ op: gunyah.reclaim, handle: p }",
    );
    expect(statuses(r)).toEqual(["ok", "ok", "failed", "skipped"]);
    expect(stepOf(r, 2).error).toEqual({
      code: "EINVAL",
      message: "EINVAL: MEM_LEND from hlos (1 entry): expected OK, got MEM_INVALID",
    });
    expect(r.stoppedAt).toBe(2);
    // expectError catches it by that errno; DENIED is EPERM.
    const caught = run(
      GUEST,
      LEND_2M,
      "{ op: gunyah.reclaim, from: guest, handle: p, expectError: EPERM }",
    );
    expect(failures(caught)).toEqual([]);
    expect(stepOf(caught, 2).error?.message).toBe(
      "EPERM: MEM_RECLAIM from vm128 of handle 0: expected OK, got DENIED",
    );
  });

  it("a refused create binds nothing and the name stays free", () => {
    const r = run(
      GUEST,
      "{ op: gunyah.lend, acl: [{ vm: guest, rights: w }], sgl: [{ ipa: 0x8000_0000, size: 4K }], as: p, expect: { err: ARGUMENT_INVALID } }",
      LEND_2M,
      "{ op: gunyah.reclaim, handle: p }",
      // Reclaimed: the name may be bound again, and still means handle 0 until then.
      "{ op: gunyah.reclaim, handle: p, expect: { err: HANDLE_INVALID } }",
      LEND_2M.replace("as: p", "as: p, expect: { handle: 1 }"),
    );
    expect(failures(r)).toEqual([]);
    expect(stepOf(r, 5).output?.handle).toBe(1);
  });

  it("sgl runs, flags by name, attributes and IO memory reach the wire as written", () => {
    const r = run(
      GUEST,
      "{ op: gunyah.lend, acl: [{ vm: guest, rights: rw }], sgl: [{ from: 0x8000_0000, count: 3, stride: 8K, size: 4K }, { ipa: 0x9000_0000, size: 8K }], flags: [SANITIZE], as: p }",
      "{ op: gunyah.parcelInfo, handle: p, expect: { regions: 4, size: 20K } }",
      "{ op: gunyah.lend, memType: IO, acl: [{ vm: guest, rights: rw }], attrs: [{ vm: guest, attr: DEVICE }], sgl: [{ ipa: 0x1000_0000, size: 4K }], as: io }",
      "{ op: gunyah.lend, memType: IO, flags: [SANITIZE], acl: [{ vm: guest, rights: rw }], sgl: [{ ipa: 0x1000_1000, size: 4K }], expect: { err: ARGUMENT_INVALID } }",
      "{ op: gunyah.lend, acl: [{ vm: guest, rights: rw }], attrs: [{ vm: hlos, attr: CACHED }], sgl: [{ ipa: 0x8010_0000, size: 4K }], expect: { err: VMID_INVALID } }",
    );
    expect(failures(r)).toEqual([]);
    expect(stepOf(r, 1).description).toBe(
      "MEM_LEND 4 entries from 0x80000000 from hlos to guest rw [SANITIZE] as p",
    );
  });

  it("a donate must give the maximum rights to one VM", () => {
    const r = run(
      GUEST,
      "{ op: gunyah.donate, acl: [{ vm: guest, rights: rw }], sgl: [{ ipa: 0x8000_0000, size: 4K }], expect: { err: DENIED } }",
      "{ op: gunyah.vmAllocate, as: other }",
      "{ op: gunyah.donate, acl: [{ vm: guest, rights: rwx }, { vm: other, rights: rwx }], sgl: [{ ipa: 0x8000_0000, size: 4K }], expect: { err: ARGUMENT_INVALID } }",
      "{ op: gunyah.donate, acl: [{ vm: guest, rights: rwx }], sgl: [{ ipa: 0x8000_0000, size: 4K }], expect: { handle: 0 } }",
    );
    expect(failures(r)).toEqual([]);
  });

  it("linux: true lends 1,000 entries as the driver does: APPEND, then MEM_APPENDs of 512, END on the last", () => {
    const r = run(
      GUEST,
      "{ op: gunyah.lend, acl: [{ vm: guest, rights: rwx }], sgl: [{ from: 0x8000_0000, count: 1000, stride: 8K, size: 4K }], linux: true, as: big, expect: { handle: 0 } }",
      "{ op: gunyah.parcelInfo, handle: big, expect: { state: SHARING, regions: 1000 } }",
      "{ op: stats }",
    );
    expect(failures(r)).toEqual([]);
    expect(stepOf(r, 1).summary).toMatch(
      /^MEM_LEND from hlos as Linux \(1000 entries, 2 messages\): handle 0/,
    );
    const rpcs = (stepOf(r, 3).output as { gunyah: { rpcs: Record<string, unknown> } }).gunyah.rpcs;
    expect(rpcs).toMatchObject({ MEM_LEND: { OK: 1 }, MEM_APPEND: { OK: 1 } });
    // Sent as one raw LEND, 513 entries are too many for a list: NORESOURCE.
    const raw = run(
      GUEST,
      "{ op: gunyah.lend, acl: [{ vm: guest, rights: rwx }], sgl: [{ from: 0x8000_0000, count: 513, stride: 8K, size: 4K }], expect: { err: NORESOURCE } }",
    );
    expect(failures(raw)).toEqual([]);
    // 1,000 entries do not even fit in 63 fragments: the client refuses to send them.
    const huge = run(
      GUEST,
      "{ op: gunyah.lend, acl: [{ vm: guest, rights: rwx }], sgl: [{ from: 0x8000_0000, count: 1000, stride: 8K, size: 4K }], expectError: EINVAL }",
    );
    expect(failures(huge)).toEqual([]);
    expect(stepOf(huge, 1).error?.message).toMatch(/^EINVAL: MEM_LEND: .*fragment/);
  });

  it("refuses flags and linux together, unknown flag names and a run without count at load time", () => {
    const at = FIRST_STEP_LINE;
    expect(
      errors(
        "{ op: gunyah.lend, acl: [], sgl: [], linux: true, flags: [APPEND] }",
        "{ op: gunyah.lend, acl: [], sgl: [], flags: [SANITISE] }",
        "{ op: gunyah.lend, acl: [], sgl: [{ from: 0x8000_0000, size: 4K }] }",
        "{ op: gunyah.lend, acl: [], sgl: [{ ipa: 0x8000_0000, from: 0x8000_0000, size: 4K }] }",
        "{ op: gunyah.lend, acl: [{ vm: guest, rights: rwz }], sgl: [] }",
      ),
    ).toEqual([
      `${at}:62 steps[0].flags: with linux: true the driver sets the flags itself (APPEND when more than 512 entries)`,
      `${at + 1}:50 steps[1].flags[0]: unknown create flag "SANITISE", did you mean "SANITIZE"? (expected: SANITIZE, APPEND)`,
      `${at + 2}:39 steps[2].sgl[0].count: missing required key "count" (a run of entries)`,
      `${at + 3}:65 steps[3].sgl[0].from: give either ipa (one entry) or from + count (a run of entries)`,
      `${at + 4}:51 steps[4].acl[0].rights: expected rights: letters r, w, x once each (rwx, rw, r, rx), or a number, got "rwz"`,
    ]);
  });
});

describe("gunyah.append / accept / release / reclaim", () => {
  it("an APPEND parcel is INIT (accept DENIED) until END; RM-chosen IPAs come in chunks of 512 (INCOMPLETE)", () => {
    const r = run(
      GUEST,
      "{ op: gunyah.lend, flags: [APPEND], acl: [{ vm: guest, rights: rw }], sgl: [{ from: 0x8000_0000, count: 512, stride: 8K, size: 4K }], as: big }",
      "{ op: gunyah.parcelInfo, handle: big, expect: { state: INIT, regions: 512 } }",
      "{ op: gunyah.accept, by: guest, handle: big, expect: { err: DENIED } }",
      "{ op: gunyah.append, handle: big, sgl: [{ from: 0x8040_0000, count: 88, stride: 8K, size: 4K }], flags: [END] }",
      "{ op: gunyah.append, handle: big, sgl: [{ ipa: 0x9000_0000, size: 4K }], expect: { err: DENIED } }",
      "{ op: gunyah.accept, by: guest, handle: big, flags: [], expect: { incomplete: true } }",
      "{ op: gunyah.accept, by: guest, handle: big, as: tail, expect: { incomplete: false } }",
    );
    expect(failures(r)).toEqual([]);
    expect((stepOf(r, 6).output as { chosen: unknown[] }).chosen).toHaveLength(512);
    expect((stepOf(r, 7).output as { chosen: unknown[] }).chosen).toHaveLength(88);
    expect(stepOf(r, 7).summary).toBe(
      "MEM_ACCEPT from vm128 of handle 0: at 0x10000200000+4 KiB and 87 more",
    );
  });

  it("accept checks in the reference's order, with the parcel's own types by default", () => {
    const r = run(
      GUEST,
      "{ op: gunyah.vmAllocate, as: other }",
      "{ op: gunyah.lend, acl: [{ vm: guest, rights: rw }], sgl: [{ ipa: 0x8000_0000, size: 8K }], label: 5, as: p }",
      "{ op: gunyah.accept, by: guest, handle: 9, expect: { err: HANDLE_INVALID } }",
      "{ op: gunyah.accept, by: guest, handle: p, transType: SHARE, expect: { err: ARGUMENT_INVALID } }",
      "{ op: gunyah.accept, by: guest, handle: p, flags: [VALIDATE_SANITIZED, DONE], expect: { err: VALIDATE_FAILED } }",
      "{ op: gunyah.accept, by: guest, handle: p, flags: [VALIDATE_LABEL, DONE], label: 4, expect: { err: VALIDATE_FAILED } }",
      "{ op: gunyah.accept, by: guest, handle: p, flags: [VALIDATE_ACL_ATTR, DONE], acl: [{ vm: guest, rights: rw }], attrs: [] }",
      "{ op: gunyah.accept, by: other, handle: p, expect: { err: VMID_INVALID } }",
      "{ op: gunyah.accept, by: guest, handle: p, expect: { err: DENIED } }",
      "{ op: gunyah.accept, by: hlos, handle: p, expect: { err: VMID_INVALID } }",
    );
    expect(failures(r)).toEqual([]);
  });

  it("caller-chosen IPAs: one per region, or one for all with MAP_CONTIGUOUS; names resolve in the accepter's space", () => {
    const r = run(
      GUEST,
      "{ op: gunyah.lend, acl: [{ vm: guest, rights: rw }], sgl: [{ ipa: 0x8000_0000, size: 4K }, { ipa: 0x8001_0000, size: 4K }], as: p }",
      "{ op: gunyah.accept, by: guest, handle: p, flags: [MAP_CONTIGUOUS, DONE], sgl: [{ ipa: 0x4000_0000, size: 8K }], as: m }",
      "{ op: gunyah.access, vm: guest, kind: write, ipa: m + 4K, data: 'be ef' }",
      "{ op: read, addr: 0x8001_0000, expect: 'be ef' }",
      "{ op: read, addr: m, size: 2 }",
    );
    expect(failures(r)).toEqual([]);
    expect(stepOf(r, 3).summary).toBe("0x40001000 -> 0x80010000, TLB miss");
    // `m` physically is the parcel's first page.
    expect(stepOf(r, 5).output).toMatchObject({ pa: 0x8000_0000 });
  });

  it("release and reclaim: MEM_RELEASED while not held, MEM_INUSE while held, DENIED for the wrong VM", () => {
    const r = run(
      GUEST,
      LEND_2M,
      "{ op: gunyah.release, by: guest, handle: p, expect: { err: MEM_RELEASED } }",
      "{ op: gunyah.accept, by: guest, handle: p }",
      "{ op: gunyah.reclaim, handle: p, expect: { err: MEM_INUSE } }",
      "{ op: gunyah.reclaim, from: guest, handle: p, expect: { err: DENIED } }",
      "{ op: gunyah.release, by: hlos, handle: p, expect: { err: HANDLE_INVALID } }",
      "{ op: gunyah.release, by: guest, handle: p, flags: [SANITIZE] }",
      "{ op: gunyah.reclaim, handle: p }",
      "{ op: gunyah.parcelInfo, handle: p, expect: { exists: false } }",
    );
    expect(failures(r)).toEqual([]);
    expect(stepOf(r, 8).summary).toBe(
      "MEM_RECLAIM from hlos of handle 0: back with hlos, parcel 0 deleted",
    );
  });

  it("unknown names are ENOENT with a suggestion; a name of another kind is EINVAL", () => {
    const r = run(
      GUEST,
      LEND_2M,
      "{ op: gunyah.accept, by: gest, handle: p, expectError: ENOENT }",
      "{ op: gunyah.accept, by: guest, handle: pp, expectError: ENOENT }",
      "{ op: gunyah.accept, by: p, handle: p, expectError: EINVAL }",
      "{ op: gunyah.accept, by: vm130, handle: p, expectError: ENOENT }",
    );
    expect(failures(r)).toEqual([]);
    expect(r.steps.slice(2).map((s) => s.error?.message)).toEqual([
      'ENOENT: no VM named "gest", did you mean "guest"? (have: hlos, vm128, guest)',
      'ENOENT: no parcel named "pp", did you mean "p"? (have: p)',
      'EINVAL: "p" is a parcel, not a VM',
      "ENOENT: there is no VM 130 (0x82) (VMs: hlos, vm128)",
    ]);
  });
});

describe("gunyah.notify / lookupSgl", () => {
  it("SHARED tells the listed VMs; the first tag sticks; ACCEPTED and RELEASED tell the owner", () => {
    const r = run(
      GUEST,
      LEND_2M,
      "{ op: gunyah.notify, handle: p, flags: SHARED, tag: 0x51, vms: [guest] }",
      "{ op: gunyah.notify, handle: p, flags: SHARED, tag: 0x52, vms: [guest], expect: { err: ARGUMENT_INVALID } }",
      "{ op: gunyah.notifications, vm: guest, expect: [{ kind: MEM_SHARED, handle: p, owner: hlos, tag: 0x51, transType: LEND, sizes: [2M], acl: [{ vm: guest, rights: rwx }], sanitize: false }] }",
      "{ op: gunyah.notify, from: guest, handle: p, flags: ACCEPTED, tag: 0x51, expect: { err: MEM_RELEASED } }",
      "{ op: gunyah.accept, by: guest, handle: p }",
      "{ op: gunyah.notify, from: guest, handle: p, flags: ACCEPTED, tag: 0x51 }",
      "{ op: gunyah.notify, from: guest, handle: p, flags: 3, tag: 0x51, expect: { err: ARGUMENT_INVALID } }",
      "{ op: gunyah.notifications, expect: [{ kind: VM_STATUS, vm: guest, state: LOAD }, { kind: MEM_ACCEPTED, handle: p, vm: guest, tag: 0x51 }] }",
    );
    expect(failures(r)).toEqual([]);
    expect(stepOf(r, 2).description).toBe("MEM_NOTIFY SHARED p from hlos to guest");
  });

  it("lookupSgl finds the caller's SHARING parcel that matches exactly", () => {
    const r = run(
      GUEST,
      LEND_2M,
      "{ op: gunyah.lookupSgl, acl: [{ vm: guest, rights: rwx }], sgl: [{ ipa: 0x8000_0000, size: 2M }], expect: { handle: p } }",
      "{ op: gunyah.lookupSgl, acl: [{ vm: guest, rights: rw }], sgl: [{ ipa: 0x8000_0000, size: 2M }], expect: { err: LOOKUP_FAILED } }",
      "{ op: gunyah.lookupSgl, from: guest, acl: [{ vm: guest, rights: rwx }], sgl: [{ ipa: 0x8000_0000, size: 2M }], expect: { err: LOOKUP_FAILED } }",
    );
    expect(failures(r)).toEqual([]);
  });

  it("vms go with SHARED and RECALL only (load errors)", () => {
    expect(
      errors(
        "{ op: gunyah.notify, handle: 0, flags: RELEASED, vms: [hlos] }",
        "{ op: gunyah.notify, handle: 0, flags: RECALL }",
      ),
    ).toEqual([
      `${FIRST_STEP_LINE}:59 steps[0].vms: vms go with SHARED and RECALL, not RELEASED`,
      `${FIRST_STEP_LINE + 1}:5 steps[1].vms: missing required key "vms" (SHARED and RECALL name the VMs to tell)`,
    ]);
  });
});

describe("without a gunyah section", () => {
  it("every gunyah step is a load error at its op", () => {
    const r = errorsWithout("{ op: gunyah.vmAllocate }");
    expect(r).toEqual([
      `steps[0].op: gunyah.vmAllocate needs the machine's "gunyah" section (the hypervisor and its RM)`,
    ]);
  });
});

function errorsWithout(step: string): string[] {
  const text = `version: 1\nname: t\nmachine:\n  regions: [{ name: dram, base: 0x8000_0000, size: 1M, kind: ram }]\nsteps:\n  - ${step}\n`;
  const r = parseScenario(text, "t.yaml");
  if (r.ok) throw new Error("expected errors");
  return r.errors.map((e) => `${e.path}: ${e.message}`);
}
