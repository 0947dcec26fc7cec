/**
 * Prometheus endpoint for bootstraps and validators: GET /metrics in the text exposition format (0.0.4),
 * served with node:http (no dependency: a few gauges and counters do not need prom-client).
 */
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { getHeapSpaceStatistics } from 'node:v8'
import type { Peer } from '../peer/peer.ts'
import type { ConnectionTrimmer } from '../peer/connection-trimmer.ts'
import type { InboundAdmission } from './admission.ts'
import type { WebTransportStats } from './webtransport/transport.ts'
import type { ByteCounter } from '../peer/byte-counter.ts'
import { GossipCounters } from '../peer/gossip-counters.ts'
import type { PxHistory, PxOnArrivalStats } from '../peer/px-history.ts'

type Labels = Record<string, string>
interface Sample { labels?: Labels, value: number }
interface Family { name: string, help: string, type: 'gauge' | 'counter', samples: Sample[] }

function esc (v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
}

export function renderExposition (families: Family[]): string {
  const out: string[] = []
  for (const f of families) {
    out.push(`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`)
    out.push(`# TYPE ${f.name} ${f.type}`)
    for (const s of f.samples) {
      const l = s.labels === undefined || Object.keys(s.labels).length === 0 ? '' : `{${Object.entries(s.labels).map(([k, v]) => `${k}="${esc(v)}"`).join(',')}}`
      const v = Number.isFinite(s.value) ? String(s.value) : (Number.isNaN(s.value) ? 'NaN' : s.value > 0 ? '+Inf' : '-Inf')
      out.push(`${f.name}${l} ${v}`)
    }
  }
  return out.join('\n') + '\n'
}

/** Parses the text format back (for tests and the launch test's scrapes): name{labels} -> value. */
export function parseExposition (text: string): Map<string, number> {
  const m = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const i = line.lastIndexOf(' ')
    m.set(line.slice(0, i), Number(line.slice(i + 1)))
  }
  return m
}

export class NodeMetrics {
  private readonly peer: Peer
  private readonly trimmer?: ConnectionTrimmer
  private readonly admission?: InboundAdmission
  /** The WebTransport listener's counters, when it listens (set after construction). */
  webTransport?: WebTransportStats
  /** Bytes by connection and protocol (installed with the metrics). */
  bytes?: ByteCounter
  private readonly pxHistory?: PxHistory
  private readonly pxOnArrival?: PxOnArrivalStats
  readonly gossip: GossipCounters
  private blocks = 0
  private readonly rounds: Record<string, number> = {}
  private readonly offs: Array<() => void> = []
  private server?: Server

  constructor (peer: Peer, trimmer?: ConnectionTrimmer, pxHistory?: PxHistory, pxOnArrival?: PxOnArrivalStats, admission?: InboundAdmission) {
    this.peer = peer
    this.admission = admission
    this.trimmer = trimmer
    this.pxHistory = pxHistory
    this.pxOnArrival = pxOnArrival
    this.gossip = new GossipCounters(peer.libp2p.services.pubsub)
    this.offs.push(peer.events.on('block', () => { this.blocks++ }))
    this.offs.push(peer.events.on('round', (r) => { if (r.stage === 'failed' || r.stage === 'block') this.rounds[r.stage] = (this.rounds[r.stage] ?? 0) + 1 }))
  }

  families (): Family[] {
    const p = this.peer
    const conns = p.libp2p.getConnections()
    const dir = { inbound: 0, outbound: 0 }
    const byTransport: Record<string, number> = {}
    for (const c of p.connections()) {
      dir[c.direction as 'inbound' | 'outbound']++
      byTransport[c.transport] = (byTransport[c.transport] ?? 0) + 1
    }
    const g = this.gossip.counts
    const t = this.trimmer?.stats()
    const f: Family[] = [
      { name: 'lightpulse_info', help: 'Static node information.', type: 'gauge', samples: [{ labels: { role: p.role, peer_id: p.libp2p.peerId.toString() }, value: 1 }] },
      { name: 'lightpulse_connections', help: 'Open connections.', type: 'gauge', samples: [{ value: conns.length }] },
      { name: 'lightpulse_connections_by_direction', help: 'Open connections by direction.', type: 'gauge', samples: [{ labels: { direction: 'inbound' }, value: dir.inbound }, { labels: { direction: 'outbound' }, value: dir.outbound }] },
      { name: 'lightpulse_connections_by_transport', help: 'Open connections by transport.', type: 'gauge', samples: Object.entries(byTransport).map(([k, v]) => ({ labels: { transport: k }, value: v })) },
      { name: 'lightpulse_peers', help: 'Connected peers (distinct).', type: 'gauge', samples: [{ value: new Set(conns.map((c) => c.remotePeer.toString())).size }] },
      { name: 'lightpulse_streams', help: 'Open streams over all connections.', type: 'gauge', samples: [{ value: conns.reduce((n, c) => n + c.streams.length, 0) }] }
    ]
    if (this.trimmer !== undefined && t !== undefined) {
      f.push(
        { name: 'lightpulse_connections_low_watermark', help: 'Connection manager low watermark (trim target).', type: 'gauge', samples: [{ value: this.trimmer.low }] },
        { name: 'lightpulse_connections_high_watermark', help: 'Connection manager high watermark (hard cap).', type: 'gauge', samples: [{ value: this.trimmer.high }] },
        { name: 'lightpulse_connections_peak', help: 'Highest number of open connections seen.', type: 'gauge', samples: [{ value: t.peak }] },
        { name: 'lightpulse_connections_high_watermark_breaches_total', help: 'Times the open connections were above the high watermark.', type: 'counter', samples: [{ value: t.breaches }] },
        { name: 'lightpulse_connection_trims_total', help: 'Trim passes run.', type: 'counter', samples: [{ value: t.trims }] },
        { name: 'lightpulse_connections_trimmed_total', help: 'Connections closed by trimming.', type: 'counter', samples: [{ value: t.trimmed }] },
        { name: 'lightpulse_connections_denied_total', help: 'Connections refused at the high watermark by our gater (libp2p also refuses un-upgraded inbound sockets at maxConnections = high, uncounted).', type: 'counter', samples: [{ labels: { direction: 'inbound' }, value: t.deniedInbound }, { labels: { direction: 'outbound' }, value: t.deniedOutbound }] }
      )
    }
    const a = this.admission
    if (a !== undefined) {
      f.push(
        { name: 'lightpulse_inbound_handshakes', help: 'Inbound sockets admitted and still in their noise/yamux handshake.', type: 'gauge', samples: [{ value: a.inHandshake }] },
        { name: 'lightpulse_inbound_admitted_total', help: 'Inbound sockets admitted to the handshake.', type: 'counter', samples: [{ value: a.admitted }] },
        { name: 'lightpulse_inbound_refused_total', help: 'Inbound sockets refused before the handshake: their IP or /24 over its budget of sockets in the handshake, the slots reserved for known hosts, or the IP or /24 in its cool-down after a refusal (src/node/admission.ts).', type: 'counter', samples: Object.entries(a.refused).map(([reason, value]) => ({ labels: { reason }, value })) },
        { name: 'lightpulse_inbound_evicted_total', help: 'Strangers\' sockets aborted in their handshake to make room for a newcomer while the pending slots were full.', type: 'counter', samples: [{ value: a.evicted }] }
      )
    }
    const w = this.webTransport
    if (w !== undefined) {
      f.push(
        { name: 'lightpulse_webtransport_sessions_total', help: 'WebTransport sessions the sidecar relayed to this node.', type: 'counter', samples: [{ value: w.sessions }] },
        { name: 'lightpulse_webtransport_refused_total', help: 'WebTransport sessions ended before a connection: refused by the gater before Noise, or failed/timed out in Noise or the upgrade.', type: 'counter', samples: [{ labels: { reason: 'gater' }, value: w.gaterRefused }, { labels: { reason: 'handshake' }, value: w.handshakeFailures }] },
        { name: 'lightpulse_webtransport_rotations_total', help: 'WebTransport certificate rotations.', type: 'counter', samples: [{ value: w.rotations }] },
        { name: 'lightpulse_webtransport_sidecar_restarts_total', help: 'Times the Deno sidecar was started again after it exited.', type: 'counter', samples: [{ value: w.sidecarRestarts }] }
      )
    }
    f.push(
      { name: 'lightpulse_gossip_graft_total', help: 'GRAFT events (inbound = received, outbound = sent by our heartbeat).', type: 'counter', samples: [{ labels: { direction: 'inbound' }, value: g.graftIn }, { labels: { direction: 'outbound' }, value: g.graftOut }] },
      { name: 'lightpulse_gossip_prune_total', help: 'PRUNE control entries sent / received.', type: 'counter', samples: [{ labels: { direction: 'sent' }, value: g.prunesSent }, { labels: { direction: 'received' }, value: g.prunesReceived }] },
      { name: 'lightpulse_gossip_px_prunes_total', help: 'PRUNEs carrying a non-empty peer exchange list, sent / received.', type: 'counter', samples: [{ labels: { direction: 'sent' }, value: g.pxPrunesSent }, { labels: { direction: 'received' }, value: g.pxPrunesReceived }] },
      { name: 'lightpulse_gossip_px_peers_total', help: 'Peers handed out / learned through peer exchange.', type: 'counter', samples: [{ labels: { direction: 'sent' }, value: g.pxPeersSent }, { labels: { direction: 'received' }, value: g.pxPeersReceived }] },
      ...(this.pxHistory !== undefined
        ? [
            { name: 'lightpulse_px_history_entries', help: 'Peers in the PX history cache, per topic.', type: 'gauge' as const, samples: Object.entries(p.topics).map(([name, topic]) => ({ labels: { topic: name }, value: this.pxHistory!.size(topic) })) },
            { name: 'lightpulse_px_history_served_total', help: 'PX entries handed out from the history cache.', type: 'counter' as const, samples: [{ value: this.pxHistory.served }] },
            { name: 'lightpulse_px_history_forgotten_total', help: 'PX history entries dropped: their peer left on its own, or the entry aged out (src/peer/px-history.ts).', type: 'counter' as const, samples: [{ value: this.pxHistory.forgotten }] }
          ]
        : []),
      ...(this.pxOnArrival !== undefined
        ? [{
            name: 'lightpulse_px_on_arrival_total',
            help: 'PX on arrival: subscriptions queued, PRUNEs with PX sent to them, and given up (no gossipsub stream to the peer in time).',
            type: 'counter' as const,
            samples: [{ labels: { outcome: 'queued' }, value: this.pxOnArrival.queued }, { labels: { outcome: 'sent' }, value: this.pxOnArrival.sent }, { labels: { outcome: 'no_stream' }, value: this.pxOnArrival.noStream }]
          }]
        : []),
      { name: 'lightpulse_gossip_px_exact', help: '1 if PX is counted from the PRUNE messages themselves, 0 if from events only.', type: 'gauge', samples: [{ value: g.pxExact ? 1 : 0 }] },
      { name: 'lightpulse_mesh_peers', help: 'gossipsub mesh size per topic.', type: 'gauge', samples: Object.entries(p.topics).map(([name, topic]) => ({ labels: { topic: name }, value: p.pubsub.getMeshPeers(topic).length })) },
      { name: 'lightpulse_topic_peers', help: 'Peers subscribed to each topic.', type: 'gauge', samples: Object.entries(p.topics).map(([name, topic]) => ({ labels: { topic: name }, value: p.pubsub.getSubscribers(topic).length })) }
    )
    const topicName = (t: string): string => Object.entries(p.topics).find(([, v]) => v === t)?.[0] ?? t
    f.push(
      { name: 'lightpulse_messages_accepted_total', help: 'Gossip messages accepted, by topic.', type: 'counter', samples: Object.entries(p.stats.accepted).map(([k, v]) => ({ labels: { topic: topicName(k) }, value: v })) },
      { name: 'lightpulse_messages_rejected_total', help: 'Messages rejected (sender penalised), by error code.', type: 'counter', samples: Object.entries(p.stats.rejected).map(([k, v]) => ({ labels: { code: k }, value: v })) },
      { name: 'lightpulse_messages_ignored_total', help: 'Messages ignored (dropped without penalty), by error code.', type: 'counter', samples: Object.entries(p.stats.ignored).map(([k, v]) => ({ labels: { code: k }, value: v })) },
      { name: 'lightpulse_messages_published_total', help: 'Messages this node published, by topic.', type: 'counter', samples: Object.entries(p.stats.published).map(([k, v]) => ({ labels: { topic: topicName(k) }, value: v })) },
      { name: 'lightpulse_blocks_total', help: 'Blocks accepted since start.', type: 'counter', samples: [{ value: this.blocks }] },
      { name: 'lightpulse_blocks_by_round_total', help: 'Blocks accepted since start by the round that made them (0 = first try).', type: 'counter', samples: Object.entries(p.stats.blocksByRound).map(([k, v]) => ({ labels: { round: k }, value: v })) },
      { name: 'lightpulse_rounds_total', help: 'Rounds this node took part in, by outcome.', type: 'counter', samples: ['block', 'failed'].map((k) => ({ labels: { outcome: k }, value: this.rounds[k] ?? 0 })) },
      { name: 'lightpulse_chain_height', help: 'Height of the chain tip.', type: 'gauge', samples: [{ value: p.chain.height }] },
      { name: 'lightpulse_blocklisted_peers', help: 'Peers blocked after repeated invalid messages.', type: 'gauge', samples: [{ value: p.blocklist.size }] },
      { name: 'lightpulse_gossip_ignored_over_budget_total', help: 'Ignore-class gossip messages beyond a peer\'s budget (each a penalty point off its gossipsub score).', type: 'counter', samples: [{ value: p.ignorePenalty.over }] },
      { name: 'lightpulse_round_messages_direct_total', help: 'Own round messages written straight to a round\'s producer or members (PROTOCOL.md §3.10), sends that also needed gossip (a recipient not bound), and frames received that way.', type: 'counter', samples: [{ labels: { kind: 'written' }, value: p.relay.stats.direct }, { labels: { kind: 'gossip_fallback' }, value: p.relay.stats.fallback }, { labels: { kind: 'received' }, value: p.relay.stats.received }] },
      { name: 'lightpulse_quorum_bound_peers', help: 'Validators bound by a verified hello on the direct round-message protocol.', type: 'gauge', samples: [{ value: p.relay.boundPeers() }] },
      { name: 'lightpulse_quorum_bad_hellos_total', help: 'Direct-protocol hellos refused (wrong length or signature; each a reject toward the peer).', type: 'counter', samples: [{ value: p.relay.stats.badHello }] },
      { name: 'lightpulse_sync_served_blocks_total', help: 'Blocks served to peers by the sync server.', type: 'counter', samples: [{ value: p.sync.served }] },
      { name: 'lightpulse_sync_limited_total', help: 'Sync requests refused by the per-peer budgets (rate, streams; each counts as a reject toward the peer), and responses shortened by the byte budget.', type: 'counter', samples: [{ labels: { reason: 'rate' }, value: p.sync.budget.refused.rate }, { labels: { reason: 'streams' }, value: p.sync.budget.refused.streams }, { labels: { reason: 'bytes_shortened' }, value: p.sync.budget.shortened }] },
      { name: 'lightpulse_sync_request_rejects_total', help: 'Sync requests the server rejected, by code (malformed, over budget, TIMEOUT = a peer that did not read its response in time, reset).', type: 'counter', samples: Object.entries(p.sync.serverRejects).map(([k, v]) => ({ labels: { code: k }, value: v })) }
    )
    if (this.bytes !== undefined) {
      const b = this.bytes
      f.push(
        { name: 'lightpulse_transport_bytes_total', help: 'Bytes on every libp2p connection (encrypted and multiplexed, without TCP/IP, WebSocket or QUIC framing), by direction.', type: 'counter', samples: [{ labels: { direction: 'in' }, value: b.total.in }, { labels: { direction: 'out' }, value: b.total.out }] },
        { name: 'lightpulse_protocol_bytes_total', help: 'Stream payload bytes by libp2p protocol and direction.', type: 'counter', samples: [...b.byProtocol].flatMap(([protocol, v]) => [{ labels: { protocol, direction: 'in' }, value: v.in }, { labels: { protocol, direction: 'out' }, value: v.out }]) }
      )
    }
    const mem = process.memoryUsage()
    const cpu = process.cpuUsage()
    f.push(
      { name: 'process_resident_memory_bytes', help: 'Resident memory size in bytes.', type: 'gauge', samples: [{ value: mem.rss }] },
      { name: 'nodejs_heap_used_bytes', help: 'V8 heap used in bytes.', type: 'gauge', samples: [{ value: mem.heapUsed }] },
      { name: 'nodejs_heap_total_bytes', help: 'V8 heap committed (used and free) in bytes.', type: 'gauge', samples: [{ value: mem.heapTotal }] },
      { name: 'nodejs_external_bytes', help: 'Memory outside the V8 heap held by JavaScript objects (buffers included), in bytes.', type: 'gauge', samples: [{ value: mem.external }] },
      { name: 'nodejs_heap_space_size_total_bytes', help: 'V8 heap committed by space (new_space is the young generation, which V8 grows under a high allocation rate), in bytes.', type: 'gauge', samples: getHeapSpaceStatistics().map((x) => ({ labels: { space: x.space_name }, value: x.space_size })) },
      { name: 'process_cpu_seconds_total', help: 'User and system CPU time in seconds.', type: 'counter', samples: [{ value: (cpu.user + cpu.system) / 1e6 }] }
    )
    return f
  }

  render (): string { return renderExposition(this.families()) }

  /** Serves GET /metrics on host:port (port 0 = any free port). Resolves to the bound port. */
  async listen (port: number, host = '127.0.0.1'): Promise<number> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]
      if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405, { allow: 'GET, HEAD' }).end(); return }
      if (path !== '/metrics') { res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n'); return }
      let body: string
      try { body = this.render() } catch (err) { res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err)); return }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' })
      res.end(req.method === 'HEAD' ? undefined : body)
    })
    server.keepAliveTimeout = 1_000
    this.server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => { server.off('error', reject); resolve() })
    })
    return (server.address() as AddressInfo).port
  }

  async close (): Promise<void> {
    for (const o of this.offs) o()
    this.gossip.dispose()
    const s = this.server
    if (s === undefined) return
    this.server = undefined
    s.closeAllConnections()
    await new Promise<void>((resolve) => { s.close(() => { resolve() }) })
  }
}
