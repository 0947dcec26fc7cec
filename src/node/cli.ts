#!/usr/bin/env node
/** The `lightpulse` command. */
import { parseArgs } from 'node:util'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { toHex } from '../protocol/index.ts'
import { createNodeSigner } from '../crypto/node.ts'
import { loadNetwork, loadSeed, newSeed, ConfigError } from './files.ts'
import { startNode, defaultListen } from './node.ts'
import type { RunningNode } from './node.ts'
import { runDevnetCli } from './devnet-cli.ts'
import type { LogSink } from '../peer/logger.ts'
import { resolveOpsConfig } from './node-config.ts'
import { GossipsubInternalsError } from '../peer/gossipsub-internals.ts'
import { whenOrphaned } from './paths.ts'

const HELP = `lightpulse: a light peer and the Pulse-style quorum-signed network it joins

Usage: lightpulse <command> [options]

Commands:
  devnet      Run a whole local network on loopback: bootstraps, validators, release signers.
              Lifts the stasis lock, produces blocks, serves the browser peer's page.
  bootstrap   Run a bootstrap peer (TCP, WebSockets, WebRTC-direct, circuit relay, peer exchange).
  validator   Run a validator: follows the chain and signs when the quorum selects its key.
  release     As a release signer, publish this signer's release message (M of them lift the lock).
  keygen      Print a new Ed25519 key: 32-byte seed (keep secret) and public key.
  launch-test Run the bootstrap confirmation tests (peer exchange, connection management, routing,
              upper limits, mesh stability) with real light peers on loopback, or --sim.

Run 'lightpulse <command> --help' for the options of a command.
`

const COMMAND_HELP: Record<string, string> = {
  bootstrap: `lightpulse bootstrap --network FILE [options]
  --network FILE        network config (JSON) [required]
  --data DIR            data directory (peer key, chain store, certificate) [default: ./.data/bootstrap]
  --listen MULTIADDR    listen address (repeatable) [default: tcp, ws and webrtc-direct on 127.0.0.1, random ports]
  --port N              base port: tcp N, ws N+1, webrtc-direct udp N+2 (instead of random ports)
  --max-connections N   connection high watermark [default: 192]
  --config FILE         JSON settings: lowWatermark, highWatermark, gracePeriodMs, heartbeatMs,
                        meshD, meshDlo, meshDhi, metricsPort, pxHistory, pxHistorySize, syncRequestsPerSecond,
                        syncStreams, syncBytesPerSecond (flags override the file)
  --low-watermark N     trim connections down to N when the high watermark is reached
  --high-watermark N    hard cap on connections, never exceeded (--max-connections is the old name)
  --grace-period-ms N   connections younger than this are never trimmed [default: 60000]
  --metrics-port N      serve Prometheus metrics at http://127.0.0.1:N/metrics (0 = any free port)
  --heartbeat-ms N      gossipsub heartbeat [default: 700]
  --px-history N        PX entries per PRUNE drawn from earlier-pruned peers, 0 = off [default: 8 of 16]
  --px-history-size N   peers kept in that history, per topic [default: 4096]
  --sync-rps N          sync requests per second one peer may make (burst 2N) [default: 20]
  --sync-streams N      sync streams one peer may have open at once [default: 4]
  --sync-bytes-per-s N  sync bytes per second served to one peer (burst 2N) [default: 4194304]
  --bootstrap MULTIADDR another bootstrap to stay connected to (repeatable)
  --local               loopback/local network: no IP-colocation penalty, high inbound rate limit
  --events              print one JSON object per line on stdout (for orchestration)
  --quiet               no log lines on stderr
`,
  validator: `lightpulse validator --network FILE --key KEY --bootstrap MULTIADDR [options]
  --network FILE        network config (JSON) [required]
  --key HEX|FILE        validator key seed (64 hex chars, or a file holding them) [required]
  --bootstrap MULTIADDR bootstrap address with /p2p/ id (repeatable) [required]
  --data DIR            data directory [default: ./.data/validator-<key prefix>]
  --listen MULTIADDR    listen address (repeatable) [default: tcp and ws on 127.0.0.1]
  --no-register         do not publish a registration when the live chain lacks this key (by default a
                        validator registers whenever its key is missing: never registered, or removed for
                        missed duties while it was down; --register is accepted and changes nothing)
  --local               loopback/local network: no IP-colocation penalty, high inbound rate limit
  --mesh-d N, --mesh-dlo N, --mesh-dhi N   gossipsub mesh degree target/low/high [default: 8/6/12]
  --heartbeat-ms N      gossipsub heartbeat [default: 700]
  --config FILE         JSON settings: lowWatermark, highWatermark, gracePeriodMs, heartbeatMs,
                        meshD, meshDlo, meshDhi, metricsPort, syncRequestsPerSecond, syncStreams,
                        syncBytesPerSecond (flags override the file)
  --low-watermark N     trim connections down to N when the high watermark is reached
  --high-watermark N    hard cap on connections, never exceeded (--max-connections is the old name)
  --grace-period-ms N   connections younger than this are never trimmed [default: 60000]
  --metrics-port N      serve Prometheus metrics at http://127.0.0.1:N/metrics (0 = any free port)
                        (validator defaults: low 48, high 64)
  --hostile MODE        TEST ONLY: misbehave on purpose. silent-reveal = commit, then never reveal
  --sync-rps N          sync requests per second one peer may make (burst 2N) [default: 20]
  --sync-streams N      sync streams one peer may have open at once [default: 4]
  --sync-bytes-per-s N  sync bytes per second served to one peer (burst 2N) [default: 4194304]
  --events              print one JSON object per line on stdout
  --quiet               no log lines on stderr
`,
  release: `lightpulse release --network FILE --key KEY --index I --bootstrap MULTIADDR [options]
  --network FILE        network config (JSON) [required]
  --key HEX|FILE        this release signer's key seed [required]
  --index I             this signer's index in the network's release signer list [required]
  --bootstrap MULTIADDR bootstrap address (repeatable) [required]
  --resume              instead of releasing genesis: once the chain is stalled (255 failed rounds), sign and
                        publish a resume message for its tip (M of them restart block production)
  --timeout S           give up after S seconds without genesis (or without a stall, with --resume) [default: 120]
  --events              print one JSON object per line on stdout
`,
  devnet: `lightpulse devnet [options]
  --validators N        validators in the genesis set (>= 12) [default: 16]
  --bootstraps N        bootstrap peers [default: 2]
  --release-signers N   listed release signers [default: 5]
  --threshold M         release signatures needed to lift the stasis lock [default: 3]
  --until-height H      run until H is final on every running validator, print a summary, exit (0 ok, 1 stall)
  --json                print the summary as one JSON object on stdout
  --offline K           keep K validators down (the K with the lowest public keys: the first round-0 producers)
  --stagger             start validators at different heights and kill -9 / restart some mid-run
  --hold-release MS     publish only M-1 release messages, check for MS that no block appears, then the M-th
  --stall-seconds S     declare a stall when no block arrives for S seconds [default: 30]
  --data DIR            where keys and stores go [default: a fresh temporary directory]
  --port N              HTTP port of the browser peer's page [default: 5173]
  --no-web              do not serve the browser peer's page
`
}

function fail (msg: string, code = 2): never {
  process.stderr.write(`lightpulse: ${msg}\n`)
  process.exit(code)
}

function stderrSink (quiet: boolean, role: string): LogSink {
  return (level, component, msg, fields) => {
    if (quiet || level === 'debug') return
    const f = fields === undefined ? '' : ' ' + Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ')
    process.stderr.write(`${new Date().toISOString().slice(11, 23)} ${level.padEnd(5)} ${role} ${component.replace(/^lightpulse:/, '')}: ${msg}${f}\n`)
  }
}

function emit (on: boolean, obj: Record<string, unknown>): void {
  if (on) process.stdout.write(JSON.stringify(obj) + '\n')
}

/**
 * Wires a node's events to stdout (JSON lines) and handles shutdown signals. The handlers are registered
 * before 'ready' is printed: a supervisor may send SIGTERM the moment it reads that line.
 */
function attach (node: RunningNode, events: boolean, extra: Record<string, unknown>): void {
  const p = node.peer
  let stopping = false
  const shutdown = (sig: string): void => {
    if (stopping) return
    stopping = true
    emit(events, { ev: 'stats', stats: p.stats, height: p.chain.height })
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
  process.on('SIGUSR2', () => { emit(events, { ev: 'stats', stats: p.stats, height: p.chain.height, mesh: p.meshPeers(), connections: p.connections().length }) })
  p.events.on('block', (b) => { emit(events, { ev: 'block', ...b }) })
  p.events.on('genesis', (g) => { emit(events, { ev: 'genesis', ...g }) })
  p.events.on('release', (r) => { emit(events, { ev: 'release', ...r }) })
  p.events.on('rejected', (r) => { emit(events, { ev: 'rejected', ...r }) })
  p.events.on('round', (r) => { if (r.role !== 'observer') emit(events, { ev: 'round', ...r }) })
  p.events.on('stalled', (s) => { emit(events, { ev: 'stalled', ...s }) })
  p.events.on('registering', (r) => { emit(events, { ev: 'registering', ...r }) })
  p.events.on('error', (e) => { emit(events, { ev: 'error', ...e }) })
  emit(events, { ev: 'ready', role: p.role, peerId: p.libp2p.peerId.toString(), addrs: node.addrs(), height: p.chain.height, ...extra })
  if (!events) process.stderr.write(`${p.role} ${p.libp2p.peerId.toString()} listening on:\n${node.addrs().map((a) => `  ${a}`).join('\n')}\n`)
}

async function main (argv: string[]): Promise<void> {
  const [command, ...rest] = argv
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP)
    return
  }
  if ((rest.includes('--help') || rest.includes('-h')) && command !== 'launch-test') {
    const h = COMMAND_HELP[command]
    if (h === undefined) fail(`unknown command '${command}'\n\n${HELP}`)
    process.stdout.write(h)
    return
  }
  switch (command) {
    case 'keygen': {
      const seed = newSeed()
      process.stdout.write(JSON.stringify({ seed: toHex(seed), publicKey: toHex(createNodeSigner(seed).publicKey) }) + '\n')
      return
    }
    case 'devnet':
      await runDevnetCli(rest)
      return
    case 'launch-test': {
      const { runLaunchTestCli } = await import('./launch-test.ts')
      await runLaunchTestCli(rest)
      return
    }
    case 'bootstrap':
    case 'validator':
    case 'release':
      await runNodeCommand(command, rest)
      return
    default:
      fail(`unknown command '${command}'\n\n${HELP}`)
  }
}

async function runNodeCommand (command: 'bootstrap' | 'validator' | 'release', args: string[]): Promise<void> {
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
      'sync-rps': { type: 'string' },
      'sync-streams': { type: 'string' },
      'sync-bytes-per-s': { type: 'string' },
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
  const events = values.events === true
  const quiet = values.quiet === true || events
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
      logSink: stderrSink(quiet, 'bootstrap')
    })
    attach(node, events, opsReady(node))
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
      logSink: stderrSink(quiet, `validator-${toHex(publicKey).slice(0, 6)}`)
    })
    attach(node, events, { key: toHex(publicKey), ...opsReady(node) })
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
  attach(node, events, { index })
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
    if (!await stalled()) { process.stderr.write('lightpulse: the chain is not stalled (no 255 failed rounds on the tip); nothing to resume\n'); await node.stop(); process.exit(3) }
    const m = await node.peer.release.publishResume(index, signer)
    emit(events, { ev: 'resumed', index, height: node.peer.chain.height, timestamp: m?.timestamp })
    if (!events) process.stderr.write(`resume message ${index} published for height ${node.peer.chain.height}\n`)
    const off = node.peer.events.on('block', () => { off(); void node.stop().finally(() => process.exit(0)) })
    return
  }
  const msg = await node.peer.release.publishRelease(index, signer)
  emit(events, { ev: 'released', index, timestamp: msg.timestamp })
  if (!events) process.stderr.write(`release message ${index} published\n`)
  const done = (code: number): void => { void node.stop().finally(() => process.exit(code)) }
  if (node.peer.chain.state !== undefined) { done(0); return }
  node.peer.events.on('genesis', () => { done(0) })
  setTimeout(() => { process.stderr.write('lightpulse: no genesis before --timeout; the release quorum is not complete yet\n'); done(3) }, Math.max(0, deadline - Date.now())).unref()
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

function parseIntArg (name: string, v: string, min: number, max: number): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < min || n > max) fail(`${name} must be an integer in ${min}..${max} (got '${v}')`)
  return n
}

main(process.argv.slice(2)).catch((err: unknown) => {
  // Exit 2 only for our own coded start-up refusals: a system error (EADDRINUSE…) keeps exit 1, which a
  // supervisor restarts (deploy/*.service: RestartPreventExitStatus=2).
  if (err instanceof ConfigError || err instanceof GossipsubInternalsError) fail(`${err.code}: ${err.message}`)
  if (err instanceof Error && err.name === 'TypeError' && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true) fail(`${err.message} (see --help)`)
  fail(err instanceof Error ? (err.stack ?? err.message) : String(err), 1)
})
