import { describe, expect, it } from "vitest";

import type { RunResult } from "../run.js";
import { stepOf, stepScenarios } from "./steps.testutil.js";

/**
 * A VCM machine: DRAM with table memory, chunk pools for VCM_MEMTYPE_0 (with an 8 MiB contiguous
 * pool at 0x8b00_0000) and for VCM_MEMTYPE_1 (none), a CPU with user and kernel tables, an SMMU
 * with contexts vcodec, vfe and spare (masters vcodec0, vfe0; spare has none), a one-to-one
 * device over the contiguous pool, and the VCM manager over all of it.
 */
const MACHINE = `version: 1
name: t
machine:
  regions:
    - { name: dram, base: 0x8000_0000, size: 512M, kind: ram }
  targets:
    - { name: pgtables, allocator: buddy, ranges: [{ region: dram, size: 64M }] }
    - name: vcm-pools
      allocator: chunk-pool
      ranges: [{ region: dram, offset: 64M, size: 120M }]
      pools: [{ chunk: 16M, size: 64M }, { chunk: 1M, size: 32M }, { chunk: 64K, size: 8M }, { chunk: 4K, size: 8M }]
      contiguous: 8M
    - name: small
      allocator: chunk-pool
      ranges: [{ region: dram, offset: 192M, size: 4M }]
      pools: [{ chunk: 4K, size: 4M }]
    - { name: system, allocator: buddy, ranges: [{ region: dram, offset: 256M }] }
  pageTables:
    - { name: user-pt, format: { kind: lpae, stage: 1 }, target: pgtables }
    - { name: kernel-pt, format: { kind: lpae, stage: 1 }, target: pgtables }
  devices:
    - { kind: cpu, name: cpu0, ttbr0: user-pt, ttbr1: kernel-pt, split: 0x8000_0000_0000, asid: 1 }
    - kind: smmu
      name: smmu0
      contexts: [{ name: vcodec }, { name: vfe }, { name: spare }]
      masters: [{ name: vcodec0, context: vcodec }, { name: vfe0, context: vfe }]
    - { kind: one-to-one, name: mdp, base: 0x8b00_0000, size: 8M }
  vcm:
    memtypes: [{ memtype: 0, target: vcm-pools }, { memtype: 1, target: small }]
    tables: pgtables
    smmus: [{ smmu: smmu0, base: 0x0400_0000, irq: 32, version: 2 }]
    prebuilt:
      kernel: { table: kernel-pt, start: 0x8000_1000_0000, len: 256M }
      user: { table: user-pt, start: 0x1000_0000, len: 256M }
steps:
`;
// Line 36 of MACHINE + steps is the first step.
const FIRST_STEP_LINE = 36;

const { run, errors } = stepScenarios(MACHINE, "t.yaml");
const step = stepOf;
const failures = (r: RunResult) =>
  r.expectations.list.filter((e) => !e.passed).map((e) => e.message);
const statuses = (r: RunResult) => r.steps.map((s) => s.status);

/** Stage 1 of the walk-through: a device VCM on vcodec, a 2M reservation backed by 2 x 1M. */
const STAGE1 = [
  "{ op: vcm.create, start: 0x1000_0000, len: 256M, as: video }",
  "{ op: vcm.assoc, vcm: video, device: vcodec, as: video_a }",
  "{ op: vcm.activate, assoc: video_a }",
  "{ op: vcm.reserve, vcm: video, len: 2M, attr: [READ, WRITE], as: frame }",
  "{ op: vcm.physAlloc, memtype: 0, len: 2M, as: pm }",
  "{ op: vcm.back, res: frame, physmem: pm }",
];

/** The kernel VCM on the CPU. */
const KERNEL = [
  "{ op: vcm.createFromPrebuilt, id: kernel, as: vmm }",
  "{ op: vcm.assoc, vcm: vmm, device: cpu0, as: vmm_a }",
  "{ op: vcm.activate, assoc: vmm_a }",
];

describe("vcm steps: VCMs, reservations, physmems, backing, associations", () => {
  it("stage 1: outputs, summaries, descriptions; an SMMU master reaches a reservation by name", () => {
    const r = run(
      ...STAGE1,
      "{ op: access, device: vcodec0, kind: write, va: frame + 0x1234, data: { text: hi } }",
      "{ op: read, addr: pm + 0x1234, expect: { text: hi } }",
      "{ op: vcm.smmuInfo, context: vcodec, expect: { active: true, baseAddr: 0x0400_0000, mappings: 2 } }",
    );
    expect(failures(r)).toEqual([]);
    expect(statuses(r).every((s) => s === "ok")).toBe(true);
    expect(r.steps.map((s) => s.description)).toEqual([
      "vcm_create 0x10000000+256 MiB as video",
      "vcm_assoc video with vcodec (0) as video_a",
      "vcm_activate video_a",
      "vcm_reserve 2 MiB of video (READ|WRITE|NOTCACHED) as frame",
      "vcm_phys_alloc VCM_MEMTYPE_0 2 MiB (0) as pm",
      "vcm_back frame with pm",
      "vcodec0: write 2 bytes at frame+0x1234",
      "read 2 bytes at pm+0x1234",
      "SMMU context vcodec",
    ]);
    expect(step(r, 0).output).toEqual({
      vcm: "video",
      type: "device",
      typeName: "VCM_DEVICE",
      start: 0x1000_0000,
      len: 256 << 20,
    });
    expect(step(r, 2).output).toMatchObject({ assoc: "video_a", device: "vcodec", active: true });
    expect(step(r, 3).output).toEqual({
      res: "frame",
      vcm: "video",
      devAddr: 0x1000_0000,
      len: 2 << 20,
      attr: 0x300,
      attrs: "READ|WRITE|NOTCACHED",
      physmem: null,
    });
    expect(step(r, 4).summary).toBe("pm: 2×1 MiB from 0x88000000");
    expect(step(r, 4).output).toMatchObject({
      physmem: "pm",
      memtype: 0,
      chunks: [
        { pa: 0x8800_0000, size: 1 << 20 },
        { pa: 0x8810_0000, size: 1 << 20 },
      ],
    });
    expect(step(r, 5).summary).toBe("frame 0x10000000-0x101fffff -> pm in vcodec");
    expect(step(r, 6).output).toMatchObject({ va: 0x1000_1234, pa: 0x8800_1234 });
    expect(step(r, 8).output).toMatchObject({ index: 0, active: true, baseAddr: 0x0400_0000 });
  });

  it("stage 2: the kernel VCM; translate and physRes with expectations that pass and fail", () => {
    const r = run(
      ...STAGE1,
      ...KERNEL,
      "{ op: vcm.reserve, vcm: vmm, len: 2M, attr: [READ, WRITE], as: kva }",
      "{ op: vcm.back, res: kva, physmem: pm }",
      "{ op: access, device: vcodec0, kind: write, va: frame + 1M, data: 'ca fe' }",
      "{ op: access, device: cpu0, kind: read, va: kva + 1M, expect: 'ca fe' }",
      "{ op: vcm.translate, addr: frame + 1M, from: video, to: vmm, expect: kva + 1M }",
      "{ op: vcm.translate, addr: frame, from: video, to: vmm, expect: 0x1234 }",
      "{ op: vcm.physRes, pa: pm + 4K, expect: [kva, frame] }",
      "{ op: vcm.physRes, pa: pm, expect: [frame] }",
      "{ op: vcm.physRes, pa: 0x9000_0000 }",
      "{ op: vcm.translate, addr: 0x1900_0000, from: video, to: vmm, expectError: ENOENT }",
      "{ op: vcm.vcmInfo, vcm: vmm, expect: { type: ext-kernel, start: 0x8000_1000_0000, len: 256M, numRes: 1, table: kernel-pt } }",
      "{ op: vcm.vcmInfo, vcm: video, expect: { table: vcodec, numRes: 2 } }",
    );
    expect(failures(r)).toEqual([
      "video 0x10000000 in vmm: expected 0x1234, got 0x800010000000",
      "0x88000000: expected frame, mapped by frame, kva",
      "VCM video reservations: expected 2, got 1",
    ]);
    expect(step(r, 13).output).toEqual({
      from: "video",
      to: "vmm",
      addr: 0x1010_0000,
      result: 0x8000_1010_0000,
    });
    expect(step(r, 15).summary).toBe("2 reservations: kva, frame");
    expect(step(r, 17).output).toEqual({ pa: 0x9000_0000, count: 0, reservations: [] });
    expect(step(r, 19).output).toMatchObject({ table: "kernel-pt" });
    expect(typeof step(r, 19).output!.pgtblPa).toBe("number");
    expect(step(r, 20).output).toMatchObject({ table: "vcodec", reservations: ["frame"] });
  });

  it("one-to-one: no device address until backed, then the memory's; resInfo expectations", () => {
    const r = run(
      "{ op: vcm.contRegion, memtype: 0, expect: { pa: 0x8b00_0000, len: 8M } }",
      "{ op: vcm.create, start: 0x8b00_0000, len: 8M, as: o }",
      "{ op: vcm.assoc, vcm: o, device: mdp, as: oa }",
      "{ op: vcm.activate, assoc: oa }",
      "{ op: vcm.reserve, vcm: o, len: 64K, attr: [READ, WRITE], as: ores }",
      "{ op: access, device: mdp, kind: read, va: ores, size: 4, expectError: EINVAL }",
      "{ op: vcm.physAlloc, memtype: 0, len: 64K, attr: [PHYS_CONT], as: opm }",
      "{ op: vcm.back, res: ores, physmem: opm }",
      "{ op: vcm.resInfo, res: ores, expect: { vcm: o, devAddr: opm, len: 64K, attr: [WRITE, READ], backed: true, physmem: opm } }",
      "{ op: access, device: mdp, kind: write, va: ores + 8, data: '01' }",
      "{ op: read, addr: opm + 8, expect: '01' }",
      "{ op: vcm.resInfo, res: ores, expect: { devAddr: 0x1000, backed: false, physmem: null, attr: [READ] } }",
      "{ op: vcm.vcmInfo, vcm: o, expect: { type: one-to-one } }",
    );
    expect(step(r, 5).error?.message).toBe(
      'EINVAL: "ores" is a reservation, which has no address in vcm:o or phys',
    );
    expect(step(r, 4).summary).toBe(
      "ores: (one-to-one: no address until backed) READ|WRITE|NOTCACHED",
    );
    expect(failures(r)).toEqual([
      "reservation ores device address: expected 0x1000, got 0x8b000000",
      "reservation ores attributes: expected READ|NOTCACHED, got READ|WRITE|NOTCACHED",
      "reservation ores backed: expected false, got true",
      "reservation ores physmem: expected none, got opm",
    ]);
    expect(step(r, 12).output).toMatchObject({ pgtblPa: null, table: null });
  });

  it("reserveAt, bounds, clone (its reservations bound by the manager's names), free", () => {
    const r = run(
      "{ op: vcm.create, start: 0x1000_0000, len: 64M, as: v }",
      "{ op: vcm.reserveAt, vcm: v, len: 8K, attr: [READ], as: first }",
      "{ op: vcm.reserveAt, vcm: v, len: 4K, attr: [READ], as: again, expectError: EBUSY }",
      "{ op: vcm.createBound, vcm: v, len: 4M, as: b }",
      "{ op: vcm.reserveFromBound, bound: b, len: 64K, attr: [READ, ALIGN_64K], as: inb }",
      "{ op: vcm.boundInfo, bound: b, expect: { start: 0x1010_0000, len: 4M, numRes: 1 } }",
      "{ op: vcm.resAt, vcm: v, addr: inb + 0x10, expect: inb }",
      "{ op: vcm.resAt, vcm: v, addr: 0x1300_0000, expect: null }",
      "{ op: vcm.clone, vcm: v, as: w }",
      "{ op: vcm.resInfo, res: w.res0, expect: { devAddr: 0x1000_0000, len: 8K } }",
      "{ op: vcm.resInfo, res: w.res1, expect: { devAddr: 0x1010_0000, attr: [READ, ALIGN_64K] } }",
      "{ op: vcm.boundInfo, bound: w.bound0, expect: { start: 0x1010_0000 } }",
      "{ op: vcm.vcmInfo, vcm: w, expect: { numRes: 2, start: 0x1000_0000, len: 64M } }",
      "{ op: vcm.freeBound, bound: b, expectError: EBUSY }",
      "{ op: vcm.unreserve, res: inb }",
      "{ op: vcm.freeBound, bound: b }",
      "{ op: vcm.free, vcm: v, expectError: EBUSY }",
      "{ op: vcm.unreserve, res: first }",
      "{ op: vcm.free, vcm: v }",
      "{ op: vcm.vcmInfo, vcm: v, expectError: EINVAL }",
      "{ op: vcm.create, start: 0x2000_0000, len: 1M, as: v }",
    );
    expect(failures(r)).toEqual([]);
    expect(step(r, 1).output).toMatchObject({ devAddr: 0x1000_0000 });
    expect(step(r, 8).output).toMatchObject({ vcm: "w", names: ["w.bound0", "w.res0", "w.res1"] });
    expect(step(r, 8).summary).toBe(
      "w device 0x10000000-0x13ffffff (64 MiB); 2 reservation(s) (w.res0, w.res1)",
    );
    expect(step(r, 4).description).toBe(
      "vcm_reserve_from_bound 64 KiB of b (READ|NOTCACHED|ALIGN_64 KiB) as inb",
    );
  });

  it("the lifecycle's refusals: busy, inactive, unbacked, double operations", () => {
    const r = run(
      "{ op: vcm.create, start: 0x1000_0000, len: 64M, as: v }",
      "{ op: vcm.reserve, vcm: v, len: 64K, attr: [READ, WRITE], as: res }",
      "{ op: vcm.physAlloc, memtype: 0, len: 64K, as: pm }",
      "{ op: vcm.back, res: res, physmem: pm, expectError: EINVAL }", // no association
      "{ op: vcm.assoc, vcm: v, device: vfe, as: a }",
      "{ op: vcm.back, res: res, physmem: pm, expectError: EAGAIN }", // inactive
      "{ op: vcm.activate, assoc: a }",
      "{ op: vcm.activate, assoc: a, expectError: EBUSY }",
      "{ op: vcm.back, res: res, physmem: pm }",
      "{ op: vcm.back, res: res, physmem: pm, expectError: EBUSY }",
      "{ op: vcm.unreserve, res: res, expectError: EBUSY }",
      "{ op: vcm.physFree, physmem: pm, expectError: EBUSY }",
      "{ op: vcm.deassoc, assoc: a, expectError: EBUSY }",
      "{ op: vcm.unback, res: res }",
      "{ op: vcm.unback, res: res, expectError: EINVAL }",
      "{ op: vcm.physFree, physmem: pm }",
      "{ op: vcm.physFree, physmem: pm, expectError: EINVAL }",
      "{ op: vcm.deactivate, assoc: a }",
      "{ op: vcm.deactivate, assoc: a, expectError: ENOENT }",
      "{ op: vcm.deassoc, assoc: a }",
      "{ op: vcm.assocInfo, assoc: a, expectError: EINVAL }",
      "{ op: vcm.unreserve, res: res }",
      "{ op: vcm.free, vcm: v }",
      "{ op: vcm.createFromPrebuilt, id: kernel, as: k1 }",
      "{ op: vcm.createFromPrebuilt, id: kernel, as: k2, expectError: EBUSY }",
      "{ op: vcm.create, start: 0x1000_0000, len: 1M, as: k1, expectError: EEXIST }",
      "{ op: vcm.reserve, vcm: nope, len: 4K, attr: READ, as: x, expectError: ENOENT }",
      "{ op: vcm.reserve, vcm: a, len: 4K, attr: READ, as: x, expectError: EINVAL }",
      "{ op: vcm.physAlloc, memtype: 2, len: 4K, as: q, expectError: ENODEV }",
      "{ op: vcm.physAlloc, memtype: 1, len: 8M, as: q, expectError: ENOMEM }",
    );
    expect(failures(r)).toEqual([]);
    expect(r.expectations.passed).toBe(r.steps.filter((s) => s.expectError).length);
    expect(step(r, 26).error?.message).toMatch(/^ENOENT: no VCM named "nope"/);
    expect(step(r, 27).error?.message).toBe('EINVAL: "a" is a association, not a VCM');
  });

  it("setResAttr and setAssocAttr; assocInfo and resInfo expectations", () => {
    const r = run(
      ...STAGE1,
      "{ op: vcm.setResAttr, res: frame, attr: [READ, WRITE, WB_WA] }",
      "{ op: vcm.resInfo, res: frame, expect: { attr: [READ, WRITE, WB_WA] } }",
      "{ op: vcm.setAssocAttr, assoc: video_a, attr: [USE_LOW_BASE], expectError: EBUSY }",
      "{ op: vcm.assocInfo, assoc: video_a, expect: { active: true, attr: 0, vcm: video, device: vcodec } }",
      ...KERNEL,
      "{ op: vcm.deactivate, assoc: vmm_a }",
      "{ op: vcm.setAssocAttr, assoc: vmm_a, attr: USE_HIGH_BASE }",
      "{ op: vcm.setAssocAttr, assoc: vmm_a, attr: [USE_LOW_BASE], expectError: EINVAL }",
      "{ op: vcm.assocInfo, assoc: vmm_a, expect: { active: false, attr: [USE_HIGH_BASE] } }",
      "{ op: vcm.setResAttr, res: frame, attr: 0x10000, expectError: EINVAL }",
    );
    expect(failures(r)).toEqual([]);
    expect(step(r, 6).summary).toBe("frame: 0x10000000-0x101fffff READ|WRITE|WB_WA");
    expect(step(r, 14).output).toMatchObject({ attr: 2, attrs: "USE_HIGH_BASE" });
  });

  it("mapPhysAddr and copy between reservations", () => {
    const r = run(
      ...STAGE1,
      ...KERNEL,
      "{ op: alloc, target: system, size: 64K, as: carve }",
      "{ op: vcm.mapPhysAddr, pa: carve, len: 64K, as: cpm }",
      "{ op: vcm.reserve, vcm: vmm, len: 64K, attr: [READ, WRITE], as: k }",
      "{ op: vcm.back, res: k, physmem: cpm }",
      "{ op: write, addr: pm + 16, data: { text: copied } }",
      "{ op: vcm.copy, to: k, toOff: 8, from: frame, fromOff: 16, len: 6, expect: 6 }",
      "{ op: read, addr: carve + 8, expect: { text: copied } }",
      "{ op: vcm.copy, to: k, from: frame, fromOff: 0, len: 1M, expect: 1M }",
      "{ op: vcm.physInfo, physmem: cpm, expect: { memtype: null, len: 64K, segments: 1, contiguous: true, backs: [k] } }",
      "{ op: vcm.mapPhysAddr, pa: 0x1000, len: 4K, as: bad, expectError: EINVAL }",
    );
    expect(failures(r)).toEqual(["bytes copied from frame to k: expected 1 MiB, got 64 KiB"]);
    expect(step(r, 10).output).toMatchObject({ memtype: null, chunks: [{ pa: 0x9000_0000 }] });
  });

  it("devAddrToPhys, hooks that count their calls, hookInfo, hwVer", () => {
    const r = run(
      ...STAGE1,
      ...KERNEL,
      "{ op: vcm.devAddrToPhys, device: vcodec, addr: frame + 0x10, expect: pm + 0x10 }",
      "{ op: vcm.devAddrToPhys, device: vcodec, addr: 0x1800_0000, expectError: EFAULT }",
      "{ op: vcm.hook, device: vcodec, answer: retry }",
      "{ op: vcm.devAddrToPhys, device: vcodec, addr: 0x1800_0000, expectError: EFAULT }",
      "{ op: vcm.hookInfo, device: vcodec, expect: { calls: 4 } }",
      "{ op: vcm.hook, device: vcodec, answer: terminate }",
      "{ op: access, device: vcodec0, kind: read, va: 0x1800_0000, size: 1, expectFault: { kind: translation } }",
      "{ op: vcm.hookInfo, device: vcodec, expect: { calls: 1 } }",
      "{ op: vcm.hook, device: cpu0, answer: terminate }",
      "{ op: access, device: cpu0, kind: read, va: 0x8000_1900_0000, size: 1, expectFault: { kind: translation } }",
      "{ op: vcm.hookInfo, device: cpu0, expect: { calls: 2 } }",
      "{ op: vcm.hookInfo, device: mdp }",
      "{ op: vcm.hwVer, device: vcodec, expect: 2 }",
      "{ op: vcm.hwVer, device: cpu0, expect: 0 }",
      "{ op: vcm.minPageSize, expect: 4K }",
      "{ op: vcm.contRegion, memtype: 1, expectError: ENOENT }",
    );
    expect(failures(r)).toEqual(["cpu0 fault hook calls: expected 2, got 1"]);
    expect(step(r, 9).output).toEqual({ device: "vcodec", addr: 0x1000_0010, pa: 0x8800_0010 });
    expect(step(r, 11).summary).toBe("vcodec: faults retried");
    expect(step(r, 20).summary).toBe("mdp: no hook");
    expect(step(r, 21).output).toEqual({ device: "vcodec", version: 2 });
    expect(r.statistics.vcm?.hooks).toEqual([
      { device: "vcodec", answer: "terminate", calls: 1 },
      { device: "cpu0", answer: "terminate", calls: 1 },
    ]);
  });

  it("physInfo: memtype, segments, chunks; physAlloc's page sizes and alignment", () => {
    const r = run(
      "{ op: vcm.physAlloc, memtype: 0, len: 0x112000, as: mm }",
      "{ op: vcm.physInfo, physmem: mm, expect: { memtype: 0, len: 0x112000, contiguous: false } }",
      "{ op: vcm.physAlloc, memtype: 0, len: 128K, attr: [64KB, 4KB], as: small }",
      "{ op: vcm.physAlloc, memtype: 0, len: 64K, attr: [ALIGN_1M], as: aligned }",
      "{ op: vcm.physAlloc, memtype: 1, len: 8K, as: other }",
      "{ op: vcm.physInfo, physmem: other, expect: { memtype: 1, segments: 1 } }",
      "{ op: vcm.physAlloc, memtype: 0, len: 4K, attr: 0x80000000, as: bad, expectError: EINVAL }",
    );
    expect(failures(r)).toEqual([]);
    expect(step(r, 0).summary).toBe("mm: 1×1 MiB + 1×64 KiB + 2×4 KiB from 0x88000000");
    expect(step(r, 1).output).toMatchObject({ segments: [{}, {}, {}], backs: [] });
    expect(step(r, 2).summary).toBe("small: 2×64 KiB from 0x8a010000");
    expect(step(r, 3).summary).toBe("aligned: 1×1 MiB from 0x88100000");
  });

  it("the SMMU driver: smmuMap, smmuTranslate, smmuUnmap and their refusals", () => {
    const r = run(
      "{ op: alloc, target: system, size: 1M, as: mem }",
      "{ op: vcm.create, start: 0x4000_0000, len: 16M, as: s }",
      "{ op: vcm.assoc, vcm: s, device: smmu0/spare, as: sa }",
      "{ op: vcm.activate, assoc: sa }",
      "{ op: vcm.smmuMap, context: spare, pa: mem, va: 0x4000_0000, len: 64K, attr: [SH, CACHED_WB_WA], rights: r }",
      "{ op: vcm.smmuTranslate, context: spare, va: 0x4000_1234, expect: mem + 0x1234 }",
      "{ op: vcm.smmuMap, context: spare, pa: mem, va: 0x4000_0000, len: 4K, expectError: EEXIST }",
      "{ op: vcm.smmuMap, context: spare, pa: mem, va: 0x4001_0000, len: 8K, expectError: EINVAL }",
      "{ op: vcm.smmuInfo, context: spare, expect: { mappings: 1, active: true } }",
      "{ op: vcm.smmuUnmap, context: spare, va: 0x4000_0000, len: 64K }",
      "{ op: vcm.smmuUnmap, context: spare, va: 0x4000_0000, len: 64K, expectError: ENOENT }",
      "{ op: vcm.smmuTranslate, context: spare, va: 0x4000_0000, expectError: EFAULT }",
      "{ op: vcm.smmuTranslate, context: vfe, va: 0x4000_0000, expectError: EINVAL }",
    );
    expect(failures(r)).toEqual([]);
    expect(step(r, 4).summary).toBe("spare: 0x40000000-0x4000ffff -> 0x90000000 SH|WB_WA");
    expect(step(r, 4).description).toBe("smmu_map spare 0x40000000 -> mem (64 KiB, SH|WB_WA)");
    expect(step(r, 8).output).toMatchObject({
      mappings: [{ va: 0x4000_0000, len: 64 << 10, pa: 0x9000_0000, attr: 5 }],
    });
  });
});

describe("vcm steps: names and addresses", () => {
  it("a reservation's name is an address only for the devices that see its VCM", () => {
    const r = run(
      ...STAGE1,
      "{ op: access, device: vfe0, kind: read, va: frame, size: 4, expectError: EINVAL }",
      "{ op: access, device: vcodec0, kind: read, va: pm, size: 4, expectError: EFAULT }",
      "{ op: translate, device: vcodec0, va: frame + 1M, expect: { pa: pm + 1M, size: 1M } }",
      "{ op: dump, walk: vcodec0, va: frame }",
      "{ op: vcm.reserve, vcm: video, len: 4K, attr: [READ], as: frame, expectError: EEXIST }",
      "{ op: alloc, target: system, size: 4K, as: taken }",
      "{ op: vcm.physAlloc, memtype: 0, len: 4K, as: taken, expectError: EEXIST }",
    );
    expect(failures(r)).toEqual([]);
    expect(step(r, 6).error?.message).toBe(
      'EINVAL: "frame" is a reservation, which has no physical address',
    );
    expect(step(r, 9).output).toEqual({ device: "vcodec0", va: 0x1000_0000 });
    // The refused physAlloc took nothing from the pools.
    expect(r.statistics.vcm?.physmems.map((p) => p.name)).toEqual(["pm"]);
  });
});

describe("vcm steps: load errors", () => {
  const at = (line: number, col: number, path: string, message: string) =>
    `${FIRST_STEP_LINE + line}:${col} ${path}: ${message}`;

  it("a bad attribute name is refused at its position, with the closest name", () => {
    expect(
      errors(
        "{ op: vcm.reserve, vcm: v, len: 4K, attr: [READ, WRTIE], as: r }",
        "{ op: vcm.reserve, vcm: v, len: 4K, attr: [WB_WA, WT], as: r }",
        "{ op: vcm.physAlloc, memtype: 0, len: 4K, attr: [PHYS_CONTIG], as: p }",
        "{ op: vcm.assoc, vcm: v, device: vfe, attr: USE_LOW, as: a }",
        "{ op: vcm.smmuMap, context: vfe, pa: 0, va: 0, len: 4K, attr: [SH, NON_SH] }",
        "{ op: vcm.reserve, vcm: v, len: 4K, attr: true, as: r }",
      ),
    ).toEqual([
      at(
        0,
        54,
        "steps[0].attr[1]",
        'unknown reservation attribute "WRTIE", did you mean "WRITE"? (expected: READ, WRITE, EXECUTE, USER, SUPERVISOR, SECURE, NOTCACHED, WB_WA, WB_NWA, WT, ALIGN_DEFAULT, ALIGN_4K, ALIGN_8K, ALIGN_16K, ALIGN_32K, ALIGN_64K, ALIGN_128K, ALIGN_256K, ALIGN_512K, ALIGN_1M, ALIGN_2M, ALIGN_4M, ALIGN_8M, ALIGN_16M, ALIGN_32M, ALIGN_64M, ALIGN_128M, ALIGN_256M, ALIGN_512M, ALIGN_1GB)',
      ),
      at(1, 55, "steps[1].attr[1]", "WB_WA and WT are both cache policies: give one"),
      at(
        2,
        54,
        "steps[2].attr[0]",
        'unknown physical allocation attribute "PHYS_CONTIG", did you mean "PHYS_CONT"? (expected: COHERENT, PHYS_CONT, ALL, 1MB, 64KB, 4KB, ALIGN_4K, ALIGN_8K, ALIGN_16K, ALIGN_32K, ALIGN_64K, ALIGN_128K, ALIGN_256K, ALIGN_512K, ALIGN_1M, ALIGN_2M, ALIGN_4M, ALIGN_8M, ALIGN_16M, ALIGN_32M, ALIGN_64M, ALIGN_128M, ALIGN_256M, ALIGN_512M, ALIGN_1GB)',
      ),
      at(
        3,
        49,
        "steps[3].attr",
        'unknown association attribute "USE_LOW", did you mean "USE_LOW_BASE"? (expected: USE_HIGH_BASE, USE_LOW_BASE, SPLIT)',
      ),
      at(4, 72, "steps[4].attr[1]", "SH and NON_SH are both shareabilities: give one"),
      at(
        5,
        47,
        "steps[5].attr",
        "expected reservation attributes: a list of names like READ, WRITE, EXECUTE, or a number, got true",
      ),
    ]);
  });

  it("unknown devices and contexts, with suggestions (checked against the machine)", () => {
    expect(
      errors(
        "{ op: vcm.assoc, vcm: v, device: vcodc, as: a }",
        "{ op: vcm.smmuUnmap, context: cpu0, va: 0, len: 4K }",
        "{ op: vcm.hwVer, device: smmu0 }",
        "{ op: vcm.hook, device: smmu0/vfe, answer: retry }",
      ),
    ).toEqual([
      // The static check also finds that no step bound the VCM "v".
      at(
        0,
        27,
        "steps[0].vcm",
        'no VCM named "v" is bound by an earlier step (bound by then: none)',
      ),
      at(
        0,
        38,
        "steps[0].device",
        'no VCM device named "vcodc", did you mean "vcodec"? (have: vcodec, vfe, spare, cpu0, mdp)',
      ),
      at(1, 35, "steps[1].context", 'no VCM SMMU context named "cpu0" (have: vcodec, vfe, spare)'),
      at(
        2,
        30,
        "steps[2].device",
        'no VCM device named "smmu0" (have: vcodec, vfe, spare, cpu0, mdp)',
      ),
    ]);
  });

  it("memtypes, prebuilt ids, rights and names are checked for form", () => {
    expect(
      errors(
        "{ op: vcm.physAlloc, memtype: 3, len: 4K, as: p }",
        "{ op: vcm.createFromPrebuilt, id: kernal, as: k }",
        "{ op: vcm.smmuMap, context: vfe, pa: 0, va: 0, len: 4K, rights: rwc }",
        "{ op: vcm.reserve, vcm: v, len: 4K, attr: [READ] }",
        "{ op: vcm.reserve, vcm: v, len: 4K, attr: [READ], as: a-b }",
      ),
    ).toEqual([
      at(0, 35, "steps[0].memtype", "expected a memtype 0, 1 or 2 (VCM_MEMTYPE_0..2), got 3"),
      at(
        1,
        39,
        "steps[1].id",
        'expected one of kernel, user, got "kernal", did you mean "kernel"?',
      ),
      at(
        2,
        69,
        "steps[2].rights",
        'expected rights as letters r, w, x, p (e.g. "rw", "rwx", "rp"), got "rwc"',
      ),
      at(3, 5, "steps[3].as", 'missing required key "as"'),
      at(
        4,
        59,
        "steps[4].as",
        'expected an allocation name (a letter or _, then letters, digits, _ or .), got "a-b"',
      ),
    ]);
  });

  it("a vcm step needs the machine's vcm section", () => {
    const bare = stepScenarios(
      `version: 1
name: t
machine:
  regions: [{ name: dram, base: 0x8000_0000, size: 16M, kind: ram }]
steps:
`,
      "b.yaml",
    );
    expect(bare.errors("{ op: vcm.minPageSize }")).toEqual([
      '6:11 steps[0].op: vcm.minPageSize needs the machine\'s "vcm" section (the VCM manager)',
    ]);
    expect(bare.errors("{ op: vcm.reserv, vcm: v }")).toEqual([
      '6:11 steps[0].op: unknown op "vcm.reserv", did you mean "vcm.reserve"? (expected one of: alloc, free, write, read, fill, copy, expect, stats, map, unmap, protect, access, translate, dump, tlbi, smmu, stream, who, expectIsolated, aliases, stale, load, vcm.create, vcm.createFromPrebuilt, vcm.clone, vcm.free, vcm.reserve, vcm.reserveAt, vcm.reserveFromBound, vcm.createBound, vcm.freeBound, vcm.unreserve, vcm.setResAttr, vcm.physAlloc, vcm.mapPhysAddr, vcm.physFree, vcm.back, vcm.unback, vcm.assoc, vcm.deassoc, vcm.activate, vcm.deactivate, vcm.setAssocAttr, vcm.copy, vcm.translate, vcm.physRes, vcm.devAddrToPhys, vcm.hook, vcm.hwVer, vcm.resInfo, vcm.vcmInfo, vcm.resAt, vcm.assocInfo, vcm.physInfo, vcm.boundInfo, vcm.hookInfo, vcm.contRegion, vcm.minPageSize, vcm.smmuMap, vcm.smmuUnmap, vcm.smmuTranslate, vcm.smmuInfo, gunyah.* (33 ops), gmem.* (6 ops))',
    ]);
    // A plain op lists the namespaced ones by namespace, and finds the one it may mean.
    expect(bare.errors("{ op: backk }")).toEqual([
      '6:11 steps[0].op: unknown op "backk", did you mean "vcm.back"? (expected one of: alloc, free, write, read, fill, copy, expect, stats, map, unmap, protect, access, translate, dump, tlbi, smmu, stream, who, expectIsolated, aliases, stale, load, vcm.* (40 ops), gunyah.* (33 ops), gmem.* (6 ops))',
    ]);
  });
});
