export * from "./dev-attr.js";
export * from "./device-tree.js";
export * from "./driver.js";
