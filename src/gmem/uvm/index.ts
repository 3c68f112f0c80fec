/**
 * uvm/ — NVIDIA UVM's policies on the GMEM core (kernel-open/nvidia-uvm; the reference
 * gmem-uvm.md §3), so the `gmem` and `uvm` policies (policy.ts) can be compared on one trace.
 *
 * A {@link Gmem} whose policy has a switch beyond the core's paths (`residency: "page"`,
 * `faultBatch` > 1, `prefetch: "tree"`, `thrashing`, `hints`) makes a {@link UvmEngine}
 * (engine.ts), which replaces the core's device and CPU fault paths and takes the core's hooks;
 * the plain `gmem` policy (and `eviction: "accessed"`) stays on the core's paths. Every switch
 * works alone and with either residency:
 *
 * - block.ts — the VA block's state: per 4 KiB page NOMAP / CPU / DEVICE, remote mappings,
 *   hints, thrashing state. Under `residency: "block"` every page of a block moves together.
 * - moves.ts, block-ops.ts — populate / move / map runs of pages through peer_map / peer_unmap /
 *   pmap_enter (bytes move for real); eviction still takes whole 2 MiB frames (UVM's root chunk).
 * - service.ts — one VA block's service: placement (hints, pins) -> prefetch -> make resident.
 * - prefetch.ts — the bitmap-tree prefetcher and 64 KiB big pages. thrashing.ts — detection and
 *   pinning. batch.ts — replayable fault batching. hints.ts — preferred location, accessed-by.
 *   hmemcpy.ts — hmemcpy over pieces.
 *
 * Counters ({@link GmemStats}) under each policy:
 *
 * | counter              | `gmem` (core paths)            | engine (`uvm`, any UVM switch)                          |
 * | -------------------- | ------------------------------ | ------------------------------------------------------- |
 * | `deviceFaults`       | device translation faults served or not | every device access to a page its device does not map; with batching counted when buffered (a duplicate too; a replay that faults again again) |
 * | `hostFaults`         | CPU accesses to a device-resident block | CPU accesses to a device-resident 4 KiB page     |
 * | `migrationsToDevice` / `migrationsToHost` | one per 2 MiB page moved | one per block, service and direction (the pieces moved together), an eviction one to the host |
 * | `bytesToDevice` / `bytesToHost` | 2 MiB per move          | the bytes of every piece moved (4 KiB pages, 64 KiB big pages, runs) |
 * | `evictions`          | 2 MiB frames evicted           | the same (all resident pieces of the block go home)     |
 * | `prefetchedPages`    | 2 MiB pages hmadvise PREFETCH made resident | residency page: 4 KiB pages the tree prefetcher (CPU or device faults) or PREFETCH populated or moved beyond the faulted ones; residency block: 2 MiB pages of PREFETCH |
 * | `thrashingEvents`    | 0                              | units (4 KiB pages; blocks under residency block) found thrashing |
 * | `deviceFirstTouches` / `cpuFirstTouches` | NOMAP blocks populated | services that populated NOMAP pages on a device / in host memory |
 *
 * The engine's own counters: {@link UvmStats} (`gmem.uvm.stats`: batches, entries, duplicates,
 * block services, remote mappings, unpins).
 *
 * With fault batching, a faulting device access through `Gmem.access` waits in its batch: a read's
 * bytes arrive in the returned buffer (and its `then` callback) when the batch is served — at a
 * CPU access, a full batch, or `gmem.flush()`, which a trace runner calls at its end.
 */
export { UvmEngine } from "./engine.js";
export type { UvmStats } from "./engine.js";
export { UvmBlock, PAGES, BIG, NOMAP, CPU, DEV } from "./block.js";
export type { Place, RemoteMap } from "./block.js";
export { prefetchPages } from "./prefetch.js";
export { Thrashing } from "./thrashing.js";
