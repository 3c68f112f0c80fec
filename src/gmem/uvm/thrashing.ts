/**
 * Thrashing detection and pinning (after kernel-open/nvidia-uvm/uvm_perf_thrashing.c), per unit
 * of residency: a 4 KiB page under `residency: "page"`, the 2 MiB block under `"block"`.
 *
 * - Events: every migration of a unit's data that a fault or the prefetcher caused is recorded
 *   with its simulated time. One that comes within `thrashingLapseUs` of the unit's previous
 *   migration is a thrashing event; `thrashingEvents` (3) of them in a row make the unit
 *   thrashing — so 4 migrations, each within 500 us of the one before, as UVM counts (its first
 *   migration only sets the time stamp). A longer gap starts the count again (UVM keeps counts
 *   below the threshold across gaps until its 1 s epoch; here a gap resets them). Migrations of
 *   evictions, detach, hmadvise PREFETCH and hmemcpy are not events (UVM skips eviction and
 *   resets on user commands).
 * - Pinning: a unit found thrashing is pinned at once for `thrashingPinMs` (150 ms = UVM's 300 x
 *   lapse); UVM first throttles the faulting processor (naps of one lapse) and pins after 10
 *   throttles — the throttling phase is not modelled. It is pinned in host memory, the one place
 *   every processor reaches on a PCIe machine (UVM pins where all thrashing processors can
 *   access, which there is system memory): while pinned, a device's fault maps the host page
 *   remotely instead of migrating it, and a CPU fault brings it home. Pinned and thrashing pages
 *   are left out of the prefetcher's big pages and prefetches.
 * - Unpinning: when the pin's time is up (checked at every access and service), the unit's state
 *   is reset and the remote mappings it justified are removed, so the next device access faults
 *   and migrates again (UVM's unmap_remote_pinned_pages).
 *
 * Time is the engine's simulated clock (engine.ts: the cost sink's `timeNs` when it has one).
 */
import type { GmemPolicy } from "../policy.js";
import type { GmMapping } from "../vm-object.js";
import type { ThrashState, UvmBlock } from "./block.js";
import { PAGES } from "./block.js";

interface Pin {
  readonly m: GmMapping;
  readonly info: ThrashState;
  readonly unit: number;
  readonly until: number;
}

export class Thrashing {
  readonly threshold: number;
  readonly lapseNs: number;
  /** Pin time in ns (Infinity: for ever). */
  readonly pinNs: number;
  /** Units of residency per block (512 pages, or 1 block). */
  readonly units: number;
  private pins: Pin[] = [];
  private head = 0;

  constructor(policy: GmemPolicy) {
    this.threshold = policy.thrashingEvents;
    this.lapseNs = policy.thrashingLapseUs * 1e3;
    this.pinNs = policy.thrashingPinMs === 0 ? Infinity : policy.thrashingPinMs * 1e6;
    this.units = policy.residency === "page" ? PAGES : 1;
  }

  /** The unit of page `i`. */
  unit(i: number): number {
    return this.units === 1 ? 0 : i;
  }

  /**
   * A migration of unit `u` of block `b` (of `m`) at `now`: true if the unit has just become
   * thrashing (it is pinned then).
   */
  migrated(b: UvmBlock, m: GmMapping, u: number, now: number): boolean {
    const t = (b.thrash ??= {
      last: new Float64Array(this.units).fill(-1),
      events: new Uint8Array(this.units),
      pinnedUntil: new Float64Array(this.units),
    });
    if (t.pinnedUntil[u]! > 0) return false; // moved because of its pin: no event
    const last = t.last[u]!;
    t.last[u] = now;
    if (last < 0) return false;
    if (now - last > this.lapseNs) {
      t.events[u] = 0;
      return false;
    }
    if (t.events[u]! < 255) t.events[u]!++;
    if (t.events[u] !== this.threshold) return false;
    const until = now + this.pinNs;
    t.pinnedUntil[u] = until;
    this.pins.push({ m, info: t, unit: u, until });
    return true;
  }

  /** True if unit `u` of `b` is pinned at `now`. */
  pinned(b: UvmBlock, u: number, now: number): boolean {
    const p = b.thrash?.pinnedUntil[u] ?? 0;
    return p > now;
  }

  /**
   * Fill `out` with 1 for each page of `b` that is thrashing or pinned (for the prefetcher);
   * false if there is none.
   */
  thrashingPages(b: UvmBlock, now: number, out: Uint8Array): boolean {
    const t = b.thrash;
    if (t === undefined) return false;
    let any = false;
    out.fill(0);
    for (let u = 0; u < this.units; u++)
      if (t.events[u]! >= this.threshold || t.pinnedUntil[u]! > now) {
        any = true;
        if (this.units === 1) out.fill(1);
        else out[u] = 1;
      }
    return any;
  }

  /** The next pin's end (Infinity: none). */
  get nextDeadline(): number {
    return this.head < this.pins.length ? this.pins[this.head]!.until : Infinity;
  }

  /** End the pins due by `now`: each unit's state reset, then `unpin(m, unit)`. */
  expire(now: number, unpin: (m: GmMapping, unit: number) => void): void {
    while (this.head < this.pins.length && this.pins[this.head]!.until <= now) {
      const p = this.pins[this.head++]!;
      const b = p.m.pieces as UvmBlock | undefined;
      if (b?.thrash !== p.info || p.info.pinnedUntil[p.unit] !== p.until) continue;
      p.info.pinnedUntil[p.unit] = 0;
      p.info.events[p.unit] = 0;
      p.info.last[p.unit] = -1;
      unpin(p.m, p.unit);
    }
    if (this.head > 1024 && this.head * 2 > this.pins.length) {
      this.pins = this.pins.slice(this.head);
      this.head = 0;
    }
  }
}
