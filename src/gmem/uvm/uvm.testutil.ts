/**
 * Test helpers for the uvm engine: the residency invariants of blocks with pieces, a sink whose
 * clock a test sets, and small helpers over gmem.testutil's machines.
 */
import { expect } from "vitest";

import { findStaleEntries } from "../../devices/graph/checks.js";
import type { AnyPageTable } from "../../mmu/page-table.js";
import { DRAM, HBM, RecordingSink, TABLES, deviceTable } from "../gmem.testutil.js";
import type { GmemMachine } from "../gmem.testutil.js";
import { GM_MMU_MODE, GM_PAGE, HPAGE, PAGE } from "../types.js";
import type { UvmBlock } from "./block.js";
import { CPU, DEV, NOMAP, PAGES } from "./block.js";

/** A recording sink with a clock the test sets (`timeNs`): the engine's time source. */
export class ClockSink extends RecordingSink {
  timeNs = 0;
}

/** The state of page `i` of block `b` of the machine's mapping: "nomap", "cpu", "gpu0". */
export function where(m: GmemMachine, va: number): string {
  const map = m.proc.vmObject!.lookup(va);
  const b = map?.pieces as UvmBlock | undefined;
  if (map === undefined || b === undefined) return "nomap";
  const s = b.state[Math.floor((va - map.va) / PAGE)];
  return s === CPU ? "cpu" : s === DEV ? map.dev!.name : "nomap";
}

/** Pages of the block at `va` in each place. */
export function census(m: GmemMachine, va: number): { nomap: number; cpu: number; dev: number } {
  const b = m.proc.vmObject!.lookup(va)?.pieces as UvmBlock | undefined;
  if (b === undefined) return { nomap: PAGES, cpu: 0, dev: 0 };
  return { nomap: PAGES - b.nCpu - b.nDev, cpu: b.nCpu, dev: b.nDev };
}

/**
 * The invariants of every block (COHERENT_EXCLUSIVE): each 4 KiB page is in exactly one place —
 * NOMAP (mapped nowhere), CPU (the CPU maps the host page's piece; a device only remotely, as
 * recorded), DEVICE (its device maps the frame's piece unless the frame is being evicted; the
 * CPU and other devices do not map it); a block has a frame iff a page is DEVICE and a host page
 * iff a page is CPU, and the block-level state says so; the hnode lists; the bytes of device and
 * host memory only at resident pages; no stale TLB entry.
 */
export function checkPieces(m: GmemMachine): void {
  const { proc, devs, platform, gmem } = m;
  expect(m.mode).toBe(GM_MMU_MODE.COHERENT_EXCLUSIVE);
  const devBytes = new Set<number>();
  const hostBytes = new Set<number>();
  const frames = new Set<number>();
  const blocks = proc.vmObject?.all() ?? [];
  const lo = blocks[0]?.va ?? 0;
  const hi = (blocks[blocks.length - 1]?.va ?? 0) + HPAGE;
  const cpuPages = leafPages(proc.mm, lo, hi);
  const devPages = devs.map((d) => leafPages(deviceTable(d), lo, hi));
  for (const map of blocks) {
    const b = map.pieces as UvmBlock | undefined;
    const what = `block ${map.va.toString(16)}`;
    if (b === undefined) {
      expect(map.state, what).toBe(GM_PAGE.NOMAP);
      expect(map.host ?? map.page, what).toBeUndefined();
      continue;
    }
    const remotes = devs.map((d) => b.remote.find((r) => r.dev === d.dev && r.pmap === d.ctx.pmap));
    let nCpu = 0;
    let nDev = 0;
    for (let i = 0; i < PAGES; i++) {
      const s = b.state[i]!;
      const va = map.va + i * PAGE;
      const cpu = cpuPages.get(va);
      const own = devPages.map((t) => t.get(va));
      const remote = remotes.map((r) => r?.mask[i] === 1);
      const fail = (why: string) => expect.fail(`${what} page ${i} (state ${s}): ${why}`);
      if (s === NOMAP) {
        if (cpu !== undefined || own.some((t) => t !== undefined)) fail("mapped");
      } else if (s === CPU) {
        nCpu++;
        const pa = map.host!.pa + i * PAGE;
        if (cpu !== pa) fail(`CPU maps ${String(cpu)}, not ${pa}`);
        devs.forEach((d, k) => {
          const evicting = map.page?.evicting === true && map.dev === d.dev;
          const want = remote[k] && !evicting ? pa : undefined;
          if (own[k] !== want) fail(`${d.dev.name} maps ${String(own[k])}, not ${String(want)}`);
        });
        hostBytes.add(pa);
      } else {
        if (s !== DEV) fail("bad state");
        nDev++;
        const pa = map.page!.pa + i * PAGE;
        if (cpu !== undefined) fail("the CPU maps a device page");
        devs.forEach((d, k) => {
          if (remote[k]) fail(`remote on ${d.dev.name}`);
          const want = d.dev === map.dev && !map.page!.evicting ? pa : undefined;
          if (own[k] !== want) fail(`${d.dev.name} maps ${String(own[k])}, not ${String(want)}`);
        });
        devBytes.add(pa);
      }
    }
    expect([b.nCpu, b.nDev], `${what}: counts`).toEqual([nCpu, nDev]);
    expect(map.host !== undefined, `${what}: host page iff a CPU page`).toBe(nCpu > 0);
    expect(map.page !== undefined, `${what}: frame iff a device page`).toBe(nDev > 0);
    const state = nDev > 0 ? GM_PAGE.DEVICE : nCpu > 0 ? GM_PAGE.CPU : GM_PAGE.NOMAP;
    expect(map.state, `${what}: block state`).toBe(state);
    if (map.host !== undefined) expect(gmem.hostTarget.has(map.host.allocation.id)).toBe(true);
    if (map.page !== undefined) {
      expect(map.page.mapping).toBe(map);
      expect(map.page.hnode.dev).toBe(map.dev);
      expect(map.page.hnode.isActive(map.page), `${what}: frame active`).toBe(true);
      frames.add(map.page.pa);
    }
  }
  for (const d of devs) {
    const h = d.hnode;
    const active = h.activeList();
    expect(active.length + h.freeList().length).toBe(h.size);
    for (const p of active) expect(frames.has(p.pa), `frame ${p.pa.toString(16)}`).toBe(true);
  }
  const anon = new Set<number>([...proc.anonPages.values()].map((a) => a.chunks[0]!.pa));
  for (const pfn of platform.store.materializedPfns()) {
    const pa = pfn * PAGE;
    if (pa >= HBM) expect(devBytes.has(pa), `device bytes at ${pa.toString(16)}`).toBe(true);
    else if (pa >= DRAM + TABLES)
      expect(hostBytes.has(pa) || anon.has(pa), `host bytes at ${pa.toString(16)}`).toBe(true);
  }
  expect(findStaleEntries(platform)).toEqual([]);
}

/** Every 4 KiB page `table` maps in `[lo, hi)`: its physical address. */
function leafPages(table: AnyPageTable, lo: number, hi: number): Map<number, number> {
  const out = new Map<number, number>();
  table.walk(
    {
      leaf: (l) => {
        for (let a = Math.max(lo, l.va); a < Math.min(hi, l.va + l.size); a += PAGE)
          out.set(a, l.pa + (a - l.va));
      },
    },
    lo,
    hi,
  );
  return out;
}

/** The block index's address in the machine's mapping. */
export function blockVa(m: GmemMachine, block: number): number {
  return m.va + block * HPAGE;
}
