/**
 * In-memory ChainStore for tests and ephemeral peers. Nothing survives the process.
 */
import { StorageError, checkRebase, checkTruncate, planPrune } from './types.ts'
import type { ChainStore, Checkpoint, StoredBlock } from './types.ts'
import { blockRange, bytesEqual, checkAppend, checkGenesis } from './checks.ts'

const copyBlock = (b: StoredBlock): StoredBlock => ({ height: b.height, hash: new Uint8Array(b.hash), bytes: new Uint8Array(b.bytes) })
const copyCheckpoint = (c: Checkpoint): Checkpoint => ({ height: c.height, state: new Uint8Array(c.state) })

/**
 * Creates an empty in-memory store (kind 'memory'). Bytes are copied on the way in and out, so callers
 * can never mutate what is stored. Each call is atomic (validation happens before any write).
 */
export function createMemoryStore (): ChainStore {
  let genesis: StoredBlock | undefined
  /** The contiguous stored blocks above genesis: chain[i] is the block at height chain[0].height + i. */
  let chain: StoredBlock[] = []
  /** The rebase height (0 unless rebased, see types.ts). */
  let rebased = 0
  let checkpoint: Checkpoint | undefined
  const meta = new Map<string, Uint8Array>()
  let closed = false

  /** Runs `fn` unless the store is closed; thrown errors become rejections. */
  const op = async <T>(fn: () => T): Promise<T> => {
    if (closed) throw new StorageError('STORAGE_CLOSED')
    return fn()
  }
  const tip = (): number => genesis === undefined ? -1 : chain.at(-1)?.height ?? rebased
  /** Lowest stored height above genesis, or tip + 1 when none is stored. */
  const first = (): number => chain[0]?.height ?? tip() + 1
  const block = (height: number): StoredBlock | undefined =>
    !Number.isSafeInteger(height) ? undefined : height === 0 ? genesis : chain[height - first()]

  return {
    kind: 'memory',
    getGenesis: async () => await op(() => genesis === undefined ? undefined : copyBlock(genesis)),
    putGenesis: async (g) => {
      await op(() => {
        checkGenesis(g)
        if (genesis === undefined) genesis = copyBlock(g)
        else if (!bytesEqual(genesis.hash, g.hash) || !bytesEqual(genesis.bytes, g.bytes)) {
          throw new StorageError('STORAGE_CONFLICT', { reason: 'a different genesis is stored' })
        }
      })
    },
    getTipHeight: async () => await op(tip),
    getFirstHeight: async () => await op(() => genesis === undefined ? -1 : first()),
    getBlock: async (height) => await op(() => {
      const b = block(height)
      return b === undefined ? undefined : copyBlock(b)
    }),
    getBlocks: async (from, count) => await op(() => {
      const range = blockRange(tip(), from, count)
      if (range === undefined || genesis === undefined) return []
      const [lo, hi] = range
      const f = first()
      if (lo > 0 && lo < f) return [] // `from` was pruned (or is at/below the rebase height)
      if (lo === 0 && f !== 1) return [copyBlock(genesis)] // block 1 is not stored
      const out = lo === 0 ? [genesis] : []
      out.push(...chain.slice(Math.max(lo, 1) - f, hi - f + 1))
      return out.map(copyBlock)
    }),
    getCheckpoint: async () => await op(() => checkpoint === undefined ? undefined : copyCheckpoint(checkpoint)),
    appendBlocks: async (newBlocks, newCheckpoint, opts) => {
      await op(() => {
        checkAppend(tip(), newBlocks, newCheckpoint)
        const plan = planPrune({ tip: tip(), first: first(), checkpoint: checkpoint?.height }, newBlocks.length, newCheckpoint, opts?.pruneBelow)
        chain.push(...newBlocks.map(copyBlock))
        if (plan.pruneBelow !== undefined) chain = chain.slice(plan.pruneBelow - chain[0]!.height)
        if (plan.rebaseTo !== undefined) rebased = plan.rebaseTo
        if (newCheckpoint !== undefined) checkpoint = copyCheckpoint(newCheckpoint)
      })
    },
    rebase: async (cp) => {
      await op(() => {
        checkRebase(tip(), cp)
        chain = []
        rebased = cp.height
        checkpoint = copyCheckpoint(cp)
      })
    },
    truncateAbove: async (height) => {
      await op(() => {
        const keep = Math.max(0, Math.floor(height))
        checkTruncate(keep, rebased)
        if (chain.length > 0 && keep < tip()) chain = chain.slice(0, Math.max(0, keep - first() + 1))
        if (checkpoint !== undefined && checkpoint.height > keep) checkpoint = undefined
      })
    },
    clearChain: async () => {
      await op(() => { genesis = undefined; chain = []; rebased = 0; checkpoint = undefined })
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
