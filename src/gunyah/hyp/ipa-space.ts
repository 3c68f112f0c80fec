/**
 * A VM's IPA address-range allocator (the RM's `vm_address_range_alloc` /
 * `vm_address_range_free`): which IPA ranges of a VM are taken — by its own RAM, by parcels it
 * accepted, by the image accepted at VM_START — so that a caller-chosen IPA that overlaps one
 * is refused and an RM-chosen one lands where nothing is.
 *
 * RM-chosen ranges come from a window that RAM never uses, `[2^40, 2^40 + 2^39)`, first fit,
 * 2 MiB-aligned when the range is at least 2 MiB, else 4 KiB-aligned (memparcel.c
 * `alloc_as_range`). Kept as sorted, disjoint, merged ranges.
 */

/** Where RM-chosen IPAs come from. */
export const RM_IPA_WINDOW = { base: 2 ** 40, size: 2 ** 39 } as const;

const SIZE_2M = 2 * 1024 * 1024;

interface Range {
  start: number;
  end: number;
}

export class IpaSpace {
  private ranges: Range[] = [];

  /** Whether any byte of `[start, start+size)` is taken. */
  overlaps(start: number, size: number): boolean {
    const end = start + size;
    return this.ranges.some((r) => r.start < end && start < r.end);
  }

  /**
   * Take `[ipa, ipa+size)`, or (ipa undefined) the first free aligned range of the window.
   * Returns the base, or undefined when the range is taken or the window has no room (the
   * RM's NORESOURCE).
   */
  alloc(ipa: number | undefined, size: number): number | undefined {
    let base = ipa;
    if (base === undefined) {
      const align = size >= SIZE_2M ? SIZE_2M : 4096;
      let at = RM_IPA_WINDOW.base;
      const limit = RM_IPA_WINDOW.base + RM_IPA_WINDOW.size;
      for (const r of this.ranges) {
        if (r.end <= at) continue;
        if (r.start >= at + size) break;
        at = Math.ceil(r.end / align) * align;
      }
      if (at + size > limit) return undefined;
      base = at;
    } else if (this.overlaps(base, size)) return undefined;
    this.insert(base, base + size);
    return base;
  }

  /** Give back `[start, start+size)` (any part of a taken range). */
  free(start: number, size: number): void {
    const end = start + size;
    const out: Range[] = [];
    for (const r of this.ranges) {
      if (r.end <= start || r.start >= end) out.push(r);
      else {
        if (r.start < start) out.push({ start: r.start, end: start });
        if (r.end > end) out.push({ start: end, end: r.end });
      }
    }
    this.ranges = out;
  }

  /** The taken ranges, ascending (copies). */
  list(): Array<{ start: number; end: number }> {
    return this.ranges.map((r) => ({ ...r }));
  }

  private insert(start: number, end: number): void {
    this.ranges.push({ start, end });
    this.ranges.sort((a, b) => a.start - b.start);
    const out: Range[] = [];
    for (const r of this.ranges) {
      const last = out[out.length - 1];
      if (last !== undefined && last.end === r.start) last.end = r.end;
      else out.push({ ...r });
    }
    this.ranges = out;
  }
}
