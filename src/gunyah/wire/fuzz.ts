/**
 * A seeded fuzzer for the codec: `fuzzCodec(n, seed)` makes n messages — valid encodings of
 * random requests, replies and notifications, mutations of them (bit flips, truncation,
 * extension, a corrupted list count or fragment header, a lost or repeated fragment) and pure
 * random bytes — and feeds each through a {@link Reassembler} and the decoders. The decoders
 * and the reassembler must never throw: an exception here is a bug and propagates. So does a
 * valid encoding that does not decode, or decodes to something that re-encodes differently.
 */
import { Rng } from "../../base/rng.js";
import type { AclEntry, AttrEntry, RmError, SglEntry } from "../rm/types.js";
import {
  decodeNotification,
  decodeReply,
  decodeRequest,
  encodeNotification,
  encodeReply,
  encodeRequest,
  type ReplyOf,
  type RmNotification,
  type RmRequest,
} from "./codec.js";
import { RM_ERROR_CODES } from "./errors.js";
import { fragmentMessage, Reassembler, type ReassemblyStep } from "./fragment.js";
import { MSG, MSG_TYPE, NOTIFICATION_NAMES, REQUEST_NAMES, type RequestName } from "./ids.js";
import type { DecodeResult } from "./lists.js";
import { notifyHasVmids } from "./mem.js";

/** What a fuzz run did. */
export interface FuzzReport {
  /** Messages made. */
  readonly messages: number;
  /** Payloads the decoders accepted. */
  readonly decoded: number;
  /** Payloads the decoders refused (MSG_INVALID or UNIMPLEMENTED). */
  readonly refused: number;
  /** Messages the reassembler delivered. */
  readonly reassembled: number;
}

const ERRORS = Object.keys(RM_ERROR_CODES) as RmError[];
const IDS = Object.values(MSG);
const COUNTS = [0, 1, 2, 3, 255, 511, 512, 513, 0x7fff, 0xffff];

/** Random values of each field width, biased towards the edges. */
class Gen {
  constructor(readonly rng: Rng) {}
  bits(n: 8 | 16 | 32): number {
    const r = this.rng.int(0, 9);
    if (r === 0) return 0;
    if (r === 1) return 2 ** n - 1;
    return n === 32 ? this.rng.u32() : this.rng.u32() & (2 ** n - 1);
  }
  u64(): number {
    const r = this.rng.int(0, 9);
    if (r === 0) return 0;
    if (r === 1) return Number.MAX_SAFE_INTEGER;
    return this.rng.int(0, 2 ** 44) * (r === 2 ? 512 : 1);
  }
  list<T>(f: () => T): T[] {
    const n = this.rng.chance(0.01) ? this.rng.int(0, 512) : this.rng.int(0, 6);
    return Array.from({ length: n }, f);
  }
  acl = (): AclEntry[] => this.list(() => ({ vmid: this.bits(16), rights: this.bits(8) }));
  sgl = (): SglEntry[] => this.list(() => ({ ipa: this.u64(), size: this.u64() }));
  attrs = (): AttrEntry[] => this.list(() => ({ attr: this.bits(16), vmid: this.bits(16) }));
}

function request(g: Gen, id: RequestName): RmRequest {
  const u8 = () => g.bits(8);
  const u16 = () => g.bits(16);
  const u32 = () => g.bits(32);
  switch (id) {
    case "MEM_LEND":
    case "MEM_SHARE":
    case "MEM_DONATE": {
      return {
        id,
        memType: u8(),
        flags: u8(),
        label: u32(),
        acl: g.acl(),
        sgl: g.sgl(),
        attrs: g.attrs(),
      };
    }
    case "MEM_QCOM_LOOKUP_SGL":
      return { id, memType: u8(), label: u32(), acl: g.acl(), sgl: g.sgl(), attrs: g.attrs() };
    case "MEM_ACCEPT": {
      const [memType, transType, flags] = [u8(), u8(), u8()];
      const head = { id, handle: u32(), memType, transType, flags, label: u32() };
      return { ...head, acl: g.acl(), sgl: g.sgl(), mapVmid: u16(), attrs: g.attrs() };
    }
    case "MEM_APPEND":
      return { id, handle: u32(), flags: u8(), sgl: g.sgl() };
    case "MEM_RELEASE":
    case "MEM_RECLAIM":
      return { id, handle: u32(), flags: u8() };
    case "MEM_NOTIFY": {
      const flags = g.rng.chance(0.5) ? g.rng.pick([1, 2, 4, 8]) : u8();
      const base = { id, handle: u32(), flags, memInfoTag: u32() };
      return notifyHasVmids(flags) ? { ...base, vmids: g.list(u16) } : base;
    }
    case "VM_ALLOCATE":
    case "VM_DEALLOCATE":
    case "VM_START":
    case "VM_RESET":
    case "VM_INIT":
    case "VM_GET_STATE":
    case "VM_GET_HYP_RESOURCES":
      return { id, vmid: u16() };
    case "VM_STOP":
      return { id, vmid: u16(), flags: u8(), stopReason: u32() };
    case "VM_CONFIG_IMAGE": {
      const image = {
        imageOffset: g.u64(),
        imageSize: g.u64(),
        dtbOffset: g.u64(),
        dtbSize: g.u64(),
      };
      return { id, vmid: u16(), auth: u16(), memHandle: u32(), ...image };
    }
    case "VM_AUTH_IMAGE":
      return { id, vmid: u16(), params: g.list(() => ({ type: u32(), param: u32() })) };
    case "VM_GET_VMID":
      return { id };
    case "VM_SET_FIRMWARE_MEM":
      return { id, vmid: u16(), handle: u32(), offset: g.u64(), size: g.u64() };
    case "VM_EXIT":
      return { id, exitFlags: u16(), exitCode: u8() };
  }
}

function reply(g: Gen, id: RequestName): ReplyOf<RequestName> {
  const err = g.rng.chance(0.7) ? "OK" : g.rng.pick(ERRORS);
  if (err !== "OK") return { err };
  switch (id) {
    case "MEM_LEND":
    case "MEM_SHARE":
    case "MEM_DONATE":
    case "MEM_QCOM_LOOKUP_SGL":
      return { err, handle: g.bits(32) };
    case "MEM_ACCEPT":
      return g.rng.chance(0.5) ? { err } : { err, chosen: { flags: g.bits(8), sgl: g.sgl() } };
    case "VM_ALLOCATE":
    case "VM_GET_VMID":
      return { err, vmid: g.bits(32) };
    case "VM_GET_STATE":
      return { err, vmState: g.bits(8), osStatus: g.bits(8), appStatus: g.bits(16) };
    case "VM_GET_HYP_RESOURCES": {
      const res = () => ({
        ...{ type: g.bits(8), partnerVmid: g.bits(16), handle: g.bits(32), label: g.bits(32) },
        ...{
          capId: g.u64(),
          virqHandle: g.bits(32),
          virq: g.bits(32),
          base: g.u64(),
          size: g.u64(),
        },
      });
      return { err, resources: g.list(res) };
    }
    case "MEM_APPEND":
    case "MEM_RELEASE":
    case "MEM_RECLAIM":
    case "MEM_NOTIFY":
    case "VM_DEALLOCATE":
    case "VM_START":
    case "VM_STOP":
    case "VM_RESET":
    case "VM_CONFIG_IMAGE":
    case "VM_AUTH_IMAGE":
    case "VM_INIT":
    case "VM_SET_FIRMWARE_MEM":
    case "VM_EXIT":
      return { err };
  }
}

function notification(g: Gen): RmNotification {
  const id = g.rng.pick(NOTIFICATION_NAMES);
  const [u8, u16, u32] = [() => g.bits(8), () => g.bits(16), () => g.bits(32)];
  switch (id) {
    case "MEM_SHARED": {
      const head = { id, handle: u32(), memType: u8(), transType: u8(), flags: u8(), owner: u16() };
      const rest = { label: u32(), memInfoTag: u32(), acl: g.acl(), sizes: g.list(() => g.u64()) };
      return { ...head, ...rest, attrs: g.attrs() };
    }
    case "MEM_ACCEPTED":
    case "MEM_RELEASED":
      return { id, handle: u32(), vmid: u16(), memInfoTag: u32() };
    case "MEM_RECALL":
      return { id, handle: u32(), memInfoTag: u32() };
    case "VM_STATUS":
      return { id, vmid: u16(), vmStatus: u8(), osStatus: u8(), appStatus: u16() };
    case "VM_EXITED":
      return { id, vmid: u16(), exitType: u16(), reason: g.list(u32) };
    case "VM_SHUTDOWN":
      return { id, stopReason: u32() };
  }
}

type Kind = typeof MSG_TYPE.REQUEST | typeof MSG_TYPE.REPLY | typeof MSG_TYPE.NOTIFICATION;

function decode(type: number, msgId: number, payload: Uint8Array): DecodeResult<unknown> {
  if (type === MSG_TYPE.REQUEST) return decodeRequest(msgId, payload);
  if (type === MSG_TYPE.REPLY) return decodeReply(msgId, payload);
  return decodeNotification(msgId, payload);
}

/** A valid message: its type, ID and payload. */
function valid(g: Gen): { type: Kind; msgId: number; payload: Uint8Array } {
  const pick = g.rng.int(0, 2);
  if (pick === 2) {
    const n = notification(g);
    return { type: MSG_TYPE.NOTIFICATION, msgId: MSG[n.id], payload: encodeNotification(n) };
  }
  const id = g.rng.pick(REQUEST_NAMES);
  if (pick === 0)
    return { type: MSG_TYPE.REQUEST, msgId: MSG[id], payload: encodeRequest(request(g, id)) };
  return { type: MSG_TYPE.REPLY, msgId: MSG[id], payload: encodeReply(id, reply(g, id)) };
}

/** A mutation of `p`: bit flips, truncation, extension or a corrupted le16 count. */
/**
 * A mutation of payload `p`: 1..8 bit flips, a truncation (strictly shorter), an extension by
 * 1..16 random bytes, or a list count (a le16 at a 4-byte boundary) set to an edge value. Shared
 * by the codec fuzzer and the socket fuzzer (server/rm-fuzz-gen.ts).
 */
export function mutatePayload(rng: Rng, p: Uint8Array): Uint8Array {
  switch (rng.int(0, 3)) {
    case 0: {
      const out = p.slice();
      for (let k = rng.int(1, 8); k > 0 && out.length > 0; k--)
        out[rng.int(0, out.length - 1)]! ^= 1 << rng.int(0, 7);
      return out;
    }
    case 1:
      return p.slice(0, rng.int(0, Math.max(0, p.length - 1)));
    case 2: {
      const out = new Uint8Array(p.length + rng.int(1, 16));
      out.set(p);
      rng.bytes(out.subarray(p.length));
      return out;
    }
    default: {
      const out = p.slice();
      if (out.length < 2) return out;
      const at = rng.int(0, (out.length - 2) >> 2) * 4;
      const v = rng.pick(COUNTS);
      out[at] = v & 0xff;
      out[at + 1] = v >>> 8;
      return out;
    }
  }
}

/** Fuzz the codec with `n` messages from generator `seed`. */
export function fuzzCodec(n: number, seed: number): FuzzReport {
  const g = new Gen(new Rng(seed));
  const rng = g.rng;
  const reassembler = new Reassembler();
  let decoded = 0;
  let refused = 0;
  let reassembled = 0;
  const count = (r: DecodeResult<unknown>) => (r.ok ? decoded++ : refused++);
  const seen = (step: ReassemblyStep) => {
    if (step.kind !== "message") return;
    reassembled++;
    count(decode(step.type, step.msgId, step.payload));
  };
  for (let i = 0; i < n; i++) {
    const mode = rng.int(0, 9);
    if (mode === 0) {
      // Pure random bytes: as a message-queue message (often with a plausible first byte),
      // and as a payload of a random ID.
      const raw = rng.bytes(new Uint8Array(rng.int(0, 260)));
      if (raw.length > 0 && rng.chance(0.7)) raw[0] = 0x21;
      seen(reassembler.push(raw));
      count(decode(rng.int(1, 3), rng.chance(0.8) ? rng.pick(IDS) : rng.u32(), raw));
      continue;
    }
    const m = valid(g);
    let payload = m.payload;
    if (mode <= 3) {
      // A valid encoding decodes, and re-encodes to the same bytes.
      const r = decode(m.type, m.msgId, payload);
      if (!r.ok) throw new Error(`fuzz: valid ${m.msgId.toString(16)} refused: ${r.reason}`);
      check(m.type, r.value, payload);
    } else payload = mutatePayload(g.rng, payload);
    count(decode(m.type, m.msgId, payload));
    const frames = fragmentMessage(m.type, m.msgId, rng.int(0, 0xffff), payload);
    if (!frames.ok) continue;
    const fs = frames.fragments.map((f) =>
      mode >= 8 && rng.chance(0.2) ? mutatePayload(g.rng, f) : f,
    );
    if (mode === 9 && fs.length > 1) {
      const at = rng.int(1, fs.length - 1);
      if (rng.chance(0.5)) fs.splice(at, 1);
      else fs.splice(at, 0, fs[at]!);
    }
    for (const f of fs) seen(reassembler.push(f));
  }
  return { messages: n, decoded, refused, reassembled };
}

function check(type: number, value: unknown, payload: Uint8Array): void {
  const again =
    type === MSG_TYPE.REQUEST
      ? encodeRequest(value as RmRequest)
      : type === MSG_TYPE.REPLY
        ? encodeReply((value as { id: RequestName }).id, value as ReplyOf<RequestName>)
        : encodeNotification(value as RmNotification);
  if (again.length !== payload.length || again.some((b, i) => b !== payload[i]))
    throw new Error(`fuzz: a decoded valid message re-encodes differently`);
}
