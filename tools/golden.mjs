#!/usr/bin/env node
/**
 * Regenerate the golden files of the platform graph from the built CLI (dist/cli/main.js):
 *
 *   src/devices/graph/golden/translation.graph.json   memweave graph examples/translation.yaml
 *   src/devices/graph/golden/translation.graph.dot    ... --format dot
 *
 * Usage: `npm run golden` (builds first), or `node tools/golden.mjs [--check]` after
 * `npm run build`. With --check nothing is written: it exits 1 if a golden file differs from
 * what the CLI prints now. It runs the CLI as a child process and imports nothing from src/
 * (tools/README.md).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bin = path.join(root, "dist/cli/main.js");
const dir = path.join(root, "src/devices/graph/golden");

/** Golden file (relative to `dir`) -> the CLI arguments whose stdout it holds. */
const GOLDEN = [
  ["translation.graph.json", ["graph", "examples/translation.yaml"]],
  ["translation.graph.dot", ["graph", "examples/translation.yaml", "--format", "dot"]],
];

const check = process.argv.includes("--check");
const unknown = process.argv.slice(2).filter((a) => a !== "--check");
if (unknown.length > 0) {
  process.stderr.write(`usage: node tools/golden.mjs [--check] (unknown: ${unknown.join(" ")})\n`);
  process.exit(2);
}
if (!existsSync(bin)) {
  process.stderr.write(`${path.relative(root, bin)} is missing: run npm run build first\n`);
  process.exit(2);
}

let stale = 0;
if (!check) mkdirSync(dir, { recursive: true });
for (const [name, args] of GOLDEN) {
  const file = path.join(dir, name);
  const rel = path.relative(root, file);
  // Fixed environment: no colour, whatever the terminal.
  const text = execFileSync(process.execPath, [bin, ...args], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
    maxBuffer: 64 << 20,
  });
  const old = existsSync(file) ? readFileSync(file, "utf8") : undefined;
  if (old === text) {
    process.stdout.write(`unchanged ${rel}\n`);
  } else if (check) {
    stale++;
    process.stdout.write(`differs   ${rel} (memweave ${args.join(" ")})\n`);
  } else {
    writeFileSync(file, text);
    process.stdout.write(`${old === undefined ? "created  " : "updated  "} ${rel}\n`);
  }
}
if (stale > 0) {
  process.stderr.write(`${stale} golden file(s) out of date: run npm run golden\n`);
  process.exit(1);
}
