/**
 * Validation tables for the VM RPCs (reference §1, §8): every check and error code of each,
 * and which comes first when two fail. Refusals leave the digest unchanged and post nothing;
 * VM_CONFIG_IMAGE's own failures move the VM to INIT_FAILED (the reference's "failure ->
 * INIT_FAILED") and are checked apart.
 */
import { describe, expect, it } from "vitest";
import { VM_STATE } from "../hyp/vm.js";
import type { ConfigImageArgs } from "./vm-mgnt.js";
import { AUTH, STOP_FLAGS } from "./vm-mgnt.js";
import type { Machine, Row } from "./rm.testutil.js";
import {
  acceptDone,
  acl,
  create,
  G1,
  G2,
  HOST,
  lendTo,
  machine,
  ok,
  pages,
  PAGE,
  readyGuest,
  runRow,
  runningGuest,
  vm,
  withGuests,
} from "./rm.testutil.js";
import { RIGHTS, TRANS_TYPE } from "./types.js";

const image = (h: number, over: Partial<ConfigImageArgs> = {}): ConfigImageArgs => ({
  vmid: G1,
  auth: AUTH.NONE,
  handle: h,
  imageOffset: 0,
  imageSize: PAGE,
  dtbOffset: PAGE,
  dtbSize: PAGE,
  ...over,
});
/** G1 in a state, and a handle that matters there (its image parcel, or 2 pages lent to it). */
const S = {
  load: (m: Machine) => lendTo(m, G1, pages(0, 2)),
  auth: (m: Machine) => {
    const h = lendTo(m, G1, pages(0, 2));
    ok(m.rm.vms.configImage(HOST, image(h, { auth: AUTH.PLATFORM })));
    return h;
  },
  init: (m: Machine) => {
    const h = lendTo(m, G1, pages(0, 2));
    ok(m.rm.vms.configImage(HOST, image(h)));
    return h;
  },
  ready: (m: Machine) => readyGuest(m, G1, 0, 2),
  running: (m: Machine) => runningGuest(m, G1, 0, 2),
  exited: (m: Machine) => {
    const h = runningGuest(m, G1, 0, 2);
    ok(m.rm.vms.stop(HOST, G1, STOP_FLAGS.FORCE, 0));
    return h;
  },
  initFailed: (m: Machine) => {
    const h = lendTo(m, G1, pages(0, 2));
    expect(m.rm.vms.configImage(HOST, image(h + 1)).err).toBe("MEM_INVALID");
    return h;
  },
  reset: (m: Machine) => {
    const h = S.exited(m);
    ok(m.rm.vms.reset(HOST, G1));
    return h;
  },
};
const row = (name: string, err: Row["err"], setup: Row["setup"], call: Row["call"]): Row => ({
  name,
  err,
  setup,
  call,
});

describe("VM RPC validation (reference §8)", () => {
  const rows: Row[] = [
    // VM_ALLOCATE
    row("ALLOCATE control: a chosen VMID", "OK", undefined, (m) => m.rm.vms.allocate(HOST, 0x90)),
    row("ALLOCATE by a guest", "DENIED", undefined, (m) => m.rm.vms.allocate(G1, 0)),
    row("ALLOCATE by a guest AND a VMID in use: the caller first", "DENIED", undefined, (m) =>
      m.rm.vms.allocate(G1, G2),
    ),
    row("ALLOCATE VMID 0x7F", "VMID_INVALID", undefined, (m) => m.rm.vms.allocate(HOST, 0x7f)),
    row("ALLOCATE VMID 0xBF", "VMID_INVALID", undefined, (m) => m.rm.vms.allocate(HOST, 0xbf)),
    row("ALLOCATE the host's VMID", "VMID_INVALID", undefined, (m) =>
      m.rm.vms.allocate(HOST, HOST),
    ),
    row("ALLOCATE a VMID in use", "IN_USE", undefined, (m) => m.rm.vms.allocate(HOST, G1)),
    // VM_DEALLOCATE
    row("DEALLOCATE control (LOAD)", "OK", undefined, (m) => m.rm.vms.deallocate(HOST, G1)),
    row("DEALLOCATE control (RESET)", "OK", S.reset, (m) => m.rm.vms.deallocate(HOST, G1)),
    row("DEALLOCATE an unknown VMID", "VMID_INVALID", undefined, (m) =>
      m.rm.vms.deallocate(HOST, 0x90),
    ),
    row("DEALLOCATE by another than the owner", "DENIED", undefined, (m) =>
      m.rm.vms.deallocate(G2, G1),
    ),
    row("DEALLOCATE the host", "DENIED", undefined, (m) => m.rm.vms.deallocate(HOST, HOST)),
    row("DEALLOCATE by another AND in a wrong state: the owner first", "DENIED", S.running, (m) =>
      m.rm.vms.deallocate(G2, G1),
    ),
    ...(["auth", "init", "ready", "running", "exited", "initFailed"] as const).map((s) =>
      row(`DEALLOCATE in ${s}`, "VM_STATE", S[s], (m) => m.rm.vms.deallocate(HOST, G1)),
    ),
    row(
      "DEALLOCATE a VM that owns a parcel (project decision)",
      "IN_USE",
      (m) => {
        const got = acceptDone(
          m,
          G1,
          create(m, TRANS_TYPE.DONATE, { acl: acl([G1, RIGHTS.RWX]), sgl: pages(9) }),
        );
        ok(
          m.rm.parcels.create(G1, TRANS_TYPE.LEND, {
            memType: 0,
            flags: 0,
            label: 0,
            acl: acl([G2, RIGHTS.RWX]),
            sgl: got,
            attrs: [],
          }),
        );
      },
      (m) => m.rm.vms.deallocate(HOST, G1),
    ),
    // VM_CONFIG_IMAGE (refusals that leave the VM as it is)
    row("CONFIG_IMAGE control", "OK", S.load, (m, h) => m.rm.vms.configImage(HOST, image(h))),
    row(
      "CONFIG_IMAGE control (RESET)",
      "OK",
      (m) => {
        S.reset(m);
        return lendTo(m, G1, pages(4, 2));
      },
      (m, h) => m.rm.vms.configImage(HOST, image(h)),
    ),
    row("CONFIG_IMAGE of an unknown VMID", "VMID_INVALID", S.load, (m, h) =>
      m.rm.vms.configImage(HOST, image(h, { vmid: 0x90 })),
    ),
    row("CONFIG_IMAGE by a guest", "DENIED", S.load, (m, h) => m.rm.vms.configImage(G2, image(h))),
    row("CONFIG_IMAGE by a guest AND a bad handle: the caller first", "DENIED", S.load, (m, h) =>
      m.rm.vms.configImage(G2, image(h + 1)),
    ),
    ...(["auth", "init", "ready", "running", "exited", "initFailed"] as const).map((s) =>
      row(`CONFIG_IMAGE in ${s}`, "VM_STATE", S[s], (m, h) => m.rm.vms.configImage(HOST, image(h))),
    ),
    row(
      "CONFIG_IMAGE in a wrong state AND a bad handle: the state first",
      "VM_STATE",
      S.ready,
      (m, h) => m.rm.vms.configImage(HOST, image(h + 1)),
    ),
    // VM_AUTH_IMAGE, VM_INIT
    row("AUTH_IMAGE control", "OK", S.auth, (m) => m.rm.vms.authImage(HOST, G1)),
    row("AUTH_IMAGE of an unknown VMID", "VMID_INVALID", S.auth, (m) =>
      m.rm.vms.authImage(HOST, 0x90),
    ),
    row("AUTH_IMAGE by another than the owner", "DENIED", S.auth, (m) =>
      m.rm.vms.authImage(G2, G1),
    ),
    ...(["load", "init", "ready"] as const).map((s) =>
      row(`AUTH_IMAGE in ${s}`, "VM_STATE", S[s], (m) => m.rm.vms.authImage(HOST, G1)),
    ),
    row("INIT control", "OK", S.init, (m) => m.rm.vms.init(HOST, G1)),
    row("INIT of an unknown VMID", "VMID_INVALID", S.init, (m) => m.rm.vms.init(HOST, 0x90)),
    row("INIT by another than the owner", "DENIED", S.init, (m) => m.rm.vms.init(G2, G1)),
    row("INIT by another AND in a wrong state: the owner first", "DENIED", S.load, (m) =>
      m.rm.vms.init(G2, G1),
    ),
    ...(["load", "auth", "ready", "running"] as const).map((s) =>
      row(`INIT in ${s}`, "VM_STATE", S[s], (m) => m.rm.vms.init(HOST, G1)),
    ),
    // VM_SET_FIRMWARE_MEM
    row("SET_FIRMWARE_MEM control", "OK", S.init, (m, h) =>
      m.rm.vms.setFirmwareMem(HOST, G1, h, 0, PAGE),
    ),
    row("SET_FIRMWARE_MEM of an unknown VMID", "VMID_INVALID", S.init, (m, h) =>
      m.rm.vms.setFirmwareMem(HOST, 0x90, h, 0, PAGE),
    ),
    row("SET_FIRMWARE_MEM by another than the owner", "DENIED", S.init, (m, h) =>
      m.rm.vms.setFirmwareMem(G2, G1, h, 0, PAGE),
    ),
    ...(["load", "auth", "ready"] as const).map((s) =>
      row(`SET_FIRMWARE_MEM in ${s}`, "VM_STATE", S[s], (m, h) =>
        m.rm.vms.setFirmwareMem(HOST, G1, h, 0, PAGE),
      ),
    ),
    row(
      "SET_FIRMWARE_MEM in a wrong state AND a bad handle: the state first",
      "VM_STATE",
      S.ready,
      (m, h) => m.rm.vms.setFirmwareMem(HOST, G1, h + 1, 0, PAGE),
    ),
    row("SET_FIRMWARE_MEM of an unknown handle", "MEM_INVALID", S.init, (m, h) =>
      m.rm.vms.setFirmwareMem(HOST, G1, h + 1, 0, PAGE),
    ),
    row(
      "SET_FIRMWARE_MEM of a parcel not for the VM",
      "MEM_INVALID",
      (m) => {
        S.init(m);
        return lendTo(m, G2, pages(8));
      },
      (m, h) => m.rm.vms.setFirmwareMem(HOST, G1, h, 0, PAGE),
    ),
    row("SET_FIRMWARE_MEM beyond the parcel", "ARGUMENT_INVALID", S.init, (m, h) =>
      m.rm.vms.setFirmwareMem(HOST, G1, h, PAGE, 2 * PAGE),
    ),
    row("SET_FIRMWARE_MEM of size 0", "ARGUMENT_INVALID", S.init, (m, h) =>
      m.rm.vms.setFirmwareMem(HOST, G1, h, 0, 0),
    ),
    row(
      "SET_FIRMWARE_MEM bad handle AND bad range: the handle first",
      "MEM_INVALID",
      S.init,
      (m, h) => m.rm.vms.setFirmwareMem(HOST, G1, h + 1, 0, 0),
    ),
    // VM_START
    row("START control", "OK", S.ready, (m) => m.rm.vms.start(HOST, G1)),
    row("START of an unknown VMID", "VMID_INVALID", S.ready, (m) => m.rm.vms.start(HOST, 0x90)),
    row("START by another than the owner", "DENIED", S.ready, (m) => m.rm.vms.start(G2, G1)),
    ...(["load", "auth", "init", "running", "exited", "initFailed", "reset"] as const).map((s) =>
      row(`START in ${s}`, "VM_STATE", S[s], (m) => m.rm.vms.start(HOST, G1)),
    ),
    // VM_STOP
    row("STOP control (forced)", "OK", S.running, (m) =>
      m.rm.vms.stop(HOST, G1, STOP_FLAGS.FORCE, 0),
    ),
    row("STOP of an unknown VMID", "VMID_INVALID", S.running, (m) =>
      m.rm.vms.stop(HOST, 0x90, 0, 0),
    ),
    row("STOP by another than the owner: VMID_INVALID", "VMID_INVALID", S.running, (m) =>
      m.rm.vms.stop(G2, G1, 0, 0),
    ),
    row("STOP by another AND in a wrong state: the owner first", "VMID_INVALID", S.ready, (m) =>
      m.rm.vms.stop(G2, G1, 0, 0),
    ),
    ...(["load", "ready", "exited", "reset"] as const).map((s) =>
      row(`STOP in ${s}`, "VM_STATE", S[s], (m) => m.rm.vms.stop(HOST, G1, STOP_FLAGS.FORCE, 0)),
    ),
    // VM_EXIT
    row("EXIT control", "OK", S.running, (m) => m.rm.vms.exit(G1, 0, 0)),
    row("EXIT by the host", "DENIED", undefined, (m) => m.rm.vms.exit(HOST, 0, 0)),
    row("EXIT by no VM", "DENIED", undefined, (m) => m.rm.vms.exit(0x90, 0, 0)),
    ...(["load", "ready", "exited"] as const).map((s) =>
      row(`EXIT in ${s}`, "VM_STATE", S[s], (m) => m.rm.vms.exit(G1, 0, 0)),
    ),
    // VM_RESET
    ...(["ready", "exited", "initFailed"] as const).map((s) =>
      row(`RESET control (${s})`, "OK", S[s], (m) => m.rm.vms.reset(HOST, G1)),
    ),
    row("RESET of an unknown VMID", "VMID_INVALID", S.exited, (m) => m.rm.vms.reset(HOST, 0x90)),
    row("RESET by another than the owner", "DENIED", S.exited, (m) => m.rm.vms.reset(G2, G1)),
    row("RESET by another AND in a wrong state: the owner first", "DENIED", S.running, (m) =>
      m.rm.vms.reset(G2, G1),
    ),
    ...(["load", "auth", "init", "running", "reset"] as const).map((s) =>
      row(`RESET in ${s}`, "VM_STATE", S[s], (m) => m.rm.vms.reset(HOST, G1)),
    ),
    // VM_GET_STATE, VM_GET_HYP_RESOURCES
    row("GET_STATE control: the owner", "OK", undefined, (m) => m.rm.vms.getState(HOST, G1)),
    row("GET_STATE control: self (0)", "OK", undefined, (m) => m.rm.vms.getState(G1, 0)),
    row("GET_STATE of an unknown VMID", "VMID_INVALID", undefined, (m) =>
      m.rm.vms.getState(HOST, 0x90),
    ),
    row("GET_STATE of another's VM", "VMID_INVALID", undefined, (m) => m.rm.vms.getState(G2, G1)),
    row("GET_STATE self by no VM", "VMID_INVALID", undefined, (m) => m.rm.vms.getState(0x90, 0)),
    row("GET_HYP_RESOURCES control", "OK", undefined, (m) => m.rm.vms.hypResources(HOST, G1)),
    row("GET_HYP_RESOURCES of an unknown VMID", "VMID_INVALID", undefined, (m) =>
      m.rm.vms.hypResources(HOST, 0x90),
    ),
    row("GET_HYP_RESOURCES of another's VM", "VMID_INVALID", undefined, (m) =>
      m.rm.vms.hypResources(G2, G1),
    ),
  ];
  it.each(rows)("$name: $err", runRow);
});

describe("CONFIG_IMAGE failures: INIT_FAILED, announced, the error answered", () => {
  const cases: Array<{
    name: string;
    err: string;
    args: (h: number) => ConfigImageArgs;
    from?: "reset";
  }> = [
    { name: "auth 3", err: "ARGUMENT_INVALID", args: (h) => image(h, { auth: 3 }) },
    { name: "an unknown handle", err: "MEM_INVALID", args: (h) => image(h + 100) },
    { name: "a parcel whose ACL lacks the VM", err: "MEM_INVALID", args: (h) => image(h + 1) },
    {
      name: "an image beyond the parcel",
      err: "ARGUMENT_INVALID",
      args: (h) => image(h, { imageOffset: PAGE, imageSize: 2 * PAGE }),
    },
    {
      name: "a DTB beyond the parcel",
      err: "ARGUMENT_INVALID",
      args: (h) => image(h, { dtbOffset: 2 * PAGE, dtbSize: 1 }),
    },
    {
      name: "a negative offset",
      err: "ARGUMENT_INVALID",
      args: (h) => image(h, { imageOffset: -PAGE }),
    },
    {
      name: "bad auth AND a bad handle: auth first",
      err: "ARGUMENT_INVALID",
      args: (h) => image(h + 100, { auth: 7 }),
    },
    {
      name: "a bad handle AND a bad range: the handle first",
      err: "MEM_INVALID",
      args: (h) => image(h + 100, { imageSize: 100 * PAGE }),
    },
    {
      name: "an unknown handle, from RESET",
      err: "MEM_INVALID",
      args: (h) => image(h + 100),
      from: "reset",
    },
  ];
  it.each(cases)("$name: $err", ({ err, args, from }) => {
    const m = machine();
    withGuests(m, 2);
    if (from === "reset") S.reset(m);
    const h = lendTo(m, G1, pages(20, 2));
    lendTo(m, G2, pages(30)); // h + 1: a parcel for another VM
    m.take();
    const before = m.rm.parcels.list().length;
    expect(m.rm.vms.configImage(HOST, args(h)).err).toBe(err);
    expect(vm(m, G1).state).toBe(VM_STATE.INIT_FAILED);
    expect(vm(m, G1).image).toBeUndefined();
    expect(m.take()).toEqual([
      {
        kind: "VM_STATUS",
        to: HOST,
        vmid: G1,
        vmStatus: VM_STATE.INIT_FAILED,
        osStatus: 0,
        appStatus: 0,
      },
    ]);
    expect(m.rm.parcels.list().length).toBe(before);
  });
});
