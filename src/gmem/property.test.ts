/**
 * Property tests over random traces: mixed CPU and device reads and writes over six 2 MiB
 * blocks, two devices of two frames each (so evictions happen), hints, eager frees, the swap
 * daemon with evictions in flight, hmemcpy — in each MMU mode and under random policies. After
 * every step: every byte read equals the last byte written there (0 if never written), and the
 * residency invariants hold (in COHERENT_EXCLUSIVE: every block in exactly one place, checked
 * against the hnode lists, the CPU table, the device tables and the byte store's pages).
 */
import { fc, it } from "@fast-check/vitest";
import { describe, expect } from "vitest";

import { MemweaveError } from "../base/errors.js";
import { checkResidency, gmemMachine, M } from "./gmem.testutil.js";
import type { GmemMachine } from "./gmem.testutil.js";
import type { GmMmuMode } from "./types.js";
import { GM_MMU_MODE, GM_PAGE, HPAGE, MADV, NO_HNID } from "./types.js";

const BLOCKS = 6;
const WHO = ["cpu", "gpu0", "npu0"] as const;

type Op =
  | {
      kind: "access";
      who: number;
      write: boolean;
      block: number;
      off: number;
      size: number;
      seed: number;
    }
  | { kind: "prefetch"; dev: number; block: number; n: number }
  | { kind: "dontneed"; block: number; n: number }
  | { kind: "reclaim"; dev: number; n: number; defer: boolean }
  | { kind: "finish" }
  | { kind: "race"; dev: number }
  | { kind: "pin" | "unpin"; block: number }
  | { kind: "hmemcpy"; dev: number; dst: number; src: number; size: number };

/** Offsets near the start, the middle and the end of a block (cross-4K too). */
const offset = fc.oneof(
  fc.integer({ min: 0, max: 64 }),
  fc.integer({ min: 4096 - 8, max: 4096 + 8 }),
  fc.integer({ min: HPAGE - 24, max: HPAGE - 1 }),
);
const access = fc.record({
  kind: fc.constant("access" as const),
  who: fc.nat({ max: 2 }),
  write: fc.boolean(),
  block: fc.nat({ max: BLOCKS - 1 }),
  off: offset,
  size: fc.integer({ min: 1, max: 16 }),
  seed: fc.nat({ max: 255 }),
});
const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: access, weight: 12 },
  fc.record({
    kind: fc.constant("prefetch" as const),
    dev: fc.nat({ max: 1 }),
    block: fc.nat({ max: BLOCKS - 1 }),
    n: fc.integer({ min: 1, max: 3 }),
  }),
  fc.record({
    kind: fc.constant("dontneed" as const),
    block: fc.nat({ max: BLOCKS - 1 }),
    n: fc.integer({ min: 1, max: 2 }),
  }),
  fc.record({
    kind: fc.constant("reclaim" as const),
    dev: fc.nat({ max: 1 }),
    n: fc.integer({ min: 1, max: 3 }),
    defer: fc.boolean(),
  }),
  fc.constant({ kind: "finish" as const }),
  // The swap daemon starts evicting a device's head page and the device touches it meanwhile.
  fc.record({ kind: fc.constant("race" as const), dev: fc.nat({ max: 1 }) }),
  fc.record({
    kind: fc.constantFrom("pin" as const, "unpin" as const),
    block: fc.nat({ max: BLOCKS - 1 }),
  }),
  fc.record({
    kind: fc.constant("hmemcpy" as const),
    dev: fc.nat({ max: 1 }),
    dst: fc.nat({ max: BLOCKS * HPAGE - 64 }),
    src: fc.nat({ max: BLOCKS * HPAGE - 64 }),
    size: fc.integer({ min: 1, max: 64 }),
  }),
);
const policy = fc.record({
  evictBatch: fc.constantFrom(1, 2, 16),
  eviction: fc.constantFrom("migrated" as const, "accessed" as const),
});

/** The trace runner: the machine and the model of its bytes. */
function runTrace(
  mode: GmMmuMode,
  ops: readonly Op[],
  pol: { evictBatch: number; eviction: "migrated" | "accessed" },
) {
  const m: GmemMachine = gmemMachine({
    mode,
    devices: ["gpu0", "npu0"],
    blocks: BLOCKS,
    deviceMemory: 4 * M,
    policy: pol,
  });
  const { gmem, va } = m;
  const model = new Map<number, number>();
  const pinned = new Set<number>();
  const expectBytes = (at: number, got: Uint8Array) => {
    for (let i = 0; i < got.length; i++)
      if (got[i] !== (model.get(at + i) ?? 0))
        expect(got[i], `byte at +${(at + i - va).toString(16)}`).toBe(model.get(at + i) ?? 0);
  };
  const blockOf = (b: number) => m.proc.vmObject!.lookup(va + b * HPAGE);
  for (const o of ops) {
    switch (o.kind) {
      case "access": {
        let size = o.size;
        const at = va + o.block * HPAGE + Math.min(o.off, HPAGE * (BLOCKS - o.block) - size);
        // An access across two blocks needs both on the device at once: with a pinned block a
        // device has one frame to spare, and such an access could never complete (it would
        // fault its two blocks out of each other's frame); keep it in one block then.
        if (pinned.size > 0) size = Math.min(size, HPAGE - ((at - va) % HPAGE));
        const who = WHO[o.who]!;
        const data = Uint8Array.from({ length: size }, (_, i) => (o.seed + i * 31) & 0xff);
        const first = blockOf(Math.floor((at - va) / HPAGE));
        const last = blockOf(Math.floor((at + size - 1 - va) / HPAGE));
        const sigbus =
          who === "cpu" &&
          [first, last].some((b) => b !== undefined && b.pinned && b.state === GM_PAGE.DEVICE);
        try {
          if (o.write) {
            gmem.access(who, "w", at, size, data);
            data.forEach((v, i) => model.set(at + i, v));
          } else expectBytes(at, gmem.access(who, "r", at, size));
          expect(sigbus, "a CPU access to a pinned device page succeeded").toBe(false);
        } catch (e) {
          if (!sigbus || !(e instanceof MemweaveError)) throw e;
          expect(e.message).toContain("SIGBUS");
        }
        break;
      }
      case "prefetch":
        if (mode === GM_MMU_MODE.SHARE) break;
        gmem.hmadvise(
          m.devs[o.dev]!.hnode.id,
          va + o.block * HPAGE,
          Math.min(o.n, BLOCKS - o.block) * HPAGE,
          MADV.PREFETCH,
        );
        break;
      case "dontneed": {
        const n = Math.min(o.n, BLOCKS - o.block);
        gmem.hmadvise(NO_HNID, va + o.block * HPAGE, n * HPAGE, MADV.DONTNEED);
        for (const a of [...model.keys()])
          if (a >= va + o.block * HPAGE && a < va + (o.block + n) * HPAGE) model.delete(a);
        for (let b = o.block; b < o.block + n; b++) pinned.delete(b);
        break;
      }
      case "reclaim":
        gmem.reclaim(m.devs[o.dev]!.hnode.id, o.n, { defer: o.defer });
        break;
      case "finish":
        gmem.finishReclaim();
        break;
      case "race": {
        const d = m.devs[o.dev]!;
        if (gmem.reclaim(d.hnode.id, 1, { defer: true }) === 0) break;
        const page = [...gmem.inFlight].at(-1)!;
        const at = page.mapping!.va + 8;
        expectBytes(at, gmem.access(d.dev.name, "r", at, 8));
        break;
      }
      case "pin":
        // At most one pinned block: each device keeps a frame to evict.
        if (pinned.size >= 1 && !pinned.has(o.block)) break;
        gmem.hmadvise(NO_HNID, va + o.block * HPAGE, 1, MADV.PINNED);
        pinned.add(o.block);
        break;
      case "unpin":
        gmem.hmadvise(NO_HNID, va + o.block * HPAGE, 1, MADV.UNPINNED);
        pinned.delete(o.block);
        break;
      case "hmemcpy": {
        if (mode === GM_MMU_MODE.SHARE) break;
        const src = va + o.src;
        const dst = va + o.dst;
        if (dst < src + o.size && src < dst + o.size) break;
        const bytes = Array.from({ length: o.size }, (_, i) => model.get(src + i) ?? 0);
        gmem.hmemcpy(m.devs[o.dev]!.hnode.id, dst, src, o.size);
        bytes.forEach((v, i) => (v === 0 ? model.delete(dst + i) : model.set(dst + i, v)));
        break;
      }
    }
    checkResidency(m);
  }
  // Every written byte, read back by every agent (pins and evictions in flight ended first).
  gmem.hmadvise(NO_HNID, va, BLOCKS * HPAGE, MADV.UNPINNED);
  gmem.finishReclaim();
  for (const who of WHO) for (const a of model.keys()) expectBytes(a, gmem.access(who, "r", a, 1));
  checkResidency(m);
  if (mode === GM_MMU_MODE.SHARE) for (const d of m.devs) expect(d.hnode.nrActivePages).toBe(0);
  for (const [k, v] of Object.entries({ ...gmem.stats, ...gmem.detail }))
    totals[k] = (totals[k] ?? 0) + v;
  return m;
}

/** Counters summed over every trace run, to check the traces reach every path. */
const totals: Record<string, number> = {};

describe("random traces", () => {
  for (const [name, mode] of [
    ["COHERENT_EXCLUSIVE", GM_MMU_MODE.COHERENT_EXCLUSIVE],
    ["REPLICATE", GM_MMU_MODE.REPLICATE],
    ["SHARE", GM_MMU_MODE.SHARE],
  ] as const)
    it.prop([fc.array(op, { minLength: 1, maxLength: 40 }), policy], {
      numRuns: name === "COHERENT_EXCLUSIVE" ? 60 : 30,
    })(
      `${name}: every read sees the last write; residency invariants after every step`,
      (ops, pol) => {
        runTrace(mode, ops, pol);
      },
    );

  it("the traces reached every path (evictions, the MIGRATING race, prefetch, hmemcpy)", () => {
    for (const k of [
      "deviceFaults",
      "hostFaults",
      "migrationsToDevice",
      "migrationsToHost",
      "evictions",
      "prefetchedPages",
      "migratingAnswers",
      "evictionsCancelled",
      "hmemcpyCalls",
    ])
      expect(totals[k], k).toBeGreaterThan(0);
  });
});
