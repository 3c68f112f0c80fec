/** The README's library examples, as written there, work. */
import { expect, it } from "vitest";

import {
  createReplayMachine,
  generateTrace,
  parseTraceSpec,
  Platform,
  replayTrace,
  Smmu,
  VcmManager,
  VCM_MEMTYPE_0,
  VCM_READ,
  VCM_WRITE,
} from "./index.js";

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

it("the README's GMEM snippet replays one trace under gmem and uvm", () => {
  const trace = generateTrace(parseTraceSpec("gen:hotset,length=64M,hot=16M,count=10k,writes=0.3"));
  const bytes: number[] = [];
  for (const policy of ["gmem", "uvm"] as const) {
    const m = createReplayMachine({ bounds: trace.bounds, deviceMemory: 32 << 20, policy });
    trace.cursor.rewind();
    const { stats } = replayTrace(m.gmem, trace.cursor);
    expect(stats.deviceFaults).toBeGreaterThan(0);
    bytes.push(stats.bytesToDevice);
  }
  expect(bytes[1]).toBeLessThan(bytes[0]!); // uvm moves pieces, gmem whole 2 MiB blocks
});
