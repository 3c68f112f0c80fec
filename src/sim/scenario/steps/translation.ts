/**
 * The steps of translation: change the machine's page tables, make accesses through bus
 * masters (CPUs, SMMU masters, one-to-one devices, accelerators) with their faults as
 * expectations, probe translations, dump tables and TLBs, invalidate TLBs, and switch SMMU
 * contexts on and off.
 *
 * | op        | fields                                                                          |
 * | --------- | ------------------------------------------------------------------------------- |
 * | map       | table, va, pa, size, prot                                                       |
 * | unmap     | table, va, size, expectUnmapped?                                                |
 * | protect   | table, va, size, prot                                                           |
 * | access    | device, kind (read/write/exec), va, size?, data?, privileged?, expect?, expectFault? |
 * | translate | device or table, va, kind?, privileged?, expect?: { pa?, size?, fault? }       |
 * | dump      | table, or tlb (a device), or walk (a device) + va                               |
 * | tlbi      | device, all / asid / va + size / context                                        |
 * | smmu      | smmu, context, action (activate / deactivate)                                   |
 * | stream    | device, va, size, stride?, kind?, passes?, label?, expect?                      |
 *
 * Every page-table operation is atomic and keeps the TLBs coherent (the devices that use a
 * table are its flush targets), so an access after an unmap faults rather than hitting a stale
 * entry. Table and device names are checked when the scenario is loaded.
 *
 * Decisions:
 * - `access` with `expectFault` catches the fault: a matching fault is a passed expectation
 *   and the step is `ok`; success, another fault or another error is a failed expectation and
 *   the run goes on (as `expectError` does). `expectError: EFAULT` also works, less precisely.
 * - The output of an access gives the physical address and the TLB outcome of its first
 *   translation (as the `device.access` event does) and the number of translations it took.
 * - An address a device gives (access, translate and stream through a device, dump's walk) may
 *   name an object of an address space the device sees (a reservation of a VCM associated with
 *   it), else an allocation's physical address.
 * - `stream` reports the deltas of the master's statistics and its context's walks, and keeps
 *   a record in the machine's stream log (the run's Streams table).
 */
import { z } from "zod";

import { hex, hexRange } from "../../../base/address.js";
import type { MemweaveError } from "../../../base/errors.js";
import { fail, isMemweaveError } from "../../../base/errors.js";
import type { Json } from "../../../base/events.js";
import { AccessFaultError, faultToJson } from "../../../devices/bus-master.js";
import type { AccessOptions } from "../../../devices/bus-master.js";
import type { Fault } from "../../../mmu/regime.js";
import { describeTranslation } from "../../../mmu/dump.js";
import type { PageTable } from "../../../mmu/page-table.js";
import { formatAttributes, formatProt, PROT } from "../../../mmu/prot.js";
import type { Tlb } from "../../../mmu/tlb.js";
import { formatPerm } from "../../../mmu/tlb.js";
import { FAULT_NAMES, FAULT_NONE, geometryOf, walkTable, WalkOut } from "../../../mmu/walk.js";
import type { FaultKind } from "../../../mmu/walk.js";
import { hexBytes, showSize } from "../format.js";
import { pageTableDump, streamLog, tlbDump } from "../machine/translation-report.js";
import {
  busMasterNamed,
  checkReferences,
  regimeInfoOf,
  regimeOf,
  deviceNamed,
  PAGE_TABLE,
  pageTableNamed,
  smmuNamed,
} from "../machine/translation.js";
import type { BuiltMachine } from "../machine-module.js";
import { deviceAddressSpaces } from "../machine-module.js";
import type { StepContext, StepModule, StepProblem, StepReport } from "../step-module.js";
import { defineStep, PHYSICAL } from "../step-module.js";
import type { AddressExpr } from "../values.js";
import {
  addressSchema,
  countSchema,
  dataSchema,
  objectNameSchema,
  protSchema,
  showAddress,
  sizeSchema,
} from "../values.js";

/**
 * An input address of a table or a device, as written: a number, or an allocation name whose
 * physical address is taken as the input address (an identity map, a one-to-one device) — a
 * deliberate change of space, so the brand is dropped here.
 */
function tableInput(ctx: StepContext, address: AddressExpr): number {
  return ctx.resolve(address);
}

/**
 * An address a device gives: a number, or a name in one of the address spaces the device sees
 * (a reservation of a VCM associated with it: `res1 + 0x100`), else an allocation's physical
 * address (identity maps, one-to-one devices).
 */
function deviceInput(ctx: StepContext, device: string, address: AddressExpr): number {
  return ctx.resolve(address, [...deviceAddressSpaces(ctx.objects, device), PHYSICAL]);
}

/** Read data shown in a step's output: at most this many bytes. */
const OUTPUT_BYTES = 256;
/** Read data shown in a step's one-line summary: at most this many bytes. */
const SUMMARY_BYTES = 16;

const tableName = objectNameSchema.meta({
  description: "The name of a page table of the machine.",
});
const inputAddress = (description: string) => addressSchema.meta({ description });

const FAULT_KINDS = [
  "translation",
  "permission",
  "access-flag",
  "address-size",
] as const satisfies readonly FaultKind[];

/** What a fault must look like; unset fields match anything. */
const faultSchema = z
  .strictObject({
    kind: z.enum(FAULT_KINDS).meta({
      description:
        "translation: nothing mapped; permission: mapped without the right; access-flag: access flag clear; address-size: output beyond the output size.",
    }),
    stage: z.literal([1, 2]).optional().meta({ description: "The stage that faulted." }),
    level: z
      .number()
      .int()
      .min(0)
      .max(3)
      .optional()
      .meta({ description: "The architectural level the walk stopped at (lpae 0..3, v7s 1..2)." }),
    onTableWalk: z.boolean().optional().meta({
      description: "Stage 2 faulted while fetching a stage-1 table descriptor (nested walks).",
    }),
  })
  .meta({
    id: "Fault",
    description: "A translation fault to expect: its kind, and optionally its stage and level.",
  });
type FaultExpectation = z.output<typeof faultSchema>;

function showFaultExpectation(f: FaultExpectation): string {
  const where = [
    f.stage !== undefined ? `stage ${f.stage}` : undefined,
    f.level !== undefined ? `level ${f.level}` : undefined,
    f.onTableWalk === true ? "on a table walk" : undefined,
  ].filter((x) => x !== undefined);
  return `${f.kind} fault${where.length > 0 ? ` (${where.join(", ")})` : ""}`;
}

/** A fault as people read it: `permission fault, stage 1 level 2`. */
function showFault(f: Pick<Fault, "kind" | "stage" | "level" | "onTableWalk">): string {
  return `${f.kind} fault, stage ${f.stage} level ${f.level}${f.onTableWalk ? ", on a stage-1 table walk" : ""}`;
}

function faultMatches(
  want: FaultExpectation,
  got: Pick<Fault, "kind" | "stage" | "level" | "onTableWalk">,
): boolean {
  return (
    want.kind === got.kind &&
    (want.stage === undefined || want.stage === got.stage) &&
    (want.level === undefined || want.level === got.level) &&
    (want.onTableWalk === undefined || want.onTableWalk === got.onTableWalk)
  );
}

function bytesWord(n: number): string {
  return n === 1 ? "1 byte" : `${n} bytes`;
}

/** The leaves of `[va, va+size)` by size, after a map: `4×4K`, `1×1M`. */
function leavesIn(
  table: PageTable,
  va: number,
  size: number,
): Array<{ size: number; count: number }> {
  const bySize = new Map<number, number>();
  table.walk(
    { leaf: (l) => void bySize.set(l.size, (bySize.get(l.size) ?? 0) + 1) },
    va,
    va + size,
  );
  return [...bySize].sort((a, b) => a[0] - b[0]).map(([s, count]) => ({ size: s, count }));
}

function showLeafCounts(leaves: ReadonlyArray<{ size: number; count: number }>): string {
  return leaves.map((l) => `${l.count}×${showSize(l.size)}`).join(" + ") || "no leaves";
}

/**
 * The warning for a write-only `prot` on a stage-1 table: LPAE stage 1 and v7s have no
 * write-only permission (their AP bits give read always), so the mapping is readable and
 * writable. Stage 2 (S2AP) can express it.
 */
function protWidened(machine: BuiltMachine, name: string, prot: number): StepProblem[] {
  if (!machine.objects.has(PAGE_TABLE, name)) return [];
  const table = pageTableNamed(machine.objects, name);
  if (table.format.stage !== 1 || (prot & PROT.READ) !== 0 || (prot & PROT.WRITE) === 0) return [];
  return [
    {
      path: ["prot"],
      code: "prot-widened",
      severity: "warning",
      message: `write-only prot (${formatProt(prot)}) on page table "${name}" (${table.format.name}): a stage-1 format cannot express write-only, so the mapping is readable and writable (${formatProt(prot | PROT.READ)})`,
    },
  ];
}

const map = defineStep({
  schema: z
    .strictObject({
      op: z.literal("map"),
      table: tableName,
      va: inputAddress(
        "The input address of the mapping (VA, IOVA, or IPA for a stage-2 table): a number, or an allocation name (its physical address, for identity maps) plus or minus an offset.",
      ),
      pa: inputAddress(
        "The output address: physical (an allocation name works: buf, buf+4K), or an IPA for a guest's stage-1 table.",
      ),
      size: sizeSchema.meta({ description: "Bytes to map (a multiple of the smallest page)." }),
      prot: protSchema,
    })
    .meta({
      title: "map",
      description:
        "Map a range in a page table, choosing page sizes as Linux's iommu_map does (the largest the alignment of both addresses and the length allow). EEXIST if any part is mapped.",
    }),
  describe: (step) =>
    `map ${showSize(step.size)} at ${showAddress(step.va)} -> ${showAddress(step.pa)} (${formatProt(step.prot)}) in ${step.table}`,
  check: (step, machine) => [
    ...checkReferences(machine, [["table", "table", step.table]]),
    ...protWidened(machine, step.table, step.prot),
  ],
  run(ctx, step) {
    const table = pageTableNamed(ctx.objects, step.table);
    const va = tableInput(ctx, step.va);
    const pa = ctx.resolve(step.pa);
    table.map(va, pa, step.size, step.prot);
    const leaves = leavesIn(table, va, step.size);
    return {
      summary: `${hexRange(va, step.size)} -> ${hex(pa)}: ${showLeafCounts(leaves)}`,
      output: { table: step.table, va, pa, size: step.size, prot: formatProt(step.prot), leaves },
    };
  },
});

const unmap = defineStep({
  schema: z
    .strictObject({
      op: z.literal("unmap"),
      table: tableName,
      va: inputAddress("The first input address to unmap."),
      size: sizeSchema.meta({ description: "Bytes to unmap." }),
      expectUnmapped: sizeSchema.optional().meta({
        description:
          "The bytes the unmap must report (an expectation): less than size when it stops at a hole, as iommu_unmap does.",
      }),
    })
    .meta({
      title: "unmap",
      description:
        "Unmap a range of a page table (splitting a larger leaf partly inside, freeing emptied tables) and invalidate the TLBs that may hold it.",
    }),
  describe: (step) => `unmap ${showSize(step.size)} at ${showAddress(step.va)} in ${step.table}`,
  check: (step, machine) => checkReferences(machine, [["table", "table", step.table]]),
  run(ctx, step) {
    const table = pageTableNamed(ctx.objects, step.table);
    const va = tableInput(ctx, step.va);
    const unmapped = table.unmap(va, step.size);
    if (step.expectUnmapped !== undefined) {
      const want = step.expectUnmapped;
      const what = `unmap of ${showSize(step.size)} at ${hex(va)} in ${step.table}`;
      ctx.expect(
        unmapped === want,
        unmapped === want
          ? `${what} unmapped ${showSize(want)}`
          : `${what}: expected ${showSize(want)} unmapped, got ${showSize(unmapped)}`,
      );
    }
    return {
      summary: `unmapped ${showSize(unmapped)} of ${showSize(step.size)}`,
      output: { table: step.table, va, size: step.size, unmapped },
    };
  },
});

const protect = defineStep({
  schema: z
    .strictObject({
      op: z.literal("protect"),
      table: tableName,
      va: inputAddress("The first input address."),
      size: sizeSchema.meta({ description: "Bytes whose permissions change." }),
      prot: protSchema,
    })
    .meta({
      title: "protect",
      description:
        "Change the permissions of a mapped range (splitting leaves partly inside) and invalidate the TLBs that may hold it. ENOENT if part of it is not mapped.",
    }),
  describe: (step) =>
    `protect ${showSize(step.size)} at ${showAddress(step.va)} in ${step.table} as ${formatProt(step.prot)}`,
  check: (step, machine) => [
    ...checkReferences(machine, [["table", "table", step.table]]),
    ...protWidened(machine, step.table, step.prot),
  ],
  run(ctx, step) {
    const table = pageTableNamed(ctx.objects, step.table);
    const va = tableInput(ctx, step.va);
    table.protect(va, step.size, step.prot);
    return {
      summary: `${hexRange(va, step.size)} now ${formatProt(step.prot)}`,
      output: { table: step.table, va, size: step.size, prot: formatProt(step.prot) },
    };
  },
});

const ACCESS_KINDS = ["read", "write", "exec"] as const;

/** The outcome of an access with `expectFault` that failed with `error`. */
function faultOutcome(
  ctx: StepContext,
  what: string,
  want: FaultExpectation,
  error: MemweaveError,
  output: { [key: string]: Json },
): StepReport {
  if (!(error instanceof AccessFaultError)) {
    ctx.expect(false, `${what}: expected a ${showFaultExpectation(want)}, got ${error.message}`);
    return { summary: error.message, output: { ...output, error: error.message } };
  }
  const f = error.fault;
  const matches = faultMatches(want, f);
  ctx.expect(
    matches,
    matches
      ? `${what} faults: ${showFault(f)}`
      : `${what}: expected a ${showFaultExpectation(want)}, got ${showFault(f)}`,
  );
  return {
    summary: `${showFault(f)}${matches ? " (as expected)" : ""}`,
    output: { ...output, fault: { ...faultToJson(f) } },
  };
}

const access = defineStep({
  schema: z
    .strictObject({
      op: z.literal("access"),
      device: objectNameSchema.meta({
        description:
          "The bus master: a CPU, an SMMU master (by its own name), a one-to-one device or an accelerator.",
      }),
      kind: z.enum(ACCESS_KINDS).meta({
        description:
          "read, write, or exec (an instruction fetch: a read that needs execute permission).",
      }),
      va: inputAddress(
        "The device's address: virtual (an IOVA for an SMMU master), or physical for a one-to-one device (an allocation name works).",
      ),
      size: sizeSchema.optional().meta({
        description: "Bytes to read (default: the length of expect; 1 with only expectFault).",
      }),
      data: dataSchema.optional().meta({ description: "write: the bytes to write." }),
      privileged: z.boolean().optional().meta({
        description:
          "Privileged (kernel) or not (user); default: the device's (CPUs privileged, devices not).",
      }),
      expect: dataSchema
        .optional()
        .meta({ description: "read: the bytes it must return (an expectation)." }),
      expectFault: faultSchema.optional().meta({
        description: "The access must fault like this (an expectation); it then changes nothing.",
      }),
    })
    .superRefine((step, ctx) => {
      const issue = (path: string, message: string) =>
        ctx.addIssue({ code: "custom", path: [path], message });
      if (step.kind === "write") {
        if (step.data === undefined)
          issue("data", 'missing required key "data" (a write writes data)');
        if (step.expect !== undefined)
          issue("expect", "expect is for reads (a write returns nothing)");
        if (step.size !== undefined && step.data !== undefined && step.size !== step.data.length)
          issue(
            "size",
            `size ${step.size} differs from the ${bytesWord(step.data.length)} of data`,
          );
      } else {
        if (step.data !== undefined)
          issue("data", `data is for writes (this access is a ${step.kind})`);
        if (step.size === undefined && step.expect === undefined && step.expectFault === undefined)
          issue("size", 'missing required key "size" (or "expect", whose length is the size)');
        if (
          step.size !== undefined &&
          step.expect !== undefined &&
          step.size !== step.expect.length
        )
          issue(
            "size",
            `size ${step.size} differs from the ${bytesWord(step.expect.length)} of expect`,
          );
      }
      if (step.expect !== undefined && step.expectFault !== undefined)
        issue("expectFault", "expect and expectFault exclude each other");
    })
    .meta({
      title: "access",
      description:
        "Read, write or fetch through a bus master: translated by its MMU or SMMU context (TLB, then a walk), with faults delivered as the hardware would. The output shows the physical address, the TLB outcome and any fault.",
    }),
  describe(step) {
    const n = step.kind === "write" ? step.data!.length : (step.size ?? step.expect?.length ?? 1);
    const priv =
      step.privileged === undefined ? "" : step.privileged ? "privileged " : "unprivileged ";
    return `${step.device}: ${priv}${step.kind} ${bytesWord(n)} at ${showAddress(step.va)}`;
  },
  check: (step, machine) => checkReferences(machine, [["device", "bus master", step.device]]),
  run(ctx, step) {
    const master = busMasterNamed(ctx.platform, step.device);
    const va = deviceInput(ctx, step.device, step.va);
    const size =
      step.kind === "write" ? step.data!.length : (step.size ?? step.expect?.length ?? 1);
    const what = `${step.device} ${step.kind} of ${bytesWord(size)} at ${hex(va)}`;
    const opts: AccessOptions = { exec: step.kind === "exec" };
    if (step.privileged !== undefined) opts.privileged = step.privileged;

    let first: { pa: number; tlb: string; chunks: number } | undefined;
    const off = ctx.platform.bus.on("device.access", (e) => {
      if (e.master === master.name) first = { pa: e.pa, tlb: e.tlb, chunks: e.chunks };
    });
    const output: { [key: string]: Json } = { device: step.device, kind: step.kind, va, size };
    const want = step.expectFault;
    let data: Uint8Array | undefined;
    try {
      if (step.kind === "write") master.write(va, step.data!, opts);
      else data = master.read(va, size, opts);
    } catch (e) {
      // Without expectFault the runner decides (expectError, or the run stops).
      if (want === undefined || !isMemweaveError(e)) throw e;
      return faultOutcome(ctx, what, want, e, output);
    } finally {
      off.dispose();
    }

    if (first !== undefined) {
      output.pa = first.pa;
      output.tlb = first.tlb;
      output.chunks = first.chunks;
    }
    const where =
      first !== undefined
        ? `${hex(va)} -> ${hex(first.pa)}${first.tlb === "none" ? "" : `, TLB ${first.tlb}`}`
        : hex(va);
    if (want !== undefined) {
      ctx.expect(false, `${what}: expected a ${showFaultExpectation(want)}, but it succeeded`);
      return { summary: `${where}: no fault`, output };
    }
    if (data === undefined) return { summary: where, output };
    if (step.expect !== undefined) {
      const expected = step.expect;
      const same = data.every((b, i) => b === expected[i]);
      ctx.expect(
        same,
        same
          ? `${what} = ${hexBytes(expected, SUMMARY_BYTES)}`
          : `${what}: expected ${hexBytes(expected, SUMMARY_BYTES)}, got ${hexBytes(data, SUMMARY_BYTES)}`,
      );
    }
    output.data = hexBytes(data.subarray(0, OUTPUT_BYTES));
    if (size > OUTPUT_BYTES) output.truncated = true;
    return { summary: `${where}: ${hexBytes(data, SUMMARY_BYTES)}`, output };
  },
});

/** What a translation probe found. */
type Probe =
  | { ok: true; pa: number; size: number; perm: string; hit?: boolean; attributes?: string }
  | { ok: false; fault: { kind: FaultKind; stage: 1 | 2; level: number; onTableWalk: boolean } };

/** A walk of a page table alone, as `iova_to_phys` does: no permissions, no TLB. */
function probeTable(table: PageTable, va: number): Probe {
  const f = table.format;
  const out = new WalkOut();
  const code = walkTable(f, geometryOf(f), table.memory, table.root, va, out);
  const level = f.levels[out.levelIndex]!.level;
  if (code !== FAULT_NONE)
    return {
      ok: false,
      fault: { kind: FAULT_NAMES[code] as FaultKind, stage: f.stage, level, onTableWalk: false },
    };
  return {
    ok: true,
    pa: out.pa,
    size: out.size,
    perm: formatPerm(out.perm),
    attributes: formatAttributes(f.attributes(out.levelIndex, out.lo, out.hi)),
  };
}

const translate = defineStep({
  schema: z
    .strictObject({
      op: z.literal("translate"),
      device: objectNameSchema.optional().meta({
        description:
          "Probe through this bus master's translation (TLB and walk, with permissions).",
      }),
      table: tableName
        .optional()
        .meta({ description: "Or walk this page table alone (no TLB, no permissions)." }),
      va: inputAddress("The input address to translate."),
      kind: z
        .enum(ACCESS_KINDS)
        .optional()
        .meta({ description: "device: the access whose permission is checked (default read)." }),
      privileged: z
        .boolean()
        .optional()
        .meta({ description: "device: its privilege (default: the device's)." }),
      expect: z
        .strictObject({
          pa: addressSchema.optional().meta({ description: "The output address it must give." }),
          size: sizeSchema.optional().meta({
            description: "The size of the translation (the leaf; nested: the smaller one).",
          }),
          fault: faultSchema.optional(),
        })
        .optional()
        .meta({ description: "What the translation must be; each key is an expectation." }),
    })
    .superRefine((step, ctx) => {
      if ((step.device === undefined) === (step.table === undefined))
        ctx.addIssue({
          code: "custom",
          path: step.device === undefined ? [] : ["table"],
          message: 'expected either "device" or "table" (one of them)',
        });
      if (step.table !== undefined)
        for (const key of ["kind", "privileged"] as const)
          if (step[key] !== undefined)
            ctx.addIssue({
              code: "custom",
              path: [key],
              message: `${key} is for a device (a table alone checks no permissions)`,
            });
      const e = step.expect;
      if (e?.fault !== undefined && (e.pa !== undefined || e.size !== undefined))
        ctx.addIssue({
          code: "custom",
          path: ["expect", "fault"],
          message: "a fault excludes pa and size",
        });
    })
    .meta({
      title: "translate",
      description:
        "Probe a translation without fault handlers or data: through a device (a real lookup: it counts in the TLB and may fill it) or a table alone.",
    }),
  describe: (step) => `translate ${showAddress(step.va)} through ${step.device ?? step.table!}`,
  check: (step, machine) =>
    checkReferences(machine, [
      ["device", "bus master", step.device],
      ["table", "table", step.table],
    ]),
  run(ctx, step) {
    const va =
      step.device !== undefined ? deviceInput(ctx, step.device, step.va) : tableInput(ctx, step.va);
    const wantPa = step.expect?.pa !== undefined ? ctx.resolve(step.expect.pa) : undefined;
    let probe: Probe;
    if (step.device !== undefined) {
      const master = busMasterNamed(ctx.platform, step.device);
      const opts: { kind?: "read" | "write" | "exec"; privileged?: boolean } = {};
      if (step.kind !== undefined) opts.kind = step.kind;
      if (step.privileged !== undefined) opts.privileged = step.privileged;
      const r = master.translate(va, opts);
      probe = r.ok
        ? { ok: true, pa: r.pa, size: r.size, perm: formatPerm(r.perm), hit: r.hit }
        : { ok: false, fault: r.fault };
    } else {
      probe = probeTable(pageTableNamed(ctx.objects, step.table!), va);
    }
    const through = step.device ?? step.table!;
    const what = `${hex(va)} through ${through}`;
    const e = step.expect;
    if (probe.ok) {
      if (wantPa !== undefined)
        ctx.expect(
          probe.pa === wantPa,
          probe.pa === wantPa
            ? `${what} -> ${hex(wantPa)}`
            : `${what}: expected ${hex(wantPa)}, got ${hex(probe.pa)}`,
        );
      if (e?.size !== undefined)
        ctx.expect(
          probe.size === e.size,
          probe.size === e.size
            ? `${what}: a ${showSize(e.size)} translation`
            : `${what}: expected a ${showSize(e.size)} translation, got ${showSize(probe.size)}`,
        );
      if (e?.fault !== undefined)
        ctx.expect(
          false,
          `${what}: expected a ${showFaultExpectation(e.fault)}, got ${hex(probe.pa)}`,
        );
      const hit = probe.hit === undefined ? "" : probe.hit ? ", TLB hit" : ", TLB miss";
      const output: { [key: string]: Json } = {
        va,
        pa: probe.pa,
        size: probe.size,
        perm: probe.perm,
      };
      if (probe.hit !== undefined) output.hit = probe.hit;
      if (probe.attributes !== undefined) output.attributes = probe.attributes;
      return {
        summary: `${hex(va)} -> ${hex(probe.pa)} (${showSize(probe.size)}, ${probe.attributes ?? probe.perm}${hit})`,
        output,
      };
    }
    const f = probe.fault;
    if (e?.fault !== undefined) {
      const matches = faultMatches(e.fault, f);
      ctx.expect(
        matches,
        matches
          ? `${what}: ${showFault(f)}`
          : `${what}: expected a ${showFaultExpectation(e.fault)}, got ${showFault(f)}`,
      );
    }
    if (wantPa !== undefined || e?.size !== undefined)
      ctx.expect(false, `${what}: expected a translation, got a ${showFault(f)}`);
    return {
      summary: showFault(f),
      output: {
        va,
        fault: { kind: f.kind, stage: f.stage, level: f.level, onTableWalk: f.onTableWalk },
      },
    };
  },
});

const dump = defineStep({
  schema: z
    .strictObject({
      op: z.literal("dump"),
      table: tableName
        .optional()
        .meta({ description: "Dump this page table: every table and leaf, with descriptors." }),
      tlb: objectNameSchema.optional().meta({
        description:
          "Dump the TLB of this device (a CPU, accelerator, SMMU, or SMMU master: its SMMU's).",
      }),
      walk: objectNameSchema.optional().meta({
        description:
          "Show the walk of va through this device's translation, descriptor by descriptor.",
      }),
      va: inputAddress("walk: the address to walk.").optional(),
    })
    .superRefine((step, ctx) => {
      const given = (["table", "tlb", "walk"] as const).filter((k) => step[k] !== undefined);
      if (given.length !== 1)
        ctx.addIssue({
          code: "custom",
          path: given.length > 1 ? [given[1]!] : [],
          message: 'expected one of "table", "tlb" or "walk"',
        });
      if (step.walk !== undefined && step.va === undefined)
        ctx.addIssue({
          code: "custom",
          path: ["va"],
          message: 'missing required key "va" (the address to walk)',
        });
      if (step.walk === undefined && step.va !== undefined)
        ctx.addIssue({ code: "custom", path: ["va"], message: "va is for walk" });
    })
    .meta({
      title: "dump",
      description:
        "Record a dump for people: a page table (dumpPageTable), a TLB (formatTlb), or the walk of one address (who maps it, through which descriptors).",
    }),
  describe(step) {
    if (step.table !== undefined) return `dump page table ${step.table}`;
    if (step.tlb !== undefined) return `dump the TLB of ${step.tlb}`;
    return `walk ${showAddress(step.va!)} through ${step.walk!}`;
  },
  check: (step, machine) =>
    checkReferences(machine, [
      ["table", "table", step.table],
      ["tlb", "tlb", step.tlb],
      ["walk", "translating", step.walk],
    ]),
  run(ctx, step): StepReport {
    if (step.table !== undefined) {
      const d = pageTableDump(step.table, ctx.objects.get(PAGE_TABLE, step.table));
      return {
        summary: d.stats,
        output: { table: d.name, format: d.format, root: d.root, leaves: d.leaves.length },
        blocks: [
          {
            title: `page table ${d.name} (${d.format}, target ${d.target})`,
            text: `${d.text}\n${d.stats}`,
          },
        ],
      };
    }
    if (step.tlb !== undefined) {
      const d = tlbDump(ctx.platform, step.tlb);
      const valid = d.entries.length;
      return {
        summary: `${d.tlb}: ${valid} valid entr${valid === 1 ? "y" : "ies"}`,
        output: { device: d.device, tlb: d.tlb, valid },
        blocks: [{ title: `TLB of ${d.device}`, text: d.text }],
      };
    }
    const context = regimeOf(ctx.platform, step.walk!);
    const va = deviceInput(ctx, step.walk!, step.va!);
    const text = describeTranslation(context, va);
    const last = text.split("\n").at(-1)!.trim();
    return {
      summary: last,
      output: { device: step.walk!, va },
      blocks: [{ title: `walk of ${hex(va)} through ${step.walk!}`, text }],
    };
  },
});

/** The entries invalidations removed from a TLB so far. */
function invalidated(tlb: Tlb): number {
  return tlb.stats().invalidatedEntries;
}

const tlbi = defineStep({
  schema: z
    .strictObject({
      op: z.literal("tlbi"),
      device: objectNameSchema.meta({
        description:
          "A CPU or accelerator (its TLB), an SMMU (its shared TLB), or an SMMU master (its context's entries).",
      }),
      all: z
        .literal(true)
        .optional()
        .meta({ description: "Every entry of the TLB (TLBI ALLE1, SMMU TLBIALL)." }),
      asid: z.number().int().min(0).max(0xffff).optional().meta({
        description:
          "CPU, accelerator: the non-global entries of this ASID (TLBI ASIDE1); with va and size, that ASID's range.",
      }),
      context: objectNameSchema
        .optional()
        .meta({ description: "SMMU: the entries of this context bank (TLBIASID / TLBIVMID)." }),
      va: inputAddress("With size: only entries overlapping the range (TLBI VAE1).").optional(),
      size: sizeSchema.optional().meta({ description: "With va: the range's size." }),
    })
    .superRefine((step, ctx) => {
      const issue = (path: string[], message: string) =>
        ctx.addIssue({ code: "custom", path, message });
      if ((step.va === undefined) !== (step.size === undefined))
        issue([step.va === undefined ? "va" : "size"], "va and size go together");
      if (
        step.all === true &&
        (step.asid !== undefined || step.context !== undefined || step.va !== undefined)
      )
        issue(["all"], "all excludes asid, context, va and size");
      if (
        step.all === undefined &&
        step.asid === undefined &&
        step.context === undefined &&
        step.va === undefined
      )
        issue([], 'expected what to invalidate: "all", "asid", "context", or "va" and "size"');
    })
    .meta({
      title: "tlbi",
      description:
        "Invalidate TLB entries, as the TLBI instructions and SMMU commands do (page-table changes do it by themselves; this is for teaching and for stale-entry experiments).",
    }),
  describe(step) {
    const what = step.all
      ? "every entry"
      : [
          step.context !== undefined ? `context ${step.context}` : undefined,
          step.asid !== undefined ? `asid ${step.asid}` : undefined,
          step.va !== undefined ? `${showAddress(step.va)}+${showSize(step.size ?? 0)}` : undefined,
        ]
          .filter((x) => x !== undefined)
          .join(", ");
    return `tlbi ${step.device}: ${what}`;
  },
  check: (step, machine) => checkReferences(machine, [["device", "tlb", step.device]]),
  run(ctx, step) {
    const d = deviceNamed(ctx.platform, step.device);
    const caps = d.capabilities();
    const va = step.va !== undefined ? tableInput(ctx, step.va) : undefined;
    const own = caps.masters.some((m) => m.name === d.name);
    const bank = own ? caps.regimes[0]?.contextBank : undefined;
    const iommu = !own && caps.regimes.some((r) => r.contextBank !== undefined);
    if (!iommu && bank === undefined) {
      // A CPU or an accelerator: a TLB of its own, tagged by its regime's ASID and VMID.
      const r = caps.regimes[0];
      const t = caps.tlbs[0];
      if (r === undefined || t === undefined)
        fail("EINVAL", `device "${d.name}" is a ${d.kind}: it has no TLB`);
      if (step.context !== undefined)
        fail("EINVAL", `${d.name} is a ${d.kind}: context is for SMMUs (use asid)`);
      const tlb = t.tlb;
      const before = invalidated(tlb);
      const { asid, vmid } = r.regime;
      if (step.all === true) t.all();
      else if (va !== undefined) tlb.invalidateRange(va, step.size!, step.asid ?? asid, vmid);
      else tlb.invalidateAsid(step.asid ?? asid, vmid);
      return tlbiReport(tlb, before);
    }
    // An SMMU, or a master behind one: the shared TLB, by context bank.
    const shared = iommu ? caps.tlbs[0]! : caps.regimes[0]!.tlb!;
    const smmu = smmuNamed(ctx.platform, shared.owner);
    if (step.asid !== undefined)
      fail(
        "EINVAL",
        `${step.device}: asid is for CPUs and accelerators (name a context of ${smmu.name})`,
      );
    const tlb = shared.tlb;
    const before = invalidated(tlb);
    if (step.all === true) {
      shared.all();
      return tlbiReport(tlb, before);
    }
    const context =
      step.context !== undefined
        ? smmu.contextBank(step.context)
        : bank !== undefined
          ? smmu.contextBank(bank.name)
          : fail("EINVAL", `${smmu.name}: name a context (or all: true)`);
    if (va !== undefined) tlb.invalidateRange(va, step.size!, context.asid, context.vmid);
    else context.invalidateAll();
    return tlbiReport(tlb, before);
  },
});

function tlbiReport(tlb: Tlb, before: number) {
  const n = invalidated(tlb) - before;
  return {
    summary: `${tlb.name}: ${n} entr${n === 1 ? "y" : "ies"} removed, ${tlb.stats().valid} left`,
    output: { tlb: tlb.name, removed: n, valid: tlb.stats().valid },
  };
}

const smmu = defineStep({
  schema: z
    .strictObject({
      op: z.literal("smmu"),
      smmu: objectNameSchema.meta({ description: "The SMMU." }),
      context: objectNameSchema.meta({ description: "One of its context banks." }),
      action: z.enum(["activate", "deactivate"]).meta({
        description:
          "activate: translation on (SCTLR.M = 1; EBUSY if active); deactivate: every access faults (ENOENT if not active).",
      }),
    })
    .meta({
      title: "smmu",
      description:
        "Activate or deactivate an SMMU context bank (VCM's vcm_activate / vcm_deactivate).",
    }),
  describe: (step) => `${step.action} context ${step.context} of ${step.smmu}`,
  check: (step, machine) => checkReferences(machine, [["smmu", "smmu", step.smmu]]),
  run(ctx: StepContext, step) {
    const context = smmuNamed(ctx.platform, step.smmu).contextBank(step.context);
    if (step.action === "activate") context.activate();
    else context.deactivate();
    return {
      summary: `${context.regime.name} ${context.active ? "active" : "inactive"}${context.bound ? "" : " (unbound: every access faults)"}`,
      output: {
        smmu: step.smmu,
        context: step.context,
        active: context.active,
        bound: context.bound,
      },
    };
  },
});

/** The most accesses one stream step may make (passes included). */
const MAX_STREAM_ACCESSES = 1 << 22;
/** Bytes of each access of a stream. */
const STREAM_ACCESS = 4;

const STREAM_COUNTERS = ["accesses", "tlbHits", "tlbMisses", "walks", "descriptorReads"] as const;
type StreamCounter = (typeof STREAM_COUNTERS)[number];

const stream = defineStep({
  schema: z
    .strictObject({
      op: z.literal("stream"),
      device: objectNameSchema.meta({
        description:
          "The bus master: a CPU, an SMMU master, a one-to-one device or an accelerator.",
      }),
      va: inputAddress(
        "The first address, as the device sees it (a reservation of a VCM associated with it works: res1).",
      ),
      size: sizeSchema.meta({ description: "Bytes of the range streamed over." }),
      stride: sizeSchema
        .optional()
        .meta({ description: "Bytes from one access to the next (default 64: a cache line)." }),
      kind: z
        .enum(["read", "write"])
        .optional()
        .meta({ description: "read (default) or write (each writes its offset, 4 bytes LE)." }),
      passes: countSchema
        .optional()
        .meta({ description: "Times the range is streamed over (default 1)." }),
      label: z
        .string()
        .min(1)
        .optional()
        .meta({ description: "Its name in the Streams table (default: stream <n>)." }),
      expect: z
        .strictObject(
          Object.fromEntries(
            STREAM_COUNTERS.map((k) => [
              k,
              countSchema.optional().meta({ description: `The ${k} it must cause.` }),
            ]),
          ) as Record<StreamCounter, z.ZodOptional<typeof countSchema>>,
        )
        .optional()
        .meta({ description: "What the stream must cause; each key is one expectation." }),
    })
    .superRefine((step, ctx) => {
      const issue = (path: string, message: string) =>
        ctx.addIssue({ code: "custom", path: [path], message });
      if (step.size === 0) issue("size", "expected a size of at least 1 byte");
      if (step.stride === 0) issue("stride", "expected a stride of at least 1 byte");
      if (step.passes === 0) issue("passes", "expected at least 1 pass");
      const n = Math.ceil(step.size / (step.stride ?? 64)) * (step.passes ?? 1);
      if (n > MAX_STREAM_ACCESSES)
        issue(
          "size",
          `${n} accesses: at most ${MAX_STREAM_ACCESSES} per stream (use a larger stride)`,
        );
    })
    .meta({
      title: "stream",
      description:
        "Stream over a range through a bus master: one 4-byte access every stride bytes, in order; reports the accesses, TLB hits and misses, walks and descriptor reads they caused (a row of the run's Streams table).",
    }),
  describe: (s) =>
    `${s.device}: stream ${s.kind ?? "read"} ${showSize(s.size)} at ${showAddress(s.va)} every ${showSize(s.stride ?? 64)}${(s.passes ?? 1) > 1 ? `, ${s.passes} passes` : ""}`,
  check: (step, machine) => checkReferences(machine, [["device", "bus master", step.device]]),
  run(ctx, step) {
    const master = busMasterNamed(ctx.platform, step.device);
    const va = deviceInput(ctx, step.device, step.va);
    const stride = step.stride ?? 64;
    const passes = step.passes ?? 1;
    const kind = step.kind ?? "read";
    let regime: { walks: number; descriptorReads: number } | undefined;
    try {
      regime = regimeInfoOf(ctx.platform, step.device).regime.stats;
    } catch (e) {
      if (!isMemweaveError(e)) throw e; // a one-to-one device: no walks
    }
    const counters = () => ({
      accesses: master.stats.reads + master.stats.writes,
      tlbHits: master.stats.tlbHits,
      tlbMisses: master.stats.tlbMisses,
      walks: regime?.walks ?? 0,
      descriptorReads: regime?.descriptorReads ?? 0,
    });
    const before = counters();
    const end = va + step.size;
    const buf = new Uint8Array(STREAM_ACCESS);
    const view = new DataView(buf.buffer);
    for (let p = 0; p < passes; p++)
      for (let a = va; a < end; a += stride) {
        const n = Math.min(STREAM_ACCESS, end - a);
        const data = n === STREAM_ACCESS ? buf : buf.subarray(0, n);
        if (kind === "read") master.readInto(a, data);
        else {
          view.setUint32(0, (a - va) >>> 0, true);
          master.write(a, data);
        }
      }
    const after = counters();
    const delta = Object.fromEntries(
      STREAM_COUNTERS.map((k) => [k, after[k] - before[k]]),
    ) as Record<StreamCounter, number>;
    const log = streamLog(ctx.objects);
    const label = step.label ?? `stream ${log.length + 1}`;
    log.push({ label, device: step.device, va, size: step.size, stride, kind, passes, ...delta });
    for (const k of STREAM_COUNTERS) {
      const want = step.expect?.[k];
      if (want === undefined) continue;
      ctx.expect(
        want === delta[k],
        want === delta[k]
          ? `${label}: ${want} ${k}`
          : `${label}: expected ${want} ${k}, got ${delta[k]}`,
      );
    }
    return {
      summary: `${label}: ${delta.accesses} accesses, ${delta.tlbMisses} TLB misses, ${delta.walks} walks, ${delta.descriptorReads} descriptor reads`,
      output: { label, device: step.device, va, size: step.size, stride, kind, passes, ...delta },
    };
  },
});

/** The translation steps. */
export const translationSteps: StepModule = {
  name: "translation",
  ops: { map, unmap, protect, access, translate, dump, tlbi, smmu, stream },
};
