/**
 * The reverse map (`whoReaches`) against brute force (its parts one by one: reverse-map.test.ts).
 *
 * The model-based test builds random machines from a small menu — a CPU with TTBR0 and
 * sometimes TTBR1 with a split, a second CPU that is sometimes in bypass (MMU off), a vCPU whose
 * guest stage 1 lives in physical table memory that its stage 2 maps one to one (as
 * examples/nested.yaml does), an accelerator walking the CPU's own table, an SMMU with a
 * stage-1 (LPAE or v7s, sometimes nested) and a stage-2-only context bank and three masters, a
 * one-to-one device window — and runs random map / unmap / protect on the tables (small input
 * windows, eight physical frames, so pages alias), bind / unbind / activate / deactivate of the
 * banks, re-attach of a master, window moves and table loads. After every step the paths
 * `whoReaches` gives for the frames, expanded into pages, must be exactly what translating every
 * input page of every master's window gives (the regime's `probe`, and the tables by hand for
 * the memory types and leaves).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";

import type { PageTable } from "../../mmu/page-table.js";
import type { MemType } from "../../mmu/prot.js";
import { permNeeded, PROT } from "../../mmu/prot.js";
import type { TranslationRegime } from "../../mmu/regime.js";
import { TranslateOut } from "../../mmu/regime.js";
import { formatPerm } from "../../mmu/tlb.js";
import { FAULT_NONE } from "../../mmu/walk.js";
import { Accelerator } from "../accelerator.js";
import { Cpu } from "../cpu.js";
import type { BusMaster } from "../bus-master.js";
import { DRAM, K, M, machine, RO, RW, S1, S2, V7S } from "../machine.testutil.js";
import { OneToOneDevice } from "../one-to-one.js";
import type { ContextBank, SmmuMaster } from "../smmu.js";
import { Smmu } from "../smmu.js";
import type { ReachPath } from "./reverse-map.js";
import { whoReaches } from "./reverse-map.js";

const PAGE = 4 * K;
/** Frames of the model-based machines, and the pages of every input window. */
const FRAMES = 8;
const WINDOW_PAGES = 8;
/** cpu0's split; the CPUs' VA window straddles it. */
const SPLIT = 0x4000_0000;
const CPU_VA = SPLIT - 4 * PAGE;
const GUEST_VA = 0x10_0000;
const GUEST_IPA = 0x4000_0000;
const IOVA = 0x1000_0000;
/** machine()'s table target: the first 32 MiB of DRAM (where every table page is). */
const TABLE_MEMORY = 32 * M;
const WB = RW | PROT.CACHE;
/** Not executable: `PROT` without NOEXEC is executable. */
const WBN = WB | PROT.NOEXEC;

const MEM_RANK: Record<MemType, number> = { "normal-wb": 0, "normal-nc": 1, device: 2 };

/** The `rwx` letters `perm` gives an access at one privilege (from the access checks). */
function lettersOf(perm: number, privileged: boolean): string {
  return (["read", "write", "exec"] as const)
    .map((kind, i) => (perm & permNeeded({ kind, privileged }) ? "rwx"[i] : ""))
    .join("");
}

/** The memory type of a leaf found by {@link PageTable.translate}. */
function memTypeOf(table: PageTable, t: { level: number; lo: number; hi: number }): MemType {
  const li = table.format.levels.findIndex((l) => l.level === t.level);
  return table.format.attributes(li, t.lo, t.hi).memType;
}

/** One page of one path: everything a path says of it, as one comparable line. */
interface PageRow {
  readonly master: string;
  readonly via: ReachPath["via"];
  readonly regime: string;
  readonly contextBank: string;
  readonly space: string;
  readonly ttbr: string;
  readonly input: number;
  readonly pa: number;
  readonly perm: number;
  readonly rights: string;
  readonly access: string;
  readonly memType: string;
  readonly live: boolean;
  readonly table1: string;
  readonly table2: string;
}

const keyOf = (r: PageRow): string =>
  [
    r.master,
    r.via,
    r.regime,
    r.contextBank,
    r.space,
    r.ttbr,
    r.input.toString(16),
    r.pa.toString(16),
    r.perm.toString(16),
    r.rights,
    r.access,
    r.memType,
    String(r.live),
    r.table1,
    r.table2,
  ].join("|");

/** A check for the inner loops (vitest's expect is slow there): throws with `what`. */
function ensure(ok: boolean, what: string): void {
  if (!ok) throw new Error(`model-based check failed: ${what}`);
}

/** Where each page's leaves are, by row key (brute force), to check runs and hops. */
interface LeafIds {
  readonly s1?: { readonly va: number; readonly level: number };
  readonly s2?: { readonly va: number; readonly level: number };
}

/** Expand paths into pages (and check what a path says of itself on the way). */
function pagesOf(paths: readonly ReachPath[]): PageRow[] {
  const out: PageRow[] = [];
  for (const p of paths) {
    const n = p.input.end - p.input.start;
    ensure(p.phys.end - p.phys.start === n, "input and physical ranges of one size");
    ensure(
      n % PAGE === 0 && n > 0 && p.input.start % PAGE === 0 && p.phys.start % PAGE === 0,
      "whole pages",
    );
    ensure(p.rights === formatPerm(p.perm), "rights spell perm");
    for (let off = 0; off < n; off += PAGE)
      out.push({
        master: p.master,
        via: p.via,
        regime: p.regime ?? "",
        contextBank: p.contextBank ?? "",
        space: p.input.space,
        ttbr: p.stage1?.ttbr ?? "",
        input: p.input.start + off,
        pa: p.phys.start + off,
        perm: p.perm,
        rights: p.rights,
        access: p.access,
        memType: p.memType,
        live: p.live,
        table1: p.stage1?.table ?? "",
        table2: p.stage2?.table ?? "",
      });
  }
  return out;
}

/** True if `a` and `b` would be one run (coalesce must have merged them). */
function continues(a: ReachPath, b: ReachPath): boolean {
  return (
    a.master === b.master &&
    a.via === b.via &&
    a.regime === b.regime &&
    a.input.space === b.input.space &&
    a.input.end === b.input.start &&
    a.phys.end === b.phys.start &&
    a.stage1?.table === b.stage1?.table &&
    a.stage1?.ttbr === b.stage1?.ttbr &&
    a.stage2?.table === b.stage2?.table &&
    a.perm === b.perm &&
    a.memType === b.memType &&
    a.live === b.live &&
    JSON.stringify(a.owners) === JSON.stringify(b.owners)
  );
}

// --- the model-based machine ------------------------------------------------------------------

interface Config {
  readonly v7s: boolean;
  readonly ttbr1: boolean;
  readonly cpu1Table: boolean;
  readonly nestedBank: boolean;
  /** Start with every table's window mapped (else empty). */
  readonly prefill: boolean;
}

/** What the model-based runs exercised: each must come up (else the property is vacuous). */
const tally = new Map<string, number>();
const seen = (what: string): void => void tally.set(what, (tally.get(what) ?? 0) + 1);

/** Indices of the tables the ops change. */
const TABLES = ["cpu-pt", "cpu-k", "guest", "vm-s2", "dev-s1", "dev-s2"] as const;

type Op =
  | { op: "map"; t: number; page: number; n: number; out: number; prot: number }
  | { op: "unmap"; t: number; page: number; n: number }
  | { op: "protect"; t: number; page: number; n: number; prot: number }
  | { op: "ttbr1" }
  | { op: "cpu1" }
  | { op: "acc" }
  | { op: "bind"; bank: number; nested: boolean }
  | { op: "active"; bank: number }
  | { op: "reattach" }
  | { op: "window"; page: number; n: number }
  | { op: "tableMemory"; which: number; prot: number | null };

function world(cfg: Config) {
  const m = machine();
  const { platform, table, phys } = m;
  const frames = phys(FRAMES * PAGE);
  const cpuPt = table(S1, "cpu-pt");
  const cpuK = table(S1, "cpu-k");
  const guest = table(S1, "guest");
  const vmS2 = table(S2, "vm-s2");
  const devS1 = table(cfg.v7s ? V7S : S1, "dev-s1");
  const devS2 = table(S2, "dev-s2");
  // The guest's (and a nested bank's) stage-1 tables are in physical table memory: the stage 2
  // maps that memory one to one, so the nested walks find them.
  vmS2.map(DRAM, DRAM, TABLE_MEMORY, WB);
  devS2.map(DRAM, DRAM, TABLE_MEMORY, WB);
  const cpu0 = new Cpu(platform, {
    name: "cpu0",
    ttbr0: cpuPt,
    asid: 1,
    ...(cfg.ttbr1 ? { ttbr1: cpuK, split: SPLIT } : {}),
  });
  const cpu1 = new Cpu(platform, {
    name: "cpu1",
    asid: 2,
    ...(cfg.cpu1Table ? { ttbr0: cpuPt } : {}),
  });
  const vcpu = new Cpu(platform, { name: "vcpu0", ttbr0: guest, asid: 1, stage2: vmS2, vmid: 7 });
  const acc = new Accelerator(platform, { name: "acc0" });
  acc.shareTableWith(cpuPt, 5);
  const smmu = new Smmu(platform, { name: "smmu0", contexts: ["ctx1", "ctx2"] });
  const banks = [smmu.contextBank("ctx1"), smmu.contextBank("ctx2")] as const;
  banks[0].bind(devS1, cfg.nestedBank ? { stage2: devS2 } : {});
  banks[1].bind(devS2);
  for (const b of banks) b.activate();
  const gpu = smmu.attachMaster("gpu", "ctx1");
  const dsp = smmu.attachMaster("dsp", "ctx2");
  const isp = smmu.attachMaster("isp", "ctx1");
  const dma = new OneToOneDevice(platform, {
    name: "dma0",
    base: frames + 2 * PAGE,
    size: 3 * PAGE,
  });
  const tables = [cpuPt, cpuK, guest, vmS2, devS1, devS2] as const;
  /** Input window base of each table; the second output window of a stage 1 under a stage 2. */
  const inputBase = [CPU_VA, CPU_VA, GUEST_VA, GUEST_IPA, IOVA, IOVA];
  const altOutput = [undefined, undefined, GUEST_IPA, undefined, IOVA, undefined];
  const byRoot = new Map<number, PageTable>(tables.map((t) => [t.root, t]));
  if (cfg.prefill) {
    const prots = [WB, RW, RO | PROT.CACHE, WB | PROT.NOEXEC];
    const frame = (i: number) => frames + (i % FRAMES) * PAGE;
    for (let i = 0; i < WINDOW_PAGES; i++) {
      const prot = prots[Math.floor(i / 3) % prots.length]!;
      const at = (t: number) => inputBase[t]! + i * PAGE;
      cpuPt.map(at(0), frame(i), PAGE, prot);
      cpuK.map(at(1), frame(7 - i), PAGE, prot);
      guest.map(at(2), GUEST_IPA + ((i + 2) % WINDOW_PAGES) * PAGE, PAGE, prot);
      vmS2.map(at(3), frame(i), PAGE, prot);
      devS1.map(at(4), i < 4 ? IOVA + (i + 4) * PAGE : frame(i), PAGE, prot);
      devS2.map(at(5), frame(i + 3), PAGE, prot);
    }
  }
  return {
    ...m,
    frames,
    tables,
    inputBase,
    altOutput,
    byRoot,
    cpu0,
    cpu1,
    vcpu,
    acc,
    smmu,
    banks,
    gpu,
    dsp,
    isp,
    dma,
    cpuPt,
    cpuK,
  };
}
type World = ReturnType<typeof world>;

function apply(w: World, op: Op): void {
  const page = (t: number, i: number) => w.inputBase[t]! + i * PAGE;
  switch (op.op) {
    case "map":
      for (let i = op.page; i < Math.min(WINDOW_PAGES, op.page + op.n); i++) {
        const table = w.tables[op.t]!;
        const o = (op.out + i - op.page) % (2 * FRAMES);
        const alt = w.altOutput[op.t];
        const pa = o < FRAMES ? w.frames + o * PAGE : (alt ?? w.frames) + (o - FRAMES) * PAGE;
        const va = page(op.t, i);
        if (table.translate(va) !== undefined) table.remap(va, pa, PAGE, op.prot);
        else table.map(va, pa, PAGE, op.prot);
      }
      return;
    case "unmap":
    case "protect":
      for (let i = op.page; i < Math.min(WINDOW_PAGES, op.page + op.n); i++) {
        const table = w.tables[op.t]!;
        const va = page(op.t, i);
        if (table.translate(va) === undefined) continue;
        if (op.op === "unmap") table.unmap(va, PAGE);
        else table.protect(va, PAGE, op.prot);
      }
      return;
    case "ttbr1":
      if (w.cpu0.mmu.ttbr1 !== undefined) w.cpu0.setTtbr1(undefined);
      else w.cpu0.setTtbr1(w.cpuK, SPLIT);
      return;
    case "cpu1":
      w.cpu1.setTtbr0(w.cpu1.mmu.ttbr0 !== undefined ? undefined : w.cpuPt);
      return;
    case "acc":
      if (w.acc.mmu.ttbr0 !== undefined) w.acc.setTable(undefined);
      else w.acc.shareTableWith(w.cpuPt, 5);
      return;
    case "bind": {
      const b = w.banks[op.bank]!;
      if (b.active) return;
      if (b.bound) b.unbind();
      else if (op.bank === 0) b.bind(w.tables[4], op.nested ? { stage2: w.tables[5] } : {});
      else b.bind(w.tables[5]);
      return;
    }
    case "active": {
      const b = w.banks[op.bank]!;
      if (b.active) b.deactivate();
      else b.activate();
      return;
    }
    case "reattach":
      w.isp.attach(w.isp.contextBank === w.banks[0] ? w.banks[1] : w.banks[0]);
      return;
    case "window":
      w.dma.setWindow(w.frames + op.page * PAGE, op.n * PAGE);
      return;
    case "tableMemory": {
      const s2 = w.tables[op.which === 0 ? 3 : 5];
      if (op.prot === null) s2.unmap(DRAM, TABLE_MEMORY);
      else if (s2.translate(DRAM) !== undefined) s2.protect(DRAM, TABLE_MEMORY, op.prot);
      else s2.map(DRAM, DRAM, TABLE_MEMORY, op.prot);
      return;
    }
  }
}

/** A master's regime as the brute force sees it (from the objects, not the capabilities). */
interface Seen {
  readonly master: BusMaster;
  readonly regime: TranslationRegime;
  readonly live: boolean;
  readonly bank?: ContextBank;
  /** The base of its input window when it translates. */
  readonly inputBase: number;
}

function regimesOf(w: World): Seen[] {
  const smmuSeen = (m: SmmuMaster): Seen => ({
    master: m,
    regime: m.contextBank.regime,
    live: m.contextBank.active && m.contextBank.bound,
    bank: m.contextBank,
    inputBase: IOVA,
  });
  return [
    { master: w.cpu0, regime: w.cpu0.mmu, live: true, inputBase: CPU_VA },
    { master: w.cpu1, regime: w.cpu1.mmu, live: true, inputBase: CPU_VA },
    { master: w.vcpu, regime: w.vcpu.mmu, live: true, inputBase: GUEST_VA },
    { master: w.acc, regime: w.acc.mmu, live: true, inputBase: CPU_VA },
    smmuSeen(w.gpu),
    smmuSeen(w.dsp),
    smmuSeen(w.isp),
  ];
}

/**
 * Brute force: every input page of every master's window translated one by one, kept where it
 * lands in the frames; with the leaves each page went through.
 */
function bruteForce(w: World): { rows: PageRow[]; leaves: Map<string, LeafIds> } {
  const lo = w.frames;
  const hi = w.frames + FRAMES * PAGE;
  const rows: PageRow[] = [];
  const leaves = new Map<string, LeafIds>();
  const out = new TranslateOut();
  for (const s of regimesOf(w)) {
    const r = s.regime;
    const privileged = s.master.defaultPrivileged;
    const base = {
      master: s.master.name,
      regime: r.name,
      contextBank: s.bank?.name ?? "",
      live: s.live,
    };
    const tableless = r.ttbr0 === undefined && r.ttbr1 === undefined && r.stage2 === undefined;
    if (tableless) {
      // The MMU is off: physical addresses, every right (only while enabled: an unbound bank
      // reaches nothing).
      if (!r.enabled) continue;
      for (let pa = lo; pa < hi; pa += PAGE) {
        ensure(r.probe(pa, out) === FAULT_NONE && out.pa === pa, "a bypass is the identity");
        rows.push({
          ...base,
          via: "bypass",
          space: "phys",
          ttbr: "",
          input: pa,
          pa,
          perm: out.perm,
          rights: formatPerm(out.perm),
          access: lettersOf(out.perm, privileged),
          memType: "unknown",
          table1: "",
          table2: "",
        });
      }
      continue;
    }
    for (let i = 0; i < WINDOW_PAGES; i++) {
      const va = s.inputBase + i * PAGE;
      // An inactive bank's path is what it would translate once active.
      const enabled = r.enabled;
      r.enabled = true;
      let code: number;
      try {
        code = r.probe(va, out);
      } finally {
        r.enabled = enabled;
      }
      if (code !== FAULT_NONE) {
        // A nested walk whose table fetch stage 2 refused, where the tables (read physically)
        // would reach the frames: the case a reverse map that ignores the fetches gets wrong.
        const s1 = r.split !== undefined && va >= r.split ? r.ttbr1 : r.ttbr0;
        if (s1 !== undefined && r.stage2 !== undefined) {
          const t1 = w.byRoot.get(s1.root)!.translate(va);
          const t2 = t1 && w.byRoot.get(r.stage2.root)!.translate(Number(t1.pa));
          if (t2 !== undefined && t2.pa >= lo && t2.pa < hi) seen("refused table fetch");
        }
        continue;
      }
      if (r.split !== undefined && r.ttbr0 !== undefined && va >= r.split)
        if (w.byRoot.get(r.ttbr0.root)!.translate(va) !== undefined)
          seen("ttbr0 leaf past the split");
      // By hand, stage by stage: the leaves and memory types (and the same output).
      const ttbr = r.split !== undefined && va >= r.split ? "ttbr1" : "ttbr0";
      const s1Root = r.split !== undefined && va >= r.split ? r.ttbr1 : r.ttbr0;
      let ipa = va;
      let memType: MemType | undefined;
      let t1Name = "";
      let t2Name = "";
      const ids: { s1?: { va: number; level: number }; s2?: { va: number; level: number } } = {};
      if (s1Root !== undefined) {
        const t = w.byRoot.get(s1Root.root)!;
        const tr = t.translate(va)!;
        ensure(tr !== undefined, `${s.master.name} ${va.toString(16)} by hand`);
        ipa = tr.pa;
        memType = memTypeOf(t, tr);
        t1Name = t.name;
        ids.s1 = { va: tr.va, level: tr.level };
      }
      if (r.stage2 !== undefined) {
        const t = w.byRoot.get(r.stage2.root)!;
        const tr = t.translate(ipa)!;
        ensure(tr !== undefined, `${s.master.name} ipa ${ipa.toString(16)} by hand`);
        ipa = tr.pa;
        const m2 = memTypeOf(t, tr);
        memType = memType === undefined || MEM_RANK[m2] > MEM_RANK[memType] ? m2 : memType;
        t2Name = t.name;
        ids.s2 = { va: tr.va, level: tr.level };
      }
      ensure(ipa === out.pa, `${s.master.name} ${va.toString(16)}: probe and tables agree`);
      if (out.pa < lo || out.pa >= hi) continue;
      const row: PageRow = {
        ...base,
        via: "translation",
        space: r.hasStage1 ? "virt" : "ipa",
        ttbr: r.hasStage1 ? ttbr : "",
        input: va,
        pa: out.pa,
        perm: out.perm,
        rights: formatPerm(out.perm),
        access: lettersOf(out.perm, privileged),
        memType: memType!,
        table1: t1Name,
        table2: t2Name,
      };
      rows.push(row);
      leaves.set(keyOf(row), ids);
    }
  }
  // The one-to-one window: physical addresses, the device's own rights.
  for (let pa = Math.max(lo, w.dma.base); pa < Math.min(hi, w.dma.base + w.dma.size); pa += PAGE) {
    const t = w.dma.translate(pa);
    ensure(t.ok, "the window translates");
    const perm = t.ok ? t.perm : 0;
    rows.push({
      master: "dma0",
      via: "window",
      regime: "",
      contextBank: "",
      space: "phys",
      ttbr: "",
      input: pa,
      pa,
      perm,
      rights: formatPerm(perm),
      access: lettersOf(perm, false),
      memType: "unknown",
      live: true,
      table1: "",
      table2: "",
    });
  }
  return { rows, leaves };
}

/** The masters (other than `self`) whose regimes walk the table at `root` now. */
function walkersOf(w: World, root: number, self: string): string[] {
  return regimesOf(w)
    .filter(
      (s) =>
        s.master.name !== self &&
        [s.regime.ttbr0, s.regime.ttbr1, s.regime.stage2].some((t) => t?.root === root),
    )
    .map((s) => s.master.name)
    .sort();
}

/** whoReaches over the frames equals the brute force, page for page; runs are maximal. */
function check(w: World): void {
  const lo = w.frames;
  const hi = w.frames + FRAMES * PAGE;
  const paths = whoReaches(w.platform, lo, hi);
  const { rows, leaves } = bruteForce(w);
  const got = pagesOf(paths).map(keyOf).sort();
  const want = rows.map(keyOf).sort();
  expect(got).toEqual(want);
  for (const p of paths) {
    if (p.stage1 !== undefined && p.stage2 !== undefined)
      seen(p.kind === "cpu" ? "nested cpu" : "nested bank");
    if (p.stage1?.ttbr === "ttbr1") seen("ttbr1");
    if (p.input.space === "ipa") seen("stage-2 only");
    if (!p.live) seen("not live");
    if (p.via !== "translation") seen(p.via);
    if (p.stage1?.table === "dev-s1" && w.tables[4].format === V7S) seen("v7s");
    if (p.input.end - p.input.start > PAGE) seen("run of pages");
    if ((p.stage1?.sharedWith.length ?? 0) > 0) seen("shared table");
    if (p.kind === "accelerator" && p.via === "translation") seen("accelerator");
    if (p.access === "") seen("no access");
  }
  const byFrame = new Map<number, Set<string>>();
  for (const r of rows)
    if (r.via === "translation")
      byFrame.set(r.pa, (byFrame.get(r.pa) ?? new Set()).add(`${r.master} ${r.input}`));
  if ([...byFrame.values()].some((x) => x.size > 1)) seen("aliased frame");
  // Live only: the live part of the same answer.
  const live = whoReaches(w.platform, lo, hi, { onlyLive: true });
  expect(live).toEqual(paths.filter((p) => p.live));
  expect(pagesOf(live).map(keyOf).sort()).toEqual(
    rows
      .filter((r) => r.live)
      .map(keyOf)
      .sort(),
  );
  // Sorted by physical address, then master.
  const order = paths.map((p) => [p.phys.start, p.master] as const);
  expect(order).toEqual(
    [...order].sort((x, y) => x[0] - y[0] || (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0)),
  );
  // Coalesced into maximal runs: no path continues another.
  const ends = new Map<string, ReachPath[]>();
  for (const a of paths) {
    const k = `${a.master} ${a.input.end} ${a.phys.end}`;
    ends.set(k, [...(ends.get(k) ?? []), a]);
  }
  const unmerged = paths.flatMap((b) =>
    (ends.get(`${b.master} ${b.input.start} ${b.phys.start}`) ?? [])
      .filter((a) => continues(a, b))
      .map((a) => `${a.master} ${a.input.start.toString(16)} + ${b.input.start.toString(16)}`),
  );
  expect(unmerged).toEqual([]);
  // Each run's hops: its first leaves, how many leaves it runs through, the other walkers.
  const hopsGot: unknown[] = [];
  const hopsWant: unknown[] = [];
  for (const p of paths) {
    if (p.via !== "translation") continue;
    const ids = pagesOf([p]).map((r) => leaves.get(keyOf(r))!);
    const where = `${p.master} ${p.input.start.toString(16)}`;
    for (const k of ["s1", "s2"] as const) {
      const hop = k === "s1" ? p.stage1 : p.stage2;
      const first = ids[0]![k];
      if (hop === undefined || first === undefined) {
        hopsGot.push([where, k, hop !== undefined]);
        hopsWant.push([where, k, first !== undefined]);
        continue;
      }
      const t = w.tables.find((x) => x.name === hop.table)!;
      hopsGot.push([where, k, hop.leaf.va, hop.leaf.level, hop.leaves, [...hop.sharedWith].sort()]);
      hopsWant.push([
        where,
        k,
        first.va,
        first.level,
        ids.filter((x, i) => i === 0 || x[k]!.va !== ids[i - 1]![k]!.va).length,
        walkersOf(w, t.root, p.master),
      ]);
    }
  }
  expect(hopsGot).toEqual(hopsWant);
}

describe("whoReaches: model-based, against brute force (fast-check)", () => {
  const PROTS = [
    RW,
    RO,
    WB,
    RO | PROT.CACHE,
    RW | PROT.MMIO,
    WB | PROT.NOEXEC,
    WB | PROT.PRIV,
    WBN | PROT.PRIV,
    WB | PROT.GLOBAL,
    WB | PROT.NO_AF,
  ];
  const prot = fc.constantFrom(...PROTS);
  const table = fc.nat(TABLES.length - 1);
  const page = fc.nat(WINDOW_PAGES - 1);
  const count = fc.integer({ min: 1, max: 3 });
  const op: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 8,
      arbitrary: fc.record({
        op: fc.constant("map" as const),
        t: table,
        page,
        n: count,
        out: fc.nat(2 * FRAMES - 1),
        prot,
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({ op: fc.constant("unmap" as const), t: table, page, n: count }),
    },
    {
      weight: 3,
      arbitrary: fc.record({ op: fc.constant("protect" as const), t: table, page, n: count, prot }),
    },
    { weight: 1, arbitrary: fc.constant({ op: "ttbr1" as const }) },
    { weight: 1, arbitrary: fc.constant({ op: "cpu1" as const }) },
    { weight: 1, arbitrary: fc.constant({ op: "acc" as const }) },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant("bind" as const),
        bank: fc.nat(1),
        nested: fc.boolean(),
      }),
    },
    { weight: 2, arbitrary: fc.record({ op: fc.constant("active" as const), bank: fc.nat(1) }) },
    { weight: 1, arbitrary: fc.constant({ op: "reattach" as const }) },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant("window" as const),
        page: fc.nat(FRAMES - 1),
        n: fc.integer({ min: 1, max: 4 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant("tableMemory" as const),
        which: fc.nat(1),
        prot: fc.constantFrom(null, WB, RO, RW | PROT.NO_AF),
      }),
    },
  );
  const config = fc.record({
    v7s: fc.boolean(),
    ttbr1: fc.boolean(),
    cpu1Table: fc.boolean(),
    nestedBank: fc.boolean(),
    prefill: fc.boolean(),
  });

  it("every master's paths to the frames, page for page, after every step", () => {
    fc.assert(
      fc.property(config, fc.array(op, { minLength: 5, maxLength: 25 }), (cfg, ops) => {
        const w = world(cfg);
        check(w);
        for (const o of ops) {
          apply(w, o);
          check(w);
        }
      }),
      { seed: 20240611, numRuns: 40 },
    );
    // Every case came up, more than once.
    const cases = [
      "nested cpu",
      "nested bank",
      "ttbr1",
      "ttbr0 leaf past the split",
      "stage-2 only",
      "not live",
      "bypass",
      "window",
      "v7s",
      "run of pages",
      "shared table",
      "accelerator",
      "no access",
      "aliased frame",
      "refused table fetch",
    ];
    expect(Object.fromEntries(cases.map((c) => [c, (tally.get(c) ?? 0) > 3]))).toEqual(
      Object.fromEntries(cases.map((c) => [c, true])),
    );
  });
});

// --- unit tests ---------------------------------------------------------------------------

/** The paths of one master. */
