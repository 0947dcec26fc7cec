/**
 * WebRTC transports for the worker's libp2p node, over the page's WebRTC bridge (rtc-proxy.ts):
 * webRTCDirect() to dial Node bootstraps (/udp/…/webrtc-direct/certhash/…) and webRTC() for browser-to-
 * browser connections signalled through a circuit relay (the node then also listens on '/webrtc', so its
 * relay addresses get a …/p2p-circuit/webrtc/p2p/<id> twin that other browsers dial).
 *
 * Import this module (it imports rtc-proxy.ts first, which installs globalThis.RTCPeerConnection) before
 * anything else imports @libp2p/webrtc.
 */
import { attachRtcPort, listenForRtcPort, rtcBridgeAttached, setRtcDiagHandler } from './rtc-proxy.ts'
import { webRTC, webRTCDirect } from '@libp2p/webrtc'
import { multiaddr } from '@multiformats/multiaddr'
import type { TransportName } from '../client/types.ts'

export { attachRtcPort, listenForRtcPort, rtcBridgeAttached }

export interface RtcTransports {
  names: TransportName[]
  factories: Array<(components: any) => any>
  /** Listen addresses to add ('/webrtc'). */
  listen: string[]
}

/**
 * What createWorkerApi's `extraTransports` returns: nothing without a bridge, else both WebRTC transports.
 * `local`: a devnet on a private network, where no STUN server is reachable (iceServers: []); elsewhere
 * @libp2p/webrtc's default STUN servers are kept.
 */
export function rtcTransports (cfg?: { local?: boolean, transports?: TransportName[] }): RtcTransports {
  if (!rtcBridgeAttached()) return { names: [], factories: [], listen: [] }
  const rtcConfiguration = cfg?.local === true ? { iceServers: [] } : undefined
  const want = (n: TransportName): boolean => cfg?.transports === undefined || cfg.transports.includes(n)
  let components: any
  const capture = (f: (c: any) => any) => (c: any) => {
    if (components === undefined) {
      components = c
      c.events?.addEventListener('connection:open', (e: CustomEvent) => { preferDirect(c, e.detail) })
      // Again once identify ran on it: at 'connection:open' the other side's simultaneous dial may not have
      // been open here yet, so the two sides could keep different connections (each one closed at the far end).
      c.events?.addEventListener('peer:identify', (e: CustomEvent) => { if (e.detail?.connection?.status === 'open') preferDirect(c, e.detail.connection) })
    }
    return f(c)
  }
  setRtcDiagHandler(async (op, arg) => {
    if (components === undefined) throw new Error('the node has not started')
    switch (op) {
      case 'addrs': return components.addressManager.getAddresses().map((a: { toString: () => string }) => a.toString())
      case 'dial': {
        const conn = await components.connectionManager.openConnection(multiaddr(arg ?? ''), { signal: AbortSignal.timeout(15_000) })
        return { peer: conn.remotePeer.toString(), remoteAddr: conn.remoteAddr.toString() }
      }
      case 'connections': return components.connectionManager.getConnections().map((c: any) => ({ peer: c.remotePeer.toString(), remoteAddr: c.remoteAddr.toString(), direction: c.direction, multiplexer: c.multiplexer, limited: c.limits !== undefined, status: c.status, streams: c.streams.map((x: any) => `${x.direction === 'inbound' ? '<' : '>'}${x.protocol ?? '?'}`) }))
      default: throw new Error(`unknown diagnostic '${op}'`)
    }
  })
  const names: TransportName[] = []
  const factories: Array<(components: any) => any> = []
  const listen: string[] = []
  if (want('webrtc-direct')) {
    names.push('webrtc-direct')
    factories.push(capture(webRTCDirect(rtcConfiguration !== undefined ? { rtcConfiguration } : {})))
  }
  if (want('webrtc')) {
    names.push('webrtc')
    factories.push(capture(webRTC(rtcConfiguration !== undefined ? { rtcConfiguration: { ...rtcConfiguration } } : {})))
    listen.push('/webrtc')
  }
  return { names, factories, listen }
}

const names = (conn: any): string[] => conn.remoteAddr.getComponents().map((x: { name: string }) => x.name)

/**
 * When a direct (browser-to-browser) WebRTC connection opens, drop the other connections to that peer that
 * it supersedes: the limited relayed one used for signalling, and a duplicate WebRTC connection from a
 * simultaneous dial in the other direction (both sides keep the one dialed by the lower peer id).
 *
 * Why: gossipsub keeps ONE outbound stream per peer, on whichever connection identified first (the relayed
 * one, since gossip runs on limited connections here), and it never moves it: when that connection dies
 * (relay gone, duplicate closed) the peer stays connected but gossip to it stops. Aborting the superseded
 * connections in 'connection:open' of the new one, i.e. before identify on the new connection completes,
 * makes the registrar's onConnect for the new connection open gossipsub's stream there. The rule runs again
 * at identify, and where a stream still sat on a connection that closed, the Peer's outbound stream keeper
 * (src/peer/gossip-streams.ts) opens it again on the connection that remains.
 */
function preferDirect (components: any, conn: any): void {
  try {
    const n = names(conn)
    if (!n.includes('webrtc') || n.includes('webrtc-direct') || conn.limits != null) return
    const me = components.peerId.toString()
    const them = conn.remotePeer.toString()
    const dialer = (c: any): string => c.direction === 'outbound' ? me : them
    for (const other of components.connectionManager.getConnections(conn.remotePeer)) {
      if (other === conn || other.id === conn.id || other.status !== 'open') continue
      if (other.limits != null) { other.abort(new Error('superseded by a direct WebRTC connection')); continue }
      const on = names(other)
      if (!on.includes('webrtc') || on.includes('webrtc-direct')) continue
      const keepNew = dialer(conn) === dialer(other) || dialer(conn) < dialer(other)
      ;(keepNew ? other : conn).abort(new Error('duplicate WebRTC connection'))
      if (!keepNew) return
    }
  } catch { /* best effort */ }
}
