/**
 * Where the core reports what costs time. The cost model (cost.ts) implements it and adds up
 * simulated time; the core only says what happened, never how long it takes.
 *
 * - `farFault(who)`: a device fault served by the core (`who`: the device's name);
 * - `walk(who, levels, leafSize)`: a TLB miss walked `levels` descriptors to a leaf of
 *   `leafSize` bytes (`who`: `"cpu"` or a device's name);
 * - `migrate(bytes, from, to)`: bytes moved over a link, `"host"` <-> a device's name (every
 *   migration and eviction, and hmemcpy's copies);
 * - `remoteAccess(who, bytes)`: a device access to host memory (SHARE mode, REPLICATE reads and
 *   writes of host pages);
 * - `localAccess(who, bytes)`: every other access (the CPU to host memory, a device to its own).
 */
export interface GmemCostSink {
  farFault(who: string): void;
  walk(who: string, levels: number, leafSize: number): void;
  migrate(bytes: number, from: string, to: string): void;
  remoteAccess(who: string, bytes: number): void;
  localAccess(who: string, bytes: number): void;
}
