/** The README's library examples, as written there, work. */
import { expect, it } from "vitest";

import { Platform, Smmu, VcmManager, VCM_MEMTYPE_0, VCM_READ, VCM_WRITE } from "./index.js";

it("the README's VCM snippet backs a reservation with two 1M sections", () => {
  const m = new Platform({
    regions: [{ name: "dram", base: 0x8000_0000, size: 256 << 20, kind: "ram" }],
    targets: [
      {
        name: "tables",
        ranges: [{ region: "dram", size: 16 << 20 }],
        allocator: { kind: "buddy" },
      },
      {
        name: "vcm-pools",
        ranges: [{ region: "dram", offset: 16 << 20, size: 64 << 20 }],
        allocator: {
          kind: "chunk-pool",
          pools: [
            { chunkSize: 1 << 20, bytes: 48 << 20 },
            { chunkSize: 4096, bytes: 16 << 20 },
          ],
        },
      },
    ],
  });
  const master = new Smmu(m, { name: "smmu0", contexts: ["vcodec"] }).attachMaster(
    "vcodec0",
    "vcodec",
  );
  const vcmm = new VcmManager(m, {
    memtypes: [{ memtype: VCM_MEMTYPE_0, target: "vcm-pools" }],
    tables: "tables",
    smmus: [{ smmu: "smmu0" }],
  });
  const vcm = vcmm.create(0x1000_0000, 256 << 20);
  vcm.assoc(vcmm.devices.getCtxInstance("vcodec"), 0).activate();
  const res = vcm.reserve(2 << 20, VCM_READ | VCM_WRITE);
  const pm = vcmm.physAlloc(VCM_MEMTYPE_0, 2 << 20, 0);
  res.back(pm);
  expect(vcmm.stats.pagesMapped).toEqual({ "1M": 2 });
  master.write(res.getDevAddr() + 8, new Uint8Array([1, 2, 3]));
  expect([...m.read(pm.physAt(8), 3)]).toEqual([1, 2, 3]);
});
