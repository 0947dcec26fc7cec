/**
 * Inclusion proofs over the sync protocol (chain-queries.ts, PROTOCOL.md §3.9 kinds 4-5), on loopback: a full
 * peer holding a chain with registration transactions proves any of them to a light peer, which checks the proof
 * against the block it verified itself; forged answers from a raw server are PROOF_INVALID and counted against
 * it; a header from another chain is HEADER_MISMATCH; an unknown transaction is PROOF_NOT_FOUND.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { Peer } from '../../src/peer/peer.ts'
import { syncProtocolFor, topicsFor } from '../../src/peer/topics.ts'
import { serveProof, TxIndex, KIND_HEADER } from '../../src/peer/chain-queries.ts'
import { createNodeLibp2p } from '../../src/node/libp2p-node.ts'
import { createMemoryStore } from '../../src/storage/memory-store.ts'
import { createNodeVerifier } from '../../src/crypto/node.ts'
import { ProtocolError, Reader, Writer, computeTxHash, decodeHeader, encodeHeader, equals, sha256, utf8 } from '../../src/protocol/index.ts'
import type { Block } from '../../src/protocol/index.ts'
import { buildChain, buildGenesis, createTestNetwork, registerTx } from '../helpers/chain-builder.ts'
import { testSigners } from '../helpers/keys.ts'
import { waitUntil } from '../helpers/wait.ts'

const net = createTestNetwork({ label: 'chain-queries' })
const genesis = await buildGenesis(net)
const newcomers = testSigners('chain-queries/newcomer', 5)
const txs = await Promise.all(newcomers.map(async (s) => await registerTx(net, s)))
// Block 2 carries three registrations, block 4 two (a tree of 3 and one of 2); 6 blocks in all.
const built = await buildChain(net, genesis.state, 6, (h) => ({ txs: h === 2 ? txs.slice(0, 3) : h === 4 ? txs.slice(3) : [], extraSigners: newcomers }))

async function node (role: 'validator' | 'light'): Promise<Awaited<ReturnType<typeof createNodeLibp2p>>> {
  return await createNodeLibp2p({ role, privateKey: await generateKeyPair('Ed25519'), topics: topicsFor(net.networkId), listen: ['/ip4/127.0.0.1/tcp/0'], bootstrapIds: new Set(), blocklist: new Set(), local: true })
}

/** A peer holding `blocks` (verified into a memory store), serving sync; `start` runs the whole Peer. */
async function holder (blocks: Block[]): Promise<{ peer: Peer, addr: string }> {
  const libp2p = await node('validator')
  const peer = new Peer({ network: net.config, libp2p, store: createMemoryStore(), verifier: createNodeVerifier(), role: 'light', bootstraps: [], minPeers: 0 })
  await peer.chain.acceptGenesis(genesis.block)
  if (blocks.length > 0) await peer.chain.acceptBatch(blocks)
  await peer.start()
  return { peer, addr: libp2p.getMultiaddrs()[0]!.toString() }
}

test('a light peer gets every registration proven by a full peer, checked against the block it verified', async () => {
  const full = await holder(built.blocks)
  const light = await holder(built.blocks)
  try {
    await light.peer.libp2p.dial(multiaddr(full.addr))
    for (const [i, tx] of txs.entries()) {
      const h = computeTxHash(tx)
      const got = await light.peer.getProof(h)
      assert.equal(got.height, i < 3 ? 2 : 4)
      assert.equal(got.proof.index, i < 3 ? i : i - 3)
      assert.equal(got.proof.size, i < 3 ? 3 : 2)
      assert.ok(equals(got.blockHash, (await light.peer.chain.hashAt(got.height))!))
      assert.ok(equals(computeTxHash(got.tx), h))
    }
    await assert.rejects(light.peer.getProof(sha256(utf8('no such tx'))), (e: ProtocolError) => e.code === 'PROOF_NOT_FOUND')
    assert.equal(full.peer.txIndex.size, txs.length, 'the server indexed every transaction it holds')
    assert.deepEqual(light.peer.stats.rejected, {})
  } finally {
    await light.peer.stop(); await full.peer.stop()
  }
})

test('a light peer without the block cannot check a proof: PROOF_UNVERIFIABLE, nothing counted against the server', async () => {
  const full = await holder(built.blocks)
  // Not started (no dialer, no sync on connect): it holds genesis and block 1 only, and keeps it that way.
  const libp2p = await node('light')
  const light = new Peer({ network: net.config, libp2p, store: createMemoryStore(), verifier: createNodeVerifier(), role: 'light', bootstraps: [], minPeers: 0 })
  await light.chain.acceptGenesis(genesis.block)
  await light.chain.acceptBatch(built.blocks.slice(0, 1))
  await libp2p.start()
  await light.sync.start(libp2p)
  try {
    await libp2p.dial(multiaddr(full.addr))
    await assert.rejects(light.getProof(computeTxHash(txs[0]!)), (e: ProtocolError) => e.code === 'PROOF_UNVERIFIABLE')
    assert.equal(light.chain.height, 1)
    assert.deepEqual(light.stats.rejected, {})
  } finally {
    await light.sync.stop(); await libp2p.stop(); await full.peer.stop()
  }
})

/** A raw server that answers PROOF with `answer(real frame)`: a forger. */
async function forger (answer: (real: Uint8Array) => Uint8Array): Promise<{ stop: () => Promise<void>, addr: string }> {
  const index = new TxIndex()
  const store = await holder(built.blocks)
  index.add(built.blocks)
  const raw = await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], connectionGater: { denyDialMultiaddr: () => false } })
  await raw.handle(syncProtocolFor(net.networkId), async (stream) => {
    const lp = lpStream(stream)
    const req = (await lp.read()).subarray()
    const [real] = await serveProof(store.peer.chain, index, req.subarray(1, 33))
    if (real !== undefined) await lp.write(answer(real))
    await stream.close()
  })
  return { stop: async () => { await raw.stop(); await store.peer.stop() }, addr: raw.getMultiaddrs()[0]!.toString() }
}

test('forged answers are PROOF_INVALID and count against the server; a header of another chain is HEADER_MISMATCH', async () => {
  const light = await holder(built.blocks)
  const h = computeTxHash(txs[1]!)
  const flip = (at: (f: Uint8Array) => number) => (real: Uint8Array): Uint8Array => { const f = new Uint8Array(real); f[at(f)]! ^= 1; return f }
  const cases: Array<[string, (real: Uint8Array) => Uint8Array, string]> = [
    ['a flipped proof byte', flip((f) => f.length - 1), 'PROOF_INVALID'],
    ['a flipped transaction byte', flip(() => 8 + 230 + 2 + 5), 'PROOF_INVALID'],
    ['a flipped txRoot byte', flip(() => 8 + 118), 'PROOF_INVALID'],
    ['truncated', (real) => real.subarray(0, 100), 'PROOF_INVALID'],
    ['another height in the frame', (real) => { const f = new Uint8Array(real); new DataView(f.buffer).setUint32(4, 3); return f }, 'PROOF_INVALID'],
    ['a re-rooted header of another chain (proof and txRoot consistent, block hash not ours)', (real) => {
      const r = new Reader(real, 't')
      r.u64('h')
      const header = decodeHeader(r.fixed(230, 'header'))
      const other = encodeHeader({ ...header, timestamp: header.timestamp + 1 })
      return new Writer(real.length).raw(real.subarray(0, 8)).raw(other).raw(real.subarray(8 + 230)).finish()
    }, 'HEADER_MISMATCH']
  ]
  try {
    for (const [name, answer, code] of cases) {
      const f = await forger(answer)
      try {
        const conn = await light.peer.libp2p.dial(multiaddr(f.addr))
        const before = light.peer.stats.rejected.PROOF_INVALID ?? 0
        await assert.rejects(light.peer.getProof(h, 1), (e: ProtocolError) => e.code === code, name)
        if (code === 'PROOF_INVALID') assert.equal(light.peer.stats.rejected.PROOF_INVALID, before + 1, `${name}: counted against the forger`)
        await conn.close()
        await waitUntil('the forger disconnected', () => light.peer.libp2p.getConnections().length === 0, 5_000)
      } finally {
        await f.stop()
      }
    }
  } finally {
    await light.peer.stop()
  }
})

test('HEADER serves the header of a held block, nothing for one not held', async () => {
  const full = await holder(built.blocks)
  const client = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], connectionGater: { denyDialMultiaddr: () => false } })
  try {
    const ask = async (height: number): Promise<Uint8Array[]> => {
      const s = await client.dialProtocol(multiaddr(full.addr), syncProtocolFor(net.networkId))
      const lp = lpStream(s)
      await lp.write(new Writer(9).u8(KIND_HEADER).u64(height).finish())
      const out: Uint8Array[] = []
      for (;;) { const f = await lp.read({ signal: AbortSignal.timeout(5_000) }).catch(() => undefined); if (f === undefined) break; out.push(f.subarray()) }
      return out
    }
    const [h4] = await ask(4)
    assert.ok(h4 !== undefined && equals(h4, encodeHeader(built.blocks[3]!.header)))
    assert.deepEqual(await ask(99), [])
  } finally {
    await client.stop(); await full.peer.stop()
  }
})

test('header(height): our verified header from the window or the store, genesis at 0; BLOCK_NOT_HELD above the tip', async () => {
  const full = await holder(built.blocks)
  try {
    for (const h of [0, 1, 4, 6]) {
      const got = await full.peer.header(h)
      const want = h === 0 ? genesis.block.header : built.blocks[h - 1]!.header
      assert.ok(equals(encodeHeader(got.header), encodeHeader(want)), `header ${h}`)
      assert.ok(equals(got.hash, (await full.peer.chain.hashAt(h))!))
    }
    await assert.rejects(full.peer.header(7), (e: ProtocolError) => e.code === 'BLOCK_NOT_HELD')
    await assert.rejects(full.peer.header(-1), (e: ProtocolError) => e.code === 'NON_CANONICAL')
  } finally {
    await full.peer.stop()
  }
})
