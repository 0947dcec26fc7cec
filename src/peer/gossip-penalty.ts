/**
 * A per-peer budget for Ignore-class gossip that is the sender's doing (STALE, DUPLICATE, FUTURE, MEMPOOL_FULL;
 * the codes that mean we are behind never count, see PENALISED_IGNORES in peer.ts):
 * such messages are not invalid, so gossipsub's invalid-delivery penalty never sees them, yet a flood of
 * them costs validation work. Each peer may forward `ratePerSecond` of them (burst `burst`); every one
 * beyond that adds a penalty point, and points decay with a half-life. gossipsub reads the penalty as the
 * application-specific score (weight 1): past `-gossipThreshold` (10 points) the peer gets no gossip from
 * us, past 50 it is left out of publishing, past 80 it is graylisted (its RPCs ignored) and the mesh
 * prunes it (any negative score). Time comes from the injected clock.
 */

export interface IgnorePenaltyParams {
  /** Ignore-class messages per second a peer may forward without penalty. Default 50. */
  ratePerSecond: number
  /** Burst above that rate. Default 200. */
  burst: number
  /** Half-life of penalty points, ms. Default 30,000. */
  halfLifeMs: number
  /** Largest penalty (keeps the score bounded). Default 1,000. */
  maxPenalty: number
  /** Peers tracked at once (least recently seen forgotten beyond this). Default 4,096. */
  maxPeers: number
}

export const DEFAULT_IGNORE_PENALTY: IgnorePenaltyParams = { ratePerSecond: 50, burst: 200, halfLifeMs: 30_000, maxPenalty: 1_000, maxPeers: 4_096 }

interface Entry { tokens: number, penalty: number, at: number }

export class IgnorePenalty {
  readonly params: IgnorePenaltyParams
  private readonly now: () => number
  private readonly peers = new Map<string, Entry>()
  /** Messages beyond the budget, in all (for metrics). */
  over = 0

  constructor (now: () => number, params: Partial<IgnorePenaltyParams> = {}) {
    this.now = now
    this.params = { ...DEFAULT_IGNORE_PENALTY, ...params }
  }

  private entry (peer: string): Entry {
    const t = this.now()
    let e = this.peers.get(peer)
    if (e === undefined) {
      e = { tokens: this.params.burst, penalty: 0, at: t }
      if (this.peers.size >= this.params.maxPeers) {
        const oldest = this.peers.keys().next()
        if (oldest.done !== true) this.peers.delete(oldest.value)
      }
    } else {
      const dt = Math.max(0, t - e.at)
      e.tokens = Math.min(this.params.burst, e.tokens + dt / 1000 * this.params.ratePerSecond)
      e.penalty *= 0.5 ** (dt / this.params.halfLifeMs)
      e.at = t
      this.peers.delete(peer)
    }
    this.peers.set(peer, e)
    return e
  }

  /** Counts one Ignore-class message forwarded by `peer`. */
  record (peer: string): void {
    const e = this.entry(peer)
    if (e.tokens >= 1) { e.tokens -= 1; return }
    e.penalty = Math.min(this.params.maxPenalty, e.penalty + 1)
    this.over++
  }

  /** The peer's current penalty points (0 for a peer within its budget). */
  penalty (peer: string): number {
    if (!this.peers.has(peer)) return 0
    return this.entry(peer).penalty
  }

  /** gossipsub's application-specific score contribution: minus the penalty. */
  score (peer: string): number { return -this.penalty(peer) }
}
