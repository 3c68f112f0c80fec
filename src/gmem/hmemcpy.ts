/**
 * `hmemcpy(hnid, dest, src, size)` (openEuler): copy `size` bytes from virtual address `src` to
 * `dest` of the task with hnode `hnid`'s device's copy engine (`peer_hmemcpy`), between host and
 * device memory, wherever each side is resident — nothing migrates. Each physically contiguous
 * piece (within one 2 MiB block on each side) is one peer_hmemcpy. A NOMAP source reads as zeros
 * (the engine fills); a NOMAP destination is first populated on `hnid`'s device (a zeroed device
 * page, as a device write would). Both ranges must lie in peer-shared mappings; the device must
 * have a peer_hmemcpy op (EINVAL). Copies between memories are reported to the cost sink as
 * bytes over the link.
 */
import { hex, hexRange } from "../base/address.js";
import { fail } from "../base/errors.js";
import { checkAddress, checkInteger, checkLength } from "../base/validate.js";
import type { GmemCore } from "./core.js";
import type { GmDev } from "./device.js";
import { checkHnid, checkPeerRange } from "./madvise.js";
import type { GmMemcpy } from "./mmu.js";
import type { GmProcess } from "./process.js";
import type { GmRet } from "./types.js";
import { GM_FAULT_HINT, GM_PAGE, GM_RET, gmRetName, HOST } from "./types.js";

/** Where a byte lives: its physical address and the memory it is in (`host` or a device). */
export interface Located {
  readonly pa: number;
  readonly where: string;
}

/**
 * One piece of an hmemcpy, its destination populated: `peer_hmemcpy` from where the source is
 * (a NOMAP source reads as zeros: src -1) to the destination, priced as a move when the two are
 * in different memories. Shared by the core's hmemcpy and the UVM engine's.
 */
export function copyPiece(
  core: GmemCore,
  mm: GmProcess,
  dev: GmDev,
  copy: (gmc: GmMemcpy) => GmRet,
  to: Located,
  from: Located | undefined,
  s: number,
  n: number,
  what: string,
): void {
  const ret = copy({ mm, dev, dest: to.pa, src: from?.pa ?? -1, size: n });
  if (ret !== GM_RET.SUCCESS)
    fail("EFAULT", `${what}: peer_hmemcpy of ${hexRange(s, n)} answered ${gmRetName(ret)}`);
  const fromWhere = from?.where ?? to.where;
  if (fromWhere !== to.where) core.sink?.migrate(n, fromWhere, to.where);
  core.detail.hmemcpyBytes += n;
}

/** Where the byte at `va` lives: its physical address and memory, or undefined (NOMAP). */
function locate(mm: GmProcess, va: number): { pa: number; where: string } | undefined {
  const m = mm.vmObject!.lookup(va);
  if (m === undefined) return undefined;
  const off = va - m.va;
  if (m.state === GM_PAGE.DEVICE) return { pa: m.page!.pa + off, where: m.dev!.name };
  if (m.state === GM_PAGE.CPU) return { pa: m.host!.pa + off, where: HOST };
  return undefined;
}

/** The shape of hmemcpy's arguments (EINVAL naming the argument). */
export function checkHmemcpyArgs(hnid: number, dest: number, src: number, size: number): void {
  checkInteger("hmemcpy", "hnid", hnid, -1);
  checkAddress("hmemcpy", "dest", dest);
  checkAddress("hmemcpy", "src", src);
  checkLength("hmemcpy", "size", size);
}

export function hmemcpy(
  core: GmemCore,
  mm: GmProcess,
  hnid: number,
  dest: number,
  src: number,
  size: number,
): void {
  checkHmemcpyArgs(hnid, dest, src, size);
  const what = `hmemcpy(${hnid}, ${hex(dest)}, ${hex(src)}, ${size})`;
  if (!Number.isSafeInteger(size) || size < 0) fail("EINVAL", `${what}: bad size`, "size");
  if (size === 0) return;
  const h = checkHnid(core, mm, hnid, what);
  const dev: GmDev = h.dev;
  const copy = dev.mmu.peerHmemcpy?.bind(dev.mmu);
  if (copy === undefined) fail("EINVAL", `${what}: ${dev.name} has no peer_hmemcpy`);
  checkPeerRange(mm, src, src + size, what);
  checkPeerRange(mm, dest, dest + size, what);
  if (dest < src + size && src < dest + size)
    fail("EINVAL", `${what}: ${hexRange(src, size)} and ${hexRange(dest, size)} overlap`);
  const g = core.policy.granularity;
  let done = 0;
  while (done < size) {
    const s = src + done;
    const d = dest + done;
    const n = Math.min(size - done, g - (s % g), g - (d % g));
    if (locate(mm, d) === undefined) {
      const ret = core.devFaultPath(core, mm, d, dev, GM_FAULT_HINT.NONE);
      if (ret !== GM_RET.SUCCESS)
        fail("ENOMEM", `${what}: no page for the destination at ${hex(d)} (${gmRetName(ret)})`);
      if (core.lastOutcome === "populated") core.stats.deviceFirstTouches++;
    }
    copyPiece(core, mm, dev, copy, locate(mm, d)!, locate(mm, s), s, n, what);
    done += n;
  }
  core.detail.hmemcpyCalls++;
}
