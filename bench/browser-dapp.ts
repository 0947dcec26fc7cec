/**
 * The dApp path on the loopback devnet (bench/browser.ts cold group): a tab of the app page submits data
 * transactions one after another and waits for each to be in a block its own peer verified.
 *   submit-to-inclusion   client.submit -> client.waitForInclusion resolved, in the page, p50 (p99 beside it)
 *                         reference: the devnet's block interval in the same run (median gap between the
 *                         timestamps of the blocks made meanwhile): inclusion needs the next block, so about
 *                         one interval plus the propagation to a producer and back is the floor
 */
import type { Browser } from 'playwright'
import type { Devnet } from '../src/node/devnet.ts'
import type { StatusSnapshot } from '../src/client/types.ts'
import { entry, metric, round } from './common.ts'
import type { Entry } from './common.ts'

function percentile (xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!
}

export async function inclusionRuns (browser: Browser, url: string, devnet: Devnet, samples: number, log: (l: string) => void): Promise<Entry> {
  const context = await browser.newContext()
  try {
    const page = await context.newPage()
    await page.goto(`${url}?store=bench-dapp`)
    // A bounded wait for a verified head with a connection (waitForFunction would take the async predicate's
    // promise itself as truthy).
    const deadline = Date.now() + 60_000
    for (;;) {
      const ready = await page.evaluate(async () => {
        const c = (globalThis as unknown as { lightpulse?: { status: () => Promise<StatusSnapshot> } }).lightpulse
        const s = await c?.status()
        return s?.head !== undefined && s.genesis && !s.sync.syncing && s.connections.length > 0
      })
      if (ready) break
      if (Date.now() > deadline) throw new Error('the dApp tab reached no verified head within 60 s')
      await page.waitForTimeout(100) // poll interval
    }
    const from = devnet.finalHeight
    const took = await page.evaluate(async (n) => {
      type Lp = { submit: (t: string, p: string) => Promise<{ txHash: string }>, waitForInclusion: (h: string, o: { timeout: number }) => Promise<{ height: number }> }
      const c = (globalThis as unknown as { lightpulse: Lp }).lightpulse
      const out: Array<{ ms: number, submitMs: number, height: number }> = []
      for (let i = 0; i < n; i++) {
        const t0 = performance.now()
        const { txHash } = await c.submit('bench', `sample ${i}`)
        const t1 = performance.now()
        const inc = await c.waitForInclusion(txHash, { timeout: 60_000 })
        out.push({ ms: performance.now() - t0, submitMs: t1 - t0, height: inc.height })
      }
      return out
    }, samples)
    const to = devnet.finalHeight
    const stamps = [...devnet.blocks.values()].filter((b) => b.height > from && b.height <= to).sort((a, b) => a.height - b.height).map((b) => b.timestamp)
    const gaps = stamps.slice(1).map((t, i) => t - stamps[i]!)
    const ms = took.map((t) => t.ms)
    log(`  submit -> verified inclusion, ${samples} sequential: p50 ${percentile(ms, 0.5).toFixed(0)} ms, p99 ${percentile(ms, 0.99).toFixed(0)} ms; submit alone p50 ${percentile(took.map((t) => t.submitMs), 0.5).toFixed(1)} ms; devnet block interval p50 ${gaps.length > 0 ? percentile(gaps, 0.5) : NaN} ms over ${gaps.length} gaps`)
    return entry('submit-to-inclusion', { value: round(percentile(ms, 0.5), 0), unit: 'ms (p50)', runs: ms.map((x) => round(x, 0)) }, { op: 'report', value: 0 }, {
      p99: metric([percentile(ms, 0.99)], 'ms', 0),
      submitCall: metric(took.map((t) => t.submitMs), 'ms (sign, mempool check, publish)', 1),
      referenceBlockInterval: metric(gaps, 'ms (devnet block timestamps, same run)', 0),
      samples
    })
  } finally {
    await context.close()
  }
}
