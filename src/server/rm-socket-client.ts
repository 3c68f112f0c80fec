/**
 * An RM client over a socket: the Linux driver's side of the message queue (`gh_rm_call`),
 * connected to an {@link RmEndpoint} by Unix-domain socket path or by TCP port on 127.0.0.1.
 *
 * - Calls are serialised per connection (the RM keeps one pending request per VM): `call`
 *   queues, and each request goes out once the previous one is answered.
 * - Seqs are allocated cyclically over 16 bits; a reply is matched by (seq, msg_id). A reply
 *   that matches nothing is counted in {@link SocketRmClient.strayReplies} and dropped, as
 *   Linux drops it.
 * - Notifications are decoded into {@link SocketRmClient.notifications} and given to
 *   `onNotification`; undecodable ones are counted in {@link SocketRmClient.badNotifications}.
 * - A lost connection fails the pending call and every queued one.
 *
 * @example
 * const host = await SocketRmClient.connect({ kind: "unix", path: "/tmp/rm.sock" });
 * const h = await host.run(memLend({ memType: 0, label: 1, acl: [{ vmid: 0x80, rights: 7 }], mem }));
 * await host.close();
 */
import net from "node:net";

import type { RmFlow } from "../gunyah/client/flow.js";
import { runFlowAsync } from "../gunyah/client/flow.js";
import type { RmNotification, RmReply, RmRequest } from "../gunyah/wire/index.js";
import {
  decodeNotification,
  decodeReply,
  encodeRequest,
  fragmentMessage,
  MSG_TYPE,
  Reassembler,
  requestMsgId,
} from "../gunyah/wire/index.js";
import type { RmAddress } from "./rm-address.js";
import { formatAddress, TCP_HOST } from "./rm-address.js";
import { FrameReader, frameMessages } from "./rm-framing.js";

export interface SocketRmClientOptions {
  /** Fail a call whose reply has not come after this many milliseconds (default: wait). */
  readonly timeoutMs?: number;
}

interface Pending {
  readonly seq: number;
  readonly msgId: number;
  readonly name: string;
  readonly resolve: (r: RmReply) => void;
  readonly reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

export class SocketRmClient {
  private readonly reader: FrameReader;
  private readonly reassembler = new Reassembler();
  private seq = 0;
  private pending: Pending | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private lost: Error | undefined;
  private readonly closedPromise: Promise<void>;
  /** Notifications received, oldest first (the caller may empty it). */
  readonly notifications: RmNotification[] = [];
  /** Told of each notification as it arrives. */
  onNotification: ((n: RmNotification) => void) | undefined;
  /** Replies that matched no pending call. */
  strayReplies = 0;
  /** Notifications that did not decode. */
  badNotifications = 0;

  private constructor(
    private readonly socket: net.Socket,
    /** Where it is connected. */
    readonly address: RmAddress,
    private readonly options: SocketRmClientOptions,
  ) {
    this.reader = new FrameReader((msg) => this.receive(msg));
    socket.on("data", (chunk: Buffer) => {
      const problem = this.reader.push(chunk);
      if (problem !== undefined)
        this.fail(new Error(`RM at ${formatAddress(address)}: ${problem}`));
    });
    this.closedPromise = new Promise((resolve) => {
      socket.once("close", () => {
        this.fail(new Error(`RM at ${formatAddress(address)}: connection closed`));
        resolve();
      });
    });
    socket.on("error", (e) =>
      this.fail(new Error(`RM at ${formatAddress(address)}: ${e.message}`)),
    );
  }

  /** Connect to an endpoint. */
  static connect(address: RmAddress, options: SocketRmClientOptions = {}): Promise<SocketRmClient> {
    return new Promise((resolve, reject) => {
      const socket =
        address.kind === "unix" ? net.connect(address.path) : net.connect(address.port, TCP_HOST);
      socket.setNoDelay(true);
      const onError = (e: Error) =>
        reject(
          new Error(
            `cannot connect to the RM at ${formatAddress(address)}: ${(e as NodeJS.ErrnoException).code ?? e.message}`,
          ),
        );
      socket.once("error", onError);
      socket.once("connect", () => {
        socket.off("error", onError);
        resolve(new SocketRmClient(socket, address, options));
      });
    });
  }

  /** Resolves when the connection has closed (by either side). */
  get closed(): Promise<void> {
    return this.closedPromise;
  }

  /** Send one request and resolve with its decoded reply (after the calls queued before it). */
  call(req: RmRequest): Promise<RmReply> {
    const p = this.tail.then(() => this.send(req));
    this.tail = p.catch(() => undefined);
    return p;
  }

  /** Run a client flow (`gunyah/client/linux.ts`) over this connection. */
  run<T>(flow: RmFlow<T>): Promise<T> {
    return runFlowAsync(flow, (q) => this.call(q));
  }

  /** Take the notifications received so far. */
  takeNotifications(): RmNotification[] {
    return this.notifications.splice(0);
  }

  /** Close the connection; resolves when it is closed. */
  close(): Promise<void> {
    this.socket.end();
    return this.closedPromise;
  }

  /** Cut the connection at once (what a crashing client does). */
  destroy(): void {
    this.socket.destroy();
  }

  private send(req: RmRequest): Promise<RmReply> {
    if (this.lost !== undefined) return Promise.reject(this.lost);
    const msgId = requestMsgId(req);
    const seq = this.seq;
    this.seq = (this.seq + 1) & 0xffff;
    let frames: ReturnType<typeof fragmentMessage>;
    try {
      frames = fragmentMessage(MSG_TYPE.REQUEST, msgId, seq, encodeRequest(req));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    if (!frames.ok) return Promise.reject(new Error(`${req.id}: ${frames.reason}`));
    return new Promise<RmReply>((resolve, reject) => {
      const p: Pending = { seq, msgId, name: req.id, resolve, reject };
      this.pending = p;
      const ms = this.options.timeoutMs;
      if (ms !== undefined)
        p.timer = setTimeout(() => {
          if (this.pending !== p) return;
          this.pending = undefined;
          reject(
            new Error(
              `${req.id}: no reply from the RM at ${formatAddress(this.address)} within ${ms} ms (seq ${seq})`,
            ),
          );
        }, ms);
      this.socket.write(frameMessages(frames.fragments));
    });
  }

  private receive(msg: Uint8Array): void {
    const step = this.reassembler.push(msg);
    if (step.kind !== "message") return;
    if (step.type === MSG_TYPE.NOTIFICATION) {
      const n = decodeNotification(step.msgId, step.payload);
      if (!n.ok) return void this.badNotifications++;
      this.notifications.push(n.value);
      this.onNotification?.(n.value);
      return;
    }
    if (step.type !== MSG_TYPE.REPLY) return;
    const p = this.pending;
    if (p === undefined || p.seq !== step.seq || p.msgId !== step.msgId)
      return void this.strayReplies++;
    this.pending = undefined;
    if (p.timer !== undefined) clearTimeout(p.timer);
    const d = decodeReply(step.msgId, step.payload);
    if (d.ok) p.resolve(d.value);
    else p.reject(new Error(`${p.name}: undecodable reply (seq ${p.seq}): ${d.reason}`));
  }

  private fail(e: Error): void {
    this.lost ??= e;
    const p = this.pending;
    this.pending = undefined;
    if (p !== undefined) {
      if (p.timer !== undefined) clearTimeout(p.timer);
      p.reject(e);
    }
    if (!this.socket.destroyed) this.socket.destroy();
  }
}
