/**
 * A Virtual Contiguous Memory region (the seed's `struct vcm`): the address space a device
 * sees, reserved from in contiguous ranges (`vcm_reserve`, `vcm_reserve_at`,
 * `vcm_unreserve`), associated with devices (`vcm_assoc`), bounded (`vcm_create_bound`).
 *
 * Kinds (`enum vcm_type`):
 * - `device` (VCM_DEVICE): an IOMMU address space; reservations come from a genalloc-like
 *   first-fit allocator over the range; its mappings are written into every associated SMMU
 *   context instance's table.
 * - `ext-kernel` / `ext-user` (VCM_EXT_KERNEL / VCM_EXT_USER, from `vcm_create_from_prebuilt`):
 *   the CPU's own kernel (TTBR1) or user (TTBR0) address space; reservations come from a range
 *   of it (the kernel's vmalloc area, a user range) and are mapped into its table.
 * - `one-to-one` (VCM_ONE_TO_ONE): made when `vcm_create` is given exactly a physical region
 *   (a memory region of the machine, or a memtype's contiguous pool); device address = physical
 *   address, nothing is mapped.
 *
 * Decisions:
 * - Reservation placement: aligned to the attribute's VCM_ALIGN_ATTR order, or by default to
 *   the largest page size the VCM maps with that is no larger than the length (the later
 *   VCMM's rule; v3 used 1M / 64K / 4K). v3 reserved `len + alignment` and stepped past the
 *   start even when it was aligned; memweave takes an aligned fit of exactly the rounded
 *   length. A range that does not start on a page boundary (the seed's `vcm_create(SZ_1K,
 *   SZ_16M)`) reserves from its first page boundary on.
 * - `vcm_reserve_at(VCM_START, ...)` reserves at the VCM's first page: EBUSY if any of it is
 *   reserved already; EINVAL on a one-to-one VCM (its addresses are its memory's).
 * - ENOMEM when no free range fits (the C returned 0).
 * - `vcm_get_res(dev_addr)`: the reservation whose range holds the address (not only its
 *   first address); undefined when none does.
 * - `vcm_get_pgtbl_pa`: a prebuilt VCM's table; a device VCM's first associated context
 *   instance's table (ENODEV with no association); EINVAL for a one-to-one VCM (no table).
 * - `vcm_free`: EBUSY with reservations, associations or bounds.
 */
import { hex, hexRange } from "../base/address.js";
import { alignDown, alignUp } from "../base/align.js";
import { fail } from "../base/errors.js";
import { formatSize } from "../base/size.js";
import { checkAddress, checkInstance, describeValue } from "../base/validate.js";
import { Cpu } from "../devices/cpu.js";
import { OneToOneDevice } from "../devices/one-to-one.js";
import type { AnyPageTable } from "../mmu/page-table.js";
import { ContiguousPool } from "../phys/contiguous-pool.js";
import type { VcmDevice } from "./association.js";
import { Association, checkVcmDevice, deviceKind } from "./association.js";
import {
  checkAssocAttr,
  checkResAttr,
  resAlignment,
  VCM_MIN_PAGE_SIZE,
  VCM_SPLIT,
  VCM_START,
  VCM_USE_HIGH_BASE,
  VCM_USE_LOW_BASE,
} from "./attrs.js";
import { Bound } from "./bound.js";
import type { VcmManager } from "./manager.js";
import { Reservation } from "./reservation.js";
import { SmmuDev } from "./smmu/driver.js";

export type VcmType = "device" | "ext-kernel" | "ext-user" | "one-to-one";

export class Vcm {
  /** @internal The first-fit allocator of device addresses (none for one-to-one). */
  readonly pool: ContiguousPool | undefined;
  private readonly reservations_: Reservation[] = [];
  /** @internal `vcm->assoc_head`, in association order. */
  readonly associations_: Association[] = [];
  private readonly bounds_: Bound[] = [];
  private gone = false;

  /** Made by the manager ({@link VcmManager.create} and its relatives). */
  constructor(
    readonly manager: VcmManager,
    readonly name: string,
    readonly type: VcmType,
    /** `vcm->start_addr`. */
    readonly startAddr: number,
    /** `vcm->len`. */
    readonly len: number,
    /** The page sizes its mappings use, ascending (its reservations' default alignment). */
    readonly pageSizes: readonly number[],
    /** A prebuilt VCM's table (the CPU's, or a clone's own). */
    readonly table: AnyPageTable | undefined,
  ) {
    if (type !== "one-to-one") {
      const lo = alignUp(startAddr, VCM_MIN_PAGE_SIZE);
      const hi = alignDown(startAddr + len, VCM_MIN_PAGE_SIZE);
      if (hi <= lo)
        fail(
          "EINVAL",
          `vcm_create: ${hexRange(startAddr, len)} holds no whole ${formatSize(VCM_MIN_PAGE_SIZE)} page`,
        );
      this.pool = new ContiguousPool(lo, hi - lo, name);
    }
  }

  get valid(): boolean {
    return !this.gone;
  }

  /** @internal EINVAL once freed. */
  check(what: string): void {
    if (this.gone) fail("EINVAL", `${what}: VCM ${this.name} was freed`);
  }

  /** `vcm_get_start_addr`. */
  getStartAddr(): number {
    this.check("vcm_get_start_addr");
    return this.startAddr;
  }

  /** `vcm_get_len`. */
  getLen(): number {
    this.check("vcm_get_len");
    return this.len;
  }

  /** Its reservations, in the order they were made (bounds' included). */
  reservations(): readonly Reservation[] {
    return this.reservations_;
  }

  /** Its associations, in the order they were made. */
  associations(): readonly Association[] {
    return this.associations_;
  }

  bounds(): readonly Bound[] {
    return this.bounds_;
  }

  /** `vcm_get_num_res`. */
  getNumRes(): number {
    this.check("vcm_get_num_res");
    return this.reservations_.length;
  }

  /**
   * `vcm_get_next_res`: the reservation after `res` (the first for undefined), or undefined
   * after the last. EINVAL for a reservation of another VCM.
   */
  getNextRes(res?: Reservation): Reservation | undefined {
    this.check("vcm_get_next_res");
    if (res === undefined) return this.reservations_[0];
    checkInstance("vcm_get_next_res", "res", res, Reservation);
    const i = this.reservations_.indexOf(res);
    if (i < 0) fail("EINVAL", `vcm_get_next_res: ${res.name} is not a reservation of ${this.name}`);
    return this.reservations_[i + 1];
  }

  /** `vcm_get_res`: the reservation holding device address `devAddr`, or undefined. */
  getRes(devAddr: number): Reservation | undefined {
    this.check("vcm_get_res");
    checkAddress("vcm_get_res", "devAddr", devAddr);
    return this.reservations_.find((r) => r.holds(devAddr));
  }

  /** `vcm_reserve`: a reservation of `len` bytes with attributes `attr`. */
  reserve(len: number, attr: number, name?: string): Reservation {
    this.check("vcm_reserve");
    return this.reserveIn(undefined, len, attr, name, "vcm_reserve");
  }

  /** `vcm_reserve_at`: a reservation at a logical location (only VCM_START exists). */
  reserveAt(memtarget: number, len: number, attr: number, name?: string): Reservation {
    this.check("vcm_reserve_at");
    if (memtarget !== VCM_START)
      fail("EINVAL", `vcm_reserve_at: memtarget ${describeValue(memtarget)} is not VCM_START (0)`);
    if (this.type === "one-to-one")
      fail(
        "EINVAL",
        `vcm_reserve_at: ${this.name} is one-to-one: a reservation's address is its memory's`,
      );
    return this.reserveIn(undefined, len, attr, name, "vcm_reserve_at", this.pool!.base);
  }

  /** @internal Reserve from the VCM or one of its bounds, anywhere or at `at`. */
  reserveIn(
    bound: Bound | undefined,
    len: number,
    attr: number,
    name: string | undefined,
    what: string,
    at?: number,
  ): Reservation {
    checkLength(`${what}: ${this.name}`, len);
    checkResAttr(attr, `${what}: ${this.name}`);
    this.manager.checkName(name, what);
    let devAddr: number | undefined;
    if (this.type !== "one-to-one") {
      const pool = bound?.pool ?? this.pool!;
      const size = alignUp(len, VCM_MIN_PAGE_SIZE);
      if (at !== undefined) {
        if (size > pool.size)
          fail(
            "ENOMEM",
            `${what}: ${formatSize(len)} is more than ${this.name}'s ${formatSize(pool.size)}`,
          );
        devAddr = pool.allocAt(at, size);
      } else devAddr = pool.alloc(size, this.alignmentFor(attr, size));
    } else if (bound !== undefined) fail("EINVAL", `${what}: a one-to-one VCM has no bounds`);
    const resName = this.manager.takeName(name, `${this.name}.res`, what);
    const res = new Reservation(this, resName, len, attr, devAddr, bound);
    this.reservations_.push(res);
    this.manager.reserved(res);
    return res;
  }

  /**
   * @internal A copy of `r` (another VCM's) at the same device address, in `bound` if given,
   * backed by the same physmem; the caller registers it.
   */
  copyReservation(r: Reservation, bound: Bound | undefined, name: string): Reservation {
    if (r.devAddr_ !== undefined && this.type !== "one-to-one")
      (bound?.pool ?? this.pool!).allocAt(r.devAddr_, r.size);
    const c = new Reservation(this, name, r.len, r.attr_, r.devAddr_, bound);
    c.physmem_ = r.physmem_;
    this.reservations_.push(c);
    return c;
  }

  /** @internal A bound at `[start, start+len)` (a clone's). */
  boundAt(name: string, start: number, len: number): Bound {
    this.pool!.allocAt(start, len);
    const b = new Bound(this, name, start, len);
    this.bounds_.push(b);
    return b;
  }

  /** The alignment of a reservation of `size` bytes with `attr`. */
  private alignmentFor(attr: number, size: number): number {
    const asked = resAlignment(attr);
    if (asked !== undefined) return asked;
    let best = VCM_MIN_PAGE_SIZE;
    for (const s of this.pageSizes) if (s <= size && s > best) best = s;
    return best;
  }

  /** @internal `vcm_unreserve` of one of its reservations (the checks are the caller's). */
  dropReservation(res: Reservation): void {
    if (res.devAddr_ !== undefined && this.type !== "one-to-one")
      (res.bound?.pool ?? this.pool!).free(res.devAddr_);
    this.reservations_.splice(this.reservations_.indexOf(res), 1);
  }

  /** `vcm_create_bound`: a bound of `len` bytes whose addresses the allocator picks. */
  createBound(len: number, name?: string): Bound {
    this.check("vcm_create_bound");
    checkLength(`vcm_create_bound: ${this.name}`, len);
    if (this.type === "one-to-one")
      fail(
        "EINVAL",
        `vcm_create_bound: ${this.name} is one-to-one: it has no address space to bound`,
      );
    this.manager.checkName(name, "vcm_create_bound");
    const size = alignUp(len, VCM_MIN_PAGE_SIZE);
    const start = this.pool!.alloc(size, this.alignmentFor(0, size));
    const boundName = this.manager.takeName(name, `${this.name}.bound`, "vcm_create_bound");
    const b = new Bound(this, boundName, start, size);
    this.bounds_.push(b);
    return b;
  }

  /** @internal `vcm_free_bound` (checked by the bound). */
  dropBound(b: Bound): void {
    this.pool!.free(b.start);
    this.bounds_.splice(this.bounds_.indexOf(b), 1);
    this.manager.forgetName(b.name);
  }

  /**
   * `vcm_assoc`: associate with a device (an SMMU context instance for a device VCM, a CPU for a
   * prebuilt one, a one-to-one device for a one-to-one VCM). EINVAL for another kind of device,
   * a bad attribute, or a one-to-one device whose window does not cover the VCM; EBUSY if that
   * device is associated already, or a second device for the kernel VCM (v3).
   */
  assoc(device: VcmDevice, attr: number, name?: string): Association {
    this.check("vcm_assoc");
    checkVcmDevice("vcm_assoc", device);
    checkAssocAttr(attr, `vcm_assoc: ${this.name}`);
    this.checkAssocFor(device, attr, "vcm_assoc");
    const dup = this.associations_.find((a) => a.device === device);
    if (dup)
      fail(
        "EBUSY",
        `vcm_assoc: ${this.name} is associated with ${device.name} already (${dup.name})`,
      );
    if (this.type === "ext-kernel" && this.associations_.length > 0)
      fail(
        "EBUSY",
        `vcm_assoc: only one device may be associated with a VCM_EXT_KERNEL (${this.name} has ${this.associations_[0]!.device.name})`,
      );
    const a = new Association(
      this,
      this.manager.takeName(name, `${this.name}.avcm`, "vcm_assoc"),
      device,
      attr,
    );
    this.associations_.push(a);
    this.manager.associated(a);
    return a;
  }

  /** @internal EINVAL unless `device` and `attr` suit this kind of VCM. */
  checkAssocFor(device: VcmDevice, attr: number, what: string): void {
    const kind = deviceKind(device);
    const want =
      this.type === "device" ? "smmu" : this.type === "one-to-one" ? "one-to-one" : "cpu";
    if (kind !== want)
      fail(
        "EINVAL",
        `${what}: ${this.name} is a ${this.type} VCM; ${device.name} is a ${kind} device, not ${want === "smmu" ? "an SMMU context" : `a ${want} device`}`,
      );
    if (device instanceof SmmuDev || device instanceof OneToOneDevice) {
      if (attr & (VCM_USE_HIGH_BASE | VCM_SPLIT))
        fail(
          "EINVAL",
          `${what}: ${device.name} has one base register (the MSM SMMU driver programs TTBR0 only): no VCM_USE_HIGH_BASE or VCM_SPLIT`,
        );
    }
    if (device instanceof OneToOneDevice) {
      const end = this.startAddr + this.len;
      if (device.base > this.startAddr || device.base + device.size < end)
        fail(
          "EINVAL",
          `${what}: ${device.name}'s window ${hexRange(device.base, device.size)} does not cover ${this.name} ${hexRange(this.startAddr, this.len)}`,
        );
    }
    if (device instanceof Cpu) {
      if (this.type === "ext-kernel" && attr & VCM_USE_LOW_BASE)
        fail(
          "EINVAL",
          `${what}: the kernel VCM ${this.name} is the high base (TTBR1), not VCM_USE_LOW_BASE`,
        );
      if (this.type === "ext-user" && attr & VCM_USE_HIGH_BASE)
        fail(
          "EINVAL",
          `${what}: the user VCM ${this.name} is the low base (TTBR0), not VCM_USE_HIGH_BASE`,
        );
    }
  }

  /** @internal Forget a deassociated association. */
  dropAssociation(a: Association): void {
    this.associations_.splice(this.associations_.indexOf(a), 1);
  }

  /**
   * `vcm_get_pgtbl_pa`: the physical address of its page table (see the decisions above).
   */
  getPgtblPa(): number {
    this.check("vcm_get_pgtbl_pa");
    if (this.table !== undefined) return this.table.root;
    if (this.type === "one-to-one")
      fail("EINVAL", `vcm_get_pgtbl_pa: ${this.name} is one-to-one: it has no page table`);
    const first = this.associations_[0];
    if (first === undefined)
      fail("ENODEV", `vcm_get_pgtbl_pa: ${this.name} has no associated device whose table it is`);
    return (first.device as SmmuDev).table.root;
  }

  /** `vcm_clone`: a deep copy (see {@link VcmManager.clone}). */
  clone(name?: string): Vcm {
    this.check("vcm_clone");
    return this.manager.clone(this, name);
  }

  /** `vcm_free`: EBUSY with reservations, associations or bounds. */
  free(): void {
    this.check("vcm_free");
    const held = [
      ...this.reservations_.map((r) => r.name),
      ...this.associations_.map((a) => a.name),
      ...this.bounds_.map((b) => b.name),
    ];
    if (held.length > 0) fail("EBUSY", `vcm_free: ${this.name} still has ${held.join(", ")}`);
    this.manager.freed(this);
    this.gone = true;
  }

  describe(): string {
    const where = this.table ? ` table ${this.table.name} @ ${hex(this.table.root)}` : "";
    return `${this.name} ${this.type} ${hexRange(this.startAddr, this.len)} (${formatSize(this.len)})${where}`;
  }
}

/** EINVAL unless `len` is a positive safe integer. */
function checkLength(what: string, len: number): void {
  if (!Number.isSafeInteger(len) || len <= 0)
    fail("EINVAL", `${what}: length ${describeValue(len)} is not a positive number of bytes`);
}
