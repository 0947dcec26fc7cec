/**
 * Starting from a trusted checkpoint (src/peer/checkpoint-start.ts, PROTOCOL.md §3.11) between real Peers on
 * loopback: the light peer fetches the checkpoint's state by sync STATE, verifies it against the trusted hash,
 * stores only what follows it (pruned to keepBlocks), and verifies forward; a restart keeps it. A hostile server
 * that serves a forged state (tampered registry, another block's state) is refused with its code, counted against
 * it, and nothing is stored; a checkpoint past the trusting period and one no peer holds are coded errors too.
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
import { Peer } from '../../src/peer/peer.ts'
import { syncProtocolFor, topicsFor } from '../../src/peer/topics.ts'
import { createNodeLibp2p } from '../../src/node/libp2p-node.ts'
import { createMemoryStore } from '../../src/storage/memory-store.ts'
import type { ChainStore } from '../../src/storage/types.ts'
import { createNodeVerifier } from '../../src/crypto/node.ts'
import { Reader, Writer, encodeBlock, encodeChainState, processBlock, toHex, PRESETS } from '../../src/protocol/index.ts'
import type { ChainState, TrustedCheckpoint } from '../../src/protocol/index.ts'
import type { PeerErrorEvent } from '../../src/peer/events.ts'
import type { Clock } from '../../src/peer/clock.ts'
import { systemClock } from '../../src/peer/clock.ts'
import { buildChain, buildGenesis, createTestNetwork } from '../helpers/chain-builder.ts'
import { waitUntil as poll } from '../helpers/wait.ts'
import { flip } from '../helpers/assert.ts'

const waitUntil = async (what: string, cond: () => boolean): Promise<void> => { await poll(what, cond, 15_000, 20) }

const net = createTestNetwork({ label: 'checkpoint-start' })
const genesis = await buildGenesis(net, Date.now() - 60_000)
const built = await buildChain(net, genesis.state, 30, () => ({ unsignedRoundMessages: true, signers: 7 }))
/** Every state of the built chain, by height. */
const states: ChainState[] = []
{
  let s = genesis.state
  for (const b of built.blocks) {
    s = (await processBlock(s, b, { verifier: net.verifier })).state
    states.push(s)
  }
}
const stateAt = (h: number): ChainState => states[h - 1]!
const cpAt = (h: number): TrustedCheckpoint => ({ height: h, hash: stateAt(h).tip.hash })

async function lightPeer (opts: { bootstrap: string, checkpoint: TrustedCheckpoint, store?: ChainStore, clock?: Clock }): Promise<{ peer: Peer, errors: PeerErrorEvent[], store: ChainStore }> {
  const blocklist = new Set<string>()
  const libp2p = await createNodeLibp2p({
    role: 'light', privateKey: await generateKeyPair('Ed25519'), topics: topicsFor(net.networkId), listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrapIds: new Set(), blocklist, local: true
  })
  const store = opts.store ?? createMemoryStore()
  const peer = new Peer({
    network: net.config, libp2p, store, verifier: createNodeVerifier(), role: 'light', bootstraps: [opts.bootstrap], blocklist,
    checkpoint: opts.checkpoint, keepBlocks: 64, redialMs: 200, ...(opts.clock !== undefined ? { clock: opts.clock } : {})
  })
  const errors: PeerErrorEvent[] = []
  peer.events.on('error', (e) => { errors.push(e) })
  await peer.start()
  return { peer, errors, store }
}

/** A full peer holding the built chain (its reorg window: heights 14..30). */
async function fullPeer (): Promise<{ peer: Peer, addr: string }> {
  const blocklist = new Set<string>()
  const libp2p = await createNodeLibp2p({
    role: 'bootstrap', privateKey: await generateKeyPair('Ed25519'), topics: topicsFor(net.networkId), listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrapIds: new Set(), blocklist, local: true
  })
  const peer = new Peer({ network: net.config, libp2p, store: createMemoryStore(), verifier: createNodeVerifier(), role: 'bootstrap', bootstraps: [], blocklist, minPeers: 0 })
  await peer.chain.acceptGenesis(genesis.block)
  await peer.chain.acceptBatch(built.blocks)
  await peer.start()
  return { peer, addr: `${libp2p.getMultiaddrs()[0]!.toString()}` }
}

/** A sync server that answers STATUS with the built tip and STATE with `serve(height)`'s bytes. */
async function hostileServer (serve: (height: number) => Uint8Array): Promise<{ node: Libp2p, addr: string }> {
  const node = await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], connectionGater: { denyDialMultiaddr: () => false } })
  const tip = states.at(-1)!
  await node.handle(syncProtocolFor(net.networkId), async (stream) => {
    const lp = lpStream(stream)
    const r = new Reader((await lp.read()).subarray(), 'req')
    const kind = r.u8('kind')
    if (kind === 1) {
      await lp.write(new Writer(128).u8(1).u64(tip.tip.header.height).fixed(tip.tip.hash, 32).fixed(tip.genesisHash, 32).u8(0).finish())
    } else if (kind === 3) {
      await lp.write(encodeBlock(genesis.block))
      await lp.write(serve(r.u64('height')))
    }
    await stream.close()
  })
  return { node, addr: node.getMultiaddrs()[0]!.toString() }
}

test('a light peer starts from a trusted checkpoint served by a full peer, verifies forward, keeps only what follows, and restarts from its store', async () => {
  const full = await fullPeer()
  const cp = cpAt(25)
  const a = await lightPeer({ bootstrap: full.addr, checkpoint: cp })
  try {
    await waitUntil('the light peer reaches the tip from the checkpoint', () => a.peer.chain.height === 30)
    assert.equal(a.peer.sync.checkpoint?.status.state, 'verified')
    assert.deepEqual(a.peer.chain.startedFrom, cp)
    assert.equal(toHex(a.peer.chain.state!.tip.hash), toHex(stateAt(30).tip.hash))
    assert.equal(await a.store.getFirstHeight(), 26, 'nothing below the checkpoint is stored')
    assert.equal(await a.store.getBlock(25), undefined)
    assert.equal((await a.store.getBlock(26))?.height, 26)
    assert.equal(toHex((await a.store.getGenesis())!.hash), toHex(genesis.state.genesisHash))
    assert.deepEqual(a.errors, [])
  } finally {
    await a.peer.stop()
  }
  // A restart loads the stored chain (checkpoint state + the blocks after it) and keeps it: no new state fetch.
  const b = await lightPeer({ bootstrap: full.addr, checkpoint: cp, store: a.store })
  try {
    assert.equal(b.peer.chain.height, 30)
    assert.deepEqual(b.peer.chain.startedFrom, cp)
    await waitUntil('the restarted peer compares with the full peer', () => b.peer.sync.compared)
    assert.equal(b.peer.sync.checkpoint?.status.state, 'kept')
  } finally {
    await b.peer.stop()
    await full.peer.stop()
  }
})

test('forged states are refused with their code, counted against the server, and nothing is stored', async () => {
  const tampered = (h: number): Uint8Array => {
    const bytes = encodeChainState(stateAt(h))
    flip(bytes, bytes.length - 10, 0x01) // a registry byte
    return bytes
  }
  const cases: Array<{ name: string, serve: (h: number) => Uint8Array, code: string }> = [
    { name: 'tampered registry', serve: tampered, code: 'CHECKPOINT_INVALID' },
    { name: 'another block\'s state', serve: (h) => encodeChainState(stateAt(h - 1)), code: 'CHECKPOINT_MISMATCH' },
    { name: 'junk', serve: () => new Uint8Array([2, 1, 2, 3]), code: 'CHECKPOINT_INVALID' }
  ]
  for (const c of cases) {
    const server = await hostileServer(c.serve)
    const a = await lightPeer({ bootstrap: server.addr, checkpoint: cpAt(25) })
    try {
      await waitUntil(`${c.name}: refused`, () => a.errors.some((e) => e.code === c.code))
      await waitUntil(`${c.name}: counted against the server`, () => (a.peer.rejectsByPeer.get(server.node.peerId.toString()) ?? 0) >= 1)
      assert.equal(a.peer.chain.state, undefined, `${c.name}: nothing verified`)
      assert.equal(await a.store.getGenesis(), undefined, `${c.name}: nothing stored`)
      assert.equal(await a.store.getTipHeight(), -1)
      assert.equal(a.peer.sync.checkpoint?.status.state, 'waiting')
      assert.equal(a.peer.sync.isBanned(server.node.peerId.toString()), true, `${c.name}: not synced from again`)
    } finally {
      await a.peer.stop()
      await server.node.stop()
    }
  }
})

test('a checkpoint older than the trusting period is CHECKPOINT_EXPIRED; one no peer holds is CHECKPOINT_UNAVAILABLE; nothing is stored', async () => {
  const full = await fullPeer()
  const later: Clock = { ...systemClock, now: () => Date.now() + PRESETS.devnet.trustingPeriodMs + 60_000 }
  const expired = await lightPeer({ bootstrap: full.addr, checkpoint: cpAt(25), clock: later })
  // Height 5 is below the full peer's reorg window and not a multiple of checkpointInterval: nobody keeps its state.
  const unavailable = await lightPeer({ bootstrap: full.addr, checkpoint: cpAt(5) })
  try {
    await waitUntil('expired', () => expired.errors.some((e) => e.code === 'CHECKPOINT_EXPIRED'))
    assert.equal(expired.peer.sync.checkpoint?.status.state, 'failed')
    assert.equal(await expired.store.getGenesis(), undefined)
    assert.equal(expired.peer.rejectsByPeer.size, 0, 'an expired checkpoint is not the server\'s fault')
    await waitUntil('unavailable', () => unavailable.errors.some((e) => e.code === 'CHECKPOINT_UNAVAILABLE'))
    assert.equal(unavailable.peer.sync.checkpoint?.status.state, 'waiting')
    assert.equal(unavailable.peer.sync.checkpoint?.status.peersWithout, 1)
    assert.equal(await unavailable.store.getGenesis(), undefined)
    assert.equal(unavailable.peer.chain.state, undefined, 'no fallback to genesis in checkpoint mode')
  } finally {
    await expired.peer.stop()
    await unavailable.peer.stop()
    await full.peer.stop()
  }
})
