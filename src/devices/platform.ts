/**
 * The platform: one object that holds a machine's memory — the physical memory map, the memory
 * targets, the byte store — and the event bus and the seeded randomness everything else uses.
 * It is built from a declarative {@link PlatformDescription}, the `machine` section of a
 * scenario. Later layers hang their devices and systems off it.
 *
 * Physical accesses through the platform check the memory map:
 * - RAM and device-local regions read and write the byte store;
 * - an IO region calls the register hook attached to it ({@link Platform.attachIoHandler});
 *   with none attached the access is a bus error;
 * - a hole, or an access that runs out of its region, is a bus error.
 * A bus error is an EFAULT naming the address: the model's equivalent of an external abort.
 *
 * Building is atomic: an invalid description throws and no platform exists.
 *
 * The platform also keeps the machine's device registry ({@link DeviceRegistry}): bus masters
 * and SMMUs register under unique names when they are built.
 *
 * @example
 * const p = new Platform({
 *   regions: [{ name: "dram", base: 0x8000_0000, size: 1 << 30, kind: "ram" }],
 *   targets: [{ name: "system", ranges: [{ region: "dram" }], allocator: { kind: "buddy" } }],
 * });
 * const a = p.target("system").alloc(64 << 10);
 * p.write(a.chunks[0]!.pa, new Uint8Array([1, 2, 3]));
 */
import type { PhysArg } from "../base/address.js";
import { hex, hexRange } from "../base/address.js";
import { fail } from "../base/errors.js";
import { EventBus } from "../base/events.js";
import { Rng } from "../base/rng.js";
import type { ByteArg } from "../base/validate.js";
import {
  allocBytes,
  checkAddress,
  checkArray,
  checkBuffer,
  checkBytes,
  checkFunction,
  checkInteger,
  checkLength,
  checkName,
  checkObject,
} from "../base/validate.js";
import { ByteStore } from "../phys/byte-store.js";
import type { Region, RegionSpec } from "../phys/memory-map.js";
import { MemoryMap } from "../phys/memory-map.js";
import type { AllocOptions, PhysAllocation, TargetSpec } from "../phys/target.js";
import { MemoryTarget } from "../phys/target.js";
import type { Device } from "./registry.js";
import { OwnerRegistry } from "./graph/owners.js";
import { ReverseIndexes } from "./graph/reverse-index.js";
import { DeviceRegistry } from "./registry.js";

declare module "../base/events.js" {
  interface EventMap {
    "phys.write": { pa: number; size: number; region: string };
    "phys.io": { region: string; offset: number; size: number; access: "read" | "write" };
  }
}

export interface PlatformDescription {
  regions: RegionSpec[];
  targets?: TargetSpec[];
  /** Seed of the platform's random number generator (default 0). */
  seed?: number;
}

/**
 * A register hook for an IO region: it sees region-relative offsets and the bytes of the access.
 */
export interface IoHandler {
  read(offset: number, out: Uint8Array): void;
  write(offset: number, data: Uint8Array): void;
}

export class Platform {
  readonly map = new MemoryMap();
  readonly store = new ByteStore();
  readonly bus = new EventBus();
  readonly rng: Rng;
  /** The devices of the machine, by name. */
  readonly registry = new DeviceRegistry();
  /** What the systems built, labelled so that every path to memory names it (the graph's). */
  readonly owners = new OwnerRegistry();
  /** The platform graph's reverse indexes of the page tables it was asked about. */
  readonly indexes = new ReverseIndexes();
  private readonly targetsByName = new Map<string, MemoryTarget>();
  private readonly io = new Map<string, IoHandler>();
  private allocationIds = 1;

  /**
   * Build the machine. EINVAL for a description that is not one (no object, `regions` not an
   * array, a seed that is not a safe integer, an unknown key); then each region and target as
   * {@link addRegion} and {@link addTarget} check them.
   */
  constructor(description: PlatformDescription) {
    const fn = "new Platform";
    checkObject(fn, "description", description, ["regions", "targets", "seed"]);
    const regions = checkArray(fn, "regions", description.regions);
    const targets =
      description.targets === undefined ? [] : checkArray(fn, "targets", description.targets);
    const seed = description.seed === undefined ? 0 : checkInteger(fn, "seed", description.seed);
    this.rng = new Rng(seed);
    for (const r of regions) this.addRegion(r);
    for (const t of targets) this.addTarget(t);
  }

  /** Add a region to the memory map; see {@link MemoryMap.add} for what is refused. */
  addRegion(spec: RegionSpec): Region {
    return this.map.add(spec);
  }

  /** Add a memory target; its ranges may not overlap another target's (EEXIST). */
  addTarget(spec: TargetSpec): MemoryTarget {
    checkObject("addTarget", "spec", spec);
    checkName("addTarget", "name", spec.name);
    if (this.targetsByName.has(spec.name))
      fail("EEXIST", `target "${spec.name}" already exists`, "name");
    const target = new MemoryTarget(spec, this.map, this.bus, () => this.allocationIds++);
    target.ranges.forEach((r) => {
      for (const other of this.targetsByName.values())
        for (const o of other.ranges)
          if (r.base < o.base + o.size && o.base < r.base + r.size)
            fail(
              "EEXIST",
              `target "${spec.name}" range ${hexRange(r.base, r.size)} overlaps target "${other.name}" ${hexRange(o.base, o.size)}`,
              "ranges",
            );
    });
    this.targetsByName.set(spec.name, target);
    return target;
  }

  /** The target named `name`, or ENOENT. */
  target(name: string): MemoryTarget {
    checkName("target", "name", name);
    return (
      this.targetsByName.get(name) ??
      fail(
        "ENOENT",
        `no memory target named "${name}" (have: ${[...this.targetsByName.keys()].join(", ") || "none"})`,
      )
    );
  }

  targets(): MemoryTarget[] {
    return [...this.targetsByName.values()];
  }

  /** Allocate from a target; see {@link MemoryTarget.alloc}. */
  alloc(target: string, size: number, options?: AllocOptions): PhysAllocation {
    checkName("alloc", "target", target);
    return this.target(target).alloc(size, options);
  }

  /** The live allocation with this id, in any target, or EINVAL. */
  allocation(id: number): PhysAllocation {
    checkInteger("allocation", "id", id);
    for (const t of this.targetsByName.values()) if (t.has(id)) return t.lookup(id);
    return fail("EINVAL", `allocation #${id} is unknown or already freed`);
  }

  /** Free an allocation in whichever target holds it. */
  free(which: PhysAllocation | number): void {
    if (typeof which !== "number") checkObject("free", "which", which);
    const allocation = typeof which === "number" ? this.allocation(which) : which;
    checkName("free", "which.target", allocation.target);
    this.target(allocation.target).free(allocation);
  }

  /** Register a device under its name (EEXIST if taken); returns it. */
  addDevice<D extends Device>(device: D): D {
    return this.registry.add(device);
  }

  /** The device named `name` (ENOENT); with `type`, it must be one (EINVAL otherwise). */
  device<D extends Device = Device>(name: string, type?: abstract new (...args: never[]) => D): D {
    return this.registry.get(name, type);
  }

  /** Every device, in registration order. */
  devices(): Device[] {
    return this.registry.list();
  }

  /** Install the register hook of an IO region (replacing any earlier one). */
  attachIoHandler(region: string, handler: IoHandler): void {
    const fn = "attachIoHandler";
    checkName(fn, "region", region);
    const h = checkObject(fn, "handler", handler) as Record<keyof IoHandler, unknown>;
    checkFunction(fn, "handler.read", h.read);
    checkFunction(fn, "handler.write", h.write);
    const r = this.map.get(region);
    if (r.kind !== "io") fail("EINVAL", `region "${region}" is ${r.kind}, not io`);
    this.io.set(region, handler);
  }

  /** The region that holds `[pa, pa+size)` entirely, or a bus error (EFAULT). */
  regionFor(pa: number, size: number): Region {
    checkAddress("regionFor", "pa", pa);
    checkLength("regionFor", "size", size);
    return this.regionOf(pa, size);
  }

  /** {@link regionFor} of arguments already checked. */
  private regionOf(pa: number, size: number): Region {
    const r = this.map.findRange(pa, size);
    if (r === undefined) {
      const at = this.map.find(pa);
      fail(
        "EFAULT",
        at === undefined
          ? `bus error: physical address ${hex(pa)} is in no region`
          : `bus error: access ${hexRange(pa, size)} runs past the end of region "${at.name}" (${hexRange(at.base, at.size)})`,
      );
    }
    return r;
  }

  /** True if the IO region `region` has a register hook (an access to it is no bus error). */
  hasIoHandler(region: string): boolean {
    checkName("hasIoHandler", "region", region);
    return this.io.has(region);
  }

  private ioHandler(r: Region, pa: number): IoHandler {
    return (
      this.io.get(r.name) ??
      fail("EFAULT", `bus error: IO region "${r.name}" has no register handler for ${hex(pa)}`)
    );
  }

  /** Read `size` bytes of physical memory (or registers). */
  read(pa: PhysArg, size: number): Uint8Array {
    checkAddress("read", "pa", pa);
    checkLength("read", "size", size);
    this.regionOf(pa, size); // a bus error before a buffer of an impossible size
    return this.readAt(pa, allocBytes("read", size));
  }

  /** Read `out.length` bytes at `pa` into `out`; returns `out`. */
  readInto(pa: PhysArg, out: Uint8Array): Uint8Array {
    checkAddress("readInto", "pa", pa);
    checkBuffer("readInto", "out", out);
    return this.readAt(pa, out);
  }

  private readAt(pa: number, out: Uint8Array): Uint8Array {
    const r = this.regionOf(pa, out.length);
    if (r.kind === "io") {
      this.ioHandler(r, pa).read(pa - r.base, out);
      this.bus.emit("phys.io", {
        region: r.name,
        offset: pa - r.base,
        size: out.length,
        access: "read",
      });
      return out;
    }
    return this.store.read(pa, out);
  }

  /**
   * Write bytes to physical memory (or registers): a Uint8Array, or an array of integers 0..255
   * (EINVAL for anything else, and for an item that is no byte).
   */
  write(pa: PhysArg, bytes: ByteArg): void {
    checkAddress("write", "pa", pa);
    const data = checkBytes("write", "data", bytes);
    const r = this.regionOf(pa, data.length);
    if (r.kind === "io") {
      this.ioHandler(r, pa).write(pa - r.base, data);
      this.bus.emit("phys.io", {
        region: r.name,
        offset: pa - r.base,
        size: data.length,
        access: "write",
      });
      return;
    }
    this.store.write(pa, data);
    this.notePhysWrite(pa, data.length, r.name);
  }

  /** Fill memory with a byte value; RAM and device-local only. */
  fill(pa: PhysArg, size: number, value: number): void {
    checkAddress("fill", "pa", pa);
    checkLength("fill", "size", size);
    checkInteger("fill", "value", value, 0, 255);
    const r = this.regionOf(pa, size);
    if (r.kind === "io") fail("EFAULT", `cannot fill IO region "${r.name}" at ${hex(pa)}`);
    this.store.fill(pa, size, value);
    this.notePhysWrite(pa, size, r.name);
  }

  /**
   * The channel of `phys.write`, for the access path, which writes the store directly when
   * nobody wants the event.
   */
  readonly physWrites = this.bus.channel("phys.write");

  private notePhysWrite(pa: number, size: number, region: string): void {
    const ch = this.physWrites;
    if (ch.interest > 0) ch.emit({ pa, size, region });
    else ch.skip();
  }

  /** Copy memory to memory (memmove semantics); RAM and device-local only. */
  copy(dst: PhysArg, src: PhysArg, size: number): void {
    checkAddress("copy", "dst", dst);
    checkAddress("copy", "src", src);
    checkLength("copy", "size", size);
    const s = this.regionOf(src, size);
    const d = this.regionOf(dst, size);
    if (s.kind === "io" || d.kind === "io")
      fail("EFAULT", `cannot copy to or from IO region "${s.kind === "io" ? s.name : d.name}"`);
    this.store.copy(dst, src, size);
    this.notePhysWrite(dst, size, d.name);
  }
}
