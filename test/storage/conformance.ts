/**
 * The ChainStore conformance suite. It is written against a tiny harness (not node:test) so the very
 * same suite runs under node:test (test/storage/stores.test.ts) and, later, in a browser against the
 * IndexedDB store.
 */
import { StorageError } from '../../src/storage/types.ts'
import type { ChainStore, Checkpoint, StorageErrorCode, StoredBlock } from '../../src/storage/types.ts'
import { testBlock, testBlocks, testCheckpoint, toHex } from './fixtures/blocks.ts'

export interface ConformanceHarness {
  test: (name: string, fn: () => Promise<void>) => void
  assert: {
    equal: (actual: unknown, expected: unknown, message?: string) => void
    deepEqual: (actual: unknown, expected: unknown, message?: string) => void
    ok: (value: unknown, message?: string) => void
    rejects: (promise: Promise<unknown>, ...rest: never[]) => Promise<void>
  }
}

export interface ConformanceOptions {
  /**
   * The store persists: `open(closedStore)` must reopen the same data as `closedStore` (same directory,
   * same database name). Enables the reopen tests.
   */
  persistent?: boolean
}

/** Comparable, harness-neutral views (no Uint8Array/Buffer prototype differences). */
const blockView = (b: StoredBlock | undefined): unknown => b === undefined ? undefined : { height: b.height, hash: toHex(b.hash), bytes: toHex(b.bytes) }
const checkpointView = (c: Checkpoint | undefined): unknown => c === undefined ? undefined : { height: c.height, state: toHex(c.state) }

/**
 * Registers the conformance tests for one store implementation. `open()` must return a fresh, empty
 * store on each call; with `persistent`, `open(closedStore)` reopens that store's data instead.
 */
export function runStoreConformance (
  name: string,
  open: (reopen?: ChainStore) => Promise<ChainStore>,
  t: ConformanceHarness,
  options: ConformanceOptions = {}
): void {
  const { assert } = t

  const test = (title: string, fn: (store: ChainStore) => Promise<void>): void => {
    t.test(`${name}: ${title}`, async () => {
      const store = await open()
      try {
        await fn(store)
      } finally {
        await store.close()
      }
    })
  }

  const expectCode = async (promise: Promise<unknown>, code: StorageErrorCode, what: string): Promise<void> => {
    let error: unknown
    try {
      await promise
    } catch (err) {
      error = err
    }
    assert.ok(error instanceof StorageError, `${what}: expected a StorageError, got ${String(error)}`)
    assert.equal((error as StorageError).code, code, what)
  }

  const expectChain = async (store: ChainStore, tip: number, salt = 0): Promise<void> => {
    assert.equal(await store.getTipHeight(), tip, 'tip height')
    const blocks = await store.getBlocks(0, tip + 10)
    assert.deepEqual(blocks.map(blockView), testBlocks(0, tip, salt).map(blockView), 'blocks 0..tip')
  }

  /**
   * The store holds genesis and exactly the blocks first..tip (salt 0): every read path agrees, and the
   * heights below `first` (pruned, or at/below a rebase) read as absent.
   */
  const expectWindow = async (store: ChainStore, tip: number, first: number, what: string): Promise<void> => {
    assert.equal(await store.getTipHeight(), tip, `${what}: tip`)
    assert.equal(await store.getFirstHeight(), first, `${what}: first height`)
    assert.deepEqual((await store.getBlocks(first, tip + 10)).map(blockView), testBlocks(first, tip).map(blockView), `${what}: blocks first..tip`)
    const fromGenesis = first === 1 ? testBlocks(0, tip) : [testBlock(0)]
    assert.deepEqual((await store.getBlocks(0, tip + 10)).map(blockView), fromGenesis.map(blockView), `${what}: getBlocks from genesis`)
    assert.deepEqual(blockView(await store.getBlock(0)), blockView(testBlock(0)), `${what}: genesis kept`)
    if (tip >= first) {
      assert.deepEqual(blockView(await store.getBlock(first)), blockView(testBlock(first)), `${what}: block at first`)
      assert.deepEqual(blockView(await store.getBlock(tip)), blockView(testBlock(tip)), `${what}: block at tip`)
    }
    assert.equal(await store.getBlock(tip + 1), undefined, `${what}: nothing above the tip`)
    if (first > 1) {
      assert.equal(await store.getBlock(first - 1), undefined, `${what}: block first-1 absent`)
      assert.equal(await store.getBlock(1), undefined, `${what}: block 1 absent`)
      assert.deepEqual(await store.getBlocks(first - 1, 5), [], `${what}: getBlocks from first-1 is empty`)
      assert.deepEqual(await store.getBlocks(1, tip + 10), [], `${what}: getBlocks from 1 is empty`)
    }
  }
  const expectCheckpoint = async (store: ChainStore, height: number | undefined, what: string): Promise<void> => {
    assert.deepEqual(checkpointView(await store.getCheckpoint()), checkpointView(height === undefined ? undefined : testCheckpoint(height)), `${what}: checkpoint`)
  }

  /** Genesis plus blocks 1..tip (salt 0). */
  const seed = async (store: ChainStore, tip: number, checkpointAt?: number): Promise<void> => {
    await store.putGenesis(testBlock(0))
    if (tip > 0) await store.appendBlocks(testBlocks(1, tip), checkpointAt === undefined ? undefined : testCheckpoint(checkpointAt))
  }

  test('kind is a non-empty string', async (store) => {
    assert.ok(typeof store.kind === 'string' && store.kind.length > 0, 'kind')
  })

  test('empty store', async (store) => {
    assert.equal(await store.getTipHeight(), -1)
    assert.equal(await store.getFirstHeight(), -1, 'first height of an empty store')
    assert.equal(await store.getGenesis(), undefined)
    assert.equal(await store.getBlock(0), undefined)
    assert.deepEqual(await store.getBlocks(0, 10), [])
    assert.equal(await store.getCheckpoint(), undefined)
    assert.equal(await store.getMeta('anything'), undefined)
    await store.truncateAbove(5)
    await store.clearChain()
    assert.equal(await store.getTipHeight(), -1)
  })

  test('genesis put/get, idempotent, conflict on a different genesis', async (store) => {
    const genesis = testBlock(0)
    await store.putGenesis(genesis)
    const stored = await store.getGenesis()
    assert.ok(stored?.bytes instanceof Uint8Array && stored.hash instanceof Uint8Array, 'bytes are Uint8Arrays')
    assert.deepEqual(blockView(stored), blockView(genesis))
    assert.deepEqual(blockView(await store.getBlock(0)), blockView(genesis), 'getBlock(0) is genesis')
    assert.equal(await store.getTipHeight(), 0)
    assert.equal(await store.getFirstHeight(), 1, 'genesis only: first height is tip + 1')
    await store.putGenesis(testBlock(0)) // same genesis again: no-op
    await expectCode(store.putGenesis(testBlock(0, 1)), 'STORAGE_CONFLICT', 'different genesis')
    await expectCode(store.putGenesis({ ...testBlock(0), bytes: new Uint8Array([1]) }), 'STORAGE_CONFLICT', 'same hash, other bytes')
    await expectCode(store.putGenesis(testBlock(1)), 'STORAGE_CONFLICT', 'genesis not at height 0')
    assert.deepEqual(blockView(await store.getGenesis()), blockView(genesis), 'genesis unchanged')
    assert.equal(await store.getTipHeight(), 0)
  })

  test('contiguous appends', async (store) => {
    await expectCode(store.appendBlocks(testBlocks(1, 2)), 'STORAGE_CONFLICT', 'append before genesis')
    await expectCode(store.appendBlocks(testBlocks(0, 2)), 'STORAGE_CONFLICT', 'genesis through appendBlocks')
    assert.equal(await store.getTipHeight(), -1)
    await store.putGenesis(testBlock(0))
    await store.appendBlocks([])
    await store.appendBlocks(testBlocks(1, 1))
    await store.appendBlocks(testBlocks(2, 4))
    await store.appendBlocks(testBlocks(5, 40))
    await expectChain(store, 40)
    assert.equal(await store.getFirstHeight(), 1)
    assert.deepEqual(blockView(await store.getBlock(17)), blockView(testBlock(17)))
  })

  test('non-contiguous append is rejected and writes nothing', async (store) => {
    await seed(store, 5, 5)
    const attempts: Array<[string, StoredBlock[], Checkpoint | undefined]> = [
      ['gap after tip', testBlocks(7, 9), testCheckpoint(9)],
      ['overlapping the tip', testBlocks(5, 7), testCheckpoint(7)],
      ['starting below the tip', testBlocks(2, 8), testCheckpoint(8)],
      ['gap inside the batch', [testBlock(6), testBlock(8)], testCheckpoint(8)],
      ['duplicate inside the batch', [testBlock(6), testBlock(6)], testCheckpoint(6)],
      ['checkpoint above the new tip', testBlocks(6, 7), testCheckpoint(8)],
      ['negative checkpoint', testBlocks(6, 7), testCheckpoint(-1)]
    ]
    for (const [what, blocks, checkpoint] of attempts) {
      await expectCode(store.appendBlocks(blocks, checkpoint), 'STORAGE_CONFLICT', what)
      await expectChain(store, 5)
      assert.equal(await store.getBlock(6), undefined, `${what}: nothing written`)
      assert.deepEqual(checkpointView(await store.getCheckpoint()), checkpointView(testCheckpoint(5)), `${what}: checkpoint unchanged`)
    }
  })

  test('getBlocks ranges and bounds', async (store) => {
    await seed(store, 10)
    const heights = async (from: number, count: number): Promise<number[]> => (await store.getBlocks(from, count)).map((b) => b.height)
    assert.deepEqual(await heights(0, 3), [0, 1, 2])
    assert.deepEqual(await heights(8, 100), [8, 9, 10])
    assert.deepEqual(await heights(10, 1), [10])
    assert.deepEqual(await heights(2, Infinity), [2, 3, 4, 5, 6, 7, 8, 9, 10])
    assert.deepEqual(await heights(11, 5), [])
    assert.deepEqual(await heights(-1, 5), [])
    assert.deepEqual(await heights(3, 0), [])
    assert.deepEqual(await heights(3, -2), [])
    assert.deepEqual((await store.getBlocks(4, 3)).map(blockView), testBlocks(4, 6).map(blockView))
    assert.equal(await store.getBlock(11), undefined)
    assert.equal(await store.getBlock(-1), undefined)
    assert.equal(await store.getBlock(1.5), undefined)
  })

  test('checkpoint is replaced together with the blocks', async (store) => {
    await seed(store, 3, 3)
    assert.deepEqual(checkpointView(await store.getCheckpoint()), checkpointView(testCheckpoint(3)))
    await store.appendBlocks(testBlocks(4, 6), testCheckpoint(5))
    assert.deepEqual(checkpointView(await store.getCheckpoint()), checkpointView(testCheckpoint(5)))
    await store.appendBlocks(testBlocks(7, 7))
    assert.deepEqual(checkpointView(await store.getCheckpoint()), checkpointView(testCheckpoint(5)), 'no checkpoint given: kept')
    await store.appendBlocks([], testCheckpoint(7))
    assert.deepEqual(checkpointView(await store.getCheckpoint()), checkpointView(testCheckpoint(7)), 'checkpoint alone')
    await store.appendBlocks([], testCheckpoint(0))
    assert.deepEqual(checkpointView(await store.getCheckpoint()), checkpointView(testCheckpoint(0)), 'checkpoint may move down')
    await expectCode(store.appendBlocks(testBlocks(9, 9), testCheckpoint(9)), 'STORAGE_CONFLICT', 'failed append')
    assert.deepEqual(checkpointView(await store.getCheckpoint()), checkpointView(testCheckpoint(0)), 'failed append keeps the checkpoint')
    await expectChain(store, 7)
  })

  test('truncateAbove', async (store) => {
    await seed(store, 10, 8)
    await store.truncateAbove(100)
    await expectChain(store, 10)
    await store.truncateAbove(9)
    await expectChain(store, 9)
    assert.deepEqual(checkpointView(await store.getCheckpoint()), checkpointView(testCheckpoint(8)), 'checkpoint below: kept')
    await store.truncateAbove(5)
    await expectChain(store, 5)
    assert.equal(await store.getBlock(6), undefined)
    assert.equal(await store.getCheckpoint(), undefined, 'checkpoint above: removed')
    await store.appendBlocks([testBlock(6, 7)], testCheckpoint(6, 7)) // a reorg onto another branch
    assert.deepEqual(blockView(await store.getBlock(6)), blockView(testBlock(6, 7)))
    assert.deepEqual(checkpointView(await store.getCheckpoint()), checkpointView(testCheckpoint(6, 7)))
    await store.truncateAbove(-3)
    await expectChain(store, 0)
    assert.equal(await store.getCheckpoint(), undefined)
  })

  test('clearChain removes chain data and keeps meta', async (store) => {
    await seed(store, 4, 4)
    await store.putMeta('peer-id', new Uint8Array([1, 2, 3]))
    await store.clearChain()
    assert.equal(await store.getTipHeight(), -1)
    assert.equal(await store.getGenesis(), undefined)
    assert.equal(await store.getBlock(2), undefined)
    assert.deepEqual(await store.getBlocks(0, 10), [])
    assert.equal(await store.getCheckpoint(), undefined)
    assert.deepEqual(Array.from((await store.getMeta('peer-id')) ?? []), [1, 2, 3])
    await store.putGenesis(testBlock(0, 2)) // a different network may start now
    await store.appendBlocks(testBlocks(1, 3, 2))
    await expectChain(store, 3, 2)
  })

  test('meta round trip', async (store) => {
    await store.putMeta('a', new Uint8Array([1, 2, 3]))
    await store.putMeta('b', new Uint8Array(0))
    await store.putMeta('ключ/🔑', new Uint8Array([255]))
    await store.putMeta('a', new Uint8Array([9])) // overwrite
    assert.deepEqual(Array.from((await store.getMeta('a')) ?? [42]), [9])
    const empty = await store.getMeta('b')
    assert.ok(empty instanceof Uint8Array && empty.length === 0, 'empty value round-trips')
    assert.deepEqual(Array.from((await store.getMeta('ключ/🔑')) ?? []), [255])
    assert.equal(await store.getMeta('c'), undefined)
    const big = testBlock(5, 0, 100_000).bytes
    await store.putMeta('big', big)
    assert.equal(toHex((await store.getMeta('big')) ?? new Uint8Array()), toHex(big))
  })

  test('stored bytes cannot be mutated through inputs or results', async (store) => {
    const genesis = testBlock(0)
    const block = testBlock(1)
    const checkpoint = testCheckpoint(1)
    const meta = new Uint8Array([1, 2, 3])
    await store.putGenesis(genesis)
    await store.appendBlocks([block], checkpoint)
    await store.putMeta('m', meta)
    genesis.bytes.fill(0); genesis.hash.fill(0); block.bytes.fill(0); block.hash.fill(0); checkpoint.state.fill(0); meta.fill(0)
    for (const b of [await store.getGenesis(), await store.getBlock(1), ...(await store.getBlocks(0, 2))]) {
      b?.bytes.fill(7); b?.hash.fill(7)
    }
    ;(await store.getCheckpoint())?.state.fill(7)
    ;(await store.getMeta('m'))?.fill(7)
    await expectChain(store, 1)
    assert.deepEqual(checkpointView(await store.getCheckpoint()), checkpointView(testCheckpoint(1)))
    assert.deepEqual(Array.from((await store.getMeta('m')) ?? []), [1, 2, 3])
  })

  test('subarray inputs store exactly the viewed bytes', async (store) => {
    const backing = new Uint8Array(300).map((_, i) => i & 0xff)
    await store.putGenesis({ height: 0, hash: backing.subarray(10, 42), bytes: backing.subarray(100, 110) })
    await store.putMeta('v', backing.subarray(200, 203))
    const g = await store.getGenesis()
    assert.equal(toHex(g?.hash ?? new Uint8Array()), toHex(backing.slice(10, 42)))
    assert.equal(toHex(g?.bytes ?? new Uint8Array()), toHex(backing.slice(100, 110)))
    assert.deepEqual(Array.from((await store.getMeta('v')) ?? []), [200, 201, 202])
  })

  test('every call after close fails with STORAGE_CLOSED', async (store) => {
    await seed(store, 2, 2)
    await store.close()
    await store.close() // idempotent
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['getGenesis', async () => await store.getGenesis()],
      ['putGenesis', async () => { await store.putGenesis(testBlock(0)) }],
      ['getTipHeight', async () => await store.getTipHeight()],
      ['getFirstHeight', async () => await store.getFirstHeight()],
      ['getBlock', async () => await store.getBlock(1)],
      ['getBlocks', async () => await store.getBlocks(0, 2)],
      ['getCheckpoint', async () => await store.getCheckpoint()],
      ['appendBlocks', async () => { await store.appendBlocks(testBlocks(3, 3)) }],
      ['rebase', async () => { await store.rebase(testCheckpoint(5)) }],
      ['truncateAbove', async () => { await store.truncateAbove(1) }],
      ['clearChain', async () => { await store.clearChain() }],
      ['getMeta', async () => await store.getMeta('k')],
      ['putMeta', async () => { await store.putMeta('k', new Uint8Array([1])) }]
    ]
    for (const [what, call] of calls) await expectCode(call(), 'STORAGE_CLOSED', what)
  })

  // ---- bounded storage (pruneBelow) and starting from a trusted checkpoint (rebase) ----

  test('pruneBelow keeps exactly the last W blocks over many appends', async (store) => {
    const W = 20
    await store.putGenesis(testBlock(0))
    let tip = 0
    for (let i = 0; tip < 200; i++) {
      const next = Math.min(200, tip + 1 + (i % 7))
      const checkpoint = Math.max(0, next - 3)
      await store.appendBlocks(testBlocks(tip + 1, next), testCheckpoint(checkpoint), { pruneBelow: next - W + 1 })
      tip = next
      assert.equal(await store.getFirstHeight(), Math.max(1, tip - W + 1), `first height at tip ${tip}`)
      assert.equal(await store.getTipHeight(), tip, `tip ${tip}`)
    }
    await expectWindow(store, 200, 181, 'after 200 blocks')
    await expectCheckpoint(store, 197, 'after 200 blocks')
    assert.equal(await store.getBlock(100), undefined, 'a block deep in the pruned range')
    assert.deepEqual((await store.getBlocks(190, 3)).map(blockView), testBlocks(190, 192).map(blockView), 'getBlocks inside the window')
    await store.appendBlocks(testBlocks(201, 201), undefined, { pruneBelow: 5 }) // below the first height: no-op
    await expectWindow(store, 201, 181, 'pruneBelow under the first height')
    await store.appendBlocks([], undefined, { pruneBelow: 190 }) // a prune alone
    await expectWindow(store, 201, 190, 'prune without blocks')
  })

  test('pruneBelow above the checkpoint + 1 is STORAGE_CONFLICT and writes nothing', async (store) => {
    await seed(store, 10, 8)
    const attempts: Array<[string, StoredBlock[], Checkpoint | undefined, number]> = [
      ['above the new checkpoint + 1', testBlocks(11, 12), testCheckpoint(9), 11],
      ['above the stored checkpoint + 1', testBlocks(11, 12), undefined, 10],
      ['prune alone above the stored checkpoint + 1', [], undefined, 10],
      ['far above', testBlocks(11, 12), testCheckpoint(12), 1000],
      ['not an integer', testBlocks(11, 12), testCheckpoint(12), 2.5],
      ['NaN', testBlocks(11, 12), testCheckpoint(12), Number.NaN]
    ]
    for (const [what, blocks, checkpoint, pruneBelow] of attempts) {
      await expectCode(store.appendBlocks(blocks, checkpoint, { pruneBelow }), 'STORAGE_CONFLICT', what)
      await expectWindow(store, 10, 1, what)
      await expectCheckpoint(store, 8, what)
    }
    await store.appendBlocks(testBlocks(11, 12), testCheckpoint(9), { pruneBelow: 10 }) // exactly checkpoint + 1
    await expectWindow(store, 12, 10, 'pruneBelow = checkpoint + 1')
    await expectCheckpoint(store, 9, 'pruneBelow = checkpoint + 1')
    await expectCode(store.appendBlocks([], testCheckpoint(8)), 'STORAGE_CONFLICT', 'checkpoint below first height - 1')
    await expectCode(store.appendBlocks(testBlocks(13, 13), testCheckpoint(7)), 'STORAGE_CONFLICT', 'checkpoint with blocks, below first height - 1')
    await expectWindow(store, 12, 10, 'after the rejected checkpoints')
    await expectCheckpoint(store, 9, 'after the rejected checkpoints')
  })

  test('pruning without any checkpoint stored is STORAGE_CONFLICT', async (store) => {
    await seed(store, 5)
    await expectCode(store.appendBlocks(testBlocks(6, 6), undefined, { pruneBelow: 2 }), 'STORAGE_CONFLICT', 'no checkpoint')
    await expectWindow(store, 5, 1, 'no checkpoint')
    await store.appendBlocks(testBlocks(6, 6), undefined, { pruneBelow: 1 }) // nothing to prune: allowed
    await expectWindow(store, 6, 1, 'pruneBelow 1')
    assert.equal(await store.getCheckpoint(), undefined)
  })

  test('a failed append prunes nothing', async (store) => {
    await seed(store, 30, 30)
    const attempts: Array<[string, StoredBlock[], Checkpoint | undefined]> = [
      ['gap after the tip', testBlocks(32, 33), testCheckpoint(33)],
      ['overlapping the tip', testBlocks(30, 31), testCheckpoint(31)],
      ['checkpoint above the new tip', testBlocks(31, 32), testCheckpoint(40)],
      ['negative checkpoint', testBlocks(31, 32), { height: -1, state: new Uint8Array([1]) }]
    ]
    for (const [what, blocks, checkpoint] of attempts) {
      await expectCode(store.appendBlocks(blocks, checkpoint, { pruneBelow: 20 }), 'STORAGE_CONFLICT', what)
      await expectWindow(store, 30, 1, what)
      await expectCheckpoint(store, 30, what)
    }
    await store.appendBlocks(testBlocks(31, 31), testCheckpoint(31), { pruneBelow: 20 })
    await expectWindow(store, 31, 20, 'a successful prune')
    await expectCode(store.appendBlocks(testBlocks(33, 33), testCheckpoint(33), { pruneBelow: 30 }), 'STORAGE_CONFLICT', 'second prune, gap')
    await expectWindow(store, 31, 20, 'after the failed second prune')
    await expectCheckpoint(store, 31, 'after the failed second prune')
  })

  test('pruning every block above genesis leaves the store rebased at the tip', async (store) => {
    await seed(store, 10, 10)
    await store.appendBlocks([], undefined, { pruneBelow: 11 })
    await expectWindow(store, 10, 11, 'all pruned')
    await expectCheckpoint(store, 10, 'all pruned')
    await expectCode(store.truncateAbove(9), 'STORAGE_CONFLICT', 'truncate below it')
    await expectCode(store.appendBlocks(testBlocks(10, 11)), 'STORAGE_CONFLICT', 'append at the old tip')
    await store.appendBlocks(testBlocks(11, 12), testCheckpoint(12), { pruneBelow: 13 }) // blocks added and pruned at once
    await expectWindow(store, 12, 13, 'append and prune everything')
    await store.appendBlocks(testBlocks(13, 14))
    await expectWindow(store, 14, 13, 'appends continue')
  })

  test('rebase: tip, first height and blocks; appends continue above it', async (store) => {
    await expectCode(store.rebase(testCheckpoint(50)), 'STORAGE_CONFLICT', 'rebase without genesis')
    assert.equal(await store.getTipHeight(), -1, 'still empty')
    assert.equal(await store.getCheckpoint(), undefined, 'no checkpoint written')
    await seed(store, 10, 10)
    await store.rebase(testCheckpoint(50))
    await expectWindow(store, 50, 51, 'after rebase')
    await expectCheckpoint(store, 50, 'after rebase')
    assert.equal(await store.getBlock(50), undefined, 'no block at the rebase height')
    assert.equal(await store.getBlock(5), undefined, 'old blocks removed')
    assert.deepEqual(await store.getBlocks(50, 5), [], 'getBlocks at the rebase height')
    for (const [what, height] of [['height 0', 0], ['negative', -3], ['not an integer', 1.5]] as const) {
      await expectCode(store.rebase({ height, state: new Uint8Array([1]) }), 'STORAGE_CONFLICT', `rebase to ${what}`)
      await expectWindow(store, 50, 51, `rebase to ${what}`)
      await expectCheckpoint(store, 50, `rebase to ${what}`)
    }
    await expectCode(store.appendBlocks(testBlocks(50, 52)), 'STORAGE_CONFLICT', 'append at the rebase height')
    await expectCode(store.appendBlocks(testBlocks(52, 53)), 'STORAGE_CONFLICT', 'append with a gap')
    await expectCode(store.appendBlocks(testBlocks(1, 3)), 'STORAGE_CONFLICT', 'append from 1')
    await expectCode(store.appendBlocks([], testCheckpoint(49)), 'STORAGE_CONFLICT', 'checkpoint below the rebase height')
    await store.appendBlocks(testBlocks(51, 60), testCheckpoint(55))
    await expectWindow(store, 60, 51, 'appended after rebase')
    await expectCheckpoint(store, 55, 'appended after rebase')
    await store.appendBlocks(testBlocks(61, 62), testCheckpoint(60), { pruneBelow: 58 })
    await expectWindow(store, 62, 58, 'pruned after rebase')
    await store.rebase(testCheckpoint(20)) // a rebase may go down, too
    await expectWindow(store, 20, 21, 'second rebase')
    await expectCheckpoint(store, 20, 'second rebase')
    assert.equal(await store.getBlock(58), undefined, 'second rebase removed the blocks')
  })

  test('truncateAbove below the rebase height is rejected; at or above it works', async (store) => {
    await store.putGenesis(testBlock(0))
    await store.rebase(testCheckpoint(50))
    await store.appendBlocks(testBlocks(51, 60), testCheckpoint(58))
    for (const height of [49, 0, -1]) {
      await expectCode(store.truncateAbove(height), 'STORAGE_CONFLICT', `truncateAbove(${height})`)
      await expectWindow(store, 60, 51, `truncateAbove(${height})`)
      await expectCheckpoint(store, 58, `truncateAbove(${height})`)
    }
    await store.truncateAbove(100)
    await expectWindow(store, 60, 51, 'truncateAbove above the tip')
    await store.truncateAbove(58)
    await expectWindow(store, 58, 51, 'truncateAbove(58)')
    await expectCheckpoint(store, 58, 'truncateAbove(58) keeps the checkpoint at 58')
    await store.truncateAbove(55)
    await expectWindow(store, 55, 51, 'truncateAbove(55)')
    await expectCheckpoint(store, undefined, 'truncateAbove(55) removes checkpoint 58')
    await store.truncateAbove(50)
    await expectWindow(store, 50, 51, 'truncateAbove(rebase height)')
    await store.appendBlocks(testBlocks(51, 53), testCheckpoint(53))
    await expectWindow(store, 53, 51, 'appends continue')
    // Pruned above the rebase height, then truncated into the pruned range: the tip falls to the rebase height.
    await store.appendBlocks(testBlocks(54, 70), testCheckpoint(68), { pruneBelow: 65 })
    await expectWindow(store, 70, 65, 'pruned')
    await store.truncateAbove(60)
    await expectWindow(store, 50, 51, 'truncated into the pruned range')
    await expectCheckpoint(store, undefined, 'checkpoint 68 went with the truncation')
  })

  test('truncateAbove in a pruned store (never rebased)', async (store) => {
    await seed(store, 30, 30)
    await store.appendBlocks(testBlocks(31, 40), testCheckpoint(35), { pruneBelow: 30 })
    await store.truncateAbove(36)
    await expectWindow(store, 36, 30, 'truncated inside the window')
    await expectCheckpoint(store, 35, 'checkpoint kept')
    await store.truncateAbove(10)
    await expectWindow(store, 0, 1, 'truncated into the pruned range: genesis only')
    await expectCheckpoint(store, undefined, 'checkpoint removed')
    await store.appendBlocks(testBlocks(1, 3), testCheckpoint(2))
    await expectWindow(store, 3, 1, 'rebuilt from genesis')
  })

  test('clearChain after a rebase resets the rebase height', async (store) => {
    await store.putGenesis(testBlock(0))
    await store.rebase(testCheckpoint(50))
    await store.appendBlocks(testBlocks(51, 52), testCheckpoint(52))
    await store.clearChain()
    assert.equal(await store.getTipHeight(), -1, 'tip')
    assert.equal(await store.getFirstHeight(), -1, 'first height')
    assert.equal(await store.getCheckpoint(), undefined, 'checkpoint')
    assert.equal(await store.getBlock(51), undefined, 'blocks')
    await store.putGenesis(testBlock(0))
    await expectWindow(store, 0, 1, 'genesis again')
    await store.appendBlocks(testBlocks(1, 3), testCheckpoint(3))
    await expectWindow(store, 3, 1, 'built from genesis again')
    await store.truncateAbove(1) // allowed again: no rebase height any more
    await expectWindow(store, 1, 1, 'truncated')
  })

  if (options.persistent === true) {
    t.test(`${name}: data survives close and reopen`, async () => {
      const first = await open()
      await seed(first, 20, 18)
      await first.putMeta('validator-key', new Uint8Array([4, 5, 6]))
      await first.close()
      const second = await open(first)
      try {
        await expectChain(second, 20)
        assert.deepEqual(checkpointView(await second.getCheckpoint()), checkpointView(testCheckpoint(18)))
        assert.deepEqual(Array.from((await second.getMeta('validator-key')) ?? []), [4, 5, 6])
        await expectCode(second.appendBlocks(testBlocks(22, 22)), 'STORAGE_CONFLICT', 'contiguity after reopen')
        await second.appendBlocks(testBlocks(21, 21), testCheckpoint(21))
        await second.truncateAbove(19)
      } finally {
        await second.close()
      }
      const third = await open(first)
      try {
        await expectChain(third, 19)
        assert.equal(await third.getCheckpoint(), undefined, 'checkpoint 21 went with the truncation')
      } finally {
        await third.close()
      }
    })

    t.test(`${name}: rebase and pruning survive close and reopen`, async () => {
      const reopen = async (store: ChainStore, fn: (s: ChainStore) => Promise<void>): Promise<void> => {
        const s = await open(store)
        try { await fn(s) } finally { await s.close() }
      }
      const first = await open()
      try {
        await first.putGenesis(testBlock(0))
        await first.rebase(testCheckpoint(100))
        await first.appendBlocks(testBlocks(101, 150), testCheckpoint(140), { pruneBelow: 131 })
      } finally {
        await first.close()
      }
      await reopen(first, async (s) => {
        await expectWindow(s, 150, 131, 'reopened')
        await expectCheckpoint(s, 140, 'reopened')
        await expectCode(s.truncateAbove(99), 'STORAGE_CONFLICT', 'rebase height after reopen')
        await expectCode(s.appendBlocks(testBlocks(152, 152)), 'STORAGE_CONFLICT', 'contiguity after reopen')
        await s.appendBlocks(testBlocks(151, 151), testCheckpoint(145), { pruneBelow: 141 })
        await s.truncateAbove(147)
      })
      await reopen(first, async (s) => {
        await expectWindow(s, 147, 141, 'second reopen')
        await expectCheckpoint(s, 145, 'second reopen')
        await expectCode(s.truncateAbove(99), 'STORAGE_CONFLICT', 'rebase height after the second reopen')
        await s.appendBlocks([], testCheckpoint(147), { pruneBelow: 148 }) // prune everything
      })
      await reopen(first, async (s) => {
        await expectWindow(s, 147, 148, 'everything pruned, reopened')
        await expectCheckpoint(s, 147, 'everything pruned, reopened')
        await expectCode(s.truncateAbove(146), 'STORAGE_CONFLICT', 'prune-all rebase height after reopen')
        await s.clearChain()
      })
      await reopen(first, async (s) => {
        assert.equal(await s.getTipHeight(), -1, 'cleared, reopened')
        await s.putGenesis(testBlock(0))
        await s.appendBlocks(testBlocks(1, 2))
        await s.truncateAbove(1)
        await expectWindow(s, 1, 1, 'clearChain reset the rebase height for good')
      })
    })
  }
}
