/**
 * gossipsub opens its outbound stream to each new peer from one sequential queue (so that it never opens
 * two to the same peer). Each open is a multistream-select round trip, so one slow or overloaded peer
 * holds up every peer queued behind it. On a bootstrap taking a crowd of arrivals that is the bottleneck:
 * measured with 500 real light peers on 2 cores, 720 of 920 new subscribers still had no outbound stream
 * from their bootstrap 30 heartbeats later, so the bootstrap could not PRUNE them with PX, and their
 * connection-to-PX time reached 86 heartbeats.
 *
 * `concurrentOutboundStreams` replaces that queue: opens still run one at a time per peer (no duplicate
 * streams; gossipsub's own `createOutboundStream` still skips a peer that already has one), but up to
 * `concurrency` peers at once. It swaps a private field of the gossipsub instance (there is no option for
 * it), so it must run after gossipsub has started; it returns false and changes nothing if the field or
 * method is missing, and a gossipsub restart puts the sequential queue back.
 */
import type { GossipSub } from '@libp2p/gossipsub'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { Clock } from './clock.ts'

interface QueueItem { peerId: { toString: () => string }, connection: unknown }

interface GossipInternals {
  outboundInflightQueue?: { push: (item: QueueItem) => unknown, end: () => unknown }
  createOutboundStream?: (peerId: QueueItem['peerId'], connection: unknown) => Promise<void>
}

export const DEFAULT_OUTBOUND_STREAM_CONCURRENCY = 64

export function concurrentOutboundStreams (ps: GossipSub, opts: { concurrency?: number } = {}): boolean {
  const t = ps as unknown as GossipInternals
  const old = t.outboundInflightQueue
  if (typeof t.createOutboundStream !== 'function' || old === undefined || typeof old.push !== 'function' || typeof old.end !== 'function') return false
  const create = t.createOutboundStream.bind(ps)
  const limit = Math.max(1, opts.concurrency ?? DEFAULT_OUTBOUND_STREAM_CONCURRENCY)
  /** The last open queued per peer: the next one for that peer waits for it. */
  const tail = new Map<string, Promise<void>>()
  const waiting: Array<() => void> = []
  let running = 0
  let ended = false
  const acquire = async (): Promise<void> => {
    if (running < limit) { running++; return }
    await new Promise<void>((resolve) => { waiting.push(resolve) })
  }
  // hand the slot straight to the next waiter, or free it
  const release = (): void => { const next = waiting.shift(); if (next !== undefined) next(); else running-- }
  t.outboundInflightQueue = {
    push: (item: QueueItem) => {
      if (ended) return
      const id = item.peerId.toString()
      const run = async (): Promise<void> => {
        await acquire()
        try { if (!ended) await create(item.peerId, item.connection) } catch { /* createOutboundStream logs its own errors */ } finally { release() }
      }
      const p = (tail.get(id) ?? Promise.resolve()).then(run)
      tail.set(id, p)
      void p.finally(() => { if (tail.get(id) === p) tail.delete(id) })
    },
    end: () => {
      ended = true
      for (const w of waiting.splice(0)) w()
      old.end()
    }
  }
  return true
}

interface KeepInternals {
  peers?: Map<string, PeerId>
  streamsOutbound?: Map<string, unknown>
  outboundInflightQueue?: { push: (item: QueueItem) => unknown }
}

const CLOSE_RECHECK_MS = 250
/** After this long without a stream, a peer we queued an open for may be queued again. */
const PENDING_MS = 30_000

type ConnectionSource = Pick<Libp2p, 'addEventListener' | 'removeEventListener' | 'getConnections'>

export interface OutboundStreamKeeper {
  /** Outbound streams queued again on a remaining connection. */
  readonly repairs: number
  /** Checks every gossipsub peer now (also run after each connection close and every `intervalMs`). */
  check: () => number
  stop: () => void
}

/**
 * gossipsub opens its outbound stream to a peer on the connection that identified, and when that stream closes
 * while the peer stays connected over another connection (a relayed connection replaced by a direct WebRTC one,
 * a duplicate closed by either side, a connection the connection monitor aborted), nothing opens it again:
 * the peer can still send to us, but we can no longer send to it (docs/LIMITS.md, WebRTC). The keeper queues a
 * new outbound stream, on an open connection (unlimited ones first), for every gossipsub peer that has an open
 * connection but no outbound stream: right after each connection close and every `intervalMs` of the clock.
 * gossipsub's own `createOutboundStream` still skips a peer that has a stream, so a check never duplicates one.
 */
export function keepOutboundStreams (ps: GossipSub, libp2p: ConnectionSource, clock: Clock, opts: { intervalMs?: number } = {}): OutboundStreamKeeper {
  const t = ps as unknown as KeepInternals
  let repairs = 0
  let stopped = false
  /** Peers we queued an open for, and when. */
  const pending = new Map<string, number>()
  let timer: unknown
  const check = (): number => {
    const { peers, streamsOutbound, outboundInflightQueue } = t
    if (stopped || peers === undefined || streamsOutbound === undefined || outboundInflightQueue === undefined) return 0
    let queued = 0
    const now = clock.now()
    for (const id of pending.keys()) if (streamsOutbound.has(id) || !peers.has(id)) pending.delete(id)
    for (const [id, peerId] of peers) {
      if (streamsOutbound.has(id)) continue
      // One open of ours in flight per peer (a crowd of arrivals can keep the open queue busy for a while).
      const since = pending.get(id)
      if (since !== undefined && now - since < PENDING_MS) continue
      const open = libp2p.getConnections(peerId).filter((c) => c.status === 'open')
      const conn = open.find((c) => c.limits === undefined) ?? open[0]
      if (conn === undefined) continue
      pending.set(id, now)
      outboundInflightQueue.push({ peerId, connection: conn })
      queued++
    }
    repairs += queued
    return queued
  }
  // Now (gossipsub may already have dropped the closed stream) and a moment later (when it had not yet).
  const onClose = (e: CustomEvent<{ remotePeer?: PeerId }>): void => {
    // A close is news: an open we queued earlier for this peer no longer stands in the way.
    const peer = e.detail?.remotePeer?.toString()
    if (peer !== undefined) pending.delete(peer)
    void Promise.resolve().then(check)
    clock.setTimeout(() => { check() }, CLOSE_RECHECK_MS)
  }
  const tick = (): void => {
    if (stopped) return
    check()
    timer = clock.setTimeout(tick, opts.intervalMs ?? 5_000)
  }
  libp2p.addEventListener('connection:close', onClose as unknown as () => void)
  timer = clock.setTimeout(tick, opts.intervalMs ?? 5_000)
  return {
    get repairs () { return repairs },
    check,
    stop: () => {
      stopped = true
      libp2p.removeEventListener('connection:close', onClose as unknown as () => void)
      if (timer !== undefined) clock.clearTimeout(timer)
    }
  }
}
