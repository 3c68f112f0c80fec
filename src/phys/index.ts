export * from "./allocator.js";
export * from "./buddy.js";
export * from "./byte-store.js";
export * from "./chunk-pool.js";
export * from "./contiguous-pool.js";
export * from "./memory-map.js";
export * from "./target.js";
