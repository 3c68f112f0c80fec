import { nativeCase } from "../../../bench/harness.js";
import { w4, W4_OPS } from "../../devices/access-path.bench.js";
import { tallyEvents } from "./run.js";

/**
 * W4 with the scenario runner attached: its event tally (what `runScenario` does while steps
 * run) plus observers of types the access path does not publish, as a server or a `stats` step
 * would have. Per-type interest keeps every read on the fast path; the target is W4's own, 2x
 * native in the same run.
 */
nativeCase({
  name: "sim W4 with the runner attached (event tally, phys.alloc and mmu.map observers)",
  workload: "W4",
  ops: W4_OPS,
  targetRatio: 2,
  targetNs: 44,
  setup: () =>
    w4((p) => {
      tallyEvents(p.bus);
      p.bus.on("phys.alloc", () => {});
      p.bus.on("mmu.map", () => {});
    }),
});
