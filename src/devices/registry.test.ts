import { describe, expect, it } from "vitest";

import { Cpu } from "./cpu.js";
import { expectError, machine } from "./machine.testutil.js";
import { DeviceRegistry } from "./registry.js";
import { Smmu } from "./smmu.js";

describe("DeviceRegistry", () => {
  it("holds devices by unique name, in registration order", () => {
    const r = new DeviceRegistry();
    const a = { name: "a", kind: "thing" };
    expect(r.add(a)).toBe(a);
    r.add({ name: "b", kind: "thing" });
    expectError(() => r.add({ name: "a", kind: "other" }), "EEXIST", '"a"', "thing");
    expectError(() => r.add({ name: "", kind: "x" }), "EINVAL");
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
    const other = platform.addDevice({ name: "rm", kind: "resource-manager" });
    expect(platform.devices()).toEqual([cpu, smmu, other]);
    expect(platform.device("smmu0", Smmu)).toBe(smmu);
    expectError(() => platform.device("smmu0", Cpu), "EINVAL", "smmu", "Cpu");
    expectError(() => platform.device("gpu"), "ENOENT", "gpu");
    expectError(() => platform.addDevice({ name: "cpu0", kind: "x" }), "EEXIST");
  });
});
