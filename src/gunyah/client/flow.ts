/**
 * RPC flows: a client operation written once as a generator that yields each request and is
 * resumed with its reply, so the same code runs in-process (synchronously, for scenario steps
 * and tests) and over a socket (asynchronously).
 *
 * @example
 * function* getVmid(): RmFlow<number> { const r = yield { id: "VM_GET_VMID" }; ... }
 * runFlow(getVmid(), (req) => client.call(req));           // in-process
 * await runFlowAsync(getVmid(), (req) => socket.call(req)); // over a socket
 */
import type { RmReply, RmRequest } from "../wire/codec.js";

/** A client operation: yields requests, receives their replies, returns `T`. */
export type RmFlow<T> = Generator<RmRequest, T, RmReply>;

/** Run a flow with a synchronous call. */
export function runFlow<T>(flow: RmFlow<T>, call: (req: RmRequest) => RmReply): T {
  let step = flow.next();
  while (!step.done) step = flow.next(call(step.value));
  return step.value;
}

/** Run a flow with an asynchronous call. */
export async function runFlowAsync<T>(
  flow: RmFlow<T>,
  call: (req: RmRequest) => Promise<RmReply>,
): Promise<T> {
  let step = flow.next();
  while (!step.done) step = flow.next(await call(step.value));
  return step.value;
}
