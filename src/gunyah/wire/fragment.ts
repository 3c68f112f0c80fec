/**
 * Framing (reference §5; `start_xmit` / `do_xmit` / `do_recv` of the RM's `rm-rpc.c`): a
 * payload travels as message-queue messages of at most 240 bytes, each an 8-byte header and up
 * to 232 payload bytes.
 *
 * - Sending: ceil(len / 232) fragments (one 8-byte message for an empty payload), at most 63,
 *   so at most 14,616 payload bytes. The first fragment has the message's type, the rest type 0
 *   (CONTINUATION); every fragment carries the same seq, msg_id and count of continuations.
 * - Receiving ({@link Reassembler}, one per link, as the RM keeps one receive state per VM): a
 *   new non-continuation discards a partly received message; a continuation with nothing
 *   pending, or whose msg_id, seq or count differs from the pending one, is dropped (the pending
 *   message stays); a message shorter than 8 or longer than 240 bytes, with a bad version or
 *   word count, or with more than 62 continuations is dropped. Nothing else is checked: like
 *   the RM, a continuation may be shorter than 232 bytes anywhere in the sequence.
 *
 * Where the RM is open: its receiver ignores a first fragment with an empty payload (it neither
 * starts a partial message nor delivers one, so an empty request is never answered); this
 * reassembler delivers an empty single-fragment message and starts a partial one on an empty
 * first fragment, as the Linux driver does.
 */
import { copyBytes, newBytes } from "./bytes.js";
import { MSG_TYPE, type MsgType } from "./ids.js";
import { decodeHeader, RM_HEADER_SIZE, RM_MAX_FRAGMENTS, writeHeader } from "./header.js";
import { formatMsgId } from "./ids.js";

/** The largest message-queue message. */
export const RM_MESSAGE_SIZE = 240;
/** Payload bytes one fragment carries. */
export const RM_FRAGMENT_PAYLOAD = RM_MESSAGE_SIZE - RM_HEADER_SIZE;
/** The largest payload: 63 fragments of 232 bytes (14,616). */
export const RM_MAX_PAYLOAD = (RM_MAX_FRAGMENTS + 1) * RM_FRAGMENT_PAYLOAD;
/** The largest request the Linux driver sends (62 x 232 = 14,384; above: -E2BIG). */
export const LINUX_MAX_REQUEST_PAYLOAD = RM_MAX_FRAGMENTS * RM_FRAGMENT_PAYLOAD;

/** A message's fragments, or why it cannot be sent. */
export type FragmentResult =
  | { readonly ok: true; readonly fragments: Uint8Array[] }
  | { readonly ok: false; readonly reason: string };

/**
 * Split `payload` into the message-queue messages that carry it. `type` is the message's type
 * (REQUEST, REPLY or NOTIFICATION). Refuses, without throwing, a payload above 14,616 bytes, a
 * type of 0 (continuations only follow a first fragment), a seq that is not a u16 and a msg_id
 * that is not a u32. The fragments are views of one new buffer (a single fragment is that
 * buffer); the caller owns them.
 */
export function fragmentMessage(
  type: MsgType,
  msgId: number,
  seq: number,
  payload: Uint8Array,
): FragmentResult {
  if (type !== MSG_TYPE.REQUEST && type !== MSG_TYPE.REPLY && type !== MSG_TYPE.NOTIFICATION)
    return {
      ok: false,
      reason: `message type ${String(type)} is not REQUEST, REPLY or NOTIFICATION`,
    };
  if (!Number.isInteger(seq) || seq < 0 || seq > 0xffff)
    return { ok: false, reason: `seq ${seq} is not a u16` };
  if (!Number.isInteger(msgId) || msgId < 0 || msgId > 0xffff_ffff)
    return { ok: false, reason: `msg_id ${msgId} is not a u32` };
  const len = payload.length;
  if (len > RM_MAX_PAYLOAD)
    return {
      ok: false,
      reason: `${formatMsgId(msgId)}: payload of ${len} bytes is above the ${RM_MAX_PAYLOAD}-byte maximum (63 fragments of 232)`,
    };
  if (len <= RM_FRAGMENT_PAYLOAD) {
    // One fragment, one allocation: no view (which would move a small array off V8's heap).
    const msg = newBytes(RM_HEADER_SIZE + len);
    writeHeader(msg, 0, type, 0, seq, msgId);
    msg.set(payload, RM_HEADER_SIZE);
    return { ok: true, fragments: [msg] };
  }
  const count = Math.ceil(len / RM_FRAGMENT_PAYLOAD);
  // One copy of the payload after the first header, then each chunk moved up to make room for
  // the headers (last first, so no chunk is overwritten before it moves).
  const buf = newBytes(count * RM_HEADER_SIZE + len);
  buf.set(payload, RM_HEADER_SIZE);
  for (let i = count - 1; i > 0; i--) {
    const from = RM_HEADER_SIZE + i * RM_FRAGMENT_PAYLOAD;
    buf.copyWithin(
      from + i * RM_HEADER_SIZE,
      from,
      Math.min(from + RM_FRAGMENT_PAYLOAD, len + RM_HEADER_SIZE),
    );
  }
  // Views made from the ArrayBuffer directly: cheaper than subarray (no species lookup).
  const fragments: Uint8Array[] = new Array<Uint8Array>(count);
  const ab = buf.buffer;
  for (let i = 0, at = 0; i < count; i++, at += RM_MESSAGE_SIZE) {
    writeHeader(buf, at, i === 0 ? type : MSG_TYPE.CONTINUATION, count - 1, seq, msgId);
    const n = Math.min(RM_MESSAGE_SIZE, buf.length - at);
    fragments[i] = new Uint8Array(ab, buf.byteOffset + at, n);
  }
  return { ok: true, fragments };
}

/** A partly received message a new first fragment threw away. */
export interface DiscardedPartial {
  readonly type: MsgType;
  readonly msgId: number;
  readonly seq: number;
  /** Fragments received, the first included. */
  readonly received: number;
  /** Fragments the message has in all. */
  readonly expected: number;
}

/** What one message-queue message did to the reassembly. */
export type ReassemblyStep =
  | {
      readonly kind: "message";
      readonly type: Exclude<MsgType, 0>;
      readonly msgId: number;
      readonly seq: number;
      /** The caller's own (see {@link Reassembler}). */
      readonly payload: Uint8Array;
      /** The partial message this one's first fragment discarded. */
      readonly discarded?: DiscardedPartial;
    }
  | { readonly kind: "pending"; readonly discarded?: DiscardedPartial }
  | { readonly kind: "dropped"; readonly reason: string };

/**
 * Append a continuation's body to the partial message. Copying the whole message over the last
 * 8 bytes received (saved and put back) spares a view per fragment on this hot path. There is
 * room: at most `fragments` continuations of up to 232 bytes follow the first fragment.
 */
function appendBody(p: Partial, msg: Uint8Array): void {
  const buf = p.buf;
  const at = p.len - RM_HEADER_SIZE;
  if (at < 0) buf.set(msg.subarray(RM_HEADER_SIZE), p.len);
  else {
    const lo = buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16) | (buf[at + 3]! << 24);
    const hi = buf[at + 4]! | (buf[at + 5]! << 8) | (buf[at + 6]! << 16) | (buf[at + 7]! << 24);
    buf.set(msg, at);
    buf[at] = lo;
    buf[at + 1] = lo >>> 8;
    buf[at + 2] = lo >>> 16;
    buf[at + 3] = lo >>> 24;
    buf[at + 4] = hi;
    buf[at + 5] = hi >>> 8;
    buf[at + 6] = hi >>> 16;
    buf[at + 7] = hi >>> 24;
  }
  p.len += msg.length - RM_HEADER_SIZE;
}

/** Byte 0 of every valid header: header_words 2, api_version 1. */
const HEADER_BYTE0 = 0x21;
const PENDING: ReassemblyStep = Object.freeze({ kind: "pending" });

interface Partial {
  type: Exclude<MsgType, 0>;
  msgId: number;
  seq: number;
  fragments: number;
  remaining: number;
  buf: Uint8Array;
  len: number;
}

/**
 * Reassembles the messages of one link from their fragments. `push` never throws: anything it
 * cannot use is reported as dropped, with the reason.
 *
 * Ownership: a delivered payload is the caller's to keep. It is never a view of a pushed
 * message (a caller may reuse the buffer it pushes from: the socket endpoint's FrameReader
 * hands on views of one scratch buffer) nor shared with another message (RawLink keeps
 * replies): a single fragment's body is copied out, a longer message is assembled in a buffer
 * of its own (both from `bytes.ts`). The reassembler keeps nothing of a pushed message after
 * `push` returns.
 *
 * @example
 * const r = new Reassembler();
 * for (const f of fragments) {
 *   const step = r.push(f);
 *   if (step.kind === "message") handle(step.msgId, step.payload);
 * }
 */
export class Reassembler {
  private partial: Partial | undefined;

  /** The message being received, if one is: its IDs and how many fragments are missing. */
  get pending():
    { readonly type: MsgType; msgId: number; seq: number; missing: number } | undefined {
    const p = this.partial;
    return p && { type: p.type, msgId: p.msgId, seq: p.seq, missing: p.remaining };
  }

  /** Forget a partly received message. */
  reset(): void {
    this.partial = undefined;
  }

  /** Take one message-queue message. */
  push(msg: Uint8Array): ReassemblyStep {
    if (msg.length > RM_MESSAGE_SIZE)
      return { kind: "dropped", reason: `message of ${msg.length} bytes is longer than 240` };
    // The header is read in place (this runs once per fragment); decodeHeader explains a refusal.
    if (
      msg.length < RM_HEADER_SIZE ||
      msg[0] !== HEADER_BYTE0 ||
      msg[1]! >>> 2 > RM_MAX_FRAGMENTS
    ) {
      const h = decodeHeader(msg);
      return { kind: "dropped", reason: h.ok ? "bad header" : h.reason };
    }
    const b1 = msg[1]!;
    const type = (b1 & 3) as MsgType;
    const fragments = b1 >>> 2;
    const seq = msg[2]! | (msg[3]! << 8);
    const msgId = (msg[4]! | (msg[5]! << 8) | (msg[6]! << 16) | (msg[7]! << 24)) >>> 0;
    if (type !== MSG_TYPE.CONTINUATION) {
      const old = this.partial;
      this.partial = undefined;
      const discarded: DiscardedPartial | undefined = old && {
        type: old.type,
        msgId: old.msgId,
        seq: old.seq,
        received: old.fragments + 1 - old.remaining,
        expected: old.fragments + 1,
      };
      if (fragments === 0) {
        // A copy: the caller may reuse `msg`.
        const payload = copyBytes(msg, RM_HEADER_SIZE);
        return discarded
          ? { kind: "message", type, msgId, seq, payload, discarded }
          : { kind: "message", type, msgId, seq, payload };
      }
      const buf = newBytes((fragments + 1) * RM_FRAGMENT_PAYLOAD);
      const len = msg.length - RM_HEADER_SIZE;
      buf.set(msg.subarray(RM_HEADER_SIZE));
      this.partial = { type, msgId, seq, fragments, remaining: fragments, buf, len };
      return discarded ? { kind: "pending", discarded } : PENDING;
    }
    const p = this.partial;
    if (!p)
      return {
        kind: "dropped",
        reason: `continuation of ${formatMsgId(msgId)} seq ${seq} with no message pending`,
      };
    if (p.msgId !== msgId || p.seq !== seq || p.fragments !== fragments)
      return {
        kind: "dropped",
        reason:
          `continuation of ${formatMsgId(msgId)} seq ${seq} (${fragments} continuations) does not ` +
          `match the pending ${formatMsgId(p.msgId)} seq ${p.seq} (${p.fragments} continuations)`,
      };
    appendBody(p, msg);
    p.remaining--;
    if (p.remaining > 0) return PENDING;
    this.partial = undefined;
    const payload = new Uint8Array(p.buf.buffer, p.buf.byteOffset, p.len);
    return { kind: "message", type: p.type, msgId, seq, payload };
  }
}
