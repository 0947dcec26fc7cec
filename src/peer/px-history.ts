/**
 * Peer exchange from history, for bootstraps.
 *
 * gossipsub builds a PRUNE's PX list from the peers connected to it right now. A bootstrap under a flood
 * holds mostly the latest arrivals (older ones were trimmed or left), so every newcomer is handed the
 * peers that came just before it and the network grows as a chain in arrival order: at 100,000 peers the
 * launch simulation (src/sim) measured a max hop count of 65 and 77% of messages lost. Handing out part of
 * each PX list from a cache of peers the bootstrap pruned earlier mixes old and new peers; with 8 of 16
 * entries from a 4,096-entry cache the same simulation loses nothing (max hop 15).
 *
 * The cache holds the peers' own signed peer records (the envelope identify gave us), so a receiver can
 * check them exactly as it checks gossipsub's own PX entries. An entry is overwritten at random once the
 * cache is full. Entries are kept only while their peer is likely alive: a peer that left on its own (its last
 * connection to us closed, and not by our watermark trimming) is forgotten at once (`forget`), and an entry is
 * handed out for at most `maxAgeMs` after it was recorded; a peer we trimmed stays (it is still in the
 * network, which is what PX from history is for) until that age.
 * Nothing changes on the wire: these are ordinary gossipsub v1.1 PX entries, and any gossipsub peer uses them.
 *
 * gossipsub has no hook for choosing PX peers, so `installPxHistory` wraps its (private) `makePrune` on
 * the one instance; `test/peer/px-history.test.ts` runs a real gossipsub and fails if that method changes.
 *
 * `installPxOnArrival` (below) makes a bootstrap hand PX to every subscribing peer, not only to those that GRAFT.
 */
import type { GossipSub } from '@libp2p/gossipsub'
import type { Libp2p, PeerId, PeerStore } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { toHex } from '../protocol/bytes.ts'

export interface PxHistoryParams {
  /** PX entries per PRUNE drawn from the cache (0 = off: gossipsub's connected peers only). */
  fromHistory: number
  /** Cache size per topic. */
  size: number
  /** How long an entry is handed out after it was recorded, ms. Default 15 minutes. */
  maxAgeMs?: number
}

export const DEFAULT_PX_HISTORY: PxHistoryParams = { fromHistory: 8, size: 4_096, maxAgeMs: 15 * 60_000 }

export interface PxEntry {
  /** Peer id string (gossipsub's key), for the `ok` filter. */
  id: string
  /** Multihash bytes of the peer id, as in RPC.PeerInfo.peerID. */
  peerID: Uint8Array
  /** The peer's signed peer record envelope. */
  signedPeerRecord: Uint8Array
  /** When it was recorded (the history's clock); set by `add`. */
  at?: number
}

/** RPC.PeerInfo as gossipsub builds it. */
export interface PxInfo { peerID?: Uint8Array, signedPeerRecord?: Uint8Array }

export class PxHistory {
  readonly params: PxHistoryParams
  private readonly random: () => number
  private readonly now: () => number
  private readonly byTopic = new Map<string, PxEntry[]>()
  /** PX entries handed out from the cache, for metrics. */
  served = 0
  /** Entries dropped because their peer left, or aged out, for metrics. */
  forgotten = 0

  constructor (params: PxHistoryParams = DEFAULT_PX_HISTORY, random: () => number = Math.random, now: () => number = Date.now) {
    if (!Number.isInteger(params.fromHistory) || params.fromHistory < 0) throw new RangeError(`fromHistory must be an integer >= 0 (got ${params.fromHistory})`)
    if (!Number.isInteger(params.size) || params.size < 1) throw new RangeError(`size must be an integer >= 1 (got ${params.size})`)
    this.params = params
    this.random = random
    this.now = now
  }

  size (topic: string): number { return this.byTopic.get(topic)?.length ?? 0 }

  /** Remembers a pruned peer: appended while the cache has room, then over a random entry. */
  add (topic: string, e: PxEntry): void {
    let ring = this.byTopic.get(topic)
    if (ring === undefined) { ring = []; this.byTopic.set(topic, ring) }
    const rec = { ...e, at: this.now() }
    // One entry per peer: a peer pruned again refreshes its entry.
    const i = ring.findIndex((x) => x.id === e.id)
    if (i >= 0) ring[i] = rec
    else if (ring.length < this.params.size) ring.push(rec)
    else ring[Math.floor(this.random() * ring.length)] = rec
  }

  /** Drops every entry of peer `id` (it left the network on its own). */
  forget (id: string): void {
    for (const ring of this.byTopic.values()) {
      for (let i = ring.length - 1; i >= 0; i--) {
        if (ring[i]!.id !== id) continue
        ring[i] = ring[ring.length - 1]!
        ring.pop()
        this.forgotten++
      }
    }
  }

  /**
   * The PX list for the peer whose id multihash is `forPeer`: up to `fromHistory` distinct cached peers first (not `forPeer`, not refused
   * by `ok`), then gossipsub's own entries, without repeats, at most `max` in all.
   */
  compose (topic: string, forPeer: Uint8Array, connected: PxInfo[], max: number, ok: (id: string) => boolean = () => true): PxInfo[] {
    const out: PxInfo[] = []
    const seen = new Set<string>([toHex(forPeer)])
    const ring = this.byTopic.get(topic) ?? []
    const want = Math.min(this.params.fromHistory, max)
    const oldest = this.now() - (this.params.maxAgeMs ?? Infinity)
    for (let tries = 0; tries < want * 4 && out.length < want && ring.length > 0; tries++) {
      const at = Math.floor(this.random() * ring.length)
      const e = ring[at]!
      if ((e.at ?? Infinity) < oldest) {
        // Aged out: too long since we knew it alive.
        ring[at] = ring[ring.length - 1]!
        ring.pop()
        this.forgotten++
        continue
      }
      const k = toHex(e.peerID)
      if (seen.has(k) || !ok(e.id)) continue
      seen.add(k)
      out.push({ peerID: e.peerID, signedPeerRecord: e.signedPeerRecord })
      this.served++
    }
    for (const p of connected) {
      if (out.length >= max) break
      if (p.peerID !== undefined) {
        const k = toHex(p.peerID)
        if (seen.has(k)) continue
        seen.add(k)
      }
      out.push(p)
    }
    return out
  }
}

type MakePrune = (id: string, topic: string, doPX: boolean, onUnsubscribe: boolean) => Promise<{ topicID?: string, peers?: PxInfo[], backoff?: number }>

/**
 * Makes this gossipsub instance hand out PX from `history` and remember every peer it prunes.
 * Returns false (and changes nothing) if this gossipsub version has no `makePrune` to wrap.
 */
export function installPxHistory (ps: GossipSub, peerStore: PeerStore, history: PxHistory, opts: { prunePeers: number, ok?: (id: string) => boolean }): boolean {
  const target = ps as unknown as { makePrune?: MakePrune, getScore?: (id: string) => number }
  const orig = target.makePrune
  if (typeof orig !== 'function' || history.params.fromHistory === 0) return false
  const bound = orig.bind(ps)
  const ok = (id: string): boolean => (opts.ok?.(id) ?? true) && (target.getScore?.(id) ?? 0) >= 0
  target.makePrune = async (id, topic, doPX, onUnsubscribe) => {
    const prune = await bound(id, topic, doPX, onUnsubscribe)
    // No PX asked, or a gossipsub v1.0 peer (no backoff field): leave the PRUNE as gossipsub made it.
    if (!doPX || prune.backoff === undefined || prune.peers === undefined) return prune
    const pid = peerIdFromString(id)
    const peerID = pid.toMultihash().bytes
    const peers = history.compose(topic, peerID, prune.peers, opts.prunePeers, ok)
    try {
      const rec = (await peerStore.get(pid)).peerRecordEnvelope
      if (rec !== undefined) history.add(topic, { id, peerID, signedPeerRecord: rec })
    } catch { /* not in the peer store: nothing to remember */ }
    return { ...prune, peers }
  }
  return true
}

/** What PX on arrival did, for metrics and launch-test. */
export interface PxOnArrivalStats {
  /** Subscriptions queued for PX. */
  queued: number
  /** PRUNEs with PX sent by us (not counting those gossipsub sent in answer to a GRAFT). */
  sent: number
  /** Given up: no outbound gossipsub stream to the peer within `maxWaitHeartbeats`. */
  noStream: number
}

export interface PxOnArrival {
  stats: PxOnArrivalStats
  /** Removes the listeners (the makePrune wrapper stays, and only records). */
  uninstall: () => void
}

/**
 * PX on arrival, for bootstraps: every peer that subscribes to one of our topics gets a PRUNE with PX at our
 * next heartbeat, whether or not it GRAFTs us. gossipsub answers only GRAFTs, and a peer whose mesh is
 * already full (from another bootstrap's PX) never sends one: it would sit on the bootstrap, holding a slot,
 * until trimmed. The PRUNE also sets the usual backoff both ways, so the peer does not GRAFT us afterwards.
 * At most `perHeartbeat` such PRUNEs per heartbeat; a peer already pruned on that topic is skipped. A peer
 * whose subscription arrives before our own outbound stream to it is ready (common on a loaded machine: the
 * two streams open independently) is retried at each heartbeat, for at most `maxWaitHeartbeats`.
 */
export function installPxOnArrival (ps: GossipSub, node: Pick<Libp2p, 'addEventListener' | 'removeEventListener'>, opts: { perHeartbeat?: number, maxWaitHeartbeats?: number } = {}): PxOnArrival {
  const stats: PxOnArrivalStats = { queued: 0, sent: 0, noStream: 0 }
  const target = ps as unknown as {
    makePrune?: MakePrune
    sendRpc?: (id: string, rpc: unknown) => boolean
    streamsOutbound?: Map<string, unknown>
  }
  if (typeof target.makePrune !== 'function' || typeof target.sendRpc !== 'function') return { stats, uninstall: () => {} }
  const budget = opts.perHeartbeat ?? 256
  const maxWait = opts.maxWaitHeartbeats ?? 30
  /** peer|topic waiting for PX, in arrival order. */
  const pending = new Map<string, { id: string, topic: string, tries: number }>()
  /** peer|topic already sent PX (by us or by gossipsub's GRAFT handling). */
  const done = new Set<string>()
  const orig = target.makePrune.bind(ps)
  target.makePrune = async (id, topic, doPX, onUnsubscribe) => {
    if (doPX) { done.add(`${id}|${topic}`); pending.delete(`${id}|${topic}`) }
    return await orig(id, topic, doPX, onUnsubscribe)
  }
  const onSub = (e: CustomEvent<{ peerId: { toString: () => string }, subscriptions: Array<{ topic: string, subscribe: boolean }> }>): void => {
    const id = e.detail.peerId.toString()
    const mine = new Set(ps.getTopics())
    for (const s of e.detail.subscriptions) {
      const key = `${id}|${s.topic}`
      if (!s.subscribe || !mine.has(s.topic) || done.has(key) || pending.has(key)) continue
      pending.set(key, { id, topic: s.topic, tries: 0 })
      stats.queued++
    }
  }
  const onHeartbeat = (): void => {
    let n = 0
    for (const [key, p] of [...pending]) {
      if (n >= budget) break
      pending.delete(key)
      if (done.has(key) || !ps.getSubscribers(p.topic).some((x) => x.toString() === p.id)) continue
      if (target.streamsOutbound?.has(p.id) !== true) {
        // no stream to it yet: try again at the next heartbeats, for a while
        if (p.tries < maxWait) pending.set(key, { ...p, tries: p.tries + 1 })
        else stats.noStream++
        continue
      }
      n++
      void target.makePrune!(p.id, p.topic, true, false).then((prune) => {
        if (target.sendRpc!(p.id, { subscriptions: [], messages: [], control: { graft: [], prune: [prune], ihave: [], iwant: [], idontwant: [] } })) {
          stats.sent++
        } else if (p.tries < maxWait) {
          // the stream went away in between: not done after all
          done.delete(key)
          pending.set(key, { ...p, tries: p.tries + 1 })
        } else stats.noStream++
      }, () => {})
    }
  }
  // Forget a peer's PX state once it is gone (a peer that comes back is an arrival again).
  const onPeerGone = (e: CustomEvent<PeerId>): void => {
    const id = e.detail.toString()
    for (const key of [...done]) if (key.startsWith(`${id}|`)) done.delete(key)
    for (const key of [...pending.keys()]) if (key.startsWith(`${id}|`)) pending.delete(key)
  }
  ps.addEventListener('subscription-change', onSub as EventListener)
  ps.addEventListener('gossipsub:heartbeat', onHeartbeat)
  node.addEventListener('peer:disconnect', onPeerGone)
  return {
    stats,
    uninstall: () => {
      ps.removeEventListener('subscription-change', onSub as EventListener)
      ps.removeEventListener('gossipsub:heartbeat', onHeartbeat)
      node.removeEventListener('peer:disconnect', onPeerGone)
    }
  }
}
