/**
 * The browser peer on a slow device: the whole Chromium (browser, renderer, the peer's worker, utility
 * processes) held to a quarter of one core by a cgroup v1 CPU quota (bench/cpu-limit.ts). CDP's CPU
 * throttling would slow the page but not its worker, where the peer runs. Needs root and the cgroup v1 cpu
 * controller (as on the CI machines); elsewhere the test is skipped and says why.
 */
import { netTest as test, expect, recordEvents, waitForStatus, peerStatus } from './fixtures/network.ts'
import { launchLimitedBrowser } from '../../bench/cpu-limit.ts'
import { chromiumPath } from '../../scripts/system-tools.ts'

const SHARE = 0.25

test('a Chromium held to a quarter of one core reaches the verified head and follows the devnet', async ({ net }) => {
  test.setTimeout(300_000) // its bounded waits: 150 s to the head, 60 s following, and the browser's start and close
  const got = await launchLimitedBrowser(chromiumPath(), SHARE)
  test.skip('unavailable' in got, 'unavailable' in got ? got.unavailable : '')
  if ('unavailable' in got) return
  test.info().annotations.push({ type: 'limited by', description: got.how })
  try {
    const context = await got.browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })
    const page = await context.newPage()
    await recordEvents(page)
    const t0 = Date.now()
    await page.goto(net.pageUrl('cpu-limited'))
    const tip = net.devnet.tipHeight
    const first = await waitForStatus(page, `verified head at the devnet's tip ${tip} or above`, (s) => s.head !== undefined && s.head.height >= tip && !s.sync.syncing && net.isHonest(s.head.height, s.head.hash), 150_000)
    const coldMs = Date.now() - t0
    await expect(page.locator('#pill')).toHaveText('verified')
    // Following: for 20 s, how far the verified head is behind the devnet's tip, once a second.
    const lags: number[] = []
    for (let i = 0; i < 20; i++) {
      await page.waitForTimeout(1_000) // the sampling interval of a measurement, not a wait for an event
      const s = await peerStatus(page)
      lags.push(Math.max(0, net.devnet.tipHeight - (s.head?.height ?? 0)))
    }
    const last = await waitForStatus(page, `head above ${first.head!.height + 10}`, (s) => s.head !== undefined && s.head.height >= first.head!.height + 10 && net.isHonest(s.head.height, s.head.hash), 60_000)
    const sorted = [...lags].sort((a, b) => a - b)
    const median = sorted[Math.floor(sorted.length / 2)]!
    test.info().annotations.push({ type: 'measured', description: `cold tab to verified head ${coldMs} ms; then head lag behind the tip, 20 samples: median ${median}, max ${sorted.at(-1)!} blocks; head ${first.head!.height} -> ${last.head!.height}` })
    console.log(`  [measured] CPU-limited (${SHARE} core): cold ${coldMs} ms, lag median ${median} max ${sorted.at(-1)!}`)
    expect(median, `the head keeps up with a block a second (lags ${lags.join(',')})`).toBeLessThanOrEqual(1)
    await expect(page.locator('#pill')).toHaveText('verified')
    await context.close()
  } finally {
    await got.close()
  }
})
