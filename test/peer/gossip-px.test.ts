/**
 * A PRUNE whose PX holds a stale entry, on two real gossipsub nodes (TCP loopback): the pruned link must go
 * from every topic of the PRUNE. Stock gossipsub 17.1.1 awaits the PX dials per topic and stops at the first
 * refused one, so the later topics kept the pruning peer in their mesh (`detachPxDials`, gossip-px.ts).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { gossipsub } from '@libp2p/gossipsub'
import type { GossipSub } from '@libp2p/gossipsub'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { gossipOptions } from '../../src/peer/gossip-config.ts'
import { topicsFor } from '../../src/peer/topics.ts'
import { detachPxDials } from '../../src/peer/gossip-px.ts'
import { waitUntil } from '../helpers/wait.ts'

const topics = topicsFor(new Uint8Array(32).fill(7))
const names = [topics.blocks, topics.txs, topics.release]

interface Pair { a: Awaited<ReturnType<typeof node>>, b: Awaited<ReturnType<typeof node>>, aId: string }

async function node (isBootstrap: (p: string) => boolean): Promise<Awaited<ReturnType<typeof createLibp2p<{ pubsub: GossipSub }>>>> {
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
    services: { identify: identify(), pubsub: gossipsub(gossipOptions({ role: 'light', topics, isBootstrap, local: true, mesh: { D: 1, Dlo: 1, Dhi: 2, heartbeatMs: 200 } })) }
  })
}

/** b meshes with a on every topic; b scores a as a bootstrap (so that it accepts a's PX). */
async function pair (): Promise<Pair> {
  const a = await node(() => false)
  const aId = a.peerId.toString()
  const b = await node((p) => p === aId)
  for (const n of [a, b]) for (const t of names) n.services.pubsub.subscribe(t)
  await b.dial(a.getMultiaddrs()[0]!)
  const mesh = (b.services.pubsub as unknown as { mesh: Map<string, Set<string>> }).mesh
  await waitUntil('b meshes with a on every topic', () => names.every((t) => mesh.get(t)?.has(aId) === true), 15_000)
  return { a, b, aId }
}

/** a's PRUNE to b for every topic, each with one PX entry: a peer that is gone (no address, so its dial fails). */
async function pruneWithStalePx (p: Pair): Promise<void> {
  const gone = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  const prune = names.map((topicID) => ({ topicID, backoff: 60, peers: [{ peerID: gone.toMultihash().bytes }] }))
  const ps = p.b.services.pubsub as unknown as { handlePrune: (id: string, prune: unknown[]) => Promise<void> }
  await ps.handlePrune(p.aId, prune).catch(() => {}) // stock gossipsub rejects here: the refused PX dial
}

function meshTopicsWith (p: Pair): string[] {
  const mesh = (p.b.services.pubsub as unknown as { mesh: Map<string, Set<string>> }).mesh
  return names.filter((t) => mesh.get(t)?.has(p.aId) === true)
}

test('with PX dials detached, a PRUNE with a stale PX entry removes the link from all of its topics', async () => {
  const p = await pair()
  try {
    const stats = detachPxDials(p.b.services.pubsub)
    assert.ok(stats !== undefined)
    await pruneWithStalePx(p)
    assert.deepEqual(meshTopicsWith(p), [], 'no topic keeps the pruning peer')
    await waitUntil('the stale PX dial to fail on its own', () => stats.failed >= 1, 10_000)
    assert.equal(stats.started, names.length, 'one PX dial batch per topic')
  } finally {
    await p.a.stop(); await p.b.stop()
  }
})

test('stock gossipsub (not detached): the same PRUNE leaves the pruning peer in the later topics', async () => {
  const p = await pair()
  try {
    await pruneWithStalePx(p)
    assert.deepEqual(meshTopicsWith(p), names.slice(1), 'only the first topic was handled (this is what detachPxDials fixes)')
  } finally {
    await p.a.stop(); await p.b.stop()
  }
})
