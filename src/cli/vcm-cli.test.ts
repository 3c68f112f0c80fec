/**
 * End-to-end tests of `memweave vcm` (and of the VCM tables of `memweave run`), run as a user
 * would: the built executable (dist/cli/main.js) in a child process, its stdout, stderr and
 * exit code. dist/ is rebuilt first when any source is newer than it.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { VcmGraph } from "../sim/index.js";
import { ensureBuilt, memweave, root, tempFolder } from "./cli.testutil.js";

const tmp = tempFolder("memweave-vcm-cli-");

beforeAll(ensureBuilt, 180_000);
afterAll(tmp.remove);

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[/;
const WALK = "examples/vcm-walkthrough.yaml";

/** What `vcm --json` prints. */
type VcmDoc = {
  name: string;
  seed: number;
  afterSteps: number;
  ok: boolean;
  expectations: { passed: number; failed: number };
} & VcmGraph;

describe("memweave vcm", () => {
  it("prints the header and the VCM graph's tables", async () => {
    const r = await memweave(["vcm", WALK]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^Scenario vcm-walkthrough \(examples\/vcm-walkthrough\.yaml\), seed 1, after 21 step\(s\): all \d+ expectation\(s\) held\n\nVCM devices\n/,
    );
    const titles = r.stdout.split("\n").filter((l) => /^[A-Z]/.test(l));
    expect(titles.slice(1)).toEqual([
      "VCM devices",
      "VCMs",
      "VCM associations",
      "VCM reservations",
      "VCM physmems",
      "VCM statistics",
    ]);
    expect(r.stdout).toMatch(/│ vcodec +│ smmu-context │ smmu0 +│ 0 +│ yes +│ 2 +│ video_avcm +│/);
    expect(r.stdout).toMatch(/│ cpu0 +│ cpu +│ - +│ - +│ - +│ - +│ vmm_avcm +│/);
    expect(r.stdout).toMatch(
      /│ vmm +│ VCM_EXT_KERNEL │ 0x800010000000-0x80001fffffff │ 256 MiB │ kernel-pt @ 0x[0-9a-f]+ +│ 1 +│ vmm_avcm +│/,
    );
    expect(r.stdout).toMatch(
      /│ frame +│ video │ 0x10000000-0x101fffff +│ 2 MiB +│ READ\|WRITE\|NOTCACHED │ frame_mem │/,
    );
    expect(r.stdout).toMatch(
      /│ frame_mem │ VCM_MEMTYPE_0 │ 2 MiB +│ 0 +│ 2 x 1 MiB │ 0x88000000-0x881fffff │ frame, frame_kva │/,
    );
    expect(r.stdout).not.toMatch(ANSI);
  });

  it("--json prints one document; --at-step shows the graph part-way", async () => {
    const full = await memweave(["vcm", WALK, "--json"]);
    expect(full.code).toBe(0);
    expect(full.stderr).toBe("");
    const doc = JSON.parse(full.stdout) as VcmDoc;
    expect(Object.keys(doc)).toEqual([
      "name",
      "seed",
      "afterSteps",
      "ok",
      "expectations",
      "devices",
      "vcms",
      "associations",
      "reservations",
      "bounds",
      "physmems",
      "hooks",
      "stats",
    ]);
    expect(doc).toMatchObject({ name: "vcm-walkthrough", seed: 1, afterSteps: 21, ok: true });
    expect(doc.reservations.map((r) => [r.name, r.physmem])).toEqual([
      ["frame", "frame_mem"],
      ["frame_kva", "frame_mem"],
    ]);
    expect(doc.stats.backs).toBe(2);

    const early = JSON.parse(
      (await memweave(["vcm", WALK, "--json", "--at-step", "5", "--seed", "9"])).stdout,
    ) as VcmDoc;
    expect(early).toMatchObject({ afterSteps: 5, seed: 9 });
    expect(early.vcms.map((v) => v.name)).toEqual(["video"]);
    expect(early.reservations).toEqual([expect.objectContaining({ name: "frame", physmem: null })]);
    expect(early.stats.backs).toBe(0);
  });

  it("exits 2 without a vcm section or for an invalid scenario, 1 when an expectation fails", async () => {
    const none = await memweave(["vcm", "examples/quickstart.yaml"]);
    expect(none).toEqual({
      code: 2,
      stdout: "",
      stderr: "examples/quickstart.yaml: the machine has no vcm section (machine.vcm)\n",
    });
    const text = readFileSync(join(root, WALK), "utf8");
    const bad = tmp.file(
      "bad.yaml",
      text.replace("attr: [READ, WRITE], as: frame }", "attr: [READ, WRTIE], as: frame }"),
    );
    const invalid = await memweave(["vcm", bad]);
    expect(invalid.code).toBe(2);
    expect(invalid.stdout).toBe("");
    expect(invalid.stderr).toMatch(
      /^.*bad\.yaml:\d+:\d+: steps\[3\]\.attr\[1\]: unknown reservation attribute "WRTIE", did you mean "WRITE"\?/,
    );
    const failing = tmp.file(
      "failing.yaml",
      text.replace(
        "expect: { type: ext-kernel, numRes: 1,",
        "expect: { type: ext-kernel, numRes: 2,",
      ),
    );
    const r = await memweave(["vcm", failing]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/after 21 step\(s\): 1 of \d+ expectation\(s\) failed\n/);
    expect(r.stdout).toContain("VCM reservations");
  });

  it("--help explains the tables, exit codes and gives examples", async () => {
    const r = await memweave(["vcm", "--help"]);
    expect(r.code).toBe(0);
    for (const text of [
      "Usage: memweave vcm [options] <scenario>",
      "--at-step <n>",
      "--json",
      "Exit codes: 0",
      "memweave vcm examples/vcm-walkthrough.yaml --at-step 6 --json",
    ])
      expect(r.stdout).toContain(text);
    const top = await memweave(["--help"]);
    expect(top.stdout).toMatch(
      /\n {2}vcm \[options\] <scenario> +run a scenario and print its VCM graph/,
    );
  });
});

describe("memweave run with a vcm section", () => {
  it("shows the VCM manager in the machine and the VCM graph and Streams in the statistics", async () => {
    const r = await memweave(["run", "examples/vcm-tlb-reach.yaml", "--width", "0"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const machine = r.stdout.slice(0, r.stdout.indexOf("\nSteps\n"));
    expect(machine).toMatch(/│ VCM_MEMTYPE_0 +│ target vcm-pools +│/);
    expect(machine).toMatch(/│ smmu0 +│ base 0x0, irq 0, version 1; contexts gpu │/);
    const stats = r.stdout.slice(r.stdout.indexOf("\nFinal statistics\n"));
    expect(stats).toMatch(
      /│ 4K pages +│ gpu0 +│ 0x10000000-0x103fffff x2 │ 4 KiB +│ 2048 +│ 0 +│ 2048 +│/,
    );
    expect(stats).toMatch(/│ 64K pages +│ gpu0 +│ .* │ 128 +│/);
    expect(stats).toMatch(/│ 1M sections │ gpu0 +│ .* │ 4 +│ 4 +│ 4 +│/);
    for (const title of ["Streams", "VCM devices", "VCMs", "VCM reservations", "VCM statistics"])
      expect(stats).toContain(`\n${title}\n`);
    expect(stats).toMatch(/│ 3 +│ 2 +│ 1024 x 4K, 64 x 64K, 4 x 1M │ 0 +│/);
  });
});
