/**
 * Exposes a WorkerApi over comlink as its wire form: each method answers a Reply (value or coded error),
 * so nothing is thrown across the boundary and no comlink transfer handler is needed (client.ts unwraps).
 */
import { expose } from 'comlink'
import type { Endpoint } from 'comlink'
import { toWireError } from '../client/errors.ts'
import { WORKER_METHODS } from '../client/types.ts'
import type { WireApi, WorkerApi } from '../client/types.ts'

export function toWireApi (api: WorkerApi): WireApi {
  const wire: Record<string, (...args: unknown[]) => Promise<unknown>> = {}
  for (const name of WORKER_METHODS) {
    const fn = api[name] as (...args: unknown[]) => Promise<unknown>
    wire[name] = async (...args) => {
      try {
        return { ok: true, value: await fn.apply(api, args) }
      } catch (err) {
        return { ok: false, error: toWireError(err) }
      }
    }
  }
  return wire as unknown as WireApi
}

/** Exposes `api` on `endpoint` (default: the worker's global scope). */
export function exposeWorkerApi (api: WorkerApi, endpoint?: Endpoint): void {
  expose(toWireApi(api), endpoint)
}
