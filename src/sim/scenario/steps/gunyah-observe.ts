/**
 * Steps that look at what the RPCs did to memory: accesses through a VM's vCPUs, which VMs reach
 * physical memory and through which parcel, and isolation.
 *
 * | op              | fields                                                                   |
 * | --------------- | ------------------------------------------------------------------------ |
 * | gunyah.access   | vm, vcpu?, kind, ipa, size?, data?, privileged?, expect?, expectFault?    |
 * | gunyah.who      | addr, size?, expect? [{ vm, rights?, parcel? }]                           |
 * | gunyah.isolated | vms, addr, size?                                                          |
 *
 * Decisions:
 * - `gunyah.access` is the `access` step through `<vm>.vcpu<vcpu>`: a guest's vCPUs exist only
 *   from its VM_ALLOCATE, so the `access` step (whose device is checked when the file is loaded)
 *   can name only the host's; addresses are IPAs of the VM (names bound by `gunyah.accept`
 *   work), faults are expectations as there.
 * - `gunyah.who` groups the live paths into the range by the VM whose stage 2 they go through
 *   (the VM's label on its table) and the parcels labelled on their physical ranges; with
 *   `expect` the VMs reaching it must be exactly those listed (one expectation). `parcel: none`
 *   means through no parcel (the VM's own memory). Masters that are not vCPUs are reported, not
 *   judged.
 * - `gunyah.isolated` counts live paths and TLB entries of every vCPU of the VMs, as
 *   `expectIsolated` does.
 */
import { z } from "zod";

import { hex, hexRange } from "../../../base/address.js";
import { fail } from "../../../base/errors.js";
import type { Json } from "../../../base/events.js";
import { reachableBy } from "../../../devices/graph/checks.js";
import type { ReachPath } from "../../../devices/graph/reverse-map.js";
import { whoReaches } from "../../../devices/graph/reverse-map.js";
import { showSize } from "../format.js";
import type { StepContext, StepDefinition } from "../step-module.js";
import { translationSteps } from "./translation.js";
import { addressSchema, countSchema, showAddress, sizeSchema } from "../values.js";
import {
  defineGunyahStep,
  handleOf,
  parcelRefSchema,
  showParcel,
  showVm,
  vmidOf,
  vmOf,
  vmRefSchema,
} from "./gunyah-common.js";

// --- accesses through a guest's vCPU --------------------------------------------------------------

const ACCESS = translationSteps.ops.access!;
const A = ACCESS.schema.shape as unknown as Record<string, z.ZodType>;

const access = defineGunyahStep({
  schema: z
    .strictObject({
      op: z.literal("gunyah.access"),
      vm: vmRefSchema.meta({ description: "The VM whose vCPU accesses." }),
      vcpu: countSchema.optional().meta({ description: "Which of its vCPUs (default 0)." }),
      kind: A.kind!,
      ipa: addressSchema.meta({
        description:
          "The IPA (a number, or a name bound by gunyah.accept or a create step, plus an offset).",
      }),
      size: A.size!,
      data: A.data!,
      privileged: A.privileged!,
      expect: A.expect!,
      expectFault: A.expectFault!,
    })
    .superRefine((s, c) => {
      const issue = (path: string, message: string) =>
        c.addIssue({ code: "custom", path: [path], message });
      const data = s.data as Uint8Array | undefined;
      if (s.kind === "write" && data === undefined)
        issue("data", 'missing required key "data" (a write writes data)');
      if (s.kind !== "write" && data !== undefined)
        issue("data", `data is for writes (this access is a ${String(s.kind)})`);
      if (
        s.kind !== "write" &&
        s.size === undefined &&
        s.expect === undefined &&
        s.expectFault === undefined
      )
        issue("size", 'missing required key "size" (or "expect", whose length is the size)');
      if (s.expect !== undefined && s.expectFault !== undefined)
        issue("expectFault", "expect and expectFault exclude each other");
    })
    .meta({
      title: "gunyah.access",
      description:
        "Read, write or fetch through a VM's vCPU (<vm>.vcpu<n>): through its stage 2, faulting where it has nothing mapped or no right. As the access step.",
    }),
  describe: (s) => {
    const n =
      s.kind === "write"
        ? (s.data as Uint8Array).length
        : ((s.size as number | undefined) ?? (s.expect as Uint8Array | undefined)?.length ?? 1);
    return `${showVm(s.vm)} vcpu${s.vcpu ?? 0}: ${String(s.kind)} ${n} byte${n === 1 ? "" : "s"} at IPA ${showAddress(s.ipa)}`;
  },
  run(ctx, step, g) {
    const vm = vmOf(ctx, g, step.vm);
    const cpu = vm.vcpus[step.vcpu ?? 0];
    if (cpu === undefined)
      fail(
        "ENOENT",
        `${vm.name} has no vCPU ${step.vcpu ?? 0} (vCPUs: ${vm.vcpus.map((c) => c.name).join(", ")})`,
      );
    const { op: _op, vm: _vm, vcpu: _vcpu, ipa, ...rest } = step;
    return ACCESS.run(ctx, { ...rest, op: "access", device: cpu.name, va: ipa });
  },
});

// --- who reaches memory, VM by VM --------------------------------------------------------------

/** What one VM reaches of a range. */
interface VmReach {
  vm: string;
  vcpus: string[];
  rights: string[];
  parcels: number[];
  ipa: { start: number; end: number };
}

/** The handle a parcel's owner label names (`parcel 3`, or `3`). */
function parcelOfOwner(name: string): number | undefined {
  const m = /^(?:parcel |handle )?(\d+)$/.exec(name);
  return m !== null ? Number(m[1]) : undefined;
}

/** The live paths into `[pa, end)`, grouped by the VM whose stage 2 they take. */
function reachByVm(
  ctx: StepContext,
  pa: number,
  end: number,
): { vms: VmReach[]; others: ReachPath[] } {
  const paths = whoReaches(ctx.platform, pa, end, { onlyLive: true });
  const byVm = new Map<string, VmReach>();
  const others: ReachPath[] = [];
  for (const p of paths) {
    const vmOwner = p.owners.find((o) => o.system === "gunyah" && o.kind === "VM");
    if (vmOwner === undefined) {
      others.push(p);
      continue;
    }
    let r = byVm.get(vmOwner.name);
    if (r === undefined)
      byVm.set(
        vmOwner.name,
        (r = {
          vm: vmOwner.name,
          vcpus: [],
          rights: [],
          parcels: [],
          ipa: { start: p.input.start, end: p.input.end },
        }),
      );
    if (!r.vcpus.includes(p.master)) r.vcpus.push(p.master);
    if (!r.rights.includes(p.access)) r.rights.push(p.access);
    r.ipa.start = Math.min(r.ipa.start, p.input.start);
    r.ipa.end = Math.max(r.ipa.end, p.input.end);
    for (const o of p.owners) {
      const h = o.system === "gunyah" && o.kind === "parcel" ? parcelOfOwner(o.name) : undefined;
      if (h !== undefined && !r.parcels.includes(h)) r.parcels.push(h);
    }
  }
  return { vms: [...byVm.values()], others };
}

function showReach(r: VmReach): string {
  const via = r.parcels.length > 0 ? `parcel ${r.parcels.join(", ")}` : "its own memory";
  return `${r.vm} (${r.rights.map((x) => x || "-").join("/")}) at IPA ${hexRange(r.ipa.start, r.ipa.end - r.ipa.start)} via ${via}`;
}

const who = defineGunyahStep({
  schema: z
    .strictObject({
      op: z.literal("gunyah.who"),
      addr: addressSchema.meta({
        description: "The physical address (a parcel's or accepted memory's name: its first page).",
      }),
      size: sizeSchema.optional().meta({ description: "Bytes from addr (default 1)." }),
      expect: z
        .array(
          z.strictObject({
            vm: vmRefSchema,
            rights: z
              .string()
              .regex(/^[rwx]*$/, {
                error: (i) =>
                  `expected rights as letters r, w, x (e.g. "rw"), got ${JSON.stringify(i.input)}`,
              })
              .optional()
              .meta({ description: "What its vCPUs may do there: letters r, w, x." }),
            parcel: parcelRefSchema.optional().meta({
              description:
                "The parcel it reaches it through (a name or handle), or none: its own memory.",
            }),
          }),
        )
        .optional()
        .meta({ description: "Exactly these VMs reach the range (one expectation)." }),
    })
    .meta({
      title: "gunyah.who",
      description:
        "Which VMs reach a physical range, with which rights, through which parcel (the platform graph).",
    }),
  describe: (s) =>
    `which VMs reach ${showAddress(s.addr)}${s.size !== undefined ? `+${showSize(s.size)}` : ""}`,
  run(ctx, step, g) {
    const pa = ctx.resolve(step.addr);
    const size = step.size ?? 1;
    const { vms, others } = reachByVm(ctx, pa, pa + size);
    const what = `VMs reaching ${hexRange(pa, size)}`;
    if (step.expect !== undefined) {
      const problems: string[] = [];
      const listed: string[] = [];
      for (const e of step.expect) {
        const vmid = vmidOf(ctx, g, e.vm);
        const name = g.hyp.vm(vmid)?.name ?? `vm${vmid}`;
        listed.push(name);
        const r = vms.find((x) => x.vm === name);
        if (r === undefined) {
          problems.push(`${name} does not reach it`);
          continue;
        }
        const rights =
          e.rights === undefined
            ? undefined
            : ["r", "w", "x"].filter((x) => e.rights!.includes(x)).join("");
        if (rights !== undefined && (r.rights.length !== 1 || r.rights[0] !== rights))
          problems.push(
            `${name} may ${r.rights.map((x) => x || "nothing").join(" / ")}, not ${rights || "nothing"}`,
          );
        if (e.parcel !== undefined) {
          const none = "name" in e.parcel && e.parcel.name === "none";
          if (none && r.parcels.length > 0)
            problems.push(
              `${name} reaches it through parcel ${r.parcels.join(", ")}, not its own memory`,
            );
          if (!none) {
            const h = handleOf(ctx, g, e.parcel);
            if (!r.parcels.includes(h))
              problems.push(
                `${name} reaches it through ${r.parcels.length > 0 ? `parcel ${r.parcels.join(", ")}` : "its own memory"}, not parcel ${h} (${showParcel(e.parcel)})`,
              );
          }
        }
      }
      for (const r of vms) if (!listed.includes(r.vm)) problems.push(`${r.vm} reaches it too`);
      ctx.expect(
        problems.length === 0,
        problems.length === 0
          ? `${what}: exactly ${vms.map(showReach).join("; ") || "none"}`
          : `${what}: ${problems.join("; ")}`,
      );
    }
    return {
      summary:
        [...vms.map(showReach), ...others.map((p) => `${p.master} (not a VM)`)].join("; ") ||
        "no VM",
      output: { pa, size, vms: vms as unknown as Json, others: others.map((p) => p.master) },
      tables: [
        {
          title: `VMs reaching ${hexRange(pa, size)}`,
          head: ["VM", "vCPUs", "IPA", "rights", "through"],
          rows: vms.map((r) => [
            r.vm,
            r.vcpus.join(", "),
            hexRange(r.ipa.start, r.ipa.end - r.ipa.start),
            r.rights.map((x) => x || "-").join(" / "),
            r.parcels.length > 0 ? r.parcels.map((h) => `parcel ${h}`).join(", ") : "own memory",
          ]),
        },
      ],
    };
  },
});

const isolated = defineGunyahStep({
  schema: z
    .strictObject({
      op: z.literal("gunyah.isolated"),
      vms: z
        .array(vmRefSchema)
        .min(1, { error: "expected at least one VM" })
        .meta({ description: "The VMs whose vCPUs must not reach the range." }),
      addr: addressSchema.meta({ description: "The physical range's start." }),
      size: sizeSchema.optional().meta({ description: "Bytes from addr (default 1)." }),
    })
    .meta({
      title: "gunyah.isolated",
      description:
        "Expect that no vCPU of these VMs reaches the physical range: no live path, no TLB entry (one expectation).",
    }),
  describe: (s) =>
    `expect ${s.vms.map(showVm).join(", ")} isolated from ${showAddress(s.addr)}${s.size !== undefined ? `+${showSize(s.size)}` : ""}`,
  run(ctx, step, g) {
    const pa = ctx.resolve(step.addr);
    const size = step.size ?? 1;
    const vms = step.vms.map((v) => vmOf(ctx, g, v));
    const r = reachableBy(
      ctx.platform,
      vms.flatMap((v) => v.vcpus.map((c) => c.name)),
      pa,
      pa + size,
    );
    const found = [
      ...r.paths.map((p) => `${p.master} at ${hex(p.input.start)} (${p.access || "-"})`),
      ...r.cached.map((c) => `${c.master}'s TLB caches ${hex(c.va)} -> ${hex(c.pa)}`),
    ];
    const what = `${vms.map((v) => v.name).join(", ")} isolated from ${hexRange(pa, size)}`;
    ctx.expect(found.length === 0, found.length === 0 ? what : `${what}: ${found.join("; ")}`);
    return {
      summary: found.length === 0 ? "isolated" : `reached: ${found.join("; ")}`,
      output: { pa, size, isolated: found.length === 0 },
    };
  },
});

/** The access, who and isolation steps, by op. */
export const gunyahObserveOps: Record<string, StepDefinition> = {
  "gunyah.access": access,
  "gunyah.who": who,
  "gunyah.isolated": isolated,
};
