/**
 * The native reference of the translation benchmarks: bench/native/translate.c, compiled with
 * the machine's C compiler (`$CC`, else `cc`, at -O2) into dist-bench/native/, and run once per
 * round by {@link NativeRunner}. Without a compiler the benchmarks print memweave's figures alone.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import type { NativeFigures, NativeRunner } from "./harness.js";

const here = dirname(fileURLToPath(import.meta.url)); // dist-bench/bench
const source = join(here, "..", "..", "bench", "native", "translate.c");
const binary = join(here, "..", "native", "translate");

/** Compile the reference; the runner and a line saying what was done. */
export function nativeReference(): { runner: NativeRunner; message: string } {
  const cc = process.env.CC ?? "cc";
  mkdirSync(dirname(binary), { recursive: true });
  const built = spawnSync(cc, ["-O2", "-o", binary, source], { encoding: "utf8" });
  if (built.error !== undefined || built.status !== 0) {
    const why = built.error !== undefined ? built.error.message : built.stderr.trim();
    return {
      runner: () => undefined,
      message: `native reference: not built (${cc}: ${why}); memweave's figures alone`,
    };
  }
  const version = spawnSync(cc, ["--version"], { encoding: "utf8" }).stdout.split("\n")[0];
  return {
    runner: (workload, ops) => {
      const run = spawnSync(binary, [workload, String(ops)], { encoding: "utf8" });
      if (run.status !== 0) throw new Error(`native ${workload}: ${run.stderr || run.error}`);
      return JSON.parse(run.stdout) as NativeFigures;
    },
    message: `native reference: ${cc} -O2 (${version}), rounds alternate with memweave's`,
  };
}
