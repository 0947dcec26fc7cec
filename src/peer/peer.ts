/**
 * A lightpulse peer: the same runtime on Node (bootstrap, validator) and in the browser worker.
 * Platform code builds the libp2p node (transports differ) and the store; this wires gossip
 * validation, the chain, rounds, the release quorum, sync and the dialer on top.
 */
import { MAX_BLOCKLIST, MAX_REJECT_COUNTERS, addBounded, countBounded } from './bounded.ts'
import type { Connection, Libp2p, PeerId } from '@libp2p/interface'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { GossipSub } from '@libp2p/gossipsub'
import { ProtocolError, computeBlockHash, computeNetworkId, decodeBlock, encodeTx, equals, isProtocolError, registerSigningMessage, toHex, Writer } from '../protocol/index.ts'
import type { BlockHeader, ChainState, NetworkConfig, Ed25519Verifier, Transaction, TrustedCheckpoint } from '../protocol/index.ts'
import type { ChainStore } from '../storage/types.ts'
import type { Signer } from '../crypto/types.ts'
import { ChainService } from './chain-service.ts'
import { RoundService } from './round-service.ts'
import type { HostileMode } from './round-service.ts'
import { ReleaseService } from './release-service.ts'
import { SyncService } from './sync-service.ts'
import { Dialer, transportOf } from './dialer.ts'
import { concurrentOutboundStreams, keepOutboundStreams } from './gossip-streams.ts'
import { detachPxDials } from './gossip-px.ts'
import { KIND_PROOF, MAX_PROOF_FRAME, TxIndex, indexChain, verifyProofFrame } from './chain-queries.ts'
import type { VerifiedInclusion } from './chain-queries.ts'
import type { OutboundStreamKeeper } from './gossip-streams.ts'
import type { SyncBudgetLimits } from './sync-budget.ts'
import { IgnorePenalty } from './gossip-penalty.ts'
import { Mempool } from './mempool.ts'
import { DataTxService } from './data-txs.ts'
import { Emitter } from './events.ts'
import type { PeerEvents } from './events.ts'
import { systemClock } from './clock.ts'
import type { Clock } from './clock.ts'
import { silentLogger } from './logger.ts'
import type { Logger } from './logger.ts'
import { quorumProtocolFor, syncProtocolFor, topicsFor } from './topics.ts'
import { QuorumRelay } from './quorum-relay.ts'
import { WakeWatch } from './wake-watch.ts'
import { MAX_GOSSIP_BYTES } from './gossip-config.ts'
import type { Topics } from './topics.ts'
import { StartupTimeline } from './startup.ts'

export type PeerRole = 'bootstrap' | 'validator' | 'light'

/** gossipsub internals present at runtime but missing from its exported type. */
export type GossipSubX = GossipSub & {
  getMeshPeers: (topic: string) => string[]
  getScore: (peerId: string) => number
}

export interface PeerInit {
  network: NetworkConfig
  /** A started or unstarted libp2p node with a gossipsub service under `services.pubsub`. */
  libp2p: Libp2p<{ pubsub: GossipSub }>
  store: ChainStore
  verifier: Ed25519Verifier
  role: PeerRole
  /** Validator key: the peer takes part in rounds when the quorum selects it. */
  signer?: Signer
  /** Bootstrap multiaddrs (with /p2p/ id) to keep connected to. */
  bootstraps?: string[]
  clock?: Clock
  /** Randomness for commit secrets (default: crypto.getRandomValues). */
  random?: (n: number) => Uint8Array
  logger?: Logger
  /** Minimum connections the dialer keeps (default 6). */
  minPeers?: number
  /** Dialer retry base, ms (default 1000). */
  redialMs?: number
  /** Hang up the bootstraps once this many other peers are connected (default: stay connected). */
  releaseBootstrapsAt?: number
  /** Rejected messages from one peer before it is disconnected and blocked (default 10). */
  maxRejectsPerPeer?: number
  /**
   * The per-peer budget of Ignore-class gossip, shared with gossipsub's score (pass the same instance's
   * `penalty` to the libp2p factory). Default: a new one on this peer's clock (counted, but not scored).
   */
  ignorePenalty?: IgnorePenalty
  /** Per-peer budgets of this peer's sync server (default DEFAULT_SYNC_BUDGET, src/peer/sync-budget.ts). */
  syncBudget?: Partial<SyncBudgetLimits>
  /** Peers to refuse (shared with the connection gater of the libp2p node). */
  blocklist?: Set<string>
  /** TEST ONLY: deliberate misbehaviour in rounds (RoundServiceInit.hostile); default honest. */
  hostile?: HostileMode
  /**
   * With a validator key: publish a registration whenever the live chain's registry lacks the key (never
   * registered, or removed after `maxMissed` missed duties while it was down), so a restarted or returning
   * validator is back on duty `activationDelay` blocks later. Default true.
   */
  keepRegistered?: boolean
  /**
   * Round messages straight between a round's producer and its members (quorum-relay.ts, PROTOCOL.md
   * §3.10), gossip only where a recipient is not reachable so. false: gossip only. Default true.
   */
  directRounds?: boolean
  /**
   * Subscribe to the `rounds` topic. Default: every peer except a light one without a validator key (an
   * observer needs only blocks: round messages go to the quorum, §3.10); enrolling subscribes it.
   */
  followRounds?: boolean
  /**
   * Start from this trusted checkpoint's state (PROTOCOL.md §3.11) instead of syncing from genesis; the stored
   * chain is kept if it already holds the checkpoint's block. Default: from genesis.
   */
  checkpoint?: TrustedCheckpoint
  /** Keep only the newest `keepBlocks` blocks in the store (at least MIN_KEEP_BLOCKS). Default: every block. */
  keepBlocks?: number
  /** Where start-up time goes (startup.ts): the worker passes the one it began at its start. Default: a new one on performance.now(). */
  timeline?: StartupTimeline
}

/** A tip is live (the node has caught up) when its block is at most this many slowest block times old. */
const LIVE_TIP_BLOCKS = 8

export interface PeerStats {
  rejected: Record<string, number>
  ignored: Record<string, number>
  accepted: Record<string, number>
  published: Record<string, number>
  blocksByRound: Record<string, number>
}

const defaultRandom = (n: number): Uint8Array => globalThis.crypto.getRandomValues(new Uint8Array(n))

/**
 * Ignore codes that count toward a forwarder's Ignore budget: old, future or repeated messages, and a full
 * pool. Not LOCKED, UNKNOWN_PARENT or WRONG_HEIGHT: those mean that we are behind, and every honest peer
 * sends a catching-up peer many of them.
 */
const PENALISED_IGNORES: ReadonlySet<string> = new Set(['STALE', 'DUPLICATE', 'FUTURE', 'MEMPOOL_FULL'])

/** Size of invalid gossip that counts as one reject toward the sender's block (PROTOCOL.md §15). */
export const REJECT_WEIGHT_BYTES = 32 * 1024

export class Peer {
  readonly events = new Emitter<PeerEvents>()
  readonly chain: ChainService
  readonly rounds: RoundService
  readonly release: ReleaseService
  readonly sync: SyncService
  /** Transactions this peer can prove to others (sync PROOF, chain-queries.ts). */
  readonly txIndex = new TxIndex()
  readonly dialer: Dialer
  /** Direct round messages between a round's producer and its members (PROTOCOL.md §3.10). */
  readonly relay: QuorumRelay
  readonly mempool = new Mempool()
  /** Data transactions from this peer: submit, wait for inclusion, verify handed-in proofs (data-txs.ts). */
  readonly dataTxs: DataTxService
  /** The start-up phases (dial, identify, status, sync, head), each once (startup.ts). */
  readonly timeline: StartupTimeline
  readonly topics: Topics
  readonly networkId: Uint8Array
  readonly stats: PeerStats = { rejected: {}, ignored: {}, accepted: {}, published: {}, blocksByRound: {} }
  /** Rejects counted per peer (at most MAX_REJECT_COUNTERS peers, bounded.ts). */
  readonly rejectsByPeer = new Map<string, number>()
  /** Ignore-class gossip per forwarding peer, over budget = penalty points (gossipsub's app score). */
  readonly ignorePenalty: IgnorePenalty
  /** Peers blocked after repeated rejects (at most MAX_BLOCKLIST, the oldest lifted first). */
  readonly blocklist: Set<string>
  private readonly init: PeerInit
  private readonly log: Logger
  private readonly clock: Clock
  private readonly random: (n: number) => Uint8Array
  private syncTimer?: unknown
  /** Reopens gossipsub's outbound stream to a peer when the connection carrying it closed and another remains. */
  streamKeeper?: OutboundStreamKeeper
  private unsubscribers: Array<() => void> = []
  private started = false
  private lastRegisterAt = -Infinity

  constructor (init: PeerInit) {
    this.init = init
    this.clock = init.clock ?? systemClock
    this.ignorePenalty = init.ignorePenalty ?? new IgnorePenalty(this.clock.now)
    this.random = init.random ?? defaultRandom
    this.log = (init.logger ?? silentLogger).forComponent(init.role)
    this.networkId = computeNetworkId(init.network)
    this.topics = topicsFor(this.networkId)
    this.blocklist = init.blocklist ?? new Set()
    this.timeline = init.timeline ?? new StartupTimeline(() => performance.now())
    const common = { verifier: init.verifier, clock: this.clock, events: this.events }
    this.chain = new ChainService({
      ...common, network: init.network, store: init.store, log: this.log.forComponent('chain'),
      ...(init.keepBlocks !== undefined ? { keepBlocks: init.keepBlocks } : {})
    })
    this.rounds = new RoundService({
      ...common,
      chain: this.chain,
      random: init.random ?? defaultRandom,
      log: this.log.forComponent('rounds'),
      mempool: this.mempool,
      signer: init.signer,
      ...(init.hostile !== undefined ? { hostile: init.hostile } : {}),
      publishRound: async (b) => { await this.publish(this.topics.rounds, b) },
      ...(init.directRounds !== false ? { sendDirect: async (keys: Uint8Array[], b: Uint8Array) => await this.relay.send(keys, b) } : {}),
      publishBlock: async (b) => { await this.publish(this.topics.blocks, b) }
    })
    this.relay = new QuorumRelay({
      protocol: quorumProtocolFor(this.networkId),
      networkId: this.networkId,
      verifier: init.verifier,
      log: this.log.forComponent('quorum'),
      signer: () => this.init.signer,
      deliver: async (b) => { await this.rounds.handleMessage(b) },
      onVerdict: (peer, err, bytes) => { this.recordVerdict(this.relay.protocol, peer, err, bytes) },
      maxFrame: MAX_GOSSIP_BYTES,
      isBlocked: (peer) => this.blocklist.has(peer)
    })
    this.release = new ReleaseService({ ...common, network: init.network, chain: this.chain, log: this.log.forComponent('release'), publish: async (b) => { await this.publish(this.topics.release, b) } })
    this.release.onResumeReady = () => {
      const cert = this.release.resumeCertificate()
      if (cert !== undefined) this.rounds.resume(cert)
    }
    this.sync = new SyncService({
      protocol: syncProtocolFor(this.networkId),
      chain: this.chain,
      release: this.release,
      log: this.log.forComponent('sync'),
      events: this.events,
      onRejected: (peer, err) => { this.recordVerdict('sync', peer, err) },
      now: this.clock.now,
      timeline: this.timeline,
      txIndex: this.txIndex,
      ...(init.checkpoint !== undefined ? { checkpoint: init.checkpoint } : {}),
      ...(init.syncBudget !== undefined ? { budget: init.syncBudget } : {})
    })
    this.dataTxs = new DataTxService({
      chain: this.chain, mempool: this.mempool, verifier: init.verifier, networkId: this.networkId, clock: this.clock,
      txIndex: this.txIndex,
      header: async (height) => await this.header(height),
      publish: async (b) => {
        const r = await this.pubsub.publish(this.topics.txs, b)
        this.stats.published[this.topics.txs] = (this.stats.published[this.topics.txs] ?? 0) + 1
        return r.recipients.length
      }
    })
    this.dialer = new Dialer({ libp2p: init.libp2p as unknown as Libp2p, bootstraps: init.bootstraps ?? [], clock: this.clock, log: this.log.forComponent('dialer'), events: this.events, minPeers: init.minPeers, retryMs: init.redialMs, releaseBootstrapsAt: init.releaseBootstrapsAt })
    this.chain.onTip((s) => { this.rounds.onTip(s); this.keepRegistered(s) })
    this.events.on('block', (b) => { this.stats.blocksByRound[b.round] = (this.stats.blocksByRound[b.round] ?? 0) + 1 })
  }

  get libp2p (): Libp2p<{ pubsub: GossipSub }> { return this.init.libp2p }
  get pubsub (): GossipSubX { return this.init.libp2p.services.pubsub as GossipSubX }
  get role (): PeerRole { return this.init.role }
  get signer (): Signer | undefined { return this.init.signer }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    await this.chain.load()
    this.unsubscribers.push(indexChain(this.chain, this.txIndex))
    const { libp2p } = this.init
    if (libp2p.status !== 'started') await libp2p.start()
    const ps = this.pubsub
    if (!concurrentOutboundStreams(ps)) this.log.warn('gossipsub outbound streams stay sequential: this gossipsub version has no queue to replace', {})
    this.streamKeeper = keepOutboundStreams(ps, libp2p as unknown as Libp2p, this.clock)
    this.unsubscribers.push(() => { this.streamKeeper?.stop() })
    if (detachPxDials(ps) === undefined) this.log.warn('PX dials stay on the PRUNE path: this gossipsub version has no pxConnect', {})
    const validators: Array<[string, (bytes: Uint8Array, from: string) => Promise<void>]> = [
      [this.topics.blocks, async (b, from) => { await this.onGossipBlock(b, from) }],
      [this.topics.rounds, async (b) => {
        if (await this.rounds.handleMessage(b) === 'hold') throw new ProtocolError('UNKNOWN_PARENT', { reason: 'reveal before its commitment, or final before the template: kept, not forwarded' })
      }],
      [this.topics.txs, async (b) => {
        const state = this.chain.state
        if (state === undefined) throw new ProtocolError('LOCKED', {})
        await this.mempool.validateAndAdd(state, b, this.init.verifier)
      }],
      [this.topics.release, async (b) => { await this.release.handleMessage(b) }]
    ]
    for (const [topic, fn] of validators) {
      ps.topicValidators.set(topic, async (from: PeerId, msg) => await this.verdict(topic, from.toString(), msg.data.length, async () => { await fn(msg.data, from.toString()) }))
      if (topic !== this.topics.rounds || this.followsRounds) ps.subscribe(topic)
    }
    await this.sync.start(libp2p as unknown as Libp2p)
    if (this.init.signer !== undefined && this.init.directRounds !== false) await this.startRelay()
    const t = this.timeline
    const dialStart = t.now()
    let firstOpenAt: number | undefined
    // A bootstrap serves sync (that is what it is for): ask for its STATUS as soon as the connection is up,
    // not after identify (a round trip later). Other peers are asked once identify names the protocol.
    const onOpen = (e: CustomEvent<Connection>): void => {
      if (firstOpenAt === undefined) {
        firstOpenAt = t.now()
        t.record('dial', dialStart, { transport: transportOf(e.detail.remoteAddr.getComponents().map((x) => x.name)), direction: e.detail.direction })
      }
      if (this.dialer.bootstrapIds.has(e.detail.remotePeer.toString())) void this.sync.syncFrom(e.detail.remotePeer)
    }
    const onIdentify = (e: CustomEvent<{ peerId: PeerId, protocols: string[] }>): void => {
      if (!e.detail.protocols.includes(syncProtocolFor(this.networkId))) return
      t.record('identify', firstOpenAt ?? dialStart)
      void this.sync.syncFrom(e.detail.peerId)
    }
    const onDisconnect = (): void => { void this.dialer.check() }
    libp2p.addEventListener('connection:open', onOpen)
    libp2p.addEventListener('peer:identify', onIdentify as never)
    libp2p.addEventListener('peer:disconnect', onDisconnect)
    this.unsubscribers.push(() => {
      libp2p.removeEventListener('connection:open', onOpen)
      libp2p.removeEventListener('peer:identify', onIdentify as never)
      libp2p.removeEventListener('peer:disconnect', onDisconnect)
    })
    this.dialer.start()
    this.scheduleSyncPoll()
    const watch = new WakeWatch({ clock: this.clock, onWake: (ms) => { this.wake(`timers paused for ${Math.round(ms / 1000)} s`) } })
    watch.start()
    this.unsubscribers.push(() => { watch.stop() })
    this.log.info('peer started', { peerId: libp2p.peerId.toString(), height: this.chain.height, validator: this.init.signer !== undefined ? toHex(this.init.signer.publicKey).slice(0, 16) : undefined })
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.dialer.stop()
    this.rounds.stop()
    this.release.stop()
    this.dataTxs.stop()
    if (this.syncTimer !== undefined) this.clock.clearTimeout(this.syncTimer)
    for (const u of this.unsubscribers) u()
    this.unsubscribers = []
    await this.sync.stop().catch(() => {})
    if (this.relayStarted) await this.relay.stop().catch(() => {})
    await this.init.libp2p.stop()
    // Queued store writes land before the caller closes the store.
    await this.chain.flush()
  }

  /**
   * Re-registers this peer's validator key when the live chain no longer lists it. Registration
   * transactions are idempotent (one per key, ignored as ALREADY_REGISTERED once on chain), so a retry
   * every couple of block times until a producer includes it is safe.
   */
  private keepRegistered (state: ChainState): void {
    const signer = this.init.signer
    if (!this.started || signer === undefined || this.init.keepRegistered === false) return
    const id = toHex(signer.publicKey)
    if (state.registry.has(id)) { this.lastRegisterAt = -Infinity; return }
    const { timing } = state.preset
    const now = this.clock.now()
    if (now - state.tip.header.timestamp > LIVE_TIP_BLOCKS * timing.maxBlockMs) return
    if (now - this.lastRegisterAt < Math.max(3_000, 2 * timing.targetBlockMs)) return
    if (this.lastRegisterAt === -Infinity) this.log.info('validator key not in the registry (never registered, or removed for missed duties): registering', { height: state.tip.header.height, key: id.slice(0, 16) })
    this.lastRegisterAt = now
    this.events.emit('registering', { height: state.tip.header.height, publicKey: id })
    void this.register().catch((err: unknown) => { this.log.warn('registration not published', { err: String(err) }) })
  }

  /** Polls a connected peer's status now and then, in case gossip missed a block. */
  private scheduleSyncPoll (): void {
    const ms = Math.max(1_000, (this.chain.state?.preset.timing.targetBlockMs ?? 1_000) * 3)
    this.syncTimer = this.clock.setTimeout(() => {
      if (!this.started) return
      const conns = this.init.libp2p.getConnections().filter((c) => !this.sync.isBanned(c.remotePeer.toString()))
      const r = this.random(4)
      const pick = conns[(((r[0]! << 24) | (r[1]! << 16) | (r[2]! << 8) | r[3]!) >>> 0) % Math.max(1, conns.length)]
      if (pick !== undefined) void this.sync.syncFrom(pick.remotePeer)
      this.scheduleSyncPoll()
    }, ms)
  }

  /**
   * Catches up now, after a pause (a frozen tab, a stopped process) or when the page says it resumed: asks up
   * to 3 connected peers (bootstraps first) for their chain and lets the dialer redial what died meanwhile.
   */
  wake (reason: string): void {
    if (!this.started) return
    this.log.info('catching up after a pause', { reason })
    void this.dialer.check()
    for (const p of this.syncPeers().slice(0, 3)) void this.sync.syncFrom(p).catch(() => {})
  }

  /** Connected peers we sync from (not banned), bootstraps first, one entry per peer. */
  private syncPeers (): PeerId[] {
    const conns = this.init.libp2p.getConnections().filter((c) => c.status === 'open' && !this.sync.isBanned(c.remotePeer.toString()))
    conns.sort((a, b) => Number(this.dialer.bootstrapIds.has(b.remotePeer.toString())) - Number(this.dialer.bootstrapIds.has(a.remotePeer.toString())))
    return [...new Map(conns.map((c) => [c.remotePeer.toString(), c.remotePeer])).values()]
  }

  /**
   * The verified inclusion of transaction `txHash` (chain-queries.ts): asked of up to `maxPeers` connected peers,
   * bootstraps first; the first answer that verifies against our own verified block wins. A forged answer counts
   * against its server (PROOF_INVALID). Throws the last coded error, or PROOF_NOT_FOUND when no peer held it.
   */
  async getProof (txHash: Uint8Array, maxPeers = 4): Promise<VerifiedInclusion> {
    if (txHash.length !== 32) throw new ProtocolError('NON_CANONICAL', { field: 'txHash', length: txHash.length })
    const req = new Writer(33).u8(KIND_PROOF).fixed(txHash, 32).finish()
    let last: ProtocolError | undefined
    for (const p of this.syncPeers().slice(0, maxPeers)) {
      try {
        const [frame] = await this.sync.query(p, req, MAX_PROOF_FRAME)
        if (frame === undefined) continue
        return await verifyProofFrame(this.chain, txHash, frame)
      } catch (err) {
        if (!isProtocolError(err)) continue // a dial or stream failure: ask the next peer
        if (err.action === 'reject') this.recordVerdict('sync', p.toString(), err)
        last = err
      }
    }
    throw last ?? new ProtocolError('PROOF_NOT_FOUND', { txHash: toHex(txHash) })
  }

  /**
   * The header of our verified block at `height` (genesis at 0): from the reorg window, else from the store.
   * BLOCK_NOT_HELD for a height we do not hold (pruned, below the checkpoint we started from, above our tip).
   */
  async header (height: number): Promise<{ header: BlockHeader, hash: Uint8Array }> {
    if (!Number.isSafeInteger(height) || height < 0) throw new ProtocolError('NON_CANONICAL', { field: 'height', height })
    const recent = this.chain.recentTip(height)
    if (recent !== undefined) return { header: recent.header, hash: recent.hash }
    if (height <= this.chain.height) {
      const [bytes] = await this.chain.readBlocks(height, 1)
      if (bytes !== undefined) {
        const header = decodeBlock(bytes).header
        return { header, hash: computeBlockHash(header) }
      }
    }
    throw new ProtocolError('BLOCK_NOT_HELD', { height, tip: this.chain.height })
  }

  private connectedPeer (id: string): PeerId | undefined {
    return this.init.libp2p.getConnections().find((c) => c.remotePeer.toString() === id)?.remotePeer
  }

  /** Asks the peer a gossip message came from for its chain (it is ahead of us, or on another fork). */
  private syncFromSender (from: string): void {
    const peer = this.connectedPeer(from)
    if (peer !== undefined) void this.sync.syncFrom(peer)
  }

  private async onGossipBlock (bytes: Uint8Array, from: string): Promise<void> {
    const block = decodeBlock(bytes)
    const height = this.chain.height
    if (this.chain.state === undefined || block.header.height > height + 1) {
      this.syncFromSender(from)
      throw new ProtocolError(this.chain.state === undefined ? 'LOCKED' : 'WRONG_HEIGHT', { height: block.header.height, tip: height })
    }
    try {
      await this.chain.acceptBlock(block, 'gossip')
    } catch (err) {
      // A block on another fork: ask its sender for its chain (the fork choice decides, PROTOCOL.md §13).
      // A competing block at our own height is an equal-length fork: STALE (not forwarded), but compared.
      if (isProtocolError(err) && (err.code === 'UNKNOWN_PARENT' ||
        (err.code === 'STALE' && block.header.height === height && height > 0 && !equals(computeBlockHash(block.header), this.chain.state.tip.hash)))) {
        this.syncFromSender(from)
      }
      throw err
    }
  }

  /** Runs a validation and turns its outcome into a gossipsub verdict, counting and penalising. */
  private async verdict (topic: string, from: string, bytes: number, fn: () => Promise<void>): Promise<TopicValidatorResult> {
    try {
      await fn()
      this.stats.accepted[topic] = (this.stats.accepted[topic] ?? 0) + 1
      return TopicValidatorResult.Accept
    } catch (err) {
      if (isProtocolError(err)) {
        this.recordVerdict(topic, from, err, bytes)
        return err.action === 'reject' ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore
      }
      this.log.warn('validation failed unexpectedly', { topic, err: String(err) })
      return TopicValidatorResult.Ignore
    }
  }

  private recordVerdict (topic: string, from: string, err: ProtocolError, bytes = 0): void {
    if (err.action === 'ignore') {
      this.stats.ignored[err.code] = (this.stats.ignored[err.code] ?? 0) + 1
      if (topic !== 'sync' && PENALISED_IGNORES.has(err.code)) this.ignorePenalty.record(from)
      return
    }
    this.stats.rejected[err.code] = (this.stats.rejected[err.code] ?? 0) + 1
    // Junk costs the sender by its size: every started REJECT_WEIGHT_BYTES count as one reject, so a
    // maximum-size invalid message (300 KiB) blocks its sender at once.
    const weight = Math.max(1, Math.ceil(bytes / REJECT_WEIGHT_BYTES))
    this.events.emit('rejected', { code: err.code, topic, from, action: 'reject', details: sanitize(err.details), weight })
    this.log.warn('rejected message', { code: err.code, topic: topic.split('/')[3], from: from.slice(-8) })
    const n = countBounded(this.rejectsByPeer, from, weight, MAX_REJECT_COUNTERS)
    if (n >= (this.init.maxRejectsPerPeer ?? 10) && !this.blocklist.has(from) && !this.dialer.bootstrapIds.has(from)) {
      addBounded(this.blocklist, from, MAX_BLOCKLIST)
      this.log.warn('blocking peer after repeated invalid messages', { peer: from.slice(-8), rejects: n })
      const peer = this.connectedPeer(from)
      if (peer !== undefined) void this.init.libp2p.hangUp(peer).catch(() => {})
    }
  }

  async publish (topic: string, bytes: Uint8Array): Promise<void> {
    try {
      await this.pubsub.publish(topic, bytes)
      this.stats.published[topic] = (this.stats.published[topic] ?? 0) + 1
    } catch (err) {
      this.log.debug('publish failed', { topic, err: String(err) })
    }
  }

  setSigner (signer: Signer): void {
    this.init.signer = signer
    this.rounds.setSigner(signer)
    if (this.started) this.pubsub.subscribe(this.topics.rounds)
    if (this.started && this.init.directRounds !== false) void this.startRelay().catch((err: unknown) => { this.log.warn('quorum streams not started', { err: String(err) }) })
  }

  private get followsRounds (): boolean { return this.init.followRounds ?? (this.init.role !== 'light' || this.init.signer !== undefined) }

  private relayStarted = false

  /** A validator speaks the direct round protocol: handle it, and open our stream to each connected peer. */
  private async startRelay (): Promise<void> {
    if (!this.relayStarted) {
      this.relayStarted = true
      await this.relay.start(this.init.libp2p as unknown as Libp2p)
    }
    this.relay.openAll()
  }

  /** Signs and publishes a registration transaction for this peer's validator key. */
  async register (): Promise<Transaction> {
    const signer = this.init.signer
    if (signer === undefined) throw new ProtocolError('TX_INVALID', { reason: 'no validator key' })
    const tx: Transaction = { kind: 'register', publicKey: signer.publicKey, signature: await signer.sign(registerSigningMessage(this.networkId, signer.publicKey)) }
    const state = this.chain.state
    if (state !== undefined) await this.mempool.validateAndAdd(state, encodeTx(tx), this.init.verifier).catch(() => {})
    await this.publish(this.topics.txs, encodeTx(tx))
    return tx
  }

  /** Connections with their transport, for status displays. */
  connections (): Array<{ peer: string, direction: string, transport: string, streams: number, bootstrap: boolean }> {
    return this.init.libp2p.getConnections().map((c) => ({
      peer: c.remotePeer.toString(),
      direction: c.direction,
      transport: transportOf(c.remoteAddr.getComponents().map((x) => x.name)),
      streams: c.streams.length,
      bootstrap: this.dialer.bootstrapIds.has(c.remotePeer.toString())
    }))
  }

  meshPeers (): Record<string, number> {
    const out: Record<string, number> = {}
    for (const [name, topic] of Object.entries(this.topics)) out[name] = this.pubsub.getMeshPeers(topic).length
    return out
  }
}


export { transportOf }

function sanitize (d: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(d)) out[k] = v instanceof Uint8Array ? toHex(v) : v
  return out
}
