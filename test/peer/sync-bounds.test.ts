/**
 * Regression: a sync request whose count came out <= 0 (computed from a stale peer status) was encoded as a
 * wrapped u16 (65535), the honest server answered a full batch, and the client rejected that peer as
 * TOO_LARGE and stopped syncing from it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Writer, encodeBlock, computeBlockHash } from '../../src/protocol/index.ts'
import { ChainService } from '../../src/peer/chain-service.ts'
import { SyncService } from '../../src/peer/sync-service.ts'
import { ReleaseService } from '../../src/peer/release-service.ts'
import { Emitter } from '../../src/peer/events.ts'
import type { PeerEvents } from '../../src/peer/events.ts'
import { ManualClock } from '../../src/peer/clock.ts'
import { silentLogger } from '../../src/peer/logger.ts'
import { createMemoryStore } from '../../src/storage/memory-store.ts'
import { createTestNetwork, buildGenesis } from '../helpers/chain-builder.ts'
import type { PeerId } from '@libp2p/interface'

test('the writer refuses integers that do not fit instead of wrapping them', () => {
  assert.throws(() => new Writer().u16(-1), RangeError)
  assert.throws(() => new Writer().u16(65_536), RangeError)
  assert.throws(() => new Writer().u8(256), RangeError)
  assert.throws(() => new Writer().u32(1.5), RangeError)
  assert.deepEqual([...new Writer().u16(65_535).finish()], [255, 255])
})

test('sync: a request for <= 0 blocks sends nothing, and the server answers nothing for count 0', async () => {
  const net = createTestNetwork({ validators: 12 })
  const { block } = await buildGenesis(net)
  const events = new Emitter<PeerEvents>()
  const clock = new ManualClock(block.header.timestamp)
  const store = createMemoryStore()
  const chain = new ChainService({ network: net.config, store, verifier: net.verifier, clock, log: silentLogger, events })
  await chain.acceptGenesis(block)
  assert.deepEqual(await chain.readBlocks(0, 0), [], 'count 0 from height 0: no frames (not the genesis block)')
  assert.deepEqual(await chain.readBlocks(0, 1), [encodeBlock(block)])
  // Served for BLOCKS (PROTOCOL.md §3.9): from above the tip gives no frames; from 0 stops at the tip.
  assert.deepEqual(await chain.readBlocks(1, 5), [])
  assert.deepEqual(await chain.readBlocks(7, 512), [])
  assert.deepEqual(await chain.readBlocks(0, 512), [encodeBlock(block)])
  const empty = new ChainService({ network: net.config, store: createMemoryStore(), verifier: net.verifier, clock, log: silentLogger, events })
  assert.deepEqual(await empty.readBlocks(0, 5), [], 'no genesis: no frames')
  assert.equal(computeBlockHash(block.header).length, 32)
  const release = new ReleaseService({ network: net.config, chain, verifier: net.verifier, clock, log: silentLogger, events, publish: async () => {} })
  const sync = new SyncService({ protocol: '/test/sync', chain, release, log: silentLogger, events, onRejected: () => { assert.fail('nothing to reject') } })
  // Not started: any network use would throw, so these must return without a request.
  const peer = { toString: () => 'peer' } as unknown as PeerId
  assert.deepEqual(await sync.blocks(peer, 5, 0), [])
  assert.deepEqual(await sync.blocks(peer, 5, -3), [])
})
