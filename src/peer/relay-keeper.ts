/**
 * Keeps a browser peer reachable through a circuit relay. The peer listens on /p2p-circuit, and
 * @libp2p/circuit-relay-v2 asks a relay for a reservation once per connection, when identify first shows
 * that the relay speaks the hop protocol (a registrar topology, filtered per peer). If that one attempt
 * fails (its 20 s timeout on a loaded machine or a slow phone link, or a relay that is full for a while),
 * nothing asks again while the connection stays open, and the tab stays unreachable for WebRTC for good.
 *
 * The keeper checks every `checkMs`: with no /p2p-circuit address of its own and a relay connection older
 * than `graceMs` (time for the library's own attempt), it makes the library ask again through public API
 * only: it drops the hop protocol from the relay's peer-store record (the registrar then clears the
 * topology's filter for that peer, as for a peer that stopped speaking it) and runs identify on the
 * connection again (the relay reports hop again, so the topology fires and a reservation is attempted).
 * Retries back off from `graceMs` doubling up to `maxBackoffMs`; a reservation resets the backoff.
 */
import type { Connection, Libp2p } from '@libp2p/interface'
import { RELAY_V2_HOP_CODEC } from '@libp2p/circuit-relay-v2'
import type { Clock } from './clock.ts'
import type { Logger } from './logger.ts'

export interface RelayKeeperInit {
  libp2p: Pick<Libp2p, 'getMultiaddrs' | 'getConnections' | 'peerStore'>
  /** Runs identify on a connection (the libp2p node's identify service). */
  identify: (connection: Connection) => Promise<unknown>
  /** Peers to keep a reservation on (the bootstraps, which run the relay server). */
  relays: Set<string>
  clock: Clock
  log: Logger
  /** How often to check (default 10 s). */
  checkMs?: number
  /** A relay connection this old with no reservation is asked again (default 30 s; the library's own attempt times out at 20 s). */
  graceMs?: number
  /** Longest wait between two retries (default 5 min). */
  maxBackoffMs?: number
}

export type RelayCheck = 'reserved' | 'no-relay' | 'waiting' | 'retried' | 'failed'

export class RelayKeeper {
  private readonly init: RelayKeeperInit
  private readonly checkMs: number
  private readonly graceMs: number
  private readonly maxBackoffMs: number
  private backoffMs: number
  private nextAt = 0
  private timer: unknown
  private running = false
  readonly stats = { retries: 0, failures: 0 }

  constructor (init: RelayKeeperInit) {
    this.init = init
    this.checkMs = init.checkMs ?? 10_000
    this.graceMs = init.graceMs ?? 30_000
    this.maxBackoffMs = init.maxBackoffMs ?? 300_000
    this.backoffMs = this.graceMs
  }

  start (): void {
    if (this.running) return
    this.running = true
    this.schedule()
  }

  stop (): void {
    this.running = false
    if (this.timer !== undefined) this.init.clock.clearTimeout(this.timer)
    this.timer = undefined
  }

  /** Whether this peer has a relayed listen address now. */
  reserved (): boolean {
    return this.init.libp2p.getMultiaddrs().some((a) => a.toString().includes('/p2p-circuit'))
  }

  /** One check (the timer calls it; tests may too). */
  async check (): Promise<RelayCheck> {
    const now = this.init.clock.now()
    if (this.reserved()) {
      this.backoffMs = this.graceMs
      this.nextAt = 0
      return 'reserved'
    }
    const conn = this.init.libp2p.getConnections().find((c) =>
      this.init.relays.has(c.remotePeer.toString()) && c.status === 'open' && c.limits === undefined && now - c.timeline.open >= this.graceMs)
    if (conn === undefined) return 'no-relay'
    if (now < this.nextAt) return 'waiting'
    const { peerStore } = this.init.libp2p
    try {
      const peer = await peerStore.get(conn.remotePeer)
      if (!peer.protocols.includes(RELAY_V2_HOP_CODEC)) return 'no-relay'
      this.nextAt = now + this.backoffMs
      this.backoffMs = Math.min(this.backoffMs * 2, this.maxBackoffMs)
      this.stats.retries++
      this.init.log.info('no relay reservation yet: asking the relay again', { relay: conn.remotePeer.toString().slice(-8), retries: this.stats.retries })
      await peerStore.patch(conn.remotePeer, { protocols: peer.protocols.filter((p) => p !== RELAY_V2_HOP_CODEC) })
      await this.init.identify(conn)
      return 'retried'
    } catch (err) {
      // Put the protocol back (identify may have failed after the patch), so the next retry can run.
      await peerStore.merge(conn.remotePeer, { protocols: [RELAY_V2_HOP_CODEC] }).catch(() => {})
      this.stats.failures++
      this.init.log.debug('relay reservation retry failed', { err: String(err) })
      return 'failed'
    }
  }

  private schedule (): void {
    if (!this.running) return
    // The next check is scheduled only once this one is done, so checks never overlap.
    this.timer = this.init.clock.setTimeout(() => {
      if (!this.running) return
      void this.check().finally(() => { this.schedule() })
    }, this.checkMs)
  }
}
