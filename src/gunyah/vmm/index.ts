/** The host's VM manager (seed 002). */
export * from "./vm-manager.js";
