/**
 * The attribute words of `include/linux/vcm.h`, bit for bit, and what they mean to the model.
 *
 * - Reservation attributes (`vcm_reserve`, `vcm_reserve_at`, `vcm_set_res_attr`,
 *   `vcm_reserve_from_bound`): cache policy [3:0], VCM_SECURE b4, VCM_SUPERVISOR b5, VCM_USER b6,
 *   VCM_EXECUTE b7, VCM_WRITE b8, VCM_READ b9, alignment VCM_ALIGN_ATTR(order) [14:10].
 * - Physical allocation attributes (`vcm_phys_alloc`): VCM_COHERENT b0, VCM_PHYS_CONT b1, the
 *   page-size selection VCM_ALL b2, VCM_1MB b3, VCM_64KB b4, VCM_4KB b5, and an alignment field
 *   [10:6] (`ALIGN_REQ_BYTES`: 1 << (field + 12)).
 * - Association attributes (`vcm_assoc`, `vcm_set_assoc_attr`): VCM_USE_HIGH_BASE b1,
 *   VCM_USE_LOW_BASE b2, VCM_SPLIT b3.
 *
 * Decisions where the header is silent or contradicts itself:
 * - The physical alignment field: the header's comment says "1 = 4KB, 2 = 8KB", its macro
 *   `ALIGN_REQ_BYTES` gives 1 << (field + 12) ("0 = 4KB") over an undefined
 *   VCM_ALIGNMENT_MASK shifted by 6. memweave follows the macro for bits [10:6] (field n asks
 *   for 2^(n+12)), and reads 0 as "no request": a contiguous allocation is then aligned as v3
 *   aligned its contiguous reservations (1M from 1M on, 64K from 64K on, else 4K).
 * - The cache policies the header lists beyond the four it defines (inner/outer variants) have
 *   no values; values 4..15 are refused (EINVAL), as `vcm_to_smmu_attr` refuses them.
 * - Memory types: VCM_NOTCACHED is normal non-cacheable; VCM_WB_WA, VCM_WB_NWA and VCM_WT are
 *   cacheable (the model's one cacheable type, `normal-wb`: it tells an alias apart, which is
 *   what the attribute matters for here).
 * - Rights: VCM_READ, VCM_WRITE, VCM_EXECUTE as they say; VCM_SUPERVISOR without VCM_USER maps
 *   for privileged accesses only (devices make unprivileged accesses, as Linux DMA does); with
 *   VCM_USER, or neither, unprivileged accesses are allowed. VCM_SECURE ("usage TBD") is kept in
 *   the attributes and changes nothing.
 * - VCM_SPLIT is defined as one bit though its comment calls it a 5-bit field; it is a flag.
 *   The header's `VCM_ATTR_VALID` (named in `vcm_assoc`'s comment) is never defined: no bit is
 *   required.
 */
import { fail } from "../base/errors.js";
import { formatSize } from "../base/size.js";
import { describeValue } from "../base/validate.js";
import type { MemType } from "../mmu/prot.js";
import { PROT } from "../mmu/prot.js";

// --- Reservation attributes -------------------------------------------------------------------

export const VCM_CACHE_POLICY = 0xf;
export const VCM_NOTCACHED = 0;
export const VCM_WB_WA = 1;
export const VCM_WB_NWA = 2;
export const VCM_WT = 3;
export const VCM_SECURE = 1 << 4;
export const VCM_SUPERVISOR = 1 << 5;
export const VCM_USER = 1 << 6;
export const VCM_EXECUTE = 1 << 7;
export const VCM_WRITE = 1 << 8;
export const VCM_READ = 1 << 9;

export const VCM_ALIGN_SHIFT = 10;
export const VCM_ALIGN_MASK = 0x1f;
/** `VCM_ALIGN_ATTR(order)`: alignment 2^order (12 = 4K ... 30 = 1G). */
export function VCM_ALIGN_ATTR(order: number): number {
  return (order & VCM_ALIGN_MASK) << VCM_ALIGN_SHIFT;
}
export const VCM_ALIGN_DEFAULT = 0;
export const VCM_ALIGN_4K = VCM_ALIGN_ATTR(12);
export const VCM_ALIGN_8K = VCM_ALIGN_ATTR(13);
export const VCM_ALIGN_16K = VCM_ALIGN_ATTR(14);
export const VCM_ALIGN_32K = VCM_ALIGN_ATTR(15);
export const VCM_ALIGN_64K = VCM_ALIGN_ATTR(16);
export const VCM_ALIGN_128K = VCM_ALIGN_ATTR(17);
export const VCM_ALIGN_256K = VCM_ALIGN_ATTR(18);
export const VCM_ALIGN_512K = VCM_ALIGN_ATTR(19);
export const VCM_ALIGN_1M = VCM_ALIGN_ATTR(20);
export const VCM_ALIGN_2M = VCM_ALIGN_ATTR(21);
export const VCM_ALIGN_4M = VCM_ALIGN_ATTR(22);
export const VCM_ALIGN_8M = VCM_ALIGN_ATTR(23);
export const VCM_ALIGN_16M = VCM_ALIGN_ATTR(24);
export const VCM_ALIGN_32M = VCM_ALIGN_ATTR(25);
export const VCM_ALIGN_64M = VCM_ALIGN_ATTR(26);
export const VCM_ALIGN_128M = VCM_ALIGN_ATTR(27);
export const VCM_ALIGN_256M = VCM_ALIGN_ATTR(28);
export const VCM_ALIGN_512M = VCM_ALIGN_ATTR(29);
export const VCM_ALIGN_1GB = VCM_ALIGN_ATTR(30);

/** Every bit a reservation attribute may have. */
const RES_BITS =
  VCM_CACHE_POLICY |
  VCM_SECURE |
  VCM_SUPERVISOR |
  VCM_USER |
  VCM_EXECUTE |
  VCM_WRITE |
  VCM_READ |
  (VCM_ALIGN_MASK << VCM_ALIGN_SHIFT);

// --- Physical allocation attributes ----------------------------------------------------------

export const VCM_COHERENT = 1 << 0;
export const VCM_PHYS_CONT = 1 << 1;
export const VCM_ALL = 1 << 2;
export const VCM_1MB = 1 << 3;
export const VCM_64KB = 1 << 4;
export const VCM_4KB = 1 << 5;
export const VCM_PAGE_SEL_MASK = 0xf << 2;
export const VCM_PHYS_ALIGN_SHIFT = 6;
export const VCM_PHYS_ALIGN_MASK = 0x1f << VCM_PHYS_ALIGN_SHIFT;
/** `SET_ALIGN_REQ_BYTES(attr, align)` with align as a power of two from 4 KiB (0 = 4K). */
export function VCM_PHYS_ALIGN(order: number): number {
  return ((order - 12) << VCM_PHYS_ALIGN_SHIFT) & VCM_PHYS_ALIGN_MASK;
}
const PHYS_BITS = VCM_COHERENT | VCM_PHYS_CONT | VCM_PAGE_SEL_MASK | VCM_PHYS_ALIGN_MASK;

// --- Association attributes ------------------------------------------------------------------

export const VCM_USE_HIGH_BASE = 1 << 1;
export const VCM_USE_LOW_BASE = 1 << 2;
export const VCM_SPLIT = 1 << 3;
const ASSOC_BITS = VCM_USE_HIGH_BASE | VCM_USE_LOW_BASE | VCM_SPLIT;

// --- Other constants ---------------------------------------------------------------------------

/** `vcm_create_from_prebuilt` ids. */
export const VCM_PREBUILT_KERNEL = 1;
export const VCM_PREBUILT_USER = 2;

/** `enum memtarget_t`: the one logical location, the start of the VCM. */
export const VCM_START = 0;

/** `enum memtype_t`. */
export const VCM_INVALID = 0;
export const VCM_MEMTYPE_0 = 1;
export const VCM_MEMTYPE_1 = 2;
export const VCM_MEMTYPE_2 = 3;
export type Memtype = typeof VCM_MEMTYPE_0 | typeof VCM_MEMTYPE_1 | typeof VCM_MEMTYPE_2;

/** `vcm_get_min_page_size()`: the architecture's page, 4 KiB. */
export const VCM_MIN_PAGE_SIZE = 4096;

// --- Decoding ----------------------------------------------------------------------------------

function hexAttr(attr: number): string {
  return "0x" + (attr >>> 0).toString(16);
}

/** `"vcm_reserve: dev: "` in front of a message, or nothing. */
function at(context: string | undefined): string {
  return context === undefined ? "" : `${context}: `;
}

function checkWord(what: string, attr: number, bits: number): void {
  if (!Number.isInteger(attr) || attr < 0 || attr > 0xffff_ffff)
    fail("EINVAL", `${what} ${describeValue(attr)} is not a 32-bit attribute word`);
  const extra = attr & ~bits;
  if (extra !== 0)
    fail(
      "EINVAL",
      `${what} ${hexAttr(attr)} has bits ${hexAttr(extra)} the header does not define`,
    );
}

/**
 * Check a reservation attribute word (EINVAL naming what is wrong; `context`, e.g.
 * `"vcm_reserve: dev"`, leads the message).
 */
export function checkResAttr(attr: number, context?: string): void {
  const what = `${at(context)}reservation attribute`;
  checkWord(what, attr, RES_BITS);
  const policy = attr & VCM_CACHE_POLICY;
  if (policy > VCM_WT)
    fail("EINVAL", `${what} ${hexAttr(attr)}: cache policy ${policy} is not defined`);
  const order = (attr >>> VCM_ALIGN_SHIFT) & VCM_ALIGN_MASK;
  if (order !== 0 && (order < 12 || order > 30))
    fail(
      "EINVAL",
      `${what} ${hexAttr(attr)}: alignment order ${order} is outside 12 (4K) .. 30 (1G)`,
    );
}

/** The alignment a reservation attribute asks for, or undefined for the default. */
export function resAlignment(attr: number): number | undefined {
  const order = (attr >>> VCM_ALIGN_SHIFT) & VCM_ALIGN_MASK;
  return order === 0 ? undefined : 2 ** order;
}

/** The memory type of a reservation's mappings. */
export function resMemType(attr: number): MemType {
  return (attr & VCM_CACHE_POLICY) === VCM_NOTCACHED ? "normal-nc" : "normal-wb";
}

/**
 * The {@link PROT} bits of a reservation's mappings. EINVAL when the attributes grant neither
 * read nor write (nothing could be mapped); `context` leads the message.
 */
export function resProt(attr: number, context?: string): number {
  if ((attr & (VCM_READ | VCM_WRITE)) === 0)
    fail(
      "EINVAL",
      `${at(context)}reservation attribute ${hexAttr(attr)} grants neither VCM_READ nor VCM_WRITE: nothing to map`,
    );
  let prot = 0;
  if (attr & VCM_READ) prot |= PROT.READ;
  if (attr & VCM_WRITE) prot |= PROT.WRITE;
  if (!(attr & VCM_EXECUTE)) prot |= PROT.NOEXEC;
  if (attr & VCM_SUPERVISOR && !(attr & VCM_USER)) prot |= PROT.PRIV;
  if ((attr & VCM_CACHE_POLICY) !== VCM_NOTCACHED) prot |= PROT.CACHE;
  return prot;
}

const POLICY_NAMES = ["NOTCACHED", "WB_WA", "WB_NWA", "WT"];

/** `VCM_READ|VCM_WRITE|WB_WA|ALIGN_1M` for people. */
export function describeResAttr(attr: number): string {
  const parts: string[] = [];
  for (const [bit, name] of [
    [VCM_READ, "READ"],
    [VCM_WRITE, "WRITE"],
    [VCM_EXECUTE, "EXECUTE"],
    [VCM_USER, "USER"],
    [VCM_SUPERVISOR, "SUPERVISOR"],
    [VCM_SECURE, "SECURE"],
  ] as const)
    if (attr & bit) parts.push(name);
  parts.push(POLICY_NAMES[attr & VCM_CACHE_POLICY] ?? `policy ${attr & VCM_CACHE_POLICY}`);
  const align = resAlignment(attr);
  if (align !== undefined) parts.push(`ALIGN_${formatSize(align)}`);
  return parts.join("|");
}

/** What a physical allocation attribute word asks of the chunk pools. */
export interface PhysRequest {
  readonly contiguous: boolean;
  readonly coherent: boolean;
  /** The chunk sizes allowed (undefined: all, VCM_ALL or no selection bit). */
  readonly sizes: readonly number[] | undefined;
  /** The alignment asked for; undefined when the field is 0 (the default). */
  readonly align: number | undefined;
}

/** Decode a physical allocation attribute word (EINVAL naming a bad bit; `context` leads). */
export function physRequest(attr: number, context?: string): PhysRequest {
  checkWord(`${at(context)}physical allocation attribute`, attr, PHYS_BITS);
  const field = (attr & VCM_PHYS_ALIGN_MASK) >>> VCM_PHYS_ALIGN_SHIFT;
  const order = field + 12;
  if (order > 30)
    fail(
      "EINVAL",
      `${at(context)}physical allocation attribute ${hexAttr(attr)}: alignment 2^${order} is beyond 1G`,
    );
  const sel = attr & VCM_PAGE_SEL_MASK;
  let sizes: number[] | undefined;
  if (sel !== 0 && !(sel & VCM_ALL)) {
    sizes = [];
    if (sel & VCM_1MB) sizes.push(1 << 20);
    if (sel & VCM_64KB) sizes.push(64 << 10);
    if (sel & VCM_4KB) sizes.push(4 << 10);
  }
  return {
    contiguous: (attr & VCM_PHYS_CONT) !== 0,
    coherent: (attr & VCM_COHERENT) !== 0,
    sizes,
    align: field === 0 ? undefined : 2 ** order,
  };
}

/** `PHYS_CONT|1MB|64KB` for people. */
export function describePhysAttr(attr: number): string {
  const parts: string[] = [];
  for (const [bit, name] of [
    [VCM_PHYS_CONT, "PHYS_CONT"],
    [VCM_COHERENT, "COHERENT"],
    [VCM_ALL, "ALL"],
    [VCM_1MB, "1MB"],
    [VCM_64KB, "64KB"],
    [VCM_4KB, "4KB"],
  ] as const)
    if (attr & bit) parts.push(name);
  const order = ((attr & VCM_PHYS_ALIGN_MASK) >>> VCM_PHYS_ALIGN_SHIFT) + 12;
  if (order > 12) parts.push(`ALIGN_${formatSize(2 ** order)}`);
  return parts.length > 0 ? parts.join("|") : "0";
}

/**
 * Check an association attribute word (EINVAL naming a bad bit; low and high exclude;
 * `context` leads the message).
 */
export function checkAssocAttr(attr: number, context?: string): void {
  checkWord(`${at(context)}association attribute`, attr, ASSOC_BITS);
  if (attr & VCM_USE_HIGH_BASE && attr & VCM_USE_LOW_BASE)
    fail(
      "EINVAL",
      `${at(context)}association attribute ${hexAttr(attr)} asks for both VCM_USE_HIGH_BASE and VCM_USE_LOW_BASE`,
    );
}

/** `USE_LOW_BASE|SPLIT` for people. */
export function describeAssocAttr(attr: number): string {
  const parts: string[] = [];
  if (attr & VCM_USE_LOW_BASE) parts.push("USE_LOW_BASE");
  if (attr & VCM_USE_HIGH_BASE) parts.push("USE_HIGH_BASE");
  if (attr & VCM_SPLIT) parts.push("SPLIT");
  return parts.length > 0 ? parts.join("|") : "0";
}

/** Check a memtype (EINVAL for VCM_INVALID or an unknown value). */
export function checkMemtype(memtype: number): asserts memtype is Memtype {
  if (memtype !== VCM_MEMTYPE_0 && memtype !== VCM_MEMTYPE_1 && memtype !== VCM_MEMTYPE_2)
    fail(
      "EINVAL",
      `memtype ${describeValue(memtype)} is not VCM_MEMTYPE_0 (1), VCM_MEMTYPE_1 (2) or VCM_MEMTYPE_2 (3)`,
    );
}

/** `VCM_MEMTYPE_0` for a memtype value. */
export function memtypeName(memtype: number): string {
  return memtype >= 1 && memtype <= 3 ? `VCM_MEMTYPE_${memtype - 1}` : "VCM_INVALID";
}
