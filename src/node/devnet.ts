/**
 * A whole network on loopback: bootstraps, validators and release signers, driven through the public CLI.
 * Each bootstrap and release signer is its own OS process; validators run `validatorsPerProcess` to a
 * process (`lightpulse host`, default 8) to keep memory down, or one per process (`validatorsPerProcess:
 * 1`, what `--stagger` and the crash tests use) so each can be killed with SIGKILL and restarted like a
 * real one. Used by `lightpulse devnet`, `npm start`, the integration tests and the benchmarks.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises'
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sha256 } from '../protocol/hash.ts'
import { compare, concat, toHex, utf8 } from '../protocol/bytes.ts'
import type { NetworkConfig, Preset } from '../protocol/index.ts'
import { createNodeSigner } from '../crypto/node.ts'
import { networkToFile } from './files.ts'
import { siblingModule } from './paths.ts'
import type { RoundEvent } from '../peer/events.ts'
import type { HostileMode } from '../peer/round-service.ts'

const CLI = siblingModule(import.meta.url, 'cli')

export interface DevnetOptions {
  validators?: number
  bootstraps?: number
  releaseSigners?: number
  threshold?: number
  offline?: number
  stagger?: boolean
  holdReleaseMs?: number
  dataDir?: string
  /** Deterministic keys from this seed (default: random per run). */
  seed?: string
  log?: (line: string) => void
  /** Extra arguments for validator processes. */
  validatorArgs?: string[]
  /** Extra arguments for bootstrap processes (the soak benchmark's `--metrics-port 0`). */
  bootstrapArgs?: string[]
  /** TEST ONLY: validator indices that run a hostile mode (`lightpulse validator --hostile MODE`). */
  hostile?: Map<number, HostileMode>
  /**
   * Mesh flags for every node. Default for a loopback devnet: D 4 / Dlo 3 / Dhi 6, heartbeat 1 s, because
   * 18+ node processes share two cores and every duplicate forward costs CPU (see docs/LIMITS.md).
   */
  meshArgs?: string[]
  /**
   * Validators per OS process (default 8). 1 gives each validator its own process, so a single one can be
   * killed; `stagger` always uses 1. With more, `killValidator` refuses (it would kill the whole group).
   */
  validatorsPerProcess?: number
  /** Extra Node.js flags for the bootstrap and validator processes (the benchmark's `--cpu-prof`). */
  nodeArgs?: string[]
  /** The network's timing preset (default 'devnet', a block a second; 'mainnet' is a block every 2 minutes). */
  preset?: Preset['name']
}

/** With --stagger: blocks a restarted validator runs for before the devnet stops (time to resync, re-register and sign). */
const AFTER_RESTART_BLOCKS = 20

/** How long the devnet waits, once at its target height, for a fork at the tip to settle. */
const SETTLE_MS = 20_000

export const LOCAL_MESH_ARGS = ['--local', '--mesh-d', '4', '--mesh-dlo', '3', '--mesh-dhi', '6', '--heartbeat-ms', '1000']

export interface NodeView {
  name: string
  role: 'bootstrap' | 'validator' | 'release'
  key?: string
  index: number
  proc?: ChildProcess
  peerId?: string
  addrs: string[]
  /** The node's Prometheus port, when it was started with `--metrics-port` (its 'ready' event). */
  metricsPort?: number
  running: boolean
  height: number
  startedAt: number
  startHeight: number
  restarts: number
  /** Heights (after the latest start) at which this validator's signature is in the block. */
  signedAfterStart: number
  /** Round duties (commit stage as validator or producer) since the last start. */
  dutiesAfterStart: number
  /** Registrations this validator published since the last start (re-joining after a removal). */
  registrations: number
  hashes: Map<number, string>
}

export interface BlockRecord {
  height: number
  round: number
  timestamp: number
  hashes: Set<string>
  digests: Map<string, Set<string>>
  firstAcceptedAt: number
  acceptedBy: Map<string, number>
  signerKeys: string[]
}

export interface DevnetSummary {
  ok: boolean
  height: number
  blocks: number
  rounds: Record<string, number>
  quorumMismatches: number
  forks: number
  rejected: Record<string, number>
  msToGenesis: number
  releaseToGenesisMs: number
  blocksBeforeRelease: number
  blockIntervalMs: { p50: number, p99: number }
  roundLatencyMs: { p50: number, p99: number }
  /** Round number of each block, heights 1..height. */
  roundsByHeight: number[]
  /** Every running validator holds the same block hash at `height` (taken after up to 20 s for a fork at the tip to settle). */
  agreed: boolean
  validators: Array<{ index: number, key: string, running: boolean, height: number, restarts: number, startHeight: number, signedAfterStart: number, dutiesAfterStart: number, registrations: number }>
  bootstraps: string[]
  network: string
  /** OS processes the running bootstraps and validators are in (release signers exit after genesis). */
  processes: number
  error?: string
}

export function percentile (xs: number[], p: number): number {
  if (xs.length === 0) return 0
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!
}

/** A base port N with tcp N, tcp N+1, udp N+2 and udp N+3 free on 127.0.0.1. */
async function findFreePorts (): Promise<number> {
  const net = await import('node:net')
  const dgram = await import('node:dgram')
  const tcpFree = async (port: number): Promise<boolean> => await new Promise((resolve) => {
    const srv = net.createServer()
    srv.once('error', () => { resolve(false) })
    srv.listen(port, '127.0.0.1', () => { srv.close(() => { resolve(true) }) })
  })
  const udpFree = async (port: number): Promise<boolean> => await new Promise((resolve) => {
    const sock = dgram.createSocket('udp4')
    sock.once('error', () => { sock.close(); resolve(false) })
    sock.bind(port, '127.0.0.1', () => { sock.close(() => { resolve(true) }) })
  })
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000)
    if (await tcpFree(base) && await tcpFree(base + 1) && await udpFree(base + 2) && await udpFree(base + 3)) return base
  }
  throw new Error('no free ports found for a bootstrap')
}

function seedFor (base: string, label: string, i: number): Uint8Array {
  return sha256(concat(utf8(`lightpulse-devnet/${base}/${label}/`), new Uint8Array([i >> 8, i & 255])))
}

export class Devnet {
  readonly opts: Required<Omit<DevnetOptions, 'holdReleaseMs' | 'dataDir' | 'log' | 'seed' | 'validatorArgs' | 'meshArgs' | 'hostile' | 'validatorsPerProcess' | 'nodeArgs' | 'bootstrapArgs' | 'preset'>> & DevnetOptions
  dataDir = ''
  networkFile = ''
  network!: NetworkConfig
  validatorSeeds: Uint8Array[] = []
  releaseSeeds: Uint8Array[] = []
  readonly nodes = new Map<string, NodeView>()
  readonly blocks = new Map<number, BlockRecord>()
  readonly rejected: Record<string, number> = {}
  readonly roundEvents: Array<RoundEvent & { node: string }> = []
  readonly rejectEvents: Array<{ node: string, code: string, from?: string, topic?: string, weight?: number }> = []
  private readonly startedAt = Date.now()
  private releaseStartedAt = 0
  genesisAt = 0
  /** Hash of the genesis block, from the first node that reported it (height 0 is not in `blocks`). */
  genesisHash?: string
  private genesisSeen = new Set<string>()
  blocksBeforeRelease = 0
  private waiters = new Set<() => void>()
  private stopping = false

  constructor (opts: DevnetOptions = {}) {
    this.opts = { validators: 16, bootstraps: 2, releaseSigners: 5, threshold: 3, offline: 0, stagger: false, ...opts }
  }

  private log (line: string): void { this.opts.log?.(line) }

  get bootstrapAddrs (): string[] {
    return [...this.nodes.values()].filter((n) => n.role === 'bootstrap').flatMap((n) => n.addrs.filter((a) => a.includes('/tcp/') && !a.includes('/ws')))
  }

  /** All WebSocket addresses of the bootstraps (what browsers dial). */
  get bootstrapWsAddrs (): string[] {
    return [...this.nodes.values()].filter((n) => n.role === 'bootstrap').flatMap((n) => n.addrs.filter((a) => a.includes('/ws')))
  }

  /** The bootstraps' WebTransport addresses, with their certhashes (empty when Deno is missing). */
  get bootstrapWtAddrs (): string[] {
    return [...this.nodes.values()].filter((n) => n.role === 'bootstrap').flatMap((n) => n.addrs.filter((a) => a.includes('/webtransport')))
  }

  /** What a browser dials: every bootstrap's WebSocket and WebTransport addresses. */
  get browserBootstrapAddrs (): string[] { return [...this.bootstrapWsAddrs, ...this.bootstrapWtAddrs] }

  get bootstrapViews (): NodeView[] { return [...this.nodes.values()].filter((n) => n.role === 'bootstrap') }

  get validatorViews (): NodeView[] { return [...this.nodes.values()].filter((n) => n.role === 'validator') }

  /** Height every running validator and bootstrap has verified. */
  get finalHeight (): number {
    const heights = this.runningChainHeights()
    return heights.length === 0 ? -1 : Math.min(...heights)
  }

  /** The highest height any running validator or bootstrap has verified (the chain's tip as the devnet sees it). */
  get tipHeight (): number {
    const heights = this.runningChainHeights()
    return heights.length === 0 ? -1 : Math.max(...heights)
  }

  /** Heights of the running validators and bootstraps (release signers exit after genesis). */
  private runningChainHeights (): number[] {
    return [...this.nodes.values()].filter((n) => n.running && n.role !== 'release').map((n) => n.height)
  }

  async prepare (): Promise<void> {
    const o = this.opts
    if (o.validators < 12) throw new Error('a devnet needs at least 12 validators (a quorum of 11 plus a producer)')
    if (o.threshold < 1 || o.threshold > o.releaseSigners) throw new Error('--threshold must be between 1 and --release-signers')
    this.dataDir = o.dataDir ?? await mkdtemp(join(tmpdir(), 'lightpulse-devnet-'))
    await mkdir(this.dataDir, { recursive: true })
    const base = o.seed ?? toHex(sha256(utf8(`${Date.now()}-${Math.random()}`))).slice(0, 16)
    this.validatorSeeds = Array.from({ length: o.validators }, (_, i) => seedFor(base, 'validator', i))
    this.releaseSeeds = Array.from({ length: o.releaseSigners }, (_, i) => seedFor(base, 'release', i))
    const keys = this.validatorSeeds.map((s) => createNodeSigner(s).publicKey)
    this.network = {
      name: `devnet-${base.slice(0, 8)}`,
      preset: o.preset ?? 'devnet',
      releaseSigners: this.releaseSeeds.map((s) => createNodeSigner(s).publicKey),
      releaseThreshold: o.threshold,
      genesisValidators: keys
    }
    this.networkFile = join(this.dataDir, 'network.json')
    await writeFile(this.networkFile, JSON.stringify(networkToFile(this.network), null, 2))
    await writeFile(join(this.dataDir, 'keys.json'), JSON.stringify({ validators: this.validatorSeeds.map(toHex), releaseSigners: this.releaseSeeds.map(toHex) }, null, 2), { mode: 0o600 })
  }

  /** Validator indices kept offline: the K with the lowest public keys (the first round-0 producers). */
  offlineIndices (): Set<number> {
    const keys = this.validatorSeeds.map((s, i) => ({ i, k: createNodeSigner(s).publicKey }))
    keys.sort((a, b) => compare(a.k, b.k))
    return new Set(keys.slice(0, this.opts.offline).map((x) => x.i))
  }

  private notify (): void {
    for (const w of this.waiters) w()
  }

  /** Resolves when `pred` holds (checked on every event), rejects after `timeoutMs`. */
  async waitFor (what: string, pred: () => boolean, timeoutMs: number): Promise<void> {
    if (pred()) return
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (this.stopping) { cleanup(); reject(new Error(`devnet stopped while waiting for ${what}`)); return }
        if (pred()) { cleanup(); resolve() }
      }
      const timer = setTimeout(() => { cleanup(); reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)) }, timeoutMs)
      const cleanup = (): void => { clearTimeout(timer); this.waiters.delete(check) }
      this.waiters.add(check)
    })
  }

  /** Validators per process: 1 with --stagger (it kills single validators), else the option (default 8). */
  get validatorsPerProcess (): number {
    return this.opts.stagger ? 1 : Math.max(1, this.opts.validatorsPerProcess ?? 8)
  }

  private spawnNode (view: NodeView, args: string[]): void {
    this.spawnProcess([view], [...args, '--events'], false)
  }

  /**
   * Runs `views` in one `lightpulse host` process. `commandLine(v)` is the node's own command line (command
   * first); the spec file holds keys, so it is written 0600 in the devnet's directory.
   */
  private spawnHost (views: NodeView[], commandLine: (v: NodeView) => string[]): void {
    const specFile = join(this.dataDir, `host-${views[0]!.name}.json`)
    const spec = views.map((v) => { const [command, ...args] = commandLine(v); return { name: v.name, command, args } })
    writeFileSync(specFile, JSON.stringify(spec), { mode: 0o600 })
    this.spawnProcess(views, ['host', '--spec', specFile], true)
  }

  /**
   * Runs `views` in one process: with `tagged`, a `lightpulse host` whose event lines name their node;
   * else the node's own command. A process that exits takes every node it ran down with it.
   */
  private spawnProcess (views: NodeView[], args: string[], tagged: boolean): void {
    const nodeArgs = views[0]!.role === 'release' ? [] : (this.opts.nodeArgs ?? [])
    const proc = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', ...nodeArgs, CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    const byName = new Map(views.map((v) => [v.name, v]))
    for (const view of views) {
      view.proc = proc
      view.running = true
      view.startedAt = Date.now()
      view.startHeight = view.height
      view.signedAfterStart = 0
      view.dutiesAfterStart = 0
      view.registrations = 0
    }
    const label = views.length === 1 ? views[0]!.name : `${views[0]!.name}..${views[views.length - 1]!.name}`
    const rl = createInterface({ input: proc.stdout })
    rl.on('line', (line) => {
      if (!tagged) { this.onLine(views[0]!, line); return }
      const m = /^\{"node":"([^"]+)",/.exec(line)
      const view = m === null ? undefined : byName.get(m[1]!)
      if (view === undefined) this.log(`[${label}] ${line}`)
      else this.onLine(view, line)
    })
    const err = createInterface({ input: proc.stderr })
    err.on('line', (line) => { this.log(`[${label}] ${line}`) })
    proc.on('exit', (code, signal) => {
      for (const view of views) if (view.proc === proc) view.running = false
      if (!this.stopping && views[0]!.role !== 'release') this.log(`[${label}] exited (${signal ?? code})`)
      this.notify()
    })
  }

  private onLine (view: NodeView, line: string): void {
    let ev: Record<string, unknown>
    try { ev = JSON.parse(line) as Record<string, unknown> } catch { this.log(`[${view.name}] ${line}`); return }
    switch (ev.ev) {
      case 'ready':
        view.peerId = ev.peerId as string
        view.addrs = ev.addrs as string[]
        if (typeof ev.metricsPort === 'number') view.metricsPort = ev.metricsPort
        if (typeof ev.height === 'number') view.height = ev.height
        break
      case 'genesis':
        if (typeof ev.hash === 'string') this.genesisHash = ev.hash
        if (view.height < 0) view.height = 0
        this.genesisSeen.add(view.name)
        if (this.genesisAt === 0) this.genesisAt = Date.now()
        break
      case 'block': {
        const h = ev.height as number
        view.height = Math.max(view.height, h)
        const hash = ev.hash as string
        view.hashes.set(h, hash)
        if (this.releaseStartedAt === 0) this.blocksBeforeRelease++
        let rec = this.blocks.get(h)
        if (rec === undefined) {
          rec = { height: h, round: ev.round as number, timestamp: ev.timestamp as number, hashes: new Set(), digests: new Map(), firstAcceptedAt: ev.acceptedAt as number, acceptedBy: new Map(), signerKeys: ev.signerKeys as string[] }
          this.blocks.set(h, rec)
        }
        rec.hashes.add(hash)
        let d = rec.digests.get(hash)
        if (d === undefined) { d = new Set(); rec.digests.set(hash, d) }
        d.add(ev.quorumDigest as string)
        rec.acceptedBy.set(view.name, ev.acceptedAt as number)
        if (view.key !== undefined && (ev.signerKeys as string[]).includes(view.key)) view.signedAfterStart++
        break
      }
      case 'registering':
        view.registrations++
        break
      case 'round':
        if (ev.stage === 'commit') view.dutiesAfterStart++
        this.roundEvents.push({ node: view.name, ...(ev as unknown as RoundEvent) })
        if (this.roundEvents.length > 20_000) this.roundEvents.splice(0, 10_000)
        break
      case 'rejected': {
        const code = ev.code as string
        this.rejected[code] = (this.rejected[code] ?? 0) + 1
        this.rejectEvents.push({ node: view.name, code, from: ev.from as string | undefined, topic: ev.topic as string | undefined, ...(typeof ev.weight === 'number' ? { weight: ev.weight } : {}) })
        break
      }
    }
    this.notify()
  }

  private newView (name: string, role: NodeView['role'], index: number, key?: string): NodeView {
    const v: NodeView = { name, role, index, key, addrs: [], running: false, height: -1, startedAt: 0, startHeight: -1, restarts: 0, signedAfterStart: 0, dutiesAfterStart: 0, registrations: 0, hashes: new Map() }
    this.nodes.set(name, v)
    return v
  }

  /** Fixed base port per bootstrap (tcp N, ws N+1, webrtc-direct udp N+2, webtransport udp N+3), so a restarted bootstrap keeps its addresses. */
  private readonly bootstrapPorts: number[] = []

  /**
   * Starts the bootstraps: all in one process when validators share processes too (validatorsPerProcess
   * > 1), else one process each. `killBootstraps` takes them all down either way.
   */
  async startBootstraps (): Promise<void> {
    for (let i = 0; i < this.opts.bootstraps; i++) this.bootstrapPorts[i] = await findFreePorts()
    const views = Array.from({ length: this.opts.bootstraps }, (_, i) => this.bootstrapView(i))
    if (this.validatorsPerProcess > 1 && views.length > 1) {
      this.spawnHost(views, (v) => this.bootstrapArgs(v.index))
    } else {
      for (const v of views) this.spawnNode(v, this.bootstrapArgs(v.index))
    }
    await this.waitFor('bootstraps to listen', () => views.every((v) => v.addrs.length > 0), 30_000)
  }

  private bootstrapView (i: number): NodeView {
    const name = `bootstrap-${i}`
    return this.nodes.get(name) ?? this.newView(name, 'bootstrap', i)
  }

  private bootstrapArgs (i: number): string[] {
    return ['bootstrap', '--network', this.networkFile, '--data', join(this.dataDir, `bootstrap-${i}`), '--port', String(this.bootstrapPorts[i]),
      ...(this.opts.meshArgs ?? LOCAL_MESH_ARGS), ...(this.opts.bootstrapArgs ?? [])]
  }

  /** Starts (or restarts, same identity and addresses) bootstrap `i`, in a process of its own. */
  startBootstrap (i: number): NodeView {
    const v = this.bootstrapView(i)
    if (v.running) return v
    if (v.startedAt !== 0) v.restarts++
    this.spawnNode(v, this.bootstrapArgs(i))
    return v
  }

  /** SIGKILL a bootstrap (one that has its process to itself: see `killBootstraps`). */
  killBootstrap (i: number): void { this.kill(`bootstrap-${i}`) }

  /** SIGKILL every bootstrap, whether they share a process or not. */
  killBootstraps (): void {
    const views = [...this.nodes.values()].filter((n) => n.role === 'bootstrap' && n.running)
    for (const p of new Set(views.map((v) => v.proc!))) p.kill('SIGKILL')
    for (const v of views) v.running = false
  }

  /** SIGKILL: no shutdown, exactly like a crash. Only for a node that has its process to itself. */
  private kill (name: string): void {
    const v = this.nodes.get(name)
    const shared = [...this.nodes.values()].filter((n) => n !== v && n.running && n.proc !== undefined && n.proc === v?.proc)
    if (shared.length > 0) throw new Error(`${name} shares its process with ${shared.map((n) => n.name).join(', ')}: run the devnet with validatorsPerProcess 1 (--process-per-node) to kill it alone`)
    if (v?.proc !== undefined && v.running) {
      v.proc.kill('SIGKILL')
      v.running = false
    }
  }

  validatorArgs (i: number): string[] {
    const name = `validator-${i}`
    return ['validator', '--network', this.networkFile, '--key', toHex(this.validatorSeeds[i]!), '--data', join(this.dataDir, name),
      ...this.bootstrapAddrs.flatMap((a) => ['--bootstrap', a]), ...(this.opts.meshArgs ?? LOCAL_MESH_ARGS), ...(this.opts.validatorArgs ?? []),
      ...(this.opts.hostile?.has(i) === true ? ['--hostile', this.opts.hostile.get(i)!] : [])]
  }

  startValidator (i: number): NodeView {
    return this.startValidators([i])[0]!
  }

  /**
   * Starts validators `indices` (those not running), `validatorsPerProcess` to a process. A group's
   * process runs `lightpulse host` with a spec file holding each validator's own command line.
   */
  startValidators (indices: number[]): NodeView[] {
    const views = indices.map((i) => {
      const name = `validator-${i}`
      return this.nodes.get(name) ?? this.newView(name, 'validator', i, toHex(createNodeSigner(this.validatorSeeds[i]!).publicKey))
    })
    const toStart = views.filter((v) => !v.running)
    for (const v of toStart) if (v.startedAt !== 0) v.restarts++
    const per = this.validatorsPerProcess
    for (let k = 0; k < toStart.length; k += per) {
      const group = toStart.slice(k, k + per)
      if (group.length === 1) { this.spawnNode(group[0]!, this.validatorArgs(group[0]!.index)); continue }
      this.spawnHost(group, (v) => this.validatorArgs(v.index))
    }
    return views
  }

  /** SIGKILL a validator, like a crash. */
  killValidator (i: number): void { this.kill(`validator-${i}`) }

  async startReleaseSigner (i: number): Promise<void> {
    this.startReleaseSigners([i])
  }

  /**
   * Starts release signers `indices`: in one process when validators share processes, else one process each.
   * A release signer stops only once a bootstrap reports its genesis (node-command.ts), so signers that hear
   * each other first cannot form genesis among themselves and leave before anyone else holds it.
   */
  startReleaseSigners (indices: number[]): void {
    const views = indices.map((i) => this.newView(`release-${i}`, 'release', i))
    const args = (v: NodeView): string[] => ['release', '--local', '--network', this.networkFile, '--key', toHex(this.releaseSeeds[v.index]!), '--index', String(v.index),
      '--data', join(this.dataDir, v.name), ...this.bootstrapAddrs.flatMap((a) => ['--bootstrap', a])]
    if (this.validatorsPerProcess > 1 && views.length > 1) {
      this.spawnHost(views, args)
    } else {
      for (const v of views) this.spawnNode(v, args(v))
    }
  }

  /** Starts validators (all, or with --stagger the first 12), then the release signers. */
  async start (): Promise<void> {
    await this.prepare()
    await this.startBootstraps()
    const offline = this.offlineIndices()
    const initial = this.opts.stagger ? 12 : this.opts.validators
    this.startValidators(Array.from({ length: initial }, (_, i) => i).filter((i) => !offline.has(i)))
    await this.waitFor('validators to start', () => this.validatorViews.every((v) => v.peerId !== undefined), 60_000)
    const m = this.opts.threshold
    if (this.opts.holdReleaseMs !== undefined) {
      this.startReleaseSigners(Array.from({ length: m - 1 }, (_, i) => i))
      this.log(`holding the release: ${m - 1} of ${m} release messages published; checking for ${this.opts.holdReleaseMs} ms that no block appears`)
      await new Promise((resolve) => setTimeout(resolve, this.opts.holdReleaseMs))
      this.log(`blocks before release quorum: ${this.blocksBeforeRelease}, genesis seen by ${this.genesisSeen.size} nodes`)
      this.releaseStartedAt = Date.now()
      await this.startReleaseSigner(m - 1)
    } else {
      this.releaseStartedAt = Date.now()
      this.startReleaseSigners(Array.from({ length: m }, (_, i) => i))
    }
    await this.waitFor('genesis on every validator', () => this.validatorViews.filter((v) => v.running).every((v) => this.genesisSeen.has(v.name) || v.height >= 0), 60_000)
  }

  /** With --stagger: start the late validators and kill -9 / restart some as heights pass. */
  async staggerStep (): Promise<void> {
    if (!this.opts.stagger) return
    const h = this.finalHeight
    const late = Array.from({ length: this.opts.validators - 12 }, (_, k) => 12 + k)
    late.forEach((i, k) => { if (h >= 4 + 4 * k && this.nodes.get(`validator-${i}`) === undefined) { this.log(`stagger: starting validator-${i} at height ${h}`); this.startValidator(i) } })
    const v1 = this.nodes.get('validator-1')
    if (h >= 8 && v1 !== undefined && v1.restarts === 0 && v1.running) { this.log(`stagger: kill -9 validator-1 at height ${h}`); this.killValidator(1); setTimeout(() => { if (!this.stopping) this.startValidator(1) }, 500) }
    const v2 = this.nodes.get('validator-2')
    if (h >= 14 && v2 !== undefined && v2.restarts === 0 && v2.running) { this.log(`stagger: kill -9 validator-2 at height ${h}`); this.killValidator(2); setTimeout(() => { if (!this.stopping) this.startValidator(2) }, 500) }
  }

  /** Runs until `height` is final on every running validator; throws on a stall. */
  async runUntil (height: number, stallMs: number): Promise<void> {
    let last = this.finalHeight
    let lastChange = Date.now()
    for (;;) {
      await this.staggerStep()
      const h = this.finalHeight
      const restarting = [...this.nodes.values()].some((n) => n.role === 'validator' && !n.running && n.restarts === 0 && n.startedAt !== 0 && this.opts.stagger)
      // With --stagger, a restarted validator gets AFTER_RESTART_BLOCKS blocks on duty before the run ends, wherever
      // its restart fell (a slow machine brings it back late: it must resync, and re-register if it was removed).
      const justBack = this.opts.stagger && this.validatorViews.some((v) => v.restarts > 0 && v.running && v.startHeight >= 0 && h - v.startHeight < AFTER_RESTART_BLOCKS)
      if (h >= height && !restarting && !justBack) { await this.settle(); return }
      if (h !== last) { last = h; lastChange = Date.now() }
      if (Date.now() - lastChange > stallMs) throw new Error(`stalled at height ${h}: no progress for ${stallMs} ms`)
      // Wait for the next event that moves the height (or 2 s). Once at the height but held by a restart, only a
      // change will do: a predicate already true would return at once, and this loop would spin on microtasks
      // without ever reading the nodes' events (it did: the event loop stood still for the whole stall window).
      await this.waitFor(`height ${height}`, () => this.finalHeight !== last || (h < height && this.finalHeight >= height), Math.min(stallMs, 2_000)).catch(() => {})
    }
  }

  /** Every running validator holds the same block at height `h`. */
  agreesAt (h: number): boolean {
    const hashes = this.validatorViews.filter((v) => v.running).map((v) => v.hashes.get(h))
    return hashes.length > 0 && hashes.every((x) => x !== undefined) && new Set(hashes).size === 1
  }

  /**
   * A fork at the tip is normal for a moment (two rounds' blocks in flight; the fork choice settles it as the
   * next block arrives): wait, bounded by SETTLE_MS, until every running validator holds the same block at
   * the final height. `agreed` in the summary is taken after this.
   */
  private async settle (): Promise<void> {
    // Agreement changes only with node events, and waitFor re-checks on each one.
    await this.waitFor('agreement at the final height', () => this.agreesAt(this.finalHeight), SETTLE_MS).catch(() => {})
  }

  summary (error?: string): DevnetSummary {
    const recs = [...this.blocks.values()].sort((a, b) => a.height - b.height)
    const rounds: Record<string, number> = {}
    for (const r of recs) rounds[r.round] = (rounds[r.round] ?? 0) + 1
    const intervals: number[] = []
    for (let i = 1; i < recs.length; i++) if (recs[i]!.height === recs[i - 1]!.height + 1) intervals.push(recs[i]!.timestamp - recs[i - 1]!.timestamp)
    const latency = recs.filter((r) => r.height > 0).map((r) => {
      const times = [...r.acceptedBy.values()]
      return Math.max(...times) - r.timestamp
    })
    const height = this.finalHeight
    return {
      ok: error === undefined,
      height,
      blocks: recs.length,
      rounds,
      roundsByHeight: recs.filter((r) => r.height >= 1 && r.height <= height).map((r) => r.round),
      agreed: this.agreesAt(height),
      quorumMismatches: recs.filter((r) => [...r.digests.values()].some((d) => d.size > 1)).length,
      forks: recs.filter((r) => r.hashes.size > 1).length,
      rejected: this.rejected,
      msToGenesis: this.genesisAt === 0 ? -1 : this.genesisAt - this.startedAt,
      releaseToGenesisMs: this.genesisAt === 0 ? -1 : this.genesisAt - this.releaseStartedAt,
      blocksBeforeRelease: this.blocksBeforeRelease,
      blockIntervalMs: { p50: percentile(intervals, 50), p99: percentile(intervals, 99) },
      roundLatencyMs: { p50: percentile(latency, 50), p99: percentile(latency, 99) },
      validators: this.validatorViews.map((v) => ({ index: v.index, key: v.key ?? '', running: v.running, height: v.height, restarts: v.restarts, startHeight: v.startHeight, signedAfterStart: v.signedAfterStart, dutiesAfterStart: v.dutiesAfterStart, registrations: v.registrations })),
      bootstraps: this.bootstrapAddrs,
      network: this.networkFile,
      processes: new Set([...this.nodes.values()].filter((n) => n.running && n.role !== 'release').map((n) => n.proc)).size,
      ...(error !== undefined ? { error } : {})
    }
  }

  async stop (): Promise<void> {
    this.stopping = true
    this.notify()
    const procs = [...new Set([...this.nodes.values()].filter((n) => n.running && n.proc !== undefined).map((n) => n.proc!))]
    await Promise.all(procs.map(async (p) => await new Promise<void>((resolve) => {
      if (p.exitCode !== null || p.signalCode !== null) { resolve(); return }
      const t = setTimeout(() => { p.kill('SIGKILL') }, 3_000)
      p.once('exit', () => { clearTimeout(t); resolve() })
      p.kill('SIGTERM')
    })))
  }
}
