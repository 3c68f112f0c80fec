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
import type { ReportTable } from "./step-module.js";

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

/**
 * What a module knows of the named address spaces a bus master's addresses are in (a VCM's
 * device addresses for the devices associated with it), so that an address a step gives for a
 * device (`access`'s `va: res1 + 0x100`) can name an object of that space. Kept in the
 * machine's objects under {@link DEVICE_ADDRESS_SPACES}, one per module that has spaces.
 */
export interface DeviceAddressSpaces {
  /** The spaces (`vcm:video`) the device's addresses are in now, most relevant first. */
  spacesOf(device: string): readonly string[];
}

/** The kind under which modules keep their {@link DeviceAddressSpaces}. */
export const DEVICE_ADDRESS_SPACES = objectKind<DeviceAddressSpaces>("device address spaces");

/**
 * The named address spaces a device's addresses may be in, from every module (none: physical
 * only, or its own translation).
 */
export function deviceAddressSpaces(objects: MachineObjects, device: string): string[] {
  return objects.list(DEVICE_ADDRESS_SPACES).flatMap(({ value }) => [...value.spacesOf(device)]);
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
  /**
   * What the module adds to a run's `machine` summary, as keys of plain JSON data (a key with
   * nothing to say is left out). The runner merges every module's, in module order.
   */
  summarize?(machine: BuiltMachine): { readonly [key: string]: unknown };
  /** Its groups of statistics, in order: the run's final statistics and the `stats` step. */
  readonly statistics?: readonly StatisticsGroup[];
  /** The things whose statistics `expect` checks and `stats` reports, in order. */
  readonly subjects?: readonly StatisticsSubject[];
}

/** Define a machine module with the type of its section inferred from its shape. */
export function defineMachineModule<S extends z.core.$ZodLooseShape>(
  module: Omit<MachineModule, "shape" | "build"> & {
    readonly shape: S;
    build(ctx: MachineBuildContext, section: z.output<z.ZodObject<S>>): void;
  },
): Omit<MachineModule, "shape"> & { readonly shape: S } {
  return module;
}

/** How a number is shown in an expectation: as a size (`32 MiB`) or a count. */
export type StatShow = "size" | "count";

/** One number `expect` can check of a subject's statistics `S`. */
export interface StatCheck<S> {
  readonly show: StatShow;
  /** For the JSON Schema. */
  readonly description: string;
  get(stats: S): number;
}

/** One expectation an `expect` step records: computed first, recorded once all was found. */
export interface StatResult {
  readonly passed: boolean;
  readonly message: string;
}

/**
 * An `expect` key with its own schema (a map such as `freeChunks: { "1M": 3 }`), checked
 * against the subject's statistics.
 */
export interface StatExtra<S> {
  readonly key: string;
  /** Its schema, without `.optional()` (the composer adds it). */
  readonly schema: z.ZodType;
  /** The parts it adds to the step's description. */
  describe(value: never): string[];
  /** Its results; may throw a MemweaveError to fail the step (e.g. no such pool). */
  check(value: never, subject: string, stats: S): StatResult[];
}

/** A store-wide check: it needs no subject named (`materializedPages`). */
export interface UnscopedCheck {
  readonly key: string;
  readonly description: string;
  /** The step's description part, e.g. `3 pages materialized`. */
  describe(want: number): string;
  /** What the expectation message names. */
  readonly what: string;
  get(machine: BuiltMachine): number;
}

/**
 * A kind of thing whose statistics `expect` checks and `stats` reports: a memory target, a
 * device, a page table. The steps' schemas are composed from the subjects of every module.
 */
export interface StatisticsSubject<S = unknown> {
  /** The step key that names one, e.g. `"target"`. */
  readonly key: string;
  /** E.g. `"a target"`, for messages. */
  readonly what: string;
  /** expect: e.g. "The target whose statistics to check." */
  readonly description: string;
  /** stats: e.g. "Only this target." */
  readonly only: string;
  readonly checks: { readonly [key: string]: StatCheck<S> };
  readonly extras?: ReadonlyArray<StatExtra<S>>;
  /** Store-wide checks listed with this subject's keys in messages. */
  readonly unscoped?: readonly UnscopedCheck[];
  /** True: naming it with nothing to check is an error of its own ("nothing to check of"). */
  readonly needsChecks: boolean;
  /**
   * Load-time check of a name (ENOENT naming what there is); undefined: checked when the step
   * runs.
   */
  readonly reference?: (machine: BuiltMachine, name: string) => void;
  /** The statistics the checks read (throws ENOENT for an unknown name). */
  view(machine: BuiltMachine, name: string): S;
  /** The statistics group that `stats` with this key reports one of. */
  readonly group: string;
}

/** A group of statistics: one key of the statistics output. */
export interface StatisticsGroup {
  /** The key, e.g. `"targets"`. */
  readonly key: string;
  /** Present even when empty (a list), else only when it has something. */
  readonly always: boolean;
  /** Everything of the group now: a list, or one object (the store). */
  collect(machine: BuiltMachine): unknown;
  /** For `stats` with the subject named: the one-element list. */
  collectOne?(machine: BuiltMachine, name: string): unknown;
  /** True if what `collect` gave is empty (lists: no items). */
  isEmpty?(value: unknown): boolean;
  /** Tables for people. */
  tables?(value: never): ReportTable[];
  /** Parts of the `stats` step's one-line summary. */
  summary?(value: never): string[];
  /** Its summary parts come after every other group's (the store's "N pages"). */
  readonly summaryLast?: boolean;
}

/**
 * The document path of a model error's field within an item at `at`: `rename` maps the field's
 * segments (the model's argument names) to the scenario's keys, or says where to stop (return
 * a shorter path); undefined fields point at the item itself.
 */
export function fieldPath(
  at: DocPath,
  error: MemweaveError,
  rename: (segments: Array<string | number>) => Array<string | number> = (x) => x,
): DocPath {
  if (error.field === undefined) return at;
  const segments = error.field.split(".").map((x) => (/^\d+$/.test(x) ? Number(x) : x));
  return [...at, ...rename(segments)];
}
