/**
 * The long browser benchmarks, on a 100,000-block bench chain served by a Node peer over WebSockets (group
 * `long` of bench/browser.ts; it builds the chain afresh, about 2-3 minutes, because a checkpoint must be within
 * the devnet preset's 20-minute trusting period):
 *
 *   checkpoint-100k-verified-head  fresh browser context, the app page with ?checkpoint=100000:<hash>:
 *                                  page.goto -> status.head.height >= 100,000             target <= 500 ms
 *   idb-peak-ratio-100k-pruned     one tab syncs all 100,000 blocks from genesis with the browser default
 *                                  keepBlocks (1,024); the origin's storage (navigator.storage.estimate, and
 *                                  the IndexedDB directory on disk) every 5,000 blocks: the peak over the
 *                                  second half of the run / the peak over the first half   target <= 1.25
 *   worker-heap-100k-pruned        that worker's JS heap (CDP) at 100,000 blocks           target <= 64 MB
 *
 * References in the same run: a cold tab of the same page from genesis at height 1,000 of the same server (what
 * the checkpoint saves); the first half's storage peak for the second half's.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright'
import type { Browser, Page } from 'playwright'
import { serveUi } from '../src/node/web.ts'
import type { UiServer } from '../src/node/web.ts'
import { networkToFile } from '../src/node/files.ts'
import { computeBlockHash, toHex } from '../src/protocol/index.ts'
import type { ClientConfig, StatusSnapshot } from '../src/client/types.ts'
import { chromiumPath } from '../scripts/system-tools.ts'
import { entry, loadBenchChain, metric } from './common.ts'
import type { BenchChain, Entry } from './common.ts'
import { LAUNCH_ARGS, installHeadWatch, phaseBreakdown, phaseLine, startSyncServer, waitReached, workerCdp } from './browser-helpers.ts'

export const LONG_BLOCKS = 100_000
const SAMPLE_EVERY = 5_000
const SYNC_LIMIT_MS = 600_000

async function dirBytes (dir: string): Promise<number> {
  let total = 0
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name)
    total += e.isDirectory() ? await dirBytes(p) : (await stat(p).catch(() => ({ size: 0 }))).size
  }
  return total
}

async function coldToHead (browser: Browser, url: string, target: number): Promise<{ ms: number, page: Page, close: () => Promise<void> }> {
  const context = await browser.newContext()
  const page = await context.newPage()
  await page.addInitScript(installHeadWatch, { target, pollMs: 10 })
  const t0 = Date.now()
  await page.goto(url)
  const r = await waitReached(page, 60_000)
  return { ms: r.reachedAt - t0, page, close: async () => { await context.close() } }
}

/** Checkpoint starts at the server's tip, beside cold starts from genesis to height 1,000 of the same chain. */
async function checkpointRuns (browser: Browser, ui: UiServer, chain: BenchChain, runs: number, log: (l: string) => void): Promise<Entry> {
  const tip = chain.blocks[LONG_BLOCKS - 1]!
  const checkpoint = `${LONG_BLOCKS}:${toHex(computeBlockHash(tip.header))}`
  const fromCheckpoint: number[] = []
  const fromGenesis: number[] = []
  let phases = ''
  for (let i = 0; i < runs; i++) {
    const a = await coldToHead(browser, `${ui.url}?store=bench-cp&checkpoint=${checkpoint}`, LONG_BLOCKS)
    const s = await a.page.evaluate(async () => await (globalThis as unknown as { lightpulse: { status: () => Promise<StatusSnapshot> } }).lightpulse.status())
    if (s.startedFrom?.kind !== 'checkpoint') throw new Error(`the checkpoint run started from ${JSON.stringify(s.startedFrom)}`)
    phases = phaseLine(await phaseBreakdown(a.page))
    await a.close()
    fromCheckpoint.push(a.ms)
    const b = await coldToHead(browser, `${ui.url}?store=bench-genesis`, 1_000)
    await b.close()
    fromGenesis.push(b.ms)
    log(`  run ${i + 1}/${runs}: checkpoint ${LONG_BLOCKS} -> verified head in ${a.ms} ms; reference: from genesis to height 1,000 in ${b.ms} ms`)
  }
  log(`    last checkpoint run: ${phases}`)
  return entry('checkpoint-100k-verified-head', metric(fromCheckpoint, 'ms', 0), { op: '<=', value: 500 }, {
    checkpoint: `${LONG_BLOCKS}:…`, serverTip: LONG_BLOCKS,
    referenceFromGenesisTo1000: metric(fromGenesis, 'ms (cold tab from genesis to height 1,000, same server, same run)', 0)
  })
}

/** One tab (persistent profile, so IndexedDB is on disk) syncs the whole chain from genesis with the default pruning. */
async function pruneRun (ui: UiServer, log: (l: string) => void): Promise<Entry[]> {
  const profile = await mkdtemp(join(tmpdir(), 'lightpulse-bench-profile-'))
  const context = await chromium.launchPersistentContext(profile, { executablePath: chromiumPath(), args: LAUNCH_ARGS, headless: true })
  const samples: Array<{ height: number, usage: number, disk: number, heap?: number }> = []
  try {
    const page = context.pages()[0] ?? await context.newPage()
    const cdpReady = workerCdp(page)
    const t0 = Date.now()
    await page.goto(`${ui.url}?store=bench-prune`)
    const cdp = await cdpReady
    let next = SAMPLE_EVERY
    while (next <= LONG_BLOCKS) {
      if (Date.now() - t0 > SYNC_LIMIT_MS) throw new Error(`the 100k sync reached only ${samples.at(-1)?.height ?? 0} in ${SYNC_LIMIT_MS / 1000} s`)
      const got = await page.evaluate(async () => {
        const s = await (globalThis as unknown as { lightpulse?: { status: () => Promise<StatusSnapshot> } }).lightpulse?.status()
        return { height: s?.head?.height ?? -1, first: s?.store.firstHeight, usage: (await navigator.storage.estimate()).usage ?? 0 }
      })
      if (got.height >= next) {
        const heap = got.height >= LONG_BLOCKS ? ((await cdp.send('Runtime.getHeapUsage')) as { usedSize: number }).usedSize / 2 ** 20 : undefined
        const disk = await dirBytes(join(profile, 'Default', 'IndexedDB'))
        samples.push({ height: got.height, usage: got.usage, disk, ...(heap !== undefined ? { heap } : {}) })
        log(`    at ${got.height} (first stored ${got.first ?? '?'}), ${((Date.now() - t0) / 1000).toFixed(0)} s: storage.estimate ${(got.usage / 2 ** 20).toFixed(2)} MiB, IndexedDB on disk ${(disk / 2 ** 20).toFixed(2)} MiB${heap !== undefined ? `, worker heap ${heap.toFixed(1)} MiB` : ''}`)
        while (next <= got.height) next += SAMPLE_EVERY
        continue
      }
      await page.waitForTimeout(250)
    }
    await cdp.detach()
  } finally {
    await context.close()
    await rm(profile, { recursive: true, force: true })
  }
  const half = LONG_BLOCKS / 2
  const peak = (xs: typeof samples, key: 'usage' | 'disk'): number => Math.max(...xs.map((x) => x[key]))
  const early = samples.filter((x) => x.height < half)
  const late = samples.filter((x) => x.height >= half)
  const last = samples.at(-1)!
  const mib = (key: 'usage' | 'disk'): string => samples.map((x) => `${x.height}: ${(x[key] / 2 ** 20).toFixed(2)}`).join(', ')
  return [
    entry('idb-peak-ratio-100k-pruned', metric([peak(late, 'usage') / peak(early, 'usage')], `x (peak storage over ${half.toLocaleString('en')}-${LONG_BLOCKS.toLocaleString('en')} blocks / peak below)`, 2), { op: '<=', value: 1.25 }, {
      peakMiB: metric([peak(samples, 'usage') / 2 ** 20], 'MiB (storage.estimate, highest sample of the run)', 2),
      usageMiB: mib('usage'),
      diskMiB: mib('disk'),
      diskPeakRatio: metric([peak(late, 'disk') / peak(early, 'disk')], 'x (IndexedDB directory on disk, same halves)', 2),
      keepBlocks: 'browser default (1,024)', runs: `one ${LONG_BLOCKS.toLocaleString('en')}-block sync, sampled every ${SAMPLE_EVERY.toLocaleString('en')} blocks (LevelDB compaction makes a sawtooth)`
    }),
    entry('worker-heap-100k-pruned', metric([last.heap ?? NaN], 'MB', 1), { op: '<=', value: 64 }, { atHeight: last.height })
  ]
}

export async function longRuns (browser: Browser, runs: number, log: (l: string) => void): Promise<Entry[]> {
  // The tip a little in the past of now, so that its checkpoint is well inside the 20-minute trusting period.
  const chain = await loadBenchChain(LONG_BLOCKS, log, { genesisTimestamp: Date.now() - LONG_BLOCKS * 1_000 - 60_000 })
  const tipAge = Date.now() - chain.blocks[LONG_BLOCKS - 1]!.header.timestamp
  log(`  chain tip timestamp: ${(tipAge / 1000).toFixed(0)} s ago`)
  const server = await startSyncServer(chain, LONG_BLOCKS, log)
  const config = (): ClientConfig => ({ network: networkToFile(chain.net.config), bootstraps: [server.wsAddr], local: true })
  const ui = await serveUi({ port: 0, config })
  try {
    const cp = await checkpointRuns(browser, ui, chain, runs, log)
    return [cp, ...await pruneRun(ui, log)]
  } finally {
    await ui.close()
    await server.peer.stop()
  }
}
