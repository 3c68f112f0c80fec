/**
 * Framing against reference §5 and the RM's `rm-rpc.c`: fragment sizes and headers, the
 * 63-fragment maximum, and every drop rule of the receiver.
 */
import { fc, it as prop } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";

import {
  fragmentMessage,
  LINUX_MAX_REQUEST_PAYLOAD,
  Reassembler,
  RM_MAX_PAYLOAD,
  type ReassemblyStep,
} from "./fragment.js";
import { MSG, MSG_TYPE } from "./ids.js";

function bytes(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, "");
  return Uint8Array.from(clean.match(/../g) ?? [], (b) => parseInt(b, 16));
}

function hexOf(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function payload(n: number, seed = 1): Uint8Array {
  const p = new Uint8Array(n);
  for (let i = 0; i < n; i++) p[i] = (i * 31 + seed) & 0xff;
  return p;
}

/** Byte equality without the cost of a deep comparison of 14 KB arrays. */
function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function frags(type: 1 | 2 | 3, msgId: number, seq: number, p: Uint8Array): Uint8Array[] {
  const r = fragmentMessage(type, msgId, seq, p);
  if (!r.ok) throw new Error(r.reason);
  return r.fragments;
}

function pushAll(r: Reassembler, fs: readonly Uint8Array[]): ReassemblyStep[] {
  return fs.map((f) => r.push(f));
}

describe("fragmentMessage", () => {
  it("sends an empty payload as one 8-byte message", () => {
    const fs = frags(MSG_TYPE.REQUEST, MSG.VM_GET_VMID, 3, new Uint8Array(0));
    expect(fs.map(hexOf)).toEqual(["2101030024000056"]);
  });

  it("fills 232 bytes per fragment; the count of continuations is in every header", () => {
    expect(RM_MAX_PAYLOAD).toBe(14_616);
    expect(LINUX_MAX_REQUEST_PAYLOAD).toBe(14_384);
    const one = frags(MSG_TYPE.REPLY, MSG.MEM_LEND, 9, payload(232));
    expect(one.map((f) => f.length)).toEqual([240]);
    expect(hexOf(one[0]!.subarray(0, 8))).toBe("2102090012000051");
    const two = frags(MSG_TYPE.REPLY, MSG.MEM_LEND, 9, payload(233));
    expect(two.map((f) => f.length)).toEqual([240, 9]);
    // First: type REPLY with 1 continuation (1 << 2 | 2 = 0x06); then CONTINUATION (0x04).
    expect(hexOf(two[0]!.subarray(0, 8))).toBe("2106090012000051");
    expect(hexOf(two[1]!)).toBe("2104090012000051" + hexOf(payload(233).subarray(232)));
  });

  it("sends 14,616 bytes as 63 full fragments, each saying 62 continuations", () => {
    const p = payload(14_616, 7);
    const fs = frags(MSG_TYPE.NOTIFICATION, MSG.MEM_SHARED, 0xbeef, p);
    expect(fs).toHaveLength(63);
    expect(fs.every((f) => f.length === 240)).toBe(true);
    expect(hexOf(fs[0]!.subarray(0, 8))).toBe("21fbefbe11001051"); // 62 << 2 | 3
    for (const f of fs.slice(1)) expect(hexOf(f.subarray(0, 8))).toBe("21f8efbe11001051");
    const step = pushAll(new Reassembler(), fs).at(-1)!;
    expect(step).toEqual({
      kind: "message",
      type: 3,
      msgId: MSG.MEM_SHARED,
      seq: 0xbeef,
      payload: p,
    });
  });

  it("refuses what the RM never sends, without throwing", () => {
    expect(fragmentMessage(MSG_TYPE.REQUEST, MSG.MEM_LEND, 0, new Uint8Array(14_617))).toEqual({
      ok: false,
      reason:
        "MEM_LEND: payload of 14617 bytes is above the 14616-byte maximum (63 fragments of 232)",
    });
    expect(fragmentMessage(MSG_TYPE.CONTINUATION, 1, 0, new Uint8Array(1))).toMatchObject({
      ok: false,
      reason: "message type 0 is not REQUEST, REPLY or NOTIFICATION",
    });
    expect(fragmentMessage(1, 1, 0x10000, new Uint8Array(1))).toMatchObject({ ok: false });
    expect(fragmentMessage(1, 2 ** 32, 0, new Uint8Array(1))).toMatchObject({ ok: false });
  });
});

describe("Reassembler", () => {
  const three = () => frags(MSG_TYPE.REQUEST, MSG.MEM_LEND, 5, payload(600));

  it("delivers a single-fragment message at once, a longer one on its last fragment", () => {
    const r = new Reassembler();
    expect(r.push(bytes("2101050024000056"))).toEqual({
      kind: "message",
      type: 1,
      msgId: MSG.VM_GET_VMID,
      seq: 5,
      payload: new Uint8Array(0),
    });
    const steps = pushAll(r, three());
    expect(steps.map((s) => s.kind)).toEqual(["pending", "pending", "message"]);
    expect(r.pending).toBeUndefined();
  });

  it("drops messages shorter than 8 or longer than 240 bytes", () => {
    const r = new Reassembler();
    expect(r.push(bytes("21010500240000"))).toEqual({
      kind: "dropped",
      reason: "message of 7 bytes is shorter than the 8-byte header",
    });
    const long = new Uint8Array(241);
    long.set(bytes("2101050024000056"));
    expect(r.push(long)).toEqual({
      kind: "dropped",
      reason: "message of 241 bytes is longer than 240",
    });
  });

  it("drops a wrong version, a wrong word count and more than 62 continuations", () => {
    const r = new Reassembler();
    expect(r.push(bytes("2001050024000056"))).toMatchObject({
      reason: "header api_version 0 is not 1 (byte 0 = 0x20)",
    });
    expect(r.push(bytes("1101050024000056"))).toMatchObject({
      reason: "header_words 1 is not 2 (byte 0 = 0x11)",
    });
    expect(r.push(bytes("21fd050024000056"))).toMatchObject({
      kind: "dropped",
      reason: "fragment count 63 is above the maximum of 62",
    });
    expect(r.pending).toBeUndefined();
  });

  it("drops a continuation with nothing pending", () => {
    expect(new Reassembler().push(three()[1]!)).toEqual({
      kind: "dropped",
      reason: "continuation of MEM_LEND seq 5 with no message pending",
    });
  });

  it("drops a continuation whose msg_id, seq or count differs, and keeps the pending message", () => {
    const [first, second, third] = three();
    const r = new Reassembler();
    expect(r.push(first!)).toEqual({ kind: "pending" });
    const otherId = second!.slice();
    otherId[4] = 0x13; // MEM_SHARE
    expect(r.push(otherId)).toEqual({
      kind: "dropped",
      reason:
        "continuation of MEM_SHARE seq 5 (2 continuations) does not match the pending MEM_LEND seq 5 (2 continuations)",
    });
    const otherSeq = second!.slice();
    otherSeq[2] = 6;
    expect(r.push(otherSeq)).toMatchObject({
      kind: "dropped",
      reason: expect.stringContaining("MEM_LEND seq 6 (2") as unknown,
    });
    const otherCount = second!.slice();
    otherCount[1] = 3 << 2;
    expect(r.push(otherCount)).toMatchObject({
      kind: "dropped",
      reason: expect.stringContaining("seq 5 (3 continuations)") as unknown,
    });
    expect(r.pending).toEqual({ type: 1, msgId: MSG.MEM_LEND, seq: 5, missing: 2 });
    expect(r.push(second!)).toEqual({ kind: "pending" });
    expect(r.push(third!)).toMatchObject({ kind: "message", payload: payload(600) });
  });

  it("discards a partial message when a new one starts, and reports it", () => {
    const r = new Reassembler();
    r.push(three()[0]!);
    r.push(three()[1]!);
    const single = bytes("2102070012000051 00000000 05000000");
    expect(r.push(single)).toEqual({
      kind: "message",
      type: 2,
      msgId: MSG.MEM_LEND,
      seq: 7,
      payload: bytes("00000000 05000000"),
      discarded: { type: 1, msgId: MSG.MEM_LEND, seq: 5, received: 2, expected: 3 },
    });
    r.push(three()[0]!);
    expect(r.push(three()[0]!)).toEqual({
      kind: "pending",
      discarded: { type: 1, msgId: MSG.MEM_LEND, seq: 5, received: 1, expected: 3 },
    });
  });

  it("starts a partial message on an empty first fragment (the Linux driver's rule)", () => {
    const r = new Reassembler();
    expect(r.push(bytes("2105010024000056"))).toEqual({ kind: "pending" });
    expect(r.push(bytes("2104010024000056 aabb"))).toMatchObject({
      kind: "message",
      payload: bytes("aabb"),
    });
  });

  it("copies a single-fragment payload (the caller may reuse its buffer)", () => {
    const msg = bytes("2101050024000056 01020304");
    const step = new Reassembler().push(msg);
    msg[8] = 0xff;
    expect(step).toMatchObject({ payload: bytes("01020304") });
  });

  prop.prop(
    [
      fc.integer({ min: 0, max: 14_616 }),
      fc.constantFrom<1 | 2 | 3>(1, 2, 3),
      fc.nat(0xffff),
      fc.nat(0xffffffff),
      fc.nat(255),
    ],
    { numRuns: 200 },
  )("fragment then reassemble is the identity", (n, type, seq, msgId, seed) => {
    const p = payload(n, seed);
    const fs = frags(type, msgId, seq, p);
    expect(fs).toHaveLength(Math.max(1, Math.ceil(n / 232)));
    const r = new Reassembler();
    const steps = pushAll(r, fs);
    expect(steps.slice(0, -1).every((s) => s.kind === "pending")).toBe(true);
    const last = steps.at(-1)!;
    expect(last).toMatchObject({ kind: "message", type, msgId, seq });
    expect(last.kind === "message" && same(last.payload, p)).toBe(true);
  });

  prop.prop(
    [
      fc.integer({ min: 0, max: 3000 }),
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 30 }),
      fc.nat(),
    ],
    { numRuns: 200 },
  )(
    "garbage interleaved never throws; garbage that is dropped leaves the message intact",
    (n, junk, at) => {
      const p = payload(n, 3);
      const fs = frags(MSG_TYPE.NOTIFICATION, MSG.VM_STATUS, 1, p);
      // Arbitrary bytes: push never throws, whatever state they leave.
      const r1 = new Reassembler();
      const mixed = [...fs];
      junk.forEach((j, i) => mixed.splice((at + i * 7) % (mixed.length + 1), 0, j));
      for (const m of mixed) expect(() => r1.push(m)).not.toThrow();
      // Messages the receiver must drop (bad version byte): the real message still arrives.
      const r2 = new Reassembler();
      const dropped = junk.map((j) => {
        const d = new Uint8Array(Math.max(8, Math.min(j.length, 240)));
        d.set(j.subarray(0, d.length));
        d[0] = 0x20;
        return d;
      });
      const steps: ReassemblyStep[] = [];
      fs.forEach((f, i) => {
        if (dropped[i]) expect(r2.push(dropped[i])).toMatchObject({ kind: "dropped" });
        steps.push(r2.push(f));
      });
      expect(steps.at(-1)).toEqual({
        kind: "message",
        type: 3,
        msgId: MSG.VM_STATUS,
        seq: 1,
        payload: p,
      });
    },
  );
});
