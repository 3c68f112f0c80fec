/**
 * The extension points scenario modules use: namespaced steps, typed names, addresses in named
 * spaces, the machine modules' report hooks (summary, statistics, expect subjects), and model
 * errors located by their structured field.
 */
import { z } from "zod";
import { describe, expect, it } from "vitest";

import { MemweaveError, inField } from "../../base/errors.js";
import { errorCode, expectError } from "../../base/errors.testutil.js";
import { Platform } from "../../devices/platform.js";
import { formatScenarioError, parseScenario } from "./parse.js";
import { createStepRegistry } from "./registry.js";
import { runScenario } from "./run.js";
import { buildMachine, machineStatistics, physMachine, summarizeMachine } from "./machine.js";
import type { BuiltMachine, MachineModule } from "./machine-module.js";
import { fieldPath, MachineObjects, objectKind } from "./machine-module.js";
import type { StepModule } from "./step-module.js";
import { defineStep, PHYSICAL } from "./step-module.js";
import { defaultStepRegistry, physSteps, statisticsSteps } from "./steps/index.js";
import { createStatisticsSteps } from "./steps/statistics.js";
import { addressSchema, objectNameSchema, showAddress } from "./values.js";

/** A system's object, bound by name with an address in its own space. */
interface Window {
  readonly name: string;
  readonly base: number;
  live: boolean;
}
const WINDOW = objectKind<Window>("window");
const SPACE = "win:w";

/** A namespaced module with steps that bind, resolve in their space and look up by kind. */
const open = defineStep({
  schema: z.strictObject({
    op: z.literal("win.open"),
    as: objectNameSchema,
    at: addressSchema,
  }),
  describe: (s) => `open ${s.as} at ${showAddress(s.at)}`,
  run(ctx, s) {
    ctx.checkName(s.as);
    const w: Window = { name: s.as, base: 0x1000, live: true };
    ctx.bind(s.as, {
      kind: WINDOW,
      value: w,
      isLive: () => w.live,
      addresses: { [SPACE]: w.base, [PHYSICAL]: ctx.resolve(s.at) },
    });
  },
});
const poke = defineStep({
  schema: z.strictObject({ op: z.literal("win.where"), addr: addressSchema, want: z.number() }),
  describe: (s) => `where is ${showAddress(s.addr)}`,
  run(ctx, s) {
    const got = ctx.resolve(s.addr, SPACE);
    ctx.expect(got === s.want, `${showAddress(s.addr)} in ${SPACE} = ${got}`);
  },
});
const close = defineStep({
  schema: z.strictObject({ op: z.literal("win.close"), name: objectNameSchema }),
  describe: (s) => `close ${s.name}`,
  run(ctx, s) {
    const w = ctx.lookup(s.name, WINDOW); // typed: a Window
    w.live = false;
  },
});
const winSteps: StepModule = {
  name: "win",
  namespace: "win",
  ops: { "win.open": open, "win.where": poke, "win.close": close },
};

const TEXT = `version: 1
name: spaces
machine:
  regions: [{ name: dram, base: 0x8000_0000, size: 1M, kind: ram }]
  targets: [{ name: system, allocator: buddy, ranges: [{ region: dram }] }]
steps:
  - { op: alloc, target: system, size: 4K, as: buf }
  - { op: win.open, as: w, at: buf + 0x10 }
  - { op: win.where, addr: w + 0x20, want: 0x1020 }
  - { op: write, addr: buf + 0x10, data: "ab" }
  - { op: read, addr: w, expect: "ab" }
  - { op: win.where, addr: buf, want: 0, expectError: EINVAL }
  - { op: win.close, name: buf, expectError: EINVAL }
  - { op: free, alloc: w, expectError: EINVAL }
  - { op: win.close, name: w }
  - { op: win.open, as: w, at: buf }
`;

describe("namespaced steps", () => {
  it("a system's ops are <namespace>.<name>; the machine's keep plain names", () => {
    const registry = createStepRegistry([physSteps, statisticsSteps, winSteps]);
    expect(registry.ops).toContain("win.open");
    expect(registry.moduleOf("win.where")).toBe(winSteps);
    for (const op of defaultStepRegistry.ops) {
      const ns = defaultStepRegistry.moduleOf(op)!.namespace;
      if (ns === undefined) expect(op).not.toContain(".");
      else expect(op.startsWith(`${ns}.`)).toBe(true);
    }
    expect(defaultStepRegistry.moduleOf("vcm.reserve")?.namespace).toBe("vcm");
  });

  it("refuses an op outside its namespace, and a dotted op without one", () => {
    expectError(
      () => createStepRegistry([{ ...winSteps, namespace: "vcm" }]),
      "EINVAL",
      'op "win.open" is not "vcm.<name>"',
    );
    expectError(
      () => createStepRegistry([{ name: "win", ops: winSteps.ops }]),
      "EINVAL",
      "has no namespace",
    );
    expectError(() => createStepRegistry([{ ...winSteps, namespace: "Win" }]), "EINVAL");
  });
});

describe("typed names and addresses in named spaces", () => {
  it("a name resolves in each space it has an address in, and is looked up by its kind", () => {
    const registry = createStepRegistry([physSteps, statisticsSteps, winSteps]);
    const r = parseScenario(TEXT, "s.yaml", { registry });
    if (!r.ok) throw new Error(r.errors.map(formatScenarioError).join("\n"));
    const result = runScenario(r.scenario, { registry });
    expect(result.steps.map((s) => [s.op, s.status])).toEqual([
      ["alloc", "ok"],
      ["win.open", "ok"],
      ["win.where", "ok"],
      ["write", "ok"],
      ["read", "ok"],
      ["win.where", "expected-error"],
      ["win.close", "expected-error"],
      ["free", "expected-error"],
      ["win.close", "ok"],
      ["win.open", "ok"], // the name is free again once its window is closed
    ]);
    const errors = result.steps.map((s) => s.error?.message);
    expect(errors[5]).toBe(`EINVAL: "buf" is a allocation, which has no address in ${SPACE}`);
    expect(errors[6]).toBe('EINVAL: "buf" is a allocation, not a window');
    expect(errors[7]).toBe('EINVAL: "w" is a window, not a allocation');
    // `read` at w used its physical address, buf + 0x10, where the write put "ab".
    expect(result.expectations.failed).toBe(0);
    expect(result.expectations.list.map((e) => e.message)).toContain("read 1 byte at w = ab");
  });
});

/** A machine module of another system: a counter with its own summary, statistics, subject. */
const counterKind = objectKind<{ n: number }>("counter");
const counterMachine: MachineModule = {
  name: "counter",
  shape: {},
  build(ctx) {
    ctx.objects.add(counterKind, "c0", { n: 3 });
  },
  summarize: (m) => ({ counters: m.objects.list(counterKind).map((c) => c.name) }),
  statistics: [
    {
      key: "counters",
      always: false,
      collect: (m) => m.objects.list(counterKind).map((c) => ({ name: c.name, n: c.value.n })),
      collectOne: (m, name) => [{ name, n: m.objects.get(counterKind, name).n }],
      isEmpty: (v) => (v as unknown[]).length === 0,
    },
  ],
  subjects: [
    {
      key: "counter",
      what: "a counter",
      description: "The counter to check.",
      only: "Only this counter.",
      checks: {
        count: { show: "count", description: "Its count.", get: (c: { n: number }) => c.n },
      },
      needsChecks: true,
      view: (m, name) => m.objects.get(counterKind, name),
      group: "counters",
    },
  ],
};

describe("machine modules report through hooks", () => {
  const modules = [physMachine, counterMachine];
  const machine = (): BuiltMachine => {
    const built = buildMachine(
      {
        regions: [{ name: "dram", base: 0x8000_0000, size: 1 << 20, kind: "ram" }],
        targets: [],
      } as never,
      0,
      modules,
    );
    expect(built.problems).toEqual([]);
    return built.machine;
  };

  it("the summary and the statistics are every module's keys, in module order", () => {
    const m = machine();
    expect(Object.keys(summarizeMachine(m, modules))).toEqual(["regions", "targets", "counters"]);
    const stats = machineStatistics(m, modules) as unknown as Record<string, unknown>;
    expect(Object.keys(stats)).toEqual(["targets", "store", "counters"]);
    expect(stats.counters).toEqual([{ name: "c0", n: 3 }]);
  });

  it("expect and stats are composed from every module's subjects", () => {
    const steps = createStatisticsSteps(modules);
    const expectStep = steps.ops.expect!;
    const m = machine();
    const recorded: Array<[boolean, string]> = [];
    const ctx = {
      platform: m.platform,
      objects: m.objects,
      expect: (passed: boolean, message: string) => void recorded.push([passed, message]),
    } as never;
    const step = expectStep.schema.parse({ op: "expect", counter: "c0", count: 3 });
    expectStep.run(ctx, step);
    expectStep.run(ctx, expectStep.schema.parse({ op: "expect", counter: "c0", count: 4 }));
    expect(recorded).toEqual([
      [true, "c0.count = 3"],
      [false, "c0.count: expected 4, got 3"],
    ]);
    expect(expectStep.describe(step)).toBe("expect c0: count 3");
    const bare = expectStep.schema.safeParse({ op: "expect", counter: "c0" });
    expect(bare.success).toBe(false);
    const stats = steps.ops.stats!;
    const out = stats.run(ctx, stats.schema.parse({ op: "stats", counter: "c0" })) as {
      output: Record<string, unknown>;
    };
    expect(Object.keys(out.output)).toEqual(["targets", "store", "counters"]);
  });
});

describe("model errors carry the field at fault", () => {
  it("fail, within and inField build the field path; fieldPath maps it into a document", () => {
    const e = new MemweaveError("EINVAL", "bad", "pools.1.chunkSize");
    expect(e.field).toBe("pools.1.chunkSize");
    expect(e.within("allocator").field).toBe("allocator.pools.1.chunkSize");
    expect(new MemweaveError("EINVAL", "bad").within("tlb").field).toBe("tlb");
    try {
      inField("allocator", () => {
        throw e;
      });
    } catch (x) {
      expect((x as MemweaveError).field).toBe("allocator.pools.1.chunkSize");
      expect((x as MemweaveError).message).toBe(e.message);
    }
    expect(fieldPath(["machine", "targets", 0], e)).toEqual([
      "machine",
      "targets",
      0,
      "pools",
      1,
      "chunkSize",
    ]);
    expect(fieldPath(["x"], new MemweaveError("EINVAL", "no field"))).toEqual(["x"]);
  });

  it("the platform says which field of a region or target it refuses", () => {
    const field = (fn: () => unknown) => {
      try {
        fn();
      } catch (x) {
        return (x as MemweaveError).field;
      }
      return "no error";
    };
    const p = new Platform({
      regions: [{ name: "dram", base: 0x8000_0000, size: 16 << 20, kind: "ram" }],
    });
    expect(field(() => p.addRegion({ name: "dram", base: 0, size: 4096, kind: "ram" }))).toBe(
      "name",
    );
    expect(
      field(() => p.addRegion({ name: "x", base: 0x8000_1000, size: 4096, kind: "ram" })),
    ).toBe("base");
    const target = (spec: object) => () =>
      p.addTarget({ name: "t", allocator: { kind: "buddy" }, ranges: [], ...spec } as never);
    expect(field(target({ ranges: [{ region: "nope" }] }))).toBe("ranges.0.region");
    expect(
      field(
        target({
          allocator: { kind: "chunk-pool", pools: [{ chunkSize: 1 << 20, bytes: 32 << 20 }] },
          ranges: [{ region: "dram" }],
        }),
      ),
    ).toBe("allocator.pools");
    expect(
      field(
        target({
          allocator: { kind: "chunk-pool", pools: [{ chunkSize: 3000, bytes: 3000 }] },
          ranges: [{ region: "dram" }],
        }),
      ),
    ).toBe("allocator.pools.0.chunkSize");
    expect(errorCode(target({ ranges: [{ region: "nope" }] }))).toBe("ENOENT");
    expect(new MachineObjects().has(counterKind, "c0")).toBe(false);
  });
});
