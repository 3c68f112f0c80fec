/**
 * Every error `include/linux/vcm.h` documents for each function, and those the TS doc comments
 * add, as tables: the code, the message naming the object and the value at fault, and the
 * refused call leaving the whole state as it was (vcm.testutil.ts `vcmState`: VCMs,
 * reservations, associations, physmems, every table's descriptors, the targets' free bytes, the
 * owner labels). Then use-after-free of every handle kind (EINVAL), and names given back by
 * refused calls.
 */
import { describe, expect, it } from "vitest";

import type { ErrorCode } from "../base/errors.js";
import { expectError } from "../base/errors.testutil.js";
import { Cpu } from "../devices/cpu.js";
import { SmmuDev } from "./smmu/driver.js";
import {
  VCM_ALIGN_16M,
  VCM_EXECUTE,
  VCM_MEMTYPE_0,
  VCM_MEMTYPE_1,
  VCM_PHYS_ALIGN,
  VCM_PHYS_CONT,
  VCM_PREBUILT_KERNEL,
  VCM_PREBUILT_USER,
  VCM_READ,
  VCM_START,
  VCM_USE_HIGH_BASE,
  VCM_USE_LOW_BASE,
  VCM_WB_WA,
  VCM_WRITE,
} from "./attrs.js";
import { VcmManager } from "./manager.js";
import { DRAM, expectRefused, K, KERNEL_VA, M, vcmMachine, vcmState } from "./vcm.testutil.js";

const RW = VCM_READ | VCM_WRITE;

/**
 * A machine with one of everything: a device VCM "dev" active on vcodec and vfe with a backed
 * 1M reservation "backed" (physmem "pm"), an unbacked 64K "unbacked" and a bound "bound" with
 * "bound.res"; "lonely" (no association), "idle" (an inactive association with jpeg); the kernel
 * VCM "kern" active on cpu0 with "kres"; the user VCM "user" (no association); a one-to-one VCM
 * "o2o" active on mdp with an unbacked "o2o.res"; free physmems "spare" (64K) and "page" (4K).
 */
function world() {
  const m = vcmMachine();
  const { vcmm, cpu, mdp } = m;
  const ctx = (n: string) => vcmm.devices.getCtxInstance(n);
  const dev = vcmm.create(0x1000_0000, 64 * M, "dev");
  const devVcodec = dev.assoc(ctx("vcodec"), 0, "dev.vcodec");
  const devVfe = dev.assoc(ctx("vfe"), 0, "dev.vfe");
  devVcodec.activate();
  devVfe.activate();
  const backed = dev.reserve(M, RW, "backed");
  const pm = vcmm.physAlloc(VCM_MEMTYPE_0, M, 0, "pm");
  backed.back(pm);
  const unbacked = dev.reserve(64 * K, RW, "unbacked");
  const bound = dev.createBound(4 * M, "bound");
  const boundRes = bound.reserve(64 * K, RW, "bound.res");
  const spare = vcmm.physAlloc(VCM_MEMTYPE_0, 64 * K, 0, "spare");
  const page = vcmm.physAlloc(VCM_MEMTYPE_0, 4 * K, 0, "page");
  const lonely = vcmm.create(0x4000_0000, 16 * M, "lonely");
  const lonelyRes = lonely.reserve(64 * K, RW, "lonely.res");
  const idle = vcmm.create(0x5000_0000, 16 * M, "idle");
  const idleJpeg = idle.assoc(ctx("jpeg"), 0, "idle.jpeg");
  const idleRes = idle.reserve(64 * K, RW, "idle.res");
  const kern = vcmm.createFromPrebuilt(VCM_PREBUILT_KERNEL, "kern");
  const kernCpu = kern.assoc(cpu, 0, "kern.cpu");
  kernCpu.activate();
  const kres = kern.reserve(64 * K, RW, "kres");
  const user = vcmm.createFromPrebuilt(VCM_PREBUILT_USER, "user");
  const o2o = vcmm.create(m.cont.base, m.cont.size, "o2o");
  const o2oMdp = o2o.assoc(mdp, 0, "o2o.mdp");
  o2oMdp.activate();
  const o2oRes = o2o.reserve(64 * K, RW, "o2o.res");
  return {
    m,
    vcmm,
    ctx,
    dev,
    devVcodec,
    devVfe,
    backed,
    pm,
    unbacked,
    bound,
    boundRes,
    spare,
    page,
    lonely,
    lonelyRes,
    idle,
    idleJpeg,
    idleRes,
    kern,
    kernCpu,
    kres,
    user,
    o2o,
    o2oMdp,
    o2oRes,
  };
}
type World = ReturnType<typeof world>;

interface Case {
  /** The vcm.h function. */
  readonly fn: string;
  /** The TS method(s) that model it. */
  readonly method: string;
  readonly code: ErrorCode;
  readonly why: string;
  /** Set up what the call needs; returns the call and the texts its message must contain. */
  readonly run: (w: World) => [call: () => unknown, texts: string[]];
}

const hexOf = (n: number) => "0x" + n.toString(16);

/** A second, unbound context instance of context 3 (its table from the manager's memory). */
function looseInstance(w: World): SmmuDev {
  return SmmuDev.init(w.m.platform, w.vcmm.tableMemory, 3, "loose");
}

const cases: Case[] = [
  // --- vcm_sys_init / vcm_sys_destroy ----------------------------------------------------------
  {
    fn: "vcm_sys_init",
    method: "new VcmManager",
    code: "EINVAL",
    why: "a memtype is configured twice",
    run: (w) => [
      () =>
        new VcmManager(w.m.platform, {
          memtypes: [
            { memtype: VCM_MEMTYPE_0, target: "vcm-pools" },
            { memtype: VCM_MEMTYPE_0, target: "vcm-pools" },
          ],
          tables: "pgtables",
        }),
      ["VCM_MEMTYPE_0", "twice"],
    ],
  },
  {
    fn: "vcm_sys_init",
    method: "new VcmManager",
    code: "EINVAL",
    why: "a memtype's target is not a chunk pool",
    run: (w) => [
      () =>
        new VcmManager(w.m.platform, {
          memtypes: [{ memtype: VCM_MEMTYPE_1, target: "system" }],
          tables: "pgtables",
        }),
      ['"system"', "buddy", "not a chunk pool"],
    ],
  },
  {
    fn: "vcm_sys_init",
    method: "new VcmManager",
    code: "EINVAL",
    why: "a memtype is VCM_INVALID",
    run: (w) => [
      () =>
        new VcmManager(w.m.platform, {
          memtypes: [{ memtype: 0 as never, target: "vcm-pools" }],
          tables: "pgtables",
        }),
      ["memtype 0"],
    ],
  },
  {
    fn: "vcm_sys_destroy",
    method: "VcmManager.destroy",
    code: "EBUSY",
    why: "VCMs and physmems remain",
    run: (w) => [() => w.vcmm.destroy(), ["vcm_sys_destroy", "dev", "kern", "pm", "spare"]],
  },
  // --- vcm_create ----------------------------------------------------------------------------
  {
    fn: "vcm_create",
    method: "VcmManager.create",
    code: "EINVAL",
    why: "len is below vcm_get_min_page_size()",
    run: (w) => [() => w.vcmm.create(0x6000_0000, 100), ["vcm_create", "length 100"]],
  },
  {
    fn: "vcm_create",
    method: "VcmManager.create",
    code: "EINVAL",
    why: "start is not an address",
    run: (w) => [() => w.vcmm.create(-1, M), ["vcm_create", "start -1"]],
  },
  {
    fn: "vcm_create",
    method: "VcmManager.create",
    code: "EINVAL",
    why: "the range holds no whole page",
    run: (w) => [() => w.vcmm.create(0x1800, 0x1000), ["vcm_create", "0x1800-0x27ff", "no whole"]],
  },
  {
    fn: "vcm_create",
    method: "VcmManager.create",
    code: "EEXIST",
    why: "the name is taken",
    run: (w) => [() => w.vcmm.create(0x6000_0000, M, "pm"), ["vcm_create", '"pm"', "taken"]],
  },
  {
    fn: "vcm_create",
    method: "VcmManager.create",
    code: "EINVAL",
    why: "the name is empty",
    run: (w) => [() => w.vcmm.create(0x6000_0000, M, ""), ["vcm_create", "empty"]],
  },
  // --- vcm_create_from_prebuilt ----------------------------------------------------------------
  {
    fn: "vcm_create_from_prebuilt",
    method: "VcmManager.createFromPrebuilt",
    code: "EINVAL",
    why: "ext_vcm_id is neither kernel nor user",
    run: (w) => [() => w.vcmm.createFromPrebuilt(3), ["vcm_create_from_prebuilt", "ext_vcm_id 3"]],
  },
  {
    fn: "vcm_create_from_prebuilt",
    method: "VcmManager.createFromPrebuilt",
    code: "EBUSY",
    why: "a VCM stands for the kernel already",
    run: (w) => [() => w.vcmm.createFromPrebuilt(VCM_PREBUILT_KERNEL), ["kern", "kernel"]],
  },
  {
    fn: "vcm_create_from_prebuilt",
    method: "VcmManager.createFromPrebuilt",
    code: "ENODEV",
    why: "no prebuilt space is configured",
    run: (w) => {
      const bare = new VcmManager(w.m.platform, { memtypes: [], tables: "pgtables" });
      return [() => bare.createFromPrebuilt(VCM_PREBUILT_USER), ["no prebuilt user"]];
    },
  },
  // --- vcm_clone -----------------------------------------------------------------------------
  {
    fn: "vcm_clone",
    method: "Vcm.clone / VcmManager.clone",
    code: "EEXIST",
    why: "the name is taken",
    run: (w) => [() => w.dev.clone("kern"), ["vcm_clone", '"kern"']],
  },
  {
    fn: "vcm_clone",
    method: "Vcm.clone / VcmManager.clone",
    code: "ENOMEM",
    why: "the clone's table cannot be allocated",
    run: (w) => {
      w.vcmm.tableMemory.failAfter = 0;
      return [() => w.kern.clone("kclone"), ["injected"]];
    },
  },
  // --- vcm_free ------------------------------------------------------------------------------
  {
    fn: "vcm_free",
    method: "Vcm.free",
    code: "EBUSY",
    why: "the VCM has reservations, associations and bounds",
    run: (w) => [
      () => w.dev.free(),
      ["vcm_free", "dev", "backed", "unbacked", "dev.vcodec", "dev.vfe", "bound"],
    ],
  },
  {
    fn: "vcm_free",
    method: "Vcm.free",
    code: "EBUSY",
    why: "the VCM has an (inactive) association only",
    run: (w) => {
      const v = w.vcmm.create(0x6000_0000, M, "v");
      v.assoc(w.ctx("rot"), 0, "v.rot");
      return [() => v.free(), ["vcm_free", "v", "v.rot"]];
    },
  },
  {
    fn: "vcm_free",
    method: "Vcm.free",
    code: "EBUSY",
    why: "the VCM has a bound only",
    run: (w) => {
      const v = w.vcmm.create(0x6000_0000, 4 * M, "v");
      v.createBound(M, "v.b");
      return [() => v.free(), ["vcm_free", "v", "v.b"]];
    },
  },
  // --- vcm_reserve, vcm_reserve_at -------------------------------------------------------------
  {
    fn: "vcm_reserve",
    method: "Vcm.reserve",
    code: "EINVAL",
    why: "len is 0",
    run: (w) => [() => w.dev.reserve(0, RW), ["vcm_reserve", "dev", "length 0"]],
  },
  {
    fn: "vcm_reserve",
    method: "Vcm.reserve",
    code: "EINVAL",
    why: "len is not an integer",
    run: (w) => [() => w.dev.reserve(1.5, RW), ["vcm_reserve", "dev", "length 1.5"]],
  },
  {
    fn: "vcm_reserve",
    method: "Vcm.reserve",
    code: "EINVAL",
    why: "attr has an undefined bit",
    run: (w) => [() => w.dev.reserve(4 * K, RW | (1 << 15)), ["vcm_reserve", "dev", "0x8000"]],
  },
  {
    fn: "vcm_reserve",
    method: "Vcm.reserve",
    code: "EINVAL",
    why: "attr has an undefined cache policy",
    run: (w) => [() => w.dev.reserve(4 * K, RW | 7), ["vcm_reserve", "dev", "cache policy 7"]],
  },
  {
    fn: "vcm_reserve",
    method: "Vcm.reserve",
    code: "ENOMEM",
    why: "no free range fits",
    run: (w) => [() => w.lonely.reserve(32 * M, RW), ["lonely", "32 MiB"]],
  },
  {
    fn: "vcm_reserve",
    method: "Vcm.reserve",
    code: "EEXIST",
    why: "the name is taken",
    run: (w) => [() => w.dev.reserve(4 * K, RW, "backed"), ["vcm_reserve", '"backed"']],
  },
  {
    fn: "vcm_reserve_at",
    method: "Vcm.reserveAt",
    code: "EINVAL",
    why: "memtarget is not VCM_START",
    run: (w) => [() => w.lonely.reserveAt(1, 4 * K, RW), ["vcm_reserve_at", "memtarget 1"]],
  },
  {
    fn: "vcm_reserve_at",
    method: "Vcm.reserveAt",
    code: "EINVAL",
    why: "the VCM is one-to-one",
    run: (w) => [() => w.o2o.reserveAt(VCM_START, 4 * K, RW), ["vcm_reserve_at", "o2o"]],
  },
  {
    fn: "vcm_reserve_at",
    method: "Vcm.reserveAt",
    code: "EBUSY",
    why: "the start is reserved already",
    run: (w) => [() => w.dev.reserveAt(VCM_START, 4 * K, RW), ["dev", "0x10000000"]],
  },
  {
    fn: "vcm_reserve_at",
    method: "Vcm.reserveAt",
    code: "ENOMEM",
    why: "len is more than the VCM",
    run: (w) => [() => w.lonely.reserveAt(VCM_START, 32 * M, RW), ["lonely", "32 MiB"]],
  },
  // --- vcm_unreserve, vcm_set_res_attr --------------------------------------------------------
  {
    fn: "vcm_unreserve",
    method: "Reservation.unreserve",
    code: "EBUSY",
    why: "the reservation is still backed",
    run: (w) => [() => w.backed.unreserve(), ["vcm_unreserve", "backed", "pm"]],
  },
  {
    fn: "vcm_set_res_attr",
    method: "Reservation.setAttr / VcmManager.setResAttr",
    code: "EINVAL",
    why: "attr is invalid",
    run: (w) => [() => w.backed.setAttr(RW | (1 << 15)), ["vcm_set_res_attr", "backed", "0x8000"]],
  },
  {
    fn: "vcm_set_res_attr",
    method: "Reservation.setAttr / VcmManager.setResAttr",
    code: "EINVAL",
    why: "the device address does not meet the new alignment",
    run: (w) => [
      () => w.unbacked.setAttr(RW | VCM_ALIGN_16M),
      ["vcm_set_res_attr", "unbacked", hexOf(w.unbacked.getDevAddr()), "16 MiB"],
    ],
  },
  {
    fn: "vcm_set_res_attr",
    method: "Reservation.setAttr / VcmManager.setResAttr",
    code: "EINVAL",
    why: "a backed reservation's new attr grants no access",
    run: (w) => [() => w.backed.setAttr(VCM_EXECUTE), ["vcm_set_res_attr", "backed", "neither"]],
  },
  {
    fn: "vcm_set_res_attr",
    method: "Reservation.setAttr / VcmManager.setResAttr",
    code: "EAGAIN",
    why: "an association of the backed reservation's VCM is inactive",
    run: (w) => {
      w.dev.assoc(w.ctx("rot"), 0, "dev.rot");
      return [() => w.backed.setAttr(RW | VCM_WB_WA), ["vcm_set_res_attr", "dev.rot", "rot"]];
    },
  },
  // --- vcm_get_next_res, vcm_res_copy ----------------------------------------------------------
  {
    fn: "vcm_get_next_res",
    method: "Vcm.getNextRes",
    code: "EINVAL",
    why: "res is another VCM's",
    run: (w) => [() => w.dev.getNextRes(w.lonelyRes), ["vcm_get_next_res", "lonely.res", "dev"]],
  },
  {
    fn: "vcm_res_copy",
    method: "VcmManager.resCopy",
    code: "EINVAL",
    why: "to is not backed",
    run: (w) => [
      () => w.vcmm.resCopy(w.unbacked, 0, w.backed, 0, 4 * K),
      ["vcm_res_copy", "unbacked", "not backed"],
    ],
  },
  {
    fn: "vcm_res_copy",
    method: "VcmManager.resCopy",
    code: "EINVAL",
    why: "an offset is beyond the reservation",
    run: (w) => [
      () => w.vcmm.resCopy(w.backed, M + 1, w.backed, 0, 1),
      ["vcm_res_copy", "backed", String(M + 1)],
    ],
  },
  {
    fn: "vcm_res_copy",
    method: "VcmManager.resCopy",
    code: "EINVAL",
    why: "len is negative",
    run: (w) => [() => w.vcmm.resCopy(w.backed, 0, w.backed, 0, -1), ["vcm_res_copy", "-1"]],
  },
  // --- vcm_back ------------------------------------------------------------------------------
  {
    fn: "vcm_back",
    method: "Reservation.back / VcmManager.back",
    code: "EINVAL",
    why: "res's len is not physmem's",
    run: (w) => [() => w.unbacked.back(w.pm), ["vcm_back", "unbacked", "pm", "64 KiB", "1 MiB"]],
  },
  {
    fn: "vcm_back",
    method: "Reservation.back / VcmManager.back",
    code: "EINVAL",
    why: "the VCM has no association",
    run: (w) => [() => w.lonelyRes.back(w.spare), ["vcm_back", "lonely", "not associated"]],
  },
  {
    fn: "vcm_back",
    method: "Reservation.back / VcmManager.back",
    code: "EAGAIN",
    why: "an association is inactive",
    run: (w) => [() => w.vcmm.back(w.idleRes, w.spare), ["vcm_back", "idle.jpeg", "jpeg"]],
  },
  {
    fn: "vcm_back",
    method: "Reservation.back / VcmManager.back",
    code: "EBUSY",
    why: "res is backed already",
    run: (w) => [() => w.backed.back(w.pm), ["vcm_back", "backed", "pm"]],
  },
  {
    fn: "vcm_back",
    method: "Reservation.back / VcmManager.back",
    code: "EINVAL",
    why: "res's attributes grant no access",
    run: (w) => {
      const r = w.dev.reserve(64 * K, VCM_EXECUTE, "noaccess");
      return [() => r.back(w.spare), ["vcm_back", "noaccess", "neither"]];
    },
  },
  {
    fn: "vcm_back",
    method: "Reservation.back / VcmManager.back",
    code: "EINVAL",
    why: "a one-to-one reservation's memory is not contiguous",
    run: (w) => {
      const r = w.o2o.reserve(68 * K, RW, "o2o.68k");
      const p = w.vcmm.physAlloc(VCM_MEMTYPE_0, 68 * K, 0, "pm68");
      return [() => r.back(p), ["vcm_back", "pm68", "2 physical segments"]];
    },
  },
  {
    fn: "vcm_back",
    method: "Reservation.back / VcmManager.back",
    code: "EINVAL",
    why: "a one-to-one reservation's memory is outside the VCM",
    run: (w) => [() => w.o2oRes.back(w.spare), ["vcm_back", "spare", "outside", "o2o"]],
  },
  {
    fn: "vcm_back",
    method: "Reservation.back / VcmManager.back",
    code: "ENOMEM",
    why: "a level-2 table cannot be allocated",
    run: (w) => {
      w.vcmm.tableMemory.failAfter = 0;
      return [() => w.unbacked.back(w.spare), ["injected"]];
    },
  },
  // --- vcm_unback ----------------------------------------------------------------------------
  {
    fn: "vcm_unback",
    method: "Reservation.unback / VcmManager.unback",
    code: "EINVAL",
    why: "res is not backed",
    run: (w) => [() => w.unbacked.unback(), ["vcm_unback", "unbacked", "not backed"]],
  },
  {
    fn: "vcm_unback",
    method: "Reservation.unback / VcmManager.unback",
    code: "EAGAIN",
    why: "an association is inactive",
    run: (w) => {
      w.dev.assoc(w.ctx("rot"), 0, "dev.rot");
      return [() => w.vcmm.unback(w.backed), ["vcm_unback", "dev.rot", "rot"]];
    },
  },
  {
    fn: "vcm_unback",
    method: "Reservation.unback / VcmManager.unback",
    code: "EINVAL",
    why: "the VCM (a clone) has no association",
    run: (w) => {
      const c = w.dev.clone("c");
      const copy = c.reservations().find((r) => r.backed)!;
      return [() => copy.unback(), ["vcm_unback", "c", "not associated"]];
    },
  },
  // --- vcm_phys_alloc, vcm_phys_free, vcm_get_physmem_from_res ----------------------------------
  {
    fn: "vcm_phys_alloc",
    method: "VcmManager.physAlloc",
    code: "EINVAL",
    why: "memtype is VCM_INVALID",
    run: (w) => [() => w.vcmm.physAlloc(0, 4 * K, 0), ["memtype 0"]],
  },
  {
    fn: "vcm_phys_alloc",
    method: "VcmManager.physAlloc",
    code: "ENODEV",
    why: "memtype has no target",
    run: (w) => [
      () => w.vcmm.physAlloc(VCM_MEMTYPE_1, 4 * K, 0),
      ["vcm_phys_alloc", "VCM_MEMTYPE_1"],
    ],
  },
  {
    fn: "vcm_phys_alloc",
    method: "VcmManager.physAlloc",
    code: "EINVAL",
    why: "len is 0",
    run: (w) => [() => w.vcmm.physAlloc(VCM_MEMTYPE_0, 0, 0), ["vcm_phys_alloc", "length 0"]],
  },
  {
    fn: "vcm_phys_alloc",
    method: "VcmManager.physAlloc",
    code: "EINVAL",
    why: "attr has an undefined bit",
    run: (w) => [
      () => w.vcmm.physAlloc(VCM_MEMTYPE_0, 4 * K, 1 << 11),
      ["vcm_phys_alloc", "0x800"],
    ],
  },
  {
    fn: "vcm_phys_alloc",
    method: "VcmManager.physAlloc",
    code: "EINVAL",
    why: "no chunk size meets the alignment asked",
    run: (w) => [
      () => w.vcmm.physAlloc(VCM_MEMTYPE_0, 4 * K, VCM_PHYS_ALIGN(25)),
      ["vcm_phys_alloc", "32 MiB"],
    ],
  },
  {
    fn: "vcm_phys_alloc",
    method: "VcmManager.physAlloc",
    code: "ENOMEM",
    why: "the pools cannot supply it",
    run: (w) => [() => w.vcmm.physAlloc(VCM_MEMTYPE_0, 200 * M, 0), ["200 MiB"]],
  },
  {
    fn: "vcm_phys_alloc",
    method: "VcmManager.physAlloc",
    code: "ENOMEM",
    why: "the contiguous pool cannot supply it",
    run: (w) => [() => w.vcmm.physAlloc(VCM_MEMTYPE_0, 16 * M, VCM_PHYS_CONT), ["16 MiB"]],
  },
  {
    fn: "vcm_phys_alloc",
    method: "VcmManager.physAlloc",
    code: "EEXIST",
    why: "the name is taken",
    run: (w) => [() => w.vcmm.physAlloc(VCM_MEMTYPE_0, 4 * K, 0, "dev"), ['"dev"']],
  },
  {
    fn: "vcm_phys_free",
    method: "Physmem.free",
    code: "EBUSY",
    why: "a reservation is backed by it",
    run: (w) => [() => w.pm.free(), ["vcm_phys_free", "pm", "backed"]],
  },
  {
    fn: "vcm_get_physmem_from_res",
    method: "Reservation.getPhysmem",
    code: "ENOMEM",
    why: "res is unbacked",
    run: (w) => [() => w.unbacked.getPhysmem(), ["vcm_get_physmem_from_res", "unbacked"]],
  },
  // --- vcm_assoc, vcm_deassoc, vcm_set_assoc_attr ---------------------------------------------
  {
    fn: "vcm_assoc",
    method: "Vcm.assoc",
    code: "EINVAL",
    why: "the device is not of the VCM's kind",
    run: (w) => [() => w.dev.assoc(w.m.cpu, 0), ["vcm_assoc", "dev", "cpu0"]],
  },
  {
    fn: "vcm_assoc",
    method: "Vcm.assoc",
    code: "EINVAL",
    why: "attr has an undefined bit",
    run: (w) => [() => w.dev.assoc(w.ctx("rot"), 1), ["vcm_assoc", "0x1"]],
  },
  {
    fn: "vcm_assoc",
    method: "Vcm.assoc",
    code: "EINVAL",
    why: "an SMMU context has no high base",
    run: (w) => [() => w.dev.assoc(w.ctx("rot"), VCM_USE_HIGH_BASE), ["vcm_assoc", "rot"]],
  },
  {
    fn: "vcm_assoc",
    method: "Vcm.assoc",
    code: "EINVAL",
    why: "a one-to-one device's window does not cover the VCM",
    run: (w) => {
      const all = w.vcmm.create(DRAM, 512 * M, "all");
      return [() => all.assoc(w.m.mdp, 0), ["vcm_assoc", "mdp", "all", "does not cover"]];
    },
  },
  {
    fn: "vcm_assoc",
    method: "Vcm.assoc",
    code: "EINVAL",
    why: "the kernel VCM asks for the low base",
    run: (w) => [() => w.kern.assoc(w.m.cpu, VCM_USE_LOW_BASE), ["vcm_assoc", "kern", "TTBR1"]],
  },
  {
    fn: "vcm_assoc",
    method: "Vcm.assoc",
    code: "EINVAL",
    why: "the user VCM asks for the high base",
    run: (w) => [() => w.user.assoc(w.m.cpu, VCM_USE_HIGH_BASE), ["vcm_assoc", "user", "TTBR0"]],
  },
  {
    fn: "vcm_assoc",
    method: "Vcm.assoc",
    code: "EBUSY",
    why: "the device is associated already",
    run: (w) => [
      () => w.dev.assoc(w.ctx("vcodec"), 0),
      ["vcm_assoc", "dev", "vcodec", "dev.vcodec"],
    ],
  },
  {
    fn: "vcm_assoc",
    method: "Vcm.assoc",
    code: "EBUSY",
    why: "a second device for the kernel VCM",
    run: (w) => {
      const cpu1 = new Cpu(w.m.platform, { name: "cpu1", ttbr1: w.m.kernel, split: 2 ** 47 });
      return [() => w.kern.assoc(cpu1, 0), ["vcm_assoc", "kern", "cpu0"]];
    },
  },
  {
    fn: "vcm_deassoc",
    method: "Association.deassoc",
    code: "EBUSY",
    why: "the association is active",
    run: (w) => [() => w.devVcodec.deassoc(), ["vcm_deassoc", "dev.vcodec"]],
  },
  {
    fn: "vcm_set_assoc_attr",
    method: "Association.setAttr",
    code: "EBUSY",
    why: "the association is active",
    run: (w) => [() => w.devVcodec.setAttr(0), ["vcm_set_assoc_attr", "dev.vcodec"]],
  },
  {
    fn: "vcm_set_assoc_attr",
    method: "Association.setAttr",
    code: "EINVAL",
    why: "attr has an undefined bit",
    run: (w) => [() => w.idleJpeg.setAttr(1), ["vcm_set_assoc_attr", "0x1"]],
  },
  {
    fn: "vcm_set_assoc_attr",
    method: "Association.setAttr",
    code: "EINVAL",
    why: "attr does not suit the device",
    run: (w) => [() => w.idleJpeg.setAttr(VCM_USE_HIGH_BASE), ["vcm_set_assoc_attr", "jpeg"]],
  },
  // --- vcm_activate, vcm_deactivate ----------------------------------------------------------
  {
    fn: "vcm_activate",
    method: "Association.activate",
    code: "EBUSY",
    why: "the association is active already",
    run: (w) => [() => w.devVcodec.activate(), ["vcm_activate", "dev.vcodec"]],
  },
  {
    fn: "vcm_activate",
    method: "Association.activate",
    code: "EBUSY",
    why: "the context runs another VCM",
    run: (w) => {
      const a = w.lonely.assoc(w.ctx("vcodec"), 0, "lonely.vcodec");
      return [() => a.activate(), ["vcm_activate", "vcodec"]];
    },
  },
  {
    fn: "vcm_activate",
    method: "Association.activate",
    code: "ENODEV",
    why: "the context instance was freed",
    run: (w) => {
      const a = w.lonely.assoc(w.ctx("rot"), 0, "lonely.rot");
      w.vcmm.devices.freeCtxInstance(w.ctx("rot"));
      return [() => a.activate(), ["vcm_activate", "rot", "freed"]];
    },
  },
  {
    fn: "vcm_activate",
    method: "Association.activate",
    code: "ENODEV",
    why: "the context instance is bound to no SMMU",
    run: (w) => {
      const a = w.lonely.assoc(looseInstance(w), 0, "lonely.loose");
      return [() => a.activate(), ["vcm_activate", "loose"]];
    },
  },
  {
    fn: "vcm_activate",
    method: "Association.activate",
    code: "EINVAL",
    why: "a kernel VCM on a CPU without TTBR1",
    run: (w) => {
      const kc = w.kern.clone("kc");
      const cpu2 = new Cpu(w.m.platform, { name: "cpu2", ttbr0: w.m.user });
      const a = kc.assoc(cpu2, 0, "kc.cpu2");
      return [() => a.activate(), ["vcm_activate", "cpu2", "TTBR1", "kc"]];
    },
  },
  {
    fn: "vcm_activate",
    method: "Association.activate",
    code: "ENOMEM",
    why: "programming the device needs a table that cannot be allocated",
    run: (w) => {
      w.boundRes.back(w.spare);
      const a = w.dev.assoc(w.ctx("rot"), 0, "dev.rot");
      w.vcmm.tableMemory.failAfter = 0;
      return [() => a.activate(), ["injected"]];
    },
  },
  {
    fn: "vcm_deactivate",
    method: "Association.deactivate",
    code: "ENOENT",
    why: "the association is not active",
    run: (w) => [() => w.idleJpeg.deactivate(), ["vcm_deactivate", "idle.jpeg"]],
  },
  // --- bounds --------------------------------------------------------------------------------
  {
    fn: "vcm_create_bound",
    method: "Vcm.createBound",
    code: "EINVAL",
    why: "len is 0",
    run: (w) => [() => w.dev.createBound(0), ["vcm_create_bound", "dev", "length 0"]],
  },
  {
    fn: "vcm_create_bound",
    method: "Vcm.createBound",
    code: "EINVAL",
    why: "the VCM is one-to-one",
    run: (w) => [() => w.o2o.createBound(M), ["vcm_create_bound", "o2o"]],
  },
  {
    fn: "vcm_create_bound",
    method: "Vcm.createBound",
    code: "ENOMEM",
    why: "no free range fits",
    run: (w) => [() => w.lonely.createBound(32 * M), ["lonely", "32 MiB"]],
  },
  {
    fn: "vcm_create_bound",
    method: "Vcm.createBound",
    code: "EEXIST",
    why: "the name is taken",
    run: (w) => [() => w.dev.createBound(M, "bound"), ["vcm_create_bound", '"bound"']],
  },
  {
    fn: "vcm_free_bound",
    method: "Bound.free",
    code: "EBUSY",
    why: "the bound holds reservations",
    run: (w) => [() => w.bound.free(), ["vcm_free_bound", "bound", "bound.res"]],
  },
  {
    fn: "vcm_reserve_from_bound",
    method: "Bound.reserve",
    code: "ENOMEM",
    why: "no free range of the bound fits",
    run: (w) => [() => w.bound.reserve(8 * M, RW), ["bound", "8 MiB"]],
  },
  {
    fn: "vcm_reserve_from_bound",
    method: "Bound.reserve",
    code: "EINVAL",
    why: "attr is invalid",
    run: (w) => [
      () => w.bound.reserve(4 * K, RW | 9),
      ["vcm_reserve_from_bound", "dev", "cache policy 9"],
    ],
  },
  // --- physical addresses ----------------------------------------------------------------------
  {
    fn: "vcm_map_phys_addr",
    method: "VcmManager.mapPhysAddr",
    code: "EINVAL",
    why: "phys is not 4K-aligned",
    run: (w) => [
      () => w.vcmm.mapPhysAddr(DRAM + 1, 4 * K),
      ["vcm_map_phys_addr", String(DRAM + 1)],
    ],
  },
  {
    fn: "vcm_map_phys_addr",
    method: "VcmManager.mapPhysAddr",
    code: "EINVAL",
    why: "len is 0",
    run: (w) => [() => w.vcmm.mapPhysAddr(DRAM, 0), ["vcm_map_phys_addr", "length 0"]],
  },
  {
    fn: "vcm_map_phys_addr",
    method: "VcmManager.mapPhysAddr",
    code: "EINVAL",
    why: "the range is in no memory region",
    run: (w) => [() => w.vcmm.mapPhysAddr(0x1000, 4 * K), ["vcm_map_phys_addr", "0x1000-0x1fff"]],
  },
  {
    fn: "vcm_map_phys_addr",
    method: "VcmManager.mapPhysAddr",
    code: "EINVAL",
    why: "the range runs past the region's end",
    run: (w) => [
      () => w.vcmm.mapPhysAddr(DRAM + 512 * M - 4 * K, 8 * K),
      ["vcm_map_phys_addr", hexOf(DRAM + 512 * M - 4 * K)],
    ],
  },
  {
    fn: "vcm_get_next_phys_addr",
    method: "Physmem.nextPhysAddr",
    code: "EINVAL",
    why: "phys starts no segment",
    run: (w) => {
      const pa = w.pm.chunks[0]!.pa + 4 * K;
      return [() => w.pm.nextPhysAddr(pa), ["vcm_get_next_phys_addr", "pm", hexOf(pa)]];
    },
  },
  {
    fn: "vcm_get_dev_addr",
    method: "Reservation.getDevAddr",
    code: "ENOENT",
    why: "a one-to-one reservation is not backed",
    run: (w) => [() => w.o2oRes.getDevAddr(), ["vcm_get_dev_addr", "o2o.res", "o2o"]],
  },
  // --- vcm_translate and the reverse lookups --------------------------------------------------
  {
    fn: "vcm_translate",
    method: "VcmManager.translate",
    code: "ENOENT",
    why: "no reservation holds the address",
    run: (w) => [
      () => w.vcmm.translate(0x1300_0000, w.dev, w.kern),
      ["vcm_translate", "dev", "0x13000000"],
    ],
  },
  {
    fn: "vcm_translate",
    method: "VcmManager.translate",
    code: "ENOENT",
    why: "the reservation holding it is not backed",
    run: (w) => [
      () => w.vcmm.translate(w.unbacked.getDevAddr(), w.dev, w.kern),
      ["vcm_translate", "unbacked"],
    ],
  },
  {
    fn: "vcm_translate",
    method: "VcmManager.translate",
    code: "ENOENT",
    why: "no reservation of the destination maps the memory",
    run: (w) => [
      () => w.vcmm.translate(w.backed.getDevAddr() + 5, w.dev, w.kern),
      ["vcm_translate", "kern", hexOf(w.pm.chunks[0]!.pa + 5)],
    ],
  },
  {
    fn: "vcm_get_next_phys_res",
    method: "VcmManager.getNextPhysRes",
    code: "EINVAL",
    why: "res does not map phys",
    run: (w) => {
      const pa = w.pm.chunks[0]!.pa;
      return [
        () => w.vcmm.getNextPhysRes(pa, w.unbacked),
        ["vcm_get_next_phys_res", "unbacked", hexOf(pa)],
      ];
    },
  },
  {
    fn: "vcm_get_pgtbl_pa",
    method: "Vcm.getPgtblPa",
    code: "EINVAL",
    why: "a one-to-one VCM has no table",
    run: (w) => [() => w.o2o.getPgtblPa(), ["vcm_get_pgtbl_pa", "o2o"]],
  },
  {
    fn: "vcm_get_pgtbl_pa",
    method: "Vcm.getPgtblPa",
    code: "ENODEV",
    why: "a device VCM has no association",
    run: (w) => [() => w.lonely.getPgtblPa(), ["vcm_get_pgtbl_pa", "lonely"]],
  },
  {
    fn: "vcm_get_cont_memtype_pa",
    method: "VcmManager.getContMemtypePa",
    code: "ENOENT",
    why: "the memtype has no contiguous region",
    run: (w) => [
      () => w.vcmm.getContMemtypePa(VCM_MEMTYPE_1),
      ["vcm_get_cont_memtype_pa", "VCM_MEMTYPE_1"],
    ],
  },
  {
    fn: "vcm_get_cont_memtype_len",
    method: "VcmManager.getContMemtypeLen",
    code: "EINVAL",
    why: "the memtype is invalid",
    run: (w) => [() => w.vcmm.getContMemtypeLen(7), ["memtype 7"]],
  },
  // --- devices ---------------------------------------------------------------------------------
  {
    fn: "vcm_dev_addr_to_phys_addr",
    method: "VcmManager.devAddrToPhysAddr",
    code: "EFAULT",
    why: "an SMMU context does not map the address",
    run: (w) => [
      () => w.vcmm.devAddrToPhysAddr(w.ctx("vcodec"), 0x1300_0000),
      ["vcodec", "0x13000000"],
    ],
  },
  {
    fn: "vcm_dev_addr_to_phys_addr",
    method: "VcmManager.devAddrToPhysAddr",
    code: "EFAULT",
    why: "the CPU does not map the address",
    run: (w) => [
      () => w.vcmm.devAddrToPhysAddr(w.m.cpu, KERNEL_VA + 128 * M),
      ["vcm_dev_addr_to_phys_addr", "cpu0", hexOf(KERNEL_VA + 128 * M)],
    ],
  },
  {
    fn: "vcm_dev_addr_to_phys_addr",
    method: "VcmManager.devAddrToPhysAddr",
    code: "EFAULT",
    why: "the address is outside a one-to-one device's window",
    run: (w) => [
      () => w.vcmm.devAddrToPhysAddr(w.m.mdp, DRAM),
      ["vcm_dev_addr_to_phys_addr", "mdp", hexOf(DRAM)],
    ],
  },
  {
    fn: "vcm_hook",
    method: "VcmManager.hook",
    code: "EINVAL",
    why: "the handler is not a function (CPU)",
    run: (w) => [() => w.vcmm.hook(w.m.cpu, 5 as never), ["vcm_hook", "cpu0"]],
  },
  {
    fn: "vcm_hook",
    method: "VcmManager.hook",
    code: "EINVAL",
    why: "the handler is not a function (SMMU context)",
    run: (w) => [() => w.vcmm.hook(w.ctx("vfe"), 5 as never), ["vcm_hook", "vfe"]],
  },
  {
    fn: "vcm_hw_ver",
    method: "VcmManager.hwVer",
    code: "ENODEV",
    why: "the context instance is bound to no SMMU",
    run: (w) => {
      const loose = looseInstance(w);
      return [() => w.vcmm.hwVer(loose), ["vcm_hw_ver", "loose"]];
    },
  },
  {
    fn: "(device lookup)",
    method: "VcmManager.device",
    code: "ENOENT",
    why: "no device has the name",
    run: (w) => [() => w.vcmm.device("nosuch"), ['"nosuch"']],
  },
];

describe("the header's errors, function by function", () => {
  it.each(cases.map((c) => [`${c.fn} (${c.method}): ${c.code} when ${c.why}`, c] as const))(
    "%s",
    (_title, c) => {
      const w = world();
      const [call, texts] = c.run(w);
      expectRefused(w.m, call, c.code, ...texts);
    },
  );

  it("covers every function of vcm.h that can fail", () => {
    const covered = new Set(cases.map((c) => c.fn));
    for (const fn of [
      "vcm_create",
      "vcm_create_from_prebuilt",
      "vcm_clone",
      "vcm_free",
      "vcm_reserve",
      "vcm_reserve_at",
      "vcm_unreserve",
      "vcm_set_res_attr",
      "vcm_get_next_res",
      "vcm_res_copy",
      "vcm_back",
      "vcm_unback",
      "vcm_phys_alloc",
      "vcm_phys_free",
      "vcm_get_physmem_from_res",
      "vcm_assoc",
      "vcm_deassoc",
      "vcm_set_assoc_attr",
      "vcm_activate",
      "vcm_deactivate",
      "vcm_create_bound",
      "vcm_free_bound",
      "vcm_reserve_from_bound",
      "vcm_map_phys_addr",
      "vcm_get_next_phys_addr",
      "vcm_get_dev_addr",
      "vcm_translate",
      "vcm_get_next_phys_res",
      "vcm_get_pgtbl_pa",
      "vcm_get_cont_memtype_pa",
      "vcm_get_cont_memtype_len",
      "vcm_dev_addr_to_phys_addr",
      "vcm_hook",
      "vcm_hw_ver",
      "vcm_sys_init",
      "vcm_sys_destroy",
    ])
      expect(covered, fn).toContain(fn);
  });
});

// --- Use after free ------------------------------------------------------------------------------

/** A freed handle and every call on it: each must be EINVAL naming the handle, changing nothing. */
interface Freed {
  readonly kind: string;
  readonly name: string;
  readonly gone: string;
  readonly make: (w: World) => Record<string, () => unknown>;
}

const freed: Freed[] = [
  {
    kind: "VCM",
    name: "gone",
    gone: "was freed",
    make: (w) => {
      const v = w.vcmm.create(0x6000_0000, 16 * M, "gone");
      v.free();
      return {
        vcm_get_start_addr: () => v.getStartAddr(),
        vcm_get_len: () => v.getLen(),
        vcm_get_num_res: () => v.getNumRes(),
        vcm_get_next_res: () => v.getNextRes(),
        vcm_get_res: () => v.getRes(0x6000_0000),
        vcm_reserve: () => v.reserve(4 * K, RW),
        vcm_reserve_at: () => v.reserveAt(VCM_START, 4 * K, RW),
        vcm_create_bound: () => v.createBound(M),
        vcm_assoc: () => v.assoc(w.ctx("rot"), 0),
        vcm_get_pgtbl_pa: () => v.getPgtblPa(),
        vcm_clone: () => v.clone(),
        "vcm_clone (manager)": () => w.vcmm.clone(v),
        vcm_free: () => v.free(),
        "vcm_translate (src)": () => w.vcmm.translate(0x6000_0000, v, w.dev),
        "vcm_translate (dst)": () => w.vcmm.translate(w.backed.getDevAddr(), w.dev, v),
      };
    },
  },
  {
    kind: "reservation",
    name: "goner",
    gone: "was unreserved",
    make: (w) => {
      const r = w.dev.reserve(4 * K, RW, "goner");
      r.unreserve();
      return {
        vcm_get_vcm_from_res: () => r.getVcm(),
        vcm_get_res_len: () => r.getLen(),
        vcm_get_res_attr: () => r.getAttr(),
        vcm_get_dev_addr: () => r.getDevAddr(),
        vcm_get_physmem_from_res: () => r.getPhysmem(),
        vcm_back: () => r.back(w.page),
        "vcm_back (manager)": () => w.vcmm.back(r, w.page),
        vcm_unback: () => r.unback(),
        "vcm_unback (manager)": () => w.vcmm.unback(r),
        vcm_set_res_attr: () => r.setAttr(RW),
        "vcm_set_res_attr (manager)": () => w.vcmm.setResAttr(r, RW),
        vcm_unreserve: () => r.unreserve(),
        "vcm_unreserve (manager)": () => w.vcmm.unreserve(r),
        "vcm_res_copy (to)": () => w.vcmm.resCopy(r, 0, w.backed, 0, 1),
        "vcm_res_copy (from)": () => w.vcmm.resCopy(w.backed, 0, r, 0, 1),
        vcm_get_next_res: () => w.dev.getNextRes(r),
      };
    },
  },
  {
    kind: "physmem",
    name: "gonepm",
    gone: "was freed",
    make: (w) => {
      const p = w.vcmm.physAlloc(VCM_MEMTYPE_0, 64 * K, 0, "gonepm");
      p.free();
      return {
        vcm_get_memtype_of_physalloc: () => p.getMemtype(),
        vcm_get_next_phys_addr: () => p.nextPhysAddr(),
        vcm_phys_free: () => p.free(),
        vcm_back: () => w.unbacked.back(p),
        "vcm_back (manager)": () => w.vcmm.back(w.unbacked, p),
      };
    },
  },
  {
    kind: "association",
    name: "gone.rot",
    gone: "was deassociated",
    make: (w) => {
      const a = w.dev.assoc(w.ctx("rot"), 0, "gone.rot");
      a.deassoc();
      return {
        vcm_is_active: () => a.isActive(),
        vcm_get_assoc_attr: () => a.getAttr(),
        vcm_set_assoc_attr: () => a.setAttr(0),
        vcm_activate: () => a.activate(),
        "vcm_activate (manager)": () => w.vcmm.activate(a),
        vcm_deactivate: () => a.deactivate(),
        "vcm_deactivate (manager)": () => w.vcmm.deactivate(a),
        vcm_deassoc: () => a.deassoc(),
        "vcm_deassoc (manager)": () => w.vcmm.deassoc(a),
      };
    },
  },
  {
    kind: "bound",
    name: "gonebound",
    gone: "was freed",
    make: (w) => {
      const b = w.dev.createBound(M, "gonebound");
      b.free();
      return {
        vcm_get_bound_start_addr: () => b.getStartAddr(),
        vcm_get_bound_len: () => b.getLen(),
        vcm_reserve_from_bound: () => b.reserve(4 * K, RW),
        vcm_free_bound: () => b.free(),
      };
    },
  },
];

describe("use after free: every handle kind, every call, EINVAL", () => {
  for (const f of freed)
    it(`a freed ${f.kind} (${f.name})`, () => {
      const w = world();
      const calls = f.make(w);
      for (const [fn, call] of Object.entries(calls)) {
        let e;
        try {
          e = expectRefused(w.m, call, "EINVAL", f.name);
        } catch (failure) {
          throw new Error(`${fn}: ${(failure as Error).message}`, { cause: failure });
        }
        if (fn !== "vcm_get_next_res") expect(e.message, fn).toContain(f.gone);
      }
    });

  it("a destroyed manager refuses every call", () => {
    const m = vcmMachine();
    const { vcmm } = m;
    vcmm.destroy();
    for (const call of [
      () => vcmm.create(0x1000_0000, M),
      () => vcmm.createFromPrebuilt(VCM_PREBUILT_KERNEL),
      () => vcmm.physAlloc(VCM_MEMTYPE_0, 4 * K, 0),
      () => vcmm.mapPhysAddr(DRAM, 4 * K),
      () => vcmm.getContMemtypePa(VCM_MEMTYPE_0),
      () => vcmm.getPhysNumRes(DRAM),
      () => vcmm.devAddrToPhysAddr(m.mdp, m.cont.base),
      () => vcmm.hook(m.cpu, undefined),
      () => vcmm.hwVer(m.cpu),
      () => vcmm.destroy(),
    ])
      expectRefused(m, call, "EINVAL", "destroyed");
  });
});

// --- Names ---------------------------------------------------------------------------------------

describe("a refused call gives its name back", () => {
  it.each<[string, (w: World) => unknown]>([
    ["vcm_create (no whole page)", (w) => w.vcmm.create(0x1800, 0x1000, "n")],
    ["vcm_reserve (ENOMEM)", (w) => w.lonely.reserve(32 * M, RW, "n")],
    ["vcm_create_bound (ENOMEM)", (w) => w.lonely.createBound(32 * M, "n")],
    ["vcm_phys_alloc (ENOMEM)", (w) => w.vcmm.physAlloc(VCM_MEMTYPE_0, 200 * M, 0, "n")],
    ["vcm_assoc (EBUSY)", (w) => w.dev.assoc(w.ctx("vcodec"), 0, "n")],
    [
      "vcm_clone (ENOMEM, root table)",
      (w) => {
        w.vcmm.tableMemory.failAfter = 0;
        try {
          return w.kern.clone("n");
        } finally {
          w.vcmm.tableMemory.failAfter = undefined;
        }
      },
    ],
  ])("%s", (_what, refused) => {
    const w = world();
    const before = vcmState(w.m);
    expect(() => refused(w)).toThrow();
    expect(vcmState(w.m)).toEqual(before);
    expect(w.vcmm.create(0x7000_0000, M, "n").name).toBe("n");
  });

  it("and uses up no automatic name: the next objects are named as if it had not happened", () => {
    const names = (w: World) => {
      const v = w.vcmm.create(0x7000_0000, M);
      const c = w.kern.clone();
      return [v.name, c.name, ...c.reservations().map((r) => r.name)];
    };
    const w = world();
    expectError(() => w.vcmm.create(0x1800, 0x1000), "EINVAL");
    w.vcmm.tableMemory.failAfter = 0;
    expectError(() => w.kern.clone(), "ENOMEM");
    w.vcmm.tableMemory.failAfter = undefined;
    expect(names(w)).toEqual(names(world()));
  });
});
