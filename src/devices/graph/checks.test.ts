/**
 * The checks built on the reverse map: mismatched memory attributes (`findAliases`), TLB
 * entries the tables no longer grant (`findStaleEntries`), and the isolation query
 * (`reachableBy`).
 */
import { describe, expect, it } from "vitest";

import type { Platform } from "../platform.js";
import type { PageTable } from "../../mmu/page-table.js";
import { PROT } from "../../mmu/prot.js";
import type { TranslationRegime } from "../../mmu/regime.js";
import { rootOf, TranslateOut } from "../../mmu/regime.js";
import { FAULT_NONE } from "../../mmu/walk.js";
import { Cpu } from "../cpu.js";
import { bytes, cpuMachine, DRAM, K, M, RO, RW, S1, S2 } from "../machine.testutil.js";
import { OneToOneDevice } from "../one-to-one.js";
import { Smmu } from "../smmu.js";
import { findAliases, findStaleEntries, reachableBy } from "./checks.js";
import { whoReaches } from "./reverse-map.js";

const PAGE = 4 * K;
const VA = 0x40_0000;
const IOVA = 0x1000_0000;
const WB = RW | PROT.CACHE;
const NC = RW;
const DEV = RW | PROT.MMIO;

/** cpu0 (TTBR0 `pt`, ASID 1), an SMMU with bank "gpu" running `gpuPt` and master gpu0. */
function world() {
  const m = cpuMachine();
  const smmu = new Smmu(m.platform, { name: "smmu0", contexts: ["gpu", "dsp"] });
  const gpuPt = m.table(S1, "gpu-pt");
  const bank = smmu.contextBank("gpu");
  bank.bind(gpuPt);
  bank.activate();
  const gpu = smmu.attachMaster("gpu0", "gpu");
  return { ...m, smmu, gpuPt, bank, gpu };
}

/** Overwrite the 8-byte descriptor at `addr` in physical memory (no TLB maintenance). */
function writeDescriptor(platform: Platform, addr: number, lo: number, hi: number): void {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, lo >>> 0, true);
  v.setUint32(4, hi >>> 0, true);
  platform.write(addr, b);
}

/** The leaf of `table` at `va`: its descriptor address and level index. */
function leafAt(table: PageTable, va: number): { descAddr: number; levelIndex: number } {
  let found: { descAddr: number; levelIndex: number } | undefined;
  table.walk({ leaf: (l) => void (found = l) }, va, va + 1);
  expect(found, `a leaf at ${va.toString(16)}`).toBeDefined();
  return found!;
}

/** What a regime and its TLB count, to see that a check changes none of it. */
function counters(r: TranslationRegime) {
  return { stats: { ...r.stats }, lastFault: r.lastFault, tlb: r.tlb?.stats() };
}

describe("findAliases", () => {
  it("fires for memory one master maps cacheable and another non-cacheable, with the range and the paths", () => {
    const { platform, pt, gpuPt, phys } = world();
    const pa = phys(4 * PAGE);
    pt.map(VA, pa + PAGE, PAGE, WB);
    gpuPt.map(IOVA, pa + PAGE, PAGE, NC);
    expect(findAliases(platform)).toEqual([
      {
        start: pa + PAGE,
        end: pa + 2 * PAGE,
        memTypes: ["normal-wb", "normal-nc"],
        paths: [
          {
            master: "cpu0",
            input: { space: "virt", start: VA, end: VA + PAGE },
            memType: "normal-wb",
          },
          {
            master: "gpu0",
            input: { space: "virt", start: IOVA, end: IOVA + PAGE },
            memType: "normal-nc",
          },
        ],
      },
    ]);
    // Within a range asked about only.
    expect(findAliases(platform, pa, pa + PAGE)).toEqual([]);
    expect(findAliases(platform, pa + PAGE + 0x800, pa + 4 * PAGE)).toMatchObject([
      { start: pa + PAGE + 0x800, end: pa + 2 * PAGE },
    ]);
  });

  it("fires for cacheable against device memory, and names every type in a fixed order", () => {
    const { platform, pt, gpuPt, phys } = world();
    const pa = phys(PAGE);
    gpuPt.map(IOVA, pa, PAGE, DEV);
    pt.map(VA, pa, PAGE, WB);
    expect(findAliases(platform)).toMatchObject([
      { start: pa, end: pa + PAGE, memTypes: ["normal-wb", "device"] },
    ]);
    pt.map(VA + PAGE, pa, PAGE, NC); // the CPU aliases it a third way
    expect(findAliases(platform)).toMatchObject([
      {
        memTypes: ["normal-wb", "normal-nc", "device"],
        paths: [
          { master: "cpu0", input: { start: VA }, memType: "normal-wb" },
          { master: "cpu0", input: { start: VA + PAGE }, memType: "normal-nc" },
          { master: "gpu0", memType: "device" },
        ],
      },
    ]);
  });

  it("one master aliasing a page with itself counts too", () => {
    const { platform, pt, phys } = world();
    const pa = phys(PAGE);
    pt.map(VA, pa, PAGE, WB);
    pt.map(VA + 16 * PAGE, pa, PAGE, NC);
    expect(findAliases(platform)).toMatchObject([{ start: pa, paths: [{}, {}] }]);
  });

  it("stays quiet when every path agrees", () => {
    const { platform, pt, gpuPt, phys } = world();
    const pa = phys(2 * PAGE);
    pt.map(VA, pa, 2 * PAGE, WB);
    gpuPt.map(IOVA, pa, 2 * PAGE, WB | PROT.NOEXEC);
    gpuPt.map(IOVA + 0x10_0000, pa + PAGE, PAGE, RO | PROT.CACHE); // other rights, same type
    expect(whoReaches(platform, pa, pa + 2 * PAGE).length).toBeGreaterThan(2);
    expect(findAliases(platform)).toEqual([]);
  });

  it("windows and bypasses carry no attributes: they make no alias", () => {
    const { platform, pt, phys } = world();
    const pa = phys(PAGE);
    pt.map(VA, pa, PAGE, WB);
    new OneToOneDevice(platform, { name: "dma0", base: pa, size: PAGE });
    new Cpu(platform, { name: "boot" }); // MMU off
    expect(whoReaches(platform, pa, pa + PAGE).map((p) => p.via)).toEqual([
      "bypass",
      "translation",
      "window",
    ]);
    expect(findAliases(platform)).toEqual([]);
  });

  it("paths that are not live do not alias; activating the bank makes them", () => {
    const { platform, pt, gpuPt, phys, bank } = world();
    const pa = phys(PAGE);
    pt.map(VA, pa, PAGE, WB);
    gpuPt.map(IOVA, pa, PAGE, NC);
    bank.deactivate();
    expect(whoReaches(platform, pa, pa + PAGE).map((p) => p.live)).toEqual([true, false]);
    expect(findAliases(platform)).toEqual([]);
    bank.activate();
    expect(findAliases(platform)).toHaveLength(1);
  });

  it("merges adjacent aliased pages into one range", () => {
    const { platform, pt, gpuPt, phys } = world();
    const pa = phys(8 * PAGE);
    pt.map(VA, pa, 4 * PAGE, WB);
    gpuPt.map(IOVA, pa + PAGE, 2 * PAGE, NC); // pages 1-2 of the four
    gpuPt.map(IOVA + 0x10_0000, pa + 5 * PAGE, PAGE, NC); // not mapped by the CPU
    expect(findAliases(platform)).toEqual([
      {
        start: pa + PAGE,
        end: pa + 3 * PAGE,
        memTypes: ["normal-wb", "normal-nc"],
        paths: [
          {
            master: "cpu0",
            input: { space: "virt", start: VA + PAGE, end: VA + 3 * PAGE },
            memType: "normal-wb",
          },
          {
            master: "gpu0",
            input: { space: "virt", start: IOVA, end: IOVA + 2 * PAGE },
            memType: "normal-nc",
          },
        ],
      },
    ]);
  });

  it("adjacent aliased pages reached from inputs that do not continue each other stay apart", () => {
    const { platform, pt, gpuPt, phys } = world();
    const pa = phys(2 * PAGE);
    pt.map(VA, pa, PAGE, WB);
    pt.map(VA + 16 * PAGE, pa + PAGE, PAGE, WB);
    gpuPt.map(IOVA, pa, 2 * PAGE, NC);
    const aliases = findAliases(platform);
    // Each alias's path inputs must be what reaches it: no input range spans unmapped VAs.
    for (const a of aliases)
      for (const p of a.paths) {
        expect(p.input.end - p.input.start).toBe(a.end - a.start);
        const reach = whoReaches(platform, a.start, a.end).filter((x) => x.master === p.master);
        expect(
          reach.some((x) => x.input.start === p.input.start && x.input.end === p.input.end),
        ).toBe(true);
      }
    expect(aliases.map((a) => [a.start, a.paths.map((p) => p.input.start)])).toEqual([
      [pa, [VA, IOVA]],
      [pa + PAGE, [VA + 16 * PAGE, IOVA + PAGE]],
    ]);
  });
});

describe("findStaleEntries", () => {
  /** cpu0 and gpu0 each with one page cached: VA -> pa (cpu0), IOVA -> pa + PAGE (gpu0). */
  function warm() {
    const w = world();
    const pa = w.phys(4 * PAGE);
    w.pt.map(VA, pa, PAGE, RW);
    w.gpuPt.map(IOVA, pa + PAGE, PAGE, RW);
    w.cpu.read(VA, 4);
    w.gpu.read(IOVA, 4);
    expect(w.cpu.tlb.entries()).toHaveLength(1);
    expect(w.smmu.tlb.entries()).toHaveLength(1);
    return { ...w, pa };
  }

  it("is quiet while the tables change through their page tables (which flush the TLBs)", () => {
    const { platform, pt, gpuPt, cpu, gpu, pa } = warm();
    expect(findStaleEntries(platform)).toEqual([]);
    pt.protect(VA, PAGE, RO);
    gpuPt.remap(IOVA, pa + 2 * PAGE, PAGE, RW);
    expect(findStaleEntries(platform)).toEqual([]);
    cpu.read(VA, 4);
    gpu.read(IOVA, 4);
    pt.unmap(VA, PAGE);
    gpuPt.unmap(IOVA, PAGE);
    pt.map(VA, pa + 3 * PAGE, PAGE, RW);
    cpu.read(VA, 4);
    expect(findStaleEntries(platform)).toEqual([]);
  });

  it("fires after a context switch without a TLBI: another table under the same ASID", () => {
    const { platform, table, cpu, pa } = warm();
    const other = table(S1, "other");
    other.map(VA, pa + 3 * PAGE, PAGE, RW);
    cpu.setTtbr0(other);
    expect(findStaleEntries(platform)).toEqual([
      {
        owner: "cpu0",
        tlb: "cpu0 tlb",
        entry: {
          va: VA,
          size: PAGE,
          pa,
          perm: expect.stringMatching(/^r w/) as string,
          asid: 1,
          vmid: 0,
        },
        regime: "cpu0",
        reason: `0x${VA.toString(16)} now translates to 0x${(pa + 3 * PAGE).toString(16)}, not 0x${pa.toString(16)}`,
      },
    ]);
    // And the hardware does use it: the stale entry is what a read hits.
    expect(cpu.translate(VA)).toMatchObject({ ok: true, pa, hit: true });
    // To a table without the page: "no longer translates".
    cpu.setTtbr0(table(S1, "empty"));
    expect(findStaleEntries(platform)).toMatchObject([
      { regime: "cpu0", reason: expect.stringContaining("no longer translates") as string },
    ]);
    cpu.tlbiAsid();
    expect(findStaleEntries(platform)).toEqual([]);
  });

  it("fires after a raw descriptor write that bypasses the flushes", () => {
    const { platform, pt, gpuPt, pa } = warm();
    // The descriptor's address, from the reverse map and from the table's walk.
    const path = whoReaches(platform, pa, pa + PAGE).find((p) => p.master === "cpu0")!;
    const leaf = leafAt(pt, VA);
    expect(path.stage1!.leaf.descAddr).toBe(leaf.descAddr);
    writeDescriptor(platform, leaf.descAddr, 0, 0);
    expect(pt.translate(VA)).toBeUndefined();
    expect(findStaleEntries(platform)).toMatchObject([
      {
        owner: "cpu0",
        entry: { va: VA, pa },
        reason: `0x${VA.toString(16)} no longer translates`,
      },
    ]);
    // The SMMU's entry: its descriptor now points elsewhere.
    const g = leafAt(gpuPt, IOVA);
    const enc = new Uint32Array(2);
    gpuPt.format.encodeLeaf(g.levelIndex, PAGE, pa + 3 * PAGE, RW, enc);
    writeDescriptor(platform, g.descAddr, enc[0]!, enc[1]!);
    expect(findStaleEntries(platform)).toMatchObject([
      { owner: "cpu0" },
      {
        owner: "smmu0",
        tlb: "smmu0 tlb",
        regime: "smmu0/gpu",
        entry: { va: IOVA, pa: pa + PAGE, asid: 0, vmid: 0 },
        reason: expect.stringContaining("now translates to") as string,
      },
    ]);
  });

  it("fires when rights were reduced behind the TLB's back", () => {
    const { platform, table, phys } = world();
    const pa = phys(PAGE);
    // A bare root is not tracked: whoever changes its tables issues the TLBIs (here: nobody).
    const user = table(S1, "user");
    user.map(VA, pa, PAGE, RW | PROT.NOEXEC);
    const cpu1 = new Cpu(platform, { name: "cpu1", ttbr0: rootOf(user), asid: 4 });
    cpu1.write(VA, bytes(1, 2, 3));
    user.protect(VA, PAGE, RO | PROT.NOEXEC);
    expect(findStaleEntries(platform)).toMatchObject([
      {
        owner: "cpu1",
        regime: "cpu1",
        entry: { va: VA, pa, asid: 4 },
        reason: `0x${VA.toString(16)} no longer allows -w--W- (the tables give r--R--)`,
      },
    ]);
    // A raw write that takes rights away does the same for a tracked table.
    const pt = table(S1, "k2");
    pt.map(VA, pa, PAGE, RW);
    const cpu2 = new Cpu(platform, { name: "cpu2", ttbr0: pt, asid: 5 });
    cpu2.read(VA, 1);
    const l = leafAt(pt, VA);
    const enc = new Uint32Array(2);
    pt.format.encodeLeaf(l.levelIndex, PAGE, pa, RO, enc);
    writeDescriptor(platform, l.descAddr, enc[0]!, enc[1]!);
    expect(findStaleEntries(platform).map((s) => [s.owner, s.reason])).toEqual([
      ["cpu1", expect.stringContaining("no longer allows") as string],
      ["cpu2", `0x${VA.toString(16)} no longer allows -w--W- (the tables give r-xR-X)`],
    ]);
    // More rights than the entry has are not stale.
    cpu1.tlbiAll();
    cpu1.read(VA, 1);
    user.protect(VA, PAGE, RW);
    expect(findStaleEntries(platform).map((s) => s.owner)).toEqual(["cpu2"]);
  });

  it("is quiet again after tlbiAll", () => {
    const { platform, table, cpu, smmu, gpuPt } = warm();
    cpu.setTtbr0(table(S1, "empty"));
    const g = leafAt(gpuPt, IOVA);
    writeDescriptor(platform, g.descAddr, 0, 0);
    expect(findStaleEntries(platform).map((s) => s.owner)).toEqual(["cpu0", "smmu0"]);
    cpu.tlbiAll();
    expect(findStaleEntries(platform).map((s) => s.owner)).toEqual(["smmu0"]);
    smmu.tlbiAll();
    expect(findStaleEntries(platform)).toEqual([]);
  });

  it("does not report entries whose tags match no current regime", () => {
    const { platform, table, cpu, bank, gpuPt, pa } = warm();
    // A context switch to a new ASID: the old entries are tagged with ASID 1, which no regime
    // runs now, so they cannot be hit.
    const other = table(S1, "other");
    other.map(VA, pa + 3 * PAGE, PAGE, RW);
    cpu.setTtbr0(other);
    cpu.setAsid(2);
    expect(cpu.tlb.entries().map((e) => e.asid)).toEqual([1]);
    expect(findStaleEntries(platform)).toEqual([]);
    // Back to ASID 1: they can be hit again.
    cpu.setAsid(1);
    expect(findStaleEntries(platform)).toHaveLength(1);
    cpu.tlbiAll();
    // An inactive bank's entries are not looked up.
    bank.deactivate();
    writeDescriptor(platform, leafAt(gpuPt, IOVA).descAddr, 0, 0);
    expect(findStaleEntries(platform)).toEqual([]);
    bank.activate();
    expect(findStaleEntries(platform)).toMatchObject([{ owner: "smmu0", regime: "smmu0/gpu" }]);
  });

  it("a global entry matches every ASID of its VMID", () => {
    const { platform, pt, cpu, phys, table } = world();
    const pa = phys(PAGE);
    pt.map(VA, pa, PAGE, RW | PROT.GLOBAL);
    cpu.read(VA, 1);
    expect(cpu.tlb.entries()).toMatchObject([{ global: true }]);
    cpu.setTtbr0(table(S1, "empty"));
    cpu.setAsid(9);
    expect(findStaleEntries(platform)).toMatchObject([{ owner: "cpu0", entry: { asid: null } }]);
  });

  it("a stage-2-only bank's IPA entries, and a vCPU's nested ones", () => {
    const { platform, table, phys, smmu } = world();
    const pa = phys(2 * PAGE);
    const s2 = table(S2, "vm-s2");
    s2.map(IOVA, pa, PAGE, RW);
    s2.map(DRAM, DRAM, 32 * M, RW | PROT.CACHE); // the guest's tables, one to one
    const dsp = smmu.contextBank("dsp");
    dsp.bind(s2);
    dsp.activate();
    const dev = smmu.attachMaster("dev", "dsp");
    dev.read(IOVA, 1);
    const guest = table(S1, "guest");
    guest.map(VA, IOVA, PAGE, RW);
    const vcpu = new Cpu(platform, { name: "vcpu0", ttbr0: guest, stage2: s2, vmid: 7 });
    vcpu.read(VA, 1);
    expect(findStaleEntries(platform)).toEqual([]);
    // Stage 2 changed in memory, behind both TLBs.
    const l = leafAt(s2, IOVA);
    const enc = new Uint32Array(2);
    s2.format.encodeLeaf(l.levelIndex, PAGE, pa + PAGE, RW, enc);
    writeDescriptor(platform, l.descAddr, enc[0]!, enc[1]!);
    expect(findStaleEntries(platform).map((s) => [s.owner, s.regime, s.entry.va])).toEqual([
      ["smmu0", "smmu0/dsp", IOVA],
      ["vcpu0", "vcpu0", VA],
    ]);
  });

  it("probes the tables: regime and TLB statistics and the last fault stay as they were", () => {
    const { platform, table, cpu, gpu, pa } = warm();
    cpu.setTtbr0(table(S1, "empty"));
    expect(gpu.translate(IOVA + 0x10_0000).ok).toBe(false); // a last fault to keep
    const bank = gpu.contextBank.regime;
    const before = [counters(cpu.mmu), counters(bank)];
    expect(findStaleEntries(platform)).toHaveLength(1);
    expect(reachableBy(platform, ["cpu0", "gpu0"], pa, pa + 2 * PAGE).cached).toHaveLength(2);
    expect([counters(cpu.mmu), counters(bank)]).toEqual(before);
    // probe itself, on a hit, a miss and a fault.
    const out = new TranslateOut();
    expect(bank.probe(IOVA, out)).toBe(FAULT_NONE);
    expect(out.pa).toBe(pa + PAGE);
    expect(bank.probe(IOVA + 0x10_0000, out)).not.toBe(FAULT_NONE);
    expect(cpu.mmu.probe(VA, out)).not.toBe(FAULT_NONE);
    expect([counters(cpu.mmu), counters(bank)]).toEqual(before);
    expect(bank.lastFault).toBe(before[1]!.lastFault);
  });

  it("probe ignores permissions: a read-only or no-AF leaf still probes, with its rights", () => {
    const { pt, cpu, phys } = world();
    const pa = phys(PAGE);
    pt.map(VA, pa, PAGE, RO | PROT.NO_AF | PROT.PRIV);
    const out = new TranslateOut();
    const stats = { ...cpu.mmu.stats };
    expect(cpu.mmu.probe(VA + 8, out)).toBe(FAULT_NONE);
    expect(out).toMatchObject({ pa: pa + 8, size: PAGE });
    expect(out.perm & 0x40).toBe(0); // no AF
    expect(cpu.mmu.stats).toEqual(stats);
    expect(cpu.translate(VA).ok).toBe(false); // the hardware faults on the access flag
  });
});

describe("reachableBy", () => {
  it("an isolated range: no paths and no cached entries", () => {
    const { platform, pt, gpuPt, cpu, gpu, phys } = world();
    const mine = phys(PAGE);
    const theirs = phys(PAGE);
    pt.map(VA, mine, PAGE, RW);
    gpuPt.map(IOVA, theirs, PAGE, RW);
    cpu.read(VA, 1);
    gpu.read(IOVA, 1);
    expect(reachableBy(platform, ["gpu0"], mine, mine + PAGE)).toEqual({ paths: [], cached: [] });
    expect(reachableBy(platform, ["cpu0"], theirs, theirs + PAGE)).toEqual({
      paths: [],
      cached: [],
    });
    // Not isolated from its own master.
    const r = reachableBy(platform, ["cpu0", "gpu0"], mine, mine + PAGE);
    expect(r.paths.map((p) => p.master)).toEqual(["cpu0"]);
    expect(r.cached).toEqual([{ master: "cpu0", tlb: "cpu0 tlb", va: VA, pa: mine, size: PAGE }]);
  });

  it("a stale entry into the range is reported in cached, with no path left", () => {
    const { platform, table, cpu, pt, phys } = world();
    const secret = phys(PAGE);
    pt.map(VA, secret, PAGE, RW);
    cpu.read(VA, 1);
    cpu.setTtbr0(table(S1, "after")); // no TLBI: the entry for the secret stays usable
    const r = reachableBy(platform, ["cpu0"], secret, secret + PAGE);
    expect(r.paths).toEqual([]);
    expect(r.cached).toEqual([{ master: "cpu0", tlb: "cpu0 tlb", va: VA, pa: secret, size: PAGE }]);
    expect(cpu.read(VA, 1)).toBeDefined(); // and it does reach it
    cpu.tlbiAsid();
    expect(reachableBy(platform, ["cpu0"], secret, secret + PAGE)).toEqual({
      paths: [],
      cached: [],
    });
  });

  it("inactive banks do not count, neither their paths nor their cached entries", () => {
    const { platform, gpuPt, gpu, bank, phys } = world();
    const pa = phys(PAGE);
    gpuPt.map(IOVA, pa, PAGE, RW);
    gpu.read(IOVA, 1);
    expect(reachableBy(platform, ["gpu0"], pa, pa + PAGE)).toMatchObject({
      paths: [{ master: "gpu0", live: true }],
      cached: [{ master: "gpu0", tlb: "smmu0 tlb", va: IOVA, pa }],
    });
    bank.deactivate();
    expect(gpu.smmu.tlb.entries()).toHaveLength(1); // still cached, but not looked up
    expect(reachableBy(platform, ["gpu0"], pa, pa + PAGE)).toEqual({ paths: [], cached: [] });
    // whoReaches still shows the path, not live.
    expect(whoReaches(platform, pa, pa + PAGE)).toMatchObject([{ master: "gpu0", live: false }]);
  });

  it("another bank's entries in the shared TLB are not a master's", () => {
    const { platform, table, smmu, gpuPt, phys } = world();
    const pa = phys(PAGE);
    gpuPt.map(IOVA, pa, PAGE, RW);
    const dspPt = table(S1, "dsp-pt");
    dspPt.map(IOVA, pa, PAGE, RW);
    smmu.contextBank("dsp").bind(dspPt);
    smmu.contextBank("dsp").activate();
    const dsp = smmu.attachMaster("dsp0", "dsp");
    dsp.read(IOVA, 1);
    gpuPt.unmap(IOVA, PAGE);
    expect(reachableBy(platform, ["gpu0"], pa, pa + PAGE)).toEqual({ paths: [], cached: [] });
    expect(reachableBy(platform, ["dsp0"], pa, pa + PAGE).cached).toHaveLength(1);
  });
});
