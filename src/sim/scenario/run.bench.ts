import { benchCase } from "../../../bench/harness.js";
import { w4, W4_NAME, W4_OPS } from "../../devices/access-path.bench.js";
import { tallyEvents } from "./run.js";

/**
 * W4 with the scenario runner attached: its event tally (what `runScenario` does while steps
 * run) plus observers of types the access path does not publish, as a server or a `stats` step
 * would have. Per-type interest keeps every read on the fast path: the issue's target is reads/s
 * within 10% of W4 with no listener, printed here as the time per read against 1.1 x W4's.
 */
benchCase({
  name: "sim W4 with the runner attached (event tally, phys.alloc and mmu.map observers)",
  targetNs: 44,
  relativeTo: { name: W4_NAME, factor: 1.1 },
  ops: W4_OPS,
  setup: () =>
    w4((p) => {
      tallyEvents(p.bus);
      p.bus.on("phys.alloc", () => {});
      p.bus.on("mmu.map", () => {});
    }),
});
