/**
 * The golden files of the platform graph (src/devices/graph/golden/): the graph of
 * examples/translation.yaml as `memweave graph` prints it, JSON and DOT, built here in-process
 * the way the CLI builds it (parse, run, then buildGraph with the machine's page tables) and
 * compared byte for byte. Here rather than beside export.ts because devices/ may not import the
 * scenario layer (tools/README.md, the layering rule). `npm run golden` rewrites the files.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { describe, expect, it } from "vitest";

import type { PlatformGraph } from "../../devices/graph/index.js";
import { buildGraph, graphToDot } from "../../devices/graph/index.js";
import { PAGE_TABLE } from "./machine/translation.js";
import type { BuiltMachine } from "./machine-module.js";
import { parseScenario } from "./parse.js";
import { runScenario } from "./run.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const read = (path: string) => readFileSync(root + path, "utf8");

const GOLDEN_JSON = "src/devices/graph/golden/translation.graph.json";
const GOLDEN_DOT = "src/devices/graph/golden/translation.graph.dot";

/** The graph of a scenario file after its run (or its first `stopBefore` steps), as the CLI. */
function graphOf(file: string, stopBefore?: number): PlatformGraph {
  const parsed = parseScenario(read(file), file);
  if (!parsed.ok) throw new Error(parsed.errors.map((e) => e.message).join("\n"));
  let machine: BuiltMachine | undefined;
  const result = runScenario(parsed.scenario, {
    ...(stopBefore !== undefined ? { stopBefore } : {}),
    onFinish: (m) => (machine = m),
  });
  expect(result.ok).toBe(true);
  return buildGraph(machine!.platform, {
    tables: machine!.objects
      .list(PAGE_TABLE)
      .map(({ name, value }) => ({ name, table: value.table })),
  });
}

describe("the golden graph of examples/translation.yaml (run `npm run golden` to update it)", () => {
  it(`${GOLDEN_JSON} is its JSON, byte for byte`, () => {
    expect(JSON.stringify(graphOf("examples/translation.yaml"), null, 2) + "\n").toBe(
      read(GOLDEN_JSON),
    );
  });

  it(`${GOLDEN_DOT} is its DOT, byte for byte`, () => {
    expect(graphToDot(graphOf("examples/translation.yaml"))).toBe(read(GOLDEN_DOT));
  });

  it("the golden JSON and DOT are the same graph", () => {
    const graph = JSON.parse(read(GOLDEN_JSON)) as PlatformGraph;
    expect(graph).toMatchObject({ format: "memweave-graph", version: 1 });
    expect(graphToDot(graph)).toBe(read(GOLDEN_DOT));
  });

  it("shows what the example builds: two tables, their mappings, the buffer, the banks", () => {
    const graph = JSON.parse(read(GOLDEN_JSON)) as PlatformGraph;
    expect(graph.nodes.map((n) => n.id)).toEqual([
      "table:cpu-pt",
      "table:dma-pt",
      "device:cpu0",
      "device:smmu0",
      "bank:smmu0/dma",
      "device:dma0",
      "region:dram",
      "target:system",
      "target:pgtables",
      "alloc:3",
      "table:cpu-pt:tables",
      "table:dma-pt:tables",
      // The first page read-only (protect), the other three read-write: two runs.
      "table:cpu-pt:0x4000000000",
      "table:cpu-pt:0x4000001000",
      // The 1M section is unmapped; the read-only 64K window stays.
      "table:dma-pt:0x20000000",
    ]);
    expect(graph.edges.filter((e) => e.kind === "backed-by").map((e) => e.from)).toEqual([
      "table:cpu-pt:0x4000000000",
      "table:cpu-pt:0x4000001000",
      "table:dma-pt:0x20000000",
    ]);
    expect(graph.edges.every((e) => e.live !== false)).toBe(true);
  });

  it("is deterministic, and follows the run: before the first map there are no mappings", () => {
    const a = JSON.stringify(graphOf("examples/translation.yaml"));
    expect(JSON.stringify(graphOf("examples/translation.yaml"))).toBe(a);
    const before = graphOf("examples/translation.yaml", 1);
    expect(before.nodes.filter((n) => n.tier === "mappings")).toEqual([]);
    expect(before.nodes.some((n) => n.id === "alloc:3")).toBe(true);
    const mapped = graphOf("examples/translation.yaml", 3);
    expect(mapped.nodes.filter((n) => n.tier === "mappings").map((n) => n.id)).toEqual([
      "table:cpu-pt:0x4000000000",
      "table:dma-pt:0x10000000",
    ]);
  });
});
