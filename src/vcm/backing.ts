/**
 * Writing a VCM's reservations into its devices' tables, all or nothing: `vcm_back` and
 * `vcm_unback` (v3 `vcm_process_chunk` for every chunk and every association), the
 * programming of a device when an association is activated, and `vcm_set_res_attr` on a backed
 * reservation.
 *
 * Rollback (v3 had none: "TODO handle weird inter-map case"): pieces are mapped target by
 * target, piece by piece; when one fails — a table allocation fails, a device refuses an
 * address — everything mapped before it is unmapped again, in reverse, and every update bracket
 * opened is closed, so the call changes nothing.
 */
import { iommuPgsize } from "../mmu/pgsize.js";
import type { MapTarget } from "./map-target.js";
import { smmuTarget, tableTarget } from "./map-target.js";
import { SMMU_MAP_SIZES } from "./smmu/driver.js";
import type { BackingPiece, Reservation } from "./reservation.js";
import type { SmmuDev } from "./smmu/driver.js";
import type { Association } from "./association.js";
import type { Vcm } from "./vcm.js";
import { VCM_CACHE_POLICY, VCM_NOTCACHED } from "./attrs.js";
import { VCM_DEV_ATTR_SH } from "./smmu/dev-attr.js";

/**
 * `vcm_to_smmu_attr`: the SMMU attribute of a reservation's cache policy (NOTCACHED -> 0,
 * WB_WA -> 1|SH, WB_NWA -> 2|SH, WT -> 3|SH).
 */
export function devAttrOf(resAttr: number): number {
  const policy = resAttr & VCM_CACHE_POLICY;
  return policy === VCM_NOTCACHED ? 0 : policy | VCM_DEV_ATTR_SH;
}

/** The map targets of a VCM now: every association's device, or its own table. */
export function targetsOf(vcm: Vcm): MapTarget[] {
  if (vcm.type === "device") return vcm.associations_.map((a) => smmuTarget(a.device as SmmuDev));
  if (vcm.table !== undefined) return [tableTarget(vcm.table)];
  return [];
}

/** The target of one association (a device VCM's). */
export function targetOfAssociation(a: Association): MapTarget {
  return smmuTarget(a.device as SmmuDev);
}

/** One reservation's pieces with the attributes to map them with. */
export interface MapJob {
  readonly res: Reservation;
  readonly pieces: readonly BackingPiece[];
  readonly prot: number;
  readonly devAttr: number;
}

/**
 * Apply `step` to every piece of every job in every target, in brackets; if one fails, `undo` the
 * ones done, in reverse, and rethrow. Every bracket opened is closed.
 */
function allOrNothing(
  targets: readonly MapTarget[],
  jobs: readonly MapJob[],
  step: (t: MapTarget, p: BackingPiece, j: MapJob) => void,
  undo: (t: MapTarget, p: BackingPiece, j: MapJob) => void,
): void {
  const done: Array<[MapTarget, BackingPiece, MapJob]> = [];
  const opened: MapTarget[] = [];
  try {
    for (const t of targets) {
      t.begin();
      opened.push(t);
      for (const j of jobs)
        for (const p of j.pieces) {
          step(t, p, j);
          done.push([t, p, j]);
        }
    }
  } catch (e) {
    for (let i = done.length - 1; i >= 0; i--) undo(...done[i]!);
    throw e;
  } finally {
    for (const t of opened) t.end();
  }
}

/** Map every job into every target, or nothing (see the file's comment). */
export function mapAll(targets: readonly MapTarget[], jobs: readonly MapJob[]): void {
  allOrNothing(
    targets,
    jobs,
    (t, p, j) => t.map(p.va, p.pa, p.size, j.prot, j.devAttr),
    (t, p) => t.unmap(p.va, p.pa, p.size),
  );
}

/** Unmap every job's pieces from every target. */
export function unmapAll(targets: readonly MapTarget[], jobs: readonly MapJob[]): void {
  for (const t of targets) {
    t.begin();
    try {
      for (const j of jobs) for (const p of j.pieces) t.unmap(p.va, p.pa, p.size);
    } finally {
      t.end();
    }
  }
}

/** Change the attributes of the job's pieces in every target; on failure put `old` back. */
export function protectAll(
  targets: readonly MapTarget[],
  job: MapJob,
  old: { prot: number; devAttr: number },
): void {
  allOrNothing(
    targets,
    [job],
    (t, p, j) => t.protect(p.va, p.pa, p.size, j.prot, j.devAttr),
    (t, p) => t.protect(p.va, p.pa, p.size, old.prot, old.devAttr),
  );
}

/**
 * Add the pages `[va, va+size) -> pa` is mapped with on a table of these page sizes (ascending)
 * to `counts` (page size -> pages).
 */
export function countPagesOf(
  sizes: readonly number[],
  va: number,
  pa: number,
  size: number,
  counts: (pgsize: number, n: number) => void,
): void {
  let off = 0;
  while (off < size) {
    const c = iommuPgsize(sizes, va + off, pa + off, size - off);
    counts(c.pgsize, c.count);
    off += c.pgsize * c.count;
  }
}

/** The page sizes a VCM's mappings are made with (the SMMU's, or its table's). */
export function mapSizesOf(vcm: Vcm): readonly number[] {
  return vcm.table?.format.pageSizes ?? SMMU_MAP_SIZES;
}
