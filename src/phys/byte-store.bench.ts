import { benchCase, memoryCase } from "../../bench/harness.js";
import { Rng, xorshift32 } from "../base/rng.js";
import { ByteStore } from "./byte-store.js";

/** Operations per timed call; each draws its address afresh (xorshift32), never from a list. */
const N = 4096;

/** A random 8-byte-aligned address in the first `pages` pages above 2 GiB, for state `r`. */
function addressOf(r: number, pages: number): number {
  return 0x8000_0000 + ((r >>> 9) % pages) * 4096 + (r & 511) * 8;
}

benchCase({
  name: "phys: byte store 8-byte read, random over 4096 written pages",
  targetNs: 50,
  ops: N,
  setup: () => {
    const s = new ByteStore();
    for (let p = 0; p < 4096; p++) s.writeU32(0x8000_0000 + p * 4096, p);
    const out = new Uint8Array(8);
    let r = 2;
    return () => {
      for (let i = 0; i < N; i++) {
        r = xorshift32(r);
        s.read(addressOf(r, 4096), out);
      }
      return out;
    };
  },
});

benchCase({
  name: "phys: byte store 8-byte write, random over 4096 pages",
  targetNs: 50,
  ops: N,
  setup: () => {
    const s = new ByteStore();
    const data = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    let r = 3;
    return () => {
      for (let i = 0; i < N; i++) {
        r = xorshift32(r);
        s.write(addressOf(r, 4096), data);
      }
      return s;
    };
  },
});

benchCase({
  name: "phys: byte store 8-byte read of never-written memory",
  targetNs: 50,
  ops: N,
  setup: () => {
    const s = new ByteStore();
    const out = new Uint8Array(8);
    let r = 4;
    return () => {
      for (let i = 0; i < N; i++) {
        r = xorshift32(r);
        s.read(addressOf(r, 262_144), out);
      }
      if (s.materializedPages !== 0) throw new Error("a read materialized a page");
      return out;
    };
  },
});

memoryCase({
  name: "phys: 1 GiB sparse memory with 1% of its pages touched (heap)",
  targetBytes: 32 * 2 ** 20,
  build: () => {
    const s = new ByteStore();
    const rng = new Rng(5);
    const pages = 262_144;
    for (let i = 0; i < pages / 100; i++) s.writeU32(0x8000_0000 + rng.int(0, pages - 1) * 4096, i);
    return s;
  },
});
