/**
 * Issue 10's benchmark of the GMEM core: simulated first-touch device faults per second
 * (target >= 200,000/s, i.e. <= 5,000 ns per fault).
 *
 * Each call brings up a fresh machine — 64 MiB of DRAM, an accelerator with 2 GiB of device
 * memory (1024 frames of 2 MiB) in COHERENT_EXCLUSIVE mode, a 2 GiB peer-shared mapping — and
 * the device reads one word of each of the 1024 blocks: 1024 device faults, each a translation
 * fault, gm_dev_fault (a frame off the hnode's free list, peer_map: one 2 MiB block descriptor in
 * the device's table, the owner label), and the replayed access (a walk, the TLB fill, the read).
 * The machine's construction (about a millisecond) is counted in the figure: recycling the
 * frames instead would time the eager free (a scrub of each frame) rather than the faults.
 */
import { benchCase } from "../../bench/harness.js";
import { Accelerator } from "../devices/accelerator.js";
import { Platform } from "../devices/platform.js";
import { Gmem } from "./gmem.js";
import { GM_MMU_MODE, HPAGE } from "./types.js";

const M = 1024 * 1024;
const FRAMES = 1024;

function machine() {
  const platform = new Platform({
    regions: [{ name: "dram", base: 0x8000_0000, size: 64 * M, kind: "ram" }],
    targets: [
      {
        name: "pgtables",
        ranges: [{ region: "dram", size: 32 * M }],
        allocator: { kind: "buddy" },
      },
      {
        name: "system",
        ranges: [{ region: "dram", offset: 32 * M }],
        allocator: { kind: "buddy" },
      },
    ],
  });
  const gmem = new Gmem(platform, { host: "system", tables: "pgtables" });
  const proc = gmem.createProcess("app", { cpu: "cpu0" });
  const as = gmem.asCreate(proc, 0, 2 ** 47);
  const accel = new Accelerator(platform, {
    name: "gpu0",
    localMemory: { region: { name: "hbm", base: 2 ** 40, size: FRAMES * HPAGE } },
  });
  const { dev } = gmem.addAccelerator(accel, { tables: "pgtables" });
  as.attach(dev, GM_MMU_MODE.COHERENT_EXCLUSIVE, true);
  const va = proc.mmap(FRAMES * HPAGE, { peerShared: true });
  return { gmem, va };
}

benchCase({
  name: "gmem: first-touch device faults",
  targetNs: 5_000,
  ops: FRAMES,
  setup: () => () => {
    const { gmem, va } = machine();
    for (let b = 0; b < FRAMES; b++) gmem.access("gpu0", "r", va + b * HPAGE, 8);
    return gmem.stats.deviceFaults;
  },
});
