import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";

import {
  buildMachine,
  createMachine,
  machineSchema,
  machineStatistics,
  summarizeMachine,
} from "../machine.js";
import { deviceAddressSpaces } from "../machine-module.js";
import { parseScenario } from "../parse.js";
import { runScenario } from "../run.js";
import { gunyahConfigTable, gunyahOf } from "./gunyah.js";
import { gunyahStateTables } from "./gunyah-report.js";

/** The default Gunyah layout with `gunyah` as given (indented by 4). */
function text(gunyah: string, steps = "  []\n", extra = ""): string {
  return `version: 1
name: t
machine:
  regions:
    - { name: mmio, base: 0x1000_0000, size: 1M, kind: io }
    - { name: hyp, base: 0x4000_0000, size: 64M, kind: ram }
    - { name: dram, base: 0x8000_0000, size: 1G, kind: ram }
  targets:
    - { name: hyp-tables, allocator: buddy, ranges: [{ region: hyp }] }
    - { name: pools, allocator: chunk-pool, ranges: [{ region: dram, offset: 512M, size: 16M }], pools: [{ chunk: 4K, size: 16M }] }
${extra}  gunyah:
${gunyah}steps:
${steps}`;
}
// Line 1 of the gunyah section (as given) is line 12 of the text.
const LINE = 11;

const GOOD = `    tables: hyp-tables
    host: { ram: [{ pa: 0x8000_0000, size: 512M }], io: [{ pa: 0x1000_0000, size: 1M }], vcpus: 2 }
    memBase: 0x4000_0000
    vcpus: 2
`;

function parsed(t: string) {
  const r = parseScenario(t, "t.yaml");
  if (!r.ok) throw new Error(r.errors.map((e) => `${e.path}: ${e.message}`).join("\n"));
  return r.scenario;
}

function errors(t: string): string[] {
  const r = parseScenario(t, "t.yaml");
  if (r.ok) throw new Error("expected the scenario to be invalid");
  return r.errors.map((e) => `${e.line - LINE}:${e.column} ${e.path}: ${e.message}`);
}

describe("the gunyah machine section", () => {
  it("builds the hypervisor, the RM and its hub; the host's vCPUs are bus masters with an IPA space", () => {
    const m = createMachine(parsed(text(GOOD)).machine);
    const g = gunyahOf(m)!;
    expect(gunyahOf(m.objects)).toBe(g);
    expect(g.hyp.host.vcpus.map((c) => c.name)).toEqual(["hlos.vcpu0", "hlos.vcpu1"]);
    expect(m.platform.registry.has("hlos.vcpu1")).toBe(true);
    expect(deviceAddressSpaces(m.objects, "hlos.vcpu1")).toEqual(["ipa:hlos"]);
    expect(deviceAddressSpaces(m.objects, "nobody")).toEqual([]);
    expect(g.rm.vms.allocate(3, 0)).toEqual({ err: "OK", value: 0x80 });
    expect(g.hyp.vm(0x80)!.vcpus.map((c) => c.name)).toEqual(["vm128.vcpu0", "vm128.vcpu1"]);
    expect(deviceAddressSpaces(m.objects, "vm128.vcpu1")).toEqual(["ipa:vm128"]);
    // The host's RAM is its own, one to one: its vCPU reads it.
    expect(g.hyp.host.vcpus[0]!.read(0x8000_0000, 4)).toHaveLength(4);
  });

  it("without the section there is no hypervisor and nothing is reported", () => {
    const t = `version: 1\nname: t\nmachine:\n  regions: [{ name: dram, base: 0x8000_0000, size: 1M, kind: ram }]\nsteps: []\n`;
    const m = createMachine(parsed(t).machine);
    expect(gunyahOf(m)).toBeUndefined();
    expect(summarizeMachine(m)).not.toHaveProperty("gunyah");
    expect(machineStatistics(m)).not.toHaveProperty("gunyah");
  });

  it("reports the configuration as built, and the state as the steps leave it", () => {
    const r = runScenario(
      parsed(
        text(
          GOOD,
          [
            "  - { op: gunyah.vmAllocate, as: g }",
            "  - { op: gunyah.lend, acl: [{ vm: g, rights: rw }], sgl: [{ ipa: 0x8000_0000, size: 2M }, { ipa: 0x9000_0000, size: 4K }], label: 3, as: p }",
            "  - { op: gunyah.accept, by: g, handle: p, flags: [] }",
            "  - { op: gunyah.reclaim, handle: 7, expect: { err: HANDLE_INVALID } }",
            "",
          ].join("\n"),
        ),
      ),
    );
    expect(r.ok).toBe(true);
    expect(r.machine.gunyah).toEqual({
      tables: "hyp-tables",
      host: {
        ram: [{ pa: 0x8000_0000, size: 512 << 20, ipa: 0x8000_0000 }],
        io: [{ pa: 0x1000_0000, size: 1 << 20, ipa: 0x1000_0000 }],
        vcpus: ["hlos.vcpu0", "hlos.vcpu1"],
      },
      memBase: 0x4000_0000,
      vcpus: 2,
    });
    const s = r.statistics.gunyah!;
    expect(s.vms.map((v) => [v.name, v.state, v.owner, v.mapped, v.accepted])).toEqual([
      ["hlos", "RUNNING", null, (512 << 20) + (1 << 20) - (2 << 20) - 4096, []],
      ["vm128", "LOAD", "hlos", 0, [0]],
    ]);
    expect(s.parcels).toEqual([
      {
        handle: 0,
        owner: "hlos",
        type: "LEND",
        memType: "NORMAL",
        state: "SHARED",
        label: 3,
        memInfoTag: null,
        sanitize: false,
        size: (2 << 20) + 4096,
        regions: 2,
        ranges: [
          { ipa: 0x8000_0000, pa: 0x8000_0000, size: 2 << 20 },
          { ipa: 0x9000_0000, pa: 0x9000_0000, size: 4096 },
        ],
        acl: [
          {
            vm: "vm128",
            rights: "rw",
            attr: "NORMAL",
            accepted: true,
            mapped: false,
            ipas: [0x100_0000_0000, 0x100_0020_0000],
          },
        ],
      },
    ]);
    expect(s.rpcs).toEqual({
      MEM_ACCEPT: { OK: 1 },
      MEM_LEND: { OK: 1 },
      MEM_RECLAIM: { HANDLE_INVALID: 1 },
      VM_ALLOCATE: { OK: 1 },
    });
    const tables = gunyahStateTables(s);
    expect(tables.map((t) => t.title)).toEqual(["Gunyah VMs", "Gunyah parcels", "Gunyah RPCs"]);
    expect(tables[1]!.rows[0]).toEqual([
      "0",
      "hlos",
      "LEND NORMAL",
      "SHARED",
      "3",
      "2 MiB + 4 KiB",
      "2 regions from 0x80000000-0x801fffff",
      "vm128 rw accepted at 0x10000000000 +1",
    ]);
    expect(tables[2]!.rows).toContainEqual(["MEM_RECLAIM", "1", "HANDLE_INVALID 1"]);
    expect(gunyahConfigTable(r.machine.gunyah!).rows).toEqual([
      ["tables", "target hyp-tables"],
      ["host RAM", "0x80000000-0x9fffffff (512 MiB)"],
      ["host IO", "0x10000000-0x100fffff (1 MiB)"],
      ["host vCPUs", "hlos.vcpu0, hlos.vcpu1"],
      ["guests", "image at IPA 0x40000000, 2 vCPUs each"],
    ]);
  });

  it("a host range may sit at another IPA; VM_START accepts the image at memBase", () => {
    const r = runScenario(
      parsed(
        text(
          `    tables: hyp-tables\n    host: { ram: [{ pa: 0x8000_0000, size: 64M, ipa: 0x1_0000_0000 }] }\n    memBase: 0x4000_0000\n`,
          [
            "  - { op: write, addr: 0x8000_0000, data: { text: img } }",
            "  - { op: access, device: hlos.vcpu0, kind: read, va: 0x1_0000_0000, expect: { text: img } }",
            "  - { op: gunyah.vmAllocate, as: g }",
            "  - { op: gunyah.lend, acl: [{ vm: g, rights: rwx }], sgl: [{ ipa: 0x1_0000_0000, size: 2M }], as: image }",
            "  - { op: gunyah.vmConfigImage, vm: g, handle: image }",
            "  - { op: gunyah.vmInit, vm: g }",
            "  - { op: gunyah.vmStart, vm: g }",
            "  - { op: gunyah.access, vm: g, kind: read, ipa: 0x4000_0000, expect: { text: img } }",
            // The parcel's name: the owner's IPA for the host's vCPU, the PA for who.
            "  - { op: access, device: hlos.vcpu0, kind: read, va: image, size: 1, expectFault: { kind: translation } }",
            "  - { op: gunyah.who, addr: image, expect: [{ vm: g, parcel: image }] }",
            "",
          ].join("\n"),
        ),
      ),
    );
    expect(r.expectations.list.filter((e) => !e.passed)).toEqual([]);
    expect(r.steps[8]!.output).toMatchObject({ va: 0x1_0000_0000 });
  });

  it("opens an RM session for each VM as it appears and closes it when the VM goes", () => {
    const m = createMachine(parsed(text(GOOD)).machine);
    const g = gunyahOf(m)!;
    expect(g.hub.sessionCount(3)).toBe(1);
    g.client(3).call({ id: "VM_ALLOCATE", vmid: 0 });
    g.sync();
    expect(g.hub.sessionCount(0x80)).toBe(1);
    expect(g.client(3).call({ id: "VM_DEALLOCATE", vmid: 0x80 })).toEqual({
      id: "VM_DEALLOCATE",
      err: "OK",
    });
    g.sync();
    expect(g.hub.sessionCount(0x80)).toBe(0);
    expect(() => g.client(0x80)).toThrow("ENOENT: there is no VM 128 (0x80) (VMs: hlos)");
  });
});

describe("the gunyah section's errors", () => {
  it("reports each refused item at its path and builds with the rest", () => {
    const section = `    tables: hyp-tables
    host:
      ram:
        - { pa: 0x8000_0800, size: 4K }
        - { pa: 0x8000_0000, size: 0 }
        - { pa: 0x1000_0000, size: 4K }
        - { pa: 0x4000_0000, size: 4K }
        - { pa: 0x8000_0000, size: 1M }
        - { pa: 0x8008_0000, size: 1M }
        - { pa: 0x9000_0000, size: 1M, ipa: 0x8000_0000 }
      io: [{ pa: 0x8100_0000, size: 4K }]
      vcpus: 0
    memBase: 0x4000_0800
`;
    expect(errors(text(section))).toEqual([
      "4:17 machine.gunyah.host.ram[0].pa: EINVAL: host RAM 0x80000800-0x800017ff: pa is not 4 KiB-aligned",
      "5:36 machine.gunyah.host.ram[1].size: EINVAL: host RAM 0x80000000: size 0 B is not a non-zero multiple of 4 KiB",
      "6:11 machine.gunyah.host.ram[2]: EINVAL: host RAM 0x10000000-0x10000fff is not inside one RAM region (regions: mmio (io), hyp (ram), dram (ram))",
      "7:11 machine.gunyah.host.ram[3]: EINVAL: host RAM 0x40000000-0x40000fff overlaps the stage-2 table memory 0x40000000-0x43ffffff: no VM may own the hypervisor's tables",
      "9:11 machine.gunyah.host.ram[5]: EINVAL: host RAM 0x80080000-0x8017ffff overlaps host memory 0x80000000-0x800fffff",
      "10:11 machine.gunyah.host.ram[6]: EINVAL: host RAM 0x90000000-0x900fffff at IPA 0x80000000-0x800fffff overlaps host IPAs 0x80000000-0x800fffff",
      "11:12 machine.gunyah.host.io[0]: EINVAL: host IO 0x81000000-0x81000fff is not inside one device (io) region (regions: mmio (io), hyp (ram), dram (ram))",
      "12:14 machine.gunyah.host.vcpus: EINVAL: vcpus 0: a VM has 1 to 64 vCPUs",
      "13:14 machine.gunyah.memBase: EINVAL: memBase 0x40000800 is not a 4 KiB-aligned IPA below 2^44",
    ]);
  });

  it("a tables target that cannot hold tables, an unknown one, an empty RAM list, a vCPU name taken", () => {
    expect(
      errors(text("    tables: pools\n    host: { ram: [{ pa: 0x8000_0000, size: 1M }] }\n")),
    ).toEqual([expect.stringMatching(/^1:13 machine\.gunyah\.tables: EINVAL: /) as string]);
    expect(
      errors(text("    tables: hyp_tables\n    host: { ram: [{ pa: 0x8000_0000, size: 1M }] }\n")),
    ).toEqual([
      expect.stringMatching(/^1:13 machine\.gunyah\.tables: ENOENT: .*hyp_tables/) as string,
    ]);
    expect(errors(text("    tables: hyp-tables\n    host: { ram: [] }\n"))).toEqual([
      "2:18 machine.gunyah.host.ram: expected at least one RAM range: the host needs memory",
    ]);
    const clash = text(
      "    tables: hyp-tables\n    host: { ram: [{ pa: 0x8000_0000, size: 1M }] }\n",
      "  []\n",
      "  devices:\n    - { kind: one-to-one, name: hlos.vcpu0, base: 0x8000_0000, size: 1M }\n",
    );
    expect(errors(clash)).toEqual([
      expect.stringMatching(
        /machine\.gunyah\.host: EEXIST: device "hlos\.vcpu0" already exists/,
      ) as string,
    ]);
    // The machine is still built without the hypervisor.
    const doc = parseYaml(clash) as { machine: unknown };
    const { machine, problems } = buildMachine(machineSchema.parse(doc.machine));
    expect(problems).toHaveLength(1);
    expect(gunyahOf(machine)).toBeUndefined();
  });
});
