/**
 * The steps that check and report the statistics of the machine, whatever system they belong
 * to, composed from what the machine modules contribute: their subjects (a memory target, a
 * device, a page table — the things `expect` checks and `stats` reports one of) and their
 * groups of statistics. No module is named here.
 *
 * | op     | fields                                                                          |
 * | ------ | ------------------------------------------------------------------------------- |
 * | expect | per subject: its key (target, device, table) + the statistics it checks;        |
 * |        | store-wide checks (materializedPages)                                           |
 * | stats  | one key per subject (none: everything)                                          |
 *
 * Each key an `expect` checks is one expectation. Everything a step names is looked up before
 * any expectation is recorded, so an unknown target, device or table fails the step cleanly.
 */
import { z } from "zod";

import { isMemweaveError } from "../../../base/errors.js";
import { showSize, showValue } from "../format.js";
import { BUILTIN_MACHINE_MODULES } from "../machine.js";
import type {
  BuiltMachine,
  MachineModule,
  StatCheck,
  StatisticsGroup,
  StatisticsSubject,
  StatResult,
  StatShow,
} from "../machine-module.js";
import { compareStat } from "../statistics.js";
import type { ReportTable, StepContext, StepModule, StepProblem } from "../step-module.js";
import { defineStep } from "../step-module.js";
import { countSchema, objectNameSchema, sizeSchema } from "../values.js";

type Subject = StatisticsSubject<unknown>;
type Step = { readonly [key: string]: unknown };

function showAs(show: StatShow, n: number): string {
  return show === "size" ? showSize(n) : String(n);
}

/** The keys an `expect` checks of a subject: its numbers, then its own-schema keys. */
function keysOf(s: Subject): string[] {
  return [...Object.keys(s.checks), ...(s.extras ?? []).map((x) => x.key)];
}

function builtOf(ctx: StepContext): BuiltMachine {
  return { platform: ctx.platform, objects: ctx.objects };
}

/** The `expect` and `stats` steps of the given machine modules. */
export function createStatisticsSteps(modules: readonly MachineModule[]): StepModule {
  const subjects = modules.flatMap((m) => m.subjects ?? []) as unknown as Subject[];
  const groups: StatisticsGroup[] = modules.flatMap((m) => m.statistics ?? []);

  // --- expect ---------------------------------------------------------------------------------
  const shape: Record<string, z.ZodType> = { op: z.literal("expect") };
  for (const s of subjects) {
    shape[s.key] = objectNameSchema.optional().meta({ description: s.description });
    for (const [key, c] of Object.entries<StatCheck<unknown>>(s.checks))
      shape[key] = (c.show === "size" ? sizeSchema : countSchema)
        .optional()
        .meta({ description: c.description });
    for (const x of s.extras ?? []) shape[x.key] = x.schema.optional();
    for (const u of s.unscoped ?? [])
      shape[u.key] = countSchema.optional().meta({ description: u.description });
  }
  const everything = subjects
    .map(
      (s) =>
        `${[...keysOf(s), ...(s.unscoped ?? []).map((u) => u.key)].join(", ")} (of a ${s.key})`,
    )
    .join("; ");
  const expectSchema = z
    .strictObject(shape as { op: z.ZodLiteral<"expect"> })
    .superRefine((raw, ctx) => {
      const step = raw as Step;
      let checked = subjects.some((s) => (s.unscoped ?? []).some((u) => step[u.key] !== undefined));
      for (const s of subjects) {
        const given = keysOf(s).filter((k) => step[k] !== undefined);
        if (given.length > 0) checked = true;
        if (given.length > 0 && step[s.key] === undefined)
          ctx.addIssue({
            code: "custom",
            path: [s.key],
            message: `missing required key "${s.key}" (${given.join(", ")} ${given.length === 1 ? "is a statistic" : "are statistics"} of ${s.what})`,
          });
        else if (given.length === 0 && step[s.key] !== undefined && s.needsChecks)
          ctx.addIssue({
            code: "custom",
            path: [s.key],
            message: `nothing to check of ${s.key} ${showValue(step[s.key])}: give one of ${keysOf(s).join(", ")}`,
          });
      }
      const reported = subjects.some((s) => s.needsChecks && step[s.key] !== undefined);
      if (!checked && !reported)
        ctx.addIssue({
          code: "custom",
          path: [],
          message: `expected something to check: ${everything}`,
        });
    })
    .meta({
      title: "expect",
      description:
        "Check statistics of a target (with target), of the byte store (materializedPages), of a device (with device) and of a page table (with table); each key checked is one expectation.",
    });

  const expect = defineStep({
    schema: expectSchema,
    describe(raw) {
      const step = raw as Step;
      const parts: string[] = [];
      for (const s of subjects) {
        const mine: string[] = [];
        for (const [key, c] of Object.entries<StatCheck<unknown>>(s.checks)) {
          const v = step[key] as number | undefined;
          if (v !== undefined) mine.push(`${key} ${showAs(c.show, v)}`);
        }
        for (const x of s.extras ?? [])
          if (step[x.key] !== undefined) mine.push(...x.describe(step[x.key] as never));
        if (mine.length > 0) parts.push(`${String(step[s.key])}: ${mine.join(", ")}`);
      }
      for (const s of subjects)
        for (const u of s.unscoped ?? [])
          if (step[u.key] !== undefined) parts.push(u.describe(step[u.key] as number));
      return `expect ${parts.join("; ")}`;
    },
    expects: () => true,
    check: (raw, machine) => referenceProblems(subjects, raw as Step, machine),
    run(ctx, raw) {
      const step = raw as Step;
      const machine = builtOf(ctx);
      // Look everything up first, so an unknown target, pool, device or table records nothing.
      const results: StatResult[] = [];
      for (const s of subjects) {
        const name = step[s.key] as string | undefined;
        if (name !== undefined) {
          const stats = s.view(machine, name);
          for (const [key, c] of Object.entries<StatCheck<unknown>>(s.checks)) {
            const want = step[key] as number | undefined;
            if (want !== undefined)
              results.push(compareStat(`${name}.${key}`, c.show, want, c.get(stats)));
          }
          for (const x of s.extras ?? [])
            if (step[x.key] !== undefined)
              results.push(...x.check(step[x.key] as never, name, stats));
        }
        for (const u of s.unscoped ?? []) {
          const want = step[u.key] as number | undefined;
          if (want !== undefined) results.push(compareStat(u.what, "count", want, u.get(machine)));
        }
      }
      for (const r of results) ctx.expect(r.passed, r.message);
      const failed = results.filter((r) => !r.passed).length;
      return {
        summary:
          failed === 0 ? `${results.length} checked` : `${failed} of ${results.length} differ`,
      };
    },
  });

  // --- stats ----------------------------------------------------------------------------------
  const statsShape: Record<string, z.ZodType> = { op: z.literal("stats") };
  for (const s of subjects)
    statsShape[s.key] = objectNameSchema.optional().meta({ description: s.only });
  const subjectOf = (g: StatisticsGroup) => subjects.find((s) => s.group === g.key);

  const stats = defineStep({
    schema: z.strictObject(statsShape as { op: z.ZodLiteral<"stats"> }).meta({
      title: "stats",
      description:
        "Record statistics: of every target, the byte store, every device and every page table; or only of the target, device and table named.",
    }),
    describe(raw) {
      const step = raw as Step;
      const only = subjects
        .map((s) => step[s.key])
        .filter((x): x is string => typeof x === "string");
      return `statistics of ${only.length > 0 ? only.join(", ") : "everything"}`;
    },
    check: (raw, machine) => referenceProblems(subjects, raw as Step, machine),
    run(ctx, raw) {
      const step = raw as Step;
      const machine = builtOf(ctx);
      const all = subjects.every((s) => step[s.key] === undefined);
      const output: { [key: string]: unknown } = {};
      const first: string[] = [];
      const last: string[] = [];
      const tables: ReportTable[] = [];
      for (const g of groups) {
        const s = subjectOf(g);
        const name = s !== undefined ? (step[s.key] as string | undefined) : undefined;
        const value =
          all || s === undefined
            ? g.collect(machine)
            : name !== undefined && g.collectOne !== undefined
              ? g.collectOne(machine, name)
              : [];
        if (g.always || g.isEmpty?.(value) !== true) output[g.key] = value;
        (g.summaryLast === true ? last : first).push(...(g.summary?.(value as never) ?? []));
        tables.push(...(g.tables?.(value as never) ?? []));
      }
      return {
        summary: [...first, ...last].join("; "),
        output: output as { [key: string]: never },
        tables,
      };
    },
  });

  return { name: "statistics", ops: { expect, stats } };
}

/** The load-time problems of the subjects a step names. */
function referenceProblems(
  subjects: readonly Subject[],
  step: Step,
  machine: BuiltMachine,
): StepProblem[] {
  const problems: StepProblem[] = [];
  for (const s of subjects) {
    const name = step[s.key];
    if (typeof name !== "string" || s.reference === undefined) continue;
    try {
      s.reference(machine, name);
    } catch (e) {
      if (!isMemweaveError(e)) throw e;
      problems.push({ path: [s.key], message: e.detail });
    }
  }
  return problems;
}

/** The statistics steps of the built-in machine modules. */
export const statisticsSteps: StepModule = createStatisticsSteps(BUILTIN_MACHINE_MODULES);
