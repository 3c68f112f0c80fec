/**
 * The one descriptor walk. {@link decodeDescriptor} is the only code that turns a descriptor's
 * two halves into "invalid, table or leaf, and its address"; {@link walkTable} is the only loop
 * that walks a table from its root for one input address, exactly as an MMU does (and as
 * io-pgtable's `iova_to_phys` does in software). Everything that walks uses them: the hardware
 * walk of every bus master, the nested stage-1 walk (whose table memory translates each table
 * address through stage 2: {@link Stage2TableMemory} in regime.ts), the page-table operations,
 * the "who maps this" dump and the generic walker.
 *
 * The walk allocates nothing: results go into a reusable {@link WalkOut}. With
 * `out.trace` set it also records every descriptor it read, per level.
 */
import type { FastDecode, PageTableFormat } from "./format.js";
import { DESC_INVALID, DESC_LEAF, DESC_TABLE } from "./format.js";
import type { TableMemory } from "./table-memory.js";
import type { TableSlab } from "./table-slab.js";

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

/** The deepest walk the model knows (AArch64: 4 levels; 5 with LPA2, not modelled). */
export const MAX_WALK_LEVELS = 8;

/** Per-format numbers the walk needs, computed once. */
export interface Geometry {
  readonly levels: number;
  /** 2^shift per level index. */
  readonly spans: Float64Array;
  /** Entries per table per level index (index 0: the root's). */
  readonly entries: Int32Array;
  /** log2 of the span per level index. */
  readonly shifts: Int32Array;
  /** The format's inline decoding parameters, if it has them. */
  readonly fast: FastDecode | undefined;
  readonly descBytes: number;
  /** 2^ias: the first input address out of range. */
  readonly inputLimit: number;
  /** 2^oas. */
  readonly outputLimit: number;
  /** For each supported page size, the level index that maps it. */
  readonly levelOfSize: ReadonlyMap<number, number>;
  /** Tables in a slab may be walked by the integer walk (`walkSlab`): long descriptors. */
  readonly slabWalk: boolean;
  /** ... and by its unrolled form (`walkSlab4K`): 4K granule, four levels of 512 entries. */
  readonly slabWalk4K: boolean;
  /** 2^oas / 4096: the first page number beyond the output size. */
  readonly outputPfnLimit: number;
}

const geometries = new WeakMap<PageTableFormat, Geometry>();

/**
 * The last two formats asked for and their geometries: a nested walk alternates between a
 * stage-1 and a stage-2 format, and every TLB miss asks; a weak-map lookup per walk was a tenth
 * of its cost.
 */
let recentFormat0: PageTableFormat | undefined;
let recentGeometry0: Geometry | undefined;
let recentFormat1: PageTableFormat | undefined;
let recentGeometry1: Geometry | undefined;

export function geometryOf(format: PageTableFormat): Geometry {
  if (format === recentFormat0) return recentGeometry0!;
  if (format === recentFormat1) return recentGeometry1!;
  const g = geometryLookup(format);
  recentFormat1 = recentFormat0;
  recentGeometry1 = recentGeometry0;
  recentFormat0 = format;
  recentGeometry0 = g;
  return g;
}

function geometryLookup(format: PageTableFormat): Geometry {
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
    g = {
      fast: format.fastDecode,
      levels: n,
      spans,
      entries,
      shifts,
      descBytes: format.descriptorBytes,
      inputLimit: 2 ** format.ias,
      outputLimit: 2 ** format.oas,
      levelOfSize,
      slabWalk:
        format.fastDecode !== undefined &&
        !format.fastDecode.packedHigh &&
        format.descriptorBytes === 8,
      slabWalk4K:
        format.fastDecode !== undefined &&
        !format.fastDecode.packedHigh &&
        format.descriptorBytes === 8 &&
        n === 4 &&
        format.levels.every((l, i) => l.shift === 39 - 9 * i) &&
        format.rootEntries === 512 &&
        format.levels.every((l, i) => i === 0 || l.entries === 512) &&
        format.fastDecode.tableMaskLo >>> 0 === 0xfffff000 &&
        format.fastDecode.leafMaskLo[3]! >>> 0 === 0xfffff000,
      outputPfnLimit: 2 ** format.oas / 4096,
    };
    geometries.set(format, g);
  }
  return g;
}

/**
 * Where {@link decodeDescriptor} puts a table's or leaf's address: one object for every caller
 * (so the store is monomorphic once the decoder is inlined into a walk loop). Read it right
 * after the call.
 */
export const decoded = { next: 0 };

/**
 * Decode the descriptor `(lo, hi)` found at level index `li`: returns DESC_INVALID, DESC_TABLE
 * or DESC_LEAF, and for the last two puts the next table's address, or the leaf's output base,
 * in {@link decoded}`.next`. The decoder is {@link descriptorKind} and
 * {@link descriptorAddress}; hot loops call the two directly. AArch64 long descriptors decode
 * inline from the format's {@link FastDecode} (`iopte_leaf`, `iopte_table`, `iopte_to_paddr`:
 * the bits are in lpae.ts); other formats through their `kind` and `address` methods.
 */
export function decodeDescriptor(
  format: PageTableFormat,
  g: Geometry,
  li: number,
  lo: number,
  hi: number,
): number {
  const kind = descriptorKind(format, g, li, lo, hi);
  if (kind !== DESC_INVALID) decoded.next = descriptorAddress(format, g, li, lo, hi, kind);
  return kind;
}

/**
 * The address part of {@link decodeDescriptor}: the next table's address (`kind` DESC_TABLE) or
 * the leaf's output base (DESC_LEAF) of a valid descriptor.
 */
export function descriptorAddress(
  format: PageTableFormat,
  g: Geometry,
  li: number,
  lo: number,
  hi: number,
  kind: number,
): number {
  const fast = g.fast;
  if (fast === undefined) return format.address(li, lo, hi);
  const next =
    ((lo & (kind === DESC_LEAF ? fast.leafMaskLo[li]! : fast.tableMaskLo) & 0xfffff000) >>> 0) +
    (hi & 0xffff) * 0x1_0000_0000;
  return fast.packedHigh ? next + ((lo >>> 12) & 0xf) * 0x1_0000_0000_0000 : next;
}

/**
 * The kind part of {@link decodeDescriptor} alone (`iopte_leaf` / `iopte_table`), for checks
 * that need no address: DESC_INVALID, DESC_TABLE or DESC_LEAF.
 */
export function descriptorKind(
  format: PageTableFormat,
  g: Geometry,
  li: number,
  lo: number,
  hi: number,
): number {
  const fast = g.fast;
  if (fast === undefined) return format.kind(li, lo, hi);
  if ((lo & 1) === 0) return DESC_INVALID;
  if (li === g.levels - 1) return (lo & 2) === 0 ? DESC_INVALID : DESC_LEAF;
  if ((lo & 2) !== 0) return DESC_TABLE;
  return fast.leafMaskLo[li] === 0 ? DESC_INVALID : DESC_LEAF;
}

/** The size of the leaf `(lo, hi)` decoded at level index `li`. */
export function leafSizeOf(
  format: PageTableFormat,
  g: Geometry,
  li: number,
  lo: number,
  hi: number,
): number {
  const fast = g.fast;
  return fast !== undefined ? fast.leafSize[li]! : format.leafSize(li, lo, hi);
}

/** {@link walkSlab}: a table page is not in the slab; the general walk takes over. */
const WALK_ELSEWHERE = -1;

/**
 * {@link walkTable} over tables in a {@link TableSlab}, for AArch64 long descriptors without
 * packed high address bits (4K and 16K granules; 64K with oas <= 48): the same walk, read for
 * read and result for result, with every step on integers — the input address split into two
 * 32-bit halves once, each table found by its page number (descriptor bits 43:12 as an int)
 * in the slab's slot index, each descriptor one load from one array. Floating point appears
 * only in the leaf's output address. Returns WALK_ELSEWHERE, having changed nothing the
 * general walk does not set again, when a table page is not in the slab or lies at or above
 * 2^43 (an int's reach).
 */
function walkSlab(
  format: PageTableFormat,
  g: Geometry,
  slab: TableSlab,
  root: number,
  va: number,
  out: WalkOut,
): number {
  const fast = g.fast!;
  const words = slab.words;
  const slotOf = slab.slotOf;
  const spanPages = slab.span / 4096;
  const basePfn = slab.base / 4096;
  const rootRel = (root - slab.base) / 4096;
  if (!(rootRel >= 0 && rootRel < spanPages) || rootRel !== Math.floor(rootRel))
    return WALK_ELSEWHERE;
  const vaHi = Math.floor(va * 2.3283064365386963e-10); // va / 2^32, exact
  const vaLo = va >>> 0;
  const shifts = g.shifts;
  const entries = g.entries;
  const last = g.levels - 1;
  // Every level's index first: they depend on the input address alone, so the chain of
  // dependent loads below is only table -> slot -> descriptor -> table.
  const index = out.slabIndex;
  for (let l = 0; l <= last; l++) {
    const sh = shifts[l]!;
    index[l] =
      (sh >= 32 ? vaHi >>> (sh - 32) : (vaLo >>> sh) | (vaHi << (32 - sh))) & (entries[l]! - 1);
  }
  const leafMaskLo = fast.leafMaskLo;
  const tableMaskLo = fast.tableMaskLo;
  const pfnLimit = g.outputLimit / 4096;
  let tableRel = rootRel | 0;
  let pageRel = 0;
  let idx = 0;
  let lo = 0;
  let hi = 0;
  let li = 0;
  let code = FAULT_TRANSLATION;
  for (; li <= last; li++) {
    idx = index[li]!;
    pageRel = tableRel + (idx >>> 9); // 512 descriptors of 8 bytes per 4 KiB page
    if (pageRel >>> 0 >= spanPages) return WALK_ELSEWHERE;
    const slot = slotOf[pageRel]! - 1;
    if (slot < 0) return WALK_ELSEWHERE;
    const k = (slot << 10) + ((idx & 511) << 1);
    lo = words[k]!;
    hi = words[k + 1]!;
    // iopte_leaf / iopte_table, as descriptorKind decodes them.
    if ((lo & 3) === 3 && li !== last) {
      const addrHi = hi & 0xffff;
      if (addrHi >= 0x800) return WALK_ELSEWHERE;
      const pfn = (((lo & tableMaskLo) >>> 12) | (addrHi << 20)) >>> 0;
      if (pfn >= pfnLimit) {
        code = FAULT_ADDRESS_SIZE;
        break;
      }
      tableRel = pfn - basePfn;
      continue;
    }
    if ((lo & 1) === 0) break;
    if (li === last ? (lo & 2) === 0 : leafMaskLo[li] === 0) break;
    // A leaf: its output base, in floating point once.
    const next = ((lo & leafMaskLo[li]! & 0xfffff000) >>> 0) + (hi & 0xffff) * 0x1_0000_0000;
    if (next >= g.outputLimit) {
      code = FAULT_ADDRESS_SIZE;
      break;
    }
    const size = fast.leafSize[li]!;
    out.size = size;
    out.base = next;
    out.pa = next + (size <= 0x8000_0000 ? vaLo & (size - 1) : va - Math.floor(va / size) * size);
    out.perm = format.perm(li, lo, hi);
    code = FAULT_NONE;
    break;
  }
  out.reads = li < last ? li + 1 : last + 1;
  out.levelIndex = li > last ? last : li;
  out.descAddr = (basePfn + pageRel) * 4096 + (idx & 511) * 8;
  out.lo = lo;
  out.hi = hi;
  return code;
}

/**
 * {@link walkSlab} unrolled for the commonest geometry — 4K granule, four levels of 512
 * entries (stage 1 with a 48-bit input, stage 2 with four levels) — on the path every TLB miss
 * of such a table takes: three tables and a page. Anything else on the way (a block, an invalid
 * entry, an address beyond the output size, a table outside the slab) is left to
 * {@link walkSlab}, which walks again from the root: reads have no side effects.
 */
function walkSlab4K(
  format: PageTableFormat,
  g: Geometry,
  slab: TableSlab,
  root: number,
  va: number,
  out: WalkOut,
): number {
  const words = slab.words;
  const slotOf = slab.slotOf;
  const spanPages = slab.spanPages;
  const basePfn = slab.basePfn;
  const pfnLimit = g.outputPfnLimit;
  const vaHi = Math.floor(va * 2.3283064365386963e-10); // va / 2^32, exact
  const vaLo = va >>> 0;
  const rootRel = (root - slab.base) * (1 / 4096);
  // Level 0.
  let rel = rootRel | 0;
  if (rel !== rootRel || rel >>> 0 >= spanPages) return walkSlab(format, g, slab, root, va, out);
  let slot = slotOf[rel]! - 1;
  if (slot < 0) return walkSlab(format, g, slab, root, va, out);
  let k = (slot << 10) + (((vaHi >>> 7) & 511) << 1);
  let lo = words[k]!;
  let hi = words[k + 1]!;
  if ((lo & 3) !== 3 || (hi & 0xf800) !== 0) return walkSlab(format, g, slab, root, va, out);
  let pfn = (((lo & 0xfffff000) >>> 12) | ((hi & 0x7ff) << 20)) >>> 0;
  // Level 1.
  rel = pfn - basePfn;
  if (pfn >= pfnLimit || rel >>> 0 >= spanPages) return walkSlab(format, g, slab, root, va, out);
  slot = slotOf[rel]! - 1;
  if (slot < 0) return walkSlab(format, g, slab, root, va, out);
  k = (slot << 10) + ((((vaLo >>> 30) | (vaHi << 2)) & 511) << 1);
  lo = words[k]!;
  hi = words[k + 1]!;
  if ((lo & 3) !== 3 || (hi & 0xf800) !== 0) return walkSlab(format, g, slab, root, va, out);
  pfn = (((lo & 0xfffff000) >>> 12) | ((hi & 0x7ff) << 20)) >>> 0;
  // Level 2.
  rel = pfn - basePfn;
  if (pfn >= pfnLimit || rel >>> 0 >= spanPages) return walkSlab(format, g, slab, root, va, out);
  slot = slotOf[rel]! - 1;
  if (slot < 0) return walkSlab(format, g, slab, root, va, out);
  k = (slot << 10) + (((vaLo >>> 21) & 511) << 1);
  lo = words[k]!;
  hi = words[k + 1]!;
  if ((lo & 3) !== 3 || (hi & 0xf800) !== 0) return walkSlab(format, g, slab, root, va, out);
  pfn = (((lo & 0xfffff000) >>> 12) | ((hi & 0x7ff) << 20)) >>> 0;
  // Level 3: the page.
  rel = pfn - basePfn;
  if (pfn >= pfnLimit || rel >>> 0 >= spanPages) return walkSlab(format, g, slab, root, va, out);
  slot = slotOf[rel]! - 1;
  if (slot < 0) return walkSlab(format, g, slab, root, va, out);
  const idx = (vaLo >>> 12) & 511;
  k = (slot << 10) + (idx << 1);
  lo = words[k]!;
  hi = words[k + 1]!;
  if ((lo & 3) !== 3) return walkSlab(format, g, slab, root, va, out);
  const next = ((lo & 0xfffff000) >>> 0) + (hi & 0xffff) * 0x1_0000_0000;
  if (next >= g.outputLimit) return walkSlab(format, g, slab, root, va, out);
  out.size = 4096;
  out.base = next;
  out.pa = next + (vaLo & 4095);
  out.perm = format.perm(3, lo, hi);
  out.reads = 4;
  out.levelIndex = 3;
  out.descAddr = (basePfn + rel) * 4096 + idx * 8;
  out.lo = lo;
  out.hi = hi;
  return FAULT_NONE;
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
  /** Address of the last descriptor read (in the table's address space). */
  descAddr = 0;
  lo = 0;
  hi = 0;
  /** Descriptors read by this walk. */
  reads = 0;
  /**
   * Record every descriptor read, per level: `traceAddr[i]` (its address in the table's
   * address space), `traceLo[i]` / `traceHi[i]`, for `i < reads`. Off on hot paths.
   */
  trace = false;
  readonly traceAddr = new Float64Array(MAX_WALK_LEVELS);
  readonly traceLo = new Uint32Array(MAX_WALK_LEVELS);
  readonly traceHi = new Uint32Array(MAX_WALK_LEVELS);
  /** The slab walk's per-level entry indices (scratch). */
  readonly slabIndex = new Int32Array(MAX_WALK_LEVELS);
  // Host-side cache of the word views of the table page last read at each level. It never
  // skips a descriptor read (it is not a walk cache of the modelled hardware): it only saves
  // finding the same page's view again. Views stay valid until their memory's viewEpoch moves.
  viewMem: TableMemory | undefined = undefined;
  viewEpoch = -1;
  readonly viewPage = new Float64Array(MAX_WALK_LEVELS).fill(-1);
  readonly views: Array<Uint32Array | undefined> = new Array<Uint32Array | undefined>(
    MAX_WALK_LEVELS,
  ).fill(undefined);
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
  // Integer shifts on the address's 32-bit halves: no floating-point division per level.
  const sh = g.shifts[li]!;
  const hi = Math.floor(va * 2.3283064365386963e-10); // va / 2^32, exact
  const lo = va >>> 0;
  return (sh >= 32 ? hi >>> (sh - 32) : (lo >>> sh) | (hi << (32 - sh))) & (g.entries[li]! - 1);
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
  // Small, so that it inlines into every caller: the walks of a slab, else the general loop.
  const slab = mem.slab;
  if (slab !== undefined && g.slabWalk && !out.trace) {
    const code = g.slabWalk4K
      ? walkSlab4K(format, g, slab, root, va, out)
      : walkSlab(format, g, slab, root, va, out);
    if (code !== WALK_ELSEWHERE) return code;
  }
  return walkGeneral(format, g, mem, root, va, out);
}

/** {@link walkTable}'s general loop: any format, any table memory. */
function walkGeneral(
  format: PageTableFormat,
  g: Geometry,
  mem: TableMemory,
  root: number,
  va: number,
  out: WalkOut,
): number {
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
  const trace = out.trace;
  if (out.viewMem !== mem || out.viewEpoch !== mem.viewEpoch || mem.stableViews !== true) {
    out.viewMem = mem;
    out.viewEpoch = mem.viewEpoch;
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
      out.descAddr = addr; // the exact descriptor, for a memory that translates the fetch
      w = mem.words(page);
      viewPage[li] = page;
      views[li] = w;
    }
    const k = (offset & 4095) >>> 2;
    lo = w[k]!;
    hi = wide ? w[k + 1]! : 0;
    if (trace) {
      out.traceAddr[li] = addr;
      out.traceLo[li] = lo;
      out.traceHi[li] = hi;
    }
    // The one decoder, its two halves called directly (one call level less on every TLB miss).
    const kind = descriptorKind(format, g, li, lo, hi);
    if (kind === DESC_INVALID) break;
    const next = descriptorAddress(format, g, li, lo, hi, kind);
    if (next >= g.outputLimit) {
      code = FAULT_ADDRESS_SIZE;
      break;
    }
    if (kind === DESC_LEAF) {
      const size = leafSizeOf(format, g, li, lo, hi);
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
