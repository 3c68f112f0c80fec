/**
 * UVM's tree-based prefetcher (kernel-open/nvidia-uvm/uvm_perf_prefetch.c), over the 512 pages of
 * one 2 MiB VA block, for one service of faults moving pages to one destination:
 *
 * 1. The tree's leaves are the pages resident at the destination or faulted now.
 * 2. Big pages: every 64 KiB big page holding a faulted page is filled in the tree (it will move
 *    whole) unless a page in it is thrashing (`grow_fault_granularity`).
 * 3. For each faulted page that is not thrashing, the subtrees holding it are visited from its
 *    leaf to the root (sizes 1, 2, 4, ... 512 pages, aligned); the largest one whose
 *    resident-or-faulted pages exceed the threshold — `count * 100 > pages * threshold` — is
 *    prefetched (`compute_prefetch_region`).
 * 4. The faulted pages themselves and thrashing pages are not prefetch.
 *
 * The destination's already resident pages may be in the mask: moving them is nothing.
 *
 * @example
 * // A first fault on page 0 of an empty block, threshold 51: its big page (pages 1..15).
 * prefetchPages(new Uint8Array(512), [0], undefined, 51, out);
 */
import { BIG, PAGES } from "./block.js";

const tree = new Uint8Array(PAGES);
const prefix = new Int32Array(PAGES + 1);

/**
 * Fill `out` (512 entries, cleared first) with 1 for each page to prefetch. `resident`: 1 per page
 * resident at the destination; `faulted`: the faulted pages; `thrashing`: 1 per thrashing page.
 */
export function prefetchPages(
  resident: Uint8Array,
  faulted: readonly number[],
  thrashing: Uint8Array | undefined,
  threshold: number,
  out: Uint8Array,
): void {
  out.fill(0);
  tree.set(resident);
  for (const i of faulted) tree[i] = 1;
  for (const i of faulted) {
    const b = i - (i % BIG);
    let quiet = true;
    if (thrashing !== undefined)
      for (let k = b; k < b + BIG; k++) if (thrashing[k] === 1) quiet = false;
    if (quiet) tree.fill(1, b, b + BIG);
  }
  for (let i = 0; i < PAGES; i++) prefix[i + 1] = prefix[i]! + tree[i]!;
  for (const i of faulted) {
    if (thrashing?.[i] === 1) continue;
    let start = -1;
    let size = 0;
    for (let s = 1; s <= PAGES; s *= 2) {
      const first = i - (i % s);
      const count = prefix[first + s]! - prefix[first]!;
      if (count * 100 > s * threshold) {
        start = first;
        size = s;
      }
    }
    if (start >= 0) out.fill(1, start, start + size);
  }
  for (const i of faulted) out[i] = 0;
  if (thrashing !== undefined) for (let i = 0; i < PAGES; i++) if (thrashing[i] === 1) out[i] = 0;
}
