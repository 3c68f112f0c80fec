/**
 * The list encoding of reference §3 (`rm_rpc_read_list`), the cursors and fixed layouts.
 */
import { describe, expect, it } from "vitest";

import { expectError } from "../../base/errors.testutil.js";
import {
  listBytes,
  readAcl,
  readAttrs,
  readSgl,
  readSizes,
  readStruct,
  struct,
  WireReader,
  WireWriter,
  writeAcl,
  writeAttrs,
  writeSgl,
  writeSizes,
  writeStruct,
} from "./lists.js";

function bytes(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, "");
  return Uint8Array.from(clean.match(/../g) ?? [], (b) => parseInt(b, 16));
}

function reader(hex: string): WireReader {
  return new WireReader("TEST", bytes(hex));
}

describe("reading lists", () => {
  it("reads count, the second le16 and the entries", () => {
    const r = reader(
      "02000000 8000 07 00 0300 06 ff  01003412 00000080 00000000 00002000 00000000",
    );
    expect(readAcl(r)).toEqual([
      { vmid: 0x80, rights: 7 },
      { vmid: 3, rights: 6 },
    ]);
    expect(readSgl(r)).toEqual({ sgl: [{ ipa: 0x8000_0000, size: 0x20_0000 }], second: 0x1234 });
    expect(r.fault).toBeUndefined();
    expect(r.left).toBe(0);
  });

  it("gives 0 entries to a list where the payload ends exactly", () => {
    const r = reader("01000000 8000 07 00");
    expect(readAcl(r)).toHaveLength(1);
    expect(readSgl(r)).toEqual({ sgl: [], second: 0 });
    expect(readAttrs(r)).toEqual([]);
    r.end("the attribute list");
    expect(r.result("ok")).toEqual({ ok: true, value: "ok" });
  });

  it("refuses a list header cut short (misaligned end)", () => {
    const r = reader("00000000 0100");
    readAcl(r);
    readSgl(r);
    expect(r.result(0)).toEqual({
      ok: false,
      err: "MSG_INVALID",
      reason: "TEST: 2 bytes left where the SGL list header (4 bytes) would start",
    });
  });

  it("refuses a count that overruns the payload, before allocating anything", () => {
    const r = reader("ffff0000 00000000");
    expect(readSgl(r).sgl).toEqual([]);
    expect(r.fault).toBe("TEST: SGL list count 65535 is above the 512-entry limit");
    expect(r.result(0)).toMatchObject({ ok: false, err: "NORESOURCE" });
    const r2 = reader("03000000" + "00".repeat(40));
    readSgl(r2);
    expect(r2.fault).toBe("TEST: SGL list count 3 overruns the payload (40 bytes left, 48 needed)");
  });

  it("refuses a count above 512 with NORESOURCE, as rm_rpc_read_list, even when the entries are there", () => {
    const r = reader("58020000" + "8000 0700".repeat(600));
    expect(readAcl(r)).toHaveLength(0);
    expect(r.result(0)).toEqual({
      ok: false,
      err: "NORESOURCE",
      reason: "TEST: ACL list count 600 is above the 512-entry limit",
    });
    const ok = reader("00020000" + "8000 0700".repeat(512));
    expect(readAcl(ok)).toHaveLength(512);
    expect(ok.fault).toBeUndefined();
  });

  it("refuses bytes left after the last list", () => {
    const r = reader("00000000 00000000 aa");
    readAcl(r);
    readSgl(r);
    readAttrs(r);
    r.end("the attribute list");
    expect(r.fault).toBe(
      "TEST: 1 bytes left where the attribute list header (4 bytes) would start",
    );
    const r2 = reader("00000000 00000000 00000000 aabbccdd");
    readAcl(r2);
    readSgl(r2);
    readAttrs(r2);
    r2.end("the attribute list");
    expect(r2.fault).toBe("TEST: 4 bytes left over after the attribute list");
  });

  it("refuses a le64 above 2^53-1 instead of rounding it", () => {
    const ok = reader("01000000 ffffffff ffff1f00 00100000 00000000");
    expect(readSgl(ok).sgl).toEqual([{ ipa: 2 ** 53 - 1, size: 0x1000 }]);
    const big = reader("01000000 00000000 00002000 00100000 00000000");
    readSgl(big);
    expect(big.fault).toBe("TEST: SGL entry 0 ipa 0x20000000000000 is above 2^53-1");
    const size = reader("02000000 0000000000000000 ffffffffffffffff");
    readSizes(size);
    expect(size.fault).toBe("TEST: region size entry 1 0xffffffffffffffff is above 2^53-1");
    expect(reader("0000000000002000").u64("image_size")).toBe(0);
  });
});

describe("the reader's scalar reads", () => {
  it("records the first fault only, and reads zeros after it", () => {
    const r = reader("0102");
    expect(r.u16("vmid")).toBe(0x0201);
    expect(r.u32("handle")).toBe(0);
    expect(r.u8("flags")).toBe(0);
    expect(r.fault).toBe("TEST: payload ends inside handle (byte 2: 4 needed, 0 left)");
  });

  it("refuses non-zero bytes the RM requires to be zero", () => {
    const r = reader("0000 0100");
    readStruct(r, struct("vmid:u16 res:z2"), {});
    expect(r.fault).toBe("TEST: res must be 0, is 0x1 (byte 2)");
  });
});

describe("writing", () => {
  it("writes lists and fixed layouts little-endian", () => {
    const w = new WireWriter(
      "TEST",
      8 + listBytes(1, 4) + listBytes(1, 16) + listBytes(1, 4) + listBytes(1, 8),
    );
    writeStruct(w, struct("memType:u8 res:r1 flags:u8 res:r1 label:u32"), {
      memType: 1,
      flags: 2,
      label: 0x11,
    });
    writeAcl(w, [{ vmid: 0x80, rights: 7 }]);
    writeSgl(w, [{ ipa: 2 ** 40 + 0x1000, size: 0x20_0000 }], 0x33);
    writeAttrs(w, [{ attr: 1, vmid: 0x80 }]);
    writeSizes(w, [2 ** 52]);
    const hex = Array.from(w.done(), (b) => b.toString(16).padStart(2, "0")).join("");
    const golden = [
      "01000200 11000000", // mem_type 1, res, flags 2, res, label 0x11
      "01000000 80000700", // ACL: 1 entry; vmid 0x80, rights 7, res
      "01003300 0010000000010000 0000200000000000", // SGL: 1 entry, second 0x33; ipa, size
      "01000000 01008000", // attributes: 1 entry; attr 1, vmid 0x80
      "01000000 0000000000001000", // sizes: 1 entry; 2^52
    ];
    expect(hex).toBe(golden.join("").replace(/ /g, ""));
  });

  it("throws EINVAL for a value that does not fit its field", () => {
    const w = () => new WireWriter("MEM_LEND", 64);
    expectError(() => w().u16(0x10000, "vmid"), "EINVAL", "MEM_LEND: vmid 65536 is not a u16");
    expectError(() => w().u8(-1, "flags"), "EINVAL", "flags -1 is not a u8");
    expectError(() => w().u32(1.5, "label"), "EINVAL", "label 1.5 is not a u32");
    expectError(
      () => w().u64(2 ** 53, "size"),
      "EINVAL",
      "size 9007199254740992 is not a u64 below 2^53",
    );
    expectError(
      () => writeSgl(w(), [{ ipa: -4096, size: 4096 }]),
      "EINVAL",
      "SGL entry 0 ipa -4096",
    );
    expectError(
      () => writeAcl(w(), [{ vmid: 1, rights: 256 }]),
      "EINVAL",
      "ACL entry 0 rights 256",
    );
    expectError(
      () => writeAcl(w(), new Array(70_000).fill({ vmid: 1, rights: 4 })),
      "EINVAL",
      "ACL list count 70000 is not a u16",
    );
  });

  it("computes a layout's size from its string", () => {
    expect(
      struct(
        "vmid:u16 auth:u16 memHandle:u32 imageOffset:u64 imageSize:u64 dtbOffset:u64 dtbSize:u64",
      ).bytes,
    ).toBe(40);
    expect(struct("").bytes).toBe(0);
    expect(() => struct("vmid:i16")).toThrow(/bad field/);
    expect(listBytes(3, 16)).toBe(52);
  });
});

describe("SGLs either side of the 64-byte payload V8 keeps on its heap", () => {
  it("round-trips 0 to 5 and 512 entries, from any byte offset", () => {
    for (const n of [0, 1, 2, 3, 4, 5, 512]) {
      const sgl = Array.from({ length: n }, (_, i) => ({
        ipa: (i % 2 === 0 ? 2 ** 40 : 0) + 0x1000 * (i + 1),
        size: i % 3 === 0 ? 2 ** 33 + 0x1000 : 0x2000 * (i + 1),
      }));
      const w = new WireWriter("TEST", 4 + listBytes(n, 16));
      w.u32(0xdead_beef, "head");
      writeSgl(w, sgl, 0x33);
      const bytes = w.done();
      for (const offset of [0, 1, 3]) {
        const shifted = new Uint8Array(bytes.length + offset);
        shifted.set(bytes, offset);
        const r = new WireReader("TEST", shifted.subarray(offset));
        expect(r.u32("head")).toBe(0xdead_beef);
        expect(readSgl(r)).toEqual({ sgl, second: 0x33 });
        expect(r.left).toBe(0);
      }
    }
  });
});
