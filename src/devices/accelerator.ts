/**
 * An accelerator (GPU, NPU): a bus master with an MMU of its own — a {@link TranslationRegime}
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
import { fail, inField } from "../base/errors.js";
import { EventBus } from "../base/events.js";
import type { TableRoot } from "../mmu/regime.js";
import type { AnyPageTable } from "../mmu/page-table.js";
import { PageTable } from "../mmu/page-table.js";
import type { Region, RegionSpec } from "../phys/memory-map.js";
import { MemoryMap } from "../phys/memory-map.js";
import type { TargetSpec } from "../phys/target.js";
import { MemoryTarget } from "../phys/target.js";
import { checkTag } from "./coherence.js";
import type { MmuMasterOptions } from "./mmu-master.js";
import { MmuMaster } from "./mmu-master.js";
import type { Platform } from "./platform.js";
import type { DeviceCapabilities } from "./registry.js";

export const ACCELERATOR_TLB_DEFAULT = { sets: 64, ways: 4 } as const;

export interface LocalMemorySpec {
  /** The region; `kind` must be (or defaults to) "device-local", `device` the accelerator. */
  region: Omit<RegionSpec, "kind"> & { kind?: RegionSpec["kind"] };
  /** The memory target's name (default: the region's). */
  target?: string;
}

export interface AcceleratorOptions extends Omit<MmuMasterOptions, "ttbr0" | "ttbr1" | "split"> {
  /** Its own stage-1 table (or none yet). */
  ttbr0?: AnyPageTable | TableRoot;
  localMemory?: LocalMemorySpec;
}

export class Accelerator extends MmuMaster {
  readonly kind = "accelerator";
  /** The device-local region it brought, if any. */
  readonly localRegion: Region | undefined;
  /** The memory target over it. */
  readonly localTarget: MemoryTarget | undefined;

  constructor(platform: Platform, options: AcceleratorOptions) {
    // One stage-1 table: no TTBR1, whatever an untyped caller passes.
    super(platform, { ...options, ttbr1: undefined, split: undefined }, ACCELERATOR_TLB_DEFAULT);
    const local = options.localMemory
      ? inField("localMemory", () =>
          validateLocalMemory(platform, options.name, options.localMemory!),
        )
      : undefined;
    // Nothing below can fail: the platform changes only now.
    if (local !== undefined) {
      this.localRegion = platform.addRegion(local.region);
      this.localTarget = platform.addTarget(local.target);
    }
    this.retrack();
    this.register();
  }

  get defaultPrivileged(): boolean {
    return false;
  }

  protected override localMemoryCapability(): Pick<DeviceCapabilities, "localMemory"> {
    if (this.localRegion === undefined || this.localTarget === undefined) return {};
    return { localMemory: { region: this.localRegion.name, target: this.localTarget.name } };
  }

  /**
   * Point the MMU at a stage-1 table (any root; undefined: none, every access faults), with an
   * ASID (default: the current one). No flush: entries are tagged. A {@link PageTable} is
   * tracked for coherence.
   */
  setTable(table: AnyPageTable | TableRoot | undefined, asid = this.mmu.asid): void {
    this.loadStage1(table, asid, "table");
  }

  /**
   * GMEM SHARE mode: walk `table` — a CPU's own page table — with `asid`, and keep this TLB
   * coherent with it (the accelerator becomes a flush target of the table).
   */
  shareTableWith(table: AnyPageTable, asid: number): void {
    if (!(table instanceof PageTable))
      fail(
        "EINVAL",
        `${this.name}: shareTableWith needs a PageTable (to follow its invalidations)`,
      );
    this.loadStage1(table, asid, "shared table");
  }

  /** Check and load the stage-1 table and its ASID (`what` names the table in errors). */
  private loadStage1(
    table: AnyPageTable | TableRoot | undefined,
    asid: number,
    what: string,
  ): void {
    this.checkStage(table, 1, what);
    checkTag("asid", this.name, asid);
    this.load("ttbr0", table);
    this.mmu.asid = asid;
    this.retrack();
  }
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
