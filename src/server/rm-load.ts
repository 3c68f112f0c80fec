/**
 * Load on an RM endpoint: many VM connections, each making RPCs one after another, every reply
 * checked — its (seq, msg_id) by {@link SocketRmClient} (a reply matching no call is counted as
 * stray, i.e. duplicated or misrouted) and its content here (VM_GET_VMID answers the
 * connection's own VMID, a guest's VM_ALLOCATE is DENIED, the host's lend replies a handle its
 * reclaim then accepts, ...). A lost reply shows as a call that times out. Used by the soak of
 * `npm run fuzz`, the benchmark, and a short test.
 *
 * @example
 * const load = await LoadClients.connect({ kind: "unix", path }, [3, 0x80, 0x81], "light");
 * await load.round(1000); // 1,000 RPCs on each connection, in parallel
 * await load.close();
 */
import { Rng } from "../base/rng.js";
import type { RmReply, RmRequest } from "../gunyah/wire/index.js";
import { encodeRequest, MSG } from "../gunyah/wire/index.js";
import type { RmAddress } from "./rm-address.js";
import { formatAddress, guestAddress } from "./rm-address.js";
import { requestFragments } from "./rm-fuzz-gen.js";
import { RawLink } from "./rm-raw-link.js";
import { SocketRmClient } from "./rm-socket-client.js";

/** `light`: cheap queries only (the benchmark); `full`: the host also lends and reclaims. */
export type LoadMix = "light" | "full";

const HOST = 3;
const LOAD = 5; // VM_STATE.LOAD: the guests stay there

interface Conn {
  readonly vmid: number;
  readonly client: SocketRmClient;
  readonly rng: Rng;
  /** Iterations made, and RPCs (a host's lend and reclaim are two). */
  calls: number;
  rpcs: number;
}

function check(vmid: number, what: string, cond: boolean, r: RmReply): void {
  if (!cond)
    throw new Error(
      `vm${vmid}: ${what}: unexpected reply ${JSON.stringify(r)} (lost, duplicated or misrouted?)`,
    );
}

export class LoadClients {
  private constructor(
    private readonly conns: Conn[],
    private readonly guests: readonly number[],
    private readonly mix: LoadMix,
  ) {}

  /**
   * Connect the host and each guest of `vmids` (host first; guests that do not exist are
   * allocated by the host), each to its own endpoint.
   */
  static async connect(
    base: RmAddress,
    vmids: readonly number[],
    mix: LoadMix,
    seed = 1,
  ): Promise<LoadClients> {
    const host = await SocketRmClient.connect(base, { timeoutMs: 30_000 });
    const guests = vmids.filter((v) => v !== HOST);
    for (const g of guests) {
      const r = await host.call({ id: "VM_GET_STATE", vmid: g });
      if (r.err === "OK") continue;
      const a = await host.call({ id: "VM_ALLOCATE", vmid: g });
      if (a.err !== "OK") throw new Error(`load: cannot allocate VM ${g}: ${a.err}`);
    }
    const conns: Conn[] = [{ vmid: HOST, client: host, rng: new Rng(seed), calls: 0, rpcs: 0 }];
    for (const g of guests) {
      const client = await SocketRmClient.connect(guestAddress(base, g), { timeoutMs: 30_000 });
      conns.push({ vmid: g, client, rng: new Rng(seed + g), calls: 0, rpcs: 0 });
    }
    host.takeNotifications();
    return new LoadClients(vmids.includes(HOST) ? conns : conns.slice(1), guests, mix);
  }

  /** Connections under load. */
  get size(): number {
    return this.conns.length;
  }

  /** Make `n` checked RPCs on every connection, all connections at once. */
  async round(n: number): Promise<void> {
    await Promise.all(this.conns.map((c) => this.run(c, n)));
  }

  /** RPCs made so far, on every connection. */
  rpcs(): number {
    return this.conns.reduce((s, c) => s + c.rpcs, 0);
  }

  /** Every connection's stray replies (0 unless a reply was duplicated or misrouted). */
  strayReplies(): number {
    return this.conns.reduce((s, c) => s + c.client.strayReplies, 0);
  }

  async close(): Promise<void> {
    await Promise.all(this.conns.map((c) => c.client.close()));
  }

  private async run(c: Conn, n: number): Promise<void> {
    const { vmid, client, rng } = c;
    for (let i = 0; i < n; i++, c.calls++) {
      const pick = rng.int(0, 3);
      if (vmid === HOST) {
        if (this.mix === "full" && pick === 0) {
          const guest = rng.pick(this.guests);
          const ipa = 0x8000_0000 + (c.calls % 4096) * 0x1000;
          const lent = await client.call({
            id: "MEM_LEND",
            memType: 0,
            flags: 0,
            label: c.calls >>> 0,
            acl: [{ vmid: guest, rights: 7 }],
            sgl: [{ ipa, size: 0x1000 }],
            attrs: [],
          });
          check(vmid, `MEM_LEND #${c.calls}`, lent.err === "OK" && lent.id === "MEM_LEND", lent);
          const handle = (lent as { handle: number }).handle;
          const back = await client.call({ id: "MEM_RECLAIM", handle, flags: 0 });
          check(
            vmid,
            `MEM_RECLAIM ${handle}`,
            back.err === "OK" && back.id === "MEM_RECLAIM",
            back,
          );
          c.rpcs += 2;
          continue;
        } else if (pick < 2 && this.guests.length > 0) {
          const g = rng.pick(this.guests);
          const r = await client.call({ id: "VM_GET_STATE", vmid: g });
          check(
            vmid,
            `VM_GET_STATE ${g}`,
            r.id === "VM_GET_STATE" && r.err === "OK" && r.vmState === LOAD,
            r,
          );
          c.rpcs++;
        } else {
          const r = await client.call({ id: "VM_GET_VMID" });
          check(
            vmid,
            "VM_GET_VMID",
            r.id === "VM_GET_VMID" && r.err === "OK" && r.vmid === HOST,
            r,
          );
          c.rpcs++;
        }
        continue;
      }
      const req: RmRequest =
        pick === 0
          ? { id: "VM_GET_VMID" }
          : pick === 1
            ? { id: "VM_GET_STATE", vmid: 0 }
            : pick === 2
              ? { id: "VM_ALLOCATE", vmid: 0 }
              : { id: "VM_EXIT", exitFlags: rng.int(0, 0xffff), exitCode: 0 };
      const r = await client.call(req);
      const ok =
        r.id === req.id &&
        (r.id === "VM_GET_VMID"
          ? r.err === "OK" && r.vmid === vmid
          : r.id === "VM_GET_STATE"
            ? r.err === "OK" && r.vmState === LOAD
            : r.id === "VM_ALLOCATE"
              ? r.err === "DENIED"
              : r.err === "VM_STATE");
      check(vmid, `${req.id} #${c.calls}`, ok, r);
      c.rpcs++;
    }
  }
}

/**
 * Until `stop()` is called: connections to random endpoints of `vmids` that send part of a
 * 36-fragment request and die. Resolves with how many were killed.
 */
export function killMidFragment(
  base: RmAddress,
  vmids: readonly number[],
  seed = 9,
): { stop(): Promise<number> } {
  const rng = new Rng(seed);
  let running = true;
  let killed = 0;
  const sgl = Array.from({ length: 512 }, (_, i) => ({
    ipa: 0x8000_0000 + i * 0x2000,
    size: 0x1000,
  }));
  const frags = requestFragments(
    MSG.MEM_LEND,
    0x7777,
    encodeRequest({
      id: "MEM_LEND",
      memType: 0,
      flags: 0,
      label: 0,
      acl: [{ vmid: 0x80, rights: 7 }],
      sgl,
      attrs: [],
    }),
  )!;
  const loop = (async () => {
    while (running) {
      const vmid = rng.pick(vmids);
      const address = vmid === HOST ? base : guestAddress(base, vmid);
      const link = await RawLink.open(address, vmid).catch((e: Error) => {
        throw new Error(`killer: cannot connect to ${formatAddress(address)}: ${e.message}`);
      });
      link.send(frags.slice(0, rng.int(1, frags.length - 1)));
      if (rng.chance(0.5)) link.writeRaw(new Uint8Array([240, 0, 0, 0, 0x21, 0x8c]));
      await new Promise((r) => setTimeout(r, rng.int(0, 3)));
      link.destroy();
      await link.whenClosed;
      killed++;
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return killed;
    },
  };
}

/** What a soak did. */
export interface SoakReport {
  readonly connections: number;
  /** Iterations per connection (a host's lend + reclaim is one iteration, two RPCs). */
  readonly rpcsPerConnection: number;
  /** RPCs made in all. */
  readonly rpcs: number;
  readonly killedMidFragment: number;
  readonly strayReplies: number;
  readonly ms: number;
  readonly rpcPerSecond: number;
}

/** `vms` connections (the host and guests 0x80..) x `rpcs` checked RPCs, with killers about. */
export async function soak(
  base: RmAddress,
  o: { vms: number; rpcs: number; mix?: LoadMix; seed?: number },
): Promise<SoakReport> {
  const vmids = [HOST, ...Array.from({ length: o.vms - 1 }, (_, i) => 0x80 + i)];
  const load = await LoadClients.connect(base, vmids, o.mix ?? "full", o.seed ?? 1);
  const killers = killMidFragment(base, vmids, (o.seed ?? 1) + 99);
  const start = performance.now();
  let killed: number;
  try {
    await load.round(o.rpcs);
  } finally {
    killed = await killers.stop();
  }
  const ms = performance.now() - start;
  const strayReplies = load.strayReplies();
  await load.close();
  if (strayReplies > 0)
    throw new Error(`soak: ${strayReplies} replies matched no call (duplicated or misrouted)`);
  const rpcs = load.rpcs();
  return {
    connections: load.size,
    rpcsPerConnection: o.rpcs,
    rpcs,
    killedMidFragment: killed,
    strayReplies,
    ms,
    rpcPerSecond: (rpcs / ms) * 1000,
  };
}
