/**
 * The isolation of the issue's deliverable 8, made visible with scenario steps: after a LEND the
 * host's accesses fault and the guest's succeed once it accepts; after RELEASE and RECLAIM the
 * reverse; a SHARE keeps both (each with its ACL rights); a DONATE is for good. Each state is
 * checked three ways: accesses through the vCPUs, the platform graph (`who`, `expectIsolated`,
 * `gunyah.who`, `gunyah.isolated`), and the RM's view (`gunyah.vmInfo`).
 */
import { describe, expect, it } from "vitest";

import { stepOf } from "./steps.testutil.js";
import { errors, failures, FIRST_STEP_LINE, GUEST, run, statuses } from "./gunyah.testutil.js";

const PA = "0x8000_0000";
const host = (kind: "read" | "write", fault?: string) =>
  kind === "read"
    ? `{ op: access, device: hlos.vcpu0, kind: read, va: ${PA}, size: 4${fault !== undefined ? `, expectFault: { kind: ${fault}, stage: 2 }` : ""} }`
    : `{ op: access, device: hlos.vcpu0, kind: write, va: ${PA}, data: 'de ad'${fault !== undefined ? `, expectFault: { kind: ${fault}, stage: 2 }` : ""} }`;
const guest = (kind: "read" | "write" | "exec", ipa: string, fault?: string) =>
  `{ op: gunyah.access, vm: guest, kind: ${kind}, ipa: ${ipa}${kind === "write" ? ", data: 'be ef'" : ", size: 4"}${fault !== undefined ? `, expectFault: { kind: ${fault} }` : ""} }`;

describe("isolation, visible", () => {
  it("LEND: the host faults at once; the guest reaches it only after ACCEPT; RELEASE and RECLAIM reverse it", () => {
    const r = run(
      GUEST,
      host("write"),
      `{ op: gunyah.lend, acl: [{ vm: guest, rights: rw }], sgl: [{ ipa: ${PA}, size: 64K }], as: p }`,
      host("read", "translation"),
      host("write", "translation"),
      `{ op: expectIsolated, masters: [hlos.vcpu0], addr: p, size: 64K }`,
      // Not accepted yet: nothing is mapped for the guest either.
      `{ op: gunyah.isolated, vms: [guest, hlos], addr: p, size: 64K }`,
      `{ op: gunyah.accept, by: guest, handle: p, sgl: [{ ipa: 0x4000_0000, size: 64K }], as: m }`,
      guest("read", "m"),
      guest("write", "m + 0x10"),
      guest("exec", "m", "permission"),
      `{ op: gunyah.who, addr: p, size: 64K, expect: [{ vm: guest, rights: rw, parcel: p }] }`,
      `{ op: who, addr: p, expect: [{ master: vm128.vcpu0, rights: rw, space: ipa }] }`,
      `{ op: gunyah.vmInfo, vm: guest, expect: { mapped: 64K, accepted: [p] } }`,
      `{ op: gunyah.release, by: guest, handle: p }`,
      guest("read", "0x4000_0000", "translation"),
      // Released but not reclaimed: still nobody's.
      host("read", "translation"),
      `{ op: gunyah.who, addr: p, size: 64K, expect: [] }`,
      `{ op: gunyah.reclaim, handle: p }`,
      `{ op: access, device: hlos.vcpu0, kind: read, va: ${PA}, expect: 'de ad' }`,
      `{ op: read, addr: 0x8000_0010, expect: 'be ef' }`,
      `{ op: gunyah.who, addr: p, size: 64K, expect: [{ vm: hlos, rights: rwx, parcel: none }] }`,
      `{ op: gunyah.isolated, vms: [guest], addr: p, size: 64K }`,
      `{ op: gunyah.vmInfo, vm: guest, expect: { mapped: 0, accepted: [] } }`,
    );
    expect(failures(r)).toEqual([]);
    expect(statuses(r).every((s) => s === "ok")).toBe(true);
    expect(stepOf(r, 11).summary).toBe("vm128 (rw) at IPA 0x40000000-0x4000ffff via parcel 0");
  });

  it("SHARE keeps the owner's access, narrowed to its ACL rights; each VM has its own", () => {
    const r = run(
      GUEST,
      `{ op: gunyah.share, acl: [{ vm: guest, rights: r }, { vm: hlos, rights: rw }], sgl: [{ ipa: ${PA}, size: 4K }], as: s }`,
      host("write"),
      `{ op: access, device: hlos.vcpu0, kind: exec, va: ${PA}, size: 4, expectFault: { kind: permission, stage: 2 } }`,
      `{ op: gunyah.accept, by: guest, handle: s, as: m }`,
      `{ op: gunyah.access, vm: guest, kind: read, ipa: m, expect: 'de ad' }`,
      guest("write", "m", "permission"),
      `{ op: gunyah.who, addr: s, size: 4K, expect: [{ vm: hlos, rights: rw, parcel: s }, { vm: guest, rights: r, parcel: s }] }`,
      `{ op: gunyah.release, by: guest, handle: s }`,
      `{ op: gunyah.reclaim, handle: s }`,
      // Reclaimed: the host has its full rights back.
      `{ op: gunyah.who, addr: ${PA}, expect: [{ vm: hlos, rights: rwx, parcel: none }] }`,
    );
    expect(failures(r)).toEqual([]);
  });

  it("DONATE is for good: the owner loses the memory, the parcel is gone, it cannot be reclaimed or lent again", () => {
    const r = run(
      GUEST,
      host("write"),
      `{ op: gunyah.donate, acl: [{ vm: guest, rights: rwx }], sgl: [{ ipa: ${PA}, size: 4K }], as: d }`,
      `{ op: gunyah.accept, by: guest, handle: d, sgl: [{ ipa: 0x4000_0000, size: 4K }], as: mine }`,
      `{ op: gunyah.parcelInfo, handle: d, expect: { exists: false } }`,
      `{ op: gunyah.reclaim, handle: d, expect: { err: HANDLE_INVALID } }`,
      host("read", "translation"),
      `{ op: gunyah.lend, acl: [{ vm: guest, rights: rwx }], sgl: [{ ipa: ${PA}, size: 4K }], expect: { err: MEM_INVALID } }`,
      `{ op: gunyah.access, vm: guest, kind: read, ipa: mine, expect: 'de ad' }`,
      `{ op: gunyah.who, addr: ${PA}, expect: [{ vm: guest, rights: rwx, parcel: none }] }`,
      // The guest owns it now: it may lend it back to the host, as an owner.
      `{ op: gunyah.lend, from: guest, acl: [{ vm: hlos, rights: r }], sgl: [{ ipa: mine, size: 4K }], as: back }`,
      `{ op: gunyah.accept, by: hlos, handle: back, as: borrowed }`,
      `{ op: gunyah.who, addr: ${PA}, expect: [{ vm: hlos, rights: r, parcel: back }] }`,
      `{ op: gunyah.parcelInfo, handle: back, expect: { owner: guest, accepted: [hlos] } }`,
    );
    expect(failures(r)).toEqual([]);
  });

  it("gunyah.who and gunyah.isolated say what differs", () => {
    const r = run(
      GUEST,
      `{ op: gunyah.lend, acl: [{ vm: guest, rights: rw }], sgl: [{ ipa: ${PA}, size: 4K }], as: p }`,
      `{ op: gunyah.accept, by: guest, handle: p }`,
      `{ op: gunyah.who, addr: p, expect: [{ vm: hlos }, { vm: guest, rights: r, parcel: 3 }] }`,
      `{ op: gunyah.isolated, vms: [guest], addr: p }`,
      `{ op: gunyah.who, addr: p, expect: [{ vm: guest, parcel: none }] }`,
    );
    expect(failures(r)).toEqual([
      "VMs reaching 0x80000000: hlos does not reach it; vm128 may rw, not r; vm128 reaches it through parcel 0, not parcel 3 (handle 3)",
      "vm128 isolated from 0x80000000: vm128.vcpu0 at 0x10000000000 (rw)",
      "VMs reaching 0x80000000: vm128 reaches it through parcel 0, not its own memory",
    ]);
  });
});

describe("gunyah.access", () => {
  it("is the access step through a VM's vCPU, faults as expectations; a missing vCPU is ENOENT", () => {
    const r = run(
      GUEST,
      guest("read", "0x8000_0000", "translation"),
      guest("read", "0x8000_0000", "permission"),
      "{ op: gunyah.access, vm: guest, vcpu: 1, kind: read, ipa: 0, size: 1, expectError: ENOENT }",
    );
    expect(statuses(r)).toEqual(["ok", "ok", "failed", "expected-error"]);
    expect(failures(r)).toEqual([
      "vm128.vcpu0 read of 4 bytes at 0x80000000: expected a permission fault, got translation fault, stage 2 level 0",
    ]);
    expect(stepOf(r, 3).error?.message).toBe("ENOENT: vm128 has no vCPU 1 (vCPUs: vm128.vcpu0)");
    expect(stepOf(r, 1).description).toBe("guest vcpu0: read 4 bytes at IPA 0x80000000");
  });

  it("checks its fields at load time as access does", () => {
    expect(
      errors(
        "{ op: gunyah.access, vm: guest, kind: write, ipa: 0 }",
        "{ op: gunyah.access, vm: guest, kind: read, ipa: 0 }",
      ),
    ).toEqual([
      `${FIRST_STEP_LINE}:5 steps[0].data: missing required key "data" (a write writes data)`,
      `${FIRST_STEP_LINE + 1}:5 steps[1].size: missing required key "size" (or "expect", whose length is the size)`,
    ]);
  });
});

describe("gunyah.notifications", () => {
  it("takes what arrived since the last check; a mismatch says which entry and field", () => {
    const r = run(
      GUEST,
      "{ op: gunyah.notifications, expect: [{ kind: VM_STATUS, vm: guest, state: LOAD }] }",
      "{ op: gunyah.notifications, expect: [] }",
      "{ op: gunyah.vmAllocate, as: other }",
      "{ op: gunyah.notifications, expect: [{ kind: VM_STATUS, vm: guest }] }",
      "{ op: gunyah.vmAllocate }",
      "{ op: gunyah.notifications, expect: [{ kind: VM_EXITED }, { kind: VM_STATUS }] }",
    );
    expect(failures(r)).toEqual([
      "hlos's notifications: #0: VM_STATUS vm129 LOAD: vm is 129, not 128",
      "hlos's notifications: expected 2 (VM_EXITED; VM_STATUS), got 1 (VM_STATUS vm130 LOAD)",
    ]);
    expect(stepOf(r, 2).summary).toBe("none");
  });

  it("refuses a field the notification does not have, at load time", () => {
    expect(
      errors("{ op: gunyah.notifications, expect: [{ kind: VM_SHUTDOWN, vm: guest }] }"),
    ).toEqual([
      `${FIRST_STEP_LINE}:63 steps[0].expect[0].vm: unknown key "vm" (allowed: kind, reason)`,
    ]);
  });
});
