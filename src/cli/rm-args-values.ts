/**
 * The values of `rm call` arguments (`rm-args.ts`): numbers of a width, named values and flags,
 * and the lists — `VMID:RIGHTS`, `VMID:ATTR`, `IPA+SIZE`, `TYPE:PARAM`, VMIDs, `OFF+SIZE`.
 * Each parser throws {@link RmArgsError} with a message naming the value.
 */
import { isMemweaveError } from "../base/errors.js";
import { parseSize } from "../base/size.js";
import type { AclEntry, AttrEntry, SglEntry } from "../gunyah/rm/types.js";

/** A bad `rm call` command line. */
export class RmArgsError extends Error {}

/** One argument's value: how it is written and how it is read. */
export interface Key {
  /** How the value is written, for help and errors. */
  readonly syntax: string;
  readonly list?: boolean;
  parse(text: string): unknown;
}

/** The RM's named values. */
export const NAMED = {
  memtype: { normal: 0, io: 1 },
  transtype: { donate: 0, lend: 1, share: 2 },
  createFlags: { sanitize: 1, append: 2 },
  appendFlags: { end: 1 },
  releaseFlags: { sanitize: 1 },
  acceptFlags: {
    validate_sanitized: 1,
    validate_acl_attr: 2,
    validate_label: 4,
    map_other: 8,
    map_contiguous: 16,
    sanitize: 32,
    done: 128,
  },
  notify: { shared: 1, released: 2, accepted: 4, recall: 8 },
  attr: { normal: 0, device: 1, uncached: 2, cached: 3 },
  stopFlags: { force: 1 },
  reason: { shutdown: 0, restart: 1, crash: 2, force_stop: 3 },
  auth: { none: 0, platform: 1, android: 2 },
  exitCode: { normal: 0, sw_error: 1, unknown: 2, bus: 3, device: 4 },
} as const satisfies Record<string, Record<string, number>>;

export function bad(message: string): never {
  throw new RmArgsError(message);
}

/** An unsigned integer of `bits` bits (53: any safe integer). */
export function uint(text: string, bits: 8 | 16 | 32 | 53, what = "value"): number {
  let n: number;
  try {
    n = parseSize(text, what);
  } catch (e) {
    if (isMemweaveError(e)) bad(e.detail);
    throw e;
  }
  if (bits < 53 && n >= 2 ** bits)
    bad(`${what} ${text} is not a u${bits} (at most 0x${(2 ** bits - 1).toString(16)})`);
  return n;
}

/** A name of `names`, or a number. */
export function named(
  names: Record<string, number>,
  bits: 8 | 16 | 32,
  text: string,
  what = "value",
): number {
  const v = names[text.toLowerCase()];
  if (v !== undefined) return v;
  if (/^[0-9]/.test(text)) return uint(text, bits, what);
  return bad(`${what} "${text}" is not one of ${Object.keys(names).join(", ")} or a number`);
}

/** Names joined by `,` or `|` (OR'd), or a number. */
export function flags(names: Record<string, number>, bits: 8 | 16 = 8): Key {
  return {
    syntax: `${Object.keys(names).join("|")}[,...]|N`,
    parse: (text) =>
      /^[0-9]/.test(text)
        ? uint(text, bits, "flags")
        : text.split(/[,|]/).reduce((acc, part) => acc | named(names, bits, part, "flag"), 0),
  };
}

export const num = (bits: 8 | 16 | 32 | 53, syntax = "N"): Key => ({
  syntax,
  parse: (t) => uint(t, bits),
});
export const choice = (names: Record<string, number>, bits: 8 | 16 | 32 = 8): Key => ({
  syntax: `${Object.keys(names).join("|")}|N`,
  parse: (t) => named(names, bits, t),
});

export function pairs<T>(
  syntax: string,
  sep: string,
  make: (a: string, b: string, item: string) => T,
): Key {
  return {
    syntax: `${syntax}[,...]`,
    list: true,
    parse: (text) =>
      text === ""
        ? []
        : text.split(",").map((item) => {
            const at = item.indexOf(sep);
            if (at < 0) bad(`"${item}" is not ${syntax}`);
            return make(item.slice(0, at), item.slice(at + 1), item);
          }),
  };
}

/** `r`, `rw`, `rwx`, ... (any order) or a number. */
export function rights(text: string): number {
  if (/^[0-9]/.test(text)) return uint(text, 8, "rights");
  if (!/^[rwx]+$/i.test(text)) bad(`rights "${text}" are not letters of r, w, x or a number`);
  const t = text.toLowerCase();
  return (t.includes("r") ? 4 : 0) | (t.includes("w") ? 2 : 0) | (t.includes("x") ? 1 : 0);
}

export const acl = pairs<AclEntry>("VMID:RIGHTS", ":", (a, b) => ({
  vmid: uint(a, 16, "VMID"),
  rights: rights(b),
}));
export const attrs = pairs<AttrEntry>("VMID:ATTR", ":", (a, b) => ({
  vmid: uint(a, 16, "VMID"),
  attr: named(NAMED.attr, 16, b, "attribute"),
}));
export const sgl = pairs<SglEntry>("IPA+SIZE", "+", (a, b) => ({
  ipa: uint(a, 53, "IPA"),
  size: uint(b, 53, "size"),
}));
export const params = pairs("TYPE:PARAM", ":", (a, b) => ({
  type: uint(a, 32, "type"),
  param: uint(b, 32, "param"),
}));
export const vmids: Key = {
  syntax: "VMID[,...]",
  list: true,
  parse: (t) => (t === "" ? [] : t.split(",").map((v) => uint(v, 16, "VMID"))),
};
export const range: Key = {
  syntax: "OFF+SIZE",
  parse: (t) => {
    const at = t.indexOf("+");
    if (at < 0) bad(`"${t}" is not OFF+SIZE`);
    return { offset: uint(t.slice(0, at), 53, "offset"), size: uint(t.slice(at + 1), 53, "size") };
  },
};
