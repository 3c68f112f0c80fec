/**
 * A model-based test of the VCM core: random sequences of reserve / physAlloc / back / unback /
 * unreserve / physFree / assoc / deassoc / activate / deactivate, now and then setResAttr,
 * clone, freeVcm, createBound / reserveFromBound / freeBound, and table-allocation failures
 * injected into back, activate and clone — on two device VCMs over the same addresses that
 * share the vfe context (and may come to share others), the user prebuilt VCM and a one-to-one
 * VCM (and their clones).
 *
 * A small model says which call must fail with which code (the preconditions the header and
 * the doc comments state); a call it cannot judge (an alias, an exhausted pool, an injected
 * failure) may fail only with a code its function documents. After every step:
 * - the manager's bookkeeping is the model's (reservations, backing, associations, physmems);
 * - every backed reservation translates to its physmem, leaf by leaf and through the device
 *   itself, in every active associated device (SMMU context, CPU, one-to-one), and bytes
 *   written through one device read back through every other that maps the same physmem;
 * - no leaf of any table points into memory no live physmem holds, and each table holds exactly
 *   the reservations the model says it should (nothing stale);
 * - the pools' free bytes are what the live physmems don't hold;
 * - the owner labels name live objects only, and every mapped reservation where it is mapped;
 * - a refused call changed nothing (vcm.testutil.ts `vcmState`).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";

import type { ErrorCode } from "../base/errors.js";
import { MemweaveError } from "../base/errors.js";
import type { BusMaster } from "../devices/bus-master.js";
import type { AnyPageTable } from "../mmu/page-table.js";
import type { Association, VcmDevice } from "./association.js";
import {
  VCM_1MB,
  VCM_4KB,
  VCM_64KB,
  VCM_ALIGN_64K,
  VCM_EXECUTE,
  VCM_MEMTYPE_0,
  VCM_NOTCACHED,
  VCM_PHYS_CONT,
  VCM_PREBUILT_USER,
  VCM_READ,
  VCM_WB_NWA,
  VCM_WB_WA,
  VCM_WRITE,
  VCM_WT,
} from "./attrs.js";
import type { Bound } from "./bound.js";
import type { Physmem } from "./physmem.js";
import type { Reservation } from "./reservation.js";
import { SmmuDev } from "./smmu/driver.js";
import type { Vcm } from "./vcm.js";
import type { VcmMachine } from "./vcm.testutil.js";
import {
  CONTEXTS,
  K,
  leavesOf,
  liveTables,
  M,
  USER_VA,
  vcmMachine,
  vcmState,
} from "./vcm.testutil.js";

const RW = VCM_READ | VCM_WRITE;
const LENS = [4 * K, 5000, 12 * K, 64 * K, 68 * K, M, M + 68 * K, 2 * M + 4 * K];
const RES_ATTRS = [
  RW | VCM_NOTCACHED,
  RW | VCM_WB_WA,
  VCM_READ | VCM_WT,
  RW | VCM_EXECUTE | VCM_WB_NWA,
  RW | VCM_ALIGN_64K,
];
const PHYS_ATTRS = [0, VCM_4KB, VCM_64KB | VCM_4KB, VCM_PHYS_CONT, VCM_1MB | VCM_4KB];
const SMMU_CONTEXTS = ["vcodec", "vfe", "jpeg"] as const;
const MAX_VCMS = 6;
const PAGES = { tables: "pages" } as const;
/** Where the model's VCMs map: device VCMs at 0x1000_0000 (32M), the user VCM's range. */
const MAPPED = {
  smmu: [0x1000_0000, 0x1000_0000 + 32 * M],
  cpu: [USER_VA, USER_VA + 256 * M],
} as const;

// --- Operations ----------------------------------------------------------------------------------

type Op =
  | { op: "reserve"; v: number; len: number; attr: number; dead: boolean }
  | { op: "physAlloc"; len: number; attr: number }
  | { op: "back"; r: number; p: number; match: boolean; dead: boolean; fail: number | null }
  | { op: "unback"; r: number; dead: boolean }
  | { op: "unreserve"; r: number; dead: boolean }
  | { op: "physFree"; p: number; dead: boolean }
  | { op: "assoc"; v: number; d: number; dead: boolean }
  | { op: "deassoc"; a: number; dead: boolean }
  | { op: "activate"; a: number; dead: boolean; fail: number | null }
  | { op: "deactivate"; a: number; dead: boolean }
  | { op: "setResAttr"; r: number; attr: number; dead: boolean }
  | { op: "clone"; v: number; dead: boolean; fail: number | null }
  | { op: "freeVcm"; v: number; dead: boolean }
  | { op: "createBound"; v: number; len: number; dead: boolean }
  | { op: "reserveFromBound"; b: number; len: number; attr: number; dead: boolean }
  | { op: "freeBound"; b: number; dead: boolean };

const idx = fc.nat(40);
/** Now and then a table-allocation failure after 0..5 allocations. */
const injected: fc.Arbitrary<number | null> = fc.oneof(
  { weight: 5, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.nat(5) },
);
const len = fc.constantFrom(...LENS);
const resAttr = fc.constantFrom(...RES_ATTRS);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant("reserve" as const),
      v: idx,
      len,
      attr: resAttr,
      dead: fc.constant(false),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant("physAlloc" as const),
      len,
      attr: fc.constantFrom(...PHYS_ATTRS),
    }),
  },
  {
    weight: 9,
    arbitrary: fc.record({
      op: fc.constant("back" as const),
      r: idx,
      p: idx,
      match: fc.nat(9).map((n) => n < 8),
      dead: fc.constant(false),
      fail: injected,
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant("unback" as const), r: idx, dead: fc.constant(false) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("unreserve" as const),
      r: idx,
      dead: fc.constant(false),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("physFree" as const),
      p: idx,
      dead: fc.constant(false),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("assoc" as const),
      v: idx,
      d: idx,
      dead: fc.constant(false),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant("deassoc" as const), a: idx, dead: fc.constant(false) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("activate" as const),
      a: idx,
      dead: fc.constant(false),
      fail: injected,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("deactivate" as const),
      a: idx,
      dead: fc.constant(false),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("setResAttr" as const),
      r: idx,
      attr: resAttr,
      dead: fc.constant(false),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("clone" as const),
      v: idx,
      dead: fc.constant(false),
      fail: injected,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant("freeVcm" as const), v: idx, dead: fc.constant(false) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("createBound" as const),
      v: idx,
      len: fc.constantFrom(M, 4 * M),
      dead: fc.constant(false),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("reserveFromBound" as const),
      b: idx,
      len,
      attr: resAttr,
      dead: fc.constant(false),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("freeBound" as const),
      b: idx,
      dead: fc.constant(false),
    }),
  },
  // The same calls on freed handles (use after free is EINVAL).
  {
    weight: 3,
    arbitrary: fc.oneof(
      fc.record({
        op: fc.constant("back" as const),
        r: idx,
        p: idx,
        match: fc.constant(true),
        dead: fc.constant(true),
        fail: fc.constant(null),
      }),
      fc.record({ op: fc.constant("unback" as const), r: idx, dead: fc.constant(true) }),
      fc.record({ op: fc.constant("unreserve" as const), r: idx, dead: fc.constant(true) }),
      fc.record({ op: fc.constant("physFree" as const), p: idx, dead: fc.constant(true) }),
      fc.record({
        op: fc.constant("activate" as const),
        a: idx,
        dead: fc.constant(true),
        fail: fc.constant(null),
      }),
      fc.record({ op: fc.constant("deassoc" as const), a: idx, dead: fc.constant(true) }),
      fc.record({
        op: fc.constant("reserve" as const),
        v: idx,
        len,
        attr: resAttr,
        dead: fc.constant(true),
      }),
      fc.record({
        op: fc.constant("clone" as const),
        v: idx,
        dead: fc.constant(true),
        fail: fc.constant(null),
      }),
      fc.record({ op: fc.constant("freeBound" as const), b: idx, dead: fc.constant(true) }),
    ),
  },
);

/** The codes each function documents (header and doc comments). */
const DOCUMENTED: Record<Op["op"], readonly ErrorCode[]> = {
  reserve: ["EINVAL", "ENOMEM"],
  physAlloc: ["EINVAL", "ENODEV", "ENOMEM"],
  back: ["EINVAL", "EAGAIN", "EBUSY", "ENOMEM"],
  unback: ["EINVAL", "EAGAIN"],
  unreserve: ["EINVAL", "EBUSY"],
  physFree: ["EINVAL", "EBUSY"],
  assoc: ["EINVAL", "EBUSY"],
  deassoc: ["EINVAL", "EBUSY"],
  activate: ["EINVAL", "ENODEV", "EBUSY", "ENOMEM"],
  deactivate: ["EINVAL", "ENOENT"],
  setResAttr: ["EINVAL", "EAGAIN"],
  clone: ["EINVAL", "ENOMEM"],
  freeVcm: ["EINVAL", "EBUSY"],
  createBound: ["EINVAL", "ENOMEM"],
  reserveFromBound: ["EINVAL", "ENOMEM"],
  freeBound: ["EINVAL", "EBUSY"],
};

// --- The model -------------------------------------------------------------------------------------

interface MVcm {
  readonly h: Vcm;
  live: boolean;
  readonly res: MRes[];
  readonly assocs: MAssoc[];
  readonly bounds: MBound[];
}
interface MRes {
  readonly h: Reservation;
  readonly vcm: MVcm;
  readonly bound: MBound | undefined;
  live: boolean;
  attr: number;
  backedBy: MPhys | undefined;
}
interface MAssoc {
  readonly h: Association;
  readonly vcm: MVcm;
  readonly device: VcmDevice;
  live: boolean;
  active: boolean;
  /** Its device holds the VCM's mappings (from its first activation to its deassoc). */
  programmed: boolean;
}
interface MPhys {
  readonly h: Physmem;
  live: boolean;
  readonly backers: Set<MRes>;
}
interface MBound {
  readonly h: Bound;
  readonly vcm: MVcm;
  live: boolean;
}

class World {
  readonly m: VcmMachine = vcmMachine();
  readonly vcms: MVcm[] = [];
  readonly res: MRes[] = [];
  readonly assocs: MAssoc[] = [];
  readonly phys: MPhys[] = [];
  readonly bounds: MBound[] = [];
  readonly poolTotal: number;

  constructor() {
    const { vcmm, cpu, mdp } = this.m;
    this.poolTotal = this.m.platform.target("vcm-pools").stats().freeBytes;
    const d1 = this.addVcm(vcmm.create(0x1000_0000, 32 * M, "D1"));
    const d2 = this.addVcm(vcmm.create(0x1000_0000, 32 * M, "D2"));
    const u = this.addVcm(vcmm.createFromPrebuilt(VCM_PREBUILT_USER, "U"));
    const o = this.addVcm(vcmm.create(this.m.cont.base, this.m.cont.size, "O"));
    // D1 runs on vcodec and vfe; D2 on jpeg, and is associated with vfe too (inactive: vfe
    // runs D1 and holds its mappings until D1 lets go of it).
    for (const [v, d, active] of [
      [d1, this.ctx("vcodec"), true],
      [d1, this.ctx("vfe"), true],
      [d2, this.ctx("jpeg"), true],
      [d2, this.ctx("vfe"), false],
      [u, cpu, true],
      [o, mdp, true],
    ] as const) {
      const a = this.addAssoc(v, v.h.assoc(d, 0));
      if (!active) continue;
      a.h.activate();
      a.active = true;
      a.programmed = a.device instanceof SmmuDev;
    }
  }

  ctx(name: string): SmmuDev {
    return this.m.vcmm.devices.getCtxInstance(name);
  }

  addVcm(h: Vcm): MVcm {
    const v: MVcm = { h, live: true, res: [], assocs: [], bounds: [] };
    this.vcms.push(v);
    return v;
  }

  addAssoc(vcm: MVcm, h: Association): MAssoc {
    const a: MAssoc = { h, vcm, device: h.device, live: true, active: false, programmed: false };
    vcm.assocs.push(a);
    this.assocs.push(a);
    return a;
  }

  addRes(vcm: MVcm, h: Reservation, bound?: MBound): MRes {
    const r: MRes = { h, vcm, bound, live: true, attr: h.getAttr(), backedBy: undefined };
    vcm.res.push(r);
    this.res.push(r);
    return r;
  }

  /** The devices a VCM of this kind may be associated with. */
  devicesFor(v: MVcm): VcmDevice[] {
    if (v.h.type === "device") return SMMU_CONTEXTS.map((c) => this.ctx(c));
    if (v.h.type === "one-to-one") return [this.m.mdp];
    return [this.m.cpu];
  }

  /** The bus master that accesses through a device, and whether it is the device itself. */
  masterOf(d: VcmDevice): BusMaster {
    if (d instanceof SmmuDev) return this.m.masters[CONTEXTS.indexOf(d.name as never)]!;
    return d;
  }
}

/**
 * A live handle (a freed one if `dead`), by index; four times in five among those `likely`
 * says the call would succeed on, when there are any (so that sequences get somewhere).
 */
function pick<T extends { live: boolean }>(
  all: readonly T[],
  i: number,
  dead: boolean,
  likely?: (x: T) => boolean,
): T | undefined {
  let some = all.filter((x) => x.live !== dead);
  if (!dead && likely !== undefined && i % 5 !== 0) {
    const better = some.filter(likely);
    if (better.length > 0) some = better;
  }
  return some.length === 0 ? undefined : some[i % some.length];
}

/** Whether every association of the VCM is active (and it has one). */
function allActive(v: MVcm): boolean {
  const live = v.assocs.filter((a) => a.live);
  return live.length > 0 && live.every((a) => a.active);
}

// --- Running one operation -------------------------------------------------------------------------

/** `"ok"`, a code the call must fail with, or the codes it may fail with (undefined: ok too). */
type Expect = { must: ErrorCode } | { may: readonly ErrorCode[] };

function run(w: World, op: Op): void {
  const { vcmm } = w.m;
  let expectOutcome: Expect = { may: [] };
  let call: (() => void) | undefined;
  let inject: number | null = null;
  switch (op.op) {
    case "reserve": {
      const v = pick(w.vcms, op.v, op.dead);
      if (v === undefined) return;
      expectOutcome = v.live ? { may: ["ENOMEM"] } : { must: "EINVAL" };
      call = () => void w.addRes(v, v.h.reserve(op.len, op.attr));
      break;
    }
    case "reserveFromBound": {
      const b = pick(w.bounds, op.b, op.dead);
      if (b === undefined) return;
      expectOutcome = b.live ? { may: ["ENOMEM"] } : { must: "EINVAL" };
      call = () => void w.addRes(b.vcm, b.h.reserve(op.len, op.attr), b);
      break;
    }
    case "createBound": {
      const v = pick(w.vcms, op.v, op.dead);
      if (v === undefined) return;
      expectOutcome =
        !v.live || v.h.type === "one-to-one" ? { must: "EINVAL" } : { may: ["ENOMEM"] };
      call = () => {
        const b = { h: v.h.createBound(op.len), vcm: v, live: true };
        v.bounds.push(b);
        w.bounds.push(b);
      };
      break;
    }
    case "freeBound": {
      const b = pick(w.bounds, op.b, op.dead);
      if (b === undefined) return;
      expectOutcome = !b.live
        ? { must: "EINVAL" }
        : b.vcm.res.some((r) => r.live && r.bound === b)
          ? { must: "EBUSY" }
          : { may: [] };
      call = () => {
        b.h.free();
        b.live = false;
      };
      break;
    }
    case "physAlloc":
      expectOutcome = { may: ["ENOMEM"] };
      call = () =>
        void w.phys.push({
          h: vcmm.physAlloc(VCM_MEMTYPE_0, op.len, op.attr),
          live: true,
          backers: new Set(),
        });
      break;
    case "back": {
      const r = pick(w.res, op.r, op.dead, (x) => !x.backedBy && allActive(x.vcm));
      if (r === undefined) return;
      if (op.match && r.live && !w.phys.some((p) => p.live && p.h.len === r.h.len)) {
        // A physmem of the reservation's length first (contiguous for a one-to-one VCM).
        const attr =
          r.vcm.h.type === "one-to-one" ? VCM_PHYS_CONT : PHYS_ATTRS[op.p % PHYS_ATTRS.length]!;
        try {
          w.phys.push({
            h: vcmm.physAlloc(VCM_MEMTYPE_0, r.h.len, attr),
            live: true,
            backers: new Set(),
          });
        } catch (e) {
          if (!(e instanceof MemweaveError && e.code === "ENOMEM")) throw e;
        }
      }
      const same = w.phys.filter((p) => p.live && p.h.len === r.h.len);
      const p =
        op.match && same.length > 0 && !op.dead
          ? same[op.p % same.length]!
          : pick(w.phys, op.p, op.dead);
      if (p === undefined) return;
      const v = r.vcm;
      const seg = p.h.segments();
      expectOutcome =
        !r.live || !p.live
          ? { must: "EINVAL" }
          : r.backedBy !== undefined
            ? { must: "EBUSY" }
            : r.h.len !== p.h.len || v.assocs.filter((a) => a.live).length === 0
              ? { must: "EINVAL" }
              : v.assocs.some((a) => a.live && !a.active)
                ? { must: "EAGAIN" }
                : v.h.type === "one-to-one" &&
                    (seg.length !== 1 ||
                      seg[0]!.pa < v.h.startAddr ||
                      seg[0]!.pa + r.h.size > v.h.startAddr + v.h.len)
                  ? { must: "EINVAL" }
                  : { may: ["EINVAL", "ENOMEM"] }; // an alias; an injected failure
      inject = op.fail;
      call = () => {
        r.h.back(p.h);
        r.backedBy = p;
        p.backers.add(r);
      };
      break;
    }
    case "unback": {
      const r = pick(w.res, op.r, op.dead, (x) => x.backedBy !== undefined);
      if (r === undefined) return;
      expectOutcome =
        !r.live || r.backedBy === undefined || r.vcm.assocs.filter((a) => a.live).length === 0
          ? { must: "EINVAL" }
          : r.vcm.assocs.some((a) => a.live && !a.active)
            ? { must: "EAGAIN" }
            : { may: [] };
      call = () => {
        r.h.unback();
        r.backedBy!.backers.delete(r);
        r.backedBy = undefined;
      };
      break;
    }
    case "unreserve": {
      const r = pick(w.res, op.r, op.dead, (x) => x.backedBy === undefined);
      if (r === undefined) return;
      expectOutcome = !r.live ? { must: "EINVAL" } : r.backedBy ? { must: "EBUSY" } : { may: [] };
      call = () => {
        r.h.unreserve();
        r.live = false;
      };
      break;
    }
    case "physFree": {
      const p = pick(w.phys, op.p, op.dead, (x) => x.backers.size === 0);
      if (p === undefined) return;
      expectOutcome = !p.live
        ? { must: "EINVAL" }
        : p.backers.size > 0
          ? { must: "EBUSY" }
          : { may: [] };
      call = () => {
        p.h.free();
        p.live = false;
      };
      break;
    }
    case "assoc": {
      // Mostly a VCM without a (live) association, with a device it has none with.
      const v = pick(w.vcms, op.v, op.dead, (x) => !x.assocs.some((a) => a.live));
      if (v === undefined) return;
      const all = w.devicesFor(v);
      const free = all.filter((d) => !v.assocs.some((a) => a.live && a.device === d));
      const devices = free.length > 0 && op.d % 5 !== 0 ? free : all;
      const d = devices[op.d % devices.length]!;
      expectOutcome = !v.live
        ? { must: "EINVAL" }
        : v.assocs.some((a) => a.live && a.device === d)
          ? { must: "EBUSY" }
          : { may: [] };
      call = () => void w.addAssoc(v, v.h.assoc(d, 0));
      break;
    }
    case "deassoc": {
      const a = pick(w.assocs, op.a, op.dead, (x) => !x.active);
      if (a === undefined) return;
      expectOutcome = !a.live ? { must: "EINVAL" } : a.active ? { must: "EBUSY" } : { may: [] };
      call = () => {
        a.h.deassoc();
        a.live = false;
        a.programmed = false;
      };
      break;
    }
    case "activate": {
      const a = pick(w.assocs, op.a, op.dead, (x) => !x.active);
      if (a === undefined) return;
      const others = w.assocs.filter((o) => o.live && o !== a && o.device === a.device);
      const smmu = a.device instanceof SmmuDev;
      expectOutcome = !a.live
        ? { must: "EINVAL" }
        : a.active
          ? { must: "EBUSY" }
          : smmu && others.some((o) => o.active || o.programmed)
            ? { must: "EBUSY" }
            : a.device === w.m.cpu && others.some((o) => o.active)
              ? { must: "EBUSY" }
              : { may: smmu ? ["EINVAL", "ENOMEM"] : [] }; // an alias going live; injected
      inject = op.fail;
      call = () => {
        a.h.activate();
        a.active = true;
        if (smmu) a.programmed = true;
      };
      break;
    }
    case "deactivate": {
      const a = pick(w.assocs, op.a, op.dead, (x) => x.active);
      if (a === undefined) return;
      expectOutcome = !a.live ? { must: "EINVAL" } : !a.active ? { must: "ENOENT" } : { may: [] };
      call = () => {
        a.h.deactivate();
        a.active = false;
      };
      break;
    }
    case "setResAttr": {
      const r = pick(w.res, op.r, op.dead, (x) => x.backedBy !== undefined);
      if (r === undefined) return;
      const devAddr = r.h.devAddr;
      const misaligned =
        op.attr & VCM_ALIGN_64K && devAddr !== undefined && devAddr % (64 * K) !== 0;
      const mapped = r.backedBy !== undefined && r.vcm.h.type !== "one-to-one";
      expectOutcome =
        !r.live || misaligned
          ? { must: "EINVAL" }
          : mapped && r.vcm.assocs.filter((a) => a.live).length === 0
            ? { must: "EINVAL" }
            : mapped && r.vcm.assocs.some((a) => a.live && !a.active)
              ? { must: "EAGAIN" }
              : { may: mapped ? ["EINVAL"] : [] }; // an alias
      call = () => {
        r.h.setAttr(op.attr);
        r.attr = op.attr;
      };
      break;
    }
    case "clone": {
      const v = pick(w.vcms, op.v, op.dead);
      if (v === undefined || (v.live && w.vcms.filter((x) => x.live).length >= MAX_VCMS)) return;
      expectOutcome = v.live ? { may: ["ENOMEM"] } : { must: "EINVAL" };
      inject = op.fail;
      call = () => {
        const c = w.addVcm(v.h.clone());
        const boundOf = new Map<MBound, MBound>();
        c.h.bounds().forEach((h, i) => {
          const src = v.bounds.filter((b) => b.live)[i]!;
          const b = { h, vcm: c, live: true };
          boundOf.set(src, b);
          c.bounds.push(b);
          w.bounds.push(b);
        });
        const live = v.res.filter((r) => r.live);
        c.h.reservations().forEach((h, i) => {
          const src = live[i]!;
          const r = w.addRes(c, h, src.bound && boundOf.get(src.bound));
          if (src.backedBy) {
            r.backedBy = src.backedBy;
            src.backedBy.backers.add(r);
          }
        });
      };
      break;
    }
    case "freeVcm": {
      const v = pick(w.vcms, op.v, op.dead);
      if (v === undefined) return;
      const busy =
        v.res.some((r) => r.live) || v.assocs.some((a) => a.live) || v.bounds.some((b) => b.live);
      expectOutcome = !v.live ? { must: "EINVAL" } : busy ? { must: "EBUSY" } : { may: [] };
      call = () => {
        v.h.free();
        v.live = false;
      };
      break;
    }
  }
  const before = vcmState(w.m, PAGES);
  const memories = [vcmm.tableMemory, w.m.memory];
  if (inject !== null) for (const mem of memories) mem.failAfter = inject;
  let error: unknown;
  try {
    call();
  } catch (e) {
    error = e;
  } finally {
    for (const mem of memories) mem.failAfter = undefined;
  }
  const what = `${op.op} ${JSON.stringify(op)}`;
  if (error === undefined) {
    expect("must" in expectOutcome ? expectOutcome.must : "ok", `${what} succeeded`).toBe("ok");
    return;
  }
  if (!(error instanceof MemweaveError)) throw new Error(`${what} threw`, { cause: error });
  const allowed = "must" in expectOutcome ? [expectOutcome.must] : expectOutcome.may;
  expect(allowed, `${what}: ${error.message}`).toContain(error.code);
  expect(DOCUMENTED[op.op], `${what}: ${error.message}`).toContain(error.code);
  if (
    error.code === "ENOMEM" &&
    inject === null &&
    (op.op === "back" || op.op === "activate" || op.op === "clone")
  )
    expect.unreachable(`${what}: ENOMEM without an injected failure: ${error.message}`);
  if (error.code === "EINVAL" && !("must" in expectOutcome))
    expect(error.message, what).toMatch(/mismatched alias/);
  expect(vcmState(w.m, PAGES), `${what} refused (${error.message}) but changed the state`).toEqual(
    before,
  );
}

// --- Invariants ----------------------------------------------------------------------------------

/** Where a reservation's mappings are, as the model says: table name, or "phys". */
function expectedPlaces(w: World, r: MRes): string[] {
  if (r.backedBy === undefined) return [];
  const v = r.vcm;
  if (v.h.type === "one-to-one") return ["phys"];
  if (v.h.type === "device")
    return v.assocs
      .filter((a) => a.live && a.programmed)
      .map((a) => (a.device as SmmuDev).table.name);
  return [v.h.table!.name];
}

/** The model's mapped bytes of each table. */
function expectedTableBytes(w: World): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of w.res)
    if (r.live)
      for (const place of expectedPlaces(w, r))
        if (place !== "phys") out.set(place, (out.get(place) ?? 0) + r.h.size);
  return out;
}

/** Each leaf of `t` in the reservation's range maps its physmem's bytes at the same offset. */
function checkLeaves(t: AnyPageTable, r: MRes, what: string): void {
  const base = r.h.getDevAddr();
  const p = r.backedBy!.h;
  let covered = 0;
  for (const l of leavesOf(t, base, base + r.h.size)) {
    const off = l.va - base;
    expect(l.pa, `${what}: leaf at ${l.va.toString(16)}`).toBe(p.physAt(off));
    expect(
      p.physAt(off + l.size - 1),
      `${what}: leaf at ${l.va.toString(16)} crosses a chunk`,
    ).toBe(l.pa + l.size - 1);
    covered += l.size;
  }
  expect(covered, `${what}: bytes mapped`).toBe(r.h.size);
}

/**
 * The invariants. Tables are searched for stray leaves where the model's VCMs map, or, with
 * `everywhere`, over their whole input range.
 */
function check(w: World, step: number, everywhere = false): void {
  const { vcmm, platform, cpu } = w.m;
  // Bookkeeping.
  expect(vcmm.vcms().map((v) => v.name)).toEqual(w.vcms.filter((v) => v.live).map((v) => v.h.name));
  for (const v of w.vcms.filter((x) => x.live)) {
    expect(v.h.reservations().map((r) => r.name)).toEqual(
      v.res.filter((r) => r.live).map((r) => r.h.name),
    );
    expect(v.h.associations().map((a) => [a.name, a.isActive()])).toEqual(
      v.assocs.filter((a) => a.live).map((a) => [a.h.name, a.active]),
    );
  }
  for (const r of w.res.filter((x) => x.live)) {
    expect(r.h.backed ? r.h.getPhysmem() : undefined, r.h.name).toBe(r.backedBy?.h);
    expect(r.h.getAttr()).toBe(r.attr);
  }
  expect(vcmm.physmems()).toEqual(w.phys.filter((p) => p.live).map((p) => p.h));
  for (const p of w.phys.filter((x) => x.live))
    expect(p.h.backers).toEqual(new Set([...p.backers].map((r) => r.h)));

  // Translation, leaf by leaf and through the devices.
  const views = new Map<
    MPhys,
    Array<{ master: BusMaster; addr: number; write: boolean; what: string }>
  >();
  for (const r of w.res.filter((x) => x.live && x.backedBy !== undefined)) {
    const v = r.vcm;
    const p = r.backedBy!;
    const addr = r.h.getDevAddr();
    const last = r.h.len - 1;
    if (v.h.type === "one-to-one") expect(addr).toBe(p.h.physAt(0));
    else if (v.h.type !== "device") checkLeaves(v.h.table!, r, `${r.h.name} in ${v.h.table!.name}`);
    for (const a of v.assocs.filter((x) => x.live && x.active)) {
      const d = a.device;
      const what = `${r.h.name} through ${d.name}`;
      if (d instanceof SmmuDev) {
        checkLeaves(d.table, r, what);
        expect(d.translate(addr + last), what).toBe(p.h.physAt(last));
      } else if (d === cpu) {
        expect(cpu.mmu.ttbr0?.root, `${what}: its table is loaded`).toBe(v.h.table!.root);
      }
      const master = w.masterOf(d);
      const t = master.translate(addr + last);
      expect(t.ok && t.pa, what).toBe(p.h.physAt(last));
      const list = views.get(p) ?? [];
      list.push({ master, addr, write: (r.attr & VCM_WRITE) !== 0, what });
      views.set(p, list);
    }
  }
  // Bytes through one view, read back through every other of the same physmem.
  const shared = [...views].filter(([, list]) => list.length > 1);
  if (shared.length > 0) {
    const [p, list] = shared[step % shared.length]!;
    const writer = list.find((x) => x.write);
    if (writer !== undefined) {
      const off = (step * 4093) % Math.max(1, p.h.len - 16);
      const data = Uint8Array.from({ length: 16 }, (_, i) => (step * 7 + i * 13) & 0xff);
      writer.master.write(writer.addr + off, data);
      for (const x of list)
        expect(x.master.read(x.addr + off, 16), `${x.what} after ${writer.what}`).toEqual(data);
    }
  }

  // Nothing maps freed memory; each table holds what the model says and nothing stale.
  const held = w.phys
    .filter((p) => p.live)
    .flatMap((p) => p.h.chunks.map((c) => [c.pa, c.pa + c.size] as const));
  const bytes = expectedTableBytes(w);
  for (const t of liveTables(w.m)) {
    let total = 0;
    const [lo, hi] = everywhere
      ? [0, undefined]
      : t.format.pageSizes.includes(16 * M)
        ? MAPPED.smmu
        : MAPPED.cpu;
    for (const l of leavesOf(t, lo, hi)) {
      expect(
        held.some(([s, e]) => l.pa >= s && l.pa + l.size <= e),
        `${t.name}: leaf ${l.va.toString(16)} -> ${l.pa.toString(16)} maps memory no physmem holds`,
      ).toBe(true);
      total += l.size;
    }
    expect(total, `${t.name}: mapped bytes`).toBe(bytes.get(t.name) ?? 0);
  }

  // The pools' free bytes.
  const taken = w.phys
    .filter((p) => p.live)
    .reduce((n, p) => n + p.h.chunks.reduce((s, c) => s + c.size, 0), 0);
  expect(platform.target("vcm-pools").stats().freeBytes).toBe(w.poolTotal - taken);

  // Owner labels: live objects only; every mapped reservation where it is mapped.
  const labels = platform.owners.list().filter((o) => o.owner.system === "vcm");
  const liveNames = new Set([
    ...w.res.filter((r) => r.live).map((r) => r.h.name),
    ...w.phys.filter((p) => p.live).map((p) => p.h.name),
    ...w.assocs.filter((a) => a.live).map((a) => a.h.name),
  ]);
  for (const l of labels)
    expect(liveNames, `label of ${l.owner.kind} ${l.owner.name}`).toContain(l.owner.name);
  for (const r of w.res.filter((x) => x.live)) {
    const got = labels
      .filter((l) => l.owner.kind === "reservation" && l.owner.name === r.h.name)
      .map((l) =>
        "phys" in l.scope
          ? "phys"
          : "table" in l.scope && "name" in l.scope.table
            ? l.scope.table.name
            : "?",
      )
      .sort();
    expect(got, `${r.h.name}'s labels`).toEqual(expectedPlaces(w, r).sort());
  }
  for (const p of w.phys.filter((x) => x.live))
    expect(labels.some((l) => l.owner.kind === "physmem" && l.owner.name === p.h.name)).toBe(true);
  for (const a of w.assocs.filter((x) => x.live))
    expect(labels.some((l) => l.owner.kind === "association" && l.owner.name === a.h.name)).toBe(
      true,
    );
}

describe("the VCM core against a model", () => {
  it("random sequences keep every invariant; refused calls change nothing", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 10, maxLength: 45 }), (ops) => {
        const w = new World();
        check(w, 0);
        ops.forEach((op, i) => {
          run(w, op);
          check(w, i + 1);
        });
        check(w, ops.length + 1, true);
      }),
      { numRuns: 60, seed: 20_250_701 },
    );
  });
});
