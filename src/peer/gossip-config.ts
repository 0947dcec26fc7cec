/**
 * gossipsub settings per role. Bootstraps keep no mesh of their own (D = 0) and prune every GRAFT with
 * peer exchange; clients accept PX only from peers with a high application score, which only the
 * configured bootstraps get (gossipsub v1.1 advice). Messages are content-addressed (sha256) and unsigned
 * at the gossip layer: every payload carries its own Ed25519 signature.
 */
import type { GossipsubOpts } from '@libp2p/gossipsub'
import { createTopicScoreParams } from '@libp2p/gossipsub/score'
import { sha256 } from '../protocol/hash.ts'
import type { Topics } from './topics.ts'

export interface MeshParams {
  /** Mesh degree target / low / high (Quilibrium: 8 / 6 / 12). */
  D: number
  Dlo: number
  Dhi: number
  /** gossipsub heartbeat, ms. */
  heartbeatMs: number
  /** Peers per PX list in a PRUNE. */
  prunePeers: number
  /** Backoff after a PRUNE before the same peer may GRAFT again, ms. */
  pruneBackoffMs: number
}

export const DEFAULT_MESH: MeshParams = { D: 8, Dlo: 6, Dhi: 12, heartbeatMs: 700, prunePeers: 16, pruneBackoffMs: 60_000 }

/** Largest gossip payload accepted (a block at its limit, with framing). */
export const MAX_GOSSIP_BYTES = 300 * 1024

export function gossipOptions (opts: {
  role: 'bootstrap' | 'validator' | 'light'
  topics: Topics
  isBootstrap: (peerId: string) => boolean
  mesh?: Partial<MeshParams>
  /** Loopback/local networks: every peer shares an IP, so IP colocation scoring must be off. */
  local?: boolean
  /** Penalty points per peer (Ignore-class floods, gossip-penalty.ts), taken off its application score. */
  penalty?: (peerId: string) => number
}): Partial<GossipsubOpts> {
  const mesh = { ...DEFAULT_MESH, ...opts.mesh }
  const bootstrap = opts.role === 'bootstrap'
  const topicScore = createTopicScoreParams({
    topicWeight: 1,
    timeInMeshWeight: 0.01,
    // Count mesh time in seconds (the default quantum of 1 ms would give the full bonus after 3.6 s).
    timeInMeshQuantum: 1_000,
    timeInMeshCap: 3_600,
    firstMessageDeliveriesWeight: 1,
    meshMessageDeliveriesWeight: 0,
    meshFailurePenaltyWeight: 0,
    invalidMessageDeliveriesWeight: -20,
    invalidMessageDeliveriesDecay: 0.9
  })
  return {
    allowPublishToZeroTopicPeers: true,
    ignoreDuplicatePublishError: true,
    emitSelf: false,
    globalSignaturePolicy: 'StrictNoSign',
    msgIdFn: (msg) => sha256(msg.data),
    fastMsgIdFn: undefined,
    D: bootstrap ? 0 : mesh.D,
    Dlo: bootstrap ? 0 : mesh.Dlo,
    Dhi: bootstrap ? 0 : mesh.Dhi,
    Dout: bootstrap ? 0 : Math.min(2, Math.floor(mesh.D / 2)),
    Dscore: bootstrap ? 0 : Math.min(4, mesh.Dlo),
    heartbeatInterval: mesh.heartbeatMs,
    doPX: true,
    prunePeers: mesh.prunePeers,
    pruneBackoff: mesh.pruneBackoffMs,
    maxInboundDataLength: MAX_GOSSIP_BYTES,
    runOnLimitedConnection: true,
    scoreParams: {
      IPColocationFactorWeight: opts.local === true ? 0 : -10,
      appSpecificScore: (peer: string) => opts.isBootstrap(peer) ? 100 : -(opts.penalty?.(peer) ?? 0),
      appSpecificWeight: 1,
      topics: Object.fromEntries(Object.values(opts.topics).map((t) => [t, topicScore]))
    },
    scoreThresholds: {
      gossipThreshold: -10,
      publishThreshold: -50,
      graylistThreshold: -80,
      acceptPXThreshold: 10,
      opportunisticGraftThreshold: 20
    }
  }
}
