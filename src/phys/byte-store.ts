/**
 * The sparse byte store: the contents of simulated physical memory.
 *
 * Memory is kept in 4 KiB pages that materialize on first write; a page never written reads as
 * zeros and costs nothing. Reads, writes, fills and copies may cross page boundaries. Page-table
 * code gets a fast view of one page (a `Uint32Array` of its 1024 words, or the bytes) through
 * {@link ByteStore.pageWords}, so a descriptor access is a map lookup and an array load.
 *
 * The store knows nothing of regions or their kinds: {@link Platform} checks those. Addresses
 * are physical page-granular numbers below 2^53; the store does not range-check on hot paths.
 *
 * Multi-byte values are little-endian, as on every Arm and x86 system the model describes.
 *
 * @example
 * const store = new ByteStore();
 * store.writeU32(0x8000_0ffe, 0xdeadbeef);      // crosses a page boundary
 * store.readU32(0x8000_0ffe) === 0xdeadbeef;
 * store.materializedPages === 2;
 */
import type { PhysAddr } from "../base/address.js";
import {
  checkAddress,
  checkBuffer,
  checkBytes,
  checkInteger,
  checkLength,
} from "../base/validate.js";

export const STORE_PAGE_SHIFT = 12;
export const STORE_PAGE_SIZE = 1 << STORE_PAGE_SHIFT;

// Typed arrays use the host's byte order; the model's memory is little-endian.
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Entries of the cache of page lookups at first; it grows with the pages held. */
const PAGE_CACHE = 4096;
/** The most entries the page cache grows to (64Ki: 256 MiB of pages looked up directly). */
const PAGE_CACHE_MAX = 65536;

/** Entries of the cache of page-word views. */
const WORD_CACHE = 4096;

/**
 * Pages per directory: 512 pages = 2 MiB of physical address space, the size of a huge page, so
 * that moving or discarding an aligned 2 MiB page can hand over or drop a whole directory.
 */
const DIR_PAGES = 512;

/** Pages per slab: 64 pages = 256 KiB per ArrayBuffer (see `newPage`). */
const SLAB_PAGES = 64;

/** Dropped pages kept for reuse at most: 1024 pages = 4 MiB. */
const MAX_SPARES = 1024;

/** What {@link ByteStore.movePages} reads for a directory that does not exist (never written). */
const NO_PAGES = new Array<Uint8Array | undefined>(DIR_PAGES);

/** One 2 MiB slice of the address space: its pages, and the word views handed out. */
class Directory {
  readonly pages: Array<Uint8Array | undefined> = new Array<Uint8Array | undefined>(DIR_PAGES);
  readonly words: Array<Uint32Array | undefined> = new Array<Uint32Array | undefined>(DIR_PAGES);
  /** Pages present. */
  count = 0;
  /** Word views handed out (pages pinned). */
  views = 0;
}

export class ByteStore {
  // Pages live in directories of 2 MiB, found through a map with a one-entry cache: page-table
  // pages and the data of one buffer cluster in a few directories, so most lookups are a
  // comparison and an array load rather than a hash lookup.
  private readonly dirs = new Map<number, Directory>();
  private lastDirKey = -1;
  private lastDir: Directory | undefined = undefined;
  private pageCount = 0;
  // A direct-mapped cache of page lookups, present or absent (a dropped page leaves it).
  // It grows (x4, up to PAGE_CACHE_MAX) when the pages held outnumber its entries, so that the
  // pages a workload touches at random stay one probe away.
  private pageCacheKeys = new Float64Array(PAGE_CACHE).fill(-1);
  private pageCacheVals = new Array<Uint8Array | undefined>(PAGE_CACHE).fill(undefined);
  private pageCacheMask = PAGE_CACHE - 1;
  // Views handed out stay valid until release() takes their page back (it clears its slot).
  private readonly wordCacheKeys = new Float64Array(WORD_CACHE).fill(-1);
  private readonly wordCacheViews = new Array<Uint32Array | undefined>(WORD_CACHE).fill(undefined);

  constructor() {
    if (!HOST_LITTLE_ENDIAN) throw new Error("memweave needs a little-endian host");
  }

  /** How many 4 KiB pages hold written data. */
  get materializedPages(): number {
    return this.pageCount;
  }

  /** True if the page holding `pa` has been written. */
  isMaterialized(pa: number): boolean {
    return this.pageForRead(Math.floor(pa / STORE_PAGE_SIZE)) !== undefined;
  }

  /** The page numbers that hold data, ascending. */
  materializedPfns(): number[] {
    const out: number[] = [];
    for (const [key, dir] of this.dirs)
      dir.pages.forEach((p, i) => {
        if (p !== undefined) out.push(key * DIR_PAGES + i);
      });
    return out.sort((a, b) => a - b);
  }

  private dirOf(pfn: number, create: boolean): Directory | undefined {
    const key = Math.floor(pfn / DIR_PAGES);
    if (key === this.lastDirKey) return this.lastDir;
    let dir = this.dirs.get(key);
    if (dir === undefined) {
      if (!create) return undefined;
      dir = new Directory();
      this.dirs.set(key, dir);
    }
    this.lastDirKey = key;
    this.lastDir = dir;
    return dir;
  }

  private pageForRead(pfn: number): Uint8Array | undefined {
    const slot = pfn & this.pageCacheMask;
    if (this.pageCacheKeys[slot] === pfn) return this.pageCacheVals[slot];
    const dir = this.dirOf(pfn, false);
    const page = dir === undefined ? undefined : dir.pages[pfn - this.lastDirKey * DIR_PAGES];
    // Absent pages are cached too: every page is created through pageForWrite, which updates
    // the slot, and dropPage clears it.
    this.pageCacheKeys[slot] = pfn;
    this.pageCacheVals[slot] = page;
    return page;
  }

  /** Four times the entries, empty (every lookup misses once more). */
  private growPageCache(): void {
    const n = (this.pageCacheMask + 1) * 4;
    this.pageCacheKeys = new Float64Array(n).fill(-1);
    this.pageCacheVals = new Array<Uint8Array | undefined>(n).fill(undefined);
    this.pageCacheMask = n - 1;
  }

  private pageForWrite(pfn: number): Uint8Array {
    const slot = pfn & this.pageCacheMask;
    if (this.pageCacheKeys[slot] === pfn) {
      const cached = this.pageCacheVals[slot];
      if (cached !== undefined) return cached;
    }
    const dir = this.dirOf(pfn, true)!;
    const i = pfn - this.lastDirKey * DIR_PAGES;
    let page = dir.pages[i];
    if (page === undefined) {
      page = this.newPage();
      dir.pages[i] = page;
      dir.count++;
      if (++this.pageCount > this.pageCacheMask + 1 && this.pageCacheMask + 1 < PAGE_CACHE_MAX)
        this.growPageCache();
    }
    this.pageCacheKeys[slot] = pfn;
    this.pageCacheVals[slot] = page;
    return page;
  }

  /**
   * The 1024 little-endian 32-bit words of the page at `pa` (page-aligned), materializing it.
   * Page-table code reads and writes 64-bit descriptors through it as two halves. The view stays
   * valid (a zero fill does not drop the page) until {@link release} gives the page back.
   */
  pageWords(pa: PhysAddr | number): Uint32Array {
    const pfn = Math.floor(pa / STORE_PAGE_SIZE);
    // A direct-mapped cache of views: a walk touches a few table pages over and over.
    const slot = pfn & (WORD_CACHE - 1);
    if (this.wordCacheKeys[slot] === pfn) return this.wordCacheViews[slot]!;
    const view = this.makeWords(pfn);
    this.wordCacheKeys[slot] = pfn;
    this.wordCacheViews[slot] = view;
    return view;
  }

  private makeWords(pfn: number): Uint32Array {
    const page = this.pageForWrite(pfn);
    const dir = this.lastDir!;
    const i = pfn - this.lastDirKey * DIR_PAGES;
    let view = dir.words[i];
    if (view === undefined) {
      view = new Uint32Array(page.buffer, page.byteOffset, STORE_PAGE_SIZE / 4);
      dir.words[i] = view;
      dir.views++;
    }
    return view;
  }

  private isPinned(pfn: number): boolean {
    const dir = this.dirOf(pfn, false);
    return dir !== undefined && dir.words[pfn - this.lastDirKey * DIR_PAGES] !== undefined;
  }

  /**
   * The bytes of the page at `pa`, materializing it; like {@link pageWords}, the page then stays
   * (a zero fill does not drop it), so the view stays valid.
   */
  pageBytes(pa: PhysAddr | number): Uint8Array {
    this.pageWords(pa);
    return this.pageForWrite(Math.floor(pa / STORE_PAGE_SIZE));
  }

  /** Read `out.length` bytes at `pa` into `out`; returns `out`. */
  read(pa: PhysAddr | number, out: Uint8Array): Uint8Array {
    if (!(Number.isSafeInteger(pa) && pa >= 0 && out instanceof Uint8Array)) {
      checkAddress("read", "pa", pa);
      checkBuffer("read", "out", out);
    }
    const len = out.length;
    // Floor and multiply rather than `%`: on addresses above 2^31 `%` is a slow fmod.
    const pfn = Math.floor(pa / STORE_PAGE_SIZE);
    const off = pa - pfn * STORE_PAGE_SIZE;
    if (off + len <= STORE_PAGE_SIZE && len <= 16) {
      // Fast path: a small access within one page (descriptors, registers, scalars).
      const page = this.pageForRead(pfn);
      if (page === undefined) for (let i = 0; i < len; i++) out[i] = 0;
      else for (let i = 0; i < len; i++) out[i] = page[off + i]!;
      return out;
    }
    let done = 0;
    let addr = pa;
    while (done < len) {
      const p = Math.floor(addr / STORE_PAGE_SIZE);
      const o = addr - p * STORE_PAGE_SIZE;
      const n = Math.min(len - done, STORE_PAGE_SIZE - o);
      const page = this.pageForRead(p);
      if (page === undefined) out.fill(0, done, done + n);
      else if (n <= 16) for (let i = 0; i < n; i++) out[done + i] = page[o + i]!;
      else out.set(page.subarray(o, o + n), done);
      done += n;
      addr += n;
    }
    return out;
  }

  /** Write `data` at `pa`. */
  write(pa: PhysAddr | number, data: Uint8Array): void {
    if (!(Number.isSafeInteger(pa) && pa >= 0 && data instanceof Uint8Array)) {
      checkAddress("write", "pa", pa);
      data = checkBytes("write", "data", data);
    }
    const len = data.length;
    if (len === 0) return; // else the fast path below would materialize a page
    const pfn = Math.floor(pa / STORE_PAGE_SIZE);
    const off = pa - pfn * STORE_PAGE_SIZE;
    if (off + len <= STORE_PAGE_SIZE && len <= 16) {
      const page = this.pageForWrite(pfn);
      for (let i = 0; i < len; i++) page[off + i] = data[i]!;
      return;
    }
    let done = 0;
    let addr = pa;
    while (done < len) {
      const p = Math.floor(addr / STORE_PAGE_SIZE);
      const o = addr - p * STORE_PAGE_SIZE;
      const n = Math.min(len - done, STORE_PAGE_SIZE - o);
      const page = this.pageForWrite(p);
      if (n <= 16) for (let i = 0; i < n; i++) page[o + i] = data[done + i]!;
      else page.set(data.subarray(done, done + n), o);
      done += n;
      addr += n;
    }
  }

  /**
   * Set `size` bytes at `pa` to `value`. Filling whole unwritten pages with zero leaves them
   * unmaterialized; filling a whole page with zero drops it, so zeroing memory returns it —
   * except a page handed out by {@link pageWords} or {@link pageBytes}, which stays so that its
   * view stays valid.
   */
  fill(pa: PhysAddr | number, size: number, value: number): void {
    checkAddress("fill", "pa", pa);
    checkLength("fill", "size", size);
    // As memset: any integer, of which the low byte counts.
    checkInteger("fill", "value", value, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    let done = 0;
    let addr = pa;
    const byte = value & 0xff;
    while (done < size) {
      const pfn = Math.floor(addr / STORE_PAGE_SIZE);
      const off = addr - pfn * STORE_PAGE_SIZE;
      const n = Math.min(size - done, STORE_PAGE_SIZE - off);
      if (byte === 0 && n === STORE_PAGE_SIZE && !this.isPinned(pfn)) this.dropPage(pfn, true);
      else if (byte !== 0 || this.pageForRead(pfn) !== undefined)
        this.pageForWrite(pfn).fill(byte, off, off + n);
      done += n;
      addr += n;
    }
  }

  /** Copy `size` bytes from `src` to `dst`; overlapping ranges copy as memmove does. */
  copy(dst: PhysAddr | number, src: PhysAddr | number, size: number): void {
    checkAddress("copy", "dst", dst);
    checkAddress("copy", "src", src);
    checkLength("copy", "size", size);
    if (size === 0 || dst === src) return;
    // Stage through a buffer in chunks: correct for overlap in either direction.
    const CHUNK = 64 * 1024;
    if (dst < src || dst >= src + size) {
      for (let done = 0; done < size; done += CHUNK) {
        const n = Math.min(CHUNK, size - done);
        this.copyChunk(dst + done, src + done, n);
      }
    } else {
      for (let end = size; end > 0; end -= CHUNK) {
        const n = Math.min(CHUNK, end);
        this.copyChunk(dst + end - n, src + end - n, n);
      }
    }
  }

  private copyChunk(dst: number, src: number, n: number): void {
    // Copying unwritten source pages onto unwritten destination pages keeps both sparse.
    const buf = this.read(src, new Uint8Array(n));
    let allZero = true;
    for (let i = 0; i < n; i++)
      if (buf[i] !== 0) {
        allZero = false;
        break;
      }
    if (allZero) this.fill(dst, n, 0);
    else this.write(dst, buf);
  }

  /**
   * Move the contents of `[src, src+size)` to `[dst, dst+size)` (page-aligned, not overlapping):
   * afterwards the destination reads as the source did and the source reads as zeros. Written
   * pages change hands instead of being copied (a reference moves between directories), and 2 MiB
   * stretches unwritten on both sides are skipped whole. An aligned 2 MiB stretch whose pages have
   * no views hands its whole directory over (the destination's is dropped): moving a 2 MiB page
   * costs well under a microsecond however much of it was written. Elsewhere a move costs a few
   * nanoseconds per written 4 KiB page. A page handed out by {@link pageWords} or
   * {@link pageBytes}, on either side, keeps its view: its bytes are copied (or zeroed) instead.
   */
  movePages(dst: PhysAddr | number, src: PhysAddr | number, size: number): void {
    this.pageEpochValue++; // pages change hands: cached page references are stale
    const n = size / STORE_PAGE_SIZE;
    const sp = Math.floor(src / STORE_PAGE_SIZE);
    const dp = Math.floor(dst / STORE_PAGE_SIZE);
    let keys = this.pageCacheKeys;
    for (let i = 0; i < n;) {
      const sKey = Math.floor((sp + i) / DIR_PAGES);
      const dKey = Math.floor((dp + i) / DIR_PAGES);
      const si = sp + i - sKey * DIR_PAGES;
      const di = dp + i - dKey * DIR_PAGES;
      const run = Math.min(n - i, DIR_PAGES - si, DIR_PAGES - di);
      let sDir = this.dirs.get(sKey);
      let dDir = this.dirs.get(dKey);
      i += run;
      if (sDir === undefined && dDir === undefined) continue;
      if (
        run === DIR_PAGES &&
        (sDir === undefined || sDir.views === 0) &&
        (dDir === undefined || dDir.views === 0)
      ) {
        this.handOver(dKey, sKey, sDir, dDir);
        continue;
      }
      // A missing directory reads as NO_PAGES: one loop, no branches on it.
      let sPages = sDir?.pages ?? NO_PAGES;
      let dPages = dDir?.pages ?? NO_PAGES;
      for (let j = 0; j < run; j++) {
        const page = sPages[si + j];
        const old = dPages[di + j];
        if (page === undefined && old === undefined) continue;
        const spfn = sp + i - run + j;
        const dpfn = dp + i - run + j;
        if (sDir?.words[si + j] !== undefined || dDir?.words[di + j] !== undefined) {
          this.movePage(dpfn, spfn);
          keys = this.pageCacheKeys; // it may have grown
          sDir = this.dirs.get(sKey);
          dDir = this.dirs.get(dKey);
          sPages = sDir?.pages ?? NO_PAGES;
          dPages = dDir?.pages ?? NO_PAGES;
          continue;
        }
        // The page cache forgets both pages (it caches absent pages too).
        let slot = dpfn & this.pageCacheMask;
        if (keys[slot] === dpfn) keys[slot] = -1;
        if (old !== undefined) {
          dPages[di + j] = undefined;
          dDir!.count--;
          this.pageCount--;
          if (page === undefined) continue;
        }
        slot = spfn & this.pageCacheMask;
        if (keys[slot] === spfn) keys[slot] = -1;
        sPages[si + j] = undefined;
        sDir!.count--;
        if (dDir === undefined) {
          dDir = new Directory();
          this.dirs.set(dKey, dDir);
          dPages = dDir.pages;
        }
        dPages[di + j] = page;
        dDir.count++;
      }
      if (sDir !== undefined && sDir.count === 0) this.dropDir(sKey);
      if (dDir !== undefined && dDir.count === 0) this.dropDir(dKey);
    }
  }

  /**
   * {@link movePages} of a whole directory without views: `sDir` becomes directory `dKey` (or
   * `dKey` goes, when the source has none); the destination's old pages are dropped.
   */
  private handOver(
    dKey: number,
    sKey: number,
    sDir: Directory | undefined,
    dDir: Directory | undefined,
  ): void {
    if (dDir !== undefined) {
      this.pageCount -= dDir.count;
      this.dropDir(dKey);
    }
    if (sDir !== undefined) {
      this.dropDir(sKey);
      this.dirs.set(dKey, sDir);
    }
    this.forgetPages(sKey * DIR_PAGES, DIR_PAGES);
    this.forgetPages(dKey * DIR_PAGES, DIR_PAGES);
  }

  /**
   * The page cache forgets `[pfn, pfn + n)` (present or absent): the keys of the slots those pages
   * map to are cleared with a block fill, whichever pages the slots hold (a cache may forget more
   * than it must). Their values stay until the slots are reused: a slot's value is only read when
   * its key matches, and at most as many pages as it has entries are kept alive that way.
   */
  private forgetPages(pfn: number, n: number): void {
    const keys = this.pageCacheKeys;
    if (n > this.pageCacheMask) {
      keys.fill(-1);
      return;
    }
    const first = pfn & this.pageCacheMask;
    const end = Math.min(first + n, this.pageCacheMask + 1);
    keys.fill(-1, first, end);
    if (first + n > end) keys.fill(-1, 0, first + n - end);
  }

  /** Forget an empty directory. */
  private dropDir(key: number): void {
    this.pageEpochValue++;
    this.dirs.delete(key);
    if (this.lastDirKey === key) {
      this.lastDirKey = -1;
      this.lastDir = undefined;
    }
  }

  /** {@link movePages} of one page with a view on either side: copied (or zeroed) instead. */
  private movePage(dpfn: number, spfn: number): void {
    const page = this.pageForRead(spfn);
    if (page === undefined) this.fill(dpfn * STORE_PAGE_SIZE, STORE_PAGE_SIZE, 0);
    else {
      this.pageForWrite(dpfn).set(page);
      this.fill(spfn * STORE_PAGE_SIZE, STORE_PAGE_SIZE, 0);
    }
  }

  readU8(pa: number): number {
    if (!(Number.isSafeInteger(pa) && pa >= 0)) checkAddress("readU8", "pa", pa);
    const pfn = Math.floor(pa / STORE_PAGE_SIZE);
    const page = this.pageForRead(pfn);
    return page === undefined ? 0 : page[pa - pfn * STORE_PAGE_SIZE]!;
  }

  writeU8(pa: number, value: number): void {
    if (!(Number.isSafeInteger(pa) && pa >= 0)) checkAddress("writeU8", "pa", pa);
    if (!(value >= 0 && value <= 255 && Number.isInteger(value)))
      checkInteger("writeU8", "value", value, 0, 255);
    const pfn = Math.floor(pa / STORE_PAGE_SIZE);
    this.pageForWrite(pfn)[pa - pfn * STORE_PAGE_SIZE] = value;
  }

  /** A little-endian 32-bit read; may cross a page boundary. */
  readU32(pa: number): number {
    if (!(Number.isSafeInteger(pa) && pa >= 0)) checkAddress("readU32", "pa", pa);
    const pfn = Math.floor(pa / STORE_PAGE_SIZE);
    const off = pa - pfn * STORE_PAGE_SIZE;
    if (off <= STORE_PAGE_SIZE - 4) {
      const page = this.pageForRead(pfn);
      if (page === undefined) return 0;
      return (
        (page[off]! | (page[off + 1]! << 8) | (page[off + 2]! << 16) | (page[off + 3]! << 24)) >>> 0
      );
    }
    return (
      (this.readU8(pa) |
        (this.readU8(pa + 1) << 8) |
        (this.readU8(pa + 2) << 16) |
        (this.readU8(pa + 3) << 24)) >>>
      0
    );
  }

  /** A little-endian 32-bit write; may cross a page boundary. */
  writeU32(pa: number, value: number): void {
    if (!(Number.isSafeInteger(pa) && pa >= 0)) checkAddress("writeU32", "pa", pa);
    if (!(value >= 0 && value <= 0xffff_ffff && Number.isInteger(value)))
      checkInteger("writeU32", "value", value, 0, 0xffff_ffff);
    const pfn = Math.floor(pa / STORE_PAGE_SIZE);
    const off = pa - pfn * STORE_PAGE_SIZE;
    if (off <= STORE_PAGE_SIZE - 4) {
      const page = this.pageForWrite(pfn);
      page[off] = value;
      page[off + 1] = value >>> 8;
      page[off + 2] = value >>> 16;
      page[off + 3] = value >>> 24;
      return;
    }
    for (let i = 0; i < 4; i++) this.writeU8(pa + i, (value >>> (8 * i)) & 0xff);
  }

  /** A little-endian 64-bit read as a number; throws RangeError if the value is >= 2^53. */
  readU64(pa: number): number {
    if (!(Number.isSafeInteger(pa) && pa >= 0)) checkAddress("readU64", "pa", pa);
    const lo = this.readU32(pa);
    const hi = this.readU32(pa + 4);
    if (hi >= 0x20_0000) throw new RangeError(`u64 at ${pa} exceeds 2^53`);
    return hi * 0x1_0000_0000 + lo;
  }

  /** A little-endian 64-bit write of a safe integer. */
  writeU64(pa: number, value: number): void {
    if (!(Number.isSafeInteger(pa) && pa >= 0)) checkAddress("writeU64", "pa", pa);
    checkInteger("writeU64", "value", value, 0, Number.MAX_SAFE_INTEGER);
    this.writeU32(pa, value >>> 0);
    this.writeU32(pa + 4, Math.floor(value / 0x1_0000_0000) >>> 0);
  }

  /**
   * Forget the contents of every page in `[pa, pa+size)` (they read as zeros again). Directory by
   * directory: an unwritten 2 MiB stretch costs one lookup, a whole directory without views is
   * dropped at once, and only partly covered directories (or pages with views, which are zeroed
   * and kept) go page by page.
   */
  discard(pa: number, size: number): void {
    const startPfn = Math.ceil(pa / STORE_PAGE_SIZE);
    const endPfn = Math.floor((pa + size) / STORE_PAGE_SIZE);
    if (endPfn <= startPfn) return this.fill(pa, size, 0);
    // The partial pages at either end.
    const head = startPfn * STORE_PAGE_SIZE - pa;
    if (head > 0) this.fill(pa, head, 0);
    const tail = pa + size - endPfn * STORE_PAGE_SIZE;
    if (tail > 0) this.fill(endPfn * STORE_PAGE_SIZE, tail, 0);
    for (let pfn = startPfn; pfn < endPfn;) {
      const key = Math.floor(pfn / DIR_PAGES);
      const i = pfn - key * DIR_PAGES;
      const run = Math.min(endPfn - pfn, DIR_PAGES - i);
      const dir = this.dirs.get(key);
      if (dir !== undefined) {
        if (run === DIR_PAGES && dir.views === 0) {
          this.pageCount -= dir.count;
          this.dropDir(key);
          this.forgetPages(pfn, run);
        } else this.fill(pfn * STORE_PAGE_SIZE, run * STORE_PAGE_SIZE, 0);
      }
      pfn += run;
    }
  }

  /**
   * Moves whenever a page object stops holding the bytes of its address: a page is dropped
   * (zeroed whole, discarded, released), moved ({@link movePages}) or replaced
   * ({@link adoptPage}). Writes never move it. A cache of page references (a TLB entry that
   * keeps its host page, so a hit needs no lookup) is valid while this stays where it was.
   */
  get pageEpoch(): number {
    return this.pageEpochValue;
  }
  private pageEpochValue = 0;

  /**
   * The page at `pa` (page-aligned) if it has been written, else undefined; materializes
   * nothing. With {@link pageEpoch} it may be kept as a reference to the page's bytes.
   */
  peekPage(pa: number): Uint8Array | undefined {
    return this.pageForRead(Math.floor(pa / STORE_PAGE_SIZE));
  }

  /**
   * Serve the page at `pa` (page-aligned) from memory the caller owns: `bytes` (4 KiB) and
   * `words`, its view as 32-bit words, become the page and its word view, as if handed out by
   * {@link pageWords} (the page is pinned: a zero fill keeps it). What the page held before is
   * forgotten; views of it handed out before are no longer valid ({@link viewEpoch} moves).
   * Page-table memory keeps every table page in one typed array this way
   * (`PhysTableMemory`), and other bus masters still read the very same descriptors.
   */
  adoptPage(pa: number, bytes: Uint8Array, words: Uint32Array): void {
    const pfn = Math.floor(pa / STORE_PAGE_SIZE);
    const dir = this.dirOf(pfn, true)!;
    const i = pfn - this.lastDirKey * DIR_PAGES;
    if (dir.pages[i] === undefined) {
      dir.count++;
      this.pageCount++;
    } else this.pageEpochValue++;
    if (dir.words[i] === undefined) dir.views++;
    else this.epoch++;
    dir.pages[i] = bytes;
    dir.words[i] = words;
    const slot = pfn & this.pageCacheMask;
    this.pageCacheKeys[slot] = pfn;
    this.pageCacheVals[slot] = bytes;
    const wslot = pfn & (WORD_CACHE - 1);
    this.wordCacheKeys[wslot] = pfn;
    this.wordCacheViews[wslot] = words;
  }

  /**
   * Moves whenever {@link release} takes back a view handed out by {@link pageWords} or
   * {@link pageBytes}: whoever caches views checks it and drops them when it moved.
   */
  get viewEpoch(): number {
    return this.epoch;
  }
  private epoch = 0;

  /**
   * Give back the pages of `[pa, pa+size)` (page-aligned): their views are no longer valid
   * ({@link viewEpoch} moves) and their contents are forgotten (they read as zeros and cost
   * nothing). For memory that was pinned as page tables and has been freed.
   */
  release(pa: number, size: number): void {
    let unpinned = false;
    for (let addr = pa; addr < pa + size; addr += STORE_PAGE_SIZE) {
      const pfn = Math.floor(addr / STORE_PAGE_SIZE);
      const dir = this.dirOf(pfn, false);
      if (dir === undefined) continue;
      const i = pfn - this.lastDirKey * DIR_PAGES;
      if (dir.words[i] !== undefined) {
        dir.words[i] = undefined;
        dir.views--;
        unpinned = true;
      }
      const slot = pfn & (WORD_CACHE - 1);
      if (this.wordCacheKeys[slot] === pfn) {
        this.wordCacheKeys[slot] = -1;
        this.wordCacheViews[slot] = undefined;
      }
      this.dropPage(pfn);
    }
    if (unpinned) this.epoch++;
  }

  /** Pages whose word views are handed out (pinned), for leak checks. */
  get pinnedPages(): number {
    let n = 0;
    for (const dir of this.dirs.values()) for (const w of dir.words) if (w !== undefined) n++;
    return n;
  }

  /**
   * A zeroed page: a spare one (a page dropped earlier, zeroed now), else the next 4 KiB of the
   * current slab. Pages come from slabs of {@link SLAB_PAGES} (one ArrayBuffer each): a buffer per
   * page costs several microseconds of allocation and garbage-collector accounting, a view of a
   * slab a fraction of that. A slab's memory goes when none of its pages is referenced.
   */
  private newPage(): Uint8Array {
    const spare = this.spares.pop();
    if (spare !== undefined) return spare.fill(0);
    if (this.slabUsed === SLAB_PAGES) {
      this.slab = new ArrayBuffer(SLAB_PAGES * STORE_PAGE_SIZE);
      this.slabUsed = 0;
    }
    return new Uint8Array(this.slab, STORE_PAGE_SIZE * this.slabUsed++, STORE_PAGE_SIZE);
  }
  private slab = new ArrayBuffer(0);
  private slabUsed = SLAB_PAGES;
  /** Dropped pages kept for reuse (never one that had a view handed out), at most MAX_SPARES. */
  private readonly spares: Uint8Array[] = [];

  /** Forget page `pfn`; `recycle`: no view of it was ever handed out, so it may be reused. */
  private dropPage(pfn: number, recycle = false): void {
    const dir = this.dirOf(pfn, false);
    if (dir === undefined) return;
    const i = pfn - this.lastDirKey * DIR_PAGES;
    const page = dir.pages[i];
    if (page === undefined) return;
    this.pageEpochValue++;
    if (recycle && this.spares.length < MAX_SPARES) this.spares.push(page);
    dir.pages[i] = undefined;
    const slot = pfn & this.pageCacheMask;
    if (this.pageCacheKeys[slot] === pfn) {
      this.pageCacheKeys[slot] = -1;
      this.pageCacheVals[slot] = undefined;
    }
    dir.count--;
    this.pageCount--;
    if (dir.count === 0) {
      this.dirs.delete(this.lastDirKey);
      this.lastDirKey = -1;
      this.lastDir = undefined;
    }
  }

  /** Compare the bytes at `pa` with `expected`. */
  equals(pa: number, expected: Uint8Array): boolean {
    const got = this.read(pa, new Uint8Array(expected.length));
    for (let i = 0; i < got.length; i++) if (got[i] !== expected[i]) return false;
    return true;
  }
}
