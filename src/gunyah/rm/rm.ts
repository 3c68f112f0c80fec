/**
 * The resource manager: memory parcels and VM management over one hypervisor, and the
 * notifications it owes each VM (at most 256 queued per VM; beyond that the oldest is dropped,
 * as rm-rpc-fifo.c).
 *
 * This is the semantic layer: calls take decoded arguments and answer an {@link RmResult}. The
 * wire layer ({@link ./dispatch.ts}) decodes messages into these calls and encodes the answers.
 *
 * @example
 * const rm = new ResourceManager(hyp);
 * const h = rm.parcels.create(3, TRANS_TYPE.LEND, { memType: 0, flags: 0, label: 1,
 *   acl: [{ vmid: 0x80, rights: RIGHTS.RWX }], sgl: [{ ipa: 0x8000_0000, size: 0x20_0000 }], attrs: [] });
 */
import type { Hypervisor } from "../hyp/hypervisor.js";
import { MemParcels } from "./memparcel.js";
import type { RmNotice } from "./types.js";
import { VmManagement } from "./vm-mgnt.js";

/** Notifications queued per VM before the oldest is dropped. */
export const NOTIFICATION_QUEUE = 256;

export interface ResourceManagerOptions {
  /** Where VM_START accepts a guest's image parcel (default 0x80000000). */
  readonly memBase?: number;
  /** vCPUs per guest VM (default 1). */
  readonly vcpus?: number;
}

export class ResourceManager {
  readonly parcels: MemParcels;
  readonly vms: VmManagement;
  private readonly queues = new Map<number, RmNotice[]>();
  private readonly listeners = new Set<(n: RmNotice) => void>();
  /** Notifications dropped because a queue was full, per VM. */
  readonly dropped = new Map<number, number>();

  constructor(
    readonly hyp: Hypervisor,
    options: ResourceManagerOptions = {},
  ) {
    const notify = (n: RmNotice) => this.post(n);
    this.parcels = new MemParcels(hyp, notify);
    // A deallocated VM's undelivered notifications go with it: a VMID given again later must
    // not receive its predecessor's.
    const gone = (vmid: number) => void this.queues.delete(vmid);
    this.vms = new VmManagement(hyp, this.parcels, notify, options.memBase, options.vcpus, gone);
  }

  /** Queue a notification for its VM and tell the listeners. */
  private post(n: RmNotice): void {
    let q = this.queues.get(n.to);
    if (q === undefined) this.queues.set(n.to, (q = []));
    q.push(n);
    if (q.length > NOTIFICATION_QUEUE) {
      q.shift();
      this.dropped.set(n.to, (this.dropped.get(n.to) ?? 0) + 1);
    }
    for (const l of this.listeners) l(n);
  }

  /** Take every notification queued for `vmid`, oldest first. */
  drain(vmid: number): RmNotice[] {
    const q = this.queues.get(vmid) ?? [];
    this.queues.delete(vmid);
    return q;
  }

  /** How many notifications wait for `vmid`. */
  pending(vmid: number): number {
    return this.queues.get(vmid)?.length ?? 0;
  }

  /** Be told of every notification as it is posted. */
  onNotice(listener: (n: RmNotice) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => void this.listeners.delete(listener) };
  }

  /**
   * A digest of the whole RM state: every VM (state, statuses, stage-2 leaves, taken IPAs),
   * every parcel (all fields and each VM's side), physical ownership. Two states with the same
   * digest are the same state; a refused call must leave it unchanged. (Queued notifications
   * are not state: a refused call never posts one.)
   */
  digest(): string {
    const parts: string[] = [];
    for (const vm of this.hyp.list()) {
      parts.push(`vm ${vm.vmid} ${vm.state} ${vm.osStatus} ${vm.appStatus} ${vm.owner ?? "-"}`);
      parts.push(
        `img ${JSON.stringify(vm.image ?? null)} fw ${JSON.stringify(vm.firmware ?? null)}`,
      );
      // Runs of leaves with the same attributes (LPAE bits [11:2] and [63:52]): a block split
      // into pages and rejoined maps the same memory the same way.
      let run: { va: number; pa: number; size: number; attrs: string } | undefined;
      const flush = () => run && parts.push(`s2 ${run.va} ${run.pa} ${run.size} ${run.attrs}`);
      vm.stage2.walk({
        leaf: (l) => {
          const attrs = `${l.lo & 0xffc}/${l.hi >>> 20}`;
          if (
            run &&
            run.va + run.size === l.va &&
            run.pa + run.size === l.pa &&
            run.attrs === attrs
          )
            run.size += l.size;
          else {
            flush();
            run = { va: l.va, pa: l.pa, size: l.size, attrs };
          }
        },
      });
      flush();
      parts.push(`ipa ${JSON.stringify(vm.ipaSpace.list())}`);
    }
    for (const p of this.parcels.list()) {
      const { labels: _labels, ...fields } = p;
      parts.push(`parcel ${JSON.stringify(fields)}`);
    }
    parts.push(`own ${JSON.stringify(this.hyp.ownership.list())}`);
    return fnv1a(parts.join("\n"));
  }
}

/** FNV-1a, 2 x 32 bits, as 16 hex digits. */
function fnv1a(text: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0;
  }
  return h1.toString(16).padStart(8, "0") + h2.toString(16).padStart(8, "0");
}
