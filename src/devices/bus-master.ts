/**
 * The one access path of every bus master: CPUs, devices behind an SMMU context, one-to-one
 * devices and accelerators all read and write memory through {@link BusMaster.read} and
 * {@link BusMaster.write}, so translation, fault delivery, statistics and events are the same
 * for all of them. A subclass says only how one address translates
 * ({@link BusMaster.translateChunk}).
 *
 * An access of `length` bytes at `addr`:
 * 1. is split at the boundaries of the translations it gets: one translation (one TLB lookup or
 *    walk) per chunk, whose length runs to the end of the page or block that translated it
 *    (`TranslateOut.size`), never one per byte;
 * 2. a chunk whose translation faults is delivered to the fault handlers, in order: context
 *    handlers first (an SMMU context's `iommu_set_fault_handler` hook), then the master's own
 *    ({@link BusMaster.addFaultHandler}). The first handler that answers `"retry"` makes the
 *    access translate again (a handler typically maps the page: a device page fault served);
 *    `"terminate"` means "not mine" and passes the fault to the next handler (Linux's -ENOSYS).
 *    With no handler, when every handler terminates, or on the fault that follows `maxRetries`
 *    retries of the same address (handlers are not asked then), the access fails with an
 *    {@link AccessFaultError} (EFAULT) carrying the {@link Fault}. This is the stall model of
 *    `arm_smmu_context_fault`: the transaction waits while software runs, then is resumed
 *    (retry) or terminated (an abort to the master);
 * 3. the bytes move through the platform (`Platform.readInto` / `Platform.write`); bus errors
 *    (EFAULT) from the platform propagate.
 *
 * Atomicity: every chunk is translated before any byte moves, and every physical range is
 * checked against the memory map (holes, IO regions without a register hook) first, so a write
 * that faults on its second page, or whose second page maps to a hole, writes nothing. When a
 * handler answered "retry" for a later chunk, translation restarts from the first chunk: the
 * handler may have changed earlier mappings (an eviction to make room, say). An IO register
 * hook that throws mid-access is not undone (registers have side effects anyway).
 *
 * Events (declared below): `device.access` after each completed access; `device.fault` for each
 * fault with its resolution, `"retried"` or `"terminated"`; a write also publishes `phys.write`
 * through the platform. The fast path (one translation, RAM, no fault) is taken only while
 * nobody wants `device.access` (nor `phys.write`, for a write): it then counts those events
 * ({@link EventChannel.skip}) instead of building them, so counts and sequence numbers are the
 * same on both paths, and an access nobody observes costs nothing else.
 *
 * @example
 * const cpu = new Cpu(platform, { name: "cpu0", ttbr0: table });
 * cpu.addFaultHandler((fault) => {
 *   table.map(Math.floor(fault.va / 4096) * 4096, pa, 4096, PROT.READ | PROT.WRITE);
 *   return "retry";
 * });
 * cpu.write(0x4000_0000, new Uint8Array([1, 2, 3]));
 */
import type { AddrArg, AddrSpace, PhysAddr } from "../base/address.js";
import { hex, hexRange } from "../base/address.js";
import { fail, MemweaveError } from "../base/errors.js";
import {
  allocBytes,
  checkAddress,
  checkBuffer,
  checkBytes,
  checkFunction,
  checkLength,
  checkOptions,
} from "../base/validate.js";
import type { EventChannel } from "../base/events.js";
import type { Disposable } from "../base/lifetime.js";
import { toDisposable } from "../base/lifetime.js";
import type { Fault, TranslationRegime } from "../mmu/regime.js";
import { TranslateOut, TranslationRegime as Context } from "../mmu/regime.js";
import type { Access } from "../mmu/prot.js";
import { PERM } from "../mmu/prot.js";
import { FAULT_NONE, offsetIn } from "../mmu/walk.js";
import { STORE_PAGE_SIZE } from "../phys/byte-store.js";
import type { Platform } from "./platform.js";
import type { Device, DeviceCapabilities } from "./registry.js";

const READ_PRIV = PERM.READ_PRIV;
const READ_USER = PERM.READ_USER;
const WRITE_PRIV = PERM.WRITE_PRIV;
const WRITE_USER = PERM.WRITE_USER;

/** A fault as plain JSON data (for events): `ipa` is null when there is none. */
export interface FaultJson {
  kind: Fault["kind"];
  stage: 1 | 2;
  level: number;
  va: number;
  ipa: number | null;
  access: { kind: Access["kind"]; privileged: boolean };
  context: string;
  onTableWalk: boolean;
}

declare module "../base/events.js" {
  interface EventMap {
    /**
     * A completed access: `pa` and `tlb` are those of its first chunk (`"none"`: a master
     * without TLB); `chunks` is the number of translations it took.
     */
    "device.access": {
      master: string;
      va: number;
      size: number;
      kind: "read" | "write" | "exec";
      privileged: boolean;
      pa: number;
      tlb: "hit" | "miss" | "none";
      chunks: number;
    };
    /** A fault met by an access, and what became of it. */
    "device.fault": { master: string; resolution: "retried" | "terminated"; fault: FaultJson };
  }
}

/** How a fault handler answers: resume the access (translate again) or not. */
export type FaultResolution = "retry" | "terminate";

/** A fault handler of a bus master. */
export type FaultHandler = (fault: Fault, master: BusMaster) => FaultResolution;

export interface AccessOptions {
  /** Privileged (EL1 / kernel) or unprivileged (EL0 / user); the default is the master's. */
  privileged?: boolean;
  /** A read that is an instruction fetch (needs execute permission). */
  exec?: boolean;
}

/** The translation an access would get now (see {@link BusMaster.translate}). */
export type TranslateResult =
  | { ok: true; pa: PhysAddr; size: number; perm: number; hit: boolean }
  | { ok: false; fault: Fault };

export interface BusMasterStats {
  reads: number;
  writes: number;
  bytesRead: number;
  bytesWritten: number;
  /** Chunk translations, retries included. */
  translations: number;
  tlbHits: number;
  tlbMisses: number;
  faults: number;
  /** Faults a handler resolved with "retry". */
  retries: number;
  /** Accesses that failed with an AccessFaultError. */
  failures: number;
}

/** A fault plain as JSON. */
export function faultToJson(f: Fault): FaultJson {
  return {
    kind: f.kind,
    stage: f.stage,
    level: f.level,
    va: f.va,
    ipa: f.ipa ?? null,
    access: { kind: f.access.kind, privileged: f.access.privileged },
    context: f.context,
    onTableWalk: f.onTableWalk,
  };
}

/** An access that faulted and was not resolved (EFAULT), with the fault as data. */
export class AccessFaultError extends MemweaveError {
  readonly fault: Fault;
  readonly master: string;

  constructor(master: string, what: string, fault: Fault, note = "") {
    super(
      "EFAULT",
      `${master}: ${what} faulted at ${hex(fault.va)}: ${Context.describeFault(fault)}${note}`,
    );
    this.name = "AccessFaultError";
    this.master = master;
    this.fault = fault;
  }
}

const NO_OPTIONS: AccessOptions = {};
const FAST_NONE = 0;
const FAST_TRANSLATED = 1;
const FAST_DONE = 2;

/**
 * What {@link BusMaster.translateChunk} fills in. It is a {@link TranslateOut}, so a
 * {@link TranslationRegime} translates straight into it (`hit` is the context's; `tlb` is what
 * counts for the master).
 */
export class ChunkOut extends TranslateOut {
  /** The output (physical) address of the input address. */
  declare pa: number;
  /** Bytes from the input address to the end of the translation that covers it. */
  avail = 0;
  /** The size of that translation (page, block, or window). */
  declare size: number;
  /** Its PERM mask. */
  declare perm: number;
  tlb: "hit" | "miss" | "none" = "none";
}

export abstract class BusMaster<In extends AddrSpace = AddrSpace> implements Device {
  readonly name: string;
  readonly platform: Platform;
  abstract readonly kind: string;
  abstract capabilities(): DeviceCapabilities;
  /** Retries of one address before its fault terminates the access. */
  maxRetries = 3;
  readonly stats: BusMasterStats = {
    reads: 0,
    writes: 0,
    bytesRead: 0,
    bytesWritten: 0,
    translations: 0,
    tlbHits: 0,
    tlbMisses: 0,
    faults: 0,
    retries: 0,
    failures: 0,
  };
  private readonly handlers: FaultHandler[] = [];
  private readonly chunk = new ChunkOut();
  /** The channel of `device.access`: the fast path is taken only when nobody wants it. */
  private readonly accessEvents: EventChannel<"device.access">;
  /**
   * The last RAM or device-local region an access fell in (`[memBase, memEnd)`), so the fast
   * path answers most region lookups with two comparisons. Regions are never removed or
   * changed, so the cache never goes stale.
   */
  private memBase = 0;
  private memEnd = 0;

  /**
   * Checks the name is free (EEXIST) but does not register: a concrete master calls
   * {@link register} as the last step of its constructor, so a failed construction leaves no
   * trace in the registry.
   */
  protected constructor(platform: Platform, name: string) {
    platform.registry.checkFree(name);
    this.platform = platform;
    this.name = name;
    this.accessEvents = platform.bus.channel("device.access");
  }

  /** Add this master to the platform's device registry. */
  protected register(): void {
    this.platform.addDevice(this);
  }

  /** Privilege of accesses whose options do not say. */
  abstract get defaultPrivileged(): boolean;

  /**
   * Translate one address for `access`: fill `out` and return undefined, or return the fault.
   * `out.avail` bytes from `va` on are covered by the same translation.
   */
  protected abstract translateChunk(va: number, access: Access, out: ChunkOut): Fault | undefined;

  /** A note appended to the message of an {@link AccessFaultError} (e.g. a window). */
  protected faultNote(_fault: Fault): string {
    return "";
  }

  /** The handlers a fault goes to, in order (subclasses may put others first). */
  protected faultHandlers(): readonly FaultHandler[] {
    return this.handlers;
  }

  /** Translate through a {@link TranslationRegime}: the common case of {@link translateChunk}. */
  protected translateWith(
    ctx: TranslationRegime,
    va: number,
    access: Access,
    out: ChunkOut,
  ): Fault | undefined {
    if (ctx.translate(va, access, out) !== FAULT_NONE) return ctx.lastFault;
    out.avail = out.size - offsetIn(va, out.size);
    out.tlb = ctx.tlb === undefined ? "none" : out.hit ? "hit" : "miss";
    return undefined;
  }

  /**
   * Add a fault handler, called after those added before; disposing the result removes it.
   */
  addFaultHandler(handler: FaultHandler): Disposable {
    checkFunction(`${this.name}: addFaultHandler`, "handler", handler);
    this.handlers.push(handler);
    return toDisposable(() => {
      const i = this.handlers.indexOf(handler);
      if (i >= 0) this.handlers.splice(i, 1);
    });
  }

  /** Read `length` bytes at `addr` (an instruction fetch with `exec`). */
  read(addr: AddrArg<In>, length: number, opts: AccessOptions = {}): Uint8Array {
    checkAddress(`${this.name}: read`, "addr", addr);
    checkLength(`${this.name}: read`, "length", length);
    return this.readInto(addr, allocBytes(`${this.name}: read`, length), opts);
  }

  /** Read `out.length` bytes at `addr` into `out`; returns `out`. */
  readInto(addr: AddrArg<In>, out: Uint8Array, opts: AccessOptions = NO_OPTIONS): Uint8Array {
    // The hit path, kept small so that it inlines: a TLB entry that keeps its host page.
    const regime = this.hostRegime;
    if (
      regime !== undefined &&
      opts === NO_OPTIONS &&
      out instanceof Uint8Array &&
      this.accessEvents.interest === 0
    ) {
      const n = out.length;
      const page = this.hitPage(regime, addr, this.defaultPrivileged ? READ_PRIV : READ_USER, n);
      if (page !== undefined) {
        const off = this.hitOffset;
        const out32 = n === 8 && (off & 3) === 0 ? this.wordsOf(out) : undefined;
        if (out32 !== undefined) {
          // The common scalar, aligned: two word moves (eight byte moves cost twice as much).
          const w = this.hitWords!;
          const i = off >>> 2;
          out32[0] = w[i]!;
          out32[1] = w[i + 1]!;
        } else if (n === 8) {
          // Unaligned: unrolled, one bounds check per side.
          out[7] = page[off + 7]!;
          out[0] = page[off]!;
          out[1] = page[off + 1]!;
          out[2] = page[off + 2]!;
          out[3] = page[off + 3]!;
          out[4] = page[off + 4]!;
          out[5] = page[off + 5]!;
          out[6] = page[off + 6]!;
        } else if (n <= 16) for (let i = 0; i < n; i++) out[i] = page[off + i]!;
        else out.set(page.subarray(off, off + n));
        this.accessEvents.skip();
        const st = this.stats;
        st.translations++;
        st.tlbHits++;
        st.reads++;
        st.bytesRead += n;
        return out;
      }
    }
    return this.readGeneral(addr, out, opts);
  }

  /** {@link readInto} past the hit path (which bad arguments never take). */
  private readGeneral(addr: number, out: Uint8Array, opts: AccessOptions): Uint8Array {
    checkBuffer(`${this.name}: read`, "out", out);
    checkAddress(`${this.name}: read`, "addr", addr);
    checkOptions(`${this.name}: read`, "opts", opts);
    const regime = this.hostRegime;
    const access = this.accessOf(opts.exec === true ? "exec" : "read", opts.privileged);
    const first =
      this.accessEvents.interest > 0 ? FAST_NONE : this.fastTranslate(access, addr, out.length);
    if (first === FAST_DONE) {
      const pa = this.chunk.pa;
      const page = regime !== undefined ? this.keepHost(regime, addr, pa) : undefined;
      const off = offsetIn(pa, STORE_PAGE_SIZE);
      if (page !== undefined && out.length <= 16 && off + out.length <= STORE_PAGE_SIZE)
        for (let i = 0, n = out.length; i < n; i++) out[i] = page[off + i]!;
      else this.platform.store.read(pa, out);
      this.accessEvents.skip();
    } else this.transfer(access, addr, out, first);
    this.stats.reads++;
    this.stats.bytesRead += out.length;
    return out;
  }

  /**
   * The regime whose TLB entries may keep their host pages ({@link MmuMaster}: its MMU), so a
   * hit reads or writes the bytes with no translation call and no store lookup.
   */
  protected hostRegime: TranslationRegime | undefined = undefined;
  /** Where in the page {@link hitPage} returned the access starts, and the page as words. */
  private hitOffset = 0;
  private hitWords: Uint32Array | undefined = undefined;
  /** The last output buffer of a read and its first two words (undefined: not 4-aligned). */
  private lastOut: Uint8Array | undefined = undefined;
  private lastOut32: Uint32Array | undefined = undefined;

  /** `out`'s first 8 bytes as two words, when `out` starts 4-aligned (a read reuses its buffer). */
  private wordsOf(out: Uint8Array): Uint32Array | undefined {
    if (out !== this.lastOut) {
      this.lastOut = out;
      this.lastOut32 =
        (out.byteOffset & 3) === 0 ? new Uint32Array(out.buffer, out.byteOffset, 2) : undefined;
    }
    return this.lastOut32;
  }

  /**
   * The hit path: the host page of a TLB hit on `va` that allows `need`, when its entry keeps
   * the page (valid for the store's page epoch) and `[va, va+length)` lies within it; the hit is
   * then counted as {@link TranslationRegime.translate} counts one. Undefined otherwise, with
   * nothing counted: the general path takes the access from the start.
   */
  private hitPage(
    regime: TranslationRegime,
    va: number,
    need: number,
    length: number,
  ): Uint8Array | undefined {
    const slot = regime.peekHit(va, need);
    if (slot < 0) return undefined;
    const tlb = regime.tlb!;
    const store = this.platform.store;
    if (tlb.hostEpochOf[slot] !== store.pageEpoch || tlb.hostOwner !== store) return undefined;
    const off = va - tlb.hostVaOf[slot]!;
    if (!(off >= 0 && off + length <= STORE_PAGE_SIZE && length > 0)) return undefined;
    regime.recordHit(slot);
    this.hitOffset = off;
    this.hitWords = tlb.hostWordsOf[slot];
    return tlb.hostOf[slot];
  }

  /**
   * After an access the fast path moved at once (one translation, one RAM or device-local
   * region): let the TLB entry that translated it keep its host page, when the page exists and
   * lies wholly within that region.
   */
  private keepHost(regime: TranslationRegime, va: number, pa: number): Uint8Array | undefined {
    const slot = regime.lastSlot;
    if (slot < 0) return undefined;
    const pagePa = pa - offsetIn(pa, STORE_PAGE_SIZE);
    if (pagePa < this.memBase || pagePa + STORE_PAGE_SIZE > this.memEnd) return undefined;
    const store = this.platform.store;
    const page = store.peekPage(pagePa);
    if (page !== undefined)
      regime.tlb!.setHost(
        slot,
        va - offsetIn(va, STORE_PAGE_SIZE),
        page,
        new Uint32Array(page.buffer, page.byteOffset, STORE_PAGE_SIZE / 4),
        store,
        store.pageEpoch,
      );
    return page;
  }

  /** Access descriptions, made once: the access path allocates nothing on its fast path. */
  private readonly accesses: Access[] = [
    { kind: "read", privileged: false },
    { kind: "read", privileged: true },
    { kind: "write", privileged: false },
    { kind: "write", privileged: true },
    { kind: "exec", privileged: false },
    { kind: "exec", privileged: true },
  ];

  private accessOf(kind: Access["kind"], privileged: boolean | undefined): Access {
    const base = kind === "read" ? 0 : kind === "write" ? 2 : 4;
    return this.accesses[base + ((privileged ?? this.defaultPrivileged) ? 1 : 0)]!;
  }

  /**
   * The common case in one step: an access that one translation covers, of RAM or
   * device-local memory, whose events nobody wants (the caller checks the channels). Returns
   * FAST_DONE when the caller
   * may move the bytes at `this.chunk.pa` at once; otherwise what the general path should start
   * from: the first chunk's fault, FAST_TRANSLATED (the first chunk is in `this.chunk`), or
   * FAST_NONE (nothing was translated).
   */
  private fastTranslate(access: Access, va: number, length: number): Fault | number {
    if (!(length > 0 && va >= 0 && va + length <= Number.MAX_SAFE_INTEGER) || !Number.isInteger(va))
      return FAST_NONE;
    const c = this.chunk;
    this.stats.translations++;
    const fault = this.translateChunk(va, access, c);
    if (fault !== undefined) return fault;
    if (c.tlb === "hit") this.stats.tlbHits++;
    else if (c.tlb === "miss") this.stats.tlbMisses++;
    if (c.avail < length) return FAST_TRANSLATED;
    const pa = c.pa;
    return (pa >= this.memBase && pa + length <= this.memEnd) || this.isMemory(pa, length)
      ? FAST_DONE
      : FAST_TRANSLATED;
  }

  /**
   * True if `[pa, pa+length)` lies in one RAM or device-local region, which then becomes the
   * cached one.
   */
  private isMemory(pa: number, length: number): boolean {
    const r = this.platform.map.findRange(pa, length);
    if (r === undefined || r.kind === "io") return false;
    this.memBase = r.base;
    this.memEnd = r.end;
    return true;
  }

  /**
   * The general path of an access of `bytes` (read into them, or written from them): translate
   * and check every chunk ({@link prepare}), then move the bytes through the platform.
   */
  private transfer(access: Access, va: number, bytes: Uint8Array, first: Fault | number): void {
    const segs = this.prepare(access, va, bytes.length, first);
    const write = access.kind === "write";
    let off = 0;
    for (let i = 0; i < segs.length; i += 2) {
      const n = segs[i + 1]!;
      const part = bytes.subarray(off, off + n);
      if (write) this.platform.write(segs[i]!, part);
      else this.platform.readInto(segs[i]!, part);
      off += n;
    }
  }

  /** Write `data` at `addr`; all of it or, on a fault or bus error, none of it. */
  write(addr: AddrArg<In>, data: Uint8Array, opts: AccessOptions = NO_OPTIONS): void {
    // Byte data as an array of integers 0..255 (checked), or refused.
    if (!(data instanceof Uint8Array)) data = checkBytes(`${this.name}: write`, "data", data);
    if (opts !== NO_OPTIONS) checkOptions(`${this.name}: write`, "opts", opts);
    if (opts.exec === true) fail("EINVAL", `${this.name}: a write cannot be an instruction fetch`);
    const platform = this.platform;
    const quiet = this.accessEvents.interest === 0 && platform.physWrites.interest === 0;
    const regime = this.hostRegime;
    if (regime !== undefined && opts === NO_OPTIONS && quiet) {
      const n = data.length;
      const page = this.hitPage(regime, addr, this.defaultPrivileged ? WRITE_PRIV : WRITE_USER, n);
      if (page !== undefined) {
        const off = this.hitOffset;
        if (n <= 16) for (let i = 0; i < n; i++) page[off + i] = data[i]!;
        else page.set(data, off);
        this.accessEvents.skip();
        platform.physWrites.skip();
        const st = this.stats;
        st.translations++;
        st.tlbHits++;
        st.writes++;
        st.bytesWritten += n;
        return;
      }
    }
    this.writeGeneral(addr, data, opts, quiet);
  }

  /** {@link write} past the hit path (which bad arguments never take). */
  private writeGeneral(addr: number, data: Uint8Array, opts: AccessOptions, quiet: boolean): void {
    checkAddress(`${this.name}: write`, "addr", addr);
    const platform = this.platform;
    const regime = this.hostRegime;
    const access = this.accessOf("write", opts.privileged);
    const first = quiet ? this.fastTranslate(access, addr, data.length) : FAST_NONE;
    if (first === FAST_DONE) {
      platform.store.write(this.chunk.pa, data);
      // What the general path would have published, counted: the access and the write.
      this.accessEvents.skip();
      platform.physWrites.skip();
      if (regime !== undefined) void this.keepHost(regime, addr, this.chunk.pa);
    } else this.transfer(access, addr, data, first);
    this.stats.writes++;
    this.stats.bytesWritten += data.length;
  }

  /**
   * The translation an access of `kind` at `addr` would get now (default: a read at the
   * master's privilege), without fault handlers, data or events. It is a real lookup: it
   * counts in the TLB and may fill it.
   */
  translate(
    addr: AddrArg<In>,
    opts: AccessOptions & { kind?: Access["kind"] } = {},
  ): TranslateResult {
    const access: Access = {
      kind: opts.kind ?? (opts.exec === true ? "exec" : "read"),
      privileged: opts.privileged ?? this.defaultPrivileged,
    };
    const out = this.chunk;
    const fault = this.translateChunk(addr, access, out);
    if (fault !== undefined) return { ok: false, fault };
    return {
      ok: true,
      pa: out.pa as PhysAddr,
      size: out.size,
      perm: out.perm,
      hit: out.tlb === "hit",
    };
  }

  /**
   * Translate every chunk of the access and check the physical ranges: returns (pa, length)
   * pairs, each within one region, or throws with nothing done.
   */
  private prepare(
    access: Access,
    va: number,
    length: number,
    first: Fault | number = FAST_NONE,
  ): number[] {
    if (!Number.isSafeInteger(va) || va < 0)
      fail("EINVAL", `${this.name}: ${access.kind} at ${String(va)}: not an address`);
    if (!Number.isSafeInteger(length) || length < 0 || !Number.isSafeInteger(va + length))
      fail("EINVAL", `${this.name}: ${access.kind} of ${String(length)} bytes at ${hex(va)}`);
    // Not a reused scratch array: a fault handler may make accesses of its own.
    const segs: number[] = [];
    if (length === 0) return segs;
    const out = this.chunk;
    const end = va + length;
    let retries: Map<number, number> | undefined;
    let firstPa = 0;
    let firstTlb: ChunkOut["tlb"] = "none";
    let chunks = 0;
    let v = va;
    // The fast path may have translated the first chunk already (and counted it).
    let pending: Fault | number = first;
    while (v < end) {
      let fault: Fault | undefined;
      if (pending === FAST_NONE) {
        this.stats.translations++;
        fault = this.translateChunk(v, access, out);
      } else fault = pending === FAST_TRANSLATED ? undefined : (pending as Fault);
      const counted = pending !== FAST_NONE;
      pending = FAST_NONE;
      if (fault !== undefined) {
        this.stats.faults++;
        retries ??= new Map();
        const done = retries.get(v) ?? 0;
        if (done < this.maxRetries && this.deliver(fault) === "retry") {
          retries.set(v, done + 1);
          this.stats.retries++;
          this.emitFault(fault, "retried");
          // A handler may have changed any mapping: translate the access again from its start.
          segs.length = 0;
          chunks = 0;
          v = va;
          continue;
        }
        this.stats.failures++;
        this.emitFault(fault, "terminated");
        throw new AccessFaultError(
          this.name,
          `${access.privileged ? "privileged" : "unprivileged"} ${access.kind} of ${hexRange(va, length)}`,
          fault,
          this.faultNote(fault),
        );
      }
      if (!counted) {
        if (out.tlb === "hit") this.stats.tlbHits++;
        else if (out.tlb === "miss") this.stats.tlbMisses++;
      }
      const n = Math.min(end - v, out.avail);
      if (chunks === 0) {
        firstPa = out.pa;
        firstTlb = out.tlb;
      }
      chunks++;
      this.pushPhysical(segs, out.pa, n);
      v += n;
    }
    const accessEvents = this.accessEvents;
    if (accessEvents.interest === 0) accessEvents.skip();
    else
      accessEvents.emit({
        master: this.name,
        va,
        size: length,
        kind: access.kind,
        privileged: access.privileged,
        pa: firstPa,
        tlb: firstTlb,
        chunks,
      });
    return segs;
  }

  /** Append `[pa, pa+n)` split at region ends, checking it is memory or a hooked IO region. */
  private pushPhysical(segs: number[], pa: number, n: number): void {
    const map = this.platform.map;
    while (n > 0) {
      const r = map.find(pa) ?? this.platform.regionFor(pa, n); // throws the bus error
      const len = Math.min(n, r.end - pa);
      if (r.kind === "io" && !this.platform.hasIoHandler(r.name))
        fail("EFAULT", `bus error: IO region "${r.name}" has no register handler for ${hex(pa)}`);
      const last = segs.length - 2;
      if (last >= 0 && segs[last]! + segs[last + 1]! === pa && map.find(pa - 1) === r)
        segs[last + 1]! += len; // physically contiguous in the same region: one copy
      else segs.push(pa, len);
      pa += len;
      n -= len;
    }
  }

  private deliver(fault: Fault): FaultResolution {
    for (const h of [...this.faultHandlers()]) if (h(fault, this) === "retry") return "retry";
    return "terminate";
  }

  private emitFault(fault: Fault, resolution: "retried" | "terminated"): void {
    this.platform.bus.emit("device.fault", {
      master: this.name,
      resolution,
      fault: faultToJson(fault),
    });
  }
}
