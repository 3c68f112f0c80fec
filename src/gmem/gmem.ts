/**
 * The GMEM facade (`mm/gmem.c` plus the hooks of the RFC's other patches): devices
 * (`gm_dev_create` / `gm_dev_destroy`), their memory as hnodes (`gm_dev_register_physmem` /
 * `gm_dev_unregister_physmem`), processes and address spaces (`gm_as_create` / `gm_as_destroy` /
 * `gm_as_attach`, detach), the fault entries (`gm_dev_fault`, `gm_host_fault_locked`), the hints
 * (`hmadvise`), `hmemcpy`, the swap daemon, statistics — and {@link Gmem.access}, the entry traces
 * use: one access by the CPU or a device, through its MMU, faults served as the hardware would
 * have them served.
 *
 * Faults: a device's translation fault goes to the core's handler on the device's bus master
 * (what a driver's fault interrupt handler does: `gm_dev_fault` for the device's current
 * context, then the access is replayed — a REPLAYABLE device; one that is not cannot recover, and
 * its access fails). A CPU fault goes to the process's handler on its CPU (first touch, or
 * `gm_host_fault_locked` for a block on a device).
 *
 * Results: the calls that build things return them and throw a {@link MemweaveError} (EINVAL,
 * EEXIST, EBUSY, ENOMEM, ...) when refused, changing nothing; `devFault` and `hostFault` answer a
 * {@link GmRet}, as the C functions do, because drivers act on it.
 *
 * @example
 * const gmem = new Gmem(platform, { host: "system", tables: "pgtables" });
 * const proc = gmem.createProcess("app", { cpu: "cpu0" });
 * const { dev } = gmem.addAccelerator(gpu, { tables: "pgtables" });
 * const as = gmem.asCreate(proc, 0, 2 ** 47);
 * as.attach(dev, GM_MMU_MODE.COHERENT_EXCLUSIVE, true);
 * const buf = proc.mmap(8 << 20, { peerShared: true });
 * gmem.access("cpu", "w", buf, 4, new Uint8Array([1, 2, 3, 4]));
 * gmem.access("gpu0", "r", buf, 4); // a device fault: the 2 MiB block migrates to gpu0
 */
import { hex, hexRange } from "../base/address.js";
import { alignDown, alignUp } from "../base/align.js";
import { fail } from "../base/errors.js";
import {
  allocBytes,
  badArgument,
  checkAddress,
  checkBoolean,
  checkBytes,
  checkFunction,
  checkInstance,
  checkInteger,
  checkLength,
  checkName,
  checkObject,
  checkOneOf,
  checkOptionalName,
  checkOptions,
  describeValue,
} from "../base/validate.js";
import type { AccessOptions, FaultResolution } from "../devices/bus-master.js";
import type { Accelerator } from "../devices/accelerator.js";
import { Cpu } from "../devices/cpu.js";
import { MmuMaster } from "../devices/mmu-master.js";
import type { Platform } from "../devices/platform.js";
import { createLpaeFormat } from "../mmu/lpae.js";
import { PageTable } from "../mmu/page-table.js";
import type { Fault } from "../mmu/regime.js";
import type { AcceleratorDriverOptions } from "./accelerator-driver.js";
import { AcceleratorDriver } from "./accelerator-driver.js";
import { asAttach, asDetach, GmAs } from "./as.js";
import type { GmContext } from "./as.js";
import type { GmemOptions } from "./core.js";
import { GmemCore } from "./core.js";
import { GmDev } from "./device.js";
import { finishReclaim, reclaim } from "./evict.js";
import { gmHostFaultLocked } from "./fault.js";
import { checkHmemcpyArgs, hmemcpy } from "./hmemcpy.js";
import { Hnode } from "./hnode.js";
import { hmadvise } from "./madvise.js";
import type { GmMmu } from "./mmu.js";
import { needsPolicyEngine } from "./policy.js";
import { GmProcess } from "./process.js";
import type { GmFaultHint, GmMmuMode, GmRet, MadvBehavior } from "./types.js";
import { GM_DEV_CAP, GM_FAULT_HINT, GM_MMU_MODE, GM_PAGE, GM_RET } from "./types.js";
import { UvmEngine } from "./uvm/engine.js";

export type { GmemOptions, GmemStats, GmemDetail } from "./core.js";

/** The CPU's page-table format: AArch64 stage 1, 4 KiB granule, 48-bit. */
const CPU_FORMAT = createLpaeFormat({ stage: 1, granule: 4096, ias: 48, oas: 48 });

/** A user process's accesses (EL0). */
const USER: AccessOptions = { privileged: false };

export interface CreateProcessOptions {
  /** The CPU that runs it: a Cpu, or the name of one (made if the platform has none). */
  cpu?: Cpu | string;
}

/** What {@link Gmem.addAccelerator} brought up. */
export interface AddAcceleratorResult {
  readonly dev: GmDev;
  readonly driver: AcceleratorDriver;
  readonly hnodes: readonly Hnode[];
}

export interface DevCreateOptions {
  /** A unique name (default `gmdev<id>`). */
  name?: string;
  /** The hardware that issues the device's accesses: its faults come to the core. */
  master?: MmuMaster;
}

export class Gmem extends GmemCore {
  private readonly devTable: Array<GmDev | undefined> = [];
  private readonly byName = new Map<string, GmDev>();
  private readonly procs: GmProcess[] = [];
  private readonly spaces: GmAs[] = [];
  /** The process `access("cpu", ...)` runs (the first made, or {@link useProcess}'s). */
  current: GmProcess | undefined = undefined;
  private nextAsid = 1;
  private nextAs = 1;
  private readonly readBufs: Array<Uint8Array | undefined> = [];
  private readonly zeroBufs: Array<Uint8Array | undefined> = [];
  /**
   * The UVM policies' engine (uvm/engine.ts), when the policy has a switch beyond the core's
   * paths (residency per page, fault batching, the prefetcher, thrashing, hints).
   */
  readonly uvm: UvmEngine | undefined;

  constructor(platform: Platform, options: GmemOptions) {
    super(platform, options);
    this.uvm = needsPolicyEngine(this.policy) ? new UvmEngine(this) : undefined;
  }

  // --- devices -----------------------------------------------------------------------------

  /**
   * `gm_dev_create(mmu, dev_data, cap)`: a device with an id (the lowest free) and its gm_mmu.
   * With a master, the device's translation faults come to the core (see the file comment).
   * EEXIST for a name in use.
   */
  devCreate(mmu: GmMmu, devData: unknown, cap: number, options?: DevCreateOptions): GmDev {
    const fn = "gm_dev_create";
    checkObject(fn, "mmu", mmu);
    checkInteger(fn, "cap", cap);
    options = checkOptions(fn, "options", options, ["name", "master"]);
    checkOptionalName(fn, "options.name", options.name);
    if (options.master !== undefined && !(options.master instanceof MmuMaster))
      badArgument(fn, "options.master", "be a bus master with an MMU", options.master);
    let id = 0;
    while (this.devTable[id] !== undefined) id++;
    const name = options.name ?? `gmdev${id}`;
    if (this.byName.has(name)) fail("EEXIST", `gmem: a device named "${name}" exists`, "name");
    const dev = new GmDev(id, name, cap, mmu, devData, options.master);
    this.devTable[id] = dev;
    this.byName.set(name, dev);
    if (options.master !== undefined)
      dev.faultHandler = options.master.addFaultHandler((fault) => this.deviceFault(dev, fault));
    return dev;
  }

  /**
   * `gm_dev_destroy`: EBUSY while the device is attached to an address space (the RFC's
   * version only frees the id); its hnodes are unregistered, its fault handler removed.
   */
  devDestroy(dev: GmDev): void {
    checkInstance("gm_dev_destroy", "dev", dev, GmDev);
    if (!dev.live) return;
    if (dev.contexts.length > 0)
      fail(
        "EBUSY",
        `gmem: ${dev.name} is attached to ${dev.contexts.map((c) => c.as.name).join(", ")}: detach it first`,
      );
    for (const id of [...dev.registeredHnodes]) this.unregisterPhysmem(dev, id);
    dev.faultHandler?.dispose();
    dev.faultHandler = undefined;
    this.devTable[dev.id] = undefined;
    this.byName.delete(dev.name);
    dev.live = false;
  }

  /** The device named `name` (ENOENT). */
  device(name: string): GmDev {
    checkName("gmem.device", "name", name);
    return (
      this.byName.get(name) ??
      fail(
        "ENOENT",
        `gmem: no device "${name}" (have: ${[...this.byName.keys()].join(", ") || "none"})`,
      )
    );
  }

  devices(): GmDev[] {
    return this.devTable.filter((d): d is GmDev => d !== undefined);
  }

  /**
   * An accelerator the way its driver brings it up: a simulated driver ({@link
   * AcceleratorDriver}), `gm_dev_create` (REPLAYABLE | PEER unless `capability` says), and all
   * its local memory claimed and registered as hnodes.
   */
  addAccelerator(
    accel: Accelerator,
    options: AcceleratorDriverOptions & { capability?: number },
  ): AddAcceleratorResult {
    const driver = new AcceleratorDriver(accel, options);
    const dev = this.devCreate(
      driver,
      accel,
      options.capability ?? GM_DEV_CAP.REPLAYABLE | GM_DEV_CAP.PEER,
      { name: accel.name, master: accel },
    );
    const hnodes = driver.claimLocalMemory().map((r) => this.registerPhysmem(dev, r.begin, r.end));
    return { dev, driver, hnodes };
  }

  // --- hnodes ------------------------------------------------------------------------------

  /**
   * `gm_dev_register_physmem(dev, begin, end)`: the range (rounded in to 2 MiB) becomes an
   * hnode whose id follows the CPU nodes (the lowest free). EINVAL unless it holds a page and
   * lies in one device-local region; EEXIST if it overlaps an hnode. Processes attached to the
   * device may use it at once.
   */
  registerPhysmem(dev: GmDev, begin: number, end: number): Hnode {
    checkInstance("gm_dev_register_physmem", "dev", dev, GmDev);
    checkAddress("gm_dev_register_physmem", "begin", begin);
    checkAddress("gm_dev_register_physmem", "end", end);
    const g = this.policy.granularity;
    const b = alignUp(begin, g);
    const e = alignDown(end, g);
    const what = `gm_dev_register_physmem(${dev.name}, ${hex(begin)}, ${hex(end)})`;
    if (!(e > b)) fail("EINVAL", `${what}: the range holds no 2 MiB page`);
    const region = this.platform.map.findRange(b, e - b);
    if (region === undefined || region.kind !== "device-local")
      fail("EINVAL", `${what}: ${hexRange(b, e - b)} is not in one device-local region`);
    for (const h of this.hnodes())
      if (h.base < e && b < h.end)
        fail("EEXIST", `${what}: overlaps hnode ${h.id} (${hexRange(h.base, h.end - h.base)})`);
    let id = this.cpuNodes;
    while (this.hnodeTable[id] !== undefined) id++;
    const h = new Hnode(id, dev, b, e, g);
    this.hnodeTable[id] = h;
    dev.registeredHnodes.add(id);
    h.label = this.platform.owners.label(
      { system: "gmem", kind: "hnode", name: `hnode${id}` },
      { phys: { start: b, end: e } },
    );
    for (const ctx of dev.contexts) ctx.as.process.memsAllowed.add(id);
    return h;
  }

  /** `gm_dev_unregister_physmem`: EBUSY while pages of the hnode back mappings. */
  unregisterPhysmem(dev: GmDev, hnid: number): void {
    checkInstance("gm_dev_unregister_physmem", "dev", dev, GmDev);
    checkInteger("gm_dev_unregister_physmem", "hnid", hnid);
    const h = this.hnodeTable[hnid];
    if (h === undefined || h.dev !== dev)
      fail("EINVAL", `gm_dev_unregister_physmem: ${hnid} is not an hnode of ${dev.name}`);
    if (h.nrFreePages < h.size)
      fail(
        "EBUSY",
        `gm_dev_unregister_physmem: hnode ${hnid} has ${h.size - h.nrFreePages} pages in use`,
      );
    h.label?.dispose();
    this.hnodeTable[hnid] = undefined;
    dev.registeredHnodes.delete(hnid);
    for (const p of this.procs) p.memsAllowed.delete(hnid);
  }

  // --- processes and address spaces --------------------------------------------------------

  /** A CPU process with its own page table, run by `cpu` (default: a new CPU `cpu<n>`). */
  createProcess(name: string, options?: CreateProcessOptions): GmProcess {
    checkName("createProcess", "name", name);
    options = checkOptions("createProcess", "options", options, ["cpu"]);
    if (options.cpu !== undefined && !(options.cpu instanceof Cpu))
      checkName("createProcess", "options.cpu", options.cpu);
    if (this.procs.some((p) => p.name === name))
      fail("EEXIST", `gmem: a process named "${name}" exists`, "name");
    const platform = this.platform;
    let cpu: Cpu | undefined = options.cpu instanceof Cpu ? options.cpu : undefined;
    const cpuName = typeof options.cpu === "string" ? options.cpu : `cpu${this.procs.length}`;
    if (cpu === undefined && platform.registry.list().some((d) => d.name === cpuName))
      cpu = platform.device(cpuName, Cpu);
    const asid = this.nextAsid++;
    const mm = new PageTable(CPU_FORMAT, this.tableMemory, {
      name: `${name}-mm`,
      bus: platform.bus,
    });
    if (cpu === undefined) cpu = new Cpu(platform, { name: cpuName, ttbr0: mm, asid });
    else {
      cpu.setTtbr0(mm);
      cpu.setAsid(asid);
    }
    const proc = new GmProcess(this, name, mm, cpu, asid);
    proc.label = platform.owners.label({ system: "gmem", kind: "process", name }, { table: mm });
    const handler = (fault: Fault): FaultResolution =>
      cpu.mmu.ttbr0?.root === mm.root ? this.cpuFaultPath(this, proc, fault) : "terminate";
    cpu.addFaultHandler(handler);
    this.procs.push(proc);
    this.current ??= proc;
    return proc;
  }

  processes(): readonly GmProcess[] {
    return this.procs;
  }

  /** Run `proc` on its CPU for `access("cpu", ...)`. */
  useProcess(proc: GmProcess): void {
    checkInstance("useProcess", "proc", proc, GmProcess);
    this.current = proc;
  }

  /**
   * `gm_as_create(begin, end)` for `process` (`mm->gm_as`): EINVAL for an empty or misaligned
   * (2 MiB) range; EBUSY if the process has an address space already.
   */
  asCreate(process: GmProcess, begin: number, end: number, name?: string): GmAs {
    checkInstance("gm_as_create", "process", process, GmProcess);
    checkOptionalName("gm_as_create", "name", name);
    const g = this.policy.granularity;
    if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || begin < 0 || end <= begin)
      fail("EINVAL", `gm_as_create(${describeValue(begin)}, ${describeValue(end)}): not a range`);
    if (begin % g !== 0 || end % g !== 0)
      fail("EINVAL", `gm_as_create(${hex(begin)}, ${hex(end)}): not 2 MiB-aligned`);
    if (process.as !== undefined)
      fail("EBUSY", `gm_as_create: process ${process.name} has address space ${process.as.name}`);
    const as = new GmAs(this, name ?? `as${this.nextAs++}`, begin, end, process);
    as.label = this.platform.owners.label(
      { system: "gmem", kind: "address space", name: as.name },
      { table: process.mm, start: begin, end },
    );
    process.as = as;
    this.spaces.push(as);
    return as;
  }

  /** `gm_as_destroy`: every device detached (the RFC only frees the contexts), then gone. */
  asDestroy(as: GmAs): void {
    checkInstance("gm_as_destroy", "as", as, GmAs);
    if (!as.live) return;
    for (const ctx of [...as.contexts]) asDetach(this, ctx);
    as.label?.dispose();
    as.live = false;
    if (as.process.as === as) as.process.as = undefined;
    this.spaces.splice(this.spaces.indexOf(as), 1);
  }

  /** `gm_as_attach(as, dev, mode, activate)`; see as.ts. */
  asAttach(as: GmAs, dev: GmDev, mode: GmMmuMode, activate = false): GmContext {
    return asAttach(this, as, dev, mode, activate);
  }

  addressSpaces(): readonly GmAs[] {
    return this.spaces;
  }

  // --- faults ------------------------------------------------------------------------------

  /** `gm_dev_fault(mm, addr, dev, hint)` (through {@link devFaultPath}). */
  devFault(mm: GmProcess, addr: number, dev: GmDev, hint: GmFaultHint = GM_FAULT_HINT.NONE): GmRet {
    const fn = "gm_dev_fault";
    checkInstance(fn, "mm", mm, GmProcess);
    checkAddress(fn, "addr", addr);
    checkInstance(fn, "dev", dev, GmDev);
    checkOneOf(fn, "hint", hint, Object.values(GM_FAULT_HINT));
    this.flush();
    return this.devFaultPath(this, mm, addr, dev, hint);
  }

  /** `gm_host_fault_locked`: bring the device-resident block holding `addr` home. */
  hostFault(mm: GmProcess, addr: number): GmRet {
    checkInstance("gm_host_fault_locked", "mm", mm, GmProcess);
    checkAddress("gm_host_fault_locked", "addr", addr);
    this.flush();
    return gmHostFaultLocked(this, mm, addr);
  }

  /**
   * Serve the device faults buffered in batches (`faultBatch`) and replay their accesses; the
   * calls that change residency flush first, and so does every CPU access. Call it at the end of
   * a trace (and before munmap or detach, which do not). Nothing to do without fault batching.
   */
  flush(): void {
    this.hooks?.flush();
  }

  /**
   * UVM's preferred-location hint (`cudaMemAdvise SetPreferredLocation`; the `hints` switch) on
   * `[va, va+len)` rounded out to 4 KiB: `who` is `"cpu"` (host memory), a device's name, or
   * undefined (unset). See uvm/README.md for what it does.
   */
  setPreferredLocation(
    va: number,
    len: number,
    who: string | undefined,
    mm: GmProcess = this.currentProcess(),
  ): void {
    const fn = "setPreferredLocation";
    checkAddress(fn, "va", va);
    checkLength(fn, "len", len);
    checkOptionalName(fn, "who", who);
    checkInstance(fn, "mm", mm, GmProcess);
    this.hintEngine("setPreferredLocation").setPreferredLocation(mm, va, len, who);
  }

  /**
   * UVM's accessed-by hint (`cudaMemAdvise SetAccessedBy`; the `hints` switch): device `who`
   * keeps a mapping to the pages of `[va, va+len)` wherever they live that it can reach (host
   * memory remotely, its own memory), so it does not fault on them; `on` false unsets it.
   */
  setAccessedBy(
    va: number,
    len: number,
    who: string,
    on = true,
    mm: GmProcess = this.currentProcess(),
  ): void {
    const fn = "setAccessedBy";
    checkAddress(fn, "va", va);
    checkLength(fn, "len", len);
    checkName(fn, "who", who);
    checkBoolean(fn, "on", on);
    checkInstance(fn, "mm", mm, GmProcess);
    this.hintEngine("setAccessedBy").setAccessedBy(mm, va, len, this.device(who), on);
  }

  private hintEngine(what: string): UvmEngine {
    const e = this.uvm;
    if (e === undefined || !this.policy.hints)
      fail("EINVAL", `${what}: the policy has hints off (set hints: true, or use the uvm policy)`);
    return e;
  }

  /** The handler on a device's master: gm_dev_fault, then the replay (or not). */
  private deviceFault(dev: GmDev, fault: Fault): FaultResolution {
    if (fault.kind !== "translation") return "terminate";
    const ctx = dev.currentCtx;
    if (ctx === undefined) return "terminate";
    this.stats.deviceFaults++;
    if (!dev.replayable) {
      this.detail.failedDeviceFaults++;
      return "terminate";
    }
    this.sink?.farFault(dev.name);
    const ret = this.devFaultPath(this, ctx.as.process, fault.va, dev, GM_FAULT_HINT.NONE);
    if (ret !== GM_RET.SUCCESS) {
      this.detail.failedDeviceFaults++;
      if (ret === GM_RET.NOMEM)
        fail(
          "ENOMEM",
          `${dev.name}: device fault at ${hex(fault.va)}: no device memory (every page of its hnodes is pinned or being evicted, or host memory is full)`,
        );
      return "terminate";
    }
    const o = this.lastOutcome;
    if (o === "populated") this.stats.deviceFirstTouches++;
    // MIGRATING: the replay waits until the eviction in flight has ended (and was cancelled).
    else if (o === "migrating") finishReclaim(this);
    return "retry";
  }

  // --- hints, copies, reclaim --------------------------------------------------------------

  /** `hmadvise(hnid, start, len, behavior)` for `mm` (default: the current process). */
  hmadvise(
    hnid: number,
    start: number,
    len: number,
    behavior: MadvBehavior,
    mm: GmProcess = this.currentProcess(),
  ): number {
    checkInstance("hmadvise", "mm", mm, GmProcess);
    this.flush();
    return hmadvise(this, mm, hnid, start, len, behavior);
  }

  /** `hmemcpy(hnid, dest, src, size)` for `mm` (default: the current process). */
  hmemcpy(
    hnid: number,
    dest: number,
    src: number,
    size: number,
    mm: GmProcess = this.currentProcess(),
  ): void {
    checkInstance("hmemcpy", "mm", mm, GmProcess);
    checkHmemcpyArgs(hnid, dest, src, size);
    this.flush();
    if (this.hooks !== undefined) this.hooks.hmemcpy(mm, hnid, dest, src, size);
    else hmemcpy(this, mm, hnid, dest, src, size);
  }

  /**
   * The swap daemon: evict up to `count` pages from the head of hnode `hnid`'s active list;
   * with `defer`, the evictions stay in flight until {@link finishReclaim} (the MIGRATING race).
   */
  reclaim(hnid: number, count: number, options?: { defer?: boolean }): number {
    checkInteger("reclaim", "hnid", hnid);
    checkInteger("reclaim", "count", count);
    options = checkOptions("reclaim", "options", options, ["defer"]);
    checkBoolean("reclaim", "options.defer", options.defer);
    const h = this.hnode(hnid) ?? fail("EINVAL", `reclaim: ${hnid} is not an hnode`, "hnid");
    this.flush();
    return reclaim(this, h, count, options.defer === true);
  }

  /** End the evictions in flight; returns how many pages were evicted (not cancelled). */
  finishReclaim(): number {
    this.flush();
    return finishReclaim(this);
  }

  private currentProcess(): GmProcess {
    return this.current ?? fail("ENOENT", "gmem: no process");
  }

  // --- the access entry --------------------------------------------------------------------

  /**
   * One access by `who` — `"cpu"` (the current process on its CPU) or a device's name — of
   * `size` bytes at `va`: a read returns the bytes (in a buffer reused by the next read of the
   * same size: copy it to keep it), a write writes `data` (zeros without) and returns it.
   * Faults are served on the way (the device replays; see the file comment); an access that
   * cannot be served throws (EFAULT, ENOMEM). Costs go to the sink: the walk of an access that
   * missed the TLB (levels and leaf size of the translation that served it; the walks of a
   * fault are part of its service), then a local or remote access.
   *
   * With fault batching (`faultBatch`, the uvm policy), a device access that faults is buffered
   * and replayed when its batch is served (full, at a CPU access, or at {@link flush}): the
   * returned buffer (a read's, fresh) holds the bytes only then, and `then` is called with it
   * then. Without batching `then` is called at once.
   */
  access(
    who: string,
    op: "r" | "w",
    va: number,
    size: number,
    data?: Uint8Array,
    then?: (bytes: Uint8Array) => void,
  ): Uint8Array {
    // The entry of every trace step: a few comparisons, no more.
    if (typeof who !== "string" || who === "") checkName("access", "who", who);
    if (op !== "r" && op !== "w") checkOneOf("access", "op", op, ["r", "w"]);
    checkAddress("access", "va", va);
    checkLength("access", "size", size);
    if (data !== undefined && !(data instanceof Uint8Array))
      data = checkBytes("access", "data", data);
    if (then !== undefined) checkFunction("access", "then", then);
    let master: MmuMaster;
    let dev: GmDev | undefined;
    if (who === "cpu") {
      const proc = this.currentProcess();
      const cpu = proc.cpu;
      if (cpu.mmu.ttbr0?.root !== proc.mm.root) {
        cpu.setTtbr0(proc.mm);
        cpu.setAsid(proc.asid);
      }
      master = cpu;
    } else {
      dev = this.byName.get(who) ?? this.device(who);
      master = dev.master ?? fail("EINVAL", `gmem: device ${who} has no bus master to access with`);
    }
    if (op === "w" && data !== undefined && data.length !== size)
      fail(
        "EINVAL",
        `gmem: write of ${size} bytes at ${hex(va)} with ${data.length} bytes of data`,
      );
    const hooks = this.hooks;
    if (hooks !== undefined) {
      const taken = hooks.access(dev, op, va, size, data, then);
      if (taken !== undefined) return taken;
    }
    const st = master.mmu.stats;
    const walks0 = st.walks;
    let out: Uint8Array;
    if (op === "r") {
      out = this.buffer(this.readBufs, size);
      master.readInto(va, out, USER);
    } else {
      out = data ?? this.buffer(this.zeroBufs, size);
      master.write(va, out, USER);
    }
    const sink = this.sink;
    if (sink !== undefined) {
      if (st.walks !== walks0) {
        // The walk that served the access (faulting walks are part of the fault's service).
        const mmu = master.mmu;
        const i = master.tlb.peek(va, mmu.asid, mmu.vmid);
        const leaf = i >= 0 ? master.tlb.entryPageSize(i) : this.policy.granularity;
        sink.walk(who, leaf >= 2 ** 30 ? 2 : leaf >= 2 ** 21 ? 3 : 4, leaf);
      }
      if (dev !== undefined && this.remote(dev, va)) sink.remoteAccess(who, size);
      else sink.localAccess(who, size);
    }
    if (dev !== undefined && this.policy.eviction === "accessed") this.touchAccessed(dev, va, size);
    then?.(out);
    return out;
  }

  /** True if `dev`'s access at `va` went to host memory (SHARE; a REPLICATE replica). */
  private remote(dev: GmDev, va: number): boolean {
    const ctx = dev.currentCtx;
    if (ctx === undefined) return false;
    const policy = this.hooks?.remote(dev, va);
    if (policy !== undefined) return policy;
    if (ctx.mode === GM_MMU_MODE.SHARE) return true;
    if (ctx.mode === GM_MMU_MODE.COHERENT_EXCLUSIVE) return false;
    const m = ctx.as.process.vmObject?.lookup(va);
    return m === undefined || m.state !== GM_PAGE.DEVICE || m.dev !== dev;
  }

  /** `eviction: "accessed"`: the pages an access hit go to the active tail. */
  private touchAccessed(dev: GmDev, va: number, size: number): void {
    const obj = dev.currentCtx?.as.process.vmObject;
    if (obj === undefined) return;
    const g = this.policy.granularity;
    for (let b = va - (va % g); b < va + size; b += g) {
      const m = obj.lookup(b);
      if (m !== undefined && m.dev === dev && m.page !== undefined) m.page.hnode.touch(m.page);
    }
  }

  /** A buffer of `size` bytes from `cache` (small sizes are kept; zero-filled for writes). */
  private buffer(cache: Array<Uint8Array | undefined>, size: number): Uint8Array {
    if (size > 256) return allocBytes("access", size);
    return (cache[size] ??= new Uint8Array(size));
  }
}
