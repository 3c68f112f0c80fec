/**
 * Replayable fault batching (UVM's uvm_gpu_replayable_faults.c, reduced), the `faultBatch`
 * switch: a model of a GPU whose warps keep running while some wait on faults.
 *
 * - A device access (through {@link Gmem.access}) to a page its device does not map — the pages
 *   it touches are checked against the engine's residency, not the hardware — is a device fault
 *   (`deviceFaults` counts it) that goes into its device's batch instead of being served: the
 *   access waits (its bytes are kept, a read's buffer filled later) and the trace goes on.
 * - A batch is served when it holds `faultBatch` entries (256), when the CPU accesses memory,
 *   when another device's access touches a block the batch has faults in (it depends on them),
 *   before hints, hmadvise, hmemcpy, reclaim, munmap and mprotect, and at {@link Gmem.flush}
 *   (the end of a trace). Serving: the entries are coalesced — one fault per 4 KiB page (per
 *   block under residency block); an entry whose pages the batch has already is a duplicate —
 *   then each VA block with faults is served once, in address order (service.ts, with the
 *   prefetcher and thrashing), each block service priced as one far fault (`farFault`; the
 *   sink has no per-entry price: the 45 us of a far fault are the service's, per block); then
 *   every buffered access is replayed in trace order (a replay that faults again — its page
 *   evicted by a later block of the batch — is served at once and counted again).
 * - Devices whose faults are not replayable, SHARE / REPLICATE devices, and accesses outside
 *   peer-shared mappings are not batched (their faults are served, or fail, at once).
 *
 * Accesses of one device that hit meanwhile run at once (other warps); an access that touches a
 * page its own batch is waiting for faults itself (a duplicate), and one that hits bytes a
 * waiting access across pages touches has the batch served first: an access never overtakes an
 * earlier one to the same bytes.
 */
import { alignDown } from "../../base/align.js";
import type { GmDev } from "../device.js";
import type { GmPmap } from "../mmu.js";
import type { GmProcess } from "../process.js";
import { GM_MMU_MODE, GM_RET, HPAGE, PAGE } from "../types.js";
import type { GmMapping } from "../vm-object.js";
import type { UvmBlock } from "./block.js";
import { DEV } from "./block.js";
import type { UvmEngine } from "./engine.js";

interface Entry {
  readonly who: string;
  readonly op: "r" | "w";
  readonly va: number;
  readonly size: number;
  readonly data: Uint8Array | undefined;
  readonly out: Uint8Array;
  readonly then: ((bytes: Uint8Array) => void) | undefined;
}

interface Group {
  readonly mm: GmProcess;
  readonly m: GmMapping;
  /** Faulted units (pages, or 0 for the block) and the first page of each. */
  readonly units: Set<number>;
  readonly pages: number[];
}

interface Batch {
  entries: Entry[];
  groups: Map<GmMapping, Group>;
  /** The entries that touch more than one page (they may touch mapped ones too). */
  spanning: Entry[];
}

/** True if `dev` (through `pmap`) maps page `i` of `m`. */
function mappedOn(dev: GmDev, pmap: GmPmap, m: GmMapping | undefined, i: number): boolean {
  const b = m?.pieces as UvmBlock | undefined;
  if (b === undefined) return false;
  if (b.state[i] === DEV && m!.dev === dev && !m!.page!.evicting) return true;
  for (const r of b.remote) if (r.dev === dev && r.pmap === pmap) return r.mask[i] === 1;
  return false;
}

export class FaultBatcher {
  private readonly batches = new Map<GmDev, Batch>();
  /** Accesses buffered in all batches. */
  private pending = 0;
  private replaying = 0;

  constructor(private readonly e: UvmEngine) {}

  /** Accesses waiting in batches. */
  get waiting(): number {
    return this.pending;
  }

  /** Take a device access into its batch if it faults (see the file comment). */
  offer(
    dev: GmDev,
    op: "r" | "w",
    va: number,
    size: number,
    data: Uint8Array | undefined,
    then: ((bytes: Uint8Array) => void) | undefined,
  ): Uint8Array | undefined {
    const core = this.e.core;
    const limit = core.policy.faultBatch;
    if (limit <= 1 || this.replaying > 0) return undefined;
    const ctx = dev.currentCtx;
    if (ctx === undefined) return undefined;
    const mm = ctx.as.process;
    const obj = mm.vmObject;
    if (this.pending > 0) this.flushConflicts(dev, mm, va, size);
    const vma = mm.vmaAt(va);
    if (
      !dev.replayable ||
      ctx.mode !== GM_MMU_MODE.COHERENT_EXCLUSIVE ||
      obj === undefined ||
      vma === undefined ||
      !vma.peerShared ||
      va + size > vma.end
    )
      return undefined;
    let faulting: Array<[GmMapping, number]> | undefined;
    for (let p = alignDown(va, PAGE); p < va + size; p += PAGE) {
      const m = obj.lookup(p);
      const i = Math.floor((p % HPAGE) / PAGE);
      if (!mappedOn(dev, ctx.pmap, m, i)) (faulting ??= []).push([obj.lookupOrCreate(p), i]);
    }
    if (faulting === undefined) {
      // A hit must not overtake a waiting access to the same bytes (one across pages).
      const own = this.batches.get(dev);
      if (own !== undefined)
        for (const en of own.spanning)
          if (en.va < va + size && va < en.va + en.size) {
            this.serve(dev, own);
            break;
          }
      return undefined;
    }
    core.stats.deviceFaults++;
    this.e.stats.batchEntries++;
    let batch = this.batches.get(dev);
    if (batch === undefined)
      this.batches.set(dev, (batch = { entries: [], groups: new Map(), spanning: [] }));
    const whole = core.policy.residency === "block";
    let fresh = false;
    for (const [m, i] of faulting) {
      let g = batch.groups.get(m);
      if (g === undefined) batch.groups.set(m, (g = { mm, m, units: new Set(), pages: [] }));
      const unit = whole ? 0 : i;
      if (g.units.has(unit)) continue;
      g.units.add(unit);
      g.pages.push(i);
      fresh = true;
    }
    if (!fresh) this.e.stats.duplicates++;
    const out = op === "r" ? new Uint8Array(size) : (data?.slice() ?? new Uint8Array(size));
    const entry = { who: dev.name, op, va, size, data: op === "w" ? out : undefined, out, then };
    batch.entries.push(entry);
    if (Math.floor(va / PAGE) !== Math.floor((va + size - 1) / PAGE)) batch.spanning.push(entry);
    this.pending++;
    if (batch.entries.length >= limit) this.serve(dev, batch);
    return out;
  }

  /** Serve every batch. */
  flushAll(): void {
    while (this.pending > 0)
      for (const [dev, batch] of this.batches) if (batch.entries.length > 0) this.serve(dev, batch);
  }

  /** Serve the other devices' batches with faults in the blocks `[va, va+size)` meets. */
  private flushConflicts(dev: GmDev, mm: GmProcess, va: number, size: number): void {
    const obj = mm.vmObject;
    if (obj === undefined) return;
    for (const [d, batch] of this.batches) {
      if (d === dev || batch.entries.length === 0) continue;
      for (let b = alignDown(va, HPAGE); b < va + size; b += HPAGE) {
        const m = obj.lookup(b);
        if (m !== undefined && batch.groups.has(m)) {
          this.serve(d, batch);
          break;
        }
      }
    }
  }

  /** Serve one batch: each block once, then the replays (see the file comment). */
  private serve(dev: GmDev, batch: Batch): void {
    const e = this.e;
    const core = e.core;
    const entries = batch.entries;
    const groups = [...batch.groups.values()].sort((a, b) => a.m.va - b.m.va);
    batch.entries = [];
    batch.groups = new Map();
    batch.spanning = [];
    this.pending -= entries.length;
    e.stats.batches++;
    for (const g of groups) {
      core.sink?.farFault(dev.name);
      e.clock.farFault(dev.name);
      const r = e.service(
        g.mm,
        g.m,
        dev,
        g.pages.sort((a, b) => a - b),
        "fault",
      );
      if (r.ret === GM_RET.SUCCESS && r.populated > 0) {
        if (r.remote > 0) core.stats.cpuFirstTouches++;
        else core.stats.deviceFirstTouches++;
      }
    }
    this.replaying++;
    try {
      for (const en of entries) {
        const got = core.access(en.who, en.op, en.va, en.size, en.data);
        if (en.op === "r") en.out.set(got);
        en.then?.(en.out);
      }
    } finally {
      this.replaying--;
    }
  }
}
