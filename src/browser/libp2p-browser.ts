/**
 * libp2p inside the browser worker. RTCPeerConnection does not exist in workers, so the worker dials
 * WebSockets and WebTransport itself and reaches other browsers through circuit relays (the page-side
 * WebRTC bridge adds WebRTC where the page provides it).
 */
import { createLibp2p } from 'libp2p'
import type { Libp2p, PrivateKey, Transport } from '@libp2p/interface'
import { webSockets } from '@libp2p/websockets'
import { webTransport } from '@libp2p/webtransport'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { gossipsub } from '@libp2p/gossipsub'
import type { GossipSub } from '@libp2p/gossipsub'
import { gossipOptions } from '../peer/gossip-config.ts'
import type { Topics } from '../peer/topics.ts'
import type { TransportName } from '../client/types.ts'

export interface BrowserLibp2pOptions {
  privateKey: PrivateKey
  topics: Topics
  role: 'validator' | 'light'
  bootstrapIds: Set<string>
  blocklist: Set<string>
  /** Penalty points per peer for Ignore-class floods (the Peer's IgnorePenalty), off the gossip score. */
  penalty?: (peerId: string) => number
  transports: TransportName[]
  /** Local devnet: allow ws:// and loopback addresses (browser defaults refuse them). */
  local: boolean
  /** Extra transports (e.g. the page-bridged WebRTC transports). */
  extraTransports?: Array<(components: any) => Transport>
  /** Extra listen addresses (e.g. '/webrtc' with the WebRTC transport). */
  extraListen?: string[]
}

/** Transports this runtime can use by itself. */
export function availableTransports (): TransportName[] {
  const out: TransportName[] = ['websockets']
  if (typeof (globalThis as { WebTransport?: unknown }).WebTransport !== 'undefined') out.push('webtransport')
  return out
}

export async function createBrowserLibp2p (o: BrowserLibp2pOptions): Promise<Libp2p<{ pubsub: GossipSub }>> {
  const transports: Array<(components: any) => Transport> = []
  if (o.transports.includes('websockets')) transports.push(webSockets())
  if (o.transports.includes('webtransport')) transports.push(webTransport())
  // A reservation that times out is not retried on that relay: give slow (loaded, mobile) links time.
  transports.push(circuitRelayTransport({ reservationCompletionTimeout: 20_000 }))
  transports.push(...(o.extraTransports ?? []))
  const node = await createLibp2p({
    privateKey: o.privateKey,
    addresses: { listen: ['/p2p-circuit', ...(o.extraListen ?? [])] },
    transports,
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { maxConnections: 32, dialTimeout: 5_000 },
    connectionGater: {
      denyDialPeer: (peer) => o.blocklist.has(peer.toString()),
      denyInboundEncryptedConnection: (peer) => o.blocklist.has(peer.toString()),
      ...(o.local ? { denyDialMultiaddr: () => false } : {})
    },
    services: {
      identify: identify(),
      pubsub: gossipsub(gossipOptions({ role: o.role, topics: o.topics, isBootstrap: (p) => o.bootstrapIds.has(p), penalty: o.penalty, local: o.local, mesh: o.local ? { D: 4, Dlo: 3, Dhi: 6, heartbeatMs: 1_000 } : undefined }))
    },
    start: false
  })
  return node as unknown as Libp2p<{ pubsub: GossipSub }>
}
