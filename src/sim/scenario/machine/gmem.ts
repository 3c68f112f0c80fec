/**
 * The GMEM part of the `machine` section: unified CPU–accelerator memory (`src/gmem/`) as a
 * {@link MachineModule} — where host pages and page tables come from, the process and its CPU,
 * the address space, the accelerators attached with their MMU modes, the peer-shared mappings,
 * the policy and the cost model.
 *
 * ```yaml
 * gmem:
 *   host: system                  # the buddy target host pages come from (2 MiB blocks)
 *   tables: pgtables              # the CPU's and the devices' page tables
 *   cpu: cpu0                     # the process's CPU: a cpu device of the machine, or made
 *   accelerators:                 # accelerators of `devices`, with local memory (their hnodes)
 *     - { device: gpu0, mode: coherent-exclusive }   # or share, replicate; activate: true
 *   mappings:                     # peer-shared mmaps (rounded out to 2 MiB)
 *     - { name: buf, size: 64M }                     # addr: fixed there (default: mmap picks)
 *   policy: gmem                  # or uvm
 *   set: { farFaultNs: 20us, evictBatch: 8 }        # cost parameters and policy switches
 * ```
 *
 * It builds after the translation module (the devices exist), item by item: an unknown or
 * non-buddy `host`, a `tables` target that cannot hold tables, a `cpu` that names a device other
 * than a CPU, an unknown setting (at its key, with the closest known one), an accelerator that is
 * not one or is listed twice, a mapping that does not fit, are each reported at their path; what
 * depends on a refused item is skipped.
 *
 * The machine keeps a {@link ScenarioGmem} under {@link GMEM} ({@link gmemOf}): the Gmem, its cost
 * model, the process, the address space, the mappings by name — and `fresh(policy, set)`, which
 * builds a new copy of the machine as this section describes it (physical memory, devices and
 * GMEM, before any step), under another policy: what `gmem.compare` and a `gmem.trace` with its
 * own policy run on. The `gmem.*` steps (`steps/gmem.ts`) drive it.
 *
 * What it reports: the configuration as built (`machine.gmem` of the run) and the `gmem`
 * statistics group — every counter, the simulated time, and each device's pages — with tables.
 *
 * Decisions:
 * - The address space spans the whole user range, [0, 2^47), unless `addressSpace` says; a
 *   mapping without `addr` is placed from MMAP_BASE (0x10_0000_0000) on, where the CLI's
 *   generated traces start too (mmap's hint; below it when nothing is free above).
 * - The process is `app` and its address space `as1` (the names in the platform graph).
 * - `policy` names a preset; `set` changes cost parameters and policy switches by key, as
 *   `memweave gmem replay --set` does (one vocabulary for both).
 */
import { z } from "zod";

import { hexRange } from "../../../base/address.js";
import { isMemweaveError, MemweaveError } from "../../../base/errors.js";
import { didYouMean } from "../../../base/suggest.js";
import { Accelerator } from "../../../devices/accelerator.js";
import { Cpu } from "../../../devices/cpu.js";
import { Platform } from "../../../devices/platform.js";
import type { GmAs, GmMmuMode, GmProcess } from "../../../gmem/index.js";
import { GM_DEV_CAP, GM_MMU_MODE, Gmem, MMAP_BASE } from "../../../gmem/index.js";
import type { CostModel } from "../../../gmem/cost.js";
import type { PolicyName, SettingValue } from "../../../gmem/replay.js";
import { choosePolicy, costModelOf, POLICY_NAMES, REPLAY_COUNTERS } from "../../../gmem/replay.js";
import { groupDigits, showBytes, showCounter } from "../../../gmem/replay-report.js";
import { formatDuration } from "../../../gmem/cost.js";
import { showSize } from "../format.js";
import type { BuiltMachine, DocPath, MachineBuildContext } from "../machine-module.js";
import { defineMachineModule, MachineObjects, objectKind } from "../machine-module.js";
import type { ReportTable } from "../step-module.js";
import { objectNameSchema, sizeSchema } from "../values.js";
import { physMachine } from "./phys.js";
import { translationMachine } from "./translation.js";

// --- schema --------------------------------------------------------------------------------------

/** The MMU modes as scenarios write them. */
export const GMEM_MODES = {
  share: GM_MMU_MODE.SHARE,
  "coherent-exclusive": GM_MMU_MODE.COHERENT_EXCLUSIVE,
  replicate: GM_MMU_MODE.REPLICATE,
} as const;
export type GmemModeName = keyof typeof GMEM_MODES;

const MODE_NAMES = Object.keys(GMEM_MODES) as GmemModeName[];

/** A mode's name from the model's value. */
export function modeName(mode: GmMmuMode): GmemModeName {
  return MODE_NAMES.find((n) => GMEM_MODES[n] === mode)!;
}

const modeSchema = z
  .string({ error: () => `expected a mode: ${MODE_NAMES.join(", ")}` })
  .transform((s, ctx): GmemModeName => {
    const n = s.trim().toLowerCase().replace(/_/g, "-");
    if ((MODE_NAMES as string[]).includes(n)) return n as GmemModeName;
    ctx.issues.push({
      code: "custom",
      message: `expected a mode: ${MODE_NAMES.join(", ")} (GM_MMU_MODE_SHARE, _COHERENT_EXCLUSIVE, _REPLICATE), got ${JSON.stringify(s)}`,
      input: s,
    });
    return z.NEVER;
  })
  .meta({
    description:
      "The MMU mode: share (the device walks the CPU's table), coherent-exclusive (pages migrate; one place each), replicate (CPU mappings replicated into the device's table).",
  });

const policySchema = z
  .enum(POLICY_NAMES, {
    error: (issue) =>
      issue.input === undefined
        ? undefined
        : `expected a policy: ${POLICY_NAMES.join(" or ")}, got ${JSON.stringify(issue.input)}`,
  })
  .meta({ description: "A policy: gmem (the RFC's, 2 MiB pages) or uvm (NVIDIA UVM's)." });

/** Settings by key: cost parameters and policy switches (`memweave gmem replay --set`'s). */
export const settingsSchema = z
  .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
  .meta({
    description:
      "Settings by key, as memweave gmem replay --set takes them: cost-model parameters (farFaultNs: 20us, linkBandwidth: 16GB/s, linkBandwidth.host->gpu0: 12GB/s, walkNs4K, walkNs2M, remoteAccessNs, localAccessNs, migrationSetupNs, ...) and policy switches (evictBatch: 16, evictRounds: 10, eviction: migrated|accessed, and the uvm policy's).",
  });

const acceleratorSchema = z
  .strictObject({
    device: objectNameSchema.meta({
      description: "An accelerator of the machine's devices; its local memory becomes its hnodes.",
    }),
    mode: modeSchema,
    activate: z.boolean().optional().meta({
      description: "Activate its context at attach (gm_as_attach's activate; default true).",
    }),
    capability: z
      .array(z.enum(["replayable", "peer"]))
      .optional()
      .meta({
        description:
          "Its capabilities: replayable (GM_DEV_CAP_REPLAYABLE: faults are replayed), peer (GM_DEV_CAP_PEER: peer-shared mmaps reserve its VA range). Default both.",
      }),
  })
  .meta({
    title: "GMEM accelerator",
    description: "An accelerator attached to the address space.",
  });

const mappingSchema = z
  .strictObject({
    name: objectNameSchema.meta({
      description: "Its name: steps write addresses in it as name or name+offset.",
    }),
    size: sizeSchema.meta({ description: "Its length (rounded up to 2 MiB)." }),
    addr: sizeSchema
      .optional()
      .meta({ description: "A fixed address (2 MiB-aligned; default: where mmap places it)." }),
  })
  .meta({ title: "GMEM mapping", description: "A peer-shared mapping (mmap MAP_PEER_SHARED)." });

/** The `gmem` key of the machine. */
export const gmemSectionSchema = z
  .strictObject({
    host: objectNameSchema.meta({
      description: "The buddy memory target host pages come from (2 MiB-aligned blocks).",
    }),
    tables: objectNameSchema.meta({
      description: "The memory target the process's and the devices' page tables come from.",
    }),
    cpu: objectNameSchema.optional().meta({
      description: "The CPU that runs the process: a cpu device, or made (default cpu0).",
    }),
    addressSpace: z
      .strictObject({ start: sizeSchema, end: sizeSchema })
      .optional()
      .meta({ description: "gm_as_create's range, 2 MiB-aligned (default [0, 2^47))." }),
    accelerators: z
      .array(acceleratorSchema)
      .optional()
      .meta({ description: "The accelerators attached, each in its mode (default: none)." }),
    mappings: z
      .array(mappingSchema)
      .optional()
      .meta({ description: "Peer-shared mappings of the process (default: none)." }),
    policy: policySchema.optional(),
    set: settingsSchema.optional(),
    pageLabels: z.enum(["hnode", "page"]).optional().meta({
      description: "How device pages are labelled in the platform graph (default hnode).",
    }),
  })
  .meta({
    title: "GMEM",
    description:
      "Unified CPU–accelerator memory (GMEM): host memory, table memory, the process's CPU, accelerators with their modes, peer-shared mappings, the policy and the cost model.",
  });

export type GmemSectionConfig = z.output<typeof gmemSectionSchema>;
type MachineSection = Readonly<Record<string, unknown>> & { gmem?: GmemSectionConfig };

// --- the GMEM of the machine -------------------------------------------------------------------

/** A mapping as built. */
export interface GmemMappingInfo {
  readonly name: string;
  readonly start: number;
  readonly size: number;
}

/** The configuration as built (the run's `machine.gmem`). */
export interface GmemConfigSummary {
  host: string;
  tables: string;
  cpu: string;
  process: string;
  addressSpace: { name: string; start: number; end: number };
  accelerators: Array<{
    device: string;
    mode: GmemModeName;
    hnodes: Array<{ id: number; base: number; size: number }>;
  }>;
  mappings: GmemMappingInfo[];
  policy: { name: PolicyName } & Record<string, unknown>;
  settings: Record<string, SettingValue>;
}

/** GMEM on a scenario's machine. */
export interface ScenarioGmem {
  readonly gmem: Gmem;
  readonly cost: CostModel;
  readonly process: GmProcess;
  readonly as: GmAs;
  readonly mappings: ReadonlyMap<string, GmemMappingInfo>;
  /** The accelerators attached, in order (the default `who` of generated traces is the first). */
  readonly devices: readonly string[];
  readonly config: GmemConfigSummary;
  /**
   * A new copy of the machine as its section describes it, before any step, with `policy` and
   * `set` (over the section's) instead: its own platform, GMEM and cost model.
   */
  fresh(policy?: PolicyName, set?: Readonly<Record<string, SettingValue>>): ScenarioGmem;
}

/** The kind under which the machine keeps its GMEM (one, named "gmem"). */
export const GMEM = objectKind<ScenarioGmem>("GMEM");

/** The GMEM of a built machine (or its objects), or undefined without a `gmem` section. */
export function gmemOf(machine: BuiltMachine | MachineObjects): ScenarioGmem | undefined {
  const objects = machine instanceof MachineObjects ? machine : machine.objects;
  return objects.has(GMEM, "gmem") ? objects.get(GMEM, "gmem") : undefined;
}

// --- building --------------------------------------------------------------------------------------

function attempt<T>(
  ctx: MachineBuildContext,
  path: (e: MemweaveError) => DocPath,
  body: () => T,
): T | undefined {
  try {
    return body();
  } catch (e) {
    if (!isMemweaveError(e)) throw e;
    ctx.problem(path(e), e);
    return undefined;
  }
}

function problem(ctx: MachineBuildContext, path: DocPath, detail: string, code = "EINVAL"): void {
  ctx.problem(path, new MemweaveError(code as "EINVAL", detail));
}

/** Overrides for a fresh copy. */
interface Override {
  policy?: PolicyName | undefined;
  set?: Readonly<Record<string, SettingValue>> | undefined;
}

function buildGmem(
  ctx: MachineBuildContext,
  section: MachineSection,
  seed: number,
  override: Override = {},
): ScenarioGmem | undefined {
  const g = section.gmem!;
  const at: DocPath = ["machine", "gmem"];
  const platform = ctx.platform;
  const refuse = () => void ctx.refuse("gmem", "gmem");
  if (ctx.refused("target", g.host) || ctx.refused("target", g.tables)) return refuse();

  const policyName = override.policy ?? g.policy ?? "gmem";
  const settings: Record<string, SettingValue> = { ...(g.set ?? {}), ...(override.set ?? {}) };
  const chosen = attempt(
    ctx,
    (e) =>
      e.field !== undefined && e.field in settings
        ? [...at, "set", e.field]
        : [...at, g.policy !== undefined ? "policy" : "set"],
    () => choosePolicy(policyName, settings),
  );
  if (chosen === undefined) return refuse();
  const cost = attempt(
    ctx,
    (e) =>
      e.field !== undefined && e.field in settings ? [...at, "set", e.field] : [...at, "set"],
    () => costModelOf({}, chosen.cost),
  );
  if (cost === undefined) return refuse();

  const cpuName = g.cpu ?? "cpu0";
  const existing = platform.registry.list().find((d) => d.name === cpuName);
  if (existing !== undefined && !(existing instanceof Cpu)) {
    problem(ctx, [...at, "cpu"], `"${cpuName}" is a ${existing.kind}, not a CPU`);
    return refuse();
  }
  const targets = platform.targets().map((t) => t.name);
  for (const key of ["host", "tables"] as const) {
    const name = g[key];
    if (!targets.includes(name)) {
      problem(
        ctx,
        [...at, key],
        `no memory target named "${name}"${didYouMean(name, targets)} (have: ${targets.join(", ") || "none"})`,
        "ENOENT",
      );
      return refuse();
    }
  }
  if (platform.target(g.host).kind !== "buddy") {
    problem(
      ctx,
      [...at, "host"],
      `target "${g.host}" is ${platform.target(g.host).kind}: host pages need a buddy target (2 MiB-aligned blocks)`,
    );
    return refuse();
  }
  const gmem = attempt(
    ctx,
    () => [...at, "tables"],
    () =>
      new Gmem(platform, {
        host: g.host,
        tables: g.tables,
        policy: chosen.policy,
        cost,
        ...(g.pageLabels !== undefined ? { pageLabels: g.pageLabels } : {}),
      }),
  );
  if (gmem === undefined) return refuse();
  const process = attempt(
    ctx,
    () => [...at, "cpu"],
    () => gmem.createProcess("app", { cpu: cpuName }),
  );
  if (process === undefined) return refuse();
  const range = g.addressSpace ?? { start: 0, end: 2 ** 47 };
  const as = attempt(
    ctx,
    () => [...at, "addressSpace"],
    () => gmem.asCreate(process, range.start, range.end),
  );
  if (as === undefined) return refuse();

  const accelerators: GmemConfigSummary["accelerators"] = [];
  (g.accelerators ?? []).forEach((a, i) => {
    const path: DocPath = [...at, "accelerators", i];
    if (ctx.refused("device", a.device)) return;
    const device = platform.registry.list().find((d) => d.name === a.device);
    if (device === undefined) {
      const have = platform.registry
        .list()
        .filter((d) => d instanceof Accelerator)
        .map((d) => d.name);
      return problem(
        ctx,
        [...path, "device"],
        `no accelerator named "${a.device}" (accelerators: ${have.join(", ") || "none"})`,
        "ENOENT",
      );
    }
    if (!(device instanceof Accelerator))
      return problem(
        ctx,
        [...path, "device"],
        `"${a.device}" is a ${device.kind}, not an accelerator`,
      );
    if (accelerators.some((x) => x.device === a.device))
      return problem(ctx, [...path, "device"], `${a.device} is attached twice`, "EEXIST");
    const caps = a.capability ?? ["replayable", "peer"];
    const capability =
      (caps.includes("replayable") ? GM_DEV_CAP.REPLAYABLE : 0) |
      (caps.includes("peer") ? GM_DEV_CAP.PEER : 0);
    const added = attempt(
      ctx,
      () => path,
      () => gmem.addAccelerator(device, { tables: g.tables, capability }),
    );
    if (added === undefined) return;
    const ctxOk = attempt(
      ctx,
      () => [...path, "mode"],
      () => as.attach(added.dev, GMEM_MODES[a.mode], a.activate ?? true),
    );
    if (ctxOk === undefined) return;
    accelerators.push({
      device: a.device,
      mode: a.mode,
      hnodes: added.hnodes.map((h) => ({ id: h.id, base: h.base, size: h.end - h.base })),
    });
  });

  const mappings = new Map<string, GmemMappingInfo>();
  (g.mappings ?? []).forEach((m, i) => {
    const path: DocPath = [...at, "mappings", i];
    if (mappings.has(m.name))
      return problem(ctx, [...path, "name"], `a mapping named "${m.name}" exists`, "EEXIST");
    const start = attempt(
      ctx,
      (e) =>
        e.field === "addr" ? [...path, "addr"] : e.field === "len" ? [...path, "size"] : path,
      () =>
        process.mmap(m.size, {
          peerShared: true,
          ...(m.addr !== undefined ? { addr: m.addr, fixed: true } : { addr: MMAP_BASE }),
        }),
    );
    if (start === undefined) return;
    const vma = process.findVma(start)!;
    mappings.set(m.name, { name: m.name, start, size: vma.end - vma.start });
  });

  const config: GmemConfigSummary = {
    host: g.host,
    tables: g.tables,
    cpu: process.cpu.name,
    process: process.name,
    addressSpace: { name: as.name, start: range.start, end: range.end },
    accelerators,
    mappings: [...mappings.values()],
    policy: { name: policyName, ...(gmem.policy as unknown as Record<string, unknown>) },
    settings,
  };
  return {
    gmem,
    cost,
    process,
    as,
    mappings,
    devices: accelerators.map((a) => a.device),
    config,
    fresh: (policy, set) =>
      freshCopy(section, seed, { policy, set: { ...(g.set ?? {}), ...(set ?? {}) } }),
  };
}

/** A new machine from the same section, GMEM built with `override`. */
function freshCopy(section: MachineSection, seed: number, override: Override): ScenarioGmem {
  const platform = new Platform({ regions: [], seed });
  const objects = new MachineObjects();
  const problems: string[] = [];
  const refused = new Set<string>();
  const ctx: MachineBuildContext = {
    platform,
    objects,
    problem: (path, error) => void problems.push(`${path.join(".")}: ${error.detail}`),
    refuse: (kind, name) => void refused.add(`${kind}\u0000${name}`),
    refused: (kind, name) => refused.has(`${kind}\u0000${name}`),
  };
  physMachine.build(ctx, section);
  translationMachine.build(ctx, section);
  const built = problems.length === 0 ? buildGmem(ctx, section, seed, override) : undefined;
  if (built === undefined || problems.length > 0)
    throw new MemweaveError(
      "EINVAL",
      `a fresh copy of the machine could not be built: ${problems.join("; ") || "refused"}`,
    );
  return built;
}

// --- reports --------------------------------------------------------------------------------------

/** The `gmem` statistics group: every counter, the time, each device's pages. */
export interface GmemState {
  stats: Record<string, number>;
  simulatedTimeNs: number;
  devices: Array<{ device: string; hnode: number; pages: number; active: number; free: number }>;
}

export function gmemState(g: ScenarioGmem): GmemState {
  return {
    stats: { ...g.gmem.stats },
    simulatedTimeNs: g.cost.timeNs,
    devices: g.gmem.hnodes().map((h) => ({
      device: h.dev.name,
      hnode: h.id,
      pages: h.size,
      active: h.nrActivePages,
      free: h.nrFreePages,
    })),
  };
}

/** The state as tables for people. */
export function gmemStateTables(s: GmemState): ReportTable[] {
  const get = (k: string) => s.stats[k] ?? 0;
  return [
    {
      title: "GMEM statistics",
      head: ["counter", "value"],
      rows: [
        ...REPLAY_COUNTERS.map((k) => [k, showCounter(k, get(k))]),
        ["simulatedTimeNs", formatDuration(s.simulatedTimeNs)],
        ["deviceFirstTouches", groupDigits(get("deviceFirstTouches"))],
        ["cpuFirstTouches", groupDigits(get("cpuFirstTouches"))],
      ],
    },
    {
      title: "GMEM device memory",
      head: ["device", "hnode", "pages", "active", "free"],
      rows: s.devices.map((d) => [
        d.device,
        String(d.hnode),
        `${d.pages} (${showBytes(d.pages * 2 ** 21)})`,
        String(d.active),
        String(d.free),
      ]),
    },
  ];
}

/** The configuration as a table for people. */
export function gmemConfigTable(c: GmemConfigSummary): ReportTable {
  return {
    title: "GMEM",
    head: ["GMEM", "configuration"],
    rows: [
      ["host / tables", `target ${c.host} / target ${c.tables}`],
      [
        "process",
        `${c.process} on ${c.cpu}, address space ${c.addressSpace.name} ${hexRange(c.addressSpace.start, c.addressSpace.end - c.addressSpace.start)}`,
      ],
      ...c.accelerators.map((a) => [
        a.device,
        `${a.mode}, ${a.hnodes.map((h) => `hnode ${h.id} ${hexRange(h.base, h.size)} (${showSize(h.size)})`).join(", ") || "no local memory"}`,
      ]),
      ...c.mappings.map((m) => [
        m.name,
        `${hexRange(m.start, m.size)} (${showSize(m.size)}), peer-shared`,
      ]),
      [
        "policy",
        `${c.policy.name}${
          Object.keys(c.settings).length > 0
            ? `, ${Object.entries(c.settings)
                .map(([k, v]) => `${k}=${String(v)}`)
                .join(", ")}`
            : ""
        }`,
      ],
    ],
  };
}

// --- the module --------------------------------------------------------------------------------------

declare module "../machine-summary.js" {
  interface MachineSummary {
    gmem?: GmemConfigSummary;
  }
  interface MachineStatistics {
    gmem?: GmemState;
  }
}

/** The machine module of GMEM. */
export const gmemMachineModule = defineMachineModule({
  name: "gmem",
  shape: {
    gmem: gmemSectionSchema.optional(),
  },
  build(ctx, section) {
    if (section.gmem === undefined) return;
    const built = buildGmem(ctx, section, ctx.platform.rng.seed);
    if (built !== undefined) ctx.objects.add(GMEM, "gmem", built);
  },
  summarize: (machine) => {
    const g = gmemOf(machine);
    return g === undefined ? {} : { gmem: g.config };
  },
  statistics: [
    {
      key: "gmem",
      always: false,
      collect: (m) => {
        const g = gmemOf(m);
        return g === undefined ? undefined : gmemState(g);
      },
      isEmpty: (v) => v === undefined,
      tables: (s: GmemState | undefined) => (s === undefined ? [] : gmemStateTables(s)),
      summary: (s: GmemState | undefined) =>
        s === undefined
          ? []
          : [
              `GMEM: ${groupDigits(s.stats.deviceFaults ?? 0)} device faults, ${groupDigits((s.stats.migrationsToDevice ?? 0) + (s.stats.migrationsToHost ?? 0))} migrations, ${formatDuration(s.simulatedTimeNs)} simulated`,
            ],
    },
  ],
});
