/**
 * One service of one VA block (UVM's uvm_va_block_service_locked, reduced): the faulted pages of
 * one processor — a device, or the CPU (`to` undefined) — made resident and mapped, in UVM's
 * order: choose where each page goes (hints, thrashing pins) -> the prefetch hint -> make resident
 * -> map.
 *
 * - Where: a device's faulted page that is pinned (thrashing) or whose preferred location is host
 *   memory stays in (or comes to) host memory and is mapped remotely on the device (the link
 *   lets a device reach host memory; the CPU cannot reach device memory, so a CPU fault always
 *   brings the page home). Every other page goes to the faulting processor.
 * - What: `residency: "block"` moves the whole block; `"page"` the faulted pages, plus with
 *   `prefetch: "tree"` the prefetcher's pages (prefetch.ts): not out of a preferred location, all
 *   of an untouched block when it is faulted at its preferred location (UVM's first-touch rule).
 *   hmadvise PREFETCH (`advice`) takes the whole block; hmemcpy (`copy`) the page alone.
 * - Moves: a block's device pages are on one device: a fault from another device brings them
 *   home first (a migration to the host), then they go on (a migration to the device).
 * - Counting: one migration per direction per service with the bytes of every piece moved; every
 *   page moved with data by a fault's service is a thrashing event candidate (thrashing.ts).
 */
import type { GmemCore } from "../core.js";
import type { GmDev } from "../device.js";
import { allocDevicePage, finishEvict, finishReclaim } from "../evict.js";
import type { GmProcess } from "../process.js";
import type { GmRet } from "../types.js";
import { GM_PAGE, GM_RET, HOST } from "../types.js";
import type { GmMapping } from "../vm-object.js";
import type { UvmBlock } from "./block.js";
import { blockOf, CPU, DEV, forRuns, NOMAP, PAGES } from "./block.js";
import type { Tally } from "./moves.js";
import {
  allHome,
  bindFrame,
  ensureHost,
  populateHostRun,
  releaseFrameIfEmpty,
  releaseHostIfEmpty,
  remoteMap,
  resetTally,
  toDeviceRun,
  toHostRun,
} from "./moves.js";
import { prefetchPages } from "./prefetch.js";
import type { Thrashing } from "./thrashing.js";

export type Cause = "fault" | "advice" | "copy";

/** What a service did, in pages. */
export interface ServiceResult {
  ret: GmRet;
  populated: number;
  /** Pages that reached the destination with their data. */
  migrated: number;
  /** True if data moved at all (either direction). */
  moved: boolean;
  prefetched: number;
  /** Faulted pages served by a remote mapping. */
  remote: number;
  /** The block's frame was being evicted: the eviction was cancelled (MIGRATING). */
  raced: boolean;
}

/** What a service needs of the engine. */
export interface ServiceContext {
  readonly core: GmemCore;
  readonly thrash: Thrashing | undefined;
  now(): number;
  /** Count and price a migration. */
  noteMove(bytes: number, from: string, to: string): void;
}

const sel = new Uint8Array(PAGES);
const faultedMask = new Uint8Array(PAGES);
const resident = new Uint8Array(PAGES);
const thrashing = new Uint8Array(PAGES);
const prefetch = new Uint8Array(PAGES);
const remoteWant = new Uint8Array(PAGES);

function result(
  ret: GmRet,
  t: Tally,
  prefetched: number,
  remote: number,
  raced: boolean,
): ServiceResult {
  return {
    ret,
    populated: t.populated,
    migrated: t.migrated,
    moved: t.toDevice > 0 || t.toHost > 0,
    prefetched,
    remote,
    raced,
  };
}

/** True if page `i` of `b` is to be served from host memory for a device (pin, preference). */
function servedRemotely(c: ServiceContext, b: UvmBlock, i: number, now: number): boolean {
  if (b.preferred?.[i] === "host") return true;
  return c.thrash !== undefined && c.thrash.pinned(b, c.thrash.unit(i), now);
}

/** Add the prefetcher's pages for `local` (faulted, served at `to`) to `sel`. */
function addPrefetch(
  c: ServiceContext,
  m: GmMapping,
  b: UvmBlock,
  to: GmDev | undefined,
  local: number[],
  now: number,
): void {
  const dest = to ?? "host";
  const pref = b.preferred?.[local[0]!];
  if (pref !== undefined && pref !== dest) return; // no prefetching out of the preferred location
  if (pref === dest && b.nCpu === 0 && b.nDev === 0) {
    sel.fill(1);
    return;
  }
  for (let i = 0; i < PAGES; i++)
    resident[i] = to === undefined ? +(b.state[i] === CPU) : +(b.state[i] === DEV && m.dev === to);
  const thr = c.thrash !== undefined && c.thrash.thrashingPages(b, now, thrashing);
  prefetchPages(
    resident,
    local,
    thr ? thrashing : undefined,
    c.core.policy.prefetchThreshold,
    prefetch,
  );
  for (let i = 0; i < PAGES; i++) {
    if (prefetch[i] === 0) continue;
    const p = b.preferred?.[i];
    if (p !== undefined && p !== dest) continue;
    sel[i] = 1;
  }
}

/** The range `[lo, hi)` of the selected pages (loops stay in it: most services move a page). */
let lo = 0;
let hi = PAGES;

/**
 * An eviction of `m`'s frame in flight: its own device's fault cancels it (MIGRATING: WILLNEED,
 * then the evictions in flight end), a CPU fault ends it (an eviction), as on the core's paths;
 * another device's fault takes the pages over (they come home first: a migration).
 */
function resolveEviction(core: GmemCore, m: GmMapping, to: GmDev | undefined): boolean {
  const frame = m.page;
  if (frame === undefined || !frame.evicting) return false;
  if (to !== undefined && m.dev === to) {
    m.flags |= GM_PAGE.WILLNEED;
    core.detail.migratingAnswers++;
    finishReclaim(core);
    if (frame.evicting) finishEvict(core, frame, false);
    return true;
  }
  if (to === undefined) finishEvict(core, frame, true);
  return false;
}

/** Serve the faulted pages `faulted` (sorted, distinct) of block `m` for `to` (see the file comment). */
export function serviceBlock(
  c: ServiceContext,
  mm: GmProcess,
  m: GmMapping,
  to: GmDev | undefined,
  faulted: readonly number[],
  cause: Cause,
  t: Tally,
): ServiceResult {
  const core = c.core;
  const b = blockOf(m);
  const now = c.now();
  const wholeBlock = core.policy.residency === "block";
  resetTally(t);
  const raced = resolveEviction(core, m, to);
  if (cause === "advice") b.thrash = undefined; // a user command: the heuristics start again
  // Where each faulted page goes.
  let local: number[] = [];
  let remote: number[] = [];
  if (to !== undefined && cause === "fault") {
    if (wholeBlock) (servedRemotely(c, b, faulted[0]!, now) ? remote : local).push(...faulted);
    else for (const i of faulted) (servedRemotely(c, b, i, now) ? remote : local).push(i);
  } else local = [...faulted];
  if (wholeBlock && remote.length > 0) remote = Array.from({ length: PAGES }, (_, i) => i);
  // What moves.
  sel.fill(0);
  faultedMask.fill(0);
  lo = PAGES;
  hi = 0;
  for (const i of local) {
    sel[i] = faultedMask[i] = 1;
    lo = Math.min(lo, i);
    hi = Math.max(hi, i + 1);
  }
  let prefetched = 0;
  if (local.length > 0) {
    if (wholeBlock || cause === "advice") {
      sel.fill(1);
      lo = 0;
      hi = PAGES;
    } else if (cause === "fault" && core.policy.prefetch === "tree") {
      addPrefetch(c, m, b, to, local, now);
      lo = sel.indexOf(1);
      hi = sel.lastIndexOf(1) + 1;
      for (let i = lo; i < hi; i++) {
        const there = to === undefined ? b.state[i] === CPU : b.state[i] === DEV && m.dev === to;
        if (sel[i] === 1 && faultedMask[i] === 0 && !there) prefetched++;
      }
    }
  }
  const ret =
    to === undefined
      ? makeHostResident(core, mm, m, b, t)
      : makeDeviceResident(core, mm, m, b, to, cause === "advice", t);
  if (ret !== GM_RET.SUCCESS) return result(ret, t, 0, 0, raced);
  if (remote.length > 0) {
    const r = serveRemote(core, mm, m, b, to!, remote, t);
    if (r !== GM_RET.SUCCESS) return result(r, t, 0, 0, raced);
  }
  // Counts: one migration per direction, the thrashing events, the prefetched pages.
  if (t.toHost > 0) c.noteMove(t.toHost, t.hostFrom, HOST);
  if (t.toDevice > 0) c.noteMove(t.toDevice, HOST, to!.name);
  const th = c.thrash;
  if (th !== undefined && cause === "fault")
    for (let i = t.movedLo; i < t.movedHi; i++) {
      if (t.moved[i] === 0) continue;
      if (th.migrated(b, m, th.unit(i), now)) core.stats.thrashingEvents++;
      if (wholeBlock) break;
    }
  core.stats.prefetchedPages += prefetched;
  return result(GM_RET.SUCCESS, t, prefetched, remote.length, raced);
}

/** The selected pages onto `to`'s frame (the block's pages on another device home first). */
function makeDeviceResident(
  core: GmemCore,
  mm: GmProcess,
  m: GmMapping,
  b: UvmBlock,
  to: GmDev,
  hot: boolean,
  t: Tally,
): GmRet {
  let need = false;
  for (let i = lo; i < hi && !need; i++)
    if (sel[i] === 1 && !(b.state[i] === DEV && m.dev === to)) need = true;
  if (!need) {
    if (hot && m.page !== undefined) m.page.hnode.touch(m.page); // MARK_HOT: recently used
    return GM_RET.SUCCESS;
  }
  if (m.page !== undefined && m.dev !== to) {
    const r = allHome(core, mm, m, b, m.page.evicting, t);
    if (r !== GM_RET.SUCCESS) return r;
  }
  if (m.page === undefined) {
    const page = allocDevicePage(core, to);
    if (page === undefined) return GM_RET.NOMEM;
    bindFrame(core, mm, m, to, page);
  } else m.page.hnode.touch(m.page);
  let ret: GmRet = GM_RET.SUCCESS;
  for (const from of [CPU, NOMAP])
    forRuns(
      (i) => ret === GM_RET.SUCCESS && sel[i] === 1 && b.state[i] === from,
      (s, n) => void (ret = toDeviceRun(core, mm, m, b, s, n, t)),
      lo,
      hi,
    );
  releaseHostIfEmpty(core, m, b);
  releaseFrameIfEmpty(core, m, b);
  return ret;
}

/** The selected pages home (device pages moved, NOMAP ones populated), mapped on the CPU. */
function makeHostResident(
  core: GmemCore,
  mm: GmProcess,
  m: GmMapping,
  b: UvmBlock,
  t: Tally,
): GmRet {
  let need = false;
  for (let i = lo; i < hi && !need; i++) if (sel[i] === 1 && b.state[i] !== CPU) need = true;
  if (!need) return GM_RET.SUCCESS;
  if (!ensureHost(core, m)) return GM_RET.NOMEM;
  let ret: GmRet = GM_RET.SUCCESS;
  forRuns(
    (i) => ret === GM_RET.SUCCESS && sel[i] === 1 && b.state[i] === DEV,
    (s, n) => void (ret = toHostRun(mm, m, b, s, n, t)),
    lo,
    hi,
  );
  if (ret !== GM_RET.SUCCESS) return ret;
  forRuns(
    (i) => sel[i] === 1 && b.state[i] === NOMAP,
    (s, n) => populateHostRun(mm, m, b, s, n, t),
    lo,
    hi,
  );
  releaseFrameIfEmpty(core, m, b);
  return GM_RET.SUCCESS;
}

/** Pages served from host memory for `to`: home (or populated there), mapped remotely on `to`. */
function serveRemote(
  core: GmemCore,
  mm: GmProcess,
  m: GmMapping,
  b: UvmBlock,
  to: GmDev,
  pages: readonly number[],
  t: Tally,
): GmRet {
  if (!ensureHost(core, m)) return GM_RET.NOMEM;
  const want = remoteWant.fill(0);
  const rlo = pages[0]!;
  const rhi = pages[pages.length - 1]! + 1;
  for (const i of pages) want[i] = 1;
  let ret: GmRet = GM_RET.SUCCESS;
  forRuns(
    (i) => ret === GM_RET.SUCCESS && want[i] === 1 && b.state[i] === DEV,
    (s, n) => void (ret = toHostRun(mm, m, b, s, n, t)),
    rlo,
    rhi,
  );
  if (ret !== GM_RET.SUCCESS) return ret;
  forRuns(
    (i) => want[i] === 1 && b.state[i] === NOMAP,
    (s, n) => populateHostRun(mm, m, b, s, n, t),
    rlo,
    rhi,
  );
  forRuns(
    (i) => want[i] === 1,
    (s, n) => remoteMap(mm, m, b, to, s, n),
    rlo,
    rhi,
  );
  releaseFrameIfEmpty(core, m, b);
  return GM_RET.SUCCESS;
}
