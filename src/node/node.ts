/** Starts one Node.js node (bootstrap, validator or light) from plain options: store, keys, libp2p, peer. */
import { join } from 'node:path'
import { mkdir } from 'node:fs/promises'
import { createNodeVerifier, createNodeSigner } from '../crypto/node.ts'
import { openSqliteStore } from '../storage/sqlite-store.ts'
import type { HostileMode } from '../peer/round-service.ts'
import { Peer } from '../peer/peer.ts'
import type { PeerRole } from '../peer/peer.ts'
import { topicsFor } from '../peer/topics.ts'
import { createLogger } from '../peer/logger.ts'
import type { LogSink } from '../peer/logger.ts'
import { computeNetworkId } from '../protocol/index.ts'
import type { NetworkConfig, TrustedCheckpoint } from '../protocol/index.ts'
import type { MeshParams } from '../peer/gossip-config.ts'
import { multiaddr } from '@multiformats/multiaddr'
import { createNodeLibp2p, isWebTransportAddr, maxPendingFor, mergeGaters } from './libp2p-node.ts'
import { findDeno } from './webtransport/sidecar-process.ts'
import type { WebTransportListenInit, WebTransportListenTransport } from './webtransport/transport.ts'
import { InboundAdmission, hostOf } from './admission.ts'
import type { AdmissionLimits } from './admission.ts'
import { ConnectionTrimmer } from '../peer/connection-trimmer.ts'
import type { WatermarkOptions } from '../peer/connection-trimmer.ts'
import { NodeMetrics } from './metrics.ts'
import { ByteCounter } from '../peer/byte-counter.ts'
import { loadOrCreatePeerKey } from './files.ts'
import { peerIdsOf } from '../peer/dialer.ts'
import type { SyncBudgetLimits } from '../peer/sync-budget.ts'
import { IgnorePenalty } from '../peer/gossip-penalty.ts'
import { systemClock } from '../peer/clock.ts'
import { assertGossipsubInternals } from '../peer/gossipsub-internals.ts'
import { PxHistory, installPxHistory, installPxOnArrival, DEFAULT_PX_HISTORY } from '../peer/px-history.ts'
import type { PxHistoryParams } from '../peer/px-history.ts'
import { DEFAULT_MESH } from '../peer/gossip-config.ts'

export interface NodeOptions {
  role: PeerRole
  network: NetworkConfig
  dataDir: string
  /** Validator key seed (32 bytes). */
  validatorSeed?: Uint8Array
  bootstraps: string[]
  listen?: string[]
  /** WebTransport listener options (certificate validity, clock, Deno path), for a /quic-v1/webtransport listen address. */
  webTransport?: Omit<WebTransportListenInit, 'certDir'>
  maxConnections?: number
  mesh?: Partial<MeshParams>
  logSink?: LogSink
  local?: boolean
  /**
   * Connection watermarks (bootstraps, validators): trim to low on reaching high; high is a hard cap
   * (it also becomes libp2p's maxConnections, overriding `maxConnections`).
   */
  watermarks?: WatermarkOptions
  /** Serve Prometheus metrics on 127.0.0.1:PORT/metrics (0 = any free port). */
  metricsPort?: number
  /** Count bytes by connection and protocol (`RunningNode.bytes`) without serving metrics. */
  countBytes?: boolean
  /** Bootstraps: PX partly from a cache of earlier-pruned peers (src/peer/px-history.ts); fromHistory 0 = off. */
  pxHistory?: PxHistoryParams
  /** TEST ONLY (validators): deliberate misbehaviour in rounds, e.g. 'silent-reveal'; default honest. */
  hostile?: HostileMode
  /** Validators: round messages by gossip only, no direct quorum streams (default false; PeerInit.directRounds). */
  gossipRounds?: boolean
  /** Validators: register the key again whenever the live chain lacks it (default true; see PeerInit). */
  keepRegistered?: boolean
  /** Per-peer sync server budgets (src/peer/sync-budget.ts). */
  syncBudget?: Partial<SyncBudgetLimits>
  /** Start from a trusted checkpoint instead of genesis (PeerInit.checkpoint). */
  checkpoint?: TrustedCheckpoint
  /** Keep only the newest N blocks (PeerInit.keepBlocks); default every block. */
  keepBlocks?: number
  /** Per-host budgets for sockets in their handshake (src/node/admission.ts); default DEFAULT_ADMISSION (with `local`, no per-IP or per-/24 budget). */
  admission?: Partial<AdmissionLimits>
}

export interface RunningNode {
  peer: Peer
  addrs: () => string[]
  stop: () => Promise<void>
  trimmer?: ConnectionTrimmer
  metrics?: NodeMetrics
  /** Bound metrics port, when metrics are served. */
  metricsPort?: number
  /** Bytes sent and received, with metrics or `countBytes`. */
  bytes?: ByteCounter
  /** The bootstrap's PX history, when on. */
  pxHistory?: PxHistory
  /** Inbound admission (per-host handshake budgets). */
  admission: InboundAdmission
  /** The WebTransport listener's transport (stats, listeners), when it listens. */
  webTransport?: WebTransportListenTransport
  /** Why WebTransport is off, when the listen addresses asked for it and it could not start; undefined otherwise. */
  webTransportOff?: string
}

/** The one line a node prints when its WebTransport listener is off because Deno is missing. */
export const WEBTRANSPORT_OFF_NO_DENO = 'WebTransport is off: Deno is not installed (npm install deno, or set LIGHTPULSE_DENO); WebSockets and WebRTC-direct still listen'

export function defaultListen (role: PeerRole, host = '127.0.0.1', basePort = 0): string[] {
  const p = (n: number): number => basePort === 0 ? 0 : basePort + n
  if (role === 'bootstrap') return [`/ip4/${host}/tcp/${p(0)}`, `/ip4/${host}/tcp/${p(1)}/ws`, `/ip4/${host}/udp/${p(2)}/webrtc-direct`, `/ip4/${host}/udp/${p(3)}/quic-v1/webtransport`]
  return [`/ip4/${host}/tcp/${p(0)}`, `/ip4/${host}/tcp/${p(1)}/ws`]
}

export async function startNode (o: NodeOptions): Promise<RunningNode> {
  await mkdir(o.dataDir, { recursive: true })
  const networkId = computeNetworkId(o.network)
  const topics = topicsFor(networkId)
  const privateKey = await loadOrCreatePeerKey(o.dataDir)
  const store = await openSqliteStore(join(o.dataDir, 'chain'))
  const blocklist = new Set<string>()
  const bootstrapIds = peerIdsOf(o.bootstraps)
  const logger = createLogger('lightpulse', o.logSink ?? (() => {}))
  const trimmer = o.watermarks !== undefined && o.role !== 'light'
    ? new ConnectionTrimmer({ ...o.watermarks, isProtected: (p) => bootstrapIds.has(p), log: logger })
    : undefined
  // Per-host budgets for sockets in their handshake; the configured bootstraps' hosts are known from the start.
  const bootstrapHosts = o.bootstraps.flatMap((a) => { try { return [hostOf(multiaddr(a))].filter((h): h is string => h !== undefined) } catch { return [] } })
  // With --local every devnet peer shares 127.0.0.1: the per-IP and per-/24 budgets and the cool-down are off unless given.
  const maxPending = maxPendingFor(o.role)
  const admission = new InboundAdmission(maxPending, bootstrapHosts, o.admission ?? (o.local === true ? { perIp: maxPending, perSubnet: maxPending, cooldownMs: 0 } : {}))
  // One Ignore-class budget, read by gossipsub's score and fed by the Peer's validators.
  const ignorePenalty = new IgnorePenalty(systemClock.now)
  // WebTransport needs the Deno sidecar: without Deno the node listens on everything else and says so.
  let listen = o.listen ?? defaultListen(o.role)
  let webTransportOff: string | undefined
  let wtTransport: WebTransportListenTransport | undefined
  if (listen.some(isWebTransportAddr) && (o.webTransport?.deno ?? findDeno()) === undefined) {
    listen = listen.filter((a) => !isWebTransportAddr(a))
    webTransportOff = WEBTRANSPORT_OFF_NO_DENO
  }
  // Bytes by connection and protocol, where metrics are served or asked for (libp2p's metrics hooks cost a little).
  const bytes = o.metricsPort !== undefined || o.countBytes === true ? new ByteCounter() : undefined
  const libp2p = await createNodeLibp2p({
    ...(bytes !== undefined ? { bytes } : {}),
    penalty: (id) => ignorePenalty.penalty(id),
    role: o.role,
    privateKey,
    topics,
    listen,
    webTransport: { ...o.webTransport, certDir: join(o.dataDir, 'webtransport'), onTransport: (t) => { wtTransport = t } },
    datastoreDir: o.role === 'bootstrap' ? join(o.dataDir, 'libp2p') : undefined,
    bootstrapIds,
    blocklist,
    maxConnections: trimmer?.high ?? o.maxConnections,
    mesh: o.mesh,
    local: o.local ?? false,
    gater: trimmer !== undefined ? mergeGaters(admission.gater, trimmer.gater) : admission.gater
  })
  trimmer?.attach(libp2p as never)
  // Bootstraps depend on gossipsub internals for PX: a version without them must not start and quietly hand
  // out plain PX (other roles only lose the concurrent stream opening, with a warning from Peer).
  if (o.role === 'bootstrap') {
    try {
      assertGossipsubInternals(libp2p.services.pubsub)
    } catch (err) {
      await libp2p.stop()
      await store.close()
      throw err
    }
  }
  const pxParams = o.pxHistory ?? DEFAULT_PX_HISTORY
  let pxHistory: PxHistory | undefined
  if (o.role === 'bootstrap' && pxParams.fromHistory > 0) {
    const h = new PxHistory(pxParams)
    const prunePeers = o.mesh?.prunePeers ?? DEFAULT_MESH.prunePeers
    // assertGossipsubInternals above guarantees the makePrune this needs, so it always installs.
    installPxHistory(libp2p.services.pubsub, libp2p.peerStore, h, { prunePeers, ok: (id) => !blocklist.has(id) })
    pxHistory = h
    // A peer whose last connection closed without our trimming left on its own: hand it out no more.
    libp2p.addEventListener('peer:disconnect', (e) => {
      const id = e.detail.toString()
      if (trimmer?.trimmedRecently(id) !== true) h.forget(id)
    })
  }
  const pxOnArrival = o.role === 'bootstrap' ? installPxOnArrival(libp2p.services.pubsub, libp2p) : undefined
  const peer = new Peer({
    network: o.network,
    libp2p,
    store,
    verifier: createNodeVerifier(),
    role: o.role,
    signer: o.validatorSeed !== undefined ? createNodeSigner(o.validatorSeed) : undefined,
    bootstraps: o.bootstraps.filter((a) => !a.includes(libp2p.peerId.toString())),
    // A bootstrap only keeps the other bootstraps: it never dials peers to top up. Dialing light peers back
    // would undo their release of the bootstraps and hand them PX again (a release/redial cycle).
    ...(o.role === 'bootstrap' ? { minPeers: 0 } : {}),
    logger,
    blocklist,
    ...(o.hostile !== undefined ? { hostile: o.hostile } : {}),
    keepRegistered: o.keepRegistered,
    ...(o.gossipRounds === true ? { directRounds: false } : {}),
    ignorePenalty,
    ...(o.syncBudget !== undefined ? { syncBudget: o.syncBudget } : {}),
    ...(o.checkpoint !== undefined ? { checkpoint: o.checkpoint } : {}),
    ...(o.keepBlocks !== undefined ? { keepBlocks: o.keepBlocks } : {})
  })
  await peer.start()
  const metrics = o.metricsPort !== undefined ? new NodeMetrics(peer, trimmer, pxHistory, pxOnArrival?.stats, admission) : undefined
  if (metrics !== undefined && wtTransport !== undefined) metrics.webTransport = wtTransport.stats
  if (metrics !== undefined) metrics.bytes = bytes
  const metricsPort = metrics !== undefined ? await metrics.listen(o.metricsPort!) : undefined
  return {
    peer,
    addrs: () => libp2p.getMultiaddrs().map((a) => a.toString()),
    stop: async () => {
      await metrics?.close()
      pxOnArrival?.uninstall()
      trimmer?.detach()
      await peer.stop()
      await store.close()
    },
    admission,
    ...(webTransportOff !== undefined ? { webTransportOff } : {}),
    ...(wtTransport !== undefined ? { webTransport: wtTransport } : {}),
    ...(trimmer !== undefined ? { trimmer } : {}),
    ...(pxHistory !== undefined ? { pxHistory } : {}),
    ...(metrics !== undefined ? { metrics, metricsPort } : {}),
    ...(bytes !== undefined ? { bytes } : {})
  }
}
