import { benchCase, memoryCase } from "../../bench/harness.js";
import { Rng } from "../base/rng.js";
import { ByteStore } from "./byte-store.js";

const N = 4096;

function randomAddresses(pages: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const out = new Float64Array(N);
  for (let i = 0; i < N; i++)
    out[i] = 0x8000_0000 + rng.int(0, pages - 1) * 4096 + rng.int(0, 511) * 8;
  return out;
}

benchCase({
  name: "phys: byte store 8-byte read, random over 4096 written pages",
  targetNs: 50,
  ops: N,
  setup: () => {
    const s = new ByteStore();
    const addrs = randomAddresses(4096, 2);
    for (const a of addrs) s.write(a, new Uint8Array(8).fill(7));
    const out = new Uint8Array(8);
    return () => {
      for (let i = 0; i < N; i++) s.read(addrs[i]!, out);
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
    const addrs = randomAddresses(4096, 3);
    const data = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    return () => {
      for (let i = 0; i < N; i++) s.write(addrs[i]!, data);
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
    const addrs = randomAddresses(262_144, 4);
    const out = new Uint8Array(8);
    return () => {
      for (let i = 0; i < N; i++) s.read(addrs[i]!, out);
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
