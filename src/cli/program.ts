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
 * exactly one JSON document on stdout and nothing else.
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
import type { MachineDumps, RunResult, ScenarioError, VcmGraph } from "../sim/index.js";
import {
  formatScenarioError,
  machineDumps,
  machineVcmGraph,
  PAGE_TABLE,
  runScenario,
  scenarioJsonSchemaText,
} from "../sim/index.js";
import { loadScenarioFile } from "../sim/node/index.js";
import {
  formatDumps,
  formatRunSummary,
  formatVcm,
  formatWho,
  painter,
  wantsColor,
} from "./human.js";
import { addGmemCommands } from "./gmem.js";
import { addRmCommands } from "./rm.js";

/** Exit codes of the CLI. */
export const EXIT = { ok: 0, failed: 1, invalid: 2 } as const;

/** Where the CLI writes, and what it knows of its environment. */
export interface CliIo {
  readonly stdout: { write(text: string): unknown; isTTY?: boolean };
  readonly stderr: { write(text: string): unknown; isTTY?: boolean };
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Ends a long-running command (`rm serve`) in-process; without it, SIGINT or SIGTERM does. */
  readonly stop?: AbortSignal;
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

/** `--seed <n>`: the seed of the run. */
const seedOption = () =>
  new Option("--seed <n>", "seed of the run (overrides the scenario's seed)").argParser(parseCount);

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

  /** The scenario in `file`, or undefined after printing its errors and setting exit code 2. */
  const load = async (file: string) => {
    const loaded = await loadScenarioFile(file);
    if (loaded.ok) return loaded;
    printErrors(io, loaded.errors);
    setExit(EXIT.invalid);
    return undefined;
  };

  program
    .command("run")
    .description("run a scenario and report its steps, expectations and statistics")
    .argument("<scenario>", "scenario file (YAML or JSON)")
    .option("--json", "print the result as one JSON document instead of the summary")
    .addOption(seedOption())
    .addHelpText(
      "after",
      "\nExit codes: 0 every expectation holds, 1 an expectation failed, 2 invalid scenario or unreadable file.\n\nExample:\n  memweave run examples/quickstart.yaml\n  memweave run examples/quickstart.yaml --json --seed 7",
    )
    .action(async (file, options) => {
      const loaded = await load(file);
      if (loaded === undefined) return;
      const runOptions = options.seed !== undefined ? { seed: options.seed } : {};
      const result = runScenario(loaded.scenario, runOptions);
      if (options.json === true) {
        io.stdout.write(JSON.stringify(result, null, 2) + "\n");
      } else {
        const paint = painter(wantsColor(io.stdout, io.env));
        io.stdout.write(formatRunSummary(result, { file, source: loaded.source, paint }));
      }
      setExit(result.ok ? EXIT.ok : EXIT.failed);
    });

  program
    .command("check")
    .description("validate a scenario without running it")
    .argument("<scenario>", "scenario file (YAML or JSON)")
    .addHelpText(
      "after",
      '\nPrints "ok: <file> (<n> steps)" and exits 0, or prints each error as\nfile:line:col: path: message on stderr and exits 2.',
    )
    .action(async (file) => {
      const loaded = await load(file);
      if (loaded === undefined) return;
      const n = loaded.scenario.steps.length;
      io.stdout.write(`ok: ${file} (${n} step${n === 1 ? "" : "s"})\n`);
      setExit(EXIT.ok);
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
      const result = runScenario(loaded.scenario, {
        ...(options.seed !== undefined ? { seed: options.seed } : {}),
        onFinish: (machine) => {
          try {
            dumps = machineDumps(machine, only);
          } catch (e) {
            if (!isMemweaveError(e)) throw e;
            problem = e.detail;
          }
        },
      });
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
