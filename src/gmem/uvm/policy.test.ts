import { describe, expect, it } from "vitest";

import { expectError } from "../../base/errors.testutil.js";
import { gmemMachine } from "../gmem.testutil.js";
import {
  GMEM_POLICY,
  needsPolicyEngine,
  POLICIES,
  POLICY_KEYS,
  resolvePolicy,
  UVM_POLICY,
} from "../policy.js";
import { HPAGE } from "../types.js";

describe("policies", () => {
  it("gmem and uvm differ in exactly the UVM switches (and UVM's one chunk per eviction)", () => {
    expect(POLICIES.gmem).toBe(GMEM_POLICY);
    expect(POLICIES.uvm).toBe(UVM_POLICY);
    const diff = POLICY_KEYS.filter((k) => GMEM_POLICY[k] !== UVM_POLICY[k]);
    expect(diff).toEqual([
      "evictBatch",
      "residency",
      "faultBatch",
      "prefetch",
      "thrashing",
      "hints",
    ]);
    expect(UVM_POLICY).toMatchObject({
      residency: "page",
      faultBatch: 256,
      prefetch: "tree",
      prefetchThreshold: 51,
      thrashing: true,
      thrashingEvents: 3,
      thrashingLapseUs: 500,
      thrashingPinMs: 150,
      eviction: "migrated",
      evictBatch: 1,
      hints: true,
      granularity: HPAGE,
    });
    expect(GMEM_POLICY).toMatchObject({ residency: "block", faultBatch: 0, prefetch: "none" });
  });

  it("resolves names, fields over gmem, and overrides; frozen", () => {
    expect(resolvePolicy()).toEqual(GMEM_POLICY);
    expect(resolvePolicy("uvm")).toEqual(UVM_POLICY);
    expect(resolvePolicy("uvm", { faultBatch: 0 })).toEqual({ ...UVM_POLICY, faultBatch: 0 });
    const p = resolvePolicy({ thrashing: true });
    expect(p).toEqual({ ...GMEM_POLICY, thrashing: true });
    expect(Object.isFrozen(p)).toBe(true);
  });

  it("refuses bad keys and values, naming them", () => {
    expectError(() => resolvePolicy("uvn" as "uvm"), "EINVAL", 'unknown policy "uvn"', '"uvm"');
    expectError(
      () => resolvePolicy({ faultbatch: 2 } as never),
      "EINVAL",
      'unknown key "faultbatch"',
      'did you mean "faultBatch"',
    );
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ residency: "4k" }, 'residency "4k" is not "block" or "page"'],
      [{ prefetch: "stream" }, 'prefetch "stream" is not "none" or "tree"'],
      [{ faultBatch: -1 }, "faultBatch -1 is not a whole number >= 0"],
      [{ faultBatch: 2.5 }, "faultBatch 2.5"],
      [{ prefetchThreshold: 0 }, "prefetchThreshold 0 is not a percent in 1..100"],
      [{ prefetchThreshold: 101 }, "prefetchThreshold 101"],
      [{ thrashing: "yes" }, 'thrashing "yes" is not true or false'],
      [{ thrashingEvents: 0 }, "thrashingEvents 0"],
      [{ thrashingLapseUs: 0 }, "thrashingLapseUs 0 is not a time > 0"],
      [{ thrashingPinMs: -1 }, "thrashingPinMs -1"],
      [{ hints: 1 }, "hints 1 is not true or false"],
      [{ granularity: 4096 }, "granularity 4096 is not 2 MiB"],
      [{ eviction: "lru" }, 'eviction "lru" is not "migrated" or "accessed"'],
    ];
    for (const [p, text] of bad) {
      const e = expectError(() => resolvePolicy(p), "EINVAL", `policy: ${text}`);
      expect(e.message).toContain(Object.keys(p)[0]);
    }
  });

  it("the core's paths serve gmem (and the eviction order); any UVM switch brings the engine", () => {
    expect(needsPolicyEngine(GMEM_POLICY)).toBe(false);
    expect(needsPolicyEngine(resolvePolicy({ eviction: "accessed" }))).toBe(false);
    for (const p of [
      { residency: "page" as const },
      { faultBatch: 256 },
      { prefetch: "tree" as const },
      { thrashing: true },
      { hints: true },
    ])
      expect(needsPolicyEngine(resolvePolicy(p)), JSON.stringify(p)).toBe(true);
    expect(needsPolicyEngine(resolvePolicy({ faultBatch: 1 }))).toBe(false);
    expect(gmemMachine().gmem.uvm).toBeUndefined();
    expect(gmemMachine({ policy: { hints: true } }).gmem.uvm).toBeDefined();
  });

  it("hints need the hints switch", () => {
    const m = gmemMachine({ policy: { residency: "page" } });
    expectError(() => m.gmem.setPreferredLocation(m.va, 4096, "cpu"), "EINVAL", "hints off");
    expectError(() => gmemMachine().gmem.setAccessedBy(0, 1, "gpu0"), "EINVAL", "hints off");
  });
});
