/**
 * The GMEM cost model: what each event of a replay costs in simulated nanoseconds, and the
 * simulated clock they add up to.
 *
 * The core reports events through {@link GmemCostSink}; {@link CostModel} prices them:
 *
 * | event                          | cost                                                       |
 * | ------------------------------ | ---------------------------------------------------------- |
 * | `farFault(who)`                | `farFaultNs`                                               |
 * | `walk(who, levels, leafSize)`  | `levels` x (`walkNs4K` / `walkLevels4K`), or the 2M pair   |
 * | `migrate(bytes, from, to)`     | `migrationSetupNs` + bytes / bandwidth of link `from->to`  |
 * | `remoteAccess(who, bytes)`     | `remoteAccessNs` + bytes / bandwidth of link `host->who`   |
 * | `localAccess(who, bytes)`      | `localAccessNs` (bytes do not matter)                      |
 *
 * Defaults and their sources (../shared/reference/gmem-uvm.md §5, from GPGPU-Sim UVMSmart's
 * GTX 1080 Ti configuration, 1481 MHz):
 * - `farFaultNs` 45,000: far-fault handling 45 us (66,645 cycles); 20-50 us is the range
 *   commonly cited (Zheng et al., HPCA'16). It is the fault's service overhead; the data moved
 *   is priced separately by `migrate`.
 * - `linkBandwidth` 16e9 bytes/s: PCIe 16 GB/s per direction, every link unless overridden by
 *   name (`linkBandwidth.host->gpu0`). A 2 MiB page takes 131,072 ns, a 4 KiB page 256 ns.
 * - `walkNs4K` 100 cycles = 67.52 ns, `walkNs2M` 66 cycles = 44.56 ns: one whole walk to a
 *   4 KiB leaf (4 levels, `walkLevels4K`) or a 2 MiB leaf (3 levels, `walkLevels2M`). A walk
 *   costs per level visited, so a full walk costs exactly the reference number, a walk shortened
 *   by a walk cache less, a deeper one more. Leaves of 2 MiB or more use the 2M pair.
 * - `remoteAccessNs` 1,000: model assumption, not in the reference — one load or store across
 *   the link costs a PCIe round trip, of the order of hundreds of ns to 1 us, plus its bytes at
 *   the link's bandwidth.
 * - `localAccessNs` 1: model assumption — an access served by the accessor's own memory, as a
 *   cache would mostly serve it; the model has no caches, and this keeps local work small
 *   against faults and migrations, which the model studies.
 * - `migrationSetupNs` 0: a per-migration DMA setup cost, 0 because the 45 us of a far fault
 *   already include the driver's work; set it (e.g. `2us`) to price evictions and prefetches,
 *   which move data without a fault.
 *
 * Time is one serial clock: every event waits for the one before, so faults, migrations and
 * accesses never overlap, and migrations on different links do not run concurrently (an upper
 * bound on the time of a real, pipelined system; what the counts compare is unaffected).
 */
import { fail } from "../base/errors.js";
import { badArgument, checkName, checkObject } from "../base/validate.js";
import type { GmemCostSink } from "./cost-sink.js";
import { didYouMean } from "../base/suggest.js";

export type { GmemCostSink } from "./cost-sink.js";

/** Every parameter of the cost model; times in ns, bandwidths in bytes per second. */
export interface CostParams {
  /** Service overhead of one far fault, ns (default 45,000). */
  farFaultNs: number;
  /** Bytes per second per link and direction (default 16e9). */
  linkBandwidth: number;
  /** Per-link overrides of `linkBandwidth`, by name `from->to` (`"host->gpu0"`). */
  linkBandwidthByLink: Record<string, number>;
  /** One full walk to a 4 KiB leaf, ns (default 100 cycles at 1481 MHz). */
  walkNs4K: number;
  /** One full walk to a 2 MiB leaf, ns (default 66 cycles at 1481 MHz). */
  walkNs2M: number;
  /** Levels of a full walk to a 4 KiB leaf (default 4). */
  walkLevels4K: number;
  /** Levels of a full walk to a 2 MiB leaf (default 3). */
  walkLevels2M: number;
  /** Latency of one access across the link, ns (default 1,000). */
  remoteAccessNs: number;
  /** One access to the accessor's own memory, ns (default 1). */
  localAccessNs: number;
  /** Fixed cost of each migration, ns (default 0). */
  migrationSetupNs: number;
}

/** The defaults (see the module comment for sources). */
export const DEFAULT_COST_PARAMS: Readonly<CostParams> = Object.freeze({
  farFaultNs: 45_000,
  linkBandwidth: 16e9,
  linkBandwidthByLink: Object.freeze({}) as Record<string, number>,
  walkNs4K: 100e3 / 1481,
  walkNs2M: 66e3 / 1481,
  walkLevels4K: 4,
  walkLevels2M: 3,
  remoteAccessNs: 1_000,
  localAccessNs: 1,
  migrationSetupNs: 0,
});

type Kind = "time" | "bandwidth" | "levels";
type ScalarKey = Exclude<keyof CostParams, "linkBandwidthByLink">;

/** The scalar parameters and the kind of value each takes. */
const KINDS: Readonly<Record<ScalarKey, Kind>> = {
  farFaultNs: "time",
  linkBandwidth: "bandwidth",
  walkNs4K: "time",
  walkNs2M: "time",
  walkLevels4K: "levels",
  walkLevels2M: "levels",
  remoteAccessNs: "time",
  localAccessNs: "time",
  migrationSetupNs: "time",
};

const LINK_KEY = "linkBandwidth.<from>-><to>";

/** The keys {@link CostModel.setParam} accepts. */
export const COST_PARAM_KEYS: readonly string[] = [...Object.keys(KINDS), LINK_KEY];

const TIME_UNITS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, μs: 1e3, ms: 1e6, s: 1e9 };
// prettier-ignore
const RATE_UNITS: Record<string, number> = {
  B: 1, kB: 1e3, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30,
  TiB: 2 ** 40,
};
const VALUE_RE = /^((?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*(\S*)$/i;
const EXAMPLES: Record<Kind, string> = {
  time: "a time, e.g. 45us, 100ns, 1.5ms, 2s, or a number of ns",
  bandwidth: "a bandwidth, e.g. 16GB/s, 12.5GiB/s, 500MB/s, or a number of bytes/s",
  levels: "a whole number of levels >= 1, e.g. 4",
};

/** Parse `text` (or a number in base units) as a value of `kind`; undefined if it is not one. */
function parseValue(kind: Kind, value: string | number): number | undefined {
  let n: number;
  if (typeof value === "number") n = value;
  else {
    const m = VALUE_RE.exec(value.trim());
    if (!m) return undefined;
    const unit = m[2]!;
    const factor =
      unit === ""
        ? 1
        : kind === "time"
          ? TIME_UNITS[unit.toLowerCase()]
          : kind === "bandwidth" && unit.endsWith("/s")
            ? RATE_UNITS[unit.slice(0, -2)]
            : undefined;
    if (factor === undefined) return undefined;
    n = Number(m[1]) * factor;
  }
  if (!Number.isFinite(n) || n < 0) return undefined;
  if (kind === "bandwidth" && n === 0) return undefined;
  if (kind === "levels" && (!Number.isInteger(n) || n < 1)) return undefined;
  return n;
}

/** A link's name: `from->to`, with `cpu` named `host`. */
export function linkName(from: string, to: string): string {
  return `${from === "cpu" ? "host" : from}->${to === "cpu" ? "host" : to}`;
}

/** Time and bytes of one link's migrations. */
export interface LinkCost {
  ns: number;
  bytes: number;
  count: number;
}

/** Where the simulated time went, and how many events of each kind there were. */
export interface CostBreakdown {
  totalNs: number;
  faultsNs: number;
  walksNs: number;
  migrationsNs: number;
  remoteNs: number;
  localNs: number;
  /** Migrations per link, by {@link linkName}. */
  migrationByLink: Record<string, LinkCost>;
  counts: CostCounts;
}

const COUNT_KEYS = ["farFaults", "walks", "migrations", "remoteAccesses", "localAccesses"] as const;

/** How many events of each kind the model priced. */
export type CostCounts = Record<(typeof COUNT_KEYS)[number], number>;

const noCounts = (): CostCounts => Object.fromEntries(COUNT_KEYS.map((k) => [k, 0])) as CostCounts;

/**
 * Prices the core's events with {@link CostParams} and keeps the simulated clock.
 *
 * @example
 * const cost = new CostModel({ farFaultNs: 20_000 });
 * cost.setParam("linkBandwidth.host->gpu0", "12GB/s");
 * cost.farFault("gpu0"); cost.migrate(2 << 20, "host", "gpu0");
 * cost.timeNs; // 20,000 + 2 MiB / 12 GB/s
 */
export class CostModel implements GmemCostSink {
  /** The parameters; change them with {@link setParam}, which checks values. */
  readonly params: CostParams;
  private faultsNs = 0;
  private walksNs = 0;
  private migrationsNs = 0;
  private remoteNs = 0;
  private localNs = 0;
  private counts = noCounts();
  /** from -> to -> the link's totals (nested maps: no string built per migration). */
  private readonly links = new Map<string, Map<string, LinkCost & { name: string }>>();
  /** who -> the name of the link `host->who` (no string built per remote access). */
  private readonly remoteLinks = new Map<string, string>();

  constructor(params: Partial<CostParams> = {}) {
    checkObject("new CostModel", "params", params);
    if (params.linkBandwidthByLink !== undefined)
      checkObject("new CostModel", "params.linkBandwidthByLink", params.linkBandwidthByLink);
    this.params = { ...DEFAULT_COST_PARAMS, linkBandwidthByLink: {} };
    for (const [key, value] of Object.entries(params)) {
      if (key === "linkBandwidthByLink") {
        for (const [link, bw] of Object.entries(value as Record<string, number>))
          this.setParam(`linkBandwidth.${link}`, bw);
      } else if (value !== undefined) this.setParam(key, value as number);
    }
  }

  /** Simulated time so far, ns: the sum of every event's cost (one serial clock). */
  get timeNs(): number {
    return this.faultsNs + this.walksNs + this.migrationsNs + this.remoteNs + this.localNs;
  }

  /** Bandwidth of the link `from->to` (its override, else `linkBandwidth`), bytes/s. */
  bandwidth(from: string, to: string): number {
    checkName("bandwidth", "from", from);
    checkName("bandwidth", "to", to);
    return this.params.linkBandwidthByLink[linkName(from, to)] ?? this.params.linkBandwidth;
  }

  farFault(_who: string): void {
    this.faultsNs += this.params.farFaultNs;
    this.counts.farFaults++;
  }

  walk(_who: string, levels: number, leafSize: number): void {
    if (!(levels >= 0)) fail("EINVAL", `walk of ${levels} levels`, "levels");
    const p = this.params;
    const perLevel =
      leafSize >= 0x20_0000 ? p.walkNs2M / p.walkLevels2M : p.walkNs4K / p.walkLevels4K;
    this.walksNs += levels * perLevel;
    this.counts.walks++;
  }

  migrate(bytes: number, from: string, to: string): void {
    if (!(bytes >= 0)) fail("EINVAL", `migration of ${bytes} bytes`, "bytes");
    let byTo = this.links.get(from);
    if (byTo === undefined) this.links.set(from, (byTo = new Map<string, never>()));
    let link = byTo.get(to);
    if (link === undefined)
      byTo.set(to, (link = { name: linkName(from, to), ns: 0, bytes: 0, count: 0 }));
    const bw = this.params.linkBandwidthByLink[link.name] ?? this.params.linkBandwidth;
    const ns = this.params.migrationSetupNs + (bytes * 1e9) / bw;
    link.ns += ns;
    link.bytes += bytes;
    link.count++;
    this.migrationsNs += ns;
    this.counts.migrations++;
  }

  remoteAccess(who: string, bytes: number): void {
    let name = this.remoteLinks.get(who);
    if (name === undefined) this.remoteLinks.set(who, (name = linkName("host", who)));
    const bw = this.params.linkBandwidthByLink[name] ?? this.params.linkBandwidth;
    this.remoteNs += this.params.remoteAccessNs + (bytes * 1e9) / bw;
    this.counts.remoteAccesses++;
  }

  localAccess(_who: string, _bytes: number): void {
    this.localNs += this.params.localAccessNs;
    this.counts.localAccesses++;
  }

  /** Where the time went (a fresh object, JSON-ready). */
  breakdown(): CostBreakdown {
    const migrationByLink: Record<string, LinkCost> = {};
    for (const byTo of this.links.values())
      for (const l of byTo.values()) {
        const sum = (migrationByLink[l.name] ??= { ns: 0, bytes: 0, count: 0 });
        sum.ns += l.ns; // `cpu->x` and `host->x` are one link
        sum.bytes += l.bytes;
        sum.count += l.count;
      }
    return {
      totalNs: this.timeNs,
      faultsNs: this.faultsNs,
      walksNs: this.walksNs,
      migrationsNs: this.migrationsNs,
      remoteNs: this.remoteNs,
      localNs: this.localNs,
      migrationByLink,
      counts: { ...this.counts },
    };
  }

  /** Back to time 0 with no events; the parameters stay. */
  reset(): void {
    this.faultsNs = this.walksNs = this.migrationsNs = this.remoteNs = this.localNs = 0;
    this.counts = noCounts();
    this.links.clear();
  }

  /**
   * Set one parameter from a `--set KEY=VALUE`: times as `45us`, `100ns`, `1.5ms`, `2s` or a
   * number of ns; bandwidths as `16GB/s` (decimal units: kB, MB, GB, TB), `16GiB/s` (binary),
   * or a number of bytes/s; levels as a whole number. `linkBandwidth.host->gpu0` sets one link
   * (`cpu` means `host`). EINVAL naming the key and the value, with the valid keys.
   */
  setParam(key: string, value: string | number): void {
    checkName("setParam", "key", key);
    if (typeof value !== "string" && typeof value !== "number")
      badArgument("setParam", "value", "be a string or a number", value);
    const bad = (what: string): never => fail("EINVAL", `cost parameter ${key}: ${what}`, key);
    const dot = key.indexOf(".");
    const base = dot >= 0 ? key.slice(0, dot) : key;
    const link = dot >= 0 ? key.slice(dot + 1) : undefined;
    const scalar = Object.prototype.hasOwnProperty.call(KINDS, key);
    const kind = scalar
      ? KINDS[key as ScalarKey]
      : base === "linkBandwidth"
        ? "bandwidth"
        : undefined;
    if (kind === undefined) {
      const hint =
        link === undefined
          ? didYouMean(key, Object.keys(KINDS))
          : didYouMean(base, ["linkBandwidth"]) && `, did you mean "linkBandwidth.${link}"?`;
      const valid = COST_PARAM_KEYS.join(", ");
      fail("EINVAL", `unknown cost parameter "${key}"${hint} (valid: ${valid})`, key);
    }
    const n = parseValue(kind, value) ?? bad(`${JSON.stringify(value)} is not ${EXAMPLES[kind]}`);
    if (link === undefined) {
      this.params[key as ScalarKey] = n;
      return;
    }
    const m = /^(.+?)->(.+)$/.exec(link);
    if (!m || /\s|->/.test(m[2]!) || /\s/.test(m[1]!))
      bad(`"${link}" is not a link "from->to" (e.g. host->gpu0)`);
    this.params.linkBandwidthByLink[linkName(m![1]!, m![2]!)] = n;
  }
}

/** A duration for people: `850 ns`, `67.52 ns`, `131.07 us`, `45 ms`, `1.2 s`. */
export function formatDuration(ns: number): string {
  let i = 0;
  while (i < 3 && ns >= 1e3 ** (i + 1)) i++;
  return `${Number((ns / 1e3 ** i).toFixed(2))} ${["ns", "us", "ms", "s"][i]}`;
}
