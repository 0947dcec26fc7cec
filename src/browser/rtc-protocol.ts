/**
 * The wire protocol of the WebRTC bridge between the page (src/client/rtc-bridge.ts, which owns the real
 * RTCPeerConnections: they exist only on Window) and the worker (src/browser/rtc-proxy.ts, whose
 * RTCPeerConnection stand-in @libp2p/webrtc uses). One dedicated MessagePort carries it; everything is
 * structured-clone safe. Data channels are transferred to the worker when the browser allows it (Chromium:
 * only in the task that created them), otherwise their bytes are forwarded over the port.
 *
 * Ids: peer connections and locally created channels are numbered by the worker (1, 2, …); channels the
 * remote peer opened are numbered by the page (-1, -2, …). Certificates live on the page; the worker holds
 * handles ({ certId }).
 */

/** First message on the worker's global scope (comlink ignores it: no `type`). */
export const RTC_PORT_MESSAGE = 'lightpulse:rtc-port'
export interface RtcPortMessage { lightpulse: typeof RTC_PORT_MESSAGE, port: MessagePort, forwardOnly?: boolean }

export interface DescriptionInit { type: RTCSdpType, sdp?: string }

export interface PcState {
  connectionState: RTCPeerConnectionState
  iceConnectionState: RTCIceConnectionState
  iceGatheringState: RTCIceGatheringState
  signalingState: RTCSignalingState
  localDescription: DescriptionInit | null
  remoteDescription: DescriptionInit | null
  currentLocalDescription: DescriptionInit | null
  currentRemoteDescription: DescriptionInit | null
  pendingLocalDescription: DescriptionInit | null
  pendingRemoteDescription: DescriptionInit | null
  canTrickleIceCandidates: boolean | null
}

export interface DcInfo {
  id: number | null
  label: string
  protocol: string
  ordered: boolean
  negotiated: boolean
  maxPacketLifeTime: number | null
  maxRetransmits: number | null
  readyState: RTCDataChannelState
  bufferedAmount: number
}

export type PcMethod = 'createOffer' | 'createAnswer' | 'setLocalDescription' | 'setRemoteDescription' | 'addIceCandidate' | 'getStats' | 'restartIce'

/** Worker → page. */
export type ToPage =
  | { t: 'pc', pc: number, config: RTCConfiguration & { certIds?: number[] } }
  | { t: 'call', id: number, pc: number, m: PcMethod, args: unknown[] }
  | { t: 'cert', id: number, keygen: AlgorithmIdentifier | EcKeyGenParams | RsaHashedKeyGenParams }
  | { t: 'certfree', certId: number }
  | { t: 'dc', pc: number, dc: number, label: string, init?: RTCDataChannelInit }
  | { t: 'close', pc: number }
  /** Forwarded channels only. */
  | { t: 'dcsend', dc: number, data: ArrayBuffer | string }
  | { t: 'dcclose', dc: number }
  | { t: 'dcthreshold', dc: number, value: number }
  /** Diagnostics / test hooks served by the worker's transports (see rtc-transports.ts). */
  | { t: 'diagreply', id: number, ok: boolean, value?: unknown, error?: string }

/** Page → worker. */
export type ToWorker =
  | { t: 'reply', id: number, ok: true, value?: unknown, state?: PcState }
  | { t: 'reply', id: number, ok: false, error: { name: string, message: string }, state?: PcState }
  | { t: 'ev', pc: number, type: string, state: PcState, candidate?: RTCIceCandidateInit | null, detail?: Record<string, unknown> }
  /** A channel for `dc`: transferred (`channel`) or forwarded (no `channel`). `remote`: opened by the remote peer. */
  | { t: 'dc', pc: number, dc: number, remote: boolean, info: DcInfo, channel?: RTCDataChannel, state?: PcState }
  /** Forwarded channels only. */
  | { t: 'dcev', dc: number, type: 'open' | 'closing' | 'close' | 'error' | 'bufferedamountlow' | 'message' | 'ack', info: Pick<DcInfo, 'id' | 'readyState' | 'bufferedAmount'>, data?: ArrayBuffer | string, n?: number, error?: string }
  | { t: 'diag', id: number, op: string, arg?: string }
