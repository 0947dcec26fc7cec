/** The worker entry: the whole peer runs here. Exposes the API synchronously (no top-level await). */
// First: installs the worker's RTCPeerConnection stand-in before @libp2p/webrtc is evaluated.
import { listenForRtcPort, rtcTransports } from '../src/browser/rtc-transports.ts'
import { exposeWorkerApi } from '../src/browser/expose.ts'
import { createWorkerApi } from '../src/browser/worker-api.ts'

listenForRtcPort() // the page's WebRTC bridge port (src/client/rtc-bridge.ts) arrives before `start`
exposeWorkerApi(createWorkerApi({ extraTransports: rtcTransports }))
