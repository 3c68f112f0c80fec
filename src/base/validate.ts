/**
 * Argument checks of the library's public entries: a few comparisons at the entry, never in a
 * per-byte or per-page loop, and one error shape for every refusal.
 *
 * Each check takes the entry's name (`fn`, e.g. `"write"` or `"Platform.read"`), the
 * argument's name and its value, returns the value (narrowed), and otherwise throws a
 * {@link MemweaveError} EINVAL whose `field` is the argument's name:
 *
 *     EINVAL: write: pa must be a non-negative safe integer, got NaN
 *
 * so that no raw `RangeError` or `TypeError` escapes a public function for a bad argument.
 * The checks are about shape (an integer, an object, a string); what an argument means (an
 * address in a region, a size the allocator can serve) stays with the entry and its own codes.
 *
 * Internal to the library: entries call these, the public API does not export them (the public
 * {@link checkAddress} of `address.ts` is the branded-address constructor's check).
 *
 * @example
 * const data = checkBytes("write", "data", input); // Uint8Array, or EINVAL
 * checkAddress("write", "pa", pa);
 */
import { fail } from "./errors.js";

/** A value as an error message shows it: `NaN`, `-1`, `"abc"`, `null`, `an object`, `[1, 300]`. */
export function describeValue(v: unknown): string {
  switch (typeof v) {
    case "string":
      return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v);
    case "number":
      return Object.is(v, -0) ? "-0" : String(v);
    case "bigint":
      return `${v}n`;
    case "undefined":
    case "boolean":
    case "symbol":
      return String(v);
    case "function":
      return "a function";
    case "object":
      if (v === null) return "null";
      if (Array.isArray(v)) {
        const shown = v.slice(0, 4).map((x: unknown) => describeValue(x));
        return `[${shown.join(", ")}${v.length > 4 ? `, … (${v.length} items)` : ""}]`;
      }
      if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
      return "an object";
  }
}

/** EINVAL `fn: name must <rule>, got <value>`, with `name` as the error's field. */
export function badArgument(fn: string, name: string, rule: string, v: unknown): never {
  return fail("EINVAL", `${fn}: ${name} must ${rule}, got ${describeValue(v)}`, name);
}

const SAFE = "be a non-negative safe integer";

/** A non-negative safe integer address (below 2^53). */
export function checkAddress(fn: string, name: string, v: unknown): number {
  if (Number.isSafeInteger(v) && (v as number) >= 0) return v as number;
  return badArgument(fn, name, SAFE, v);
}

/** A non-negative safe integer length (0 allowed; the entry decides whether 0 means anything). */
export function checkLength(fn: string, name: string, v: unknown): number {
  if (Number.isSafeInteger(v) && (v as number) >= 0) return v as number;
  return badArgument(fn, name, SAFE, v);
}

/** A safe integer in `[min, max]` (a count, an id, an index, a byte value). */
export function checkInteger(
  fn: string,
  name: string,
  v: unknown,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max) return v as number;
  const rule =
    max === Number.MAX_SAFE_INTEGER
      ? min === 0
        ? SAFE
        : `be a safe integer of at least ${min}`
      : `be an integer in ${min}..${max}`;
  return badArgument(fn, name, rule, v);
}

/** An optional {@link checkInteger}: `undefined` passes. */
export function checkOptionalInteger(
  fn: string,
  name: string,
  v: unknown,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  return v === undefined ? undefined : checkInteger(fn, name, v, min, max);
}

function isUint8Array(v: unknown): v is Uint8Array {
  // instanceof, or a Uint8Array of another realm (a worker, a vm context).
  return (
    v instanceof Uint8Array ||
    (ArrayBuffer.isView(v) && Object.prototype.toString.call(v) === "[object Uint8Array]")
  );
}

/** What byte arguments accept: a Uint8Array, or an array of integers 0..255. */
export type ByteArg = Uint8Array | readonly number[];

/**
 * Byte data: a Uint8Array as it is (no copy), or an array of integers 0..255 as a new
 * Uint8Array (never truncated modulo 256: `[300]` is refused).
 */
export function checkBytes(fn: string, name: string, v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (isUint8Array(v)) return v;
  if (Array.isArray(v)) {
    const out = new Uint8Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const b: unknown = v[i];
      if (!Number.isInteger(b) || (b as number) < 0 || (b as number) > 255)
        fail(
          "EINVAL",
          `${fn}: ${name}[${i}] must be a byte (an integer 0..255), got ${describeValue(b)}`,
          name,
        );
      out[i] = b as number;
    }
    return out;
  }
  return badArgument(fn, name, "be a Uint8Array or an array of integers 0..255", v);
}

/** A Uint8Array to fill (an output buffer). */
export function checkBuffer(fn: string, name: string, v: unknown): Uint8Array {
  if (isUint8Array(v)) return v;
  return badArgument(fn, name, "be a Uint8Array", v);
}

/** A zeroed buffer of `size` bytes; ENOMEM (not a raw RangeError) if the host cannot make one. */
export function allocBytes(fn: string, size: number): Uint8Array {
  try {
    return new Uint8Array(size);
  } catch {
    return fail("ENOMEM", `${fn}: cannot allocate a buffer of ${size} bytes`, "size");
  }
}

/** A non-empty string (a name). */
export function checkName(fn: string, name: string, v: unknown): string {
  if (typeof v === "string" && v !== "") return v;
  return badArgument(fn, name, "be a non-empty string", v);
}

/** An optional non-empty string: `undefined` passes. */
export function checkOptionalName(fn: string, name: string, v: unknown): string | undefined {
  return v === undefined ? undefined : checkName(fn, name, v);
}

/** A string, possibly empty. */
export function checkString(fn: string, name: string, v: unknown): string {
  if (typeof v === "string") return v;
  return badArgument(fn, name, "be a string", v);
}

/** A boolean; `undefined` passes when `optional`. */
export function checkBoolean(fn: string, name: string, v: unknown, optional = true): void {
  if (typeof v === "boolean" || (optional && v === undefined)) return;
  badArgument(fn, name, "be a boolean", v);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * An object argument (not null, not an array). With `keys`, each of its own properties must be
 * one of them (a misspelt option is an error, not a silent default).
 */
export function checkObject<T extends object>(
  fn: string,
  name: string,
  v: T | undefined | null,
  keys?: readonly string[],
): T {
  if (!isPlainObject(v)) return badArgument(fn, name, "be an object", v);
  if (keys !== undefined)
    for (const k in v)
      if (Object.prototype.hasOwnProperty.call(v, k) && !keys.includes(k))
        fail(
          "EINVAL",
          `${fn}: ${name} has no option "${k}" (have: ${keys.join(", ") || "none"})`,
          `${name}.${k}`,
        );
  return v;
}

/**
 * An options object: `undefined` is `{}`; otherwise {@link checkObject}, with `keys` the options
 * the entry knows.
 */
export function checkOptions<T extends object>(
  fn: string,
  name: string,
  v: T | undefined | null,
  keys?: readonly string[],
): T {
  if (v === undefined) return {} as T;
  return checkObject(fn, name, v, keys);
}

/** An array (of anything; the entry checks the items). */
export function checkArray<T>(fn: string, name: string, v: readonly T[] | undefined | null): T[] {
  if (Array.isArray(v)) return v as T[];
  return badArgument(fn, name, "be an array", v);
}

/** An instance of `type` (a model object: a Reservation, a GmDev). */
export function checkInstance<T>(
  fn: string,
  name: string,
  v: unknown,
  // A class, whatever its constructor's visibility (a private one is no `new` signature).
  type: { readonly prototype: T; readonly name: string },
): T {
  if (v instanceof (type as unknown as abstract new () => unknown)) return v as T;
  return badArgument(fn, name, `be a ${type.name}`, v);
}

/** A function (a handler, a constructor). */
export function checkFunction(fn: string, name: string, v: unknown): void {
  if (typeof v !== "function") badArgument(fn, name, "be a function", v);
}

/** One of `values` (an enumeration given as strings or numbers). */
export function checkOneOf<T extends string | number>(
  fn: string,
  name: string,
  v: unknown,
  values: readonly T[],
): T {
  if ((values as readonly unknown[]).includes(v)) return v as T;
  return badArgument(fn, name, `be one of ${values.map((x) => describeValue(x)).join(", ")}`, v);
}
