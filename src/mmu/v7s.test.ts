import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isMemweaveError } from "../base/errors.js";
import { DESC_INVALID, DESC_LEAF, DESC_TABLE } from "./format.js";
import type { LeafAttributes, Prot } from "./prot.js";
import { PERM, PROT, permOf } from "./prot.js";
import { createV7sFormat } from "./v7s.js";

const K = 1024;
const M = 1024 * K;

const R = PROT.READ;
const W = PROT.WRITE;
const PROTS: Record<string, Prot> = {
  R: R,
  RW: R | W,
  "R|NOEXEC": R | PROT.NOEXEC,
  "RW|CACHE": R | W | PROT.CACHE,
  "RW|MMIO": R | W | PROT.MMIO,
  "RW|PRIV": R | W | PROT.PRIV,
  "RW|CACHE|NOEXEC|PRIV": R | W | PROT.CACHE | PROT.NOEXEC | PROT.PRIV,
};

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (isMemweaveError(e)) return e.code;
    throw e;
  }
  return undefined;
}

/*
 * Golden descriptors, derived by hand from the ARMv7 short-descriptor formats (Arm ARM B3.5.1)
 * and arm_v7s_prot_to_pte / arm_v7s_pte_to_cont.
 *
 * The 8-bit attribute block (ARM_V7S_ATTR_*): AF/AP0 b0, UNPRIV/AP1 b1, TEX b4:2, RDONLY/AP2 b5,
 * S b6, nG b7. prot_to_pte: nG|S always (0xc0), TEX(1) = 0x04 unless MMIO, AF 0x01, UNPRIV 0x02
 * unless PRIV, RDONLY 0x20 unless WRITE:
 *   R 0xe7, RW 0xc7, R|NOEXEC 0xe7, RW|CACHE 0xc7, RW|MMIO 0xc3, RW|PRIV 0xc5, RW|C|NX|P 0xc5.
 * Then the block is shifted (level 1: << 10, level 2: << 4), XN added (level 1 b4 = 0x10,
 * level 2 b0 = 0x1), B (0x4) for MMIO, B|C (0xc) for CACHE, and type 0x2.
 *
 * Section (level 1, OA 0x8760_0000):
 *   R        0xe7 << 10 = 0x39c00 | 0x2                 -> 0x8763_9c02
 *   RW       0xc7 << 10 = 0x31c00 | 0x2                 -> 0x8763_1c02
 *   R|NX     0x39c00 | 0x10 | 0x2                       -> 0x8763_9c12
 *   RW|C     0x31c00 | 0xc | 0x2                        -> 0x8763_1c0e
 *   RW|MMIO  0xc3 << 10 = 0x30c00 | 0x4 | 0x2           -> 0x8763_0c06
 *   RW|PRIV  0xc5 << 10 = 0x31400 | 0x2                 -> 0x8763_1402
 *   RW|C|NX|P 0x31400 | 0x10 | 0xc | 0x2                -> 0x8763_141e
 * Supersection (OA 0x8700_0000): the same | ARM_V7S_CONT_SECTION (b18 = 0x40000).
 * Small page (level 2, OA 0x8765_4000):
 *   R 0xe70|0x2 = 0xe72; RW 0xc72; R|NX 0xe73; RW|C 0xc7e; RW|MMIO 0xc30|0x4|0x2 = 0xc36;
 *   RW|PRIV 0xc50|0x2 = 0xc52; RW|C|NX|P 0xc50|0x1|0xc|0x2 = 0xc5f.
 * Large page (OA 0x8765_0000): from the small page, TEX (bits 8:6) moves to 14:12
 * (0x40 -> 0x1000), XN (b0) to b15 (0x8000), type 0x2 becomes 0x1:
 *   R 0xe72 - 0x40 - 0x2 + 0x1000 + 0x1 = 0x1e31; RW 0x1c31; R|NX 0xe73 -> 0x9e31;
 *   RW|C 0xc7e -> 0x1c3d; RW|MMIO 0xc36 (no TEX) -> 0xc35; RW|PRIV 0xc52 -> 0x1c11;
 *   RW|C|NX|P 0xc5f -> 0x9c1d.
 */
const GOLDEN: [
  kind: string,
  levelIndex: number,
  size: number,
  oa: number,
  prot: string,
  lo: number,
][] = [
  ["section", 0, 1 * M, 0x87600000, "R", 0x87639c02],
  ["section", 0, 1 * M, 0x87600000, "RW", 0x87631c02],
  ["section", 0, 1 * M, 0x87600000, "R|NOEXEC", 0x87639c12],
  ["section", 0, 1 * M, 0x87600000, "RW|CACHE", 0x87631c0e],
  ["section", 0, 1 * M, 0x87600000, "RW|MMIO", 0x87630c06],
  ["section", 0, 1 * M, 0x87600000, "RW|PRIV", 0x87631402],
  ["section", 0, 1 * M, 0x87600000, "RW|CACHE|NOEXEC|PRIV", 0x8763141e],
  ["supersection", 0, 16 * M, 0x87000000, "R", 0x87079c02],
  ["supersection", 0, 16 * M, 0x87000000, "RW", 0x87071c02],
  ["supersection", 0, 16 * M, 0x87000000, "R|NOEXEC", 0x87079c12],
  ["supersection", 0, 16 * M, 0x87000000, "RW|CACHE", 0x87071c0e],
  ["supersection", 0, 16 * M, 0x87000000, "RW|MMIO", 0x87070c06],
  ["supersection", 0, 16 * M, 0x87000000, "RW|PRIV", 0x87071402],
  ["supersection", 0, 16 * M, 0x87000000, "RW|CACHE|NOEXEC|PRIV", 0x8707141e],
  ["small page", 1, 4 * K, 0x87654000, "R", 0x87654e72],
  ["small page", 1, 4 * K, 0x87654000, "RW", 0x87654c72],
  ["small page", 1, 4 * K, 0x87654000, "R|NOEXEC", 0x87654e73],
  ["small page", 1, 4 * K, 0x87654000, "RW|CACHE", 0x87654c7e],
  ["small page", 1, 4 * K, 0x87654000, "RW|MMIO", 0x87654c36],
  ["small page", 1, 4 * K, 0x87654000, "RW|PRIV", 0x87654c52],
  ["small page", 1, 4 * K, 0x87654000, "RW|CACHE|NOEXEC|PRIV", 0x87654c5f],
  ["large page", 1, 64 * K, 0x87650000, "R", 0x87651e31],
  ["large page", 1, 64 * K, 0x87650000, "RW", 0x87651c31],
  ["large page", 1, 64 * K, 0x87650000, "R|NOEXEC", 0x87659e31],
  ["large page", 1, 64 * K, 0x87650000, "RW|CACHE", 0x87651c3d],
  ["large page", 1, 64 * K, 0x87650000, "RW|MMIO", 0x87650c35],
  ["large page", 1, 64 * K, 0x87650000, "RW|PRIV", 0x87651c11],
  ["large page", 1, 64 * K, 0x87650000, "RW|CACHE|NOEXEC|PRIV", 0x87659c1d],
];

describe("v7s: golden descriptors", () => {
  const f = createV7sFormat();

  it.each(GOLDEN)("%s level index %i size %i oa %#x %s", (_kind, li, size, oa, protName, lo) => {
    const out = new Uint32Array(2);
    const prot = PROTS[protName]!;
    f.encodeLeaf(li, size, oa, prot, out);
    expect(out[0]!.toString(16)).toBe(lo.toString(16));
    expect(out[1]).toBe(0);
    expect(f.kind(li, lo, 0)).toBe(DESC_LEAF);
    expect(f.address(li, lo, 0)).toBe(oa);
    expect(f.leafSize(li, lo, 0)).toBe(size);
    // READ is implied (no write-only in the simplified AP model)
    expect(f.protOf(li, lo, 0)).toBe(prot | R);
    expect(f.perm(li, lo, 0)).toBe(permOf(f.attributes(li, lo, 0)));
  });

  it("sets NS in sections, supersections and tables with the NS quirk", () => {
    const ns = createV7sFormat({ ns: true });
    expect(ns.name).toBe("v7s ns");
    const out = new Uint32Array(2);
    // section R: 0x8763_9c02 | NS_SECTION (b19 = 0x80000) = 0x876b_9c02
    ns.encodeLeaf(0, 1 * M, 0x87600000, R, out);
    expect(out[0]).toBe(0x876b9c02);
    expect(ns.attributes(0, out[0]!, 0).ns).toBe(true);
    // supersection R: 0x8707_9c02 | 0x80000 = 0x870f_9c02
    ns.encodeLeaf(0, 16 * M, 0x87000000, R, out);
    expect(out[0]).toBe(0x870f9c02);
    // pages have no NS bit: the same as without the quirk
    ns.encodeLeaf(1, 4 * K, 0x87654000, R, out);
    expect(out[0]).toBe(0x87654e72);
    expect(ns.attributes(1, out[0]!, 0).ns).toBe(false);
    // level-1 table at 0x8012_3400 (1 KiB aligned): | 0b01 | NS_TABLE (b3 = 0x8)
    ns.encodeTable(0, 0x80123400, out);
    expect([out[0], out[1]]).toEqual([0x80123409, 0]);
    expect(ns.kind(0, 0x80123409, 0)).toBe(DESC_TABLE);
    expect(ns.address(0, 0x80123409, 0)).toBe(0x80123400);
    expect(ns.describe(0, 0x80123409, 0)).toBe("TABLE NS");
    f.encodeTable(0, 0x80123400, out);
    expect(out[0]).toBe(0x80123401);
  });

  it("decodes Linux's attributes", () => {
    const base: LeafAttributes = {
      read: true,
      write: true,
      userExec: true,
      privExec: true,
      user: true,
      memType: "normal-nc",
      shareability: "outer",
      accessFlag: true,
      notGlobal: true,
      ns: false,
    };
    // TEX=1 C=0 B=0: remap index 4, normal non-cacheable, S -> outer shareable
    expect(f.attributes(1, 0x87654e72, 0)).toEqual({ ...base, write: false });
    // TEX=1 C=1 B=1: index 7, write-back, S with NOS7 -> inner shareable
    expect(f.attributes(0, 0x87631c0e, 0)).toEqual({
      ...base,
      memType: "normal-wb",
      shareability: "inner",
    });
    // TEX=0 C=0 B=1: index 1, device
    expect(f.attributes(1, 0x87650c35, 0)).toEqual({ ...base, memType: "device" });
    // large page RW|CACHE|NOEXEC|PRIV: XN from b15, TEX from 14:12
    expect(f.attributes(1, 0x87659c1d, 0)).toEqual({
      ...base,
      user: false,
      userExec: false,
      privExec: false,
      memType: "normal-wb",
      shareability: "inner",
    });
    // R: READ_PRIV|EXEC_PRIV|READ_USER|EXEC_USER|AF = 1|4|8|32|64 = 0x6d (nG: no GLOBAL)
    expect(f.perm(1, 0x87654e72, 0)).toBe(0x6d);
    // RW|CACHE|NOEXEC|PRIV: READ_PRIV|WRITE_PRIV|AF = 0x43
    expect(f.perm(0, 0x8763141e, 0)).toBe(0x43);
    // a section with bit 0 set (PXN) is still a section, not executable when privileged
    const pxn = f.attributes(0, 0x87639c03, 0);
    expect([pxn.privExec, pxn.userExec]).toEqual([false, true]);
    expect(f.perm(0, 0x87639c03, 0) & (PERM.EXEC_PRIV | PERM.EXEC_USER)).toBe(PERM.EXEC_USER);
  });

  it("encodes the model flags NO_AF and GLOBAL", () => {
    const out = new Uint32Array(2);
    // small page RW without AF: 0xc72 - 0x10 = 0xc62; GLOBAL: nG (b11) clear: 0xc72 - 0x800
    f.encodeLeaf(1, 4 * K, 0x1000, R | W | PROT.NO_AF, out);
    expect(out[0]).toBe(0x1c62);
    f.encodeLeaf(1, 4 * K, 0x1000, R | W | PROT.GLOBAL, out);
    expect(out[0]).toBe(0x1472);
    expect(f.perm(1, 0x1472, 0) & PERM.GLOBAL).toBe(PERM.GLOBAL);
    expect(f.perm(1, 0x1c62, 0) & PERM.AF).toBe(0);
  });

  it("decodes kinds and sizes", () => {
    expect(f.kind(0, 0, 0)).toBe(DESC_INVALID);
    expect(f.kind(1, 0, 0)).toBe(DESC_INVALID);
    expect(f.kind(0, 0x80123401, 0)).toBe(DESC_TABLE);
    expect(f.kind(1, 0x87651e31, 0)).toBe(DESC_LEAF); // 0b01 at level 2 is a large page
    expect(f.leafSize(1, 0x87651e31, 0)).toBe(64 * K);
    // the address of a large page / supersection drops the bits below 64K / 16M
    expect(f.address(1, 0x8765fe31, 0)).toBe(0x87650000);
    expect(f.address(0, 0x87f79c02, 0)).toBe(0x87000000);
    expect(f.leafSize(0, 0x87f79c02, 0)).toBe(16 * M);
  });

  it("describes set bits", () => {
    expect(f.describe(0, 0x8763141e, 0)).toBe("SECTION AF nG S TEX=1 B C XN");
    expect(f.describe(0, 0x87079c02, 0)).toBe("SUPERSECTION AF nG AP[1] AP[2] S TEX=1");
    expect(f.describe(1, 0x87654c36, 0)).toBe("SMALL-PAGE AF nG AP[1] S TEX=0 B");
    expect(f.describe(1, 0x87659e31, 0)).toBe("LARGE-PAGE AF nG AP[1] AP[2] S TEX=1 XN");
    expect(f.describe(0, 0x80123401, 0)).toBe("TABLE");
    expect(f.describe(1, 0, 0)).toBe("INVALID");
  });
});

describe("v7s: geometry and validation", () => {
  it("has Linux's geometry", () => {
    const f = createV7sFormat();
    expect(f.name).toBe("v7s");
    expect(f.family).toBe("v7s");
    expect([f.stage, f.granule, f.ias, f.oas, f.descriptorBytes]).toEqual([1, 4096, 32, 32, 4]);
    expect([f.rootEntries, f.rootBytes]).toEqual([4096, 16 * K]);
    expect(f.pageSizes).toEqual([4 * K, 64 * K, 1 * M, 16 * M]);
    expect(f.levels).toEqual([
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
    ]);
  });

  it("refuses what it cannot encode", () => {
    const f = createV7sFormat();
    const out = new Uint32Array(2);
    expect(codeOf(() => f.encodeLeaf(0, 4 * K, 0, R, out))).toBe("EINVAL");
    expect(codeOf(() => f.encodeLeaf(1, 1 * M, 0, R, out))).toBe("EINVAL");
    expect(codeOf(() => f.encodeLeaf(0, 16 * M, 1 * M, R, out))).toBe("EINVAL");
    expect(codeOf(() => f.encodeLeaf(1, 4 * K, 2 ** 32, R, out))).toBe("ERANGE");
    expect(codeOf(() => f.encodeTable(1, 0x400, out))).toBe("EINVAL");
    expect(codeOf(() => f.encodeTable(0, 0x200, out))).toBe("EINVAL");
  });
});

describe("v7s: round trips (property)", () => {
  const formats = [createV7sFormat(), createV7sFormat({ ns: true })];
  const protArb = fc
    .record({
      rw: fc.constantFrom(R, W, R | W),
      noexec: fc.boolean(),
      mem: fc.constantFrom(0, PROT.CACHE, PROT.MMIO),
      priv: fc.boolean(),
      noAf: fc.boolean(),
      global: fc.boolean(),
    })
    .map(
      (p) =>
        p.rw |
        p.mem |
        (p.noexec ? PROT.NOEXEC : 0) |
        (p.priv ? PROT.PRIV : 0) |
        (p.noAf ? PROT.NO_AF : 0) |
        (p.global ? PROT.GLOBAL : 0),
    );
  const leafArb = fc.record({
    f: fc.constantFrom(...formats),
    li: fc.constantFrom(0, 1),
    which: fc.boolean(),
    k: fc.integer({ min: 0, max: 2 ** 20 - 1 }),
  });

  it("decode(encodeLeaf(x)) gives x back", () => {
    const out = new Uint32Array(2);
    fc.assert(
      fc.property(leafArb, protArb, ({ f, li, which, k }, prot) => {
        const size = f.levels[li]!.leafSizes[which ? 1 : 0]!;
        const oa = (k * size) % 2 ** 32;
        f.encodeLeaf(li, size, oa, prot, out);
        const lo = out[0]!;
        expect(out[1]).toBe(0);
        expect(f.kind(li, lo, 0)).toBe(DESC_LEAF);
        expect(f.address(li, lo, 0)).toBe(oa);
        expect(f.leafSize(li, lo, 0)).toBe(size);
        expect(f.protOf(li, lo, 0)).toBe(prot | R);
        expect(f.perm(li, lo, 0)).toBe(permOf(f.attributes(li, lo, 0)));
        f.encodeLeaf(li, size, oa, f.protOf(li, lo, 0), out);
        expect(out[0]).toBe(lo);
      }),
      { numRuns: 400 },
    );
  });

  it("decode(encodeTable(x)) gives x back", () => {
    const out = new Uint32Array(2);
    fc.assert(
      fc.property(fc.constantFrom(...formats), fc.integer({ min: 0, max: 2 ** 22 - 1 }), (f, k) => {
        f.encodeTable(0, k * K, out);
        expect(f.kind(0, out[0]!, 0)).toBe(DESC_TABLE);
        expect(f.address(0, out[0]!, 0)).toBe(k * K);
      }),
    );
  });

  it("perm equals permOf(attributes) for arbitrary descriptor bits", () => {
    const f = formats[0]!;
    fc.assert(
      fc.property(fc.constantFrom(0, 1), fc.integer({ min: 0, max: 0xffffffff }), (li, lo) => {
        expect(f.perm(li, lo, 0)).toBe(permOf(f.attributes(li, lo, 0)));
      }),
      { numRuns: 300 },
    );
  });
});
