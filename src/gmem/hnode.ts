/**
 * Heterogeneous NUMA nodes (hNUMA, RFC patch 1; openEuler's gm_page and its lists): device
 * memory the core manages, registered by `gm_dev_register_physmem`.
 *
 * An hnode is a range of one device's local memory cut into frames of the policy's granularity
 * (2 MiB): each frame is a {@link GmPage} (openEuler's `gm_page`: its physical address, its
 * flags, the mapping it backs — the rmap — and the process). Frames are on exactly one of
 * - the free list (a stack: the most recently freed frame is reused first), or
 * - the active list, in LRU order: a frame is added at the tail when it starts backing a
 *   mapping, and moved to the tail by a WILLNEED or PINNED hint and by a MARK_HOT touch (and,
 *   under the `accessed` eviction order, by every access); eviction takes frames from the head.
 * Both lists are typed arrays indexed by frame: every operation is O(1).
 *
 * Invariant: a free frame holds no bytes (its data left by a move to the host, or was scrubbed
 * when it was freed without copy), so a frame taken from the free list is already zeroed.
 *
 * Statistics as openEuler keeps them: max_memsize, nr_freepages, nr_activepages.
 */
import type { Disposable } from "../base/lifetime.js";
import type { GmDev } from "./device.js";
import type { GmProcess } from "./process.js";
import { GM_PAGE_FLAG } from "./types.js";
import type { GmMapping } from "./vm-object.js";

/** A device page (openEuler's `struct gm_page`). */
export class GmPage {
  /** {@link GM_PAGE_FLAG} bits. */
  flags = 0;
  /** The mapping it backs (its rmap: `mapping.va` in `mm`), while active. */
  mapping: GmMapping | undefined = undefined;
  mm: GmProcess | undefined = undefined;
  /** Its own platform-graph label (`pageLabels: "page"`), while it backs a mapping. */
  label: Disposable | undefined = undefined;
  /** The address space whose hnode-wide label counts it (`pageLabels: "hnode"`). */
  labelOwner: string | undefined = undefined;

  constructor(
    readonly hnode: Hnode,
    /** The frame's index in its hnode. */
    readonly index: number,
    readonly pa: number,
  ) {}

  get evicting(): boolean {
    return (this.flags & GM_PAGE_FLAG.EVICTING) !== 0;
  }
}

/** openEuler's per-hnode statistics. */
export interface HnodeStats {
  /** Bytes the hnode manages. */
  maxMemsize: number;
  nrFreePages: number;
  nrActivePages: number;
}

const NONE = -1;
const ON_NOTHING = 0;
const ON_FREE = 1;
const ON_ACTIVE = 2;

/** `struct hnode`: one device's registered memory, its free and active lists. */
export class Hnode {
  readonly pages: readonly GmPage[];
  private readonly free: Int32Array;
  private freeTop = 0;
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly on: Uint8Array;
  private head = NONE;
  private tail = NONE;
  private active = 0;
  /** Its platform-graph label, while registered. */
  label: Disposable | undefined = undefined;
  /** Per address space with pages here: its label over the hnode and how many pages it has. */
  readonly ownerLabels = new Map<string, { label: Disposable; pages: number }>();

  constructor(
    readonly id: number,
    readonly dev: GmDev,
    /** The managed range `[base, end)`, aligned to `pageSize`. */
    readonly base: number,
    readonly end: number,
    readonly pageSize: number,
  ) {
    const n = (end - base) / pageSize;
    this.pages = Array.from({ length: n }, (_, i) => new GmPage(this, i, base + i * pageSize));
    this.free = new Int32Array(n);
    this.next = new Int32Array(n).fill(NONE);
    this.prev = new Int32Array(n).fill(NONE);
    this.on = new Uint8Array(n).fill(ON_FREE);
    // Lowest address on top: the first allocations are the frames at the base.
    for (let i = 0; i < n; i++) this.free[i] = n - 1 - i;
    this.freeTop = n;
  }

  /** Frames in all. */
  get size(): number {
    return this.pages.length;
  }

  get nrFreePages(): number {
    return this.freeTop;
  }

  get nrActivePages(): number {
    return this.active;
  }

  stats(): HnodeStats {
    return {
      maxMemsize: this.size * this.pageSize,
      nrFreePages: this.freeTop,
      nrActivePages: this.active,
    };
  }

  /** The frame at physical address `pa` (anywhere in it), or undefined. */
  pageAt(pa: number): GmPage | undefined {
    if (pa < this.base || pa >= this.end) return undefined;
    return this.pages[Math.floor((pa - this.base) / this.pageSize)];
  }

  /** Take a frame off the free list (not yet on the active list), or undefined if none. */
  allocFree(): GmPage | undefined {
    if (this.freeTop === 0) return undefined;
    const i = this.free[--this.freeTop]!;
    this.on[i] = ON_NOTHING;
    return this.pages[i];
  }

  /** Put a frame that is on no list back on the free list (its bytes must be gone). */
  release(page: GmPage): void {
    const i = page.index;
    if (this.on[i] === ON_ACTIVE) this.unlink(i);
    if (this.on[i] === ON_FREE) return;
    this.free[this.freeTop++] = i;
    this.on[i] = ON_FREE;
    page.flags = 0;
    page.mapping = undefined;
    page.mm = undefined;
  }

  /** Add a frame at the tail of the active list ("add at tail"). */
  addActive(page: GmPage): void {
    const i = page.index;
    if (this.on[i] === ON_ACTIVE) this.unlink(i);
    this.prev[i] = this.tail;
    this.next[i] = NONE;
    if (this.tail !== NONE) this.next[this.tail] = i;
    else this.head = i;
    this.tail = i;
    this.on[i] = ON_ACTIVE;
    this.active++;
  }

  /** Move an active frame to the tail (a touch); a frame on no active list is left alone. */
  touch(page: GmPage): void {
    const i = page.index;
    if (this.on[i] !== ON_ACTIVE || this.tail === i) return;
    this.unlink(i);
    this.addActive(page);
  }

  isActive(page: GmPage): boolean {
    return this.on[page.index] === ON_ACTIVE;
  }

  isFree(page: GmPage): boolean {
    return this.on[page.index] === ON_FREE;
  }

  /** The head of the active list (the next victim), or undefined. */
  first(): GmPage | undefined {
    return this.head === NONE ? undefined : this.pages[this.head];
  }

  /** The frame after `page` on the active list, or undefined. */
  after(page: GmPage): GmPage | undefined {
    const n = this.next[page.index]!;
    return n === NONE ? undefined : this.pages[n];
  }

  /** The active list from head to tail (for tests and dumps). */
  activeList(): GmPage[] {
    const out: GmPage[] = [];
    for (let p = this.first(); p !== undefined; p = this.after(p)) out.push(p);
    return out;
  }

  /** The free list from the next frame handed out on (for tests and dumps). */
  freeList(): GmPage[] {
    const out: GmPage[] = [];
    for (let k = this.freeTop - 1; k >= 0; k--) out.push(this.pages[this.free[k]!]!);
    return out;
  }

  private unlink(i: number): void {
    const p = this.prev[i]!;
    const n = this.next[i]!;
    if (p !== NONE) this.next[p] = n;
    else this.head = n;
    if (n !== NONE) this.prev[n] = p;
    else this.tail = p;
    this.prev[i] = this.next[i] = NONE;
    this.on[i] = ON_NOTHING;
    this.active--;
  }
}
