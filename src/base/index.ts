export * from "./address.js";
export * from "./align.js";
export * from "./errors.js";
export * from "./events.js";
export * from "./lifetime.js";
export * from "./rng.js";
export * from "./size.js";
