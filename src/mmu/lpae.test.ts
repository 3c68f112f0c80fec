import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isMemweaveError } from "../base/errors.js";
import type { PageTableFormat } from "./format.js";
import { DESC_INVALID, DESC_LEAF, DESC_TABLE } from "./format.js";
import { createLpaeFormat, LPAE_S1_MAIR } from "./lpae.js";
import type { LeafAttributes, Prot } from "./prot.js";
import { PERM, PROT, permOf } from "./prot.js";

const K = 1024;
const M = 1024 * K;
const G = 1024 * M;
const TWO_32 = 2 ** 32;

type Granule = 4096 | 16384 | 65536;

function fmt(stage: 1 | 2, granuleK: number, ias = 48, oas = 48): PageTableFormat {
  return createLpaeFormat({ stage, granule: (granuleK * K) as Granule, ias, oas });
}

/** The level index of architectural level `level`. */
function idx(f: PageTableFormat, level: number): number {
  const i = f.levels.findIndex((l) => l.level === level);
  if (i < 0) throw new Error(`${f.name} has no level ${level}`);
  return i;
}

function encode(
  f: PageTableFormat,
  li: number,
  size: number,
  oa: number,
  prot: Prot,
): [number, number] {
  const out = new Uint32Array(2);
  f.encodeLeaf(li, size, oa, prot, out);
  return [out[0]!, out[1]!];
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (isMemweaveError(e)) return e.code;
    throw e;
  }
  return undefined;
}

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

/*
 * Golden descriptors, derived by hand from the Arm ARM (VMSAv8-64 block/page descriptors) and
 * arm_lpae_prot_to_pte / __arm_lpae_init_pte / paddr_to_iopte.
 *
 * Type bits [1:0]: page (level 3) 0b11, block 0b01. Output address in place: OA 0x8_1234_5000
 * gives lo 0x1234_5000, hi 0x8 (OA[47:32] in hi[15:0]).
 *
 * Stage 1 attributes (low word unless noted):
 *   nG b11 = 0x800 (always), AF b10 = 0x400 (always), SH[9:8] = 0x300 inner if CACHE else
 *   0x200 outer, AP[2] b7 = 0x80 if READ && !WRITE, AP[1] b6 = 0x40 unless PRIV,
 *   AttrIndx[4:2]: MMIO 2 -> 0x8, CACHE 1 -> 0x4, else 0; XN = 3 << 53 -> hi 0x0060_0000.
 *     R                    0x800|0x400|0x200|0x80|0x40       = 0xec0
 *     RW                   0x800|0x400|0x200|0x40            = 0xe40
 *     R|NOEXEC             0xec0,                  hi |= 0x0060_0000
 *     RW|CACHE             0x800|0x400|0x300|0x40|0x4        = 0xf44
 *     RW|MMIO              0x800|0x400|0x200|0x40|0x8        = 0xe48
 *     RW|PRIV              0x800|0x400|0x200                 = 0xe00
 *     RW|CACHE|NOEXEC|PRIV 0x800|0x400|0x300|0x4 = 0xf04,    hi |= 0x0060_0000
 * Stage 2 attributes: no nG; AF 0x400; SH as stage 1; S2AP[1:0] b7:6: read 0x40, write 0x80;
 *   MemAttr[3:0] at b5:2: CACHE 0xf -> 0x3c, MMIO 0x1 -> 0x4, else 0x5 -> 0x14; PRIV ignored.
 *     R                    0x400|0x200|0x40|0x14             = 0x654
 *     RW                   0x400|0x200|0xc0|0x14             = 0x6d4
 *     R|NOEXEC             0x654,                  hi |= 0x0060_0000
 *     RW|CACHE             0x400|0x300|0xc0|0x3c             = 0x7fc
 *     RW|MMIO              0x400|0x200|0xc0|0x04             = 0x6c4
 *     RW|PRIV              = RW                              = 0x6d4
 *     RW|CACHE|NOEXEC|PRIV 0x7fc,                  hi |= 0x0060_0000
 * Each row: lo = OA[31:0] | attributes | type, hi = OA[47:32] | XN.
 */
const GOLDEN: [
  stage: 1 | 2,
  granuleK: number,
  level: number,
  oa: number,
  prot: string,
  lo: number,
  hi: number,
][] = [
  // stage 1, 4K granule: page, 2M block, 1G block
  [1, 4, 3, 0x812345000, "R", 0x12345ec3, 0x00000008],
  [1, 4, 3, 0x812345000, "RW", 0x12345e43, 0x00000008],
  [1, 4, 3, 0x812345000, "R|NOEXEC", 0x12345ec3, 0x00600008],
  [1, 4, 3, 0x812345000, "RW|CACHE", 0x12345f47, 0x00000008],
  [1, 4, 3, 0x812345000, "RW|MMIO", 0x12345e4b, 0x00000008],
  [1, 4, 3, 0x812345000, "RW|PRIV", 0x12345e03, 0x00000008],
  [1, 4, 3, 0x812345000, "RW|CACHE|NOEXEC|PRIV", 0x12345f07, 0x00600008],
  [1, 4, 2, 0x812400000, "R", 0x12400ec1, 0x00000008],
  [1, 4, 2, 0x812400000, "RW", 0x12400e41, 0x00000008],
  [1, 4, 2, 0x812400000, "R|NOEXEC", 0x12400ec1, 0x00600008],
  [1, 4, 2, 0x812400000, "RW|CACHE", 0x12400f45, 0x00000008],
  [1, 4, 2, 0x812400000, "RW|MMIO", 0x12400e49, 0x00000008],
  [1, 4, 2, 0x812400000, "RW|PRIV", 0x12400e01, 0x00000008],
  [1, 4, 2, 0x812400000, "RW|CACHE|NOEXEC|PRIV", 0x12400f05, 0x00600008],
  [1, 4, 1, 0x840000000, "R", 0x40000ec1, 0x00000008],
  [1, 4, 1, 0x840000000, "RW", 0x40000e41, 0x00000008],
  [1, 4, 1, 0x840000000, "R|NOEXEC", 0x40000ec1, 0x00600008],
  [1, 4, 1, 0x840000000, "RW|CACHE", 0x40000f45, 0x00000008],
  [1, 4, 1, 0x840000000, "RW|MMIO", 0x40000e49, 0x00000008],
  [1, 4, 1, 0x840000000, "RW|PRIV", 0x40000e01, 0x00000008],
  [1, 4, 1, 0x840000000, "RW|CACHE|NOEXEC|PRIV", 0x40000f05, 0x00600008],
  // stage 1, 16K granule: page, 32M block
  [1, 16, 3, 0x812344000, "R", 0x12344ec3, 0x00000008],
  [1, 16, 3, 0x812344000, "RW", 0x12344e43, 0x00000008],
  [1, 16, 3, 0x812344000, "R|NOEXEC", 0x12344ec3, 0x00600008],
  [1, 16, 3, 0x812344000, "RW|CACHE", 0x12344f47, 0x00000008],
  [1, 16, 3, 0x812344000, "RW|MMIO", 0x12344e4b, 0x00000008],
  [1, 16, 3, 0x812344000, "RW|PRIV", 0x12344e03, 0x00000008],
  [1, 16, 3, 0x812344000, "RW|CACHE|NOEXEC|PRIV", 0x12344f07, 0x00600008],
  [1, 16, 2, 0x812000000, "R", 0x12000ec1, 0x00000008],
  [1, 16, 2, 0x812000000, "RW", 0x12000e41, 0x00000008],
  [1, 16, 2, 0x812000000, "R|NOEXEC", 0x12000ec1, 0x00600008],
  [1, 16, 2, 0x812000000, "RW|CACHE", 0x12000f45, 0x00000008],
  [1, 16, 2, 0x812000000, "RW|MMIO", 0x12000e49, 0x00000008],
  [1, 16, 2, 0x812000000, "RW|PRIV", 0x12000e01, 0x00000008],
  [1, 16, 2, 0x812000000, "RW|CACHE|NOEXEC|PRIV", 0x12000f05, 0x00600008],
  // stage 1, 64K granule: page, 512M block
  [1, 64, 3, 0x812340000, "R", 0x12340ec3, 0x00000008],
  [1, 64, 3, 0x812340000, "RW", 0x12340e43, 0x00000008],
  [1, 64, 3, 0x812340000, "R|NOEXEC", 0x12340ec3, 0x00600008],
  [1, 64, 3, 0x812340000, "RW|CACHE", 0x12340f47, 0x00000008],
  [1, 64, 3, 0x812340000, "RW|MMIO", 0x12340e4b, 0x00000008],
  [1, 64, 3, 0x812340000, "RW|PRIV", 0x12340e03, 0x00000008],
  [1, 64, 3, 0x812340000, "RW|CACHE|NOEXEC|PRIV", 0x12340f07, 0x00600008],
  [1, 64, 2, 0x820000000, "R", 0x20000ec1, 0x00000008],
  [1, 64, 2, 0x820000000, "RW", 0x20000e41, 0x00000008],
  [1, 64, 2, 0x820000000, "R|NOEXEC", 0x20000ec1, 0x00600008],
  [1, 64, 2, 0x820000000, "RW|CACHE", 0x20000f45, 0x00000008],
  [1, 64, 2, 0x820000000, "RW|MMIO", 0x20000e49, 0x00000008],
  [1, 64, 2, 0x820000000, "RW|PRIV", 0x20000e01, 0x00000008],
  [1, 64, 2, 0x820000000, "RW|CACHE|NOEXEC|PRIV", 0x20000f05, 0x00600008],
  // stage 2, 4K granule
  [2, 4, 3, 0x812345000, "R", 0x12345657, 0x00000008],
  [2, 4, 3, 0x812345000, "RW", 0x123456d7, 0x00000008],
  [2, 4, 3, 0x812345000, "R|NOEXEC", 0x12345657, 0x00600008],
  [2, 4, 3, 0x812345000, "RW|CACHE", 0x123457ff, 0x00000008],
  [2, 4, 3, 0x812345000, "RW|MMIO", 0x123456c7, 0x00000008],
  [2, 4, 3, 0x812345000, "RW|PRIV", 0x123456d7, 0x00000008],
  [2, 4, 3, 0x812345000, "RW|CACHE|NOEXEC|PRIV", 0x123457ff, 0x00600008],
  [2, 4, 2, 0x812400000, "R", 0x12400655, 0x00000008],
  [2, 4, 2, 0x812400000, "RW", 0x124006d5, 0x00000008],
  [2, 4, 2, 0x812400000, "R|NOEXEC", 0x12400655, 0x00600008],
  [2, 4, 2, 0x812400000, "RW|CACHE", 0x124007fd, 0x00000008],
  [2, 4, 2, 0x812400000, "RW|MMIO", 0x124006c5, 0x00000008],
  [2, 4, 2, 0x812400000, "RW|PRIV", 0x124006d5, 0x00000008],
  [2, 4, 2, 0x812400000, "RW|CACHE|NOEXEC|PRIV", 0x124007fd, 0x00600008],
  [2, 4, 1, 0x840000000, "R", 0x40000655, 0x00000008],
  [2, 4, 1, 0x840000000, "RW", 0x400006d5, 0x00000008],
  [2, 4, 1, 0x840000000, "R|NOEXEC", 0x40000655, 0x00600008],
  [2, 4, 1, 0x840000000, "RW|CACHE", 0x400007fd, 0x00000008],
  [2, 4, 1, 0x840000000, "RW|MMIO", 0x400006c5, 0x00000008],
  [2, 4, 1, 0x840000000, "RW|PRIV", 0x400006d5, 0x00000008],
  [2, 4, 1, 0x840000000, "RW|CACHE|NOEXEC|PRIV", 0x400007fd, 0x00600008],
  // stage 2, 16K granule
  [2, 16, 3, 0x812344000, "R", 0x12344657, 0x00000008],
  [2, 16, 3, 0x812344000, "RW", 0x123446d7, 0x00000008],
  [2, 16, 3, 0x812344000, "R|NOEXEC", 0x12344657, 0x00600008],
  [2, 16, 3, 0x812344000, "RW|CACHE", 0x123447ff, 0x00000008],
  [2, 16, 3, 0x812344000, "RW|MMIO", 0x123446c7, 0x00000008],
  [2, 16, 3, 0x812344000, "RW|PRIV", 0x123446d7, 0x00000008],
  [2, 16, 3, 0x812344000, "RW|CACHE|NOEXEC|PRIV", 0x123447ff, 0x00600008],
  [2, 16, 2, 0x812000000, "R", 0x12000655, 0x00000008],
  [2, 16, 2, 0x812000000, "RW", 0x120006d5, 0x00000008],
  [2, 16, 2, 0x812000000, "R|NOEXEC", 0x12000655, 0x00600008],
  [2, 16, 2, 0x812000000, "RW|CACHE", 0x120007fd, 0x00000008],
  [2, 16, 2, 0x812000000, "RW|MMIO", 0x120006c5, 0x00000008],
  [2, 16, 2, 0x812000000, "RW|PRIV", 0x120006d5, 0x00000008],
  [2, 16, 2, 0x812000000, "RW|CACHE|NOEXEC|PRIV", 0x120007fd, 0x00600008],
  // stage 2, 64K granule
  [2, 64, 3, 0x812340000, "R", 0x12340657, 0x00000008],
  [2, 64, 3, 0x812340000, "RW", 0x123406d7, 0x00000008],
  [2, 64, 3, 0x812340000, "R|NOEXEC", 0x12340657, 0x00600008],
  [2, 64, 3, 0x812340000, "RW|CACHE", 0x123407ff, 0x00000008],
  [2, 64, 3, 0x812340000, "RW|MMIO", 0x123406c7, 0x00000008],
  [2, 64, 3, 0x812340000, "RW|PRIV", 0x123406d7, 0x00000008],
  [2, 64, 3, 0x812340000, "RW|CACHE|NOEXEC|PRIV", 0x123407ff, 0x00600008],
  [2, 64, 2, 0x820000000, "R", 0x20000655, 0x00000008],
  [2, 64, 2, 0x820000000, "RW", 0x200006d5, 0x00000008],
  [2, 64, 2, 0x820000000, "R|NOEXEC", 0x20000655, 0x00600008],
  [2, 64, 2, 0x820000000, "RW|CACHE", 0x200007fd, 0x00000008],
  [2, 64, 2, 0x820000000, "RW|MMIO", 0x200006c5, 0x00000008],
  [2, 64, 2, 0x820000000, "RW|PRIV", 0x200006d5, 0x00000008],
  [2, 64, 2, 0x820000000, "RW|CACHE|NOEXEC|PRIV", 0x200007fd, 0x00600008],
];

/** The prot a descriptor can give back: what Linux's bits can express. */
function expressible(stage: 1 | 2, prot: Prot): Prot {
  let p = prot;
  if (stage === 1) p |= PROT.READ; // stage 1 has no write-only; READ is implied
  if (stage === 2) p &= ~(PROT.PRIV | PROT.GLOBAL); // no privilege or ASID in stage 2
  return p;
}

describe("lpae: golden leaf descriptors", () => {
  it.each(GOLDEN)("s%i %iK level %i oa %#x %s", (stage, granuleK, level, oa, protName, lo, hi) => {
    const f = fmt(stage, granuleK);
    const li = idx(f, level);
    const size = f.levels[li]!.leafSizes[0]!;
    const prot = PROTS[protName]!;
    expect(encode(f, li, size, oa, prot).map((x) => x.toString(16))).toEqual([
      lo.toString(16),
      hi.toString(16),
    ]);
    // ... and back
    expect(f.kind(li, lo, hi)).toBe(DESC_LEAF);
    expect(f.address(li, lo, hi)).toBe(oa);
    expect(f.leafSize(li, lo, hi)).toBe(size);
    expect(f.protOf(li, lo, hi)).toBe(expressible(stage, prot));
    expect(f.perm(li, lo, hi)).toBe(permOf(f.attributes(li, lo, hi)));
  });

  it("decodes Linux's stage-1 attributes", () => {
    const f = fmt(1, 4);
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
    expect(f.attributes(3, 0x12345ec3, 0x8)).toEqual({ ...base, write: false });
    expect(f.attributes(3, 0x12345f47, 0x8)).toEqual({
      ...base,
      memType: "normal-wb",
      shareability: "inner",
    });
    expect(f.attributes(3, 0x12345e4b, 0x8)).toEqual({ ...base, memType: "device" });
    expect(f.attributes(2, 0x12400f05, 0x00600008)).toEqual({
      ...base,
      user: false,
      userExec: false,
      privExec: false,
      memType: "normal-wb",
      shareability: "inner",
    });
    // PERM masks: R = READ_PRIV|READ_USER|EXEC_PRIV|EXEC_USER|AF = 0x6d; no GLOBAL (nG).
    expect(f.perm(3, 0x12345ec3, 0x8)).toBe(0x6d);
    // R|NOEXEC: READ_PRIV|READ_USER|AF = 0x49
    expect(f.perm(3, 0x12345ec3, 0x00600008)).toBe(0x49);
    // RW|CACHE|NOEXEC|PRIV: READ_PRIV|WRITE_PRIV|AF = 0x43
    expect(f.perm(2, 0x12400f05, 0x00600008)).toBe(0x43);
  });

  it("decodes Linux's stage-2 attributes", () => {
    const f = fmt(2, 4);
    // R: S2AP=01, MemAttr 0x5 (normal-nc), SH outer, executable, user (no EL0/EL1 split)
    expect(f.attributes(3, 0x12345657, 0x8)).toEqual({
      read: true,
      write: false,
      userExec: true,
      privExec: true,
      user: true,
      memType: "normal-nc",
      shareability: "outer",
      accessFlag: true,
      notGlobal: false,
      ns: false,
    });
    // READ_PRIV|EXEC_PRIV|READ_USER|EXEC_USER|AF|GLOBAL = 1|4|8|32|64|128 = 0xed
    expect(f.perm(3, 0x12345657, 0x8)).toBe(0xed);
    // RW|MMIO: everything = 0xff, device
    expect(f.perm(3, 0x123456c7, 0x8)).toBe(0xff);
    expect(f.attributes(3, 0x123456c7, 0x8).memType).toBe("device");
    // RW|CACHE|NOEXEC: MemAttr 0xf (normal-wb), inner, XN
    const a = f.attributes(2, 0x124007fd, 0x00600008);
    expect([a.memType, a.shareability, a.userExec, a.privExec]).toEqual([
      "normal-wb",
      "inner",
      false,
      false,
    ]);
    // READ/WRITE both, AF, GLOBAL, no exec = 1|2|8|16|64|128 = 0xdb
    expect(f.perm(2, 0x124007fd, 0x00600008)).toBe(0xdb);
  });

  it("encodes the model flags NO_AF and GLOBAL", () => {
    const s1 = fmt(1, 4);
    // RW with AF clear: 0xe40 - 0x400 = 0xa40; GLOBAL: nG clear: 0xe40 - 0x800 = 0x640
    expect(encode(s1, 3, 4 * K, 0x5000, R | W | PROT.NO_AF)).toEqual([0x5a43, 0]);
    expect(encode(s1, 3, 4 * K, 0x5000, R | W | PROT.GLOBAL)).toEqual([0x5643, 0]);
    expect(s1.perm(3, 0x5643, 0) & PERM.GLOBAL).toBe(PERM.GLOBAL);
    expect(s1.perm(3, 0x5a43, 0) & PERM.AF).toBe(0);
    const s2 = fmt(2, 4);
    // stage 2 RW without AF: 0x6d4 - 0x400 = 0x2d4; GLOBAL has no bit
    expect(encode(s2, 3, 4 * K, 0x5000, R | W | PROT.NO_AF)).toEqual([0x52d7, 0]);
    expect(encode(s2, 3, 4 * K, 0x5000, R | W | PROT.GLOBAL)).toEqual([0x56d7, 0]);
  });

  it("follows Linux where prot_to_pte is lopsided", () => {
    const s1 = fmt(1, 4);
    // W without R: AP[2] stays clear (read-write); MMIO|CACHE: AttrIndx 2 but SH inner (0x300)
    expect(encode(s1, 3, 4 * K, 0, W)).toEqual([0xe43, 0]);
    expect(encode(s1, 3, 4 * K, 0, R | W | PROT.MMIO | PROT.CACHE)).toEqual([0xf4b, 0]);
    // stage 2 write-only is expressible: S2AP=10 -> 0x80; 0x400|0x200|0x80|0x14 = 0x694
    const s2 = fmt(2, 4);
    expect(encode(s2, 3, 4 * K, 0, W)).toEqual([0x697, 0]);
    expect(s2.protOf(3, 0x697, 0)).toBe(W);
  });

  it("exports the MAIR Linux programs for stage 1", () => {
    // idx0 0x44 (NC), idx1 0xff (WB), idx2 0x04 (device), idx3 0xf4 (inner NC, outer WB)
    expect(LPAE_S1_MAIR).toBe(0xf404ff44);
  });
});

describe("lpae: table descriptors and address encoding", () => {
  it("encodes tables as paddr | 0b11 and decodes them", () => {
    const out = new Uint32Array(2);
    for (const [granuleK, addr, lo] of [
      [4, 0x800123000, 0x00123003],
      [16, 0x800124000, 0x00124003],
      [64, 0x800120000, 0x00120003],
    ] as const) {
      const f = fmt(1, granuleK);
      f.encodeTable(0, addr, out);
      expect([out[0], out[1]]).toEqual([lo, 0x8]);
      expect(f.kind(0, lo, 0x8)).toBe(DESC_TABLE);
      expect(f.address(0, lo, 0x8)).toBe(addr);
      expect(f.describe(0, lo, 0x8)).toBe("TABLE");
    }
  });

  it("keeps PA[51:48] in bits 15:12 with the 64K granule (paddr_to_iopte / iopte_to_paddr)", () => {
    // lo 0x1234_5ec3: with 4K that is OA 0x8_1234_5000; with 64K bits 15:12 (= 5) are PA[51:48].
    expect(fmt(1, 4).address(3, 0x12345ec3, 0x8)).toBe(0x812345000);
    expect(fmt(1, 64).address(2, 0x12345ec3, 0x8)).toBe(5 * 2 ** 48 + 0x812340000);
  });

  it("masks a block's address to the block size and a table's to the granule", () => {
    const f = fmt(1, 16);
    // a 32M block with stray bits 24:14 set; a 16K-granule table with bits 13:12 set
    expect(f.address(2, 0x13ffcec1, 0)).toBe(0x12000000);
    expect(f.address(1, 0x00127003, 0)).toBe(0x124000);
  });

  it("treats reserved encodings as invalid", () => {
    const f4 = fmt(1, 4);
    expect(f4.kind(3, 0, 0)).toBe(DESC_INVALID);
    expect(f4.kind(3, 0x12345ec1, 0)).toBe(DESC_INVALID); // 0b01 at level 3 is reserved
    expect(f4.kind(3, 0x12345ec2, 0)).toBe(DESC_INVALID); // valid bit clear
    expect(f4.kind(0, 0x00000ec1, 0)).toBe(DESC_INVALID); // no 512G blocks at level 0
    expect(f4.kind(1, 0x40000ec1, 0)).toBe(DESC_LEAF); // 1G block
    const f16 = fmt(1, 16);
    expect(f16.kind(idx(f16, 1), 0x00000ec1, 0)).toBe(DESC_INVALID); // no 64G blocks
    const f64 = fmt(1, 64);
    expect(f64.kind(idx(f64, 1), 0x00000ec1, 0)).toBe(DESC_INVALID); // no 4T blocks (oas <= 48)
    expect(f4.describe(3, 0, 0)).toBe("INVALID");
  });

  it("describes set bits", () => {
    const s1 = fmt(1, 4);
    expect(s1.describe(3, 0x12345f47, 0x8)).toBe("PAGE AF nG AP[1] SH=inner AttrIndx=1");
    expect(s1.describe(2, 0x12400f05, 0x00600008)).toBe("BLOCK AF nG SH=inner AttrIndx=1 XN");
    expect(s1.describe(3, 0x12345ec3, 0x8)).toBe("PAGE AF nG AP[1] AP[2] SH=outer AttrIndx=0");
    expect(s1.describe(3, 0x12345ec3, 0x00400008)).toBe(
      "PAGE AF nG AP[1] AP[2] SH=outer AttrIndx=0 UXN",
    );
    const s2 = fmt(2, 4);
    expect(s2.describe(3, 0x123457ff, 0x00600008)).toBe("PAGE AF S2AP=RW SH=inner MemAttr=0xf XN");
    expect(s2.describe(3, 0x123456c7, 0x8)).toBe("PAGE AF S2AP=RW SH=outer MemAttr=0x1");
  });
});

describe("lpae: geometry", () => {
  // [granuleK, stage, ias, startLevel, levels, rootEntries, rootBytes, concat]
  // Derived from arm_lpae_alloc_pgtable: bpl = shift - 3; va = ias - shift;
  // levels = ceil(va / bpl); start = 4 - levels; pgd_bits = va - (levels - 1) * bpl;
  // root = 2^pgd_bits entries, ARM_LPAE_PGD_SIZE = 8 << pgd_bits bytes. Stage 2 (s2 rule):
  // if start == 0 and root <= 16 entries: start = 1, pgd_bits += bpl (root tables concatenated).
  const GEOMETRY: [number, 1 | 2, number, number, number, number, number, number][] = [
    // 4K: bpl 9, va = ias - 12
    [4, 1, 32, 1, 3, 4, 32, 1], // va 20: 3 levels, pgd 20 - 18 = 2
    [4, 1, 36, 1, 3, 64, 512, 1], // va 24: pgd 6
    [4, 1, 39, 1, 3, 512, 4096, 1], // va 27: pgd 9
    [4, 1, 40, 0, 4, 2, 16, 1], // va 28: 4 levels, pgd 28 - 27 = 1
    [4, 1, 42, 0, 4, 8, 64, 1], // pgd 3
    [4, 1, 44, 0, 4, 32, 256, 1], // pgd 5
    [4, 1, 47, 0, 4, 256, 2048, 1], // pgd 8
    [4, 1, 48, 0, 4, 512, 4096, 1], // pgd 9
    [4, 2, 32, 1, 3, 4, 32, 1],
    [4, 2, 36, 1, 3, 64, 512, 1],
    [4, 2, 39, 1, 3, 512, 4096, 1],
    [4, 2, 40, 1, 3, 1024, 8192, 2], // 2 entries at level 0 -> 2 tables at level 1
    [4, 2, 41, 1, 3, 2048, 16384, 4],
    [4, 2, 42, 1, 3, 4096, 32768, 8], // 8 entries -> 8 tables
    [4, 2, 43, 1, 3, 8192, 65536, 16], // 16 entries: the most that concatenate
    [4, 2, 44, 0, 4, 32, 256, 1], // 32 entries: too many
    [4, 2, 47, 0, 4, 256, 2048, 1],
    [4, 2, 48, 0, 4, 512, 4096, 1],
    // 16K: bpl 11, va = ias - 14
    [16, 1, 32, 2, 2, 128, 1024, 1], // va 18: 2 levels, pgd 7
    [16, 1, 36, 2, 2, 2048, 16384, 1], // va 22: pgd 11
    [16, 1, 39, 1, 3, 8, 64, 1], // va 25: 3 levels, pgd 3
    [16, 1, 40, 1, 3, 16, 128, 1], // pgd 4
    [16, 1, 42, 1, 3, 64, 512, 1], // pgd 6
    [16, 1, 44, 1, 3, 256, 2048, 1], // pgd 8
    [16, 1, 47, 1, 3, 2048, 16384, 1], // pgd 11
    [16, 1, 48, 0, 4, 2, 16, 1], // va 34: 4 levels, pgd 1
    [16, 2, 32, 2, 2, 128, 1024, 1],
    [16, 2, 36, 2, 2, 2048, 16384, 1],
    [16, 2, 39, 1, 3, 8, 64, 1],
    [16, 2, 40, 1, 3, 16, 128, 1], // start level 1: not concatenated by the s2 rule
    [16, 2, 42, 1, 3, 64, 512, 1],
    [16, 2, 44, 1, 3, 256, 2048, 1],
    [16, 2, 47, 1, 3, 2048, 16384, 1],
    [16, 2, 48, 1, 3, 4096, 32768, 2], // 2 entries at level 0 -> 2 tables at level 1
    // 64K: bpl 13, va = ias - 16
    [64, 1, 32, 2, 2, 8, 64, 1], // va 16: 2 levels, pgd 3
    [64, 1, 36, 2, 2, 128, 1024, 1], // pgd 7
    [64, 1, 39, 2, 2, 1024, 8192, 1], // pgd 10
    [64, 1, 40, 2, 2, 2048, 16384, 1], // pgd 11
    [64, 1, 42, 2, 2, 8192, 65536, 1], // pgd 13
    [64, 1, 44, 1, 3, 4, 32, 1], // va 28: 3 levels, pgd 2
    [64, 1, 47, 1, 3, 32, 256, 1], // pgd 5
    [64, 1, 48, 1, 3, 64, 512, 1], // pgd 6
    [64, 2, 32, 2, 2, 8, 64, 1],
    [64, 2, 36, 2, 2, 128, 1024, 1],
    [64, 2, 39, 2, 2, 1024, 8192, 1],
    [64, 2, 40, 2, 2, 2048, 16384, 1],
    [64, 2, 42, 2, 2, 8192, 65536, 1],
    [64, 2, 44, 1, 3, 4, 32, 1],
    [64, 2, 47, 1, 3, 32, 256, 1],
    [64, 2, 48, 1, 3, 64, 512, 1],
  ];

  it.each(GEOMETRY)(
    "%iK s%i ias%i: start level %i, %i levels, root %i entries / %i bytes, concat %i",
    (granuleK, stage, ias, start, levels, rootEntries, rootBytes, concat) => {
      const f = fmt(stage, granuleK, ias, ias);
      expect(f.levels.length).toBe(levels);
      expect(f.levels[0]!.level).toBe(start);
      expect(f.levels.map((l) => l.level)).toEqual(
        Array.from({ length: levels }, (_, i) => start + i),
      );
      expect(f.rootEntries).toBe(rootEntries);
      expect(f.rootBytes).toBe(rootBytes);
      expect(f.name).toBe(
        `lpae-s${stage} ${granuleK}K ias${ias} oas${ias}` + (concat > 1 ? ` concat${concat}` : ""),
      );
      expect(f.family).toBe("lpae");
      expect(f.descriptorBytes).toBe(8);
      expect(f.granule).toBe(granuleK * K);
    },
  );

  // Per granule: arch level -> [shift, leafSizes]. ARM_LPAE_LVL_SHIFT = (4 - l) * bpl + 3.
  const LEVELS: Record<number, Record<number, [number, number[]]>> = {
    4: { 0: [39, []], 1: [30, [G]], 2: [21, [2 * M]], 3: [12, [4 * K]] },
    16: { 0: [47, []], 1: [36, []], 2: [25, [32 * M]], 3: [14, [16 * K]] },
    64: { 1: [42, []], 2: [29, [512 * M]], 3: [16, [64 * K]] },
  };
  const PAGE_SIZES: Record<number, number[]> = {
    4: [4 * K, 2 * M, G],
    16: [16 * K, 32 * M],
    64: [64 * K, 512 * M],
  };

  it.each([4, 16, 64])("%iK: shifts, leaf sizes, table sizes and page sizes", (granuleK) => {
    for (const stage of [1, 2] as const) {
      for (const ias of [32, 36, 39, 40, 42, 44, 47, 48]) {
        const f = fmt(stage, granuleK, ias, 48);
        for (const l of f.levels) {
          const [shift, leafSizes] = LEVELS[granuleK]![l.level]!;
          expect([l.shift, l.leafSizes]).toEqual([shift, leafSizes]);
          expect(l.entries).toBe((granuleK * K) / 8);
          expect(l.tableBytes).toBe(granuleK * K);
          expect(l.hasTables).toBe(l.level < 3);
        }
        // every Linux size exists for ias >= 32 (the root level always holds the largest block)
        expect(f.pageSizes).toEqual(PAGE_SIZES[granuleK]);
        expect(f.levels.flatMap((l) => l.leafSizes).sort((a, b) => a - b)).toEqual(f.pageSizes);
      }
    }
  });

  it("validates its options", () => {
    const ok = { stage: 1, granule: 4096, ias: 48, oas: 48 } as const;
    expect(codeOf(() => createLpaeFormat({ ...ok, ias: 31 }))).toBe("ERANGE");
    expect(codeOf(() => createLpaeFormat({ ...ok, ias: 49 }))).toBe("ERANGE");
    expect(codeOf(() => createLpaeFormat({ ...ok, oas: 52 }))).toBe("ERANGE");
    expect(codeOf(() => createLpaeFormat({ ...ok, oas: 20 }))).toBe("ERANGE");
    expect(codeOf(() => createLpaeFormat({ ...ok, ias: 40.5 }))).toBe("EINVAL");
    expect(codeOf(() => createLpaeFormat({ ...ok, stage: 3 as 1 }))).toBe("EINVAL");
    expect(codeOf(() => createLpaeFormat({ ...ok, granule: 8192 as 4096 }))).toBe("EINVAL");
    expect(() => createLpaeFormat({ ...ok, ias: 31 })).toThrow(/ias 31/);
    expect(codeOf(() => createLpaeFormat({ stage: 2, granule: 65536, ias: 32, oas: 32 }))).toBe(
      undefined,
    );
  });

  it("refuses leaves it cannot encode", () => {
    const f = fmt(1, 4, 48, 40);
    const out = new Uint32Array(2);
    expect(codeOf(() => f.encodeLeaf(3, 2 * M, 0, R, out))).toBe("EINVAL"); // wrong size
    expect(codeOf(() => f.encodeLeaf(0, 512 * G, 0, R, out))).toBe("EINVAL"); // no level-0 block
    expect(codeOf(() => f.encodeLeaf(2, 2 * M, 0x1000, R, out))).toBe("EINVAL"); // misaligned
    expect(codeOf(() => f.encodeLeaf(3, 4 * K, 2 ** 40, R, out))).toBe("ERANGE"); // beyond oas
    expect(codeOf(() => f.encodeTable(3, 0x1000, out))).toBe("EINVAL"); // no table at level 3
    expect(codeOf(() => f.encodeTable(0, 0x1800, out))).toBe("EINVAL"); // misaligned table
  });
});

describe("lpae: round trips (property)", () => {
  const CONFIGS: { stage: 1 | 2; granule: Granule; ias: number; oas: number }[] = [];
  for (const stage of [1, 2] as const)
    for (const granule of [4096, 16384, 65536] as const)
      for (const ias of [32, 36, 39, 40, 42, 44, 47, 48])
        for (const oas of [32, 40, 48]) CONFIGS.push({ stage, granule, ias, oas });
  const formats = CONFIGS.map((c) => createLpaeFormat(c));

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

  /** A format, a level index with leaves, a leaf size and an aligned output address. */
  const leafArb = fc.constantFrom(...formats).chain((f) => {
    const leafLevels = f.levels.flatMap((l, i) => (l.leafSizes.length ? [i] : []));
    return fc
      .constantFrom(...leafLevels)
      .chain((li) =>
        fc
          .constantFrom(...f.levels[li]!.leafSizes)
          .chain((size) =>
            fc
              .bigInt({ min: 0n, max: BigInt(2 ** f.oas / size - 1) })
              .map((k) => ({ f, li, size, oa: Number(k) * size })),
          ),
      );
  });

  it("decode(encodeLeaf(x)) gives x back", () => {
    const out = new Uint32Array(2);
    fc.assert(
      fc.property(leafArb, protArb, ({ f, li, size, oa }, prot) => {
        f.encodeLeaf(li, size, oa, prot, out);
        const lo = out[0]!;
        const hi = out[1]!;
        expect(f.kind(li, lo, hi)).toBe(DESC_LEAF);
        expect(f.address(li, lo, hi)).toBe(oa);
        expect(f.leafSize(li, lo, hi)).toBe(size);
        expect(f.protOf(li, lo, hi)).toBe(expressible(f.stage, prot));
        expect(f.perm(li, lo, hi)).toBe(permOf(f.attributes(li, lo, hi)));
        // re-encoding protOf gives the same descriptor (what splitting a block relies on)
        f.encodeLeaf(li, size, oa, f.protOf(li, lo, hi), out);
        expect([out[0], out[1]]).toEqual([lo, hi]);
        expect(typeof f.describe(li, lo, hi)).toBe("string");
      }),
      { numRuns: 400 },
    );
  });

  it("decode(encodeTable(x)) gives x back", () => {
    const out = new Uint32Array(2);
    const tableArb = fc.constantFrom(...formats).chain((f) =>
      fc.record({
        f: fc.constant(f),
        li: fc.integer({ min: 0, max: f.levels.length - 2 }),
        addr: fc
          .bigInt({ min: 0n, max: BigInt(2 ** f.oas / f.granule - 1) })
          .map((k) => Number(k) * f.granule),
      }),
    );
    fc.assert(
      fc.property(tableArb, ({ f, li, addr }) => {
        f.encodeTable(li, addr, out);
        expect(f.kind(li, out[0]!, out[1]!)).toBe(DESC_TABLE);
        expect(f.address(li, out[0]!, out[1]!)).toBe(addr);
        expect(out[1]! < 2 ** 16).toBe(true); // no attribute bits in the high word
        expect(Math.floor(addr / TWO_32)).toBe(out[1]);
      }),
      { numRuns: 200 },
    );
  });

  it("perm equals permOf(attributes) for arbitrary descriptor bits", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...formats),
        fc.nat({ max: 3 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (f, l, lo, hi) => {
          const li = Math.min(l, f.levels.length - 1);
          expect(f.perm(li, lo, hi)).toBe(permOf(f.attributes(li, lo, hi)));
        },
      ),
      { numRuns: 300 },
    );
  });
});
