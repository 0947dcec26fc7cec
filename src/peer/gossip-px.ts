/**
 * PX dials off the PRUNE path. gossipsub 17.1.1's `handlePrune` walks a PRUNE's topics in order and, for each
 * one carrying PX, awaits `pxConnect`, which awaits a dial to every PX entry and rejects when one fails. So a
 * stale entry (a peer that has left: one refused dial) aborts the rest of that PRUNE: the pruning peer stays
 * in our mesh for the PRUNE's later topics (seen on the devnet: a bootstrap kept in a peer's mesh for rounds,
 * txs and release for the whole 60 s backoff), and even when every dial succeeds the later topics wait for
 * the earlier topics' dials (up to the 5 s dial timeout each).
 *
 * `detachPxDials` makes `pxConnect` start its dials and return at once: the PRUNE's topics are handled in
 * one pass, each PX dial runs on its own, and a failed one is counted and dropped. Idempotent; false (and
 * nothing changed) if this gossipsub has no `pxConnect`.
 */
import type { GossipSub } from '@libp2p/gossipsub'

interface PxInternals {
  pxConnect?: (peers: unknown[]) => Promise<void>
  __lightpulsePxDetached?: PxDialStats
}

export interface PxDialStats { started: number, failed: number }

export function detachPxDials (ps: GossipSub): PxDialStats | undefined {
  const t = ps as unknown as PxInternals
  if (t.__lightpulsePxDetached !== undefined) return t.__lightpulsePxDetached
  if (typeof t.pxConnect !== 'function') return undefined
  const original = t.pxConnect.bind(ps)
  const stats: PxDialStats = { started: 0, failed: 0 }
  t.pxConnect = async (peers) => {
    stats.started++
    original(peers).catch(() => { stats.failed++ })
  }
  t.__lightpulsePxDetached = stats
  return stats
}
