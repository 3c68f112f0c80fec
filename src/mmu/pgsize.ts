/**
 * Page-size choice, as the Linux iommu core makes it (drivers/iommu/iommu.c `iommu_pgsize`).
 *
 * Candidates are the supported sizes no larger than the remaining length and no larger than the
 * alignment of both the input and the output address; the largest wins. If a larger supported
 * size exists and the two addresses are equally offset within it, only enough pages are mapped
 * to reach the next boundary of that larger size, so the next call can use it.
 *
 * @example
 * // 4K|2M|1G, iova 0x1ff000, pa 0x801ff000, size 0x402000 -> 1 x 4K, then 2 x 2M, then 1 x 4K
 * iommuPgsize([4096, 2 << 20, 1 << 30], 0x1ff000, 0x801ff000, 0x402000); // { pgsize: 4096, count: 1 }
 */

export interface PgsizeChoice {
  pgsize: number;
  count: number;
  /** The index of `pgsize` in the page sizes. */
  index: number;
}

/**
 * `pageSizes` ascending. The addresses and size must be aligned to the smallest page size
 * (callers check; io-pgtable returns -EINVAL otherwise).
 */
export function iommuPgsize(
  pageSizes: readonly number[],
  iova: number,
  paddr: number,
  size: number,
): PgsizeChoice {
  // The largest size no larger than `size` that both addresses are aligned to.
  let idx = -1;
  for (let i = 0; i < pageSizes.length; i++) {
    const s = pageSizes[i]!;
    if (s > size || offsetIn(iova, s) !== 0 || offsetIn(paddr, s) !== 0) break;
    idx = i;
  }
  if (idx < 0) throw new RangeError(`no page size fits iova ${iova} pa ${paddr} size ${size}`);
  const pgsize = pageSizes[idx]!;
  let span = size;
  const next = pageSizes[idx + 1];
  if (next !== undefined) {
    const offIova = offsetIn(iova, next);
    if (offIova === offsetIn(paddr, next)) {
      const offset = next - offIova;
      if (offset + next <= size) span = offset;
    }
  }
  return { pgsize, count: Math.floor(span / pgsize), index: idx };
}

/** `n mod size` for a power-of-two size, without a floating-point remainder below 2^31. */
function offsetIn(n: number, size: number): number {
  return size <= 0x8000_0000 ? (n >>> 0) & (size - 1) : n - Math.floor(n / size) * size;
}
