/**
 * Address spaces (`struct gm_as`, `gm_as_create` / `gm_as_destroy` / `gm_as_attach`) and device
 * contexts (`struct gm_context`): one virtual address space shared by a CPU process and the
 * devices attached to it, each with a {@link GmMmuMode}.
 *
 * `gm_as_attach(as, dev, mode, activate)` calls `pmap_create`, links the context into the
 * device's and the address space's lists, makes it the device's current context when
 * `activate` (and, an extension, calls `pmap_activate`: the "callback function to perform the
 * context switch" the RFC's comment asks for), and lets the task use the device's hnodes. Here
 * it also reserves the peer-shared mappings made before on a PEER device, and sets up the mode:
 * - SHARE: `pmap_create` is given the CPU's table; the device walks it as it is (an SVA
 *   device). Nothing migrates; a device fault populates the CPU's page; device accesses are
 *   remote accesses to host memory.
 * - COHERENT_EXCLUSIVE: the device has a table of its own; a device fault migrates the block
 *   to device memory and a CPU fault brings it back: a block lives in exactly one place.
 * - REPLICATE: the device has a table of its own, and every CPU mapping of the address space is
 *   replicated into it (`pmap_enter` / `pmap_release`, following the CPU table's change
 *   stream; the ones made before attach are copied at once): the device reads and writes host
 *   pages without faulting (remotely); blocks it touches first, or prefetches, live on it.
 *
 * Detach (not in the RFC) undoes attach: the device's pages come back to the host (with their
 * data), the peer VA ranges are freed, the table destroyed. `gm_as_destroy` detaches every
 * context (the RFC only frees them, leaving devices mapped).
 */
import { hexRange } from "../base/address.js";
import { fail } from "../base/errors.js";
import { checkBoolean, checkInstance, describeValue } from "../base/validate.js";
import type { Disposable } from "../base/lifetime.js";
import type { LeafChange } from "../mmu/page-table.js";
import type { Prot } from "../mmu/prot.js";
import { PERM, PROT } from "../mmu/prot.js";
import type { GmemCore } from "./core.js";
import { GmDev } from "./device.js";
import { finishEvict } from "./evict.js";
import { moveToHost } from "./fault.js";
import type { GmPmap } from "./mmu.js";
import type { GmProcess } from "./process.js";
import type { GmMmuMode } from "./types.js";
import { GM_MMU_MODE, GM_PAGE, GM_RET, gmModeName, gmRetName } from "./types.js";

/** `struct gm_context`: a device attached to an address space. */
export class GmContext {
  /** The label of the device's table in the platform graph. */
  label: Disposable | undefined = undefined;
  /** REPLICATE: the subscription to the CPU table's changes. */
  replication: Disposable | undefined = undefined;

  constructor(
    readonly as: GmAs,
    readonly dev: GmDev,
    readonly mode: GmMmuMode,
    readonly pmap: GmPmap,
  ) {}

  describe(): string {
    return `${this.dev.name} in ${this.as.name} (${gmModeName(this.mode)})`;
  }
}

/** `struct gm_as`: `[startVa, endVa)` of a process, and the devices attached to it. */
export class GmAs {
  /** `gm_ctx_list`: the contexts attached, in attach order. */
  readonly contexts: GmContext[] = [];
  live = true;
  /** The label of the process's table range in the platform graph. */
  label: Disposable | undefined = undefined;

  constructor(
    readonly core: GmemCore,
    readonly name: string,
    readonly startVa: number,
    readonly endVa: number,
    readonly process: GmProcess,
  ) {}

  /** `gm_as_attach`: see the file comment. EEXIST if attached already; the context. */
  attach(dev: GmDev, mode: GmMmuMode, activate = false): GmContext {
    return asAttach(this.core, this, dev, mode, activate);
  }

  /** Detach the device (its pages come home); ENOENT if it is not attached. */
  detach(dev: GmDev): void {
    checkInstance("gm_as_detach", "dev", dev, GmDev);
    const ctx =
      dev.contextFor(this) ??
      fail("ENOENT", `${this.name}: device ${dev.name} is not attached`, "dev");
    asDetach(this.core, ctx);
  }

  /** The context of `dev`, or undefined. */
  contextOf(dev: GmDev): GmContext | undefined {
    checkInstance("contextOf", "dev", dev, GmDev);
    return dev.contextFor(this);
  }
}

/** gm_as_attach. */
export function asAttach(
  core: GmemCore,
  as: GmAs,
  dev: GmDev,
  mode: GmMmuMode,
  activate: boolean,
): GmContext {
  checkInstance("gm_as_attach", "as", as, GmAs);
  checkInstance("gm_as_attach", "dev", dev, GmDev);
  checkBoolean("gm_as_attach", "activate", activate, false);
  if (!as.live) fail("ENODEV", `${as.name}: the address space was destroyed`);
  if (!dev.live) fail("ENODEV", `${as.name}: device ${dev.name} was destroyed`, "dev");
  if (
    mode !== GM_MMU_MODE.SHARE &&
    mode !== GM_MMU_MODE.COHERENT_EXCLUSIVE &&
    mode !== GM_MMU_MODE.REPLICATE
  )
    fail("EINVAL", `${as.name}: mode ${describeValue(mode)} is not a gm_mmu_mode`, "mode");
  if (dev.contextFor(as) !== undefined)
    fail("EEXIST", `${as.name}: device ${dev.name} is attached already`, "dev");
  const proc = as.process;
  const share = mode === GM_MMU_MODE.SHARE ? { table: proc.mm, asid: proc.asid } : undefined;
  const created = dev.mmu.pmapCreate(dev, share);
  if (created.ret !== GM_RET.SUCCESS || created.pmap === undefined)
    fail(
      created.ret === GM_RET.NOMEM ? "ENOMEM" : "EINVAL",
      `${as.name}: ${dev.name}: pmap_create answered ${gmRetName(created.ret)}`,
    );
  const pmap = created.pmap;
  const ctx = new GmContext(as, dev, mode, pmap);
  // The peer-shared mappings made before: reserved on a PEER device too, all or nothing.
  if (dev.isPeer) {
    const done: Array<{ start: number; end: number }> = [];
    for (const v of proc.vmas()) {
      if (!v.peerShared) continue;
      const ret = dev.mmu.peerVaAllocFixed(proc, v.start, v.end - v.start, v.prot);
      if (ret !== GM_RET.SUCCESS) {
        for (const d of done) dev.mmu.peerVaFree(proc, d.start, d.end - d.start);
        dev.mmu.pmapDestroy(pmap);
        fail(
          "ENOMEM",
          `${as.name}: ${dev.name} refused the peer-shared mapping ${hexRange(v.start, v.end - v.start)} (peer_va_alloc_fixed: ${gmRetName(ret)})`,
        );
      }
      done.push(v);
    }
  }
  dev.contexts.push(ctx);
  as.contexts.push(ctx);
  if (activate) activateContext(ctx);
  for (const nid of dev.registeredHnodes) proc.memsAllowed.add(nid);
  if (mode !== GM_MMU_MODE.SHARE && pmap.table !== undefined)
    ctx.label = core.platform.owners.label(
      { system: "gmem", kind: "address space", name: as.name },
      { table: pmap.table, start: as.startVa, end: as.endVa },
    );
  if (mode === GM_MMU_MODE.REPLICATE) startReplication(ctx);
  return ctx;
}

/** Make `ctx` its device's current context (the hardware switches to its table). */
export function activateContext(ctx: GmContext): void {
  ctx.dev.currentCtx = ctx;
  const ret = ctx.dev.mmu.pmapActivate?.(ctx.pmap) ?? GM_RET.SUCCESS;
  if (ret !== GM_RET.SUCCESS)
    fail("EINVAL", `${ctx.describe()}: pmap_activate answered ${gmRetName(ret)}`);
}

/** Detach: the device's blocks come back to the host, its peer VAs are freed, its table goes. */
export function asDetach(core: GmemCore, ctx: GmContext): void {
  const { as, dev } = ctx;
  const proc = as.process;
  for (const page of [...core.inFlight])
    if (page.mm === proc && page.hnode.dev === dev) finishEvict(core, page, true);
  for (const m of proc.vmObject?.all() ?? [])
    if ((m.flags & GM_PAGE.DEVICE) !== 0 && m.dev === dev) {
      const ret = moveToHost(core, m);
      if (ret !== GM_RET.SUCCESS)
        fail(
          "ENOMEM",
          `${ctx.describe()}: detach could not bring ${hexRange(m.va, core.policy.granularity)} home (${gmRetName(ret)})`,
        );
    }
  ctx.replication?.dispose();
  ctx.replication = undefined;
  if (dev.isPeer)
    for (const v of proc.vmas())
      if (v.peerShared) dev.mmu.peerVaFree(proc, v.start, v.end - v.start);
  if (dev.currentCtx === ctx) dev.currentCtx = undefined;
  dev.mmu.pmapDestroy(ctx.pmap);
  dev.contexts.splice(dev.contexts.indexOf(ctx), 1);
  as.contexts.splice(as.contexts.indexOf(ctx), 1);
  ctx.label?.dispose();
  ctx.label = undefined;
  for (const nid of dev.registeredHnodes) proc.memsAllowed.delete(nid);
}

/** The prot of a replica of a CPU leaf whose PERM mask is `perm`. */
function replicaProt(perm: number): Prot {
  const write = (perm & (PERM.WRITE_USER | PERM.WRITE_PRIV)) !== 0;
  return PROT.READ | (write ? PROT.WRITE : 0) | PROT.CACHE | PROT.NOEXEC;
}

/** REPLICATE: copy the CPU's mappings of the address space and follow its changes. */
function startReplication(ctx: GmContext): void {
  const { as, dev, pmap } = ctx;
  const mmu = dev.mmu;
  const table = as.process.mm;
  table.walk(
    {
      leaf: (l) =>
        void mmu.pmapEnter(
          pmap,
          l.va,
          l.size,
          l.pa,
          replicaProt(table.format.perm(l.levelIndex, l.lo, l.hi)),
        ),
    },
    as.startVa,
    as.endVa,
  );
  ctx.replication = table.onChange((changes: readonly LeafChange[]) => {
    for (const c of changes) {
      if (c.va + c.size <= as.startVa || c.va >= as.endVa) continue;
      if (c.before !== null) {
        mmu.pmapRelease(pmap, c.va, c.size);
        mmu.tlbInvl(pmap, c.va, c.size);
      }
      if (c.after !== null)
        mmu.pmapEnter(pmap, c.va, c.size, c.after.pa, replicaProt(c.after.perm));
    }
  });
}
