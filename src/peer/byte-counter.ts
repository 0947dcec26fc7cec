/**
 * Bytes a node sends and receives, counted by libp2p's own metrics hooks: every connection's bytes on the wire
 * (after encryption and multiplexing: what the transport carries, short of TCP/IP, WebSocket or QUIC framing),
 * and every protocol stream's payload by protocol. libp2p calls `trackMultiaddrConnection` when a transport
 * hands a connection to the upgrader and `trackProtocolStream` once a stream's protocol is negotiated; every
 * other part of the Metrics interface is a no-op here (this is not a Prometheus exporter; src/node/metrics.ts
 * serves the totals). Supplying any Metrics makes libp2p's components register their metrics, so this is
 * installed only where the counts are wanted (a Node node with `--metrics-port`, or `countBytes`).
 */
import type { Metrics, MultiaddrConnection, Stream } from '@libp2p/interface'

export interface Bytes { in: number, out: number }

/**
 * A libp2p message stream (a multiaddr connection or a protocol stream): its transport or muxer hands received
 * data to `onData`, and the application sends through `send`. Counting there, rather than by a 'message'
 * listener, leaves the stream's buffering alone (a stream keeps data until a listener is added: one added here
 * would take data that its consumer has not yet come for).
 */
interface Counted {
  onData: (data: { byteLength: number }) => void
  send: (data: { byteLength: number }) => boolean
}

function count (target: Counted, into: Bytes): void {
  const onData = target.onData.bind(target)
  target.onData = (data) => {
    into.in += data.byteLength
    onData(data)
  }
  const send = target.send.bind(target)
  target.send = (data) => {
    into.out += data.byteLength
    return send(data)
  }
}

const noop = (): void => {}
const NOOP_METRIC = { update: noop, increment: noop, decrement: noop, reset: noop, observe: noop, timer: () => noop }

export class ByteCounter {
  /** Bytes on every connection, since start. */
  readonly total: Bytes = { in: 0, out: 0 }
  /** Stream payload by protocol id, since start. */
  readonly byProtocol = new Map<string, Bytes>()

  /** The `metrics` factory for createLibp2p. */
  metrics (): () => Metrics {
    const register = ((_name: string, options?: { calculate?: unknown }) => options?.calculate !== undefined ? undefined : NOOP_METRIC) as never
    const m = {
      trackMultiaddrConnection: (maConn: MultiaddrConnection) => { count(maConn as unknown as Counted, this.total) },
      trackProtocolStream: (stream: Stream) => {
        const p = stream.protocol ?? 'unknown'
        let b = this.byProtocol.get(p)
        if (b === undefined) { b = { in: 0, out: 0 }; this.byProtocol.set(p, b) }
        count(stream as unknown as Counted, b)
      },
      registerMetric: register,
      registerMetricGroup: register,
      registerCounter: register,
      registerCounterGroup: register,
      registerHistogram: register,
      registerHistogramGroup: register,
      registerSummary: register,
      registerSummaryGroup: register,
      traceFunction: (_name: string, fn: unknown) => fn,
      createTrace: () => undefined
    }
    return () => m as unknown as Metrics
  }
}
