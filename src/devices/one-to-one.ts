/**
 * A one-to-one device: a bus master without translation, whose addresses are physical (the
 * VCMM's one-to-one VCMs: "device address = physical address, nothing mapped" — a device with no
 * IOMMU in front of it, or one in bypass). It reaches only a physical window
 * `[base, base+size)`: the range its bus can address, or the carve-out it was given.
 *
 * Decision: an access outside the window is refused as a fault, not a bare error, so it takes
 * the path every other failed access takes: a {@link Fault} of kind "translation" at stage 1
 * level 0 (the nearest architectural name for "no translation exists for this address"),
 * context = the device's name, delivered to the fault handlers (a handler may move the window
 * with {@link OneToOneDevice.setWindow} and answer retry), a `device.fault` event, and in the
 * end an {@link AccessFaultError} (EFAULT) whose message names the window. Inside the window
 * every access is allowed (no permissions without a translation); physical holes are bus
 * errors from the platform.
 *
 * @example
 * const dma = new OneToOneDevice(platform, { name: "dma0", base: 0x8000_0000, size: 1 << 28 });
 * dma.write(0x8000_1000, bytes); // physical
 */
import { hexRange } from "../base/address.js";
import { fail } from "../base/errors.js";
import type { Fault } from "../mmu/regime.js";
import type { Access } from "../mmu/prot.js";
import { PERM } from "../mmu/prot.js";
import type { ChunkOut } from "./bus-master.js";
import { BusMaster } from "./bus-master.js";
import type { Platform } from "./platform.js";
import type { DeviceCapabilities } from "./registry.js";

export interface OneToOneOptions {
  name: string;
  /** The physical window the device reaches. */
  base: number;
  size: number;
}

/** Every permission, as an untranslated access has. */
const PERM_ALL = 0xff & ~PERM.GLOBAL;

export class OneToOneDevice extends BusMaster<"phys"> {
  readonly kind = "one-to-one";
  private windowBase = 0;
  private windowSize = 0;

  constructor(platform: Platform, options: OneToOneOptions) {
    super(platform, options.name);
    this.setWindow(options.base, options.size);
    this.register();
  }

  get base(): number {
    return this.windowBase;
  }

  get size(): number {
    return this.windowSize;
  }

  /** Move or resize the window (EINVAL unless a non-empty range below 2^53). */
  setWindow(base: number, size: number): void {
    if (!Number.isSafeInteger(base) || base < 0 || !Number.isSafeInteger(size) || size <= 0)
      fail("EINVAL", `${this.name}: window ${String(base)}+${String(size)} is not a range`);
    if (!Number.isSafeInteger(base + size))
      fail("ERANGE", `${this.name}: window ${hexRange(base, size)} ends beyond 2^53`);
    this.windowBase = base;
    this.windowSize = size;
  }

  get defaultPrivileged(): boolean {
    return false;
  }

  capabilities(): DeviceCapabilities {
    return {
      masters: [this],
      regimes: [],
      tlbs: [],
      windows: [{ base: this.windowBase, size: this.windowSize, master: this }],
    };
  }

  protected translateChunk(va: number, access: Access, out: ChunkOut): Fault | undefined {
    const end = this.windowBase + this.windowSize;
    if (va < this.windowBase || va >= end)
      return {
        kind: "translation",
        stage: 1,
        level: 0,
        va,
        ipa: undefined,
        access: { ...access },
        context: this.name,
        onTableWalk: false,
      };
    out.pa = va;
    out.avail = end - va;
    out.size = this.windowSize;
    out.perm = PERM_ALL;
    out.tlb = "none";
    return undefined;
  }

  protected override faultNote(_fault: Fault): string {
    return ` (outside the physical window ${hexRange(this.windowBase, this.windowSize)})`;
  }
}
