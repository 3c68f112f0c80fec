import { describe, expect, it } from "vitest";

import type { ScenarioStep } from "./registry.js";
import { checkStepNames, expectationWarnings } from "./static-check.js";
import { defaultStepRegistry } from "./steps/index.js";

/** Steps as the loader validates them (so the schemas' transforms and markers apply). */
function steps(...raw: object[]): ScenarioStep[] {
  return raw.map((s) => defaultStepRegistry.stepSchema.parse(s));
}

/** The problems of `raw`, as `path code: message` lines. */
function problems(...raw: object[]): string[] {
  return checkStepNames(steps(...raw), defaultStepRegistry).map(
    (p) => `${p.path.join(".")} ${p.code}: ${p.message}`,
  );
}

const alloc = (as: string, extra: object = {}) => ({
  op: "alloc",
  target: "system",
  size: "4K",
  as,
  ...extra,
});

describe("checkStepNames: names followed step by step", () => {
  it("a name used before any step binds it, with a suggestion among those bound", () => {
    const found = checkStepNames(
      steps(alloc("frame"), { op: "free", alloc: "fram" }),
      defaultStepRegistry,
    );
    expect(found).toEqual([
      {
        path: ["steps", 1, "alloc"],
        code: "unknown-name",
        message:
          'no allocation named "fram" is bound by an earlier step, did you mean "frame"? (bound by then: frame)',
        suggestion: "frame",
      },
    ]);
  });

  it("a name bound by a later step is not bound yet", () => {
    expect(problems({ op: "free", alloc: "buf" }, alloc("buf"))).toEqual([
      'steps.0.alloc unknown-name: no allocation named "buf" is bound by an earlier step (bound by then: none)',
    ]);
  });

  it("alloc, free, then use: the name was freed", () => {
    expect(
      problems(alloc("buf"), { op: "free", alloc: "buf" }, { op: "free", alloc: "buf" }),
    ).toEqual([
      'steps.2.alloc freed-name: allocation "buf" was freed at steps[1]; bind it again before using it',
    ]);
  });

  it("a name may be bound again once freed, not while its object is live", () => {
    expect(problems(alloc("buf"), { op: "free", alloc: "buf" }, alloc("buf"))).toEqual([]);
    expect(problems(alloc("buf"), alloc("buf"))).toEqual([
      'steps.1.as name-in-use: name "buf" is still bound to a live allocation (bound at steps[0]); free it first or choose another name',
    ]);
  });

  it("a name of another kind: the kind it has and where it was bound", () => {
    expect(
      problems(alloc("buf"), { op: "vcm.reserve", vcm: "buf", len: "4K", attr: 0, as: "r" }),
    ).toEqual(['steps.1.vcm wrong-kind: "buf" is an allocation (bound at steps[0]), not a VCM']);
  });

  it("addresses written with a name need it bound (any kind); freed ones still resolve", () => {
    expect(
      problems(
        alloc("buf"),
        { op: "write", addr: "bu + 4", data: "00" },
        { op: "free", alloc: "buf" },
        { op: "read", addr: "buf", size: 1 },
      ),
    ).toEqual([
      'steps.1.addr unknown-name: nothing named "bu" is bound by an earlier step, did you mean "buf"? (bound by then: buf)',
    ]);
  });
});

describe("checkStepNames: conservative where the run decides", () => {
  it("expectError hides the problem the run fails with, and only that one", () => {
    expect(problems({ op: "free", alloc: "buf", expectError: "ENOENT" })).toEqual([]);
    expect(problems({ op: "free", alloc: "buf", expectError: "ENOMEM" })).toHaveLength(1);
    expect(
      problems(
        alloc("buf"),
        { op: "free", alloc: "buf" },
        { op: "free", alloc: "buf", expectError: "EINVAL" },
      ),
    ).toEqual([]);
    expect(problems(alloc("buf"), alloc("buf", { expectError: "EEXIST" }))).toEqual([]);
  });

  it("a name bound under expectError may or may not be bound: never an error later", () => {
    expect(
      problems(
        alloc("big", { size: "1G", expectError: "ENOMEM" }),
        { op: "free", alloc: "big" },
        alloc("big"),
      ),
    ).toEqual([]);
  });

  it("a freeing step under expectError may or may not free", () => {
    expect(
      problems(
        alloc("buf"),
        { op: "free", alloc: "buf", expectError: "EBUSY" },
        { op: "free", alloc: "buf" },
      ),
    ).toEqual([]);
  });

  it("a step that may fail leaves a freed name freed, and a live one bound", () => {
    expect(
      problems(
        alloc("buf"),
        { op: "free", alloc: "buf" },
        { op: "free", alloc: "buf", expectError: "EINVAL" },
        { op: "free", alloc: "buf" },
      ),
    ).toEqual([
      'steps.3.alloc freed-name: allocation "buf" was freed at steps[1]; bind it again before using it',
    ]);
    expect(problems(alloc("buf"), alloc("buf", { expectError: "EEXIST" }), alloc("buf"))).toEqual([
      'steps.2.as name-in-use: name "buf" is still bound to a live allocation (bound at steps[0]); free it first or choose another name',
    ]);
  });

  it("a clone binds the names the manager gives (<clone>.res0): maybe bound", () => {
    expect(
      problems(
        { op: "vcm.create", start: 0x1000_0000, len: "16M", as: "v" },
        { op: "vcm.reserve", vcm: "v", len: "4K", attr: 0, as: "r" },
        { op: "vcm.clone", vcm: "v", as: "c" },
        { op: "vcm.resInfo", res: "c.res0" },
        { op: "vcm.resInfo", res: "d.res0" },
      ),
    ).toEqual([
      'steps.4.res unknown-name: no reservation named "d.res0" is bound by an earlier step (bound by then: r)',
    ]);
  });

  it("GMEM's named addresses are its mappings, not bound names", () => {
    expect(problems({ op: "gmem.access", who: "cpu", access: "r", va: "buf + 4K" })).toEqual([]);
  });

  it("Gunyah: VM and parcel names anywhere in a step; built-in VM names and `parcel: none` are no bound names", () => {
    expect(
      problems(
        { op: "gunyah.vmAllocate", as: "guest" },
        {
          op: "gunyah.lend",
          acl: [{ vm: "guest", rights: "rwx" }],
          sgl: [{ ipa: 0x8000_0000, size: "64K" }],
          as: "loan",
        },
        { op: "gunyah.who", addr: 0x8000_0000, expect: [{ vm: "hlos", parcel: "none" }] },
        { op: "gunyah.who", addr: 0x8000_0000, expect: [{ vm: "gest", parcel: "lona" }] },
      ),
    ).toEqual([
      'steps.3.expect.0.vm unknown-name: no VM named "gest" is bound by an earlier step, did you mean "guest"? (bound by then: guest)',
      'steps.3.expect.0.parcel unknown-name: no parcel named "lona" is bound by an earlier step, did you mean "loan"? (bound by then: loan)',
    ]);
  });

  it("Gunyah's bindings are conditional (an RPC may be expected to fail): bound again freely", () => {
    expect(
      problems({ op: "gunyah.vmAllocate", as: "g" }, { op: "gunyah.vmAllocate", as: "g" }),
    ).toEqual([]);
  });
});

describe("expectationWarnings", () => {
  it("warns when no step checks anything", () => {
    expect(expectationWarnings(steps(alloc("buf")), defaultStepRegistry)).toEqual([
      {
        path: ["steps"],
        code: "no-expectations",
        message:
          "no step checks anything (no expect, expect… key or expectError): the run passes whatever the model does",
      },
    ]);
    expect(expectationWarnings([], defaultStepRegistry)[0]?.message).toBe(
      "the scenario has no steps, so it checks nothing",
    );
  });

  it("an expect… key, expectError, or a step that checks by itself is enough", () => {
    for (const s of [
      { op: "read", addr: 0x8000_0000, expect: "00" },
      { op: "free", alloc: "x", expectError: "ENOENT" },
      { op: "expect", target: "system", liveAllocations: 0 },
      { op: "expectIsolated", masters: ["cpu0"], addr: 0x8000_0000 },
      { op: "gunyah.isolated", vms: ["hlos"], addr: 0x8000_0000 },
    ])
      expect(expectationWarnings(steps(alloc("buf"), s), defaultStepRegistry)).toEqual([]);
  });
});
