/**
 * The platform graph's export on a machine built here: its JSON invariants, the collapsing of
 * long mapping lists, owners, inactive context banks, DOT; and the committed DOT of
 * examples/translation.yaml (golden/translation.graph.dot) rendered by Graphviz when it is
 * installed. The golden files are compared byte for byte with a build of the scenario in
 * src/sim/scenario/graph-golden.test.ts (devices/ may not import the scenario layer).
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { describe, expect, it } from "vitest";

import { PROT } from "../../mmu/prot.js";
import { Cpu } from "../cpu.js";
import {
  attachBound,
  DRAM,
  expectError,
  K,
  M,
  machine,
  RO,
  RW,
  S1,
  V7S,
} from "../machine.testutil.js";
import { OneToOneDevice } from "../one-to-one.js";
import { Smmu } from "../smmu.js";
import type { GraphEdge, GraphNode, PlatformGraph, Tier } from "./export.js";
import { buildGraph, GRAPH_FORMAT_VERSION, graphToDot } from "./export.js";

// Graphviz's `dot`, for the render checks.
const GOLDEN_DOT = fileURLToPath(new URL("./golden/translation.graph.dot", import.meta.url));

/** Whether Graphviz's `dot` is on PATH (Debian: apt-get install graphviz). */
const graphviz = spawnSync("dot", ["-V"], { stdio: "ignore" }).status === 0;
if (!graphviz)
  console.warn(
    "export.test.ts: graphviz is missing (no `dot` on PATH): the DOT render checks are skipped. Install it with `apt-get install graphviz`.",
  );

function renderSvg(dot: string) {
  return spawnSync("dot", ["-Tsvg"], { input: dot, encoding: "utf8", timeout: 30_000 });
}

const TIERS: readonly Tier[] = ["devices", "address-spaces", "mappings", "physical", "owners"];

/**
 * A CPU (table "kernel"), an SMMU with an active bank "gpu" (master gpu0, table "gpu-pt") and a
 * bound but inactive bank "dsp" (master dsp0, table "dsp-pt"), a one-to-one device "dma", a
 * table no device walks ("spare"), and a 64K buffer the three walked tables map.
 */
function platform() {
  const m = machine();
  const kernel = m.table(S1, "kernel");
  const gpuPt = m.table(V7S, "gpu-pt");
  const dspPt = m.table(V7S, "dsp-pt");
  const spare = m.table(S1, "spare");
  const cpu = new Cpu(m.platform, { name: "cpu0", ttbr0: kernel, asid: 1 });
  const smmu = new Smmu(m.platform, { name: "smmu0", contexts: ["gpu", "dsp"] });
  attachBound(smmu, gpuPt, { context: "gpu", name: "gpu0" });
  smmu.contextBank("dsp").bind(dspPt);
  smmu.attachMaster("dsp0", "dsp");
  new OneToOneDevice(m.platform, { name: "dma", base: DRAM + 128 * M, size: M });
  const buf = m.platform.alloc("data", 64 * K, { align: 64 * K });
  const pa = buf.chunks[0]!.pa as number;
  kernel.map(0x4000_0000, pa, 64 * K, RW | PROT.CACHE);
  gpuPt.map(0x1000_0000, pa, 64 * K, RW);
  dspPt.map(0x2000_0000, pa, 64 * K, RO);
  return { ...m, kernel, gpuPt, dspPt, spare, cpu, smmu, buf, pa };
}

/** The graph of {@link platform}, with every table named as the CLI names them. */
function graphOf(p: ReturnType<typeof platform>, maxMappings?: number): PlatformGraph {
  return buildGraph(p.platform, {
    tables: [p.kernel, p.gpuPt, p.dspPt, p.spare].map((table) => ({ name: table.name, table })),
    ...(maxMappings !== undefined ? { maxMappings } : {}),
  });
}

const nodeById = (g: PlatformGraph, id: string): GraphNode | undefined =>
  g.nodes.find((n) => n.id === id);
const edgesFrom = (g: PlatformGraph, id: string): GraphEdge[] =>
  g.edges.filter((e) => e.from === id);
const edge = (g: PlatformGraph, from: string, to: string): GraphEdge | undefined =>
  g.edges.find((e) => e.from === from && e.to === to);

/** The invariants of every graph: format, unique ids, valid tiers, edges between nodes. */
function expectWellFormed(g: PlatformGraph): void {
  expect(g.format).toBe("memweave-graph");
  expect(g.version).toBe(GRAPH_FORMAT_VERSION);
  expect(GRAPH_FORMAT_VERSION).toBe(1);
  const ids = g.nodes.map((n) => n.id);
  expect(new Set(ids).size).toBe(ids.length);
  for (const n of g.nodes) {
    expect(TIERS, n.id).toContain(n.tier);
    expect(n.label, n.id).not.toBe("");
    for (const v of Object.values(n.data))
      expect(["string", "number", "boolean"].includes(typeof v) || v === null, n.id).toBe(true);
  }
  const known = new Set(ids);
  for (const e of g.edges) {
    expect(known.has(e.from), `edge ${e.kind} from ${e.from}`).toBe(true);
    expect(known.has(e.to), `edge ${e.kind} to ${e.to}`).toBe(true);
  }
  const keys = g.edges.map((e) => `${e.from} ${e.to} ${e.kind}`);
  expect(new Set(keys).size).toBe(keys.length);
  // Plain JSON: it survives a round trip unchanged.
  expect(JSON.parse(JSON.stringify(g))).toEqual(g);
}

describe("buildGraph: the JSON", () => {
  it("is well formed: unique ids, valid tiers, every edge between two nodes", () => {
    const p = platform();
    expectWellFormed(graphOf(p));
    // Also without the names: the tables the devices walk are found through their regimes.
    const bare = buildGraph(p.platform);
    expectWellFormed(bare);
    expect(bare.nodes.filter((n) => n.kind === "address-space").map((n) => n.id)).toEqual([
      "table:kernel",
      "table:gpu-pt",
      "table:dsp-pt",
    ]);
  });

  it("is deterministic: two builds of the same machine give the same bytes", () => {
    const p = platform();
    const a = JSON.stringify(graphOf(p), null, 2);
    expect(JSON.stringify(graphOf(p), null, 2)).toBe(a);
    expect(graphToDot(graphOf(p))).toBe(graphToDot(graphOf(p)));
    // And two machines built the same way.
    expect(JSON.stringify(graphOf(platform()), null, 2)).toBe(a);
  });

  it("has every device, bank, address space, mapping and piece of memory, by tier", () => {
    const p = platform();
    const g = graphOf(p);
    const byTier = (tier: Tier) => g.nodes.filter((n) => n.tier === tier).map((n) => n.id);
    expect(byTier("devices")).toEqual([
      "device:cpu0",
      "device:smmu0",
      "bank:smmu0/gpu",
      "bank:smmu0/dsp",
      "device:gpu0",
      "device:dsp0",
      "device:dma",
    ]);
    expect(byTier("address-spaces")).toEqual([
      "table:kernel",
      "table:gpu-pt",
      "table:dsp-pt",
      "table:spare",
    ]);
    expect(byTier("mappings")).toEqual([
      "table:kernel:0x40000000",
      "table:gpu-pt:0x10000000",
      "table:dsp-pt:0x20000000",
    ]);
    expect(byTier("owners")).toEqual([]);
    expect(nodeById(g, "table:kernel:0x40000000")).toEqual({
      id: "table:kernel:0x40000000",
      kind: "mapping",
      tier: "mappings",
      label: `0x40000000-0x4000ffff\n→ 0x${p.pa.toString(16)} rwxRWX normal-wb`,
      data: {
        va: 0x4000_0000,
        size: 64 * K,
        pa: p.pa,
        rights: "r w x R W X",
        memType: "normal-wb",
        leaves: 16,
      },
    });
    // Each mapping is backed by the buffer's allocation, which comes from its target.
    const alloc = `alloc:${p.buf.id}`;
    for (const id of byTier("mappings")) expect(edge(g, id, alloc)?.kind, id).toBe("backed-by");
    expect(edge(g, alloc, "target:data")?.kind).toBe("from");
    expect(edge(g, "target:data", "region:dram")?.kind).toBe("draws-on");
    // The one-to-one device reaches its window's region directly.
    expect(edge(g, "device:dma", "region:dram")?.kind).toBe("window");
    // Each address space's own tables: one node, from the tables' target.
    expect(edge(g, "table:kernel", "table:kernel:tables")?.kind).toBe("tables-in");
    expect(edge(g, "table:kernel:tables", "target:tables")?.kind).toBe("from");
    expect(nodeById(g, "table:kernel:tables")!.data).toEqual({ allocations: 4, bytes: 16 * K });
    // A table no device walks still has its own table pages (its root) and no mapping.
    expect(edgesFrom(g, "table:spare").map((e) => e.kind)).toEqual(["tables-in"]);
  });

  it("counts table pages of different sizes in the label (a v7s level-1 table is 16K)", () => {
    const g = graphOf(platform());
    const n = nodeById(g, "table:gpu-pt:tables")!;
    expect(n.data).toEqual({ allocations: 2, bytes: 20 * K });
    expect(n.label).toBe("gpu-pt tables\n1 × 16K + 1 × 4K");
    expect(nodeById(g, "table:kernel:tables")!.label).toBe("kernel tables\n4 × 4K");
  });

  it("collapses the mappings beyond maxMappings into one '… N more runs' node", () => {
    const p = platform();
    // Five more runs in the kernel table: not contiguous, so not coalesced.
    for (let i = 0; i < 5; i++)
      p.kernel.map(0x5000_0000 + i * 0x2000, p.pa + i * 0x2000, 4 * K, RO);
    const all = graphOf(p);
    expect(edgesFrom(all, "table:kernel").filter((e) => e.kind === "maps")).toHaveLength(6);
    expect(nodeById(all, "table:kernel:more")).toBeUndefined();
    // The default is 64: six runs is far below it.
    expect(JSON.stringify(graphOf(p, 64))).toBe(JSON.stringify(all));

    const g = graphOf(p, 2);
    expectWellFormed(g);
    const maps = edgesFrom(g, "table:kernel").filter((e) => e.kind === "maps");
    expect(maps.map((e) => e.to)).toEqual([
      "table:kernel:0x40000000",
      "table:kernel:0x50000000",
      "table:kernel:more",
    ]);
    expect(nodeById(g, "table:kernel:more")).toEqual({
      id: "table:kernel:more",
      kind: "mapping",
      tier: "mappings",
      label: "… 4 more runs",
      data: { runs: 4, bytes: 16 * K },
    });
    // The runs it counts have no node of their own.
    expect(nodeById(g, "table:kernel:0x50002000")).toBeUndefined();
    expect(g.nodes.filter((n) => n.id.startsWith("table:kernel:0x"))).toHaveLength(2);
    // Tables with at most maxMappings runs are not collapsed.
    expect(nodeById(g, "table:gpu-pt:more")).toBeUndefined();
    expect(graphToDot(g)).toContain('"table:kernel:more" [label="… 4 more runs", shape=note];');
    // Exactly maxMappings runs: no "more" node.
    expect(nodeById(graphOf(p, 6), "table:kernel:more")).toBeUndefined();
    expect(nodeById(graphOf(p, 5), "table:kernel:more")?.label).toBe("… 1 more run");
    // Not a count: refused, naming the value.
    for (const bad of [-1, 1.5, Number.NaN])
      expectError(() => graphOf(p, bad), "EINVAL", `maxMappings ${String(bad)}`);
  });

  it("owners are nodes with 'labels' edges to what their scope covers", () => {
    const p = platform();
    const owners = p.platform.owners;
    owners.label({ system: "vcm", kind: "reservation", name: "video" }, { table: p.gpuPt });
    owners.label({ system: "gunyah", kind: "VM", name: "vm1" }, { device: "dsp0" });
    owners.label(
      { system: "gunyah", kind: "parcel", name: "p0" },
      { phys: { start: p.pa, end: p.pa + 4 * K } },
    );
    // Physical memory no allocation holds: the region.
    owners.label(
      { system: "scenario", kind: "carveout", name: "fw" },
      { phys: { start: DRAM + 200 * M, end: DRAM + 201 * M } },
    );
    // A device the machine does not have: a node without edges.
    owners.label({ system: "gmem", kind: "address space", name: "ghost" }, { device: "nope" });
    const g = graphOf(p);
    expectWellFormed(g);
    const owned = g.nodes.filter((n) => n.tier === "owners");
    expect(owned.map((n) => [n.id, n.kind, n.label])).toEqual([
      ["owner:vcm:reservation:video", "owner", "video\nvcm reservation"],
      ["owner:gunyah:VM:vm1", "owner", "vm1\ngunyah VM"],
      ["owner:gunyah:parcel:p0", "owner", "p0\ngunyah parcel"],
      ["owner:scenario:carveout:fw", "owner", "fw\nscenario carveout"],
      ["owner:gmem:address space:ghost", "owner", "ghost\ngmem address space"],
    ]);
    expect(owned[0]!.data).toEqual({
      system: "vcm",
      kind: "reservation",
      scope: "table gpu-pt",
      order: 0,
    });
    const labels = g.edges.filter((e) => e.kind === "labels").map((e) => [e.from, e.to]);
    expect(labels).toEqual([
      ["owner:vcm:reservation:video", "table:gpu-pt"],
      ["owner:gunyah:VM:vm1", "device:dsp0"],
      ["owner:gunyah:parcel:p0", `alloc:${p.buf.id}`],
      ["owner:scenario:carveout:fw", "region:dram"],
    ]);
    const dot = graphToDot(g);
    expect(dot).toContain('  subgraph cluster_4 {\n    label="Owners";');
    expect(dot).toContain('  "owner:gunyah:VM:vm1" -> "device:dsp0" [label="labels"];');
  });

  it("an inactive bank's translations are not live, and dashed in DOT", () => {
    const p = platform();
    const g = graphOf(p);
    expect(nodeById(g, "bank:smmu0/dsp")!.data).toEqual({ index: 1, bound: true, active: false });
    expect(nodeById(g, "bank:smmu0/gpu")!.data).toEqual({ index: 0, bound: true, active: true });
    expect(edge(g, "bank:smmu0/dsp", "table:dsp-pt")).toEqual({
      from: "bank:smmu0/dsp",
      to: "table:dsp-pt",
      kind: "ttbr0",
      live: false,
    });
    expect(edge(g, "bank:smmu0/gpu", "table:gpu-pt")).toMatchObject({ kind: "ttbr0", live: true });
    expect(edge(g, "device:cpu0", "table:kernel")).toMatchObject({ kind: "ttbr0", live: true });
    // The SMMU has its banks; the masters are attached to theirs.
    expect(edge(g, "device:smmu0", "bank:smmu0/dsp")?.kind).toBe("has");
    expect(edge(g, "device:dsp0", "bank:smmu0/dsp")?.kind).toBe("attached");
    expect(g.edges.filter((e) => e.live === false)).toHaveLength(1);

    const dot = graphToDot(g);
    expect(dot).toContain('  "bank:smmu0/dsp" -> "table:dsp-pt" [label="ttbr0", style=dashed];');
    expect(dot).toContain('  "bank:smmu0/gpu" -> "table:gpu-pt" [label="ttbr0"];');
    expect(dot.match(/style=dashed/g)).toHaveLength(1);

    // Activated, the bank is live.
    p.smmu.contextBank("dsp").activate();
    const live = graphOf(p);
    expect(edge(live, "bank:smmu0/dsp", "table:dsp-pt")?.live).toBe(true);
    expect(graphToDot(live)).not.toContain("style=dashed");
  });
});

describe("graphToDot", () => {
  it("has one cluster per tier that has nodes, every node in one, every edge", () => {
    const p = platform();
    p.platform.owners.label({ system: "vcm", kind: "reservation", name: "r" }, { table: p.kernel });
    const g = graphOf(p);
    const dot = graphToDot(g);
    expect(dot.startsWith("digraph memweave {\n")).toBe(true);
    expect(dot.endsWith("}\n")).toBe(true);
    const clusters = [...dot.matchAll(/subgraph cluster_(\d) \{\n {4}label="([^"]+)"/g)].map(
      (m) => [m[1], m[2]],
    );
    expect(clusters).toEqual([
      ["0", "Devices"],
      ["1", "Address spaces"],
      ["2", "Mappings"],
      ["3", "Physical memory"],
      ["4", "Owners"],
    ]);
    for (const n of g.nodes) expect(dot.split(`\n    "${n.id}" [label=`).length - 1, n.id).toBe(1);
    expect(dot.match(/ -> /g)).toHaveLength(g.edges.length);
    // Without owners there is no owners cluster.
    expect(graphToDot(graphOf(platform()))).not.toContain('label="Owners"');
  });

  it("escapes quotes, backslashes and newlines in ids and labels", () => {
    const p = platform();
    p.platform.owners.label(
      { system: "scenario", kind: "test", name: 'a "quoted" \\ name' },
      { device: "cpu0" },
    );
    const dot = graphToDot(graphOf(p));
    expect(dot).toContain(
      '    "owner:scenario:test:a \\"quoted\\" \\\\ name" [label="a \\"quoted\\" \\\\ name\\nscenario test", shape=tab];',
    );
    if (graphviz) expect(renderSvg(dot).status).toBe(0);
  });
});

describe("Graphviz", () => {
  it.skipIf(!graphviz)(
    `renders the golden DOT of examples/translation.yaml as SVG${graphviz ? "" : " (skipped: graphviz is missing, no `dot` on PATH)"}`,
    () => {
      const r = renderSvg(readFileSync(GOLDEN_DOT, "utf8"));
      expect(r.error).toBeUndefined();
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/<svg[\s>]/);
      expect(r.stdout).toContain("</svg>");
      // The clusters and nodes made it into the picture.
      for (const text of [
        ">Devices<",
        ">Address spaces<",
        ">Mappings<",
        ">Physical memory<",
        "<title>device:cpu0</title>",
      ])
        expect(r.stdout).toContain(text);
    },
  );

  it.skipIf(!graphviz)(
    `renders a graph with owners, a collapsed list and an inactive bank${graphviz ? "" : " (skipped: graphviz is missing, no `dot` on PATH)"}`,
    () => {
      const p = platform();
      p.platform.owners.label(
        { system: "vcm", kind: "reservation", name: "r" },
        { table: p.gpuPt },
      );
      for (let i = 0; i < 3; i++) p.kernel.map(0x5000_0000 + i * 0x2000, p.pa, 4 * K, RO);
      const r = renderSvg(graphToDot(graphOf(p, 1)));
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/<svg[\s>]/);
      expect(r.stdout).toContain("stroke-dasharray");
    },
  );
});
