/**
 * libp2p for Node.js nodes. Bootstraps listen on TCP, WebSockets and WebRTC-direct (certhash kept stable by a
 * persistent datastore + keychain), run a circuit relay server and gossipsub with D = 0 and peer exchange.
 * Validators listen on TCP and WebSockets. Bootstraps also listen on WebTransport where Deno is installed
 * (src/node/webtransport/).
 */
import { createLibp2p } from 'libp2p'
import type { Libp2p } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { webRTCDirect } from '@libp2p/webrtc'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { keychain } from '@libp2p/keychain'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { gossipsub } from '@libp2p/gossipsub'
import type { GossipSub } from '@libp2p/gossipsub'
import type { ConnectionGater, PrivateKey } from '@libp2p/interface'
import { FsDatastore } from 'datastore-fs'
import { gossipOptions } from '../peer/gossip-config.ts'
import { webTransportListen } from './webtransport/transport.ts'
import type { WebTransportListenInit } from './webtransport/transport.ts'
import type { MeshParams } from '../peer/gossip-config.ts'
import type { Topics } from '../peer/topics.ts'
import type { ByteCounter } from '../peer/byte-counter.ts'

/** How long a bootstrap's relay reservation lasts unless its holder refreshes it. */
export const RELAY_RESERVATION_TTL_MS = 15 * 60_000

export interface NodeLibp2pOptions {
  role: 'bootstrap' | 'validator' | 'light'
  privateKey: PrivateKey
  topics: Topics
  listen: string[]
  /** Directory for the libp2p datastore (keeps the WebRTC-direct certificate stable). */
  datastoreDir?: string
  bootstrapIds: Set<string>
  blocklist: Set<string>
  /** Penalty points per peer for Ignore-class floods (the Peer's IgnorePenalty), off the gossip score. */
  penalty?: (peerId: string) => number
  /** Connection high watermark: libp2p prunes above it. */
  maxConnections?: number
  mesh?: Partial<MeshParams>
  local?: boolean
  /** The WebTransport listener's options, when `listen` has a /quic-v1/webtransport address. */
  webTransport?: WebTransportListenInit
  /** Extra gater hooks (e.g. ConnectionTrimmer.gater): a connection is denied if any hook denies it. */
  gater?: Partial<ConnectionGater>
  /** Count the bytes of every connection and protocol (libp2p's metrics hooks; nothing else is collected). */
  bytes?: ByteCounter
}

export async function createNodeLibp2p (o: NodeLibp2pOptions): Promise<Libp2p<{ pubsub: GossipSub }>> {
  const datastore = o.datastoreDir !== undefined ? new FsDatastore(o.datastoreDir) : undefined
  if (datastore !== undefined) await datastore.open()
  const bootstrap = o.role === 'bootstrap'
  const node = await createLibp2p({
    privateKey: o.privateKey,
    ...(datastore !== undefined ? { datastore } : {}),
    ...(o.bytes !== undefined ? { metrics: o.bytes.metrics() } : {}),
    addresses: { listen: o.listen },
    transports: [tcp(), webSockets(), webRTCDirect(), circuitRelayTransport(), ...(o.listen.some(isWebTransportAddr) ? [webTransportListen(o.webTransport)] : [])],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: {
      maxConnections: o.maxConnections ?? (bootstrap ? 192 : 64),
      inboundConnectionThreshold: o.local === true ? 1_000 : 5,
      maxIncomingPendingConnections: maxPendingFor(o.role),
      dialTimeout: 5_000
    },
    connectionGater: mergeGaters({
      denyDialPeer: (peer) => o.blocklist.has(peer.toString()),
      denyInboundEncryptedConnection: (peer) => o.blocklist.has(peer.toString()),
      ...(o.local === true ? { denyDialMultiaddr: () => false } : {})
    }, o.gater ?? {}),
    services: {
      identify: identify(),
      ping: ping(),
      keychain: keychain(),
      // A reservation holds its slot until its TTL even after the client leaves; 15 min (libp2p: 2 h) frees the
      // slots of closed tabs sooner. Clients refresh 5 min before expiry.
      ...(bootstrap ? { relay: circuitRelayServer({ reservations: { maxReservations: 128, reservationTtl: RELAY_RESERVATION_TTL_MS } }) } : {}),
      pubsub: gossipsub(gossipOptions({ role: o.role, topics: o.topics, isBootstrap: (p) => o.bootstrapIds.has(p), penalty: o.penalty, mesh: o.mesh, local: o.local }))
    },
    start: false
  })
  return node as unknown as Libp2p<{ pubsub: GossipSub }>
}

export function isWebTransportAddr (a: string): boolean { return a.includes('/quic-v1/webtransport') }

/** Sockets that libp2p holds in their handshake at once (maxIncomingPendingConnections). */
export function maxPendingFor (role: NodeLibp2pOptions['role']): number { return role === 'bootstrap' ? 64 : 16 }

/** Combines two gaters: an operation is denied if either denies it (a hook only in `a` keeps `a`'s answer). */
export function mergeGaters (a: Partial<ConnectionGater>, b: Partial<ConnectionGater>): Partial<ConnectionGater> {
  const out: Record<string, unknown> = { ...a }
  for (const [k, fb] of Object.entries(b) as Array<[string, (...args: unknown[]) => boolean | Promise<boolean>]>) {
    const fa = (a as Record<string, ((...args: unknown[]) => boolean | Promise<boolean>) | undefined>)[k]
    out[k] = fa === undefined ? fb : async (...args: unknown[]) => (await fa(...args)) || (await fb(...args))
  }
  return out as Partial<ConnectionGater>
}
