/**
 * Every table page of a {@link PhysTableMemory} in one typed array, the slab, which the byte
 * store serves as those pages (`ByteStore.adoptPage`): other bus masters, dumps and the store's
 * own reads see the very same descriptors, and the walk reads a descriptor as one load from
 * one array at an integer index (`slot * 1024 + word`), with no page lookup or view object.
 *
 * A slot is one 4 KiB table page; `slotOf` maps each page of the table memory's physical span
 * to its slot + 1 (0: not a table page), so a walk finds a table's slot with one load. The slab
 * grows by doubling: the contents are copied and every page is adopted again from the new
 * array (the store's view epoch moves, so cached views are dropped). Growth only happens when a
 * table is allocated, never during a walk.
 */
import type { ByteStore } from "../phys/byte-store.js";
import { STORE_PAGE_SIZE } from "../phys/byte-store.js";

/** The largest physical span a slab indexes (2^24 pages = 64 GiB): beyond it, no slab. */
export const SLAB_MAX_SPAN_PAGES = 1 << 24;

const WORDS = STORE_PAGE_SIZE / 4;
const FIRST_SLOTS = 16;

export class TableSlab {
  /** Every slot's 1024 words: slot `s` is `words[s * 1024 .. s * 1024 + 1023]`. */
  words: Uint32Array;
  /** `base` and `span` in pages. */
  readonly basePfn: number;
  readonly spanPages: number;
  /** Per page of `[base, base + span)`: its slot + 1, or 0. */
  readonly slotOf: Int32Array;
  private bytes: Uint8Array;
  private paOfSlot: Float64Array;
  private readonly freeSlots: number[] = [];
  private used = 0;

  constructor(
    private readonly store: ByteStore,
    /** The first physical address the slab indexes (page-aligned). */
    readonly base: number,
    /** Bytes of physical address space indexed (a multiple of 4 KiB). */
    readonly span: number,
  ) {
    this.basePfn = base / STORE_PAGE_SIZE;
    this.spanPages = span / STORE_PAGE_SIZE;
    this.slotOf = new Int32Array(span / STORE_PAGE_SIZE);
    this.words = new Uint32Array(FIRST_SLOTS * WORDS);
    this.bytes = new Uint8Array(this.words.buffer);
    this.paOfSlot = new Float64Array(FIRST_SLOTS).fill(-1);
  }

  /** Make the page at `pa` a zeroed slab page, served by the store from the slab. */
  add(pa: number): void {
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      if (this.used === this.paOfSlot.length) this.grow();
      slot = this.used++;
    } else this.words.fill(0, slot * WORDS, slot * WORDS + WORDS);
    this.paOfSlot[slot] = pa;
    this.slotOf[(pa - this.base) / STORE_PAGE_SIZE] = slot + 1;
    this.adopt(slot, pa);
  }

  /**
   * The page at `pa` is no longer a table page: its slot is free (the caller releases the page
   * in the store, which then forgets the slab's memory for it).
   */
  remove(pa: number): void {
    const i = (pa - this.base) / STORE_PAGE_SIZE;
    const slot = this.slotOf[i]! - 1;
    if (slot < 0) return;
    this.slotOf[i] = 0;
    this.paOfSlot[slot] = -1;
    this.freeSlots.push(slot);
  }

  private adopt(slot: number, pa: number): void {
    const at = slot * STORE_PAGE_SIZE;
    this.store.adoptPage(
      pa,
      this.bytes.subarray(at, at + STORE_PAGE_SIZE),
      this.words.subarray(slot * WORDS, slot * WORDS + WORDS),
    );
  }

  /** Double the slab: copy it and let the store serve every page from the new array. */
  private grow(): void {
    const slots = this.paOfSlot.length * 2;
    const words = new Uint32Array(slots * WORDS);
    words.set(this.words);
    const paOfSlot = new Float64Array(slots).fill(-1);
    paOfSlot.set(this.paOfSlot);
    this.words = words;
    this.bytes = new Uint8Array(words.buffer);
    this.paOfSlot = paOfSlot;
    for (let s = 0; s < this.used; s++) {
      const pa = paOfSlot[s]!;
      if (pa >= 0) this.adopt(s, pa);
    }
  }
}
