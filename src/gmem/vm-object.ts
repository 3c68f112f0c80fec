/**
 * The logical page table (RFC patch 2's `vm_object`): one per process, created with its first
 * peer-shared mapping, mapping each 2 MiB-aligned virtual address to a {@link GmMapping}
 * (`struct gm_mapping`). Keys are always the aligned address's block index (`va / 2 MiB`); the
 * RFC mixes raw and aligned keys, which this does not copy.
 *
 * Layout. A {@link GmMapping} is one 2 MiB block:
 * - `flags`: the state — exactly one of NOMAP, CPU, DEVICE ({@link GM_PAGE}) — plus the
 *   WILLNEED and PINNED bits;
 * - `dev` and `page`: the device and its frame ({@link GmPage}) while DEVICE;
 * - `host`: the host page (a 2 MiB allocation of host memory) while CPU;
 * - `pieces`: undefined under the `gmem` policy, which moves whole blocks. The `uvm` policy
 *   keeps residency per 4 KiB page inside the block (UVM's VA block): it sets `pieces` to a
 *   {@link GmPieces} whose `state` has one entry per 4 KiB piece (0 NOMAP, 1 CPU, 2 DEVICE) and
 *   treats the block-level state as "where the block's frames are allocated" (a block may then
 *   hold both a host page and a device frame). The core never reads `pieces`.
 * Blocks never touched have no entry: a missing entry is NOMAP.
 */
import type { PhysAllocation } from "../phys/target.js";
import type { GmDev } from "./device.js";
import type { GmPage } from "./hnode.js";
import { GM_PAGE, GM_PAGE_STATE, HPAGE } from "./types.js";

/** A host page backing a mapping: its physical address and the allocation it is. */
export interface HostPage {
  readonly pa: number;
  readonly allocation: PhysAllocation;
}

/** Per-piece residency inside a block (the `uvm` policy's; see the file comment). */
export interface GmPieces {
  /** Bytes per piece (4 KiB). */
  readonly pieceSize: number;
  /** Per piece: 0 NOMAP, 1 CPU, 2 DEVICE. */
  readonly state: Uint8Array;
}

/** `struct gm_mapping`: the logical mapping of one 2 MiB block. */
export class GmMapping {
  /** {@link GM_PAGE} state and bits. */
  flags: number = GM_PAGE.NOMAP;
  dev: GmDev | undefined = undefined;
  page: GmPage | undefined = undefined;
  host: HostPage | undefined = undefined;
  pieces: GmPieces | undefined = undefined;

  constructor(
    /** The block's aligned virtual address. */
    readonly va: number,
  ) {}

  /** One of GM_PAGE.NOMAP, CPU, DEVICE. */
  get state(): number {
    return this.flags & GM_PAGE_STATE;
  }

  setState(state: number): void {
    this.flags = (this.flags & ~GM_PAGE_STATE) | state;
  }

  get pinned(): boolean {
    return (this.flags & GM_PAGE.PINNED) !== 0;
  }

  get willneed(): boolean {
    return (this.flags & GM_PAGE.WILLNEED) !== 0;
  }

  /** `nomap`, `cpu`, `device gpu0`, with `+willneed`, `+pinned`. */
  describe(): string {
    const s = this.state;
    const state =
      s === GM_PAGE.CPU
        ? "cpu"
        : s === GM_PAGE.DEVICE
          ? `device ${this.dev?.name ?? "?"}`
          : "nomap";
    return state + (this.willneed ? " +willneed" : "") + (this.pinned ? " +pinned" : "");
  }
}

/** `struct vm_object`: the logical page table of one process. */
export class VmObject {
  private readonly blocks = new Map<number, GmMapping>();

  constructor(readonly blockSize: number = HPAGE) {}

  /** The mapping of the block holding `va`, or undefined (NOMAP, never touched). */
  lookup(va: number): GmMapping | undefined {
    return this.blocks.get(Math.floor(va / this.blockSize));
  }

  /** `vm_object_lookup`, creating a NOMAP entry if there is none (`vm_object_mapping_create`). */
  lookupOrCreate(va: number): GmMapping {
    const key = Math.floor(va / this.blockSize);
    let m = this.blocks.get(key);
    if (m === undefined) {
      m = new GmMapping(key * this.blockSize);
      this.blocks.set(key, m);
    }
    return m;
  }

  /** Forget the block holding `va` (munmap). */
  remove(va: number): void {
    this.blocks.delete(Math.floor(va / this.blockSize));
  }

  /** The mappings of blocks meeting `[start, end)` that have an entry, in address order. */
  range(start: number, end: number): GmMapping[] {
    const first = Math.floor(start / this.blockSize);
    const last = Math.ceil(end / this.blockSize);
    const out: GmMapping[] = [];
    if (last - first <= this.blocks.size) {
      for (let k = first; k < last; k++) {
        const m = this.blocks.get(k);
        if (m !== undefined) out.push(m);
      }
      return out;
    }
    for (const [k, m] of this.blocks) if (k >= first && k < last) out.push(m);
    return out.sort((a, b) => a.va - b.va);
  }

  /** Every mapping, in address order. */
  all(): GmMapping[] {
    return [...this.blocks.values()].sort((a, b) => a.va - b.va);
  }

  get size(): number {
    return this.blocks.size;
  }
}
