/**
 * The byte buffers the codec makes for payloads, framed messages and reassembled messages.
 *
 * A buffer of at most 64 bytes (every fixed-size message) is a plain `new Uint8Array(n)`: V8
 * keeps it on its heap, the cheapest allocation there is. A larger one, up to 16 KiB (every
 * payload and framed message of the protocol fits), is carved from a shared 128 KiB slab, as
 * Node's Buffer pool does and for the same reason: an ArrayBuffer of its own (an allocation
 * outside the JS heap, its tracking, and its freeing by the GC) cost 0.5-1.5 µs for 8 KiB here,
 * a view of a slab about 0.3 µs, zeroing included, and the codec makes three such buffers per
 * 512-entry MEM_LEND. A slab is zeroed when made and no byte of it is handed out twice, so
 * every buffer starts zeroed and belongs to its caller alone.
 *
 * What that means for a caller: a large buffer's `.buffer` is the slab (read it through its
 * `byteOffset` and `byteLength`, as any view), and a buffer kept alive keeps its slab alive.
 */

/** The largest buffer V8 allocates on its heap. */
const ON_HEAP_MAX = 64;
/** Bytes of a slab. */
const SLAB_SIZE = 128 * 1024;
/** The largest buffer carved from a slab (63 framed fragments are 15,120 bytes). */
const SLAB_MAX = 16 * 1024;

let slab = new ArrayBuffer(0);
let used = 0;

/** A new zeroed buffer of `n` bytes. */
export function newBytes(n: number): Uint8Array {
  if (n <= ON_HEAP_MAX || n > SLAB_MAX) return new Uint8Array(n);
  if (used + n > slab.byteLength) {
    slab = new ArrayBuffer(SLAB_SIZE);
    used = 0;
  }
  const b = new Uint8Array(slab, used, n);
  used += (n + 7) & ~7; // the next buffer 8-byte aligned
  return b;
}

/** A copy of `src` from byte `from` on, in a buffer of {@link newBytes}. */
export function copyBytes(src: Uint8Array, from: number): Uint8Array {
  const n = src.length - from;
  const out = newBytes(n);
  // A small copy byte by byte: a view of a small `src` would first move it off V8's heap.
  if (n <= ON_HEAP_MAX) for (let i = 0; i < n; i++) out[i] = src[from + i]!;
  else out.set(src.subarray(from));
  return out;
}
