/**
 * Replaying a trace on GMEM: the built-in replay platform (`memweave gmem replay`'s), settings
 * by key (`--set KEY=VALUE`: cost-model parameters and policy switches), and the replay loop
 * with its results — the counters, simulated time and where it went.
 *
 * The replay platform ({@link createReplayMachine}): DRAM at 0x8000_0000 (64 MiB of page tables,
 * then `hostMemory` of host memory, a buddy target), one CPU `cpu0` running the process `app`
 * (address space `as1` over the whole user range, [0, 2^47)), one accelerator `gpu0` with
 * `deviceMemory` of device-local memory at 1 TiB (2 MiB frames, its hnode), attached in
 * COHERENT_EXCLUSIVE mode and active, and one peer-shared mapping covering every address the
 * trace touches, rounded out to 2 MiB: a fixed mapping at the lowest address rounded down. The
 * trace's addresses are thus virtual addresses inside that mapping, as they were in the process
 * that recorded it.
 *
 * Defaults (decisions): `deviceMemory` 1 GiB (512 frames: traces of a few GiB oversubscribe it,
 * small ones do not); `hostMemory` the mapping's size, at least 1 GiB — every page can be home at
 * once, so eviction never runs out of host memory.
 *
 * @example
 * const m = createReplayMachine({ bounds: { start: 0x10_0000_0000, end: 0x11_0000_0000 } });
 * const r = replayTrace(m.gmem, hotSet({ ... }), { cost: m.cost });
 * r.stats.deviceFaults; r.stats.simulatedTimeNs;
 */
import { hex, hexRange } from "../base/address.js";
import { alignDown, alignUp } from "../base/align.js";
import { fail, isMemweaveError, MemweaveError } from "../base/errors.js";
import { formatSize } from "../base/size.js";
import {
  checkArray,
  checkInstance,
  checkName,
  checkObject,
  checkOptions,
} from "../base/validate.js";
import { Accelerator } from "../devices/accelerator.js";
import { Platform } from "../devices/platform.js";
import type { GmemStats } from "./core.js";
import type { CostBreakdown, CostParams, LinkCost } from "./cost.js";
import { COST_PARAM_KEYS, CostModel } from "./cost.js";
import type { GmDev } from "./device.js";
import { Gmem } from "./gmem.js";
import type { GmemPolicy, PolicyName } from "./policy.js";
import { checkPolicyChoice, GMEM_POLICY, POLICIES, POLICY_KEYS, resolvePolicy } from "./policy.js";
import type { GmProcess } from "./process.js";
import { bytesToHex } from "./trace/csv.js";
import { closest } from "../base/suggest.js";
import type { TraceBounds } from "./trace/spec.js";
import type { TraceCursor } from "./trace/types.js";
import { newAccess } from "./trace/types.js";
import { GM_MMU_MODE, HPAGE } from "./types.js";

const M = 1024 * 1024;
const G = 1024 * M;

/** The counters a replay reports, in this order; their names are fixed (the CLI prints them). */
export const REPLAY_COUNTERS = [
  "deviceFaults",
  "hostFaults",
  "migrationsToDevice",
  "migrationsToHost",
  "evictions",
  "prefetchedPages",
  "thrashingEvents",
  "bytesToDevice",
  "bytesToHost",
] as const;

export type ReplayCounter = (typeof REPLAY_COUNTERS)[number];

/** What `--json` prints as `stats`: exactly the counters and the simulated time. */
export type ReplayStats = Record<ReplayCounter, number> & { simulatedTimeNs: number };

/** The policies by name: `gmem` (the RFC's) and `uvm` (NVIDIA UVM's). */
export const POLICY_NAMES = Object.keys(POLICIES) as PolicyName[];
export type { PolicyName };

/** A policy: by name, or fields over the `gmem` policy. */
export type PolicyChoice = PolicyName | Partial<GmemPolicy>;

/** A setting's value as people give it (`--set k=v`, a scenario's `set:`). */
export type SettingValue = string | number | boolean;

// --- policies and settings ------------------------------------------------------------------

/** The policy `name` stands for (EINVAL, with the closest name, for an unknown one). */
export function policyPreset(name: PolicyName): GmemPolicy {
  checkName("policyPreset", "name", name);
  return resolvePolicy(name);
}

/** Every policy switch by key, with the `gmem` policy's value. */
export function policyKeys(): Map<string, unknown> {
  return new Map(POLICY_KEYS.map((k) => [k, GMEM_POLICY[k]]));
}

/** The keys settings accept: the cost model's, then the policy's. */
export function settingKeys(): { cost: readonly string[]; policy: readonly string[] } {
  return { cost: COST_PARAM_KEYS, policy: [...policyKeys().keys()] };
}

const TRUE = new Set(["true", "on", "yes", "1"]);
const FALSE = new Set(["false", "off", "no", "0"]);

/** A policy value of the type of `like` (the preset's), from what people wrote. */
function policyValue(key: string, like: unknown, value: SettingValue): unknown {
  const bad = (what: string): never =>
    fail("EINVAL", `policy ${key}: ${JSON.stringify(value)} is not ${what}`, key);
  if (typeof like === "boolean") {
    if (typeof value === "boolean") return value;
    const t = String(value).trim().toLowerCase();
    return TRUE.has(t) ? true : FALSE.has(t) ? false : bad("true or false (on / off)");
  }
  if (typeof like === "number") {
    if (typeof value === "number") return value;
    if (typeof value === "boolean") return bad("a number");
    const t = value.trim();
    const n = Number(t.replace(/_/g, ""));
    if (t !== "" && Number.isFinite(n)) return n;
    try {
      return parseSizeLike(t);
    } catch {
      return bad("a number (e.g. 16, 0.5, 64K)");
    }
  }
  if (typeof value !== "string") return typeof like === "string" ? String(value) : value;
  return value.trim();
}

/** `64K`, `2M`: a size (binary units). */
function parseSizeLike(t: string): number {
  const m = /^([0-9]+)\s*([kmg])(?:i?b)?$/i.exec(t);
  if (!m) throw new Error("not a size");
  return Number(m[1]) * { k: 1024, m: M, g: G }[m[2]!.toLowerCase() as "k" | "m" | "g"];
}

/** What {@link splitSettings} made of a set of settings. */
export interface SplitSettings {
  /** Cost-model parameters, by key, as given (CostModel.setParam parses them). */
  readonly cost: ReadonlyArray<readonly [string, string | number]>;
  /** Policy fields over the preset (nested switches merged with the preset's). */
  readonly policy: Partial<GmemPolicy>;
}

/**
 * Sort settings into cost parameters (`farFaultNs=20us`, `linkBandwidth.host->gpu0=12GB/s`) and
 * policy switches (`evictBatch=32`, `eviction=accessed`, nested ones dotted), values of policy
 * switches converted to the preset's types. EINVAL for an unknown key, with the closest known one.
 */
export function splitSettings(
  set: Readonly<Record<string, SettingValue>>,
  base: GmemPolicy = policyPreset("gmem"),
): SplitSettings {
  checkObject("splitSettings", "set", set);
  checkObject("splitSettings", "base", base);
  const keys = policyKeys();
  const cost: Array<[string, string | number]> = [];
  const policy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(set)) {
    const costKey =
      COST_PARAM_KEYS.includes(key) || (key.startsWith("linkBandwidth.") && key.includes("->"));
    if (costKey) {
      if (typeof value === "boolean")
        fail("EINVAL", `cost parameter ${key}: ${String(value)} is not a value`, key);
      cost.push([key, value]);
      continue;
    }
    if (!keys.has(key)) {
      const known = [...COST_PARAM_KEYS.filter((k) => !k.includes("<")), ...keys.keys()];
      const near = closest(key, known);
      fail(
        "EINVAL",
        `unknown setting "${key}"${near !== undefined ? `, did you mean "${near}"?` : ""} (cost: ${COST_PARAM_KEYS.join(", ")}; policy: ${[...keys.keys()].join(", ")})`,
        key,
      );
    }
    const path = key.split(".");
    let like: unknown = base;
    for (const p of path) like = (like as Record<string, unknown> | undefined)?.[p];
    const v = policyValue(key, like ?? keys.get(key), value);
    let into = policy;
    let from = base as unknown as Record<string, unknown>;
    for (const p of path.slice(0, -1)) {
      from = (from[p] ?? {}) as Record<string, unknown>;
      into = (into[p] ??= { ...from }) as Record<string, unknown>;
    }
    into[path[path.length - 1]!] = v;
  }
  return { cost, policy: policy };
}

/**
 * The policy of a choice with settings over it: a name's preset (or the gmem policy under the
 * fields given), then the policy switches of `set`; checked (resolvePolicy).
 */
export function choosePolicy(
  choice: PolicyChoice = "gmem",
  set: Readonly<Record<string, SettingValue>> = {},
): { policy: GmemPolicy; cost: SplitSettings["cost"] } {
  checkPolicyChoice("choosePolicy", "choice", choice);
  checkObject("choosePolicy", "set", set);
  const base = resolvePolicy(choice);
  const split = splitSettings(set, base);
  return { policy: resolvePolicy(base, split.policy), cost: split.cost };
}

/** A cost model with `params`, then the settings' cost parameters. */
export function costModelOf(
  params: Partial<CostParams> = {},
  settings: SplitSettings["cost"] = [],
): CostModel {
  checkObject("costModelOf", "params", params);
  checkArray("costModelOf", "settings", settings).forEach((s, i) => {
    checkArray("costModelOf", `settings.${i}`, s as [string, string | number]);
  });
  const cost = new CostModel(params);
  for (const [k, v] of settings) cost.setParam(k, v);
  return cost;
}

// --- the replay platform ----------------------------------------------------------------------

export interface ReplayMachineOptions {
  /** The addresses the trace touches; the mapping covers them, rounded out to 2 MiB. */
  bounds: TraceBounds;
  /** Device-local memory of gpu0 (default 1 GiB; a multiple of 2 MiB). */
  deviceMemory?: number;
  /** Host memory (default: the mapping's size, at least 1 GiB; a multiple of 2 MiB). */
  hostMemory?: number;
  /** The policy (default `gmem`). */
  policy?: PolicyChoice;
  /** Cost parameters and policy switches by key. */
  set?: Readonly<Record<string, SettingValue>>;
  /** Cost parameters under the settings (the defaults' otherwise). */
  cost?: Partial<CostParams>;
}

/** The replay platform, built. */
export interface ReplayMachine {
  readonly platform: Platform;
  readonly gmem: Gmem;
  readonly cost: CostModel;
  readonly process: GmProcess;
  readonly dev: GmDev;
  /** The peer-shared mapping the trace runs in. */
  readonly mapping: { readonly start: number; readonly size: number };
  readonly deviceMemory: number;
  readonly hostMemory: number;
  readonly policy: GmemPolicy;
}

/** Where the replay platform's memory lies. */
export const REPLAY_LAYOUT = Object.freeze({
  dram: 0x8000_0000,
  tables: 64 * M,
  deviceLocal: 2 ** 40,
  device: "gpu0",
  cpu: "cpu0",
  defaultDeviceMemory: 1 * G,
  minHostMemory: 1 * G,
});

function memorySize(what: string, n: number, max: number): number {
  if (!Number.isSafeInteger(n) || n < HPAGE || n % HPAGE !== 0 || n > max)
    fail(
      "EINVAL",
      `${what} ${formatSize(Math.max(0, n))} is not a multiple of 2 MiB in 2 MiB..${formatSize(max)}`,
      what,
    );
  return n;
}

/** Build the replay platform (see the module comment); EINVAL for bad options. */
export function createReplayMachine(o: ReplayMachineOptions): ReplayMachine {
  const fn = "createReplayMachine";
  checkObject(fn, "options", o, ["bounds", "deviceMemory", "hostMemory", "policy", "set", "cost"]);
  checkObject(fn, "bounds", o.bounds);
  if (o.policy !== undefined) checkPolicyChoice(fn, "policy", o.policy);
  if (o.set !== undefined) checkObject(fn, "set", o.set);
  if (o.cost !== undefined) checkObject(fn, "cost", o.cost);
  const L = REPLAY_LAYOUT;
  const { start: lo, end: hi } = o.bounds;
  if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || lo < 0 || hi <= lo)
    fail("EINVAL", `trace bounds ${String(lo)}..${String(hi)} are not a range`, "bounds");
  const start = alignDown(lo, HPAGE);
  const end = alignUp(hi, HPAGE);
  if (end > 2 ** 47)
    fail(
      "EINVAL",
      `the trace touches ${hexRange(lo, hi - lo)}, beyond the 48-bit user range (addresses below 2^47 = ${hex(2 ** 47)})`,
      "bounds",
    );
  const size = end - start;
  const deviceMemory = memorySize("deviceMemory", o.deviceMemory ?? L.defaultDeviceMemory, 512 * G);
  const hostMemory = memorySize(
    "hostMemory",
    o.hostMemory ?? Math.max(L.minHostMemory, size),
    512 * G,
  );
  const { policy, cost: costSettings } = choosePolicy(o.policy ?? "gmem", o.set ?? {});
  const cost = costModelOf(o.cost ?? {}, costSettings);

  const platform = new Platform({
    regions: [{ name: "dram", base: L.dram, size: L.tables + hostMemory, kind: "ram" }],
    targets: [
      {
        name: "pgtables",
        ranges: [{ region: "dram", size: L.tables }],
        allocator: { kind: "buddy" },
      },
      {
        name: "system",
        ranges: [{ region: "dram", offset: L.tables }],
        allocator: { kind: "buddy" },
      },
    ],
  });
  const gmem = new Gmem(platform, { host: "system", tables: "pgtables", policy, cost });
  const process = gmem.createProcess("app", { cpu: L.cpu });
  const as = gmem.asCreate(process, 0, 2 ** 47);
  const accel = new Accelerator(platform, {
    name: L.device,
    localMemory: { region: { name: `${L.device}-hbm`, base: L.deviceLocal, size: deviceMemory } },
  });
  const { dev } = gmem.addAccelerator(accel, { tables: "pgtables" });
  as.attach(dev, GM_MMU_MODE.COHERENT_EXCLUSIVE, true);
  process.mmap(size, { peerShared: true, addr: start, fixed: true });
  return {
    platform,
    gmem,
    cost,
    process,
    dev,
    mapping: { start, size },
    deviceMemory,
    hostMemory,
    policy: gmem.policy,
  };
}

// --- the replay --------------------------------------------------------------------------------

/** A read whose bytes differ from the trace's value. */
export interface ReplayMismatch {
  /** The 1-based line (CSV) or record (binary), else the access's 1-based index. */
  readonly line: number;
  readonly who: string;
  readonly addr: number;
  /** Hex bytes in address order. */
  readonly expected: string;
  readonly got: string;
  /** `trace.csv:7: gpu0 read 0x200000 (4 bytes): expected deadbeef, got 00000000`. */
  readonly message: string;
}

export interface ReplayOptions {
  /** Where time is kept (default: the Gmem's sink, when it is a CostModel). */
  cost?: CostModel;
  /** Called every `progressEvery` accesses and at the end, with the accesses done. */
  onProgress?: (done: number, total: number | undefined) => void;
  /** Accesses between progress calls (default 65,536). */
  progressEvery?: number;
  /** The trace's name in messages (`trace.csv`); lines come from the accesses. */
  file?: string;
  /** Mismatches listed at most (default 10; all are counted). */
  maxMismatches?: number;
  /** Stop after this many accesses. */
  limit?: number;
}

/** What a replay did. */
export interface ReplayResult {
  /** False when a read found other bytes than the trace's value. */
  readonly ok: boolean;
  readonly accesses: number;
  readonly reads: number;
  readonly writes: number;
  /** The counters of this replay (the Gmem's after minus before) and its simulated time. */
  readonly stats: ReplayStats;
  /** Where this replay's simulated time went. */
  readonly breakdown: CostBreakdown;
  readonly mismatches: readonly ReplayMismatch[];
  readonly mismatchCount: number;
}

/** The counters of `s` in the fixed order, and a time. */
export function replayStats(s: GmemStats, simulatedTimeNs: number): ReplayStats {
  checkObject("replayStats", "stats", s);
  const out = {} as ReplayStats;
  for (const k of REPLAY_COUNTERS) out[k] = s[k];
  out.simulatedTimeNs = simulatedTimeNs;
  return out;
}

function diffLinks(
  a: Record<string, LinkCost>,
  b: Record<string, LinkCost>,
): Record<string, LinkCost> {
  const out: Record<string, LinkCost> = {};
  for (const [name, l] of Object.entries(a)) {
    const o = b[name] ?? { ns: 0, bytes: 0, count: 0 };
    if (l.count - o.count === 0) continue;
    out[name] = { ns: l.ns - o.ns, bytes: l.bytes - o.bytes, count: l.count - o.count };
  }
  return out;
}

/** `after - before`, field by field. */
export function diffBreakdown(after: CostBreakdown, before: CostBreakdown): CostBreakdown {
  checkObject("diffBreakdown", "after", after);
  checkObject("diffBreakdown", "before", before);
  const counts = { ...after.counts };
  for (const k of Object.keys(counts) as Array<keyof typeof counts>) counts[k] -= before.counts[k];
  return {
    totalNs: after.totalNs - before.totalNs,
    faultsNs: after.faultsNs - before.faultsNs,
    walksNs: after.walksNs - before.walksNs,
    migrationsNs: after.migrationsNs - before.migrationsNs,
    remoteNs: after.remoteNs - before.remoteNs,
    localNs: after.localNs - before.localNs,
    migrationByLink: diffLinks(after.migrationByLink, before.migrationByLink),
    counts,
  };
}

/**
 * Run `cursor`'s accesses from where it stands through {@link Gmem.access}: a write writes the
 * trace's value (zeros without one), a read with a value checks it (a mismatch is listed with
 * its line and makes the result not ok; the replay goes on). An access the model refuses (EFAULT
 * outside the mapping, ENOMEM) ends the replay with a MemweaveError naming the access:
 * `trace.csv:7: ...`.
 */
export function replayTrace(
  gmem: Gmem,
  cursor: TraceCursor,
  options?: ReplayOptions,
): ReplayResult {
  checkInstance("replayTrace", "gmem", gmem, Gmem);
  checkObject("replayTrace", "cursor", cursor);
  options = checkOptions("replayTrace", "options", options, [
    "cost",
    "onProgress",
    "progressEvery",
    "file",
    "maxMismatches",
    "limit",
  ]);
  const cost = options.cost ?? (gmem.sink instanceof CostModel ? gmem.sink : undefined);
  const zeroCost = new CostModel().breakdown();
  const before = { ...gmem.stats };
  const costBefore = cost?.breakdown() ?? zeroCost;
  const every = Math.max(1, options.progressEvery ?? 65_536);
  const maxMismatches = options.maxMismatches ?? 10;
  const limit = options.limit ?? Infinity;
  const file = options.file ?? "trace";
  const total = cursor.total === undefined ? undefined : Math.min(cursor.total, limit);
  const onProgress = options.onProgress;
  const mismatches: ReplayMismatch[] = [];
  let mismatchCount = 0;
  let n = 0;
  let writes = 0;
  let nextProgress = every;
  const a = newAccess();
  /** A read with a value: checked when its bytes are there (later, under fault batching). */
  const checker =
    (value: Uint8Array, line: number, who: string, addr: number) => (got: Uint8Array) => {
      if (sameBytes(got, value)) return;
      mismatchCount++;
      if (mismatches.length >= maxMismatches) return;
      const expected = bytesToHex(value);
      const shown = bytesToHex(got);
      mismatches.push({
        line,
        who,
        addr,
        expected,
        got: shown,
        message: `${file}:${line}: ${who} read ${hex(addr)} (${value.length} byte${value.length === 1 ? "" : "s"}): expected ${expected}, got ${shown}`,
      });
    };
  while (n < limit && cursor.next(a)) {
    n++;
    try {
      if (a.op === "w") {
        writes++;
        gmem.access(a.who, "w", a.addr, a.size, a.value);
      } else if (a.value === undefined) gmem.access(a.who, "r", a.addr, a.size);
      else
        gmem.access(
          a.who,
          "r",
          a.addr,
          a.size,
          undefined,
          checker(a.value, a.line ?? n, a.who, a.addr),
        );
    } catch (e) {
      if (!isMemweaveError(e)) throw e;
      throw new MemweaveError(
        e.code,
        `${file}:${a.line ?? `access ${n}`}: ${a.who} ${a.op === "w" ? "write" : "read"} at ${hex(a.addr)}: ${e.detail}`,
      );
    }
    if (n === nextProgress) {
      nextProgress += every;
      onProgress?.(n, total);
    }
  }
  try {
    // Fault batching (the uvm policy) keeps faults buffered: the end of a trace serves them.
    gmem.flush();
  } catch (e) {
    if (!isMemweaveError(e)) throw e;
    throw new MemweaveError(e.code, `${file}: at the end of the trace: ${e.detail}`);
  }
  onProgress?.(n, total);
  mismatches.sort((x, y) => x.line - y.line);
  const breakdown = diffBreakdown(cost?.breakdown() ?? zeroCost, costBefore);
  const now = gmem.stats;
  const delta = {} as GmemStats;
  for (const k of Object.keys(now) as Array<keyof GmemStats>) delta[k] = now[k] - before[k];
  return {
    ok: mismatchCount === 0,
    accesses: n,
    reads: n - writes,
    writes,
    stats: replayStats(delta, breakdown.totalNs),
    breakdown,
    mismatches,
    mismatchCount,
  };
}

/** `cursor` with `delta` added to every address (a trace recorded elsewhere, placed here). */
export function offsetCursor(cursor: TraceCursor, delta: number): TraceCursor {
  if (delta === 0) return cursor;
  return {
    get total() {
      return cursor.total;
    },
    next(out) {
      if (!cursor.next(out)) return false;
      out.addr += delta;
      return true;
    },
    rewind() {
      cursor.rewind();
    },
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
