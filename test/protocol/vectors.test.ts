/**
 * Golden vectors: the current code must reproduce test/vectors/prng.json, quorum.json, blocks.json and registry.json exactly
 * (any change in the PRNG or the selection rules fails here; regenerate with test/vectors/generate.ts
 * only on purpose). The files are also checked against a small independent re-implementation of the
 * documented rules (test/vectors/reference.ts: node:crypto SHA-256, written from the docs, not calling the protocol code), and
 * the hand-verifiable properties are checked directly.
 */
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import {
  ErrorCodes, MIN_ACTIVE_VALIDATORS, PRESETS, Prng, QUORUM_SIZE, TAG, computeEntropy, computeIdleOrder,
  computeNetworkId, computeNextRound0Start, computeNextStallTime, computeQueueHead, computeQuorum, computeRegistryRoot, decodeBlock,
  fromHex, processBlock, processGenesis, toHex
} from '../../src/protocol/index.ts'
import type { ChainState, Preset } from '../../src/protocol/index.ts'
import {
  PRNG_SEEDS, SEQUENCE_BOUNDS, UNIFORM_BOUNDS, VECTOR_ROUNDS, ancestryFromJson, blockOutcome, buildBlockVectors, buildPrngVectors,
  buildQuorumVectors, buildRegistryTransitionVectors, computePrngCase, computeRegistryTransition, computeRegistryVectors,
  registryFromJson, registryToJson, sendersToJson, toJson
} from '../vectors/build.ts'
import type {
  BlockVectors, PrngVectors, QuorumVectors, RecordJson, RegistryTransitionCase, RegistryTransitionVectors, RegistryVectors
} from '../vectors/build.ts'
import { networkFromFile } from '../../src/peer/network-file.ts'
import { createNodeVerifier } from '../../src/crypto/node.ts'
import { throwsCode } from '../helpers/assert.ts'
import { RefPrng, refApply, refEntropy, refIdleOrder, refQueueHead, refQuorum, refRegistryRoot } from '../vectors/reference.ts'

const dir = new URL('../vectors/', import.meta.url)
const prngText = readFileSync(new URL('prng.json', dir), 'utf8')
const quorumText = readFileSync(new URL('quorum.json', dir), 'utf8')
const blocksText = readFileSync(new URL('blocks.json', dir), 'utf8')
const registryText = readFileSync(new URL('registry.json', dir), 'utf8')
const prngFile = JSON.parse(prngText) as PrngVectors
const quorumFile = JSON.parse(quorumText) as QuorumVectors
const blocksFile = JSON.parse(blocksText) as BlockVectors
const registryFile = JSON.parse(registryText) as RegistryTransitionVectors

// ---------- PRNG ----------
describe('PRNG vectors (test/vectors/prng.json)', () => {
  test('the file is exactly what the generator writes today', () => {
    assert.equal(prngText, toJson(buildPrngVectors()), 'prng.json is stale or the PRNG changed: run test/vectors/generate.ts only if intended')
  })

  test('the current Prng reproduces every case from the file inputs', () => {
    assert.equal(prngFile.tag, TAG.prng)
    assert.equal(prngFile.cases.length, PRNG_SEEDS.length)
    for (const c of prngFile.cases) {
      const seed = fromHex(c.seed)
      const p = new Prng(seed)
      assert.deepEqual(c.u32.map(() => p.nextU32()), c.u32, `${c.name}: u32 words`)
      for (const u of c.uniform) {
        const q = new Prng(seed)
        assert.deepEqual(u.draws.map(() => q.uniform(u.n)), u.draws, `${c.name}: uniform(${u.n})`)
      }
      const s = new Prng(seed)
      assert.deepEqual(c.sequence.ns.map((n) => s.uniform(n)), c.sequence.draws, `${c.name}: sequence`)
      assert.deepEqual(computePrngCase(c.name, seed), c)
    }
  })

  test('an independent implementation of the documented algorithm agrees with the file', () => {
    for (const c of prngFile.cases) {
      const seed = fromHex(c.seed)
      const r = new RefPrng(seed)
      assert.deepEqual(c.u32.map(() => r.next()), c.u32)
      for (const u of c.uniform) {
        const q = new RefPrng(seed)
        assert.deepEqual(u.draws.map(() => q.uniform(u.n)), u.draws)
      }
      const s = new RefPrng(seed)
      assert.deepEqual(c.sequence.ns.map((n) => s.uniform(n)), c.sequence.draws)
    }
  })

  test('properties: draws are in range, the bounds cover rejection and the 8-word block boundary', () => {
    assert.ok(prngFile.cases.every((c) => c.u32.length > 16))
    for (const c of prngFile.cases) {
      for (const u of c.uniform) {
        assert.ok(u.draws.every((d) => Number.isInteger(d) && d >= 0 && d < u.n))
        if (u.n === 1) assert.ok(u.draws.every((d) => d === 0))
        // n = 2^32: no rejection, draws are the raw words
        if (u.n === 2 ** 32) assert.deepEqual(u.draws, c.u32.slice(0, u.draws.length))
        // powers of two below 2^32 never reject: draws are words mod n
        if (u.n === 2) assert.deepEqual(u.draws, c.u32.slice(0, u.draws.length).map((w) => w % 2))
      }
    }
    assert.ok(UNIFORM_BOUNDS.includes(2 ** 31 + 1) && SEQUENCE_BOUNDS.includes(2 ** 31 + 1))
    // With n = 2^31 + 1 about half the words are rejected: across all seeds some draw must differ from word % n.
    let rejected = 0
    for (const c of prngFile.cases) {
      const u = c.uniform.find((x) => x.n === 2 ** 31 + 1)!
      if (u.draws.some((d, i) => d !== c.u32[i]! % u.n)) rejected++
    }
    assert.ok(rejected > 0, 'no case exercised rejection sampling')
  })

  test('uniform rejects bounds outside 1..2^32', () => {
    const p = new Prng(new Uint8Array(32))
    for (const n of [0, -1, 1.5, 2 ** 32 + 1, Number.NaN]) assert.throws(() => p.uniform(n), RangeError)
  })
})

// ---------- quorum ----------
function checkRegistry (v: RegistryVectors): void {
  const reg = registryFromJson(v.records)
  // Recomputed by the current code from the file's inputs.
  assert.deepEqual(computeRegistryVectors(v.name, v.height, v.records, v.cases.map(({ entropy, parentHash, round }) => ({ entropy, parentHash, round }))), v)
  assert.equal(toHex(computeRegistryRoot(reg)), v.registryRoot)
  // And by the independent reference.
  assert.equal(refRegistryRoot(v.records), v.registryRoot)
  assert.deepEqual(refIdleOrder(v.records, v.height).map((r) => r.key.toString('hex')), v.idleOrder)
  assert.equal(refQueueHead(v.records, v.height).key.toString('hex'), v.queueHead)
  for (const c of v.cases) {
    assert.deepEqual(refQuorum(v.records, v.height, fromHex(c.entropy), c.round), { producer: c.producer, validators: c.validators },
      `${v.name}: round ${c.round}`)
  }
}

describe('quorum vectors (test/vectors/quorum.json)', () => {
  test('the file is exactly what the generator writes today', () => {
    assert.equal(quorumText, toJson(buildQuorumVectors()), 'quorum.json is stale or selection changed: run test/vectors/generate.ts only if intended')
  })

  test('the current code reproduces every registry case, and so does an independent implementation', () => {
    assert.equal(quorumFile.registries.length, 2)
    for (const v of quorumFile.registries) checkRegistry(v)
  })

  test('the current code and an independent implementation reproduce the entropy cases', () => {
    assert.equal(quorumFile.entropy.length, 5)
    for (const c of quorumFile.entropy) {
      assert.equal(toHex(computeEntropy(ancestryFromJson(c.ancestry))), c.entropy, c.name)
      assert.equal(refEntropy(c), c.entropy, c.name)
    }
    // Different ancestries give different entropy.
    assert.equal(new Set(quorumFile.entropy.map((c) => c.entropy)).size, quorumFile.entropy.length)
  })

  test('rounds 0, 1, 2 and 254 for two entropies per registry', () => {
    for (const v of quorumFile.registries) {
      assert.deepEqual([...new Set(v.cases.map((c) => c.round))], VECTOR_ROUNDS)
      assert.equal(new Set(v.cases.map((c) => c.entropy)).size, 2)
    }
  })

  test('hand-verifiable properties of every case', () => {
    for (const v of quorumFile.registries) {
      const active = v.records.filter((r) => r.activeFrom <= v.height).map((r) => r.publicKey)
      const inactive = v.records.filter((r) => r.activeFrom > v.height).map((r) => r.publicKey)
      assert.ok(inactive.length > 0, 'each registry includes validators that are not active yet')
      assert.deepEqual([...v.idleOrder].sort(), [...active].sort())
      for (const c of v.cases) {
        assert.equal(c.validators.length, QUORUM_SIZE)
        assert.equal(new Set(c.validators).size, QUORUM_SIZE, 'validators are distinct')
        assert.ok(!c.validators.includes(c.producer), 'the producer is not a validator')
        for (const k of [c.producer, ...c.validators]) {
          assert.ok(active.includes(k), 'only active validators are chosen')
          assert.ok(!inactive.includes(k))
        }
        if (c.round === 0) assert.equal(c.producer, v.queueHead, 'round-0 producer is the reward-queue head')
        // Longest-idle first: the swaps only reach the first 10 + partition candidates (the producer removed).
        const rest = v.idleOrder.filter((k) => k !== c.producer)
        const partition = Math.max(1, Math.floor((rest.length - 1) / 2))
        const reachable = new Set(rest.slice(0, QUORUM_SIZE - 1 + partition))
        for (const k of c.validators) assert.ok(reachable.has(k), 'a validator beyond the swap window was chosen')
        if (active.length === MIN_ACTIVE_VALIDATORS) {
          assert.deepEqual([c.producer, ...c.validators].sort(), [...active].sort(), 'with 12 active, all 12 take part')
        }
      }
      // Rounds draw different quorums (with the same entropy).
      const e0 = v.cases.filter((c) => c.entropy === v.cases[0]!.entropy)
      assert.ok(new Set(e0.map((c) => c.producer + c.validators.join())).size === e0.length)
    }
  })

  test('ties are broken by public key (idle order and reward queue)', () => {
    const v = quorumFile.registries[0]!
    const byKey = new Map(v.records.map((r) => [r.publicKey, r]))
    const order = v.idleOrder.map((k) => byKey.get(k)!)
    let ties = 0
    for (let i = 1; i < order.length; i++) {
      const a = order[i - 1]!
      const b = order[i]!
      assert.ok(a.lastValidatedHeight < b.lastValidatedHeight ||
        (a.lastValidatedHeight === b.lastValidatedHeight && a.lastValidatedPosition < b.lastValidatedPosition) ||
        (a.lastValidatedHeight === b.lastValidatedHeight && a.lastValidatedPosition === b.lastValidatedPosition && a.publicKey < b.publicKey))
      if (a.lastValidatedHeight === b.lastValidatedHeight && a.lastValidatedPosition === b.lastValidatedPosition) ties++
    }
    assert.ok(ties >= 3, 'the registry must contain sort-key ties')
    const activeRecords = v.records.filter((r) => r.activeFrom <= v.height)
    const minReward = Math.min(...activeRecords.map((r) => r.lastRewardHeight))
    const tied = activeRecords.filter((r) => r.lastRewardHeight === minReward).map((r) => r.publicKey).sort()
    assert.ok(tied.length >= 2, 'the reward queue head must be a tie')
    assert.equal(v.queueHead, tied[0])
    // Pending validators with an older reward are skipped.
    assert.ok(v.records.some((r) => r.activeFrom > v.height && r.lastRewardHeight < minReward))
  })

  test('selection is a pure function of (registry, entropy, round): insertion order does not matter', () => {
    const v = quorumFile.registries[0]!
    const forward = registryFromJson(v.records)
    const backward = registryFromJson([...v.records].reverse())
    for (const c of v.cases) {
      const a = computeQuorum(forward, fromHex(c.parentHash), v.height, fromHex(c.entropy), c.round)
      const b = computeQuorum(backward, fromHex(c.parentHash), v.height, fromHex(c.entropy), c.round)
      assert.deepEqual(a, b)
    }
    assert.deepEqual(computeIdleOrder(backward, v.height).map((r) => r.id), v.idleOrder)
    assert.equal(computeQueueHead(backward, v.height)!.id, v.queueHead)
  })

  test('fewer than 12 active validators: NOT_ENOUGH_VALIDATORS', () => {
    const v = quorumFile.registries[1]!
    const reg = registryFromJson(v.records.slice(1))
    throwsCode(() => computeQuorum(reg, new Uint8Array(32), v.height, new Uint8Array(32), 0), 'NOT_ENOUGH_VALIDATORS')
  })
})

// ---------- block validity and registry transition vectors ----------

describe('registry transition vectors (test/vectors/registry.json)', () => {
  test('the file is exactly what the generator writes today', () => {
    assert.equal(registryText, toJson(buildRegistryTransitionVectors()))
  })

  test('the current code and an independent implementation of §11 reproduce every case from its inputs', () => {
    assert.ok(registryFile.cases.length >= 10)
    for (const c of registryFile.cases) {
      assert.equal(refRegistryRoot(c.before), c.rootBefore, c.name)
      assert.deepEqual(computeRegistryTransition(c), c, c.name)
      assert.deepEqual(refApply(c), c.after, `${c.name} (reference)`)
      assert.equal(refRegistryRoot(c.after), c.rootAfter, c.name)
      assert.equal(refQueueHead(c.before, c.height).key.toString('hex'), c.queueHead, c.name)
    }
  })

  test('the cases show each rule: both updates on the head, removal only from the quorum, the floor, deletion', () => {
    const byName = (s: string): RegistryTransitionCase => registryFile.cases.find((c) => c.name.startsWith(s))!
    const rec = (rs: RecordJson[], key: string): RecordJson | undefined => rs.find((r) => r.publicKey === key)
    const backup = byName('backup round: the queue head sits at position 5 and serves')
    const head = rec(backup.after, backup.queueHead)!
    assert.equal(backup.validators[5], backup.queueHead)
    assert.deepEqual([head.lastRewardHeight, head.lastValidatedHeight, head.lastValidatedPosition], [backup.height, backup.height, 5])
    const outside = byName('a validator outside the quorum')
    assert.equal(outside.after.length, outside.before.length)
    const floor13 = byName('floor: 13 active')
    assert.equal(floor13.after.length, 12)
    assert.equal(rec(floor13.after, floor13.validators[4]!), undefined, 'position 4 goes first')
    assert.equal(rec(floor13.after, floor13.validators[8]!)!.missed, PRESETS.devnet.maxMissed, 'position 8 stays at maxMissed')
    const pending = byName('floor counts a record that becomes active at h + 1')
    assert.equal(pending.after.length, pending.before.length - 1)
    const regs = byName('floor is counted before')
    assert.equal(regs.after.length, regs.before.length + 2)
    const withheld = byName('position 3 committed and withheld its reveal')
    assert.notEqual(withheld.bitset, withheld.revealBitset)
    assert.equal(rec(withheld.after, withheld.validators[3]!)!.missed, 3, 'charged a miss (2 -> 3) although it committed')
  })
})

describe('block validity vectors (test/vectors/blocks.json)', () => {
  test('the file is exactly what the generator writes today', async () => {
    assert.equal(blocksText, toJson(await buildBlockVectors()))
  })

  test('run from the file alone: network, genesis, chain, then every case gives its expected outcome', async () => {
    const verifier = createNodeVerifier()
    const config = networkFromFile({ ...blocksFile.network, preset: blocksFile.network.preset as Preset['name'] })
    assert.equal(toHex(computeNetworkId(config)), blocksFile.networkId)
    let state: ChainState = await processGenesis(config, decodeBlock(fromHex(blocksFile.genesis.block)), verifier)
    assert.equal(toHex(state.tip.hash), blocksFile.genesis.hash)
    for (const b of blocksFile.chain) state = (await processBlock(state, decodeBlock(fromHex(b)), { verifier })).state
    const tip = blocksFile.tip
    assert.deepEqual(
      { height: state.tip.header.height, hash: toHex(state.tip.hash), registryRoot: toHex(state.tip.header.registryRoot), nextRound0Start: computeNextRound0Start(state), stallTime: computeNextStallTime(state), registry: registryToJson(state.registry), senders: sendersToJson(state.senders) },
      tip)
    assert.ok(tip.senders.length > 0, 'the chain leaves a data sender record at the tip')
    assert.equal(refRegistryRoot(tip.registry, tip.senders), tip.registryRoot)
    for (const c of blocksFile.cases) {
      const out = await blockOutcome(state, fromHex(c.block), c.now, verifier)
      assert.equal(out.code, c.expect, c.name)
      if (c.expect === 'valid') {
        assert.equal(toHex(out.hash!), c.hash, c.name)
        assert.deepEqual(registryToJson(out.state!.registry), c.registryAfter, c.name)
        assert.deepEqual(sendersToJson(out.state!.senders), c.sendersAfter, c.name)
        assert.equal(refRegistryRoot(c.registryAfter!, c.sendersAfter), toHex(decodeBlock(fromHex(c.block)).header.registryRoot), c.name)
      }
    }
  })

  test('the cases cover every expressible §10 rule and every decoding error', () => {
    const codes = new Set(blocksFile.cases.map((c) => c.expect))
    const expected = [
      'valid', 'TRUNCATED', 'TRAILING_BYTES', 'NON_CANONICAL', 'TOO_LARGE', 'UNKNOWN_KIND', 'BAD_VERSION', 'CERT_UNEXPECTED',
      'CERT_ROOT_MISMATCH', 'STALE', 'WRONG_HEIGHT', 'UNKNOWN_PARENT', 'ROUND_OUT_OF_RANGE', 'BAD_TIMESTAMP', 'FUTURE', 'WRONG_PRODUCER',
      'BITSET_INVALID', 'RANDOM_MISMATCH', 'QUORUM_INSUFFICIENT', 'SIGNER_ORDER', 'SIGNER_NOT_IN_BITSET', 'TX_ROOT_MISMATCH', 'TX_DUPLICATE',
      'ALREADY_REGISTERED', 'REGISTRY_ROOT_MISMATCH', 'RELEASE_INSUFFICIENT', 'NOT_A_RELEASE_SIGNER', 'RELEASE_INVALID', 'BAD_SIGNATURE',
      'TX_INVALID'
    ]
    assert.deepEqual(expected.filter((c) => !codes.has(c)), [])
    for (const c of codes) assert.ok(c === 'valid' || c in ErrorCodes, c)
    for (let step = 1; step <= 20; step++) {
      // Step 10's NOT_ENOUGH_VALIDATORS cannot occur on a valid chain (the §11 floor keeps 12 active), but step 10 has WRONG_PRODUCER.
      assert.ok(blocksFile.cases.some((c) => new RegExp(`§10 steps? [0-9, ]*\\b${step}\\b`).test(c.rule) || c.rule === `§10 step ${step}`), `no case for §10 step ${step}`)
    }
  })
})
