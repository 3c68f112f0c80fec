/**
 * Page-table operations, one implementation for every format (Linux io-pgtable's
 * `map_pages` / `unmap_pages` / `iova_to_phys`, plus protect, remap, owner annotations and a
 * generic walker like mm/pagewalk.c's `walk_page_range`, with a variant whose visitor may
 * rewrite leaves).
 *
 * Tables are real descriptors in a {@link TableMemory}; the operations read them through the
 * one descriptor decoder of walk.ts and write them through the format's encoders. Every
 * operation runs in a {@link TableTransaction}: it completes, or it changes nothing (a failure —
 * EEXIST met halfway, ENOMEM while allocating a table — restores every descriptor, frees every
 * new table and drops its statistics). Once it has succeeded, the leaves it changed are
 * published to the table's change listeners ({@link PageTable.onChange}).
 *
 * TLB coherence: every change that removes or alters a valid translation is reported to the
 * flush targets ({@link TlbFlush}): leaf invalidations through an IOTLB gather (Linux
 * `iommu_iotlb_gather`), synced at the end of the operation or, for {@link PageTable.unmapFast},
 * when its owner says; a break-before-make split and a freed table at once as walk
 * invalidations (`tlb_flush_walk`). Mapping over invalid entries needs no flush, since TLBs
 * never cache invalid entries.
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
 *   range is unmapped); the root is never freed. A table holding annotated invalid entries is
 *   not empty (pKVM counts such entries too).
 * - map with a prot that grants neither read nor write is refused (EINVAL); io-pgtable returns
 *   0 and maps nothing, which would hide a caller's mistake.
 * - Owner annotations (pKVM `kvm_pgtable_stage2_set_owner`): {@link PageTable.setOwner} unmaps
 *   the range and writes invalid entries carrying the owner, at the largest sizes the alignment
 *   allows; descending through an annotated entry of a larger size first splits the annotation
 *   into a table of entries with the same one, so the rest of its range keeps its owner. map
 *   does the same when it installs a table under an annotated entry.
 */
import type { AddrArg, AddrOf, AddrSpace } from "../base/address.js";
import { hex, hexRange } from "../base/address.js";
import { fail } from "../base/errors.js";
import type { EventBus, EventChannel } from "../base/events.js";
import type { Disposable } from "../base/lifetime.js";
import { toDisposable } from "../base/lifetime.js";
import { formatSize } from "../base/size.js";
import { checkAddress, checkFunction, checkObject, describeValue } from "../base/validate.js";
import type { TlbFlush } from "./flush.js";
import { IotlbGather } from "./flush.js";
import type { PageTableFormat } from "./format.js";
import { DESC_INVALID, DESC_LEAF, DESC_TABLE } from "./format.js";
import { iommuPgsize } from "./pgsize.js";
import type { Prot } from "./prot.js";
import { PROT } from "./prot.js";
import type { TableMemory } from "./table-memory.js";
import type { LeafChange } from "./transaction.js";
import { TableTransaction } from "./transaction.js";
import type { LeafVisit, WalkVisitor } from "./tree-walk.js";
import { walkTree } from "./tree-walk.js";
import type { Geometry } from "./walk.js";
import {
  decoded,
  decodeDescriptor,
  descriptorAddress,
  descriptorKind,
  entryIndex,
  FAULT_NONE,
  geometryOf,
  leafSizeOf,
  offsetIn,
  walkTable,
  WalkOut,
} from "./walk.js";

export type { TlbFlush } from "./flush.js";
export type { AnnotationVisit, LeafVisit, TableVisit, WalkVisitor } from "./tree-walk.js";
export type { LeafChange, LeafState } from "./transaction.js";

declare module "../base/events.js" {
  interface EventMap {
    "mmu.map": { table: string; va: number; pa: number; size: number; prot: number };
    "mmu.unmap": { table: string; va: number; size: number; unmapped: number };
    "mmu.protect": { table: string; va: number; size: number; prot: number };
    "mmu.remap": { table: string; va: number; pa: number; size: number; prot: number };
    "mmu.owner": { table: string; va: number; size: number; owner: number };
    "mmu.split": { table: string; va: number; size: number; level: number };
  }
}

/** A translation of one input address, whose output is in space `Out`. */
export interface Translation<Out extends AddrSpace = AddrSpace> {
  /** The output address. */
  pa: AddrOf<Out>;
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

/**
 * A visitor of {@link PageTable.rewrite}: return the leaf's new descriptor halves, or nothing to
 * leave it. The new descriptor must be a leaf of the same size at the same level, or invalid.
 */
export type LeafRewriter = (leaf: LeafVisit) => { lo: number; hi: number } | undefined | void;

/** Called after each committed operation with the leaves it changed. */
export type ChangeListener = (changes: readonly LeafChange[], table: AnyPageTable) => void;

/** A page table of any address spaces (what listeners, flush targets and registries hold). */
export type AnyPageTable = PageTable<AddrSpace, AddrSpace>;

export interface PageTableStats {
  maps: number;
  unmaps: number;
  protects: number;
  remaps: number;
  ownerChanges: number;
  splits: number;
  /** Leaves written by map and remap, by page size. */
  mappedBySize: Record<string, number>;
  tablesAllocated: number;
  tablesFreed: number;
  /** Range invalidations sent to the flush targets (leaf and walk), and full invalidations. */
  flushes: number;
  leafFlushes: number;
  walkFlushes: number;
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

type Channels = {
  map: EventChannel<"mmu.map">;
  unmap: EventChannel<"mmu.unmap">;
  protect: EventChannel<"mmu.protect">;
  remap: EventChannel<"mmu.remap">;
  owner: EventChannel<"mmu.owner">;
  split: EventChannel<"mmu.split">;
};

/**
 * A page table whose input addresses are in space(s) `In` and whose output is in `Out`: by
 * default a table of virtual addresses or IPAs onto physical memory. A VM's stage 2 is a
 * `PageTable<"ipa", "phys">`, a guest's stage 1 a `PageTable<"virt", "ipa">`. Its operations take
 * plain numbers or addresses of those spaces; passing an address of another space is a type
 * error.
 */
export class PageTable<In extends AddrSpace = "virt" | "ipa", Out extends AddrSpace = "phys"> {
  readonly format: PageTableFormat;
  readonly memory: TableMemory;
  readonly name: string;
  /** The root table's address (a TTBR / VTTBR value). */
  readonly root: number;
  private readonly g: Geometry;
  private readonly flushTargets: TlbFlush[] = [];
  private readonly listeners: ChangeListener[] = [];
  private readonly channels: Channels | undefined;
  /** Scratch of descriptor reads (`lo`, `hi`) and of translate. */
  private readonly cur = new WalkOut();
  private readonly enc = new Uint32Array(2);
  private readonly minPage: number;
  /** Leaves written by map and remap, per page size of the format (`format.pageSizes` order). */
  private readonly mappedBySize: Float64Array;
  private readonly statsData: Omit<PageTableStats, "mappedBySize"> = {
    maps: 0,
    unmaps: 0,
    protects: 0,
    remaps: 0,
    ownerChanges: 0,
    splits: 0,
    tablesAllocated: 0,
    tablesFreed: 0,
    flushes: 0,
    leafFlushes: 0,
    walkFlushes: 0,
    flushAlls: 0,
    rollbacks: 0,
  };
  private readonly tx: TableTransaction;
  /** The gather of operations whose caller gives none. */
  private readonly ownGather = new IotlbGather();
  private life: "live" | "destroyed" | "detached" = "live";

  /**
   * A new, empty page table: its root is allocated from `memory` at once (ENOMEM, or the
   * allocator's error, and nothing allocated, if it cannot be).
   */
  constructor(format: PageTableFormat, memory: TableMemory, options: PageTableOptions = {}) {
    this.format = format;
    this.memory = memory;
    this.name = options.name ?? format.name;
    this.g = geometryOf(format);
    this.minPage = format.pageSizes[0]!;
    this.mappedBySize = new Float64Array(format.pageSizes.length);
    this.tx = new TableTransaction(format, memory, this.statsData, this.mappedBySize);
    const bus = options.bus;
    this.channels =
      bus === undefined
        ? undefined
        : {
            map: bus.channel("mmu.map"),
            unmap: bus.channel("mmu.unmap"),
            protect: bus.channel("mmu.protect"),
            remap: bus.channel("mmu.remap"),
            owner: bus.channel("mmu.owner"),
            split: bus.channel("mmu.split"),
          };
    const adopted = adopting;
    adopting = undefined;
    if (adopted !== undefined) this.root = adopted;
    else {
      this.root = memory.allocTable(format.rootBytes);
      this.statsData.tablesAllocated++;
    }
  }

  /**
   * A page table over an existing root in `memory` (tables another owner built, handed over
   * with {@link detach}, or written in memory by other means). Every table reachable from the
   * root must be a live table of `memory`, so that later splits and frees work (EINVAL naming
   * the first that is not); nothing is allocated.
   *
   * @example
   * const root = built.detach();
   * const table = PageTable.adopt(built.format, built.memory, root, { name: "kernel" });
   */
  static adopt<I extends AddrSpace = "virt" | "ipa", O extends AddrSpace = "phys">(
    format: PageTableFormat,
    memory: TableMemory,
    root: number,
    options: PageTableOptions = {},
  ): PageTable<I, O> {
    if (!Number.isSafeInteger(root) || root < 0 || !memory.isTable(root))
      fail("EINVAL", `adopt: ${String(root)} is not a table of this table memory`);
    adopting = root;
    let table: PageTable<I, O>;
    try {
      table = new PageTable<I, O>(format, memory, options);
    } finally {
      adopting = undefined;
    }
    table.walk({
      table: (t) => {
        if (!memory.isTable(t.addr))
          fail(
            "EINVAL",
            `adopt: ${hex(t.addr)} (a level-${t.level} table under root ${hex(root)}) is not a table of this table memory`,
          );
      },
    });
    return table;
  }

  // --- registrations ---------------------------------------------------------------------

  /** Send this table's invalidations to `target` too (a TLB, an SMMU context bank). */
  addFlushTarget(target: TlbFlush): Disposable {
    this.checkLive("addFlushTarget");
    checkObject(`${this.name}: addFlushTarget`, "target", target);
    const methods = target as unknown as Record<string, unknown>;
    for (const k of ["flushAll", "flushWalk", "flushLeaf"])
      checkFunction(`${this.name}: addFlushTarget`, `target.${k}`, methods[k]);
    this.flushTargets.push(target);
    return toDisposable(() => {
      const i = this.flushTargets.indexOf(target);
      if (i >= 0) this.flushTargets.splice(i, 1);
    });
  }

  /** The flush targets registered now. */
  get flushTargetCount(): number {
    return this.flushTargets.length;
  }

  /**
   * Call `listener` after every committed operation with the leaves it changed (in the order
   * the operation changed them). Never for an operation that failed. A listener's exception
   * propagates to the caller of the operation, which has completed.
   */
  onChange(listener: ChangeListener): Disposable {
    this.checkLive("onChange");
    checkFunction(`${this.name}: onChange`, "listener", listener);
    this.listeners.push(listener);
    return toDisposable(() => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    });
  }

  /** The change listeners registered now. */
  get listenerCount(): number {
    return this.listeners.length;
  }

  stats(): PageTableStats {
    const mappedBySize: Record<string, number> = {};
    this.format.pageSizes.forEach((size, i) => {
      const n = this.mappedBySize[i]!;
      if (n > 0) mappedBySize[formatSize(size)] = n;
    });
    return { ...this.statsData, mappedBySize };
  }

  /** False once destroyed or detached. */
  get live(): boolean {
    return this.life === "live";
  }

  // --- descriptors -------------------------------------------------------------------------

  // A small direct-mapped cache of table-page views, so a map touching four levels does not look
  // each page up again. Dropped when the memory's view epoch moves (a table page was released).
  private readonly viewKeys = new Float64Array(16).fill(-1);
  private readonly viewWords: Array<Uint32Array | undefined> = new Array<Uint32Array | undefined>(
    16,
  ).fill(undefined);
  private viewEpoch = -1;

  /** Drop the cached views if the memory released pages since (checked once per operation). */
  private syncViews(): void {
    const epoch = this.memory.viewEpoch;
    if (this.viewEpoch !== epoch) {
      this.viewEpoch = epoch;
      this.viewKeys.fill(-1);
    }
  }

  private words(page: number): Uint32Array {
    const memory = this.memory;
    if (memory.stableViews !== true) return memory.words(page);
    // Checked on every call: an allocation in the middle of an operation may move the pages
    // (a table slab grows), and a view taken before must not be written after.
    if (this.viewEpoch !== memory.viewEpoch) this.syncViews();
    const slot = (page >>> 12) & 15;
    if (this.viewKeys[slot] === page) return this.viewWords[slot]!;
    const w = memory.words(page);
    this.viewKeys[slot] = page;
    this.viewWords[slot] = w;
    return w;
  }

  /** Read the descriptor at `addr` into `cur.lo` / `cur.hi`. */
  private read(addr: number): void {
    const inPage = (addr >>> 0) & 4095;
    const w = this.words(addr - inPage);
    const i = inPage >>> 2;
    this.cur.lo = w[i]!;
    this.cur.hi = this.g.descBytes === 8 ? w[i + 1]! : 0;
  }

  /** Decode `cur` at level index `li` (the one decoder): its kind; `decoded.next` its address. */
  private decode(li: number): number {
    const c = this.cur;
    return decodeDescriptor(this.format, this.g, li, c.lo, c.hi);
  }

  /** The kind of `cur` at level index `li`, without its address. */
  private kindOf(li: number): number {
    const c = this.cur;
    return descriptorKind(this.format, this.g, li, c.lo, c.hi);
  }

  /** The address of `cur`, of kind `kind`, at level index `li`. */
  private addressOf(li: number, kind: number): number {
    const c = this.cur;
    return descriptorAddress(this.format, this.g, li, c.lo, c.hi, kind);
  }

  /** Write a descriptor, logging its old value in the transaction. */
  private write(addr: number, lo: number, hi: number): void {
    const inPage = (addr >>> 0) & 4095;
    const w = this.words(addr - inPage);
    const i = inPage >>> 2;
    const wide = this.g.descBytes === 8;
    this.tx.log(addr, w[i]!, wide ? w[i + 1]! : 0);
    w[i] = lo;
    if (wide) w[i + 1] = hi;
  }

  /** The first input address the table at level index `li` holding `va`'s entry maps. */
  private tableBase(li: number, va: number): number {
    if (li === 0) return 0;
    const cover = this.g.spans[li - 1]!;
    return Math.floor(va / cover) * cover;
  }

  private entryAddr(table: number, li: number, va: number): number {
    return table + entryIndex(this.g, li, va) * this.g.descBytes;
  }

  /** Allocate a table for level index `li`, every entry invalid with `annotation` (0: zero). */
  private allocTable(li: number, annotation = 0): number {
    const bytes = li === 0 ? this.format.rootBytes : this.format.levels[li]!.tableBytes;
    const addr = this.memory.allocTable(bytes);
    this.tx.allocated(addr);
    if (annotation !== 0) {
      this.format.encodeInvalid(li, annotation, this.enc);
      const lo = this.enc[0]!;
      const hi = this.enc[1]!;
      // A new table needs no undo entries: rollback frees it.
      const wide = this.g.descBytes === 8;
      for (let i = 0, n = this.g.entries[li]!; i < n; i++) {
        const a = addr + i * this.g.descBytes;
        const inPage = (a >>> 0) & 4095;
        const w = this.words(a - inPage);
        w[inPage >>> 2] = lo;
        if (wide) w[(inPage >>> 2) + 1] = hi;
      }
    }
    return addr;
  }

  /** The annotation of `cur` at level index `li` (0 for valid or plain zero entries). */
  private annotationOfCur(li: number): number {
    const c = this.cur;
    return c.lo === 0 && c.hi === 0 ? 0 : this.format.annotation(li, c.lo, c.hi);
  }

  // --- transactions ------------------------------------------------------------------------

  private checkLive(op: string): void {
    if (this.life !== "live")
      fail("ENODEV", `page table ${this.name} has been ${this.life}: no ${op}`);
  }

  private begin(op: string, gather = this.ownGather): void {
    this.checkLive(op);
    this.shape++;
    // Tables are freed only at commit (or by rollback and destroy), so views stay valid until
    // the operation ends.
    this.syncViews();
    this.tx.begin(gather, gather !== this.ownGather, this.listeners.length > 0);
  }

  /** Commit the transaction; returns its changes, for {@link publish} once the operation is done. */
  private commit(merge = false): LeafChange[] | undefined {
    return this.tx.commit(merge);
  }

  /**
   * Deliver a committed operation's changes to the listeners: the operation's last step, after
   * its statistics and events, so that a listener's exception leaves a completed operation.
   */
  private publish(changes: LeafChange[] | undefined): void {
    if (changes !== undefined && changes.length > 0)
      for (const l of [...this.listeners]) l(changes, this);
  }

  private recording(): boolean {
    return this.tx.recording;
  }

  // --- flushes -------------------------------------------------------------------------------

  /** Where gathers and immediate flushes go: every flush target, with the counts. */
  private readonly fanout: TlbFlush = {
    flushAll: () => {
      this.statsData.flushAlls++;
      for (const f of [...this.flushTargets]) f.flushAll();
    },
    flushWalk: (va, size, granule) => {
      this.statsData.flushes++;
      this.statsData.walkFlushes++;
      for (const f of this.flushTargets) f.flushWalk(va, size, granule);
    },
    flushLeaf: (va, size, granule, pa) => {
      this.statsData.flushes++;
      this.statsData.leafFlushes++;
      for (const f of this.flushTargets) f.flushLeaf(va, size, granule, pa);
    },
  };

  /** Gather the leaf invalidation of `[va, va+size)` (leaves of `pgsize`, old output `pa`). */
  private gather(va: number, size: number, pgsize: number, pa: number): void {
    this.tx.gather!.add(this.fanout, va, size, pgsize, pa);
  }

  // --- checks ------------------------------------------------------------------------------

  private checkRange(op: string, va: number, size: number): void {
    if (!Number.isSafeInteger(va) || va < 0) checkAddress(`${this.name}: ${op}`, "va", va);
    if (!Number.isSafeInteger(size) || size <= 0)
      fail(
        "EINVAL",
        `${this.name}: ${op}: size must be a positive safe integer, got ${describeValue(size)}`,
        "size",
      );
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

  /** `[start, end)` of input addresses for the walkers: addresses, `start <= end`. */
  private checkSpan(op: string, start: number, end: number): void {
    checkAddress(`${this.name}: ${op}`, "start", start);
    checkAddress(`${this.name}: ${op}`, "end", end);
    if (end < start)
      fail("EINVAL", `${this.name}: ${op}: end ${hex(end)} is below start ${hex(start)}`, "end");
  }

  private checkOutput(op: string, pa: number, size: number): void {
    if (!Number.isSafeInteger(pa) || pa < 0) checkAddress(`${this.name}: ${op}`, "pa", pa);
    if (offsetIn(pa, this.minPage) !== 0)
      fail(
        "EINVAL",
        `${this.name}: ${op} to ${hex(pa)}: not aligned to ${formatSize(this.minPage)}`,
      );
    if (pa + size > this.g.outputLimit)
      fail(
        "ERANGE",
        `${this.name}: ${op} to ${hexRange(pa, size)} is beyond the ${this.format.oas}-bit output address size`,
      );
  }

  private checkProt(op: string, prot: Prot): void {
    if (!Number.isInteger(prot) || prot < 0)
      fail("EINVAL", `${this.name}: ${op}: prot ${describeValue(prot)} is not a prot`, "prot");
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
  map(va: AddrArg<In>, pa: AddrArg<Out>, size: number, prot: Prot): void {
    if (size === this.minPage && this.mapPageQuickly(va, pa, prot)) return;
    this.checkRange("map", va, size);
    this.checkOutput("map", pa, size);
    this.checkProt("map", prot);
    this.begin("map");
    try {
      this.mapRange(va, pa, size, prot);
    } catch (e) {
      this.tx.rollback();
      throw e;
    }
    const changes = this.commit();
    this.statsData.maps++;
    const ch = this.channels?.map;
    if (ch !== undefined) {
      if (ch.interest > 0) ch.emit({ table: this.name, va, pa, size, prot });
      else ch.skip();
    }
    this.publish(changes);
  }

  /**
   * The map fast path: one page of the smallest size whose tables all exist, in a slab-held
   * long-descriptor table without change listeners. Nothing can fail once the checks pass (no
   * table to allocate, one descriptor to write), so it needs no undo log: it checks what
   * {@link map} checks, walks down on integers as the slab walk does, writes the leaf and
   * counts it as {@link map} would. Returns false, having changed nothing, whenever anything is
   * not so (a check fails, a table is missing, the entry is taken, a listener wants the
   * change): the general path then does the map, or reports the error, from the start.
   */
  /**
   * Moves with every operation that takes a transaction (any of them may free or replace a
   * table): the quick map's memory of the last leaf table is valid while it stays.
   */
  private shape = 0;
  /**
   * The quick map's memory of the last leaf table it wrote to: the input address it starts
   * at, its first word in the slab, and the parent entry that points at it (checked on use:
   * a descriptor rewritten behind the table's back makes the quick map walk again).
   */
  private quickShape = -1;
  private quickLeafVa = -1;
  private quickLeafK = 0;
  private quickParentK = 0;
  private quickParentLo = 0;
  /** The prot whose page-leaf attribute bits are `quickLo` / `quickHi` (-1: none yet). */
  private quickProt = -1;
  private quickLo = 0;
  private quickHi = 0;

  private mapPageQuickly(va: number, pa: number, prot: Prot): boolean {
    const slab = this.memory.slab;
    const g = this.g;
    if (slab === undefined || !g.slabWalk || this.life !== "live" || this.listeners.length > 0)
      return false;
    const page = this.minPage;
    if (!(Number.isSafeInteger(va) && va >= 0 && Number.isSafeInteger(pa) && pa >= 0)) return false;
    if (offsetIn(va, page) !== 0 || offsetIn(pa, page) !== 0) return false;
    if (va + page > g.inputLimit || pa + page > g.outputLimit) return false;
    if (!Number.isInteger(prot) || prot < 0 || (prot & (PROT.READ | PROT.WRITE)) === 0)
      return false;
    const rootRel = (this.root - slab.base) / 4096;
    if (!(rootRel >= 0 && rootRel < slab.span / 4096)) return false;
    const words = slab.words;
    const slotOf = slab.slotOf;
    const spanPages = slab.span / 4096;
    const basePfn = slab.base / 4096;
    const tableMaskLo = g.fast!.tableMaskLo;
    const vaHi = Math.floor(va * 2.3283064365386963e-10);
    const vaLo = va >>> 0;
    const last = g.levels - 1;
    let tableRel = rootRel | 0;
    let k: number;
    const leafSpan = g.spans[last - 1]!;
    const fromLeafBase = va - this.quickLeafVa;
    if (
      this.quickShape === this.shape &&
      fromLeafBase >= 0 &&
      fromLeafBase < leafSpan &&
      words[this.quickParentK] === this.quickParentLo
    ) {
      // The leaf table of the last quick map covers this page too (a map page by page).
      const sh = g.shifts[last]!;
      k = this.quickLeafK + (((vaLo >>> sh) & (g.entries[last]! - 1)) << 1);
      if ((words[k]! & 1) !== 0) return false;
    } else
      for (let li = 0; ; li++) {
        const sh = g.shifts[li]!;
        const idx =
          (sh >= 32 ? vaHi >>> (sh - 32) : (vaLo >>> sh) | (vaHi << (32 - sh))) &
          (g.entries[li]! - 1);
        const pageRel = tableRel + (idx >>> 9);
        if (pageRel >>> 0 >= spanPages) return false;
        const slot = slotOf[pageRel]! - 1;
        if (slot < 0) return false;
        k = (slot << 10) + ((idx & 511) << 1);
        const lo = words[k]!;
        if (li === last) {
          if ((lo & 1) !== 0) return false; // taken: the general path says by what
          if (g.entries[last]! <= 512) {
            // Remember the leaf table (one page), its parent entry and the table's shape.
            this.quickLeafK = slot << 10;
            this.quickLeafVa = va - offsetIn(va, leafSpan);
            this.quickShape = this.shape;
          }
          break;
        }
        if (li === last - 1) {
          this.quickParentK = k;
          this.quickParentLo = lo;
        }
        if ((lo & 3) !== 3) return false; // no table here yet (or a block): the general path
        const addrHi = words[k + 1]! & 0xffff;
        if (addrHi >= 0x800) return false;
        tableRel = ((((lo & tableMaskLo) >>> 12) | (addrHi << 20)) >>> 0) - basePfn;
      }
    if (prot !== this.quickProt) {
      // A page leaf of a long-descriptor format is its attribute bits or'd with OA[47:12]
      // (paddr_to_iopte without packed high bits): encode the attributes once per prot.
      this.format.encodeLeaf(last, page, 0, prot, this.enc);
      this.quickLo = this.enc[0]!;
      this.quickHi = this.enc[1]!;
      this.quickProt = prot;
    }
    words[k] = (this.quickLo | (pa >>> 0)) >>> 0;
    words[k + 1] = (this.quickHi | (Math.floor(pa * 2.3283064365386963e-10) & 0xffff)) >>> 0;
    this.mappedBySize[0]!++;
    this.statsData.maps++;
    const ch = this.channels?.map;
    if (ch !== undefined) {
      if (ch.interest > 0) ch.emit({ table: this.name, va, pa, size: page, prot });
      else ch.skip();
    }
    return true;
  }

  private mapRange(va: number, pa: number, size: number, prot: Prot): void {
    let v = va;
    let p = pa;
    let left = size;
    while (left > 0) {
      const { pgsize, count, index } = iommuPgsize(this.format.pageSizes, v, p, left);
      for (let i = 0; i < count; i++) {
        this.installLeaf(v, p, pgsize, prot);
        v += pgsize;
        p += pgsize;
      }
      left -= pgsize * count;
      this.tx.countMapped(index, count);
    }
  }

  /** Map one page of `pgsize`, allocating tables on the way (`__arm_lpae_map`). */
  private installLeaf(va: number, pa: number, pgsize: number, prot: Prot): void {
    const target = this.g.levelOfSize.get(pgsize)!;
    let table = this.root;
    for (let li = 0; li < target; li++) {
      const addr = this.entryAddr(table, li, va);
      this.read(addr);
      const kind = this.kindOf(li);
      if (kind === DESC_TABLE) {
        table = this.addressOf(li, kind);
      } else if (kind === DESC_INVALID) {
        const next = this.allocTable(li + 1, this.annotationOfCur(li));
        this.format.encodeTable(li, next, this.enc);
        this.write(addr, this.enc[0]!, this.enc[1]!);
        table = next;
      } else {
        const size = leafSizeOf(this.format, this.g, li, this.cur.lo, this.cur.hi);
        const base = Math.floor(va / size) * size;
        fail(
          "EEXIST",
          `${this.name}: ${hex(va)} is already mapped by a ${formatSize(size)} leaf at ${hex(base)}`,
        );
      }
    }
    const span = this.g.spans[target]!;
    const copies = pgsize / span;
    const first = this.entryAddr(table, target, va);
    for (let c = 0; c < copies; c++) {
      this.read(first + c * this.g.descBytes);
      const kind = this.kindOf(target);
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
    if (this.recording()) this.tx.change(va, pgsize, target, -1, 0, 0, pa, lo, hi);
  }

  // --- unmap, remap, owners, protect ---------------------------------------------------------

  /**
   * Unmap `[va, va+size)`, splitting a larger leaf that is only partly inside, and freeing
   * tables left empty. Returns the bytes unmapped: less than `size` if a hole was met (it stops
   * there, as `iommu_unmap` does). EINVAL when misaligned, ERANGE beyond the input size, ENOMEM
   * when a split cannot allocate a table; on failure nothing changes. The TLBs are invalidated
   * before it returns.
   */
  unmap(va: AddrArg<In>, size: number): number {
    return this.unmapWith(va, size, this.ownGather);
  }

  /**
   * {@link unmap} whose leaf invalidations go into the caller's `gather` and are sent only when
   * the caller syncs it (Linux `iommu_unmap_fast`, then `iommu_iotlb_sync`): until then TLBs may
   * hold the old translations. Walk invalidations (splits, freed tables) are still sent at once.
   */
  unmapFast(va: AddrArg<In>, size: number, gather: IotlbGather): number {
    if (!(gather instanceof IotlbGather)) fail("EINVAL", `${this.name}: unmapFast needs a gather`);
    return this.unmapWith(va, size, gather);
  }

  private unmapWith(va: number, size: number, gather: IotlbGather): number {
    this.checkRange("unmap", va, size);
    this.begin("unmap", gather);
    let unmapped: number;
    try {
      unmapped = this.clearRange(va, size, 0, false);
    } catch (e) {
      this.tx.rollback();
      throw e;
    }
    const changes = this.commit();
    this.statsData.unmaps++;
    this.channels?.unmap.emit({ table: this.name, va, size, unmapped });
    this.publish(changes);
    return unmapped;
  }

  /**
   * Replace the translation of `[va, va+size)` by `[pa, pa+size)` with `prot`, in one
   * operation (a page migration, a stage-2 rewrite): the old leaves go, the new ones are chosen
   * as map chooses them, and the change listeners get one list whose changes pair old and new
   * leaves of the same range. ENOENT (and no change) unless the whole range is mapped; the
   * checks of map otherwise.
   */
  remap(va: AddrArg<In>, pa: AddrArg<Out>, size: number, prot: Prot): void {
    this.checkRange("remap", va, size);
    this.checkOutput("remap", pa, size);
    this.checkProt("remap", prot);
    this.checkLive("remap");
    const mapped = this.mappedBytes(va, va + size);
    if (mapped < size)
      fail(
        "ENOENT",
        `${this.name}: remap ${hexRange(va, size)}: only ${formatSize(mapped)} of it is mapped`,
      );
    this.begin("remap");
    try {
      this.clearRange(va, size, 0, false);
      this.mapRange(va, pa, size, prot);
    } catch (e) {
      this.tx.rollback();
      throw e;
    }
    const changes = this.commit(true);
    this.statsData.remaps++;
    this.channels?.remap.emit({ table: this.name, va, pa, size, prot });
    this.publish(changes);
  }

  /**
   * Annotate `[va, va+size)` as owned by `owner` (1..format.maxAnnotation), or clear the
   * annotation (0): pKVM's `kvm_pgtable_stage2_set_owner`. Whatever is mapped there is unmapped
   * first (and the TLBs invalidated); the range then holds invalid entries carrying the owner,
   * which translate nothing but say whose the memory is (see {@link ownerAt}). EINVAL for an
   * owner the format cannot hold; the range checks of unmap; ENOMEM; on failure nothing changes.
   */
  setOwner(va: AddrArg<In>, size: number, owner: number): void {
    this.checkRange("setOwner", va, size);
    const max = this.format.maxAnnotation;
    if (!Number.isInteger(owner) || owner < 0 || owner > max)
      fail(
        "EINVAL",
        max === 0
          ? `${this.name}: format ${this.format.name} keeps no owner annotations`
          : `${this.name}: owner ${String(owner)} is not 0..${max}`,
      );
    this.begin("setOwner");
    try {
      this.clearRange(va, size, owner, true);
    } catch (e) {
      this.tx.rollback();
      throw e;
    }
    const changes = this.commit();
    this.statsData.ownerChanges++;
    this.channels?.owner.emit({ table: this.name, va, size, owner });
    this.publish(changes);
  }

  /**
   * The owner annotation of the invalid entry `va` reaches (0: none, or `va` is mapped). ENODEV
   * once destroyed or detached.
   */
  ownerAt(va: AddrArg<In>): number {
    this.checkLive("ownerAt");
    checkAddress(`${this.name}: ownerAt`, "va", va);
    if (!Number.isSafeInteger(va) || va < 0 || va >= this.g.inputLimit) return 0;
    this.syncViews();
    let table = this.root;
    for (let li = 0; li < this.g.levels; li++) {
      this.read(this.entryAddr(table, li, va));
      const kind = this.decode(li);
      if (kind === DESC_INVALID) return this.annotationOfCur(li);
      if (kind === DESC_LEAF) return 0;
      table = decoded.next;
    }
    return 0;
  }

  /**
   * The engine of unmap and setOwner: step through the range in `iommu_pgsize` steps; walk
   * down to each step's level (splitting larger leaves; with `throughHoles`, splitting larger
   * annotated entries or installing tables where there are none); there, drop the leaves and
   * tables of the step and write invalid entries carrying `fill` (0: plain zeros). Without
   * `throughHoles` (unmap) it stops at the first step that is not wholly mapped. Frees the
   * tables it left empty. Returns the bytes done.
   */
  private clearRange(va: number, size: number, fill: number, throughHoles: boolean): number {
    const touched = new Map<number, TouchedTable>();
    const cur = this.cur;
    const db = this.g.descBytes;
    const recording = this.recording();
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
        const kind = this.decode(li);
        if (kind === DESC_INVALID) {
          if (!throughHoles) break steps;
          const annotation = this.annotationOfCur(li);
          if (annotation === fill) {
            // A larger entry already says what the step asks: nothing to do here.
            v += pgsize;
            left -= pgsize;
            continue steps;
          }
          // Split the annotation: a table whose every entry keeps it, then go down into it.
          const child = this.allocTable(li + 1, annotation);
          this.format.encodeTable(li, child, this.enc);
          this.write(addr, this.enc[0]!, this.enc[1]!);
          li--;
          continue;
        }
        if (kind === DESC_LEAF) {
          // A leaf larger than the step: split it and read the entry again.
          this.split(table, li, v, leafSizeOf(this.format, this.g, li, cur.lo, cur.hi));
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
        table = decoded.next;
      }
      const span = this.g.spans[target]!;
      const copies = pgsize / span;
      const first = this.entryAddr(table, target, v);
      if (!throughHoles)
        for (let c = 0; c < copies; c++) {
          this.read(first + c * db);
          if (this.kindOf(target) === DESC_INVALID) break steps;
        }
      if (copies === 1) {
        this.read(first);
        if (this.decode(target) === DESC_LEAF) {
          const leafSize = leafSizeOf(this.format, this.g, target, cur.lo, cur.hi);
          // A multi-entry leaf (v7s large page, supersection) met by a one-entry step.
          if (leafSize > pgsize) this.split(table, target, v, leafSize);
        }
      }
      this.format.encodeInvalid(target, fill, this.enc);
      const fillLo = this.enc[0]!;
      const fillHi = this.enc[1]!;
      let leafPa = -1;
      let cleared = false;
      for (let c = 0; c < copies; c++) {
        const addr = first + c * db;
        const entryVa = v + c * span;
        this.read(addr);
        const kind = this.decode(target);
        if (kind === DESC_TABLE) {
          // A table under a block-sized step: drop the subtree (`__arm_lpae_free_pgtable`,
          // `__arm_v7s_free_table`), whatever holes it has, and flush walks through it.
          const child = decoded.next;
          this.write(addr, fillLo, fillHi);
          this.fanout.flushWalk(entryVa, span, this.minPage);
          this.collectSubtree(child, target + 1, entryVa, recording);
          cleared = true;
        } else if (kind === DESC_LEAF) {
          const leafSize = leafSizeOf(this.format, this.g, target, cur.lo, cur.hi);
          // A multi-entry leaf is one change, reported at its first entry.
          if (offsetIn(entryVa, leafSize) === 0) {
            if (c === 0) leafPa = decoded.next;
            if (recording)
              this.tx.change(entryVa, leafSize, target, decoded.next, cur.lo, cur.hi, -1, 0, 0);
          }
          this.write(addr, fillLo, fillHi);
          cleared = true;
        } else if (cur.lo !== fillLo || cur.hi !== fillHi) this.write(addr, fillLo, fillHi);
      }
      // unmap gathers every step (all its entries were valid); setOwner only steps it cleared.
      if (!throughHoles || cleared) this.gather(v, pgsize, pgsize, leafPa);
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
   * Change the permissions and attributes of every leaf in `[va, va+size)` to `prot`, splitting
   * leaves that are partly inside. ENOENT (and no change) if any part is not mapped.
   */
  protect(va: AddrArg<In>, size: number, prot: Prot): void {
    this.checkRange("protect", va, size);
    this.checkProt("protect", prot);
    this.begin("protect");
    try {
      const done = this.rewriteRange(va, size, prot);
      if (done < size)
        fail(
          "ENOENT",
          `${this.name}: protect ${hexRange(va, size)}: ${hex(va + done)} is not mapped`,
        );
    } catch (e) {
      this.tx.rollback();
      throw e;
    }
    const changes = this.commit();
    this.statsData.protects++;
    this.channels?.protect.emit({ table: this.name, va, size, prot });
    this.publish(changes);
  }

  /**
   * The loop behind protect: rewrites every leaf in the range, splitting leaves partly inside;
   * returns the bytes done before the first hole.
   */
  private rewriteRange(va: number, size: number, prot: Prot): number {
    const cur = this.cur;
    let v = va;
    const end = va + size;
    outer: while (v < end) {
      let table = this.root;
      for (let li = 0; li < this.g.levels; li++) {
        const addr = this.entryAddr(table, li, v);
        this.read(addr);
        const kind = this.decode(li);
        if (kind === DESC_INVALID) break outer;
        if (kind === DESC_TABLE) {
          table = decoded.next;
          continue;
        }
        const leafSize = leafSizeOf(this.format, this.g, li, cur.lo, cur.hi);
        const base = Math.floor(v / leafSize) * leafSize;
        if (base !== v || end - v < leafSize) {
          this.split(table, li, v, leafSize);
          li--; // read the same entry again: now a table, or a smaller leaf
          continue;
        }
        const copies = leafSize / this.g.spans[li]!;
        const first = this.entryAddr(table, li, base);
        const leafPa = decoded.next;
        const oldLo = cur.lo;
        const oldHi = cur.hi;
        this.format.encodeLeaf(li, leafSize, leafPa, prot, this.enc);
        const lo = this.enc[0]!;
        const hi = this.enc[1]!;
        for (let c = 0; c < copies; c++) this.write(first + c * this.g.descBytes, lo, hi);
        if (this.recording()) this.tx.change(v, leafSize, li, leafPa, oldLo, oldHi, leafPa, lo, hi);
        this.gather(v, leafSize, leafSize, leafPa);
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
    const cur = this.cur;
    const span = this.g.spans[li]!;
    const db = this.g.descBytes;
    const base = Math.floor(va / leafSize) * leafSize;
    const first = this.entryAddr(table, li, base);
    this.read(first);
    const prot = this.format.protOf(li, cur.lo, cur.hi);
    const leafLo = cur.lo;
    const leafHi = cur.hi;
    const format = this.format;
    const piece = (childLi: number, size: number, pa: number): void => {
      if (format.splitLeaf !== undefined)
        format.splitLeaf(li, leafLo, leafHi, childLi, size, pa, this.enc);
      else format.encodeLeaf(childLi, size, pa, prot, this.enc);
    };
    this.decode(li);
    const leafPa = decoded.next;
    const recording = this.recording();
    if (recording) this.tx.change(base, leafSize, li, leafPa, cur.lo, cur.hi, -1, 0, 0);
    const copies = leafSize / span;
    // Break: invalidate the old leaf and its TLB entries before anything else is written.
    for (let c = 0; c < copies; c++) this.write(first + c * db, 0, 0);
    this.fanout.flushWalk(base, leafSize, leafSize);
    if (copies > 1) {
      // A multi-entry leaf becomes its single entries at the same level.
      for (let c = 0; c < copies; c++) {
        piece(li, span, leafPa + c * span);
        this.write(first + c * db, this.enc[0]!, this.enc[1]!);
        if (recording)
          this.tx.change(
            base + c * span,
            span,
            li,
            -1,
            0,
            0,
            leafPa + c * span,
            this.enc[0]!,
            this.enc[1]!,
          );
      }
    } else {
      const child = this.allocTable(li + 1);
      const childSpan = this.g.spans[li + 1]!;
      const n = span / childSpan;
      for (let i = 0; i < n; i++) {
        piece(li + 1, childSpan, leafPa + i * childSpan);
        this.write(child + i * db, this.enc[0]!, this.enc[1]!);
        if (recording)
          this.tx.change(
            base + i * childSpan,
            childSpan,
            li + 1,
            -1,
            0,
            0,
            leafPa + i * childSpan,
            this.enc[0]!,
            this.enc[1]!,
          );
      }
      // Make: point the entry at the new table.
      this.format.encodeTable(li, child, this.enc);
      this.write(first, this.enc[0]!, this.enc[1]!);
    }
    this.tx.countSplit();
    this.channels?.split.emit({
      table: this.name,
      va: base,
      size: leafSize,
      level: this.format.levels[li]!.level,
    });
  }

  /**
   * Queue every table of the subtree at `addr` (level index `li`, mapping from `va`) to be
   * freed, and record the removal of its leaves.
   */
  private collectSubtree(addr: number, li: number, va: number, recording: boolean): void {
    this.tx.deferFree(addr);
    const n = this.g.entries[li]!;
    const span = this.g.spans[li]!;
    const last = li >= this.g.levels - 1;
    if (last && !recording) return;
    const cur = this.cur;
    for (let i = 0; i < n; i++) {
      this.read(addr + i * this.g.descBytes);
      const kind = this.decode(li);
      if (kind === DESC_TABLE) this.collectSubtree(decoded.next, li + 1, va + i * span, recording);
      else if (kind === DESC_LEAF && recording) {
        const size = leafSizeOf(this.format, this.g, li, cur.lo, cur.hi);
        if (offsetIn(va + i * span, size) === 0)
          this.tx.change(va + i * span, size, li, decoded.next, cur.lo, cur.hi, -1, 0, 0);
      }
    }
  }

  /** True if every entry of the table is all zeros (annotations keep a table). */
  private isEmpty(addr: number, li: number): boolean {
    const n = this.g.entries[li]!;
    for (let i = 0; i < n; i++) {
      this.read(addr + i * this.g.descBytes);
      if (this.cur.lo !== 0 || this.cur.hi !== 0) return false;
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
      this.fanout.flushWalk(t.va, this.g.spans[t.li - 1]!, this.minPage);
      this.tx.deferFree(t.addr);
      const parent = touched.get(t.parentTable);
      if (parent && !done.has(parent.addr)) {
        queue.push(parent);
        queue.sort((a, b) => b.li - a.li);
      }
    }
  }

  // --- rewrite, translate and walk -----------------------------------------------------------

  /**
   * The generic walker whose visitor may rewrite leaves (for access-flag and dirty updates,
   * attribute changes, software bits): each leaf meeting `[start, end)` is shown to `rewriter`,
   * which returns the new descriptor halves or nothing. A new descriptor must be a leaf of the
   * same size at the same level, or invalid (EINVAL otherwise, and nothing changes). Rewritten
   * leaves are invalidated in the TLBs and reported to the change listeners, in one operation.
   * Returns the number of leaves rewritten.
   */
  rewrite(rewriter: LeafRewriter, start = 0, end = this.g.inputLimit): number {
    checkFunction(`${this.name}: rewrite`, "rewriter", rewriter);
    this.checkSpan("rewrite", start, end);
    this.begin("rewrite");
    let n = 0;
    try {
      const edits: Array<{ leaf: LeafVisit; lo: number; hi: number }> = [];
      this.walk(
        {
          leaf: (l) => {
            const r = rewriter(l);
            if (r !== undefined) edits.push({ leaf: l, lo: r.lo >>> 0, hi: r.hi >>> 0 });
          },
        },
        start,
        end,
      );
      for (const { leaf: l, lo, hi } of edits) {
        if (lo === l.lo && hi === l.hi) continue;
        const kind = decodeDescriptor(this.format, this.g, l.levelIndex, lo, hi);
        const pa = decoded.next;
        if (kind === DESC_TABLE)
          fail("EINVAL", `${this.name}: rewrite of the leaf at ${hex(l.va)} to a table descriptor`);
        if (kind === DESC_LEAF && leafSizeOf(this.format, this.g, l.levelIndex, lo, hi) !== l.size)
          fail(
            "EINVAL",
            `${this.name}: rewrite of the ${formatSize(l.size)} leaf at ${hex(l.va)} to a leaf of another size`,
          );
        for (let c = 0; c < l.copies; c++) this.write(l.descAddr + c * this.g.descBytes, lo, hi);
        if (this.recording())
          this.tx.change(
            l.va,
            l.size,
            l.levelIndex,
            l.pa,
            l.lo,
            l.hi,
            kind === DESC_LEAF ? pa : -1,
            lo,
            hi,
          );
        this.gather(l.va, l.size, l.size, l.pa);
        n++;
      }
    } catch (e) {
      this.tx.rollback();
      throw e;
    }
    this.publish(this.commit());
    return n;
  }

  /**
   * Translate `va` (`iova_to_phys`), or undefined if it is not mapped. ENODEV once destroyed or
   * detached (its table pages may hold another table's descriptors by then).
   */
  translate(va: AddrArg<In>): Translation<Out> | undefined {
    this.checkLive("translate");
    if (!(Number.isSafeInteger(va) && va >= 0)) checkAddress(`${this.name}: translate`, "va", va);
    const out = this.cur;
    if (walkTable(this.format, this.g, this.memory, this.root, va, out) !== FAULT_NONE)
      return undefined;
    return {
      pa: out.pa as AddrOf<Out>,
      size: out.size,
      va: Math.floor(va / out.size) * out.size,
      base: out.base,
      level: this.format.levels[out.levelIndex]!.level,
      perm: out.perm,
      lo: out.lo,
      hi: out.hi,
    };
  }

  /** Bytes of `[start, end)` that translate. */
  mappedBytes(start: number, end: number): number {
    this.checkSpan("mappedBytes", start, end);
    let n = 0;
    this.walk(
      { leaf: (l) => void (n += Math.min(end, l.va + l.size) - Math.max(start, l.va)) },
      start,
      end,
    );
    return n;
  }

  /**
   * The generic walker: visit every table and leaf whose input range meets `[start, end)`, in
   * address order, tables before their entries (mm/pagewalk.c `walk_page_range`), and annotated
   * invalid entries when the visitor asks for them.
   */
  walk(visitor: WalkVisitor, start = 0, end = this.g.inputLimit): void {
    this.checkLive("walk");
    checkObject(`${this.name}: walk`, "visitor", visitor);
    this.checkSpan("walk", start, end);
    this.syncViews();
    walkTree(this.format, this.root, visitor, start, end, (page) => this.words(page));
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

  /**
   * Free every table, root included; the page table can't be used afterwards (ENODEV). Its
   * flush targets get a full invalidation and then {@link TlbFlush.tableDestroyed}, so they drop
   * their references; every registration (flush targets, change listeners) is then removed.
   */
  destroy(): void {
    if (this.life !== "live") return;
    const tables = this.tablePages().map((t) => t.addr);
    for (const t of tables.reverse()) this.memory.freeTable(t);
    this.statsData.tablesFreed += tables.length;
    this.life = "destroyed";
    this.fanout.flushAll();
    const targets = this.flushTargets.splice(0);
    for (const f of targets) f.tableDestroyed?.(this);
    this.listeners.length = 0;
  }

  /**
   * Give up the tables without freeing them, for another owner to {@link adopt}: returns the
   * root; this object can't be used afterwards. EBUSY while flush targets are registered (the
   * devices that use the table must let go of this object first).
   */
  detach(): number {
    this.checkLive("detach");
    if (this.flushTargets.length > 0)
      fail(
        "EBUSY",
        `${this.name}: ${this.flushTargets.length} flush target(s) still registered; unbind the table first`,
      );
    this.life = "detached";
    this.listeners.length = 0;
    return this.root;
  }
}

/** The root {@link PageTable.adopt} hands to the constructor. */
let adopting: number | undefined;
