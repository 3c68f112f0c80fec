/**
 * The simulation layer (pure part): scenarios and their runner. The node-only part
 * (`sim/node/`, file loading) is exported separately, so that this stays browser-safe.
 */
export * from "./scenario/index.js";
