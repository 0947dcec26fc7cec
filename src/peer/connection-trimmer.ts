/**
 * Our connection manager policy on top of libp2p 3 (which only has `maxConnections`, pruned in its own
 * order and only for connections without non-closable streams, e.g. never a gossipsub connection).
 *
 * Watermarks (go-libp2p / Quilibrium style): when the connection count reaches the HIGH watermark, close
 * connections in `orderForTrim` order until the LOW watermark is reached. Protected peers (bootstraps,
 * direct peers) and connections younger than the grace period (1 min) are never trimmed.
 *
 * "The high watermark is never breached" — what really guarantees it in libp2p 3.3 (read from
 * node_modules/libp2p/dist/src/upgrader.js and connection-manager/index.js):
 *  - `connectionManager.maxConnections` alone does NOT: `acceptIncomingConnection` compares only the OPEN
 *    connections with the limit, so up to `maxIncomingPendingConnections` upgrades in flight all pass it and
 *    overshoot; outbound dials are not limited at all; and the built-in pruner (runs on 'connection:open'
 *    when > max) uses `safelyCloseConnectionIfUnused`, which skips every connection that has a gossipsub
 *    (or any non-identify/ping) stream — i.e. all of a bootstrap's connections.
 *  - The last hook before a connection exists is the gater's `deny{In,Out}boundUpgradedConnection`: the
 *    upgrader awaits it, then synchronously creates the connection and dispatches 'connection:open'
 *    (the connection manager tracks it synchronously in that event). Several upgrades can interleave
 *    between the gater's answer and the event, so we RESERVE a slot when we admit one and release it on
 *    'connection:open'. Admission rule: open + reserved < high. Hence open <= high at every instant.
 *  - `denyInboundConnection` (before the noise handshake) refuses early and cheaply when full, and we
 *    still set libp2p's `maxConnections` to the high watermark (it refuses un-upgraded sockets when full).
 * The cap is strict for everyone, protected peers included: a bootstrap refused at the cap gets in after the
 * trim that reaching the cap starts (down to low leaves high - low free slots). `emergency` ordering is
 * used only if the count is ever found above the cap (e.g. a gater not wired), trimming busy peers first.
 */
import type { Connection, ConnectionGater, Libp2p } from '@libp2p/interface'
import type { Logger } from './logger.ts'
import { silentLogger } from './logger.ts'

export interface TrimCandidate {
  /** Connection id. */
  id: string
  peer: string
  direction: 'inbound' | 'outbound'
  streams: number
  /** When the connection opened (ms). */
  openedAt: number
  /** Sum of the peer's tag values (libp2p peer store tags). */
  tagValue: number
  /** Temporary: limited (relayed) connections, or peers explicitly marked temporary. */
  temporary: boolean
  /** Protected: bootstraps, direct peers. Never trimmed. */
  protected: boolean
}

export interface TrimOrderOptions {
  now: number
  /** Connections younger than this are never trimmed (default 60 s). */
  gracePeriodMs?: number
  /** Above the hard cap: among connections with streams, trim the ones with MORE streams first. */
  emergency?: boolean
}

export const DEFAULT_GRACE_MS = 60_000

/**
 * The trim order, first to close first. Excludes protected and grace-period connections. Then:
 * temporary first; lower tag value first; 0 streams before any streams; inbound before outbound; then
 * fewer streams first (normal) or MORE streams first (emergency: "high -> low stream count, except 0
 * streams ranks highest"); ties: newest connection first, then id (deterministic).
 */
export function orderForTrim (conns: readonly TrimCandidate[], opts: TrimOrderOptions): TrimCandidate[] {
  const grace = opts.gracePeriodMs ?? DEFAULT_GRACE_MS
  const emergency = opts.emergency === true
  return conns
    .filter((c) => !c.protected && opts.now - c.openedAt >= grace)
    .sort((a, b) => {
      if (a.temporary !== b.temporary) return a.temporary ? -1 : 1
      if (a.tagValue !== b.tagValue) return a.tagValue - b.tagValue
      if (a.streams !== b.streams && (a.streams === 0 || b.streams === 0)) return a.streams - b.streams
      if (a.direction !== b.direction) return a.direction === 'inbound' ? -1 : 1
      if (a.streams !== b.streams) return emergency ? b.streams - a.streams : a.streams - b.streams
      if (a.openedAt !== b.openedAt) return b.openedAt - a.openedAt
      return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
    })
}

/** How many to close and which: down to `low` from `conns.length`, in trim order. */
export function selectForTrim (conns: readonly TrimCandidate[], low: number, opts: TrimOrderOptions): TrimCandidate[] {
  const excess = conns.length - low
  if (excess <= 0) return []
  return orderForTrim(conns, opts).slice(0, excess)
}

export interface WatermarkOptions {
  lowWatermark: number
  highWatermark: number
  gracePeriodMs?: number
}

export interface ConnectionTrimmerInit extends WatermarkOptions {
  isProtected?: (peer: string) => boolean
  /** Extra "temporary" peers (besides limited connections). */
  isTemporary?: (peer: string) => boolean
  log?: Logger
  now?: () => number
  /** Re-check interval (grace periods expire, closes fail), ms. Default 5 s. */
  checkIntervalMs?: number
}

export interface TrimmerStats {
  /** Connections now open (as seen by the trimmer). */
  open: number
  inbound: number
  outbound: number
  /** Highest count ever seen. */
  peak: number
  /** Times the count was above the high watermark (must stay 0). */
  breaches: number
  trims: number
  trimmed: number
  deniedInbound: number
  deniedOutbound: number
}

interface Reservation { at: number }

export class ConnectionTrimmer {
  readonly low: number
  readonly high: number
  readonly gracePeriodMs: number
  private readonly init: ConnectionTrimmerInit
  private readonly log: Logger
  private readonly now: () => number
  private readonly open = new Map<string, Connection>()
  private reservations: Reservation[] = []
  private libp2p?: Libp2p
  private trimming?: Promise<number>
  private timer?: ReturnType<typeof setInterval>
  private statsData = { peak: 0, breaches: 0, trims: 0, trimmed: 0, deniedInbound: 0, deniedOutbound: 0 }

  constructor (init: ConnectionTrimmerInit) {
    validateWatermarks(init)
    this.init = init
    this.low = init.lowWatermark
    this.high = init.highWatermark
    this.gracePeriodMs = init.gracePeriodMs ?? DEFAULT_GRACE_MS
    this.log = (init.log ?? silentLogger).forComponent('trimmer')
    this.now = init.now ?? Date.now
  }

  /**
   * Gater hooks to put into `createLibp2p({ connectionGater })` (merge with your own; these return true
   * to deny). They are what keeps the count at or below the high watermark.
   */
  readonly gater: Required<Pick<ConnectionGater, 'denyInboundConnection' | 'denyInboundUpgradedConnection' | 'denyOutboundUpgradedConnection'>> = {
    denyInboundConnection: () => {
      if (this.occupied() < this.high) return false
      this.statsData.deniedInbound++
      this.kick()
      return true
    },
    denyInboundUpgradedConnection: () => !this.admit('inbound'),
    denyOutboundUpgradedConnection: () => !this.admit('outbound')
  }

  /** Starts watching a node's connections (call before or after libp2p.start()). */
  attach (libp2p: Libp2p): void {
    this.libp2p = libp2p
    for (const c of libp2p.getConnections()) this.open.set(c.id, c)
    libp2p.addEventListener('connection:open', this.onOpen)
    libp2p.addEventListener('connection:close', this.onClose)
    this.timer = setInterval(() => { this.kick() }, this.init.checkIntervalMs ?? 5_000)
    this.timer.unref?.()
  }

  detach (): void {
    if (this.libp2p === undefined) return
    this.libp2p.removeEventListener('connection:open', this.onOpen)
    this.libp2p.removeEventListener('connection:close', this.onClose)
    if (this.timer !== undefined) clearInterval(this.timer)
    this.libp2p = undefined
  }

  stats (): TrimmerStats {
    let inbound = 0
    for (const c of this.open.values()) if (c.direction === 'inbound') inbound++
    return { open: this.open.size, inbound, outbound: this.open.size - inbound, ...this.statsData }
  }

  private readonly onOpen = (e: CustomEvent<Connection>): void => {
    const c = e.detail
    this.reservations.shift()
    this.open.set(c.id, c)
    if (this.open.size > this.statsData.peak) this.statsData.peak = this.open.size
    if (this.open.size > this.high) {
      this.statsData.breaches++
      this.log.warn('connection count above the high watermark', { open: this.open.size, high: this.high })
    }
    if (this.open.size >= this.high) this.kick()
  }

  private readonly onClose = (e: CustomEvent<Connection>): void => {
    this.open.delete(e.detail.id)
  }

  /** Open connections plus admitted ones not yet open (reservations expire after 5 s, in case one never opens). */
  private occupied (): number {
    const cutoff = this.now() - 5_000
    while (this.reservations.length > 0 && this.reservations[0]!.at < cutoff) this.reservations.shift()
    return this.open.size + this.reservations.length
  }

  private admit (dir: 'inbound' | 'outbound'): boolean {
    if (this.occupied() >= this.high) {
      if (dir === 'inbound') this.statsData.deniedInbound++
      else this.statsData.deniedOutbound++
      this.kick()
      return false
    }
    this.reservations.push({ at: this.now() })
    return true
  }

  private kick (): void {
    if (this.trimming !== undefined || this.libp2p === undefined) return
    if (this.open.size < this.high) return
    this.trimming = this.trim().finally(() => { this.trimming = undefined })
  }

  /** Peers whose connections we closed at the watermark, with when (the newest TRIMMED_KEPT). */
  private readonly trimmedAt = new Map<string, number>()

  private markTrimmed (peer: string): void {
    this.trimmedAt.delete(peer)
    this.trimmedAt.set(peer, this.now())
    while (this.trimmedAt.size > TRIMMED_KEPT) this.trimmedAt.delete(this.trimmedAt.keys().next().value!)
  }

  /** Whether we closed a connection to `peer` at the watermark within the last `withinMs`: it did not leave on its own. */
  trimmedRecently (peer: string, withinMs = 60_000): boolean {
    const at = this.trimmedAt.get(peer)
    return at !== undefined && this.now() - at <= withinMs
  }

  /** Closes connections down to the low watermark, in trim order. Returns how many it closed. */
  async trim (): Promise<number> {
    const libp2p = this.libp2p
    if (libp2p === undefined) return 0
    const conns = [...this.open.values()].filter((c) => c.status === 'open')
    if (conns.length < this.high) return 0
    const tags = new Map<string, number>()
    await Promise.all([...new Set(conns.map((c) => c.remotePeer.toString()))].map(async (p) => {
      const conn = conns.find((c) => c.remotePeer.toString() === p)!
      try {
        const info = await libp2p.peerStore.get(conn.remotePeer)
        let v = 0
        for (const t of info.tags.values()) v += t.value
        tags.set(p, v)
      } catch { tags.set(p, 0) }
    }))
    const candidates: TrimCandidate[] = conns.map((c) => {
      const peer = c.remotePeer.toString()
      return {
        id: c.id,
        peer,
        direction: c.direction,
        streams: c.streams.length,
        openedAt: c.timeline.open,
        tagValue: tags.get(peer) ?? 0,
        temporary: c.limits !== undefined || this.init.isTemporary?.(peer) === true,
        protected: this.init.isProtected?.(peer) === true
      }
    })
    const emergency = conns.length > this.high
    const victims = selectForTrim(candidates, this.low, { now: this.now(), gracePeriodMs: this.gracePeriodMs, emergency })
    if (victims.length === 0) return 0
    this.statsData.trims++
    this.statsData.trimmed += victims.length
    this.log.info('trimming connections', { open: conns.length, closing: victims.length, low: this.low, high: this.high, emergency })
    const byId = new Map(conns.map((c) => [c.id, c]))
    for (const v of victims) this.markTrimmed(v.peer)
    await Promise.all(victims.map(async (v) => {
      const c = byId.get(v.id)
      if (c === undefined) return
      try {
        await c.close({ signal: AbortSignal.timeout(1_000) })
      } catch (err) {
        c.abort(err as Error)
      }
    }))
    return victims.length
  }
}

/** Trimmed peers remembered for `trimmedRecently`. */
const TRIMMED_KEPT = 4_096

export class WatermarkError extends Error {
  override readonly name = 'WatermarkError'
  readonly code = 'CONFIG_INVALID'
  readonly details: Record<string, number>
  constructor (message: string, details: Record<string, number>) { super(message); this.details = details }
}

export function validateWatermarks (w: WatermarkOptions): void {
  const { lowWatermark: low, highWatermark: high } = w
  if (!Number.isInteger(low) || low < 0) throw new WatermarkError(`low watermark must be an integer >= 0 (got ${low})`, { low })
  if (!Number.isInteger(high) || high < 1) throw new WatermarkError(`high watermark must be an integer >= 1 (got ${high})`, { high })
  if (low >= high) throw new WatermarkError(`low watermark must be below the high watermark (got low=${low} high=${high})`, { low, high })
  if (w.gracePeriodMs !== undefined && (!Number.isFinite(w.gracePeriodMs) || w.gracePeriodMs < 0)) throw new WatermarkError(`grace period must be >= 0 ms (got ${w.gracePeriodMs})`, { gracePeriodMs: w.gracePeriodMs })
}
