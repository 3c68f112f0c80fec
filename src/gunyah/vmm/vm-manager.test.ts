import { describe, expect, it } from "vitest";

import { InProcessRmClient } from "../client/in-process.js";
import { VM_STATE } from "../hyp/vm.js";
import { createGunyahMachine } from "../platform.js";
import { RmHub } from "../rm/hub.js";
import type { UserMemRegion } from "./vm-manager.js";
import { GhVm } from "./vm-manager.js";

const M = 1024 * 1024;

function setup() {
  const m = createGunyahMachine();
  const hub = new RmHub(m.rm);
  const host = new InProcessRmClient(hub, 3);
  const created = GhVm.create(host);
  if (!created.ok) throw new Error(created.message);
  return { ...m, hub, host, vm: created.value };
}

const dtbRegion: UserMemRegion = {
  label: 0,
  flags: 7,
  guestPhysAddr: 0x8000_0000,
  size: 2 * M,
  userspaceAddr: 0x9000_0000,
  shareType: "lend",
};

describe("GhVm regions (GH_VM_SET_USER_MEM_REGION)", () => {
  it.each([
    [{ size: 4097 }, "-EINVAL", /size 1001 is not page-aligned/],
    [{ guestPhysAddr: 0x123 }, "-EINVAL", /guest_phys_addr 123/],
    [{ userspaceAddr: 0x9000_0800 }, "-EINVAL", /userspace_addr/],
    [{ size: 0 }, "-EINVAL", /size 0/],
    [{ flags: 8 }, "-EINVAL", /flags 8/],
    [{ guestPhysAddr: 2 ** 53 - 4096 }, "-EOVERFLOW", /overflows/],
  ])("refuses %o with %s", (patch, errno, message) => {
    const { vm } = setup();
    const r = vm.setUserMemRegion({ ...dtbRegion, ...patch });
    expect(r).toMatchObject({ ok: false, errno });
    expect(!r.ok && r.message).toMatch(message);
    expect(vm.regions()).toEqual([]);
  });

  it("refuses a duplicate label and an overlap with -EEXIST", () => {
    const { vm } = setup();
    expect(vm.setUserMemRegion(dtbRegion).ok).toBe(true);
    expect(vm.setUserMemRegion({ ...dtbRegion, guestPhysAddr: 0x9000_0000 })).toMatchObject({
      errno: "-EEXIST",
    });
    expect(
      vm.setUserMemRegion({ ...dtbRegion, label: 1, guestPhysAddr: 0x8010_0000 }),
    ).toMatchObject({
      errno: "-EEXIST",
      message: "region 1: overlaps region 0",
    });
    expect(vm.regions()).toHaveLength(1);
  });
});

describe("GhVm start and teardown", () => {
  it("starts a VM: lends the DTB region, configures, inits, starts; the guest reads its memory", () => {
    const { vm, hyp, platform } = setup();
    platform.write(0x9000_0010, new Uint8Array([0xd0, 0x0d, 0xfe, 0xed]));
    vm.setUserMemRegion(dtbRegion);
    vm.setUserMemRegion({
      label: 1,
      flags: 3,
      guestPhysAddr: 0x9000_0000,
      size: 1 * M,
      userspaceAddr: 0x9100_0000,
    });
    vm.setDtbConfig(0x8000_0010, 100);
    expect(vm.start()).toEqual({ ok: true, value: undefined });
    expect(vm.status).toBe(VM_STATE.RUNNING);
    const guest = hyp.vm(vm.vmid)!;
    expect(guest.state).toBe(VM_STATE.RUNNING);
    // The DTB region was accepted by the RM at the memory base.
    expect([...guest.vcpus[0]!.read(0x8000_0010, 4)]).toEqual([0xd0, 0x0d, 0xfe, 0xed]);
    // The host lost the lent region; it keeps the shared one.
    expect(() => hyp.host.vcpus[0]!.read(0x9000_0000, 4)).toThrow();
    expect(hyp.host.vcpus[0]!.read(0x9100_0000, 4)).toHaveLength(4);
    expect(vm.resources.length).toBeGreaterThan(0);
    expect(vm.start()).toEqual({ ok: true, value: undefined }); // idempotent

    const report = vm.teardown();
    expect(report.steps.map((s) => `${s.op} ${s.result}`)).toEqual([
      "VM_STOP OK",
      "VM_RESET OK",
      "MEM_RECLAIM 0 OK",
      "MEM_RECLAIM 1 OK",
      "VM_DEALLOCATE OK",
    ]);
    expect(report.stranded).toEqual([]);
    expect(hyp.vm(vm.vmid)).toBeUndefined();
    expect(hyp.host.vcpus[0]!.read(0x9000_0010, 4)).toHaveLength(4);
  });

  it("a start with no region holding the DTB is INIT_FAILED, -EINVAL; teardown gives everything back", () => {
    const { vm, rm } = setup();
    const before = rm.digest();
    vm.setUserMemRegion(dtbRegion);
    vm.setDtbConfig(0xa000_0000, 4096);
    expect(vm.start()).toMatchObject({ ok: false, errno: "-EINVAL" });
    expect(vm.status).toBe(VM_STATE.INIT_FAILED);
    const report = vm.teardown();
    expect(report.stranded).toEqual([]);
    expect(report.deallocated).toBe(true);
    expect(rm.parcels.list()).toEqual([]);
    expect(rm.digest()).not.toBe(before); // the VM existed at `before`
  });

  it("a start whose lend fails reports the RM error and errno", () => {
    const { vm } = setup();
    vm.setUserMemRegion({ ...dtbRegion, userspaceAddr: 0x2000_0000 }); // not host memory
    vm.setDtbConfig(0x8000_0000, 4096);
    expect(vm.start()).toMatchObject({ ok: false, rmError: "MEM_INVALID", errno: "-EINVAL" });
    expect(vm.startError?.message).toBe("lend region 0: MEM_INVALID (-EINVAL)");
  });

  it("shows what is stranded when a reclaim is refused (reclaim without reset, as the seed's gh_vm_free)", () => {
    const { vm, host, rm } = setup();
    vm.setUserMemRegion(dtbRegion);
    vm.setDtbConfig(0x8000_0000, 4096);
    expect(vm.start().ok).toBe(true);
    // Another host client reclaims nothing but the guest holds the parcel: force a refused
    // reclaim by making the reset fail (the VM is RUNNING: VM_RESET is VM_STATE without a stop).
    const handle = vm.handleOf(0)!;
    expect(host.call({ id: "MEM_RECLAIM", handle, flags: 0 })).toMatchObject({ err: "MEM_INUSE" });
    (vm as unknown as { status: number }).status = VM_STATE.READY; // the host lost track: no stop
    const report = vm.teardown();
    expect(report.steps[0]).toEqual({ op: "VM_RESET", result: "VM_STATE (-EBADMSG)" });
    expect(report.stranded).toEqual([
      { label: 0, handle, userspaceAddr: 0x9000_0000, size: 2 * M, error: "MEM_INUSE (-EINVAL)" },
    ]);
    expect(report.deallocated).toBe(false);
    expect(rm.parcels.get(handle)?.state).toBe("SHARED");
  });
});
