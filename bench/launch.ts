/**
 * Launch-scale benchmarks (issue: bootstrap operations at launch scale), written under "launch" in
 * bench/results.json:
 *  - the discrete-event simulation at 100,000 light peers with our defaults (bootstraps hand out PX partly
 *    from history; light peers dial 2 bootstraps and hang them up at 6 peers), and with plain gossipsub PX;
 *  - the real stack next to the simulation at the same size and settings (`launch-test --compare`;
 *    --quick: 40 peers, default 100), with the agreement judged;
 *  - the real stack at a larger size (LAUNCH_BENCH_PEERS, default 500; skipped with --quick), arriving at
 *    2 per second and at 5 per second.
 */
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadavg } from 'node:os'
import { runLaunchSim } from '../src/sim/launch-sim.ts'
import { compareReports, defaultOptions, runLaunchTest, runSim, simParamsFor } from '../src/node/launch-test.ts'
import type { LaunchReport } from '../src/node/launch-test.ts'
import { BENCH_DIR, entry, metric, round } from './common.ts'
import type { BenchOptions, Entry } from './common.ts'

export async function runLaunchBench (o: BenchOptions): Promise<Entry[]> {
  const out: Entry[] = []
  for (const [label, params] of [['sim-100k', {}], ['sim-100k-gossipsub-px', { pxFromHistory: 0 }]] as const) {
    o.log(`  ${label}: simulating 100,000 light peers…`)
    const t0 = performance.now()
    const r = runLaunchSim({ peers: 100_000, ...params })
    const wallS = round((performance.now() - t0) / 1000)
    o.log(`    ${wallS} s; PX max ${r.peerExchange.heartbeatsOnBootstrap.max} heartbeats, peak ${r.connectionManagement.peak}/${r.connectionManagement.high}, loss ${(r.routing.loss * 100).toFixed(1)}%`)
    out.push(entry(`${label}: routing loss`, metric([r.routing.loss * 100], '%', 2), { op: '<=', value: 0 }, {
      latencyP50Ms: r.routing.latencyMs.p50, latencyP99Ms: r.routing.latencyMs.p99, duplicatesPerDelivery: r.routing.duplicatesPerDelivery, maxHop: r.routing.maxHop, wallSeconds: wallS
    }))
    if (label !== 'sim-100k') continue
    out.push(entry(`${label}: heartbeats on a bootstrap before PX (max)`, metric([r.peerExchange.heartbeatsOnBootstrap.max], 'heartbeats', 0), { op: '<=', value: 3 }, {
      p99: r.peerExchange.heartbeatsOnBootstrap.p99, meshDegreeP50: r.peerExchange.meshDegree.p50, meshDegreeMin: r.peerExchange.meshDegree.min, peersBelowDlo: r.peerExchange.peersBelowDlo
    }))
    const ul = r.upperLimits
    const bootstraps = r.connectionManagement.bootstraps.length
    out.push(entry(`${label}: light peers served per bootstrap`, metric([(ul.arrived - ul.neverReachedBootstrap - ul.reachedBootstrapNeverMeshed) / bootstraps], 'peers', 0), { op: '>=', value: Math.floor(ul.arrived / bootstraps) }, {
      bootstraps, highWatermark: r.connectionManagement.high
    }))
    out.push(entry(`${label}: peak connections per bootstrap`, metric([r.connectionManagement.peak], 'connections', 0), { op: '<=', value: r.connectionManagement.high }, {
      neverReachedBootstrap: r.upperLimits.neverReachedBootstrap, neverMeshed: r.upperLimits.neverMeshed, graftsPerMinute: r.meshStability.graftsPerMinute
    }))
  }

  // Real stack and simulation at the same size and settings.
  const peers = o.quick ? 40 : 100
  o.log(`  real stack: ${peers} light peers + 5 relays on loopback, then the simulation with the same settings…`)
  const opts = defaultOptions(peers, 5)
  opts.tests = new Set(['peerExchange', 'connectionManagement', 'routing', 'meshStability'])
  opts.log = (line) => { o.log(`    ${line}`) }
  const real = await runLaunchTest(opts)
  const sim = await runSim(opts, peers, simParamsFor(opts, Number(real.config.bootstraps)))
  if ('error' in sim) throw new Error(sim.error)
  const agreement = compareReports(real, sim, opts.mesh.Dlo, opts.mesh.Dhi)
  const judged = agreement.rows.filter((r) => r.agree !== null)
  out.push(entry(`compare-${peers}: figures where simulation and real stack agree`, metric([judged.filter((r) => r.agree === true).length], 'of ' + String(judged.length), 0), { op: '>=', value: judged.length }, {
    // one line per figure, printed after the table
    rows: Object.fromEntries(agreement.rows.map((r) => [r.figure, `${r.agree === null ? 'shown' : r.agree ? 'agree' : 'DIFFER'}: real ${String(r.real)}, sim ${String(r.sim)}`]))
  }))
  pushReal(out, `real-${peers}`, real, opts.highWatermark)

  if (!o.quick) {
    // The large size twice: at 2 arrivals per second, which this 2-core machine's light peers keep up with,
    // and at launch-test's default of 5 per second, where the light peers (not the bootstraps) run out of CPU.
    const big = Number(process.env.LAUNCH_BENCH_PEERS ?? 500)
    for (const [rate, label] of [[2, `real-${big}`], [5, `real-${big}-at-5-per-s`]] as const) {
      o.log(`  real stack: ${big} light peers + 5 relays on loopback, arriving ${rate} per second…`)
      const bo = defaultOptions(big, 5)
      bo.arrivalRate = rate
      bo.tests = new Set(['peerExchange', 'connectionManagement', 'routing', 'meshStability'])
      bo.log = (line) => { o.log(`    ${line}`) }
      pushReal(out, label, await runLaunchTest(bo), bo.highWatermark)
    }
  }
  return out
}

/** Routing loss (with delivery p99), peak connections vs watermark, PX heartbeats, memory per light peer. */
function pushReal (out: Entry[], label: string, r: LaunchReport, high: number): void {
  const rt = r.tests.routing?.figures ?? {}
  const px = r.tests.peerExchange?.figures ?? {}
  const cm = r.tests.connectionManagement?.figures ?? {}
  out.push(entry(`${label}: routing loss`, metric([Number(rt.lost ?? NaN)], 'messages', 0), { op: '<=', value: 0 }, {
    deliveryP50Ms: Number(rt.latencyP50Ms ?? NaN), deliveryP99Ms: Number(rt.latencyP99Ms ?? NaN), duplicatesPerDelivery: Number(rt.duplicatesPerDelivery ?? NaN),
    arrivalsPerSecond: Number(r.config.arrivalRate), allTestsPassed: String(r.ok), verdicts: Object.entries(r.tests).map(([k, t]) => `${k}=${t.pass ? 'pass' : 'FAIL'}`).join(' '), durationMs: r.durationMs
  }))
  out.push(entry(`${label}: heartbeats on a bootstrap before PX (max)`, metric([Number(px.maxHeartbeats ?? NaN)], 'heartbeats', 1), { op: '<=', value: 3 }, {
    p99: Number(px.p99Heartbeats ?? NaN), p50: Number(px.p50Heartbeats ?? NaN), bootstrapShareMaxHeartbeats: Number(px.graftToPruneMaxHeartbeats ?? NaN), peerShareP99Ms: Number(px.connectToGraftP99Ms ?? NaN), meshDegreeP50: Number(px.meshDegreeP50 ?? NaN)
  }))
  out.push(entry(`${label}: peak connections vs high watermark`, metric([Number(cm.peakConnections ?? NaN)], 'connections', 0), { op: '<=', value: Number(cm.highWatermark ?? high) }, {
    flood: Number(cm.flood ?? NaN), breaches: Number(cm.breaches ?? NaN)
  }))
  const boots = Number(r.config.bootstraps)
  const all = Number(px.peers ?? NaN)
  out.push(entry(`${label}: light peers served per bootstrap`, metric([Math.min(Number(px.reachedBootstrap ?? NaN), Number(px.meshAtLeastDlo ?? NaN)) / boots], 'peers', 0), { op: '>=', value: Math.floor(all / boots) }, {
    bootstraps: boots, highWatermark: Number(cm.highWatermark ?? high)
  }))
  const mem = r.resources.memoryPerLightPeerBytes
  if (mem !== undefined) {
    out.push(entry(`${label}: memory per light peer (Node)`, metric([mem / 2 ** 20], 'MiB', 1), { op: '<=', value: 16 }, {
      workerMaxEventLoopLagMs: r.resources.workerMaxEventLoopLagMs ?? NaN, bootstrapCpuSecondsMax: r.resources.bootstrapCpuSecondsMax ?? NaN, lightStartMs: r.resources.lightStartMs ?? NaN
    }))
  }
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
