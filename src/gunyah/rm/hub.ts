/**
 * The RM's message queues (rm-rpc-fifo.c): one link per VM session. Each session reassembles
 * the VM's fragments into requests, answers each in order under the request's seq and msg_id,
 * and delivers the notifications the RM posts for its VM, fragmented, under the RM's own
 * sequence numbers (one 16-bit counter per VM). Pure: bytes in, bytes out through `send`.
 *
 * Decisions (docs/gunyah.md): a VM may have several sessions at once (an endpoint accepts more
 * than one connection): a reply goes to the session that asked; a notification to every
 * session of its VM. While a VM has no session its notifications wait in the RM's queue (256,
 * the oldest dropped) and are delivered when one opens. Incoming REPLY and NOTIFICATION
 * messages are ignored (the RM does not take them); what the reassembler drops is reported to
 * `onDrop`.
 *
 * @example
 * const hub = new RmHub(rm);
 * const s = hub.open(3, (msg) => socket.write(frame(msg)));
 * s.push(bytesFromTheVm);
 */
import type { Disposable } from "../../base/lifetime.js";
import { encodeNotice } from "../wire/codec.js";
import { fragmentMessage, Reassembler } from "../wire/fragment.js";
import { MSG_TYPE } from "../wire/ids.js";
import type { HandledRequest } from "./dispatch.js";
import { handleRequest } from "./dispatch.js";
import type { ResourceManager } from "./rm.js";

/** One answered request, for logs. */
export interface RpcRecord extends HandledRequest {
  readonly vmid: number;
  readonly seq: number;
  readonly msgId: number;
}

export interface RmHubOptions {
  /** Told of every answered request. */
  readonly onRpc?: (r: RpcRecord) => void;
  /** Told of every message the reassembly dropped or discarded. */
  readonly onDrop?: (vmid: number, reason: string) => void;
}

export class RmHub {
  private readonly sessions = new Map<number, Set<RmSession>>();
  private readonly seqs = new Map<number, number>();
  private readonly sub: Disposable;

  constructor(
    readonly rm: ResourceManager,
    readonly options: RmHubOptions = {},
  ) {
    this.sub = this.rm.onNotice((n) => {
      if (this.sessions.has(n.to)) this.deliver(n.to);
    });
  }

  /** Open a session for VM `vmid`; `send` takes each message-queue message (≤ 240 bytes). */
  open(vmid: number, send: (msg: Uint8Array) => void): RmSession {
    const s = new RmSession(this, vmid, send);
    let set = this.sessions.get(vmid);
    if (set === undefined) this.sessions.set(vmid, (set = new Set()));
    set.add(s);
    this.deliver(vmid);
    return s;
  }

  /** Sessions open for `vmid`. */
  sessionCount(vmid: number): number {
    return this.sessions.get(vmid)?.size ?? 0;
  }

  /** Stop delivering (the sessions stay usable for requests). */
  dispose(): void {
    this.sub.dispose();
  }

  /** @internal */
  close(s: RmSession): void {
    const set = this.sessions.get(s.vmid);
    set?.delete(s);
    if (set?.size === 0) this.sessions.delete(s.vmid);
  }

  /** Send every queued notification of `vmid` to its sessions. */
  private deliver(vmid: number): void {
    const set = this.sessions.get(vmid);
    if (set === undefined) return;
    for (const n of this.rm.drain(vmid)) {
      const e = encodeNotice(n);
      const seq = this.seqs.get(vmid) ?? 0;
      this.seqs.set(vmid, (seq + 1) & 0xffff);
      const f = fragmentMessage(MSG_TYPE.NOTIFICATION, e.msgId, seq, e.payload);
      if (!f.ok) continue; // a MEM_SHARED is at most 512 sizes: always fits
      for (const s of set) for (const m of f.fragments) s.send(m);
    }
  }
}

/** One VM's message-queue link to the RM. */
export class RmSession {
  private readonly reassembler = new Reassembler();
  private closed = false;

  constructor(
    private readonly hub: RmHub,
    /** The VM this link belongs to: every request on it is that VM's. */
    readonly vmid: number,
    readonly send: (msg: Uint8Array) => void,
  ) {}

  /** Take one message-queue message from the VM. */
  push(msg: Uint8Array): void {
    if (this.closed) return;
    const step = this.reassembler.push(msg);
    const drop = this.hub.options.onDrop;
    if (step.kind === "dropped") return drop?.(this.vmid, step.reason);
    if (step.discarded !== undefined)
      drop?.(
        this.vmid,
        `a new message discarded seq ${step.discarded.seq} (${step.discarded.received} of ${step.discarded.expected} fragments)`,
      );
    if (step.kind !== "message") return;
    if (step.type !== MSG_TYPE.REQUEST)
      return drop?.(this.vmid, `ignored a message of type ${step.type}`);
    const handled = handleRequest(this.hub.rm, this.vmid, step.msgId, step.payload);
    const f = fragmentMessage(MSG_TYPE.REPLY, step.msgId, step.seq, handled.payload);
    if (f.ok) for (const m of f.fragments) this.send(m);
    this.hub.options.onRpc?.({ ...handled, vmid: this.vmid, seq: step.seq, msgId: step.msgId });
  }

  /** End the link: a partly received message is forgotten; nothing else changes. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reassembler.reset();
    this.hub.close(this);
  }
}
