/**
 * Issue 10's benchmark of the GMEM core: simulated first-touch device faults per second
 * (target >= 200,000/s, i.e. <= 5,000 ns per fault).
 *
 * Each call brings up a fresh machine — 64 MiB of DRAM, an accelerator with 2 GiB of device
 * memory (1024 frames of 2 MiB) in COHERENT_EXCLUSIVE mode, a 2 GiB peer-shared mapping — and
 * the device reads one word of each of the 1024 blocks, in a fresh random order at a random offset
 * in each (an inline xorshift per call): 1024 device faults, each a translation
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

/** One xorshift32 step. */
function xorshift(x: number): number {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return x >>> 0;
}

const order = new Uint32Array(FRAMES);

/** A fresh machine, its 1024 blocks first-touched in a fresh random order at random offsets. */
function touchAll(seed: number) {
  const { gmem, va } = machine();
  let x = seed >>> 0 || 1;
  for (let i = 0; i < FRAMES; i++) order[i] = i;
  for (let i = FRAMES - 1; i > 0; i--) {
    x = xorshift(x);
    const j = x % (i + 1);
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  for (let i = 0; i < FRAMES; i++) {
    x = xorshift(x);
    const offset = (x % (HPAGE / 8)) * 8;
    gmem.access("gpu0", "r", va + order[i]! * HPAGE + offset, 8);
  }
  return { gmem, seed: x };
}

benchCase({
  name: "gmem: first-touch device faults",
  targetNs: 5_000,
  ops: FRAMES,
  setup: () => {
    // What the workload implies, checked once outside the timed calls: every access is one
    // first-touch fault (a NOMAP block populated), none a migration or an eviction.
    const { gmem } = touchAll(0x9e3779b9);
    const s = gmem.stats;
    if (s.deviceFaults !== FRAMES || s.deviceFirstTouches !== FRAMES)
      throw new Error(
        `first-touch bench: ${s.deviceFaults} faults, ${s.deviceFirstTouches} first touches`,
      );
    if (s.migrationsToDevice + s.migrationsToHost + s.evictions !== 0)
      throw new Error("first-touch bench: a first touch migrated or evicted");
    let seed = 1;
    return () => {
      seed = touchAll(seed).seed;
      return seed;
    };
  },
});
