/**
 * Coded errors survive the worker boundary: comlink by default keeps only name/message/stack, so a
 * transfer handler carries `code` and `details` and rebuilds a LightpulseError on the other side.
 */
import { transferHandlers } from 'comlink'
import type { TransferHandler } from 'comlink'

export class LightpulseError extends Error {
  override name = 'LightpulseError'
  readonly code: string
  readonly details: Record<string, unknown>
  constructor (code: string, message: string, details: Record<string, unknown> = {}) {
    super(message)
    this.code = code
    this.details = details
  }
}

interface Serialized { isError: true, value: { name: string, message: string, stack?: string, code?: string, details?: Record<string, unknown> } }

function plain (details: unknown): Record<string, unknown> {
  try { return JSON.parse(JSON.stringify(details ?? {}, (_k, v: unknown) => v instanceof Uint8Array ? Array.from(v) : v)) as Record<string, unknown> } catch { return {} }
}

let installed = false

/** Call once on both sides (page and worker). */
export function registerErrorTransfer (): void {
  if (installed) return
  installed = true
  const original = transferHandlers.get('throw')!
  const handler: TransferHandler<{ value: unknown }, Serialized> = {
    canHandle: (v): v is { value: unknown } => original.canHandle(v),
    serialize: (v) => {
      const e: Error & { code?: string, details?: unknown } = v.value instanceof Error ? v.value : new Error(String(v.value))
      return [{ isError: true, value: { name: e.name, message: e.message, stack: e.stack, code: e.code, details: plain(e.details) } }, []]
    },
    deserialize
  }
  transferHandlers.set('throw', handler as unknown as TransferHandler<unknown, unknown>)
}

function deserialize (s: Serialized): never {
  const v = s.value
  const err = new LightpulseError(v.code ?? 'INTERNAL', v.message, v.details ?? {})
  err.name = v.name
  if (v.stack !== undefined) err.stack = v.stack
  throw err
}
