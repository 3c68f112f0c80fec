/**
 * The attribute words of attrs.ts against `include/linux/vcm.h`, bit for bit (golden values
 * copied from the header's #defines), and the checks that decode them.
 */
import { describe, expect, it } from "vitest";

import { expectError } from "../base/errors.testutil.js";
import { PROT } from "../mmu/prot.js";
import * as A from "./attrs.js";

describe("the header's constants, bit for bit", () => {
  // [name, value as vcm.h defines it]
  const golden: Array<[keyof typeof A, number]> = [
    // Reservation attributes.
    ["VCM_CACHE_POLICY", 0xf << 0],
    ["VCM_READ", 1 << 9],
    ["VCM_WRITE", 1 << 8],
    ["VCM_EXECUTE", 1 << 7],
    ["VCM_USER", 1 << 6],
    ["VCM_SUPERVISOR", 1 << 5],
    ["VCM_SECURE", 1 << 4],
    ["VCM_NOTCACHED", 0 << 0],
    ["VCM_WB_WA", 1 << 0],
    ["VCM_WB_NWA", 2 << 0],
    ["VCM_WT", 3 << 0],
    ["VCM_ALIGN_SHIFT", 10],
    ["VCM_ALIGN_MASK", 0x1f],
    ["VCM_ALIGN_DEFAULT", 0],
    ["VCM_ALIGN_4K", 12 << 10],
    ["VCM_ALIGN_8K", 13 << 10],
    ["VCM_ALIGN_16K", 14 << 10],
    ["VCM_ALIGN_32K", 15 << 10],
    ["VCM_ALIGN_64K", 16 << 10],
    ["VCM_ALIGN_128K", 17 << 10],
    ["VCM_ALIGN_256K", 18 << 10],
    ["VCM_ALIGN_512K", 19 << 10],
    ["VCM_ALIGN_1M", 20 << 10],
    ["VCM_ALIGN_2M", 21 << 10],
    ["VCM_ALIGN_4M", 22 << 10],
    ["VCM_ALIGN_8M", 23 << 10],
    ["VCM_ALIGN_16M", 24 << 10],
    ["VCM_ALIGN_32M", 25 << 10],
    ["VCM_ALIGN_64M", 26 << 10],
    ["VCM_ALIGN_128M", 27 << 10],
    ["VCM_ALIGN_256M", 28 << 10],
    ["VCM_ALIGN_512M", 29 << 10],
    ["VCM_ALIGN_1GB", 30 << 10],
    // Physical allocation attributes.
    ["VCM_4KB", 1 << 5],
    ["VCM_64KB", 1 << 4],
    ["VCM_1MB", 1 << 3],
    ["VCM_ALL", 1 << 2],
    ["VCM_PAGE_SEL_MASK", 0xf << 2],
    ["VCM_PHYS_CONT", 1 << 1],
    ["VCM_COHERENT", 1 << 0],
    // Association attributes.
    ["VCM_SPLIT", 1 << 3],
    ["VCM_USE_LOW_BASE", 1 << 2],
    ["VCM_USE_HIGH_BASE", 1 << 1],
    // External VCMs, memtarget_t, memtype_t.
    ["VCM_PREBUILT_KERNEL", 1],
    ["VCM_PREBUILT_USER", 2],
    ["VCM_START", 0],
    ["VCM_INVALID", 0],
    ["VCM_MEMTYPE_0", 1],
    ["VCM_MEMTYPE_1", 2],
    ["VCM_MEMTYPE_2", 3],
    ["VCM_MIN_PAGE_SIZE", 4096],
  ];
  it.each(golden)("%s = %d", (name, value) => {
    expect(A[name]).toBe(value);
  });

  it("VCM_ALIGN_ATTR(order) = (order & 0x1F) << 10, VCM_ALIGN_ATTR(20) = 20 << 10", () => {
    expect(A.VCM_ALIGN_ATTR(20)).toBe(20 << 10);
    for (let order = 0; order < 64; order++)
      expect(A.VCM_ALIGN_ATTR(order)).toBe((order & 0x1f) << 10);
  });

  it("the reservation bits are disjoint and the rights do not touch the policy or alignment", () => {
    const bits = [
      A.VCM_READ,
      A.VCM_WRITE,
      A.VCM_EXECUTE,
      A.VCM_USER,
      A.VCM_SUPERVISOR,
      A.VCM_SECURE,
    ];
    for (const b of bits) {
      expect(b & A.VCM_CACHE_POLICY).toBe(0);
      expect(b & (A.VCM_ALIGN_MASK << A.VCM_ALIGN_SHIFT)).toBe(0);
      expect(bits.filter((o) => o & b)).toEqual([b]);
    }
  });

  it("the physical alignment field is bits [10:6], field n asks for 2^(n+12) (ALIGN_REQ_BYTES)", () => {
    expect(A.VCM_PHYS_ALIGN_SHIFT).toBe(6);
    expect(A.VCM_PHYS_ALIGN_MASK).toBe(0x1f << 6);
    expect(A.VCM_PHYS_ALIGN(12)).toBe(0);
    expect(A.VCM_PHYS_ALIGN(20)).toBe(8 << 6);
    expect(A.physRequest(A.VCM_PHYS_ALIGN(20)).align).toBe(1 << 20);
    expect(A.physRequest(0).align).toBeUndefined(); // 0: no request
  });
});

describe("checkResAttr", () => {
  it.each<[string, number, ...string[]]>([
    ["bits above the alignment field", 1 << 15, "0x8000", "bits 0x8000"],
    ["a cache policy beyond VCM_WT", A.VCM_READ | 4, "cache policy 4"],
    ["a cache policy of 15", A.VCM_READ | 15, "cache policy 15"],
    ["an alignment order below 12", A.VCM_ALIGN_ATTR(11), "alignment order 11"],
    ["an alignment order above 30", A.VCM_ALIGN_ATTR(31), "alignment order 31"],
    ["a negative word", -1, "-1"],
    ["a fraction", 1.5, "1.5"],
    ["more than 32 bits", 2 ** 32, "4294967296"],
  ])("EINVAL for %s", (_why, attr, ...texts) => {
    expectError(() => A.checkResAttr(attr), "EINVAL", "reservation attribute", ...texts);
  });

  it("accepts every defined combination", () => {
    for (const policy of [A.VCM_NOTCACHED, A.VCM_WB_WA, A.VCM_WB_NWA, A.VCM_WT])
      for (const order of [0, 12, 16, 20, 24, 30])
        A.checkResAttr(
          policy |
            A.VCM_READ |
            A.VCM_WRITE |
            A.VCM_EXECUTE |
            A.VCM_USER |
            A.VCM_SUPERVISOR |
            A.VCM_SECURE |
            A.VCM_ALIGN_ATTR(order),
        );
  });

  it("resAlignment reads the order; 0 is the default", () => {
    expect(A.resAlignment(A.VCM_ALIGN_1M)).toBe(1 << 20);
    expect(A.resAlignment(A.VCM_ALIGN_1GB | A.VCM_READ)).toBe(2 ** 30);
    expect(A.resAlignment(A.VCM_READ)).toBeUndefined();
  });
});

describe("resProt and resMemType", () => {
  it.each([
    [A.VCM_READ, PROT.READ | PROT.NOEXEC],
    [A.VCM_WRITE, PROT.WRITE | PROT.NOEXEC],
    [A.VCM_READ | A.VCM_WRITE | A.VCM_EXECUTE, PROT.READ | PROT.WRITE],
    [A.VCM_READ | A.VCM_SUPERVISOR, PROT.READ | PROT.NOEXEC | PROT.PRIV],
    [A.VCM_READ | A.VCM_SUPERVISOR | A.VCM_USER, PROT.READ | PROT.NOEXEC],
    [A.VCM_READ | A.VCM_USER, PROT.READ | PROT.NOEXEC],
    [A.VCM_READ | A.VCM_WB_WA, PROT.READ | PROT.NOEXEC | PROT.CACHE],
    [A.VCM_READ | A.VCM_WB_NWA, PROT.READ | PROT.NOEXEC | PROT.CACHE],
    [A.VCM_READ | A.VCM_WT, PROT.READ | PROT.NOEXEC | PROT.CACHE],
    [A.VCM_READ | A.VCM_SECURE, PROT.READ | PROT.NOEXEC],
  ])("attr %i maps with PROT %i", (attr, prot) => {
    expect(A.resProt(attr)).toBe(prot);
  });

  it("EINVAL for attributes granting neither read nor write, naming the word", () => {
    expectError(
      () => A.resProt(A.VCM_EXECUTE | A.VCM_WB_WA),
      "EINVAL",
      "0x81",
      "neither VCM_READ nor VCM_WRITE",
    );
  });

  it("NOTCACHED is normal non-cacheable, every other policy cacheable", () => {
    expect(A.resMemType(A.VCM_NOTCACHED | A.VCM_READ)).toBe("normal-nc");
    for (const p of [A.VCM_WB_WA, A.VCM_WB_NWA, A.VCM_WT])
      expect(A.resMemType(p)).toBe("normal-wb");
  });
});

describe("physRequest", () => {
  it("decodes contiguity, coherence, the page-size selection and the alignment", () => {
    expect(A.physRequest(0)).toEqual({
      contiguous: false,
      coherent: false,
      sizes: undefined,
      align: undefined,
    });
    expect(A.physRequest(A.VCM_PHYS_CONT | A.VCM_COHERENT).contiguous).toBe(true);
    expect(A.physRequest(A.VCM_COHERENT).coherent).toBe(true);
    expect(A.physRequest(A.VCM_ALL | A.VCM_4KB).sizes).toBeUndefined();
    expect(A.physRequest(A.VCM_1MB | A.VCM_4KB).sizes).toEqual([1 << 20, 4096]);
    expect(A.physRequest(A.VCM_64KB).sizes).toEqual([64 << 10]);
  });

  it.each([
    ["an undefined bit", 1 << 11, "bits 0x800"],
    ["an alignment beyond 1G", 19 << 6, "2^31"],
    ["a negative word", -2, "-2"],
  ])("EINVAL for %s", (_why, attr, text) => {
    expectError(() => A.physRequest(attr), "EINVAL", "physical allocation attribute", text);
  });
});

describe("checkAssocAttr and checkMemtype", () => {
  it("accepts each association bit alone and SPLIT with either base", () => {
    for (const a of [
      0,
      A.VCM_SPLIT,
      A.VCM_USE_LOW_BASE,
      A.VCM_USE_HIGH_BASE,
      A.VCM_SPLIT | A.VCM_USE_LOW_BASE,
      A.VCM_SPLIT | A.VCM_USE_HIGH_BASE,
    ])
      A.checkAssocAttr(a);
  });

  it.each<[string, number, ...string[]]>([
    ["both bases", A.VCM_USE_HIGH_BASE | A.VCM_USE_LOW_BASE, "0x6", "both"],
    ["an undefined bit", 1, "bits 0x1"],
    ["bit 4", 1 << 4, "bits 0x10"],
  ])("EINVAL for %s", (_why, attr, ...texts) => {
    expectError(() => A.checkAssocAttr(attr), "EINVAL", "association attribute", ...texts);
  });

  it("EINVAL for VCM_INVALID and unknown memtypes, naming the value", () => {
    for (const t of [A.VCM_INVALID, 4, -1, 1.5])
      expectError(() => A.checkMemtype(t), "EINVAL", `memtype ${t}`);
    for (const t of [A.VCM_MEMTYPE_0, A.VCM_MEMTYPE_1, A.VCM_MEMTYPE_2]) A.checkMemtype(t);
    expect(A.memtypeName(A.VCM_MEMTYPE_2)).toBe("VCM_MEMTYPE_2");
    expect(A.memtypeName(0)).toBe("VCM_INVALID");
  });

  it("describes words for people", () => {
    expect(A.describeResAttr(A.VCM_READ | A.VCM_WRITE | A.VCM_WB_WA | A.VCM_ALIGN_1M)).toBe(
      "READ|WRITE|WB_WA|ALIGN_1 MiB",
    );
    expect(A.describePhysAttr(A.VCM_PHYS_CONT | A.VCM_PHYS_ALIGN(16))).toBe(
      "PHYS_CONT|ALIGN_64 KiB",
    );
    expect(A.describeAssocAttr(A.VCM_USE_LOW_BASE | A.VCM_SPLIT)).toBe("USE_LOW_BASE|SPLIT");
  });
});
