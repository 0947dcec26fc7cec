/**
 * Inbound admission during a connection flood (Node nodes: bootstraps and validators).
 *
 * libp2p holds every accepted socket as "pending" until its noise/yamux upgrade ends or times out (10 s),
 * and refuses every new socket once `maxIncomingPendingConnections` are pending. One host that opens sockets
 * and never completes a handshake therefore locks every honest newcomer out. This gater's
 * `denyInboundConnection` runs right after libp2p accepts a socket and before the handshake, and refuses it
 * at once (the socket is closed, nothing is read) when its host is over its budget:
 *   - `perIp` sockets in the handshake at once per IP address;
 *   - `perSubnet` per /24 (IPv4) or /48 (IPv6);
 *   - strangers never take the last `reserved` of the node's pending slots: those are for known hosts (the
 *     IPs of the configured bootstraps, and of peers that completed a handshake with us before, newest
 *     `knownHosts` remembered), who are also exempt from the subnet budget and the cool-down (never from
 *     `perIp`);
 *   - when the strangers' slots are full, a stranger's socket evicts the oldest stranger still in its
 *     handshake after `evictAfterMs` (aborted: an honest handshake takes a few round trips, a flood socket
 *     never ends its own), and is refused only if every one of them is younger; its /24 (/48) then cools
 *     down (below), so that one /24 takes at most one slot by eviction per cool-down;
 *   - a stranger refused puts what was over its budget in a cool-down of `cooldownMs`, during which its
 *     sockets are refused at once without taking a slot: its IP when it was over `perIp`, else its /24
 *     (/48). A flood spread over many /24s, each under its budgets, can then win at most one slot per /24
 *     per cool-down, while slots held past `evictAfterMs` turn over: an honest newcomer from another /24
 *     finds one (test/integration/connection-flood.test.ts).
 * A socket leaves the count when its upgrade succeeds (`denyInboundUpgradedConnection`) or when it closes.
 * Relayed connections (their address is the relay's) and addresses without an IP are not counted. The
 * connection high watermark (ConnectionTrimmer, libp2p maxConnections) stays the hard cap on top of this.
 */
import type { ConnectionGater, MultiaddrConnection, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { setBounded } from '../peer/bounded.ts'

export interface AdmissionLimits {
  /** Sockets in the handshake at once from one IP address. Default 4. */
  perIp: number
  /** Sockets in the handshake at once from one /24 (IPv4) or /48 (IPv6). Default 16. */
  perSubnet: number
  /** Pending slots (of `maxPending`) that strangers never take. Default 8. */
  reserved: number
  /** How many hosts that completed a handshake are remembered as known. Default 1,024. */
  knownHosts: number
  /** A stranger's socket still in its handshake after this long may be evicted for a newcomer when the strangers' slots are full, ms. Default 1,000. */
  evictAfterMs: number
  /** How long an IP over its budget, or a /24 (/48) whose socket was refused otherwise, is refused outright, ms. Default 2,000. */
  cooldownMs: number
}

export const DEFAULT_ADMISSION: AdmissionLimits = { perIp: 4, perSubnet: 16, reserved: 8, knownHosts: 1_024, evictAfterMs: 1_000, cooldownMs: 2_000 }

/** IPs and subnets in their cool-down remembered at once (the oldest is dropped beyond this). */
const MAX_COOLING = 4_096

export type AdmissionRefusal = 'ip' | 'subnet' | 'capacity' | 'cooldown'

/** The IP address of a multiaddr, or undefined (relayed, no IP). */
export function hostOf (addr: Multiaddr): string | undefined {
  const parts = addr.getComponents()
  if (parts.some((c) => c.name === 'p2p-circuit')) return undefined
  return parts.find((c) => c.name === 'ip4' || c.name === 'ip6')?.value
}

/** The /24 of an IPv4 address, the /48 of an IPv6 address (its first three 16-bit groups). */
export function subnetOf (ip: string): string {
  if (!ip.includes(':')) return ip.split('.').slice(0, 3).join('.')
  const [head = '', tail = ''] = ip.split('::')
  const h = head === '' ? [] : head.split(':')
  const t = tail === '' ? [] : tail.split(':')
  const groups = ip.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h
  return groups.slice(0, 3).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')
}

export class InboundAdmission {
  private readonly limits: AdmissionLimits
  private readonly maxPending: number
  private readonly byIp = new Map<string, number>()
  private readonly bySubnet = new Map<string, number>()
  /** Admitted sockets still in the handshake (oldest first), with the host they count for and when they came. */
  private readonly pending = new Map<MultiaddrConnection, { ip: string, at: number }>()
  /** IP or subnet -> end of its cool-down (oldest first). */
  private readonly cooling = new Map<string, number>()
  private readonly now: () => number
  /** Hosts that completed a handshake (oldest first) and configured ones (never forgotten). */
  private readonly known = new Map<string, true>()
  private readonly configured: Set<string>
  readonly refused: Record<AdmissionRefusal, number> = { ip: 0, subnet: 0, capacity: 0, cooldown: 0 }
  admitted = 0
  /** Strangers' sockets aborted in their handshake to make room for a newcomer. */
  evicted = 0

  constructor (maxPending: number, configuredHosts: Iterable<string> = [], limits: Partial<AdmissionLimits> = {}, now: () => number = Date.now) {
    this.limits = { ...DEFAULT_ADMISSION, ...limits }
    this.now = now
    this.maxPending = maxPending
    this.configured = new Set(configuredHosts)
  }

  /** Sockets admitted and still in their handshake. */
  get inHandshake (): number { return this.pending.size }

  isKnown (ip: string): boolean { return this.configured.has(ip) || this.known.has(ip) }

  /**
   * Why a socket from `ip` would be refused now, or undefined if it is admitted; 'evict' if it is admitted
   * only by evicting the oldest stranger past `evictAfterMs` (`oldestEvictable`).
   */
  check (ip: string): AdmissionRefusal | 'evict' | undefined {
    const d = this.decide(ip)
    return d === undefined || typeof d === 'string' ? d : 'evict'
  }

  /** As `check`, with the socket to evict in place of 'evict'. */
  private decide (ip: string): AdmissionRefusal | MultiaddrConnection | undefined {
    if ((this.byIp.get(ip) ?? 0) >= this.limits.perIp) return 'ip'
    if (this.isKnown(ip)) return undefined
    const net = subnetOf(ip)
    if (this.isCooling(ip) || this.isCooling(net)) return 'cooldown'
    if ((this.bySubnet.get(net) ?? 0) >= this.limits.perSubnet) return 'subnet'
    if (this.pending.size >= this.maxPending - this.limits.reserved) return this.oldestEvictable() ?? 'capacity'
    return undefined
  }

  private isCooling (key: string): boolean {
    const until = this.cooling.get(key)
    if (until === undefined) return false
    if (this.now() < until) return true
    this.cooling.delete(key)
    return false
  }

  /** The oldest stranger's socket in its handshake for at least `evictAfterMs`, if any. */
  private oldestEvictable (): MultiaddrConnection | undefined {
    const t = this.now()
    for (const [conn, p] of this.pending) {
      if (this.isKnown(p.ip)) continue
      return t - p.at >= this.limits.evictAfterMs ? conn : undefined // insertion order: the first stranger is the oldest
    }
    return undefined
  }

  readonly gater: Required<Pick<ConnectionGater, 'denyInboundConnection' | 'denyInboundUpgradedConnection'>> = {
    denyInboundConnection: (maConn: MultiaddrConnection) => {
      // A transport that encrypts before the upgrade (WebTransport) asks before its handshake, and the
      // upgrader asks again: a connection already admitted is not counted twice.
      if (this.pending.has(maConn)) return false
      const ip = hostOf(maConn.remoteAddr)
      if (ip === undefined) return false
      const refusal = this.decide(ip)
      if (refusal !== undefined && typeof refusal !== 'string') {
        const old = refusal
        this.release(old)
        this.evicted++
        old.abort(new Error('inbound handshake evicted: too slow while the pending slots are full'))
        this.coolDown(subnetOf(ip)) // one slot by eviction per /24 per cool-down
      } else if (refusal !== undefined) {
        this.refused[refusal]++
        if (!this.isKnown(ip) && refusal !== 'cooldown') this.coolDown(refusal === 'ip' ? ip : subnetOf(ip))
        return true
      }
      this.admit(maConn, ip)
      return false
    },
    denyInboundUpgradedConnection: (_peer: PeerId, maConn: MultiaddrConnection) => {
      const ip = this.pending.get(maConn)?.ip
      if (ip !== undefined) {
        this.release(maConn)
        this.remember(ip)
      }
      return false
    }
  }

  private admit (maConn: MultiaddrConnection, ip: string): void {
    this.admitted++
    this.pending.set(maConn, { ip, at: this.now() })
    this.byIp.set(ip, (this.byIp.get(ip) ?? 0) + 1)
    const net = subnetOf(ip)
    this.bySubnet.set(net, (this.bySubnet.get(net) ?? 0) + 1)
    maConn.addEventListener('close', () => { this.release(maConn) }, { once: true })
  }

  private coolDown (key: string): void {
    if (this.limits.cooldownMs <= 0 || this.isCooling(key)) return // a refusal during the cool-down does not extend it
    setBounded(this.cooling, key, this.now() + this.limits.cooldownMs, MAX_COOLING)
  }

  private release (maConn: MultiaddrConnection): void {
    const ip = this.pending.get(maConn)?.ip
    if (ip === undefined) return
    this.pending.delete(maConn)
    const dec = (m: Map<string, number>, k: string): void => {
      const n = (m.get(k) ?? 1) - 1
      if (n <= 0) m.delete(k)
      else m.set(k, n)
    }
    dec(this.byIp, ip)
    dec(this.bySubnet, subnetOf(ip))
  }

  private remember (ip: string): void {
    setBounded(this.known, ip, true, this.limits.knownHosts)
  }
}
