/**
 * The human summary of a run, as `memweave run` prints it: a header with the machine, the step
 * table, the expectations, and the final statistics. Deterministic (no times, no absolute
 * paths beyond what the user typed); colour only when asked for.
 */
import { styleText } from "node:util";

import Table from "cli-table3";

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
import {
  describeDeviceTranslation,
  reachTable,
  showSize,
  statisticsReportTables,
  vcmConfigTable,
  vcmGraphTables,
} from "../sim/index.js";

type Style = "bold" | "dim" | "red" | "green" | "yellow" | "cyan";

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

/** A cli-table3 table as text, head styled by the painter. */
function table(
  head: readonly string[],
  rows: ReadonlyArray<readonly string[]>,
  paint: Painter,
  colWidths?: ReadonlyArray<number | null>,
): string {
  const t = new Table({
    head: head.map((h) => paint("bold", h)),
    style: { head: [], border: [], compact: true },
    ...(colWidths !== undefined
      ? { colWidths: [...colWidths], wordWrap: true, wrapOnWordBoundary: true }
      : {}),
  });
  for (const row of rows) t.push([...row]);
  return t.toString();
}

export function reportTable(r: ReportTable, paint: Painter): string {
  return `${r.title}\n${table(r.head, r.rows, paint)}`;
}

/** A block of preformatted text under its title, indented by two spaces. */
export function reportBlock(b: ReportBlock, paint: Painter): string {
  const body = b.text
    .split("\n")
    .map((line) => (line === "" ? "" : `  ${line}`))
    .join("\n");
  return `${paint("bold", b.title)}\n${body}`;
}

/** Widths of the step table's columns: wrapped text keeps it within ~120 columns. */
const STEP_COLUMNS = [5, 8, 50, 52];

const MARK = { passed: "✓", failed: "✗" } as const;

function stepResultText(step: StepResult, failing: string | undefined, paint: Painter): string {
  switch (step.status) {
    case "ok":
      return step.summary ?? "ok";
    case "expected-error":
      return paint("green", `${step.error?.code ?? step.expectError ?? ""} as expected`);
    case "skipped":
      return paint("dim", "skipped");
    case "failed": {
      // The description has its own column: don't repeat it.
      const text = failing ?? step.error?.message ?? "failed";
      const prefix = `${step.description}: `;
      return paint("red", `FAILED: ${text.startsWith(prefix) ? text.slice(prefix.length) : text}`);
    }
  }
}

export interface SummaryOptions {
  /** The scenario file as the user named it. */
  readonly file: string;
  /** Where the steps were written, to point failures at their line. */
  readonly source?: ScenarioSource;
  readonly paint?: Painter;
}

/** The whole human summary of a run, ending with a newline. */
export function formatRunSummary(result: RunResult, options: SummaryOptions): string {
  const paint = options.paint ?? painter(false);
  const out: string[] = [];
  const where = (index: number): string => {
    const pos = options.source?.steps[index];
    return pos !== undefined && pos.line > 0 ? ` (${options.file}:${pos.line})` : "";
  };

  // Header.
  out.push(`${paint("bold", `Scenario ${result.name}`)} (${options.file}), seed ${result.seed}`);
  if (result.description !== undefined) out.push(result.description);
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
      paint,
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
        paint,
      ),
    );

  const { pageTables, devices } = result.machine;
  if (pageTables !== undefined)
    out.push(
      table(
        ["page table", "format", "target", "root"],
        pageTables.map((t) => [t.name, t.format, t.target, hex(t.root)]),
        paint,
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
        paint,
      ),
    );

  if (result.machine.vcm !== undefined) {
    const t = vcmConfigTable(result.machine.vcm);
    out.push(table(t.head, t.rows, paint));
  }

  // Steps.
  const failedExpectation = new Map<number, string>();
  for (const e of result.expectations.list)
    if (!e.passed && !failedExpectation.has(e.step)) failedExpectation.set(e.step, e.message);
  out.push("");
  out.push(paint("bold", "Steps"));
  out.push(
    table(
      ["#", "op", "description", "result"],
      result.steps.map((s) => [
        String(s.index),
        s.op,
        s.description + (s.expectError !== undefined ? `, expecting ${s.expectError}` : ""),
        stepResultText(s, failedExpectation.get(s.index), paint),
      ]),
      paint,
      STEP_COLUMNS,
    ),
  );
  for (const s of result.steps) {
    for (const t of s.tables ?? []) {
      out.push("");
      out.push(
        reportTable({ ...t, title: paint("bold", `Step ${s.index} (${s.op}): ${t.title}`) }, paint),
      );
    }
    for (const b of s.blocks ?? []) {
      out.push("");
      out.push(reportBlock({ ...b, title: `Step ${s.index} (${s.op}): ${b.title}` }, paint));
    }
  }

  // Expectations.
  const { passed, failed, list } = result.expectations;
  out.push("");
  out.push(paint("bold", `Expectations: ${passed} passed, ${failed} failed`));
  for (const e of list) {
    const mark = e.passed ? paint("green", MARK.passed) : paint("red", MARK.failed);
    const text = `[${e.step}] ${e.message}${e.passed ? "" : where(e.step)}`;
    out.push(`  ${mark} ${e.passed ? text : paint("red", text)}`);
  }
  if (result.stoppedAt !== undefined)
    out.push(
      paint(
        "yellow",
        `  The run stopped at step ${result.stoppedAt}${where(result.stoppedAt)}; ${result.steps.length - result.stoppedAt - 1} step(s) skipped.`,
      ),
    );

  // Final statistics.
  out.push("");
  out.push(paint("bold", "Final statistics"));
  for (const t of statisticsReportTables(result.statistics)) out.push(reportTable(t, paint));
  const pages = result.statistics.store.materializedPages;
  out.push(`Byte store: ${pages} page(s) materialized (${showSize(pages * STORE_PAGE_SIZE)})`);
  const types = Object.entries(result.events.byType)
    .map(([type, n]) => `${type} ${n}`)
    .join(", ");
  out.push(`Events: ${result.events.total}${types !== "" ? ` (${types})` : ""}`);

  out.push("");
  out.push(
    result.ok
      ? paint("green", `PASS: all ${passed} expectation(s) held`)
      : paint("red", `FAIL: ${failed} of ${passed + failed} expectation(s) failed`),
  );
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
  options: { readonly file: string; readonly paint?: Painter; readonly afterSteps: number },
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
      reportTable(reachTable(`${paths.length} path${paths.length === 1 ? "" : "s"}`, paths), paint),
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
  options: { readonly file: string; readonly paint?: Painter; readonly afterSteps: number },
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
  for (const t of vcmGraphTables(graph)) out.push("", reportTable(t, paint));
  return out.join("\n") + "\n";
}
