/**
 * The socket fuzzer: `fuzzSocket({ messages, seed })` serves a fresh Gunyah machine on a Unix
 * socket in this process and sends it `messages` fuzz messages (`rm-fuzz-gen.ts`) over real
 * connections — the host's and two guests' — plus connections that die mid-fragment and
 * connections that break the framing. After each message a valid probe (VM_GET_VMID) on the
 * same connection must be answered with that connection's own VMID, and if no reply to the
 * message was OK, `rm.digest()` must be what it was before: a refused message changes nothing
 * (except the two refusals the reference gives an effect: a failed VM_CONFIG_IMAGE or
 * VM_START leaves the VM in INIT_FAILED, §8).
 * The endpoint must never meet an internal error. Any violation throws, naming the message.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { Rng } from "../base/rng.js";
import { createGunyahMachine } from "../gunyah/platform.js";
import { encodeRequest, MSG, requestMsgId } from "../gunyah/wire/index.js";
import { guestAddress } from "./rm-address.js";
import { RmEndpoint } from "./rm-endpoint.js";
import type { FuzzWorld } from "./rm-fuzz-gen.js";
import { fuzzMessage, plausibleRequest, requestFragments } from "./rm-fuzz-gen.js";
import { RawLink, replyError } from "./rm-raw-link.js";

export interface SocketFuzzOptions {
  readonly messages: number;
  readonly seed: number;
  /** The host's RAM (default 16 MiB: the digest walks its stage 2 after every message). */
  readonly hostRamSize?: number;
  /** Called every 1,000 messages. */
  readonly onProgress?: (done: number) => void;
}

/** What a socket fuzz run did. */
export interface SocketFuzzReport {
  readonly messages: number;
  /** Replies to fuzz messages: OK, and an RM error. */
  readonly okReplies: number;
  readonly errorReplies: number;
  /** Connections that died mid-fragment, and that broke the framing (and were closed). */
  readonly killedMidFragment: number;
  readonly framingErrors: number;
  /** Times a guest's connection had to be opened again (a mutation deallocated its VM). */
  readonly reconnects: number;
  /** Digest comparisons made after refused messages. */
  readonly digestChecks: number;
  /** RPCs the endpoint answered, and messages its reassembly dropped. */
  readonly rpcs: number;
  readonly drops: number;
  readonly ms: number;
}

const GUESTS = [0x80, 0x81] as const;

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`fuzz: waited ${ms} ms for ${what}`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Fuzz an endpoint over its socket. Throws on a crash, a wrong probe or a changed digest. */
export async function fuzzSocket(o: SocketFuzzOptions): Promise<SocketFuzzReport> {
  const start = performance.now();
  const dir = mkdtempSync(join(tmpdir(), "mw-rmfuzz-"));
  const hostRamSize = o.hostRamSize ?? 16 << 20;
  const { rm } = createGunyahMachine({ hostRamSize });
  const internal: string[] = [];
  const ep = new RmEndpoint({
    rm,
    address: { kind: "unix", path: join(dir, "rm.sock") },
    log: (line) => void (line.includes("internal error") && internal.push(line)),
  });
  await ep.start();
  const rng = new Rng(o.seed);
  const world: FuzzWorld & { handles: number[] } = {
    hostRam: 0x8000_0000,
    hostRamSize,
    guests: GUESTS,
    handles: [],
  };
  const links = new Map<number, RawLink>();
  const probeSeq = new Map<number, number>();
  const counts = {
    okReplies: 0,
    errorReplies: 0,
    killedMidFragment: 0,
    framingErrors: 0,
    reconnects: 0,
    digestChecks: 0,
  };
  const addressOf = (vmid: number) => (vmid === 3 ? ep.address : guestAddress(ep.address, vmid));

  /** A valid VM_GET_VMID on VM `vmid`'s link; returns the replies that came before it. */
  const probe = async (vmid: number, what: string) => {
    const link = links.get(vmid)!;
    const seq = ((probeSeq.get(vmid) ?? 0) + 1) & 0xffff;
    probeSeq.set(vmid, seq);
    link.send(requestFragments(MSG.VM_GET_VMID, seq, new Uint8Array(0))!);
    const { reply, before } = await link.reply(seq, MSG.VM_GET_VMID);
    const p = reply.payload;
    const got = p.length === 8 ? (p[4]! | (p[5]! << 8) | (p[6]! << 16) | (p[7]! << 24)) >>> 0 : -1;
    if (replyError(p) !== 0 || got !== vmid)
      throw new Error(
        `fuzz: after ${what}, vm${vmid}'s probe got error ${replyError(p)}, vmid ${got}`,
      );
    return before;
  };
  /** Open (again) VM `vmid`'s link; a guest that a mutation deallocated is allocated again. */
  const open = async (vmid: number) => {
    if (vmid !== 3 && rm.hyp.vm(vmid) === undefined) {
      const host = links.get(3)!;
      const seq = 0xfff0;
      host.send(
        requestFragments(MSG.VM_ALLOCATE, seq, encodeRequest({ id: "VM_ALLOCATE", vmid }))!,
      );
      await host.reply(seq, MSG.VM_ALLOCATE);
    }
    links.set(vmid, await RawLink.open(addressOf(vmid), vmid));
  };

  try {
    await open(3);
    for (const g of GUESTS) await open(g);
    let digest = rm.digest();
    for (let i = 0; i < o.messages; i++) {
      const vmid = rng.pick([3, 3, ...GUESTS]);
      const mode = rng.int(0, 99);
      let what: string;
      if (mode < 94) {
        const m = fuzzMessage(rng, world, vmid);
        what = m.what;
        links.get(vmid)!.send(m.msgs);
      } else if (mode < 97) {
        // Another connection of the same VM sends part of a multi-fragment request and dies.
        what = "a connection killed mid-fragment";
        const req = plausibleRequest(rng, world, vmid);
        const frags =
          requestFragments(requestMsgId(req), rng.int(0, 0xffff), encodeRequest(req)) ?? [];
        const doomed = await RawLink.open(addressOf(vmid), vmid);
        doomed.send(frags.slice(0, rng.int(0, Math.max(0, frags.length - 1))));
        if (rng.chance(0.5)) doomed.writeRaw(new Uint8Array([rng.int(1, 240), 0, 0, 0, 0x21, 1]));
        doomed.destroy();
        await within(doomed.whenClosed, 10_000, "a killed connection to close");
        counts.killedMidFragment++;
      } else {
        // Another connection breaks the framing: it is closed, nobody else is.
        const count = rng.pick([0, 241, 0x1_0000, 0xffff_ffff, rng.int(241, 0xffff_ffff)]);
        what = `a frame byte count of ${count}`;
        const bad = await RawLink.open(addressOf(vmid), vmid);
        bad.writeRaw(
          new Uint8Array([
            count & 0xff,
            (count >>> 8) & 0xff,
            (count >>> 16) & 0xff,
            count >>> 24,
            0x21,
            1,
            0,
            0,
          ]),
        );
        await within(
          bad.whenClosed,
          10_000,
          `the endpoint to close a connection that framed ${count}`,
        );
        counts.framingErrors++;
      }
      if (internal.length > 0) throw new Error(`fuzz: message ${i} (${what}): ${internal[0]}`);
      let before;
      try {
        before = await probe(vmid, `message ${i} (${what})`);
      } catch (e) {
        // A mutation that deallocated this guest closed its link: open it again.
        if (vmid === 3 || !links.get(vmid)!.closed) throw e;
        counts.reconnects++;
        await open(vmid);
        before = [];
        digest = rm.digest();
        continue;
      }
      let changed = false;
      for (const r of before) {
        if (replyError(r.payload) !== 0) {
          counts.errorReplies++;
          if (r.msgId === MSG.VM_CONFIG_IMAGE || r.msgId === MSG.VM_START) changed = true;
          continue;
        }
        counts.okReplies++;
        changed = true;
        const name = Object.entries(MSG).find(([, id]) => id === r.msgId)?.[0];
        if (
          (name === "MEM_LEND" || name === "MEM_SHARE" || name === "MEM_DONATE") &&
          r.payload.length === 8
        ) {
          const h =
            (r.payload[4]! |
              (r.payload[5]! << 8) |
              (r.payload[6]! << 16) |
              (r.payload[7]! << 24)) >>>
            0;
          world.handles.push(h);
          if (world.handles.length > 64) world.handles.shift();
        }
      }
      // A guest link closed by a mutation that deallocated its VM (the probe went elsewhere).
      for (const g of GUESTS)
        if (links.get(g)!.closed) {
          counts.reconnects++;
          await open(g);
          changed = true;
        }
      const now = rm.digest();
      if (!changed) {
        counts.digestChecks++;
        if (now !== digest)
          throw new Error(
            `fuzz: message ${i} (${what}) on vm${vmid} was refused but changed the RM state`,
          );
      }
      digest = now;
      if ((i + 1) % 1000 === 0) o.onProgress?.(i + 1);
    }
    for (const [vmid] of links) await probe(vmid, "the last message");
    if (internal.length > 0) throw new Error(`fuzz: ${internal[0]}`);
    return {
      messages: o.messages,
      ...counts,
      rpcs: ep.stats.rpcs,
      drops: ep.stats.drops,
      ms: performance.now() - start,
    };
  } finally {
    for (const l of links.values()) l.destroy();
    await ep.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
