/**
 * A CPU process: its `mm_struct` — a CPU stage-1 page table (AArch64, 4 KiB granule, 48-bit)
 * that a {@link Cpu} bus master walks — its virtual memory areas, its logical page table
 * ({@link VmObject}, made with its first peer-shared mapping), the address space it belongs
 * to, and the nodes it may allocate from (`mems_allowed`, which `gm_as_attach` extends with a
 * device's hnodes).
 *
 * mmap (RFC patch 5, MAP_PEER_SHARED): a peer-shared mapping is rounded out to 2 MiB and
 * reserves the same VA range on every attached device with GM_DEV_CAP_PEER through
 * `peer_va_alloc_fixed`. When one answers NOMEM, the devices that had reserved it free it
 * again (`peer_va_free`), the range is set aside (no later mmap of this process returns it)
 * and mmap retries at the next free range, up to GMEM_MMAP_RETRY_TIMES (10) retries — eleven
 * tries in all — then fails with ENOMEM. A fixed mapping is not retried. Other mappings are
 * ordinary anonymous memory, paged in 4 KiB pages on the CPU's first touch.
 *
 * munmap (RFC patch 6): device-resident blocks are peer_unmapped without copy, host-resident
 * ones unmapped from the CPU, both freed; the range is released on every PEER device
 * (peer_va_free). The loop advances block by block (the RFC's never advances). A peer-shared
 * range is unmapped in whole 2 MiB blocks (EINVAL otherwise, nothing changed).
 */
import { hex, hexRange } from "../base/address.js";
import { alignUp } from "../base/align.js";
import { fail } from "../base/errors.js";
import {
  checkAddress,
  checkBoolean,
  checkInteger,
  checkLength,
  checkOptions,
  describeValue,
} from "../base/validate.js";
import type { Disposable } from "../base/lifetime.js";
import type { Cpu } from "../devices/cpu.js";
import type { PageTable } from "../mmu/page-table.js";
import type { Prot } from "../mmu/prot.js";
import type { PhysAllocation } from "../phys/target.js";
import type { GmAs } from "./as.js";
import type { GmemCore } from "./core.js";
import type { GmDev } from "./device.js";
import { freeBlock, protectBlock } from "./fault.js";
import {
  cpuProt,
  GM_RET,
  GMEM_MMAP_RETRY_TIMES,
  gmRetName,
  HPAGE,
  PAGE,
  PROT_RW,
} from "./types.js";
import type { GmRet } from "./types.js";
import { VmObject } from "./vm-object.js";

/** Where mappings go when no address space or hint says otherwise. */
export const MMAP_BASE = 0x10_0000_0000;
export const MMAP_END = 2 ** 47;

/** A virtual memory area `[start, end)`. */
export interface Vma {
  readonly start: number;
  readonly end: number;
  /** PROT.READ / PROT.WRITE. */
  readonly prot: Prot;
  /** MAP_PEER_SHARED: managed by GMEM, 2 MiB-aligned. */
  readonly peerShared: boolean;
}

export interface MmapOptions {
  /** MAP_PEER_SHARED. */
  peerShared?: boolean;
  /** An address: a hint, or with `fixed` the address (aligned to 2 MiB when peer-shared). */
  addr?: number;
  fixed?: boolean;
  /** PROT.READ and / or PROT.WRITE (default both). */
  prot?: Prot;
}

export class GmProcess {
  /** The address space it belongs to (`mm->gm_as`). */
  as: GmAs | undefined = undefined;
  /** The logical page table (`mm->vm_obj`), made with the first peer-shared mapping. */
  vmObject: VmObject | undefined = undefined;
  /** `mems_allowed`: the CPU nodes and the hnodes it may use. */
  readonly memsAllowed = new Set<number>();
  /** Ranges a peer-shared mmap set aside after a device refused them. */
  readonly setAside: Array<{ start: number; end: number }> = [];
  /** The 4 KiB pages of ordinary anonymous mappings, by address. */
  readonly anonPages = new Map<number, PhysAllocation>();
  private readonly vmaList: Vma[] = [];
  private lastVma: Vma | undefined = undefined;
  label: Disposable | undefined = undefined;

  constructor(
    readonly core: GmemCore,
    readonly name: string,
    /** The CPU page table (`mm->pgd`). */
    readonly mm: PageTable,
    /** The CPU that runs it. */
    readonly cpu: Cpu,
    readonly asid: number,
  ) {
    for (let n = 0; n < core.cpuNodes; n++) this.memsAllowed.add(n);
  }

  /** The areas, in address order. */
  vmas(): readonly Vma[] {
    return this.vmaList;
  }

  /** `find_vma`: the area holding `va`, or undefined. */
  findVma(va: number): Vma | undefined {
    checkAddress("find_vma", "va", va);
    return this.vmaAt(va);
  }

  /** @internal {@link findVma} of an address already checked (the fault paths'). */
  vmaAt(va: number): Vma | undefined {
    const last = this.lastVma;
    if (last !== undefined && va >= last.start && va < last.end) return last;
    for (const v of this.vmaList)
      if (va >= v.start && va < v.end) {
        this.lastVma = v;
        return v;
      }
    return undefined;
  }

  /**
   * mmap: a new area of `len` bytes (rounded up to 4 KiB, or 2 MiB when peer-shared); returns
   * its address. EINVAL for a bad length, alignment or protection; EEXIST when a fixed range
   * overlaps an area; ENOMEM when no range is free, or when devices refused every try.
   */
  mmap(len: number, options?: MmapOptions): number {
    if (!Number.isSafeInteger(len) || len <= 0)
      fail("EINVAL", `${this.name}: mmap of ${describeValue(len)} bytes`, "len");
    options = checkOptions("mmap", "options", options, ["peerShared", "addr", "fixed", "prot"]);
    checkBoolean("mmap", "options.peerShared", options.peerShared);
    checkBoolean("mmap", "options.fixed", options.fixed);
    if (options.addr !== undefined) checkAddress("mmap", "options.addr", options.addr);
    if (options.prot !== undefined) checkInteger("mmap", "options.prot", options.prot);
    const peer = options.peerShared === true;
    const prot = options.prot ?? PROT_RW;
    if ((prot & ~PROT_RW) !== 0 || prot === 0)
      fail("EINVAL", `${this.name}: mmap prot ${hex(prot)} is not READ and/or WRITE`, "prot");
    const align = peer ? HPAGE : PAGE;
    const size = alignUp(len, align);
    const as = this.as;
    const lo = peer && as !== undefined ? as.startVa : MMAP_BASE;
    const hi = peer && as !== undefined ? as.endVa : MMAP_END;
    if (options.fixed === true) {
      const addr = options.addr;
      if (addr === undefined || !Number.isSafeInteger(addr) || addr < 0 || addr % align !== 0)
        fail(
          "EINVAL",
          `${this.name}: fixed mmap at ${describeValue(addr)}: not ${peer ? "2 MiB" : "4 KiB"}-aligned`,
          "addr",
        );
      if (peer && as !== undefined && (addr < lo || addr + size > hi))
        fail(
          "EINVAL",
          `${this.name}: fixed peer-shared mmap ${hexRange(addr, size)} is outside address space ${as.name} ${hexRange(lo, hi - lo)}`,
          "addr",
        );
      const clash = this.vmaList.find((v) => v.start < addr + size && addr < v.end);
      if (clash !== undefined)
        fail(
          "EEXIST",
          `${this.name}: fixed mmap ${hexRange(addr, size)} overlaps the mapping at ${hexRange(clash.start, clash.end - clash.start)}`,
          "addr",
        );
      if (peer) {
        const refusal = this.reservePeer(addr, size, prot);
        if (refusal !== undefined)
          fail(
            "ENOMEM",
            `${this.name}: fixed peer-shared mmap ${hexRange(addr, size)}: ${refusal.dev.name} refused it (peer_va_alloc_fixed: ${gmRetName(refusal.ret)})`,
          );
      }
      return this.insert(addr, size, prot, peer);
    }
    let hint = options.addr !== undefined ? alignUp(Math.max(options.addr, lo), align) : lo;
    for (let attempt = 0; ; attempt++) {
      const va =
        this.findFree(hint, size, hi, align) ??
        (hint > lo ? this.findFree(lo, size, hi, align) : undefined) ??
        fail(
          "ENOMEM",
          `${this.name}: mmap of ${hex(size)} bytes: no free range in ${hexRange(lo, hi - lo)}`,
        );
      const refusal = peer ? this.reservePeer(va, size, prot) : undefined;
      if (refusal === undefined) return this.insert(va, size, prot, peer);
      if (refusal.ret !== GM_RET.NOMEM)
        fail(
          "EINVAL",
          `${this.name}: peer-shared mmap ${hexRange(va, size)}: ${refusal.dev.name} answered ${gmRetName(refusal.ret)}`,
        );
      this.setAside.push({ start: va, end: va + size });
      if (attempt >= GMEM_MMAP_RETRY_TIMES)
        fail(
          "ENOMEM",
          `${this.name}: peer-shared mmap of ${hex(size)} bytes: ${refusal.dev.name} refused ${attempt + 1} ranges (the last ${hexRange(va, size)}); gave up after ${GMEM_MMAP_RETRY_TIMES} retries`,
        );
      hint = va + size;
    }
  }

  /**
   * munmap `[va, va+len)` (len rounded up to 4 KiB): every area in the range goes (areas it
   * cuts are split). EINVAL for a misaligned range, or one that cuts a peer-shared area
   * elsewhere than at a 2 MiB boundary; nothing changes then.
   */
  munmap(va: number, len: number): void {
    if (!Number.isSafeInteger(va) || va < 0 || va % PAGE !== 0)
      fail("EINVAL", `${this.name}: munmap at ${describeValue(va)}: not 4 KiB-aligned`, "va");
    if (!Number.isSafeInteger(len) || len <= 0)
      fail("EINVAL", `${this.name}: munmap of ${describeValue(len)} bytes`, "len");
    const end = va + alignUp(len, PAGE);
    this.checkCuts("munmap", va, end);
    this.splitAt(va);
    this.splitAt(end);
    const core = this.core;
    for (const v of this.vmaList.filter((x) => x.start >= va && x.end <= end)) {
      if (v.peerShared) {
        const obj = this.vmObject!;
        for (const m of obj.range(v.start, v.end)) {
          freeBlock(core, this, m);
          obj.remove(m.va);
        }
        for (const ctx of this.as?.contexts ?? [])
          if (ctx.dev.isPeer) ctx.dev.mmu.peerVaFree(this, v.start, v.end - v.start);
      } else this.freeAnon(v.start, v.end);
      this.vmaList.splice(this.vmaList.indexOf(v), 1);
    }
    this.lastVma = undefined;
  }

  /**
   * mprotect `[va, va+len)` to `prot` (READ and / or WRITE): the CPU's mappings, and the
   * device mappings of device-resident blocks (`pmap_protect`, then `tlb_invl`). The cut rules
   * of munmap; ENOMEM when part of the range is not mapped.
   */
  mprotect(va: number, len: number, prot: Prot): void {
    if (!Number.isSafeInteger(va) || va < 0 || va % PAGE !== 0)
      fail("EINVAL", `${this.name}: mprotect at ${describeValue(va)}: not 4 KiB-aligned`, "va");
    checkLength("mprotect", "len", len);
    checkInteger("mprotect", "prot", prot);
    if ((prot & ~PROT_RW) !== 0 || prot === 0)
      fail("EINVAL", `${this.name}: mprotect prot ${hex(prot)} is not READ and/or WRITE`, "prot");
    const end = va + alignUp(len, PAGE);
    this.checkCuts("mprotect", va, end);
    let covered = 0;
    for (const v of this.vmaList)
      covered += Math.max(0, Math.min(end, v.end) - Math.max(va, v.start));
    if (covered < end - va)
      fail("ENOMEM", `${this.name}: mprotect ${hexRange(va, end - va)}: not all of it is mapped`);
    this.splitAt(va);
    this.splitAt(end);
    for (let i = 0; i < this.vmaList.length; i++) {
      const v = this.vmaList[i]!;
      if (v.start < va || v.end > end) continue;
      this.vmaList[i] = { ...v, prot };
      if (v.peerShared)
        for (const m of this.vmObject!.range(v.start, v.end))
          protectBlock(this.core, this, m, prot);
      else
        for (let a = v.start; a < v.end; a += PAGE)
          if (this.anonPages.has(a)) this.mm.protect(a, PAGE, cpuProt(prot));
    }
    this.lastVma = undefined;
  }

  /** EINVAL if `[start, end)` cuts a peer-shared area off a 2 MiB boundary. */
  private checkCuts(op: string, start: number, end: number): void {
    for (const cut of [start, end])
      for (const v of this.vmaList)
        if (v.peerShared && cut > v.start && cut < v.end && cut % HPAGE !== 0)
          fail(
            "EINVAL",
            `${this.name}: ${op} at ${hex(cut)} cuts the peer-shared mapping ${hexRange(v.start, v.end - v.start)} off a 2 MiB boundary`,
          );
  }

  /** Split the area holding `addr` (not at its start) in two. */
  private splitAt(addr: number): void {
    const i = this.vmaList.findIndex((v) => addr > v.start && addr < v.end);
    if (i < 0) return;
    const v = this.vmaList[i]!;
    this.vmaList.splice(i, 1, { ...v, end: addr }, { ...v, start: addr });
    this.lastVma = undefined;
  }

  private freeAnon(start: number, end: number): void {
    const core = this.core;
    const free = (a: number, alloc: PhysAllocation) => {
      this.mm.unmap(a, PAGE);
      core.platform.store.discard(alloc.chunks[0]!.pa, PAGE);
      core.hostTarget.free(alloc);
      this.anonPages.delete(a);
    };
    if ((end - start) / PAGE <= this.anonPages.size) {
      for (let a = start; a < end; a += PAGE) {
        const alloc = this.anonPages.get(a);
        if (alloc !== undefined) free(a, alloc);
      }
    } else for (const [a, alloc] of [...this.anonPages]) if (a >= start && a < end) free(a, alloc);
  }

  /** Reserve `[va, va+size)` on every attached PEER device; the refusal, if one refused. */
  private reservePeer(
    va: number,
    size: number,
    prot: Prot,
  ): { dev: GmDev; ret: GmRet } | undefined {
    const done: GmDev[] = [];
    for (const ctx of this.as?.contexts ?? []) {
      const dev = ctx.dev;
      if (!dev.isPeer) continue;
      const ret = dev.mmu.peerVaAllocFixed(this, va, size, prot);
      if (ret !== GM_RET.SUCCESS) {
        for (const d of done) d.mmu.peerVaFree(this, va, size);
        return { dev, ret };
      }
      done.push(dev);
    }
    return undefined;
  }

  /** The lowest free range of `size`, `align`-aligned, at or above `from`, below `hi`. */
  private findFree(from: number, size: number, hi: number, align: number): number | undefined {
    let va = alignUp(from, align);
    const taken = [...this.vmaList, ...this.setAside].sort((a, b) => a.start - b.start);
    for (const t of taken) {
      if (t.end <= va) continue;
      if (t.start >= va + size) break;
      va = alignUp(t.end, align);
    }
    return va + size <= hi ? va : undefined;
  }

  private insert(start: number, size: number, prot: Prot, peerShared: boolean): number {
    if (peerShared) this.vmObject ??= new VmObject(this.core.policy.granularity);
    const vma: Vma = { start, end: start + size, prot, peerShared };
    let i = 0;
    while (i < this.vmaList.length && this.vmaList[i]!.start < start) i++;
    this.vmaList.splice(i, 0, vma);
    return start;
  }
}
