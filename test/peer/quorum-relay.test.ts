/**
 * Direct round messages (src/peer/quorum-relay.ts, PROTOCOL.md §3.10) between real Peers on loopback: two
 * validators bind each other by hello and deliver round messages straight to each other's round service;
 * a key with no bound peer falls back to gossip; a hello with a wrong or replayed signature, and junk
 * frames, are coded rejects that count toward the sender's block; a peer without a key sends no hello.
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
import { Peer } from '../../src/peer/peer.ts'
import { quorumProtocolFor, topicsFor } from '../../src/peer/topics.ts'
import { HELLO_BYTES } from '../../src/peer/quorum-relay.ts'
import { createNodeLibp2p } from '../../src/node/libp2p-node.ts'
import { createMemoryStore } from '../../src/storage/memory-store.ts'
import { ManualClock } from '../../src/peer/clock.ts'
import { createNodeVerifier } from '../../src/crypto/node.ts'
import { encodeRoundMessage, quorumHelloSigningMessage } from '../../src/protocol/index.ts'
import type { Signer } from '../../src/crypto/types.ts'
import { buildGenesis, createTestNetwork, signRound } from '../helpers/chain-builder.ts'
import type { TestNetwork } from '../helpers/chain-builder.ts'
import { waitUntil as poll } from '../helpers/wait.ts'

const waitUntil = async (what: string, cond: () => boolean): Promise<void> => { await poll(what, cond, 10_000, 20) }

/** One genesis per network: peers built at different milliseconds would otherwise start on competing geneses. */
const geneses = new Map<TestNetwork, Promise<Awaited<ReturnType<typeof buildGenesis>>>>()

async function startValidator (net: TestNetwork, signer: Signer | undefined): Promise<{ peer: Peer, addr: string }> {
  if (!geneses.has(net)) geneses.set(net, buildGenesis(net, Date.now()))
  const g = await geneses.get(net)!
  const blocklist = new Set<string>()
  const libp2p = await createNodeLibp2p({
    role: 'validator', privateKey: await generateKeyPair('Ed25519'), topics: topicsFor(net.networkId), listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrapIds: new Set(), blocklist, local: true
  })
  // A clock that never moves: no round timer fires, so the only round messages are the test's own (in a
  // loaded fresh-clone run, a real commit for height 1 reached b too and was counted as a second frame).
  const peer = new Peer({ network: net.config, libp2p, store: createMemoryStore(), verifier: createNodeVerifier(), role: 'validator', bootstraps: [], blocklist, ...(signer !== undefined ? { signer } : {}), keepRegistered: false, clock: new ManualClock(Date.now()) })
  await peer.chain.acceptGenesis(g.block)
  await peer.start()
  return { peer, addr: libp2p.getMultiaddrs()[0]!.toString() }
}

async function rawNode (): Promise<Libp2p> {
  return await createLibp2p({ addresses: { listen: [] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], connectionGater: { denyDialMultiaddr: () => false } })
}

/** A round message the receiver can only queue (its parent is unknown there): proof that it was validated. */
async function strayCommit (net: TestNetwork, signer: Signer): Promise<Uint8Array> {
  return encodeRoundMessage(await signRound(net, signer, { kind: 'commit', parentHash: new Uint8Array(32).fill(7), round: 0, position: 0, commitment: new Uint8Array(32).fill(1) }))
}

test('two validators bind each other and deliver round messages directly; an unbound key falls back to gossip', async () => {
  const net = createTestNetwork({ label: 'quorum-relay' })
  const [a, b] = [await startValidator(net, net.validators[0]), await startValidator(net, net.validators[1])]
  try {
    await a.peer.libp2p.dial(multiaddr(b.addr))
    await waitUntil('both bound', () => a.peer.relay.boundPeers() === 1 && b.peer.relay.boundPeers() === 1)
    const before = b.peer.stats.ignored.UNKNOWN_PARENT ?? 0
    const delivered = await a.peer.relay.send([net.validators[1]!.publicKey], await strayCommit(net, net.validators[0]!))
    assert.equal(delivered, true, 'the bound recipient got it directly')
    await waitUntil('the frame validated on b', () => (b.peer.stats.ignored.UNKNOWN_PARENT ?? 0) === before + 1)
    assert.equal(b.peer.relay.stats.received, 1)
    assert.equal(await a.peer.relay.send([net.validators[1]!.publicKey, net.validators[5]!.publicKey], await strayCommit(net, net.validators[0]!)), false,
      'a recipient with no bound peer: the caller must gossip too')
    assert.equal(await a.peer.relay.send([net.validators[0]!.publicKey], new Uint8Array([1])), true, 'our own key is skipped')
    assert.equal(a.peer.relay.stats.fallback, 1)
    assert.equal(b.peer.rejectsByPeer.size, 0, `nothing honest was counted against anyone: ${JSON.stringify(b.peer.stats.rejected)}`)
  } finally {
    await a.peer.stop(); await b.peer.stop()
  }
})

test('a wrong or replayed hello, and junk frames, are coded rejects toward the sender; a keyless peer sends no hello', async () => {
  const net = createTestNetwork({ label: 'quorum-relay-bad' })
  const v = await startValidator(net, net.validators[0])
  const keyless = await startValidator(net, undefined)
  const attacker = await rawNode()
  const protocol = quorumProtocolFor(net.networkId)
  const openWith = async (hello: Uint8Array): Promise<ReturnType<typeof lpStream>> => {
    const s = await attacker.dialProtocol(multiaddr(v.addr), protocol, { signal: AbortSignal.timeout(5_000) })
    const lp = lpStream(s)
    await lp.write(hello)
    return lp
  }
  try {
    const id = attacker.peerId.toString()
    // A hello signed over another peer id (a replay of someone else's binding).
    const other = await generateKeyPair('Ed25519')
    const { peerIdFromPrivateKey } = await import('@libp2p/peer-id')
    const replayed = new Uint8Array(HELLO_BYTES)
    replayed.set(net.validators[3]!.publicKey, 0)
    replayed.set(await net.validators[3]!.sign(quorumHelloSigningMessage(net.networkId, peerIdFromPrivateKey(other).toMultihash().bytes)), 32)
    await openWith(replayed)
    await waitUntil('the replayed hello rejected', () => v.peer.relay.stats.badHello === 1)
    assert.equal(v.peer.stats.rejected.BAD_SIGNATURE, 1)
    assert.equal(v.peer.rejectsByPeer.get(id), 1)
    // A hello cut short.
    await openWith(new Uint8Array(10))
    await waitUntil('the short hello rejected', () => v.peer.relay.stats.badHello === 2)
    // A valid hello (the attacker holds a validator key), then junk frames: each one a coded reject.
    const good = new Uint8Array(HELLO_BYTES)
    good.set(net.validators[4]!.publicKey, 0)
    good.set(await net.validators[4]!.sign(quorumHelloSigningMessage(net.networkId, attacker.peerId.toMultihash().bytes)), 32)
    const lp = await openWith(good)
    for (let i = 0; i < 3; i++) await lp.write(new Uint8Array([1, 2, 3]))
    await waitUntil('junk frames rejected', () => (v.peer.stats.rejected.TRUNCATED ?? 0) === 3)
    assert.equal(v.peer.rejectsByPeer.get(id), 5, '2 bad hellos and 3 junk frames')
    // Past 10 rejects the sender is blocked and disconnected, as on gossip.
    for (let i = 0; i < 5; i++) await lp.write(new Uint8Array([1, 2, 3])).catch(() => {})
    await waitUntil('the attacker blocked', () => v.peer.blocklist.has(id))
    assert.equal(v.peer.relay.stats.received, 8)
    // A peer without a validator key speaks no hello: it never becomes a direct recipient.
    let identified: string[] | undefined
    v.peer.libp2p.addEventListener('peer:identify', (e) => { if (e.detail.peerId.equals(keyless.peer.libp2p.peerId)) identified = e.detail.protocols })
    await keyless.peer.libp2p.dial(multiaddr(v.addr))
    await waitUntil('the validator identified the keyless peer', () => identified !== undefined)
    assert.equal(identified!.includes(protocol), false, 'a keyless peer does not speak the protocol, so no stream is opened to it')
    assert.equal(keyless.peer.relay.stats.direct + keyless.peer.relay.boundPeers(), 0, 'and it binds no one')
  } finally {
    await attacker.stop(); await v.peer.stop(); await keyless.peer.stop()
  }
})

test('an observer (a light peer without a key) does not subscribe to round messages until it has a key', async () => {
  const net = createTestNetwork({ label: 'quorum-relay-observer' })
  const g = await buildGenesis(net, Date.now())
  const libp2p = await createNodeLibp2p({
    role: 'light', privateKey: await generateKeyPair('Ed25519'), topics: topicsFor(net.networkId), listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrapIds: new Set(), blocklist: new Set(), local: true
  })
  const peer = new Peer({ network: net.config, libp2p, store: createMemoryStore(), verifier: createNodeVerifier(), role: 'light', bootstraps: [] })
  await peer.chain.acceptGenesis(g.block)
  await peer.start()
  try {
    const topics = topicsFor(net.networkId)
    assert.deepEqual([...peer.pubsub.getTopics()].sort(), [topics.blocks, topics.release, topics.txs].sort(), 'blocks, txs and release only')
    peer.setSigner(net.validators[2]!)
    assert.ok(peer.pubsub.getTopics().includes(topics.rounds), 'enrolled: it follows the rounds')
  } finally {
    await peer.stop()
  }
})
