import { benchCase } from "../../bench/harness.js";
import { Rng } from "../base/rng.js";
import { PERM } from "./prot.js";
import { Tlb } from "./tlb.js";

const PAGE = 4096;
const RESIDENT = 512;
const LOOKUPS = 4096;

benchCase({
  name: "mmu W1: TLB-hit lookup of 512 resident translations in random order",
  targetNs: 20,
  ops: LOOKUPS,
  setup: () => {
    // 4-way x 256 sets (1024 entries): room for 512 random distinct 4K pages of a 48-bit space.
    // Pages whose set is already full are skipped, so every chosen page stays resident.
    const sets = 256;
    const ways = 4;
    const tlb = new Tlb({ sets, ways, replacement: "lru", name: "bench" });
    const rng = new Rng(1);
    const perSet = new Uint8Array(sets);
    const chosen = new Set<number>();
    const pages: number[] = [];
    while (pages.length < RESIDENT) {
      const vpn = rng.int(0, 2 ** 36 - 1);
      const set = vpn - Math.floor(vpn / sets) * sets;
      if (chosen.has(vpn) || perSet[set] === ways) continue;
      chosen.add(vpn);
      perSet[set]!++;
      pages.push(vpn * PAGE);
    }
    const rw = PERM.READ_PRIV | PERM.WRITE_PRIV | PERM.READ_USER | PERM.WRITE_USER | PERM.AF;
    for (let i = 0; i < RESIDENT; i++)
      tlb.insert(pages[i]!, PAGE, 0x8000_0000 + i * PAGE, rw, 7, 0, 3);

    // The access path: random pages, random offsets within them.
    const order = new Float64Array(LOOKUPS);
    for (let i = 0; i < LOOKUPS; i++)
      order[i] = pages[rng.int(0, RESIDENT - 1)]! + rng.int(0, 4095);
    for (let i = 0; i < RESIDENT; i++) {
      const pa = tlb.translate(pages[i]! + 8, 7, 0);
      if (pa !== 0x8000_0000 + i * PAGE + 8) throw new Error(`page ${i} is not resident`);
    }
    if (tlb.stats().evictions !== 0) throw new Error("evictions in setup");

    return () => {
      let sum = 0;
      for (let i = 0; i < LOOKUPS; i++) {
        const pa = tlb.translate(order[i]!, 7, 0);
        if (pa < 0) throw new Error(`miss at ${order[i]}`);
        sum += pa;
      }
      return sum;
    };
  },
});
