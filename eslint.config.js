// ESLint flat config for memweave.
//
// - TypeScript files get typescript-eslint's type-aware recommended rules (through the project
//   service and tsconfig.json) plus a few stricter checks.
// - src/**/*.ts also gets the layering rule (tools/eslint-plugin-layering, DESIGN.md "Layers").
// - JavaScript files (this config, tools/**/*.js) get the plain recommended rules, without
//   type information.

import path from "node:path";

import js from "@eslint/js";
import { defineConfig, globalIgnores } from "eslint/config";
import tseslint from "typescript-eslint";

import layering from "./tools/eslint-plugin-layering/index.js";

const unusedVars = {
  args: "after-used",
  argsIgnorePattern: "^_",
  varsIgnorePattern: "^_",
  caughtErrorsIgnorePattern: "^_",
  destructuredArrayIgnorePattern: "^_",
};

export default defineConfig(
  globalIgnores(["dist/", "dist-check/", "dist-bench/", "node_modules/", "coverage/", "docs/"]),

  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: {
      reportUnusedDisableDirectives: "error",
    },
    rules: {
      "no-unused-vars": "off",
      "@typescript-eslint/no-unused-vars": ["error", unusedVars],
    },
  },

  {
    files: ["**/*.ts", "**/*.mts", "**/*.cts"],
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/switch-exhaustiveness-check": "error",
      "@typescript-eslint/restrict-plus-operands": "error",
    },
  },

  {
    files: ["src/**/*.ts"],
    plugins: { layering },
    rules: {
      "layering/layering": ["error", { srcDir: path.join(import.meta.dirname, "src") }],
    },
  },

  // The model below sim/node/ runs in browsers and workers and must be deterministic: no Node
  // globals, no timers (simulated time comes from the cost model).
  {
    files: [
      "src/{base,phys,mmu,devices,vcm,gmem,gunyah}/**/*.ts",
      "src/sim/**/*.ts",
      "src/index.ts",
    ],
    ignores: ["src/sim/node/**", "**/*.test.ts", "**/*.bench.ts", "**/*.testutil.ts"],
    rules: {
      "no-restricted-globals": [
        "error",
        ...[
          "process",
          "Buffer",
          "require",
          "__dirname",
          "__filename",
          "global",
          "setImmediate",
        ].map((name) => ({
          name,
          message: `${name} is Node-only; the model must run in a browser too`,
        })),
        ...["setTimeout", "setInterval", "Date", "performance"].map((name) => ({
          name,
          message: `${name} depends on wall time; the model is deterministic (use the cost model)`,
        })),
      ],
    },
  },

  {
    files: ["**/*.js", "**/*.mjs", "**/*.cjs"],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
