/**
 * Figure 4, upper limits: sweep bootstrap watermarks and peer counts, find where peers stop reaching a
 * bootstrap (the watermark is saturated) or stop reaching the mesh (PX cannot keep up). The flood lasts a
 * fixed window, so more peers means a faster arrival rate. Routing is skipped in the sweep (publishers = 0).
 */
import { runLaunchSim } from './launch-sim.ts'
import type { LaunchSimParams } from './launch-sim.ts'

export interface UpperLimitRow {
  peers: number
  high: number
  low: number
  arrivalRate: number
  pass: boolean
  peak: number
  breached: boolean
  rejectedDials: number
  neverReachedBootstrap: number
  reachedBootstrapNeverMeshed: number
  pxMaxHeartbeats: number
  pxP99Heartbeats: number
  meshP50: number
  peersBelowDlo: number
  events: number
}

export interface UpperLimitsReport {
  arrivalWindowMs: number
  rows: UpperLimitRow[]
  /** For each peer count, the lowest high watermark that passed (null: none did). */
  minPassingHigh: Array<{ peers: number, high: number | null }>
  /** For each high watermark, the largest peer count that passed (null: none did). */
  maxPassingPeers: Array<{ high: number, peers: number | null }>
}

export interface UpperLimitsOptions {
  base?: Partial<LaunchSimParams>
  peers: number[]
  highs: number[]
  /** low = round(high * lowRatio) (default 160/192). */
  lowRatio?: number
  /** Flood duration (default 100 s). */
  arrivalWindowMs?: number
}

export function runUpperLimits (o: UpperLimitsOptions): UpperLimitsReport {
  const windowMs = o.arrivalWindowMs ?? 100_000
  const ratio = o.lowRatio ?? 160 / 192
  const rows: UpperLimitRow[] = []
  for (const peers of o.peers) {
    for (const high of o.highs) {
      const low = Math.max(0, Math.min(high, Math.round(high * ratio)))
      const r = runLaunchSim({ ...o.base, peers, high, low, arrivalWindowMs: windowMs, publishers: 0 })
      const pass = r.connectionManagement.pass && r.peerExchange.pass && r.upperLimits.pass
      rows.push({
        peers,
        high,
        low,
        arrivalRate: Math.round(peers / windowMs * 1000),
        pass,
        peak: r.connectionManagement.peak,
        breached: r.connectionManagement.breached,
        rejectedDials: r.connectionManagement.rejectedDials,
        neverReachedBootstrap: r.upperLimits.neverReachedBootstrap,
        reachedBootstrapNeverMeshed: r.upperLimits.reachedBootstrapNeverMeshed,
        pxMaxHeartbeats: r.peerExchange.heartbeatsOnBootstrap.max,
        pxP99Heartbeats: r.peerExchange.heartbeatsOnBootstrap.p99,
        meshP50: r.peerExchange.meshDegree.p50,
        peersBelowDlo: r.peerExchange.peersBelowDlo,
        events: r.run.events
      })
    }
  }
  const minPassingHigh = o.peers.map((peers) => {
    const ok = rows.filter((r) => r.peers === peers && r.pass).map((r) => r.high)
    return { peers, high: ok.length > 0 ? Math.min(...ok) : null }
  })
  const maxPassingPeers = o.highs.map((high) => {
    const ok = rows.filter((r) => r.high === high && r.pass).map((r) => r.peers)
    return { high, peers: ok.length > 0 ? Math.max(...ok) : null }
  })
  return { arrivalWindowMs: windowMs, rows, minPassingHigh, maxPassingPeers }
}
