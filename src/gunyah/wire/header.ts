/**
 * The 8-byte RM RPC header that starts every message-queue message (reference §5,
 * `write_rpc_header` / `read_rpc_header` of the RM's `rm-rpc.c`):
 *
 * | byte | contents |
 * |---|---|
 * | 0 | api_version 1 in [3:0], header_words 2 in [7:4]: always 0x21 |
 * | 1 | message type in [1:0], continuation fragments that follow in [7:2] (0..62) |
 * | 2-3 | le16 seq |
 * | 4-7 | le32 msg_id |
 *
 * Every fragment of a message repeats seq, msg_id and the fragment count.
 */
import { fail } from "../../base/errors.js";
import type { MsgType } from "./ids.js";

/** Header size in bytes. */
export const RM_HEADER_SIZE = 8;
/** The API version in byte 0 [3:0]. */
export const RM_API_VERSION = 1;
/** The header length in 32-bit words, byte 0 [7:4]. */
export const RM_HEADER_WORDS = 2;
/** At most this many continuation fragments follow a first fragment. */
export const RM_MAX_FRAGMENTS = 62;

/** A decoded header. */
export interface RmHeader {
  readonly type: MsgType;
  /** Continuation fragments of the message (the same in each of its fragments). */
  readonly fragments: number;
  readonly seq: number;
  readonly msgId: number;
}

/** A decoded header, or why a message must be dropped. */
export type HeaderResult =
  | { readonly ok: true; readonly header: RmHeader }
  | { readonly ok: false; readonly reason: string };

function checkField(what: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max)
    fail("EINVAL", `RM header: ${what} ${value} is not an integer in 0..${max}`, what);
}

/**
 * Write a header into `out` at `offset` (no checks: for callers that checked the fields).
 * @internal
 */
export function writeHeader(
  out: Uint8Array,
  offset: number,
  type: number,
  fragments: number,
  seq: number,
  msgId: number,
): void {
  out[offset] = (RM_HEADER_WORDS << 4) | RM_API_VERSION;
  out[offset + 1] = (fragments << 2) | type;
  out[offset + 2] = seq & 0xff;
  out[offset + 3] = seq >>> 8;
  out[offset + 4] = msgId & 0xff;
  out[offset + 5] = (msgId >>> 8) & 0xff;
  out[offset + 6] = (msgId >>> 16) & 0xff;
  out[offset + 7] = msgId >>> 24;
}

/**
 * The 8 bytes of a header. Throws MemweaveError EINVAL if a field does not fit (type 0..3,
 * fragments 0..62, seq a u16, msg_id a u32).
 */
export function encodeHeader(h: RmHeader): Uint8Array {
  checkField("type", h.type, 3);
  checkField("fragments", h.fragments, RM_MAX_FRAGMENTS);
  checkField("seq", h.seq, 0xffff);
  checkField("msgId", h.msgId, 0xffff_ffff);
  const out = new Uint8Array(RM_HEADER_SIZE);
  writeHeader(out, 0, h.type, h.fragments, h.seq, h.msgId);
  return out;
}

/**
 * Decode the header at the start of `msg`. Refuses (as the RM drops) a message shorter than 8
 * bytes, an api_version other than 1, a header_words other than 2, or more than 62 fragments.
 * Bytes after the header are not looked at. Never throws.
 */
export function decodeHeader(msg: Uint8Array): HeaderResult {
  if (msg.length < RM_HEADER_SIZE)
    return {
      ok: false,
      reason: `message of ${msg.length} bytes is shorter than the 8-byte header`,
    };
  const b0 = msg[0]!;
  const b1 = msg[1]!;
  const version = b0 & 0xf;
  const words = b0 >>> 4;
  if (version !== RM_API_VERSION)
    return { ok: false, reason: `header api_version ${version} is not 1 (byte 0 = 0x${hex2(b0)})` };
  if (words !== RM_HEADER_WORDS)
    return { ok: false, reason: `header_words ${words} is not 2 (byte 0 = 0x${hex2(b0)})` };
  const fragments = b1 >>> 2;
  if (fragments > RM_MAX_FRAGMENTS)
    return { ok: false, reason: `fragment count ${fragments} is above the maximum of 62` };
  const seq = msg[2]! | (msg[3]! << 8);
  const msgId = (msg[4]! | (msg[5]! << 8) | (msg[6]! << 16) | (msg[7]! << 24)) >>> 0;
  return { ok: true, header: { type: (b1 & 3) as MsgType, fragments, seq, msgId } };
}

function hex2(b: number): string {
  return b.toString(16).padStart(2, "0");
}
