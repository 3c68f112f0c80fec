export * from "./accelerator.js";
export * from "./bus-master.js";
export * from "./coherence.js";
export * from "./cpu.js";
export * from "./one-to-one.js";
export * from "./platform.js";
export * from "./registry.js";
export * from "./smmu.js";
