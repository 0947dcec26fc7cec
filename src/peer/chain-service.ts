/**
 * Owns the verified chain state and its persistence. Every block, from gossip, sync or our own
 * round, goes through here one at a time: verify with the protocol core, then store atomically
 * (blocks + checkpoint in one transaction), then publish the new state to listeners.
 */
import {
  ProtocolError, Reader, Writer, compareForks, computeBlockHash, decodeBlock, decodeChainState, encodeBlock, encodeChainState, equals,
  formatCheckpoint, parseCheckpoint, processBlock, processBlocks, processGenesis, toHex, isProtocolError, utf8, verifyTrustedState
} from '../protocol/index.ts'
import type { Block, BlockInfo, ChainState, NetworkConfig, Ed25519Verifier, TrustedCheckpoint } from '../protocol/index.ts'
import type { ChainStore, StoredBlock } from '../storage/types.ts'
import { StorageError } from '../storage/types.ts'
import type { Clock } from './clock.ts'
import type { Logger } from './logger.ts'
import type { BlockEvent, Emitter, PeerEvents } from './events.ts'
import { sha256 } from '../protocol/hash.ts'
import { concat } from '../protocol/bytes.ts'

export interface ChainServiceInit {
  network: NetworkConfig
  store: ChainStore
  verifier: Ed25519Verifier
  clock: Clock
  log: Logger
  events: Emitter<PeerEvents>
  /**
   * Keep only the newest `keepBlocks` blocks (and the checkpoint state): older ones are pruned in the same
   * transaction that appends new ones. Default: keep every block.
   */
  keepBlocks?: number
}

/** Meta key of the trusted checkpoint the stored chain started from (`height:hash`; empty: from genesis). */
const META_STARTED_FROM = 'chain/started-from'
/** Meta key of the chain states kept every checkpointInterval blocks, to serve (u8 n, n x (u32 len, state)). */
const META_SERVED_STATES = 'chain/served-states'
/** Fewest blocks a pruned store keeps: the reorg window and the checkpoint below it. */
export const MIN_KEEP_BLOCKS = 64

/** Serialises async work: state transitions happen strictly one after another. */
class Mutex {
  private tail: Promise<unknown> = Promise.resolve()
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn)
    this.tail = next.catch(() => {})
    return await next
  }
}

export function quorumDigest (info: BlockInfo): string {
  return toHex(sha256(concat(info.quorum.producer, ...info.quorum.validators))).slice(0, 16)
}

/** Deepest fork the peer will switch away from (blocks of its own chain it would discard). */
export const MAX_REORG_DEPTH = 16

/** The last MAX_REORG_DEPTH + 1 of consecutive states: the reorg window they make. */
function lastWindow (states: ChainState[]): ChainState[] {
  return states.slice(-(MAX_REORG_DEPTH + 1))
}

export class ChainService {
  private readonly init: ChainServiceInit
  private readonly mutex = new Mutex()
  private current?: ChainState
  /** The last MAX_REORG_DEPTH + 1 states (oldest first), to switch to a longer fork without replaying. */
  private recent: ChainState[] = []
  private genesisBlock?: Block
  /** Set once the store failed (e.g. full): the peer keeps running in memory and stops writing. */
  storageError?: StorageError
  /** Where acceptBatch's time went, summed over every batch (ms): verification, store writes (queued, so they overlap the next batch's verification), block events. */
  readonly batchTimes = { verifyMs: 0, storeMs: 0, eventsMs: 0 }
  /** The store write queue's last write (see write). */
  private writes: Promise<void> = Promise.resolve()
  /** The trusted checkpoint the chain started from (undefined: from genesis). */
  startedFrom?: TrustedCheckpoint
  /** States at multiples of the preset's checkpointInterval (newest checkpointRetention), to serve. */
  private served: ChainState[] = []
  private tipListeners = new Set<(s: ChainState) => void>()
  private blockListeners = new Set<(blocks: Block[]) => void>()

  constructor (init: ChainServiceInit) {
    this.init = init
  }

  get state (): ChainState | undefined { return this.current }
  get height (): number { return this.current?.tip.header.height ?? -1 }
  get genesis (): Block | undefined { return this.genesisBlock }

  onTip (fn: (s: ChainState) => void): () => void {
    this.tipListeners.add(fn)
    return () => { this.tipListeners.delete(fn) }
  }

  /** Every block that becomes part of the chain (gossip, sync, reorg), in height order, once verified. */
  onBlocks (fn: (blocks: Block[]) => void): () => void {
    this.blockListeners.add(fn)
    return () => { this.blockListeners.delete(fn) }
  }

  /**
   * Loads what the store holds and re-verifies it: genesis against the release quorum, the checkpoint's
   * consistency, and every block after it (including the tip) against quorums computed from it.
   * Anything that fails is reported and the chain data is discarded so the peer re-syncs; nothing
   * unverified is ever shown as verified.
   */
  async load (): Promise<{ height: number, replayed: number, discarded?: string }> {
    this.loading ??= this.loadOnce()
    return await this.loading
  }

  private loading?: Promise<{ height: number, replayed: number, discarded?: string }>

  private async loadOnce (): Promise<{ height: number, replayed: number, discarded?: string }> {
    return await this.mutex.run(async () => {
      const { store, network, verifier, log } = this.init
      const g = await store.getGenesis()
      if (g === undefined) return { height: -1, replayed: 0 }
      try {
        const genesis = decodeBlock(g.bytes)
        let state = await processGenesis(network, genesis, verifier)
        this.genesisBlock = genesis
        const cp = await store.getCheckpoint()
        if (cp !== undefined && cp.height > 0) {
          const genesisHash = state.genesisHash
          state = decodeChainState(network, cp.state)
          if (!equals(state.genesisHash, genesisHash)) throw new ProtocolError('CHECKPOINT_INVALID', { reason: 'stored state names another genesis' })
        }
        await this.loadMeta(state.genesisHash)
        const tip = await store.getTipHeight()
        let replayed = 0
        // The replayed states rebuild the reorg window (the checkpoint is its oldest state), so a peer that
        // stopped on a fork that then lost can still switch after a restart.
        let window: ChainState[] = [state]
        for (let h = state.tip.header.height + 1; h <= tip;) {
          const batch = await store.getBlocks(h, 512)
          if (batch.length === 0) throw new ProtocolError('CHECKPOINT_INVALID', { reason: 'missing stored block', height: h })
          const blocks = batch.map((b) => decodeBlock(b.bytes))
          const { states } = await processBlocks(state, blocks, { verifier, keepStates: MAX_REORG_DEPTH + 1 })
          state = states[states.length - 1]!
          window = lastWindow([...window, ...states])
          replayed += blocks.length
          h += blocks.length
        }
        this.current = state
        this.recent = window
        log.info('loaded chain from store', { height: state.tip.header.height, replayed, store: store.kind })
        for (const fn of this.tipListeners) fn(state)
        return { height: state.tip.header.height, replayed }
      } catch (err) {
        // An I/O failure is not evidence of bad data: report it and keep the store as it is.
        if (err instanceof StorageError) {
          this.storageError = err
          this.init.events.emit('error', { code: err.code, message: `Could not read the stored chain (${err.message}); running in memory and re-syncing from peers.`, details: err.details })
          return { height: -1, replayed: 0, discarded: err.code }
        }
        const reason = isProtocolError(err) ? err.code : String(err)
        log.warn('stored chain failed verification; discarding it and re-syncing', { reason })
        this.init.events.emit('error', { code: 'STORE_CORRUPT', message: `Stored chain failed verification (${reason}); it was discarded and will be re-synced from peers.`, details: { reason } })
        this.current = undefined
        this.genesisBlock = undefined
        await store.clearChain()
        return { height: -1, replayed: 0, discarded: reason }
      }
    })
  }

  private async loadMeta (genesisHash: Uint8Array): Promise<void> {
    const { store, network } = this.init
    const from = await store.getMeta(META_STARTED_FROM)
    this.startedFrom = from !== undefined && from.length > 0 ? parseCheckpoint(new TextDecoder().decode(from)) : undefined
    const served = await store.getMeta(META_SERVED_STATES)
    this.served = []
    if (served === undefined) return
    try {
      const r = new Reader(served, 'served-states')
      const n = r.u8('count')
      for (let i = 0; i < n; i++) {
        const s = decodeChainState(network, r.fixed(r.u32('length'), 'state'))
        if (equals(s.genesisHash, genesisHash)) this.served.push(s)
      }
      r.end()
    } catch (err) {
      // States we wrote ourselves; if they do not read back, they are only not served.
      this.init.log.warn('stored checkpoint states are unreadable; not serving them', { err: String(err) })
      this.served = []
    }
  }

  /**
   * Starts the chain from a verified trusted checkpoint (verifyTrustedState): replaces whatever the store held
   * by the checkpoint's genesis and state (the store's rebase), and verifies forward from there.
   */
  async startFromCheckpoint (genesis: Block, state: ChainState, checkpoint: TrustedCheckpoint): Promise<void> {
    await this.mutex.run(async () => {
      const { store } = this.init
      const genesisHash = computeBlockHash(genesis.header)
      const stored = await store.getGenesis().catch(() => undefined)
      if (stored !== undefined && !equals(stored.hash, genesisHash)) await this.write(async () => { await store.clearChain() })
      await this.write(async () => {
        await store.putGenesis({ height: 0, hash: genesisHash, bytes: encodeBlock(genesis) })
        await store.rebase({ height: state.tip.header.height, state: encodeChainState(state) })
        await store.putMeta(META_STARTED_FROM, utf8(formatCheckpoint(checkpoint)))
      })
      this.genesisBlock = genesis
      this.current = state
      this.recent = [state]
      this.startedFrom = checkpoint
      this.init.log.info('started from a trusted checkpoint', { height: checkpoint.height, hash: toHex(checkpoint.hash).slice(0, 16) })
      for (const fn of this.tipListeners) fn(state)
    })
  }

  /** verifyTrustedState with this chain's network and verifier. */
  async verifyTrusted (cp: TrustedCheckpoint, genesis: Block, bytes: Uint8Array, now: number): Promise<ChainState> {
    return await verifyTrustedState(this.init.network, cp, genesis, bytes, { verifier: this.init.verifier, now })
  }

  /** Our block hash at `height`: from the reorg window, else from the store (undefined if not held). */
  async hashAt (height: number): Promise<Uint8Array | undefined> {
    return this.recentHash(height) ?? (height === 0 ? this.current?.genesisHash : (await this.init.store.getBlock(height))?.hash)
  }

  /** The encoded state after block `hash` at `height`, if we hold it (reorg window, tip, or a kept checkpoint state). */
  stateAt (height: number, hash: Uint8Array): Uint8Array | undefined {
    const s = [...this.recent, ...this.served].find((x) => x.tip.header.height === height && equals(x.tip.hash, hash))
    return s === undefined ? undefined : encodeChainState(s)
  }

  /** Accepts a genesis block (verifying its release certificate). Idempotent for the same genesis. */
  async acceptGenesis (block: Block): Promise<ChainState> {
    return await this.mutex.run(async () => {
      const hash = computeBlockHash(block.header)
      if (this.current !== undefined) {
        if (toHex(this.current.genesisHash) === toHex(hash)) return this.current
        throw new ProtocolError('GENESIS_MISMATCH', { have: toHex(this.current.genesisHash).slice(0, 16), got: toHex(hash).slice(0, 16) })
      }
      const state = await processGenesis(this.init.network, block, this.init.verifier)
      await this.write(async () => { await this.init.store.putGenesis({ height: 0, hash, bytes: encodeBlock(block) }) })
      if (this.startedFrom !== undefined) await this.write(async () => { await this.init.store.putMeta(META_STARTED_FROM, new Uint8Array(0)) })
      this.startedFrom = undefined
      this.genesisBlock = block
      this.current = state
      this.recent = [state]
      this.init.events.emit('genesis', { hash: toHex(hash), timestamp: block.header.timestamp, signers: block.cert.map((c) => c.signer) })
      for (const fn of this.tipListeners) fn(state)
      return state
    })
  }

  /** Verifies and stores one block on top of the tip. Throws ProtocolError (with code) if it is not valid. */
  async acceptBlock (block: Block, source: BlockEvent['source']): Promise<BlockInfo> {
    return await this.mutex.run(async () => {
      const state = this.current
      if (state === undefined) throw new ProtocolError('LOCKED', { reason: 'no genesis yet' })
      if (block.header.height <= state.tip.header.height) {
        const h = computeBlockHash(block.header)
        if (block.header.height === state.tip.header.height && toHex(h) === toHex(state.tip.hash)) throw new ProtocolError('DUPLICATE', { height: block.header.height })
      }
      const { state: next, info } = await processBlock(state, block, { verifier: this.init.verifier, now: this.init.clock.now() })
      await this.persist([{ block, info }], this.windowFloor(this.recent, [next]))
      this.advance(next, [{ block, info }], source)
      return info
    })
  }

  /** Verifies and stores consecutive blocks (sync): all signature checks of the batch run concurrently. */
  async acceptBatch (blocks: Block[]): Promise<number> {
    const { accepted, stored } = await this.acceptBatchQueued(blocks)
    await stored
    return accepted
  }

  /**
   * As acceptBatch, but resolves once the batch is verified and is the chain's tip, with its store write
   * queued (`stored` settles when it is written): a sync verifies the next batch while IndexedDB commits
   * this one. Writes stay in order (one queue, `write`); a failed write is reported as acceptBatch's are.
   */
  async acceptBatchQueued (blocks: Block[]): Promise<{ accepted: number, stored: Promise<void> }> {
    const none = { accepted: 0, stored: Promise.resolve() }
    if (blocks.length === 0) return none
    return await this.mutex.run(async () => {
      const state = this.current
      if (state === undefined) throw new ProtocolError('LOCKED', { reason: 'no genesis yet' })
      // Skip blocks we already have (overlapping responses).
      const fresh = blocks.filter((b) => b.header.height > state.tip.header.height)
      if (fresh.length === 0) return none
      const t0 = performance.now()
      const { states, infos } = await processBlocks(state, fresh, { verifier: this.init.verifier, now: this.init.clock.now(), keepStates: MAX_REORG_DEPTH + 1 })
      const items = fresh.map((block, i) => ({ block, info: infos[i]! }))
      const t1 = performance.now()
      // persist() queues its first write synchronously, before anything else can queue one.
      const stored = this.persist(items, this.windowFloor(this.recent, states)).then(() => { this.batchTimes.storeMs += performance.now() - t1 })
      const t2 = performance.now()
      this.advance(states[states.length - 1]!, items, 'sync', states)
      this.batchTimes.verifyMs += t1 - t0
      this.batchTimes.eventsMs += performance.now() - t2
      return { accepted: fresh.length, stored }
    })
  }

  /**
   * The oldest state of the reorg window once `added` (consecutive states) follow `recent`: the checkpoint
   * written with those blocks, so that a restart can rebuild the whole window (PROTOCOL.md §3.8).
   */
  private windowFloor (recent: ChainState[], added: ChainState[]): ChainState {
    return lastWindow([...recent, ...added])[0]!
  }

  private remember (states: ChainState[]): void {
    this.recent = lastWindow([...this.recent, ...states])
  }

  /** Our block hash at `height` if it is within the reorg window. */
  recentHash (height: number): Uint8Array | undefined {
    return this.recent.find((s) => s.tip.header.height === height)?.tip.hash
  }

  /** Our block (header and hash) at `height` if it is within the reorg window. */
  recentTip (height: number): ChainState['tip'] | undefined {
    return this.recent.find((s) => s.tip.header.height === height)?.tip
  }

  /** Lowest height a fork may start from (the oldest state we can rebuild from). */
  get reorgFloor (): number {
    return this.recent[0]?.tip.header.height ?? this.height
  }

  /**
   * Switches to a fork: `blocks` start right above `ancestorHeight` (a height we hold a state for) and the
   * fork must win the fork choice against ours (`compareForks`: longer, or equal length with the lower round,
   * then the lower hash, at the first height where they differ). Verified in full before anything is
   * changed; then our blocks above the ancestor are replaced.
   */
  async reorg (ancestorHeight: number, blocks: Block[]): Promise<number> {
    return await this.mutex.run(async () => {
      const base = this.recent.find((s) => s.tip.header.height === ancestorHeight)
      if (base === undefined || this.current === undefined) throw new ProtocolError('UNKNOWN_PARENT', { reason: 'fork below the reorg window', ancestorHeight })
      const first = blocks[0]
      if (first === undefined) throw new ProtocolError('STALE', { reason: 'empty fork', ancestorHeight })
      const newTip = ancestorHeight + blocks.length
      const tip = this.current.tip.header.height
      const ours = this.recentTip(ancestorHeight + 1)
      const theirs = { tipHeight: newTip, firstRound: first.header.round, firstHash: computeBlockHash(first.header) }
      if (ours !== undefined && compareForks(theirs, { tipHeight: tip, firstRound: ours.header.round, firstHash: ours.hash }) >= 0) {
        throw new ProtocolError('STALE', { reason: 'fork does not win the fork choice', newTip, tip })
      }
      const { states, infos } = await processBlocks(base, blocks, { verifier: this.init.verifier, now: this.init.clock.now() })
      const dropped = tip - ancestorHeight
      this.init.log.warn(newTip > tip ? 'switching to a longer fork' : 'switching to an equal-length fork that wins the tie-break', { ancestor: ancestorHeight, dropped, newTip })
      await this.write(async () => { await this.init.store.truncateAbove(ancestorHeight) })
      const items = blocks.map((block, i) => ({ block, info: infos[i]! }))
      const kept = this.recent.filter((s) => s.tip.header.height <= ancestorHeight)
      await this.persist(items, this.windowFloor(kept, states))
      this.recent = kept
      this.advance(states[states.length - 1]!, items, 'sync', states)
      return blocks.length
    })
  }

  /**
   * Switches to a chain on another genesis (PROTOCOL.md §13: genesis is height 0 of the fork choice). Allowed
   * only while our reorg window still reaches genesis; the other genesis' release certificate and every block
   * are verified, and the fork must win `compareForks` (longer; at equal length the lower genesis hash) before
   * the store is replaced.
   */
  async switchGenesis (genesis: Block, blocks: Block[]): Promise<number> {
    return await this.mutex.run(async () => {
      const current = this.current
      if (current === undefined || this.recent[0]?.tip.header.height !== 0) throw new ProtocolError('UNKNOWN_PARENT', { reason: 'genesis is below the reorg window' })
      const base = await processGenesis(this.init.network, genesis, this.init.verifier)
      const { states, infos } = blocks.length === 0
        ? { states: [], infos: [] }
        : await processBlocks(base, blocks, { verifier: this.init.verifier, now: this.init.clock.now(), keepStates: MAX_REORG_DEPTH + 1 })
      const ours = this.recent[0].tip
      const theirs = { tipHeight: blocks.length, firstRound: genesis.header.round, firstHash: base.genesisHash }
      if (compareForks(theirs, { tipHeight: current.tip.header.height, firstRound: ours.header.round, firstHash: ours.hash }) >= 0) {
        throw new ProtocolError('STALE', { reason: 'other genesis does not win the fork choice', theirTip: blocks.length, tip: current.tip.header.height })
      }
      this.init.log.warn('switching to a chain on another genesis', { from: toHex(current.genesisHash).slice(0, 16), to: toHex(base.genesisHash).slice(0, 16), dropped: current.tip.header.height, newTip: blocks.length })
      // Three writes: a crash in between leaves an empty or genesis-only store, which re-syncs at the next start.
      await this.write(async () => { await this.init.store.clearChain() })
      await this.write(async () => { await this.init.store.putGenesis({ height: 0, hash: base.genesisHash, bytes: encodeBlock(genesis) }) })
      const items = blocks.map((block, i) => ({ block, info: infos[i]! }))
      if (items.length > 0) await this.persist(items, this.windowFloor([base], states))
      this.genesisBlock = genesis
      this.recent = [base]
      this.init.events.emit('genesis', { hash: toHex(base.genesisHash), timestamp: genesis.header.timestamp, signers: genesis.cert.map((c) => c.signer) })
      this.advance(states.at(-1) ?? base, items, 'sync', states)
      return blocks.length
    })
  }

  private advance (next: ChainState, items: Array<{ block: Block, info: BlockInfo }>, source: BlockEvent['source'], states: ChainState[] = [next]): void {
    this.remember(states)
    this.current = next
    const now = this.init.clock.now()
    for (const { block, info } of items) {
      this.init.events.emit('block', {
        height: block.header.height,
        hash: toHex(info.hash),
        round: block.header.round,
        timestamp: block.header.timestamp,
        producer: toHex(block.header.producer),
        signers: block.signatures.map((s) => s.index),
        signerKeys: block.signatures.map((s) => toHex(info.quorum.validators[s.index]!)),
        bitset: block.header.bitset,
        revealBitset: block.header.revealBitset,
        quorumDigest: quorumDigest(info),
        source,
        acceptedAt: now
      })
    }
    for (const fn of this.tipListeners) fn(next)
    if (items.length > 0) for (const fn of this.blockListeners) fn(items.map((i) => i.block))
  }

  private async persist (items: Array<{ block: Block, info: BlockInfo }>, checkpointState: ChainState): Promise<void> {
    const stored: StoredBlock[] = items.map(({ block, info }) => ({ height: block.header.height, hash: info.hash, bytes: encodeBlock(block) }))
    const floor = checkpointState.tip.header.height
    const checkpoint = floor > 0 ? { height: floor, state: encodeChainState(checkpointState) } : undefined
    const keep = this.init.keepBlocks
    const tip = stored.at(-1)?.height ?? this.height
    // Blocks above the checkpoint stay: a restart replays them from it.
    const opts = keep !== undefined && checkpoint !== undefined ? { pruneBelow: Math.min(tip - Math.max(keep, MIN_KEEP_BLOCKS) + 1, floor + 1) } : undefined
    await this.write(async () => { await this.init.store.appendBlocks(stored, checkpoint, opts) })
    await this.keepServedState(checkpointState)
  }

  /**
   * Keeps the reorg window's floor when its height is a multiple of checkpointInterval (it can no longer be
   * switched away from): the newest checkpointRetention of them are served to peers that start from them.
   */
  private async keepServedState (state: ChainState): Promise<void> {
    const { checkpointInterval, checkpointRetention } = state.preset
    const h = state.tip.header.height
    if (h === 0 || h % checkpointInterval !== 0 || this.served.some((s) => s.tip.header.height === h)) return
    this.served = [...this.served, state].slice(-checkpointRetention)
    const w = new Writer().u8(this.served.length)
    for (const p of this.served.map(encodeChainState)) w.u32(p.length).raw(p)
    await this.write(async () => { await this.init.store.putMeta(META_SERVED_STATES, w.finish()) })
  }

  /** Heights of the checkpoint states this peer serves besides its reorg window. */
  get servedHeights (): number[] { return this.served.map((s) => s.tip.header.height) }

  /**
   * Runs a store write after every write queued before it (they commit in the order they were queued); on
   * failure (full disk, quota) reports once and keeps the peer running in memory. Never rejects.
   */
  private async write (fn: () => Promise<void>): Promise<void> {
    const run = this.writes.then(async () => { await this.runWrite(fn) })
    this.writes = run.catch(() => {})
    await run
  }

  /** Resolves once every store write queued so far has run (before the store is closed). */
  async flush (): Promise<void> { await this.writes }

  private async runWrite (fn: () => Promise<void>): Promise<void> {
    if (this.storageError !== undefined) return
    try {
      await fn()
    } catch (err) {
      const e = err instanceof StorageError ? err : new StorageError('STORAGE_IO', { cause: String(err) })
      this.storageError = e
      this.init.log.error('storage write failed; continuing in memory only', { code: e.code })
      this.init.events.emit('error', {
        code: e.code,
        message: e.code === 'STORAGE_FULL'
          ? 'Storage is full: the peer keeps running and verifying in memory, but new blocks are not saved. Free space (or browser storage quota) and restart to resume saving.'
          : `Storage failed (${e.message}); the peer keeps running in memory without saving.`,
        details: e.details
      })
    }
  }

  /** Encoded blocks for serving sync requests. */
  async readBlocks (from: number, count: number): Promise<Uint8Array[]> {
    if (count <= 0) return []
    if (from === 0) {
      const g = await this.init.store.getGenesis()
      if (g === undefined) return []
      const rest = count > 1 ? await this.init.store.getBlocks(1, count - 1) : []
      return [g.bytes, ...rest.map((b) => b.bytes)]
    }
    return (await this.init.store.getBlocks(from, count)).map((b) => b.bytes)
  }
}
