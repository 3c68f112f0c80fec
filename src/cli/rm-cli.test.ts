/**
 * `memweave rm call` and `rm serve`: the ARGS syntax (every request of the codec expressible,
 * bad arguments named), the printed replies, both commands in-process against a real socket,
 * `--scenario`, and the built executable stopped by SIGTERM.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { createGunyahMachine } from "../gunyah/platform.js";
import { encodeRequest, REQUEST_NAMES } from "../gunyah/wire/index.js";
import { RmEndpoint } from "../server/rm-endpoint.js";
import { bin, ensureBuilt, memweave, root, tempFolder } from "./cli.testutil.js";
import { runCli } from "./program.js";
import { formatReply } from "./rm.js";
import { parseRmCall } from "./rm-args.js";

/** Run the CLI in-process; `stop` ends `rm serve`. */
async function cli(args: string[], stop?: AbortSignal) {
  let stdout = "";
  let stderr = "";
  const io = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: {},
    ...(stop ? { stop } : {}),
  };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}

const words = (s: string) => s.split(" ").filter((w) => w !== "");

describe("rm call ARGS", () => {
  const cases: Array<[string, object]> = [
    [
      "MEM_LEND acl=0x80:rwx sgl=0x80000000+2M label=1",
      {
        id: "MEM_LEND",
        memType: 0,
        flags: 0,
        label: 1,
        acl: [{ vmid: 0x80, rights: 7 }],
        sgl: [{ ipa: 0x8000_0000, size: 0x20_0000 }],
        attrs: [],
      },
    ],
    [
      "mem_share acl=0x80:rw,3:RWX sgl=0x8000_0000+4K,0x9000_0000+8K flags=sanitize,append",
      {
        id: "MEM_SHARE",
        flags: 3,
        acl: [
          { vmid: 0x80, rights: 6 },
          { vmid: 3, rights: 7 },
        ],
        sgl: [
          { ipa: 0x8000_0000, size: 4096 },
          { ipa: 0x9000_0000, size: 8192 },
        ],
      },
    ],
    [
      "MEM_DONATE memtype=io acl=128:6 acl=129:r sgl=0x10000000+4K attrs=128:device,129:3",
      {
        id: "MEM_DONATE",
        memType: 1,
        acl: [
          { vmid: 128, rights: 6 },
          { vmid: 129, rights: 4 },
        ],
        attrs: [
          { vmid: 128, attr: 1 },
          { vmid: 129, attr: 3 },
        ],
      },
    ],
    [
      "MEM_QCOM_LOOKUP_SGL acl=0x80:r sgl=0x80000000+4K label=7",
      { id: "MEM_QCOM_LOOKUP_SGL", memType: 0, label: 7, attrs: [] },
    ],
    [
      "MEM_ACCEPT handle=0 flags=done",
      {
        id: "MEM_ACCEPT",
        handle: 0,
        memType: 0,
        transType: 1,
        flags: 128,
        label: 0,
        acl: [],
        sgl: [],
        mapVmid: 0,
        attrs: [],
      },
    ],
    [
      "MEM_ACCEPT handle=2 transtype=share flags=validate_label|done|map_contiguous label=3 sgl=0x1000000+2M mapvmid=5 acl=0x80:rw",
      {
        transType: 2,
        flags: 148,
        label: 3,
        mapVmid: 5,
        sgl: [{ ipa: 0x100_0000, size: 0x20_0000 }],
      },
    ],
    [
      "MEM_APPEND handle=0 flags=end sgl=0x80000000+4K",
      { id: "MEM_APPEND", handle: 0, flags: 1, sgl: [{ ipa: 0x8000_0000, size: 4096 }] },
    ],
    ["MEM_RELEASE handle=1 flags=sanitize", { id: "MEM_RELEASE", handle: 1, flags: 1 }],
    ["MEM_RECLAIM handle=0", { id: "MEM_RECLAIM", handle: 0, flags: 0 }],
    [
      "MEM_NOTIFY handle=0 flags=shared tag=7 vmids=0x80,0x81",
      { id: "MEM_NOTIFY", handle: 0, flags: 1, memInfoTag: 7, vmids: [0x80, 0x81] },
    ],
    [
      "MEM_NOTIFY handle=0 flags=accepted",
      { id: "MEM_NOTIFY", handle: 0, flags: 4, memInfoTag: 0 },
    ],
    ["VM_ALLOCATE", { id: "VM_ALLOCATE", vmid: 0 }],
    ["VM_DEALLOCATE vmid=128", { id: "VM_DEALLOCATE", vmid: 128 }],
    ["VM_START vmid=0x80", { id: "VM_START", vmid: 0x80 }],
    [
      "VM_STOP vmid=0x80 flags=force reason=force_stop",
      { id: "VM_STOP", vmid: 0x80, flags: 1, stopReason: 3 },
    ],
    ["VM_RESET vmid=0x80", { id: "VM_RESET", vmid: 0x80 }],
    [
      "VM_CONFIG_IMAGE vmid=0x80 handle=0 dtb=0x1000+4K",
      {
        id: "VM_CONFIG_IMAGE",
        auth: 0,
        memHandle: 0,
        imageOffset: 0,
        imageSize: 0,
        dtbOffset: 0x1000,
        dtbSize: 4096,
      },
    ],
    [
      "VM_AUTH_IMAGE vmid=0x80 params=1:2,3:4",
      {
        id: "VM_AUTH_IMAGE",
        vmid: 0x80,
        params: [
          { type: 1, param: 2 },
          { type: 3, param: 4 },
        ],
      },
    ],
    ["VM_INIT vmid=0x80", { id: "VM_INIT", vmid: 0x80 }],
    ["VM_GET_STATE", { id: "VM_GET_STATE", vmid: 0 }],
    ["VM_GET_HYP_RESOURCES vmid=0x80", { id: "VM_GET_HYP_RESOURCES", vmid: 0x80 }],
    ["VM_GET_VMID", { id: "VM_GET_VMID" }],
    [
      "VM_SET_FIRMWARE_MEM vmid=0x80 handle=1 offset=4K size=64K",
      { id: "VM_SET_FIRMWARE_MEM", vmid: 0x80, handle: 1, offset: 4096, size: 65536 },
    ],
    [
      "VM_EXIT code=crash",
      {
        error:
          /code=crash: value "crash" is not one of normal, sw_error, unknown, bus, device or a number/,
      },
    ],
    ["VM_EXIT flags=3 code=sw_error", { id: "VM_EXIT", exitFlags: 3, exitCode: 1 }],
  ];

  it("expresses every request of the codec, and each encodes", () => {
    const seen = new Set<string>();
    for (const [line, want] of cases) {
      const [rpc, ...args] = words(line);
      if ("error" in want) {
        expect(() => parseRmCall(rpc!, args)).toThrow((want as { error: RegExp }).error);
        continue;
      }
      const req = parseRmCall(rpc!, args);
      expect(req, line).toMatchObject(want);
      expect(() => encodeRequest(req), line).not.toThrow();
      seen.add(req.id);
    }
    expect([...seen].sort()).toEqual([...REQUEST_NAMES].sort());
  });

  it.each([
    ["MEM_LENT", /unknown RPC "MEM_LENT"; did you mean MEM_LEND\?/],
    ["LEND", /unknown RPC "LEND"; did you mean MEM_LEND\?/],
    ["MEM_LEND sgl=0x80000000+4K", /MEM_LEND: missing acl=VMID:RIGHTS\[,\.\.\.\] \(MEM_LEND acl=/],
    [
      "MEM_LEND acl=0x80:rwz sgl=1+1",
      /MEM_LEND: acl=0x80:rwz: rights "rwz" are not letters of r, w, x or a number/,
    ],
    [
      "MEM_LEND acl=0x10000:r sgl=1+1",
      /acl=0x10000:r: VMID 0x10000 is not a u16 \(at most 0xffff\)/,
    ],
    ["MEM_LEND acl=0x80 sgl=1+1", /acl=0x80: "0x80" is not VMID:RIGHTS/],
    ["MEM_LEND acl=0x80:r sgl=0x80000000", /sgl=0x80000000: "0x80000000" is not IPA\+SIZE/],
    ["MEM_LEND acl=0x80:r sgl=1+1 label=-1", /label=-1: value "-1" is negative/],
    ["MEM_LEND acl=0x80:r sgl=1+1 label=1 label=2", /MEM_LEND: label is given twice/],
    [
      "MEM_LEND acl=0x80:r sgl=1+1 colour=blue",
      /MEM_LEND: unknown argument "colour" \(it takes memtype, flags, label, acl, sgl, attrs\)/,
    ],
    [
      "MEM_LEND acl=0x80:r sgl=1+1 flags=sanitise",
      /flags=sanitise: flag "sanitise" is not one of sanitize, append or a number/,
    ],
    ["MEM_RECLAIM 0", /MEM_RECLAIM: argument "0" is not key=value/],
    [
      "MEM_NOTIFY handle=0 flags=released vmids=0x80",
      /vmids: only flags=shared and flags=recall carry a VMID list/,
    ],
    ["VM_GET_VMID vmid=3", /VM_GET_VMID: unknown argument "vmid" \(it takes no arguments\)/],
    ["VM_STOP vmid=0x80 flags=300", /flags=300: flags 300 is not a u8/],
  ])("%s: a clear error", (line, message) => {
    const [rpc, ...args] = words(line);
    expect(() => parseRmCall(rpc!, args)).toThrow(message);
  });

  it("prints replies as OK with their values or the error with Linux's errno", () => {
    expect(formatReply({ id: "MEM_LEND", err: "OK", handle: 0 })).toEqual(["OK handle=0"]);
    expect(formatReply({ id: "VM_ALLOCATE", err: "DENIED" })).toEqual(["DENIED (-EPERM)"]);
    expect(formatReply({ id: "MEM_RECLAIM", err: "MEM_INUSE" })).toEqual(["MEM_INUSE (-EINVAL)"]);
    expect(formatReply({ id: "VM_DEALLOCATE", err: "VM_STATE" })).toEqual(["VM_STATE (-EBADMSG)"]);
    expect(
      formatReply({ id: "VM_GET_STATE", err: "OK", vmState: 5, osStatus: 0, appStatus: 0 }),
    ).toEqual(["OK state=LOAD (5) os=NONE (0) app=0"]);
    expect(
      formatReply({
        id: "MEM_ACCEPT",
        err: "OK",
        chosen: { flags: 1, sgl: [{ ipa: 0x100_0000_0000, size: 4096 }] },
      }),
    ).toEqual(["OK 1 IPAs chosen, INCOMPLETE (call again for the rest)", "  0x10000000000+0x1000"]);
    expect(formatReply({ id: "MEM_RELEASE", err: "OK" })).toEqual(["OK"]);
  });
});

describe("rm call and rm serve in-process", () => {
  const tmp = tempFolder("mw-rmcli-");
  let ep: RmEndpoint | undefined;
  afterEach(async () => {
    await ep?.stop();
    ep = undefined;
  });
  afterAll(() => tmp.remove());

  it("sends one RPC and prints the reply and its notifications; exit 0 / 1 / 2", async () => {
    const path = join(tmp.dir, "a.sock");
    ep = new RmEndpoint({ rm: createGunyahMachine().rm, address: { kind: "unix", path } });
    await ep.start();
    const ok = await cli(["rm", "call", "--socket", path, "VM_ALLOCATE", "vmid=0"]);
    expect(ok).toEqual({
      code: 0,
      stderr: "",
      stdout:
        "OK vmid=0x80 (128)\nnotification VM_STATUS vmid=128 vmStatus=5 osStatus=0 appStatus=0\n",
    });
    const denied = await cli(["rm", "call", "--socket", path, "--vm", "128", "VM_ALLOCATE"]);
    expect(denied).toEqual({ code: 1, stderr: "", stdout: "DENIED (-EPERM)\n" });
    const json = await cli([
      "rm",
      "call",
      "--socket",
      path,
      "--json",
      "MEM_LEND",
      "acl=0x80:rwx",
      "sgl=0x80000000+2M",
      "label=1",
    ]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      rpc: "MEM_LEND",
      address: `unix:${path}`,
      request: {
        id: "MEM_LEND",
        memType: 0,
        flags: 0,
        label: 1,
        acl: [{ vmid: 128, rights: 7 }],
        sgl: [{ ipa: 0x8000_0000, size: 0x20_0000 }],
        attrs: [],
      },
      reply: { id: "MEM_LEND", err: "OK", handle: 0 },
      errno: null,
      notifications: [],
    });
    const inuse = await cli([
      "rm",
      "call",
      "--socket",
      path,
      "--json",
      "MEM_LEND",
      "acl=0x80:rwx",
      "sgl=0x80000000+2M",
    ]);
    expect(JSON.parse(inuse.stdout)).toMatchObject({
      reply: { err: "MEM_INVALID" },
      errno: { name: "EINVAL", errno: 22 },
    });
    expect(inuse.code).toBe(1);
    const badArg = await cli(["rm", "call", "--socket", path, "MEM_LEND", "acl=0x80"]);
    expect(badArg).toEqual({
      code: 2,
      stdout: "",
      stderr: 'memweave rm call: MEM_LEND: acl=0x80: "0x80" is not VMID:RIGHTS\n',
    });
    const nowhere = await cli(["rm", "call", "--socket", `${path}.vm190`, "VM_GET_VMID"]);
    expect(nowhere.code).toBe(2);
    expect(nowhere.stderr).toBe(
      `memweave rm call: cannot connect to the RM at unix:${path}.vm190: ENOENT\n`,
    );
    expect((await cli(["rm", "call", "VM_GET_VMID"])).stderr).toBe(
      "memweave rm call: give --socket PATH or --tcp PORT\n",
    );
    // A second server on a path in use: exit 2, naming it.
    expect(await cli(["rm", "serve", "--socket", path])).toEqual({
      code: 2,
      stdout: "",
      stderr: `memweave rm serve: cannot listen on unix:${path}: another endpoint is listening on ${path}\n`,
    });
    expect((await cli(["rm", "call", "--help"])).stdout).toContain(
      "MEM_ACCEPT handle=N [memtype=normal|io|N] [transtype=donate|lend|share|N]",
    );
  });

  it("rm serve --scenario serves the platform the scenario's steps leave", async () => {
    const file = tmp.file(
      "gunyah-serve.yaml",
      `version: 1
name: served
machine:
  regions:
    - { name: hyp, base: 0x4000_0000, size: 64M, kind: ram }
    - { name: dram, base: 0x8000_0000, size: 1G, kind: ram }
  targets:
    - { name: hyp-tables, allocator: buddy, ranges: [{ region: hyp }] }
  gunyah:
    tables: hyp-tables
    host: { ram: [{ pa: 0x8000_0000, size: 1G }] }
steps:
  - { op: gunyah.vmAllocate, as: guest }
  - { op: gunyah.lend, acl: [{ vm: guest, rights: rwx }], sgl: [{ ipa: 0x8000_0000, size: 2M }], as: p }
`,
    );
    const path = join(tmp.dir, "s.sock");
    const stop = new AbortController();
    const serving = cli(["rm", "serve", "--socket", path, "--scenario", file], stop.signal);
    for (let i = 0; i < 400 && !existsSync(`${path}.vm128`); i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(await cli(["rm", "call", "--socket", path, "--vm", "128", "VM_GET_VMID"])).toMatchObject(
      { code: 0, stdout: "OK vmid=0x80 (128)\n" },
    );
    expect((await cli(["rm", "call", "--socket", path, "VM_GET_STATE", "vmid=128"])).stdout).toBe(
      "OK state=LOAD (5) os=NONE (0) app=0\n",
    );
    expect((await cli(["rm", "call", "--socket", path, "MEM_RECLAIM", "handle=0"])).stdout).toBe(
      "OK\n",
    );
    stop.abort();
    const served = await serving;
    expect(served.code).toBe(0);
    expect(served.stdout.split("\n").slice(0, 3)).toEqual([
      `listening: vm3 (host) on unix:${path}`,
      `guest VMs get their own endpoint while they exist: ${path}.vm<vmid>`,
      `listening: vm128 on unix:${path}.vm128`,
    ]);
    expect(existsSync(path) || existsSync(`${path}.vm128`)).toBe(false);

    const none = tmp.file(
      "plain.yaml",
      "version: 1\nname: p\nmachine:\n  regions: [{ name: r, base: 0, size: 1M, kind: ram }]\nsteps: []\n",
    );
    const refused = await cli(["rm", "serve", "--socket", path, "--scenario", none]);
    expect(refused).toMatchObject({
      code: 2,
      stderr: `${none}: the machine has no gunyah section (machine.gunyah): nothing to serve\n`,
    });
  });
});

describe("memweave rm serve, the built executable", () => {
  beforeAll(() => ensureBuilt(), 180_000);

  it("prints where it listens, serves rm call, and on SIGTERM exits 0 and unlinks its sockets", async () => {
    const tmp = tempFolder("mw-rmbin-");
    const path = join(tmp.dir, "rm.sock");
    const child = spawn(process.execPath, [bin, "rm", "serve", "--socket", path, "--verbose"], {
      cwd: root,
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    for (let i = 0; i < 1000 && !out.includes("listening: vm3"); i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(out).toContain(`listening: vm3 (host) on unix:${path}\n`);
    expect(await memweave(["rm", "call", "--socket", path, "VM_ALLOCATE"])).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^OK vmid=0x80 \(128\)\n/) as unknown,
    });
    expect(existsSync(`${path}.vm128`)).toBe(true);
    expect(
      await memweave(["rm", "call", "--socket", path, "--vm", "128", "VM_GET_VMID"]),
    ).toMatchObject({ code: 0, stdout: "OK vmid=0x80 (128)\n" });
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(existsSync(path) || existsSync(`${path}.vm128`)).toBe(false);
    expect(out).toMatch(/vm3 seq 0 VM_ALLOCATE -> OK \(\d+\.\d ms\)\n/);
    expect(out).toContain(`listening: vm128 on unix:${path}.vm128\n`);
    expect(out).toContain("stopping (SIGTERM)\n");
    expect(err).toBe("");
    tmp.remove();
  });
});
