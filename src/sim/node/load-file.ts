/**
 * Reading a scenario file from disk (Node only) and validating it with
 * {@link parseScenario}. A file that can't be read is reported as an error of kind `io`, in the
 * same result shape as validation errors, so callers handle one kind of failure.
 *
 * @example
 * const result = await loadScenarioFile("examples/quickstart.yaml");
 * if (result.ok) runScenario(result.scenario);
 */
import { readFile } from "node:fs/promises";

import type { ParseOptions, ScenarioParseResult } from "../scenario/parse.js";
import { parseScenario } from "../scenario/parse.js";

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

/**
 * Read `path` (UTF-8; YAML or JSON) and validate it. Errors name the file as given in `path`.
 * Never throws for a missing or unreadable file: that is an `io` error in the result.
 */
export async function loadScenarioFile(
  path: string,
  options: ParseOptions = {},
): Promise<ScenarioParseResult> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    return {
      ok: false,
      errors: [
        { file: path, line: 0, column: 0, path: "", message: describeReadError(e), kind: "io" },
      ],
    };
  }
  return parseScenario(text, path, options);
}
