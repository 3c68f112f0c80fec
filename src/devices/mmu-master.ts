/**
 * A bus master with an MMU and a TLB of its own: the part {@link Cpu} and {@link Accelerator}
 * share. The MMU is a {@link TranslationRegime} (stage-1 TTBR0, optionally TTBR1 with a split,
 * an ASID, and optionally a stage 2 tagged by a VMID) whose TLB is set-associative, of the
 * master's default geometry unless told otherwise, or a shared {@link Tlb}.
 *
 * Decisions:
 * - Loading a table, the ASID or the stage 2 does not flush the TLB, as on the hardware:
 *   entries are tagged by ASID and VMID. The `tlbi*` methods model the TLBI instructions.
 * - Coherence with page-table changes: every {@link PageTable} the MMU is pointed at is tracked
 *   ({@link TlbCoherence}) under each ASID / VMID it was used with, so its unmap and protect
 *   invalidate this TLB (the kernel's `flush_tlb_range`). A bare {@link TableRoot} is not
 *   tracked: whoever changes its tables issues the TLBIs.
 *
 * A subclass calls {@link MmuMaster.retrack} and {@link BusMaster.register} as the last steps of
 * its constructor, once nothing can fail any more (tracking registers flush targets on the
 * tables).
 */
import { fail } from "../base/errors.js";
import type { Fault, TableRoot } from "../mmu/regime.js";
import { TranslationRegime } from "../mmu/regime.js";
import type { AnyPageTable } from "../mmu/page-table.js";
import { PageTable } from "../mmu/page-table.js";
import type { Access } from "../mmu/prot.js";
import type { Tlb } from "../mmu/tlb.js";
import type { ChunkOut } from "./bus-master.js";
import { BusMaster } from "./bus-master.js";
import type { TlbGeometry } from "./coherence.js";
import { asRoot, checkTag, TlbCoherence, tlbFrom } from "./coherence.js";
import type { Platform } from "./platform.js";
import type { DeviceCapabilities, TlbMaintenance } from "./registry.js";

export interface MmuMasterOptions {
  name: string;
  /** Stage-1 table for addresses below `split` (all addresses without one). */
  ttbr0?: AnyPageTable | TableRoot;
  /** Stage-1 table for addresses at or above `split`. */
  ttbr1?: AnyPageTable | TableRoot;
  split?: number;
  asid?: number;
  /** A vCPU: stage 2 (IPA -> PA), its stage-1 tables then live in IPA space. */
  stage2?: AnyPageTable | TableRoot;
  vmid?: number;
  /** A TLB of its own (geometry over the default) or a shared one. */
  tlb?: Tlb | TlbGeometry;
}

/** The table slots of the MMU. */
type TableSlot = "ttbr0" | "ttbr1" | "stage2";

export abstract class MmuMaster extends BusMaster<"virt" | "ipa"> {
  /** The MMU's translation regime. */
  readonly mmu: TranslationRegime;
  readonly tlb: Tlb;
  private readonly coherence: TlbCoherence;
  /** The page tables loaded now (bare roots are not kept: they are not tracked). */
  private readonly tables: { [S in TableSlot]?: AnyPageTable } = {};

  /**
   * Checks the options (tags first, then the stages of the tables) and builds the TLB and the
   * MMU; changes nothing outside the object: the subclass tracks and registers.
   */
  protected constructor(
    platform: Platform,
    options: MmuMasterOptions,
    tlbDefault: { sets: number; ways: number },
  ) {
    super(platform, options.name);
    if (options.asid !== undefined) checkTag("asid", options.name, options.asid);
    if (options.vmid !== undefined) checkTag("vmid", options.name, options.vmid);
    this.checkStage(options.ttbr0, 1, "ttbr0");
    this.checkStage(options.ttbr1, 1, "ttbr1", "ttbr1");
    this.checkStage(options.stage2, 2, "stage 2");
    this.tlb = tlbFrom(options.tlb, tlbDefault, `${options.name} tlb`);
    this.mmu = new TranslationRegime({
      name: options.name,
      ...(options.ttbr0 ? { ttbr0: asRoot(options.ttbr0) } : {}),
      ...(options.ttbr1 ? { ttbr1: asRoot(options.ttbr1) } : {}),
      ...(options.split !== undefined ? { split: options.split } : {}),
      ...(options.stage2 ? { stage2: asRoot(options.stage2) } : {}),
      asid: options.asid ?? 0,
      vmid: options.vmid ?? 0,
      tlb: this.tlb,
    });
    this.coherence = new TlbCoherence(this.tlb, (table) => this.tableDestroyed(table));
    this.hostRegime = this.mmu;
    for (const slot of ["ttbr0", "ttbr1", "stage2"] as const) {
      const table = options[slot];
      if (table instanceof PageTable) this.tables[slot] = table;
    }
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

  /** Load a stage 2 (VTTBR) and its VMID, or remove it (undefined); no flush. */
  setStage2(table: AnyPageTable | TableRoot | undefined, vmid = this.mmu.vmid): void {
    this.checkStage(table, 2, "stage 2");
    checkTag("vmid", this.name, vmid);
    this.load("stage2", table);
    this.mmu.vmid = vmid;
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

  /**
   * EINVAL unless `table` is undefined or of stage `stage`; ENODEV for a {@link PageTable} that
   * was destroyed or detached (its tables are gone, and it can no longer be tracked). `what`
   * names it in the message.
   */
  protected checkStage(
    table: AnyPageTable | TableRoot | undefined,
    stage: 1 | 2,
    what: string,
    field: TableSlot = stage === 2 ? "stage2" : "ttbr0",
  ): void {
    if (table !== undefined && table.format.stage !== stage)
      fail(
        "EINVAL",
        `${this.name}: ${what} needs a stage-${stage} table, not ${table.format.name}`,
        field,
      );
    if (table instanceof PageTable && !table.live)
      fail("ENODEV", `${this.name}: ${what}: page table "${table.name}" is not live`, field);
  }

  /**
   * Point `slot` of the MMU at `table` (undefined: none), remembering a {@link PageTable} for
   * {@link retrack}. No check, no flush.
   */
  protected load(slot: TableSlot, table: AnyPageTable | TableRoot | undefined): void {
    this.mmu[slot] = table === undefined ? undefined : asRoot(table);
    this.tables[slot] = table instanceof PageTable ? table : undefined;
  }

  /** Track the current tables under the current tags (earlier tags stay tracked). */
  protected retrack(): void {
    const { asid, vmid } = this.mmu;
    for (const table of [this.tables.ttbr0, this.tables.ttbr1])
      if (table) this.coherence.track(table, asid, vmid);
    if (this.tables.stage2)
      this.coherence.track(this.tables.stage2, asid, vmid, this.mmu.hasStage1);
  }

  /**
   * A table it used was destroyed: every slot that holds it is emptied (accesses through it
   * fault, or bypass with no table left), so nothing refers to the freed tables.
   */
  private tableDestroyed(table: AnyPageTable): void {
    for (const slot of ["ttbr0", "ttbr1", "stage2"] as const)
      if (this.tables[slot] === table) this.load(slot, undefined);
  }

  /** The tables tracked for coherence now (for lifetime checks). */
  trackedTables(): AnyPageTable[] {
    return this.coherence.tracked();
  }

  capabilities(): DeviceCapabilities {
    const tlb: TlbMaintenance = { tlb: this.tlb, owner: this.name, all: () => this.tlbiAll() };
    return {
      masters: [this],
      regimes: [
        {
          regime: this.mmu,
          masters: [this],
          live: this.mmu.enabled,
          tlb,
          tables: { ...this.tables },
        },
      ],
      tlbs: [tlb],
      windows: [],
      ...this.localMemoryCapability(),
    };
  }

  /** Subclasses with memory of their own add it to their capabilities. */
  protected localMemoryCapability(): Pick<DeviceCapabilities, "localMemory"> {
    return {};
  }
}
