import { benchCase } from "../../bench/harness.js";
import { Rng } from "../base/rng.js";
import { BuddyAllocator } from "./buddy.js";

benchCase({
  name: "phys: buddy alloc + free of 4 KiB in a 4 GiB pool (per pair)",
  targetNs: 300,
  setup: () => {
    const b = new BuddyAllocator(0x1_0000_0000, 4 * 2 ** 30);
    return () => b.free(b.alloc(4096));
  },
});

benchCase({
  name: "phys: buddy alloc + free of 4 KiB, 4 GiB pool half full of random blocks (per pair)",
  targetNs: 300,
  setup: () => {
    const b = new BuddyAllocator(0x1_0000_0000, 4 * 2 ** 30);
    const rng = new Rng(1);
    const held = [];
    for (let i = 0; i < 20_000; i++) held.push(b.alloc(4096 * 2 ** rng.int(0, 6)));
    for (let i = 0; i < held.length; i += 2) b.free(held[i]!);
    return () => b.free(b.alloc(4096));
  },
});
