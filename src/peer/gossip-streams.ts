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

/**
 * gossipsub opens its outbound stream to a peer once, on the connection where it first met the peer, and
 * forgets it when that stream closes. A peer reached over two connections (a browser: relayed, then direct
 * WebRTC) loses its only way to send to that peer when the connection carrying the stream dies (the relay
 * going down with the bootstraps), although the other connection is still open.
 *
 * `reopenOutboundStreams` checks at every heartbeat: a gossipsub peer that had an outbound stream, has none
 * now and still has an open connection gets one opened again on it, through gossipsub's own queue (which skips a peer that
 * has a stream meanwhile), at most once per `retryMs` per peer. Returns a function that removes it, or
 * undefined if this gossipsub lacks the members it needs.
 */
interface ReopenInternals {
  peers?: Map<string, { toString: () => string }>
  streamsOutbound?: Map<string, unknown>
  outboundInflightQueue?: { push: (item: QueueItem) => unknown }
}

export interface OpenConnections {
  getConnections: (peer?: never) => Array<{ remotePeer: { toString: () => string }, status: string }>
}

export function reopenOutboundStreams (ps: GossipSub, libp2p: OpenConnections, opts: { retryMs?: number, now?: () => number } = {}): (() => void) | undefined {
  const t = ps as unknown as ReopenInternals
  if (!(t.peers instanceof Map) || !(t.streamsOutbound instanceof Map) || typeof t.outboundInflightQueue?.push !== 'function') return undefined
  const retryMs = opts.retryMs ?? 5_000
  const now = opts.now ?? Date.now
  const lastTry = new Map<string, number>()
  /** Peers seen with an outbound stream: only theirs are reopened (a new peer's first open is gossipsub's). */
  const hadStream = new Set<string>()
  const onHeartbeat = (): void => {
    const peers = t.peers!
    const streams = t.streamsOutbound!
    for (const id of hadStream) if (!peers.has(id)) { hadStream.delete(id); lastTry.delete(id) }
    let open: Map<string, unknown> | undefined
    for (const [id, peerId] of peers) {
      if (streams.has(id)) { hadStream.add(id); continue }
      if (!hadStream.has(id)) continue
      open ??= new Map(libp2p.getConnections().filter((c) => c.status === 'open').map((c) => [c.remotePeer.toString(), c]))
      const connection = open.get(id)
      if (connection === undefined) continue
      const at = now()
      if (at - (lastTry.get(id) ?? -Infinity) < retryMs) continue
      lastTry.set(id, at)
      t.outboundInflightQueue!.push({ peerId, connection })
    }
  }
  ps.addEventListener('gossipsub:heartbeat', onHeartbeat)
  return () => { ps.removeEventListener('gossipsub:heartbeat', onHeartbeat) }
}
