/**
 * `npm run bench:gmem-trace`: issue 10's long benchmark — a 10-million-access trace (80% to a
 * 1 GiB hot set, 20% uniform over a 4 GiB working set, 30% writes, seed 1) replayed on the
 * replay platform with a 2 GiB device (1024 frames of 2 MiB: the working set is twice the
 * device), under the `gmem` policy unless told otherwise. Targets: <= 60 s of wall time and
 * <= 6 GiB of memory (peak resident set).
 *
 * It prints the counters and the simulated time, the wall time and accesses per second, the
 * peak RSS, and the heap (JS heap plus array buffers) after the run and after a forced GC.
 *
 * Options: `--policy gmem|uvm`, `--count N` (default 10M), `--device-memory SIZE` (2G),
 * `--json FILE` (write the figures), `--strict` (exit 1 when a target is missed).
 */
import { writeFileSync } from "node:fs";
import os from "node:os";

import { parseSize } from "../src/base/size.js";
import { formatDuration } from "../src/gmem/cost.js";
import type { PolicyName } from "../src/gmem/replay.js";
import { createReplayMachine, REPLAY_COUNTERS, replayTrace } from "../src/gmem/replay.js";
import { groupDigits, showBytes } from "../src/gmem/replay-report.js";
import { generateTrace } from "../src/gmem/trace/spec.js";

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const policy = (opt("--policy") ?? "gmem") as PolicyName;
const count = Number(opt("--count") ?? 10_000_000);
const deviceMemory = parseSize(opt("--device-memory") ?? "2G");
const jsonFile = opt("--json");
const GiB = 2 ** 30;
const TARGET_S = 60;
const TARGET_BYTES = 6 * GiB;

const spec = {
  kind: "hotset" as const,
  length: 4 * GiB,
  hot: 1 * GiB,
  count,
  writes: 0.3,
  seed: 1,
};
const trace = generateTrace(spec);
const load = os.loadavg();
console.log(
  `memweave gmem trace benchmark — node ${process.version}, ${os.cpus()[0]?.model ?? "cpu"} x ${os.cpus().length}, load ${load.map((l) => l.toFixed(2)).join(" ")}`,
);
console.log(
  `trace: ${groupDigits(count)} accesses, hot set 1 GiB of 4 GiB (80%), 30% writes; device ${showBytes(deviceMemory)}; policy ${policy}`,
);

const t0 = performance.now();
const m = createReplayMachine({ bounds: trace.bounds, deviceMemory, policy });
const built = performance.now();
let lastReport = built;
const r = replayTrace(m.gmem, trace.cursor, {
  cost: m.cost,
  progressEvery: 1_000_000,
  onProgress: (done) => {
    const now = performance.now();
    if (done < count && now - lastReport > 5000) {
      lastReport = now;
      console.log(`  ${groupDigits(done)} accesses after ${((now - built) / 1000).toFixed(1)} s`);
    }
  },
});
const t1 = performance.now();
const wallS = (t1 - t0) / 1000;
const peakRss = process.resourceUsage().maxRSS * 1024;
const mem = process.memoryUsage();
const heapAfter = mem.heapUsed + mem.arrayBuffers;
(globalThis as { gc?: () => void }).gc?.();
const gcMem = process.memoryUsage();
const heapAfterGc = gcMem.heapUsed + gcMem.arrayBuffers;

for (const k of REPLAY_COUNTERS) console.log(`  ${k.padEnd(20)} ${groupDigits(r.stats[k])}`);
console.log(`  ${"simulatedTimeNs".padEnd(20)} ${formatDuration(r.stats.simulatedTimeNs)}`);
const timeMet = wallS <= TARGET_S;
const memMet = peakRss <= TARGET_BYTES;
console.log(
  `${timeMet ? "ok  " : "MISS"} wall time ${wallS.toFixed(1)} s (machine ${((built - t0) / 1000).toFixed(2)} s, replay ${((t1 - built) / 1000).toFixed(1)} s, ${groupDigits(Math.round(r.accesses / ((t1 - built) / 1000)))} accesses/s; target <= ${TARGET_S} s)`,
);
console.log(
  `${memMet ? "ok  " : "MISS"} peak RSS ${showBytes(peakRss)} (target <= ${showBytes(TARGET_BYTES)}); heap + array buffers ${showBytes(heapAfter)} after the run, ${showBytes(heapAfterGc)} after GC; ${groupDigits(m.platform.store.materializedPages)} materialized 4 KiB pages`,
);
if (jsonFile)
  writeFileSync(
    jsonFile,
    JSON.stringify(
      {
        node: process.version,
        load,
        policy,
        count,
        deviceMemory,
        stats: r.stats,
        wallS,
        peakRss,
        heapAfter,
        heapAfterGc,
      },
      null,
      2,
    ) + "\n",
  );
if (args.includes("--strict") && !(timeMet && memMet)) process.exit(1);
