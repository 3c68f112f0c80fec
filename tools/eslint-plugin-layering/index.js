/**
 * eslint-plugin-layering: enforces the layering of memweave's src/ (DESIGN.md, "Layers").
 *
 * Plain ESM JavaScript with JSDoc types, so ESLint loads it without a build step.
 * It depends on nothing but Node built-ins and must never import from src/.
 *
 * The rule `layering/layering` looks at every module specifier of a file under src/:
 * `import ... from`, `import type ... from`, `export ... from`, `import("...")`,
 * `require("...")`, `import x = require("...")` and `typeof import("...")` types.
 *
 * - Relative specifiers are resolved against the file's directory; only the folder matters
 *   (specifiers end in `.js` but name `.ts` files). The first folder below src/ is the layer.
 * - A layer may import its own layer and the layers of lower rank, never a higher one.
 * - vcm/, gmem/, gunyah/ never import each other; cli/, server/, web/ never import each other,
 *   except that cli/ may import server/ (the CLI launches the server: `memweave rm serve`).
 * - Top-level files of src/ (the library entry `src/index.ts`) may import anything; no layer
 *   may import them (nor the package itself, "memweave", which is the same entry).
 * - Node built-ins (`node:*` or a bare name of `module.builtinModules`) are forbidden in
 *   layers of rank <= 4 and in sim/ outside the node-only part `src/sim/node/`; the rest of
 *   sim/ may not import `src/sim/node/` either. Test and bench files (`*.test.ts`,
 *   `*.bench.ts`) are exempt from the built-in rule only.
 * - A file in an unknown folder of src/, or an import into one, is reported: add the folder
 *   to DESIGN.md and to LAYER_RANKS below first.
 */

import { builtinModules } from "node:module";
import path from "node:path";

/**
 * Layer folder under src/ -> rank. A file may import ranks <= its own.
 * @type {Readonly<Record<string, number>>}
 */
export const LAYER_RANKS = Object.freeze({
  base: 0,
  phys: 1,
  mmu: 2,
  devices: 3,
  vcm: 4,
  gmem: 4,
  gunyah: 4,
  sim: 5,
  cli: 6,
  server: 6,
  web: 6,
});

/** Layers of equal rank that must stay independent of each other. */
const SIBLING_GROUPS = /** @type {const} */ ([
  { layers: ["vcm", "gmem", "gunyah"], what: "the systems vcm/, gmem/ and gunyah/" },
  { layers: ["cli", "server", "web"], what: "the interfaces cli/, server/ and web/" },
]);

/**
 * Sibling imports allowed in one direction, as `from -> to`. The CLI launches the server
 * (`memweave rm serve`; DESIGN.md, Interfaces, lists serving among the CLI's commands) and its
 * `rm call` speaks through the server's socket client; the server never imports the CLI, and
 * neither imports web/.
 */
const ALLOWED_SIBLING_IMPORTS = new Set(["cli->server"]);

/** Highest rank whose files may not use Node built-ins (sim/ is handled separately). */
const MAX_PURE_RANK = 4;

/** The package's own name: importing it from inside src/ means importing the library entry. */
const PACKAGE_NAME = "memweave";

const BUILTINS = new Set(builtinModules);

/** Files exempt from the built-in rule. */
const TEST_OR_BENCH = /\.(test|bench)\.[cm]?[jt]sx?$/;

/**
 * @typedef {object} Place where a file or an import target lives, relative to src/
 * @property {"layer" | "entry" | "unknown" | "outside"} kind
 *   layer: src/<known layer>/...; entry: a top-level file of src/ (or src/ itself);
 *   unknown: src/<unknown folder>/...; outside: not under src/
 * @property {string} layer first folder below src/ ("" for entry and outside)
 * @property {boolean} simNode whether the place is inside src/sim/node/
 */

/**
 * @param {string} srcDir absolute path of src/
 * @param {string} absPath absolute path of a file or folder
 * @returns {Place}
 */
function locate(srcDir, absPath) {
  const rel = path.relative(srcDir, absPath);
  if (rel === "") return { kind: "entry", layer: "", simNode: false };
  if (rel.startsWith("..") || path.isAbsolute(rel)) {
    return { kind: "outside", layer: "", simNode: false };
  }
  const parts = rel.split(path.sep);
  const layer = /** @type {string} */ (parts[0]);
  // A single segment is a top-level file of src/ ("../index.js"), unless it names a folder
  // ("../sim", which resolves to sim/index.ts).
  if (parts.length === 1 && !Object.hasOwn(LAYER_RANKS, layer) && path.extname(layer) !== "") {
    return { kind: "entry", layer: "", simNode: false };
  }
  const simNode = layer === "sim" && parts[1] === "node";
  return { kind: Object.hasOwn(LAYER_RANKS, layer) ? "layer" : "unknown", layer, simNode };
}

/**
 * @param {string} specifier
 * @returns {boolean} whether the specifier names a Node built-in module
 */
export function isBuiltin(specifier) {
  return specifier.startsWith("node:") || BUILTINS.has(specifier);
}

/**
 * @param {string} a layer
 * @param {string} b layer
 * @returns {string | undefined} description of the sibling group holding both, if any
 */
function siblingGroup(a, b) {
  for (const group of SIBLING_GROUPS) {
    /** @type {readonly string[]} */
    const layers = group.layers;
    if (layers.includes(a) && layers.includes(b)) return group.what;
  }
  return undefined;
}

/**
 * The string value of a specifier node, if it is a literal string or a template literal
 * without expressions; undefined for computed specifiers (those cannot be checked).
 * @param {unknown} node
 * @returns {string | undefined}
 */
function stringValue(node) {
  if (node === null || typeof node !== "object") return undefined;
  const n =
    /** @type {{ type?: unknown, value?: unknown, quasis?: unknown, expressions?: unknown }} */ (
      node
    );
  if (n.type === "Literal" && typeof n.value === "string") return n.value;
  if (
    n.type === "TemplateLiteral" &&
    Array.isArray(n.expressions) &&
    n.expressions.length === 0 &&
    Array.isArray(n.quasis)
  ) {
    const quasi = /** @type {{ value?: { cooked?: unknown } } | undefined} */ (n.quasis[0]);
    const cooked = quasi?.value?.cooked;
    return typeof cooked === "string" ? cooked : undefined;
  }
  return undefined;
}

/** @type {import("eslint").Rule.RuleModule} */
const layering = {
  meta: {
    type: "problem",
    docs: {
      description:
        "Enforce memweave's layering: imports point downward only, sibling systems and interfaces stay independent, and Node built-ins stay out of the pure layers (DESIGN.md, Layers).",
    },
    schema: [
      {
        type: "object",
        properties: {
          srcDir: {
            type: "string",
            description: "Absolute path of src/. Defaults to <cwd>/src.",
          },
        },
        additionalProperties: false,
      },
    ],
    messages: {
      upward:
        "upward import: {{file}} ({{from}}) may not import {{spec}} ({{to}}); see DESIGN.md Layers",
      sibling:
        "sibling import: {{file}} ({{from}}) may not import {{spec}} ({{to}}): {{group}} are independent of each other; see DESIGN.md Layers",
      entry:
        "upward import: {{file}} ({{from}}) may not import {{spec}}, the library entry; import the layer's own module instead; see DESIGN.md Layers",
      builtin:
        "node built-in: {{file}} ({{from}}) may not import {{spec}}; nothing below sim/ uses Node built-ins, and in sim/ only src/sim/node/ may; see DESIGN.md Layers",
      simNode:
        "node-only import: {{file}} (sim) may not import {{spec}} (sim/node): only src/sim/node/ may use Node built-ins, and the rest of sim/ must not depend on it; see DESIGN.md Layers",
      unknownFile:
        "unknown layer: {{file}} is in src/{{layer}}/, which is not a layer; add it to DESIGN.md Layers and to tools/eslint-plugin-layering first",
      unknownTarget:
        "unknown layer: {{file}} ({{from}}) imports {{spec}} in src/{{layer}}/, which is not a layer; add it to DESIGN.md Layers and to tools/eslint-plugin-layering first",
    },
  },

  create(context) {
    const options = /** @type {{ srcDir?: string } | undefined} */ (context.options[0]);
    const srcDir = path.resolve(context.cwd, options?.srcDir ?? "src");
    const filename = path.resolve(context.cwd, context.filename);
    const here = locate(srcDir, filename);

    // Entry files may import anything; files outside src/ are not this rule's business.
    if (here.kind === "entry" || here.kind === "outside") return {};

    const file = path.relative(path.dirname(srcDir), filename).split(path.sep).join("/");
    const exemptFromBuiltins = TEST_OR_BENCH.test(filename);

    if (here.kind === "unknown") {
      return {
        Program(node) {
          context.report({ node, messageId: "unknownFile", data: { file, layer: here.layer } });
        },
      };
    }

    const from = here.layer;
    const fromRank = /** @type {number} */ (LAYER_RANKS[from]);
    const fileDir = path.dirname(filename);

    /**
     * @param {import("estree").Node} node the node to report on (the specifier)
     * @param {string} spec the module specifier
     */
    function check(node, spec) {
      const data = { file, from, spec };

      if (isBuiltin(spec)) {
        const forbidden = fromRank <= MAX_PURE_RANK || (from === "sim" && !here.simNode);
        if (forbidden && !exemptFromBuiltins) {
          context.report({ node, messageId: "builtin", data });
        }
        return;
      }

      if (spec === PACKAGE_NAME || spec.startsWith(`${PACKAGE_NAME}/`)) {
        context.report({ node, messageId: "entry", data });
        return;
      }

      // Bare specifiers other than built-ins are npm packages: not governed by this rule.
      if (!spec.startsWith(".") && !path.isAbsolute(spec)) return;

      const there = locate(srcDir, path.resolve(fileDir, spec));
      switch (there.kind) {
        case "outside":
          return;
        case "entry":
          context.report({ node, messageId: "entry", data });
          return;
        case "unknown":
          context.report({
            node,
            messageId: "unknownTarget",
            data: { ...data, layer: there.layer },
          });
          return;
        case "layer":
          break;
      }

      const to = there.layer;
      const toRank = /** @type {number} */ (LAYER_RANKS[to]);
      if (toRank > fromRank) {
        context.report({ node, messageId: "upward", data: { ...data, to } });
        return;
      }
      if (to !== from) {
        const group = siblingGroup(from, to);
        if (group !== undefined && !ALLOWED_SIBLING_IMPORTS.has(`${from}->${to}`)) {
          context.report({ node, messageId: "sibling", data: { ...data, to, group } });
        }
        return;
      }
      if (from === "sim" && there.simNode && !here.simNode && !exemptFromBuiltins) {
        context.report({ node, messageId: "simNode", data });
      }
    }

    /**
     * @param {unknown} source a specifier node (string literal, template literal or other)
     */
    function checkSource(source) {
      const spec = stringValue(source);
      if (spec !== undefined) check(/** @type {import("estree").Node} */ (source), spec);
    }

    /** @type {import("eslint").Rule.RuleListener} */
    const listener = {
      ImportDeclaration(node) {
        checkSource(node.source);
      },
      ExportNamedDeclaration(node) {
        if (node.source) checkSource(node.source);
      },
      ExportAllDeclaration(node) {
        checkSource(node.source);
      },
      ImportExpression(node) {
        checkSource(node.source);
      },
      CallExpression(node) {
        if (
          node.callee.type === "Identifier" &&
          node.callee.name === "require" &&
          node.arguments.length >= 1
        ) {
          checkSource(node.arguments[0]);
        }
      },
    };

    // TypeScript-only syntax (present when the file is parsed by typescript-eslint).
    /** @param {{ moduleReference?: { type?: string, expression?: unknown } }} node */
    listener["TSImportEqualsDeclaration"] = (node) => {
      const ref = node.moduleReference;
      if (ref?.type === "TSExternalModuleReference") checkSource(ref.expression);
    };
    /** @param {{ source?: unknown, argument?: { type?: string, literal?: unknown } }} node */
    listener["TSImportType"] = (node) => {
      if (node.source !== undefined) checkSource(node.source);
      else if (node.argument?.type === "TSLiteralType") checkSource(node.argument.literal);
    };

    return listener;
  },
};

/** @type {import("eslint").ESLint.Plugin} */
const plugin = {
  meta: { name: "eslint-plugin-layering", version: "0.1.0" },
  rules: { layering },
};

export default plugin;
