/**
 * UVM's memory hints (cudaMemAdvise), per 4 KiB page, on the machine model's PCIe-like link: a
 * device can map host memory (remote accesses over the link); the CPU cannot map device memory.
 *
 * - Preferred location (`SetPreferredLocation`): where a page should live. Host memory: a
 *   device's fault on the page does not migrate it — the page stays in (or comes back to) host
 *   memory and the device maps it remotely; CPU faults are as usual. A device: faults from that
 *   device migrate the page there as usual and a fault on an untouched block populates the whole
 *   block there (UVM's first-touch rule); the prefetcher never prefetches out of the preferred
 *   location; the CPU, which cannot reach device memory, still brings the page home when it
 *   touches it (the preferred device's next fault takes it back), and another device, with no
 *   peer link, migrates it to itself. Setting it moves nothing (as in UVM).
 * - Accessed-by (`SetAccessedBy`, a device): the device keeps a mapping to the page wherever it
 *   lives that the device can reach — host memory remotely, its own memory locally — so it does
 *   not fault on it: host pages are mapped on it at once and whenever a page comes home (a CPU
 *   fault, an eviction); a page that moves to another device leaves its table (no peer link).
 *   It migrates nothing itself: a page the device only reaches remotely stays home.
 * - Unsetting either (and a thrashing pin's end) removes the remote mappings no hint or pin
 *   justifies any more: the device faults there next time.
 *
 * Ranges are rounded out to 4 KiB and must lie in peer-shared mappings. Preferred location and
 * accessed-by devices must be attached to the process's address space in COHERENT_EXCLUSIVE mode.
 */
import { alignDown, alignUp } from "../../base/align.js";
import { fail } from "../../base/errors.js";
import type { GmDev } from "../device.js";
import { checkPeerRange } from "../madvise.js";
import type { GmProcess } from "../process.js";
import { GM_MMU_MODE, HPAGE, PAGE } from "../types.js";
import type { GmMapping } from "../vm-object.js";
import type { Place, UvmBlock } from "./block.js";
import { blockOf, PAGES } from "./block.js";
import type { UvmEngine } from "./engine.js";
import { dropRemoteOf, liveRemotes, mapAccessedBy } from "./moves.js";

/** True if `dev`'s remote mapping of page `i` of `b` is wanted (a hint or a pin). */
export function justified(e: UvmEngine, b: UvmBlock, dev: GmDev, i: number, now: number): boolean {
  if (b.accessedByDev(dev, i) || b.preferred?.[i] === "host") return true;
  const th = e.thrash;
  return th !== undefined && th.pinned(b, th.unit(i), now);
}

/** Remove the remote mappings of pages `[s, s+n)` that nothing justifies any more. */
export function dropUnjustified(
  e: UvmEngine,
  mm: GmProcess,
  m: GmMapping,
  b: UvmBlock,
  s: number,
  n: number,
): void {
  const now = e.now();
  for (const r of [...liveRemotes(mm, b)])
    dropRemoteOf(mm, m, b, r.dev, s, n, (i) => justified(e, b, r.dev, i, now));
}

/** The COHERENT_EXCLUSIVE device `dev` of `mm`'s address space (EINVAL otherwise). */
function migratingDevice(mm: GmProcess, dev: GmDev, what: string): GmDev {
  const ctx = dev.contextFor(mm.as);
  if (ctx === undefined || ctx.mode !== GM_MMU_MODE.COHERENT_EXCLUSIVE)
    fail(
      "EINVAL",
      `${what}: device ${dev.name} is not attached to ${mm.name}'s address space in COHERENT_EXCLUSIVE mode`,
      "who",
    );
  return dev;
}

/** For each block meeting `[s, e)`: the block, and its pages in the range. */
function eachBlock(
  mm: GmProcess,
  s: number,
  e: number,
  fn: (m: GmMapping, b: UvmBlock, first: number, count: number) => void,
): void {
  for (let bva = alignDown(s, HPAGE); bva < e; bva += HPAGE) {
    const m = mm.vmObject!.lookupOrCreate(bva);
    const b = blockOf(m);
    b.owner ??= mm;
    const first = Math.max(0, (s - bva) / PAGE);
    const last = Math.min(PAGES, (e - bva) / PAGE);
    fn(m, b, first, last - first);
  }
}

function range(mm: GmProcess, va: number, len: number, what: string): [number, number] {
  if (!Number.isSafeInteger(va) || va < 0 || !Number.isSafeInteger(len) || len <= 0)
    fail("EINVAL", `${what}: not a range`, "len");
  const s = alignDown(va, PAGE);
  const e = alignUp(va + len, PAGE);
  checkPeerRange(mm, s, e, what);
  return [s, e];
}

export function setPreferredLocation(
  eng: UvmEngine,
  mm: GmProcess,
  va: number,
  len: number,
  who: string | undefined,
): void {
  const what = `setPreferredLocation(${String(va)}, ${String(len)}, ${String(who)})`;
  const place: Place | undefined =
    who === undefined
      ? undefined
      : who === "cpu" || who === "host"
        ? "host"
        : migratingDevice(mm, eng.core.device(who), what);
  const [s, e] = range(mm, va, len, what);
  eachBlock(mm, s, e, (m, b, first, count) => {
    const pref = (b.preferred ??= new Array<Place | undefined>(PAGES).fill(undefined));
    pref.fill(place, first, first + count);
    if (place !== "host") dropUnjustified(eng, mm, m, b, first, count);
  });
}

export function setAccessedBy(
  eng: UvmEngine,
  mm: GmProcess,
  va: number,
  len: number,
  dev: GmDev,
  on: boolean,
): void {
  const what = `setAccessedBy(${String(va)}, ${String(len)}, ${dev.name})`;
  migratingDevice(mm, dev, what);
  const [s, e] = range(mm, va, len, what);
  eachBlock(mm, s, e, (m, b, first, count) => {
    const all = (b.accessedBy ??= new Map<GmDev, Uint8Array>());
    let mask = all.get(dev);
    if (mask === undefined) all.set(dev, (mask = new Uint8Array(PAGES)));
    mask.fill(on ? 1 : 0, first, first + count);
    if (on) mapAccessedBy(mm, m, b, first, count);
    else dropUnjustified(eng, mm, m, b, first, count);
  });
}
