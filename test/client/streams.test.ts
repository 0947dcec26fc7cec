/**
 * Async-iterator subscriptions (src/client/streams.ts) over a hand-driven event source: order and filtering,
 * unsubscribe when the loop ends, STREAM_OVERFLOW for a consumer that falls behind, and an abort signal.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { STREAM_BUFFER, eventStream, streamsOf } from '../../src/client/streams.ts'
import { LightpulseError } from '../../src/client/errors.ts'
import type { ClientEvent } from '../../src/client/types.ts'

function source (): { on: Parameters<typeof eventStream>[0], emit: (e: ClientEvent) => void, readonly listeners: number } {
  const ls = new Set<(e: ClientEvent) => void>()
  return {
    on: async (l) => { ls.add(l); return async () => { ls.delete(l) } },
    emit: (e) => { for (const l of ls) l(e) },
    get listeners () { return ls.size }
  }
}
const block = (height: number): ClientEvent => ({ type: 'block', height, hash: `h${height}`, round: 0, timestamp: 0, producer: '', signers: [], signerKeys: [], bitset: 0, revealBitset: 0, quorumDigest: '', source: 'gossip', acceptedAt: 0 })
const tx = (tag: string, seq: number): ClientEvent => ({ type: 'tx', tag, sender: 'ab', seq, expires: 9, payload: new Uint8Array([seq]), inclusion: { txHash: '', height: 1, blockHash: '', txRoot: '', index: 0, size: 1, tx: '', proof: '' } })

test('blocks() yields every block in order, waits for the next, and unsubscribes when the loop breaks', async () => {
  const s = source()
  const { blocks } = streamsOf(s.on)
  const it = blocks()
  const first = it.next() // subscribes, then waits
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(s.listeners, 1)
  s.emit(block(1)); s.emit({ type: 'log', level: 'info', component: 'x', message: 'not a block' }); s.emit(block(2))
  assert.equal((await first).value?.height, 1)
  const seen: number[] = []
  s.emit(block(3))
  for await (const b of it) { seen.push(b.height); if (b.height === 3) break }
  assert.deepEqual(seen, [2, 3])
  assert.equal(s.listeners, 0, 'break unsubscribed')
  assert.equal((await it.next()).done, true)
})

test('transactions(tag) yields only that tag, with the inclusion', async () => {
  const s = source()
  const it = streamsOf(s.on).transactions('board')
  const got = it.next()
  await new Promise((resolve) => setImmediate(resolve))
  s.emit(tx('raffle', 1)); s.emit(block(5)); s.emit(tx('board', 2))
  const v = (await got).value!
  assert.deepEqual([v.tag, v.seq, v.inclusion.height], ['board', 2, 1])
  await it.return!()
  assert.equal(s.listeners, 0)
})

test('a consumer STREAM_BUFFER events behind gets STREAM_OVERFLOW, after the buffered ones', async () => {
  const s = source()
  const it = streamsOf(s.on).blocks()
  const first = it.next()
  await new Promise((resolve) => setImmediate(resolve))
  for (let h = 0; h <= STREAM_BUFFER; h++) s.emit(block(h)) // one more than the buffer holds
  assert.equal((await first).value?.height, 0)
  let n = 1
  await assert.rejects(async () => { for (;;) { const r = await it.next(); if (r.done === true) break; n++ } }, (err: unknown) => err instanceof LightpulseError && err.code === 'STREAM_OVERFLOW')
  assert.equal(n, STREAM_BUFFER, "every buffered event first")
  assert.equal(s.listeners, 0)
})

test('an abort signal ends the loop and unsubscribes', async () => {
  const s = source()
  const ac = new AbortController()
  const it = streamsOf(s.on).blocks({ signal: ac.signal })
  const pending = it.next()
  await new Promise((resolve) => setImmediate(resolve))
  ac.abort()
  assert.equal((await pending).done, true)
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(s.listeners, 0)
})
