/**
 * The reverse index of one page table: its leaves by output address, built by one walk the
 * first time the platform graph asks about the table, then kept current from the table's change
 * stream ({@link PageTable.onChange}), so a later query reads a few buckets instead of walking
 * the whole tree.
 *
 * Why on first use and not always: recording a table's change stream costs its operations
 * (measured on W3, a 4K map: +45% with any listener), so only tables somebody asks about pay;
 * the rest keep their speed. A query on a fresh table costs one walk, as before.
 *
 * Buckets are 2 MiB of output address; a leaf goes into every bucket it meets (a 1G block into
 * 512). A leaf is found by its input address for removal.
 *
 * What the index cannot see: descriptors written into the table's memory by anything but the
 * table (a raw write). The graph checks every leaf it reports against memory (its descriptor is
 * read for the path anyway) and rebuilds a table's index when one differs; a leaf added behind
 * the table's back is seen after {@link ReverseIndexes.rescan}.
 */
import type { Disposable } from "../../base/lifetime.js";
import type { AnyPageTable } from "../../mmu/page-table.js";
import { walkRoot } from "../../mmu/tree-walk.js";

/** A leaf as the index keeps it. */
export interface IndexedLeaf {
  readonly va: number;
  readonly size: number;
  readonly pa: number;
  readonly levelIndex: number;
  readonly level: number;
  readonly lo: number;
  readonly hi: number;
}

const BUCKET = 2 * 1024 * 1024;

export class TableIndex {
  private readonly buckets = new Map<number, Set<IndexedLeaf>>();
  private readonly byVa = new Map<number, IndexedLeaf>();
  private readonly sub: Disposable;

  constructor(readonly table: AnyPageTable) {
    this.sub = table.onChange((changes) => {
      for (const c of changes) {
        if (c.before !== null) this.remove(c.va);
        if (c.after !== null)
          this.add({
            va: c.va,
            size: c.size,
            pa: c.after.pa,
            levelIndex: c.levelIndex,
            level: c.level,
            lo: c.after.lo,
            hi: c.after.hi,
          });
      }
    });
    this.fill();
  }

  /** Walk the table once and index every leaf. */
  private fill(): void {
    walkRoot(
      { format: this.table.format, memory: this.table.memory, root: this.table.root },
      {
        leaf: (l) =>
          this.add({
            va: l.va,
            size: l.size,
            pa: l.pa,
            levelIndex: l.levelIndex,
            level: l.level,
            lo: l.lo,
            hi: l.hi,
          }),
      },
    );
  }

  /** Forget everything and walk again (after a raw write was detected). */
  rebuild(): void {
    this.buckets.clear();
    this.byVa.clear();
    this.fill();
  }

  private add(l: IndexedLeaf): void {
    this.byVa.set(l.va, l);
    const first = Math.floor(l.pa / BUCKET);
    const last = Math.floor((l.pa + l.size - 1) / BUCKET);
    for (let b = first; b <= last; b++) {
      let set = this.buckets.get(b);
      if (set === undefined) this.buckets.set(b, (set = new Set()));
      set.add(l);
    }
  }

  private remove(va: number): void {
    const l = this.byVa.get(va);
    if (l === undefined) return;
    this.byVa.delete(va);
    const first = Math.floor(l.pa / BUCKET);
    const last = Math.floor((l.pa + l.size - 1) / BUCKET);
    for (let b = first; b <= last; b++) {
      // An emptied bucket stays: the next leaf there (a re-map) reuses it.
      this.buckets.get(b)!.delete(l);
    }
  }

  /** The leaves whose output meets `[start, end)`, ordered by input address. */
  leavesIn(start: number, end: number): IndexedLeaf[] {
    const out = new Set<IndexedLeaf>();
    const first = Math.floor(start / BUCKET);
    const last = Math.floor((end - 1) / BUCKET);
    if (last - first > this.buckets.size) {
      // (Empty buckets are kept, so this is a bound, not a count of leaves.)
      // A range wider than the table's memory: every bucket.
      for (const list of this.buckets.values())
        for (const l of list) if (l.pa < end && start < l.pa + l.size) out.add(l);
    } else
      for (let b = first; b <= last; b++)
        for (const l of this.buckets.get(b) ?? [])
          if (l.pa < end && start < l.pa + l.size) out.add(l);
    return [...out].sort((a, b) => a.va - b.va);
  }

  /** Leaves indexed. */
  get size(): number {
    return this.byVa.size;
  }

  dispose(): void {
    this.sub.dispose();
  }
}

/** The indexes of a platform's tables, made on first use (see the file's comment). */
export class ReverseIndexes {
  private readonly byTable = new Map<AnyPageTable, TableIndex>();

  /** The index of `table`, built now if it has none; undefined for a destroyed table. */
  of(table: AnyPageTable): TableIndex | undefined {
    let ix = this.byTable.get(table);
    if (!table.live) {
      if (ix !== undefined) {
        ix.dispose();
        this.byTable.delete(table);
      }
      return undefined;
    }
    if (ix === undefined) this.byTable.set(table, (ix = new TableIndex(table)));
    return ix;
  }

  /** Walk every indexed table again (after descriptors were written behind the tables' backs). */
  rescan(): void {
    for (const [t, ix] of this.byTable)
      if (t.live) ix.rebuild();
      else {
        ix.dispose();
        this.byTable.delete(t);
      }
  }

  /** Tables indexed now. */
  get size(): number {
    return this.byTable.size;
  }
}
