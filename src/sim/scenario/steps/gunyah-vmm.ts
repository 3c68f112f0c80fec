/**
 * The host's VM manager as steps (`src/gunyah/vmm/`, seed 002: Linux's `gh_vm_*`): create a VM,
 * give it user memory regions and a DTB config, start it, tear it down — each a call of one
 * {@link GhVm}, which speaks to the RM through a host session of its own (the host's
 * notifications reach it, and `gunyah.notifications` of hlos too).
 *
 * | op                 | fields                                                                     |
 * | ------------------ | -------------------------------------------------------------------------- |
 * | gunyah.vmmCreate   | vmid?, as, expect? { errno, vmid }                                          |
 * | gunyah.vmmRegion   | vm, label, flags? [READ, WRITE, EXEC], gpa, size, uaddr, lend?, expect? { errno } |
 * | gunyah.vmmDtb      | vm, gpa, size, expect? { errno }                                            |
 * | gunyah.vmmStart    | vm, expect? { errno, rmError, state }                                       |
 * | gunyah.vmmTeardown | vm, expect? { stranded: [{ label, err? }], deallocated, steps }             |
 *
 * **Expectations.** A VM manager call answers like Linux: success, or an errno (`-EEXIST`,
 * written `EEXIST` or `-EEXIST`) and, when the RM refused, the RM error. Without `expect` the
 * call must succeed (a failure fails the step and stops the run, with the errno as its code
 * when the model has it, else EINVAL); with it, a
 * mismatch is a failed expectation. A teardown always runs every step it can: its `expect`
 * says what must be stranded (exactly those regions, by label; `err` the RM error that
 * refused their reclaim), whether the VM was deallocated, and (`steps`) which RPCs it made with
 * which answers (`VM_RESET OK`, `MEM_RECLAIM 0 MEM_INUSE`).
 *
 * Decisions: `as` binds the VM (a `gunyah.*` step takes it as a VM: `gunyah.access vm: guest`);
 * `uaddr`, the host memory behind a region, is a host IPA (names work: an allocation, a parcel);
 * `lend: true` makes a region a lend (Android's variant; default a share, as Linux v13).
 */
import { z } from "zod";

import { hex } from "../../../base/address.js";
import type { ErrorCode } from "../../../base/errors.js";
import { ERRNO, fail } from "../../../base/errors.js";
import { InProcessRmClient } from "../../../gunyah/client/in-process.js";
import { VM_STATE, VMID_HLOS } from "../../../gunyah/hyp/vm.js";
import type { RmError } from "../../../gunyah/rm/types.js";
import type { TeardownReport, VmmResult } from "../../../gunyah/vmm/index.js";
import { GH_MEM_ALLOW, GhVm } from "../../../gunyah/vmm/index.js";
import { showSize, showValue } from "../format.js";
import type { ScenarioGunyah } from "../machine/gunyah.js";
import { ipaSpace } from "../machine/gunyah.js";
import { nameOf } from "../machine/gunyah-report.js";
import type { StepContext, StepDefinition, StepReport } from "../step-module.js";
import { PHYSICAL } from "../step-module.js";
import { addressSchema, showAddress, sizeSchema } from "../values.js";
import type { VmRef } from "./gunyah-common.js";
import {
  asSchema,
  checkBindable,
  defineGunyahStep,
  expectValue,
  flagsSchema,
  rmErrorSchema,
  showVm,
  vmidOf,
  vmRefSchema,
  wordSchema,
  vmStateSchema,
} from "./gunyah-common.js";
import { bindVm } from "./gunyah-vm.js";

const EXTRA = "vmm";

/** The VM manager's VMs of a scenario, by VMID, each with its host session. */
function vmms(g: ScenarioGunyah): Map<number, { vm: GhVm; client: InProcessRmClient }> {
  let m = g.extras.get(EXTRA) as Map<number, { vm: GhVm; client: InProcessRmClient }> | undefined;
  if (m === undefined) g.extras.set(EXTRA, (m = new Map()));
  return m;
}

function vmmOf(ctx: StepContext, g: ScenarioGunyah, ref: VmRef): GhVm {
  const vmid = vmidOf(ctx, g, ref);
  const vm = vmms(g).get(vmid)?.vm;
  if (vm === undefined) {
    const have = [...vmms(g).keys()].map((v) => `vm${v}`);
    fail(
      "ENOENT",
      `${showVm(ref)} (VMID ${hex(vmid)}) is not a VM of the VM manager (gunyah.vmmCreate made: ${have.join(", ") || "none"})`,
    );
  }
  return vm;
}

/** An errno as written: `EEXIST` or `-EEXIST`, kept as Linux writes it (`-EEXIST`). */
const errnoSchema = z
  .string()
  .regex(/^-?E[A-Z0-9]+$/, {
    error: (i) => `expected an errno like EEXIST or -EINVAL, got ${showValue(i.input)}`,
  })
  .transform((s) => (s.startsWith("-") ? s : `-${s}`))
  .meta({ description: "An errno, as Linux returns it: EEXIST or -EEXIST, EINVAL, EPERM, ..." });

const vmmExpect = <S extends z.core.$ZodLooseShape>(shape: S) =>
  z
    .strictObject({
      errno: errnoSchema.optional(),
      rmError: rmErrorSchema.optional().meta({ description: "The RM error behind the errno." }),
      ...shape,
    })
    .optional()
    .meta({
      description:
        "What the call must answer: errno (and rmError) for a failure; none for success.",
    });

/** The model's error code for a Linux errno (`-EEXIST`: EEXIST; one the model lacks: EINVAL). */
function codeOf(errno: string): ErrorCode {
  const name = errno.replace(/^-/, "");
  return Object.hasOwn(ERRNO, name) ? (name as ErrorCode) : "EINVAL";
}

/** Judge a VM manager result against `expect` (see the module's header). */
function judgeVmm(
  ctx: StepContext,
  head: string,
  r: VmmResult<unknown>,
  expect: { errno?: string | undefined; rmError?: RmError | undefined } | undefined,
): boolean {
  const got = r.ok
    ? "success"
    : `${r.errno}${r.rmError !== undefined ? ` (${r.rmError})` : ""}: ${r.message}`;
  const wantErr = expect?.errno !== undefined || expect?.rmError !== undefined;
  if (!wantErr) {
    if (!r.ok && expect === undefined)
      fail(codeOf(r.errno), `${head}: expected success, got ${got}`);
    if (!r.ok) ctx.expect(false, `${head}: expected success, got ${got}`);
    else if (expect !== undefined && Object.values(expect).every((v) => v === undefined))
      ctx.expect(true, `${head}: success`);
    return r.ok;
  }
  const matches =
    !r.ok &&
    (expect?.errno === undefined || r.errno === expect.errno) &&
    (expect?.rmError === undefined || r.rmError === expect.rmError);
  const want = [expect?.errno, expect?.rmError !== undefined ? `(${expect.rmError})` : undefined]
    .filter((x) => x !== undefined)
    .join(" ");
  ctx.expect(
    matches,
    matches ? `${head}: ${got}, as expected` : `${head}: expected ${want}, got ${got}`,
  );
  return false;
}

function report(
  head: string,
  r: VmmResult<unknown>,
  summary: string,
  output: Record<string, unknown>,
): StepReport {
  return {
    summary: `${head}: ${r.ok ? summary || "ok" : `${r.errno}: ${r.message}`}`,
    output: JSON.parse(
      JSON.stringify({
        ok: r.ok,
        ...(r.ok ? {} : { errno: r.errno, rmError: r.rmError ?? null, message: r.message }),
        ...output,
      }),
    ) as StepReport["output"],
  };
}

const vmmCreate = defineGunyahStep({
  schema: z
    .strictObject({
      op: z.literal("gunyah.vmmCreate"),
      vmid: wordSchema(0xffff, "The VMID to ask for (default 0: any).").optional(),
      as: asSchema("VM"),
      expect: vmmExpect({ vmid: vmRefSchema.optional().meta({ description: "The VMID it got." }) }),
    })
    .meta({
      title: "gunyah.vmmCreate",
      description: "The VM manager creates a VM (gh_vm_alloc: VM_ALLOCATE), in LOAD.",
    }),
  describe: (s) => `VM manager: create ${s.as}${s.vmid ? ` (VMID ${hex(s.vmid)})` : ""}`,
  run(ctx, step, g) {
    checkBindable(ctx, step.as);
    const client = new InProcessRmClient(g.hub, VMID_HLOS);
    const r = GhVm.create(client, step.vmid ?? 0);
    const head = `gh_vm_alloc ${step.as}`;
    if (!r.ok) client.close();
    if (judgeVmm(ctx, head, r, step.expect) && r.ok) {
      const vm = r.value;
      vmms(g).set(vm.vmid, { vm, client });
      g.sync();
      bindVm(ctx, g, step.as, g.vm(vm.vmid));
      if (step.expect?.vmid !== undefined)
        expectValue(ctx, `${head}: VMID`, vmidOf(ctx, g, step.expect.vmid), vm.vmid, hex);
    }
    return report(
      head,
      r,
      r.ok ? `vm${r.value.vmid} (VMID ${hex(r.value.vmid)})` : "",
      r.ok ? { vmid: r.value.vmid } : {},
    );
  },
});

const vmmRegion = defineGunyahStep({
  schema: z
    .strictObject({
      op: z.literal("gunyah.vmmRegion"),
      vm: vmRefSchema,
      label: wordSchema(0xffff_ffff, "The region's label (its parcel's label)."),
      flags: flagsSchema("region", GH_MEM_ALLOW).optional().meta({
        description: "GH_MEM_ALLOW_*: READ, WRITE, EXEC (default all three), or a number.",
      }),
      gpa: sizeSchema.meta({ description: "The guest physical address (page-aligned)." }),
      size: sizeSchema.meta({ description: "Its size (page-aligned)." }),
      uaddr: addressSchema.meta({
        description: "The host memory behind it: a host IPA, or a name (an allocation, a parcel).",
      }),
      lend: z.boolean().optional().meta({
        description: "Lend it (the host loses access while the VM runs); default: share.",
      }),
      expect: vmmExpect({}),
    })
    .meta({
      title: "gunyah.vmmRegion",
      description:
        "GH_VM_SET_USER_MEM_REGION: a region of guest memory backed by host memory (only before start).",
    }),
  describe: (s) =>
    `VM manager: ${showVm(s.vm)} region ${s.label} at ${hex(s.gpa)} (${showSize(s.size)}) from ${showAddress(s.uaddr)}${s.lend === true ? " (lend)" : ""}`,
  run(ctx, step, g) {
    const vm = vmmOf(ctx, g, step.vm);
    const uaddr = ctx.resolve(step.uaddr, [ipaSpace(g.hyp.host), PHYSICAL]);
    const r = vm.setUserMemRegion({
      label: step.label,
      flags: step.flags ?? 7,
      guestPhysAddr: step.gpa,
      size: step.size,
      userspaceAddr: uaddr,
      shareType: step.lend === true ? "lend" : "share",
    });
    const head = `GH_VM_SET_USER_MEM_REGION vm${vm.vmid} label ${step.label}`;
    judgeVmm(ctx, head, r, step.expect);
    return report(head, r, `${vm.regions().length} region(s)`, {
      vmid: vm.vmid,
      label: step.label,
      uaddr,
    });
  },
});

const vmmDtb = defineGunyahStep({
  schema: z
    .strictObject({
      op: z.literal("gunyah.vmmDtb"),
      vm: vmRefSchema,
      gpa: sizeSchema.meta({ description: "The DTB's guest physical address." }),
      size: sizeSchema.meta({ description: "Its size (rounded up to a page)." }),
      expect: vmmExpect({}),
    })
    .meta({
      title: "gunyah.vmmDtb",
      description: "GH_VM_SET_DTB_CONFIG: where the DTB is in guest memory.",
    }),
  describe: (s) => `VM manager: ${showVm(s.vm)} DTB at ${hex(s.gpa)} (${showSize(s.size)})`,
  run(ctx, step, g) {
    const vm = vmmOf(ctx, g, step.vm);
    const r = vm.setDtbConfig(step.gpa, step.size);
    const head = `GH_VM_SET_DTB_CONFIG vm${vm.vmid}`;
    judgeVmm(ctx, head, r, step.expect);
    return report(head, r, "", { vmid: vm.vmid });
  },
});

const vmmStart = defineGunyahStep({
  schema: z
    .strictObject({
      op: z.literal("gunyah.vmmStart"),
      vm: vmRefSchema,
      expect: vmmExpect({
        state: vmStateSchema
          .optional()
          .meta({ description: "The VM manager's view of the VM's state after it." }),
      }),
    })
    .meta({
      title: "gunyah.vmmStart",
      description:
        "GH_VM_START: lend or share every region, find the DTB's region, VM_CONFIG_IMAGE, VM_INIT, VM_GET_HYP_RESOURCES, VM_START; any error leaves it INIT_FAILED.",
    }),
  describe: (s) => `VM manager: start ${showVm(s.vm)}`,
  run(ctx, step, g) {
    const vm = vmmOf(ctx, g, step.vm);
    const r = vm.start();
    const head = `GH_VM_START vm${vm.vmid}`;
    judgeVmm(ctx, head, r, step.expect);
    if (step.expect?.state !== undefined)
      expectValue(ctx, `${head}: state`, step.expect.state, vm.status, (x) => nameOf(VM_STATE, x));
    return report(head, r, `${nameOf(VM_STATE, vm.status)}`, {
      vmid: vm.vmid,
      state: nameOf(VM_STATE, vm.status),
    });
  },
});

const strandedSchema = z
  .array(
    z.strictObject({
      label: wordSchema(0xffff_ffff, "The region's label."),
      err: rmErrorSchema.optional().meta({ description: "The RM error that refused its reclaim." }),
    }),
  )
  .meta({ description: "Exactly the regions left stranded (by label, in order)." });

function showTeardown(t: TeardownReport): string {
  return t.steps.map((s) => `${s.op} ${s.result}`).join("; ");
}

const vmmTeardown = defineGunyahStep({
  schema: z
    .strictObject({
      op: z.literal("gunyah.vmmTeardown"),
      vm: vmRefSchema,
      expect: z
        .strictObject({
          stranded: strandedSchema.optional(),
          deallocated: z.boolean().optional(),
          steps: z.array(z.string()).optional().meta({
            description:
              'The RPCs it made and their answers, in order: "VM_RESET OK", "MEM_RECLAIM 0 MEM_INUSE".',
          }),
        })
        .optional()
        .meta({ description: "What the teardown must report; each key is one expectation." }),
    })
    .meta({
      title: "gunyah.vmmTeardown",
      description:
        "The VM manager's teardown, in the order the RM requires: VM_STOP if running, VM_RESET (and wait for RESET), MEM_RECLAIM of every region, VM_DEALLOCATE; what could not be reclaimed is stranded.",
    }),
  describe: (s) => `VM manager: tear ${showVm(s.vm)} down`,
  run(ctx, step, g) {
    const vm = vmmOf(ctx, g, step.vm);
    const t = vm.teardown();
    const head = `teardown of vm${vm.vmid}`;
    const e = step.expect;
    const firstWord = (s: string) => s.split(" ")[0]!;
    if (e?.stranded !== undefined)
      expectValue(
        ctx,
        `${head}: stranded`,
        e.stranded.map((x) => (x.err !== undefined ? `${x.label} ${x.err}` : String(x.label))),
        t.stranded.map((x, i) =>
          e.stranded![i]?.err !== undefined ? `${x.label} ${firstWord(x.error)}` : String(x.label),
        ),
        (xs) => (xs.length > 0 ? xs.map((x) => `region ${x}`).join(", ") : "nothing"),
      );
    if (e?.deallocated !== undefined)
      expectValue(ctx, `${head}: deallocated`, e.deallocated, t.deallocated);
    if (e?.steps !== undefined)
      expectValue(
        ctx,
        `${head}: steps`,
        e.steps,
        t.steps.map((s) => `${s.op} ${firstWord(s.result)}`),
        (xs) => xs.join("; "),
      );
    if (t.deallocated) {
      vmms(g).get(vm.vmid)?.client.close();
      vmms(g).delete(vm.vmid);
    }
    const stranded = t.stranded.map(
      (s) =>
        `region ${s.label} (handle ${s.handle}, ${hex(s.userspaceAddr)}+${showSize(s.size)}): ${s.error}`,
    );
    return {
      summary: `${head}: ${showTeardown(t)}; ${stranded.length > 0 ? `stranded: ${stranded.join("; ")}` : "nothing stranded"}`,
      output: JSON.parse(JSON.stringify({ vmid: vm.vmid, ...t })) as StepReport["output"],
      tables: [
        {
          title: `teardown of vm${vm.vmid}`,
          head: ["step", "answer"],
          rows: t.steps.map((s) => [s.op, s.result]),
        },
        ...(t.stranded.length > 0
          ? [
              {
                title: `stranded by the teardown of vm${vm.vmid}`,
                head: ["label", "handle", "host memory", "error"],
                rows: t.stranded.map((s) => [
                  String(s.label),
                  String(s.handle),
                  `${hex(s.userspaceAddr)}+${showSize(s.size)}`,
                  s.error,
                ]),
              },
            ]
          : []),
      ],
    };
  },
});

/** The VM manager's steps, by op. */
export const gunyahVmmOps: Record<string, StepDefinition> = {
  "gunyah.vmmCreate": vmmCreate,
  "gunyah.vmmRegion": vmmRegion,
  "gunyah.vmmDtb": vmmDtb,
  "gunyah.vmmStart": vmmStart,
  "gunyah.vmmTeardown": vmmTeardown,
};
