/**
 * Block sync over a request/response libp2p protocol. Requests and responses are bounded; every block
 * is verified (pipelined: a batch's signature checks run concurrently) before it is stored. A peer that
 * serves reject-class data is reported and never synced from again.
 *
 *   request  = u8 kind | kind=1 STATUS: nothing | kind=2 BLOCKS: u64 from, u16 count (<= MAX_SYNC_BATCH)
 *              | kind=3 STATE: u64 height, 32 block hash | kind=4 HEADER: u64 height | kind=5 PROOF: 32 tx hash
 *   HEADER, PROOF -> chain-queries.ts
 *   STATE    -> two frames, the encoded genesis block and the encoded chain state after that block (§3.11), or none
 *               when the server does not hold that state (checkpoint-start.ts verifies them)
 *   STATUS   -> one frame: u8 hasGenesis, u64 tipHeight, 32 tipHash, 32 genesisHash, u8 n, n x (u8 len, release message)
 *   BLOCKS   -> up to min(`count`, MAX_SYNC_BATCH) frames, each one encoded block (height `from` upward, stopping
 *               at our tip; height 0 = genesis); none when count is 0, `from` is above our tip or we have no genesis
 * Frames are unsigned-varint length-prefixed (libp2p's lpStream). A response ends when the server closes the
 * stream (no terminator); a request it cannot parse is answered by a stream reset. See PROTOCOL.md §3.9.
 * Fork choice (PROTOCOL.md §13): a peer whose chain does not extend ours is switched to if its fork wins
 * compareForks within the reorg window; a deeper fork is reported once per peer as FORK_TOO_DEEP.
 */
import { MAX_BLOCKLIST, addBounded, setBounded } from './bounded.ts'
import { lpStream, LengthPrefixedDecoder } from '@libp2p/utils'
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import {
  MAX_BLOCK_SIZE, MAX_SYNC_BATCH, ProtocolError, Reader, Writer, compareForks, decodeBlock, decodeQuorumMessage, encodeQuorumMessage,
  isProtocolError, toHex, equals, computeBlockHash
} from '../protocol/index.ts'
import type { Block } from '../protocol/index.ts'
import { SyncBudget } from './sync-budget.ts'
import { BlockPrefetch } from './block-prefetch.ts'
import { KIND_HEADER, KIND_PROOF, serveHeader, serveProof } from './chain-queries.ts'
import type { TxIndex } from './chain-queries.ts'
import { CheckpointStart } from './checkpoint-start.ts'
import type { TrustedCheckpoint } from '../protocol/index.ts'
import type { SyncBudgetLimits } from './sync-budget.ts'
import { MAX_REORG_DEPTH } from './chain-service.ts'
import type { ChainService } from './chain-service.ts'
import type { ReleaseService } from './release-service.ts'
import type { Logger } from './logger.ts'
import type { Emitter, PeerEvents } from './events.ts'
import type { StartupTimeline } from './startup.ts'

const KIND_STATUS = 1
const KIND_BLOCKS = 2
const KIND_STATE = 3
const MAX_REQUEST = 48
/** BLOCKS requests a sync keeps in flight ahead of the batch it verifies. */
const SYNC_FETCH_AHEAD = 2
/**
 * Requests a client sends one peer: at most CLIENT_RPS a second after a burst of CLIENT_BURST, inside the
 * default server budget (DEFAULT_SYNC_BUDGET: 20 a second after 40) with a margin for timing jitter. A server
 * whose byte budget shortens its answers makes a catching-up client ask more often; without this pace the
 * client went over the request budget, was refused (RATE_LIMITED, counted toward a block) and its sync ended.
 */
export const CLIENT_RPS = 18
export const CLIENT_BURST = 36
/** Peers whose request pace is remembered (least recently used forgotten). */
const CLIENT_PACE_PEERS = 256
/** Largest chain state a client accepts (about 125,000 validators; PROTOCOL.md §3.11, LIMITS.md). */
export const MAX_STATE_FRAME = 8 * 1024 * 1024
const MAX_STATUS = 1 + 8 + 32 + 32 + 1 + 64 * 129

/** A length-prefixed frame whose prefix is malformed or over the reader's maxDataLength (@libp2p/utils errors). */
export function isLengthPrefixError (err: unknown): boolean {
  return /^Invalid(Message|Data|DataLengthLength)(Length)?Error$/.test((err as Error | undefined)?.name ?? '')
}

export interface PeerStatus { hasGenesis: boolean, tipHeight: number, tipHash: Uint8Array, genesisHash: Uint8Array, releases: Uint8Array[] }

export interface SyncServiceInit {
  protocol: string
  chain: ChainService
  release: ReleaseService
  log: Logger
  events: Emitter<PeerEvents>
  onRejected: (peer: string, err: ProtocolError) => void
  requestTimeoutMs?: number
  /** Per-peer budgets of the server side (defaults: DEFAULT_SYNC_BUDGET). */
  budget?: Partial<SyncBudgetLimits>
  /** The runtime clock's `now` (for the budgets' token buckets and the trusting period). */
  now?: () => number
  /** Start from this trusted checkpoint's state instead of syncing from genesis (checkpoint-start.ts). */
  checkpoint?: TrustedCheckpoint
  /** Records the first STATUS, checkpoint, sync and head phases (startup.ts). */
  timeline?: StartupTimeline
  /** Transactions this server can prove (PROOF requests, chain-queries.ts); none without it. */
  txIndex?: TxIndex
}

export class SyncService {
  private readonly init: SyncServiceInit
  private libp2p?: Libp2p
  private running = new Set<string>()
  private lockSeen = false
  private comparedOnce = false
  private readonly timeoutMs: number
  /** Peers that served invalid data; not synced from again. */
  private readonly banned = new Set<string>()
  /** Request tokens per peer (CLIENT_RPS, CLIENT_BURST); negative while requests wait their turn. */
  private readonly pace = new Map<string, { tokens: number, at: number }>()
  /** Peers already reported as being on a fork deeper than the reorg window (FORK_TOO_DEEP once per peer). */
  private readonly deepForks = new Set<string>()
  served = 0
  /** The server's per-peer budgets; `budget.refused` counts refusals by reason. */
  readonly budget: SyncBudget
  /** Server-side rejects by code (malformed requests, over budget, timeouts). */
  readonly serverRejects: Record<string, number> = {}
  /** Starting from a trusted checkpoint, if one is configured. */
  readonly checkpoint?: CheckpointStart

  constructor (init: SyncServiceInit) {
    this.init = init
    if (init.checkpoint !== undefined) {
      this.checkpoint = new CheckpointStart({
        checkpoint: init.checkpoint, chain: init.chain, events: init.events, log: init.log, now: init.now ?? Date.now,
        fetch: async (peer, cp) => await this.state(peer, cp)
      })
    }
    this.timeoutMs = init.requestTimeoutMs ?? 10_000
    this.budget = new SyncBudget(init.now ?? Date.now, init.budget)
  }

  async start (libp2p: Libp2p): Promise<void> {
    this.libp2p = libp2p
    await libp2p.handle(this.init.protocol, (stream, connection) => { void this.serve(stream, connection.remotePeer.toString()) }, { maxInboundStreams: 16, runOnLimitedConnection: true })
  }

  async stop (): Promise<void> {
    await this.libp2p?.unhandle(this.init.protocol)
  }

  /** Counts a server-side reject toward `peer`'s block (the same count as gossip rejects). */
  private rejectRequest (peer: string, err: ProtocolError): void {
    this.serverRejects[err.code] = (this.serverRejects[err.code] ?? 0) + 1
    this.init.onRejected(peer, err)
  }

  private async serve (stream: Stream, peer: string): Promise<void> {
    const refusal = this.budget.admit(peer)
    if (refusal !== undefined) {
      stream.abort(new Error(`sync request refused: over the ${refusal} budget`))
      this.rejectRequest(peer, new ProtocolError('RATE_LIMITED', { what: 'sync-request', budget: refusal }))
      return
    }
    const signal = AbortSignal.timeout(this.timeoutMs)
    // A peer that does not read its response blocks our writes on backpressure: reset the stream at the
    // timeout, whatever the stream is waiting for.
    const onAbort = (): void => { stream.abort(new Error('sync response timed out')) }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_REQUEST })
      let req: Uint8Array
      try {
        req = (await lp.read({ signal })).subarray()
      } catch (err) {
        // A length prefix that is invalid or over 16 bytes is a malformed request; a stream that ends or is
        // reset before a whole frame (a client that gave up, a connection that closed) is not counted.
        if (!signal.aborted && isLengthPrefixError(err)) {
          throw new ProtocolError('TOO_LARGE', { what: 'sync-request', reason: (err as Error).message })
        }
        throw err
      }
      const r = new Reader(req, 'sync-request')
      const kind = r.u8('kind')
      if (kind === KIND_STATUS) {
        r.end()
        const state = this.init.chain.state
        const w = new Writer(128)
        w.u8(state === undefined ? 0 : 1).u64(state?.tip.header.height ?? 0)
          .fixed(state?.tip.hash ?? new Uint8Array(32), 32).fixed(state?.genesisHash ?? new Uint8Array(32), 32)
        const releases = state === undefined ? this.init.release.known().map(encodeQuorumMessage) : []
        w.u8(releases.length)
        for (const m of releases) w.u8(m.length).raw(m)
        await lp.write(w.finish(), { signal })
      } else if (kind === KIND_BLOCKS) {
        const from = r.u64('from')
        const count = Math.min(r.u16('count'), MAX_SYNC_BATCH)
        r.end()
        const blocks = await this.init.chain.readBlocks(from, count)
        for (const b of blocks) {
          await lp.write(b, { signal })
          this.served++
          // Over the byte budget: end the response here, after at least one block (a shorter answer is a
          // valid one, §3.9; the client asks again from where it stopped).
          if (!this.budget.spend(peer, b.length)) break
        }
      } else if (kind === KIND_STATE) {
        const height = r.u64('height')
        const hash = r.fixed(32, 'hash')
        r.end()
        const state = this.init.chain.stateAt(height, hash)
        const [g] = state === undefined ? [] : await this.init.chain.readBlocks(0, 1)
        if (state !== undefined && g !== undefined) {
          await lp.write(g, { signal })
          await lp.write(state, { signal })
          this.budget.spend(peer, g.length + state.length)
        }
      } else if (kind === KIND_HEADER) {
        const height = r.u64('height')
        r.end()
        for (const f of await serveHeader(this.init.chain, height)) { await lp.write(f, { signal }); this.budget.spend(peer, f.length) }
      } else if (kind === KIND_PROOF) {
        const txHash = r.fixed(32, 'txHash')
        r.end()
        const frames = this.init.txIndex === undefined ? [] : await serveProof(this.init.chain, this.init.txIndex, txHash)
        for (const f of frames) { await lp.write(f, { signal }); this.budget.spend(peer, f.length) }
      } else {
        throw new ProtocolError('UNKNOWN_KIND', { what: 'sync-request', kind })
      }
      await stream.close({ signal })
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      if (err instanceof ProtocolError) this.rejectRequest(peer, err)
      else if (signal.aborted) this.serverRejects.TIMEOUT = (this.serverRejects.TIMEOUT ?? 0) + 1
    } finally {
      signal.removeEventListener('abort', onAbort)
      this.budget.release(peer)
    }
  }

  /** Waits until a request to `peer` keeps inside CLIENT_RPS / CLIENT_BURST (at once, almost always). */
  private async paced (peer: string): Promise<void> {
    const now = Date.now()
    const b = this.pace.get(peer) ?? { tokens: CLIENT_BURST, at: now }
    b.tokens = Math.min(CLIENT_BURST, b.tokens + (now - b.at) / 1000 * CLIENT_RPS) - 1
    b.at = now
    setBounded(this.pace, peer, b, CLIENT_PACE_PEERS)
    if (b.tokens < 0) await new Promise((resolve) => setTimeout(resolve, Math.ceil(-b.tokens / CLIENT_RPS * 1000)))
  }

  private async request (peer: PeerId, body: Uint8Array, maxFrame: number, maxFrames: number): Promise<Uint8Array[]> {
    await this.paced(peer.toString())
    const signal = AbortSignal.timeout(this.timeoutMs)
    const stream = await this.libp2p!.dialProtocol(peer, this.init.protocol, { signal, runOnLimitedConnection: true })
    const onAbort = (): void => { stream.abort(new Error('sync request timed out')) }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      await lpStream(stream).write(body, { signal })
      await stream.close({ signal })
      const out: Uint8Array[] = []
      const decoder = new LengthPrefixedDecoder({ maxDataLength: maxFrame })
      for await (const chunk of stream) {
        for (const msg of decoder.decode(chunk)) {
          out.push(msg.subarray())
          if (out.length > maxFrames) throw new ProtocolError('TOO_LARGE', { what: 'sync-response', frames: out.length, max: maxFrames })
        }
      }
      signal.throwIfAborted()
      return out
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  /** HEADER or PROOF (chain-queries.ts) to `peer`: the frames it served (unverified). */
  async query (peer: PeerId, body: Uint8Array, maxFrame: number): Promise<Uint8Array[]> {
    return await this.request(peer, body, maxFrame, 1)
  }

  async status (peer: PeerId): Promise<PeerStatus> {
    const [frame] = await this.request(peer, new Uint8Array([KIND_STATUS]), MAX_STATUS, 1)
    if (frame === undefined) throw new Error('peer closed the sync stream without a status')
    const r = new Reader(frame, 'sync-status')
    const hasGenesis = r.u8('hasGenesis') === 1
    const tipHeight = r.u64('tipHeight')
    const tipHash = r.fixed(32, 'tipHash')
    const genesisHash = r.fixed(32, 'genesisHash')
    const n = r.count(1, 64, 'releases')
    const releases: Uint8Array[] = []
    for (let i = 0; i < n; i++) releases.push(r.fixed(r.u8('len'), 'release'))
    r.end()
    return { hasGenesis, tipHeight, tipHash, genesisHash, releases }
  }

  async blocks (peer: PeerId, from: number, count: number): Promise<Block[]> {
    const n = Math.min(count, MAX_SYNC_BATCH)
    // A count computed from a stale status can be <= 0: ask for nothing (a negative u16 would wrap to 65535).
    if (n <= 0) return []
    const req = new Writer(11).u8(KIND_BLOCKS).u64(from).u16(n).finish()
    const frames = await this.request(peer, req, MAX_BLOCK_SIZE, n)
    const blocks = frames.map(decodeBlock)
    blocks.forEach((b, i) => {
      if (b.header.height !== from + i) throw new ProtocolError('WRONG_HEIGHT', { height: b.header.height, expected: from + i })
    })
    return blocks
  }

  /** The genesis block and chain state after block (height, hash), as `peer` serves them (unverified); undefined if it has not. */
  async state (peer: PeerId, cp: TrustedCheckpoint): Promise<{ genesis: Block, state: Uint8Array } | undefined> {
    const req = new Writer(41).u8(KIND_STATE).u64(cp.height).fixed(cp.hash, 32).finish()
    const frames = await this.request(peer, req, MAX_STATE_FRAME, 2)
    if (frames.length === 0) return undefined
    if (frames.length !== 2) throw new ProtocolError('TRUNCATED', { what: 'state-response', frames: frames.length })
    return { genesis: decodeBlock(frames[0]!), state: frames[1]! }
  }

  /**
   * Catches up from `peer` until our tip reaches its tip. Verifies everything; stops at the first
   * invalid block and reports the peer. Safe to call repeatedly: one sync per peer at a time.
   */
  async syncFrom (peer: PeerId): Promise<number> {
    const id = peer.toString()
    if (this.running.has(id) || this.banned.has(id)) return 0
    this.running.add(id)
    let gained = 0
    // The first sync that reaches a peer's tip is the start-up's `sync` phase (startup.ts: the first record wins).
    const t = this.init.timeline
    let batches = 0
    let fetchWaitMs = 0
    let acceptMs = 0
    const writes: Array<Promise<void>> = []
    const times = { ...this.init.chain.batchTimes }
    try {
      const statusAt = t?.now() ?? 0
      const st = await this.status(peer)
      t?.record('status', statusAt)
      const syncAt = t?.now() ?? 0
      const chain = this.init.chain
      if (!st.hasGenesis) {
        if (chain.state === undefined) this.lockSeen = true
        for (const m of st.releases) {
          try { await this.init.release.add(decodeQuorumMessage(m)) } catch { /* duplicates and stale ones are fine */ }
        }
        return 0
      }
      const cp = this.checkpoint
      if (cp !== undefined && !cp.done) {
        // Checkpoint mode: never from genesis; from the trusted state, once a peer serves it.
        const cpAt = t?.now() ?? 0
        if (!await cp.tryPeer(peer, st.tipHeight)) return 0
        t?.record('checkpoint', cpAt, { height: cp.status.height })
      }
      // From genesis: one request for the genesis block and the first batch after it (one round trip fewer).
      let prefetched: Block[] | undefined
      if (chain.state === undefined) {
        const [genesis, ...rest] = await this.blocks(peer, 0, Math.min(MAX_SYNC_BATCH, st.tipHeight + 1))
        if (genesis === undefined) return 0
        await chain.acceptGenesis(genesis)
        prefetched = rest
      }
      // Another genesis: height 0 of the fork choice (§13), switchable while our window still reaches it.
      if (!equals(st.genesisHash, chain.state!.genesisHash)) {
        gained += await this.resolveGenesis(peer, st)
        if (!equals(st.genesisHash, chain.state!.genesisHash)) return gained
      }
      const start = chain.height
      // Same height, another tip: an equal-length fork, settled by the fork choice (lower round, then lower hash).
      if (st.tipHeight === chain.height && !equals(st.tipHash, chain.state!.tip.hash)) {
        gained += await this.resolveFork(peer, st.tipHeight)
      }
      // SYNC_FETCH_AHEAD BLOCKS requests in flight ahead of the batch being verified (block-prefetch.ts).
      const fetcher = new BlockPrefetch((from, count) => this.blocks(peer, from, count), chain.height + 1, st.tipHeight, SYNC_FETCH_AHEAD, MAX_SYNC_BATCH)
      if (prefetched !== undefined && equals(st.genesisHash, chain.state!.genesisHash)) fetcher.seed(1, prefetched)
      while (chain.height < st.tipHeight) {
        const waitAt = t?.now() ?? 0
        const batch = await fetcher.next(chain.height + 1)
        if (t !== undefined) fetchWaitMs += t.now() - waitAt
        if (batch.length === 0) break
        if (!equals(batch[0]!.header.parentHash, chain.state!.tip.hash)) {
          const before = chain.state
          gained += await this.resolveFork(peer, st.tipHeight)
          if (chain.state === before) break // not switched (a fork deeper than the reorg window)
          fetcher.reset()
          continue
        }
        const acceptAt = t?.now() ?? 0
        // Verified and the tip now; its store write commits while the next batch is verified (two at most in flight).
        const { accepted, stored } = await chain.acceptBatchQueued(batch)
        gained += accepted
        writes.push(stored)
        if (writes.length > 2) await writes.shift()
        batches++
        if (t !== undefined) acceptMs += t.now() - acceptAt
        if (chain.height >= st.tipHeight) this.comparedOnce = true
        // Progress; the last batch is said once it is stored too (below), so that "synced" survives a reload.
        else this.init.events.emit('sync', { from: start, to: chain.height, target: st.tipHeight, peer: id, done: false })
      }
      await Promise.all(writes)
      if (batches > 0 && chain.height >= st.tipHeight) this.init.events.emit('sync', { from: start, to: chain.height, target: st.tipHeight, peer: id, done: true })
      if (gained > 0) this.init.log.info('synced', { peer: id.slice(-8), blocks: gained, height: chain.height })
      if (chain.height >= st.tipHeight) {
        // The first time level with a peer with nothing to fetch (a reload at the head) is said too: a UI
        // shows the head as verified on this event rather than at its next poll.
        if (!this.comparedOnce) this.init.events.emit('sync', { from: chain.height, to: chain.height, target: st.tipHeight, peer: id, done: true })
        this.comparedOnce = true
        if (t !== undefined) {
          const b = chain.batchTimes
          t.record('sync', syncAt, {
            batches, blocks: gained, fetchWaitMs: Math.round(fetchWaitMs), acceptMs: Math.round(acceptMs),
            verifyMs: Math.round(b.verifyMs - times.verifyMs), storeMs: Math.round(b.storeMs - times.storeMs), eventsMs: Math.round(b.eventsMs - times.eventsMs), peerTip: st.tipHeight
          })
          t.record('head', t.now(), { height: chain.height })
        }
      }
      return gained
    } catch (err) {
      if (isProtocolError(err) && err.action === 'reject') {
        addBounded(this.banned, id, MAX_BLOCKLIST)
        this.init.onRejected(id, err)
        this.init.log.warn('peer served invalid chain data; not syncing from it again', { peer: id.slice(-8), code: err.code })
      } else {
        this.init.log.debug('sync attempt failed', { peer: id.slice(-8), err: isProtocolError(err) ? err.code : String(err) })
      }
      return gained
    } finally {
      await Promise.all(writes) // never reject (ChainService.write reports store failures itself)
      this.running.delete(id)
    }
  }

  /**
   * The peer's chain does not extend our tip: find the highest common block within the reorg window and
   * switch if the peer's fork wins the fork choice (`compareForks`: longer, or as long with the lower round
   * and then the lower hash at the first differing height); the chain service verifies every block first.
   * A fork that starts below the window is never switched to: it is reported once per peer as FORK_TOO_DEEP.
   */
  private async resolveFork (peer: PeerId, peerTip: number): Promise<number> {
    const chain = this.init.chain
    const floor = chain.reorgFloor
    const ourTip = chain.height
    const theirs = await this.blocks(peer, floor + 1, ourTip - floor)
    let ancestor = floor
    for (const b of theirs) {
      const ours = chain.recentHash(b.header.height)
      if (ours === undefined || !equals(ours, computeBlockHash(b.header))) break
      ancestor = b.header.height
    }
    const ourParent = chain.recentHash(ancestor)
    const first = theirs.find((b) => b.header.height === ancestor + 1)
    if (first !== undefined && ourParent !== undefined && !equals(first.header.parentHash, ourParent)) {
      this.reportDeepFork(peer, floor, ourTip, peerTip)
      return 0
    }
    if (peerTip < ourTip) return 0
    if (peerTip === ourTip) {
      const ours = chain.recentTip(ancestor + 1)
      if (first === undefined || ours === undefined) return 0
      const verdict = compareForks(
        { tipHeight: peerTip, firstRound: first.header.round, firstHash: computeBlockHash(first.header) },
        { tipHeight: ourTip, firstRound: ours.header.round, firstHash: ours.hash })
      if (verdict >= 0) {
        this.init.log.debug('peer is on an equal-length fork that loses the tie-break; keeping ours', { peer: peer.toString().slice(-8), ancestor, height: ourTip })
        return 0
      }
    }
    const fork = peerTip === ourTip
      ? theirs.filter((b) => b.header.height > ancestor)
      : await this.blocks(peer, ancestor + 1, Math.min(MAX_SYNC_BATCH, peerTip - ancestor))
    // Their block above the window's floor does not build on ours there: the split is below the window.
    if (fork[0] !== undefined && ourParent !== undefined && !equals(fork[0].header.parentHash, ourParent)) {
      this.reportDeepFork(peer, floor, ourTip, peerTip)
      return 0
    }
    this.init.log.warn('peer is on a different fork that wins the fork choice', { peer: peer.toString().slice(-8), ancestor, ourTip, theirTip: peerTip })
    return await chain.reorg(ancestor, fork)
  }

  /**
   * The peer's chain starts from another genesis (release messages from more than M signers at once can make
   * two): switch if its chain wins the fork choice with genesis as the first differing height (longer; at
   * equal length the lower genesis hash, both geneses being round 0) and our reorg window still reaches
   * genesis; otherwise it is a fork deeper than the window (FORK_TOO_DEEP, once per peer).
   */
  private async resolveGenesis (peer: PeerId, st: PeerStatus): Promise<number> {
    const chain = this.init.chain
    const ourTip = chain.height
    if (chain.reorgFloor > 0) {
      this.reportDeepFork(peer, 0, ourTip, st.tipHeight)
      return 0
    }
    if (st.tipHeight < ourTip) return 0
    const [genesis] = await this.blocks(peer, 0, 1)
    if (genesis === undefined) return 0
    const hash = computeBlockHash(genesis.header)
    if (!equals(hash, st.genesisHash)) throw new ProtocolError('GENESIS_MISMATCH', { reason: 'served genesis differs from its status', status: toHex(st.genesisHash).slice(0, 16), served: toHex(hash).slice(0, 16) })
    if (st.tipHeight === ourTip) {
      const ours = chain.recentTip(0)!
      if (compareForks({ tipHeight: st.tipHeight, firstRound: genesis.header.round, firstHash: hash }, { tipHeight: ourTip, firstRound: ours.header.round, firstHash: ours.hash }) >= 0) {
        this.init.log.debug('peer is on another genesis that loses the tie-break; keeping ours', { peer: peer.toString().slice(-8), height: ourTip })
        return 0
      }
    }
    const blocks = st.tipHeight === 0 ? [] : await this.blocks(peer, 1, Math.min(MAX_SYNC_BATCH, st.tipHeight))
    return await chain.switchGenesis(genesis, blocks)
  }

  private reportDeepFork (peer: PeerId, floor: number, ourTip: number, theirTip: number): void {
    const id = peer.toString()
    this.init.log.warn('peer is on a fork deeper than the reorg window; not switching', { peer: id.slice(-8), floor, ourTip, theirTip })
    if (this.deepForks.has(id)) return
    addBounded(this.deepForks, id, MAX_BLOCKLIST)
    this.init.events.emit('error', {
      code: 'FORK_TOO_DEEP',
      message: `Peer ${id} follows a chain that split from ours at or below height ${floor}, outside the reorg window (${MAX_REORG_DEPTH} blocks); this peer keeps its chain. ` +
        'If that other chain is the right one, stop this node, delete its chain store (keep the peer key) and restart it with bootstraps on that chain: it re-syncs from genesis.',
      details: { peer: id, floor, ourTip, theirTip }
    })
  }

  isBanned (peer: string): boolean { return this.banned.has(peer) }

  /** A peer answered STATUS saying the network has no genesis yet (the stasis lock is real, not just unknown). */
  get lockReported (): boolean { return this.lockSeen }

  /** This peer's chain has been compared with a peer's STATUS at least once and was level with it or ahead. */
  get compared (): boolean { return this.comparedOnce }

  static describe (s: PeerStatus): string {
    return `${s.hasGenesis ? `tip ${s.tipHeight} ${toHex(s.tipHash).slice(0, 8)}` : 'locked'}`
  }
}
