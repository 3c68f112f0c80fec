/** The node-only part of sim/: file access. */
export * from "./load-file.js";
