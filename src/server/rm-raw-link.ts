/**
 * A raw message-queue link to an RM endpoint, for fuzzing and soak tests: it writes whatever it
 * is given (framed messages, or bytes as they are — a bad count, half a frame) and reassembles
 * what comes back, keeping replies by (seq, msg_id). Unlike {@link SocketRmClient} it checks
 * nothing and serialises nothing.
 */
import net from "node:net";

import { MSG_TYPE, Reassembler } from "../gunyah/wire/index.js";
import type { RmAddress } from "./rm-address.js";
import { formatAddress, TCP_HOST } from "./rm-address.js";
import { FrameReader, frameMessages } from "./rm-framing.js";

/** A reply as it came: its IDs and payload (the error word first). */
export interface RawReply {
  readonly seq: number;
  readonly msgId: number;
  readonly payload: Uint8Array;
}

export class RawLink {
  /** Replies received and not yet taken, oldest first. */
  readonly replies: RawReply[] = [];
  notifications = 0;
  closed = false;
  readonly whenClosed: Promise<void>;
  private readonly reassembler = new Reassembler();
  private waiter:
    | { seq: number; msgId: number; resolve: (r: RawReply) => void; reject: (e: Error) => void }
    | undefined;

  private constructor(
    readonly socket: net.Socket,
    readonly address: RmAddress,
    /** The VM the endpoint serves. */
    readonly vmid: number,
  ) {
    const reader = new FrameReader((m) => this.receive(m));
    socket.on("data", (chunk: Buffer) => void reader.push(chunk));
    socket.on("error", () => {});
    this.whenClosed = new Promise((resolve) =>
      socket.once("close", () => {
        this.closed = true;
        this.waiter?.reject(
          new Error(`${formatAddress(address)} closed while waiting for a reply`),
        );
        this.waiter = undefined;
        resolve();
      }),
    );
  }

  static open(address: RmAddress, vmid: number): Promise<RawLink> {
    return new Promise((resolve, reject) => {
      const socket =
        address.kind === "unix" ? net.connect(address.path) : net.connect(address.port, TCP_HOST);
      socket.setNoDelay(true);
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new RawLink(socket, address, vmid));
      });
    });
  }

  /** Write messages, each framed. */
  send(msgs: readonly Uint8Array[]): void {
    if (!this.closed) this.socket.write(frameMessages(msgs));
  }

  /** Write bytes as they are. */
  writeRaw(bytes: Uint8Array): void {
    if (!this.closed) this.socket.write(bytes);
  }

  /**
   * Resolve with the reply (seq, msgId) once it comes, taking it and every reply before it out
   * of {@link replies} (they are returned in `before`).
   */
  reply(seq: number, msgId: number, ms = 30_000): Promise<{ reply: RawReply; before: RawReply[] }> {
    const take = (r: RawReply) => {
      const at = this.replies.indexOf(r);
      const before = this.replies.splice(0, at + 1);
      before.pop();
      return { reply: r, before };
    };
    const have = this.replies.find((r) => r.seq === seq && r.msgId === msgId);
    if (have !== undefined) return Promise.resolve(take(have));
    if (this.closed) return Promise.reject(new Error(`${formatAddress(this.address)} is closed`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(
          new Error(`no reply seq ${seq} from ${formatAddress(this.address)} within ${ms} ms`),
        );
      }, ms);
      this.waiter = {
        seq,
        msgId,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(take(r));
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  private receive(msg: Uint8Array): void {
    const step = this.reassembler.push(msg);
    if (step.kind !== "message") return;
    if (step.type === MSG_TYPE.NOTIFICATION) return void this.notifications++;
    if (step.type !== MSG_TYPE.REPLY) return;
    const r: RawReply = { seq: step.seq, msgId: step.msgId, payload: step.payload.slice() };
    this.replies.push(r);
    const w = this.waiter;
    if (w !== undefined && w.seq === r.seq && w.msgId === r.msgId) {
      this.waiter = undefined;
      w.resolve(r);
    }
  }
}

/** The error word of a reply payload (MSG_INVALID's 4 if it has none). */
export function replyError(payload: Uint8Array): number {
  if (payload.length < 4) return 4;
  return (payload[0]! | (payload[1]! << 8) | (payload[2]! << 16) | (payload[3]! << 24)) >>> 0;
}
