import { describe, expect, it } from "vitest";

import type { MemEvent } from "../base/events.js";
import type { Fault } from "../mmu/regime.js";
import { createLpaeFormat } from "../mmu/lpae.js";
import { PROT } from "../mmu/prot.js";
import { AccessFaultError, faultToJson } from "./bus-master.js";
import { Cpu } from "./cpu.js";
import {
  bytes,
  caught,
  cpuMachine,
  DRAM,
  expectError,
  faultOf,
  K,
  M,
  machine,
  pattern,
  RO,
  RW,
  UART,
} from "./machine.testutil.js";

describe("the access path", () => {
  it("splits an access at 4K page boundaries, one translation per page", () => {
    const { platform, pt, cpu, phys } = cpuMachine();
    const a = phys(4 * K);
    phys(4 * K); // a gap: the two pages are not physically contiguous
    const b = phys(4 * K);
    expect(b).not.toBe(a + 4 * K);
    pt.map(0x10_0000, a, 4 * K, RW);
    pt.map(0x10_1000, b, 4 * K, RW);
    const rec = platform.bus.record();
    cpu.write(0x10_0ffc, pattern(8));
    rec.stop();
    expect(platform.read(a + 0xffc, 4)).toEqual(pattern(4));
    expect(platform.read(b, 4)).toEqual(pattern(4, 5));
    expect(cpu.read(0x10_0ffc, 8)).toEqual(pattern(8));
    expect(cpu.stats).toMatchObject({ reads: 1, writes: 1, bytesRead: 8, bytesWritten: 8 });
    expect(cpu.stats.translations).toBe(4);
    const access = rec.events.find((e) => e.type === "device.access") as MemEvent<"device.access">;
    expect(access).toMatchObject({
      master: "cpu0",
      va: 0x10_0ffc,
      size: 8,
      kind: "write",
      privileged: true,
      pa: a + 0xffc,
      tlb: "miss",
      chunks: 2,
    });
  });

  it("walks once per 2M block, and splits at the block boundary", () => {
    const { pt, cpu, phys, platform } = cpuMachine();
    const a = phys(4 * M, 2 * M);
    pt.map(0x4000_0000, a, 4 * M, RW);
    expect(pt.translate(0x4000_0000)!.size).toBe(2 * M);
    const data = pattern(64 * K);
    cpu.write(0x4000_0000, data);
    expect(cpu.stats.translations).toBe(1);
    expect(cpu.mmu.stats.walks).toBe(1);
    cpu.write(0x401f_fff0, pattern(32));
    expect(cpu.stats.translations).toBe(3);
    expect(platform.read(a + 2 * M - 16, 32)).toEqual(pattern(32));
    expect(cpu.read(0x4000_0000, 64 * K)).toEqual(data);
    expect(cpu.tlb.stats().valid).toBe(2); // two 2M entries
  });

  it("counts TLB hits and misses per chunk and reports them in events", () => {
    const { platform, pt, cpu, phys } = cpuMachine();
    pt.map(0x1000, phys(4 * K), 4 * K, RW);
    const rec = platform.bus.record();
    cpu.read(0x1000, 4);
    cpu.read(0x1004, 4);
    rec.stop();
    const tlbs = rec.events.filter((e) => e.type === "device.access").map((e) => e.tlb);
    expect(tlbs).toEqual(["miss", "hit"]);
    expect(cpu.stats).toMatchObject({ tlbHits: 1, tlbMisses: 1 });
  });

  it("counts the events of an access nobody observes without building them; zero bytes do nothing", () => {
    const { platform, pt, cpu, phys } = cpuMachine();
    pt.map(0x1000, phys(4 * K), 4 * K, RW);
    const count = (type: string) => platform.bus.occurrences().get(type) ?? 0;
    const seq = platform.bus.nextSeq;
    cpu.read(0x1000, 4); // the fast path: one device.access, counted
    cpu.write(0x1000, bytes(4)); // one device.access and one phys.write
    expect(platform.bus.nextSeq).toBe(seq + 3);
    expect([count("device.access"), count("phys.write")]).toEqual([2, 1]);
    // An observer of another type leaves the fast path on and the counts the same.
    const other = platform.bus.on("phys.alloc", () => {});
    cpu.read(0x1000, 4);
    other.dispose();
    expect(count("device.access")).toBe(3);
    expect(cpu.read(0xdead_0000, 0)).toEqual(new Uint8Array(0));
    cpu.write(0xdead_0000, new Uint8Array(0));
    expect(cpu.stats.faults).toBe(0);
    expect(platform.bus.nextSeq).toBe(seq + 4);
  });

  it("publishes the same events, with the same sequence numbers, observed or not", () => {
    const run = (observe: boolean) => {
      const { platform, pt, cpu, phys } = cpuMachine();
      pt.map(0x1000, phys(4 * K), 4 * K, RW);
      const rec = observe ? platform.bus.record() : undefined;
      cpu.write(0x1000, bytes(8));
      cpu.read(0x1004, 4);
      expect(() => cpu.read(0x9000, 4)).toThrow(); // a fault: device.fault
      rec?.stop();
      return { counts: Object.fromEntries(platform.bus.occurrences()), next: platform.bus.nextSeq };
    };
    expect(run(false)).toEqual(run(true));
  });

  it("rejects bad addresses and lengths", () => {
    const { cpu } = cpuMachine();
    expectError(() => cpu.read(-1, 4), "EINVAL", "cpu0");
    expectError(() => cpu.read(0.5, 4), "EINVAL");
    expectError(() => cpu.read(0, -1), "EINVAL");
    expectError(() => cpu.write(0, bytes(1), { exec: true }), "EINVAL", "instruction fetch");
  });
});

describe("faults", () => {
  it("an unmapped address: a translation fault with stage, level and address", () => {
    const { cpu } = cpuMachine();
    const e = caught(() => cpu.read(0x1234, 4));
    expect(e).toBeInstanceOf(AccessFaultError);
    const f = (e as AccessFaultError).fault;
    expect(f).toMatchObject({
      kind: "translation",
      stage: 1,
      level: 0,
      va: 0x1234,
      context: "cpu0",
    });
    expect(e.code).toBe("EFAULT");
    expect(e.message).toContain("cpu0");
    expect(e.message).toContain("0x1234");
    expect(e.message).toContain("translation fault, stage 1 level 0");
    expect((e as AccessFaultError).master).toBe("cpu0");
  });

  it("reports the level where the walk stopped", () => {
    const { pt, cpu, phys } = cpuMachine();
    pt.map(0x1000, phys(4 * K), 4 * K, RW);
    const f = faultOf(() => cpu.read(0x2000, 1));
    expect(f).toMatchObject({ kind: "translation", stage: 1, level: 3, va: 0x2000 });
    const g = faultOf(() => cpu.read(0x4000_0000, 1));
    expect(g.level).toBe(1);
  });

  it("a write to a read-only mapping: a permission fault", () => {
    const { pt, cpu, phys } = cpuMachine();
    pt.map(0x1000, phys(4 * K), 4 * K, RO);
    expect(cpu.read(0x1000, 4)).toEqual(new Uint8Array(4));
    const f = faultOf(() => cpu.write(0x1000, bytes(1)));
    expect(f).toMatchObject({ kind: "permission", stage: 1, level: 3, va: 0x1000 });
    expect(f.access).toEqual({ kind: "write", privileged: true });
  });

  it("a user access to a PRIV mapping: a permission fault; the kernel's passes", () => {
    const { pt, cpu, phys } = cpuMachine();
    pt.map(0x1000, phys(4 * K), 4 * K, RW | PROT.PRIV);
    cpu.write(0x1000, bytes(7));
    const e = caught(() => cpu.read(0x1000, 1, { privileged: false }));
    expect((e as AccessFaultError).fault).toMatchObject({ kind: "permission", stage: 1, level: 3 });
    expect(e.message).toContain("unprivileged read");
  });

  it("an instruction fetch from a no-exec mapping: a permission fault", () => {
    const { pt, cpu, phys } = cpuMachine();
    pt.map(0x1000, phys(4 * K), 4 * K, RW | PROT.NOEXEC);
    pt.map(0x2000, phys(4 * K), 4 * K, RO);
    expect(cpu.read(0x2000, 4, { exec: true })).toHaveLength(4);
    const f = faultOf(() => cpu.read(0x1000, 4, { exec: true }));
    expect(f).toMatchObject({ kind: "permission", access: { kind: "exec", privileged: true } });
  });

  it("a clear access flag (PROT.NO_AF): an access-flag fault", () => {
    const { pt, cpu, phys } = cpuMachine();
    pt.map(0x20_0000, phys(2 * M), 2 * M, RW | PROT.NO_AF);
    const f = faultOf(() => cpu.read(0x20_0010, 4));
    expect(f).toMatchObject({ kind: "access-flag", stage: 1, level: 2, va: 0x20_0010 });
  });

  it("an output address beyond the output size: an address-size fault", () => {
    const { platform, phys, tables, table } = machine();
    const pt = table(createLpaeFormat({ stage: 1, granule: 4096, ias: 48, oas: 40 }));
    const cpu = new Cpu(platform, { name: "cpu0", ttbr0: pt });
    pt.map(0x1000, phys(4 * K), 4 * K, RW);
    // Set output-address bit 40 (beyond oas 40) in the leaf: only a corrupted table does this.
    let descAddr = 0;
    pt.walk({ leaf: (l) => void (descAddr = l.descAddr) });
    const page = Math.floor(descAddr / 4096) * 4096;
    tables.words(page)[((descAddr - page) >>> 2) + 1]! |= 1 << 8;
    const f = faultOf(() => cpu.read(0x1000, 4));
    expect(f).toMatchObject({ kind: "address-size", stage: 1, level: 3 });
  });

  it("an input address beyond the input size: a translation fault at the root", () => {
    const { cpu } = cpuMachine();
    const f = faultOf(() => cpu.read(2 ** 48, 4));
    expect(f).toMatchObject({ kind: "translation", level: 0, va: 2 ** 48 });
  });

  it("faults reach handlers as data, and are published with their resolution", () => {
    const { platform, cpu } = cpuMachine();
    const seen: Fault[] = [];
    cpu.addFaultHandler((f, master) => {
      expect(master).toBe(cpu);
      seen.push(f);
      return "terminate";
    });
    const rec = platform.bus.record();
    caught(() => cpu.read(0x5000, 1));
    rec.stop();
    expect(seen).toHaveLength(1);
    const ev = rec.events.filter((e) => e.type === "device.fault");
    expect(ev).toEqual([
      expect.objectContaining({
        master: "cpu0",
        resolution: "terminated",
        fault: faultToJson(seen[0]!),
      }),
    ]);
    expect(JSON.parse(JSON.stringify(ev[0]))).toEqual(ev[0]);
    expect(faultToJson(seen[0]!).ipa).toBeNull();
  });
});

describe("fault handlers", () => {
  it("every kind of fault reaches the handlers with its stage, level and address", () => {
    const { pt, cpu, phys } = cpuMachine();
    pt.map(0x1000, phys(4 * K), 4 * K, RO);
    pt.map(0x2000, phys(4 * K), 4 * K, RW | PROT.PRIV);
    pt.map(0x20_0000, phys(2 * M), 2 * M, RW | PROT.NO_AF);
    const seen: Fault[] = [];
    cpu.addFaultHandler((f) => (seen.push(f), "terminate"));
    const cases: Array<[() => unknown, Partial<Fault>]> = [
      [() => cpu.read(0x3008, 1), { kind: "translation", stage: 1, level: 3, va: 0x3008 }],
      [() => cpu.write(0x1010, bytes(1)), { kind: "permission", stage: 1, level: 3, va: 0x1010 }],
      [
        () => cpu.read(0x2020, 1, { privileged: false }),
        { kind: "permission", stage: 1, level: 3, va: 0x2020 },
      ],
      [() => cpu.read(0x20_0040, 1), { kind: "access-flag", stage: 1, level: 2, va: 0x20_0040 }],
    ];
    for (const [access, expected] of cases) {
      const e = caught(access) as AccessFaultError;
      expect(seen.at(-1)).toBe(e.fault);
      expect(e.fault).toMatchObject(expected);
    }
    expect(seen).toHaveLength(cases.length);
  });

  it("a handler that maps the page and answers retry makes the access succeed", () => {
    const { platform, pt, cpu, phys } = cpuMachine();
    const backing = phys(4 * K);
    cpu.addFaultHandler((f) => {
      pt.map(Math.floor(f.va / 4096) * 4096, backing, 4 * K, RW);
      return "retry";
    });
    const rec = platform.bus.record();
    cpu.write(0x7000, bytes(1, 2, 3));
    rec.stop();
    expect(platform.read(backing, 3)).toEqual(bytes(1, 2, 3));
    expect(cpu.stats).toMatchObject({ faults: 1, retries: 1, failures: 0 });
    const types = rec.events.map((e) => e.type);
    expect(types.filter((t) => t.startsWith("device."))).toEqual(["device.fault", "device.access"]);
    expect(types.indexOf("mmu.map")).toBeLessThan(types.indexOf("device.fault"));
    const fault = rec.events.find((e) => e.type === "device.fault") as MemEvent<"device.fault">;
    expect(fault.resolution).toBe("retried");
  });

  it("retries are bounded: a handler that always answers retry ends in failure", () => {
    const { platform, cpu } = cpuMachine();
    cpu.maxRetries = 3;
    let calls = 0;
    cpu.addFaultHandler(() => {
      calls++;
      return "retry";
    });
    const rec = platform.bus.record();
    const e = caught(() => cpu.read(0x9000, 4));
    rec.stop();
    expect(e).toBeInstanceOf(AccessFaultError);
    expect(calls).toBe(3);
    expect(cpu.stats).toMatchObject({ faults: 4, retries: 3, failures: 1 });
    const res = rec.events.filter((x) => x.type === "device.fault").map((x) => x.resolution);
    expect(res).toEqual(["retried", "retried", "retried", "terminated"]);
  });

  it("maxRetries 0 fails at once without asking", () => {
    const { cpu } = cpuMachine();
    cpu.maxRetries = 0;
    let calls = 0;
    cpu.addFaultHandler(() => (calls++, "retry"));
    caught(() => cpu.read(0x9000, 4));
    expect(calls).toBe(0);
  });

  it("terminate passes the fault on; the first retry wins; no handler fails at once", () => {
    const { pt, cpu, phys } = cpuMachine();
    const order: string[] = [];
    const backing = phys(4 * K);
    const offA = cpu.addFaultHandler(() => (order.push("a"), "terminate"));
    cpu.addFaultHandler((f) => {
      order.push("b");
      pt.map(Math.floor(f.va / 4096) * 4096, backing, 4 * K, RW);
      return "retry";
    });
    cpu.addFaultHandler(() => (order.push("c"), "retry"));
    cpu.read(0x3000, 4);
    expect(order).toEqual(["a", "b"]);
    offA.dispose();
    order.length = 0;
    cpu.read(0x3000, 4);
    expect(order).toEqual([]);
  });

  it("all handlers terminating fails the access", () => {
    const { cpu } = cpuMachine();
    cpu.addFaultHandler(() => "terminate");
    cpu.addFaultHandler(() => "terminate");
    expectError(() => cpu.read(0x3000, 4), "EFAULT", "cpu0", "0x3000");
    expect(cpu.stats.failures).toBe(1);
  });

  it("a retry for a later page translates the access again from its start", () => {
    const { platform, pt, cpu, phys } = cpuMachine();
    const first = phys(4 * K);
    const moved = phys(4 * K);
    const second = phys(4 * K);
    pt.map(0x1000, first, 4 * K, RW);
    cpu.read(0x1000, 1); // cache the first page
    cpu.addFaultHandler((f) => {
      // Serving the second page evicts the first one to another place (GMEM under overcommit).
      pt.unmap(0x1000, 4 * K);
      pt.map(0x1000, moved, 4 * K, RW);
      pt.map(f.va, second, 4 * K, RW);
      return "retry";
    });
    cpu.write(0x1ffe, bytes(1, 2, 3, 4));
    expect(platform.read(moved + 0xffe, 2)).toEqual(bytes(1, 2));
    expect(platform.read(first + 0xffe, 2)).toEqual(bytes(0, 0));
    expect(platform.read(second, 2)).toEqual(bytes(3, 4));
  });
});

describe("atomicity", () => {
  it("a multi-page write that faults on the 2nd page writes nothing", () => {
    const { platform, pt, cpu, phys } = cpuMachine();
    const a = phys(4 * K);
    pt.map(0x1000, a, 4 * K, RW);
    pt.map(0x2000, phys(4 * K), 4 * K, RO);
    expectError(() => cpu.write(0x1ff0, pattern(32)), "EFAULT", "permission fault");
    expect(platform.read(a + 0xff0, 16)).toEqual(new Uint8Array(16));
    expect(platform.store.isMaterialized(a)).toBe(false);
    expect(cpu.stats.writes).toBe(0);
  });

  it("a write whose 2nd page maps to a hole writes nothing (bus error)", () => {
    const { platform, pt, cpu, phys } = cpuMachine();
    const a = phys(4 * K);
    pt.map(0x1000, a, 4 * K, RW);
    pt.map(0x2000, 0x4000_0000, 4 * K, RW); // no region there
    expectError(() => cpu.write(0x1ff0, pattern(32)), "EFAULT", "bus error", "0x40000000");
    expect(platform.store.isMaterialized(a)).toBe(false);
  });

  it("reaches IO registers through a mapping; without a hook it is a bus error before any byte moves", () => {
    const { platform, pt, cpu, phys } = cpuMachine();
    const a = phys(4 * K);
    pt.map(0x1000, a, 4 * K, RW);
    pt.map(0x2000, UART, 4 * K, RW | PROT.MMIO);
    expectError(() => cpu.write(0x1ffc, pattern(8)), "EFAULT", "uart");
    expect(platform.store.isMaterialized(a)).toBe(false);
    const regs = new Uint8Array(0x1000);
    platform.attachIoHandler("uart", {
      read: (off, out) => out.set(regs.subarray(off, off + out.length)),
      write: (off, data) => regs.set(data, off),
    });
    cpu.write(0x1ffc, pattern(8));
    expect(regs.subarray(0, 4)).toEqual(pattern(4, 5));
    expect(cpu.read(0x2000, 4)).toEqual(pattern(4, 5));
  });

  it("a chunk spanning two adjacent regions is split between them", () => {
    const { platform, cpu, pt } = cpuMachine();
    platform.addRegion({ name: "dram2", base: DRAM + 256 * M, size: 1 * M, kind: "ram" });
    pt.map(0x20_0000, DRAM + 256 * M - M, 2 * M, RW); // one 2M block over both regions
    cpu.write(0x2f_fffe, bytes(9, 8, 7, 6));
    expect(platform.read(DRAM + 256 * M - 2, 2)).toEqual(bytes(9, 8));
    expect(platform.read(DRAM + 256 * M, 2)).toEqual(bytes(7, 6));
    expect(cpu.read(0x2f_fffe, 4)).toEqual(bytes(9, 8, 7, 6));
  });

  it("the fast path's region cache lets nothing but memory through", () => {
    const { platform, cpu, pt, phys } = cpuMachine();
    const ram = phys(4 * K);
    pt.map(0x1000, ram, 4 * K, RW);
    pt.map(0x2000, UART, 4 * K, RW | PROT.MMIO);
    pt.map(0x3000, DRAM + 256 * M, 4 * K, RW); // a hole
    pt.map(0x4000, DRAM + 256 * M - 4 * K, 4 * K, RW); // the last page of the region
    cpu.write(0x1000, bytes(1, 2)); // caches the DRAM region
    const seen: number[] = [];
    platform.attachIoHandler("uart", {
      read: (off, out) => void (seen.push(off), out.fill(0x55)),
      write: () => undefined,
    });
    expect(cpu.read(0x2004, 2)).toEqual(bytes(0x55, 0x55));
    expect(seen).toEqual([4]);
    expectError(() => cpu.read(0x3000, 1), "EFAULT", "bus error");
    expect(cpu.read(0x1000, 2)).toEqual(bytes(1, 2));
    cpu.write(0x4ffe, bytes(3, 4));
    expect(platform.read(DRAM + 256 * M - 2, 2)).toEqual(bytes(3, 4));
    expect(cpu.stats).toMatchObject({ reads: 2, writes: 2, translations: 5, failures: 0 });
  });
});
