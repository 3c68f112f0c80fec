/**
 * A C client of our own (testdata/rm-client.c: the wire protocol and the seeds' Linux request
 * layouts, gh_rm_mem_lend_common's 512-entry create and appends) against the endpoint over
 * its Unix socket: it lends 1,000 entries, shares 1,000 more, and reclaims both. Needs the
 * machine's C compiler (`cc`); without one the test is skipped, and says so.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { createGunyahMachine } from "../gunyah/platform.js";
import { startEndpoint, type TestEndpoint } from "./rm.testutil.js";

const run = promisify(execFile);
const source = fileURLToPath(new URL("./testdata/rm-client.c", import.meta.url));

function haveCc(): boolean {
  try {
    execFileSync("cc", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
const cc = haveCc();
if (!cc)
  console.warn(
    "SKIPPED: the C client end-to-end test (src/server/rm-c-client.test.ts): no C compiler `cc` on PATH",
  );

describe.skipIf(!cc)("the C client (testdata/rm-client.c, built with cc)", () => {
  let dir: string;
  let exe: string;
  let t: TestEndpoint;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "mw-rmc-"));
    exe = join(dir, "rm-client");
    await run("cc", ["-std=c99", "-Wall", "-Wextra", "-Werror", "-O2", "-o", exe, source]);
    t = await startEndpoint({ verbose: true });
  });
  afterAll(async () => {
    await t?.done();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lends and shares 1,000 entries each with appends, then reclaims them", async () => {
    const rm = t.ep.rm;
    const made = await run(exe, [t.path, "lend-share", "1000"]);
    expect(made.stdout.trim().split("\n")).toEqual([
      "VM_ALLOCATE: vmid=128",
      "MEM_LEND: 1000 entries in 2 messages (512 + 488): handle=0",
      "MEM_SHARE: 1000 entries in 2 messages (512 + 488): handle=1",
      // 1 + (36 + 34) x 2 message-queue messages; the VM_STATUS of the allocation.
      "messages sent: 141, notifications received: 1",
    ]);
    const [lend, share] = rm.parcels.list();
    expect(lend).toMatchObject({
      handle: 0,
      owner: 3,
      transType: 1,
      label: 1,
      state: "SHARING",
      acl: [{ vmid: 0x80, rights: 7 }],
    });
    expect(share).toMatchObject({ handle: 1, owner: 3, transType: 2, label: 2, state: "SHARING" });
    expect(lend!.regions).toHaveLength(1000);
    expect(share!.regions).toHaveLength(1000);
    expect(lend!.regions[999]).toMatchObject({ ipa: 0x8000_0000 + 999 * 0x2000, size: 0x1000 });
    // The lent pages left the host's stage 2; the shared ones and the gaps did not.
    const cpu = rm.hyp.host.vcpus[0]!;
    expect(() => cpu.read(0x8000_0000 + 999 * 0x2000, 1)).toThrow();
    expect(() => cpu.read(0x8000_1000, 1)).not.toThrow();
    expect(() => cpu.read(0x9000_0000, 1)).not.toThrow();
    const lines = t.lines.filter((l) => l.startsWith("vm3 seq "));
    expect(lines.map((l) => l.replace(/ \(\d+\.\d ms\)$/, ""))).toEqual([
      "vm3 seq 0 VM_ALLOCATE -> OK",
      "vm3 seq 1 MEM_LEND -> OK",
      "vm3 seq 2 MEM_APPEND -> OK",
      "vm3 seq 3 MEM_SHARE -> OK",
      "vm3 seq 4 MEM_APPEND -> OK",
    ]);

    const refused = await run(exe, [t.path, "reclaim", "0", "1", "99"]).then(
      () => undefined,
      (e: { code: number; stdout: string }) => e,
    );
    expect(refused?.code).toBe(1);
    expect(refused?.stdout.trim().split("\n")).toEqual([
      "MEM_RECLAIM handle=0: ok",
      "MEM_RECLAIM handle=1: ok",
      "MEM_RECLAIM handle=99: error 0x7 (errno -22)",
      "messages sent: 3, notifications received: 0",
    ]);
    expect(rm.parcels.list()).toEqual([]);
    expect(() => cpu.read(0x8000_0000 + 999 * 0x2000, 1)).not.toThrow();
    // Everything as it was after the allocation alone.
    const expected = createGunyahMachine().rm;
    expect(expected.vms.allocate(3, 0)).toEqual({ err: "OK", value: 0x80 });
    expect(rm.digest()).toBe(expected.digest());
    expect(t.ep.stats).toMatchObject({ framingErrors: 0, internalErrors: 0, drops: 0 });
  });
});
