/**
 * The steps of physical memory: allocate from and free to memory targets, write, read, fill and
 * copy physical memory. (Checking and reporting the statistics of targets and the byte store is
 * `expect` and `stats`, in `statistics.ts`.)
 *
 * | op      | fields                                                              |
 * | ------- | ------------------------------------------------------------------- |
 * | alloc   | target, size, align?, contiguous?, chunkSizes?, as?                 |
 * | free    | alloc (a name bound by `as`)                                        |
 * | write   | addr, data                                                          |
 * | read    | addr, size and/or expect                                            |
 * | fill    | addr, size, value                                                   |
 * | copy    | from, to, size                                                      |
 *
 * Every operation goes through the {@link Platform}, so it is atomic (a failed step changes
 * nothing) and publishes its events on the platform bus.
 */
import { z } from "zod";

import { hex } from "../../../base/address.js";
import { describeChunks } from "../../../phys/allocator.js";
import type { AllocOptions, PhysAllocation } from "../../../phys/target.js";
import { isMemweaveError } from "../../../base/errors.js";
import { hexBytes, showSize } from "../format.js";
import { checkTarget } from "../machine/phys.js";
import { objectKind } from "../machine-module.js";
import type { StepModule } from "../step-module.js";
import { defineStep, PHYSICAL } from "../step-module.js";
import {
  addressSchema,
  allocationNameSchema,
  byteValueSchema,
  dataSchema,
  objectNameSchema,
  showAddress,
  sizeSchema,
} from "../values.js";

/** The kind under which `alloc ... as: name` binds its allocation. */
export const ALLOCATION = objectKind<PhysAllocation>("allocation");

/** Read data shown in a step's output: at most this many bytes. */
const OUTPUT_BYTES = 256;
/** Read data shown in a step's one-line summary: at most this many bytes. */
const SUMMARY_BYTES = 16;

const targetName = objectNameSchema.meta({ description: "The name of a memory target." });

function bytesWord(n: number): string {
  return n === 1 ? "1 byte" : `${n} bytes`;
}

function chunkSummary(chunks: PhysAllocation["chunks"]): string {
  if (chunks.length <= 4) return describeChunks(chunks);
  const bySize = new Map<number, number>();
  for (const c of chunks) bySize.set(c.size, (bySize.get(c.size) ?? 0) + 1);
  const sizes = [...bySize].map(([size, n]) => `${n}×${showSize(size)}`).join(" + ");
  return `${chunks.length} chunks (${sizes}), first ${hex(chunks[0]!.pa)}`;
}

const alloc = defineStep({
  schema: z
    .strictObject({
      op: z.literal("alloc"),
      target: targetName,
      size: sizeSchema.meta({ description: "Bytes to allocate." }),
      align: sizeSchema
        .refine((n) => n >= 4096 && 2 ** Math.round(Math.log2(n)) === n, {
          error: (issue) =>
            `expected an alignment that is a power of two >= 4K (4K, 64K, 1M, …), got ${typeof issue.input === "number" ? showSize(issue.input) : String(issue.input)}`,
        })
        .optional()
        .meta({
          description:
            "Alignment of the allocation (a power of two >= 4K; buddy, contiguous, and contiguous chunk-pool requests).",
        }),
      contiguous: z.boolean().optional().meta({
        description: "chunk-pool only: serve the request as one chunk from the contiguous pool.",
      }),
      chunkSizes: z
        .array(sizeSchema)
        .min(1, { error: "expected at least one chunk size" })
        .optional()
        .meta({ description: "chunk-pool only: the chunk sizes the request may use." }),
      as: allocationNameSchema
        .optional()
        .meta({ description: "A name for the allocation, for later steps (free, addresses)." }),
    })
    .meta({ title: "alloc", description: "Allocate physical memory from a memory target." }),
  describe(step) {
    const opts: string[] = [];
    if (step.align !== undefined) opts.push(`aligned to ${showSize(step.align)}`);
    if (step.contiguous === true) opts.push("contiguous");
    if (step.chunkSizes !== undefined)
      opts.push(`chunks of ${step.chunkSizes.map(showSize).join("/")}`);
    return (
      `alloc ${showSize(step.size)} from ${step.target}` +
      (opts.length > 0 ? ` (${opts.join(", ")})` : "") +
      (step.as !== undefined ? ` as ${step.as}` : "")
    );
  },
  check(step, machine) {
    try {
      checkTarget(machine, step.target);
      return [];
    } catch (e) {
      if (!isMemweaveError(e)) throw e;
      return [{ path: ["target"], message: e.detail }];
    }
  },
  names: (step) =>
    step.as !== undefined ? { binds: [{ path: ["as"], name: step.as, kind: ALLOCATION }] } : {},
  run(ctx, step) {
    if (step.as !== undefined) ctx.checkName(step.as);
    const options: AllocOptions = {};
    if (step.align !== undefined) options.align = step.align;
    if (step.contiguous !== undefined) options.contiguous = step.contiguous;
    if (step.chunkSizes !== undefined) options.chunkSizes = step.chunkSizes;
    const target = ctx.platform.target(step.target);
    const a = target.alloc(step.size, options);
    if (step.as !== undefined)
      ctx.bind(step.as, {
        kind: ALLOCATION,
        value: a,
        isLive: () => target.has(a.id),
        addresses: { [PHYSICAL]: a.chunks[0]!.pa },
      });
    return {
      summary: `${step.as ?? "allocation"} #${a.id}: ${chunkSummary(a.chunks)}`,
      output: {
        id: a.id,
        target: a.target,
        size: a.size,
        chunks: a.chunks.map((c) => ({ pa: c.pa, size: c.size })),
      },
    };
  },
});

const free = defineStep({
  schema: z
    .strictObject({
      op: z.literal("free"),
      alloc: allocationNameSchema.meta({ description: "The name of the allocation to free." }),
    })
    .meta({
      title: "free",
      description:
        "Free a named allocation. Freeing it again fails with EINVAL (unknown or already freed).",
    }),
  describe: (step) => `free ${step.alloc}`,
  names: (step) => ({ frees: [{ path: ["alloc"], name: step.alloc, kind: ALLOCATION }] }),
  run(ctx, step) {
    const a = ctx.lookup(step.alloc, ALLOCATION);
    ctx.platform.free(a);
    return {
      summary: `freed #${a.id} (${showSize(a.size)}) to ${a.target}`,
      output: { id: a.id, target: a.target, size: a.size },
    };
  },
});

const write = defineStep({
  schema: z
    .strictObject({
      op: z.literal("write"),
      addr: addressSchema,
      data: dataSchema,
    })
    .meta({ title: "write", description: "Write bytes to physical memory." }),
  describe: (step) => `write ${bytesWord(step.data.length)} at ${showAddress(step.addr)}`,
  run(ctx, step) {
    const pa = ctx.resolve(step.addr);
    ctx.platform.write(pa, step.data);
    return {
      summary: `${hexBytes(step.data, SUMMARY_BYTES)} at ${hex(pa)}`,
      output: { pa, size: step.data.length },
    };
  },
});

const read = defineStep({
  schema: z
    .strictObject({
      op: z.literal("read"),
      addr: addressSchema,
      size: sizeSchema
        .optional()
        .meta({ description: "Bytes to read (default: the length of expect)." }),
      expect: dataSchema.optional().meta({
        description: "The bytes the read must return (an expectation).",
      }),
    })
    .superRefine((step, ctx) => {
      if (step.size === undefined && step.expect === undefined)
        ctx.addIssue({
          code: "custom",
          path: ["size"],
          message: 'missing required key "size" (or "expect", whose length is the size)',
        });
      else if (
        step.size !== undefined &&
        step.expect !== undefined &&
        step.size !== step.expect.length
      )
        ctx.addIssue({
          code: "custom",
          path: ["size"],
          message: `size ${step.size} differs from the ${bytesWord(step.expect.length)} of expect`,
        });
    })
    .meta({
      title: "read",
      description: "Read bytes of physical memory, optionally expecting their value.",
    }),
  describe: (step) =>
    `read ${bytesWord(step.size ?? step.expect?.length ?? 0)} at ${showAddress(step.addr)}`,
  run(ctx, step) {
    const pa = ctx.resolve(step.addr);
    const size = step.size ?? step.expect!.length;
    const data = ctx.platform.read(pa, size);
    if (step.expect !== undefined) {
      const want = step.expect;
      const same = data.every((b, i) => b === want[i]);
      const what = `read ${bytesWord(size)} at ${showAddress(step.addr)}`;
      ctx.expect(
        same,
        same
          ? `${what} = ${hexBytes(want, SUMMARY_BYTES)}`
          : `${what}: expected ${hexBytes(want, SUMMARY_BYTES)}, got ${hexBytes(data, SUMMARY_BYTES)}`,
      );
    }
    const output: { [key: string]: string | number | boolean } = {
      pa,
      size,
      data: hexBytes(data.subarray(0, OUTPUT_BYTES)),
    };
    if (size > OUTPUT_BYTES) output.truncated = true;
    return { summary: hexBytes(data, SUMMARY_BYTES), output };
  },
});

const fill = defineStep({
  schema: z
    .strictObject({
      op: z.literal("fill"),
      addr: addressSchema,
      size: sizeSchema.meta({ description: "Bytes to fill." }),
      value: byteValueSchema,
    })
    .meta({ title: "fill", description: "Set a range of physical memory to a byte value." }),
  describe: (step) =>
    `fill ${showSize(step.size)} at ${showAddress(step.addr)} with ${hex(step.value)}`,
  run(ctx, step) {
    const pa = ctx.resolve(step.addr);
    ctx.platform.fill(pa, step.size, step.value);
    return { summary: `${showSize(step.size)} at ${hex(pa)}`, output: { pa, size: step.size } };
  },
});

const copy = defineStep({
  schema: z
    .strictObject({
      op: z.literal("copy"),
      from: addressSchema,
      to: addressSchema,
      size: sizeSchema.meta({ description: "Bytes to copy." }),
    })
    .meta({
      title: "copy",
      description: "Copy physical memory to physical memory (overlap is allowed, as memmove).",
    }),
  describe: (step) =>
    `copy ${showSize(step.size)} from ${showAddress(step.from)} to ${showAddress(step.to)}`,
  run(ctx, step) {
    const from = ctx.resolve(step.from);
    const to = ctx.resolve(step.to);
    ctx.platform.copy(to, from, step.size);
    return {
      summary: `${hex(from)} -> ${hex(to)}`,
      output: { from, to, size: step.size },
    };
  },
});

/** The physical-memory steps. */
export const physSteps: StepModule = {
  name: "phys",
  ops: { alloc, free, write, read, fill, copy },
};
