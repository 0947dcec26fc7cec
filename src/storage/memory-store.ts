/**
 * In-memory ChainStore for tests and ephemeral peers. Nothing survives the process.
 */
import { StorageError } from './types.ts'
import type { ChainStore, Checkpoint, StoredBlock } from './types.ts'
import { blockRange, bytesEqual, checkAppend, checkGenesis } from './checks.ts'

const copyBlock = (b: StoredBlock): StoredBlock => ({ height: b.height, hash: new Uint8Array(b.hash), bytes: new Uint8Array(b.bytes) })
const copyCheckpoint = (c: Checkpoint): Checkpoint => ({ height: c.height, state: new Uint8Array(c.state) })

/**
 * Creates an empty in-memory store (kind 'memory'). Bytes are copied on the way in and out, so callers
 * can never mutate what is stored. Each call is atomic (validation happens before any write).
 */
export function createMemoryStore (): ChainStore {
  /** blocks[0] is genesis; blocks[h] is the block at height h. */
  let blocks: StoredBlock[] = []
  let checkpoint: Checkpoint | undefined
  const meta = new Map<string, Uint8Array>()
  let closed = false

  /** Runs `fn` unless the store is closed; thrown errors become rejections. */
  const op = async <T>(fn: () => T): Promise<T> => {
    if (closed) throw new StorageError('STORAGE_CLOSED')
    return fn()
  }
  const tip = (): number => blocks.length - 1

  return {
    kind: 'memory',
    getGenesis: async () => await op(() => blocks[0] === undefined ? undefined : copyBlock(blocks[0])),
    putGenesis: async (genesis) => {
      await op(() => {
        checkGenesis(genesis)
        const stored = blocks[0]
        if (stored === undefined) blocks = [copyBlock(genesis)]
        else if (!bytesEqual(stored.hash, genesis.hash) || !bytesEqual(stored.bytes, genesis.bytes)) {
          throw new StorageError('STORAGE_CONFLICT', { reason: 'a different genesis is stored' })
        }
      })
    },
    getTipHeight: async () => await op(tip),
    getBlock: async (height) => await op(() => {
      const b = Number.isSafeInteger(height) ? blocks[height] : undefined
      return b === undefined ? undefined : copyBlock(b)
    }),
    getBlocks: async (from, count) => await op(() => {
      const range = blockRange(tip(), from, count)
      return range === undefined ? [] : blocks.slice(range[0], range[1] + 1).map(copyBlock)
    }),
    getCheckpoint: async () => await op(() => checkpoint === undefined ? undefined : copyCheckpoint(checkpoint)),
    appendBlocks: async (newBlocks, newCheckpoint) => {
      await op(() => {
        checkAppend(tip(), newBlocks, newCheckpoint)
        blocks.push(...newBlocks.map(copyBlock))
        if (newCheckpoint !== undefined) checkpoint = copyCheckpoint(newCheckpoint)
      })
    },
    truncateAbove: async (height) => {
      await op(() => {
        const keep = Math.max(0, Math.floor(height))
        if (blocks.length > keep + 1) blocks.length = keep + 1
        if (checkpoint !== undefined && checkpoint.height > keep) checkpoint = undefined
      })
    },
    clearChain: async () => {
      await op(() => { blocks = []; checkpoint = undefined })
    },
    getMeta: async (key) => await op(() => {
      const v = meta.get(key)
      return v === undefined ? undefined : new Uint8Array(v)
    }),
    putMeta: async (key, value) => {
      await op(() => { meta.set(key, new Uint8Array(value)) })
    },
    close: async () => { closed = true }
  }
}
