/**
 * The value types of scenario files, as zod schemas every step module shares: sizes, addresses,
 * byte data, names, counts and error codes.
 *
 * Each schema accepts what people write (the JSON Schema shows the input forms) and produces
 * what the model needs: a size becomes a number of bytes, an address an {@link AddressExpr},
 * data a `Uint8Array`, a prot string (`"rw"`) the `IOMMU_*` flags. Bad values are refused with a message that says what was expected and
 * what was found, e.g. `expected a size like 4K, 0x1000 or 65536, got "4.5K"`.
 */
import { z } from "zod";

import { hex } from "../../base/address.js";
import type { ErrorCode } from "../../base/errors.js";
import { ERROR_CODES, fail, isMemweaveError } from "../../base/errors.js";
import { parseSize } from "../../base/size.js";
import type { Prot } from "../../mmu/prot.js";
import { parseProt, PROT, protProblem } from "../../mmu/prot.js";
import { showValue } from "./format.js";

/**
 * An error function for a schema: `message(input)` for a value that is there; for a missing
 * value, nothing, so that the loader's generic "missing required key" applies.
 */
function whenPresent(message: (input: unknown) => string) {
  return (issue: { input?: unknown }): string | undefined =>
    issue.input === undefined ? undefined : message(issue.input);
}

function sizeMessage(input: unknown, reason?: string): string {
  return `expected a size like 4K, 0x1000 or 65536, got ${showValue(input)}${reason ? ` (${reason})` : ""}`;
}

/** Why parseSize refused a value, when that adds to "expected a size" (only the range). */
function sizeReason(e: unknown): string | undefined {
  return isMemweaveError(e, "ERANGE") ? "not below 2^53" : undefined;
}

/**
 * What a size string looks like, for the JSON Schema (editors flag "4.5K" as you type). It is
 * a little looser than `parseSize` (which the loader applies after it), never stricter.
 */
const SIZE_BODY =
  "(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|[0-9][0-9_]*)\\s*(?:[kKmMgGtTpP](?:[iI]?[bB])?|[bB])?";
const SIZE_PATTERN = new RegExp(`^\\s*${SIZE_BODY}\\s*$`);
/** What an address string looks like: a size, or a name with an optional +/- size offset. */
const ADDRESS_PATTERN = new RegExp(
  `^\\s*(?:${SIZE_BODY}|[A-Za-z_][A-Za-z0-9_.]*(?:\\s*[+-]\\s*${SIZE_BODY})?)\\s*$`,
);

/**
 * A size in bytes: a non-negative integer, or a string parsed by `parseSize` ("4K", "64KiB",
 * "0x1000", "1G", "0x8000_0000"). Also used for physical addresses given as numbers.
 */
export const sizeSchema = z
  .union(
    [
      z
        .number({ error: whenPresent(sizeMessage) })
        .int({ error: whenPresent(sizeMessage) })
        .min(0, { error: whenPresent(sizeMessage) }),
      z.string().regex(SIZE_PATTERN, { error: whenPresent(sizeMessage) }),
    ],
    { error: whenPresent(sizeMessage) },
  )
  .transform((value, ctx): number => {
    try {
      return parseSize(value);
    } catch (e) {
      ctx.issues.push({ code: "custom", message: sizeMessage(value, sizeReason(e)), input: value });
      return z.NEVER;
    }
  })
  .meta({
    id: "Size",
    description:
      'A size or physical address in bytes: a non-negative integer, or a string such as "4K", "64KiB", "2M", "1G", "0x1000" or "0x8000_0000" (K, M, G, T, P are binary units; "_" separates digits).',
  });

/** A non-negative integer count (allocations, pages, chunks, calls). */
export const countSchema = z
  .number({
    error: whenPresent((input) => `expected a count (0, 1, 2, …), got ${showValue(input)}`),
  })
  .int({ error: whenPresent((input) => `expected a whole count, got ${showValue(input)}`) })
  .min(0, { error: whenPresent((input) => `expected a count >= 0, got ${showValue(input)}`) })
  .meta({ id: "Count", description: "A non-negative integer count." });

/** What allocation names (`as: buf`) look like: an identifier, no `+` or `-`. */
export const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.]*$/;

/** The name of an allocation, bound by an `alloc` step's `as`. */
export const allocationNameSchema = z
  .string({
    error: whenPresent((input) => `expected an allocation name like buf, got ${showValue(input)}`),
  })
  .regex(NAME_PATTERN, {
    error: whenPresent(
      (input) =>
        `expected an allocation name (a letter or _, then letters, digits, _ or .), got ${showValue(input)}`,
    ),
  })
  .meta({
    id: "AllocationName",
    description:
      "The name of an allocation (bound by an alloc step's `as`): a letter or _, then letters, digits, _ or .",
  });

/** The name of a region, target or other object of the machine. */
export const objectNameSchema = z
  .string({ error: whenPresent((input) => `expected a name, got ${showValue(input)}`) })
  .min(1, { error: "expected a non-empty name" });

/**
 * A parsed address: absolute (a physical address), or relative to the first chunk of a named
 * allocation, plus a signed offset.
 */
export type AddressExpr =
  | { readonly kind: "absolute"; readonly pa: number }
  | { readonly kind: "allocation"; readonly name: string; readonly offset: number };

const ADDRESS_RE = /^([A-Za-z_][A-Za-z0-9_.]*)\s*(?:([+-])\s*(\S.*))?$/;

function addressMessage(input: unknown, reason?: string): string {
  return `expected an address like 0x80000000, buf or buf+0x10, got ${showValue(input)}${reason ? ` (${reason})` : ""}`;
}

/**
 * Parse an address as written: a number, a size-like string, or `name`, `name+offset`,
 * `name - offset` with a size-like offset. Throws a MemweaveError (EINVAL) otherwise.
 */
export function parseAddress(input: string | number): AddressExpr {
  if (typeof input === "number") return { kind: "absolute", pa: parseSize(input, "address") };
  const s = input.trim();
  if (/^[0-9]/.test(s)) return { kind: "absolute", pa: parseSize(s, "address") };
  const m = ADDRESS_RE.exec(s);
  if (!m)
    fail("EINVAL", `address ${JSON.stringify(input)} is not an address or an allocation name`);
  const offset = m[3] === undefined ? 0 : parseSize(m[3], "address offset");
  return { kind: "allocation", name: m[1]!, offset: m[2] === "-" ? -offset : offset };
}

/** An address as written in a description: `0x80000000`, `buf`, `buf+0xffe`. */
export function showAddress(a: AddressExpr): string {
  if (a.kind === "absolute") return hex(a.pa);
  if (a.offset === 0) return a.name;
  return `${a.name}${a.offset < 0 ? "-" : "+"}${hex(Math.abs(a.offset))}`;
}

/** An address: a physical address, or an allocation name plus or minus an offset. */
export const addressSchema = z
  .union(
    [
      z
        .number({ error: whenPresent(addressMessage) })
        .int({ error: whenPresent(addressMessage) })
        .min(0, { error: whenPresent(addressMessage) }),
      z.string().regex(ADDRESS_PATTERN, { error: whenPresent(addressMessage) }),
    ],
    { error: whenPresent(addressMessage) },
  )
  .transform((value, ctx): AddressExpr => {
    try {
      return parseAddress(value);
    } catch (e) {
      ctx.issues.push({
        code: "custom",
        message: addressMessage(value, sizeReason(e)),
        input: value,
      });
      return z.NEVER;
    }
  })
  .meta({
    id: "Address",
    description:
      'A physical address (a number or a size-like string such as "0x8000_0000"), or the name of an allocation, meaning the physical address of its first chunk, optionally plus or minus an offset: "buf", "buf+0x10", "buf + 4K", "buf-16".',
  });

const HEX_RE = /^(?:[0-9a-fA-F]{2}(?:[\s_:]*))+$/;

function dataMessage(input: unknown): string {
  return `expected data: a hex string like "de ad be ef", { text: "..." } or { bytes: [1, 2, 3] }, got ${showValue(input)}`;
}

/** Parse a hex string of whole bytes ("de ad be ef", "deadbeef"); undefined if malformed. */
export function parseHexBytes(text: string): Uint8Array | undefined {
  const s = text.trim();
  if (!HEX_RE.test(s)) return undefined;
  const digits = s.replace(/[\s_:]/g, "");
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const byteMessage = whenPresent((input) => `expected a byte (0..255), got ${showValue(input)}`);
const byteSchema = z
  .number({ error: byteMessage })
  .int({ error: byteMessage })
  .min(0, { error: byteMessage })
  .max(255, { error: byteMessage });

/** Bytes to write or expect: hex text, UTF-8 text, or a list of byte values. */
export const dataSchema = z
  .union(
    [
      z.string(),
      z.strictObject({ text: z.string() }),
      z.strictObject({ bytes: z.array(byteSchema) }),
    ],
    { error: whenPresent(dataMessage) },
  )
  .transform((value, ctx): Uint8Array => {
    let bytes: Uint8Array | undefined;
    if (typeof value === "string") bytes = parseHexBytes(value);
    else if ("text" in value) bytes = new TextEncoder().encode(value.text);
    else bytes = Uint8Array.from(value.bytes);
    if (bytes === undefined) {
      ctx.issues.push({
        code: "custom",
        message: `expected hex bytes like "de ad be ef" or "deadbeef" (two digits per byte), got ${showValue(value)}`,
        input: value,
      });
      return z.NEVER;
    }
    if (bytes.length === 0) {
      ctx.issues.push({ code: "custom", message: "expected at least one byte", input: value });
      return z.NEVER;
    }
    return bytes;
  })
  .meta({
    id: "Data",
    description:
      'Bytes: a hex string with two digits per byte, spaces optional ("de ad be ef", "deadbeef"), { text: "..." } for UTF-8 text, or { bytes: [1, 2, 3] }.',
  });

/** An errno-like code of the model (EINVAL, ENOMEM, …). */
export const errorCodeSchema = z
  .enum(ERROR_CODES as [ErrorCode, ...ErrorCode[]])
  .meta({ id: "ErrorCode", description: "An errno-like error code of the model." });

/** A byte value for fills. */
export const byteValueSchema = byteSchema.meta({ description: "A byte value, 0..255." });

function protMessage(input: unknown, reason?: string): string {
  return `expected a prot like "rw", "r", "rwx" or "rwc" (letters r w x c m p), got ${showValue(input)}${reason ? ` (${reason})` : ""}`;
}

/**
 * Mapping permissions as letters (`parseProt`): r read, w write, x executable (absent:
 * execute-never), c cacheable, m device memory (MMIO), p privileged only; e.g. "rw", "r",
 * "rwx", "rwc", "rwm". At least one of r and w.
 */
export const protSchema = z
  .string({ error: whenPresent((input) => protMessage(input)) })
  .regex(/^[rwxcmpRWXCMP]+$/, { error: whenPresent((input) => protMessage(input)) })
  .transform((text, ctx): Prot => {
    const problem = protProblem(text);
    if (problem !== undefined) {
      ctx.issues.push({ code: "custom", message: protMessage(text, problem), input: text });
      return z.NEVER;
    }
    const prot = parseProt(text);
    if ((prot & (PROT.READ | PROT.WRITE)) === 0) {
      ctx.issues.push({
        code: "custom",
        message: protMessage(text, "it grants neither r nor w"),
        input: text,
      });
      return z.NEVER;
    }
    return prot;
  })
  .meta({
    id: "Prot",
    description:
      'Mapping permissions as letters: r read, w write, x executable (without x: execute-never), c cacheable, m device memory (MMIO), p privileged only; e.g. "rw", "r", "rwx", "rwc". At least r or w.',
  });

/** A count of things of one size (`freeChunks`, `leaves`). */
export type SizedCount = { size: number; count: number };

/** A map keyed by sizes (`{ "1M": 31, "4K": 2048 }`), as a list of `{ size, count }`. */
export function sizeKeyedCounts(what: string, description: string) {
  return z
    .record(z.string(), countSchema)
    .transform((record, ctx) => {
      const out: SizedCount[] = [];
      for (const [key, count] of Object.entries(record)) {
        try {
          out.push({ size: parseSize(key), count });
        } catch {
          ctx.issues.push({
            code: "custom",
            path: [key],
            message: `expected ${what} like 1M or 64K as the key, got ${showValue(key)}`,
            input: key,
          });
        }
      }
      return out;
    })
    .meta({ description });
}
