/**
 * A page-table transaction: what makes every page-table operation atomic, and what it reports
 * once it has succeeded.
 *
 * While an operation runs, the transaction keeps
 * - the undo log: every descriptor written, with its old value;
 * - the tables allocated on the way (freed again on rollback) and the tables to free (freed
 *   only at commit);
 * - the gather of its leaf invalidations (the table's own, synced at commit, or the caller's,
 *   for `unmapFast`);
 * - its statistics (leaves mapped by size, splits), counted as they happen and taken back on
 *   rollback;
 * - when the table has change listeners, the leaves it changed, in order.
 *
 * {@link TableTransaction.commit} frees the deferred tables, syncs the gather, applies the
 * statistics and returns the change list; {@link TableTransaction.rollback} restores every
 * descriptor, frees the new tables and drops the statistics and changes. Invalidations already
 * sent during a rolled-back operation stay sent: they concerned translations that are back, so
 * they cost only TLB misses.
 */
import type { IotlbGather } from "./flush.js";
import type { PageTableFormat } from "./format.js";
import type { TableMemory } from "./table-memory.js";

/** A leaf as a change reports it: its output base, its raw descriptor, its permissions. */
export interface LeafState {
  /** The output address of the leaf's base. */
  readonly pa: number;
  /** The descriptor's halves (decode attributes with the format: `format.attributes`). */
  readonly lo: number;
  readonly hi: number;
  /** Its {@link PERM} mask. */
  readonly perm: number;
}

/**
 * One leaf a committed operation changed: the input range `[va, va+size)` translated as
 * `before` (null: not at all) and now translates as `after` (null: not at all). Changes come in
 * the order the operation made them; applying them in that order (drop `before`, add `after`)
 * turns the table's old leaves into its new ones. A split shows as the removal of the block and
 * the addition of its pieces; a remap as `before` and `after` of the same range where the
 * leaf sizes agree.
 */
export interface LeafChange {
  readonly va: number;
  readonly size: number;
  /** The level index (from the root) and architectural level of the leaf. */
  readonly levelIndex: number;
  readonly level: number;
  readonly before: LeafState | null;
  readonly after: LeafState | null;
}

/**
 * A {@link LeafState} as a change record carries it: `perm` is decoded when first read (most
 * listeners — reverse indexes, residency — never ask, and decoding is most of a record's cost).
 */
class RecordedLeaf implements LeafState {
  private perm_ = -1;

  constructor(
    private readonly format: PageTableFormat,
    private readonly li: number,
    readonly pa: number,
    readonly lo: number,
    readonly hi: number,
  ) {}

  get perm(): number {
    if (this.perm_ < 0) this.perm_ = this.format.perm(this.li, this.lo, this.hi);
    return this.perm_;
  }

  toJSON(): { pa: number; lo: number; hi: number; perm: number } {
    return { pa: this.pa, lo: this.lo, hi: this.hi, perm: this.perm };
  }
}

/** Fields per change record: va, size, li, then pa/lo/hi before and after (pa -1: none). */
const REC = 9;

/** Statistics a transaction applies when it commits. */
export interface TransactionStats {
  splits: number;
  tablesAllocated: number;
  tablesFreed: number;
  rollbacks: number;
}

export class TableTransaction {
  // Growable arrays with their own lengths: resetting `length` on every call is a runtime call.
  private readonly undo: number[] = [];
  private undoTop = 0;
  private readonly newTables: number[] = [];
  private newTop = 0;
  private readonly frees: number[] = [];
  private freeTop = 0;
  private readonly rec: number[] = [];
  private recTop = 0;
  /** Leaves counted as mapped by this operation: (page-size index, count) pairs, to take back. */
  private readonly mappedLog: number[] = [];
  private mappedTop = 0;
  private splits = 0;
  /** Record changes (the table has listeners). */
  recording = false;
  /** The gather of this operation's leaf invalidations. */
  gather: IotlbGather | undefined = undefined;
  /** Sync the gather at commit (false: the caller owns it). */
  private syncGather = true;

  constructor(
    private readonly format: PageTableFormat,
    private readonly memory: TableMemory,
    private readonly stats: TransactionStats,
    /** Leaves mapped per page size of the format (`format.pageSizes` order). */
    private readonly mappedBySize: Float64Array,
  ) {}

  begin(gather: IotlbGather, callerGather: boolean, recording: boolean): void {
    this.undoTop = 0;
    this.newTop = 0;
    this.freeTop = 0;
    this.recTop = 0;
    this.splits = 0;
    this.mappedTop = 0;
    this.gather = gather;
    this.syncGather = !callerGather;
    this.recording = recording;
  }

  /** Log the old value of the descriptor at `addr`, about to be written. */
  log(addr: number, lo: number, hi: number): void {
    const u = this.undo;
    const t = this.undoTop;
    u[t] = addr;
    u[t + 1] = lo;
    u[t + 2] = hi;
    this.undoTop = t + 3;
  }

  /** A table allocated by this operation (freed on rollback). */
  allocated(addr: number): void {
    this.newTables[this.newTop++] = addr;
  }

  /** A table to free once the operation has succeeded. */
  deferFree(addr: number): void {
    this.frees[this.freeTop++] = addr;
  }

  /** `count` leaves of `pgsize` mapped. */
  /** `count` leaves of the format's page size number `index` mapped (counted at once). */
  countMapped(index: number, count: number): void {
    this.mappedBySize[index]! += count;
    const log = this.mappedLog;
    log[this.mappedTop] = index;
    log[this.mappedTop + 1] = count;
    this.mappedTop += 2;
  }

  countSplit(): void {
    this.stats.splits++;
    this.splits++;
  }

  /**
   * Record a changed leaf of `[va, va+size)` at level index `li`: before `(bPa, bLo, bHi)` and
   * after `(aPa, aLo, aHi)`; a pa of -1 means no leaf. Only while {@link recording}.
   */
  change(
    va: number,
    size: number,
    li: number,
    bPa: number,
    bLo: number,
    bHi: number,
    aPa: number,
    aLo: number,
    aHi: number,
  ): void {
    const r = this.rec;
    const t = this.recTop;
    r[t] = va;
    r[t + 1] = size;
    r[t + 2] = li;
    r[t + 3] = bPa;
    r[t + 4] = bLo;
    r[t + 5] = bHi;
    r[t + 6] = aPa;
    r[t + 7] = aLo;
    r[t + 8] = aHi;
    this.recTop = t + REC;
  }

  /**
   * Succeed: free the deferred tables, sync the gather (unless the caller owns it), count the
   * tables. Returns the changes when recording (merging a removal and a later addition of
   * the same range into one change when `mergeSameRange`), else undefined.
   */
  commit(mergeSameRange = false): LeafChange[] | undefined {
    const gather = this.gather!;
    if (this.syncGather && gather.end !== gather.start) gather.sync();
    const stats = this.stats;
    if (this.freeTop > 0) {
      for (let i = 0; i < this.freeTop; i++) this.memory.freeTable(this.frees[i]!);
      stats.tablesFreed += this.freeTop;
    }
    if (this.newTop > 0) stats.tablesAllocated += this.newTop;
    return this.recording ? this.changes(mergeSameRange) : undefined;
  }

  /** Fail: restore every descriptor written, free the tables allocated, drop the rest. */
  rollback(): void {
    const u = this.undo;
    const wide = this.format.descriptorBytes === 8;
    for (let i = this.undoTop - 3; i >= 0; i -= 3) {
      const addr = u[i]!;
      const page = Math.floor(addr / 4096) * 4096;
      const w = this.memory.words(page);
      const k = (addr - page) >>> 2;
      w[k] = u[i + 1]!;
      if (wide) w[k + 1] = u[i + 2]!;
    }
    for (let i = 0; i < this.newTop; i++) this.memory.freeTable(this.newTables[i]!);
    if (this.syncGather) this.gather!.sync();
    // Take back the statistics the operation counted.
    this.stats.splits -= this.splits;
    for (let i = 0; i < this.mappedTop; i += 2)
      this.mappedBySize[this.mappedLog[i]!]! -= this.mappedLog[i + 1]!;
    this.stats.rollbacks++;
  }

  private state(li: number, pa: number, lo: number, hi: number): LeafState | null {
    return pa < 0 ? null : new RecordedLeaf(this.format, li, pa, lo, hi);
  }

  private changes(merge: boolean): LeafChange[] {
    const r = this.rec;
    const out: LeafChange[] = [];
    // Removals still waiting for an addition of the same range: va -> index in `out`.
    const open = merge ? new Map<number, number>() : undefined;
    for (let t = 0; t < this.recTop; t += REC) {
      const va = r[t]!;
      const size = r[t + 1]!;
      const li = r[t + 2]!;
      const before = this.state(li, r[t + 3]!, r[t + 4]!, r[t + 5]!);
      const after = this.state(li, r[t + 6]!, r[t + 7]!, r[t + 8]!);
      const level = this.format.levels[li]!.level;
      if (open !== undefined) {
        const j = open.get(va);
        if (j !== undefined && before === null && after !== null && out[j]!.size === size) {
          out[j] = { ...out[j]!, after };
          open.delete(va);
          continue;
        }
        if (after === null) open.set(va, out.length);
      }
      out.push({ va, size, levelIndex: li, level, before, after });
    }
    return out;
  }
}
