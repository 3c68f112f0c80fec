import { describe, expect, it, vi } from "vitest";

import type { EventMap, MemEvent } from "./events.js";
import { EventBus } from "./events.js";
// The event types used here ("phys.alloc", "phys.free", "phys.alloc-failed") are declared by
// src/phys/target.ts through declaration merging. The layering rule forbids base/ importing
// phys/, even from a test, so it is not imported: the augmentation applies to the whole program
// (tsconfig.json includes src/), and at run time the bus needs no declaration at all.

const alloc: EventMap["phys.alloc"] = {
  target: "system",
  id: 1,
  size: 8192,
  chunks: [
    { pa: 0x8000_0000, size: 4096 },
    { pa: 0x8000_2000, size: 4096 },
  ],
};
const free: EventMap["phys.free"] = { target: "system", id: 1, size: 8192 };
const failed: EventMap["phys.alloc-failed"] = {
  target: "system",
  size: 2 ** 40,
  code: "ENOMEM",
  message: 'ENOMEM: target "system": no free block of 1 TiB',
};

describe("EventBus subscriptions", () => {
  it("delivers an event only to the handlers of its type, with seq, type and payload", () => {
    const bus = new EventBus();
    const allocs: Array<MemEvent<"phys.alloc">> = [];
    const frees: Array<MemEvent<"phys.free">> = [];
    bus.on("phys.alloc", (e) => allocs.push(e));
    bus.on("phys.free", (e) => frees.push(e));
    bus.emit("phys.alloc", alloc);
    expect(allocs).toEqual([{ seq: 1, type: "phys.alloc", ...alloc }]);
    expect(frees).toEqual([]);
    bus.emit("phys.free", free);
    expect(allocs).toHaveLength(1);
    expect(frees).toEqual([{ seq: 2, type: "phys.free", ...free }]);
    // Typed access to payload fields.
    expect(allocs[0]!.chunks[1]!.pa).toBe(0x8000_2000);
    expect(frees[0]!.id).toBe(1);
  });

  it("onAny sees every event in emission order, after the typed handlers", () => {
    const bus = new EventBus();
    const order: string[] = [];
    bus.onAny((e) => order.push(`any:${e.type}:${e.seq}`));
    bus.on("phys.free", (e) => order.push(`free:${e.seq}`));
    bus.emit("phys.alloc", alloc);
    bus.emit("phys.free", free);
    bus.emit("phys.alloc-failed", failed);
    expect(order).toEqual([
      "any:phys.alloc:1",
      "free:2",
      "any:phys.free:2",
      "any:phys.alloc-failed:3",
    ]);
  });

  it("runs handlers of one type in subscription order", () => {
    const bus = new EventBus();
    const order: number[] = [];
    bus.on("phys.free", () => order.push(1));
    bus.on("phys.free", () => order.push(2));
    bus.on("phys.free", () => order.push(3));
    bus.emit("phys.free", free);
    expect(order).toEqual([1, 2, 3]);
  });

  it("does not mutate or retain the emitter's payload", () => {
    const bus = new EventBus();
    let got: MemEvent<"phys.free"> | undefined;
    bus.on("phys.free", (e) => (got = e));
    const payload = { ...free };
    bus.emit("phys.free", payload);
    expect(payload).toEqual(free);
    expect(got).not.toBe(payload);
    expect(Object.keys(payload)).not.toContain("seq");
  });

  it("propagates a handler's exception to the emitter", () => {
    const bus = new EventBus();
    bus.on("phys.free", () => {
      throw new Error("boom");
    });
    expect(() => bus.emit("phys.free", free)).toThrow("boom");
  });
});

describe("sequence numbers", () => {
  it("start at 1 and increase by one per emit, even with no listener", () => {
    const bus = new EventBus();
    expect(bus.nextSeq).toBe(1);
    bus.emit("phys.free", free);
    bus.emit("phys.free", free);
    expect(bus.nextSeq).toBe(3);
    const seen: number[] = [];
    bus.on("phys.alloc", (e) => seen.push(e.seq));
    bus.emit("phys.free", free); // 3: no handler of this type
    bus.emit("phys.alloc", alloc); // 4
    bus.emit("phys.alloc", alloc); // 5
    expect(seen).toEqual([4, 5]);
    expect(bus.nextSeq).toBe(6);
  });

  it("are per bus", () => {
    const a = new EventBus();
    const b = new EventBus();
    a.emit("phys.free", free);
    a.emit("phys.free", free);
    expect(a.nextSeq).toBe(3);
    expect(b.nextSeq).toBe(1);
  });
});

describe("unsubscribe and listening", () => {
  it("listening follows the number of live handlers", () => {
    const bus = new EventBus();
    expect(bus.listening).toBe(false);
    const off1 = bus.on("phys.alloc", () => {});
    expect(bus.listening).toBe(true);
    const off2 = bus.onAny(() => {});
    off1.dispose();
    expect(bus.listening).toBe(true);
    off2.dispose();
    expect(bus.listening).toBe(false);
  });

  it("an unsubscribed handler gets no more events; others still do", () => {
    const bus = new EventBus();
    const h1 = vi.fn();
    const h2 = vi.fn();
    const any = vi.fn();
    const off1 = bus.on("phys.free", h1);
    bus.on("phys.free", h2);
    const offAny = bus.onAny(any);
    bus.emit("phys.free", free);
    off1.dispose();
    offAny.dispose();
    bus.emit("phys.free", free);
    expect(h1).toHaveBeenCalledTimes(1);
    expect(any).toHaveBeenCalledTimes(1);
    expect(h2).toHaveBeenCalledTimes(2);
  });

  it("calling an unsubscribe twice does not remove another subscription", () => {
    const bus = new EventBus();
    const h = vi.fn();
    const off1 = bus.on("phys.free", h);
    bus.on("phys.free", h); // the same function, subscribed again
    off1.dispose();
    off1.dispose();
    expect(bus.listening).toBe(true);
    bus.emit("phys.free", free);
    expect(h).toHaveBeenCalledTimes(1);

    const any = vi.fn();
    const offAny = bus.onAny(any);
    bus.onAny(any);
    offAny.dispose();
    offAny.dispose();
    bus.emit("phys.free", free);
    expect(any).toHaveBeenCalledTimes(1);
  });

  it("a handler may unsubscribe itself while the event is delivered", () => {
    const bus = new EventBus();
    const calls: string[] = [];
    const off = bus.on("phys.free", () => {
      calls.push("once");
      off.dispose();
    });
    bus.on("phys.free", () => calls.push("always"));
    bus.emit("phys.free", free);
    bus.emit("phys.free", free);
    expect(calls).toEqual(["once", "always", "always"]);
  });

  it("handlers added during an emit do not run for that event", () => {
    const bus = new EventBus();
    const late = vi.fn();
    const lateAny = vi.fn();
    bus.on("phys.free", () => {
      bus.on("phys.free", late);
      bus.onAny(lateAny);
    });
    bus.emit("phys.free", free);
    expect(late).not.toHaveBeenCalled();
    expect(lateAny).not.toHaveBeenCalled();
    bus.emit("phys.free", free);
    expect(late).toHaveBeenCalledTimes(1);
    expect(lateAny).toHaveBeenCalledTimes(1);
  });

  it("a handler may emit; the nested event gets the next seq and is delivered at once", () => {
    const bus = new EventBus();
    const seen: string[] = [];
    bus.on("phys.alloc-failed", (e) => {
      seen.push(`failed:${e.seq}`);
      bus.emit("phys.free", free);
    });
    bus.on("phys.free", (e) => seen.push(`free:${e.seq}`));
    bus.emit("phys.alloc-failed", failed);
    expect(seen).toEqual(["failed:1", "free:2"]);
    expect(bus.nextSeq).toBe(3);
  });
});

describe("record", () => {
  it("collects every event until stopped", () => {
    const bus = new EventBus();
    bus.emit("phys.free", free); // before recording: not collected
    const rec = bus.record();
    expect(bus.listening).toBe(true);
    bus.emit("phys.alloc", alloc);
    bus.emit("phys.free", free);
    rec.stop();
    bus.emit("phys.alloc", alloc);
    expect(bus.listening).toBe(false);
    expect(rec.events.map((e) => [e.seq, e.type])).toEqual([
      [2, "phys.alloc"],
      [3, "phys.free"],
    ]);
    expect(rec.events[0]).toEqual({ seq: 2, type: "phys.alloc", ...alloc });
  });

  it("two recordings are independent", () => {
    const bus = new EventBus();
    const a = bus.record();
    bus.emit("phys.free", free);
    const b = bus.record();
    bus.emit("phys.alloc", alloc);
    a.stop();
    bus.emit("phys.alloc-failed", failed);
    b.stop();
    expect(a.events.map((e) => e.seq)).toEqual([1, 2]);
    expect(b.events.map((e) => e.seq)).toEqual([2, 3]);
  });

  it("delivers events that survive a JSON round trip unchanged", () => {
    const bus = new EventBus();
    const rec = bus.record();
    bus.emit("phys.alloc", alloc);
    bus.emit("phys.free", free);
    bus.emit("phys.alloc-failed", failed);
    rec.stop();
    expect(rec.events).toHaveLength(3);
    for (const e of rec.events) {
      expect(JSON.parse(JSON.stringify(e))).toStrictEqual(e);
      expect(Object.getPrototypeOf(e)).toBe(Object.prototype);
    }
  });
});

describe("per-type interest (channels)", () => {
  it("a channel's interest counts its own handlers and every onAny handler", () => {
    const bus = new EventBus();
    const allocs = bus.channel("phys.alloc");
    const frees = bus.channel("phys.free");
    expect([allocs.interest, frees.interest]).toEqual([0, 0]);
    const a = bus.on("phys.alloc", () => {});
    expect([allocs.interest, frees.interest]).toEqual([1, 0]);
    expect(bus.wants("phys.alloc")).toBe(true);
    expect(bus.wants("phys.free")).toBe(false);
    const any = bus.onAny(() => {});
    expect([allocs.interest, frees.interest]).toEqual([2, 1]);
    // A channel made after onAny starts with the any-handlers' interest.
    expect(bus.channel("phys.alloc-failed").interest).toBe(1);
    any.dispose();
    a.dispose();
    expect([allocs.interest, frees.interest, bus.channel("phys.alloc-failed").interest]).toEqual([
      0, 0, 0,
    ]);
  });

  it("a channel is made once per type and bus", () => {
    const bus = new EventBus();
    expect(bus.channel("phys.free")).toBe(bus.channel("phys.free"));
    expect(new EventBus().channel("phys.free")).not.toBe(bus.channel("phys.free"));
  });

  it("skip counts the event and uses its sequence number without delivering it", () => {
    const bus = new EventBus();
    const seen: number[] = [];
    bus.on("phys.free", (e) => seen.push(e.seq));
    const allocs = bus.channel("phys.alloc");
    allocs.skip(); // seq 1, nobody wants it
    bus.emit("phys.free", free); // seq 2
    allocs.skip(); // seq 3
    bus.channel("phys.free").emit(free); // seq 4
    expect(seen).toEqual([2, 4]);
    expect(bus.nextSeq).toBe(5);
    expect(Object.fromEntries(bus.occurrences())).toEqual({ "phys.alloc": 2, "phys.free": 2 });
  });

  it("counts events whether or not anyone listens, so counts do not depend on observers", () => {
    const run = (observe: boolean) => {
      const bus = new EventBus();
      if (observe) bus.onAny(() => {});
      bus.emit("phys.alloc", alloc);
      bus.channel("phys.free").skip();
      bus.emit("phys.alloc-failed", failed);
      return { counts: Object.fromEntries(bus.occurrences()), next: bus.nextSeq };
    };
    expect(run(true)).toEqual(run(false));
    expect(run(false)).toEqual({
      counts: { "phys.alloc": 1, "phys.free": 1, "phys.alloc-failed": 1 },
      next: 4,
    });
  });

  it("an unused channel does not appear in the occurrences", () => {
    const bus = new EventBus();
    bus.channel("phys.free");
    expect(bus.occurrences().size).toBe(0);
  });
});
