/**
 * The MSM SMMU driver the VCM sits on (the seed's "IOMMU Hardware Control"; Code Aurora 2010
 * arch/arm/mach-msm/include/mach/smmu_driver.h), over the machine's {@link Smmu}:
 *
 * - {@link SmmuDriver} (`struct smmu_driver`): one SMMU hardware instance, its base address,
 *   IRQ and `list_active`, the context instances active on it.
 * - {@link SmmuDev} (`struct smmu_dev`): a context instance, "device independent virtual
 *   contexts … bound to actual contexts at run-time": a context index, its own first-level
 *   page table (a 16 KiB ARMv7 short-descriptor table, `fl_table`), its fault handler. Several
 *   instances may name the same hardware context; activating one programs the context bank
 *   with its table (a context switch) and displaces the one active there before.
 *
 * @example
 * const drv = SmmuDriver.init(smmu, 0x0400_0000, 5);
 * const dev = SmmuDev.init(platform, tables, 0, "vcodec");
 * dev.bind(drv);
 * dev.activate();
 * dev.updateStart();
 * dev.map(0x8010_0000, 0x1000_0000, 64 * 1024, VCM_DEV_ATTR_SH | VCM_DEV_ATTR_CACHED_WB_WA);
 * dev.updateDone(); // CTX_TLBIALL
 * dev.translate(0x1000_0010); // 0x80100010
 *
 * Decisions where the sources are silent:
 * - The driver owns the banks of its SMMU: smmu_drvdata_init resets them (deactivated,
 *   unbound, fault handler removed, the shared TLB invalidated), and afterwards only
 *   activate / deactivate program them. A second driver for the same SMMU is refused (EBUSY).
 * - A bank runs a context instance by being bound to its table (ASID = the context index, as
 *   ContextBank defaults) and activated; deactivation unbinds it again, so an inactive context
 *   faults every access. While active the bank is a flush target of the table, so the TLB is
 *   coherent after every smmu_map / smmu_unmap; smmu_update_done's CTX_TLBIALL drops every
 *   entry of the context in addition, as the real driver relies on.
 * - smmu_map: one call makes one leaf (pa and va aligned to len, so the iommu_map page-size
 *   choice picks len itself). `rights` (PROT.READ / WRITE / NOEXEC / PRIV, from a reservation's
 *   attributes) are applied, where the real driver always maps read-write, user, executable.
 *   The attribute is kept with the mapping: the model's descriptor cannot tell WB_WA from WT
 *   nor hold NON_SH (dev-attr.ts).
 * - smmu_translate is the hardware V2P operation, a privileged read (V2PPR) through the
 *   shared TLB. On a fault the hook is called; 1 retries (at most
 *   {@link SMMU_TRANSLATE_MAX_RETRIES} times, then EFAULT without asking it again), any other
 *   value terminates: EFAULT (the C -1), an {@link AccessFaultError} carrying the fault.
 * - Faults of masters' accesses through the bank go to the same hook (it is the bank's fault
 *   handler while the instance is active): 1 is "retry", anything else "terminate".
 * - smmu_ctx_deinit is allowed inside an update bracket; once deinitialized every method is
 *   ENODEV (the C `struct smmu_dev` is freed); `name` and `context` stay readable.
 */
import { hex, hexRange } from "../../base/address.js";
import { fail, MemweaveError } from "../../base/errors.js";
import { describeValue } from "../../base/validate.js";
import { formatSize } from "../../base/size.js";
import { AccessFaultError } from "../../devices/bus-master.js";
import type { FaultResolution } from "../../devices/bus-master.js";
import type { Platform } from "../../devices/platform.js";
import type { ContextBank, Smmu } from "../../devices/smmu.js";
import { PageTable } from "../../mmu/page-table.js";
import type { LeafVisit } from "../../mmu/page-table.js";
import { PROT } from "../../mmu/prot.js";
import type { Fault } from "../../mmu/regime.js";
import type { TableMemory } from "../../mmu/table-memory.js";
import { createV7sFormat } from "../../mmu/v7s.js";
import {
  checkDevAttr,
  devAttrProt,
  VCM_DEV_ATTR_CACHE_MASK,
  VCM_DEV_ATTR_CACHED_WB_WA,
  VCM_DEV_ATTR_SH,
  VCM_DEV_DEFAULT_ATTR,
} from "./dev-attr.js";

const K = 1024;
const M = 1024 * K;
/** The sizes smmu_map takes. */
export const SMMU_MAP_SIZES: readonly number[] = [4 * K, 64 * K, 1 * M, 16 * M];
/** The PROT bits smmu_map's `rights` may have. */
export const SMMU_RIGHTS_MASK = PROT.READ | PROT.WRITE | PROT.NOEXEC | PROT.PRIV;
/** What a fault hook returns to retry the transaction, and to terminate it. */
export const SMMU_RETRY = 1;
export const SMMU_TERMINATE = 0;
/** Retries of one smmu_translate before it gives up. */
export const SMMU_TRANSLATE_MAX_RETRIES = 4;
/** Context numbers smmu_ctx_init takes (an Smmu has at most 65536 banks). */
const MAX_CONTEXTS = 0x10000;
const LIMIT_32 = 2 ** 32;

const V7S = createV7sFormat();

/** The fault hook (`vcm_handler`): `data` is what smmu_hook_irpt was given. 1 retries. */
export type SmmuFaultHook = (dev: SmmuDev, data: unknown, fault: Fault) => number;

/** What smmu_map made (one leaf of the instance's table). */
export interface SmmuMapping {
  va: number;
  len: number;
  pa: number;
  /** The VCM_DEV_ATTR_* value it was mapped with. */
  attr: number;
  /** The PROT rights of the leaf (READ / WRITE / NOEXEC / PRIV). */
  rights: number;
}

export interface SmmuDriverOptions {
  /** The hardware version `vcm_hw_ver` reports (default 1). */
  version?: number;
}

/** The driver of each Smmu. */
const driverOf = new WeakMap<Smmu, SmmuDriver>();

/** An SMMU hardware instance (`struct smmu_driver`). */
export class SmmuDriver {
  readonly smmu: Smmu;
  /** The configuration registers' base address (what smmu_get_base_addr returns). */
  readonly base: number;
  readonly irq: number;
  readonly version: number;
  /** @internal `list_active`, in activation order (kept by SmmuDev). */
  readonly active: SmmuDev[] = [];

  private constructor(smmu: Smmu, base: number, irq: number, version: number) {
    this.smmu = smmu;
    this.base = base;
    this.irq = irq;
    this.version = version;
  }

  /**
   * The checks of {@link init}, without its effects: EINVAL for a base that is not a
   * non-negative safe integer, an irq < 0 (or not an integer), a version that is not a
   * non-negative integer; EBUSY if the SMMU has a driver already.
   */
  static check(smmu: Smmu, base: number, irq: number, options: SmmuDriverOptions = {}): void {
    const what = `smmu_drvdata_init of SMMU "${smmu.name}"`;
    if (!Number.isSafeInteger(base) || base < 0)
      fail("EINVAL", `${what}: base ${describeValue(base)} is not an address`, "base");
    if (!Number.isSafeInteger(irq) || irq < 0)
      fail("EINVAL", `${what}: irq ${describeValue(irq)} is not a valid interrupt`, "irq");
    const version = options.version ?? 1;
    if (!Number.isSafeInteger(version) || version < 0)
      fail("EINVAL", `${what}: version ${describeValue(version)} is not a version`, "version");
    const other = driverOf.get(smmu);
    if (other !== undefined)
      fail(
        "EBUSY",
        `${what}: it has a driver already (base ${hex(other.base)}, irq ${other.irq})`,
        "smmu",
      );
  }

  /**
   * `smmu_drvdata_init`: the driver of `smmu`; resets every context bank (deactivated, unbound,
   * fault handler removed) and invalidates the shared TLB. The errors of {@link check}; on
   * failure nothing changes.
   */
  static init(smmu: Smmu, base: number, irq: number, options: SmmuDriverOptions = {}): SmmuDriver {
    SmmuDriver.check(smmu, base, irq, options);
    for (const bank of smmu.contextBanks()) {
      if (bank.active) bank.deactivate();
      bank.unbind();
      bank.setFaultHandler(undefined);
    }
    smmu.tlbiAll();
    const drv = new SmmuDriver(smmu, base, irq, options.version ?? 1);
    driverOf.set(smmu, drv);
    return drv;
  }

  /** The driver of `smmu`, if one was initialized. */
  static of(smmu: Smmu): SmmuDriver | undefined {
    return driverOf.get(smmu);
  }

  get name(): string {
    return this.smmu.name;
  }

  /** The number of hardware contexts (context banks). */
  get contextCount(): number {
    return this.smmu.contextBanks().length;
  }

  /** The bank of hardware context `context` (EINVAL if the SMMU has none of that number). */
  bank(context: number): ContextBank {
    return (
      this.smmu.contextBanks()[context] ??
      fail(
        "EINVAL",
        `SMMU "${this.name}" has no context ${describeValue(context)} (it has ${this.contextCount}: 0..${this.contextCount - 1})`,
        "context",
      )
    );
  }

  /** `list_active`: the context instances active now, in activation order. */
  activeContexts(): SmmuDev[] {
    return [...this.active];
  }
}

/** A context instance (`struct smmu_dev`). */
export class SmmuDev {
  readonly name: string;
  /** The hardware context index. */
  readonly context: number;
  readonly platform: Platform;
  private readonly fl: PageTable;
  private drv: SmmuDriver | undefined = undefined;
  private live_ = true;
  private updating = false;
  private hook: SmmuFaultHook | undefined = undefined;
  private hookData: unknown = undefined;
  /** The attribute each smmu_map asked for, by va (checked against the leaves). */
  private readonly attrs = new Map<number, { len: number; pa: number; attr: number }>();

  private constructor(platform: Platform, table: PageTable, context: number, name: string) {
    this.platform = platform;
    this.fl = table;
    this.context = context;
    this.name = name;
  }

  /**
   * `smmu_ctx_init`: a context instance of hardware context `context`, unbound, with an empty
   * first-level table allocated from `tables` and named after the instance (default name
   * `ctx<n>`). EINVAL for a context number that is not 0..65535 or an empty name; ENOMEM (and
   * nothing allocated) if the table cannot be.
   */
  static init(
    platform: Platform,
    tables: TableMemory,
    context: number,
    name: string = `ctx${String(context)}`,
  ): SmmuDev {
    if (!Number.isSafeInteger(context) || context < 0 || context >= MAX_CONTEXTS)
      fail("EINVAL", `smmu_ctx_init: context ${describeValue(context)} is not 0..65535`, "context");
    if (typeof name !== "string" || name === "")
      fail("EINVAL", `smmu_ctx_init of context ${context}: a context needs a name`, "name");
    const table = new PageTable(V7S, tables, { name, bus: platform.bus });
    return new SmmuDev(platform, table, context, name);
  }

  private get what(): string {
    return `smmu_dev "${this.name}"`;
  }

  private checkLive(op: string): void {
    if (!this.live_) fail("ENODEV", `${op}: ${this.what} was deinitialized (smmu_ctx_deinit)`);
  }

  /** False once deinitialized. */
  get live(): boolean {
    return this.live_;
  }

  /** `smmu_get_driver`: the driver it is bound to, if any. ENODEV once deinitialized. */
  get driver(): SmmuDriver | undefined {
    this.checkLive("smmu_get_driver");
    return this.drv;
  }

  /** Its first-level table (`fl_table`). ENODEV once deinitialized. */
  get table(): PageTable {
    this.checkLive("table");
    return this.fl;
  }

  /** The hardware context bank it names, once bound. ENODEV once deinitialized. */
  get bank(): ContextBank | undefined {
    this.checkLive("bank");
    return this.drv?.bank(this.context);
  }

  /** True between smmu_update_start and smmu_update_done. */
  get inUpdate(): boolean {
    return this.updating;
  }

  /**
   * `smmu_ctx_bind`: bind to `drv`. EINVAL if `drv`'s SMMU has no context of this number;
   * EBUSY if bound to another driver; binding again to the same driver does nothing.
   */
  bind(drv: SmmuDriver): void {
    this.checkLive("smmu_ctx_bind");
    if (this.drv === drv) return;
    if (this.drv !== undefined)
      fail(
        "EBUSY",
        `smmu_ctx_bind: ${this.what} is bound to SMMU "${this.drv.name}", not "${drv.name}"`,
      );
    if (this.context >= drv.contextCount)
      fail(
        "EINVAL",
        `smmu_ctx_bind: ${this.what}: SMMU "${drv.name}" has no context ${this.context} (it has ${drv.contextCount}: 0..${drv.contextCount - 1})`,
        "context",
      );
    this.drv = drv;
  }

  /**
   * `smmu_ctx_deinit`: free the instance and its table. EBUSY while active or while its table
   * maps anything (naming the first mapping); ENODEV if deinitialized already.
   */
  deinit(): void {
    this.checkLive("smmu_ctx_deinit");
    if (this.isActive())
      fail("EBUSY", `smmu_ctx_deinit: ${this.what} is active on SMMU "${this.drv!.name}"`);
    const leaves = this.leavesIn(0, LIMIT_32);
    if (leaves.length > 0)
      fail(
        "EBUSY",
        `smmu_ctx_deinit: ${this.what} still maps ${leaves.length} mapping(s), the first ${describeLeaf(leaves[0]!)}`,
      );
    this.fl.destroy();
    this.live_ = false;
    this.drv = undefined;
    this.updating = false;
    this.hook = undefined;
    this.hookData = undefined;
    this.attrs.clear();
  }

  /** `smmu_is_active`. ENODEV once deinitialized. */
  isActive(): boolean {
    this.checkLive("smmu_is_active");
    return this.drv !== undefined && this.drv.active.includes(this);
  }

  /**
   * `smmu_activate`: a context switch. ENODEV without a driver; does nothing if active. The
   * instance active on the same hardware context, if any, is displaced (deactivated); then the
   * bank is bound to this table (TTBR0), its TLB entries invalidated (CTX_TLBIALL), this
   * instance's hook installed as its fault handler, and translation enabled. EBUSY (and no
   * change) if the bank's ASID clashes with a bank programmed outside the driver.
   */
  activate(): void {
    this.checkLive("smmu_activate");
    const drv =
      this.drv ?? fail("ENODEV", `smmu_activate: ${this.what} is not bound to an SMMU driver`);
    if (this.isActive()) return;
    const bank = drv.bank(this.context);
    const clash = drv.smmu.conflict(bank, bank.index, 0, true, undefined);
    if (clash !== undefined) fail("EBUSY", `smmu_activate: ${this.what}: ${clash}`);
    for (const other of drv.active.filter((d) => d.context === this.context)) other.stop();
    if (bank.active) bank.deactivate();
    bank.bind(this.fl);
    bank.invalidateAll();
    bank.setFaultHandler(this.onBankFault);
    bank.activate();
    drv.active.push(this);
  }

  /**
   * `smmu_deactivate`: invalidate the context's TLB entries (CTX_TLBIALL) and reset the
   * context (disabled, unbound, no fault handler). ENOENT if not active.
   */
  deactivate(): void {
    this.checkLive("smmu_deactivate");
    if (!this.isActive()) fail("ENOENT", `smmu_deactivate: ${this.what} is not active`);
    this.stop();
  }

  /** Reset the bank this active instance runs on, and leave `list_active`. */
  private stop(): void {
    const drv = this.drv!;
    const bank = drv.bank(this.context);
    if (bank.pageTable === this.fl) {
      bank.invalidateAll();
      if (bank.active) bank.deactivate();
      bank.unbind();
      bank.setFaultHandler(undefined);
    }
    drv.active.splice(drv.active.indexOf(this), 1);
  }

  /** `smmu_update_start`: open a bracket of smmu_map / smmu_unmap calls. EINVAL if open. */
  updateStart(): void {
    this.checkLive("smmu_update_start");
    if (this.updating)
      fail("EINVAL", `smmu_update_start: ${this.what}: an update is in progress already`);
    this.updating = true;
  }

  /**
   * `smmu_update_done`: close the bracket; if active, invalidate the context's TLB entries
   * (CTX_TLBIALL). EINVAL without smmu_update_start.
   */
  updateDone(): void {
    this.checkLive("smmu_update_done");
    if (!this.updating)
      fail("EINVAL", `smmu_update_done: ${this.what}: no update in progress (smmu_update_start)`);
    this.updating = false;
    if (this.isActive()) this.drv!.bank(this.context).invalidateAll();
  }

  /**
   * `smmu_map`: map `[va, va+len)` to `[pa, pa+len)` with `attr` (VCM_DEV_ATTR_*) and `rights`.
   * EINVAL outside an update bracket, for a len other than 4K / 64K / 1M / 16M, a pa or va not
   * aligned to len, a bad attr, rights with other bits or granting neither read nor write;
   * ERANGE beyond 32 bits; EEXIST naming the mapping met when any part of the range is mapped
   * otherwise; ENOMEM if a level-2 table cannot be allocated. The same pa, va and len again
   * replace the attributes and rights. On failure nothing changes.
   */
  map(
    pa: number,
    va: number,
    len: number,
    attr: number = VCM_DEV_DEFAULT_ATTR,
    rights: number = PROT.READ | PROT.WRITE,
  ): void {
    const op = "smmu_map";
    this.checkLive(op);
    this.checkUpdating(op);
    this.checkRange(op, va, len, "va");
    this.checkRange(op, pa, len, "pa");
    checkDevAttr(attr, `${op}: ${this.what}: attribute`);
    if (!Number.isInteger(rights) || rights < 0 || (rights & ~SMMU_RIGHTS_MASK) !== 0)
      fail(
        "EINVAL",
        `${op}: ${this.what}: rights ${hex(rights)} are not READ / WRITE / NOEXEC / PRIV`,
        "rights",
      );
    if ((rights & (PROT.READ | PROT.WRITE)) === 0)
      fail("EINVAL", `${op}: ${this.what}: rights ${hex(rights)} grant neither read nor write`);
    const prot = rights | devAttrProt(attr);
    // The table refuses a range that meets a mapping (EEXIST, changing nothing); then the same
    // mapping again replaces its attributes, and anything else is EEXIST naming what is there.
    try {
      this.fl.map(va, pa, len, prot);
    } catch (e) {
      if (!(e instanceof MemweaveError) || e.code !== "EEXIST") throw e;
      const t = this.fl.translate(va);
      if (t !== undefined && t.va === va && t.size === len && t.base === pa)
        this.fl.protect(va, len, prot);
      else this.exists(op, va, len);
    }
    this.attrs.set(va, { len, pa, attr });
  }

  /**
   * `smmu_unmap`: remove the mapping smmu_map made at `va` of `len`. EINVAL outside an update
   * bracket, for a bad len or alignment, or when the mapping met there is not exactly
   * `[va, va+len)` (naming it); ENOENT if nothing is mapped in the range.
   */
  unmap(va: number, len: number): void {
    const op = "smmu_unmap";
    this.checkLive(op);
    this.checkUpdating(op);
    this.checkRange(op, va, len, "va");
    const t = this.fl.translate(va);
    if (t === undefined || t.va !== va || t.size !== len) {
      // The error path: what is there, for the message.
      const there = this.leavesIn(va, len);
      const first =
        there[0] ??
        fail("ENOENT", `${op}: ${this.what}: nothing is mapped at ${hexRange(va, len)}`);
      fail(
        "EINVAL",
        `${op}: ${this.what}: the mapping at ${hexRange(va, len)} is ${describeLeaf(first)}, not one of ${formatSize(len)} at ${hex(va)}`,
      );
    }
    this.fl.unmap(va, len);
    this.attrs.delete(va);
  }

  /**
   * `smmu_translate`: the hardware V2P translation of `va` (a privileged read through the
   * TLB). EINVAL for a bad address or when not active; EFAULT (an {@link AccessFaultError}
   * carrying the fault) when it faults and the hook does not retry (see the module comment).
   */
  translate(va: number): number {
    const op = "smmu_translate";
    this.checkLive(op);
    if (!Number.isSafeInteger(va) || va < 0 || va >= LIMIT_32)
      fail("EINVAL", `${op}: ${this.what}: va ${describeValue(va)} is not a 32-bit address`, "va");
    if (!this.isActive()) fail("EINVAL", `${op}: ${this.what} is not active`);
    const bank = this.drv!.bank(this.context);
    for (let retries = 0; ; retries++) {
      const r = bank.translate(va, { kind: "read", privileged: true });
      if (r.ok) return r.pa;
      if (retries === SMMU_TRANSLATE_MAX_RETRIES)
        throw new AccessFaultError(this.what, op, r.fault, ` (after ${retries} retries)`);
      const hook = this.hook;
      if (hook === undefined)
        throw new AccessFaultError(this.what, op, r.fault, " (no fault handler)");
      if (hook(this, this.hookData, r.fault) !== SMMU_RETRY)
        throw new AccessFaultError(this.what, op, r.fault, " (terminated by the fault handler)");
    }
  }

  /**
   * `smmu_hook_irpt`: the context's fault handler (replacing any earlier one; undefined
   * removes it), called with `data` for faults of smmu_translate and of masters' accesses.
   */
  hookIrpt(handler: SmmuFaultHook | undefined, data?: unknown): void {
    this.checkLive("smmu_hook_irpt");
    if (handler !== undefined && typeof handler !== "function")
      fail("EINVAL", `smmu_hook_irpt: ${this.what}: the handler is not a function`, "handler");
    this.hook = handler;
    this.hookData = handler === undefined ? undefined : data;
  }

  /** What smmu_map made, in address order (from the table's leaves). ENODEV once deinit. */
  mappings(): SmmuMapping[] {
    this.checkLive("mappings");
    return this.leavesIn(0, LIMIT_32).map((l) => {
      const prot = this.fl.format.protOf(l.levelIndex, l.lo, l.hi);
      return {
        va: l.va,
        len: l.size,
        pa: l.pa,
        attr: this.attrOf(l, prot),
        rights: prot & SMMU_RIGHTS_MASK,
      };
    });
  }

  /**
   * The attribute of a leaf: the one smmu_map asked for, unless the leaf was changed behind
   * the driver's back (then its memory type decides, shareable as the v7s leaf says).
   */
  private attrOf(l: LeafVisit, prot: number): number {
    const rec = this.attrs.get(l.va);
    const cached = (prot & PROT.CACHE) !== 0;
    if (rec !== undefined && rec.len === l.size && rec.pa === l.pa) {
      const recCached = (rec.attr & VCM_DEV_ATTR_CACHE_MASK) !== 0;
      if (recCached === cached) return rec.attr;
    }
    return VCM_DEV_ATTR_SH | (cached ? VCM_DEV_ATTR_CACHED_WB_WA : 0);
  }

  /** The bank's fault handler while active: this instance's hook. */
  private readonly onBankFault = (fault: Fault): FaultResolution => {
    const hook = this.hook;
    if (hook === undefined) return "terminate";
    return hook(this, this.hookData, fault) === SMMU_RETRY ? "retry" : "terminate";
  };

  private checkUpdating(op: string): void {
    if (!this.updating)
      fail(
        "EINVAL",
        `${op}: ${this.what}: not inside smmu_update_start / smmu_update_done`,
        "update",
      );
  }

  /** EINVAL for a bad len or an address not aligned to it; ERANGE beyond 32 bits. */
  private checkRange(op: string, addr: number, len: number, field: "va" | "pa"): void {
    if (!SMMU_MAP_SIZES.includes(len))
      fail(
        "EINVAL",
        `${op}: ${this.what}: len ${typeof len === "number" ? hex(len) : String(len)} is not 4K, 64K, 1M or 16M`,
        "len",
      );
    if (!Number.isSafeInteger(addr) || addr < 0)
      fail(
        "EINVAL",
        `${op}: ${this.what}: ${field} ${describeValue(addr)} is not an address`,
        field,
      );
    if (addr % len !== 0)
      fail(
        "EINVAL",
        `${op}: ${this.what}: ${field} ${hex(addr)} is not aligned to len ${formatSize(len)}`,
        field,
      );
    if (addr + len > LIMIT_32)
      fail(
        "ERANGE",
        `${op}: ${this.what}: ${field} ${hexRange(addr, len)} is beyond 32 bits`,
        field,
      );
  }

  /** EEXIST naming the first mapping `[va, va+len)` meets. */
  private exists(op: string, va: number, len: number): never {
    const first = this.leavesIn(va, len)[0]!;
    fail(
      "EEXIST",
      `${op}: ${this.what}: ${hexRange(va, len)} meets the mapping ${describeLeaf(first)}`,
    );
  }

  /** The leaves meeting `[va, va+len)` (a 16-copy leaf once, though the range starts inside it). */
  private leavesIn(va: number, len: number): LeafVisit[] {
    const out: LeafVisit[] = [];
    this.fl.walk({ leaf: (l) => void out.push({ ...l }) }, va, va + len);
    return out;
  }
}

function describeLeaf(l: { va: number; size: number; pa: number }): string {
  return `${hexRange(l.va, l.size)} -> ${hex(l.pa)} (${formatSize(l.size)})`;
}
