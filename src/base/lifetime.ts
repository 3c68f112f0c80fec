/**
 * Lifetimes: every subscription, flush registration and fault handler the model hands out is a
 * {@link Disposable}, so whoever registered something can take it back, and an object that goes
 * away (a destroyed page table, an unbound context bank) can drop everything it holds at once
 * with a {@link DisposableStore} (VS Code's `IDisposable` / `DisposableStore`).
 *
 * `dispose()` is idempotent: calling it again does nothing, in particular it never removes
 * another registration of the same handler.
 *
 * @example
 * const store = new DisposableStore();
 * store.add(bus.on("phys.alloc", log));
 * store.add(table.addFlushTarget(tlbTarget));
 * store.dispose(); // both are gone
 */

/** Something registered that can be taken back. */
export interface Disposable {
  dispose(): void;
}

/** A disposable that runs `release` once, on the first `dispose()`. */
export function toDisposable(release: () => void): Disposable {
  let live = true;
  return {
    dispose() {
      if (!live) return;
      live = false;
      release();
    },
  };
}

/** A disposable that does nothing (for registrations that hold nothing). */
export const NO_DISPOSABLE: Disposable = { dispose() {} };

/** A set of disposables disposed together, in reverse order of addition. */
export class DisposableStore implements Disposable {
  private readonly items: Disposable[] = [];
  private disposed = false;

  /** Add `d` and return it; if the store is disposed already, `d` is disposed at once. */
  add<D extends Disposable>(d: D): D {
    if (this.disposed) d.dispose();
    else this.items.push(d);
    return d;
  }

  /** How many disposables it holds. */
  get size(): number {
    return this.items.length;
  }

  /** Dispose everything added so far; the store can be used again afterwards. */
  clear(): void {
    const items = this.items.splice(0);
    for (let i = items.length - 1; i >= 0; i--) items[i]!.dispose();
  }

  dispose(): void {
    this.clear();
    this.disposed = true;
  }
}
