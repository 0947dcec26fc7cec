/** BlockPrefetch with a scripted fetch: requests in flight, gaps after short answers, resets. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BlockPrefetch } from '../../src/peer/block-prefetch.ts'
import type { Block } from '../../src/protocol/index.ts'

const block = (height: number): Block => ({ header: { height } }) as unknown as Block

/** A fetch whose answers are released by the test; `short(from)` caps an answer's length. */
function scripted (short: (from: number, count: number) => number = (_, c) => c): {
  fetch: (from: number, count: number) => Promise<Block[]>, asked: Array<[number, number]>, open: () => number, release: () => void
} {
  const asked: Array<[number, number]> = []
  const waiting: Array<() => void> = []
  return {
    asked,
    open: () => waiting.length,
    release: () => { for (const w of waiting.splice(0)) w() },
    fetch: async (from, count) => {
      asked.push([from, count])
      await new Promise<void>((resolve) => waiting.push(resolve))
      return Array.from({ length: short(from, count) }, (_, i) => block(from + i))
    }
  }
}

async function take (f: BlockPrefetch, from: number, s: ReturnType<typeof scripted>): Promise<Block[]> {
  const p = f.next(from)
  s.release()
  return await p
}

test('full answers: depth requests in flight, consecutive ranges, none past the tip', async () => {
  const s = scripted()
  const f = new BlockPrefetch(s.fetch, 1, 25, 2, 10)
  const got: number[] = []
  let tip = 0
  for (let i = 0; i < 10 && tip < 25; i++) {
    const b = await take(f, tip + 1, s)
    assert.ok(s.open() + f.inFlight <= 2, 'never more than depth requests at once')
    got.push(...b.map((x) => x.header.height))
    tip = b.at(-1)!.header.height
  }
  assert.deepEqual(got, Array.from({ length: 25 }, (_, i) => i + 1))
  assert.deepEqual(s.asked, [[1, 10], [11, 10], [21, 5]])
  assert.deepEqual(await f.next(26), [], 'past the tip: nothing asked')
  assert.equal(s.asked.length, 3)
})

test('a short answer: its missing heights are asked for alone, and the answer above is still used', async () => {
  const s = scripted((from, count) => from === 1 ? 4 : count)
  const f = new BlockPrefetch(s.fetch, 1, 30, 2, 10)
  const a = await take(f, 1, s)
  assert.deepEqual(a.map((x) => x.header.height), [1, 2, 3, 4])
  const b = await take(f, 5, s)
  assert.deepEqual(b.map((x) => x.header.height), [5, 6, 7, 8, 9, 10], 'the gap 5..10')
  const c = await take(f, 11, s)
  assert.deepEqual(c.map((x) => x.header.height), [11, 12, 13, 14, 15, 16, 17, 18, 19, 20], 'the request made before the gap was found')
  assert.deepEqual(s.asked.slice(0, 3), [[1, 10], [11, 10], [5, 6]], 'heights 11..20 asked once')
})

test('a seeded answer is used first; reset forgets every request', async () => {
  const s = scripted()
  const f = new BlockPrefetch(s.fetch, 1, 40, 2, 10)
  f.seed(1, [block(1), block(2), block(3)])
  assert.deepEqual((await take(f, 1, s)).map((x) => x.header.height), [1, 2, 3])
  assert.deepEqual(s.asked, [[4, 10]])
  f.reset()
  // After a fork switch our tip is 20: the next batch is asked from 21, nothing below is reused.
  assert.deepEqual((await take(f, 21, s)).map((x) => x.header.height), Array.from({ length: 10 }, (_, i) => 21 + i))
  assert.deepEqual(s.asked.slice(1), [[21, 10], [31, 10]])
})

test('a request that fails rejects next(), and an untaken one is no unhandled rejection', async () => {
  const f = new BlockPrefetch(async (from) => { if (from > 1) throw new Error(`no ${from}`); return [block(1)] }, 1, 30, 2, 10)
  assert.deepEqual((await f.next(1)).length, 1)
  await assert.rejects(f.next(2), /no 2/)
  f.reset()
})
