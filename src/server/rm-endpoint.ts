/**
 * The RM endpoint: a {@link ResourceManager} served over Unix-domain sockets or TCP on
 * 127.0.0.1 (what `memweave rm serve` runs).
 *
 * - Framing (`rm-framing.ts`): each message-queue message is a le32 byte count (1..240) and
 *   that many bytes. A count of 0 or above 240 closes that connection, with a logged error.
 * - Each connection is one {@link RmSession} of one VM: the VM of the endpoint it connected to.
 *   The default endpoint (the path or port given) is the host's (HLOS, VMID 3). A guest VM has
 *   its own endpoint while it exists — `PATH.vm<vmid>` or port `PORT + vmid` — opened when
 *   VM_ALLOCATE succeeds (before its reply leaves) and closed, its socket file unlinked and its
 *   connections closed, when VM_DEALLOCATE does. A connection can never act as another VM.
 * - A connection that goes away mid-message takes only its partial message with it.
 * - Replies and notifications are gathered per connection and written once per turn of the
 *   event loop (one write for a 36-fragment reply or a burst of notifications).
 * - `verbose` logs one line per RPC: `vm3 seq 7 MEM_LEND -> OK (0.1 ms)`, with the codec's
 *   reason when it refused the payload. Listening, endpoint changes and errors are always logged.
 *
 * An exception from the model while answering is a bug: it is logged, counted
 * ({@link EndpointStats.internalErrors}) and closes that connection; the endpoint goes on.
 *
 * @example
 * const { rm } = createGunyahMachine();
 * const ep = new RmEndpoint({ rm, address: { kind: "unix", path: "/tmp/rm.sock" }, log: console.log });
 * await ep.start();
 * ...
 * await ep.stop();
 */
import { rmSync } from "node:fs";
import net from "node:net";

import { isMemweaveError } from "../base/errors.js";
import type { RmHubOptions, RpcRecord } from "../gunyah/rm/hub.js";
import { RmHub, type RmSession } from "../gunyah/rm/hub.js";
import type { ResourceManager } from "../gunyah/rm/rm.js";
import { formatMsgId } from "../gunyah/wire/index.js";
import type { RmAddress } from "./rm-address.js";
import {
  checkAddress,
  clearStaleSocket,
  formatAddress,
  guestAddress,
  MAX_GUEST_VMID,
  removeStaleGuestSocket,
  TCP_HOST,
} from "./rm-address.js";
import { FrameReader, FrameWriter } from "./rm-framing.js";

export interface RmEndpointOptions {
  readonly rm: ResourceManager;
  /** The default (host) endpoint's address; guests' are derived from it. */
  readonly address: RmAddress;
  /** Log one line per RPC. */
  readonly verbose?: boolean;
  /**
   * Where log lines go (default: nowhere): `info` where it listens and endpoint changes,
   * `verbose` (only with `verbose`) each RPC, drop and connection, `error` framing and
   * internal errors.
   */
  readonly log?: (line: string, kind: LogKind) => void;
  /** Give guest VMs endpoints of their own (default true). */
  readonly guestEndpoints?: boolean;
  /** Close a connection whose unread output exceeds this many bytes (default 16 MiB). */
  readonly maxBacklog?: number;
}

/** What a log line is about. */
export type LogKind = "info" | "verbose" | "error";

/** Counters of an endpoint's life. */
export interface EndpointStats {
  connections: number;
  rpcs: number;
  /** Messages the reassembly dropped or discarded. */
  drops: number;
  framingErrors: number;
  internalErrors: number;
}

/** One endpoint: the VM it serves and where. */
export interface EndpointInfo {
  readonly vmid: number;
  readonly address: RmAddress;
}

interface Listener extends EndpointInfo {
  readonly server: net.Server;
  readonly conns: Set<Connection>;
  listening: boolean;
}

interface Connection {
  readonly id: number;
  readonly socket: net.Socket;
  readonly listener: Listener;
  readonly writer: FrameWriter;
  session: RmSession;
  reader: FrameReader;
  closed: boolean;
}

const VM_LIFETIME_RPCS = new Set(["VM_ALLOCATE", "VM_DEALLOCATE"]);

export class RmEndpoint {
  readonly rm: ResourceManager;
  readonly address: RmAddress;
  readonly stats: EndpointStats = {
    connections: 0,
    rpcs: 0,
    drops: 0,
    framingErrors: 0,
    internalErrors: 0,
  };
  private readonly hub: RmHub;
  private readonly listeners = new Map<number, Listener>();
  private readonly dirty = new Set<Connection>();
  private readonly log: (line: string, kind: LogKind) => void;
  private readonly verbose: boolean;
  private readonly guests: boolean;
  private readonly maxBacklog: number;
  private flushScheduled = false;
  /** Guest listens not yet bound: output waits for them, so a reply never beats its endpoint. */
  private binding = 0;
  private connSeq = 0;
  private rpcStart = 0;
  private state: "new" | "running" | "stopped" = "new";

  constructor(options: RmEndpointOptions) {
    this.rm = options.rm;
    this.address = checkAddress(options.address);
    this.log = options.log ?? (() => {});
    this.verbose = options.verbose === true;
    this.guests = options.guestEndpoints !== false;
    this.maxBacklog = options.maxBacklog ?? 16 << 20;
    const hubOptions: RmHubOptions = {
      onRpc: (r) => this.rpcDone(r),
      onDrop: (vmid, reason) => {
        this.stats.drops++;
        if (this.verbose) this.log(`vm${vmid} dropped: ${reason}`, "verbose");
      },
    };
    this.hub = new RmHub(this.rm, hubOptions);
  }

  /** The host's VMID (the default endpoint's VM). */
  get hostVmid(): number {
    return this.rm.hyp.host.vmid;
  }

  /** Every endpoint listening now, the host's first, then by VMID. */
  endpoints(): EndpointInfo[] {
    return [...this.listeners.values()]
      .filter((l) => l.listening)
      .sort((a, b) =>
        a.vmid === this.hostVmid ? -1 : b.vmid === this.hostVmid ? 1 : a.vmid - b.vmid,
      )
      .map(({ vmid, address }) => ({ vmid, address }));
  }

  /** The address VM `vmid` is served at, if it has an endpoint now. */
  addressOf(vmid: number): RmAddress | undefined {
    const l = this.listeners.get(vmid);
    return l?.listening === true ? l.address : undefined;
  }

  /** Connections open to VM `vmid`'s endpoint. */
  connectionCount(vmid: number): number {
    return this.listeners.get(vmid)?.conns.size ?? 0;
  }

  /** Listen: the host's endpoint, and one per guest VM the RM has already. */
  async start(): Promise<void> {
    if (this.state !== "new") throw new Error(`RM endpoint: start() on a ${this.state} endpoint`);
    this.state = "running";
    const host = this.hostVmid;
    if (this.address.kind === "unix") await clearStaleSocket(this.address.path);
    await this.listen(host, this.address);
    this.log(`listening: vm${host} (host) on ${formatAddress(this.address)}`, "info");
    if (this.guests) {
      const hint =
        this.address.kind === "unix"
          ? `${this.address.path}.vm<vmid>`
          : `port ${this.address.port} + vmid`;
      this.log(`guest VMs get their own endpoint while they exist: ${hint}`, "info");
      await this.refresh();
    }
  }

  /**
   * Open an endpoint for every guest VM that has none and close those of VMs that are gone.
   * Done after each successful VM_ALLOCATE and VM_DEALLOCATE; call it after changing the
   * hypervisor's VMs directly.
   */
  async refresh(): Promise<void> {
    const opened = this.reconcile();
    await Promise.all(opened);
  }

  /** Stop accepting, close every connection, unlink the socket files. */
  async stop(): Promise<void> {
    if (this.state === "stopped") return;
    this.state = "stopped";
    this.hub.dispose();
    const closing = [...this.listeners.values()].map((l) =>
      this.closeListener(l, "endpoint stopped"),
    );
    this.listeners.clear();
    await Promise.all(closing);
  }

  // --- listeners ---------------------------------------------------------------------------------

  private reconcile(): Array<Promise<void>> {
    if (!this.guests || this.state !== "running") return [];
    const host = this.hostVmid;
    const live = new Set<number>();
    const opened: Array<Promise<void>> = [];
    for (const vm of this.rm.hyp.list()) {
      if (vm.vmid === host || vm.vmid > MAX_GUEST_VMID) continue;
      live.add(vm.vmid);
      if (this.listeners.has(vm.vmid)) continue;
      const address = guestAddress(this.address, vm.vmid);
      const at = formatAddress(address);
      if (
        address.kind === "unix" &&
        !removeStaleGuestSocket(address.path, (m) => this.log(`vm${vm.vmid}: ${m}`, "error"))
      )
        continue;
      this.binding++;
      opened.push(
        this.listen(vm.vmid, address)
          .then(
            () => this.log(`listening: vm${vm.vmid} on ${at}`, "info"),
            (e: unknown) =>
              this.log(
                `vm${vm.vmid}: no endpoint: cannot listen on ${at}: ${errorText(e)}`,
                "error",
              ),
          )
          .finally(() => {
            this.binding--;
            this.scheduleFlush();
          }),
      );
    }
    for (const l of [...this.listeners.values()]) {
      if (l.vmid === host || live.has(l.vmid)) continue;
      this.listeners.delete(l.vmid);
      void this.closeListener(l, "VM deallocated");
      this.log(`closed: vm${l.vmid} endpoint ${formatAddress(l.address)} (VM deallocated)`, "info");
    }
    return opened;
  }

  private listen(vmid: number, address: RmAddress): Promise<void> {
    const server = net.createServer({ noDelay: true });
    const listener: Listener = { vmid, address, server, conns: new Set(), listening: false };
    this.listeners.set(vmid, listener);
    server.on("connection", (socket) => this.accept(listener, socket));
    return new Promise<void>((resolve, reject) => {
      server.once("error", (e) => {
        if (this.listeners.get(vmid) === listener) this.listeners.delete(vmid);
        reject(e);
      });
      const ready = () => {
        listener.listening = true;
        server.on("error", (e) => this.log(`vm${vmid}: endpoint error: ${errorText(e)}`, "error"));
        resolve();
      };
      if (address.kind === "unix") server.listen(address.path, ready);
      else server.listen(address.port, TCP_HOST, ready);
    });
  }

  private closeListener(l: Listener, why: string): Promise<void> {
    for (const c of [...l.conns]) this.closeConnection(c, why, true);
    return new Promise<void>((resolve) => {
      if (!l.listening) return resolve();
      l.listening = false;
      l.server.close(() => resolve());
      if (l.address.kind === "unix") rmSync(l.address.path, { force: true });
    });
  }

  // --- connections -------------------------------------------------------------------------------

  private accept(listener: Listener, socket: net.Socket): void {
    if (this.state !== "running" || !listener.listening) return void socket.destroy();
    this.stats.connections++;
    const id = ++this.connSeq;
    const conn = { id, socket, listener, writer: new FrameWriter(), closed: false } as Connection;
    listener.conns.add(conn);
    conn.reader = new FrameReader((msg) => {
      if (this.verbose) this.rpcStart = performance.now();
      conn.session.push(msg);
    });
    socket.on("data", (chunk: Buffer) => this.receive(conn, chunk));
    socket.on("error", (e) => {
      if (this.verbose) this.log(`vm${listener.vmid} connection ${id}: ${errorText(e)}`, "verbose");
    });
    socket.on("close", () => this.closeConnection(conn, "closed by the peer", false));
    if (this.verbose) this.log(`vm${listener.vmid} connection ${id} opened`, "verbose");
    // Opening the session delivers the notifications that waited for this VM.
    conn.session = this.hub.open(listener.vmid, (msg) => this.queue(conn, msg));
  }

  private receive(conn: Connection, chunk: Buffer): void {
    if (conn.closed) return;
    let problem: string | undefined;
    try {
      problem = conn.reader.push(chunk);
    } catch (e) {
      this.stats.internalErrors++;
      this.log(
        `vm${conn.listener.vmid} connection ${conn.id}: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
        "error",
      );
      return this.closeConnection(conn, "internal error", true);
    }
    if (problem !== undefined) {
      this.stats.framingErrors++;
      this.log(
        `vm${conn.listener.vmid} connection ${conn.id}: framing error: ${problem}; closing the connection`,
        "error",
      );
      return this.closeConnection(conn, "framing error", true);
    }
    // This chunk's replies go at once, in one write (a round trip saved waiting for the
    // check phase); other connections' notifications wait for the scheduled flush.
    if (this.binding === 0 && conn.writer.pending) {
      this.dirty.delete(conn);
      this.write(conn);
    }
  }

  private closeConnection(conn: Connection, why: string, byUs: boolean): void {
    if (conn.closed) return;
    conn.closed = true;
    conn.session?.close();
    conn.reader?.reset();
    conn.listener.conns.delete(conn);
    this.dirty.delete(conn);
    if (byUs) {
      const out = conn.writer.take();
      if (out !== undefined && !conn.socket.destroyed) conn.socket.write(out);
      conn.socket.end();
      // A peer that does not close its side is cut off.
      setTimeout(() => conn.socket.destroy(), 250).unref();
    }
    if (this.verbose)
      this.log(`vm${conn.listener.vmid} connection ${conn.id} closed (${why})`, "verbose");
  }

  // --- output ------------------------------------------------------------------------------------

  private queue(conn: Connection, msg: Uint8Array): void {
    if (conn.closed) return;
    conn.writer.add(msg);
    this.dirty.add(conn);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.dirty.size === 0) return;
    this.flushScheduled = true;
    // After the poll phase: every connection's input of this turn is in, and a guest listen
    // begun by a VM_ALLOCATE (its bind is a tick away for TCP) is bound before the reply leaves.
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.binding > 0) return; // scheduleFlush again when the listen settles
    for (const conn of this.dirty) this.write(conn);
    this.dirty.clear();
  }

  private write(conn: Connection): void {
    const out = conn.writer.take();
    if (out === undefined || conn.socket.destroyed) return;
    conn.socket.write(out);
    if (conn.socket.writableLength > this.maxBacklog) {
      this.log(
        `vm${conn.listener.vmid} connection ${conn.id}: more than ${this.maxBacklog} bytes unread; closing the connection`,
        "error",
      );
      this.closeConnection(conn, "not reading", false);
      conn.socket.destroy();
    }
  }

  // --- RPCs --------------------------------------------------------------------------------------

  private rpcDone(r: RpcRecord): void {
    this.stats.rpcs++;
    if (this.verbose) {
      const ms = (performance.now() - this.rpcStart).toFixed(1);
      const name = r.name ?? formatMsgId(r.msgId);
      const why = r.reason !== undefined ? `: ${r.reason}` : "";
      this.log(`vm${r.vmid} seq ${r.seq} ${name} -> ${r.err}${why} (${ms} ms)`, "verbose");
    }
    if (r.err === "OK" && r.name !== undefined && VM_LIFETIME_RPCS.has(r.name))
      void this.reconcile();
  }
}

function errorText(e: unknown): string {
  if (isMemweaveError(e)) return e.message;
  if (e instanceof Error) return (e as NodeJS.ErrnoException).code ?? e.message;
  return String(e);
}
