/**
 * Test helpers for MemweaveError, shared by every layer's tests (never part of the build).
 */
import { expect } from "vitest";
import type { ErrorCode } from "./errors.js";
import { MemweaveError } from "./errors.js";

/** The MemweaveError `fn` throws; fails the test if it throws nothing or something else. */
export function caught(fn: () => unknown): MemweaveError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(MemweaveError);
    return e as MemweaveError;
  }
  return expect.unreachable("expected a MemweaveError, nothing was thrown");
}

/** `fn` must throw a MemweaveError with `code` whose message contains every text; returns it. */
export function expectError(fn: () => unknown, code: ErrorCode, ...texts: string[]): MemweaveError {
  const e = caught(fn);
  expect(e.code).toBe(code);
  for (const t of texts) expect(e.message).toContain(t);
  return e;
}

/** The code of the MemweaveError `fn` throws, or undefined if it throws nothing. */
export function errorCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(MemweaveError);
    return (e as MemweaveError).code;
  }
  return undefined;
}
