import { describe, expect, it } from "vitest";

import { expectError } from "../base/errors.testutil.js";
import type { GmemCostSink } from "./cost.js";
import {
  COST_PARAM_KEYS,
  CostModel,
  DEFAULT_COST_PARAMS,
  formatDuration,
  linkName,
} from "./cost.js";

const MiB2 = 2 * 1024 * 1024;

describe("defaults", () => {
  it("are the reference's numbers", () => {
    const p = DEFAULT_COST_PARAMS;
    expect(p.farFaultNs).toBe(45_000);
    expect(p.linkBandwidth).toBe(16e9);
    expect(p.walkNs4K).toBeCloseTo(67.522, 3); // 100 cycles at 1481 MHz
    expect(p.walkNs2M).toBeCloseTo(44.564, 3); // 66 cycles at 1481 MHz
    expect(p.walkLevels4K).toBe(4);
    expect(p.walkLevels2M).toBe(3);
    expect(p.remoteAccessNs).toBe(1_000);
    expect(p.localAccessNs).toBe(1);
    expect(p.migrationSetupNs).toBe(0);
  });

  it("a new model starts at time 0 and is a GmemCostSink", () => {
    const sink: GmemCostSink = new CostModel();
    expect((sink as CostModel).timeNs).toBe(0);
  });
});

describe("arithmetic", () => {
  it("a far fault and a 2 MiB migration at 16 GB/s: 45,000 + 131,072 ns", () => {
    const c = new CostModel();
    c.farFault("gpu0");
    c.migrate(MiB2, "host", "gpu0");
    expect(c.timeNs).toBe(176_072);
    const b = c.breakdown();
    expect(b.faultsNs).toBe(45_000);
    expect(b.migrationsNs).toBe(131_072);
    expect(b.migrationByLink).toEqual({ "host->gpu0": { ns: 131_072, bytes: MiB2, count: 1 } });
    expect(b.counts).toEqual({
      farFaults: 1,
      walks: 0,
      migrations: 1,
      remoteAccesses: 0,
      localAccesses: 0,
    });
  });

  it("a 4 KiB page takes 256 ns; setup cost is added per migration", () => {
    const c = new CostModel({ migrationSetupNs: 1_000 });
    c.migrate(4096, "gpu0", "host");
    c.migrate(4096, "gpu0", "cpu"); // cpu is the host's end of the link
    expect(c.timeNs).toBe(2 * (1_000 + 256));
    expect(c.breakdown().migrationByLink).toEqual({
      "gpu0->host": { ns: 2512, bytes: 8192, count: 2 },
    });
  });

  it("per-link bandwidth overrides apply to their direction only", () => {
    const c = new CostModel({ linkBandwidthByLink: { "host->gpu0": 8e9 } });
    c.migrate(MiB2, "host", "gpu0");
    c.migrate(MiB2, "gpu0", "host");
    const b = c.breakdown().migrationByLink;
    expect(b["host->gpu0"]!.ns).toBe(262_144);
    expect(b["gpu0->host"]!.ns).toBe(131_072);
    expect(c.bandwidth("cpu", "gpu0")).toBe(8e9);
  });

  it("walks cost per level: a full walk costs the reference number", () => {
    const c = new CostModel({ walkNs4K: 100, walkNs2M: 60 });
    c.walk("gpu0", 4, 4096); // 4 x 25
    c.walk("gpu0", 3, MiB2); // 3 x 20
    c.walk("gpu0", 2, 4096); // shortened by a walk cache: 2 x 25
    c.walk("gpu0", 1, 1 << 30); // a 1 GiB leaf uses the 2M pair: 20
    c.walk("gpu0", 0, 4096); // nothing walked
    expect(c.timeNs).toBe(100 + 60 + 50 + 20);
    expect(c.breakdown().counts.walks).toBe(5);
    const d = new CostModel();
    d.walk("gpu0", 4, 4096);
    d.walk("gpu0", 3, MiB2);
    expect(d.timeNs).toBeCloseTo((100 + 66) / 1.481, 9);
  });

  it("remote accesses pay latency plus bytes over the host link; local ones a flat cost", () => {
    const c = new CostModel({ linkBandwidthByLink: { "host->gpu0": 8e9 } });
    c.remoteAccess("gpu0", 64); // 1000 + 8
    c.remoteAccess("cpu", 16); // 1000 + 1 (default bandwidth)
    c.localAccess("gpu0", 8);
    c.localAccess("cpu", 4096);
    const b = c.breakdown();
    expect(b.remoteNs).toBe(2009);
    expect(b.localNs).toBe(2);
    expect(b.totalNs).toBe(2011);
    expect(c.timeNs).toBe(2011);
  });

  it("reset clears time and counts but keeps parameters", () => {
    const c = new CostModel({ farFaultNs: 10 });
    c.farFault("gpu0");
    c.migrate(16, "host", "gpu0");
    c.reset();
    expect(c.timeNs).toBe(0);
    expect(c.breakdown().migrationByLink).toEqual({});
    expect(c.breakdown().counts.farFaults).toBe(0);
    c.farFault("gpu0");
    expect(c.timeNs).toBe(10);
  });

  it("refuses negative bytes and levels", () => {
    const c = new CostModel();
    expectError(() => c.migrate(-1, "host", "gpu0"), "EINVAL", "-1 bytes");
    expectError(() => c.walk("gpu0", -1, 4096), "EINVAL", "-1 levels");
  });
});

describe("setParam", () => {
  it("parses times, bandwidths, levels and plain numbers", () => {
    const c = new CostModel();
    const cases: [string, string | number, number][] = [
      ["farFaultNs", "45us", 45_000],
      ["farFaultNs", "20 µs", 20_000],
      ["farFaultNs", "1.5ms", 1_500_000],
      ["farFaultNs", "2s", 2e9],
      ["farFaultNs", "100ns", 100],
      ["farFaultNs", "250", 250],
      ["farFaultNs", 300, 300],
      ["farFaultNs", "0", 0],
      ["walkNs4K", "67.5ns", 67.5],
      ["linkBandwidth", "16GB/s", 16e9],
      ["linkBandwidth", "12.5 GB/s", 12.5e9],
      ["linkBandwidth", "1GiB/s", 2 ** 30],
      ["linkBandwidth", "500MB/s", 5e8],
      ["linkBandwidth", "1e9", 1e9],
      ["walkLevels4K", "5", 5],
    ];
    for (const [key, value, want] of cases) {
      c.setParam(key, value);
      expect(c.params[key as "farFaultNs"], `${key}=${value}`).toBe(want);
    }
  });

  it("sets one link, naming cpu as host", () => {
    const c = new CostModel();
    c.setParam("linkBandwidth.cpu->gpu0", "8GB/s");
    c.setParam("linkBandwidth.gpu-1->host", "4GB/s");
    expect(c.params.linkBandwidthByLink).toEqual({ "host->gpu0": 8e9, "gpu-1->host": 4e9 });
    expect(new CostModel().params.linkBandwidthByLink).toEqual({}); // not shared
  });

  it("names the key and value and the valid keys, with a suggestion", () => {
    const c = new CostModel();
    const e = expectError(
      () => c.setParam("farFaultNS", "1us"),
      "EINVAL",
      'unknown cost parameter "farFaultNS", did you mean "farFaultNs"?',
      "valid: farFaultNs, linkBandwidth, walkNs4K",
      "linkBandwidth.<from>-><to>",
    );
    expect(e.field).toBe("farFaultNS");
    expectError(
      () => c.setParam("linkBandwith.host->gpu0", "1GB/s"),
      "EINVAL",
      'did you mean "linkBandwidth.host->gpu0"?',
    );
    expectError(() => c.setParam("toString", "1"), "EINVAL", "unknown cost parameter");
    expectError(
      () => c.setParam("farFaultNs", "45 parsecs"),
      "EINVAL",
      'cost parameter farFaultNs: "45 parsecs" is not a time, e.g. 45us',
    );
    expectError(() => c.setParam("linkBandwidth", "16Gb/s"), "EINVAL", "not a bandwidth");
    expectError(() => c.setParam("linkBandwidth", "0"), "EINVAL", "not a bandwidth");
    expectError(() => c.setParam("linkBandwidth", "45us"), "EINVAL", "not a bandwidth");
    expectError(() => c.setParam("farFaultNs", "-1us"), "EINVAL", "not a time");
    expectError(() => c.setParam("farFaultNs", Number.NaN), "EINVAL", "not a time");
    expectError(() => c.setParam("walkLevels2M", "2.5"), "EINVAL", "whole number of levels");
    expectError(() => c.setParam("linkBandwidth.gpu0", "1GB/s"), "EINVAL", "not a link");
    expect(c.params.farFaultNs).toBe(45_000); // nothing changed
  });

  it("the constructor checks its parameters the same way", () => {
    expectError(() => new CostModel({ linkBandwidth: 0 }), "EINVAL", "linkBandwidth");
    expect(COST_PARAM_KEYS).toContain("migrationSetupNs");
  });
});

describe("helpers", () => {
  it("linkName and formatDuration", () => {
    expect(linkName("cpu", "gpu0")).toBe("host->gpu0");
    expect(formatDuration(850)).toBe("850 ns");
    expect(formatDuration(131_072)).toBe("131.07 us");
    expect(formatDuration(45e6)).toBe("45 ms");
    expect(formatDuration(1.2e9)).toBe("1.2 s");
  });
});
