/**
 * The ARMv7 short-descriptor format as Linux io-pgtable-arm-v7s builds it for SMMUs
 * (drivers/iommu/io-pgtable-arm-v7s.c, `ARM_V7S`): 32-bit input and output, two levels.
 *
 * - Level 1: 4096 entries of 1 MiB (a 16 KiB table): sections (1 MiB), supersections (16 MiB,
 *   one entry written 16 times, `ARM_V7S_CONT_SECTION`) and table descriptors pointing at level
 *   2 tables (1 KiB aligned, `ARM_V7S_TABLE_MASK`).
 * - Level 2: 256 entries of 4 KiB (a 1 KiB table): small pages (4 KiB) and large pages
 *   (64 KiB, one entry written 16 times, `ARM_V7S_PTE_TYPE_CONT_PAGE`).
 *
 * Encoding follows `arm_v7s_prot_to_pte` and `arm_v7s_pte_to_cont` (the 16-fold "contiguous"
 * entries), the table descriptor `arm_v7s_install_table`; decoding follows
 * `ARM_V7S_PTE_IS_VALID` / `ARM_V7S_PTE_IS_TABLE`, `arm_v7s_pte_is_cont`, `iopte_to_paddr`
 * and the former `arm_v7s_pte_to_prot` / `arm_v7s_cont_to_pte`. Linux sets neither
 * `IO_PGTABLE_QUIRK_NO_PERMS` nor the MediaTek address extensions here.
 *
 * The attribute bits {AP0/AF, AP1/UNPRIV, TEX[2:0], AP2/RDONLY, S, nG} form one 8-bit block at
 * bit 10 of a level-1 entry and bit 4 of a level-2 entry (`ARM_V7S_ATTR_SHIFT`), except that a
 * large page keeps TEX in bits 14:12 and XN in bit 15.
 *
 * Memory types are decoded with TEX remap as Linux programs it (`arm_v7s_alloc_pgtable`: PRRR
 * and NMRR): the index is TEX[0]:C:B; index 1 is Device, 4 Normal non-cacheable, 7 Normal
 * write-back (inner shareable when S, `ARM_V7S_PRRR_NOS(7)`), and the others Strongly-ordered
 * (reported as "device"). Device and Strongly-ordered memory is shareable regardless of S
 * (`ARM_V7S_PRRR_DS0/DS1`); Normal memory is shareable when S is set (`ARM_V7S_PRRR_NS1`).
 */
import { fail } from "../base/errors.js";
import type { DescKind, LevelInfo, PageTableFormat } from "./format.js";
import { DESC_INVALID, DESC_LEAF, DESC_TABLE, describeInvalid } from "./format.js";
import type { LeafAttributes, MemType, Prot, Shareability } from "./prot.js";
import { PERM, PROT } from "./prot.js";

export interface V7sOptions {
  /**
   * `IO_PGTABLE_QUIRK_ARM_NS`: set NS in sections and supersections (`ARM_V7S_ATTR_NS_SECTION`,
   * bit 19) and in level-1 table descriptors (`ARM_V7S_ATTR_NS_TABLE`, bit 3).
   */
  ns?: boolean;
}

const K = 1024;
const M = 1024 * K;

/** `ARM_V7S_PTE_TYPE_TABLE` (level 1) and `ARM_V7S_PTE_TYPE_CONT_PAGE` (level 2). */
const TYPE_TABLE = 0x1;
const TYPE_CONT_PAGE = 0x1;
/** `ARM_V7S_PTE_TYPE_PAGE`: sections and small pages. */
const TYPE_PAGE = 0x2;
/** Level 1 section: PXN (bit 0, if implemented; Linux never sets it). */
const SECTION_PXN = 1 << 0;
/** Level 1 table: PXN (bit 2). */
const TABLE_PXN = 1 << 2;
const ATTR_B = 1 << 2;
const ATTR_C = 1 << 3;
/** `ARM_V7S_ATTR_XN(1)` and `ARM_V7S_ATTR_XN(2)`. */
const XN_L1 = 1 << 4;
const XN_L2 = 1 << 0;
const NS_TABLE = 1 << 3;
const NS_SECTION = 1 << 19;
/** `ARM_V7S_CONT_SECTION`: a supersection. */
const CONT_SECTION = 1 << 18;
/** `ARM_V7S_CONT_PAGE_XN_SHIFT`: XN of a large page (bit 15). */
const CONT_PAGE_XN = 1 << 15;
/** TEX of a large page: bits 14:12. */
const CONT_PAGE_TEX_SHIFT = 12;

/** `ARM_V7S_ATTR_SHIFT(lvl)`: 10 for level 1, 4 for level 2. */
const ATTR_SHIFT_L1 = 10;
const ATTR_SHIFT_L2 = 4;
// Bits within the 8-bit attribute block.
const ATTR_AF = 1 << 0; // AP0 with the access flag enabled
const ATTR_UNPRIV = 1 << 1; // AP1
const ATTR_TEX_SHIFT = 2;
const ATTR_RDONLY = 1 << 5; // AP2
const ATTR_S = 1 << 6;
const ATTR_NG = 1 << 7;

/** `ARM_V7S_LVL_MASK(1)`, its supersection variant, `ARM_V7S_LVL_MASK(2)`, large pages. */
const SECTION_MASK = 0xfff00000;
const SUPERSECTION_MASK = 0xff000000;
const SMALL_MASK = 0xfffff000;
const LARGE_MASK = 0xffff0000;
/** `ARM_V7S_TABLE_MASK`. */
const TABLE_MASK = 0xfffffc00;

/** TEX-remap index TEX[0]:C:B -> memory type, with Linux's PRRR/NMRR. */
function memTypeOf(tex: number, lo: number): MemType {
  const idx = ((tex & 1) << 2) | (lo & ATTR_C ? 2 : 0) | (lo & ATTR_B ? 1 : 0);
  return idx === 7 ? "normal-wb" : idx === 4 ? "normal-nc" : "device";
}

function shareabilityOf(memType: MemType, s: boolean): Shareability {
  if (memType === "device") return "outer";
  if (!s) return "non";
  return memType === "normal-wb" ? "inner" : "outer";
}

/** The parts of a leaf that the decoders need, wherever the entry keeps them. */
interface LeafBits {
  attr: number;
  tex: number;
  xn: boolean;
  pxn: boolean;
}

function leafBits(levelIndex: number, lo: number, out: LeafBits): LeafBits {
  if (levelIndex === 0) {
    out.attr = (lo >>> ATTR_SHIFT_L1) & 0xff;
    out.tex = (out.attr >>> ATTR_TEX_SHIFT) & 7;
    out.xn = (lo & XN_L1) !== 0;
    out.pxn = (lo & SECTION_PXN) !== 0;
  } else if (lo & TYPE_PAGE) {
    out.attr = (lo >>> ATTR_SHIFT_L2) & 0xff;
    out.tex = (out.attr >>> ATTR_TEX_SHIFT) & 7;
    out.xn = (lo & XN_L2) !== 0;
    out.pxn = false;
  } else {
    // Large page (arm_v7s_cont_to_pte): TEX in 14:12, XN in bit 15.
    out.attr = (lo >>> ATTR_SHIFT_L2) & 0xff;
    out.tex = (lo >>> CONT_PAGE_TEX_SHIFT) & 7;
    out.xn = (lo & CONT_PAGE_XN) !== 0;
    out.pxn = false;
  }
  return out;
}

const LEVELS: readonly LevelInfo[] = [
  {
    level: 1,
    shift: 20,
    entries: 4096,
    tableBytes: 16 * K,
    leafSizes: [1 * M, 16 * M],
    hasTables: true,
  },
  {
    level: 2,
    shift: 12,
    entries: 256,
    tableBytes: 1 * K,
    leafSizes: [4 * K, 64 * K],
    hasTables: false,
  },
];

/**
 * The ARMv7 short-descriptor format (io-pgtable-arm-v7s), optionally with the NS quirk.
 *
 * @example
 * const f = createV7sFormat();
 * f.pageSizes; // [4096, 65536, 1048576, 16777216]
 */
export function createV7sFormat(options: V7sOptions = {}): PageTableFormat {
  return new V7sFormat(options.ns === true);
}

class V7sFormat implements PageTableFormat {
  readonly name: string;
  readonly family = "v7s" as const;
  readonly stage = 1 as const;
  readonly granule = 4 * K;
  readonly ias = 32;
  readonly oas = 32;
  readonly descriptorBytes = 4 as const;
  readonly levels = LEVELS;
  readonly rootEntries = 4096;
  readonly rootBytes = 16 * K;
  readonly pageSizes: readonly number[] = [4 * K, 64 * K, 1 * M, 16 * M];
  /** Bits 9:2 of a fault entry (the hardware ignores bits 31:2), as for AArch64. */
  readonly maxAnnotation = 0xff;
  private readonly bits: LeafBits = { attr: 0, tex: 0, xn: false, pxn: false };

  constructor(private readonly ns: boolean) {
    this.name = ns ? "v7s ns" : "v7s";
  }

  /** `ARM_V7S_PTE_IS_VALID` / `ARM_V7S_PTE_IS_TABLE`. */
  kind(levelIndex: number, lo: number, _hi: number): DescKind {
    const type = lo & 3;
    if (type === 0) return DESC_INVALID;
    if (levelIndex === 0 && type === TYPE_TABLE) return DESC_TABLE;
    return DESC_LEAF;
  }

  /** `iopte_to_paddr` (without the MediaTek extension bits). */
  address(levelIndex: number, lo: number, _hi: number): number {
    if (levelIndex === 0) {
      if ((lo & 3) === TYPE_TABLE) return (lo & TABLE_MASK) >>> 0;
      return (lo & (lo & CONT_SECTION ? SUPERSECTION_MASK : SECTION_MASK)) >>> 0;
    }
    return (lo & (lo & TYPE_PAGE ? SMALL_MASK : LARGE_MASK)) >>> 0;
  }

  leafSize(levelIndex: number, lo: number, _hi: number): number {
    if (levelIndex === 0) return lo & CONT_SECTION ? 16 * M : 1 * M;
    return lo & TYPE_PAGE ? 4 * K : 64 * K;
  }

  perm(levelIndex: number, lo: number, _hi: number): number {
    const b = leafBits(levelIndex, lo, this.bits);
    let p = b.attr & ATTR_AF ? PERM.AF | PERM.READ_PRIV : PERM.READ_PRIV;
    const write = (b.attr & ATTR_RDONLY) === 0;
    if (write) p |= PERM.WRITE_PRIV;
    if (!b.xn && !b.pxn) p |= PERM.EXEC_PRIV;
    if (b.attr & ATTR_UNPRIV) {
      p |= PERM.READ_USER;
      if (write) p |= PERM.WRITE_USER;
    }
    if (!b.xn) p |= PERM.EXEC_USER;
    if ((b.attr & ATTR_NG) === 0) p |= PERM.GLOBAL;
    return p;
  }

  /**
   * Simplified access permissions (AP[2:1], AP0 as the access flag). `ns` is the section's NS
   * bit; a level-2 entry has none (it inherits the NS of the level-1 table descriptor), so it
   * reads false there.
   */
  attributes(levelIndex: number, lo: number, _hi: number): LeafAttributes {
    const b = leafBits(levelIndex, lo, this.bits);
    const memType = memTypeOf(b.tex, lo);
    return {
      read: true,
      write: (b.attr & ATTR_RDONLY) === 0,
      userExec: !b.xn,
      privExec: !b.xn && !b.pxn,
      user: (b.attr & ATTR_UNPRIV) !== 0,
      memType,
      shareability: shareabilityOf(memType, (b.attr & ATTR_S) !== 0),
      accessFlag: (b.attr & ATTR_AF) !== 0,
      notGlobal: (b.attr & ATTR_NG) !== 0,
      ns: levelIndex === 0 && (lo & NS_SECTION) !== 0,
    };
  }

  /**
   * `arm_v7s_pte_to_prot` (after `arm_v7s_cont_to_pte`), plus NO_AF and GLOBAL. Decision: the
   * memory type decides MMIO / CACHE (Linux looks at TEX == 0 and C); both agree on every
   * entry Linux writes.
   */
  protOf(levelIndex: number, lo: number, _hi: number): Prot {
    const b = leafBits(levelIndex, lo, this.bits);
    let prot = PROT.READ;
    if ((b.attr & ATTR_RDONLY) === 0) prot |= PROT.WRITE;
    if ((b.attr & ATTR_UNPRIV) === 0) prot |= PROT.PRIV;
    const memType = memTypeOf(b.tex, lo);
    if (memType === "device") prot |= PROT.MMIO;
    else if (memType === "normal-wb") prot |= PROT.CACHE;
    if (b.xn) prot |= PROT.NOEXEC;
    if ((b.attr & ATTR_AF) === 0) prot |= PROT.NO_AF;
    if ((b.attr & ATTR_NG) === 0) prot |= PROT.GLOBAL;
    return prot;
  }

  /** `arm_v7s_install_table`: `phys | ARM_V7S_PTE_TYPE_TABLE` (| NS_TABLE with the quirk). */
  encodeTable(levelIndex: number, tableAddr: number, out: Uint32Array): void {
    if (levelIndex !== 0)
      fail("EINVAL", `${this.name}: no table descriptor at level index ${levelIndex}`);
    if (tableAddr % K !== 0 || tableAddr < 0 || tableAddr >= 2 ** 32)
      fail(
        "EINVAL",
        `${this.name}: table address 0x${tableAddr.toString(16)} is not a 1 KiB-aligned 32-bit address`,
      );
    out[0] = (tableAddr | TYPE_TABLE | (this.ns ? NS_TABLE : 0)) >>> 0;
    out[1] = 0;
  }

  /**
   * `arm_v7s_prot_to_pte`, then `arm_v7s_pte_to_cont` for 64 KiB and 16 MiB, then the output
   * address (`paddr_to_iopte`). The model flags {@link PROT.NO_AF} (AP0 clear) and
   * {@link PROT.GLOBAL} (nG clear) extend it.
   */
  encodeLeaf(
    levelIndex: number,
    size: number,
    outputAddr: number,
    prot: Prot,
    out: Uint32Array,
  ): void {
    const cont = levelIndex === 0 ? size === 16 * M : size === 64 * K;
    const single = levelIndex === 0 ? size === 1 * M : size === 4 * K;
    if ((levelIndex !== 0 && levelIndex !== 1) || (!cont && !single))
      fail("EINVAL", `${this.name}: no ${size}-byte leaf at level index ${levelIndex}`);
    if (outputAddr % size !== 0 || outputAddr < 0)
      fail(
        "EINVAL",
        `${this.name}: output address 0x${outputAddr.toString(16)} is not aligned to ${size}`,
      );
    if (outputAddr >= 2 ** 32)
      fail("ERANGE", `${this.name}: output address 0x${outputAddr.toString(16)} is beyond oas 32`);

    let attr = ATTR_S;
    if ((prot & PROT.GLOBAL) === 0) attr |= ATTR_NG;
    if (!(prot & PROT.MMIO)) attr |= 1 << ATTR_TEX_SHIFT; // ARM_V7S_ATTR_TEX(1)
    if ((prot & PROT.NO_AF) === 0) attr |= ATTR_AF;
    if (!(prot & PROT.PRIV)) attr |= ATTR_UNPRIV;
    if (!(prot & PROT.WRITE)) attr |= ATTR_RDONLY;
    let pte = attr << (levelIndex === 0 ? ATTR_SHIFT_L1 : ATTR_SHIFT_L2);
    if (prot & PROT.NOEXEC) pte |= levelIndex === 0 ? XN_L1 : XN_L2;
    if (prot & PROT.MMIO) pte |= ATTR_B;
    else if (prot & PROT.CACHE) pte |= ATTR_B | ATTR_C;
    pte |= TYPE_PAGE;
    if (levelIndex === 0 && this.ns) pte |= NS_SECTION;

    if (cont) {
      if (levelIndex === 0) {
        pte |= CONT_SECTION;
      } else {
        const xn = pte & XN_L2;
        const tex = pte & (7 << (ATTR_SHIFT_L2 + ATTR_TEX_SHIFT));
        pte ^= xn | tex | TYPE_PAGE;
        pte |= (xn << 15) | (tex << 6) | TYPE_CONT_PAGE;
      }
    }
    pte |= outputAddr & (levelIndex === 0 ? SECTION_MASK : SMALL_MASK);
    out[0] = pte >>> 0;
    out[1] = 0;
  }

  /** A fault entry (type 00) with the annotation in bits 9:2. */
  encodeInvalid(_levelIndex: number, annotation: number, out: Uint32Array): void {
    if (!Number.isInteger(annotation) || annotation < 0 || annotation > 0xff)
      fail("EINVAL", `${this.name}: annotation ${String(annotation)} is not 0..255`);
    out[0] = annotation << 2;
    out[1] = 0;
  }

  annotation(_levelIndex: number, lo: number, _hi: number): number {
    return (lo & 3) !== 0 ? 0 : (lo >>> 2) & 0xff;
  }

  /** E.g. `"SECTION AF nG AP[1] S TEX=1 B C XN"`; `"INVALID owner=3"` for an annotation. */
  describe(levelIndex: number, lo: number, hi: number): string {
    const kind = this.kind(levelIndex, lo, hi);
    if (kind === DESC_INVALID) return describeInvalid(lo, 0, this.annotation(levelIndex, lo, hi));
    const parts: string[] = [];
    if (kind === DESC_TABLE) {
      parts.push("TABLE");
      if (lo & NS_TABLE) parts.push("NS");
      if (lo & TABLE_PXN) parts.push("PXN");
      const domain = (lo >>> 5) & 0xf;
      if (domain) parts.push(`Domain=${domain}`);
      return parts.join(" ");
    }
    if (levelIndex === 0) parts.push(lo & CONT_SECTION ? "SUPERSECTION" : "SECTION");
    else parts.push(lo & TYPE_PAGE ? "SMALL-PAGE" : "LARGE-PAGE");
    const b = leafBits(levelIndex, lo, this.bits);
    if (b.attr & ATTR_AF) parts.push("AF");
    if (b.attr & ATTR_NG) parts.push("nG");
    if (b.attr & ATTR_UNPRIV) parts.push("AP[1]");
    if (b.attr & ATTR_RDONLY) parts.push("AP[2]");
    if (b.attr & ATTR_S) parts.push("S");
    parts.push(`TEX=${b.tex}`);
    if (lo & ATTR_B) parts.push("B");
    if (lo & ATTR_C) parts.push("C");
    if (b.xn) parts.push("XN");
    if (b.pxn) parts.push("PXN");
    if (levelIndex === 0 && lo & NS_SECTION) parts.push("NS");
    return parts.join(" ");
  }
}
