/**
 * The client API for pages and embedders: starts the peer worker and talks to it through comlink.
 * `connectWorker` takes any MessagePort-like endpoint, so tests can run both ends over a MessageChannel.
 */
import { wrap, proxy } from 'comlink'
import type { Endpoint, Remote } from 'comlink'
import { registerErrorTransfer } from './errors.ts'
import { attachRtcBridge, canBridgeRtc } from './rtc-bridge.ts'
import type { RtcBridge, RtcBridgeOptions } from './rtc-bridge.ts'
import type { ClientConfig, ClientEvent, StatusSnapshot, WorkerApi } from './types.ts'

export type { ClientConfig, ClientEvent, StatusSnapshot, WorkerApi }
export { LightpulseError } from './errors.ts'

export interface LightpulseClient {
  readonly api: Remote<WorkerApi>
  start: (config: ClientConfig) => Promise<StatusSnapshot>
  stop: () => Promise<void>
  status: () => Promise<StatusSnapshot>
  on: (listener: (e: ClientEvent) => void) => Promise<() => Promise<void>>
  enroll: () => Promise<{ publicKey: string }>
  terminate: () => void
  /** The page-side WebRTC bridge that gives the worker's libp2p WebRTC (absent where the page has no RTCPeerConnection). */
  rtc?: RtcBridge
}

export function connectWorker (endpoint: Endpoint, terminate: () => void = () => {}): LightpulseClient {
  registerErrorTransfer()
  const api = wrap<WorkerApi>(endpoint)
  return {
    api,
    start: async (config) => await api.start(config),
    stop: async () => { await api.stop() },
    status: async () => await api.status(),
    on: async (listener) => {
      const id = await api.subscribe(proxy(listener))
      return async () => { await api.unsubscribe(id) }
    },
    enroll: async () => await api.enroll(),
    terminate
  }
}

/** Starts the bundled peer worker (Vite bundles the worker from this exact expression). */
export function createLightpulseClient (opts: { rtc?: boolean | RtcBridgeOptions } = {}): LightpulseClient {
  const worker = new Worker(new URL('../../worker/peer.worker.ts', import.meta.url), { type: 'module', name: 'lightpulse-peer' })
  // The WebRTC bridge port must reach the worker before comlink's `start` (same port, so in order).
  const rtc = opts.rtc !== false && canBridgeRtc() ? attachRtcBridge(worker, typeof opts.rtc === 'object' ? opts.rtc : {}) : undefined
  const client = connectWorker(worker, () => { rtc?.close(); worker.terminate() })
  return rtc !== undefined ? { ...client, rtc } : client
}
