/**
 * A CPU: a bus master whose MMU is a {@link TranslationRegime} — TTBR0 / TTBR1 with a split,
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
import { fail } from "../base/errors.js";
import type { TableRoot } from "../mmu/regime.js";
import type { AnyPageTable } from "../mmu/page-table.js";
import { checkTag } from "./coherence.js";
import type { MmuMasterOptions } from "./mmu-master.js";
import { MmuMaster } from "./mmu-master.js";
import type { Platform } from "./platform.js";

/** Cortex-A53 main TLB: 512 entries, 4-way. */
export const CPU_TLB_DEFAULT = { sets: 128, ways: 4 } as const;

/** TTBR0 / TTBR1 and the split, the ASID, a stage 2 and its VMID, and the TLB (or geometry). */
export type CpuOptions = MmuMasterOptions;

export class Cpu extends MmuMaster {
  readonly kind = "cpu";

  constructor(platform: Platform, options: CpuOptions) {
    super(platform, options, CPU_TLB_DEFAULT);
    this.retrack();
    this.register();
  }

  get defaultPrivileged(): boolean {
    return true;
  }

  /** Load TTBR0 (undefined: no stage-1 table below the split: every access there faults). */
  setTtbr0(table: AnyPageTable | TableRoot | undefined): void {
    this.checkStage(table, 1, "ttbr0");
    this.load("ttbr0", table);
    this.retrack();
  }

  /**
   * Load TTBR1 and the split (ARMv7 TTBCR.N, AArch64 T1SZ): addresses at or above `split`
   * translate through it. Undefined removes it.
   */
  setTtbr1(table: AnyPageTable | TableRoot | undefined, split?: number): void {
    this.checkStage(table, 1, "ttbr1", "ttbr1");
    if (table !== undefined) {
      const s = split ?? this.mmu.split;
      if (s === undefined || !Number.isSafeInteger(s) || s <= 0)
        fail("EINVAL", `${this.name}: ttbr1 needs a split address > 0`, "split");
      this.mmu.split = s;
    }
    this.load("ttbr1", table);
    this.retrack();
  }

  /** Set the ASID (CONTEXTIDR / TTBR0.ASID); no flush. */
  setAsid(asid: number): void {
    checkTag("asid", this.name, asid);
    this.mmu.asid = asid;
    this.retrack();
  }
}
