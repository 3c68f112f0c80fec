/**
 * The Gunyah part of the `machine` section: the hypervisor, its resource manager (RM) and the
 * RM's message queues (`src/gunyah/`), as a {@link MachineModule}.
 *
 * ```yaml
 * gunyah:
 *   tables: hyp-tables                 # the target every VM's stage-2 tables come from
 *   host:                              # the host VM (HLOS, VMID 3)
 *     ram: [{ pa: 0x8000_0000, size: 1G }]     # its RAM, at IPA = PA unless `ipa` is given
 *     io: [{ pa: 0x1000_0000, size: 1M }]      # device memory it maps (IO parcels)
 *     vcpus: 1
 *   memBase: 0x8000_0000               # where VM_START accepts a guest's image parcel
 *   vcpus: 1                           # vCPUs per guest VM
 * ```
 *
 * It builds after the physical memory (regions, targets), item by item: a `tables` target that
 * cannot hold page tables, a host range that is not 4 KiB-aligned, not inside one RAM (or, for
 * `io`, one device) region, overlapping another host range (physically or in the host's IPA
 * space) or the stage-2 table memory, a bad vCPU count or memory base are each reported at
 * their path; the hypervisor is built with the ranges accepted (none if `tables` or every RAM
 * range is refused).
 *
 * The machine keeps a {@link ScenarioGunyah} under {@link GUNYAH} ({@link gunyahOf}): the
 * hypervisor (the host's vCPUs `hlos.vcpu<i>` are bus masters of the platform from the start; a
 * guest's, `vm<vmid>.vcpu<i>`, from its VM_ALLOCATE), the RM, an {@link RmHub} over it, and
 * one {@link InProcessRmClient} per VM, through which the `gunyah.*` steps (`steps/gunyah*.ts`)
 * speak the wire protocol. The address space of a VM's vCPUs is `ipa:<vm name>`
 * ({@link DEVICE_ADDRESS_SPACES}), so a name bound to a VM's IPA works as an `access` address.
 *
 * What it reports: the configuration as built (the run's `machine.gunyah`), and the Gunyah
 * state as the steps leave it (the `gunyah` statistics group: VMs with their states and the
 * bytes their stage 2 maps, parcels with state, owner, ACL and regions, the RPCs answered,
 * notifications waiting or dropped), with its tables for people.
 */
import { z } from "zod";

import { hex, hexRange } from "../../../base/address.js";
import { fail, isMemweaveError, MemweaveError } from "../../../base/errors.js";
import { InProcessRmClient } from "../../../gunyah/client/in-process.js";
import type { GunyahVm } from "../../../gunyah/hyp/vm.js";
import { IPA_BITS, VMID_HLOS, vmStateName } from "../../../gunyah/hyp/vm.js";
import { Hypervisor } from "../../../gunyah/hyp/hypervisor.js";
import { RmHub } from "../../../gunyah/rm/hub.js";
import { ResourceManager } from "../../../gunyah/rm/rm.js";
import type { RmError } from "../../../gunyah/rm/types.js";
import { PhysTableMemory } from "../../../mmu/table-memory.js";
import { showSize } from "../format.js";
import type { BuiltMachine, DocPath, MachineBuildContext } from "../machine-module.js";
import { MachineObjects } from "../machine-module.js";
import { defineMachineModule, DEVICE_ADDRESS_SPACES, objectKind } from "../machine-module.js";
import { countSchema, objectNameSchema, sizeSchema } from "../values.js";
import type { GunyahState } from "./gunyah-report.js";
import { gunyahState, gunyahStateSummary, gunyahStateTables } from "./gunyah-report.js";

// --- schema --------------------------------------------------------------------------------------

const hostRangeSchema = (what: string) =>
  z
    .strictObject({
      pa: sizeSchema.meta({ description: `The physical address of the ${what} (4 KiB-aligned).` }),
      size: sizeSchema.meta({ description: "Its size (a multiple of 4 KiB)." }),
      ipa: sizeSchema
        .optional()
        .meta({ description: "Where the host's stage 2 maps it (default: at its PA)." }),
    })
    .meta({ title: `Host ${what}`, description: `A physical range of the host's ${what}.` });

/** The most vCPUs a VM may have in a scenario (capability IDs keep 0x80 per VM apart). */
export const MAX_VCPUS = 64;

/** The `gunyah` key of the machine. */
export const gunyahSectionSchema = z
  .strictObject({
    tables: objectNameSchema.meta({
      description:
        "The memory target (buddy or contiguous) every VM's stage-2 tables are allocated from; no VM may own it.",
    }),
    host: z
      .strictObject({
        ram: z
          .array(hostRangeSchema("RAM"))
          .min(1, { error: "expected at least one RAM range: the host needs memory" })
          .meta({ description: "The host's RAM: ranges of RAM regions, mapped in its stage 2." }),
        io: z
          .array(hostRangeSchema("device memory"))
          .optional()
          .meta({ description: "Device memory the host maps (IO parcels lend or share it)." }),
        vcpus: countSchema.optional().meta({ description: "The host's vCPUs (default 1)." }),
      })
      .meta({ description: "The host VM (HLOS, VMID 3) and its memory." }),
    memBase: sizeSchema.optional().meta({
      description:
        "The guest IPA where VM_START accepts a VM's image parcel (default 0x8000_0000).",
    }),
    vcpus: countSchema.optional().meta({ description: "vCPUs of each guest VM (default 1)." }),
  })
  .meta({
    title: "Gunyah",
    description:
      "The Gunyah hypervisor and its resource manager: the stage-2 table memory, the host VM's memory and vCPUs, and how guests are made.",
  });

export type GunyahSectionConfig = z.output<typeof gunyahSectionSchema>;

// --- the hypervisor in the machine ----------------------------------------------------------------

/** A host range as built. */
export interface HostRange {
  readonly pa: number;
  readonly size: number;
  readonly ipa: number;
}

/** The configuration as built (the run's `machine.gunyah`). */
export type GunyahConfigSummary = {
  tables: string;
  host: { ram: HostRange[]; io: HostRange[]; vcpus: string[] };
  memBase: number;
  vcpus: number;
};

/** The address space of a VM's IPAs (its vCPUs' addresses): `ipa:vm128`. */
export function ipaSpace(vm: GunyahVm | string): string {
  return `ipa:${typeof vm === "string" ? vm : vm.name}`;
}

/**
 * The Gunyah hypervisor of a scenario's machine, its RM and message queues, and one RM client
 * per VM (a VM's session opens when the VM appears and closes when it goes: see {@link sync}).
 */
export class ScenarioGunyah {
  readonly hub: RmHub;
  /** RPCs answered, by request name and answer (the hub's log). */
  readonly rpcs = new Map<string, Map<RmError, number>>();
  /** Names the steps bound, by kind (for "did you mean"). */
  readonly names = new Map<string, string>();
  /** What other step modules (the VM manager's) keep here, by key. */
  readonly extras = new Map<string, unknown>();
  private readonly clients = new Map<number, { vm: GunyahVm; client: InProcessRmClient }>();

  constructor(
    readonly hyp: Hypervisor,
    readonly rm: ResourceManager,
    readonly config: GunyahConfigSummary,
  ) {
    this.hub = new RmHub(rm, {
      onRpc: (r) => {
        const name = r.name ?? hex(r.msgId);
        let m = this.rpcs.get(name);
        if (m === undefined) this.rpcs.set(name, (m = new Map<RmError, number>()));
        m.set(r.err, (m.get(r.err) ?? 0) + 1);
      },
    });
    this.sync();
  }

  /** The VM `vmid`; ENOENT naming the VMs there are. */
  vm(vmid: number): GunyahVm {
    const vm = this.hyp.vm(vmid);
    if (vm === undefined)
      fail(
        "ENOENT",
        `there is no VM ${vmid} (${hex(vmid)}) (VMs: ${this.hyp
          .list()
          .map((v) => v.name)
          .join(", ")})`,
      );
    return vm;
  }

  /** The RM client of VM `vmid` (its message queue; ENOENT if no such VM). */
  client(vmid: number): InProcessRmClient {
    this.sync();
    const vm = this.vm(vmid);
    return this.clients.get(vm.vmid)!.client;
  }

  /**
   * Open a session for each VM that has none, close those of VMs that are gone (a VMID
   * allocated again gets a new session). Notifications the RM posted for a VM before its
   * session opened wait in its queue and arrive then.
   */
  sync(): void {
    for (const [vmid, c] of this.clients)
      if (this.hyp.vm(vmid) !== c.vm) {
        c.client.close();
        this.clients.delete(vmid);
      }
    for (const vm of this.hyp.list())
      if (!this.clients.has(vm.vmid))
        this.clients.set(vm.vmid, { vm, client: new InProcessRmClient(this.hub, vm.vmid) });
  }
}

/** The kind under which the machine keeps its Gunyah hypervisor (one, named "gunyah"). */
export const GUNYAH = objectKind<ScenarioGunyah>("Gunyah hypervisor");

/**
 * The Gunyah hypervisor, RM and hub of a built machine (or of its objects: a step's
 * `ctx.objects`), or undefined when the machine has no `gunyah` section.
 *
 * @example
 * const g = gunyahOf(createMachine(scenario.machine));
 * if (g !== undefined) serve(g.hub); // the scenario's RM, VMs and parcels
 */
export function gunyahOf(machine: BuiltMachine | MachineObjects): ScenarioGunyah | undefined {
  const objects = machine instanceof MachineObjects ? machine : machine.objects;
  return objects.has(GUNYAH, "gunyah") ? objects.get(GUNYAH, "gunyah") : undefined;
}

// --- building --------------------------------------------------------------------------------------

const PAGE = 4096;

function problem(ctx: MachineBuildContext, path: DocPath, detail: string, code = "EINVAL"): false {
  ctx.problem(path, new MemweaveError(code as "EINVAL", detail));
  return false;
}

/** Check one host range (aligned, in one region of the right kind, clear of `taken`). */
function checkRange(
  ctx: MachineBuildContext,
  at: DocPath,
  r: { pa: number; size: number; ipa?: number | undefined },
  io: boolean,
  taken: { phys: HostRange[]; tables: Array<{ base: number; size: number }> },
): HostRange | undefined {
  const what = io ? "host IO" : "host RAM";
  const range = hexRange(r.pa, Math.max(r.size, 1));
  if (r.pa % PAGE !== 0)
    return void problem(ctx, [...at, "pa"], `${what} ${range}: pa is not 4 KiB-aligned`);
  if (r.size === 0 || r.size % PAGE !== 0)
    return void problem(
      ctx,
      [...at, "size"],
      `${what} ${range}: size ${showSize(r.size)} is not a non-zero multiple of 4 KiB`,
    );
  const ipa = r.ipa ?? r.pa;
  if (ipa % PAGE !== 0 || ipa + r.size > 2 ** IPA_BITS)
    return void problem(
      ctx,
      [...at, r.ipa !== undefined ? "ipa" : "pa"],
      `${what} ${range}: IPA ${hex(ipa)} is not 4 KiB-aligned below 2^${IPA_BITS}`,
    );
  const region = ctx.platform.map.findRange(r.pa, r.size);
  const regions = ctx.platform.map
    .regions()
    .map((x) => `${x.name} (${x.kind})`)
    .join(", ");
  if (region === undefined || (io ? region.kind === "ram" : region.kind !== "ram"))
    return void problem(
      ctx,
      at,
      `${what} ${range} is not inside one ${io ? "device (io)" : "RAM"} region (regions: ${regions || "none"})`,
    );
  for (const t of taken.tables)
    if (t.base < r.pa + r.size && r.pa < t.base + t.size)
      return void problem(
        ctx,
        at,
        `${what} ${range} overlaps the stage-2 table memory ${hexRange(t.base, t.size)}: no VM may own the hypervisor's tables`,
      );
  for (const o of taken.phys) {
    if (o.pa < r.pa + r.size && r.pa < o.pa + o.size)
      return void problem(
        ctx,
        at,
        `${what} ${range} overlaps host memory ${hexRange(o.pa, o.size)}`,
      );
    if (o.ipa < ipa + r.size && ipa < o.ipa + o.size)
      return void problem(
        ctx,
        at,
        `${what} ${range} at IPA ${hexRange(ipa, r.size)} overlaps host IPAs ${hexRange(o.ipa, o.size)}`,
      );
  }
  return { pa: r.pa, size: r.size, ipa };
}

function checkVcpus(ctx: MachineBuildContext, at: DocPath, n: number | undefined): boolean {
  if (n === undefined || (n >= 1 && n <= MAX_VCPUS)) return true;
  return problem(ctx, at, `vcpus ${n}: a VM has 1 to ${MAX_VCPUS} vCPUs`);
}

function buildGunyah(ctx: MachineBuildContext, g: GunyahSectionConfig): void {
  const at: DocPath = ["machine", "gunyah"];
  const platform = ctx.platform;
  const refuse = () => ctx.refuse("gunyah", "gunyah");
  if (ctx.refused("target", g.tables)) return refuse();
  let tableRanges: Array<{ base: number; size: number }>;
  try {
    const target = platform.target(g.tables);
    void new PhysTableMemory(platform.store, target);
    tableRanges = target.ranges.map((r) => ({ base: r.base, size: r.size }));
  } catch (e) {
    if (!isMemweaveError(e)) throw e;
    ctx.problem([...at, "tables"], e);
    return refuse();
  }
  const taken = { phys: [] as HostRange[], tables: tableRanges };
  const ram: HostRange[] = [];
  g.host.ram.forEach((r, i) => {
    const ok = checkRange(ctx, [...at, "host", "ram", i], r, false, taken);
    if (ok === undefined) return;
    ram.push(ok);
    taken.phys.push(ok);
  });
  const io: HostRange[] = [];
  (g.host.io ?? []).forEach((r, i) => {
    const ok = checkRange(ctx, [...at, "host", "io", i], r, true, taken);
    if (ok === undefined) return;
    io.push(ok);
    taken.phys.push(ok);
  });
  const vcpusOk =
    checkVcpus(ctx, [...at, "host", "vcpus"], g.host.vcpus) &&
    checkVcpus(ctx, [...at, "vcpus"], g.vcpus);
  const memBase = g.memBase ?? 0x8000_0000;
  const baseOk =
    memBase % PAGE === 0 && memBase < 2 ** IPA_BITS
      ? true
      : problem(
          ctx,
          [...at, "memBase"],
          `memBase ${hex(memBase)} is not a 4 KiB-aligned IPA below 2^${IPA_BITS}`,
        );
  if (ram.length === 0 || !vcpusOk || !baseOk) return refuse();

  let hyp: Hypervisor;
  try {
    hyp = new Hypervisor(platform, {
      tables: g.tables,
      hostRam: ram,
      hostIo: io,
      hostVcpus: g.host.vcpus ?? 1,
    });
  } catch (e) {
    if (!isMemweaveError(e)) throw e;
    // A vCPU name taken by a device of the machine (EEXIST), no table memory (ENOMEM).
    ctx.problem(e.code === "ENOMEM" ? [...at, "tables"] : [...at, "host"], e);
    return refuse();
  }
  const vcpus = g.vcpus ?? 1;
  const rm = new ResourceManager(hyp, { memBase, vcpus });
  const config: GunyahConfigSummary = {
    tables: g.tables,
    host: { ram, io, vcpus: hyp.host.vcpus.map((c) => c.name) },
    memBase,
    vcpus,
  };
  const state = new ScenarioGunyah(hyp, rm, config);
  ctx.objects.add(GUNYAH, "gunyah", state);
  ctx.objects.add(DEVICE_ADDRESS_SPACES, "gunyah", {
    spacesOf: (device) => {
      const vm = hyp.list().find((v) => v.vcpus.some((c) => c.name === device));
      return vm === undefined ? [] : [ipaSpace(vm)];
    },
  });
}

/** The configuration as a table for people. */
export function gunyahConfigTable(c: GunyahConfigSummary): {
  title: string;
  head: string[];
  rows: string[][];
} {
  const range = (r: HostRange) =>
    `${hexRange(r.pa, r.size)} (${showSize(r.size)})${r.ipa !== r.pa ? ` at IPA ${hex(r.ipa)}` : ""}`;
  return {
    title: "Gunyah",
    head: ["Gunyah", "configuration"],
    rows: [
      ["tables", `target ${c.tables}`],
      ...c.host.ram.map((r) => ["host RAM", range(r)]),
      ...c.host.io.map((r) => ["host IO", range(r)]),
      ["host vCPUs", c.host.vcpus.join(", ")],
      ["guests", `image at IPA ${hex(c.memBase)}, ${c.vcpus} vCPU${c.vcpus === 1 ? "" : "s"} each`],
    ],
  };
}

// --- the module --------------------------------------------------------------------------------------

declare module "../machine-summary.js" {
  interface MachineSummary {
    gunyah?: GunyahConfigSummary;
  }
  interface MachineStatistics {
    gunyah?: GunyahState;
  }
}

/** The Gunyah state of a machine, or undefined when it has no `gunyah` section. */
export function machineGunyahState(machine: BuiltMachine): GunyahState | undefined {
  const g = gunyahOf(machine);
  return g === undefined ? undefined : gunyahState(g);
}

/** The machine module of the Gunyah hypervisor and resource manager. */
export const gunyahMachineModule = defineMachineModule({
  name: "gunyah",
  shape: {
    gunyah: gunyahSectionSchema.optional(),
  },
  build(ctx, section) {
    if (section.gunyah !== undefined) buildGunyah(ctx, section.gunyah);
  },
  summarize: (machine) => {
    const g = gunyahOf(machine);
    return g === undefined ? {} : { gunyah: g.config };
  },
  statistics: [
    {
      key: "gunyah",
      always: false,
      collect: (m) => machineGunyahState(m),
      isEmpty: (v) => v === undefined,
      tables: (s: GunyahState | undefined) => (s === undefined ? [] : gunyahStateTables(s)),
      summary: (s: GunyahState | undefined) => (s === undefined ? [] : [gunyahStateSummary(s)]),
    },
  ],
});

/** For messages: a VM by name and VMID (`vm128 (0x80)`, `hlos (3)`). */
export function vmLabel(vm: GunyahVm): string {
  return `${vm.name} (${vm.vmid === VMID_HLOS ? "3" : hex(vm.vmid)})`;
}

/** A VM's state by name. */
export function stateOf(vm: GunyahVm): string {
  return vmStateName(vm.state);
}
