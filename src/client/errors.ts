/**
 * Coded errors of the client API, and how they cross the worker boundary.
 *
 * The worker never throws through comlink: every API method answers with a `Reply` (a value, or a plain
 * `WireError` with its code and details), and the client turns an error reply back into a
 * `LightpulseError`. So no comlink transfer handler is registered, and comlink behaves on the page exactly
 * as it does for any other comlink user there.
 */
import type { ErrorCode } from '../protocol/errors.ts'
import type { StorageErrorCode } from '../storage/types.ts'

/** Codes the client and the worker add to the protocol's and the store's. */
export type ClientErrorCode =
  /** The config passed to `start` is not usable (network, bootstraps, checkpoint). */
  | 'CONFIG_INVALID'
  /** A call that needs a running peer came before `start` or after `stop`. */
  | 'NOT_STARTED'
  /** The worker failed to load, or stopped answering after an error. Pending calls get this. */
  | 'WORKER_CRASHED'
  /** `terminate()` was called. Pending and later calls get this. */
  | 'WORKER_TERMINATED'
  /** The worker answered something that is not a lightpulse reply (a different worker script?). */
  | 'PROTOCOL_MISMATCH'
  /** No bootstrap is reachable (an `error` event, not a thrown error). */
  | 'NO_BOOTSTRAP'
  /** This tab is a client of the peer another tab runs, and that tab did not answer in time. */
  | 'LEADER_UNREACHABLE'
  /** An async-iterator subscription's consumer fell too far behind (src/client/streams.ts). */
  | 'STREAM_OVERFLOW'
  /** An unexpected failure inside the worker; `details` and the message say more. */
  | 'INTERNAL'

/** Every code a LightpulseError can carry. */
export type LightpulseErrorCode = ClientErrorCode | ErrorCode | StorageErrorCode

export class LightpulseError extends Error {
  override name = 'LightpulseError'
  readonly code: LightpulseErrorCode
  readonly details: Record<string, unknown>
  constructor (code: LightpulseErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message)
    this.code = code
    this.details = details
  }
}

/** An error as it crosses the boundary: structured-clone safe. */
export interface WireError { name: string, message: string, code: LightpulseErrorCode, details: Record<string, unknown>, stack?: string }

/** What every worker API method answers. */
export type Reply<T> = { ok: true, value: T } | { ok: false, error: WireError }

function plain (details: unknown): Record<string, unknown> {
  try {
    return JSON.parse(JSON.stringify(details ?? {}, (_k, v: unknown) => v instanceof Uint8Array ? Array.from(v) : typeof v === 'bigint' ? v.toString() : v)) as Record<string, unknown>
  } catch {
    return {}
  }
}

/** Any thrown value to a WireError; errors without a code become INTERNAL. */
export function toWireError (err: unknown): WireError {
  const e: Error & { code?: unknown, details?: unknown } = err instanceof Error ? err : new Error(String(err))
  const code = typeof e.code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(e.code) ? e.code as LightpulseErrorCode : 'INTERNAL'
  return { name: e.name, message: e.message, code, details: plain(e.details), ...(e.stack !== undefined ? { stack: e.stack } : {}) }
}

export function fromWireError (w: WireError): LightpulseError {
  const err = new LightpulseError(w.code, w.message, w.details)
  if (w.stack !== undefined) err.stack = w.stack
  return err
}

export function isReply (v: unknown): v is Reply<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { ok?: unknown }).ok === 'boolean'
}
