import { describe, expect, it } from "vitest";

import type { ErrorCode } from "../base/errors.js";
import type { MemEvent } from "../base/events.js";
import type { TargetSpec, TargetStats } from "../phys/target.js";
import type { IoHandler, PlatformDescription } from "./platform.js";
import { Platform } from "./platform.js";
import { expectError } from "../base/errors.testutil.js";

const MiB = 2 ** 20;
const DRAM = 0x8000_0000;
const HBM = 2 ** 40; // device-local memory above 2^32
const UART = 0x0900_0000;

function description(): PlatformDescription {
  return {
    regions: [
      { name: "dram", base: DRAM, size: 64 * MiB, kind: "ram" },
      { name: "hbm", base: HBM, size: 16 * MiB, kind: "device-local", device: "npu0" },
      { name: "uart", base: UART, size: 0x1000, kind: "io" },
    ],
    targets: [
      {
        name: "system",
        ranges: [{ region: "dram", size: 32 * MiB }],
        allocator: { kind: "buddy" },
      },
      { name: "npu", ranges: [{ region: "hbm" }], allocator: { kind: "contiguous" } },
    ],
    seed: 7,
  };
}

function allStats(p: Platform): Record<string, TargetStats> {
  return Object.fromEntries(p.targets().map((t) => [t.name, t.stats()]));
}

/** An IO handler that records accesses and serves reads from a small register file. */
function registers(): IoHandler & { log: string[]; regs: Uint8Array } {
  const regs = new Uint8Array(0x1000);
  const log: string[] = [];
  return {
    log,
    regs,
    read(offset, out) {
      log.push(`read ${offset.toString(16)}+${out.length}`);
      out.set(regs.subarray(offset, offset + out.length));
    },
    write(offset, data) {
      log.push(`write ${offset.toString(16)}+${data.length}`);
      regs.set(data, offset);
    },
  };
}

describe("building", () => {
  it("builds the map and the targets from a description", () => {
    const p = new Platform(description());
    expect(p.map.regions().map((r) => r.name)).toEqual(["uart", "dram", "hbm"]);
    expect(p.targets().map((t) => t.name)).toEqual(["system", "npu"]);
    expect(p.target("system").kind).toBe("buddy");
    expect(p.target("system").ranges).toEqual([{ region: "dram", base: DRAM, size: 32 * MiB }]);
    expect(p.target("npu").ranges).toEqual([{ region: "hbm", base: HBM, size: 16 * MiB }]);
    expect(p.target("system").stats()).toMatchObject({
      totalBytes: 32 * MiB,
      freeBytes: 32 * MiB,
      liveAllocations: 0,
    });
    expect(p.rng.seed).toBe(7);
    expect(new Platform({ regions: [] }).rng.seed).toBe(0);
  });

  it("is deterministic: same seed, same random stream", () => {
    const a = new Platform(description());
    const b = new Platform(description());
    expect([a.rng.u32(), a.rng.u32()]).toEqual([b.rng.u32(), b.rng.u32()]);
  });

  it("an invalid description throws", () => {
    const d = description();
    d.regions.push({ name: "dram2", base: DRAM + MiB, size: MiB, kind: "ram" });
    expectError(() => new Platform(d), "EEXIST", '"dram2"', '"dram"');
  });

  it("target() of an unknown name is ENOENT listing the names", () => {
    expectError(() => new Platform(description()).target("gpu"), "ENOENT", '"gpu"', "system, npu");
  });
});

describe("addTarget refusals change nothing", () => {
  function refuse(spec: TargetSpec, code: ErrorCode, ...texts: string[]): void {
    const p = new Platform(description());
    const before = p.targets().map((t) => t.describe());
    expectError(() => p.addTarget(spec), code, ...texts);
    expect(p.targets().map((t) => t.describe())).toEqual(before);
    if (!before.some((d) => d.startsWith(`${spec.name} `)))
      expectError(() => p.target(spec.name), "ENOENT");
  }

  it("a duplicate name (EEXIST)", () => {
    refuse(
      {
        name: "system",
        ranges: [{ region: "dram", offset: 32 * MiB }],
        allocator: { kind: "buddy" },
      },
      "EEXIST",
      'target "system" already exists',
    );
  });

  it("a range overlapping another target's (EEXIST), naming both", () => {
    refuse(
      {
        name: "dma",
        ranges: [{ region: "dram", offset: 31 * MiB, size: 2 * MiB }],
        allocator: { kind: "contiguous" },
      },
      "EEXIST",
      'target "dma"',
      'overlaps target "system"',
    );
  });

  it("an overlap in a later range (EEXIST)", () => {
    refuse(
      {
        name: "dma",
        ranges: [{ region: "dram", offset: 32 * MiB, size: MiB }, { region: "hbm" }],
        allocator: { kind: "buddy" },
      },
      "EEXIST",
      'overlaps target "npu"',
    );
  });

  it("a range on an IO region (EINVAL)", () => {
    refuse(
      { name: "regs", ranges: [{ region: "uart" }], allocator: { kind: "buddy" } },
      "EINVAL",
      '"uart"',
      "IO",
    );
  });

  it("a range on an unknown region (ENOENT)", () => {
    refuse(
      { name: "sram", ranges: [{ region: "sram0" }], allocator: { kind: "buddy" } },
      "ENOENT",
      '"sram0"',
    );
  });

  it("a free part of a region is accepted beside another target", () => {
    const p = new Platform(description());
    const t = p.addTarget({
      name: "dma",
      ranges: [{ region: "dram", offset: 32 * MiB }],
      allocator: { kind: "contiguous" },
    });
    expect(t.ranges).toEqual([{ region: "dram", base: DRAM + 32 * MiB, size: 32 * MiB }]);
    expect(p.targets().map((x) => x.name)).toEqual(["system", "npu", "dma"]);
  });

  // A target's own ranges must not overlap either, or the same memory is handed out twice.
  it("a target whose own ranges overlap is refused (EEXIST)", () => {
    const p = new Platform({ regions: description().regions });
    expectError(
      () =>
        p.addTarget({
          name: "twice",
          ranges: [{ region: "dram" }, { region: "dram" }],
          allocator: { kind: "buddy" },
        }),
      "EEXIST",
    );
  });
});

describe("memory accesses", () => {
  it("reads and writes RAM and device-local memory", () => {
    const p = new Platform(description());
    p.write(DRAM + 0xffe, new Uint8Array([1, 2, 3, 4]));
    expect(Array.from(p.read(DRAM + 0xffd, 6))).toEqual([0, 1, 2, 3, 4, 0]);
    p.write(HBM + 16 * MiB - 2, new Uint8Array([0xaa, 0xbb]));
    expect(Array.from(p.read(HBM + 16 * MiB - 2, 2))).toEqual([0xaa, 0xbb]);
    expect(p.store.readU32(DRAM + 0xffe)).toBe(0x04030201);
    // Memory outside any target is still accessible RAM.
    p.write(DRAM + 40 * MiB, new Uint8Array([9]));
    expect(p.read(DRAM + 40 * MiB, 1)[0]).toBe(9);
    const out = new Uint8Array(4);
    expect(p.readInto(DRAM + 0xffe, out)).toBe(out);
    expect(Array.from(out)).toEqual([1, 2, 3, 4]);
  });

  it("fill and copy work within and between memory regions", () => {
    const p = new Platform(description());
    p.fill(DRAM + 0x100, 0x2000, 0x5a);
    expect(p.read(DRAM + 0xff, 0x2002)).toEqual(
      Uint8Array.from({ length: 0x2002 }, (_, i) => (i === 0 || i === 0x2001 ? 0 : 0x5a)),
    );
    p.copy(HBM + 0x10, DRAM + 0x100, 0x2000);
    expect(p.read(HBM + 0x10, 0x2000).every((b) => b === 0x5a)).toBe(true);
    // Overlapping copy in one region.
    p.write(DRAM, new Uint8Array([1, 2, 3, 4, 5]));
    p.copy(DRAM + 1, DRAM, 5);
    expect(Array.from(p.read(DRAM, 6))).toEqual([1, 1, 2, 3, 4, 5]);
  });

  it.each([0x100, -1, 1.5])("fill refuses the value %d (EINVAL)", (v) => {
    const p = new Platform(description());
    expectError(() => p.fill(DRAM, 16, v), "EINVAL", String(v));
    expect(p.store.materializedPages).toBe(0);
  });

  it("an access to a hole is a bus error naming the address", () => {
    const p = new Platform(description());
    const hole = DRAM - 0x10;
    expectError(() => p.read(hole, 4), "EFAULT", "bus error", "0x7ffffff0");
    expectError(() => p.write(0x1234, new Uint8Array(1)), "EFAULT", "bus error", "0x1234");
    expectError(() => p.fill(HBM + 16 * MiB, 8, 0), "EFAULT", "bus error", "0x10001000000");
    expectError(() => p.copy(DRAM, 0x10, 4), "EFAULT", "bus error", "0x10");
    expect(p.store.materializedPages).toBe(0);
  });

  it("an access running past the end of a region is a bus error naming it", () => {
    const p = new Platform(description());
    const end = DRAM + 64 * MiB;
    expectError(
      () => p.write(end - 2, new Uint8Array(4)),
      "EFAULT",
      "bus error",
      "0x83fffffe",
      '"dram"',
    );
    expectError(() => p.read(end - 1, 2), "EFAULT", "bus error", "0x83ffffff", '"dram"');
    expectError(() => p.copy(end - 4, DRAM, 8), "EFAULT", "bus error", "0x83fffffc");
    // A write that fails writes nothing, not even its in-range part.
    expect(p.store.materializedPages).toBe(0);
  });

  it("an access in an IO region without a handler is a bus error", () => {
    const p = new Platform(description());
    expectError(() => p.read(UART + 4, 4), "EFAULT", "bus error", '"uart"', "0x9000004");
    expectError(() => p.write(UART, new Uint8Array(4)), "EFAULT", '"uart"');
  });
});

describe("IO regions", () => {
  it("a register access reaches the handler with a region-relative offset", () => {
    const p = new Platform(description());
    const dev = registers();
    p.attachIoHandler("uart", dev);
    p.write(UART + 0x18, new Uint8Array([0x11, 0x22, 0x33, 0x44]));
    expect(Array.from(dev.regs.subarray(0x18, 0x1c))).toEqual([0x11, 0x22, 0x33, 0x44]);
    expect(Array.from(p.read(UART + 0x18, 4))).toEqual([0x11, 0x22, 0x33, 0x44]);
    expect(Array.from(p.read(UART + 0x19, 2))).toEqual([0x22, 0x33]);
    expect(dev.log).toEqual(["write 18+4", "read 18+4", "read 19+2"]);
    // The byte store is not involved.
    expect(p.store.materializedPages).toBe(0);
  });

  it("a register access past the region's end is a bus error and reaches no handler", () => {
    const p = new Platform(description());
    const dev = registers();
    p.attachIoHandler("uart", dev);
    expectError(() => p.read(UART + 0xffc, 8), "EFAULT", "bus error", '"uart"');
    expect(dev.log).toEqual([]);
  });

  it("attaching replaces an earlier handler; only IO regions take one", () => {
    const p = new Platform(description());
    const a = registers();
    const b = registers();
    p.attachIoHandler("uart", a);
    p.attachIoHandler("uart", b);
    p.read(UART, 4);
    expect(a.log).toEqual([]);
    expect(b.log).toEqual(["read 0+4"]);
    expectError(() => p.attachIoHandler("dram", registers()), "EINVAL", '"dram"', "ram");
    expectError(() => p.attachIoHandler("nope", registers()), "ENOENT", '"nope"');
  });

  it("fill and copy refuse IO regions (EFAULT)", () => {
    const p = new Platform(description());
    const dev = registers();
    p.attachIoHandler("uart", dev);
    expectError(() => p.fill(UART, 4, 1), "EFAULT", '"uart"');
    expectError(() => p.copy(UART, DRAM, 4), "EFAULT", '"uart"');
    expectError(() => p.copy(DRAM, UART, 4), "EFAULT", '"uart"');
    expect(dev.log).toEqual([]);
    expect(p.store.materializedPages).toBe(0);
  });

  it("emits phys.io events with the access", () => {
    const p = new Platform(description());
    p.attachIoHandler("uart", registers());
    const rec = p.bus.record();
    p.write(UART + 8, new Uint8Array(2));
    p.read(UART + 12, 4);
    rec.stop();
    expect(rec.events.map(({ seq: _seq, ...e }) => e)).toEqual([
      { type: "phys.io", region: "uart", offset: 8, size: 2, access: "write" },
      { type: "phys.io", region: "uart", offset: 12, size: 4, access: "read" },
    ]);
  });
});

describe("allocation and events", () => {
  it("emits phys.alloc, phys.write and phys.free with plain JSON payloads", () => {
    const p = new Platform(description());
    const rec = p.bus.record();
    const a = p.alloc("system", 64 * 1024);
    const pa = a.chunks[0]!.pa;
    p.write(pa, new Uint8Array([1, 2, 3]));
    p.fill(pa + 8, 16, 0xff);
    p.copy(pa + 100, pa, 3);
    p.free(a);
    rec.stop();
    expect(rec.events.map((e) => e.type)).toEqual([
      "phys.alloc",
      "phys.write",
      "phys.write",
      "phys.write",
      "phys.free",
    ]);
    const [alloc, w1, w2, w3, free] = rec.events as [
      MemEvent<"phys.alloc">,
      MemEvent<"phys.write">,
      MemEvent<"phys.write">,
      MemEvent<"phys.write">,
      MemEvent<"phys.free">,
    ];
    expect(alloc).toEqual({
      seq: alloc.seq,
      type: "phys.alloc",
      target: "system",
      id: a.id,
      size: 64 * 1024,
      chunks: [{ pa, size: 64 * 1024 }],
    });
    expect(w1).toMatchObject({ type: "phys.write", pa, size: 3, region: "dram" });
    expect(w2).toMatchObject({ pa: pa + 8, size: 16, region: "dram" });
    expect(w3).toMatchObject({ pa: pa + 100, size: 3, region: "dram" });
    expect(free).toEqual({
      seq: free.seq,
      type: "phys.free",
      target: "system",
      id: a.id,
      size: 64 * 1024,
    });
    const seqs = rec.events.map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    for (const e of rec.events) expect(JSON.parse(JSON.stringify(e))).toStrictEqual(e);
  });

  it("a failed allocation emits phys.alloc-failed and allocates nothing", () => {
    const p = new Platform(description());
    const rec = p.bus.record();
    expectError(() => p.alloc("npu", 32 * MiB), "ENOMEM");
    rec.stop();
    expect(rec.events).toHaveLength(1);
    expect(rec.events[0]).toMatchObject({
      type: "phys.alloc-failed",
      target: "npu",
      size: 32 * MiB,
      code: "ENOMEM",
    });
    expect(JSON.parse(JSON.stringify(rec.events[0]))).toStrictEqual(rec.events[0]);
    expect(p.target("npu").stats()).toMatchObject({ liveAllocations: 0, freeBytes: 16 * MiB });
  });

  it("allocation ids are unique across targets", () => {
    const p = new Platform(description());
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(p.alloc("system", 4096).id);
      ids.push(p.alloc("npu", 8192).id);
    }
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) {
      const a = p.allocation(id);
      expect(a.id).toBe(id);
      expect(p.target(a.target).has(id)).toBe(true);
      expect(p.target(a.target === "system" ? "npu" : "system").has(id)).toBe(false);
    }
    // A freed id is not reused.
    p.free(ids[0]!);
    expect(ids).not.toContain(p.alloc("npu", 4096).id);
  });

  it("allocations come from the target's range and do not overlap", () => {
    const p = new Platform(description());
    const a = p.alloc("system", MiB);
    const b = p.alloc("system", MiB);
    const c = p.alloc("npu", 3 * 4096);
    for (const x of [a, b]) {
      const { pa, size } = x.chunks[0]!;
      expect(pa >= DRAM && pa + size <= DRAM + 32 * MiB).toBe(true);
    }
    expect(Math.abs(a.chunks[0]!.pa - b.chunks[0]!.pa)).toBeGreaterThanOrEqual(MiB);
    expect(c.chunks).toEqual([{ pa: HBM, size: 3 * 4096 }]);
    expect(p.map.find(c.chunks[0]!.pa)?.kind).toBe("device-local");
  });

  it("frees by id and by allocation", () => {
    const p = new Platform(description());
    const a = p.alloc("system", 8192);
    const b = p.alloc("npu", 8192);
    p.free(a.id);
    p.free(b);
    for (const t of ["system", "npu"])
      expect(p.target(t).stats()).toMatchObject({
        liveAllocations: 0,
        freeCalls: 1,
        allocCalls: 1,
      });
    expect(p.target("system").stats().freeBytes).toBe(32 * MiB);
    expect(p.target("npu").stats().freeBytes).toBe(16 * MiB);
    expectError(() => p.allocation(a.id), "EINVAL", `#${a.id}`);
    // Freeing again: EINVAL, no change.
    const before = allStats(p);
    expectError(() => p.free(a), "EINVAL");
    expectError(() => p.free(b.id), "EINVAL", `#${b.id}`);
    expect(allStats(p)).toEqual(before);
  });

  it("free of an unknown id is EINVAL naming it, with no change to stats or events", () => {
    const p = new Platform(description());
    const keep = p.alloc("system", 4096);
    const before = allStats(p);
    const rec = p.bus.record();
    expectError(() => p.free(9999), "EINVAL", "9999");
    expectError(() => p.free(keep.chunks[0]!.pa), "EINVAL");
    rec.stop();
    expect(rec.events).toEqual([]);
    expect(allStats(p)).toEqual(before);
    expect(p.allocation(keep.id)).toBe(keep);
  });
});
