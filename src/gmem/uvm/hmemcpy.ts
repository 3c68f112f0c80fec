/**
 * hmemcpy under the uvm engine: as the core's (hmemcpy.ts) — `peer_hmemcpy` with hnode `hnid`'s
 * device's copy engine, nothing migrates, a NOMAP source reads as zeros — but piece by piece of
 * 4 KiB, each page found where it lives (a block's pages may be in host and device memory at
 * once). A NOMAP destination page is populated on the device (alone: no prefetch, no thrashing
 * event), or in host memory for a SHARE / REPLICATE device.
 */
import { hex, hexRange } from "../../base/address.js";
import { fail } from "../../base/errors.js";
import { copyPiece } from "../hmemcpy.js";
import { checkHnid, checkPeerRange } from "../madvise.js";
import type { GmProcess } from "../process.js";
import { GM_MMU_MODE, GM_RET, gmRetName, HOST, PAGE } from "../types.js";
import type { UvmBlock } from "./block.js";
import { CPU, DEV } from "./block.js";
import type { UvmEngine } from "./engine.js";

/** Where the byte at `va` lives, or undefined (NOMAP). */
function locate(mm: GmProcess, va: number): { pa: number; where: string } | undefined {
  const m = mm.vmObject!.lookup(va);
  const b = m?.pieces as UvmBlock | undefined;
  if (b === undefined) return undefined;
  const off = va - m!.va;
  const s = b.state[Math.floor(off / PAGE)];
  if (s === DEV) return { pa: m!.page!.pa + off, where: m!.dev!.name };
  if (s === CPU) return { pa: m!.host!.pa + off, where: HOST };
  return undefined;
}

export function uvmHmemcpy(
  e: UvmEngine,
  mm: GmProcess,
  hnid: number,
  dest: number,
  src: number,
  size: number,
): void {
  const core = e.core;
  const what = `hmemcpy(${String(hnid)}, ${hex(dest)}, ${hex(src)}, ${String(size)})`;
  if (!Number.isSafeInteger(size) || size < 0) fail("EINVAL", `${what}: bad size`, "size");
  if (size === 0) return;
  const dev = checkHnid(core, mm, hnid, what).dev;
  const copy = dev.mmu.peerHmemcpy?.bind(dev.mmu);
  if (copy === undefined) fail("EINVAL", `${what}: ${dev.name} has no peer_hmemcpy`);
  checkPeerRange(mm, src, src + size, what);
  checkPeerRange(mm, dest, dest + size, what);
  if (dest < src + size && src < dest + size)
    fail("EINVAL", `${what}: ${hexRange(src, size)} and ${hexRange(dest, size)} overlap`);
  const migrating = dev.contextFor(mm.as)?.mode === GM_MMU_MODE.COHERENT_EXCLUSIVE;
  let done = 0;
  while (done < size) {
    const s = src + done;
    const d = dest + done;
    const n = Math.min(size - done, PAGE - (s % PAGE), PAGE - (d % PAGE));
    if (locate(mm, d) === undefined) {
      const m = mm.vmObject!.lookupOrCreate(d);
      const r = e.service(
        mm,
        m,
        migrating ? dev : undefined,
        [Math.floor((d - m.va) / PAGE)],
        "copy",
      );
      if (r.ret !== GM_RET.SUCCESS)
        fail("ENOMEM", `${what}: no page for the destination at ${hex(d)} (${gmRetName(r.ret)})`);
      if (migrating) core.stats.deviceFirstTouches++;
      else core.stats.cpuFirstTouches++;
    }
    copyPiece(core, mm, dev, copy, locate(mm, d)!, locate(mm, s), s, n, what);
    done += n;
  }
  core.detail.hmemcpyCalls++;
}
