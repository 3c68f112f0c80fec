/**
 * `hmadvise(hnid, start, len, behavior)` (RFC patch 4 and openEuler's behaviours):
 * - PREFETCH: the range rounded out to 2 MiB goes to hnode `hnid`'s device: split into about
 *   four chunks (the prefetch work queue's GM_WORK_CONCURRENCY workers; here one after the
 *   other), each page faulted with MARK_HOT — NOMAP pages get zeroed device pages, CPU pages
 *   migrate, device pages are touched. `hnid` must be an hnode the task may use (EINVAL), its
 *   device attached to the task's address space in a mode that migrates (EINVAL for SHARE).
 * - WILLNEED: the mappings get WILLNEED; a device-resident one moves to the active tail (which
 *   consumes the hint). Rounded out.
 * - PINNED / UNPINNED: the mappings get / lose PINNED; a pinned device page moves to the active
 *   tail and is never evicted, and a CPU access to it is a SIGBUS; pinning moves no data
 *   (prefetch first to pin on the device). Rounded out.
 * - DONTNEED (eager free): the range rounded in to 2 MiB is freed — CPU blocks unmapped,
 *   device blocks peer_unmapped without copy — and becomes NOMAP. `hnid` may be -1.
 * The range must lie in peer-shared mappings (EINVAL otherwise; ENOMEM for unmapped parts, as
 * madvise answers). Returns the pages the call acted on.
 */
import { hexRange } from "../base/address.js";
import { alignDown, alignUp } from "../base/align.js";
import { fail } from "../base/errors.js";
import { checkAddress, checkInteger, checkLength } from "../base/validate.js";
import type { GmemCore } from "./core.js";
import { freeBlock } from "./fault.js";
import type { Hnode } from "./hnode.js";
import type { GmProcess } from "./process.js";
import type { MadvBehavior } from "./types.js";
import {
  GM_FAULT_HINT,
  GM_MMU_MODE,
  GM_PAGE,
  GM_RET,
  GM_WORK_CONCURRENCY,
  gmRetName,
  MADV,
  NO_HNID,
  PAGE,
} from "./types.js";

/** The hnode `hnid` if the task may use it; EINVAL otherwise. */
export function checkHnid(core: GmemCore, mm: GmProcess, hnid: number, what: string): Hnode {
  const h = core.hnode(hnid);
  if (h === undefined)
    fail("EINVAL", `${what}: ${hnid} is not an hnode (they start at ${core.cpuNodes})`, "hnid");
  if (!mm.memsAllowed.has(hnid))
    fail(
      "EINVAL",
      `${what}: process ${mm.name} may not use hnode ${hnid} (its device ${h.dev.name} is not attached to it)`,
      "hnid",
    );
  return h;
}

/** EINVAL / ENOMEM unless `[start, end)` lies in peer-shared areas of `mm`. */
export function checkPeerRange(mm: GmProcess, start: number, end: number, what: string): void {
  let covered = 0;
  for (const v of mm.vmas()) {
    const n = Math.max(0, Math.min(end, v.end) - Math.max(start, v.start));
    if (n > 0 && !v.peerShared)
      fail("EINVAL", `${what}: ${hexRange(v.start, v.end - v.start)} is not a peer-shared mapping`);
    covered += n;
  }
  if (covered < end - start)
    fail("ENOMEM", `${what}: ${hexRange(start, end - start)} is not all mapped`);
}

export function hmadvise(
  core: GmemCore,
  mm: GmProcess,
  hnid: number,
  start: number,
  len: number,
  behavior: MadvBehavior,
): number {
  checkInteger("hmadvise", "hnid", hnid, -1);
  checkAddress("hmadvise", "start", start);
  checkLength("hmadvise", "len", len);
  checkInteger("hmadvise", "behavior", behavior);
  const what = `hmadvise(${hnid}, ${start}, ${len}, ${behavior})`;
  if (!Number.isSafeInteger(start) || start < 0 || start % PAGE !== 0)
    fail("EINVAL", `${what}: start is not a 4 KiB-aligned address`, "start");
  if (!Number.isSafeInteger(len) || len < 0) fail("EINVAL", `${what}: bad length`, "len");
  const g = core.policy.granularity;
  const obj = mm.vmObject;
  if (behavior === MADV.DONTNEED) {
    if (hnid !== NO_HNID) checkHnid(core, mm, hnid, what);
    const s = alignUp(start, g);
    const e = alignDown(start + len, g);
    if (e <= s) return 0;
    checkPeerRange(mm, s, e, what);
    let n = 0;
    for (const m of obj!.range(s, e)) {
      if (m.state !== GM_PAGE.NOMAP) n++;
      freeBlock(core, mm, m);
    }
    return n;
  }
  const s = alignDown(start, g);
  const e = alignUp(start + len, g);
  if (len === 0) return 0;
  checkPeerRange(mm, s, e, what);
  switch (behavior) {
    case MADV.PREFETCH:
      return prefetch(core, mm, checkHnid(core, mm, hnid, what), s, e, what);
    case MADV.WILLNEED:
    case MADV.PINNED:
    case MADV.UNPINNED: {
      if (hnid !== NO_HNID) checkHnid(core, mm, hnid, what);
      let n = 0;
      for (let va = s; va < e; va += g) {
        const m = obj!.lookupOrCreate(va);
        n++;
        if (behavior === MADV.UNPINNED) {
          m.flags &= ~GM_PAGE.PINNED;
          continue;
        }
        m.flags |= behavior === MADV.PINNED ? GM_PAGE.PINNED : GM_PAGE.WILLNEED;
        if (m.state === GM_PAGE.DEVICE && !m.page!.evicting) {
          m.page!.hnode.touch(m.page!);
          if (behavior === MADV.WILLNEED) m.flags &= ~GM_PAGE.WILLNEED;
        }
      }
      return n;
    }
    default:
      return fail("EINVAL", `${what}: unknown behavior`, "behavior");
  }
}

/** PREFETCH: ~4 chunks, each page faulted with MARK_HOT on the hnode's device. */
function prefetch(
  core: GmemCore,
  mm: GmProcess,
  h: Hnode,
  s: number,
  e: number,
  what: string,
): number {
  const dev = h.dev;
  const ctx = dev.contextFor(mm.as);
  if (ctx === undefined)
    fail("EINVAL", `${what}: device ${dev.name} is not attached to ${mm.name}'s address space`);
  if (ctx.mode === GM_MMU_MODE.SHARE)
    fail("EINVAL", `${what}: device ${dev.name} shares the CPU's table: nothing migrates to it`);
  const g = core.policy.granularity;
  const pages = (e - s) / g;
  const chunk = Math.ceil(pages / GM_WORK_CONCURRENCY);
  let moved = 0;
  for (let c = 0; c < pages; c += chunk) {
    core.detail.prefetchChunks++;
    for (let i = c; i < Math.min(pages, c + chunk); i++) {
      const ret = core.devFaultPath(core, mm, s + i * g, dev, GM_FAULT_HINT.MARK_HOT);
      if (ret !== GM_RET.SUCCESS)
        fail(
          ret === GM_RET.NOMEM ? "ENOMEM" : "EFAULT",
          `${what}: prefetching ${hexRange(s + i * g, g)} to ${dev.name}: ${gmRetName(ret)} (${moved} pages prefetched)`,
        );
      const o = core.lastOutcome;
      if (o === "populated" || o === "migrated") {
        // In the residency's unit: 2 MiB pages, or 4 KiB pages under residency per page.
        core.stats.prefetchedPages += core.lastPages;
        moved += core.lastPages;
      }
    }
  }
  return moved;
}
