/**
 * `struct gm_dev`: a device registered with the core by `gm_dev_create` (see
 * {@link Gmem.devCreate}): an id, its capabilities, its `gm_mmu` operations and driver data,
 * the contexts attached to it (`gm_ctx_list`), the current one (`current_ctx`: the context the
 * hardware runs now), and the hnodes its memory was registered as (`registered_hnodes`).
 *
 * The model adds the bus master that issues the device's accesses (its hardware), so the core
 * can take its faults (a driver's fault interrupt handler calling `gm_dev_fault`), and a name
 * for statistics, costs and messages.
 */
import type { Disposable } from "../base/lifetime.js";
import type { MmuMaster } from "../devices/mmu-master.js";
import type { GmAs, GmContext } from "./as.js";
import type { GmMmu } from "./mmu.js";
import { GM_DEV_CAP } from "./types.js";

export class GmDev {
  /** `current_ctx`: the context the device runs now (set by an activating attach). */
  currentCtx: GmContext | undefined = undefined;
  /** `gm_ctx_list`: the contexts attached to the device. */
  readonly contexts: GmContext[] = [];
  /** `registered_hnodes`: the ids of the hnodes its memory was registered as. */
  readonly registeredHnodes = new Set<number>();
  /** False once destroyed. */
  live = true;
  /** The fault handler installed on the master (taken back by destroy). */
  faultHandler: Disposable | undefined = undefined;

  constructor(
    readonly id: number,
    readonly name: string,
    readonly capability: number,
    readonly mmu: GmMmu,
    /** `dev_data`: the driver's own. */
    readonly devData: unknown,
    /** The hardware that issues the device's accesses, if the model drives it. */
    readonly master: MmuMaster | undefined,
  ) {}

  /** `gm_dev_is_peer`. */
  get isPeer(): boolean {
    return (this.capability & GM_DEV_CAP.PEER) !== 0;
  }

  get replayable(): boolean {
    return (this.capability & GM_DEV_CAP.REPLAYABLE) !== 0;
  }

  /** The context attaching this device to `as`, if any (the current one is checked first). */
  contextFor(as: GmAs | undefined): GmContext | undefined {
    if (as === undefined) return undefined;
    const c = this.currentCtx;
    if (c !== undefined && c.as === as) return c;
    for (const ctx of this.contexts) if (ctx.as === as) return ctx;
    return undefined;
  }
}
