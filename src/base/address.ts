/**
 * Branded address types, one per address space, over plain numbers.
 *
 * An address is a non-negative safe integer (< 2^53), which covers 52-bit physical and 48/52-bit
 * virtual addresses exactly. The brand makes mixing spaces a type error (a `PhysAddr` cannot be
 * passed where an `Iova` is expected) at no run-time cost. The checked constructors validate at
 * API edges; hot paths cast with `as` after their own arithmetic.
 *
 * API edges of mmu/ and devices/ take {@link AddrArg}s — a plain number, or an address branded
 * for their space — and return branded addresses (a translation's output is a `PhysAddr`), so
 * an address that crosses spaces without a conversion is a type error where systems meet, while
 * literals and arithmetic stay easy to write.
 *
 * @example
 * const pa = physAddr(0x8000_0000);
 * const iova = virtAddr(0x1000);
 * // const bad: PhysAddr = iova;   // type error
 * // cpu.read(pa, 4);              // type error: a CPU reads virtual addresses
 * cpu.read(0x4000_1000, 4);        // a plain number is fine
 */
import { fail } from "./errors.js";

declare const space: unique symbol;

/** The address spaces of the model: physical, intermediate physical (a VM's), virtual (and IOVA). */
export type AddrSpace = "phys" | "ipa" | "virt";

type Branded<S extends AddrSpace> = number & { readonly [space]: S };

/** A physical (output) address, as the memory system sees it. */
export type PhysAddr = Branded<"phys">;
/** An intermediate physical address: a VM's view of "physical" memory, input to stage 2. */
export type IpaAddr = Branded<"ipa">;
/** A virtual address of a CPU process or a device (IOVA): input to stage 1. */
export type VirtAddr = Branded<"virt">;
/** A device's I/O virtual address; the same space as {@link VirtAddr}. */
export type Iova = VirtAddr;

/** Any address, whatever its space. */
export type AnyAddr = PhysAddr | IpaAddr | VirtAddr;

/**
 * What an API edge takes for an address in space(s) `S`: a plain number (a literal, the result
 * of arithmetic), or an address branded for one of those spaces — never one branded for another
 * space. So `cpu.read(pa)` with a `PhysAddr` is a type error, while `cpu.read(0x4000_1000)` and
 * `cpu.read(va + 8)` are not.
 */
export type AddrArg<S extends AddrSpace> = number & { readonly [space]?: S };
/** A physical address argument: a number or a {@link PhysAddr}. */
export type PhysArg = AddrArg<"phys">;
/** An IPA argument: a number or an {@link IpaAddr}. */
export type IpaArg = AddrArg<"ipa">;
/** A virtual address (or IOVA) argument: a number or a {@link VirtAddr}. */
export type VirtArg = AddrArg<"virt">;
/** The address a space's values carry, branded. */
export type AddrOf<S extends AddrSpace> = Branded<S>;

/** The highest address the model represents exactly. */
export const MAX_ADDR = Number.MAX_SAFE_INTEGER;

/** Throws unless `n` is a non-negative safe integer; names `what` and the value. */
export function checkAddress(n: number, what: string): void {
  if (typeof n !== "number" || !Number.isFinite(n) || !Number.isInteger(n))
    fail("EINVAL", `${what} ${String(n)} is not an integer address`);
  if (n < 0) fail("EINVAL", `${what} ${n} is negative`);
  if (!Number.isSafeInteger(n)) fail("ERANGE", `${what} ${n} is not below 2^53`);
}

export function physAddr(n: number, what = "physical address"): PhysAddr {
  checkAddress(n, what);
  return n as PhysAddr;
}

export function ipaAddr(n: number, what = "IPA"): IpaAddr {
  checkAddress(n, what);
  return n as IpaAddr;
}

export function virtAddr(n: number, what = "virtual address"): VirtAddr {
  checkAddress(n, what);
  return n as VirtAddr;
}

export const iova: (n: number, what?: string) => Iova = (n, what = "IOVA") => virtAddr(n, what);

/** `0x`-prefixed lower-case hex, the way addresses are shown everywhere in the model. */
export function hex(n: number | bigint): string {
  return "0x" + n.toString(16);
}

/** Hex padded to `digits` digits (e.g. descriptors: 16). */
export function hexPad(n: number | bigint, digits: number): string {
  return "0x" + n.toString(16).padStart(digits, "0");
}

/**
 * `[base, base+size)` as `0xbase-0xlast` (inclusive end, as Linux prints ranges); one byte as
 * its address alone.
 */
export function hexRange(base: number, size: number): string {
  return size === 1 ? hex(base) : `${hex(base)}-${hex(base + size - 1)}`;
}
