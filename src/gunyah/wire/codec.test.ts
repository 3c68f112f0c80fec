/**
 * Every request, reply and notification of the reference against golden byte vectors written
 * out by hand from the layouts of §1 and §4 (not produced by the encoder), in both directions;
 * decode(encode(x)) = x for every message type; and malformed payloads refused with the exact
 * error and reason.
 */
import { fc, it as prop } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";

import { expectError } from "../../base/errors.testutil.js";
import type { RmError, RmNotice } from "../rm/types.js";
import {
  decodeNotification,
  decodeReply,
  decodeRequest,
  encodeNotice,
  encodeNotification,
  encodeReply,
  encodeRequest,
  type NotificationOf,
  type ReplyOf,
  type RequestOf,
  type RmNotification,
  type RmRequest,
} from "./codec.js";
import { linuxErrno, RM_ERROR_CODES, rmErrorCode, rmErrorName } from "./errors.js";
import {
  MSG,
  msgIdByName,
  msgName,
  NOTIFICATION_NAMES,
  REQUEST_NAMES,
  type RequestName,
} from "./ids.js";
import { notifyHasVmids } from "./mem.js";

function bytes(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, "");
  return Uint8Array.from(clean.match(/../g) ?? [], (b) => parseInt(b, 16));
}

function hexOf(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

// --- Golden vectors ----------------------------------------------------------------------------

const RQ: ReadonlyArray<readonly [string, RmRequest, string]> = [
  [
    "MEM_LEND as Linux sends it (ACL le32 count, SGL le16 count + pad, attributes u32 0)",
    {
      id: "MEM_LEND",
      memType: 0,
      flags: 0,
      label: 0x11,
      acl: [{ vmid: 0x80, rights: 7 }],
      sgl: [{ ipa: 0x8000_0000, size: 0x20_0000 }],
      attrs: [],
    },
    "00 00 00 00 11000000  01000000 8000 07 00  01000000 0000008000000000 0000200000000000  00000000",
  ],
  [
    "MEM_SHARE with SANITIZE, two ACL entries, two regions and an attribute",
    {
      id: "MEM_SHARE",
      memType: 0,
      flags: 1,
      label: 0x22,
      acl: [
        { vmid: 0x80, rights: 6 },
        { vmid: 3, rights: 7 },
      ],
      sgl: [
        { ipa: 0x8000_0000, size: 0x1000 },
        { ipa: 0x9000_0000, size: 0x2000 },
      ],
      attrs: [{ attr: 3, vmid: 0x80 }],
    },
    "00 00 01 00 22000000  02000000 8000 06 00 0300 07 00" +
      "  02000000 0000008000000000 0010000000000000 0000009000000000 0020000000000000" +
      "  01000000 0300 8000",
  ],
  [
    "MEM_DONATE of IO memory with APPEND, an IPA above 4 GiB",
    {
      id: "MEM_DONATE",
      memType: 1,
      flags: 2,
      label: 0xdead_beef,
      acl: [{ vmid: 0x81, rights: 6 }],
      sgl: [{ ipa: 2 ** 32, size: 0x1_0000 }],
      attrs: [{ attr: 1, vmid: 0x81 }],
    },
    "01 00 02 00 efbeadde  01000000 8100 06 00  01000000 0000000001000000 0000010000000000  01000000 0100 8100",
  ],
  [
    "MEM_APPEND with END",
    { id: "MEM_APPEND", handle: 5, flags: 1, sgl: [{ ipa: 0x8020_0000, size: 0x1000 }] },
    "05000000 01 000000  01000000 0000208000000000 0010000000000000",
  ],
  [
    "MEM_ACCEPT with DONE | VALIDATE_ACL_ATTR at a caller-chosen IPA",
    {
      id: "MEM_ACCEPT",
      handle: 7,
      memType: 0,
      transType: 1,
      flags: 0x82,
      label: 0x11,
      acl: [{ vmid: 0x80, rights: 7 }],
      sgl: [{ ipa: 0x4000_0000, size: 0x20_0000 }],
      mapVmid: 0,
      attrs: [],
    },
    "07000000 00 01 82 00 11000000  01000000 8000 07 00  01000000 0000004000000000 0000200000000000  00000000",
  ],
  [
    "MEM_ACCEPT with no SGL (RM picks IPAs) and map_vmid 0x80 in the SGL list's second le16",
    {
      id: "MEM_ACCEPT",
      handle: 0,
      memType: 0,
      transType: 2,
      flags: 0x80,
      label: 0,
      acl: [],
      sgl: [],
      mapVmid: 0x80,
      attrs: [],
    },
    "00000000 00 02 80 00 00000000  00000000  00008000  00000000",
  ],
  ["MEM_RELEASE with SANITIZE", { id: "MEM_RELEASE", handle: 9, flags: 1 }, "09000000 01 000000"],
  ["MEM_RECLAIM", { id: "MEM_RECLAIM", handle: 0x1234_5678, flags: 0 }, "78563412 00 000000"],
  [
    "MEM_NOTIFY SHARED to two VMs",
    { id: "MEM_NOTIFY", handle: 7, flags: 1, memInfoTag: 0xabcd, vmids: [0x80, 0x81] },
    "07000000 01 000000 cdab0000  02000000 8000 0000 8100 0000",
  ],
  [
    "MEM_NOTIFY RELEASED (no VMID list)",
    { id: "MEM_NOTIFY", handle: 7, flags: 2, memInfoTag: 0xabcd },
    "07000000 02 000000 cdab0000",
  ],
  [
    "MEM_NOTIFY ACCEPTED (no VMID list)",
    { id: "MEM_NOTIFY", handle: 7, flags: 4, memInfoTag: 0 },
    "07000000 04 000000 00000000",
  ],
  [
    "MEM_NOTIFY RECALL to one VM",
    { id: "MEM_NOTIFY", handle: 7, flags: 8, memInfoTag: 0xabcd, vmids: [0x80] },
    "07000000 08 000000 cdab0000  01000000 8000 0000",
  ],
  [
    "MEM_QCOM_LOOKUP_SGL",
    {
      id: "MEM_QCOM_LOOKUP_SGL",
      memType: 0,
      label: 0x11,
      acl: [{ vmid: 3, rights: 7 }],
      sgl: [{ ipa: 0x8000_0000, size: 0x1000 }],
      attrs: [],
    },
    "00 000000 11000000  01000000 0300 07 00  01000000 0000008000000000 0010000000000000  00000000",
  ],
  ["VM_ALLOCATE of a dynamic VMID", { id: "VM_ALLOCATE", vmid: 0 }, "0000 0000"],
  ["VM_DEALLOCATE", { id: "VM_DEALLOCATE", vmid: 0x80 }, "8000 0000"],
  ["VM_START", { id: "VM_START", vmid: 0x80 }, "8000 0000"],
  [
    "VM_STOP with FORCE, reason FORCE_STOP",
    { id: "VM_STOP", vmid: 0x80, flags: 1, stopReason: 3 },
    "8000 01 00 03000000",
  ],
  ["VM_RESET", { id: "VM_RESET", vmid: 0x81 }, "8100 0000"],
  [
    "VM_CONFIG_IMAGE as Linux sends it (image 0/0, DTB at offset 0x1000)",
    {
      id: "VM_CONFIG_IMAGE",
      vmid: 0x80,
      auth: 0,
      memHandle: 4,
      imageOffset: 0,
      imageSize: 0,
      dtbOffset: 0x1000,
      dtbSize: 0x2000,
    },
    "8000 0000 04000000 0000000000000000 0000000000000000 0010000000000000 0020000000000000",
  ],
  [
    "VM_AUTH_IMAGE with two parameters",
    {
      id: "VM_AUTH_IMAGE",
      vmid: 0x80,
      params: [
        { type: 1, param: 0x1234 },
        { type: 2, param: 0xffff_ffff },
      ],
    },
    "8000 0200 01000000 34120000 02000000 ffffffff",
  ],
  ["VM_INIT", { id: "VM_INIT", vmid: 0x80 }, "8000 0000"],
  ["VM_GET_STATE of self", { id: "VM_GET_STATE", vmid: 0 }, "0000 0000"],
  ["VM_GET_HYP_RESOURCES", { id: "VM_GET_HYP_RESOURCES", vmid: 0x80 }, "8000 0000"],
  ["VM_GET_VMID (empty)", { id: "VM_GET_VMID" }, ""],
  [
    "VM_SET_FIRMWARE_MEM",
    { id: "VM_SET_FIRMWARE_MEM", vmid: 0x80, handle: 2, offset: 0x1_0000, size: 0x10_0000 },
    "8000 0000 02000000 0000010000000000 0000100000000000",
  ],
  ["VM_EXIT with SW_ERROR", { id: "VM_EXIT", exitFlags: 1, exitCode: 1 }, "0100 01 00"],
];

type AnyReply = { id: RequestName } & ReplyOf<RequestName>;

const RP: ReadonlyArray<readonly [AnyReply, string]> = [
  [{ id: "MEM_LEND", err: "OK", handle: 5 }, "00000000 05000000"],
  [{ id: "MEM_SHARE", err: "OK", handle: 0 }, "00000000 00000000"],
  [{ id: "MEM_DONATE", err: "DENIED" }, "03000000"],
  [{ id: "MEM_QCOM_LOOKUP_SGL", err: "OK", handle: 0x10 }, "00000000 10000000"],
  [{ id: "MEM_QCOM_LOOKUP_SGL", err: "LOOKUP_FAILED" }, "0e000000"],
  [{ id: "MEM_ACCEPT", err: "OK" }, "00000000"],
  [
    { id: "MEM_ACCEPT", err: "OK", chosen: { flags: 1, sgl: [{ ipa: 2 ** 40, size: 0x20_0000 }] } },
    "00000000  0100 01 00  0000000000010000 0000200000000000",
  ],
  [{ id: "MEM_ACCEPT", err: "VALIDATE_FAILED" }, "08000000"],
  [{ id: "MEM_APPEND", err: "OK" }, "00000000"],
  [{ id: "MEM_RELEASE", err: "MEM_RELEASED" }, "0c000000"],
  [{ id: "MEM_RECLAIM", err: "MEM_INUSE" }, "0b000000"],
  [{ id: "MEM_NOTIFY", err: "ARGUMENT_INVALID" }, "06000000"],
  [{ id: "VM_ALLOCATE", err: "OK", vmid: 0x80 }, "00000000 80000000"],
  [{ id: "VM_ALLOCATE", err: "NORESOURCE" }, "02000000"],
  [{ id: "VM_DEALLOCATE", err: "VM_STATE" }, "14000000"],
  [{ id: "VM_START", err: "OK" }, "00000000"],
  [{ id: "VM_START", err: "UNIMPLEMENTED" }, "ffffffff"],
  [{ id: "VM_STOP", err: "VMID_INVALID" }, "0d000000"],
  [{ id: "VM_RESET", err: "OK" }, "00000000"],
  [{ id: "VM_CONFIG_IMAGE", err: "MEM_INVALID" }, "0a000000"],
  [{ id: "VM_AUTH_IMAGE", err: "OK" }, "00000000"],
  [{ id: "VM_INIT", err: "OK" }, "00000000"],
  [
    { id: "VM_GET_STATE", err: "OK", vmState: 3, osStatus: 4, appStatus: 0x1234 },
    "00000000 03043412",
  ],
  [
    {
      id: "VM_GET_HYP_RESOURCES",
      err: "OK",
      resources: [
        {
          type: 2,
          partnerVmid: 0x80,
          handle: 1,
          label: 0,
          capId: 0x1234_5678_9abc,
          virqHandle: 0,
          virq: 0x20,
          base: 0,
          size: 0,
        },
      ],
    },
    "00000000 01000000" +
      "  02 00 8000 01000000 00000000 bc9a785634120000 00000000 20000000 0000000000000000 0000000000000000",
  ],
  [{ id: "VM_GET_HYP_RESOURCES", err: "OK", resources: [] }, "00000000 00000000"],
  [{ id: "VM_GET_VMID", err: "OK", vmid: 3 }, "00000000 03000000"],
  [{ id: "VM_SET_FIRMWARE_MEM", err: "OK" }, "00000000"],
  [{ id: "VM_EXIT", err: "OK" }, "00000000"],
];

const NT: ReadonlyArray<readonly [RmNotification, string]> = [
  [
    {
      id: "MEM_SHARED",
      handle: 7,
      memType: 0,
      transType: 2,
      flags: 1,
      owner: 3,
      label: 0x11,
      memInfoTag: 0xabcd,
      acl: [
        { vmid: 0x80, rights: 6 },
        { vmid: 3, rights: 7 },
      ],
      sizes: [0x20_0000, 0x1000],
      attrs: [],
    },
    "07000000 00 02 01 00 0300 0000 11000000 cdab0000" +
      "  02000000 8000 06 00 0300 07 00  02000000 0000200000000000 0010000000000000  00000000",
  ],
  [
    { id: "MEM_ACCEPTED", handle: 7, vmid: 0x80, memInfoTag: 0xabcd },
    "07000000 8000 0000 cdab0000",
  ],
  [{ id: "MEM_RELEASED", handle: 7, vmid: 0x81, memInfoTag: 0 }, "07000000 8100 0000 00000000"],
  [{ id: "MEM_RECALL", handle: 7, memInfoTag: 0xabcd }, "07000000 cdab0000"],
  [
    { id: "VM_STATUS", vmid: 0x80, vmStatus: 11, osStatus: 0, appStatus: 0 },
    "8000 0000 0b 00 0000",
  ],
  [
    { id: "VM_STATUS", vmid: 0x81, vmStatus: 3, osStatus: 4, appStatus: 0xbeef },
    "8100 0000 03 04 efbe",
  ],
  [{ id: "VM_EXITED", vmid: 0x80, exitType: 7, reason: [0] }, "8000 0700 04000000 00000000"],
  [
    // VM_EXIT by the guest: reason[0] = exit_flags 1 | exit_code SW_ERROR (1) << 16.
    { id: "VM_EXITED", vmid: 0x80, exitType: 0, reason: [0x0001_0001, 0xcafe] },
    "8000 0000 08000000 01000100 feca0000",
  ],
  [{ id: "VM_SHUTDOWN", stopReason: 1 }, "01000000"],
];

describe("golden requests", () => {
  it.each(RQ)("%s", (_, value, hex) => {
    expect(hexOf(encodeRequest(value))).toBe(hex.replace(/\s+/g, ""));
    expect(decodeRequest(MSG[value.id], bytes(hex))).toEqual({ ok: true, value });
  });

  it("covers every request ID", () => {
    expect(new Set(RQ.map(([, v]) => v.id))).toEqual(new Set(REQUEST_NAMES));
  });
});

describe("golden replies", () => {
  it.each(RP)("%o", (reply, hex) => {
    expect(hexOf(encodeReply(reply.id, reply))).toBe(hex.replace(/\s+/g, ""));
    expect(decodeReply(MSG[reply.id], bytes(hex))).toEqual({ ok: true, value: reply });
  });

  it("covers every request ID", () => {
    expect(new Set(RP.map(([r]) => r.id))).toEqual(new Set(REQUEST_NAMES));
  });

  it("an error reply is its error alone: bytes after the error word are ignored", () => {
    // The RM's VM_SET_FIRMWARE_MEM appends the hypervisor's error word to its errors.
    expect(decodeReply(MSG.VM_SET_FIRMWARE_MEM, bytes("14000000 01000000"))).toEqual({
      ok: true,
      value: { id: "VM_SET_FIRMWARE_MEM", err: "VM_STATE" },
    });
  });
});

describe("golden notifications", () => {
  it.each(NT)("%o", (n, hex) => {
    expect(hexOf(encodeNotification(n))).toBe(hex.replace(/\s+/g, ""));
    expect(decodeNotification(MSG[n.id], bytes(hex))).toEqual({ ok: true, value: n });
  });

  it("covers every notification ID", () => {
    expect(new Set(NT.map(([n]) => n.id))).toEqual(new Set(NOTIFICATION_NAMES));
  });

  it("encodes the semantic notices of rm/types.ts", () => {
    const shared: RmNotice = {
      kind: "MEM_SHARED",
      to: 0x80,
      handle: 7,
      memType: 0,
      transType: 2,
      sanitize: true,
      owner: 3,
      label: 0x11,
      memInfoTag: 0xabcd,
      acl: [
        { vmid: 0x80, rights: 6 },
        { vmid: 3, rights: 7 },
      ],
      sizes: [0x20_0000, 0x1000],
      attrs: [],
    };
    const e = encodeNotice(shared);
    expect({ ...e, payload: hexOf(e.payload) }).toEqual({
      to: 0x80,
      msgId: 0x5110_0011,
      name: "MEM_SHARED",
      payload: NT[0]![1].replace(/\s+/g, ""),
    });
    const cases: ReadonlyArray<readonly [RmNotice, number, string]> = [
      [
        { kind: "MEM_ACCEPTED", to: 3, handle: 7, vmid: 0x80, memInfoTag: 0xabcd },
        0x5110_0013,
        "070000008000" + "0000cdab0000",
      ],
      [
        { kind: "MEM_RELEASED", to: 3, handle: 7, vmid: 0x81, memInfoTag: 0 },
        0x5110_0012,
        "07000000810000000000" + "0000",
      ],
      [
        { kind: "MEM_RECALL", to: 0x80, handle: 7, memInfoTag: 0xabcd },
        0x5110_0014,
        "07000000cdab0000",
      ],
      [
        { kind: "VM_STATUS", to: 3, vmid: 0x80, vmStatus: 11, osStatus: 0, appStatus: 0 },
        0x5610_0008,
        "800000000b000000",
      ],
      [
        { kind: "VM_EXITED", to: 3, vmid: 0x80, exitType: 7, reason: [0] },
        0x5610_0001,
        "800007000400000000000000",
      ],
      [{ kind: "VM_SHUTDOWN", to: 0x80, stopReason: 0 }, 0x5610_0002, "00000000"],
    ];
    for (const [notice, msgId, hex] of cases) {
      const enc = encodeNotice(notice);
      expect([enc.to, enc.msgId, hexOf(enc.payload)]).toEqual([notice.to, msgId, hex]);
    }
  });
});

describe("IDs and error codes (reference §1, §6)", () => {
  it("names every ID of §1", () => {
    const golden: ReadonlyArray<readonly [string, number]> = [
      ["MEM_DONATE", 0x5100_0010],
      ["MEM_ACCEPT", 0x5100_0011],
      ["MEM_LEND", 0x5100_0012],
      ["MEM_SHARE", 0x5100_0013],
      ["MEM_RELEASE", 0x5100_0014],
      ["MEM_RECLAIM", 0x5100_0015],
      ["MEM_NOTIFY", 0x5100_0017],
      ["MEM_APPEND", 0x5100_0018],
      ["MEM_QCOM_LOOKUP_SGL", 0x5100_001a],
      ["MEM_SHARED", 0x5110_0011],
      ["MEM_RELEASED", 0x5110_0012],
      ["MEM_ACCEPTED", 0x5110_0013],
      ["MEM_RECALL", 0x5110_0014],
      ["VM_ALLOCATE", 0x5600_0001],
      ["VM_DEALLOCATE", 0x5600_0002],
      ["VM_START", 0x5600_0004],
      ["VM_STOP", 0x5600_0005],
      ["VM_RESET", 0x5600_0006],
      ["VM_CONFIG_IMAGE", 0x5600_0009],
      ["VM_AUTH_IMAGE", 0x5600_000a],
      ["VM_INIT", 0x5600_000b],
      ["VM_GET_STATE", 0x5600_0017],
      ["VM_GET_HYP_RESOURCES", 0x5600_0020],
      ["VM_GET_VMID", 0x5600_0024],
      ["VM_SET_FIRMWARE_MEM", 0x5600_0032],
      ["VM_EXIT", 0x5600_0085],
      ["VM_EXITED", 0x5610_0001],
      ["VM_SHUTDOWN", 0x5610_0002],
      ["VM_STATUS", 0x5610_0008],
    ];
    expect(Object.entries(MSG)).toHaveLength(golden.length);
    for (const [name, id] of golden) {
      expect(msgName(id)).toBe(name);
      expect(msgIdByName(name)).toBe(id);
    }
    expect(msgName(0x5100_0016)).toBeUndefined();
    expect(msgIdByName("toString")).toBeUndefined();
  });

  it("maps RM error codes and the Linux errnos", () => {
    const golden: ReadonlyArray<readonly [RmError, number, string, number]> = [
      ["OK", 0x0, "OK", 0],
      ["UNIMPLEMENTED", 0xffff_ffff, "EOPNOTSUPP", 95],
      ["NOMEM", 0x1, "ENOMEM", 12],
      ["NORESOURCE", 0x2, "ENODEV", 19],
      ["DENIED", 0x3, "EPERM", 1],
      ["MSG_INVALID", 0x4, "EINVAL", 22],
      ["BUSY", 0x5, "EBUSY", 16],
      ["ARGUMENT_INVALID", 0x6, "EINVAL", 22],
      ["HANDLE_INVALID", 0x7, "EINVAL", 22],
      ["VALIDATE_FAILED", 0x8, "EINVAL", 22],
      ["MAP_FAILED", 0x9, "EINVAL", 22],
      ["MEM_INVALID", 0xa, "EINVAL", 22],
      ["MEM_INUSE", 0xb, "EINVAL", 22],
      ["MEM_RELEASED", 0xc, "EINVAL", 22],
      ["VMID_INVALID", 0xd, "EINVAL", 22],
      ["LOOKUP_FAILED", 0xe, "EINVAL", 22],
      ["IRQ_INVALID", 0xf, "EINVAL", 22],
      ["IRQ_INUSE", 0x10, "EINVAL", 22],
      ["IRQ_RELEASED", 0x11, "EINVAL", 22],
      ["IN_USE", 0x12, "EBADMSG", 74],
      ["IRQ_NOT_MAPPED", 0x13, "EBADMSG", 74],
      ["VM_STATE", 0x14, "EBADMSG", 74],
    ];
    expect(Object.keys(RM_ERROR_CODES)).toHaveLength(golden.length);
    for (const [name, code, errno, n] of golden) {
      expect(rmErrorCode(name)).toBe(code);
      expect(rmErrorName(code)).toBe(name);
      expect(linuxErrno(code)).toEqual({ name: errno, errno: n });
      expect(linuxErrno(name)).toEqual({ name: errno, errno: n });
    }
    expect(rmErrorName(0x1234)).toBeUndefined();
    expect(linuxErrno(0x1234)).toEqual({ name: "EBADMSG", errno: 74 }); // the driver's default
  });
});

// --- Malformed input ---------------------------------------------------------------------------

const LEND_HEX = RQ[0]![2];

function refused(r: unknown, err: string, reason: string): void {
  expect(r).toEqual({ ok: false, err, reason });
}

describe("malformed requests", () => {
  it("refuses a payload too short for its layout", () => {
    refused(
      decodeRequest(MSG.MEM_LEND, bytes(LEND_HEX).subarray(0, 19)),
      "MSG_INVALID",
      "MEM_LEND: payload of 19 bytes is shorter than the 20 bytes of its header and three list headers",
    );
    refused(
      decodeRequest(MSG.MEM_ACCEPT, bytes("00".repeat(20))),
      "MSG_INVALID",
      "MEM_ACCEPT: payload of 20 bytes is shorter than the 24 bytes of its header and three list headers",
    );
    refused(
      decodeRequest(MSG.MEM_QCOM_LOOKUP_SGL, bytes("00".repeat(12))),
      "MSG_INVALID",
      "MEM_QCOM_LOOKUP_SGL: payload of 12 bytes is shorter than the 16 bytes of its header and two list headers",
    );
    refused(
      decodeRequest(MSG.MEM_APPEND, bytes("05000000 01000000")),
      "MSG_INVALID",
      "MEM_APPEND: payload of 8 bytes is shorter than the 12 bytes of its header and the SGL list header",
    );
    refused(
      decodeRequest(MSG.MEM_NOTIFY, bytes("07000000 02000000")),
      "MSG_INVALID",
      "MEM_NOTIFY: payload of 8 bytes is shorter than the 12 bytes of its header",
    );
    refused(
      decodeRequest(MSG.MEM_NOTIFY, bytes("07000000 01000000 cdab0000")),
      "MSG_INVALID",
      "MEM_NOTIFY: flags 1 needs a VMID list header (4 bytes), 0 bytes left",
    );
    refused(
      decodeRequest(MSG.VM_STOP, bytes("8000 0100 0300")),
      "MSG_INVALID",
      "VM_STOP: payload is 6 bytes, the message is exactly 8",
    );
    refused(
      decodeRequest(MSG.VM_CONFIG_IMAGE, bytes("00".repeat(39))),
      "MSG_INVALID",
      "VM_CONFIG_IMAGE: payload is 39 bytes, the message is exactly 40",
    );
    refused(
      decodeRequest(MSG.VM_EXITED, bytes("")),
      "UNIMPLEMENTED",
      "VM_EXITED (0x56100001) is not a request",
    );
  });

  it("refuses trailing bytes, for list-based and fixed-size requests alike", () => {
    refused(
      decodeRequest(MSG.MEM_LEND, bytes(LEND_HEX + "00000000")),
      "MSG_INVALID",
      "MEM_LEND: 4 bytes left over after the attribute list",
    );
    refused(
      decodeRequest(MSG.MEM_APPEND, bytes(RQ[3]![2] + "00000000")),
      "MSG_INVALID",
      "MEM_APPEND: 4 bytes left over after the SGL list",
    );
    refused(
      decodeRequest(MSG.MEM_RELEASE, bytes("09000000 01000000 00")),
      "MSG_INVALID",
      "MEM_RELEASE: payload is 9 bytes, the message is exactly 8",
    );
    refused(
      decodeRequest(MSG.MEM_NOTIFY, bytes("07000000 02000000 cdab0000 00000000")),
      "MSG_INVALID",
      "MEM_NOTIFY: 4 bytes left over after mem_info_tag",
    );
    refused(
      decodeRequest(MSG.MEM_NOTIFY, bytes("07000000 08000000 cdab0000 01000000 80000000 ff")),
      "MSG_INVALID",
      "MEM_NOTIFY: 1 bytes left over after the VMID list",
    );
    refused(
      decodeRequest(MSG.VM_STOP, bytes("8000 0100 03000000 00")),
      "MSG_INVALID",
      "VM_STOP: payload is 9 bytes, the message is exactly 8",
    );
    refused(
      decodeRequest(MSG.VM_GET_VMID, bytes("00000000")),
      "MSG_INVALID",
      "VM_GET_VMID: payload is 4 bytes, the message is exactly 0",
    );
    refused(
      decodeRequest(MSG.VM_AUTH_IMAGE, bytes("8000 0200 01000000 34120000")),
      "MSG_INVALID",
      "VM_AUTH_IMAGE: 2 auth params need 16 bytes after the first 4, the payload has 8",
    );
  });

  it("refuses list counts that overrun the payload", () => {
    // SGL count 3, two entries and an attribute list of one: 40 bytes after the SGL header.
    const hex =
      "00 00 00 00 11000000  01000000 8000 07 00  03000000" +
      "00".repeat(32) +
      "01000000 0300 8000";
    refused(
      decodeRequest(MSG.MEM_LEND, bytes(hex)),
      "MSG_INVALID",
      "MEM_LEND: SGL list count 3 overruns the payload (40 bytes left, 48 needed)",
    );
    refused(
      decodeRequest(MSG.MEM_SHARE, bytes("00000000 00000000 0900 0000 00000000 00000000 00000000")),
      "MSG_INVALID",
      "MEM_SHARE: ACL list count 9 overruns the payload (12 bytes left, 36 needed)",
    );
    refused(
      decodeRequest(MSG.MEM_NOTIFY, bytes("07000000 01000000 cdab0000 03000000 80000000")),
      "MSG_INVALID",
      "MEM_NOTIFY: VMID list count 3 overruns the payload (4 bytes left, 12 needed)",
    );
  });

  it("refuses a list header that is cut short (a misaligned end)", () => {
    const cut = bytes(LEND_HEX).subarray(0, 38);
    refused(
      decodeRequest(MSG.MEM_LEND, cut),
      "MSG_INVALID",
      "MEM_LEND: 2 bytes left where the attribute list header (4 bytes) would start",
    );
  });

  it("takes the attribute list as optional: the payload may end where it would start", () => {
    const r = decodeRequest(MSG.MEM_LEND, bytes(LEND_HEX).subarray(0, 36));
    expect(r).toEqual({ ok: true, value: RQ[0]![1] });
  });

  it("answers counts above 512 with NORESOURCE (rm_rpc_read_list), 512 decodes", () => {
    const sgl = Array.from({ length: 600 }, (_, i) => ({ ipa: i * 4096, size: 4096 }));
    const req: RmRequest = { id: "MEM_APPEND", handle: 1, flags: 0, sgl };
    expect(decodeRequest(MSG.MEM_APPEND, encodeRequest(req))).toEqual({
      ok: false,
      err: "NORESOURCE",
      reason: "MEM_APPEND: SGL list count 600 is above the 512-entry limit",
    });
    const max: RmRequest = { ...req, sgl: sgl.slice(0, 512) };
    expect(decodeRequest(MSG.MEM_APPEND, encodeRequest(max))).toEqual({ ok: true, value: max });
  });

  it("refuses le64 values above 2^53-1 and non-zero reserved fields the RM checks", () => {
    const image =
      "8000 0000 04000000 0000000000000000 0000000000002000 0010000000000000 0020000000000000";
    refused(
      decodeRequest(MSG.VM_CONFIG_IMAGE, bytes(image)),
      "MSG_INVALID",
      "VM_CONFIG_IMAGE: imageSize 0x20000000000000 is above 2^53-1",
    );
    refused(
      decodeRequest(
        MSG.VM_SET_FIRMWARE_MEM,
        bytes("8000 0100 02000000 0000010000000000 0000100000000000"),
      ),
      "MSG_INVALID",
      "VM_SET_FIRMWARE_MEM: res must be 0, is 0x1 (byte 2)",
    );
    refused(
      decodeRequest(MSG.VM_INIT, bytes("8000 0001")),
      "MSG_INVALID",
      "VM_INIT: res must be 0, is 0x1 (byte 3)",
    );
    refused(
      decodeRequest(MSG.VM_EXIT, bytes("0100 01 07")),
      "MSG_INVALID",
      "VM_EXIT: res must be 0, is 0x7 (byte 3)",
    );
    // Other reserved fields are ignored.
    expect(decodeRequest(MSG.VM_START, bytes("8000 ffff"))).toEqual({
      ok: true,
      value: { id: "VM_START", vmid: 0x80 },
    });
    expect(decodeRequest(MSG.MEM_RELEASE, bytes("09000000 01 ffffff"))).toEqual({
      ok: true,
      value: RQ[6]![1],
    });
  });

  it("answers unknown IDs with UNIMPLEMENTED", () => {
    refused(
      decodeRequest(0x5100_0016, bytes("")),
      "UNIMPLEMENTED",
      "unknown request ID 0x51000016",
    );
    refused(
      decodeRequest(MSG.MEM_SHARED, bytes("")),
      "UNIMPLEMENTED",
      "MEM_SHARED (0x51100011) is not a request",
    );
    refused(
      decodeReply(0xdead_beef, bytes("00000000")),
      "UNIMPLEMENTED",
      "unknown request ID 0xdeadbeef",
    );
    refused(
      decodeNotification(MSG.MEM_LEND, bytes("")),
      "UNIMPLEMENTED",
      "MEM_LEND (0x51000012) is not a notification",
    );
  });
});

describe("malformed replies and notifications", () => {
  it("refuses replies too short, with unknown codes, cut or with trailing bytes", () => {
    refused(
      decodeReply(MSG.MEM_LEND, bytes("000000")),
      "MSG_INVALID",
      "MEM_LEND reply: payload of 3 bytes is shorter than the 4 bytes of the error code",
    );
    refused(
      decodeReply(MSG.MEM_LEND, bytes("34120000")),
      "MSG_INVALID",
      "MEM_LEND reply: err_code 0x1234 is not an RM error code",
    );
    refused(
      decodeReply(MSG.MEM_LEND, bytes("00000000")),
      "MSG_INVALID",
      "MEM_LEND reply: payload ends inside handle (byte 4: 4 needed, 0 left)",
    );
    refused(
      decodeReply(MSG.MEM_LEND, bytes("00000000 05000000 00000000")),
      "MSG_INVALID",
      "MEM_LEND reply: 4 bytes left over after the handle",
    );
    refused(
      decodeReply(MSG.MEM_APPEND, bytes("00000000 00")),
      "MSG_INVALID",
      "MEM_APPEND reply: 1 bytes left over after the error code",
    );
    refused(
      decodeReply(MSG.MEM_ACCEPT, bytes("00000000 0200 0000 0000000000010000 0000200000000000")),
      "MSG_INVALID",
      "MEM_ACCEPT reply: SGL list count 2 overruns the payload (16 bytes left, 32 needed)",
    );
    refused(
      decodeReply(MSG.MEM_ACCEPT, bytes("00000000 01")),
      "MSG_INVALID",
      "MEM_ACCEPT reply: payload ends inside the n_sgl / flags header (byte 4: 4 needed, 1 left)",
    );
    refused(
      decodeReply(MSG.VM_GET_HYP_RESOURCES, bytes("00000000 ffffffff 00000000")),
      "MSG_INVALID",
      "VM_GET_HYP_RESOURCES reply: resource list count 4294967295 overruns the payload (4 bytes left, 188978560980 needed)",
    );
    refused(
      decodeReply(MSG.VM_GET_STATE, bytes("00000000 030404")),
      "MSG_INVALID",
      "VM_GET_STATE reply: payload ends inside state word (byte 4: 4 needed, 3 left)",
    );
  });

  it("refuses malformed notifications", () => {
    refused(
      decodeNotification(MSG.VM_STATUS, bytes("8000 0000 0b00")),
      "MSG_INVALID",
      "VM_STATUS: payload is 6 bytes, the message is exactly 8",
    );
    refused(
      decodeNotification(MSG.VM_EXITED, bytes("8000 0700 08000000 00000000")),
      "MSG_INVALID",
      "VM_EXITED: reason_size 8 does not match the 4 bytes that follow",
    );
    refused(
      decodeNotification(MSG.VM_EXITED, bytes("8000 0700 03000000 000000")),
      "MSG_INVALID",
      "VM_EXITED: reason_size 3 is not a whole number of 32-bit words",
    );
    refused(
      decodeNotification(MSG.MEM_RECALL, bytes("07000000 cdab0000 00")),
      "MSG_INVALID",
      "MEM_RECALL: payload is 9 bytes, the message is exactly 8",
    );
    refused(
      decodeNotification(MSG.MEM_SHARED, bytes(NT[0]![1]).subarray(0, 31)),
      "MSG_INVALID",
      "MEM_SHARED: payload of 31 bytes is shorter than the 32 bytes of its header and three list headers",
    );
    const sizes =
      "07000000 00 02 01 00 0300 0000 11000000 cdab0000  00000000  01000000 00000000 00000080 00000000";
    refused(
      decodeNotification(MSG.MEM_SHARED, bytes(sizes)),
      "MSG_INVALID",
      "MEM_SHARED: region size entry 0 0x8000000000000000 is above 2^53-1",
    );
  });
});

describe("encoders refuse values that do not fit", () => {
  it("throws EINVAL naming the message, field and value", () => {
    expectError(
      () => encodeRequest({ id: "VM_START", vmid: 0x1_0000 }),
      "EINVAL",
      "VM_START: vmid 65536 is not a u16",
    );
    expectError(
      () =>
        encodeRequest({ id: "MEM_APPEND", handle: 1, flags: 0, sgl: [{ ipa: 2 ** 53, size: 1 }] }),
      "EINVAL",
      "MEM_APPEND: SGL entry 0 ipa 9007199254740992 is not a u64 below 2^53",
    );
    expectError(
      () => encodeRequest({ id: "MEM_NOTIFY", handle: 1, flags: 1, memInfoTag: 0 }),
      "EINVAL",
      "MEM_NOTIFY: flags 1 needs a VMID list",
    );
    expectError(
      () => encodeRequest({ id: "MEM_NOTIFY", handle: 1, flags: 2, memInfoTag: 0, vmids: [] }),
      "EINVAL",
      "MEM_NOTIFY: flags 2 takes no VMID list",
    );
    expectError(
      () => encodeReply("VM_GET_STATE", { err: "OK", vmState: 256, osStatus: 0, appStatus: 0 }),
      "EINVAL",
      "VM_GET_STATE reply: vmState 256 is not a u8",
    );
    expectError(
      () => encodeRequest({ id: "MEM_FOO" } as unknown as RmRequest),
      "EINVAL",
      "MEM_FOO is not a request",
    );
  });
});

// --- decode(encode(x)) = x -------------------------------------------------------------------

const u8 = fc.nat(0xff);
const u16 = fc.nat(0xffff);
const u32 = fc.nat(0xffff_ffff);
const u64 = fc.maxSafeNat();
const acl = fc.array(fc.record({ vmid: u16, rights: u8 }), { maxLength: 12 });
const sgl = fc.array(fc.record({ ipa: u64, size: u64 }), { maxLength: 12 });
const attrs = fc.array(fc.record({ attr: u16, vmid: u16 }), { maxLength: 12 });
const created = { memType: u8, flags: u8, label: u32, acl, sgl, attrs };

const REQUESTS: { [N in RequestName]: fc.Arbitrary<Omit<RequestOf<N>, "id">> } = {
  MEM_LEND: fc.record(created),
  MEM_SHARE: fc.record(created),
  MEM_DONATE: fc.record(created),
  MEM_APPEND: fc.record({ handle: u32, flags: u8, sgl }),
  MEM_ACCEPT: fc.record({
    handle: u32,
    memType: u8,
    transType: u8,
    flags: u8,
    label: u32,
    acl,
    sgl,
    mapVmid: u16,
    attrs,
  }),
  MEM_RELEASE: fc.record({ handle: u32, flags: u8 }),
  MEM_RECLAIM: fc.record({ handle: u32, flags: u8 }),
  MEM_NOTIFY: fc
    .record({
      handle: u32,
      flags: fc.oneof(fc.constantFrom(1, 2, 4, 8), u8),
      memInfoTag: u32,
      vmids: fc.array(u16, { maxLength: 12 }),
    })
    .map(({ vmids, ...rest }) => (notifyHasVmids(rest.flags) ? { ...rest, vmids } : rest)),
  MEM_QCOM_LOOKUP_SGL: fc.record({ memType: u8, label: u32, acl, sgl, attrs }),
  VM_ALLOCATE: fc.record({ vmid: u16 }),
  VM_DEALLOCATE: fc.record({ vmid: u16 }),
  VM_START: fc.record({ vmid: u16 }),
  VM_STOP: fc.record({ vmid: u16, flags: u8, stopReason: u32 }),
  VM_RESET: fc.record({ vmid: u16 }),
  VM_CONFIG_IMAGE: fc.record({
    vmid: u16,
    auth: u16,
    memHandle: u32,
    imageOffset: u64,
    imageSize: u64,
    dtbOffset: u64,
    dtbSize: u64,
  }),
  VM_AUTH_IMAGE: fc.record({
    vmid: u16,
    params: fc.array(fc.record({ type: u32, param: u32 }), { maxLength: 8 }),
  }),
  VM_INIT: fc.record({ vmid: u16 }),
  VM_GET_STATE: fc.record({ vmid: u16 }),
  VM_GET_HYP_RESOURCES: fc.record({ vmid: u16 }),
  VM_GET_VMID: fc.constant({}),
  VM_SET_FIRMWARE_MEM: fc.record({ vmid: u16, handle: u32, offset: u64, size: u64 }),
  VM_EXIT: fc.record({ exitFlags: u16, exitCode: u8 }),
};

const handleReply = fc.record({ handle: u32 });
const empty = fc.constant({});
const resource = fc.record({
  type: u8,
  partnerVmid: u16,
  handle: u32,
  label: u32,
  capId: u64,
  virqHandle: u32,
  virq: u32,
  base: u64,
  size: u64,
});
const REPLY_DATA: { [N in RequestName]: fc.Arbitrary<object> } = {
  MEM_LEND: handleReply,
  MEM_SHARE: handleReply,
  MEM_DONATE: handleReply,
  MEM_QCOM_LOOKUP_SGL: handleReply,
  MEM_ACCEPT: fc.oneof(empty, fc.record({ chosen: fc.record({ flags: u8, sgl }) })),
  MEM_APPEND: empty,
  MEM_RELEASE: empty,
  MEM_RECLAIM: empty,
  MEM_NOTIFY: empty,
  VM_ALLOCATE: fc.record({ vmid: u32 }),
  VM_GET_VMID: fc.record({ vmid: u32 }),
  VM_GET_STATE: fc.record({ vmState: u8, osStatus: u8, appStatus: u16 }),
  VM_GET_HYP_RESOURCES: fc.record({ resources: fc.array(resource, { maxLength: 6 }) }),
  VM_DEALLOCATE: empty,
  VM_START: empty,
  VM_STOP: empty,
  VM_RESET: empty,
  VM_CONFIG_IMAGE: empty,
  VM_AUTH_IMAGE: empty,
  VM_INIT: empty,
  VM_SET_FIRMWARE_MEM: empty,
  VM_EXIT: empty,
};
const errors = fc.constantFrom(
  ...(Object.keys(RM_ERROR_CODES) as RmError[]).filter((e) => e !== "OK"),
);

const NOTIFICATIONS: {
  [N in RmNotification["id"]]: fc.Arbitrary<Omit<NotificationOf<N>, "id">>;
} = {
  MEM_SHARED: fc.record({
    handle: u32,
    memType: u8,
    transType: u8,
    flags: u8,
    owner: u16,
    label: u32,
    memInfoTag: u32,
    acl,
    sizes: fc.array(u64, { maxLength: 12 }),
    attrs,
  }),
  MEM_ACCEPTED: fc.record({ handle: u32, vmid: u16, memInfoTag: u32 }),
  MEM_RELEASED: fc.record({ handle: u32, vmid: u16, memInfoTag: u32 }),
  MEM_RECALL: fc.record({ handle: u32, memInfoTag: u32 }),
  VM_STATUS: fc.record({ vmid: u16, vmStatus: u8, osStatus: u8, appStatus: u16 }),
  VM_EXITED: fc.record({ vmid: u16, exitType: u16, reason: fc.array(u32, { maxLength: 8 }) }),
  VM_SHUTDOWN: fc.record({ stopReason: u32 }),
};

describe("decode(encode(x)) = x", () => {
  for (const id of REQUEST_NAMES) {
    prop.prop([REQUESTS[id]])(`request ${id}`, (fields) => {
      const req = { id, ...fields } as RmRequest;
      expect(decodeRequest(MSG[id], encodeRequest(req))).toEqual({ ok: true, value: req });
    });
    prop.prop([
      fc.oneof(
        REPLY_DATA[id].map((d) => ({ err: "OK" as const, ...d })),
        errors.map((err) => ({ err })),
      ),
    ])(`reply ${id}`, (body) => {
      const reply = { id, ...body } as AnyReply;
      expect(decodeReply(MSG[id], encodeReply(id, reply))).toEqual({ ok: true, value: reply });
    });
  }
  for (const id of NOTIFICATION_NAMES) {
    prop.prop([NOTIFICATIONS[id]])(`notification ${id}`, (fields) => {
      const n = { id, ...fields } as RmNotification;
      expect(decodeNotification(MSG[id], encodeNotification(n))).toEqual({ ok: true, value: n });
    });
  }

  prop.prop([
    fc.constantFrom(...Object.values(MSG), 0, 0x5100_0016),
    fc.uint8Array({ maxLength: 200 }),
  ])("decoders never throw on arbitrary bytes", (id, b) => {
    expect(() => [
      decodeRequest(id, b),
      decodeReply(id, b),
      decodeNotification(id, b),
    ]).not.toThrow();
  });
});
