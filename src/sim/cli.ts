/**
 * Command line for the launch simulation. `main(argv)` returns the text to print, so `lightpulse
 * launch-test --sim` can reuse it; run directly:
 *   node --disable-warning=ExperimentalWarning src/sim/cli.ts --peers 100000 --bootstraps 8 --relays 5 \
 *     --high 192 --low 160 --seed 1 [--json]
 *   node ... src/sim/cli.ts --sweep --sweep-peers 20000,50000,100000 --sweep-highs 16,32,64,192 [--json]
 * --json prints exactly the LaunchSimReport (or UpperLimitsReport); wall time and peak RSS go to stderr.
 */
import { DEFAULT_LAUNCH_SIM, runLaunchSim, validateParams } from './launch-sim.ts'
import type { LaunchSimParams, LaunchSimReport } from './launch-sim.ts'
import { runUpperLimits } from './upper-limits.ts'
import type { UpperLimitsReport } from './upper-limits.ts'

/** Flag → parameter. Every numeric LaunchSimParams field is also accepted as --camelCase. */
const ALIASES: Record<string, keyof LaunchSimParams> = {
  peers: 'peers',
  bootstraps: 'bootstraps',
  relays: 'relays',
  high: 'high',
  low: 'low',
  seed: 'seed',
  rate: 'arrivalRate',
  grace: 'graceMs',
  publishers: 'publishers',
  messages: 'messagesPerPublisher',
  loss: 'lossRate',
  churn: 'churnPerMinute',
  'max-hops': 'maxHops',
  'px-history': 'pxFromHistory',
  'bootstraps-per-peer': 'bootstrapsPerPeer',
  release: 'releaseBootstrapAt',
  'px-budget': 'bootstrapPxPerHeartbeat',
  heartbeat: 'heartbeatMs',
  'trim-mode': 'trimMode'
}

export interface CliResult { code: number, stdout: string, stderr: string }

export function parseSimArgs (argv: string[]): { params: Partial<LaunchSimParams>, json: boolean, timeline: boolean, sweep?: { peers: number[], highs: number[] } } {
  const params: Record<string, unknown> = {}
  let json = false
  let timeline = false
  let sweep = false
  let sweepPeers = [20_000, 50_000, 100_000]
  let sweepHighs = [16, 32, 64, 128, 192]
  const list = (v: string): number[] => v.split(',').map((x) => { const n = Number(x); if (!Number.isFinite(n)) throw new RangeError(`bad list value ${x}`); return n })
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--json') { json = true; continue }
    if (arg === '--timeline') { timeline = true; continue }
    if (arg === '--sweep') { sweep = true; continue }
    if (arg === '--trim-grace-after-px') { params.trimGraceAfterPx = true; continue }
    if (arg === '--no-px-on-arrival') { params.pxOnArrival = false; continue }
    if (arg === '--mesh-only-publish') { params.floodPublish = false; continue }
    if (arg === '--policy-current') { params.bootstrapsPerPeer = 1024; params.releaseBootstrapAt = 0; continue }
    if (!arg.startsWith('--')) throw new RangeError(`unexpected argument ${arg}`)
    const name = arg.slice(2)
    const value = argv[++i]
    if (value === undefined) throw new RangeError(`${arg} needs a value`)
    if (name === 'sweep-peers') { sweepPeers = list(value); continue }
    if (name === 'sweep-highs') { sweepHighs = list(value); continue }
    const key = ALIASES[name] ?? (name in DEFAULT_LAUNCH_SIM ? name as keyof LaunchSimParams : undefined)
    if (key === undefined) throw new RangeError(`unknown option ${arg}`)
    if (typeof DEFAULT_LAUNCH_SIM[key] === 'number') {
      const n = Number(value)
      if (!Number.isFinite(n)) throw new RangeError(`${arg} must be a number`)
      params[key] = n
    } else if (typeof DEFAULT_LAUNCH_SIM[key] === 'boolean') {
      params[key] = value === 'true' || value === '1'
    } else {
      params[key] = value
    }
  }
  validateParams({ ...DEFAULT_LAUNCH_SIM, ...params })
  return { params: params as Partial<LaunchSimParams>, json, timeline, ...(sweep ? { sweep: { peers: sweepPeers, highs: sweepHighs } } : {}) }
}

export function main (argv: string[]): CliResult {
  let parsed
  try {
    parsed = parseSimArgs(argv)
  } catch (err) {
    return { code: 2, stdout: '', stderr: `launch sim: ${(err as Error).message}\n` }
  }
  const t0 = performance.now()
  if (parsed.sweep !== undefined) {
    const rep = runUpperLimits({ base: parsed.params, peers: parsed.sweep.peers, highs: parsed.sweep.highs })
    const runtime = runtimeLine(t0)
    const ok = rep.rows.some((r) => r.pass)
    return { code: ok ? 0 : 1, stdout: parsed.json ? JSON.stringify(rep) + '\n' : formatSweep(rep), stderr: runtime }
  }
  const rep = runLaunchSim(parsed.params)
  const runtime = runtimeLine(t0)
  const pass = rep.peerExchange.pass && rep.connectionManagement.pass && rep.routing.pass && rep.upperLimits.pass
  const out = parsed.json
    ? JSON.stringify(parsed.timeline ? rep : { ...rep, timeline: undefined }) + '\n'
    : formatReport(rep, parsed.timeline)
  return { code: pass ? 0 : 1, stdout: out, stderr: runtime }
}

function runtimeLine (t0: number): string {
  return `wall ${((performance.now() - t0) / 1000).toFixed(1)} s, peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB\n`
}

const mark = (ok: boolean): string => ok ? 'PASS' : 'FAIL'

export function formatReport (r: LaunchSimReport, timeline = false): string {
  const p = r.params
  const px = r.peerExchange
  const cm = r.connectionManagement
  const rt = r.routing
  const ul = r.upperLimits
  const ms = r.meshStability
  const lines = [
    `launch sim: ${p.peers} light peers, ${p.bootstraps} bootstraps, ${p.relays} relays, ${p.arrivalWindowMs > 0 ? Math.round(p.peers / p.arrivalWindowMs * 1000) : p.arrivalRate} arrivals/s, watermarks ${p.low}/${p.high}, seed ${p.seed}`,
    `  ${r.run.events} events, ${(r.run.simTimeMs / 1000).toFixed(1)} s simulated (${r.run.stoppedBy}); routing from ${(r.run.routingStartMs / 1000).toFixed(1)} s`,
    `1 peer exchange        ${mark(px.pass)}  heartbeats on a bootstrap before PX: max ${px.heartbeatsOnBootstrap.max}, p99 ${px.heartbeatsOnBootstrap.p99} (${px.pxSent} PX, ${px.over3Heartbeats} over 3, ${px.graftsNeverPruned} never pruned)`,
    `                             mesh degree p50 ${px.meshDegree.p50}, min ${px.meshDegree.min}; ${px.peersBelowDlo} below Dlo=${p.Dlo}; time to mesh p50 ${px.timeToMeshMs.p50} ms, p99 ${px.timeToMeshMs.p99} ms`,
    `2 connection mgmt      ${mark(cm.pass)}  peak ${cm.peak} per bootstrap vs high ${cm.high}; ${cm.rejectedDials} dials refused; trims ${cm.bootstraps.reduce((a, b) => a + b.trimmed, 0)}, grace-period trims ${cm.bootstraps.reduce((a, b) => a + b.graceTrimmed, 0)}`,
    `3 routing              ${mark(rt.pass)}  ${rt.messages} messages, loss ${(rt.loss * 100).toFixed(4)}% (${rt.expectedDeliveries - rt.delivered} of ${rt.expectedDeliveries}), latency p50 ${rt.latencyMs.p50} ms, p99 ${rt.latencyMs.p99} ms, ${rt.duplicatesPerDelivery} duplicates/delivery`,
    `                             max hop ${rt.maxHop} (limit ${p.maxHops}, ${rt.hopLimitStops} stops), ${rt.deliveredByGossip} delivered by IHAVE/IWANT, ${rt.droppedByLossModel} dropped by the loss model`,
    `4 upper limits         ${mark(ul.pass)}  ${ul.neverReachedBootstrap} never reached a bootstrap, ${ul.reachedBootstrapNeverMeshed} reached one but never meshed (of ${ul.arrived})`,
    `  mesh stability       ${ms.graftsPerMinute} GRAFT/min, ${ms.prunesPerMinute} PRUNE/min after the last arrival (${ms.perThousandPeersPerMinute} per 1,000 peers per minute)`
  ]
  if (timeline) {
    lines.push('  t(s)   arrived   online  onBoot  meshed  bootConns  maxBoot  grafts  prunes')
    for (const t of r.timeline) {
      lines.push(`  ${(t.tMs / 1000).toFixed(0).padStart(4)} ${String(t.arrived).padStart(9)} ${String(t.online).padStart(8)} ${String(t.onBootstrap).padStart(7)} ${String(t.meshedDlo).padStart(7)} ${String(t.bootstrapConns).padStart(10)} ${String(t.maxBootstrapConns).padStart(8)} ${String(t.grafts).padStart(7)} ${String(t.prunes).padStart(7)}`)
    }
  }
  return lines.join('\n') + '\n'
}

export function formatSweep (r: UpperLimitsReport): string {
  const lines = [`upper limits: flood over ${r.arrivalWindowMs / 1000} s`, '   peers  high  low  rate/s  peak  refused  neverBoot  bootNoMesh  pxMax  meshP50  result']
  for (const x of r.rows) {
    lines.push(`  ${String(x.peers).padStart(6)} ${String(x.high).padStart(5)} ${String(x.low).padStart(4)} ${String(x.arrivalRate).padStart(7)} ${String(x.peak).padStart(5)} ${String(x.rejectedDials).padStart(8)} ${String(x.neverReachedBootstrap).padStart(10)} ${String(x.reachedBootstrapNeverMeshed).padStart(11)} ${String(x.pxMaxHeartbeats).padStart(6)} ${String(x.meshP50).padStart(8)}  ${mark(x.pass)}`)
  }
  lines.push('  lowest passing high per peer count: ' + r.minPassingHigh.map((x) => `${x.peers}: ${x.high ?? 'none'}`).join(', '))
  lines.push('  most peers passing per high:        ' + r.maxPassingPeers.map((x) => `${x.high}: ${x.peers ?? 'none'}`).join(', '))
  return lines.join('\n') + '\n'
}

if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const res = main(process.argv.slice(2))
  process.stdout.write(res.stdout)
  process.stderr.write(res.stderr)
  process.exitCode = res.code
}
