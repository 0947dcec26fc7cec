/**
 * Browser benchmarks (real Chromium through `playwright`): `node bench/browser.ts [--quick] [--no-write]`,
 * or `runBrowserBench` from bench/run.ts. Results are merged into bench/results.json under "browser"
 * (other top-level keys, e.g. "node", are kept).
 *
 *   worker-bundle-brotli     dist/app/assets/peer.worker-*.js, zlib brotli (quality 11)  target <= 160 KB
 *   worker-header-verify     processGenesis + processBlocks over 2,000 stored blocks (7
 *                            signatures each), WebCrypto, in the peer's worker (a bench
 *                            port beside the product worker API: fixtures/verify-page)     target >= 2,000 blocks/s
 *   cold-tab-verified-head   fresh browser context (no cache, empty IndexedDB) on a
 *                            loopback devnet (13 validators, 1 bootstrap): page.goto ->
 *                            status.head.height >= the devnet's final height at goto     target <= 500 ms
 *   reload-verified-head     same tab, page.reload -> head >= the devnet's final height   target <= 250 ms
 *   browser-sync-10k         fresh context syncs 10,000 blocks (7 signatures each) from a
 *                            Node peer (memory store) over WebSockets: goto -> head 10k  target <= 6 s
 *   worker-heap-after-sync   worker JS heap (CDP Runtime.getHeapUsage on the worker
 *                            target) right after that sync; also after a forced GC        target <= 64 MB
 * Medians of 3 runs (2 with --quick). Status is polled in the page every 10 ms (25 ms during the 10k
 * sync) through the page's own client (globalThis.lightpulse), so timings include one poll of latency.
 */
import { readdir, readFile, rename, writeFile } from 'node:fs/promises'
import { brotliCompressSync, constants as zc, gzipSync } from 'node:zlib'
import { join } from 'node:path'
import { cpus, loadavg, totalmem } from 'node:os'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright'
import type { Browser, CDPSession, Page } from 'playwright'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { Devnet } from '../src/node/devnet.ts'
import { DIST, ensureUiBuilt, serveUi } from '../src/node/web.ts'
import type { UiServer } from '../src/node/web.ts'
import { networkToFile } from '../src/node/files.ts'
import { createNodeLibp2p } from '../src/node/libp2p-node.ts'
import { Peer } from '../src/peer/peer.ts'
import { topicsFor } from '../src/peer/topics.ts'
import { createMemoryStore } from '../src/storage/memory-store.ts'
import { createNodeVerifier } from '../src/crypto/node.ts'
import { MAX_SYNC_BATCH, computeNetworkId } from '../src/protocol/index.ts'
import type { ClientConfig, StatusSnapshot } from '../src/client/types.ts'
import { chromiumPath } from '../scripts/system-tools.ts'
import { buildFixture } from '../test/browser/fixtures/vite-build.ts'
import { BENCH_DIR, entry, loadBenchChain, median, metric } from './common.ts'
import type { BenchChain, BenchOptions, Entry } from './common.ts'

const RESULTS = join(BENCH_DIR, 'results.json')
const SYNC_BLOCKS = 10_000
const VERIFY_BLOCKS = 2_000
const CHROMIUM = chromiumPath()
const LAUNCH_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']

interface BenchWindow { __bench?: { reachedAt?: number, height?: number, polls: number, error?: string } }

/**
 * Init script: polls the page's client status every `pollMs` until the verified head reaches `target`,
 * then records the time. Runs before the page's scripts, on every navigation of the page.
 */
function installHeadWatch (arg: { target: number, pollMs: number }): void {
  const w = window as unknown as BenchWindow
  w.__bench = { polls: 0 }
  const override = sessionStorage.getItem('benchTarget')
  const target = override !== null ? Number(override) : arg.target
  let busy = false
  const timer = setInterval(() => {
    const c = (globalThis as unknown as { lightpulse?: { status: () => Promise<StatusSnapshot> } }).lightpulse
    if (c === undefined || busy) return
    busy = true
    c.status().then((s) => {
      w.__bench!.polls++
      if (s.head !== undefined && s.head.height >= target && w.__bench!.reachedAt === undefined) {
        w.__bench!.reachedAt = Date.now()
        w.__bench!.height = s.head.height
        clearInterval(timer)
      }
    }, (err: unknown) => { w.__bench!.error = String(err) }).finally(() => { busy = false })
  }, arg.pollMs)
}

/**
 * Where a page load's time went, in ms since the navigation started (the page's timeOrigin): when the
 * worker started (`workerCreated`), the end of each start-up phase of status().startup (src/peer/startup.ts)
 * and its duration, and the first render of the verified head (the page's performance mark).
 */
interface Breakdown { at: Record<string, number>, took: Record<string, number>, detail: Record<string, unknown> }

async function phaseBreakdown (page: Page): Promise<Breakdown> {
  const got = await page.evaluate(async () => {
    const c = (globalThis as unknown as { lightpulse: { status: () => Promise<StatusSnapshot> } }).lightpulse
    const s = await c.status()
    const mark = performance.getEntriesByName('lightpulse:verified-head-rendered')[0]
    const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined
    return { pageOrigin: performance.timeOrigin, startup: s.startup, render: mark?.startTime, html: nav?.responseEnd, domInteractive: nav?.domInteractive }
  })
  const at: Record<string, number> = {}
  const took: Record<string, number> = {}
  const detail: Record<string, unknown> = {}
  if (got.startup === undefined) return { at, took, detail }
  if (got.html !== undefined) at.htmlReceived = Math.round(got.html)
  if (got.domInteractive !== undefined) at.domInteractive = Math.round(got.domInteractive)
  const shift = got.startup.timeOrigin - got.pageOrigin
  at.workerCreated = Math.round(shift)
  for (const p of got.startup.phases) {
    at[p.name] = Math.round(shift + p.endMs)
    took[p.name] = Math.round(p.endMs - p.startMs)
    if (p.detail !== undefined) detail[p.name] = p.detail
  }
  if (got.render !== undefined) at.render = Math.round(got.render)
  return { at, took, detail }
}

function phaseLine (b: Breakdown): string {
  const parts = Object.entries(b.took).map(([k, v]) => `${k} ${v}${b.detail[k] !== undefined ? ` ${JSON.stringify(b.detail[k])}` : ''}`)
  return `html ${b.at.htmlReceived ?? '?'}, dom ${b.at.domInteractive ?? '?'}, worker created at ${b.at.workerCreated ?? '?'} ms; ${parts.join(', ')}; head at ${b.at.head ?? '?'} ms, rendered at ${b.at.render ?? '?'} ms (ms since navigation)`
}

/** Per key, the median over runs (keys missing from a run are left out of that key's median). */
function medianByKey (runs: Array<Record<string, number>>): Record<string, number> {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r)))]
  return Object.fromEntries(keys.map((k) => [k, Math.round(median(runs.map((r) => r[k]).filter((v): v is number => v !== undefined)))]))
}

async function waitReached (page: Page, timeoutMs: number): Promise<{ reachedAt: number, height: number }> {
  await page.waitForFunction(() => (window as unknown as BenchWindow).__bench?.reachedAt !== undefined, undefined, { timeout: timeoutMs, polling: 50 })
  return await page.evaluate(() => { const b = (window as unknown as BenchWindow).__bench!; return { reachedAt: b.reachedAt!, height: b.height! } })
}

/** A CDP session on the page's dedicated worker (auto-attach, non-flat), for Runtime/HeapProfiler calls. */
async function workerCdp (page: Page): Promise<{ send: (method: string, params?: object) => Promise<Record<string, unknown>>, detach: () => Promise<void> }> {
  const cdp: CDPSession = await page.context().newCDPSession(page)
  const attached = new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => { reject(new Error('no worker target attached within 10 s')) }, 10_000)
    cdp.on('Target.attachedToTarget', (e: { sessionId: string, targetInfo: { type: string } }) => { if (e.targetInfo.type === 'worker') { clearTimeout(t); resolve(e.sessionId) } })
  })
  await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: false })
  const sessionId = await attached
  let id = 1
  const pending = new Map<number, (m: { result?: Record<string, unknown>, error?: unknown }) => void>()
  cdp.on('Target.receivedMessageFromTarget', (e: { message: string }) => {
    const m = JSON.parse(e.message) as { id?: number, result?: Record<string, unknown>, error?: unknown }
    if (m.id !== undefined) { pending.get(m.id)?.(m); pending.delete(m.id) }
  })
  return {
    send: async (method, params = {}) => {
      const i = id++
      const reply = new Promise<{ result?: Record<string, unknown>, error?: unknown }>((resolve) => { pending.set(i, resolve) })
      await cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id: i, method, params }) })
      const m = await reply
      if (m.error !== undefined) throw new Error(`${method}: ${JSON.stringify(m.error)}`)
      return m.result ?? {}
    },
    detach: async () => { await cdp.detach().catch(() => {}) }
  }
}

async function workerBundle (log: (l: string) => void): Promise<Entry> {
  const assets = join(DIST, 'assets')
  const file = (await readdir(assets)).find((f) => /^peer\.worker-.*\.js$/.test(f))
  if (file === undefined) throw new Error(`no peer.worker-*.js in ${assets}`)
  const bytes = await readFile(join(assets, file))
  const br = brotliCompressSync(bytes, { params: { [zc.BROTLI_PARAM_QUALITY]: 11, [zc.BROTLI_PARAM_SIZE_HINT]: bytes.length } }).length
  const gz = gzipSync(bytes, { level: 9 }).length
  log(`  ${file}: ${(bytes.length / 1024).toFixed(0)} KB minified, ${(br / 1024).toFixed(1)} KB brotli, ${(gz / 1024).toFixed(1)} KB gzip`)
  return entry('worker-bundle-brotli', metric([br / 1024], 'KB (1024 B)', 1), { op: '<=', value: 160 }, {
    file, minifiedKB: Math.round(bytes.length / 1024 * 10) / 10, gzipKB: Math.round(gz / 1024 * 10) / 10
  })
}

/** Cold tab and reload to the verified head against a loopback devnet. */
async function devnetRuns (browser: Browser, runs: number, log: (l: string) => void): Promise<Entry[]> {
  const devnet = new Devnet({ validators: 13, bootstraps: 1, validatorsPerProcess: 1, log: process.env.DEBUG_DEVNET === '1' ? (l) => { log(`  devnet: ${l}`) } : undefined })
  let ui: UiServer | undefined
  const cold: number[] = []
  const reload: number[] = []
  const coldHeights: number[] = []
  const coldPhases: Breakdown[] = []
  const reloadPhases: Breakdown[] = []
  try {
    log('  starting a devnet (13 validators, 1 bootstrap)...')
    await devnet.start()
    await devnet.runUntil(5, 90_000)
    const config = (): ClientConfig => ({ network: networkToFile(devnet.network), bootstraps: devnet.bootstrapWsAddrs, local: true })
    ui = await serveUi({ port: 0, config })
    for (let i = 0; i < runs; i++) {
      const context = await browser.newContext()
      try {
        const page = await context.newPage()
        let target = devnet.finalHeight
        await page.addInitScript(installHeadWatch, { target, pollMs: 10 })
        let t0 = Date.now()
        await page.goto(`${ui.url}?store=bench-cold`)
        const r1 = await waitReached(page, 60_000)
        cold.push(r1.reachedAt - t0)
        coldHeights.push(target)
        coldPhases.push(await phaseBreakdown(page))
        // Reload: the watch script re-runs, with the devnet's final height now as its target.
        target = devnet.finalHeight
        await page.evaluate((t) => { sessionStorage.setItem('benchTarget', String(t)) }, target)
        t0 = Date.now()
        await page.reload()
        const r2 = await waitReached(page, 60_000)
        reload.push(r2.reachedAt - t0)
        reloadPhases.push(await phaseBreakdown(page))
        log(`  run ${i + 1}/${runs}: cold tab -> verified head ${coldHeights[i]} in ${cold[i]} ms; reload -> head ${r2.height} (target ${target}) in ${reload[i]} ms`)
        log(`    cold:   ${phaseLine(coldPhases[i]!)}`)
        log(`    reload: ${phaseLine(reloadPhases[i]!)}`)
      } finally {
        await context.close()
      }
    }
  } finally {
    await ui?.close()
    await devnet.stop()
  }
  return [
    entry('cold-tab-verified-head', metric(cold, 'ms', 0), { op: '<=', value: 500 }, {
      devnetHeightAtGoto: coldHeights.join(', '),
      phaseMs: medianByKey(coldPhases.map((p) => p.took)),
      phaseEndsMsSinceNavigation: medianByKey(coldPhases.map((p) => p.at)),
      lastRunPhaseDetail: coldPhases[coldPhases.length - 1]?.detail ?? {}
    }),
    entry('reload-verified-head', metric(reload, 'ms', 0), { op: '<=', value: 250 }, {
      phaseMs: medianByKey(reloadPhases.map((p) => p.took)),
      phaseEndsMsSinceNavigation: medianByKey(reloadPhases.map((p) => p.at))
    })
  ]
}

/** A Node peer with the 10k-block bench chain in a memory store, listening on WebSockets. */
async function startSyncServer (chain: BenchChain, log: (l: string) => void): Promise<{ peer: Peer, wsAddr: string }> {
  const networkId = computeNetworkId(chain.net.config)
  const libp2p = await createNodeLibp2p({
    role: 'validator', privateKey: await generateKeyPair('Ed25519'), topics: topicsFor(networkId), listen: ['/ip4/127.0.0.1/tcp/0/ws'],
    bootstrapIds: new Set(), blocklist: new Set(), local: true
  })
  const peer = new Peer({ network: chain.net.config, libp2p, store: createMemoryStore(), verifier: createNodeVerifier(), role: 'light', bootstraps: [] })
  const t = performance.now()
  await peer.chain.acceptGenesis(chain.genesis)
  for (let i = 0; i < SYNC_BLOCKS; i += MAX_SYNC_BATCH) await peer.chain.acceptBatch(chain.blocks.slice(i, i + MAX_SYNC_BATCH))
  if (peer.chain.height !== SYNC_BLOCKS) throw new Error(`sync server filled to ${peer.chain.height}`)
  log(`  sync server: ${SYNC_BLOCKS} blocks verified into a memory store in ${((performance.now() - t) / 1000).toFixed(1)} s`)
  await peer.start()
  const ws = libp2p.getMultiaddrs().map((a) => a.toString()).find((a) => a.includes('/ws'))
  if (ws === undefined) throw new Error('sync server does not listen on /ws')
  return { peer, wsAddr: ws.includes('/p2p/') ? ws : `${ws}/p2p/${libp2p.peerId.toString()}` }
}

async function syncRuns (browser: Browser, runs: number, log: (l: string) => void): Promise<Entry[]> {
  const chain = await loadBenchChain(SYNC_BLOCKS, log)
  const server = await startSyncServer(chain, log)
  const config = (): ClientConfig => ({ network: networkToFile(chain.net.config), bootstraps: [server.wsAddr], local: true })
  const fixture = await buildFixture(join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures', 'verify-page'))
  const ui = await serveUi({ port: 0, config, root: fixture.outDir })
  const total: number[] = []
  const heapUsed: number[] = []
  const heapAfterGc: number[] = []
  const verify: number[] = []
  try {
    for (let i = 0; i < runs; i++) {
      const context = await browser.newContext()
      try {
        const page = await context.newPage()
        await page.addInitScript(installHeadWatch, { target: SYNC_BLOCKS, pollMs: 25 })
        const cdpReady = workerCdp(page)
        const t0 = Date.now()
        await page.goto(`${ui.url}?store=bench-sync`)
        const cdp = await cdpReady
        const r = await waitReached(page, 120_000)
        total.push((r.reachedAt - t0) / 1000)
        const heap = await cdp.send('Runtime.getHeapUsage') as { usedSize: number }
        heapUsed.push(heap.usedSize / 2 ** 20)
        await cdp.send('HeapProfiler.collectGarbage')
        const heap2 = await cdp.send('Runtime.getHeapUsage') as { usedSize: number }
        heapAfterGc.push(heap2.usedSize / 2 ** 20)
        // Header verification in the worker, over the blocks it just stored.
        const v = await page.evaluate(async (n) => await (globalThis as unknown as { benchVerify: (c: number) => Promise<{ blocks: number, ms: number }> }).benchVerify(n), VERIFY_BLOCKS)
        verify.push(v.blocks / (v.ms / 1000))
        log(`  run ${i + 1}/${runs}: ${SYNC_BLOCKS} blocks synced in ${total[i]!.toFixed(2)} s (goto -> head ${r.height}); worker heap ${heapUsed[i]!.toFixed(1)} MB (${heapAfterGc[i]!.toFixed(1)} MB after GC); ` +
          `benchVerify ${v.blocks} blocks in ${v.ms.toFixed(0)} ms = ${verify[i]!.toFixed(0)} blocks/s`)
        await cdp.detach()
      } finally {
        await context.close()
      }
    }
  } finally {
    await ui.close()
    await fixture.remove()
    await server.peer.stop()
  }
  return [
    entry('worker-header-verify', metric(verify, 'blocks/s', 0), { op: '>=', value: 2_000 }, { blocks: VERIFY_BLOCKS, signaturesPerBlock: 7, verifier: 'WebCrypto Ed25519 (dedicated worker)' }),
    entry('browser-sync-10k', metric(total, 's', 2), { op: '<=', value: 6 }, { blocks: SYNC_BLOCKS, blocksPerS: metric(total.map((s) => SYNC_BLOCKS / s), 'blocks/s', 0) }),
    entry('worker-heap-after-sync', metric(heapUsed, 'MB', 1), { op: '<=', value: 64 }, { afterForcedGc: metric(heapAfterGc, 'MB', 1) })
  ]
}

/** The browser bench's groups, all by default (`node bench/browser.ts --group cold`). */
export const BROWSER_GROUPS = ['sync', 'cold'] as const

export async function runBrowserBench (o: BenchOptions & { groups?: ReadonlyArray<typeof BROWSER_GROUPS[number]> }): Promise<Entry[]> {
  const groups = o.groups ?? BROWSER_GROUPS
  const runs = o.quick ? 2 : 3
  await ensureUiBuilt(o.log)
  const entries: Entry[] = [await workerBundle(o.log)]
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS, headless: true })
  // The machine is shared: record the 1-minute load average around each group (read values with it).
  const withLoad = async (fn: () => Promise<Entry[]>): Promise<Entry[]> => {
    const before = Math.round(loadavg()[0]! * 100) / 100
    const got = await fn()
    const after = Math.round(loadavg()[0]! * 100) / 100
    for (const e of got) e.loadavg = { before, after }
    return got
  }
  try {
    if (groups.includes('sync')) {
      o.log('  [sync 10k + worker verify + heap]')
      entries.push(...await withLoad(async () => await syncRuns(browser, runs, o.log)))
    }
    if (groups.includes('cold')) {
      o.log('  [cold tab / reload on a devnet]')
      entries.push(...await withLoad(async () => await devnetRuns(browser, runs, o.log)))
    }
  } finally {
    await browser.close()
  }
  return entries
}

function machine (): Record<string, unknown> {
  const c = cpus()
  return { cpus: c.length, cpuModel: c[0]?.model ?? 'unknown', memGiB: Math.round(totalmem() / 2 ** 30 * 10) / 10, node: process.version, chromium: CHROMIUM, loadavg: loadavg().map((x) => Math.round(x * 100) / 100), date: new Date().toISOString() }
}

/** Merges `entries` into bench/results.json under "browser" (keeps every other key). */
export async function writeBrowserResults (entries: Entry[], quick: boolean, browserVersion?: string): Promise<void> {
  let all: Record<string, unknown> = {}
  try { all = JSON.parse(await readFile(RESULTS, 'utf8')) as Record<string, unknown> } catch { /* first run */ }
  const prev = (typeof all.browser === 'object' && all.browser !== null ? all.browser : {}) as { benchmarks?: Record<string, unknown> }
  const benchmarks: Record<string, unknown> = { ...(prev.benchmarks ?? {}) }
  for (const e of entries) benchmarks[e.name] = { ...e, quick, measuredAt: new Date().toISOString() }
  all.browser = { machine: { ...machine(), ...(browserVersion !== undefined ? { browserVersion } : {}) }, benchmarks }
  const tmp = `${RESULTS}.tmp-${process.pid}`
  await writeFile(tmp, JSON.stringify(all, null, 2) + '\n')
  await rename(tmp, RESULTS)
}

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean' }, 'no-write': { type: 'boolean' }, group: { type: 'string', multiple: true } } })
  const quick = values.quick === true
  const log = (l: string): void => { process.stderr.write(l + '\n') }
  const groups = values.group?.map((g) => {
    if (!(BROWSER_GROUPS as readonly string[]).includes(g)) throw new Error(`unknown group ${g}: ${BROWSER_GROUPS.join(', ')}`)
    return g as typeof BROWSER_GROUPS[number]
  })
  const entries = await runBrowserBench({ quick, log, ...(groups !== undefined ? { groups } : {}) })
  for (const e of entries) {
    const extra = Object.entries(e.details ?? {}).map(([k, d]) => `${k}=${typeof d === 'object' && d !== null && 'value' in d ? `${String((d as { value: number }).value)} ${String((d as { unit: string }).unit)}` : String(d)}`).join('; ')
    const load = e.loadavg !== undefined ? `  [load ${e.loadavg.before} -> ${e.loadavg.after}]` : ''
    console.log(`${e.name.padEnd(24)} ${String(e.value).padStart(8)} ${e.unit.padEnd(12)} target ${e.target.op} ${e.target.value}  ${e.met ? 'met' : 'NOT MET'}  runs ${e.runs.join(', ')}${extra !== '' ? `  (${extra})` : ''}${load}`)
  }
  if (values['no-write'] !== true) {
    await writeBrowserResults(entries, quick)
    console.log(`wrote ${RESULTS} ("browser")`)
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await main()
