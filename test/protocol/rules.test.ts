/**
 * Every protocol rule with its coded error. Blocks are built with the chain builder and then tampered
 * with; where the tampering changes the header, the derived roots are recomputed and the block is
 * re-signed by the real quorum, so only the rule under test can fail.
 */
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import {
  ErrorCodes, MAX_ROUND, MIN_ACTIVE_VALIDATORS, PRESETS, PRODUCER_POSITION, ProtocolError, QUORUM_SIZE, SIGNATURES_REQUIRED, ZERO32,
  addRoundMessage, assembleBlock, blockSigningMessage, buildFinal, buildTemplate, computeBlockHash, computeCommitment, computeIdleOrder,
  computeNextQuorum, computeNextRound0Start, computeNextStallTime, computeQueueHead, computeRandomValue, computeRound0Start, computeRoundAt, computeRoundStart,
  computeStallTime, concat, createGenesisBlock, createRoundState, decodeBlock, decodeChainState, encodeBlock, encodeChainState,
  equals, missingReveals, processBlock, processGenesis, quorumSigningMessage, registerSigningMessage, selectCertificate, sha256, toHex, utf8,
  validateCertificate, validateNetworkConfig, validateQuorumMessage, validateRoundMessage, HEADER_SIZE, verifyTrustedState, parseCheckpoint,
  formatCheckpoint
} from '../../src/protocol/index.ts'
import type {
  Block, CertEntry, ChainState, ErrorCode, GossipAction, QuorumMessage, ReleaseMessage, RoundMessage, RoundState, TrustedCheckpoint
} from '../../src/protocol/index.ts'
import type { Signer } from '../../src/crypto/types.ts'
import {
  buildBlock, buildChain, buildGenesis, createTestNetwork, recomputeRoots, registerTx, resignBlock, signRelease, signResume,
  signRound, signerFor
} from '../helpers/chain-builder.ts'
import type { TestNetwork } from '../helpers/chain-builder.ts'
import { testSigners } from '../helpers/keys.ts'
import { flip, rejectsCode, throwsCode } from '../helpers/assert.ts'

// ---- intended gossip actions ----
/**
 * Ignore (drop without penalty) only what depends on the receiver's own view: its chain position, its
 * clock, what it has already seen. Everything provably wrong from the message itself is rejected.
 */
const IGNORED: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'UNKNOWN_PARENT', 'STALE', 'FUTURE', 'WRONG_HEIGHT', 'DUPLICATE', 'CHAIN_STALLED', 'NOT_ENOUGH_VALIDATORS',
  'ALREADY_REGISTERED', 'LOCKED', 'MEMPOOL_FULL', 'TX_EXPIRED', 'INCLUSION_TIMEOUT', 'NO_PEERS', 'PEER_STOPPED', 'CHECKPOINT_EXPIRED', 'CHECKPOINT_UNAVAILABLE',
  // a served header that is not ours may be another fork's; a proof we cannot check, or nobody holds, is no one's fault
  'HEADER_MISMATCH', 'PROOF_UNVERIFIABLE', 'PROOF_NOT_FOUND', 'BLOCK_NOT_HELD'
])
const intended = (code: ErrorCode): GossipAction => IGNORED.has(code) ? 'ignore' : 'reject'

const seenCodes = new Set<ErrorCode>()
async function rejects (p: Promise<unknown> | (() => Promise<unknown>), code: ErrorCode): Promise<ProtocolError> {
  const err = await rejectsCode(p, code)
  assert.equal(err.action, intended(code), `${code} should ${intended(code)}`)
  seenCodes.add(code)
  return err
}
function throws (fn: () => unknown, code: ErrorCode): ProtocolError {
  const err = throwsCode(fn, code)
  assert.equal(err.action, intended(code), `${code} should ${intended(code)}`)
  seenCodes.add(code)
  return err
}

// ---- fixtures ----
const net = createTestNetwork({ label: 'rules' })
const timing = PRESETS.devnet.timing
const genesis = await buildGenesis(net)
const base = await buildChain(net, genesis.state, 4)
const S = base.state
const good = await buildBlock(net, S)
const goodRound1 = await buildBlock(net, S, { round: 1 })
const r0 = computeNextRound0Start(S)

const run = async (b: Block, state: ChainState = S, now?: number): Promise<ChainState> =>
  (await processBlock(state, b, now === undefined ? { verifier: net.verifier } : { verifier: net.verifier, now })).state

/** A copy of `from` changed by `mutate`, with roots recomputed (optional) and re-signed by the real quorum. */
async function tamper (mutate: (b: Block) => void, opts: { from?: Block, roots?: boolean, quorumRound?: number, state?: ChainState } = {}): Promise<Block> {
  const state = opts.state ?? S
  let b = structuredClone(opts.from ?? good)
  mutate(b)
  if (opts.roots === true) b = recomputeRoots(state, b)
  return await resignBlock(net, state, b, opts.quorumRound ?? b.header.round)
}

function keyOutsideQuorum (state: ChainState, round: number): Signer {
  const q = computeNextQuorum(state, round)
  const inside = new Set([q.producer, ...q.validators].map(toHex))
  const key = net.validators.find((s) => !inside.has(toHex(s.publicKey)))
  assert.ok(key !== undefined, 'the fixture needs a validator outside the quorum')
  return key
}

describe('gossip actions', () => {
  test('every error code maps to the intended action', () => {
    for (const code of Object.keys(ErrorCodes) as ErrorCode[]) {
      assert.equal(new ProtocolError(code).action, intended(code), code)
    }
    assert.ok(IGNORED.size > 0 && Object.keys(ErrorCodes).length > IGNORED.size * 2)
  })
})

describe('block rules', () => {
  test('controls: the untampered blocks are valid (round 0 with 11 signatures, round 1, 7 signatures, now = timestamp)', async () => {
    assert.equal(good.signatures.length, QUORUM_SIZE)
    const next = await run(good)
    assert.equal(next.tip.header.height, S.tip.header.height + 1)
    await run(goodRound1)
    await run({ ...good, signatures: good.signatures.slice(0, SIGNATURES_REQUIRED) })
    await run(good, S, good.header.timestamp)
    // The tampering helper is neutral: re-signing an unchanged block keeps it valid.
    await run(await tamper(() => {}, { roots: true }))
  })

  test('height at or below the tip: STALE; above tip + 1: WRONG_HEIGHT', async () => {
    await rejects(run(base.blocks[0]!), 'STALE')
    await rejects(run(good, await run(good)), 'STALE')
    await rejects(run(await tamper((b) => { b.header.height = S.tip.header.height }, { roots: true })), 'STALE')
    const err = await rejects(run(await tamper((b) => { b.header.height += 1 }, { roots: true })), 'WRONG_HEIGHT')
    assert.equal(err.details.expected, S.tip.header.height + 1)
  })

  test('unknown parent: UNKNOWN_PARENT', async () => {
    await rejects(run(await tamper((b) => { b.header.parentHash = sha256(utf8('elsewhere')) })), 'UNKNOWN_PARENT')
    // A block claiming the tip's parent as its parent (at the tip's height + 1) is refused too.
    await rejects(run(await tamper((b) => { b.header.parentHash = base.state.ancestry.at(-2)!.hash })), 'UNKNOWN_PARENT')
  })

  test('timestamp not the start of its round: BAD_TIMESTAMP', async () => {
    assert.equal(good.header.timestamp, r0)
    assert.equal(goodRound1.header.timestamp, r0 + timing.roundMs)
    for (const delta of [1, -1, timing.roundMs, -timing.maxClockDriftMs]) {
      await rejects(run(await tamper((b) => { b.header.timestamp += delta })), 'BAD_TIMESTAMP')
    }
    // A round-1 block stamped with the round-0 start.
    await rejects(run(await tamper((b) => { b.header.timestamp = r0 }, { from: goodRound1 })), 'BAD_TIMESTAMP')
  })

  test('round 255: ROUND_OUT_OF_RANGE (it decodes, the chain rule rejects it); round 254 is valid', async () => {
    const b = await tamper((x) => {
      x.header.round = 255
      x.header.timestamp = computeRoundStart(timing, r0, 255)
    }, { quorumRound: 0 })
    const decoded = decodeBlock(encodeBlock(b))
    assert.equal(decoded.header.round, 255)
    await rejects(run(decoded), 'ROUND_OUT_OF_RANGE')
    throws(() => computeNextQuorum(S, 255), 'ROUND_OUT_OF_RANGE')
    throws(() => computeNextQuorum(S, -1), 'ROUND_OUT_OF_RANGE')
    const last = await buildBlock(net, S, { round: MAX_ROUND })
    assert.equal(last.header.timestamp, r0 + MAX_ROUND * timing.roundMs)
    await run(last)
  })

  test('producer not the one selected for the round: WRONG_PRODUCER', async () => {
    const q0 = computeNextQuorum(S, 0)
    const q1 = computeNextQuorum(S, 1)
    assert.ok(!equals(q0.producer, q1.producer), 'fixture: rounds 0 and 1 need different producers')
    await rejects(run(await tamper((b) => { b.header.producer = q0.validators[0]! })), 'WRONG_PRODUCER')
    await rejects(run(await tamper((b) => { b.header.producer = q1.producer })), 'WRONG_PRODUCER')
    // The round-1 block relabelled as round 0 (with the round-0 time): its producer is not round 0's.
    await rejects(run(await tamper((b) => { b.header.round = 0; b.header.timestamp = r0 }, { from: goodRound1, roots: true, quorumRound: 0 })), 'WRONG_PRODUCER')
  })

  test('bitset with fewer than 7 members: BITSET_INVALID', async () => {
    const b = await tamper((x) => {
      x.header.bitset = 0b000_0011_1111
      x.signatures = x.signatures.filter((s) => s.index < 6)
    }, { roots: true })
    await rejects(run(b), 'BITSET_INVALID')
  })

  test('a silent bitset member: the block names the revealers, random value over their reveals only, valid', async () => {
    const b = await buildBlock(net, S, { silent: [3] })
    assert.equal(b.header.bitset, 0x7ff)
    assert.equal(b.header.revealBitset, 0x7ff & ~(1 << 3))
    assert.equal(b.reveals.length, 10)
    assert.ok(equals(b.header.randomValue, computeRandomValue(b.reveals)))
    assert.ok(!equals(b.header.randomValue, good.header.randomValue), 'the silent reveal is not part of the random value')
    assert.ok(b.signatures.some((x) => x.index === 3), 'a member that did not reveal may still sign')
    await run(b)
    // Three silent, 8 revealed: still a block.
    await run(await buildBlock(net, S, { silent: [0, 5, 10] }))
  })

  test('reveal bitset not a subset of the commit bitset: BITSET_INVALID', async () => {
    const partial = await buildBlock(net, S, { absent: [2] })
    assert.equal(partial.header.bitset & (1 << 2), 0)
    // Position 2 named as revealed (with a made-up reveal) although it never committed.
    const b = await tamper((x) => {
      x.header.revealBitset |= 1 << 2
      x.reveals.splice(2, 0, sha256(utf8('not committed')))
    }, { from: partial, roots: true })
    const err = await rejects(run(b), 'BITSET_INVALID')
    assert.equal(err.details.field, 'revealBitset')
    assert.equal(err.details.reason, 'not a subset of the commit bitset')
  })

  test('fewer than 7 reveals: BITSET_INVALID', async () => {
    const seven = await buildBlock(net, S, { silent: [0, 1, 2, 3] })
    assert.equal(seven.reveals.length, 7)
    await run(seven)
    const b = await tamper((x) => {
      x.header.revealBitset &= ~(1 << 4)
      x.reveals.shift()
    }, { from: seven, roots: true })
    const err = await rejects(run(b), 'BITSET_INVALID')
    assert.equal(err.details.revealed, 6)
  })

  test('reveals not matching the reveal bitset in number: BITSET_INVALID', async () => {
    const err = await rejects(run(await tamper((x) => { x.reveals.pop() }, { roots: true })), 'BITSET_INVALID')
    assert.equal(err.details.field, 'reveals')
  })

  test('a random value that is not the hash of exactly the named reveals: RANDOM_MISMATCH', async () => {
    const silent = await buildBlock(net, S, { silent: [3] })
    // Quorum-signed, but the random value of all 11 reveals (the silent one included) in a header naming 10.
    await rejects(run(await tamper((x) => { x.header.randomValue = good.header.randomValue }, { from: silent })), 'RANDOM_MISMATCH')
    // Any other value, re-signed by the quorum.
    await rejects(run(await tamper((x) => { x.header.randomValue = sha256(utf8('other random')) })), 'RANDOM_MISMATCH')
    // The reveals changed under the signed header (they are bound by the random value).
    await rejects(run({ ...good, reveals: [sha256(utf8('swapped')), ...good.reveals.slice(1)] }), 'RANDOM_MISMATCH')
    await rejects(run({ ...good, reveals: [good.reveals[1]!, good.reveals[0]!, ...good.reveals.slice(2)] }), 'RANDOM_MISMATCH')
  })

  test('6 signatures: QUORUM_INSUFFICIENT', async () => {
    for (const keep of [[0, 1, 2, 3, 4, 5], [5, 6, 7, 8, 9, 10], []]) {
      const b = { ...good, signatures: good.signatures.filter((s) => keep.includes(s.index)) }
      await rejects(run(b), 'QUORUM_INSUFFICIENT')
    }
  })

  test('signer indices not strictly ascending, duplicated or >= 11: SIGNER_ORDER', async () => {
    const sigs = good.signatures
    const swapped = [sigs[1]!, sigs[0]!, ...sigs.slice(2)]
    await rejects(run({ ...good, signatures: swapped }), 'SIGNER_ORDER')
    await rejects(run({ ...good, signatures: [sigs[0]!, sigs[0]!, ...sigs.slice(1, 7)] }), 'SIGNER_ORDER')
    await rejects(run({ ...good, signatures: [...sigs.slice(1, 8).reverse()] }), 'SIGNER_ORDER')
    await rejects(run({ ...good, signatures: [...sigs.slice(0, 7), { index: 11, signature: sigs[7]!.signature }] }), 'SIGNER_ORDER')
    await rejects(run({ ...good, signatures: [...sigs.slice(0, 7), { index: 255, signature: sigs[7]!.signature }] }), 'SIGNER_ORDER')
  })

  test('a signer outside the bitset: SIGNER_NOT_IN_BITSET', async () => {
    const partial = await buildBlock(net, S, { absent: [3] })
    assert.equal(partial.header.bitset & (1 << 3), 0)
    await run(partial)
    // Position 3's real validator signs the real hash; it still was not in the bitset.
    const q = computeNextQuorum(S, 0)
    const sig = await signerFor(net, q.validators[3]!).sign(blockSigningMessage(net.networkId, computeBlockHash(partial.header)))
    const signatures = [...partial.signatures.filter((s) => s.index < 3), { index: 3, signature: sig }, ...partial.signatures.filter((s) => s.index > 3)]
    const err = await rejects(run({ ...partial, signatures }), 'SIGNER_NOT_IN_BITSET')
    assert.equal(err.details.index, 3)
  })

  test('forged signatures, signatures by keys outside the quorum, over other data: BAD_SIGNATURE', async () => {
    for (const at of [0, 5, 10]) {
      const b = structuredClone(good)
      flip(b.signatures[at]!.signature, 17, 0x01)
      const err = await rejects(run(b), 'BAD_SIGNATURE')
      assert.equal(err.details.index, b.signatures[at]!.index)
    }
    const msg = blockSigningMessage(net.networkId, computeBlockHash(good.header))
    const q = computeNextQuorum(S, 0)
    const impostors: Signer[] = [keyOutsideQuorum(S, 0), signerFor(net, q.producer), signerFor(net, q.validators[4]!)]
    for (const impostor of impostors) {
      const b = structuredClone(good)
      b.signatures[2] = { index: b.signatures[2]!.index, signature: await impostor.sign(msg) }
      await rejects(run(b), 'BAD_SIGNATURE')
    }
    // The right key over the wrong data: another block's hash, the bare hash, another network.
    const v2 = signerFor(net, q.validators[2]!)
    const other = createTestNetwork({ label: 'rules-other' })
    for (const wrong of [
      blockSigningMessage(net.networkId, computeBlockHash(goodRound1.header)),
      computeBlockHash(good.header),
      blockSigningMessage(other.networkId, computeBlockHash(good.header))
    ]) {
      const b = structuredClone(good)
      b.signatures[2] = { index: 2, signature: await v2.sign(wrong) }
      await rejects(run(b), 'BAD_SIGNATURE')
    }
  })

  test('a valid-looking header with a changed field and the original signatures: BAD_SIGNATURE', async () => {
    // Other reveals with the random value recomputed: every cheap check passes, the signatures do not.
    const b = recomputeRoots(S, { ...structuredClone(good), reveals: good.reveals.map((_, i) => sha256(utf8(`other reveal ${i}`))) })
    assert.ok(!equals(b.header.randomValue, good.header.randomValue))
    await rejects(run(b), 'BAD_SIGNATURE')
  })

  test('txRoot, registryRoot, certRoot mismatches', async () => {
    await rejects(run(await tamper((b) => { b.header.txRoot = sha256(utf8('x')) })), 'TX_ROOT_MISMATCH')
    const withTx = await buildBlock(net, S, { txs: [await registerTx(net, testSigners('rules/late', 1)[0]!)] })
    await run(withTx)
    await rejects(run(await tamper((b) => { b.txs = [] }, { from: withTx })), 'TX_ROOT_MISMATCH')
    await rejects(run(await tamper((b) => { b.header.registryRoot = sha256(utf8('x')) })), 'REGISTRY_ROOT_MISMATCH')
    // The registry root of the state before the block, or one computed with another bitset, is wrong too.
    await rejects(run(await tamper((b) => { b.header.registryRoot = S.tip.header.registryRoot })), 'REGISTRY_ROOT_MISMATCH')
    const partial = await buildBlock(net, S, { absent: [0] })
    await rejects(run(await tamper((b) => { b.header.registryRoot = good.header.registryRoot }, { from: partial })), 'REGISTRY_ROOT_MISMATCH')
    await rejects(run(await tamper((b) => { b.header.certRoot = sha256(utf8('x')) })), 'CERT_ROOT_MISMATCH')
  })

  test('a header whose schedule anchor is not the chain\'s: ANCHOR_MISMATCH', async () => {
    assert.deepEqual([good.header.anchorHeight, good.header.anchorTimestamp], [S.anchor.height, S.anchor.timestamp])
    await rejects(run(await tamper((b) => { b.header.anchorHeight = 1 })), 'ANCHOR_MISMATCH')
    await rejects(run(await tamper((b) => { b.header.anchorTimestamp += 1 })), 'ANCHOR_MISMATCH')
    // A resume block anchors the schedule at itself; one that keeps the old anchor is refused.
    const stall = computeNextStallTime(S)
    const resume = await buildBlock(net, S, { cert: asCert(await Promise.all([0, 1, 2].map(async (i) => await signResume(net, i, S.tip.hash, stall + i)))) })
    assert.deepEqual([resume.header.anchorHeight, resume.header.anchorTimestamp], [resume.header.height, resume.header.timestamp])
    await rejects(run(await tamper((b) => { b.header.anchorHeight = S.anchor.height; b.header.anchorTimestamp = S.anchor.timestamp }, { from: resume })), 'ANCHOR_MISMATCH')
  })

  test('the same registration twice in a block: TX_DUPLICATE; an already registered key: ALREADY_REGISTERED', async () => {
    const late = testSigners('rules/late', 2)
    const tx = await registerTx(net, late[0]!)
    await rejects(run(await tamper((b) => { b.txs = [tx, tx] }, { roots: true })), 'TX_DUPLICATE')
    const tx1 = await registerTx(net, late[1]!)
    await rejects(run(await tamper((b) => { b.txs = [tx, tx1, tx] }, { roots: true })), 'TX_DUPLICATE')
    const existing = await registerTx(net, net.validators[3]!)
    await rejects(run(await tamper((b) => { b.txs = [existing] }, { roots: true })), 'ALREADY_REGISTERED')
    // Registered in one block, registering again in the next one.
    const s1 = await run(await buildBlock(net, S, { txs: [tx] }))
    await rejects(run(await tamper((b) => { b.txs = [tx] }, { from: await buildBlock(net, s1), roots: true, state: s1 }), s1), 'ALREADY_REGISTERED')
    // The round state machine refuses such templates as well.
    const rs = createRoundState(S, 0, r0)
    for (let p = 0; p < QUORUM_SIZE; p++) addRoundMessage(S, rs, unsignedCommit(rs, p, secretFor(p)))
    throws(() => buildTemplateAndAdd(rs, [tx, tx]), 'TX_DUPLICATE')
  })

  test('a registration with a bad signature: TX_INVALID', async () => {
    const late = testSigners('rules/late', 3)
    const tx = await registerTx(net, late[2]!)
    const forged = { ...tx, signature: tx.signature.slice() }
    flip(forged.signature, 5, 0x10)
    await rejects(run(await buildBlock(net, S, { txs: [forged] })), 'TX_INVALID')
    // Signed by another key, or for another network.
    const byOther = { ...tx, signature: await late[1]!.sign(registerSigningMessage(net.networkId, tx.publicKey)) }
    await rejects(run(await buildBlock(net, S, { txs: [byOther] })), 'TX_INVALID')
    const other = createTestNetwork({ label: 'rules-other' })
    await rejects(run(await buildBlock(net, S, { txs: [await registerTx(other, late[2]!)] })), 'TX_INVALID')
    await run(await buildBlock(net, S, { txs: [tx] }))
  })

  test('a timestamp beyond now + max clock drift: FUTURE', async () => {
    const ts = good.header.timestamp
    await rejects(run(good, S, ts - timing.maxClockDriftMs - 1), 'FUTURE')
    await rejects(run(good, S, 0), 'FUTURE')
    await run(good, S, ts - timing.maxClockDriftMs)
    await run(good, S, ts + 10 * timing.roundMs)
  })

  test('header version other than 2: BAD_VERSION', async () => {
    await rejects(run(await tamper((b) => { b.header.version = 1 })), 'BAD_VERSION')
  })
})

// ---- round state machine ----
function secretFor (p: number, salt = 'a'): Uint8Array {
  return sha256(utf8(`rules-secret/${salt}/${p}`))
}
function unsignedCommit (rs: RoundState, position: number, secret: Uint8Array): RoundMessage {
  return { kind: 'commit', parentHash: rs.parentHash, round: rs.round, position, commitment: computeCommitment(secret), signature: new Uint8Array(64) }
}
function unsignedReveal (rs: RoundState, position: number, secret: Uint8Array): RoundMessage {
  return { kind: 'reveal', parentHash: rs.parentHash, round: rs.round, position, secret, signature: new Uint8Array(64) }
}
function buildTemplateAndAdd (rs: RoundState, txs: Block['txs'] = []): RoundMessage {
  const t = { ...buildTemplate(rs, txs), signature: new Uint8Array(64) } as RoundMessage
  addRoundMessage(S, rs, t)
  return t
}
function validatorSigner (rs: RoundState, p: number): Signer {
  return signerFor(net, p === PRODUCER_POSITION ? rs.quorum.producer : rs.quorum.validators[p]!)
}

describe('round rules', () => {
  test('control: a round fed through validateRoundMessage + addRoundMessage yields a block processBlock accepts', async () => {
    const rs = createRoundState(S, 0, r0)
    const add = async (m: RoundMessage): Promise<void> => {
      await validateRoundMessage(net.networkId, rs, m, net.verifier)
      addRoundMessage(S, rs, m)
    }
    for (let p = 0; p < QUORUM_SIZE; p++) {
      if (p === 4) continue
      await add(await signRound(net, validatorSigner(rs, p), { kind: 'commit', parentHash: rs.parentHash, round: 0, position: p, commitment: computeCommitment(secretFor(p)) }))
    }
    await add(await signRound(net, validatorSigner(rs, PRODUCER_POSITION), buildTemplate(rs, [])))
    for (let p = QUORUM_SIZE - 1; p >= 0; p--) {
      if (p === 4) continue
      await add(await signRound(net, validatorSigner(rs, p), { kind: 'reveal', parentHash: rs.parentHash, round: 0, position: p, secret: secretFor(p) }))
    }
    // Every reveal is in, but only the producer's final message makes the header.
    assert.equal(rs.header, undefined)
    await add(await signRound(net, validatorSigner(rs, PRODUCER_POSITION), buildFinal(rs)))
    assert.ok(rs.blockHash !== undefined)
    assert.equal(rs.header!.revealBitset, rs.header!.bitset)
    for (let p = 0; p < 8; p++) {
      if (p === 4) continue
      const blockSignature = await validatorSigner(rs, p).sign(blockSigningMessage(net.networkId, rs.blockHash))
      await add(await signRound(net, validatorSigner(rs, p), { kind: 'signature', parentHash: rs.parentHash, round: 0, position: p, blockHash: rs.blockHash, blockSignature }))
    }
    const block = assembleBlock(rs)
    assert.equal(block.signatures.length, 7)
    await run(block)
  })

  test('commits: the same twice is DUPLICATE, a different one is EQUIVOCATION (state unchanged)', () => {
    const rs = createRoundState(S, 0, r0)
    addRoundMessage(S, rs, unsignedCommit(rs, 2, secretFor(2)))
    throws(() => addRoundMessage(S, rs, unsignedCommit(rs, 2, secretFor(2))), 'DUPLICATE')
    throws(() => addRoundMessage(S, rs, unsignedCommit(rs, 2, secretFor(2, 'b'))), 'EQUIVOCATION')
    assert.ok(equals(rs.commits[2]!, computeCommitment(secretFor(2))))
  })

  test('a reveal not matching its commit: REVEAL_MISMATCH (before and after the template)', () => {
    const rs = createRoundState(S, 0, r0)
    for (let p = 0; p < QUORUM_SIZE; p++) addRoundMessage(S, rs, unsignedCommit(rs, p, secretFor(p)))
    throws(() => addRoundMessage(S, rs, unsignedReveal(rs, 1, secretFor(1, 'b'))), 'REVEAL_MISMATCH')
    assert.equal(rs.reveals[1], undefined)
    // After the template, the template's commitment is the reference, also for a validator whose commit we missed.
    const rs2 = createRoundState(S, 0, r0)
    for (let p = 0; p < QUORUM_SIZE; p++) addRoundMessage(S, rs2, unsignedCommit(rs2, p, secretFor(p)))
    const t = buildTemplate(rs2, [])
    const rs3 = createRoundState(S, 0, r0)
    addRoundMessage(S, rs3, { ...t, signature: new Uint8Array(64) } as RoundMessage)
    throws(() => addRoundMessage(S, rs3, unsignedReveal(rs3, 7, secretFor(7, 'b'))), 'REVEAL_MISMATCH')
    addRoundMessage(S, rs3, unsignedReveal(rs3, 7, secretFor(7)))
    throws(() => addRoundMessage(S, rs3, unsignedReveal(rs3, 7, secretFor(7))), 'DUPLICATE')
  })

  test('templates: the same twice is DUPLICATE, a second different one is EQUIVOCATION', async () => {
    const rs = createRoundState(S, 0, r0)
    for (let p = 0; p < QUORUM_SIZE; p++) addRoundMessage(S, rs, unsignedCommit(rs, p, secretFor(p)))
    const tx = await registerTx(net, testSigners('rules/late', 1)[0]!)
    const t1 = await signRound(net, validatorSigner(rs, PRODUCER_POSITION), buildTemplate(rs, []))
    const t2 = await signRound(net, validatorSigner(rs, PRODUCER_POSITION), buildTemplate(rs, [tx]))
    addRoundMessage(S, rs, t1)
    throws(() => addRoundMessage(S, rs, structuredClone(t1)), 'DUPLICATE')
    throws(() => addRoundMessage(S, rs, t2), 'EQUIVOCATION')
    const fewer = { ...t1, bitset: t1.kind === 'template' ? t1.bitset & ~1 : 0, commitments: t1.kind === 'template' ? t1.commitments.slice(1) : [] } as RoundMessage
    throws(() => addRoundMessage(S, rs, fewer), 'EQUIVOCATION')
    assert.equal(rs.template, t1)
  })

  test('a template commitment differing from the one the validator sent: TEMPLATE_MISMATCH', () => {
    const rs = createRoundState(S, 0, r0)
    for (let p = 0; p < QUORUM_SIZE; p++) addRoundMessage(S, rs, unsignedCommit(rs, p, secretFor(p)))
    const t = buildTemplate(rs, [])
    const commitments = t.commitments.slice()
    commitments[5] = computeCommitment(secretFor(5, 'producer-made-this-up'))
    const err = throws(() => addRoundMessage(S, rs, { ...t, commitments, signature: new Uint8Array(64) } as RoundMessage), 'TEMPLATE_MISMATCH')
    assert.equal(err.details.position, 5)
    assert.equal(rs.template, undefined)
  })

  test('a template with fewer than 7 members or mismatched commitments: BITSET_INVALID', () => {
    const rs = createRoundState(S, 0, r0)
    for (let p = 0; p < 6; p++) addRoundMessage(S, rs, unsignedCommit(rs, p, secretFor(p)))
    throws(() => buildTemplate(rs, []), 'QUORUM_INSUFFICIENT')
    const six = { kind: 'template', parentHash: rs.parentHash, round: 0, position: PRODUCER_POSITION, bitset: 0b11_1111, commitments: rs.commits.slice(0, 6) as Uint8Array[], txs: [], signature: new Uint8Array(64) } as RoundMessage
    throws(() => addRoundMessage(S, rs, six), 'BITSET_INVALID')
    addRoundMessage(S, rs, unsignedCommit(rs, 6, secretFor(6)))
    const short = { ...buildTemplate(rs, []), signature: new Uint8Array(64) }
    throws(() => addRoundMessage(S, rs, { ...short, commitments: short.commitments.slice(1) } as RoundMessage), 'BITSET_INVALID')
  })

  test('block signatures: over another hash is TEMPLATE_MISMATCH, outside the bitset is SIGNER_NOT_IN_BITSET, early ones wait', async () => {
    const rs = createRoundState(S, 0, r0)
    for (let p = 0; p < QUORUM_SIZE; p++) if (p !== 9) addRoundMessage(S, rs, unsignedCommit(rs, p, secretFor(p)))
    buildTemplateAndAdd(rs)
    // Find the hash this round will produce, from a twin round fed the same messages.
    const twin = createRoundState(S, 0, r0)
    for (let p = 0; p < QUORUM_SIZE; p++) if (p !== 9) addRoundMessage(S, twin, unsignedCommit(twin, p, secretFor(p)))
    buildTemplateAndAdd(twin)
    for (let p = 0; p < QUORUM_SIZE; p++) if (p !== 9) addRoundMessage(S, twin, unsignedReveal(twin, p, secretFor(p)))
    const final = { ...buildFinal(twin), signature: new Uint8Array(64) }
    addRoundMessage(S, twin, final)
    const hash = twin.blockHash!
    const sigMsg = (p: number, blockHash: Uint8Array): RoundMessage =>
      ({ kind: 'signature', parentHash: rs.parentHash, round: 0, position: p, blockHash, blockSignature: new Uint8Array(64).fill(p), signature: new Uint8Array(64) })
    // Before the header is final here, a signature is kept, then adopted once the header matches.
    addRoundMessage(S, rs, sigMsg(0, hash))
    for (let p = 0; p < QUORUM_SIZE; p++) if (p !== 9) addRoundMessage(S, rs, unsignedReveal(rs, p, secretFor(p)))
    assert.equal(rs.blockHash, undefined, 'not final before the final message')
    addRoundMessage(S, rs, final)
    assert.ok(equals(rs.blockHash!, hash))
    assert.ok(rs.blockSignatures[0] !== undefined)
    throws(() => addRoundMessage(S, rs, sigMsg(1, sha256(utf8('another block')))), 'TEMPLATE_MISMATCH')
    throws(() => addRoundMessage(S, rs, sigMsg(9, hash)), 'SIGNER_NOT_IN_BITSET')
    addRoundMessage(S, rs, sigMsg(1, hash))
    throws(() => addRoundMessage(S, rs, sigMsg(1, hash)), 'DUPLICATE')
  })

  test('final message: the producer names >= 7 revealers; a validator that missed reveals takes them from it', async () => {
    const rs = createRoundState(S, 0, r0)
    for (let p = 0; p < QUORUM_SIZE; p++) addRoundMessage(S, rs, unsignedCommit(rs, p, secretFor(p)))
    buildTemplateAndAdd(rs)
    // Positions 2 and 8 never reveal; the producer holds the other 9.
    for (let p = 0; p < QUORUM_SIZE; p++) if (p !== 2 && p !== 8) addRoundMessage(S, rs, unsignedReveal(rs, p, secretFor(p)))
    assert.deepEqual(missingReveals(rs), [2, 8])
    assert.equal(rs.header, undefined)
    const final = { ...buildFinal(rs), signature: new Uint8Array(64) } as RoundMessage
    assert.ok(final.kind === 'final' && final.revealBitset === (0x7ff & ~(1 << 2) & ~(1 << 8)) && final.reveals.length === 9)
    addRoundMessage(S, rs, final)
    assert.equal(rs.header!.revealBitset, final.revealBitset)
    assert.ok(equals(rs.header!.randomValue, computeRandomValue(final.reveals)))
    // A validator that saw the template but only 3 reveals computes the same header from the final message.
    const other = createRoundState(S, 0, r0)
    addRoundMessage(S, other, rs.template!)
    for (const p of [0, 1, 3]) addRoundMessage(S, other, unsignedReveal(other, p, secretFor(p)))
    addRoundMessage(S, other, structuredClone(final))
    assert.ok(equals(other.blockHash!, rs.blockHash!))
    // Final before template: kept, checked when the template comes.
    const early = createRoundState(S, 0, r0)
    addRoundMessage(S, early, structuredClone(final))
    assert.equal(early.header, undefined)
    addRoundMessage(S, early, rs.template!)
    assert.ok(equals(early.blockHash!, rs.blockHash!))
    // The same again: DUPLICATE; a different one (one more reveal): EQUIVOCATION.
    throws(() => addRoundMessage(S, rs, structuredClone(final)), 'DUPLICATE')
    addRoundMessage(S, rs, unsignedReveal(rs, 8, secretFor(8)))
    throws(() => addRoundMessage(S, rs, { ...buildFinal(rs), signature: new Uint8Array(64) }), 'EQUIVOCATION')
    assert.equal(rs.final, final)
    // The block it makes is valid, and the two silent members are charged a miss.
    for (let p = 0; p < 7; p++) rs.blockSignatures[p] = await validatorSigner(rs, p).sign(blockSigningMessage(net.networkId, rs.blockHash!))
    const next = await run(assembleBlock(rs))
    for (let p = 0; p < QUORUM_SIZE; p++) {
      const id = toHex(rs.quorum.validators[p]!)
      const before = S.registry.get(id)!.missed
      assert.equal(next.registry.get(id)!.missed, p === 2 || p === 8 ? before + 1 : Math.max(0, before - 1), `position ${p}`)
    }
  })

  test('final message rules: not a subset, < 7, wrong count: BITSET_INVALID; a reveal not matching: REVEAL_MISMATCH', () => {
    const rs = createRoundState(S, 0, r0)
    for (let p = 0; p < QUORUM_SIZE; p++) if (p !== 6) addRoundMessage(S, rs, unsignedCommit(rs, p, secretFor(p)))
    buildTemplateAndAdd(rs)
    const finalOf = (positions: number[], secret = (p: number) => secretFor(p)): RoundMessage => ({
      kind: 'final', parentHash: rs.parentHash, round: 0, position: PRODUCER_POSITION,
      revealBitset: positions.reduce((b, p) => b | (1 << p), 0), reveals: positions.map(secret), signature: new Uint8Array(64)
    })
    const all = [0, 1, 2, 3, 4, 5, 7, 8, 9, 10]
    // Position 6 is not in the template bitset.
    let err = throws(() => addRoundMessage(S, rs, finalOf([...all.slice(0, 6), 6, ...all.slice(6)])), 'BITSET_INVALID')
    assert.equal(err.details.reason, 'not a subset of the commit bitset')
    err = throws(() => addRoundMessage(S, rs, finalOf(all.slice(0, 6))), 'BITSET_INVALID')
    assert.equal(err.details.revealed, 6)
    err = throws(() => addRoundMessage(S, rs, { ...finalOf(all), reveals: all.slice(1).map((p) => secretFor(p)) } as RoundMessage), 'BITSET_INVALID')
    assert.equal(err.details.field, 'reveals')
    err = throws(() => addRoundMessage(S, rs, finalOf(all, (p) => secretFor(p, p === 9 ? 'b' : 'a'))), 'REVEAL_MISMATCH')
    assert.equal(err.details.position, 9)
    assert.equal(rs.final, undefined, 'nothing was kept')
    // The producer cannot build a final message from fewer than 7 reveals.
    for (const p of [0, 1, 2, 3, 4, 5]) addRoundMessage(S, rs, unsignedReveal(rs, p, secretFor(p)))
    throws(() => buildFinal(rs), 'QUORUM_INSUFFICIENT')
    addRoundMessage(S, rs, unsignedReveal(rs, 10, secretFor(10)))
    addRoundMessage(S, rs, { ...buildFinal(rs), signature: new Uint8Array(64) })
    assert.equal(rs.header!.revealBitset, 0b100_0011_1111)
    // A final message that came before the template and does not fit it is dropped when the template arrives.
    const early = createRoundState(S, 0, r0)
    addRoundMessage(S, early, finalOf(all, (p) => secretFor(p, 'b')))
    addRoundMessage(S, early, rs.template!)
    assert.equal(early.final, undefined)
    assert.equal(early.header, undefined)
  })

  test('final messages only from the producer: NOT_IN_QUORUM', async () => {
    const rs = createRoundState(S, 0, r0)
    await rejects(validateRoundMessage(net.networkId, rs, await signRound(net, validatorSigner(rs, 3),
      { kind: 'final', parentHash: rs.parentHash, round: 0, position: 3, revealBitset: 0x7ff, reveals: [] }), net.verifier), 'NOT_IN_QUORUM')
    await validateRoundMessage(net.networkId, rs, await signRound(net, validatorSigner(rs, PRODUCER_POSITION),
      { kind: 'final', parentHash: rs.parentHash, round: 0, position: PRODUCER_POSITION, revealBitset: 0x7ff, reveals: [] }), net.verifier)
  })

  test('round messages with the wrong signer, round, parent or position are refused by validateRoundMessage', async () => {
    const rs = createRoundState(S, 1, r0)
    const commit = { kind: 'commit', parentHash: rs.parentHash, round: 1, position: 3, commitment: computeCommitment(secretFor(3)) } as const
    await validateRoundMessage(net.networkId, rs, await signRound(net, validatorSigner(rs, 3), commit), net.verifier)
    // Signed by another member of the quorum, by the producer, by an outsider, over another network.
    for (const wrong of [validatorSigner(rs, 4), validatorSigner(rs, PRODUCER_POSITION), keyOutsideQuorum(S, 1)]) {
      await rejects(validateRoundMessage(net.networkId, rs, await signRound(net, wrong, commit), net.verifier), 'BAD_SIGNATURE')
    }
    const other = createTestNetwork({ label: 'rules-other' })
    await rejects(validateRoundMessage(net.networkId, rs, await signRound(other, validatorSigner(rs, 3), commit), net.verifier), 'BAD_SIGNATURE')
    // Claiming another position changes the signed body and the expected key.
    const signed = await signRound(net, validatorSigner(rs, 3), commit)
    await rejects(validateRoundMessage(net.networkId, rs, { ...signed, position: 2 }, net.verifier), 'BAD_SIGNATURE')
    // Another round or parent: STALE.
    await rejects(validateRoundMessage(net.networkId, rs, await signRound(net, validatorSigner(rs, 3), { ...commit, round: 0 }), net.verifier), 'STALE')
    await rejects(validateRoundMessage(net.networkId, rs, await signRound(net, validatorSigner(rs, 3), { ...commit, parentHash: ZERO32 }), net.verifier), 'STALE')
    // Templates only from the producer; commits only from validators.
    await rejects(validateRoundMessage(net.networkId, rs, await signRound(net, validatorSigner(rs, 3),
      { kind: 'template', parentHash: rs.parentHash, round: 1, position: 3, bitset: 0x7ff, commitments: [], txs: [] }), net.verifier), 'NOT_IN_QUORUM')
    await rejects(validateRoundMessage(net.networkId, rs, await signRound(net, validatorSigner(rs, PRODUCER_POSITION), { ...commit, position: PRODUCER_POSITION }), net.verifier), 'NOT_IN_QUORUM')
    // A signature message whose block signature is bad.
    const v = validatorSigner(rs, 3)
    const blockHash = sha256(utf8('h'))
    const okSig = await v.sign(blockSigningMessage(net.networkId, blockHash))
    const sigBase = { kind: 'signature', parentHash: rs.parentHash, round: 1, position: 3, blockHash } as const
    await validateRoundMessage(net.networkId, rs, await signRound(net, v, { ...sigBase, blockSignature: okSig }), net.verifier)
    const bad = okSig.slice()
    flip(bad, 0, 1)
    const err = await rejects(validateRoundMessage(net.networkId, rs, await signRound(net, v, { ...sigBase, blockSignature: bad }), net.verifier), 'BAD_SIGNATURE')
    assert.equal(err.details.kind, 'block-signature')
  })
})

// ---- registry ----
describe('registry rules', () => {
  test('a registration becomes eligible activationDelay blocks later, then validates and produces', async () => {
    const rnet = createTestNetwork({ label: 'rules-activation' })
    const { state: g } = await buildGenesis(rnet)
    const [late] = testSigners('rules-activation/late', 1) as [Signer]
    const lateId = toHex(late.publicKey)
    const delay = PRESETS.devnet.activationDelay
    let s = (await buildChain(rnet, g, 2)).state
    const regHeight = s.tip.header.height + 1
    s = await runOn(rnet, s, await buildBlock(rnet, s, { txs: [await registerTx(rnet, late)] }))
    const rec = s.registry.get(lateId)!
    assert.equal(rec.registeredHeight, regHeight)
    assert.equal(rec.activeFrom, regHeight + delay)
    assert.ok(!computeIdleOrder(s.registry, regHeight + delay - 1).some((r) => r.id === lateId))
    assert.ok(computeIdleOrder(s.registry, regHeight + delay).some((r) => r.id === lateId))
    let validatedAt = -1
    let producedAt = -1
    for (let i = 0; i < 60 && (validatedAt < 0 || producedAt < 0); i++) {
      const next = s.tip.header.height + 1
      const quorums = [0, 1, 2, 3].map((r) => computeNextQuorum(s, r))
      const inQuorum = quorums.some((q) => q.validators.some((k) => equals(k, late.publicKey)) || equals(q.producer, late.publicKey))
      if (next < regHeight + delay) assert.ok(!inQuorum, `selected at ${next} before activation at ${regHeight + delay}`)
      const q0 = quorums[0]!
      const pos = q0.validators.findIndex((k) => equals(k, late.publicKey))
      const block = await buildBlock(rnet, s, { extraSigners: [late] })
      s = await runOn(rnet, s, block)
      if (pos >= 0 && validatedAt < 0) {
        assert.ok(block.signatures.some((x) => x.index === pos), 'the new validator signed')
        assert.equal(s.registry.get(lateId)!.lastValidatedHeight, next)
        validatedAt = next
      }
      if (equals(q0.producer, late.publicKey) && producedAt < 0) {
        assert.equal(s.registry.get(lateId)!.lastRewardHeight, next)
        producedAt = next
      }
    }
    assert.ok(validatedAt >= regHeight + delay, 'the new validator was never chosen to validate')
    assert.ok(producedAt >= regHeight + delay, 'the new validator never reached the head of the reward queue')
  })

  test('a validator absent maxMissed times (net) is removed; serving decrements the counter', async () => {
    const rnet = createTestNetwork({ label: 'rules-removal' })
    let { state: s } = await buildGenesis(rnet)
    const maxMissed = PRESETS.devnet.maxMissed
    const victim = toHex(rnet.validators[0]!.publicKey)
    const flaky = toHex(rnet.validators[1]!.publicKey)
    // flaky: absent on its first 3 duties, then serves; victim: always absent.
    let flakyDuties = 0
    let victimMissed = 0
    let flakyMissed = 0
    let removedAt = -1
    const flakyTrace: number[] = []
    for (let i = 0; i < 120 && (removedAt < 0 || flakyTrace.length < 5); i++) {
      const q = computeNextQuorum(s, 0)
      const vPos = q.validators.findIndex((k) => toHex(k) === victim)
      const fPos = q.validators.findIndex((k) => toHex(k) === flaky)
      const absent: number[] = []
      if (vPos >= 0) absent.push(vPos)
      if (fPos >= 0 && flakyDuties++ < 3) absent.push(fPos)
      s = await runOn(rnet, s, await buildBlock(rnet, s, { absent }))
      if (vPos >= 0) victimMissed++
      if (fPos >= 0) {
        flakyMissed = absent.includes(fPos) ? flakyMissed + 1 : Math.max(0, flakyMissed - 1)
        flakyTrace.push(s.registry.get(flaky)!.missed)
        assert.equal(s.registry.get(flaky)!.missed, flakyMissed)
      }
      if (!s.registry.has(victim)) {
        if (removedAt < 0) removedAt = s.tip.header.height
        assert.equal(victimMissed, maxMissed, 'removed exactly at maxMissed')
      } else {
        assert.equal(s.registry.get(victim)!.missed, victimMissed)
        assert.ok(victimMissed < maxMissed)
      }
    }
    assert.ok(removedAt > 0, 'the absent validator was never removed')
    assert.equal(s.registry.size, rnet.validators.length - 1)
    assert.deepEqual(flakyTrace.slice(0, 5), [1, 2, 3, 2, 1], 'three misses, then serving decrements')
    // Never selected again.
    for (let i = 0; i < 10; i++) {
      for (let r = 0; r < 4; r++) {
        const q = computeNextQuorum(s, r)
        assert.ok(![q.producer, ...q.validators].some((k) => toHex(k) === victim))
      }
      s = await runOn(rnet, s, await buildBlock(rnet, s))
    }
  })

  test('a validator that commits but never reveals is charged a miss per duty (commit bitset minus reveal bitset) and removed at maxMissed', async () => {
    const rnet = createTestNetwork({ label: 'rules-silent' })
    let { state: s } = await buildGenesis(rnet)
    const silentId = toHex(rnet.validators[4]!.publicKey)
    let duties = 0
    for (let i = 0; i < 60 && s.registry.has(silentId); i++) {
      const q = computeNextQuorum(s, 0)
      const pos = q.validators.findIndex((k) => toHex(k) === silentId)
      const block = await buildBlock(rnet, s, { silent: pos >= 0 ? [pos] : [] })
      assert.equal(block.header.round, 0)
      if (pos >= 0) {
        duties++
        assert.ok((block.header.bitset & (1 << pos)) !== 0, 'it committed')
        assert.equal(block.header.revealBitset & (1 << pos), 0, 'it is not named as revealed')
      }
      s = await runOn(rnet, s, block)
      if (s.registry.has(silentId)) assert.equal(s.registry.get(silentId)!.missed, duties)
    }
    assert.ok(!s.registry.has(silentId), 'the silent validator was never removed')
    assert.equal(duties, PRESETS.devnet.maxMissed, 'removed exactly at maxMissed')
  })

  test('the queue head serving in a backup quorum gets both updates (reward, then validation)', async () => {
    const head = computeQueueHead(S.registry, S.tip.header.height + 1)!
    let round = -1
    let pos = -1
    for (let r = 1; r <= MAX_ROUND && pos < 0; r++) {
      pos = computeNextQuorum(S, r).validators.findIndex((k) => equals(k, head.publicKey))
      if (pos >= 0) round = r
    }
    assert.ok(pos >= 0, 'fixture: the queue head must sit in some backup quorum')
    const h = S.tip.header.height + 1
    for (const absent of [[], [pos]]) {
      const next = await run(await buildBlock(net, S, { round, absent }))
      const rec = next.registry.get(head.id)!
      assert.equal(rec.lastRewardHeight, h, 'step 1: the queue head is rewarded in every round')
      assert.equal(rec.lastValidatedHeight, h, 'step 2 applies on top of step 1')
      assert.equal(rec.lastValidatedPosition, pos)
      assert.equal(rec.missed, absent.length === 0 ? Math.max(0, head.missed - 1) : head.missed + 1)
    }
  })

  test('a key removed in a block cannot register in that same block (ALREADY_REGISTERED), but can in the next', async () => {
    const q = computeNextQuorum(S, 0)
    const vPos = 4
    const victim = signerFor(net, q.validators[vPos]!)
    const id = toHex(victim.publicKey)
    // A state in which the victim is one miss from removal (processBlock does not re-check the parent's root).
    const registry = new Map(S.registry)
    registry.set(id, { ...registry.get(id)!, missed: PRESETS.devnet.maxMissed - 1 })
    const S1: ChainState = { ...S, registry }
    const tx = await registerTx(net, victim)
    const removing = await buildBlock(net, S1, { absent: [vPos] })
    const after = await run(removing, S1)
    assert.ok(!after.registry.has(id), 'removed: the record is deleted')
    // The same block carrying the victim's registration: txs are checked against the registry before the block.
    await rejects(run(await tamper((b) => { b.txs = [tx] }, { from: removing, roots: true, state: S1 }), S1), 'ALREADY_REGISTERED')
    // In the next block it registers afresh.
    const again = await run(await buildBlock(net, after, { txs: [tx] }), after)
    const h = after.tip.header.height + 1
    assert.deepEqual(again.registry.get(id), {
      publicKey: victim.publicKey, id, registeredHeight: h, activeFrom: h + PRESETS.devnet.activationDelay,
      lastValidatedHeight: h, lastValidatedPosition: 0, lastRewardHeight: h, missed: 0
    })
  })

  test('removal never takes the active set below MIN_ACTIVE_VALIDATORS', async () => {
    const rnet = createTestNetwork({ label: 'rules-floor', validators: MIN_ACTIVE_VALIDATORS + 1 })
    let { state: s } = await buildGenesis(rnet)
    const victims = [toHex(rnet.validators[2]!.publicKey), toHex(rnet.validators[7]!.publicKey)]
    const maxMissed = PRESETS.devnet.maxMissed
    for (let i = 0; i < 40; i++) {
      const q = computeNextQuorum(s, 0)
      const absent = q.validators.flatMap((k, p) => victims.includes(toHex(k)) ? [p] : [])
      s = await runOn(rnet, s, await buildBlock(rnet, s, { absent }))
      assert.ok(s.registry.size >= MIN_ACTIVE_VALIDATORS)
    }
    const left = victims.filter((v) => s.registry.has(v))
    assert.equal(s.registry.size, MIN_ACTIVE_VALIDATORS, 'exactly one victim removed')
    assert.equal(left.length, 1)
    const survivor = s.registry.get(left[0]!)!
    assert.ok(survivor.missed > maxMissed, `the survivor keeps missing (missed=${survivor.missed}) but stays`)
    // With 12 active the chain keeps going, and everyone takes part in every block.
    const q = computeNextQuorum(s, 0)
    assert.equal(new Set([q.producer, ...q.validators].map(toHex)).size, MIN_ACTIVE_VALIDATORS)
  })
})

async function runOn (n: TestNetwork, state: ChainState, block: Block): Promise<ChainState> {
  return (await processBlock(state, block, { verifier: n.verifier })).state
}

// ---- timing ----
describe('timing', () => {
  const anchor = { height: 0, timestamp: 1_700_000_000_000 }
  for (const name of ['devnet', 'mainnet'] as const) {
    const t = PRESETS[name].timing
    test(`${name}: round-0 start is the schedule, clamped to [parent + min, parent + max]`, () => {
      const T = anchor.timestamp
      // On schedule.
      assert.equal(computeRound0Start(t, anchor, 10, T + 9 * t.targetBlockMs), T + 10 * t.targetBlockMs)
      // Behind schedule: the parent came late, so the next block comes after the minimum spacing (catch-up).
      const lateParent = T + 9 * t.targetBlockMs + (t.targetBlockMs - t.minBlockMs) + 1
      assert.equal(computeRound0Start(t, anchor, 10, lateParent), lateParent + t.minBlockMs)
      assert.ok(lateParent + t.minBlockMs > T + 10 * t.targetBlockMs)
      // Far behind: still the minimum spacing, never less.
      assert.equal(computeRound0Start(t, anchor, 10, T + 100 * t.targetBlockMs), T + 100 * t.targetBlockMs + t.minBlockMs)
      // Ahead of schedule: the parent came early; the gap is capped at the maximum spacing.
      const earlyParent = T + 9 * t.targetBlockMs - (t.maxBlockMs - t.targetBlockMs) - 1
      assert.equal(computeRound0Start(t, anchor, 10, earlyParent), earlyParent + t.maxBlockMs)
      // A later anchor (resume) restarts the schedule.
      const resumed = { height: 50, timestamp: T + 10_000 * t.targetBlockMs }
      assert.equal(computeRound0Start(t, resumed, 51, resumed.timestamp), resumed.timestamp + t.targetBlockMs)
    })

    test(`${name}: round r starts at r0 + r * roundMs; computeRoundAt; CHAIN_STALLED past round 254`, () => {
      const start = 1_700_000_123_456
      for (const r of [0, 1, 2, 100, MAX_ROUND]) assert.equal(computeRoundStart(t, start, r), start + r * t.roundMs)
      assert.equal(computeRoundAt(t, start, start - 1), -1)
      assert.equal(computeRoundAt(t, start, start), 0)
      assert.equal(computeRoundAt(t, start, start + t.roundMs - 1), 0)
      assert.equal(computeRoundAt(t, start, start + t.roundMs), 1)
      assert.equal(computeRoundAt(t, start, start + (MAX_ROUND + 1) * t.roundMs - 1), MAX_ROUND)
      const stall = computeStallTime(t, start)
      assert.equal(stall, start + (MAX_ROUND + 1) * t.roundMs)
      throws(() => computeRoundAt(t, start, stall), 'CHAIN_STALLED')
      throws(() => computeRoundAt(t, start, stall + 10 * t.roundMs), 'CHAIN_STALLED')
    })
  }

  test('a chain that fell behind catches up at minBlockMs spacing, then runs on the target schedule', async () => {
    const tnet = createTestNetwork({ label: 'rules-catchup' })
    const { state: g } = await buildGenesis(tnet)
    const T0 = g.tip.header.timestamp
    // Three blocks made in round 3: the chain falls behind.
    let s = (await buildChain(tnet, g, 3, () => ({ round: 3, unsignedRoundMessages: true }))).state
    // The first late block is 3 rounds late; the next two start after the minimum spacing, then lose 3 rounds each.
    const behind = s.tip.header.timestamp - (T0 + 3 * timing.targetBlockMs)
    assert.equal(behind, 3 * 3 * timing.roundMs - 2 * (timing.targetBlockMs - timing.minBlockMs))
    const spacings: number[] = []
    for (let i = 0; i < 40; i++) {
      const prev = s.tip.header.timestamp
      s = (await buildChain(tnet, s, 1, () => ({ unsignedRoundMessages: true, signers: 7 }))).state
      spacings.push(s.tip.header.timestamp - prev)
    }
    const catchUp = spacings.findIndex((d) => d !== timing.minBlockMs)
    assert.ok(catchUp > 0, 'no catch-up phase')
    // Catch-up is (behind / (target - min)) blocks at min spacing, then exactly one partial step.
    assert.equal(catchUp, Math.floor(behind / (timing.targetBlockMs - timing.minBlockMs)))
    for (const d of spacings.slice(catchUp + 1)) assert.equal(d, timing.targetBlockMs)
    assert.equal(s.tip.header.timestamp, T0 + s.tip.header.height * timing.targetBlockMs, 'back on schedule')
  })
})

// ---- release quorum (stasis lock) ----
async function releaseMessages (n: TestNetwork, signers: number[], ts = 1_700_000_000_000): Promise<ReleaseMessage[]> {
  return await Promise.all(signers.map(async (i) => await signRelease(n, i, ts + i)))
}
const asCert = (msgs: QuorumMessage[]): CertEntry[] => msgs.map((m) => ({ signer: m.signer, timestamp: m.timestamp, signature: m.signature }))

describe('release quorum', () => {
  const M = net.config.releaseThreshold

  test('control: genesis from M valid release signatures', async () => {
    assert.equal(M, 3)
    const cert = asCert(await releaseMessages(net, [0, 1, 2]))
    const state = await processGenesis(net.config, createGenesisBlock(net.config, cert), net.verifier)
    assert.equal(state.tip.header.height, 0)
    assert.equal(state.tip.header.timestamp, Math.max(...cert.map((c) => c.timestamp)))
    // More than M valid signatures are fine too.
    await processGenesis(net.config, createGenesisBlock(net.config, asCert(await releaseMessages(net, [0, 1, 2, 3, 4]))), net.verifier)
  })

  test('M-1 signatures: RELEASE_INSUFFICIENT', async () => {
    const cert = asCert(await releaseMessages(net, [0, 4]))
    await rejects(processGenesis(net.config, createGenesisBlock(net.config, cert), net.verifier), 'RELEASE_INSUFFICIENT')
    await rejects(validateCertificate(net.config, net.networkId, cert, 'release', net.verifier), 'RELEASE_INSUFFICIENT')
    assert.equal(selectCertificate(await releaseMessages(net, [3, 1]), M), undefined)
  })

  test('one invalid signature from a listed signer rejects the whole certificate: RELEASE_INVALID', async () => {
    const msgs = await releaseMessages(net, [0, 1, 2, 3])
    for (const bad of [0, 3]) {
      const cert = asCert(msgs)
      cert[bad] = { ...cert[bad]!, signature: cert[bad]!.signature.slice() }
      flip(cert[bad]!.signature, 9, 0x80)
      // Even with M valid signatures besides it.
      const err = await rejects(processGenesis(net.config, createGenesisBlock(net.config, cert), net.verifier), 'RELEASE_INVALID')
      assert.equal(err.details.signer, cert[bad]!.signer)
    }
    // Signer 1's signature presented as signer 2's.
    const cert = asCert(msgs.slice(0, 3))
    cert[2] = { signer: 2, timestamp: cert[1]!.timestamp, signature: cert[1]!.signature }
    await rejects(processGenesis(net.config, createGenesisBlock(net.config, cert), net.verifier), 'RELEASE_INVALID')
    // A resume signature is not a release signature (domain separation).
    const resume = await signResume(net, 2, ZERO32, 1_700_000_000_002)
    const mixed = [...asCert(msgs.slice(0, 2)), { signer: 2, timestamp: resume.timestamp, signature: resume.signature }]
    await rejects(processGenesis(net.config, createGenesisBlock(net.config, mixed), net.verifier), 'RELEASE_INVALID')
    // A single message as well.
    const m = msgs[1]!
    await validateQuorumMessage(net.config, net.networkId, m, net.verifier)
    await rejects(validateQuorumMessage(net.config, net.networkId, { ...m, timestamp: m.timestamp + 1 }, net.verifier), 'RELEASE_INVALID')
  })

  test('an unlisted signer index: NOT_A_RELEASE_SIGNER; unordered or repeated indices: SIGNER_ORDER', async () => {
    const msgs = await releaseMessages(net, [0, 1, 2])
    const stranger = testSigners('rules/stranger', 1)[0]!
    const strangerSig = await stranger.sign(quorumSigningMessage(net.networkId, { kind: 'release', timestamp: 5 }))
    const n = net.config.releaseSigners.length
    const cert = [...asCert(msgs.slice(0, 2)), { signer: n, timestamp: 5, signature: strangerSig }]
    await rejects(processGenesis(net.config, createGenesisBlock(net.config, cert), net.verifier), 'NOT_A_RELEASE_SIGNER')
    await rejects(validateQuorumMessage(net.config, net.networkId, { kind: 'release', signer: n, timestamp: 5, signature: strangerSig }, net.verifier), 'NOT_A_RELEASE_SIGNER')
    await rejects(validateQuorumMessage(net.config, net.networkId, { kind: 'release', signer: 255, timestamp: 5, signature: strangerSig }, net.verifier), 'NOT_A_RELEASE_SIGNER')
    const c = asCert(msgs)
    await rejects(validateCertificate(net.config, net.networkId, [c[1]!, c[0]!, c[2]!], 'release', net.verifier), 'SIGNER_ORDER')
    await rejects(validateCertificate(net.config, net.networkId, [c[0]!, c[0]!, c[1]!], 'release', net.verifier), 'SIGNER_ORDER')
  })

  test('certificate entries are checked one at a time: SIGNER_ORDER, then NOT_A_RELEASE_SIGNER, first failing entry wins', async () => {
    const c = asCert(await releaseMessages(net, [0, 1, 2, 3, 4]))
    const n = net.config.releaseSigners.length
    const unlisted = { signer: n + 2, timestamp: 5, signature: c[0]!.signature }
    // Entry 1 is unlisted (but in order); entry 2 is out of order: entry 1 decides.
    await rejects(validateCertificate(net.config, net.networkId, [c[0]!, unlisted, c[1]!], 'release', net.verifier), 'NOT_A_RELEASE_SIGNER')
    // Entry 1 is out of order; entry 2 is unlisted: entry 1 decides.
    await rejects(validateCertificate(net.config, net.networkId, [c[1]!, c[0]!, unlisted], 'release', net.verifier), 'SIGNER_ORDER')
    // An unlisted index after a listed one that is also lower: order holds (n + 2 > 1), listing fails.
    await rejects(validateCertificate(net.config, net.networkId, [c[1]!, c[2]!, unlisted], 'release', net.verifier), 'NOT_A_RELEASE_SIGNER')
    // Both checks come before any signature: a bad signature in entry 0 does not matter.
    const forged = { ...c[0]!, signature: c[0]!.signature.slice() }
    flip(forged.signature, 3, 1)
    await rejects(validateCertificate(net.config, net.networkId, [forged, c[2]!, c[1]!], 'release', net.verifier), 'SIGNER_ORDER')
    // Too few entries comes first of all.
    await rejects(validateCertificate(net.config, net.networkId, [c[1]!, c[0]!], 'release', net.verifier), 'RELEASE_INSUFFICIENT')
  })

  test('selectCertificate picks the M lowest indices (earliest message each), whatever the arrival order', async () => {
    const msgs = await releaseMessages(net, [0, 1, 2, 3, 4])
    const later = await Promise.all([0, 2].map(async (i) => await signRelease(net, i, 1_800_000_000_000)))
    const all = [...msgs, ...later]
    const expected = asCert(msgs.slice(0, 3))
    const rand = (seed: number): (() => number) => () => { seed = (seed * 1_103_515_245 + 12_345) >>> 0; return seed / 2 ** 32 }
    const hashes = new Set<string>()
    for (let k = 0; k < 50; k++) {
      const r = rand(k + 1)
      const order = [...all].sort(() => r() - 0.5)
      const cert = selectCertificate(order, M)
      assert.deepEqual(cert, expected)
      hashes.add(toHex(computeBlockHash(createGenesisBlock(net.config, cert!).header)))
    }
    assert.equal(hashes.size, 1, 'every arrival order gives the same genesis')
    assert.deepEqual(selectCertificate([msgs[4]!, msgs[2]!, msgs[3]!], M), asCert([msgs[2]!, msgs[3]!, msgs[4]!]))
  })

  test('the genesis seed depends on the signer set (and cannot be known before they sign)', async () => {
    const sets = [[0, 1, 2], [1, 2, 3], [0, 1, 3], [2, 3, 4]]
    const seeds = new Set<string>()
    const hashes = new Set<string>()
    for (const set of sets) {
      const block = createGenesisBlock(net.config, asCert(await releaseMessages(net, set)))
      await processGenesis(net.config, block, net.verifier)
      seeds.add(toHex(block.header.randomValue))
      hashes.add(toHex(computeBlockHash(block.header)))
    }
    // Same signers, other timestamps: other seed.
    seeds.add(toHex(createGenesisBlock(net.config, asCert(await releaseMessages(net, [0, 1, 2], 1_700_000_000_100))).header.randomValue))
    assert.equal(seeds.size, sets.length + 1)
    assert.equal(hashes.size, sets.length)
  })

  test('a genesis block that differs from the one the certificate implies: GENESIS_MISMATCH', async () => {
    const block = createGenesisBlock(net.config, asCert(await releaseMessages(net, [0, 1, 2])))
    for (const change of [
      (b: Block) => { b.header.timestamp += 1 },
      (b: Block) => { b.header.randomValue = sha256(utf8('chosen seed')) },
      (b: Block) => { b.header.registryRoot = ZERO32 },
      (b: Block) => { b.header.height = 1 }
    ]) {
      const b = structuredClone(block)
      change(b)
      await rejects(processGenesis(net.config, b, net.verifier), 'GENESIS_MISMATCH')
    }
    await rejects(processGenesis(net.config, { ...block, txs: [await registerTx(net, testSigners('rules/late', 1)[0]!)] }, net.verifier), 'GENESIS_MISMATCH')
  })

  test('network config rules', () => {
    throws(() => validateNetworkConfig({ ...net.config, releaseThreshold: 0 }), 'RELEASE_INSUFFICIENT')
    throws(() => validateNetworkConfig({ ...net.config, releaseThreshold: 6 }), 'RELEASE_INSUFFICIENT')
    throws(() => validateNetworkConfig({ ...net.config, genesisValidators: net.config.genesisValidators.slice(0, MIN_ACTIVE_VALIDATORS - 1) }), 'NOT_ENOUGH_VALIDATORS')
    throws(() => validateNetworkConfig({ ...net.config, genesisValidators: [...net.config.genesisValidators, net.config.genesisValidators[0]!] }), 'TX_DUPLICATE')
    // Release signers must be distinct: one key listed twice would count twice towards M.
    const signers = net.config.releaseSigners
    const dup = throws(() => validateNetworkConfig({ ...net.config, releaseSigners: [...signers.slice(0, 4), signers[1]!] }), 'TX_DUPLICATE')
    assert.equal(dup.details.field, 'releaseSigners')
    // Keys are 32 bytes.
    throws(() => validateNetworkConfig({ ...net.config, releaseSigners: [...signers.slice(0, 4), signers[4]!.slice(0, 31)] }), 'NON_CANONICAL')
    throws(() => validateNetworkConfig({ ...net.config, genesisValidators: [...net.config.genesisValidators, new Uint8Array(33)] }), 'NON_CANONICAL')
    // A release signer may also be a genesis validator (different roles, different messages).
    validateNetworkConfig({ ...net.config, genesisValidators: [...net.config.genesisValidators, signers[0]!] })
    validateNetworkConfig(net.config)
  })
})

// ---- resume after a stall ----
describe('resume after a stall', () => {
  const M = net.config.releaseThreshold
  async function resumeCert (state: ChainState, signers: number[], offsets: number[], parent = state.tip.hash): Promise<CertEntry[]> {
    const stall = computeNextStallTime(state)
    return asCert(await Promise.all(signers.map(async (i, k) => await signResume(net, i, parent, stall + offsets[k]!))))
  }

  test('a stalled chain accepts a block carrying M resume signatures over the stalled tip, anchored at the resume time', async () => {
    const stall = computeNextStallTime(S)
    assert.equal(stall, r0 + (MAX_ROUND + 1) * timing.roundMs)
    const cert = await resumeCert(S, [0, 2, 4], [0, 30, 7])
    for (const round of [0, 2]) {
      const block = await buildBlock(net, S, { cert, round })
      assert.ok(block.cert.length === M && !equals(block.header.certRoot, ZERO32))
      assert.equal(block.header.timestamp, stall + 30 + round * timing.roundMs)
      const resumed = await run(decodeBlock(encodeBlock(block)), S, block.header.timestamp)
      assert.deepEqual(resumed.anchor, { height: block.header.height, timestamp: block.header.timestamp })
      // The schedule restarts from the resume block, and survives a checkpoint.
      const nextBlock = await buildBlock(net, resumed)
      assert.equal(nextBlock.header.timestamp, block.header.timestamp + timing.targetBlockMs)
      const fromCheckpoint = decodeChainState(net.config, encodeChainState(resumed))
      await run(nextBlock, fromCheckpoint)
      await run(nextBlock, resumed)
    }
  })

  test('resume signatures from before the stall: CERT_UNEXPECTED', async () => {
    await rejects(run(await buildBlock(net, S, { cert: await resumeCert(S, [0, 1, 2], [-1, 5, 6]) })), 'CERT_UNEXPECTED')
    await rejects(run(await buildBlock(net, S, { cert: await resumeCert(S, [0, 1, 2], [-100_000, -50_000, -1]) })), 'CERT_UNEXPECTED')
    // A resume certificate on a chain that is not stalled at all (signed at the normal block time).
    const early = asCert(await Promise.all([0, 1, 2].map(async (i) => await signResume(net, i, S.tip.hash, r0))))
    await rejects(run(await buildBlock(net, S, { cert: early })), 'CERT_UNEXPECTED')
  })

  test('M-1 resume signatures: RELEASE_INSUFFICIENT; over another tip, a bad one or release signatures: RELEASE_INVALID', async () => {
    await rejects(run(await buildBlock(net, S, { cert: await resumeCert(S, [1, 3], [0, 0]) })), 'RELEASE_INSUFFICIENT')
    await rejects(run(await buildBlock(net, S, { cert: await resumeCert(S, [0, 1, 2], [0, 1, 2], S.ancestry.at(-2)!.hash) })), 'RELEASE_INVALID')
    const cert = await resumeCert(S, [0, 1, 2, 3], [0, 1, 2, 3])
    flip(cert[3]!.signature, 0, 1)
    await rejects(run(await buildBlock(net, S, { cert })), 'RELEASE_INVALID')
    const stall = computeNextStallTime(S)
    const releases = asCert(await Promise.all([0, 1, 2].map(async (i) => await signRelease(net, i, stall + i))))
    await rejects(run(await buildBlock(net, S, { cert: releases })), 'RELEASE_INVALID')
  })

  test('a resume block with its certRoot zeroed, or timed by the normal schedule, is rejected', async () => {
    const cert = await resumeCert(S, [0, 1, 2], [0, 1, 2])
    const block = await buildBlock(net, S, { cert })
    await rejects(run(await tamper((b) => { b.header.certRoot = ZERO32 }, { from: block })), 'CERT_ROOT_MISMATCH')
    await rejects(run({ ...structuredClone(block), cert: [] }), 'CERT_ROOT_MISMATCH')
    await rejects(run(await buildBlock(net, S, { cert, round0Start: r0 })), 'BAD_TIMESTAMP')
    await run(block)
  })
})

// ---- checkpoints ----
/** A chain past the entropy window (23 ancestors in its state). */
const deep = (await buildChain(net, S, 25, () => ({ unsignedRoundMessages: true, signers: 7 }))).state

describe('checkpoints', () => {
  const ANCESTRY_AT = 1 + 32 + 32 + 1
  const registryAt = (state: ChainState): number => ANCESTRY_AT + state.ancestry.length * HEADER_SIZE + 4
  const RECORD = 67
  const trusted = (state: ChainState): TrustedCheckpoint => ({ height: state.tip.header.height, hash: state.tip.hash })
  const verifyAt = async (state: ChainState, bytes: Uint8Array, now = state.tip.header.timestamp): Promise<ChainState> =>
    await verifyTrustedState(net.config, trusted(state), genesis.block, bytes, { verifier: net.verifier, now })

  test('encodeChainState / decodeChainState round trip; the decoded state processes the next block identically', async () => {
    const resumed = await run(await buildBlock(net, S, { cert: asCert(await Promise.all([0, 1, 2].map(async (i) =>
      await signResume(net, i, S.tip.hash, computeNextStallTime(S) + i)))) }))
    for (const state of [genesis.state, S, resumed, deep]) {
      const bytes = encodeChainState(state)
      const decoded = decodeChainState(net.config, bytes)
      assert.ok(equals(encodeChainState(decoded), bytes))
      assert.deepEqual(decoded.anchor, state.anchor)
      const block = await buildBlock(net, state)
      const a = await run(block, state)
      const b = await run(block, decoded)
      assert.ok(equals(encodeChainState(a), encodeChainState(b)))
    }
  })

  test('any corrupted registry byte: CHECKPOINT_INVALID', () => {
    const bytes = encodeChainState(S)
    const at = registryAt(S)
    assert.equal(bytes.length, at + S.registry.size * RECORD + 4 + S.senders.size * 48, 'layout: the registry, then the data senders, close the state')
    for (let i = at; i < bytes.length; i++) {
      const bad = bytes.slice()
      flip(bad, i, 0x04)
      const err = throws(() => decodeChainState(net.config, bad), 'CHECKPOINT_INVALID')
      assert.ok(err.details.reason !== undefined)
    }
  })

  test('any corrupted byte of an ancestor header breaks the hash links: CHECKPOINT_INVALID', () => {
    const bytes = encodeChainState(deep)
    const n = deep.ancestry.length
    assert.equal(n, 23)
    // Every header but the tip's is bound by its child's parentHash (the version byte fails to decode instead).
    for (let i = ANCESTRY_AT; i < ANCESTRY_AT + (n - 1) * HEADER_SIZE; i += 7) {
      const bad = bytes.slice()
      flip(bad, i, 0x01)
      throws(() => decodeChainState(net.config, bad), 'CHECKPOINT_INVALID')
    }
    const badCount = bytes.slice()
    badCount[ANCESTRY_AT - 1] = n - 1
    throws(() => decodeChainState(net.config, badCount), 'CHECKPOINT_INVALID')
    throws(() => decodeChainState(net.config, concat(bytes, new Uint8Array(1))), 'CHECKPOINT_INVALID')
  })

  test('a trusted checkpoint binds every byte: the tip header to its hash, the rest through it', async () => {
    const bytes = encodeChainState(deep)
    assert.ok(equals(encodeChainState(await verifyAt(deep, bytes)), bytes))
    const seen = new Set<string>()
    for (let i = 0; i < bytes.length; i += 3) {
      const bad = bytes.slice()
      flip(bad, i, 0x02)
      const err = await verifyAt(deep, bad).then(() => undefined, (e: unknown) => e)
      assert.ok(err instanceof ProtocolError && ['CHECKPOINT_INVALID', 'CHECKPOINT_MISMATCH'].includes(err.code), `byte ${i}: ${String(err)}`)
      assert.equal(err.action, 'reject')
      seen.add(err.code)
    }
    assert.deepEqual([...seen].sort(), ['CHECKPOINT_INVALID', 'CHECKPOINT_MISMATCH'])
    // A valid state of another block (the tip's parent) is a mismatch.
    const parent = decodeChainState(net.config, encodeChainState(S))
    await rejects(verifyAt(deep, encodeChainState(parent)), 'CHECKPOINT_MISMATCH')
    // The same state under a trusted hash of another block.
    await rejects(verifyTrustedState(net.config, { height: deep.tip.header.height, hash: S.tip.hash }, genesis.block, bytes,
      { verifier: net.verifier, now: deep.tip.header.timestamp }), 'CHECKPOINT_MISMATCH')
  })

  test('a tampered ancestor with the chain above it re-linked changes the tip hash: CHECKPOINT_MISMATCH', async () => {
    // Depth 12 feeds the entropy: tampering it would select other quorums.
    const i = deep.ancestry.length - 1 - 12
    const ancestry = deep.ancestry.slice()
    for (let k = i; k < ancestry.length; k++) {
      const prev = ancestry[k - 1]!
      const header = { ...ancestry[k]!.header, parentHash: prev.hash, ...(k === i ? { randomValue: sha256(utf8('tampered')) } : {}) }
      ancestry[k] = { ...ancestry[k]!, ...header, hash: computeBlockHash(header), header }
    }
    const relinked: ChainState = { ...deep, ancestry, tip: { hash: ancestry.at(-1)!.hash, header: ancestry.at(-1)!.header } }
    const bytes = encodeChainState(relinked)
    assert.notDeepEqual(computeNextQuorum(decodeChainState(net.config, bytes), 0).validators, computeNextQuorum(deep, 0).validators)
    await rejects(verifyAt(deep, bytes), 'CHECKPOINT_MISMATCH')
  })

  test('a checkpoint older than the trusting period: CHECKPOINT_EXPIRED; another genesis: CHECKPOINT_INVALID', async () => {
    const bytes = encodeChainState(deep)
    const period = PRESETS.devnet.trustingPeriodMs
    await verifyAt(deep, bytes, deep.tip.header.timestamp + period)
    const err = await rejects(verifyAt(deep, bytes, deep.tip.header.timestamp + period + 1), 'CHECKPOINT_EXPIRED')
    assert.equal(err.details.trustingPeriodMs, period)
    const other = await buildGenesis(createTestNetwork({ label: 'rules-other-genesis' }))
    // Another network's genesis: its release certificate was signed for that network.
    await rejects(verifyTrustedState(net.config, trusted(deep), other.block, bytes, { verifier: net.verifier, now: deep.tip.header.timestamp }), 'RELEASE_INVALID')
    // A valid genesis of the same network (released at another time) that the state does not descend from.
    const later = await buildGenesis(net, 1_700_000_000_500)
    assert.ok(!equals(later.state.genesisHash, genesis.state.genesisHash))
    await rejects(verifyTrustedState(net.config, trusted(deep), later.block, bytes, { verifier: net.verifier, now: deep.tip.header.timestamp }), 'CHECKPOINT_INVALID')
  })

  test('a checkpoint whose ancestry is shorter than the chain needs: CHECKPOINT_INVALID (it would select other quorums)', async () => {
    for (const keep of [1, 11, 15, 22]) {
      const truncated: ChainState = { ...deep, ancestry: deep.ancestry.slice(deep.ancestry.length - keep) }
      // Why it matters: such a state selects other quorums than the chain (or none at all).
      if (keep === 11 || keep === 15) assert.notDeepEqual(computeNextQuorum(truncated, 1), computeNextQuorum(deep, 1))
      throws(() => decodeChainState(net.config, encodeChainState(truncated)), 'CHECKPOINT_INVALID')
    }
    const young: ChainState = { ...base.state, ancestry: base.state.ancestry.slice(1) }
    throws(() => decodeChainState(net.config, encodeChainState(young)), 'CHECKPOINT_INVALID')
  })

  test('parseCheckpoint / formatCheckpoint', () => {
    const text = formatCheckpoint(trusted(deep))
    assert.deepEqual(parseCheckpoint(text), trusted(deep))
    assert.deepEqual(parseCheckpoint(' ' + text.toUpperCase() + ' '), trusted(deep))
    for (const bad of ['', '12', `12:${'0'.repeat(63)}`, `0:${'0'.repeat(64)}`, `x:${'0'.repeat(64)}`, `-1:${'0'.repeat(64)}`]) throws(() => parseCheckpoint(bad), 'NON_CANONICAL')
  })
})

describe('coverage of the coded rules', () => {
  test('the suites above hit every block, round, release and checkpoint rule', () => {
    const expected: ErrorCode[] = [
      'STALE', 'WRONG_HEIGHT', 'UNKNOWN_PARENT', 'BAD_TIMESTAMP', 'ROUND_OUT_OF_RANGE', 'WRONG_PRODUCER', 'BITSET_INVALID',
      'QUORUM_INSUFFICIENT', 'SIGNER_ORDER', 'SIGNER_NOT_IN_BITSET', 'BAD_SIGNATURE', 'TX_ROOT_MISMATCH', 'REGISTRY_ROOT_MISMATCH',
      'CERT_ROOT_MISMATCH', 'TX_DUPLICATE', 'ALREADY_REGISTERED', 'TX_INVALID', 'FUTURE', 'BAD_VERSION', 'REVEAL_MISMATCH',
      'EQUIVOCATION', 'DUPLICATE', 'TEMPLATE_MISMATCH', 'NOT_IN_QUORUM', 'CHAIN_STALLED', 'RELEASE_INSUFFICIENT', 'RELEASE_INVALID',
      'NOT_A_RELEASE_SIGNER', 'CERT_UNEXPECTED', 'GENESIS_MISMATCH', 'NOT_ENOUGH_VALIDATORS', 'CHECKPOINT_INVALID', 'RANDOM_MISMATCH',
      'ANCHOR_MISMATCH', 'CHECKPOINT_MISMATCH', 'CHECKPOINT_EXPIRED'
    ]
    const missing = expected.filter((c) => !seenCodes.has(c))
    assert.deepEqual(missing, [])
  })
})
