/**
 * The WebTransport listener's Node side: the sidecar framing, the certificates (validity, persistence,
 * rotation on a manual clock), the bridge's token check, and real bootstraps (`startNode`, with the Deno
 * sidecar) that keep their certhash across a restart, rotate to the advertised next certhash, and listen on
 * everything else with one clear line when Deno is absent. Browser sessions over it: test/browser/webtransport.spec.ts.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defaultLogger } from '@libp2p/logger'
import { BridgeReader, FRAME_DATA, FRAME_FIN, FRAME_RESET, FramingError, MAX_FRAME, dataFrames, encodeFrame, encodeLine } from '../../src/node/webtransport/frames.ts'
import { CertificateStore, MAX_CERT_VALIDITY_MS, generateCertificate } from '../../src/node/webtransport/certs.ts'
import { BridgeServer } from '../../src/node/webtransport/bridge.ts'
import { startNode, WEBTRANSPORT_OFF_NO_DENO } from '../../src/node/node.ts'
import { createTestNetwork } from '../helpers/chain-builder.ts'
import { waitUntil } from '../helpers/wait.ts'

test('bridge frames: a header line, then DATA/FIN/RESET frames split at MAX_FRAME, read back in order across chunk boundaries', () => {
  const big = new Uint8Array(MAX_FRAME + 10).map((_, i) => i & 255)
  const bytes = [encodeLine({ t: 'stream', session: 3 }), ...dataFrames(big), encodeFrame(FRAME_FIN)]
  const all = new Uint8Array(bytes.reduce((n, b) => n + b.byteLength, 0))
  let at = 0
  for (const b of bytes) { all.set(b, at); at += b.byteLength }
  const r = new BridgeReader()
  const frames: Array<{ type: number, len: number }> = []
  let header: unknown
  for (let i = 0; i < all.byteLength; i += 777) {
    r.push(all.subarray(i, i + 777))
    header ??= r.readHeader()
    if (header === undefined) continue
    for (let f = r.nextFrame(); f !== undefined; f = r.nextFrame()) frames.push({ type: f.type, len: f.payload.byteLength })
  }
  assert.deepEqual(header, { t: 'stream', session: 3 })
  assert.deepEqual(frames, [{ type: FRAME_DATA, len: MAX_FRAME }, { type: FRAME_DATA, len: 10 }, { type: FRAME_FIN, len: 0 }])
})

test('bridge frames: an unknown type, an oversized frame, a header over 4 KiB or not JSON is a FramingError', () => {
  const bad = (bytes: Uint8Array, read: (r: BridgeReader) => unknown): void => {
    const r = new BridgeReader()
    r.push(bytes)
    assert.throws(() => read(r), (e: unknown) => e instanceof FramingError && e.code === 'WT_BRIDGE_FRAMING')
  }
  bad(new Uint8Array([9, 0, 0, 0, 0]), (r) => r.nextFrame())
  const over = encodeFrame(FRAME_DATA, new Uint8Array(1))
  new DataView(over.buffer).setUint32(1, MAX_FRAME + 1)
  bad(over, (r) => r.nextFrame())
  bad(new Uint8Array(5000).fill(65), (r) => r.readHeader())
  bad(new TextEncoder().encode('{nope\n'), (r) => r.readHeader())
  // A truncated frame is not an error: it waits for more bytes.
  const r = new BridgeReader()
  r.push(encodeFrame(FRAME_RESET).subarray(0, 3))
  assert.equal(r.nextFrame(), undefined)
})

test('certificates: ECDSA P-256 within 14 days; a validity over it is refused', async () => {
  const c = await generateCertificate(Date.UTC(2026, 0, 1), { validityMs: 10 * 86_400_000, skewMs: 3_600_000 })
  assert.equal(c.notAfter - c.notBefore, 10 * 86_400_000 + 3_600_000)
  assert.match(c.certhash, /^uEi[A-D][A-Za-z0-9_-]{43}$/) // base64url multibase of a sha2-256 multihash (0x12 0x20)
  assert.match(c.certPem, /BEGIN CERTIFICATE/)
  assert.match(c.keyPem, /BEGIN PRIVATE KEY/)
  await assert.rejects(generateCertificate(0, { validityMs: MAX_CERT_VALIDITY_MS, skewMs: 1 }), RangeError)
})

test('certificates: the pair persists, rolls forward at half-life (next becomes current), and an expired or corrupt file is replaced', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'lp-wt-certs-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const o = { validityMs: 10_000, skewMs: 0 }
  const t0 = 1_800_000_000_000
  const a = new CertificateStore(dir, o)
  assert.equal(await a.roll(t0), false)
  const [cur, next] = [a.current.certhash, a.next.certhash]
  assert.notEqual(cur, next)
  assert.equal(a.rotatesAt, t0 + 5_000)
  // A restart (a new store on the same directory) keeps both.
  const b = new CertificateStore(dir, o)
  assert.equal(await b.roll(t0 + 1_000), false)
  assert.deepEqual([b.current.certhash, b.next.certhash], [cur, next])
  // At half-life the next certificate is served and a new next is made.
  assert.equal(await b.roll(t0 + 5_000), true)
  assert.equal(b.current.certhash, next)
  assert.notEqual(b.next.certhash, cur)
  // The one served before stays known (the handshake lists it) until it expires, across a restart too.
  assert.equal(b.previousAt(t0 + 5_000)?.certhash, cur)
  assert.equal(new CertificateStore(dir, o).previousAt(t0), undefined, 'nothing before roll()')
  const b2 = new CertificateStore(dir, o)
  await b2.roll(t0 + 6_000)
  assert.equal(b2.previousAt(t0 + 6_000)?.certhash, cur)
  assert.equal(b2.previousAt(t0 + 10_000), undefined, 'expired')
  // Long after every certificate expired: a fresh pair from now.
  const c = new CertificateStore(dir, o)
  assert.equal(await c.roll(t0 + 60_000), true)
  assert.ok(c.current.notAfter > t0 + 60_000)
  assert.ok(![cur, next].includes(c.current.certhash))
  // A corrupt file: a fresh pair, written over it.
  await writeFile(join(dir, 'webtransport-certs.json'), '{"not":"a pair"}')
  const d = new CertificateStore(dir, o)
  await d.roll(t0 + 60_000)
  assert.ok(Array.isArray(JSON.parse(await readFile(join(dir, 'webtransport-certs.json'), 'utf8'))))
})

test('the bridge drops a socket whose header lacks the process token, and opens no session for it', async (t) => {
  let sessions = 0
  const bridge = new BridgeServer(defaultLogger(), () => { sessions++ })
  await bridge.start()
  t.after(async () => { await bridge.stop() })
  const closed = await new Promise<boolean>((resolve) => {
    const s = connect(bridge.port, '127.0.0.1', () => { s.write(encodeLine({ t: 'session', token: 'f'.repeat(bridge.token.length), session: 1 })) })
    s.on('close', () => { resolve(true) })
    s.on('error', () => {})
  })
  assert.equal(closed, true)
  assert.equal(sessions, 0)
  assert.equal(bridge.openSessions, 0)
})

const wtAddr = (addrs: string[]): string | undefined => addrs.find((a) => a.includes('/quic-v1/webtransport/'))
const certhashes = (addr: string): string[] => [...addr.matchAll(/\/certhash\/([^/]+)/g)].map((m) => m[1]!)

test('a bootstrap listens on WebTransport with two certhashes, keeps them across a restart, and rotates to the advertised next one', async (t) => {
  const net = createTestNetwork({ label: 'wt-listener' })
  const dir = await mkdtemp(join(tmpdir(), 'lp-wt-node-'))
  t.after(async () => { await rm(dir, { recursive: true, force: true }) })
  const opts = { role: 'bootstrap' as const, network: net.config, dataDir: join(dir, 'boot'), bootstraps: [], local: true, listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/udp/0/quic-v1/webtransport'] }
  const first = await startNode(opts)
  const a1 = wtAddr(first.addrs())
  await first.stop()
  assert.ok(a1 !== undefined, 'a WebTransport address')
  assert.equal(certhashes(a1).length, 2)
  assert.ok(a1.includes(`/p2p/${a1.split('/p2p/')[1]}`))
  const again = await startNode(opts)
  const a2 = wtAddr(again.addrs())
  await again.stop()
  assert.deepEqual(certhashes(a2!), certhashes(a1), 'a restart keeps the certhashes')

  // Rotation: 3 s certificates rotate every 1.5 s; the advertised next certhash becomes the served one.
  const rot = await startNode({ ...opts, dataDir: join(dir, 'rot'), webTransport: { validityMs: 3_000, skewMs: 0 } })
  t.after(async () => { await rot.stop() })
  const before = certhashes(wtAddr(rot.addrs())!)
  await waitUntil('a rotation', () => certhashes(wtAddr(rot.addrs()) ?? '')[0] !== before[0], 10_000)
  const after = certhashes(wtAddr(rot.addrs())!)
  assert.equal(after[0], before[1], 'the next certhash of before is the current one after')
  assert.notEqual(after[1], before[0])
})

test('a killed sidecar is started again on the same port, and the advertised address stays', async (t) => {
  const net = createTestNetwork({ label: 'wt-restart' })
  const dir = await mkdtemp(join(tmpdir(), 'lp-wt-restart-'))
  const node = await startNode({ role: 'bootstrap', network: net.config, dataDir: dir, bootstraps: [], local: true, metricsPort: 0, listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/udp/0/quic-v1/webtransport'] })
  t.after(async () => { await node.stop(); await rm(dir, { recursive: true, force: true }) })
  const wt = node.webTransport!
  const before = wtAddr(node.addrs())
  const pid = wt.listeners[0]!.sidecarPid!
  process.kill(pid, 'SIGKILL')
  await waitUntil('the sidecar started again', () => wt.stats.sidecarRestarts === 1, 15_000)
  const again = wt.listeners[0]!.sidecarPid!
  assert.notEqual(again, pid)
  assert.doesNotThrow(() => { process.kill(again, 0) }, 'the new sidecar is alive')
  assert.equal(wtAddr(node.addrs()), before)
  const metrics = await (await fetch(`http://127.0.0.1:${node.metricsPort!}/metrics`)).text()
  assert.match(metrics, /^lightpulse_webtransport_sidecar_restarts_total 1$/m)
})

test('without Deno a bootstrap listens on everything else and says in one line that WebTransport is off', async (t) => {
  const net = createTestNetwork({ label: 'wt-off' })
  const dir = await mkdtemp(join(tmpdir(), 'lp-wt-off-'))
  const saved = process.env.LIGHTPULSE_DENO
  process.env.LIGHTPULSE_DENO = 'off'
  t.after(async () => {
    if (saved === undefined) delete process.env.LIGHTPULSE_DENO
    else process.env.LIGHTPULSE_DENO = saved
    await rm(dir, { recursive: true, force: true })
  })
  const node = await startNode({ role: 'bootstrap', network: net.config, dataDir: dir, bootstraps: [], local: true, listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/udp/0/quic-v1/webtransport'] })
  t.after(async () => { await node.stop() })
  assert.equal(node.webTransportOff, WEBTRANSPORT_OFF_NO_DENO)
  assert.equal(wtAddr(node.addrs()), undefined)
  assert.ok(node.addrs().some((a) => a.includes('/tcp/')))
})
