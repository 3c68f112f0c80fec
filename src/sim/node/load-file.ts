/**
 * Reading a scenario file from disk (Node only) and validating it with
 * {@link parseScenario}. A file that can't be read is reported as an error of kind `io`, in the
 * same result shape as validation errors, so callers handle one kind of failure.
 *
 * The path `-` is standard input, named `<stdin>` in messages (the files its steps read are
 * then relative to the working folder).
 *
 * @example
 * const result = await loadScenarioFile("examples/quickstart.yaml");
 * if (result.ok) runScenario(result.scenario);
 */
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import process from "node:process";

import type { ParseOptions, ScenarioError, ScenarioParseResult } from "../scenario/parse.js";
import { formatDocPath } from "../scenario/machine.js";
import { parseScenario } from "../scenario/parse.js";
import { defaultStepRegistry } from "../scenario/steps/index.js";

/** Why a file could not be read, in a few words (`no such file`, `is a directory`, …). */
function describeReadError(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  switch (code) {
    case "ENOENT":
      return "cannot read file: no such file";
    case "EISDIR":
      return "cannot read file: it is a directory";
    case "EACCES":
    case "EPERM":
      return "cannot read file: permission denied";
    default:
      return `cannot read file: ${e instanceof Error ? e.message : String(e)}`;
  }
}

/** The path that stands for standard input, and the name messages give it. */
export const STDIN_PATH = "-";
export const STDIN_NAME = "<stdin>";

/** Options of {@link loadScenarioFile}: the step modules, and where `-` reads from. */
export interface LoadOptions extends ParseOptions {
  /** The text of standard input (default: all of the process's stdin, as UTF-8). */
  readonly stdin?: () => Promise<string>;
}

/** All of the process's standard input, as UTF-8. */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks).toString("utf8");
}

/** An error reading a file, as a diagnostic without a position. */
function ioError(file: string, message: string): ScenarioError {
  return { file, line: 0, column: 0, path: "", message, kind: "io", code: "io", severity: "error" };
}

/**
 * Read `path` (UTF-8; YAML or JSON; `-`: standard input) and validate it. Errors name the file
 * as given in `path` (`<stdin>` for `-`). Never throws for a missing or unreadable file: that
 * is an `io` error in the result.
 */
export async function loadScenarioFile(
  path: string,
  options: LoadOptions = {},
): Promise<ScenarioParseResult> {
  const name = path === STDIN_PATH ? STDIN_NAME : path;
  let text: string;
  try {
    text =
      path === STDIN_PATH ? await (options.stdin ?? readStdin)() : await readFile(path, "utf8");
  } catch (e) {
    return { ok: false, errors: [ioError(name, describeReadError(e))], warnings: [] };
  }
  const parsed = parseScenario(text, name, options);
  return parsed.ok
    ? loadStepFiles(parsed, path === STDIN_PATH ? "." : path, name, options)
    : parsed;
}

/**
 * Read the files the steps declare (`StepDefinition.files`: traces), relative to the scenario's
 * folder, and check their contents (`checkFile`): an unreadable file is an `io` error at its
 * step, a malformed one an error at its own line (`traces/t.csv:7:1: steps[3].file: ...`). The
 * scenario comes back with the bytes in `files`.
 */
async function loadStepFiles(
  parsed: Extract<ScenarioParseResult, { ok: true }>,
  path: string,
  name: string,
  options: ParseOptions,
): Promise<ScenarioParseResult> {
  const registry = options.registry ?? defaultStepRegistry;
  const files = new Map<string, Uint8Array>();
  const errors: ScenarioError[] = [];
  const folder = path === "." ? "." : dirname(path);
  for (const [i, step] of parsed.scenario.steps.entries()) {
    const definition = registry.get(step.op);
    const wanted = definition?.files?.(step) ?? [];
    const at = parsed.source.steps[i] ?? { line: 0, column: 0 };
    for (const name of wanted) {
      const shown = join(folder, name);
      let bytes = files.get(name);
      if (bytes === undefined) {
        try {
          bytes = await readFile(shown);
        } catch (e) {
          errors.push({
            ...ioError(
              name,
              describeReadError(e).replace("cannot read file", `cannot read file "${shown}"`),
            ),
            ...at,
            path: `steps[${i}]`,
          });
          continue;
        }
        files.set(name, bytes);
      }
      for (const p of definition?.checkFile?.(step, name, bytes) ?? [])
        errors.push({
          file: shown,
          line: p.line,
          column: p.line > 0 ? 1 : 0,
          path: formatDocPath(["steps", i, ...(p.path ?? [])]),
          message: p.message,
          kind: "schema",
          code: "bad-file",
          severity: "error",
        });
    }
  }
  if (errors.length > 0) return { ok: false, errors, warnings: parsed.warnings };
  return files.size === 0 ? parsed : { ...parsed, scenario: { ...parsed.scenario, files } };
}
