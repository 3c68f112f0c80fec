/**
 * A virtual machine as the hypervisor keeps it: its VMID, its lifecycle state (the RM's
 * `vm_state`), its IPA space — a stage-2 table in the translation layer's AArch64 stage-2
 * format — and its vCPUs, bus masters whose accesses go through that stage 2 (the guest's own
 * MMU is off: every address is an IPA) and fault when a page is unmapped or not permitted.
 *
 * Decisions: a VM's vCPUs exist while the VM exists (made at VM_ALLOCATE, removed at
 * VM_DEALLOCATE); the RM's own accepts at VM_START map the VM's memory, so before it a vCPU
 * faults everywhere. RM-chosen IPAs (MEM_ACCEPT with no SGL) come from {@link IpaSpace}'s window.
 */
import type { Disposable } from "../../base/lifetime.js";
import { Cpu } from "../../devices/cpu.js";
import type { Platform } from "../../devices/platform.js";
import { createLpaeFormat } from "../../mmu/lpae.js";
import { PageTable } from "../../mmu/page-table.js";
import type { TableMemory } from "../../mmu/table-memory.js";
import { IpaSpace } from "./ipa-space.js";

/** The RM's VM states (`vm_state`). */
export const VM_STATE = {
  NO_STATE: 0,
  INIT: 1,
  READY: 2,
  RUNNING: 3,
  PAUSED: 4,
  LOAD: 5,
  AUTH: 6,
  INIT_FAILED: 8,
  EXITED: 9,
  RESETTING: 10,
  RESET: 11,
} as const;
export type VmState = (typeof VM_STATE)[keyof typeof VM_STATE];

/** The state's name, for messages. */
export function vmStateName(s: number): string {
  return Object.entries(VM_STATE).find(([, v]) => v === s)?.[0] ?? `state ${s}`;
}

/** VMIDs (the reference §2). */
export const VMID_HLOS = 3;
export const VMID_RM = 0xff;
export const VMID_DYNAMIC_FIRST = 0x80;
export const VMID_DYNAMIC_LAST = 0xbe;

/** The IPA space: addresses below 2^44 (the RM's check); the stage-2 format covers it. */
export const IPA_BITS = 44;
export const STAGE2_FORMAT = createLpaeFormat({ stage: 2, granule: 4096, ias: IPA_BITS, oas: 48 });

/** What VM_CONFIG_IMAGE recorded. */
export interface ImageConfig {
  readonly auth: number;
  readonly handle: number;
  readonly imageOffset: number;
  readonly imageSize: number;
  readonly dtbOffset: number;
  readonly dtbSize: number;
}

export class GunyahVm {
  readonly stage2: PageTable;
  readonly vcpus: Cpu[] = [];
  /** Which IPA ranges are taken (its RAM, accepted parcels, the image). */
  readonly ipaSpace = new IpaSpace();
  state: VmState;
  osStatus = 0;
  appStatus = 0;
  image: ImageConfig | undefined;
  firmware: { handle: number; offset: number; size: number } | undefined;
  /** Its platform-graph label (the paths through its stage 2 name it). */
  private readonly label: Disposable;
  /** The reason of the last stop, and how it exited. */
  stopReason = 0;

  constructor(
    platform: Platform,
    tables: TableMemory,
    /** The VMID. */
    readonly vmid: number,
    /** Its name (`hlos`, `vm128`). */
    readonly name: string,
    /** The VM that allocated it (the host), or undefined for the host itself. */
    readonly owner: number | undefined,
    state: VmState,
    vcpus: number,
    /** Where the image parcel is accepted at VM_START (the guest's memory base). */
    public memBase: number,
  ) {
    this.state = state;
    this.stage2 = new PageTable(STAGE2_FORMAT, tables, { name: `${name}.s2`, bus: platform.bus });
    this.label = platform.owners.label(
      { system: "gunyah", kind: "VM", name },
      { table: this.stage2 },
    );
    for (let i = 0; i < vcpus; i++)
      this.vcpus.push(
        new Cpu(platform, { name: `${name}.vcpu${i}`, stage2: this.stage2, vmid: vmid, asid: 0 }),
      );
  }

  /** Remove the vCPUs from the platform and free the stage-2 table. */
  destroy(platform: Platform): void {
    for (const c of this.vcpus) platform.registry.remove(c.name);
    this.label.dispose();
    this.vcpus.length = 0;
    this.stage2.destroy();
  }
}
