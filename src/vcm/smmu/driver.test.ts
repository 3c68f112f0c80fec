import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { MemweaveError } from "../../base/errors.js";
import { caught, expectError } from "../../base/errors.testutil.js";
import { AccessFaultError } from "../../devices/bus-master.js";
import { faultOf, K, M, pattern, smmuMachine, V7S } from "../../devices/machine.testutil.js";
import { Smmu } from "../../devices/smmu.js";
import { PROT } from "../../mmu/prot.js";
import type { Fault } from "../../mmu/regime.js";
import {
  VCM_DEV_ATTR_CACHED_WB_NWA,
  VCM_DEV_ATTR_CACHED_WB_WA,
  VCM_DEV_ATTR_CACHED_WT,
  VCM_DEV_ATTR_NON_SH,
  VCM_DEV_ATTR_NONCACHED,
  VCM_DEV_ATTR_SH,
  VCM_DEV_DEFAULT_ATTR,
} from "./dev-attr.js";
import type { SmmuFaultHook } from "./driver.js";
import { SMMU_TRANSLATE_MAX_RETRIES, SmmuDev, SmmuDriver } from "./driver.js";

const RW = PROT.READ | PROT.WRITE;
const SH_WB = VCM_DEV_ATTR_SH | VCM_DEV_ATTR_CACHED_WB_WA;

/** An SMMU "smmu0" (banks gpu, dsp), its driver, and an instance "vcodec" of context 0. */
function setup() {
  const m = smmuMachine(["gpu", "dsp"]);
  const drv = SmmuDriver.init(m.smmu, 0x0400_0000, 5);
  const dev = SmmuDev.init(m.platform, m.tables, 0, "vcodec");
  dev.bind(drv);
  /** A second instance of a context, bound. */
  const instance = (context: number, name: string) => {
    const d = SmmuDev.init(m.platform, m.tables, context, name);
    d.bind(drv);
    return d;
  };
  return { ...m, drv, dev, instance };
}

/** One smmu_map in its own update bracket. */
function mapOne(dev: SmmuDev, pa: number, va: number, len: number, attr?: number, rights?: number) {
  dev.updateStart();
  try {
    dev.map(pa, va, len, attr, rights);
  } finally {
    dev.updateDone();
  }
}

function unmapOne(dev: SmmuDev, va: number, len: number) {
  dev.updateStart();
  try {
    dev.unmap(va, len);
  } finally {
    dev.updateDone();
  }
}

/** Every non-zero word of every table page of the instance, and its state. */
function snapshot(dev: SmmuDev) {
  const t = dev.table;
  const words: number[] = [];
  for (const p of t.tablePages())
    for (let off = 0; off < p.bytes; off += 4096) {
      const w = t.memory.words(p.addr + off);
      for (let i = 0; i < w.length; i++) if (w[i] !== 0) words.push(p.addr + off + 4 * i, w[i]!);
    }
  return JSON.stringify({
    words,
    mappings: dev.mappings(),
    active: dev.isActive(),
    updating: dev.inUpdate,
    driver: dev.driver?.name,
  });
}

/** `fn` must fail with `code` (message containing `texts`) and leave `dev` unchanged. */
function refused(
  dev: SmmuDev,
  fn: () => unknown,
  code: Parameters<typeof expectError>[1],
  ...texts: string[]
) {
  const before = snapshot(dev);
  const e = expectError(fn, code, ...texts);
  expect(snapshot(dev)).toBe(before);
  return e;
}

/** The 32-bit word at physical address `addr` of the instance's table memory. */
function word(dev: SmmuDev, addr: number): number {
  const page = addr - (addr % 4096);
  return dev.table.memory.words(page)[(addr - page) / 4]!;
}

describe("SmmuDriver.init (smmu_drvdata_init)", () => {
  it("records base, irq and version, and resets every context of the SMMU", () => {
    const { smmu, table, tables, platform } = smmuMachine(["gpu", "dsp"]);
    const pt = table(V7S, "early");
    pt.map(0x1000, 0x8000_0000, 4 * K, RW);
    const gpu = smmu.contextBank("gpu");
    gpu.bind(pt);
    gpu.activate();
    gpu.setFaultHandler(() => "retry");
    smmu.contextBank("dsp").activate();
    smmu.attachMaster("m0", "gpu").read(0x1000, 4);
    expect(smmu.tlb.entries()).toHaveLength(1);

    const drv = SmmuDriver.init(smmu, 0x0400_0000, 7, { version: 3 });
    expect([drv.smmu, drv.name, drv.base, drv.irq, drv.version]).toEqual([
      smmu,
      "smmu0",
      0x0400_0000,
      7,
      3,
    ]);
    expect(drv.contextCount).toBe(2);
    expect(drv.activeContexts()).toEqual([]);
    for (const b of smmu.contextBanks()) {
      expect([b.active, b.bound, b.faultHandler]).toEqual([false, false, undefined]);
    }
    expect(smmu.tlb.entries()).toEqual([]);
    expect(SmmuDriver.of(smmu)).toBe(drv);
    expect(SmmuDriver.init(new Smmu(platform, { name: "smmu1", contexts: 1 }), 0, 0).version).toBe(
      1,
    );
    void tables;
  });

  it.each([
    [0x1000, -1, {}, "irq", "irq -1 is not a valid interrupt"],
    [0x1000, 1.5, {}, "irq", "irq 1.5"],
    [-1, 0, {}, "base", "base -1 is not an address"],
    [2 ** 53, 0, {}, "base", "base 9007199254740992"],
    [0.5, 0, {}, "base", "base 0.5"],
    [0, 0, { version: -1 }, "version", "version -1"],
  ])("EINVAL for base %d irq %d %j, changing nothing", (base, irq, options, field, text) => {
    const { smmu, table } = smmuMachine(["gpu"]);
    const gpu = smmu.contextBank("gpu");
    gpu.bind(table(V7S));
    gpu.activate();
    const e = expectError(
      () => SmmuDriver.init(smmu, base, irq, options),
      "EINVAL",
      'SMMU "smmu0"',
      text,
    );
    expect(e.field).toBe(field);
    expect([gpu.active, gpu.bound, SmmuDriver.of(smmu)]).toEqual([true, true, undefined]);
  });

  it("EBUSY for a second driver of the same SMMU", () => {
    const { smmu, drv } = setup();
    expectError(
      () => SmmuDriver.init(smmu, 0, 1),
      "EBUSY",
      "smmu0",
      "has a driver already",
      "base 0x4000000, irq 5",
    );
    expect(SmmuDriver.of(smmu)).toBe(drv);
  });

  it("bank(n): EINVAL naming the contexts the SMMU has", () => {
    const { drv, smmu } = setup();
    expect(drv.bank(1)).toBe(smmu.contextBank("dsp"));
    expectError(() => drv.bank(2), "EINVAL", 'SMMU "smmu0" has no context 2 (it has 2: 0..1)');
  });
});

describe("SmmuDev.init / bind / deinit (smmu_ctx_init, smmu_ctx_bind, smmu_ctx_deinit)", () => {
  it("allocates a zeroed 16 KiB first-level table named after the instance", () => {
    const { platform, tables } = smmuMachine();
    const before = tables.liveTables;
    const dev = SmmuDev.init(platform, tables, 3);
    expect([dev.name, dev.context, dev.table.name, dev.table.format.name]).toEqual([
      "ctx3",
      3,
      "ctx3",
      "v7s",
    ]);
    expect(dev.table.tablePages()).toEqual([{ addr: dev.table.root, level: 1, bytes: 16 * K }]);
    expect(tables.liveTables).toBe(before + 1);
    for (let a = 0; a < 16 * K; a += 4) expect(word(dev, dev.table.root + a)).toBe(0);
    expect([dev.driver, dev.bank, dev.isActive(), dev.inUpdate, dev.live]).toEqual([
      undefined,
      undefined,
      false,
      false,
      true,
    ]);
  });

  it.each([
    [-1, "context -1 is not 0..65535"],
    [65536, "context 65536"],
    [1.5, "context 1.5"],
  ])("EINVAL for context %d", (context, text) => {
    const { platform, tables } = smmuMachine();
    const before = tables.liveTables;
    expect(expectError(() => SmmuDev.init(platform, tables, context), "EINVAL", text).field).toBe(
      "context",
    );
    expect(tables.liveTables).toBe(before);
  });

  it("EINVAL for an empty name; ENOMEM, and nothing allocated, when the table cannot be", () => {
    const { platform, tables } = smmuMachine();
    expectError(() => SmmuDev.init(platform, tables, 0, ""), "EINVAL", "a context needs a name");
    tables.failAfter = 0;
    const before = tables.liveTables;
    expectError(() => SmmuDev.init(platform, tables, 0), "ENOMEM");
    expect(tables.liveTables).toBe(before);
  });

  it("bind: EINVAL for a context the SMMU lacks, EBUSY for another driver, no-op for the same", () => {
    const { platform, tables, drv, dev } = setup();
    expect(dev.driver).toBe(drv);
    dev.bind(drv);
    expect(dev.driver).toBe(drv);
    const other = SmmuDriver.init(new Smmu(platform, { name: "smmu1", contexts: 4 }), 0, 1);
    expectError(
      () => dev.bind(other),
      "EBUSY",
      'smmu_dev "vcodec" is bound to SMMU "smmu0", not "smmu1"',
    );
    const far = SmmuDev.init(platform, tables, 3, "far");
    expect(
      expectError(
        () => far.bind(drv),
        "EINVAL",
        'smmu_ctx_bind: smmu_dev "far": SMMU "smmu0" has no context 3 (it has 2: 0..1)',
      ).field,
    ).toBe("context");
    expect(far.driver).toBeUndefined();
    far.bind(other);
    expect(far.bank).toBe(other.smmu.contextBanks()[3]);
  });

  it("deinit: EBUSY while active or mapped; afterwards every method is ENODEV", () => {
    const { dev, tables, phys } = setup();
    const pa = phys(M);
    dev.activate();
    refused(dev, () => dev.deinit(), "EBUSY", 'smmu_dev "vcodec" is active on SMMU "smmu0"');
    dev.deactivate();
    mapOne(dev, pa, 0x10_0000, M);
    refused(
      dev,
      () => dev.deinit(),
      "EBUSY",
      "still maps 1 mapping(s), the first 0x100000-0x1fffff -> ",
    );
    unmapOne(dev, 0x10_0000, M);
    const live = tables.liveTables;
    dev.updateStart();
    dev.deinit();
    expect(tables.liveTables).toBe(live - 1);
    expect(dev.live).toBe(false);
    const calls: Array<[string, () => unknown]> = [
      ["smmu_ctx_deinit", () => dev.deinit()],
      ["smmu_ctx_bind", () => dev.bind(undefined as unknown as SmmuDriver)],
      ["smmu_activate", () => dev.activate()],
      ["smmu_deactivate", () => dev.deactivate()],
      ["smmu_is_active", () => dev.isActive()],
      ["smmu_update_start", () => dev.updateStart()],
      ["smmu_update_done", () => dev.updateDone()],
      ["smmu_map", () => dev.map(pa, 0, 4 * K)],
      ["smmu_unmap", () => dev.unmap(0, 4 * K)],
      ["smmu_translate", () => dev.translate(0)],
      ["smmu_hook_irpt", () => dev.hookIrpt(undefined)],
      ["smmu_get_driver", () => dev.driver],
      ["table", () => dev.table],
      ["mappings", () => dev.mappings()],
    ];
    for (const [op, call] of calls)
      expectError(call, "ENODEV", op, 'smmu_dev "vcodec" was deinitialized');
    expect([dev.name, dev.context]).toEqual(["vcodec", 0]);
  });
});

describe("activation (smmu_activate, smmu_deactivate, smmu_is_active)", () => {
  it("programs the bank with the instance's table, and deactivation resets it", () => {
    const { dev, drv, smmu } = setup();
    const gpu = smmu.contextBank("gpu");
    dev.activate();
    expect([dev.isActive(), gpu.active, gpu.pageTable, gpu.asid]).toEqual([
      true,
      true,
      dev.table,
      0,
    ]);
    expect(gpu.faultHandler).toBeTypeOf("function");
    expect(drv.activeContexts()).toEqual([dev]);
    dev.activate(); // already active: nothing
    expect(drv.activeContexts()).toEqual([dev]);
    dev.deactivate();
    expect([dev.isActive(), gpu.active, gpu.bound, gpu.faultHandler]).toEqual([
      false,
      false,
      false,
      undefined,
    ]);
    expect(drv.activeContexts()).toEqual([]);
    refused(
      dev,
      () => dev.deactivate(),
      "ENOENT",
      'smmu_deactivate: smmu_dev "vcodec" is not active',
    );
  });

  it("ENODEV without a driver; EBUSY, changing nothing, when the bank's ASID clashes with a bank set outside the driver", () => {
    const { platform, tables, smmu, dev, instance, table } = setup();
    const lone = SmmuDev.init(platform, tables, 0, "lone");
    refused(
      lone,
      () => lone.activate(),
      "ENODEV",
      'smmu_activate: smmu_dev "lone" is not bound to an SMMU driver',
    );
    const dsp = instance(1, "dsp-ctx");
    smmu.contextBank("dsp").bind(table(V7S, "rogue"), { asid: 0 });
    refused(
      dev,
      () => dev.activate(),
      "EBUSY",
      'smmu_activate: smmu_dev "vcodec"',
      'context "dsp" already uses asid 0',
    );
    expect([smmu.contextBank("gpu").bound, smmu.contextBank("gpu").active]).toEqual([false, false]);
    // the driver's own activation of that bank takes it back
    dsp.activate();
    dev.activate();
    expect([dev.isActive(), dsp.isActive()]).toEqual([true, true]);
  });

  it("displaces the instance active on the same hardware context (a context switch)", () => {
    const { dev, drv, smmu, instance, phys, platform } = setup();
    const other = instance(0, "other");
    const dsp = instance(1, "dsp-ctx");
    const [pa1, pa2] = [phys(4 * K), phys(4 * K)];
    platform.write(pa1, pattern(4, 1));
    platform.write(pa2, pattern(4, 101));
    mapOne(dev, pa1, 0x1000, 4 * K);
    mapOne(other, pa2, 0x1000, 4 * K);
    dev.activate();
    dsp.activate();
    const m = smmu.attachMaster("vdec0", "gpu");
    expect(m.read(0x1000, 4)).toEqual(pattern(4, 1));
    other.activate();
    expect([dev.isActive(), other.isActive(), dsp.isActive()]).toEqual([false, true, true]);
    expect(drv.activeContexts()).toEqual([dsp, other]);
    expect(smmu.contextBank("gpu").pageTable).toBe(other.table);
    expect(m.read(0x1000, 4)).toEqual(pattern(4, 101)); // no stale TLB entry of "vcodec"
    expect(dev.mappings()).toHaveLength(1); // its table is untouched
    expectError(() => dev.translate(0x1000), "EINVAL", 'smmu_dev "vcodec" is not active');
    dev.activate();
    expect(m.read(0x1000, 4)).toEqual(pattern(4, 1));
    expect(other.isActive()).toBe(false);
  });
});

describe("update brackets (smmu_update_start, smmu_update_done)", () => {
  it("map and unmap only inside a bracket; brackets do not nest", () => {
    const { dev, phys } = setup();
    const pa = phys(4 * K);
    refused(
      dev,
      () => dev.map(pa, 0, 4 * K),
      "EINVAL",
      'smmu_map: smmu_dev "vcodec": not inside smmu_update_start',
    );
    refused(dev, () => dev.unmap(0, 4 * K), "EINVAL", "smmu_unmap", "not inside smmu_update_start");
    refused(dev, () => dev.updateDone(), "EINVAL", "smmu_update_done", "no update in progress");
    dev.updateStart();
    refused(dev, () => dev.updateStart(), "EINVAL", "smmu_update_start", "in progress already");
    dev.map(pa, 0, 4 * K);
    dev.updateDone();
    expect(dev.inUpdate).toBe(false);
  });

  it("smmu_update_done invalidates the context's TLB entries (CTX_TLBIALL), not the others'", () => {
    const { dev, smmu, instance, phys } = setup();
    const dsp = instance(1, "dsp-ctx");
    const pa = phys(64 * K);
    mapOne(dev, pa, 0x1000_0000, 64 * K);
    mapOne(dsp, pa, 0x2000_0000, 64 * K);
    dev.activate();
    dsp.activate();
    smmu.attachMaster("m0", "gpu").read(0x1000_0000, 4);
    smmu.attachMaster("m1", "dsp").read(0x2000_0000, 4);
    const cached = () => smmu.tlb.entries().map((e) => [e.asid, e.va, e.size, e.pa]);
    expect(cached()).toEqual(
      expect.arrayContaining([
        [0, 0x1000_0000, 64 * K, pa],
        [1, 0x2000_0000, 64 * K, pa],
      ]),
    );
    dev.updateStart();
    expect(cached()).toHaveLength(2);
    dev.updateDone();
    expect(cached()).toEqual([[1, 0x2000_0000, 64 * K, pa]]);
  });
});

describe("smmu_map / smmu_unmap", () => {
  it.each<[string, (dev: SmmuDev, pa: number) => unknown, string, string, string]>([
    [
      "len 8K",
      (d, pa) => d.map(pa, 0, 8 * K),
      "EINVAL",
      "len",
      "len 0x2000 is not 4K, 64K, 1M or 16M",
    ],
    ["len 0", (d, pa) => d.map(pa, 0, 0), "EINVAL", "len", "len 0x0"],
    [
      "misaligned va",
      (d, pa) => d.map(pa, 0x1000, 64 * K),
      "EINVAL",
      "va",
      "va 0x1000 is not aligned to len 64 KiB",
    ],
    [
      "misaligned pa",
      (d, pa) => d.map(pa + 4 * K, 0, M),
      "EINVAL",
      "pa",
      "is not aligned to len 1 MiB",
    ],
    [
      "negative va",
      (d, pa) => d.map(pa, -4096, 4 * K),
      "EINVAL",
      "va",
      "va -4096 is not an address",
    ],
    [
      "va beyond 32 bits",
      (d, pa) => d.map(pa, 2 ** 32, 4 * K),
      "ERANGE",
      "va",
      "va 0x100000000-0x100000fff is beyond 32 bits",
    ],
    [
      "attr 0x8",
      (d, pa) => d.map(pa, 0, 4 * K, 0x8),
      "EINVAL",
      "attr",
      "attribute 0x8 has bits 0x8 outside 0x7",
    ],
    [
      "rights MMIO",
      (d, pa) => d.map(pa, 0, 4 * K, 4, PROT.MMIO | RW),
      "EINVAL",
      "rights",
      "rights 0x13 are not READ / WRITE / NOEXEC / PRIV",
    ],
    [
      "rights none",
      (d, pa) => d.map(pa, 0, 4 * K, 4, PROT.NOEXEC),
      "EINVAL",
      "",
      "rights 0x8 grant neither read nor write",
    ],
    ["unmap len 2M", (d) => d.unmap(0, 2 * M), "EINVAL", "len", "len 0x200000"],
    [
      "unmap misaligned",
      (d) => d.unmap(0x1000, M),
      "EINVAL",
      "va",
      "va 0x1000 is not aligned to len 1 MiB",
    ],
  ])("%s: %s, naming the value, changing nothing", (_what, call, code, field, text) => {
    const { dev, phys } = setup();
    const pa = phys(M);
    mapOne(dev, pa, 0x4000_0000, M);
    dev.updateStart();
    const e = refused(dev, () => call(dev, pa), code as "EINVAL", 'smmu_dev "vcodec"', text);
    if (field !== "") expect(e.field).toBe(field);
  });

  it("EEXIST naming the mapping met when any part of the range is mapped otherwise", () => {
    const { dev, phys } = setup();
    const pa = phys(16 * M);
    mapOne(dev, pa, 0x10_0000, M);
    mapOne(dev, pa + M, 0x20_1000, 4 * K);
    const section = `0x100000-0x1fffff -> 0x${pa.toString(16)} (1 MiB)`;
    dev.updateStart();
    refused(
      dev,
      () => dev.map(pa, 0x10_0000, 4 * K),
      "EEXIST",
      "0x100000-0x100fff meets the mapping",
      section,
    );
    refused(dev, () => dev.map(pa, 0x18_0000, 64 * K), "EEXIST", section);
    refused(dev, () => dev.map(pa, 0, 16 * M), "EEXIST", "0x0-0xffffff meets the mapping", section);
    refused(dev, () => dev.map(pa + M, 0x10_0000, M), "EEXIST", section); // same va and len, other pa
    refused(dev, () => dev.map(pa, 0x20_0000, M), "EEXIST", "0x201000-0x201fff");
  });

  it("the same pa, va and len again replace the attributes and rights", () => {
    const { dev, phys } = setup();
    const pa = phys(64 * K);
    mapOne(dev, pa, 0x1_0000, 64 * K);
    expect(dev.mappings()).toEqual([
      { va: 0x1_0000, len: 64 * K, pa, attr: VCM_DEV_DEFAULT_ATTR, rights: RW },
    ]);
    mapOne(
      dev,
      pa,
      0x1_0000,
      64 * K,
      VCM_DEV_ATTR_NON_SH | VCM_DEV_ATTR_CACHED_WT,
      PROT.READ | PROT.NOEXEC,
    );
    expect(dev.mappings()).toEqual([
      {
        va: 0x1_0000,
        len: 64 * K,
        pa,
        attr: VCM_DEV_ATTR_CACHED_WT,
        rights: PROT.READ | PROT.NOEXEC,
      },
    ]);
    const leaf = dev.table.translate(0x1_0000)!;
    expect([leaf.size, V7S.describe(1, leaf.lo, 0)]).toEqual([
      64 * K,
      "LARGE-PAGE AF nG AP[1] AP[2] S TEX=1 B C XN",
    ]);
  });

  it("unmap: ENOENT where nothing is mapped; EINVAL naming the mapping when it is not exactly va/len", () => {
    const { dev, phys } = setup();
    const pa = phys(M);
    mapOne(dev, pa, 0x10_0000, 64 * K);
    dev.updateStart();
    refused(
      dev,
      () => dev.unmap(0x20_0000, 4 * K),
      "ENOENT",
      "nothing is mapped at 0x200000-0x200fff",
    );
    const large = `0x100000-0x10ffff -> 0x${pa.toString(16)} (64 KiB)`;
    refused(
      dev,
      () => dev.unmap(0x10_0000, 4 * K),
      "EINVAL",
      `the mapping at 0x100000-0x100fff is ${large}, not one of 4 KiB at 0x100000`,
    );
    refused(dev, () => dev.unmap(0x10_1000, 4 * K), "EINVAL", large);
    refused(dev, () => dev.unmap(0x10_0000, M), "EINVAL", large);
    dev.unmap(0x10_0000, 64 * K);
    expect(dev.mappings()).toEqual([]);
    expect(dev.table.tablePages()).toHaveLength(1); // the emptied level-2 table is freed
    expectError(
      () => dev.unmap(0x10_0000, 64 * K),
      "ENOENT",
      "nothing is mapped at 0x100000-0x10ffff",
    );
  });

  it("is atomic: a 4K map whose level-2 table cannot be allocated fails ENOMEM and changes nothing", () => {
    const { dev, tables, phys } = setup();
    const pa = phys(M);
    mapOne(dev, pa, 0x10_0000, M);
    dev.updateStart();
    tables.failAfter = 0;
    refused(dev, () => dev.map(pa, 0x30_0000, 4 * K), "ENOMEM", "injected allocation failure");
    tables.failAfter = undefined;
    dev.map(pa, 0x30_0000, 4 * K);
    dev.updateDone();
    expect(dev.mappings().map((m) => m.va)).toEqual([0x10_0000, 0x30_0000]);
  });
});

describe("golden descriptors (ARMv7 short descriptors as io-pgtable-arm-v7s writes them)", () => {
  // Level 1 (sections, supersections): AF=AP0 bit 10, AP1 bit 11, TEX[2:0] bits 14:12, AP2 bit
  // 15, S bit 16, nG bit 17, supersection bit 18, C bit 3, B bit 2, XN bit 4, type 0b10.
  const L1 = { AF: 1 << 10, AP1: 1 << 11, TEX1: 1 << 12, S: 1 << 16, NG: 1 << 17, SUPER: 1 << 18 };
  // Level 2: small page: AF bit 4, AP1 bit 5, TEX bits 8:6, AP2 bit 9, S bit 10, nG bit 11,
  // XN bit 0, type 0b1x; large page (type 0b01): TEX in bits 14:12, XN in bit 15.
  const L2 = {
    AF: 1 << 4,
    AP1: 1 << 5,
    TEX1_SMALL: 1 << 6,
    TEX1_LARGE: 1 << 12,
    S: 1 << 10,
    NG: 1 << 11,
    XN: 1,
  };
  const B = 1 << 2;
  const C = 1 << 3;
  const RWUSER_L1 = L1.AF | L1.AP1 | L1.TEX1 | L1.S | L1.NG;
  const RWUSER_L2_SMALL = L2.AF | L2.AP1 | L2.TEX1_SMALL | L2.S | L2.NG;
  const RWUSER_L2_LARGE = L2.AF | L2.AP1 | L2.TEX1_LARGE | L2.S | L2.NG;

  const cases = [
    {
      what: "16M supersection",
      va: 0x0100_0000,
      pa: 0x8100_0000,
      len: 16 * M,
      level: 1,
      copies: 16,
      type: 2 | L1.SUPER,
      bits: RWUSER_L1,
    },
    {
      what: "1M section",
      va: 0x0030_0000,
      pa: 0x8030_0000,
      len: M,
      level: 1,
      copies: 1,
      type: 2,
      bits: RWUSER_L1,
    },
    {
      what: "64K large page",
      va: 0x0001_0000,
      pa: 0x8041_0000,
      len: 64 * K,
      level: 2,
      copies: 16,
      type: 1,
      bits: RWUSER_L2_LARGE,
    },
    {
      what: "4K small page",
      va: 0x0000_5000,
      pa: 0x8042_5000,
      len: 4 * K,
      level: 2,
      copies: 1,
      type: 2,
      bits: RWUSER_L2_SMALL,
    },
  ];
  const golden = {
    uncached: [0x8107_1c02, 0x8033_1c02, 0x8041_1c31, 0x8042_5c72],
    cached: [0x8107_1c0e, 0x8033_1c0e, 0x8041_1c3d, 0x8042_5c7e],
  };

  /** Map every case with `attr`; the descriptors, each checked to fill its `copies` entries. */
  function descriptors(attr: number) {
    const { dev } = setup();
    dev.updateStart();
    for (const c of cases) dev.map(c.pa, c.va, c.len, attr);
    dev.updateDone();
    const root = dev.table.root;
    const l2 = word(dev, root); // va 0x0 .. 0xfffff: a table descriptor
    expect(l2 & 3).toBe(1); // ARM_V7S_PTE_TYPE_TABLE, no NS, domain 0
    const l2Table = l2 - (l2 % 1024);
    expect(dev.table.tablePages()).toEqual([
      { addr: root, level: 1, bytes: 16 * K },
      { addr: l2Table, level: 2, bytes: K },
    ]);
    return cases.map((c) => {
      const first = c.level === 1 ? root + (c.va >>> 20) * 4 : l2Table + ((c.va >>> 12) & 0xff) * 4;
      const d = word(dev, first);
      for (let i = 1; i < c.copies; i++) expect(word(dev, first + 4 * i)).toBe(d);
      expect(word(dev, first + 4 * c.copies)).toBe(0);
      return d;
    });
  }

  it("default attributes (SH | NONCACHED): AF, AP[1] (user), read-write, S, nG, TEX=1, executable", () => {
    const d = descriptors(VCM_DEV_DEFAULT_ATTR);
    expect(d).toEqual(golden.uncached);
    cases.forEach((c, i) => expect(d[i]).toBe((c.pa | c.bits | c.type) >>> 0));
    expect(d.map((x, i) => V7S.describe(cases[i]!.level - 1, x, 0))).toEqual([
      "SUPERSECTION AF nG AP[1] S TEX=1",
      "SECTION AF nG AP[1] S TEX=1",
      "LARGE-PAGE AF nG AP[1] S TEX=1",
      "SMALL-PAGE AF nG AP[1] S TEX=1",
    ]);
  });

  it.each([
    ["SH|WB_WA", SH_WB],
    ["SH|WB_NWA", VCM_DEV_ATTR_SH | VCM_DEV_ATTR_CACHED_WB_NWA],
    ["NON_SH|WT", VCM_DEV_ATTR_NON_SH | VCM_DEV_ATTR_CACHED_WT],
  ])(
    "cached attributes (%s) set C and B, TEX stays 1 (TEX-remap index 7: Normal write-back)",
    (_n, attr) => {
      const d = descriptors(attr);
      expect(d).toEqual(golden.cached);
      cases.forEach((c, i) => expect(d[i]).toBe((c.pa | c.bits | c.type | B | C) >>> 0));
      expect(d.map((x, i) => V7S.attributes(cases[i]!.level - 1, x, 0).memType)).toEqual(
        Array(4).fill("normal-wb"),
      );
    },
  );

  it("NON_SH|NONCACHED gives the uncached descriptors (S is always set by the format)", () => {
    expect(descriptors(VCM_DEV_ATTR_NON_SH | VCM_DEV_ATTR_NONCACHED)).toEqual(golden.uncached);
  });

  it("rights: read-only, privileged, execute-never clear AP[1], set AP[2] and XN", () => {
    const { dev } = setup();
    mapOne(
      dev,
      0x8042_5000,
      0x5000,
      4 * K,
      VCM_DEV_DEFAULT_ATTR,
      PROT.READ | PROT.NOEXEC | PROT.PRIV,
    );
    const leaf = dev.table.translate(0x5000)!;
    expect(leaf.lo).toBe(
      (0x8042_5000 | L2.AF | L2.TEX1_SMALL | (1 << 9) | L2.S | L2.NG | 2 | L2.XN) >>> 0,
    );
    expect(leaf.lo).toBe(0x8042_5e53);
  });
});

describe("bytes through a master attached to the bank", () => {
  it("a write through the mapped va reads back at the physical address, and the other way", () => {
    const { dev, smmu, phys, platform } = setup();
    const pa = phys(64 * K);
    mapOne(dev, pa, 0x1000_0000, 64 * K, SH_WB);
    dev.activate();
    const m = smmu.attachMaster("vdec0", "gpu");
    m.write(0x1000_0ffe, pattern(8)); // across a 4K boundary inside the large page
    expect(platform.read(pa + 0xffe, 8)).toEqual(pattern(8));
    platform.write(pa + 0xf000, pattern(16, 50));
    expect(m.read(0x1000_f000, 16)).toEqual(pattern(16, 50));
    expect(dev.translate(0x1000_f00c)).toBe(pa + 0xf00c);
  });

  it("a read-only mapping refuses a master's write with a permission fault", () => {
    const { dev, smmu, phys } = setup();
    mapOne(dev, phys(4 * K), 0x1000, 4 * K, VCM_DEV_DEFAULT_ATTR, PROT.READ);
    dev.activate();
    const m = smmu.attachMaster("vdec0", "gpu");
    expect(faultOf(() => m.write(0x1000, pattern(4))).kind).toBe("permission");
  });
});

describe("smmu_translate and the fault hook (smmu_hook_irpt)", () => {
  it("EINVAL when not active or for a bad address", () => {
    const { dev } = setup();
    refused(
      dev,
      () => dev.translate(0x1000),
      "EINVAL",
      'smmu_translate: smmu_dev "vcodec" is not active',
    );
    dev.activate();
    for (const va of [-1, 2 ** 32, 0.5])
      expect(
        expectError(() => dev.translate(va), "EINVAL", `va ${String(va)} is not a 32-bit address`)
          .field,
      ).toBe("va");
  });

  it("without a hook, or when it answers 0, a fault is EFAULT carrying the fault", () => {
    const { dev } = setup();
    dev.activate();
    const e = expectError(
      () => dev.translate(0x1234),
      "EFAULT",
      'smmu_dev "vcodec": smmu_translate faulted at 0x1234',
      "(no fault handler)",
    );
    expect(e).toBeInstanceOf(AccessFaultError);
    expect((e as AccessFaultError).fault).toMatchObject({
      kind: "translation",
      va: 0x1234,
      context: "smmu0/gpu",
    });
    const calls: Array<[SmmuDev, unknown, Fault]> = [];
    const data = { token: 7 };
    dev.hookIrpt((d, dt, f) => (calls.push([d, dt, f]), 0), data);
    expectError(() => dev.translate(0x1234), "EFAULT", "(terminated by the fault handler)");
    expect(calls).toHaveLength(1);
    expect(calls[0]![0]).toBe(dev);
    expect(calls[0]![1]).toBe(data);
    expect(calls[0]![2]).toMatchObject({ va: 0x1234, access: { kind: "read", privileged: true } });
    dev.hookIrpt(undefined); // removed
    expectError(() => dev.translate(0x1234), "EFAULT", "(no fault handler)");
    expect(calls).toHaveLength(1);
    expectError(() => dev.hookIrpt(42 as unknown as SmmuFaultHook), "EINVAL", "not a function");
  });

  it("a hook that maps the page and answers 1 makes the translation succeed", () => {
    const { dev, phys } = setup();
    const pa = phys(4 * K);
    dev.activate();
    const hook: SmmuFaultHook = (d, _data, fault) => {
      mapOne(d, pa, fault.va - (fault.va % (4 * K)), 4 * K);
      return 1;
    };
    dev.hookIrpt(hook);
    expect(dev.translate(0x7000_0abc)).toBe(pa + 0xabc);
  });

  it(`a hook that answers 1 without fixing anything is asked ${SMMU_TRANSLATE_MAX_RETRIES} times, then EFAULT`, () => {
    const { dev } = setup();
    dev.activate();
    let n = 0;
    dev.hookIrpt(() => (n++, 1));
    expectError(
      () => dev.translate(0x1000),
      "EFAULT",
      `(after ${SMMU_TRANSLATE_MAX_RETRIES} retries)`,
    );
    expect(n).toBe(SMMU_TRANSLATE_MAX_RETRIES);
  });

  it("masters' faults go to the hook: 1 retries the access (served), 0 terminates it", () => {
    const { dev, smmu, phys, platform } = setup();
    const pa = phys(4 * K);
    platform.write(pa + 0x10, pattern(4, 9));
    dev.activate();
    const m = smmu.attachMaster("vdec0", "gpu");
    const seen: number[] = [];
    const hook: SmmuFaultHook = (d, data, fault) => {
      seen.push(fault.va);
      if (data !== "serve") return 0;
      mapOne(d, pa, 0x3000, 4 * K);
      return 1;
    };
    dev.hookIrpt(hook, "refuse");
    expect(faultOf(() => m.read(0x3010, 4))).toMatchObject({ kind: "translation", va: 0x3010 });
    dev.hookIrpt(hook, "serve");
    expect(m.read(0x3010, 4)).toEqual(pattern(4, 9));
    expect(seen).toEqual([0x3010, 0x3010]);
    expect(m.stats.retries).toBe(1);
    // a displaced instance's hook no longer hears the bank's faults
    const other = SmmuDev.init(platform, dev.table.memory, 0, "other");
    other.bind(dev.driver!);
    other.activate();
    expect(caught(() => m.read(0x3010, 4))).toBeInstanceOf(AccessFaultError);
    expect(seen).toHaveLength(2);
  });
});

/** The code of the MemweaveError `fn` throws, or undefined (no `expect`: the model test's hot path). */
function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof MemweaveError) return e.code;
    throw e;
  }
  return undefined;
}

describe("a model: random map / unmap / update / activate / deactivate sequences", () => {
  const SIZES = [4 * K, 64 * K, M, 16 * M];
  const RIGHTS = [RW, PROT.READ, PROT.READ | PROT.NOEXEC, RW | PROT.PRIV];
  const ATTRS = [0, 1, 2, 3, 4, 5, 6, 7];
  type Cmd =
    | { op: "start" | "done" | "activate" | "deactivate"; dev: number }
    | { op: "map"; dev: number; at: number; size: number; pa: number; attr: number; rights: number }
    | { op: "unmap"; dev: number; at: number; size: number };
  const dev = fc.integer({ min: 0, max: 1 });
  const at = fc.integer({ min: 0, max: 3 });
  const size = fc.constantFrom(...SIZES);
  const cmd: fc.Arbitrary<Cmd> = fc.oneof(
    {
      weight: 2,
      arbitrary: fc.record({ op: fc.constantFrom("start" as const, "done" as const), dev }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constantFrom("activate" as const, "deactivate" as const),
        dev,
      }),
    },
    {
      weight: 4,
      arbitrary: fc.record({
        op: fc.constant("map" as const),
        dev,
        at,
        size,
        pa: fc.integer({ min: 0, max: 1 }),
        attr: fc.constantFrom(...ATTRS),
        rights: fc.constantFrom(...RIGHTS),
      }),
    },
    { weight: 3, arbitrary: fc.record({ op: fc.constant("unmap" as const), dev, at, size }) },
  );
  interface Entry {
    va: number;
    len: number;
    pa: number;
    attr: number;
    rights: number;
  }
  /** Every address a command can name, and one inside each 4K page of them. */
  const PROBES = [
    ...new Set(SIZES.flatMap((s) => [0, 1, 2, 3].map((i) => i * s + (s === M ? 0xabc : 0)))),
  ];

  it("translation through the table and the bank agrees with the model; refused calls change nothing", () => {
    fc.assert(
      fc.property(fc.array(cmd, { minLength: 5, maxLength: 30 }), (cmds) => {
        const { dev: a, instance } = setup();
        const devs = [a, instance(0, "b")];
        const model = devs.map(() => ({ map: new Map<number, Entry>(), updating: false }));
        let active = -1;
        for (const c of cmds) {
          const d = devs[c.dev]!;
          const s = model[c.dev]!;
          let expected: string | undefined;
          let apply = () => {};
          const va = "at" in c ? c.at * c.size : 0;
          const overlaps =
            "at" in c
              ? [...s.map.values()].filter((e) => e.va < va + c.size && va < e.va + e.len)
              : [];
          switch (c.op) {
            case "start":
              expected = s.updating ? "EINVAL" : undefined;
              apply = () => void (s.updating = true);
              break;
            case "done":
              expected = s.updating ? undefined : "EINVAL";
              apply = () => void (s.updating = false);
              break;
            case "activate":
              apply = () => void (active = c.dev);
              break;
            case "deactivate":
              expected = active === c.dev ? undefined : "ENOENT";
              apply = () => void (active = -1);
              break;
            case "map": {
              const pa = 0x9000_0000 + c.pa * c.size;
              const o = overlaps[0];
              if (!s.updating) expected = "EINVAL";
              else if (
                overlaps.length > 1 ||
                (o !== undefined && (o.va !== va || o.len !== c.size || o.pa !== pa))
              )
                expected = "EEXIST";
              apply = () =>
                void s.map.set(va, { va, len: c.size, pa, attr: c.attr, rights: c.rights });
              break;
            }
            case "unmap": {
              const o = overlaps[0];
              if (!s.updating) expected = "EINVAL";
              else if (o === undefined) expected = "ENOENT";
              else if (overlaps.length > 1 || o.va !== va || o.len !== c.size) expected = "EINVAL";
              apply = () => void s.map.delete(va);
              break;
            }
          }
          const before = expected === undefined ? "" : snapshot(d);
          const code = codeOf(() => {
            if (c.op === "start") d.updateStart();
            else if (c.op === "done") d.updateDone();
            else if (c.op === "activate") d.activate();
            else if (c.op === "deactivate") d.deactivate();
            else if (c.op === "map")
              d.map(0x9000_0000 + c.pa * c.size, va, c.size, c.attr, c.rights);
            else if (c.op === "unmap") d.unmap(va, c.size);
          });
          if (code !== expected) expect(code, JSON.stringify(c)).toBe(expected);
          if (code === undefined) apply();
          else if (snapshot(d) !== before)
            expect(snapshot(d), "a refused call changed it").toBe(before);

          // One comparison per step: what the instances show, and what the model says.
          const seen = devs.map((x) => {
            const mappings = x.mappings();
            const translate = (p: number) => {
              let pa = 0;
              return codeOf(() => void (pa = x.translate(p))) ?? pa;
            };
            return {
              mappings,
              active: x.isActive(),
              updating: x.inUpdate,
              table: mappings.flatMap((e) =>
                [0, e.len - 4].map((o) => x.table.translate(e.va + o)?.pa),
              ),
              translate: PROBES.map((p) => (x.isActive() ? translate(p) : "-")),
            };
          });
          const want = model.map((m, i) => {
            const entries = [...m.map.values()].sort((p, q) => p.va - q.va);
            return {
              mappings: entries,
              active: active === i,
              updating: m.updating,
              table: entries.flatMap((e) => [0, e.len - 4].map((o) => e.pa + o)),
              translate: PROBES.map((p) => {
                if (active !== i) return "-";
                const e = entries.find((x) => x.va <= p && p < x.va + x.len);
                return e === undefined ? "EFAULT" : e.pa + p - e.va;
              }),
            };
          });
          if (JSON.stringify(seen) !== JSON.stringify(want))
            expect(seen, JSON.stringify(c)).toEqual(want);
        }
      }),
      { numRuns: 100 },
    );
  });
});
