/**
 * Data transactions (PROTOCOL.md §3.13): encoding round trip and bounds, the sender records' life (a replay is
 * refused for as long as it could be included, and the record is dropped after that), the per-block byte budget,
 * the records in a served chain state, and the mempool's bounds and selection.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  MAX_BLOCK_TX_BYTES, MAX_PAYLOAD_SIZE, MAX_TX_LIFETIME, MAX_TX_SIZE, ProtocolError, computeTxHash, decodeChainState, decodeTx, encodedTxSize,
  encodeChainState, encodeTx, processBlock, toHex, utf8, validateTxs
} from '../../src/protocol/index.ts'
import type { ChainState, DataTx } from '../../src/protocol/index.ts'
import { Mempool, MEMPOOL_PER_SENDER } from '../../src/peer/mempool.ts'
import { buildBlock, buildGenesis, createTestNetwork, dataTx, recomputeRoots, resignBlock } from '../helpers/chain-builder.ts'
import { testSigners } from '../helpers/keys.ts'

const net = createTestNetwork({ label: 'data-tx' })
const genesis = await buildGenesis(net)
const [alice, bob] = testSigners('data-tx/sender', 2)
const code = (err: unknown): string => err instanceof ProtocolError ? err.code : String(err)
async function rejects (p: Promise<unknown>, expected: string): Promise<ProtocolError> {
  try { await p } catch (err) { assert.equal(code(err), expected); return err as ProtocolError }
  assert.fail(`expected ${expected}`)
}
function throws (fn: () => unknown, expected: string): void {
  try { fn() } catch (err) { assert.equal(code(err), expected); return }
  assert.fail(`expected ${expected}`)
}
const apply = async (s: ChainState, txs: DataTx[] = []): Promise<ChainState> => (await processBlock(s, await buildBlock(net, s, { txs }), { verifier: net.verifier })).state
/** A block on `s` carrying `txs` even where the round machine would refuse them (roots recomputed, re-signed). */
const forced = async (s: ChainState, txs: DataTx[]): Promise<ChainState> => {
  const b = recomputeRoots(s, { ...(await buildBlock(net, s)), txs })
  return (await processBlock(s, await resignBlock(net, s, b, b.header.round), { verifier: net.verifier })).state
}

describe('data transactions', () => {
  test('encoding: round trip at the bounds; the hash covers the signature; tag, payload and seq bounds are decoding errors', async () => {
    const big = await dataTx(net, alice!, { seq: Number.MAX_SAFE_INTEGER, expires: 9, tag: 'x'.repeat(32), payload: new Uint8Array(MAX_PAYLOAD_SIZE).fill(7) })
    const bytes = encodeTx(big)
    assert.equal(bytes.length, MAX_TX_SIZE, 'the largest data transaction is MAX_TX_SIZE bytes')
    assert.deepEqual(decodeTx(bytes), big)
    const small = await dataTx(net, alice!, { seq: 1, expires: 1, tag: 'a', payload: new Uint8Array(0) })
    assert.deepEqual(decodeTx(encodeTx(small)), small)
    for (const t of [big, small, { kind: 'register' as const, publicKey: alice!.publicKey, signature: big.signature }]) assert.equal(encodedTxSize(t), encodeTx(t).length, 'encodedTxSize is the encoding\'s length')
    assert.notEqual(toHex(computeTxHash(small)), toHex(computeTxHash({ ...small, signature: big.signature })))
    assert.throws(() => encodeTx({ ...small, tag: 'with space' }), RangeError)
    assert.throws(() => encodeTx({ ...small, tag: 'é' }), RangeError)
    assert.throws(() => encodeTx({ ...small, payload: new Uint8Array(MAX_PAYLOAD_SIZE + 1) }), RangeError)
    const raw = encodeTx(small)
    const seqZero = raw.slice(); seqZero.fill(0, 33, 41)
    throws(() => decodeTx(seqZero), 'NON_CANONICAL')
    const ctrl = raw.slice(); ctrl[50] = 0x09 // the tag byte: a tab
    throws(() => decodeTx(ctrl), 'NON_CANONICAL')
    throws(() => decodeTx(raw.slice(0, raw.length - 1)), 'TRUNCATED')
  })

  test('a replay is refused while it could be included, and cannot be included after: the record lives exactly until its expiry', async () => {
    let s = genesis.state
    const h1 = s.tip.header.height + 1
    const first = await dataTx(net, alice!, { seq: 1, expires: h1 + 2 })
    s = await apply(s, [first])
    assert.deepEqual(s.senders.get(toHex(alice!.publicKey)), { publicKey: alice!.publicKey, id: toHex(alice!.publicKey), lastSeq: 1, until: h1 + 2 })
    // At h1 + 1 and h1 + 2 the replay is a duplicate; the record is kept while it is needed.
    await rejects(forced(s, [first]), 'TX_DUPLICATE')
    s = await apply(s)
    await rejects(forced(s, [first]), 'TX_DUPLICATE')
    s = await apply(s) // block h1 + 2: the record's last height
    assert.equal(s.senders.size, 0, 'dropped after the block at its until height')
    // From h1 + 3 on, the replay is expired, so the record is not needed.
    await rejects(forced(s, [first]), 'TX_INVALID')
    // A new transaction with a fresh sequence number 1 is valid again (a different transaction: another expiry).
    s = await apply(s, [await dataTx(net, alice!, { seq: 1, expires: s.tip.header.height + 5 })])
    assert.equal(s.senders.get(toHex(alice!.publicKey))?.lastSeq, 1)
  })

  test('until is the highest expiry of the included transactions; a later, shorter one does not shorten it', async () => {
    let s = genesis.state
    const h = s.tip.header.height + 1
    s = await apply(s, [await dataTx(net, bob!, { seq: 1, expires: h + 100 }), await dataTx(net, bob!, { seq: 2, expires: h + 1 })])
    assert.deepEqual({ lastSeq: s.senders.get(toHex(bob!.publicKey))?.lastSeq, until: s.senders.get(toHex(bob!.publicKey))?.until }, { lastSeq: 2, until: h + 100 })
  })

  test('the per-block byte budget: 111 largest transactions fit, 112 are TOO_LARGE', async () => {
    const s = genesis.state
    const h = s.tip.header.height + 1
    const tx = await dataTx(net, alice!, { seq: 1, expires: h, tag: 'x'.repeat(32), payload: new Uint8Array(MAX_PAYLOAD_SIZE) })
    const many = (n: number): DataTx[] => Array.from({ length: n }, (_, i) => ({ ...tx, seq: i + 1 })) // signatures not checked here
    assert.equal(Math.floor(MAX_BLOCK_TX_BYTES / MAX_TX_SIZE), 111)
    validateTxs(s.registry, s.senders, h, many(111))
    throws(() => validateTxs(s.registry, s.senders, h, many(112)), 'TOO_LARGE')
  })

  test('a served chain state carries the sender records; any corrupted record byte is CHECKPOINT_INVALID', async () => {
    const s = await apply(genesis.state, [await dataTx(net, alice!, { seq: 3, expires: genesis.state.tip.header.height + 50 })])
    const bytes = encodeChainState(s)
    const back = decodeChainState(net.config, bytes)
    assert.deepEqual([...back.senders.values()], [...s.senders.values()])
    for (let i = bytes.length - 48; i < bytes.length; i++) {
      const bad = bytes.slice()
      bad[i] = bad[i]! ^ 0x01
      throws(() => decodeChainState(net.config, bad), 'CHECKPOINT_INVALID')
    }
    const dropped = bytes.slice(0, bytes.length - 48)
    dropped[dropped.length - 1] = 0 // sender count 0: the records no longer hash to registryRoot
    throws(() => decodeChainState(net.config, dropped), 'CHECKPOINT_INVALID')
  })
})

describe('mempool', () => {
  const s = genesis.state
  const h = s.tip.header.height + 1
  const tx = async (signer = alice!, seq = 1, expires = h + 10, payload?: Uint8Array): Promise<Uint8Array> => encodeTx(await dataTx(net, signer, { seq, expires, ...(payload !== undefined ? { payload } : {}) }))

  test('refuses duplicates, expired and far-future expiries, bad signatures, and more than MEMPOOL_PER_SENDER per sender', async () => {
    const m = new Mempool()
    await m.validateAndAdd(s, await tx(), net.verifier)
    await rejects(m.validateAndAdd(s, await tx(), net.verifier), 'DUPLICATE')
    await rejects(m.validateAndAdd(s, await tx(alice!, 2, h - 1), net.verifier), 'TX_EXPIRED')
    await rejects(m.validateAndAdd(s, await tx(alice!, 2, h + MAX_TX_LIFETIME + 1), net.verifier), 'FUTURE')
    const forged = decodeTx(await tx(alice!, 2)) as DataTx
    forged.payload = utf8('changed')
    await rejects(m.validateAndAdd(s, encodeTx(forged), net.verifier), 'TX_INVALID')
    for (let seq = 2; seq <= MEMPOOL_PER_SENDER; seq++) await m.validateAndAdd(s, await tx(alice!, seq), net.verifier)
    const full = await rejects(m.validateAndAdd(s, await tx(alice!, 100), net.verifier), 'MEMPOOL_FULL')
    assert.equal(full.details.reason, 'sender')
    await m.validateAndAdd(s, await tx(bob!, 1), net.verifier) // another sender still gets in
    assert.equal(m.size, MEMPOOL_PER_SENDER + 1)
  })

  test('selects each sender in sequence order within the byte budget; drops what the chain has used', async () => {
    const m = new Mempool()
    for (const seq of [3, 1, 2]) await m.validateAndAdd(s, await tx(alice!, seq), net.verifier)
    await m.validateAndAdd(s, await tx(bob!, 1), net.verifier)
    const picked = m.select(s) as DataTx[]
    assert.deepEqual(picked.map((t) => `${toHex(t.sender).slice(0, 4)}:${t.seq}`), [1, 2, 3].map((q) => `${toHex(alice!.publicKey).slice(0, 4)}:${q}`).concat(`${toHex(bob!.publicKey).slice(0, 4)}:1`))
    const next = await apply(s, picked.slice(0, 2))
    m.prune(next)
    assert.deepEqual((m.select(next) as DataTx[]).map((t) => t.seq), [3, 1])
    // What a block built from the selection carries is valid on the state it was selected for.
    await apply(next, m.select(next) as DataTx[])
  })

  test('a pool of large transactions fills a block to the byte budget and no further', async () => {
    const m = new Mempool()
    const senders = testSigners('data-tx/many', 8)
    const payload = new Uint8Array(MAX_PAYLOAD_SIZE)
    for (const signer of senders) for (let seq = 1; seq <= 16; seq++) await m.validateAndAdd(s, await tx(signer, seq, h + 10, payload), net.verifier)
    const picked = m.select(s)
    const bytes = picked.reduce((n, t) => n + encodeTx(t).length, 0)
    assert.ok(bytes <= MAX_BLOCK_TX_BYTES && bytes > MAX_BLOCK_TX_BYTES - 2 * MAX_TX_SIZE, `${bytes} bytes`)
    validateTxs(s.registry, s.senders, h, picked)
  })
})
