/**
 * RoundService timeouts with a ManualClock: every validator of the network runs its own RoundService,
 * connected by an in-memory bus that delivers each published round message to every other service.
 * Time moves only when the test advances the clock; `settle()` waits until every signature, verification
 * and delivery in flight has finished (no sleeps: it drains the work the services started).
 */
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import {
  QUORUM_SIZE, SIGNATURES_REQUIRED, computeNextQuorum, computeNextRound0Start, computeRandomValue,
  decodeBlock, decodeRoundMessage, equals, processBlock, toHex
} from '../../src/protocol/index.ts'
import type { Block, ChainState, RoundMessage } from '../../src/protocol/index.ts'
import type { Ed25519Verifier, Signer } from '../../src/crypto/types.ts'
import { RoundService } from '../../src/peer/round-service.ts'
import type { HostileMode } from '../../src/peer/round-service.ts'
import type { ChainService } from '../../src/peer/chain-service.ts'
import { ManualClock } from '../../src/peer/clock.ts'
import { Emitter } from '../../src/peer/events.ts'
import type { PeerEvents } from '../../src/peer/events.ts'
import { Mempool } from '../../src/peer/mempool.ts'
import { silentLogger } from '../../src/peer/logger.ts'
import { buildChain, buildGenesis, createTestNetwork } from '../helpers/chain-builder.ts'
import { testRandom } from '../helpers/assert.ts'

const net = createTestNetwork({ label: 'round-service' })
const { state: g } = await buildGenesis(net)
const S: ChainState = (await buildChain(net, g, 3)).state
const timing = S.preset.timing
const r0 = computeNextRound0Start(S)
const q0 = computeNextQuorum(S, 0)
const q1 = computeNextQuorum(S, 1)

interface Sent { at: number, from: string, msg: RoundMessage }

interface Harness {
  clock: ManualClock
  sent: Sent[]
  blocks: Array<{ at: number, block: Block }>
  settle: () => Promise<void>
  /** Starts round 0 (the clock is put just before it). */
  start: () => Promise<void>
  stop: () => void
}

/**
 * Every genesis validator with its own RoundService. `drop(m, fromKey)` loses a message on the bus (it
 * still reaches the sender's own round state). `hostile` gives one key a hostile mode.
 */
function harness (opts: { drop?: (m: RoundMessage, from: string) => boolean, hostile?: Map<string, HostileMode> } = {}): Harness {
  const clock = new ManualClock(r0 - 10)
  const inflight = new Set<Promise<unknown>>()
  const track = <T>(p: Promise<T>): Promise<T> => {
    inflight.add(p)
    void p.then(() => inflight.delete(p), () => inflight.delete(p))
    return p
  }
  const verifier: Ed25519Verifier = { verify: async (k, m, s) => await track(net.verifier.verify(k, m, s)) }
  const sent: Sent[] = []
  const blocks: Array<{ at: number, block: Block }> = []
  const services: Array<{ key: string, rs: RoundService }> = []
  const rand = testRandom(7)
  for (const v of net.validators) {
    const key = toHex(v.publicKey)
    const signer: Signer = { publicKey: v.publicKey, sign: async (m) => await track(v.sign(m)) }
    const chain = {
      acceptBlock: async (block: Block) => {
        const r = await track(processBlock(S, block, { verifier: net.verifier }))
        blocks.push({ at: clock.now(), block })
        return r.info
      }
    } as unknown as ChainService
    const hostile = opts.hostile?.get(key)
    const rs: RoundService = new RoundService({
      chain,
      verifier,
      clock,
      random: (n) => rand.bytes(n),
      log: silentLogger,
      events: new Emitter<PeerEvents>(),
      mempool: new Mempool(),
      signer,
      ...(hostile !== undefined ? { hostile } : {}),
      publishRound: async (bytes) => {
        const msg = decodeRoundMessage(bytes)
        sent.push({ at: clock.now(), from: key, msg })
        if (opts.drop?.(msg, key) === true) return
        for (const o of services) if (o.rs !== rs) void track(o.rs.handleMessage(bytes).catch(() => {}))
      },
      publishBlock: async (bytes) => { decodeBlock(bytes) }
    })
    services.push({ key, rs })
  }
  const settle = async (): Promise<void> => {
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve))
      if (inflight.size === 0) return
      await Promise.allSettled([...inflight])
    }
  }
  return {
    clock,
    sent,
    blocks,
    settle,
    start: async () => {
      for (const s of services) s.rs.onTip(S)
      clock.advance(10)
      await settle()
    },
    stop: () => { for (const s of services) s.rs.stop() }
  }
}

const keyAt = (p: number): string => toHex(q0.validators[p]!)
const ofKind = (h: Harness, kind: RoundMessage['kind'], round = 0): Sent[] => h.sent.filter((s) => s.msg.kind === kind && s.msg.round === round)

describe('RoundService: reveal timeout (a bitset member that commits and never reveals)', () => {
  test('all reveal: the producer sends the final message at once, without waiting for the reveal timeout', async () => {
    const h = harness()
    try {
      await h.start()
      const template = ofKind(h, 'template')
      assert.equal(template.length, 1)
      assert.equal(template[0]!.at, r0, 'template as soon as all 11 commits are in')
      const final = ofKind(h, 'final')
      assert.equal(final.length, 1)
      assert.equal(final[0]!.at, r0, 'no reveal timeout waited')
      assert.ok(final[0]!.msg.kind === 'final' && final[0]!.msg.revealBitset === 0x7ff)
      assert.equal(h.blocks.length, 1)
      assert.equal(h.blocks[0]!.block.header.revealBitset, 0x7ff)
    } finally { h.stop() }
  })

  test('a silent committer: after revealTimeoutMs the producer finalizes with the other 10; the block is made in round 0', async () => {
    const silent = 4
    const h = harness({ hostile: new Map([[keyAt(silent), 'silent-reveal']]) })
    try {
      await h.start()
      assert.equal(ofKind(h, 'commit').length, QUORUM_SIZE, 'the silent validator committed')
      const template = ofKind(h, 'template')
      assert.equal(template.length, 1)
      assert.ok(template[0]!.msg.kind === 'template' && template[0]!.msg.bitset === 0x7ff)
      assert.equal(ofKind(h, 'reveal').length, QUORUM_SIZE - 1)
      assert.ok(!ofKind(h, 'reveal').some((s) => s.from === keyAt(silent)), 'the silent validator did not reveal')
      // Waiting for the missing reveal, up to the timeout.
      h.clock.advance(timing.revealTimeoutMs - 1)
      await h.settle()
      assert.equal(ofKind(h, 'final').length, 0, 'no final message before revealTimeoutMs')
      assert.equal(h.blocks.length, 0)
      h.clock.advance(1)
      await h.settle()
      const final = ofKind(h, 'final')
      assert.equal(final.length, 1)
      assert.equal(final[0]!.at, template[0]!.at + timing.revealTimeoutMs)
      assert.equal(final[0]!.from, toHex(q0.producer))
      // Every bitset member may sign (the silent one too); the block follows without the signature timeout.
      assert.equal(h.blocks.length, 1, 'a block in round 0')
      const b = h.blocks[0]!.block
      assert.equal(b.header.round, 0)
      assert.equal(b.header.bitset, 0x7ff)
      assert.equal(b.header.revealBitset, 0x7ff & ~(1 << silent), 'the header names the 10 revealers')
      assert.equal(b.reveals.length, 10)
      assert.ok(equals(b.header.randomValue, computeRandomValue(b.reveals)))
      assert.ok(b.signatures.length >= SIGNATURES_REQUIRED)
      const next = (await processBlock(S, b, { verifier: net.verifier })).state
      assert.equal(next.registry.get(keyAt(silent))!.missed, S.registry.get(keyAt(silent))!.missed + 1, 'the silent validator is charged a miss')
      for (let p = 0; p < QUORUM_SIZE; p++) {
        if (p !== silent) assert.equal(next.registry.get(keyAt(p))!.missed, Math.max(0, S.registry.get(keyAt(p))!.missed - 1))
      }
    } finally { h.stop() }
  })

  test('four silent committers leave exactly 7 reveals: still a block in round 0, naming those 7', async () => {
    const silent = [0, 1, 2, 3]
    const h = harness({ hostile: new Map(silent.map((p) => [keyAt(p), 'silent-reveal'])) })
    try {
      await h.start()
      h.clock.advance(timing.revealTimeoutMs)
      await h.settle()
      assert.equal(h.blocks.length, 1)
      const b = h.blocks[0]!.block
      assert.equal(b.header.round, 0)
      assert.equal(b.header.revealBitset, 0x7ff & ~0b1111)
      assert.equal(b.reveals.length, SIGNATURES_REQUIRED)
    } finally { h.stop() }
  })

  test('fewer than 7 reveals: no final message, round 0 fails and the backup round makes the block', async () => {
    // Reveals of round-0 positions 0..4 are lost on the bus: the producer holds 6 reveals.
    const lost = new Set([0, 1, 2, 3, 4].map(keyAt))
    const h = harness({ drop: (m, from) => m.kind === 'reveal' && m.round === 0 && lost.has(from) })
    try {
      await h.start()
      assert.equal(ofKind(h, 'template').length, 1)
      h.clock.advance(timing.revealTimeoutMs)
      await h.settle()
      assert.equal(ofKind(h, 'final').length, 0, 'no final message with 6 reveals')
      h.clock.advance(timing.roundMs - timing.revealTimeoutMs - 1)
      await h.settle()
      assert.equal(ofKind(h, 'final').length, 0)
      assert.equal(h.blocks.length, 0, 'round 0 made nothing')
      // Round 1: a backup quorum with its own producer.
      h.clock.advance(1)
      await h.settle()
      h.clock.advance(timing.revealTimeoutMs)
      await h.settle()
      assert.ok(ofKind(h, 'commit', 1).length >= SIGNATURES_REQUIRED)
      assert.equal(h.blocks.length, 1)
      const b = h.blocks[0]!.block
      assert.equal(b.header.round, 1)
      assert.ok(equals(b.header.producer, q1.producer))
      assert.ok(!equals(q1.producer, q0.producer))
    } finally { h.stop() }
  })
})

describe('RoundService: signature timeout', () => {
  test('with 4 signatures lost the producer waits signatureTimeoutMs, then assembles from the 7 it has', async () => {
    const lost = new Set([6, 7, 8, 9].map(keyAt))
    const h = harness({ drop: (m, from) => m.kind === 'signature' && lost.has(from) })
    try {
      await h.start()
      assert.equal(ofKind(h, 'final').length, 1)
      const finalAt = ofKind(h, 'final')[0]!.at
      assert.equal(h.blocks.length, 0, 'not all bitset members signed: the producer waits')
      h.clock.advance(timing.signatureTimeoutMs - 1)
      await h.settle()
      assert.equal(h.blocks.length, 0)
      h.clock.advance(1)
      await h.settle()
      assert.equal(h.blocks.length, 1)
      assert.equal(h.blocks[0]!.at, finalAt + timing.signatureTimeoutMs)
      assert.deepEqual(h.blocks[0]!.block.signatures.map((s) => s.index), [0, 1, 2, 3, 4, 5, 10])
    } finally { h.stop() }
  })
})
