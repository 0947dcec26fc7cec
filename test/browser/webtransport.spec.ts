/**
 * WebTransport end to end: the devnet's bootstraps listen on WebTransport through the Deno sidecar
 * (src/node/webtransport/), and the worker peer in Chromium dials them with @libp2p/webtransport.
 *   - WebTransport alone (WebSockets turned off): the peer syncs, verifies and follows the head, and gossip
 *     flows both ways (its data transaction reaches the validators and comes back in a verified block);
 *   - a wrong certhash is refused, reported as TRANSPORT_FAILED, and the peer connects over WebSockets;
 *   - a restarted bootstrap advertises the same certhashes, and a tab holding the old address reconnects;
 *   - 40 sessions that never start their handshake are closed at the 10 s handshake timeout, and an honest tab
 *     connects to that bootstrap while they are held.
 *   - certificate rotation (a bootstrap of its own with 16 s certificates): a tab holding the address from
 *     before the rotation still connects, a tab with the new address connects, a connection made before stays;
 *   - six WebTransport tabs against a bootstrap whose high watermark is 4: its connections never exceed 4.
 * The devnet's bootstraps rotate every 6 days; rotation on a manual clock: test/peer/webtransport.test.ts.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { BrowserContext, Page } from '@playwright/test'
import { netTest as test, expect, recordEvents, waitForStatus } from './fixtures/network.ts'
import type { TestNetwork } from './fixtures/network.ts'
import { serveUi } from '../../src/node/web.ts'
import { networkToFile } from '../../src/node/files.ts'
import type { ClientConfig, SubmittedTx, TxInclusion } from '../../src/client/types.ts'
import type { RecordedEvent } from './fixtures/network.ts'

type Lp = { submit: (tag: string, payload: string) => Promise<SubmittedTx>, waitForInclusion: (h: string, o?: { timeout?: number }) => Promise<TxInclusion> }

/** A page server for `net`'s devnet with its own config (what the page's /config.json says). */
async function pageWith (net: TestNetwork, config: () => Partial<ClientConfig>): Promise<{ url: (store: string) => string, close: () => Promise<void> }> {
  const ui = await serveUi({ port: 0, config: () => ({ network: networkToFile(net.devnet.network), bootstraps: [], local: true, ...config() }) })
  return { url: (store) => `${ui.url}?store=${store}`, close: async () => { await ui.close() } }
}

async function verifiedHead (page: Page, net: TestNetwork, what: string): Promise<number> {
  const s = await waitForStatus(page, what, (s) => s.head !== undefined && net.isHonest(s.head.height, s.head.hash) && !s.sync.syncing && s.head.height >= 2, 60_000)
  return s.head!.height
}

test('a worker peer on WebTransport alone syncs, verifies and follows the head, and its data transaction is included', async ({ page, net }) => {
  test.setTimeout(180_000)
  const wt = net.devnet.bootstrapWtAddrs
  expect(wt.length, 'every bootstrap offers WebTransport (Deno is a dev dependency)').toBe(2)
  const ui = await pageWith(net, () => ({ bootstraps: net.devnet.bootstrapWtAddrs, transports: ['webtransport'] }))
  try {
    await recordEvents(page)
    await page.goto(ui.url('wt-only'))
    const h1 = await verifiedHead(page, net, 'a verified head over WebTransport')
    const s = await waitForStatus(page, 'three more verified blocks', (s) => s.head !== undefined && s.head.height >= h1 + 3 && net.isHonest(s.head.height, s.head.hash), 60_000)
    expect(s.transports).toEqual(['webtransport'])
    expect(s.connections.length).toBeGreaterThan(0)
    expect(s.connections.map((c) => c.transport), 'every connection is WebTransport').toEqual(s.connections.map(() => 'webtransport'))
    expect(s.bootstraps.connected).toBeGreaterThan(0)
    // Gossip both ways: the transaction leaves over WebTransport and comes back in a block the peer verified.
    const inc = await page.evaluate(async () => {
      const c = (globalThis as unknown as { lightpulse: Lp }).lightpulse
      const sub = await c.submit('wt', 'over webtransport')
      return await c.waitForInclusion(sub.txHash, { timeout: 60_000 })
    })
    expect(net.isHonest(inc.height, inc.blockHash), `block ${inc.height} is the devnet's`).toBe(true)
    expect(inc.data?.tag).toBe('wt')
    await page.screenshot({ path: test.info().outputPath('webtransport-only.png') })
  } finally {
    await ui.close()
  }
})

test('a wrong certhash is refused (TRANSPORT_FAILED) and the peer connects to that bootstrap over WebSockets instead', async ({ page, net }) => {
  test.setTimeout(120_000)
  const wt = net.devnet.bootstrapWtAddrs[0]!
  const id = wt.split('/p2p/')[1]!
  const ws = net.devnet.bootstrapWsAddrs.find((a) => a.endsWith(id))!
  // Both certhashes replaced by the hash of something else: the browser refuses the certificate.
  const forged = wt.replace(/\/certhash\/[^/]+/g, '/certhash/uEiDDq4_xNyDorZfsxWOnMQE6Ljt_vb7DMX-oyvG8B0eAnw')
  const ui = await pageWith(net, () => ({ bootstraps: [forged, ws] }))
  try {
    await recordEvents(page)
    await page.goto(ui.url('wt-forged'))
    const s = await waitForStatus(page, 'connected to the bootstrap', (s) => s.connections.some((c) => c.peer === id), 30_000)
    expect(s.connections.filter((c) => c.peer === id).map((c) => c.transport)).toEqual(['websockets'])
    await expect.poll(async () => await page.evaluate(() => (window.__lpEvents ?? []).some((e: RecordedEvent) => e.type === 'log' && e.details?.code === 'TRANSPORT_FAILED' && e.details?.transport === 'webtransport')), { timeout: 15_000 }).toBe(true)
    await verifiedHead(page, net, 'a verified head over the fallback')
  } finally {
    await ui.close()
  }
})

test('a restarted bootstrap keeps its certhashes, and a tab holding its old WebTransport address connects again', async ({ page, net }) => {
  test.setTimeout(150_000)
  const before = net.devnet.bootstrapWtAddrs[0]!
  const id = before.split('/p2p/')[1]!
  net.devnet.killBootstrap(0)
  const v = net.devnet.startBootstrap(0)
  v.addrs = [] // filled again by the restarted process's 'ready' report
  await expect.poll(() => v.addrs.length, { timeout: 60_000 }).toBeGreaterThan(0)
  expect(v.addrs.find((a) => a.includes('/webtransport/')), 'the same certhashes after the restart').toBe(before)
  const ui = await pageWith(net, () => ({ bootstraps: [before], transports: ['webtransport'] }))
  try {
    await page.goto(ui.url('wt-restart'))
    await waitForStatus(page, 'connected over WebTransport with the old address', (s) => s.connections.some((c) => c.peer === id && c.transport === 'webtransport'), 30_000)
  } finally {
    await ui.close()
  }
})

test('a flood of WebTransport sessions that never handshake is closed at the handshake timeout, and an honest tab gets in meanwhile', async ({ browser, page, net }) => {
  test.setTimeout(120_000)
  const target = net.devnet.bootstrapWtAddrs[1]!
  const id = target.split('/p2p/')[1]!
  const ui = await pageWith(net, () => ({ bootstraps: [target], transports: ['webtransport'] }))
  const flooder = await browser.newContext()
  try {
    // 40 sessions held open without a Noise handshake (the bootstrap holds each as a pending connection).
    const fpage = await flooder.newPage()
    await fpage.goto(new URL('/config.json', ui.url('x')).toString()) // an origin on 127.0.0.1, no peer
    const port = Number(/\/udp\/(\d+)\//.exec(target)![1])
    const hashes = [...target.matchAll(/\/certhash\/u([^/]+)/g)].map((m) => Array.from(Buffer.from(m[1]!, 'base64url').subarray(2)))
    await fpage.evaluate(async ({ port, hashes, n }) => {
      const w = window as unknown as { __flood: { opened: number, closed: number, failed: number, sessions: WebTransport[] } }
      w.__flood = { opened: 0, closed: 0, failed: 0, sessions: [] }
      await Promise.all(Array.from({ length: n }, async () => {
        const wt = new WebTransport(`https://127.0.0.1:${port}/.well-known/libp2p-webtransport?type=noise`, { serverCertificateHashes: hashes.map((h) => ({ algorithm: 'sha-256', value: new Uint8Array(h) })) })
        w.__flood.sessions.push(wt)
        wt.closed.then(() => { w.__flood.closed++ }, () => { w.__flood.closed++ })
        try { await wt.ready; w.__flood.opened++ } catch { w.__flood.failed++ }
      }))
    }, { port, hashes, n: 40 })
    const opened = await fpage.evaluate(() => (window as unknown as { __flood: { opened: number } }).__flood.opened)
    expect(opened, 'the flood sessions are up').toBeGreaterThan(30)
    // During the flood an honest tab connects to the same bootstrap over WebTransport and verifies the head.
    await page.goto(ui.url('wt-flood-honest'))
    await waitForStatus(page, 'the honest tab connected during the flood', (s) => s.connections.some((c) => c.peer === id && c.transport === 'webtransport'), 20_000)
    const stillHeld = await fpage.evaluate(() => { const f = (window as unknown as { __flood: { opened: number, closed: number } }).__flood; return f.opened - f.closed })
    expect(stillHeld, 'the honest tab got in while the flood sessions were still held').toBeGreaterThan(30)
    // The bootstrap closes every idle session once the 10 s handshake timeout passes.
    await expect.poll(async () => await fpage.evaluate(() => (window as unknown as { __flood: { closed: number } }).__flood.closed), { timeout: 40_000 }).toBe(40)
    await verifiedHead(page, net, 'a verified head for the honest tab')
  } finally {
    await flooder.close()
    await ui.close()
  }
})

test('certificate rotation: a tab with the address from before a rotation still connects, a new tab gets the new certhash, connections stay', async ({ browser, page, net }) => {
  test.setTimeout(150_000)
  // A bootstrap of its own with 16 s certificates: it rotates 8 s after its first start.
  const boot = await ownBootstrap(net, ['--webtransport-cert-validity-ms', '16000'])
  const { dir } = boot
  const contexts: BrowserContext[] = []
  try {
    const addrs = boot.ready.addrs
    const before = addrs.find((a) => a.includes('/webtransport/'))!
    const id = before.split('/p2p/')[1]!
    const certs = async (): Promise<Array<{ start: number, certhash: string }>> => JSON.parse(await readFile(join(dir, 'webtransport', 'webtransport-certs.json'), 'utf8')) as Array<{ start: number, certhash: string }>
    const [h1, h2] = (await certs()).map((c) => c.certhash)
    expect(before).toContain(`/certhash/${h1!}/certhash/${h2!}/`)
    const ui = await pageWith(net, () => ({ bootstraps: [before], transports: ['webtransport'] }))
    const connectedOverWt = (s: { connections: Array<{ peer: string, transport: string }> }): boolean => s.connections.some((c) => c.peer === id && c.transport === 'webtransport')
    try {
      await page.goto(ui.url('wt-rotate-a'))
      await waitForStatus(page, 'tab A connected before the rotation', connectedOverWt, 30_000)
      await expect.poll(async () => (await certs())[0]!.certhash, { timeout: 30_000, message: 'the bootstrap rotated' }).toBe(h2)
      const h3 = (await certs())[1]!.certhash
      const after = before.replace(`/certhash/${h1!}/certhash/${h2!}/`, `/certhash/${h2!}/certhash/${h3}/`)
      const open = async (store: string, addr: string): Promise<Page> => {
        const ctx = await browser.newContext()
        contexts.push(ctx)
        const p = await ctx.newPage()
        const one = await pageWith(net, () => ({ bootstraps: [addr], transports: ['webtransport'] }))
        p.on('close', () => { void one.close() })
        await p.goto(one.url(store))
        return p
      }
      const b = await open('wt-rotate-b', before)
      await waitForStatus(b, 'tab B, holding the address from before the rotation, connected', connectedOverWt, 30_000)
      const c = await open('wt-rotate-c', after)
      await waitForStatus(c, 'tab C, with the new certhashes, connected', connectedOverWt, 30_000)
      await waitForStatus(page, 'tab A still connected after the rotation', connectedOverWt, 5_000)
    } finally {
      await ui.close()
    }
  } finally {
    for (const c of contexts) await c.close()
    await boot.stop()
  }
})

/** A bootstrap process of its own (`lightpulse bootstrap --events`), joined to `net`'s devnet, with `args`. */
async function ownBootstrap (net: TestNetwork, args: string[]): Promise<{ dir: string, ready: { addrs: string[], metricsPort?: number }, stop: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'lp-wt-boot-'))
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', fileURLToPath(new URL('../../src/node/cli.ts', import.meta.url)), 'bootstrap',
    '--network', net.devnet.networkFile, '--data', dir, '--local', '--events', ...args,
    '--listen', '/ip4/127.0.0.1/tcp/0', '--listen', '/ip4/127.0.0.1/udp/0/quic-v1/webtransport', '--bootstrap', net.devnet.bootstrapAddrs[0]!], { stdio: ['ignore', 'pipe', 'inherit'] })
  const stop = async (): Promise<void> => {
    child.kill('SIGTERM')
    await new Promise<void>((resolve) => { if (child.exitCode !== null) resolve(); else child.once('exit', () => { resolve() }) })
    await rm(dir, { recursive: true, force: true })
  }
  try {
    const ready = await new Promise<{ addrs: string[], metricsPort?: number }>((resolve, reject) => {
      let buf = ''
      child.stdout!.on('data', (b: Buffer) => {
        buf += b.toString()
        for (const line of buf.split('\n').slice(0, -1)) { try { const ev = JSON.parse(line) as { ev?: string, addrs?: string[], metricsPort?: number }; if (ev.ev === 'ready') resolve({ addrs: ev.addrs!, ...(ev.metricsPort !== undefined ? { metricsPort: ev.metricsPort } : {}) }) } catch {} }
        buf = buf.slice(buf.lastIndexOf('\n') + 1)
      })
      child.once('exit', (code) => { reject(new Error(`the bootstrap exited (${String(code)})`)) })
    })
    return { dir, ready, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

async function metricValue (port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)
  if (m === null) throw new Error(`no ${name} in /metrics`)
  return Number(m[1])
}

test('WebTransport peers beyond a bootstrap\'s high watermark are refused or trimmed: its connections never exceed it', async ({ browser, net }) => {
  test.setTimeout(180_000)
  const boot = await ownBootstrap(net, ['--high-watermark', '4', '--low-watermark', '2', '--grace-period-ms', '0', '--metrics-port', '0'])
  const contexts: BrowserContext[] = []
  try {
    const port = boot.ready.metricsPort!
    const addr = boot.ready.addrs.find((a) => a.includes('/webtransport/'))!
    const ui = await pageWith(net, () => ({ bootstraps: [addr], transports: ['webtransport'] }))
    try {
      // Six full peers over WebTransport (and its link to the devnet's bootstrap): seven want a place, four fit.
      for (let i = 0; i < 6; i++) {
        const ctx = await browser.newContext()
        contexts.push(ctx)
        await (await ctx.newPage()).goto(ui.url(`wt-watermark-${i}`))
      }
      await expect.poll(async () => await metricValue(port, 'lightpulse_webtransport_sessions_total'), { timeout: 60_000, message: 'every tab reached the bootstrap' }).toBeGreaterThanOrEqual(6)
      await expect.poll(async () => (await metricValue(port, 'lightpulse_connections_trimmed_total')) + (await metricValue(port, 'lightpulse_connections_denied_total')), { timeout: 60_000, message: 'connections over the watermark were trimmed or refused' }).toBeGreaterThan(0)
      expect(await metricValue(port, 'lightpulse_connections_peak'), 'the peak never went over the high watermark').toBeLessThanOrEqual(4)
      expect(await metricValue(port, 'lightpulse_connections_high_watermark_breaches_total')).toBe(0)
      expect(await metricValue(port, 'lightpulse_connections')).toBeLessThanOrEqual(4)
    } finally {
      await ui.close()
    }
  } finally {
    for (const c of contexts) await c.close()
    await boot.stop()
  }
})
