/**
 * The hypervisor beneath the resource manager: the VMs and their stage-2 tables, and who owns
 * each physical page. The host (HLOS, VMID 3) runs under a stage 2 of its own, mapping its RAM
 * — given by the platform description — one to one by default.
 *
 * The RM (rm/) changes stage 2 only through this class's methods, so every change goes through
 * the page tables' transactions (TLBs stay coherent, the graph's indexes follow).
 *
 * @example
 * const hyp = new Hypervisor(platform, { tables: "pgtables", hostRam: [{ pa: 0x8000_0000, size: 1 << 30 }] });
 * hyp.host.vcpus[0]!.read(0x8000_0000, 16); // the host's RAM, through its stage 2
 */
import { hex, hexRange } from "../../base/address.js";
import { fail } from "../../base/errors.js";
import type { Platform } from "../../devices/platform.js";
import { PROT } from "../../mmu/prot.js";
import { PhysTableMemory } from "../../mmu/table-memory.js";
import { PhysOwnership } from "./ownership.js";
import type { VmState } from "./vm.js";
import { GunyahVm, VM_STATE, VMID_HLOS } from "./vm.js";

export interface HypervisorOptions {
  /** The memory target stage-2 tables are allocated from. */
  readonly tables: string;
  /** The host's RAM: physical ranges, at IPA `ipa` (default: the same address). */
  readonly hostRam: ReadonlyArray<{
    readonly pa: number;
    readonly size: number;
    readonly ipa?: number;
  }>;
  /** Device memory the host maps (IO parcels lend or share it), at IPA = PA by default. */
  readonly hostIo?: ReadonlyArray<{
    readonly pa: number;
    readonly size: number;
    readonly ipa?: number;
  }>;
  /** The host's vCPUs (default 1). */
  readonly hostVcpus?: number;
}

/** How the hypervisor maps a VM's own memory: read, write, execute, normal cacheable. */
export const OWN_PROT = PROT.READ | PROT.WRITE | PROT.CACHE;
/** How it maps a VM's own device memory: read, write, device, never executable. */
export const OWN_IO_PROT = PROT.READ | PROT.WRITE | PROT.MMIO | PROT.NOEXEC;

/** A run of a VM's IPA space and the physical memory behind it. */
export interface IpaRun {
  readonly ipa: number;
  readonly pa: number;
  readonly size: number;
}

export class Hypervisor {
  readonly tables: PhysTableMemory;
  readonly ownership = new PhysOwnership();
  readonly host: GunyahVm;
  private readonly vms = new Map<number, GunyahVm>();

  constructor(
    readonly platform: Platform,
    options: HypervisorOptions,
  ) {
    this.tables = new PhysTableMemory(platform.store, platform.target(options.tables));
    const ram = options.hostRam;
    if (ram.length === 0) fail("EINVAL", "hypervisor: the host needs RAM");
    for (const r of ram) {
      if (r.pa % 4096 !== 0 || r.size % 4096 !== 0 || r.size <= 0)
        fail("EINVAL", `hypervisor: host RAM ${hexRange(r.pa, r.size)} is not 4 KiB-aligned`);
      if (platform.map.findRange(r.pa, r.size)?.kind !== "ram")
        fail(
          "EINVAL",
          `hypervisor: host RAM ${hexRange(r.pa, r.size)} is not inside one RAM region`,
        );
    }
    this.host = this.addVm(
      VMID_HLOS,
      "hlos",
      undefined,
      VM_STATE.RUNNING,
      options.hostVcpus ?? 1,
      ram[0]!.ipa ?? ram[0]!.pa,
    );
    for (const r of ram) {
      this.ownership.add(r.pa, r.pa + r.size, VMID_HLOS);
      this.host.stage2.map(r.ipa ?? r.pa, r.pa, r.size, OWN_PROT);
      this.host.ipaSpace.alloc(r.ipa ?? r.pa, r.size);
    }
    for (const r of options.hostIo ?? []) {
      if (r.pa % 4096 !== 0 || r.size % 4096 !== 0 || r.size <= 0)
        fail("EINVAL", `hypervisor: host IO ${hexRange(r.pa, r.size)} is not 4 KiB-aligned`);
      const kind = platform.map.findRange(r.pa, r.size)?.kind;
      if (kind === undefined || kind === "ram")
        fail(
          "EINVAL",
          `hypervisor: host IO ${hexRange(r.pa, r.size)} is not inside one device region`,
        );
      this.ownership.add(r.pa, r.pa + r.size, VMID_HLOS);
      this.host.stage2.map(r.ipa ?? r.pa, r.pa, r.size, OWN_IO_PROT);
      this.host.ipaSpace.alloc(r.ipa ?? r.pa, r.size);
    }
  }

  /** A new VM (its stage 2 empty). EINVAL if the VMID is taken. */
  addVm(
    vmid: number,
    name: string,
    owner: number | undefined,
    state: VmState,
    vcpus: number,
    memBase: number,
  ): GunyahVm {
    if (this.vms.has(vmid)) fail("EINVAL", `hypervisor: VMID ${hex(vmid)} exists`);
    const vm = new GunyahVm(this.platform, this.tables, vmid, name, owner, state, vcpus, memBase);
    this.vms.set(vmid, vm);
    return vm;
  }

  /**
   * Give the memory `vm` owns (donated to it) back to VM `to` before `vm` goes: ownership moves
   * to `to`, and the memory is mapped in `to`'s stage 2 at IPA = PA where that range is free
   * (the host's RAM is one to one), else left unmapped (owned, but reachable by no one).
   * Returns the ranges left unmapped.
   */
  returnOwnedMemory(vm: GunyahVm, to: number): Array<{ start: number; end: number }> {
    const heir = this.vms.get(to);
    const unmapped: Array<{ start: number; end: number }> = [];
    for (const span of this.ownership.list()) {
      if (span.owner !== vm.vmid) continue;
      this.unmapPhys(vm, span.start, span.end);
      this.ownership.transfer(span.start, span.end, to);
      const size = span.end - span.start;
      if (heir !== undefined && heir.ipaSpace.alloc(span.start, size) !== undefined) {
        const prot = this.memKind(span.start, size) === "io" ? OWN_IO_PROT : OWN_PROT;
        heir.stage2.map(span.start, span.start, size, prot);
      } else unmapped.push({ start: span.start, end: span.end });
    }
    return unmapped;
  }

  /** Unmap from `vm`'s stage 2 every leaf whose output lies in `[start, end)`. */
  private unmapPhys(vm: GunyahVm, start: number, end: number): void {
    const hits: Array<[number, number]> = [];
    vm.stage2.walk({
      leaf: (l) => {
        if (l.pa < end && start < l.pa + l.size) hits.push([l.va, l.size]);
      },
    });
    for (const [va, size] of hits) vm.stage2.unmap(va, size);
  }

  /** Remove a VM (its stage 2 must be empty of others' memory: the RM releases first). */
  removeVm(vmid: number): void {
    const vm = this.vms.get(vmid);
    if (vm === undefined) return;
    vm.destroy(this.platform);
    this.vms.delete(vmid);
  }

  vm(vmid: number): GunyahVm | undefined {
    return this.vms.get(vmid);
  }

  /** Every VM, by VMID. */
  list(): GunyahVm[] {
    return [...this.vms.values()].sort((a, b) => a.vmid - b.vmid);
  }

  /**
   * The physical runs behind `[ipa, ipa+size)` of `vm`'s stage 2, or undefined if any page of it
   * is not mapped.
   */
  runsOf(vm: GunyahVm, ipa: number, size: number): IpaRun[] | undefined {
    const runs: Array<{ ipa: number; pa: number; size: number }> = [];
    let at = ipa;
    const end = ipa + size;
    let hole = false;
    vm.stage2.walk(
      {
        leaf: (l) => {
          if (hole) return;
          const s = Math.max(l.va, ipa);
          const e = Math.min(l.va + l.size, end);
          if (s !== at) hole = true;
          const pa = l.pa + (s - l.va);
          const last = runs[runs.length - 1];
          if (last !== undefined && last.ipa + last.size === s && last.pa + last.size === pa)
            last.size += e - s;
          else runs.push({ ipa: s, pa, size: e - s });
          at = e;
        },
      },
      ipa,
      end,
    );
    return hole || at !== end ? undefined : runs;
  }

  /** Whether any page of `[ipa, ipa+size)` is mapped in `vm`'s stage 2. */
  anyMapped(vm: GunyahVm, ipa: number, size: number): boolean {
    return vm.stage2.mappedBytes(ipa, ipa + size) > 0;
  }

  /** Map runs into `vm`'s stage 2 at `ipa` on (contiguously), all or nothing. */
  mapRuns(vm: GunyahVm, ipa: number, runs: readonly IpaRun[], prot: number): void {
    let at = ipa;
    const done: Array<[number, number]> = [];
    try {
      for (const r of runs) {
        vm.stage2.map(at, r.pa, r.size, prot);
        done.push([at, r.size]);
        at += r.size;
      }
    } catch (e) {
      for (const [a, s] of done.reverse()) vm.stage2.unmap(a, s);
      throw e;
    }
  }

  /**
   * Unmap `[ipa, ipa+size)` of `vm`'s stage 2 (what is mapped there), all or nothing: if a
   * split cannot get a table (ENOMEM), the pieces already unmapped are mapped back as they were
   * and the error is thrown.
   */
  unmap(vm: GunyahVm, ipa: number, size: number): void {
    // PageTable.unmap stops at the first hole: unmap each mapped stretch of the range (one
    // operation per stretch of consecutive IPAs, each all or nothing by itself).
    const pieces: Array<{ ipa: number; pa: number; size: number; prot: number }> = [];
    const stretches: Array<{ ipa: number; size: number; pieces: number }> = [];
    const end = ipa + size;
    const format = vm.stage2.format;
    vm.stage2.walk(
      {
        leaf: (l) => {
          const s = Math.max(l.va, ipa);
          const n = Math.min(l.va + l.size, end) - s;
          pieces.push({
            ipa: s,
            pa: l.pa + (s - l.va),
            size: n,
            prot: format.protOf(l.levelIndex, l.lo, l.hi),
          });
          const last = stretches[stretches.length - 1];
          if (last !== undefined && last.ipa + last.size === s) {
            last.size += n;
            last.pieces++;
          } else stretches.push({ ipa: s, size: n, pieces: 1 });
        },
      },
      ipa,
      end,
    );
    let undone = 0;
    try {
      for (const st of stretches) {
        vm.stage2.unmap(st.ipa, st.size);
        undone += st.pieces;
      }
    } catch (e) {
      for (const p of pieces.slice(0, undone)) vm.stage2.map(p.ipa, p.pa, p.size, p.prot);
      throw e;
    }
  }

  /** Whether `[pa, pa+size)` is RAM (`"ram"`), device memory (`"io"`), or neither / both. */
  memKind(pa: number, size: number): "ram" | "io" | undefined {
    const kind = this.platform.map.findRange(pa, size)?.kind;
    return kind === undefined ? undefined : kind === "ram" ? "ram" : "io";
  }

  /** Zero physical memory (the RM's sanitize). */
  zero(pa: number, size: number): void {
    this.platform.fill(pa, size, 0);
  }
}
