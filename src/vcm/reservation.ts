/**
 * A reservation (the seed's `struct res`): a contiguous range of a VCM's device addresses, with
 * attributes, and — once backed — the physical memory behind it.
 *
 * The range is `[devAddr, devAddr + size)` where `size` is the length rounded up to the 4 KiB
 * minimum page (`vcm_get_min_page_size`); `len` stays what was asked, as `vcm_get_res_len`
 * reports it. A reservation of a one-to-one VCM has no device address of its own until it is
 * backed: then its device address is its physical memory's (v3's `vcm_back` sets `va =
 * chunk->pa`).
 */
import { hex, hexRange } from "../base/address.js";
import { alignUp } from "../base/align.js";
import { fail } from "../base/errors.js";
import type { Disposable } from "../base/lifetime.js";
import { formatSize } from "../base/size.js";
import { checkAddress } from "../base/validate.js";
import type { AnyPageTable } from "../mmu/page-table.js";
import { describeResAttr, VCM_MIN_PAGE_SIZE } from "./attrs.js";
import type { Bound } from "./bound.js";
import type { Physmem } from "./physmem.js";
import type { Vcm } from "./vcm.js";

/** One piece of a backed reservation: device address, physical address, length. */
export interface BackingPiece {
  readonly va: number;
  readonly pa: number;
  readonly size: number;
}

export class Reservation {
  /** @internal The physmem backing it (`res->physmem_id`). */
  physmem_: Physmem | undefined;
  /** @internal The device address of a one-to-one reservation once backed. */
  devAddr_: number | undefined;
  /** @internal Owner labels of its mappings, by the table they are in (or "phys"). */
  readonly labels = new Map<AnyPageTable | "phys", Disposable>();
  private gone = false;

  /** Made by {@link Vcm.reserve} and its relatives. */
  constructor(
    readonly vcm: Vcm,
    readonly name: string,
    /** `res->len`. */
    readonly len: number,
    /** @internal `res->attr` (see {@link getAttr}). */
    public attr_: number,
    /** Its first device address (undefined for a one-to-one VCM's). */
    devAddr: number | undefined,
    /** The bound it was reserved from, if any. */
    readonly bound: Bound | undefined,
  ) {
    this.devAddr_ = devAddr;
  }

  /** The bytes its range spans: `len` rounded up to the minimum page. */
  get size(): number {
    return alignUp(this.len, VCM_MIN_PAGE_SIZE);
  }

  get valid(): boolean {
    return !this.gone;
  }

  /** @internal EINVAL once unreserved. */
  check(what: string): void {
    if (this.gone) fail("EINVAL", `${what}: reservation ${this.name} was unreserved`);
  }

  /** @internal Mark unreserved. */
  retire(): void {
    this.gone = true;
  }

  /** `vcm_get_vcm_from_res`: the VCM it belongs to (there are no orphan reservations). */
  getVcm(): Vcm {
    this.check("vcm_get_vcm_from_res");
    return this.vcm;
  }

  /** `vcm_get_res_len`: the length asked for. */
  getLen(): number {
    this.check("vcm_get_res_len");
    return this.len;
  }

  /** `vcm_get_res_attr`. */
  getAttr(): number {
    this.check("vcm_get_res_attr");
    return this.attr_;
  }

  /**
   * `vcm_get_dev_addr`: its device address — IOVA on a device VCM, a kernel or user virtual
   * address on a prebuilt VCM, the physical address on a one-to-one VCM (ENOENT there until
   * backed: the device address is the memory's).
   */
  getDevAddr(): number {
    this.check("vcm_get_dev_addr");
    if (this.devAddr_ === undefined)
      fail(
        "ENOENT",
        `vcm_get_dev_addr: ${this.name} of one-to-one VCM ${this.vcm.name} is not backed; its device address is its memory's`,
      );
    return this.devAddr_;
  }

  /** The device address, or undefined (one-to-one and not backed). */
  get devAddr(): number | undefined {
    return this.devAddr_;
  }

  /** Whether a physmem backs it. */
  get backed(): boolean {
    return this.physmem_ !== undefined;
  }

  /**
   * `vcm_get_physmem_from_res`: the physmem backing it. EINVAL once unreserved, ENOMEM when not
   * backed (the header's codes).
   */
  getPhysmem(): Physmem {
    this.check("vcm_get_physmem_from_res");
    if (this.physmem_ === undefined)
      fail("ENOMEM", `vcm_get_physmem_from_res: ${this.name} is not backed`);
    return this.physmem_;
  }

  /** `vcm_back`: back it with `physmem` (see {@link VcmManager.back}). */
  back(physmem: Physmem): void {
    this.check("vcm_back");
    this.vcm.manager.back(this, physmem);
  }

  /** `vcm_unback`: unmap it from every device and forget its physmem. */
  unback(): void {
    this.check("vcm_unback");
    this.vcm.manager.unback(this);
  }

  /** `vcm_set_res_attr` (see {@link VcmManager.setResAttr}). */
  setAttr(attr: number): void {
    this.check("vcm_set_res_attr");
    this.vcm.manager.setResAttr(this, attr);
  }

  /** `vcm_unreserve`: EBUSY while backed (the header documents it). */
  unreserve(): void {
    this.check("vcm_unreserve");
    this.vcm.manager.unreserve(this);
  }

  /** Whether device address `a` is in its range. */
  contains(a: number): boolean {
    checkAddress("contains", "a", a);
    return this.holds(a);
  }

  /** @internal {@link contains} of an address already checked. */
  holds(a: number): boolean {
    return this.devAddr_ !== undefined && a >= this.devAddr_ && a < this.devAddr_ + this.size;
  }

  /**
   * The pieces its physmem is laid out in, from `devAddr`: each chunk in order, cut at the
   * reservation's size (a chunk set larger than the length maps only the length).
   *
   * Decision: chunk by chunk, as `vcm_back` maps them (`vcm_process_chunk` per chunk), even when
   * chunks happen to lie side by side — the page sizes a buffer gets come from the chunk sizes it
   * was allocated with, which is the seed's argument for its 1M and 64K pools (a buffer of 4K
   * chunks stays 4K pages, and a small TLB misses on every page).
   */
  pieces(physmem: Physmem, devAddr: number): BackingPiece[] {
    const out: BackingPiece[] = [];
    let off = 0;
    for (const c of physmem.chunks) {
      if (off >= this.size) break;
      const size = Math.min(c.size, this.size - off);
      out.push({ va: devAddr + off, pa: c.pa, size });
      off += size;
    }
    return out;
  }

  /** One line for people. */
  describe(): string {
    const where = this.devAddr_ === undefined ? "(one-to-one)" : hexRange(this.devAddr_, this.size);
    const backing = this.physmem_ ? ` backed by ${this.physmem_.name}` : "";
    return `${this.name} ${where} ${formatSize(this.len)} ${describeResAttr(this.attr_)}${backing}`;
  }

  /** `res@0x1000_0000` for messages. */
  toString(): string {
    return this.devAddr_ === undefined ? this.name : `${this.name}@${hex(this.devAddr_)}`;
  }
}
