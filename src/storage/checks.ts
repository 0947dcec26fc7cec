/**
 * Argument checks shared by every ChainStore implementation, so that all of them reject the same
 * inputs with the same StorageError before writing anything.
 */
import { StorageError } from './types.ts'
import type { Checkpoint, StoredBlock } from './types.ts'

/**
 * Throws STORAGE_CONFLICT unless `blocks` continue the chain at `tip` (heights tip+1, tip+2, ...,
 * genesis already stored) and `checkpoint` (if any) is at a height in 0..new tip.
 */
export function checkAppend (tip: number, blocks: readonly StoredBlock[], checkpoint?: Checkpoint): void {
  if (tip < 0 && blocks.length > 0) throw new StorageError('STORAGE_CONFLICT', { reason: 'no genesis stored' })
  blocks.forEach((block, i) => {
    if (block.height !== tip + 1 + i) {
      throw new StorageError('STORAGE_CONFLICT', { reason: 'not contiguous', tip, expected: tip + 1 + i, got: block.height })
    }
  })
  const newTip = tip + blocks.length
  if (checkpoint !== undefined && !(Number.isSafeInteger(checkpoint.height) && checkpoint.height >= 0 && checkpoint.height <= newTip)) {
    throw new StorageError('STORAGE_CONFLICT', { reason: 'checkpoint not within stored heights', tip: newTip, checkpoint: checkpoint.height })
  }
}

/** Throws STORAGE_CONFLICT unless `genesis` is at height 0. */
export function checkGenesis (genesis: StoredBlock): void {
  if (genesis.height !== 0) throw new StorageError('STORAGE_CONFLICT', { reason: 'genesis height must be 0', got: genesis.height })
}

/** True when two byte arrays hold the same bytes. */
export function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

/** Normalizes a getBlocks request to [first, last] inclusive within 0..tip, or undefined when empty. */
export function blockRange (tip: number, from: number, count: number): [number, number] | undefined {
  if (!Number.isSafeInteger(from) || from < 0 || from > tip || !(count >= 1)) return undefined
  return [from, Math.min(tip, from + Math.floor(count) - 1)]
}
