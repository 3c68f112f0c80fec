import type { Prot } from "../mmu/prot.js";
import { PROT } from "../mmu/prot.js";

/**
 * The constants of the seed's include/linux/gmem.h (and of openEuler's later gmem code where the
 * RFC has none), as TypeScript values: return codes, MMU modes, device capabilities, the flags
 * of a logical mapping, fault hints and the hmadvise behaviours.
 */

/** `enum gm_ret`: what the core and the drivers' `gm_mmu` operations answer. */
export const GM_RET = {
  SUCCESS: 0,
  NOMEM: 1,
  PAGE_EXIST: 2,
  MIGRATING: 3,
  FAILURE_UNKNOWN: 4,
} as const;

export type GmRet = (typeof GM_RET)[keyof typeof GM_RET];

const RET_NAMES = ["SUCCESS", "NOMEM", "PAGE_EXIST", "MIGRATING", "FAILURE_UNKNOWN"] as const;

/** `GM_RET_NOMEM` for 1, for messages. */
export function gmRetName(ret: GmRet): string {
  return `GM_RET_${RET_NAMES[ret] ?? `?${String(ret)}`}`;
}

/** `enum gm_mmu_mode`: how a device's page table relates to the CPU's (see as.ts). */
export const GM_MMU_MODE = {
  /** The device walks the CPU's own page table; no migration; device accesses are remote. */
  SHARE: 0,
  /** The device has its own table of exclusive entries; faults migrate pages to it. */
  COHERENT_EXCLUSIVE: 1,
  /** The device has its own table into which every CPU mapping is replicated. */
  REPLICATE: 2,
} as const;

export type GmMmuMode = (typeof GM_MMU_MODE)[keyof typeof GM_MMU_MODE];

const MODE_NAMES = ["SHARE", "COHERENT_EXCLUSIVE", "REPLICATE"] as const;

export function gmModeName(mode: GmMmuMode): string {
  return MODE_NAMES[mode] ?? `?${String(mode)}`;
}

/** `GM_DEV_CAP_*`: composable capability flags of a device. */
export const GM_DEV_CAP = {
  /** Memory accesses can be replayed to recover page faults. */
  REPLAYABLE: 0x1,
  /** The device has its own VMA/PA management, controlled by a peer OS. */
  PEER: 0x10,
} as const;

/**
 * `GM_PAGE_*`: the flags of a logical mapping (`gm_mapping.flag`). CPU, DEVICE and NOMAP are the
 * exclusive state; WILLNEED and PINNED are extra bits (PINNED is openEuler's gm_page flag, kept
 * here on the mapping: a pinned mapping stays wherever it is).
 */
export const GM_PAGE = {
  CPU: 0x10,
  DEVICE: 0x20,
  NOMAP: 0x40,
  WILLNEED: 0x80,
  PINNED: 0x100,
} as const;

/** The state bits of {@link GM_PAGE}. */
export const GM_PAGE_STATE = GM_PAGE.CPU | GM_PAGE.DEVICE | GM_PAGE.NOMAP;

/** openEuler's `gm_page` flags (a device page's own state; PINNED lives on the mapping). */
export const GM_PAGE_FLAG = {
  /** Being evicted: unmapped from the device, its data not yet moved to the host. */
  EVICTING: 0x1,
} as const;

/** `enum gm_fault_hint` (NONE added: the RFC's only value is MARK_HOT). */
export const GM_FAULT_HINT = {
  NONE: 0,
  /** Prefetch: the page is hot; on a device page, a touch of the active list. */
  MARK_HOT: 1,
} as const;

export type GmFaultHint = (typeof GM_FAULT_HINT)[keyof typeof GM_FAULT_HINT];

/** hmadvise behaviours: Linux's MADV_WILLNEED / MADV_DONTNEED and openEuler's additions. */
export const MADV = {
  WILLNEED: 3,
  DONTNEED: 4,
  PREFETCH: 0x1000,
  PINNED: 0x1001,
  UNPINNED: 0x1002,
} as const;

export type MadvBehavior = (typeof MADV)[keyof typeof MADV];

/** `HPAGE_SIZE`: the granularity of the logical page table and of the `gmem` policy. */
export const HPAGE = 2 * 1024 * 1024;

/** The CPU's base page (anonymous memory outside peer-shared mappings). */
export const PAGE = 4096;

/** `GMEM_MMAP_RETRY_TIMES`: retries of a peer-shared mmap some device refused. */
export const GMEM_MMAP_RETRY_TIMES = 10;

/** `GM_WORK_CONCURRENCY`: the prefetch work queue's workers (hence ~4 chunks per prefetch). */
export const GM_WORK_CONCURRENCY = 4;

/** The hnid of hmadvise calls that name no node (DONTNEED accepts it). */
export const NO_HNID = -1;

/** Read and write: the default protection of a mapping. */
export const PROT_RW = PROT.READ | PROT.WRITE;

/** The descriptor prot of an area's READ / WRITE, on the CPU and on devices: user, cacheable. */
export function cpuProt(prot: Prot): Prot {
  return (prot & PROT_RW) | PROT.CACHE | PROT.NOEXEC;
}

/** The link name of host memory in cost reports. */
export const HOST = "host";
