/**
 * ChainStore on SQLite through Node's built-in `node:sqlite` (Node only; not exported from index.ts).
 *
 * Durability: WAL journal with synchronous=NORMAL. Every write call is one transaction, so a killed
 * process (kill -9, crash) never leaves a torn state: after reopening, the store holds exactly the
 * transactions that committed. On power loss / OS crash the last few committed transactions may be lost
 * (NORMAL does not fsync the WAL on every commit), but the database is still never torn.
 *
 * Schema (version 2): blocks (genesis and blocks first..tip, by height), checkpoint (one row), rebase (one
 * row, the rebase height; absent means 0), meta. Pruning is one range delete on the blocks primary key.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { StorageError, checkRebase, checkTruncate, planPrune } from './types.ts'
import type { ChainStore, StoredBlock } from './types.ts'
import { blockRange, bytesEqual, checkAppend, checkGenesis } from './checks.ts'

export interface SqliteStoreOptions {
  /**
   * Caps the database at this many pages (PRAGMA max_page_count; a page is 4 KiB by default). Writes
   * beyond it fail with STORAGE_FULL, exactly like a full disk. Used to test disk-full handling.
   */
  maxPageCount?: number
}

/** Schema migrations, keyed by the version they produce. Each runs in its own transaction. */
const MIGRATIONS: Record<number, (db: DatabaseSync) => void> = {
  1: (db) => db.exec(`
    CREATE TABLE blocks (height INTEGER PRIMARY KEY, hash BLOB NOT NULL, bytes BLOB NOT NULL) STRICT;
    CREATE TABLE checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), height INTEGER NOT NULL, state BLOB NOT NULL) STRICT;
    CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) STRICT;
  `),
  // The rebase height (ChainStore.rebase); no row means 0 (a chain built up from genesis).
  2: (db) => db.exec('CREATE TABLE rebase (id INTEGER PRIMARY KEY CHECK (id = 1), height INTEGER NOT NULL) STRICT')
}
const SCHEMA_VERSION = 2

/** SQLite primary result codes (the low byte of an extended code). */
const SQLITE_CORRUPT = 11
const SQLITE_FULL = 13
const SQLITE_CONSTRAINT = 19
const SQLITE_NOTADB = 26

/** Maps anything thrown by node:sqlite (or by our checks) to a StorageError. */
function toStorageError (err: unknown): StorageError {
  if (err instanceof StorageError) return err
  const e = err as { code?: unknown, errcode?: unknown, message?: unknown }
  const message = typeof e.message === 'string' ? e.message : String(err)
  const primary = typeof e.errcode === 'number' ? e.errcode & 0xff : undefined
  const details = { message, ...(typeof e.errcode === 'number' ? { errcode: e.errcode } : {}) }
  if (primary === SQLITE_FULL || /database or disk is full/i.test(message)) return new StorageError('STORAGE_FULL', details)
  if (primary === SQLITE_CONSTRAINT) return new StorageError('STORAGE_CONFLICT', details)
  if (primary === SQLITE_CORRUPT || primary === SQLITE_NOTADB) return new StorageError('STORAGE_CORRUPT', details)
  if (e.code === 'ERR_INVALID_STATE' && /not open/i.test(message)) return new StorageError('STORAGE_CLOSED', details)
  return new StorageError('STORAGE_IO', details)
}

/** Runs `fn` inside BEGIN IMMEDIATE ... COMMIT, rolling back on any error. */
function transaction<T> (db: DatabaseSync, fn: () => T): T {
  db.exec('BEGIN IMMEDIATE')
  try {
    const result = fn()
    db.exec('COMMIT')
    return result
  } catch (err) {
    // SQLite rolls back by itself after some errors (e.g. SQLITE_FULL); only roll back what is still open.
    if (db.isTransaction) db.exec('ROLLBACK')
    throw err
  }
}

/** Brings the schema up to SCHEMA_VERSION, one migration (and transaction) per version. */
function migrate (db: DatabaseSync): void {
  db.exec('CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value ANY NOT NULL) STRICT')
  const readVersion = (): number => Number(db.prepare("SELECT value FROM store_meta WHERE key = 'schema_version'").get()?.value ?? 0)
  let version = readVersion()
  if (version > SCHEMA_VERSION) {
    throw new StorageError('STORAGE_IO', { reason: 'database written by a newer version', schemaVersion: version, supported: SCHEMA_VERSION })
  }
  while (version < SCHEMA_VERSION) {
    const next = version + 1
    const step = MIGRATIONS[next]
    if (step === undefined) throw new StorageError('STORAGE_IO', { reason: 'missing migration', version: next })
    transaction(db, () => {
      if (readVersion() !== version) return // another connection migrated concurrently
      step(db)
      db.prepare("INSERT OR REPLACE INTO store_meta (key, value) VALUES ('schema_version', ?)").run(next)
    })
    version = readVersion()
  }
}

/**
 * Opens (creating if needed) the SQLite store at `<dir>/chain.sqlite` (kind 'sqlite'), in WAL mode with
 * synchronous=NORMAL, and migrates its schema. Meant for one process at a time. Every write is a single
 * transaction; errors are StorageErrors (STORAGE_FULL, STORAGE_CONFLICT, STORAGE_CLOSED, STORAGE_IO, ...).
 */
export async function openSqliteStore (dir: string, options: SqliteStoreOptions = {}): Promise<ChainStore> {
  let db: DatabaseSync
  try {
    mkdirSync(dir, { recursive: true })
    db = new DatabaseSync(join(dir, 'chain.sqlite'), { timeout: 5000 })
  } catch (err) {
    throw toStorageError(err)
  }
  try {
    db.exec('PRAGMA journal_mode = WAL')
    db.exec('PRAGMA synchronous = NORMAL')
    migrate(db)
    if (options.maxPageCount !== undefined) db.exec(`PRAGMA max_page_count = ${Math.floor(options.maxPageCount)}`)
  } catch (err) {
    db.close()
    throw toStorageError(err)
  }

  const q = {
    tip: db.prepare('SELECT MAX(height) AS h FROM blocks'),
    first: db.prepare('SELECT MIN(height) AS h FROM blocks WHERE height >= 1'),
    rebased: db.prepare('SELECT height FROM rebase WHERE id = 1'),
    putRebased: db.prepare('INSERT OR REPLACE INTO rebase (id, height) VALUES (1, ?)'),
    pruneBelow: db.prepare('DELETE FROM blocks WHERE height >= 1 AND height < ?'),
    block: db.prepare('SELECT height, hash, bytes FROM blocks WHERE height = ?'),
    range: db.prepare('SELECT height, hash, bytes FROM blocks WHERE height BETWEEN ? AND ? ORDER BY height'),
    insertBlock: db.prepare('INSERT INTO blocks (height, hash, bytes) VALUES (?, ?, ?)'),
    deleteAbove: db.prepare('DELETE FROM blocks WHERE height > ?'),
    checkpoint: db.prepare('SELECT height, state FROM checkpoint WHERE id = 1'),
    putCheckpoint: db.prepare('INSERT OR REPLACE INTO checkpoint (id, height, state) VALUES (1, ?, ?)'),
    deleteCheckpointAbove: db.prepare('DELETE FROM checkpoint WHERE height > ?'),
    getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
    putMeta: db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)')
  }
  let closed = false

  /**
   * Runs `fn` unless closed, mapping every error to a StorageError. node:sqlite is synchronous, so each
   * call runs to completion without interleaving with other calls.
   */
  const op = async <T>(fn: () => T): Promise<T> => {
    if (closed) throw new StorageError('STORAGE_CLOSED')
    try {
      return fn()
    } catch (err) {
      throw toStorageError(err)
    }
  }
  // node:sqlite returns fresh Uint8Arrays for BLOBs, so results need no extra copy.
  const rowToBlock = (row: Record<string, unknown>): StoredBlock => ({
    height: Number(row.height), hash: row.hash as Uint8Array, bytes: row.bytes as Uint8Array
  })
  const rebased = (): number => Number(q.rebased.get()?.height ?? 0)
  const tip = (): number => {
    const h = q.tip.get()?.h
    return h === null || h === undefined ? -1 : Math.max(Number(h), rebased())
  }
  /** Lowest stored height above genesis, or tip + 1 when none is stored. */
  const first = (): number => {
    const h = q.first.get()?.h
    return h === null || h === undefined ? tip() + 1 : Number(h)
  }
  const checkpointHeight = (): number | undefined => {
    const h = q.checkpoint.get()?.height
    return h === undefined ? undefined : Number(h)
  }
  const getBlock = (height: number): StoredBlock | undefined => {
    const row = Number.isSafeInteger(height) ? q.block.get(height) : undefined
    return row === undefined ? undefined : rowToBlock(row)
  }

  return {
    kind: 'sqlite',
    getGenesis: async () => await op(() => getBlock(0)),
    putGenesis: async (genesis) => {
      await op(() => transaction(db, () => {
        checkGenesis(genesis)
        const stored = getBlock(0)
        if (stored === undefined) q.insertBlock.run(0, genesis.hash, genesis.bytes)
        else if (!bytesEqual(stored.hash, genesis.hash) || !bytesEqual(stored.bytes, genesis.bytes)) {
          throw new StorageError('STORAGE_CONFLICT', { reason: 'a different genesis is stored' })
        }
      }))
    },
    getTipHeight: async () => await op(tip),
    getFirstHeight: async () => await op(() => getBlock(0) === undefined ? -1 : first()),
    getBlock: async (height) => await op(() => getBlock(height)),
    getBlocks: async (from, count) => await op(() => {
      const range = blockRange(tip(), from, count)
      if (range === undefined) return []
      const f = first()
      if (range[0] > 0 && range[0] < f) return [] // `from` was pruned (or is at/below the rebase height)
      if (range[0] === 0 && f !== 1) return q.range.all(0, 0).map(rowToBlock) // block 1 is not stored
      return q.range.all(range[0], range[1]).map(rowToBlock)
    }),
    getCheckpoint: async () => await op(() => {
      const row = q.checkpoint.get()
      return row === undefined ? undefined : { height: Number(row.height), state: row.state as Uint8Array }
    }),
    appendBlocks: async (blocks, checkpoint, opts) => {
      await op(() => transaction(db, () => {
        const t = tip()
        checkAppend(t, blocks, checkpoint)
        const plan = planPrune({ tip: t, first: first(), checkpoint: checkpointHeight() }, blocks.length, checkpoint, opts?.pruneBelow)
        // Prune first, so the freed pages can hold this append's blocks (a full disk that pruning relieves);
        // blocks of this append below pruneBelow are then simply not inserted.
        const keepFrom = plan.pruneBelow ?? 0
        if (plan.pruneBelow !== undefined) q.pruneBelow.run(plan.pruneBelow)
        for (const b of blocks) if (b.height >= keepFrom) q.insertBlock.run(b.height, b.hash, b.bytes)
        if (checkpoint !== undefined) q.putCheckpoint.run(checkpoint.height, checkpoint.state)
        if (plan.rebaseTo !== undefined) q.putRebased.run(plan.rebaseTo)
      }))
    },
    rebase: async (checkpoint) => {
      await op(() => transaction(db, () => {
        checkRebase(tip(), checkpoint)
        q.deleteAbove.run(0)
        q.putCheckpoint.run(checkpoint.height, checkpoint.state)
        q.putRebased.run(checkpoint.height)
      }))
    },
    truncateAbove: async (height) => {
      const keep = Math.max(0, Math.floor(height))
      await op(() => transaction(db, () => {
        checkTruncate(keep, rebased())
        q.deleteAbove.run(keep)
        q.deleteCheckpointAbove.run(keep)
      }))
    },
    clearChain: async () => {
      await op(() => transaction(db, () => db.exec('DELETE FROM blocks; DELETE FROM checkpoint; DELETE FROM rebase;')))
    },
    getMeta: async (key) => await op(() => q.getMeta.get(key)?.value as Uint8Array | undefined),
    putMeta: async (key, value) => {
      await op(() => { q.putMeta.run(key, value) })
    },
    close: async () => {
      if (closed) return
      closed = true
      try {
        db.close()
      } catch (err) {
        throw toStorageError(err)
      }
    }
  }
}
