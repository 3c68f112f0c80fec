/**
 * The `memweave` command line: `run`, `check`, `dump`, `who`, `graph`, `vcm`, `schema`, `rm`
 * (`rm serve`, `rm call`: the Gunyah resource manager's endpoint, in `rm.ts`) and `gmem`
 * (`gmem replay`, `gmem compare`: GMEM trace replays, in `gmem.ts`), built with commander.
 *
 * Exit codes: 0 when every expectation holds (or the file is valid); 1 when an expectation
 * fails; 2 when the scenario is invalid, the file can't be read, or the command line is wrong
 * (for `dump`: it names a table or device the machine does not have; for `vcm`: the machine has
 * no `vcm` section). Errors go to stderr, one
 * per line, as `file:line:col: path: message`. `run --json`, `dump --json` and `vcm --json` print
 * exactly one JSON document on stdout and nothing else. `run --json` and `check --json` on an
 * invalid scenario print its diagnostics as that document (`{ "ok": false, "diagnostics": … }`).
 * Scenario arguments may be `-`: standard input, named `<stdin>` in messages.
 *
 * {@link runCli} takes the arguments and the output streams and returns the exit code, so it
 * can be driven in-process; `main.ts` binds it to the process.
 */
import { readFileSync } from "node:fs";

import { Command, CommanderError, InvalidArgumentError, Option } from "@commander-js/extra-typings";

import { isMemweaveError } from "../base/errors.js";
import { parseSize } from "../base/size.js";
import type { PlatformGraph, ReachPath } from "../devices/graph/index.js";
import { buildGraph, graphToDot, whoReaches } from "../devices/graph/index.js";
import type {
  MachineDumps,
  RunResult,
  ScenarioError,
  ScenarioParseResult,
  VcmGraph,
} from "../sim/index.js";
import {
  diagnosticJson,
  formatScenarioError,
  machineDumps,
  machineVcmGraph,
  PAGE_TABLE,
  runScenario,
  scenarioJsonSchemaText,
} from "../sim/index.js";
import { loadScenarioFile, STDIN_NAME, STDIN_PATH } from "../sim/node/index.js";
import {
  formatDumps,
  formatRunFailures,
  formatRunSummary,
  formatVcm,
  formatWho,
  outputWidth,
  painter,
  wantsColor,
} from "./human.js";
import { stepProgress } from "./progress.js";
import { MIN_WIDTH } from "./text-table.js";
import { addGmemCommands } from "./gmem.js";
import { addRmCommands } from "./rm.js";

/** Exit codes of the CLI. */
export const EXIT = { ok: 0, failed: 1, invalid: 2 } as const;

/** Where the CLI writes, and what it knows of its environment. */
export interface CliIo {
  /** `columns`: the terminal's width, when stdout is one (human output fits it). */
  readonly stdout: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  /** A terminal (`isTTY`) shows the progress bar of long runs. */
  readonly stderr: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Ends a long-running command (`rm serve`) in-process; without it, SIGINT or SIGTERM does. */
  readonly stop?: AbortSignal;
  /** The clock of the progress bar, in milliseconds (default: performance.now). */
  readonly now?: () => number;
}

/** The package's version, read from package.json next to dist/ (or src/) at run time. */
export function packageVersion(): string {
  const url = new URL("../../package.json", import.meta.url);
  const pkg = JSON.parse(readFileSync(url, "utf8")) as { version?: unknown };
  return typeof pkg.version === "string" ? pkg.version : "0.0.0";
}

/** Parse `--seed` and `--at-step`: a non-negative integer, decimal or 0x hex. */
function parseCount(value: string): number {
  const n = /^(?:0x[0-9a-f]+|[0-9]+)$/i.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < 0)
    throw new InvalidArgumentError("expected a non-negative integer, e.g. 42 or 0x2a");
  return n;
}

/** Parse a physical range: `ADDR`, `ADDR..END` (END exclusive) or `ADDR+SIZE`. */
function parseRange(value: string): { start: number; end: number } {
  const fail = () => {
    throw new InvalidArgumentError(
      "expected a physical address, ADDR..END or ADDR+SIZE, e.g. 0x8000_0000, 0x8000_0000..0x8001_0000 or 0x8000_0000+64K",
    );
  };
  try {
    const dots = value.split("..");
    const plus = value.split("+");
    if (dots.length === 2) {
      const start = parseSize(dots[0]!, "address");
      const end = parseSize(dots[1]!, "address");
      if (end <= start) fail();
      return { start, end };
    }
    if (plus.length === 2) {
      const start = parseSize(plus[0]!, "address");
      const size = parseSize(plus[1]!, "size");
      if (size === 0) fail();
      return { start, end: start + size };
    }
    const start = parseSize(value, "address");
    return { start, end: start + 1 };
  } catch (e) {
    if (e instanceof InvalidArgumentError) throw e;
    return fail();
  }
}

function parseGraphFormat(value: string): "json" | "dot" {
  if (value !== "json" && value !== "dot")
    throw new InvalidArgumentError('expected "json" or "dot"');
  return value;
}

/** How many steps a run ran (the machine the queries see is after them). */
function ranSteps(result: RunResult): number {
  return result.steps.filter((s) => s.status !== "skipped").length;
}

function printErrors(io: CliIo, errors: readonly ScenarioError[]): void {
  for (const e of errors) io.stderr.write(formatScenarioError(e) + "\n");
}

function byPosition(a: ScenarioError, b: ScenarioError): number {
  return a.line - b.line || a.column - b.column;
}

/** A file's errors and warnings, by position. */
function allDiagnostics(result: ScenarioParseResult): ScenarioError[] {
  return [...(result.ok ? [] : result.errors), ...result.warnings].sort(byPosition);
}

/** The `--json` document of invalid files: `{ ok: false, diagnostics: [...] }`. */
function diagnosticsDocument(results: readonly ScenarioParseResult[]): string {
  const diagnostics = results.flatMap(allDiagnostics).map(diagnosticJson);
  return JSON.stringify({ ok: false, diagnostics }, null, 2);
}

/** `--seed <n>`: the seed of the run. */
const seedOption = () =>
  new Option("--seed <n>", "seed of the run (overrides the scenario's seed)").argParser(parseCount);

/** `--width <n>`: the columns human output fits (0: no limit). */
const widthOption = () =>
  new Option(
    "--width <n>",
    `the columns tables and lines fit, at least ${MIN_WIDTH} (0: no limit; default: the terminal's, else $COLUMNS, else 80)`,
  ).argParser((value) => {
    const n = parseCount(value);
    if (n !== 0 && n < MIN_WIDTH)
      throw new InvalidArgumentError(`expected 0 (no limit) or at least ${MIN_WIDTH} columns`);
    return n;
  });

/** `--at-step <n>`: the machine after the first n steps. */
const atStepOption = () =>
  new Option(
    "--at-step <n>",
    "the machine after the first n steps (default: after the run)",
  ).argParser(parseCount);

/** Build the commander program; `setExit` receives each action's exit code. */
function buildProgram(io: CliIo, setExit: (code: number) => void) {
  const program = new Command()
    .name("memweave")
    .description("An executable model of unified memory management: run and check scenario files.")
    .version(packageVersion(), "-V, --version", "print the version")
    .helpOption("-h, --help", "show help")
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
    })
    .exitOverride();

  /**
   * The scenario in `file` (`-`: standard input), or undefined after reporting its errors and
   * setting exit code 2: one per line on stderr, or with `json` one diagnostics document on
   * stdout (errors and warnings). Warnings of a valid file go to stderr (not with `json`).
   */
  const load = async (file: string, json = false) => {
    const loaded = await loadScenarioFile(file);
    if (loaded.ok) {
      if (!json) printErrors(io, loaded.warnings);
      return loaded;
    }
    if (json) io.stdout.write(diagnosticsDocument([loaded]) + "\n");
    else printErrors(io, loaded.errors);
    setExit(EXIT.invalid);
    return undefined;
  };

  program
    .command("run")
    .description("run a scenario and report its steps, expectations and statistics")
    .argument("<scenario>", "scenario file (YAML or JSON)")
    .option("--json", "print the result as one JSON document instead of the summary")
    .addOption(
      new Option("--summary", "only the failures, the totals and the final statistics").conflicts([
        "json",
        "quiet",
      ]),
    )
    .addOption(
      new Option(
        "--quiet",
        "nothing when every expectation holds; else only the failures",
      ).conflicts("json"),
    )
    .addOption(widthOption())
    .addOption(seedOption())
    .addHelpText(
      "after",
      "\nTables and lines fit --width, else the terminal's width, else $COLUMNS, else 80 columns.\nOn a terminal, a run that takes over a second shows a progress bar on stderr.\n\nExit codes: 0 every expectation holds, 1 an expectation failed, 2 invalid scenario or unreadable file.\n\nExample:\n  memweave run examples/quickstart.yaml\n  memweave run examples/quickstart.yaml --summary\n  memweave run examples/quickstart.yaml --json --seed 7",
    )
    .action(async (file, options) => {
      const loaded = await load(file, options.json === true);
      if (loaded === undefined) return;
      const progress = stepProgress(io.stderr, "run", io.now);
      const result = runScenario(loaded.scenario, {
        ...(options.seed !== undefined ? { seed: options.seed } : {}),
        ...(progress.onStep !== undefined ? { onStep: progress.onStep } : {}),
      });
      progress.done();
      if (options.json === true) {
        io.stdout.write(JSON.stringify(result, null, 2) + "\n");
      } else {
        const paint = painter(wantsColor(io.stdout, io.env));
        const width = outputWidth(options.width, io.stdout, io.env);
        const summary = { file, source: loaded.source, paint, width } as const;
        io.stdout.write(
          options.quiet === true
            ? formatRunFailures(result, summary)
            : formatRunSummary(result, {
                ...summary,
                detail: options.summary === true ? "summary" : "full",
              }),
        );
      }
      setExit(result.ok ? EXIT.ok : EXIT.failed);
    });

  program
    .command("check")
    .description("validate scenarios without running them")
    .argument("<scenario...>", "scenario files (YAML or JSON); - reads standard input")
    .option("--json", "print the diagnostics of every file as one JSON document")
    .addHelpText(
      "after",
      '\nPrints "ok: <file> (<n> steps)" per valid file and exits 0 when all are valid;\nerrors and warnings go to stderr as file:line:col: path: message (warnings as\nfile:line:col: warning: ...), and any error exits 2. With --json: one document\n{ ok, diagnostics: [...], files: [{ file, ok, steps?, errors, warnings }] } on stdout.\n\nExample:\n  memweave check examples/*.yaml\n  cat my.yaml | memweave check - --json',
    )
    .action(async (files, options) => {
      const results: Array<{ file: string; result: ScenarioParseResult }> = [];
      for (const file of files) results.push({ file, result: await loadScenarioFile(file) });
      const ok = results.every(({ result }) => result.ok);
      if (options.json === true) {
        const doc = {
          ok,
          diagnostics: results.flatMap(({ result }) => allDiagnostics(result)).map(diagnosticJson),
          files: results.map(({ file, result }) => ({
            file: file === STDIN_PATH ? STDIN_NAME : file,
            ok: result.ok,
            ...(result.ok ? { steps: result.scenario.steps.length } : {}),
            errors: result.ok ? 0 : result.errors.length,
            warnings: result.warnings.length,
          })),
        };
        io.stdout.write(JSON.stringify(doc, null, 2) + "\n");
      } else
        for (const { result } of results) {
          // The warnings of an invalid file wait until its errors are fixed (--json has both).
          printErrors(io, result.ok ? result.warnings : result.errors);
          if (result.ok) {
            const n = result.scenario.steps.length;
            io.stdout.write(`ok: ${result.source.file} (${n} step${n === 1 ? "" : "s"})\n`);
          }
        }
      setExit(ok ? EXIT.ok : EXIT.invalid);
    });

  program
    .command("dump")
    .description("run a scenario and print its page tables and TLBs as the steps left them")
    .argument("<scenario>", "scenario file (YAML or JSON)")
    .option("--table <name>", "only this page table")
    .option("--tlb <device>", "only the TLB of this device (an SMMU master: its SMMU's)")
    .option("--json", "print the dumps as one JSON document (text and structured leaves)")
    .addOption(seedOption())
    .addHelpText(
      "after",
      "\nWithout --table or --tlb: every page table and every TLB (of CPUs, accelerators and SMMUs).\nWith either: only what they name.\n\nExit codes: 0 every expectation holds, 1 an expectation failed (the dumps are printed\nanyway), 2 invalid scenario, unreadable file, or an unknown table or device.\n\nExample:\n  memweave dump examples/translation.yaml --table cpu-pt\n  memweave dump examples/translation.yaml --tlb smmu0 --json",
    )
    .action(async (file, options) => {
      const loaded = await load(file);
      if (loaded === undefined) return;
      const only: { table?: string; tlb?: string } = {};
      if (options.table !== undefined) only.table = options.table;
      if (options.tlb !== undefined) only.tlb = options.tlb;
      let dumps: MachineDumps | undefined;
      let problem: string | undefined;
      const progress = stepProgress(io.stderr, "dump", io.now);
      const result = runScenario(loaded.scenario, {
        ...(options.seed !== undefined ? { seed: options.seed } : {}),
        ...(progress.onStep !== undefined ? { onStep: progress.onStep } : {}),
        onFinish: (machine) => {
          try {
            dumps = machineDumps(machine, only);
          } catch (e) {
            if (!isMemweaveError(e)) throw e;
            problem = e.detail;
          }
        },
      });
      progress.done();
      if (problem !== undefined || dumps === undefined) {
        io.stderr.write(`${file}: ${problem ?? "nothing to dump"}\n`);
        return setExit(EXIT.invalid);
      }
      if (options.json === true) {
        const { passed, failed } = result.expectations;
        const doc = {
          name: result.name,
          seed: result.seed,
          ok: result.ok,
          expectations: { passed, failed },
          ...(result.stoppedAt !== undefined ? { stoppedAt: result.stoppedAt } : {}),
          pageTables: dumps.pageTables,
          tlbs: dumps.tlbs,
        };
        io.stdout.write(JSON.stringify(doc, null, 2) + "\n");
      } else {
        const paint = painter(wantsColor(io.stdout, io.env));
        io.stdout.write(formatDumps(result, dumps, { file, paint }));
      }
      setExit(result.ok ? EXIT.ok : EXIT.failed);
    });

  program
    .command("who")
    .description("who can reach a physical range: every master, path, rights and attributes")
    .argument("<scenario>", "scenario file (YAML or JSON)")
    .argument("<range>", "a physical address, ADDR..END (END exclusive) or ADDR+SIZE", parseRange)
    .option("--json", "print the paths as one JSON document")
    .option("--all", "also the paths nobody takes now (an inactive context bank)")
    .addOption(atStepOption())
    .addOption(seedOption())
    .addHelpText(
      "after",
      "\nExit codes: 0 done, 2 invalid scenario or unreadable file.\n\nExample:\n  memweave who examples/graph.yaml 0x8000_0000\n  memweave who examples/graph.yaml 0x8000_0000..0x8001_0000 --json --at-step 7",
    )
    .action(async (file, range, options) => {
      const loaded = await load(file);
      if (loaded === undefined) return;
      let paths: ReachPath[] = [];
      const result = runScenario(loaded.scenario, {
        ...(options.seed !== undefined ? { seed: options.seed } : {}),
        ...(options.atStep !== undefined ? { stopBefore: options.atStep } : {}),
        onFinish: (machine) => {
          paths = whoReaches(machine.platform, range.start, range.end, {
            onlyLive: options.all !== true,
          });
        },
      });
      const at = ranSteps(result);
      if (options.json === true) {
        const doc = { name: result.name, seed: result.seed, afterSteps: at, range, paths };
        io.stdout.write(JSON.stringify(doc, null, 2) + "\n");
      } else {
        const paint = painter(wantsColor(io.stdout, io.env));
        io.stdout.write(formatWho(result, paths, range, { file, paint, afterSteps: at }));
      }
      setExit(EXIT.ok);
    });

  program
    .command("graph")
    .description("export the platform graph: devices, address spaces, mappings, memory, owners")
    .argument("<scenario>", "scenario file (YAML or JSON)")
    .option("--format <format>", "json or dot (Graphviz)", parseGraphFormat, "json" as const)
    .addOption(atStepOption())
    .addOption(seedOption())
    .addHelpText(
      "after",
      "\nExample:\n  memweave graph examples/graph.yaml --format dot | dot -Tsvg > graph.svg\n  memweave graph examples/translation.yaml --at-step 3",
    )
    .action(async (file, options) => {
      const loaded = await load(file);
      if (loaded === undefined) return;
      let graph: PlatformGraph | undefined;
      runScenario(loaded.scenario, {
        ...(options.seed !== undefined ? { seed: options.seed } : {}),
        ...(options.atStep !== undefined ? { stopBefore: options.atStep } : {}),
        onFinish: (machine) => {
          graph = buildGraph(machine.platform, {
            tables: machine.objects
              .list(PAGE_TABLE)
              .map(({ name, value }) => ({ name, table: value.table })),
          });
        },
      });
      io.stdout.write(
        options.format === "dot" ? graphToDot(graph!) : JSON.stringify(graph, null, 2) + "\n",
      );
      setExit(EXIT.ok);
    });

  program
    .command("vcm")
    .description(
      "run a scenario and print its VCM graph: devices, VCMs, associations, reservations, physmems",
    )
    .argument("<scenario>", "scenario file (YAML or JSON) with a machine.vcm section")
    .option("--json", "print the graph as one JSON document")
    .addOption(atStepOption())
    .addOption(seedOption())
    .addHelpText(
      "after",
      "\nThe tables: the VCM's devices (SMMU context instances: SMMU, context, active, mappings;\nCPUs and one-to-one devices associated), VCMs (type, range, page table), associations,\nreservations (device addresses, attributes, physmem), bounds, physmems (memtype, chunks),\nfault hooks and the manager's statistics (backs, unbacks, pages mapped by size, aliases).\n\nExit codes: 0 every expectation (of the steps run) holds, 1 an expectation failed (the graph\nis printed anyway), 2 invalid scenario, unreadable file, or no vcm section.\n\nExample:\n  memweave vcm examples/vcm-walkthrough.yaml\n  memweave vcm examples/vcm-walkthrough.yaml --at-step 6 --json",
    )
    .action(async (file, options) => {
      const loaded = await load(file);
      if (loaded === undefined) return;
      let graph: VcmGraph | undefined;
      const result = runScenario(loaded.scenario, {
        ...(options.seed !== undefined ? { seed: options.seed } : {}),
        ...(options.atStep !== undefined ? { stopBefore: options.atStep } : {}),
        onFinish: (machine) => {
          graph = machineVcmGraph(machine);
        },
      });
      if (graph === undefined) {
        io.stderr.write(`${file}: the machine has no vcm section (machine.vcm)\n`);
        return setExit(EXIT.invalid);
      }
      const at = ranSteps(result);
      if (options.json === true) {
        const { passed, failed } = result.expectations;
        const doc = {
          name: result.name,
          seed: result.seed,
          afterSteps: at,
          ok: result.ok,
          expectations: { passed, failed },
          ...graph,
        };
        io.stdout.write(JSON.stringify(doc, null, 2) + "\n");
      } else {
        const paint = painter(wantsColor(io.stdout, io.env));
        io.stdout.write(formatVcm(result, graph, { file, paint, afterSteps: at }));
      }
      setExit(result.ok ? EXIT.ok : EXIT.failed);
    });

  addRmCommands(program, io, setExit);
  addGmemCommands(program, io, setExit);

  program
    .command("schema")
    .description("print the JSON Schema of scenario files")
    .action(() => {
      io.stdout.write(scenarioJsonSchemaText());
      setExit(EXIT.ok);
    });

  return program;
}

/**
 * Run the CLI with `args` (without the node and script paths) and return the exit code.
 * Never calls process.exit.
 */
export async function runCli(args: readonly string[], io: CliIo): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  if (args.length === 0) {
    program.outputHelp({ error: true });
    return EXIT.invalid;
  }
  try {
    await program.parseAsync([...args], { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError)
      // --help and --version "exit" with 0; usage errors are invalid invocations.
      return e.exitCode === 0 ? EXIT.ok : EXIT.invalid;
    throw e;
  }
  return code;
}
