/**
 * A translation regime: what one bus master's transactions are translated by — an MMU's
 * TTBR0/TTBR1 and ASID, an SMMU context bank's tables, an accelerator's MMU — optionally nested
 * under a stage 2 (a VM's IPA space, tagged by VMID).
 *
 * `translate(va, access)` is the hardware path: TLB lookup; on a miss the one walk of walk.ts
 * over stage 1 — nested, every stage-1 table address is an IPA that stage 2 translates before
 * the fetch ({@link Stage2TableMemory}), so a 4+4-level nested walk reads up to 24 descriptors
 * — then stage 2 of the output; then the permission and access-flag check; then a TLB fill.
 * Faults come back as data ({@link Fault}), never as exceptions.
 *
 * Split (ARMv7 TTBCR.N, AArch64 TTBR0/TTBR1, and the VCM association's SPLIT attribute):
 * input addresses below `split` go to `ttbr0`, the others to `ttbr1`; both walk with the full
 * address. Decision: the model has no 64-bit sign-extended upper half (addresses stay below
 * 2^53), so TTBR1's range is the top of the regime's input range.
 *
 * TLB coherence: a regime gives its page tables two flush targets. {@link stage1Flush}
 * invalidates the range for the regime's ASID and VMID. {@link stage2Flush} depends on what
 * the TLB holds: a stage-2-only regime caches IPA -> PA entries, invalidated by IPA range (any
 * ASID); a nested regime caches VA -> PA entries that no IPA names, so a stage-2 change drops
 * the whole VMID, as QEMU's SMMU model does (`smmu_iotlb_inv_ipa` for stage-2-only entries,
 * `smmu_iotlb_inv_vmid` for nested ones) and as `TLBI IPAS2E1` followed by `TLBI VMALLE1` does.
 */
import type { AddrArg } from "../base/address.js";
import { hex } from "../base/address.js";
import { fail } from "../base/errors.js";
import type { TlbFlush } from "./flush.js";
import type { AnyPageTable } from "./page-table.js";
import type { Access } from "./prot.js";
import { PERM, permNeeded } from "./prot.js";
import type { TableRoot } from "./table-memory.js";
import { Stage2TableMemory } from "./table-memory.js";
import type { Tlb } from "./tlb.js";
import type { FaultKind } from "./walk.js";
import {
  FAULT_ACCESS_FLAG,
  FAULT_NAMES,
  FAULT_NONE,
  FAULT_PERMISSION,
  FAULT_TRANSLATION,
  geometryOf,
  offsetIn,
  walkTable,
  WalkOut,
} from "./walk.js";

export type { TableRoot } from "./table-memory.js";

/** Every permission, for a regime without translation (bypass). */
const PERM_ALL = 0xff;

/** The access a probe walks with (permissions are not checked). */
const PROBE_ACCESS: Access = { kind: "read", privileged: true };

/** The whole input range of a TLB invalidation (2^52: beyond every input size). */
const ALL_INPUTS = 2 ** 52;

/** A fault, as data: enough to decide what to do (rust-vmm style). */
export interface Fault {
  kind: FaultKind;
  /** 1 or 2. */
  stage: 1 | 2;
  /** The architectural level the walk stopped at. */
  level: number;
  /** The input address of the faulting access. */
  va: number;
  /** For a stage-2 fault: the IPA that faulted (of the data, or of a stage-1 table). */
  ipa: number | undefined;
  access: Access;
  /** The translation regime it happened in (e.g. `cpu0`, `smmu0/dma`). */
  context: string;
  /** True if stage 2 faulted while fetching a stage-1 table descriptor. */
  onTableWalk: boolean;
}

/** Roots from a page table object. */
export function rootOf(table: AnyPageTable): TableRoot {
  return { format: table.format, memory: table.memory, root: table.root };
}

export interface RegimeConfig {
  name: string;
  /** Stage-1 root for addresses below `split` (or all addresses without a split). */
  ttbr0?: TableRoot;
  /** Stage-1 root for addresses at or above `split`. */
  ttbr1?: TableRoot;
  split?: number;
  asid?: number;
  /** Stage 2 (IPA -> PA). */
  stage2?: TableRoot;
  vmid?: number;
  tlb?: Tlb;
}

export interface RegimeStats {
  translations: number;
  tlbHits: number;
  tlbMisses: number;
  walks: number;
  descriptorReads: number;
  faults: number;
}

/** The result of a successful translation. */
export class TranslateOut {
  pa = 0;
  /** The size of the translation cached (min of the stages' leaves). */
  size = 0;
  perm = 0;
  /** True when served by the TLB. */
  hit = false;
}

export class TranslationRegime {
  readonly name: string;
  ttbr0: TableRoot | undefined;
  ttbr1: TableRoot | undefined;
  split: number | undefined;
  asid: number;
  stage2: TableRoot | undefined;
  vmid: number;
  tlb: Tlb | undefined;
  /** False: translation disabled (a deactivated context bank faults every access). */
  enabled = true;
  readonly stats: RegimeStats = {
    translations: 0,
    tlbHits: 0,
    tlbMisses: 0,
    walks: 0,
    descriptorReads: 0,
    faults: 0,
  };
  /** The last fault, when translate returned one. */
  lastFault: Fault | undefined = undefined;
  private readonly w1 = new WalkOut();
  private readonly w2 = new WalkOut();
  /** The memory of nested stage-1 walks (made on the first one). */
  private nested: Stage2TableMemory | undefined = undefined;

  constructor(config: RegimeConfig) {
    this.name = config.name;
    this.ttbr0 = config.ttbr0;
    this.ttbr1 = config.ttbr1;
    this.split = config.split;
    this.asid = config.asid ?? 0;
    this.stage2 = config.stage2;
    this.vmid = config.vmid ?? 0;
    this.tlb = config.tlb;
    if (this.ttbr1 && this.split === undefined)
      fail("EINVAL", `regime ${this.name}: ttbr1 needs a split`);
    for (const [v, what] of [
      [this.asid, "asid"],
      [this.vmid, "vmid"],
    ] as const)
      if (!Number.isInteger(v) || v < 0 || v > 0xffff)
        fail("EINVAL", `regime ${this.name}: ${what} ${v} is not 0..65535`);
  }

  /** True if it has a stage-1 table (TTBR0 or TTBR1). */
  get hasStage1(): boolean {
    return this.ttbr0 !== undefined || this.ttbr1 !== undefined;
  }

  // --- flush targets: this regime is told of its tables' changes -----------------------------

  /** The flush target of its stage-1 tables: the range, for its ASID and VMID. */
  readonly stage1Flush: TlbFlush = {
    flushLeaf: (va, size) => this.tlb?.invalidateRange(va, size, this.asid, this.vmid),
    flushWalk: (va, size) => this.tlb?.invalidateRange(va, size, this.asid, this.vmid),
    flushAll: () => this.tlb?.invalidateRange(0, ALL_INPUTS, this.asid, this.vmid),
  };

  /**
   * The flush target of its stage-2 table: by IPA for a stage-2-only regime (its entries'
   * inputs are IPAs), the whole VMID for a nested one.
   */
  readonly stage2Flush: TlbFlush = {
    flushLeaf: (ipa, size) => this.invalidateStage2(ipa, size),
    flushWalk: (ipa, size) => this.invalidateStage2(ipa, size),
    flushAll: () => this.tlb?.invalidateVmid(this.vmid),
  };

  private invalidateStage2(ipa: number, size: number): void {
    const tlb = this.tlb;
    if (tlb === undefined) return;
    if (this.hasStage1) tlb.invalidateVmid(this.vmid);
    else tlb.invalidateRange(ipa, size, undefined, this.vmid);
  }

  /**
   * Translate `va` for `access`. Returns FAULT_NONE with `out` filled, or a fault code with the
   * details in {@link lastFault}.
   */
  translate(va: AddrArg<"virt" | "ipa">, access: Access, out: TranslateOut): number {
    this.stats.translations++;
    const tlb = this.tlb;
    // With the MMU off (no table at all: a bypass) the TLB is not consulted either.
    if (
      tlb !== undefined &&
      this.enabled &&
      (this.ttbr0 !== undefined || this.ttbr1 !== undefined || this.stage2 !== undefined)
    ) {
      const i = tlb.lookup(va, this.asid, this.vmid);
      if (i >= 0) {
        const perm = tlb.entryPerm(i);
        if ((perm & permNeeded(access)) !== 0 && (perm & PERM.AF) !== 0) {
          const size = tlb.entryPageSize(i);
          out.pa = tlb.entryPa(i) + offsetIn(va, size);
          out.size = size;
          out.perm = perm;
          out.hit = true;
          this.stats.tlbHits++;
          this.lastSlot = i;
          return FAULT_NONE;
        }
        // A cached translation that does not allow the access: walk again, since the tables
        // are the authority (and report the fault from them).
      }
      this.stats.tlbMisses++;
    }
    return this.translateMiss(va, access, out);
  }

  /**
   * The TLB slot that translated the last successful {@link translate} (its hit, or the entry
   * its walk filled), or -1 (no TLB, a bypass).
   */
  lastSlot = -1;

  /**
   * The hit path of an access, in two halves, so that the access path can decline a hit
   * without a trace: the slot of a TLB entry that translates `va` and allows `need` (a {@link
   * PERM} mask) with its access flag set, or -1; nothing is counted. {@link recordHit} then
   * counts what {@link translate} would have counted for that hit.
   */
  peekHit(va: number, need: number): number {
    const tlb = this.tlb;
    if (
      tlb === undefined ||
      !this.enabled ||
      (this.ttbr0 === undefined && this.ttbr1 === undefined && this.stage2 === undefined)
    )
      return -1;
    const i = tlb.peek(va, this.asid, this.vmid);
    if (i < 0) return -1;
    const perm = tlb.entryPerm(i);
    return (perm & need) !== 0 && (perm & PERM.AF) !== 0 ? i : -1;
  }

  /** Count a hit found by {@link peekHit}, as {@link translate} counts one. */
  recordHit(slot: number): void {
    this.stats.translations++;
    this.stats.tlbHits++;
    this.tlb!.recordHit(slot);
    this.lastSlot = slot;
  }

  /**
   * {@link translate} past the TLB: the walk, then the TLB fill. Apart, so that the hit path
   * stays small enough for the compiler to inline into the access path.
   */
  private translateMiss(va: number, access: Access, out: TranslateOut): number {
    out.hit = false;
    this.lastSlot = -1;
    const code = this.walk(va, access, out);
    if (code !== FAULT_NONE) return code;
    const tlb = this.tlb;
    // A bypass (no table at all: the MMU is off) is not a walk and caches nothing: an identity
    // entry, global with every permission, would outlive the bypass into the next table loaded.
    if (tlb !== undefined && (this.stage2 !== undefined || this.hasStage1)) {
      const base = va - offsetIn(va, out.size);
      this.lastSlot = tlb.insert(
        base,
        out.size,
        out.pa - (va - base),
        out.perm,
        this.asid,
        this.vmid,
        this.leafLevel,
      );
    }
    return FAULT_NONE;
  }

  private faultIpa: number | undefined = undefined;
  private onTableWalk = false;
  private leafLevel = 0;

  /**
   * The walk without the TLB: stage 1 (nested through stage 2), its permission check, stage 2
   * of the output and its check, in the architecture's order. Fills `out` with the combined
   * translation: the smaller of the two leaves, and the permissions both stages allow.
   */
  walk(
    va: AddrArg<"virt" | "ipa">,
    access: Access,
    out: TranslateOut,
    checkPermissions = true,
  ): number {
    this.stats.walks++;
    this.onTableWalk = false;
    this.faultIpa = undefined;
    if (!this.enabled) return this.fault(FAULT_TRANSLATION, 1, 0, va, access);
    const need = permNeeded(access);
    const s1 = this.split !== undefined && va >= this.split ? this.ttbr1 : this.ttbr0;
    // The half of a split regime without a table faults (TCR.EPDn); only a regime with no
    // stage-1 table at all bypasses stage 1.
    if (s1 === undefined && this.hasStage1) return this.fault(FAULT_TRANSLATION, 1, 0, va, access);
    let ipa = va;
    let size = 2 ** 52;
    let perm = PERM_ALL;
    if (s1 !== undefined) {
      const code = this.walkStage1(s1, va, access);
      if (code !== FAULT_NONE) return code;
      const level = s1.format.levels[this.w1.levelIndex]!.level;
      const p1 = this.w1.perm;
      if (checkPermissions) {
        if ((p1 & PERM.AF) === 0) return this.fault(FAULT_ACCESS_FLAG, 1, level, va, access);
        if ((p1 & need) === 0) return this.fault(FAULT_PERMISSION, 1, level, va, access);
      }
      ipa = this.w1.pa;
      size = this.w1.size;
      perm = p1;
      this.leafLevel = level;
    }
    if (this.stage2 !== undefined) {
      const code = this.walkStage2(ipa, va, access);
      if (code !== FAULT_NONE) return code;
      const level = this.stage2.format.levels[this.w2.levelIndex]!.level;
      const p2 = this.w2.perm;
      this.faultIpa = ipa;
      if (checkPermissions) {
        if ((p2 & PERM.AF) === 0) return this.fault(FAULT_ACCESS_FLAG, 2, level, va, access);
        if ((p2 & need) === 0) return this.fault(FAULT_PERMISSION, 2, level, va, access);
      }
      // Stage 2 has no ASID: a global stage-1 entry stays global.
      perm = (perm & p2) | (perm & PERM.GLOBAL);
      if (this.w2.size < size) size = this.w2.size;
      if (s1 === undefined) this.leafLevel = level;
      ipa = this.w2.pa;
    }
    if (s1 === undefined && this.stage2 === undefined) size = 4096; // bypass: identity
    out.pa = ipa;
    out.size = size;
    out.perm = perm;
    return FAULT_NONE;
  }

  /** Stage 1 through the one walk; nested, over a memory that translates each fetch. */
  private walkStage1(s1: TableRoot, va: number, access: Access): number {
    const g = geometryOf(s1.format);
    const w = this.w1;
    const s2 = this.stage2;
    if (s2 === undefined) {
      const code = walkTable(s1.format, g, s1.memory, s1.root, va, w);
      this.stats.descriptorReads += w.reads;
      if (code === FAULT_NONE) return code;
      return this.fault(code, 1, s1.format.levels[w.levelIndex]!.level, va, access);
    }
    const nested = (this.nested ??= new Stage2TableMemory(s2, w));
    nested.reset(s2);
    const code = walkTable(s1.format, g, nested, s1.root, va, w);
    if (nested.fault !== FAULT_NONE) {
      // The fetch that stage 2 refused read nothing.
      this.stats.descriptorReads += nested.reads + w.reads - 1;
      this.onTableWalk = true;
      this.faultIpa = nested.faultIpa;
      const level = s2.format.levels[nested.w.levelIndex]!.level;
      return this.fault(nested.fault, 2, level, va, access);
    }
    this.stats.descriptorReads += nested.reads + w.reads;
    if (code === FAULT_NONE) return code;
    return this.fault(code, 1, s1.format.levels[w.levelIndex]!.level, va, access);
  }

  /** Stage 2 of the output IPA. */
  private walkStage2(ipa: number, va: number, access: Access): number {
    const s2 = this.stage2!;
    const w = this.w2;
    const code = walkTable(s2.format, geometryOf(s2.format), s2.memory, s2.root, ipa, w);
    this.stats.descriptorReads += w.reads;
    if (code === FAULT_NONE) return code;
    this.faultIpa = ipa;
    return this.fault(code, 2, s2.format.levels[w.levelIndex]!.level, va, access);
  }

  private fault(code: number, stage: 1 | 2, level: number, va: number, access: Access): number {
    this.stats.faults++;
    this.lastFault = {
      kind: FAULT_NAMES[code] as FaultKind,
      stage,
      level,
      va,
      ipa: stage === 2 ? this.faultIpa : undefined,
      access: { ...access },
      context: this.name,
      onTableWalk: stage === 2 && this.onTableWalk,
    };
    return code;
  }

  /**
   * What the tables translate `va` to now, whatever the permissions, without the TLB and
   * without counting anything (the regime's statistics and last fault stay as they were): for
   * checks that compare TLB entries with the tables. `out.perm` says what is allowed. Returns
   * FAULT_NONE or the fault code (translation, address-size; a stage-2 refusal of a table
   * fetch).
   */
  probe(va: AddrArg<"virt" | "ipa">, out: TranslateOut): number {
    const stats = { ...this.stats };
    const { lastFault, faultIpa, onTableWalk, leafLevel } = this;
    const code = this.walk(va, PROBE_ACCESS, out, false);
    Object.assign(this.stats, stats);
    this.lastFault = lastFault;
    this.faultIpa = faultIpa;
    this.onTableWalk = onTableWalk;
    this.leafLevel = leafLevel;
    return code;
  }

  /** A one-line description of a fault, for logs and errors. */
  static describeFault(f: Fault): string {
    const where =
      f.stage === 2 && f.ipa !== undefined
        ? ` (IPA ${hex(f.ipa)}${f.onTableWalk ? ", on a stage-1 table walk" : ""})`
        : "";
    return `${f.kind} fault, stage ${f.stage} level ${f.level}, ${f.access.privileged ? "privileged" : "unprivileged"} ${f.access.kind} of ${hex(f.va)}${where} in ${f.context}`;
  }
}
