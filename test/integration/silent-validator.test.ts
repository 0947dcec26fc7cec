/**
 * Oxen's post-launch failure: one validator that drops out after committing failed the whole round. Here
 * a devnet of real processes runs two validators with the test-only hostile mode `--hostile silent-reveal`
 * (each commits every round, then never publishes its reveal; it produces and signs honestly). The chain
 * must keep making its blocks in round 0 without them, the headers must name who revealed, and each
 * silent validator must be charged a miss for each duty until it is removed.
 *
 * The evidence is the chain itself: after the run the test reads an honest validator's store and
 * re-verifies every block from genesis with the protocol code, following the registry block by block.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { Devnet } from '../../src/node/devnet.ts'
import { openSqliteStore } from '../../src/storage/sqlite-store.ts'
import { createNodeSigner, createNodeVerifier } from '../../src/crypto/node.ts'
import { decodeBlock, processBlock, processGenesis, toHex } from '../../src/protocol/index.ts'
import type { ChainState } from '../../src/protocol/index.ts'

const SILENT = [3, 8]
const UNTIL = 22

interface Tracked { id: string, duties: number, removedAt: number, reregisteredAt: number }

test('validators that commit and never reveal: blocks still come in round 0, each is charged a miss per duty and removed', { timeout: 300_000 }, async (t) => {
  const devnet = new Devnet({ validators: 14, bootstraps: 1, hostile: new Map(SILENT.map((i) => [i, 'silent-reveal'])) })
  let chainOf = ''
  try {
    await devnet.start()
    await devnet.runUntil(UNTIL, 60_000)
    chainOf = devnet.validatorViews.find((v) => !SILENT.includes(v.index) && v.running)!.name
  } finally {
    await devnet.stop()
  }
  try {
    const store = await openSqliteStore(join(devnet.dataDir, chainOf, 'chain'))
    const verifier = createNodeVerifier()
    const genesis = await store.getGenesis()
    assert.ok(genesis !== undefined)
    let state: ChainState = await processGenesis(devnet.network, decodeBlock(genesis.bytes), verifier)
    const tracked: Tracked[] = SILENT.map((i) => ({ id: toHex(createNodeSigner(devnet.validatorSeeds[i]!).publicKey), duties: 0, removedAt: -1, reregisteredAt: -1 }))
    const tip = await store.getTipHeight()
    assert.ok(tip >= UNTIL)
    const blocks = await store.getBlocks(1, tip)
    await store.close()

    let committedSilently = 0
    let committedSilentlyRound0 = 0
    const trace: string[] = []
    for (const stored of blocks) {
      const block = decodeBlock(stored.bytes)
      const { state: next, info } = await processBlock(state, block, { verifier })
      const h = block.header
      let silentCommitter = false
      for (const v of tracked) {
        const pos = info.quorum.validators.findIndex((k) => toHex(k) === v.id)
        if (pos >= 0) {
          v.duties++
          assert.equal(h.revealBitset & (1 << pos), 0, `height ${h.height}: a silent validator is never named as revealed`)
          if ((h.bitset & (1 << pos)) !== 0) silentCommitter = true
        }
        // One miss per duty, from the header alone; removed on reaching maxMissed (14 validators: two above the floor).
        const rec = next.registry.get(v.id)
        if (rec !== undefined && v.removedAt >= 0 && rec.registeredHeight === h.height) {
          // keepRegistered: a removed validator registers again and starts afresh (missed 0).
          v.reregisteredAt = h.height
          v.duties = 0
        }
        if (rec !== undefined) {
          assert.equal(rec.missed, v.duties, `height ${h.height}: missed = duties since (re)registration`)
        } else if (v.removedAt < 0) {
          assert.equal(v.duties, state.preset.maxMissed, `removed at height ${h.height} after exactly maxMissed duties`)
          v.removedAt = h.height
        }
      }
      if (silentCommitter) {
        committedSilently++
        if (h.round === 0) committedSilentlyRound0++
      }
      trace.push(`h${h.height}:r${h.round}:${h.bitset.toString(2).padStart(11, '0')}/${h.revealBitset.toString(2).padStart(11, '0')}`)
      state = next
    }
    t.diagnostic(`blocks with a silent validator in the commit bitset: ${committedSilently} (${committedSilentlyRound0} in round 0); ` +
      `duties ${tracked.map((v) => v.duties).join('/')}, removed at ${tracked.map((v) => v.removedAt).join('/')}, registered again at ${tracked.map((v) => v.reregisteredAt).join('/')}`)
    t.diagnostic(`height:round:bitset/revealBitset ${trace.join(' ')}`)
    // Without a reveal timeout each of these rounds would have failed: none of these blocks could exist.
    assert.ok(committedSilentlyRound0 >= 3, `blocks made in round 0 with a silent validator in the commit bitset: ${committedSilentlyRound0}`)
    for (const v of tracked) assert.ok(v.removedAt > 0, 'each silent validator was removed')
    assert.ok(tip >= Math.max(...tracked.map((v) => v.removedAt)) + 2, 'the chain went on after the removals')
  } finally {
    if (devnet.dataDir !== '') await rm(devnet.dataDir, { recursive: true, force: true }).catch(() => {})
  }
})
