/**
 * The browser peer behind a slow, lossy link: 200 ms of round-trip time, and 5 % of the chunks in each
 * direction held back 300 ms more, in order, as a lost TCP segment holds a stream until its retransmission
 * (fixtures/lossy/lossy-link.ts: Chromium in a network namespace of its own that reaches the devnet only
 * over that link; `tc netem` is not available in these machines' kernels). The page uses WebSockets only
 * (UDP does not cross the link). The head must keep coming.
 */
import { chromium } from '@playwright/test'
import { netTest as test, expect, recordEvents, waitForStatus, peerStatus } from './fixtures/network.ts'
import { lossyLink } from './fixtures/lossy/lossy-link.ts'
import { serveUi } from '../../src/node/web.ts'
import { chromiumPath } from '../../scripts/system-tools.ts'
import { LAUNCH_ARGS } from '../../bench/browser-helpers.ts'

const portOf = (addr: string): number => Number(addr.split('/tcp/')[1]!.split('/')[0])

test('over 200 ms RTT with 5 % of segments lost and retransmitted, the tab reaches the verified head and the head keeps coming', async ({ net }) => {
  test.setTimeout(300_000) // its bounded waits (120 + 90 s) and the namespace's browser start
  // Something to catch up on over the link: at least 60 blocks (in the whole suite the shared devnet is past that).
  await net.devnet.waitFor('a devnet at height 60', () => net.devnet.tipHeight >= 60, 120_000)
  const ui = await serveUi({ port: 0, config: () => ({ ...net.config(), transports: ['websockets'] }) })
  const wsPorts = [...net.devnet.bootstrapWsAddrs, ...net.devnet.validatorViews.flatMap((v) => v.addrs.filter((a) => a.includes('/ws')))].map(portOf)
  const link = await lossyLink([Number(new URL(ui.url).port), ...new Set(wsPorts)], chromiumPath(), { delayMs: 100, stallProbability: 0.05, stallMs: 300 })
  const browser = await chromium.launch({ executablePath: link.executable, args: LAUNCH_ARGS })
  try {
    const page = await browser.newPage()
    await recordEvents(page)
    const t0 = Date.now()
    await page.goto(`${ui.url}?store=lossy`, { timeout: 60_000 })
    const tip = net.devnet.tipHeight
    const first = await waitForStatus(page, `verified head at the devnet's tip ${tip} or above`, (s) => s.head !== undefined && s.head.height >= tip && !s.sync.syncing && net.isHonest(s.head.height, s.head.hash), 120_000)
    const coldMs = Date.now() - t0
    const phases = (first.startup?.phases ?? []).map((p) => `${p.name} ${Math.round(p.startMs)}-${Math.round(p.endMs)}`).join(', ')

    await expect(page.locator('#pill')).toHaveText('verified')
    const last = await waitForStatus(page, `10 more verified blocks after ${first.head!.height}`, (s) => s.head !== undefined && s.head.height >= first.head!.height + 10 && net.isHonest(s.head.height, s.head.hash), 90_000)
    const s = await peerStatus(page)
    const lag = net.devnet.tipHeight - s.head!.height
    test.info().annotations.push({ type: 'measured', description: `cold tab to verified head ${coldMs} ms over the lossy link (start-up phases: ${phases}); head ${first.head!.height} -> ${last.head!.height}, ${lag} behind the tip at the end; link: ${link.stats.connections} connections, ${link.stats.chunks} chunks, ${link.stats.stalls} stalled` })
    console.log(`  [measured] lossy link: cold ${coldMs} ms, head ${first.head!.height} -> ${last.head!.height}, lag ${lag}; ${link.stats.stalls} of ${link.stats.chunks} chunks stalled`)
    expect(link.stats.stalls, 'the link did hold chunks back').toBeGreaterThan(0)
    expect(s.connections.length, 'the peer is connected').toBeGreaterThan(0)
    expect(s.connections.every((c) => c.transport === 'websockets'), `every connection over the link (${s.connections.map((c) => c.transport).join(',')})`).toBe(true)
    expect(lag, 'the head is current at the end').toBeLessThanOrEqual(3)
    await expect(page.locator('#pill')).toHaveText('verified')
  } finally {
    await browser.close()
    await link.close()
    await ui.close()
  }
})
