/**
 * The canonical encoding: round trips, every decoding error with its code, and a bounded seeded
 * mutation fuzz (every mutated input either decodes to something that re-encodes to the same bytes,
 * or throws a ProtocolError; never another exception type).
 */
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import {
  HEADER_SIZE, MAX_BLOCK_SIZE, MAX_CERT_ENTRIES, MAX_ROUND_MESSAGE_SIZE, MAX_TX_SIZE, MAX_TXS_PER_BLOCK, PRODUCER_POSITION,
  ProtocolError, QUORUM_SIZE, Writer, computeCommitment, concat, decodeBlock, decodeChainState, decodeHeader,
  decodeQuorumMessage, decodeRoundMessage, decodeTx, encodeBlock, encodeChainState, encodeHeader, encodeNetworkConfig,
  encodeQuorumMessage, encodeRoundMessage, encodeTx, equals, toHex
} from '../../src/protocol/index.ts'
import type { BlockHeader, QuorumMessage, RoundMessage } from '../../src/protocol/index.ts'
import {
  buildBlock, buildChain, buildGenesis, createTestNetwork, registerTx, signRelease, signResume, signRound, signerFor
} from '../helpers/chain-builder.ts'
import { testSigners } from '../helpers/keys.ts'
import { testRandom, throwsCode } from '../helpers/assert.ts'

// ---- fixtures: a real chain with txs, absent validators, a backup round, and every message kind ----
const net = createTestNetwork({ label: 'encoding' })
const genesis = await buildGenesis(net)
const late = testSigners('encoding/late', 3)
const chain = await buildChain(net, genesis.state, 3)
const txs = [await registerTx(net, late[0]!), await registerTx(net, late[1]!)]
const richBlock = await buildBlock(net, chain.state, { round: 2, absent: [1, 5], silent: [7], signers: 8, txs })
const plainBlock = chain.blocks[0]!
const state = chain.state
const parentHash = state.tip.hash
const validator = (p: number): ReturnType<typeof signerFor> => signerFor(net, net.validators[p]!.publicKey)

const roundMessages: RoundMessage[] = [
  await signRound(net, validator(0), { kind: 'commit', parentHash, round: 2, position: 3, commitment: computeCommitment(new Uint8Array(32).fill(7)) }),
  await signRound(net, validator(1), {
    kind: 'template', parentHash, round: 2, position: PRODUCER_POSITION, bitset: 0b111_1111_1101,
    commitments: Array.from({ length: 10 }, (_, i) => computeCommitment(new Uint8Array(32).fill(i))), txs
  }),
  await signRound(net, validator(1), { kind: 'template', parentHash, round: 0, position: PRODUCER_POSITION, bitset: 0, commitments: [], txs: [] }),
  await signRound(net, validator(2), { kind: 'reveal', parentHash, round: 254, position: 10, secret: new Uint8Array(32).fill(9) }),
  await signRound(net, validator(3), { kind: 'signature', parentHash, round: 1, position: 0, blockHash: new Uint8Array(32).fill(3), blockSignature: new Uint8Array(64).fill(4) }),
  await signRound(net, validator(1), {
    kind: 'final', parentHash, round: 2, position: PRODUCER_POSITION, revealBitset: 0b111_0111_0101,
    reveals: Array.from({ length: 8 }, (_, i) => new Uint8Array(32).fill(i + 1))
  }),
  await signRound(net, validator(1), { kind: 'final', parentHash, round: 0, position: PRODUCER_POSITION, revealBitset: 0, reveals: [] })
]
const quorumMessages: QuorumMessage[] = [
  await signRelease(net, 0, 1_700_000_000_000),
  await signRelease(net, 4, 0),
  await signResume(net, 2, parentHash, Number.MAX_SAFE_INTEGER)
]

function u64Bytes (hi: number, lo: number): Uint8Array {
  return new Writer(8).u32(hi).u32(lo).finish()
}

function patch (bytes: Uint8Array, offset: number, value: Uint8Array): Uint8Array {
  const out = bytes.slice()
  out.set(value, offset)
  return out
}

// Header field offsets (see writeHeader).
const OFF = { version: 0, height: 1, parentHash: 9, timestamp: 41, round: 49, producer: 50, bitset: 82, revealBitset: 84, randomValue: 86 } as const

describe('round trips: encode(decode(b)) == b', () => {
  test('header', () => {
    for (const b of [genesis.block, plainBlock, richBlock]) {
      const bytes = encodeHeader(b.header)
      assert.equal(bytes.length, HEADER_SIZE)
      const decoded = decodeHeader(bytes)
      assert.deepEqual(decoded, b.header)
      assert.ok(equals(encodeHeader(decoded), bytes))
    }
  })

  test('header at the u64 and bitset limits', () => {
    const h: BlockHeader = { ...richBlock.header, height: Number.MAX_SAFE_INTEGER, timestamp: 2 ** 32, bitset: 0x7ff, round: 255 }
    const bytes = encodeHeader(h)
    assert.deepEqual(decodeHeader(bytes), h)
    assert.ok(equals(encodeHeader(decodeHeader(bytes)), bytes))
    assert.ok(equals(bytes.subarray(OFF.height, OFF.height + 8), u64Bytes(0x1f_ffff, 0xffff_ffff)))
    assert.ok(equals(bytes.subarray(OFF.timestamp, OFF.timestamp + 8), u64Bytes(1, 0)))
  })

  test('blocks: genesis (release cert), plain, with txs and a backup round', () => {
    assert.ok(genesis.block.cert.length > 0)
    assert.equal(richBlock.txs.length, 2)
    assert.equal(richBlock.signatures.length, 8)
    for (const b of [genesis.block, plainBlock, richBlock]) {
      const bytes = encodeBlock(b)
      const decoded = decodeBlock(bytes)
      assert.deepEqual(decoded, b)
      assert.ok(equals(encodeBlock(decoded), bytes))
    }
  })

  test('transaction', () => {
    for (const tx of txs) {
      const bytes = encodeTx(tx)
      assert.equal(bytes.length, 97)
      assert.deepEqual(decodeTx(bytes), tx)
      assert.ok(equals(encodeTx(decodeTx(bytes)), bytes))
    }
  })

  test('round messages of every kind', () => {
    for (const m of roundMessages) {
      const bytes = encodeRoundMessage(m)
      const decoded = decodeRoundMessage(bytes)
      assert.deepEqual(decoded, m)
      assert.ok(equals(encodeRoundMessage(decoded), bytes))
    }
  })

  test('release and resume messages', () => {
    for (const m of quorumMessages) {
      const bytes = encodeQuorumMessage(m)
      const decoded = decodeQuorumMessage(bytes)
      assert.deepEqual(decoded, m)
      assert.ok(equals(encodeQuorumMessage(decoded), bytes))
    }
  })

  test('checkpoint (chain state)', () => {
    for (const s of [genesis.state, state]) {
      const bytes = encodeChainState(s)
      const decoded = decodeChainState(net.config, bytes)
      assert.ok(equals(encodeChainState(decoded), bytes))
      assert.ok(equals(decoded.tip.hash, s.tip.hash))
      assert.deepEqual([...decoded.registry.entries()].sort(), [...s.registry.entries()].sort())
      assert.deepEqual(decoded.ancestry, s.ancestry)
      assert.deepEqual(decoded.anchor, s.anchor)
    }
  })
})

describe('decoding errors', () => {
  test('every strict prefix is TRUNCATED', () => {
    const cases: Array<[Uint8Array, (b: Uint8Array) => unknown]> = [
      [encodeHeader(richBlock.header), decodeHeader],
      [encodeBlock(richBlock), decodeBlock],
      [encodeBlock(genesis.block), decodeBlock],
      [encodeTx(txs[0]!), decodeTx],
      ...roundMessages.map((m) => [encodeRoundMessage(m), decodeRoundMessage] as [Uint8Array, (b: Uint8Array) => unknown]),
      ...quorumMessages.map((m) => [encodeQuorumMessage(m), decodeQuorumMessage] as [Uint8Array, (b: Uint8Array) => unknown])
    ]
    let checked = 0
    for (const [bytes, decode] of cases) {
      for (let len = 0; len < bytes.length; len++) {
        throwsCode(() => decode(bytes.subarray(0, len)), 'TRUNCATED')
        checked++
      }
    }
    assert.ok(checked > 2000)
  })

  test('trailing bytes are TRAILING_BYTES', () => {
    const cases: Array<[Uint8Array, (b: Uint8Array) => unknown]> = [
      [encodeHeader(richBlock.header), decodeHeader],
      [encodeBlock(richBlock), decodeBlock],
      [encodeTx(txs[0]!), decodeTx],
      ...roundMessages.map((m) => [encodeRoundMessage(m), decodeRoundMessage] as [Uint8Array, (b: Uint8Array) => unknown]),
      ...quorumMessages.map((m) => [encodeQuorumMessage(m), decodeQuorumMessage] as [Uint8Array, (b: Uint8Array) => unknown])
    ]
    for (const [bytes, decode] of cases) {
      throwsCode(() => decode(concat(bytes, new Uint8Array([0]))), 'TRAILING_BYTES')
      throwsCode(() => decode(concat(bytes, new Uint8Array(5).fill(0xff))), 'TRAILING_BYTES')
    }
  })

  test('a tx inside a block with a trailing byte is TRAILING_BYTES', () => {
    const tx = concat(encodeTx(txs[0]!), new Uint8Array([1]))
    const bytes = concat(encodeHeader(plainBlock.header), new Writer().u16(1).bytes16(tx).u8(0).u8(0).finish())
    throwsCode(() => decodeBlock(bytes), 'TRAILING_BYTES')
  })

  test('a tx entry length other than 97: the entry is decoded as a standalone tx (PROTOCOL.md §3.3)', () => {
    const tx = encodeTx(txs[0]!)
    const blockWith = (entry: Uint8Array, declared = entry.length): Uint8Array =>
      concat(encodeHeader(plainBlock.header), new Writer().u16(1).u16(declared).raw(entry).u8(0).u8(0).u8(0).finish()) // no signatures, cert or reveals
    assert.equal(decodeBlock(blockWith(tx)).txs.length, 1, 'control: 97 bytes')
    throwsCode(() => decodeBlock(blockWith(new Uint8Array(0))), 'TRUNCATED') // no kind byte
    throwsCode(() => decodeBlock(blockWith(tx.slice(0, 96))), 'TRUNCATED') // kind 1, too short
    throwsCode(() => decodeBlock(blockWith(tx.slice(0, 1))), 'TRUNCATED')
    throwsCode(() => decodeBlock(blockWith(concat(tx, new Uint8Array(MAX_TX_SIZE - 97)))), 'TRAILING_BYTES') // MAX_TX_SIZE bytes
    throwsCode(() => decodeBlock(blockWith(patch(tx.slice(0, 10), 0, new Uint8Array([3])))), 'UNKNOWN_KIND') // kind before length
    throwsCode(() => decodeBlock(blockWith(patch(tx.slice(0, 10), 0, new Uint8Array([2])))), 'TRUNCATED') // a data tx cut short
    throwsCode(() => decodeBlock(blockWith(patch(concat(tx, new Uint8Array(3)), 0, new Uint8Array([0])))), 'UNKNOWN_KIND')
    // Over MAX_TX_SIZE is TOO_LARGE from the length alone, before the bytes are read.
    throwsCode(() => decodeBlock(blockWith(new Uint8Array(0), MAX_TX_SIZE + 1)), 'TOO_LARGE')
    // A declared length longer than what is left in the block: TRUNCATED.
    throwsCode(() => decodeBlock(blockWith(tx.slice(0, 20), 97)), 'TRUNCATED')
  })


  test('bitset and reveal-bitset bits at positions >= 11 are NON_CANONICAL (header, template, final)', () => {
    const header = encodeHeader(richBlock.header)
    assert.notEqual(richBlock.header.revealBitset, richBlock.header.bitset, 'fixture: a silent member makes the two bitsets differ')
    assert.equal(richBlock.reveals.length, 8)
    for (const field of ['bitset', 'revealBitset'] as const) {
      for (let bit = QUORUM_SIZE; bit < 16; bit++) {
        const bitset = richBlock.header[field] | (1 << bit)
        const bad = patch(header, OFF[field], new Writer().u16(bitset).finish())
        const err = throwsCode(() => decodeHeader(bad), 'NON_CANONICAL')
        assert.equal(err.details.field, field)
        throwsCode(() => decodeBlock(patch(encodeBlock(richBlock), OFF[field], new Writer().u16(bitset).finish())), 'NON_CANONICAL')
      }
      // Bit 10 is the last valid one.
      assert.equal(decodeHeader(patch(header, OFF[field], new Writer().u16(1 << 10).finish()))[field], 1 << 10)
    }
    // template and final: kind(1) parent(32) round(1) position(1) bitset(2)
    const template = encodeRoundMessage(roundMessages[1]!)
    throwsCode(() => decodeRoundMessage(patch(template, 35, new Writer().u16(0x800 | 0x7fd).finish())), 'NON_CANONICAL')
    const final = encodeRoundMessage(roundMessages[5]!)
    const err = throwsCode(() => decodeRoundMessage(patch(final, 35, new Writer().u16(0x1000 | 0x775).finish())), 'NON_CANONICAL')
    assert.equal(err.details.field, 'revealBitset')
  })

  test('reveals: the block carries them after the certificate (u8 count, 32 bytes each); more than 11 is TOO_LARGE', () => {
    const bytes = encodeBlock(richBlock)
    const tail = bytes.subarray(bytes.length - 1 - 8 * 32)
    assert.equal(tail[0], 8)
    for (let i = 0; i < 8; i++) assert.ok(equals(tail.subarray(1 + 32 * i, 33 + 32 * i), richBlock.reveals[i]!))
    const twelve = concat(bytes.subarray(0, bytes.length - tail.length), new Uint8Array([12]), new Uint8Array(12 * 32))
    throwsCode(() => decodeBlock(twelve), 'TOO_LARGE')
    // A final message claiming 12 reveals.
    const final = encodeRoundMessage(roundMessages[5]!)
    throwsCode(() => decodeRoundMessage(patch(final, 37, new Uint8Array([12]))), 'TOO_LARGE')
  })

  test('u64 above 2^53-1 is NON_CANONICAL; 2^53-1 decodes', () => {
    const header = encodeHeader(richBlock.header)
    for (const [hi, lo] of [[0x20_0000, 0], [0xffff_ffff, 0xffff_ffff], [0x8000_0000, 1], [0x20_0000, 5]] as const) {
      for (const off of [OFF.height, OFF.timestamp]) {
        throwsCode(() => decodeHeader(patch(header, off, u64Bytes(hi, lo))), 'NON_CANONICAL')
      }
    }
    assert.equal(decodeHeader(patch(header, OFF.height, u64Bytes(0x1f_ffff, 0xffff_ffff))).height, Number.MAX_SAFE_INTEGER)
    // release message timestamp: kind(1) signer(1) timestamp(8)
    throwsCode(() => decodeQuorumMessage(patch(encodeQuorumMessage(quorumMessages[0]!), 2, u64Bytes(0x20_0000, 0))), 'NON_CANONICAL')
    // cert entry timestamp inside the genesis block: header | u16 0 | u8 0 | u8 n | signer(1) ts(8)
    const g = encodeBlock(genesis.block)
    throwsCode(() => decodeBlock(patch(g, HEADER_SIZE + 2 + 1 + 1 + 1, u64Bytes(0x40_0000, 0))), 'NON_CANONICAL')
  })

  test('round message position above 11 is NON_CANONICAL', () => {
    const bytes = encodeRoundMessage(roundMessages[0]!)
    for (const pos of [12, 13, 200, 255]) {
      throwsCode(() => decodeRoundMessage(patch(bytes, 34, new Uint8Array([pos]))), 'NON_CANONICAL')
    }
    assert.equal(decodeRoundMessage(patch(bytes, 34, new Uint8Array([11]))).position, 11)
  })

  test('counts over their limits are TOO_LARGE', () => {
    const header = encodeHeader(plainBlock.header)
    // tx count
    throwsCode(() => decodeBlock(concat(header, new Writer().u16(MAX_TXS_PER_BLOCK + 1).finish())), 'TOO_LARGE')
    throwsCode(() => decodeBlock(concat(header, new Writer().u16(0xffff).finish())), 'TOO_LARGE')
    // a tx longer than MAX_TX_SIZE
    throwsCode(() => decodeBlock(concat(header, new Writer().u16(1).u16(MAX_TX_SIZE + 1).finish())), 'TOO_LARGE')
    // signature count
    throwsCode(() => decodeBlock(concat(header, new Writer().u16(0).u8(QUORUM_SIZE + 1).finish())), 'TOO_LARGE')
    // cert count
    throwsCode(() => decodeBlock(concat(header, new Writer().u16(0).u8(0).u8(MAX_CERT_ENTRIES + 1).finish())), 'TOO_LARGE')
    // template commitments
    const prefix = new Writer().u8(2).fixed(parentHash, 32).u8(0).u8(PRODUCER_POSITION).u16(0x7ff).finish()
    throwsCode(() => decodeRoundMessage(concat(prefix, new Uint8Array([QUORUM_SIZE + 1]))), 'TOO_LARGE')
    // template txs
    throwsCode(() => decodeRoundMessage(concat(prefix, new Writer().u8(0).u16(MAX_TXS_PER_BLOCK + 1).finish())), 'TOO_LARGE')
    // exactly at the limits is fine until the bytes run out
    throwsCode(() => decodeBlock(concat(header, new Writer().u16(MAX_TXS_PER_BLOCK).finish())), 'TRUNCATED')
    throwsCode(() => decodeBlock(concat(header, new Writer().u16(0).u8(QUORUM_SIZE).finish())), 'TRUNCATED')
  })

  test('oversized inputs are TOO_LARGE before parsing', () => {
    throwsCode(() => decodeBlock(new Uint8Array(MAX_BLOCK_SIZE + 1)), 'TOO_LARGE')
    throwsCode(() => decodeRoundMessage(new Uint8Array(MAX_ROUND_MESSAGE_SIZE + 1)), 'TOO_LARGE')
    throwsCode(() => decodeQuorumMessage(new Uint8Array(129)), 'TOO_LARGE')
    throwsCode(() => decodeTx(new Uint8Array(MAX_TX_SIZE + 1)), 'TOO_LARGE')
    // The same sizes of zeros minus one byte fail for another reason (not size).
    assert.notEqual(codeOf(() => decodeBlock(new Uint8Array(MAX_BLOCK_SIZE))), 'TOO_LARGE')
    assert.notEqual(codeOf(() => decodeQuorumMessage(new Uint8Array(128))), 'TOO_LARGE')
  })

  test('unknown kinds are UNKNOWN_KIND', () => {
    const tx = encodeTx(txs[0]!)
    for (const kind of [0, 3, 255]) throwsCode(() => decodeTx(patch(tx, 0, new Uint8Array([kind]))), 'UNKNOWN_KIND')
    const rm = encodeRoundMessage(roundMessages[0]!)
    for (const kind of [0, 6, 10, 255]) throwsCode(() => decodeRoundMessage(patch(rm, 0, new Uint8Array([kind]))), 'UNKNOWN_KIND')
    const qm = encodeQuorumMessage(quorumMessages[0]!)
    for (const kind of [0, 1, 9, 12, 255]) throwsCode(() => decodeQuorumMessage(patch(qm, 0, new Uint8Array([kind]))), 'UNKNOWN_KIND')
    // unknown tx kind inside a block
    const bytes = encodeBlock(richBlock)
    throwsCode(() => decodeBlock(patch(bytes, HEADER_SIZE + 2 + 2, new Uint8Array([7]))), 'UNKNOWN_KIND')
  })

  test('header version other than 2 is BAD_VERSION', () => {
    for (const v of [0, 1, 255]) {
      throwsCode(() => decodeHeader(patch(encodeHeader(plainBlock.header), 0, new Uint8Array([v]))), 'BAD_VERSION')
      throwsCode(() => decodeBlock(patch(encodeBlock(plainBlock), 0, new Uint8Array([v]))), 'BAD_VERSION')
    }
  })

  test('network config: name over 32 bytes and too many release signers are TOO_LARGE', () => {
    throwsCode(() => encodeNetworkConfig({ ...net.config, name: 'x'.repeat(33) }), 'TOO_LARGE')
    throwsCode(() => encodeNetworkConfig({ ...net.config, releaseSigners: Array.from({ length: 65 }, () => new Uint8Array(32)) }), 'TOO_LARGE')
    assert.ok(encodeNetworkConfig({ ...net.config, name: 'é'.repeat(16) }).length > 0)
  })

  test('checkpoint errors are all CHECKPOINT_INVALID', () => {
    const bytes = encodeChainState(state)
    throwsCode(() => decodeChainState(net.config, bytes.subarray(0, bytes.length - 1)), 'CHECKPOINT_INVALID')
    throwsCode(() => decodeChainState(net.config, concat(bytes, new Uint8Array([0]))), 'CHECKPOINT_INVALID')
    throwsCode(() => decodeChainState(net.config, patch(bytes, 0, new Uint8Array([1]))), 'CHECKPOINT_INVALID')
    const other = createTestNetwork({ label: 'encoding-other' })
    throwsCode(() => decodeChainState(other.config, bytes), 'CHECKPOINT_INVALID')
  })
})

function codeOf (fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return err instanceof ProtocolError ? err.code : 'not-a-protocol-error'
  }
  return undefined
}

// ---- fuzz ----
type Rand = ReturnType<typeof testRandom>

function mutate (rand: Rand, input: Uint8Array, hotspots: number[]): Uint8Array {
  let b: Uint8Array = input.slice()
  const n = 1 + rand.int(3)
  for (let i = 0; i < n; i++) {
    const at = b.length === 0 ? 0 : rand.int(b.length)
    switch (rand.int(9)) {
      case 0: if (b.length > 0) b[at] = b[at]! ^ (1 << rand.int(8)); break
      case 1: if (b.length > 0) b[at] = rand.int(256); break
      case 2: if (b.length > 0) b[at] = rand.int(2) === 0 ? 0 : 0xff; break
      case 3: b = b.slice(0, rand.int(b.length + 1)); break
      case 4: b = concat(b.subarray(0, at), rand.bytes(1 + rand.int(3)), b.subarray(at)); break
      case 5: b = concat(b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + rand.int(4)))); break
      case 6: b = concat(b, rand.bytes(1 + rand.int(4))); break
      case 7: {
        // counts, lengths, bitsets and kinds: the fields that steer the decoder
        const h = hotspots[rand.int(hotspots.length)]!
        if (h < b.length) b[h] = [0, 1, 0x0b, 0x0c, 0x40, 0x41, 0xff, rand.int(256)][rand.int(8)]!
        break
      }
      case 8: {
        const from = rand.int(b.length + 1)
        const len = rand.int(40)
        b = concat(b.subarray(0, at), b.subarray(from, from + len), b.subarray(at))
        break
      }
    }
  }
  return b
}

function fuzz (name: string, seed: number, inputs: Uint8Array[], hotspots: number[], iterations: number,
  decode: (b: Uint8Array) => unknown, encode: (v: never) => Uint8Array): { ok: number, errors: Map<string, number> } {
  const rand = testRandom(seed)
  let ok = 0
  const errors = new Map<string, number>()
  for (let i = 0; i < iterations; i++) {
    const input = inputs[i % inputs.length]!
    const m = mutate(rand, input, hotspots)
    let decoded: unknown
    try {
      decoded = decode(m)
    } catch (err) {
      if (!(err instanceof ProtocolError)) {
        assert.fail(`${name} #${i}: non-protocol exception ${String(err)} for ${toHex(m).slice(0, 200)}`)
      }
      errors.set(err.code, (errors.get(err.code) ?? 0) + 1)
      continue
    }
    const again = encode(decoded as never)
    assert.ok(equals(again, m), `${name} #${i}: decoded but re-encoded differently: ${toHex(m).slice(0, 200)}`)
    ok++
  }
  return { ok, errors }
}

describe('mutation fuzz (seeded, bounded)', () => {
  test('2,000 mutations of valid blocks', () => {
    const inputs = [encodeBlock(richBlock), encodeBlock(genesis.block), encodeBlock(plainBlock)]
    const sigCountAt = HEADER_SIZE + 2 + richBlock.txs.length * 99
    const hotspots = [0, OFF.round, OFF.bitset, OFF.bitset + 1, OFF.height, HEADER_SIZE, HEADER_SIZE + 1, HEADER_SIZE + 2, HEADER_SIZE + 3,
      HEADER_SIZE + 4, sigCountAt, sigCountAt + 1, sigCountAt + 1 + 65 * 8, HEADER_SIZE + 3, HEADER_SIZE + 4]
    const { ok, errors } = fuzz('block', 0x5eed_b10c, inputs, hotspots, 2000, decodeBlock, encodeBlock as (v: never) => Uint8Array)
    // The fuzz must exercise both outcomes and several distinct rules.
    assert.ok(ok > 50, `only ${ok} mutations decoded`)
    assert.ok(errors.size >= 5, `only ${[...errors.keys()].join(',')} errors`)
    for (const code of ['TRUNCATED', 'TRAILING_BYTES', 'TOO_LARGE', 'NON_CANONICAL']) assert.ok(errors.has(code), `fuzz never hit ${code}`)
  })

  test('1,000 mutations of round messages', () => {
    const inputs = roundMessages.map(encodeRoundMessage)
    const { ok, errors } = fuzz('round-message', 0xc0ffee, inputs, [0, 33, 34, 35, 36, 37, 38, 39], 1000, decodeRoundMessage,
      encodeRoundMessage as (v: never) => Uint8Array)
    assert.ok(ok > 20)
    assert.ok(errors.has('UNKNOWN_KIND') && errors.has('TRUNCATED'))
  })

  test('500 mutations of release/resume messages and txs', () => {
    const q1 = fuzz('quorum-message', 0xabcdef, quorumMessages.map(encodeQuorumMessage), [0, 1, 2], 500, decodeQuorumMessage,
      encodeQuorumMessage as (v: never) => Uint8Array)
    assert.ok(q1.ok > 10 && q1.errors.size >= 2)
    const t1 = fuzz('tx', 0x7777, txs.map(encodeTx), [0], 500, decodeTx, encodeTx as (v: never) => Uint8Array)
    assert.ok(t1.ok > 10 && t1.errors.size >= 2)
  })

  test('300 mutations of a checkpoint: decoded ones re-encode identically, failures are CHECKPOINT_INVALID', () => {
    const bytes = encodeChainState(state)
    const rand = testRandom(0xc4ec4)
    let ok = 0
    for (let i = 0; i < 300; i++) {
      const m = mutate(rand, bytes, [0, 1 + 32 + 32 + HEADER_SIZE + 3])
      try {
        const s = decodeChainState(net.config, m)
        assert.ok(equals(encodeChainState(s), m))
        ok++
      } catch (err) {
        assert.ok(err instanceof ProtocolError && err.code === 'CHECKPOINT_INVALID', `checkpoint #${i}: ${String(err)}`)
      }
    }
    assert.ok(ok < 300)
  })
})
