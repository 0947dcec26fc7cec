/** The per-peer tables an attacker could grow with new identities stay bounded (src/peer/bounded.ts). */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { addBounded, countBounded } from '../../src/peer/bounded.ts'

test('reject counters: a peer counted again becomes the newest; past the bound the least recently counted is forgotten', () => {
  const m = new Map<string, number>()
  assert.equal(countBounded(m, 'a', 1, 3), 1)
  countBounded(m, 'b', 2, 3)
  countBounded(m, 'c', 1, 3)
  assert.equal(countBounded(m, 'a', 4, 3), 5, 'counts add up')
  countBounded(m, 'd', 1, 3)
  assert.deepEqual([...m.keys()], ['c', 'a', 'd'], 'b, the least recently counted, was forgotten')
  for (let i = 0; i < 1_000; i++) countBounded(m, `sybil-${i}`, 1, 3)
  assert.equal(m.size, 3)
})

test('blocklist: past the bound the oldest block is lifted, a new one is kept', () => {
  const s = new Set<string>()
  for (let i = 0; i < 10; i++) addBounded(s, `p${i}`, 4)
  assert.deepEqual([...s], ['p6', 'p7', 'p8', 'p9'])
  addBounded(s, 'p7', 4)
  assert.equal(s.size, 4, 'adding one already there changes nothing')
})
