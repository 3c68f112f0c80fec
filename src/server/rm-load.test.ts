/**
 * A short soak (the long one, 64 x 10,000, is `npm run fuzz`): 16 VM connections — the host and
 * guests 0x80..0x8E — x 200 checked RPCs at once, with connections killed mid-fragment all the
 * while: no reply lost (a call would time out), duplicated or misrouted (stray, or the wrong
 * content: VM_GET_VMID answers each connection's own VMID).
 */
import { afterEach, expect, it } from "vitest";

import { soak } from "./rm-load.js";
import { startEndpoint, type TestEndpoint } from "./rm.testutil.js";

let t: TestEndpoint | undefined;
afterEach(async () => {
  await t?.done();
  t = undefined;
});

it("16 connections x 200 RPCs, killers about: every reply arrives once, at the right connection", async () => {
  t = await startEndpoint();
  const r = await soak(t.ep.address, { vms: 16, rpcs: 200, seed: 3 });
  expect(r).toMatchObject({ connections: 16, rpcsPerConnection: 200, strayReplies: 0 });
  expect(r.rpcs).toBeGreaterThan(16 * 200);
  expect(r.killedMidFragment).toBeGreaterThan(0);
  // Every RPC was answered by the endpoint (the allocations and probes of the setup besides).
  expect(t.ep.stats.rpcs).toBeGreaterThanOrEqual(r.rpcs);
  expect(t.ep.stats).toMatchObject({ framingErrors: 0, internalErrors: 0 });
  expect(t.ep.rm.parcels.list()).toEqual([]);
});
