/**
 * A CPU: a bus master whose MMU is a {@link TranslationContext} — TTBR0 / TTBR1 with a split,
 * an ASID, and for a vCPU a stage 2 tagged by a VMID — with its own set-associative TLB (by
 * default 128 sets x 4 ways, LRU: the 512 entries of a Cortex-A53 main TLB).
 *
 * Decisions:
 * - Accesses are privileged (EL1, the kernel) unless `opts.privileged === false` (EL0, user);
 *   that is the side a model driving memory management runs on. A user-mode access to a
 *   mapping made with `PROT.PRIV` takes a permission fault.
 * - Setting TTBR0, TTBR1, the ASID or the stage 2 does not flush the TLB, as on the hardware:
 *   entries are tagged by ASID and VMID. Reusing an ASID for another table needs a
 *   {@link Cpu.tlbiAsid} first, as on the hardware. The `tlbi*` methods model the TLBI
 *   instructions.
 * - Coherence with page-table changes: every {@link PageTable} the CPU is pointed at is tracked
 *   ({@link TlbCoherence}) under each ASID / VMID it was used with, so its unmap and protect
 *   invalidate the CPU's TLB (the kernel's `flush_tlb_range`). A bare {@link TableRoot} is not
 *   tracked: whoever changes its tables issues the TLBIs.
 *
 * @example
 * const cpu = new Cpu(platform, { name: "cpu0", ttbr0: userTable, asid: 1 });
 * cpu.write(0x40_0000, bytes, { privileged: false });
 * cpu.setTtbr0(otherTable); cpu.setAsid(2); // a context switch, no flush
 */
import type { Fault, TableRoot } from "../mmu/context.js";
import { TranslationContext } from "../mmu/context.js";
import { PageTable } from "../mmu/page-table.js";
import type { Access } from "../mmu/prot.js";
import type { Tlb } from "../mmu/tlb.js";
import type { ChunkOut } from "./bus-master.js";
import { BusMaster } from "./bus-master.js";
import type { TlbGeometry } from "./coherence.js";
import { asRoot, checkTag, TlbCoherence, tlbFrom } from "./coherence.js";
import type { Platform } from "./platform.js";
import { fail } from "../base/errors.js";

/** Cortex-A53 main TLB: 512 entries, 4-way. */
export const CPU_TLB_DEFAULT = { sets: 128, ways: 4 } as const;

export interface CpuOptions {
  name: string;
  /** Stage-1 table for addresses below `split` (all addresses without one). */
  ttbr0?: PageTable | TableRoot;
  /** Stage-1 table for addresses at or above `split`. */
  ttbr1?: PageTable | TableRoot;
  split?: number;
  asid?: number;
  /** A vCPU: stage 2 (IPA -> PA), its stage-1 tables then live in IPA space. */
  stage2?: PageTable | TableRoot;
  vmid?: number;
  /** A TLB of its own (geometry over the default) or a shared one. */
  tlb?: Tlb | TlbGeometry;
}

export class Cpu extends BusMaster {
  readonly kind = "cpu";
  /** The MMU's translation regime. */
  readonly mmu: TranslationContext;
  readonly tlb: Tlb;
  private readonly coherence: TlbCoherence;
  private s1Tables: { ttbr0?: PageTable; ttbr1?: PageTable } = {};
  private s2Table: PageTable | undefined;

  constructor(platform: Platform, options: CpuOptions) {
    super(platform, options.name);
    if (options.asid !== undefined) checkTag("asid", options.name, options.asid);
    if (options.vmid !== undefined) checkTag("vmid", options.name, options.vmid);
    this.checkStage(options.ttbr0, 1, "ttbr0");
    this.checkStage(options.ttbr1, 1, "ttbr1");
    this.checkStage(options.stage2, 2, "stage 2");
    this.tlb = tlbFrom(options.tlb, CPU_TLB_DEFAULT, `${options.name} tlb`);
    this.mmu = new TranslationContext({
      name: options.name,
      ...(options.ttbr0 ? { ttbr0: asRoot(options.ttbr0) } : {}),
      ...(options.ttbr1 ? { ttbr1: asRoot(options.ttbr1) } : {}),
      ...(options.split !== undefined ? { split: options.split } : {}),
      ...(options.stage2 ? { stage2: asRoot(options.stage2) } : {}),
      asid: options.asid ?? 0,
      vmid: options.vmid ?? 0,
      tlb: this.tlb,
    });
    this.coherence = new TlbCoherence(this.tlb);
    if (options.ttbr0 instanceof PageTable) this.s1Tables.ttbr0 = options.ttbr0;
    if (options.ttbr1 instanceof PageTable) this.s1Tables.ttbr1 = options.ttbr1;
    if (options.stage2 instanceof PageTable) this.s2Table = options.stage2;
    this.retrack();
    this.register();
  }

  protected get defaultPrivileged(): boolean {
    return true;
  }

  protected translateChunk(va: number, access: Access, out: ChunkOut): Fault | undefined {
    return this.translateWith(this.mmu, va, access, out);
  }

  get asid(): number {
    return this.mmu.asid;
  }

  get vmid(): number {
    return this.mmu.vmid;
  }

  /** Load TTBR0 (undefined: no stage-1 table below the split: every access there faults). */
  setTtbr0(table: PageTable | TableRoot | undefined): void {
    this.checkStage(table, 1, "ttbr0");
    this.mmu.ttbr0 = table === undefined ? undefined : asRoot(table);
    this.s1Tables.ttbr0 = table instanceof PageTable ? table : undefined;
    this.retrack();
  }

  /**
   * Load TTBR1 and the split (ARMv7 TTBCR.N, AArch64 T1SZ): addresses at or above `split`
   * translate through it. Undefined removes it.
   */
  setTtbr1(table: PageTable | TableRoot | undefined, split?: number): void {
    this.checkStage(table, 1, "ttbr1");
    if (table !== undefined) {
      const s = split ?? this.mmu.split;
      if (s === undefined || !Number.isSafeInteger(s) || s <= 0)
        fail("EINVAL", `${this.name}: ttbr1 needs a split address > 0`);
      this.mmu.split = s;
    }
    this.mmu.ttbr1 = table === undefined ? undefined : asRoot(table);
    this.s1Tables.ttbr1 = table instanceof PageTable ? table : undefined;
    this.retrack();
  }

  /** Set the ASID (CONTEXTIDR / TTBR0.ASID); no flush. */
  setAsid(asid: number): void {
    checkTag("asid", this.name, asid);
    this.mmu.asid = asid;
    this.retrack();
  }

  /** Load a stage 2 (VTTBR) and its VMID, or remove it (undefined); no flush. */
  setStage2(table: PageTable | TableRoot | undefined, vmid = this.mmu.vmid): void {
    this.checkStage(table, 2, "stage 2");
    checkTag("vmid", this.name, vmid);
    this.mmu.stage2 = table === undefined ? undefined : asRoot(table);
    this.mmu.vmid = vmid;
    this.s2Table = table instanceof PageTable ? table : undefined;
    this.retrack();
  }

  /** TLBI ALLE1: every entry of the TLB. */
  tlbiAll(): void {
    this.tlb.invalidateAll();
  }

  /** TLBI ASIDE1: the non-global entries of `asid` (default: the current one) in this VMID. */
  tlbiAsid(asid = this.mmu.asid): void {
    this.tlb.invalidateAsid(asid, this.mmu.vmid);
  }

  /**
   * TLBI VAE1 (`asid` a number, default the current one: its entries and global ones) or
   * VAAE1 (`asid` "any"): the entries overlapping `[va, va+size)` in this VMID.
   */
  tlbiRange(va: number, size: number, asid: number | "any" = this.mmu.asid): void {
    this.tlb.invalidateRange(va, size, asid === "any" ? undefined : asid, this.mmu.vmid);
  }

  /** TLBI VMALLS12E1: every entry of `vmid` (default: the current one). */
  tlbiVmid(vmid = this.mmu.vmid): void {
    this.tlb.invalidateVmid(vmid);
  }

  private checkStage(table: PageTable | TableRoot | undefined, stage: 1 | 2, what: string): void {
    if (table !== undefined && table.format.stage !== stage)
      fail(
        "EINVAL",
        `${this.name}: ${what} needs a stage-${stage} table, not ${table.format.name}`,
      );
  }

  /** Track the current tables under the current tags (earlier tags stay tracked). */
  private retrack(): void {
    const { asid, vmid } = this.mmu;
    if (this.s1Tables.ttbr0) this.coherence.track(this.s1Tables.ttbr0, asid, vmid);
    if (this.s1Tables.ttbr1) this.coherence.track(this.s1Tables.ttbr1, asid, vmid);
    if (this.s2Table) this.coherence.track(this.s2Table, asid, vmid);
  }
}
