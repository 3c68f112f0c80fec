/**
 * Issue 8's benchmarks: `vcm_back` + `vcm_unback` of a 16 MiB reservation backed by 1M chunks on
 * four associated SMMU contexts, and `vcm_reserve` + `vcm_unreserve`.
 *
 * Inputs are drawn per operation: a back picks one of 8 reservations (at different device
 * addresses) and one of 8 physmems whose sixteen 1M chunks are scattered over the 1M pool (it
 * was fragmented first); a reserve draws its length log-uniformly from 4K to 16M on a VCM that
 * holds 64 reservations of random lengths.
 */
import { benchCase } from "../../bench/harness.js";
import { Rng } from "../base/rng.js";
import { Cpu } from "../devices/cpu.js";
import { Platform } from "../devices/platform.js";
import { Smmu } from "../devices/smmu.js";
import { VCM_1MB, VCM_MEMTYPE_0, VCM_READ, VCM_WB_WA, VCM_WRITE } from "./attrs.js";
import { VcmManager } from "./manager.js";
import type { Physmem } from "./physmem.js";
import type { Reservation } from "./reservation.js";

const K = 1024;
const M = 1024 * K;
const RW = VCM_READ | VCM_WRITE | VCM_WB_WA;

function machine() {
  const platform = new Platform({
    regions: [{ name: "dram", base: 0x8000_0000, size: 1024 * M, kind: "ram" }],
    targets: [
      {
        name: "pgtables",
        ranges: [{ region: "dram", size: 64 * M }],
        allocator: { kind: "buddy" },
      },
      {
        name: "pools",
        ranges: [{ region: "dram", offset: 64 * M, size: 512 * M }],
        allocator: {
          kind: "chunk-pool",
          pools: [
            { chunkSize: 1 * M, bytes: 448 * M },
            { chunkSize: 64 * K, bytes: 32 * M },
            { chunkSize: 4 * K, bytes: 32 * M },
          ],
        },
      },
    ],
  });
  const contexts = ["vcodec", "vfe", "jpeg", "rot"];
  const smmu = new Smmu(platform, { name: "smmu0", contexts });
  for (const c of contexts) smmu.attachMaster(`${c}0`, c);
  new Cpu(platform, { name: "cpu0", asid: 1 });
  const vcmm = new VcmManager(platform, {
    memtypes: [{ memtype: VCM_MEMTYPE_0, target: "pools" }],
    tables: "pgtables",
    smmus: [{ smmu: "smmu0" }],
  });
  const vcm = vcmm.create(0x1000_0000, 1024 * M);
  for (const c of contexts) vcm.assoc(vcmm.devices.getCtxInstance(c), 0).activate();
  return { platform, vcmm, vcm };
}

benchCase({
  name: "vcm: back + unback of a 16 MiB reservation (16 x 1M chunks) on 4 associated SMMU contexts",
  targetNs: 100_000,
  setup: () => {
    const { vcmm, vcm } = machine();
    const rng = new Rng(8);
    // Fragment the 1M pool so each physmem's chunks are scattered.
    const filler: Physmem[] = [];
    for (let i = 0; i < 300; i++) filler.push(vcmm.physAlloc(VCM_MEMTYPE_0, 1 * M, VCM_1MB));
    for (let i = filler.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [filler[i], filler[j]] = [filler[j]!, filler[i]!];
    }
    for (const p of filler.slice(0, 150)) p.free();
    const physmems = Array.from({ length: 8 }, () =>
      vcmm.physAlloc(VCM_MEMTYPE_0, 16 * M, VCM_1MB),
    );
    const reservations: Reservation[] = Array.from({ length: 8 }, () => vcm.reserve(16 * M, RW));
    return () => {
      const res = reservations[rng.int(0, 7)]!;
      res.back(physmems[rng.int(0, 7)]!);
      res.unback();
      return res;
    };
  },
});

benchCase({
  name: "vcm: reserve + unreserve, length log-uniform 4K..16M, 64 reservations held",
  targetNs: 2_000,
  setup: () => {
    const { vcm } = machine();
    const rng = new Rng(9);
    const len = () => Math.round(2 ** (12 + rng.float() * 12));
    for (let i = 0; i < 64; i++) vcm.reserve(len(), RW);
    return () => {
      const r = vcm.reserve(len(), RW);
      r.unreserve();
      return r;
    };
  },
});
