/**
 * End-to-end tests of `memweave who` and `memweave graph`, run as a user would: the built
 * executable (dist/cli/main.js) in a child process, its stdout, stderr and exit code. dist/ is
 * rebuilt first when any source is newer than it (`npm test` builds anyway).
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { PlatformGraph, ReachPath } from "../devices/graph/index.js";
import { ensureBuilt, memweave, root, tempFolder } from "./cli.testutil.js";

const tmp = tempFolder("memweave-graph-cli-");

beforeAll(ensureBuilt, 180_000);
afterAll(tmp.remove);

/** What `who --json` prints. */
interface WhoDoc {
  name: string;
  seed: number;
  afterSteps: number;
  range: { start: number; end: number };
  paths: ReachPath[];
}

async function whoJson(...args: string[]): Promise<WhoDoc> {
  const r = await memweave(["who", "examples/graph.yaml", ...args, "--json"]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as WhoDoc;
}

const masters = (doc: WhoDoc) => [...new Set(doc.paths.map((p) => p.master))];

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[/;

/** The buffer of examples/graph.yaml: the first allocation of "system", 64K at 0x8000_0000. */
const BUF = 0x8000_0000;

describe("memweave who", () => {
  it("prints the header and the table of the masters that reach the range", async () => {
    const r = await memweave(["who", "examples/graph.yaml", "0x8000_0000"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^Scenario graph \(examples\/graph\.yaml\), seed 3, after 21 step\(s\): who reaches 0x80000000\n\n2 paths\n/,
    );
    const lines = r.stdout.split("\n");
    expect(lines.find((l) => l.startsWith("│ master"))).toMatch(
      /^│ master +│ address +│ physical +│ path +│ rights +│ attributes +│ live +│ owner +│$/,
    );
    // After the context switch and the TLBI, the CPU no longer reaches the buffer.
    const rows = lines.filter((l) => /^│ (?!master)/.test(l));
    expect(rows.map((l) => l.split("│")[1]!.trim())).toEqual(["dma0", "vcpu0"]);
    expect(rows[0]).toMatch(
      /^│ dma0 +│ virt 0x10000000 +│ 0x80000000 +│ dma-pt ttbr0 L2 +│ rw +│ normal-wb +│ yes +│ - +│$/,
    );
    expect(rows[1]).toMatch(
      /^│ vcpu0 +│ virt 0x400000 +│ 0x80000000 +│ guest-pt ttbr0 L3 → s2 L3 +│ rw +│ normal-wb +│ yes +│ - +│$/,
    );
    expect(r.stdout.endsWith("┘\n")).toBe(true);
    expect(r.stdout).not.toMatch(ANSI);
  });

  it("--json prints one JSON document with the paths", async () => {
    const r = await memweave(["who", "examples/graph.yaml", "0x8000_0000", "--json"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const doc = JSON.parse(r.stdout) as WhoDoc;
    expect(Object.keys(doc)).toEqual(["name", "seed", "afterSteps", "range", "paths"]);
    expect(doc).toMatchObject({
      name: "graph",
      seed: 3,
      afterSteps: 21,
      range: { start: BUF, end: BUF + 1 },
    });
    expect(doc.paths).toHaveLength(2);
    expect(doc.paths[0]).toMatchObject({
      master: "dma0",
      kind: "smmu-master",
      regime: "smmu0/dma",
      contextBank: "dma",
      via: "translation",
      input: { space: "virt", start: 0x1000_0000, end: 0x1000_0001 },
      phys: { start: BUF, end: BUF + 1 },
      stage1: { table: "dma-pt", ttbr: "ttbr0", leaf: { size: 64 << 10, level: 2 } },
      access: "rw",
      memType: "normal-wb",
      live: true,
      owners: [],
    });
    expect(doc.paths[1]).toMatchObject({
      master: "vcpu0",
      kind: "cpu",
      input: { space: "virt", start: 0x40_0000, end: 0x40_0001 },
      stage1: { table: "guest-pt", leaf: { pa: 0x4000_0000 } },
      stage2: { table: "s2", leaf: { va: 0x4000_0000, pa: BUF } },
      access: "rw",
    });
    // One document, nothing else: a second JSON value would not parse.
    expect(r.stdout.trimEnd().endsWith("}")).toBe(true);
    expect(r.stdout.split("\n}").length).toBe(2);
  });

  it("takes ranges as ADDR, ADDR..END (END exclusive) and ADDR+SIZE", async () => {
    const dots = await whoJson("0x8000_0000..0x8001_0000");
    expect(dots.range).toEqual({ start: BUF, end: BUF + 0x1_0000 });
    const plus = await whoJson("0x8000_0000+64K");
    expect(plus).toEqual(dots);
    expect(dots.paths.map((p) => [p.master, p.input.start, p.input.end])).toEqual([
      ["dma0", 0x1000_0000, 0x1001_0000],
      ["vcpu0", 0x40_0000, 0x41_0000],
    ]);
    // The vCPU's 16 4K pages of stage 1 and stage 2 coalesce into one path.
    expect(dots.paths[1]!.stage1!.leaves).toBe(16);
    // Decimal, and a range past the buffer: nobody.
    const decimal = await whoJson(String(BUF + 4096));
    expect(decimal.range).toEqual({ start: BUF + 4096, end: BUF + 4097 });
    expect(masters(decimal)).toEqual(["dma0", "vcpu0"]);
    expect((await whoJson("0x8001_0000+4K")).paths).toEqual([]);
    const human = await memweave(["who", "examples/graph.yaml", "0x8000_0000+64K"]);
    expect(human.stdout).toContain("who reaches 0x80000000-0x8000ffff\n");
    const nobody = await memweave(["who", "examples/graph.yaml", "0x8001_0000+4K"]);
    expect(nobody.code).toBe(0);
    expect(nobody.stdout).toBe(
      "Scenario graph (examples/graph.yaml), seed 3, after 21 step(s): who reaches 0x80010000-0x80010fff\n\nNothing reaches it.\n",
    );
  });

  it("--at-step N shows the machine after the first N steps", async () => {
    // Nothing is mapped before the first map; after it only the CPU; then the DMA engine; then
    // (the guest's mapping) the vCPU.
    const steps = [0, 1, 2, 3, 6];
    const docs = await Promise.all(
      steps.map((n) => whoJson("0x8000_0000+4K", "--at-step", String(n))),
    );
    expect(docs.map((d) => d.afterSteps)).toEqual(steps);
    expect(docs.map(masters)).toEqual([
      [],
      [],
      ["cpu0"],
      ["cpu0", "dma0"],
      ["cpu0", "dma0", "vcpu0"],
    ]);
    // Before the protect (step 9), the DMA engine's mapping is non-cacheable.
    expect(docs[3]!.paths.find((p) => p.master === "dma0")!.memType).toBe("normal-nc");
    // Past the end: the whole run.
    expect((await whoJson("0x8000_0000", "--at-step", "1000")).afterSteps).toBe(21);
    const human = await memweave(["who", "examples/graph.yaml", "0x8000_0000", "--at-step", "2"]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^Scenario graph .*, after 2 step\(s\): who reaches /);
    expect(human.stdout).toContain("1 path");
    expect(human.stdout).toMatch(/│ cpu0 +│ virt 0x4000000000 /);
    expect(human.stdout).not.toContain("dma0");
  });

  it("--all also shows the paths nobody takes now (an inactive context bank)", async () => {
    const file = join(tmp.dir, "inactive.yaml");
    writeFileSync(
      file,
      `version: 1
name: inactive
machine:
  regions: [{ name: dram, base: 0x8000_0000, size: 16M, kind: ram }]
  targets:
    - { name: system, allocator: buddy, ranges: [{ region: dram, size: 8M }] }
    - { name: tables, allocator: buddy, ranges: [{ region: dram, offset: 8M, size: 1M }] }
  pageTables: [{ name: dev-pt, format: { kind: v7s }, target: tables }]
  devices:
    - kind: smmu
      name: smmu0
      contexts: [{ name: dev, table: dev-pt, active: false }]
      masters: [{ name: dev0, context: dev }]
steps:
  - { op: alloc, target: system, size: 64K, as: buf }
  - { op: map, table: dev-pt, va: 0x1000_0000, pa: buf, size: 64K, prot: rw }
`,
    );
    const live = await memweave(["who", file, "0x8000_0000", "--json"]);
    expect((JSON.parse(live.stdout) as WhoDoc).paths).toEqual([]);
    const all = await memweave(["who", file, "0x8000_0000", "--json", "--all"]);
    expect(all.code).toBe(0);
    expect((JSON.parse(all.stdout) as WhoDoc).paths).toMatchObject([
      { master: "dev0", contextBank: "dev", live: false },
    ]);
    const human = await memweave(["who", file, "0x8000_0000", "--all"]);
    expect(human.stdout).toMatch(/│ dev0 +│ virt 0x10000000 .*│ no +│ - +│\n/);
  });

  it("a bad range or option exits 2 with a message, and prints nothing on stdout", async () => {
    for (const range of [
      "zzz",
      "0x8000_0000..0x8000_0000",
      "0x8001_0000..0x8000_0000",
      "0x8000_0000+0",
      "0x8000_0000+",
      "1..2..3",
      "-5",
    ]) {
      const r = await memweave(["who", "examples/graph.yaml", range]);
      expect(r.code, range).toBe(2);
      expect(r.stdout, range).toBe("");
      expect(r.stderr, range).toContain(
        `error: command-argument value '${range}' is invalid for argument 'range'. expected a physical address, ADDR..END or ADDR+SIZE`,
      );
    }
    const missing = await memweave(["who", "examples/graph.yaml"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("missing required argument 'range'");
    const step = await memweave(["who", "examples/graph.yaml", "0x8000_0000", "--at-step", "x"]);
    expect(step.code).toBe(2);
    expect(step.stderr).toMatch(/--at-step <n>.*expected a non-negative integer/);
  });

  it("an invalid or unreadable scenario exits 2 with its errors on stderr", async () => {
    const invalid = await memweave(["who", "examples/invalid/bad-size.yaml", "0x8000_0000"]);
    expect(invalid).toEqual({
      code: 2,
      stdout: "",
      stderr:
        'examples/invalid/bad-size.yaml:13:11: steps[0].size: expected a size like 4K, 0x1000 or 65536, got "4.5K"\n',
    });
    const json = await memweave(["who", "examples/invalid/bad-size.yaml", "0x0", "--json"]);
    expect(json.code).toBe(2);
    expect(json.stdout).toBe("");
    const nope = await memweave(["who", "examples/nope.yaml", "0x0"]);
    expect(nope).toEqual({
      code: 2,
      stdout: "",
      stderr: "examples/nope.yaml: cannot read file: no such file\n",
    });
  });
});

describe("memweave graph", () => {
  it("prints the platform graph as JSON", async () => {
    const r = await memweave(["graph", "examples/graph.yaml"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const graph = JSON.parse(r.stdout) as PlatformGraph;
    expect(Object.keys(graph)).toEqual(["format", "version", "nodes", "edges"]);
    expect(graph).toMatchObject({ format: "memweave-graph", version: 1 });
    const ids = new Set(graph.nodes.map((n) => n.id));
    expect(ids.size).toBe(graph.nodes.length);
    for (const e of graph.edges) expect(ids.has(e.from) && ids.has(e.to), e.from).toBe(true);
    for (const id of [
      "device:cpu0",
      "device:dma0",
      "device:vcpu0",
      "bank:smmu0/dma",
      "table:cpu-pt",
      "table:other-pt",
      "table:guest-pt",
      "table:s2",
      "table:guest-pt:0x400000",
      "region:dram",
    ])
      expect(ids.has(id), id).toBe(true);
    // After the context switch the CPU walks other-pt; the guest's mapping goes through s2.
    expect(graph.edges).toContainEqual({
      from: "device:cpu0",
      to: "table:other-pt",
      kind: "ttbr0",
      live: true,
    });
    expect(graph.edges).toContainEqual({
      from: "table:guest-pt:0x400000",
      to: "table:s2",
      kind: "through-stage2",
    });
    // The same bytes every time.
    expect((await memweave(["graph", "examples/graph.yaml"])).stdout).toBe(r.stdout);
  });

  it("--format dot prints Graphviz DOT", async () => {
    const r = await memweave(["graph", "examples/graph.yaml", "--format", "dot"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith("digraph memweave {\n")).toBe(true);
    expect(r.stdout.endsWith("}\n")).toBe(true);
    expect(r.stdout).toContain('  "device:cpu0" -> "table:other-pt" [label="ttbr0"];\n');
    const json = await memweave(["graph", "examples/graph.yaml", "--format", "json"]);
    const graph = JSON.parse(json.stdout) as PlatformGraph;
    expect(r.stdout.match(/ -> /g)).toHaveLength(graph.edges.length);
  });

  it("--at-step N exports the machine after N steps", async () => {
    const r = await memweave(["graph", "examples/graph.yaml", "--at-step", "2"]);
    expect(r.code).toBe(0);
    const graph = JSON.parse(r.stdout) as PlatformGraph;
    expect(graph.nodes.filter((n) => n.tier === "mappings").map((n) => n.id)).toEqual([
      "table:cpu-pt:0x4000000000",
    ]);
    expect(graph.edges).toContainEqual({
      from: "device:cpu0",
      to: "table:cpu-pt",
      kind: "ttbr0",
      live: true,
    });
  });

  it("prints the golden graph of examples/translation.yaml (npm run golden)", async () => {
    const golden = (ext: string) =>
      readFileSync(join(root, `src/devices/graph/golden/translation.graph.${ext}`), "utf8");
    const json = await memweave(["graph", "examples/translation.yaml"]);
    expect(json.code).toBe(0);
    expect(json.stdout).toBe(golden("json"));
    const dot = await memweave(["graph", "examples/translation.yaml", "--format", "dot"]);
    expect(dot.code).toBe(0);
    expect(dot.stdout).toBe(golden("dot"));
  });

  const graphviz = spawnSync("dot", ["-V"], { stdio: "ignore" }).status === 0;
  it.skipIf(!graphviz)(
    `its DOT renders with Graphviz${graphviz ? "" : " (skipped: graphviz is missing, no `dot` on PATH)"}`,
    async () => {
      const r = await memweave(["graph", "examples/graph.yaml", "--format", "dot"]);
      const svg = spawnSync("dot", ["-Tsvg"], { input: r.stdout, encoding: "utf8" });
      expect(svg.stderr).toBe("");
      expect(svg.status).toBe(0);
      expect(svg.stdout).toMatch(/<svg[\s>]/);
    },
  );

  it("--format svg, an invalid scenario or an unreadable file exit 2", async () => {
    const svg = await memweave(["graph", "examples/graph.yaml", "--format", "svg"]);
    expect(svg.code).toBe(2);
    expect(svg.stdout).toBe("");
    expect(svg.stderr).toContain(
      `error: option '--format <format>' argument 'svg' is invalid. expected "json" or "dot"`,
    );
    const invalid = await memweave(["graph", "examples/invalid/bad-size.yaml"]);
    expect(invalid).toEqual({
      code: 2,
      stdout: "",
      stderr:
        'examples/invalid/bad-size.yaml:13:11: steps[0].size: expected a size like 4K, 0x1000 or 65536, got "4.5K"\n',
    });
    const dot = await memweave(["graph", "examples/invalid/unknown-table.yaml", "--format", "dot"]);
    expect(dot.code).toBe(2);
    expect(dot.stdout).toBe("");
    expect(dot.stderr).toMatch(/^examples\/invalid\/unknown-table\.yaml:\d+:\d+: /);
    const nope = await memweave(["graph", "examples/nope.yaml"]);
    expect(nope).toEqual({
      code: 2,
      stdout: "",
      stderr: "examples/nope.yaml: cannot read file: no such file\n",
    });
  });
});

describe("help", () => {
  it("memweave --help lists who and graph", async () => {
    const r = await memweave(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\n {2}who \[options\] <scenario> <range> +who can reach a physical/);
    expect(r.stdout).toMatch(/\n {2}graph \[options\] <scenario> +export the platform graph/);
  });

  it.each([
    [["who", "--help"], "Usage: memweave who [options] <scenario> <range>", "--at-step <n>"],
    [["graph", "--help"], "Usage: memweave graph [options] <scenario>", "--format <format>"],
    [["help", "who"], "Usage: memweave who [options] <scenario> <range>", "--all"],
  ])("%j prints its usage and exits 0", async (args, usage, option) => {
    const r = await memweave(args);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain(usage);
    expect(r.stdout).toContain(option);
  });
});
