/**
 * Page-table operations, one implementation for every format (Linux io-pgtable's
 * `map_pages` / `unmap_pages` / `iova_to_phys`, plus protect and a generic walker like
 * mm/pagewalk.c's `walk_page_range`).
 *
 * Tables are real descriptors in a {@link TableMemory}; the operations read and write them
 * through the format's encoders. Every operation is atomic: descriptor writes go to an undo
 * log and tables allocated on the way are remembered, so a failure (EEXIST met halfway, or
 * ENOMEM while allocating a table) restores every descriptor and frees every new table; tables
 * to be freed are freed only once the operation has succeeded.
 *
 * TLB coherence: every change that removes or alters a valid translation is reported to the
 * flush targets ({@link TlbFlush}) through an IOTLB gather (Linux `iommu_iotlb_gather`):
 * invalidations are collected into one range and flushed when a differing page size or a
 * disjoint range arrives, and at the end of the operation; a break-before-make split and a
 * freed table are flushed at once (`tlb_flush_walk`). Mapping over invalid entries needs no
 * flush, since TLBs never cache invalid entries.
 *
 * Decisions where the sources differ:
 * - unmap of part of a larger leaf splits it (Linux before 6.13, and a CPU munmap of part of a
 *   huge page): the block is replaced by a next-level table with the same attributes, using
 *   break-before-make, and only the requested part is removed. A multi-entry leaf (ARMv7 64K
 *   large page or 16M supersection) is first split into its single entries.
 * - unmap works as `iommu_unmap` with `arm_lpae_unmap_pages`: it moves through the range in the
 *   page sizes `iommu_pgsize` picks; it stops at the first such page whose entry is invalid and
 *   returns the bytes unmapped so far; a block-sized page over a table drops the whole table,
 *   holes included.
 * - tables left empty by an unmap are freed (Linux frees them only when a whole block-sized
 *   range is unmapped); the root is never freed.
 * - map with a prot that grants neither read nor write is refused (EINVAL); io-pgtable returns
 *   0 and maps nothing, which would hide a caller's mistake.
 */
import { hex, hexRange } from "../base/address.js";
import { fail } from "../base/errors.js";
import type { EventBus } from "../base/events.js";
import { formatSize } from "../base/size.js";
import type { PageTableFormat } from "./format.js";
import { DESC_INVALID, DESC_LEAF, DESC_TABLE } from "./format.js";
import { iommuPgsize } from "./pgsize.js";
import type { Prot } from "./prot.js";
import { PROT } from "./prot.js";
import type { TableMemory } from "./table-memory.js";
import type { Geometry } from "./walk.js";
import { FAULT_NONE, geometryOf, offsetIn, walkTable, WalkOut } from "./walk.js";

declare module "../base/events.js" {
  interface EventMap {
    "mmu.map": { table: string; va: number; pa: number; size: number; prot: number };
    "mmu.unmap": { table: string; va: number; size: number; unmapped: number };
    "mmu.protect": { table: string; va: number; size: number; prot: number };
    "mmu.split": { table: string; va: number; size: number; level: number };
  }
}

/** Where TLB invalidations go (an io-pgtable driver's `iommu_flush_ops`). */
export interface TlbFlush {
  /** Invalidate cached translations of `[va, va+size)`, mapped with leaves of `granule`. */
  invalidateRange(va: number, size: number, granule: number): void;
  /** Invalidate everything this table's translations may have left. */
  invalidateAll(): void;
}

/** A translation of one input address. */
export interface Translation {
  /** The output address. */
  pa: number;
  /** The leaf's size and its base input and output addresses. */
  size: number;
  va: number;
  base: number;
  /** The architectural level of the leaf. */
  level: number;
  /** PERM mask. */
  perm: number;
  lo: number;
  hi: number;
}

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

/** Per-level callbacks for {@link PageTable.walk} (mm_walk_ops). */
export interface WalkVisitor {
  /** A table; return `false` to skip its entries. */
  table?(t: TableVisit): boolean | void;
  leaf?(l: LeafVisit): void;
}

export interface PageTableStats {
  maps: number;
  unmaps: number;
  protects: number;
  splits: number;
  /** Leaves written by map, by page size. */
  mappedBySize: Record<string, number>;
  tablesAllocated: number;
  tablesFreed: number;
  /** Range invalidations sent to the flush targets, and full invalidations. */
  flushes: number;
  flushAlls: number;
  rollbacks: number;
}

export interface PageTableOptions {
  name?: string;
  bus?: EventBus;
}

interface TouchedTable {
  addr: number;
  li: number;
  /** The entry pointing at it (-1 for the root). */
  parentEntry: number;
  parentTable: number;
  va: number;
}

export class PageTable {
  readonly format: PageTableFormat;
  readonly memory: TableMemory;
  readonly name: string;
  /** The root table's address (a TTBR / VTTBR value). */
  readonly root: number;
  private readonly g: Geometry;
  private readonly flushTargets: TlbFlush[] = [];
  private readonly bus: EventBus | undefined;
  private readonly out = new WalkOut();
  private readonly enc = new Uint32Array(2);
  private readonly minPage: number;
  private readonly mappedBySize = new Map<number, number>();
  private readonly statsData: PageTableStats = {
    maps: 0,
    unmaps: 0,
    protects: 0,
    splits: 0,
    mappedBySize: {},
    tablesAllocated: 0,
    tablesFreed: 0,
    flushes: 0,
    flushAlls: 0,
    rollbacks: 0,
  };
  // The operation in progress: undo log (addr, lo, hi triples), new tables, tables to free.
  // Growable arrays with their own lengths: resetting `length` on every call is a runtime call.
  private readonly undo: number[] = [];
  private undoTop = 0;
  private readonly newTables: number[] = [];
  private newTop = 0;
  private readonly deferredFrees: number[] = [];
  private deferredTop = 0;
  // The IOTLB gather.
  private gStart = 0;
  private gEnd = 0;
  private gGranule = 0;
  private destroyed = false;

  constructor(format: PageTableFormat, memory: TableMemory, options: PageTableOptions = {}) {
    this.format = format;
    this.memory = memory;
    this.name = options.name ?? format.name;
    this.bus = options.bus;
    this.g = geometryOf(format);
    this.minPage = format.pageSizes[0]!;
    this.root = memory.allocTable(format.rootBytes);
    this.statsData.tablesAllocated++;
  }

  /** Send this table's invalidations to `target` too (a TLB, an SMMU context). */
  addFlushTarget(target: TlbFlush): () => void {
    this.flushTargets.push(target);
    return () => {
      const i = this.flushTargets.indexOf(target);
      if (i >= 0) this.flushTargets.splice(i, 1);
    };
  }

  stats(): PageTableStats {
    const mappedBySize: Record<string, number> = {};
    for (const [size, n] of [...this.mappedBySize].sort((a, b) => a[0] - b[0]))
      mappedBySize[formatSize(size)] = n;
    return { ...this.statsData, mappedBySize };
  }

  // --- descriptors -------------------------------------------------------------------------

  // A small direct-mapped cache of table-page views (host side: views stay valid for the life of
  // the memory), so a map touching four levels does not look each page up again.
  private readonly viewKeys = new Float64Array(16).fill(-1);
  private readonly viewWords: Array<Uint32Array | undefined> = new Array<Uint32Array | undefined>(
    16,
  ).fill(undefined);

  private words(page: number): Uint32Array {
    if (this.memory.stableViews !== true) return this.memory.words(page);
    const slot = (page >>> 12) & 15;
    if (this.viewKeys[slot] === page) return this.viewWords[slot]!;
    const w = this.memory.words(page);
    this.viewKeys[slot] = page;
    this.viewWords[slot] = w;
    return w;
  }

  private read(addr: number): void {
    const inPage = (addr >>> 0) & 4095;
    const w = this.words(addr - inPage);
    const i = inPage >>> 2;
    this.out.lo = w[i]!;
    this.out.hi = this.g.descBytes === 8 ? w[i + 1]! : 0;
  }

  private write(addr: number, lo: number, hi: number): void {
    const inPage = (addr >>> 0) & 4095;
    const w = this.words(addr - inPage);
    const i = inPage >>> 2;
    const u = this.undo;
    const t = this.undoTop;
    u[t] = addr;
    u[t + 1] = w[i]!;
    u[t + 2] = this.g.descBytes === 8 ? w[i + 1]! : 0;
    this.undoTop = t + 3;
    w[i] = lo;
    if (this.g.descBytes === 8) w[i + 1] = hi;
  }

  /** The first input address the table at level index `li` holding `va`'s entry maps. */
  private tableBase(li: number, va: number): number {
    if (li === 0) return 0;
    const cover = this.g.spans[li - 1]!;
    return Math.floor(va / cover) * cover;
  }

  private entryAddr(table: number, li: number, va: number): number {
    // Integer shifts on the address's 32-bit halves: no floating-point division per level.
    const sh = this.g.shifts[li]!;
    const hi = Math.floor(va * 2.3283064365386963e-10); // va / 2^32, exact
    const lo = va >>> 0;
    const idx =
      (sh >= 32 ? hi >>> (sh - 32) : (lo >>> sh) | (hi << (32 - sh))) & (this.g.entries[li]! - 1);
    return table + idx * this.g.descBytes;
  }

  private allocTable(li: number): number {
    const bytes = li === 0 ? this.format.rootBytes : this.format.levels[li]!.tableBytes;
    const addr = this.memory.allocTable(bytes);
    this.newTables[this.newTop++] = addr;
    return addr;
  }

  // --- transactions ------------------------------------------------------------------------

  private begin(): void {
    if (this.destroyed) fail("ENODEV", `page table ${this.name} has been destroyed`);
    this.undoTop = 0;
    this.newTop = 0;
    this.deferredTop = 0;
  }

  private commit(): void {
    this.sync();
    for (let i = 0; i < this.deferredTop; i++) this.memory.freeTable(this.deferredFrees[i]!);
    this.statsData.tablesAllocated += this.newTop;
    this.statsData.tablesFreed += this.deferredTop;
    this.undoTop = 0;
    this.newTop = 0;
    this.deferredTop = 0;
  }

  private rollback(): void {
    const u = this.undo;
    for (let i = this.undoTop - 3; i >= 0; i -= 3) {
      const addr = u[i]!;
      const page = Math.floor(addr / 4096) * 4096;
      const w = this.memory.words(page);
      const k = (addr - page) >>> 2;
      w[k] = u[i + 1]!;
      if (this.g.descBytes === 8) w[k + 1] = u[i + 2]!;
    }
    for (let i = 0; i < this.newTop; i++) this.memory.freeTable(this.newTables[i]!);
    // Invalidations already sent were of translations now restored: that only costs misses.
    this.sync();
    this.undoTop = 0;
    this.newTop = 0;
    this.deferredTop = 0;
    this.statsData.rollbacks++;
  }

  private transaction<T>(body: () => T): T {
    this.begin();
    let result: T;
    try {
      result = body();
    } catch (e) {
      this.rollback();
      throw e;
    }
    this.commit();
    return result;
  }

  // --- the IOTLB gather ------------------------------------------------------------------

  private gather(va: number, size: number, granule: number): void {
    if (
      this.gEnd > this.gStart &&
      (granule !== this.gGranule || va > this.gEnd || va + size < this.gStart)
    )
      this.sync();
    if (this.gEnd === this.gStart) {
      this.gStart = va;
      this.gEnd = va + size;
      this.gGranule = granule;
    } else {
      this.gStart = Math.min(this.gStart, va);
      this.gEnd = Math.max(this.gEnd, va + size);
    }
  }

  private sync(): void {
    if (this.gEnd === this.gStart) return;
    this.flushNow(this.gStart, this.gEnd - this.gStart, this.gGranule);
    this.gStart = this.gEnd = 0;
  }

  private flushNow(va: number, size: number, granule: number): void {
    this.statsData.flushes++;
    for (const f of this.flushTargets) f.invalidateRange(va, size, granule);
  }

  // --- checks ------------------------------------------------------------------------------

  private checkRange(op: string, va: number, size: number): void {
    if (!Number.isSafeInteger(va) || va < 0)
      fail("EINVAL", `${this.name}: ${op} at ${String(va)}: not an address`);
    if (!Number.isSafeInteger(size) || size <= 0)
      fail("EINVAL", `${this.name}: ${op} of size ${String(size)}`);
    if (offsetIn(va, this.minPage) !== 0 || offsetIn(size, this.minPage) !== 0)
      fail(
        "EINVAL",
        `${this.name}: ${op} ${hex(va)}+${hex(size)} is not aligned to the smallest page (${formatSize(this.minPage)})`,
      );
    if (va + size > this.g.inputLimit)
      fail(
        "ERANGE",
        `${this.name}: ${op} ${hexRange(va, size)} is beyond the ${this.format.ias}-bit input address size`,
      );
  }

  private checkProt(op: string, prot: Prot): void {
    if (!Number.isInteger(prot) || prot < 0)
      fail("EINVAL", `${this.name}: ${op}: prot ${String(prot)} is not a prot`);
    if ((prot & (PROT.READ | PROT.WRITE)) === 0)
      fail("EINVAL", `${this.name}: ${op}: prot ${hex(prot)} grants neither read nor write`);
  }

  // --- map -----------------------------------------------------------------------------------

  /**
   * Map `[va, va+size)` to `[pa, pa+size)` with `prot`, choosing page sizes as `iommu_map`
   * does. EINVAL when misaligned to the smallest page or for a prot without access; ERANGE
   * beyond the input or output address size; EEXIST when any part is already mapped; ENOMEM
   * when a table cannot be allocated. On failure nothing changes.
   */
  map(va: number, pa: number, size: number, prot: Prot): void {
    this.checkRange("map", va, size);
    if (!Number.isSafeInteger(pa) || pa < 0 || offsetIn(pa, this.minPage) !== 0)
      fail("EINVAL", `${this.name}: map to ${hex(pa)}: not aligned to ${formatSize(this.minPage)}`);
    if (pa + size > this.g.outputLimit)
      fail(
        "ERANGE",
        `${this.name}: map to ${hexRange(pa, size)} is beyond the ${this.format.oas}-bit output address size`,
      );
    this.checkProt("map", prot);
    this.transaction(() => {
      let v = va;
      let p = pa;
      let left = size;
      while (left > 0) {
        const { pgsize, count } = iommuPgsize(this.format.pageSizes, v, p, left);
        for (let i = 0; i < count; i++) {
          this.installLeaf(v, p, pgsize, prot);
          v += pgsize;
          p += pgsize;
        }
        left -= pgsize * count;
        this.mappedBySize.set(pgsize, (this.mappedBySize.get(pgsize) ?? 0) + count);
      }
    });
    this.statsData.maps++;
    this.bus?.emit("mmu.map", { table: this.name, va, pa, size, prot });
  }

  /** Map one page of `pgsize`, allocating tables on the way (`__arm_lpae_map`). */
  private installLeaf(va: number, pa: number, pgsize: number, prot: Prot): void {
    const target = this.g.levelOfSize.get(pgsize)!;
    const out = this.out;
    let table = this.root;
    for (let li = 0; li < target; li++) {
      const addr = this.entryAddr(table, li, va);
      this.read(addr);
      const kind = this.format.kind(li, out.lo, out.hi);
      if (kind === DESC_TABLE) {
        table = this.format.address(li, out.lo, out.hi);
      } else if (kind === DESC_INVALID) {
        const next = this.allocTable(li + 1);
        this.format.encodeTable(li, next, this.enc);
        this.write(addr, this.enc[0]!, this.enc[1]!);
        table = next;
      } else {
        const size = this.format.leafSize(li, out.lo, out.hi);
        const base = Math.floor(va / size) * size;
        fail(
          "EEXIST",
          `${this.name}: ${hex(va)} is already mapped by a ${formatSize(size)} leaf at ${hex(base)}`,
        );
      }
    }
    const span = this.g.spans[target]!;
    const copies = pgsize / span;
    const first = this.entryAddr(table, target, Math.floor(va / pgsize) * pgsize);
    for (let c = 0; c < copies; c++) {
      this.read(first + c * this.g.descBytes);
      const kind = this.format.kind(target, out.lo, out.hi);
      if (kind !== DESC_INVALID)
        fail(
          "EEXIST",
          kind === DESC_TABLE
            ? `${this.name}: ${hex(va)}+${formatSize(pgsize)} overlaps a table of smaller mappings`
            : `${this.name}: ${hex(va + c * span)} is already mapped`,
        );
    }
    this.format.encodeLeaf(target, pgsize, pa, prot, this.enc);
    const lo = this.enc[0]!;
    const hi = this.enc[1]!;
    for (let c = 0; c < copies; c++) this.write(first + c * this.g.descBytes, lo, hi);
  }

  // --- unmap and protect ---------------------------------------------------------------------

  /**
   * Unmap `[va, va+size)`, splitting a larger leaf that is only partly inside, and freeing
   * tables left empty. Returns the bytes unmapped: less than `size` if a hole was met (it stops
   * there, as `iommu_unmap` does). EINVAL when misaligned, ERANGE beyond the input size, ENOMEM
   * when a split cannot allocate a table; on failure nothing changes.
   */
  unmap(va: number, size: number): number {
    this.checkRange("unmap", va, size);
    const unmapped = this.transaction(() => this.unmapRange(va, size));
    this.statsData.unmaps++;
    this.bus?.emit("mmu.unmap", { table: this.name, va, size, unmapped });
    return unmapped;
  }

  /**
   * Change the permissions and attributes of every leaf in `[va, va+size)` to `prot`, splitting
   * leaves that are partly inside. ENOENT (and no change) if any part is not mapped.
   */
  protect(va: number, size: number, prot: Prot): void {
    this.checkRange("protect", va, size);
    this.checkProt("protect", prot);
    this.transaction(() => {
      const done = this.rewriteRange(va, size, prot);
      if (done < size)
        fail(
          "ENOENT",
          `${this.name}: protect ${hexRange(va, size)}: ${hex(va + done)} is not mapped`,
        );
    });
    this.statsData.protects++;
    this.bus?.emit("mmu.protect", { table: this.name, va, size, prot });
  }

  /**
   * `iommu_unmap` over `arm_lpae_unmap_pages` / `__arm_v7s_unmap`: step through the range in the
   * page sizes `iommu_pgsize(iova, iova, left)` picks. For each step, walk down to the level of
   * that size, splitting a larger leaf on the way; there, all entries of the step must be valid
   * (else stop); a table under a block-sized step is dropped whole, a multi-entry leaf met by a
   * single-entry step is split first, and the step's entries are cleared. Returns the bytes
   * unmapped.
   */
  private unmapRange(va: number, size: number): number {
    const touched = new Map<number, TouchedTable>();
    const out = this.out;
    const db = this.g.descBytes;
    let v = va;
    let left = size;
    steps: while (left > 0) {
      const { pgsize } = iommuPgsize(this.format.pageSizes, v, v, left);
      const target = this.g.levelOfSize.get(pgsize)!;
      let table = this.root;
      let parentEntry = -1;
      let parentTable = -1;
      for (let li = 0; li < target; li++) {
        const addr = this.entryAddr(table, li, v);
        this.read(addr);
        const kind = this.format.kind(li, out.lo, out.hi);
        if (kind === DESC_INVALID) break steps;
        if (kind === DESC_LEAF) {
          // A leaf larger than the step: split it and read the entry again.
          this.split(table, li, v, this.format.leafSize(li, out.lo, out.hi));
          li--;
          continue;
        }
        if (!touched.has(table))
          touched.set(table, {
            addr: table,
            li,
            parentEntry,
            parentTable,
            va: this.tableBase(li, v),
          });
        parentEntry = addr;
        parentTable = table;
        table = this.format.address(li, out.lo, out.hi);
      }
      const span = this.g.spans[target]!;
      const copies = pgsize / span;
      const first = this.entryAddr(table, target, v);
      for (let c = 0; c < copies; c++) {
        this.read(first + c * db);
        if (this.format.kind(target, out.lo, out.hi) === DESC_INVALID) break steps;
      }
      if (copies === 1) {
        this.read(first);
        if (this.format.kind(target, out.lo, out.hi) === DESC_LEAF) {
          const leafSize = this.format.leafSize(target, out.lo, out.hi);
          // A multi-entry leaf (v7s large page, supersection) met by a one-entry step.
          if (leafSize > pgsize) this.split(table, target, v, leafSize);
        }
      }
      for (let c = 0; c < copies; c++) {
        const addr = first + c * db;
        this.read(addr);
        if (this.format.kind(target, out.lo, out.hi) === DESC_TABLE) {
          // A table under a block-sized step: drop the subtree (`__arm_lpae_free_pgtable`,
          // `__arm_v7s_free_table`), whatever holes it has, and flush walks through it.
          const child = this.format.address(target, out.lo, out.hi);
          this.write(addr, 0, 0);
          this.flushNow(v + c * span, span, this.minPage);
          this.collectSubtree(child, target + 1);
        } else this.write(addr, 0, 0);
      }
      this.gather(v, pgsize, pgsize);
      if (!touched.has(table))
        touched.set(table, {
          addr: table,
          li: target,
          parentEntry,
          parentTable,
          va: this.tableBase(target, v),
        });
      v += pgsize;
      left -= pgsize;
    }
    this.freeEmptyTables(touched);
    return v - va;
  }

  /**
   * The loop behind protect: rewrites every leaf in the range, splitting leaves partly inside;
   * returns the bytes done before the first hole.
   */
  private rewriteRange(va: number, size: number, prot: Prot): number {
    const out = this.out;
    let v = va;
    const end = va + size;
    outer: while (v < end) {
      let table = this.root;
      for (let li = 0; li < this.g.levels; li++) {
        const addr = this.entryAddr(table, li, v);
        this.read(addr);
        const kind = this.format.kind(li, out.lo, out.hi);
        if (kind === DESC_INVALID) break outer;
        if (kind === DESC_TABLE) {
          table = this.format.address(li, out.lo, out.hi);
          continue;
        }
        const leafSize = this.format.leafSize(li, out.lo, out.hi);
        const base = Math.floor(v / leafSize) * leafSize;
        if (base !== v || end - v < leafSize) {
          this.split(table, li, v, leafSize);
          li--; // read the same entry again: now a table, or a smaller leaf
          continue;
        }
        const copies = leafSize / this.g.spans[li]!;
        const first = this.entryAddr(table, li, base);
        this.format.encodeLeaf(
          li,
          leafSize,
          this.format.address(li, out.lo, out.hi),
          prot,
          this.enc,
        );
        for (let c = 0; c < copies; c++)
          this.write(first + c * this.g.descBytes, this.enc[0]!, this.enc[1]!);
        this.gather(v, leafSize, leafSize);
        v += leafSize;
        continue outer;
      }
      break;
    }
    return v - va;
  }

  /**
   * Replace the leaf of `leafSize` covering `va` at level index `li` by smaller leaves with the
   * same attributes, break-before-make (`arm_lpae_split_blk_unmap`, `arm_v7s_split_cont`).
   */
  private split(table: number, li: number, va: number, leafSize: number): void {
    const out = this.out;
    const span = this.g.spans[li]!;
    const base = Math.floor(va / leafSize) * leafSize;
    const first = this.entryAddr(table, li, base);
    this.read(first);
    const prot = this.format.protOf(li, out.lo, out.hi);
    const leafPa = this.format.address(li, out.lo, out.hi);
    const copies = leafSize / span;
    // Break: invalidate the old leaf and its TLB entries before anything else is written.
    for (let c = 0; c < copies; c++) this.write(first + c * this.g.descBytes, 0, 0);
    this.flushNow(base, leafSize, leafSize);
    if (copies > 1) {
      // A multi-entry leaf becomes its single entries at the same level.
      for (let c = 0; c < copies; c++) {
        this.format.encodeLeaf(li, span, leafPa + c * span, prot, this.enc);
        this.write(first + c * this.g.descBytes, this.enc[0]!, this.enc[1]!);
      }
    } else {
      const child = this.allocTable(li + 1);
      const childSpan = this.g.spans[li + 1]!;
      const n = span / childSpan;
      for (let i = 0; i < n; i++) {
        this.format.encodeLeaf(li + 1, childSpan, leafPa + i * childSpan, prot, this.enc);
        this.write(child + i * this.g.descBytes, this.enc[0]!, this.enc[1]!);
      }
      // Make: point the entry at the new table.
      this.format.encodeTable(li, child, this.enc);
      this.write(first, this.enc[0]!, this.enc[1]!);
    }
    this.statsData.splits++;
    this.bus?.emit("mmu.split", {
      table: this.name,
      va: base,
      size: leafSize,
      level: this.format.levels[li]!.level,
    });
  }

  /** Queue every table of the subtree at `addr` (level index `li`) to be freed. */
  private collectSubtree(addr: number, li: number): void {
    this.deferredFrees[this.deferredTop++] = addr;
    if (li >= this.g.levels - 1) return;
    const n = this.g.entries[li]!;
    for (let i = 0; i < n; i++) {
      this.read(addr + i * this.g.descBytes);
      if (this.format.kind(li, this.out.lo, this.out.hi) === DESC_TABLE)
        this.collectSubtree(this.format.address(li, this.out.lo, this.out.hi), li + 1);
    }
  }

  private isEmpty(addr: number, li: number): boolean {
    const n = this.g.entries[li]!;
    for (let i = 0; i < n; i++) {
      this.read(addr + i * this.g.descBytes);
      if (this.format.kind(li, this.out.lo, this.out.hi) !== DESC_INVALID) return false;
    }
    return true;
  }

  /** Free the touched tables an unmap left empty, deepest first, cascading upwards. */
  private freeEmptyTables(touched: Map<number, TouchedTable>): void {
    const queue = [...touched.values()].sort((a, b) => b.li - a.li);
    const done = new Set<number>();
    for (let k = 0; k < queue.length; k++) {
      const t = queue[k]!;
      if (t.li === 0 || done.has(t.addr) || !this.isEmpty(t.addr, t.li)) continue;
      done.add(t.addr);
      this.write(t.parentEntry, 0, 0);
      // A freed table: invalidate its whole input range, walk caches included (tlb_flush_walk).
      this.flushNow(t.va, this.g.spans[t.li - 1]!, this.minPage);
      this.deferredFrees[this.deferredTop++] = t.addr;
      const parent = touched.get(t.parentTable);
      if (parent && !done.has(parent.addr)) {
        queue.push(parent);
        queue.sort((a, b) => b.li - a.li);
      }
    }
  }

  // --- translate and walk --------------------------------------------------------------------

  /** Translate `va` (`iova_to_phys`), or undefined if it is not mapped. */
  translate(va: number): Translation | undefined {
    const out = this.out;
    if (walkTable(this.format, this.g, this.memory, this.root, va, out) !== FAULT_NONE)
      return undefined;
    return {
      pa: out.pa,
      size: out.size,
      va: Math.floor(va / out.size) * out.size,
      base: out.base,
      level: this.format.levels[out.levelIndex]!.level,
      perm: out.perm,
      lo: out.lo,
      hi: out.hi,
    };
  }

  /**
   * The generic walker: visit every table and leaf whose input range meets `[start, end)`, in
   * address order, tables before their entries (mm/pagewalk.c `walk_page_range`).
   */
  walk(visitor: WalkVisitor, start = 0, end = this.g.inputLimit): void {
    this.walkLevel(visitor, this.root, 0, 0, start, end);
  }

  private walkLevel(
    v: WalkVisitor,
    table: number,
    li: number,
    tableVa: number,
    start: number,
    end: number,
  ): void {
    const span = this.g.spans[li]!;
    const n = this.g.entries[li]!;
    const info = this.format.levels[li]!;
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
    for (let i = firstIdx; i <= lastIdx; i++) {
      const addr = table + i * this.g.descBytes;
      const inPage = (addr >>> 0) & 4095;
      const words = this.words(addr - inPage);
      const lo = words[inPage >>> 2]!;
      const hi = this.g.descBytes === 8 ? words[(inPage >>> 2) + 1]! : 0;
      const kind = this.format.kind(li, lo, hi);
      const va = tableVa + i * span;
      if (kind === DESC_TABLE) {
        this.walkLevel(v, this.format.address(li, lo, hi), li + 1, va, start, end);
      } else if (kind === DESC_LEAF) {
        const size = this.format.leafSize(li, lo, hi);
        const copies = size / span;
        if (copies > 1 && Math.floor(va / size) * size !== va) continue; // not the first copy
        v.leaf?.({
          levelIndex: li,
          level: info.level,
          va,
          size,
          pa: this.format.address(li, lo, hi),
          descAddr: addr,
          lo,
          hi,
          copies,
        });
      }
    }
  }

  /** The tables of this page table, root first, in walk order. */
  tablePages(): Array<{ addr: number; level: number; bytes: number }> {
    const pages: Array<{ addr: number; level: number; bytes: number }> = [];
    this.walk({
      table: (t) => {
        pages.push({
          addr: t.addr,
          level: t.level,
          bytes:
            t.levelIndex === 0
              ? this.format.rootBytes
              : this.format.levels[t.levelIndex]!.tableBytes,
        });
      },
    });
    return pages;
  }

  /** Free every table, root included; the page table can't be used afterwards. */
  destroy(): void {
    if (this.destroyed) return;
    const tables = this.tablePages().map((t) => t.addr);
    for (const t of tables.reverse()) this.memory.freeTable(t);
    this.statsData.tablesFreed += tables.length;
    this.destroyed = true;
    this.statsData.flushAlls++;
    for (const f of this.flushTargets) f.invalidateAll();
  }
}
