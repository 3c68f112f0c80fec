/**
 * A VA block's state under the uvm engine (UVM's `uvm_va_block_t`, reduced): the residency of
 * each of its 512 pages of 4 KiB, the host memory's remote mappings on devices, the hints and the
 * thrashing state. It is the {@link GmPieces} of the block's {@link GmMapping}.
 *
 * Residency: each page is NOMAP, CPU (its bytes in the block's host page at the page's offset,
 * mapped on the CPU) or DEVICE (in the block's device frame at the page's offset, on `m.dev`,
 * mapped there). A block has a host page while a page is CPU and a device frame while a page is
 * DEVICE; its device pages are on one device at a time (the frame's). The block-level state the
 * core reads is DEVICE while there is a frame, else CPU while there is a host page, else NOMAP.
 *
 * Remote mappings: a device's table may map host pages of the block (accessed-by, a host
 * preferred location, a thrashing pin); `remote` records them per device context.
 */
import type { GmDev } from "../device.js";
import type { GmPmap } from "../mmu.js";
import type { GmProcess } from "../process.js";
import { GM_PAGE, HPAGE, PAGE } from "../types.js";
import type { GmMapping, GmPieces } from "../vm-object.js";

/** Pages of 4 KiB in a VA block. */
export const PAGES = HPAGE / PAGE;
/** Pages in a 64 KiB big page. */
export const BIG = 16;

export const NOMAP = 0;
export const CPU = 1;
export const DEV = 2;

/** A device context's remote mappings of host pages in one block. */
export interface RemoteMap {
  readonly dev: GmDev;
  readonly pmap: GmPmap;
  /** Per page: 1 if the device maps the host page remotely. */
  readonly mask: Uint8Array;
}

/** Where a page should live: host memory (`"host"`) or a device. */
export type Place = GmDev | "host";

/** Per-page thrashing state (uvm_perf_thrashing.c's page_thrashing_info_t, reduced). */
export interface ThrashState {
  /** Simulated ns of the unit's last migration (-1: none). */
  readonly last: Float64Array;
  /** Thrashing events in a row. */
  readonly events: Uint8Array;
  /** Pinned until this simulated ns (0: not pinned). */
  readonly pinnedUntil: Float64Array;
}

export class UvmBlock implements GmPieces {
  readonly pieceSize = PAGE;
  readonly state = new Uint8Array(PAGES);
  /** Pages in state CPU and DEVICE. */
  nCpu = 0;
  nDev = 0;
  remote: RemoteMap[] = [];
  /** Per page: the preferred location (undefined: none). */
  preferred: Array<Place | undefined> | undefined = undefined;
  /** Per device: 1 per page it is to keep mapped (accessed-by). */
  accessedBy: Map<GmDev, Uint8Array> | undefined = undefined;
  thrash: ThrashState | undefined = undefined;
  /** The process whose block it is (set by the engine's first service or hint). */
  owner: GmProcess | undefined = undefined;

  set(i: number, s: number): void {
    const was = this.state[i]!;
    if (was === s) return;
    if (was === CPU) this.nCpu--;
    else if (was === DEV) this.nDev--;
    if (s === CPU) this.nCpu++;
    else if (s === DEV) this.nDev++;
    this.state[i] = s;
  }

  setRange(start: number, count: number, s: number): void {
    for (let i = start; i < start + count; i++) this.set(i, s);
  }

  /** The remote mappings of `dev` through `pmap` (created if asked). */
  remoteOf(dev: GmDev, pmap: GmPmap, create: boolean): RemoteMap | undefined {
    for (const r of this.remote) if (r.dev === dev && r.pmap === pmap) return r;
    if (!create) return undefined;
    const r = { dev, pmap, mask: new Uint8Array(PAGES) };
    this.remote.push(r);
    return r;
  }

  /** True if `dev` is to keep page `i` mapped (accessed-by). */
  accessedByDev(dev: GmDev, i: number): boolean {
    return this.accessedBy?.get(dev)?.[i] === 1;
  }
}

/** The block state of `m`, made (all NOMAP) if it has none. */
export function blockOf(m: GmMapping): UvmBlock {
  let b = m.pieces as UvmBlock | undefined;
  if (b === undefined) m.pieces = b = new UvmBlock();
  return b;
}

/** The block-level state from the pieces: DEVICE with a frame, CPU with a host page, else NOMAP. */
export function syncState(m: GmMapping): void {
  m.setState(
    m.page !== undefined ? GM_PAGE.DEVICE : m.host !== undefined ? GM_PAGE.CPU : GM_PAGE.NOMAP,
  );
}

/**
 * Call `fn(start, count)` for every maximal run of pages `i` in `[from, to)` with `test(i)`, in
 * order; `fn` may change what `test` answers for the pages of its own run.
 */
export function forRuns(
  test: (i: number) => boolean,
  fn: (start: number, count: number) => void,
  from = 0,
  to = PAGES,
): void {
  let i = from;
  while (i < to) {
    if (!test(i)) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < to && test(j)) j++;
    fn(i, j - i);
    i = j;
  }
}
