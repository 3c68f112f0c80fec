/**
 * The steps of the platform graph: ask who can reach physical memory and check it, at any point
 * of a run, and load a CPU's translation registers (a context switch, which leaves the TLB as
 * it was — the way to a stale entry).
 *
 * | op             | fields                                                                  |
 * | -------------- | ----------------------------------------------------------------------- |
 * | who            | addr, size?, live?, expect?: [{ master, rights?, via?, space? }]        |
 * | expectIsolated | masters, addr, size?                                                    |
 * | aliases        | addr?, size?, expect? (a count)                                         |
 * | stale          | expect? (a count)                                                       |
 * | load           | device (a CPU), ttbr0?, ttbr1? + split?, asid?, stage2?, vmid?          |
 *
 * Decisions:
 * - `who` with `expect` is exact: one expectation, passed when the masters that reach the range
 *   are exactly those listed (each master once; `rights` are its own accesses' — CPUs
 *   privileged, devices not — as letters `r`, `w`, `x`); a master listed twice is a load error.
 * - `expectIsolated` counts live paths and cached TLB entries (a stale entry reaches memory
 *   too); windows and bypasses count.
 * - `aliases` and `stale` without `expect` only report; with it, the count is one expectation.
 */
import { z } from "zod";

import { hex, hexRange } from "../../../base/address.js";
import type { Json } from "../../../base/events.js";
import { Cpu } from "../../../devices/cpu.js";
import { findAliases, findStaleEntries, reachableBy } from "../../../devices/graph/checks.js";
import type { ReachPath } from "../../../devices/graph/reverse-map.js";
import { whoReaches } from "../../../devices/graph/reverse-map.js";
import { showSize } from "../format.js";
import { checkReferences, pageTableNamed } from "../machine/translation.js";
import type { ReportTable, StepModule } from "../step-module.js";
import { defineStep } from "../step-module.js";
import {
  addressSchema,
  countSchema,
  objectNameSchema,
  showAddress,
  sizeSchema,
} from "../values.js";

const RIGHTS = /^[rwx]*$/;

const rightsSchema = z
  .string()
  .regex(RIGHTS, {
    error: (i) => `expected rights as letters r, w, x (e.g. "rw"), got ${JSON.stringify(i.input)}`,
  })
  .transform((s) => ["r", "w", "x"].filter((c) => s.includes(c)).join(""))
  .meta({
    description: 'What the master\'s own accesses may do: letters r, w, x (e.g. "rw", "r", "").',
  });

/** One line of a path for people: `cpu0 virt 0x400000-0x400fff via cpu-pt (L3) rw normal-wb`. */
function describePath(p: ReachPath): string {
  const tables = [
    p.stage1 !== undefined
      ? `${p.stage1.table}${p.stage1.ttbr === "ttbr1" ? " (ttbr1)" : ""}`
      : undefined,
    p.stage2 !== undefined ? `stage 2 ${p.stage2.table}` : undefined,
  ].filter((x) => x !== undefined);
  const via = p.via === "translation" ? tables.join(" + ") : p.via;
  return `${p.master} ${p.input.space} ${hexRange(p.input.start, p.input.end - p.input.start)} via ${via}: ${p.access || "none"}${p.memType !== "unknown" ? ` ${p.memType}` : ""}${p.live ? "" : " (not live)"}`;
}

/** The paths of `who` as a table for people. */
export function reachTable(title: string, paths: readonly ReachPath[]): ReportTable {
  return {
    title,
    head: ["master", "address", "physical", "path", "rights", "attributes", "live", "owner"],
    rows: paths.map((p) => [
      p.master,
      `${p.input.space} ${hexRange(p.input.start, p.input.end - p.input.start)}`,
      hexRange(p.phys.start, p.phys.end - p.phys.start),
      p.via === "translation"
        ? [
            p.stage1 !== undefined
              ? `${p.stage1.table} ${p.stage1.ttbr ?? ""} L${p.stage1.leaf.level}${p.stage1.leaves > 1 ? ` ×${p.stage1.leaves}` : ""}`
              : undefined,
            p.stage2 !== undefined
              ? `${p.stage2.table} L${p.stage2.leaf.level}${p.stage2.leaves > 1 ? ` ×${p.stage2.leaves}` : ""}`
              : undefined,
          ]
            .filter((x) => x !== undefined)
            .join(" → ")
        : p.via,
      p.access || "-",
      p.memType,
      p.live ? "yes" : "no",
      p.owners.map((o) => `${o.kind} ${o.name}`).join(", ") || "-",
    ]),
  };
}

/** Paths as JSON for a step's output. */
function pathsJson(paths: readonly ReachPath[]): Json {
  return JSON.parse(JSON.stringify(paths)) as Json;
}

const who = defineStep({
  schema: z
    .strictObject({
      op: z.literal("who"),
      addr: addressSchema.meta({ description: "The physical address asked about." }),
      size: sizeSchema.optional().meta({ description: "Bytes from addr (default 1)." }),
      live: z
        .boolean()
        .optional()
        .meta({ description: "Only the paths accesses take now (default true)." }),
      expect: z
        .array(
          z.strictObject({
            master: objectNameSchema.meta({ description: "A bus master that reaches the range." }),
            rights: rightsSchema.optional(),
            via: z.enum(["translation", "window", "bypass"]).optional(),
            space: z.enum(["virt", "ipa", "phys"]).optional().meta({
              description: "The address space of its input (virt, ipa, phys).",
            }),
          }),
        )
        .optional()
        .meta({
          description:
            "Exactly these masters reach the range (one expectation), each with these rights.",
        }),
    })
    .superRefine((step, ctx) => {
      const seen = new Set<string>();
      step.expect?.forEach((e, i) => {
        if (seen.has(e.master))
          ctx.addIssue({
            code: "custom",
            path: ["expect", i, "master"],
            message: `master "${e.master}" is listed twice`,
          });
        seen.add(e.master);
      });
    })
    .meta({
      title: "who",
      description:
        "Who can reach this physical range, with which rights, by which path: every bus master across every translation (the platform graph's reverse map).",
    }),
  describe: (s) =>
    `who reaches ${showAddress(s.addr)}${s.size !== undefined ? `+${showSize(s.size)}` : ""}`,
  run(ctx, step) {
    const pa = ctx.resolve(step.addr);
    const size = step.size ?? 1;
    const paths = whoReaches(ctx.platform, pa, pa + size, { onlyLive: step.live !== false });
    const masters = [...new Set(paths.map((p) => p.master))];
    if (step.expect !== undefined) {
      const problems: string[] = [];
      for (const e of step.expect) {
        const mine = paths.filter(
          (p) =>
            p.master === e.master &&
            (e.via === undefined || p.via === e.via) &&
            (e.space === undefined || p.input.space === e.space),
        );
        if (mine.length === 0) problems.push(`${e.master} does not reach it`);
        else if (e.rights !== undefined) {
          const got = [...new Set(mine.map((p) => p.access))];
          if (got.length !== 1 || got[0] !== e.rights)
            problems.push(
              `${e.master} may ${got.map((g) => g || "nothing").join(" / ")}, not ${e.rights || "nothing"}`,
            );
        }
      }
      for (const m of masters)
        if (!step.expect.some((e) => e.master === m)) problems.push(`${m} reaches it too`);
      const what = `who reaches ${hexRange(pa, size)}`;
      ctx.expect(
        problems.length === 0,
        problems.length === 0
          ? `${what}: exactly ${step.expect.map((e) => e.master + (e.rights !== undefined ? ` (${e.rights || "-"})` : "")).join(", ") || "nobody"}`
          : `${what}: ${problems.join("; ")}`,
      );
    }
    return {
      summary: paths.length === 0 ? "nobody" : paths.map(describePath).join("; "),
      output: { pa, size, masters, paths: pathsJson(paths) },
      tables: [reachTable(`who reaches ${hexRange(pa, size)}`, paths)],
    };
  },
});

const expectIsolated = defineStep({
  schema: z
    .strictObject({
      op: z.literal("expectIsolated"),
      masters: z.array(objectNameSchema).min(1, { error: "expected at least one master" }).meta({
        description: "The bus masters that must not reach the range.",
      }),
      addr: addressSchema.meta({ description: "The physical range's start." }),
      size: sizeSchema.optional().meta({ description: "Bytes from addr (default 1)." }),
    })
    .meta({
      title: "expectIsolated",
      description:
        "Expect that none of these masters can reach the physical range: no live path and no TLB entry of theirs maps into it (one expectation).",
    }),
  describe: (s) =>
    `expect ${s.masters.join(", ")} isolated from ${showAddress(s.addr)}${s.size !== undefined ? `+${showSize(s.size)}` : ""}`,
  expects: () => true,
  check: (step, machine) =>
    step.masters.flatMap((m, i) =>
      checkReferences(machine, [["masters", "bus master", m]]).map((p) => ({
        ...p,
        path: ["masters", i],
      })),
    ),
  run(ctx, step) {
    const pa = ctx.resolve(step.addr);
    const size = step.size ?? 1;
    const r = reachableBy(ctx.platform, step.masters, pa, pa + size);
    const found = [
      ...r.paths.map(describePath),
      ...r.cached.map((c) => `${c.master}'s TLB ${c.tlb} caches ${hex(c.va)} -> ${hex(c.pa)}`),
    ];
    const what = `${step.masters.join(", ")} isolated from ${hexRange(pa, size)}`;
    ctx.expect(found.length === 0, found.length === 0 ? what : `${what}: ${found.join("; ")}`);
    return {
      summary: found.length === 0 ? "isolated" : `reached: ${found.join("; ")}`,
      output: {
        pa,
        size,
        isolated: found.length === 0,
        paths: pathsJson(r.paths),
        cached: r.cached as unknown as Json,
      },
    };
  },
});

const aliases = defineStep({
  schema: z
    .strictObject({
      op: z.literal("aliases"),
      addr: addressSchema
        .optional()
        .meta({ description: "Only this physical range (default: all memory)." }),
      size: sizeSchema.optional().meta({ description: "With addr: its size (default 1)." }),
      expect: countSchema
        .optional()
        .meta({ description: "How many aliased ranges there must be." }),
    })
    .meta({
      title: "aliases",
      description:
        "Find physical memory reached with conflicting memory attributes (cacheable by one path, non-cacheable or device by another: forbidden by ARMv6 and later).",
    }),
  describe: (s) =>
    `aliases${s.addr !== undefined ? ` in ${showAddress(s.addr)}+${showSize(s.size ?? 1)}` : ""}`,
  run(ctx, step) {
    const start = step.addr !== undefined ? ctx.resolve(step.addr) : undefined;
    const found =
      start !== undefined
        ? findAliases(ctx.platform, start, start + (step.size ?? 1))
        : findAliases(ctx.platform);
    if (step.expect !== undefined)
      ctx.expect(
        found.length === step.expect,
        found.length === step.expect
          ? `${step.expect} aliased range${step.expect === 1 ? "" : "s"}`
          : `expected ${step.expect} aliased ranges, found ${found.length}`,
      );
    const lines = found.map(
      (a) =>
        `${hexRange(a.start, a.end - a.start)}: ${a.paths.map((p) => `${p.master} ${p.memType}`).join(" vs ")}`,
    );
    return {
      summary: found.length === 0 ? "no aliases" : lines.join("; "),
      output: { count: found.length, aliases: JSON.parse(JSON.stringify(found)) as Json },
    };
  },
});

const stale = defineStep({
  schema: z
    .strictObject({
      op: z.literal("stale"),
      expect: countSchema
        .optional()
        .meta({ description: "How many stale TLB entries there must be." }),
    })
    .meta({
      title: "stale",
      description:
        "Find TLB entries that no table grants any more (a translation cached before the tables changed without TLB maintenance).",
    }),
  describe: () => "stale TLB entries",
  run(ctx, step) {
    const found = findStaleEntries(ctx.platform);
    if (step.expect !== undefined)
      ctx.expect(
        found.length === step.expect,
        found.length === step.expect
          ? `${step.expect} stale TLB entr${step.expect === 1 ? "y" : "ies"}`
          : `expected ${step.expect} stale TLB entries, found ${found.length}`,
      );
    return {
      summary:
        found.length === 0
          ? "no stale entries"
          : found
              .map((s) => `${s.tlb}: ${hex(s.entry.va)} -> ${hex(s.entry.pa)} (${s.reason})`)
              .join("; "),
      output: { count: found.length, entries: JSON.parse(JSON.stringify(found)) as Json },
    };
  },
});

const load = defineStep({
  schema: z
    .strictObject({
      op: z.literal("load"),
      device: objectNameSchema.meta({ description: "A CPU." }),
      ttbr0: objectNameSchema
        .optional()
        .meta({ description: "The stage-1 table to load in TTBR0." }),
      ttbr1: objectNameSchema
        .optional()
        .meta({ description: "The stage-1 table to load in TTBR1." }),
      split: sizeSchema.optional().meta({ description: "With ttbr1: its first address." }),
      asid: z
        .number()
        .int()
        .min(0)
        .max(0xffff)
        .optional()
        .meta({ description: "The ASID to set." }),
      stage2: objectNameSchema.optional().meta({ description: "The stage-2 table (VTTBR)." }),
      vmid: z
        .number()
        .int()
        .min(0)
        .max(0xffff)
        .optional()
        .meta({ description: "With stage2: its VMID." }),
    })
    .superRefine((s, ctx) => {
      if (
        s.ttbr0 === undefined &&
        s.ttbr1 === undefined &&
        s.asid === undefined &&
        s.stage2 === undefined
      )
        ctx.addIssue({
          code: "custom",
          path: [],
          message: 'expected something to load: "ttbr0", "ttbr1", "asid" or "stage2"',
        });
      if (s.split !== undefined && s.ttbr1 === undefined)
        ctx.addIssue({ code: "custom", path: ["split"], message: "a split goes with ttbr1" });
      if (s.vmid !== undefined && s.stage2 === undefined)
        ctx.addIssue({ code: "custom", path: ["vmid"], message: "a vmid goes with stage2" });
    })
    .meta({
      title: "load",
      description:
        "Load a CPU's translation registers (TTBR0, TTBR1, ASID, VTTBR) as a context switch does: no TLB maintenance, so entries cached under the old tables and the same tags stay (and go stale).",
    }),
  describe: (s) =>
    `load ${[
      s.ttbr0 !== undefined ? `ttbr0 ${s.ttbr0}` : undefined,
      s.ttbr1 !== undefined ? `ttbr1 ${s.ttbr1}` : undefined,
      s.asid !== undefined ? `asid ${s.asid}` : undefined,
      s.stage2 !== undefined ? `stage 2 ${s.stage2}` : undefined,
    ]
      .filter((x) => x !== undefined)
      .join(", ")} into ${s.device}`,
  check: (step, machine) => {
    const problems = checkReferences(machine, [
      ["device", "bus master", step.device],
      ["ttbr0", "table", step.ttbr0],
      ["ttbr1", "table", step.ttbr1],
      ["stage2", "table", step.stage2],
    ]);
    // Only a CPU has these registers: say so at load time, not by stopping the run there.
    if (!problems.some((p) => p.path[0] === "device")) {
      const d = machine.platform.device(step.device);
      if (!(d instanceof Cpu))
        problems.push({
          path: ["device"],
          message: `device "${step.device}" is a ${d.kind}, not a CPU`,
        });
    }
    return problems;
  },
  run(ctx, step) {
    const cpu = ctx.platform.device(step.device, Cpu);
    const table = (name: string | undefined) =>
      name === undefined ? undefined : pageTableNamed(ctx.objects, name);
    const t0 = table(step.ttbr0);
    const t1 = table(step.ttbr1);
    const s2 = table(step.stage2);
    if (t0 !== undefined) cpu.setTtbr0(t0);
    if (t1 !== undefined) cpu.setTtbr1(t1, step.split);
    if (s2 !== undefined) cpu.setStage2(s2, step.vmid);
    if (step.asid !== undefined) cpu.setAsid(step.asid);
    const kept = cpu.tlb.stats().valid;
    return {
      summary: `${cpu.name}: asid ${cpu.asid}, vmid ${cpu.vmid}; TLB kept (${kept} entr${kept === 1 ? "y" : "ies"})`,
      output: { device: cpu.name, asid: cpu.asid, vmid: cpu.vmid },
    };
  },
});

/** The platform graph's steps. */
export const graphSteps: StepModule = {
  name: "graph",
  ops: { who, expectIsolated, aliases, stale, load },
};
