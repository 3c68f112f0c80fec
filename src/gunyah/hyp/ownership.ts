/**
 * Who owns each physical page: the hypervisor's view of memory (the RM's memextents). The host's
 * RAM starts as the host's; a DONATE accepted with DONE moves pages to the accepter for good.
 * Kept as sorted, disjoint, merged ranges.
 */
import { hexRange } from "../../base/address.js";
import { fail } from "../../base/errors.js";

interface Span {
  start: number;
  end: number;
  owner: number;
}

export class PhysOwnership {
  private spans: Span[] = [];

  /** Give `[start, end)` to `owner` (EINVAL if any of it is owned already). */
  add(start: number, end: number, owner: number): void {
    if (this.spans.some((s) => s.start < end && start < s.end))
      fail("EINVAL", `ownership: ${hexRange(start, end - start)} is owned already`);
    this.spans.push({ start, end, owner });
    this.normalize();
  }

  /** The owner of every byte of `[start, end)` if they all have the same one, else undefined. */
  ownerOf(start: number, end: number): number | undefined {
    let at = start;
    let owner: number | undefined;
    for (const s of this.spans) {
      if (s.end <= at) continue;
      if (s.start > at) return undefined; // a hole
      if (owner !== undefined && s.owner !== owner) return undefined;
      owner = s.owner;
      at = s.end;
      if (at >= end) return owner;
    }
    return undefined;
  }

  /** Move `[start, end)` to `owner` (it must be owned, by anyone). */
  transfer(start: number, end: number, owner: number): void {
    const out: Span[] = [];
    for (const s of this.spans) {
      if (s.end <= start || s.start >= end) {
        out.push(s);
        continue;
      }
      if (s.start < start) out.push({ start: s.start, end: start, owner: s.owner });
      out.push({ start: Math.max(s.start, start), end: Math.min(s.end, end), owner });
      if (s.end > end) out.push({ start: end, end: s.end, owner: s.owner });
    }
    this.spans = out;
    this.normalize();
  }

  /** Every span, ascending (copies). */
  list(): Array<{ start: number; end: number; owner: number }> {
    return this.spans.map((s) => ({ ...s }));
  }

  private normalize(): void {
    this.spans.sort((a, b) => a.start - b.start);
    const out: Span[] = [];
    for (const s of this.spans) {
      const last = out[out.length - 1];
      if (last !== undefined && last.end === s.start && last.owner === s.owner) last.end = s.end;
      else out.push({ ...s });
    }
    this.spans = out;
  }
}
