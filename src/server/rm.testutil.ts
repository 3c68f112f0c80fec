/**
 * Helpers of the RM endpoint's tests: an endpoint on the default platform in a temporary
 * folder, clients for the host and guests, raw framed connections, and waiting.
 */
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { createGunyahMachine } from "../gunyah/platform.js";
import type { RmAddress } from "./rm-address.js";
import { guestAddress } from "./rm-address.js";
import { RmEndpoint, type RmEndpointOptions } from "./rm-endpoint.js";
import { FrameReader, frameMessages } from "./rm-framing.js";
import { SocketRmClient } from "./rm-socket-client.js";

export interface TestEndpoint {
  readonly ep: RmEndpoint;
  readonly dir: string;
  readonly path: string;
  readonly lines: string[];
  /** A client of VM `vmid` (the host by default). */
  client(vmid?: number): Promise<SocketRmClient>;
  addressOf(vmid: number): RmAddress;
  /** Stop the endpoint, remove the folder. */
  done(): Promise<void>;
}

/** An endpoint on `createGunyahMachine()` at a socket in a fresh temporary folder. */
export async function startEndpoint(
  options: Partial<Omit<RmEndpointOptions, "address">> = {},
): Promise<TestEndpoint> {
  const dir = mkdtempSync(join(tmpdir(), "mw-rm-"));
  const path = join(dir, "rm.sock");
  const lines: string[] = [];
  const ep = new RmEndpoint({
    rm: options.rm ?? createGunyahMachine().rm,
    address: { kind: "unix", path },
    log: (l) => lines.push(l),
    ...options,
  });
  await ep.start();
  const addressOf = (vmid: number): RmAddress =>
    vmid === ep.hostVmid ? ep.address : guestAddress(ep.address, vmid);
  const clients: SocketRmClient[] = [];
  return {
    ep,
    dir,
    path,
    lines,
    addressOf,
    async client(vmid = ep.hostVmid) {
      const c = await SocketRmClient.connect(addressOf(vmid), { timeoutMs: 20_000 });
      clients.push(c);
      return c;
    },
    async done() {
      for (const c of clients) c.destroy();
      await ep.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A raw framed connection: write bytes or frames, collect the messages that come back. */
export interface RawConnection {
  readonly socket: net.Socket;
  readonly messages: Uint8Array[];
  readonly closed: Promise<void>;
  send(msgs: readonly Uint8Array[]): void;
  write(bytes: Uint8Array): void;
  /** Wait until at least `n` messages have come. */
  waitFor(n: number, ms?: number): Promise<void>;
}

export function rawConnect(address: RmAddress): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket =
      address.kind === "unix" ? net.connect(address.path) : net.connect(address.port, "127.0.0.1");
    const messages: Uint8Array[] = [];
    const waiters: Array<() => void> = [];
    const reader = new FrameReader((m) => {
      messages.push(m.slice());
      for (const w of waiters.splice(0)) w();
    });
    socket.on("data", (chunk: Buffer) => void reader.push(chunk));
    const closed = new Promise<void>((r) => socket.once("close", () => r()));
    socket.on("error", () => {});
    socket.once("error", reject);
    socket.once("connect", () =>
      resolve({
        socket,
        messages,
        closed,
        send: (msgs) => void socket.write(frameMessages(msgs)),
        write: (bytes) => void socket.write(bytes),
        waitFor: (n, ms = 10_000) =>
          new Promise<void>((res, rej) => {
            const timer = setTimeout(
              () => rej(new Error(`waited ${ms} ms for ${n} messages, have ${messages.length}`)),
              ms,
            );
            const check = () => {
              if (messages.length >= n) {
                clearTimeout(timer);
                res();
              } else waiters.push(check);
            };
            check();
          }),
      }),
    );
  });
}

/** Resolve when `cond()` holds (polled), or reject naming `what` after `ms`. */
export async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A little-endian u32. */
export function le32(n: number): Uint8Array {
  return new Uint8Array([n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24]);
}
