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
      ['getBlock', async () => await store.getBlock(1)],
      ['getBlocks', async () => await store.getBlocks(0, 2)],
      ['getCheckpoint', async () => await store.getCheckpoint()],
      ['appendBlocks', async () => { await store.appendBlocks(testBlocks(3, 3)) }],
      ['truncateAbove', async () => { await store.truncateAbove(1) }],
      ['clearChain', async () => { await store.clearChain() }],
      ['getMeta', async () => await store.getMeta('k')],
      ['putMeta', async () => { await store.putMeta('k', new Uint8Array([1])) }]
    ]
    for (const [what, call] of calls) await expectCode(call(), 'STORAGE_CLOSED', what)
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
  }
}
