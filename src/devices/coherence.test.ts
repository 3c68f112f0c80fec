/**
 * Model-based: random map / unmap / protect on page tables used by a CPU (its own TLB) and by
 * two SMMU contexts (one shared TLB), interleaved with accesses, against a reference map of
 * pages. Every access must get exactly what the tables say now: never a stale TLB entry.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemweaveError } from "../base/errors.js";
import { PROT } from "../mmu/prot.js";
import { Cpu } from "./cpu.js";
import { machine, S1, V7S } from "./machine.testutil.js";
import { Smmu } from "./smmu.js";

const PAGE = 4096;
const WINDOW = 16; // pages of input space per table: small, so accesses revisit pages the TLB holds
const PROTS = [PROT.READ | PROT.WRITE, PROT.READ, PROT.READ | PROT.WRITE | PROT.NOEXEC];

type Op =
  | { op: "map"; t: number; page: number; pages: number; frame: number; prot: number }
  | { op: "unmap"; t: number; page: number; pages: number }
  | { op: "protect"; t: number; page: number; pages: number; prot: number }
  | { op: "access"; who: number; page: number; write: boolean };

describe("TLB coherence (model-based)", () => {
  it("no access ever uses a stale translation", () => {
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({
        op: fc.constant("map" as const),
        t: fc.nat(2),
        page: fc.nat(WINDOW - 1),
        pages: fc.integer({ min: 1, max: 16 }),
        frame: fc.nat(255),
        prot: fc.constantFrom(...PROTS),
      }),
      fc.record({
        op: fc.constant("unmap" as const),
        t: fc.nat(2),
        page: fc.nat(WINDOW - 1),
        pages: fc.integer({ min: 1, max: 16 }),
      }),
      fc.record({
        op: fc.constant("protect" as const),
        t: fc.nat(2),
        page: fc.nat(WINDOW - 1),
        pages: fc.integer({ min: 1, max: 8 }),
        prot: fc.constantFrom(...PROTS),
      }),
      fc.record({
        op: fc.constant("access" as const),
        who: fc.nat(2),
        page: fc.nat(WINDOW - 1),
        write: fc.boolean(),
      }),
      fc.record({
        op: fc.constant("access" as const),
        who: fc.nat(2),
        page: fc.nat(WINDOW - 1),
        write: fc.boolean(),
      }),
    );
    fc.assert(
      fc.property(fc.array(op, { minLength: 30, maxLength: 80 }), (ops) => {
        const { platform, table, phys } = machine();
        const frames = phys(2 << 20);
        // Table 0: the CPU's (lpae); tables 1 and 2: two SMMU contexts (lpae and v7s) sharing a TLB.
        const tables = [table(S1, "cpu"), table(S1, "gpu"), table(V7S, "dsp")];
        const bases = [0x40_0000_0000, 0x1000_0000, 0x2000_0000];
        const cpu = new Cpu(platform, {
          name: "cpu0",
          ttbr0: tables[0]!,
          asid: 7,
          tlb: { sets: 8, ways: 2 },
        });
        const smmu = new Smmu(platform, {
          name: "smmu0",
          contexts: ["gpu", "dsp"],
          tlb: { sets: 8, ways: 2 },
        });
        smmu.contextBank("gpu").bind(tables[1]!);
        smmu.contextBank("dsp").bind(tables[2]!);
        smmu.contextBank("gpu").activate();
        smmu.contextBank("dsp").activate();
        const masters = [cpu, smmu.attachMaster("gpu0", "gpu"), smmu.attachMaster("dsp0", "dsp")];
        const ref = [
          new Map<number, [number, number]>(),
          new Map<number, [number, number]>(),
          new Map<number, [number, number]>(),
        ];
        for (const o of ops) {
          if (o.op === "access") {
            const m = masters[o.who]!;
            const r = ref[o.who]!.get(o.page);
            const va = bases[o.who]! + o.page * PAGE + 8;
            const got = m.translate(va, { kind: o.write ? "write" : "read" });
            if (r === undefined) {
              expect(got.ok, `access ${o.who}:${o.page} must fault`).toBe(false);
              if (!got.ok) expect(got.fault.kind).toBe("translation");
            } else if (o.write && (r[1] & PROT.WRITE) === 0) {
              expect(got.ok).toBe(false);
              if (!got.ok) expect(got.fault.kind).toBe("permission");
            } else {
              expect(got.ok, `access ${o.who}:${o.page}`).toBe(true);
              if (got.ok) expect(got.pa).toBe(frames + r[0] * PAGE + 8);
            }
            continue;
          }
          const t = tables[o.t]!;
          const pages = Math.min(o.pages, WINDOW - o.page);
          const va = bases[o.t]! + o.page * PAGE;
          try {
            if (o.op === "map") {
              const frame = Math.min(o.frame, 511 - pages);
              t.map(va, frames + frame * PAGE, pages * PAGE, o.prot);
              for (let i = 0; i < pages; i++) ref[o.t]!.set(o.page + i, [frame + i, o.prot]);
            } else if (o.op === "unmap") {
              const done = t.unmap(va, pages * PAGE) / PAGE;
              for (let i = 0; i < done; i++) ref[o.t]!.delete(o.page + i);
            } else {
              t.protect(va, pages * PAGE, o.prot);
              for (let i = 0; i < pages; i++) ref[o.t]!.get(o.page + i)![1] = o.prot;
            }
          } catch (e) {
            if (!(e instanceof MemweaveError)) throw e;
            expect(["EEXIST", "ENOENT"]).toContain(e.code);
          }
        }
      }),
      { numRuns: 150 },
    );
  });
});
