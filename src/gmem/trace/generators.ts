/**
 * Seeded trace generators: sequential, strided, uniform random, hot set, and a weighted mix
 * (mix.ts, re-exported here).
 *
 * Each returns a {@link TraceCursor}; `next(out)` fills a reused object and allocates nothing,
 * so 10 million accesses cost no garbage. The same options and seed give the same accesses on
 * every platform (base/rng.ts). Randomness comes in independent streams forked from the seed —
 * `addr`, `hot`, `op`, `who` — so changing the write ratio or the `who` weights does not move
 * the addresses. Generated accesses carry no `value` (a replay cannot check their reads).
 *
 * Common options: `seed` (default 0); `who`, a name (default `"cpu"`) or weights by name
 * (`{ cpu: 1, gpu0: 3 }`: each access picks one, 3 in 4 times gpu0); `writeRatio`, the
 * probability that an access is a write (default 0); `size`, the bytes of every access
 * (default 8). Regions are `[start, start + length)`; every access lies wholly inside.
 *
 * @example
 * const t = hotSet({ start: 0, length: 4 * 2 ** 30, hotLength: 2 ** 30, count: 10_000_000,
 *                    writeRatio: 0.3, who: "gpu0", seed: 7 });
 * const a = newAccess();
 * while (t.next(a)) replay(a);
 */
import { fail } from "../../base/errors.js";
import { Rng } from "../../base/rng.js";
import type { TraceAccess, TraceCursor } from "./types.js";
import { CPU, DEFAULT_ACCESS_SIZE, isTraceName, MAX_ACCESS_SIZE } from "./types.js";
import { checkObject } from "../../base/validate.js";

export type { MixOptions } from "./mix.js";
export { mix } from "./mix.js";

/** Options every generator takes. */
export interface CommonOptions {
  /** Seed of every random choice (default 0). */
  seed?: number;
  /** Who accesses: a name, or weights by name (default `"cpu"`). */
  who?: string | Readonly<Record<string, number>>;
  /** Probability in [0, 1] that an access is a write (default 0). */
  writeRatio?: number;
  /** Bytes per access, 1..65535 (default 8). */
  size?: number;
}

/** A region of addresses, `[start, start + length)`. */
export interface RegionOptions extends CommonOptions {
  start: number;
  length: number;
}

/** {@link sequential}'s options. */
export interface SequentialOptions extends RegionOptions {
  /** Bytes from one access to the next (default `size`). */
  stride?: number;
  /** Accesses (default: one pass over the region). */
  count?: number;
}

/** {@link strided}'s options. */
export interface StridedOptions extends RegionOptions {
  stride: number;
  /** Accesses (default: one pass, `size` bytes into each stride). */
  count?: number;
}

/** {@link uniform}'s options. */
export interface UniformOptions extends RegionOptions {
  count: number;
  /** Addresses are `start` plus a multiple of `align` (default `size`). */
  align?: number;
}

/** {@link hotSet}'s options. */
export interface HotSetOptions extends UniformOptions {
  /** Start of the hot set (default `start`); it must lie inside the region. */
  hotStart?: number;
  hotLength: number;
  /** Probability that an access goes to the hot set (default 0.8). */
  hotFraction?: number;
}

function nat(v: number, field: string): number {
  if (!Number.isSafeInteger(v) || v < 0)
    fail("EINVAL", `${field} ${v} is not an integer >= 0`, field);
  return v;
}

function positive(v: number, field: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(v) || v < 1 || v > max)
    fail("EINVAL", `${field} ${v} is not an integer in 1..${max}`, field);
  return v;
}

function probability(v: number, field: string): number {
  if (!(v >= 0 && v <= 1)) fail("EINVAL", `${field} ${v} is not a probability in [0, 1]`, field);
  return v;
}

/** Weighted choice without allocation: names and their cumulative weights. */
class Weights {
  readonly names: string[];
  readonly cumulative: Float64Array;
  readonly sum: number;
  constructor(who: string | Readonly<Record<string, number>>) {
    const entries = typeof who === "string" ? [[who, 1] as const] : Object.entries(who);
    this.names = entries.map(([n]) => n);
    this.cumulative = new Float64Array(entries.length);
    let sum = 0;
    for (const [i, [name, w]] of entries.entries()) {
      if (!isTraceName(name)) fail("EINVAL", `who ${JSON.stringify(name)} is not a name`, "who");
      if (!(w >= 0 && Number.isFinite(w)))
        fail("EINVAL", `weight of "${name}" ${w} is not a finite number >= 0`, "who");
      this.cumulative[i] = sum += w;
    }
    if (!(sum > 0)) fail("EINVAL", "who has no positive weight", "who");
    this.sum = sum;
  }
  pick(rng: Rng): string {
    if (this.names.length === 1) return this.names[0]!;
    const x = rng.float() * this.sum;
    const c = this.cumulative;
    let i = 0;
    while (i < c.length - 1 && !(x < c[i]!)) i++;
    return this.names[i]!;
  }
}

/** The common options, checked. */
interface Common {
  seed: number;
  size: number;
  who: Weights;
  writeRatio: number;
}

function common(o: CommonOptions): Common {
  return {
    seed: nat(o.seed ?? 0, "seed"),
    size: positive(o.size ?? DEFAULT_ACCESS_SIZE, "size", MAX_ACCESS_SIZE),
    who: new Weights(o.who ?? CPU),
    writeRatio: probability(o.writeRatio ?? 0, "writeRatio"),
  };
}

/** What every generator shares: the count, who, op and size; subclasses give addresses. */
abstract class Generated implements TraceCursor {
  readonly total: number;
  protected readonly size: number;
  private readonly c: Common;
  private i = 0;
  private whoRng!: Rng;
  private opRng!: Rng;

  constructor(c: Common, total: number) {
    this.c = c;
    this.size = c.size;
    this.total = total;
  }

  next(out: TraceAccess): boolean {
    if (this.i >= this.total) return false;
    this.i++;
    out.addr = this.nextAddr();
    out.size = this.size;
    out.who = this.c.who.pick(this.whoRng);
    const w = this.c.writeRatio;
    out.op = w === 0 ? "r" : w === 1 || this.opRng.float() < w ? "w" : "r";
    out.value = undefined;
    out.line = undefined;
    return true;
  }

  rewind(): void {
    const root = new Rng(this.c.seed);
    this.i = 0;
    this.whoRng = root.fork("who");
    this.opRng = root.fork("op");
    this.restart(root);
  }

  /** The next address. */
  protected abstract nextAddr(): number;
  /** Back to the first address, with the seed's generator to fork from. */
  protected abstract restart(root: Rng): void;
}

/** Check a region and return its end; `length` must hold one access. */
function regionEnd(o: RegionOptions, size: number): number {
  nat(o.start, "start");
  nat(o.length, "length");
  if (o.start + o.length > 2 ** 53) fail("EINVAL", `region ends beyond 2^53`, "length");
  if (o.length < size) fail("EINVAL", `length ${o.length} is below size ${size}`, "length");
  return o.start + o.length;
}

/** Sequential and strided walks: `start + offset + k * stride`. */
class Walk extends Generated {
  private readonly start: number;
  private readonly end: number;
  private readonly stride: number;
  private offset = 0;
  private k = 0;

  private readonly shift: boolean;

  constructor(o: RegionOptions & { stride?: number; count?: number }, shift: boolean) {
    const c = common(o);
    const end = regionEnd(o, c.size);
    const stride = positive(o.stride ?? c.size, "stride");
    const onePass = Math.floor((o.length - c.size) / stride) + 1;
    super(c, o.count === undefined ? onePass : nat(o.count, "count"));
    this.start = o.start;
    this.end = end;
    this.stride = stride;
    this.shift = shift;
    this.rewind();
  }

  protected nextAddr(): number {
    let addr = this.start + this.offset + this.k * this.stride;
    if (addr + this.size > this.end) {
      // Wrap: a sequential walk starts over; a strided one moves `size` bytes into the stride.
      let o = this.shift ? this.offset + this.size : 0;
      if (o >= this.stride || this.start + o + this.size > this.end) o = 0;
      this.offset = o;
      this.k = 0;
      addr = this.start + o;
    }
    this.k++;
    return addr;
  }

  protected restart(): void {
    this.offset = 0;
    this.k = 0;
  }
}

/**
 * `start, start + stride, ...` (stride defaults to size: dense), starting over at `start` at
 * the end of the region; by default one pass.
 */
export function sequential(o: SequentialOptions): TraceCursor {
  checkObject("sequential", "options", o);
  return new Walk(o, false);
}

/**
 * `start, start + stride, ...`; at the end of the region the next pass starts `size` bytes
 * further (`start + size`, `start + size + stride`, ...), back at `start` once a stride's width
 * is covered: a column-by-column walk of a row-major matrix. By default one pass.
 */
export function strided(o: StridedOptions): TraceCursor {
  checkObject("strided", "options", o);
  return new Walk(o, true);
}

/** Uniform random aligned addresses over a region; a hot set on top when `hot` is given. */
class Random extends Generated {
  private readonly start: number;
  private readonly slots: number;
  private readonly align: number;
  private readonly hotStart: number;
  private readonly hotSlots: number;
  private readonly hotFraction: number;
  private addrRng!: Rng;
  private hotRng!: Rng;

  constructor(o: UniformOptions, hot?: HotSetOptions) {
    const c = common(o);
    const end = regionEnd(o, c.size);
    super(c, nat(o.count, "count"));
    this.start = o.start;
    this.align = positive(o.align ?? this.size, "align");
    this.slots = Math.floor((o.length - this.size) / this.align) + 1;
    this.hotStart = nat(hot?.hotStart ?? o.start, "hotStart");
    const hotLength = nat(hot?.hotLength ?? 0, "hotLength");
    this.hotFraction = probability(hot?.hotFraction ?? (hot ? 0.8 : 0), "hotFraction");
    if (hot !== undefined) {
      if (this.hotStart < o.start || this.hotStart + hotLength > end)
        fail("EINVAL", "the hot set is not inside the region", "hotStart");
      if (hotLength < this.size)
        fail("EINVAL", `hotLength ${hotLength} is below size ${this.size}`, "hotLength");
    }
    this.hotSlots = hot ? Math.floor((hotLength - this.size) / this.align) + 1 : 0;
    this.rewind();
  }

  protected nextAddr(): number {
    const f = this.hotFraction;
    if (f !== 0 && (f === 1 || this.hotRng.float() < f))
      return this.hotStart + this.addrRng.int(0, this.hotSlots - 1) * this.align;
    return this.start + this.addrRng.int(0, this.slots - 1) * this.align;
  }

  protected restart(root: Rng): void {
    this.addrRng = root.fork("addr");
    this.hotRng = root.fork("hot");
  }
}

/** `count` accesses at uniformly random addresses `start + k * align` of the region. */
export function uniform(o: UniformOptions): TraceCursor {
  checkObject("uniform", "options", o);
  return new Random(o);
}

/**
 * `count` accesses; each goes with probability `hotFraction` (default 0.8) to a uniformly random
 * address of the hot set, else to one of the whole region (hot set included): "80% to a 1 GiB
 * hot set, 20% uniform".
 */
export function hotSet(o: HotSetOptions): TraceCursor {
  checkObject("hotSet", "options", o);
  return new Random(o, o);
}
