/**
 * The step registry: composes the step modules of every system into one `steps` schema (a
 * union discriminated by `op`) and finds the definition that runs a step.
 *
 * The registry adds `expectError` to every step's schema, so modules need not. Two modules
 * may not define the same op; a namespaced module's ops are all `<namespace>.<name>`, and only
 * namespaced modules have dotted ops (the machine's steps keep their plain names).
 *
 * @example
 * const registry = createStepRegistry([physSteps]);
 * registry.get("alloc")?.describe(step);
 */
import { z } from "zod";

import type { ErrorCode } from "../../base/errors.js";
import { fail } from "../../base/errors.js";
import type { StepDefinition, StepModule, StepSchema } from "./step-module.js";
import { errorCodeSchema } from "./values.js";

/** A validated step: its op, its optional expected error, and the module's fields. */
export interface ScenarioStep {
  readonly op: string;
  readonly expectError?: ErrorCode;
  readonly [field: string]: unknown;
}

export interface StepRegistry {
  /** The modules, in the order given. */
  readonly modules: readonly StepModule[];
  /** Every op, in module order. */
  readonly ops: readonly string[];
  /** The schema of one step: the union of every op's schema, discriminated by `op`. */
  readonly stepSchema: z.ZodType<ScenarioStep, unknown>;
  /** The definition of an op, or undefined. */
  get(op: string): StepDefinition | undefined;
  /** The module that defines an op, or undefined. */
  moduleOf(op: string): StepModule | undefined;
}

const expectErrorSchema = errorCodeSchema.optional().meta({
  description:
    "The step must fail with this error code; the step then counts as an expectation that passed (any other outcome fails it).",
});

/**
 * Compose step modules into a registry. EEXIST if two modules define the same op; EINVAL if an
 * op's key differs from its schema's `op` literal.
 */
export function createStepRegistry(modules: readonly StepModule[]): StepRegistry {
  const byOp = new Map<string, { definition: StepDefinition; module: StepModule }>();
  const options: StepSchema[] = [];
  for (const module of modules) {
    const ns = module.namespace;
    if (ns !== undefined && !/^[a-z][a-z0-9-]*$/.test(ns))
      fail("EINVAL", `step module "${module.name}": namespace "${ns}" is not a lower-case word`);
    for (const [op, definition] of Object.entries(module.ops)) {
      const literal: unknown = definition.schema.shape.op.value;
      if (literal !== op)
        fail("EINVAL", `step module "${module.name}": op "${op}" has schema op ${String(literal)}`);
      const dot = op.indexOf(".");
      if (ns === undefined && dot >= 0)
        fail(
          "EINVAL",
          `step module "${module.name}": op "${op}" is namespaced, but the module has no namespace`,
        );
      if (ns !== undefined && (op.slice(0, dot) !== ns || dot === op.length - 1))
        fail("EINVAL", `step module "${module.name}": op "${op}" is not "${ns}.<name>"`);
      const other = byOp.get(op);
      if (other !== undefined)
        fail(
          "EEXIST",
          `step op "${op}" is defined by both "${other.module.name}" and "${module.name}"`,
        );
      byOp.set(op, { definition, module });
      // extend() makes a new schema: carry the step's title and description over (not an id).
      const { id: _id, ...meta } = z.globalRegistry.get(definition.schema) ?? {};
      options.push(definition.schema.extend({ expectError: expectErrorSchema }).meta(meta));
    }
  }
  if (options.length === 0) fail("EINVAL", "a step registry needs at least one step module");
  const stepSchema = z.discriminatedUnion(
    "op",
    options as unknown as [StepSchema, ...StepSchema[]],
  ) as unknown as z.ZodType<ScenarioStep, unknown>;
  return {
    modules: [...modules],
    ops: [...byOp.keys()],
    stepSchema,
    get: (op) => byOp.get(op)?.definition,
    moduleOf: (op) => byOp.get(op)?.module,
  };
}
