/**
 * The private gossipsub members that our peers extend at run time, and a check that they are there.
 *
 * gossipsub has no public hook for these (checked against its options in 17.1.1: `doPX`, `prunePeers`,
 * `maxOutboundStreams`, `metricsRegister`… choose none of them): PX entries from a history of earlier peers
 * and PX on arrival (px-history.ts), opening outbound streams to many peers at once and reopening one whose
 * connection closed (gossip-streams.ts), PX dials that no longer hold up (or abort) a PRUNE's other topics
 * (gossip-px.ts), and PRUNE/PX counters (gossip-counters.ts). The dependency is pinned to the exact version these were tested
 * on; test/peer/gossipsub-internals.test.ts fails if an upgrade removes or retypes one.
 */
import type { GossipSub } from '@libp2p/gossipsub'

/** The gossipsub version the patches were tested on (package.json pins it exactly). */
export const TESTED_GOSSIPSUB_VERSION = '17.1.1'

/** Each private member, its kind, and what depends on it. */
export const GOSSIPSUB_INTERNALS: ReadonlyArray<{ member: string, kind: 'function' | 'map' | 'queue', usedBy: string }> = [
  { member: 'makePrune', kind: 'function', usedBy: 'PX history and PX on arrival (bootstraps)' },
  { member: 'sendRpc', kind: 'function', usedBy: 'PX on arrival (bootstraps), PRUNE/PX counters' },
  { member: 'streamsOutbound', kind: 'map', usedBy: 'PX on arrival (bootstraps), outbound stream keeper' },
  { member: 'peers', kind: 'map', usedBy: 'outbound stream keeper' },
  { member: 'handlePrune', kind: 'function', usedBy: 'PRUNE/PX counters (metrics)' },
  { member: 'outboundInflightQueue', kind: 'queue', usedBy: 'concurrent outbound streams, outbound stream keeper' },
  { member: 'createOutboundStream', kind: 'function', usedBy: 'concurrent outbound streams' },
  { member: 'pxConnect', kind: 'function', usedBy: 'PX dials off the PRUNE path (gossip-px.ts)' }
]

export class GossipsubInternalsError extends Error {
  override readonly name = 'GossipsubInternalsError'
  readonly code = 'GOSSIPSUB_UNSUPPORTED'
  readonly details: { missing: string[], tested: string }
  constructor (missing: string[]) {
    super(`this @libp2p/gossipsub lacks ${missing.join(', ')}, which lightpulse extends (tested on ${TESTED_GOSSIPSUB_VERSION}); install @libp2p/gossipsub@${TESTED_GOSSIPSUB_VERSION}`)
    this.details = { missing, tested: TESTED_GOSSIPSUB_VERSION }
  }
}

/** The members that are missing or not of the expected kind. */
export function missingGossipsubInternals (ps: GossipSub | object): string[] {
  const t = ps as unknown as Record<string, unknown>
  return GOSSIPSUB_INTERNALS.filter(({ member, kind }) => {
    const v = t[member]
    if (kind === 'function') return typeof v !== 'function'
    if (kind === 'map') return !(v instanceof Map)
    const q = v as { push?: unknown, end?: unknown } | undefined
    return typeof q?.push !== 'function' || typeof q?.end !== 'function'
  }).map((m) => m.member)
}

/** Throws GOSSIPSUB_UNSUPPORTED (a start-up error) if any member is missing. */
export function assertGossipsubInternals (ps: GossipSub | object): void {
  const missing = missingGossipsubInternals(ps)
  if (missing.length > 0) throw new GossipsubInternalsError(missing)
}
