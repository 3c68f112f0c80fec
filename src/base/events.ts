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
 * Subscribers get `{ seq, type, ...payload }`; `seq` numbers events in emission order, so a
 * trace is deterministic. Emitting is cheap when nobody listens: hot paths test
 * {@link EventBus.listening} before building a payload.
 *
 * @example
 * const bus = new EventBus();
 * const off = bus.on("phys.alloc", (e) => console.log(e.pa));
 * bus.emit("phys.alloc", { target: "system", pa: 0x8000_0000, size: 4096, id: 1, chunks: 1 });
 * off();
 */

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

export class EventBus {
  private readonly byType = new Map<string, Array<(e: never) => void>>();
  private readonly any: Array<(e: MemEvent) => void> = [];
  private count = 0;
  private seqNext = 1;

  /** True when at least one handler is subscribed; emitters on hot paths check it first. */
  get listening(): boolean {
    return this.count > 0;
  }

  /** The sequence number the next event will get. */
  get nextSeq(): number {
    return this.seqNext;
  }

  /** Subscribe to one type; returns the unsubscribe function. */
  on<T extends EventType>(type: T, handler: Handler<T>): () => void {
    let list = this.byType.get(type);
    if (!list) this.byType.set(type, (list = []));
    list.push(handler);
    this.count++;
    return this.unsubscriber(list, handler);
  }

  /** Subscribe to every event; returns the unsubscribe function. */
  onAny(handler: (event: MemEvent) => void): () => void {
    this.any.push(handler);
    this.count++;
    return this.unsubscriber(this.any, handler);
  }

  /**
   * Publish an event. The payload must be plain JSON data. Handlers run synchronously in
   * subscription order; an exception in a handler propagates to the emitter.
   */
  emit<T extends EventType>(type: T, payload: EventMap[T]): void {
    const seq = this.seqNext++;
    if (this.count === 0) return;
    const event = { seq, type, ...(payload as object) } as unknown as MemEvent<T>;
    // Snapshot both lists first: a handler subscribed during this emit must not get this event.
    const list = this.byType.get(type)?.slice();
    const any = this.any.slice();
    if (list) for (const h of list) (h as Handler<T>)(event);
    for (const h of any) h(event);
  }

  /** Collect every event into an array until the returned function is called. */
  record(): { events: MemEvent[]; stop: () => void } {
    const events: MemEvent[] = [];
    const stop = this.onAny((e) => events.push(e));
    return { events, stop };
  }

  // Calling an unsubscribe function again does nothing: it must not remove another subscription
  // of the same handler.
  private unsubscriber<H>(list: H[], handler: H): () => void {
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      this.remove(list, handler);
    };
  }

  private remove<H>(list: H[], handler: H): void {
    const i = list.indexOf(handler);
    if (i >= 0) {
      list.splice(i, 1);
      this.count--;
    }
  }
}
