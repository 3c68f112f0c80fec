import { describe, expect, it } from "vitest";

import { DisposableStore, NO_DISPOSABLE, toDisposable } from "./lifetime.js";

describe("toDisposable", () => {
  it("runs its release once, however often it is disposed", () => {
    let n = 0;
    const d = toDisposable(() => n++);
    d.dispose();
    d.dispose();
    expect(n).toBe(1);
  });

  it("NO_DISPOSABLE does nothing", () => {
    expect(() => NO_DISPOSABLE.dispose()).not.toThrow();
  });
});

describe("DisposableStore", () => {
  it("disposes what it holds in reverse order of addition, once", () => {
    const order: number[] = [];
    const store = new DisposableStore();
    for (const i of [1, 2, 3]) store.add(toDisposable(() => order.push(i)));
    expect(store.size).toBe(3);
    store.dispose();
    store.dispose();
    expect(order).toEqual([3, 2, 1]);
    expect(store.size).toBe(0);
  });

  it("clear disposes and keeps the store usable; add after dispose disposes at once", () => {
    const order: string[] = [];
    const store = new DisposableStore();
    store.add(toDisposable(() => order.push("a")));
    store.clear();
    store.add(toDisposable(() => order.push("b")));
    expect(order).toEqual(["a"]);
    store.dispose();
    store.add(toDisposable(() => order.push("late")));
    expect(order).toEqual(["a", "b", "late"]);
  });
});
