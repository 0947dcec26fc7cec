/**
 * Browser benchmarks (real Chromium through `playwright`): `node bench/browser.ts [--quick] [--no-write]
 * [--group sync|cold|long|transports]`, or `runBrowserBench` from bench/run.ts. Results are merged into
 * bench/results.json under "browser" (other top-level keys, e.g. "node", are kept). bench/README.md lists
 * every figure with its same-run reference; in short:
 *
 *   worker-bundle-brotli     dist/app/assets/peer.worker-*.js, zlib brotli (quality 11)  target <= 160 KB
 *   sync group (a Node peer serving the 10k bench chain over WebSockets; fixtures/verify-page):
 *     worker-header-verify   2,000 blocks verified in the peer's worker, beside bare WebCrypto verifies of
 *                            the same checks                                             target >= 2,000 blocks/s, >= 0.8 x
 *     browser-sync-10k       fresh context: goto -> verified head 10,000                  target <= 6 s
 *     worker-heap-after-sync worker JS heap (CDP) right after that sync                   target <= 64 MB
 *   cold group (a loopback devnet, 13 validators, 1 bootstrap; the app page):
 *     cold-tab-verified-head fresh context: goto -> the devnet's height at goto, beside a
 *                            bare WebSocket+noise dial in the same browser              target <= 500 ms
 *     reload-verified-head   same tab, page.reload -> the devnet's height                  target <= 250 ms
 *     submit-to-inclusion    client.submit -> waitForInclusion in the page, p50 and p99,
 *                            beside the devnet's block interval (browser-dapp.ts)        measured
 *     cold-tab-cpu-limited   the cold tab in a Chromium under a CPU quota (cpu-limit.ts)   measured
 *   long group (browser-long.ts, a fresh 100,000-block chain): checkpoint start at 100,000, storage and
 *   worker heap over a pruned sync of all of it.
 *   transports group (browser-transports.ts): first connection, cold tab and gossip delivery over WebTransport,
 *   beside the same over WebSockets in the same run.
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
import type { Browser } from 'playwright'
import { Devnet } from '../src/node/devnet.ts'
import { DIST, ensureUiBuilt, serveUi } from '../src/node/web.ts'
import type { UiServer } from '../src/node/web.ts'
import { networkToFile } from '../src/node/files.ts'
import { encodeBlock } from '../src/protocol/index.ts'
import type { ClientConfig, StatusSnapshot } from '../src/client/types.ts'
import { chromiumPath } from '../scripts/system-tools.ts'
import { buildFixture } from '../test/browser/fixtures/vite-build.ts'
import type { VerifyPass } from './fixtures/verify-page/bench.worker.ts'
import { BENCH_DIR, entry, loadBenchChain, median, metric } from './common.ts'
import type { BenchOptions, Entry } from './common.ts'
import { LAUNCH_ARGS, installHeadWatch, medianByKey, phaseBreakdown, phaseLine, startSyncServer, waitReached, workerCdp } from './browser-helpers.ts'
import type { Breakdown } from './browser-helpers.ts'
import { LONG_BLOCKS, longRuns } from './browser-long.ts'
import { launchLimitedBrowser } from './cpu-limit.ts'
import { inclusionRuns } from './browser-dapp.ts'
import { transportRuns } from './browser-transports.ts'

const RESULTS = join(BENCH_DIR, 'results.json')
const SYNC_BLOCKS = 10_000
const VERIFY_BLOCKS = 2_000
const CHROMIUM = chromiumPath()

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

const VERIFY_PAGE = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures', 'verify-page')

/** The reference dial: a bare libp2p node in the bench page's worker (its peer not started) dials `addr`. */
async function bareDialMs (browser: Browser, url: string, addr: string): Promise<number> {
  const context = await browser.newContext()
  try {
    const page = await context.newPage()
    await page.goto(`${url}?idle`)
    await page.waitForFunction(() => 'benchDial' in globalThis, undefined, { timeout: 30_000 })
    const r = await page.evaluate(async (a) => await (globalThis as unknown as { benchDial: (a: string) => Promise<{ dialMs: number }> }).benchDial(a), addr)
    return r.dialMs
  } finally {
    await context.close()
  }
}

/** The share of one core that the CPU-limited cold start gets (the whole browser; bench/cpu-limit.ts). */
const LIMITED_SHARE = 0.25

/** Cold tabs in a second Chromium under a CPU quota, on the same devnet and page as the unlimited runs. */
async function limitedColdRuns (url: string, height: () => number, tip: () => number, runs: number, log: (l: string) => void): Promise<Entry> {
  const got = await launchLimitedBrowser(CHROMIUM, LIMITED_SHARE)
  if ('unavailable' in got) {
    log(`  CPU-limited cold start not measured: ${got.unavailable}`)
    return entry('cold-tab-cpu-limited', metric([], 'ms', 0), { op: 'report', value: 0 }, { notMeasured: got.unavailable })
  }
  const times: number[] = []
  const lagMedians: number[] = []
  const lagMaxes: number[] = []
  const phases: Breakdown[] = []
  try {
    for (let i = 0; i < runs; i++) {
      const context = await got.browser.newContext()
      try {
        const page = await context.newPage()
        const target = height()
        await page.addInitScript(installHeadWatch, { target, pollMs: 10 })
        const t0 = Date.now()
        await page.goto(`${url}?store=bench-limited`)
        const r = await waitReached(page, 120_000)
        times.push(r.reachedAt - t0)
        phases.push(await phaseBreakdown(page))
        // Then how far its verified head stays behind the devnet's tip: 15 samples, one a second.
        const lags: number[] = []
        for (let k = 0; k < 15; k++) {
          await new Promise((resolve) => setTimeout(resolve, 1_000)) // sampling interval
          const h = await page.evaluate(async () => (await (globalThis as unknown as { lightpulse: { status: () => Promise<{ head?: { height: number } }> } }).lightpulse.status()).head?.height ?? 0)
          lags.push(Math.max(0, tip() - h))
        }
        lagMedians.push(median(lags))
        lagMaxes.push(Math.max(...lags))
        log(`  CPU-limited run ${i + 1}/${runs}: cold tab -> verified head ${target} in ${times[i]} ms; then head lag behind the tip median ${lagMedians[i]}, max ${lagMaxes[i]} blocks (15 s)`)
        log(`    ${phaseLine(phases[i]!)}`)
      } finally {
        await context.close()
      }
    }
  } finally {
    await got.close()
  }
  return entry('cold-tab-cpu-limited', metric(times, 'ms', 0), { op: 'report', value: 0 }, {
    limitedBy: got.how,
    headLagMedian: metric(lagMedians, 'blocks behind the devnet tip after the head (median of 15 samples, 1 s apart)', 1),
    headLagMax: metric(lagMaxes, 'blocks behind the devnet tip (max of the same samples)', 0),
    phaseMs: medianByKey(phases.map((p) => p.took))
  })
}

/** Cold tab and reload to the verified head against a loopback devnet. */
async function devnetRuns (browser: Browser, runs: number, log: (l: string) => void): Promise<Entry[]> {
  const devnet = new Devnet({ validators: 13, bootstraps: 1, validatorsPerProcess: 1, log: process.env.DEBUG_DEVNET === '1' ? (l) => { log(`  devnet: ${l}`) } : undefined })
  let ui: UiServer | undefined
  let refUi: UiServer | undefined
  let fixture: Awaited<ReturnType<typeof buildFixture>> | undefined
  const bareDial: number[] = []
  let limited: Entry | undefined
  let inclusion: Entry | undefined
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
    fixture = await buildFixture(VERIFY_PAGE)
    refUi = await serveUi({ port: 0, config, root: fixture.outDir })
    for (let i = 0; i < runs; i++) {
      bareDial.push(await bareDialMs(browser, refUi.url, devnet.bootstrapWsAddrs[0]!))
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
        log(`    reference: a bare libp2p node (WebSockets, noise, yamux) in a worker of the same browser dialed the bootstrap in ${bareDial[i]!.toFixed(0)} ms`)
        log(`    reload: ${phaseLine(reloadPhases[i]!)}`)
      } finally {
        await context.close()
      }
    }
    inclusion = await inclusionRuns(browser, ui.url, devnet, runs === 2 ? 8 : 20, log)
    limited = await limitedColdRuns(ui.url, () => devnet.finalHeight, () => devnet.tipHeight, runs, log)
  } finally {
    await ui?.close()
    await refUi?.close()
    await fixture?.remove()
    await devnet.stop()
  }
  return [
    entry('cold-tab-verified-head', metric(cold, 'ms', 0), { op: '<=', value: 500 }, {
      devnetHeightAtGoto: coldHeights.join(', '),
      referenceBareDial: metric(bareDial, 'ms (bare WebSocket+noise+yamux dial to the bootstrap, worker of the same browser, same run)', 0),
      phaseMs: medianByKey(coldPhases.map((p) => p.took)),
      phaseEndsMsSinceNavigation: medianByKey(coldPhases.map((p) => p.at)),
      lastRunPhaseDetail: coldPhases[coldPhases.length - 1]?.detail ?? {}
    }),
    entry('reload-verified-head', metric(reload, 'ms', 0), { op: '<=', value: 250 }, {
      phaseMs: medianByKey(reloadPhases.map((p) => p.took)),
      phaseEndsMsSinceNavigation: medianByKey(reloadPhases.map((p) => p.at))
    }),
    ...(inclusion !== undefined ? [inclusion] : []),
    ...(limited !== undefined ? [limited] : [])
  ]
}

async function syncRuns (browser: Browser, runs: number, log: (l: string) => void): Promise<Entry[]> {
  const chain = await loadBenchChain(SYNC_BLOCKS, log)
  const server = await startSyncServer(chain, SYNC_BLOCKS, log)
  const config = (): ClientConfig => ({ network: networkToFile(chain.net.config), bootstraps: [server.wsAddr], local: true })
  const fixture = await buildFixture(VERIFY_PAGE)
  // Genesis and the first VERIFY_BLOCKS blocks for benchVerify (u32 length + encoded block each): the peer
  // prunes what it synced down to its keepBlocks, so the worker cannot take them from its store.
  const frames = [encodeBlock(chain.genesis), ...chain.encoded.slice(0, VERIFY_BLOCKS)]
  const file = new Uint8Array(frames.reduce((n, f) => n + 4 + f.length, 0))
  frames.reduce((at, f) => { new DataView(file.buffer).setUint32(at, f.length); file.set(f, at + 4); return at + 4 + f.length }, 0)
  await writeFile(join(fixture.outDir, 'verify-blocks.bin'), file)
  const ui = await serveUi({ port: 0, config, root: fixture.outDir })
  const total: number[] = []
  const ceiling: number[] = []
  const syncPhases: Breakdown[] = []
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
        // The sync phase is recorded once the last batch is stored, a moment after the head is verified.
        for (let k = 0; k < 100; k++) {
          const done = await page.evaluate(async () => (await (globalThis as unknown as { lightpulse: { status: () => Promise<StatusSnapshot> } }).lightpulse.status()).startup?.phases.some((p) => p.name === 'sync') === true)
          if (done) break
          await page.waitForTimeout(100)
        }
        syncPhases.push(await phaseBreakdown(page))
        // Header verification in the worker, beside bare WebCrypto verifies of the same checks (alternating passes).
        const passes = await page.evaluate(async () => await (globalThis as unknown as { benchVerify: (url: string, passes: number) => Promise<VerifyPass[]> }).benchVerify(new URL('/verify-blocks.bin', location.href).href, 3))
        const rate = median(passes.map((p) => p.blocks / (p.productMs / 1000)))
        const top = median(passes.map((p) => p.blocks / (p.ceilingMs / 1000)))
        verify.push(rate)
        ceiling.push(top)
        log(`  run ${i + 1}/${runs}: ${SYNC_BLOCKS} blocks synced in ${total[i]!.toFixed(2)} s (goto -> head ${r.height}); worker heap ${heapUsed[i]!.toFixed(1)} MB (${heapAfterGc[i]!.toFixed(1)} MB after GC)`)
        log(`    sync: ${phaseLine(syncPhases[i]!)}`)
        log(`    verify ${passes[0]!.blocks} blocks (${passes[0]!.verifies} signature checks), 3 passes: ${rate.toFixed(0)} blocks/s; bare WebCrypto ceiling ${top.toFixed(0)} blocks/s (${(rate / top).toFixed(2)} of it)`)
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
    entry('worker-header-verify', metric(verify, 'blocks/s', 0), { op: '>=', value: 2_000 }, {
      blocks: VERIFY_BLOCKS, signaturesPerBlock: 7, verifier: 'WebCrypto Ed25519 (dedicated worker)',
      ceiling: metric(ceiling, 'blocks/s (bare WebCrypto verifies of the same checks, same worker, alternating passes)', 0),
      ratioToCeiling: metric(verify.map((v, i) => v / ceiling[i]!), 'x (paired per run; target >= 0.8)', 2)
    }),
    entry('browser-sync-10k', metric(total, 's', 2), { op: '<=', value: 6 }, {
      blocks: SYNC_BLOCKS, blocksPerS: metric(total.map((s) => SYNC_BLOCKS / s), 'blocks/s', 0),
      phaseMs: medianByKey(syncPhases.map((p) => p.took))
    }),
    entry('worker-heap-after-sync', metric(heapUsed, 'MB', 1), { op: '<=', value: 64 }, { afterForcedGc: metric(heapAfterGc, 'MB', 1) })
  ]
}

/** The browser bench's groups, all by default (`node bench/browser.ts --group cold`). */
export const BROWSER_GROUPS = ['sync', 'cold', 'long', 'transports'] as const

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
    if (groups.includes('long')) {
      o.log(`  [${LONG_BLOCKS.toLocaleString('en')}-block chain: checkpoint start, storage and heap with pruning]`)
      entries.push(...await withLoad(async () => await longRuns(browser, runs, o.log)))
    }
    if (groups.includes('cold')) {
      o.log('  [cold tab / reload on a devnet]')
      entries.push(...await withLoad(async () => await devnetRuns(browser, runs, o.log)))
    }
    if (groups.includes('transports')) {
      o.log('  [WebTransport against WebSockets on a devnet]')
      entries.push(...await withLoad(async () => await transportRuns(browser, runs + 2, o.log)))
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
    const extra = Object.entries(e.details ?? {}).map(([k, d]) => `${k}=${typeof d === 'object' && d !== null && 'value' in d ? `${String((d as { value: number }).value)} ${String((d as { unit: string }).unit)}` : typeof d === 'object' ? JSON.stringify(d) : String(d)}`).join('; ')
    const load = e.loadavg !== undefined ? `  [load ${e.loadavg.before} -> ${e.loadavg.after}]` : ''
    console.log(`${e.name.padEnd(24)} ${String(e.value).padStart(8)} ${e.unit.padEnd(12)} ${e.target.op === 'report' ? 'measured' : `target ${e.target.op} ${e.target.value}  ${e.met ? 'met' : 'NOT MET'}`}  runs ${e.runs.join(', ')}${extra !== '' ? `  (${extra})` : ''}${load}`)
  }
  if (values['no-write'] !== true) {
    await writeBrowserResults(entries, quick)
    console.log(`wrote ${RESULTS} ("browser")`)
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await main()
