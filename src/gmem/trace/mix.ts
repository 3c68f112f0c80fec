/**
 * A weighted interleaving of traces: the CPU's pattern and a device's, or several patterns of
 * one device. Each access comes from a part picked by weight (from the seed's `mix` stream)
 * among the parts that have not ended; each part keeps its own order. Allocation-free, as the
 * generators it interleaves.
 *
 * @example
 * mix({ seed: 1, parts: [
 *   { weight: 1, trace: sequential({ start: 0, length: 1 << 20, who: "cpu" }) },
 *   { weight: 3, trace: uniform({ start: 0, length: 1 << 20, count: 1e5, who: "gpu0" }) },
 * ] });
 */
import { fail } from "../../base/errors.js";
import { Rng } from "../../base/rng.js";
import type { TraceAccess, TraceCursor } from "./types.js";
import { checkArray, checkObject } from "../../base/validate.js";

/** {@link mix}'s options. */
export interface MixOptions {
  /** The traces to interleave, each picked with probability proportional to its weight. */
  parts: readonly { weight: number; trace: TraceCursor }[];
  seed?: number;
  /** Stop after this many accesses (default: when every part has ended). */
  count?: number;
}

function nat(v: number, field: string): number {
  if (!Number.isSafeInteger(v) || v < 0)
    fail("EINVAL", `${field} ${v} is not an integer >= 0`, field);
  return v;
}

/** Interleave traces: each access comes from a part picked by weight among those not ended. */
class Mix implements TraceCursor {
  readonly total: number | undefined;
  private readonly seed: number;
  private readonly limit: number;
  private readonly live: boolean[];
  private rng!: Rng;
  private i = 0;

  constructor(private readonly o: MixOptions) {
    if (o.parts.length === 0) fail("EINVAL", "a mix needs at least one part", "parts");
    for (const [i, p] of o.parts.entries())
      if (!(p.weight >= 0 && Number.isFinite(p.weight)))
        fail("EINVAL", `part ${i}: weight ${p.weight} is not a finite number >= 0`, `parts.${i}`);
    this.seed = nat(o.seed ?? 0, "seed");
    this.limit = o.count === undefined ? Infinity : nat(o.count, "count");
    const known = o.parts.every((p) => p.trace.total !== undefined);
    const sum = o.parts.reduce((s, p) => s + (p.weight > 0 ? (p.trace.total ?? 0) : 0), 0);
    this.total = known ? Math.min(this.limit, sum) : undefined;
    this.live = o.parts.map((p) => p.weight > 0);
    this.rewind();
  }

  next(out: TraceAccess): boolean {
    const parts = this.o.parts;
    while (this.i < this.limit) {
      let sum = 0;
      for (let j = 0; j < parts.length; j++) if (this.live[j]) sum += parts[j]!.weight;
      if (sum === 0) return false;
      let x = this.rng.float() * sum;
      let j = 0;
      for (; j < parts.length - 1; j++) {
        if (!this.live[j]) continue;
        x -= parts[j]!.weight;
        if (x < 0) break;
      }
      while (!this.live[j]) j--; // rounding at the top end: the last live part
      if (parts[j]!.trace.next(out)) {
        this.i++;
        return true;
      }
      this.live[j] = false;
    }
    return false;
  }

  rewind(): void {
    this.rng = new Rng(this.seed).fork("mix");
    this.i = 0;
    for (const [j, p] of this.o.parts.entries()) {
      p.trace.rewind();
      this.live[j] = p.weight > 0;
    }
  }
}

/** Interleave `parts` by weight; `total` is known when every part's is. */
export function mix(o: MixOptions): TraceCursor {
  checkObject("mix", "options", o);
  checkArray("mix", "parts", o.parts).forEach((p, i) => checkObject("mix", `parts.${i}`, p));
  return new Mix(o);
}
