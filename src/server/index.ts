/**
 * The server layer: the resource manager's binary protocol on a socket (`rm-endpoint.ts`), its
 * socket client (`rm-socket-client.ts`), the stream framing both use (`rm-framing.ts`) and the
 * endpoints' addresses (`rm-address.ts`).
 */
export * from "./rm-address.js";
export * from "./rm-endpoint.js";
export * from "./rm-framing.js";
export * from "./rm-socket-client.js";
