/**
 * The AArch64 long-descriptor format (VMSAv8-64, "LPAE"), stage 1 and stage 2, with 4K, 16K and
 * 64K granules, as Linux io-pgtable-arm builds it (drivers/iommu/io-pgtable-arm.c,
 * `ARM_64_LPAE_S1` / `ARM_64_LPAE_S2`).
 *
 * - Geometry: `arm_lpae_alloc_pgtable` (bits per level, levels, start level, `pgd_bits`),
 *   `arm_64_lpae_alloc_pgtable_s2` (root concatenation), `arm_lpae_restrict_pgsizes` (page sizes
 *   per granule), `ARM_LPAE_LVL_SHIFT` / `ARM_LPAE_BLOCK_SIZE` / `ARM_LPAE_PGD_SIZE`.
 * - Leaf encoding: `arm_lpae_prot_to_pte` plus the type bits of `__arm_lpae_init_pte`, and the
 *   output address of `paddr_to_iopte`.
 * - Table encoding: `arm_lpae_install_table` (without the NS quirk: NSTable is never set).
 * - Decoding: `iopte_leaf` / `iopte_table` / `iopte_to_paddr`, and the architecture for what
 *   Linux never reads back (permissions, memory type, shareability).
 *
 * Decisions where Linux and the architecture leave room:
 * - Stage-2 root concatenation follows the long-standing rule of `arm_64_lpae_alloc_pgtable_s2`
 *   ("concatenate PGDs at level 1 if possible"): if the walk would start at level 0 with at
 *   most 16 root entries, it starts at level 1 with that many concatenated tables. Recent Linux
 *   (`arm_lpae_concat_mandatory`) concatenates only where Arm DDI0487 requires it, deciding by
 *   the output size too. For ias = oas among the sizes TCR.PS encodes (32, 36, 40, 42, 44, 48)
 *   the two differ only for 16K ias40, which recent Linux starts at level 2 with 16 tables.
 * - Page sizes are Linux's per granule (4K|2M|1G, 16K|32M, 64K|512M), kept only where the level
 *   holding the block exists and the size is at most 2^ias.
 * - Stage-1 execute permissions are decoded bit for bit (UXN b54, PXN b53). The implicit PXN of
 *   EL0-writable memory and SCTLR.WXN are not modelled.
 * - Stage-2 execute-never is XN = b54 (no FEAT_XNX); Linux writes both b54 and b53
 *   (`ARM_LPAE_PTE_XN`), which with FEAT_XNX would mean "EL1 may execute, EL0 not".
 * - Shareability is the SH field as written; Linux writes outer for MMIO and non-cacheable
 *   memory, which is also what the architecture makes of Device and Normal-NC memory.
 */
import { fail } from "../base/errors.js";
import type { DescKind, FastDecode, LevelInfo, PageTableFormat } from "./format.js";
import { DESC_INVALID, DESC_LEAF, DESC_TABLE, describeInvalid } from "./format.js";
import type { LeafAttributes, MemType, Prot, Shareability } from "./prot.js";
import { PERM, PROT } from "./prot.js";

export interface LpaeOptions {
  stage: 1 | 2;
  /** The translation granule: 4 KiB, 16 KiB or 64 KiB. */
  granule: 4096 | 16384 | 65536;
  /** Input address size in bits, 32..48. */
  ias: number;
  /** Output address size in bits, 32..48. */
  oas: number;
}

const TWO_32 = 0x1_0000_0000;
const TWO_48 = 0x1_0000_0000_0000;

/** `ARM_LPAE_MAX_LEVELS`: levels are numbered 0..3. */
const MAX_LEVELS = 4;
/** `ARM_LPAE_S2_MAX_CONCAT_PAGES`. */
const S2_MAX_CONCAT = 16;

// Low word (bits 31:0). `ARM_LPAE_PTE_*`.
const PTE_VALID = 1 << 0;
/** Bit 1: table (levels < 3) or page (level 3) when set, block when clear. */
const PTE_TYPE_BIT = 1 << 1;
const PTE_TYPE_BLOCK = 1;
const PTE_TYPE_TABLE = 3;
const PTE_TYPE_PAGE = 3;
const ATTRINDX_SHIFT = 2;
/** Stage 2: MemAttr[3:0] at bits 5:2. */
const MEMATTR_SHIFT = 2;
const PTE_NS = 1 << 5;
/** `ARM_LPAE_PTE_AP_UNPRIV` (AP[1]). */
const PTE_AP_UNPRIV = 1 << 6;
/** `ARM_LPAE_PTE_AP_RDONLY` (AP[2]). */
const PTE_AP_RDONLY = 1 << 7;
/** `ARM_LPAE_PTE_HAP_READ` / `_WRITE` (S2AP[0] / S2AP[1]). */
const PTE_HAP_READ = 1 << 6;
const PTE_HAP_WRITE = 1 << 7;
const SH_SHIFT = 8;
const SH_OS = 2;
const SH_IS = 3;
const PTE_AF = 1 << 10;
const PTE_NG = 1 << 11;

// High word (bits 63:32): bit n of the descriptor is bit n - 32 here.
const HI_ADDR_MASK = 0xffff; // OA[47:32]
const HI_DBM = 1 << (51 - 32);
const HI_CONT = 1 << (52 - 32);
/** Stage 1 PXN; stage 2 XN[0] (FEAT_XNX). */
const HI_PXN = 1 << (53 - 32);
/** Stage 1 UXN (XN); stage 2 XN (XN[1]). */
const HI_UXN = 1 << (54 - 32);
/** `ARM_LPAE_PTE_XN` = 3 << 53. */
const HI_XN = HI_PXN | HI_UXN;
const HI_PXNTABLE = 1 << (59 - 32);
const HI_UXNTABLE = 1 << (60 - 32);
const HI_APTABLE_SHIFT = 61 - 32;
const HI_NSTABLE = 1 << (63 - 32);
/** `ARM_LPAE_PTE_ATTR_LO_MASK`: bits 11:2. */
const ATTR_LO_MASK = 0x3ff << 2;
/** `ARM_LPAE_PTE_ATTR_HI_MASK` (XN, i.e. UXN and PXN, and DBM), in the high word. */
const ATTR_HI_MASK = HI_XN | HI_DBM;

/**
 * Software bits of an invalid descriptor: pKVM's owner id (`KVM_INVALID_PTE_OWNER_MASK`,
 * GENMASK(9, 2)), an 8-bit annotation the walk ignores.
 */
const INVALID_ANNOTATION_SHIFT = 2;
const INVALID_ANNOTATION_MAX = 0xff;

/** MAIR indices Linux programs (`ARM_LPAE_MAIR_ATTR_IDX_*`). */
export const LPAE_MAIR_IDX = { NC: 0, CACHE: 1, DEV: 2, INC_OCACHE: 3 } as const;

/**
 * The stage-1 MAIR value Linux programs (`arm_64_lpae_alloc_pgtable_s1`): attribute 0 = 0x44
 * (normal non-cacheable), 1 = 0xff (normal write-back RW-allocate), 2 = 0x04 (Device-nGnRE),
 * 3 = 0xf4 (inner non-cacheable, outer write-back); 4..7 = 0x00 (Device-nGnRnE).
 */
export const LPAE_S1_MAIR = 0xf404ff44;

/** Stage-2 MemAttr values Linux writes (`ARM_LPAE_PTE_MEMATTR_*`, without S2FWB). */
export const LPAE_S2_MEMATTR = { OIWB: 0xf, NC: 0x5, DEV: 0x1 } as const;

/** The memory type a stage-1 AttrIndx selects through {@link LPAE_S1_MAIR}. */
function s1MemType(attrIndx: number): MemType {
  switch (attrIndx) {
    case LPAE_MAIR_IDX.CACHE:
      return "normal-wb";
    case LPAE_MAIR_IDX.NC:
    case LPAE_MAIR_IDX.INC_OCACHE: // inner non-cacheable: the closest of the three types
      return "normal-nc";
    default:
      return "device"; // 0x04 at index 2, 0x00 (Device-nGnRnE) at 4..7
  }
}

/** The memory type of a stage-2 MemAttr[3:0] (without FEAT_S2FWB). */
function s2MemType(memAttr: number): MemType {
  const outer = memAttr >> 2;
  const inner = memAttr & 3;
  if (outer === 0) return "device";
  // 01 non-cacheable, 10 write-through, 11 write-back; inner 00 with outer != 00 is reserved.
  if (outer >= 2 && inner >= 2) return "normal-wb";
  return "normal-nc";
}

const SH_NAMES: readonly Shareability[] = ["non", "non", "outer", "inner"];
const SH_TEXT = ["non", "reserved", "outer", "inner"];

function sizeName(bytes: number): string {
  if (bytes >= 1 << 30) return `${bytes / (1 << 30)}G`;
  if (bytes >= 1 << 20) return `${bytes / (1 << 20)}M`;
  return `${bytes / 1024}K`;
}

function checkBits(what: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v))
    fail("EINVAL", `lpae format: ${what} ${String(v)} is not a whole number of bits`);
  if (v < 32 || v > 48) fail("ERANGE", `lpae format: ${what} ${v} is outside 32..48`);
  return v;
}

/**
 * The AArch64 long-descriptor format with the given stage, granule and address sizes.
 * Throws EINVAL for a stage other than 1 or 2 or a granule other than 4K/16K/64K, ERANGE for
 * an ias or oas outside 32..48.
 *
 * @example
 * const f = createLpaeFormat({ stage: 2, granule: 4096, ias: 40, oas: 40 });
 * f.name; // "lpae-s2 4K ias40 oas40 concat2"
 * f.levels.map((l) => l.level); // [1, 2, 3]
 */
export function createLpaeFormat(options: LpaeOptions): PageTableFormat {
  const { stage, granule } = options;
  if (stage !== 1 && stage !== 2)
    fail("EINVAL", `lpae format: stage ${String(stage)} is not 1 or 2`);
  if (granule !== 4096 && granule !== 16384 && granule !== 65536)
    fail("EINVAL", `lpae format: granule ${String(granule)} is not 4096, 16384 or 65536`);
  const ias = checkBits("ias", options.ias);
  const oas = checkBits("oas", options.oas);
  return new LpaeFormat(stage, granule, ias, oas);
}

class LpaeFormat implements PageTableFormat {
  readonly name: string;
  readonly family = "lpae" as const;
  readonly stage: 1 | 2;
  readonly granule: number;
  readonly ias: number;
  readonly oas: number;
  private readonly outputLimit: number;
  readonly descriptorBytes = 8 as const;
  readonly levels: readonly LevelInfo[];
  readonly rootEntries: number;
  readonly rootBytes: number;
  readonly pageSizes: readonly number[];
  readonly fastDecode: FastDecode;
  readonly maxAnnotation = INVALID_ANNOTATION_MAX;

  /** Index of the last level. */
  private readonly last: number;
  /** Leaf size per level index (0 where no block is allowed). */
  private readonly blockSize: number[];
  /** Mask of a leaf's output address in the low word, per level index. */
  private readonly leafMaskLo: number[];
  /** Mask of a table address in the low word (OA[31:granule_shift]). */
  private readonly tableMaskLo: number;
  /** 64K granule: OA[51:48] sits in bits 15:12. */
  private readonly packedHigh: boolean;

  constructor(stage: 1 | 2, granule: number, ias: number, oas: number) {
    this.stage = stage;
    this.granule = granule;
    this.ias = ias;
    this.oas = oas;
    this.outputLimit = 2 ** oas;

    // arm_lpae_alloc_pgtable
    const pgShift = Math.log2(granule);
    const bitsPerLevel = pgShift - 3; // ilog2(sizeof(arm_lpae_iopte)) = 3
    const vaBits = ias - pgShift;
    const levels = Math.ceil(vaBits / bitsPerLevel);
    let startLevel = MAX_LEVELS - levels;
    let pgdBits = vaBits - bitsPerLevel * (levels - 1);
    let concat = 1;
    // arm_64_lpae_alloc_pgtable_s2 (the rule before the newer arm_lpae_concat_mandatory):
    // concatenate PGDs at level 1 if possible.
    if (stage === 2 && startLevel === 0 && 2 ** pgdBits <= S2_MAX_CONCAT) {
      concat = 2 ** pgdBits;
      pgdBits += bitsPerLevel;
      startLevel++;
    }

    // arm_lpae_restrict_pgsizes, then only sizes whose level exists and that fit in 2^ias.
    const linuxSizes =
      granule === 4096
        ? [4096, 2 << 20, 1 << 30]
        : granule === 16384
          ? [16384, 32 << 20]
          : [65536, 512 << 20];
    const infos: LevelInfo[] = [];
    const pageSizes: number[] = [];
    this.blockSize = [];
    this.leafMaskLo = [];
    for (let level = startLevel; level < MAX_LEVELS; level++) {
      // ARM_LPAE_LVL_SHIFT / ARM_LPAE_BLOCK_SIZE
      const shift = (MAX_LEVELS - level) * bitsPerLevel + 3;
      const size = 2 ** shift;
      const leaf = linuxSizes.includes(size) && shift <= ias;
      infos.push({
        level,
        shift,
        entries: 2 ** bitsPerLevel,
        tableBytes: granule,
        leafSizes: leaf ? [size] : [],
        hasTables: level < MAX_LEVELS - 1,
      });
      if (leaf) pageSizes.push(size);
      this.blockSize.push(leaf ? size : 0);
      // All block sizes are below 2^32 (the largest is 1G), so the mask is in the low word.
      this.leafMaskLo.push(leaf ? ~(size - 1) >>> 0 : 0);
    }
    this.levels = infos;
    this.last = infos.length - 1;
    this.rootEntries = 2 ** pgdBits;
    this.rootBytes = 8 * 2 ** pgdBits; // ARM_LPAE_PGD_SIZE
    this.pageSizes = pageSizes.sort((a, b) => a - b);
    this.tableMaskLo = ~(granule - 1) >>> 0;
    this.packedHigh = granule === 65536;
    this.fastDecode = {
      tableMaskLo: this.tableMaskLo | 0,
      leafMaskLo: Int32Array.from(this.leafMaskLo),
      leafSize: Float64Array.from(this.blockSize),
      packedHigh: this.packedHigh,
    };
    this.name =
      `lpae-s${stage} ${sizeName(granule)} ias${ias} oas${oas}` +
      (concat > 1 ? ` concat${concat}` : "");
  }

  /** `iopte_leaf` / `iopte_table`; a block where the granule allows none is invalid. */
  kind(levelIndex: number, lo: number, _hi: number): DescKind {
    if ((lo & PTE_VALID) === 0) return DESC_INVALID;
    if (levelIndex === this.last) return lo & PTE_TYPE_BIT ? DESC_LEAF : DESC_INVALID;
    if (lo & PTE_TYPE_BIT) return DESC_TABLE;
    return this.blockSize[levelIndex]! > 0 ? DESC_LEAF : DESC_INVALID;
  }

  /** `iopte_to_paddr`, masked to the table or leaf alignment. */
  address(levelIndex: number, lo: number, hi: number): number {
    const leaf = levelIndex === this.last || (lo & PTE_TYPE_BIT) === 0;
    const mask = leaf ? this.leafMaskLo[levelIndex]! : this.tableMaskLo;
    let a = ((lo & mask) >>> 0) + (hi & HI_ADDR_MASK) * TWO_32;
    if (this.packedHigh) a += ((lo >>> 12) & 0xf) * TWO_48;
    return a;
  }

  /** `ARM_LPAE_BLOCK_SIZE(lvl)`: no contiguous-hint sizes. */
  leafSize(levelIndex: number, _lo: number, _hi: number): number {
    return this.blockSize[levelIndex]!;
  }

  perm(_levelIndex: number, lo: number, hi: number): number {
    let p = lo & PTE_AF ? PERM.AF : 0;
    if (this.stage === 1) {
      const write = (lo & PTE_AP_RDONLY) === 0;
      p |= PERM.READ_PRIV;
      if (write) p |= PERM.WRITE_PRIV;
      if ((hi & HI_PXN) === 0) p |= PERM.EXEC_PRIV;
      if (lo & PTE_AP_UNPRIV) {
        p |= PERM.READ_USER;
        if (write) p |= PERM.WRITE_USER;
      }
      if ((hi & HI_UXN) === 0) p |= PERM.EXEC_USER;
      if ((lo & PTE_NG) === 0) p |= PERM.GLOBAL;
    } else {
      if (lo & PTE_HAP_READ) p |= PERM.READ_PRIV | PERM.READ_USER;
      if (lo & PTE_HAP_WRITE) p |= PERM.WRITE_PRIV | PERM.WRITE_USER;
      if ((hi & HI_UXN) === 0) p |= PERM.EXEC_PRIV | PERM.EXEC_USER;
      p |= PERM.GLOBAL;
    }
    return p;
  }

  attributes(_levelIndex: number, lo: number, hi: number): LeafAttributes {
    const shareability = SH_NAMES[(lo >>> SH_SHIFT) & 3]!;
    const accessFlag = (lo & PTE_AF) !== 0;
    if (this.stage === 1) {
      return {
        read: true,
        write: (lo & PTE_AP_RDONLY) === 0,
        userExec: (hi & HI_UXN) === 0,
        privExec: (hi & HI_PXN) === 0,
        user: (lo & PTE_AP_UNPRIV) !== 0,
        memType: s1MemType((lo >>> ATTRINDX_SHIFT) & 7),
        shareability,
        accessFlag,
        notGlobal: (lo & PTE_NG) !== 0,
        ns: (lo & PTE_NS) !== 0,
      };
    }
    const exec = (hi & HI_UXN) === 0;
    return {
      read: (lo & PTE_HAP_READ) !== 0,
      write: (lo & PTE_HAP_WRITE) !== 0,
      userExec: exec,
      privExec: exec,
      user: true,
      memType: s2MemType((lo >>> MEMATTR_SHIFT) & 0xf),
      shareability,
      accessFlag,
      notGlobal: false,
      ns: false,
    };
  }

  /**
   * The prot that {@link encodeLeaf} turns into these attributes again, used to split a block
   * (Linux's `arm_lpae_split_blk_unmap`, before 6.13, copied the block's attribute bits into
   * the new table instead; for the bits Linux writes that is the same). Stage 1 always gives READ
   * (stage 1 cannot express write-only); stage 2 gives neither PRIV nor GLOBAL (it has no
   * such bits). Memory types other than the three Linux writes map to the closest prot.
   */
  protOf(_levelIndex: number, lo: number, hi: number): Prot {
    let prot = 0;
    let memType: MemType;
    if (this.stage === 1) {
      prot |= PROT.READ;
      if ((lo & PTE_AP_RDONLY) === 0) prot |= PROT.WRITE;
      if ((lo & PTE_AP_UNPRIV) === 0) prot |= PROT.PRIV;
      if (hi & HI_XN) prot |= PROT.NOEXEC;
      if ((lo & PTE_NG) === 0) prot |= PROT.GLOBAL;
      memType = s1MemType((lo >>> ATTRINDX_SHIFT) & 7);
    } else {
      if (lo & PTE_HAP_READ) prot |= PROT.READ;
      if (lo & PTE_HAP_WRITE) prot |= PROT.WRITE;
      if (hi & HI_UXN) prot |= PROT.NOEXEC;
      memType = s2MemType((lo >>> MEMATTR_SHIFT) & 0xf);
    }
    if (memType === "device") prot |= PROT.MMIO;
    else if (memType === "normal-wb") prot |= PROT.CACHE;
    if ((lo & PTE_AF) === 0) prot |= PROT.NO_AF;
    return prot;
  }

  /** `arm_lpae_install_table`: `paddr_to_iopte(table) | ARM_LPAE_PTE_TYPE_TABLE`. */
  encodeTable(levelIndex: number, tableAddr: number, out: Uint32Array): void {
    if (levelIndex < 0 || levelIndex >= this.last)
      fail("EINVAL", `${this.name}: no table descriptor at level index ${levelIndex}`);
    if (tableAddr % this.granule !== 0 || tableAddr < 0 || tableAddr >= 2 ** this.oas)
      fail(
        "EINVAL",
        `${this.name}: table address 0x${tableAddr.toString(16)} is not a ${this.granule}-aligned address below 2^${this.oas}`,
      );
    this.writeAddress(tableAddr, PTE_TYPE_TABLE, 0, out);
  }

  /**
   * A piece of a split leaf, as `arm_lpae_split_blk_unmap` makes it: `iopte_prot` of the leaf
   * (`ARM_LPAE_PTE_ATTR_MASK`: bits 11:2 and XN, PXN and DBM, the contiguous hint dropped) on a
   * leaf of `size` at level index `childLi` mapping `outputAddr`, so that no attribute the
   * prot flags cannot express (a shareability, a memory type) is lost.
   */
  splitLeaf(
    li: number,
    lo: number,
    hi: number,
    childLi: number,
    size: number,
    outputAddr: number,
    out: Uint32Array,
  ): void {
    this.encodeLeaf(childLi, size, outputAddr, this.protOf(li, lo, hi), out);
    out[0] = ((out[0]! & ~ATTR_LO_MASK) | (lo & ATTR_LO_MASK)) >>> 0;
    out[1] = ((out[1]! & ~ATTR_HI_MASK) | (hi & ATTR_HI_MASK)) >>> 0;
  }

  /**
   * `arm_lpae_prot_to_pte` | type (`__arm_lpae_init_pte`: page at level 3, else block) |
   * `paddr_to_iopte(outputAddr)`. The model flags {@link PROT.NO_AF} (AF clear) and
   * {@link PROT.GLOBAL} (nG clear, stage 1) extend it. Like prot_to_pte it does not refuse a
   * prot without READ or WRITE: the map operation does (`arm_lpae_map_pages`).
   */
  encodeLeaf(
    levelIndex: number,
    size: number,
    outputAddr: number,
    prot: Prot,
    out: Uint32Array,
  ): void {
    const block = this.blockSize[levelIndex];
    if (block === undefined || block === 0 || size !== block)
      fail("EINVAL", `${this.name}: no ${size}-byte leaf at level index ${levelIndex}`);
    // A mask rather than `%`, which is a slow floating-point remainder above 2^31.
    if (outputAddr < 0 || ((outputAddr >>> 0) & (size - 1)) !== 0)
      fail(
        "EINVAL",
        `${this.name}: output address 0x${outputAddr.toString(16)} is not aligned to ${size}`,
      );
    if (outputAddr >= this.outputLimit)
      fail(
        "ERANGE",
        `${this.name}: output address 0x${outputAddr.toString(16)} is beyond oas ${this.oas}`,
      );

    let lo = levelIndex === this.last ? PTE_TYPE_PAGE : PTE_TYPE_BLOCK;
    let hi = 0;
    if (this.stage === 1) {
      if ((prot & PROT.GLOBAL) === 0) lo |= PTE_NG;
      if (!(prot & PROT.WRITE) && prot & PROT.READ) lo |= PTE_AP_RDONLY;
      if (!(prot & PROT.PRIV)) lo |= PTE_AP_UNPRIV;
      if (prot & PROT.MMIO) lo |= LPAE_MAIR_IDX.DEV << ATTRINDX_SHIFT;
      else if (prot & PROT.CACHE) lo |= LPAE_MAIR_IDX.CACHE << ATTRINDX_SHIFT;
    } else {
      if (prot & PROT.READ) lo |= PTE_HAP_READ;
      if (prot & PROT.WRITE) lo |= PTE_HAP_WRITE;
      if (prot & PROT.MMIO) lo |= LPAE_S2_MEMATTR.DEV << MEMATTR_SHIFT;
      else if (prot & PROT.CACHE) lo |= LPAE_S2_MEMATTR.OIWB << MEMATTR_SHIFT;
      else lo |= LPAE_S2_MEMATTR.NC << MEMATTR_SHIFT;
    }
    // Linux: inner shareable for IOMMU_CACHE (even with IOMMU_MMIO), else outer.
    lo |= (prot & PROT.CACHE ? SH_IS : SH_OS) << SH_SHIFT;
    if (prot & PROT.NOEXEC) hi |= HI_XN;
    if ((prot & PROT.NO_AF) === 0) lo |= PTE_AF;
    this.writeAddress(outputAddr, lo, hi, out);
  }

  /** `paddr_to_iopte`: OA[47:12] in place; with the 64K granule OA[51:48] in bits 15:12. */
  private writeAddress(addr: number, lo: number, hi: number, out: Uint32Array): void {
    const addrHi = Math.floor(addr / TWO_32);
    let addrLo = addr % TWO_32;
    if (this.packedHigh) addrLo += (Math.floor(addr / TWO_48) & 0xf) << 12;
    out[0] = (lo | addrLo) >>> 0;
    out[1] = (hi | (addrHi & HI_ADDR_MASK)) >>> 0;
  }

  /** An invalid descriptor with the annotation in bits 9:2 (`kvm_init_invalid_leaf_owner`). */
  encodeInvalid(_levelIndex: number, annotation: number, out: Uint32Array): void {
    if (!Number.isInteger(annotation) || annotation < 0 || annotation > INVALID_ANNOTATION_MAX)
      fail("EINVAL", `${this.name}: annotation ${String(annotation)} is not 0..255`);
    out[0] = annotation << INVALID_ANNOTATION_SHIFT;
    out[1] = 0;
  }

  annotation(_levelIndex: number, lo: number, _hi: number): number {
    return (lo & PTE_VALID) !== 0 ? 0 : (lo >>> INVALID_ANNOTATION_SHIFT) & INVALID_ANNOTATION_MAX;
  }

  /** E.g. `"PAGE AF nG AP[1] SH=inner AttrIndx=1 XN"`; `"INVALID owner=3"` for an annotation. */
  describe(levelIndex: number, lo: number, hi: number): string {
    const kind = this.kind(levelIndex, lo, hi);
    if (kind === DESC_INVALID) return describeInvalid(lo, hi, this.annotation(levelIndex, lo, hi));
    const parts: string[] = [];
    if (kind === DESC_TABLE) {
      parts.push("TABLE");
      if (this.stage === 1) {
        if (hi & HI_NSTABLE) parts.push("NSTable");
        const apTable = (hi >>> HI_APTABLE_SHIFT) & 3;
        if (apTable) parts.push(`APTable=${apTable}`);
        if (hi & HI_UXNTABLE) parts.push("UXNTable");
        if (hi & HI_PXNTABLE) parts.push("PXNTable");
      }
      return parts.join(" ");
    }
    parts.push(levelIndex === this.last ? "PAGE" : "BLOCK");
    if (lo & PTE_AF) parts.push("AF");
    if (this.stage === 1) {
      if (lo & PTE_NG) parts.push("nG");
      if (lo & PTE_NS) parts.push("NS");
      if (lo & PTE_AP_UNPRIV) parts.push("AP[1]");
      if (lo & PTE_AP_RDONLY) parts.push("AP[2]");
      parts.push(`SH=${SH_TEXT[(lo >>> SH_SHIFT) & 3]}`);
      parts.push(`AttrIndx=${(lo >>> ATTRINDX_SHIFT) & 7}`);
    } else {
      const r = lo & PTE_HAP_READ ? "R" : "";
      const w = lo & PTE_HAP_WRITE ? "W" : "";
      parts.push(`S2AP=${r + w || "none"}`);
      parts.push(`SH=${SH_TEXT[(lo >>> SH_SHIFT) & 3]}`);
      parts.push(`MemAttr=0x${((lo >>> MEMATTR_SHIFT) & 0xf).toString(16)}`);
    }
    if (hi & HI_DBM) parts.push("DBM");
    if (hi & HI_CONT) parts.push("CONT");
    const xn = hi & HI_XN;
    if (xn === HI_XN) parts.push("XN");
    else if (xn === HI_UXN) parts.push(this.stage === 1 ? "UXN" : "XN[1]");
    else if (xn === HI_PXN) parts.push(this.stage === 1 ? "PXN" : "XN[0]");
    return parts.join(" ");
  }
}
