/**
 * The page half of the worker's WebRTC (see src/browser/rtc-proxy.ts for the worker half and
 * src/browser/rtc-protocol.ts for the messages). RTCPeerConnection exists only on Window, so the page owns
 * the real peer connections and runs every call the worker's libp2p makes on them; their events and state
 * go back to the worker. Data channels are transferred to the worker in the task that creates them
 * (createDataChannel, ondatachannel) so their bytes never pass through the page; where the browser refuses
 * the transfer (or with `forwardOnly`), the page forwards the channel's events and bytes instead.
 */
import type { DcInfo, DescriptionInit, PcState, RtcPortMessage, ToPage, ToWorker } from '../browser/rtc-protocol.ts'
import { RTC_PORT_MESSAGE } from '../browser/rtc-protocol.ts'

export interface RtcBridge {
  /** Live real peer connections owned for the worker. */
  readonly peerConnections: number
  /** Channels transferred to the worker / forwarded through the page so far. */
  readonly stats: { transferred: number, forwarded: number }
  /** Test/diagnostic hooks answered by the worker's libp2p node (see rtc-transports.ts). */
  diag: (op: 'addrs' | 'dial' | 'connections', arg?: string) => Promise<unknown>
  close: () => void
}

export interface RtcBridgeOptions {
  /** Never transfer data channels; forward their bytes through the page (fallback path, for tests). */
  forwardOnly?: boolean
}

/** True if this realm can own peer connections for a worker. */
export function canBridgeRtc (): boolean {
  return typeof globalThis.RTCPeerConnection === 'function' && typeof MessageChannel === 'function'
}

const descInit = (d: RTCSessionDescription | null): DescriptionInit | null => d === null ? null : { type: d.type, sdp: d.sdp }

function snapshot (pc: RTCPeerConnection): PcState {
  return {
    connectionState: pc.connectionState,
    iceConnectionState: pc.iceConnectionState,
    iceGatheringState: pc.iceGatheringState,
    signalingState: pc.signalingState,
    localDescription: descInit(pc.localDescription),
    remoteDescription: descInit(pc.remoteDescription),
    currentLocalDescription: descInit(pc.currentLocalDescription),
    currentRemoteDescription: descInit(pc.currentRemoteDescription),
    pendingLocalDescription: descInit(pc.pendingLocalDescription),
    pendingRemoteDescription: descInit(pc.pendingRemoteDescription),
    canTrickleIceCandidates: pc.canTrickleIceCandidates
  }
}

const info = (dc: RTCDataChannel): DcInfo => ({
  id: dc.id,
  label: dc.label,
  protocol: dc.protocol,
  ordered: dc.ordered,
  negotiated: dc.negotiated,
  maxPacketLifeTime: dc.maxPacketLifeTime,
  maxRetransmits: dc.maxRetransmits,
  readyState: dc.readyState,
  bufferedAmount: dc.bufferedAmount
})

/**
 * Hands `worker` a dedicated MessagePort for WebRTC and serves it. Post this before any comlink call that
 * starts the peer (messages on one port keep their order, so the worker has the port before `start`).
 */
export function attachRtcBridge (worker: { postMessage: (msg: unknown, transfer: Transferable[]) => void }, opts: RtcBridgeOptions = {}): RtcBridge {
  const { port1, port2 } = new MessageChannel()
  const pcs = new Map<number, RTCPeerConnection>()
  const certs = new Map<number, RTCCertificate>()
  const forwarded = new Map<number, RTCDataChannel>()
  const diags = new Map<number, { resolve: (v: unknown) => void, reject: (e: Error) => void }>()
  const stats = { transferred: 0, forwarded: 0 }
  let nextCert = 1
  let nextRemote = -1
  let nextDiag = 1
  let closed = false

  const post = (m: ToWorker, transfer: Transferable[] = []): void => { if (!closed) port1.postMessage(m, transfer) }

  /** Transfers `dc` to the worker now (same task as its creation), or falls back to forwarding. */
  const handOver = (pcId: number, dcId: number, remote: boolean, dc: RTCDataChannel, pc: RTCPeerConnection): void => {
    if (opts.forwardOnly !== true) {
      try {
        const i = info(dc)
        port1.postMessage({ t: 'dc', pc: pcId, dc: dcId, remote, info: i, channel: dc, state: snapshot(pc) } satisfies ToWorker, [dc as unknown as Transferable])
        stats.transferred++
        return
      } catch { /* not transferable here: forward */ }
    }
    stats.forwarded++
    forwarded.set(dcId, dc)
    dc.binaryType = 'arraybuffer'
    const fwd = (type: Extract<ToWorker, { t: 'dcev' }>['type'], extra: Partial<Extract<ToWorker, { t: 'dcev' }>> = {}, transfer: Transferable[] = []): void => {
      post({ t: 'dcev', dc: dcId, type, info: { id: dc.id, readyState: dc.readyState, bufferedAmount: dc.bufferedAmount }, ...extra }, transfer)
    }
    dc.onopen = () => { fwd('open') }
    dc.onclosing = () => { fwd('closing') }
    dc.onclose = () => { forwarded.delete(dcId); fwd('close') }
    dc.onerror = (e) => { fwd('error', { error: String((e as RTCErrorEvent).error?.message ?? 'error') }) }
    dc.onbufferedamountlow = () => { fwd('bufferedamountlow') }
    dc.onmessage = (e: MessageEvent) => {
      const data = e.data as ArrayBuffer | string
      fwd('message', { data }, typeof data === 'string' ? [] : [data])
    }
    post({ t: 'dc', pc: pcId, dc: dcId, remote, info: info(dc), state: snapshot(pc) })
  }

  const pcEvents = (pcId: number, pc: RTCPeerConnection): void => {
    const ev = (type: string, extra: Partial<Extract<ToWorker, { t: 'ev' }>> = {}): void => { post({ t: 'ev', pc: pcId, type, state: snapshot(pc), ...extra }) }
    pc.onicecandidate = (e) => { ev('icecandidate', { candidate: e.candidate === null ? null : e.candidate.toJSON() }) }
    pc.onicecandidateerror = (e) => { ev('icecandidateerror', { detail: { address: e.address, port: e.port, url: e.url, errorCode: e.errorCode, errorText: e.errorText } }) }
    pc.onconnectionstatechange = () => {
      ev('connectionstatechange')
      if (pc.connectionState === 'closed') pcs.delete(pcId)
    }
    pc.oniceconnectionstatechange = () => { ev('iceconnectionstatechange') }
    pc.onicegatheringstatechange = () => { ev('icegatheringstatechange') }
    pc.onsignalingstatechange = () => { ev('signalingstatechange') }
    pc.onnegotiationneeded = () => { ev('negotiationneeded') }
    pc.ondatachannel = (e) => { handOver(pcId, nextRemote--, true, e.channel, pc) }
  }

  const reply = (id: number, pc: RTCPeerConnection | undefined, p: Promise<unknown>): void => {
    p.then(
      (value) => { post({ t: 'reply', id, ok: true, value, ...(pc !== undefined ? { state: snapshot(pc) } : {}) }) },
      (err: unknown) => {
        const e = err as Error
        post({ t: 'reply', id, ok: false, error: { name: e?.name ?? 'Error', message: e?.message ?? String(err) }, ...(pc !== undefined ? { state: snapshot(pc) } : {}) })
      })
  }

  const onMessage = (m: ToPage): void => {
    switch (m.t) {
      case 'pc': {
        const { certIds, ...config } = m.config
        const certificates = (certIds ?? []).map((id) => certs.get(id)).filter((c): c is RTCCertificate => c !== undefined)
        const pc = new RTCPeerConnection({ ...config, ...(certificates.length > 0 ? { certificates } : {}) })
        pcs.set(m.pc, pc)
        pcEvents(m.pc, pc)
        return
      }
      case 'call': {
        const pc = pcs.get(m.pc)
        if (pc === undefined) { reply(m.id, undefined, Promise.reject(new DOMException('The RTCPeerConnection is closed', 'InvalidStateError'))); return }
        let p: Promise<unknown>
        switch (m.m) {
          case 'createOffer': p = pc.createOffer(m.args[0] as RTCOfferOptions | undefined).then((d) => ({ type: d.type, sdp: d.sdp })); break
          case 'createAnswer': p = pc.createAnswer(m.args[0] as RTCAnswerOptions | undefined).then((d) => ({ type: d.type, sdp: d.sdp })); break
          case 'setLocalDescription': p = m.args.length === 0 ? pc.setLocalDescription() : pc.setLocalDescription(m.args[0] as RTCLocalSessionDescriptionInit); break
          case 'setRemoteDescription': p = pc.setRemoteDescription(m.args[0] as RTCSessionDescriptionInit); break
          case 'addIceCandidate': p = m.args.length === 0 ? pc.addIceCandidate() : pc.addIceCandidate(m.args[0] as RTCIceCandidateInit | null); break
          case 'getStats': p = pc.getStats().then((r) => new Map([...r.entries()].map(([k, v]) => [k, { ...v }]))); break
          case 'restartIce': p = Promise.resolve(pc.restartIce()); break
          default: p = Promise.reject(new DOMException(`unsupported method ${String((m as { m: string }).m)}`, 'NotSupportedError'))
        }
        reply(m.id, pc, p)
        return
      }
      case 'cert': {
        reply(m.id, undefined, RTCPeerConnection.generateCertificate(m.keygen).then((c) => {
          const certId = nextCert++
          certs.set(certId, c)
          return { certId, expires: c.expires }
        }))
        return
      }
      case 'certfree': certs.delete(m.certId); return
      case 'dc': {
        const pc = pcs.get(m.pc)
        if (pc === undefined) {
          post({ t: 'dcev', dc: m.dc, type: 'close', info: { id: null, readyState: 'closed', bufferedAmount: 0 } })
          return
        }
        let dc: RTCDataChannel
        try {
          dc = pc.createDataChannel(m.label, m.init)
        } catch (err) {
          post({ t: 'dcev', dc: m.dc, type: 'error', info: { id: null, readyState: 'closed', bufferedAmount: 0 }, error: String((err as Error).message) })
          post({ t: 'dcev', dc: m.dc, type: 'close', info: { id: null, readyState: 'closed', bufferedAmount: 0 } })
          return
        }
        handOver(m.pc, m.dc, false, dc, pc)
        return
      }
      case 'close': {
        const pc = pcs.get(m.pc)
        pcs.delete(m.pc)
        pc?.close()
        return
      }
      case 'dcsend': {
        const dc = forwarded.get(m.dc)
        if (dc === undefined) return
        const n = typeof m.data === 'string' ? new TextEncoder().encode(m.data).byteLength : m.data.byteLength
        try { dc.send(m.data as any) } catch (err) { post({ t: 'dcev', dc: m.dc, type: 'error', info: { id: dc.id, readyState: dc.readyState, bufferedAmount: dc.bufferedAmount }, error: String((err as Error).message) }) }
        post({ t: 'dcev', dc: m.dc, type: 'ack', n, info: { id: dc.id, readyState: dc.readyState, bufferedAmount: dc.bufferedAmount } })
        return
      }
      case 'dcclose': forwarded.get(m.dc)?.close(); return
      case 'dcthreshold': { const dc = forwarded.get(m.dc); if (dc !== undefined) dc.bufferedAmountLowThreshold = m.value; return }
      case 'diagreply': {
        const d = diags.get(m.id)
        diags.delete(m.id)
        if (m.ok) d?.resolve(m.value)
        else d?.reject(new Error(m.error))
      }
    }
  }

  port1.onmessage = (e: MessageEvent<ToPage>) => { onMessage(e.data) }
  port1.start()
  worker.postMessage({ lightpulse: RTC_PORT_MESSAGE, port: port2, ...(opts.forwardOnly === true ? { forwardOnly: true } : {}) } satisfies RtcPortMessage, [port2])

  return {
    get peerConnections () { return pcs.size },
    stats,
    diag: async (op, arg) => await new Promise((resolve, reject) => {
      const id = nextDiag++
      diags.set(id, { resolve, reject })
      post({ t: 'diag', id, op, ...(arg !== undefined ? { arg } : {}) })
    }),
    close: () => {
      for (const pc of pcs.values()) pc.close()
      pcs.clear()
      certs.clear()
      closed = true
      port1.close()
    }
  }
}
