import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { loadScenarioFile } from "./load-file.js";

const dir = mkdtempSync(join(tmpdir(), "memweave-load-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("loadScenarioFile", () => {
  it("reads and validates a file, naming it in errors", async () => {
    const file = join(dir, "s.yaml");
    writeFileSync(file, "version: 1\nname: s\nmachine:\n  regions: []\nsteps: []\n");
    const r = await loadScenarioFile(file);
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.errors[0]).toMatchObject({ file, line: 4, column: 12, path: "machine.regions" });
  });

  it("reads JSON", async () => {
    const file = join(dir, "s.json");
    writeFileSync(
      file,
      JSON.stringify({
        version: 1,
        name: "j",
        machine: { regions: [{ name: "dram", base: 0, size: "4K", kind: "ram" }] },
        steps: [],
      }),
    );
    const r = await loadScenarioFile(file);
    expect(r.ok && r.scenario.name).toBe("j");
  });

  it("reports a missing file or a directory as an io error, without throwing", async () => {
    const missing = join(dir, "nope.yaml");
    expect(await loadScenarioFile(missing)).toEqual({
      ok: false,
      errors: [
        {
          file: missing,
          line: 0,
          column: 0,
          path: "",
          message: "cannot read file: no such file",
          kind: "io",
          code: "io",
          severity: "error",
        },
      ],
      warnings: [],
    });
    const r = await loadScenarioFile(dir);
    expect(r.ok ? "" : r.errors[0]!.message).toBe("cannot read file: it is a directory");
  });

  it("- reads standard input, named <stdin>; its warnings come with the result", async () => {
    const text =
      "version: 1\nname: s\nmachine:\n  regions: [{ name: dram, base: 0, size: 4K, kind: ram }]\nsteps: []\n";
    const r = await loadScenarioFile("-", { stdin: () => Promise.resolve(text) });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.source.file).toBe("<stdin>");
    expect(r.warnings.map((w) => [w.file, w.code, w.severity])).toEqual([
      ["<stdin>", "no-expectations", "warning"],
    ]);
    const bad = await loadScenarioFile("-", { stdin: () => Promise.resolve("version: [\n") });
    expect(bad.ok ? [] : bad.errors.map((e) => [e.file, e.code])).toEqual([
      ["<stdin>", "yaml-syntax"],
    ]);
    const failed = await loadScenarioFile("-", {
      stdin: () => Promise.reject(Object.assign(new Error("closed"), { code: "EPIPE" })),
    });
    expect(failed.ok ? "" : `${failed.errors[0]!.file}: ${failed.errors[0]!.message}`).toBe(
      "<stdin>: cannot read file: closed",
    );
  });
});
