import { expect, it } from "vitest";
import { createGunyahMachine } from "../platform.js";
import { RmHub } from "../rm/hub.js";
import { InProcessRmClient } from "./in-process.js";
import { memAccept, memLend, memReclaim, memRelease, vmAllocVmid } from "./linux.js";

it("lends 1000 entries with appends, accepts in chunks, reclaims", () => {
  const { rm } = createGunyahMachine();
  const hub = new RmHub(rm);
  const host = new InProcessRmClient(hub, 3);
  const vm = host.run(vmAllocVmid());
  expect(vm).toEqual({ ok: true, value: 0x80 });
  const guest = new InProcessRmClient(hub, 0x80);
  const mem = Array.from({ length: 1000 }, (_, i) => ({
    ipa: 0x8000_0000 + i * 0x2000,
    size: 0x1000,
  }));
  const h = host.run(memLend({ memType: 0, label: 5, acl: [{ vmid: 0x80, rights: 7 }], mem }));
  expect(h).toEqual({ ok: true, value: 0 });
  const a1 = guest.run(
    memAccept({
      handle: 0,
      memType: 0,
      transType: 1,
      flags: 0,
      label: 0,
      acl: [],
      sgl: [],
      mapVmid: 0,
      attrs: [],
    }),
  );
  expect(a1.ok && a1.value?.flags).toBe(1);
  const a2 = guest.run(
    memAccept({
      handle: 0,
      memType: 0,
      transType: 1,
      flags: 128,
      label: 0,
      acl: [],
      sgl: [],
      mapVmid: 0,
      attrs: [],
    }),
  );
  expect(a2.ok && a2.value?.sgl.length).toBe(488);
  expect(host.run(memReclaim(0))).toMatchObject({
    ok: false,
    err: "MEM_INUSE",
    errno: { name: "EINVAL" },
  });
  expect(guest.run(memRelease(0))).toEqual({ ok: true, value: undefined });
  expect(host.run(memReclaim(0))).toEqual({ ok: true, value: undefined });
  expect(host.notifications.map((n) => n.id)).toEqual(["VM_STATUS"]);
});
