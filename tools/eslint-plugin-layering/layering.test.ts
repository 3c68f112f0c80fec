import path from "node:path";

import { ESLint, RuleTester, type Rule } from "eslint";
import tseslint from "typescript-eslint";
import { describe, expect, it } from "vitest";

const repoRoot = path.resolve(import.meta.dirname, "../..");
const srcDir = path.join(repoRoot, "src");

// The plugin is plain JavaScript without declarations; load it by URL and give it its type.
const pluginUrl = new URL("./index.js", import.meta.url).href;
const { default: plugin } = (await import(pluginUrl)) as { default: ESLint.Plugin };
const rule = plugin.rules?.["layering"] as Rule.RuleModule;

RuleTester.describe = describe;
RuleTester.it = it;
RuleTester.itOnly = it.only;

const ruleTester = new RuleTester({
  languageOptions: { parser: tseslint.parser, ecmaVersion: "latest", sourceType: "module" },
});

const options = [{ srcDir }];

/** An absolute file name under the repository root, e.g. file("src/phys/x.ts"). */
function file(relative: string): string {
  return path.resolve(repoRoot, relative);
}

type Valid = RuleTester.ValidTestCase;
type Invalid = RuleTester.InvalidTestCase;

function ok(relative: string, code: string): Valid {
  return { name: `${relative}: ${code}`, filename: file(relative), code, options };
}

function bad(relative: string, code: string, messageId: string): Invalid {
  return {
    name: `${relative}: ${code}`,
    filename: file(relative),
    code,
    options,
    errors: [{ messageId }],
  };
}

ruleTester.run("layering", rule, {
  valid: [
    // Required cases.
    ok("src/sim/x.ts", `import { y } from "../phys/x.js";`),
    ok("src/sim/node/files.ts", `import { readFile } from "node:fs/promises";`),
    ok("src/phys/x.test.ts", `import { readFileSync } from "node:fs";`),
    ok("src/base/x.ts", `import { MemError } from "./errors.js";`),

    // Downward and same-layer imports, in every form.
    ok("src/mmu/walk.ts", `export { z } from "../base/index.js";`),
    ok("src/devices/smmu.ts", `export * from "../mmu/index.js";`),
    ok("src/vcm/vcm.ts", `const m = await import("../devices/smmu.js");`),
    ok("src/gmem/x.ts", `import type { Walker } from "../mmu/walk.js";`),
    ok("src/gunyah/rm/codec.ts", `import { u64 } from "../../base/size.js";`),
    ok("src/cli/main.ts", `import { run } from "../sim/run.js"; import { x } from "../vcm/x.js";`),
    ok("src/server/http.ts", `import { createServer } from "node:http";`),
    // The one sibling import allowed: the CLI launches the server (`memweave rm serve`).
    ok("src/cli/rm.ts", `import { RmEndpoint } from "../server/rm-endpoint.js";`),
    ok("src/cli/main.ts", `import { readFile } from "fs/promises";`),
    ok("src/sim/node/trace-file.ts", `import { run } from "../run.js";`),
    ok("src/sim/run.test.ts", `import { load } from "./node/load.js";`),
    ok("src/phys/map.bench.ts", `import { writeFileSync } from "fs";`),
    // npm packages are not this rule's business.
    ok("src/base/x.ts", `import { z } from "zod";`),
    // The library entry may import anything; files outside src/ are not checked.
    ok("src/index.ts", `export * from "./cli/main.js"; import fs from "node:fs";`),
    ok("tools/x.ts", `import { y } from "../src/sim/x.js";`),
    ok("bench/run.ts", `import { y } from "../src/sim/x.js"; import fs from "node:fs";`),
    // Computed specifiers cannot be resolved and are left alone.
    ok("src/phys/x.ts", `const m = await import(name);`),
  ],
  invalid: [
    // Required cases.
    {
      ...bad("src/phys/x.ts", `import { y } from "../sim/x.js";`, "upward"),
      errors: [
        {
          message:
            "upward import: src/phys/x.ts (phys) may not import ../sim/x.js (sim); see DESIGN.md Layers",
        },
      ],
    },
    bad("src/vcm/x.ts", `import { y } from "../gmem/x.js";`, "sibling"),
    bad("src/mmu/x.ts", `import { readFileSync } from "node:fs";`, "builtin"),
    bad("src/sim/x.ts", `import { readFileSync } from "fs";`, "builtin"),

    // Every import form is checked.
    bad("src/base/x.ts", `export { y } from "../phys/x.js";`, "upward"),
    bad("src/base/x.ts", `export * from "../mmu/index.js";`, "upward"),
    bad("src/devices/x.ts", `const m = await import("../vcm/x.js");`, "upward"),
    bad("src/devices/x.ts", "const m = await import(`../sim/x.js`);", "upward"),
    bad("src/phys/x.ts", `const fs = require("fs");`, "builtin"),
    bad("src/phys/x.ts", `import fs = require("node:fs");`, "builtin"),
    bad("src/gmem/x.ts", `import type { Vm } from "../gunyah/vm.js";`, "sibling"),
    bad("src/gunyah/x.ts", `type T = typeof import("../vcm/vcm.js");`, "sibling"),

    // Siblings, folders, the entry, sim/node.
    bad("src/server/http.ts", `import { run } from "../cli/program.js";`, "sibling"),
    bad("src/cli/main.ts", `import { app } from "../web/app.js";`, "sibling"),
    bad("src/web/app.ts", `import { run } from "../cli/main.js";`, "sibling"),
    bad("src/sim/x.ts", `import { serve } from "../server/http.js";`, "upward"),
    bad("src/mmu/formats/lpae.ts", `import { A } from "../../devices/smmu.js";`, "upward"),
    bad("src/phys/x.ts", `import { sim } from "../sim";`, "upward"),
    bad("src/phys/x.ts", `import { all } from "../index.js";`, "entry"),
    bad("src/phys/x.ts", `import { all } from "memweave";`, "entry"),
    bad("src/sim/run.ts", `import { load } from "./node/load.js";`, "simNode"),
    bad("src/base/x.ts", `import { EventEmitter } from "events";`, "builtin"),
    bad("src/gmem/x.ts", `import { setTimeout } from "node:timers/promises";`, "builtin"),
    // Test files are exempt from the built-in rule only.
    bad("src/phys/x.test.ts", `import { y } from "../sim/x.js";`, "upward"),
    // Unknown folders of src/ must be declared first.
    bad("src/util/x.ts", `export const x = 1;`, "unknownFile"),
    bad("src/phys/x.ts", `import { y } from "../util/x.js";`, "unknownTarget"),
    bad("src/phys/x.ts", `import { y } from "../util";`, "unknownTarget"),
  ],
});

describe("eslint.config.js", () => {
  it("wires the layering rule into src/**/*.ts as an error", async () => {
    // Type information is not what this test is about: disable it so that the test does not
    // build a TypeScript program for the whole repository and stays fast as src/ grows.
    const eslint = new ESLint({
      cwd: repoRoot,
      overrideConfig: tseslint.configs.disableTypeChecked,
    });
    const code = `import { readFileSync } from "node:fs";\nimport { run } from "../sim/run.js";\n\nexport const x = [readFileSync, run];\n`;
    const [result] = await eslint.lintText(code, { filePath: "src/phys/bad.ts" });
    const layeringMessages = (result?.messages ?? []).filter(
      (m) => m.ruleId === "layering/layering",
    );
    expect(layeringMessages.map((m) => [m.line, m.severity, m.message])).toEqual([
      [
        1,
        2,
        "node built-in: src/phys/bad.ts (phys) may not import node:fs; nothing below sim/ uses Node built-ins, and in sim/ only src/sim/node/ may; see DESIGN.md Layers",
      ],
      [
        2,
        2,
        "upward import: src/phys/bad.ts (phys) may not import ../sim/run.js (sim); see DESIGN.md Layers",
      ],
    ]);
  });
});
