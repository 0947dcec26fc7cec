/**
 * RTCPeerConnection for a Web Worker, where the real one does not exist (it is Window-only). The stand-in
 * implements exactly the surface @libp2p/webrtc uses (webRTC() and webRTCDirect() browser builds):
 *   new RTCPeerConnection(config) with certificates, RTCPeerConnection.generateCertificate, createOffer,
 *   createAnswer, setLocalDescription, setRemoteDescription, addIceCandidate, createDataChannel, close,
 *   getStats, sync connectionState / *State / localDescription / remoteDescription, events (both
 *   addEventListener and on* properties): icecandidate, icecandidateerror, connectionstatechange,
 *   iceconnectionstatechange, icegatheringstatechange, signalingstatechange, negotiationneeded, datachannel;
 *   plus RTCSessionDescription and RTCIceCandidate.
 * Every call goes to the page over a MessagePort (src/client/rtc-bridge.ts) where the real peer connection
 * lives; its state comes back with every event and reply, so the sync getters are current after each await.
 *
 * Data channels: createDataChannel must return synchronously, so the worker gets a ProxyDataChannel at
 * once; the page creates the real channel and transfers it to the worker in the same task (Chromium 156
 * allows transfer only then, also for channels from `ondatachannel`), after which the proxy delegates to
 * the real RTCDataChannel (bytes never cross the page). If the page cannot transfer (other browsers, or
 * `forwardOnly`), the proxy forwards send/close/threshold to the page and gets events and bytes back.
 *
 * Installed on the worker's globalThis when this module is evaluated (it must be evaluated before
 * @libp2p/webrtc, whose browser build reads globalThis.RTCPeerConnection at module evaluation).
 */
import type { DcInfo, DescriptionInit, PcMethod, PcState, RtcPortMessage, ToPage, ToWorker } from './rtc-protocol.ts'
import { RTC_PORT_MESSAGE } from './rtc-protocol.ts'

type Handler = ((this: any, ev: any) => any) | null

/** EventTarget whose on<type> properties are called like the DOM's (after the listeners added before them; close enough). */
class HandlerTarget extends EventTarget {
  protected fire (ev: Event): void {
    this.dispatchEvent(ev)
    const h = (this as unknown as Record<string, Handler>)[`on${ev.type}`]
    if (typeof h === 'function') {
      try { h.call(this, ev) } catch (err) { reportError(err) }
    }
  }
}

function withProps<T extends Event> (ev: T, props: Record<string, unknown>): T {
  for (const [k, v] of Object.entries(props)) Object.defineProperty(ev, k, { value: v, enumerable: true })
  return ev
}

const domError = (name: string, message: string): Error => {
  try { return new DOMException(message, name) } catch { const e = new Error(message); e.name = name; return e }
}

export class ProxySessionDescription {
  readonly type: RTCSdpType
  readonly sdp: string
  constructor (init: DescriptionInit) {
    this.type = init.type
    this.sdp = init.sdp ?? ''
  }

  toJSON (): DescriptionInit { return { type: this.type, sdp: this.sdp } }
}

export class ProxyIceCandidate {
  readonly candidate: string
  readonly sdpMid: string | null
  readonly sdpMLineIndex: number | null
  readonly usernameFragment: string | null
  constructor (init: RTCIceCandidateInit = {}) {
    if (init.sdpMid == null && init.sdpMLineIndex == null) throw new TypeError('RTCIceCandidate: sdpMid and sdpMLineIndex are both null')
    this.candidate = init.candidate ?? ''
    this.sdpMid = init.sdpMid ?? null
    this.sdpMLineIndex = init.sdpMLineIndex ?? null
    this.usernameFragment = init.usernameFragment ?? null
  }

  toJSON (): RTCIceCandidateInit { return { candidate: this.candidate, sdpMid: this.sdpMid, sdpMLineIndex: this.sdpMLineIndex, usernameFragment: this.usernameFragment } }
}

/** A page-side RTCCertificate, by handle. */
export class ProxyCertificate {
  readonly certId: number
  readonly expires: number
  constructor (certId: number, expires: number) { this.certId = certId; this.expires = expires }
  getFingerprints (): RTCDtlsFingerprint[] { return [] }
}

const toInit = (d: unknown): DescriptionInit | undefined => {
  if (d == null) return undefined
  const x = d as { type: RTCSdpType, sdp?: string }
  return { type: x.type, sdp: x.sdp }
}

const desc = (d: DescriptionInit | null): ProxySessionDescription | null => d === null ? null : new ProxySessionDescription(d)

// ---------------------------------------------------------------------------------------------------------
// The bridge (one per worker)

interface Pending { resolve: (v: unknown) => void, reject: (e: unknown) => void, pc?: ProxyPeerConnection }

class Bridge {
  readonly port: MessagePort
  readonly forwardOnly: boolean
  private nextId = 1
  private readonly calls = new Map<number, Pending>()
  readonly pcs = new Map<number, ProxyPeerConnection>()
  readonly channels = new Map<number, ProxyDataChannel>()
  diag?: (op: string, arg?: string) => Promise<unknown>
  private readonly certs = new FinalizationRegistry<number>((certId) => { this.post({ t: 'certfree', certId }) })

  constructor (port: MessagePort, forwardOnly: boolean) {
    this.port = port
    this.forwardOnly = forwardOnly
    port.onmessage = (e: MessageEvent<ToWorker>) => { this.onMessage(e.data) }
    port.start()
  }

  id (): number { return this.nextId++ }

  post (msg: ToPage, transfer: Transferable[] = []): void { this.port.postMessage(msg, transfer) }

  async call<T> (msg: ToPage & { id: number }, pc?: ProxyPeerConnection): Promise<T> {
    return await new Promise<T>((resolve, reject) => {
      this.calls.set(msg.id, { resolve: resolve as (v: unknown) => void, reject, pc })
      this.post(msg)
    })
  }

  async generateCertificate (keygen: AlgorithmIdentifier): Promise<ProxyCertificate> {
    const id = this.id()
    const { certId, expires } = await this.call<{ certId: number, expires: number }>({ t: 'cert', id, keygen })
    const cert = new ProxyCertificate(certId, expires)
    this.certs.register(cert, certId)
    return cert
  }

  private onMessage (m: ToWorker): void {
    switch (m.t) {
      case 'reply': {
        const p = this.calls.get(m.id)
        if (p === undefined) return
        this.calls.delete(m.id)
        if (m.state !== undefined) p.pc?.setState(m.state)
        if (m.ok) p.resolve(m.value)
        else p.reject(domError(m.error.name, m.error.message))
        return
      }
      case 'ev': this.pcs.get(m.pc)?.onPageEvent(m); return
      case 'dc': {
        const pc = this.pcs.get(m.pc)
        if (m.state !== undefined) pc?.setState(m.state)
        if (m.remote) {
          const ch = new ProxyDataChannel(this, m.dc, m.info.label, { id: m.info.id ?? undefined, ordered: m.info.ordered, negotiated: m.info.negotiated, protocol: m.info.protocol, maxPacketLifeTime: m.info.maxPacketLifeTime ?? undefined, maxRetransmits: m.info.maxRetransmits ?? undefined })
          this.channels.set(m.dc, ch)
          ch.attach(m.info, m.channel)
          pc?.onRemoteChannel(ch)
        } else {
          this.channels.get(m.dc)?.attach(m.info, m.channel)
        }
        return
      }
      case 'dcev': this.channels.get(m.dc)?.onForwarded(m); return
      case 'diag': {
        const run = this.diag ?? (async () => { throw new Error('no diagnostics handler in the worker') })
        run(m.op, m.arg).then(
          (value) => { this.post({ t: 'diagreply', id: m.id, ok: true, value }) },
          (err: unknown) => { this.post({ t: 'diagreply', id: m.id, ok: false, error: String((err as Error)?.message ?? err) }) })
      }
    }
  }
}

let bridge: Bridge | undefined

/** Attaches the page's port (called by the worker entry when the port message arrives). */
export function attachRtcPort (port: MessagePort, forwardOnly = false): void {
  bridge = new Bridge(port, forwardOnly)
}

/** True once the page has handed the worker a WebRTC bridge port. */
export function rtcBridgeAttached (): boolean { return bridge !== undefined }

/** Sets the handler for the page's diagnostic requests (test hooks: own addresses, dial, connections). */
export function setRtcDiagHandler (fn: (op: string, arg?: string) => Promise<unknown>): void {
  if (bridge !== undefined) bridge.diag = fn
}

/**
 * Listens on the worker's global scope for the page's bridge port (see RTC_PORT_MESSAGE). Returns false
 * outside a worker. comlink's expose() ignores this message (it has no `type`).
 */
export function listenForRtcPort (scope: { addEventListener: (t: 'message', fn: (e: MessageEvent) => void) => void } = globalThis as any): boolean {
  if (typeof scope?.addEventListener !== 'function') return false
  scope.addEventListener('message', (e: MessageEvent) => {
    const d = e.data as Partial<RtcPortMessage> | undefined
    if (d?.lightpulse === RTC_PORT_MESSAGE && d.port !== undefined && bridge === undefined) attachRtcPort(d.port, d.forwardOnly === true)
  })
  return true
}

const needBridge = (): Bridge => {
  if (bridge === undefined) throw domError('NotSupportedError', 'RTCPeerConnection is not available in this worker: the page has not attached a WebRTC bridge')
  return bridge
}

// ---------------------------------------------------------------------------------------------------------

const INITIAL_STATE: PcState = {
  connectionState: 'new',
  iceConnectionState: 'new',
  iceGatheringState: 'new',
  signalingState: 'stable',
  localDescription: null,
  remoteDescription: null,
  currentLocalDescription: null,
  currentRemoteDescription: null,
  pendingLocalDescription: null,
  pendingRemoteDescription: null,
  canTrickleIceCandidates: null
}

export class ProxyPeerConnection extends HandlerTarget {
  static async generateCertificate (keygen: AlgorithmIdentifier): Promise<ProxyCertificate> {
    return await needBridge().generateCertificate(keygen)
  }

  readonly pcId: number
  private readonly bridge: Bridge
  private state: PcState = { ...INITIAL_STATE }
  private closed = false
  onicecandidate: Handler = null
  onicecandidateerror: Handler = null
  onconnectionstatechange: Handler = null
  oniceconnectionstatechange: Handler = null
  onicegatheringstatechange: Handler = null
  onsignalingstatechange: Handler = null
  onnegotiationneeded: Handler = null
  ondatachannel: Handler = null
  ontrack: Handler = null

  constructor (config: RTCConfiguration = {}) {
    super()
    this.bridge = needBridge()
    this.pcId = this.bridge.id()
    const { certificates, ...rest } = config
    const certIds = (certificates ?? []).map((c) => {
      if (!(c instanceof ProxyCertificate)) throw new TypeError('RTCPeerConnection: certificates must come from RTCPeerConnection.generateCertificate in this worker')
      return c.certId
    })
    this.bridge.pcs.set(this.pcId, this)
    this.bridge.post({ t: 'pc', pc: this.pcId, config: { ...rest, ...(certIds.length > 0 ? { certIds } : {}) } })
  }

  get connectionState (): RTCPeerConnectionState { return this.state.connectionState }
  get iceConnectionState (): RTCIceConnectionState { return this.state.iceConnectionState }
  get iceGatheringState (): RTCIceGatheringState { return this.state.iceGatheringState }
  get signalingState (): RTCSignalingState { return this.state.signalingState }
  get localDescription (): ProxySessionDescription | null { return desc(this.state.localDescription) }
  get remoteDescription (): ProxySessionDescription | null { return desc(this.state.remoteDescription) }
  get currentLocalDescription (): ProxySessionDescription | null { return desc(this.state.currentLocalDescription) }
  get currentRemoteDescription (): ProxySessionDescription | null { return desc(this.state.currentRemoteDescription) }
  get pendingLocalDescription (): ProxySessionDescription | null { return desc(this.state.pendingLocalDescription) }
  get pendingRemoteDescription (): ProxySessionDescription | null { return desc(this.state.pendingRemoteDescription) }
  get canTrickleIceCandidates (): boolean | null { return this.state.canTrickleIceCandidates }

  /** @internal */
  setState (s: PcState): void {
    if (this.closed) return
    this.state = s
  }

  private async invoke<T> (m: PcMethod, args: unknown[]): Promise<T> {
    if (this.closed) throw domError('InvalidStateError', 'The RTCPeerConnection is closed')
    return await this.bridge.call<T>({ t: 'call', id: this.bridge.id(), pc: this.pcId, m, args }, this)
  }

  async createOffer (options?: RTCOfferOptions): Promise<ProxySessionDescription> {
    return new ProxySessionDescription(await this.invoke<DescriptionInit>('createOffer', options === undefined ? [] : [options]))
  }

  async createAnswer (options?: RTCAnswerOptions): Promise<ProxySessionDescription> {
    return new ProxySessionDescription(await this.invoke<DescriptionInit>('createAnswer', options === undefined ? [] : [options]))
  }

  async setLocalDescription (d?: RTCLocalSessionDescriptionInit): Promise<void> {
    await this.invoke('setLocalDescription', d === undefined ? [] : [toInit(d)])
  }

  async setRemoteDescription (d: RTCSessionDescriptionInit): Promise<void> {
    await this.invoke('setRemoteDescription', [toInit(d)])
  }

  async addIceCandidate (c?: RTCIceCandidateInit | ProxyIceCandidate | null): Promise<void> {
    const init = c == null ? c : (typeof (c as ProxyIceCandidate).toJSON === 'function' ? (c as ProxyIceCandidate).toJSON() : { ...(c as RTCIceCandidateInit) })
    await this.invoke('addIceCandidate', init === undefined ? [] : [init])
  }

  async getStats (): Promise<Map<string, unknown>> {
    return await this.invoke<Map<string, unknown>>('getStats', [])
  }

  restartIce (): void { void this.invoke('restartIce', []).catch(() => {}) }

  getConfiguration (): RTCConfiguration { return {} }
  getSenders (): [] { return [] }
  getReceivers (): [] { return [] }
  getTransceivers (): [] { return [] }

  createDataChannel (label: string, init?: RTCDataChannelInit): ProxyDataChannel {
    if (this.closed) throw domError('InvalidStateError', 'The RTCPeerConnection is closed')
    const dc = this.bridge.id()
    const ch = new ProxyDataChannel(this.bridge, dc, String(label), init)
    this.bridge.channels.set(dc, ch)
    this.bridge.post({ t: 'dc', pc: this.pcId, dc, label: String(label), ...(init !== undefined ? { init: { ...init } } : {}) })
    return ch
  }

  close (): void {
    if (this.closed) return
    this.state = { ...this.state, connectionState: 'closed', iceConnectionState: 'closed', signalingState: 'closed' }
    this.closed = true
    this.bridge.post({ t: 'close', pc: this.pcId })
    this.bridge.pcs.delete(this.pcId)
  }

  /** @internal */
  onPageEvent (m: Extract<ToWorker, { t: 'ev' }>): void {
    if (this.closed) return
    this.state = m.state
    switch (m.type) {
      case 'icecandidate':
        this.fire(withProps(new Event('icecandidate'), { candidate: m.candidate == null ? null : new ProxyIceCandidate(m.candidate) }))
        break
      case 'icecandidateerror':
        this.fire(withProps(new Event('icecandidateerror'), m.detail ?? {}))
        break
      default:
        this.fire(new Event(m.type))
    }
  }

  /** @internal */
  onRemoteChannel (ch: ProxyDataChannel): void {
    if (this.closed) { ch.close(); return }
    this.fire(withProps(new Event('datachannel'), { channel: ch }))
  }
}

// ---------------------------------------------------------------------------------------------------------

const FORWARDED_EVENTS = ['open', 'message', 'closing', 'close', 'error', 'bufferedamountlow'] as const

export class ProxyDataChannel extends HandlerTarget {
  readonly label: string
  readonly ordered: boolean
  readonly negotiated: boolean
  readonly maxPacketLifeTime: number | null
  readonly maxRetransmits: number | null
  private _protocol: string
  private _id: number | null
  private real?: RTCDataChannel
  private forwarded = false
  private _state: RTCDataChannelState = 'connecting'
  private _buffered = 0
  private _inflight = 0
  private _threshold = 0
  private _binaryType: BinaryType = 'arraybuffer'
  private closeRequested = false
  private readonly bridge: Bridge
  private readonly dcId: number
  onopen: Handler = null
  onmessage: Handler = null
  onclosing: Handler = null
  onclose: Handler = null
  onerror: Handler = null
  onbufferedamountlow: Handler = null

  constructor (bridge: Bridge, dcId: number, label: string, init: RTCDataChannelInit = {}) {
    super()
    this.bridge = bridge
    this.dcId = dcId
    this.label = label
    this.ordered = init.ordered ?? true
    this.negotiated = init.negotiated ?? false
    this.maxPacketLifeTime = init.maxPacketLifeTime ?? null
    this.maxRetransmits = init.maxRetransmits ?? null
    this._protocol = init.protocol ?? ''
    this._id = init.id ?? null
  }

  get id (): number | null { return this.real?.id ?? this._id }
  get protocol (): string { return this.real?.protocol ?? this._protocol }
  get readyState (): RTCDataChannelState { return this.real?.readyState ?? this._state }
  get bufferedAmount (): number { return this.real !== undefined ? this.real.bufferedAmount : this._buffered + this._inflight }
  get bufferedAmountLowThreshold (): number { return this._threshold }
  set bufferedAmountLowThreshold (v: number) {
    this._threshold = v
    if (this.real !== undefined) this.real.bufferedAmountLowThreshold = v
    else if (this.forwarded) this.bridge.post({ t: 'dcthreshold', dc: this.dcId, value: v })
  }

  get binaryType (): BinaryType { return this.real?.binaryType ?? this._binaryType }
  set binaryType (v: BinaryType) {
    this._binaryType = v
    if (this.real !== undefined) this.real.binaryType = v
  }

  /** True when the real RTCDataChannel lives in this worker (transferred); false while pending or forwarded. */
  get transferred (): boolean { return this.real !== undefined }

  /** @internal The page's answer to createDataChannel / a remote channel: the real channel, or forwarding. */
  attach (info: DcInfo, channel?: RTCDataChannel): void {
    this._id = info.id
    this._protocol = info.protocol
    if (channel !== undefined) {
      this.real = channel
      channel.binaryType = this._binaryType
      channel.bufferedAmountLowThreshold = this._threshold
      for (const type of FORWARDED_EVENTS) {
        channel.addEventListener(type, (e: Event) => {
          if (type === 'message') this.fire(new MessageEvent('message', { data: (e as MessageEvent).data }))
          else if (type === 'error') this.fire(withProps(new Event('error'), { error: (e as RTCErrorEvent).error }))
          else this.fire(new Event(type))
          if (type === 'close') this.bridge.channels.delete(this.dcId)
        })
      }
      if (this.closeRequested) channel.close()
    } else {
      this.forwarded = true
      this._state = info.readyState
      this._buffered = info.bufferedAmount
      if (this._threshold !== 0) this.bridge.post({ t: 'dcthreshold', dc: this.dcId, value: this._threshold })
      if (this.closeRequested) this.bridge.post({ t: 'dcclose', dc: this.dcId })
    }
  }

  /** @internal Events and bytes of a forwarded channel. */
  onForwarded (m: Extract<ToWorker, { t: 'dcev' }>): void {
    this._id = m.info.id
    this._state = m.info.readyState
    this._buffered = m.info.bufferedAmount
    switch (m.type) {
      case 'ack': this._inflight = Math.max(0, this._inflight - (m.n ?? 0)); return
      case 'message': {
        let data: unknown = m.data
        if (this._binaryType === 'blob' && data instanceof ArrayBuffer) data = new Blob([data])
        this.fire(new MessageEvent('message', { data }))
        return
      }
      case 'error': this.fire(withProps(new Event('error'), { error: domError('OperationError', m.error ?? 'data channel error') })); return
      case 'close': this.bridge.channels.delete(this.dcId); this.fire(new Event('close')); return
      default: this.fire(new Event(m.type))
    }
  }

  send (data: string | Blob | ArrayBuffer | ArrayBufferView): void {
    if (this.real !== undefined) { this.real.send(data as any); return }
    if (this._state !== 'open') throw domError('InvalidStateError', `RTCDataChannel.readyState is '${this._state}'`)
    if (data instanceof Blob) throw new TypeError('Blob sends are not supported through the worker bridge')
    let payload: ArrayBuffer | string
    if (typeof data === 'string') payload = data
    else if (data instanceof ArrayBuffer) payload = data.slice(0)
    else payload = (new Uint8Array(data.buffer, data.byteOffset, data.byteLength)).slice().buffer
    const n = typeof payload === 'string' ? new TextEncoder().encode(payload).byteLength : payload.byteLength
    this._inflight += n
    this.bridge.post({ t: 'dcsend', dc: this.dcId, data: payload }, typeof payload === 'string' ? [] : [payload])
  }

  close (): void {
    if (this.real !== undefined) { this.real.close(); return }
    if (this._state === 'closed' || this._state === 'closing') return
    this.closeRequested = true
    if (this.forwarded) {
      this._state = 'closing'
      this.bridge.post({ t: 'dcclose', dc: this.dcId })
    }
  }
}

/** Installs the stand-ins on globalThis where the real classes are missing (i.e. in a worker). */
export function installRtcProxy (g: Record<string, unknown> = globalThis as any): boolean {
  if (typeof g.RTCPeerConnection !== 'undefined') return false
  g.RTCPeerConnection = ProxyPeerConnection
  if (typeof g.RTCSessionDescription === 'undefined') g.RTCSessionDescription = ProxySessionDescription
  if (typeof g.RTCIceCandidate === 'undefined') g.RTCIceCandidate = ProxyIceCandidate
  if (typeof g.RTCDataChannel === 'undefined') g.RTCDataChannel = ProxyDataChannel
  return true
}

// Must run before @libp2p/webrtc is evaluated: see the module comment.
installRtcProxy()
