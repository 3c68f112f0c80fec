/**
 * The RM's memory parcels (memparcel.c): create (MEM_LEND / MEM_SHARE / MEM_DONATE), MEM_APPEND,
 * MEM_ACCEPT, MEM_RELEASE, MEM_RECLAIM, MEM_NOTIFY and MEM_QCOM_LOOKUP_SGL, with the checks in
 * the reference's order (§7) and their error codes, and their effects on stage 2.
 *
 * Every call is all or nothing: the checks run before anything changes, and the one step that
 * can still fail (a stage-2 map running out of table memory: MAP_FAILED) is rolled back, so a
 * refused call leaves every parcel, table and allocator as it was.
 *
 * Decisions where the sources are open (docs/gunyah.md): ACCEPT on a parcel still in INIT is
 * DENIED (the RM does not check); an unknown mem_type is ARGUMENT_INVALID (the RM fails to make
 * an extent: NOMEM); a size-0 SGL entry is ARGUMENT_INVALID; SANITIZE at create zeroes the memory
 * at create (memparcel.c) and again at reclaim (the reference).
 */
import type { MemAcceptRequest, MemCreateRequest } from "../wire/mem.js";
import type { Hypervisor } from "../hyp/hypervisor.js";
import { OWN_IO_PROT, OWN_PROT } from "../hyp/hypervisor.js";
import type { GunyahVm } from "../hyp/vm.js";
import { VMID_DYNAMIC_FIRST, VMID_DYNAMIC_LAST, VMID_HLOS, VMID_RM } from "../hyp/vm.js";
import { PROT } from "../../mmu/prot.js";
import type { ParcelRegion, VmMemInfo } from "./parcel.js";
import { Parcel } from "./parcel.js";
import type { AclEntry, AttrEntry, RmError, RmNotice, RmResult, SglEntry } from "./types.js";
import {
  ACCEPT_FLAGS,
  APPEND_FLAGS,
  CREATE_FLAGS,
  INVALID_HANDLE,
  IPA_LIMIT,
  MAX_LIST_ENTRIES,
  MAX_PARCELS_PER_OWNER,
  MEM_ATTR,
  MEM_TYPE,
  NOTIFY_FLAGS,
  ok,
  refuse,
  RELEASE_FLAGS,
  RIGHTS,
  TRANS_TYPE,
} from "./types.js";

type Refusal = Exclude<RmError, "OK">;

/** A create request (MEM_LEND / MEM_SHARE / MEM_DONATE), decoded: the wire's, without its ID. */
export type CreateArgs = Omit<MemCreateRequest, "id">;

/** A MEM_ACCEPT request, decoded (an empty SGL: the RM picks the IPAs; map_vmid must be 0). */
export type AcceptArgs = Omit<MemAcceptRequest, "id">;

/** What ACCEPT answers when the RM picked the IPAs (else undefined: a standard reply). */
export interface AcceptReply {
  readonly sgl: SglEntry[];
  readonly incomplete: boolean;
}

/** A valid VMID for an ACL (`vmid_valid`): the host, the RM, or a dynamic VMID. */
export function vmidValid(vmid: number): boolean {
  return (
    vmid === VMID_HLOS ||
    vmid === VMID_RM ||
    (vmid >= VMID_DYNAMIC_FIRST && vmid <= VMID_DYNAMIC_LAST)
  );
}

function rightsValid(r: number): boolean {
  return r === RIGHTS.R || r === RIGHTS.RX || r === RIGHTS.RW || r === RIGHTS.RWX;
}

function addrValid(a: number): boolean {
  return Number.isSafeInteger(a) && a >= 0 && a < IPA_LIMIT && a % 4096 === 0;
}

/**
 * The stage-2 prot for ACL rights and a memory attribute (`mem_rights_to_pgtable_access`,
 * `mem_attr_to_map_memtype`): DEVICE is device memory, UNCACHED normal non-cacheable, NORMAL and
 * CACHED normal write-back.
 */
export function aclProt(rights: number, attr: number): number {
  let prot = 0;
  if (rights & RIGHTS.R) prot |= PROT.READ;
  if (rights & RIGHTS.W) prot |= PROT.WRITE;
  if (!(rights & RIGHTS.X)) prot |= PROT.NOEXEC;
  if (attr === MEM_ATTR.DEVICE) prot |= PROT.MMIO;
  else if (attr !== MEM_ATTR.UNCACHED) prot |= PROT.CACHE;
  return prot;
}

export class MemParcels {
  private readonly parcels = new Map<number, Parcel>();
  private nextHandle = 0;
  /** Every live parcel's regions, by physical address (they never overlap). */
  private readonly taken: ParcelRegion[] = [];

  constructor(
    private readonly hyp: Hypervisor,
    private readonly notify: (n: RmNotice) => void,
  ) {}

  /** A parcel by handle. */
  get(handle: number): Parcel | undefined {
    return this.parcels.get(handle);
  }

  /** Every live parcel, by handle. */
  list(): Parcel[] {
    return [...this.parcels.values()].sort((a, b) => a.handle - b.handle);
  }

  /** The parcels `vmid` has accepted (its `accepted_memparcels`). */
  acceptedBy(vmid: number): Parcel[] {
    return this.list().filter((p) => p.vmInfo(vmid)?.shared === true);
  }

  /** The next handle (`allocate_handle`): the counter, skipping handles in use and 0xFFFFFFFF. */
  private allocateHandle(): number {
    let h: number;
    do {
      h = this.nextHandle;
      this.nextHandle = (this.nextHandle + 1) % 2 ** 32;
    } while (this.parcels.has(h) || h === INVALID_HANDLE);
    return h;
  }

  /** MEM_LEND / MEM_SHARE / MEM_DONATE (`memparcel_construct`). Replies the handle. */
  create(caller: number, transType: number, a: CreateArgs): RmResult<number> {
    const owner = this.hyp.vm(caller);
    if (owner === undefined) return refuse("VMID_INVALID");
    if (
      a.acl.length > MAX_LIST_ENTRIES ||
      a.sgl.length > MAX_LIST_ENTRIES ||
      a.attrs.length > MAX_LIST_ENTRIES
    )
      return refuse("NORESOURCE");
    if (a.acl.length === 0 || a.sgl.length === 0) return refuse("ARGUMENT_INVALID");
    if (transType === TRANS_TYPE.DONATE && a.acl.length > 1) return refuse("ARGUMENT_INVALID");
    if (this.ownedBy(caller) >= MAX_PARCELS_PER_OWNER) return refuse("DENIED");
    const io = a.memType === MEM_TYPE.IO;
    if ((a.flags & CREATE_FLAGS.SANITIZE) !== 0 && io) return refuse("ARGUMENT_INVALID");
    if (a.memType !== MEM_TYPE.NORMAL && !io) return refuse("ARGUMENT_INVALID");
    const maxRights = io ? RIGHTS.RW : RIGHTS.RWX;
    const defaultAttr = io ? MEM_ATTR.DEVICE : MEM_ATTR.NORMAL;
    let ownerInAcl = false;
    for (let i = 0; i < a.acl.length; i++) {
      const e = a.acl[i]!;
      for (let j = 0; j < i; j++) if (a.acl[j]!.vmid === e.vmid) return refuse("ARGUMENT_INVALID");
      if (!vmidValid(e.vmid) || !rightsValid(e.rights)) return refuse("ARGUMENT_INVALID");
      if (io && (e.rights & RIGHTS.X) !== 0) return refuse("ARGUMENT_INVALID");
      if (transType === TRANS_TYPE.DONATE && e.rights !== maxRights) return refuse("DENIED");
      if (e.vmid === caller) ownerInAcl = true;
    }
    if ((transType === TRANS_TYPE.SHARE) !== ownerInAcl) return refuse("ARGUMENT_INVALID");
    for (let i = 0; i < a.attrs.length; i++) {
      const t = a.attrs[i]!;
      for (let j = 0; j < i; j++)
        if (a.attrs[j]!.vmid === t.vmid) return refuse("ARGUMENT_INVALID");
      if (t.attr < MEM_ATTR.NORMAL || t.attr > MEM_ATTR.CACHED || !Number.isInteger(t.attr))
        return refuse("ARGUMENT_INVALID");
      if (io !== (t.attr === MEM_ATTR.DEVICE)) return refuse("ARGUMENT_INVALID");
      if (transType === TRANS_TYPE.DONATE && t.attr !== defaultAttr)
        return refuse("ARGUMENT_INVALID");
      if (!a.acl.some((e) => e.vmid === t.vmid)) return refuse("VMID_INVALID");
    }
    const appending = (a.flags & CREATE_FLAGS.APPEND) !== 0;
    const parcel = new Parcel(
      this.allocateHandleDry(),
      caller,
      transType,
      a.memType,
      a.label,
      a.flags,
      a.acl.map((e) => ({ vmid: e.vmid, rights: e.rights })),
      a.attrs.map((t) => ({ attr: t.attr, vmid: t.vmid })),
      appending,
    );
    const err = this.addSgl(owner, parcel, a.sgl, !appending);
    if (err !== undefined) return refuse(err);
    this.allocateHandle();
    this.parcels.set(parcel.handle, parcel);
    return ok(parcel.handle);
  }

  /** MEM_APPEND (`memparcel_do_append`): more regions for a parcel in INIT; END finalises it. */
  append(
    caller: number,
    handle: number,
    flags: number,
    sgl: readonly SglEntry[],
  ): RmResult<undefined> {
    if (sgl.length > MAX_LIST_ENTRIES) return refuse("NORESOURCE");
    if (sgl.length === 0) return refuse("ARGUMENT_INVALID");
    const p = this.parcels.get(handle);
    if (p === undefined) return refuse("HANDLE_INVALID");
    if (caller !== p.owner || p.state !== "INIT") return refuse("DENIED");
    const owner = this.hyp.vm(caller);
    if (owner === undefined) return refuse("VMID_INVALID");
    const err = this.addSgl(owner, p, sgl, (flags & APPEND_FLAGS.END) !== 0);
    return err === undefined ? ok(undefined) : refuse(err);
  }

  /** MEM_ACCEPT (`memparcel_do_accept`). */
  accept(caller: number, a: AcceptArgs): RmResult<AcceptReply | undefined> {
    if (
      a.acl.length > MAX_LIST_ENTRIES ||
      a.sgl.length > MAX_LIST_ENTRIES ||
      a.attrs.length > MAX_LIST_ENTRIES
    )
      return refuse("NORESOURCE");
    const p = this.parcels.get(a.handle);
    if (p === undefined) return refuse("HANDLE_INVALID");
    if (a.memType !== p.memType || a.transType !== p.transType) return refuse("ARGUMENT_INVALID");
    if ((a.flags & ACCEPT_FLAGS.VALIDATE_SANITIZED) !== 0 && !p.sanitizeCreate)
      return refuse("VALIDATE_FAILED");
    if ((a.flags & ACCEPT_FLAGS.VALIDATE_LABEL) !== 0 && a.label !== p.label)
      return refuse("VALIDATE_FAILED");
    if ((a.flags & ACCEPT_FLAGS.VALIDATE_ACL_ATTR) !== 0 && !this.aclAttrsMatch(p, a.acl, a.attrs))
      return refuse("VALIDATE_FAILED");
    if ((a.flags & ACCEPT_FLAGS.MAP_OTHER) !== 0) return refuse("DENIED");
    if (a.mapVmid !== 0) return refuse("ARGUMENT_INVALID");
    const vm = this.hyp.vm(caller);
    if (vm === undefined) return refuse("VMID_INVALID");
    const info = p.vmInfo(caller);
    if (info === undefined) return refuse("VMID_INVALID");
    if (info.vmid === p.owner || info.mapped) return refuse("DENIED");
    if (p.state === "INIT") return refuse("DENIED");
    return this.doAccept(vm, p, info, a.flags, a.sgl);
  }

  /**
   * The RM's own accept on a VM's behalf (VM_START's image, firmware and private parcels;
   * `memparcel_accept` from vm_creation): DONE, at `ipa` (contiguous) or where the RM picks.
   */
  acceptFor(vm: GunyahVm, handle: number, ipa: number | undefined): RmResult<number> {
    const p = this.parcels.get(handle);
    if (p === undefined) return refuse("HANDLE_INVALID");
    const info = p.vmInfo(vm.vmid);
    if (info === undefined) return refuse("VMID_INVALID");
    if (info.vmid === p.owner || info.mapped || p.state === "INIT") return refuse("DENIED");
    const contiguous = p.memType === MEM_TYPE.NORMAL ? ACCEPT_FLAGS.MAP_CONTIGUOUS : 0;
    const sgl = ipa === undefined ? [] : [{ ipa, size: p.size }];
    const r = this.doAccept(vm, p, info, ACCEPT_FLAGS.DONE | contiguous, sgl);
    return r.err === "OK" ? ok(info.ipas[0] ?? 0) : r;
  }

  /** MEM_RELEASE (`memparcel_do_release`). */
  release(caller: number, handle: number, flags: number): RmResult<undefined> {
    const p = this.parcels.get(handle);
    if (p === undefined) return refuse("HANDLE_INVALID");
    const vm = this.hyp.vm(caller);
    if (vm === undefined) return refuse("VMID_INVALID");
    const info = p.vmInfo(caller);
    if (info === undefined) return refuse("HANDLE_INVALID");
    if (info.vmid === p.owner) return refuse("DENIED");
    if (!info.shared) return refuse("MEM_RELEASED");
    if ((flags & RELEASE_FLAGS.SANITIZE) !== 0) {
      if (p.memType === MEM_TYPE.IO || (info.rights & RIGHTS.W) === 0)
        return refuse("ARGUMENT_INVALID");
      p.sanitizeReclaim = true;
    }
    this.dropAccept(vm, p, info);
    return ok(undefined);
  }

  /** Undo the RM's own accepts of `handles` for `vm` (a failed VM_START); owners are not told. */
  releaseFor(vm: GunyahVm, handles: readonly number[]): void {
    for (const h of handles) {
      const p = this.parcels.get(h);
      const info = p?.vmInfo(vm.vmid);
      if (p !== undefined && info?.shared === true) this.dropAccept(vm, p, info);
    }
  }

  /** A VM reset or teardown: release everything `vm` accepted, MEM_RELEASED to each owner. */
  releaseAll(vm: GunyahVm): void {
    for (const p of this.acceptedBy(vm.vmid)) {
      this.dropAccept(vm, p, p.vmInfo(vm.vmid)!);
      this.notify({
        kind: "MEM_RELEASED",
        to: p.owner,
        handle: p.handle,
        vmid: vm.vmid,
        memInfoTag: p.memInfoTag ?? 0,
      });
    }
  }

  /** MEM_RECLAIM (`memparcel_do_reclaim`): back to the owner, zeroed if sanitize was asked. */
  reclaim(caller: number, handle: number, flags: number): RmResult<undefined> {
    const p = this.parcels.get(handle);
    if (p === undefined) return refuse("HANDLE_INVALID");
    if (caller !== p.owner) return refuse("DENIED");
    if (p.state === "SHARED") return refuse("MEM_INUSE");
    if ((flags & 1) !== 0 && p.memType === MEM_TYPE.IO) return refuse("ARGUMENT_INVALID");
    const owner = this.hyp.vm(caller);
    if (owner === undefined) return refuse("VMID_INVALID");
    const sanitize = (flags & 1) !== 0 || p.sanitizeReclaim || p.sanitizeCreate;
    if (sanitize && p.memType === MEM_TYPE.NORMAL)
      for (const r of p.regions) this.hyp.zero(r.pa, r.size);
    this.restoreOwner(owner, p, p.regions);
    this.delete(p);
    return ok(undefined);
  }

  /** MEM_NOTIFY (`memparcel_notify`); `vmids` undefined when the request has no VMID list. */
  notifyCall(
    caller: number,
    handle: number,
    flags: number,
    memInfoTag: number,
    vmids: readonly number[] | undefined,
  ): RmResult<undefined> {
    const p = this.parcels.get(handle);
    if (p === undefined) return refuse("HANDLE_INVALID");
    if (p.memInfoTag !== undefined && p.memInfoTag !== memInfoTag)
      return refuse("ARGUMENT_INVALID");
    if (flags === NOTIFY_FLAGS.SHARED || flags === NOTIFY_FLAGS.RECALL) {
      if (caller !== p.owner) return refuse("DENIED");
      const err = this.checkVmidList(p, vmids);
      if (err !== undefined) return refuse(err);
      const tag = p.memInfoTag ?? memInfoTag;
      if (flags === NOTIFY_FLAGS.SHARED) {
        p.memInfoTag = tag;
        for (const to of vmids!) this.notify(this.sharedNotice(p, to));
      } else
        for (const to of vmids!) this.notify({ kind: "MEM_RECALL", to, handle, memInfoTag: tag });
      return ok(undefined);
    }
    if (flags === NOTIFY_FLAGS.RELEASED || flags === NOTIFY_FLAGS.ACCEPTED) {
      const info = p.vmInfo(caller);
      if (info === undefined) return refuse("HANDLE_INVALID");
      const accepted = flags === NOTIFY_FLAGS.ACCEPTED;
      if (accepted !== info.shared) return refuse(info.shared ? "MEM_INUSE" : "MEM_RELEASED");
      this.notify({
        kind: accepted ? "MEM_ACCEPTED" : "MEM_RELEASED",
        to: p.owner,
        handle,
        vmid: caller,
        memInfoTag: p.memInfoTag ?? 0,
      });
      return ok(undefined);
    }
    return refuse("ARGUMENT_INVALID");
  }

  /** MEM_QCOM_LOOKUP_SGL (`memparcel_sgl_do_lookup`): the caller's SHARING parcel matching exactly. */
  lookupSgl(caller: number, a: Omit<CreateArgs, "flags">): RmResult<number> {
    if (
      a.acl.length > MAX_LIST_ENTRIES ||
      a.sgl.length > MAX_LIST_ENTRIES ||
      a.attrs.length > MAX_LIST_ENTRIES
    )
      return refuse("NORESOURCE");
    for (const p of this.list()) {
      if (p.owner !== caller || p.state !== "SHARING" || p.memType !== a.memType) continue;
      if (p.sgl.length !== a.sgl.length || !this.aclAttrsMatch(p, a.acl, a.attrs)) continue;
      if (p.sgl.every((e, i) => e.ipa === a.sgl[i]!.ipa && e.size === a.sgl[i]!.size))
        return ok(p.handle);
    }
    return refuse("LOOKUP_FAILED");
  }

  /** The parcels `vmid` owns (`mp_count`). */
  ownedBy(vmid: number): number {
    let n = 0;
    for (const p of this.parcels.values()) if (p.owner === vmid) n++;
    return n;
  }

  /** The MEM_SHARED notification of a parcel for `to` (at most 512 region sizes, as the RM). */
  sharedNotice(p: Parcel, to: number): RmNotice {
    return {
      kind: "MEM_SHARED",
      to,
      handle: p.handle,
      memType: p.memType,
      transType: p.transType,
      sanitize: p.sanitizeCreate,
      owner: p.owner,
      label: p.label,
      memInfoTag: p.memInfoTag ?? 0,
      acl: p.acl,
      sizes: p.regions.slice(0, MAX_LIST_ENTRIES).map((r) => r.size),
      attrs: p.attrs,
    };
  }

  // ---- internals ----

  private allocateHandleDry(): number {
    let h = this.nextHandle;
    while (this.parcels.has(h) || h === INVALID_HANDLE) h = (h + 1) % 2 ** 32;
    return h;
  }

  private aclAttrsMatch(p: Parcel, acl: readonly AclEntry[], attrs: readonly AttrEntry[]): boolean {
    if (acl.length !== p.acl.length || attrs.length !== p.attrs.length) return false;
    for (let i = 0; i < acl.length; i++)
      if (acl[i]!.vmid !== p.acl[i]!.vmid || acl[i]!.rights !== p.acl[i]!.rights) return false;
    for (let i = 0; i < attrs.length; i++)
      if (attrs[i]!.attr !== p.attrs[i]!.attr || attrs[i]!.vmid !== p.attrs[i]!.vmid) return false;
    return true;
  }

  /** `get_vmid_list`: a non-empty list of existing ACL VMs, no longer than the ACL. */
  private checkVmidList(p: Parcel, vmids: readonly number[] | undefined): Refusal | undefined {
    if (vmids === undefined) return "MSG_INVALID";
    if (vmids.length === 0 || vmids.length > p.acl.length) return "ARGUMENT_INVALID";
    for (const v of vmids) {
      if (this.hyp.vm(v) === undefined) return "VMID_INVALID";
      if (p.vmInfo(v) === undefined) return "ARGUMENT_INVALID";
    }
    return undefined;
  }

  /**
   * Whether a physical range lies in a live parcel (a binary search of {@link taken}) or in
   * `extra` regions (those of the call being checked).
   */
  private inParcel(pa: number, size: number, extra: readonly ParcelRegion[]): boolean {
    const end = pa + size;
    const t = this.taken;
    let lo = 0;
    let hi = t.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (t[mid]!.pa + t[mid]!.size <= pa) lo = mid + 1;
      else hi = mid;
    }
    if (lo < t.length && t[lo]!.pa < end) return true;
    for (const r of extra) if (r.pa < end && pa < r.pa + r.size) return true;
    return false;
  }

  /** The index in {@link taken} where a region starting at `pa` goes (or is). */
  private takenIndex(pa: number): number {
    const t = this.taken;
    let lo = 0;
    let hi = t.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (t[mid]!.pa < pa) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * `add_sgl_to_mp`: check each entry in order (aligned and below 2^44, else ARGUMENT_INVALID;
   * mapped in the owner's stage 2 by the owner's own memory of the parcel's type and in no other
   * parcel, else MEM_INVALID), then take the owner's access away (lend, donate) or narrow it to
   * its ACL rights (share), and add the regions. Undefined on success.
   */
  private addSgl(
    owner: GunyahVm,
    p: Parcel,
    sgl: readonly SglEntry[],
    done: boolean,
  ): Refusal | undefined {
    const added: ParcelRegion[] = [];
    for (const e of sgl) {
      if (!addrValid(e.ipa) || !addrValid(e.size) || e.size === 0 || e.ipa + e.size > IPA_LIMIT)
        return "ARGUMENT_INVALID";
      const runs = this.hyp.runsOf(owner, e.ipa, e.size);
      if (runs === undefined) return "MEM_INVALID";
      for (const r of runs) {
        const kind = this.hyp.memKind(r.pa, r.size);
        if (kind !== (p.memType === MEM_TYPE.IO ? "io" : "ram")) return "MEM_INVALID";
        if (this.hyp.ownership.ownerOf(r.pa, r.pa + r.size) !== owner.vmid) return "MEM_INVALID";
        if (this.inParcel(r.pa, r.size, added)) return "MEM_INVALID";
        added.push({ ipa: r.ipa, pa: r.pa, size: r.size });
      }
    }
    const share = p.transType === TRANS_TYPE.SHARE;
    const ownerInfo = p.vmInfo(owner.vmid);
    const done_: ParcelRegion[] = [];
    try {
      for (const r of added) {
        if (share) owner.stage2.protect(r.ipa, r.size, aclProt(ownerInfo!.rights, ownerInfo!.attr));
        else this.hyp.unmap(owner, r.ipa, r.size);
        done_.push(r);
      }
    } catch {
      this.restoreOwner(owner, p, done_);
      return "MAP_FAILED";
    }
    if (p.sanitizeCreate) for (const r of added) this.hyp.zero(r.pa, r.size);
    p.regions.push(...added);
    for (const r of added) this.taken.splice(this.takenIndex(r.pa), 0, r);
    p.sgl.push(...sgl.map((e) => ({ ipa: e.ipa, size: e.size })));
    for (const r of added)
      p.labels.push(
        this.hyp.platform.owners.label(
          { system: "gunyah", kind: "parcel", name: String(p.handle) },
          { phys: { start: r.pa, end: r.pa + r.size } },
        ),
      );
    if (done) p.state = "SHARING";
    return undefined;
  }

  /** Give the owner its access to `regions` back (reclaim, or a failed create). */
  private restoreOwner(owner: GunyahVm, p: Parcel, regions: readonly ParcelRegion[]): void {
    const prot = p.memType === MEM_TYPE.IO ? OWN_IO_PROT : OWN_PROT;
    for (const r of regions) {
      if (p.transType === TRANS_TYPE.SHARE) owner.stage2.protect(r.ipa, r.size, prot);
      else owner.stage2.map(r.ipa, r.pa, r.size, prot);
    }
  }

  /** The IPA allocation and mapping half of `memparcel_do_accept`. */
  private doAccept(
    vm: GunyahVm,
    p: Parcel,
    info: VmMemInfo,
    flags: number,
    sgl: readonly SglEntry[],
  ): RmResult<AcceptReply | undefined> {
    let contiguous = info.ipas.length > 0 ? info.contiguous : false;
    if ((flags & ACCEPT_FLAGS.MAP_CONTIGUOUS) !== 0) {
      if (p.memType !== MEM_TYPE.NORMAL) return refuse("ARGUMENT_INVALID");
      if (info.ipas.length > 0 && !info.contiguous) return refuse("ARGUMENT_INVALID");
      contiguous = true;
    }
    const sanitize = (flags & ACCEPT_FLAGS.SANITIZE) !== 0;
    if (sanitize && (p.memType === MEM_TYPE.IO || (info.rights & RIGHTS.W) === 0))
      return refuse("ARGUMENT_INVALID");
    const mappings = contiguous ? 1 : p.regions.length;
    let count = Math.min(mappings - info.ipas.length, MAX_LIST_ENTRIES);
    const chosen = sgl.length === 0;
    const incomplete = chosen && info.ipas.length + count < mappings;
    if (!chosen) {
      if (sgl.length > count) return refuse("ARGUMENT_INVALID");
      count = sgl.length;
    }
    // Allocate the IPAs, all or none.
    const got: SglEntry[] = [];
    const undoAlloc = () => {
      for (const g of got) vm.ipaSpace.free(g.ipa, g.size);
    };
    for (let j = 0; j < count; j++) {
      const size = contiguous ? p.size : p.regions[info.ipas.length + j]!.size;
      let want: number | undefined;
      if (!chosen) {
        const e = sgl[j]!;
        if (!addrValid(e.ipa) || e.size !== size || e.ipa + size > IPA_LIMIT) {
          undoAlloc();
          return refuse("ARGUMENT_INVALID");
        }
        want = e.ipa;
      }
      const base = vm.ipaSpace.alloc(want, size);
      if (base === undefined) {
        undoAlloc();
        return refuse("NORESOURCE");
      }
      got.push({ ipa: base, size });
    }
    const done = (flags & ACCEPT_FLAGS.DONE) !== 0;
    const ipas = [...info.ipas, ...got.map((g) => g.ipa)];
    if (done) {
      if (ipas.length !== mappings) {
        undoAlloc();
        return refuse("ARGUMENT_INVALID");
      }
      const view = { ...info, contiguous, ipas };
      const mapped: Array<[number, number]> = [];
      try {
        let offset = 0;
        p.regions.forEach((r, i) => {
          const at = p.ipaOf(view, i, offset);
          vm.stage2.map(at, r.pa, r.size, aclProt(info.rights, info.attr));
          mapped.push([at, r.size]);
          offset += r.size;
        });
      } catch {
        for (const [at, size] of mapped) vm.stage2.unmap(at, size);
        undoAlloc();
        return refuse("MAP_FAILED");
      }
    }
    // Committed.
    if (sanitize) p.sanitizeReclaim = true;
    info.contiguous = contiguous;
    info.ipas = ipas;
    if (done && p.transType === TRANS_TYPE.DONATE) {
      for (const r of p.regions) {
        this.hyp.ownership.transfer(r.pa, r.pa + r.size, vm.vmid);
        this.hyp.vm(p.owner)?.ipaSpace.free(r.ipa, r.size);
      }
      this.delete(p);
      return ok(chosen ? { sgl: got, incomplete } : undefined);
    }
    if (done) info.mapped = true;
    info.shared = true;
    p.state = "SHARED";
    return ok(chosen ? { sgl: got, incomplete } : undefined);
  }

  /** Unmap `vm`'s side and free its IPAs (`memparcel_do_release` after its checks). */
  private dropAccept(vm: GunyahVm, p: Parcel, info: VmMemInfo): void {
    let offset = 0;
    p.regions.forEach((r, i) => {
      if (i < (info.contiguous ? p.regions.length : info.ipas.length)) {
        const at = p.ipaOf(info, i, offset);
        if (info.mapped) this.hyp.unmap(vm, at, r.size);
        if (!info.contiguous) vm.ipaSpace.free(at, r.size);
      }
      offset += r.size;
    });
    if (info.contiguous && info.ipas.length > 0) vm.ipaSpace.free(info.ipas[0]!, p.size);
    info.ipas = [];
    info.contiguous = false;
    info.shared = false;
    info.mapped = false;
    if (p.shareCount === 0) p.state = "SHARING";
  }

  private delete(p: Parcel): void {
    for (const r of p.regions) this.taken.splice(this.takenIndex(r.pa), 1);
    for (const l of p.labels) l.dispose();
    this.parcels.delete(p.handle);
  }
}
