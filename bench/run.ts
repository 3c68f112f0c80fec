/**
 * `npm run bench`: runs every registered benchmark case and prints measured figures against
 * the issues' targets. Options: a regular expression to filter case names; `--json FILE` to
 * write the results. Exits 0 even when a target is missed (benchmarks inform, tests decide);
 * `--strict` exits 1 on a miss.
 */
import { writeFileSync } from "node:fs";
import os from "node:os";
import { runCases } from "./harness.js";
import { nativeReference } from "./native.js";
import "../src/phys/buddy.bench.js";
import "../src/phys/byte-store.bench.js";
import "../src/mmu/translate.bench.js";
import "../src/mmu/page-table.bench.js";
import "../src/devices/access-path.bench.js";
import "../src/sim/scenario/run.bench.js";
import "../src/devices/graph/reverse-map.bench.js";
import "../src/vcm/vcm.bench.js";
import "../src/gunyah/wire/codec.bench.js";
import "../src/server/rm.bench.js";
import "../src/gmem/gmem.bench.js";
import "../src/gmem/replay.bench.js";
import "../src/cli/human.bench.js";

const args = process.argv.slice(2);
const jsonAt = args.indexOf("--json");
const jsonFile = jsonAt >= 0 ? args[jsonAt + 1] : undefined;
const strict = args.includes("--strict");
const pattern = args.find((a, i) => !a.startsWith("--") && (jsonAt < 0 || i !== jsonAt + 1));

console.log(
  `memweave benchmarks — node ${process.version}, ${os.cpus()[0]?.model ?? "cpu"} x ${os.cpus().length}, ${os.platform()} ${os.arch()}`,
);
const native = nativeReference();
console.log(native.message);
const results = await runCases(pattern ? new RegExp(pattern) : undefined, native.runner);
if (jsonFile)
  writeFileSync(jsonFile, JSON.stringify({ node: process.version, results }, null, 2) + "\n");
const missed = results.filter((r) => !r.met);
console.log(`${results.length - missed.length} of ${results.length} targets met`);
if (strict && missed.length > 0) process.exit(1);
