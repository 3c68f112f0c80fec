/**
 * Where page tables live: {@link TableMemory} allocates table pages and gives descriptor access
 * to them, in the address space the tables are addressed in (physical for a stage-2 or
 * non-nested stage-1 table; an IPA space for a guest's stage-1 tables, whose memory is reached
 * through stage 2).
 *
 * {@link PhysTableMemory} keeps tables in simulated physical memory, allocated from a memory
 * target, so a dump shows real physical addresses and the bytes are there for any bus master
 * to read.
 */
import { hex } from "../base/address.js";
import { fail } from "../base/errors.js";
import { EventBus } from "../base/events.js";
import { ByteStore, STORE_PAGE_SIZE } from "../phys/byte-store.js";
import { BuddyAllocator } from "../phys/buddy.js";
import { MemoryMap } from "../phys/memory-map.js";
import type { PhysAllocation } from "../phys/target.js";
import type { PageTableFormat } from "./format.js";
import { PERM } from "./prot.js";
import {
  FAULT_ACCESS_FLAG,
  FAULT_NONE,
  FAULT_PERMISSION,
  geometryOf,
  walkTable,
  WalkOut,
} from "./walk.js";
import { MemoryTarget } from "../phys/target.js";
import { SLAB_MAX_SPAN_PAGES, TableSlab } from "./table-slab.js";

/** A root of translation: a format, the memory its tables are in, the root table's address. */
export interface TableRoot {
  format: PageTableFormat;
  memory: TableMemory;
  root: number;
}

export interface TableMemory {
  /**
   * Allocate a zeroed table of `bytes` (a power of two), aligned to its size; returns its
   * address. Throws ENOMEM (or the allocator's error) and changes nothing on failure.
   */
  allocTable(bytes: number): number;
  /** Free a table allocated by {@link allocTable}. */
  freeTable(addr: number): void;
  /** The 1024 little-endian words of the 4 KiB page at `pageAddr` (page-aligned). */
  words(pageAddr: number): Uint32Array;
  /**
   * True if the view for an address stays the same while {@link viewEpoch} does (tables in
   * physical memory), so walkers may keep it; false when addresses are translated (by stage 2)
   * and could be remapped.
   */
  readonly stableViews?: boolean;
  /** Moves when views handed out before are no longer valid (a freed table page was released). */
  readonly viewEpoch: number;
  /** True if `addr` is a live table of this memory (allocated and not freed). */
  isTable(addr: number): boolean;
  /** Tables currently allocated. */
  readonly liveTables: number;
  /**
   * The table pages in one typed array, when the memory keeps them so (tables in physical
   * memory): the walk reads descriptors from it directly. Pages it does not hold are read
   * through {@link words}.
   */
  readonly slab?: TableSlab | undefined;
}

/**
 * Tables in physical memory, allocated from a memory target (a buddy or contiguous target, so
 * tables are aligned to their size).
 *
 * Decision: the smallest table allocated is one 4 KiB page, so a 1 KiB ARMv7 level-2 table takes
 * a page of its own (Linux carves them from a kmem_cache); its address is still 1 KiB aligned,
 * as the format requires.
 */
export class PhysTableMemory implements TableMemory {
  readonly stableViews = true;
  private readonly live = new Map<number, PhysAllocation>();
  /** Tables allocated and freed over the memory's life. */
  allocated = 0;
  freed = 0;
  /** Fail every allocation after this many more (for tests that inject failures). */
  failAfter: number | undefined = undefined;
  /**
   * Every table page in one typed array ({@link TableSlab}), over the target's physical span
   * (none when the span is beyond {@link SLAB_MAX_SPAN_PAGES} pages: tables are then the
   * store's pages like any other).
   */
  readonly slab: TableSlab | undefined;

  constructor(
    readonly store: ByteStore,
    readonly target: MemoryTarget,
  ) {
    if (target.kind === "chunk-pool")
      fail(
        "EINVAL",
        `target "${target.name}" is a chunk pool; page tables need a buddy or contiguous target`,
      );
    let lo = Infinity;
    let hi = 0;
    for (const r of target.ranges) {
      lo = Math.min(lo, r.base);
      hi = Math.max(hi, r.base + r.size);
    }
    lo = Math.floor(lo / STORE_PAGE_SIZE) * STORE_PAGE_SIZE;
    hi = Math.ceil(hi / STORE_PAGE_SIZE) * STORE_PAGE_SIZE;
    this.slab =
      hi > lo && (hi - lo) / STORE_PAGE_SIZE <= SLAB_MAX_SPAN_PAGES
        ? new TableSlab(store, lo, hi - lo)
        : undefined;
  }

  allocTable(bytes: number): number {
    if (this.failAfter !== undefined) {
      if (this.failAfter <= 0)
        fail("ENOMEM", `table memory: injected allocation failure (${bytes} bytes)`);
      this.failAfter--;
    }
    const size = Math.max(bytes, STORE_PAGE_SIZE);
    const a = this.target.alloc(size, { align: size });
    const addr = a.chunks[0]!.pa;
    const slab = this.slab;
    if (slab !== undefined)
      for (let off = 0; off < size; off += STORE_PAGE_SIZE) slab.add(addr + off);
    else this.store.fill(addr, size, 0);
    this.live.set(addr, a);
    this.allocated++;
    return addr;
  }

  /**
   * Free a table: its memory goes back to the target and its pages to the store (unpinned and
   * forgotten: a freed table reads as zeros, and walkers' cached views are dropped).
   */
  freeTable(addr: number): void {
    const a = this.live.get(addr) ?? fail("EINVAL", `table memory: ${hex(addr)} is not a table`);
    this.target.free(a);
    this.live.delete(addr);
    const slab = this.slab;
    if (slab !== undefined)
      for (let off = 0; off < a.size; off += STORE_PAGE_SIZE) slab.remove(addr + off);
    this.store.release(addr, a.size);
    this.freed++;
  }

  words(pageAddr: number): Uint32Array {
    return this.store.pageWords(pageAddr);
  }

  get viewEpoch(): number {
    return this.store.viewEpoch;
  }

  isTable(addr: number): boolean {
    return this.live.has(addr);
  }

  /** Tables currently allocated. */
  get liveTables(): number {
    return this.live.size;
  }

  /**
   * Table memory of its own, for page tables without a whole platform: a fresh byte store and a
   * buddy target over `size` bytes of RAM at `base` (default 2 GiB).
   *
   * @example
   * const pt = new PageTable(createLpaeFormat({ stage: 1, granule: 4096, ias: 48, oas: 48 }),
   *   PhysTableMemory.standalone(64 << 20));
   */
  static standalone(size: number, base = 0x8000_0000): PhysTableMemory {
    const map = new MemoryMap();
    map.add({ name: "dram", base, size, kind: "ram" });
    let id = 1;
    const target = new MemoryTarget(
      { name: "tables", ranges: [{ region: "dram" }], allocator: { kind: "buddy" } },
      map,
      new EventBus(),
      () => id++,
    );
    return new PhysTableMemory(new ByteStore(), target);
  }
}

/**
 * A guest's table memory: tables addressed by IPA, allocated from a range of the guest's IPA
 * space (a buddy allocator over it) and reached through the VM's stage-2 table, as a guest
 * kernel's page tables are. A nested walk finds them the same way: each stage-1 table address
 * is an IPA that stage 2 translates.
 *
 * An IPA page that stage 2 does not map cannot hold a table: allocation checks every page of the
 * new table and fails with EFAULT (returning what it took); `words` of an unmapped IPA is EFAULT.
 */
export class IpaTableMemory implements TableMemory {
  readonly stableViews = false;
  private readonly allocator: BuddyAllocator;
  private readonly sizes = new Map<number, number>();
  allocated = 0;
  freed = 0;

  constructor(
    private readonly store: ByteStore,
    private readonly stage2: {
      translate(ipa: number): { pa: number } | undefined;
    },
    ipaBase: number,
    ipaSize: number,
    name = "guest tables",
  ) {
    this.allocator = new BuddyAllocator(ipaBase, ipaSize, name);
  }

  private pa(ipa: number): number {
    const t = this.stage2.translate(ipa);
    if (t === undefined)
      fail("EFAULT", `${this.allocator.name}: IPA ${hex(ipa)} is not mapped by stage 2`);
    return t.pa;
  }

  allocTable(bytes: number): number {
    const size = Math.max(bytes, STORE_PAGE_SIZE);
    const ipa = this.allocator.alloc(size, size);
    this.sizes.set(ipa, size);
    try {
      for (let off = 0; off < size; off += STORE_PAGE_SIZE)
        this.store.fill(this.pa(ipa + off), STORE_PAGE_SIZE, 0);
    } catch (e) {
      this.allocator.free(ipa);
      this.sizes.delete(ipa);
      throw e;
    }
    this.allocated++;
    return ipa;
  }

  /**
   * Free a table: its IPA range goes back to the allocator; the guest pages it was in are
   * released in the store where stage 2 still maps them (they read as zeros).
   */
  freeTable(addr: number): void {
    const size =
      this.sizes.get(addr) ?? fail("EINVAL", `${this.allocator.name}: ${hex(addr)} is not a table`);
    this.allocator.free(addr);
    this.sizes.delete(addr);
    for (let off = 0; off < size; off += STORE_PAGE_SIZE) {
      const t = this.stage2.translate(addr + off);
      if (t !== undefined) this.store.release(t.pa, STORE_PAGE_SIZE);
    }
    this.freed++;
  }

  words(pageAddr: number): Uint32Array {
    return this.store.pageWords(this.pa(pageAddr));
  }

  get viewEpoch(): number {
    return this.store.viewEpoch;
  }

  isTable(addr: number): boolean {
    return this.sizes.has(addr);
  }

  get liveTables(): number {
    return this.sizes.size;
  }
}

/** What a failed stage-2 fetch reads: an all-zero page (an invalid descriptor). Never written. */
const ZERO_WORDS = new Uint32Array(1024);

/**
 * The table memory of a nested stage-1 walk: stage-1 table addresses are IPAs, and each
 * descriptor fetch is itself translated by stage 2 first (so a 4+4-level walk reads up to 24
 * descriptors), as the hardware does. The one walk ({@link walkTable}) runs over it unchanged.
 *
 * A fetch must be allowed by stage 2 (a read with the access flag set); when it is not, the
 * fetch reads an all-zero page, so the stage-1 walk stops there, and {@link fault} says why:
 * the caller reports that stage-2 fault (`onTableWalk`) instead of the stage-1 one. `entry` is
 * the stage-1 walk's {@link WalkOut}, whose `descAddr` names the exact descriptor being
 * fetched (the IPA a fault reports).
 */
export class Stage2TableMemory implements TableMemory {
  readonly stableViews = false;
  readonly viewEpoch = 0;
  readonly liveTables = 0;
  /** FAULT_NONE, or the stage-2 fault of the failed fetch since {@link reset}. */
  fault = FAULT_NONE;
  /** The IPA of the descriptor whose fetch failed. */
  faultIpa = 0;
  /** Stage-2 descriptors read since {@link reset}. */
  reads = 0;
  /** The stage-2 walk of the last fetch. */
  readonly w = new WalkOut();

  constructor(
    public stage2: TableRoot,
    private readonly entry: { readonly descAddr: number },
  ) {}

  /** Start a new stage-1 walk under `stage2`. */
  reset(stage2: TableRoot): void {
    this.stage2 = stage2;
    this.fault = FAULT_NONE;
    this.reads = 0;
  }

  words(ipaPage: number): Uint32Array {
    if (this.fault !== FAULT_NONE) return ZERO_WORDS;
    const s2 = this.stage2;
    const ipa = this.entry.descAddr;
    const w = this.w;
    let code = walkTable(s2.format, geometryOf(s2.format), s2.memory, s2.root, ipa, w);
    this.reads += w.reads;
    // A stage-1 table fetch is a read that stage 2 must allow.
    if (code === FAULT_NONE && (w.perm & PERM.AF) === 0) code = FAULT_ACCESS_FLAG;
    else if (code === FAULT_NONE && (w.perm & PERM.READ_PRIV) === 0) code = FAULT_PERMISSION;
    if (code !== FAULT_NONE) {
      this.fault = code;
      this.faultIpa = ipa;
      return ZERO_WORDS;
    }
    return s2.memory.words(w.pa - (ipa - ipaPage));
  }

  allocTable(): number {
    return fail("EINVAL", "a nested walk's table memory allocates no tables");
  }

  freeTable(): void {
    fail("EINVAL", "a nested walk's table memory frees no tables");
  }

  isTable(): boolean {
    return false;
  }
}
