/**
 * The sync server's per-peer budgets: the token buckets on a manual clock (unit), and a real Peer on
 * loopback attacked by raw libp2p nodes: malformed requests and a request storm each count as rejects
 * toward the attacker's block, while an honest peer is still served.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { SyncBudget, DEFAULT_SYNC_BUDGET } from '../../src/peer/sync-budget.ts'
import { Peer } from '../../src/peer/peer.ts'
import { syncProtocolFor, topicsFor } from '../../src/peer/topics.ts'
import { createNodeLibp2p } from '../../src/node/libp2p-node.ts'
import { createMemoryStore } from '../../src/storage/memory-store.ts'
import { createNodeVerifier } from '../../src/crypto/node.ts'
import { computeNetworkId } from '../../src/protocol/index.ts'
import { buildChain, buildGenesis, createTestNetwork } from '../helpers/chain-builder.ts'

test('requests: a burst, then the sustained rate; streams at once; the byte budget shortens responses', () => {
  let t = 0
  const b = new SyncBudget(() => t, { requestsPerSecond: 10, requestBurst: 20, concurrentStreams: 3, bytesPerSecond: 1000, byteBurst: 2000 })
  let admitted = 0
  for (let i = 0; i < 30; i++) { if (b.admit('a') === undefined) { admitted++; b.release('a') } }
  assert.equal(admitted, 20, 'the burst')
  assert.equal(b.admit('a'), 'rate')
  t += 500
  admitted = 0
  for (let i = 0; i < 30; i++) { if (b.admit('a') === undefined) { admitted++; b.release('a') } }
  assert.equal(admitted, 5, 'half a second at 10/s')
  assert.equal(b.admit('other'), undefined, 'budgets are per peer')
  b.release('other')
  t += 10_000
  assert.equal(b.admit('s'), undefined); assert.equal(b.admit('s'), undefined); assert.equal(b.admit('s'), undefined)
  assert.equal(b.admit('s'), 'streams', 'the fourth stream at once')
  b.release('s')
  assert.equal(b.admit('s'), undefined, 'a closed stream frees its place')
  assert.equal(b.spend('bytes', 1500), true)
  assert.equal(b.spend('bytes', 600), false, 'past the 2,000-byte burst')
  t += 1000
  assert.equal(b.spend('bytes', 500), true, 'a second refills 1,000 bytes')
  assert.deepEqual(b.refused, { rate: 10 + 1 + 25, streams: 1 })
  assert.equal(b.shortened, 1)
})

test('the budget forgets the least recently seen idle peer beyond maxPeers', () => {
  const b = new SyncBudget(() => 0, { maxPeers: 3 })
  for (const p of ['a', 'b', 'c']) { b.admit(p); b.release(p) }
  b.admit('a'); b.release('a') // a is now the most recent
  b.admit('d'); b.release('d')
  assert.equal(b.trackedPeers, 3)
  assert.equal(DEFAULT_SYNC_BUDGET.requestsPerSecond, 20)
})

interface Server { peer: Peer, addr: string, protocol: string, stop: () => Promise<void> }

async function startServer (budget = {}): Promise<Server> {
  const net = createTestNetwork({ label: 'sync-budget' })
  const g = await buildGenesis(net)
  const chain = await buildChain(net, g.state, 6)
  const networkId = computeNetworkId(net.config)
  const blocklist = new Set<string>() // shared by the gater and the Peer, as src/node/node.ts does
  const libp2p = await createNodeLibp2p({
    role: 'validator', privateKey: await generateKeyPair('Ed25519'), topics: topicsFor(networkId), listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrapIds: new Set(), blocklist, local: true
  })
  const peer = new Peer({ network: net.config, libp2p, store: createMemoryStore(), verifier: createNodeVerifier(), role: 'light', bootstraps: [], blocklist, syncBudget: budget })
  await peer.chain.acceptGenesis(g.block)
  await peer.chain.acceptBatch(chain.blocks)
  await peer.start()
  const addr = `${libp2p.getMultiaddrs()[0]!.toString()}`
  return { peer, addr, protocol: syncProtocolFor(networkId), stop: async () => { await peer.stop() } }
}

async function rawNode (): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: [] },
    transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false }
  })
}

/** One sync request; resolves with the frames served, or 'reset' if the server reset the stream. */
async function ask (node: Libp2p, s: Server, body: Uint8Array): Promise<Uint8Array[] | 'reset' | 'refused'> {
  let stream
  try {
    stream = await node.dialProtocol(multiaddr(s.addr), s.protocol, { signal: AbortSignal.timeout(5_000) })
  } catch {
    return 'refused'
  }
  try {
    const lp = lpStream(stream)
    await lp.write(body)
    await stream.close()
    const out: Uint8Array[] = []
    for (;;) {
      // The stream ends (served) or is reset (refused): with no frame at all, it was refused.
      const frame = await lp.read({ signal: AbortSignal.timeout(5_000) }).catch(() => undefined)
      if (frame === undefined) return out.length === 0 ? 'reset' : out
      out.push(frame.subarray())
    }
  } catch {
    return 'reset'
  }
}

const STATUS = new Uint8Array([1])
const blocksReq = (from: number, count: number): Uint8Array => { const b = new Uint8Array(11); const v = new DataView(b.buffer); b[0] = 2; v.setBigUint64(1, BigInt(from)); v.setUint16(9, count); return b }

test('malformed sync requests count toward the block: after 10 the sender is blocked, an honest peer is still served', async () => {
  const s = await startServer()
  const attacker = await rawNode()
  const honest = await rawNode()
  try {
    for (let i = 0; i < 10; i++) await ask(attacker, s, new Uint8Array([99, i]))
    const id = attacker.peerId.toString()
    assert.equal(s.peer.rejectsByPeer.get(id), 10)
    assert.equal(s.peer.sync.serverRejects.UNKNOWN_KIND, 10)
    assert.equal(s.peer.blocklist.has(id), true, 'the attacker is blocked')
    assert.equal(await ask(attacker, s, STATUS), 'refused', 'and can no longer connect')
    const frames = await ask(honest, s, blocksReq(1, 6))
    assert.ok(Array.isArray(frames), `honest BLOCKS served (${String(frames)})`)
    assert.equal(frames.length, 6)
    assert.equal(s.peer.rejectsByPeer.get(honest.peerId.toString()), undefined)
  } finally {
    await attacker.stop(); await honest.stop(); await s.stop()
  }
})

test('an over-long request counts (TOO_LARGE); a client that resets or ends its stream before a request does not', async () => {
  const s = await startServer()
  const client = await rawNode()
  try {
    assert.equal(await ask(client, s, new Uint8Array(49)), 'reset')
    assert.equal(s.peer.sync.serverRejects.TOO_LARGE, 1)
    const id = client.peerId.toString()
    assert.equal(s.peer.rejectsByPeer.get(id), 1)
    // Gave up: a stream reset without a byte, then a stream closed without a byte (honest peers do both).
    const a = await client.dialProtocol(multiaddr(s.addr), s.protocol)
    a.abort(new Error('client gave up'))
    const b = await client.dialProtocol(multiaddr(s.addr), s.protocol)
    await b.close()
    const st = await ask(client, s, STATUS) // served after both: the server handled them
    assert.ok(Array.isArray(st) && st.length === 1)
    assert.equal(s.peer.rejectsByPeer.get(id), 1, 'neither counted')
  } finally {
    await client.stop(); await s.stop()
  }
})

test('a request storm over the per-peer rate is refused and counted (RATE_LIMITED) until the peer is blocked', async () => {
  const s = await startServer({ requestsPerSecond: 1, requestBurst: 5 })
  const attacker = await rawNode()
  const honest = await rawNode()
  try {
    const outcomes = []
    for (let i = 0; i < 20; i++) outcomes.push(await ask(attacker, s, STATUS))
    const served = outcomes.filter((o) => Array.isArray(o) && o.length === 1).length
    assert.ok(served >= 5 && served <= 6, `the burst of 5 (+1 refilled at most) is served: ${served}`)
    const id = attacker.peerId.toString()
    assert.ok((s.peer.stats.rejected.RATE_LIMITED ?? 0) >= 10, `refusals counted as rejects: ${String(s.peer.stats.rejected.RATE_LIMITED)}`)
    assert.equal(s.peer.blocklist.has(id), true, 'blocked at 10')
    assert.equal(outcomes.at(-1), 'refused', `a blocked peer cannot connect any more: ${outcomes.map((o) => Array.isArray(o) ? o.length : o).join(',')}`)
    assert.ok(s.peer.sync.budget.refused.rate >= 10)
    const st = await ask(honest, s, STATUS)
    assert.ok(Array.isArray(st) && st.length === 1, 'an honest STATUS is still answered')
  } finally {
    await attacker.stop(); await honest.stop(); await s.stop()
  }
})

test('the byte budget shortens a BLOCKS response to what it allows, at least one block', async () => {
  const s = await startServer({ bytesPerSecond: 65_536, byteBurst: 1 })
  const client = await rawNode()
  try {
    const first = await ask(client, s, blocksReq(1, 6))
    assert.ok(Array.isArray(first))
    assert.equal(first.length, 1, 'one block, then the budget is spent')
    assert.equal(s.peer.sync.budget.shortened, 1)
    assert.equal(s.peer.rejectsByPeer.get(client.peerId.toString()), undefined, 'shortening is no reject')
  } finally {
    await client.stop(); await s.stop()
  }
})
