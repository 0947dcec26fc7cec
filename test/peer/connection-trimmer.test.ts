import { test } from 'node:test'
import assert from 'node:assert/strict'
import { orderForTrim, selectForTrim, validateWatermarks, ConnectionTrimmer, WatermarkError } from '../../src/peer/connection-trimmer.ts'
import type { TrimCandidate } from '../../src/peer/connection-trimmer.ts'

const NOW = 1_000_000
const OLD = NOW - 120_000

function c (id: string, o: Partial<TrimCandidate> = {}): TrimCandidate {
  return { id, peer: `peer-${id}`, direction: 'inbound', streams: 1, openedAt: OLD, tagValue: 0, temporary: false, protected: false, ...o }
}
const ids = (xs: TrimCandidate[]): string[] => xs.map((x) => x.id)

test('protected and grace-period connections are never candidates', () => {
  const out = orderForTrim([
    c('prot', { protected: true, streams: 0 }),
    c('young', { openedAt: NOW - 59_999, streams: 0 }),
    c('edge', { openedAt: NOW - 60_000 }),
    c('old')
  ], { now: NOW })
  assert.deepEqual(ids(out).sort(), ['edge', 'old'])
  // configurable grace period
  assert.deepEqual(ids(orderForTrim([c('young', { openedAt: NOW - 5_000 })], { now: NOW, gracePeriodMs: 1_000 })), ['young'])
  assert.deepEqual(ids(orderForTrim([c('young', { openedAt: NOW - 5_000 })], { now: NOW, gracePeriodMs: 10_000 })), [])
  // protected even in an emergency and even with 0 streams, lowest tag, temporary
  assert.deepEqual(ids(orderForTrim([c('p', { protected: true, temporary: true, tagValue: -5, streams: 0 })], { now: NOW, emergency: true })), [])
})

test('temporary first, then lower tag value', () => {
  const out = orderForTrim([
    c('tag10', { tagValue: 10, streams: 0 }),
    c('tag0', { tagValue: 0, streams: 5, direction: 'outbound' }),
    c('temp-high-tag', { temporary: true, tagValue: 100, streams: 9, direction: 'outbound' }),
    c('neg', { tagValue: -1, streams: 3 })
  ], { now: NOW })
  assert.deepEqual(ids(out), ['temp-high-tag', 'neg', 'tag0', 'tag10'])
})

test('0 streams before any streams, regardless of direction', () => {
  const out = orderForTrim([
    c('in-1', { streams: 1 }),
    c('out-0', { streams: 0, direction: 'outbound' }),
    c('in-0', { streams: 0 })
  ], { now: NOW })
  assert.deepEqual(ids(out), ['in-0', 'out-0', 'in-1'])
})

test('inbound before outbound among connections with streams; then fewer streams first normally', () => {
  const out = orderForTrim([
    c('out-1', { streams: 1, direction: 'outbound' }),
    c('in-5', { streams: 5 }),
    c('in-2', { streams: 2 }),
    c('out-4', { streams: 4, direction: 'outbound' })
  ], { now: NOW })
  assert.deepEqual(ids(out), ['in-2', 'in-5', 'out-1', 'out-4'])
})

test('emergency: more streams first, except 0 streams ranks highest', () => {
  const conns = [
    c('in-1', { streams: 1 }),
    c('in-7', { streams: 7 }),
    c('in-0', { streams: 0 }),
    c('in-3', { streams: 3 }),
    c('out-9', { streams: 9, direction: 'outbound' }),
    c('out-2', { streams: 2, direction: 'outbound' })
  ]
  assert.deepEqual(ids(orderForTrim(conns, { now: NOW, emergency: true })), ['in-0', 'in-7', 'in-3', 'in-1', 'out-9', 'out-2'])
  assert.deepEqual(ids(orderForTrim(conns, { now: NOW })), ['in-0', 'in-1', 'in-3', 'in-7', 'out-2', 'out-9'])
})

test('tag value outranks streams and direction; temporary outranks tag value', () => {
  const out = orderForTrim([
    c('lowtag-out-many', { tagValue: 1, streams: 8, direction: 'outbound' }),
    c('hightag-in-0', { tagValue: 2, streams: 0 }),
    c('temp', { temporary: true, tagValue: 50 })
  ], { now: NOW, emergency: true })
  assert.deepEqual(ids(out), ['temp', 'lowtag-out-many', 'hightag-in-0'])
})

test('ties are broken newest first, then by id: the order is deterministic', () => {
  const a = c('a', { openedAt: OLD })
  const b = c('b', { openedAt: OLD + 1_000 })
  const d = c('d', { openedAt: OLD })
  assert.deepEqual(ids(orderForTrim([a, b, d], { now: NOW })), ['b', 'a', 'd'])
  assert.deepEqual(ids(orderForTrim([d, a, b], { now: NOW })), ['b', 'a', 'd'])
})

test('pure: the input is not modified', () => {
  const input = [c('x', { streams: 3 }), c('y', { streams: 0 })]
  const copy = JSON.parse(JSON.stringify(input)) as TrimCandidate[]
  orderForTrim(input, { now: NOW })
  assert.deepEqual(input, copy)
})

test('selectForTrim trims down to the low watermark, skipping what may not be trimmed', () => {
  const conns = Array.from({ length: 10 }, (_, i) => c(`c${i}`, { streams: i % 3, openedAt: OLD - i }))
  assert.equal(selectForTrim(conns, 6, { now: NOW }).length, 4)
  assert.equal(selectForTrim(conns, 10, { now: NOW }).length, 0)
  assert.equal(selectForTrim(conns, 12, { now: NOW }).length, 0)
  // 8 protected: only 2 can go even though 4 are excess
  const mostlyProtected = conns.map((x, i) => i < 8 ? { ...x, protected: true } : x)
  assert.deepEqual(ids(selectForTrim(mostlyProtected, 6, { now: NOW })).sort(), ['c8', 'c9'])
  // the zero-stream ones go first
  assert.ok(selectForTrim(conns, 6, { now: NOW }).every((x) => x.streams === 0))
})

test('a large random set: every ordered pair respects the rules', () => {
  let seed = 7
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n }
  const conns = Array.from({ length: 400 }, (_, i) => c(`r${i}`, {
    streams: rnd(4), tagValue: rnd(3), temporary: rnd(10) === 0, direction: rnd(2) === 0 ? 'inbound' : 'outbound',
    protected: rnd(20) === 0, openedAt: NOW - rnd(200_000)
  }))
  for (const emergency of [false, true]) {
    const out = orderForTrim(conns, { now: NOW, emergency })
    assert.ok(out.every((x) => !x.protected && NOW - x.openedAt >= 60_000))
    assert.equal(out.length, conns.filter((x) => !x.protected && NOW - x.openedAt >= 60_000).length)
    for (let i = 1; i < out.length; i++) {
      const a = out[i - 1]!; const b = out[i]!
      if (a.temporary !== b.temporary) { assert.ok(a.temporary); continue }
      if (a.tagValue !== b.tagValue) { assert.ok(a.tagValue < b.tagValue); continue }
      if ((a.streams === 0) !== (b.streams === 0)) { assert.equal(a.streams, 0); continue }
      if (a.direction !== b.direction) { assert.equal(a.direction, 'inbound'); continue }
      if (a.streams !== b.streams) assert.ok(emergency ? a.streams > b.streams : a.streams < b.streams)
    }
  }
})

test('watermark validation: coded errors carrying the values', () => {
  assert.throws(() => { validateWatermarks({ lowWatermark: 192, highWatermark: 160 }) }, (e: unknown) => e instanceof WatermarkError && e.code === 'CONFIG_INVALID' && /low=192 high=160/.test(e.message))
  assert.throws(() => { validateWatermarks({ lowWatermark: 10, highWatermark: 10 }) }, WatermarkError)
  assert.throws(() => { validateWatermarks({ lowWatermark: -1, highWatermark: 10 }) }, WatermarkError)
  assert.throws(() => { validateWatermarks({ lowWatermark: 1.5, highWatermark: 10 }) }, WatermarkError)
  assert.throws(() => new ConnectionTrimmer({ lowWatermark: 5, highWatermark: 2 }), WatermarkError)
  validateWatermarks({ lowWatermark: 160, highWatermark: 192 })
})

test('the gater refuses once open + admitted-but-not-yet-open reaches the high watermark', () => {
  const t = new ConnectionTrimmer({ lowWatermark: 1, highWatermark: 3 })
  // not attached: nothing open, admissions reserve slots
  assert.equal(t.gater.denyInboundUpgradedConnection({} as never, {} as never), false)
  assert.equal(t.gater.denyOutboundUpgradedConnection({} as never, {} as never), false)
  assert.equal(t.gater.denyInboundUpgradedConnection({} as never, {} as never), false)
  assert.equal(t.gater.denyInboundUpgradedConnection({} as never, {} as never), true, 'three upgrades in flight fill a high watermark of 3')
  assert.equal(t.gater.denyInboundConnection({} as never), true, 'early refusal before the handshake')
  assert.equal(t.stats().deniedInbound, 2)
})
