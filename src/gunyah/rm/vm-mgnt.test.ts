/**
 * The VM state machine (reference §8): the transition table, each RPC's moves with their
 * VM_STATUS notifications, VM_START's own accepts, VM_STOP / VM_EXIT, GET_STATE,
 * GET_HYP_RESOURCES, deallocation and dynamic VMIDs.
 */
import { describe, expect, it } from "vitest";
import { RM_IPA_WINDOW } from "../hyp/ipa-space.js";
import { VM_STATE, VMID_DYNAMIC_FIRST, VMID_DYNAMIC_LAST } from "../hyp/vm.js";
import type { Machine } from "./rm.testutil.js";
import {
  access,
  acl,
  create,
  G1,
  G2,
  HOST,
  lendTo,
  machine,
  ok,
  PAGE,
  pages,
  paOf,
  RAM,
  readyGuest,
  runningGuest,
  SIZE_2M,
  vm,
  withGuests,
} from "./rm.testutil.js";
import type { RmNotice } from "./types.js";
import { MEM_TYPE, RIGHTS, TRANS_TYPE } from "./types.js";
import {
  AUTH,
  EXIT_TYPE,
  OS_STATUS,
  RESOURCE_TYPE,
  STOP_FLAGS,
  STOP_REASON,
  transitionAllowed,
} from "./vm-mgnt.js";

const S = VM_STATE;
const { LEND, SHARE, DONATE } = TRANS_TYPE;
const { RW, RWX } = RIGHTS;
const MEM_BASE = 0x8000_0000;

/** The reference's table, written out again: target <- the states it may come from. */
const REFERENCE: Record<number, number[]> = {
  [S.LOAD]: [S.NO_STATE],
  [S.AUTH]: [S.LOAD, S.RESET],
  [S.INIT]: [S.LOAD, S.AUTH, S.RESET],
  [S.READY]: [S.INIT],
  [S.RUNNING]: [S.READY, S.PAUSED],
  [S.PAUSED]: [S.RUNNING],
  [S.INIT_FAILED]: [S.INIT, S.READY, S.LOAD, S.AUTH, S.RESET],
  [S.EXITED]: [S.RUNNING, S.PAUSED],
  [S.RESETTING]: [S.EXITED, S.READY, S.INIT_FAILED],
  [S.RESET]: [S.RESETTING],
  [S.NO_STATE]: [S.RESET],
};

/** Every VM_STATUS to the owner must be an allowed move from the last state seen. */
function watchTransitions(m: Machine): Array<[number, number]> {
  const seen: Array<[number, number]> = [];
  const last = new Map<number, number>();
  m.rm.onNotice((n) => {
    if (n.kind !== "VM_STATUS" || n.to !== HOST) return;
    const from = last.get(n.vmid) ?? S.NO_STATE;
    expect(transitionAllowed(from, n.vmStatus), `${from} -> ${n.vmStatus}`).toBe(true);
    seen.push([from, n.vmStatus]);
    last.set(n.vmid, n.vmStatus);
  });
  return seen;
}
const status = (to: number, vmid: number, vmStatus: number, osStatus = 0): RmNotice => ({
  kind: "VM_STATUS",
  to,
  vmid,
  vmStatus,
  osStatus,
  appStatus: 0,
});
const config = (m: Machine, handle: number, auth: number = AUTH.NONE, vmid = G1) =>
  m.rm.vms.configImage(HOST, {
    vmid,
    auth,
    handle,
    imageOffset: 0,
    imageSize: PAGE,
    dtbOffset: 0,
    dtbSize: PAGE,
  });

describe("the transition table", () => {
  it("allows exactly the reference's transitions", () => {
    const states = Object.values(S);
    for (const from of states)
      for (const to of states)
        expect(transitionAllowed(from, to), `${from} -> ${to}`).toBe(REFERENCE[to]!.includes(from));
  });
});

describe("the RPCs move the VM along the table and say so", () => {
  it("LOAD -> INIT -> READY -> RUNNING -> EXITED -> RESETTING -> RESET -> AUTH -> INIT", () => {
    const m = machine();
    const moves = watchTransitions(m);
    expect(ok(m.rm.vms.allocate(HOST, 0))).toBe(G1);
    expect(m.take()).toEqual([status(HOST, G1, S.LOAD)]);
    const h = lendTo(m, G1, pages(0));
    ok(config(m, h, AUTH.ANDROID));
    expect(m.take()).toEqual([status(HOST, G1, S.INIT)]);
    ok(m.rm.vms.init(HOST, G1));
    expect(m.take()).toEqual([status(HOST, G1, S.READY)]);
    ok(m.rm.vms.start(HOST, G1));
    // Running: the VM hears of its own state too.
    expect(m.take()).toEqual([
      status(HOST, G1, S.RUNNING, OS_STATUS.BOOT),
      status(G1, G1, S.RUNNING, OS_STATUS.BOOT),
    ]);
    ok(m.rm.vms.stop(HOST, G1, STOP_FLAGS.FORCE, STOP_REASON.CRASH));
    expect(m.take()).toEqual([
      status(HOST, G1, S.EXITED, OS_STATUS.HALTED),
      {
        kind: "VM_EXITED",
        to: HOST,
        vmid: G1,
        exitType: EXIT_TYPE.VM_STOP_FORCED,
        reason: [STOP_REASON.CRASH],
      },
    ]);
    ok(m.rm.vms.reset(HOST, G1));
    expect(m.take()).toEqual([
      status(HOST, G1, S.RESETTING, OS_STATUS.HALTED),
      { kind: "MEM_RELEASED", to: HOST, handle: h, vmid: G1, memInfoTag: 0 },
      status(HOST, G1, S.RESET),
    ]);
    expect(vm(m, G1).image).toBeUndefined();
    ok(config(m, h, AUTH.PLATFORM));
    expect(m.take()).toEqual([status(HOST, G1, S.AUTH)]);
    ok(m.rm.vms.authImage(HOST, G1));
    expect(m.take()).toEqual([status(HOST, G1, S.INIT)]);
    expect(moves).toEqual([
      [S.NO_STATE, S.LOAD],
      [S.LOAD, S.INIT],
      [S.INIT, S.READY],
      [S.READY, S.RUNNING],
      [S.RUNNING, S.EXITED],
      [S.EXITED, S.RESETTING],
      [S.RESETTING, S.RESET],
      [S.RESET, S.AUTH],
      [S.AUTH, S.INIT],
    ]);
  });

  it("RESET from READY and from INIT_FAILED; CONFIG_IMAGE from RESET; DEALLOCATE from RESET", () => {
    const m = machine();
    const moves = watchTransitions(m);
    withGuests(m, 1);
    readyGuest(m, G1, 0);
    ok(m.rm.vms.reset(HOST, G1));
    expect(config(m, 999).err).toBe("MEM_INVALID");
    ok(m.rm.vms.reset(HOST, G1));
    ok(m.rm.vms.deallocate(HOST, G1));
    expect(m.hyp.vm(G1)).toBeUndefined();
    expect(
      m
        .take()
        .filter((n) => n.kind === "VM_STATUS")
        .map((n) => n.kind === "VM_STATUS" && n.vmStatus),
    ).toEqual([S.RESETTING, S.RESET, S.INIT_FAILED, S.RESETTING, S.RESET, S.NO_STATE]);
    expect(moves.map(([, to]) => to)).toEqual([
      S.LOAD,
      S.INIT,
      S.READY,
      S.RESETTING,
      S.RESET,
      S.INIT_FAILED,
      S.RESETTING,
      S.RESET,
      S.NO_STATE, // DEALLOCATE: RESET -> NONE, announced
    ]);
  });

  it("a non-forced STOP asks the guest (VM_SHUTDOWN) and changes no state; VM_EXIT from the guest exits", () => {
    const m = machine();
    withGuests(m, 1);
    runningGuest(m, G1, 0);
    ok(m.rm.vms.stop(HOST, G1, 0, STOP_REASON.RESTART));
    expect(m.take()).toEqual([{ kind: "VM_SHUTDOWN", to: G1, stopReason: STOP_REASON.RESTART }]);
    expect(vm(m, G1).state).toBe(S.RUNNING);
    ok(m.rm.vms.exit(G1, 0x1234, 3));
    expect(m.take()).toEqual([
      status(HOST, G1, S.EXITED, OS_STATUS.HALTED),
      {
        kind: "VM_EXITED",
        to: HOST,
        vmid: G1,
        exitType: EXIT_TYPE.VM_EXIT,
        reason: [0x1234 | (3 << 16)],
      },
    ]);
    expect(m.rm.vms.exit(G1, 0, 0).err).toBe("VM_STATE");
  });
});

describe("VM_START's own accepts", () => {
  it("the image parcel at the memory base, RWX, the guest reading the host's pages", () => {
    const m = machine();
    withGuests(m, 1);
    m.platform.write(RAM + 10 * PAGE, new Uint8Array([0xe1, 0xe2]));
    const h = runningGuest(m, G1, 10, 3);
    const g = vm(m, G1);
    expect([...g.vcpus[0]!.read(MEM_BASE, 2)]).toEqual([0xe1, 0xe2]);
    expect(paOf(g, MEM_BASE + 2 * PAGE)).toBe(RAM + 12 * PAGE);
    expect(access(g, MEM_BASE)).toBe("rwx");
    expect(m.rm.parcels.get(h)!.vmInfo(G1)).toMatchObject({
      shared: true,
      mapped: true,
      ipas: [MEM_BASE],
    });
    expect(g.ipaSpace.list()).toEqual([{ start: MEM_BASE, end: MEM_BASE + 3 * PAGE }]);
  });

  const badImages: Array<{ name: string; make: (m: Machine) => number }> = [
    {
      name: "a SHARE",
      make: (m) => create(m, SHARE, { acl: acl([HOST, RWX], [G1, RWX]), sgl: pages(0) }),
    },
    { name: "a LEND with RW", make: (m) => lendTo(m, G1, pages(0), RW) },
    {
      name: "a LEND to two VMs",
      make: (m) => create(m, LEND, { acl: acl([G1, RWX], [G2, RWX]), sgl: pages(0) }),
    },
    { name: "a DONATE", make: (m) => create(m, DONATE, { acl: acl([G1, RWX]), sgl: pages(0) }) },
    { name: "a parcel reclaimed after CONFIG_IMAGE", make: (m) => lendTo(m, G1, pages(0)) },
  ];
  it.each(badImages)(
    "an image that is $name: INIT_FAILED, NORESOURCE, nothing left accepted",
    ({ name, make }) => {
      const m = machine();
      withGuests(m, 2);
      const h = make(m);
      const priv = lendTo(m, G1, pages(5)); // a private parcel: must not stay accepted either
      ok(config(m, h));
      ok(m.rm.vms.init(HOST, G1));
      if (name.includes("reclaimed")) ok(m.rm.parcels.reclaim(HOST, h, 0));
      m.take();
      expect(m.rm.vms.start(HOST, G1).err).toBe("NORESOURCE");
      expect(vm(m, G1).state).toBe(S.INIT_FAILED);
      expect(m.take()).toEqual([status(HOST, G1, S.INIT_FAILED)]);
      expect(m.rm.parcels.acceptedBy(G1)).toEqual([]);
      expect(m.rm.parcels.get(priv)!.state).toBe("SHARING");
      expect(vm(m, G1).stage2.mappedBytes(0, 2 ** 44)).toBe(0);
      expect(vm(m, G1).ipaSpace.list()).toEqual([]);
    },
  );

  it("private parcels (NORMAL, label 0, the VM alone with RWX) right after the image; others are left alone", () => {
    const m = machine();
    withGuests(m, 2);
    const small = lendTo(m, G1, pages(20));
    const big = lendTo(m, G1, [{ ipa: RAM + 4 * SIZE_2M, size: SIZE_2M }]);
    const labelled = create(m, LEND, { label: 1, acl: acl([G1, RWX]), sgl: pages(30) });
    const rw = lendTo(m, G1, pages(31), RW);
    const two = create(m, LEND, { acl: acl([G1, RWX], [G2, RWX]), sgl: pages(32) });
    const io = create(m, LEND, {
      memType: MEM_TYPE.IO,
      acl: acl([G1, RW]),
      sgl: [{ ipa: 0x1000_0000, size: PAGE }],
    });
    const image = readyGuest(m, G1, 0, 3);
    ok(m.rm.vms.start(HOST, G1));
    const ipas = (h: number) => m.rm.parcels.get(h)!.vmInfo(G1)!.ipas;
    expect(ipas(image)).toEqual([MEM_BASE]);
    expect(ipas(small)).toEqual([MEM_BASE + 3 * PAGE]);
    expect(ipas(big)).toEqual([MEM_BASE + SIZE_2M]); // 2M-aligned
    for (const h of [labelled, rw, two, io])
      expect(m.rm.parcels.get(h)!.vmInfo(G1)!.shared).toBe(false);
    expect(paOf(vm(m, G1), MEM_BASE + SIZE_2M)).toBe(RAM + 4 * SIZE_2M);
  });

  it("the firmware parcel, where the RM picks", () => {
    const m = machine();
    withGuests(m, 1);
    const fw = create(m, LEND, { label: 5, acl: acl([G1, RWX]), sgl: pages(40, 2) });
    const image = lendTo(m, G1, pages(0));
    ok(config(m, image));
    ok(m.rm.vms.setFirmwareMem(HOST, G1, fw, 0, PAGE));
    expect(vm(m, G1).firmware).toEqual({ handle: fw, offset: 0, size: PAGE });
    ok(m.rm.vms.init(HOST, G1));
    ok(m.rm.vms.start(HOST, G1));
    expect(m.rm.parcels.get(fw)!.vmInfo(G1)!.ipas).toEqual([RM_IPA_WINDOW.base]);
    expect(paOf(vm(m, G1), RM_IPA_WINDOW.base + PAGE)).toBe(RAM + 41 * PAGE);
  });

  it("the image is sanitized at reclaim unless auth is NONE", () => {
    for (const [auth, zero] of [
      [AUTH.NONE, false],
      [AUTH.ANDROID, true],
      [AUTH.PLATFORM, true],
    ] as const) {
      const m = machine();
      withGuests(m, 1);
      m.platform.write(RAM, new Uint8Array([0x99]));
      const h = readyGuest(m, G1, 0, 1, auth);
      ok(m.rm.vms.start(HOST, G1));
      ok(m.rm.vms.stop(HOST, G1, STOP_FLAGS.FORCE, 0));
      ok(m.rm.vms.reset(HOST, G1));
      ok(m.rm.parcels.reclaim(HOST, h, 0));
      expect([...m.platform.read(RAM, 1)]).toEqual([zero ? 0 : 0x99]);
    }
  });
});

describe("queries and VMIDs", () => {
  it("GET_STATE: the fields of vm_state | os << 8 | app << 16; vmid 0 is the caller", () => {
    const m = machine();
    withGuests(m, 1);
    runningGuest(m, G1, 0);
    vm(m, G1).appStatus = 0x1234;
    const st = ok(m.rm.vms.getState(HOST, G1));
    expect(st).toEqual({ vmState: S.RUNNING, osStatus: OS_STATUS.BOOT, appStatus: 0x1234 });
    expect(st.vmState | (st.osStatus << 8) | (st.appStatus << 16)).toBe(0x1234_0203);
    expect(ok(m.rm.vms.getState(G1, 0))).toEqual(st);
    expect(ok(m.rm.vms.getState(HOST, 0))).toEqual({
      vmState: S.RUNNING,
      osStatus: 0,
      appStatus: 0,
    });
  });

  it("GET_HYP_RESOURCES: one VCPU entry per vCPU, the message queue pair", () => {
    const m = machine({ vcpus: 2 });
    withGuests(m, 1);
    const r = ok(m.rm.vms.hypResources(HOST, G1));
    expect(r.map((e) => e.type)).toEqual([
      RESOURCE_TYPE.VCPU,
      RESOURCE_TYPE.VCPU,
      RESOURCE_TYPE.MSGQ_TX,
      RESOURCE_TYPE.MSGQ_RX,
    ]);
    expect(r.slice(0, 2).map((e) => [e.partnerVmid, e.label])).toEqual([
      [G1, 0],
      [G1, 1],
    ]);
    expect(new Set(r.map((e) => e.capId)).size).toBe(4);
    expect(ok(m.rm.vms.hypResources(G1, 0))).toEqual(r);
    expect(vm(m, G1).vcpus.map((c) => c.name)).toEqual(["vm128.vcpu0", "vm128.vcpu1"]);
  });

  it("63 dynamic VMIDs 0x80..0xBE, then NORESOURCE; a deallocated VMID is free again", () => {
    const m = machine();
    const got = Array.from({ length: 63 }, () => ok(m.rm.vms.allocate(HOST, 0)));
    expect(got).toEqual(Array.from({ length: 63 }, (_, i) => VMID_DYNAMIC_FIRST + i));
    expect(got.at(-1)).toBe(VMID_DYNAMIC_LAST);
    m.take();
    const d = m.rm.digest();
    expect(m.rm.vms.allocate(HOST, 0).err).toBe("NORESOURCE");
    expect(m.rm.digest()).toBe(d);
    expect(m.take()).toEqual([]);
    ok(m.rm.vms.deallocate(HOST, 0x90));
    expect(m.platform.devices().some((x) => x.name === "vm144.vcpu0")).toBe(false);
    expect(ok(m.rm.vms.allocate(HOST, 0))).toBe(0x90);
    expect(m.rm.vms.allocate(HOST, 0).err).toBe("NORESOURCE");
  });

  it("DEALLOCATE gives back what it held; the VM's stage 2 goes", () => {
    const m = machine();
    withGuests(m, 1);
    const tables = m.hyp.tables.liveTables;
    expect(ok(m.rm.vms.allocate(HOST, 0x99))).toBe(0x99);
    expect(m.hyp.tables.liveTables).toBeGreaterThan(tables);
    ok(m.rm.vms.deallocate(HOST, 0x99));
    expect(m.hyp.tables.liveTables).toBe(tables);
    expect(m.rm.vms.getState(HOST, 0x99).err).toBe("VMID_INVALID");
  });
});
