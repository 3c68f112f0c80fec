/**
 * A bound (the seed's `struct bound`): a sub-range of a VCM that reservations can be made from
 * (`vcm_create_bound`, `vcm_reserve_from_bound`, `vcm_free_bound`, `vcm_get_bound_start_addr`,
 * `vcm_get_bound_len`). The posting left every bound function a stub.
 *
 * Decisions: the allocator picks the bound's addresses from the VCM's free space, aligned as a
 * reservation of that length would be; its reservations count among the VCM's
 * (`vcm_get_num_res`, `vcm_get_next_res`); a one-to-one VCM has no address space to bound
 * (EINVAL).
 */
import { hexRange } from "../base/address.js";
import { fail } from "../base/errors.js";
import { formatSize } from "../base/size.js";
import { ContiguousPool } from "../phys/contiguous-pool.js";
import type { Reservation } from "./reservation.js";
import type { Vcm } from "./vcm.js";

export class Bound {
  /** @internal Where its reservations come from. */
  readonly pool: ContiguousPool;
  private gone = false;

  /** Made by {@link Vcm.createBound}. */
  constructor(
    readonly vcm: Vcm,
    readonly name: string,
    /** `vcm_get_bound_start_addr`. */
    readonly start: number,
    /** `vcm_get_bound_len`. */
    readonly len: number,
  ) {
    this.pool = new ContiguousPool(start, len, `${name} (bound of ${vcm.name})`);
  }

  get valid(): boolean {
    return !this.gone;
  }

  /** @internal EINVAL once freed. */
  check(what: string): void {
    if (this.gone) fail("EINVAL", `${what}: bound ${this.name} was freed`);
  }

  /** @internal Mark freed. */
  retire(): void {
    this.gone = true;
  }

  /** The VCM's reservations made from this bound. */
  reservations(): Reservation[] {
    return this.vcm.reservations().filter((r) => r.bound === this);
  }

  /** `vcm_get_bound_start_addr`. */
  getStartAddr(): number {
    this.check("vcm_get_bound_start_addr");
    return this.start;
  }

  /** `vcm_get_bound_len`. */
  getLen(): number {
    this.check("vcm_get_bound_len");
    return this.len;
  }

  /** `vcm_reserve_from_bound`: a reservation inside the bound (see {@link Vcm.reserve}). */
  reserve(len: number, attr: number, name?: string): Reservation {
    this.check("vcm_reserve_from_bound");
    return this.vcm.reserveIn(this, len, attr, name, "vcm_reserve_from_bound");
  }

  /** `vcm_free_bound`: EBUSY while it holds reservations. */
  free(): void {
    this.check("vcm_free_bound");
    const held = this.reservations();
    if (held.length > 0)
      fail("EBUSY", `vcm_free_bound: ${this.name} holds ${held.map((r) => r.name).join(", ")}`);
    this.vcm.dropBound(this);
    this.retire();
  }

  describe(): string {
    return `${this.name} ${hexRange(this.start, this.len)} (${formatSize(this.len)})`;
  }
}
