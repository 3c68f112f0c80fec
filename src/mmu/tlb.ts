/**
 * A set-associative TLB model, tagged by ASID and VMID, caching the leaf size of each
 * translation.
 *
 * Real translation caches are small and set-associative: a Cortex-A53's main TLB holds 512
 * entries, 4-way (128 sets); QEMU's SMMU IOTLB holds 256 entries; an Arm MMU-600 has walk caches
 * of 256 entries per level. An entry caches one *leaf* translation: an input page of the leaf's
 * size (4K, 16K, 64K, 2M, 32M, 512M, 1G, ...), its output base, a permission mask, and the tags
 * that say which address space it belongs to: the ASID (stage 1 address space; a global entry,
 * nG = 0, matches every ASID) and the VMID (the VM, stage 2). The entry remembers the leaf size
 * because that is what makes large mappings pay: one 2M entry covers 512 4K pages, so a TLB of
 * 512 entries reaches 1 GiB of 2M mappings but only 2 MiB of 4K ones ("TLB reach").
 *
 * Lookup with several page sizes: the set index of an input address depends on the page size
 * (it is the low bits of the page number at that size), so a lookup probes one set per page size
 * present in the TLB, smallest first, skipping sizes no entry has (a count per size is kept).
 * An SMMU's contexts share one TLB by using distinct ASIDs / VMIDs.
 *
 * Representation: structure of typed arrays indexed by slot (`set * ways + way`); no objects per
 * entry, no Maps. Page numbers and output bases are doubles (exact below 2^53); a slot with a
 * size log2 of 0 is invalid (the smallest page is 4K, log2 12). A list of filled slots (as in
 * v86's TLB) makes invalidating a large, mostly empty TLB cost only its valid entries.
 *
 * Replacement: LRU (an age stamp per entry from a 32-bit clock, renumbered when it wraps), FIFO
 * (round robin: a per-set pointer names the next victim and moves only when it evicts; fills of
 * invalid ways and hits leave it, so without invalidations the victim is the oldest insertion),
 * or random (the seeded {@link Rng}, so runs are reproducible).
 *
 * Invalidation mirrors the TLBI / SMMU command vocabulary: all, by ASID (non-global entries of
 * one ASID in one VMID), by VMID, and by range (what the page-table code calls through its flush
 * interface). Walk and descriptor-read counters belong to the walker, not here.
 */
import { hexPad } from "../base/address.js";
import { isPowerOfTwo } from "../base/align.js";
import { fail } from "../base/errors.js";
import { Rng } from "../base/rng.js";
import { formatSizeShort } from "../base/size.js";
import { PERM } from "./prot.js";

/** Replacement policies. */
export type TlbReplacement = "lru" | "fifo" | "random";

export interface TlbOptions {
  /** Number of sets: a power of two >= 1 (1 = fully associative). */
  sets: number;
  /** Ways per set, >= 1 (1 = direct mapped). */
  ways: number;
  replacement: TlbReplacement;
  /** Seed of the random policy's generator (default 0). */
  seed?: number;
  /** For messages and dumps (default "tlb"). */
  name?: string;
}

export interface TlbStats {
  lookups: number;
  hits: number;
  misses: number;
  inserts: number;
  /** Valid entries displaced by the replacement policy (not counting same-tag replacement). */
  evictions: number;
  /** Invalidation calls. */
  invalidations: number;
  /** Entries those calls removed. */
  invalidatedEntries: number;
  /** Entries valid now. */
  valid: number;
}

/** One valid entry, for dumps and tests. */
export interface TlbEntry {
  /** Input page base, aligned to `size`. */
  va: number;
  /** Leaf (page or block) size in bytes. */
  size: number;
  /** Output base. */
  pa: number;
  /** {@link PERM} mask. */
  perm: number;
  asid: number;
  vmid: number;
  /** `perm & PERM.GLOBAL`: matches every ASID. */
  global: boolean;
  level: number;
  set: number;
  way: number;
}

/** The largest number of entries a TLB may have (2^20: the model's arrays stay ~40 MB). */
export const TLB_MAX_ENTRIES = 1 << 20;
/** The smallest and largest leaf size a TLB entry may cache (4K and 2^52). */
export const TLB_MIN_PAGE_LOG2 = 12;
export const TLB_MAX_PAGE_LOG2 = 52;

const POLICY_LRU = 0;
const POLICY_FIFO = 1;
const POLICIES: readonly TlbReplacement[] = ["lru", "fifo", "random"];

const GLOBAL = PERM.GLOBAL;
const CLOCK_MAX = 0xffff_ffff;

/** 2^k - 1 as an int32 mask, for k <= 31 (the offset within a page of 2^k in the low bits). */
const LOW_MASK = new Int32Array(32);
for (let k = 0; k < 32; k++) LOW_MASK[k] = k === 31 ? 0x7fff_ffff : (1 << k) - 1;

/** 2^k and 2^-k: dividing by a power of two is an exact multiplication. */
const POW2 = new Float64Array(64);
const INV_POW2 = new Float64Array(64);
for (let k = 0; k < 64; k++) {
  POW2[k] = 2 ** k;
  INV_POW2[k] = 2 ** -k;
}

export class Tlb {
  readonly name: string;
  readonly sets: number;
  readonly ways: number;
  /** sets * ways. */
  readonly capacity: number;
  readonly replacement: TlbReplacement;

  private readonly setMask: number;
  /** The largest page log2 whose set index lies in an address's low 32 bits. */
  private readonly lowBitsMax: number;
  private readonly policy: number;
  private readonly rng: Rng;

  // Per slot (set * ways + way).
  /** Input page number at the entry's size (va / size). */
  private readonly vpnOf: Float64Array;
  /** Input page base (vpn * size): a hit's offset is one subtraction. */
  private readonly baseOf: Float64Array;
  /** The tags as one number, vmid * 2^31 + asid: a hit compares one value. */
  private readonly keyOf: Float64Array;
  /** Output base. */
  private readonly paOf: Float64Array;
  /** log2 of the leaf size; 0 = invalid slot. */
  private readonly log2Of: Uint8Array;
  private readonly permOf: Uint8Array;
  private readonly asidOf: Int32Array;
  private readonly vmidOf: Int32Array;
  private readonly levelOf: Int8Array;
  /**
   * A host-side reference the access path keeps with an entry: the bytes of one 4 KiB page the
   * entry translates to (`hostOf`), the input address of that page (`hostVaOf`) and the byte
   * store's page epoch it was taken at (`hostEpochOf`, -1: none). Not modelled hardware: it
   * lets a hit skip the store lookup. A new fill of the slot clears it.
   */
  readonly hostOf: Array<Uint8Array | undefined>;
  /** The same page as 32-bit words (an 8-byte access is two word moves). */
  readonly hostWordsOf: Array<Uint32Array | undefined>;
  readonly hostVaOf: Float64Array;
  readonly hostEpochOf: Float64Array;
  /** LRU: the clock value at the last use. */
  private readonly ageOf: Uint32Array;
  /** Position of the slot in `validList`, or -1. */
  private readonly validPos: Int32Array;

  /** The filled slots, in no particular order (first `validCount`). */
  private readonly validList: Int32Array;
  private validCount = 0;

  /** FIFO: per set, the way evicted next. */
  private readonly fifoNext: Uint32Array;
  /** LRU clock. */
  private clock = 0;

  /** Valid entries per size log2. */
  private readonly sizeCount: Int32Array;
  /** The size log2s with a non-zero count, ascending (first `nSizes`). */
  private readonly sizeList: Uint8Array;
  private nSizes = 0;
  private readonly sizeScratch: Uint8Array;

  private nLookups = 0;
  private nHits = 0;
  private nInserts = 0;
  private nEvictions = 0;
  private nInvalidations = 0;
  private nInvalidated = 0;

  constructor(options: TlbOptions) {
    const name = options.name ?? "tlb";
    const { sets, ways, replacement } = options;
    if (!isPowerOfTwo(sets))
      fail("EINVAL", `TLB "${name}": sets ${String(sets)} is not a power of two >= 1`);
    if (!Number.isSafeInteger(ways) || ways < 1)
      fail("EINVAL", `TLB "${name}": ways ${String(ways)} is not an integer >= 1`);
    if (sets * ways > TLB_MAX_ENTRIES)
      fail(
        "EINVAL",
        `TLB "${name}": ${sets} sets x ${ways} ways = ${sets * ways} entries exceeds ${TLB_MAX_ENTRIES}`,
      );
    const policy = POLICIES.indexOf(replacement);
    if (policy < 0)
      fail(
        "EINVAL",
        `TLB "${name}": replacement "${String(replacement)}" is not lru, fifo or random`,
      );
    this.rng = new Rng(options.seed ?? 0);

    this.name = name;
    this.sets = sets;
    this.ways = ways;
    this.capacity = sets * ways;
    this.replacement = replacement;
    this.setMask = sets - 1;
    this.lowBitsMax = Math.min(31, 32 - Math.log2(sets));
    this.policy = policy;

    const n = this.capacity;
    this.vpnOf = new Float64Array(n);
    this.paOf = new Float64Array(n);
    this.baseOf = new Float64Array(n);
    this.keyOf = new Float64Array(n).fill(-1);
    this.hostOf = new Array<Uint8Array | undefined>(n).fill(undefined);
    this.hostWordsOf = new Array<Uint32Array | undefined>(n).fill(undefined);
    this.hostVaOf = new Float64Array(n);
    this.hostEpochOf = new Float64Array(n).fill(-1);
    this.log2Of = new Uint8Array(n);
    this.permOf = new Uint8Array(n);
    this.asidOf = new Int32Array(n);
    this.vmidOf = new Int32Array(n);
    this.levelOf = new Int8Array(n);
    this.ageOf = new Uint32Array(n);
    this.validPos = new Int32Array(n).fill(-1);
    this.validList = new Int32Array(n);
    this.fifoNext = new Uint32Array(sets);
    this.sizeCount = new Int32Array(64);
    this.sizeList = new Uint8Array(64);
    this.sizeScratch = new Uint8Array(64);
  }

  // ---------------------------------------------------------------------------------------------
  // Lookup

  /**
   * Look `va` up for address space (`asid`, `vmid`): the entry's index (>= 0) on a hit, -1 on a
   * miss. Counts the lookup and updates the replacement state (LRU) on a hit. Sizes are tried
   * smallest first, so a stale small entry shadows a large one (as real TLBs must never hold
   * both; the page-table code invalidates).
   */
  lookup(va: number, asid: number, vmid: number): number {
    this.nLookups++;
    const slot = this.find(va, asid, vmid);
    if (slot >= 0) {
      this.nHits++;
      if (this.policy === POLICY_LRU) this.ageOf[slot] = this.tick();
    }
    return slot;
  }

  /** Like {@link lookup}, but counts nothing and leaves the replacement state as it is. */
  peek(va: number, asid: number, vmid: number): number {
    return this.find(va, asid, vmid);
  }

  /**
   * Count a hit on entry `slot` found by {@link peek}, as {@link lookup} would have: a lookup,
   * a hit, and the replacement state (LRU). `peek` then `recordHit` is `lookup`, split so that a
   * caller may decline the entry first and leave no trace.
   */
  recordHit(slot: number): void {
    this.nLookups++;
    this.nHits++;
    if (this.policy === POLICY_LRU) this.ageOf[slot] = this.tick();
  }

  /**
   * Whose pages the host references are (a byte store): a TLB shared by masters of two
   * platforms keeps the references of one at a time.
   */
  hostOwner: unknown = undefined;

  /**
   * Keep `page`, the host bytes of the 4 KiB input page at `va`, with entry `slot`, for pages
   * of `owner` at its page epoch `epoch`.
   */
  setHost(
    slot: number,
    va: number,
    page: Uint8Array,
    words: Uint32Array,
    owner: unknown,
    epoch: number,
  ): void {
    if (owner !== this.hostOwner) {
      this.hostEpochOf.fill(-1);
      this.hostOf.fill(undefined);
      this.hostWordsOf.fill(undefined);
      this.hostOwner = owner;
    }
    this.hostWordsOf[slot] = words;
    this.hostOf[slot] = page;
    this.hostVaOf[slot] = va;
    this.hostEpochOf[slot] = epoch;
  }

  /** `pa + (va - page base)` of the entry that translates `va`, or -1 on a miss (a lookup). */
  translate(va: number, asid: number, vmid: number): number {
    const slot = this.lookup(va, asid, vmid);
    if (slot < 0) return -1;
    return this.paOf[slot]! + (va - this.baseOf[slot]!);
  }

  /**
   * The hit path: per page size present, one set's ways compared on the page number, then the
   * size, then the tags as one number (a global entry: the VMID alone). Everything it reads is
   * a typed array held in a local.
   */
  private find(va: number, asid: number, vmid: number): number {
    const ways = this.ways;
    const mask = this.setMask;
    const baseOf = this.baseOf;
    const log2Of = this.log2Of;
    const keyOf = this.keyOf;
    const key = vmid * 0x8000_0000 + asid;
    const sizeList = this.sizeList;
    // The low 32 bits of the address as an integer: for a page size and set count whose set
    // index lies in them (k + log2(sets) <= 32), the set and the page base need no
    // floating-point division, and the latency of a lookup is a few integer operations.
    const vaLo = va >>> 0;
    for (let s = 0, n = this.nSizes; s < n; s++) {
      const k = sizeList[s]!;
      let set: number;
      let pageBase: number;
      if (k <= this.lowBitsMax) {
        set = (vaLo >>> k) & mask;
        pageBase = va - (vaLo & LOW_MASK[k]!);
      } else {
        const vpn = Math.floor(va * INV_POW2[k]!);
        // `&` truncates the double to its low 32 bits (exact below 2^63): no fmod.
        set = vpn & mask;
        pageBase = vpn * POW2[k]!;
      }
      for (let slot = set * ways, end = slot + ways; slot < end; slot++) {
        if (baseOf[slot] === pageBase && log2Of[slot] === k) {
          if (keyOf[slot] === key) return slot;
          if ((this.permOf[slot]! & GLOBAL) !== 0 && this.vmidOf[slot] === vmid) return slot;
        }
      }
    }
    return -1;
  }

  /** The input page base of entry `i` (a valid index from {@link lookup}). */
  entryVa(i: number): number {
    return this.vpnOf[i]! * POW2[this.log2Of[i]!]!;
  }
  /** The output base of entry `i`. */
  entryPa(i: number): number {
    return this.paOf[i]!;
  }
  /** The leaf size of entry `i`, in bytes. */
  entryPageSize(i: number): number {
    return POW2[this.log2Of[i]!]!;
  }
  /** log2 of the leaf size of entry `i`. */
  entryPageLog2(i: number): number {
    return this.log2Of[i]!;
  }
  /** The {@link PERM} mask of entry `i`. */
  entryPerm(i: number): number {
    return this.permOf[i]!;
  }
  /** The page-table level of entry `i`'s leaf. */
  entryLevel(i: number): number {
    return this.levelOf[i]!;
  }
  /** The ASID tag of entry `i` (meaningless when it is global). */
  entryAsid(i: number): number {
    return this.asidOf[i]!;
  }
  /** The VMID tag of entry `i`. */
  entryVmid(i: number): number {
    return this.vmidOf[i]!;
  }

  // ---------------------------------------------------------------------------------------------
  // Insert

  /**
   * Cache a leaf translation: the page of `pageSize` at `va` maps to `pa` with `perm` ({@link
   * PERM} bits; PERM.GLOBAL makes it match every ASID), tagged `asid` / `vmid` (integers in
   * [0, 2^31)), from a leaf at `level`. `va` and `pa` must be aligned to `pageSize` (not
   * checked); `pageSize` must be a power of two from 4K to 2^52 (EINVAL).
   *
   * An entry of the same tag in the set (same page and size and VMID, and the same ASID or either
   * one global: entries a lookup could not tell apart) is replaced, so there are no duplicates;
   * else an invalid way is filled; else the policy's victim is evicted. Returns the entry index.
   */
  insert(
    va: number,
    pageSize: number,
    pa: number,
    perm: number,
    asid: number,
    vmid: number,
    level: number,
  ): number {
    const k = pageLog2(pageSize);
    if (k < 0)
      fail(
        "EINVAL",
        `TLB "${this.name}": page size ${String(pageSize)} is not a power of two from 4K to 2^52`,
      );
    this.nInserts++;
    const vpn = Math.floor(va * INV_POW2[k]!);
    const set = vpn & this.setMask;
    const base = set * this.ways;
    const end = base + this.ways;
    const global = (perm & GLOBAL) !== 0;
    let target = -1;
    let free = -1;
    for (let slot = base; slot < end; slot++) {
      if (this.log2Of[slot] === 0) {
        if (free < 0) free = slot;
      } else if (
        this.log2Of[slot] === k &&
        this.vpnOf[slot] === vpn &&
        this.vmidOf[slot] === vmid &&
        (global || (this.permOf[slot]! & GLOBAL) !== 0 || this.asidOf[slot] === asid)
      ) {
        // The first same-tag entry is reused; a global insert may also shadow entries of other
        // ASIDs: they go.
        this.drop(slot);
        if (target < 0) target = slot;
      }
    }
    if (target < 0) target = free;
    if (target < 0) {
      target = this.victim(set, base);
      this.drop(target);
      this.nEvictions++;
    }
    this.fill(target, vpn, k, pa, perm, asid, vmid, level);
    return target;
  }

  private victim(set: number, base: number): number {
    const ways = this.ways;
    switch (this.policy) {
      case POLICY_LRU: {
        let best = base;
        for (let slot = base + 1; slot < base + ways; slot++)
          if (this.ageOf[slot]! < this.ageOf[best]!) best = slot;
        return best;
      }
      case POLICY_FIFO: {
        const way = this.fifoNext[set]!;
        this.fifoNext[set] = way + 1 === ways ? 0 : way + 1;
        return base + way;
      }
      default: // random
        return base + this.rng.int(0, ways - 1);
    }
  }

  private fill(
    slot: number,
    vpn: number,
    k: number,
    pa: number,
    perm: number,
    asid: number,
    vmid: number,
    level: number,
  ): void {
    this.vpnOf[slot] = vpn;
    this.baseOf[slot] = vpn * POW2[k]!;
    this.keyOf[slot] = vmid * 0x8000_0000 + asid;
    this.hostEpochOf[slot] = -1;
    this.hostOf[slot] = undefined;
    this.hostWordsOf[slot] = undefined;
    this.paOf[slot] = pa;
    this.log2Of[slot] = k;
    this.permOf[slot] = perm;
    this.asidOf[slot] = asid;
    this.vmidOf[slot] = vmid;
    this.levelOf[slot] = level;
    if (this.policy === POLICY_LRU) this.ageOf[slot] = this.tick();
    this.validPos[slot] = this.validCount;
    this.validList[this.validCount++] = slot;
    if (this.sizeCount[k]!++ === 0) {
      // A size appears: insert it into the ascending list.
      let i = this.nSizes++;
      while (i > 0 && this.sizeList[i - 1]! > k) {
        this.sizeList[i] = this.sizeList[i - 1]!;
        i--;
      }
      this.sizeList[i] = k;
    }
  }

  /** Invalidate a valid slot. */
  private drop(slot: number): void {
    const k = this.log2Of[slot]!;
    this.log2Of[slot] = 0;
    const pos = this.validPos[slot]!;
    const last = this.validList[--this.validCount]!;
    this.validList[pos] = last;
    this.validPos[last] = pos;
    this.validPos[slot] = -1;
    if (--this.sizeCount[k]! === 0) {
      // The size is gone: remove it from the list.
      let i = 0;
      while (this.sizeList[i] !== k) i++;
      for (; i + 1 < this.nSizes; i++) this.sizeList[i] = this.sizeList[i + 1]!;
      this.nSizes--;
    }
  }

  /** The next LRU stamp; renumbers the ages per set when the 32-bit clock would wrap. */
  private tick(): number {
    if (this.clock === CLOCK_MAX) this.renumberAges();
    return ++this.clock;
  }

  private renumberAges(): void {
    const ways = this.ways;
    const order: number[] = [];
    for (let set = 0; set < this.sets; set++) {
      const base = set * ways;
      order.length = 0;
      for (let slot = base; slot < base + ways; slot++) order.push(slot);
      order.sort((a, b) => this.ageOf[a]! - this.ageOf[b]!);
      for (let i = 0; i < ways; i++) this.ageOf[order[i]!] = i + 1;
    }
    this.clock = ways;
  }

  // ---------------------------------------------------------------------------------------------
  // Invalidation

  /** Invalidate every entry. Costs the number of valid entries, not the capacity. */
  invalidateAll(): void {
    this.nInvalidations++;
    const n = this.validCount;
    for (let i = 0; i < n; i++) {
      const slot = this.validList[i]!;
      this.log2Of[slot] = 0;
      this.validPos[slot] = -1;
    }
    for (let s = 0; s < this.nSizes; s++) this.sizeCount[this.sizeList[s]!] = 0;
    this.nSizes = 0;
    this.validCount = 0;
    this.nInvalidated += n;
  }

  /** Invalidate the non-global entries of `asid` in `vmid` (TLBI ASIDE1, SMMU CMD_TLBI_NH_ASID). */
  invalidateAsid(asid: number, vmid: number): void {
    this.nInvalidations++;
    for (let i = this.validCount - 1; i >= 0; i--) {
      const slot = this.validList[i]!;
      if (
        this.vmidOf[slot] === vmid &&
        this.asidOf[slot] === asid &&
        (this.permOf[slot]! & GLOBAL) === 0
      )
        this.dropCounted(slot);
    }
  }

  /** Invalidate every entry of `vmid`, global ones included (TLBI VMALLS12E1, CMD_TLBI_S12_VMALL). */
  invalidateVmid(vmid: number): void {
    this.nInvalidations++;
    for (let i = this.validCount - 1; i >= 0; i--) {
      const slot = this.validList[i]!;
      if (this.vmidOf[slot] === vmid) this.dropCounted(slot);
    }
  }

  /**
   * Invalidate every entry of `vmid` whose page overlaps `[va, va + size)`: of any ASID when
   * `asid` is undefined, else of `asid` and the global entries (TLBI VAE1 / VAAE1, CMD_TLBI_NH_VA
   * / NH_VAA). A large page that only partly overlaps goes whole. Small ranges probe the sets of
   * each page size present; ranges that would probe more slots than there are valid entries scan
   * the valid entries instead. `size` 0 removes nothing; a negative size is EINVAL.
   */
  invalidateRange(va: number, size: number, asid: number | undefined, vmid: number): void {
    if (!(size >= 0) || !Number.isFinite(size))
      fail("EINVAL", `TLB "${this.name}": invalidation size ${String(size)} is not >= 0`);
    this.nInvalidations++;
    if (size === 0 || this.validCount === 0) return;
    const end = va + size;
    const lastByte = end - 1;
    const anyAsid = asid === undefined;
    const wantAsid = asid ?? 0;

    // Probe cost: one set of `ways` slots per page of each present size in the range.
    const nSizes = this.nSizes;
    let cost = 0;
    for (let s = 0; s < nSizes && cost <= this.validCount; s++) {
      const k = this.sizeList[s]!;
      const pages = Math.floor(lastByte * INV_POW2[k]!) - Math.floor(va * INV_POW2[k]!) + 1;
      cost += pages * this.ways;
    }

    if (cost > this.validCount) {
      for (let i = this.validCount - 1; i >= 0; i--) {
        const slot = this.validList[i]!;
        if (this.vmidOf[slot] !== vmid) continue;
        if (!anyAsid && this.asidOf[slot] !== wantAsid && (this.permOf[slot]! & GLOBAL) === 0)
          continue;
        const k = this.log2Of[slot]!;
        const pageBase = this.vpnOf[slot]! * POW2[k]!;
        if (pageBase < end && va < pageBase + POW2[k]!) this.dropCounted(slot);
      }
      return;
    }

    // Drops may remove sizes from the list: iterate a snapshot.
    const sizes = this.sizeScratch;
    sizes.set(this.sizeList.subarray(0, nSizes));
    const ways = this.ways;
    for (let s = 0; s < nSizes; s++) {
      const k = sizes[s]!;
      if (this.sizeCount[k] === 0) continue;
      const last = Math.floor(lastByte * INV_POW2[k]!);
      for (let vpn = Math.floor(va * INV_POW2[k]!); vpn <= last; vpn++) {
        const base = (vpn & this.setMask) * ways;
        for (let slot = base; slot < base + ways; slot++) {
          if (
            this.log2Of[slot] === k &&
            this.vpnOf[slot] === vpn &&
            this.vmidOf[slot] === vmid &&
            (anyAsid || this.asidOf[slot] === wantAsid || (this.permOf[slot]! & GLOBAL) !== 0)
          )
            this.dropCounted(slot);
        }
      }
    }
  }

  private dropCounted(slot: number): void {
    this.drop(slot);
    this.nInvalidated++;
  }

  // ---------------------------------------------------------------------------------------------
  // Statistics and dumps

  stats(): TlbStats {
    return {
      lookups: this.nLookups,
      hits: this.nHits,
      misses: this.nLookups - this.nHits,
      inserts: this.nInserts,
      evictions: this.nEvictions,
      invalidations: this.nInvalidations,
      invalidatedEntries: this.nInvalidated,
      valid: this.validCount,
    };
  }

  /** Zero the counters (the entries stay). */
  resetStats(): void {
    this.nLookups = 0;
    this.nHits = 0;
    this.nInserts = 0;
    this.nEvictions = 0;
    this.nInvalidations = 0;
    this.nInvalidated = 0;
  }

  /** Valid entries per leaf size (bytes -> count), ascending by size. */
  sizeHistogram(): Array<{ size: number; count: number }> {
    const out: Array<{ size: number; count: number }> = [];
    for (let s = 0; s < this.nSizes; s++) {
      const k = this.sizeList[s]!;
      out.push({ size: POW2[k]!, count: this.sizeCount[k]! });
    }
    return out;
  }

  /** The valid entries, ordered by set then way. */
  entries(): TlbEntry[] {
    const slots = Array.from(this.validList.subarray(0, this.validCount)).sort((a, b) => a - b);
    return slots.map((slot) => {
      const perm = this.permOf[slot]!;
      return {
        va: this.entryVa(slot),
        size: this.entryPageSize(slot),
        pa: this.paOf[slot]!,
        perm,
        asid: this.asidOf[slot]!,
        vmid: this.vmidOf[slot]!,
        global: (perm & GLOBAL) !== 0,
        level: this.levelOf[slot]!,
        set: Math.floor(slot / this.ways),
        way: slot - Math.floor(slot / this.ways) * this.ways,
      };
    });
  }
}

/** log2 of a page size, or -1 unless it is a power of two in [4K, 2^52]. */
function pageLog2(size: number): number {
  // Literal bounds (2^12, 2^52): `2 ** x` of a module constant is computed on every call.
  if (!(size >= 4096 && size <= 4503599627370496)) return -1;
  // clz32 for the common sizes (below 2^32): Math.log2 is a call into the runtime.
  const k = size < 0x1_0000_0000 ? 31 - Math.clz32(size) : Math.log2(size);
  return Number.isInteger(k) && POW2[k] === size ? k : -1;
}

/** What an entry translates, as plain JSON: rights as `r w - R W -`, a global entry's ASID null. */
export interface TlbEntryFacts {
  readonly va: number;
  readonly size: number;
  readonly pa: number;
  readonly perm: string;
  readonly asid: number | null;
  readonly vmid: number;
}

/** {@link TlbEntryFacts} of an entry (reports and dumps). */
export function entryFacts(e: TlbEntry): TlbEntryFacts {
  return {
    va: e.va,
    size: e.size,
    pa: e.pa,
    perm: formatPerm(e.perm),
    asid: e.global ? null : e.asid,
    vmid: e.vmid,
  };
}

/** `r w - R W -`: privileged read / write / exec, then unprivileged (upper case). */
export function formatPerm(perm: number): string {
  return [
    perm & PERM.READ_PRIV ? "r" : "-",
    perm & PERM.WRITE_PRIV ? "w" : "-",
    perm & PERM.EXEC_PRIV ? "x" : "-",
    perm & PERM.READ_USER ? "R" : "-",
    perm & PERM.WRITE_USER ? "W" : "-",
    perm & PERM.EXEC_USER ? "X" : "-",
  ].join(" ");
}

/**
 * A human dump: a header with the geometry, policy, sizes present and statistics, then one line
 * per valid entry, e.g.
 * `set  12 way 1  va 0x0000000040200000 -> pa 0x0000000080200000    2M  asid 5 vmid 0  perm r w - R W -  AF nG L2`
 * (a global entry shows `asid -` and `G`; a clear access flag shows `--`).
 */
export function formatTlb(tlb: Tlb): string {
  const st = tlb.stats();
  const pct = st.lookups > 0 ? ` (${((100 * st.hits) / st.lookups).toFixed(1)}%)` : "";
  const sizes = tlb
    .sizeHistogram()
    .map((h) => `${formatSizeShort(h.size)}:${h.count}`)
    .join(" ");
  const lines = [
    `TLB "${tlb.name}": ${tlb.sets} sets x ${tlb.ways} ways = ${tlb.capacity} entries, ${tlb.replacement}; ${st.valid} valid${sizes ? ` (${sizes})` : ""}`,
    `  lookups ${st.lookups}  hits ${st.hits}${pct}  misses ${st.misses}  inserts ${st.inserts}  evictions ${st.evictions}  invalidations ${st.invalidations} (${st.invalidatedEntries} entries)`,
  ];
  const setWidth = String(tlb.sets - 1).length;
  const wayWidth = String(tlb.ways - 1).length;
  for (const e of tlb.entries()) {
    lines.push(
      `set ${String(e.set).padStart(setWidth)} way ${String(e.way).padStart(wayWidth)}  ` +
        `va ${hexPad(e.va, 16)} -> pa ${hexPad(e.pa, 16)}  ${formatSizeShort(e.size).padStart(4)}  ` +
        `asid ${e.global ? "-" : e.asid} vmid ${e.vmid}  ` +
        `perm ${formatPerm(e.perm)}  ${e.perm & PERM.AF ? "AF" : "--"} ${e.global ? "G" : "nG"} L${e.level}`,
    );
  }
  return lines.join("\n");
}
