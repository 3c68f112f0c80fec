import { fc, it } from "@fast-check/vitest";
import { describe, expect } from "vitest";

import type { ErrorCode } from "../base/errors.js";
import { MemweaveError } from "../base/errors.js";
import type { Region, RegionKind, RegionSpec } from "./memory-map.js";
import { MemoryMap, REGION_KINDS } from "./memory-map.js";

const GiB = 2 ** 30;
const MiB = 2 ** 20;

function sample(): MemoryMap {
  const map = new MemoryMap();
  map.add({ name: "dram", base: 0x8000_0000, size: GiB, kind: "ram" });
  map.add({ name: "uart", base: 0x0900_0000, size: 0x1000, kind: "io" });
  map.add({ name: "hbm", base: 2 ** 40, size: 16 * GiB, kind: "device-local", device: "npu0" });
  return map;
}

function refused(map: MemoryMap, spec: RegionSpec, code: ErrorCode, ...texts: string[]): void {
  const before = map.regions().map((r) => ({ ...r }));
  const names = map.regions().map((r) => r.name);
  let err: unknown;
  try {
    map.add(spec);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(MemweaveError);
  const e = err as MemweaveError;
  expect(e.code).toBe(code);
  for (const t of texts) expect(e.message).toContain(t);
  // Nothing changed.
  expect(map.regions().map((r) => ({ ...r }))).toEqual(before);
  for (const n of names) expect(map.has(n)).toBe(true);
  if (typeof spec.name === "string" && !names.includes(spec.name))
    expect(map.has(spec.name)).toBe(false);
  if (Number.isSafeInteger(spec.base) && spec.base >= 0) {
    const owner = map.find(spec.base);
    expect(owner === undefined || names.includes(owner.name)).toBe(true);
  }
}

describe("add, get, find", () => {
  it("returns a frozen region with its end, and keeps regions sorted by base", () => {
    const map = sample();
    const dram = map.get("dram");
    expect(dram).toEqual({
      name: "dram",
      base: 0x8000_0000,
      size: GiB,
      kind: "ram",
      device: undefined,
      end: 0x8000_0000 + GiB,
    });
    expect(Object.isFrozen(dram)).toBe(true);
    expect(map.get("hbm").device).toBe("npu0");
    expect(map.regions().map((r) => r.name)).toEqual(["uart", "dram", "hbm"]);
    expect(map.has("uart")).toBe(true);
    expect(map.has("nope")).toBe(false);
  });

  it("get of an unknown name is ENOENT naming it", () => {
    expect(() => sample().get("sram")).toThrow(/^ENOENT: .*"sram"/);
    try {
      sample().get("sram");
    } catch (e) {
      expect((e as MemweaveError).code).toBe("ENOENT");
    }
  });

  it("find returns the region holding an address, undefined in holes", () => {
    const map = sample();
    expect(map.find(0x8000_0000)?.name).toBe("dram");
    expect(map.find(0x8000_0000 + GiB - 1)?.name).toBe("dram");
    expect(map.find(0x8000_0000 + GiB)).toBeUndefined();
    expect(map.find(0x7fff_ffff)).toBeUndefined();
    expect(map.find(0x0900_0fff)?.name).toBe("uart");
    expect(map.find(0x0900_1000)).toBeUndefined();
    expect(map.find(0)).toBeUndefined();
    expect(map.find(2 ** 40 + 5 * GiB)?.name).toBe("hbm");
    expect(map.find(2 ** 40 + 16 * GiB)).toBeUndefined();
    expect(map.find(Number.MAX_SAFE_INTEGER)).toBeUndefined();
    // Repeated lookups (the last-hit cache) stay correct when moving between regions and holes.
    for (const pa of [0x8000_0010, 0x8000_0000 + GiB, 0x8000_0020, 0x0900_0000, 0x8000_0000 - 1])
      expect(map.find(pa)?.name).toBe(
        pa >= 0x8000_0000 && pa < 0x8000_0000 + GiB
          ? "dram"
          : pa >= 0x0900_0000 && pa < 0x0900_1000
            ? "uart"
            : undefined,
      );
  });

  it("findRange needs the whole range inside one region", () => {
    const map = new MemoryMap();
    map.add({ name: "a", base: 0x1000, size: 0x2000, kind: "ram" });
    map.add({ name: "b", base: 0x3000, size: 0x1000, kind: "ram" }); // adjacent to a
    expect(map.findRange(0x1000, 0x2000)?.name).toBe("a");
    expect(map.findRange(0x2fff, 1)?.name).toBe("a");
    expect(map.findRange(0x2fff, 2)).toBeUndefined(); // crosses from a into b
    expect(map.findRange(0x3000, 0x1000)?.name).toBe("b");
    expect(map.findRange(0x3000, 0x1001)).toBeUndefined(); // runs into the hole
    expect(map.findRange(0x0fff, 2)).toBeUndefined(); // starts in a hole
    expect(map.findRange(0x1800, 0)?.name).toBe("a");
    expect(map.findRange(0x4000, 0)).toBeUndefined();
  });

  it("totalBytes sums by kind", () => {
    const map = sample();
    expect(map.totalBytes()).toBe(GiB + 0x1000 + 16 * GiB);
    expect(map.totalBytes("ram")).toBe(GiB);
    expect(map.totalBytes("io")).toBe(0x1000);
    expect(map.totalBytes("device-local")).toBe(16 * GiB);
  });

  it("accepts adjacent regions and a region up to the top of the safe range", () => {
    const map = new MemoryMap();
    map.add({ name: "a", base: 0, size: 0x1000, kind: "ram" });
    map.add({ name: "b", base: 0x1000, size: 0x1000, kind: "ram" });
    const top = map.add({ name: "top", base: 2 ** 52, size: 2 ** 51, kind: "ram" });
    expect(top.end).toBe(2 ** 52 + 2 ** 51);
    expect(map.find(0xfff)?.name).toBe("a");
    expect(map.find(0x1000)?.name).toBe("b");
    expect(map.find(2 ** 52 + 2 ** 51 - 1)?.name).toBe("top");
    expect(REGION_KINDS).toEqual(["ram", "io", "device-local"]);
  });
});

describe("add refuses, changing nothing", () => {
  it("a duplicate name (EEXIST)", () => {
    refused(
      sample(),
      { name: "dram", base: 0x1_0000_0000_0000, size: 0x1000, kind: "ram" },
      "EEXIST",
      'region "dram" already exists',
    );
  });

  it.each([
    ["inside", 0x8000_1000, 0x1000],
    ["straddling the start", 0x7fff_f000, 0x2000],
    ["straddling the end", 0x8000_0000 + GiB - 0x1000, 0x2000],
    ["covering", 0x4000_0000, 4 * GiB],
    ["identical", 0x8000_0000, GiB],
  ])("an overlap %s (EEXIST, names both regions)", (_what, base, size) => {
    refused(
      sample(),
      { name: "new", base, size, kind: "ram" },
      "EEXIST",
      'region "new"',
      'overlaps region "dram"',
      "0x80000000-0xbfffffff",
    );
  });

  it("size 0 (EINVAL)", () => {
    refused(
      sample(),
      { name: "z", base: 0x1000, size: 0, kind: "ram" },
      "EINVAL",
      'region "z"',
      "size 0",
    );
  });

  it("a misaligned base (EINVAL)", () => {
    refused(
      sample(),
      { name: "m", base: 0x1800, size: 0x1000, kind: "ram" },
      "EINVAL",
      'region "m" base 0x1800',
    );
  });

  it("a misaligned size (EINVAL)", () => {
    refused(
      sample(),
      { name: "m", base: 0x1000, size: 0x1200, kind: "ram" },
      "EINVAL",
      'region "m" size 0x1200',
    );
  });

  it.each([
    [-0x1000, "EINVAL", "-4096"],
    [1.5, "EINVAL", "1.5"],
    [NaN, "EINVAL", "NaN"],
    [2 ** 53, "ERANGE", "9007199254740992"],
  ] as Array<[number, ErrorCode, string]>)("a bad base %d (%s)", (base, code, shown) => {
    refused(
      sample(),
      { name: "b", base, size: 0x1000, kind: "ram" },
      code,
      'region "b" base',
      shown,
    );
  });

  it("a bad kind (EINVAL)", () => {
    refused(
      sample(),
      { name: "k", base: 0x1000, size: 0x1000, kind: "rom" as RegionKind },
      "EINVAL",
      'region "k"',
      '"rom"',
    );
  });

  it.each(["ram", "io"] as const)("a device on a %s region (EINVAL)", (kind) => {
    refused(
      sample(),
      { name: "d", base: 0x1000, size: 0x1000, kind, device: "npu0" },
      "EINVAL",
      'region "d"',
      "device",
    );
  });

  it("an end beyond 2^53 (ERANGE)", () => {
    refused(
      sample(),
      { name: "big", base: 2 ** 53 - 0x1000, size: 0x2000, kind: "ram" },
      "ERANGE",
      'region "big"',
      "0x1ffffffffff000",
    );
  });

  it("a region without a name (EINVAL)", () => {
    refused(sample(), { name: "", base: 0x1000, size: 0x1000, kind: "ram" }, "EINVAL", "name");
  });
});

// ---------------------------------------------------------------------------------------------

/** Non-overlapping page-aligned regions (with holes and adjacency), in a random order. */
const layout = fc
  .array(
    fc.record({
      gap: fc.oneof(
        fc.constant(0),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 2 ** 28 }),
      ),
      pages: fc.oneof(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 2 ** 20 })),
    }),
    { minLength: 0, maxLength: 25 },
  )
  .chain((parts) => {
    let cursor = 0x1000 * 2 ** 20; // start at 4 GiB
    const specs: RegionSpec[] = parts.map((p, i) => {
      cursor += p.gap * 0x1000;
      const spec: RegionSpec = {
        name: `r${i}`,
        base: cursor,
        size: p.pages * 0x1000,
        kind: REGION_KINDS[i % 3]!,
      };
      if (spec.kind === "device-local") spec.device = `dev${i}`;
      cursor += spec.size;
      return spec;
    });
    return fc.shuffledSubarray(specs, { minLength: specs.length, maxLength: specs.length });
  });

function linearFind(regions: readonly Region[], pa: number): Region | undefined {
  return regions.find((r) => pa >= r.base && pa < r.base + r.size);
}

describe("find property", () => {
  it.prop(
    [
      layout,
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 50, maxLength: 50 }),
    ],
    {
      numRuns: 200,
    },
  )("binary search agrees with a linear scan for random addresses", (specs, fractions) => {
    const map = new MemoryMap();
    for (const s of specs) map.add(s);
    const regions = map.regions();
    expect(regions.length).toBe(specs.length);
    for (let i = 1; i < regions.length; i++)
      expect(regions[i]!.base).toBeGreaterThanOrEqual(regions[i - 1]!.end);
    const lo = 4 * GiB - MiB;
    const hi = regions.length ? regions[regions.length - 1]!.end + MiB : 8 * GiB;
    const probes: number[] = fractions.map((f) => lo + Math.floor(f * (hi - lo)));
    // Every boundary, and one byte either side.
    for (const r of regions) probes.push(r.base - 1, r.base, r.end - 1, r.end);
    for (const pa of probes) {
      const expected = linearFind(specs as unknown as Region[], pa);
      expect(map.find(pa)?.name, `pa 0x${pa.toString(16)}`).toBe(expected?.name);
      expect(map.findRange(pa, 1)?.name).toBe(expected?.name);
    }
  });

  it.prop([layout], { numRuns: 100 })(
    "a region overlapping any existing one is refused and changes nothing",
    (specs) => {
      fc.pre(specs.length > 0);
      const map = new MemoryMap();
      for (const s of specs) map.add(s);
      const victim = specs[0]!;
      refused(
        map,
        { name: "intruder", base: victim.base + victim.size - 0x1000, size: 0x2000, kind: "ram" },
        "EEXIST",
        `overlaps region "${victim.name}"`,
      );
    },
  );
});
