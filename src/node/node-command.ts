/** `lightpulse bootstrap | validator | release`: parse the flags, start the node, print its events. */
import { parseArgs } from 'node:util'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { parseCheckpoint, toHex } from '../protocol/index.ts'
import type { TrustedCheckpoint } from '../protocol/index.ts'
import { MIN_KEEP_BLOCKS } from '../peer/chain-service.ts'
import { createNodeSigner } from '../crypto/node.ts'
import { loadNetwork, loadSeed } from './files.ts'
import { startNode, defaultListen } from './node.ts'
import type { RunningNode } from './node.ts'
import type { Peer } from '../peer/peer.ts'
import type { LogSink } from '../peer/logger.ts'
import { resolveOpsConfig } from './node-config.ts'
import { whenOrphaned } from './paths.ts'
import { COMMAND_HELP } from './help.ts'

export function fail (msg: string, code = 2): never {
  process.stderr.write(`lightpulse: ${msg}\n`)
  process.exit(code)
}

export function stderrSink (quiet: boolean, role: string): LogSink {
  return (level, component, msg, fields) => {
    if (quiet || level === 'debug') return
    const f = fields === undefined ? '' : ' ' + Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ')
    process.stderr.write(`${new Date().toISOString().slice(11, 23)} ${level.padEnd(5)} ${role} ${component.replace(/^lightpulse:/, '')}: ${msg}${f}\n`)
  }
}

function emitLine (on: boolean, obj: Record<string, unknown>): void {
  if (on) process.stdout.write(JSON.stringify(obj) + '\n')
}

/** A peer's events as JSON objects: what `--events` prints, one per line. */
export type Emit = (obj: Record<string, unknown>) => void

/** Forwards a running node's events to `emit`. */
export function forwardEvents (p: Peer, emit: Emit): void {
  p.events.on('block', (b) => { emit({ ev: 'block', ...b }) })
  p.events.on('genesis', (g) => { emit({ ev: 'genesis', ...g }) })
  p.events.on('release', (r) => { emit({ ev: 'release', ...r }) })
  p.events.on('rejected', (r) => { emit({ ev: 'rejected', ...r }) })
  p.events.on('round', (r) => { if (r.role !== 'observer') emit({ ev: 'round', ...r }) })
  p.events.on('stalled', (s) => { emit({ ev: 'stalled', ...s }) })
  p.events.on('registering', (r) => { emit({ ev: 'registering', ...r }) })
  p.events.on('error', (e) => { emit({ ev: 'error', ...e }) })
}

/** The 'ready' event: role, identity, addresses, height and the command's extras. */
export function readyEvent (node: RunningNode, extra: Record<string, unknown>): Record<string, unknown> {
  const p = node.peer
  return { ev: 'ready', role: p.role, peerId: p.libp2p.peerId.toString(), addrs: node.addrs(), height: p.chain.height, ...extra }
}

/** Stats for the 'stats' event (on shutdown and on SIGUSR2). */
export function statsEvent (node: RunningNode): Record<string, unknown> {
  const p = node.peer
  return { ev: 'stats', stats: p.stats, height: p.chain.height, mesh: p.meshPeers(), connections: p.connections().length, quorum: { ...p.relay.stats, bound: p.relay.boundPeers() } }
}

/**
 * Where a started bootstrap or validator goes when several nodes share one process (`lightpulse host`):
 * the host tags its events and owns the signals. Without one, the node owns the process (`attach`).
 */
export interface NodeHost {
  add: (node: RunningNode, ready: Record<string, unknown>) => void
  /** A release signer whose job is done (or failed with `code` ≠ 0) and that has stopped. */
  finished: (node: RunningNode, code: number) => void
  /** The node's events (a release signer's own 'released' / 'resumed'), tagged like the rest. */
  emit: Emit
}

/**
 * Wires a node's events to stdout (JSON lines) and handles shutdown signals. The handlers are registered
 * before 'ready' is printed: a supervisor may send SIGTERM the moment it reads that line.
 */
function attach (node: RunningNode, events: boolean, extra: Record<string, unknown>): void {
  const p = node.peer
  const emit: Emit = (obj) => { if (events) process.stdout.write(JSON.stringify(obj) + '\n') }
  let stopping = false
  const shutdown = (sig: string): void => {
    if (stopping) return
    stopping = true
    emit(statsEvent(node))
    void node.stop().catch(() => {}).finally(() => { process.exit(sig === 'SIGINT' ? 130 : 0) })
    setTimeout(() => process.exit(1), 5_000).unref()
  }
  process.on('SIGINT', () => { shutdown('SIGINT') })
  process.on('SIGTERM', () => { shutdown('SIGTERM') })
  if (events) {
    // Orchestrated (a devnet or a test reads these events): if that parent dies without stopping us, we
    // are orphaned, and nobody reads our events or will stop us; so stop by ourselves.
    whenOrphaned(() => { shutdown('SIGTERM') })
    process.stdout.on('error', () => { shutdown('SIGTERM') })
  }
  process.on('SIGUSR2', () => { emit(statsEvent(node)) })
  forwardEvents(p, emit)
  emit(readyEvent(node, extra))
  if (!events) process.stderr.write(`${p.role} ${p.libp2p.peerId.toString()} listening on:\n${node.addrs().map((a) => `  ${a}`).join('\n')}\n`)
  if (node.webTransportOff !== undefined) process.stderr.write(`${node.webTransportOff}\n`)
}


/**
 * Runs `lightpulse bootstrap|validator|release ARGS`. With `host`, the node (a bootstrap or a validator) is
 * handed to that host instead of owning the process.
 */
export async function runNodeCommand (command: 'bootstrap' | 'validator' | 'release', args: string[], host?: NodeHost): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      network: { type: 'string' },
      data: { type: 'string' },
      key: { type: 'string' },
      index: { type: 'string' },
      bootstrap: { type: 'string', multiple: true },
      listen: { type: 'string', multiple: true },
      port: { type: 'string' },
      'max-connections': { type: 'string' },
      timeout: { type: 'string' },
      register: { type: 'boolean' },
      'no-register': { type: 'boolean' },
      resume: { type: 'boolean' },
      'mesh-d': { type: 'string' },
      'mesh-dlo': { type: 'string' },
      'mesh-dhi': { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      local: { type: 'boolean' },
      config: { type: 'string' },
      'low-watermark': { type: 'string' },
      'high-watermark': { type: 'string' },
      'grace-period-ms': { type: 'string' },
      'metrics-port': { type: 'string' },
      'px-history': { type: 'string' },
      'px-history-size': { type: 'string' },
      hostile: { type: 'string' },
      'gossip-rounds': { type: 'boolean' },
      checkpoint: { type: 'string' },
      prune: { type: 'string' },
      'sync-rps': { type: 'string' },
      'sync-streams': { type: 'string' },
      'sync-bytes-per-s': { type: 'string' },
      'webtransport-cert-validity-ms': { type: 'string' },
      events: { type: 'boolean' },
      quiet: { type: 'boolean' }
    },
    strict: true
  })
  // Watermarks, mesh and metrics settings (flags over --config FILE), validated before anything starts.
  const ops = command === 'release' ? undefined : await resolveOpsConfig(command, values)
  if (values.network === undefined) fail(`--network FILE is required\n\n${COMMAND_HELP[command]}`)
  const network = await loadNetwork(values.network)
  const bootstraps = values.bootstrap ?? []
  const events = values.events === true || host !== undefined
  const quiet = values.quiet === true || events
  let checkpoint: TrustedCheckpoint | undefined
  try {
    checkpoint = values.checkpoint !== undefined ? parseCheckpoint(values.checkpoint) : undefined
  } catch {
    fail(`--checkpoint must be <height>:<64 hex digits of the block hash> (height at least 1)\n\n${COMMAND_HELP[command]}`)
  }
  // TEST ONLY: short WebTransport certificates (no skew) so that a test sees rotations.
  const wtValidity = values['webtransport-cert-validity-ms']
  const webTransport = wtValidity !== undefined ? { webTransport: { validityMs: parseIntArg('--webtransport-cert-validity-ms', wtValidity, 2_000, 12 * 86_400_000), skewMs: 0 } } : {}
  const chainOpts = {
    ...webTransport,
    ...(checkpoint !== undefined ? { checkpoint } : {}),
    ...(values.prune !== undefined ? { keepBlocks: parseIntArg('--prune', values.prune, MIN_KEEP_BLOCKS, 1e9) } : {})
  }
  const hand = (node: RunningNode, extra: Record<string, unknown>): void => { if (host !== undefined) host.add(node, extra); else attach(node, events, extra) }
  if (command === 'bootstrap') {
    const port = values.port !== undefined ? parseIntArg('--port', values.port, 1, 65_000) : 0
    const node = await startNode({
      role: 'bootstrap',
      network,
      dataDir: values.data ?? join('.data', 'bootstrap'),
      bootstraps,
      listen: values.listen ?? defaultListen('bootstrap', '127.0.0.1', port),
      watermarks: ops!,
      mesh: ops!.mesh,
      pxHistory: ops!.pxHistory,
      syncBudget: ops!.syncBudget,
      ...(ops?.metricsPort !== undefined ? { metricsPort: ops.metricsPort } : {}),
      local: values.local === true,
      ...chainOpts,
      logSink: stderrSink(quiet, 'bootstrap')
    })
    hand(node, opsReady(node))
    return
  }
  if (values.key === undefined) fail(`--key is required\n\n${COMMAND_HELP[command]}`)
  if (bootstraps.length === 0) fail(`at least one --bootstrap MULTIADDR is required\n\n${COMMAND_HELP[command]}`)
  const seed = await loadSeed(values.key)
  const publicKey = createNodeSigner(seed).publicKey
  if (command === 'validator') {
    if (values.hostile !== undefined && values.hostile !== 'silent-reveal') fail(`--hostile must be silent-reveal (a test-only mode)\n\n${COMMAND_HELP.validator}`)
    const node = await startNode({
      role: 'validator',
      network,
      dataDir: values.data ?? join('.data', `validator-${toHex(publicKey).slice(0, 8)}`),
      validatorSeed: seed,
      bootstraps,
      listen: values.listen,
      mesh: ops!.mesh,
      watermarks: ops!,
      syncBudget: ops!.syncBudget,
      ...(ops?.metricsPort !== undefined ? { metricsPort: ops.metricsPort } : {}),
      local: values.local === true,
      ...(values.hostile !== undefined ? { hostile: 'silent-reveal' as const } : {}),
      keepRegistered: values['no-register'] !== true,
      gossipRounds: values['gossip-rounds'] === true,
      ...chainOpts,
      logSink: stderrSink(quiet, `validator-${toHex(publicKey).slice(0, 6)}`)
    })
    hand(node, { key: toHex(publicKey), ...opsReady(node) })
    return
  }
  // release signer
  if (values.index === undefined) fail(`--index is required\n\n${COMMAND_HELP.release}`)
  const index = parseIntArg('--index', values.index, 0, network.releaseSigners.length - 1)
  if (toHex(network.releaseSigners[index]!) !== toHex(publicKey)) fail(`this key is not release signer #${index} of network '${network.name}'`)
  const node = await startNode({
    role: 'light',
    network,
    dataDir: values.data ?? join(tmpdir(), `lightpulse-release-${index}-${process.pid}`),
    bootstraps,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    local: values.local === true,
    logSink: stderrSink(quiet, `release-${index}`)
  })
  hand(node, { index })
  // A release signer ends when its job is done: in its own process that is the process's exit code; in a host,
  // only this node stops.
  let ended = false
  const end = (code: number): void => {
    if (ended) return
    ended = true
    void node.stop().catch(() => {}).finally(() => { if (host !== undefined) host.finished(node, code); else process.exit(code) })
  }
  const out = (obj: Record<string, unknown>): void => { if (host !== undefined) host.emit(obj); else emitLine(events, obj) }
  const timeoutS = values.timeout !== undefined ? parseIntArg('--timeout', values.timeout, 1, 86_400) : 120
  const deadline = Date.now() + timeoutS * 1000
  const signer = createNodeSigner(seed)
  // Wait until someone subscribed to the release topic can hear us, then publish.
  while (Date.now() < deadline && node.peer.pubsub.getSubscribers(node.peer.topics.release).length === 0) {
    await new Promise<void>((resolve) => { const off = node.peer.libp2p.services.pubsub.addEventListener('subscription-change', () => { resolve() }, { once: true }); setTimeout(resolve, 500); void off })
  }
  if (values.resume === true) {
    // Resume a stalled chain: sync to the tip, wait until it is stalled, sign a resume for that tip.
    const stalled = async (): Promise<boolean> => node.peer.chain.state !== undefined && node.peer.rounds.stalledSince !== undefined
    while (Date.now() < deadline && !await stalled()) await new Promise<void>((resolve) => { const off = node.peer.events.on('stalled', () => { off(); resolve() }); setTimeout(() => { off(); resolve() }, 1_000) })
    if (!await stalled()) { process.stderr.write('lightpulse: the chain is not stalled (no 255 failed rounds on the tip); nothing to resume\n'); end(3); return }
    const m = await node.peer.release.publishResume(index, signer)
    out({ ev: 'resumed', index, height: node.peer.chain.height, timestamp: m?.timestamp })
    if (!events) process.stderr.write(`resume message ${index} published for height ${node.peer.chain.height}\n`)
    const off = node.peer.events.on('block', () => { off(); end(0) })
    return
  }
  const msg = await node.peer.release.publishRelease(index, signer)
  out({ ev: 'released', index, timestamp: msg.timestamp })
  if (!events) process.stderr.write(`release message ${index} published\n`)
  // The job is done once the genesis is held by a bootstrap, not merely by this signer: signers that hear each
  // other first (several in one host process) would otherwise form genesis and leave before their release
  // messages reached anyone else, and nobody else could then form or sync it.
  const whenSpread = (): void => {
    void genesisHeldByBootstrap(node, deadline).then((held) => {
      if (!held) process.stderr.write('lightpulse: genesis formed, but no bootstrap reported it before --timeout\n')
      end(held ? 0 : 3)
    })
  }
  if (node.peer.chain.state !== undefined) { whenSpread(); return }
  node.peer.events.on('genesis', whenSpread)
  setTimeout(() => { if (node.peer.chain.state === undefined) { process.stderr.write('lightpulse: no genesis before --timeout; the release quorum is not complete yet\n'); end(3) } }, Math.max(0, deadline - Date.now())).unref()
}

/**
 * Polls the connected bootstraps' sync STATUS (every 250 ms, until `deadline`) until one reports the genesis
 * this node holds. With no bootstraps configured, any connected peer counts. True once one does.
 */
async function genesisHeldByBootstrap (node: RunningNode, deadline: number): Promise<boolean> {
  const p = node.peer
  const ours = p.chain.state?.genesisHash
  if (ours === undefined) return false
  const want = toHex(ours)
  while (Date.now() < deadline) {
    const peers = p.libp2p.getConnections().map((c) => c.remotePeer)
    const asked = p.dialer.bootstrapIds.size > 0 ? peers.filter((id) => p.dialer.bootstrapIds.has(id.toString())) : peers
    for (const id of asked) {
      const st = await p.sync.status(id).catch(() => undefined)
      if (st?.hasGenesis === true && toHex(st.genesisHash) === want) return true
    }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  return false
}

/** Watermarks and metrics port for the 'ready' event. */
function opsReady (node: RunningNode): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (node.trimmer !== undefined) { out.lowWatermark = node.trimmer.low; out.highWatermark = node.trimmer.high }
  if (node.metricsPort !== undefined) {
    out.metricsPort = node.metricsPort
    process.stderr.write(`metrics: http://127.0.0.1:${node.metricsPort}/metrics\n`)
  }
  return out
}

export function parseIntArg (name: string, v: string, min: number, max: number): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < min || n > max) fail(`${name} must be an integer in ${min}..${max} (got '${v}')`)
  return n
}

