/**
 * A model-based randomized test of the semantic RM: random sequences of creates (LEND / SHARE /
 * DONATE, with and without APPEND, random ACLs and attributes, small SGLs inside the host's RAM
 * or a guest's donated memory), appends, accepts (DONE or not, contiguous, SANITIZE, RM-chosen
 * or caller IPAs), releases, reclaims, notifies, guest boots / stops / exits / resets, and vCPU
 * accesses. A page-level model written from the reference (§7, §8) predicts whether each call
 * succeeds and what it does; after every step:
 *
 * (a) who maps each page of the universe — read from the stage-2 tables, and again from the
 *     platform graph (`reachableBy` over the universe: live paths and TLB entries) — is exactly
 *     what the model says: a page is reachable by two VMs only when both are in the ACL of the
 *     parcel it belongs to (the owner only for a SHARE), a guest only reaches memory of parcels
 *     it accepted with DONE (or memory donated to it), with the ACL's rights and attribute;
 * (b) the owner's access follows the parcel states (lent / donated: none; shared: its ACL
 *     rights; otherwise, reclaimed included: full rights);
 * (c) a refused call changed nothing (digest) and posted no notification;
 * (d) every parcel's state and each VM's side match the model (SHARED iff some VM holds it),
 *     as do page ownership and every VM's taken IPAs.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RM_IPA_WINDOW } from "../hyp/ipa-space.js";
import { VM_STATE } from "../hyp/vm.js";
import type { AcceptArgs } from "./memparcel.js";
import type { Machine, MParcel } from "./rm.testutil.js";
import {
  calls,
  checkInvariants,
  expectCall,
  faults,
  G1,
  G2,
  G3,
  HOST,
  machine,
  Model,
  MODEL_PAGES,
  PAGE,
  pagesOf,
  RAM,
  SIZE_2M,
  withGuests,
} from "./rm.testutil.js";
import type { AclEntry, AttrEntry, SglEntry } from "./types.js";
import { ACCEPT_FLAGS, MEM_ATTR, NOTIFY_FLAGS, RIGHTS, TRANS_TYPE } from "./types.js";

const U = MODEL_PAGES;
const VMS = [HOST, G1, G2, G3];
const MEM_BASE = 0x8000_0000;
const SLOTS = 0x1_0000_0000; // where caller-chosen IPAs go
const { LEND, SHARE, DONATE } = TRANS_TYPE;
const validRights = (r: number) => [RIGHTS.R, RIGHTS.RX, RIGHTS.RW, RIGHTS.RWX].includes(r as 4);

const vmA = fc.integer({ min: 0, max: 3 });
const sglA = fc.array(fc.record({ at: fc.nat(23), n: fc.integer({ min: 1, max: 2 }) }), {
  minLength: 1,
  maxLength: 3,
});
/** An operation of `kind` with random `fields`, drawn `weight` times in so many. */
function opOf<K extends string, F>(
  weight: number,
  kind: K,
  fields: { [k in keyof F]: fc.Arbitrary<F[k]> },
) {
  return { weight, arbitrary: fc.record(fields).map((f) => ({ kind, ...f })) };
}
const often = <T>(v: T, weight: number, other: fc.Arbitrary<T>) =>
  fc.oneof({ weight, arbitrary: fc.constant(v) }, other);
const opA = fc.oneof(
  opOf(6, "create", {
    owner: often(0, 3, vmA),
    type: fc.integer({ min: 0, max: 2 }),
    acl: fc.subarray([0, 1, 2, 3], { minLength: 1, maxLength: 3 }),
    fix: fc.nat(5),
    rights: fc.array(fc.constantFrom(4, 5, 6, 7, 7, 7, 2), { minLength: 4, maxLength: 4 }),
    sgl: sglA,
    append: fc.nat(3),
    sanitize: fc.boolean(),
    label: fc.nat(1),
    attr: often<number | null>(null, 3, fc.nat(2)),
  }),
  opOf(1, "append", { h: fc.nat(), asOwner: fc.boolean(), sgl: sglA, end: fc.boolean() }),
  opOf(5, "accept", {
    h: fc.nat(),
    vm: fc.nat(),
    done: often(true, 4, fc.constant(false)),
    contig: fc.boolean(),
    sanitize: fc.nat(5),
    caller: fc.boolean(),
    slot: fc.nat(63),
    wrongType: fc.nat(19),
  }),
  opOf(2, "release", { h: fc.nat(), vm: fc.nat(), sanitize: fc.nat(3) }),
  opOf(2, "reclaim", { h: fc.nat(), asOwner: fc.nat(4), sanitize: fc.boolean() }),
  opOf(1, "notify", {
    h: fc.nat(),
    vm: fc.nat(),
    flag: fc.constantFrom(1, 2, 4, 8),
    tag: fc.nat(2),
    vmids: fc.subarray([0, 1, 2, 3]),
  }),
  opOf(3, "vm", {
    g: fc.nat(),
    what: fc.constantFrom("boot", "stop", "forceStop", "exit", "reset", "reset"),
    page: fc.nat(7),
  }),
  opOf(1, "gift", { g: fc.integer({ min: 1, max: 3 }), sgl: sglA, contig: fc.boolean() }),
  opOf(2, "touch", { vm: vmA, pick: fc.nat(), write: fc.boolean() }),
);
type Op = typeof opA extends fc.Arbitrary<infer T> ? T : never;

function create(
  m: Machine,
  model: Model,
  owner: number,
  type: number,
  acl: AclEntry[],
  sgl: SglEntry[],
  flags: number,
  label: number,
  attrs: AttrEntry[],
): number | undefined {
  const ownerIn = acl.some((e) => e.vmid === owner);
  const regions = model.regionsOf(owner, sgl);
  const predicted =
    acl.every((e) => validRights(e.rights)) &&
    (type !== DONATE ||
      (acl.length === 1 && acl[0]!.rights === RIGHTS.RWX && attrs.length === 0)) &&
    (type === SHARE) === ownerIn &&
    regions !== undefined;
  const r = expectCall(m, predicted, () =>
    m.rm.parcels.create(owner, type, { memType: 0, flags, label, acl, sgl, attrs }),
  );
  if (r.err !== "OK") return undefined;
  expect(r.value).toBe(model.nextHandle++);
  const attrOf = (v: number) => attrs.find((a) => a.vmid === v)?.attr ?? MEM_ATTR.NORMAL;
  const sides = acl.map((e) => ({
    vmid: e.vmid,
    rights: e.rights,
    attr: attrOf(e.vmid),
    shared: false,
    mapped: false,
    contiguous: false,
    ipas: [],
  }));
  model.parcels.set(r.value, {
    handle: r.value,
    owner,
    type,
    label,
    acl,
    state: flags & 2 ? "INIT" : "SHARING",
    regions: regions!,
    sides,
  });
  return r.value;
}

/** Mostly a VM of the parcel's ACL (not its owner), now and then any VM. */
function memberOf(p: MParcel | undefined, n: number): number {
  const others = p?.sides.filter((s) => s.vmid !== p.owner) ?? [];
  return n % 6 === 0 || others.length === 0 ? VMS[n % 4]! : others[n % others.length]!.vmid;
}

function accept(
  m: Machine,
  model: Model,
  op: Extract<Op, { kind: "accept" }>,
  handle: number,
): void {
  const p = model.parcels.get(handle);
  const vmid = memberOf(p, op.vm);
  const s = p?.sides.find((x) => x.vmid === vmid);
  const flags =
    (op.done ? ACCEPT_FLAGS.DONE : 0) |
    (op.contig ? ACCEPT_FLAGS.MAP_CONTIGUOUS : 0) |
    (op.sanitize === 0 ? ACCEPT_FLAGS.SANITIZE : 0);
  let predicted =
    p !== undefined &&
    s !== undefined &&
    op.wrongType !== 0 &&
    vmid !== p.owner &&
    !s.mapped &&
    p.state !== "INIT";
  predicted &&=
    !(op.contig && s!.ipas.length > 0 && !s!.contiguous) &&
    (op.sanitize !== 0 || (s!.rights & RIGHTS.W) !== 0);
  const contiguous = s !== undefined && (s.ipas.length > 0 ? s.contiguous || op.contig : op.contig);
  const sizes =
    p === undefined
      ? []
      : contiguous
        ? [model.size(p)]
        : p.regions.map((r) => r.pages.length * PAGE);
  const want = sizes.slice(s?.ipas.length ?? 0);
  let sgl: SglEntry[] = [];
  if (op.caller) {
    let at = SLOTS + op.slot * PAGE;
    sgl = want.map((size) => ({ ipa: (at += size) - size, size }));
    const t = model.taken.get(vmid);
    predicted &&= sgl.every((e) => pagesOf(e.ipa, e.size).every((q) => !t?.has(q)));
  }
  const a: AcceptArgs = {
    handle,
    memType: 0,
    transType: (p?.type ?? 0) + (op.wrongType === 0 ? 1 : 0),
    flags,
    label: 0,
    acl: [],
    sgl,
    attrs: [],
    mapVmid: 0,
  };
  const r = expectCall(m, predicted, () => m.rm.parcels.accept(vmid, a));
  if (r.err !== "OK") return;
  const got = op.caller ? sgl : r.value!.sgl;
  expect(got.map((e) => e.size)).toEqual(want);
  for (const e of got) {
    if (!op.caller)
      expect(
        e.ipa % (e.size >= SIZE_2M ? SIZE_2M : PAGE) === 0 && e.ipa >= RM_IPA_WINDOW.base,
      ).toBe(true);
    expect(model.take(vmid, e.ipa, e.size), "an IPA taken twice").toBe(true);
  }
  model.accepted(
    p!,
    s!,
    got.map((e) => e.ipa),
    contiguous,
    op.done,
  );
}

function vmOp(m: Machine, model: Model, op: Extract<Op, { kind: "vm" }>): void {
  // Mostly a guest the operation suits (booted for stop / exit, exited for reset).
  const fits = [G1, G2, G3].filter(
    (v) =>
      model.state.get(v) ===
      (op.what === "boot"
        ? VM_STATE.LOAD
        : op.what === "reset"
          ? VM_STATE.EXITED
          : VM_STATE.RUNNING),
  );
  const g =
    op.g % 4 === 0 || fits.length === 0 ? [G1, G2, G3][op.g % 3]! : fits[op.g % fits.length]!;
  const st = model.state.get(g)!;
  if (op.what === "boot") {
    if (st !== VM_STATE.LOAD && st !== VM_STATE.RESET)
      return void expectCall(m, false, () => m.rm.vms.start(HOST, g));
    const image = create(
      m,
      model,
      HOST,
      LEND,
      [{ vmid: g, rights: RIGHTS.RWX }],
      [{ ipa: RAM + (24 + op.page) * PAGE, size: PAGE }],
      0,
      0,
      [],
    );
    if (image === undefined) return;
    expectCall(m, true, () =>
      m.rm.vms.configImage(HOST, {
        vmid: g,
        auth: 0,
        handle: image,
        imageOffset: 0,
        imageSize: PAGE,
        dtbOffset: 0,
        dtbSize: 0,
      }),
    );
    expectCall(m, true, () => m.rm.vms.init(HOST, g));
    expectCall(m, true, () => m.rm.vms.start(HOST, g));
    // VM_START's accepts: the image at the memory base, then private parcels after it.
    let next = MEM_BASE;
    const rest = [...model.parcels.values()]
      .filter((p) => p.handle !== image)
      .sort((x, y) => x.handle - y.handle);
    for (const p of [model.parcels.get(image)!, ...rest]) {
      const s = p.sides.find((x) => x.vmid === g);
      const own = p.acl.length === 1 && s !== undefined && s.rights === RIGHTS.RWX && p.label === 0;
      if (p.handle !== image && (!own || p.state === "INIT" || s.shared)) continue;
      expect(model.take(g, next, model.size(p))).toBe(true);
      model.accepted(p, s!, [next], true, true);
      next += model.size(p);
    }
    model.state.set(g, VM_STATE.RUNNING);
  } else if (op.what === "stop" || op.what === "forceStop") {
    const r = expectCall(m, st === VM_STATE.RUNNING, () =>
      m.rm.vms.stop(HOST, g, op.what === "forceStop" ? 1 : 0, 0),
    );
    if (r.err === "OK" && op.what === "forceStop") model.state.set(g, VM_STATE.EXITED);
  } else if (op.what === "exit") {
    if (expectCall(m, st === VM_STATE.RUNNING, () => m.rm.vms.exit(g, 0, 0)).err === "OK")
      model.state.set(g, VM_STATE.EXITED);
  } else {
    const held = [...model.parcels.values()].filter((p) =>
      p.sides.some((s) => s.vmid === g && s.shared),
    );
    const posted = m.log.length;
    if (expectCall(m, st === VM_STATE.EXITED, () => m.rm.vms.reset(HOST, g)).err !== "OK") return;
    expect(
      m.log
        .slice(posted)
        .filter((n) => n.kind === "MEM_RELEASED")
        .map((n) => [n.to, n.kind === "MEM_RELEASED" && n.handle]),
    ).toEqual(held.map((p) => [p.owner, p.handle]));
    for (const p of held)
      model.release(
        p,
        p.sides.find((s) => s.vmid === g)!,
      );
    model.state.set(g, VM_STATE.RESET);
  }
}

function step(m: Machine, model: Model, op: Op): void {
  const live = [...model.parcels.keys()].sort((a, b) => a - b);
  // Mostly a live parcel (the newest more often), now and then a handle that is none.
  const pick = (h: number) =>
    h % 24 === 0 || live.length === 0
      ? 0x7777
      : h % 3 === 0
        ? live[live.length - 1]!
        : live[h % live.length]!;
  const sglOf = (owner: number, e: Array<{ at: number; n: number }>) => {
    if (owner === HOST) return e.map(({ at, n }) => ({ ipa: RAM + at * PAGE, size: n * PAGE }));
    const ipas = [...model.owner.values()]
      .filter((o) => o.vmid === owner)
      .map((o) => o.ipa)
      .sort((a, b) => a - b);
    return ipas.length === 0
      ? [{ ipa: SLOTS, size: PAGE }]
      : e.map(({ at, n }) => ({ ipa: ipas[at % ipas.length]!, size: n * PAGE }));
  };
  switch (op.kind) {
    case "create": {
      // A guest owner is mostly one that owns memory (donated to it).
      const rich = [G1, G2, G3].filter((g) => [...model.owner.values()].some((o) => o.vmid === g));
      const owner =
        op.owner === 0
          ? HOST
          : rich.length > 0 && op.owner !== 1
            ? rich[op.owner % rich.length]!
            : VMS[op.owner]!;
      let acl = op.acl.map((i) => ({ vmid: VMS[i]!, rights: op.rights[i]! }));
      if (op.fix > 0) {
        // Mostly well-formed: the owner in the ACL exactly for a SHARE, a DONATE to one VM, RWX.
        acl = acl.filter((e) => e.vmid !== owner);
        if (acl.length === 0)
          acl.push({ vmid: VMS[(VMS.indexOf(owner) + 1) % 4]!, rights: RIGHTS.RW });
        if (op.type === SHARE)
          acl.splice(op.fix % (acl.length + 1), 0, { vmid: owner, rights: op.rights[op.fix % 4]! });
        if (op.type === DONATE) acl = [{ vmid: acl[0]!.vmid, rights: RIGHTS.RWX }];
      }
      const attrs =
        op.attr === null
          ? []
          : [{ vmid: acl[op.attr % acl.length]!.vmid, attr: MEM_ATTR.UNCACHED }];
      // No private DONATE parcels (label 0, one RWX entry): VM_START would accept them for good.
      const label = op.type === DONATE ? 1 : op.label;
      return void create(
        m,
        model,
        owner,
        op.type,
        acl,
        sglOf(owner, op.sgl),
        (op.append === 0 ? 2 : 0) | (op.sanitize ? 1 : 0),
        label,
        attrs,
      );
    }
    case "append": {
      const h = pick(op.h);
      const p = model.parcels.get(h);
      const caller = op.asOwner && p !== undefined ? p.owner : HOST;
      const sgl = sglOf(caller, op.sgl);
      const regions = p === undefined ? undefined : model.regionsOf(caller, sgl, p.regions);
      const r = expectCall(
        m,
        p !== undefined && caller === p.owner && p.state === "INIT" && regions !== undefined,
        () => m.rm.parcels.append(caller, h, op.end ? 1 : 0, sgl),
      );
      if (r.err === "OK") {
        p!.regions.push(...regions!);
        if (op.end) p!.state = "SHARING";
      }
      return;
    }
    case "accept":
      return accept(m, model, op, pick(op.h));
    case "release": {
      const h = pick(op.h);
      const p = model.parcels.get(h);
      const vmid = memberOf(p, op.vm);
      const s = p?.sides.find((x) => x.vmid === vmid);
      const predicted =
        s !== undefined &&
        vmid !== p!.owner &&
        s.shared &&
        (op.sanitize > 0 || (s.rights & RIGHTS.W) !== 0);
      if (
        expectCall(m, predicted, () => m.rm.parcels.release(vmid, h, op.sanitize === 0 ? 1 : 0))
          .err === "OK"
      )
        model.release(p!, s!);
      return;
    }
    case "reclaim": {
      const h = pick(op.h);
      const p = model.parcels.get(h);
      const caller = op.asOwner > 0 && p !== undefined ? p.owner : VMS[op.asOwner % 4]!;
      if (
        expectCall(m, p !== undefined && caller === p.owner && p.state !== "SHARED", () =>
          m.rm.parcels.reclaim(caller, h, op.sanitize ? 1 : 0),
        ).err === "OK"
      )
        model.parcels.delete(h);
      return;
    }
    case "notify": {
      const h = pick(op.h);
      const p = model.parcels.get(h);
      const toOwner = op.flag === NOTIFY_FLAGS.ACCEPTED || op.flag === NOTIFY_FLAGS.RELEASED;
      const vmid = toOwner
        ? memberOf(p, op.vm)
        : op.vm % 5 === 0 || p === undefined
          ? VMS[op.vm % 4]!
          : p.owner;
      const vmids = op.vmids
        .map((i) => (p === undefined || i === 3 ? VMS[i]! : p.acl[i % p.acl.length]!.vmid))
        .filter((v, i, a) => a.indexOf(v) === i);
      const s = p?.sides.find((x) => x.vmid === vmid);
      let predicted = p !== undefined && (p.tag === undefined || p.tag === op.tag);
      if (toOwner)
        predicted &&= s !== undefined && s.shared === (op.flag === NOTIFY_FLAGS.ACCEPTED);
      else
        predicted &&=
          vmid === p!.owner &&
          vmids.length > 0 &&
          vmids.every((v) => p!.acl.some((e) => e.vmid === v));
      const posted = m.log.length;
      if (
        expectCall(m, predicted, () =>
          m.rm.parcels.notifyCall(vmid, h, op.flag, op.tag, toOwner ? undefined : vmids),
        ).err !== "OK"
      )
        return;
      expect(m.log.slice(posted).map((n) => n.to)).toEqual(toOwner ? [p!.owner] : vmids);
      if (op.flag === NOTIFY_FLAGS.SHARED) p!.tag ??= op.tag;
      return;
    }
    case "vm":
      return vmOp(m, model, op);
    case "gift": {
      // A donation from the host accepted at once: guests come to own memory they may pass on.
      const h = create(
        m,
        model,
        HOST,
        DONATE,
        [{ vmid: VMS[op.g]!, rights: RIGHTS.RWX }],
        sglOf(HOST, op.sgl),
        0,
        1,
        [],
      );
      if (h !== undefined)
        accept(
          m,
          model,
          {
            kind: "accept",
            h: 0,
            vm: 1,
            done: true,
            contig: op.contig,
            sanitize: 1,
            caller: false,
            slot: 0,
            wrongType: 1,
          },
          h,
        );
      return;
    }
    case "touch": {
      // A real access through the vCPU (and its TLB): it works exactly where the model maps it.
      const vmid = VMS[op.vm]!;
      const mine = [...model.expected()]
        .filter(([k]) => k.endsWith(`:${vmid}`))
        .map(([, v]) => v.split(" "));
      const [ipa, acc] =
        op.pick % 4 === 0 || mine.length === 0
          ? [`${RAM + (op.pick % U) * PAGE}`, ""]
          : mine[op.pick % mine.length]!;
      const wantAcc = mine.find(([i]) => i === ipa)?.[1] ?? acc;
      const cpu = m.hyp.vm(vmid)!.vcpus[0]!;
      const f = faults(() =>
        op.write
          ? cpu.write(Number(ipa), new Uint8Array([op.pick & 0xff]))
          : cpu.read(Number(ipa), 8),
      );
      expect(f).toBe(!wantAcc!.includes(op.write ? "w" : "r"));
      return;
    }
  }
}

describe("the semantic RM against a page-level model", () => {
  it("keeps the invariants after every step of random sequences", () => {
    fc.assert(
      fc.property(fc.array(opA, { minLength: 1, maxLength: 40, size: "max" }), (ops) => {
        const m = machine({ hostRamSize: 2 * 1024 * 1024 });
        withGuests(m, 3);
        const model = new Model(m);
        checkInvariants(m, model);
        for (const op of ops) {
          const passed = calls.passed;
          step(m, model, op);
          // A step whose every call was refused left the digest (stage-2 leaves, parcels,
          // ownership, IPA spaces) as it was, checked by expectCall: the invariants checked
          // before still hold. An access may fill TLBs: checked again.
          if (calls.passed !== passed || op.kind === "touch") checkInvariants(m, model);
        }
      }),
      { numRuns: 200 },
    );
  });
});
