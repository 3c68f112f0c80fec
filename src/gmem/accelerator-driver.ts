/**
 * A simulated accelerator driver: `struct gm_mmu` implemented on an {@link Accelerator}'s own
 * MMU, TLB and local memory, the way a driver would.
 *
 * - pmap_create makes a page table of the device's own (AArch64 stage 1, 4 KiB granule, 48-bit:
 *   the same sizes as the CPU, as the RFC assumes), with an ASID per context; pmap_activate
 *   points the accelerator's MMU at its root. The MMU is given the bare root, not the table
 *   object, so nothing invalidates the TLB behind the driver's back: every change is followed by
 *   a tlb_invl (`TLBI` by range and ASID), as on hardware with a non-coherent MMU. In SHARE
 *   mode pmap_create is given the CPU's table instead and pmap_activate makes the accelerator
 *   walk it (`shareTableWith`: its TLB then follows the CPU table's invalidations, the
 *   mmu_notifier role); such a pmap has no entries of its own to enter or release.
 * - peer_map maps the device page the core allocated (`gmf.page`, from the hnode) at `gmf.va`
 *   with one 2 MiB block descriptor, then, with `copy`, moves the data in from `gmf.dmaAddr`;
 *   a page already mapped there is "recently used" (MARK_HOT) and nothing changes; a page being
 *   evicted answers MIGRATING.
 * - peer_unmap releases the mapping (and invalidates), then moves the data out to `gmf.dmaAddr`
 *   (`copy`) or scrubs the page (no copy), so a freed device page holds no bytes.
 * - peer_va_alloc_fixed keeps the peer OS's reservations per process and refuses (NOMEM) ranges
 *   that overlap one, or the ranges the peer OS keeps for itself (`reservedVa`).
 * - Moves use {@link ByteStore.movePages}: the written 4 KiB pages change hands, so after a
 *   move the bytes live in the destination's memory and not in the source's.
 *
 * The driver also claims its local memory for the core ({@link claimLocalMemory}): it allocates
 * all of the device's local memory target and hands the ranges to gm_dev_register_physmem.
 */
import { hex } from "../base/address.js";
import { MemweaveError } from "../base/errors.js";
import { Accelerator } from "../devices/accelerator.js";
import { createLpaeFormat } from "../mmu/lpae.js";
import type { AnyPageTable } from "../mmu/page-table.js";
import { PageTable } from "../mmu/page-table.js";
import type { Prot } from "../mmu/prot.js";
import { rootOf } from "../mmu/regime.js";
import { PhysTableMemory } from "../mmu/table-memory.js";
import type { PhysAllocation } from "../phys/target.js";
import type { GmDev } from "./device.js";
import type { GmFault, GmMemcpy, GmMmu, GmPmap, GmPmapShare, GmRange } from "./mmu.js";
import type { GmProcess } from "./process.js";
import type { GmRet } from "./types.js";
import { GM_RET, HPAGE } from "./types.js";
import { checkArray, checkInstance, checkName, checkObject } from "../base/validate.js";

export interface AcceleratorDriverOptions {
  /** The memory target the device's page tables are allocated from. */
  tables: string;
  /** Ranges `[start, end)` the peer OS keeps for itself: peer_va_alloc_fixed refuses them. */
  reservedVa?: ReadonlyArray<{ readonly start: number; readonly end: number }>;
}

export interface AcceleratorDriverStats {
  peerMaps: number;
  peerUnmaps: number;
  /** Moves into device memory (peer_map with copy) and out of it (peer_unmap with copy). */
  copiesIn: number;
  copiesOut: number;
  scrubs: number;
  pmapEnters: number;
  pmapReleases: number;
  tlbInvalidations: number;
  migratingAnswers: number;
}

/** A device page table: the driver's own, or (SHARE) the CPU's. */
export class DriverPmap implements GmPmap {
  /** The driver's records of its 2 MiB block mappings: block address -> physical address. */
  readonly blocks = new Map<number, number>();

  constructor(
    readonly asid: number,
    /** The driver's own table (undefined for a SHARE pmap). */
    readonly own: PageTable | undefined,
    /** The CPU table a SHARE pmap walks. */
    readonly shared: AnyPageTable | undefined,
  ) {}

  get table(): AnyPageTable | undefined {
    return this.own ?? this.shared;
  }
}

const S1 = createLpaeFormat({ stage: 1, granule: 4096, ias: 48, oas: 48 });

export class AcceleratorDriver implements GmMmu {
  readonly accel: Accelerator;
  readonly tableMemory: PhysTableMemory;
  readonly stats: AcceleratorDriverStats = {
    peerMaps: 0,
    peerUnmaps: 0,
    copiesIn: 0,
    copiesOut: 0,
    scrubs: 0,
    pmapEnters: 0,
    pmapReleases: 0,
    tlbInvalidations: 0,
    migratingAnswers: 0,
  };
  private readonly reserved: ReadonlyArray<{ readonly start: number; readonly end: number }>;
  private readonly peerVas = new Map<GmProcess, Array<{ start: number; end: number }>>();
  private readonly claimed: PhysAllocation[] = [];
  private nextAsid = 1;

  constructor(accel: Accelerator, options: AcceleratorDriverOptions) {
    checkInstance("new AcceleratorDriver", "accel", accel, Accelerator);
    checkObject("new AcceleratorDriver", "options", options);
    checkName("new AcceleratorDriver", "options.tables", options.tables);
    if (options.reservedVa !== undefined)
      checkArray("new AcceleratorDriver", "options.reservedVa", options.reservedVa);
    this.accel = accel;
    const platform = accel.platform;
    this.tableMemory = new PhysTableMemory(platform.store, platform.target(options.tables));
    this.reserved = [...(options.reservedVa ?? [])];
  }

  get name(): string {
    return this.accel.name;
  }

  /**
   * Allocate all of the accelerator's local memory target (largest blocks first) for the core,
   * and return it as contiguous ranges `[begin, end)`, to register as hnodes.
   */
  claimLocalMemory(): Array<{ begin: number; end: number }> {
    const t = this.accel.localTarget;
    if (t === undefined) return [];
    for (;;) {
      const free = t.stats().largestFreeBlock;
      if (free < HPAGE) break;
      this.claimed.push(t.alloc(free));
    }
    const chunks = this.claimed
      .flatMap((a) => a.chunks.map((c) => ({ begin: c.pa, end: c.pa + c.size })))
      .sort((a, b) => a.begin - b.begin);
    const out: Array<{ begin: number; end: number }> = [];
    for (const c of chunks) {
      const last = out[out.length - 1];
      if (last !== undefined && last.end === c.begin) last.end = c.end;
      else out.push({ ...c });
    }
    return out;
  }

  /** Give the claimed local memory back to its target. */
  releaseLocalMemory(): void {
    for (const a of this.claimed.splice(0)) this.accel.localTarget!.free(a);
  }

  // --- gm_mmu ----------------------------------------------------------------------------

  peerVaAllocFixed(mm: GmProcess, va: number, size: number, _prot: Prot): GmRet {
    const end = va + size;
    const mine = this.peerVas.get(mm) ?? [];
    for (const r of [...this.reserved, ...mine])
      if (r.start < end && va < r.end) return GM_RET.NOMEM;
    mine.push({ start: va, end });
    this.peerVas.set(mm, mine);
    return GM_RET.SUCCESS;
  }

  peerVaFree(mm: GmProcess, va: number, size: number): GmRet {
    const mine = this.peerVas.get(mm);
    if (mine === undefined) return GM_RET.SUCCESS;
    const end = va + size;
    const kept: Array<{ start: number; end: number }> = [];
    for (const r of mine) {
      if (r.end <= va || r.start >= end) kept.push(r);
      else {
        if (r.start < va) kept.push({ start: r.start, end: va });
        if (r.end > end) kept.push({ start: end, end: r.end });
      }
    }
    if (kept.length > 0) this.peerVas.set(mm, kept);
    else this.peerVas.delete(mm);
    return GM_RET.SUCCESS;
  }

  /** The peer OS's reservations for `mm` (for tests). */
  peerVaRanges(mm: GmProcess): ReadonlyArray<{ start: number; end: number }> {
    return this.peerVas.get(mm) ?? [];
  }

  peerMap(gmf: GmFault): GmRet {
    this.stats.peerMaps++;
    const pmap = this.pmapOf(gmf);
    const page = gmf.page;
    if (pmap?.own === undefined || page === undefined) return GM_RET.FAILURE_UNKNOWN;
    if (page.evicting) {
      this.stats.migratingAnswers++;
      return GM_RET.MIGRATING;
    }
    // The frame's piece at the fault's offset (residency per 4 KiB piece; a whole page: its base).
    const pa = page.pa + (gmf.va % page.hnode.pageSize);
    const cur = pmap.blocks.get(gmf.va);
    if (cur === pa) return GM_RET.SUCCESS; // mapped: "recently used"
    if (cur !== undefined) {
      this.pmapRelease(pmap, gmf.va, gmf.size);
      this.tlbInvl(pmap, gmf.va, gmf.size);
    }
    const ret = this.pmapEnter(pmap, gmf.va, gmf.size, pa, gmf.prot);
    if (ret !== GM_RET.SUCCESS) return ret;
    if (gmf.copy) {
      this.move(pa, gmf.dmaAddr, gmf.size);
      this.stats.copiesIn++;
    }
    return GM_RET.SUCCESS;
  }

  peerUnmap(gmf: GmFault): GmRet {
    this.stats.peerUnmaps++;
    const pmap = this.pmapOf(gmf);
    if (pmap?.own === undefined) return GM_RET.FAILURE_UNKNOWN;
    const page = gmf.page;
    const pa =
      page !== undefined ? page.pa + (gmf.va % page.hnode.pageSize) : pmap.blocks.get(gmf.va);
    if (pa === undefined) return GM_RET.FAILURE_UNKNOWN;
    // A whole page mapped whole is known by its block record; otherwise (pieces of a block
    // mapped by runs, residency per 4 KiB piece) a walk says.
    const mapped = pmap.blocks.has(gmf.va) || pmap.own.translate(gmf.va) !== undefined;
    if (mapped) {
      const ret = this.pmapRelease(pmap, gmf.va, gmf.size);
      if (ret !== GM_RET.SUCCESS) return ret;
      this.tlbInvl(pmap, gmf.va, gmf.size);
    }
    if (gmf.copy) {
      this.move(gmf.dmaAddr, pa, gmf.size);
      this.stats.copiesOut++;
    } else {
      this.accel.platform.store.discard(pa, gmf.size);
      this.stats.scrubs++;
    }
    return GM_RET.SUCCESS;
  }

  pmapCreate(_dev: GmDev, share?: GmPmapShare): { ret: GmRet; pmap?: GmPmap } {
    if (share !== undefined)
      return { ret: GM_RET.SUCCESS, pmap: new DriverPmap(share.asid, undefined, share.table) };
    const asid = this.nextAsid++;
    let table: PageTable;
    try {
      table = new PageTable(S1, this.tableMemory, {
        name: `${this.accel.name}-pt${asid}`,
        bus: this.accel.platform.bus,
      });
    } catch (e) {
      return { ret: errorRet(e) };
    }
    return { ret: GM_RET.SUCCESS, pmap: new DriverPmap(asid, table, undefined) };
  }

  pmapDestroy(pmap: GmPmap): GmRet {
    if (!(pmap instanceof DriverPmap)) return GM_RET.FAILURE_UNKNOWN;
    const accel = this.accel;
    const t = pmap.table;
    if (
      t !== undefined &&
      accel.mmu.ttbr0?.root === t.root &&
      accel.mmu.ttbr0.memory === t.memory
    ) {
      accel.setTable(undefined);
      accel.tlbiAsid(pmap.asid);
    }
    if (pmap.own !== undefined) {
      accel.tlbiAsid(pmap.asid);
      pmap.own.destroy();
    }
    pmap.blocks.clear();
    return GM_RET.SUCCESS;
  }

  pmapActivate(pmap: GmPmap): GmRet {
    if (!(pmap instanceof DriverPmap)) return GM_RET.FAILURE_UNKNOWN;
    if (pmap.own !== undefined) this.accel.setTable(rootOf(pmap.own), pmap.asid);
    else this.accel.shareTableWith(pmap.shared!, pmap.asid);
    return GM_RET.SUCCESS;
  }

  pmapEnter(pmap: GmPmap, va: number, size: number, pa: number, prot: Prot): GmRet {
    if (!(pmap instanceof DriverPmap) || pmap.own === undefined) return GM_RET.FAILURE_UNKNOWN;
    try {
      pmap.own.map(va, pa, size, prot);
    } catch (e) {
      return errorRet(e);
    }
    this.stats.pmapEnters++;
    if (size === HPAGE && va % HPAGE === 0) pmap.blocks.set(va, pa);
    return GM_RET.SUCCESS;
  }

  pmapRelease(pmap: GmPmap, va: number, size: number): GmRet {
    if (!(pmap instanceof DriverPmap) || pmap.own === undefined) return GM_RET.FAILURE_UNKNOWN;
    try {
      const done = pmap.own.unmap(va, size);
      // A range with holes (pieces of a block mapped here and there): every leaf in it goes.
      if (done < size) releaseLeaves(pmap.own, va + done, va + size);
    } catch (e) {
      return errorRet(e);
    }
    this.stats.pmapReleases++;
    const first = va - (va % HPAGE);
    for (let b = first; b < va + size; b += HPAGE) pmap.blocks.delete(b);
    return GM_RET.SUCCESS;
  }

  pmapProtect(pmap: GmPmap, va: number, size: number, prot: Prot): GmRet {
    if (!(pmap instanceof DriverPmap) || pmap.own === undefined) return GM_RET.FAILURE_UNKNOWN;
    try {
      pmap.own.protect(va, size, prot);
    } catch (e) {
      return errorRet(e);
    }
    return GM_RET.SUCCESS;
  }

  tlbInvl(pmap: GmPmap, va: number, size: number): GmRet {
    if (!(pmap instanceof DriverPmap)) return GM_RET.FAILURE_UNKNOWN;
    this.accel.tlbiRange(va, size, pmap.asid);
    this.stats.tlbInvalidations++;
    return GM_RET.SUCCESS;
  }

  tlbInvlCoalesced(pmap: GmPmap, mappings: readonly GmRange[]): GmRet {
    if (!(pmap instanceof DriverPmap)) return GM_RET.FAILURE_UNKNOWN;
    // Many ranges: one invalidation of the ASID is cheaper than a TLBI each.
    if (mappings.length > 8) this.accel.tlbiAsid(pmap.asid);
    else for (const r of mappings) this.accel.tlbiRange(r.va, r.size, pmap.asid);
    this.stats.tlbInvalidations++;
    return GM_RET.SUCCESS;
  }

  peerHmemcpy(gmc: GmMemcpy): GmRet {
    const platform = this.accel.platform;
    try {
      if (gmc.src < 0) platform.fill(gmc.dest, gmc.size, 0);
      else platform.copy(gmc.dest, gmc.src, gmc.size);
    } catch (e) {
      return errorRet(e);
    }
    return GM_RET.SUCCESS;
  }

  // --- internals -------------------------------------------------------------------------

  private pmapOf(gmf: GmFault): DriverPmap | undefined {
    const pmap = gmf.dev.contextFor(gmf.mm.as)?.pmap;
    return pmap instanceof DriverPmap ? pmap : undefined;
  }

  /** Move `size` bytes of memory (the DMA engine): the source then reads as zeros. */
  private move(dst: number, src: number, size: number): void {
    const platform = this.accel.platform;
    platform.store.movePages(dst, src, size);
    const ch = platform.physWrites;
    if (ch.interest > 0) {
      for (const pa of [dst, src])
        ch.emit({ pa, size, region: platform.map.find(pa)?.name ?? hex(pa) });
    } else {
      ch.skip();
      ch.skip();
    }
  }
}

/** Unmap every leaf of `table` meeting `[start, end)` (clipped to it). */
function releaseLeaves(table: PageTable, start: number, end: number): void {
  const leaves: Array<[number, number]> = [];
  table.walk(
    {
      leaf: (l) => {
        const s = Math.max(start, l.va);
        leaves.push([s, Math.min(end, l.va + l.size) - s]);
      },
    },
    start,
    end,
  );
  for (const [va, size] of leaves) table.unmap(va, size);
}

/** The gm_ret of a model error. */
function errorRet(e: unknown): GmRet {
  if (!(e instanceof MemweaveError)) throw e;
  return e.code === "EEXIST"
    ? GM_RET.PAGE_EXIST
    : e.code === "ENOMEM"
      ? GM_RET.NOMEM
      : GM_RET.FAILURE_UNKNOWN;
}
