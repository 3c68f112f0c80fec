import { describe, expect, it } from "vitest";
import { MemweaveError } from "../base/errors.js";
import { TranslateOut, TranslationRegime, rootOf } from "./regime.js";
import { createLpaeFormat } from "./lpae.js";
import { PageTable } from "./page-table.js";
import { PROT } from "./prot.js";
import { IpaTableMemory, PhysTableMemory } from "./table-memory.js";

const M = 1 << 20;
const RW = PROT.READ | PROT.WRITE;

function host() {
  const memory = PhysTableMemory.standalone(64 * M);
  return { store: memory.store, memory };
}

describe("IpaTableMemory: a guest's tables at IPAs, reached through stage 2", () => {
  it("builds guest stage-1 tables at IPAs that differ from their PAs, and a nested walk reads them", () => {
    const { store, memory } = host();
    const s2 = new PageTable(
      createLpaeFormat({ stage: 2, granule: 4096, ias: 40, oas: 40 }),
      memory,
    );
    // Guest RAM: IPA 0x4000_0000 (16 MiB) is host PA 0x8100_0000.
    s2.map(0x4000_0000, 0x8100_0000, 16 * M, RW);
    // The guest keeps its page tables in the first 2 MiB of its RAM.
    const guestTables = new IpaTableMemory(store, s2, 0x4000_0000, 2 * M);
    const s1 = new PageTable(
      createLpaeFormat({ stage: 1, granule: 4096, ias: 39, oas: 40 }),
      guestTables,
    );
    expect(s1.root).toBe(0x4000_0000);
    // The guest maps VA 0x1000 to its IPA 0x4080_0000 (host PA 0x8180_0000).
    s1.map(0x1000, 0x4080_0000, 4096, RW);
    expect(s1.translate(0x1008)?.pa).toBe(0x4080_0008);
    // The descriptors really are at the host PA stage 2 gives for the table IPA.
    expect(store.isMaterialized(0x8100_0000)).toBe(true);
    expect(store.isMaterialized(0x4000_0000)).toBe(false);
    const ctx = new TranslationRegime({
      name: "vcpu",
      ttbr0: rootOf(s1),
      stage2: rootOf(s2),
      vmid: 1,
    });
    const out = new TranslateOut();
    expect(ctx.translate(0x1008, { kind: "read", privileged: true }, out)).toBe(0);
    expect(out.pa).toBe(0x8180_0008);
    // 3 stage-1 levels; stage 2 maps guest RAM with 2M blocks (levels 1 and 2), so each of the
    // 3 table fetches and the output take 2 stage-2 reads.
    expect(ctx.stats.descriptorReads).toBe(3 + 3 * 2 + 2);
  });

  it("refuses tables at IPAs stage 2 does not map, changing nothing", () => {
    const { store, memory } = host();
    const s2 = new PageTable(
      createLpaeFormat({ stage: 2, granule: 4096, ias: 40, oas: 40 }),
      memory,
    );
    const guest = new IpaTableMemory(store, s2, 0x4000_0000, 2 * M);
    expect(() => guest.allocTable(4096)).toThrow(MemweaveError);
    expect(guest.liveTables).toBe(0);
    expect(() => guest.words(0x4000_0000)).toThrow(/IPA 0x40000000 is not mapped by stage 2/);
    s2.map(0x4000_0000, 0x8100_0000, 2 * M, RW);
    expect(guest.allocTable(4096)).toBe(0x4000_0000);
  });
});
