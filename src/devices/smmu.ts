/**
 * An SMMU (Arm System MMU, the IOMMU of the VCMM era and Linux `drivers/iommu/arm/arm-smmu`):
 * named translation contexts — context banks — that share one TLB (by default 64 sets x 4
 * ways, LRU: 256 entries, as QEMU's SMMU IOTLB), and the devices (stream masters) attached to
 * them, whose every access is translated by their context.
 *
 * A context ({@link SmmuContext}) is programmed by {@link SmmuContext.bind} (the driver's
 * `arm_smmu_init_context_bank` / `write_context_bank`: TTBRs, ASID, and for a nested context
 * the stage 2 and VMID) and enabled by {@link SmmuContext.activate} (SCTLR.M; VCM's
 * `vcm_activate` / `vcm_deactivate` map onto activate and deactivate). A fault is delivered to
 * the context's handler first (`iommu_set_fault_handler`, called from
 * `arm_smmu_context_fault` through `report_iommu_fault`), then to the master's own handlers:
 * "retry" is a handler returning 0 with the stalled transaction resumed, "terminate" is -ENOSYS
 * (not handled: the next handler is asked, and in the end the transaction is terminated).
 *
 * Decisions:
 * - A context starts unbound and inactive. An inactive or unbound context faults every access
 *   with a translation fault at stage 1 level 0 (as a context bank with SCTLR.M = 0 and CBAR
 *   type "fault" would), and its TLB entries are not looked up. Activation and binding are
 *   independent: a context may be activated before it is bound (it faults until bound).
 *   activate: EBUSY if active (vcm_activate); deactivate: ENOENT if not (vcm_deactivate).
 *   bind / unbind of an active context: EBUSY (vcm_deassoc of an active association).
 * - Isolation in the shared TLB: each context gets ASID = its index unless told otherwise, and
 *   VMID 0 — or index + 1 for a context with a stage 2, as Linux arm-smmu gives stage-2
 *   contexts `cbndx + 1`. Two bound contexts may not have the same ASID and VMID; contexts that
 *   share a VMID must both have a stage 1 and the same stage 2 (stage-2-only entries match
 *   every ASID). EBUSY otherwise. Global stage-1 leaves (`PROT.GLOBAL`, never made by Linux
 *   io-pgtable) match every ASID of their VMID, as the architecture says: they are visible to
 *   other contexts of that VMID through the shared TLB.
 * - Coherence: `bind` registers the context as a flush target of a {@link PageTable} (and its
 *   `stage2Flush` for a stage-2 table), so unmap and protect invalidate the shared TLB. A bare
 *   {@link TableRoot} is not tracked. Unbinding or rebinding drops the context's entries.
 * - Devices make unprivileged data accesses by default: Linux maps DMA memory without
 *   `IOMMU_PRIV`, so its leaves are for unprivileged accesses.
 *
 * @example
 * const smmu = new Smmu(platform, { name: "smmu0", contexts: ["gpu", "dsp"] });
 * smmu.context("gpu").bind(gpuTable);
 * smmu.context("gpu").activate();
 * const gpu = smmu.attachMaster("gpu0", "gpu");
 * gpu.read(0x1000_0000, 64);
 */
import { fail } from "../base/errors.js";
import type { Fault, TableRoot } from "../mmu/context.js";
import { TranslateOut, TranslationContext } from "../mmu/context.js";
import { PageTable } from "../mmu/page-table.js";
import type { Access } from "../mmu/prot.js";
import type { Tlb } from "../mmu/tlb.js";
import { FAULT_NONE } from "../mmu/walk.js";
import type { ChunkOut, FaultHandler, FaultResolution, TranslateResult } from "./bus-master.js";
import { BusMaster } from "./bus-master.js";
import type { TlbGeometry } from "./coherence.js";
import { asRoot, checkTag, tlbFrom } from "./coherence.js";
import type { Platform } from "./platform.js";
import type { Device } from "./registry.js";

/** QEMU's SMMU IOTLB: 256 entries; modelled 4-way. */
export const SMMU_TLB_DEFAULT = { sets: 64, ways: 4 } as const;

export interface SmmuOptions {
  name: string;
  /** The context banks: their names, or a count (named cb0, cb1, ...). */
  contexts: number | readonly string[];
  /** The TLB the contexts share (geometry over the default, or a TLB). */
  tlb?: Tlb | TlbGeometry;
}

/** A context's fault hook (Linux `iommu_fault_handler_t`). */
export type SmmuFaultHandler = (
  fault: Fault,
  master: SmmuMaster,
  context: SmmuContext,
) => FaultResolution;

export interface BindOptions {
  /** Default: the context's index. */
  asid?: number;
  /** A stage 2 under the stage-1 table (nested translation). */
  stage2?: PageTable | TableRoot;
  /** Default: 0, or index + 1 with a stage 2. */
  vmid?: number;
  /** With `ttbr1`: input addresses at or above it translate through `ttbr1`. */
  split?: number;
  ttbr1?: PageTable | TableRoot;
}

interface Binding {
  s1: TableRoot | undefined;
  ttbr1: TableRoot | undefined;
  s2: TableRoot | undefined;
  /** Flush-target registrations to undo. */
  offs: Array<() => void>;
  /** The stage-1 page table bound, if it was given as one. */
  table: PageTable | undefined;
}

function sameRoot(a: TableRoot | undefined, b: TableRoot | undefined): boolean {
  return (
    a === b || (a !== undefined && b !== undefined && a.root === b.root && a.memory === b.memory)
  );
}

export class Smmu implements Device {
  readonly kind = "smmu";
  readonly name: string;
  readonly platform: Platform;
  /** The TLB every context shares. */
  readonly tlb: Tlb;
  private readonly contextList: SmmuContext[];
  private readonly byName = new Map<string, SmmuContext>();
  private readonly masterMap = new Map<string, SmmuMaster>();

  constructor(platform: Platform, options: SmmuOptions) {
    platform.registry.checkFree(options.name);
    const names =
      typeof options.contexts === "number"
        ? Array.from({ length: options.contexts }, (_, i) => `cb${i}`)
        : [...options.contexts];
    if (
      typeof options.contexts === "number" &&
      !(Number.isInteger(options.contexts) && options.contexts > 0)
    )
      fail("EINVAL", `SMMU "${options.name}": ${String(options.contexts)} contexts`);
    if (names.length === 0) fail("EINVAL", `SMMU "${options.name}" has no context`);
    if (names.length > 0x10000) fail("EINVAL", `SMMU "${options.name}": more than 65536 contexts`);
    const seen = new Set<string>();
    for (const n of names) {
      if (typeof n !== "string" || n === "")
        fail("EINVAL", `SMMU "${options.name}": a context needs a name`);
      if (seen.has(n)) fail("EEXIST", `SMMU "${options.name}": context "${n}" is named twice`);
      seen.add(n);
    }
    this.name = options.name;
    this.platform = platform;
    this.tlb = tlbFrom(options.tlb, SMMU_TLB_DEFAULT, `${options.name} tlb`);
    this.contextList = names.map((n, i) => new SmmuContext(this, n, i));
    for (const c of this.contextList) this.byName.set(c.name, c);
    platform.addDevice(this);
  }

  /** The context named `name`, or ENOENT. */
  context(name: string): SmmuContext {
    return (
      this.byName.get(name) ??
      fail(
        "ENOENT",
        `SMMU "${this.name}" has no context "${name}" (have: ${[...this.byName.keys()].join(", ")})`,
      )
    );
  }

  contexts(): readonly SmmuContext[] {
    return this.contextList;
  }

  /**
   * Attach a device (a stream master) to a context: its accesses are translated by it. ENOENT
   * for an unknown context, EEXIST for a device name already in use.
   */
  attachMaster(name: string, contextName: string): SmmuMaster {
    const context = this.context(contextName);
    const master = new SmmuMaster(this.platform, name, this, context);
    this.masterMap.set(name, master);
    return master;
  }

  /** Detach a master and remove it from the platform's devices (ENOENT if not attached here). */
  detachMaster(name: string): void {
    if (!this.masterMap.has(name)) fail("ENOENT", `SMMU "${this.name}" has no master "${name}"`);
    this.masterMap.delete(name);
    this.platform.registry.remove(name);
  }

  /** The master named `name`, or ENOENT. */
  master(name: string): SmmuMaster {
    return (
      this.masterMap.get(name) ?? fail("ENOENT", `SMMU "${this.name}" has no master "${name}"`)
    );
  }

  masters(): SmmuMaster[] {
    return [...this.masterMap.values()];
  }

  /** Invalidate the whole shared TLB (SMMU_TLBIALLNSNH). */
  tlbiAll(): void {
    this.tlb.invalidateAll();
  }

  /** The other bound context that conflicts with tags `asid` / `vmid`, with why. */
  conflict(
    self: SmmuContext,
    asid: number,
    vmid: number,
    s1: boolean,
    s2: TableRoot | undefined,
  ): string | undefined {
    for (const o of this.contextList) {
      if (o === self || !o.bound || o.vmid !== vmid) continue;
      if (o.asid === asid) return `context "${o.name}" already uses asid ${asid} in vmid ${vmid}`;
      if (!s1 || !o.hasStage1)
        return `context "${o.name}" shares vmid ${vmid}, and a stage-2-only context needs a vmid of its own`;
      if (!sameRoot(o.stage2Root, s2))
        return `vmid ${vmid} already names another stage 2 (in context "${o.name}")`;
    }
    return undefined;
  }
}

export class SmmuContext {
  readonly smmu: Smmu;
  readonly name: string;
  /** The context bank number. */
  readonly index: number;
  /** The translation regime (named "<smmu>/<context>", as faults report it). */
  readonly ctx: TranslationContext;
  private binding: Binding | undefined = undefined;
  private isActive = false;
  private handler: SmmuFaultHandler | undefined = undefined;
  private readonly tout = new TranslateOut();

  /** Built by {@link Smmu}. */
  constructor(smmu: Smmu, name: string, index: number) {
    this.smmu = smmu;
    this.name = name;
    this.index = index;
    this.ctx = new TranslationContext({ name: `${smmu.name}/${name}`, tlb: smmu.tlb, asid: index });
    this.ctx.enabled = false;
  }

  get bound(): boolean {
    return this.binding !== undefined;
  }

  get active(): boolean {
    return this.isActive;
  }

  get asid(): number {
    return this.ctx.asid;
  }

  get vmid(): number {
    return this.ctx.vmid;
  }

  /** True if bound with a stage-1 table. */
  get hasStage1(): boolean {
    return this.binding?.s1 !== undefined;
  }

  /** The stage-2 root bound, if any. */
  get stage2Root(): TableRoot | undefined {
    return this.binding?.s2;
  }

  /** The stage-1 page table bound (when bound with a PageTable). */
  get pageTable(): PageTable | undefined {
    return this.binding?.table;
  }

  /**
   * Program the context with `table`: a stage-1 table (optionally over `options.stage2`), or a
   * stage-2 table alone (a device assigned to a VM, IOVA = IPA). EBUSY while active or for tags
   * that clash with another context (see the module comment); EINVAL for a table of the wrong
   * stage or a bad ASID / VMID / split. Replaces an earlier binding (whose TLB entries go). On
   * failure nothing changes.
   */
  bind(table: PageTable | TableRoot, options: BindOptions = {}): void {
    const what = `context "${this.ctx.name}"`;
    if (this.isActive) fail("EBUSY", `${what} is active: deactivate it before binding`);
    let s1: TableRoot | undefined;
    let s2: TableRoot | undefined;
    if (table.format.stage === 2) {
      if (options.stage2 !== undefined || options.ttbr1 !== undefined)
        fail("EINVAL", `${what}: a stage-2 table is bound alone (no stage2 or ttbr1 option)`);
      s2 = asRoot(table);
    } else {
      s1 = asRoot(table);
      if (options.stage2 !== undefined) {
        if (options.stage2.format.stage !== 2)
          fail("EINVAL", `${what}: stage2 ${options.stage2.format.name} is not a stage-2 format`);
        s2 = asRoot(options.stage2);
      }
    }
    let ttbr1: TableRoot | undefined;
    if (options.ttbr1 !== undefined) {
      if (options.ttbr1.format.stage !== 1)
        fail("EINVAL", `${what}: ttbr1 ${options.ttbr1.format.name} is not a stage-1 format`);
      const split = options.split;
      if (split === undefined || !Number.isSafeInteger(split) || split <= 0)
        fail("EINVAL", `${what}: ttbr1 needs a split address > 0`);
      ttbr1 = asRoot(options.ttbr1);
    } else if (options.split !== undefined) {
      fail("EINVAL", `${what}: a split needs a ttbr1`);
    }
    const asid = options.asid ?? this.index;
    const vmid = options.vmid ?? (s2 !== undefined ? this.index + 1 : 0);
    checkTag("asid", what, asid);
    checkTag("vmid", what, vmid);
    const clash = this.smmu.conflict(this, asid, vmid, s1 !== undefined, s2);
    if (clash !== undefined) fail("EBUSY", `${what}: ${clash}`);

    this.unbindNow();
    const offs: Array<() => void> = [];
    if (table instanceof PageTable && s1 !== undefined) offs.push(table.addFlushTarget(this.ctx));
    if (options.ttbr1 instanceof PageTable) offs.push(options.ttbr1.addFlushTarget(this.ctx));
    const s2Table = s1 === undefined ? table : options.stage2;
    if (s2Table instanceof PageTable) offs.push(s2Table.addFlushTarget(this.ctx.stage2Flush));
    this.binding = {
      s1,
      ttbr1,
      s2,
      offs,
      table: s1 !== undefined && table instanceof PageTable ? table : undefined,
    };
    const c = this.ctx;
    c.ttbr0 = s1;
    c.ttbr1 = ttbr1;
    c.split = ttbr1 !== undefined ? options.split : undefined;
    c.stage2 = s2;
    c.asid = asid;
    c.vmid = vmid;
    c.enabled = this.isActive;
  }

  /** Remove the binding and the context's TLB entries. EBUSY while active; no-op if unbound. */
  unbind(): void {
    if (this.isActive) fail("EBUSY", `context "${this.ctx.name}" is active: deactivate it first`);
    this.unbindNow();
  }

  private unbindNow(): void {
    const b = this.binding;
    if (b === undefined) return;
    for (const off of b.offs) off();
    this.invalidateAll();
    this.binding = undefined;
    const c = this.ctx;
    c.ttbr0 = c.ttbr1 = c.stage2 = undefined;
    c.split = undefined;
    c.enabled = false;
  }

  /** Enable translation (SCTLR.M = 1). EBUSY if already active. */
  activate(): void {
    if (this.isActive) fail("EBUSY", `context "${this.ctx.name}" is already active`);
    this.isActive = true;
    this.ctx.enabled = this.bound;
  }

  /** Disable translation: every access faults. ENOENT if not active. */
  deactivate(): void {
    if (!this.isActive) fail("ENOENT", `context "${this.ctx.name}" is not active`);
    this.isActive = false;
    this.ctx.enabled = false;
  }

  /**
   * Install the context's fault handler (`iommu_set_fault_handler`); undefined removes it. It
   * is asked before the master's own handlers.
   */
  setFaultHandler(handler: SmmuFaultHandler | undefined): void {
    this.handler = handler;
  }

  get faultHandler(): SmmuFaultHandler | undefined {
    return this.handler;
  }

  /**
   * Translate `iova` for an access (default: an unprivileged read), as the hardware would,
   * through the shared TLB, without fault delivery (`iommu_iova_to_phys` with the TLB).
   */
  translate(iova: number, access: Partial<Access> = {}): TranslateResult {
    const a: Access = { kind: access.kind ?? "read", privileged: access.privileged ?? false };
    const t = this.tout;
    if (this.ctx.translate(iova, a, t) !== FAULT_NONE)
      return { ok: false, fault: this.ctx.lastFault! };
    return { ok: true, pa: t.pa, size: t.size, perm: t.perm, hit: t.hit };
  }

  /**
   * Drop the context's entries from the shared TLB (SMMU_CBn_TLBIASID, or TLBIVMID for a
   * stage-2-only context), global stage-1 entries of its VMID included.
   */
  invalidateAll(): void {
    const tlb = this.smmu.tlb;
    if (this.binding !== undefined && this.binding.s1 === undefined)
      tlb.invalidateVmid(this.ctx.vmid);
    else tlb.invalidateRange(0, Number.MAX_SAFE_INTEGER, this.ctx.asid, this.ctx.vmid);
  }

  /** The masters attached to this context. */
  masters(): SmmuMaster[] {
    return this.smmu.masters().filter((m) => m.context === this);
  }
}

/** A device behind an SMMU: its accesses are translated by its context. */
export class SmmuMaster extends BusMaster {
  readonly kind = "smmu-master";
  readonly smmu: Smmu;
  readonly context: SmmuContext;

  /** Built by {@link Smmu.attachMaster}. */
  constructor(platform: Platform, name: string, smmu: Smmu, context: SmmuContext) {
    super(platform, name);
    this.smmu = smmu;
    this.context = context;
    this.register();
  }

  protected get defaultPrivileged(): boolean {
    return false;
  }

  protected translateChunk(va: number, access: Access, out: ChunkOut): Fault | undefined {
    return this.translateWith(this.context.ctx, va, access, out);
  }

  /** The context's handler first, then the master's own. */
  protected override faultHandlers(): readonly FaultHandler[] {
    const own = super.faultHandlers();
    const h = this.context.faultHandler;
    if (h === undefined) return own;
    return [(fault: Fault) => h(fault, this, this.context), ...own];
  }
}
