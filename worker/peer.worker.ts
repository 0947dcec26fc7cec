/** The worker entry: the whole peer runs here. Exposes the API synchronously (no top-level await). */
// First: installs the worker's RTCPeerConnection stand-in before @libp2p/webrtc is evaluated.
import { listenForRtcPort, rtcTransports } from '../src/browser/rtc-transports.ts'
import { expose } from 'comlink'
import { registerErrorTransfer } from '../src/client/errors.ts'
import { createWorkerApi } from '../src/browser/worker-api.ts'

registerErrorTransfer()
listenForRtcPort() // the page's WebRTC bridge port (src/client/rtc-bridge.ts) arrives before `start`
expose(createWorkerApi({ extraTransports: rtcTransports }))
