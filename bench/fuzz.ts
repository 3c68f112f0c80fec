/**
 * `npm run fuzz`: the resource manager's hardening runs, with their figures.
 *
 * 1. The codec fuzzer (`src/gunyah/wire/fuzz.ts`): 1,000,000 valid, mutated and random
 *    messages through the reassembler and the decoders.
 * 2. The socket fuzzer (`src/server/rm-fuzz.ts`): 100,000 messages over real Unix-socket
 *    connections of an endpoint in this process, a probe after each, the RM's digest unchanged
 *    by every refused one; connections killed mid-fragment and framing errors among them.
 * 3. The soak (`src/server/rm-load.ts`): 64 VM connections (the host and guests 0x80..0xBE) x
 *    10,000 checked RPCs each against an endpoint in a server process of its own, with
 *    connections killed mid-fragment all the while.
 *
 * Options: `--quick` (a tenth of each), `--seed N`, `--only codec|socket|soak`. Any failure
 * throws (exit 1).
 */
import os from "node:os";

import { fuzzCodec } from "../src/gunyah/wire/fuzz.js";
import { spawnServer } from "../src/server/rm-child.bench.js";
import { fuzzSocket } from "../src/server/rm-fuzz.js";
import { soak } from "../src/server/rm-load.js";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const seedAt = args.indexOf("--seed");
const seed = seedAt >= 0 ? Number(args[seedAt + 1]) : 0x5eed;
const onlyAt = args.indexOf("--only");
const only = onlyAt >= 0 ? args[onlyAt + 1] : undefined;
const scale = quick ? 10 : 1;
const want = (what: string) => only === undefined || only === what;

console.log(
  `memweave RM fuzz — node ${process.version}, ${os.cpus()[0]?.model ?? "cpu"} x ${os.cpus().length}, seed ${seed}${quick ? ", quick" : ""}`,
);

if (want("codec")) {
  const n = 1_000_000 / scale;
  const t = performance.now();
  const r = fuzzCodec(n, seed);
  const s = (performance.now() - t) / 1000;
  console.log(
    `codec:  ${r.messages} messages in ${s.toFixed(1)} s (${Math.round(r.messages / s)}/s): ${r.decoded} decoded, ${r.refused} refused, ${r.reassembled} reassembled; no exception`,
  );
}

if (want("socket")) {
  const n = 100_000 / scale;
  const r = await fuzzSocket({
    messages: n,
    seed,
    onProgress: (done) => {
      if (done % 10_000 === 0) console.log(`socket: ${done} messages...`);
    },
  });
  const s = r.ms / 1000;
  console.log(
    `socket: ${r.messages} messages in ${s.toFixed(1)} s (${Math.round(r.messages / s)}/s): ${r.okReplies} OK and ${r.errorReplies} error replies, ${r.drops} dropped by reassembly, ${r.killedMidFragment} connections killed mid-fragment, ${r.framingErrors} framing errors, ${r.reconnects} reconnects; digest unchanged after all ${r.digestChecks} refused messages; ${r.rpcs} RPCs answered, no internal error`,
  );
}

if (want("soak")) {
  const server = await spawnServer();
  const r = await soak(
    { kind: "unix", path: server.path },
    { vms: 64, rpcs: 10_000 / scale, seed },
  ).catch(async (e: unknown) => {
    await server.stop();
    throw e;
  });
  const code = await server.stop();
  if (code !== 0) throw new Error(`the soak's server process exited with ${code}`);
  console.log(
    `soak:   ${r.connections} connections x ${r.rpcsPerConnection} iterations = ${r.rpcs} RPCs in ${(r.ms / 1000).toFixed(1)} s (${Math.round(r.rpcPerSecond)} RPC/s), ${r.killedMidFragment} connections killed mid-fragment; no reply lost, duplicated or misrouted`,
  );
}
