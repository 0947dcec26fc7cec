/**
 * Launch-scale benchmarks (issue: bootstrap operations at launch scale), written under "launch" in
 * bench/results.json: the discrete-event simulation at 100,000 light peers (default PX, and with a PX
 * history of 8), and the real stack at the largest size this run is given (--quick: 40 peers; default 100).
 */
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadavg } from 'node:os'
import { runLaunchSim } from '../src/sim/launch-sim.ts'
import { defaultOptions, runLaunchTest } from '../src/node/launch-test.ts'
import { BENCH_DIR, entry, metric, round } from './common.ts'
import type { BenchOptions, Entry } from './common.ts'

export async function runLaunchBench (o: BenchOptions): Promise<Entry[]> {
  const out: Entry[] = []
  for (const [label, params] of [['sim-100k', {}], ['sim-100k-px-history-8', { pxFromHistory: 8 }]] as const) {
    o.log(`  ${label}: simulating 100,000 light peers…`)
    const t0 = performance.now()
    const r = runLaunchSim({ peers: 100_000, ...params })
    const wallS = round((performance.now() - t0) / 1000)
    o.log(`    ${wallS} s; PX max ${r.peerExchange.heartbeatsOnBootstrap.max} heartbeats, peak ${r.connectionManagement.peak}/${r.connectionManagement.high}, loss ${(r.routing.loss * 100).toFixed(1)}%`)
    out.push(entry(`${label}: routing loss`, metric([r.routing.loss * 100], '%', 2), { op: '<=', value: 0 }, {
      latencyP50Ms: r.routing.latencyMs.p50, latencyP99Ms: r.routing.latencyMs.p99, duplicatesPerDelivery: r.routing.duplicatesPerDelivery, maxHop: r.routing.maxHop, wallSeconds: wallS
    }))
    out.push(entry(`${label}: heartbeats on a bootstrap before PX (max)`, metric([r.peerExchange.heartbeatsOnBootstrap.max], 'heartbeats', 0), { op: '<=', value: 3 }, {
      p99: r.peerExchange.heartbeatsOnBootstrap.p99, meshDegreeP50: r.peerExchange.meshDegree.p50, meshDegreeMin: r.peerExchange.meshDegree.min
    }))
    out.push(entry(`${label}: peak connections per bootstrap`, metric([r.connectionManagement.peak], 'connections', 0), { op: '<=', value: r.connectionManagement.high }, {
      neverReachedBootstrap: r.upperLimits.neverReachedBootstrap, neverMeshed: r.upperLimits.neverMeshed, graftsPerMinute: r.meshStability.graftsPerMinute
    }))
  }
  const peers = o.quick ? 40 : 100
  o.log(`  real stack: ${peers} light peers + 5 relays on loopback…`)
  const opts = defaultOptions(peers, 5)
  opts.log = (line) => { o.log(`    ${line}`) }
  const rss0 = process.memoryUsage().rss
  const r = await runLaunchTest(opts)
  const routing = r.tests.routing
  const p99 = Number(routing?.figures.latencyP99Ms ?? NaN)
  const loss = Number(routing?.figures.lost ?? NaN)
  out.push(entry(`real-${peers}: routing loss`, metric([loss], 'messages', 0), { op: '<=', value: 0 }, {
    deliveryP99Ms: p99, allTestsPassed: String(r.ok), figures: JSON.stringify(routing?.figures ?? {}).slice(0, 400), resources: JSON.stringify(r.resources), durationMs: r.durationMs, harnessRssMiB: round((process.memoryUsage().rss - rss0) / 2 ** 20)
  }))
  const cm = r.tests.connectionManagement
  out.push(entry(`real-${peers}: peak connections vs high watermark`, metric([Number(cm?.figures.peakConnections ?? NaN)], 'connections', 0), { op: '<=', value: Number(cm?.figures.highWatermark ?? opts.highWatermark) }, {
    figures: JSON.stringify(cm?.figures ?? {}).slice(0, 400)
  }))
  return out
}

export async function writeLaunchResults (entries: Entry[], quick: boolean): Promise<void> {
  const file = join(BENCH_DIR, 'results.json')
  let all: Record<string, unknown> = {}
  try { all = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown> } catch { /* first run */ }
  all.launch = { measuredAt: new Date().toISOString(), quick, loadavg: loadavg().map((x) => round(x, 2)), benchmarks: Object.fromEntries(entries.map((e) => [e.name, e])) }
  const tmp = `${file}.tmp-${process.pid}`
  await writeFile(tmp, JSON.stringify(all, null, 2) + '\n')
  await rename(tmp, file)
}
