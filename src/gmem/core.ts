/**
 * The state the core's functions share: the platform, the policy, the statistics and the cost
 * sink, the host memory pages come from, the hnodes, the evictions in flight — and the
 * primitives on pages every path uses. {@link Gmem} (gmem.ts) is the facade over it; the fault
 * paths (fault.ts), eviction (evict.ts), hints (madvise.ts) and copies (hmemcpy.ts) are functions
 * of a `GmemCore`, so a policy can wrap them.
 */
import { fail } from "../base/errors.js";
import {
  badArgument,
  checkInstance,
  checkName,
  checkObject,
  checkOneOf,
} from "../base/validate.js";
import type { FaultResolution } from "../devices/bus-master.js";
import { Platform } from "../devices/platform.js";
import type { Fault } from "../mmu/regime.js";
import type { Prot } from "../mmu/prot.js";
import { PhysTableMemory } from "../mmu/table-memory.js";
import type { MemoryTarget } from "../phys/target.js";
import type { GmemCostSink } from "./cost-sink.js";
import type { GmDev } from "./device.js";
import { cpuFault, gmDevFault } from "./fault.js";
import type { GmPage, Hnode } from "./hnode.js";
import type { GmemPolicy, PolicyName } from "./policy.js";
import { resolvePolicy } from "./policy.js";
import type { GmProcess } from "./process.js";
import type { GmFaultHint, GmRet } from "./types.js";
import { HOST } from "./types.js";
import type { GmMapping, HostPage } from "./vm-object.js";

export interface GmemOptions {
  /** The memory target host pages come from: RAM, a buddy target (2 MiB-aligned blocks). */
  host: string;
  /** The memory target the processes' CPU page tables are allocated from. */
  tables: string;
  /** The policy: a name, or fields over the `gmem` policy (default: the `gmem` policy). */
  policy?: PolicyName | Partial<GmemPolicy>;
  /** Where costs are reported (the cost model). */
  cost?: GmemCostSink;
  /** How device pages are labelled with their address space (see `labelDevicePage`). */
  pageLabels?: "page" | "hnode";
}

/** The counters of a run; their names are fixed (the CLI prints them). */
export interface GmemStats {
  /** Device accesses to a page not mapped on that device (device faults served or not). */
  deviceFaults: number;
  /** CPU accesses to a page resident on a device. */
  hostFaults: number;
  /** Moves with data to a device (a first touch of a NOMAP page is none). */
  migrationsToDevice: number;
  /** Moves with data to the host (an eviction is one). */
  migrationsToHost: number;
  evictions: number;
  /** Pages a PREFETCH made resident on a device. */
  prefetchedPages: number;
  /** Thrashing detected (always 0 under the `gmem` policy, which has no detection). */
  thrashingEvents: number;
  bytesToDevice: number;
  bytesToHost: number;
  /** NOMAP pages a device fault populated with a zeroed device page. */
  deviceFirstTouches: number;
  /** NOMAP pages a CPU access (or a SHARE-mode device) populated with a zeroed host page. */
  cpuFirstTouches: number;
}

/** Counters beyond {@link GmemStats}, for tests and reports. */
export interface GmemDetail {
  /** peer_map answers GM_RET_MIGRATING (a device page being evicted). */
  migratingAnswers: number;
  /** Evictions in flight cancelled because the page was wanted (WILLNEED) meanwhile. */
  evictionsCancelled: number;
  /** Prefetch work items (about four per hmadvise PREFETCH). */
  prefetchChunks: number;
  hmemcpyCalls: number;
  hmemcpyBytes: number;
  /** CPU accesses that hit a CPU-resident page not mapped on the CPU, or 4K anonymous pages. */
  cpuMinorFaults: number;
  /** CPU accesses refused with SIGBUS (a pinned device page). */
  sigbus: number;
  /** Device faults the core could not serve (the access failed). */
  failedDeviceFaults: number;
}

/** What the last gm_dev_fault did (for its callers' counters). */
export type FaultOutcome =
  | "none"
  | "populated"
  | "migrated"
  | "touched"
  | "migrating"
  | "shared"
  /** Served by mapping host memory remotely (a pinned or host-preferred page; uvm/). */
  | "remote";

/** The device fault path (`gm_dev_fault`); a policy may wrap it. */
export type DevFaultPath = (
  core: GmemCore,
  mm: GmProcess,
  addr: number,
  dev: GmDev,
  hint: GmFaultHint,
) => GmRet;

/** The CPU's fault handler for a process (the core MM hooks); a policy may wrap it. */
export type CpuFaultPath = (core: GmemCore, mm: GmProcess, fault: Fault) => FaultResolution;

/**
 * What a policy beyond the core's paths takes over (the uvm engine, uvm/engine.ts: residency per
 * 4 KiB piece, fault batching, thrashing, hints). The core calls `access` and `remote` on every
 * access, and the block operations for blocks with `pieces` (the core does not read pieces).
 */
export interface PolicyHooks {
  /**
   * Before an access by the CPU (`dev` undefined) or a device: returns the access's buffer if it
   * took the access over (a device fault buffered in a batch; `then` is called when it is
   * replayed), else undefined (the access goes on).
   */
  access(
    dev: GmDev | undefined,
    op: "r" | "w",
    va: number,
    size: number,
    data: Uint8Array | undefined,
    then: ((bytes: Uint8Array) => void) | undefined,
  ): Uint8Array | undefined;
  /** True if `dev`'s access at `va` goes to host memory; undefined: the core's answer. */
  remote(dev: GmDev, va: number): boolean | undefined;
  /** Serve and replay every buffered access. */
  flush(): void;
  /** A block with pieces: every device-resident piece home (an eviction, a detach). */
  moveToHost(m: GmMapping): GmRet;
  /** A block with pieces: eager free (munmap, DONTNEED). */
  freeBlock(mm: GmProcess, m: GmMapping): void;
  /** A block with pieces: mprotect. */
  protectBlock(mm: GmProcess, m: GmMapping, prot: Prot): void;
  /** A block with pieces whose eviction was cancelled: its device mappings entered again. */
  remap(m: GmMapping): void;
  /** hmemcpy over blocks with pieces. */
  hmemcpy(mm: GmProcess, hnid: number, dest: number, src: number, size: number): void;
}

function zeroStats(): GmemStats {
  return {
    deviceFaults: 0,
    hostFaults: 0,
    migrationsToDevice: 0,
    migrationsToHost: 0,
    evictions: 0,
    prefetchedPages: 0,
    thrashingEvents: 0,
    bytesToDevice: 0,
    bytesToHost: 0,
    deviceFirstTouches: 0,
    cpuFirstTouches: 0,
  };
}

function zeroDetail(): GmemDetail {
  return {
    migratingAnswers: 0,
    evictionsCancelled: 0,
    prefetchChunks: 0,
    hmemcpyCalls: 0,
    hmemcpyBytes: 0,
    cpuMinorFaults: 0,
    sigbus: 0,
    failedDeviceFaults: 0,
  };
}

export class GmemCore {
  readonly platform: Platform;
  readonly policy: GmemPolicy;
  /** The cost sink (may be set or replaced at any time). */
  sink: GmemCostSink | undefined;
  readonly stats: GmemStats = zeroStats();
  readonly detail: GmemDetail = zeroDetail();
  readonly hostTarget: MemoryTarget;
  /** Where the processes' CPU tables live. */
  readonly tableMemory: PhysTableMemory;
  /** The CPU nodes: the platform's RAM regions, nodes 0..cpuNodes-1; hnodes come after. */
  readonly cpuNodes: number;
  /** Hnodes by id (CPU node ids hold undefined). */
  protected readonly hnodeTable: Array<Hnode | undefined> = [];
  /** Device pages whose eviction has begun and not ended (the swap daemon's, deferred). */
  readonly inFlight = new Set<GmPage>();
  /** `gm_dev_fault`, as the access path and prefetch call it: wrap it to change the policy. */
  devFaultPath: DevFaultPath = gmDevFault;
  /** The CPU's fault handler for peer-shared areas and anonymous memory: wrap it likewise. */
  cpuFaultPath: CpuFaultPath = cpuFault;
  /** A policy beyond the core's paths, when the policy needs one (uvm/engine.ts). */
  hooks: PolicyHooks | undefined = undefined;
  /** What the last gm_dev_fault did. */
  lastOutcome: FaultOutcome = "none";
  /**
   * Pages the last gm_dev_fault made resident (populated or migrated), in the residency's unit:
   * 1 (a 2 MiB page) on the core's path; 4 KiB pages under `residency: "page"`.
   */
  lastPages = 1;
  readonly pageLabels: "page" | "hnode";

  constructor(platform: Platform, options: GmemOptions) {
    const fn = "new Gmem";
    checkInstance(fn, "platform", platform, Platform);
    checkObject(fn, "options", options, ["host", "tables", "policy", "cost", "pageLabels"]);
    checkName(fn, "host", options.host);
    checkName(fn, "tables", options.tables);
    const p: unknown = options.policy;
    if (
      p !== undefined &&
      typeof p !== "string" &&
      (typeof p !== "object" || p === null || Array.isArray(p))
    )
      badArgument(fn, "policy", "be a policy name or an object of policy fields", p);
    if (options.cost !== undefined) checkObject(fn, "cost", options.cost);
    if (options.pageLabels !== undefined)
      checkOneOf(fn, "pageLabels", options.pageLabels, ["page", "hnode"]);
    this.platform = platform;
    this.pageLabels = options.pageLabels ?? "hnode";
    this.policy = resolvePolicy(options.policy);
    this.sink = options.cost;
    this.hostTarget = platform.target(options.host);
    if (this.hostTarget.kind !== "buddy")
      fail("EINVAL", `gmem: host target "${options.host}" is ${this.hostTarget.kind}, not buddy`);
    this.tableMemory = new PhysTableMemory(platform.store, platform.target(options.tables));
    this.cpuNodes = platform.map.regions().filter((r) => r.kind === "ram").length;
  }

  /** The hnode `id`, or undefined (a CPU node, or none). */
  hnode(id: number): Hnode | undefined {
    return this.hnodeTable[id];
  }

  /** The registered hnodes, by id. */
  hnodes(): Hnode[] {
    return this.hnodeTable.filter((h): h is Hnode => h !== undefined);
  }

  /** A host page of the policy's granularity, zeroed (free host memory holds no bytes). */
  allocHostPage(): HostPage {
    const g = this.policy.granularity;
    const allocation = this.hostTarget.alloc(g, { align: g });
    return { pa: allocation.chunks[0]!.pa, allocation };
  }

  /** Give a host page back; `scrub` drops its bytes (a free without a move). */
  freeHostPage(page: HostPage, scrub: boolean): void {
    if (scrub) this.platform.store.discard(page.pa, this.policy.granularity);
    this.hostTarget.free(page.allocation);
  }

  /**
   * Label a device page's physical range with its owning address space in the platform graph.
   * `pageLabels: "page"`: one label per page, taken back when the page is freed. `"hnode"` (the
   * default): one label over the hnode per address space, kept while the address space has pages
   * there — the owner registry takes a label back in time linear in its size, which per page
   * would cost microseconds per migration on a device of a thousand pages.
   */
  labelDevicePage(page: GmPage, asName: string): void {
    if (this.pageLabels === "page") {
      page.label?.dispose();
      page.label = this.platform.owners.label(
        { system: "gmem", kind: "address space", name: asName },
        { phys: { start: page.pa, end: page.pa + page.hnode.pageSize } },
      );
      return;
    }
    const h = page.hnode;
    let entry = h.ownerLabels.get(asName);
    if (entry === undefined) {
      entry = {
        label: this.platform.owners.label(
          { system: "gmem", kind: "address space", name: asName },
          { phys: { start: h.base, end: h.end } },
        ),
        pages: 0,
      };
      h.ownerLabels.set(asName, entry);
    }
    entry.pages++;
    page.labelOwner = asName;
  }

  /**
   * A device page stops backing its mapping: off the active list (and out of any eviction in
   * flight), its label gone, back on the free list. Its bytes must be gone already.
   */
  releaseDevicePage(page: GmPage): void {
    this.inFlight.delete(page);
    page.label?.dispose();
    page.label = undefined;
    const owner = page.labelOwner;
    if (owner !== undefined) {
      const h = page.hnode;
      const entry = h.ownerLabels.get(owner)!;
      if (--entry.pages === 0) {
        entry.label.dispose();
        h.ownerLabels.delete(owner);
      }
      page.labelOwner = undefined;
    }
    page.hnode.release(page);
  }

  /** Count a move of `bytes` and report it. */
  noteMigration(bytes: number, from: string, to: string): void {
    if (to === HOST) {
      this.stats.migrationsToHost++;
      this.stats.bytesToHost += bytes;
    } else {
      this.stats.migrationsToDevice++;
      this.stats.bytesToDevice += bytes;
    }
    this.sink?.migrate(bytes, from, to);
  }
}
