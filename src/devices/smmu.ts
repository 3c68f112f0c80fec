/**
 * An SMMU (Arm System MMU, the IOMMU of the VCMM era and Linux `drivers/iommu/arm/arm-smmu`):
 * named context banks that share one TLB (by default 64 sets x 4 ways, LRU: 256 entries, as
 * QEMU's SMMU IOTLB), the domains bound to them, and the devices (stream masters) attached to
 * them, whose every access is translated by their context bank.
 *
 * As in arm-smmu, a domain ({@link SmmuDomain}: `struct arm_smmu_domain` — page tables plus
 * tags) is kept apart from the context bank that runs it (`arm_smmu_cb`): a bank is programmed
 * by binding a domain to it (`arm_smmu_init_context_bank` / `write_context_bank`: TTBRs, ASID,
 * and for a nested domain the stage 2 and VMID) and enabled by {@link ContextBank.activate}
 * (SCTLR.M; VCM's `vcm_activate` / `vcm_deactivate` map onto activate and deactivate). A domain
 * may be unbound and bound to another bank; a master may be re-attached to another bank
 * (`arm_smmu_attach_dev` with another domain), so a VCM association or a Gunyah device
 * assignment needs no detaching and re-creating of devices.
 *
 * A fault is delivered to the bank's handler first (`iommu_set_fault_handler`, called from
 * `arm_smmu_context_fault` through `report_iommu_fault`), then to the master's own handlers:
 * "retry" is a handler returning 0 with the stalled transaction resumed, "terminate" is -ENOSYS
 * (not handled: the next handler is asked, and in the end the transaction is terminated).
 *
 * Decisions:
 * - A bank starts unbound and inactive. An inactive or unbound bank faults every access with a
 *   translation fault at stage 1 level 0 (as a context bank with SCTLR.M = 0 and CBAR type
 *   "fault" would), and its TLB entries are not looked up. Activation and binding are
 *   independent: a bank may be activated before it is bound (it faults until bound).
 *   activate: EBUSY if active (vcm_activate); deactivate: ENOENT if not (vcm_deactivate).
 *   bind / unbind of an active bank: EBUSY (vcm_deassoc of an active association).
 * - Isolation in the shared TLB: a domain's ASID defaults to its bank's index and its VMID to 0
 *   — or index + 1 with a stage 2, as Linux arm-smmu gives stage-2 contexts `cbndx + 1`. Two
 *   bound banks may not have the same ASID and VMID; banks that share a VMID must both have a
 *   stage 1 and the same stage 2 (stage-2-only entries match every ASID). EBUSY otherwise.
 *   Global stage-1 leaves (`PROT.GLOBAL`, never made by Linux io-pgtable) match every ASID of
 *   their VMID, as the architecture says: they are visible to other banks of that VMID through
 *   the shared TLB.
 * - Coherence: binding registers the bank as a flush target of its domain's {@link PageTable}s
 *   (stage 1 by range and ASID; stage 2 by IPA for a stage-2-only bank, by VMID for a nested
 *   one). A bare {@link TableRoot} is not tracked. Unbinding or rebinding drops the bank's
 *   entries. A destroyed table unbinds the bank (and deactivates it): it faults from then on.
 * - Devices make unprivileged data accesses by default: Linux maps DMA memory without
 *   `IOMMU_PRIV`, so its leaves are for unprivileged accesses.
 *
 * @example
 * const smmu = new Smmu(platform, { name: "smmu0", contexts: ["gpu", "dsp"] });
 * smmu.contextBank("gpu").bind(gpuTable);
 * smmu.contextBank("gpu").activate();
 * const gpu = smmu.attachMaster("gpu0", "gpu");
 * gpu.read(0x1000_0000, 64);
 * gpu.attach("dsp"); // its accesses now translate through the dsp bank
 */
import type { AddrArg, PhysAddr } from "../base/address.js";
import { fail, inField } from "../base/errors.js";
import { DisposableStore } from "../base/lifetime.js";
import type { AnyPageTable } from "../mmu/page-table.js";
import { PageTable } from "../mmu/page-table.js";
import type { Access } from "../mmu/prot.js";
import type { Fault, TableRoot } from "../mmu/regime.js";
import { TranslateOut, TranslationRegime } from "../mmu/regime.js";
import type { Tlb } from "../mmu/tlb.js";
import { FAULT_NONE } from "../mmu/walk.js";
import type { ChunkOut, FaultHandler, FaultResolution, TranslateResult } from "./bus-master.js";
import { BusMaster } from "./bus-master.js";
import type { TlbGeometry } from "./coherence.js";
import { asRoot, checkTag, tlbFrom } from "./coherence.js";
import type { Platform } from "./platform.js";
import type { Device, DeviceCapabilities, RegimeInfo, TlbMaintenance } from "./registry.js";

/** QEMU's SMMU IOTLB: 256 entries; modelled 4-way. */
export const SMMU_TLB_DEFAULT = { sets: 64, ways: 4 } as const;

/** The whole input range of an invalidation. */
const ALL_INPUTS = 2 ** 52;

export interface SmmuOptions {
  name: string;
  /** The context banks: their names, or a count (named cb0, cb1, ...). */
  contexts: number | readonly string[];
  /** The TLB the banks share (geometry over the default, or a TLB). */
  tlb?: Tlb | TlbGeometry;
}

/** A bank's fault hook (Linux `iommu_fault_handler_t`). */
export type SmmuFaultHandler = (
  fault: Fault,
  master: SmmuMaster,
  bank: ContextBank,
) => FaultResolution;

export interface BindOptions {
  /** Default: the bank's index. */
  asid?: number;
  /** A stage 2 under the stage-1 table (nested translation). */
  stage2?: AnyPageTable | TableRoot;
  /** Default: 0, or the bank's index + 1 with a stage 2. */
  vmid?: number;
  /** With `ttbr1`: input addresses at or above it translate through `ttbr1`. */
  split?: number;
  ttbr1?: AnyPageTable | TableRoot;
}

function sameRoot(a: TableRoot | undefined, b: TableRoot | undefined): boolean {
  return (
    a === b || (a !== undefined && b !== undefined && a.root === b.root && a.memory === b.memory)
  );
}

/**
 * An SMMU domain (`struct arm_smmu_domain`): the page tables a context bank runs and the tags
 * its entries carry. Made from a table and {@link BindOptions}, checked at once (EINVAL for a
 * table of the wrong stage or a bad ASID / VMID / split); the tags it leaves unset are chosen
 * by the bank it is bound to.
 */
export class SmmuDomain {
  /** Stage 1 (TTBR0), if any. */
  readonly s1: TableRoot | undefined;
  readonly ttbr1: TableRoot | undefined;
  readonly split: number | undefined;
  /** Stage 2, if any (alone: a device assigned to a VM, IOVA = IPA). */
  readonly s2: TableRoot | undefined;
  readonly asid: number | undefined;
  readonly vmid: number | undefined;
  /** The tables given as {@link PageTable}s, which binding keeps coherent. */
  readonly tables: {
    readonly ttbr0?: AnyPageTable;
    readonly ttbr1?: AnyPageTable;
    readonly stage2?: AnyPageTable;
  };
  /** The bank it is bound to, if any. */
  bank: ContextBank | undefined = undefined;

  constructor(table: AnyPageTable | TableRoot, options: BindOptions = {}, what = "domain") {
    let s1: TableRoot | undefined;
    let s2: TableRoot | undefined;
    const tables: { ttbr0?: AnyPageTable; ttbr1?: AnyPageTable; stage2?: AnyPageTable } = {};
    if (table.format.stage === 2) {
      if (options.stage2 !== undefined || options.ttbr1 !== undefined)
        fail(
          "EINVAL",
          `${what}: a stage-2 table is bound alone (no stage2 or ttbr1 option)`,
          options.stage2 !== undefined ? "stage2" : "ttbr1",
        );
      s2 = asRoot(table);
      if (table instanceof PageTable) tables.stage2 = table;
    } else {
      s1 = asRoot(table);
      if (table instanceof PageTable) tables.ttbr0 = table;
      if (options.stage2 !== undefined) {
        if (options.stage2.format.stage !== 2)
          fail(
            "EINVAL",
            `${what}: stage2 ${options.stage2.format.name} is not a stage-2 format`,
            "stage2",
          );
        s2 = asRoot(options.stage2);
        if (options.stage2 instanceof PageTable) tables.stage2 = options.stage2;
      }
    }
    let ttbr1: TableRoot | undefined;
    if (options.ttbr1 !== undefined) {
      if (options.ttbr1.format.stage !== 1)
        fail(
          "EINVAL",
          `${what}: ttbr1 ${options.ttbr1.format.name} is not a stage-1 format`,
          "ttbr1",
        );
      const split = options.split;
      if (split === undefined || !Number.isSafeInteger(split) || split <= 0)
        fail("EINVAL", `${what}: ttbr1 needs a split address > 0`, "split");
      ttbr1 = asRoot(options.ttbr1);
      if (options.ttbr1 instanceof PageTable) tables.ttbr1 = options.ttbr1;
    } else if (options.split !== undefined) {
      fail("EINVAL", `${what}: a split needs a ttbr1`, "split");
    }
    if (options.asid !== undefined) checkTag("asid", what, options.asid);
    if (options.vmid !== undefined) checkTag("vmid", what, options.vmid);
    this.s1 = s1;
    this.ttbr1 = ttbr1;
    this.split = ttbr1 !== undefined ? options.split : undefined;
    this.s2 = s2;
    this.asid = options.asid;
    this.vmid = options.vmid;
    this.tables = tables;
  }
}

export class Smmu implements Device {
  readonly kind = "smmu";
  readonly name: string;
  readonly platform: Platform;
  /** The TLB every bank shares. */
  readonly tlb: Tlb;
  private readonly bankList: ContextBank[];
  private readonly byName = new Map<string, ContextBank>();
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
    names.forEach((n, i) => {
      if (typeof n !== "string" || n === "")
        fail("EINVAL", `SMMU "${options.name}": a context needs a name`, `contexts.${i}.name`);
      if (seen.has(n))
        fail(
          "EEXIST",
          `SMMU "${options.name}": context "${n}" is named twice`,
          `contexts.${i}.name`,
        );
      seen.add(n);
    });
    this.name = options.name;
    this.platform = platform;
    this.tlb = tlbFrom(options.tlb, SMMU_TLB_DEFAULT, `${options.name} tlb`);
    this.bankList = names.map((n, i) => new ContextBank(this, n, i));
    for (const c of this.bankList) this.byName.set(c.name, c);
    platform.addDevice(this);
  }

  /** The context bank named `name`, or ENOENT. */
  contextBank(name: string): ContextBank {
    return (
      this.byName.get(name) ??
      fail(
        "ENOENT",
        `SMMU "${this.name}" has no context "${name}" (have: ${[...this.byName.keys()].join(", ")})`,
      )
    );
  }

  contextBanks(): readonly ContextBank[] {
    return this.bankList;
  }

  /**
   * Attach a device (a stream master) to a context bank: its accesses are translated by it.
   * ENOENT for an unknown bank, EEXIST for a device name already in use.
   */
  attachMaster(name: string, bank: string): SmmuMaster {
    const b = inField("context", () => this.contextBank(bank));
    const master = new SmmuMaster(this.platform, name, this, b);
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

  capabilities(): DeviceCapabilities {
    const tlb = this.maintenance();
    return {
      masters: this.masters(),
      regimes: this.bankList.map((b) => b.regimeInfo(tlb)),
      tlbs: [tlb],
      windows: [],
    };
  }

  /** @internal The shared TLB's maintenance. */
  maintenance(): TlbMaintenance {
    return { tlb: this.tlb, owner: this.name, all: () => this.tlbiAll() };
  }

  /** The other bound bank that conflicts with tags `asid` / `vmid`, with why. */
  conflict(
    self: ContextBank,
    asid: number,
    vmid: number,
    s1: boolean,
    s2: TableRoot | undefined,
  ): string | undefined {
    for (const o of this.bankList) {
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

/** A context bank of an SMMU (`arm_smmu_cb`): a translation regime running one domain. */
export class ContextBank {
  readonly smmu: Smmu;
  readonly name: string;
  /** The context bank number. */
  readonly index: number;
  /** The translation regime (named "<smmu>/<bank>", as faults report it). */
  readonly regime: TranslationRegime;
  private bound_: SmmuDomain | undefined = undefined;
  /** Flush-target registrations of the bound domain's tables. */
  private readonly registrations = new DisposableStore();
  private isActive = false;
  private handler: SmmuFaultHandler | undefined = undefined;
  private readonly tout = new TranslateOut();

  /** Built by {@link Smmu}. */
  constructor(smmu: Smmu, name: string, index: number) {
    this.smmu = smmu;
    this.name = name;
    this.index = index;
    this.regime = new TranslationRegime({
      name: `${smmu.name}/${name}`,
      tlb: smmu.tlb,
      asid: index,
    });
    this.regime.enabled = false;
  }

  get bound(): boolean {
    return this.bound_ !== undefined;
  }

  get active(): boolean {
    return this.isActive;
  }

  get asid(): number {
    return this.regime.asid;
  }

  get vmid(): number {
    return this.regime.vmid;
  }

  /** The domain bound now, if any. */
  get domain(): SmmuDomain | undefined {
    return this.bound_;
  }

  /** True if bound with a stage-1 table. */
  get hasStage1(): boolean {
    return this.bound_?.s1 !== undefined;
  }

  /** The stage-2 root bound, if any. */
  get stage2Root(): TableRoot | undefined {
    return this.bound_?.s2;
  }

  /** The stage-1 page table bound (when bound with a PageTable). */
  get pageTable(): AnyPageTable | undefined {
    return this.bound_?.tables.ttbr0;
  }

  /**
   * Program the bank with a new domain of `table`: a stage-1 table (optionally over
   * `options.stage2`), or a stage-2 table alone. See {@link bindDomain}.
   */
  bind(table: AnyPageTable | TableRoot, options: BindOptions = {}): SmmuDomain {
    const domain = new SmmuDomain(table, options, `context "${this.regime.name}"`);
    this.bindDomain(domain);
    return domain;
  }

  /**
   * Program the bank with `domain` (`arm_smmu_init_context_bank`): its tables, and its tags
   * or the bank's defaults. EBUSY while active, for a domain bound to another bank, or for tags
   * that clash with another bank (see the module comment); ENODEV for a domain whose page table
   * was destroyed; EINVAL for a domain of another SMMU's making is not checked (domains are
   * plain). Replaces an earlier binding (whose TLB entries go). On failure nothing changes.
   */
  bindDomain(domain: SmmuDomain): void {
    const what = `context "${this.regime.name}"`;
    if (this.isActive) fail("EBUSY", `${what} is active: deactivate it before binding`);
    if (domain.bank !== undefined && domain.bank !== this)
      fail("EBUSY", `${what}: the domain is bound to context "${domain.bank.regime.name}"`);
    const asid = domain.asid ?? this.index;
    const vmid = domain.vmid ?? (domain.s2 !== undefined ? this.index + 1 : 0);
    checkTag("asid", what, asid);
    checkTag("vmid", what, vmid);
    const clash = this.smmu.conflict(this, asid, vmid, domain.s1 !== undefined, domain.s2);
    if (clash !== undefined) fail("EBUSY", `${what}: ${clash}`);
    // Before anything changes: a destroyed table cannot be registered with.
    for (const t of [domain.tables.ttbr0, domain.tables.ttbr1, domain.tables.stage2])
      if (t !== undefined && !t.live)
        fail("ENODEV", `${what}: page table "${t.name}" of the domain is not live`);

    this.unbindNow();
    const r = this.regime;
    const onDestroyed = (): void => this.tableDestroyed();
    const { ttbr0, ttbr1, stage2 } = domain.tables;
    if (ttbr0 !== undefined)
      this.registrations.add(
        ttbr0.addFlushTarget({ ...r.stage1Flush, tableDestroyed: onDestroyed }),
      );
    if (ttbr1 !== undefined)
      this.registrations.add(
        ttbr1.addFlushTarget({ ...r.stage1Flush, tableDestroyed: onDestroyed }),
      );
    if (stage2 !== undefined)
      this.registrations.add(
        stage2.addFlushTarget({ ...r.stage2Flush, tableDestroyed: onDestroyed }),
      );
    this.bound_ = domain;
    domain.bank = this;
    r.ttbr0 = domain.s1;
    r.ttbr1 = domain.ttbr1;
    r.split = domain.split;
    r.stage2 = domain.s2;
    r.asid = asid;
    r.vmid = vmid;
    r.enabled = this.isActive;
  }

  /** Remove the binding and the bank's TLB entries. EBUSY while active; no-op if unbound. */
  unbind(): void {
    if (this.isActive)
      fail("EBUSY", `context "${this.regime.name}" is active: deactivate it first`);
    this.unbindNow();
  }

  private unbindNow(): void {
    const d = this.bound_;
    if (d === undefined) return;
    this.registrations.clear();
    this.invalidateAll();
    this.bound_ = undefined;
    d.bank = undefined;
    const r = this.regime;
    r.ttbr0 = r.ttbr1 = r.stage2 = undefined;
    r.split = undefined;
    r.enabled = false;
  }

  /** A table of the bound domain was destroyed: the bank stops and lets go of the domain. */
  private tableDestroyed(): void {
    this.isActive = false;
    this.unbindNow();
  }

  /** Enable translation (SCTLR.M = 1). EBUSY if already active. */
  activate(): void {
    if (this.isActive) fail("EBUSY", `context "${this.regime.name}" is already active`);
    this.isActive = true;
    this.regime.enabled = this.bound;
  }

  /** Disable translation: every access faults. ENOENT if not active. */
  deactivate(): void {
    if (!this.isActive) fail("ENOENT", `context "${this.regime.name}" is not active`);
    this.isActive = false;
    this.regime.enabled = false;
  }

  /**
   * Install the bank's fault handler (`iommu_set_fault_handler`); undefined removes it. It is
   * asked before the master's own handlers.
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
  translate(iova: AddrArg<"virt" | "ipa">, access: Partial<Access> = {}): TranslateResult {
    const a: Access = { kind: access.kind ?? "read", privileged: access.privileged ?? false };
    const t = this.tout;
    if (this.regime.translate(iova, a, t) !== FAULT_NONE)
      return { ok: false, fault: this.regime.lastFault! };
    return { ok: true, pa: t.pa as PhysAddr, size: t.size, perm: t.perm, hit: t.hit };
  }

  /**
   * Drop the bank's entries from the shared TLB (SMMU_CBn_TLBIASID, or TLBIVMID for a
   * stage-2-only bank), global stage-1 entries of its VMID included.
   */
  invalidateAll(): void {
    const tlb = this.smmu.tlb;
    if (this.bound_ !== undefined && this.bound_.s1 === undefined)
      tlb.invalidateVmid(this.regime.vmid);
    else tlb.invalidateRange(0, ALL_INPUTS, this.regime.asid, this.regime.vmid);
  }

  /** The masters attached to this bank. */
  masters(): SmmuMaster[] {
    return this.smmu.masters().filter((m) => m.contextBank === this);
  }

  /** @internal What {@link Smmu.capabilities} says of this bank. */
  regimeInfo(tlb: TlbMaintenance): RegimeInfo {
    const d = this.bound_;
    return {
      regime: this.regime,
      masters: this.masters(),
      live: this.isActive && d !== undefined,
      tlb,
      tables: d?.tables ?? {},
      contextBank: {
        name: this.name,
        index: this.index,
        bound: d !== undefined,
        active: this.isActive,
      },
    };
  }
}

/** A device behind an SMMU: its accesses are translated by its context bank. */
export class SmmuMaster extends BusMaster<"virt" | "ipa"> {
  readonly kind = "smmu-master";
  readonly smmu: Smmu;
  private bank: ContextBank;

  /** Built by {@link Smmu.attachMaster}. */
  constructor(platform: Platform, name: string, smmu: Smmu, bank: ContextBank) {
    super(platform, name);
    this.smmu = smmu;
    this.bank = bank;
    this.register();
  }

  /** The context bank its accesses translate through now. */
  get contextBank(): ContextBank {
    return this.bank;
  }

  /**
   * Re-attach to another context bank of its SMMU (`arm_smmu_attach_dev` with another domain):
   * its next accesses translate through it. ENOENT for a bank the SMMU does not have.
   */
  attach(bank: ContextBank | string): void {
    const b = typeof bank === "string" ? this.smmu.contextBank(bank) : bank;
    if (b.smmu !== this.smmu)
      fail(
        "EINVAL",
        `${this.name}: context "${b.regime.name}" is not a bank of SMMU "${this.smmu.name}"`,
      );
    this.bank = b;
  }

  get defaultPrivileged(): boolean {
    return false;
  }

  protected translateChunk(va: number, access: Access, out: ChunkOut): Fault | undefined {
    return this.translateWith(this.bank.regime, va, access, out);
  }

  /** The bank's handler first, then the master's own. */
  protected override faultHandlers(): readonly FaultHandler[] {
    const own = super.faultHandlers();
    const h = this.bank.faultHandler;
    if (h === undefined) return own;
    const bank = this.bank;
    return [(fault: Fault) => h(fault, this, bank), ...own];
  }

  capabilities(): DeviceCapabilities {
    const info = this.bank.regimeInfo(this.smmu.maintenance());
    return {
      masters: [this],
      regimes: [{ ...info, masters: [this] }],
      tlbs: [],
      windows: [],
    };
  }
}
