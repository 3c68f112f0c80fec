/**
 * Where a VCM's mappings are written: an SMMU context instance's own page table through the
 * driver (`smmu_map` / `smmu_unmap`, one page per call, as the seed's `vcm_process_chunk`
 * calls them), or the page table a CPU VCM stands for (the VMM's own table, mapped directly).
 *
 * Page sizes: the largest that the device address, the physical address and the length left
 * allow (Linux `iommu_pgsize`): 16M supersections, 1M sections, 64K large pages and 4K pages on
 * the v7s SMMU; 1G / 2M / 4K on a 4K-granule CPU table (`PageTable.map` chooses them itself).
 * v3 chose one size per chunk from the device address alone and failed a chunk it could not
 * cover with it ("trying to overmap"); choosing per page never fails that way.
 *
 * Each call is atomic: a piece that fails half-way unmaps what it mapped before it throws.
 */
import { iommuPgsize } from "../mmu/pgsize.js";
import type { AnyPageTable } from "../mmu/page-table.js";
import { SmmuDev } from "./smmu/driver.js";
import { SMMU_MAP_SIZES, SMMU_RIGHTS_MASK } from "./smmu/driver.js";
import { checkInstance, checkName, checkObject } from "../base/validate.js";

/** One device's or table's side of a VCM's mappings. */
export interface MapTarget {
  /** The device or table, for messages and owner labels. */
  readonly label: string;
  /** The table the mappings land in. */
  readonly table: AnyPageTable;
  /** Before a batch of map / unmap (`smmu_update_start`). */
  begin(): void;
  /** After it (`smmu_update_done`: the TLB is invalidated). Runs even after a failure. */
  end(): void;
  /** Map `[va, va+size)` to `[pa, ...)` with `prot` (rights and cacheability). */
  map(va: number, pa: number, size: number, prot: number, devAttr: number): void;
  /** Remove what {@link map} made for `[va, va+size)` with the same `pa`. */
  unmap(va: number, pa: number, size: number): void;
  /** Change the attributes of what {@link map} made. */
  protect(va: number, pa: number, size: number, prot: number, devAttr: number): void;
}

/**
 * Visit the pages (va, pa, len) the SMMU maps `[va, va+size)` with, in order; stop early when
 * `fn` returns false. Returns the pages visited.
 */
export function forEachSmmuPage(
  va: number,
  pa: number,
  size: number,
  fn: (va: number, pa: number, len: number) => boolean | void,
): number {
  let off = 0;
  let n = 0;
  while (off < size) {
    const c = iommuPgsize(SMMU_MAP_SIZES, va + off, pa + off, size - off);
    for (let i = 0; i < c.count; i++, off += c.pgsize) {
      n++;
      if (fn(va + off, pa + off, c.pgsize) === false) return n;
    }
  }
  return n;
}

/** An SMMU context instance as a target: `smmu_map` page by page. */
export function smmuTarget(dev: SmmuDev): MapTarget {
  checkInstance("smmuTarget", "dev", dev, SmmuDev);
  return {
    label: dev.name,
    table: dev.table,
    begin: () => dev.updateStart(),
    end: () => dev.updateDone(),
    map(va, pa, size, prot, devAttr) {
      const rights = prot & SMMU_RIGHTS_MASK;
      let done = 0;
      try {
        forEachSmmuPage(va, pa, size, (v, p, len) => {
          dev.map(p, v, len, devAttr, rights);
          done++;
        });
      } catch (e) {
        // Unmap the pages mapped before the one that failed.
        forEachSmmuPage(va, pa, size, (v, _p, len) => {
          if (done-- <= 0) return false;
          dev.unmap(v, len);
        });
        throw e;
      }
    },
    unmap(va, pa, size) {
      forEachSmmuPage(va, pa, size, (v, _p, len) => void dev.unmap(v, len));
    },
    protect(va, pa, size, prot, devAttr) {
      const rights = prot & SMMU_RIGHTS_MASK;
      forEachSmmuPage(va, pa, size, (v, p, len) => void dev.map(p, v, len, devAttr, rights));
    },
  };
}

/** A CPU VCM's table as a target: mapped directly (the kernel's own page-table code). */
export function tableTarget(table: AnyPageTable, label?: string): MapTarget {
  checkObject("tableTarget", "table", table);
  label = checkName("tableTarget", "label", label ?? table.name);
  return {
    label,
    table,
    begin: () => undefined,
    end: () => undefined,
    map: (va, pa, size, prot) => table.map(va, pa, size, prot),
    unmap: (va, _pa, size) => void table.unmap(va, size),
    protect: (va, _pa, size, prot) => table.protect(va, size, prot),
  };
}
