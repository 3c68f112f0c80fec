/**
 * Stage-2 invalidation: by IPA where the TLB's entries are keyed by IPA, by VMID where they are
 * not (QEMU's SMMU model: `smmu_iotlb_inv_ipa` for stage-2-only entries, `smmu_iotlb_inv_vmid`
 * for nested ones; on a CPU, `TLBI IPAS2E1IS` vs `TLBI VMALLS12E1IS`).
 *
 * One stage-2 table `s2` maps three IPA pages A, B and C; a stage-1 table `s1` maps VA1 -> A and
 * VA2 -> B. It is used alone (IOVA / VA = IPA) by an SMMU bank and a CPU, and under `s1` by a
 * nested SMMU bank and a vCPU. Changing B in stage 2 must drop only B's entry where the input is
 * the IPA, and every entry of the VMID where it is a VA (no IPA left to match).
 */
import { describe, expect, it } from "vitest";

import { IotlbGather } from "../mmu/flush.js";
import type { Tlb } from "../mmu/tlb.js";
import { Cpu } from "./cpu.js";
import { bytes, faultOf, K, RO, RW, S1, S2, smmuMachine } from "./machine.testutil.js";

const PAGE = 4 * K;
const A = 0x4000_0000;
const B = 0x4000_1000;
const C = 0x4000_2000;
const VA1 = 0x10_0000;
const VA2 = 0x10_1000;

function vm() {
  const m = smmuMachine(["nested", "s2only"]);
  const { platform, table, phys, smmu } = m;
  const pa = phys(PAGE);
  const pb = phys(PAGE);
  const pc = phys(PAGE);
  platform.write(pa, bytes(0xa1));
  platform.write(pb, bytes(0xb2));
  platform.write(pc, bytes(0xc3));
  const s2 = table(S2, "vm-s2");
  const s1 = table(S1, "dev-s1");
  s2.map(A, pa, PAGE, RW);
  s2.map(B, pb, PAGE, RW);
  s2.map(C, pc, PAGE, RW);
  s1.map(VA1, A, PAGE, RW);
  s1.map(VA2, B, PAGE, RW);
  // The stage-1 tables are in physical memory: stage 2 maps them one to one for nested walks.
  for (const p of s1.tablePages()) s2.map(p.addr, p.addr, PAGE, RO);
  const nested = smmu.contextBank("nested");
  const alone = smmu.contextBank("s2only");
  nested.bind(s1, { stage2: s2 });
  alone.bind(s2);
  nested.activate();
  alone.activate();
  const nDev = smmu.attachMaster("ndev", "nested");
  const sDev = smmu.attachMaster("sdev", "s2only");
  return { ...m, pa, pb, pc, s1, s2, nested, alone, nDev, sDev };
}

/** The inputs cached in `tlb` for `vmid`, sorted. */
function cached(tlb: Tlb, vmid: number): number[] {
  return tlb
    .entries()
    .filter((e) => e.vmid === vmid)
    .map((e) => e.va)
    .sort((x, y) => x - y);
}

describe("stage-2 invalidation by IPA vs by VMID", () => {
  describe("SMMU context banks sharing one TLB", () => {
    /** Both banks with both pages cached: stage-2-only (vmid 2) by IPA, nested (vmid 1) by VA. */
    function warm() {
      const w = vm();
      const { nested, alone, nDev, sDev, smmu } = w;
      expect([nested.vmid, alone.vmid, alone.hasStage1]).toEqual([1, 2, false]);
      for (let k = 0; k < 2; k++) {
        expect(sDev.read(A, 1)).toEqual(bytes(0xa1));
        expect(sDev.read(B, 1)).toEqual(bytes(0xb2));
        expect(nDev.read(VA1, 1)).toEqual(bytes(0xa1));
        expect(nDev.read(VA2, 1)).toEqual(bytes(0xb2));
      }
      expect(cached(smmu.tlb, 2)).toEqual([A, B]);
      expect(cached(smmu.tlb, 1)).toEqual([VA1, VA2]);
      return w;
    }

    it("the issue's example: unmapping one stage-2 page drops only that page's entry of a stage-2-only bank", () => {
      const { s2, smmu, sDev, nDev, pa } = warm();
      const before = smmu.tlb.stats().invalidatedEntries;
      s2.unmap(B, PAGE);
      // Stage-2-only: B's entry went, A's stayed and still hits.
      expect(cached(smmu.tlb, 2)).toEqual([A]);
      const hits = sDev.stats.tlbHits;
      expect(sDev.read(A, 1)).toEqual(bytes(0xa1));
      expect(sDev.stats.tlbHits).toBe(hits + 1);
      expect(sDev.translate(A + 8)).toMatchObject({ ok: true, pa: pa + 8, hit: true });
      expect(faultOf(() => sDev.read(B, 1))).toMatchObject({
        kind: "translation",
        stage: 2,
        ipa: B,
        context: "smmu0/s2only",
      });
      // Nested: every entry of its VMID went, VA1's too although its translation is unchanged.
      expect(cached(smmu.tlb, 1)).toEqual([]);
      expect(nDev.translate(VA1)).toMatchObject({ ok: true, pa, hit: false });
      expect(faultOf(() => nDev.read(VA2, 1))).toMatchObject({ kind: "translation", stage: 2 });
      // Three entries in all: B (stage-2-only), VA1 and VA2 (nested).
      expect(smmu.tlb.stats().invalidatedEntries - before).toBe(3);
    });

    it("a stage-2 change no entry uses: nothing for the stage-2-only bank, the whole VMID for the nested one", () => {
      const { s2, smmu } = warm();
      s2.unmap(C, PAGE);
      expect(cached(smmu.tlb, 2)).toEqual([A, B]);
      expect(cached(smmu.tlb, 1)).toEqual([]);
    });

    it("protect of one stage-2 page: by IPA for the stage-2-only bank", () => {
      const { s2, smmu, sDev, nDev } = warm();
      s2.protect(A, PAGE, RO);
      expect(cached(smmu.tlb, 2)).toEqual([B]);
      expect(cached(smmu.tlb, 1)).toEqual([]);
      expect(faultOf(() => sDev.write(A, bytes(0))).kind).toBe("permission");
      expect(faultOf(() => nDev.write(VA1, bytes(0)))).toMatchObject({
        kind: "permission",
        stage: 2,
      });
      sDev.write(B, bytes(0x22)); // B is still writable, through its surviving entry
      expect(sDev.read(B, 1)).toEqual(bytes(0x22));
    });

    it("unmapFast into a caller's gather: old entries may be used until the sync, then the same split", () => {
      const { s2, smmu, sDev, pb } = warm();
      const gather = new IotlbGather();
      expect(s2.unmapFast(B, PAGE, gather)).toBe(PAGE);
      // Not synced yet: the TLBs may still hold B's old translation, as on the hardware.
      expect(cached(smmu.tlb, 2)).toEqual([A, B]);
      expect(cached(smmu.tlb, 1)).toEqual([VA1, VA2]);
      expect(sDev.translate(B)).toMatchObject({ ok: true, pa: pb, hit: true });
      gather.sync();
      expect(gather.syncs).toBe(1);
      expect(cached(smmu.tlb, 2)).toEqual([A]);
      expect(cached(smmu.tlb, 1)).toEqual([]);
      expect(faultOf(() => sDev.read(B, 1)).stage).toBe(2);
    });

    it("a stage-1 change of the nested bank is by VA, and leaves the stage-2-only entries alone", () => {
      const { s1, smmu, nDev } = warm();
      s1.unmap(VA2, PAGE);
      expect(cached(smmu.tlb, 1)).toEqual([VA1]);
      expect(cached(smmu.tlb, 2)).toEqual([A, B]);
      expect(faultOf(() => nDev.read(VA2, 1))).toMatchObject({ kind: "translation", stage: 1 });
    });
  });

  describe("CPUs (TlbCoherence)", () => {
    function cpus() {
      const w = vm();
      const { platform, s1, s2 } = w;
      // A CPU with only a stage 2 loaded (VA = IPA), and a vCPU with stage 1 over it.
      const cpu = new Cpu(platform, { name: "cpu-s2", stage2: s2, vmid: 5 });
      const vcpu = new Cpu(platform, { name: "vcpu0", ttbr0: s1, asid: 1, stage2: s2, vmid: 6 });
      expect(cpu.mmu.hasStage1).toBe(false);
      for (let k = 0; k < 2; k++) {
        expect(cpu.read(A, 1)).toEqual(bytes(0xa1));
        expect(cpu.read(B, 1)).toEqual(bytes(0xb2));
        expect(vcpu.read(VA1, 1)).toEqual(bytes(0xa1));
        expect(vcpu.read(VA2, 1)).toEqual(bytes(0xb2));
      }
      expect(cached(cpu.tlb, 5)).toEqual([A, B]);
      expect(cached(vcpu.tlb, 6)).toEqual([VA1, VA2]);
      return { ...w, cpu, vcpu };
    }

    it("unmapping one stage-2 page: the stage-2-only CPU loses only that entry, the vCPU all of its VMID", () => {
      const { s2, cpu, vcpu, pa } = cpus();
      s2.unmap(B, PAGE);
      expect(cached(cpu.tlb, 5)).toEqual([A]);
      expect(cpu.translate(A)).toMatchObject({ ok: true, pa, hit: true });
      expect(faultOf(() => cpu.read(B, 1))).toMatchObject({ stage: 2, ipa: B });
      expect(cached(vcpu.tlb, 6)).toEqual([]);
      expect(vcpu.read(VA1, 1)).toEqual(bytes(0xa1));
      expect(faultOf(() => vcpu.read(VA2, 1))).toMatchObject({ stage: 2, ipa: B });
    });

    it("an unused stage-2 page: nothing for the stage-2-only CPU, the whole VMID for the vCPU", () => {
      const { s2, cpu, vcpu } = cpus();
      s2.unmap(C, PAGE);
      expect(cached(cpu.tlb, 5)).toEqual([A, B]);
      expect(cached(vcpu.tlb, 6)).toEqual([]);
    });

    it("with a caller's gather: nothing until the sync", () => {
      const { s2, cpu, vcpu, pb } = cpus();
      const gather = new IotlbGather();
      s2.unmapFast(B, PAGE, gather);
      // Before the sync an old entry may still be used (it is here).
      expect(cpu.translate(B)).toMatchObject({ ok: true, pa: pb, hit: true });
      expect(cached(vcpu.tlb, 6)).toEqual([VA1, VA2]);
      gather.sync();
      expect(cached(cpu.tlb, 5)).toEqual([A]);
      expect(cached(vcpu.tlb, 6)).toEqual([]);
    });

    it("a CPU that ran its stage 2 both alone and nested invalidates it both ways", () => {
      const { s1, s2, cpu } = cpus();
      // Load a stage 1 over the same stage 2 (no flush): the IPA entries stay, VA ones join.
      cpu.setTtbr0(s1);
      cpu.setAsid(1);
      expect(cpu.read(VA1, 1)).toEqual(bytes(0xa1));
      expect(cached(cpu.tlb, 5)).toEqual([VA1, A, B]);
      // Now nested as well: any stage-2 change drops the VMID, the IPA entries included.
      s2.unmap(C, PAGE);
      expect(cached(cpu.tlb, 5)).toEqual([]);
    });
  });
});
