/**
 * A libp2p transport that LISTENS on WebTransport (`/ip4/…/udp/…/quic-v1/webtransport`) for Node nodes.
 * Node has no QUIC server, so QUIC and HTTP/3 end in a Deno sidecar (./sidecar.ts, started by ./sidecar-process.ts)
 * and every session and stream is relayed to this process over loopback (./bridge.ts). Everything libp2p
 * does happens here, on the relayed streams, per libp2p's WebTransport spec:
 *   - the browser's first bidirectional stream carries a Noise XX handshake (responder side) whose payload
 *     extensions carry the certhashes the listener advertises (the browser checks its own are among them);
 *   - then the upgrader takes the session with encryption and multiplexing skipped (WebTransport streams are
 *     the muxer), so the connection gater, connection manager, watermark, identify, gossipsub and metrics see
 *     it like any other connection.
 * The gater's denyInboundConnection runs before the Noise handshake (it is the hook for "accepted, not yet
 * encrypted"): the admission budgets of src/node/admission.ts refuse a flooding host's sessions before they
 * cost a handshake. This transport does not dial (browsers dial with @libp2p/webtransport).
 */
import { TypedEventEmitter, serviceCapabilities, transportSymbol } from '@libp2p/interface'
import type { ComponentLogger, Connection, ConnectionGater, CreateListenerOptions, Listener, ListenerEvents, Logger, PrivateKey, Transport, Upgrader } from '@libp2p/interface'
import { noise } from '@libp2p/noise'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { BridgeServer } from './bridge.ts'
import type { BridgedSession } from './bridge.ts'
import { CertificateStore, certhashBytes } from './certs.ts'
import type { CertOptions } from './certs.ts'
import { SidecarProcess } from './sidecar-process.ts'

/** How long a session may take from its start to the end of its Noise handshake and upgrade. */
export const WT_HANDSHAKE_TIMEOUT_MS = 10_000

export interface WebTransportListenInit extends CertOptions {
  /** Deno executable (default: the `deno` npm package, then `deno` on PATH). */
  deno?: string
  /** Where the certificates persist (a restart keeps the certhashes). */
  certDir?: string
  /** Clock for certificate rotation (tests). */
  now?: () => number
  /** Called with the transport once libp2p made it (the node keeps it for its status and tests). */
  onTransport?: (t: WebTransportListenTransport) => void
}

/** After the sidecar dies, it is started again after 1 s, doubling up to this. */
const SIDECAR_RESTART_MAX_MS = 30_000

interface Components {
  logger: ComponentLogger
  privateKey: PrivateKey
  connectionGater: ConnectionGater
  upgrader?: Upgrader
}

export interface WebTransportStats { sessions: number, handshakeFailures: number, gaterRefused: number, rotations: number, sidecarRestarts: number }

class WebTransportListener extends TypedEventEmitter<ListenerEvents> implements Listener {
  private readonly c: Components
  private readonly init: WebTransportListenInit
  private readonly upgrader: Upgrader
  private readonly log: Logger
  private readonly certs: CertificateStore
  private bridge: BridgeServer | undefined
  private sidecar: SidecarProcess | undefined
  private listenAddr: Multiaddr | undefined
  private rotateTimer: ReturnType<typeof setTimeout> | undefined
  private restartTimer: ReturnType<typeof setTimeout> | undefined
  private restartFailures = 0
  private closed = false
  private bound: { hostname: string, port: number } | undefined
  readonly stats: WebTransportStats

  constructor (c: Components, init: WebTransportListenInit, o: CreateListenerOptions, stats: WebTransportStats) {
    super()
    this.c = c
    this.init = init
    this.upgrader = o.upgrader
    this.log = c.logger.forComponent('lightpulse:webtransport:listener')
    this.certs = new CertificateStore(init.certDir, init)
    this.stats = stats
  }

  private now (): number { return (this.init.now ?? Date.now)() }

  async listen (ma: Multiaddr): Promise<void> {
    const parts = ma.getComponents()
    const host = parts.find((p) => p.name === 'ip4' || p.name === 'ip6')?.value ?? '127.0.0.1'
    const port = Number(parts.find((p) => p.name === 'udp')?.value ?? 0)
    await this.certs.roll(this.now())
    const bridge = new BridgeServer(this.c.logger, (s) => { void this.onSession(s) })
    await bridge.start()
    this.bridge = bridge
    const bound = await this.startSidecar(host, port)
    this.bound = bound
    this.listenAddr = multiaddr(`/${host.includes(':') ? 'ip6' : 'ip4'}/${host}/udp/${bound.port}/quic-v1/webtransport`)
    this.scheduleRotation()
    this.safeDispatchEvent('listening')
  }

  /** The sidecar's process id (tests). */
  get sidecarPid (): number | undefined { return this.sidecar?.pid }

  private async startSidecar (hostname: string, port: number): Promise<{ hostname: string, port: number }> {
    const bridge = this.bridge!
    const sidecar = new SidecarProcess(this.init.deno)
    const bound = await sidecar.start({ hostname, port, cert: this.certs.current.certPem, key: this.certs.current.keyPem, bridgePort: bridge.port, token: bridge.token })
    this.sidecar = sidecar
    // A sidecar that dies (killed, crashed) is started again on the same port: the advertised address stays.
    sidecar.onExit = (why) => {
      if (this.closed) return
      this.log.error('WebTransport sidecar exited (%s); starting it again', why)
      this.sidecar = undefined
      this.scheduleRestart()
    }
    return bound
  }

  private scheduleRestart (): void {
    const wait = Math.min(SIDECAR_RESTART_MAX_MS, 1_000 * 2 ** this.restartFailures)
    this.restartTimer = setTimeout(() => {
      if (this.closed || this.bound === undefined) return
      this.startSidecar(this.bound.hostname, this.bound.port).then(() => {
        this.restartFailures = 0
        this.stats.sidecarRestarts++
      }, (err: unknown) => {
        this.restartFailures++
        this.log.error('WebTransport sidecar did not start again: %s', (err as Error).message)
        this.scheduleRestart()
      })
    }, wait)
    this.restartTimer.unref?.()
  }

  private scheduleRotation (): void {
    clearTimeout(this.rotateTimer)
    const wait = Math.max(0, this.certs.rotatesAt - this.now())
    // setTimeout holds at most 2^31-1 ms (24.8 days); a certificate's half-life is shorter than that.
    this.rotateTimer = setTimeout(() => { void this.rotate() }, Math.min(wait, 2 ** 31 - 1))
    this.rotateTimer.unref?.()
  }

  /** Serves the next certificate to new sessions and advertises it with the one after. */
  async rotate (): Promise<void> {
    if (this.sidecar === undefined) return
    if (await this.certs.roll(this.now())) {
      await this.sidecar.serveCertificate(this.certs.current.certPem, this.certs.current.keyPem)
      this.stats.rotations++
      this.log('rotated to certhash %s', this.certs.current.certhash)
      this.safeDispatchEvent('listening') // the transport manager re-reads getAddrs()
    }
    this.scheduleRotation()
  }

  /** What the Noise handshake lists: the current, the next and (while valid) the previous certificate. */
  private certhashes (): Uint8Array[] {
    const prev = this.certs.previousAt(this.now())
    return [this.certs.current, this.certs.next, ...(prev !== undefined ? [prev] : [])].map((c) => certhashBytes(c.certhash))
  }

  private async onSession (session: BridgedSession): Promise<void> {
    this.stats.sessions++
    const signal = AbortSignal.timeout(WT_HANDSHAKE_TIMEOUT_MS)
    try {
      if (await this.c.connectionGater.denyInboundConnection?.(session) === true) {
        this.stats.gaterRefused++
        session.end('refused')
        return
      }
      const first = await session.firstStream(signal)
      const n = noise({ extensions: { webtransportCerthashes: this.certhashes() } })(this.c as never)
      const { remotePeer } = await n.secureInbound(first, { signal, skipStreamMuxerNegotiation: true })
      await first.close({ signal }).catch(() => {})
      const conn: Connection = await this.upgrader.upgradeInbound(session, {
        skipEncryption: true,
        skipProtection: true,
        remotePeer,
        muxerFactory: session.muxerFactory(),
        signal
      }) as unknown as Connection
      void conn
    } catch (err) {
      this.stats.handshakeFailures++
      this.log('session %d refused: %s', session.sessionId, (err as Error).message)
      session.end('handshake failed')
    }
  }

  getAddrs (): Multiaddr[] {
    if (this.listenAddr === undefined) return []
    return [this.listenAddr.encapsulate(`/certhash/${this.certs.current.certhash}/certhash/${this.certs.next.certhash}`)]
  }

  updateAnnounceAddrs (): void {}

  async close (): Promise<void> {
    this.closed = true
    clearTimeout(this.rotateTimer)
    clearTimeout(this.restartTimer)
    await this.bridge?.stop()
    await this.sidecar?.stop()
    this.bridge = undefined
    this.sidecar = undefined
    this.safeDispatchEvent('close')
  }
}

class WebTransportListenTransport implements Transport {
  readonly [Symbol.toStringTag] = 'lightpulse/webtransport-listen'
  readonly [transportSymbol] = true as const
  readonly [serviceCapabilities] = ['@libp2p/transport']
  readonly stats: WebTransportStats = { sessions: 0, handshakeFailures: 0, gaterRefused: 0, rotations: 0, sidecarRestarts: 0 }
  private readonly c: Components
  private readonly init: WebTransportListenInit
  readonly listeners: WebTransportListener[] = []

  constructor (c: Components, init: WebTransportListenInit) {
    this.c = c
    this.init = init
  }

  async dial (): Promise<Connection> { throw new Error('this transport only listens; browsers dial WebTransport') }

  createListener (o: CreateListenerOptions): Listener {
    const l = new WebTransportListener(this.c, this.init, o, this.stats)
    this.listeners.push(l)
    return l
  }

  listenFilter (addrs: Multiaddr[]): Multiaddr[] {
    return addrs.filter((ma) => {
      const names = ma.getComponents().map((p) => p.name)
      return names.length === 4 && (names[0] === 'ip4' || names[0] === 'ip6') && names[1] === 'udp' && names[2] === 'quic-v1' && names[3] === 'webtransport'
    })
  }

  dialFilter (): Multiaddr[] { return [] }
}

export function webTransportListen (init: WebTransportListenInit = {}): (c: Components) => WebTransportListenTransport {
  return (c) => {
    const t = new WebTransportListenTransport(c, init)
    init.onTransport?.(t)
    return t
  }
}
export type { WebTransportListenTransport, WebTransportListener }
