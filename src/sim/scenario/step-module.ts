/**
 * How a system contributes steps to scenarios.
 *
 * A {@link StepModule} is a named set of operations; each operation ({@link StepDefinition})
 * brings its zod schema (a strict object whose `op` is a literal), a function that runs it
 * against the platform, and a function that describes it in one line. The registry
 * (`registry.ts`) composes the modules' schemas into the `steps` union and dispatches on `op`;
 * the runner knows nothing of any module's operations.
 *
 * Every step additionally accepts `expectError` (added by the registry): modules never see it.
 *
 * @example
 * const hello = defineStep({
 *   schema: z.strictObject({ op: z.literal("hello"), who: z.string() }),
 *   describe: (step) => `greet ${step.who}`,
 *   run: (ctx, step) => ({ summary: `hello, ${step.who}` }),
 * });
 * export const helloSteps: StepModule = { name: "hello", ops: { hello } };
 */
import type { z } from "zod";

import type { PhysAddr } from "../../base/address.js";
import type { Json } from "../../base/events.js";
import type { Platform } from "../../devices/platform.js";
import type { BuiltMachine, DocPath, MachineObjects, ObjectKind } from "./machine-module.js";
import type { AddressExpr } from "./values.js";

/** A small table a step reports, for people (the CLI prints it). Cells are already text. */
export interface ReportTable {
  readonly title: string;
  readonly head: readonly string[];
  readonly rows: ReadonlyArray<readonly string[]>;
}

/** A block of preformatted text a step reports (a page-table dump); printed as is. */
export interface ReportBlock {
  readonly title: string;
  readonly text: string;
}

/** What a step reports when it succeeds. Everything is plain JSON data. */
export interface StepReport {
  /** One line for the step table, e.g. `buf (#2): 0xa0000000+1 MiB, …`. */
  readonly summary?: string;
  /** Machine-readable results (chunks, read data, statistics). */
  readonly output?: { readonly [key: string]: Json };
  /** Tables for people (e.g. statistics). */
  readonly tables?: readonly ReportTable[];
  /** Preformatted text for people (dumps); JSON output carries it as strings. */
  readonly blocks?: readonly ReportBlock[];
}

/**
 * An address space names resolve in: `"phys"` (physical addresses), or one a system names — a
 * VM's IPA space (`"ipa:vm1"`), a VCM's device addresses (`"vcm:video"`), a GMEM address space
 * (`"gmem:as0"`). A name bound with an address in a space stands for that address there
 * (`buf+0x10`).
 */
export type AddressSpaceId = string;

/** The physical address space. */
export const PHYSICAL: AddressSpaceId = "phys";

/**
 * What a name in a scenario is bound to: an allocation; other modules bind their own objects
 * (address spaces, reservations, VMs) under their own {@link ObjectKind}.
 */
export interface NameBinding<T = unknown> {
  /** The kind of object, e.g. {@link ALLOCATION}. */
  readonly kind: ObjectKind<T>;
  readonly value: T;
  /** False once the object is gone (freed); a name may then be bound again. */
  readonly isLive: () => boolean;
  /**
   * The address the name stands for, per address space (`{ phys: 0x8000_0000 }`, or a
   * reservation's device address in its VCM's space).
   */
  readonly addresses?: Readonly<Record<AddressSpaceId, number>>;
}

/** What a step's `run` may use: the machine, the scenario's names, and expectations. */
export interface StepContext {
  readonly platform: Platform;
  /** What machine modules built beyond the platform (page tables), by kind and name. */
  readonly objects: MachineObjects;
  /**
   * Check that `name` may be bound: EEXIST if it is bound to an object still live (a name whose
   * object is gone may be bound again). Call it before changing any state, so that a refused
   * name leaves the platform unchanged.
   */
  checkName(name: string): void;
  /** Bind `name` to an object (EEXIST as {@link StepContext.checkName}). */
  bind<T>(name: string, binding: NameBinding<T>): void;
  /** The object of `kind` bound to `name`; ENOENT if unbound, EINVAL if of another kind. */
  lookup<T>(name: string, kind: ObjectKind<T>): T;
  /**
   * The address an address expression stands for in `space` (default: physical): a number as
   * it is, a name by its binding's address there plus the offset. ENOENT for an unknown name,
   * EINVAL for a name with no address in that space.
   */
  resolve(address: AddressExpr): PhysAddr;
  resolve(address: AddressExpr, space: AddressSpaceId): number;
  /**
   * The address in the first of `spaces` the name has an address in (a number as it is): for
   * an address a device gives, which may be in any space it sees (its VCM's, then physical).
   * EINVAL for a name with an address in none of them.
   */
  resolve(address: AddressExpr, spaces: readonly AddressSpaceId[]): number;
  /** Record an expectation of the current step: `passed`, and a message saying what was checked. */
  expect(passed: boolean, message: string): void;
  /**
   * The bytes of a file the step declared ({@link StepDefinition.files}), by the path as the step
   * gives it. The file loader (`sim/node`) reads them; a scenario parsed from text has none
   * unless its `files` are given: ENOENT then, naming the file.
   */
  file(path: string): Uint8Array;
}

/** A problem in a file a step reads, at a 1-based line (0: the file as a whole). */
export interface FileProblem {
  readonly line: number;
  readonly message: string;
  /** The key of the step that names the file (`["file"]`), for the error's path. */
  readonly path?: DocPath;
}

/** How much a diagnostic matters: an error makes the scenario invalid; a warning does not. */
export type DiagnosticSeverity = "error" | "warning";

/**
 * A problem {@link StepDefinition.check} finds: a path within the step and a message, and
 * optionally a stable `code` (kebab-case, e.g. `"unknown-name"`; default `"bad-reference"`),
 * its `severity` (default `"error"`) and the `suggestion` (the replacement a did-you-mean names).
 */
export interface StepProblem {
  readonly path: DocPath;
  readonly message: string;
  readonly code?: string;
  readonly severity?: DiagnosticSeverity;
  readonly suggestion?: string;
}

/** A name a step binds to an object when it succeeds (`as: buf`), for the static check. */
export interface NameBind {
  /** Where the name is written in the step (`["as"]`). */
  readonly path: DocPath;
  readonly name: string;
  readonly kind: ObjectKind<unknown>;
  /**
   * True if the step may succeed without binding it (an RPC whose `expect` is an error): later
   * steps may then use it or bind it again without an error.
   */
  readonly conditional?: boolean;
}

/** A name a step looks up as an object of `kind` (`free`'s `alloc`), for the static check. */
export interface NameUse {
  readonly path: DocPath;
  readonly name: string;
  readonly kind: ObjectKind<unknown>;
}

/**
 * What a step does with the scenario's names, for the static check (`static-check.ts`): the
 * names it looks up, frees and binds, in that order. Address expressions (`buf+0x10`) anywhere
 * in a step are found without a hook; so are machine names, which {@link StepDefinition.check}
 * checks.
 */
export interface StepNames {
  readonly uses?: readonly NameUse[];
  /** Names whose object is gone once the step succeeds (`free`, `vcm.unreserve`). */
  readonly frees?: readonly NameUse[];
  readonly binds?: readonly NameBind[];
  /**
   * Names the step binds that only the run knows (a clone's reservations, `<clone>.res0`): every
   * name starting with one of these prefixes may be bound after the step.
   */
  readonly bindsPrefixed?: readonly string[];
  /**
   * True if the step's named addresses name objects of its own system's machine section (GMEM's
   * mappings), checked by its `check`, rather than names earlier steps bind.
   */
  readonly ownAddresses?: boolean;
}

/** A zod schema of one step: a strict object whose `op` is a literal. */
export type StepSchema = z.ZodObject<{ op: z.ZodLiteral<string> } & z.core.$ZodLooseShape>;

/** One operation of a step module. */
export interface StepDefinition<S extends StepSchema = StepSchema> {
  /** The step's schema; its `op` literal is the operation's name. */
  readonly schema: S;
  /** A one-line description of the step, in the domain's words (`alloc 64 KiB from system`). */
  describe(step: z.output<S>): string;
  /**
   * Run the step. Throw a MemweaveError to fail it (the platform's operations do); the runner
   * checks `expectError` against the code. Record value checks with `ctx.expect`.
   */
  run(ctx: StepContext, step: z.output<S>): StepReport | void;
  /**
   * Optional: check, when the scenario is loaded, what the step names in the machine (a table,
   * a device) against the machine as built, so a typo is an error at its line and column
   * rather than a failure when the step runs. Paths are relative to the step.
   */
  check?(step: z.output<S>, machine: BuiltMachine): readonly StepProblem[];
  /**
   * Optional: the names the step uses, frees and binds (see {@link StepNames}), so that the
   * static check can follow names from step to step: a name used before any step binds it, after
   * its object was freed, or as another kind of object is an error at its line and column. A
   * step that binds names must give it (a step without it whose schema has an `as` key is taken
   * to bind that name as an object of an unknown kind).
   */
  names?(step: z.output<S>): StepNames;
  /**
   * Optional: true when the step checks something (it records expectations) even without an
   * `expect…` key or `expectError` (`expectIsolated`). A scenario none of whose steps checks
   * anything is warned about.
   */
  expects?(step: z.output<S>): boolean;
  /**
   * Optional: the files the step reads (a trace), as written — relative to the scenario file's
   * folder. The file loader reads each before anything runs (an unreadable one is a load error
   * at the step) and gives their bytes through {@link StepContext.file}.
   */
  files?(step: z.output<S>): readonly string[];
  /**
   * Optional: check a file's contents when the scenario is loaded, so a malformed file is a load
   * error at its own line (and nothing runs). `path` is as {@link files} gave it.
   */
  checkFile?(step: z.output<S>, path: string, bytes: Uint8Array): readonly FileProblem[];
}

/** Define a step with its types inferred from the schema. */
export function defineStep<S extends StepSchema>(definition: StepDefinition<S>): StepDefinition<S> {
  return definition;
}

/**
 * A system's steps: its name and its operations, keyed by `op`. The machine's own modules
 * (physical memory, translation, statistics) have plain op names (`map`, `alloc`); a system's
 * steps are namespaced (`vcm.reserve`, `gunyah.lend`, `gmem.fault`): its module gives the
 * `namespace` and every op is `<namespace>.<name>`.
 */
export interface StepModule {
  /** The system the steps belong to, e.g. `"phys"`. */
  readonly name: string;
  /** The prefix of every op (`"vcm"` for `vcm.reserve`); absent for the machine's own steps. */
  readonly namespace?: string;
  /** The operations; each key equals its schema's `op` literal. */
  readonly ops: { readonly [op: string]: StepDefinition };
}
