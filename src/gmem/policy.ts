/**
 * The decisions a policy changes, with the `gmem` policy's values (the RFC's and openEuler's):
 * whole 2 MiB pages move, eviction takes 16 pages per round for up to 10 rounds, and the active
 * list is ordered by migration (a page goes to the tail when it arrives on the device, and on
 * WILLNEED / PINNED / MARK_HOT touches), as openEuler's active list and UVM's chunk lists are.
 *
 * `eviction: "accessed"` also moves a page to the tail on every device access that hits it:
 * true LRU, which neither GMEM nor UVM does (UVM's lists move on allocation only).
 *
 * The `uvm` policy (fault batching, the prefetch tree, thrashing detection, 4K / 64K pieces)
 * adds its fields here; see README.md "For the policies".
 */
import { fail } from "../base/errors.js";
import { HPAGE } from "./types.js";

export type EvictionOrder = "migrated" | "accessed";

export interface GmemPolicy {
  /** Bytes a migration moves (the `gmem` policy: 2 MiB, the logical page). */
  readonly granularity: number;
  /** Pages evicted per round when an hnode has no free page (openEuler: 16). */
  readonly evictBatch: number;
  /** Rounds of eviction before an allocation gives up (openEuler: 10). */
  readonly evictRounds: number;
  /** What orders the active list. */
  readonly eviction: EvictionOrder;
}

/** The `gmem` policy. */
export const GMEM_POLICY: GmemPolicy = Object.freeze({
  granularity: HPAGE,
  evictBatch: 16,
  evictRounds: 10,
  eviction: "migrated",
});

/** `GMEM_POLICY` overridden by `p`, checked (EINVAL naming the field). */
export function resolvePolicy(p: Partial<GmemPolicy> = {}): GmemPolicy {
  const out: GmemPolicy = { ...GMEM_POLICY, ...p };
  if (out.granularity !== HPAGE)
    fail(
      "EINVAL",
      `policy: granularity ${String(out.granularity)} is not 2 MiB (smaller pieces need per-4K residency, the uvm policy's)`,
      "granularity",
    );
  for (const key of ["evictBatch", "evictRounds"] as const)
    if (!Number.isSafeInteger(out[key]) || out[key] < 1)
      fail("EINVAL", `policy: ${key} ${String(out[key])} is not a positive integer`, key);
  if (out.eviction !== "migrated" && out.eviction !== "accessed")
    fail(
      "EINVAL",
      `policy: eviction "${String(out.eviction)}" is not "migrated" or "accessed"`,
      "eviction",
    );
  return Object.freeze(out);
}
