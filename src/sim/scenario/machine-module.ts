/**
 * How a system contributes to the `machine` section of a scenario, as step modules contribute
 * steps: a {@link MachineModule} brings keys of the section (zod schemas, checked for form) and
 * a `build` that creates its items on the platform one by one, reporting each item the model
 * refuses as a problem at the item's path (so the loader can give its file:line:column).
 *
 * What a module builds beyond the platform's own registries (page tables, say) it keeps in the
 * {@link MachineObjects} of the machine, by {@link ObjectKind} and name; steps find it there
 * (`ctx.objects`).
 *
 * @example
 * const PAGE_TABLE = objectKind<PageTable>("page table");
 * objects.add(PAGE_TABLE, "cpu-pt", table);
 * objects.get(PAGE_TABLE, "cpu-pt"); // typed: a PageTable; ENOENT naming the ones there are
 */
import type { z } from "zod";

import type { MemweaveError } from "../../base/errors.js";
import { fail } from "../../base/errors.js";
import type { Platform } from "../../devices/platform.js";
import { closest } from "./format.js";

/** A path into the scenario document, e.g. `["machine", "targets", 1, "pools"]`. */
export type DocPath = ReadonlyArray<string | number>;

/** An error the platform raised while building one item of the machine. */
export interface MachineProblem {
  readonly path: DocPath;
  readonly error: MemweaveError;
}

/** A kind of object a machine module builds; `T` is the type of its values. */
export interface ObjectKind<T> {
  /** What people call it, e.g. `"page table"` (used in messages). */
  readonly name: string;
  /** Never set: carries `T`. */
  readonly _type?: T;
}

/** Declare a kind of machine object. */
export function objectKind<T>(name: string): ObjectKind<T> {
  return { name };
}

/** The objects machine modules built, by kind and name, in the order they were added. */
export class MachineObjects {
  private readonly byKind = new Map<ObjectKind<unknown>, Map<string, unknown>>();

  private names(kind: ObjectKind<unknown>): Map<string, unknown> {
    let m = this.byKind.get(kind);
    if (m === undefined) this.byKind.set(kind, (m = new Map<string, unknown>()));
    return m;
  }

  /** Add an object; EEXIST if one of that kind already has the name. */
  add<T>(kind: ObjectKind<T>, name: string, value: T): void {
    const m = this.names(kind);
    if (m.has(name)) fail("EEXIST", `${kind.name} "${name}" already exists`);
    m.set(name, value);
  }

  has(kind: ObjectKind<unknown>, name: string): boolean {
    return this.byKind.get(kind)?.has(name) ?? false;
  }

  /** The object of `kind` named `name`; ENOENT, naming those there are, if none. */
  get<T>(kind: ObjectKind<T>, name: string): T {
    const m = this.byKind.get(kind);
    if (m === undefined || !m.has(name)) {
      const known = [...(m?.keys() ?? [])];
      const near = closest(name, known);
      fail(
        "ENOENT",
        `no ${kind.name} named "${name}"${near !== undefined ? `, did you mean "${near}"?` : ""} (have: ${known.length > 0 ? known.join(", ") : "none"})`,
      );
    }
    return m.get(name) as T;
  }

  /** Every object of `kind`, in the order added. */
  list<T>(kind: ObjectKind<T>): Array<{ name: string; value: T }> {
    return [...(this.byKind.get(kind) ?? new Map<string, unknown>())].map(([name, value]) => ({
      name,
      value: value as T,
    }));
  }
}

/** What the machine section built: the platform (memory, devices) and the other objects. */
export interface BuiltMachine {
  readonly platform: Platform;
  readonly objects: MachineObjects;
}

/** What a machine module's `build` may use. */
export interface MachineBuildContext extends BuiltMachine {
  /** Report that the model refused the item at `path` (or the field of it the error is about). */
  problem(path: DocPath, error: MemweaveError): void;
  /**
   * Mark an item refused, so that items that depend on it are skipped rather than reported
   * again: one mistake, one error. `kind` is free text shared between modules ("region",
   * "target", "page table", "device").
   */
  refuse(kind: string, name: string): void;
  refused(kind: string, name: string): boolean;
}

/** A module of the machine section. */
export interface MachineModule {
  /** The system it belongs to, e.g. `"phys"`. */
  readonly name: string;
  /** The keys it adds to the `machine` section (each optional or required as it says). */
  readonly shape: z.core.$ZodLooseShape;
  /**
   * Build the module's items onto the machine, after the modules before it. Report each item
   * the model refuses with `ctx.problem` and go on with the next; throw only for bugs.
   */
  build(ctx: MachineBuildContext, section: Readonly<Record<string, unknown>>): void;
}

/** Define a machine module with the type of its section inferred from its shape. */
export function defineMachineModule<S extends z.core.$ZodLooseShape>(module: {
  readonly name: string;
  readonly shape: S;
  build(ctx: MachineBuildContext, section: z.output<z.ZodObject<S>>): void;
}): Omit<MachineModule, "shape"> & { readonly shape: S } {
  return module;
}
