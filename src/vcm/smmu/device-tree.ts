/**
 * The Qualcomm SMMU device tree of the seed ("Userspace Access to Devices with IOMMUs";
 * arch/arm/mach-msm/include/mach/smmu_device.h): SMMUs and their contexts, each with a name,
 * and the lookup that gives a user the context instance (the VCM's dev_id) of a context name.
 *
 * ```
 * smmu/
 *     smmu0/  ctx0 ctx1 ctx2
 *     smmu1/  ctx3
 * ```
 *
 * Built over the machine's {@link Smmu}s: for each SMMU listed, a driver
 * ({@link SmmuDriver.init}, which resets its banks) and, for each context bank, a context
 * instance named after the bank, bound to the driver (what the platform drivers' probe does).
 *
 * Decisions where the sources are silent:
 * - A context is found by its bank's name, or by "smmu/bank" (needed when two SMMUs have a
 *   bank of the same name: the plain name is then ambiguous, EINVAL).
 * - Defaults: base 0 (the model has no register space to ioremap), irq = the SMMU's index in
 *   the list.
 * - smmu_get_base_addr works for any bound instance (it is `dev->drv->base`).
 * - Building is all or nothing: every SMMU is checked and every table allocated before any
 *   bank is reset.
 *
 * @example
 * const tree = new SmmuDeviceTree(platform, { tables, smmus: [{ smmu: "smmu0" }] });
 * const dev = tree.getCtxInstance("vcodec_a_stream");
 * dev.activate();
 */
import { fail, inField } from "../../base/errors.js";
import { checkInstance, checkName } from "../../base/validate.js";
import type { Platform } from "../../devices/platform.js";
import type { Smmu } from "../../devices/smmu.js";
import type { TableMemory } from "../../mmu/table-memory.js";
import type { SmmuDriverOptions } from "./driver.js";
import { SmmuDev, SmmuDriver } from "./driver.js";

/** One SMMU of the tree. */
export interface SmmuTreeEntry {
  /** The name of a devices/ {@link Smmu} of the platform. */
  smmu: string;
  /** Default 0. */
  base?: number;
  /** Default: the entry's index in the list. */
  irq?: number;
  /** What `vcm_hw_ver` reports (default 1). */
  version?: number;
}

export interface SmmuDeviceTreeOptions {
  /** Where the context instances' page tables are allocated. */
  tables: TableMemory;
  smmus: readonly SmmuTreeEntry[];
}

/** For display: an SMMU's contexts. */
export interface SmmuTreeNode {
  smmu: string;
  base: number;
  irq: number;
  contexts: Array<{ name: string; context: number; active: boolean; mappings: number }>;
}

interface Node {
  driver: SmmuDriver;
  devs: SmmuDev[];
}

export class SmmuDeviceTree {
  readonly platform: Platform;
  private readonly nodes: Node[];

  /**
   * The tree of `options.smmus`. ENODEV for a name the platform has no SMMU of; EINVAL for
   * an SMMU listed twice and the errors of {@link SmmuDriver.check} (EINVAL, EBUSY for an
   * SMMU with a driver already), with the entry as field; ENOMEM if a table cannot be
   * allocated. On failure nothing changes.
   */
  constructor(platform: Platform, options: SmmuDeviceTreeOptions) {
    this.platform = platform;
    const smmus = platform.devices().filter((d): d is Smmu => d.kind === "smmu");
    const seen = new Set<string>();
    const plan = options.smmus.map((entry, i) => {
      const field = `smmus.${i}`;
      const smmu =
        smmus.find((s) => s.name === entry.smmu) ??
        fail(
          "ENODEV",
          `SMMU device tree: the platform has no SMMU "${entry.smmu}" (have: ${smmus.map((s) => s.name).join(", ") || "none"})`,
          `${field}.smmu`,
        );
      if (seen.has(smmu.name))
        fail("EINVAL", `SMMU device tree: SMMU "${smmu.name}" is listed twice`, `${field}.smmu`);
      seen.add(smmu.name);
      const base = entry.base ?? 0;
      const irq = entry.irq ?? i;
      const opts: SmmuDriverOptions = entry.version === undefined ? {} : { version: entry.version };
      inField(field, () => SmmuDriver.check(smmu, base, irq, opts));
      return { smmu, base, irq, opts };
    });
    // Every table first, so that a failed allocation leaves the banks untouched.
    const made: SmmuDev[][] = plan.map(() => []);
    try {
      plan.forEach((p, i) => {
        for (const b of p.smmu.contextBanks())
          made[i]!.push(SmmuDev.init(platform, options.tables, b.index, b.name));
      });
    } catch (e) {
      for (const dev of made.flat()) dev.deinit();
      throw e;
    }
    this.nodes = plan.map((p, i) => {
      const driver = SmmuDriver.init(p.smmu, p.base, p.irq, p.opts);
      const devs = made[i]!;
      for (const dev of devs) dev.bind(driver);
      return { driver, devs };
    });
  }

  /** The drivers, in the order listed. */
  drivers(): SmmuDriver[] {
    return this.nodes.map((n) => n.driver);
  }

  /** Every context instance of the tree, SMMU by SMMU. */
  instances(): SmmuDev[] {
    return this.nodes.flatMap((n) => n.devs);
  }

  /**
   * `smmu_get_ctx_instance`: the context instance of the context `name` (a bank's name, or
   * "smmu/bank"). ENOENT naming the known contexts; EINVAL if the plain name is a context of
   * several SMMUs.
   */
  getCtxInstance(name: string): SmmuDev {
    checkName("smmu_get_ctx_instance", "name", name);
    const all = this.nodes.flatMap((n) => n.devs.map((dev) => ({ n, dev })));
    const full = all.find(({ n, dev }) => `${n.driver.name}/${dev.name}` === name);
    if (full !== undefined) return full.dev;
    const plain = all.filter(({ dev }) => dev.name === name);
    if (plain.length > 1)
      fail(
        "EINVAL",
        `smmu_get_ctx_instance: context "${name}" is ambiguous (${plain.map(({ n, dev }) => `${n.driver.name}/${dev.name}`).join(", ")})`,
      );
    return (
      plain[0]?.dev ??
      fail(
        "ENOENT",
        `smmu_get_ctx_instance: no context "${name}" (have: ${all.map(({ n, dev }) => `${n.driver.name}/${dev.name}`).join(", ") || "none"})`,
      )
    );
  }

  /**
   * `smmu_free_ctx_instance`: deinitialize `dev` and drop it from the tree. ENOENT if it is
   * not an instance of the tree; the errors of {@link SmmuDev.deinit} (EBUSY while active or
   * mapped), and then nothing changes.
   */
  freeCtxInstance(dev: SmmuDev): void {
    checkInstance("smmu_free_ctx_instance", "dev", dev, SmmuDev);
    const node =
      this.nodes.find((n) => n.devs.includes(dev)) ??
      fail(
        "ENOENT",
        `smmu_free_ctx_instance: smmu_dev "${dev.name}" is not a context of this device tree`,
      );
    dev.deinit();
    node.devs.splice(node.devs.indexOf(dev), 1);
  }

  /**
   * `smmu_get_base_addr`: the base address of the SMMU `dev` is bound to. ENODEV if it is
   * unbound or deinitialized.
   */
  getBaseAddr(dev: SmmuDev): number {
    checkInstance("smmu_get_base_addr", "dev", dev, SmmuDev);
    const drv =
      dev.driver ??
      fail("ENODEV", `smmu_get_base_addr: smmu_dev "${dev.name}" is not bound to an SMMU`);
    return drv.base;
  }

  /** For display: each SMMU and its contexts, with their active flags. */
  contexts(): SmmuTreeNode[] {
    return this.nodes.map((n) => ({
      smmu: n.driver.name,
      base: n.driver.base,
      irq: n.driver.irq,
      contexts: n.devs.map((dev) => ({
        name: dev.name,
        context: dev.context,
        active: dev.isActive(),
        mappings: dev.mappings().length,
      })),
    }));
  }
}
