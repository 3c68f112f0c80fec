/**
 * An association of a VCM with a device (the seed's `struct avcm`): `vcm_assoc`,
 * `vcm_deassoc`, `vcm_activate`, `vcm_deactivate`, `vcm_is_active`, `vcm_set_assoc_attr`,
 * `vcm_get_assoc_attr`.
 *
 * The device (`dev_id`) is what the VCM's kind drives: an SMMU context instance
 * ({@link SmmuDev}) for a device VCM, a CPU for a prebuilt (kernel or user) VCM, a one-to-one
 * device for a one-to-one VCM.
 *
 * Decisions (v3 `vcm.c` is followed where it has code; the rest is documented here):
 * - activate: EBUSY if already active; for a device VCM, EBUSY if the context instance is
 *   active already (through another VCM: one context runs one VCM at a time) or still holds
 *   another VCM's mappings (they stay until that association is deassociated), ENODEV if the
 *   context instance was freed or has no SMMU, EINVAL if a mapping it makes live would be a
 *   mismatched alias (as for vcm_back). Activation programs the device with the VCM's
 *   mappings: backed reservations the device does not have yet (it was associated after they
 *   were backed, or the VCM is a clone) are mapped into it first — so every backed reservation
 *   translates through every active associated device. For a prebuilt VCM, activation loads the
 *   VCM's table into the CPU (TTBR1 for the kernel, TTBR0 for the user address space: a
 *   context switch) unless it is loaded already; EBUSY while another VCM's association is
 *   active on that TTBR of the CPU (its table would be switched out under it). A one-to-one
 *   device needs nothing programmed.
 * - deactivate: ENOENT if not active (v3). A context instance is deactivated (its SMMU context
 *   faults from then on); a CPU keeps its table (the VMM's mappings are always live).
 * - deassoc: EBUSY while active; a device VCM's mappings are removed from the device, so the
 *   context instance can take another VCM.
 * - set_assoc_attr: EBUSY while active (the header); the attribute is checked as at assoc.
 */
import { fail } from "../base/errors.js";
import { badArgument } from "../base/validate.js";
import type { Disposable } from "../base/lifetime.js";
import { Cpu } from "../devices/cpu.js";
import { OneToOneDevice } from "../devices/one-to-one.js";
import { checkAssocAttr, describeAssocAttr } from "./attrs.js";
import { SmmuDev } from "./smmu/driver.js";
import type { Vcm } from "./vcm.js";

/** What a VCM can be associated with (the seed's opaque `dev_id`). */
export type VcmDevice = SmmuDev | Cpu | OneToOneDevice;

/** The kind of device an association drives. */
/** EINVAL unless `device` is a VCM device (an SMMU context instance, a CPU, a one-to-one device). */
export function checkVcmDevice(fn: string, device: unknown): asserts device is VcmDevice {
  if (!(device instanceof SmmuDev || device instanceof Cpu || device instanceof OneToOneDevice))
    badArgument(fn, "device", "be an SMMU context instance, a Cpu or a OneToOneDevice", device);
}

export function deviceKind(d: VcmDevice): "smmu" | "cpu" | "one-to-one" {
  return d instanceof SmmuDev ? "smmu" : d instanceof Cpu ? "cpu" : "one-to-one";
}

export class Association {
  /** @internal `avcm->is_active`. */
  active_ = false;
  /** @internal A device VCM's backed reservations are mapped into the device. */
  programmed = false;
  /** @internal The owner label on the device. */
  label: Disposable | undefined;
  private gone = false;

  /** Made by {@link Vcm.assoc}. */
  constructor(
    readonly vcm: Vcm,
    readonly name: string,
    readonly device: VcmDevice,
    /** @internal `avcm->attr`. */
    public attr_: number,
  ) {}

  get valid(): boolean {
    return !this.gone;
  }

  /** @internal EINVAL once deassociated. */
  check(what: string): void {
    if (this.gone) fail("EINVAL", `${what}: association ${this.name} was deassociated`);
  }

  /** @internal Mark deassociated. */
  retire(): void {
    this.gone = true;
  }

  /** `vcm_is_active`. */
  isActive(): boolean {
    this.check("vcm_is_active");
    return this.active_;
  }

  /** `vcm_get_assoc_attr`. */
  getAttr(): number {
    this.check("vcm_get_assoc_attr");
    return this.attr_;
  }

  /** `vcm_set_assoc_attr`: EBUSY while active; EINVAL for a bad attribute. */
  setAttr(attr: number): void {
    this.check("vcm_set_assoc_attr");
    if (this.active_) fail("EBUSY", `vcm_set_assoc_attr: ${this.name} is active`);
    checkAssocAttr(attr, `vcm_set_assoc_attr: ${this.name}`);
    this.vcm.checkAssocFor(this.device, attr, "vcm_set_assoc_attr");
    this.attr_ = attr;
  }

  /** `vcm_activate` (see the decisions above). */
  activate(): void {
    this.check("vcm_activate");
    this.vcm.manager.activate(this);
  }

  /** `vcm_deactivate`: ENOENT if not active. */
  deactivate(): void {
    this.check("vcm_deactivate");
    this.vcm.manager.deactivate(this);
  }

  /** `vcm_deassoc`: EBUSY while active. */
  deassoc(): void {
    this.check("vcm_deassoc");
    this.vcm.manager.deassoc(this);
  }

  describe(): string {
    return `${this.name}: ${this.vcm.name} -> ${this.device.name} (${deviceKind(this.device)}) ${describeAssocAttr(this.attr_)}${this.active_ ? " active" : ""}`;
  }
}
