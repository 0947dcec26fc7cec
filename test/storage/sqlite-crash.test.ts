/**
 * Durability of the SQLite store: a writer process killed with SIGKILL at arbitrary moments never leaves
 * a torn store, and a full disk fails cleanly with STORAGE_FULL.
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

const WRITER = join(import.meta.dirname, 'fixtures', 'crash-writer.ts')

interface KillResult { startTip: number, lastCommitted: number, signal: NodeJS.Signals | null }

/** Runs the writer and SIGKILLs it as soon as it reports `killAfter` commits in this run. */
async function runWriterAndKill (dir: string, killAfter: number): Promise<KillResult> {
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', WRITER, dir, '5000'], { stdio: ['ignore', 'pipe', 'pipe'] })
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

test('sqlite store survives SIGKILL of the writer at three different moments', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lightpulse-crash-'))
  try {
    let expectedStart = -1
    for (const killAfter of [3, 150, 1200]) {
      const run = await runWriterAndKill(dir, killAfter)
      assert.equal(run.signal, 'SIGKILL', `writer killed mid-run (after ${killAfter} commits)`)
      assert.ok(run.lastCommitted > run.startTip, 'the writer made progress')
      if (expectedStart >= 0) assert.equal(run.startTip, expectedStart, 'writer resumed at the recovered tip')
      const store = await openSqliteStore(dir)
      try {
        expectedStart = await assertIntact(store, run.lastCommitted)
      } finally {
        await store.close()
      }
    }
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
