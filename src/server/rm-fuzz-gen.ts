/**
 * What the socket fuzzer sends: plausible requests for the VM that sends them (lends of the
 * host's RAM to the guests, accepts of handles the RM handed out, VM calls), mutations of their
 * payloads, fragment games, and random bytes. Seeded: one seed, one sequence.
 */
import type { Rng } from "../base/rng.js";
import { mutatePayload } from "../gunyah/wire/fuzz.js";
import type { RmRequest } from "../gunyah/wire/index.js";
import {
  encodeRequest,
  fragmentMessage,
  MSG,
  MSG_TYPE,
  requestMsgId,
} from "../gunyah/wire/index.js";

/** The host RAM the generator lends from (the fuzz machine's). */
export interface FuzzWorld {
  readonly hostRam: number;
  readonly hostRamSize: number;
  readonly guests: readonly number[];
  /** Handles the RM replied recently. */
  readonly handles: number[];
}

const u8 = (rng: Rng) => (rng.chance(0.1) ? rng.pick([0, 0xff]) : rng.int(0, 0xff));
const u16 = (rng: Rng) => (rng.chance(0.1) ? rng.pick([0, 0xffff]) : rng.int(0, 0xffff));
const u32 = (rng: Rng) => (rng.chance(0.1) ? rng.pick([0, 0xffff_ffff]) : rng.u32());

function handle(rng: Rng, w: FuzzWorld): number {
  return w.handles.length > 0 && rng.chance(0.85)
    ? rng.pick(w.handles)
    : rng.chance(0.5)
      ? rng.int(0, 80)
      : u32(rng);
}

function pages(rng: Rng, w: FuzzWorld, n: number) {
  const count = w.hostRamSize / 4096;
  return Array.from({ length: n }, () => ({
    ipa: w.hostRam + rng.int(0, count - 8) * 4096,
    size: 4096 * rng.int(1, 4),
  }));
}

function guestAcl(rng: Rng, w: FuzzWorld, share: boolean) {
  const rights = () => (rng.chance(0.9) ? rng.pick([4, 5, 6, 7]) : u8(rng));
  const acl = [{ vmid: rng.pick(w.guests), rights: rights() }];
  if (rng.chance(0.2)) acl.push({ vmid: rng.pick(w.guests), rights: rights() });
  if (share) acl.push({ vmid: 3, rights: 7 });
  return acl;
}

/** A plausible request from the host. */
function hostRequest(rng: Rng, w: FuzzWorld): RmRequest {
  const guest = () =>
    rng.chance(0.8) ? rng.pick(w.guests) : rng.chance(0.5) ? rng.int(0x80, 0x90) : u16(rng);
  switch (rng.int(0, 11)) {
    case 0:
    case 1:
    case 2: {
      const id = rng.pick(["MEM_LEND", "MEM_LEND", "MEM_SHARE", "MEM_DONATE"] as const);
      const n = rng.chance(0.04) ? rng.int(100, 600) : rng.int(1, 4);
      const io = rng.chance(0.05);
      const sgl = io
        ? [{ ipa: 0x1000_0000 + rng.int(0, 255) * 4096, size: 4096 }]
        : pages(rng, w, n);
      const acl = guestAcl(rng, w, id === "MEM_SHARE");
      const attrs = rng.chance(0.1) ? [{ vmid: acl[0]!.vmid, attr: rng.int(0, 3) }] : [];
      return {
        id,
        memType: io ? 1 : 0,
        flags: rng.pick([0, 0, 0, 1, 2, 3]),
        label: rng.int(0, 9),
        acl,
        sgl,
        attrs,
      };
    }
    case 3:
      return {
        id: "MEM_APPEND",
        handle: handle(rng, w),
        flags: rng.pick([0, 1, 1, u8(rng)]),
        sgl: pages(rng, w, rng.int(1, 3)),
      };
    case 4:
    case 5:
      return { id: "MEM_RECLAIM", handle: handle(rng, w), flags: rng.pick([0, 0, 1]) };
    case 6: {
      const flags = rng.pick([1, 8, 1, 2, 4, u8(rng)]);
      const base = {
        id: "MEM_NOTIFY" as const,
        handle: handle(rng, w),
        flags,
        memInfoTag: rng.int(0, 3),
      };
      return flags === 1 || flags === 8 ? { ...base, vmids: [guest()] } : base;
    }
    case 7:
      return { id: "VM_ALLOCATE", vmid: rng.pick([0, rng.int(0x82, 0x90), u16(rng)]) };
    case 8: // never the fuzz's own guests: their links would go (a mutation may still hit them)
      return { id: "VM_DEALLOCATE", vmid: rng.chance(0.8) ? rng.int(0x82, 0x90) : u16(rng) };
    case 9:
      return rng.chance(0.5)
        ? { id: "VM_GET_STATE", vmid: guest() }
        : { id: "VM_GET_HYP_RESOURCES", vmid: guest() };
    case 10: {
      const vmid = rng.chance(0.7) ? rng.int(0x82, 0x90) : guest();
      switch (rng.int(0, 5)) {
        case 0:
          return {
            id: "VM_CONFIG_IMAGE",
            vmid,
            auth: rng.int(0, 3),
            memHandle: handle(rng, w),
            imageOffset: 0,
            imageSize: 4096 * rng.int(0, 2),
            dtbOffset: 4096 * rng.int(0, 2),
            dtbSize: 4096,
          };
        case 1:
          return { id: "VM_INIT", vmid };
        case 2:
          return { id: "VM_START", vmid };
        case 3:
          return { id: "VM_STOP", vmid, flags: rng.int(0, 1), stopReason: rng.int(0, 3) };
        case 4:
          return { id: "VM_RESET", vmid };
        default:
          return { id: "VM_SET_FIRMWARE_MEM", vmid, handle: handle(rng, w), offset: 0, size: 4096 };
      }
    }
    default:
      return {
        id: "MEM_QCOM_LOOKUP_SGL",
        memType: 0,
        label: rng.int(0, 9),
        acl: guestAcl(rng, w, false),
        sgl: pages(rng, w, 1),
        attrs: [],
      };
  }
}

/** A plausible request from a guest. */
function guestRequest(rng: Rng, w: FuzzWorld, vmid: number): RmRequest {
  switch (rng.int(0, 8)) {
    case 0:
    case 1:
    case 2:
    case 3: {
      const sgl = rng.chance(0.8)
        ? []
        : [{ ipa: 0x100_0000_0000 + rng.int(0, 64) * 0x20_0000, size: 4096 * rng.int(1, 4) }];
      const flags = rng.pick([0, 128, 128, 144, 160, 129, 132, u8(rng)]);
      return {
        id: "MEM_ACCEPT",
        handle: handle(rng, w),
        memType: 0,
        transType: rng.pick([1, 1, 2, 0]),
        flags,
        label: rng.int(0, 9),
        acl: [],
        sgl,
        mapVmid: 0,
        attrs: [],
      };
    }
    case 4:
      return { id: "MEM_RELEASE", handle: handle(rng, w), flags: rng.pick([0, 1]) };
    case 5:
      return {
        id: "MEM_NOTIFY",
        handle: handle(rng, w),
        flags: rng.pick([2, 4]),
        memInfoTag: rng.int(0, 3),
      };
    case 6:
      return { id: "VM_EXIT", exitFlags: u16(rng), exitCode: rng.int(0, 5) };
    case 7:
      return rng.pick([
        { id: "VM_GET_VMID" as const },
        { id: "VM_GET_STATE" as const, vmid: 0 },
        { id: "VM_GET_HYP_RESOURCES" as const, vmid },
      ]);
    default: // the host's calls, from a guest
      return rng.chance(0.5) ? { id: "VM_ALLOCATE", vmid: 0 } : hostRequest(rng, w);
  }
}

/** A plausible request from VM `vmid`. */
export function plausibleRequest(rng: Rng, w: FuzzWorld, vmid: number): RmRequest {
  return vmid === 3 ? hostRequest(rng, w) : guestRequest(rng, w, vmid);
}

/** One fuzz message: the message-queue messages to send, and what it was (for errors). */
export interface FuzzMessage {
  readonly msgs: Uint8Array[];
  readonly what: string;
}

/** The fragments of `payload` as a REQUEST of `msgId`. */
export function requestFragments(
  msgId: number,
  seq: number,
  payload: Uint8Array,
): Uint8Array[] | undefined {
  const f = fragmentMessage(MSG_TYPE.REQUEST, msgId, seq, payload);
  return f.ok ? f.fragments.map((m) => m.slice()) : undefined;
}

/** A fuzz message for VM `vmid`'s link: valid, mutated, fragments played with, or random. */
export function fuzzMessage(rng: Rng, w: FuzzWorld, vmid: number): FuzzMessage {
  const mode = rng.int(0, 99);
  const seq = rng.int(0, 0xffff);
  if (mode < 80) {
    const req = plausibleRequest(rng, w, vmid);
    const msgId = requestMsgId(req);
    let payload = encodeRequest(req);
    let what = `${req.id}`;
    if (mode >= 40 && mode < 70) {
      payload = mutatePayload(rng, payload);
      what = `mutated ${req.id}`;
    }
    const frags = requestFragments(msgId, seq, payload) ?? [];
    if (mode >= 70 && frags.length > 0) {
      what = `${req.id} with its fragments played with`;
      const at = rng.int(0, frags.length - 1);
      switch (rng.int(0, 4)) {
        case 0: // a corrupted header byte
          frags[at]![rng.int(0, 7)]! ^= 1 << rng.int(0, 7);
          break;
        case 1: // a lost fragment
          frags.splice(at, 1);
          break;
        case 2: // a repeated one
          frags.splice(at, 0, frags[at]!);
          break;
        case 3: // a new first fragment discards the partial message
          if (frags.length > 1) frags.splice(at, 0, frags[0]!);
          break;
        default: // a fragment cut short or too long (up to 240 bytes)
          frags[at] = frags[at]!.slice(0, rng.int(1, frags[at]!.length));
      }
    }
    return { msgs: frags, what };
  }
  if (mode < 92) {
    const msgs = Array.from({ length: rng.int(1, 3) }, () => {
      const m = rng.bytes(new Uint8Array(rng.int(1, 240)));
      if (m.length > 0 && rng.chance(0.7)) m[0] = 0x21;
      if (m.length >= 8 && rng.chance(0.5)) m.set([0x12, 0x00, 0x00, 0x51], 4); // a real-looking ID
      return m;
    });
    return { msgs, what: "random bytes" };
  }
  // A reply or notification to the RM (ignored), or an unknown request ID.
  const type = rng.pick([MSG_TYPE.REPLY, MSG_TYPE.NOTIFICATION, MSG_TYPE.REQUEST]);
  const msgId =
    type === MSG_TYPE.REQUEST
      ? rng.pick([0x5100_00ff, 0x5600_00ff, rng.u32()])
      : rng.pick(Object.values(MSG));
  const f = fragmentMessage(type, msgId, seq, rng.bytes(new Uint8Array(rng.int(0, 300))));
  return {
    msgs: f.ok ? f.fragments.map((m) => m.slice()) : [],
    what: `a message of type ${type} ID 0x${msgId.toString(16)}`,
  };
}
