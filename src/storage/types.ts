/**
 * One storage interface for every platform: memory (tests), SQLite on Node (node:sqlite, WAL), IndexedDB
 * in the browser. The same conformance suite (test/storage/conformance.ts) runs against each.
 *
 * Model: the encoded genesis block, contiguous encoded blocks 1..tip, one checkpoint (an encoded chain
 * state at some height <= tip, written in the same transaction as the blocks it follows), and a small
 * key/value area for metadata (peer identity, validator key, peer cache).
 */

export interface StoredBlock {
  height: number
  hash: Uint8Array
  bytes: Uint8Array
}

export interface Checkpoint {
  /** Height of the chain state encoded in `state` (<= the tip height). */
  height: number
  state: Uint8Array
}

export interface ChainStore {
  /** Human-readable kind, for logs and the UI ("memory", "sqlite", "indexeddb"). */
  readonly kind: string
  /** Encoded genesis block, or undefined before genesis. */
  getGenesis: () => Promise<StoredBlock | undefined>
  /** Stores genesis. Fails with STORAGE_CONFLICT if a different genesis is stored. */
  putGenesis: (genesis: StoredBlock) => Promise<void>
  /** Highest stored height: -1 when empty, 0 when only genesis is stored. */
  getTipHeight: () => Promise<number>
  /** The block at `height` (height 0 is genesis), or undefined outside 0..tip. */
  getBlock: (height: number) => Promise<StoredBlock | undefined>
  /**
   * Up to `count` blocks from `from` upward, contiguous, stopping at the tip (genesis included when
   * `from` is 0). Empty when `from` is outside 0..tip or `count` < 1.
   */
  getBlocks: (from: number, count: number) => Promise<StoredBlock[]>
  getCheckpoint: () => Promise<Checkpoint | undefined>
  /**
   * Appends contiguous blocks starting at tip + 1 and, in the same transaction, replaces the checkpoint
   * (if given). All or nothing: on any failure nothing is written and the error is a StorageError.
   * STORAGE_CONFLICT when no genesis is stored, the heights are not tip+1, tip+2, ..., or the
   * checkpoint height is outside 0..new tip. An empty `blocks` with a checkpoint replaces just the checkpoint.
   */
  appendBlocks: (blocks: StoredBlock[], checkpoint?: Checkpoint) => Promise<void>
  /**
   * Removes every block above `height` (and the checkpoint if it is above it), atomically. Genesis is
   * never removed (a negative height acts as 0); use clearChain for that.
   */
  truncateAbove: (height: number) => Promise<void>
  /** Removes all chain data (genesis, blocks, checkpoint); keeps metadata. */
  clearChain: () => Promise<void>
  getMeta: (key: string) => Promise<Uint8Array | undefined>
  putMeta: (key: string, value: Uint8Array) => Promise<void>
  close: () => Promise<void>
}

export type StorageErrorCode =
  /** The medium is full (disk full, browser quota exceeded). Nothing was written. */
  | 'STORAGE_FULL'
  /** Append not contiguous with the tip, or a different genesis already stored. Nothing was written. */
  | 'STORAGE_CONFLICT'
  /** Stored bytes failed to read back as expected. */
  | 'STORAGE_CORRUPT'
  /** Used after close(). */
  | 'STORAGE_CLOSED'
  /** Any other I/O failure. */
  | 'STORAGE_IO'

export class StorageError extends Error {
  override readonly name = 'StorageError'
  readonly code: StorageErrorCode
  readonly details: Record<string, unknown>

  constructor (code: StorageErrorCode, details: Record<string, unknown> = {}, message?: string) {
    super(message ?? `${code}${Object.keys(details).length > 0 ? ': ' + JSON.stringify(details) : ''}`)
    this.code = code
    this.details = details
  }
}
