/**
 * Test helpers of the `gunyah.*` steps: the default Gunyah machine as a scenario (the layout
 * of `src/gunyah/platform.ts`: device memory at 0x1000_0000, the hypervisor's 64 MiB of table
 * memory at 0x4000_0000, the host's 1 GiB of RAM at 0x8000_0000) and its runners.
 */
import type { RunResult } from "../run.js";
import { stepScenarios } from "./steps.testutil.js";

export const GUNYAH_MACHINE = `version: 1
name: t
machine:
  regions:
    - { name: mmio, base: 0x1000_0000, size: 1M, kind: io }
    - { name: hyp, base: 0x4000_0000, size: 64M, kind: ram }
    - { name: dram, base: 0x8000_0000, size: 1G, kind: ram }
  targets:
    - { name: hyp-tables, allocator: buddy, ranges: [{ region: hyp }] }
  gunyah:
    tables: hyp-tables
    host: { ram: [{ pa: 0x8000_0000, size: 1G }], io: [{ pa: 0x1000_0000, size: 1M }] }
steps:
`;
/** The line of the first step in {@link GUNYAH_MACHINE} + steps. */
export const FIRST_STEP_LINE = 14;

export const { run, errors, text } = stepScenarios(GUNYAH_MACHINE, "t.yaml");

/** The messages of the failed expectations. */
export const failures = (r: RunResult): string[] =>
  r.expectations.list.filter((e) => !e.passed).map((e) => e.message);

/** Every step's status. */
export const statuses = (r: RunResult): string[] => r.steps.map((s) => s.status);

/** The expectation messages of step `i`. */
export const messagesOf = (r: RunResult, i: number): string[] =>
  r.expectations.list
    .filter((e) => e.step === i)
    .map((e) => `${e.passed ? "ok" : "FAIL"} ${e.message}`);

/** A guest allocated as `guest` (vm128). */
export const GUEST = "{ op: gunyah.vmAllocate, as: guest }";
