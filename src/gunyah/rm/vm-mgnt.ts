/**
 * The RM's VM management (vm_mgnt.c, vm_creation/): VM_ALLOCATE .. VM_EXIT on the reference's
 * state machine (§8), and the notifications VM_STATUS, VM_EXITED and VM_SHUTDOWN.
 *
 * Decisions where the sources are open (docs/gunyah.md):
 * - VM_STATUS goes to the VM's owner on every state change, and to the VM itself while it runs.
 * - VM_ALLOCATE with a VMID outside 0x80..0xBE is VMID_INVALID; one in use is IN_USE.
 * - VM_DEALLOCATE of an unknown VMID is VMID_INVALID; of a VM that still owns parcels, IN_USE.
 * - VM_GET_STATE / GET_HYP_RESOURCES on a VM that is neither the caller nor the caller's:
 *   VMID_INVALID (the RM does not tell others' VMs apart from absent ones).
 * - VM_START accepts the image/DTB parcel at the VM's memory base (0x80000000 unless the
 *   platform says otherwise; the real RM reads it from the VM's DT), then each private parcel
 *   (NORMAL, label 0, this VM alone in the ACL with RWX) right after it, in handle order; the
 *   firmware parcel where the RM picks. Any failure releases what it accepted: INIT_FAILED,
 *   NORESOURCE.
 */
import type { Hypervisor } from "../hyp/hypervisor.js";
import type { GunyahVm, ImageConfig, VmState } from "../hyp/vm.js";
import type { HypResource } from "../wire/vm.js";
import { VM_STATE, VMID_DYNAMIC_FIRST, VMID_DYNAMIC_LAST, VMID_HLOS } from "../hyp/vm.js";
import type { MemParcels } from "./memparcel.js";
import {
  EXIT_CODE,
  EXIT_TYPE,
  HYP_RESOURCE_TYPE as RESOURCE_TYPE,
  OS_STATUS,
  VM_AUTH as AUTH,
  VM_STOP_FLAGS as STOP_FLAGS,
} from "../wire/vm.js";
import type { RmNotice, RmResult } from "./types.js";
import { MEM_TYPE, ok, refuse, RIGHTS, TRANS_TYPE } from "./types.js";

// The value sets are the wire's (one definition); re-exported under the RM's short names.
export { AUTH, EXIT_TYPE, OS_STATUS, RESOURCE_TYPE, STOP_FLAGS };
export { STOP_REASON } from "../wire/vm.js";

/** The transitions the RM allows (reference §8): target state <- the states it may come from. */
const ALLOWED: Record<number, readonly number[]> = {
  [VM_STATE.LOAD]: [VM_STATE.NO_STATE],
  [VM_STATE.AUTH]: [VM_STATE.LOAD, VM_STATE.RESET],
  [VM_STATE.INIT]: [VM_STATE.LOAD, VM_STATE.AUTH, VM_STATE.RESET],
  [VM_STATE.READY]: [VM_STATE.INIT],
  [VM_STATE.RUNNING]: [VM_STATE.READY, VM_STATE.PAUSED],
  [VM_STATE.PAUSED]: [VM_STATE.RUNNING],
  [VM_STATE.INIT_FAILED]: [
    VM_STATE.INIT,
    VM_STATE.READY,
    VM_STATE.LOAD,
    VM_STATE.AUTH,
    VM_STATE.RESET,
  ],
  [VM_STATE.EXITED]: [VM_STATE.RUNNING, VM_STATE.PAUSED],
  [VM_STATE.RESETTING]: [VM_STATE.EXITED, VM_STATE.READY, VM_STATE.INIT_FAILED],
  [VM_STATE.RESET]: [VM_STATE.RESETTING],
  [VM_STATE.NO_STATE]: [VM_STATE.RESET],
};

/** Whether the RM allows `from` -> `to`. */
export function transitionAllowed(from: number, to: number): boolean {
  return ALLOWED[to]?.includes(from) ?? false;
}

/** One GET_HYP_RESOURCES entry (the wire's 44-byte entry). */
export type { HypResource } from "../wire/vm.js";

/** VM_CONFIG_IMAGE's arguments. */
export interface ConfigImageArgs extends ImageConfig {
  readonly vmid: number;
}

export class VmManagement {
  constructor(
    private readonly hyp: Hypervisor,
    private readonly parcels: MemParcels,
    private readonly notify: (n: RmNotice) => void,
    /** Where VM_START accepts the image parcel (the VM's memory base). */
    private readonly memBase = 0x8000_0000,
    private readonly vcpus = 1,
    /** Told when a VM is deallocated (after its last notification is posted). */
    private readonly onGone: (vmid: number) => void = () => {},
  ) {}

  /** Move `vm` to `to` (the RM's `vm_mgnt_set_state`) and announce it. */
  private setState(vm: GunyahVm, to: VmState): void {
    vm.state = to;
    const status = {
      kind: "VM_STATUS" as const,
      vmid: vm.vmid,
      vmStatus: to,
      osStatus: vm.osStatus,
      appStatus: vm.appStatus,
    };
    if (vm.owner !== undefined) this.notify({ ...status, to: vm.owner });
    if (to === VM_STATE.RUNNING || to === VM_STATE.PAUSED) this.notify({ ...status, to: vm.vmid });
  }

  /** The VM `vmid` if `caller` owns it. */
  private owned(caller: number, vmid: number): GunyahVm | undefined {
    const vm = this.hyp.vm(vmid);
    return vm !== undefined && vm.owner === caller ? vm : undefined;
  }

  /** VM_ALLOCATE: a new VM in LOAD; vmid 0 picks a free dynamic VMID. Replies the VMID. */
  allocate(caller: number, vmid: number): RmResult<number> {
    if (caller !== VMID_HLOS) return refuse("DENIED");
    let id = vmid;
    if (id === 0) {
      id = -1;
      for (let v = VMID_DYNAMIC_FIRST; v <= VMID_DYNAMIC_LAST; v++)
        if (this.hyp.vm(v) === undefined) {
          id = v;
          break;
        }
      if (id < 0) return refuse("NORESOURCE");
    } else if (id < VMID_DYNAMIC_FIRST || id > VMID_DYNAMIC_LAST) return refuse("VMID_INVALID");
    else if (this.hyp.vm(id) !== undefined) return refuse("IN_USE");
    // The VM's vCPUs take the names vm<id>.vcpu<i>: a device of the machine already called so
    // leaves no room for it.
    if (this.hyp.platform.registry.has(`vm${id}.vcpu0`)) return refuse("NORESOURCE");
    const vm = this.hyp.addVm(id, `vm${id}`, caller, VM_STATE.NO_STATE, this.vcpus, this.memBase);
    this.setState(vm, VM_STATE.LOAD);
    return ok(id);
  }

  /** VM_DEALLOCATE: only from LOAD or RESET; frees the VMID. */
  deallocate(caller: number, vmid: number): RmResult<undefined> {
    const vm = this.hyp.vm(vmid);
    if (vm === undefined) return refuse("VMID_INVALID");
    if (vm.owner !== caller) return refuse("DENIED");
    if (vm.state !== VM_STATE.LOAD && vm.state !== VM_STATE.RESET) return refuse("VM_STATE");
    if (this.parcels.ownedBy(vmid) > 0) return refuse("IN_USE");
    this.parcels.releaseAll(vm);
    this.setState(vm, VM_STATE.NO_STATE);
    this.hyp.returnOwnedMemory(vm, caller);
    this.hyp.removeVm(vmid);
    this.onGone(vmid);
    return ok(undefined);
  }

  /** VM_CONFIG_IMAGE: in LOAD or RESET; a bad parcel or range is INIT_FAILED. */
  configImage(caller: number, a: ConfigImageArgs): RmResult<undefined> {
    const vm = this.hyp.vm(a.vmid);
    if (vm === undefined) return refuse("VMID_INVALID");
    if (caller !== VMID_HLOS || vm.owner !== caller) return refuse("DENIED");
    if (vm.state !== VM_STATE.LOAD && vm.state !== VM_STATE.RESET) return refuse("VM_STATE");
    const fail = (err: "MEM_INVALID" | "ARGUMENT_INVALID") => {
      this.setState(vm, VM_STATE.INIT_FAILED);
      return refuse(err);
    };
    if (a.auth !== AUTH.NONE && a.auth !== AUTH.PLATFORM && a.auth !== AUTH.ANDROID)
      return fail("ARGUMENT_INVALID");
    const p = this.parcels.get(a.handle);
    if (p === undefined || p.vmInfo(vm.vmid) === undefined) return fail("MEM_INVALID");
    const fits = (off: number, size: number) => off >= 0 && size >= 0 && off + size <= p.size;
    if (!fits(a.imageOffset, a.imageSize) || !fits(a.dtbOffset, a.dtbSize))
      return fail("ARGUMENT_INVALID");
    vm.image = { ...a };
    this.setState(vm, a.auth === AUTH.PLATFORM ? VM_STATE.AUTH : VM_STATE.INIT);
    return ok(undefined);
  }

  /** VM_AUTH_IMAGE: AUTH -> INIT. */
  authImage(caller: number, vmid: number): RmResult<undefined> {
    return this.step(caller, vmid, VM_STATE.AUTH, VM_STATE.INIT);
  }

  /** VM_INIT: INIT -> READY. */
  init(caller: number, vmid: number): RmResult<undefined> {
    return this.step(caller, vmid, VM_STATE.INIT, VM_STATE.READY);
  }

  private step(caller: number, vmid: number, from: VmState, to: VmState): RmResult<undefined> {
    const vm = this.hyp.vm(vmid);
    if (vm === undefined) return refuse("VMID_INVALID");
    if (vm.owner !== caller) return refuse("DENIED");
    if (vm.state !== from) return refuse("VM_STATE");
    this.setState(vm, to);
    return ok(undefined);
  }

  /** VM_SET_FIRMWARE_MEM: only in INIT. */
  setFirmwareMem(
    caller: number,
    vmid: number,
    handle: number,
    offset: number,
    size: number,
  ): RmResult<undefined> {
    const vm = this.hyp.vm(vmid);
    if (vm === undefined) return refuse("VMID_INVALID");
    if (vm.owner !== caller) return refuse("DENIED");
    if (vm.state !== VM_STATE.INIT) return refuse("VM_STATE");
    const p = this.parcels.get(handle);
    if (p === undefined || p.vmInfo(vmid) === undefined) return refuse("MEM_INVALID");
    if (offset < 0 || size <= 0 || offset + size > p.size) return refuse("ARGUMENT_INVALID");
    vm.firmware = { handle, offset, size };
    return ok(undefined);
  }

  /** VM_START: READY -> the RM's own accepts -> RUNNING; a failed accept: INIT_FAILED, NORESOURCE. */
  start(caller: number, vmid: number): RmResult<undefined> {
    const vm = this.hyp.vm(vmid);
    if (vm === undefined) return refuse("VMID_INVALID");
    if (vm.owner !== caller) return refuse("DENIED");
    if (vm.state !== VM_STATE.READY) return refuse("VM_STATE");
    // What this start accepted, released again if a later accept fails: the start is all or
    // nothing. Donations are never private parcels (a committed donation cannot be undone),
    // and the firmware parcel is accepted last, so nothing can fail after it.
    const accepted: number[] = [];
    const failStart = () => {
      this.parcels.releaseFor(vm, accepted);
      this.setState(vm, VM_STATE.INIT_FAILED);
      return refuse("NORESOURCE");
    };
    const take = (handle: number, ipa: number | undefined): boolean => {
      if (this.parcels.acceptFor(vm, handle, ipa).err !== "OK") return false;
      accepted.push(handle);
      return true;
    };
    const image = vm.image === undefined ? undefined : this.parcels.get(vm.image.handle);
    // The image parcel named by VM_CONFIG_IMAGE must still be there (it may have been
    // reclaimed since): without it there is nothing to boot.
    if (vm.image !== undefined && image === undefined) return failStart();
    if (image !== undefined) {
      const acl = image.acl;
      if (
        image.transType !== TRANS_TYPE.LEND ||
        acl.length !== 1 ||
        acl[0]!.vmid !== vmid ||
        acl[0]!.rights !== RIGHTS.RWX
      )
        return failStart();
      if (!take(image.handle, vm.memBase)) return failStart();
    }
    let next = vm.memBase + (image?.size ?? 0);
    const firmware = vm.firmware === undefined ? undefined : this.parcels.get(vm.firmware.handle);
    for (const p of this.parcels.list()) {
      if (p === image || p === firmware || p.state === "INIT" || p.vmInfo(vmid)?.shared === true)
        continue;
      const only = p.acl.length === 1 && p.acl[0]!.vmid === vmid && p.acl[0]!.rights === RIGHTS.RWX;
      if (
        !only ||
        p.memType !== MEM_TYPE.NORMAL ||
        p.label !== 0 ||
        p.transType === TRANS_TYPE.DONATE
      )
        continue;
      const align = p.size >= 2 * 1024 * 1024 ? 2 * 1024 * 1024 : 4096;
      next = Math.ceil(next / align) * align;
      if (!take(p.handle, next)) return failStart();
      next += p.size;
    }
    if (
      firmware !== undefined &&
      firmware.vmInfo(vmid)?.shared !== true &&
      !take(firmware.handle, undefined)
    )
      return failStart();
    if (image !== undefined && vm.image!.auth !== AUTH.NONE) image.sanitizeReclaim = true;
    vm.osStatus = OS_STATUS.BOOT;
    this.setState(vm, VM_STATE.RUNNING);
    return ok(undefined);
  }

  /** VM_STOP: forced -> EXITED and VM_EXITED to the owner; else VM_SHUTDOWN to the guest. */
  stop(caller: number, vmid: number, flags: number, reason: number): RmResult<undefined> {
    const vm = this.owned(caller, vmid);
    if (vm === undefined) return refuse("VMID_INVALID");
    if (vm.state !== VM_STATE.RUNNING && vm.state !== VM_STATE.PAUSED) return refuse("VM_STATE");
    vm.stopReason = reason;
    if ((flags & STOP_FLAGS.FORCE) !== 0) {
      vm.osStatus = OS_STATUS.HALTED;
      this.setState(vm, VM_STATE.EXITED);
      this.notify({
        kind: "VM_EXITED",
        to: caller,
        vmid,
        exitType: EXIT_TYPE.VM_STOP_FORCED,
        reason: [reason],
      });
    } else this.notify({ kind: "VM_SHUTDOWN", to: vmid, stopReason: reason });
    return ok(undefined);
  }

  /** VM_EXIT from a guest: EXITED, and VM_EXITED (type VM_EXIT) to its owner. */
  exit(caller: number, exitFlags: number, exitCode: number): RmResult<undefined> {
    // vm_mgnt.c takes exit codes NORMAL 0, SW_ERROR 1, BUS 3 and DEVICE 4 (not UNKNOWN 2).
    const codes: number[] = [EXIT_CODE.NORMAL, EXIT_CODE.SW_ERROR, EXIT_CODE.BUS, EXIT_CODE.DEVICE];
    if (!codes.includes(exitCode)) return refuse("MSG_INVALID");
    const vm = this.hyp.vm(caller);
    if (vm === undefined || vm.owner === undefined) return refuse("DENIED");
    if (vm.state !== VM_STATE.RUNNING && vm.state !== VM_STATE.PAUSED) return refuse("VM_STATE");
    vm.osStatus = OS_STATUS.HALTED;
    this.setState(vm, VM_STATE.EXITED);
    this.notify({
      kind: "VM_EXITED",
      to: vm.owner,
      vmid: vm.vmid,
      exitType: EXIT_TYPE.VM_EXIT,
      reason: [(exitFlags & 0xffff) | ((exitCode & 0xff) << 16)],
    });
    return ok(undefined);
  }

  /** VM_RESET: -> RESETTING, releases every parcel it accepted (MEM_RELEASED to owners) -> RESET. */
  reset(caller: number, vmid: number): RmResult<undefined> {
    const vm = this.hyp.vm(vmid);
    if (vm === undefined) return refuse("VMID_INVALID");
    if (vm.owner !== caller) return refuse("DENIED");
    if (!transitionAllowed(vm.state, VM_STATE.RESETTING)) return refuse("VM_STATE");
    this.setState(vm, VM_STATE.RESETTING);
    this.parcels.releaseAll(vm);
    vm.osStatus = OS_STATUS.NONE;
    vm.image = undefined;
    vm.firmware = undefined;
    this.setState(vm, VM_STATE.RESET);
    return ok(undefined);
  }

  /** VM_GET_STATE (vmid 0: the caller): `vm_state | os << 8 | app << 16`. */
  getState(
    caller: number,
    vmid: number,
  ): RmResult<{ vmState: number; osStatus: number; appStatus: number }> {
    const vm = this.visible(caller, vmid);
    if (vm === undefined) return refuse("VMID_INVALID");
    return ok({ vmState: vm.state, osStatus: vm.osStatus, appStatus: vm.appStatus });
  }

  /** VM_GET_HYP_RESOURCES: the VM's vCPUs and its message queue with the RM. */
  hypResources(caller: number, vmid: number): RmResult<HypResource[]> {
    const vm = this.visible(caller, vmid);
    if (vm === undefined) return refuse("VMID_INVALID");
    const base = {
      partnerVmid: 0xff,
      handle: 0,
      label: 0,
      virqHandle: 0,
      virq: 0,
      base: 0,
      size: 0,
    };
    const out: HypResource[] = vm.vcpus.map((_, i) => ({
      ...base,
      type: RESOURCE_TYPE.VCPU,
      partnerVmid: vm.vmid,
      label: i,
      capId: vm.vmid * 0x100 + i,
    }));
    out.push({
      ...base,
      type: RESOURCE_TYPE.MSGQ_TX,
      capId: vm.vmid * 0x100 + 0x80,
      virq: 32 + 2 * vm.vmid,
    });
    out.push({
      ...base,
      type: RESOURCE_TYPE.MSGQ_RX,
      capId: vm.vmid * 0x100 + 0x81,
      virq: 33 + 2 * vm.vmid,
    });
    return ok(out);
  }

  private visible(caller: number, vmid: number): GunyahVm | undefined {
    const id = vmid === 0 ? caller : vmid;
    const vm = this.hyp.vm(id);
    return vm !== undefined && (id === caller || vm.owner === caller) ? vm : undefined;
  }
}
