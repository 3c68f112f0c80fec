/**
 * VM_DEALLOCATE's loose ends: memory donated to the VM goes back to its owner (mapped one to
 * one again in the host), VM_STATUS NO_STATE is announced, and a refused deallocation changes
 * nothing.
 */
import { expect, it } from "vitest";

import { VM_STATE } from "../hyp/vm.js";
import { createGunyahMachine } from "../platform.js";
import { ACCEPT_FLAGS, RIGHTS, TRANS_TYPE } from "./types.js";

const M = 1024 * 1024;

it("memory donated to a VM returns to the host at deallocate, mapped at IPA = PA", () => {
  const { rm, hyp } = createGunyahMachine();
  const vmid = rm.vms.allocate(3, 0);
  expect(vmid).toEqual({ err: "OK", value: 0x80 });
  hyp.host.vcpus[0]!.write(0x8020_0000, new Uint8Array([9, 8, 7]));
  const h = rm.parcels.create(3, TRANS_TYPE.DONATE, {
    memType: 0,
    flags: 0,
    label: 1,
    acl: [{ vmid: 0x80, rights: RIGHTS.RWX }],
    sgl: [{ ipa: 0x8020_0000, size: 2 * M }],
    attrs: [],
  });
  expect(h.err).toBe("OK");
  const acc = rm.parcels.accept(0x80, {
    handle: 0,
    memType: 0,
    transType: TRANS_TYPE.DONATE,
    flags: ACCEPT_FLAGS.DONE,
    label: 0,
    acl: [],
    sgl: [],
    attrs: [],
    mapVmid: 0,
  });
  expect(acc.err).toBe("OK");
  expect(hyp.ownership.ownerOf(0x8020_0000, 0x8040_0000)).toBe(0x80);
  expect(() => hyp.host.vcpus[0]!.read(0x8020_0000, 3)).toThrow();
  // The VM owns the donated memory now: DEALLOCATE from LOAD gives it back.
  rm.drain(3);
  const before = rm.digest();
  expect(rm.vms.deallocate(0x81, 0x80).err).toBe("DENIED"); // not its owner
  expect(rm.digest()).toBe(before);
  expect(rm.vms.deallocate(3, 0x80).err).toBe("OK");
  expect(hyp.vm(0x80)).toBeUndefined();
  expect(hyp.ownership.ownerOf(0x8020_0000, 0x8040_0000)).toBe(3);
  expect([...hyp.host.vcpus[0]!.read(0x8020_0000, 3)]).toEqual([9, 8, 7]);
  expect(rm.drain(3)).toEqual([
    {
      kind: "VM_STATUS",
      to: 3,
      vmid: 0x80,
      vmStatus: VM_STATE.NO_STATE,
      osStatus: 0,
      appStatus: 0,
    },
  ]);
});
