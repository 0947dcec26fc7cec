/**
 * The Pulse launch bug, as a test. In Oxen's launch, nodes that upgraded at different heights derived the
 * validators' sort keys from their OWN stored history, computed different quorums, and rejected each
 * other's signatures: no block for 67 rounds. Their testnet never showed it because every test node
 * upgraded at the same moment.
 *
 * Here one chain of >= 2,000 blocks is built in-process (rounds 0..3, absent validators, validators that
 * commit but never reveal, registrations,
 * removals, a re-registration, a stall and resume) and several simulated nodes follow it, each arriving
 * at its state in a different way:
 *   - genesis:    processes every block from genesis;
 *   - cp300/900/1500: join from a checkpoint (encodeChainState -> bytes -> decodeChainState) at that height;
 *   - restarter:  from genesis, its state serialised and decoded (a restart) several times mid-run;
 *   - upgrader:   from genesis, then at height 1200 re-derives its state by replaying every stored block from
 *                 genesis (as an upgraded binary would) and continues from the replayed state;
 *   - offline:    from genesis, misses heights 601..1000, then syncs the stored blocks and continues.
 * At every height every live node must compute the byte-identical quorum for every (parent, round 0..3),
 * the same tip hash, and the same encoded state.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  computeNextQuorum, computeNextStallTime, concat, decodeBlock, decodeChainState, encodeBlock, encodeChainState, equals, processBlock,
  processGenesis, selectCertificate, toHex
} from '../../src/protocol/index.ts'
import type { Block, ChainState, Quorum, Transaction } from '../../src/protocol/index.ts'
import { buildBlock, buildGenesis, createTestNetwork, registerTx, signResume } from '../helpers/chain-builder.ts'
import type { BuildOptions } from '../helpers/chain-builder.ts'
import { testSigners } from '../helpers/keys.ts'
import { testRandom } from '../helpers/assert.ts'

const TOTAL = 2_000
const CHECKPOINT_JOINS = [300, 900, 1500]
const RESTARTS = [450, 1001, 1650]
const UPGRADE_AT = 1200
const OFFLINE = { from: 601, to: 1000 }
const RESUME_AT = 1000
const ROUNDS = [0, 1, 2, 3]

interface SimNode {
  name: string
  state?: ChainState
  /** Heights at which this node checked quorums against the reference. */
  checked: number
}

function quorumBytes (q: Quorum): Uint8Array {
  return concat(q.parentHash, new Uint8Array([q.round]), q.producer, ...q.validators)
}

test('nodes that join, restart and upgrade at different heights agree on every quorum (>= 2,000 blocks)', async (t) => {
  const started = performance.now()
  const net = createTestNetwork({ label: 'agreement', validators: 16, releaseSigners: 5, threshold: 3 })
  const late = testSigners('agreement/late', 30)
  const lateIds = new Set(late.map((s) => toHex(s.publicKey)))
  const rand = testRandom(0xa9ee)
  const { block: genesisBlock, state: g } = await buildGenesis(net)
  const stored: Uint8Array[] = [] // stored[h - 1] = encoded block at height h

  const replay = async (upTo: number): Promise<ChainState> => {
    let s = await processGenesis(net.config, genesisBlock, net.verifier)
    for (let h = 1; h <= upTo; h++) s = (await processBlock(s, decodeBlock(stored[h - 1]!), { verifier: net.verifier })).state
    return s
  }

  const nodes: SimNode[] = [
    { name: 'genesis', state: g, checked: 0 },
    { name: 'restarter', state: await processGenesis(net.config, genesisBlock, net.verifier), checked: 0 },
    { name: 'upgrader', state: await processGenesis(net.config, genesisBlock, net.verifier), checked: 0 },
    { name: 'offline', state: await processGenesis(net.config, genesisBlock, net.verifier), checked: 0 },
    ...CHECKPOINT_JOINS.map((h) => ({ name: `cp${h}`, checked: 0 }))
  ]
  const reference = nodes[0]!
  const byName = (name: string): SimNode => nodes.find((n) => n.name === name)!

  // Scenario bookkeeping, to prove the run covered what it claims.
  const roundsUsed = new Map<number, number>()
  let registrations = 0
  let reRegistered = false
  let absentTotal = 0
  let silentTotal = 0
  let lateValidated = 0
  const removed = new Set<string>()
  let lateIdx = 0
  let signTime = 0
  let processTime = 0
  let quorumTime = 0

  // Validators that go silent for a while (so they are removed), by public key.
  const flaky = [
    { key: net.validators[0]!.publicKey, from: 100, to: 600 },
    { key: net.validators[1]!.publicKey, from: 150, to: 700 },
    { key: net.validators[2]!.publicKey, from: 800, to: 1300 },
    { key: late[0]!.publicKey, from: 700, to: 1100 }
  ]

  for (let h = 1; h <= TOTAL; h++) {
    const ref = reference.state!
    assert.equal(ref.tip.header.height, h - 1)

    // ---- choose this block's scenario ----
    const opts: BuildOptions = { extraSigners: late, unsignedRoundMessages: true }
    const resume = h === RESUME_AT
    const round = resume ? 0 : rand.int(10) < 7 ? 0 : 1 + rand.int(3)
    opts.round = round
    const q = computeNextQuorum(ref, round)
    const absent = new Set<number>()
    for (const f of flaky) {
      if (h < f.from || h > f.to) continue
      const p = q.validators.findIndex((k) => equals(k, f.key))
      if (p >= 0) absent.add(p)
    }
    const extraAbsent = rand.int(10) < 3 ? 1 + rand.int(2) : 0
    for (let i = 0; i < extraAbsent && absent.size < 4; i++) absent.add(rand.int(11))
    opts.absent = [...absent]
    absentTotal += absent.size
    opts.signers = 7 + rand.int(11 - absent.size - 6)
    // Committed but silent at the reveal: left out of the reveal bitset, at least 7 still reveal.
    const silent = new Set<number>()
    const extraSilent = rand.int(10) < 2 ? 1 + rand.int(2) : 0
    for (let i = 0; i < extraSilent && 11 - absent.size - silent.size > 7; i++) {
      const p = rand.int(11)
      if (!absent.has(p)) silent.add(p)
    }
    opts.silent = [...silent]
    silentTotal += silent.size
    const txs: Transaction[] = []
    if (h % 55 === 20 && lateIdx < late.length) {
      txs.push(await registerTx(net, late[lateIdx++]!))
      if (h % 3 === 0 && lateIdx < late.length) txs.push(await registerTx(net, late[lateIdx++]!))
    }
    // late[0] is removed while silent; it registers again afterwards.
    if (h === 1600) {
      assert.ok(!ref.registry.has(toHex(late[0]!.publicKey)), 'scenario: late[0] should have been removed by now')
      txs.push(await registerTx(net, late[0]!))
      reRegistered = true
    }
    opts.txs = txs
    registrations += txs.length
    if (resume) {
      const stall = computeNextStallTime(ref)
      const msgs = await Promise.all([4, 1, 3, 2].map(async (i, k) => await signResume(net, i, ref.tip.hash, stall + 17 * k)))
      opts.cert = selectCertificate(msgs, net.config.releaseThreshold)
    }

    let t0 = performance.now()
    const block: Block = await buildBlock(net, ref, opts)
    signTime += performance.now() - t0
    const bytes = encodeBlock(block)
    stored.push(bytes)
    roundsUsed.set(round, (roundsUsed.get(round) ?? 0) + 1)
    for (const s of block.signatures) if (lateIds.has(toHex(q.validators[s.index]!))) lateValidated++

    // ---- every live node processes the block it received as bytes ----
    t0 = performance.now()
    const live = nodes.filter((n) => n.state !== undefined && !(n.name === 'offline' && h >= OFFLINE.from && h <= OFFLINE.to))
    await Promise.all(live.map(async (n) => {
      const r = await processBlock(n.state!, decodeBlock(bytes), { verifier: net.verifier, now: block.header.timestamp })
      n.state = r.state
    }))
    processTime += performance.now() - t0

    // ---- node lifecycle events after height h ----
    if (CHECKPOINT_JOINS.includes(h)) byName(`cp${h}`).state = decodeChainState(net.config, encodeChainState(reference.state!))
    if (RESTARTS.includes(h)) {
      const r = byName('restarter')
      r.state = decodeChainState(net.config, encodeChainState(r.state!))
    }
    if (h === UPGRADE_AT) {
      const u = byName('upgrader')
      const replayed = await replay(h)
      assert.ok(equals(encodeChainState(replayed), encodeChainState(u.state!)), 'the replayed state differs from the running one')
      u.state = replayed
    }
    if (h === OFFLINE.to) {
      const o = byName('offline')
      let s = o.state!
      assert.equal(s.tip.header.height, OFFLINE.from - 1)
      for (let k = OFFLINE.from; k <= h; k++) s = (await processBlock(s, decodeBlock(stored[k - 1]!), { verifier: net.verifier })).state
      o.state = s
    }

    // ---- agreement: tip, full state, and every (parent, round) quorum ----
    t0 = performance.now()
    const refState = reference.state!
    const refEncoded = encodeChainState(refState)
    const refQuorums = ROUNDS.map((r) => quorumBytes(computeNextQuorum(refState, r)))
    for (const n of nodes) {
      if (n === reference || n.state === undefined) continue
      if (n.name === 'offline' && h >= OFFLINE.from && h < OFFLINE.to) continue
      assert.ok(equals(n.state.tip.hash, refState.tip.hash), `${n.name}: tip differs at height ${h}`)
      assert.ok(equals(encodeChainState(n.state), refEncoded), `${n.name}: state differs at height ${h}`)
      for (const r of ROUNDS) {
        assert.ok(equals(quorumBytes(computeNextQuorum(n.state, r)), refQuorums[r]!), `${n.name}: quorum for round ${r} on top of height ${h} differs`)
      }
      n.checked++
    }
    quorumTime += performance.now() - t0

    for (const id of ref.registry.keys()) if (!refState.registry.has(id)) removed.add(id)
  }

  // ---- the run covered what it claims ----
  const final = reference.state!
  assert.equal(final.tip.header.height, TOTAL)
  for (const r of ROUNDS) assert.ok((roundsUsed.get(r) ?? 0) > 50, `round ${r} used ${roundsUsed.get(r) ?? 0} times`)
  assert.ok(registrations >= 30, `registrations: ${registrations}`)
  assert.ok(reRegistered && final.registry.has(toHex(late[0]!.publicKey)), 'late[0] re-registered')
  for (const f of flaky.slice(0, 3)) assert.ok(removed.has(toHex(f.key)), 'every flaky genesis validator was removed')
  assert.ok(removed.has(toHex(late[0]!.publicKey)), 'the flaky late validator was removed')
  assert.ok(absentTotal > 500, `absent duties: ${absentTotal}`)
  assert.ok(silentTotal > 300, `silent reveals: ${silentTotal}`)
  assert.ok(lateValidated > 1000, `late validators signed ${lateValidated} times`)
  assert.equal(final.anchor.height, RESUME_AT, 'the resume block re-anchored the schedule')
  const expectedChecks: Record<string, number> = {
    restarter: TOTAL, upgrader: TOTAL, offline: TOTAL - (OFFLINE.to - OFFLINE.from), cp300: TOTAL - 299, cp900: TOTAL - 899, cp1500: TOTAL - 1499
  }
  for (const n of nodes) if (n !== reference) assert.equal(n.checked, expectedChecks[n.name], `${n.name} checks`)

  const total = performance.now() - started
  t.diagnostic(`blocks=${TOTAL} nodes=${nodes.length} total=${(total / 1000).toFixed(1)}s build=${(signTime / 1000).toFixed(1)}s ` +
    `process=${(processTime / 1000).toFixed(1)}s agreement-checks=${(quorumTime / 1000).toFixed(1)}s ` +
    `rounds=${JSON.stringify(Object.fromEntries(roundsUsed))} registrations=${registrations} silent=${silentTotal} removed=${removed.size} active=${final.registry.size}`)
})
