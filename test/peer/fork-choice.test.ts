/**
 * Forks that converge (PROTOCOL.md §13): real Peers on loopback libp2p, each holding one of two equal-length
 * forks or none, connected in different orders. Every peer must end on the same chain, the one
 * compareForks prefers (the lower round at the first differing height, then the lower hash); a fork
 * deeper than the reorg window is never switched to and is reported once as FORK_TOO_DEEP.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { compareForks, computeBlockHash, computeNetworkId, encodeChainState, toHex } from '../../src/protocol/index.ts'
import type { Block } from '../../src/protocol/index.ts'
import { createNodeLibp2p } from '../../src/node/libp2p-node.ts'
import { Peer } from '../../src/peer/peer.ts'
import { ManualClock } from '../../src/peer/clock.ts'
import { topicsFor } from '../../src/peer/topics.ts'
import { MAX_REORG_DEPTH } from '../../src/peer/chain-service.ts'
import type { PeerErrorEvent } from '../../src/peer/events.ts'
import { createMemoryStore } from '../../src/storage/memory-store.ts'
import { buildChain, buildGenesis, createTestNetwork } from '../helpers/chain-builder.ts'
import type { BuildOptions } from '../helpers/chain-builder.ts'

const net = createTestNetwork({ label: 'forks' })
const genesis = await buildGenesis(net)
const fast: BuildOptions = { unsignedRoundMessages: true, signers: 7 }
const prefix = await buildChain(net, genesis.state, 3, () => fast)
const forkOf = async (first: BuildOptions, length = 3, from = prefix): Promise<{ blocks: Block[], tip: string }> => {
  const f = await buildChain(net, from.state, length, (h) => h === from.state.tip.header.height + 1 ? { ...fast, ...first } : fast)
  return { blocks: [...from.blocks, ...f.blocks], tip: toHex(f.state.tip.hash) }
}
const topics = topicsFor(computeNetworkId(net.config))

async function startPeer (clock: ManualClock, blocks: Block[] = [], store = createMemoryStore(), genesisBlock = genesis.block): Promise<Peer> {
  const libp2p = await createNodeLibp2p({
    role: 'light', privateKey: await generateKeyPair('Ed25519'), topics, listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrapIds: new Set(), blocklist: new Set(), local: true
  })
  const peer = new Peer({ network: net.config, libp2p, store, verifier: net.verifier, role: 'light', clock, minPeers: 0 })
  // Load the (empty) store first, then add the chain, so the reorg window holds the last 17 states as after a sync.
  await peer.chain.load()
  if (blocks.length > 0) {
    await peer.chain.acceptGenesis(genesisBlock)
    await peer.chain.acceptBatch(blocks)
  }
  await peer.start()
  return peer
}

async function connect (a: Peer, b: Peer): Promise<void> {
  await a.libp2p.dial(b.libp2p.getMultiaddrs()[0]!)
}

/**
 * Polls `cond` until it holds. Sync starts on libp2p's identify events; with `clock`, the peers' manual clock
 * also moves 1 s every 250 ms, so their sync polls (every 3 s of it) retry an attempt that failed on a
 * loaded machine, as a real clock would.
 */
async function until (what: string, cond: () => boolean, timeoutMs = 20_000, clock?: ManualClock): Promise<void> {
  const end = Date.now() + timeoutMs
  for (let i = 1; !cond(); i++) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
    if (clock !== undefined && i % 10 === 0) clock.advance(1_000)
  }
}

const tipOf = (p: Peer): string | undefined => p.chain.state === undefined ? undefined : toHex(p.chain.state.tip.hash)

for (const [name, firstA, firstB] of [
  ['different rounds at the first differing height: the lower round wins', { round: 1 }, { round: 0 }],
  ['same round: the lower block hash wins', { absent: [2] }, { absent: [9] }]
] as Array<[string, BuildOptions, BuildOptions]>) {
  test(`equal-length forks converge: ${name}`, { timeout: 60_000 }, async () => {
    const a = await forkOf(firstA)
    const b = await forkOf(firstB)
    const firstHeight = prefix.state.tip.header.height + 1
    const firstOf = (blocks: Block[]): Block => blocks.find((x) => x.header.height === firstHeight)!
    const summary = (f: { blocks: Block[] }): Parameters<typeof compareForks>[0] => ({
      tipHeight: f.blocks.at(-1)!.header.height, firstRound: firstOf(f.blocks).header.round, firstHash: computeBlockHash(firstOf(f.blocks).header)
    })
    assert.equal(a.blocks.length, b.blocks.length)
    const winner = compareForks(summary(a), summary(b)) < 0 ? a.tip : b.tip
    if (name.startsWith('different')) assert.equal(winner, b.tip, 'round 0 beats round 1')
    const clock = new ManualClock(Math.max(a.blocks.at(-1)!.header.timestamp, b.blocks.at(-1)!.header.timestamp) + 1_000)
    const holderA = await startPeer(clock, a.blocks)
    const holderB = await startPeer(clock, b.blocks)
    const x = await startPeer(clock)
    const y = await startPeer(clock)
    const peers = [holderA, holderB, x, y]
    try {
      assert.equal(tipOf(holderA), a.tip)
      assert.equal(tipOf(holderB), b.tip)
      // x learns fork A first, y fork B first; then each meets the other fork.
      await connect(x, holderA)
      await until('x on fork A', () => tipOf(x) === a.tip)
      await connect(y, holderB)
      await until('y on fork B', () => tipOf(y) === b.tip)
      await connect(x, holderB)
      await connect(y, holderA)
      await until('every peer on the winning fork', () => peers.every((p) => tipOf(p) === winner), 40_000, clock)
      for (const p of peers) assert.equal(p.chain.height, a.blocks.length)
    } finally {
      await Promise.all(peers.map(async (p) => { await p.stop() }))
    }
  })
}

test(`a fork deeper than the reorg window (${MAX_REORG_DEPTH}) is never switched to: FORK_TOO_DEEP once`, { timeout: 60_000 }, async () => {
  const length = MAX_REORG_DEPTH + 3
  const a = await forkOf({ round: 1 }, length)
  const b = await forkOf({ round: 0 }, length)
  const clock = new ManualClock(Math.max(a.blocks.at(-1)!.header.timestamp, b.blocks.at(-1)!.header.timestamp) + 1_000)
  const holderA = await startPeer(clock, a.blocks)
  const holderB = await startPeer(clock, b.blocks)
  const reported: PeerErrorEvent[] = []
  holderA.events.on('error', (e) => { reported.push(e) })
  try {
    await connect(holderA, holderB)
    await until('FORK_TOO_DEEP', () => reported.some((e) => e.code === 'FORK_TOO_DEEP'))
    // B's fork would win the tie-break (round 0), but it starts below A's window: A keeps its chain.
    assert.equal(tipOf(holderA), a.tip)
    assert.equal(tipOf(holderB), b.tip)
    const peerId = holderB.libp2p.peerId
    assert.equal(await holderA.sync.syncFrom(peerId), 0)
    assert.equal(reported.filter((e) => e.code === 'FORK_TOO_DEEP').length, 1, 'reported once per peer')
    assert.equal(reported[0]!.details?.peer, peerId.toString())
    assert.equal(tipOf(holderA), a.tip)
  } finally {
    await Promise.all([holderA, holderB].map(async (p) => { await p.stop() }))
  }
})

for (const depth of [1, 5]) {
  test(`a peer restarted from its store on a losing fork ${depth} block(s) deep switches to the longer chain`, { timeout: 60_000 }, async () => {
    const lost = await forkOf({ round: 1 }, depth)
    const won = await forkOf({ round: 0 }, depth + 4)
    const clock = new ManualClock(Math.max(lost.blocks.at(-1)!.header.timestamp, won.blocks.at(-1)!.header.timestamp) + 1_000)
    // The first run stores the losing fork block by block, as a validator following gossip does; then it stops.
    const store = createMemoryStore()
    const first = await startPeer(clock, [], store)
    await first.chain.acceptGenesis(genesis.block)
    for (const b of lost.blocks) await first.chain.acceptBlock(b, 'gossip')
    await first.stop()
    const restarted = await startPeer(clock, [], store)
    const holder = await startPeer(clock, won.blocks)
    try {
      assert.equal(tipOf(restarted), lost.tip, 'the restart loaded the stored (losing) fork')
      assert.equal(restarted.chain.reorgFloor, Math.max(0, lost.blocks.length - MAX_REORG_DEPTH), 'the restart rebuilt the reorg window')
      await connect(restarted, holder)
      await until('the restarted peer on the longer chain', () => tipOf(restarted) === won.tip)
      assert.equal(restarted.chain.height, won.blocks.length)
      // What it stored is the chain it switched to: a second restart loads the same tip.
      await restarted.stop()
      const again = await startPeer(clock, [], store)
      try { assert.equal(tipOf(again), won.tip) } finally { await again.stop() }
    } finally {
      await Promise.all([restarted, holder].map(async (p) => { await p.stop() }))
    }
  })
}

test('a fork that splits below what the store kept of the window is reported as FORK_TOO_DEEP, not retried in silence', { timeout: 60_000 }, async () => {
  const lost = await forkOf({ round: 1 }, 1)
  const won = await forkOf({ round: 0 }, 5)
  const clock = new ManualClock(Math.max(lost.blocks.at(-1)!.header.timestamp, won.blocks.at(-1)!.header.timestamp) + 1_000)
  // A store whose checkpoint is its tip (as an older version could leave it): after a restart the window holds
  // the tip alone, so the split one block below it cannot be switched to.
  const store = createMemoryStore()
  const first = await startPeer(clock, [], store)
  await first.chain.acceptGenesis(genesis.block)
  for (const b of lost.blocks) await first.chain.acceptBlock(b, 'gossip')
  await store.appendBlocks([], { height: first.chain.height, state: encodeChainState(first.chain.state!) })
  await first.stop()
  const restarted = await startPeer(clock, [], store)
  const holder = await startPeer(clock, won.blocks)
  const reported: PeerErrorEvent[] = []
  restarted.events.on('error', (e) => { reported.push(e) })
  try {
    assert.equal(restarted.chain.reorgFloor, restarted.chain.height)
    await connect(restarted, holder)
    await until('FORK_TOO_DEEP', () => reported.some((e) => e.code === 'FORK_TOO_DEEP'))
    assert.equal(tipOf(restarted), lost.tip)
  } finally {
    await Promise.all([restarted, holder].map(async (p) => { await p.stop() }))
  }
})

// Release messages from more than M signers at once can make two geneses (peers whose settle timers fired
// with different message sets): genesis is height 0 of the fork choice, so they converge the same way.
const other = await buildGenesis(net, 1_700_000_000_500)
const chainOn = async (g: typeof genesis, length: number): Promise<{ blocks: Block[], tip: string }> => {
  if (length === 0) return { blocks: [], tip: toHex(g.state.tip.hash) }
  const c = await buildChain(net, g.state, length, () => fast)
  return { blocks: c.blocks, tip: toHex(c.state.tip.hash) }
}
const genesisOf = (p: Peer): string => toHex(p.chain.state!.genesisHash)

for (const [name, mine, theirs] of [
  ['the longer chain wins, whichever genesis it has', 3, 5],
  ['at equal length the lower genesis hash wins', 4, 4],
  ['at height 0 (no block yet) the lower genesis hash wins', 0, 0]
] as Array<[string, number, number]>) {
  test(`two geneses converge: ${name}`, { timeout: 60_000 }, async () => {
    const a = await chainOn(genesis, mine)
    const b = await chainOn(other, theirs)
    const lastTs = Math.max(a.blocks.at(-1)?.header.timestamp ?? 0, b.blocks.at(-1)?.header.timestamp ?? 0, other.block.header.timestamp)
    const clock = new ManualClock(lastTs + 1_000)
    const holderA = await startPeer(clock, a.blocks, createMemoryStore(), genesis.block)
    const holderB = await startPeer(clock, b.blocks, createMemoryStore(), other.block)
    if (mine === 0) await holderA.chain.acceptGenesis(genesis.block)
    if (theirs === 0) await holderB.chain.acceptGenesis(other.block)
    const gA = toHex(genesis.state.genesisHash)
    const gB = toHex(other.state.genesisHash)
    const winner = mine !== theirs ? (mine > theirs ? a : b) : (gA < gB ? a : b)
    const winnerGenesis = winner === a ? gA : gB
    const x = await startPeer(clock)
    const peers = [holderA, holderB, x]
    try {
      assert.notEqual(gA, gB)
      await connect(x, holderA)
      await until('x on genesis A', () => x.chain.state !== undefined && genesisOf(x) === gA && tipOf(x) === a.tip, 20_000, clock)
      await connect(holderA, holderB)
      await connect(x, holderB)
      await until('every peer on the winning genesis and tip', () => peers.every((p) => genesisOf(p) === winnerGenesis && tipOf(p) === winner.tip), 40_000, clock)
      for (const p of peers) {
        assert.equal(p.chain.height, Math.max(mine, theirs))
        assert.equal(toHex(computeBlockHash(p.chain.genesis!.header)), winnerGenesis, 'the genesis block it serves is the one it follows')
        assert.equal((await p.chain.readBlocks(0, 64)).length, Math.max(mine, theirs) + 1, 'its store holds the winning chain, nothing of the other')
      }
    } finally {
      await Promise.all(peers.map(async (p) => { await p.stop() }))
    }
  })
}

test(`a chain on another genesis is not switched to once genesis is below the window (${MAX_REORG_DEPTH}): FORK_TOO_DEEP`, { timeout: 60_000 }, async () => {
  const a = await chainOn(genesis, MAX_REORG_DEPTH + 2)
  const b = await chainOn(other, MAX_REORG_DEPTH + 4)
  const clock = new ManualClock(Math.max(a.blocks.at(-1)!.header.timestamp, b.blocks.at(-1)!.header.timestamp) + 1_000)
  const holderA = await startPeer(clock, a.blocks)
  const holderB = await startPeer(clock, b.blocks, createMemoryStore(), other.block)
  const reported: PeerErrorEvent[] = []
  holderA.events.on('error', (e) => { reported.push(e) })
  try {
    await connect(holderA, holderB)
    await until('FORK_TOO_DEEP', () => reported.some((e) => e.code === 'FORK_TOO_DEEP'))
    assert.equal(tipOf(holderA), a.tip, 'A keeps its chain although the other is longer')
    assert.equal(tipOf(holderB), b.tip)
  } finally {
    await Promise.all([holderA, holderB].map(async (p) => { await p.stop() }))
  }
})
