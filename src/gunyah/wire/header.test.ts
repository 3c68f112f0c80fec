/**
 * The 8-byte RM header against reference §5, byte for byte (vectors written out by hand).
 */
import { fc, it as prop } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";

import { expectError } from "../../base/errors.testutil.js";
import { decodeHeader, encodeHeader } from "./header.js";
import { MSG, MSG_TYPE } from "./ids.js";

function bytes(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, "");
  return Uint8Array.from(clean.match(/../g) ?? [], (b) => parseInt(b, 16));
}

describe("encodeHeader", () => {
  it("writes 0x21, type | fragments << 2, le16 seq, le32 msg_id", () => {
    const h = { type: MSG_TYPE.REQUEST, fragments: 0, seq: 0x1234, msgId: MSG.MEM_LEND };
    expect(encodeHeader(h)).toEqual(bytes("21 01 3412 12000051"));
    const reply = { type: MSG_TYPE.REPLY, fragments: 2, seq: 0xffff, msgId: MSG.VM_GET_VMID };
    expect(encodeHeader(reply)).toEqual(bytes("21 0a ffff 24000056"));
    const notif = { type: MSG_TYPE.NOTIFICATION, fragments: 62, seq: 0, msgId: MSG.VM_STATUS };
    expect(encodeHeader(notif)).toEqual(bytes("21 fb 0000 08001056"));
    const cont = { type: MSG_TYPE.CONTINUATION, fragments: 1, seq: 1, msgId: 0xffffffff };
    expect(encodeHeader(cont)).toEqual(bytes("21 04 0100 ffffffff"));
  });

  it("refuses fields that do not fit", () => {
    const ok = { type: MSG_TYPE.REQUEST, fragments: 0, seq: 0, msgId: 0 } as const;
    expectError(() => encodeHeader({ ...ok, fragments: 63 }), "EINVAL", "fragments 63");
    expectError(() => encodeHeader({ ...ok, seq: 0x10000 }), "EINVAL", "seq 65536");
    expectError(() => encodeHeader({ ...ok, msgId: -1 }), "EINVAL", "msgId -1");
    expectError(() => encodeHeader({ ...ok, type: 4 as never }), "EINVAL", "type 4");
  });
});

describe("decodeHeader", () => {
  it("reads the fields and ignores what follows the 8 bytes", () => {
    expect(decodeHeader(bytes("21 f9 0700 12000051 deadbeef"))).toEqual({
      ok: true,
      header: { type: 1, fragments: 62, seq: 7, msgId: 0x51000012 },
    });
    expect(decodeHeader(bytes("21 02 0000 11001051"))).toEqual({
      ok: true,
      header: { type: 2, fragments: 0, seq: 0, msgId: MSG.MEM_SHARED },
    });
  });

  it("refuses a short message, a bad version or word count, more than 62 fragments", () => {
    expect(decodeHeader(bytes("21 01 0000 120000"))).toEqual({
      ok: false,
      reason: "message of 7 bytes is shorter than the 8-byte header",
    });
    expect(decodeHeader(bytes("22 01 0000 12000051"))).toEqual({
      ok: false,
      reason: "header api_version 2 is not 1 (byte 0 = 0x22)",
    });
    expect(decodeHeader(bytes("31 01 0000 12000051"))).toEqual({
      ok: false,
      reason: "header_words 3 is not 2 (byte 0 = 0x31)",
    });
    expect(decodeHeader(bytes("21 fd 0000 12000051"))).toEqual({
      ok: false,
      reason: "fragment count 63 is above the maximum of 62",
    });
  });

  prop.prop([fc.constantFrom(0, 1, 2, 3), fc.nat(62), fc.nat(0xffff), fc.nat(0xffffffff)])(
    "decode(encode(h)) = h",
    (type, fragments, seq, msgId) => {
      const h = { type: type, fragments, seq, msgId };
      expect(decodeHeader(encodeHeader(h))).toEqual({ ok: true, header: h });
    },
  );

  prop.prop([fc.uint8Array({ maxLength: 16 })])("never throws", (b) => {
    expect(() => decodeHeader(b)).not.toThrow();
  });
});
