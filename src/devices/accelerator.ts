/**
 * An accelerator (GPU, NPU): a bus master with an MMU of its own — a {@link TranslationContext}
 * with its own TLB (by default 64 sets x 4 ways, LRU) — and optionally memory of its own
 * (device-local memory: HBM on the card, addressed physically, a heterogeneous NUMA node to
 * GMEM).
 *
 * Its context may point at any table root: a table of its own (GMEM's exclusive / "coherent"
 * modes) or a CPU's own page table (GMEM SHARE mode: the device walks the CPU's table, as an
 * SVA device does with the process's page table). {@link Accelerator.shareTableWith} does the
 * latter and registers the accelerator's TLB with that table, so the CPU's unmap and protect
 * invalidate it too (the mmu_notifier / BTM role).
 *
 * Device-local memory: `localMemory: { region, target? }` adds a region of kind `device-local`
 * owned by the accelerator (`region.device` is its name) and a buddy memory target over it (named
 * `target`, default the region's name). Both are validated before either is added, so a failure
 * (a clashing name or range, say) changes nothing.
 *
 * Decision: accesses are unprivileged by default (a kernel launched by user space, touching
 * user memory), as for SMMU masters.
 *
 * @example
 * const npu = new Accelerator(platform, {
 *   name: "npu0",
 *   localMemory: { region: { name: "hbm", base: 2 ** 40, size: 1 << 30, kind: "device-local" } },
 * });
 * npu.shareTableWith(processTable, 5);
 * npu.read(userVa, 64);
 */
import { fail } from "../base/errors.js";
import { EventBus } from "../base/events.js";
import type { Fault, TableRoot } from "../mmu/context.js";
import { rootOf, TranslationContext } from "../mmu/context.js";
import { PageTable } from "../mmu/page-table.js";
import type { Access } from "../mmu/prot.js";
import type { Tlb } from "../mmu/tlb.js";
import type { Region, RegionSpec } from "../phys/memory-map.js";
import { MemoryMap } from "../phys/memory-map.js";
import type { TargetSpec } from "../phys/target.js";
import { MemoryTarget } from "../phys/target.js";
import type { ChunkOut } from "./bus-master.js";
import { BusMaster } from "./bus-master.js";
import type { TlbGeometry } from "./coherence.js";
import { asRoot, checkTag, TlbCoherence, tlbFrom } from "./coherence.js";
import type { Platform } from "./platform.js";

export const ACCELERATOR_TLB_DEFAULT = { sets: 64, ways: 4 } as const;

export interface LocalMemorySpec {
  /** The region; `kind` must be (or defaults to) "device-local", `device` the accelerator. */
  region: Omit<RegionSpec, "kind"> & { kind?: RegionSpec["kind"] };
  /** The memory target's name (default: the region's). */
  target?: string;
}

export interface AcceleratorOptions {
  name: string;
  /** Its own stage-1 table (or none yet). */
  ttbr0?: PageTable | TableRoot;
  asid?: number;
  stage2?: PageTable | TableRoot;
  vmid?: number;
  tlb?: Tlb | TlbGeometry;
  localMemory?: LocalMemorySpec;
}

export class Accelerator extends BusMaster {
  readonly kind = "accelerator";
  readonly mmu: TranslationContext;
  readonly tlb: Tlb;
  /** The device-local region it brought, if any. */
  readonly localRegion: Region | undefined;
  /** The memory target over it. */
  readonly localTarget: MemoryTarget | undefined;
  private readonly coherence: TlbCoherence;
  private s1Table: PageTable | undefined;
  private s2Table: PageTable | undefined;

  constructor(platform: Platform, options: AcceleratorOptions) {
    super(platform, options.name);
    const name = options.name;
    if (options.asid !== undefined) checkTag("asid", name, options.asid);
    if (options.vmid !== undefined) checkTag("vmid", name, options.vmid);
    checkStage(name, options.ttbr0, 1, "ttbr0");
    checkStage(name, options.stage2, 2, "stage 2");
    this.tlb = tlbFrom(options.tlb, ACCELERATOR_TLB_DEFAULT, `${name} tlb`);
    this.mmu = new TranslationContext({
      name,
      ...(options.ttbr0 ? { ttbr0: asRoot(options.ttbr0) } : {}),
      ...(options.stage2 ? { stage2: asRoot(options.stage2) } : {}),
      asid: options.asid ?? 0,
      vmid: options.vmid ?? 0,
      tlb: this.tlb,
    });
    this.coherence = new TlbCoherence(this.tlb);
    const local = options.localMemory
      ? validateLocalMemory(platform, name, options.localMemory)
      : undefined;
    // Nothing below can fail: the platform changes only now.
    if (local !== undefined) {
      this.localRegion = platform.addRegion(local.region);
      this.localTarget = platform.addTarget(local.target);
    }
    if (options.ttbr0 instanceof PageTable) this.s1Table = options.ttbr0;
    if (options.stage2 instanceof PageTable) this.s2Table = options.stage2;
    this.retrack();
    this.register();
  }

  protected get defaultPrivileged(): boolean {
    return false;
  }

  protected translateChunk(va: number, access: Access, out: ChunkOut): Fault | undefined {
    return this.translateWith(this.mmu, va, access, out);
  }

  get asid(): number {
    return this.mmu.asid;
  }

  /**
   * Point the MMU at a stage-1 table (any root; undefined: none, every access faults), with an
   * ASID (default: the current one). No flush: entries are tagged. A {@link PageTable} is
   * tracked for coherence.
   */
  setTable(table: PageTable | TableRoot | undefined, asid = this.mmu.asid): void {
    checkStage(this.name, table, 1, "table");
    checkTag("asid", this.name, asid);
    this.mmu.ttbr0 = table === undefined ? undefined : asRoot(table);
    this.mmu.asid = asid;
    this.s1Table = table instanceof PageTable ? table : undefined;
    this.retrack();
  }

  /**
   * GMEM SHARE mode: walk `table` — a CPU's own page table — with `asid`, and keep this TLB
   * coherent with it (the accelerator becomes a flush target of the table).
   */
  shareTableWith(table: PageTable, asid: number): void {
    if (!(table instanceof PageTable))
      fail(
        "EINVAL",
        `${this.name}: shareTableWith needs a PageTable (to follow its invalidations)`,
      );
    checkStage(this.name, table, 1, "shared table");
    checkTag("asid", this.name, asid);
    this.mmu.ttbr0 = rootOf(table);
    this.mmu.asid = asid;
    this.s1Table = table;
    this.retrack();
  }

  /** Load a stage 2 and its VMID, or remove it; no flush. */
  setStage2(table: PageTable | TableRoot | undefined, vmid = this.mmu.vmid): void {
    checkStage(this.name, table, 2, "stage 2");
    checkTag("vmid", this.name, vmid);
    this.mmu.stage2 = table === undefined ? undefined : asRoot(table);
    this.mmu.vmid = vmid;
    this.s2Table = table instanceof PageTable ? table : undefined;
    this.retrack();
  }

  /** Invalidate the whole TLB. */
  tlbiAll(): void {
    this.tlb.invalidateAll();
  }

  /** Invalidate the non-global entries of `asid` (default: the current one). */
  tlbiAsid(asid = this.mmu.asid): void {
    this.tlb.invalidateAsid(asid, this.mmu.vmid);
  }

  /** Invalidate the entries of `[va, va+size)` for `asid` (or any ASID with "any"). */
  tlbiRange(va: number, size: number, asid: number | "any" = this.mmu.asid): void {
    this.tlb.invalidateRange(va, size, asid === "any" ? undefined : asid, this.mmu.vmid);
  }

  private retrack(): void {
    const { asid, vmid } = this.mmu;
    if (this.s1Table) this.coherence.track(this.s1Table, asid, vmid);
    if (this.s2Table) this.coherence.track(this.s2Table, asid, vmid);
  }
}

function checkStage(
  name: string,
  table: PageTable | TableRoot | undefined,
  stage: 1 | 2,
  what: string,
): void {
  if (table !== undefined && table.format.stage !== stage)
    fail("EINVAL", `${name}: ${what} needs a stage-${stage} table, not ${table.format.name}`);
}

/**
 * Check the region and its target against the platform as it is, on a scratch copy of the
 * memory map, without changing anything; returns the specs to add.
 */
function validateLocalMemory(
  platform: Platform,
  name: string,
  spec: LocalMemorySpec,
): { region: RegionSpec; target: TargetSpec } {
  const r = spec.region;
  const kind = r.kind ?? "device-local";
  if (kind !== "device-local")
    fail("EINVAL", `${name}: local memory region "${r.name}" is ${kind}, not device-local`);
  if (r.device !== undefined && r.device !== name)
    fail("EINVAL", `${name}: local memory region "${r.name}" belongs to device "${r.device}"`);
  const region: RegionSpec = { name: r.name, base: r.base, size: r.size, kind, device: name };
  const scratch = new MemoryMap();
  for (const x of platform.map.regions())
    scratch.add({
      name: x.name,
      base: x.base,
      size: x.size,
      kind: x.kind,
      ...(x.device !== undefined ? { device: x.device } : {}),
    });
  scratch.add(region);
  const target: TargetSpec = {
    name: spec.target ?? r.name,
    ranges: [{ region: r.name }],
    allocator: { kind: "buddy" },
  };
  if (platform.targets().some((t) => t.name === target.name))
    fail("EEXIST", `${name}: target "${target.name}" already exists`);
  // The new region overlaps nothing, so the target's range overlaps no other target's.
  new MemoryTarget(target, scratch, new EventBus(), () => 0);
  return { region, target };
}
