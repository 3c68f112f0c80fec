/**
 * Test machines for GMEM: DRAM at 2 GiB (32 MiB of page tables, then host memory), one or more
 * accelerators with device-local memory at 1 TiB (each its own 64 GiB slot), a process "app" on
 * CPU "cpu0" with address space "as1" over the whole user range, every accelerator attached and
 * active in one mode, and one peer-shared mapping of a few 2 MiB blocks — plus the invariant
 * checks the tests share (residency, hnode lists, bytes in memory) and a recording cost sink.
 */
import { expect } from "vitest";

import { Accelerator } from "../devices/accelerator.js";
import { findStaleEntries } from "../devices/graph/checks.js";
import { Platform } from "../devices/platform.js";
import type { AcceleratorDriver } from "./accelerator-driver.js";
import { DriverPmap } from "./accelerator-driver.js";
import type { GmContext } from "./as.js";
import type { GmemCostSink } from "./cost-sink.js";
import type { GmDev } from "./device.js";
import { Gmem } from "./gmem.js";
import type { Hnode } from "./hnode.js";
import type { GmemPolicy } from "./policy.js";
import type { GmMmuMode } from "./types.js";
import { GM_MMU_MODE, GM_PAGE, HPAGE } from "./types.js";

export const K = 1024;
export const M = 1024 * K;
export const DRAM = 0x8000_0000;
export const TABLES = 32 * M;
export const HBM = 2 ** 40;

export interface GmemMachineOptions {
  /** Each device's local memory (default 8 MiB: four 2 MiB frames). */
  deviceMemory?: number;
  /** Host memory (default 128 MiB). */
  hostMemory?: number;
  mode?: GmMmuMode;
  policy?: Partial<GmemPolicy>;
  /** Accelerator names (default one, "gpu0"). */
  devices?: readonly string[];
  /** The peer-shared mapping, in 2 MiB blocks (default 8; 0: none). */
  blocks?: number;
  capability?: number;
  /** Per device name: the VA ranges its peer OS keeps (peer_va_alloc_fixed refuses them). */
  reservedVa?: Readonly<Record<string, ReadonlyArray<{ start: number; end: number }>>>;
  cost?: GmemCostSink;
  pageLabels?: "page" | "hnode";
}

export interface GmemTestDevice {
  accel: Accelerator;
  dev: GmDev;
  driver: AcceleratorDriver;
  ctx: GmContext;
  hnode: Hnode;
}

export function gmemMachine(o: GmemMachineOptions = {}) {
  const host = o.hostMemory ?? 128 * M;
  const platform = new Platform({
    regions: [{ name: "dram", base: DRAM, size: TABLES + host, kind: "ram" }],
    targets: [
      {
        name: "pgtables",
        ranges: [{ region: "dram", size: TABLES }],
        allocator: { kind: "buddy" },
      },
      {
        name: "system",
        ranges: [{ region: "dram", offset: TABLES }],
        allocator: { kind: "buddy" },
      },
    ],
  });
  const gmem = new Gmem(platform, {
    host: "system",
    tables: "pgtables",
    ...(o.policy ? { policy: o.policy } : {}),
    ...(o.cost ? { cost: o.cost } : {}),
    ...(o.pageLabels ? { pageLabels: o.pageLabels } : {}),
  });
  const proc = gmem.createProcess("app", { cpu: "cpu0" });
  const as = gmem.asCreate(proc, 0, 2 ** 47);
  const mode = o.mode ?? GM_MMU_MODE.COHERENT_EXCLUSIVE;
  const devs: GmemTestDevice[] = (o.devices ?? ["gpu0"]).map((name, i) => {
    const accel = new Accelerator(platform, {
      name,
      localMemory: {
        region: { name: `${name}-hbm`, base: HBM + i * 2 ** 36, size: o.deviceMemory ?? 8 * M },
      },
    });
    const { dev, driver, hnodes } = gmem.addAccelerator(accel, {
      tables: "pgtables",
      ...(o.capability !== undefined ? { capability: o.capability } : {}),
      ...(o.reservedVa?.[name] ? { reservedVa: o.reservedVa[name] } : {}),
    });
    const ctx = as.attach(dev, mode, true);
    return { accel, dev, driver, ctx, hnode: hnodes[0]! };
  });
  const blocks = o.blocks ?? 8;
  const va = blocks > 0 ? proc.mmap(blocks * HPAGE, { peerShared: true }) : 0;
  return { platform, gmem, proc, as, devs, gpu: devs[0]!, va, blocks, mode };
}

export type GmemMachine = ReturnType<typeof gmemMachine>;

/** Bytes with a recognizable pattern (never all zero). */
export function pattern(length: number, seed = 1): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 7 + seed) & 0xff || 0x5a);
}

/** The counters of a run, copied. */
export function statsOf(m: GmemMachine) {
  return { ...m.gmem.stats };
}

/** A cost sink that records every call. */
export class RecordingSink implements GmemCostSink {
  readonly calls: string[] = [];
  readonly counts = {
    farFault: 0,
    walk: 0,
    migrate: 0,
    remoteAccess: 0,
    localAccess: 0,
    migratedBytes: 0,
  };

  farFault(who: string): void {
    this.counts.farFault++;
    this.calls.push(`farFault ${who}`);
  }
  walk(who: string, levels: number, leafSize: number): void {
    this.counts.walk++;
    this.calls.push(`walk ${who} ${levels} ${leafSize}`);
  }
  migrate(bytes: number, from: string, to: string): void {
    this.counts.migrate++;
    this.counts.migratedBytes += bytes;
    this.calls.push(`migrate ${bytes} ${from}->${to}`);
  }
  remoteAccess(who: string, bytes: number): void {
    this.counts.remoteAccess++;
    this.calls.push(`remote ${who} ${bytes}`);
  }
  localAccess(who: string, bytes: number): void {
    this.counts.localAccess++;
    this.calls.push(`local ${who} ${bytes}`);
  }
}

/** The own table of a device's context (not SHARE). */
export function deviceTable(d: GmemTestDevice) {
  const pmap = d.ctx.pmap;
  if (!(pmap instanceof DriverPmap) || pmap.own === undefined) throw new Error("no own table");
  return pmap.own;
}

/** Where each block of the mapping is: `"nomap"`, `"cpu"`, `"device gpu0"` (+ bits). */
export function placement(m: GmemMachine): string[] {
  const out: string[] = [];
  for (let b = 0; b < m.blocks; b++)
    out.push(m.proc.vmObject!.lookup(m.va + b * HPAGE)?.describe() ?? "nomap");
  return out;
}

/**
 * The residency invariants of every block, hnode and memory (COHERENT_EXCLUSIVE, REPLICATE,
 * SHARE as the machine's mode says):
 * - NOMAP: no CPU mapping, no device mapping, no page;
 * - CPU: the CPU maps the host page (one 2 MiB leaf); no device maps it (REPLICATE: the device's
 *   replica points at the host page);
 * - DEVICE: the CPU does not map it; its device maps the device page (unless its eviction is in
 *   flight), no other device maps it; the page is on its hnode's active list and backs it;
 * - every hnode's pages are on exactly one list, the active ones back DEVICE blocks;
 * - the written (materialized) 4 KiB pages of device memory lie in active frames, those of host
 *   memory in host pages of CPU blocks (or tables): a block's bytes are in one place only;
 * - no TLB of the machine holds an entry the tables no longer give.
 */
export function checkResidency(m: GmemMachine): void {
  const { gmem, proc, devs, platform, mode } = m;
  const obj = proc.vmObject;
  const hostPages = new Set<number>();
  const frames = new Set<number>();
  for (const b of obj?.all() ?? []) {
    const cpu = proc.mm.translate(b.va);
    const what = `block ${b.va.toString(16)} (${b.describe()})`;
    const own = devs.map((d) =>
      mode === GM_MMU_MODE.SHARE ? undefined : deviceTable(d).translate(b.va),
    );
    if (b.state === GM_PAGE.NOMAP) {
      expect(cpu, `${what}: CPU mapping`).toBeUndefined();
      own.forEach((t) => expect(t, `${what}: device mapping`).toBeUndefined());
      expect(b.host ?? b.page, `${what}: page`).toBeUndefined();
    } else if (b.state === GM_PAGE.CPU) {
      expect(b.page, `${what}: device page`).toBeUndefined();
      expect(cpu?.pa, `${what}: CPU mapping`).toBe(b.host!.pa);
      expect(cpu?.size).toBe(HPAGE);
      own.forEach((t) =>
        mode === GM_MMU_MODE.REPLICATE
          ? expect(t?.pa, `${what}: replica`).toBe(b.host!.pa)
          : expect(t, `${what}: device mapping`).toBeUndefined(),
      );
      expect(gmem.hostTarget.has(b.host!.allocation.id)).toBe(true);
      hostPages.add(b.host!.pa);
    } else {
      expect(mode).not.toBe(GM_MMU_MODE.SHARE);
      expect(b.host, `${what}: host page`).toBeUndefined();
      expect(cpu, `${what}: CPU mapping`).toBeUndefined();
      const page = b.page!;
      expect(page.mapping).toBe(b);
      expect(page.hnode.isActive(page), `${what}: active`).toBe(true);
      devs.forEach((d, i) => {
        if (d.dev !== b.dev) expect(own[i], `${what}: on ${d.dev.name} too`).toBeUndefined();
        else if (page.evicting) expect(own[i], `${what}: evicting, still mapped`).toBeUndefined();
        else expect(own[i]?.pa, `${what}: device mapping`).toBe(page.pa);
      });
      frames.add(page.pa);
    }
  }
  for (const d of devs) {
    const h = d.hnode;
    const active = h.activeList();
    const free = h.freeList();
    expect(active.length + free.length).toBe(h.size);
    expect(new Set([...active, ...free]).size).toBe(h.size);
    for (const p of active)
      expect(frames.has(p.pa), `frame ${p.pa.toString(16)} active`).toBe(true);
    expect(h.nrActivePages).toBe(active.length);
  }
  // Bytes: device memory only in active frames, host memory (above the tables) only in CPU
  // blocks' host pages or anonymous pages.
  const anon = new Set<number>([...proc.anonPages.values()].map((a) => a.chunks[0]!.pa));
  for (const pfn of platform.store.materializedPfns()) {
    const pa = pfn * 4096;
    if (pa >= HBM) {
      const frame = pa - ((pa - HBM) % HPAGE);
      expect(frames.has(frame), `device bytes at ${pa.toString(16)} outside active frames`).toBe(
        true,
      );
    } else if (pa >= DRAM + TABLES) {
      const page = pa - ((pa - DRAM) % HPAGE);
      expect(
        hostPages.has(page) || anon.has(pa),
        `host bytes at ${pa.toString(16)} outside CPU blocks`,
      ).toBe(true);
    }
  }
  expect(findStaleEntries(platform)).toEqual([]);
}
