/**
 * The value schemas of the `gunyah.*` steps' fields: named values and flags (`DONE`,
 * `[SANITIZE, APPEND]`, with suggestions for a misspelt name), VM and parcel references, ACL
 * rights, memory types and attributes, RM errors, ACL / attribute / SGL lists (an SGL item may
 * be a run of entries: `{ from, count, stride, size }`), wire integers, and the `expect` of an
 * RPC step. How references resolve is `gunyah-common.ts`'s.
 */
import { z } from "zod";

import { hex } from "../../../base/address.js";
import { VM_STATE } from "../../../gunyah/hyp/vm.js";
import { MEM_ATTR, MEM_TYPE, TRANS_TYPE } from "../../../gunyah/rm/types.js";
import { OS_STATUS } from "../../../gunyah/wire/vm.js";
import type { RmError } from "../../../gunyah/rm/types.js";
import { RM_ERROR_CODES } from "../../../gunyah/wire/errors.js";
import { closest, showSize, showValue } from "../format.js";
import type { AddressExpr } from "../values.js";
import {
  addressSchema,
  allocationNameSchema,
  countSchema,
  showAddress,
  sizeSchema,
} from "../values.js";

/** The value of name `s` in `values`, or an issue (with a suggestion) and NEVER. */
function lookupName(
  what: string,
  values: Readonly<Record<string, number>>,
  s: string,
  c: z.core.$RefinementCtx,
  path: Array<string | number> = [],
): number {
  const v = Object.hasOwn(values, s) ? values[s] : undefined;
  if (v !== undefined) return v;
  const names = Object.keys(values);
  const near = closest(s, names);
  c.issues.push({
    code: "custom",
    input: s,
    path,
    message: `unknown ${what} ${JSON.stringify(s)}${near !== undefined ? `, did you mean "${near}"?` : ""} (expected: ${names.join(", ")})`,
  });
  return 0;
}

/** A named value of a set (`DONE`, `IO`): the name, or (`max` given) a number up to it. */
export function namedSchema(what: string, values: Readonly<Record<string, number>>, max?: number) {
  const names = Object.keys(values);
  const message = (input: unknown) =>
    `expected ${what}: ${names.join(", ")}${max !== undefined ? ` or a number (0..${max})` : ""}, got ${showValue(input)}`;
  const error = (i: { input?: unknown }) => (i.input === undefined ? undefined : message(i.input));
  const base =
    max === undefined
      ? z.string({ error })
      : z.union([z.number().int().min(0).max(max), z.string()], { error });
  return base
    .transform((v: string | number, c): number =>
      typeof v === "number" ? v : lookupName(what, values, v, c),
    )
    .meta({
      description: `${what}: ${names.join(", ")}${max !== undefined ? `, or a number (0..${max})` : ""}.`,
    });
}

/** Flags as a list of names (`[SANITIZE, APPEND]`), one name, or a number (the byte as is). */
export function flagsSchema(what: string, flags: Readonly<Record<string, number>>, max = 0xff) {
  return z
    .union([z.number().int().min(0).max(max), z.string(), z.array(z.string())], {
      error: (i) =>
        i.input === undefined
          ? undefined
          : `expected ${what} flags: a list of names (${Object.keys(flags).join(", ")}) or a number, got ${showValue(i.input)}`,
    })
    .transform((v, c): number => {
      if (typeof v === "number") return v;
      if (typeof v === "string") return lookupName(`${what} flag`, flags, v, c);
      return v.reduce((w, name, i) => w | lookupName(`${what} flag`, flags, name, c, [i]), 0);
    })
    .meta({
      description: `${what} flags: a list of ${Object.keys(flags).join(", ")}, or a number (the flags byte as is).`,
    });
}

/** The names of the flags set in `word`, for descriptions (`[SANITIZE, APPEND]`, `0x40`). */
export function showFlags(flags: Readonly<Record<string, number>>, word: number): string {
  const names = Object.entries(flags)
    .filter(([, bit]) => (word & bit) !== 0)
    .map(([n]) => n);
  const rest = Object.values(flags).reduce((w, bit) => w & ~bit, word);
  if (rest !== 0) names.push(hex(rest));
  return names.length > 0 ? names.join("|") : "none";
}

/** A VM as a step writes it. */
export type VmRef = { readonly vmid: number } | { readonly name: string };

/**
 * The references the schemas made, wherever in a step they are (an ACL's `vm`, an expected
 * `vmid`), so the static check finds every name a step resolves without knowing its fields.
 */
const VM_REFS = new WeakSet<object>();
const PARCEL_REFS = new WeakSet<object>();

/** True if `v` is a VM reference a schema of these steps made. */
export function isVmRef(v: unknown): v is VmRef {
  return typeof v === "object" && v !== null && VM_REFS.has(v);
}

/** True if `v` is a parcel reference a schema of these steps made. */
export function isParcelRef(v: unknown): v is ParcelRef {
  return typeof v === "object" && v !== null && PARCEL_REFS.has(v);
}

function marked<T extends object>(set: WeakSet<object>, ref: T): T {
  set.add(ref);
  return ref;
}

export const vmRefSchema = z
  .union([z.number().int().min(0).max(0xffff), z.string().min(1)], {
    error: (i) =>
      i.input === undefined
        ? undefined
        : `expected a VM: hlos, vm<vmid> (vm128), a name bound by gunyah.vmAllocate, or a VMID, got ${showValue(i.input)}`,
  })
  .transform((v): VmRef => marked(VM_REFS, typeof v === "number" ? { vmid: v } : { name: v }))
  .meta({
    description:
      "A VM: hlos (the host, VMID 3), vm<vmid> (vm128 is VMID 0x80), a name bound by gunyah.vmAllocate, or a VMID.",
  });

export function showVm(ref: VmRef): string {
  return "name" in ref ? ref.name : hex(ref.vmid);
}

/** A parcel as a step writes it: a handle or a bound name. */
export type ParcelRef = { readonly handle: number } | { readonly name: string };

export const parcelRefSchema = z
  .union([z.number().int().min(0).max(0xffff_ffff), z.string().min(1)], {
    error: (i) =>
      i.input === undefined
        ? undefined
        : `expected a parcel: a handle (a number) or a name bound by a create step, got ${showValue(i.input)}`,
  })
  .transform((v): ParcelRef =>
    marked(PARCEL_REFS, typeof v === "number" ? { handle: v } : { name: v }),
  )
  .meta({
    description: "A parcel: its handle, or the name a gunyah.lend / share / donate bound (as).",
  });

export function showParcel(ref: ParcelRef): string {
  return "name" in ref ? ref.name : `handle ${ref.handle}`;
}

function rightsMessage(input: unknown): string {
  return `expected rights: letters r, w, x once each (rwx, rw, r, rx), or a number, got ${showValue(input)}`;
}

/** ACL rights: letters r, w, x (`rwx`, `rw`, `r`, `rx`), or a number (the byte as is). */
export const rightsSchema = z
  .union(
    [
      z.number().int().min(0).max(0xff),
      z.string().regex(/^(?!.*(.).*\1)[rwx]+$/, { error: (i) => rightsMessage(i.input) }),
    ],
    { error: (i) => (i.input === undefined ? undefined : rightsMessage(i.input)) },
  )
  .transform((v): number =>
    typeof v === "number"
      ? v
      : (v.includes("r") ? 4 : 0) | (v.includes("w") ? 2 : 0) | (v.includes("x") ? 1 : 0),
  )
  .meta({
    description: "Rights: letters r, w, x (only r, rx, rw, rwx are valid for the RM), or a number.",
  });

export const memTypeSchema = namedSchema("a memory type", MEM_TYPE, 0xff);
export const transTypeSchema = namedSchema("a transaction type", TRANS_TYPE, 0xff);
export const memAttrSchema = namedSchema("a memory attribute", MEM_ATTR, 0xffff);

/** An RM error code by name (`OK`, `MEM_INUSE`). */
export const rmErrorSchema = z
  .string()
  .transform((s, c): RmError => {
    if (Object.hasOwn(RM_ERROR_CODES, s)) return s as RmError;
    const names = Object.keys(RM_ERROR_CODES);
    const near = closest(s, names);
    c.issues.push({
      code: "custom",
      input: s,
      message: `unknown RM error ${JSON.stringify(s)}${near !== undefined ? `, did you mean "${near}"?` : ""} (expected: ${names.join(", ")})`,
    });
    return z.NEVER;
  })
  .meta({
    description: "An RM error by name: OK, DENIED, MEM_INUSE, VM_STATE, ... (reference §6).",
  });

export const aclSchema = z
  .array(z.strictObject({ vm: vmRefSchema, rights: rightsSchema }))
  .meta({ description: "The ACL: the VMs the memory goes to and their rights, in order." });

export const attrsSchema = z
  .array(z.strictObject({ vm: vmRefSchema, attr: memAttrSchema }))
  .meta({ description: "Memory attributes per VM (NORMAL, DEVICE, UNCACHED, CACHED)." });

/** One SGL item: an entry `{ ipa, size }`, or `count` entries `{ from, count, stride?, size }`. */
const sglItemSchema = z
  .strictObject({
    ipa: addressSchema.optional().meta({ description: "An entry's IPA (the caller's address)." }),
    from: addressSchema.optional().meta({ description: "A run of entries: the first one's IPA." }),
    count: countSchema.optional().meta({ description: "A run of entries: how many (1..65536)." }),
    stride: sizeSchema
      .optional()
      .meta({ description: "A run of entries: from one entry's IPA to the next (default: size)." }),
    size: sizeSchema.meta({ description: "Each entry's size." }),
  })
  .superRefine((e, c) => {
    const issue = (path: string, message: string) =>
      c.addIssue({ code: "custom", path: [path], message });
    if ((e.ipa === undefined) === (e.from === undefined))
      return issue(
        e.ipa === undefined ? "ipa" : "from",
        "give either ipa (one entry) or from + count (a run of entries)",
      );
    if (e.from !== undefined && e.count === undefined)
      issue("count", 'missing required key "count" (a run of entries)');
    if (e.ipa !== undefined && (e.count !== undefined || e.stride !== undefined))
      issue(
        e.count !== undefined ? "count" : "stride",
        "count and stride go with from (a run of entries), not ipa",
      );
    if (e.count !== undefined && (e.count < 1 || e.count > 65536))
      issue("count", `count ${e.count}: expected 1..65536`);
  })
  .meta({
    title: "SGL entry",
    description:
      "A memory entry { ipa, size }, or a run of them { from, count, stride, size }: from, from + stride, ... (count entries).",
  });

export const sglSchema = z.array(sglItemSchema).meta({
  description:
    "Memory entries (IPA and size), in order; `{ from, count, stride, size }` makes a run.",
});

export type SglItem = z.output<typeof sglItemSchema>;

/** An SGL for descriptions: `0x80000000+2 MiB`, `600 entries from 0x80000000`. */
export function showSgl(items: readonly SglItem[]): string {
  const n = items.reduce((a, e) => a + (e.count ?? 1), 0);
  const first = items[0];
  if (first === undefined) return "no memory";
  const at = showAddress((first.ipa ?? first.from) as AddressExpr);
  if (n === 1) return `${at}+${showSize(first.size)}`;
  return `${n} entries from ${at}`;
}

/** The `as` of a step. */
export const asSchema = (what: string) =>
  allocationNameSchema.meta({ description: `The name to bind the ${what} to, for later steps.` });

/**
 * The `expect` of an RPC step: `err` (an RM error by name; default OK) and the values a
 * successful reply returns (`shape`), which go with success only.
 */
export function rpcExpect<S extends z.core.$ZodLooseShape>(shape: S, values: string) {
  return z
    .strictObject({ err: rmErrorSchema.optional(), ...shape })
    .superRefine((e, c) => {
      const err = (e as { err?: string }).err;
      if (err === undefined || err === "OK") return;
      for (const k of Object.keys(shape))
        if ((e as Record<string, unknown>)[k] !== undefined)
          c.addIssue({
            code: "custom",
            path: [k],
            message: `${k} is a value of a successful reply: it goes with err OK (or none), not ${err}`,
          });
    })
    .optional()
    .meta({
      description: `What the RM must answer: err (an RM error by name, default OK)${values !== "" ? `, and on success ${values}` : ""}; each key is one expectation.`,
    });
}

/** An integer field of the wire (a label, a tag, flags): 0..`max`. */
export function wordSchema(max: number, description: string) {
  return z
    .number({
      error: (i) =>
        i.input === undefined
          ? undefined
          : `expected an integer 0..${hex(max)}, got ${showValue(i.input)}`,
    })
    .int({ error: (i) => `expected an integer 0..${hex(max)}, got ${showValue(i.input)}` })
    .min(0, { error: (i) => `expected an integer 0..${hex(max)}, got ${showValue(i.input)}` })
    .max(max, { error: (i) => `expected an integer 0..${hex(max)}, got ${showValue(i.input)}` })
    .meta({ description });
}

/** The calling VM of a step (default: the host). */
export const fromField = vmRefSchema
  .optional()
  .meta({ description: "The calling VM (default: the host, hlos)." });

/** The VM that does a step (no default). */
export const byField = (what: string) => vmRefSchema.meta({ description: `The VM that ${what}.` });

/** A parcel's label. */
export const labelField = wordSchema(0xffff_ffff, "The parcel's label (default 0).").optional();

/** A VM state by name (`RUNNING`) or number. */
export const vmStateSchema = namedSchema("a VM state", VM_STATE, 0xff);
/** An OS status by name (`BOOT`) or number. */
export const osStatusSchema = namedSchema("an OS status", OS_STATUS, 0xff);
