/**
 * The device attributes `smmu_map` takes (the seed's include/linux/vcm_types.h and the MSM
 * smmu_driver.h): one shareability attribute ORed with one cacheability attribute.
 *
 * Decisions where the sources are silent or the model is coarser than the hardware:
 * - The model has one cacheable memory type (Normal write-back, {@link PROT.CACHE}): WB_WA,
 *   WB_NWA and WT all give {@link PROT.CACHE} and so the same descriptor (the v7s encoder sets
 *   C and B); NONCACHED gives Normal non-cacheable. The attribute asked for is kept by the
 *   driver ({@link SmmuDev.mappings}), so nothing is lost for the caller.
 * - Shareability has no PROT bit: the v7s format as Linux programs it sets S in every leaf.
 *   NON_SH is recorded with the mapping but does not change the descriptor.
 * - Bits outside 0x07 are refused (EINVAL); the C driver would have masked them.
 */
import { hex } from "../../base/address.js";
import { fail } from "../../base/errors.js";
import { describeValue } from "../../base/validate.js";
import { PROT } from "../../mmu/prot.js";

/** Non-shareable (`VCM_DEV_ATTR_NON_SH`). */
export const VCM_DEV_ATTR_NON_SH = 0x00;
/** Shareable (`VCM_DEV_ATTR_SH`). */
export const VCM_DEV_ATTR_SH = 0x04;
/** Non-cacheable (`VCM_DEV_ATTR_NONCACHED`). */
export const VCM_DEV_ATTR_NONCACHED = 0x00;
/** Write-back, write-allocate (`VCM_DEV_ATTR_CACHED_WB_WA`). */
export const VCM_DEV_ATTR_CACHED_WB_WA = 0x01;
/** Write-back, no write-allocate (`VCM_DEV_ATTR_CACHED_WB_NWA`). */
export const VCM_DEV_ATTR_CACHED_WB_NWA = 0x02;
/** Write-through (`VCM_DEV_ATTR_CACHED_WT`). */
export const VCM_DEV_ATTR_CACHED_WT = 0x03;
/** `VCM_DEV_DEFAULT_ATTR`: shareable, non-cacheable. */
export const VCM_DEV_DEFAULT_ATTR = VCM_DEV_ATTR_SH | VCM_DEV_ATTR_NONCACHED;

/** The cacheability field of an attribute. */
export const VCM_DEV_ATTR_CACHE_MASK = 0x03;
/** The shareability field of an attribute. */
export const VCM_DEV_ATTR_SH_MASK = 0x04;
/** Every bit an attribute may have. */
export const VCM_DEV_ATTR_MASK = VCM_DEV_ATTR_SH_MASK | VCM_DEV_ATTR_CACHE_MASK;

export type DevCacheability = "NONCACHED" | "WB_WA" | "WB_NWA" | "WT";

const CACHEABILITY: readonly DevCacheability[] = ["NONCACHED", "WB_WA", "WB_NWA", "WT"];

/** EINVAL unless `attr` is an integer with no bits outside 0x07. */
export function checkDevAttr(attr: number, what = "device attribute"): void {
  if (!Number.isInteger(attr) || attr < 0)
    fail("EINVAL", `${what} ${describeValue(attr)} is not an attribute (0x00..0x07)`, "attr");
  if (attr > VCM_DEV_ATTR_MASK)
    fail(
      "EINVAL",
      `${what} ${hex(attr)} has bits ${hex(attr - (attr % 8))} outside ${hex(VCM_DEV_ATTR_MASK)}`,
      "attr",
    );
}

/** The cacheability of `attr` (EINVAL for a bad attribute). */
export function devAttrCacheability(attr: number): DevCacheability {
  checkDevAttr(attr);
  return CACHEABILITY[attr & VCM_DEV_ATTR_CACHE_MASK]!;
}

/** True if `attr` asks for shareable memory (EINVAL for a bad attribute). */
export function devAttrShareable(attr: number): boolean {
  checkDevAttr(attr);
  return (attr & VCM_DEV_ATTR_SH_MASK) !== 0;
}

/**
 * The PROT memory-type bits `attr` gives: {@link PROT.CACHE} for WB_WA, WB_NWA and WT, none
 * for NONCACHED; shareability gives none (see the module comment). EINVAL for bits outside 0x07.
 */
export function devAttrProt(attr: number): number {
  checkDevAttr(attr);
  return (attr & VCM_DEV_ATTR_CACHE_MASK) !== VCM_DEV_ATTR_NONCACHED ? PROT.CACHE : 0;
}

/** For messages and dumps: `"SH|WB_WA"`, `"NON_SH|NONCACHED"`. EINVAL for a bad attribute. */
export function describeDevAttr(attr: number): string {
  return `${devAttrShareable(attr) ? "SH" : "NON_SH"}|${devAttrCacheability(attr)}`;
}
