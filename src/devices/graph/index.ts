/** The platform graph: who can reach which memory, owners, checks, and the graph's export. */
export * from "./checks.js";
export * from "./export.js";
export * from "./owners.js";
export * from "./reverse-map.js";
