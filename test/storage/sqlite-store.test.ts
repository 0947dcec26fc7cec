/** SQLite-specific behaviour not covered by the conformance suite: schema, pragmas, error mapping. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { openSqliteStore } from '../../src/storage/sqlite-store.ts'
import { StorageError } from '../../src/storage/types.ts'
import { testBlock } from './fixtures/blocks.ts'

async function withDir (fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'lightpulse-sqlite-'))
  try {
    await fn(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const isCode = (code: string) => (err: unknown) => err instanceof StorageError && err.code === code

test('sqlite store: WAL mode and schema_version 1, migrations run once', async () => {
  await withDir(async (dir) => {
    const store = await openSqliteStore(join(dir, 'nested', 'path'))
    await store.putGenesis(testBlock(0))
    await store.close()
    const again = await openSqliteStore(join(dir, 'nested', 'path'))
    assert.equal(await again.getTipHeight(), 0)
    await again.close()
    const db = new DatabaseSync(join(dir, 'nested', 'path', 'chain.sqlite'))
    try {
      assert.equal(db.prepare('PRAGMA journal_mode').get()?.journal_mode, 'wal')
      assert.equal(db.prepare("SELECT value FROM store_meta WHERE key = 'schema_version'").get()?.value, 1)
    } finally {
      db.close()
    }
  })
})

test('sqlite store: refuses a database from a newer schema version', async () => {
  await withDir(async (dir) => {
    await (await openSqliteStore(dir)).close()
    const db = new DatabaseSync(join(dir, 'chain.sqlite'))
    db.exec("UPDATE store_meta SET value = 99 WHERE key = 'schema_version'")
    db.close()
    await assert.rejects(openSqliteStore(dir), isCode('STORAGE_IO'))
  })
})

test('sqlite store: a file that is not a database is STORAGE_CORRUPT', async () => {
  await withDir(async (dir) => {
    writeFileSync(join(dir, 'chain.sqlite'), 'this is not a database, just some text that is long enough '.repeat(20))
    await assert.rejects(openSqliteStore(dir), isCode('STORAGE_CORRUPT'))
  })
})
