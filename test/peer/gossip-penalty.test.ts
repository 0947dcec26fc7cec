/**
 * Ignore-class gossip over a per-peer budget lowers the sender's gossipsub score until it is graylisted:
 * the budget on a manual clock (unit), and a real Peer on loopback flooded by a raw gossipsub node with
 * round messages for unknown parents (each one Ignore, none invalid), next to an honest peer.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { gossipsub } from '@libp2p/gossipsub'
import type { GossipSub } from '@libp2p/gossipsub'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { IgnorePenalty } from '../../src/peer/gossip-penalty.ts'
import { Peer } from '../../src/peer/peer.ts'
import { topicsFor } from '../../src/peer/topics.ts'
import type { Topics } from '../../src/peer/topics.ts'
import { gossipOptions } from '../../src/peer/gossip-config.ts'
import { createNodeLibp2p } from '../../src/node/libp2p-node.ts'
import { createMemoryStore } from '../../src/storage/memory-store.ts'
import { createNodeVerifier } from '../../src/crypto/node.ts'
import { computeBlockHash, computeNetworkId, encodeRoundMessage } from '../../src/protocol/index.ts'
import { buildChain, buildGenesis, createTestNetwork } from '../helpers/chain-builder.ts'

test('the budget: a burst and a rate free of penalty, then a point per message, decaying with its half-life', () => {
  let t = 0
  const p = new IgnorePenalty(() => t, { ratePerSecond: 10, burst: 20, halfLifeMs: 1_000 })
  for (let i = 0; i < 20; i++) p.record('a')
  assert.equal(p.penalty('a'), 0, 'the burst is free')
  for (let i = 0; i < 30; i++) p.record('a')
  assert.equal(p.penalty('a'), 30)
  assert.equal(p.score('a'), -30)
  assert.equal(p.penalty('b'), 0, 'per peer')
  t += 1_000
  assert.ok(Math.abs(p.penalty('a') - 15) < 1e-9, 'halved after one half-life')
  for (let i = 0; i < 10; i++) p.record('a') // the second refilled 10 tokens
  assert.ok(Math.abs(p.penalty('a') - 15) < 1e-9)
  assert.equal(p.over, 30)
})

async function gossipNode (topics: Topics): Promise<Libp2p<{ pubsub: GossipSub }>> {
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
    services: { identify: identify(), pubsub: gossipsub({ ...gossipOptions({ role: 'light', topics, isBootstrap: () => false, local: true }), floodPublish: true }) }
  })
}

test('a flood of stale round messages (Ignore) graylists its sender; an honest peer keeps its score; max-size junk blocks its sender at once', async () => {
  const net = createTestNetwork({ label: 'ignore-flood' })
  const g = await buildGenesis(net)
  const chain = await buildChain(net, g.state, 3)
  const networkId = computeNetworkId(net.config)
  const topics = topicsFor(networkId)
  const blocklist = new Set<string>()
  const penalty = new IgnorePenalty(Date.now, { ratePerSecond: 20, burst: 50 })
  const libp2p = await createNodeLibp2p({
    role: 'validator', privateKey: await generateKeyPair('Ed25519'), topics, listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrapIds: new Set(), blocklist, local: true, penalty: (id) => penalty.penalty(id)
  })
  const peer = new Peer({ network: net.config, libp2p, store: createMemoryStore(), verifier: createNodeVerifier(), role: 'light', bootstraps: [], blocklist, ignorePenalty: penalty, followRounds: true })
  await peer.chain.acceptGenesis(g.block)
  await peer.chain.acceptBatch(chain.blocks)
  await peer.start()
  const attacker = await gossipNode(topics)
  const honest = await gossipNode(topics)
  try {
    for (const n of [attacker, honest]) {
      n.services.pubsub.subscribe(topics.rounds)
      await n.dial(multiaddr(libp2p.getMultiaddrs()[0]!.toString()))
    }
    const id = attacker.peerId.toString()
    // Wait (bounded) until the server knows the attacker subscribes, so the flood reaches its validator.
    for (let i = 0; i < 100 && !peer.pubsub.getSubscribers(topics.rounds).map(String).includes(id); i++) await new Promise((resolve) => setTimeout(resolve, 50))
    for (let i = 0; i < 100 && attacker.services.pubsub.getSubscribers(topics.rounds).length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50))
    const ignoredBefore = peer.stats.ignored.STALE ?? 0
    const old = computeBlockHash(chain.blocks[0]!.header)
    // Control: messages for an unknown parent are Ignore too, but cost no penalty.
    for (let i = 0; i < 300; i++) {
      await attacker.services.pubsub.publish(topics.rounds, encodeRoundMessage({ kind: 'commit', parentHash: randomBytes(32), round: 0, position: i % 11, commitment: randomBytes(32), signature: randomBytes(64) } as never)).catch(() => {})
    }
    for (let i = 0; i < 600; i++) {
      // A round for an older parent (block 1): STALE, each message distinct. Messages for an unknown parent
      // would not count: a peer that is behind gets many of those from honest peers.
      const msg = encodeRoundMessage({ kind: 'commit', parentHash: old, round: 0, position: i % 11, commitment: randomBytes(32), signature: randomBytes(64) } as never)
      await attacker.services.pubsub.publish(topics.rounds, msg).catch(() => {})
    }
    // The penalty is read by gossipsub's score; wait (bounded) for the graylist threshold (-80).
    let score = 0
    for (let i = 0; i < 100; i++) {
      score = peer.pubsub.getScore(id)
      if (score < -80) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const ignored = (peer.stats.ignored.STALE ?? 0) - ignoredBefore
    assert.ok(ignored >= 130, `the flood reached the validator (${ignored} ignored)`)
    assert.ok(penalty.penalty(id) > 80, `penalty ${penalty.penalty(id)}`)
    assert.ok(score < -80, `graylisted: score ${score}`)
    assert.ok(peer.pubsub.getScore(honest.peerId.toString()) >= 0, 'the honest peer keeps its score')
    assert.equal(peer.rejectsByPeer.get(id), undefined, 'Ignore-class, not rejects')

    // Max-size junk costs its sender by its size: one 290 KiB invalid block counts as 10 rejects, a block.
    const junk = await gossipNode(topics)
    try {
      junk.services.pubsub.subscribe(topics.blocks)
      await junk.dial(multiaddr(libp2p.getMultiaddrs()[0]!.toString()))
      for (let i = 0; i < 100 && junk.services.pubsub.getSubscribers(topics.blocks).length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50))
      await junk.services.pubsub.publish(topics.blocks, randomBytes(290 * 1024))
      const jid = junk.peerId.toString()
      for (let i = 0; i < 100 && !blocklist.has(jid); i++) await new Promise((resolve) => setTimeout(resolve, 50))
      assert.equal(peer.rejectsByPeer.get(jid), 10, 'ceil(290 KiB / 32 KiB) rejects for one message')
      assert.equal(blocklist.has(jid), true, 'blocked after one maximum-size invalid message')
    } finally {
      await junk.stop()
    }
  } finally {
    await attacker.stop(); await honest.stop(); await peer.stop()
  }
})
