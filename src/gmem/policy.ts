/**
 * The decisions a policy changes, and the two named policies: `gmem` (the RFC's and openEuler's)
 * and `uvm` (NVIDIA UVM's, kernel-open/nvidia-uvm; ../shared/reference/gmem-uvm.md §3).
 *
 * | switch              | gmem       | uvm     | what it does                                        |
 * | ------------------- | ---------- | ------- | --------------------------------------------------- |
 * | `residency`         | `"block"`  | `"page"`| whole 2 MiB blocks move, or 4 KiB pages (64 KiB big pages with the prefetcher) with residency per 4 KiB page inside each block (UVM's VA block) |
 * | `faultBatch`        | 0 (off)    | 256     | device faults are buffered and served in batches, duplicates coalesced, one service per VA block |
 * | `prefetch`          | `"none"`   | `"tree"`| UVM's bitmap-tree prefetcher inside each block (and 64 KiB big pages) |
 * | `prefetchThreshold` | 51         | 51      | percent of a subtree resident-or-faulted above which the subtree is prefetched |
 * | `thrashing`         | false      | true    | thrashing detection and pinning                      |
 * | `thrashingEvents`   | 3          | 3       | migrations each within the lapse of the previous one that make a page thrashing |
 * | `thrashingLapseUs`  | 500        | 500     | the lapse, simulated microseconds                    |
 * | `thrashingPinMs`    | 150        | 150     | how long a thrashing page stays pinned (0: for ever) |
 * | `hints`             | false      | true    | preferred-location and accessed-by hints accepted    |
 * | `eviction`          | `"migrated"` | `"migrated"` | the active list's order (below)              |
 *
 * The other fields: `granularity` is the logical page (2 MiB: the block, the hnode frame, UVM's
 * root chunk — the eviction unit under both policies); `evictBatch` / `evictRounds` are the
 * eviction rounds: openEuler's 16 frames per round (10 rounds) under `gmem`, one root chunk at a
 * time under `uvm` (uvm_pmm_gpu.c evicts a chunk when an allocation finds none free).
 *
 * `eviction: "migrated"` orders the active list by migration (a frame goes to the tail when data
 * arrives in it and on WILLNEED / PINNED / MARK_HOT touches), as openEuler's active list and
 * UVM's chunk lists are in practice; `"accessed"` also moves a frame to the tail on every device
 * access that hits it: true LRU, which neither GMEM nor UVM does.
 *
 * What the UVM switches do in detail, and the counters under each policy: uvm/index.ts.
 */
import { fail } from "../base/errors.js";
import { badArgument, checkObject } from "../base/validate.js";
import { didYouMean } from "../base/suggest.js";
import { HPAGE } from "./types.js";

export type EvictionOrder = "migrated" | "accessed";
export type Residency = "block" | "page";
export type PrefetchKind = "none" | "tree";

export interface GmemPolicy {
  /** The logical page and eviction unit: 2 MiB (what moves is `residency`'s). */
  readonly granularity: number;
  /** Pages evicted per round when an hnode has no free page (openEuler: 16). */
  readonly evictBatch: number;
  /** Rounds of eviction before an allocation gives up (openEuler: 10). */
  readonly evictRounds: number;
  /** What orders the active list. */
  readonly eviction: EvictionOrder;
  /** Whole 2 MiB blocks, or residency per 4 KiB page inside each block. */
  readonly residency: Residency;
  /** Fault entries per batch; 0 or 1: every fault served at once. */
  readonly faultBatch: number;
  readonly prefetch: PrefetchKind;
  /** Percent (1..100): a subtree more resident-or-faulted than this is prefetched. */
  readonly prefetchThreshold: number;
  readonly thrashing: boolean;
  /** Thrashing events (migrations within the lapse of the previous one) that make thrashing. */
  readonly thrashingEvents: number;
  readonly thrashingLapseUs: number;
  /** Pin time of a thrashing page, simulated ms (0: pinned for ever). */
  readonly thrashingPinMs: number;
  /** Preferred-location and accessed-by hints accepted. */
  readonly hints: boolean;
}

export type PolicyName = "gmem" | "uvm";

/** The `gmem` policy. */
export const GMEM_POLICY: GmemPolicy = Object.freeze({
  granularity: HPAGE,
  evictBatch: 16,
  evictRounds: 10,
  eviction: "migrated",
  residency: "block",
  faultBatch: 0,
  prefetch: "none",
  prefetchThreshold: 51,
  thrashing: false,
  thrashingEvents: 3,
  thrashingLapseUs: 500,
  thrashingPinMs: 150,
  hints: false,
});

/** The `uvm` policy: UVM's defaults. */
export const UVM_POLICY: GmemPolicy = Object.freeze({
  ...GMEM_POLICY,
  // One root chunk evicted per allocation that finds none free (uvm_pmm_gpu.c), not 16.
  evictBatch: 1,
  residency: "page",
  faultBatch: 256,
  prefetch: "tree",
  thrashing: true,
  hints: true,
});

/** The policies by name. */
export const POLICIES: Readonly<Record<PolicyName, GmemPolicy>> = Object.freeze({
  gmem: GMEM_POLICY,
  uvm: UVM_POLICY,
});

/** The keys of a policy, in order. */
export const POLICY_KEYS: readonly (keyof GmemPolicy)[] = Object.keys(GMEM_POLICY) as Array<
  keyof GmemPolicy
>;

const ONE_OF: Partial<Record<keyof GmemPolicy, readonly string[]>> = {
  eviction: ["migrated", "accessed"],
  residency: ["block", "page"],
  prefetch: ["none", "tree"],
};

/** Why `v` is not a value of `key`, or undefined if it is one. */
function invalid(key: keyof GmemPolicy, v: unknown): string | undefined {
  const choices = ONE_OF[key];
  if (choices !== undefined)
    return choices.includes(v as string)
      ? undefined
      : `is not ${choices.map((c) => `"${c}"`).join(" or ")}`;
  if (key === "thrashing" || key === "hints")
    return typeof v === "boolean" ? undefined : "is not true or false";
  const n = v as number;
  if (typeof v !== "number" || !Number.isFinite(n)) return "is not a number";
  switch (key) {
    case "granularity":
      return n === HPAGE
        ? undefined
        : "is not 2 MiB (the block and eviction unit; set residency: page for 4 KiB pieces)";
    case "evictBatch":
    case "evictRounds":
    case "thrashingEvents":
      return Number.isSafeInteger(n) && n >= 1 ? undefined : "is not a whole number >= 1";
    case "faultBatch":
      return Number.isSafeInteger(n) && n >= 0 ? undefined : "is not a whole number >= 0";
    case "prefetchThreshold":
      return Number.isInteger(n) && n >= 1 && n <= 100 ? undefined : "is not a percent in 1..100";
    case "thrashingLapseUs":
      return n > 0 ? undefined : "is not a time > 0 (microseconds)";
    case "thrashingPinMs":
      return n >= 0 ? undefined : "is not a time >= 0 (milliseconds; 0: for ever)";
    case "eviction":
    case "residency":
    case "prefetch":
      return undefined; // checked above
  }
}

function show(v: unknown): string {
  return typeof v === "string" ? `"${v}"` : String(v);
}

/**
 * A policy: the named one (`"gmem"`, `"uvm"`) or fields over the `gmem` policy, then `overrides`
 * over that — checked: EINVAL naming the key and the value (an unknown key with the closest
 * known one, an unknown name likewise). Frozen.
 *
 * @example
 * resolvePolicy("uvm", { faultBatch: 0 }); // UVM without fault batching
 * resolvePolicy({ thrashing: true });      // gmem with thrashing detection alone
 */
/** EINVAL unless `v` is a policy name (a string) or an object of policy fields. */
export function checkPolicyChoice(fn: string, name: string, v: unknown): void {
  if (typeof v !== "string" && (typeof v !== "object" || v === null || Array.isArray(v)))
    badArgument(fn, name, "be a policy name or an object of policy fields", v);
}

export function resolvePolicy(
  base: PolicyName | Partial<GmemPolicy> = {},
  overrides: Partial<GmemPolicy> = {},
): GmemPolicy {
  checkPolicyChoice("resolvePolicy", "base", base);
  checkObject("resolvePolicy", "overrides", overrides);
  let from: Partial<GmemPolicy>;
  if (typeof base === "string") {
    const names = Object.keys(POLICIES);
    if (!names.includes(base))
      fail(
        "EINVAL",
        `unknown policy "${base}"${didYouMean(base, names)} (policies: ${names.join(", ")})`,
        "policy",
      );
    from = POLICIES[base];
  } else from = base;
  const out: Record<string, unknown> = { ...GMEM_POLICY };
  for (const src of [from, overrides])
    for (const [key, value] of Object.entries(src)) {
      if (!(POLICY_KEYS as readonly string[]).includes(key))
        fail(
          "EINVAL",
          `policy: unknown key "${key}"${didYouMean(key, POLICY_KEYS)} (keys: ${POLICY_KEYS.join(", ")})`,
          key,
        );
      if (value !== undefined) out[key] = value;
    }
  for (const key of POLICY_KEYS) {
    const why = invalid(key, out[key]);
    if (why !== undefined) fail("EINVAL", `policy: ${key} ${show(out[key])} ${why}`, key);
  }
  return Object.freeze(out) as unknown as GmemPolicy;
}

/** True if the policy needs more than the core's paths (the uvm engine, uvm/engine.ts). */
export function needsPolicyEngine(p: GmemPolicy): boolean {
  return (
    p.residency === "page" || p.faultBatch > 1 || p.prefetch !== "none" || p.thrashing || p.hints
  );
}
