/**
 * The fault paths (RFC patch 3's `gm_dev_fault` and `gm_host_fault_locked`, and the CPU side
 * of the core MM hooks of patch 6), moving real bytes:
 *
 * `gm_dev_fault(mm, addr, dev, hint)`, on the 2 MiB block holding `addr`:
 * - NOMAP: a device page from the device's hnode (evicting if it has none free) and
 *   `peer_map` without copy: the device maps a zeroed page (first touch; no migration);
 * - CPU: the CPU mapping goes (and the CPU's TLB entries with it), `peer_map` with copy from
 *   the host page's DMA address moves the data into the device page, the host page is freed
 *   (one migration to the device);
 * - DEVICE on this device: `peer_map` again — with MARK_HOT the driver treats it as "recently
 *   used" and the core moves the page to the active tail; a device page being evicted answers
 *   MIGRATING, upon which the mapping gets WILLNEED (which stops the eviction) and the fault
 *   succeeds;
 * - DEVICE on another device: the block first comes to the host, then as CPU;
 * - any other error: the block stays as it was (NOMAP stays NOMAP; a CPU block keeps its CPU
 *   mapping and data — the RFC sets NOMAP there and loses the data).
 * SHARE-mode devices walk the CPU's table: their faults populate (or bring home) the CPU's
 * page instead, and nothing migrates to them.
 *
 * `gm_host_fault_locked(mm, addr)`: a CPU fault on a DEVICE block: a host page, `peer_unmap`
 * with copy (the device moves the data to the host page and drops its mapping), the CPU maps
 * the host page. The block is looked up by its aligned address (the RFC computes an offset).
 * A CPU access to a PINNED device page fails with a SIGBUS-like EFAULT naming the address.
 *
 * Counting: the callers count what the access saw (device faults, host faults, first touches);
 * these functions count the moves (migrations and their bytes) and report them to the sink.
 */
import { hex, hexRange } from "../base/address.js";
import { fail } from "../base/errors.js";
import type { FaultResolution } from "../devices/bus-master.js";
import type { Fault } from "../mmu/regime.js";
import type { Prot } from "../mmu/prot.js";
import type { GmemCore } from "./core.js";
import type { GmDev } from "./device.js";
import { allocDevicePage, finishEvict } from "./evict.js";
import type { GmPage } from "./hnode.js";
import type { GmFault } from "./mmu.js";
import type { GmProcess, Vma } from "./process.js";
import type { GmFaultHint, GmRet } from "./types.js";
import {
  cpuProt,
  GM_FAULT_HINT,
  GM_MMU_MODE,
  GM_PAGE,
  GM_RET,
  gmRetName,
  HOST,
  PAGE,
  PROT_RW,
} from "./types.js";
import type { GmMapping } from "./vm-object.js";

/** A `gm_fault_t`. */
function gmFault(
  mm: GmProcess,
  dev: GmDev,
  va: number,
  size: number,
  prot: Prot,
  copy: boolean,
  dmaAddr: number,
  hint: GmFaultHint,
  page: GmPage | undefined,
): GmFault {
  return { mm, dev, va, size, prot, copy, dmaAddr, hint, page };
}

/** The area's prot for the block at `va` (read-write if it has none any more). */
function protAt(mm: GmProcess, va: number): Prot {
  return mm.vmaAt(va)?.prot ?? PROT_RW;
}

/** gm_dev_fault: see the file comment. */
export function gmDevFault(
  core: GmemCore,
  mm: GmProcess,
  addr: number,
  dev: GmDev,
  hint: GmFaultHint,
): GmRet {
  core.lastOutcome = "none";
  const ctx = dev.contextFor(mm.as);
  if (ctx === undefined) return GM_RET.FAILURE_UNKNOWN;
  const vma = mm.vmaAt(addr);
  if (vma === undefined) return GM_RET.FAILURE_UNKNOWN;
  if (ctx.mode === GM_MMU_MODE.SHARE) return shareFault(core, mm, vma, addr);
  const obj = mm.vmObject;
  if (!vma.peerShared || obj === undefined) return GM_RET.FAILURE_UNKNOWN;
  const m = obj.lookupOrCreate(addr);
  const state = m.state;
  if (state === GM_PAGE.DEVICE) {
    if (m.dev === dev) return deviceResident(core, mm, m, dev, hint, vma.prot);
    const ret = moveToHost(core, m);
    if (ret !== GM_RET.SUCCESS) return ret;
    return toDevice(core, mm, m, dev, hint, vma.prot);
  }
  if (state === GM_PAGE.CPU) return toDevice(core, mm, m, dev, hint, vma.prot);
  return populate(core, mm, m, dev, hint, vma.prot);
}

/** NOMAP -> DEVICE: a zeroed device page. */
function populate(
  core: GmemCore,
  mm: GmProcess,
  m: GmMapping,
  dev: GmDev,
  hint: GmFaultHint,
  prot: Prot,
): GmRet {
  const page = allocDevicePage(core, dev);
  if (page === undefined) return GM_RET.NOMEM;
  const g = core.policy.granularity;
  const ret = dev.mmu.peerMap(gmFault(mm, dev, m.va, g, cpuProt(prot), false, 0, hint, page));
  if (ret !== GM_RET.SUCCESS) {
    page.hnode.release(page);
    return ret;
  }
  bindDevicePage(core, mm, m, dev, page);
  core.lastOutcome = "populated";
  return GM_RET.SUCCESS;
}

/** CPU -> DEVICE: unmap from the CPU, peer_map with copy, free the host page. */
function toDevice(
  core: GmemCore,
  mm: GmProcess,
  m: GmMapping,
  dev: GmDev,
  hint: GmFaultHint,
  prot: Prot,
): GmRet {
  const host = m.host!;
  const page = allocDevicePage(core, dev);
  if (page === undefined) return GM_RET.NOMEM;
  const g = core.policy.granularity;
  mm.mm.unmap(m.va, g);
  const ret = dev.mmu.peerMap(gmFault(mm, dev, m.va, g, cpuProt(prot), true, host.pa, hint, page));
  if (ret !== GM_RET.SUCCESS) {
    // The data is still in the host page: map it again (the RFC sets NOMAP and loses it).
    page.hnode.release(page);
    mm.mm.map(m.va, host.pa, g, cpuProt(prot));
    return ret;
  }
  core.freeHostPage(host, false);
  m.host = undefined;
  bindDevicePage(core, mm, m, dev, page);
  core.noteMigration(g, HOST, dev.name);
  core.lastOutcome = "migrated";
  return GM_RET.SUCCESS;
}

/** DEVICE on `dev`: peer_map again (MARK_HOT: a touch; an eviction in flight: MIGRATING). */
function deviceResident(
  core: GmemCore,
  mm: GmProcess,
  m: GmMapping,
  dev: GmDev,
  hint: GmFaultHint,
  prot: Prot,
): GmRet {
  const page = m.page!;
  const g = core.policy.granularity;
  const ret = dev.mmu.peerMap(gmFault(mm, dev, m.va, g, cpuProt(prot), false, 0, hint, page));
  if (ret === GM_RET.MIGRATING) {
    // The page is being evicted: WILLNEED stops the eviction; the fault succeeds.
    m.flags |= GM_PAGE.WILLNEED;
    core.detail.migratingAnswers++;
    core.lastOutcome = "migrating";
    return GM_RET.SUCCESS;
  }
  if (ret !== GM_RET.SUCCESS) return ret;
  if (hint === GM_FAULT_HINT.MARK_HOT) page.hnode.touch(page);
  core.lastOutcome = "touched";
  return GM_RET.SUCCESS;
}

/** A device page now backs `m`: state DEVICE, on the active list's tail, labelled. */
function bindDevicePage(
  core: GmemCore,
  mm: GmProcess,
  m: GmMapping,
  dev: GmDev,
  page: GmPage,
): void {
  m.setState(GM_PAGE.DEVICE);
  m.flags &= ~GM_PAGE.WILLNEED; // consumed: the page arrives at the tail
  m.dev = dev;
  m.page = page;
  page.mapping = m;
  page.mm = mm;
  page.hnode.addActive(page);
  core.labelDevicePage(page, mm.as?.name ?? mm.name);
}

/**
 * DEVICE -> CPU with the data (a host fault, a detach, a block wanted by another device, an
 * eviction's second half): a host page, peer_unmap with copy, the device page freed, the CPU
 * maps the host page. NOMEM when host memory is exhausted; the driver's error otherwise.
 */
export function moveToHost(core: GmemCore, m: GmMapping): GmRet {
  if (m.pieces !== undefined) return core.hooks!.moveToHost(m);
  const page = m.page!;
  const dev = m.dev!;
  const mm = page.mm!;
  const g = core.policy.granularity;
  let host;
  try {
    host = core.allocHostPage();
  } catch {
    return GM_RET.NOMEM;
  }
  const prot = protAt(mm, m.va);
  const ret = dev.mmu.peerUnmap(
    gmFault(mm, dev, m.va, g, cpuProt(prot), true, host.pa, GM_FAULT_HINT.NONE, page),
  );
  if (ret !== GM_RET.SUCCESS) {
    core.freeHostPage(host, false);
    return ret;
  }
  core.releaseDevicePage(page);
  m.page = undefined;
  m.dev = undefined;
  m.host = host;
  m.setState(GM_PAGE.CPU);
  mm.mm.map(m.va, host.pa, g, cpuProt(prot));
  core.noteMigration(g, dev.name, HOST);
  return GM_RET.SUCCESS;
}

/** gm_host_fault_locked: a CPU fault on the DEVICE block holding `addr` brings it home. */
export function gmHostFaultLocked(core: GmemCore, mm: GmProcess, addr: number): GmRet {
  const m = mm.vmObject?.lookup(addr);
  if (m === undefined || m.state !== GM_PAGE.DEVICE) return GM_RET.FAILURE_UNKNOWN;
  const page = m.page!;
  // An eviction in flight ends now (it was bringing the page home anyway).
  if (page.evicting) return finishEvict(core, page, true) ? GM_RET.SUCCESS : GM_RET.NOMEM;
  return moveToHost(core, m);
}

/**
 * The CPU's fault handler for process `mm` (the core MM hooks): a translation fault in a
 * peer-shared area populates a zeroed host page (NOMAP), maps a host-resident block, or brings
 * a device-resident block home (a host fault; SIGBUS for a pinned one); in another area it
 * pages in 4 KiB of anonymous memory. Faults outside every area, and permission faults, are
 * not the core's (the access fails).
 */
export function cpuFault(core: GmemCore, mm: GmProcess, fault: Fault): FaultResolution {
  if (fault.kind !== "translation") return "terminate";
  const va = fault.va;
  const vma = mm.vmaAt(va);
  if (vma === undefined) return "terminate";
  if (!vma.peerShared) {
    anonFault(core, mm, va, vma);
    core.detail.cpuMinorFaults++;
    return "retry";
  }
  const m = mm.vmObject!.lookupOrCreate(va);
  const state = m.state;
  if (state === GM_PAGE.DEVICE) {
    core.stats.hostFaults++;
    if (m.pinned) {
      core.detail.sigbus++;
      fail(
        "EFAULT",
        `SIGBUS: ${mm.cpu.name} ${fault.access.kind} at ${hex(va)} (process ${mm.name}): the page ${hexRange(m.va, core.policy.granularity)} is pinned on ${m.dev?.name ?? "a device"}`,
      );
    }
    const ret = gmHostFaultLocked(core, mm, va);
    if (ret !== GM_RET.SUCCESS)
      fail(
        ret === GM_RET.NOMEM ? "ENOMEM" : "EFAULT",
        `SIGBUS: ${mm.cpu.name} ${fault.access.kind} at ${hex(va)}: bringing the page home from ${m.dev?.name ?? "its device"} failed (${gmRetName(ret)})`,
      );
    return "retry";
  }
  if (state === GM_PAGE.CPU) {
    // Host-resident but not mapped on the CPU: map it (a minor fault).
    if (mm.mm.translate(m.va) === undefined)
      mm.mm.map(m.va, m.host!.pa, core.policy.granularity, cpuProt(vma.prot));
    core.detail.cpuMinorFaults++;
    return "retry";
  }
  populateHost(core, mm, m, vma);
  core.stats.cpuFirstTouches++;
  return "retry";
}

/** NOMAP -> CPU: a zeroed host page, mapped on the CPU. */
function populateHost(core: GmemCore, mm: GmProcess, m: GmMapping, vma: Vma): void {
  const host = allocHost(core, mm, m.va);
  m.host = host;
  m.setState(GM_PAGE.CPU);
  mm.mm.map(m.va, host.pa, core.policy.granularity, cpuProt(vma.prot));
}

function allocHost(core: GmemCore, mm: GmProcess, va: number) {
  try {
    return core.allocHostPage();
  } catch (e) {
    return fail(
      "ENOMEM",
      `${mm.name}: no host memory for the page at ${hex(va)} (${e instanceof Error ? e.message : String(e)})`,
    );
  }
}

/** A 4 KiB page of anonymous memory (an area that is not peer-shared). */
function anonFault(core: GmemCore, mm: GmProcess, va: number, vma: Vma): void {
  const at = va - (va % PAGE);
  if (mm.anonPages.has(at)) return;
  let alloc;
  try {
    alloc = core.hostTarget.alloc(PAGE);
  } catch (e) {
    fail("ENOMEM", `${mm.name}: no host memory for ${hex(at)} (${(e as Error).message})`);
  }
  mm.anonPages.set(at, alloc);
  mm.mm.map(at, alloc.chunks[0]!.pa, PAGE, cpuProt(vma.prot));
}

/** A SHARE-mode device's fault: the CPU's page is populated (or brought home); no migration. */
function shareFault(core: GmemCore, mm: GmProcess, vma: Vma, addr: number): GmRet {
  core.lastOutcome = "shared";
  if (!vma.peerShared) {
    anonFault(core, mm, addr, vma);
    return GM_RET.SUCCESS;
  }
  const m = mm.vmObject!.lookupOrCreate(addr);
  const state = m.state;
  if (state === GM_PAGE.DEVICE) {
    if (m.pinned) return GM_RET.FAILURE_UNKNOWN;
    return m.page!.evicting
      ? finishEvict(core, m.page!, true)
        ? GM_RET.SUCCESS
        : GM_RET.NOMEM
      : moveToHost(core, m);
  }
  if (state === GM_PAGE.CPU) {
    if (mm.mm.translate(m.va) === undefined)
      mm.mm.map(m.va, m.host!.pa, core.policy.granularity, cpuProt(vma.prot));
    return GM_RET.SUCCESS;
  }
  try {
    populateHost(core, mm, m, vma);
  } catch {
    return GM_RET.NOMEM;
  }
  core.stats.cpuFirstTouches++;
  return GM_RET.SUCCESS;
}

/**
 * Eager free of one block (munmap, DONTNEED): CPU -> unmapped from the CPU, the host page
 * freed; DEVICE -> peer_unmap without copy, the device page freed; NOMAP afterwards, with no
 * WILLNEED or PINNED.
 */
export function freeBlock(core: GmemCore, mm: GmProcess, m: GmMapping): void {
  if (m.pieces !== undefined) return core.hooks!.freeBlock(mm, m);
  const g = core.policy.granularity;
  const state = m.state;
  if (state === GM_PAGE.CPU) {
    mm.mm.unmap(m.va, g);
    core.freeHostPage(m.host!, true);
    m.host = undefined;
  } else if (state === GM_PAGE.DEVICE) {
    const page = m.page!;
    const dev = m.dev!;
    const ret = dev.mmu.peerUnmap(
      gmFault(mm, dev, m.va, g, cpuProt(protAt(mm, m.va)), false, 0, GM_FAULT_HINT.NONE, page),
    );
    if (ret !== GM_RET.SUCCESS)
      fail(
        "EFAULT",
        `${mm.name}: ${dev.name}: peer_unmap of ${hex(m.va)} answered ${gmRetName(ret)}`,
      );
    core.releaseDevicePage(page);
    m.page = undefined;
    m.dev = undefined;
  }
  m.flags = GM_PAGE.NOMAP;
}

/** mprotect of one block: the CPU's mapping, or the device's (pmap_protect + tlb_invl). */
export function protectBlock(core: GmemCore, mm: GmProcess, m: GmMapping, prot: Prot): void {
  if (m.pieces !== undefined) return core.hooks!.protectBlock(mm, m, prot);
  const g = core.policy.granularity;
  const state = m.state;
  if (state === GM_PAGE.CPU) {
    if (mm.mm.translate(m.va) !== undefined) mm.mm.protect(m.va, g, cpuProt(prot));
  } else if (state === GM_PAGE.DEVICE && !m.page!.evicting) {
    const dev = m.dev!;
    const ctx = dev.contextFor(mm.as)!;
    const ret = dev.mmu.pmapProtect(ctx.pmap, m.va, g, cpuProt(prot));
    if (ret !== GM_RET.SUCCESS)
      fail(
        "EFAULT",
        `${mm.name}: ${dev.name}: pmap_protect of ${hex(m.va)} answered ${gmRetName(ret)}`,
      );
    dev.mmu.tlbInvl(ctx.pmap, m.va, g);
  }
}
