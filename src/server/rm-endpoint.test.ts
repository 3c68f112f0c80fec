/**
 * End to end over real Unix sockets: the host and two guests connected at once, parcels lent
 * and shared (1,000 entries: a 36-fragment create and an append), notifications on the right
 * connections, guests that cannot act as the host, per-VM endpoints that come and go with
 * their VMs, framing errors and connections that die mid-message.
 */
import { existsSync, writeFileSync } from "node:fs";
import { spawn } from "node:child_process";

import { afterEach, describe, expect, it } from "vitest";

import {
  memAccept,
  memLend,
  memNotify,
  memReclaim,
  memRelease,
  memShare,
  getVmid,
  vmAllocVmid,
  vmDeallocVmid,
} from "../gunyah/client/linux.js";
import { createGunyahMachine } from "../gunyah/platform.js";
import { encodeRequest, fragmentMessage, MSG, MSG_TYPE } from "../gunyah/wire/index.js";
import { RmEndpoint } from "./rm-endpoint.js";
import { SocketRmClient } from "./rm-socket-client.js";
import { le32, rawConnect, startEndpoint, type TestEndpoint, until } from "./rm.testutil.js";

let t: TestEndpoint | undefined;
afterEach(async () => {
  await t?.done();
  t = undefined;
});

const HOST_RAM = 0x8000_0000;
/** 1,000 4 KiB pages, every other page, from `base`. */
const pages = (base: number, n = 1000) =>
  Array.from({ length: n }, (_, i) => ({ ipa: base + i * 0x2000, size: 0x1000 }));
const accept = (handle: number, transType: number, flags: number) =>
  memAccept({
    handle,
    memType: 0,
    transType,
    flags,
    label: 0,
    acl: [],
    sgl: [],
    mapVmid: 0,
    attrs: [],
  });

describe("RM endpoint, host and two guests", () => {
  it("lends 1,000 entries and shares, with notifications on the right connections", async () => {
    t = await startEndpoint({ verbose: true });
    const host = await t.client();
    expect(await host.run(vmAllocVmid())).toEqual({ ok: true, value: 0x80 });
    expect(await host.run(vmAllocVmid())).toEqual({ ok: true, value: 0x81 });
    // The guests' endpoints exist once VM_ALLOCATE has answered.
    expect(existsSync(`${t.path}.vm128`) && existsSync(`${t.path}.vm129`)).toBe(true);
    const g1 = await t.client(0x80);
    const g2 = await t.client(0x81);
    expect(await g1.run(getVmid())).toEqual({ ok: true, value: 0x80 });
    expect(await g2.run(getVmid())).toEqual({ ok: true, value: 0x81 });

    // 1,000 entries: a create of 512 (36 fragments) with APPEND, then an append of 488 with END.
    const lent = await host.run(
      memLend({ memType: 0, label: 5, acl: [{ vmid: 0x80, rights: 7 }], mem: pages(HOST_RAM) }),
    );
    expect(lent).toEqual({ ok: true, value: 0 });
    const shared = await host.run(
      memShare({
        memType: 0,
        label: 6,
        acl: [
          { vmid: 0x81, rights: 6 },
          { vmid: 3, rights: 7 },
        ],
        mem: [{ ipa: HOST_RAM + 0x100_0000, size: 0x20_0000 }],
      }),
    );
    expect(shared).toEqual({ ok: true, value: 1 });
    expect(t.ep.rm.parcels.get(0)?.state).toBe("SHARING");

    expect(await host.run(memNotify(0, 1, 0x1234, [0x80]))).toEqual({ ok: true, value: undefined });
    expect(await host.run(memNotify(1, 1, 0x5678, [0x81]))).toEqual({ ok: true, value: undefined });
    await until(
      "MEM_SHARED on both guests",
      () => g1.notifications.length > 0 && g2.notifications.length > 0,
    );
    expect(g1.takeNotifications()).toEqual([
      expect.objectContaining({
        id: "MEM_SHARED",
        handle: 0,
        owner: 3,
        label: 5,
        memInfoTag: 0x1234,
        transType: 1,
      }),
    ]);
    const [s2] = g2.takeNotifications();
    expect(s2).toMatchObject({
      id: "MEM_SHARED",
      handle: 1,
      owner: 3,
      memInfoTag: 0x5678,
      transType: 2,
      sizes: [0x20_0000],
    });

    // Guest 0x80 accepts with RM-chosen IPAs: 512 and INCOMPLETE, then the rest with DONE.
    const a1 = await g1.run(accept(0, 1, 0));
    expect(a1.ok && a1.value).toMatchObject({ flags: 1 });
    const a2 = await g1.run(accept(0, 1, 128));
    expect(a2.ok && a2.value?.sgl.length).toBe(488);
    expect(await g1.run(memNotify(0, 4, 0x1234))).toEqual({ ok: true, value: undefined });
    expect(await g2.run(accept(1, 2, 128))).toMatchObject({ ok: true });

    // A guest's connection cannot act as the host.
    expect(await g1.run(vmAllocVmid())).toMatchObject({
      ok: false,
      err: "DENIED",
      errno: { name: "EPERM" },
    });
    expect(await g2.run(memReclaim(1))).toMatchObject({ ok: false, err: "DENIED" });

    // Reclaim: in use until the guest releases.
    expect(await host.run(memReclaim(0))).toMatchObject({ ok: false, err: "MEM_INUSE" });
    expect(await g1.run(memRelease(0))).toEqual({ ok: true, value: undefined });
    expect(await host.run(memReclaim(0))).toEqual({ ok: true, value: undefined });
    expect(await g2.run(memRelease(1))).toEqual({ ok: true, value: undefined });
    expect(await host.run(memReclaim(1))).toEqual({ ok: true, value: undefined });

    await until("MEM_ACCEPTED on the host", () =>
      host.notifications.some((n) => n.id === "MEM_ACCEPTED"),
    );
    expect(host.notifications.map((n) => n.id)).toEqual(["VM_STATUS", "VM_STATUS", "MEM_ACCEPTED"]);
    expect(host.notifications[2]).toMatchObject({ handle: 0, vmid: 0x80, memInfoTag: 0x1234 });
    expect(g1.notifications).toEqual([]);
    expect(g2.notifications).toEqual([]);
    expect(host.strayReplies + g1.strayReplies + g2.strayReplies).toBe(0);
    expect(t.ep.rm.parcels.list()).toEqual([]);
    // Verbose: one line per RPC.
    expect(t.lines.some((l) => /^vm3 seq 2 MEM_LEND -> OK \(\d+\.\d ms\)$/.test(l))).toBe(true);
    expect(t.lines.some((l) => /^vm3 seq 3 MEM_APPEND -> OK \(\d+\.\d ms\)$/.test(l))).toBe(true);
    expect(
      t.lines.some((l) => /^vm128 seq \d+ VM_ALLOCATE -> DENIED \(\d+\.\d ms\)$/.test(l)),
    ).toBe(true);

    // Deallocating 0x81 closes its endpoint and its connection, and unlinks its socket.
    expect(await host.run(vmDeallocVmid(0x81))).toEqual({ ok: true, value: undefined });
    await g2.closed;
    expect(existsSync(`${t.path}.vm129`)).toBe(false);
    expect(t.ep.addressOf(0x81)).toBeUndefined();
    await expect(SocketRmClient.connect(t.addressOf(0x81))).rejects.toThrow(
      /cannot connect to the RM at unix:.*\.vm129: ENOENT/,
    );
    expect(await g1.run(getVmid())).toEqual({ ok: true, value: 0x80 });
    expect(t.lines).toContain(`closed: vm129 endpoint unix:${t.path}.vm129 (VM deallocated)`);
  });

  it("gives a reallocated VM a fresh endpoint; an endpoint exists only while its VM does", async () => {
    t = await startEndpoint();
    const host = await t.client();
    await expect(SocketRmClient.connect(t.addressOf(0x80))).rejects.toThrow(/ENOENT/);
    expect(await host.run(vmAllocVmid(0x90))).toEqual({ ok: true, value: 0x90 });
    expect(t.ep.endpoints().map((e) => e.vmid)).toEqual([3, 0x90]);
    const g = await t.client(0x90);
    expect(t.ep.connectionCount(0x90)).toBe(1);
    expect(await host.run(vmDeallocVmid(0x90))).toEqual({ ok: true, value: undefined });
    await g.closed;
    await expect(g.run(getVmid())).rejects.toThrow(/connection closed/);
    expect(await host.run(vmAllocVmid(0x90))).toEqual({ ok: true, value: 0x90 });
    const again = await t.client(0x90);
    expect(await again.run(getVmid())).toEqual({ ok: true, value: 0x90 });
    expect(t.lines.filter((l) => l.startsWith("listening: vm144 on "))).toHaveLength(2);
  });

  it("serves guest VMs the RM has at start, and TCP on 127.0.0.1 with PORT + vmid", async () => {
    const { rm } = createGunyahMachine();
    expect(rm.vms.allocate(3, 0x85)).toEqual({ err: "OK", value: 0x85 });
    let ep: RmEndpoint | undefined;
    const lines: string[] = [];
    for (let attempt = 0; ep === undefined; attempt++) {
      const port = 20_000 + Math.floor(Math.random() * 40_000);
      const candidate = new RmEndpoint({
        rm,
        address: { kind: "tcp", port },
        log: (l) => lines.push(l),
      });
      try {
        await candidate.start();
        if (candidate.addressOf(0x85) === undefined) throw new Error("guest port taken");
        ep = candidate;
      } catch (e) {
        await candidate.stop();
        if (attempt > 5) throw e;
      }
    }
    try {
      const port = ep.address.kind === "tcp" ? ep.address.port : 0;
      expect(ep.addressOf(0x85)).toEqual({ kind: "tcp", port: port + 0x85 });
      expect(lines).toContain(`listening: vm133 on tcp:127.0.0.1:${port + 0x85}`);
      const g = await SocketRmClient.connect({ kind: "tcp", port: port + 0x85 });
      expect(await g.run(getVmid())).toEqual({ ok: true, value: 0x85 });
      const host = await SocketRmClient.connect({ kind: "tcp", port });
      expect(await host.run(getVmid())).toEqual({ ok: true, value: 3 });
      expect(await host.run(vmDeallocVmid(0x85))).toEqual({ ok: true, value: undefined });
      await g.closed;
      await expect(SocketRmClient.connect({ kind: "tcp", port: port + 0x85 })).rejects.toThrow(
        /ECONNREFUSED/,
      );
      // A TCP listen binds a tick after VM_ALLOCATE: the reply waits for it, so a client that
      // connects the moment it has the reply finds the port open.
      expect(await host.run(vmAllocVmid(0x86))).toEqual({ ok: true, value: 0x86 });
      const g86 = await SocketRmClient.connect({ kind: "tcp", port: port + 0x86 });
      expect(await g86.run(getVmid())).toEqual({ ok: true, value: 0x86 });
      g86.destroy();
      host.destroy();
    } finally {
      await ep.stop();
    }
  });
});

describe("RM endpoint, its socket file", () => {
  it("replaces a stale socket, refuses a live endpoint's and a file that is not a socket", async () => {
    t = await startEndpoint();
    // A second endpoint on the same path: the first one is alive.
    const second = new RmEndpoint({
      rm: createGunyahMachine().rm,
      address: { kind: "unix", path: t.path },
    });
    await expect(second.start()).rejects.toThrow(`another endpoint is listening on ${t.path}`);
    await second.stop();
    const host = await t.client();
    expect(await host.run(getVmid())).toEqual({ ok: true, value: 3 });
    // A socket file left by an endpoint that died (a listener closed without unlinking).
    const stalePath = `${t.path}.stale`;
    const dead = spawn(process.execPath, [
      "-e",
      `require("net").createServer().listen(${JSON.stringify(stalePath)}, () => console.log("up"))`,
    ]);
    await new Promise<void>((r) => dead.stdout.once("data", () => r()));
    dead.kill("SIGKILL"); // no chance to unlink
    await new Promise((r) => dead.once("exit", r));
    expect(existsSync(stalePath)).toBe(true);
    const revived = new RmEndpoint({
      rm: createGunyahMachine().rm,
      address: { kind: "unix", path: stalePath },
    });
    await revived.start();
    const c = await SocketRmClient.connect({ kind: "unix", path: stalePath });
    expect(await c.run(getVmid())).toEqual({ ok: true, value: 3 });
    c.destroy();
    await revived.stop();
    expect(existsSync(stalePath)).toBe(false);
    // A regular file is never replaced.
    const plain = `${t.path}.file`;
    writeFileSync(plain, "keep me");
    const refused = new RmEndpoint({
      rm: createGunyahMachine().rm,
      address: { kind: "unix", path: plain },
    });
    await expect(refused.start()).rejects.toThrow(
      `${plain} exists and is not a socket; not replacing it`,
    );
    await refused.stop();
    expect(existsSync(plain)).toBe(true);
  });

  it("refuses addresses no guest endpoint could follow, naming the value", () => {
    const rm = createGunyahMachine().rm;
    expect(() => new RmEndpoint({ rm, address: { kind: "tcp", port: 65_400 } })).toThrow(
      "TCP port 65400 is not in 1..65345 (guest VMs listen on PORT + vmid, up to PORT + 0xbe)",
    );
    expect(
      () => new RmEndpoint({ rm, address: { kind: "unix", path: `/tmp/${"x".repeat(100)}` } }),
    ).toThrow(
      /socket path "\/tmp\/x+" is too long: with a guest's suffix \(\.vm190\) it is 111 bytes, at most 107/,
    );
  });
});

/** The fragments of a request. */
function fragments(req: Parameters<typeof encodeRequest>[0], seq: number): Uint8Array[] {
  const f = fragmentMessage(MSG_TYPE.REQUEST, MSG[req.id], seq, encodeRequest(req));
  if (!f.ok) throw new Error(f.reason);
  return f.fragments;
}

describe("RM endpoint, broken connections", () => {
  it.each([0, 241, 0xffff_ffff])(
    "closes only the connection that framed a count of %i",
    async (count) => {
      t = await startEndpoint();
      const host = await t.client();
      const raw = await rawConnect(t.addressOf(3));
      // A good frame first: it is answered before the bad count closes the connection.
      raw.send(fragments({ id: "VM_GET_VMID" }, 9));
      raw.write(le32(count));
      await raw.closed;
      expect(raw.messages).toHaveLength(1);
      expect(t.ep.stats.framingErrors).toBe(1);
      expect(
        t.lines.some((l) =>
          l.includes(
            `framing error: frame byte count ${count} is not in 1..240; closing the connection`,
          ),
        ),
      ).toBe(true);
      expect(await host.run(getVmid())).toEqual({ ok: true, value: 3 });
    },
  );

  it("forgets the partial message of a connection that dies mid-fragment, and nothing else", async () => {
    t = await startEndpoint();
    const host = await t.client();
    expect(await host.run(vmAllocVmid())).toEqual({ ok: true, value: 0x80 });
    const before = t.ep.rm.digest();
    const lend = fragments(
      {
        id: "MEM_LEND",
        memType: 0,
        flags: 0,
        label: 1,
        acl: [{ vmid: 0x80, rights: 7 }],
        sgl: pages(HOST_RAM, 512),
        attrs: [],
      },
      1,
    );
    expect(lend.length).toBe(36);
    // Another host connection sends 20 of the 36 fragments and half of the 21st, then dies.
    const raw = await rawConnect(t.addressOf(3));
    raw.send(lend.slice(0, 20));
    const half = new Uint8Array(4 + 100);
    half.set(le32(lend[20]!.length));
    half.set(lend[20]!.subarray(0, 100), 4);
    raw.write(half);
    await until("the fragments to arrive", () => t!.ep.stats.connections === 2);
    raw.socket.destroy();
    await raw.closed;
    // The rest of its message on a new connection does not complete it: reassembly is per link.
    const raw2 = await rawConnect(t.addressOf(3));
    raw2.send(lend.slice(20));
    raw2.send(fragments({ id: "VM_GET_VMID" }, 2));
    await raw2.waitFor(1);
    expect(raw2.messages).toHaveLength(1);
    expect(t.ep.rm.digest()).toBe(before);
    // The first connection was never disturbed; the same lend on it succeeds.
    expect(
      await host.run(
        memLend({
          memType: 0,
          label: 1,
          acl: [{ vmid: 0x80, rights: 7 }],
          mem: pages(HOST_RAM, 512),
        }),
      ),
    ).toEqual({ ok: true, value: 0 });
    expect(t.ep.stats.internalErrors).toBe(0);
  });

  it("a guest that interleaves fragments with the host's changes nothing of the host's", async () => {
    t = await startEndpoint();
    const host = await t.client();
    expect(await host.run(vmAllocVmid())).toEqual({ ok: true, value: 0x80 });
    const guest = await rawConnect(t.addressOf(0x80));
    const create = fragments(
      {
        id: "MEM_LEND",
        memType: 0,
        flags: 0,
        label: 1,
        acl: [{ vmid: 0x80, rights: 7 }],
        sgl: pages(HOST_RAM, 100),
        attrs: [],
      },
      4,
    );
    // The guest sends the same host lend: it is the guest's request, of memory the guest does
    // not own, so the RM refuses it, whatever the interleaving.
    const hostCall = host.run(
      memLend({
        memType: 0,
        label: 1,
        acl: [{ vmid: 0x80, rights: 7 }],
        mem: pages(HOST_RAM, 100),
      }),
    );
    guest.send(create);
    expect(await hostCall).toEqual({ ok: true, value: 0 });
    await guest.waitFor(1);
    expect(t.ep.rm.parcels.list().map((p) => p.owner)).toEqual([3]);
  });
});
