/**
 * The reverse map (`whoReaches`), part by part: nested translation, TTBR0 / TTBR1 and the
 * split, SMMU context banks, windows and bypasses, shared tables, owners, coalescing, and how
 * rights and memory types combine. The model-based test against brute force is in
 * reverse-map.model.test.ts.
 */
import { describe, expect, it } from "vitest";

import { PERM, PROT } from "../../mmu/prot.js";
import { formatPerm } from "../../mmu/tlb.js";
import { Accelerator } from "../accelerator.js";
import { Cpu } from "../cpu.js";
import {
  cpuMachine,
  DRAM,
  K,
  M,
  machine,
  RO,
  RW,
  S1,
  S2,
  smmuMachine,
} from "../machine.testutil.js";
import { OneToOneDevice } from "../one-to-one.js";
import type { ReachPath } from "./reverse-map.js";
import { whoReaches } from "./reverse-map.js";

const PAGE = 4 * K;
/** cpu0's split; the CPUs' VA window straddles it. */
const SPLIT = 0x4000_0000;
const GUEST_VA = 0x10_0000;
const GUEST_IPA = 0x4000_0000;
const IOVA = 0x1000_0000;
/** machine()'s table target: the first 32 MiB of DRAM (where every table page is). */
const TABLE_MEMORY = 32 * M;
const WB = RW | PROT.CACHE;
/** Not executable: `PROT` without NOEXEC is executable. */
const RWN = RW | PROT.NOEXEC;
const WBN = WB | PROT.NOEXEC;
const RON = RO | PROT.NOEXEC;
const of = (paths: readonly ReachPath[], master: string) =>
  paths.filter((p) => p.master === master);

describe("whoReaches: nested translation", () => {
  /** A vCPU: guest page GUEST_VA -> GUEST_IPA (4K), stage 2 maps GUEST_IPA's 2 MiB as a block. */
  function vm() {
    const m = machine();
    const { platform, table, phys } = m;
    const ram = phys(2 * M);
    const s2 = table(S2, "vm-s2");
    const guest = table(S1, "guest");
    s2.map(GUEST_IPA, ram, 2 * M, WB);
    s2.map(DRAM, DRAM, TABLE_MEMORY, WB); // the guest's tables, one to one
    guest.map(GUEST_VA, GUEST_IPA + 0x3000, PAGE, WBN);
    const vcpu = new Cpu(platform, { name: "vcpu0", ttbr0: guest, asid: 1, stage2: s2, vmid: 7 });
    return { ...m, ram, s2, guest, vcpu };
  }

  it("a path shows both hops: the guest table's 4K leaf and the stage-2 block", () => {
    const { platform, ram, s2, guest } = vm();
    const paths = whoReaches(platform, ram, ram + 2 * M);
    expect(paths).toHaveLength(1);
    const p = paths[0]!;
    expect(p).toMatchObject({
      master: "vcpu0",
      kind: "cpu",
      via: "translation",
      regime: "vcpu0",
      input: { space: "virt", start: GUEST_VA, end: GUEST_VA + PAGE },
      phys: { start: ram + 0x3000, end: ram + 0x4000 },
      memType: "normal-wb",
      live: true,
      access: "rw",
    });
    expect(p.stage1).toMatchObject({
      table: "guest",
      ttbr: "ttbr0",
      leaf: { va: GUEST_VA, size: PAGE, pa: GUEST_IPA + 0x3000, level: 3 },
      leaves: 1,
      sharedWith: [],
    });
    expect(p.stage2).toMatchObject({
      table: "vm-s2",
      leaf: { va: GUEST_IPA, size: 2 * M, pa: ram, level: 2 },
      leaves: 1,
    });
    expect(p.stage2!.ttbr).toBeUndefined();
    // The descriptors are where the tables say.
    let desc1 = -1;
    guest.walk({ leaf: (l) => void (desc1 = l.descAddr) }, GUEST_VA, GUEST_VA + PAGE);
    expect(p.stage1!.leaf.descAddr).toBe(desc1);
    let desc2 = -1;
    s2.walk({ leaf: (l) => void (desc2 = l.descAddr) }, GUEST_IPA, GUEST_IPA + PAGE);
    expect(p.stage2!.leaf.descAddr).toBe(desc2);
    expect(p.stage1!.leaf.descriptor).toMatch(/\S/);
  });

  it("a range stage 2 gives but stage 1 does not map is reached by nobody; what stage 1 maps elsewhere neither", () => {
    const { platform, ram, guest } = vm();
    expect(whoReaches(platform, ram, ram + 0x3000)).toEqual([]);
    guest.map(GUEST_VA + PAGE, 0x7000_0000, PAGE, WB); // an IPA stage 2 does not map
    expect(whoReaches(platform, 0, 2 ** 40).map((p) => p.input.start)).toEqual([GUEST_VA]);
  });

  it("a guest table stage 2 no longer lets the walk fetch reaches nothing (the walk faults)", () => {
    const { platform, ram, s2, vcpu } = vm();
    s2.unmap(DRAM, TABLE_MEMORY);
    expect(vcpu.translate(GUEST_VA).ok).toBe(false);
    expect(whoReaches(platform, ram, ram + 2 * M)).toEqual([]);
  });
});

describe("whoReaches: TTBR0 / TTBR1 and the split", () => {
  it("TTBR1 leaves count only at or after the split, TTBR0 leaves only before it", () => {
    const { platform, table, pt, cpu, phys } = cpuMachine();
    const kernel = table(S1, "kernel-hi");
    const pa = phys(4 * PAGE);
    pt.map(SPLIT - PAGE, pa, PAGE, RW); // TTBR0, below the split: counts
    pt.map(SPLIT, pa + 2 * PAGE, PAGE, RW); // TTBR0, at the split: never walked
    kernel.map(SPLIT - 2 * PAGE, pa + PAGE, PAGE, RW); // TTBR1, below: never walked
    kernel.map(SPLIT + PAGE, pa + 3 * PAGE, PAGE, RW); // TTBR1, after: counts
    const before = whoReaches(platform, pa, pa + 4 * PAGE);
    // No TTBR1 yet: TTBR0 translates everything.
    expect(before.map((p) => [p.input.start, p.stage1!.ttbr])).toEqual([
      [SPLIT - PAGE, "ttbr0"],
      [SPLIT, "ttbr0"],
    ]);
    cpu.setTtbr1(kernel, SPLIT);
    const paths = whoReaches(platform, pa, pa + 4 * PAGE);
    expect(
      paths.map((p) => [p.input.start, p.phys.start, p.stage1!.ttbr, p.stage1!.table]),
    ).toEqual([
      [SPLIT - PAGE, pa, "ttbr0", "kernel"],
      [SPLIT + PAGE, pa + 3 * PAGE, "ttbr1", "kernel-hi"],
    ]);
    // As the hardware sees it: neither leaf on the wrong side of the split translates.
    expect(cpu.translate(SPLIT)).toMatchObject({ ok: false });
    expect(cpu.translate(SPLIT - 2 * PAGE)).toMatchObject({ ok: false });
    expect(cpu.translate(SPLIT - PAGE)).toMatchObject({ ok: true, pa });
    expect(cpu.translate(SPLIT + PAGE)).toMatchObject({ ok: true, pa: pa + 3 * PAGE });
  });

  it("a leaf straddling the split is cut at it", () => {
    const { platform, table, cpu, phys } = cpuMachine();
    const kernel = table(S1, "kernel-hi");
    const pa = phys(2 * M);
    kernel.map(0, pa, 2 * M, RW); // one 2 MiB block over [0, 2M)
    cpu.setTtbr1(kernel, M);
    const paths = whoReaches(platform, pa, pa + 2 * M);
    expect(paths).toHaveLength(1);
    expect(paths[0]).toMatchObject({
      input: { space: "virt", start: M, end: 2 * M },
      phys: { start: pa + M, end: pa + 2 * M },
      stage1: { ttbr: "ttbr1", leaf: { va: 0, size: 2 * M, level: 2 } },
    });
  });
});

describe("whoReaches: SMMU context banks", () => {
  it("a stage-2-only bank's input space is the IPA; its masters are unprivileged", () => {
    const { platform, table, phys, smmu } = smmuMachine(["s1", "s2"]);
    const pa = phys(PAGE);
    const s2 = table(S2, "vm-s2");
    s2.map(IOVA, pa, PAGE, RWN);
    smmu.contextBank("s2").bind(s2);
    smmu.contextBank("s2").activate();
    smmu.attachMaster("dsp", "s2");
    const paths = whoReaches(platform, pa, pa + PAGE);
    expect(paths).toHaveLength(1);
    expect(paths[0]).toMatchObject({
      master: "dsp",
      kind: "smmu-master",
      via: "translation",
      regime: "smmu0/s2",
      contextBank: "s2",
      input: { space: "ipa", start: IOVA, end: IOVA + PAGE },
      stage2: { table: "vm-s2", leaf: { level: 3 } },
      access: "rw",
      live: true,
    });
    expect(paths[0]!.stage1).toBeUndefined();
  });

  it("an inactive bank's paths are there, not live, and onlyLive leaves them out; an unbound bank has none", () => {
    const { platform, table, phys, smmu } = smmuMachine(["gpu"]);
    const pa = phys(PAGE);
    const pt = table(S1, "gpu-pt");
    pt.map(IOVA, pa, PAGE, RON | PROT.CACHE);
    const bank = smmu.contextBank("gpu");
    bank.bind(pt);
    smmu.attachMaster("gpu0", "gpu");
    expect(whoReaches(platform, pa, pa + PAGE)).toMatchObject([
      { master: "gpu0", live: false, access: "r", memType: "normal-wb" },
    ]);
    expect(whoReaches(platform, pa, pa + PAGE, { onlyLive: true })).toEqual([]);
    bank.activate();
    expect(whoReaches(platform, pa, pa + PAGE, { onlyLive: true })).toMatchObject([
      { master: "gpu0", live: true },
    ]);
    bank.deactivate();
    bank.unbind();
    expect(whoReaches(platform, pa, pa + PAGE)).toEqual([]);
  });

  it("a master follows its bank: re-attached, it reaches what the other bank maps", () => {
    const { platform, table, phys, smmu } = smmuMachine(["a", "b"]);
    const pa = phys(2 * PAGE);
    const ta = table(S1, "ta");
    const tb = table(S1, "tb");
    ta.map(IOVA, pa, PAGE, RW);
    tb.map(IOVA, pa + PAGE, PAGE, RW);
    for (const [n, t] of [
      ["a", ta],
      ["b", tb],
    ] as const) {
      smmu.contextBank(n).bind(t);
      smmu.contextBank(n).activate();
    }
    const dev = smmu.attachMaster("dev", "a");
    expect(
      whoReaches(platform, pa, pa + 2 * PAGE).map((p) => [p.phys.start, p.contextBank]),
    ).toEqual([[pa, "a"]]);
    dev.attach("b");
    expect(
      whoReaches(platform, pa, pa + 2 * PAGE).map((p) => [p.phys.start, p.contextBank]),
    ).toEqual([[pa + PAGE, "b"]]);
  });
});

describe("whoReaches: windows and bypasses", () => {
  it("a one-to-one window gives a physical path clipped to the range, with every right", () => {
    const { platform, phys } = machine();
    const pa = phys(4 * PAGE);
    const dma = new OneToOneDevice(platform, { name: "dma0", base: pa + PAGE, size: 2 * PAGE });
    const paths = whoReaches(platform, pa, pa + 2 * PAGE);
    expect(paths).toHaveLength(1);
    expect(paths[0]).toMatchObject({
      master: "dma0",
      kind: "one-to-one",
      via: "window",
      input: { space: "phys", start: pa + PAGE, end: pa + 2 * PAGE },
      phys: { start: pa + PAGE, end: pa + 2 * PAGE },
      access: "rwx",
      memType: "unknown",
      live: true,
    });
    expect(paths[0]!.stage1).toBeUndefined();
    expect(paths[0]!.regime).toBeUndefined();
    // The same rights as the device's own translation.
    const t = dma.translate(pa + PAGE);
    expect(t.ok && t.perm).toBe(paths[0]!.perm);
    expect(whoReaches(platform, pa + 3 * PAGE, pa + 4 * PAGE)).toEqual([]);
  });

  it("a CPU without tables bypasses: the whole range, physical, every right; loading a table ends it", () => {
    const { platform, table, phys } = machine();
    const pa = phys(PAGE);
    const cpu = new Cpu(platform, { name: "cpu0" });
    const acc = new Accelerator(platform, { name: "npu0" });
    const paths = whoReaches(platform, pa, pa + PAGE);
    expect(paths.map((p) => [p.master, p.via, p.access, p.memType])).toEqual([
      ["cpu0", "bypass", "rwx", "unknown"],
      ["npu0", "bypass", "rwx", "unknown"],
    ]);
    expect(paths[0]).toMatchObject({
      input: { space: "phys", start: pa, end: pa + PAGE },
      phys: { start: pa, end: pa + PAGE },
      regime: "cpu0",
      live: true,
    });
    const pt = table(S1, "pt");
    cpu.setTtbr0(pt);
    acc.setTable(pt);
    expect(whoReaches(platform, pa, pa + PAGE)).toEqual([]);
  });
});

describe("whoReaches: shared tables", () => {
  it("sharedWith lists the other masters that walk the table", () => {
    const { platform, pt, phys, table } = cpuMachine();
    const pa = phys(PAGE);
    pt.map(0x40_0000, pa, PAGE, WBN);
    const npu = new Accelerator(platform, { name: "npu0" });
    npu.shareTableWith(pt, 9);
    new Cpu(platform, { name: "cpu1", ttbr0: table(S1, "other") });
    new Cpu(platform, { name: "cpu2", ttbr0: pt, asid: 3 });
    const paths = whoReaches(platform, pa, pa + PAGE);
    expect(paths.map((p) => [p.master, p.stage1!.table, [...p.stage1!.sharedWith].sort()])).toEqual(
      [
        ["cpu0", "kernel", ["cpu2", "npu0"]],
        ["cpu2", "kernel", ["cpu0", "npu0"]],
        ["npu0", "kernel", ["cpu0", "cpu2"]],
      ],
    );
    // The accelerator's own accesses are unprivileged: the CPU's kernel mapping is "rw" to
    // both (no PROT.PRIV), and a privileged-only page is nothing to it.
    pt.protect(0x40_0000, PAGE, WBN | PROT.PRIV);
    const after = whoReaches(platform, pa, pa + PAGE);
    expect(after.map((p) => [p.master, p.access])).toEqual([
      ["cpu0", "rw"],
      ["cpu2", "rw"],
      ["npu0", ""],
    ]);
  });

  it("two masters on one SMMU bank share its table", () => {
    const { platform, table, phys, smmu } = smmuMachine(["gpu"]);
    const pa = phys(PAGE);
    const pt = table(S1, "gpu-pt");
    pt.map(IOVA, pa, PAGE, RW);
    smmu.contextBank("gpu").bind(pt);
    smmu.contextBank("gpu").activate();
    smmu.attachMaster("gpu0", "gpu");
    smmu.attachMaster("gpu1", "gpu");
    expect(
      whoReaches(platform, pa, pa + PAGE).map((p) => [p.master, p.stage1!.sharedWith]),
    ).toEqual([
      ["gpu0", ["gpu1"]],
      ["gpu1", ["gpu0"]],
    ]);
  });
});

describe("whoReaches: owners", () => {
  it("labels on a table range, a physical range and a device appear on the matching paths only; disposing removes them", () => {
    const { platform, table, phys, smmu } = smmuMachine(["gpu"]);
    const pt = table(S1, "shared-pt");
    new Cpu(platform, { name: "cpu0", ttbr0: pt, asid: 1 });
    const pa = phys(4 * PAGE);
    pt.map(0x40_0000, pa, 2 * PAGE, RW);
    pt.map(0x80_0000, pa + 2 * PAGE, 2 * PAGE, RW);
    const gpuPt = table(S1, "gpu-pt");
    gpuPt.map(IOVA, pa + 3 * PAGE, PAGE, RW);
    smmu.contextBank("gpu").bind(gpuPt);
    smmu.contextBank("gpu").activate();
    smmu.attachMaster("gpu0", "gpu");
    const owners = platform.owners;
    const res = { system: "vcm", kind: "reservation", name: "video-res" };
    const buf = { system: "scenario", kind: "buffer", name: "frame" };
    const vm = { system: "gunyah", kind: "VM", name: "guest" };
    const labels = [
      owners.label(res, { table: pt, start: 0x40_0000, end: 0x40_2000 }),
      owners.label(buf, { phys: { start: pa + 3 * PAGE, end: pa + 4 * PAGE } }),
      owners.label(vm, { device: "gpu0" }),
    ];
    const view = () =>
      whoReaches(platform, pa, pa + 4 * PAGE).map((p) => [
        p.master,
        p.input.start,
        p.owners.map((o) => o.name),
      ]);
    expect(view()).toEqual([
      ["cpu0", 0x40_0000, ["video-res"]],
      ["cpu0", 0x80_0000, []],
      ["cpu0", 0x80_1000, ["frame"]],
      // A device's owners first, then its tables', then the memory's.
      ["gpu0", IOVA, ["guest", "frame"]],
    ]);
    // The whole owner object, not only its name.
    expect(of(whoReaches(platform, pa, pa + PAGE), "cpu0")[0]!.owners).toEqual([res]);
    labels[0]!.dispose();
    labels[1]!.dispose();
    // The runs the labels cut are one again.
    expect(view()).toEqual([
      ["cpu0", 0x40_0000, []],
      ["cpu0", 0x80_0000, []],
      ["gpu0", IOVA, ["guest"]],
    ]);
    labels[2]!.dispose();
    expect(view()).toEqual([
      ["cpu0", 0x40_0000, []],
      ["cpu0", 0x80_0000, []],
      ["gpu0", IOVA, []],
    ]);
    expect(owners.size).toBe(0);
  });

  it("a label on a stage-2 IPA range names the nested paths through it", () => {
    const m = machine();
    const ram = m.phys(2 * PAGE);
    const s2 = m.table(S2, "vm-s2");
    const guest = m.table(S1, "guest");
    s2.map(GUEST_IPA, ram, 2 * PAGE, RW);
    s2.map(DRAM, DRAM, TABLE_MEMORY, WB);
    guest.map(GUEST_VA, GUEST_IPA, 2 * PAGE, RW);
    new Cpu(m.platform, { name: "vcpu0", ttbr0: guest, stage2: s2, vmid: 1 });
    const parcel = { system: "gunyah", kind: "parcel", name: "p1" };
    m.platform.owners.label(parcel, {
      table: s2,
      start: GUEST_IPA + PAGE,
      end: GUEST_IPA + 2 * PAGE,
    });
    expect(
      whoReaches(m.platform, ram, ram + 2 * PAGE).map((p) => [
        p.input.start,
        p.owners.map((o) => o.name),
      ]),
    ).toEqual([
      [GUEST_VA, []],
      [GUEST_VA + PAGE, ["p1"]],
    ]);
  });
});

describe("whoReaches: coalescing", () => {
  it("16 contiguous 4K leaves make one path through 16 leaves; a gap or other rights cut it", () => {
    const { platform, pt, phys } = cpuMachine();
    const pa = phys(64 * K);
    for (let i = 0; i < 16; i++) pt.map(0x40_0000 + i * PAGE, pa + i * PAGE, PAGE, WBN);
    const paths = whoReaches(platform, pa, pa + 64 * K);
    expect(paths).toHaveLength(1);
    expect(paths[0]).toMatchObject({
      input: { start: 0x40_0000, end: 0x41_0000 },
      phys: { start: pa, end: pa + 64 * K },
      stage1: { leaves: 16, leaf: { va: 0x40_0000, size: PAGE, pa, level: 3 } },
    });
    // A part of the range: the run is clipped, the leaves counted are those inside.
    expect(whoReaches(platform, pa + PAGE, pa + 3 * PAGE)).toMatchObject([
      { input: { start: 0x40_1000, end: 0x40_3000 }, stage1: { leaves: 2 } },
    ]);
    pt.protect(0x40_5000, PAGE, RON | PROT.CACHE);
    pt.unmap(0x40_a000, PAGE);
    expect(
      whoReaches(platform, pa, pa + 64 * K).map((p) => [p.input.start, p.stage1!.leaves, p.access]),
    ).toEqual([
      [0x40_0000, 5, "rw"],
      [0x40_5000, 1, "r"],
      [0x40_6000, 4, "rw"],
      [0x40_b000, 5, "rw"],
    ]);
  });

  it("contiguous input to non-contiguous output is not one run; one block is one leaf", () => {
    const { platform, pt, phys } = cpuMachine();
    const pa = phys(4 * M, 2 * M);
    pt.map(0x40_0000, pa + PAGE, PAGE, RW);
    pt.map(0x40_1000, pa, PAGE, RW);
    expect(whoReaches(platform, pa, pa + 2 * PAGE).map((p) => p.input.start)).toEqual([
      0x40_1000, 0x40_0000,
    ]);
    pt.map(0x100_0000, pa + 2 * M, 2 * M, RW);
    expect(whoReaches(platform, pa + 2 * M, pa + 4 * M)).toMatchObject([
      { input: { start: 0x100_0000, end: 0x120_0000 }, stage1: { leaves: 1, leaf: { level: 2 } } },
    ]);
  });
});

describe("whoReaches: coalescing across stages of different leaf sizes", () => {
  /** A vCPU whose stage 1 maps 2 MiB at GUEST_VA with `s1Block`, stage 2 with `s2Block`. */
  function mixed(s1Block: boolean, s2Block: boolean) {
    const m = machine();
    const ram = m.phys(2 * M);
    const s2 = m.table(S2, "vm-s2");
    const guest = m.table(S1, "guest");
    s2.map(DRAM, DRAM, TABLE_MEMORY, WB);
    const s1Va = 0x4000_0000; // 2 MiB aligned, as the block needs
    if (s2Block) s2.map(GUEST_IPA, ram, 2 * M, WBN);
    else for (let i = 0; i < 512; i++) s2.map(GUEST_IPA + i * PAGE, ram + i * PAGE, PAGE, WBN);
    if (s1Block) guest.map(s1Va, GUEST_IPA, 2 * M, WBN);
    else for (let i = 0; i < 512; i++) guest.map(s1Va + i * PAGE, GUEST_IPA + i * PAGE, PAGE, WBN);
    new Cpu(m.platform, { name: "vcpu0", ttbr0: guest, stage2: s2, vmid: 1 });
    return { ...m, ram, s1Va };
  }

  it("a stage-1 block over 4K stage-2 pages: one run, one stage-1 leaf, 512 stage-2 leaves", () => {
    const { platform, ram, s1Va } = mixed(true, false);
    const paths = whoReaches(platform, ram, ram + 2 * M);
    expect(paths).toHaveLength(1);
    expect(paths[0]).toMatchObject({
      input: { start: s1Va, end: s1Va + 2 * M },
      stage1: { leaves: 1, leaf: { va: s1Va, size: 2 * M, level: 2 } },
      stage2: { leaves: 512, leaf: { va: GUEST_IPA, size: PAGE, level: 3 } },
    });
    // A part of it: the leaves inside only.
    expect(whoReaches(platform, ram + PAGE, ram + 4 * PAGE)).toMatchObject([
      { stage1: { leaves: 1 }, stage2: { leaves: 3, leaf: { va: GUEST_IPA + PAGE } } },
    ]);
  });

  it("4K stage-1 pages over a stage-2 block: 512 stage-1 leaves, one stage-2 leaf", () => {
    const { platform, ram, s1Va } = mixed(false, true);
    expect(whoReaches(platform, ram, ram + 2 * M)).toMatchObject([
      {
        input: { start: s1Va, end: s1Va + 2 * M },
        stage1: { leaves: 512, leaf: { size: PAGE, level: 3 } },
        stage2: { leaves: 1, leaf: { size: 2 * M, level: 2 } },
      },
    ]);
  });
});

describe("whoReaches: combining the stages", () => {
  /** An SMMU bank nesting `s1Prot` over `s2Prot`, the stage-1 tables mapped one to one. */
  function nested(s1Prot: number, s2Prot: number) {
    const { platform, table, phys, smmu } = smmuMachine(["n"]);
    const pa = phys(PAGE);
    const s1 = table(S1, "dev-s1");
    const s2 = table(S2, "dev-s2");
    s2.map(DRAM, DRAM, TABLE_MEMORY, WB);
    s2.map(GUEST_IPA, pa, PAGE, s2Prot);
    s1.map(IOVA, GUEST_IPA, PAGE, s1Prot);
    smmu.contextBank("n").bind(s1, { stage2: s2 });
    smmu.contextBank("n").activate();
    const dev = smmu.attachMaster("dev", "n");
    const paths = whoReaches(platform, pa, pa + PAGE);
    expect(paths).toHaveLength(1);
    return { path: paths[0]!, dev };
  }

  it("stage-1 read-write over stage-2 read-only is read-only", () => {
    const { path, dev } = nested(WBN, RON | PROT.CACHE);
    expect(path.access).toBe("r");
    expect(path.perm & (PERM.WRITE_PRIV | PERM.WRITE_USER)).toBe(0);
    expect(path.perm & PERM.READ_USER).not.toBe(0);
    expect(path.rights).toBe(formatPerm(path.perm));
    // The hardware agrees.
    expect(dev.translate(IOVA, { kind: "write" }).ok).toBe(false);
    expect(dev.translate(IOVA).ok).toBe(true);
  });

  it("stage-1 read-only over stage-2 read-write is read-only too, and execute needs both", () => {
    expect(nested(RON | PROT.CACHE, WB).path.access).toBe("r");
    expect(nested(RO | PROT.CACHE, WB).path.access).toBe("rx");
    expect(nested(WB, WB).path.access).toBe("rwx");
    expect(nested(WBN, WB).path.access).toBe("rw");
    expect(nested(WB, WBN).path.access).toBe("rw");
  });

  it("memory type: the stronger of the two stages", () => {
    expect(nested(WB, RW).path.memType).toBe("normal-nc");
    expect(nested(RW, WB).path.memType).toBe("normal-nc");
    expect(nested(WB, WB).path.memType).toBe("normal-wb");
    expect(nested(WB, RW | PROT.MMIO).path.memType).toBe("device");
    expect(nested(RW | PROT.MMIO, RW).path.memType).toBe("device");
  });

  it("a global stage-1 leaf stays global over stage 2 (as the regime combines)", () => {
    expect(nested(WB | PROT.GLOBAL, WB).path.perm & PERM.GLOBAL).not.toBe(0);
    expect(nested(WB, WB).path.perm & PERM.GLOBAL).toBe(0);
  });
});
