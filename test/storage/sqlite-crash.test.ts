/**
 * Durability of the SQLite store: a writer process killed with SIGKILL at arbitrary moments (appending,
 * or appending with pruning after a rebase) never leaves a torn store, and a full disk fails cleanly with
 * STORAGE_FULL (pruning nothing).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { openSqliteStore } from '../../src/storage/sqlite-store.ts'
import { StorageError } from '../../src/storage/types.ts'
import type { ChainStore } from '../../src/storage/types.ts'
import { testBlock, testBlocks, testCheckpoint, toHex } from './fixtures/blocks.ts'
import { PRUNE_REBASE, PRUNE_WINDOW, pruneCheckpoint } from './fixtures/prune-pattern.ts'

const WRITER = join(import.meta.dirname, 'fixtures', 'crash-writer.ts')

interface KillResult { startTip: number, lastCommitted: number, signal: NodeJS.Signals | null }

/** Runs the writer (in `mode`, see crash-writer.ts) and SIGKILLs it as soon as it reports `killAfter` commits in this run. */
async function runWriterAndKill (dir: string, killAfter: number, mode: 'append' | 'prune' = 'append'): Promise<KillResult> {
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', WRITER, dir, '5000', mode], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, signal) => { resolve(signal) }))
  let startTip = -1
  let lastCommitted = -1
  let commits = 0
  for await (const line of createInterface({ input: child.stdout })) {
    const [what, height] = line.split(' ')
    if (what === 'start') startTip = Number(height)
    if (what === 'committed') {
      lastCommitted = Math.max(lastCommitted, Number(height))
      if (++commits === killAfter) child.kill('SIGKILL')
    }
  }
  const signal = await exited
  assert.ok(startTip >= 0, `writer started (stderr: ${stderr})`)
  return { startTip, lastCommitted, signal }
}

/** Asserts the store holds exactly the writer's blocks 0..tip and the checkpoint at the tip. */
async function assertIntact (store: ChainStore, atLeast: number): Promise<number> {
  const tip = await store.getTipHeight()
  assert.ok(tip >= atLeast, `tip ${tip} >= last reported commit ${atLeast}`)
  const blocks = await store.getBlocks(0, tip + 1)
  assert.equal(blocks.length, tip + 1, 'blocks 0..tip are contiguous')
  blocks.forEach((b, h) => {
    const want = testBlock(h)
    assert.equal(b.height, h)
    assert.ok(toHex(b.bytes) === toHex(want.bytes) && toHex(b.hash) === toHex(want.hash), `block ${h} has the exact bytes`)
  })
  const checkpoint = await store.getCheckpoint()
  if (tip > 0) {
    // The writer puts the checkpoint at the tip of every batch, in the same transaction.
    assert.equal(checkpoint?.height, tip, 'checkpoint written atomically with its blocks')
    assert.equal(toHex(checkpoint?.state ?? new Uint8Array()), toHex(testCheckpoint(tip).state))
  }
  return tip
}

/**
 * Runs the writer in `mode` three times, SIGKILLed after 3, 150 and 1,200 commits, and checks the store with
 * `check` after each (it returns the recovered tip). The first run must start at `firstStart` (-1: not checked),
 * each later one at the tip recovered before it. Returns the last recovered tip.
 */
async function killThreeTimes (dir: string, mode: 'append' | 'prune', firstStart: number, check: (store: ChainStore, atLeast: number) => Promise<number>): Promise<number> {
  let expectedStart = -1
  for (const killAfter of [3, 150, 1200]) {
    const run = await runWriterAndKill(dir, killAfter, mode)
    assert.equal(run.signal, 'SIGKILL', `writer killed mid-run (after ${killAfter} commits)`)
    assert.ok(run.lastCommitted > run.startTip, 'the writer made progress')
    if (expectedStart >= 0) assert.equal(run.startTip, expectedStart, 'writer resumed at the recovered tip')
    else if (firstStart >= 0) assert.equal(run.startTip, firstStart, 'first run rebased the fresh store')
    const store = await openSqliteStore(dir)
    try {
      expectedStart = await check(store, run.lastCommitted)
    } finally {
      await store.close()
    }
  }
  return expectedStart
}

test('sqlite store survives SIGKILL of the writer at three different moments', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lightpulse-crash-'))
  try {
    const expectedStart = await killThreeTimes(dir, 'append', -1, assertIntact)
    const store = await openSqliteStore(dir)
    try {
      await store.appendBlocks(testBlocks(expectedStart + 1, expectedStart + 2), testCheckpoint(expectedStart + 2))
      await assertIntact(store, expectedStart + 2)
    } finally {
      await store.close()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

/**
 * Asserts what the pruning writer leaves: genesis, then exactly the blocks getFirstHeight()..tip, contiguous
 * and with the exact bytes, nothing below them, the checkpoint of the last committed batch (<= tip, >= first
 * height - 1), and the writer's rebase height still in force.
 */
async function assertPrunedIntact (store: ChainStore, atLeast: number): Promise<number> {
  const tip = await store.getTipHeight()
  const first = await store.getFirstHeight()
  assert.ok(tip >= atLeast, `tip ${tip} >= last reported commit ${atLeast}`)
  assert.equal(first, Math.max(PRUNE_REBASE + 1, tip - PRUNE_WINDOW + 1), 'first height of the last committed prune')
  assert.equal(toHex((await store.getGenesis())?.bytes ?? new Uint8Array()), toHex(testBlock(0).bytes), 'genesis')
  const blocks = await store.getBlocks(first, tip - first + 10)
  assert.equal(blocks.length, tip - first + 1, 'blocks first..tip are all present')
  blocks.forEach((b, i) => {
    const want = testBlock(first + i)
    assert.equal(b.height, first + i, 'contiguous')
    assert.ok(toHex(b.bytes) === toHex(want.bytes) && toHex(b.hash) === toHex(want.hash), `block ${b.height} has the exact bytes`)
  })
  assert.equal(await store.getBlock(first - 1), undefined, 'nothing below the first height')
  assert.deepEqual(await store.getBlocks(0, 5).then((bs) => bs.map((b) => b.height)), [0], 'from genesis: genesis only')
  const checkpoint = await store.getCheckpoint()
  assert.ok(checkpoint !== undefined && checkpoint.height <= tip && checkpoint.height >= first - 1, `checkpoint ${checkpoint?.height} within ${first - 1}..${tip}`)
  assert.equal(checkpoint.height, pruneCheckpoint(tip), 'checkpoint written atomically with its blocks and prune')
  assert.equal(toHex(checkpoint.state), toHex(testCheckpoint(checkpoint.height).state))
  await assert.rejects(store.truncateAbove(PRUNE_REBASE - 1), (err) => err instanceof StorageError && err.code === 'STORAGE_CONFLICT', 'rebase height survived')
  return tip
}

test('sqlite store survives SIGKILL of a writer that prunes on every append', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lightpulse-crash-prune-'))
  try {
    const expectedStart = await killThreeTimes(dir, 'prune', PRUNE_REBASE, assertPrunedIntact)
    assert.ok(expectedStart > PRUNE_REBASE + 2 * PRUNE_WINDOW, `pruned well past one window (tip ${expectedStart})`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('sqlite store: a full disk fails with STORAGE_FULL and keeps everything stored before', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lightpulse-full-'))
  try {
    const store = await openSqliteStore(dir, { maxPageCount: 64 })
    await store.putGenesis(testBlock(0))
    await store.putMeta('peer-id', new Uint8Array([1, 2, 3]))
    let tip = 0
    let error: unknown
    // Appends of ~3 KiB until the 64-page (256 KiB) cap is hit.
    for (let i = 0; i < 1000 && error === undefined; i++) {
      try {
        await store.appendBlocks([testBlock(tip + 1, 0, 3000)], testCheckpoint(tip + 1))
        tip++
      } catch (err) {
        error = err
      }
    }
    assert.ok(error instanceof StorageError, `a StorageError was thrown: ${String(error)}`)
    assert.equal(error.code, 'STORAGE_FULL')
    assert.ok(tip > 10, `some appends fit before the disk filled (${tip})`)

    const check = async (s: ChainStore): Promise<void> => {
      assert.equal(await s.getTipHeight(), tip, 'failed append wrote nothing')
      const blocks = await s.getBlocks(1, tip)
      assert.equal(blocks.length, tip)
      blocks.forEach((b, i) => { assert.equal(toHex(b.bytes), toHex(testBlock(i + 1, 0, 3000).bytes)) })
      assert.equal(toHex((await s.getGenesis())?.bytes ?? new Uint8Array()), toHex(testBlock(0).bytes))
      assert.deepEqual((await s.getCheckpoint())?.height, tip, 'checkpoint unchanged')
      assert.deepEqual(Array.from((await s.getMeta('peer-id')) ?? []), [1, 2, 3])
    }
    await check(store)
    // Still usable: freeing space lets appends go through again.
    await store.truncateAbove(tip - 5)
    tip -= 5
    await store.appendBlocks([testBlock(tip + 1, 0, 3000)], testCheckpoint(tip + 1))
    tip++
    await check(store)
    await store.close()

    const reopened = await openSqliteStore(dir)
    try {
      await check(reopened)
    } finally {
      await reopened.close()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('sqlite store: on a full disk an append with pruneBelow fails with STORAGE_FULL and prunes nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lightpulse-full-prune-'))
  try {
    const store = await openSqliteStore(dir, { maxPageCount: 64 })
    await store.putGenesis(testBlock(0))
    let tip = 0
    let error: unknown
    for (let i = 0; i < 1000 && error === undefined; i++) {
      try {
        await store.appendBlocks([testBlock(tip + 1, 0, 3000)], testCheckpoint(tip + 1))
        tip++
      } catch (err) {
        error = err
      }
    }
    assert.ok(error instanceof StorageError && error.code === 'STORAGE_FULL', `the disk filled: ${String(error)}`)
    const check = async (s: ChainStore, first: number, what: string): Promise<void> => {
      assert.equal(await s.getTipHeight(), tip, `${what}: tip`)
      assert.equal(await s.getFirstHeight(), first, `${what}: first height`)
      const blocks = await s.getBlocks(first, tip)
      assert.equal(blocks.length, tip - first + 1, `${what}: blocks first..tip`)
      blocks.forEach((b, i) => { assert.equal(toHex(b.bytes), toHex(testBlock(first + i, 0, 3000).bytes)) })
      assert.equal((await s.getCheckpoint())?.height, tip, `${what}: checkpoint`)
    }
    // Ten 3 KiB blocks do not fit in what pruning blocks 1..2 frees: the whole transaction rolls back.
    const big = testBlocks(tip + 1, tip + 10).map((b) => testBlock(b.height, 0, 3000))
    await assert.rejects(store.appendBlocks(big, testCheckpoint(tip + 10), { pruneBelow: 3 }), (err) => err instanceof StorageError && err.code === 'STORAGE_FULL')
    await check(store, 1, 'after the failed prune')
    assert.equal(toHex((await store.getBlock(1))?.bytes ?? new Uint8Array()), toHex(testBlock(1, 0, 3000).bytes), 'block 1 not pruned')
    // Pruning enough makes room within the same transaction: a full store keeps going with a bounded window.
    const first = tip - 5
    await store.appendBlocks([testBlock(tip + 1, 0, 3000)], testCheckpoint(tip + 1), { pruneBelow: first })
    tip++
    await check(store, first, 'after a prune that made room')
    await store.close()
    const reopened = await openSqliteStore(dir)
    try {
      await check(reopened, first, 'reopened')
    } finally {
      await reopened.close()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
