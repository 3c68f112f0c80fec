import { describe, expect, it } from "vitest";

import { stepOf } from "./steps.testutil.js";
import { failures, messagesOf, run, statuses } from "./gunyah.testutil.js";

const CREATE = "{ op: gunyah.vmmCreate, as: guest }";
const DTB_REGION =
  "{ op: gunyah.vmmRegion, vm: guest, label: 0, gpa: 0x8000_0000, size: 2M, uaddr: 0x9000_0000, lend: true }";

describe("the VM manager's steps", () => {
  it("create, region, DTB, start: the guest runs; its VM is a VM for the other gunyah steps", () => {
    const r = run(
      "{ op: write, addr: 0x9000_0100, data: { text: dtb } }",
      "{ op: gunyah.vmmCreate, as: guest, expect: { vmid: vm128 } }",
      DTB_REGION,
      "{ op: gunyah.vmmDtb, vm: guest, gpa: 0x8000_0100, size: 3 }",
      "{ op: gunyah.vmmStart, vm: guest, expect: { state: RUNNING } }",
      "{ op: gunyah.access, vm: guest, kind: read, ipa: 0x8000_0100, expect: { text: dtb } }",
      "{ op: gunyah.parcelInfo, handle: 0, expect: { owner: hlos, type: LEND, label: 0, accepted: [guest] } }",
      // The manager's own host session got the notifications; the scenario's host session too.
      "{ op: gunyah.notifications, expect: [{ kind: VM_STATUS, state: LOAD }, { kind: VM_STATUS, state: INIT }, { kind: VM_STATUS, state: READY }, { kind: VM_STATUS, state: RUNNING }] }",
    );
    expect(failures(r)).toEqual([]);
    expect(stepOf(r, 2).description).toBe(
      "VM manager: guest region 0 at 0x80000000 (2 MiB) from 0x90000000 (lend)",
    );
    expect(stepOf(r, 4).summary).toBe("GH_VM_START vm128: RUNNING");
    expect(messagesOf(r, 4)).toEqual(["ok GH_VM_START vm128: state = RUNNING"]);
  });

  it("errnos as expectations; a failure without expect stops the run with the errno's code", () => {
    const r = run(
      CREATE,
      DTB_REGION,
      "{ op: gunyah.vmmRegion, vm: guest, label: 0, gpa: 0xa000_0000, size: 4K, uaddr: 0x9100_0000, expect: { errno: -EEXIST } }",
      "{ op: gunyah.vmmRegion, vm: guest, label: 1, gpa: 0xa000_0000, size: 4K, uaddr: 0x9100_0000, expect: { errno: EEXIST } }",
      "{ op: gunyah.vmmRegion, vm: guest, label: 2, gpa: 0x8000_0000, size: 4K, uaddr: 0x9100_0000 }",
      "{ op: gunyah.vmmStart, vm: guest }",
    );
    expect(statuses(r)).toEqual(["ok", "ok", "ok", "failed", "failed", "skipped"]);
    expect(failures(r)).toEqual([
      "GH_VM_SET_USER_MEM_REGION vm128 label 1: expected -EEXIST, got success",
      "VM manager: guest region 2 at 0x80000000 (4 KiB) from 0x91000000: step failed: EEXIST: GH_VM_SET_USER_MEM_REGION vm128 label 2: expected success, got -EEXIST: region 2: overlaps region 0",
    ]);
    expect(messagesOf(r, 2)).toEqual([
      "ok GH_VM_SET_USER_MEM_REGION vm128 label 0: -EEXIST: region 0: the label is taken, as expected",
    ]);
  });

  it("a start the RM refuses is INIT_FAILED with the RM error; the teardown gives everything back", () => {
    const r = run(
      CREATE,
      "{ op: gunyah.vmmRegion, vm: guest, label: 0, gpa: 0x8000_0000, size: 2M, uaddr: 0x4000_0000, lend: true }",
      "{ op: gunyah.vmmDtb, vm: guest, gpa: 0x8000_0000, size: 4K }",
      "{ op: gunyah.vmmStart, vm: guest, expect: { errno: EINVAL, rmError: MEM_INVALID, state: INIT_FAILED } }",
      "{ op: gunyah.vmmTeardown, vm: guest, expect: { stranded: [], deallocated: true, steps: [VM_DEALLOCATE OK] } }",
      "{ op: gunyah.vmmStart, vm: guest, expectError: ENOENT }",
    );
    expect(failures(r)).toEqual([]);
    expect(stepOf(r, 5).error?.message).toBe(
      "ENOENT: guest (VMID 0x80) is not a VM of the VM manager (gunyah.vmmCreate made: none)",
    );
  });

  it("a teardown's expectations: stranded regions by label and error, deallocated, the RPCs it made", () => {
    const r = run(
      CREATE,
      DTB_REGION,
      "{ op: gunyah.vmmDtb, vm: guest, gpa: 0x8000_0000, size: 4K }",
      "{ op: gunyah.vmmStart, vm: guest }",
      // Restarted behind the manager's back: it believes the VM is down (it saw RESET).
      "{ op: gunyah.vmStop, vm: guest }",
      "{ op: gunyah.vmReset, vm: guest }",
      "{ op: gunyah.vmConfigImage, vm: guest, handle: 0 }",
      "{ op: gunyah.vmInit, vm: guest }",
      "{ op: gunyah.vmStart, vm: guest }",
      "{ op: gunyah.vmmTeardown, vm: guest, expect: { stranded: [], deallocated: true, steps: [VM_STOP OK] } }",
    );
    expect(failures(r)).toEqual([
      "teardown of vm128: stranded: expected nothing, got region 0",
      "teardown of vm128: deallocated: expected true, got false",
      "teardown of vm128: steps: expected VM_STOP OK, got VM_RESET VM_STATE; MEM_RECLAIM 0 MEM_INUSE; VM_DEALLOCATE VM_STATE",
    ]);
    const s = stepOf(r, 9);
    expect(s.summary).toBe(
      "teardown of vm128: VM_RESET VM_STATE (-EBADMSG); MEM_RECLAIM 0 MEM_INUSE (-EINVAL); VM_DEALLOCATE VM_STATE (-EBADMSG); stranded: region 0 (handle 0, 0x90000000+2 MiB): MEM_INUSE (-EINVAL)",
    );
    expect(s.tables?.map((t) => t.title)).toEqual([
      "teardown of vm128",
      "stranded by the teardown of vm128",
    ]);
    // Still the manager's VM: once stopped and reset by hand, its teardown finishes the job.
    const again = run(
      CREATE,
      DTB_REGION,
      "{ op: gunyah.vmmDtb, vm: guest, gpa: 0x8000_0000, size: 4K }",
      "{ op: gunyah.vmmStart, vm: guest }",
      "{ op: gunyah.vmStop, vm: guest }",
      "{ op: gunyah.vmReset, vm: guest }",
      "{ op: gunyah.vmConfigImage, vm: guest, handle: 0 }",
      "{ op: gunyah.vmInit, vm: guest }",
      "{ op: gunyah.vmStart, vm: guest }",
      "{ op: gunyah.vmmTeardown, vm: guest, expect: { stranded: [{ label: 0, err: MEM_INUSE }], deallocated: false } }",
      "{ op: gunyah.vmStop, vm: guest }",
      "{ op: gunyah.vmmTeardown, vm: guest, expect: { stranded: [], deallocated: true } }",
      "{ op: gunyah.vmInfo, vm: guest, expect: { exists: false } }",
    );
    expect(failures(again)).toEqual([]);
  });
});
