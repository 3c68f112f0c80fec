/**
 * The other processes and threads of the RM's socket benchmark and soak (compiled with the
 * benchmarks into dist-bench/; never part of the library):
 *
 * - as a process, `node rm-child.bench.js serve PATH`: an {@link RmEndpoint} on the default
 *   platform at PATH; prints `ready` once it listens; stops and exits 0 on SIGTERM or when its
 *   stdin closes (its parent went away).
 * - as a worker thread ({@link startLoadWorker}): spawns that server, connects
 *   {@link LoadClients} to it, and runs rounds of checked RPCs when the main thread asks, so
 *   that the main thread can time them synchronously (`Atomics.wait`), as the benchmark harness
 *   needs.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";

import { createGunyahMachine } from "../gunyah/platform.js";
import { RmEndpoint } from "./rm-endpoint.js";
import { LoadClients, type LoadMix } from "./rm-load.js";

const SELF = new URL(import.meta.url);

/**
 * Control words shared with the worker (the main thread asks for a round by message, then
 * blocks in `Atomics.wait`, so it cannot take a message back): [1] the state, [2] the byte
 * length of a failure's message, which follows in UTF-8.
 */
const CONTROL_BYTES = 12 + 4096;
const STATE = 1;
const IDLE = 0;
const DONE = 1;
const FAILED = 2;
const MESSAGE_LENGTH = 2;

interface LoadData {
  readonly role: "load";
  readonly vmids: readonly number[];
  readonly mix: LoadMix;
  readonly control: SharedArrayBuffer;
}

/** Spawn the server process; resolves with its socket path once it is ready. */
export function spawnServer(): Promise<{ path: string; stop(): Promise<number | null> }> {
  const dir = mkdtempSync(join(tmpdir(), "mw-rmbench-"));
  const path = join(dir, "rm.sock");
  const child = spawn(process.execPath, [SELF.pathname, "serve", path], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("ready\n"))
        resolve({
          path,
          stop: async () => {
            child.kill("SIGTERM");
            const code = await exited;
            rmSync(dir, { recursive: true, force: true });
            return code;
          },
        });
    });
    child.once("exit", (code) =>
      reject(new Error(`RM server process exited (${code}) before it was ready`)),
    );
  });
}

/** A worker driving `vmids`' connections; `round(n)` blocks until each made n RPCs. */
export function startLoadWorker(
  vmids: readonly number[],
  mix: LoadMix,
): { round(n: number): void; stop(): void } {
  const control = new SharedArrayBuffer(CONTROL_BYTES);
  const ctl = new Int32Array(control, 0, 3);
  const data: LoadData = { role: "load", vmids, mix, control };
  const worker = new Worker(SELF, { workerData: data });
  worker.unref();
  const wait = () => {
    while (Atomics.load(ctl, STATE) === IDLE) Atomics.wait(ctl, STATE, IDLE, 60_000);
    const state = Atomics.load(ctl, STATE);
    Atomics.store(ctl, STATE, IDLE);
    if (state === FAILED) {
      const bytes = new Uint8Array(control, 12, Atomics.load(ctl, MESSAGE_LENGTH)).slice();
      throw new Error(`RM load worker: ${new TextDecoder().decode(bytes)}`);
    }
  };
  wait(); // ready
  return {
    round(n) {
      worker.postMessage(n);
      wait();
    },
    stop() {
      worker.postMessage(-1);
    },
  };
}

async function loadWorker(d: LoadData): Promise<void> {
  const ctl = new Int32Array(d.control, 0, 3);
  const report = (state: number, message?: string) => {
    if (message !== undefined) {
      const { written } = new TextEncoder().encodeInto(message, new Uint8Array(d.control, 12));
      Atomics.store(ctl, MESSAGE_LENGTH, written);
    }
    Atomics.store(ctl, STATE, state);
    Atomics.notify(ctl, STATE);
  };
  try {
    const server = await spawnServer();
    const load = await LoadClients.connect({ kind: "unix", path: server.path }, d.vmids, d.mix);
    report(DONE);
    // Asked by message (the main thread posts, then blocks until the state says done).
    await new Promise<void>((resolve, reject) => {
      parentPort!.on("message", (n: number) => {
        if (n < 0) return resolve();
        load.round(n).then(() => report(DONE), reject);
      });
    });
    await load.close();
    await server.stop();
    parentPort!.close();
  } catch (e) {
    report(FAILED, e instanceof Error ? (e.stack ?? e.message) : String(e));
  }
}

async function serve(path: string): Promise<void> {
  const ep = new RmEndpoint({ rm: createGunyahMachine().rm, address: { kind: "unix", path } });
  await ep.start();
  process.stdout.write("ready\n");
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", () => resolve());
    process.stdin.on("end", () => resolve());
    process.stdin.on("close", () => resolve());
    process.stdin.resume();
  });
  await ep.stop();
  // The folder spawnServer made for the socket (its parent may be gone without cleaning up).
  rmSync(dirname(path), { recursive: true, force: true });
  process.exit(0);
}

if (!isMainThread && (workerData as LoadData | undefined)?.role === "load")
  void loadWorker(workerData as LoadData);
else if (isMainThread && process.argv[1] === SELF.pathname && process.argv[2] === "serve")
  void serve(process.argv[3]!);
