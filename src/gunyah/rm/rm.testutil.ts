/**
 * Test helpers for the semantic RM (never part of the build): a machine with a notification
 * log, argument builders, probes of what a vCPU may do at an IPA, and the refusal check every
 * validation table uses (the error, the digest unchanged, no notification posted).
 */
import { expect } from "vitest";
import { AccessFaultError } from "../../devices/bus-master.js";
import { reachableBy } from "../../devices/graph/checks.js";
import { accessOf } from "../../devices/graph/reverse-map.js";
import type { LeafVisit } from "../../mmu/page-table.js";
import type { MemoryTarget, PhysAllocation } from "../../phys/target.js";
import type { GunyahMachineOptions } from "../platform.js";
import { createGunyahMachine, HOST_MMIO_BASE, HOST_MMIO_SIZE, HOST_RAM_BASE } from "../platform.js";
import type { GunyahVm } from "../hyp/vm.js";
import { IPA_BITS, STAGE2_FORMAT, VM_STATE } from "../hyp/vm.js";
import type { AcceptArgs, CreateArgs } from "./memparcel.js";
import type { AclEntry, RmError, RmNotice, RmResult, SglEntry } from "./types.js";
import { ACCEPT_FLAGS, MEM_ATTR, RIGHTS, TRANS_TYPE } from "./types.js";
import { AUTH } from "./vm-mgnt.js";

export const HOST = 3;
export const RAM = HOST_RAM_BASE;
export const PAGE = 4096;
export const SIZE_2M = 2 * 1024 * 1024;
export const DONE = ACCEPT_FLAGS.DONE;

export type Machine = ReturnType<typeof machine>;

/** The built-in machine, and every notification the RM posts, in order. */
export function machine(options: GunyahMachineOptions = {}) {
  const m = createGunyahMachine(options);
  const log: RmNotice[] = [];
  m.rm.onNotice((n) => log.push(n));
  /** The notifications posted since the last call (and forget them). */
  const take = (): RmNotice[] => log.splice(0);
  return { ...m, log, take };
}

/** Allocate `n` guests (0x80, 0x81, ...) and forget their VM_STATUS notifications (log and queue). */
export function withGuests(m: Machine, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(ok(m.rm.vms.allocate(HOST, 0)));
  m.take();
  m.rm.drain(HOST);
  return out;
}

/** The value of a successful result (fails the test otherwise). */
export function ok<T>(r: RmResult<T>): T {
  expect(r.err).toBe("OK");
  return (r as { value: T }).value;
}

/** `call` must answer `err`, leave the digest as it was and post no notification. */
export function expectRefused(
  m: Machine,
  err: Exclude<RmError, "OK">,
  call: () => RmResult<unknown>,
): void {
  const before = m.rm.digest();
  const posted = m.log.length;
  const r = call();
  expect(r.err).toBe(err);
  expect(m.rm.digest()).toBe(before);
  expect(m.log.length).toBe(posted);
}

export function acl(...entries: Array<[vmid: number, rights: number]>): AclEntry[] {
  return entries.map(([vmid, rights]) => ({ vmid, rights }));
}

/** `n` pages of host RAM from page `first` (offset in pages from the RAM's base). */
export function pages(first: number, n = 1): SglEntry[] {
  return [{ ipa: RAM + first * PAGE, size: n * PAGE }];
}

/** A create request: normal memory, no flags, label 0, no attributes unless given. */
export function createArgs(a: Partial<CreateArgs> & Pick<CreateArgs, "acl" | "sgl">): CreateArgs {
  return { memType: 0, flags: 0, label: 0, attrs: [], ...a };
}

/** A LEND / SHARE / DONATE by the host; returns the handle. */
export function create(
  m: Machine,
  transType: number,
  a: Partial<CreateArgs> & Pick<CreateArgs, "acl" | "sgl">,
): number {
  return ok(m.rm.parcels.create(HOST, transType, createArgs(a)));
}

export function lendTo(
  m: Machine,
  vmid: number,
  sgl: SglEntry[],
  rights: number = RIGHTS.RWX,
): number {
  return create(m, TRANS_TYPE.LEND, { acl: acl([vmid, rights]), sgl });
}

/** An ACCEPT of `handle` matching its parcel's types, flags DONE unless given. */
export function acceptArgs(m: Machine, handle: number, a: Partial<AcceptArgs> = {}): AcceptArgs {
  const p = m.rm.parcels.get(handle);
  return {
    handle,
    memType: p?.memType ?? 0,
    transType: p?.transType ?? 0,
    flags: DONE,
    label: 0,
    acl: [],
    sgl: [],
    attrs: [],
    mapVmid: 0,
    ...a,
  };
}

/** Accept with DONE where the RM picks; returns the IPAs it picked. */
export function acceptDone(
  m: Machine,
  vmid: number,
  handle: number,
  a: Partial<AcceptArgs> = {},
): SglEntry[] {
  const r = ok(m.rm.parcels.accept(vmid, acceptArgs(m, handle, a)));
  return r?.sgl ?? [];
}

export function vm(m: Machine, vmid: number): GunyahVm {
  const v = m.hyp.vm(vmid);
  if (v === undefined) throw new Error(`no VM ${vmid}`);
  return v;
}

/** What `v`'s vCPU 0 may do at `ipa` now, as `rwx` letters (translations only, no data). */
export function access(v: GunyahVm, ipa: number): string {
  const cpu = v.vcpus[0]!;
  let s = "";
  if (cpu.translate(ipa, { kind: "read" }).ok) s += "r";
  if (cpu.translate(ipa, { kind: "write" }).ok) s += "w";
  if (cpu.translate(ipa, { kind: "exec" }).ok) s += "x";
  return s;
}

/** Whether a real access by `v`'s vCPU 0 faults (it must fault with an AccessFaultError or pass). */
export function faults(fn: () => unknown): boolean {
  try {
    fn();
    return false;
  } catch (e) {
    expect(e).toBeInstanceOf(AccessFaultError);
    return true;
  }
}

export function readFaults(v: GunyahVm, ipa: number): boolean {
  return faults(() => v.vcpus[0]!.read(ipa, 1));
}

export function writeFaults(v: GunyahVm, ipa: number, byte = 0x5a): boolean {
  return faults(() => v.vcpus[0]!.write(ipa, new Uint8Array([byte])));
}

/** The memory type `v`'s stage 2 maps `ipa` with, or undefined if unmapped. */
export function memTypeAt(v: GunyahVm, ipa: number): string | undefined {
  const t = v.stage2.translate(ipa);
  if (t === undefined) return undefined;
  const li = STAGE2_FORMAT.levels.findIndex((l) => l.level === t.level);
  return STAGE2_FORMAT.attributes(li, t.lo, t.hi).memType;
}

/** The physical address `v`'s stage 2 maps `ipa` to, or undefined. */
export function paOf(v: GunyahVm, ipa: number): number | undefined {
  return v.stage2.translate(ipa)?.pa;
}

/**
 * Take a guest from LOAD to READY with an image parcel lent to it (RWX, `imagePages` pages at
 * host page `firstPage`); returns the image handle. Notifications are forgotten.
 */
export function readyGuest(
  m: Machine,
  vmid: number,
  firstPage: number,
  imagePages = 1,
  auth: number = AUTH.NONE,
): number {
  const handle = lendTo(m, vmid, pages(firstPage, imagePages));
  ok(
    m.rm.vms.configImage(HOST, {
      vmid,
      auth,
      handle,
      imageOffset: 0,
      imageSize: PAGE,
      dtbOffset: 0,
      dtbSize: PAGE,
    }),
  );
  if (auth === AUTH.PLATFORM) ok(m.rm.vms.authImage(HOST, vmid));
  ok(m.rm.vms.init(HOST, vmid));
  m.take();
  return handle;
}

/** A running guest (image at its memory base); returns the image handle. */
export function runningGuest(m: Machine, vmid: number, firstPage: number, imagePages = 1): number {
  const handle = readyGuest(m, vmid, firstPage, imagePages);
  ok(m.rm.vms.start(HOST, vmid));
  m.take();
  return handle;
}

/**
 * Take every free byte of a buddy target (largest blocks first) but `leave` pages, so the
 * table allocation after those fails with ENOMEM; returns a function that gives it all back.
 */
export function exhaust(target: MemoryTarget, leave = 0): () => void {
  const kept = Array.from({ length: leave }, () => target.alloc(PAGE));
  const taken: PhysAllocation[] = [];
  for (let size = 32 * 1024 * 1024; size >= PAGE; size /= 2)
    for (;;) {
      try {
        taken.push(target.alloc(size));
      } catch {
        break;
      }
    }
  for (const a of kept) target.free(a);
  return () => {
    for (const a of taken.splice(0)) target.free(a);
  };
}

/** Guests every validation row starts with (allocated, in LOAD). */
export const G1 = 0x80;
export const G2 = 0x81;
export const G3 = 0x82;

/**
 * One row of a validation table: a setup on a machine with the host and guests G1..G3 (it may
 * return a handle), the call, and what it must answer. A refusal must leave the digest as it
 * was and post no notification; an "OK" row is the control that the call passes without the
 * row's defect.
 */
export interface Row {
  readonly name: string;
  readonly setup?: (m: Machine) => number | void;
  readonly call: (m: Machine, handle: number) => RmResult<unknown>;
  readonly err: RmError;
}

/** Run a row (see {@link Row}). */
export function runRow(row: Row): void {
  const m = machine();
  withGuests(m, 3);
  const h = row.setup?.(m);
  m.take();
  if (row.err === "OK") expect(row.call(m, h ?? -1).err).toBe("OK");
  else expectRefused(m, row.err, () => row.call(m, h ?? -1));
}

// ---- the page-level model of model.test.ts ----

/** Run one call: its answer must be what the model predicts (when it does); a refusal changes nothing. */
export function expectCall<T>(
  m: Machine,
  predicted: boolean | undefined,
  f: () => RmResult<T>,
): RmResult<T> {
  // (A call predicted to pass that is refused fails the test anyway: no digest needed first.)
  const d = predicted === true ? "" : m.rm.digest();
  const posted = m.log.length;
  const r = f();
  if (predicted !== undefined) expect(r.err === "OK", `answered ${r.err}`).toBe(predicted);
  if (r.err !== "OK") {
    expect(m.rm.digest()).toBe(d);
    expect(m.log.length).toBe(posted);
  } else calls.passed++;
  return r;
}

/** Calls {@link expectCall} saw pass (a step none of whose calls passed changed nothing). */
export const calls = { passed: 0 };

/**
 * Pages of host RAM (from its base) the model's operations touch: 0..23 for parcels, 24..31 for
 * guest images.
 */
export const MODEL_PAGES = 32;
const U = MODEL_PAGES;
const { SHARE, DONATE } = TRANS_TYPE;
/** ACL rights as the `rwx` letters of an access. */
const letters = (r: number) => (r & 4 ? "r" : "") + (r & 2 ? "w" : "") + (r & 1 ? "x" : "");
export const pagesOf = (ipa: number, size: number) =>
  Array.from({ length: size / PAGE }, (_, i) => ipa / PAGE + i);

export interface Side {
  vmid: number;
  rights: number;
  attr: number;
  shared: boolean;
  mapped: boolean;
  contiguous: boolean;
  ipas: number[];
}
export interface Region {
  ipa: number;
  pages: number[];
}
export interface MParcel {
  handle: number;
  owner: number;
  type: number;
  label: number;
  acl: AclEntry[];
  state: string;
  regions: Region[];
  sides: Side[];
  tag?: number;
}

/** The reference, page by page. */
export class Model {
  owner = new Map<number, { vmid: number; ipa: number }>(); // physical page (0..U-1) -> owner, IPA
  parcels = new Map<number, MParcel>();
  taken = new Map<number, Set<number>>(); // VM -> IPA pages it has taken
  state = new Map<number, number>();
  nextHandle = 0;
  constructor(m: Machine) {
    for (let p = 0; p < U; p++) this.owner.set(p, { vmid: HOST, ipa: RAM + p * PAGE });
    for (const v of m.hyp.list())
      this.taken.set(
        v.vmid,
        new Set(v.ipaSpace.list().flatMap((r) => pagesOf(r.start, r.end - r.start))),
      );
    for (const g of [G1, G2, G3]) this.state.set(g, VM_STATE.LOAD);
  }
  inParcel(page: number): MParcel | undefined {
    for (const p of this.parcels.values())
      if (p.regions.some((r) => r.pages.includes(page))) return p;
    return undefined;
  }
  size(p: MParcel): number {
    return p.regions.reduce((n, r) => n + r.pages.length * PAGE, 0);
  }
  /** `add_sgl_to_mp`: the physically contiguous runs of the owner's SGL, or undefined (refused). */
  regionsOf(vmid: number, sgl: SglEntry[], extra: Region[] = []): Region[] | undefined {
    const out: Region[] = [];
    const used = new Set(extra.flatMap((r) => r.pages));
    for (const e of sgl) {
      for (let i = 0; i < e.size / PAGE; i++) {
        const ipa = e.ipa + i * PAGE;
        const page = [...this.owner].find(([, o]) => o.vmid === vmid && o.ipa === ipa)?.[0];
        if (page === undefined || this.inParcel(page) !== undefined || used.has(page))
          return undefined;
        used.add(page);
        const last = out[out.length - 1];
        if (i > 0 && last!.pages[last!.pages.length - 1] === page - 1) last!.pages.push(page);
        else out.push({ ipa, pages: [page] });
      }
    }
    return out;
  }
  free(vmid: number, ipa: number, size: number): void {
    for (const q of pagesOf(ipa, size)) this.taken.get(vmid)!.delete(q);
  }
  take(vmid: number, ipa: number, size: number): boolean {
    const t = this.taken.get(vmid)!;
    if (pagesOf(ipa, size).some((q) => t.has(q))) return false;
    for (const q of pagesOf(ipa, size)) t.add(q);
    return true;
  }
  /** The IPA span of each of a side's mappings. */
  spans(p: MParcel, s: Side): SglEntry[] {
    return s.contiguous
      ? s.ipas.map((ipa) => ({ ipa, size: this.size(p) }))
      : s.ipas.map((ipa, i) => ({ ipa, size: p.regions[i]!.pages.length * PAGE }));
  }
  release(p: MParcel, s: Side): void {
    for (const sp of this.spans(p, s)) this.free(s.vmid, sp.ipa, sp.size);
    Object.assign(s, { shared: false, mapped: false, contiguous: false, ipas: [] });
    if (!p.sides.some((x) => x.shared)) p.state = "SHARING";
  }
  /** An accept with IPAs `got` (already taken) and DONE or not. */
  accepted(p: MParcel, s: Side, got: number[], contiguous: boolean, done: boolean): void {
    s.ipas.push(...got);
    s.contiguous = contiguous;
    s.shared = true;
    p.state = "SHARED";
    if (!done) return;
    s.mapped = true;
    if (p.type !== DONATE) return;
    let off = 0;
    p.regions.forEach((r, i) => {
      r.pages.forEach((page, j) =>
        this.owner.set(page, {
          vmid: s.vmid,
          ipa: (contiguous ? s.ipas[0]! + off : s.ipas[i]!) + j * PAGE,
        }),
      );
      off += r.pages.length * PAGE;
      this.free(p.owner, r.ipa, r.pages.length * PAGE);
    });
    this.parcels.delete(p.handle);
  }
  /** page:vmid -> "ipa access memType", what every stage 2 must map of the universe. */
  expected(): Map<string, string> {
    const out = new Map<string, string>();
    const mem = (attr: number) => (attr === MEM_ATTR.UNCACHED ? "normal-nc" : "normal-wb");
    for (const [page, o] of this.owner) {
      const p = this.inParcel(page);
      const s = p?.sides.find((x) => x.vmid === o.vmid);
      if (p === undefined) out.set(`${page}:${o.vmid}`, `${o.ipa} rwx normal-wb`);
      else if (p.type === SHARE)
        out.set(`${page}:${o.vmid}`, `${o.ipa} ${letters(s!.rights)} ${mem(s!.attr)}`);
    }
    for (const p of this.parcels.values())
      for (const s of p.sides.filter((x) => x.mapped)) {
        let off = 0;
        p.regions.forEach((r, i) => {
          const base = s.contiguous ? s.ipas[0]! + off : s.ipas[i]!;
          r.pages.forEach((page, j) =>
            out.set(`${page}:${s.vmid}`, `${base + j * PAGE} ${letters(s.rights)} ${mem(s.attr)}`),
          );
          off += r.pages.length * PAGE;
        });
      }
    return out;
  }
}

/** page:vmid -> "ipa access memType" from every VM's stage-2 leaves. */
function fromTables(m: Machine): Map<string, string> {
  const out = new Map<string, string>();
  const leaf = (vmid: number) => (l: LeafVisit) => {
    const s = Math.max(l.pa, RAM);
    const e = Math.min(l.pa + l.size, RAM + U * PAGE);
    if (s >= e) return;
    const acc = accessOf(STAGE2_FORMAT.perm(l.levelIndex, l.lo, l.hi), true);
    const mt = STAGE2_FORMAT.attributes(l.levelIndex, l.lo, l.hi).memType;
    for (let pa = s; pa < e; pa += PAGE) {
      const key = `${(pa - RAM) / PAGE}:${vmid}`;
      if (out.has(key)) expect.unreachable(`${key} mapped twice`);
      out.set(key, `${l.va + (pa - l.pa)} ${acc} ${mt}`);
    }
  };
  // Every IPA of every VM, but the host's own device memory and its RAM beyond the universe
  // (hundreds of leaves mapping other pages one to one, which its RAM's mapping keeps others from).
  const hostEnd = RAM + m.hyp.platform.map.findRange(RAM, PAGE)!.size;
  const skip = [
    [HOST_MMIO_BASE, HOST_MMIO_BASE + HOST_MMIO_SIZE],
    [RAM + U * PAGE, hostEnd],
  ] as const;
  for (const v of m.hyp.list()) {
    if (v !== m.hyp.host) v.stage2.walk({ leaf: leaf(v.vmid) });
    else
      for (const [a, b] of [
        [0, skip[0][0]],
        [skip[0][1], skip[1][0]],
        [skip[1][1], 2 ** IPA_BITS],
      ])
        v.stage2.walk({ leaf: leaf(v.vmid) }, a, b);
  }
  return out;
}

const vmidOf = (master: string) =>
  master.startsWith("hlos.") ? HOST : Number(/^vm(\d+)\./.exec(master)![1]);

/** The same from the platform graph, and every cached TLB entry into the universe agreeing. */
function fromGraph(m: Machine, want: Map<string, string>): Map<string, string> {
  const masters = m.hyp.list().flatMap((v) => v.vcpus.map((c) => c.name));
  const reach = reachableBy(m.platform, masters, RAM, RAM + U * PAGE);
  const out = new Map<string, string>();
  for (const p of reach.paths)
    for (let pa = p.phys.start; pa < p.phys.end; pa += PAGE)
      out.set(
        `${(pa - RAM) / PAGE}:${vmidOf(p.master)}`,
        `${p.input.start + (pa - p.phys.start)} ${p.access} ${p.memType}`,
      );
  for (const c of reach.cached)
    for (let pa = Math.max(c.pa, RAM); pa < Math.min(c.pa + c.size, RAM + U * PAGE); pa += PAGE)
      expect(
        want.get(`${(pa - RAM) / PAGE}:${vmidOf(c.master)}`)?.split(" ")[0],
        `stale TLB entry ${c.master}`,
      ).toBe(`${c.va + (pa - c.pa)}`);
  return out;
}

export function checkInvariants(m: Machine, model: Model): void {
  const want = model.expected();
  expect(text(fromTables(m))).toBe(text(want));
  expect(text(fromGraph(m, want))).toBe(text(want));
  // Two VMs on one page only when both are in the ACL of its parcel.
  const byPage = new Map<number, number[]>();
  for (const k of want.keys()) {
    const [page, vmid] = k.split(":").map(Number) as [number, number];
    byPage.set(page, [...(byPage.get(page) ?? []), vmid]);
  }
  for (const [page, vmids] of byPage)
    if (vmids.length > 1)
      for (const v of vmids) expect(model.inParcel(page)?.acl.some((e) => e.vmid === v)).toBe(true);
  // Parcels and their sides; ownership; taken IPAs: both sides as text, compared once.
  const rm: string[] = [];
  const mine: string[] = [];
  for (const p of m.rm.parcels.list()) {
    expect(p.state === "SHARED").toBe(p.vms.some((v) => v.shared));
    const sides = p.vms.map((v) => `${v.vmid} ${v.shared} ${v.mapped} ${v.ipas.join()}`);
    rm.push(
      `${p.handle} ${p.state} ${p.regions.map((r) => `${r.ipa}+${r.size}`).join()} | ${sides.join(" | ")}`,
    );
  }
  for (const p of [...model.parcels.values()].sort((a, b) => a.handle - b.handle)) {
    const sides = p.sides.map((s) => `${s.vmid} ${s.shared} ${s.mapped} ${s.ipas.join()}`);
    const regions = p.regions.map((r) => `${r.ipa}+${r.pages.length * PAGE}`).join();
    mine.push(`${p.handle} ${p.state} ${regions} | ${sides.join(" | ")}`);
  }
  for (const [page, o] of model.owner) {
    rm.push(`page ${page}: ${m.hyp.ownership.ownerOf(RAM + page * PAGE, RAM + (page + 1) * PAGE)}`);
    mine.push(`page ${page}: ${o.vmid}`);
  }
  for (const v of m.hyp.list()) {
    rm.push(
      `${v.vmid} takes ${v.ipaSpace
        .list()
        .map((r) => `${r.start}-${r.end}`)
        .join()}`,
    );
    mine.push(`${v.vmid} takes ${ranges(model.taken.get(v.vmid)!)}`);
  }
  expect(rm.join("\n")).toBe(mine.join("\n"));
}

/** A map as sorted lines (compared as one string: fast, and a readable diff). */
const text = (map: Map<string, string>) =>
  [...map]
    .map(([k, v]) => `${k} ${v}`)
    .sort()
    .join("\n");

/** IPA pages as merged ranges, `start-end,...` as IpaSpace.list() gives them. */
function ranges(pages: Set<number>): string {
  const out: Array<[number, number]> = [];
  for (const q of [...pages].sort((a, b) => a - b)) {
    const last = out[out.length - 1];
    if (last !== undefined && last[1] === q * PAGE) last[1] += PAGE;
    else out.push([q * PAGE, (q + 1) * PAGE]);
  }
  return out.map(([a, b]) => `${a}-${b}`).join();
}
