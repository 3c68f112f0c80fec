/**
 * Overcommit (openEuler's allocation and swap): device pages come from the free list of the
 * device's hnodes; when none is free, eviction takes up to `evictBatch` pages (16) from the head
 * of the active list, skipping pinned pages and pages already being evicted, and the allocation
 * is tried again — up to `evictRounds` (10) rounds, then GM_RET_NOMEM. Before evicting, an
 * allocation that finds no free page waits for the evictions in flight on the hnode (the swap
 * daemon's) to end: they free pages.
 *
 * Evicting a page = allocate a host page, `peer_unmap` with copy (the data moves to the host
 * page), state CPU (mapped on the CPU at once, as a migration to RAM installs the CPU's PTE). An
 * eviction round runs in two phases, as a driver's would: first every victim is marked
 * EVICTING and released from its device table (`pmap_release`), with one
 * `tlb_invl_coalesced` per table for the round; then each one's data is moved.
 *
 * The MIGRATING race: the swap daemon ({@link reclaim} with `defer`) runs only the first phase
 * and leaves the pages in flight; a device fault on one meanwhile gets MIGRATING from
 * peer_map, which sets WILLNEED on the mapping and succeeds; when the eviction ends
 * ({@link finishReclaim}), a page that got WILLNEED is not evicted: its mapping is entered
 * again (`pmap_enter`) and it goes to the active tail. A CPU fault on a page in flight ends its
 * eviction at once.
 */
import type { GmemCore } from "./core.js";
import type { GmDev } from "./device.js";
import { moveToHost } from "./fault.js";
import type { GmPage, Hnode } from "./hnode.js";
import type { GmPmap, GmRange } from "./mmu.js";
import { cpuProt, GM_PAGE, GM_PAGE_FLAG, GM_RET, PROT_RW } from "./types.js";

/**
 * A free page of one of `dev`'s hnodes, evicting when none is free (see the file comment); it is
 * on no list yet. Undefined when nothing could be evicted (every page pinned or in flight, or
 * host memory exhausted).
 */
export function allocDevicePage(core: GmemCore, dev: GmDev): GmPage | undefined {
  let first: Hnode | undefined;
  for (const id of dev.registeredHnodes) {
    const h = core.hnode(id)!;
    first ??= h;
    const p = h.allocFree();
    if (p !== undefined) return p;
  }
  if (first === undefined) return undefined;
  // Evictions in flight here free pages: wait for them to end before evicting more.
  if (core.inFlight.size > 0) {
    for (const p of [...core.inFlight]) if (p.hnode === first) finishEvict(core, p, false);
    const p = first.allocFree();
    if (p !== undefined) return p;
  }
  const { evictBatch, evictRounds } = core.policy;
  for (let round = 0; round < evictRounds; round++) {
    const evicted = evictRound(core, first, evictBatch);
    const p = first.allocFree();
    if (p !== undefined) return p;
    if (evicted === 0) break;
  }
  return undefined;
}

/** The next `want` victims from the head of `h`'s active list. */
function victims(h: Hnode, want: number): GmPage[] {
  const out: GmPage[] = [];
  for (let p = h.first(); p !== undefined && out.length < want; p = h.after(p)) {
    const m = p.mapping;
    if (m === undefined || m.pinned || p.evicting) continue;
    out.push(p);
  }
  return out;
}

/** One round: up to `want` pages from the head of `h` evicted; returns how many were. */
export function evictRound(core: GmemCore, h: Hnode, want: number): number {
  const vs = victims(h, want);
  if (vs.length === 0) return 0;
  beginEvict(core, vs);
  let n = 0;
  for (const p of vs) if (finishEvict(core, p, true)) n++;
  return n;
}

/** The context table of a device page. */
function pmapOf(page: GmPage): GmPmap | undefined {
  return page.hnode.dev.contextFor(page.mm?.as)?.pmap;
}

/** Phase 1: EVICTING, released from the device tables, one coalesced invalidation per table. */
export function beginEvict(core: GmemCore, pages: readonly GmPage[]): void {
  const g = core.policy.granularity;
  const groups: Array<{ dev: GmDev; pmap: GmPmap; ranges: GmRange[] }> = [];
  for (const p of pages) {
    p.flags |= GM_PAGE_FLAG.EVICTING;
    const dev = p.hnode.dev;
    const pmap = pmapOf(p);
    if (pmap === undefined) continue;
    dev.mmu.pmapRelease(pmap, p.mapping!.va, g);
    let group = groups.find((x) => x.pmap === pmap);
    if (group === undefined) groups.push((group = { dev, pmap, ranges: [] }));
    group.ranges.push({ va: p.mapping!.va, size: g });
  }
  for (const { dev, pmap, ranges } of groups) dev.mmu.tlbInvlCoalesced(pmap, ranges);
}

/**
 * Phase 2 of a page's eviction: the data to a host page (an eviction, one migration to the
 * host) — unless, without `force`, the mapping got WILLNEED meanwhile: then the eviction is
 * cancelled (the page is mapped again and goes to the active tail). Also cancelled when the move
 * fails (no host memory). True if the page was evicted.
 */
export function finishEvict(core: GmemCore, page: GmPage, force: boolean): boolean {
  core.inFlight.delete(page);
  const m = page.mapping;
  if (m === undefined || !page.evicting) return false;
  if (force || !m.willneed) {
    const ret = moveToHost(core, m);
    if (ret === GM_RET.SUCCESS) {
      core.stats.evictions++;
      return true;
    }
  }
  // Cancelled: back in the device table, at the active tail.
  page.flags &= ~GM_PAGE_FLAG.EVICTING;
  m.flags &= ~GM_PAGE.WILLNEED;
  const pmap = pmapOf(page);
  if (m.pieces !== undefined) core.hooks!.remap(m);
  else if (pmap !== undefined)
    page.hnode.dev.mmu.pmapEnter(
      pmap,
      m.va,
      core.policy.granularity,
      page.pa,
      cpuProt(page.mm?.vmaAt(m.va)?.prot ?? PROT_RW),
    );
  page.hnode.touch(page);
  core.detail.evictionsCancelled++;
  return false;
}

/**
 * The swap daemon: evict up to `count` pages from the head of `h`'s active list. With `defer`,
 * only the first phase runs and the pages stay in flight until {@link finishReclaim}. Returns
 * the pages evicted (with `defer`: put in flight).
 */
export function reclaim(core: GmemCore, h: Hnode, count: number, defer: boolean): number {
  const vs = victims(h, count);
  if (vs.length === 0) return 0;
  beginEvict(core, vs);
  if (defer) {
    for (const p of vs) core.inFlight.add(p);
    return vs.length;
  }
  let n = 0;
  for (const p of vs) if (finishEvict(core, p, true)) n++;
  return n;
}

/** End every eviction in flight; returns how many pages were evicted (the others cancelled). */
export function finishReclaim(core: GmemCore): number {
  let n = 0;
  for (const p of [...core.inFlight]) if (finishEvict(core, p, false)) n++;
  return n;
}
