/**
 * The Dialer's top-up against a stand-in for libp2p (unit): bootstraps keep no mesh, so they must not count
 * towards `minPeers`, and they are not top-up candidates; a bootstrap itself (minPeers 0) dials no one.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Libp2p, PeerId } from '@libp2p/interface'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { Dialer } from '../../src/peer/dialer.ts'
import { ManualClock } from '../../src/peer/clock.ts'
import { silentLogger } from '../../src/peer/logger.ts'
import { Emitter } from '../../src/peer/events.ts'
import type { PeerEvents } from '../../src/peer/events.ts'

const newId = async (): Promise<PeerId> => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))

async function setup (connectedOthers: number, knownOthers: number, minPeers?: number, connectedBoots = 2): Promise<{ dialer: Dialer, dialed: string[], known: PeerId[], boots: PeerId[], clock: ManualClock }> {
  const self = await newId()
  const boots = [await newId(), await newId()]
  const others = await Promise.all(Array.from({ length: connectedOthers }, newId))
  const known = await Promise.all(Array.from({ length: knownOthers }, newId))
  const dialed: string[] = []
  const conns = [...boots.slice(0, connectedBoots), ...others].map((p) => ({ remotePeer: p }))
  const addr = multiaddr('/ip4/127.0.0.1/tcp/1')
  const fake = {
    peerId: self,
    getConnections: () => conns,
    peerStore: { all: async () => [...boots, ...others, ...known, self].map((id) => ({ id, addresses: [{ multiaddr: addr }] })) },
    dial: async (p: PeerId | { toString: () => string }) => { dialed.push(p.toString()); return await new Promise(() => {}) },
    hangUp: async () => {}
  }
  const clock = new ManualClock()
  const dialer = new Dialer({
    libp2p: fake as unknown as Libp2p,
    bootstraps: boots.map((b) => `/ip4/127.0.0.1/tcp/2/p2p/${b.toString()}`),
    clock,
    log: silentLogger,
    events: new Emitter<PeerEvents>(),
    ...(minPeers !== undefined ? { minPeers } : {})
  })
  return { dialer, dialed, known, boots, clock }
}

test('top-up: 2 bootstraps + 4 peers connected, minPeers 6: dials 2 more known peers, never a bootstrap', async () => {
  const { dialer, dialed, known, boots } = await setup(4, 5)
  await dialer.check()
  dialer.stop()
  assert.equal(dialed.length, 2, `dialed ${dialed.length}`)
  for (const d of dialed) {
    assert.ok(known.some((k) => k.toString() === d), 'a known, unconnected peer')
    assert.ok(!boots.some((b) => b.toString() === d), 'not a bootstrap')
  }
})

test('top-up: 6 peers besides the bootstraps: dials no one', async () => {
  const { dialer, dialed } = await setup(6, 5)
  await dialer.check()
  dialer.stop()
  assert.deepEqual(dialed, [])
})

test('a bootstrap (minPeers 0) with its peers gone tops up no one', async () => {
  const { dialer, dialed } = await setup(0, 5, 0)
  await dialer.check()
  dialer.stop()
  assert.deepEqual(dialed, [])
})

test('below minPeers with one bootstrap connected and no one to top up from: the other bootstrap is dialed again, at most every 15 s', async () => {
  const { dialer, dialed, boots, clock } = await setup(0, 0, 6, 1)
  await dialer.check()
  assert.deepEqual(dialed, [`/ip4/127.0.0.1/tcp/2/p2p/${boots[1]!.toString()}`], 'the unconnected bootstrap, by its address')
  clock.advance(5_000)
  await dialer.check()
  assert.equal(dialed.length, 1, 'not again within 15 s')
  clock.advance(10_000)
  await dialer.check()
  assert.equal(dialed.length, 2, 'again after 15 s')
  dialer.stop()
})

test('enough peers, or every bootstrap connected: no bootstrap refresh', async () => {
  const a = await setup(6, 0, 6, 1)
  a.clock.advance(60_000)
  await a.dialer.check()
  a.dialer.stop()
  assert.deepEqual(a.dialed, [], '6 other peers connected')
  const b = await setup(0, 0, 6, 2)
  b.clock.advance(60_000)
  await b.dialer.check()
  b.dialer.stop()
  assert.deepEqual(b.dialed, [], 'both bootstraps connected')
})

test('failedAttempts: 0 while the first dial is in flight, counts rounds that reach no bootstrap, back to 0 on success', async () => {
  const boots = [await newId(), await newId()]
  const conns: Array<{ remotePeer: PeerId }> = []
  let pending: Array<() => void> = []
  const release = async (): Promise<void> => {
    for (let i = 0; pending.length < 2; i++) { // both bootstraps dialed (bounded)
      assert.ok(i < 1000, 'the dialer did not dial both bootstraps')
      await new Promise((resolve) => setImmediate(resolve))
    }
    const p = pending; pending = []
    for (const r of p) r()
  }
  let reachable = false
  const fake = {
    peerId: await newId(),
    getConnections: () => conns,
    peerStore: { all: async () => [] },
    dial: async () => {
      await new Promise<void>((resolve) => { pending.push(resolve) })
      if (!reachable) throw new Error('ECONNREFUSED')
      conns.push({ remotePeer: boots[0]! })
      return {}
    },
    hangUp: async () => {}
  }
  const dialer = new Dialer({ libp2p: fake as unknown as Libp2p, bootstraps: boots.map((b) => `/ip4/127.0.0.1/tcp/2/p2p/${b.toString()}`), clock: new ManualClock(), log: silentLogger, events: new Emitter<PeerEvents>() })
  const first = dialer.check()
  assert.equal(dialer.failedAttempts, 0, 'nothing has failed while the first dial is in flight')
  await release()
  await first
  assert.equal(dialer.failedAttempts, 1)
  const second = dialer.check()
  await release()
  await second
  assert.equal(dialer.failedAttempts, 2)
  reachable = true
  const third = dialer.check()
  await release()
  await third
  assert.equal(dialer.failedAttempts, 0, 'a round that reached a bootstrap resets the count')
  dialer.stop()
})
