/**
 * One storage interface for every platform: memory (tests), SQLite on Node (node:sqlite, WAL), IndexedDB
 * in the browser. The same conformance suite (test/storage/conformance.ts) runs against each.
 *
 * Model: the encoded genesis block (height 0), one contiguous run of encoded blocks first..top above it
 * (possibly empty), an optional rebase height R, one checkpoint (an encoded chain state, written in the
 * same transaction as the blocks it follows), and a small key/value area for metadata (peer identity,
 * validator key, peer cache).
 *
 * - tip: the highest stored block height, or R if higher; 0 with only genesis; -1 when empty (no genesis).
 * - first height (getFirstHeight): the lowest h >= 1 with blocks h..tip all stored; tip + 1 when no block
 *   above genesis is stored; -1 when empty. Blocks below it were pruned (appendBlocks' pruneBelow) or never
 *   stored (below a rebase). Blocks are never stored at heights 1..R.
 * - R (rebase height): 0 for a chain built up from genesis. rebase(checkpoint) sets it to checkpoint.height
 *   (the store then starts from that trusted checkpoint, without the blocks below it); a prune that removes
 *   every block above genesis sets it to the tip; clearChain resets it to 0. It survives close/reopen.
 * - Invariant kept by every write: R <= checkpoint height <= tip and checkpoint height >= first height - 1
 *   (a restart replays blocks checkpoint+1..tip, which are therefore always stored); with no checkpoint
 *   stored the replay starts at genesis. The one exception: truncateAbove removes a checkpoint above its
 *   height, and then leaves the store without a checkpoint (as before pruning/rebase existed).
 */

export interface StoredBlock {
  height: number
  hash: Uint8Array
  bytes: Uint8Array
}

export interface Checkpoint {
  /** Height of the chain state encoded in `state` (<= the tip height, >= the first height - 1). */
  height: number
  state: Uint8Array
}

/** Options of ChainStore.appendBlocks. */
export interface AppendOptions {
  /**
   * In the same transaction, delete every stored block with 1 <= height < pruneBelow (genesis is never
   * pruned). Must be an integer <= (checkpoint height after this write) + 1 (no checkpoint: 0 + 1), else
   * STORAGE_CONFLICT; <= the current first height, it prunes nothing.
   */
  pruneBelow?: number
}

export interface ChainStore {
  /** Human-readable kind, for logs and the UI ("memory", "sqlite", "indexeddb"). */
  readonly kind: string
  /** Encoded genesis block, or undefined before genesis. */
  getGenesis: () => Promise<StoredBlock | undefined>
  /** Stores genesis. Fails with STORAGE_CONFLICT if a different genesis is stored. */
  putGenesis: (genesis: StoredBlock) => Promise<void>
  /**
   * The tip: the highest stored block height, or the rebase height if higher (after a rebase, before any
   * block above it is appended); 0 when only genesis is stored; -1 when empty (no genesis).
   */
  getTipHeight: () => Promise<number>
  /**
   * The lowest height h >= 1 such that blocks h..tip are all stored; tip + 1 when no block above genesis is
   * stored (genesis only, right after a rebase, or every block pruned); -1 when empty (no genesis).
   */
  getFirstHeight: () => Promise<number>
  /**
   * The block at `height` (height 0 is genesis), or undefined when it is not stored: outside 0..tip, pruned
   * (1 <= height < first height), or at/below the rebase height.
   */
  getBlock: (height: number) => Promise<StoredBlock | undefined>
  /**
   * Up to `count` stored blocks from `from` upward, contiguous, stopping at the tip. Empty when `from` is
   * not stored (outside 0..tip, pruned, at/below the rebase height) or `count` < 1. From 0: genesis, then
   * blocks 1, 2, ... only if block 1 is stored (after pruning or a rebase, just [genesis]).
   */
  getBlocks: (from: number, count: number) => Promise<StoredBlock[]>
  getCheckpoint: () => Promise<Checkpoint | undefined>
  /**
   * Appends contiguous blocks starting at tip + 1 (after a rebase, at rebase height + 1) and, in the same
   * transaction, replaces the checkpoint (if given) and prunes (if `opts.pruneBelow`, see AppendOptions).
   * All or nothing: on any failure (conflict, full disk/quota, ...) nothing is written and nothing pruned,
   * and the error is a StorageError. STORAGE_CONFLICT when no genesis is stored, the heights are not tip+1,
   * tip+2, ..., the checkpoint height is outside 0..new tip or below (first height after this write) - 1,
   * or pruneBelow is not an integer or is above (checkpoint height after this write) + 1. An empty `blocks`
   * with a checkpoint replaces just the checkpoint. A prune that leaves no block above genesis (pruneBelow =
   * new tip + 1, so the checkpoint is at the new tip) leaves the store as rebase(checkpoint) would: the
   * rebase height becomes the tip.
   */
  appendBlocks: (blocks: StoredBlock[], checkpoint?: Checkpoint, opts?: AppendOptions) => Promise<void>
  /**
   * Starts the chain from a trusted checkpoint, without the blocks below it. Atomically removes every stored
   * block above genesis, stores `checkpoint` and sets the rebase height (and so the tip) to
   * checkpoint.height; getFirstHeight() is then checkpoint.height + 1 and the next append starts there.
   * STORAGE_CONFLICT (nothing changed) when no genesis is stored or checkpoint.height is not an integer >= 1.
   */
  rebase: (checkpoint: Checkpoint) => Promise<void>
  /**
   * Removes every block above `height` (and the checkpoint if it is above it), atomically. Genesis is
   * never removed (a negative height acts as 0); use clearChain for that. STORAGE_CONFLICT (nothing
   * changed) when `height` is below the rebase height. The tip afterwards is min(old tip, max(height,
   * rebase height)) when blocks up to `height` are stored; truncating below the first height - 1 leaves no
   * block above genesis, so the tip falls to the rebase height (0 when not rebased).
   */
  truncateAbove: (height: number) => Promise<void>
  /** Removes all chain data (genesis, blocks, checkpoint) and resets the rebase height to 0; keeps metadata. */
  clearChain: () => Promise<void>
  getMeta: (key: string) => Promise<Uint8Array | undefined>
  putMeta: (key: string, value: Uint8Array) => Promise<void>
  close: () => Promise<void>
}

export type StorageErrorCode =
  /** The medium is full (disk full, browser quota exceeded). Nothing was written. */
  | 'STORAGE_FULL'
  /**
   * Append not contiguous with the tip, a checkpoint or pruneBelow out of bounds, rebase without genesis,
   * truncateAbove below the rebase height, or a different genesis already stored. Nothing was written.
   */
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

// ---- rules shared by the ChainStore implementations (checks.ts holds the older ones) ----

/** What appendBlocks must delete, as decided by planPrune. */
export interface PrunePlan {
  /** Delete the blocks 1..pruneBelow-1 (a range delete); undefined: prune nothing. */
  pruneBelow?: number
  /** Set when the prune leaves no block above genesis: the new rebase height (the new tip). */
  rebaseTo?: number
}

/**
 * Checks appendBlocks' pruning and checkpoint bounds (call after checkAppend, before writing anything) and
 * says what to delete. `state` is the store before the write: its tip, first height (tip + 1 when no block
 * above genesis is stored) and stored checkpoint height. Throws STORAGE_CONFLICT.
 */
export function planPrune (
  state: { tip: number, first: number, checkpoint: number | undefined },
  added: number, checkpoint: Checkpoint | undefined, pruneBelow: number | undefined
): PrunePlan {
  const newTip = state.tip + added
  let newFirst = state.first
  const plan: PrunePlan = {}
  if (pruneBelow !== undefined) {
    if (!Number.isSafeInteger(pruneBelow)) throw new StorageError('STORAGE_CONFLICT', { reason: 'pruneBelow must be an integer', pruneBelow })
    const base = checkpoint?.height ?? state.checkpoint ?? 0
    if (pruneBelow > base + 1) {
      throw new StorageError('STORAGE_CONFLICT', { reason: 'pruneBelow above checkpoint + 1', pruneBelow, checkpoint: base })
    }
    if (pruneBelow > Math.max(1, state.first)) {
      newFirst = pruneBelow
      plan.pruneBelow = pruneBelow
      if (pruneBelow > newTip) plan.rebaseTo = newTip
    }
  }
  if (checkpoint !== undefined && checkpoint.height < newFirst - 1) {
    throw new StorageError('STORAGE_CONFLICT', { reason: 'checkpoint below the stored blocks', checkpoint: checkpoint.height, first: newFirst })
  }
  return plan
}

/** Throws STORAGE_CONFLICT unless a rebase onto `checkpoint` is allowed (genesis stored, height an integer >= 1). */
export function checkRebase (tip: number, checkpoint: Checkpoint): void {
  if (tip < 0) throw new StorageError('STORAGE_CONFLICT', { reason: 'no genesis stored' })
  if (!Number.isSafeInteger(checkpoint.height) || checkpoint.height < 1) {
    throw new StorageError('STORAGE_CONFLICT', { reason: 'rebase height must be an integer >= 1', height: checkpoint.height })
  }
}

/** Throws STORAGE_CONFLICT when truncateAbove(keep) would cut below the rebase height. */
export function checkTruncate (keep: number, rebaseHeight: number): void {
  if (keep < rebaseHeight) throw new StorageError('STORAGE_CONFLICT', { reason: 'truncateAbove below the rebase height', height: keep, rebaseHeight })
}
