/**
 * The shapes of what a run reports about its machine, composed from the machine modules: each
 * module adds its keys to these interfaces by declaration merging (as event types extend
 * `EventMap`), so the runner knows none of them by name.
 *
 * ```ts
 * declare module "../machine-summary.js" {
 *   interface MachineSummary { pageTables?: PageTableSummary[] }
 * }
 * ```
 */

/** The machine as built (the run's `machine`). */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface MachineSummary {}

/** The statistics of the machine (the run's final `statistics`, a `stats` step's output). */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface MachineStatistics {}
