/**
 * A short seeded fuzz run: nothing throws, every kind of outcome happens, and a seed replays.
 */
import { describe, expect, it } from "vitest";

import { fuzzCodec } from "./fuzz.js";

describe("fuzzCodec", () => {
  it("feeds 20,000 valid, mutated and random messages through without an exception", () => {
    // Its speed is a benchmark's business (npm run fuzz reports messages per second).
    const report = fuzzCodec(20_000, 0x5eed);
    expect(report.messages).toBe(20_000);
    expect(report.decoded).toBeGreaterThan(5_000);
    expect(report.refused).toBeGreaterThan(5_000);
    expect(report.reassembled).toBeGreaterThan(10_000);
  });

  it("is deterministic for a seed", () => {
    expect(fuzzCodec(2_000, 7)).toEqual(fuzzCodec(2_000, 7));
    expect(fuzzCodec(2_000, 7)).not.toEqual(fuzzCodec(2_000, 8));
  });
});
