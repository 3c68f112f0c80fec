/**
 * The byte-stream framing of the RM endpoint: a socket carries message-queue messages (each an
 * RM header and up to 232 payload bytes, at most 240 bytes in all), each as a little-endian u32
 * byte count (1..240) followed by exactly that many bytes. A count of 0 or above 240 is a
 * framing error: the stream cannot be resynchronised, so the connection must close.
 *
 * Both ends use these: {@link FrameReader} splits a stream into messages without copying a
 * message that lies inside one chunk (a view is handed on; the RM's {@link Reassembler} copies
 * what it keeps), and {@link FrameWriter} gathers the frames of a tick into one buffer, so that
 * a 36-fragment request or a burst of notifications is one write.
 *
 * @example
 * const reader = new FrameReader((msg) => session.push(msg));
 * socket.on("data", (chunk) => { const err = reader.push(chunk); if (err) socket.destroy(); });
 */
import { RM_MESSAGE_SIZE } from "../gunyah/wire/index.js";

/** Bytes of the count before each message. */
export const FRAME_PREFIX = 4;

/** Why a frame's count cannot be, or undefined if it can. */
export function frameCountProblem(count: number): string | undefined {
  if (count >= 1 && count <= RM_MESSAGE_SIZE) return undefined;
  return `frame byte count ${count} is not in 1..${RM_MESSAGE_SIZE}`;
}

/**
 * Splits a byte stream into messages. `push` returns a framing error (and then refuses every
 * further chunk), or undefined.
 */
export class FrameReader {
  private readonly scratch = new Uint8Array(RM_MESSAGE_SIZE);
  private readonly countBytes = new Uint8Array(FRAME_PREFIX);
  /** Bytes of the count received so far (0..3), while no message is being read. */
  private countHave = 0;
  /** The message being read: its count, and how much of it is in `scratch`. */
  private want = 0;
  private have = 0;
  private error: string | undefined;

  constructor(private readonly onMessage: (msg: Uint8Array) => void) {}

  /** True while part of a frame (count or message) has arrived and the rest has not. */
  get partial(): boolean {
    return this.countHave > 0 || this.want > 0;
  }

  /** The framing error that stopped this reader, if any. */
  get failed(): string | undefined {
    return this.error;
  }

  /** Take the next chunk of the stream; `onMessage` is called for each message completed. */
  push(chunk: Uint8Array): string | undefined {
    if (this.error !== undefined) return this.error;
    const n = chunk.length;
    let at = 0;
    while (at < n) {
      if (this.want > 0) {
        // The rest of a message that began in an earlier chunk.
        const take = Math.min(this.want - this.have, n - at);
        this.scratch.set(chunk.subarray(at, at + take), this.have);
        this.have += take;
        at += take;
        if (this.have === this.want) {
          const size = this.want;
          this.want = this.have = 0;
          this.onMessage(this.scratch.subarray(0, size));
        }
        continue;
      }
      let count: number;
      if (this.countHave === 0 && n - at >= FRAME_PREFIX) {
        count =
          (chunk[at]! | (chunk[at + 1]! << 8) | (chunk[at + 2]! << 16) | (chunk[at + 3]! << 24)) >>>
          0;
        at += FRAME_PREFIX;
      } else {
        while (this.countHave < FRAME_PREFIX && at < n)
          this.countBytes[this.countHave++] = chunk[at++]!;
        if (this.countHave < FRAME_PREFIX) break;
        const c = this.countBytes;
        count = (c[0]! | (c[1]! << 8) | (c[2]! << 16) | (c[3]! << 24)) >>> 0;
        this.countHave = 0;
      }
      const problem = frameCountProblem(count);
      if (problem !== undefined) return (this.error = problem);
      if (n - at >= count) {
        // The whole message is in this chunk: hand on a view, no copy.
        this.onMessage(chunk.subarray(at, at + count));
        at += count;
      } else {
        this.want = count;
        this.have = 0;
      }
    }
    return undefined;
  }

  /** Forget a partly received frame (the connection it came from is gone). */
  reset(): void {
    this.countHave = this.want = this.have = 0;
  }
}

/**
 * Gathers frames to write: `add` each message, `take` the bytes of all of them (count, message,
 * count, message, ...) as one buffer, or undefined if there are none.
 */
export class FrameWriter {
  private readonly messages: Uint8Array[] = [];
  private bytes = 0;

  /** Whether frames wait to be taken. */
  get pending(): boolean {
    return this.messages.length > 0;
  }

  add(msg: Uint8Array): void {
    this.messages.push(msg);
    this.bytes += FRAME_PREFIX + msg.length;
  }

  take(): Uint8Array | undefined {
    if (this.messages.length === 0) return undefined;
    const out = new Uint8Array(this.bytes);
    let at = 0;
    for (const m of this.messages) {
      const len = m.length;
      out[at] = len & 0xff;
      out[at + 1] = (len >>> 8) & 0xff;
      out[at + 2] = (len >>> 16) & 0xff;
      out[at + 3] = len >>> 24;
      out.set(m, at + FRAME_PREFIX);
      at += FRAME_PREFIX + len;
    }
    this.messages.length = 0;
    this.bytes = 0;
    return out;
  }
}

/** The frames of `msgs`, as one buffer (a test's or a one-shot client's convenience). */
export function frameMessages(msgs: readonly Uint8Array[]): Uint8Array {
  const w = new FrameWriter();
  for (const m of msgs) w.add(m);
  return w.take() ?? new Uint8Array(0);
}
