/**
 * The platform event bus: every state change is published as a plain, JSON-serializable event.
 *
 * Event types are declared by the layers that emit them, by augmenting {@link EventMap}:
 *
 * ```ts
 * declare module "../base/events.js" {
 *   interface EventMap { "phys.alloc": { target: string; pa: number; size: number } }
 * }
 * ```
 *
 * Subscribers get `{ seq, type, ...payload }`; `seq` numbers events in the order they occur.
 *
 * Interest is per type (VS Code's per-`Emitter` `hasListeners`): each type has an
 * {@link EventChannel} that knows how many handlers want it (its own and the bus's `onAny`
 * ones). A hot path holds the channels it emits on and builds a payload only when its channel
 * has {@link EventChannel.interest}; otherwise it calls {@link EventChannel.skip}, which counts
 * the event and gives it its sequence number without building anything. So an access nobody
 * observes costs two increments, whatever else is subscribed, and sequence numbers and counts
 * do not depend on who listens.
 *
 * @example
 * const bus = new EventBus();
 * const sub = bus.on("phys.alloc", (e) => console.log(e.pa));
 * bus.emit("phys.alloc", { target: "system", pa: 0x8000_0000, size: 4096, id: 1, chunks: 1 });
 * sub.dispose();
 * // On a hot path:
 * const accesses = bus.channel("device.access");
 * if (accesses.interest > 0) accesses.emit({ ... }); else accesses.skip();
 */
import type { Disposable } from "./lifetime.js";
import { toDisposable } from "./lifetime.js";

/** Plain JSON data. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The payloads of all event types, keyed by type; layers add theirs by declaration merging. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface EventMap {}

export type EventType = Extract<keyof EventMap, string>;

/** An event as delivered: its sequence number, its type and its payload's fields. */
export type MemEvent<T extends EventType = EventType> = T extends EventType
  ? { seq: number; type: T } & EventMap[T]
  : never;

type Handler<T extends EventType> = (event: MemEvent<T>) => void;

/** One event type on one bus: its handlers, the interest in it, and how often it occurred. */
export class EventChannel<T extends EventType = EventType> {
  /**
   * Handlers that want this type: its own plus the bus's `onAny` handlers. Hot paths test
   * `interest > 0` before building a payload.
   */
  interest = 0;
  /** Events of this type that occurred (emitted or skipped) in the bus's life. */
  occurred = 0;
  /** @internal The handlers of this type, in subscription order. */
  readonly handlers: Array<Handler<T>> = [];

  /** Built by {@link EventBus.channel}. */
  constructor(
    private readonly bus: EventBus,
    readonly type: T,
  ) {}

  /** Publish an event of this type (see {@link EventBus.emit}). */
  emit(payload: EventMap[T]): void {
    this.bus.publish(this, payload);
  }

  /** The event occurred, but nobody wants it: count it and use up its sequence number. */
  skip(): void {
    this.occurred++;
    this.bus.advance();
  }
}

export class EventBus {
  private readonly channels = new Map<string, EventChannel>();
  private readonly any: Array<(e: MemEvent) => void> = [];
  private count = 0;
  private seqNext = 1;

  /** The sequence number the next event will get. */
  get nextSeq(): number {
    return this.seqNext;
  }

  /** @internal Use up one sequence number (an event nobody wants). */
  advance(): void {
    this.seqNext++;
  }

  /** True when at least one handler of any type is subscribed (not for hot paths: see {@link channel}). */
  get listening(): boolean {
    return this.count > 0;
  }

  /** The channel of one event type (created on first use, kept for the bus's life). */
  channel<T extends EventType>(type: T): EventChannel<T> {
    let ch = this.channels.get(type) as EventChannel<T> | undefined;
    if (ch === undefined) {
      ch = new EventChannel(this, type);
      ch.interest = this.any.length;
      this.channels.set(type, ch as unknown as EventChannel);
    }
    return ch;
  }

  /** True when some handler wants events of `type`. */
  wants(type: EventType): boolean {
    return this.channel(type).interest > 0;
  }

  /** Subscribe to one type. */
  on<T extends EventType>(type: T, handler: Handler<T>): Disposable {
    const ch = this.channel(type);
    ch.handlers.push(handler);
    ch.interest++;
    this.count++;
    return toDisposable(() => {
      const i = ch.handlers.indexOf(handler);
      if (i < 0) return;
      ch.handlers.splice(i, 1);
      ch.interest--;
      this.count--;
    });
  }

  /** Subscribe to every event (every channel's interest counts it). */
  onAny(handler: (event: MemEvent) => void): Disposable {
    this.any.push(handler);
    for (const ch of this.channels.values()) ch.interest++;
    this.count++;
    return toDisposable(() => {
      const i = this.any.indexOf(handler);
      if (i < 0) return;
      this.any.splice(i, 1);
      for (const ch of this.channels.values()) ch.interest--;
      this.count--;
    });
  }

  /**
   * Publish an event. The payload must be plain JSON data. Handlers run synchronously in
   * subscription order, typed handlers first; an exception in a handler propagates to the
   * emitter.
   */
  emit<T extends EventType>(type: T, payload: EventMap[T]): void {
    this.publish(this.channel(type), payload);
  }

  /** @internal */
  publish<T extends EventType>(ch: EventChannel<T>, payload: EventMap[T]): void {
    const seq = this.seqNext++;
    ch.occurred++;
    if (ch.interest === 0) return;
    const event = { seq, type: ch.type, ...(payload as object) } as unknown as MemEvent<T>;
    // Snapshot both lists first: a handler subscribed during this emit must not get this event.
    const list = ch.handlers.length > 0 ? ch.handlers.slice() : undefined;
    const any = this.any.length > 0 ? this.any.slice() : undefined;
    if (list) for (const h of list) h(event);
    if (any) for (const h of any) h(event);
  }

  /** How many events of each type occurred so far (types that never occurred are absent). */
  occurrences(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [type, ch] of this.channels) if (ch.occurred > 0) out.set(type, ch.occurred);
    return out;
  }

  /** Collect every event into an array until `stop` is called. */
  record(): { events: MemEvent[]; stop: () => void } {
    const events: MemEvent[] = [];
    const sub = this.onAny((e) => events.push(e));
    return { events, stop: () => sub.dispose() };
  }
}
