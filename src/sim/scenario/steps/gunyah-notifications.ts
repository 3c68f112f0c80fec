/**
 * `gunyah.notifications`: the notifications a VM's RM client received since the last such step
 * of that VM (or since its session opened), and with `expect` a check that they are exactly
 * those listed (one expectation), in order, each entry's given fields matching: `kind`
 * (MEM_SHARED, MEM_ACCEPTED, MEM_RELEASED, MEM_RECALL, VM_STATUS, VM_EXITED, VM_SHUTDOWN) and
 * that kind's fields — VMs by name, parcels by name or handle, states and reasons by name.
 */
import { z } from "zod";

import { hex } from "../../../base/address.js";
import type { Json } from "../../../base/events.js";
import { VM_STATE } from "../../../gunyah/hyp/vm.js";
import { MEM_TYPE, TRANS_TYPE } from "../../../gunyah/rm/types.js";
import type { RmNotification } from "../../../gunyah/wire/codec.js";
import { EXIT_TYPE, STOP_REASON } from "../../../gunyah/wire/vm.js";
import type { ScenarioGunyah } from "../machine/gunyah.js";
import { nameOf } from "../machine/gunyah-report.js";
import type { StepContext, StepDefinition } from "../step-module.js";
import { sizeSchema } from "../values.js";
import type { ParcelRef, VmRef } from "./gunyah-common.js";
import {
  defineGunyahStep,
  handleOf,
  memTypeSchema,
  namedSchema,
  parcelRefSchema,
  rightsSchema,
  showVm,
  transTypeSchema,
  vmidOf,
  vmOf,
  vmRefSchema,
  wordSchema,
  osStatusSchema,
  vmStateSchema,
} from "./gunyah-common.js";

// --- notifications ------------------------------------------------------------------------------

/** How one field of a notification pattern is compared. */
interface FieldSpec {
  readonly schema: z.ZodType;
  get(n: RmNotification): unknown;
  want(ctx: StepContext, g: ScenarioGunyah, v: never): unknown;
}

const same = (_ctx: StepContext, _g: ScenarioGunyah, v: unknown) => v;
const field = (key: string, schema: z.ZodType): FieldSpec => ({
  schema,
  get: (n) => (n as unknown as Record<string, unknown>)[key],
  want: same,
});
const vmField = (key: string): FieldSpec => ({
  schema: vmRefSchema,
  get: (n) => (n as unknown as Record<string, unknown>)[key],
  want: (ctx, g, v: VmRef) => vmidOf(ctx, g, v),
});
const handleField: FieldSpec = {
  schema: parcelRefSchema,
  get: (n) => (n as { handle: number }).handle,
  want: (ctx, g, v: ParcelRef) => handleOf(ctx, g, v),
};
const tag = field("memInfoTag", wordSchema(0xffff_ffff, "mem_info_tag."));

const NOTIFICATION_FIELDS: Record<RmNotification["id"], Record<string, FieldSpec>> = {
  MEM_SHARED: {
    handle: handleField,
    owner: vmField("owner"),
    label: field("label", wordSchema(0xffff_ffff, "The parcel's label.")),
    tag,
    memType: field("memType", memTypeSchema),
    transType: field("transType", transTypeSchema),
    sanitize: {
      schema: z.boolean(),
      get: (n) => ((n as { flags: number }).flags & 1) !== 0,
      want: same,
    },
    sizes: field("sizes", z.array(sizeSchema)),
    acl: {
      schema: z.array(z.strictObject({ vm: vmRefSchema, rights: rightsSchema })),
      get: (n) =>
        (n as unknown as { acl: Array<{ vmid: number; rights: number }> }).acl.map((e) => ({
          vmid: e.vmid,
          rights: e.rights,
        })),
      want: (ctx, g, v: Array<{ vm: VmRef; rights: number }>) =>
        v.map((e) => ({ vmid: vmidOf(ctx, g, e.vm), rights: e.rights })),
    },
  },
  MEM_ACCEPTED: { handle: handleField, vm: vmField("vmid"), tag },
  MEM_RELEASED: { handle: handleField, vm: vmField("vmid"), tag },
  MEM_RECALL: { handle: handleField, tag },
  VM_STATUS: {
    vm: vmField("vmid"),
    state: field("vmStatus", vmStateSchema),
    os: field("osStatus", osStatusSchema),
    app: field("appStatus", wordSchema(0xffff, "The app status.")),
  },
  VM_EXITED: {
    vm: vmField("vmid"),
    exitType: field("exitType", namedSchema("an exit type", EXIT_TYPE, 0xffff)),
    reason: field("reason", z.array(wordSchema(0xffff_ffff, "A reason word."))),
  },
  VM_SHUTDOWN: {
    reason: field("stopReason", namedSchema("a stop reason", STOP_REASON, 0xffff_ffff)),
  },
};

const patternSchema = z.discriminatedUnion(
  "kind",
  Object.entries(NOTIFICATION_FIELDS).map(([kind, fields]) =>
    z.strictObject({
      kind: z.literal(kind),
      ...Object.fromEntries(Object.entries(fields).map(([k, f]) => [k, f.schema.optional()])),
    }),
  ) as unknown as [z.ZodObject<{ kind: z.ZodLiteral<string> }>],
);

type Pattern = { kind: RmNotification["id"] } & Record<string, unknown>;

/** A notification in words: `VM_STATUS vm128 LOAD`, `MEM_RELEASED handle 0 by vm128`. */
export function showNotification(g: ScenarioGunyah, n: RmNotification): string {
  const vm = (vmid: number) => g.hyp.vm(vmid)?.name ?? `VMID ${hex(vmid)}`;
  switch (n.id) {
    case "MEM_SHARED":
      return `MEM_SHARED handle ${n.handle} from ${vm(n.owner)} (${nameOf(TRANS_TYPE, n.transType)} ${nameOf(MEM_TYPE, n.memType)}, label ${n.label}, tag ${hex(n.memInfoTag)}, ${n.sizes.length} region${n.sizes.length === 1 ? "" : "s"}${n.flags & 1 ? ", sanitized" : ""})`;
    case "MEM_ACCEPTED":
    case "MEM_RELEASED":
      return `${n.id} handle ${n.handle} by ${vm(n.vmid)} (tag ${hex(n.memInfoTag)})`;
    case "MEM_RECALL":
      return `MEM_RECALL handle ${n.handle} (tag ${hex(n.memInfoTag)})`;
    case "VM_STATUS":
      return `VM_STATUS ${vm(n.vmid)} ${nameOf(VM_STATE, n.vmStatus)}`;
    case "VM_EXITED":
      return `VM_EXITED ${vm(n.vmid)} ${nameOf(EXIT_TYPE, n.exitType)} [${n.reason.map(hex).join(", ")}]`;
    case "VM_SHUTDOWN":
      return `VM_SHUTDOWN ${nameOf(STOP_REASON, n.stopReason)}`;
  }
}

function showPattern(p: Pattern): string {
  const rest = Object.entries(p)
    .filter(([k, v]) => k !== "kind" && v !== undefined)
    .map(([k, v]) => `${k} ${JSON.stringify(v)}`);
  return [p.kind, ...rest].join(" ");
}

/** Where `n` differs from pattern `p`, or undefined if it matches. */
function mismatch(
  ctx: StepContext,
  g: ScenarioGunyah,
  p: Pattern,
  n: RmNotification,
): string | undefined {
  if (p.kind !== n.id) return `expected ${p.kind}, got ${showNotification(g, n)}`;
  const fields = NOTIFICATION_FIELDS[p.kind];
  for (const [k, f] of Object.entries(fields)) {
    if (p[k] === undefined) continue;
    const want = f.want(ctx, g, p[k] as never);
    const got = f.get(n);
    if (JSON.stringify(want) !== JSON.stringify(got))
      return `${showNotification(g, n)}: ${k} is ${JSON.stringify(got)}, not ${JSON.stringify(want)}`;
  }
  return undefined;
}

const notifications = defineGunyahStep({
  schema: z
    .strictObject({
      op: z.literal("gunyah.notifications"),
      vm: vmRefSchema
        .optional()
        .meta({ description: "The VM whose notifications (default: the host)." }),
      expect: z.array(patternSchema).optional().meta({
        description:
          "Exactly these notifications, in order (one expectation): kind (MEM_SHARED, MEM_ACCEPTED, MEM_RELEASED, MEM_RECALL, VM_STATUS, VM_EXITED, VM_SHUTDOWN) and any of its fields.",
      }),
    })
    .meta({
      title: "gunyah.notifications",
      description:
        "The notifications a VM's RM client received since the last gunyah.notifications of that VM.",
    }),
  describe: (s) => `notifications of ${s.vm !== undefined ? showVm(s.vm) : "hlos"}`,
  run(ctx, step, g) {
    const vm = step.vm === undefined ? g.hyp.host : vmOf(ctx, g, step.vm);
    const got = g.client(vm.vmid).takeNotifications();
    const words = got.map((n) => showNotification(g, n));
    if (step.expect !== undefined) {
      const want = step.expect as unknown as Pattern[];
      const what = `${vm.name}'s notifications`;
      let problem: string | undefined;
      if (want.length !== got.length)
        problem = `expected ${want.length} (${want.map(showPattern).join("; ") || "none"}), got ${got.length} (${words.join("; ") || "none"})`;
      else
        for (let i = 0; i < want.length && problem === undefined; i++) {
          const m = mismatch(ctx, g, want[i]!, got[i]!);
          if (m !== undefined) problem = `#${i}: ${m}`;
        }
      ctx.expect(
        problem === undefined,
        problem === undefined ? `${what}: ${words.join("; ") || "none"}` : `${what}: ${problem}`,
      );
    }
    return {
      summary: words.length > 0 ? words.join("; ") : "none",
      output: { vm: vm.name, notifications: JSON.parse(JSON.stringify(got)) as Json },
    };
  },
});

/** The notifications step, by op. */
export const gunyahNotificationOps: Record<string, StepDefinition> = {
  "gunyah.notifications": notifications,
};
