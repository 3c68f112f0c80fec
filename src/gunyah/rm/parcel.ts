/**
 * A memory parcel (the RM's `memparcel_t`, memparcel.c): memory an owner VM lends, shares or
 * donates to the VMs of its ACL — its regions (physically contiguous pieces of the owner's IPA
 * ranges, `mem_region_t`), its state, and each ACL VM's side (`vm_meminfo_t`: accepted?
 * mapped? at which IPAs?).
 *
 * States (reference §7): INIT (created with APPEND, not finished), SHARING (final, nobody holds
 * it), SHARED (accepted by at least one VM).
 */
import type { Disposable } from "../../base/lifetime.js";
import type { AclEntry, AttrEntry, SglEntry } from "./types.js";
import { MEM_ATTR, MEM_TYPE } from "./types.js";

export type ParcelState = "INIT" | "SHARING" | "SHARED";

/** One ACL VM's side of a parcel (`vm_meminfo_t`). */
export interface VmMemInfo {
  readonly vmid: number;
  readonly rights: number;
  /** The memory attribute it maps with (the attribute list's entry, else the default). */
  readonly attr: number;
  /** Accepted (`shared`): IPAs reserved, maybe not yet mapped. */
  shared: boolean;
  /** Mapped into its stage 2 (an ACCEPT with DONE). */
  mapped: boolean;
  /** Accepted as one contiguous IPA range. */
  contiguous: boolean;
  /** The IPAs allocated so far: one per region, or one for all when contiguous. */
  ipas: number[];
}

/** One region: a physically contiguous piece of the owner's memory (`mem_region_t`). */
export interface ParcelRegion {
  /** Where the owner has it. */
  readonly ipa: number;
  readonly pa: number;
  readonly size: number;
}

export class Parcel {
  state: ParcelState;
  readonly regions: ParcelRegion[] = [];
  /**
   * The owner's SGL as it sent it (create, then each APPEND), which QCOM_LOOKUP_SGL matches:
   * an entry may be more than one region where the owner's memory is physically discontiguous.
   */
  readonly sgl: SglEntry[] = [];
  readonly vms: VmMemInfo[];
  /** Set by the first MEM_NOTIFY SHARED. */
  memInfoTag: number | undefined = undefined;
  /** Created with SANITIZE: zeroed at create (and, as the reference says, at reclaim). */
  readonly sanitizeCreate: boolean;
  /** Zero the memory at reclaim (SANITIZE at accept, release or reclaim). */
  sanitizeReclaim = false;
  /** Platform-graph labels of its regions. */
  readonly labels: Disposable[] = [];

  constructor(
    readonly handle: number,
    readonly owner: number,
    readonly transType: number,
    readonly memType: number,
    /** The label (QCOM_LOOKUP_SGL may set it later, as the RM's `label_valid`). */
    public label: number,
    createFlags: number,
    readonly acl: readonly AclEntry[],
    readonly attrs: readonly AttrEntry[],
    appending: boolean,
  ) {
    this.state = appending ? "INIT" : "SHARING";
    const defaultAttr = memType === MEM_TYPE.IO ? MEM_ATTR.DEVICE : MEM_ATTR.NORMAL;
    this.vms = acl.map((a) => ({
      vmid: a.vmid,
      rights: a.rights,
      attr: attrs.find((t) => t.vmid === a.vmid)?.attr ?? defaultAttr,
      shared: false,
      mapped: false,
      contiguous: false,
      ipas: [],
    }));
    this.sanitizeCreate = (createFlags & 1) !== 0;
  }

  /** Total bytes of its regions (`total_size`). */
  get size(): number {
    let n = 0;
    for (const r of this.regions) n += r.size;
    return n;
  }

  vmInfo(vmid: number): VmMemInfo | undefined {
    return this.vms.find((v) => v.vmid === vmid);
  }

  /** How many VMs hold it (`share_count`). */
  get shareCount(): number {
    return this.vms.filter((v) => v.shared).length;
  }

  /** How many IPA mappings a VM needs: 1 when contiguous, else one per region. */
  mappings(info: VmMemInfo): number {
    return info.contiguous ? 1 : this.regions.length;
  }

  /** The IPA at which `info` maps region `i` (whose offset in the parcel is `offset`). */
  ipaOf(info: VmMemInfo, i: number, offset: number): number {
    return info.contiguous ? info.ipas[0]! + offset : info.ipas[i]!;
  }
}
