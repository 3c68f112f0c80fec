/**
 * The allocators' shared argument checks (internal: not part of the public API, see
 * base/validate.ts).
 */
import { hex } from "../base/address.js";
import { isPowerOfTwo } from "../base/align.js";
import { fail } from "../base/errors.js";
import {
  badArgument,
  checkArray,
  checkBoolean,
  checkInteger,
  checkOptions,
} from "../base/validate.js";

/** ERANGE unless `[base, base+size)` ends below 2^53 (an allocator's range; both checked). */
export function checkRangeEnd(owner: string, base: number, size: number): void {
  if (!Number.isSafeInteger(base + size))
    fail("ERANGE", `${owner}: range ${hex(base)}+${hex(size)} ends beyond 2^53`, "size");
}

/** The options every allocator's `alloc` may take. */
interface AllocShape {
  align?: number;
  contiguous?: boolean;
  chunkSizes?: readonly number[];
}

const ALLOC_OPTIONS = ["align", "contiguous", "chunkSizes"] as const;

/** The shape of a target's options (EINVAL naming the option); `undefined` is `{}`. */
export function checkAllocOptions<O extends AllocShape>(fn: string, options: O | undefined): O {
  const o = checkOptions(fn, "options", options, ALLOC_OPTIONS);
  if (o.align !== undefined && !isPowerOfTwo(o.align))
    badArgument(fn, "options.align", "be a power of two", o.align);
  checkBoolean(fn, "options.contiguous", o.contiguous);
  if (o.chunkSizes !== undefined)
    for (const s of checkArray(fn, "options.chunkSizes", o.chunkSizes))
      checkInteger(fn, "options.chunkSizes", s, 1);
  return o;
}
