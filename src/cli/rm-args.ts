/**
 * The argument syntax of `memweave rm call RPC [ARGS]`: one request of the RM codec from
 * `key=value` words, e.g.
 *
 * ```
 * MEM_LEND acl=0x80:rwx sgl=0x80000000+2M label=1
 * MEM_ACCEPT handle=0 transtype=lend flags=done
 * MEM_NOTIFY handle=0 flags=shared tag=7 vmids=0x80,0x81
 * VM_STOP vmid=0x80 flags=force reason=force_stop
 * ```
 *
 * Numbers are decimal, 0x hex, or sizes (`4K`, `2M`, `0x8000_0000`). Lists are comma-separated
 * and a list key may repeat (`acl=0x80:rw acl=3:rwx`). Named values (`memtype=io`,
 * `flags=sanitize,append`, `reason=crash`) stand for the RM's numbers; a number is always
 * accepted too, so malformed requests can be sent on purpose. The RPC name is the RM's
 * (`MEM_LEND`, `VM_GET_STATE`), in any case.
 *
 * Errors throw {@link RmArgsError} naming the RPC, the argument and the value.
 */
import type { RmRequest } from "../gunyah/wire/index.js";
import { isRequestName, REQUEST_NAMES, type RequestName } from "../gunyah/wire/index.js";

import type { Key } from "./rm-args-values.js";
import {
  acl,
  attrs,
  bad,
  choice,
  flags,
  NAMED,
  num,
  params,
  range,
  RmArgsError,
  sgl,
  vmids,
} from "./rm-args-values.js";

export { RmArgsError } from "./rm-args-values.js";

type Values = Map<string, unknown>;

interface Spec {
  readonly keys: Readonly<Record<string, Key>>;
  /** Keys that must be given. */
  readonly required: readonly string[];
  /** Defaults of the others, as values. */
  readonly defaults?: Readonly<Record<string, unknown>>;
  readonly build: (id: RequestName, v: (k: string) => unknown) => RmRequest;
}

const u16 = num(16, "VMID");
const u32 = num(32);
const create: Spec = {
  keys: {
    memtype: choice(NAMED.memtype),
    flags: flags(NAMED.createFlags),
    label: u32,
    acl,
    sgl,
    attrs,
  },
  required: ["acl", "sgl"],
  defaults: { memtype: 0, flags: 0, label: 0, attrs: [] },
  build: (id, v) =>
    ({
      id,
      memType: v("memtype"),
      flags: v("flags"),
      label: v("label"),
      acl: v("acl"),
      sgl: v("sgl"),
      attrs: v("attrs"),
    }) as RmRequest,
};
const release = (names: Record<string, number>): Spec => ({
  keys: { handle: u32, flags: flags(names) },
  required: ["handle"],
  defaults: { flags: 0 },
  build: (id, v) => ({ id, handle: v("handle"), flags: v("flags") }) as RmRequest,
});
const vmidOnly = (optional: boolean): Spec => ({
  keys: { vmid: u16 },
  required: optional ? [] : ["vmid"],
  defaults: { vmid: 0 },
  build: (id, v) => ({ id, vmid: v("vmid") }) as RmRequest,
});

const SPECS: Readonly<Record<RequestName, Spec>> = {
  MEM_LEND: create,
  MEM_SHARE: create,
  MEM_DONATE: create,
  MEM_QCOM_LOOKUP_SGL: {
    keys: { memtype: choice(NAMED.memtype), label: u32, acl, sgl, attrs },
    required: ["acl", "sgl"],
    defaults: { memtype: 0, label: 0, attrs: [] },
    build: (id, v) =>
      ({
        id,
        memType: v("memtype"),
        label: v("label"),
        acl: v("acl"),
        sgl: v("sgl"),
        attrs: v("attrs"),
      }) as RmRequest,
  },
  MEM_ACCEPT: {
    keys: {
      handle: u32,
      memtype: choice(NAMED.memtype),
      transtype: choice(NAMED.transtype),
      flags: flags(NAMED.acceptFlags),
      label: u32,
      acl,
      sgl,
      mapvmid: u16,
      attrs,
    },
    required: ["handle"],
    defaults: {
      memtype: 0,
      transtype: 1,
      flags: 0,
      label: 0,
      acl: [],
      sgl: [],
      mapvmid: 0,
      attrs: [],
    },
    build: (id, v) =>
      ({
        id,
        handle: v("handle"),
        memType: v("memtype"),
        transType: v("transtype"),
        flags: v("flags"),
        label: v("label"),
        acl: v("acl"),
        sgl: v("sgl"),
        mapVmid: v("mapvmid"),
        attrs: v("attrs"),
      }) as RmRequest,
  },
  MEM_APPEND: {
    keys: { handle: u32, flags: flags(NAMED.appendFlags), sgl },
    required: ["handle", "sgl"],
    defaults: { flags: 0 },
    build: (id, v) => ({ id, handle: v("handle"), flags: v("flags"), sgl: v("sgl") }) as RmRequest,
  },
  MEM_RELEASE: release(NAMED.releaseFlags),
  MEM_RECLAIM: release(NAMED.releaseFlags),
  MEM_NOTIFY: {
    keys: { handle: u32, flags: choice(NAMED.notify), tag: u32, vmids },
    required: ["handle", "flags"],
    defaults: { tag: 0 },
    build: (id, v) => {
      const f = v("flags") as number;
      const list = v("vmids") as number[] | undefined;
      const withList = f === NAMED.notify.shared || f === NAMED.notify.recall;
      if (!withList && list !== undefined)
        bad(`vmids: only flags=shared and flags=recall carry a VMID list`);
      const base = {
        id: "MEM_NOTIFY" as const,
        handle: v("handle") as number,
        flags: f,
        memInfoTag: v("tag") as number,
      };
      return withList ? { ...base, vmids: list ?? [] } : base;
    },
  },
  VM_ALLOCATE: vmidOnly(true),
  VM_DEALLOCATE: vmidOnly(false),
  VM_START: vmidOnly(false),
  VM_RESET: vmidOnly(false),
  VM_INIT: vmidOnly(false),
  VM_GET_STATE: vmidOnly(true),
  VM_GET_HYP_RESOURCES: vmidOnly(false),
  VM_STOP: {
    keys: { vmid: u16, flags: flags(NAMED.stopFlags), reason: choice(NAMED.reason, 32) },
    required: ["vmid"],
    defaults: { flags: 0, reason: 0 },
    build: (id, v) =>
      ({ id, vmid: v("vmid"), flags: v("flags"), stopReason: v("reason") }) as RmRequest,
  },
  VM_CONFIG_IMAGE: {
    keys: { vmid: u16, auth: choice(NAMED.auth, 16), handle: u32, image: range, dtb: range },
    required: ["vmid", "handle", "dtb"],
    defaults: { auth: 0, image: { offset: 0, size: 0 } },
    build: (id, v) => {
      const image = v("image") as { offset: number; size: number };
      const dtb = v("dtb") as { offset: number; size: number };
      return {
        id: "VM_CONFIG_IMAGE",
        vmid: v("vmid") as number,
        auth: v("auth") as number,
        memHandle: v("handle") as number,
        imageOffset: image.offset,
        imageSize: image.size,
        dtbOffset: dtb.offset,
        dtbSize: dtb.size,
      };
    },
  },
  VM_AUTH_IMAGE: {
    keys: { vmid: u16, params },
    required: ["vmid"],
    defaults: { params: [] },
    build: (id, v) => ({ id, vmid: v("vmid"), params: v("params") }) as RmRequest,
  },
  VM_GET_VMID: { keys: {}, required: [], build: () => ({ id: "VM_GET_VMID" }) },
  VM_SET_FIRMWARE_MEM: {
    keys: { vmid: u16, handle: u32, offset: num(53), size: num(53) },
    required: ["vmid", "handle", "size"],
    defaults: { offset: 0 },
    build: (id, v) =>
      ({
        id,
        vmid: v("vmid"),
        handle: v("handle"),
        offset: v("offset"),
        size: v("size"),
      }) as RmRequest,
  },
  VM_EXIT: {
    keys: { flags: num(16), code: choice(NAMED.exitCode) },
    required: [],
    defaults: { flags: 0, code: 0 },
    build: (id, v) => ({ id, exitFlags: v("flags"), exitCode: v("code") }) as RmRequest,
  },
};

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(
        prev[j]! + 1,
        row[j - 1]! + 1,
        prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    prev = row;
  }
  return prev[b.length]!;
}

/** The RPC named `name` (any case), or an error naming it and the RPCs there are. */
export function rpcName(name: string): RequestName {
  const upper = name.toUpperCase();
  if (isRequestName(upper)) return upper;
  const bare = (n: string) => n.replace(/^(MEM|VM)_/, "");
  let near: RequestName | undefined;
  let best = 3;
  for (const n of REQUEST_NAMES) {
    const d = Math.min(distance(upper, n), distance(bare(upper), bare(n)));
    if (d < best) [near, best] = [n, d];
  }
  bad(
    `unknown RPC "${name}"${near ? `; did you mean ${near}?` : ""} (RPCs: ${REQUEST_NAMES.join(", ")})`,
  );
}

/** The request `rpc ARGS` stands for. */
export function parseRmCall(rpc: string, args: readonly string[]): RmRequest {
  const id = rpcName(rpc);
  const spec = SPECS[id];
  const given: Values = new Map();
  const takes = () =>
    Object.keys(spec.keys).length === 0
      ? "it takes no arguments"
      : `it takes ${Object.keys(spec.keys).join(", ")}`;
  for (const word of args) {
    const eq = word.indexOf("=");
    if (eq <= 0) bad(`${id}: argument "${word}" is not key=value (${takes()})`);
    const key = word.slice(0, eq).toLowerCase();
    const text = word.slice(eq + 1);
    const k = spec.keys[key];
    if (k === undefined) bad(`${id}: unknown argument "${key}" (${takes()})`);
    let value: unknown;
    try {
      value = k.parse(text);
    } catch (e) {
      if (e instanceof RmArgsError) bad(`${id}: ${key}=${text}: ${e.message}`);
      throw e;
    }
    if (given.has(key)) {
      if (!k.list) bad(`${id}: ${key} is given twice`);
      value = [...(given.get(key) as unknown[]), ...(value as unknown[])];
    }
    given.set(key, value);
  }
  const missing = spec.required.filter((k) => !given.has(k));
  if (missing.length > 0)
    bad(
      `${id}: missing ${missing.map((k) => `${k}=${spec.keys[k]!.syntax}`).join(", ")} (${rpcSyntax(id)})`,
    );
  return spec.build(id, (k) => (given.has(k) ? given.get(k) : spec.defaults?.[k]));
}

/** One RPC's syntax: `MEM_APPEND handle=N sgl=IPA+SIZE[,...] [flags=end[,...]|N]`. */
export function rpcSyntax(id: RequestName): string {
  const spec = SPECS[id];
  const words = Object.entries(spec.keys).map(([k, key]) =>
    spec.required.includes(k) ? `${k}=${key.syntax}` : `[${k}=${key.syntax}]`,
  );
  const req = words.filter((w) => !w.startsWith("["));
  const opt = words.filter((w) => w.startsWith("["));
  return [id, ...req, ...opt].join(" ");
}

/** The syntax of every RPC, one per line. */
export function rmCallSyntax(): string {
  return REQUEST_NAMES.map((id) => `  ${rpcSyntax(id)}`).join("\n");
}
