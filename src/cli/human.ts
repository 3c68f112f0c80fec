/**
 * The human summary of a run, as `memweave run` prints it: a header with the machine, the step
 * table, the expectations, and the final statistics (or, `--summary`, only the failures, the
 * totals and the final statistics; `--quiet`, only the failures). Deterministic (no times, no
 * absolute paths beyond what the user typed); colour only when asked for; every table and line
 * fitted to a width (text-table.ts), sizes in `formatSize`'s one style, addresses in hex.
 */
import { styleText } from "node:util";

import { hex, hexRange } from "../base/address.js";
import { STORE_PAGE_SIZE } from "../phys/byte-store.js";
import type { ReachPath } from "../devices/graph/index.js";
import type {
  MachineDumps,
  ReportBlock,
  ReportTable,
  RunResult,
  ScenarioSource,
  StepResult,
  VcmGraph,
} from "../sim/index.js";
import type { Cell } from "./text-table.js";
import { DEFAULT_WIDTH, fitText, MIN_WIDTH, renderTable } from "./text-table.js";
import {
  describeDeviceTranslation,
  reachTable,
  showSize,
  statisticsReportTables,
  vcmConfigTable,
  vcmGraphTables,
} from "../sim/index.js";

export type Style = "bold" | "dim" | "red" | "green" | "yellow" | "cyan";

/** Applies a style when colour is on, else returns the text unchanged. */
export type Painter = (style: Style, text: string) => string;

/** A painter: ANSI styles through node:util's styleText when `color`, plain text otherwise. */
export function painter(color: boolean): Painter {
  return color ? (style, text) => styleText(style, text, { validateStream: false }) : (_s, t) => t;
}

/**
 * Whether to colour a stream: only a TTY, and never when NO_COLOR is set to a non-empty value
 * (https://no-color.org) or TERM is "dumb".
 */
export function wantsColor(
  stream: { isTTY?: boolean },
  env: Readonly<Record<string, string | undefined>>,
): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.TERM === "dumb") return false;
  return stream.isTTY === true;
}

/**
 * The width human output fits: `--width N` when given (0: no limit), else the terminal's
 * columns when stdout is a terminal, else the `COLUMNS` environment variable, else 80.
 */
export function outputWidth(
  option: number | undefined,
  stdout: { isTTY?: boolean; columns?: number },
  env: Readonly<Record<string, string | undefined>>,
): number {
  if (option !== undefined) return option === 0 ? Infinity : Math.max(MIN_WIDTH, option);
  if (stdout.isTTY === true && stdout.columns !== undefined && stdout.columns > 0)
    return Math.max(MIN_WIDTH, stdout.columns);
  const columns = /^[0-9]+$/.test(env.COLUMNS ?? "") ? Number(env.COLUMNS) : 0;
  return columns > 0 ? Math.max(MIN_WIDTH, columns) : DEFAULT_WIDTH;
}

/**
 * A table under its title (styled `titleStyle`), fitted to `width` (default 80; Infinity: each
 * column at its natural width).
 */
export function reportTable(
  r: ReportTable,
  paint: Painter,
  width = DEFAULT_WIDTH,
  titleStyle?: Style,
): string {
  const title = fitText(r.title, width, 2);
  const shown = titleStyle !== undefined ? paint(titleStyle, title) : title;
  return `${shown}\n${renderTable(r.head, r.rows, paint, width)}`;
}

/** A block of preformatted text under its title, indented by two spaces. */
export function reportBlock(b: ReportBlock, paint: Painter): string {
  const body = b.text
    .split("\n")
    .map((line) => (line === "" ? "" : `  ${line}`))
    .join("\n");
  return `${paint("bold", b.title)}\n${body}`;
}

const MARK = { passed: "✓", failed: "✗" } as const;

function stepResultText(step: StepResult, failing: string | undefined): Cell {
  switch (step.status) {
    case "ok":
      return step.summary ?? "ok";
    case "expected-error":
      return { text: `${step.error?.code ?? step.expectError ?? ""} as expected`, style: "green" };
    case "skipped":
      return { text: "skipped", style: "dim" };
    case "failed": {
      // The description has its own column: don't repeat it.
      const text = failing ?? step.error?.message ?? "failed";
      const prefix = `${step.description}: `;
      const shown = text.startsWith(prefix) ? text.slice(prefix.length) : text;
      return { text: `FAILED: ${shown}`, style: "red" };
    }
  }
}

/** The step table's rows (of `only` those steps, when given). */
function stepRows(result: RunResult, only?: (s: StepResult) => boolean): Cell[][] {
  const failedExpectation = new Map<number, string>();
  for (const e of result.expectations.list)
    if (!e.passed && !failedExpectation.has(e.step)) failedExpectation.set(e.step, e.message);
  const rows: Cell[][] = [];
  for (const s of result.steps) {
    if (only !== undefined && !only(s)) continue;
    rows.push([
      String(s.index),
      s.op,
      s.description + (s.expectError !== undefined ? `, expecting ${s.expectError}` : ""),
      stepResultText(s, failedExpectation.get(s.index)),
    ]);
  }
  return rows;
}

const STEP_HEAD = ["#", "op", "description", "result"];

/** What the human output shows of a run. */
export type Detail = "full" | "summary";

export interface SummaryOptions {
  /** The scenario file as the user named it. */
  readonly file: string;
  /** Where the steps were written, to point failures at their line. */
  readonly source?: ScenarioSource;
  readonly paint?: Painter;
  /** The width every table and line fits (default 80; Infinity: no limit). */
  readonly width?: number;
  /**
   * `full` (the default): the machine, every step, every expectation, the steps' own tables
   * and blocks, the final statistics. `summary`: the failed steps and expectations, the totals
   * and the final statistics.
   */
  readonly detail?: Detail;
}

/** Where step `index` was written, as ` (file:line)`, or "" when unknown. */
function whereOf(options: SummaryOptions): (index: number) => string {
  return (index) => {
    const pos = options.source?.steps[index];
    return pos !== undefined && pos.line > 0 ? ` (${options.file}:${pos.line})` : "";
  };
}

/** The expectation lines (`✓ [3] …`, `✗ [4] … (file:line)`), of failures only when `failedOnly`. */
function expectationLines(
  result: RunResult,
  options: SummaryOptions,
  paint: Painter,
  width: number,
  failedOnly: boolean,
): string[] {
  const where = whereOf(options);
  const out: string[] = [];
  for (const e of result.expectations.list) {
    if (failedOnly && e.passed) continue;
    const mark = e.passed ? MARK.passed : MARK.failed;
    const text = fitText(
      `  ${mark} [${e.step}] ${e.message}${e.passed ? "" : where(e.step)}`,
      width,
      4,
    );
    out.push(
      e.passed
        ? text.replace(MARK.passed, paint("green", MARK.passed))
        : text
            .split("\n")
            .map((l) => paint("red", l))
            .join("\n"),
    );
  }
  if (result.stoppedAt !== undefined) {
    const skipped = result.steps.length - result.stoppedAt - 1;
    const line = `  The run stopped at step ${result.stoppedAt}${where(result.stoppedAt)}; ${skipped} step(s) skipped.`;
    out.push(paint("yellow", fitText(line, width, 4)));
  }
  return out;
}

/** The last line of a run's output: `PASS: …` or `FAIL: …`. */
function verdictLine(result: RunResult, paint: Painter): string {
  const { passed, failed } = result.expectations;
  return result.ok
    ? paint("green", `PASS: all ${passed} expectation(s) held`)
    : paint("red", `FAIL: ${failed} of ${passed + failed} expectation(s) failed`);
}

/** The whole human summary of a run, ending with a newline. */
export function formatRunSummary(result: RunResult, options: SummaryOptions): string {
  const paint = options.paint ?? painter(false);
  const width = options.width ?? DEFAULT_WIDTH;
  const detail = options.detail ?? "full";
  const table = (head: readonly string[], rows: ReadonlyArray<readonly Cell[]>) =>
    renderTable(head, rows, paint, width);
  const out: string[] = [];

  // Header.
  out.push(
    fitText(`Scenario ${result.name} (${options.file}), seed ${result.seed}`, width, 2).replace(
      `Scenario ${result.name}`,
      paint("bold", `Scenario ${result.name}`),
    ),
  );
  if (detail === "summary") return summaryBody(result, options, paint, width, out);
  if (result.description !== undefined) out.push(fitText(result.description, width));
  out.push("");
  out.push(paint("bold", "Machine"));
  out.push(
    table(
      ["region", "range", "size", "kind"],
      result.machine.regions.map((r) => [
        r.name,
        hexRange(r.base, r.size),
        showSize(r.size),
        r.device !== undefined ? `${r.kind} (${r.device})` : r.kind,
      ]),
    ),
  );
  if (result.machine.targets.length > 0)
    out.push(
      table(
        ["target", "allocator", "ranges"],
        result.machine.targets.map((t) => [
          t.name,
          t.allocator,
          t.ranges
            .map((r) => `${r.region} ${hexRange(r.base, r.size)} (${showSize(r.size)})`)
            .join("\n"),
        ]),
      ),
    );

  const { pageTables, devices } = result.machine;
  if (pageTables !== undefined)
    out.push(
      table(
        ["page table", "format", "target", "root"],
        pageTables.map((t) => [t.name, t.format, t.target, hex(t.root)]),
      ),
    );
  // Masters are shown with their SMMU.
  const shown = (devices ?? []).filter((d) => d.kind !== "smmu-master");
  if (shown.length > 0)
    out.push(
      table(
        ["device", "kind", "translation", "TLB"],
        shown.map((d) => [
          d.name,
          d.kind,
          describeDeviceTranslation(d) || "-",
          d.tlb !== undefined ? `${d.tlb.sets}x${d.tlb.ways} ${d.tlb.replacement}` : "-",
        ]),
      ),
    );

  if (result.machine.vcm !== undefined) {
    const t = vcmConfigTable(result.machine.vcm);
    out.push(table(t.head, t.rows));
  }

  // Steps.
  out.push("");
  out.push(paint("bold", "Steps"));
  out.push(table(STEP_HEAD, stepRows(result)));
  for (const s of result.steps) {
    for (const t of s.tables ?? []) {
      out.push("");
      out.push(
        reportTable({ ...t, title: `Step ${s.index} (${s.op}): ${t.title}` }, paint, width, "bold"),
      );
    }
    for (const b of s.blocks ?? []) {
      out.push("");
      out.push(reportBlock({ ...b, title: `Step ${s.index} (${s.op}): ${b.title}` }, paint));
    }
  }

  // Expectations.
  const { passed, failed } = result.expectations;
  out.push("");
  out.push(paint("bold", `Expectations: ${passed} passed, ${failed} failed`));
  out.push(...expectationLines(result, options, paint, width, false));
  finalStatistics(result, paint, width, out);
  return out.join("\n") + "\n";
}

/** `--summary`: the failed steps and expectations, the totals, the final statistics. */
function summaryBody(
  result: RunResult,
  options: SummaryOptions,
  paint: Painter,
  width: number,
  out: string[],
): string {
  const { passed, failed } = result.expectations;
  const ran = result.steps.filter((s) => s.status !== "skipped").length;
  const failedSteps = stepRows(result, (s) => s.status === "failed");
  out.push("");
  out.push(
    fitText(
      `Steps: ${ran} of ${result.steps.length} ran, ${failedSteps.length} failed; expectations: ${passed} passed, ${failed} failed`,
      width,
      2,
    ),
  );
  if (failedSteps.length > 0) {
    out.push("");
    out.push(paint("bold", "Failed steps"));
    out.push(renderTable(STEP_HEAD, failedSteps, paint, width));
  }
  const failures = expectationLines(result, options, paint, width, true);
  if (failures.length > 0) {
    out.push("");
    out.push(paint("bold", "Failed expectations"));
    out.push(...failures);
  }
  finalStatistics(result, paint, width, out);
  return out.join("\n") + "\n";
}

/** The final statistics (tables, byte store, events) and the verdict, onto `out`. */
function finalStatistics(result: RunResult, paint: Painter, width: number, out: string[]): void {
  out.push("");
  out.push(paint("bold", "Final statistics"));
  for (const t of statisticsReportTables(result.statistics)) out.push(reportTable(t, paint, width));
  const pages = result.statistics.store.materializedPages;
  out.push(
    fitText(
      `Byte store: ${pages} page(s) materialized (${showSize(pages * STORE_PAGE_SIZE)})`,
      width,
      2,
    ),
  );
  const types = Object.entries(result.events.byType)
    .map(([type, n]) => `${type} ${n}`)
    .join(", ");
  out.push(fitText(`Events: ${result.events.total}${types !== "" ? ` (${types})` : ""}`, width, 2));
  out.push("");
  out.push(verdictLine(result, paint));
}

/**
 * `--quiet`: nothing when every expectation held; else the verdict and each failed
 * expectation at its line (and where the run stopped), ending with a newline.
 */
export function formatRunFailures(result: RunResult, options: SummaryOptions): string {
  if (result.ok) return "";
  const paint = options.paint ?? painter(false);
  const width = options.width ?? DEFAULT_WIDTH;
  const { passed, failed } = result.expectations;
  const verdict = `FAIL: ${failed} of ${passed + failed} expectation(s) failed (${options.file})`;
  const out = fitText(verdict, width, 2)
    .split("\n")
    .map((l) => paint("red", l));
  out.push(...expectationLines(result, options, paint, width, true));
  return out.join("\n") + "\n";
}

/**
 * What `memweave dump` prints: a header line with the run's outcome, then each page table
 * (its dump and its statistics line) and each TLB, as indented blocks.
 */
export function formatDumps(
  result: RunResult,
  dumps: MachineDumps,
  options: { readonly file: string; readonly paint?: Painter },
): string {
  const paint = options.paint ?? painter(false);
  const { passed, failed } = result.expectations;
  const ran = result.stoppedAt !== undefined ? result.stoppedAt + 1 : result.steps.length;
  const verdict = result.ok
    ? paint("green", `all ${passed} expectation(s) held`)
    : paint("red", `${failed} of ${passed + failed} expectation(s) failed`);
  const out = [
    `${paint("bold", `Scenario ${result.name}`)} (${options.file}), seed ${result.seed}: after ${ran} step(s), ${verdict}`,
  ];
  for (const t of dumps.pageTables)
    out.push(
      "",
      reportBlock(
        {
          title: `Page table ${t.name} (${t.format}, target ${t.target})`,
          text: `${t.text}\n${t.stats}`,
        },
        paint,
      ),
    );
  for (const t of dumps.tlbs)
    out.push("", reportBlock({ title: `TLB of ${t.device}`, text: t.text }, paint));
  if (dumps.pageTables.length === 0 && dumps.tlbs.length === 0)
    out.push("", "The machine has no page tables and no TLBs.");
  return out.join("\n") + "\n";
}

/**
 * What `memweave who` prints: a header with the run's outcome and the range, then the reach
 * table (master, address, physical range, path, rights, attributes, live, owner).
 */
export function formatWho(
  result: RunResult,
  paths: readonly ReachPath[],
  range: { readonly start: number; readonly end: number },
  options: {
    readonly file: string;
    readonly paint?: Painter;
    readonly afterSteps: number;
    /** The width the tables fit (default: none, each table at its natural width). */
    readonly width?: number;
  },
): string {
  const paint = options.paint ?? painter(false);
  const what = hexRange(range.start, range.end - range.start);
  const out = [
    `${paint("bold", `Scenario ${result.name}`)} (${options.file}), seed ${result.seed}, after ${options.afterSteps} step(s): who reaches ${what}`,
  ];
  if (paths.length === 0) out.push("", "Nothing reaches it.");
  else
    out.push(
      "",
      reportTable(
        reachTable(`${paths.length} path${paths.length === 1 ? "" : "s"}`, paths),
        paint,
        options.width ?? Infinity,
      ),
    );
  return out.join("\n") + "\n";
}

/**
 * What `memweave vcm` prints: a header with the run's outcome, then the VCM graph's tables
 * (devices, VCMs, associations, reservations, bounds, physmems, fault hooks, statistics).
 */
export function formatVcm(
  result: RunResult,
  graph: VcmGraph,
  options: {
    readonly file: string;
    readonly paint?: Painter;
    readonly afterSteps: number;
    /** The width the tables fit (default: none, each table at its natural width). */
    readonly width?: number;
  },
): string {
  const paint = options.paint ?? painter(false);
  const { passed, failed } = result.expectations;
  const verdict = result.ok
    ? paint("green", `all ${passed} expectation(s) held`)
    : paint("red", `${failed} of ${passed + failed} expectation(s) failed`);
  const out = [
    `${paint("bold", `Scenario ${result.name}`)} (${options.file}), seed ${result.seed}, after ${options.afterSteps} step(s): ${verdict}`,
  ];
  if (graph.vcms.length === 0 && graph.physmems.length === 0)
    out.push("", "No VCMs and no physmems yet.");
  for (const t of vcmGraphTables(graph))
    out.push("", reportTable(t, paint, options.width ?? Infinity));
  return out.join("\n") + "\n";
}
