/** SQLite-specific behaviour not covered by the conformance suite: schema, pragmas, error mapping. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { openSqliteStore } from '../../src/storage/sqlite-store.ts'
import { StorageError } from '../../src/storage/types.ts'
import { testBlock, testBlocks, testCheckpoint, toHex } from './fixtures/blocks.ts'

async function withDir (fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'lightpulse-sqlite-'))
  try {
    await fn(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const isCode = (code: string) => (err: unknown) => err instanceof StorageError && err.code === code

test('sqlite store: WAL mode and schema_version 2, migrations run once', async () => {
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
      assert.equal(db.prepare("SELECT value FROM store_meta WHERE key = 'schema_version'").get()?.value, 2)
      assert.ok(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'rebase'").get() !== undefined, 'rebase table')
    } finally {
      db.close()
    }
  })
})

test('sqlite store: a version 1 database migrates to version 2, keeping its data, and can then rebase', async () => {
  await withDir(async (dir) => {
    // A database exactly as schema version 1 wrote it (before the rebase table existed).
    const v1 = new DatabaseSync(join(dir, 'chain.sqlite'))
    v1.exec(`
      PRAGMA journal_mode = WAL;
      CREATE TABLE store_meta (key TEXT PRIMARY KEY, value ANY NOT NULL) STRICT;
      CREATE TABLE blocks (height INTEGER PRIMARY KEY, hash BLOB NOT NULL, bytes BLOB NOT NULL) STRICT;
      CREATE TABLE checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), height INTEGER NOT NULL, state BLOB NOT NULL) STRICT;
      CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) STRICT;
      INSERT INTO store_meta (key, value) VALUES ('schema_version', 1);
    `)
    const insert = v1.prepare('INSERT INTO blocks (height, hash, bytes) VALUES (?, ?, ?)')
    for (const b of testBlocks(0, 6)) insert.run(b.height, b.hash, b.bytes)
    v1.prepare('INSERT INTO checkpoint (id, height, state) VALUES (1, ?, ?)').run(5, testCheckpoint(5).state)
    v1.close()

    const store = await openSqliteStore(dir)
    try {
      assert.equal(await store.getTipHeight(), 6)
      assert.equal(await store.getFirstHeight(), 1)
      assert.equal(toHex((await store.getBlock(6))?.bytes ?? new Uint8Array()), toHex(testBlock(6).bytes))
      assert.equal((await store.getCheckpoint())?.height, 5)
      await store.rebase(testCheckpoint(40))
      assert.equal(await store.getTipHeight(), 40)
    } finally {
      await store.close()
    }
    const db = new DatabaseSync(join(dir, 'chain.sqlite'))
    try {
      assert.equal(db.prepare("SELECT value FROM store_meta WHERE key = 'schema_version'").get()?.value, 2)
      assert.equal(db.prepare('SELECT height FROM rebase WHERE id = 1').get()?.height, 40)
      assert.deepEqual(db.prepare('SELECT height FROM blocks').all().map((r) => r.height), [0])
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
