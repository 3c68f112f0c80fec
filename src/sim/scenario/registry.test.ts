import { z } from "zod";
import { describe, expect, it } from "vitest";

import { isMemweaveError } from "../../base/errors.js";
import { formatScenarioError, parseScenario } from "./parse.js";
import { createStepRegistry } from "./registry.js";
import { runScenario } from "./run.js";
import { scenarioJsonSchema } from "./schema.js";
import type { StepModule } from "./step-module.js";
import { defineStep } from "./step-module.js";
import { physSteps, statisticsSteps } from "./steps/index.js";
import { addressSchema, showAddress } from "./values.js";

/** A module of another system: it only needs the StepModule interface. */
const poke = defineStep({
  schema: z.strictObject({ op: z.literal("poke"), addr: addressSchema, times: z.number().int() }),
  describe: (step) => `poke ${showAddress(step.addr)} ${step.times} times`,
  run(ctx, step) {
    const pa = ctx.resolve(step.addr);
    const before = ctx.platform.read(pa, 1)[0]!;
    ctx.platform.write(pa, new Uint8Array([(before + step.times) & 0xff]));
    ctx.expect(step.times > 0, `poked ${step.times} times`);
    return { summary: `byte at ${pa} is now ${(before + step.times) & 0xff}`, output: { pa } };
  },
});
const pokeSteps: StepModule = { name: "poke", ops: { poke } };

const TEXT = `version: 1
name: custom
machine:
  regions: [{ name: dram, base: 0x8000_0000, size: 1M, kind: ram }]
  targets: [{ name: system, allocator: buddy, ranges: [{ region: dram }] }]
steps:
  - { op: alloc, target: system, size: 4K, as: b }
  - { op: poke, addr: b + 1, times: 3 }
  - { op: read, addr: b + 1, expect: "03" }
  - { op: poke, addr: nowhere, times: 1, expectError: ENOENT }
`;

describe("step registry", () => {
  it("composes modules: their ops validate, run, and appear in the JSON Schema", () => {
    const registry = createStepRegistry([physSteps, pokeSteps]);
    expect(registry.ops).toContain("poke");
    expect(registry.moduleOf("poke")).toBe(pokeSteps);
    const r = parseScenario(TEXT, "c.yaml", { registry });
    if (!r.ok) throw new Error(r.errors.map(formatScenarioError).join("\n"));
    const result = runScenario(r.scenario, { registry });
    expect(result.ok).toBe(true);
    expect(result.steps.map((s) => [s.description, s.status])).toEqual([
      ["alloc 4 KiB from system as b", "ok"],
      ["poke b+0x1 3 times", "ok"],
      ["read 1 byte at b+0x1", "ok"],
      ["poke nowhere 1 times", "expected-error"],
    ]);
    const ops = JSON.stringify(scenarioJsonSchema(registry));
    expect(ops).toContain('"const":"poke"');
  });

  it("the default registry refuses ops it does not know, at their position", () => {
    const r = parseScenario(TEXT, "c.yaml");
    expect(r.ok ? [] : r.errors.map(formatScenarioError)).toEqual([
      'c.yaml:8:11: steps[1].op: unknown op "poke" (expected one of: alloc, free, write, read, fill, copy, expect, stats, map, unmap, protect, access, translate, dump, tlbi, smmu, stream, who, expectIsolated, aliases, stale, load, vcm.* (40 ops), gunyah.* (33 ops), gmem.* (6 ops))',
      'c.yaml:10:11: steps[3].op: unknown op "poke" (expected one of: alloc, free, write, read, fill, copy, expect, stats, map, unmap, protect, access, translate, dump, tlbi, smmu, stream, who, expectIsolated, aliases, stale, load, vcm.* (40 ops), gunyah.* (33 ops), gmem.* (6 ops))',
    ]);
  });

  it("a step that throws something other than a MemweaveError is an internal error and stops the run", () => {
    const boom = defineStep({
      schema: z.strictObject({ op: z.literal("boom") }),
      describe: () => "boom",
      run: () => {
        throw new TypeError("a bug");
      },
    });
    const registry = createStepRegistry([
      physSteps,
      statisticsSteps,
      { name: "boom", ops: { boom } },
    ]);
    const text = TEXT.replace(
      /steps:[\s\S]*/,
      "steps:\n  - { op: boom, expectError: EINVAL }\n  - { op: stats }\n",
    );
    const r = parseScenario(text, "b.yaml", { registry });
    if (!r.ok) throw new Error(r.errors.map(formatScenarioError).join("\n"));
    const result = runScenario(r.scenario, { registry });
    expect(result.steps.map((s) => s.status)).toEqual(["failed", "skipped"]);
    expect(result.steps[0]!.error).toEqual({ code: "INTERNAL", message: "a bug" });
    expect(result.stoppedAt).toBe(0);
    expect(result.expectations.list).toEqual([
      { step: 0, passed: false, message: "boom: internal error: a bug" },
    ]);
  });

  it("refuses two modules with the same op, and an op named unlike its schema", () => {
    const twice = () =>
      createStepRegistry([physSteps, { name: "again", ops: { alloc: physSteps.ops.alloc! } }]);
    expect(twice).toThrow(/"alloc" is defined by both "phys" and "again"/);
    try {
      twice();
    } catch (e) {
      expect(isMemweaveError(e, "EEXIST")).toBe(true);
    }
    expect(() => createStepRegistry([{ name: "odd", ops: { pokes: poke } }])).toThrow(/op "pokes"/);
    expect(() => createStepRegistry([])).toThrow(/at least one/);
  });
});
