/** The RM client: flows mirroring the Linux driver, and the in-process transport. */
export * from "./flow.js";
export * from "./in-process.js";
export * from "./linux.js";
