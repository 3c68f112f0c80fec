/**
 * An RM client in the same process: it speaks the wire protocol to an {@link RmHub} session —
 * requests encoded and fragmented, replies and notifications reassembled and decoded — so the
 * in-process path exercises every byte the socket path does, synchronously.
 *
 * Seqs are allocated cyclically over 16 bits, as Linux does (`gh_rm_call`); a reply is matched
 * by (seq, msg_id). Notifications are decoded into {@link InProcessRmClient.notifications}
 * (and given to `onNotification`).
 *
 * @example
 * const host = new InProcessRmClient(hub, 3);
 * const r = runFlow(memLend({ memType: 0, label: 1, acl, mem }), (q) => host.call(q));
 */
import { fail } from "../../base/errors.js";
import type { RmNotification, RmReply, RmRequest } from "../wire/codec.js";
import { decodeNotification, decodeReply, encodeRequest, requestMsgId } from "../wire/codec.js";
import { fragmentMessage, Reassembler } from "../wire/fragment.js";
import { MSG_TYPE } from "../wire/ids.js";
import type { RmHub, RmSession } from "../rm/hub.js";
import type { RmFlow } from "./flow.js";
import { runFlow } from "./flow.js";

export class InProcessRmClient {
  private readonly session: RmSession;
  private readonly reassembler = new Reassembler();
  private seq = 0;
  private replies: Array<{ seq: number; msgId: number; payload: Uint8Array }> = [];
  /** Notifications received, oldest first (the caller may empty it). */
  readonly notifications: RmNotification[] = [];
  /** Told of each notification as it arrives. */
  onNotification: ((n: RmNotification) => void) | undefined;

  constructor(
    hub: RmHub,
    /** The VM this client is. */
    readonly vmid: number,
  ) {
    this.session = hub.open(vmid, (msg) => this.receive(msg));
  }

  private receive(msg: Uint8Array): void {
    const step = this.reassembler.push(msg);
    if (step.kind !== "message") return;
    if (step.type === MSG_TYPE.REPLY)
      this.replies.push({ seq: step.seq, msgId: step.msgId, payload: step.payload });
    else if (step.type === MSG_TYPE.NOTIFICATION) {
      const n = decodeNotification(step.msgId, step.payload);
      if (n.ok) {
        this.notifications.push(n.value);
        this.onNotification?.(n.value);
      }
    }
  }

  /** Send one request and return its decoded reply. */
  call(req: RmRequest): RmReply {
    const msgId = requestMsgId(req);
    const seq = this.seq;
    this.seq = (this.seq + 1) & 0xffff;
    const f = fragmentMessage(MSG_TYPE.REQUEST, msgId, seq, encodeRequest(req));
    if (!f.ok) fail("EINVAL", `${req.id}: ${f.reason}`);
    for (const m of f.fragments) this.session.push(m);
    const payload = this.takeReply(seq, msgId);
    if (payload === undefined) fail("EINVAL", `${req.id}: no reply from the RM (seq ${seq})`);
    const d = decodeReply(msgId, payload);
    if (!d.ok) fail("EINVAL", `${req.id}: undecodable reply: ${d.reason}`);
    return d.value;
  }

  /** Take the payload of reply (seq, msgId) out of those received, if it came. */
  private takeReply(seq: number, msgId: number): Uint8Array | undefined {
    const replies = this.replies;
    for (let i = 0; i < replies.length; i++) {
      const r = replies[i]!;
      if (r.seq !== seq || r.msgId !== msgId) continue;
      // The reply is nearly always the only one, or the last: no array made to remove it.
      if (i === replies.length - 1) replies.pop();
      else replies.splice(i, 1);
      return r.payload;
    }
    return undefined;
  }

  /** Run a client flow. */
  run<T>(flow: RmFlow<T>): T {
    return runFlow(flow, (q) => this.call(q));
  }

  /** Take the notifications received so far. */
  takeNotifications(): RmNotification[] {
    return this.notifications.splice(0);
  }

  /** Close the session. */
  close(): void {
    this.session.close();
  }
}
