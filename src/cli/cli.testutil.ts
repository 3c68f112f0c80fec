/**
 * Helpers of the end-to-end tests of the built `memweave` executable (dist/cli/main.js): build
 * it when a source is newer, run it as a child process, and write scenario files to a
 * temporary folder.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = fileURLToPath(new URL("../../", import.meta.url));
export const bin = join(root, "dist/cli/main.js");

/** The newest modification time of the sources that go into dist/. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts"))
      newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** Rebuild dist/ when any source is newer than it (`npm test` builds anyway). */
export function ensureBuilt(): void {
  let built = 0;
  try {
    built = statSync(bin).mtimeMs;
  } catch {
    // Not built yet.
  }
  if (built < newestSource(join(root, "src")))
    execFileSync(
      process.execPath,
      [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"],
      { cwd: root, stdio: "pipe" },
    );
}

export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the built CLI in the repository root, with `env` added to the environment. */
export function memweave(args: string[], env: Record<string, string> = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { cwd: root, env: { ...process.env, ...env }, maxBuffer: 64 << 20 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** A temporary folder for scenario files: `file(name, text)` writes one; `remove()` at the end. */
export function tempFolder(prefix: string) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    file(this: void, name: string, text: string): string {
      const file = join(dir, name);
      writeFileSync(file, text);
      return file;
    },
    remove: (): void => rmSync(dir, { recursive: true, force: true }),
  };
}
