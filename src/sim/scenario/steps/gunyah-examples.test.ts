/**
 * The Gunyah examples (examples/gunyah-*.yaml): each is valid, every expectation holds, each
 * flow shows what it says, and examples/README.md lists it. (The CLI tests run every example
 * too; src/cli/gunyah-cli.test.ts runs `memweave who` on one.)
 */
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { describe, expect, it } from "vitest";

import { formatScenarioError, parseScenario } from "../parse.js";
import type { RunResult } from "../run.js";
import { runScenario } from "../run.js";

const root = fileURLToPath(new URL("../../../../", import.meta.url));
const EXAMPLES = readdirSync(root + "examples")
  .filter((f) => f.startsWith("gunyah") && f.endsWith(".yaml"))
  .sort();

function runExample(name: string): RunResult {
  const r = parseScenario(readFileSync(`${root}examples/${name}`, "utf8"), name);
  if (!r.ok) throw new Error(r.errors.map(formatScenarioError).join("\n"));
  return runScenario(r.scenario);
}

const summaryOf = (r: RunResult, i: number) => r.steps[i]!.summary;

describe("the Gunyah examples", () => {
  it("there is one per flow, each listed in examples/README.md", () => {
    expect(EXAMPLES).toEqual([
      "gunyah-donate.yaml",
      "gunyah-lend-append.yaml",
      "gunyah-share.yaml",
      "gunyah-vm-lifecycle.yaml",
      "gunyah-vmm.yaml",
    ]);
    const readme = readFileSync(root + "examples/README.md", "utf8");
    for (const e of EXAMPLES) expect(readme).toContain(`\`${e}\``);
  });

  it.each(EXAMPLES)("%s: every step ok, every expectation holds, deterministically", (name) => {
    const r = runExample(name);
    expect(r.expectations.list.filter((e) => !e.passed).map((e) => e.message)).toEqual([]);
    expect(r.steps.filter((s) => s.status !== "ok").map((s) => `${s.index} ${s.status}`)).toEqual(
      [],
    );
    expect(r.expectations.passed).toBeGreaterThanOrEqual(10);
    expect(JSON.stringify(runExample(name))).toBe(JSON.stringify(r));
  });

  it("gunyah-share: both VMs reach the page through the parcel, then only the host", () => {
    const r = runExample("gunyah-share.yaml");
    expect(summaryOf(r, 13)).toBe(
      "hlos (rw) at IPA 0x80000000-0x801fffff via parcel 0; vm128 (rw) at IPA 0x60000000-0x601fffff via parcel 0",
    );
    expect(summaryOf(r, 15)).toBe("MEM_RECLAIM from hlos of handle 0: MEM_INUSE");
    expect(summaryOf(r, 21)).toBe("hlos (rwx) at IPA 0x80000000 via its own memory");
    expect(r.statistics.gunyah?.rpcs.MEM_ACCEPT).toEqual({ OK: 1 });
  });

  it("gunyah-lend-append: 512 + 88 entries, two accept replies, the Linux flow in two messages", () => {
    const r = runExample("gunyah-lend-append.yaml");
    expect(summaryOf(r, 11)).toBe(
      "MEM_ACCEPT from vm128 of handle 0: at 0x10000000000+4 KiB and 511 more, INCOMPLETE",
    );
    expect(summaryOf(r, 17)).toMatch(
      /^MEM_LEND from hlos as Linux \(700 entries, 2 messages\): handle 1/,
    );
    // The failed Linux lend: a LEND, a refused APPEND, the driver's RECLAIM.
    expect(r.statistics.gunyah?.rpcs).toMatchObject({
      MEM_APPEND: { OK: 2, DENIED: 1, MEM_INVALID: 1 },
      MEM_RECLAIM: { OK: 3 },
    });
  });

  it("gunyah-vm-lifecycle: reclaim before reset is MEM_INUSE; the VMID is free at the end", () => {
    const r = runExample("gunyah-vm-lifecycle.yaml");
    expect(summaryOf(r, 17)).toBe("MEM_RECLAIM from hlos of handle 0: MEM_INUSE");
    expect(r.statistics.gunyah?.vms.map((v) => v.name)).toEqual(["hlos"]);
    expect(r.statistics.gunyah?.parcels).toEqual([]);
  });

  it("gunyah-vmm: a clean teardown, then one that strands region 0", () => {
    const r = runExample("gunyah-vmm.yaml");
    expect(summaryOf(r, 16)).toBe(
      "teardown of vm128: VM_STOP OK; VM_RESET OK; MEM_RECLAIM 0 OK; MEM_RECLAIM 1 OK; VM_DEALLOCATE OK; nothing stranded",
    );
    expect(summaryOf(r, 28)).toMatch(
      /stranded: region 0 \(handle 2, 0x92000000\+2 MiB\): MEM_INUSE/,
    );
  });
});
