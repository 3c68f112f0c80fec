/**
 * memweave: an executable model of unified memory management for heterogeneous machines.
 *
 * The library entry re-exports each layer's public API, bottom up. Everything here is pure
 * (no Node built-ins) and runs in Node, browsers and workers; file loading lives in
 * `memweave/node`.
 *
 * @example
 * import { parseScenario, runScenario } from "memweave";
 * const parsed = parseScenario(text, "my.yaml");
 * if (parsed.ok) console.log(runScenario(parsed.scenario).expectations);
 */
export * from "./base/index.js";
export * from "./phys/index.js";
export * from "./mmu/index.js";
export * from "./devices/index.js";
export * from "./vcm/index.js";
export * from "./gmem/index.js";
export * from "./sim/index.js";
