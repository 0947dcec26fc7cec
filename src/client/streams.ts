/**
 * Async-iterator subscriptions over the client's events: `for await (const b of client.blocks())`. Each
 * iterator subscribes when created and unsubscribes when the loop ends (break, return, throw). Events wait in
 * a bounded queue while the loop body runs; a consumer that falls STREAM_BUFFER events behind gets a
 * STREAM_OVERFLOW error from its next step rather than a silently incomplete stream.
 */
import { LightpulseError } from './errors.ts'
import type { ClientEvent } from './types.ts'
import type { LightpulseClient } from './client.ts'

export const STREAM_BUFFER = 4096

export interface StreamOptions { signal?: AbortSignal }

export function eventStream<T> (on: LightpulseClient['on'], pick: (e: ClientEvent) => T | undefined, opts: StreamOptions = {}): AsyncIterableIterator<T> {
  const queue: T[] = []
  let wake: (() => void) | undefined
  let failure: LightpulseError | undefined
  let ended = false
  const unsubscribe = on((e) => {
    if (ended || failure !== undefined) return
    const v = pick(e)
    if (v === undefined) return
    if (queue.length >= STREAM_BUFFER) failure = new LightpulseError('STREAM_OVERFLOW', `The stream's consumer fell ${STREAM_BUFFER} events behind; restart it (and read faster, or hand work off the loop).`, { buffered: STREAM_BUFFER })
    else queue.push(v)
    wake?.()
  })
  let unsubscribed: Promise<void> | undefined
  const end = async (): Promise<IteratorResult<T>> => {
    ended = true
    wake?.()
    unsubscribed ??= (async () => { await (await unsubscribe)().catch(() => {}) })()
    await unsubscribed
    return { done: true, value: undefined }
  }
  opts.signal?.addEventListener('abort', () => { void end() }, { once: true })
  const it: AsyncIterableIterator<T> = {
    async next (): Promise<IteratorResult<T>> {
      await unsubscribe // the subscription is in place (or its failure is thrown) before the first wait
      for (;;) {
        if (queue.length > 0) return { done: false, value: queue.shift()! }
        if (failure !== undefined) { const f = failure; await end(); throw f }
        if (ended) return { done: true, value: undefined }
        await new Promise<void>((resolve) => { wake = resolve })
        wake = undefined
      }
    },
    return: end,
    [Symbol.asyncIterator] () { return it }
  }
  if (opts.signal?.aborted === true) void end()
  return it
}

/** A payload as the wire takes it: strings are UTF-8. */
export function payloadBytes (payload: Uint8Array | string): Uint8Array {
  return typeof payload === 'string' ? new TextEncoder().encode(payload) : payload
}

/** The async-iterator subscriptions, over any client's `on`. */
export function streamsOf (on: LightpulseClient['on']): Pick<LightpulseClient, 'blocks' | 'transactions'> {
  return {
    blocks: (opts) => eventStream(on, (e) => { if (e.type !== 'block') return undefined; const { type: _t, ...b } = e; return b }, opts),
    transactions: (tag, opts) => eventStream(on, (e) => { if (e.type !== 'tx' || (tag !== undefined && e.tag !== tag)) return undefined; const { type: _t, ...t } = e; return t }, opts)
  }
}
