/**
 * What the Gunyah machine module reports of the state the steps leave (the `gunyah` statistics
 * group: the run's final statistics, a `stats` step's output) and its tables for people: every
 * VM with its state and what its stage 2 maps, every parcel with its state, owner, ACL (each
 * VM's side: accepted, mapped, where) and regions, the RPCs the RM answered, and the
 * notifications waiting in the RM's queues or dropped from them.
 */
import { hex, hexRange } from "../../../base/address.js";
import type { GunyahVm } from "../../../gunyah/hyp/vm.js";
import { IPA_BITS, vmStateName } from "../../../gunyah/hyp/vm.js";
import type { Parcel } from "../../../gunyah/rm/parcel.js";
import { MEM_ATTR, MEM_TYPE, TRANS_TYPE } from "../../../gunyah/rm/types.js";
import { showSize } from "../format.js";
import type { ReportTable } from "../step-module.js";
import type { ScenarioGunyah } from "./gunyah.js";

/** ACL rights as letters: 7 -> `rwx`, 4 -> `r`. */
export function rightsLetters(r: number): string {
  return (r & 4 ? "r" : "") + (r & 2 ? "w" : "") + (r & 1 ? "x" : "") || "-";
}

/** The name of a value of a `{ NAME: value }` set, or the number. */
export function nameOf(set: Readonly<Record<string, number>>, v: number): string {
  return Object.entries(set).find(([, x]) => x === v)?.[0] ?? String(v);
}

export type GunyahVmRow = {
  vmid: number;
  name: string;
  state: string;
  osStatus: number;
  /** The VM that allocated it (null for the host). */
  owner: string | null;
  vcpus: string[];
  /** Bytes its stage 2 maps. */
  mapped: number;
  /** The parcels it owns, and those it has accepted. */
  owns: number[];
  accepted: number[];
};

export type GunyahParcelSide = {
  vm: string;
  rights: string;
  attr: string;
  accepted: boolean;
  mapped: boolean;
  /** Where it is accepted (one IPA per region, or one when contiguous). */
  ipas: number[];
};

export type GunyahParcelRow = {
  handle: number;
  owner: string;
  type: string;
  memType: string;
  state: string;
  label: number;
  memInfoTag: number | null;
  sanitize: boolean;
  size: number;
  regions: number;
  /** The first regions (at most 8): the owner's IPA and the physical address. */
  ranges: Array<{ ipa: number; pa: number; size: number }>;
  acl: GunyahParcelSide[];
};

/** The Gunyah state (the `gunyah` statistics group). */
export type GunyahState = {
  vms: GunyahVmRow[];
  parcels: GunyahParcelRow[];
  /** RPCs answered, by request and answer: `{ MEM_LEND: { OK: 2, DENIED: 1 } }`. */
  rpcs: Record<string, Record<string, number>>;
  /** Notifications waiting in the RM's queue (a VM without a session), and dropped (full). */
  notifications: { pending: Record<string, number>; dropped: Record<string, number> };
};

const RANGES_SHOWN = 8;

function nameOfVm(g: ScenarioGunyah, vmid: number): string {
  return g.hyp.vm(vmid)?.name ?? `vmid ${hex(vmid)}`;
}

function vmRow(g: ScenarioGunyah, vm: GunyahVm): GunyahVmRow {
  const parcels = g.rm.parcels.list();
  return {
    vmid: vm.vmid,
    name: vm.name,
    state: vmStateName(vm.state),
    osStatus: vm.osStatus,
    owner: vm.owner === undefined ? null : nameOfVm(g, vm.owner),
    vcpus: vm.vcpus.map((c) => c.name),
    mapped: vm.stage2.mappedBytes(0, 2 ** IPA_BITS),
    owns: parcels.filter((p) => p.owner === vm.vmid).map((p) => p.handle),
    accepted: parcels.filter((p) => p.vmInfo(vm.vmid)?.shared === true).map((p) => p.handle),
  };
}

function parcelRow(g: ScenarioGunyah, p: Parcel): GunyahParcelRow {
  return {
    handle: p.handle,
    owner: nameOfVm(g, p.owner),
    type: nameOf(TRANS_TYPE, p.transType),
    memType: nameOf(MEM_TYPE, p.memType),
    state: p.state,
    label: p.label,
    memInfoTag: p.memInfoTag ?? null,
    sanitize: p.sanitizeCreate,
    size: p.size,
    regions: p.regions.length,
    ranges: p.regions.slice(0, RANGES_SHOWN).map((r) => ({ ipa: r.ipa, pa: r.pa, size: r.size })),
    acl: p.vms.map((v) => ({
      vm: nameOfVm(g, v.vmid),
      rights: rightsLetters(v.rights),
      attr: nameOf(MEM_ATTR, v.attr),
      accepted: v.shared,
      mapped: v.mapped,
      ipas: [...v.ipas],
    })),
  };
}

/** The Gunyah state of a scenario's hypervisor. */
export function gunyahState(g: ScenarioGunyah): GunyahState {
  const rpcs: Record<string, Record<string, number>> = {};
  for (const name of [...g.rpcs.keys()].sort())
    rpcs[name] = Object.fromEntries([...g.rpcs.get(name)!].sort(([a], [b]) => (a < b ? -1 : 1)));
  const pending: Record<string, number> = {};
  const dropped: Record<string, number> = {};
  for (const vm of g.hyp.list()) {
    const n = g.rm.pending(vm.vmid);
    if (n > 0) pending[vm.name] = n;
  }
  for (const [vmid, n] of [...g.rm.dropped].sort(([a], [b]) => a - b))
    dropped[nameOfVm(g, vmid)] = n;
  return {
    vms: g.hyp.list().map((vm) => vmRow(g, vm)),
    parcels: g.rm.parcels.list().map((p) => parcelRow(g, p)),
    rpcs,
    notifications: { pending, dropped },
  };
}

const list = (xs: readonly (string | number)[]) => (xs.length > 0 ? xs.join(", ") : "-");

/** A parcel's regions for people: `0x80000000-0x801fffff` or `600 regions from 0x80000000`. */
function showRanges(p: GunyahParcelRow): string {
  const first = p.ranges[0];
  if (first === undefined) return "-";
  const at = (r: { ipa: number; pa: number; size: number }) =>
    `${hexRange(r.pa, r.size)}${r.ipa !== r.pa ? ` (IPA ${hex(r.ipa)})` : ""}`;
  return p.regions === 1 ? at(first) : `${p.regions} regions from ${at(first)}`;
}

function showSide(s: GunyahParcelSide): string {
  const held = s.mapped ? "mapped" : s.accepted ? "accepted" : "-";
  const where =
    s.ipas.length > 0
      ? ` at ${hex(s.ipas[0]!)}${s.ipas.length > 1 ? ` +${s.ipas.length - 1}` : ""}`
      : "";
  return `${s.vm} ${s.rights} ${held}${where}`;
}

/** The Gunyah state as tables for people; tables with nothing to show are left out. */
export function gunyahStateTables(s: GunyahState): ReportTable[] {
  const tables: ReportTable[] = [
    {
      title: "Gunyah VMs",
      head: ["VM", "VMID", "state", "owner", "vCPUs", "stage 2 maps", "owns", "accepted"],
      rows: s.vms.map((v) => [
        v.name,
        hex(v.vmid),
        v.state,
        v.owner ?? "-",
        list(v.vcpus),
        showSize(v.mapped),
        list(v.owns),
        list(v.accepted),
      ]),
    },
  ];
  if (s.parcels.length > 0)
    tables.push({
      title: "Gunyah parcels",
      head: ["handle", "owner", "type", "state", "label", "size", "regions", "ACL"],
      rows: s.parcels.map((p) => [
        String(p.handle),
        p.owner,
        `${p.type} ${p.memType}${p.sanitize ? " sanitize" : ""}`,
        p.state,
        String(p.label),
        showSize(p.size),
        showRanges(p),
        p.acl.map(showSide).join("\n"),
      ]),
    });
  const rpcs = Object.entries(s.rpcs);
  if (rpcs.length > 0)
    tables.push({
      title: "Gunyah RPCs",
      head: ["RPC", "calls", "answers"],
      rows: rpcs.map(([name, answers]) => [
        name,
        String(Object.values(answers).reduce((a, b) => a + b, 0)),
        Object.entries(answers)
          .map(([err, n]) => `${err} ${n}`)
          .join(", "),
      ]),
    });
  return tables;
}

/** One line for a `stats` step: `3 VMs, 2 parcels, 14 RPCs`. */
export function gunyahStateSummary(s: GunyahState): string {
  const calls = Object.values(s.rpcs)
    .flatMap((a) => Object.values(a))
    .reduce((a, b) => a + b, 0);
  const n = (k: number, w: string) => `${k} ${w}${k === 1 ? "" : "s"}`;
  return `${n(s.vms.length, "VM")}, ${n(s.parcels.length, "parcel")}, ${n(calls, "RPC")}`;
}
