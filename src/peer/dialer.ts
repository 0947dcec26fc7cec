/**
 * Keeps a peer connected: libp2p has no auto-dialer. Redials the bootstraps whenever none is connected
 * (with backoff), and tops up to `minPeers` non-bootstrap peers from peers already known (PX, identify).
 * A peer that stays below `minPeers` while some of its bootstraps are not connected dials those again
 * every `bootstrapRefreshMs`: a bootstrap hands its peers on by PX and hangs up, so a peer whose PX
 * entries were all undialable, and whose only connected bootstrap gives it nothing (a dead or hostile
 * one), would otherwise stay cut off from the mesh for good.
 */
import type { Libp2p, PeerId } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'

/** The multiaddr code of /p2p/. */
const CODE_P2P = 421
import type { Clock } from './clock.ts'
import type { Logger } from './logger.ts'
import type { Emitter, PeerEvents } from './events.ts'

export interface DialerInit {
  libp2p: Libp2p
  bootstraps: string[]
  clock: Clock
  log: Logger
  events: Emitter<PeerEvents>
  minPeers?: number
  /** First retry delay; doubles up to maxBackoffMs while every bootstrap is unreachable. */
  retryMs?: number
  maxBackoffMs?: number
  dialTimeoutMs?: number
  /**
   * Hang up the bootstraps once this many other peers are connected, freeing the bootstrap for newcomers
   * (the launch simulation shows that peers staying on bootstraps starve arrivals at scale). Bootstraps are
   * dialed again when no bootstrap is connected and fewer than `minPeers` peers are. Off by default.
   */
  releaseBootstrapsAt?: number
  /**
   * Bootstraps dialed per attempt, picked at random (a new pick each attempt, so a dead one is skipped next
   * time). Default: all of them. With many bootstraps, 2 spreads a launch crowd over them.
   */
  bootstrapsPerAttempt?: number
  /** Randomness for that pick (default Math.random). */
  random?: () => number
  /**
   * While fewer than `minPeers` other peers are connected, dial the unconnected bootstraps again at most this
   * often (default 15 s; not with `releaseBootstrapsAt`, which hangs bootstraps up on purpose).
   */
  bootstrapRefreshMs?: number
}

/** The peer id in a multiaddr's /p2p/ component, if it has one. */
export function peerIdOf (addr: string | Multiaddr): string | undefined {
  return (typeof addr === 'string' ? multiaddr(addr) : addr).getComponents().find((c) => c.name === 'p2p')?.value
}

/** The transport a connection's remote address uses, by its protocol names (what status().connections shows). */
export function transportOf (names: string[]): string {
  if (names.includes('p2p-circuit')) return names.includes('webrtc') ? 'webrtc' : 'relay'
  if (names.includes('webrtc-direct')) return 'webrtc-direct'
  if (names.includes('webrtc')) return 'webrtc'
  if (names.includes('webtransport')) return 'webtransport'
  if (names.includes('ws') || names.includes('wss') || names.includes('tls')) return 'websockets'
  if (names.includes('tcp')) return 'tcp'
  return names.join('/')
}

/** The peer ids of the addresses that name one (bootstrap lists). */
export function peerIdsOf (addrs: Array<string | Multiaddr>): Set<string> {
  return new Set(addrs.map(peerIdOf).filter((v): v is string => v !== undefined))
}

export class Dialer {
  private readonly init: DialerInit
  private readonly addrs: Multiaddr[]
  readonly bootstrapIds: Set<string>
  private timer?: unknown
  private failures = 0
  private stopped = false
  private reported = false
  /** When bootstraps were last dialed (the refresh of unconnected ones waits `bootstrapRefreshMs` after it). */
  private lastBootstrapDial = -Infinity

  constructor (init: DialerInit) {
    this.init = init
    this.addrs = init.bootstraps.map((a) => multiaddr(a))
    this.bootstrapIds = peerIdsOf(this.addrs)
  }

  start (): void {
    this.stopped = false
    void this.check()
  }

  stop (): void {
    this.stopped = true
    if (this.timer !== undefined) this.init.clock.clearTimeout(this.timer)
  }

  /** Bootstrap dial rounds that reached none of them, since the last one that reached any (0 before the first completes). */
  get failedAttempts (): number { return this.failures }

  connectedBootstraps (): number {
    let n = 0
    for (const id of this.bootstrapIds) if (this.init.libp2p.getConnections().some((c) => c.remotePeer.toString() === id)) n++
    return n
  }

  private schedule (ms: number): void {
    if (this.stopped) return
    if (this.timer !== undefined) this.init.clock.clearTimeout(this.timer)
    this.timer = this.init.clock.setTimeout(() => { void this.check() }, ms)
  }

  /** Runs one maintenance pass now (also called when a connection closes). */
  async check (): Promise<void> {
    if (this.stopped) return
    const { libp2p, log } = this.init
    const retry = this.init.retryMs ?? 1_000
    const others = libp2p.getConnections().filter((c) => !this.bootstrapIds.has(c.remotePeer.toString())).length
    const release = this.init.releaseBootstrapsAt
    if (release !== undefined && others >= release && this.connectedBootstraps() > 0) {
      for (const id of this.bootstrapIds) {
        const conn = libp2p.getConnections().find((c) => c.remotePeer.toString() === id)
        if (conn !== undefined) await libp2p.hangUp(conn.remotePeer).catch(() => {})
      }
      log.debug('released bootstraps', { peers: others })
    }
    const wantBootstrap = release === undefined ? this.connectedBootstraps() === 0 : this.connectedBootstraps() === 0 && others < (this.init.minPeers ?? 6)
    if (this.addrs.length > 0 && wantBootstrap) {
      this.lastBootstrapDial = this.init.clock.now()
      const results = await Promise.allSettled(this.dialEach(this.pick()))
      if (this.stopped) return
      const ok = results.filter((r) => r.status === 'fulfilled').length
      if (ok === 0) {
        this.failures++
        const delay = Math.min(retry * 2 ** Math.min(this.failures - 1, 6), this.init.maxBackoffMs ?? 10_000)
        if (!this.reported) {
          this.reported = true
          log.warn('no bootstrap reachable', { bootstraps: this.addrs.length })
        }
        this.init.events.emit('error', {
          code: 'NO_BOOTSTRAP',
          message: `${results.length < this.addrs.length ? `None of the ${results.length} bootstrap peer(s) tried (of ${this.addrs.length})` : `None of the ${this.addrs.length} bootstrap peer(s)`} could be reached. Retrying in ${Math.round(delay / 1000)} s. Check that the network is running and the bootstrap addresses are right.`,
          details: { bootstraps: this.addrs.length, attempt: this.failures, retryInMs: delay }
        })
        this.schedule(delay)
        return
      }
      if (this.reported) log.info('bootstrap reachable again', { connected: ok })
      this.failures = 0
      this.reported = false
    }
    await this.topUp()
    if (release === undefined) this.refreshBootstraps()
    this.schedule(retry * 2)
  }

  /** The connected peers' ids, and how many of them are not bootstraps. */
  private connectedPeers (): { connected: Set<string>, others: number } {
    const connected = new Set(this.init.libp2p.getConnections().map((c) => c.remotePeer.toString()))
    let others = 0
    for (const id of connected) if (!this.bootstrapIds.has(id)) others++
    return { connected, others }
  }

  /** Below `minPeers` with some bootstraps unconnected: dial those again (at most every `bootstrapRefreshMs`). */
  private refreshBootstraps (): void {
    const { clock, log } = this.init
    const min = this.init.minPeers ?? 6
    const { connected, others } = this.connectedPeers()
    if (min === 0 || others >= min) return
    const now = clock.now()
    if (now - this.lastBootstrapDial < (this.init.bootstrapRefreshMs ?? 15_000)) return
    const unconnected = this.addrs.filter((a) => { const id = peerIdOf(a); return id !== undefined && !connected.has(id) })
    if (unconnected.length === 0) return
    this.lastBootstrapDial = now
    log.debug('below the peer target: dialing the unconnected bootstraps again', { peers: others, bootstraps: unconnected.length })
    for (const p of this.dialEach(this.pick(unconnected))) void p.catch(() => {})
  }

  /**
   * Dials each bootstrap of `addrs` once: a bootstrap with one address is dialed at it; one with addresses on
   * several transports (WebTransport and WebSockets) is dialed on all of them at once, the first connection
   * kept and the others closed. libp2p would merge dials to one peer id and try its addresses one by one,
   * WebSockets first, so the race dials each address without its /p2p/ part and checks the peer id the
   * handshake proved. An address that fails while another succeeds is reported (a `TRANSPORT_FAILED` warning:
   * a wrong or expired certhash, a transport the bootstrap no longer offers).
   */
  private dialEach (addrs: Multiaddr[]): Array<Promise<unknown>> {
    const { libp2p, log } = this.init
    const byPeer = new Map<string, Multiaddr[]>()
    for (const a of addrs) {
      const id = peerIdOf(a) ?? a.toString()
      byPeer.set(id, [...(byPeer.get(id) ?? []), a])
    }
    const signal = (): AbortSignal => AbortSignal.timeout(this.init.dialTimeoutMs ?? 5_000)
    return [...byPeer].map(async ([id, group]) => {
      if (group.length === 1 || peerIdOf(group[0]!) === undefined) return await libp2p.dial(group[0]!, { signal: signal() })
      const attempts = group.map(async (a) => {
        const conn = await libp2p.dial(a.decapsulateCode(CODE_P2P), { signal: signal() })
        if (conn.remotePeer.toString() !== id) {
          void conn.close().catch(() => {})
          throw new Error(`the peer at ${a.toString()} is ${conn.remotePeer.toString()}, not ${id}`)
        }
        return conn
      })
      const winner = await Promise.any(attempts)
      attempts.forEach((p, i) => {
        p.then((c) => { if (c !== winner) void c.close().catch(() => {}) }, (err: unknown) => {
          const a = group[i]!
          log.warn('a bootstrap address failed; another transport connected', {
            code: 'TRANSPORT_FAILED', peer: id.slice(-8), transport: transportOf(a.getComponents().map((c) => c.name)), reason: String((err as Error)?.message ?? err).slice(0, 200)
          })
        })
      })
      return winner
    })
  }

  /** The bootstraps to dial this attempt (of `from`): all, or `bootstrapsPerAttempt` of them at random. */
  private pick (from: Multiaddr[] = this.addrs): Multiaddr[] {
    const k = this.init.bootstrapsPerAttempt
    if (k === undefined || k >= from.length) return from
    const rnd = this.init.random ?? Math.random
    const order = [...from]
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(rnd() * (order.length - i))
      const t = order[i]!
      order[i] = order[j]!
      order[j] = t
    }
    return order.slice(0, Math.max(1, k))
  }

  /**
   * Dials known peers until `minPeers` peers other than the bootstraps are connected. Bootstraps do not count:
   * they keep no mesh (D = 0), so a peer counting them would sit below the mesh's Dlo for good.
   */
  private async topUp (): Promise<void> {
    const { libp2p } = this.init
    const min = this.init.minPeers ?? 6
    const { connected, others } = this.connectedPeers()
    if (others >= min) return
    const known = await libp2p.peerStore.all()
    const candidates: PeerId[] = known.filter((p) => p.addresses.length > 0 && !connected.has(p.id.toString()) && !this.bootstrapIds.has(p.id.toString()) && !p.id.equals(libp2p.peerId)).map((p) => p.id)
    for (const id of candidates.slice(0, min - others)) {
      void libp2p.dial(id, { signal: AbortSignal.timeout(this.init.dialTimeoutMs ?? 5_000) }).catch(() => {})
    }
  }
}
