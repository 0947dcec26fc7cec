/** compareForks: longer wins; at equal length the lower first round, then the lower first hash. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { compareForks, sha256, utf8 } from '../../src/protocol/index.ts'
import type { ForkSummary } from '../../src/protocol/index.ts'
import { testRandom } from '../helpers/assert.ts'

const h = (s: string): Uint8Array => sha256(utf8(s))
const fork = (tipHeight: number, firstRound: number, firstHash: Uint8Array): ForkSummary => ({ tipHeight, firstRound, firstHash })
const low = new Uint8Array(32).fill(0x01)
const high = new Uint8Array(32).fill(0xfe)

test('the longer fork wins, whatever its round or hash', () => {
  assert.ok(compareForks(fork(11, 200, high), fork(10, 0, low)) < 0)
  assert.ok(compareForks(fork(10, 0, low), fork(11, 200, high)) > 0)
})

test('equal length: the lower round of the first block wins', () => {
  assert.ok(compareForks(fork(10, 0, high), fork(10, 1, low)) < 0)
  assert.ok(compareForks(fork(10, 3, low), fork(10, 2, high)) > 0)
})

test('equal length and round: the lower first-block hash wins (unsigned bytes, first byte most significant)', () => {
  assert.ok(compareForks(fork(10, 1, low), fork(10, 1, high)) < 0)
  const a = new Uint8Array(32); a[31] = 1
  const b = new Uint8Array(32); b[0] = 1
  assert.ok(compareForks(fork(10, 1, a), fork(10, 1, b)) < 0, 'the first byte decides, not the last')
  const c = new Uint8Array(32); c[0] = 0x80
  assert.ok(compareForks(fork(10, 1, b), fork(10, 1, c)) < 0, '0x80 is above 0x01 (unsigned)')
})

test('the same fork compares 0; the order is antisymmetric and transitive (a total order every peer shares)', () => {
  assert.equal(compareForks(fork(10, 2, h('x')), fork(10, 2, h('x'))), 0)
  const r = testRandom(7)
  const forks = Array.from({ length: 60 }, (_, i) => fork(100 + r.int(3), r.int(4), h(`f${i}`)))
  for (const a of forks) {
    for (const b of forks) {
      assert.equal(Math.sign(compareForks(a, b)) + Math.sign(compareForks(b, a)), 0)
      for (const c of forks.slice(0, 15)) {
        if (compareForks(a, b) < 0 && compareForks(b, c) < 0) assert.ok(compareForks(a, c) < 0)
      }
    }
  }
  // Every peer sorting the same forks in any arrival order picks the same winner.
  const winner = [...forks].sort(compareForks)[0]
  for (let k = 0; k < 10; k++) {
    const shuffled = [...forks].sort(() => r.int(3) - 1)
    assert.deepEqual(shuffled.sort(compareForks)[0], winner)
  }
})
