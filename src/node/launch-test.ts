/**
 * `lightpulse launch-test`: the bootstrap confirmation tests of the Quilibrium 2.0 launch, run with real
 * libp2p light peers on loopback against bootstraps it starts (real `lightpulse bootstrap` processes) or
 * given ones:
 *  1. peer exchange     — heartbeats a peer sits connected to a bootstrap before its PX PRUNE (max <= 3)
 *  2. connection mgmt   — an inbound flood never takes a bootstrap above its high watermark
 *  3. routing           — light peers + relays, mesh settled, peers publish in turn: no message lost
 *  4. upper limits      — sweep watermarks x peer counts, find where peers stop reaching bootstrap / mesh
 *  plus mesh stability  — GRAFT/PRUNE per minute once the peers are online.
 * Light peers run K per worker process (src/node/launch-worker.ts), talking JSON lines.
 * `--sim` runs the discrete-event simulation (src/sim/launch-sim.ts, if present) with the same report shape.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { peerIdOf } from '../peer/dialer.ts'
import { createNodeSigner } from '../crypto/node.ts'
import { computeNetworkId } from '../protocol/index.ts'
import type { NetworkConfig } from '../protocol/index.ts'
import { topicsFor } from '../peer/topics.ts'
import type { Topics } from '../peer/topics.ts'
import { DEFAULT_MESH } from '../peer/gossip-config.ts'
import type { MeshParams } from '../peer/gossip-config.ts'
import { DEFAULT_PX_HISTORY } from '../peer/px-history.ts'
import { networkToFile, loadNetwork, newSeed, ConfigError } from './files.ts'
import { parseExposition } from './metrics.ts'
import { siblingModule } from './paths.ts'
import type { WorkerConfig, NodeReport } from './launch-worker.ts'

const CLI = siblingModule(import.meta.url, 'cli')
const WORKER = siblingModule(import.meta.url, 'launch-worker')
const NODE_ARGS = ['--disable-warning=ExperimentalWarning']

export type TestName = 'peerExchange' | 'connectionManagement' | 'routing' | 'upperLimits' | 'meshStability'

export interface TestResult {
  pass: boolean
  /** Measured figures (numbers in ms, counts, or heartbeats as named). */
  figures: Record<string, number | string | boolean | null | Array<Record<string, number | string | boolean | null>>>
  notes: string[]
}

export interface LaunchReport {
  ok: boolean
  mode: 'real' | 'sim'
  config: Record<string, unknown>
  tests: Partial<Record<TestName, TestResult>>
  resources: Record<string, number>
  durationMs: number
}

export interface LaunchTestOptions {
  peers: number
  bootstraps: number
  /** Use these bootstraps (multiaddrs with /p2p/) instead of starting them; needs `networkFile`. */
  bootstrapAddrs: string[]
  /** Metrics URLs of given bootstraps (http://host:port/metrics), to check their watermark. */
  bootstrapMetrics: string[]
  networkFile?: string
  relays: number
  lowWatermark: number
  highWatermark: number
  gracePeriodMs: number
  bootstrapHeartbeatMs: number
  /** Bootstrap PX entries per PRUNE from its history of pruned peers (0 = gossipsub's own PX only). */
  pxHistory: number
  mesh: MeshParams
  /** Light peers hang up their bootstraps at this many other connections (0 = never). */
  releaseBootstrapsAt: number
  /** Bootstraps a light peer dials per attempt, at random. */
  bootstrapsPerPeer: number
  perWorker: number
  /** Light peer arrivals per second (all workers together). */
  arrivalRate: number
  publishers: number
  messagesPerPublisher: number
  publishGapMs: number
  /** Inbound connections in the flood (default 2 x high watermark). */
  flood: number
  sweepHigh: number[]
  sweepPeers: number[]
  settleTimeoutMs: number
  stabilityWindowMs: number
  tests: Set<TestName>
  log: (line: string) => void
  /** Settings given explicitly on the command line, in src/sim's parameter names (for --sim). */
  simOverrides: Record<string, unknown>
}

export function defaultOptions (peers = 40, relays = 5): LaunchTestOptions {
  // Light peers dial 2 bootstraps at random and hang them up once they have 6 other peers (the launch policy
  // the simulation favours); a peer left with fewer redials. Default sizing: enough bootstraps at <= 192 each
  // for 1.4 x the peers, so trimming happens but even peers that never get 6 others fit.
  const bootstraps = Math.max(2, Math.ceil((peers + relays) * 1.4 / 192))
  const high = Math.max(8, Math.min(192, Math.ceil((peers + relays) * 1.4 / bootstraps)))
  return {
    peers,
    bootstraps,
    bootstrapAddrs: [],
    bootstrapMetrics: [],
    relays,
    lowWatermark: Math.floor(high * 5 / 6),
    highWatermark: high,
    gracePeriodMs: 3_000,
    bootstrapHeartbeatMs: DEFAULT_MESH.heartbeatMs,
    pxHistory: DEFAULT_PX_HISTORY.fromHistory,
    mesh: { ...DEFAULT_MESH, D: 6, Dlo: 5, Dhi: 12 },
    releaseBootstrapsAt: 6,
    bootstrapsPerPeer: 2,
    perWorker: 50,
    arrivalRate: 5,
    publishers: 5,
    messagesPerPublisher: 2,
    publishGapMs: 250,
    flood: Math.min(400, high * 2),
    sweepHigh: [Math.max(4, Math.floor(high / 2)), high],
    sweepPeers: [Math.min(peers, 30)],
    settleTimeoutMs: 30_000 + peers * 100,
    stabilityWindowMs: 10_000,
    tests: new Set(['peerExchange', 'connectionManagement', 'routing', 'upperLimits', 'meshStability']),
    log: () => {},
    simOverrides: {}
  }
}

// ---------------------------------------------------------------- statistics

export function percentile (xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!
}
const round1 = (x: number): number => Math.round(x * 10) / 10
const round3 = (x: number): number => Math.round(x * 1000) / 1000
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

// ---------------------------------------------------------------- processes

interface LineProc {
  proc: ChildProcess
  events: Array<Record<string, unknown>>
  waiters: Array<{ pred: (e: Record<string, unknown>) => boolean, resolve: (e: Record<string, unknown>) => void }>
  stderr: string
  exited: boolean
}

function spawnLines (args: string[], label: string): LineProc {
  const proc = spawn(process.execPath, [...NODE_ARGS, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  const lp: LineProc = { proc, events: [], waiters: [], stderr: '', exited: false }
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    if (!line.startsWith('{')) return
    let e: Record<string, unknown>
    try { e = JSON.parse(line) as Record<string, unknown> } catch { return }
    const w = lp.waiters.findIndex((x) => x.pred(e))
    if (w >= 0) { const [x] = lp.waiters.splice(w, 1); x!.resolve(e); return }
    lp.events.push(e)
    if (lp.events.length > 1_000) lp.events.shift()
  })
  proc.stderr!.on('data', (d: Buffer) => { lp.stderr = (lp.stderr + d.toString()).slice(-4_000) })
  proc.on('exit', () => { lp.exited = true })
  proc.stdin!.on('error', () => {})
  void label
  return lp
}

async function nextEvent (lp: LineProc, pred: (e: Record<string, unknown>) => boolean, timeoutMs: number, what: string): Promise<Record<string, unknown>> {
  const i = lp.events.findIndex(pred)
  if (i >= 0) return lp.events.splice(i, 1)[0]!
  return await new Promise((resolve, reject) => {
    const entry = { pred, resolve: (e: Record<string, unknown>) => { clearTimeout(t); resolve(e) } }
    const t = setTimeout(() => {
      lp.waiters.splice(lp.waiters.indexOf(entry), 1)
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lp.exited ? ' (process exited)' : ''}; stderr: ${lp.stderr.slice(-800)}`))
    }, timeoutMs)
    lp.waiters.push(entry)
  })
}

function send (lp: LineProc, cmd: Record<string, unknown>): void {
  if (!lp.exited) lp.proc.stdin!.write(JSON.stringify(cmd) + '\n')
}

async function stopProc (lp: LineProc, graceMs = 5_000): Promise<void> {
  if (lp.exited) return
  const done = new Promise<void>((resolve) => { lp.proc.once('exit', () => { resolve() }) })
  lp.proc.kill('SIGTERM')
  const t = setTimeout(() => { lp.proc.kill('SIGKILL') }, graceMs)
  await done
  clearTimeout(t)
}

interface BootstrapProc { lp?: LineProc, peerId: string, addr: string, metricsUrl?: string, low?: number, high?: number }

interface Worker { lp: LineProc, cfg: WorkerConfig }

/** Reads a node's /metrics; a bootstrap busy with a flood may answer late, so up to 3 tries of 10 s. */
async function scrape (url: string): Promise<Map<string, number>> {
  let last: unknown
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(10_000) })
      return parseExposition(await res.text())
    } catch (err) { last = err }
  }
  throw new Error(`metrics at ${url} did not answer in 3 tries: ${String(last)}`)
}

/** Runs one confirmation test; an error becomes a failed result with the reason, so the others still report. */
async function guarded (name: string, fn: () => Promise<TestResult>): Promise<TestResult> {
  try {
    return await fn()
  } catch (err) {
    return { pass: false, figures: {}, notes: [`${name} could not complete: ${err instanceof Error ? err.message : String(err)}`] }
  }
}

/** Polls bootstraps' metrics, keeping the highest connection count seen on each. */
class Scraper {
  readonly maxSeen = new Map<string, number>()
  private timer?: ReturnType<typeof setInterval>
  private readonly urls: string[]
  constructor (urls: string[]) { this.urls = urls }
  start (ms = 200): void {
    this.timer = setInterval(() => {
      for (const u of this.urls) {
        scrape(u).then((m) => {
          const c = m.get('lightpulse_connections') ?? 0
          this.maxSeen.set(u, Math.max(this.maxSeen.get(u) ?? 0, c))
        }, () => {})
      }
    }, ms)
  }

  stop (): void { if (this.timer !== undefined) clearInterval(this.timer) }
}

// ---------------------------------------------------------------- the run

class Run {
  readonly o: LaunchTestOptions
  dir = ''
  networkFile = ''
  network!: NetworkConfig
  topics!: Topics
  topic = ''
  bootstraps: BootstrapProc[] = []
  workers: Worker[] = []
  private extraBootstraps: BootstrapProc[] = []
  /** Worst event-loop lag seen in a worker (a measure of CPU starvation). */
  maxLagMs = 0

  constructor (o: LaunchTestOptions) { this.o = o }

  async setup (): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'lightpulse-launch-'))
    if (this.o.networkFile !== undefined) {
      this.networkFile = this.o.networkFile
      this.network = await loadNetwork(this.o.networkFile)
    } else {
      this.network = {
        name: `launch-test-${process.pid}-${Date.now()}`,
        preset: 'devnet',
        releaseSigners: [createNodeSigner(newSeed()).publicKey],
        releaseThreshold: 1,
        genesisValidators: Array.from({ length: 12 }, () => createNodeSigner(newSeed()).publicKey)
      }
      this.networkFile = join(this.dir, 'network.json')
      await writeFile(this.networkFile, JSON.stringify(networkToFile(this.network), null, 2))
    }
    this.topics = topicsFor(computeNetworkId(this.network))
    // The transactions topic: bootstraps subscribe (needed for PX) and, the network being locked, IGNORE
    // what arrives there (no penalty), so test payloads do not get light peers blocked.
    this.topic = this.topics.txs
  }

  async startBootstrap (name: string, low: number, high: number, others: string[]): Promise<BootstrapProc> {
    const lp = spawnLines([CLI, 'bootstrap', '--network', this.networkFile, '--data', join(this.dir, name), '--events', '--quiet',
      '--low-watermark', String(low), '--high-watermark', String(high), '--grace-period-ms', String(this.o.gracePeriodMs),
      '--heartbeat-ms', String(this.o.bootstrapHeartbeatMs), '--px-history', String(this.o.pxHistory), '--metrics-port', '0', '--local', ...others.flatMap((b) => ['--bootstrap', b])], name)
    const ready = await nextEvent(lp, (e) => e.ev === 'ready', 30_000, `${name} ready`)
    const addrs = ready.addrs as string[]
    const addr = addrs.find((a) => a.includes('/tcp/') && !a.includes('/ws'))!
    const bp: BootstrapProc = { lp, peerId: ready.peerId as string, addr: addr.includes('/p2p/') ? addr : `${addr}/p2p/${String(ready.peerId)}`, metricsUrl: `http://127.0.0.1:${String(ready.metricsPort)}/metrics`, low, high }
    return bp
  }

  async startBootstraps (): Promise<void> {
    if (this.o.bootstrapAddrs.length > 0) {
      this.bootstraps = this.o.bootstrapAddrs.map((a, i) => {
        const id = peerIdOf(a)
        if (id === undefined) throw new ConfigError('CONFIG_INVALID', `--bootstrap ${a} has no /p2p/ peer id`)
        return { peerId: id, addr: a, ...(this.o.bootstrapMetrics[i] !== undefined ? { metricsUrl: this.o.bootstrapMetrics[i] } : {}) }
      })
      for (const b of this.bootstraps) {
        if (b.metricsUrl === undefined) continue
        const m = await scrape(b.metricsUrl).catch(() => undefined)
        const h = m?.get('lightpulse_connections_high_watermark')
        const l = m?.get('lightpulse_connections_low_watermark')
        if (h !== undefined) b.high = h
        if (l !== undefined) b.low = l
      }
      return
    }
    for (let i = 0; i < this.o.bootstraps; i++) {
      this.bootstraps.push(await this.startBootstrap(`bootstrap-${i}`, this.o.lowWatermark, this.o.highWatermark, this.bootstraps.map((b) => b.addr)))
    }
  }

  async startWorker (role: WorkerConfig['role'], count: number, base: number, arrivalMs: number, bootstraps: string[], target?: string): Promise<Worker> {
    const cfg: WorkerConfig = { role, count, base, bootstraps, topics: this.topics, topic: this.topic, mesh: this.o.mesh, arrivalMs, bootstrapHeartbeatMs: this.o.bootstrapHeartbeatMs, releaseBootstrapsAt: this.o.releaseBootstrapsAt, bootstrapsPerPeer: this.o.bootstrapsPerPeer, ...(target !== undefined ? { target } : {}) }
    const lp = spawnLines([WORKER, JSON.stringify(cfg)], `${role}-${base}`)
    const w = { lp, cfg }
    this.workers.push(w)
    return w
  }

  async report (w: Worker, opts: { reset?: boolean, received?: boolean } = {}): Promise<{ nodes: NodeReport[], rss: number, heapUsed: number, lagMs: number }> {
    send(w.lp, { cmd: 'report', ...opts })
    return await nextEvent(w.lp, (e) => e.ev === 'report', 120_000, 'report') as unknown as { nodes: NodeReport[], rss: number, heapUsed: number, lagMs: number }
  }

  async reportAll (opts: { reset?: boolean, received?: boolean } = {}): Promise<{ nodes: NodeReport[], rss: number, heapUsed: number, maxLagMs: number }> {
    const rs = await Promise.all(this.workers.filter((w) => w.cfg.role !== 'flood' && !w.lp.exited).map(async (w) => await this.report(w, opts)))
    return { nodes: rs.flatMap((r) => r.nodes), rss: rs.reduce((a, r) => a + r.rss, 0), heapUsed: rs.reduce((a, r) => a + r.heapUsed, 0), maxLagMs: Math.max(0, ...rs.map((r) => r.lagMs)) }
  }

  async stopWorkers (ws = this.workers): Promise<void> {
    await Promise.all(ws.map(async (w) => { send(w.lp, { cmd: 'stop' }); await sleep(0); await stopProc(w.lp, 8_000) }))
    this.workers = this.workers.filter((w) => !ws.includes(w))
  }

  async teardown (): Promise<void> {
    await this.stopWorkers()
    await Promise.all([...this.bootstraps, ...this.extraBootstraps].map(async (b) => { if (b.lp !== undefined) await stopProc(b.lp) }))
    if (this.o.networkFile === undefined || !this.networkFile.startsWith(this.dir)) await rm(this.dir, { recursive: true, force: true }).catch(() => {})
  }

  /** Starts `peers` light peers over ceil(peers / perWorker) workers at the arrival rate; resolves when all started. */
  async spawnLights (peers: number, base: number, bootstraps: string[], rate: number): Promise<{ workers: Worker[], startMs: number, rss: number }> {
    const nw = Math.max(1, Math.ceil(peers / this.o.perWorker))
    const per = Math.ceil(peers / nw)
    const arrivalMs = Math.round(1000 * nw / Math.max(1, rate))
    const t0 = Date.now()
    const ws: Worker[] = []
    for (let k = 0, left = peers; k < nw && left > 0; k++) {
      const n = Math.min(per, left)
      left -= n
      ws.push(await this.startWorker('light', n, base + k * per, arrivalMs, bootstraps))
    }
    // Node creation is CPU-bound (keys, noise handshakes): allow 3 s per node per worker on a loaded machine.
    const progress = setInterval(() => { this.o.log(`starting light peers: ${ws.reduce((a, w) => a + w.lp.events.filter((e) => e.ev === 'ready').length, 0)}/${peers} up after ${Math.round((Date.now() - t0) / 1000)} s`) }, 10_000)
    const readies = await Promise.all(ws.map(async (w) => await nextEvent(w.lp, (e) => e.ev === 'all-ready', 120_000 + per * 3_000, 'light peers started'))).finally(() => { clearInterval(progress) })
    for (const w of ws) w.lp.events = w.lp.events.filter((e) => e.ev !== 'ready')
    return { workers: ws, startMs: Date.now() - t0, rss: readies.reduce((a, e) => a + Number(e.rss), 0) }
  }

  async runReal (): Promise<LaunchReport> {
    const o = this.o
    const t0 = Date.now()
    const tests: Partial<Record<TestName, TestResult>> = {}
    const resources: Record<string, number> = {}
    await this.setup()
    await this.startBootstraps()
    const bAddrs = this.bootstraps.map((b) => b.addr)
    o.log(`bootstraps: ${this.bootstraps.map((b) => b.addr).join(' ')}`)
    const scraper = new Scraper(this.bootstraps.map((b) => b.metricsUrl).filter((u): u is string => u !== undefined))
    scraper.start()
    try {
      // ---- relays, then light peers arrive
      const needNet = o.tests.has('peerExchange') || o.tests.has('routing') || o.tests.has('meshStability')
      let lights: NodeReport[] = []
      if (needNet) {
        if (o.relays > 0) {
          const rw = await this.startWorker('relay', o.relays, 1_000_000, 50, bAddrs)
          await nextEvent(rw.lp, (e) => e.ev === 'all-ready', 60_000, 'relays started')
        }
        const memBefore = (await this.reportAll({ received: false })).rss
        const spawned = await this.spawnLights(o.peers, 0, bAddrs, o.arrivalRate)
        o.log(`${o.peers} light peers started in ${spawned.startMs} ms`)
        resources.lightPeers = o.peers
        resources.lightStartMs = spawned.startMs
        resources.workerRssBytes = spawned.rss
        // ---- settle: most peers meshed and churn low
        const settled = await this.settle(o.peers + o.relays)
        o.log(`mesh settled=${String(settled.settled)} after ${settled.ms} ms`)
        const rep = await this.reportAll({ received: false, reset: true })
        lights = rep.nodes
        const relayRss = this.workers.filter((w) => w.cfg.role === 'relay').length > 0 ? 0 : 0
        resources.memoryPerLightPeerBytes = Math.round((rep.rss - memBefore - relayRss) / Math.max(1, o.peers))
        resources.workersRssBytes = rep.rss
        resources.settleMs = settled.ms
        resources.workerMaxEventLoopLagMs = this.maxLagMs
        // One scrape per bootstrap: its CPU, and its own count of PX on arrival (subscribers PRUNEd unasked, and
        // given up for lack of a stream).
        const cpu: number[] = []
        const onArrival = { sent: 0, noStream: 0 }
        for (const b of this.bootstraps) {
          if (b.metricsUrl === undefined) continue
          const m = await scrape(b.metricsUrl).catch(() => new Map<string, number>())
          cpu.push(m.get('process_cpu_seconds_total') ?? 0)
          onArrival.sent += m.get('lightpulse_px_on_arrival_total{outcome="sent"}') ?? 0
          onArrival.noStream += m.get('lightpulse_px_on_arrival_total{outcome="no_stream"}') ?? 0
        }
        if (cpu.length > 0) resources.bootstrapCpuSecondsMax = round1(Math.max(...cpu))
        if (o.tests.has('peerExchange')) tests.peerExchange = this.peerExchange(lights, settled, onArrival)
        if (o.tests.has('meshStability')) {
          await this.reportAll({ received: false, reset: true })
          const w0 = Date.now()
          await sleep(o.stabilityWindowMs)
          const after = await this.reportAll({ received: false, reset: true })
          const churn = after.nodes.reduce((a, n) => a + n.churn, 0)
          const perMin = churn * 60_000 / (Date.now() - w0)
          const perPeerPerMin = perMin / Math.max(1, after.nodes.length)
          tests.meshStability = {
            pass: perPeerPerMin <= 2,
            figures: { graftPrunePerMinute: round1(perMin), perPeerPerMinute: round1(perPeerPerMin), windowMs: Date.now() - w0, peers: after.nodes.length },
            notes: ['GRAFT+PRUNE events seen by the light peers and relays after the mesh settled; pass if <= 2 per peer per minute']
          }
        }
        if (o.tests.has('routing')) tests.routing = await guarded('routing', async () => await this.routing())
      }
      if (o.tests.has('connectionManagement')) tests.connectionManagement = await guarded('connection management', async () => await this.connectionManagement(scraper))
      scraper.stop()
      if (needNet) await this.stopWorkers()
      if (o.tests.has('upperLimits')) tests.upperLimits = await guarded('upper limits', async () => await this.upperLimits())
    } finally {
      scraper.stop()
      await this.teardown()
    }
    const ok = Object.values(tests).every((t) => t.pass)
    return { ok, mode: 'real', config: this.configSummary(), tests, resources, durationMs: Date.now() - t0 }
  }

  configSummary (): Record<string, unknown> {
    const o = this.o
    return {
      peers: o.peers, bootstraps: this.bootstraps.length, relays: o.relays, lowWatermark: o.lowWatermark, highWatermark: o.highWatermark,
      gracePeriodMs: o.gracePeriodMs, bootstrapHeartbeatMs: o.bootstrapHeartbeatMs, pxHistory: o.pxHistory, mesh: o.mesh,
      releaseBootstrapsAt: o.releaseBootstrapsAt, bootstrapsPerPeer: o.bootstrapsPerPeer, perWorker: o.perWorker, arrivalRate: o.arrivalRate
    }
  }

  async settle (expected: number): Promise<{ settled: boolean, ms: number }> {
    const t0 = Date.now()
    let calm = 0
    while (Date.now() - t0 < this.o.settleTimeoutMs) {
      await sleep(2_000)
      const r = await this.reportAll({ received: false, reset: true })
      const meshed = r.nodes.filter((n) => n.mesh >= Math.min(this.o.mesh.Dlo, expected - 1)).length
      const churn = r.nodes.reduce((a, n) => a + n.churn, 0)
      const dist = (f: (n: NodeReport) => number): string => { const xs = r.nodes.map(f); return `${Math.min(...xs)}/${percentile(xs, 50)}/${Math.max(...xs)}` }
      this.o.log(`settle: ${meshed}/${r.nodes.length} meshed >= Dlo, churn ${churn} in the last poll; min/p50/max mesh ${dist((n) => n.mesh)} topic peers ${dist((n) => n.topicPeers)} connections ${dist((n) => n.connections)}; worst worker event-loop lag ${r.maxLagMs} ms`)
      this.maxLagMs = Math.max(this.maxLagMs, r.maxLagMs)
      if (meshed >= 0.95 * r.nodes.length && churn <= Math.max(4, r.nodes.length * 0.1)) calm++
      else calm = 0
      if (calm >= 2) return { settled: true, ms: Date.now() - t0 }
    }
    return { settled: false, ms: Date.now() - t0 }
  }

  peerExchange (nodes: NodeReport[], settled: { settled: boolean }, onArrival?: { sent: number, noStream: number }): TestResult {
    const hb = this.o.bootstrapHeartbeatMs
    const lights = nodes
    const first = lights.flatMap((n) => n.prunes.filter((p) => p.sinceConnectMs !== null).map((p) => p.sinceConnectMs! / hb))
    const all = lights.flatMap((n) => n.prunes)
    const withPx = all.filter((p) => p.px > 0).length
    const graftToPrune = all.map((p) => p.sinceGraftMs).filter((x): x is number => x !== null)
    // Where the time from connection to PRUNE goes: the peer's side (connection, identify, gossipsub stream,
    // its own heartbeat, its GRAFT) and the bootstrap's side (GRAFT to PRUNE).
    const connectToGraft = all.filter((p) => p.sinceConnectMs !== null && p.sinceGraftMs !== null).map((p) => p.sinceConnectMs! - p.sinceGraftMs!)
    const stuck = lights.flatMap((n) => n.openGrafts).filter((ms) => ms > 3 * hb)
    const meshes = lights.map((n) => n.mesh)
    const reached = lights.filter((n) => n.reachedBootstrap).length
    const max = first.length > 0 ? Math.max(...first) : Number.NaN
    const pass = first.length > 0 && max <= 3 && stuck.length === 0
    const notes = [
      'heartbeats = time from the bootstrap connection opening to the PRUNE (with PX) arriving, in bootstrap heartbeats',
      'connectToGraft is the light peer\'s share (connection, identify, gossipsub stream, its heartbeat); graftToPrune the bootstrap\'s',
      'a peer whose mesh was already full when it met a bootstrap never GRAFTs it and is not counted',
      'pxOnArrival*: PRUNEs the bootstraps sent to subscribers unasked, and subscribers given up for want of a gossipsub stream',
      'prunesWithoutPxAfterPx: PRUNEs without PX from a bootstrap that had already given this peer PX within the backoff (the answer to a GRAFT that crossed that PRUNE)'
    ]
    if (!settled.settled) notes.push('the mesh did not settle within the settle timeout')
    return {
      pass,
      figures: {
        peers: lights.length,
        reachedBootstrap: reached,
        pruned: first.length,
        maxHeartbeats: round1(max),
        p99Heartbeats: round1(percentile(first, 99)),
        p50Heartbeats: round1(percentile(first, 50)),
        graftToPruneP50Ms: round1(percentile(graftToPrune, 50)),
        graftToPruneP99Ms: round1(percentile(graftToPrune, 99)),
        graftToPruneMaxHeartbeats: round1(graftToPrune.length > 0 ? Math.max(...graftToPrune) / hb : Number.NaN),
        connectToGraftP50Ms: round1(percentile(connectToGraft, 50)),
        connectToGraftP99Ms: round1(percentile(connectToGraft, 99)),
        peersWithPx: lights.filter((n) => n.prunes.some((p) => p.px > 0)).length,
        prunesWithPx: withPx,
        prunesWithoutPx: all.length - withPx,
        // Of those, answers to a GRAFT that crossed this bootstrap's PRUNE with PX (already delivered): harmless.
        prunesWithoutPxAfterPx: all.filter((p) => p.px === 0 && p.afterPx).length,
        stuckGrafts: stuck.length,
        meshDegreeMin: Math.min(...meshes),
        meshDegreeP50: percentile(meshes, 50),
        meshDegreeMean: round1(meshes.reduce((a, b) => a + b, 0) / Math.max(1, meshes.length)),
        meshAtLeastDlo: meshes.filter((m) => m >= this.o.mesh.Dlo).length,
        ...(onArrival !== undefined ? { pxOnArrivalSent: onArrival.sent, pxOnArrivalNoStream: onArrival.noStream } : {})
      },
      notes
    }
  }

  async routing (): Promise<TestResult> {
    const o = this.o
    const before = await this.reportAll({ received: false })
    const dup0 = before.nodes.reduce((a, n) => a + n.duplicates, 0)
    const lightsByWorker = this.workers.filter((w) => w.cfg.role === 'light')
    const pubs: Array<{ w: Worker, i: number }> = []
    for (let k = 0; k < o.publishers; k++) {
      const w = lightsByWorker[k % lightsByWorker.length]!
      pubs.push({ w, i: w.cfg.base + Math.floor(k / lightsByWorker.length) * 7 % w.cfg.count })
    }
    const relay = this.workers.find((w) => w.cfg.role === 'relay')
    if (relay !== undefined) pubs.push({ w: relay, i: relay.cfg.base })
    const ids: Array<{ id: string, from: string }> = []
    const errors: string[] = []
    const publisherOf = new Map<string, number>()
    for (const p of pubs) {
      for (let m = 0; m < o.messagesPerPublisher; m++) {
        const id = `m${p.i}-${m}-${Date.now()}`
        publisherOf.set(id, p.i)
        send(p.w.lp, { cmd: 'publish', i: p.i, id })
        const ack = await nextEvent(p.w.lp, (e) => e.ev === 'published' && e.id === id, 30_000, `publish ack ${id}`).catch((err: Error) => ({ error: err.message.slice(0, 120) }) as Record<string, unknown>)
        if (ack.error !== undefined) errors.push(`${id}: ${String(ack.error)}`)
        ids.push({ id, from: String(p.i) })
        await sleep(o.publishGapMs)
      }
    }
    // Wait for deliveries (poll until complete or 10 s).
    let rep = await this.reportAll()
    const deadline = Date.now() + 10_000
    const missing = (): number => rep.nodes.reduce((a, n) => a + ids.filter((x) => publisherOf.get(x.id) !== n.i && n.received[x.id] === undefined).length, 0)
    while (missing() > 0 && Date.now() < deadline) { await sleep(1_000); rep = await this.reportAll() }
    const lost = missing()
    const lat: number[] = []
    for (const n of rep.nodes) for (const x of ids) if (publisherOf.get(x.id) !== n.i && n.received[x.id] !== undefined) lat.push(n.received[x.id]!)
    const dups = rep.nodes.reduce((a, n) => a + n.duplicates, 0) - dup0
    const expected = ids.length * (rep.nodes.length - 1)
    return {
      pass: lost === 0 && errors.length === 0,
      figures: {
        subscribers: rep.nodes.length,
        messages: ids.length,
        expectedDeliveries: expected,
        delivered: lat.length,
        lost,
        latencyP50Ms: round1(percentile(lat, 50)),
        latencyP99Ms: round1(percentile(lat, 99)),
        latencyMaxMs: round1(lat.length > 0 ? Math.max(...lat) : Number.NaN),
        duplicates: dups,
        duplicatesPerDelivery: round1(dups / Math.max(1, lat.length)),
        publishErrors: errors.length
      },
      notes: [`each of ${pubs.length} publishers (${o.publishers} light peers and one relay) published ${o.messagesPerPublisher} messages in turn, ${o.publishGapMs} ms apart`, 'duplicates: extra copies received at the gossipsub layer (dropped by its seen cache)', ...errors.slice(0, 3)]
    }
  }

  async connectionManagement (scraper: Scraper): Promise<TestResult> {
    const b = this.bootstraps[0]!
    const high = b.high
    const notes: string[] = []
    if (b.metricsUrl === undefined || high === undefined) {
      return { pass: false, figures: {}, notes: ['no metrics URL for the bootstrap: pass --bootstrap-metrics URL to check a given bootstrap'] }
    }
    const before = await scrape(b.metricsUrl)
    const flood = Math.min(this.o.flood, 1_000)
    const w = await this.startWorker('flood', flood, 2_000_000, 0, [], b.addr)
    await nextEvent(w.lp, (e) => e.ev === 'all-ready', 120_000, 'flood nodes created')
    const local = new Scraper([b.metricsUrl])
    local.start(50)
    const res = await nextEvent(w.lp, (e) => e.ev === 'flood', 120_000, 'flood result')
    await sleep(1_000)
    local.stop()
    const after = await scrape(b.metricsUrl)
    await this.stopWorkers([w])
    const peak = after.get('lightpulse_connections_peak') ?? Number.NaN
    const breaches = (after.get('lightpulse_connections_high_watermark_breaches_total') ?? 0) - (before.get('lightpulse_connections_high_watermark_breaches_total') ?? 0)
    const denied = (after.get('lightpulse_connections_denied_total{direction="inbound"}') ?? 0) - (before.get('lightpulse_connections_denied_total{direction="inbound"}') ?? 0)
    const scrapedMax = Math.max(local.maxSeen.get(b.metricsUrl) ?? 0, ...[...scraper.maxSeen.values()])
    const allPeaks: number[] = []
    for (const x of this.bootstraps) {
      if (x.metricsUrl === undefined) continue
      const m = await scrape(x.metricsUrl).catch(() => undefined)
      if (m !== undefined) allPeaks.push(m.get('lightpulse_connections_peak') ?? 0)
    }
    notes.push(`${flood} connections dialed at once at bootstrap-0 (high watermark ${high}); peak is the bootstrap's own count at every connection:open, scrapedMax from its /metrics every 50-200 ms over the whole run`)
    return {
      pass: peak <= high && breaches === 0 && scrapedMax <= high,
      figures: {
        highWatermark: high,
        lowWatermark: b.low ?? null,
        flood,
        floodUpgraded: Number(res.upgraded),
        floodStillOpen: Number(res.stillOpen),
        floodMs: Number(res.ms),
        peakConnections: peak,
        peakAllBootstraps: allPeaks.length > 0 ? Math.max(...allPeaks) : null,
        scrapedMax,
        breaches,
        deniedInbound: denied,
        trims: after.get('lightpulse_connection_trims_total') ?? 0,
        trimmed: after.get('lightpulse_connections_trimmed_total') ?? 0
      },
      notes
    }
  }

  async upperLimits (): Promise<TestResult> {
    const o = this.o
    if (o.bootstrapAddrs.length > 0) return { pass: true, figures: {}, notes: ['skipped: the watermark sweep needs bootstraps this command starts (not --bootstrap)'] }
    const rows: Array<Record<string, number | string | boolean | null>> = []
    let breaking: Record<string, number | string | boolean | null> | null = null
    let base = 3_000_000
    for (const high of o.sweepHigh) {
      for (const peers of o.sweepPeers) {
        const low = Math.max(1, Math.floor(high * 5 / 6))
        const b = await this.startBootstrap(`sweep-${high}-${peers}`, low, high, [])
        this.extraBootstraps.push(b)
        const t0 = Date.now()
        const sp = await this.spawnLights(peers, base, [b.addr], Math.max(o.arrivalRate, peers / 2))
        base += 100_000
        // Wait until every peer reached the bootstrap and the mesh, or the window (30 s + 100 ms per peer) ends.
        const until = Date.now() + 30_000 + peers * 100
        let r = await this.reportAll({ received: false })
        while (Date.now() < until && !r.nodes.every((n) => n.reachedBootstrap && n.mesh >= 1)) {
          await sleep(2_000)
          r = await this.reportAll({ received: false })
        }
        const m = await scrape(b.metricsUrl!).catch(() => new Map<string, number>())
        const reached = r.nodes.filter((n) => n.reachedBootstrap).length
        const meshed = r.nodes.filter((n) => n.mesh >= 1).length
        const full = r.nodes.filter((n) => n.mesh >= Math.min(o.mesh.Dlo, peers - 1)).length
        const row = {
          high, low, peers, reachedBootstrap: reached, meshed, meshAtLeastDlo: full,
          peak: m.get('lightpulse_connections_peak') ?? null, deniedInbound: m.get('lightpulse_connections_denied_total{direction="inbound"}') ?? null,
          pxPeersSent: m.get('lightpulse_gossip_px_peers_total{direction="sent"}') ?? null, ms: Date.now() - t0
        }
        rows.push(row)
        o.log(`sweep: ${JSON.stringify(row)}`)
        await this.stopWorkers(sp.workers)
        if (b.lp !== undefined) await stopProc(b.lp)
        this.extraBootstraps = this.extraBootstraps.filter((x) => x !== b)
        if (breaking === null && (reached < peers || meshed < peers)) breaking = row
      }
    }
    const last = rows[rows.length - 1]
    return {
      pass: last !== undefined && last.reachedBootstrap === last.peers && last.meshed === last.peers,
      figures: { sweep: rows, breakingPoint: breaking === null ? 'none within the sweep' : `high=${String(breaking.high)} peers=${String(breaking.peers)}` },
      notes: ['one fresh bootstrap per row; "meshed" = peers with >= 1 mesh peer after the window; breaking point = first row where a peer never reached the bootstrap or the mesh', 'pass: at the largest setting every peer reached the bootstrap and the mesh']
    }
  }
}

// ---------------------------------------------------------------- simulation

export async function runSim (o: LaunchTestOptions, simPeers: number, matched?: Record<string, unknown>): Promise<LaunchReport | { error: string }> {
  const mod = await import('../sim/launch-sim.ts') as { runLaunchSim?: (opts: Record<string, unknown>) => unknown }
  if (typeof mod.runLaunchSim !== 'function') return { error: 'src/sim/launch-sim does not export runLaunchSim' }
  const t0 = Date.now()
  // Only what the user set explicitly is passed; the simulation keeps its own launch-scale defaults otherwise.
  const params: Record<string, unknown> = matched ?? { peers: simPeers, ...o.simOverrides }
  const raw = await mod.runLaunchSim(params) as Record<string, unknown>
  return normalizeSim(raw, Date.now() - t0)
}

/**
 * The simulation's parameters for the run `o` describes: same peers, relays, bootstraps, watermarks, grace
 * period, PX history, light-peer dial policy, mesh degrees, arrival rate and publishers, with a loopback
 * latency model. `bootstraps` is the number the real run used.
 */
export function simParamsFor (o: LaunchTestOptions, bootstraps: number): Record<string, unknown> {
  return {
    peers: o.peers,
    bootstraps,
    relays: o.relays,
    arrivalRate: o.arrivalRate,
    high: o.highWatermark,
    low: o.lowWatermark,
    graceMs: o.gracePeriodMs,
    pxFromHistory: o.pxHistory,
    releaseBootstrapAt: o.releaseBootstrapsAt,
    bootstrapsPerPeer: o.bootstrapsPerPeer,
    minPeers: 6,
    peerMaxConns: 64,
    D: o.mesh.D,
    Dlo: o.mesh.Dlo,
    Dhi: o.mesh.Dhi,
    Dout: Math.min(2, Math.floor(o.mesh.D / 2)),
    // PX timing is judged in bootstrap heartbeats; the sim has one heartbeat for every node.
    heartbeatMs: o.bootstrapHeartbeatMs,
    prunePeers: o.mesh.prunePeers,
    pruneBackoffMs: o.mesh.pruneBackoffMs,
    dialTimeoutMs: 30_000,
    // Loopback: sub-millisecond links; the real cost per hop is CPU (validation, muxing, the event loop).
    latencyMedianMs: 0.5,
    latencySigma: 0.5,
    msgProcMs: 2,
    relayedFraction: 0,
    // One relay publishes too in the real test.
    publishers: o.publishers + (o.relays > 0 ? 1 : 0),
    messagesPerPublisher: o.messagesPerPublisher,
    publishIntervalMs: o.publishGapMs,
    settleMs: 20_000
  }
}

export interface Agreement {
  /** Every judged row agrees. */
  agree: boolean
  rows: Array<{ figure: string, real: number | boolean | null, sim: number | boolean | null, rule: string, agree: boolean | null }>
}

/**
 * Compares a real and a simulated report of the same configuration. Judged: the pass/fail verdict of each
 * test both ran, and the figures the simulation models closely (PX heartbeats p50, mesh degree within
 * [Dlo, Dhi], share of peers below Dlo, routing loss). Shown but not judged: delivery latency and duplicates (on loopback they are set by
 * CPU contention, which the simulation does not model).
 */
export function compareReports (real: LaunchReport, sim: LaunchReport, Dlo: number, Dhi: number): Agreement {
  const rows: Agreement['rows'] = []
  const num = (r: LaunchReport, t: TestName, f: string): number | null => {
    const v = r.tests[t]?.figures[f]
    return typeof v === 'number' && Number.isFinite(v) ? v : null
  }
  const judge = (figure: string, a: number | null, b: number | null, rule: string, ok: (a: number, b: number) => boolean): void => {
    rows.push({ figure, real: a, sim: b, rule, agree: a === null || b === null ? false : ok(a, b) })
  }
  for (const t of ['peerExchange', 'connectionManagement', 'routing', 'meshStability'] as TestName[]) {
    const a = real.tests[t]
    const b = sim.tests[t]
    if (a === undefined || b === undefined) continue
    rows.push({ figure: `${t}.pass`, real: a.pass, sim: b.pass, rule: 'same verdict', agree: a.pass === b.pass })
  }
  if (real.tests.peerExchange !== undefined && sim.tests.peerExchange !== undefined) {
    judge('peerExchange.p50Heartbeats', num(real, 'peerExchange', 'p50Heartbeats'), num(sim, 'peerExchange', 'p50Heartbeats'), '|real - sim| <= 1.5', (a, b) => Math.abs(a - b) <= 1.5)
    // gossipsub's Dout top-up and opportunistic grafting (not simulated) push real meshes above D: judge the band.
    judge('peerExchange.meshDegreeP50', num(real, 'peerExchange', 'meshDegreeP50'), num(sim, 'peerExchange', 'meshDegreeP50'), `both in [Dlo, Dhi] = [${Dlo}, ${Dhi}]`, (a, b) => a >= Dlo && a <= Dhi && b >= Dlo && b <= Dhi)
    const realPeers = num(real, 'peerExchange', 'peers')
    const realAtLeast = num(real, 'peerExchange', 'meshAtLeastDlo')
    const realBelow = realPeers !== null && realAtLeast !== null && realPeers > 0 ? (realPeers - realAtLeast) / realPeers : null
    const simBelow = num(sim, 'peerExchange', 'peersBelowDlo')
    const simPeers = Number(sim.config.peers) + Number(sim.config.relays ?? 0)
    judge(`peerExchange.shareBelowDlo(${Dlo})`, realBelow === null ? null : round3(realBelow), simBelow === null ? null : round3(simBelow / Math.max(1, simPeers)), '|real - sim| <= 0.1', (a, b) => Math.abs(a - b) <= 0.1)
  }
  if (real.tests.routing !== undefined && sim.tests.routing !== undefined) {
    const lost = num(real, 'routing', 'lost')
    const exp = num(real, 'routing', 'expectedDeliveries')
    judge('routing.lossFraction', lost === null || exp === null ? null : round3(lost / Math.max(1, exp)), num(sim, 'routing', 'lossFraction'), '|real - sim| <= 0.01', (a, b) => Math.abs(a - b) <= 0.01)
    for (const f of ['latencyP50Ms', 'latencyP99Ms', 'duplicatesPerDelivery']) rows.push({ figure: `routing.${f}`, real: num(real, 'routing', f), sim: num(sim, 'routing', f), rule: 'shown, not judged (CPU-bound on loopback)', agree: null })
  }
  return { agree: rows.length > 0 && rows.every((r) => r.agree !== false), rows }
}

export function formatAgreement (a: Agreement): string {
  const lines = [`simulation vs real stack: ${a.agree ? 'AGREE' : 'DISAGREE'}`]
  for (const r of a.rows) lines.push(`  ${r.agree === null ? '    ' : r.agree ? 'OK  ' : 'DIFF'}  ${r.figure}: real ${String(r.real)}, sim ${String(r.sim)}  (${r.rule})`)
  return lines.join('\n') + '\n'
}

type Q = { n: number, p50: number, p99: number, max: number, min: number, mean: number }
type Fig = TestResult['figures']

/** Maps src/sim's LaunchSimReport onto our report shape (same test names, comparable figure names). */
function normalizeSim (raw: Record<string, unknown>, ms: number): LaunchReport {
  const get = <T>(k: string): T | undefined => raw[k] as T | undefined
  const tests: Partial<Record<TestName, TestResult>> = {}
  const px = get<Record<string, unknown>>('peerExchange')
  if (px !== undefined) {
    const hb = px.heartbeatsOnBootstrap as Q
    const mesh = px.meshDegree as Q
    tests.peerExchange = {
      pass: px.pass === true,
      figures: { pruned: hb.n, maxHeartbeats: hb.max, p99Heartbeats: hb.p99, p50Heartbeats: hb.p50, over3Heartbeats: px.over3Heartbeats as number, stuckGrafts: px.graftsNeverPruned as number, prunesWithoutPx: px.emptyPxLists as number, pxSent: px.pxSent as number, meshDegreeMin: mesh.min, meshDegreeP50: mesh.p50, meshDegreeMean: mesh.mean, peersBelowDlo: px.peersBelowDlo as number },
      notes: ['simulated']
    }
  }
  const cm = get<Record<string, unknown>>('connectionManagement')
  if (cm !== undefined) tests.connectionManagement = { pass: cm.pass === true, figures: { highWatermark: cm.high as number, lowWatermark: cm.low as number, peakConnections: cm.peak as number, breaches: cm.breached === true ? 1 : 0, rejectedDials: cm.rejectedDials as number }, notes: ['simulated'] }
  const rt = get<Record<string, unknown>>('routing')
  if (rt !== undefined) {
    const lat = rt.latencyMs as Q
    tests.routing = { pass: rt.pass === true, figures: { messages: rt.messages as number, expectedDeliveries: rt.expectedDeliveries as number, delivered: rt.delivered as number, lossFraction: rt.loss as number, latencyP50Ms: lat.p50, latencyP99Ms: lat.p99, latencyMaxMs: lat.max, duplicatesPerDelivery: rt.duplicatesPerDelivery as number }, notes: ['simulated'] }
  }
  const ul = get<Record<string, unknown>>('upperLimits')
  if (ul !== undefined) tests.upperLimits = { pass: ul.pass === true, figures: Object.fromEntries(Object.entries(ul).filter(([, v]) => typeof v !== 'object')) as Fig, notes: ['simulated'] }
  const st = get<Record<string, unknown>>('meshStability')
  if (st !== undefined) tests.meshStability = { pass: true, figures: Object.fromEntries(Object.entries(st).filter(([, v]) => typeof v !== 'object')) as Fig, notes: ['simulated; no pass criterion applied'] }
  const params = get<Record<string, unknown>>('params') ?? {}
  const run = get<Record<string, number>>('run') ?? {}
  return { ok: Object.values(tests).every((t) => t.pass), mode: 'sim', config: params, tests, resources: Object.fromEntries(Object.entries(run).filter(([, v]) => typeof v === 'number')), durationMs: ms }
}

// ---------------------------------------------------------------- CLI

export const LAUNCH_TEST_HELP = `lightpulse launch-test [options]
Runs the bootstrap confirmation tests with real libp2p light peers on loopback (or --sim).
  --peers N               light peers [default: 40]
  --bootstraps N          bootstraps to start [default: enough for 1.4 x (peers + relays) at <= 192 each, min 2]
  --bootstrap MULTIADDR   use this running bootstrap instead (repeatable; needs --network)
  --bootstrap-metrics URL its metrics URL, to check the watermark (repeatable, same order)
  --network FILE          network config of given bootstraps
  --relays N              relays (light peers with a circuit relay server) [default: 5]
  --low-watermark N, --high-watermark N   bootstrap watermarks [default: high = peers/3 (8..192), low = 5/6 high]
  --grace-period-ms N     bootstrap trim grace period [default: 3000; production 60000]
  --heartbeat-ms N        bootstrap gossipsub heartbeat [default: 700]
  --px-history N          bootstrap PX entries per PRUNE from earlier-pruned peers, 0 = off [default: 8]
  --release-bootstraps N  light peers hang up bootstraps at N other connections, 0 = never [default: 6]
  --bootstraps-per-peer N bootstraps a light peer dials per attempt, at random [default: 2]
  --mesh-d N, --mesh-dlo N, --mesh-dhi N   light peer mesh degrees [default: 6/5/12]
  --per-worker N          light peers per worker process [default: 50]
  --arrival-rate N        light peers arriving per second [default: 5; on 2 cores, 500 peers pass at 2 and
                          their CPU, not the bootstraps', fails the PX figure at 5]
  --publishers N          light peers that publish in the routing test [default: 5]
  --messages N            messages per publisher [default: 2]
  --flood N               connections in the inbound flood [default: 2 x high watermark]
  --sweep-high A,B,..     high watermarks of the upper-limit sweep [default: high/2, high]
  --sweep-peers A,B,..    peer counts of the sweep [default: min(peers, 30)]
  --tests LIST            subset: px,connections,routing,limits,stability [default: all]
  --sim                   run the simulation (src/sim) instead, at --sim-peers peers
  --sim-peers N           [default: 100000]
  --real                  with --sim: also run the real-peer tests
  --compare               run the real-peer tests, then the simulation with the same settings and size,
                          and judge whether they agree (exit 1 if they do not)
  --json                  print the report as one JSON object on stdout
  --verbose               progress on stderr
Exit code: 0 all pass, 1 a test failed, 2 bad options, 3 the simulation is not available.
`

const TEST_ALIASES: Record<string, TestName> = { px: 'peerExchange', connections: 'connectionManagement', routing: 'routing', limits: 'upperLimits', stability: 'meshStability' }

function intArg (name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError('CONFIG_INVALID', `${name} must be an integer in ${min}..${max} (got '${v}')`)
  return n
}

function listArg (name: string, v: string | undefined, min: number, max: number): number[] | undefined {
  if (v === undefined) return undefined
  return v.split(',').map((x) => intArg(name, x.trim(), min, max)!)
}

export function parseLaunchArgs (args: string[]): { o: LaunchTestOptions, json: boolean, sim: boolean, real: boolean, compare: boolean, simPeers: number } {
  const { values } = parseArgs({
    args,
    options: {
      peers: { type: 'string' }, bootstraps: { type: 'string' }, bootstrap: { type: 'string', multiple: true }, 'bootstrap-metrics': { type: 'string', multiple: true },
      network: { type: 'string' }, relays: { type: 'string' }, 'low-watermark': { type: 'string' }, 'high-watermark': { type: 'string' },
      'grace-period-ms': { type: 'string' }, 'heartbeat-ms': { type: 'string' }, 'px-history': { type: 'string' }, 'release-bootstraps': { type: 'string' }, 'bootstraps-per-peer': { type: 'string' }, 'mesh-d': { type: 'string' }, 'mesh-dlo': { type: 'string' }, 'mesh-dhi': { type: 'string' },
      'per-worker': { type: 'string' }, 'arrival-rate': { type: 'string' }, publishers: { type: 'string' }, messages: { type: 'string' }, flood: { type: 'string' },
      'sweep-high': { type: 'string' }, 'sweep-peers': { type: 'string' }, tests: { type: 'string' }, sim: { type: 'boolean' }, 'sim-peers': { type: 'string' },
      real: { type: 'boolean' }, compare: { type: 'boolean' }, json: { type: 'boolean' }, verbose: { type: 'boolean' }
    },
    strict: true
  })
  const peers = intArg('--peers', values.peers, 2, 20_000) ?? 40
  const o = defaultOptions(peers)
  o.bootstraps = intArg('--bootstraps', values.bootstraps, 1, 16) ?? o.bootstraps
  o.bootstrapAddrs = values.bootstrap ?? []
  o.bootstrapMetrics = values['bootstrap-metrics'] ?? []
  if (o.bootstrapAddrs.length > 0 && values.network === undefined) throw new ConfigError('CONFIG_INVALID', '--bootstrap needs --network FILE (the topics come from the network id)')
  if (values.network !== undefined) o.networkFile = values.network
  o.relays = intArg('--relays', values.relays, 0, 64) ?? o.relays
  const high = intArg('--high-watermark', values['high-watermark'], 1, 100_000)
  const low = intArg('--low-watermark', values['low-watermark'], 0, 100_000)
  if (high !== undefined) { o.highWatermark = high; o.lowWatermark = Math.floor(high * 5 / 6); o.flood = Math.min(400, high * 2); o.sweepHigh = [Math.max(2, Math.floor(high / 2)), high] }
  if (low !== undefined) o.lowWatermark = low
  if (o.lowWatermark >= o.highWatermark) throw new ConfigError('CONFIG_INVALID', `the low watermark must be below the high watermark (got low=${o.lowWatermark} high=${o.highWatermark})`)
  o.gracePeriodMs = intArg('--grace-period-ms', values['grace-period-ms'], 0, 3_600_000) ?? o.gracePeriodMs
  o.bootstrapHeartbeatMs = intArg('--heartbeat-ms', values['heartbeat-ms'], 50, 60_000) ?? o.bootstrapHeartbeatMs
  o.pxHistory = intArg('--px-history', values['px-history'], 0, 16) ?? o.pxHistory
  o.releaseBootstrapsAt = intArg('--release-bootstraps', values['release-bootstraps'], 0, 64) ?? o.releaseBootstrapsAt
  o.bootstrapsPerPeer = intArg('--bootstraps-per-peer', values['bootstraps-per-peer'], 1, 16) ?? o.bootstrapsPerPeer
  o.mesh = { ...o.mesh, D: intArg('--mesh-d', values['mesh-d'], 1, 64) ?? o.mesh.D, Dlo: intArg('--mesh-dlo', values['mesh-dlo'], 1, 64) ?? o.mesh.Dlo, Dhi: intArg('--mesh-dhi', values['mesh-dhi'], 1, 128) ?? o.mesh.Dhi }
  if (!(o.mesh.Dlo <= o.mesh.D && o.mesh.D <= o.mesh.Dhi)) throw new ConfigError('CONFIG_INVALID', `mesh degrees must satisfy Dlo <= D <= Dhi (got Dlo=${o.mesh.Dlo} D=${o.mesh.D} Dhi=${o.mesh.Dhi})`)
  o.perWorker = intArg('--per-worker', values['per-worker'], 1, 1_000) ?? o.perWorker
  o.arrivalRate = intArg('--arrival-rate', values['arrival-rate'], 1, 10_000) ?? o.arrivalRate
  o.publishers = intArg('--publishers', values.publishers, 1, 1_000) ?? o.publishers
  o.messagesPerPublisher = intArg('--messages', values.messages, 1, 1_000) ?? o.messagesPerPublisher
  o.flood = intArg('--flood', values.flood, 1, 1_000) ?? o.flood
  o.sweepHigh = listArg('--sweep-high', values['sweep-high'], 1, 100_000) ?? o.sweepHigh
  o.sweepPeers = listArg('--sweep-peers', values['sweep-peers'], 2, 5_000) ?? o.sweepPeers
  if (values.tests !== undefined) {
    o.tests = new Set(values.tests.split(',').map((t) => {
      const n = TEST_ALIASES[t.trim()]
      if (n === undefined) throw new ConfigError('CONFIG_INVALID', `unknown test '${t}' in --tests (known: ${Object.keys(TEST_ALIASES).join(', ')})`)
      return n
    }))
  }
  const sim: Record<string, unknown> = {}
  const given = (k: string): boolean => (values as Record<string, unknown>)[k] !== undefined
  if (given('bootstraps')) sim.bootstraps = o.bootstraps
  if (given('relays')) sim.relays = o.relays
  if (given('high-watermark')) { sim.high = o.highWatermark; sim.low = o.lowWatermark }
  if (given('low-watermark')) sim.low = o.lowWatermark
  if (given('grace-period-ms')) sim.graceMs = o.gracePeriodMs
  if (given('heartbeat-ms')) sim.heartbeatMs = o.bootstrapHeartbeatMs
  if (given('mesh-d') || given('mesh-dlo') || given('mesh-dhi')) { sim.D = o.mesh.D; sim.Dlo = o.mesh.Dlo; sim.Dhi = o.mesh.Dhi }
  if (given('arrival-rate')) sim.arrivalRate = o.arrivalRate
  if (given('px-history')) sim.pxFromHistory = o.pxHistory
  if (given('release-bootstraps')) sim.releaseBootstrapAt = o.releaseBootstrapsAt
  if (given('bootstraps-per-peer')) sim.bootstrapsPerPeer = o.bootstrapsPerPeer
  if (given('publishers')) sim.publishers = o.publishers
  if (given('messages')) sim.messagesPerPublisher = o.messagesPerPublisher
  o.simOverrides = sim
  if (values.verbose === true) o.log = (l) => { process.stderr.write(`launch-test: ${l}\n`) }
  if (values.compare === true && values.sim === true) throw new ConfigError('CONFIG_INVALID', '--compare runs both the real tests and the simulation at --peers; give it without --sim')
  return { o, json: values.json === true, sim: values.sim === true, real: values.real === true, compare: values.compare === true, simPeers: intArg('--sim-peers', values['sim-peers'], 2, 10_000_000) ?? 100_000 }
}

export async function runLaunchTest (o: LaunchTestOptions): Promise<LaunchReport> {
  return await new Run(o).runReal()
}

const LABELS: Record<TestName, string> = {
  peerExchange: 'Peer exchange', connectionManagement: 'Connection management', routing: 'Routing', upperLimits: 'Upper limits', meshStability: 'Mesh stability'
}

export function formatReport (r: LaunchReport): string {
  const lines = [`launch-test (${r.mode}) ${r.ok ? 'PASS' : 'FAIL'} in ${(r.durationMs / 1000).toFixed(1)} s`]
  for (const [k, t] of Object.entries(r.tests) as Array<[TestName, TestResult]>) {
    lines.push(`  ${t.pass ? 'PASS' : 'FAIL'}  ${LABELS[k]}`)
    for (const [f, v] of Object.entries(t.figures)) {
      if (Array.isArray(v)) { lines.push(`          ${f}:`); for (const row of v) lines.push(`            ${Object.entries(row).map(([a, b]) => `${a}=${String(b)}`).join(' ')}`) } else lines.push(`          ${f}: ${String(v)}`)
    }
    for (const n of t.notes) lines.push(`          (${n})`)
  }
  if (Object.keys(r.resources).length > 0) lines.push(`  resources: ${Object.entries(r.resources).map(([a, b]) => `${a}=${b}`).join(' ')}`)
  return lines.join('\n') + '\n'
}

export async function runLaunchTestCli (args: string[]): Promise<void> {
  if (args.includes('--help') || args.includes('-h')) { process.stdout.write(LAUNCH_TEST_HELP); return }
  const { o, json, sim, real, compare, simPeers } = parseLaunchArgs(args)
  if (o.networkFile !== undefined) await readFile(o.networkFile).catch(() => { throw new ConfigError('CONFIG_MISSING', `network file not found: ${o.networkFile!}`) })
  if (compare) {
    const r = await runLaunchTest(o)
    o.log('real-peer tests done; running the simulation with the same settings')
    const s = await runSim(o, o.peers, simParamsFor(o, Number(r.config.bootstraps)))
    if ('error' in s) { process.stderr.write(`lightpulse: ${s.error}\n`); process.exit(3) }
    const a = compareReports(r, s, o.mesh.Dlo, o.mesh.Dhi)
    if (json) process.stdout.write(JSON.stringify({ ok: r.ok && s.ok && a.agree, agree: a.agree, agreement: a.rows, reports: [r, s] }) + '\n')
    else process.stdout.write(formatReport(r) + formatReport(s) + formatAgreement(a))
    process.exit(r.ok && s.ok && a.agree ? 0 : 1)
  }
  const reports: LaunchReport[] = []
  if (sim) {
    const s = await runSim(o, simPeers)
    if ('error' in s) {
      process.stderr.write(`lightpulse: ${s.error}\n`)
      if (!real) process.exit(3)
    } else reports.push(s)
  }
  if (!sim || real) reports.push(await runLaunchTest(o))
  if (json) process.stdout.write(JSON.stringify(reports.length === 1 ? reports[0] : { ok: reports.every((r) => r.ok), reports }) + '\n')
  else for (const r of reports) process.stdout.write(formatReport(r))
  process.exit(reports.every((r) => r.ok) ? 0 : 1)
}
