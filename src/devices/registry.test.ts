import { describe, expect, it } from "vitest";

import { Cpu } from "./cpu.js";
import type { Device } from "./registry.js";
import { expectError, machine } from "./machine.testutil.js";
import { DeviceRegistry } from "./registry.js";
import { Smmu } from "./smmu.js";

/** A device with nothing: no masters, regimes, TLBs or windows. */
function bare(name: string, kind: string): Device {
  return {
    name,
    kind,
    capabilities: () => ({ masters: [], regimes: [], tlbs: [], windows: [] }),
  };
}

describe("DeviceRegistry", () => {
  it("holds devices by unique name, in registration order", () => {
    const r = new DeviceRegistry();
    const a = bare("a", "thing");
    expect(r.add(a)).toBe(a);
    r.add(bare("b", "thing"));
    expectError(() => r.add(bare("a", "other")), "EEXIST", '"a"', "thing");
    expectError(() => r.add(bare("", "x")), "EINVAL");
    expect(r.list().map((d) => d.name)).toEqual(["a", "b"]);
    expect(r.get("a")).toBe(a);
    expect(r.has("b")).toBe(true);
    r.remove("b");
    expectError(() => r.get("b"), "ENOENT", '"b"', "have: a");
    expectError(() => r.remove("b"), "ENOENT");
  });
});

describe("Platform devices", () => {
  it("addDevice, device (typed) and devices", () => {
    const { platform } = machine();
    const cpu = new Cpu(platform, { name: "cpu0" });
    const smmu = new Smmu(platform, { name: "smmu0", contexts: 1 });
    const other = platform.addDevice(bare("rm", "resource-manager"));
    expect(platform.devices()).toEqual([cpu, smmu, other]);
    expect(platform.device("smmu0", Smmu)).toBe(smmu);
    expectError(() => platform.device("smmu0", Cpu), "EINVAL", "smmu", "Cpu");
    expectError(() => platform.device("gpu"), "ENOENT", "gpu");
    expectError(() => platform.addDevice(bare("cpu0", "x")), "EEXIST");
  });
});
