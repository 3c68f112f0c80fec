/**
 * End-to-end tests of the CLI on the Gunyah examples, run as a user would (the built
 * dist/cli/main.js in a child process): `memweave who` shows which VMs reach a page and through
 * which parcel — the owners the hypervisor labels on each VM's stage 2 and each parcel's
 * physical ranges —, and `memweave run` reports the Gunyah state.
 */
import { beforeAll, describe, expect, it } from "vitest";

import type { ReachPath } from "../devices/graph/index.js";
import { ensureBuilt, memweave } from "./cli.testutil.js";

beforeAll(ensureBuilt, 180_000);

interface WhoDoc {
  afterSteps: number;
  paths: ReachPath[];
}

async function who(file: string, ...args: string[]): Promise<WhoDoc> {
  const r = await memweave(["who", file, ...args, "--json"]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as WhoDoc;
}

/** Each path as `master space:address owners`. */
const rows = (doc: WhoDoc) =>
  doc.paths.map(
    (p) =>
      `${p.master} ${p.input.space}:0x${p.input.start.toString(16)} ${p.access} ${p.owners.map((o) => `${o.kind}=${o.name}`).join(",")}`,
  );

describe("memweave who on a Gunyah scenario", () => {
  it("after the accept: the host and the guest reach the shared page, each through parcel 0", async () => {
    const doc = await who("examples/gunyah-share.yaml", "0x8000_0000", "--at-step", "9");
    expect(doc.afterSteps).toBe(9);
    expect(rows(doc)).toEqual([
      "hlos.vcpu0 ipa:0x80000000 rw VM=hlos,parcel=0",
      "vm128.vcpu0 ipa:0x60000000 rw VM=vm128,parcel=0",
    ]);
    const human = await memweave([
      "who",
      "examples/gunyah-share.yaml",
      "0x8000_0000",
      "--at-step",
      "9",
    ]);
    expect(human.code).toBe(0);
    const lines = human.stdout.split("\n").filter((l) => /^│ (hlos|vm128)/.test(l));
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(
      /^│ vm128\.vcpu0 +│ ipa 0x60000000 +│ 0x80000000 +│ vm128\.s2 L2 +│ rw +│ normal-wb +│ yes +│ VM vm128, parcel 0 +│$/,
    );
  });

  it("before the share the host reaches its own memory; after the reclaim again, through no parcel", async () => {
    expect(rows(await who("examples/gunyah-share.yaml", "0x8000_0000", "--at-step", "2"))).toEqual([
      "hlos.vcpu0 ipa:0x80000000 rwx VM=hlos",
    ]);
    expect(rows(await who("examples/gunyah-share.yaml", "0x8000_0000"))).toEqual([
      "hlos.vcpu0 ipa:0x80000000 rwx VM=hlos",
    ]);
  });

  it("a lend: nobody between create and accept, then only the guest", async () => {
    expect(
      (await who("examples/gunyah-lend-append.yaml", "0x804a_e000+4K", "--at-step", "11")).paths,
    ).toEqual([]);
    expect(
      rows(await who("examples/gunyah-lend-append.yaml", "0x804a_e000+4K", "--at-step", "13")),
    ).toEqual(["vm128.vcpu0 ipa:0x10000257000 rw VM=vm128,parcel=0"]);
  });

  it("a donation: the guest reaches the pages as its own, through no parcel", async () => {
    expect(rows(await who("examples/gunyah-donate.yaml", "0x8000_0000", "--at-step", "9"))).toEqual(
      ["vm128.vcpu0 ipa:0x40000000 rwx VM=vm128"],
    );
  });

  it("the VM manager's stranded region: still reached by the guest after the failed teardown", async () => {
    expect(rows(await who("examples/gunyah-vmm.yaml", "0x9200_0000", "--at-step", "30"))).toEqual([
      "vm128.vcpu0 ipa:0x80000000 rwx VM=vm128,parcel=2",
    ]);
  });
});

describe("memweave run on a Gunyah scenario", () => {
  it("passes and prints the Gunyah state in the final statistics", async () => {
    const r = await memweave(["run", "examples/gunyah-vm-lifecycle.yaml"], { NO_COLOR: "1" });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Gunyah VMs\n/);
    expect(r.stdout).toMatch(/Gunyah RPCs\n/);
    expect(r.stdout).toMatch(/PASS: all \d+ expectation\(s\) held\n$/);
    const json = JSON.parse(
      (await memweave(["run", "examples/gunyah-vm-lifecycle.yaml", "--json"])).stdout,
    ) as {
      machine: { gunyah: { tables: string } };
      statistics: { gunyah: { vms: Array<{ name: string }> } };
    };
    expect(json.machine.gunyah.tables).toBe("hyp-tables");
    expect(json.statistics.gunyah.vms.map((v) => v.name)).toEqual(["hlos"]);
  });
});
