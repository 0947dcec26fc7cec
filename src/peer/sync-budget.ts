/**
 * What one peer may cost a node's sync server: requests per second, streams at once, and bytes per second
 * served. Token buckets on an injected clock (`now`), so tests drive time. A request over the rate or the
 * stream budget is refused (stream reset) and counts as a reject toward the peer's block, like a malformed
 * one; the byte budget only shortens responses (at least one block each), so an honest peer catching up on
 * a long chain is slowed to the budget, never refused (docs/LIMITS.md).
 */

export interface SyncBudgetLimits {
  /** Sustained requests per second per peer. Default 20. */
  requestsPerSecond: number
  /** Requests a peer may send in a burst above the sustained rate. Default 40. */
  requestBurst: number
  /** Sync streams one peer may have open on this node at once. Default 4. */
  concurrentStreams: number
  /** Sustained bytes per second served to one peer (block frames). Default 4 MiB/s. */
  bytesPerSecond: number
  /** Bytes a peer may be served in a burst (at least one full batch of small blocks). Default 8 MiB. */
  byteBurst: number
  /** Peers tracked at once; the least recently seen is forgotten beyond this. Default 4,096. */
  maxPeers: number
}

export const DEFAULT_SYNC_BUDGET: SyncBudgetLimits = {
  requestsPerSecond: 20,
  requestBurst: 40,
  concurrentStreams: 4,
  bytesPerSecond: 4 * 2 ** 20,
  byteBurst: 8 * 2 ** 20,
  maxPeers: 4_096
}

export type SyncRefusal = 'rate' | 'streams'

interface PeerBudget { requests: number, bytes: number, at: number, open: number }

export class SyncBudget {
  readonly limits: SyncBudgetLimits
  private readonly now: () => number
  private readonly peers = new Map<string, PeerBudget>()
  /** Refusals by reason, and responses shortened by the byte budget (for metrics). */
  readonly refused: Record<SyncRefusal, number> = { rate: 0, streams: 0 }
  shortened = 0

  constructor (now: () => number, limits: Partial<SyncBudgetLimits> = {}) {
    this.now = now
    this.limits = { ...DEFAULT_SYNC_BUDGET, ...limits }
  }

  private get (peer: string): PeerBudget {
    const t = this.now()
    let b = this.peers.get(peer)
    if (b === undefined) {
      b = { requests: this.limits.requestBurst, bytes: this.limits.byteBurst, at: t, open: 0 }
      if (this.peers.size >= this.limits.maxPeers) {
        // Forget the least recently seen idle peer (Map order = insertion; refreshed on every use below).
        for (const [id, old] of this.peers) { if (old.open === 0) { this.peers.delete(id); break } }
      }
    } else {
      const dt = Math.max(0, t - b.at) / 1000
      b.requests = Math.min(this.limits.requestBurst, b.requests + dt * this.limits.requestsPerSecond)
      b.bytes = Math.min(this.limits.byteBurst, b.bytes + dt * this.limits.bytesPerSecond)
      b.at = t
      this.peers.delete(peer)
    }
    this.peers.set(peer, b)
    return b
  }

  /** Admits a new request stream from `peer`, or says why not. Call `release` when an admitted one ends. */
  admit (peer: string): SyncRefusal | undefined {
    const b = this.get(peer)
    if (b.open >= this.limits.concurrentStreams) { this.refused.streams++; return 'streams' }
    if (b.requests < 1) { this.refused.rate++; return 'rate' }
    b.requests -= 1
    b.open++
    return undefined
  }

  release (peer: string): void {
    const b = this.peers.get(peer)
    if (b !== undefined && b.open > 0) b.open--
  }

  /** Charges `n` bytes served; false once the peer's byte budget is spent (end the response there). */
  spend (peer: string, n: number): boolean {
    const b = this.get(peer)
    b.bytes -= n
    if (b.bytes > 0) return true
    this.shortened++
    return false
  }

  get trackedPeers (): number { return this.peers.size }
}
