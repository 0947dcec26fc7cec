/**
 * One peer per origin and store (src/client/tabs.ts), in real Chromium against the loopback devnet: three
 * tabs of the page in one browser profile run one peer (one tab leads, the others are its clients), all
 * show the same verified head, and when the leader's tab closes another tab takes the peer over from
 * IndexedDB with the same identity, losing no stored block.
 */
import type { Page } from '@playwright/test'
import { netTest as test, expect, recordEvents, waitForStatus } from './fixtures/network.ts'
import type { StatusSnapshot } from '../../src/client/types.ts'

function note (type: string, description: string): void {
  test.info().annotations.push({ type, description })
  console.log(`  [${type}] ${description}`)
}

test('three tabs share one peer and one head; closing the leader hands the peer to another tab with the same identity and store', async ({ browser, net }) => {
  test.setTimeout(180_000) // the sum of its bounded waits (3 x 60 s for the first heads, 20 + 30 + 30 s after)
  const context = await browser.newContext()
  try {
    const pages: Page[] = []
    for (let i = 0; i < 3; i++) {
      const page = await context.newPage()
      await recordEvents(page)
      await page.goto(net.pageUrl('tabs'))
      pages.push(page)
    }
    const first: StatusSnapshot[] = []
    for (const p of pages) first.push(await waitForStatus(p, 'a verified head in every tab', (s) => s.running && s.head !== undefined && net.isHonest(s.head.height, s.head.hash), 60_000))
    const roles = first.map((s) => s.tab?.role)
    expect(roles.filter((r) => r === 'leader'), `one tab leads (${roles.join(', ')})`).toHaveLength(1)
    expect(roles.filter((r) => r === 'follower')).toHaveLength(2)
    expect(new Set(first.map((s) => s.peerId)).size, 'one peer id for the three tabs').toBe(1)
    const leader = roles.indexOf('leader')
    // Every tab shows the leader's head: wait for a height past the highest one seen, in all three.
    const target = Math.max(...first.map((s) => s.head!.height)) + 1
    for (const p of pages) await waitForStatus(p, `head >= ${target} in every tab`, (s) => s.head !== undefined && s.head.height >= target, 30_000)
    await expect(pages[(leader + 1) % 3]!.locator('#tab-role')).toHaveText(/another tab/)
    await expect(pages[leader]!.locator('#tab-role')).toHaveText(/runs the peer/)
    const before = await waitForStatus(pages[leader]!, 'the leader at the head', (s) => s.head !== undefined && !s.sync.syncing, 10_000)
    // A follower's calls with arguments reach the leader's peer: a verified header, and a coded error.
    const follower = pages[(leader + 1) % 3]!
    const viaLeader = await follower.evaluate(async (h) => {
      const c = (globalThis as unknown as { lightpulse: { header: (h: number) => Promise<{ hash: string }> } }).lightpulse
      return { hash: (await c.header(h)).hash, missing: await c.header(h + 1_000_000).then(() => 'ok', (e: { code?: string }) => e.code) }
    }, before.head!.height)
    expect(viaLeader.hash, "the follower gets the leader's verified header").toBe(before.head!.hash)
    expect(viaLeader.missing).toBe('BLOCK_NOT_HELD')

    // Close the leader's tab: the browser releases its lock, and a waiting tab starts the peer itself.
    const t0 = Date.now()
    await pages[leader]!.close()
    const rest = pages.filter((_, i) => i !== leader)
    const taken = await Promise.any(rest.map(async (p) => {
      await waitForStatus(p, 'a tab took over', (s) => s.tab?.role === 'leader' && s.running && s.store.loadedHeight !== undefined, 20_000)
      return p
    }))
    const took = Date.now() - t0
    const now = await waitForStatus(taken, 'the new leader loaded the store', (s) => s.store.loadedHeight !== undefined, 5_000)
    note('tab-takeover', `${took} ms from closing the leader's tab to another tab running the peer; store loaded at height ${now.store.loadedHeight} (the old leader's head was ${before.head!.height})`)
    expect(now.peerId, 'the same identity, from IndexedDB').toBe(first[leader]!.peerId)
    expect(now.store.loadedHeight, 'no stored block was lost').toBeGreaterThanOrEqual(before.head!.height)
    expect(now.store.discarded).toBeUndefined()
    // The new leader follows the chain, and the remaining tab is its client.
    const after = await waitForStatus(taken, 'the new leader follows the chain', (s) => s.head !== undefined && s.head.height > before.head!.height + 1 && net.isHonest(s.head.height, s.head.hash), 30_000)
    const other = rest.find((p) => p !== taken)!
    const seen = await waitForStatus(other, 'the other tab follows the new leader', (s) => s.tab?.role === 'follower' && s.head !== undefined && s.head.height >= after.head!.height, 30_000)
    expect(seen.peerId).toBe(now.peerId)
  } finally {
    await context.close()
  }
})
