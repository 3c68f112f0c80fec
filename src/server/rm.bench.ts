/**
 * The RM's round-trip benchmarks:
 *
 * - in-process: {@link InProcessRmClient} against an {@link RmHub} — a VM_GET_STATE with a
 *   fresh random VMID per operation (one of 8 guests, or 0 for self), encoded, fragmented,
 *   reassembled, dispatched, answered, and decoded both ways;
 * - over the Unix socket, 8 VM connections in parallel (the host and guests 0x80..0x86): the
 *   server in a process of its own (`rm-child.bench.ts`), the clients in a worker thread; one
 *   operation is one checked RPC (cheap queries: VM_GET_VMID, VM_GET_STATE, a guest's refused
 *   VM_ALLOCATE and VM_EXIT). The target, 30,000 RPC/s, is 33,333 ns per RPC.
 */
import { benchCase } from "../../bench/harness.js";
import { InProcessRmClient } from "../gunyah/client/in-process.js";
import { createGunyahMachine } from "../gunyah/platform.js";
import { RmHub } from "../gunyah/rm/hub.js";
import { startLoadWorker } from "./rm-child.bench.js";

benchCase({
  name: "gunyah: in-process RPC round trip (VM_GET_STATE)",
  targetNs: 5_000,
  setup: () => {
    const { rm } = createGunyahMachine();
    for (let i = 0; i < 8; i++) rm.vms.allocate(3, 0);
    const host = new InProcessRmClient(new RmHub(rm), 3);
    let x = 0x2545_f491;
    return () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      const r = x & 15;
      const reply = host.call({ id: "VM_GET_STATE", vmid: r < 8 ? 0x80 + r : 0 });
      if (reply.err !== "OK") throw new Error(`VM_GET_STATE: ${reply.err}`);
      return reply;
    };
  },
});

const PER_CONNECTION = 500;
const VMIDS = [3, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86];

benchCase({
  name: "gunyah: RPC round trips per second over the Unix socket, 8 VM connections in parallel (ns per RPC)",
  targetNs: 1e9 / 30_000,
  ops: PER_CONNECTION * VMIDS.length,
  setup: () => {
    const load = startLoadWorker(VMIDS, "light");
    return () => load.round(PER_CONNECTION);
  },
});
