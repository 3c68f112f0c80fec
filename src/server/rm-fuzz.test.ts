/**
 * A short seeded socket fuzz (the long one is `npm run fuzz`): 2,000 valid, mutated and random
 * messages over real connections, connections killed mid-fragment and framing errors; the
 * endpoint keeps answering, and no refused message changes the RM's digest.
 */
import { describe, expect, it } from "vitest";

import { fuzzSocket } from "./rm-fuzz.js";

describe("fuzzSocket", () => {
  it("2,000 messages: no crash, every probe answered, refused messages change nothing", async () => {
    const r = await fuzzSocket({ messages: 2_000, seed: 0x5eed });
    expect(r.messages).toBe(2_000);
    expect(r.okReplies).toBeGreaterThan(100);
    expect(r.errorReplies).toBeGreaterThan(500);
    expect(r.digestChecks).toBeGreaterThan(1_000);
    expect(r.killedMidFragment).toBeGreaterThan(20);
    expect(r.framingErrors).toBeGreaterThan(20);
    expect(r.drops).toBeGreaterThan(100);
  });

  it("is deterministic for a seed", async () => {
    const strip = ({ ms: _ms, ...rest }: Awaited<ReturnType<typeof fuzzSocket>>) => rest;
    const a = strip(await fuzzSocket({ messages: 300, seed: 7 }));
    expect(strip(await fuzzSocket({ messages: 300, seed: 7 }))).toEqual(a);
    expect(strip(await fuzzSocket({ messages: 300, seed: 8 }))).not.toEqual(a);
  });
});
