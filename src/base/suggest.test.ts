import { describe, expect, it } from "vitest";

import { closest as closestName, didYouMean } from "./suggest.js";

describe("names", () => {
  it("suggests plausible typos only", () => {
    expect(closestName("gpu1", ["cpu", "gpu0"])).toBe("gpu0");
    expect(closestName("GPU0", ["cpu", "gpu0"])).toBe("gpu0");
    expect(closestName("farFault", ["farFaultNs", "walkNs4K"])).toBe("farFaultNs");
    expect(closestName("xyzzy", ["cpu", "gpu0"])).toBeUndefined();
    expect(didYouMean("cpux", ["cpu"])).toBe(', did you mean "cpu"?');
    expect(didYouMean("q", ["cpu"])).toBe("");
  });

  it("counts a swap of two neighbouring letters as one edit", () => {
    expect(closestName("bfu", ["buf", "frame"])).toBe("buf");
    expect(closestName("sytsem", ["system"])).toBe("system");
    expect(closestName("ab", ["ba"])).toBe("ba");
    expect(closestName("abc", ["xyz"])).toBeUndefined();
  });
});
