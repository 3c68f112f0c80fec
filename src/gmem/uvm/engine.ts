/**
 * The uvm engine: NVIDIA UVM's policies on the GMEM core (see index.ts here). A {@link Gmem}
 * whose policy has a switch beyond the core's paths (policy.ts `needsPolicyEngine`) makes one; it
 * replaces the core's device and CPU fault paths (`devFaultPath`, `cpuFaultPath`) and takes the
 * core's hooks (`core.hooks`): every block it touches gets pieces (block.ts), so the core hands
 * those blocks' eviction, free, mprotect and hmemcpy to it.
 *
 * Time: the engine's clock is the cost sink's `timeNs` when the sink has one (a CostModel), else
 * a CostModel of its own with the default parameters, fed with what the engine sees — far faults,
 * migrations and accesses (local or remote), not page walks. Thrashing uses it.
 */
import { hex, hexRange } from "../../base/address.js";
import { fail } from "../../base/errors.js";
import type { FaultResolution } from "../../devices/bus-master.js";
import type { Fault } from "../../mmu/regime.js";
import type { Prot } from "../../mmu/prot.js";
import type { PolicyHooks } from "../core.js";
import { CostModel } from "../cost.js";
import type { GmDev } from "../device.js";
import { cpuFault, gmDevFault } from "../fault.js";
import type { Gmem } from "../gmem.js";
import type { GmProcess } from "../process.js";
import type { GmFaultHint, GmRet } from "../types.js";
import { GM_FAULT_HINT, GM_MMU_MODE, GM_RET, gmRetName, PAGE } from "../types.js";
import type { GmMapping } from "../vm-object.js";
import { FaultBatcher } from "./batch.js";
import type { UvmBlock } from "./block.js";
import { blockOf, CPU, DEV, PAGES } from "./block.js";
import { setAccessedBy, setPreferredLocation, dropUnjustified } from "./hints.js";
import { uvmHmemcpy } from "./hmemcpy.js";
import { freeAll, protectAll, remapBlock } from "./block-ops.js";
import { allHome, newTally } from "./moves.js";
import type { Cause, ServiceContext, ServiceResult } from "./service.js";
import { serviceBlock } from "./service.js";
import { Thrashing } from "./thrashing.js";

/** The engine's own counters (beyond the core's fixed ones). */
export interface UvmStats {
  /** Batches of device faults served. */
  batches: number;
  /** Faulting device accesses buffered in batches. */
  batchEntries: number;
  /** Buffered accesses whose pages (blocks under residency block) the batch had already. */
  duplicates: number;
  /** VA-block services (one per block per batch, per unbatched fault, per CPU fault). */
  blockServices: number;
  /** Faulted pages served by mapping host memory remotely (pins, a host preferred location). */
  remoteMaps: number;
  /** Thrashing pins that ended (their remote mappings removed). */
  unpins: number;
}

export class UvmEngine implements PolicyHooks, ServiceContext {
  readonly core: Gmem;
  readonly thrash: Thrashing | undefined;
  /** The engine's own clock (see the file comment). */
  readonly clock = new CostModel();
  readonly stats: UvmStats = {
    batches: 0,
    batchEntries: 0,
    duplicates: 0,
    blockServices: 0,
    remoteMaps: 0,
    unpins: 0,
  };
  readonly batcher: FaultBatcher;
  private readonly tally = newTally();
  private readonly homeTally = newTally();

  constructor(gmem: Gmem) {
    this.core = gmem;
    this.thrash = gmem.policy.thrashing ? new Thrashing(gmem.policy) : undefined;
    this.batcher = new FaultBatcher(this);
    gmem.hooks = this;
    gmem.devFaultPath = (_core, mm, addr, dev, hint) => this.devFault(mm, addr, dev, hint);
    gmem.cpuFaultPath = (_core, mm, fault) => this.cpuFault(mm, fault);
  }

  /** Simulated ns: the sink's clock when it keeps one, else the engine's own. */
  now(): number {
    const t = (this.core.sink as { timeNs?: unknown } | undefined)?.timeNs;
    return typeof t === "number" ? t : this.clock.timeNs;
  }

  noteMove(bytes: number, from: string, to: string): void {
    this.core.noteMigration(bytes, from, to);
    this.clock.migrate(bytes, from, to);
  }

  /** One VA-block service (service.ts), counted. */
  service(
    mm: GmProcess,
    m: GmMapping,
    to: GmDev | undefined,
    pages: readonly number[],
    cause: Cause,
  ): ServiceResult {
    const b = blockOf(m);
    b.owner ??= mm;
    this.stats.blockServices++;
    const r = serviceBlock(this, mm, m, to, pages, cause, this.tally);
    this.stats.remoteMaps += r.remote;
    return r;
  }

  // --- the fault paths -------------------------------------------------------------------------

  /** gm_dev_fault under the engine (`devFaultPath`). */
  devFault(mm: GmProcess, addr: number, dev: GmDev, hint: GmFaultHint): GmRet {
    const core = this.core;
    core.lastOutcome = "none";
    core.lastPages = 0;
    const ctx = dev.contextFor(mm.as);
    const vma = mm.vmaAt(addr);
    if (ctx === undefined || vma === undefined) return GM_RET.FAILURE_UNKNOWN;
    const obj = mm.vmObject;
    if (!vma.peerShared || obj === undefined)
      return ctx.mode === GM_MMU_MODE.SHARE
        ? gmDevFault(core, mm, addr, dev, hint)
        : GM_RET.FAILURE_UNKNOWN;
    const m = obj.lookupOrCreate(addr);
    const i = Math.floor((addr - m.va) / PAGE);
    if (ctx.mode !== GM_MMU_MODE.COHERENT_EXCLUSIVE) {
      // SHARE and REPLICATE devices reach host memory: the page comes home (populated there).
      const r = this.service(mm, m, undefined, [i], "fault");
      if (r.populated > 0) core.stats.cpuFirstTouches++;
      core.lastOutcome = "shared";
      return r.ret;
    }
    const advice = hint === GM_FAULT_HINT.MARK_HOT;
    if (!advice) this.clock.farFault(dev.name);
    const pages = advice ? Array.from({ length: PAGES }, (_, k) => k) : [i];
    const r = this.service(mm, m, dev, pages, advice ? "advice" : "fault");
    if (r.ret !== GM_RET.SUCCESS) return r.ret;
    const made = r.populated + r.migrated;
    core.lastPages = core.policy.residency === "block" ? (made > 0 ? 1 : 0) : made;
    if (r.remote > 0) {
      // Served from host memory (populated there if it was NOMAP).
      if (r.populated > 0) core.stats.cpuFirstTouches++;
      core.lastOutcome = "remote";
    } else if (r.moved) {
      // gm_dev_fault's caller counts a first touch only for "populated".
      if (r.populated > 0 && !advice) core.stats.deviceFirstTouches++;
      core.lastOutcome = "migrated";
    } else if (r.populated > 0) core.lastOutcome = "populated";
    else core.lastOutcome = r.raced ? "migrating" : "touched";
    return GM_RET.SUCCESS;
  }

  /** The CPU's fault handler under the engine (`cpuFaultPath`). */
  cpuFault(mm: GmProcess, fault: Fault): FaultResolution {
    const core = this.core;
    if (fault.kind !== "translation") return "terminate";
    const va = fault.va;
    const vma = mm.vmaAt(va);
    if (vma === undefined) return "terminate";
    if (!vma.peerShared || mm.vmObject === undefined) return cpuFault(core, mm, fault);
    const m = mm.vmObject.lookupOrCreate(va);
    const b = blockOf(m);
    const i = Math.floor((va - m.va) / PAGE);
    const state = b.state[i];
    if (state === CPU) {
      core.detail.cpuMinorFaults++;
      return "retry"; // mapped by now (the fault raced a service)
    }
    if (state === DEV) {
      core.stats.hostFaults++;
      if (m.pinned) {
        core.detail.sigbus++;
        fail(
          "EFAULT",
          `SIGBUS: ${mm.cpu.name} ${fault.access.kind} at ${hex(va)} (process ${mm.name}): the page ${hexRange(m.va + i * PAGE, PAGE)} is pinned on ${m.dev?.name ?? "a device"}`,
        );
      }
    }
    const r = this.service(mm, m, undefined, [i], "fault");
    if (r.ret !== GM_RET.SUCCESS)
      fail(
        r.ret === GM_RET.NOMEM ? "ENOMEM" : "EFAULT",
        `SIGBUS: ${mm.cpu.name} ${fault.access.kind} at ${hex(va)}: serving the page failed (${gmRetName(r.ret)})`,
      );
    if (state !== DEV) core.stats.cpuFirstTouches++;
    return "retry";
  }

  // --- the core's hooks --------------------------------------------------------------------

  access(
    dev: GmDev | undefined,
    op: "r" | "w",
    va: number,
    size: number,
    data: Uint8Array | undefined,
    then: ((bytes: Uint8Array) => void) | undefined,
  ): Uint8Array | undefined {
    const th = this.thrash;
    if (th !== undefined && this.now() >= th.nextDeadline) this.expirePins();
    if (dev === undefined) {
      this.batcher.flushAll();
      this.clock.localAccess("cpu", size);
      return undefined;
    }
    const taken = this.batcher.offer(dev, op, va, size, data, then);
    if (taken !== undefined) return taken;
    if (this.remote(dev, va) === true) this.clock.remoteAccess(dev.name, size);
    else this.clock.localAccess(dev.name, size);
    return undefined;
  }

  remote(dev: GmDev, va: number): boolean | undefined {
    const ctx = dev.currentCtx;
    if (ctx === undefined) return undefined;
    if (ctx.mode === GM_MMU_MODE.SHARE) return true;
    const m = ctx.as.process.vmObject?.lookup(va);
    const b = m?.pieces as UvmBlock | undefined;
    if (b === undefined) return undefined;
    const i = Math.floor((va - m!.va) / PAGE);
    return !(b.state[i] === DEV && m!.dev === dev);
  }

  flush(): void {
    this.batcher.flushAll();
  }

  moveToHost(m: GmMapping): GmRet {
    const b = blockOf(m);
    const mm = m.page?.mm ?? b.owner!;
    const t = this.homeTally;
    t.toHost = 0;
    const ret = allHome(this.core, mm, m, b, m.page?.evicting ?? false, t);
    if (t.toHost > 0) this.noteMove(t.toHost, t.hostFrom, "host");
    return ret;
  }

  freeBlock(mm: GmProcess, m: GmMapping): void {
    this.batcher.flushAll();
    freeAll(this.core, mm, m, blockOf(m));
  }

  protectBlock(mm: GmProcess, m: GmMapping, prot: Prot): void {
    this.batcher.flushAll();
    protectAll(mm, m, blockOf(m), prot);
  }

  remap(m: GmMapping): void {
    remapBlock(m.page!.mm!, m, blockOf(m));
  }

  hmemcpy(mm: GmProcess, hnid: number, dest: number, src: number, size: number): void {
    uvmHmemcpy(this, mm, hnid, dest, src, size);
  }

  // --- hints and pins --------------------------------------------------------------------------

  setPreferredLocation(mm: GmProcess, va: number, len: number, who: string | undefined): void {
    this.batcher.flushAll();
    setPreferredLocation(this, mm, va, len, who);
  }

  setAccessedBy(mm: GmProcess, va: number, len: number, dev: GmDev, on: boolean): void {
    this.batcher.flushAll();
    setAccessedBy(this, mm, va, len, dev, on);
  }

  /** End the pins that are due: their remote mappings not otherwise wanted go. */
  expirePins(): void {
    const th = this.thrash!;
    th.expire(this.now(), (m, unit) => {
      const b = m.pieces as UvmBlock;
      this.stats.unpins++;
      if (b.owner === undefined) return;
      const [s, n] = th.units === 1 ? [0, PAGES] : [unit, 1];
      dropUnjustified(this, b.owner, m, b, s, n);
    });
  }
}
