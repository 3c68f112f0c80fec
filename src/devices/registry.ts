/**
 * The platform's devices: what every device says it has ({@link DeviceCapabilities}), and the
 * registry that holds them by unique name.
 *
 * A device describes itself through one interface — the bus masters it is or contains, the
 * translation regimes their accesses go through (with the TLB that caches them and whether the
 * path is live), the TLBs it holds and how to maintain them, and the physical windows it
 * reaches without translation — so the scenario glue, the `tlbi` step, dumps and the platform
 * graph enumerate devices without asking `instanceof`. Names are what events, device-local
 * regions (`RegionSpec.device`) and scenarios refer to, so two devices never share one.
 *
 * Devices register themselves when they are built (see {@link BusMaster}); the registry only
 * keeps the references.
 *
 * @example
 * const cpu = new Cpu(platform, { name: "cpu0" });
 * platform.device("cpu0") === cpu;
 * platform.device("cpu0").capabilities().regimes[0].regime === cpu.mmu;
 */
import { fail } from "../base/errors.js";
import { checkFunction, checkName, checkObject } from "../base/validate.js";
import type { TranslationRegime } from "../mmu/regime.js";
import type { AnyPageTable } from "../mmu/page-table.js";
import type { Tlb } from "../mmu/tlb.js";
import type { BusMaster } from "./bus-master.js";

/** The kinds of device the machine layer builds; systems may add their own. */
export type DeviceKind = "cpu" | "smmu" | "smmu-master" | "one-to-one" | "accelerator";

/** What the registry holds: something with a unique name, a kind and its capabilities. */
export interface Device {
  readonly name: string;
  /** E.g. "cpu", "smmu", "smmu-master", "one-to-one", "accelerator". */
  readonly kind: string;
  /** What it has, now (regimes and windows change as tables are loaded and banks bound). */
  capabilities(): DeviceCapabilities;
}

/** TLB maintenance of one TLB, in the TLBI / SMMU command vocabulary. */
export interface TlbMaintenance {
  /** The TLB. */
  readonly tlb: Tlb;
  /** The device that holds it (an SMMU's masters share their SMMU's). */
  readonly owner: string;
  /** Every entry (TLBI ALLE1, SMMU TLBIALL). */
  all(): void;
}

/** A translation regime of a device, with what reaches memory through it. */
export interface RegimeInfo {
  readonly regime: TranslationRegime;
  /** The bus masters whose accesses it translates. */
  readonly masters: readonly BusMaster[];
  /** True if accesses through it translate now (a CPU's MMU; a bound, active context bank). */
  readonly live: boolean;
  /** The TLB that caches its translations, and that TLB's maintenance. */
  readonly tlb: TlbMaintenance | undefined;
  /** The page tables it walks now, by role (only those built as {@link PageTable}s). */
  readonly tables: {
    readonly ttbr0?: AnyPageTable;
    readonly ttbr1?: AnyPageTable;
    readonly stage2?: AnyPageTable;
  };
  /** An SMMU context bank: its name, number and state. */
  readonly contextBank?: {
    readonly name: string;
    readonly index: number;
    readonly bound: boolean;
    readonly active: boolean;
  };
}

/** A physical range a bus master reaches without translation (a one-to-one device's window). */
export interface PhysWindow {
  readonly base: number;
  readonly size: number;
  readonly master: BusMaster;
}

/** Everything a device says it has. */
export interface DeviceCapabilities {
  /** The bus masters it is (a CPU, a device) or contains (an SMMU's masters). */
  readonly masters: readonly BusMaster[];
  /** The translation regimes of those masters. */
  readonly regimes: readonly RegimeInfo[];
  /** The TLBs it holds itself. */
  readonly tlbs: readonly TlbMaintenance[];
  /** Physical ranges reached without translation. */
  readonly windows: readonly PhysWindow[];
  /** Memory on the device (an accelerator's device-local region and its target). */
  readonly localMemory?: { readonly region: string; readonly target: string };
}

export class DeviceRegistry {
  private readonly byName = new Map<string, Device>();

  /** Register `device`; EINVAL for an empty name, EEXIST if the name is taken. */
  add<D extends Device>(device: D): D {
    checkObject("addDevice", "device", device);
    this.checkFree(device.name);
    this.byName.set(device.name, device);
    return device;
  }

  /** EINVAL for an empty name, EEXIST if a device of that name exists; changes nothing. */
  checkFree(name: string): void {
    if (typeof name !== "string" || name === "") fail("EINVAL", "a device needs a name", "name");
    const other = this.byName.get(name);
    if (other !== undefined)
      fail("EEXIST", `device "${name}" already exists (a ${other.kind})`, "name");
  }

  /**
   * The device named `name` (ENOENT); with `type`, it must be an instance of it (EINVAL).
   */
  get<D extends Device = Device>(name: string, type?: abstract new (...args: never[]) => D): D {
    checkName("device", "name", name);
    if (type !== undefined) checkFunction("device", "type", type);
    const d =
      this.byName.get(name) ??
      fail(
        "ENOENT",
        `no device named "${name}" (have: ${[...this.byName.keys()].join(", ") || "none"})`,
      );
    if (type !== undefined && !(d instanceof type))
      fail("EINVAL", `device "${name}" is a ${d.kind}, not a ${type.name}`);
    return d as D;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** Remove a device from the registry (ENOENT if it is not there). */
  remove(name: string): void {
    checkName("removeDevice", "name", name);
    if (!this.byName.delete(name)) fail("ENOENT", `no device named "${name}"`);
  }

  /** Every device, in registration order. */
  list(): Device[] {
    return [...this.byName.values()];
  }
}
