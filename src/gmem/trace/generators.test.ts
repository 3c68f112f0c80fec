import { describe, expect, it } from "vitest";

import { expectError } from "../../base/errors.testutil.js";
import { hotSet, mix, sequential, strided, uniform } from "./generators.js";
import type { TraceCursor } from "./types.js";
import { arrayCursor, collect, iterate, newAccess } from "./types.js";

const addrs = (t: TraceCursor): number[] => collect(t).map((a) => a.addr);

describe("sequential and strided", () => {
  it("sequential: one dense pass by default", () => {
    const t = sequential({ start: 0x1000, length: 32 });
    expect(t.total).toBe(4);
    expect(collect(t)).toEqual(
      [0x1000, 0x1008, 0x1010, 0x1018].map((addr) => ({ who: "cpu", op: "r", addr, size: 8 })),
    );
  });

  it("sequential wraps to the start; a stride skips; the last access fits", () => {
    expect(addrs(sequential({ start: 0, length: 20, stride: 8, size: 4, count: 7 }))).toEqual([
      0, 8, 16, 0, 8, 16, 0,
    ]);
    expect(addrs(sequential({ start: 0, length: 20, size: 8 }))).toEqual([0, 8]);
  });

  it("strided: each pass moves size bytes into the stride, then starts over", () => {
    // stride 16, size 4: offsets 0, 4, 8, 12, then 0 again
    const t = strided({ start: 100, length: 32, stride: 16, size: 4, count: 10 });
    expect(addrs(t)).toEqual([100, 116, 104, 120, 108, 124, 112, 128, 100, 116]);
    expect(strided({ start: 0, length: 32, stride: 16 }).total).toBe(2);
  });

  it("a strided pass whose offset would not fit starts over", () => {
    // length 20, stride 16, size 8: offset 8 fits (8..16), offset 16 would be past the stride
    expect(addrs(strided({ start: 0, length: 20, stride: 16, size: 8, count: 4 }))).toEqual([
      0, 8, 0, 8,
    ]);
  });
});

describe("random generators", () => {
  it("are deterministic per seed and rewind to the same sequence", () => {
    const opts = { start: 0, length: 1 << 20, count: 200, seed: 5, writeRatio: 0.5 };
    const a = collect(uniform(opts));
    expect(collect(uniform(opts))).toEqual(a);
    const t = uniform(opts);
    collect(t, 17);
    t.rewind();
    expect(collect(t)).toEqual(a);
    expect(collect(uniform({ ...opts, seed: 6 }))).not.toEqual(a);
  });

  it("uniform: aligned addresses inside the region, every slot reachable", () => {
    const seen = new Set<number>();
    for (const a of iterate(uniform({ start: 64, length: 64, count: 400, size: 8 }))) {
      expect(a.addr % 8).toBe(0);
      expect(a.addr >= 64 && a.addr + 8 <= 128).toBe(true);
      seen.add(a.addr);
    }
    expect(seen.size).toBe(8);
    for (const a of iterate(uniform({ start: 0, length: 4096, count: 50, size: 4, align: 64 })))
      expect(a.addr % 64).toBe(0);
  });

  it("the write ratio and who weights do not move the addresses (separate streams)", () => {
    const base = { start: 0, length: 1 << 30, count: 500, seed: 9 };
    const plain = addrs(uniform(base));
    expect(addrs(uniform({ ...base, writeRatio: 0.3, who: { cpu: 1, gpu0: 2 } }))).toEqual(plain);
  });

  it("write ratio and who weights come out about right", () => {
    const list = collect(
      uniform({
        start: 0,
        length: 1 << 20,
        count: 4000,
        writeRatio: 0.25,
        who: { cpu: 1, gpu0: 3, npu: 0 },
      }),
    );
    const writes = list.filter((a) => a.op === "w").length;
    const gpu = list.filter((a) => a.who === "gpu0").length;
    expect(writes).toBeGreaterThan(850);
    expect(writes).toBeLessThan(1150);
    expect(gpu).toBeGreaterThan(2850);
    expect(gpu).toBeLessThan(3150);
    expect(list.some((a) => a.who === "npu")).toBe(false);
    expect(
      collect(uniform({ start: 0, length: 64, count: 5, writeRatio: 1 })).every(
        (a) => a.op === "w",
      ),
    ).toBe(true);
  });

  it("hot set: the hot fraction lands in the hot set, the rest anywhere", () => {
    const hotStart = 1 << 20;
    const hotLength = 1 << 16;
    const list = collect(
      hotSet({
        start: 0,
        length: 1 << 24,
        hotStart,
        hotLength,
        hotFraction: 0.8,
        count: 5000,
        seed: 3,
      }),
    );
    const hot = list.filter((a) => a.addr >= hotStart && a.addr < hotStart + hotLength).length;
    // 80% plus the cold accesses that fall in the hot set by chance (1/256 of 20%)
    expect(hot).toBeGreaterThan(3850);
    expect(hot).toBeLessThan(4150);
    const all = collect(
      hotSet({ start: 0, length: 1 << 24, hotLength: 4096, hotFraction: 1, count: 100 }),
    );
    expect(all.every((a) => a.addr + a.size <= 4096)).toBe(true);
  });
});

describe("mix", () => {
  it("interleaves parts by weight until every part ends", () => {
    const t = mix({
      seed: 1,
      parts: [
        { weight: 1, trace: sequential({ start: 0, length: 80, who: "cpu" }) },
        { weight: 3, trace: sequential({ start: 0x1000, length: 800, who: "gpu0" }) },
      ],
    });
    expect(t.total).toBe(110);
    const list = collect(t);
    expect(list).toHaveLength(110);
    // each part keeps its own order
    expect(list.filter((a) => a.who === "cpu").map((a) => a.addr)).toEqual(
      addrs(sequential({ start: 0, length: 80 })),
    );
    // early on, about 3 in 4 accesses are gpu0's
    const first = list.slice(0, 40).filter((a) => a.who === "gpu0").length;
    expect(first).toBeGreaterThan(22);
    t.rewind();
    expect(collect(t)).toEqual(list);
  });

  it("stops at count; zero-weight parts never run", () => {
    const t = mix({
      count: 5,
      parts: [
        { weight: 1, trace: arrayCursor([{ who: "cpu", op: "w", addr: 1, size: 1 }]) },
        { weight: 0, trace: sequential({ start: 0, length: 800, who: "npu" }) },
        { weight: 2, trace: sequential({ start: 0, length: 800, who: "gpu0" }) },
      ],
    });
    const list = collect(t);
    expect(list).toHaveLength(5);
    expect(list.some((a) => a.who === "npu")).toBe(false);
  });
});

describe("streaming and validation", () => {
  it("next(out) reuses the object and clears value and line", () => {
    const t = uniform({ start: 0, length: 4096, count: 3 });
    const out = newAccess();
    out.value = new Uint8Array(8);
    out.line = 4;
    expect(t.next(out)).toBe(true);
    expect(out.value).toBeUndefined();
    expect(out.line).toBeUndefined();
    expect(t.next(out) && t.next(out)).toBe(true);
    const before = { ...out };
    expect(t.next(out)).toBe(false);
    expect(out).toEqual(before);
  });

  it("a million accesses stream quickly", () => {
    const t = hotSet({
      start: 0,
      length: 4 * 2 ** 30,
      hotLength: 2 ** 30,
      count: 1_000_000,
      writeRatio: 0.3,
      who: "gpu0",
    });
    const out = newAccess();
    let n = 0;
    let sum = 0;
    while (t.next(out)) {
      n++;
      sum += out.addr % 7;
    }
    expect(n).toBe(1_000_000);
    expect(sum).toBeGreaterThan(0);
  });

  it("refuses bad options with EINVAL naming the field", () => {
    const r = { start: 0, length: 4096 };
    expect(expectError(() => sequential({ ...r, size: 0 }), "EINVAL", "size 0").field).toBe("size");
    expectError(() => sequential({ ...r, size: 70000 }), "EINVAL", "1..65535");
    expectError(() => sequential({ ...r, stride: 0 }), "EINVAL", "stride");
    expectError(() => sequential({ start: 0, length: 4 }), "EINVAL", "length 4 is below size 8");
    expectError(() => sequential({ start: -1, length: 64 }), "EINVAL", "start");
    expectError(() => sequential({ start: 2 ** 53 - 8, length: 16 }), "EINVAL", "beyond 2^53");
    expectError(() => uniform({ ...r, count: 1.5 }), "EINVAL", "count");
    expectError(() => uniform({ ...r, count: 1, writeRatio: 2 }), "EINVAL", "writeRatio");
    expectError(() => uniform({ ...r, count: 1, who: { cpu: 0 } }), "EINVAL", "no positive weight");
    expectError(() => uniform({ ...r, count: 1, who: "gp u" }), "EINVAL", "not a name");
    expectError(() => uniform({ ...r, count: 1, seed: -2 }), "EINVAL", "seed");
    expectError(
      () => hotSet({ ...r, count: 1, hotStart: 4000, hotLength: 1024 }),
      "EINVAL",
      "not inside",
    );
    expectError(
      () => hotSet({ ...r, count: 1, hotLength: 4, hotFraction: 0.5 }),
      "EINVAL",
      "hotLength 4",
    );
    expectError(
      () => hotSet({ ...r, count: 1, hotLength: 64, hotFraction: 1.1 }),
      "EINVAL",
      "hotFraction",
    );
    expectError(() => mix({ parts: [] }), "EINVAL", "at least one part");
  });
});
