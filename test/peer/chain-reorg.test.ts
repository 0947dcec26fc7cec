/** ChainService.reorg applies the fork choice itself (PROTOCOL.md §13), whatever the caller decided. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { compareForks, computeBlockHash, toHex } from '../../src/protocol/index.ts'
import type { Block } from '../../src/protocol/index.ts'
import { ChainService } from '../../src/peer/chain-service.ts'
import { Emitter } from '../../src/peer/events.ts'
import type { PeerEvents } from '../../src/peer/events.ts'
import { ManualClock } from '../../src/peer/clock.ts'
import { silentLogger } from '../../src/peer/logger.ts'
import { createMemoryStore } from '../../src/storage/memory-store.ts'
import { buildChain, buildGenesis, createTestNetwork } from '../helpers/chain-builder.ts'
import type { BuildOptions } from '../helpers/chain-builder.ts'
import { rejectsCode } from '../helpers/assert.ts'

const net = createTestNetwork({ label: 'reorg' })
const genesis = await buildGenesis(net)
const fast: BuildOptions = { unsignedRoundMessages: true, signers: 7 }
const prefix = await buildChain(net, genesis.state, 2, () => fast)
const fork = async (first: BuildOptions, length: number): Promise<Block[]> =>
  (await buildChain(net, prefix.state, length, (h) => h === 3 ? { ...fast, ...first } : fast)).blocks

async function chainWith (blocks: Block[]): Promise<ChainService> {
  const last = blocks.at(-1)!.header.timestamp
  const chain = new ChainService({ network: net.config, store: createMemoryStore(), verifier: net.verifier, clock: new ManualClock(last + 60_000), log: silentLogger, events: new Emitter<PeerEvents>() })
  await chain.acceptGenesis(genesis.block)
  await chain.acceptBatch([...prefix.blocks, ...blocks])
  return chain
}

const tip = (c: ChainService): string => toHex(c.state!.tip.hash)
const hashOf = (b: Block): string => toHex(computeBlockHash(b.header))

test('reorg: a shorter or equal-length losing fork is STALE; an equal-length winner or a longer fork is taken', async () => {
  const r1 = await fork({ round: 1 }, 3)
  const r0 = await fork({ round: 0 }, 3)
  const r0short = r0.slice(0, 2)
  const r2long = await fork({ round: 2 }, 4)
  assert.ok(compareForks({ tipHeight: 5, firstRound: 0, firstHash: computeBlockHash(r0[0]!.header) }, { tipHeight: 5, firstRound: 1, firstHash: computeBlockHash(r1[0]!.header) }) < 0)

  const onR0 = await chainWith(r0)
  await rejectsCode(onR0.reorg(2, r1), 'STALE') // same length, round 1 loses
  await rejectsCode(onR0.reorg(2, r2long.slice(0, 2)), 'STALE') // shorter
  assert.equal(tip(onR0), hashOf(r0.at(-1)!))

  const onR1 = await chainWith(r1)
  assert.equal(await onR1.reorg(2, r0), 3) // same length, round 0 wins
  assert.equal(tip(onR1), hashOf(r0.at(-1)!))
  await rejectsCode(onR1.reorg(2, r0short), 'STALE')
  assert.equal(await onR1.reorg(2, r2long), 4) // longer wins even from round 2
  assert.equal(onR1.height, 6)
  assert.equal(tip(onR1), hashOf(r2long.at(-1)!))
})
