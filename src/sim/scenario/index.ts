/**
 * Scenarios: the file format (YAML or JSON), its validation with file:line:column errors, its
 * JSON Schema, the machine and step modules of each system, and the runner.
 */
export * from "./format.js";
export * from "./machine.js";
export * from "./machine-module.js";
export * from "./machine/phys.js";
export * from "./machine/translation.js";
export * from "./machine/translation-report.js";
export * from "./machine/vcm.js";
export * from "./parse.js";
export * from "./registry.js";
export * from "./run.js";
export * from "./schema.js";
export * from "./statistics.js";
export * from "./step-module.js";
export * from "./steps/index.js";
export * from "./values.js";
export type { Position } from "./locate.js";
