/**
 * The driver interface: `struct gm_mmu` (the MMU functions a device registers and the core
 * invokes) and `struct gm_fault_t` (the parameter list of peer_map / peer_unmap), from the
 * seed's include/linux/gmem.h.
 *
 * Each operation answers a {@link GmRet}. Where the core calls each one (the RFC calls only
 * pmap_create and peer_map / peer_unmap; here every one has its place):
 * - `peerVaAllocFixed` / `peerVaFree`: a peer-shared mmap / munmap, on every attached PEER device
 *   (process.ts), and attach / detach for mappings made before;
 * - `peerMap`: a device fault (fault.ts) and a prefetch (madvise.ts) — a zeroed page for a
 *   NOMAP mapping, the data from `dmaAddr` for a CPU one (`copy`), and, on a device page with
 *   MARK_HOT, "recently used";
 * - `peerUnmap`: a host fault and an eviction (`copy`: the data goes back to `dmaAddr`), munmap
 *   and DONTNEED (no copy: the data is dropped);
 * - `pmapCreate` / `pmapDestroy`: attach / detach; `pmapActivate` (an extension: the RFC's
 *   comment in gm_as_attach asks for "a callback function to perform the context switch"):
 *   activation;
 * - `pmapEnter` / `pmapRelease`: REPLICATE mode (every CPU mapping into the device's table),
 *   the first phase of an eviction (release, then one coalesced invalidation for the round),
 *   and a cancelled eviction (enter again);
 * - `pmapProtect`: mprotect of device-resident pages and of replicas;
 * - `tlbInvl`: after every release or protect the core makes; `tlbInvlCoalesced`: once per
 *   eviction round per table.
 * A driver's own peer_map / peer_unmap change its table and invalidate its TLB itself.
 *
 * Extensions, documented where the RFC is silent: the device page the core allocated rides in
 * the fault (`page`, openEuler's gm_page); a pmap says which table it is (for the platform
 * graph); SHARE mode passes the CPU's table to `pmapCreate` (the MMU cookie the header leaves open
 * for compatible MMUs); `peerHmemcpy` is openEuler's copy engine op.
 */
import type { AnyPageTable } from "../mmu/page-table.js";
import type { Prot } from "../mmu/prot.js";
import type { TableRoot } from "../mmu/table-memory.js";
import type { GmDev } from "./device.js";
import type { GmPage } from "./hnode.js";
import type { GmProcess } from "./process.js";
import type { GmFaultHint, GmRet } from "./types.js";

/** `struct gm_fault_t`: the parameter list of peer_map / peer_unmap. */
export interface GmFault {
  /** The process (`struct mm_struct`). */
  readonly mm: GmProcess;
  readonly dev: GmDev;
  /** The 2 MiB-aligned virtual address and the size (the policy's granularity). */
  readonly va: number;
  readonly size: number;
  readonly prot: Prot;
  /** peer_map: copy `[dmaAddr, dmaAddr+size)` in; peer_unmap: copy the data out to it. */
  readonly copy: boolean;
  /** A host physical address (the model's DMA addresses are physical: no IOMMU between). */
  readonly dmaAddr: number;
  readonly hint: GmFaultHint;
  /** The device page: the one the core allocated (peer_map) or the one mapped (peer_unmap). */
  readonly page: GmPage | undefined;
}

/** A device's physical page table, opaque to the core but for the table it is. */
export interface GmPmap {
  /** The table the device walks (for the platform graph's owner labels), if it has one. */
  readonly table: AnyPageTable | TableRoot | undefined;
}

/** SHARE mode: the CPU table the device is to walk, and the process's ASID. */
export interface GmPmapShare {
  readonly table: AnyPageTable;
  readonly asid: number;
}

/** A range of a table, for `tlbInvlCoalesced`. */
export interface GmRange {
  readonly va: number;
  readonly size: number;
}

/** openEuler's `struct gm_memcpy_t`: one physically contiguous piece of an hmemcpy. */
export interface GmMemcpy {
  readonly mm: GmProcess;
  readonly dev: GmDev;
  /** Physical addresses (host or device memory); `src` -1: zeros (a NOMAP source). */
  readonly dest: number;
  readonly src: number;
  readonly size: number;
}

/** `struct gm_mmu`: the MMU functions a device registers with {@link GmDev}. */
export interface GmMmu {
  /** Reserve `[va, va+size)` in the peer OS's address space of `mm` (NOMEM: taken). */
  peerVaAllocFixed(mm: GmProcess, va: number, size: number, prot: Prot): GmRet;
  peerVaFree(mm: GmProcess, va: number, size: number): GmRet;
  /** Create the physical mapping of `gmf.va` on the device (see the file comment). */
  peerMap(gmf: GmFault): GmRet;
  /** Destroy it; with `copy`, copy the data back to `gmf.dmaAddr` first. */
  peerUnmap(gmf: GmFault): GmRet;
  /** Create a device page table (with `share`: the CPU's table, walked as it is). */
  pmapCreate(dev: GmDev, share?: GmPmapShare): { ret: GmRet; pmap?: GmPmap };
  pmapDestroy(pmap: GmPmap): GmRet;
  /** Point the device's MMU at `pmap` (the context switch; extension). */
  pmapActivate?(pmap: GmPmap): GmRet;
  pmapEnter(pmap: GmPmap, va: number, size: number, pa: number, prot: Prot): GmRet;
  pmapRelease(pmap: GmPmap, va: number, size: number): GmRet;
  pmapProtect(pmap: GmPmap, va: number, size: number, prot: Prot): GmRet;
  tlbInvl(pmap: GmPmap, va: number, size: number): GmRet;
  tlbInvlCoalesced(pmap: GmPmap, mappings: readonly GmRange[]): GmRet;
  /** Copy one piece of an hmemcpy with the device's copy engine (openEuler; optional). */
  peerHmemcpy?(gmc: GmMemcpy): GmRet;
}
