/**
 * RelayKeeper on real libp2p (TCP on 127.0.0.1): a relay server with one slot, held by another client, refuses
 * our reservation; circuit-relay-v2 does not ask again while the connection stays open. Once the slot is
 * free the keeper's retry gets the reservation over the same connection.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import type { Identify } from '@libp2p/identify'
import { RELAY_V2_HOP_CODEC, circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { RelayKeeper } from '../../src/peer/relay-keeper.ts'
import { systemClock } from '../../src/peer/clock.ts'
import { silentLogger } from '../../src/peer/logger.ts'
import { waitUntil } from '../helpers/wait.ts'

const hasCircuitAddr = (n: Libp2p): boolean => n.getMultiaddrs().some((a) => a.toString().includes('/p2p-circuit'))

async function client (): Promise<Libp2p<{ identify: Identify }>> {
  return await createLibp2p({
    addresses: { listen: ['/p2p-circuit'] },
    transports: [tcp(), circuitRelayTransport({ reservationCompletionTimeout: 5_000 })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() }
  })
}

test('a refused reservation is asked for again once the relay has room, over the same connection', async () => {
  // One slot; a reservation lasts 2 s on the server unless its holder refreshes it (it cannot once stopped).
  const relay = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), relay: circuitRelayServer({ reservations: { maxReservations: 1, reservationTtl: 2_000 } }) }
  })
  const holder = await client()
  const us = await client()
  const keeper = new RelayKeeper({
    libp2p: us,
    identify: async (c) => await us.services.identify.identify(c),
    relays: new Set([relay.peerId.toString()]),
    clock: systemClock,
    log: silentLogger,
    checkMs: 100,
    graceMs: 300,
    maxBackoffMs: 400
  })
  try {
    await holder.dial(relay.getMultiaddrs()[0]!)
    await waitUntil('the holder reserves the only slot', () => hasCircuitAddr(holder), 10_000)
    const conn = await us.dial(relay.getMultiaddrs()[0]!)
    await waitUntil('identify shows the relay speaks hop', async () => (await us.peerStore.get(relay.peerId).catch(() => undefined))?.protocols.includes(RELAY_V2_HOP_CODEC) === true, 10_000)
    await waitUntil('the connection passes the grace period', () => Date.now() - conn.timeline.open >= 300, 5_000)
    // The library's own attempt on this connection is refused (the slot is held) and never repeated.
    assert.equal(await keeper.check(), 'retried', 'no reservation after the grace period: the keeper asks again')
    assert.equal(await keeper.check(), 'waiting', 'the next retry waits for its backoff')
    assert.equal(hasCircuitAddr(us), false, 'the relay is full: still no reservation')
    keeper.start()
    await holder.stop() // its reservation expires on the relay 2 s later
    await waitUntil('our reservation, once the slot is free', () => hasCircuitAddr(us), 20_000)
    assert.ok(keeper.stats.retries >= 2, `reserved after ${keeper.stats.retries} retries`)
    assert.equal(us.getConnections(relay.peerId).length, 1, 'the same single connection to the relay')
    assert.equal(us.getConnections(relay.peerId)[0]!.id, conn.id)
    assert.equal(await keeper.check(), 'reserved')
  } finally {
    keeper.stop()
    await Promise.all([us.stop(), holder.stop(), relay.stop()])
  }
})

test('no relay connection: nothing to do; a peer without the hop protocol is not asked', async () => {
  const plain = await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], services: { identify: identify() } })
  const us = await client()
  const keeper = new RelayKeeper({ libp2p: us, identify: async (c) => await us.services.identify.identify(c), relays: new Set([plain.peerId.toString()]), clock: systemClock, log: silentLogger, graceMs: 0 })
  try {
    assert.equal(await keeper.check(), 'no-relay')
    await us.dial(plain.getMultiaddrs()[0]!)
    await waitUntil('identify recorded the peer', async () => ((await us.peerStore.get(plain.peerId).catch(() => undefined))?.protocols.length ?? 0) > 0, 10_000)
    assert.equal(await keeper.check(), 'no-relay', 'the peer does not speak hop')
    assert.equal(keeper.stats.retries, 0)
  } finally {
    await Promise.all([us.stop(), plain.stop()])
  }
})
