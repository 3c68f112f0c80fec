/**
 * The generic walker (mm/pagewalk.c `walk_page_range`): every table and leaf of a table tree
 * whose input range meets `[start, end)`, in address order, tables before their entries, and
 * the annotated invalid entries when the visitor asks for them. It reads descriptors through
 * the one decoder (walk.ts). {@link PageTable.walk} is this walk over its own tables; the
 * platform graph walks any {@link TableRoot} with it, tables built as page tables or not.
 */
import { DESC_LEAF, DESC_TABLE } from "./format.js";
import type { PageTableFormat } from "./format.js";
import type { TableRoot } from "./table-memory.js";
import { decoded, decodeDescriptor, geometryOf, leafSizeOf } from "./walk.js";

/** What the generic walker shows a visitor. */
export interface TableVisit {
  levelIndex: number;
  level: number;
  /** The table's address. */
  addr: number;
  /** The input address its first entry maps. */
  va: number;
  /** Bytes of input address it covers. */
  span: number;
  entries: number;
}

export interface LeafVisit {
  levelIndex: number;
  level: number;
  va: number;
  size: number;
  /** Output address of the leaf's base. */
  pa: number;
  /** Address of its (first) descriptor. */
  descAddr: number;
  lo: number;
  hi: number;
  /** Entries it occupies (16 for ARMv7 large pages and supersections). */
  copies: number;
}

/** An invalid entry that carries an annotation (an owner), as the walker shows it. */
export interface AnnotationVisit {
  levelIndex: number;
  level: number;
  va: number;
  /** Bytes of input address the entry covers. */
  span: number;
  descAddr: number;
  lo: number;
  hi: number;
  annotation: number;
}

/** Per-level callbacks for {@link PageTable.walk} (mm_walk_ops). */
export interface WalkVisitor {
  /** A table; return `false` to skip its entries. */
  table?(t: TableVisit): boolean | void;
  leaf?(l: LeafVisit): void;
  /** An invalid entry with an annotation (plain zero entries are not shown). */
  annotation?(a: AnnotationVisit): void;
}

/**
 * Walk the tree under `root` (a table of `format`, read through `words`, by default the root's
 * memory), visiting what meets `[start, end)`.
 */
export function walkTree(
  format: PageTableFormat,
  root: number,
  visitor: WalkVisitor,
  start: number,
  end: number,
  words: (page: number) => Uint32Array,
): void {
  walkLevel(format, words, visitor, root, 0, 0, start, end);
}

/** {@link walkTree} over a {@link TableRoot}: its format, root and memory. */
export function walkRoot(
  root: TableRoot,
  visitor: WalkVisitor,
  start = 0,
  end = 2 ** root.format.ias,
): void {
  let lastPage = -1;
  let lastWords: Uint32Array | undefined;
  const memory = root.memory;
  walkTree(root.format, root.root, visitor, start, end, (page) => {
    if (page !== lastPage || lastWords === undefined) {
      lastWords = memory.words(page);
      lastPage = page;
    }
    return lastWords;
  });
}

function walkLevel(
  format: PageTableFormat,
  words: (page: number) => Uint32Array,
  v: WalkVisitor,
  table: number,
  li: number,
  tableVa: number,
  start: number,
  end: number,
): void {
  const g = geometryOf(format);
  const span = g.spans[li]!;
  const n = g.entries[li]!;
  const info = format.levels[li]!;
  if (
    v.table?.({
      levelIndex: li,
      level: info.level,
      addr: table,
      va: tableVa,
      span: span * n,
      entries: n,
    }) === false
  )
    return;
  const firstIdx = Math.max(0, Math.floor((start - tableVa) / span));
  const lastIdx = Math.min(n - 1, Math.floor((end - 1 - tableVa) / span));
  const wide = g.descBytes === 8;
  for (let i = firstIdx; i <= lastIdx; i++) {
    const addr = table + i * g.descBytes;
    const inPage = (addr >>> 0) & 4095;
    const w = words(addr - inPage);
    const lo = w[inPage >>> 2]!;
    const hi = wide ? w[(inPage >>> 2) + 1]! : 0;
    const kind = decodeDescriptor(format, g, li, lo, hi);
    const va = tableVa + i * span;
    if (kind === DESC_TABLE) {
      walkLevel(format, words, v, decoded.next, li + 1, va, start, end);
    } else if (kind === DESC_LEAF) {
      const size = leafSizeOf(format, g, li, lo, hi);
      const copies = size / span;
      const base = copies > 1 ? Math.floor(va / size) * size : va;
      if (base !== va) {
        // A later copy of a 16-copy leaf: reported once, by its first copy — here only when the
        // walk began past that copy (a range starting inside the leaf).
        const firstIdx0 = i - (va - base) / span;
        if (firstIdx0 >= firstIdx) continue;
        const firstAddr = table + firstIdx0 * g.descBytes;
        const off = (firstAddr >>> 0) & 4095;
        const fw = words(firstAddr - off);
        const flo = fw[off >>> 2]!;
        const fhi = wide ? fw[(off >>> 2) + 1]! : 0;
        decodeDescriptor(format, g, li, flo, fhi);
        v.leaf?.({
          levelIndex: li,
          level: info.level,
          va: base,
          size,
          pa: decoded.next,
          descAddr: firstAddr,
          lo: flo,
          hi: fhi,
          copies,
        });
        i = firstIdx0 + copies - 1; // past its other copies
        continue;
      }
      v.leaf?.({
        levelIndex: li,
        level: info.level,
        va,
        size,
        pa: decoded.next,
        descAddr: addr,
        lo,
        hi,
        copies,
      });
    } else if (v.annotation !== undefined && (lo !== 0 || hi !== 0)) {
      const annotation = format.annotation(li, lo, hi);
      if (annotation !== 0)
        v.annotation({
          levelIndex: li,
          level: info.level,
          va,
          span,
          descAddr: addr,
          lo,
          hi,
          annotation,
        });
    }
  }
}
