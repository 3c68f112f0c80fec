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
import { DESC_INVALID, DESC_LEAF } from "./format.js";
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
    const levelOfSize = new Map<number, number>();
    format.levels.forEach((l, i) => {
      spans[i] = 2 ** l.shift;
      entries[i] = i === 0 ? format.rootEntries : l.entries;
      for (const s of l.leafSizes) if (!levelOfSize.has(s)) levelOfSize.set(s, i);
    });
    g = {
      levels: n,
      spans,
      entries,
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
  // Locals, not `out` fields, on the way down: this loop is every TLB miss.
  const spans = g.spans;
  const entries = g.entries;
  const wide = g.descBytes === 8;
  const last = g.levels - 1;
  let table = root;
  let lo = 0;
  let hi = 0;
  let addr = 0;
  let li = 0;
  let code = FAULT_TRANSLATION;
  for (; li <= last; li++) {
    const idx = li === 0 ? Math.floor(va / spans[0]!) : Math.floor(va / spans[li]!) & (entries[li]! - 1);
    addr = table + idx * g.descBytes;
    const page = Math.floor(addr / 4096) * 4096;
    const w = mem.words(page);
    const k = (addr - page) >>> 2;
    lo = w[k]!;
    hi = wide ? w[k + 1]! : 0;
    const kind = format.kind(li, lo, hi);
    if (kind === DESC_INVALID) break;
    const next = format.address(li, lo, hi);
    if (next >= g.outputLimit) {
      code = FAULT_ADDRESS_SIZE;
      break;
    }
    if (kind === DESC_LEAF) {
      const size = format.leafSize(li, lo, hi);
      out.size = size;
      out.base = next;
      out.pa = next + (va - Math.floor(va / size) * size);
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
