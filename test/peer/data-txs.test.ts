/**
 * Data transactions from a peer (data-txs.ts) on loopback (real Peers, TCP/noise/yamux, gossipsub): a light peer
 * signs and publishes; the full peer it is connected to receives the transaction over gossip and validates it
 * into its mempool; a block built from that mempool reaches the light peer, whose waitForInclusion resolves with
 * a Merkle proof of the block it verified. Then: the coded failures (timeout, expiry, peer stopped, no peers, a
 * payload over the bound), and verify() on handed-in inclusions, forged ones refused with their codes.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { Peer } from '../../src/peer/peer.ts'
import { topicsFor } from '../../src/peer/topics.ts'
import { createNodeLibp2p } from '../../src/node/libp2p-node.ts'
import { createMemoryStore } from '../../src/storage/memory-store.ts'
import { createNodeVerifier } from '../../src/crypto/node.ts'
import { ManualClock } from '../../src/peer/clock.ts'
import {
  MAX_PAYLOAD_SIZE, ProtocolError, computeTxHash, equals, merkleProof, toHex, utf8, verifyInclusion
} from '../../src/protocol/index.ts'
import type { DataTx } from '../../src/protocol/index.ts'
import { buildBlock, buildGenesis, createTestNetwork, dataTx } from '../helpers/chain-builder.ts'
import { testSigners } from '../helpers/keys.ts'
import { waitUntil } from '../helpers/wait.ts'

const net = createTestNetwork({ label: 'data-txs' })
const genesis = await buildGenesis(net)
const [key, other] = testSigners('data-txs/tab', 2)
const topics = topicsFor(net.networkId)

async function peer (role: 'validator' | 'light', clock?: ManualClock): Promise<Peer> {
  const libp2p = await createNodeLibp2p({
    role, privateKey: await generateKeyPair('Ed25519'), topics, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrapIds: new Set(), blocklist: new Set(), local: true
  })
  const p = new Peer({ network: net.config, libp2p, store: createMemoryStore(), verifier: createNodeVerifier(), role: 'light', bootstraps: [], minPeers: 0, ...(clock !== undefined ? { clock } : {}) })
  await p.chain.acceptGenesis(genesis.block)
  await p.start()
  return p
}
const code = async (p: Promise<unknown>): Promise<string> => await p.then(() => 'resolved', (err: unknown) => err instanceof ProtocolError ? err.code : String(err))

test('submit on a light peer, gossip to a full peer, inclusion in a block, a verified proof', async (t) => {
  const full = await peer('validator')
  const light = await peer('light')
  t.after(async () => { await light.stop(); await full.stop() })
  await light.libp2p.dial(multiaddr(full.libp2p.getMultiaddrs()[0]!.toString()))
  await waitUntil('the full peer to be subscribed to txs', () => light.pubsub.getSubscribers(topics.txs).some((id) => id.equals(full.libp2p.peerId)), 10_000)

  const tx = await light.dataTxs.submit(key!, 'board', utf8('hello, chain'))
  assert.deepEqual({ seq: tx.seq, tag: tx.tag, expires: tx.expires }, { seq: 1, tag: 'board', expires: 1 + 64 })
  const second = await light.dataTxs.submit(key!, 'board', utf8('again'))
  assert.equal(second.seq, 2, 'back-to-back submissions take the next sequence number')
  await waitUntil('both transactions in the full peer\'s mempool', () => full.mempool.size === 2, 10_000)

  const hash = computeTxHash(tx)
  const waiting = light.dataTxs.waitForInclusion(hash, { timeoutMs: 30_000, tx })
  const block = await buildBlock(net, full.chain.state!, { txs: full.mempool.select(full.chain.state!) })
  await full.chain.acceptBlock(block, 'gossip')
  await light.chain.acceptBlock(block, 'gossip')
  const inc = await waiting
  assert.equal(inc.height, 1)
  assert.ok(equals(inc.blockHash, light.chain.state!.tip.hash), 'the block the light peer verified')
  assert.ok(verifyInclusion(inc.header.txRoot, hash, inc.proof), 'the proof gives the verified header\'s txRoot')
  assert.deepEqual(inc.proof, merkleProof(block.txs.map(computeTxHash), 0))
  assert.equal((inc.tx as DataTx).tag, 'board')
  // Asked again once included: answered from the held block at once.
  const again = await light.dataTxs.waitForInclusion(hash, { timeoutMs: 5_000 })
  assert.equal(again.height, 1)
  // Both sides pruned what the chain used; the next submission moves past the recorded sequence number.
  assert.equal(full.mempool.select(full.chain.state!).length, 0)
  assert.equal((await light.dataTxs.submit(key!, 'board', utf8('third'))).seq, 3)

  // verify(): the inclusion as handed over is accepted; each forgery is refused with its code.
  const ok = await light.dataTxs.verify(inc.height, inc.blockHash, inc.tx, hash, inc.proof)
  assert.equal(ok.height, 1)
  assert.equal(await code(light.dataTxs.verify(1, inc.blockHash, { ...tx, payload: utf8('forged') }, hash, inc.proof)), 'PROOF_INVALID')
  assert.equal(await code(light.dataTxs.verify(1, inc.blockHash, second, computeTxHash(second), inc.proof)), 'PROOF_INVALID', 'the other transaction with the first one\'s proof')
  assert.equal(await code(light.dataTxs.verify(1, new Uint8Array(32), inc.tx, hash, inc.proof)), 'HEADER_MISMATCH')
  assert.equal(await code(light.dataTxs.verify(9, inc.blockHash, inc.tx, hash, inc.proof)), 'BLOCK_NOT_HELD')
})

test('failures are coded: NO_PEERS, TX_INVALID (bounds), INCLUSION_TIMEOUT, TX_EXPIRED, PEER_STOPPED', async (t) => {
  const clock = new ManualClock(Date.now())
  const alone = await peer('light', clock)
  let stopped = false
  t.after(async () => { if (!stopped) await alone.stop() })
  assert.equal(await code(alone.dataTxs.submit(key!, 'board', utf8('nobody hears'))), 'NO_PEERS')
  assert.equal(alone.mempool.size, 0, 'nothing kept: a later submission starts afresh')
  assert.equal(await code(alone.dataTxs.submit(key!, 'bad tag', utf8('x'))), 'TX_INVALID')
  assert.equal(await code(alone.dataTxs.submit(key!, 'board', new Uint8Array(MAX_PAYLOAD_SIZE + 1))), 'TX_INVALID')
  assert.equal(await code(alone.dataTxs.submit(key!, 'board', utf8('x'), { expiresIn: 257 })), 'TX_INVALID')

  const unknown = computeTxHash({ kind: 'register', publicKey: other!.publicKey, signature: new Uint8Array(64) })
  const timedOut = code(alone.dataTxs.waitForInclusion(unknown, { timeoutMs: 5_000 }))
  clock.advance(5_000)
  assert.equal(await timedOut, 'INCLUSION_TIMEOUT')

  // A transaction expiring at height 2: blocks 1 and 2 pass without it, then the wait ends.
  const tx: DataTx = { kind: 'data', sender: other!.publicKey, seq: 1, expires: 2, tag: 't', payload: new Uint8Array(0), signature: new Uint8Array(64) }
  const expired = code(alone.dataTxs.waitForInclusion(computeTxHash(tx), { timeoutMs: 600_000, tx }))
  // Another one expiring at height 2 is included in block 2, its last chance: that is an inclusion, not an expiry.
  const lastChance = await dataTx(net, other!, { seq: 1, expires: 2 })
  const included = alone.dataTxs.waitForInclusion(computeTxHash(lastChance), { timeoutMs: 600_000, tx: lastChance })
  const b1 = await buildBlock(net, alone.chain.state!)
  await alone.chain.acceptBlock(b1, 'gossip')
  const b2 = await buildBlock(net, alone.chain.state!, { txs: [lastChance] })
  await alone.chain.acceptBlock(b2, 'gossip')
  assert.equal(await expired, 'TX_EXPIRED')
  assert.equal((await included).height, 2)

  const pending = code(alone.dataTxs.waitForInclusion(unknown, { timeoutMs: 600_000 }))
  await alone.stop()
  stopped = true
  assert.equal(await pending, 'PEER_STOPPED')
  assert.ok(toHex(unknown).length === 64)
})
