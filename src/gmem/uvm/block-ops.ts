/**
 * Whole-block operations on a VA block with pieces, for the core's hooks: a cancelled eviction's
 * re-mapping, eager free (munmap, DONTNEED) and mprotect.
 */
import type { Prot } from "../../mmu/prot.js";
import type { GmemCore } from "../core.js";
import type { GmProcess } from "../process.js";
import { cpuProt, GM_PAGE, PAGE } from "../types.js";
import type { GmMapping } from "../vm-object.js";
import type { UvmBlock } from "./block.js";
import { CPU, DEV, forRuns, NOMAP, PAGES } from "./block.js";
import { dropRemote, gmf, liveRemotes, protOf } from "./moves.js";

/** A cancelled eviction: the frame's pages and the device's remote mappings entered again. */
export function remapBlock(mm: GmProcess, m: GmMapping, b: UvmBlock): void {
  const dev = m.dev!;
  const pmap = dev.contextFor(mm.as)?.pmap;
  if (pmap === undefined) return;
  const prot = protOf(mm, m);
  const frame = m.page!;
  forRuns(
    (i) => b.state[i] === DEV,
    (s, n) => void dev.mmu.pmapEnter(pmap, m.va + s * PAGE, n * PAGE, frame.pa + s * PAGE, prot),
  );
  const r = b.remoteOf(dev, pmap, false);
  if (r !== undefined)
    forRuns(
      (i) => r.mask[i] === 1,
      (s, n) =>
        void dev.mmu.pmapEnter(pmap, m.va + s * PAGE, n * PAGE, m.host!.pa + s * PAGE, prot),
    );
}

/** Eager free: every page dropped (no copy), the frame and host page given back; NOMAP. */
export function freeAll(core: GmemCore, mm: GmProcess, m: GmMapping, b: UvmBlock): void {
  dropRemote(mm, m, b, 0, PAGES);
  b.remote = [];
  forRuns(
    (i) => b.state[i] === CPU,
    (s, n) => void mm.mm.unmap(m.va + s * PAGE, n * PAGE),
  );
  if (m.host !== undefined) core.freeHostPage(m.host, true);
  m.host = undefined;
  if (m.page !== undefined) {
    const dev = m.dev!;
    const prot = protOf(mm, m);
    forRuns(
      (i) => b.state[i] === DEV,
      (s, n) =>
        void dev.mmu.peerUnmap(gmf(mm, dev, m.va + s * PAGE, n * PAGE, prot, false, 0, m.page!)),
    );
    core.releaseDevicePage(m.page);
  }
  m.page = undefined;
  m.dev = undefined;
  b.setRange(0, PAGES, NOMAP);
  b.thrash = undefined;
  m.flags = GM_PAGE.NOMAP;
}

/** mprotect: the CPU's, the frame's device's and the remote mappings of `m`. */
export function protectAll(mm: GmProcess, m: GmMapping, b: UvmBlock, prot: Prot): void {
  const p = cpuProt(prot);
  forRuns(
    (i) => b.state[i] === CPU,
    (s, n) => mm.mm.protect(m.va + s * PAGE, n * PAGE, p),
  );
  const dev = m.dev;
  const pmap = dev?.contextFor(mm.as)?.pmap;
  if (dev !== undefined && pmap !== undefined && !m.page!.evicting)
    forRuns(
      (i) => b.state[i] === DEV,
      (s, n) => {
        dev.mmu.pmapProtect(pmap, m.va + s * PAGE, n * PAGE, p);
        dev.mmu.tlbInvl(pmap, m.va + s * PAGE, n * PAGE);
      },
    );
  for (const r of liveRemotes(mm, b)) {
    if (r.dev === dev && m.page?.evicting === true) continue;
    forRuns(
      (i) => r.mask[i] === 1,
      (s, n) => {
        r.dev.mmu.pmapProtect(r.pmap, m.va + s * PAGE, n * PAGE, p);
        r.dev.mmu.tlbInvl(r.pmap, m.va + s * PAGE, n * PAGE);
      },
    );
  }
}
