/**
 * The VCM manager (`vcm_sys_init` / `vcm_sys_destroy`): the VCMs, physmems and devices of one
 * platform, and the calls of `vcm.h` that are not a method of one handle — VCM creation,
 * physical allocation, backing, translation between VCMs, reverse lookups, fault hooks.
 *
 * Configuration: which memory target each memtype allocates from (a chunk-pool target: its
 * pools are the `vcm_alloc.c` chunk pools, its contiguous pool serves VCM_PHYS_CONT), the
 * target page tables are allocated from, the SMMUs whose contexts the VCM drives (the seed's
 * device tree), and the CPU tables a prebuilt VCM stands for.
 *
 * @example
 * const vcmm = new VcmManager(platform, {
 *   memtypes: [{ memtype: VCM_MEMTYPE_0, target: "vcm-pools" }],
 *   tables: "pgtables",
 *   smmus: [{ smmu: "smmu0" }],
 * });
 * const vcm = vcmm.create(0x1000_0000, 16 << 20);
 * const avcm = vcm.assoc(vcmm.devices.getCtxInstance("vcodec"), 0);
 * avcm.activate();
 * const res = vcm.reserve(1 << 20, VCM_READ | VCM_WRITE);
 * const physmem = vcmm.physAlloc(VCM_MEMTYPE_0, 1 << 20, 0);
 * res.back(physmem); // the vcodec context now maps res.getDevAddr() -> physmem, 1 x 1M section
 */
import { hex, hexRange } from "../base/address.js";
import { alignUp } from "../base/align.js";
import { fail, MemweaveError } from "../base/errors.js";
import type { EventMap, EventType } from "../base/events.js";
import type { Disposable } from "../base/lifetime.js";
import { formatSize, formatSizeShort } from "../base/size.js";
import {
  checkAddress,
  checkArray,
  checkInstance,
  checkName,
  checkObject,
  describeValue,
} from "../base/validate.js";
import { Cpu } from "../devices/cpu.js";
import type { ReachPath } from "../devices/graph/reverse-map.js";
import { whoReaches } from "../devices/graph/reverse-map.js";
import { OneToOneDevice } from "../devices/one-to-one.js";
import { Platform } from "../devices/platform.js";
import type { Fault } from "../mmu/regime.js";
import type { AnyPageTable } from "../mmu/page-table.js";
import { PageTable } from "../mmu/page-table.js";
import type { MemType } from "../mmu/prot.js";
import { PhysTableMemory } from "../mmu/table-memory.js";
import type { Memtype } from "./attrs.js";
import {
  checkMemtype,
  checkResAttr,
  memtypeName,
  physRequest,
  resAlignment,
  resMemType,
  resProt,
  VCM_MIN_PAGE_SIZE,
  VCM_PREBUILT_KERNEL,
  VCM_PREBUILT_USER,
} from "./attrs.js";
import type { VcmDevice } from "./association.js";
import { Association, checkVcmDevice } from "./association.js";
import type { MapJob } from "./backing.js";
import {
  devAttrOf,
  mapAll,
  mapSizesOf,
  countPagesOf,
  protectAll,
  targetOfAssociation,
  targetsOf,
  unmapAll,
} from "./backing.js";
import { tableTarget } from "./map-target.js";
import type { PhysmemHost } from "./physmem.js";
import { Physmem } from "./physmem.js";
import type { Bound } from "./bound.js";
import { Reservation } from "./reservation.js";
import { SmmuDeviceTree } from "./smmu/device-tree.js";
import { SmmuDev } from "./smmu/driver.js";
import { SMMU_MAP_SIZES } from "./smmu/driver.js";
import type { VcmType } from "./vcm.js";
import { Vcm } from "./vcm.js";

declare module "../base/events.js" {
  interface EventMap {
    "vcm.create": { vcm: string; type: string; start: number; len: number };
    "vcm.free": { vcm: string };
    "vcm.reserve": { vcm: string; res: string; devAddr: number | null; len: number; attr: number };
    "vcm.unreserve": { vcm: string; res: string };
    "vcm.back": { res: string; physmem: string; devAddr: number; devices: string[] };
    "vcm.unback": { res: string; physmem: string };
    "vcm.physAlloc": { physmem: string; memtype: number; len: number; chunks: number };
    "vcm.physFree": { physmem: string };
    "vcm.assoc": { avcm: string; vcm: string; device: string };
    "vcm.deassoc": { avcm: string };
    "vcm.activate": { avcm: string };
    "vcm.deactivate": { avcm: string };
    "vcm.alias": { res: string; pa: number; size: number; with: string; memType: string };
  }
}

/** A prebuilt address space: the CPU table it is and the range reservations come from. */
export interface PrebuiltSpace {
  readonly table: AnyPageTable;
  readonly start: number;
  readonly len: number;
}

export interface VcmManagerOptions {
  /** The memory target (chunk-pool) of each memtype. */
  readonly memtypes: ReadonlyArray<{ readonly memtype: Memtype; readonly target: string }>;
  /** The memory target SMMU context tables and cloned tables are allocated from. */
  readonly tables: string;
  /** The SMMUs the VCM drives (their contexts become `dev_id`s), with base, irq and version. */
  readonly smmus?: ReadonlyArray<{
    readonly smmu: string;
    readonly base?: number;
    readonly irq?: number;
    readonly version?: number;
  }>;
  /** The tables `vcm_create_from_prebuilt` stands for. */
  readonly prebuilt?: { readonly kernel?: PrebuiltSpace; readonly user?: PrebuiltSpace };
  /**
   * Allow mappings of one physical page with conflicting memory attributes (default: refuse,
   * EINVAL); allowed, each is counted in {@link VcmStats.aliases}.
   */
  readonly allowAliases?: boolean;
}

/** What the manager counts. */
export interface VcmStats {
  backs: number;
  unbacks: number;
  /** Pages mapped into devices and tables, by size (bytes -> count). */
  pagesMapped: Record<string, number>;
  /** Mappings made although they alias memory mapped with other attributes. */
  aliases: number;
}

/** The keys of `pagesMapped` for the usual page sizes. */
const PAGE_KEYS = new Map(
  [4 << 10, 64 << 10, 1 << 20, 2 << 20, 16 << 20, 1 << 30].map((s) => [s, formatSizeShort(s)]),
);

/** A VCM fault hook (`vcm_handler`): return 1 to retry the transaction, 0 to terminate it. */
export type VcmHandler = (device: VcmDevice, data: unknown, fault: Fault) => number;

export class VcmManager implements PhysmemHost {
  /** The seed's SMMU device tree: context instances by name. */
  readonly devices: SmmuDeviceTree;
  readonly stats: VcmStats = { backs: 0, unbacks: 0, pagesMapped: {}, aliases: 0 };
  /** @internal Table memory for clones' tables. */
  readonly tableMemory: PhysTableMemory;
  private readonly vcms_: Vcm[] = [];
  private readonly physmems_: Physmem[] = [];
  private readonly names = new Set<string>();
  private readonly counters = new Map<string, number>();
  private readonly memtypeTargets = new Map<Memtype, string>();
  private readonly physLabels = new Map<Physmem, Disposable[]>();
  private readonly hooks = new Map<VcmDevice, Disposable>();
  private readonly reservationsByName = new Map<string, Reservation>();
  private destroyed = false;

  /** `vcm_sys_init`. EINVAL for a memtype listed twice or a target that is not a chunk pool. */
  constructor(
    readonly platform: Platform,
    readonly options: VcmManagerOptions,
  ) {
    const fn = "vcm_sys_init";
    checkInstance(fn, "platform", platform, Platform);
    checkObject(fn, "options", options, [
      "memtypes",
      "tables",
      "smmus",
      "prebuilt",
      "allowAliases",
    ]);
    checkArray(fn, "memtypes", options.memtypes).forEach((m, i) =>
      checkName(fn, `memtypes.${i}.target`, checkObject(fn, `memtypes.${i}`, m).target),
    );
    checkName(fn, "tables", options.tables);
    if (options.smmus !== undefined)
      checkArray(fn, "smmus", options.smmus).forEach((s, i) =>
        checkName(fn, `smmus.${i}.smmu`, checkObject(fn, `smmus.${i}`, s).smmu),
      );
    if (options.prebuilt !== undefined) checkObject(fn, "prebuilt", options.prebuilt);
    for (const m of options.memtypes) {
      checkMemtype(m.memtype);
      if (this.memtypeTargets.has(m.memtype))
        fail("EINVAL", `vcm_sys_init: ${memtypeName(m.memtype)} is configured twice`);
      const t = platform.target(m.target);
      if (t.kind !== "chunk-pool")
        fail(
          "EINVAL",
          `vcm_sys_init: ${memtypeName(m.memtype)}'s target "${m.target}" is a ${t.kind} target, not a chunk pool`,
        );
      this.memtypeTargets.set(m.memtype, m.target);
    }
    this.tableMemory = new PhysTableMemory(platform.store, platform.target(options.tables));
    this.devices = new SmmuDeviceTree(platform, {
      tables: this.tableMemory,
      smmus: options.smmus ?? [],
    });
  }

  // --- Names -----------------------------------------------------------------------------------

  /** @internal A unique name: `name` (EEXIST if taken) or the next `prefix<n>`. */
  takeName(name: string | undefined, prefix: string, what: string): string {
    if (name !== undefined) {
      this.checkName(name, what);
      this.names.add(name);
      return name;
    }
    let n = this.counters.get(prefix) ?? 0;
    while (this.names.has(`${prefix}${n}`)) n++;
    this.counters.set(prefix, n + 1);
    this.names.add(`${prefix}${n}`);
    return `${prefix}${n}`;
  }

  /** Publish an event if anyone listens (else only count it): payloads are built on demand. */
  private note<T extends EventType>(type: T, payload: () => EventMap[T]): void {
    const ch = this.platform.bus.channel(type);
    if (ch.interest > 0) ch.emit(payload());
    else ch.skip();
  }

  /** @internal EEXIST / EINVAL if `name` is given and cannot be taken (takes nothing). */
  checkName(name: string | undefined, what: string): void {
    if (name === "") fail("EINVAL", `${what}: the name is empty`);
    if (name !== undefined && typeof name !== "string")
      fail(
        "EINVAL",
        `${what}: name must be a non-empty string, got ${describeValue(name)}`,
        "name",
      );
    if (name !== undefined && this.names.has(name))
      fail("EEXIST", `${what}: the name "${name}" is taken`);
  }

  /** @internal */
  forgetName(name: string): void {
    this.names.delete(name);
  }

  /**
   * @internal Give back a name a refused call took, so that the call changes nothing: an
   * automatic name (the last of its prefix) is handed out again next time.
   */
  untakeName(name: string, automatic: boolean): void {
    this.names.delete(name);
    if (automatic)
      for (const [prefix, n] of this.counters)
        if (name === `${prefix}${n - 1}`) this.counters.set(prefix, n - 1);
  }

  private check(what: string): void {
    if (this.destroyed) fail("EINVAL", `${what}: the VCM manager was destroyed`);
  }

  // --- VCMs ------------------------------------------------------------------------------------

  /** Every live VCM, in creation order. */
  vcms(): readonly Vcm[] {
    return this.vcms_;
  }

  /** Every live physmem, in allocation order. */
  physmems(): readonly Physmem[] {
    return this.physmems_;
  }

  /**
   * `vcm_create`: a device VCM over `[start, start+len)`, or a one-to-one VCM when the range is
   * exactly a memory region of the machine or a memtype's contiguous pool (the seed's muxing).
   * EINVAL for an empty or out-of-range length.
   */
  create(start: number, len: number, name?: string): Vcm {
    this.check("vcm_create");
    if (!Number.isSafeInteger(start) || start < 0)
      fail("EINVAL", `vcm_create: start ${describeValue(start)} is not an address`, "start");
    if (!Number.isSafeInteger(len) || len < VCM_MIN_PAGE_SIZE || !Number.isSafeInteger(start + len))
      fail(
        "EINVAL",
        `vcm_create: length ${describeValue(len)} is not at least vcm_get_min_page_size() (${VCM_MIN_PAGE_SIZE}) within the address space`,
      );
    const oneToOne = this.physicalRegions().some((r) => r.base === start && r.size === len);
    const vcmName = this.takeName(name, "vcm", "vcm_create");
    let vcm: Vcm;
    try {
      vcm = new Vcm(
        this,
        vcmName,
        oneToOne ? "one-to-one" : "device",
        start,
        len,
        oneToOne ? [VCM_MIN_PAGE_SIZE] : SMMU_MAP_SIZES,
        undefined,
      );
    } catch (e) {
      this.untakeName(vcmName, name === undefined);
      throw e;
    }
    return this.made(vcm);
  }

  /** The physical ranges a one-to-one VCM may stand for. */
  private physicalRegions(): Array<{ base: number; size: number }> {
    const out = this.platform.map
      .regions()
      .filter((r) => r.kind !== "io")
      .map((r) => ({ base: r.base, size: r.size }));
    for (const target of this.memtypeTargets.values()) {
      const cont = this.platform.target(target).chunkPool?.contiguous;
      if (cont) out.push({ base: cont.base, size: cont.size });
    }
    return out;
  }

  /**
   * `vcm_create_from_prebuilt`: the kernel (VCM_PREBUILT_KERNEL) or user (VCM_PREBUILT_USER)
   * address space configured for it. EINVAL for another id; ENODEV if not configured; EBUSY if
   * a VCM stands for it already (two would reserve from one range).
   */
  createFromPrebuilt(extVcmId: number, name?: string): Vcm {
    this.check("vcm_create_from_prebuilt");
    if (extVcmId !== VCM_PREBUILT_KERNEL && extVcmId !== VCM_PREBUILT_USER)
      fail(
        "EINVAL",
        `vcm_create_from_prebuilt: ext_vcm_id ${describeValue(extVcmId)} is not VCM_PREBUILT_KERNEL (1) or VCM_PREBUILT_USER (2)`,
      );
    const kernel = extVcmId === VCM_PREBUILT_KERNEL;
    const space = kernel ? this.options.prebuilt?.kernel : this.options.prebuilt?.user;
    const which = kernel ? "kernel" : "user";
    if (space === undefined)
      fail("ENODEV", `vcm_create_from_prebuilt: no prebuilt ${which} address space is configured`);
    const holder = this.vcms_.find((v) => v.table === space.table);
    if (holder)
      fail(
        "EBUSY",
        `vcm_create_from_prebuilt: ${holder.name} stands for the ${which} address space already`,
      );
    return this.made(
      new Vcm(
        this,
        this.takeName(name, "vcm", "vcm_create_from_prebuilt"),
        kernel ? "ext-kernel" : "ext-user",
        space.start,
        space.len,
        space.table.format.pageSizes,
        space.table,
      ),
    );
  }

  private made(vcm: Vcm): Vcm {
    this.vcms_.push(vcm);
    this.note("vcm.create", () => ({
      vcm: vcm.name,
      type: vcm.type,
      start: vcm.startAddr,
      len: vcm.len,
    }));
    return vcm;
  }

  /** @internal `vcm_free` (checked by the VCM). */
  freed(vcm: Vcm): void {
    this.vcms_.splice(this.vcms_.indexOf(vcm), 1);
    this.forgetName(vcm.name);
    // A clone's own table goes with it; a prebuilt table is the CPU's.
    const own = vcm.table !== undefined && !this.isPrebuiltTable(vcm.table);
    if (own) vcm.table.destroy();
    this.note("vcm.free", () => ({ vcm: vcm.name }));
  }

  private isPrebuiltTable(t: AnyPageTable): boolean {
    return this.options.prebuilt?.kernel?.table === t || this.options.prebuilt?.user?.table === t;
  }

  /**
   * `vcm_clone`: a deep copy — the same kind, range, bounds and reservations (same device
   * addresses and attributes), backed by the same physmems. A prebuilt VCM's clone gets a table
   * of its own with the reservations' mappings copied (a fork of the address space: activating
   * an association loads it into the CPU). A device VCM's clone has no associations; its
   * reservations are mapped into a device when an association with it is activated. Later
   * changes to either VCM are seen by that VCM only.
   */
  clone(src: Vcm, name?: string): Vcm {
    this.check("vcm_clone");
    checkInstance("vcm_clone", "src", src, Vcm);
    src.check("vcm_clone");
    const cloneName = this.takeName(name, "vcm", "vcm_clone");
    const names = [cloneName];
    let table: AnyPageTable | undefined;
    let vcm: Vcm;
    let copies: Reservation[];
    try {
      table =
        src.table === undefined
          ? undefined
          : new PageTable(src.table.format, this.tableMemory, {
              name: `${cloneName}.pt`,
              bus: this.platform.bus,
            });
      vcm = new Vcm(this, cloneName, src.type, src.startAddr, src.len, src.pageSizes, table);
      const boundOf = new Map<Bound, Bound>();
      for (const b of src.bounds()) {
        const nb = vcm.boundAt(
          this.takeName(undefined, `${cloneName}.bound`, "vcm_clone"),
          b.start,
          b.len,
        );
        names.push(nb.name);
        boundOf.set(b, nb);
      }
      copies = src.reservations().map((r) => {
        const bound = r.bound === undefined ? undefined : boundOf.get(r.bound);
        const c = vcm.copyReservation(
          r,
          bound,
          this.takeName(undefined, `${cloneName}.res`, "vcm_clone"),
        );
        names.push(c.name);
        return c;
      });
      if (table !== undefined)
        mapAll(
          [tableTarget(table)],
          copies.filter((c) => c.physmem_).map((c) => this.jobOf(c, c.physmem_!, "vcm_clone")),
        );
    } catch (e) {
      table?.destroy();
      for (const n of names.reverse()) this.untakeName(n, n !== name);
      throw e;
    }
    this.made(vcm);
    for (const c of copies) {
      this.reserved(c);
      if (c.physmem_ === undefined) continue;
      c.physmem_.backers.add(c);
      if (table !== undefined) {
        this.countPages(vcm, this.jobOf(c, c.physmem_, "vcm_clone"));
        this.labelMapped(c, [table]);
      } else if (vcm.type === "one-to-one") this.labelMapped(c, []);
    }
    return vcm;
  }

  // --- Reservations ------------------------------------------------------------------------------

  /** @internal A reservation was made. */
  reserved(res: Reservation): void {
    this.reservationsByName.set(res.name, res);
    this.note("vcm.reserve", () => ({
      vcm: res.vcm.name,
      res: res.name,
      devAddr: res.devAddr ?? null,
      len: res.len,
      attr: res.attr_,
    }));
  }

  /** @internal `vcm_unreserve`: EBUSY while backed. */
  unreserve(res: Reservation): void {
    checkInstance("vcm_unreserve", "res", res, Reservation);
    res.check("vcm_unreserve");
    res.vcm.check("vcm_unreserve");
    if (res.physmem_ !== undefined)
      fail("EBUSY", `vcm_unreserve: ${res.name} is backed by ${res.physmem_.name}`);
    res.vcm.dropReservation(res);
    this.reservationsByName.delete(res.name);
    this.forgetName(res.name);
    res.retire();
    this.note("vcm.unreserve", () => ({ vcm: res.vcm.name, res: res.name }));
  }

  /** The reservation named `name`, if live. */
  reservation(name: string): Reservation | undefined {
    checkName("reservation", "name", name);
    return this.reservationsByName.get(name);
  }

  /** The mapping job of `res` backed by `physmem` (its device address must be known). */
  private jobOf(res: Reservation, physmem: Physmem, what: string, attr = res.attr_): MapJob {
    return {
      res,
      pieces: res.pieces(physmem, res.devAddr_!),
      prot: resProt(attr, `${what}: ${res.name}`),
      devAttr: devAttrOf(attr),
    };
  }

  /**
   * `vcm_back`: back `res` with `physmem` — map it into every associated device with the largest
   * page sizes the chunks' lengths and alignments allow (a one-to-one VCM maps nothing: the
   * device address becomes the memory's physical address). All or nothing.
   *
   * EINVAL: res or physmem invalid, `res.len !== physmem.len`, the VCM has no association,
   * the attributes grant no access, a one-to-one backing by memory that is not physically
   * contiguous or not inside the VCM, or — unless aliases are allowed — a physical page mapped
   * elsewhere with another memory type (the message names that mapping). EAGAIN: an association
   * is inactive. EBUSY: already backed (v3: "TBD if you vcm_back again what happens?").
   */
  back(res: Reservation, physmem: Physmem): void {
    checkInstance("vcm_back", "res", res, Reservation);
    checkInstance("vcm_back", "physmem", physmem, Physmem);
    res.check("vcm_back");
    const vcm = res.vcm;
    vcm.check("vcm_back");
    physmem.check("vcm_back");
    if (res.physmem_ !== undefined)
      fail("EBUSY", `vcm_back: ${res.name} is backed by ${res.physmem_.name} already`);
    if (res.len !== physmem.len)
      fail(
        "EINVAL",
        `vcm_back: ${res.name}'s length ${formatSize(res.len)} (${res.len}) is not ${physmem.name}'s ${formatSize(physmem.len)} (${physmem.len})`,
      );
    this.checkAssociations(vcm, "vcm_back");
    if (vcm.type === "one-to-one") {
      const segs = physmem.segments();
      if (segs.length !== 1)
        fail(
          "EINVAL",
          `vcm_back: ${physmem.name} is ${segs.length} physical segments; a one-to-one reservation needs contiguous memory`,
        );
      const seg = segs[0]!;
      if (seg.pa < vcm.startAddr || seg.pa + res.size > vcm.startAddr + vcm.len)
        fail(
          "EINVAL",
          `vcm_back: ${physmem.name} at ${hexRange(seg.pa, res.size)} is outside one-to-one ${vcm.name} ${hexRange(vcm.startAddr, vcm.len)}`,
        );
      res.devAddr_ = seg.pa;
      this.labelMapped(res, []);
    } else {
      const job = this.jobOf(res, physmem, "vcm_back");
      this.checkAliases(res, physmem, resMemType(res.attr_), "vcm_back");
      mapAll(targetsOf(vcm), [job]);
      this.countPages(vcm, job, targetsOf(vcm).length);
      this.labelMapped(
        res,
        targetsOf(vcm).map((t) => t.table),
      );
    }
    res.physmem_ = physmem;
    physmem.backers.add(res);
    this.stats.backs++;
    this.note("vcm.back", () => ({
      res: res.name,
      physmem: physmem.name,
      devAddr: res.devAddr_!,
      devices: vcm.associations_.map((a) => a.device.name),
    }));
  }

  /**
   * `vcm_unback`: unmap `res` from every associated device (invalidating their TLBs) and forget
   * its physmem. EINVAL if not backed or the VCM has no association; EAGAIN if an association is
   * inactive (the header: "each association must be active").
   */
  unback(res: Reservation): void {
    checkInstance("vcm_unback", "res", res, Reservation);
    res.check("vcm_unback");
    const vcm = res.vcm;
    vcm.check("vcm_unback");
    const physmem = res.physmem_;
    if (physmem === undefined) fail("EINVAL", `vcm_unback: ${res.name} is not backed`);
    this.checkAssociations(vcm, "vcm_unback");
    if (vcm.type !== "one-to-one")
      unmapAll(targetsOf(vcm), [this.jobOf(res, physmem, "vcm_unback")]);
    else res.devAddr_ = undefined;
    this.unlabel(res);
    res.physmem_ = undefined;
    physmem.backers.delete(res);
    this.stats.unbacks++;
    this.note("vcm.unback", () => ({ res: res.name, physmem: physmem.name }));
  }

  /**
   * `vcm_set_res_attr`: new attributes. On a backed reservation the new rights and cache policy
   * are applied to its mappings in every associated device (EAGAIN if one is inactive; refused
   * like a backing when the new memory type would alias). The alignment field does not move a
   * reservation: EINVAL if its device address does not meet the new alignment.
   */
  setResAttr(res: Reservation, attr: number): void {
    checkInstance("vcm_set_res_attr", "res", res, Reservation);
    res.check("vcm_set_res_attr");
    res.vcm.check("vcm_set_res_attr");
    checkResAttr(attr, `vcm_set_res_attr: ${res.name}`);
    const align = resAlignment(attr);
    if (align !== undefined && res.devAddr_ !== undefined && res.devAddr_ % align !== 0)
      fail(
        "EINVAL",
        `vcm_set_res_attr: ${res.name} at ${hex(res.devAddr_)} is not aligned to the ${formatSize(align)} the attribute asks for`,
      );
    const physmem = res.physmem_;
    if (physmem !== undefined && res.vcm.type !== "one-to-one") {
      this.checkAssociations(res.vcm, "vcm_set_res_attr");
      const job = this.jobOf(res, physmem, "vcm_set_res_attr", attr);
      if (resMemType(attr) !== resMemType(res.attr_))
        this.checkAliases(res, physmem, resMemType(attr), "vcm_set_res_attr");
      protectAll(targetsOf(res.vcm), job, {
        prot: resProt(res.attr_),
        devAttr: devAttrOf(res.attr_),
      });
    }
    res.attr_ = attr;
  }

  /** EINVAL without associations, EAGAIN with an inactive one. */
  private checkAssociations(vcm: Vcm, what: string): void {
    if (vcm.associations_.length === 0)
      fail("EINVAL", `${what}: ${vcm.name} is not associated with any device`);
    const idle = vcm.associations_.find((a) => !a.active_);
    if (idle)
      fail(
        "EAGAIN",
        `${what}: association ${idle.name} (${idle.device.name}) is not active; try again`,
      );
  }

  // --- Aliases -----------------------------------------------------------------------------------

  /**
   * The mappings of `physmem`'s memory whose memory type is not `memType` (ignoring `res`'s own),
   * found through the platform graph. Refused (EINVAL naming the first) unless aliases are
   * allowed; then counted.
   */
  private checkAliases(res: Reservation, physmem: Physmem, memType: MemType, what: string): void {
    const conflicts = this.aliasesOf(res, physmem, memType);
    if (conflicts.length === 0) return;
    if (this.options.allowAliases !== true) {
      const c = conflicts[0]!;
      fail(
        "EINVAL",
        `${what}: ${res.name} would map ${hexRange(c.phys.start, c.phys.end - c.phys.start)} ${memType}, but ${c.master} maps it ${c.memType} at ${c.input.space} ${hex(c.input.start)}${c.stage1 ? ` (table ${c.stage1.table})` : ""}: a mismatched alias (ARMv6 and later forbid it)`,
      );
    }
    for (const c of conflicts) {
      this.stats.aliases++;
      this.note("vcm.alias", () => ({
        res: res.name,
        pa: c.phys.start,
        size: c.phys.end - c.phys.start,
        with: c.master,
        memType: c.memType,
      }));
    }
  }

  private aliasesOf(res: Reservation, physmem: Physmem, memType: MemType): ReachPath[] {
    const segs = physmem.segments();
    const lo = Math.min(...segs.map((s) => s.pa));
    const hi = Math.max(...segs.map((s) => s.pa + s.len));
    return whoReaches(this.platform, lo, hi).filter(
      (p) =>
        p.memType !== "unknown" &&
        p.memType !== memType &&
        !p.owners.some((o) => o.system === "vcm" && o.name === res.name) &&
        segs.some((s) => p.phys.start < s.pa + s.len && s.pa < p.phys.end),
    );
  }

  // --- Owners --------------------------------------------------------------------------------------

  /** Label `res`'s mappings in these tables (a one-to-one reservation: its physical range). */
  private labelMapped(res: Reservation, tables: readonly AnyPageTable[]): void {
    const owner = { system: "vcm", kind: "reservation", name: res.name };
    const start = res.devAddr_!;
    if (res.vcm.type === "one-to-one")
      res.labels.set(
        "phys",
        this.platform.owners.label(owner, { phys: { start, end: start + res.size } }),
      );
    for (const t of tables)
      if (!res.labels.has(t))
        res.labels.set(
          t,
          this.platform.owners.label(owner, { table: t, start, end: start + res.size }),
        );
  }

  private unlabel(res: Reservation, only?: AnyPageTable): void {
    for (const [k, d] of res.labels)
      if (only === undefined || k === only) {
        d.dispose();
        res.labels.delete(k);
      }
  }

  private countPages(vcm: Vcm, job: MapJob, times = 1): void {
    const sizes = mapSizesOf(vcm);
    const counts = this.stats.pagesMapped;
    for (const p of job.pieces)
      countPagesOf(sizes, p.va, p.pa, p.size, (size, n) => {
        const key = PAGE_KEYS.get(size) ?? formatSizeShort(size);
        counts[key] = (counts[key] ?? 0) + n * times;
      });
  }

  // --- Associations --------------------------------------------------------------------------------

  /** @internal An association was made. */
  associated(a: Association): void {
    const owner = { system: "vcm", kind: "association", name: a.name };
    a.label =
      a.device instanceof SmmuDev
        ? this.platform.owners.label(owner, { table: a.device.table })
        : this.platform.owners.label(owner, { device: a.device.name });
    this.note("vcm.assoc", () => ({ avcm: a.name, vcm: a.vcm.name, device: a.device.name }));
  }

  /** @internal `vcm_activate` (see {@link Association}'s decisions). */
  activate(a: Association): void {
    checkInstance("vcm_activate", "avcm", a, Association);
    a.check("vcm_activate");
    const vcm = a.vcm;
    vcm.check("vcm_activate");
    if (a.active_) fail("EBUSY", `vcm_activate: ${a.name} is active already (double activate)`);
    const dev = a.device;
    if (dev instanceof SmmuDev) {
      if (!dev.live) fail("ENODEV", `vcm_activate: context instance ${dev.name} was freed`);
      if (dev.driver === undefined)
        fail("ENODEV", `vcm_activate: context instance ${dev.name} is bound to no SMMU`);
      if (dev.isActive())
        fail("EBUSY", `vcm_activate: ${dev.name} is active already (through another VCM)`);
      const holder = this.vcms_
        .flatMap((v) => v.associations_)
        .find((o) => o !== a && o.device === dev && o.programmed);
      if (holder)
        fail(
          "EBUSY",
          `vcm_activate: ${dev.name} still holds ${holder.vcm.name}'s mappings (${holder.name}); deassociate that first`,
        );
      // The context's mappings become live: none may alias memory mapped otherwise.
      for (const r of vcm.reservations())
        if (r.physmem_ !== undefined)
          this.checkAliases(r, r.physmem_, resMemType(r.attr_), "vcm_activate");
      const programNow = !a.programmed;
      if (programNow) this.program(a);
      try {
        dev.activate();
      } catch (e) {
        if (programNow) this.unprogram(a);
        throw e;
      }
    } else if (dev instanceof Cpu) {
      const other = this.vcms_
        .flatMap((v) => v.associations_)
        .find((o) => o.vcm !== vcm && o.device === dev && o.active_ && o.vcm.type === vcm.type);
      if (other)
        fail(
          "EBUSY",
          `vcm_activate: ${dev.name}'s ${vcm.type === "ext-kernel" ? "TTBR1" : "TTBR0"} runs ${other.vcm.name} (${other.name}); deactivate that first`,
        );
      this.loadCpu(vcm, dev);
    }
    a.active_ = true;
    this.note("vcm.activate", () => ({ avcm: a.name }));
  }

  /** Map a device VCM's backed reservations into the association's device, all or nothing. */
  private program(a: Association): void {
    const backed = a.vcm.reservations().filter((r) => r.physmem_ !== undefined);
    const jobs = backed.map((r) => this.jobOf(r, r.physmem_!, "vcm_activate"));
    const target = targetOfAssociation(a);
    mapAll([target], jobs);
    for (const j of jobs) {
      this.countPages(a.vcm, j);
      this.labelMapped(j.res, [target.table]);
    }
    a.programmed = true;
  }

  /** Remove a device VCM's backed reservations from the association's device. */
  private unprogram(a: Association): void {
    const backed = a.vcm.reservations().filter((r) => r.physmem_ !== undefined);
    const target = targetOfAssociation(a);
    unmapAll(
      [target],
      backed.map((r) => this.jobOf(r, r.physmem_!, "vcm_deassoc")),
    );
    for (const r of backed) this.unlabel(r, target.table);
    a.programmed = false;
  }

  /** Load a prebuilt VCM's table into the CPU (a context switch) unless it is there. */
  private loadCpu(vcm: Vcm, cpu: Cpu): void {
    const table = vcm.table!;
    const same = (r: { root: number; memory: unknown } | undefined) =>
      r !== undefined && r.root === table.root && r.memory === table.memory;
    const split = cpu.mmu.split;
    if (vcm.type === "ext-kernel") {
      if (split === undefined || vcm.startAddr < split)
        fail(
          "EINVAL",
          `vcm_activate: ${cpu.name}'s TTBR1 covers ${split === undefined ? "nothing (no split)" : `addresses from ${hex(split)}`}; kernel VCM ${vcm.name} starts at ${hex(vcm.startAddr)}`,
        );
      if (!same(cpu.mmu.ttbr1)) {
        cpu.setTtbr1(table);
        cpu.tlbiAsid();
      }
    } else {
      if (split !== undefined && vcm.startAddr + vcm.len > split)
        fail(
          "EINVAL",
          `vcm_activate: user VCM ${vcm.name} ${hexRange(vcm.startAddr, vcm.len)} reaches ${cpu.name}'s TTBR1 range (split ${hex(split)})`,
        );
      if (!same(cpu.mmu.ttbr0)) {
        cpu.setTtbr0(table);
        cpu.tlbiAsid();
      }
    }
  }

  /** @internal `vcm_deactivate`: ENOENT if not active. */
  deactivate(a: Association): void {
    checkInstance("vcm_deactivate", "avcm", a, Association);
    a.check("vcm_deactivate");
    a.vcm.check("vcm_deactivate");
    if (!a.active_) fail("ENOENT", `vcm_deactivate: ${a.name} is not active`);
    if (a.device instanceof SmmuDev && a.device.isActive()) a.device.deactivate();
    a.active_ = false;
    this.note("vcm.deactivate", () => ({ avcm: a.name }));
  }

  /** @internal `vcm_deassoc`: EBUSY while active. */
  deassoc(a: Association): void {
    checkInstance("vcm_deassoc", "avcm", a, Association);
    a.check("vcm_deassoc");
    a.vcm.check("vcm_deassoc");
    if (a.active_) fail("EBUSY", `vcm_deassoc: ${a.name} is still active`);
    if (a.programmed) this.unprogram(a);
    a.label?.dispose();
    a.vcm.dropAssociation(a);
    this.forgetName(a.name);
    a.retire();
    this.note("vcm.deassoc", () => ({ avcm: a.name }));
  }

  // --- Physical memory ---------------------------------------------------------------------------

  /**
   * `vcm_phys_alloc`: `len` bytes of `memtype`: chunks by max-munch from the memtype's pools
   * (limited by the page-size selection bits), or one contiguous range (VCM_PHYS_CONT) from its
   * contiguous pool, aligned as the attribute asks. An alignment above 4K on chunk memory keeps
   * only the chunk sizes it divides (chunks are naturally aligned); EINVAL if none is left.
   * EINVAL: bad memtype, length or attribute, or a size the memtype has no pool of; ENODEV:
   * the memtype is not configured; ENOMEM: the pools cannot supply it (nothing is taken).
   */
  physAlloc(memtype: number, len: number, attr: number, name?: string): Physmem {
    this.check("vcm_phys_alloc");
    checkMemtype(memtype);
    if (!Number.isSafeInteger(len) || len <= 0)
      fail(
        "EINVAL",
        `vcm_phys_alloc: length ${describeValue(len)} is not a positive number of bytes`,
      );
    const req = physRequest(attr, "vcm_phys_alloc");
    this.checkName(name, "vcm_phys_alloc");
    const target = this.memtypeTargets.get(memtype);
    if (target === undefined)
      fail("ENODEV", `vcm_phys_alloc: ${memtypeName(memtype)} has no memory target`);
    let allocation;
    if (req.contiguous)
      allocation = this.platform.alloc(target, alignUp(len, VCM_MIN_PAGE_SIZE), {
        contiguous: true,
        align: req.align ?? (len >= 1 << 20 ? 1 << 20 : len >= 64 << 10 ? 64 << 10 : 4096),
      });
    else {
      let sizes = req.sizes ?? this.platform.target(target).chunkPool!.chunkSizes;
      const align = req.align ?? VCM_MIN_PAGE_SIZE;
      if (align > VCM_MIN_PAGE_SIZE) {
        sizes = sizes.filter((s) => s >= align);
        if (sizes.length === 0)
          fail(
            "EINVAL",
            `vcm_phys_alloc: no chunk size of ${memtypeName(memtype)} is aligned to ${formatSize(align)}`,
          );
      }
      allocation = this.platform.alloc(
        target,
        len,
        req.sizes || align > VCM_MIN_PAGE_SIZE ? { chunkSizes: sizes } : {},
      );
    }
    const physmem = new Physmem(
      this,
      this.takeName(name, "pm", "vcm_phys_alloc"),
      memtype,
      len,
      attr,
      allocation.chunks,
      allocation,
    );
    return this.tracked(physmem);
  }

  /**
   * `vcm_map_phys_addr`: a physmem for the contiguous range `[phys, phys+len)` (a carve-out the
   * VCM did not allocate). EINVAL unless 4 KiB-aligned, non-empty and inside one memory region.
   */
  mapPhysAddr(phys: number, len: number, name?: string): Physmem {
    this.check("vcm_map_phys_addr");
    if (!Number.isSafeInteger(phys) || phys < 0 || phys % VCM_MIN_PAGE_SIZE !== 0)
      fail(
        "EINVAL",
        `vcm_map_phys_addr: ${describeValue(phys)} is not a 4 KiB-aligned physical address`,
      );
    if (!Number.isSafeInteger(len) || len <= 0)
      fail(
        "EINVAL",
        `vcm_map_phys_addr: length ${describeValue(len)} is not a positive number of bytes`,
      );
    const size = alignUp(len, VCM_MIN_PAGE_SIZE);
    const region = this.platform.map.findRange(phys, size);
    if (region === undefined || region.kind === "io")
      fail("EINVAL", `vcm_map_phys_addr: ${hexRange(phys, size)} is not inside one memory region`);
    const physmem = new Physmem(
      this,
      this.takeName(name, "pm", "vcm_map_phys_addr"),
      0,
      len,
      0,
      [{ pa: phys as never, size }],
      undefined,
    );
    return this.tracked(physmem);
  }

  private tracked(physmem: Physmem): Physmem {
    this.physmems_.push(physmem);
    const owner = { system: "vcm", kind: "physmem", name: physmem.name };
    this.physLabels.set(
      physmem,
      physmem
        .segments()
        .map((s) =>
          this.platform.owners.label(owner, { phys: { start: s.pa, end: s.pa + s.len } }),
        ),
    );
    this.note("vcm.physAlloc", () => ({
      physmem: physmem.name,
      memtype: physmem.memtype,
      len: physmem.len,
      chunks: physmem.chunks.length,
    }));
    return physmem;
  }

  /** @internal `vcm_phys_free` (checked by the physmem). */
  releasePhysmem(p: Physmem): void {
    if (p.allocation !== undefined) this.platform.free(p.allocation);
    for (const d of this.physLabels.get(p) ?? []) d.dispose();
    this.physLabels.delete(p);
    this.physmems_.splice(this.physmems_.indexOf(p), 1);
    this.forgetName(p.name);
    this.note("vcm.physFree", () => ({ physmem: p.name }));
  }

  /** `vcm_get_cont_memtype_pa`: the base of a memtype's contiguous pool (ENOENT if none). */
  getContMemtypePa(memtype: number): number {
    return this.contPool(memtype, "vcm_get_cont_memtype_pa").base;
  }

  /** `vcm_get_cont_memtype_len`: the length of a memtype's contiguous pool (ENOENT if none). */
  getContMemtypeLen(memtype: number): number {
    return this.contPool(memtype, "vcm_get_cont_memtype_len").size;
  }

  private contPool(memtype: number, what: string): { base: number; size: number } {
    this.check(what);
    checkMemtype(memtype);
    const target = this.memtypeTargets.get(memtype);
    const cont =
      target === undefined ? undefined : this.platform.target(target).chunkPool?.contiguous;
    if (cont === undefined)
      fail("ENOENT", `${what}: ${memtypeName(memtype)} has no contiguous region`);
    return cont;
  }

  // --- Lookups across VCMs -------------------------------------------------------------------------

  /**
   * The reservations that map physical address `phys` now, found through the platform graph
   * (every path to the address, and the reservation owners labelled on it), in path order.
   */
  physRes(phys: number): Reservation[] {
    this.check("vcm_get_phys_num_res");
    checkAddress("vcm_get_phys_num_res", "phys", phys);
    const out: Reservation[] = [];
    for (const p of whoReaches(this.platform, phys, phys + 1))
      for (const o of p.owners)
        if (o.system === "vcm" && o.kind === "reservation") {
          const r = this.reservationsByName.get(o.name);
          if (r !== undefined && !out.includes(r)) out.push(r);
        }
    return out;
  }

  /** `vcm_get_phys_num_res`. */
  getPhysNumRes(phys: number): number {
    return this.physRes(phys).length;
  }

  /**
   * `vcm_get_next_phys_res`: the reservation after `res` (the first for undefined) among those
   * mapping `phys`, with its length (the C out-parameter); undefined after the last. EINVAL if
   * `res` does not map `phys`.
   */
  getNextPhysRes(phys: number, res?: Reservation): { res: Reservation; len: number } | undefined {
    if (res !== undefined) checkInstance("vcm_get_next_phys_res", "res", res, Reservation);
    const all = this.physRes(phys);
    const i = res === undefined ? -1 : all.indexOf(res);
    if (res !== undefined && i < 0)
      fail("EINVAL", `vcm_get_next_phys_res: ${res.name} does not map ${hex(phys)}`);
    const next = all[i + 1];
    return next === undefined ? undefined : { res: next, len: next.len };
  }

  /**
   * `vcm_translate`: the device address in `dst` that maps the same physical memory as device
   * address `srcDevAddr` of `src`. ENOENT when no reservation holds the address, it is not
   * backed, or no reservation of `dst` maps that memory.
   */
  translate(srcDevAddr: number, src: Vcm, dst: Vcm): number {
    checkAddress("vcm_translate", "srcDevAddr", srcDevAddr);
    checkInstance("vcm_translate", "src", src, Vcm);
    checkInstance("vcm_translate", "dst", dst, Vcm);
    src.check("vcm_translate");
    dst.check("vcm_translate");
    const res = src.getRes(srcDevAddr);
    if (res === undefined)
      fail("ENOENT", `vcm_translate: no reservation of ${src.name} holds ${hex(srcDevAddr)}`);
    if (res.physmem_ === undefined)
      fail("ENOENT", `vcm_translate: ${res.name} (holding ${hex(srcDevAddr)}) is not backed`);
    const pa = res.physmem_.physAtChecked(srcDevAddr - res.devAddr_!);
    for (const r of dst.reservations()) {
      if (r.physmem_ === undefined) continue;
      const off = r.physmem_.offsetOfChecked(pa);
      if (off !== undefined && off < r.size) return r.devAddr_! + off;
    }
    fail(
      "ENOENT",
      `vcm_translate: no reservation of ${dst.name} maps ${hex(pa)} (${src.name} ${hex(srcDevAddr)})`,
    );
  }

  /**
   * `vcm_res_copy`: copy `len` bytes from `from` at `fromOff` to `to` at `toOff`, through their
   * memory as they map it; returns the bytes copied (clipped to both reservations' lengths).
   * EINVAL for an unbacked reservation or an offset beyond its length.
   */
  resCopy(to: Reservation, toOff: number, from: Reservation, fromOff: number, len: number): number {
    checkInstance("vcm_res_copy", "to", to, Reservation);
    checkInstance("vcm_res_copy", "from", from, Reservation);
    to.check("vcm_res_copy");
    from.check("vcm_res_copy");
    for (const [r, off] of [
      [to, toOff],
      [from, fromOff],
    ] as const) {
      if (r.physmem_ === undefined) fail("EINVAL", `vcm_res_copy: ${r.name} is not backed`);
      if (!Number.isSafeInteger(off) || off < 0 || off > r.len)
        fail(
          "EINVAL",
          `vcm_res_copy: offset ${describeValue(off)} is outside ${r.name}'s ${r.len} bytes`,
        );
    }
    if (!Number.isSafeInteger(len) || len < 0)
      fail("EINVAL", `vcm_res_copy: length ${describeValue(len)} is not a byte count`);
    const n = Math.min(len, from.len - fromOff, to.len - toOff);
    const bytes = new Uint8Array(n);
    const step = (
      r: Reservation,
      base: number,
      fn: (pa: number, at: number, size: number) => void,
    ) => {
      let done = 0;
      while (done < n) {
        const pa = r.physmem_!.physAtChecked(base + done);
        const size = Math.min(n - done, VCM_MIN_PAGE_SIZE - (pa % VCM_MIN_PAGE_SIZE));
        fn(pa, done, size);
        done += size;
      }
    };
    step(from, fromOff, (pa, at, size) => bytes.set(this.platform.read(pa, size), at));
    step(to, toOff, (pa, at, size) => this.platform.write(pa, bytes.subarray(at, at + size)));
    return n;
  }

  // --- Devices -----------------------------------------------------------------------------------

  /**
   * A device by name: an SMMU context instance of the device tree, or a CPU or one-to-one
   * device of the platform. ENOENT if there is none.
   */
  device(name: string): VcmDevice {
    checkName("vcm_device", "name", name);
    try {
      return this.devices.getCtxInstance(name);
    } catch (e) {
      if (!(e instanceof MemweaveError) || e.code !== "ENOENT") throw e;
    }
    const d = this.platform.devices().find((x) => x.name === name);
    if (d instanceof Cpu || d instanceof OneToOneDevice) return d;
    fail(
      "ENOENT",
      `no VCM device "${name}": not an SMMU context of the device tree, a CPU or a one-to-one device`,
    );
  }

  /**
   * `vcm_dev_addr_to_phys_addr`: the physical address `devAddr` translates to through the
   * device's own tables (an SMMU context: `smmu_translate`, which raises its fault hook on a
   * miss; a CPU: its MMU; a one-to-one device: itself, inside its window). EFAULT if it does not
   * translate.
   */
  devAddrToPhysAddr(device: VcmDevice, devAddr: number): number {
    this.check("vcm_dev_addr_to_phys_addr");
    checkVcmDevice("vcm_dev_addr_to_phys_addr", device);
    checkAddress("vcm_dev_addr_to_phys_addr", "devAddr", devAddr);
    if (device instanceof SmmuDev) return device.translate(devAddr);
    if (device instanceof Cpu) {
      const t = device.translate(devAddr);
      if (!t.ok)
        throw new MemweaveError(
          "EFAULT",
          `vcm_dev_addr_to_phys_addr: ${device.name} ${hex(devAddr)} does not translate (${t.fault.kind} fault, stage ${t.fault.stage} level ${t.fault.level})`,
        );
      return t.pa;
    }
    if (devAddr < device.base || devAddr >= device.base + device.size)
      fail(
        "EFAULT",
        `vcm_dev_addr_to_phys_addr: ${hex(devAddr)} is outside ${device.name}'s window ${hexRange(device.base, device.size)}`,
      );
    return devAddr;
  }

  /**
   * `vcm_hook`: the device's fault handler (replacing the one before; undefined removes it).
   * The handler returns 1 to retry the transaction and 0 to terminate it (the seed's words; the
   * header's `vcm_handler` comment says "0 for success" — memweave follows the seed's
   * description of the SMMU hook). EINVAL if `handler` is not a function.
   */
  hook(device: VcmDevice, handler: VcmHandler | undefined, data?: unknown): void {
    this.check("vcm_hook");
    checkVcmDevice("vcm_hook", device);
    if (handler !== undefined && typeof handler !== "function")
      fail("EINVAL", `vcm_hook: the handler for ${device.name} is not a function`);
    if (device instanceof SmmuDev) {
      device.hookIrpt(
        handler === undefined ? undefined : (_dev, d, fault) => handler(device, d, fault),
        data,
      );
      return;
    }
    this.hooks.get(device)?.dispose();
    this.hooks.delete(device);
    if (handler !== undefined)
      this.hooks.set(
        device,
        device.addFaultHandler((fault) =>
          handler(device, data, fault) === 1 ? "retry" : "terminate",
        ),
      );
  }

  /**
   * `vcm_hw_ver`: the hardware version of a device, if it has one: an SMMU context's driver's
   * version (ENODEV unbound); 0 for a CPU or a one-to-one device (none modelled).
   */
  hwVer(device: VcmDevice): number {
    this.check("vcm_hw_ver");
    checkVcmDevice("vcm_hw_ver", device);
    if (device instanceof SmmuDev) {
      const drv = device.driver;
      if (drv === undefined) fail("ENODEV", `vcm_hw_ver: ${device.name} is bound to no SMMU`);
      return drv.version;
    }
    return 0;
  }

  /** `vcm_get_min_page_size`. */
  getMinPageSize(): number {
    return VCM_MIN_PAGE_SIZE;
  }

  /** `vcm_sys_destroy`: EBUSY while VCMs or physmems remain. */
  destroy(): void {
    this.check("vcm_sys_destroy");
    const left = [...this.vcms_.map((v) => v.name), ...this.physmems_.map((p) => p.name)];
    if (left.length > 0) fail("EBUSY", `vcm_sys_destroy: ${left.join(", ")} remain`);
    for (const h of this.hooks.values()) h.dispose();
    this.hooks.clear();
    this.destroyed = true;
  }

  /** The kind of a VCM, for reports. */
  static typeName(t: VcmType): string {
    return t === "device"
      ? "VCM_DEVICE"
      : t === "ext-kernel"
        ? "VCM_EXT_KERNEL"
        : t === "ext-user"
          ? "VCM_EXT_USER"
          : "VCM_ONE_TO_ONE";
  }
}
