/**
 * The physical memory map: named, non-overlapping regions of the physical address space, each
 * of a kind.
 *
 * - `ram`: system memory, readable and writable, reads as zeros until written.
 * - `device-local`: memory that sits on a device (an accelerator's HBM, say) but is still
 *   addressed physically; it behaves as RAM, and its `device` names the owner, so GMEM can
 *   treat it as a heterogeneous NUMA node.
 * - `io`: device registers. Accesses go to a register hook installed for the region (see
 *   {@link Platform.attachIoHandler}); with no hook, an access is a bus error (EFAULT).
 *
 * Addresses not covered by a region are holes; an access there is also a bus error.
 *
 * @example
 * const map = new MemoryMap();
 * map.add({ name: "dram", base: 0x8000_0000, size: 1 << 30, kind: "ram" });
 * map.find(0x8000_1000)?.name === "dram";
 */
import type { PhysAddr } from "../base/address.js";
import { checkAddress, hex, hexRange } from "../base/address.js";
import { fail, inField } from "../base/errors.js";
import {
  checkAddress as checkAddressArg,
  checkLength,
  checkName,
  checkObject,
  checkOptionalName,
} from "../base/validate.js";
import { STORE_PAGE_SIZE } from "./byte-store.js";

export type RegionKind = "ram" | "io" | "device-local";
export const REGION_KINDS: readonly RegionKind[] = ["ram", "io", "device-local"];

export interface RegionSpec {
  name: string;
  base: number;
  size: number;
  kind: RegionKind;
  /** For device-local memory: the device it sits on. */
  device?: string;
}

export interface Region {
  readonly name: string;
  readonly base: PhysAddr;
  readonly size: number;
  readonly kind: RegionKind;
  readonly device: string | undefined;
  /** One past the last byte. */
  readonly end: number;
}

export class MemoryMap {
  // Sorted by base, so lookups are a binary search.
  private readonly sorted: Region[] = [];
  private readonly byName = new Map<string, Region>();
  private last: Region | undefined;

  /**
   * Add a region. Base and size must be 4 KiB aligned and the size non-zero (EINVAL); the name
   * must be new (EEXIST); the range must fit below 2^53 (ERANGE) and overlap no region (EEXIST).
   */
  add(spec: RegionSpec): Region {
    checkObject("addRegion", "spec", spec);
    if (spec.name === "" || spec.name === undefined)
      fail("EINVAL", "a region needs a name", "name");
    checkName("addRegion", "name", spec.name);
    const what = `region "${spec.name}"`;
    checkOptionalName(what, "device", spec.device);
    if (this.byName.has(spec.name)) fail("EEXIST", `${what} already exists`, "name");
    inField("base", () => checkAddress(spec.base, `${what} base`));
    inField("size", () => checkAddress(spec.size, `${what} size`));
    if (spec.size === 0) fail("EINVAL", `${what} has size 0`, "size");
    if (spec.base % STORE_PAGE_SIZE !== 0)
      fail("EINVAL", `${what} base ${hex(spec.base)} is not 4 KiB aligned`, "base");
    if (spec.size % STORE_PAGE_SIZE !== 0)
      fail("EINVAL", `${what} size ${hex(spec.size)} is not a multiple of 4 KiB`, "size");
    if (!Number.isSafeInteger(spec.base + spec.size))
      fail("ERANGE", `${what} ${hex(spec.base)}+${hex(spec.size)} ends beyond 2^53`, "size");
    if (!REGION_KINDS.includes(spec.kind))
      fail(
        "EINVAL",
        `${what} kind "${String(spec.kind)}" is not one of ${REGION_KINDS.join(", ")}`,
        "kind",
      );
    if (spec.kind !== "device-local" && spec.device !== undefined)
      fail("EINVAL", `${what}: only device-local regions name a device`, "device");
    const end = spec.base + spec.size;
    for (const r of this.sorted)
      if (spec.base < r.end && r.base < end)
        fail(
          "EEXIST",
          `${what} ${hexRange(spec.base, spec.size)} overlaps region "${r.name}" ${hexRange(r.base, r.size)}`,
          "base",
        );
    const region: Region = Object.freeze({
      name: spec.name,
      base: spec.base as PhysAddr,
      size: spec.size,
      kind: spec.kind,
      device: spec.device,
      end,
    });
    const at = this.sorted.findIndex((r) => r.base > region.base);
    this.sorted.splice(at < 0 ? this.sorted.length : at, 0, region);
    this.byName.set(region.name, region);
    return region;
  }

  /** The region named `name`, or ENOENT. */
  get(name: string): Region {
    checkName("region", "name", name);
    return this.byName.get(name) ?? fail("ENOENT", `no region named "${name}"`);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The region containing `pa`, or undefined in a hole. */
  find(pa: number): Region | undefined {
    checkAddressArg("find", "pa", pa);
    const last = this.last;
    if (last !== undefined && pa >= last.base && pa < last.end) return last;
    let lo = 0;
    let hi = this.sorted.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const r = this.sorted[mid]!;
      if (pa < r.base) hi = mid - 1;
      else if (pa >= r.end) lo = mid + 1;
      else return (this.last = r);
    }
    return undefined;
  }

  /**
   * The region that holds all of `[pa, pa+size)`, or undefined if the range is not within one
   * region (it crosses a hole or a region boundary).
   */
  findRange(pa: number, size: number): Region | undefined {
    checkLength("findRange", "size", size);
    const r = this.find(pa);
    return r !== undefined && pa + Math.max(size, 1) <= r.end ? r : undefined;
  }

  /** Every region, by ascending base. */
  regions(): readonly Region[] {
    return this.sorted;
  }

  /** Total bytes of regions of a kind. */
  totalBytes(kind?: RegionKind): number {
    let sum = 0;
    for (const r of this.sorted) if (kind === undefined || r.kind === kind) sum += r.size;
    return sum;
  }
}
