/**
 * ChainStore on IndexedDB (browser: page or Web Worker), through the `idb` promise wrapper.
 *
 * Layout (schema version IDB_SCHEMA_VERSION, migrated step by step in `upgrade`):
 *   blocks  keyPath 'height'   blocks first..tip as { height, hash, bytes } (genesis lives in `chain`)
 *   chain   out-of-line keys   'genesis' -> StoredBlock, 'checkpoint' -> Checkpoint, 'tip' -> number,
 *                              'rebase' -> number (the rebase height; absent means 0; no schema change)
 *   meta    out-of-line keys   string -> Uint8Array
 *   keys    out-of-line keys   string -> CryptoKeyPair (non-extractable WebCrypto keys, structured-cloned)
 *
 * Atomicity: every write call is ONE IndexedDB transaction over the stores it touches, and the
 * contiguity checks read the tip inside that same transaction, so concurrent calls (even from another
 * tab) cannot interleave. On any failure the transaction is aborted: nothing is written. Pruning is one
 * range delete (IDBKeyRange.bound(1, pruneBelow - 1)) in the append's transaction.
 *
 * Bytes are copied on the way in (a subarray is stored as exactly its bytes, never its whole backing
 * buffer, and later caller mutations cannot reach the stored value). Reads need no extra copy: every
 * IndexedDB read deserializes a fresh structured clone.
 *
 * Errors are StorageErrors: QuotaExceededError -> STORAGE_FULL (transaction aborted, nothing written);
 * use after close() or after the browser closed the connection -> STORAGE_CLOSED; anything else ->
 * STORAGE_IO (STORAGE_CONFLICT / STORAGE_CORRUPT from the checks and read validation).
 */
import { openDB } from 'idb'
import type { DBSchema, IDBPDatabase, IDBPTransaction, StoreNames } from 'idb'
import { StorageError, checkRebase, checkTruncate, planPrune } from './types.ts'
import type { ChainStore, Checkpoint, StoredBlock } from './types.ts'
import { blockRange, bytesEqual, checkAppend, checkGenesis } from './checks.ts'

export interface IdbChainStore extends ChainStore {
  readonly kind: 'indexeddb'
  /** The stored key pair under `name` (CryptoKey objects, possibly non-extractable), or undefined. */
  getKeyPair: (name: string) => Promise<CryptoKeyPair | undefined>
  /** Stores the CryptoKeyPair object itself (structured clone keeps non-extractable keys usable). */
  putKeyPair: (name: string, pair: CryptoKeyPair) => Promise<void>
  /** navigator.storage.estimate() for this origin ({} where the API is missing). */
  estimate: () => Promise<{ usage?: number, quota?: number }>
}

type ChainKey = 'genesis' | 'checkpoint' | 'tip' | 'rebase'

interface LightpulseIdbSchema extends DBSchema {
  blocks: { key: number, value: StoredBlock }
  chain: { key: ChainKey, value: StoredBlock | Checkpoint | number }
  meta: { key: string, value: Uint8Array }
  keys: { key: string, value: CryptoKeyPair }
}

type Db = IDBPDatabase<LightpulseIdbSchema>
type Store = StoreNames<LightpulseIdbSchema>
type Tx<S extends Store[], M extends IDBTransactionMode> = IDBPTransaction<LightpulseIdbSchema, S, M>

/** Current schema version. Bump it and add a MIGRATIONS entry; never edit a released migration. */
export const IDB_SCHEMA_VERSION = 1

/** Schema migrations, keyed by the version they produce; all run inside the versionchange transaction. */
const MIGRATIONS: Record<number, (db: Db) => void> = {
  1: (db) => {
    db.createObjectStore('blocks', { keyPath: 'height' })
    db.createObjectStore('chain')
    db.createObjectStore('meta')
    db.createObjectStore('keys')
  }
}

const errorName = (err: unknown): string | undefined => {
  const name = (err as { name?: unknown } | null)?.name
  return typeof name === 'string' ? name : undefined
}

/** Maps anything thrown by IndexedDB (or by our checks) to a StorageError. */
function toStorageError (err: unknown, closed = false): StorageError {
  if (err instanceof StorageError) return err
  const name = errorName(err)
  const message = (err as { message?: unknown } | null)?.message
  const details = { name, message: typeof message === 'string' ? message : String(err) }
  if (name === 'QuotaExceededError') return new StorageError('STORAGE_FULL', details)
  // db.transaction() on a closing/closed connection throws InvalidStateError.
  if (closed || (name === 'InvalidStateError' && /clos/i.test(details.message))) return new StorageError('STORAGE_CLOSED', details)
  return new StorageError('STORAGE_IO', details)
}

const copyBytes = (b: Uint8Array): Uint8Array => new Uint8Array(b) // exact bytes, own buffer
const copyBlock = (b: StoredBlock): StoredBlock => ({ height: b.height, hash: copyBytes(b.hash), bytes: copyBytes(b.bytes) })

const isBytes = (x: unknown): x is Uint8Array => x instanceof Uint8Array
function readBlock (value: unknown, height: number): StoredBlock {
  const b = value as Partial<StoredBlock> | undefined
  if (b === undefined || b === null || b.height !== height || !isBytes(b.hash) || !isBytes(b.bytes)) {
    throw new StorageError('STORAGE_CORRUPT', { reason: 'malformed block record', height })
  }
  return { height: b.height, hash: b.hash, bytes: b.bytes }
}
function readCheckpoint (value: unknown): Checkpoint | undefined {
  if (value === undefined) return undefined
  const c = value as Partial<Checkpoint>
  if (typeof c.height !== 'number' || !isBytes(c.state)) throw new StorageError('STORAGE_CORRUPT', { reason: 'malformed checkpoint' })
  return { height: c.height, state: c.state }
}
function readHeight (value: unknown, absent: number, what: string): number {
  if (value === undefined) return absent
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new StorageError('STORAGE_CORRUPT', { reason: `malformed ${what}` })
  return value
}

/**
 * Issues the requests in order and waits for all of them. If issuing one throws synchronously (e.g.
 * QuotaExceededError, DataCloneError), the rest are not issued and the error propagates; the caller
 * aborts the transaction, which rolls back the requests already issued.
 */
async function all<T> (requests: Array<() => Promise<T>>): Promise<T[]> {
  const issued: Array<Promise<T>> = []
  try {
    for (const request of requests) issued.push(request())
  } catch (err) {
    for (const p of issued) p.catch(() => {}) // they reject with AbortError once the caller aborts
    throw err
  }
  return await Promise.all(issued)
}

/**
 * Opens (creating and migrating if needed) the IndexedDB database `name` as a ChainStore (kind
 * 'indexeddb'). Works on a page and in a (module) Web Worker. If another tab or worker opens the same
 * database with a newer schema, this connection closes itself and later calls fail with STORAGE_CLOSED.
 */
export async function openIdbStore (name: string): Promise<IdbChainStore> {
  if (typeof indexedDB === 'undefined') throw new StorageError('STORAGE_IO', { reason: 'IndexedDB is not available' })
  let closed = false
  let db: Db
  try {
    db = await openDB<LightpulseIdbSchema>(name, IDB_SCHEMA_VERSION, {
      upgrade (database, oldVersion, newVersion) {
        const target = newVersion ?? IDB_SCHEMA_VERSION
        for (let v = oldVersion + 1; v <= target; v++) {
          const step = MIGRATIONS[v]
          if (step === undefined) throw new StorageError('STORAGE_IO', { reason: 'missing migration', version: v })
          step(database)
        }
      },
      blocking () {
        // A newer schema wants in (another tab, a new deployment): get out of its way.
        closed = true
        db.close()
      },
      terminated () { closed = true }
    })
  } catch (err) {
    if (errorName(err) === 'VersionError') {
      throw new StorageError('STORAGE_IO', { reason: 'database written by a newer version', supported: IDB_SCHEMA_VERSION, name })
    }
    throw toStorageError(err)
  }

  /**
   * Runs `fn` in one transaction over `stores`. Read-write transactions resolve only once committed;
   * on any error the transaction is aborted (nothing written) and the error mapped to a StorageError.
   */
  const inTx = async <S extends Store[], M extends IDBTransactionMode, T>(
    stores: S, mode: M, fn: (tx: Tx<S, M>) => Promise<T>, durability: 'default' | 'strict' | 'relaxed' = 'default'
  ): Promise<T> => {
    if (closed) throw new StorageError('STORAGE_CLOSED')
    let tx: Tx<S, M>
    try {
      tx = db.transaction(stores, mode, { durability })
    } catch (err) {
      throw toStorageError(err, closed)
    }
    tx.done.catch(() => {}) // observed below; never an unhandled rejection
    try {
      const result = await fn(tx)
      if (mode !== 'readonly') await tx.done
      return result
    } catch (err) {
      try { tx.abort() } catch { /* already finished or aborting */ }
      throw toStorageError(err, closed)
    }
  }

  const chainTx = async <M extends IDBTransactionMode, T>(mode: M, fn: (tx: Tx<['chain', 'blocks'], M>) => Promise<T>): Promise<T> =>
    await inTx(['chain', 'blocks'], mode, fn)

  type ChainTx = Tx<['chain', 'blocks'], IDBTransactionMode>
  const getTip = async (tx: ChainTx): Promise<number> => readHeight(await tx.objectStore('chain').get('tip'), -1, 'tip')
  const getRebased = async (tx: ChainTx): Promise<number> => readHeight(await tx.objectStore('chain').get('rebase'), 0, 'rebase height')
  /** Lowest stored height above genesis (the blocks store holds only those), or tip + 1 when none is stored. */
  const getFirst = async (tx: ChainTx, tip: number): Promise<number> => {
    const h = await tx.objectStore('blocks').getKey(IDBKeyRange.lowerBound(1))
    return h ?? tip + 1
  }

  const getGenesis = async (tx: Tx<['chain', 'blocks'], IDBTransactionMode>): Promise<StoredBlock | undefined> => {
    const g = await tx.objectStore('chain').get('genesis')
    return g === undefined ? undefined : readBlock(g, 0)
  }

  const store: IdbChainStore = {
    kind: 'indexeddb',
    getGenesis: async () => await chainTx('readonly', getGenesis),
    putGenesis: async (genesis) => {
      const copy = copyBlock(genesis)
      await chainTx('readwrite', async (tx) => {
        checkGenesis(copy)
        const stored = await getGenesis(tx)
        if (stored === undefined) {
          const chain = tx.objectStore('chain')
          await all<unknown>([() => chain.put(copy, 'genesis'), () => chain.put(0, 'tip')])
        } else if (!bytesEqual(stored.hash, copy.hash) || !bytesEqual(stored.bytes, copy.bytes)) {
          throw new StorageError('STORAGE_CONFLICT', { reason: 'a different genesis is stored' })
        }
      })
    },
    getTipHeight: async () => await chainTx('readonly', getTip),
    getFirstHeight: async () => await chainTx('readonly', async (tx) => {
      const tip = await getTip(tx)
      return tip < 0 ? -1 : await getFirst(tx, tip)
    }),
    getBlock: async (height) => {
      if (!Number.isSafeInteger(height) || height < 0) {
        if (closed) throw new StorageError('STORAGE_CLOSED')
        return undefined
      }
      return await chainTx('readonly', async (tx) => {
        if (height === 0) return await getGenesis(tx)
        const b = await tx.objectStore('blocks').get(height)
        return b === undefined ? undefined : readBlock(b, height)
      })
    },
    getBlocks: async (from, count) => await chainTx('readonly', async (tx) => {
      const tip = await getTip(tx)
      const range = blockRange(tip, from, count)
      if (range === undefined) return []
      const [first, upTo] = range
      const lowest = await getFirst(tx, tip)
      if (first > 0 && first < lowest) return [] // `from` was pruned (or is at/below the rebase height)
      const last = first === 0 && lowest !== 1 ? 0 : upTo // from 0 without block 1: just genesis
      const out: StoredBlock[] = []
      if (first === 0) {
        const g = await getGenesis(tx)
        if (g === undefined) throw new StorageError('STORAGE_CORRUPT', { reason: 'tip stored without genesis' })
        out.push(g)
      }
      if (last >= 1) {
        const lo = Math.max(1, first)
        const rows = await tx.objectStore('blocks').getAll(IDBKeyRange.bound(lo, last))
        if (rows.length !== last - lo + 1) throw new StorageError('STORAGE_CORRUPT', { reason: 'missing blocks', from: lo, to: last, got: rows.length })
        rows.forEach((row, i) => out.push(readBlock(row, lo + i)))
      }
      return out
    }),
    getCheckpoint: async () => await chainTx('readonly', async (tx) => readCheckpoint(await tx.objectStore('chain').get('checkpoint'))),
    appendBlocks: async (blocks, checkpoint, opts) => {
      const copies = blocks.map(copyBlock)
      const cp = checkpoint === undefined ? undefined : { height: checkpoint.height, state: copyBytes(checkpoint.state) }
      const pruneBelow = opts?.pruneBelow
      await chainTx('readwrite', async (tx) => {
        const tip = await getTip(tx)
        checkAppend(tip, copies, cp)
        const chain = tx.objectStore('chain')
        const stored = pruneBelow === undefined || cp !== undefined ? undefined : readCheckpoint(await chain.get('checkpoint'))?.height
        const plan = planPrune({ tip, first: await getFirst(tx, tip), checkpoint: stored }, copies.length, cp, pruneBelow)
        const blockStore = tx.objectStore('blocks')
        const writes: Array<() => Promise<unknown>> = copies.map((b) => () => blockStore.put(b))
        if (copies.length > 0) writes.push(() => chain.put(tip + copies.length, 'tip'))
        if (cp !== undefined) writes.push(() => chain.put(cp, 'checkpoint'))
        const { pruneBelow: below, rebaseTo } = plan
        if (below !== undefined) writes.push(() => blockStore.delete(IDBKeyRange.bound(1, below - 1)))
        if (rebaseTo !== undefined) writes.push(() => chain.put(rebaseTo, 'rebase'))
        await all(writes)
      })
    },
    rebase: async (checkpoint) => {
      const cp = { height: checkpoint.height, state: copyBytes(checkpoint.state) }
      await chainTx('readwrite', async (tx) => {
        checkRebase(await getTip(tx), cp)
        const chain = tx.objectStore('chain')
        await all<unknown>([
          () => tx.objectStore('blocks').clear(),
          () => chain.put(cp, 'checkpoint'),
          () => chain.put(cp.height, 'tip'),
          () => chain.put(cp.height, 'rebase')
        ])
      })
    },
    truncateAbove: async (height) => {
      if (Number.isNaN(height)) throw new StorageError('STORAGE_IO', { reason: 'truncateAbove(NaN)' })
      const keep = Math.max(0, Math.floor(height))
      await chainTx('readwrite', async (tx) => {
        const tip = await getTip(tx)
        const rebased = await getRebased(tx)
        checkTruncate(keep, rebased)
        const chain = tx.objectStore('chain')
        const checkpoint = readCheckpoint(await chain.get('checkpoint'))
        const writes: Array<() => Promise<unknown>> = []
        if (tip > keep) {
          // Blocks first..keep stay; below the first stored height none do, and the tip is the rebase height.
          const newTip = keep >= await getFirst(tx, tip) ? keep : rebased
          writes.push(() => tx.objectStore('blocks').delete(IDBKeyRange.lowerBound(keep, true)))
          writes.push(() => chain.put(newTip, 'tip'))
        }
        if (checkpoint !== undefined && checkpoint.height > keep) writes.push(() => chain.delete('checkpoint'))
        await all(writes)
      })
    },
    clearChain: async () => {
      await chainTx('readwrite', async (tx) => {
        await all<unknown>([() => tx.objectStore('blocks').clear(), () => tx.objectStore('chain').clear()])
      })
    },
    getMeta: async (key) => await inTx(['meta'], 'readonly', async (tx) => {
      const v = await tx.objectStore('meta').get(key)
      if (v !== undefined && !isBytes(v)) throw new StorageError('STORAGE_CORRUPT', { reason: 'malformed meta value', key })
      return v
    }),
    putMeta: async (key, value) => {
      const copy = copyBytes(value)
      await inTx(['meta'], 'readwrite', async (tx) => { await tx.objectStore('meta').put(copy, key) })
    },
    getKeyPair: async (name) => await inTx(['keys'], 'readonly', async (tx) => await tx.objectStore('keys').get(name)),
    putKeyPair: async (name, pair) => {
      // An identity key is not something to lose to a relaxed flush: ask for a strict commit.
      await inTx(['keys'], 'readwrite', async (tx) => {
        await tx.objectStore('keys').put({ publicKey: pair.publicKey, privateKey: pair.privateKey }, name)
      }, 'strict')
    },
    estimate: async () => {
      const storage = (globalThis.navigator as Navigator | undefined)?.storage
      if (storage?.estimate === undefined) return {}
      const { usage, quota } = await storage.estimate()
      return { ...(usage === undefined ? {} : { usage }), ...(quota === undefined ? {} : { quota }) }
    },
    close: async () => {
      if (closed) return
      closed = true
      db.close()
    }
  }
  return store
}
