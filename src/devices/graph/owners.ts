/**
 * Owners: how a system labels what it built, so every path to memory names the object behind
 * it — a VCM reservation (an input range of its VCM's page table), a GMEM address space (a whole
 * table), a Gunyah parcel (physical ranges, or an IPA range of a VM's stage 2), a VM (a device).
 * The machine layer defines the registry; the systems fill it. The platform keeps one
 * ({@link Platform.owners}).
 *
 * A label is a {@link Disposable}: the system takes it back when the object goes.
 *
 * @example
 * const label = platform.owners.label(
 *   { system: "vcm", kind: "reservation", name: "video-res" },
 *   { table: vcmTable, start: 0x1000_0000, end: 0x1010_0000 },
 * );
 * // ... whoReaches(platform, pa) now names "video-res" on the paths through that range.
 * label.dispose();
 */
import { hexRange } from "../../base/address.js";
import { fail } from "../../base/errors.js";
import type { Disposable } from "../../base/lifetime.js";
import { toDisposable } from "../../base/lifetime.js";
import type { AnyPageTable } from "../../mmu/page-table.js";
import type { TableRoot } from "../../mmu/table-memory.js";

/** What an owner is: the system that made it, its kind, its name. */
export interface Owner {
  /** E.g. `"vcm"`, `"gmem"`, `"gunyah"`, `"scenario"`. */
  readonly system: string;
  /** E.g. `"reservation"`, `"address space"`, `"parcel"`, `"VM"`. */
  readonly kind: string;
  readonly name: string;
}

/** What an owner covers. Ranges are `[start, end)`. */
export type OwnerScope =
  /** An input range of a table (all of it without start / end): the paths through it. */
  | { readonly table: AnyPageTable | TableRoot; readonly start?: number; readonly end?: number }
  /** A physical range: every path that reaches it. */
  | { readonly phys: { readonly start: number; readonly end: number } }
  /** A device: the paths of its masters. */
  | { readonly device: string };

interface Entry {
  readonly owner: Owner;
  readonly scope: OwnerScope;
}

function checkRange(what: string, start: number, end: number): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end <= start)
    fail("EINVAL", `owner scope: ${what} ${String(start)}..${String(end)} is not a range`);
}

/** The owners of a platform. */
export class OwnerRegistry {
  private readonly entries: Entry[] = [];

  /**
   * Label `scope` as `owner`'s. EINVAL for an empty range or an owner without a system, kind or
   * name. Labels may overlap (a parcel inside a VM's memory): every one applies.
   */
  label(owner: Owner, scope: OwnerScope): Disposable {
    for (const key of ["system", "kind", "name"] as const)
      if (typeof owner[key] !== "string" || owner[key] === "")
        fail("EINVAL", `owner: ${key} must be a non-empty name`, key);
    if ("phys" in scope) checkRange("physical range", scope.phys.start, scope.phys.end);
    if ("table" in scope && (scope.start !== undefined || scope.end !== undefined))
      checkRange("input range", scope.start ?? 0, scope.end ?? Number.MAX_SAFE_INTEGER);
    const entry: Entry = { owner: { ...owner }, scope };
    this.entries.push(entry);
    return toDisposable(() => {
      const i = this.entries.indexOf(entry);
      if (i >= 0) this.entries.splice(i, 1);
    });
  }

  /** The owners of an input range `[start, end)` of the table at `root`. */
  ofTable(root: TableRoot, start: number, end: number): Owner[] {
    const out: Owner[] = [];
    for (const e of this.entries) {
      const s = e.scope;
      if (!("table" in s) || s.table.root !== root.root || s.table.memory !== root.memory) continue;
      const a = s.start ?? 0;
      const b = s.end ?? Number.MAX_SAFE_INTEGER;
      if (a < end && start < b) out.push(e.owner);
    }
    return out;
  }

  /** The owners of a physical range `[start, end)`. */
  ofPhys(start: number, end: number): Owner[] {
    return this.entries
      .filter((e) => "phys" in e.scope && e.scope.phys.start < end && start < e.scope.phys.end)
      .map((e) => e.owner);
  }

  /** The owners of a device. */
  ofDevice(name: string): Owner[] {
    return this.entries
      .filter((e) => "device" in e.scope && e.scope.device === name)
      .map((e) => e.owner);
  }

  /** Every label, in the order given, with its scope in words (see {@link describeScope}). */
  list(): Array<{ owner: Owner; scope: OwnerScope; description: string }> {
    return this.entries.map((e) => ({
      owner: e.owner,
      scope: e.scope,
      description: describeScope(e.scope),
    }));
  }

  get size(): number {
    return this.entries.length;
  }
}

/** A scope in words, for exports: `table cpu-pt 0x1000-0x1fff`, `phys 0x80000000-…`. */
export function describeScope(scope: OwnerScope): string {
  if ("device" in scope) return `device ${scope.device}`;
  if ("phys" in scope)
    return `phys ${hexRange(scope.phys.start, scope.phys.end - scope.phys.start)}`;
  const name = "name" in scope.table ? scope.table.name : `root ${scope.table.root}`;
  if (scope.start === undefined && scope.end === undefined) return `table ${name}`;
  const a = scope.start ?? 0;
  const b = scope.end ?? Number.MAX_SAFE_INTEGER;
  return `table ${name} ${hexRange(a, b - a)}`;
}
