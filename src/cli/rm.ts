/**
 * `memweave rm serve` and `memweave rm call`: the resource manager's endpoint (server/), and
 * one RPC sent to a running endpoint with the reply printed.
 *
 * - `rm serve (--socket PATH | --tcp PORT) [--scenario FILE] [--verbose]` serves the default
 *   Gunyah platform (or a scenario's) until SIGINT or SIGTERM (or `io.stop`), then stops
 *   cleanly and exits 0. Where it listens, endpoint changes and, with `--verbose`, every RPC go
 *   to stdout; errors to stderr.
 * - `rm call (--socket PATH | --tcp PORT) [--vm VMID] [--json] RPC [ARGS...]` prints the
 *   decoded reply (`OK handle=0`, `DENIED (-EPERM)`) and the notifications that came with it,
 *   or one JSON document. Exit codes: 0 OK, 1 the RM refused, 2 a bad command line or no
 *   endpoint / no reply.
 */
import type { Command } from "@commander-js/extra-typings";
import { InvalidArgumentError, Option } from "@commander-js/extra-typings";

import { hex } from "../base/address.js";
import { vmStateName } from "../gunyah/hyp/vm.js";
import { createGunyahMachine } from "../gunyah/platform.js";
import type { ResourceManager } from "../gunyah/rm/rm.js";
import type { RmNotification, RmReply } from "../gunyah/wire/index.js";
import { HYP_RESOURCE_TYPE, linuxErrno, OS_STATUS } from "../gunyah/wire/index.js";
import type { RmAddress } from "../server/index.js";
import {
  checkAddress,
  formatAddress,
  guestAddress,
  RmEndpoint,
  SocketRmClient,
} from "../server/index.js";
import { parseRmCall, RmArgsError, rmCallSyntax } from "./rm-args.js";
import { scenarioRm } from "./rm-scenario.js";

/** What `rm` commands need of the CLI: streams, and how to end `rm serve`. */
export interface RmIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  /** Ends `rm serve` in-process; without it, SIGINT or SIGTERM does. */
  readonly stop?: AbortSignal;
}

const EXIT = { ok: 0, refused: 1, invalid: 2 } as const;

function parsePort(value: string): number {
  const n = /^[0-9]+$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 0xffff)
    throw new InvalidArgumentError(`expected a TCP port 1..65535, got "${value}"`);
  return n;
}

function parseVmid(value: string): number {
  const n = /^(?:0x[0-9a-f]+|[0-9]+)$/i.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 0xffff)
    throw new InvalidArgumentError(`expected a VMID (0..0xffff), got "${value}"`);
  return n;
}

function parseMs(value: string): number {
  const n = /^[0-9]+$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError(`expected milliseconds (a positive integer), got "${value}"`);
  return n;
}

const socketOption = () =>
  new Option("--socket <path>", "the host's Unix-domain socket").conflicts("tcp");
const tcpOption = () =>
  new Option("--tcp <port>", "the host's TCP port on 127.0.0.1").argParser(parsePort);

/** The address `--socket` / `--tcp` give, or an error line. */
function addressOf(o: { socket?: string; tcp?: number }): RmAddress | string {
  if (o.socket === undefined && o.tcp === undefined) return "give --socket PATH or --tcp PORT";
  try {
    return checkAddress(
      o.socket !== undefined ? { kind: "unix", path: o.socket } : { kind: "tcp", port: o.tcp! },
    );
  } catch (e) {
    return e instanceof Error ? e.message.replace(/^EINVAL: /, "") : String(e);
  }
}

/**
 * A promise of SIGINT / SIGTERM (or `stop`), with the signal's name; `cancel()` stops listening
 * (when the endpoint could not start).
 */
function stopRequested(stop: AbortSignal | undefined): {
  stopped: Promise<string>;
  cancel(): void;
} {
  if (stop !== undefined)
    return {
      stopped: new Promise((resolve) => {
        if (stop.aborted) resolve("stop");
        else stop.addEventListener("abort", () => resolve("stop"), { once: true });
      }),
      cancel: () => {},
    };
  let on: (signal: NodeJS.Signals) => void = () => {};
  const cancel = () => {
    process.off("SIGINT", on);
    process.off("SIGTERM", on);
  };
  const stopped = new Promise<string>((resolve) => {
    on = (signal) => {
      cancel();
      resolve(signal);
    };
    process.on("SIGINT", on);
    process.on("SIGTERM", on);
  });
  return { stopped, cancel };
}

/** The human lines of a reply: `OK handle=0`, `DENIED (-EPERM)`. */
export function formatReply(r: RmReply): string[] {
  if (r.err !== "OK") return [`${r.err} (-${linuxErrno(r.err).name})`];
  switch (r.id) {
    case "MEM_LEND":
    case "MEM_SHARE":
    case "MEM_DONATE":
    case "MEM_QCOM_LOOKUP_SGL":
      return [`OK handle=${r.handle}`];
    case "MEM_ACCEPT": {
      if (r.chosen === undefined) return ["OK"];
      const more = (r.chosen.flags & 1) !== 0 ? ", INCOMPLETE (call again for the rest)" : "";
      return [
        `OK ${r.chosen.sgl.length} IPAs chosen${more}`,
        ...r.chosen.sgl.map((e) => `  ${hex(e.ipa)}+${hex(e.size)}`),
      ];
    }
    case "VM_ALLOCATE":
    case "VM_GET_VMID":
      return [`OK vmid=${hex(r.vmid)} (${r.vmid})`];
    case "VM_GET_STATE": {
      const os = Object.entries(OS_STATUS).find(([, v]) => v === r.osStatus)?.[0] ?? "?";
      return [
        `OK state=${vmStateName(r.vmState)} (${r.vmState}) os=${os} (${r.osStatus}) app=${r.appStatus}`,
      ];
    }
    case "VM_GET_HYP_RESOURCES": {
      const type = (t: number) =>
        Object.entries(HYP_RESOURCE_TYPE).find(([, v]) => v === t)?.[0] ?? `type ${t}`;
      return [
        `OK ${r.resources.length} resource${r.resources.length === 1 ? "" : "s"}`,
        ...r.resources.map(
          (e) =>
            `  ${type(e.type)} partner=${hex(e.partnerVmid)} handle=${e.handle} label=${e.label} capid=${hex(e.capId)} virq_handle=${e.virqHandle} virq=${e.virq} base=${hex(e.base)} size=${hex(e.size)}`,
        ),
      ];
    }
    case "MEM_APPEND":
    case "MEM_RELEASE":
    case "MEM_RECLAIM":
    case "MEM_NOTIFY":
    case "VM_DEALLOCATE":
    case "VM_START":
    case "VM_STOP":
    case "VM_RESET":
    case "VM_CONFIG_IMAGE":
    case "VM_AUTH_IMAGE":
    case "VM_INIT":
    case "VM_SET_FIRMWARE_MEM":
    case "VM_EXIT":
      return ["OK"];
  }
}

/** A notification on one line: `notification MEM_SHARED handle=0 owner=3 ...`. */
export function formatNotification(n: RmNotification): string {
  const fields = Object.entries(n)
    .filter(([k]) => k !== "id")
    .map(([k, v]) => `${k}=${typeof v === "number" ? v : JSON.stringify(v)}`);
  return ["notification", n.id, ...fields].join(" ");
}

/** Add `rm serve` and `rm call` to `program`; `setExit` receives each action's exit code. */
export function addRmCommands(program: Command, io: RmIo, setExit: (code: number) => void): void {
  const rm = program
    .command("rm")
    .description("the Gunyah resource manager's endpoint: serve it, or call it");

  rm.command("serve")
    .description("serve the resource manager's RPC protocol on a Unix socket or 127.0.0.1 TCP")
    .addOption(socketOption())
    .addOption(tcpOption())
    .option("--scenario <file>", "serve the Gunyah platform this scenario builds (after its steps)")
    .option("--verbose", "log one line per RPC")
    .addHelpText(
      "after",
      `
Framing: every message-queue message (an 8-byte RM header and up to 232 payload bytes) travels
as a little-endian u32 byte count (1..240) and that many bytes; a count of 0 or above 240
closes that connection. The default endpoint is the host VM (HLOS, VMID 3); each guest VM has
its own endpoint while it exists: PATH.vm<vmid> (decimal: /tmp/rm.sock.vm128), or port
PORT + vmid. Without --scenario: the built-in platform, 1 GiB of host RAM at IPA = PA
0x8000_0000 and 1 MiB of device memory at 0x1000_0000.

Runs until SIGINT or SIGTERM, then closes every connection, unlinks the socket files and
exits 0. Exit 2: a bad command line, an invalid scenario, or nowhere to listen.

Example:
  memweave rm serve --socket /tmp/rm.sock --verbose
  memweave rm serve --tcp 4000 --scenario examples/gunyah-share.yaml`,
    )
    .action(async (options) => {
      const address = addressOf(options);
      if (typeof address === "string") {
        io.stderr.write(`memweave rm serve: ${address}\n`);
        return setExit(EXIT.invalid);
      }
      let rmOf: ResourceManager;
      if (options.scenario !== undefined) {
        const got = await scenarioRm(options.scenario);
        if (!got.ok) {
          for (const line of got.errors) io.stderr.write(`${line}\n`);
          return setExit(EXIT.invalid);
        }
        for (const line of got.warnings) io.stderr.write(`${line}\n`);
        rmOf = got.rm;
      } else rmOf = createGunyahMachine().rm;
      const ep = new RmEndpoint({
        rm: rmOf,
        address,
        verbose: options.verbose === true,
        log: (line, kind) => void (kind === "error" ? io.stderr : io.stdout).write(`${line}\n`),
      });
      const stop = stopRequested(io.stop);
      try {
        await ep.start();
      } catch (e) {
        stop.cancel();
        await ep.stop();
        io.stderr.write(
          `memweave rm serve: cannot listen on ${formatAddress(address)}: ${e instanceof Error ? e.message : String(e)}\n`,
        );
        return setExit(EXIT.invalid);
      }
      const why = await stop.stopped;
      io.stdout.write(`stopping (${why})\n`);
      await ep.stop();
      io.stdout.write(`stopped: ${ep.stats.connections} connections, ${ep.stats.rpcs} RPCs\n`);
      setExit(EXIT.ok);
    });

  rm.command("call")
    .description("send one RPC to a running endpoint and print the decoded reply")
    .addOption(socketOption())
    .addOption(tcpOption())
    .addOption(
      new Option(
        "--vm <vmid>",
        "act as guest VM <vmid>: connect to its endpoint (PATH.vm<vmid> or PORT + vmid)",
      ).argParser(parseVmid),
    )
    .option("--json", "print the request, the reply and the notifications as one JSON document")
    .addOption(
      new Option("--timeout <ms>", "give up when no reply has come after this long")
        .argParser(parseMs)
        .default(10_000),
    )
    .argument("<rpc>", "the RPC, by the RM's name (MEM_LEND, VM_GET_STATE, ...)")
    .argument("[args...]", "key=value arguments (below)")
    .addHelpText(
      "after",
      `
ARGS are key=value words. Numbers: decimal, 0x hex or sizes (4K, 2M, 0x8000_0000). Lists are
comma-separated, and a list key may be repeated. RIGHTS: letters of r, w, x (rwx) or a number;
ATTR: normal|device|uncached|cached or a number; named flags may be combined with commas.

${rmCallSyntax()}

Exit codes: 0 the RM answered OK, 1 it refused (the error is printed), 2 a bad command line,
no endpoint there, or no reply in time.

Examples:
  memweave rm call --socket /tmp/rm.sock VM_ALLOCATE vmid=0
  memweave rm call --socket /tmp/rm.sock MEM_LEND acl=0x80:rwx sgl=0x80000000+2M label=1
  memweave rm call --socket /tmp/rm.sock MEM_NOTIFY handle=0 flags=shared vmids=0x80
  memweave rm call --socket /tmp/rm.sock --vm 128 MEM_ACCEPT handle=0 transtype=lend flags=done
  memweave rm call --socket /tmp/rm.sock --json VM_GET_STATE vmid=128`,
    )
    .action(async (rpc, args, options) => {
      let request: ReturnType<typeof parseRmCall>;
      try {
        request = parseRmCall(rpc, args);
      } catch (e) {
        if (!(e instanceof RmArgsError)) throw e;
        io.stderr.write(`memweave rm call: ${e.message}\n`);
        return setExit(EXIT.invalid);
      }
      const base = addressOf(options);
      if (typeof base === "string") {
        io.stderr.write(`memweave rm call: ${base}\n`);
        return setExit(EXIT.invalid);
      }
      const address = options.vm !== undefined ? guestAddress(base, options.vm) : base;
      let reply: RmReply;
      let notifications: RmNotification[];
      try {
        const client = await SocketRmClient.connect(address, { timeoutMs: options.timeout });
        try {
          reply = await client.call(request);
          notifications = client.takeNotifications();
        } finally {
          client.destroy();
        }
      } catch (e) {
        io.stderr.write(`memweave rm call: ${e instanceof Error ? e.message : String(e)}\n`);
        return setExit(EXIT.invalid);
      }
      if (options.json === true) {
        const errno = reply.err === "OK" ? null : linuxErrno(reply.err);
        io.stdout.write(
          JSON.stringify(
            {
              rpc: request.id,
              address: formatAddress(address),
              request,
              reply,
              errno,
              notifications,
            },
            null,
            2,
          ) + "\n",
        );
      } else
        io.stdout.write(
          [...formatReply(reply), ...notifications.map(formatNotification)].join("\n") + "\n",
        );
      setExit(reply.err === "OK" ? EXIT.ok : EXIT.refused);
    });
}
