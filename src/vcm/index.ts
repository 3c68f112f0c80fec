/** The Virtual Contiguous Memory Manager (see README.md and docs/vcm.md). */
export * from "./attrs.js";
export * from "./association.js";
export * from "./bound.js";
export * from "./manager.js";
export * from "./map-target.js";
export * from "./physmem.js";
export * from "./reservation.js";
export * from "./vcm.js";
export * from "./smmu/index.js";
