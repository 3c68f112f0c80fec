import { describe, expect, it } from "vitest";

import { stepOf } from "./steps.testutil.js";
import { failures, GUEST, messagesOf, run, statuses } from "./gunyah.testutil.js";

/** An image parcel for the guest (4 MiB at 0x8800_0000, its first bytes "boot"), configured. */
const CONFIGURED = [
  GUEST,
  "{ op: write, addr: 0x8800_0000, data: { text: boot } }",
  "{ op: gunyah.lend, acl: [{ vm: guest, rights: rwx }], sgl: [{ ipa: 0x8800_0000, size: 4M }], as: image }",
  "{ op: gunyah.vmConfigImage, vm: guest, handle: image, imageSize: 2M, dtbOffset: 2M, dtbSize: 4K }",
];
const RUNNING = [
  ...CONFIGURED,
  "{ op: gunyah.vmInit, vm: guest }",
  "{ op: gunyah.vmStart, vm: guest }",
];

describe("gunyah VM lifecycle steps", () => {
  it("allocate, configure, init, start: the RM accepts the image at the memory base; the guest runs it", () => {
    const r = run(
      ...RUNNING,
      "{ op: gunyah.vmGetState, vm: guest, expect: { state: RUNNING, os: BOOT, app: 0 } }",
      "{ op: gunyah.access, vm: guest, kind: read, ipa: 0x8000_0000, expect: { text: boot } }",
      "{ op: access, device: hlos.vcpu0, kind: read, va: image, size: 4, expectFault: { kind: translation, stage: 2 } }",
      "{ op: gunyah.parcelInfo, handle: image, expect: { state: SHARED, accepted: [guest], mapped: [guest] } }",
      "{ op: gunyah.vmInfo, vm: guest, expect: { state: RUNNING, mapped: 4M, accepted: [image] } }",
      "{ op: gunyah.notifications, expect: [{ kind: VM_STATUS, vm: guest, state: LOAD }, { kind: VM_STATUS, state: INIT }, { kind: VM_STATUS, state: READY }, { kind: VM_STATUS, state: RUNNING, os: BOOT }] }",
      "{ op: gunyah.notifications, vm: guest, expect: [{ kind: VM_STATUS, vm: guest, state: RUNNING }] }",
    );
    expect(failures(r)).toEqual([]);
    expect(r.steps.map((s) => s.summary).slice(0, 6)).toEqual([
      "VM_ALLOCATE from hlos: vm128 (VMID 0x80), vCPUs vm128.vcpu0",
      "62 6f 6f 74 at 0x88000000",
      "MEM_LEND from hlos (1 entry): handle 0: 4 MiB in 1 region, ACL vm128 rwx, SHARING",
      "VM_CONFIG_IMAGE from hlos of vm128 with handle 0: vm128 is INIT",
      "VM_INIT from hlos of vm128: vm128 is READY",
      "VM_START from hlos of vm128: vm128 is RUNNING",
    ]);
  });

  it("stop, reclaim before reset is MEM_INUSE, reset releases (MEM_RELEASED), reclaim, deallocate", () => {
    const r = run(
      ...RUNNING,
      "{ op: gunyah.access, vm: guest, kind: write, ipa: 0x8000_0010, data: { text: ran } }",
      "{ op: gunyah.notifications }",
      "{ op: gunyah.vmStop, vm: guest }",
      "{ op: gunyah.reclaim, handle: image, expect: { err: MEM_INUSE } }",
      "{ op: gunyah.vmDeallocate, vm: guest, expect: { err: VM_STATE } }",
      "{ op: gunyah.vmReset, vm: guest }",
      "{ op: gunyah.notifications, expect: [{ kind: VM_STATUS, state: EXITED, os: HALTED }, { kind: VM_EXITED, vm: guest, exitType: VM_STOP_FORCED, reason: [3] }, { kind: VM_STATUS, state: RESETTING }, { kind: MEM_RELEASED, handle: image, vm: guest }, { kind: VM_STATUS, state: RESET }] }",
      "{ op: gunyah.access, vm: guest, kind: read, ipa: 0x8000_0010, size: 3, expectFault: { kind: translation } }",
      "{ op: gunyah.reclaim, handle: image }",
      "{ op: access, device: hlos.vcpu0, kind: read, va: image + 0x10, expect: { text: ran } }",
      "{ op: gunyah.vmDeallocate, vm: guest }",
      "{ op: gunyah.vmGetState, vm: guest, expect: { err: VMID_INVALID } }",
      "{ op: gunyah.vmInfo, vm: guest, expect: { exists: false } }",
    );
    expect(failures(r)).toEqual([]);
    expect(stepOf(r, 8).description).toBe("VM_STOP guest FORCE");
  });

  it("a stop without force sends VM_SHUTDOWN to the guest, which exits itself: VM_EXITED to the host", () => {
    const r = run(
      ...RUNNING,
      "{ op: gunyah.notifications }",
      "{ op: gunyah.notifications, vm: guest }",
      "{ op: gunyah.vmStop, vm: guest, force: false }",
      "{ op: gunyah.vmGetState, vm: guest, expect: { state: RUNNING } }",
      "{ op: gunyah.notifications, vm: guest, expect: [{ kind: VM_SHUTDOWN, reason: SHUTDOWN }] }",
      "{ op: gunyah.vmExit, from: guest, code: SW_ERROR, flags: 5 }",
      "{ op: gunyah.vmExit, from: guest, expect: { err: VM_STATE } }",
      "{ op: gunyah.notifications, expect: [{ kind: VM_STATUS, vm: guest, state: EXITED }, { kind: VM_EXITED, vm: guest, exitType: VM_EXIT, reason: [0x10005] }] }",
      "{ op: gunyah.vmExit, from: hlos, expect: { err: DENIED } }",
    );
    expect(failures(r)).toEqual([]);
  });

  it("PLATFORM auth goes through AUTH; firmware memory only in INIT; a bad image range is INIT_FAILED", () => {
    const r = run(
      GUEST,
      "{ op: gunyah.lend, acl: [{ vm: guest, rights: rwx }], sgl: [{ ipa: 0x8800_0000, size: 4M }], as: image }",
      "{ op: gunyah.lend, acl: [{ vm: guest, rights: rwx }], sgl: [{ ipa: 0x8c00_0000, size: 64K }], label: 1, as: fw }",
      "{ op: gunyah.vmSetFirmwareMem, vm: guest, handle: fw, size: 64K, expect: { err: VM_STATE } }",
      "{ op: gunyah.vmConfigImage, vm: guest, handle: image, auth: PLATFORM, imageSize: 1M }",
      "{ op: gunyah.vmGetState, vm: guest, expect: { state: AUTH } }",
      "{ op: gunyah.vmInit, vm: guest, expect: { err: VM_STATE } }",
      "{ op: gunyah.vmAuthImage, vm: guest, params: [{ type: 1, param: 2 }] }",
      "{ op: gunyah.vmSetFirmwareMem, vm: guest, handle: fw, offset: 64K, size: 4K, expect: { err: ARGUMENT_INVALID } }",
      "{ op: gunyah.vmSetFirmwareMem, vm: guest, handle: fw, size: 64K }",
      "{ op: gunyah.vmInit, vm: guest }",
      "{ op: gunyah.vmStart, vm: guest }",
      "{ op: gunyah.vmInfo, vm: guest, expect: { mapped: 0x410000, accepted: [image, fw] } }",
      // A second VM given a parcel whose ACL lacks it: MEM_INVALID, and INIT_FAILED.
      "{ op: gunyah.vmAllocate, as: other }",
      "{ op: gunyah.vmConfigImage, vm: other, handle: image, imageSize: 8M, expect: { err: MEM_INVALID } }",
      "{ op: gunyah.vmGetState, vm: other, expect: { state: INIT_FAILED } }",
    );
    expect(failures(r)).toEqual([]);
  });

  it("VMIDs: a chosen one, one in use, one out of range; only the host allocates; GET_VMID and GET_HYP_RESOURCES", () => {
    const r = run(
      "{ op: gunyah.vmAllocate, vmid: 0x90, as: a, expect: { vmid: vm144 } }",
      "{ op: gunyah.vmAllocate, vmid: 0x90, expect: { err: IN_USE } }",
      "{ op: gunyah.vmAllocate, vmid: 0x10, expect: { err: VMID_INVALID } }",
      "{ op: gunyah.vmAllocate, from: a, expect: { err: DENIED } }",
      "{ op: gunyah.vmGetVmid, from: a, expect: { vmid: 0x90 } }",
      "{ op: gunyah.vmGetVmid, expect: { vmid: hlos } }",
      "{ op: gunyah.vmGetState, from: a, expect: { state: LOAD } }",
      "{ op: gunyah.vmGetHypResources, vm: a, expect: { count: 3, vcpus: 1, types: [VCPU, MSGQ_TX, MSGQ_RX] } }",
      "{ op: gunyah.vmGetHypResources, from: a, vm: hlos, expect: { err: VMID_INVALID } }",
      "{ op: gunyah.vmDeallocate, vm: 0x91, expect: { err: VMID_INVALID } }",
      "{ op: gunyah.vmDeallocate, from: a, vm: a, expect: { err: DENIED } }",
      "{ op: gunyah.vmDeallocate, vm: a }",
      // The name is free again once the VM is gone.
      "{ op: gunyah.vmAllocate, as: a, expect: { vmid: vm128 } }",
    );
    expect(failures(r)).toEqual([]);
    expect(messagesOf(r, 0)).toEqual(["ok VM_ALLOCATE from hlos: VMID = 0x90"]);
  });

  it("a value that differs is a failed expectation naming the RPC, the VM, what was expected and found", () => {
    const r = run(
      GUEST,
      "{ op: gunyah.vmGetState, vm: guest, expect: { state: READY } }",
      "{ op: gunyah.vmStart, vm: guest, expect: { err: DENIED } }",
      "{ op: gunyah.vmInit, vm: guest }",
    );
    expect(statuses(r)).toEqual(["ok", "failed", "failed", "failed"]);
    expect(failures(r)).toEqual([
      "VM_GET_STATE from hlos of vm128: state: expected READY, got LOAD",
      "VM_START from hlos of vm128: expected DENIED, got VM_STATE",
      "VM_INIT guest: step failed: EINVAL: VM_INIT from hlos of vm128: expected OK, got VM_STATE",
    ]);
  });
});
