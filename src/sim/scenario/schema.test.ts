import { readdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

import { describe, expect, it } from "vitest";

import { formatScenarioError, parseScenario } from "./parse.js";
import { runScenario } from "./run.js";
import { scenarioJsonSchema, scenarioJsonSchemaText } from "./schema.js";
import { defaultStepRegistry } from "./steps/index.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const read = (path: string) => readFileSync(root + path, "utf8");
const yamlFiles = (dir: string) =>
  readdirSync(root + dir)
    .filter((f) => /\.(ya?ml|json)$/.test(f))
    .sort()
    .map((f) => `${dir}/${f}`);

describe("the JSON Schema", () => {
  it("docs/scenario.schema.json is the generated schema (run `npm run schema` to update it)", () => {
    expect(read("docs/scenario.schema.json")).toBe(scenarioJsonSchemaText());
  });

  it("shows sizes and addresses as integer or string, and refuses unknown keys", () => {
    const schema = scenarioJsonSchema() as {
      $defs: Record<string, { anyOf?: Array<{ type: string }> }>;
      additionalProperties: boolean;
      properties: { steps: { items: { oneOf: Array<{ properties: { op: { const: string } } }> } } };
    };
    for (const id of ["Size", "Address"])
      expect(schema.$defs[id]!.anyOf!.map((x) => x.type)).toEqual(["integer", "string"]);
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.steps.items.oneOf.map((s) => s.properties.op.const)).toEqual([
      "alloc",
      "free",
      "write",
      "read",
      "fill",
      "copy",
      "expect",
      "stats",
      "map",
      "unmap",
      "protect",
      "access",
      "translate",
      "dump",
      "tlbi",
      "smmu",
      "stream",
      "who",
      "expectIsolated",
      "aliases",
      "stale",
      "load",
      "vcm.create",
      "vcm.createFromPrebuilt",
      "vcm.clone",
      "vcm.free",
      "vcm.reserve",
      "vcm.reserveAt",
      "vcm.reserveFromBound",
      "vcm.createBound",
      "vcm.freeBound",
      "vcm.unreserve",
      "vcm.setResAttr",
      "vcm.physAlloc",
      "vcm.mapPhysAddr",
      "vcm.physFree",
      "vcm.back",
      "vcm.unback",
      "vcm.assoc",
      "vcm.deassoc",
      "vcm.activate",
      "vcm.deactivate",
      "vcm.setAssocAttr",
      "vcm.copy",
      "vcm.translate",
      "vcm.physRes",
      "vcm.devAddrToPhys",
      "vcm.hook",
      "vcm.hwVer",
      "vcm.resInfo",
      "vcm.vcmInfo",
      "vcm.resAt",
      "vcm.assocInfo",
      "vcm.physInfo",
      "vcm.boundInfo",
      "vcm.hookInfo",
      "vcm.contRegion",
      "vcm.minPageSize",
      "vcm.smmuMap",
      "vcm.smmuUnmap",
      "vcm.smmuTranslate",
      "vcm.smmuInfo",
      "gunyah.lend",
      "gunyah.share",
      "gunyah.donate",
      "gunyah.append",
      "gunyah.accept",
      "gunyah.release",
      "gunyah.reclaim",
      "gunyah.notify",
      "gunyah.lookupSgl",
      "gunyah.vmAllocate",
      "gunyah.vmDeallocate",
      "gunyah.vmConfigImage",
      "gunyah.vmAuthImage",
      "gunyah.vmInit",
      "gunyah.vmStart",
      "gunyah.vmStop",
      "gunyah.vmReset",
      "gunyah.vmGetState",
      "gunyah.vmGetVmid",
      "gunyah.vmGetHypResources",
      "gunyah.vmSetFirmwareMem",
      "gunyah.vmExit",
      "gunyah.notifications",
      "gunyah.access",
      "gunyah.who",
      "gunyah.isolated",
      "gunyah.parcelInfo",
      "gunyah.vmInfo",
      "gunyah.vmmCreate",
      "gunyah.vmmRegion",
      "gunyah.vmmDtb",
      "gunyah.vmmStart",
      "gunyah.vmmTeardown",
      "gmem.access",
      "gmem.advise",
      "gmem.memcpy",
      "gmem.stats",
      "gmem.trace",
      "gmem.compare",
    ]);
  });
});

describe("the examples", () => {
  const examples = yamlFiles("examples");

  it("there are examples", () => {
    expect(examples).toContain("examples/quickstart.yaml");
    expect(examples).toContain("examples/chunk-pool.yaml");
    expect(examples).toContain("examples/translation.yaml");
    expect(examples).toContain("examples/nested.yaml");
  });

  it.each(examples)("%s is valid and every expectation holds", (file) => {
    const r = parseScenario(read(file), file);
    if (!r.ok) throw new Error(r.errors.map(formatScenarioError).join("\n"));
    // The files steps read (traces), relative to the example, as the file loader gives them.
    const files = new Map<string, Uint8Array>();
    for (const step of r.scenario.steps)
      for (const name of defaultStepRegistry.get(step.op)?.files?.(step) ?? [])
        files.set(name, readFileSync(root + dirname(file) + "/" + name));
    const result = runScenario({ ...r.scenario, files });
    const failed = result.expectations.list.filter((e) => !e.passed).map((e) => e.message);
    expect(failed).toEqual([]);
    expect(result.expectations.passed).toBeGreaterThan(0);
  });
});

describe("the scenarios in docs/scenarios.md", () => {
  const blocks = [...read("docs/scenarios.md").matchAll(/```yaml\n([\s\S]*?)```/g)]
    .map((m) => m[1]!)
    .filter((text) => /^version: 1$/m.test(text));

  it("there is at least one whole scenario", () => {
    expect(blocks.length).toBeGreaterThan(0);
  });

  it.each(blocks.map((text, i) => [i, text] as const))(
    "block %i is valid and passes",
    (_, text) => {
      const r = parseScenario(text, "docs/scenarios.md");
      if (!r.ok) throw new Error(r.errors.map(formatScenarioError).join("\n"));
      expect(runScenario(r.scenario).ok).toBe(true);
    },
  );
});

describe("the invalid examples", () => {
  /** What `memweave check` must report for each file: the start of each error line. */
  const expected: Record<string, string[]> = {
    "examples/invalid/bad-size.yaml": [
      'examples/invalid/bad-size.yaml:13:11: steps[0].size: expected a size like 4K, 0x1000 or 65536, got "4.5K"',
    ],
    "examples/invalid/unknown-key.yaml": [
      'examples/invalid/unknown-key.yaml:12:5: steps[0].size: missing required key "size"',
      'examples/invalid/unknown-key.yaml:13:5: steps[0].szie: unknown key "szie", did you mean "size"?',
    ],
    "examples/invalid/overlapping-regions.yaml": [
      'examples/invalid/overlapping-regions.yaml:11:7: machine.regions[1]: EEXIST: region "sram"',
    ],
    "examples/invalid/syntax-error.yaml": [
      "examples/invalid/syntax-error.yaml:9:1: YAML syntax error:",
    ],
    "examples/invalid/pools-dont-fit.yaml": [
      "examples/invalid/pools-dont-fit.yaml:12:14: machine.targets[0].pools: ENOSPC:",
    ],
    "examples/invalid/unknown-region.yaml": [
      'examples/invalid/unknown-region.yaml:10:26: machine.targets[0].ranges[0].region: ENOENT: target "system": no region named "dram0"',
    ],
    "examples/invalid/bad-prot.yaml": [
      'examples/invalid/bad-prot.yaml:12:72: steps[0].prot: expected a prot like "rw", "r", "rwx" or "rwc" (letters r w x c m p), got "rq"',
    ],
    "examples/invalid/unknown-table.yaml": [
      'examples/invalid/unknown-table.yaml:13:39: machine.devices[0].ttbr0: ENOENT: no page table named "cpu_pt", did you mean "cpu-pt"?',
    ],
    "examples/invalid/unknown-table-in-step.yaml": [
      'examples/invalid/unknown-table-in-step.yaml:12:23: steps[0].table: no page table named "cpu_pt", did you mean "cpu-pt"?',
    ],
    "examples/invalid/names.yaml": [
      'examples/invalid/names.yaml:12:26: steps[0].target: no memory target named "sytem", did you mean "system"?',
      "examples/invalid/names.yaml:13:52: steps[1].align: expected an alignment that is a power of two >= 4K",
      'examples/invalid/names.yaml:15:24: steps[3].alloc: allocation "buf" was freed at steps[2]',
      'examples/invalid/names.yaml:16:24: steps[4].addr: nothing named "fram" is bound by an earlier step, did you mean "frame"?',
    ],
    "examples/invalid/many-errors.yaml": [
      "examples/invalid/many-errors.yaml:2:10: version:",
      "examples/invalid/many-errors.yaml:6:57: machine.regions[0].kind:",
      "examples/invalid/many-errors.yaml:8:9: steps[0].op:",
      "examples/invalid/many-errors.yaml:10:5: steps[1].alloc:",
      "examples/invalid/many-errors.yaml:12:11: steps[2].addr:",
      "examples/invalid/many-errors.yaml:13:11: steps[2].data:",
      "examples/invalid/many-errors.yaml:14:5: steps[3].size:",
    ],
  };

  it("every invalid example is listed here", () => {
    expect(yamlFiles("examples/invalid")).toEqual(Object.keys(expected).sort());
  });

  it.each(Object.entries(expected))("%s", (file, starts) => {
    const r = parseScenario(read(file), file);
    expect(r.ok).toBe(false);
    const lines = r.ok ? [] : r.errors.map(formatScenarioError);
    // syntax-error.yaml: the YAML parser may report the unclosed bracket more than once.
    expect(lines.length).toBeGreaterThanOrEqual(starts.length);
    starts.forEach((start, i) => expect(lines[i]).toContain(start));
  });
});
