import { describe, expect, it } from "vitest";
import { expectError } from "../../base/errors.testutil.js";
import { Platform } from "../../devices/platform.js";
import { createGunyahMachine, HOST_MMIO_BASE, HOST_RAM_BASE, HOST_RAM_SIZE } from "../platform.js";
import { exhaust, memTypeAt, readFaults } from "../rm/rm.testutil.js";
import { Hypervisor, OWN_PROT } from "./hypervisor.js";
import { VM_STATE } from "./vm.js";

const P = 4096;
const M2 = 2 * 1024 * 1024;
const RAM = HOST_RAM_BASE;

function guest(hyp: Hypervisor, vmid = 0x80) {
  return hyp.addVm(vmid, `vm${vmid}`, 3, VM_STATE.LOAD, 1, RAM);
}

describe("Hypervisor", () => {
  it("maps the host's RAM one to one, owned by the host, readable and writable by hlos.vcpu0", () => {
    const { hyp, platform } = createGunyahMachine();
    const cpu = hyp.host.vcpus[0]!;
    expect(cpu.name).toBe("hlos.vcpu0");
    for (const ipa of [RAM, RAM + 0x1234_5000, RAM + HOST_RAM_SIZE - P]) {
      expect(hyp.host.stage2.translate(ipa)?.pa).toBe(ipa);
      cpu.write(ipa, new Uint8Array([1, 2, 3]));
      expect([...platform.read(ipa, 3)]).toEqual([1, 2, 3]);
      expect([...cpu.read(ipa, 3)]).toEqual([1, 2, 3]);
    }
    expect(readFaults(hyp.host, RAM + HOST_RAM_SIZE)).toBe(true);
    expect(readFaults(hyp.host, RAM - P)).toBe(true);
    expect(hyp.ownership.ownerOf(RAM, RAM + HOST_RAM_SIZE)).toBe(3);
    expect(hyp.ownership.ownerOf(HOST_MMIO_BASE, HOST_MMIO_BASE + P)).toBe(3);
    expect(memTypeAt(hyp.host, RAM)).toBe("normal-wb");
    expect(memTypeAt(hyp.host, HOST_MMIO_BASE)).toBe("device");
    expect(hyp.host.ipaSpace.overlaps(RAM, P)).toBe(true);
    expect(hyp.memKind(RAM, P)).toBe("ram");
    expect(hyp.memKind(HOST_MMIO_BASE, P)).toBe("io");
    expect(hyp.memKind(RAM - P, 2 * P)).toBeUndefined();
  });

  it("runsOf: undefined over a hole, runs merged where IPA and PA both continue", () => {
    const { hyp } = createGunyahMachine();
    const g = guest(hyp);
    const base = 0x1_0000_0000;
    g.stage2.map(base, RAM, P, OWN_PROT);
    g.stage2.map(base + P, RAM + P, P, OWN_PROT); // continues: one run
    g.stage2.map(base + 2 * P, RAM + 8 * P, 2 * P, OWN_PROT); // jumps in PA: a new run
    g.stage2.map(base + 5 * P, RAM + 20 * P, P, OWN_PROT); // after a hole at base + 4P
    expect(hyp.runsOf(g, base, 4 * P)).toEqual([
      { ipa: base, pa: RAM, size: 2 * P },
      { ipa: base + 2 * P, pa: RAM + 8 * P, size: 2 * P },
    ]);
    expect(hyp.runsOf(g, base + P, 2 * P)).toEqual([
      { ipa: base + P, pa: RAM + P, size: P },
      { ipa: base + 2 * P, pa: RAM + 8 * P, size: P },
    ]);
    expect(hyp.runsOf(g, base, 6 * P)).toBeUndefined();
    expect(hyp.runsOf(g, base + 4 * P, P)).toBeUndefined();
    expect(hyp.runsOf(g, base - P, 2 * P)).toBeUndefined(); // hole at the start
    expect(hyp.runsOf(g, base + 5 * P, 2 * P)).toBeUndefined(); // hole at the end
    // A piece of a large leaf: the host's 1 GiB block.
    expect(hyp.runsOf(hyp.host, RAM + 3 * P, 5 * P)).toEqual([
      { ipa: RAM + 3 * P, pa: RAM + 3 * P, size: 5 * P },
    ]);
    expect(hyp.anyMapped(g, base + 3 * P, 2 * P)).toBe(true);
    expect(hyp.anyMapped(g, base + 4 * P, P)).toBe(false);
  });

  it("mapRuns maps runs back to back, all or nothing", () => {
    const { hyp } = createGunyahMachine();
    const g = guest(hyp);
    const base = 0x1_0000_0000;
    const runs = [
      { ipa: 0, pa: RAM, size: P },
      { ipa: 0, pa: RAM + 4 * P, size: 2 * P },
    ];
    hyp.mapRuns(g, base, runs, OWN_PROT);
    expect(hyp.runsOf(g, base, 3 * P)).toEqual([
      { ipa: base, pa: RAM, size: P },
      { ipa: base + P, pa: RAM + 4 * P, size: 2 * P },
    ]);
    // The second run would overlap what is mapped at base + 8P: the first is taken back.
    g.stage2.map(base + 9 * P, RAM, P, OWN_PROT);
    expectError(
      () =>
        hyp.mapRuns(
          g,
          base + 6 * P,
          [
            { ipa: 0, pa: RAM, size: 2 * P },
            { ipa: 0, pa: RAM, size: 2 * P },
          ],
          OWN_PROT,
        ),
      "EEXIST",
    );
    expect(hyp.anyMapped(g, base + 6 * P, 3 * P)).toBe(false);
    expect(g.stage2.translate(base + 9 * P)?.pa).toBe(RAM);
  });

  it("unmap removes what is mapped in a partly mapped range and leaves the rest", () => {
    const { hyp } = createGunyahMachine();
    const g = guest(hyp);
    const base = 0x1_0000_0000;
    g.stage2.map(base, RAM, P, OWN_PROT);
    g.stage2.map(base + 2 * P, RAM + 2 * P, 2 * P, OWN_PROT);
    g.stage2.map(base + 6 * P, RAM + 6 * P, P, OWN_PROT);
    hyp.unmap(g, base, 4 * P); // holes at base + P and past base + 4P
    expect(hyp.anyMapped(g, base, 6 * P)).toBe(false);
    expect(g.stage2.translate(base + 6 * P)?.pa).toBe(RAM + 6 * P);
    hyp.unmap(g, base, 16 * P);
    expect(hyp.anyMapped(g, 0, 2 ** 44)).toBe(false);
    // Part of a large leaf: the host's block is split and only the part asked for goes.
    hyp.unmap(hyp.host, RAM + M2 - P, 2 * P);
    expect(readFaults(hyp.host, RAM + M2 - P)).toBe(true);
    expect(readFaults(hyp.host, RAM + M2)).toBe(true);
    expect(readFaults(hyp.host, RAM + M2 - 2 * P)).toBe(false);
    expect(readFaults(hyp.host, RAM + M2 + P)).toBe(false);
  });

  it("unmap is all or nothing when a split cannot get a table", () => {
    const { hyp, platform } = createGunyahMachine();
    // Split the first 2M of the host's RAM into pages (the 1G block splits into 2M blocks).
    hyp.unmap(hyp.host, RAM + M2 - P, P);
    hyp.host.stage2.map(RAM + M2 - P, RAM + M2 - P, P, OWN_PROT);
    const giveBack = exhaust(platform.target("hyp-tables"));
    // [last page of the first 2M, first page of the next 2M block): the first piece needs no
    // table, the second needs a split, which fails.
    expectError(() => hyp.unmap(hyp.host, RAM + M2 - P, 2 * P), "ENOMEM");
    expect(hyp.runsOf(hyp.host, RAM, 2 * M2)).toEqual([{ ipa: RAM, pa: RAM, size: 2 * M2 }]);
    // With a hole between the pieces: two operations, the first one is taken back.
    giveBack();
    hyp.unmap(hyp.host, RAM + M2 - P, P);
    const giveBack2 = exhaust(platform.target("hyp-tables"));
    expectError(() => hyp.unmap(hyp.host, RAM + M2 - 2 * P, 3 * P), "ENOMEM");
    expect(hyp.runsOf(hyp.host, RAM, M2 - P)).toEqual([{ ipa: RAM, pa: RAM, size: M2 - P }]);
    expect(hyp.runsOf(hyp.host, RAM + M2, M2)).toEqual([{ ipa: RAM + M2, pa: RAM + M2, size: M2 }]);
    expect(memTypeAt(hyp.host, RAM + M2 - 2 * P)).toBe("normal-wb");
    giveBack2();
    hyp.host.stage2.map(RAM + M2 - P, RAM + M2 - P, P, OWN_PROT);
    hyp.unmap(hyp.host, RAM + M2 - P, 2 * P);
    expect(hyp.anyMapped(hyp.host, RAM + M2 - P, 2 * P)).toBe(false);
  });

  it("zero clears physical memory", () => {
    const { hyp, platform } = createGunyahMachine();
    platform.write(RAM + P, new Uint8Array([9, 9, 9]));
    hyp.zero(RAM + P, P);
    expect([...platform.read(RAM + P, 3)]).toEqual([0, 0, 0]);
  });

  it("addVm refuses a VMID in use; removeVm takes the vCPUs off the platform", () => {
    const { hyp, platform } = createGunyahMachine();
    const g = guest(hyp);
    expect(g.vcpus.map((c) => c.name)).toEqual(["vm128.vcpu0"]);
    expect(platform.devices().some((d) => d.name === "vm128.vcpu0")).toBe(true);
    expectError(() => guest(hyp), "EINVAL", "exists");
    expect(hyp.list().map((v) => v.vmid)).toEqual([3, 0x80]);
    hyp.removeVm(0x80);
    expect(hyp.vm(0x80)).toBeUndefined();
    expect(platform.devices().some((d) => d.name === "vm128.vcpu0")).toBe(false);
    hyp.removeVm(0x80); // absent: nothing
    expect(guest(hyp).vmid).toBe(0x80);
  });

  it("bad options: EINVAL", () => {
    const platform = () =>
      new Platform({
        regions: [
          { name: "mmio", base: 0x1000_0000, size: 0x10_0000, kind: "io" },
          { name: "hyp", base: 0x4000_0000, size: 0x100_0000, kind: "ram" },
          { name: "dram", base: RAM, size: 0x100_0000, kind: "ram" },
        ],
        targets: [
          {
            name: "t",
            ranges: [{ region: "hyp", size: 0x100_0000 }],
            allocator: { kind: "buddy" },
          },
        ],
      });
    const make = (o: Partial<ConstructorParameters<typeof Hypervisor>[1]>) =>
      new Hypervisor(platform(), { tables: "t", hostRam: [{ pa: RAM, size: 0x10_0000 }], ...o });
    expect(make({}).host.vmid).toBe(3);
    expectError(() => make({ hostRam: [] }), "EINVAL", "needs RAM");
    expectError(() => make({ hostRam: [{ pa: RAM + 1, size: P }] }), "EINVAL", "aligned");
    expectError(() => make({ hostRam: [{ pa: RAM, size: P + 1 }] }), "EINVAL", "aligned");
    expectError(() => make({ hostRam: [{ pa: RAM, size: 0 }] }), "EINVAL", "aligned");
    expectError(() => make({ hostRam: [{ pa: 0x1000_0000, size: P }] }), "EINVAL", "RAM region");
    expectError(
      () => make({ hostRam: [{ pa: RAM + 0xff_f000, size: 2 * P }] }),
      "EINVAL",
      "RAM region",
    );
    expectError(() => make({ hostIo: [{ pa: RAM, size: P }] }), "EINVAL", "device region");
    expectError(() => make({ hostIo: [{ pa: 0x1000_0800, size: P }] }), "EINVAL", "aligned");
    // A host RAM at another IPA: mapped there, owned by physical address.
    const h = make({ hostRam: [{ pa: RAM, size: 0x10_0000, ipa: 0x2_0000_0000 }] });
    expect(h.host.stage2.translate(0x2_0000_0000)?.pa).toBe(RAM);
    expect(h.ownership.ownerOf(RAM, RAM + 0x10_0000)).toBe(3);
  });
});
