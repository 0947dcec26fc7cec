import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createMemoryStore } from '../../src/storage/index.ts'
import { openSqliteStore } from '../../src/storage/sqlite-store.ts'
import type { ChainStore } from '../../src/storage/types.ts'
import { runStoreConformance } from './conformance.ts'

const harness = { test: (name: string, fn: () => Promise<void>) => { test(name, fn) }, assert }

runStoreConformance('memory', async () => createMemoryStore(), harness)

const root = mkdtempSync(join(tmpdir(), 'lightpulse-stores-'))
after(() => { rmSync(root, { recursive: true, force: true }) })
const dirs = new WeakMap<ChainStore, string>()
let n = 0

runStoreConformance('sqlite', async (reopen) => {
  const dir = reopen === undefined ? join(root, String(n++)) : dirs.get(reopen)
  if (dir === undefined) throw new Error('unknown store to reopen')
  const store = await openSqliteStore(dir)
  dirs.set(store, dir)
  return store
}, harness, { persistent: true })
