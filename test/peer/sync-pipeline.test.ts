/**
 * The sync pipeline on loopback (real Peers, TCP/noise/yamux): BLOCKS requests in flight ahead of the batch
 * being verified, and store writes queued behind verification. A server that shortens its answers (byte
 * budget) leaves gaps below the requests ahead; a slow store keeps writes pending while
 * later batches are verified. Either way every block must end up verified and stored, in order.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { Peer } from '../../src/peer/peer.ts'
import { topicsFor } from '../../src/peer/topics.ts'
import { createNodeLibp2p } from '../../src/node/libp2p-node.ts'
import { createMemoryStore } from '../../src/storage/memory-store.ts'
import type { ChainStore } from '../../src/storage/types.ts'
import { createNodeVerifier } from '../../src/crypto/node.ts'
import { MAX_SYNC_BATCH, equals } from '../../src/protocol/index.ts'
import type { SyncBudgetLimits } from '../../src/peer/sync-budget.ts'
import { buildChain, buildGenesis, createTestNetwork } from '../helpers/chain-builder.ts'

const BLOCKS = 3 * MAX_SYNC_BATCH + 100
const net = createTestNetwork({ label: 'sync-pipeline' })
const genesis = await buildGenesis(net)
const built = await buildChain(net, genesis.state, BLOCKS)

async function node (role: 'validator' | 'light'): Promise<Awaited<ReturnType<typeof createNodeLibp2p>>> {
  return await createNodeLibp2p({
    role, privateKey: await generateKeyPair('Ed25519'), topics: topicsFor(net.networkId), listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrapIds: new Set(), blocklist: new Set(), local: true
  })
}

async function server (budget: Partial<SyncBudgetLimits> = {}): Promise<{ peer: Peer, addr: string }> {
  const libp2p = await node('validator')
  const peer = new Peer({ network: net.config, libp2p, store: createMemoryStore(), verifier: createNodeVerifier(), role: 'light', bootstraps: [], syncBudget: budget, minPeers: 0 })
  await peer.chain.acceptGenesis(genesis.block)
  for (let i = 0; i < BLOCKS; i += MAX_SYNC_BATCH) await peer.chain.acceptBatch(built.blocks.slice(i, i + MAX_SYNC_BATCH))
  await peer.start()
  return { peer, addr: libp2p.getMultiaddrs()[0]!.toString() }
}

/** A client Peer that is not started (no dialer, no polls): the test dials and calls syncFrom itself. */
async function client (store: ChainStore): Promise<Peer> {
  const libp2p = await node('light')
  const peer = new Peer({ network: net.config, libp2p, store, verifier: createNodeVerifier(), role: 'light', bootstraps: [], minPeers: 0 })
  await libp2p.start()
  await peer.sync.start(libp2p) // the sync client alone: no dialer, no polls
  return peer
}

async function syncAll (c: Peer, s: { addr: string }): Promise<number> {
  const conn = await c.libp2p.dial(multiaddr(s.addr))
  // One attempt reaches the tip: short answers are gaps to fill, not the end of the sync.
  return await c.sync.syncFrom(peerIdFromString(conn.remotePeer.toString()))
}

async function assertStoredInOrder (store: ChainStore): Promise<void> {
  assert.equal(await store.getTipHeight(), BLOCKS, 'every block stored')
  const stored = await store.getBlocks(1, BLOCKS)
  assert.equal(stored.length, BLOCKS)
  stored.forEach((b, i) => {
    assert.equal(b.height, i + 1)
    assert.ok(equals(b.bytes, built.encoded[i]!), `block ${i + 1} stored as served`)
  })
}

test('a server that shortens its answers: the missing heights are asked for, and one sync reaches the tip', async () => {
  // 200 KB at first, then 1 MiB/s: answers of a few hundred blocks, so the requests ahead start above the tip.
  const s = await server({ bytesPerSecond: 1024 * 1024, byteBurst: 200_000 })
  const store = createMemoryStore()
  const c = await client(store)
  try {
    const gained = await syncAll(c, s)
    assert.equal(c.chain.height, BLOCKS)
    assert.equal(gained, BLOCKS)
    assert.ok(s.peer.sync.budget.shortened > 0, `the server shortened answers (${s.peer.sync.budget.shortened})`)
    assert.equal(c.chain.storageError, undefined)
    assert.deepEqual(c.stats.rejected, {}, 'nothing counted against the server')
    await assertStoredInOrder(store)
  } finally {
    await c.sync.stop(); await c.libp2p.stop(); await s.peer.stop()
  }
})

test('a slow store: writes stay in order behind verification, and syncFrom returns once they are written', async () => {
  const s = await server()
  const inner = createMemoryStore()
  let pending = 0
  let maxPending = 0
  const slow: ChainStore = {
    ...inner,
    appendBlocks: async (...args) => {
      pending++
      maxPending = Math.max(maxPending, pending)
      try {
        await new Promise((resolve) => setTimeout(resolve, 150)) // a store slower than verification
        await inner.appendBlocks(...args)
      } finally {
        pending--
      }
    }
  }
  const c = await client(slow)
  try {
    await syncAll(c, s)
    assert.equal(c.chain.height, BLOCKS)
    assert.equal(pending, 0, 'no write pending once syncFrom returned')
    assert.equal(maxPending, 1, 'one write at a time (queued, not concurrent)')
    assert.equal(c.chain.storageError, undefined, 'no write out of order (the store refuses a gap)')
    await assertStoredInOrder(inner)
  } finally {
    await c.sync.stop(); await c.libp2p.stop(); await s.peer.stop()
  }
})
