/**
 * The host's VM manager (seed 002, Linux v13 drivers/virt/gunyah/vm_mgr.c and vm_mgr_mm.c;
 * reference §9): one `struct gh_vm` — create (`gh_vm_alloc`), user memory regions
 * (`GH_VM_SET_USER_MEM_REGION`, `gh_vm_mem_alloc`), the DTB config (`GH_VM_SET_DTB_CONFIG`),
 * start (`gh_vm_start`) and teardown (`gh_vm_free`) — over an RM client of the host.
 *
 * Teardown follows the order the real RM requires — stop if running, reset and wait for
 * VM_STATUS RESET, reclaim every region, deallocate — not the seed's `gh_vm_free`, which
 * reclaims without resetting and so meets MEM_INUSE for every accepted parcel. A teardown step
 * that fails does not stop the others; what could not be given back is reported as stranded.
 *
 * Status notifications drive its state, as in Linux: VM_STATUS RESET and VM_EXITED; the other
 * states follow its own RPC results.
 *
 * Decisions: the client is synchronous (in-process; the RM's notifications of a call arrive
 * before its reply there), so "wait for RESET" checks the notifications received by then and
 * reports a timeout-like error if RESET never came. A region's user address is a host IPA (the
 * host's "physical" address in Linux's terms); contiguous host IPAs make one memory entry.
 */
import type { RmNotification, RmReply, RmRequest } from "../wire/codec.js";
import type { LinuxErrno } from "../wire/errors.js";
import type { RmError } from "../rm/types.js";
import { RIGHTS } from "../rm/types.js";
import { VM_STATE, VMID_HLOS, vmStateName } from "../hyp/vm.js";
import type { RmFlow } from "../client/flow.js";
import { runFlow } from "../client/flow.js";
import type { RmCallResult } from "../client/linux.js";
import {
  getHypResources,
  memLend,
  memReclaim,
  memShare,
  vmAllocVmid,
  vmConfigure,
  vmDeallocVmid,
  vmGetState,
  vmInit,
  vmReset,
  vmStart,
  vmStop,
} from "../client/linux.js";

/** What the VM manager needs of an RM client (InProcessRmClient fits). */
export interface VmmClient {
  call(req: RmRequest): RmReply;
  takeNotifications(): RmNotification[];
}

/** Region flags of `struct gh_userspace_memory_region`. */
export const GH_MEM_ALLOW = { READ: 1, WRITE: 2, EXEC: 4 } as const;

/** `struct gh_userspace_memory_region`, with Android's share-or-lend choice. */
export interface UserMemRegion {
  readonly label: number;
  /** GH_MEM_ALLOW_READ | WRITE | EXEC. */
  readonly flags: number;
  readonly guestPhysAddr: number;
  readonly size: number;
  /** Where the host has the memory (a host IPA). */
  readonly userspaceAddr: number;
  /** Lend (the host loses access) or share (the host keeps it). Default share, as Linux v13. */
  readonly shareType?: "share" | "lend";
}

/** A Linux-style failure: the errno, and what went wrong. */
export interface VmmError {
  readonly errno: string;
  readonly message: string;
  readonly rmError?: RmError;
}

/** The outcome of a VM manager call. */
export type VmmResult<T = undefined> =
  { readonly ok: true; readonly value: T } | ({ readonly ok: false } & VmmError);

/** A region the host could not get back at teardown. */
export interface StrandedRegion {
  readonly label: number;
  readonly handle: number;
  readonly userspaceAddr: number;
  readonly size: number;
  readonly error: string;
}

/** What a teardown did, step by step, and what it left stranded. */
export interface TeardownReport {
  readonly steps: ReadonlyArray<{ readonly op: string; readonly result: string }>;
  readonly stranded: readonly StrandedRegion[];
  readonly deallocated: boolean;
}

interface Mapping extends UserMemRegion {
  handle: number | undefined;
}

const PAGE = 4096;

function errnoOf(e: LinuxErrno): string {
  return `-${e.name}`;
}

function rmFail<T>(what: string, r: RmCallResult<unknown>): VmmResult<T> {
  if (r.ok) throw new Error("rmFail on success");
  return {
    ok: false,
    errno: errnoOf(r.errno),
    rmError: r.err,
    message: `${what}: ${r.err} (${errnoOf(r.errno)})`,
  };
}

/** One guest VM as the host's VM manager keeps it (`struct gh_vm`). */
export class GhVm {
  /** The host's view of the VM's state (`vm_status`; LOAD_FAILED is host-only, -1). */
  status: number = VM_STATE.LOAD;
  private readonly mappings: Mapping[] = [];
  private dtb: { gpa: number; size: number } | undefined;
  /** The authentication VM_CONFIG_IMAGE asks for (`ghvm->auth`, default NONE). */
  auth = 0;
  /** The error that left it in INIT_FAILED, if one did. */
  startError: VmmError | undefined;
  /** The hypervisor resources GET_HYP_RESOURCES returned at start. */
  resources: unknown[] = [];

  private constructor(
    private readonly client: VmmClient,
    readonly vmid: number,
  ) {}

  /** `gh_vm_alloc`: VM_ALLOCATE (any dynamic VMID); the VM is in LOAD. */
  static create(client: VmmClient, vmid = 0): VmmResult<GhVm> {
    const r = runFlow(vmAllocVmid(vmid), (q) => client.call(q));
    if (!r.ok) return rmFail("VM_ALLOCATE", r);
    return { ok: true, value: new GhVm(client, r.value) };
  }

  private run<T>(flow: RmFlow<T>): T {
    const out = runFlow(flow, (q) => this.client.call(q));
    this.observe();
    return out;
  }

  /** Act on VM_STATUS RESET and VM_EXITED for this VM (`gh_vm_rm_notification`). */
  private observe(): void {
    for (const n of this.client.takeNotifications()) {
      if (n.id === "VM_STATUS" && n.vmid === this.vmid && n.vmStatus === VM_STATE.RESET)
        this.status = VM_STATE.RESET;
      if (n.id === "VM_EXITED" && n.vmid === this.vmid) this.status = VM_STATE.EXITED;
    }
  }

  /** The regions, by label. */
  regions(): UserMemRegion[] {
    return this.mappings.map(({ handle: _h, ...r }) => r);
  }

  /** The parcel handle of a region once started. */
  handleOf(label: number): number | undefined {
    return this.mappings.find((m) => m.label === label)?.handle;
  }

  /**
   * GH_VM_SET_USER_MEM_REGION (`gh_vm_mem_alloc`): size, guest address and user address
   * page-aligned and size non-zero (-EINVAL), no overflow (-EOVERFLOW), no duplicate label and
   * no overlap with another region's guest range (-EEXIST). Only before start.
   */
  setUserMemRegion(region: UserMemRegion): VmmResult {
    const r = region;
    const bad = (errno: string, message: string): VmmResult => ({ ok: false, errno, message });
    if (this.status !== VM_STATE.LOAD)
      return bad("-EPERM", `region ${r.label}: the VM is ${vmStateName(this.status)}, not LOAD`);
    for (const [name, v] of [
      ["size", r.size],
      ["guest_phys_addr", r.guestPhysAddr],
      ["userspace_addr", r.userspaceAddr],
    ] as const)
      if (!Number.isSafeInteger(v) || v < 0 || v % PAGE !== 0)
        return bad("-EINVAL", `region ${r.label}: ${name} ${v.toString(16)} is not page-aligned`);
    if (r.size === 0) return bad("-EINVAL", `region ${r.label}: size 0`);
    if ((r.flags & ~7) !== 0 || (r.flags & GH_MEM_ALLOW.READ) === 0)
      return bad(
        "-EINVAL",
        `region ${r.label}: flags ${r.flags} (READ, WRITE, EXEC; READ required)`,
      );
    if (r.guestPhysAddr + r.size > 2 ** 64 || !Number.isSafeInteger(r.guestPhysAddr + r.size))
      return bad("-EOVERFLOW", `region ${r.label}: guest_phys_addr + size overflows`);
    for (const m of this.mappings) {
      if (m.label === r.label) return bad("-EEXIST", `region ${r.label}: the label is taken`);
      if (m.guestPhysAddr < r.guestPhysAddr + r.size && r.guestPhysAddr < m.guestPhysAddr + m.size)
        return bad("-EEXIST", `region ${r.label}: overlaps region ${m.label}`);
    }
    this.mappings.push({ ...r, handle: undefined });
    return { ok: true, value: undefined };
  }

  /** GH_VM_SET_DTB_CONFIG: where the DTB is in guest memory (size rounded up to a page). */
  setDtbConfig(gpa: number, size: number): VmmResult {
    if (!Number.isSafeInteger(gpa) || gpa < 0 || !Number.isSafeInteger(size) || size <= 0)
      return { ok: false, errno: "-EINVAL", message: `dtb config ${gpa}+${size} is not a range` };
    this.dtb = { gpa, size: Math.ceil(size / PAGE) * PAGE };
    return { ok: true, value: undefined };
  }

  private rights(flags: number): number {
    return (flags & 1 ? RIGHTS.R : 0) | (flags & 2 ? RIGHTS.W : 0) | (flags & 4 ? RIGHTS.X : 0);
  }

  /**
   * GH_VM_START (`gh_vm_start`): only from LOAD (otherwise nothing to do). Lends or shares
   * every region, finds the region holding the DTB (none: -EINVAL), VM_CONFIG_IMAGE, VM_INIT,
   * GET_HYP_RESOURCES, VM_START; RUNNING. Any error leaves it INIT_FAILED and is returned.
   */
  start(): VmmResult {
    if (this.status !== VM_STATE.LOAD) return { ok: true, value: undefined };
    this.status = VM_STATE.RESET;
    const failStart = (e: VmmError): VmmResult => {
      this.status = VM_STATE.INIT_FAILED;
      this.startError = e;
      return { ok: false, ...e };
    };
    for (const m of this.mappings) {
      const rights = this.rights(m.flags);
      const lend = m.shareType === "lend";
      const acl = lend
        ? [{ vmid: this.vmid, rights }]
        : [
            { vmid: this.vmid, rights },
            { vmid: VMID_HLOS, rights: RIGHTS.RWX },
          ];
      const p = { memType: 0, label: m.label, acl, mem: [{ ipa: m.userspaceAddr, size: m.size }] };
      const r = this.run(lend ? memLend(p) : memShare(p));
      if (!r.ok) {
        const f = rmFail(`${lend ? "lend" : "share"} region ${m.label}`, r);
        return failStart(f as VmmError);
      }
      m.handle = r.value;
    }
    const dtb = this.dtb;
    const holder =
      dtb === undefined
        ? undefined
        : this.mappings.find(
            (m) => dtb.gpa >= m.guestPhysAddr && dtb.gpa + dtb.size <= m.guestPhysAddr + m.size,
          );
    if (holder === undefined || dtb === undefined)
      return failStart({
        errno: "-EINVAL",
        message: "no region holds the DTB (set the DTB config inside a region)",
      });
    const steps: Array<[string, RmFlow<RmCallResult<unknown>>]> = [
      [
        "VM_CONFIG_IMAGE",
        vmConfigure(
          this.vmid,
          this.auth,
          holder.handle!,
          0,
          0,
          dtb.gpa - holder.guestPhysAddr,
          dtb.size,
        ),
      ],
      ["VM_INIT", vmInit(this.vmid)],
      ["VM_GET_HYP_RESOURCES", getHypResources(this.vmid)],
      ["VM_START", vmStart(this.vmid)],
    ];
    for (const [name, flow] of steps) {
      const r = this.run(flow);
      if (!r.ok) return failStart(rmFail(name, r) as VmmError);
      if (name === "VM_GET_HYP_RESOURCES") this.resources = r.value as unknown[];
    }
    this.status = VM_STATE.RUNNING;
    return { ok: true, value: undefined };
  }

  /**
   * Teardown (`gh_vm_free`, in the RM's order): VM_STOP if running; VM_RESET and wait for
   * VM_STATUS RESET unless still in LOAD; MEM_RECLAIM of every lent or shared region (a refused
   * reclaim leaves the region stranded); VM_DEALLOCATE.
   */
  teardown(): TeardownReport {
    const steps: Array<{ op: string; result: string }> = [];
    const record = (op: string, r: RmCallResult<unknown>) => {
      steps.push({ op, result: r.ok ? "OK" : `${r.err} (${errnoOf(r.errno)})` });
      return r.ok;
    };
    this.observe();
    if (this.status === VM_STATE.RUNNING) {
      record("VM_STOP", this.run(vmStop(this.vmid)));
      this.status = VM_STATE.EXITED;
    }
    // Ask the RM where the VM is: a start that failed before VM_CONFIG_IMAGE left it in LOAD.
    const state = this.run(vmGetState(this.vmid));
    if (state.ok && state.value.vmState === VM_STATE.LOAD) this.status = VM_STATE.LOAD;
    if (this.status !== VM_STATE.LOAD) {
      if (record("VM_RESET", this.run(vmReset(this.vmid))) && this.status !== VM_STATE.RESET)
        steps.push({ op: "wait VM_STATUS RESET", result: "not received" });
    }
    const stranded: StrandedRegion[] = [];
    for (const m of this.mappings) {
      if (m.handle === undefined) continue;
      const r = this.run(memReclaim(m.handle));
      if (record(`MEM_RECLAIM ${m.label}`, r)) m.handle = undefined;
      else
        stranded.push({
          label: m.label,
          handle: m.handle,
          userspaceAddr: m.userspaceAddr,
          size: m.size,
          error: steps[steps.length - 1]!.result,
        });
    }
    const deallocated = record("VM_DEALLOCATE", this.run(vmDeallocVmid(this.vmid)));
    if (deallocated) this.status = VM_STATE.NO_STATE;
    return { steps, stranded, deallocated };
  }
}
