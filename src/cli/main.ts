#!/usr/bin/env node
/**
 * The `memweave` executable: binds {@link runCli} to the process (arguments, streams,
 * environment, exit code). Everything else is in program.ts.
 */
import { runCli } from "./program.js";

/** Exit code of an internal error (a bug), as sysexits' EX_SOFTWARE. */
const EXIT_INTERNAL = 70;

// A closed pipe (`memweave run x --json | head`) is not an error of ours.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw e;
});

try {
  process.exitCode = await runCli(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
  });
} catch (e) {
  process.stderr.write(
    `memweave: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
  );
  process.exitCode = EXIT_INTERNAL;
}
