/**
 * The platform graph, exported: the nodes and edges of DESIGN.md ("The platform graph") as
 * versioned JSON and as Graphviz DOT.
 *
 * Nodes, by tier:
 * - devices: every device (CPUs, SMMUs, masters, one-to-one devices, accelerators) and every
 *   SMMU context bank;
 * - address spaces: the page tables the devices' regimes walk (and every other page table the
 *   caller names), each an address space of its input;
 * - mappings: each table's leaves, coalesced into runs (contiguous input and output, same
 *   rights and memory type);
 * - physical: allocations (an address space's own table pages as one node), memory targets and
 *   regions;
 * - owners: what the systems labelled (a VCM reservation, a GMEM address space, a Gunyah parcel).
 *
 * Edges: device -(attached)-> context bank; device or bank -(ttbr0 / ttbr1 / stage2, live or
 * not)-> address space; address space -(maps)-> mapping; mapping -(backed by)-> allocation, or
 * -(in)-> region where no allocation holds it, or -(through stage 2)-> the stage-2 address space
 * whose IPAs it outputs; address space -(tables in)-> the allocations its own table pages are
 * in; allocation -(from)-> target -(draws on)-> region; one-to-one device
 * -(window)-> region; owner -(labels)-> what its scope covers.
 *
 * JSON: `{ format: "memweave-graph", version: 1, nodes, edges }`; nodes and edges in a fixed
 * order (devices in registration order, tables as met, mappings by address), so the same
 * machine gives the same bytes.
 */
import { hex, hexRange } from "../../base/address.js";
import { fail } from "../../base/errors.js";
import { formatSizeShort } from "../../base/size.js";
import type { AnyPageTable } from "../../mmu/page-table.js";
import type { TableMemory, TableRoot } from "../../mmu/table-memory.js";
import { formatPerm } from "../../mmu/tlb.js";
import { walkRoot } from "../../mmu/tree-walk.js";
import type { PhysAllocation } from "../../phys/target.js";
import type { Platform } from "../platform.js";

export const GRAPH_FORMAT_VERSION = 1;

export type Tier = "devices" | "address-spaces" | "mappings" | "physical" | "owners";

export interface GraphNode {
  readonly id: string;
  /** device, context-bank, address-space, mapping, allocation, table-pages, target, region, owner. */
  readonly kind: string;
  readonly tier: Tier;
  readonly label: string;
  /** Kind-specific facts (plain JSON). */
  readonly data: { readonly [key: string]: string | number | boolean | null };
}

export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  /**
   * attached, has, ttbr0, ttbr1, stage2, maps, backed-by, in, through-stage2, tables-in, from,
   * draws-on, window, labels.
   */
  readonly kind: string;
  /** False for a translation nobody takes now (an inactive context bank). */
  readonly live?: boolean;
}

export interface PlatformGraph {
  readonly format: "memweave-graph";
  readonly version: typeof GRAPH_FORMAT_VERSION;
  readonly nodes: GraphNode[];
  readonly edges: GraphEdge[];
}

export interface GraphOptions {
  /** Page tables to include even if no device walks them, with their names. */
  readonly tables?: ReadonlyArray<{ readonly name: string; readonly table: AnyPageTable }>;
  /** Mapping nodes per address space, at most (the rest count in one node). Default 64. */
  readonly maxMappings?: number;
}

interface TableInfo {
  readonly id: string;
  readonly root: TableRoot;
  readonly name: string;
  /** The stage-2 table its output goes through (a guest's stage 1), if any. */
  stage2?: string;
}

/** Build the graph of the platform as it is now. */
export function buildGraph(platform: Platform, options: GraphOptions = {}): PlatformGraph {
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  const ids = new Set<string>();
  const node = (n: GraphNode) => {
    if (!ids.has(n.id)) {
      ids.add(n.id);
      nodes.push(n);
    }
    return n.id;
  };
  const maxMappings = options.maxMappings ?? 64;
  if (!Number.isSafeInteger(maxMappings) || maxMappings < 0)
    fail("EINVAL", `buildGraph: maxMappings ${String(maxMappings)} is not a count (0 or more)`);
  // An edge is kept once (several allocations may stand behind one node).
  const edgeKeys = new Set<string>();
  const edge = (e: GraphEdge) => {
    const key = `${e.from}\u0000${e.to}\u0000${e.kind}`;
    if (edgeKeys.has(key)) return;
    edgeKeys.add(key);
    edges.push(e);
  };

  // Address spaces: every table a regime walks, named as page tables or by their root.
  const tables = new Map<TableMemory, Map<number, TableInfo>>();
  const tableOf = (root: TableRoot, name: string | undefined): TableInfo => {
    let m = tables.get(root.memory);
    if (m === undefined) tables.set(root.memory, (m = new Map<number, TableInfo>()));
    let t = m.get(root.root);
    if (t === undefined) {
      const label = name ?? `table ${hex(root.root)}`;
      t = { id: `table:${label}`, root, name: label };
      m.set(root.root, t);
      node({
        id: t.id,
        kind: "address-space",
        tier: "address-spaces",
        label: `${label}\n${root.format.name}`,
        data: { format: root.format.name, root: root.root, stage: root.format.stage },
      });
    }
    return t;
  };
  for (const { name, table } of options.tables ?? [])
    tableOf({ format: table.format, memory: table.memory, root: table.root }, name);

  // Devices, their context banks, and the tables their regimes walk.
  for (const d of platform.devices()) {
    const caps = d.capabilities();
    const dev = node({
      id: `device:${d.name}`,
      kind: "device",
      tier: "devices",
      label: `${d.name}\n${d.kind}`,
      data: { kind: d.kind },
    });
    const self = caps.masters.some((m) => m.name === d.name);
    for (const info of caps.regimes) {
      const bank = info.contextBank;
      let from = dev;
      if (bank !== undefined) {
        const smmu = info.tlb?.owner ?? d.name;
        from = node({
          id: `bank:${smmu}/${bank.name}`,
          kind: "context-bank",
          tier: "devices",
          label: `${smmu}/${bank.name}`,
          data: { index: bank.index, bound: bank.bound, active: bank.active },
        });
        if (!self) edge({ from: dev, to: from, kind: "has" });
        else edge({ from: dev, to: from, kind: "attached" });
        if (self) continue; // the bank's tables are the SMMU's to draw
      }
      const r = info.regime;
      const live = info.live && r.enabled;
      const s2 = r.stage2 !== undefined ? tableOf(r.stage2, info.tables.stage2?.name) : undefined;
      for (const [slot, root, table] of [
        ["ttbr0", r.ttbr0, info.tables.ttbr0],
        ["ttbr1", r.ttbr1, info.tables.ttbr1],
      ] as const) {
        if (root === undefined) continue;
        const t = tableOf(root, table?.name);
        if (s2 !== undefined) t.stage2 = s2.id;
        edge({ from, to: t.id, kind: slot, live });
      }
      if (s2 !== undefined) edge({ from, to: s2.id, kind: "stage2", live });
    }
    for (const w of caps.windows)
      for (const region of platform.map.regions())
        if (region.base < w.base + w.size && w.base < region.end)
          edge({ from: dev, to: regionId(region.name), kind: "window" });
  }

  // Physical memory: regions, targets, and the allocations (nodes further down).
  for (const r of platform.map.regions())
    node({
      id: regionId(r.name),
      kind: "region",
      tier: "physical",
      label: `${r.name}\n${hexRange(r.base, r.size)}`,
      data: { base: r.base, size: r.size, kind: r.kind, device: r.device ?? null },
    });
  const allocations: Array<{ a: PhysAllocation; start: number; end: number }> = [];
  for (const t of platform.targets()) {
    const tid = node({
      id: `target:${t.name}`,
      kind: "target",
      tier: "physical",
      label: `${t.name}\n${t.kind}`,
      data: { allocator: t.kind },
    });
    for (const r of new Set(t.ranges.map((x) => x.region)))
      edge({ from: tid, to: regionId(r), kind: "draws-on" });
    for (const a of t.allocations())
      for (const c of a.chunks) allocations.push({ a, start: c.pa, end: c.pa + c.size });
  }
  allocations.sort((x, y) => x.start - y.start);
  // Chunks never overlap, so sorted by start they are sorted by end too.
  const allocationsIn = (start: number, end: number): PhysAllocation[] => {
    let lo = 0;
    let hi = allocations.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (allocations[mid]!.end <= start) lo = mid + 1;
      else hi = mid;
    }
    const out: PhysAllocation[] = [];
    for (let i = lo; i < allocations.length && allocations[i]!.start < end; i++)
      if (!out.includes(allocations[i]!.a)) out.push(allocations[i]!.a);
    return out;
  };

  // Each address space once: its leaves as runs, and the allocations its own tables are in.
  interface Run {
    va: number;
    pa: number;
    size: number;
    perm: number;
    mem: string;
    leaves: number;
  }
  const walked: Array<{ t: TableInfo; runs: Run[]; tablePages: PhysAllocation[] }> = [];
  /** Table-page allocations, and the node that stands for them (their address space's). */
  const tablePage = new Map<PhysAllocation, string>();
  const allocNode = (a: PhysAllocation) => tablePage.get(a) ?? `alloc:${a.id}`;
  for (const byRoot of tables.values())
    for (const t of byRoot.values()) {
      const runs: Run[] = [];
      const pages: PhysAllocation[] = [];
      // Physical table memory only: a guest's tables are at IPAs.
      const physicalTables = t.root.memory.stableViews === true;
      walkRoot(t.root, {
        table: (tv) => {
          if (!physicalTables) return;
          for (const a of allocationsIn(tv.addr, tv.addr + 1))
            if (!pages.includes(a)) pages.push(a);
        },
        leaf: (l) => {
          const f = t.root.format;
          const perm = f.perm(l.levelIndex, l.lo, l.hi);
          const mem = f.attributes(l.levelIndex, l.lo, l.hi).memType;
          const last = runs[runs.length - 1];
          if (
            last !== undefined &&
            last.va + last.size === l.va &&
            last.pa + last.size === l.pa &&
            last.perm === perm &&
            last.mem === mem
          ) {
            last.size += l.size;
            last.leaves++;
          } else runs.push({ va: l.va, pa: l.pa, size: l.size, perm, mem, leaves: 1 });
        },
      });
      for (const a of pages) if (!tablePage.has(a)) tablePage.set(a, `${t.id}:tables`);
      walked.push({ t, runs, tablePages: pages });
    }

  // Allocations: one node each, but an address space's table pages as one node of its own.
  for (const target of platform.targets())
    for (const a of target.allocations()) {
      if (tablePage.has(a)) continue;
      node({
        id: `alloc:${a.id}`,
        kind: "allocation",
        tier: "physical",
        label: `#${a.id} ${formatSizeShort(a.size)}`,
        data: { id: a.id, size: a.size, chunks: a.chunks.length, first: a.chunks[0]!.pa },
      });
      edge({ from: `alloc:${a.id}`, to: `target:${target.name}`, kind: "from" });
    }
  for (const { t, tablePages } of walked) {
    if (tablePages.length === 0) continue;
    // Tables of one format may differ in size (a v7s level-1 table is 16K): count each size.
    const bySize = new Map<number, number>();
    for (const a of tablePages) bySize.set(a.size, (bySize.get(a.size) ?? 0) + 1);
    const sizes = [...bySize]
      .sort((x, y) => y[0] - x[0])
      .map(([size, n]) => `${n} × ${formatSizeShort(size)}`)
      .join(" + ");
    const id = node({
      id: `${t.id}:tables`,
      kind: "table-pages",
      tier: "physical",
      label: `${t.name} tables\n${sizes}`,
      data: {
        allocations: tablePages.length,
        bytes: tablePages.reduce((n, a) => n + a.size, 0),
      },
    });
    edge({ from: t.id, to: id, kind: "tables-in" });
    for (const target of new Set(tablePages.map((a) => a.target)))
      edge({ from: id, to: `target:${target}`, kind: "from" });
  }

  // Mappings: each address space's runs.
  for (const { t, runs } of walked)
    runs.forEach((run, i) => {
      if (i === maxMappings) {
        const rest = runs.slice(maxMappings);
        const id = node({
          id: `${t.id}:more`,
          kind: "mapping",
          tier: "mappings",
          label: `… ${rest.length} more run${rest.length === 1 ? "" : "s"}`,
          data: { runs: rest.length, bytes: rest.reduce((n, x) => n + x.size, 0) },
        });
        edge({ from: t.id, to: id, kind: "maps" });
      }
      if (i >= maxMappings) return;
      const id = node({
        id: `${t.id}:${hex(run.va)}`,
        kind: "mapping",
        tier: "mappings",
        label: `${hexRange(run.va, run.size)}\n→ ${hex(run.pa)} ${formatPerm(run.perm).replace(/ /g, "")} ${run.mem}`,
        data: {
          va: run.va,
          size: run.size,
          pa: run.pa,
          rights: formatPerm(run.perm),
          memType: run.mem,
          leaves: run.leaves,
        },
      });
      edge({ from: t.id, to: id, kind: "maps" });
      if (t.stage2 !== undefined) {
        edge({ from: id, to: t.stage2, kind: "through-stage2" });
        return;
      }
      const backing = allocationsIn(run.pa, run.pa + run.size);
      if (backing.length > 0)
        for (const a of backing)
          edge({
            from: id,
            to: allocNode(a),
            kind: "backed-by",
          });
      else {
        const r = platform.map.find(run.pa);
        if (r !== undefined) edge({ from: id, to: regionId(r.name), kind: "in" });
      }
    });

  // Owners and what they label.
  platform.owners.list().forEach(({ owner, scope, description }, i) => {
    const id = node({
      id: `owner:${owner.system}:${owner.kind}:${owner.name}`,
      kind: "owner",
      tier: "owners",
      label: `${owner.name}\n${owner.system} ${owner.kind}`,
      data: { system: owner.system, kind: owner.kind, scope: description, order: i },
    });
    if ("device" in scope) {
      if (ids.has(`device:${scope.device}`))
        edge({ from: id, to: `device:${scope.device}`, kind: "labels" });
    } else if ("table" in scope) {
      const t = tables.get(scope.table.memory)?.get(scope.table.root);
      if (t !== undefined) edge({ from: id, to: t.id, kind: "labels" });
    } else {
      const backing = allocationsIn(scope.phys.start, scope.phys.end);
      if (backing.length > 0)
        for (const a of backing) edge({ from: id, to: allocNode(a), kind: "labels" });
      else
        for (const r of platform.map.regions())
          if (r.base < scope.phys.end && scope.phys.start < r.end)
            edge({ from: id, to: regionId(r.name), kind: "labels" });
    }
  });

  return { format: "memweave-graph", version: GRAPH_FORMAT_VERSION, nodes, edges };
}

function regionId(name: string): string {
  return `region:${name}`;
}

// --- DOT ---------------------------------------------------------------------------------------

const TIERS: ReadonlyArray<{ tier: Tier; label: string; color: string }> = [
  { tier: "devices", label: "Devices", color: "#e8f0fe" },
  { tier: "address-spaces", label: "Address spaces", color: "#fef7e0" },
  { tier: "mappings", label: "Mappings", color: "#f1f3f4" },
  { tier: "physical", label: "Physical memory", color: "#e6f4ea" },
  { tier: "owners", label: "Owners", color: "#fce8e6" },
];

const SHAPES: Record<string, string> = {
  device: "box",
  "context-bank": "box",
  "address-space": "folder",
  mapping: "note",
  allocation: "box3d",
  "table-pages": "component",
  target: "cylinder",
  region: "box",
  owner: "tab",
};

function dotString(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

/**
 * The graph in Graphviz DOT: one cluster per tier, left to right (devices, address spaces,
 * mappings, physical memory), edges labelled with their kind; paths nobody takes now dashed.
 */
export function graphToDot(graph: PlatformGraph): string {
  const lines = [
    "digraph memweave {",
    '  graph [rankdir=LR, fontname="Helvetica", fontsize=11, newrank=true, nodesep=0.25, ranksep=0.6];',
    '  node [fontname="Helvetica", fontsize=9, style=filled, fillcolor=white];',
    '  edge [fontname="Helvetica", fontsize=8, color="#5f6368"];',
  ];
  TIERS.forEach(({ tier, label, color }, i) => {
    const members = graph.nodes.filter((n) => n.tier === tier);
    if (members.length === 0) return;
    lines.push(`  subgraph cluster_${i} {`);
    lines.push(`    label=${dotString(label)}; style=filled; color=${dotString(color)};`);
    for (const n of members)
      lines.push(
        `    ${dotString(n.id)} [label=${dotString(n.label)}, shape=${SHAPES[n.kind] ?? "box"}];`,
      );
    lines.push("  }");
  });
  for (const e of graph.edges) {
    const attrs = [`label=${dotString(e.kind)}`];
    if (e.live === false) attrs.push("style=dashed");
    lines.push(`  ${dotString(e.from)} -> ${dotString(e.to)} [${attrs.join(", ")}];`);
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}
