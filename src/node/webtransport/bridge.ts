/**
 * The node's side of the WebTransport sidecar: a loopback TCP server that the sidecar connects to once per
 * WebTransport session (a control socket) and once per stream (a stream socket), framing in ./frames.ts.
 * A session becomes a libp2p MultiaddrConnection (BridgedSession); its streams become libp2p streams
 * (BridgedStream), one WebTransport stream each, as libp2p's WebTransport spec has it (no yamux).
 */
import { createServer } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { AbstractMultiaddrConnection, AbstractStream, AbstractStreamMuxer } from '@libp2p/utils'
import type { AbortOptions, ComponentLogger, CreateStreamOptions, Logger, MessageStreamDirection, StreamMuxerFactory } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Uint8ArrayList } from 'uint8arraylist'
import { BridgeReader, FRAME_DATA, FRAME_FIN, FRAME_RESET, FRAME_STOP, FramingError, dataFrames, encodeFrame, encodeLine } from './frames.ts'

/** Streams a session may have waiting for the muxer (after Noise, before the upgrade ends). */
const MAX_EARLY_STREAMS = 32
/** How long the node waits for the sidecar to open a stream it asked for. */
const OPEN_TIMEOUT_MS = 10_000

interface Header { t?: unknown, token?: unknown, session?: unknown, req?: unknown, remote?: { hostname?: unknown, port?: unknown } }

export class BridgedStream extends AbstractStream {
  private readonly sock: Socket
  private readonly frames = new BridgeReader()
  private ended = false

  constructor (sock: Socket, init: { id: string, direction: MessageStreamDirection, log: Logger }) {
    super({ ...init, protocol: '' })
    this.sock = sock
    sock.on('data', (chunk: Buffer) => { this.onBytes(chunk) })
    sock.on('close', () => { if (!this.ended) { this.ended = true; this.onRemoteReset() } })
    sock.on('error', () => {})
    this.addEventListener('close', () => { this.ended = true; sock.end() })
  }

  /** Bytes that arrived on the socket with its header line. */
  pushInitial (rest: Uint8Array): void { if (rest.byteLength > 0) this.onBytes(rest) }

  private onBytes (chunk: Uint8Array): void {
    try {
      this.frames.push(chunk)
      for (let f = this.frames.nextFrame(); f !== undefined; f = this.frames.nextFrame()) {
        if (f.type === FRAME_DATA) this.onData(f.payload)
        else if (f.type === FRAME_FIN) this.onRemoteCloseWrite()
        else if (f.type === FRAME_STOP) this.onRemoteCloseRead()
        else if (f.type === FRAME_RESET) { this.ended = true; this.onRemoteReset(); this.sock.destroy(); return }
      }
    } catch (err) {
      this.ended = true
      this.abort(err as Error)
      this.sock.destroy()
    }
  }

  sendData (data: Uint8ArrayList): { sentBytes: number, canSendMore: boolean } {
    let more = true
    for (const buf of data) for (const f of dataFrames(buf)) more = this.sock.write(f)
    if (!more) this.sock.once('drain', () => { this.safeDispatchEvent('drain') })
    return { sentBytes: data.byteLength, canSendMore: more }
  }

  sendReset (): void {
    this.ended = true
    this.sock.end(encodeFrame(FRAME_RESET))
  }

  async sendCloseWrite (_o?: AbortOptions): Promise<void> { this.sock.write(encodeFrame(FRAME_FIN)) }
  async sendCloseRead (_o?: AbortOptions): Promise<void> { this.sock.write(encodeFrame(FRAME_STOP)) }
  sendPause (): void { this.sock.pause() }
  sendResume (): void { this.sock.resume() }
}

/** One WebTransport session, as libp2p's MultiaddrConnection; its bytes flow only on its streams. */
export class BridgedSession extends AbstractMultiaddrConnection {
  readonly sessionId: number
  private readonly ctl: Socket
  private readonly logger: ComponentLogger
  private nextReq = 1
  private nextStreamId = 0
  private readonly opening = new Map<number, { resolve: (s: Socket, rest: Uint8Array) => void, reject: (e: Error) => void }>()
  /** Streams from the browser; the first one is the Noise handshake's. */
  private readonly inbound: BridgedStream[] = []
  private inboundWaiter: ((s: BridgedStream) => void) | undefined
  private muxer: BridgedMuxer | undefined

  constructor (ctl: Socket, sessionId: number, remote: string, logger: ComponentLogger) {
    super({ remoteAddr: multiaddr(remote), direction: 'inbound', log: logger.forComponent('lightpulse:webtransport:session') })
    this.ctl = ctl
    this.sessionId = sessionId
    this.logger = logger
    const lines = new BridgeReader()
    ctl.on('data', (chunk: Buffer) => {
      try {
        lines.push(chunk)
        for (let l = lines.nextLine() as { failed?: number } | undefined; l !== undefined; l = lines.nextLine() as typeof l) {
          if (typeof l.failed === 'number') this.opening.get(l.failed)?.reject(new Error('the session refused a new stream'))
        }
      } catch { ctl.destroy() }
    })
    ctl.on('close', () => {
      for (const o of this.opening.values()) o.reject(new Error('session closed'))
      this.opening.clear()
      this.onTransportClosed()
    })
    ctl.on('error', () => {})
  }

  private newStream (sock: Socket, direction: MessageStreamDirection, rest: Uint8Array): BridgedStream {
    const s = new BridgedStream(sock, { id: String(this.nextStreamId++), direction, log: this.logger.forComponent(`lightpulse:webtransport:${direction}`) })
    s.pushInitial(rest)
    return s
  }

  /** A stream socket from the sidecar: one the browser opened (req null) or one this node asked for. */
  onStreamSocket (sock: Socket, req: number | null, rest: Uint8Array): void {
    if (req !== null) {
      const o = this.opening.get(req)
      if (o === undefined) { sock.destroy(); return }
      this.opening.delete(req)
      o.resolve(sock, rest)
      return
    }
    const stream = this.newStream(sock, 'inbound', rest)
    if (this.muxer !== undefined) { this.muxer.onRemoteStream(stream); return }
    if (this.inboundWaiter !== undefined) { const w = this.inboundWaiter; this.inboundWaiter = undefined; w(stream); return }
    if (this.inbound.length >= MAX_EARLY_STREAMS) { stream.abort(new Error('too many early streams')); return }
    this.inbound.push(stream)
  }

  /** The first stream the browser opens (the Noise handshake's). */
  async firstStream (signal: AbortSignal): Promise<BridgedStream> {
    const early = this.inbound.shift()
    if (early !== undefined) return early
    return await new Promise((resolve, reject) => {
      this.inboundWaiter = resolve
      signal.addEventListener('abort', () => { reject(signal.reason) }, { once: true })
    })
  }

  async openStream (options?: AbortOptions): Promise<BridgedStream> {
    const req = this.nextReq++
    const sock = await new Promise<{ sock: Socket, rest: Uint8Array }>((resolve, reject) => {
      const timer = setTimeout(() => { this.opening.delete(req); reject(new Error('the sidecar did not open the stream in time')) }, OPEN_TIMEOUT_MS)
      const done = (): void => { clearTimeout(timer) }
      this.opening.set(req, { resolve: (s, rest) => { done(); resolve({ sock: s, rest }) }, reject: (e) => { done(); reject(e) } })
      options?.signal?.addEventListener('abort', () => { this.opening.delete(req); done(); reject(options.signal?.reason) }, { once: true })
      this.ctl.write(encodeLine({ open: req }))
    })
    return this.newStream(sock.sock, 'outbound', sock.rest)
  }

  muxerFactory (): StreamMuxerFactory {
    return {
      protocol: '/webtransport',
      createStreamMuxer: (maConn) => {
        const m = new BridgedMuxer(this, maConn)
        this.muxer = m
        for (const s of this.inbound.splice(0)) m.onRemoteStream(s)
        return m
      }
    }
  }

  /** Ends the WebTransport session (the browser sees it closed). */
  end (reason: string): void {
    if (this.ctl.destroyed) return
    this.ctl.end(encodeLine({ close: reason }))
  }

  sendData (data: Uint8ArrayList): { sentBytes: number, canSendMore: boolean } { return { sentBytes: data.byteLength, canSendMore: true } }
  sendReset (): void { this.end('reset') }
  async sendClose (_o?: AbortOptions): Promise<void> { this.end('closed') }
  sendPause (): void {}
  sendResume (): void {}
}

class BridgedMuxer extends AbstractStreamMuxer<BridgedStream> {
  private readonly session: BridgedSession
  constructor (session: BridgedSession, maConn: ConstructorParameters<typeof AbstractStreamMuxer>[0]) {
    super(maConn, { protocol: '/webtransport', name: 'muxer' })
    this.session = session
  }

  async onCreateStream (options: CreateStreamOptions): Promise<BridgedStream> { return await this.session.openStream(options) }
  onData (): void {}
}

export interface BridgeEvents {
  onSession: (session: BridgedSession) => void
}

/** The loopback server the sidecar connects back to. Sockets without the token are dropped unread. */
export class BridgeServer {
  readonly token = randomBytes(24).toString('hex')
  private server: Server | undefined
  private readonly sessions = new Map<number, BridgedSession>()
  private readonly logger: ComponentLogger
  private readonly onSession: (s: BridgedSession) => void

  constructor (logger: ComponentLogger, onSession: (s: BridgedSession) => void) {
    this.logger = logger
    this.onSession = onSession
  }

  get port (): number { return (this.server?.address() as AddressInfo).port }
  get openSessions (): number { return this.sessions.size }

  async start (): Promise<void> {
    const server = createServer({ noDelay: true }, (sock) => { this.accept(sock) })
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', () => { resolve() }) })
    this.server = server
  }

  async stop (): Promise<void> {
    for (const s of this.sessions.values()) s.end('node stopping')
    const server = this.server
    this.server = undefined
    if (server !== undefined) await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
  }

  private accept (sock: Socket): void {
    sock.on('error', () => {})
    const reader = new BridgeReader()
    const timer = setTimeout(() => { sock.destroy() }, 5_000)
    const onData = (chunk: Buffer): void => {
      let header: Header | undefined
      try {
        reader.push(chunk)
        header = reader.readHeader() as Header | undefined
      } catch (err) {
        if (err instanceof FramingError) sock.destroy()
        return
      }
      if (header === undefined) return
      clearTimeout(timer)
      sock.off('data', onData)
      sock.pause()
      const rest = reader.rest()
      if (!this.tokenOk(header.token)) { sock.destroy(); return }
      if (header.t === 'session' && typeof header.session === 'number') this.openSession(sock, header.session, header.remote, rest)
      else if (header.t === 'stream' && typeof header.session === 'number') {
        const session = this.sessions.get(header.session)
        if (session === undefined) { sock.destroy(); return }
        session.onStreamSocket(sock, typeof header.req === 'number' ? header.req : null, rest)
        sock.resume()
      } else sock.destroy()
    }
    sock.on('data', onData)
  }

  private openSession (ctl: Socket, id: number, remote: Header['remote'], rest: Uint8Array): void {
    const host = typeof remote?.hostname === 'string' ? remote.hostname : '127.0.0.1'
    const port = typeof remote?.port === 'number' ? remote.port : 0
    const addr = `/${host.includes(':') ? 'ip6' : 'ip4'}/${host}/udp/${port}/quic-v1/webtransport`
    const session = new BridgedSession(ctl, id, addr, this.logger)
    this.sessions.set(id, session)
    session.addEventListener('close', () => { this.sessions.delete(id) })
    if (rest.byteLength > 0) ctl.emit('data', Buffer.from(rest))
    ctl.resume()
    this.onSession(session)
  }

  private tokenOk (t: unknown): boolean {
    if (typeof t !== 'string' || t.length !== this.token.length) return false
    return timingSafeEqual(Buffer.from(t), Buffer.from(this.token))
  }
}
