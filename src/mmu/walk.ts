/**
 * The hardware table walk: from a root table address, read one descriptor per level until a
 * leaf or an invalid entry, exactly as an MMU does (and as io-pgtable's `iova_to_phys` does in
 * software). It allocates nothing: results go into a reusable {@link WalkOut}.
 *
 * The walk reads descriptors through a {@link TableMemory}, so the same code walks tables in
 * physical memory and, for nested translation, tables reached through stage 2 (the context
 * does that by translating each table address before calling {@link readDescriptor}).
 */
import type { PageTableFormat } from "./format.js";
import { DESC_INVALID, DESC_LEAF, DESC_TABLE } from "./format.js";
import type { TableMemory } from "./table-memory.js";

/** Fault kinds, as the Arm architecture names them. */
export const FAULT_NONE = 0;
export const FAULT_TRANSLATION = 1;
export const FAULT_PERMISSION = 2;
export const FAULT_ACCESS_FLAG = 3;
export const FAULT_ADDRESS_SIZE = 4;
export type FaultCode = 0 | 1 | 2 | 3 | 4;
export const FAULT_NAMES = [
  "none",
  "translation",
  "permission",
  "access-flag",
  "address-size",
] as const;
export type FaultKind = Exclude<(typeof FAULT_NAMES)[number], "none">;

/** Per-format numbers the walk needs, computed once. */
export interface Geometry {
  readonly levels: number;
  /** 2^shift per level index. */
  readonly spans: Float64Array;
  /** Entries per table per level index (index 0: the root's). */
  readonly entries: Int32Array;
  /** log2 of the span per level index. */
  readonly shifts: Int32Array;
  /**
   * For AArch64 long descriptors with output addresses up to 48 bits: the low-word masks of a
   * table address and of each level's leaf address (0: no leaf at that level), so the walk can
   * decode inline. Undefined for other formats, which decode through the format's methods.
   */
  readonly lpae: { tableMaskLo: number; leafMaskLo: Int32Array } | undefined;
  readonly descBytes: number;
  /** 2^ias: the first input address out of range. */
  readonly inputLimit: number;
  /** 2^oas. */
  readonly outputLimit: number;
  /** For each supported page size, the level index that maps it. */
  readonly levelOfSize: ReadonlyMap<number, number>;
}

const geometries = new WeakMap<PageTableFormat, Geometry>();

export function geometryOf(format: PageTableFormat): Geometry {
  let g = geometries.get(format);
  if (g === undefined) {
    const n = format.levels.length;
    const spans = new Float64Array(n);
    const entries = new Int32Array(n);
    const shifts = new Int32Array(n);
    const levelOfSize = new Map<number, number>();
    format.levels.forEach((l, i) => {
      spans[i] = 2 ** l.shift;
      shifts[i] = l.shift;
      entries[i] = i === 0 ? format.rootEntries : l.entries;
      for (const s of l.leafSizes) if (!levelOfSize.has(s)) levelOfSize.set(s, i);
    });
    const lpae =
      format.family === "lpae" && format.oas <= 48
        ? {
            tableMaskLo: ~(format.granule - 1),
            leafMaskLo: Int32Array.from(format.levels, (l) =>
              l.leafSizes.length > 0 ? ~(l.leafSizes[0]! - 1) : 0,
            ),
          }
        : undefined;
    g = {
      lpae,
      levels: n,
      spans,
      entries,
      shifts,
      descBytes: format.descriptorBytes,
      inputLimit: 2 ** format.ias,
      outputLimit: 2 ** format.oas,
      levelOfSize,
    };
    geometries.set(format, g);
  }
  return g;
}

/** What a walk found. Reused across walks; read it before the next walk. */
export class WalkOut {
  /** Output address of the input address (leaf base + offset). */
  pa = 0;
  /** Leaf size. */
  size = 0;
  /** Leaf base output address. */
  base = 0;
  /** PERM mask of the leaf. */
  perm = 0;
  /** Level index (from the root) of the leaf or of the fault. */
  levelIndex = 0;
  /** Address of the last descriptor read. */
  descAddr = 0;
  lo = 0;
  hi = 0;
  /** Descriptors read by this walk. */
  reads = 0;
  // Host-side cache of the word views of the table page last read at each level. It never
  // skips a descriptor read (it is not a walk cache of the modelled hardware): it only saves
  // finding the same page's view again. Views stay valid for the life of their memory.
  viewMem: TableMemory | undefined = undefined;
  readonly viewPage = new Float64Array(8).fill(-1);
  readonly views: Array<Uint32Array | undefined> = [
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
  ];
}

/** Read the descriptor at `addr` into `out.lo` / `out.hi` (and `out.descAddr`). */
export function readDescriptor(
  mem: TableMemory,
  addr: number,
  descBytes: number,
  out: WalkOut,
): void {
  const page = Math.floor(addr / 4096) * 4096;
  const w = mem.words(page);
  const i = (addr - page) >>> 2;
  out.lo = w[i]!;
  out.hi = descBytes === 8 ? w[i + 1]! : 0;
  out.descAddr = addr;
  out.reads++;
}

/**
 * `va mod size` for a power-of-two `size`, without a floating-point remainder: below 2^31 it is
 * a mask of the low 32 bits (ToUint32 is exact modulo 2^32).
 */
export function offsetIn(va: number, size: number): number {
  return size <= 0x8000_0000 ? (va >>> 0) & (size - 1) : va - Math.floor(va / size) * size;
}

/** The index of `va`'s entry in a table of level index `li`. */
export function entryIndex(g: Geometry, li: number, va: number): number {
  // floor(va / span) may exceed 2^31; `&` keeps its low 32 bits, and the entry count divides 2^32.
  return Math.floor(va / g.spans[li]!) & (g.entries[li]! - 1);
}

/**
 * Walk `va` from the table at `root`. Returns FAULT_NONE with `out` describing the leaf, or a
 * fault code with `out.levelIndex` the level it arose at: FAULT_TRANSLATION for an input
 * address beyond the input size (at the root) or an invalid descriptor; FAULT_ADDRESS_SIZE for
 * a descriptor whose output address is beyond the output size. Permissions are not checked
 * here: the caller compares `out.perm` with the access.
 */
export function walkTable(
  format: PageTableFormat,
  g: Geometry,
  mem: TableMemory,
  root: number,
  va: number,
  out: WalkOut,
): number {
  if (va >= g.inputLimit) {
    out.reads = 0;
    out.levelIndex = 0;
    return FAULT_TRANSLATION;
  }
  // This loop is every TLB miss. The input address is split into two 32-bit halves once, so
  // each level's index is integer shifts and masks, and addresses within a table page are
  // integers: a chain of dependent floating-point divisions is what makes walks slow.
  const vaHi = Math.floor(va / 0x1_0000_0000);
  const vaLo = va >>> 0;
  const shifts = g.shifts;
  const entries = g.entries;
  const descBytes = g.descBytes;
  const wide = descBytes === 8;
  const last = g.levels - 1;
  const lpae = g.lpae;
  if (out.viewMem !== mem || mem.stableViews !== true) {
    out.viewMem = mem;
    out.viewPage.fill(-1);
  }
  const viewPage = out.viewPage;
  const views = out.views;
  let table = root;
  let lo = 0;
  let hi = 0;
  let addr = 0;
  let li = 0;
  let code = FAULT_TRANSLATION;
  for (; li <= last; li++) {
    const sh = shifts[li]!;
    const idx =
      (sh >= 32 ? vaHi >>> (sh - 32) : (vaLo >>> sh) | (vaHi << (32 - sh))) & (entries[li]! - 1);
    const inPage = (table >>> 0) & 4095;
    const offset = inPage + idx * descBytes;
    const page = table - inPage + (offset & ~4095);
    addr = table + idx * descBytes;
    let w: Uint32Array;
    if (viewPage[li] === page) w = views[li]!;
    else {
      w = mem.words(page);
      viewPage[li] = page;
      views[li] = w;
    }
    const k = (offset & 4095) >>> 2;
    lo = w[k]!;
    hi = wide ? w[k + 1]! : 0;
    let kind: number;
    let next: number;
    if (lpae !== undefined) {
      // AArch64 long descriptors decode inline (`iopte_leaf`, `iopte_table`, `iopte_to_paddr`;
      // the bits are in lpae.ts): no call into the format per level.
      if ((lo & 1) === 0) break;
      if (li === last) {
        if ((lo & 2) === 0) break;
        kind = DESC_LEAF;
      } else if ((lo & 2) !== 0) kind = DESC_TABLE;
      else if (lpae.leafMaskLo[li] === 0) break;
      else kind = DESC_LEAF;
      next =
        ((lo & (kind === DESC_LEAF ? lpae.leafMaskLo[li]! : lpae.tableMaskLo) & 0xfffff000) >>> 0) +
        (hi & 0xffff) * 0x1_0000_0000;
    } else {
      kind = format.kind(li, lo, hi);
      if (kind === DESC_INVALID) break;
      next = format.address(li, lo, hi);
    }
    if (next >= g.outputLimit) {
      code = FAULT_ADDRESS_SIZE;
      break;
    }
    if (kind === DESC_LEAF) {
      const size = format.leafSize(li, lo, hi);
      out.size = size;
      out.base = next;
      out.pa = next + (size <= 0x8000_0000 ? vaLo & (size - 1) : va - Math.floor(va / size) * size);
      out.perm = format.perm(li, lo, hi);
      code = FAULT_NONE;
      break;
    }
    table = next;
  }
  out.reads = li < last ? li + 1 : last + 1;
  out.levelIndex = li > last ? last : li;
  out.descAddr = addr;
  out.lo = lo;
  out.hi = hi;
  return code;
}
