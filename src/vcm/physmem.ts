/**
 * A physical memory allocation (the seed's `struct physmem`): memory from a memtype's chunk pools
 * (`vcm_phys_alloc`), or a contiguous physical range handed in (`vcm_map_phys_addr`), that one
 * or more reservations are backed with.
 *
 * Its chunks are laid out one after another in every reservation that it backs: byte `k` of
 * the physmem is byte `k` of the reservation (the chunks in the order the allocator lists them:
 * largest first, then by address, as `vcm_phys_alloc` appends them).
 *
 * Decisions:
 * - A contiguous physmem (VCM_PHYS_CONT, or `vcm_map_phys_addr`) is one chunk; the page sizes
 *   its mappings use are chosen when it is mapped (the largest the addresses and length allow),
 *   not by splitting it into pool-sized chunks first as v3's `vcm_alloc_max_munch_cont` did.
 * - `vcm_get_next_phys_addr` returns segments: runs of physically adjacent chunks merged.
 * - A physmem made by `vcm_map_phys_addr` owns no allocation: freeing it drops the handle only.
 */
import { hex, hexRange } from "../base/address.js";
import { fail } from "../base/errors.js";
import { formatSize } from "../base/size.js";
import { checkAddress } from "../base/validate.js";
import type { Chunk } from "../phys/allocator.js";
import type { PhysAllocation } from "../phys/target.js";
import type { Memtype } from "./attrs.js";
import { describePhysAttr, memtypeName } from "./attrs.js";
import type { Reservation } from "./reservation.js";

/** What a physmem needs of the manager that made it. */
export interface PhysmemHost {
  /** Return the allocation to its target and forget the physmem. */
  releasePhysmem(p: Physmem): void;
}

/** A physically contiguous piece of a physmem. */
export interface PhysSegment {
  readonly pa: number;
  readonly len: number;
}

export class Physmem {
  /** Reservations backed by it now (the seed's "multiple reservations back the same memory"). */
  readonly backers = new Set<Reservation>();
  private freed = false;

  /** Made by the manager ({@link VcmManager.physAlloc}, {@link VcmManager.mapPhysAddr}). */
  constructor(
    private readonly host: PhysmemHost,
    /** Unique among the manager's physmems, e.g. `pm1`. */
    readonly name: string,
    /** `physmem->memtype`; VCM_INVALID (0) for a range from `vcm_map_phys_addr`. */
    readonly memtype: Memtype | 0,
    /** `physmem->len`: the length asked for. */
    readonly len: number,
    /** `physmem->attr`. */
    readonly attr: number,
    readonly chunks: readonly Chunk[],
    /** The allocation behind it (undefined for `vcm_map_phys_addr`). */
    readonly allocation: PhysAllocation | undefined,
  ) {}

  /** `physmem->is_cont`: one physically contiguous range. */
  get contiguous(): boolean {
    return this.segments().length === 1;
  }

  /** False once freed: every use is then EINVAL. */
  get valid(): boolean {
    return !this.freed;
  }

  /** @internal EINVAL if freed. */
  check(what: string): void {
    if (this.freed) fail("EINVAL", `${what}: physmem ${this.name} was freed`);
  }

  /** `vcm_get_memtype_of_physalloc`: its memtype (EINVAL once freed). */
  getMemtype(): Memtype | 0 {
    this.check("vcm_get_memtype_of_physalloc");
    return this.memtype;
  }

  /** The physically contiguous runs of its chunks, in layout order. */
  segments(): PhysSegment[] {
    const out: Array<{ pa: number; len: number }> = [];
    for (const c of this.chunks) {
      const last = out[out.length - 1];
      if (last !== undefined && last.pa + last.len === c.pa) last.len += c.size;
      else out.push({ pa: c.pa, len: c.size });
    }
    return out;
  }

  /**
   * `vcm_get_next_phys_addr`: the segment after the one starting at `phys` (the first when
   * `phys` is undefined), or undefined after the last. EINVAL if `phys` starts no segment.
   */
  nextPhysAddr(phys?: number): PhysSegment | undefined {
    this.check("vcm_get_next_phys_addr");
    const segs = this.segments();
    if (phys === undefined) return segs[0];
    checkAddress("vcm_get_next_phys_addr", "phys", phys);
    const i = segs.findIndex((s) => s.pa === phys);
    if (i < 0)
      fail(
        "EINVAL",
        `vcm_get_next_phys_addr: ${hex(phys)} starts no segment of ${this.name} (${segs.map((s) => hexRange(s.pa, s.len)).join(", ")})`,
      );
    return segs[i + 1];
  }

  /** The physical address of byte `offset` of the layout (EINVAL beyond it). */
  physAt(offset: number): number {
    checkAddress(this.name, "offset", offset);
    return this.physAtChecked(offset);
  }

  /** @internal {@link physAt} of an offset already checked (the manager's per-page loops). */
  physAtChecked(offset: number): number {
    let base = 0;
    for (const c of this.chunks) {
      if (offset < base + c.size) return c.pa + (offset - base);
      base += c.size;
    }
    fail("EINVAL", `${this.name}: offset ${hex(offset)} is beyond its ${formatSize(base)}`);
  }

  /** The layout offset of physical address `pa`, or undefined if no chunk holds it. */
  offsetOf(pa: number): number | undefined {
    checkAddress(this.name, "pa", pa);
    return this.offsetOfChecked(pa);
  }

  /** @internal {@link offsetOf} of an address already checked. */
  offsetOfChecked(pa: number): number | undefined {
    let base = 0;
    for (const c of this.chunks) {
      if (pa >= c.pa && pa < c.pa + c.size) return base + (pa - c.pa);
      base += c.size;
    }
    return undefined;
  }

  /**
   * `vcm_phys_free`: give the memory back. EBUSY while reservations are backed by it (the header
   * documents it; the original did not check); EINVAL once freed.
   */
  free(): void {
    this.check("vcm_phys_free");
    if (this.backers.size > 0)
      fail(
        "EBUSY",
        `vcm_phys_free: ${this.name} backs ${[...this.backers].map((r) => r.name).join(", ")}`,
      );
    this.host.releasePhysmem(this);
    this.freed = true;
  }

  /** One line for people: `pm1 VCM_MEMTYPE_0 2M+4K: 2 chunks (1M, 1M, ...)`. */
  describe(): string {
    return `${this.name} ${this.memtype === 0 ? "mapped range" : memtypeName(this.memtype)} ${formatSize(this.len)} ${describePhysAttr(this.attr)}: ${this.chunks.map((c) => `${formatSize(c.size)}@${hex(c.pa)}`).join(" ")}`;
  }
}
