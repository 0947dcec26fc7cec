/**
 * One worker process of `lightpulse launch-test`: starts K real libp2p nodes (TCP + noise + yamux +
 * identify + gossipsub with the light-peer settings of gossip-config.ts, subscribed to one topic, kept
 * connected by the same Dialer as the product's peers) and reports as JSON lines on stdout.
 *   role 'light'  light peers;  'relay'  light peers that also run a circuit relay server;
 *   role 'flood'  bare connections (no gossipsub) that all dial one bootstrap at once.
 * Commands arrive as JSON lines on stdin: publish, report, stop.
 */
import { createInterface } from 'node:readline'
import { createLibp2p } from 'libp2p'
import type { Libp2p, Connection } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { gossipsub } from '@libp2p/gossipsub'
import type { GossipSub, Message } from '@libp2p/gossipsub'
import type { GossipSubX } from '../peer/peer.ts'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdsOf } from '../peer/dialer.ts'
import { DEFAULT_MESH, gossipOptions } from '../peer/gossip-config.ts'
import type { MeshParams } from '../peer/gossip-config.ts'
import type { Topics } from '../peer/topics.ts'
import { GossipCounters } from '../peer/gossip-counters.ts'
import { Dialer } from '../peer/dialer.ts'
import { concurrentOutboundStreams } from '../peer/gossip-streams.ts'
import { Emitter } from '../peer/events.ts'
import type { PeerEvents } from '../peer/events.ts'
import { systemClock } from '../peer/clock.ts'
import { silentLogger } from '../peer/logger.ts'

export interface WorkerConfig {
  role: 'light' | 'relay' | 'flood'
  count: number
  /** Index of this worker's first node in the whole run. */
  base: number
  bootstraps: string[]
  topics: Topics
  /** Topic every node subscribes to and publishes on (a value of `topics`). */
  topic: string
  mesh: Partial<MeshParams>
  /** Spacing between node starts in this worker, ms. */
  arrivalMs: number
  /** Bootstrap heartbeat, ms (PX timing is reported in these heartbeats). */
  bootstrapHeartbeatMs: number
  /** flood: the bootstrap to dial. */
  target?: string
  /** Light peers hang up their bootstraps once they have this many other connections (0 = never). */
  releaseBootstrapsAt?: number
  /** Bootstraps a light peer dials per attempt, at random (default all). */
  bootstrapsPerPeer?: number
}

export interface NodeReport {
  i: number
  peerId: string
  /** Ever had a connection to a bootstrap. */
  reachedBootstrap: boolean
  bootstrapConnects: number
  /** For each PRUNE received from a bootstrap: ms since that bootstrap connection opened, ms since our GRAFT, PX peers in it. */
  /**
   * PRUNEs received from bootstraps. `afterPx`: this bootstrap had already sent a PRUNE with PX within the
   * backoff, so this one answers a GRAFT that crossed it (gossipsub answers a GRAFT in backoff without PX).
   */
  prunes: Array<{ sinceConnectMs: number | null, sinceGraftMs: number | null, px: number, afterPx: boolean }>
  /** GRAFTs we sent to a bootstrap that no PRUNE answered (yet): ms waited so far. */
  openGrafts: number[]
  mesh: number
  topicPeers: number
  /** Peers with a gossipsub stream. */
  gossipPeers: number
  connections: number
  /** Connections without any stream open. */
  idleConnections: number
  /** msg id -> delivery latency ms. */
  received: Record<string, number>
  /** Messages seen again after the first copy (gossipsub duplicates, network level). */
  duplicates: number
  /** GRAFT + PRUNE events since the last report with reset. */
  churn: number
}

interface LightNode {
  i: number
  node: Libp2p<{ pubsub: GossipSub }>
  dialer: Dialer
  counters: GossipCounters
  connectAt: Map<string, number | null>
  graftAt: Map<string, number>
  rep: NodeReport
}

const now = (): number => performance.timeOrigin + performance.now()

/** Event-loop lag: worst timer drift since the last report (CPU starvation shows here first). */
let lagMs = 0
let lastTick = performance.now()
setInterval(() => { const t = performance.now(); lagMs = Math.max(lagMs, t - lastTick - 100); lastTick = t }, 100).unref()
const out = (o: unknown): void => { process.stdout.write(JSON.stringify(o) + '\n') }

async function startLight (cfg: WorkerConfig, i: number, bootstrapIds: Set<string>): Promise<LightNode> {
  const relay = cfg.role === 'relay'
  const node = await createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // Generous timeouts: a loaded 2-core machine can take seconds per noise handshake.
    connectionManager: { maxConnections: 64, inboundConnectionThreshold: 10_000, maxIncomingPendingConnections: 32, dialTimeout: 30_000, addressDialTimeout: 20_000, inboundUpgradeTimeout: 30_000 },
    connectionGater: { denyDialMultiaddr: () => false },
    connectionMonitor: { enabled: false },
    services: {
      identify: identify(),
      ...(relay ? { relay: circuitRelayServer({ reservations: { maxReservations: 256 } }) } : {}),
      pubsub: gossipsub(gossipOptions({ role: 'light', topics: cfg.topics, isBootstrap: (p) => bootstrapIds.has(p), mesh: cfg.mesh, local: true }))
    }
  }) as unknown as Libp2p<{ pubsub: GossipSub }>
  const ps = node.services.pubsub
  const rep: NodeReport = { i, peerId: node.peerId.toString(), reachedBootstrap: false, bootstrapConnects: 0, prunes: [], openGrafts: [], mesh: 0, topicPeers: 0, gossipPeers: 0, connections: 0, idleConnections: 0, received: {}, duplicates: 0, churn: 0 }
  /** Bootstrap -> when its connection opened; null once the first PRUNE on that connection was measured. */
  const connectAt = new Map<string, number | null>()
  const graftAt = new Map<string, number>()
  const pxAt = new Map<string, number>()
  const pruneBackoffMs = cfg.mesh.pruneBackoffMs ?? DEFAULT_MESH.pruneBackoffMs
  node.addEventListener('connection:open', (e: CustomEvent<Connection>) => {
    const p = e.detail.remotePeer.toString()
    if (!bootstrapIds.has(p)) return
    rep.reachedBootstrap = true
    rep.bootstrapConnects++
    if (!connectAt.has(p)) connectAt.set(p, now())
  })
  node.addEventListener('connection:close', (e: CustomEvent<Connection>) => {
    const p = e.detail.remotePeer.toString()
    if (bootstrapIds.has(p) && node.getConnections(e.detail.remotePeer).length === 0) { connectAt.delete(p); graftAt.delete(p) }
  })
  ps.addEventListener('gossipsub:graft', (e) => {
    rep.churn++
    if (e.detail.direction === 'outbound' && bootstrapIds.has(e.detail.peerId)) graftAt.set(e.detail.peerId, now())
  })
  ps.addEventListener('gossipsub:prune', () => { rep.churn++ })
  const counters = new GossipCounters(ps)
  counters.onPrune((e) => {
    if (e.direction !== 'received' || !bootstrapIds.has(e.peer)) return
    const t = now()
    const c = connectAt.get(e.peer)
    const g = graftAt.get(e.peer)
    graftAt.delete(e.peer)
    const lastPx = pxAt.get(e.peer)
    const afterPx = lastPx !== undefined && t - lastPx < pruneBackoffMs
    if (e.px > 0) pxAt.set(e.peer, t)
    rep.prunes.push({ sinceConnectMs: c === undefined || c === null ? null : Math.round(t - c), sinceGraftMs: g === undefined ? null : Math.round(t - g), px: e.px, afterPx })
    // Later PRUNEs on the same connection (re-GRAFT after backoff) count from their GRAFT only.
    connectAt.set(e.peer, null)
  })
  // Network-level duplicates: gossipsub reports each duplicate copy to its scorer.
  const score = (ps as unknown as { score?: { duplicateMessage?: (...a: unknown[]) => void } }).score
  if (score?.duplicateMessage !== undefined) {
    const orig = score.duplicateMessage.bind(score)
    score.duplicateMessage = (...a: unknown[]) => { rep.duplicates++; orig(...a) }
  }
  ps.addEventListener('message', (e: CustomEvent<Message>) => {
    if (e.detail.topic !== cfg.topic) return
    const text = new TextDecoder().decode(e.detail.data)
    const [id, t] = text.split('|')
    if (id === undefined || t === undefined) return
    if (rep.received[id] === undefined) rep.received[id] = Math.max(0, Math.round((now() - Number(t)) * 10) / 10)
  })
  await node.start()
  concurrentOutboundStreams(ps) // as the product's Peer does
  ps.subscribe(cfg.topic)
  const events = new Emitter<PeerEvents>()
  if (process.env.LAUNCH_DEBUG !== undefined) events.on('error', (e) => { process.stderr.write(`node ${i}: ${e.code} ${e.message}\n`) })
  const dialer = new Dialer({ libp2p: node as unknown as Libp2p, bootstraps: cfg.bootstraps, clock: systemClock, log: silentLogger, events, minPeers: 6, dialTimeoutMs: 30_000,
    ...(cfg.releaseBootstrapsAt !== undefined && cfg.releaseBootstrapsAt > 0 ? { releaseBootstrapsAt: cfg.releaseBootstrapsAt } : {}),
    ...(cfg.bootstrapsPerPeer !== undefined ? { bootstrapsPerAttempt: cfg.bootstrapsPerPeer } : {}) })
  node.addEventListener('peer:disconnect', () => { void dialer.check() })
  dialer.start()
  return { i, node, dialer, counters, connectAt, graftAt, rep }
}

async function main (): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '{}') as WorkerConfig
  const bootstrapIds = peerIdsOf(cfg.bootstraps)
  const nodes: LightNode[] = []
  const floods: Libp2p[] = []
  let stopping = false
  const stopAll = async (): Promise<void> => {
    if (stopping) return
    stopping = true
    for (const n of nodes) n.dialer.stop()
    await Promise.allSettled([...nodes.map(async (n) => { await n.node.stop() }), ...floods.map(async (f) => { await f.stop() })])
  }
  process.on('SIGTERM', () => { void stopAll().finally(() => process.exit(0)) })
  process.stdin.on('end', () => { void stopAll().finally(() => process.exit(0)) })

  if (cfg.role === 'flood') {
    // Build all connections' nodes first, then dial all at once.
    for (let k = 0; k < cfg.count; k++) {
      floods.push(await createLibp2p({
        privateKey: await generateKeyPair('Ed25519'),
        transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
        connectionGater: { denyDialMultiaddr: () => false },
        connectionMonitor: { enabled: false },
        services: { identify: identify() }
      }))
    }
    await Promise.all(floods.map(async (f) => { await f.start() }))
    out({ ev: 'all-ready', count: floods.length })
    const t0 = now()
    const results = await Promise.allSettled(floods.map(async (f) => await f.dial(multiaddr(cfg.target!), { signal: AbortSignal.timeout(15_000) })))
    const ok = results.filter((r) => r.status === 'fulfilled').length
    // Denied connections may be closed right after the handshake: count the ones still open a moment later.
    await new Promise((resolve) => setTimeout(resolve, 500))
    const open = floods.filter((f) => f.getConnections().length > 0).length
    out({ ev: 'flood', dialed: floods.length, upgraded: ok, stillOpen: open, ms: Math.round(now() - t0) })
  } else {
    for (let k = 0; k < cfg.count; k++) {
      const started = now()
      try {
        const n = await startLight(cfg, cfg.base + k, bootstrapIds)
        nodes.push(n)
        out({ ev: 'ready', i: n.i, peerId: n.rep.peerId, addr: n.node.getMultiaddrs()[0]?.toString() })
      } catch (err) {
        out({ ev: 'error', i: cfg.base + k, message: String(err) })
      }
      const wait = cfg.arrivalMs - (now() - started)
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    }
    out({ ev: 'all-ready', count: nodes.length, rss: process.memoryUsage().rss, heapUsed: process.memoryUsage().heapUsed })
  }

  const rl = createInterface({ input: process.stdin })
  rl.on('line', (line) => {
    let cmd: { cmd: string, i?: number, id?: string, reset?: boolean, received?: boolean }
    try { cmd = JSON.parse(line) as typeof cmd } catch { return }
    if (cmd.cmd === 'publish') {
      const n = nodes.find((x) => x.i === cmd.i)
      if (n === undefined) { out({ ev: 'published', id: cmd.id, error: 'no such node' }); return }
      const data = new TextEncoder().encode(`${cmd.id}|${now()}`)
      n.rep.received[cmd.id!] = 0
      n.node.services.pubsub.publish(cfg.topic, data).then((r) => { out({ ev: 'published', id: cmd.id, recipients: r.recipients.length }) }, (err: unknown) => { out({ ev: 'published', id: cmd.id, error: String(err) }) })
    } else if (cmd.cmd === 'report') {
      const reports = nodes.map((n) => {
        const r = n.rep
        const t = now()
        const openGrafts = [...n.graftAt.values()].map((g) => Math.round(t - g))
        const rec: NodeReport = {
          ...r,
          openGrafts,
          mesh: (n.node.services.pubsub as GossipSubX).getMeshPeers(cfg.topic).length,
          topicPeers: n.node.services.pubsub.getSubscribers(cfg.topic).length,
          gossipPeers: n.node.services.pubsub.getPeers().length,
          connections: n.node.getConnections().length,
          idleConnections: n.node.getConnections().filter((c) => c.streams.length === 0).length,
          received: cmd.received === false ? {} : r.received
        }
        if (cmd.reset === true) { r.churn = 0 }
        return rec
      })
      const mem = process.memoryUsage()
      out({ ev: 'report', nodes: reports, rss: mem.rss, heapUsed: mem.heapUsed, lagMs: Math.round(lagMs) })
      lagMs = 0
    } else if (cmd.cmd === 'stop') {
      void stopAll().finally(() => { out({ ev: 'stopped' }); process.exit(0) })
    }
  })
}

main().catch((err: unknown) => { out({ ev: 'fatal', message: String(err) }); process.exit(1) })
