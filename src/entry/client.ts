/**
 * `lightpulse`: the client API a page or a dApp embeds. It starts the light peer in a Web Worker and
 * talks to it; everything crossing that boundary is plain data, and every failure a `LightpulseError`.
 */
export { createLightpulseClient, connectWorker } from '../client/client.ts'
export type { LightpulseClient, ClientOptions } from '../client/client.ts'
export { LightpulseError } from '../client/errors.ts'
export type { LightpulseErrorCode, ClientErrorCode } from '../client/errors.ts'
export type {
  ClientConfig, ClientEvent, ConnectionInfo, LogEvent, StatusSnapshot, SubmitOptions, SubmittedTx, TransportName, TxEvent, TxInclusion, VerifiedHeader
} from '../client/types.ts'
export type { StreamOptions } from '../client/streams.ts'
export { STREAM_BUFFER } from '../client/streams.ts'
export type { BlockEvent } from '../peer/events.ts'
export type { RtcBridge, RtcBridgeOptions } from '../client/rtc-bridge.ts'
export type { ErrorCode as ProtocolErrorCode } from '../protocol/errors.ts'
export type { StorageErrorCode } from '../storage/types.ts'
export type { StartupPhase, StartupPhaseName } from '../peer/startup.ts'
