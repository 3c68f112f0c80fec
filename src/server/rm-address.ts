/**
 * Where an RM endpoint listens: a Unix-domain socket path or a TCP port on 127.0.0.1, and the
 * address of each guest VM's own endpoint derived from it — `PATH.vm<vmid>` (decimal VMID:
 * `/tmp/rm.sock.vm128`) or port `PORT + vmid`.
 *
 * @example
 * guestAddress({ kind: "unix", path: "/tmp/rm.sock" }, 0x80); // { kind: "unix", path: "/tmp/rm.sock.vm128" }
 * guestAddress({ kind: "tcp", port: 4000 }, 0x80);            // { kind: "tcp", port: 4128 }
 */
import { lstatSync, rmSync } from "node:fs";
import net from "node:net";

import { fail } from "../base/errors.js";

/** The only host a TCP endpoint binds and a TCP client connects to. */
export const TCP_HOST = "127.0.0.1";

/** An endpoint's address. */
export type RmAddress =
  | { readonly kind: "unix"; readonly path: string }
  | { readonly kind: "tcp"; readonly port: number };

/** The largest VMID a guest endpoint is made for (the last dynamic VMID, 0xBE). */
export const MAX_GUEST_VMID = 0xbe;

/** Bytes a Unix socket path may have (Linux `sun_path` is 108 bytes with its NUL). */
export const MAX_SOCKET_PATH = 107;

/** The suffix of a guest VM's socket path. */
export function guestSuffix(vmid: number): string {
  return `.vm${vmid}`;
}

/** The address of VM `vmid`'s own endpoint, given the default (host) endpoint's. */
export function guestAddress(base: RmAddress, vmid: number): RmAddress {
  return base.kind === "unix"
    ? { kind: "unix", path: base.path + guestSuffix(vmid) }
    : { kind: "tcp", port: base.port + vmid };
}

/** `unix:/tmp/rm.sock` or `tcp:127.0.0.1:4000`. */
export function formatAddress(a: RmAddress): string {
  return a.kind === "unix" ? `unix:${a.path}` : `tcp:${TCP_HOST}:${a.port}`;
}

/**
 * Check a default endpoint's address: a non-empty socket path short enough that every guest's
 * `PATH.vm<vmid>` fits `sun_path`, or a TCP port from 1 such that `PORT + 0xBE` is a port.
 * Throws MemweaveError EINVAL naming the value.
 */
export function checkAddress(a: RmAddress): RmAddress {
  if (a.kind === "unix") {
    if (a.path === "") fail("EINVAL", "socket path is empty", "socket");
    const longest = Buffer.byteLength(a.path + guestSuffix(MAX_GUEST_VMID));
    if (longest > MAX_SOCKET_PATH)
      fail(
        "EINVAL",
        `socket path "${a.path}" is too long: with a guest's suffix (${guestSuffix(MAX_GUEST_VMID)}) it is ${longest} bytes, at most ${MAX_SOCKET_PATH} fit a Unix socket address`,
        "socket",
      );
    return a;
  }
  const maxPort = 0xffff - MAX_GUEST_VMID;
  if (!Number.isInteger(a.port) || a.port < 1 || a.port > maxPort)
    fail(
      "EINVAL",
      `TCP port ${a.port} is not in 1..${maxPort} (guest VMs listen on PORT + vmid, up to PORT + 0x${MAX_GUEST_VMID.toString(16)})`,
      "tcp",
    );
  return a;
}

// --- socket files ------------------------------------------------------------------------------

/**
 * A socket file left at `path` by an endpoint that died is removed; a live endpoint there, or a
 * file that is not a socket, is an error naming the path.
 */
export async function clearStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) throw new Error(`${path} exists and is not a socket; not replacing it`);
  const live = await new Promise<boolean>((resolve) => {
    const probe = net.connect(path);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
  if (live) throw new Error(`another endpoint is listening on ${path}`);
  rmSync(path, { force: true });
}

/** A guest's socket path is the endpoint's to use: a stale socket there goes, anything else stays. */
export function removeStaleGuestSocket(path: string, log: (m: string) => void): boolean {
  try {
    if (!lstatSync(path).isSocket()) {
      log(`no endpoint: ${path} exists and is not a socket`);
      return false;
    }
  } catch {
    return true;
  }
  rmSync(path, { force: true });
  return true;
}
