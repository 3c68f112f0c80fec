/**
 * Property tests of the uvm engine over random traces (CPU and two devices of two frames each,
 * four blocks; batches, prefetch, thrashing with a clock that jumps, hints, hmadvise, the swap
 * daemon, hmemcpy):
 * - under the uvm policy and its variants, every read sees the last write before it in trace
 *   order (checked when the read completes: at once, or at its batch's replay), and after every
 *   step every 4 KiB page is in exactly one place (uvm.testutil.ts checkPieces);
 * - the engine under `residency: "block"` with nothing to do (thrashing that never triggers)
 *   gives the same counters and bytes as the core's gmem paths on the same trace.
 */
import { fc, it } from "@fast-check/vitest";
import { describe, expect } from "vitest";

import { MemweaveError } from "../../base/errors.js";
import { gmemMachine, M, RecordingSink } from "../gmem.testutil.js";
import type { GmemPolicy } from "../policy.js";
import { UVM_POLICY } from "../policy.js";
import { HPAGE, MADV, NO_HNID } from "../types.js";
import { checkPieces, ClockSink } from "./uvm.testutil.js";

const BLOCKS = 4;
const WHO = ["cpu", "gpu0", "npu0"] as const;
const K4 = 4096;

type Op =
  | { kind: "access"; who: number; write: boolean; at: number; size: number; seed: number }
  | { kind: "prefetch"; dev: number; block: number }
  | { kind: "dontneed"; block: number }
  | { kind: "reclaim"; dev: number; n: number; defer: boolean }
  | { kind: "finish" | "flush" }
  | { kind: "time"; us: number }
  | { kind: "pin"; block: number; on: boolean }
  | { kind: "prefer"; block: number; where: number }
  | { kind: "accessedBy"; dev: number; block: number; on: boolean }
  | { kind: "hmemcpy"; dev: number; dst: number; src: number; size: number };

/** Addresses that gather on a few pages (so faults collide, thrash and coalesce). */
const address = fc.oneof(
  fc
    .record({ b: fc.nat({ max: BLOCKS - 1 }), p: fc.constantFrom(0, 1, 15, 16, 200, 511) })
    .chain(({ b, p }) => fc.integer({ min: 0, max: K4 - 1 }).map((o) => b * HPAGE + p * K4 + o)),
  fc.nat({ max: BLOCKS * HPAGE - 1 }),
);
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant("access" as const),
      who: fc.nat({ max: 2 }),
      write: fc.boolean(),
      at: address,
      size: fc.integer({ min: 1, max: 12 }),
      seed: fc.nat({ max: 255 }),
    }),
    weight: 14,
  },
  fc.record({
    kind: fc.constant("prefetch" as const),
    dev: fc.nat({ max: 1 }),
    block: fc.nat({ max: BLOCKS - 1 }),
  }),
  fc.record({ kind: fc.constant("dontneed" as const), block: fc.nat({ max: BLOCKS - 1 }) }),
  fc.record({
    kind: fc.constant("reclaim" as const),
    dev: fc.nat({ max: 1 }),
    n: fc.integer({ min: 1, max: 2 }),
    defer: fc.boolean(),
  }),
  fc.record({ kind: fc.constantFrom("finish" as const, "flush" as const) }),
  {
    arbitrary: fc.record({
      kind: fc.constant("time" as const),
      us: fc.constantFrom(1, 600, 200_000),
    }),
    weight: 3,
  },
  fc.record({
    kind: fc.constant("pin" as const),
    block: fc.nat({ max: BLOCKS - 1 }),
    on: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant("prefer" as const),
    block: fc.nat({ max: BLOCKS - 1 }),
    where: fc.nat({ max: 3 }),
  }),
  fc.record({
    kind: fc.constant("accessedBy" as const),
    dev: fc.nat({ max: 1 }),
    block: fc.nat({ max: BLOCKS - 1 }),
    on: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant("hmemcpy" as const),
    dev: fc.nat({ max: 1 }),
    dst: fc.nat({ max: BLOCKS * HPAGE - 64 }),
    src: fc.nat({ max: BLOCKS * HPAGE - 64 }),
    size: fc.integer({ min: 1, max: 64 }),
  }),
);

interface Run {
  stats: Record<string, number>;
  reads: string[];
}

/** Run `ops`; `check` after every step; the counters and every read's bytes. */
function run(policy: Partial<GmemPolicy>, ops: readonly Op[], check: boolean): Run {
  const sink = check ? new ClockSink() : new RecordingSink();
  const m = gmemMachine({
    policy,
    devices: ["gpu0", "npu0"],
    blocks: BLOCKS,
    deviceMemory: 4 * M,
    cost: sink,
  });
  const { gmem, va } = m;
  const model = new Map<number, number>();
  const reads: string[] = [];
  let pinned = -1;
  const expectOf = (at: number, n: number) =>
    Array.from({ length: n }, (_, i) => model.get(at + i) ?? 0);
  for (const o of ops) {
    switch (o.kind) {
      case "access": {
        const at = va + Math.min(o.at, BLOCKS * HPAGE - o.size);
        const who = WHO[o.who]!;
        const blocks = [at, at + o.size - 1].map((a) => m.proc.vmObject!.lookup(a));
        // A CPU access to a pinned block on a device is a SIGBUS (tested in residency tests).
        if (who === "cpu" && pinned >= 0 && blocks.some((b) => b?.pinned === true)) break;
        if (o.write) {
          const data = Uint8Array.from({ length: o.size }, (_, i) => (o.seed + i * 31) & 0xff || 1);
          gmem.access(who, "w", at, o.size, data);
          data.forEach((v, i) => model.set(at + i, v));
        } else {
          const want = expectOf(at, o.size);
          gmem.access(who, "r", at, o.size, undefined, (got) => {
            expect([...got], `${who} read +${(at - va).toString(16)}`).toEqual(want);
            reads.push(`${who}@${at - va}:${got.join(",")}`);
          });
        }
        break;
      }
      case "prefetch":
        gmem.hmadvise(m.devs[o.dev]!.hnode.id, va + o.block * HPAGE, HPAGE, MADV.PREFETCH);
        break;
      case "dontneed":
        gmem.hmadvise(NO_HNID, va + o.block * HPAGE, HPAGE, MADV.DONTNEED);
        for (const a of [...model.keys()])
          if (a >= va + o.block * HPAGE && a < va + (o.block + 1) * HPAGE) model.delete(a);
        if (pinned === o.block) pinned = -1;
        break;
      case "reclaim":
        gmem.reclaim(m.devs[o.dev]!.hnode.id, o.n, { defer: o.defer });
        break;
      case "finish":
        gmem.finishReclaim();
        break;
      case "flush":
        gmem.flush();
        break;
      case "time":
        if (sink instanceof ClockSink) sink.timeNs += o.us * 1e3;
        break;
      case "pin":
        // At most one pinned block: each device keeps a frame to evict.
        if (o.on && pinned >= 0 && pinned !== o.block) break;
        gmem.hmadvise(NO_HNID, va + o.block * HPAGE, 1, o.on ? MADV.PINNED : MADV.UNPINNED);
        pinned = o.on ? o.block : pinned === o.block ? -1 : pinned;
        break;
      case "prefer":
        if (!policy.hints) break;
        gmem.setPreferredLocation(
          va + o.block * HPAGE + K4,
          64 * K4,
          [undefined, "cpu", "gpu0", "npu0"][o.where],
        );
        break;
      case "accessedBy":
        if (!policy.hints) break;
        gmem.setAccessedBy(va + o.block * HPAGE, HPAGE / 2, WHO[o.dev + 1]!, o.on);
        break;
      case "hmemcpy": {
        const src = va + o.src;
        const dst = va + o.dst;
        if (dst < src + o.size && src < dst + o.size) break;
        const bytes = expectOf(src, o.size);
        gmem.hmemcpy(m.devs[o.dev]!.hnode.id, dst, src, o.size);
        bytes.forEach((v, i) => (v === 0 ? model.delete(dst + i) : model.set(dst + i, v)));
        break;
      }
    }
    if (check) checkPieces(m);
  }
  gmem.hmadvise(NO_HNID, va, BLOCKS * HPAGE, MADV.UNPINNED);
  gmem.finishReclaim();
  for (const who of WHO)
    for (const a of model.keys())
      gmem.access(who, "r", a, 1, undefined, (got) =>
        expect(got[0], `final ${who}`).toBe(model.get(a)),
      );
  gmem.flush();
  if (sink instanceof ClockSink) {
    sink.timeNs += 200e6; // every thrashing pin ends at the next access
    expect(gmem.access("cpu", "r", va, 1)[0]).toBe(model.get(va) ?? 0);
    for (const a of model.keys())
      gmem.access("gpu0", "r", a, 1, undefined, (got) => expect(got[0]).toBe(model.get(a)));
    gmem.flush();
  }
  if (check) checkPieces(m);
  for (const [k, v] of Object.entries({ ...gmem.stats, ...gmem.uvm?.stats }))
    totals[k] = (totals[k] ?? 0) + v;
  return { stats: { ...gmem.stats }, reads };
}

const totals: Record<string, number> = {};

const variants: Array<[string, Partial<GmemPolicy>]> = [
  ["uvm", UVM_POLICY],
  ["uvm, batches of 4", { ...UVM_POLICY, faultBatch: 4 }],
  ["residency page alone", { residency: "page" }],
  ["uvm, residency block", { ...UVM_POLICY, residency: "block" }],
  ["uvm, accessed order", { ...UVM_POLICY, eviction: "accessed", thrashingEvents: 1 }],
];

describe("random traces under the uvm engine", () => {
  for (const [name, policy] of variants)
    it.prop([fc.array(op, { minLength: 1, maxLength: 30 })], { numRuns: 25 })(
      `${name}: reads see the last write; every 4 KiB page in one place after every step`,
      (ops) => {
        run(policy, ops, true);
      },
    );

  it.prop(
    [
      fc.array(
        op.filter((o) => o.kind !== "prefer" && o.kind !== "accessedBy"),
        { maxLength: 30 },
      ),
    ],
    {
      numRuns: 40,
    },
  )("the engine with residency block and nothing to do counts as the core's gmem paths", (ops) => {
    const attempt = (p: Partial<GmemPolicy>) => {
      try {
        return run(p, ops, false);
      } catch (e) {
        if (e instanceof MemweaveError) return { stats: { error: 1 }, reads: [e.code] };
        throw e;
      }
    };
    const core = attempt({});
    const engine = attempt({ thrashing: true, thrashingLapseUs: 1e-6 });
    expect(engine).toEqual(core);
  });

  it("the traces reached every path", () => {
    for (const k of [
      "deviceFaults",
      "hostFaults",
      "migrationsToDevice",
      "migrationsToHost",
      "evictions",
      "prefetchedPages",
      "thrashingEvents",
      "batches",
      "duplicates",
      "remoteMaps",
      "unpins",
    ])
      expect(totals[k], k).toBeGreaterThan(0);
  });
});
