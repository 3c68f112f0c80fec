import { describe, expect, it } from "vitest";

import { expectError } from "../../base/errors.testutil.js";
import { PROT } from "../../mmu/prot.js";
import {
  checkDevAttr,
  describeDevAttr,
  devAttrCacheability,
  devAttrProt,
  devAttrShareable,
  VCM_DEV_ATTR_CACHED_WB_NWA,
  VCM_DEV_ATTR_CACHED_WB_WA,
  VCM_DEV_ATTR_CACHED_WT,
  VCM_DEV_ATTR_NON_SH,
  VCM_DEV_ATTR_NONCACHED,
  VCM_DEV_ATTR_SH,
  VCM_DEV_DEFAULT_ATTR,
} from "./dev-attr.js";

describe("VCM_DEV_ATTR_*", () => {
  it("has the values of vcm_types.h", () => {
    expect([
      VCM_DEV_ATTR_NON_SH,
      VCM_DEV_ATTR_SH,
      VCM_DEV_ATTR_NONCACHED,
      VCM_DEV_ATTR_CACHED_WB_WA,
      VCM_DEV_ATTR_CACHED_WB_NWA,
      VCM_DEV_ATTR_CACHED_WT,
      VCM_DEV_DEFAULT_ATTR,
    ]).toEqual([0x00, 0x04, 0x00, 0x01, 0x02, 0x03, 0x04]);
  });

  it.each([
    [VCM_DEV_ATTR_SH | VCM_DEV_ATTR_NONCACHED, 0, "SH|NONCACHED", true, "NONCACHED"],
    [VCM_DEV_ATTR_SH | VCM_DEV_ATTR_CACHED_WB_WA, PROT.CACHE, "SH|WB_WA", true, "WB_WA"],
    [VCM_DEV_ATTR_SH | VCM_DEV_ATTR_CACHED_WB_NWA, PROT.CACHE, "SH|WB_NWA", true, "WB_NWA"],
    [VCM_DEV_ATTR_SH | VCM_DEV_ATTR_CACHED_WT, PROT.CACHE, "SH|WT", true, "WT"],
    [VCM_DEV_ATTR_NON_SH | VCM_DEV_ATTR_NONCACHED, 0, "NON_SH|NONCACHED", false, "NONCACHED"],
    [VCM_DEV_ATTR_NON_SH | VCM_DEV_ATTR_CACHED_WB_WA, PROT.CACHE, "NON_SH|WB_WA", false, "WB_WA"],
    [
      VCM_DEV_ATTR_NON_SH | VCM_DEV_ATTR_CACHED_WB_NWA,
      PROT.CACHE,
      "NON_SH|WB_NWA",
      false,
      "WB_NWA",
    ],
    [VCM_DEV_ATTR_NON_SH | VCM_DEV_ATTR_CACHED_WT, PROT.CACHE, "NON_SH|WT", false, "WT"],
  ])("attr %i gives prot %i (%s)", (attr, prot, text, sh, cache) => {
    expect(devAttrProt(attr)).toBe(prot);
    expect(describeDevAttr(attr)).toBe(text);
    expect(devAttrShareable(attr)).toBe(sh);
    expect(devAttrCacheability(attr)).toBe(cache);
  });

  it.each([
    [0x08, "0x8 has bits 0x8 outside 0x7"],
    [0x0f, "0xf has bits 0x8 outside 0x7"],
    [0x104, "0x104 has bits 0x100 outside 0x7"],
    [2 ** 33 + 1, "0x200000001 has bits 0x200000000 outside 0x7"],
    [-1, "-1 is not an attribute"],
    [1.5, "1.5 is not an attribute"],
    [Number.NaN, "NaN is not an attribute"],
  ])("refuses attr %d: EINVAL naming it", (attr, text) => {
    for (const f of [devAttrProt, describeDevAttr, devAttrShareable, devAttrCacheability])
      expectError(() => f(attr), "EINVAL", text);
    expect(expectError(() => checkDevAttr(attr, "mine"), "EINVAL", "mine").field).toBe("attr");
  });
});
