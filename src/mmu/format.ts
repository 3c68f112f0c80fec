/**
 * The page-table format interface: pure geometry plus descriptor encode/decode, in the manner of
 * Linux io-pgtable (`struct io_pgtable_cfg` + the format's `iopte` helpers). One set of
 * page-table operations ({@link PageTable}) serves every format through it.
 *
 * Descriptors are handled as two 32-bit halves (`lo` = bits 31:0, `hi` = bits 63:32), because
 * numbers are exact only below 2^53 and BigInt is 15-27x slower. 32-bit formats use `hi = 0`.
 * Decoders take `(levelIndex, lo, hi)` and return numbers, so a walk allocates nothing; only
 * {@link PageTableFormat.attributes} builds an object (for dumps and slow paths).
 *
 * `levelIndex` counts from the root (0) down; {@link LevelInfo.level} is the architectural
 * level number (AArch64 0..3, ARMv7 short-descriptor 1..2).
 */
import type { LeafAttributes, Prot } from "./prot.js";

/** What a descriptor is. */
export const DESC_INVALID = 0;
export const DESC_TABLE = 1;
export const DESC_LEAF = 2;
export type DescKind = typeof DESC_INVALID | typeof DESC_TABLE | typeof DESC_LEAF;

export interface LevelInfo {
  /** The architectural level number. */
  readonly level: number;
  /** log2 of the input-address span of one entry at this level. */
  readonly shift: number;
  /** Entries of one table at this level (the root may differ: see `rootEntries`). */
  readonly entries: number;
  /** Bytes of one table at this level. */
  readonly tableBytes: number;
  /** Sizes a leaf at this level can map, ascending; empty if none. */
  readonly leafSizes: readonly number[];
  /** True if a table descriptor may appear at this level (not the last level). */
  readonly hasTables: boolean;
}

/**
 * Numbers that let the one descriptor decoder ({@link decodeDescriptor} in walk.ts) decode a
 * format's descriptors inline, without a call into the format per level. AArch64 long
 * descriptors provide them; a format without them is decoded through its methods.
 */
export interface FastDecode {
  /** Mask of a table address in the low word. */
  readonly tableMaskLo: number;
  /** Per level index: mask of a leaf's output address in the low word (0: no leaf there). */
  readonly leafMaskLo: Int32Array;
  /** Per level index: the leaf size (0: none). */
  readonly leafSize: Float64Array;
  /** 64K granule: OA[51:48] sits in bits 15:12 of the low word. */
  readonly packedHigh: boolean;
}

export interface PageTableFormat {
  /** E.g. `"lpae-s1 4K ias48 oas48"`, `"v7s"`. */
  readonly name: string;
  readonly family: "lpae" | "v7s";
  readonly stage: 1 | 2;
  /** The translation granule (smallest page). */
  readonly granule: number;
  /** Input address size in bits. */
  readonly ias: number;
  /** Output address size in bits. */
  readonly oas: number;
  readonly descriptorBytes: 4 | 8;
  /** From the root (index 0) down to the last level. */
  readonly levels: readonly LevelInfo[];
  /** Entries of the root table (stage 2 may concatenate up to 16 tables). */
  readonly rootEntries: number;
  /** Bytes of the root table (its alignment too). */
  readonly rootBytes: number;
  /** The page sizes it supports, ascending (io-pgtable's `pgsize_bitmap`). */
  readonly pageSizes: readonly number[];

  /** DESC_INVALID, DESC_TABLE or DESC_LEAF. */
  kind(levelIndex: number, lo: number, hi: number): DescKind;
  /** A table descriptor's next-level table address, or a leaf's output address (its base). */
  address(levelIndex: number, lo: number, hi: number): number;
  /** A leaf's size (v7s: section or supersection, small or large page). */
  leafSize(levelIndex: number, lo: number, hi: number): number;
  /** A leaf's permission mask ({@link PERM}). */
  perm(levelIndex: number, lo: number, hi: number): number;
  /** A leaf's attributes, decoded. */
  attributes(levelIndex: number, lo: number, hi: number): LeafAttributes;
  /** The Linux prot that encodes a leaf's attributes again (used to split a block). */
  protOf(levelIndex: number, lo: number, hi: number): Prot;

  /** Encode a table descriptor pointing at `tableAddr` into `out[0]` (lo) and `out[1]` (hi). */
  encodeTable(levelIndex: number, tableAddr: number, out: Uint32Array): void;
  /**
   * Encode a leaf of `size` (one of the level's `leafSizes`) mapping `outputAddr` with `prot`,
   * as io-pgtable's `prot_to_pte` does. A leaf spanning several entries (v7s 64K large pages and
   * 16M supersections) is written `size >> shift` times with the same value.
   */
  encodeLeaf(
    levelIndex: number,
    size: number,
    outputAddr: number,
    prot: Prot,
    out: Uint32Array,
  ): void;
  /**
   * Optional: the descriptor of one piece of the leaf `(lo, hi)` at level index `li` when it is
   * split into leaves of `size` at level index `childLi`, keeping the leaf's attribute bits
   * as the format's split does (AArch64: `iopte_prot` in `arm_lpae_split_blk_unmap`). Without
   * it a split re-encodes the leaf's prot (ARMv7 short descriptors do, through
   * `arm_v7s_pte_to_prot`).
   */
  splitLeaf?(
    li: number,
    lo: number,
    hi: number,
    childLi: number,
    size: number,
    outputAddr: number,
    out: Uint32Array,
  ): void;
  /** Names of the set bits of a descriptor, for dumps (e.g. `["AF", "nG", "AP[1]"]`). */
  describe(levelIndex: number, lo: number, hi: number): string;

  /** Inline decoding parameters, if the format has them. */
  readonly fastDecode?: FastDecode;

  /**
   * The largest annotation an invalid descriptor can carry: software bits the hardware ignores
   * in an invalid entry, such as pKVM's stage-2 owner id (`KVM_INVALID_PTE_OWNER_MASK`,
   * bits 9:2). 0 means the format keeps none.
   */
  readonly maxAnnotation: number;
  /** Encode an invalid descriptor carrying `annotation` (0: an all-zero descriptor). */
  encodeInvalid(levelIndex: number, annotation: number, out: Uint32Array): void;
  /** The annotation of an invalid descriptor (0 for none, and for any valid descriptor). */
  annotation(levelIndex: number, lo: number, hi: number): number;
}

/**
 * An invalid descriptor for dumps: zero, annotated in bits 9:2 (`owner=N`), or with other bits
 * set.
 */
export function describeInvalid(lo: number, hi: number, annotation: number): string {
  if (lo === 0 && hi === 0) return "INVALID";
  const rest = (lo & ~(0xff << 2)) !== 0 || hi !== 0;
  if (annotation === 0) return "INVALID (non-zero)";
  return `INVALID owner=${annotation}${rest ? " (other bits set)" : ""}`;
}
