/**
 * The residency primitives of a VA block with pieces (block.ts): runs of pages populated, moved
 * and mapped, through the gm_mmu operations — `peer_map` / `peer_unmap` of a run of the frame
 * (with copy: the driver moves the bytes, ByteStore.movePages), `pmap_enter` / `pmap_release` +
 * `tlb_invl` for remote mappings of host pages, the CPU's table for host pages. A run is mapped
 * with the largest leaves it allows (a whole block: one 2 MiB leaf; 4 KiB leaves otherwise — the
 * tables have no 64 KiB contiguous leaves, so a 64 KiB big page is 16 of them).
 *
 * The functions keep the invariants of block.ts and add the bytes they move to a {@link Tally};
 * the caller counts migrations (one per block, service and direction).
 */
import type { GmemCore } from "../core.js";
import type { GmDev } from "../device.js";
import type { GmPage } from "../hnode.js";
import type { GmFault } from "../mmu.js";
import type { GmProcess } from "../process.js";
import type { GmRet } from "../types.js";
import { cpuProt, GM_FAULT_HINT, GM_PAGE, GM_RET, PAGE, PROT_RW } from "../types.js";
import type { Prot } from "../../mmu/prot.js";
import type { GmMapping } from "../vm-object.js";
import type { RemoteMap, UvmBlock } from "./block.js";
import { CPU, DEV, forRuns, PAGES, syncState } from "./block.js";

/** What a service moved. */
export interface Tally {
  /** Bytes moved host -> device, and device -> host (from `hostFrom`). */
  toDevice: number;
  toHost: number;
  hostFrom: string;
  /** Pages populated (zeroed, no data moved). */
  populated: number;
  /** Pages that reached the destination with their data. */
  migrated: number;
  /** 1 per page that moved with data to its final place (thrashing events)... */
  readonly moved: Uint8Array;
  /** ... all of them in `[movedLo, movedHi)`. */
  movedLo: number;
  movedHi: number;
}

export function newTally(): Tally {
  return {
    toDevice: 0,
    toHost: 0,
    hostFrom: "",
    populated: 0,
    migrated: 0,
    moved: new Uint8Array(PAGES),
    movedLo: PAGES,
    movedHi: 0,
  };
}

export function resetTally(t: Tally): void {
  t.toDevice = t.toHost = t.populated = t.migrated = 0;
  t.hostFrom = "";
  if (t.movedHi > t.movedLo) t.moved.fill(0, t.movedLo, t.movedHi);
  t.movedLo = PAGES;
  t.movedHi = 0;
}

function noteMoved(t: Tally, s: number, n: number): void {
  t.moved.fill(1, s, s + n);
  t.movedLo = Math.min(t.movedLo, s);
  t.movedHi = Math.max(t.movedHi, s + n);
}

/** The prot of `m`'s area, as descriptors take it. */
export function protOf(mm: GmProcess, m: GmMapping): Prot {
  return cpuProt(mm.vmaAt(m.va)?.prot ?? PROT_RW);
}

export function gmf(
  mm: GmProcess,
  dev: GmDev,
  va: number,
  size: number,
  prot: Prot,
  copy: boolean,
  dma: number,
  page: GmPage,
): GmFault {
  return { mm, dev, va, size, prot, copy, dmaAddr: dma, hint: GM_FAULT_HINT.NONE, page };
}

/** A host page for `m` (allocated if it has none); false when host memory is exhausted. */
export function ensureHost(core: GmemCore, m: GmMapping): boolean {
  if (m.host !== undefined) return true;
  try {
    m.host = core.allocHostPage();
  } catch {
    return false;
  }
  syncState(m);
  return true;
}

/** Free `m`'s host page once no page is CPU (its bytes have all left). */
export function releaseHostIfEmpty(core: GmemCore, m: GmMapping, b: UvmBlock): void {
  if (b.nCpu > 0 || m.host === undefined) return;
  core.freeHostPage(m.host, false);
  m.host = undefined;
  syncState(m);
}

/** A device frame now holds `m`'s device pages: on the active list's tail, labelled. */
export function bindFrame(
  core: GmemCore,
  mm: GmProcess,
  m: GmMapping,
  dev: GmDev,
  page: GmPage,
): void {
  m.dev = dev;
  m.page = page;
  m.flags &= ~GM_PAGE.WILLNEED; // consumed: the frame arrives at the tail
  page.mapping = m;
  page.mm = mm;
  page.hnode.addActive(page);
  core.labelDevicePage(page, mm.as?.name ?? mm.name);
  syncState(m);
}

/** Give `m`'s frame back once no page is DEVICE (its bytes have all left). */
export function releaseFrameIfEmpty(core: GmemCore, m: GmMapping, b: UvmBlock): void {
  if (b.nDev > 0 || m.page === undefined) return;
  core.releaseDevicePage(m.page);
  m.page = undefined;
  m.dev = undefined;
  syncState(m);
}

/** The remote mappings of `b` whose context is still `dev`'s for `mm` (stale ones dropped). */
export function liveRemotes(mm: GmProcess, b: UvmBlock): RemoteMap[] {
  if (b.remote.length === 0) return b.remote;
  b.remote = b.remote.filter((r) => r.dev.contextFor(mm.as)?.pmap === r.pmap);
  return b.remote;
}

/** The block whose evicted pages are coming home (its device's mappings entered at once). */
let homing: GmMapping | undefined;

/** Remove the remote mappings of pages `[s, s+n)` on every device. */
export function dropRemote(mm: GmProcess, m: GmMapping, b: UvmBlock, s: number, n: number): void {
  for (const r of liveRemotes(mm, b))
    forRuns(
      (i) => r.mask[i] === 1,
      (a, k) => {
        r.dev.mmu.pmapRelease(r.pmap, m.va + a * PAGE, k * PAGE);
        r.dev.mmu.tlbInvl(r.pmap, m.va + a * PAGE, k * PAGE);
        r.mask.fill(0, a, a + k);
      },
      s,
      s + n,
    );
}

/** Remove the remote mappings of pages `[s, s+n)` on `dev` for which `keep(i)` is false. */
export function dropRemoteOf(
  mm: GmProcess,
  m: GmMapping,
  b: UvmBlock,
  dev: GmDev,
  s: number,
  n: number,
  keep: (i: number) => boolean,
): void {
  const r = liveRemotes(mm, b).find((x) => x.dev === dev);
  if (r === undefined) return;
  forRuns(
    (i) => r.mask[i] === 1 && !keep(i),
    (a, k) => {
      dev.mmu.pmapRelease(r.pmap, m.va + a * PAGE, k * PAGE);
      dev.mmu.tlbInvl(r.pmap, m.va + a * PAGE, k * PAGE);
      r.mask.fill(0, a, a + k);
    },
    s,
    s + n,
  );
}

/** Map the CPU pages of `[s, s+n)` remotely on `dev` where it does not map them. */
export function remoteMap(
  mm: GmProcess,
  m: GmMapping,
  b: UvmBlock,
  dev: GmDev,
  s: number,
  n: number,
): void {
  const pmap = dev.contextFor(mm.as)?.pmap;
  if (pmap === undefined || m.host === undefined) return;
  const r = b.remoteOf(dev, pmap, true)!;
  const prot = protOf(mm, m);
  // While the block's frame on `dev` is being evicted its mappings there are released: the
  // mapping is recorded and entered when the eviction ends (or is cancelled).
  const later = m.page?.evicting === true && m.dev === dev && homing !== m;
  forRuns(
    (i) => b.state[i] === CPU && r.mask[i] === 0,
    (a, k) => {
      if (!later) dev.mmu.pmapEnter(pmap, m.va + a * PAGE, k * PAGE, m.host!.pa + a * PAGE, prot);
      r.mask.fill(1, a, a + k);
    },
    s,
    s + n,
  );
}

/** Map the CPU pages of `[s, s+n)` on the devices that access them (accessed-by). */
export function mapAccessedBy(
  mm: GmProcess,
  m: GmMapping,
  b: UvmBlock,
  s: number,
  n: number,
): void {
  if (b.accessedBy === undefined) return;
  for (const [dev, mask] of b.accessedBy)
    forRuns(
      (i) => mask[i] === 1,
      (a, k) => remoteMap(mm, m, b, dev, a, k),
      s,
      s + n,
    );
}

/**
 * Pages `[s, s+n)` — all CPU or all NOMAP — onto `m`'s frame on `dev` (bound already): CPU ones
 * leave the CPU's table and remote mappings and move (peer_map with copy), NOMAP ones are mapped
 * zeroed (peer_map). The driver's error otherwise (the CPU's mapping restored).
 */
export function toDeviceRun(
  core: GmemCore,
  mm: GmProcess,
  m: GmMapping,
  b: UvmBlock,
  s: number,
  n: number,
  t: Tally,
): GmRet {
  const dev = m.dev!;
  const va = m.va + s * PAGE;
  const size = n * PAGE;
  const fromCpu = b.state[s] === CPU;
  const prot = protOf(mm, m);
  const dma = fromCpu ? m.host!.pa + s * PAGE : 0;
  if (fromCpu) {
    dropRemote(mm, m, b, s, n);
    mm.mm.unmap(va, size);
  }
  const ret = dev.mmu.peerMap(gmf(mm, dev, va, size, prot, fromCpu, dma, m.page!));
  if (ret !== GM_RET.SUCCESS) {
    if (fromCpu) {
      mm.mm.map(va, dma, size, prot);
      mapAccessedBy(mm, m, b, s, n);
    }
    return ret;
  }
  b.setRange(s, n, DEV);
  if (fromCpu) {
    t.toDevice += size;
    t.migrated += n;
    noteMoved(t, s, n);
  } else t.populated += n;
  return GM_RET.SUCCESS;
}

/**
 * Pages `[s, s+n)` — all DEVICE — home into `m`'s host page (there already): peer_unmap with copy,
 * then mapped on the CPU (and on the devices that access them).
 */
export function toHostRun(
  mm: GmProcess,
  m: GmMapping,
  b: UvmBlock,
  s: number,
  n: number,
  t: Tally,
): GmRet {
  const dev = m.dev!;
  const va = m.va + s * PAGE;
  const size = n * PAGE;
  const prot = protOf(mm, m);
  const pa = m.host!.pa + s * PAGE;
  const ret = dev.mmu.peerUnmap(gmf(mm, dev, va, size, prot, true, pa, m.page!));
  if (ret !== GM_RET.SUCCESS) return ret;
  b.setRange(s, n, CPU);
  mm.mm.map(va, pa, size, prot);
  mapAccessedBy(mm, m, b, s, n);
  t.toHost += size;
  t.hostFrom = dev.name;
  noteMoved(t, s, n);
  return GM_RET.SUCCESS;
}

/** Pages `[s, s+n)` — all NOMAP — populated zeroed in `m`'s host page (there already), mapped. */
export function populateHostRun(
  mm: GmProcess,
  m: GmMapping,
  b: UvmBlock,
  s: number,
  n: number,
  t: Tally,
): void {
  const va = m.va + s * PAGE;
  mm.mm.map(va, m.host!.pa + s * PAGE, n * PAGE, protOf(mm, m));
  b.setRange(s, n, CPU);
  mapAccessedBy(mm, m, b, s, n);
  t.populated += n;
}

/**
 * Every DEVICE page of `m` home, the frame given back (an eviction, a detach, a block wanted on
 * another device). `released`: the frame's device mappings are gone already (an eviction's first
 * phase released the whole block on its device, remote mappings too: those are entered again).
 */
export function allHome(
  core: GmemCore,
  mm: GmProcess,
  m: GmMapping,
  b: UvmBlock,
  released: boolean,
  t: Tally,
): GmRet {
  if (m.page === undefined) return GM_RET.SUCCESS;
  if (!ensureHost(core, m)) return GM_RET.NOMEM;
  const dev = m.dev!;
  if (released) {
    // Before the pages come home (they add remote mappings of their own).
    const r = liveRemotes(mm, b).find((x) => x.dev === dev);
    if (r !== undefined) {
      const prot = protOf(mm, m);
      forRuns(
        (i) => r.mask[i] === 1,
        (s, n) =>
          void dev.mmu.pmapEnter(r.pmap, m.va + s * PAGE, n * PAGE, m.host!.pa + s * PAGE, prot),
      );
    }
  }
  let ret: GmRet = GM_RET.SUCCESS;
  if (released) homing = m;
  try {
    forRuns(
      (i) => b.state[i] === DEV && ret === GM_RET.SUCCESS,
      (s, n) => void (ret = toHostRun(mm, m, b, s, n, t)),
    );
  } finally {
    homing = undefined;
  }
  if (ret !== GM_RET.SUCCESS) return ret;
  releaseFrameIfEmpty(core, m, b);
  return GM_RET.SUCCESS;
}
