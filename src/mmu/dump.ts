/**
 * Page-table dumps and statistics, all built on the generic walker ({@link PageTable.walk}, as
 * Linux's `ptdump` is built on mm/pagewalk.c), and a "who maps this" walk of one address
 * through a translation regime. TLB dumps are {@link formatTlb} in tlb.ts.
 *
 * @example
 * console.log(dumpPageTable(table));
 * // page table "dev0" (lpae-s1 4K ias48 oas48): root 0x80000000
 * // L0 table @0x80000000 [0x0-0xffffffffffff]
 * //   L1 table @0x80001000 [0x0-0x7fffffffff]
 * //     L2 table @0x80002000 [0x0-0x3fffffff]
 * //       L3 0x1000-0x1fff -> 0x80100000-0x80100fff 4K rw- user nG AF normal-wb inner desc 0x0060000080100f43 @0x80003008
 */
import type { AddrArg } from "../base/address.js";
import { hex, hexRange } from "../base/address.js";
import { formatSize, formatSizeShort } from "../base/size.js";
import type { TranslationRegime } from "./regime.js";
import type { PageTableFormat } from "./format.js";
import { DESC_INVALID, DESC_LEAF } from "./format.js";
import type { AnyPageTable } from "./page-table.js";
import { formatAttributes } from "./prot.js";
import type { TableRoot } from "./table-memory.js";
import { Stage2TableMemory } from "./table-memory.js";
import {
  decoded,
  decodeDescriptor,
  entryIndex,
  FAULT_NAMES,
  FAULT_NONE,
  geometryOf,
  walkTable,
  WalkOut,
} from "./walk.js";

/** A descriptor as hex: 16 digits for 64-bit formats, 8 for 32-bit ones. */
export function formatDescriptor(format: PageTableFormat, lo: number, hi: number): string {
  const l = (lo >>> 0).toString(16).padStart(8, "0");
  return format.descriptorBytes === 8
    ? `0x${(hi >>> 0).toString(16).padStart(8, "0")}${l}`
    : `0x${l}`;
}

export interface DumpOptions {
  /** Only tables and leaves meeting `[start, end)` (default: the whole input range). */
  start?: number;
  end?: number;
}

/**
 * A line per table (level, address, input range) and a line per leaf, indented by level:
 * input range -> output range, size (`x16` for a leaf written in 16 entries), decoded
 * attributes, the raw descriptor and its address.
 */
export function dumpPageTable(table: AnyPageTable, opts: DumpOptions = {}): string {
  const f = table.format;
  const lines = [`page table "${table.name}" (${f.name}): root ${hex(table.root)}`];
  const end = opts.end ?? 2 ** f.ias;
  table.walk(
    {
      table: (t) => {
        lines.push(
          `${"  ".repeat(t.levelIndex)}L${t.level} table @${hex(t.addr)} [${hexRange(t.va, t.span)}]`,
        );
      },
      leaf: (l) => {
        const attrs = formatAttributes(f.attributes(l.levelIndex, l.lo, l.hi));
        lines.push(
          `${"  ".repeat(l.levelIndex + 1)}L${l.level} ${hexRange(l.va, l.size)} -> ${hexRange(l.pa, l.size)} ` +
            `${formatSizeShort(l.size)}${l.copies > 1 ? ` x${l.copies}` : ""} ${attrs} ` +
            `desc ${formatDescriptor(f, l.lo, l.hi)} @${hex(l.descAddr)}`,
        );
      },
    },
    opts.start ?? 0,
    end,
  );
  return lines.join("\n");
}

/** The shape of a page table, from a walk. */
export interface PageTableShape {
  format: string;
  root: number;
  /** Tables per architectural level, root level first. */
  tables: Array<{ level: number; count: number; bytes: number }>;
  /** Leaves per size, ascending. `entries` counts descriptors (16 per multi-entry leaf). */
  leaves: Array<{ size: number; count: number; entries: number }>;
  /** Bytes of all tables, as the format sizes them. */
  tableBytes: number;
  /** Bytes of input address space mapped. */
  mappedBytes: number;
}

/** Tables per level, leaves per size, table and mapped bytes, via the walker. */
export function pageTableStats(table: AnyPageTable): PageTableShape {
  const f = table.format;
  const tables = f.levels.map((l) => ({ level: l.level, count: 0, bytes: 0 }));
  const leaves = new Map<number, { size: number; count: number; entries: number }>();
  let mappedBytes = 0;
  table.walk({
    table: (t) => {
      const x = tables[t.levelIndex]!;
      x.count++;
      x.bytes += t.levelIndex === 0 ? f.rootBytes : f.levels[t.levelIndex]!.tableBytes;
    },
    leaf: (l) => {
      let x = leaves.get(l.size);
      if (x === undefined) leaves.set(l.size, (x = { size: l.size, count: 0, entries: 0 }));
      x.count++;
      x.entries += l.copies;
      mappedBytes += l.size;
    },
  });
  return {
    format: f.name,
    root: table.root,
    tables: tables.filter((t) => t.count > 0),
    leaves: [...leaves.values()].sort((a, b) => a.size - b.size),
    tableBytes: tables.reduce((s, t) => s + t.bytes, 0),
    mappedBytes,
  };
}

/** {@link pageTableStats} as text. */
export function formatPageTableStats(s: PageTableShape): string {
  const t = s.tables.map((x) => `L${x.level}:${x.count}`).join(" ");
  const l = s.leaves
    .map(
      (x) =>
        `${formatSizeShort(x.size)}:${x.count}${x.entries > x.count ? ` (${x.entries} entries)` : ""}`,
    )
    .join(" ");
  return `${s.format} root ${hex(s.root)}: tables ${t} (${formatSize(s.tableBytes)}), leaves ${l || "none"}, mapped ${formatSize(s.mappedBytes)}`;
}

/**
 * Walk `addr` of one root step by step with the one walk, tracing every descriptor it read, as
 * text lines. Nested (under `stage2`), each table fetch goes through stage 2 (a
 * {@link Stage2TableMemory}) and each entry's IPA is shown with the PA stage 2 gave it. Returns
 * the leaf, if any.
 */
function walkSteps(
  root: TableRoot,
  stage2: TableRoot | undefined,
  addr: number,
  indent: string,
  lines: string[],
  physOf: (ipa: number) => number,
): { pa: number; size: number; lo: number; hi: number; li: number } | undefined {
  const f = root.format;
  const g = geometryOf(f);
  if (addr >= g.inputLimit) {
    lines.push(`${indent}${hex(addr)} is beyond the ${f.ias}-bit input size: translation fault`);
    return undefined;
  }
  const w = new WalkOut();
  w.trace = true;
  const nested = stage2 !== undefined ? new Stage2TableMemory(stage2, w) : undefined;
  const code = walkTable(f, g, nested ?? root.memory, root.root, addr, w);
  for (let li = 0; li < w.reads; li++) {
    const level = f.levels[li]!.level;
    const at = w.traceAddr[li]!;
    const idx = li === 0 ? Math.floor(addr / g.spans[0]!) : entryIndex(g, li, addr);
    const lastRead = li === w.reads - 1;
    if (lastRead && nested !== undefined && nested.fault !== FAULT_NONE) {
      lines.push(
        `${indent}L${level} entry ${idx} @${hex(at)}: IPA ${hex(at)} does not translate at stage 2`,
      );
      return undefined;
    }
    const lo = w.traceLo[li]!;
    const hi = w.traceHi[li]!;
    const phys = nested !== undefined ? physOf(at) : at;
    const where = phys === at ? `@${hex(at)}` : `@${hex(at)} (PA ${hex(phys)})`;
    const desc = `${formatDescriptor(f, lo, hi)} ${f.describe(li, lo, hi)}`;
    const kind = decodeDescriptor(f, g, li, lo, hi);
    if (kind === DESC_INVALID) {
      lines.push(`${indent}L${level} entry ${idx} ${where} = ${desc}: translation fault`);
      return undefined;
    }
    if (kind === DESC_LEAF) {
      if (code !== FAULT_NONE) {
        lines.push(
          `${indent}L${level} entry ${idx} ${where} = ${desc}: ${FAULT_NAMES[code]} fault`,
        );
        return undefined;
      }
      lines.push(
        `${indent}L${level} entry ${idx} ${where} = ${desc} -> ${hex(w.pa)} (${formatSizeShort(w.size)})`,
      );
      return { pa: w.pa, size: w.size, lo, hi, li };
    }
    if (lastRead && code !== FAULT_NONE) {
      lines.push(`${indent}L${level} entry ${idx} ${where} = ${desc}: ${FAULT_NAMES[code]} fault`);
      return undefined;
    }
    lines.push(`${indent}L${level} entry ${idx} ${where} = ${desc} -> table ${hex(decoded.next)}`);
  }
  return undefined;
}

/**
 * "Who maps this": the walk of `va` through `ctx`, descriptor by descriptor (stage 1, with each
 * stage-1 table address translated by stage 2 when nested, then stage 2 of the output), the
 * leaf attributes, and whether the TLB holds it. Reads tables only: no TLB update, no counts.
 */
export function describeTranslation(ctx: TranslationRegime, va: AddrArg<"virt" | "ipa">): string {
  const lines = [
    `${hex(va)} in ${ctx.name} (asid ${ctx.asid}, vmid ${ctx.vmid}${ctx.enabled ? "" : ", disabled"}):`,
  ];
  const s2 = ctx.stage2;
  const s2Walk = new WalkOut();
  const physOf = (ipa: number): number => {
    const code = walkTable(s2!.format, geometryOf(s2!.format), s2!.memory, s2!.root, ipa, s2Walk);
    return code === FAULT_NONE ? s2Walk.pa : ipa;
  };
  const s1 = ctx.split !== undefined && va >= ctx.split ? ctx.ttbr1 : ctx.ttbr0;
  let out = va;
  let size = 2 ** 52;
  if (s1 !== undefined) {
    const which = s1 === ctx.ttbr1 && ctx.ttbr1 !== ctx.ttbr0 ? "ttbr1" : "ttbr0";
    lines.push(`  stage 1 (${which}, ${s1.format.name}, root ${hex(s1.root)}):`);
    const leaf = walkSteps(s1, s2, va, "    ", lines, physOf);
    if (leaf === undefined) return lines.join("\n");
    lines.push(`    ${formatAttributes(s1.format.attributes(leaf.li, leaf.lo, leaf.hi))}`);
    out = leaf.pa;
    size = leaf.size;
  }
  if (s2 !== undefined) {
    lines.push(`  stage 2 (${s2.format.name}, root ${hex(s2.root)}) of IPA ${hex(out)}:`);
    const leaf = walkSteps(s2, undefined, out, "    ", lines, (a) => a);
    if (leaf === undefined) return lines.join("\n");
    lines.push(`    ${formatAttributes(s2.format.attributes(leaf.li, leaf.lo, leaf.hi))}`);
    out = leaf.pa;
    size = Math.min(size, leaf.size);
  }
  if (s1 === undefined && s2 === undefined) {
    lines.push("  no translation tables: bypass (output = input)");
    size = 4096;
  }
  let tlb = "no TLB";
  if (ctx.tlb !== undefined) {
    const i = ctx.tlb.peek(va, ctx.asid, ctx.vmid);
    tlb =
      i < 0
        ? "TLB: not cached"
        : `TLB: cached (${formatSizeShort(ctx.tlb.entryPageSize(i))} entry -> ${hex(ctx.tlb.entryPa(i))})`;
  }
  lines.push(`  => PA ${hex(out)} (${formatSizeShort(size)} translation); ${tlb}`);
  return lines.join("\n");
}
