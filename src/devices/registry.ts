/**
 * The platform's device registry: every device of the machine by its unique name — bus masters
 * (CPUs, SMMU stream masters, one-to-one devices, accelerators) and the SMMUs themselves. Names
 * are what events, device-local regions (`RegionSpec.device`) and scenarios refer to, so two
 * devices never share one.
 *
 * Devices register themselves when they are built (see {@link BusMaster}); the registry only
 * keeps the references.
 *
 * @example
 * const cpu = new Cpu(platform, { name: "cpu0" });
 * platform.device("cpu0") === cpu;
 * platform.device("cpu0", Cpu).setAsid(3); // typed lookup: EINVAL if it is not a Cpu
 */
import { fail } from "../base/errors.js";

/** What the registry holds: something with a unique name and a kind. */
export interface Device {
  readonly name: string;
  /** E.g. "cpu", "smmu", "smmu-master", "one-to-one", "accelerator". */
  readonly kind: string;
}

export class DeviceRegistry {
  private readonly byName = new Map<string, Device>();

  /** Register `device`; EINVAL for an empty name, EEXIST if the name is taken. */
  add<D extends Device>(device: D): D {
    this.checkFree(device.name);
    this.byName.set(device.name, device);
    return device;
  }

  /** EINVAL for an empty name, EEXIST if a device of that name exists; changes nothing. */
  checkFree(name: string): void {
    if (typeof name !== "string" || name === "") fail("EINVAL", "a device needs a name");
    const other = this.byName.get(name);
    if (other !== undefined) fail("EEXIST", `device "${name}" already exists (a ${other.kind})`);
  }

  /**
   * The device named `name` (ENOENT); with `type`, it must be an instance of it (EINVAL).
   */
  get<D extends Device = Device>(name: string, type?: abstract new (...args: never[]) => D): D {
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
    if (!this.byName.delete(name)) fail("ENOENT", `no device named "${name}"`);
  }

  /** Every device, in registration order. */
  list(): Device[] {
    return [...this.byName.values()];
  }
}
