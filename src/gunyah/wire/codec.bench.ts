/**
 * The codec's benchmark: a 512-entry MEM_LEND (the most the RM takes in one list) encoded,
 * framed into its 36 message-queue messages, reassembled and decoded — what a request costs on
 * the wire, both ends. Each operation builds a fresh request, as a caller would: a new array of
 * 512 new SGL entry objects drawn with an inline xorshift (1,024 draws, the state kept in a
 * local for the loop), so no two operations encode the same bytes.
 */
import { benchCase } from "../../../bench/harness.js";
import type { SglEntry } from "../rm/types.js";
import { decodeRequest, encodeRequest, type RmRequest } from "./codec.js";
import { fragmentMessage, Reassembler, type ReassemblyStep } from "./fragment.js";
import { MSG, MSG_TYPE } from "./ids.js";

/** One xorshift32 step: the next state (the draw is its unsigned value). */
function xorshift(s: number): number {
  s ^= s << 13;
  s ^= s >>> 17;
  return s ^ (s << 5);
}

benchCase({
  name: "gunyah: encode + decode a 512-entry MEM_LEND",
  targetNs: 20_000,
  setup: () => {
    let x = 0x2545_f491;
    const reassembler = new Reassembler();
    let seq = 0;
    return () => {
      const sgl = new Array<SglEntry>(512);
      // 4K-aligned IPAs below 2^44, sizes 4K..2M.
      let s = x;
      for (let i = 0; i < 512; i++) {
        s = xorshift(s);
        const ipa = (s >>> 0) * 4096;
        s = xorshift(s);
        sgl[i] = { ipa, size: ((s & 0x1ff) + 1) * 4096 };
      }
      x = xorshift(s);
      const req: RmRequest = {
        id: "MEM_LEND",
        memType: 0,
        flags: 0,
        label: x >>> 0,
        acl: [{ vmid: 0x80, rights: 7 }],
        sgl,
        attrs: [],
      };
      seq = (seq + 1) & 0xffff;
      const framed = fragmentMessage(MSG_TYPE.REQUEST, MSG.MEM_LEND, seq, encodeRequest(req));
      if (!framed.ok) throw new Error(framed.reason);
      let step: ReassemblyStep = { kind: "pending" };
      for (const f of framed.fragments) step = reassembler.push(f);
      if (step.kind !== "message") throw new Error(`reassembly: ${step.kind}`);
      const decoded = decodeRequest(step.msgId, step.payload);
      if (!decoded.ok) throw new Error(decoded.reason);
      return decoded.value;
    };
  },
});
