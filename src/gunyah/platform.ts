/**
 * The built-in Gunyah machine: what `memweave rm serve` runs without a scenario, and what the
 * tests start from.
 *
 * - `hyp` RAM at 0x4000_0000, 64 MiB: the hypervisor's own memory, where every VM's stage-2
 *   tables live (target `hyp-tables`, a buddy allocator). No VM owns it.
 * - `dram` RAM at 0x8000_0000, 1 GiB (`hostRamSize`): the host's (HLOS, VMID 3) RAM, mapped one
 *   to one in its stage 2, so the host's IPA 0x8000_0000 is physical 0x8000_0000.
 * - `mmio` device memory at 0x1000_0000, 1 MiB: a device the host maps (IO parcels).
 *
 * @example
 * const { platform, hyp, rm } = createGunyahMachine();
 */
import { Platform } from "../devices/platform.js";
import { Hypervisor } from "./hyp/hypervisor.js";
import type { ResourceManagerOptions } from "./rm/rm.js";
import { ResourceManager } from "./rm/rm.js";

export const HYP_BASE = 0x4000_0000;
export const HYP_SIZE = 64 * 1024 * 1024;
export const HOST_RAM_BASE = 0x8000_0000;
export const HOST_RAM_SIZE = 1024 * 1024 * 1024;
export const HOST_MMIO_BASE = 0x1000_0000;
export const HOST_MMIO_SIZE = 1024 * 1024;

export interface GunyahMachineOptions extends ResourceManagerOptions {
  /** The host's RAM (default 1 GiB). */
  readonly hostRamSize?: number;
}

/** A platform, its hypervisor and resource manager, as described above. */
export function createGunyahMachine(options: GunyahMachineOptions = {}): {
  platform: Platform;
  hyp: Hypervisor;
  rm: ResourceManager;
} {
  const ramSize = options.hostRamSize ?? HOST_RAM_SIZE;
  const platform = new Platform({
    regions: [
      { name: "mmio", base: HOST_MMIO_BASE, size: HOST_MMIO_SIZE, kind: "io" },
      { name: "hyp", base: HYP_BASE, size: HYP_SIZE, kind: "ram" },
      { name: "dram", base: HOST_RAM_BASE, size: ramSize, kind: "ram" },
    ],
    targets: [
      {
        name: "hyp-tables",
        ranges: [{ region: "hyp", size: HYP_SIZE }],
        allocator: { kind: "buddy" },
      },
    ],
  });
  const hyp = new Hypervisor(platform, {
    tables: "hyp-tables",
    hostRam: [{ pa: HOST_RAM_BASE, size: ramSize }],
    hostIo: [{ pa: HOST_MMIO_BASE, size: HOST_MMIO_SIZE }],
  });
  return { platform, hyp, rm: new ResourceManager(hyp, options) };
}
