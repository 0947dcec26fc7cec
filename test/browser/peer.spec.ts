/**
 * The browser light peer (page + Web Worker + libp2p + IndexedDB) against a real loopback devnet, in
 * real Chromium. One devnet (13 validators, 2 bootstraps) is shared by every test in this file (the
 * worker-scoped `net` fixture); each test uses its own browser context and IndexedDB database.
 */
import type { Page, TestInfo } from '@playwright/test'
import { netTest as test, expect, recordEvents, events, peerStatus, waitForStatus } from './fixtures/network.ts'
import type { TestNetwork } from './fixtures/network.ts'
import type { StatusSnapshot } from '../../src/client/types.ts'

/** Records a measured fact on the test (and prints it, so the list reporter shows it). */
function note (type: string, description: string): void {
  test.info().annotations.push({ type, description })
  console.log(`  [${type}] ${description}`)
}

test.describe.configure({ mode: 'default' })

/** Waits until the page's verified head is at least `min` and the devnet has recorded the same hash at that height. */
test('the page asks the browser to keep its storage, and reports what the browser granted', async ({ page, net }) => {
  await page.addInitScript(() => {
    const sm = navigator.storage
    const ask = sm.persist.bind(sm)
    const w = globalThis as unknown as { persistCalls: number }
    w.persistCalls = 0
    sm.persist = async () => { w.persistCalls++; return await ask() }
  })
  await openPeer(page, net, 'persist')
  const granted = await page.evaluate(async () => await navigator.storage.persisted())
  const s = await waitForStatus(page, 'store.persisted reported', (st) => st.running && st.store.persisted !== undefined && st.head !== undefined, 30_000)
  expect(await page.evaluate(() => (globalThis as unknown as { persistCalls: number }).persistCalls), 'navigator.storage.persist() asked once at start').toBe(1)
  expect(s.store.persisted, 'the worker reports what the page sees').toBe(granted)
  await expect(page.locator('#stored-range')).toContainText(granted ? 'kept by the browser' : 'the browser may clear it when space runs low')
})

test('header(height) and randomness(height) give a block the tab verified; a height it does not hold is BLOCK_NOT_HELD', async ({ page, net }) => {
  await openPeer(page, net, 'header')
  const head = await honestHead(page, net, 3, 45_000)
  const got = await page.evaluate(async (h) => {
    const c = (globalThis as unknown as { lightpulse: { header: (h: number) => Promise<{ height: number, hash: string, randomValue: string }>, randomness: (h: number) => Promise<{ height: number, randomValue: string, header: { hash: string } }> } }).lightpulse
    const header = await c.header(h)
    const beacon = await c.randomness(h - 1)
    const missing = await c.header(h + 1_000_000).then(() => 'ok', (e: { code?: string }) => e.code)
    return { header, beacon, missing }
  }, head.height)
  expect(got.header.height).toBe(head.height)
  expect(got.header.hash, 'the head the status shows').toBe(head.hash)
  expect(net.isHonest(got.beacon.height, got.beacon.header.hash), 'the beacon block is the devnet\'s').toBe(true)
  expect(got.beacon.randomValue).toMatch(/^[0-9a-f]{64}$/)
  expect(got.missing).toBe('BLOCK_NOT_HELD')
})

async function honestHead (page: Page, net: TestNetwork, min: number, timeoutMs: number): Promise<NonNullable<StatusSnapshot['head']>> {
  const s = await waitForStatus(page, `honest head >= ${min}`, (st) => st.head !== undefined && st.head.height >= min && net.isHonest(st.head.height, st.head.hash), timeoutMs)
  return s.head!
}

/**
 * Waits until the page has caught up: its verified head is at least the devnet's tip when the wait began
 * (not the slowest node's height, which under load can trail the tip by many blocks, while the page is
 * still syncing) and its sync has finished.
 */
async function caughtUp (page: Page, net: TestNetwork, timeoutMs: number): Promise<NonNullable<StatusSnapshot['head']>> {
  const tip = net.devnet.tipHeight
  const s = await waitForStatus(page, `caught up to the devnet's tip ${tip}`, (st) => st.head !== undefined && st.head.height >= tip && !st.sync.syncing && net.isHonest(st.head.height, st.head.hash), timeoutMs)
  return s.head!
}

/** Every block the page accepted (block events) is the devnet's block at that height. */
async function expectOnlyHonestBlocks (page: Page, net: TestNetwork): Promise<number> {
  const blocks = (await events(page)).filter((e) => e.type === 'block') as Array<{ height: number, hash: string }>
  await net.devnet.waitFor('devnet records for the page\'s blocks', () => blocks.every((b) => net.devnet.blocks.has(b.height)), 10_000)
  const wrong = blocks.filter((b) => !net.isHonest(b.height, b.hash))
  expect(wrong, 'blocks the page accepted that the devnet did not make').toEqual([])
  return blocks.length
}

async function openPeer (page: Page, net: TestNetwork, store: string): Promise<void> {
  await recordEvents(page)
  await page.goto(net.pageUrl(store))
}

test('joins the devnet, syncs and verifies to the head, follows new blocks by gossip', async ({ page, net }) => {
  test.setTimeout(200_000) // the sum of its bounded waits (60 + 60 + 60 s) and the page load
  await openPeer(page, net, 'join')
  const head = await caughtUp(page, net, 60_000)
  await expect(page.locator('#pill')).toHaveText('verified')
  await expect(page.locator('#head-height')).toHaveText(/^\d+$/)
  const follow = await honestHead(page, net, head.height + 2, 60_000)
  expect(follow.height).toBeGreaterThanOrEqual(head.height + 2)
  // Once at the tip, new blocks come by gossip (sync polls only fill gaps). A mesh takes a few heartbeats
  // to form on a loaded machine, so wait for the first gossip block (bounded) rather than sample once.
  await expect.poll(async () => (await events(page)).filter((e) => e.type === 'block' && e.source === 'gossip' && e.height > head.height).length, {
    message: 'blocks above the caught-up head arrived by gossip',
    timeout: 60_000
  }).toBeGreaterThan(0)
  await expectOnlyHonestBlocks(page, net)
})

/** Records, from before the page's first script, every distinct (pill, head, banner) the page shows. */
async function recordPill (page: Page): Promise<void> {
  await page.addInitScript(() => {
    const seen: Array<{ pill: string, head: string, banner: string }> = []
    ;(window as unknown as { __pill: typeof seen }).__pill = seen
    const record = (): void => {
      const banner = document.getElementById('banner')
      const e = { pill: document.getElementById('pill')?.textContent ?? '', head: document.getElementById('head-height')?.textContent ?? '', banner: banner === null || banner.hidden ? '' : banner.textContent ?? '' }
      const prev = seen[seen.length - 1]
      if (prev === undefined || prev.pill !== e.pill || prev.head !== e.head || prev.banner !== e.banner) seen.push(e)
    }
    document.addEventListener('DOMContentLoaded', () => {
      record()
      new MutationObserver(record).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true })
    })
  })
}

/** No "offline" before a dial failed, no "stasis lock" on a chain with a genesis, no "verified" before a head is shown. */
function expectNoFlashes (seen: Array<{ pill: string, head: string, banner: string }>, when: string): void {
  const shown = JSON.stringify(seen.map((e) => `${e.pill}|${e.head}|${e.banner.slice(0, 40)}`))
  expect(seen.filter((e) => e.pill === 'offline' || /No bootstrap peer is reachable/.test(e.banner)), `${when}: called offline with bootstraps up: ${shown}`).toEqual([])
  expect(seen.filter((e) => e.pill === 'stasis lock' || /stasis lock/.test(e.banner)), `${when}: called a stasis lock on a chain with a genesis: ${shown}`).toEqual([])
  expect(seen.filter((e) => e.pill === 'verified' && !/^\d+$/.test(e.head)), `${when}: verified with no head shown: ${shown}`).toEqual([])
  expect(seen.some((e) => e.pill === 'verified'), `${when}: reached verified: ${shown}`).toBe(true)
}

test('a cold load and a reload never flash offline, stasis lock, or verified before the head is shown', async ({ page, net }) => {
  test.setTimeout(120_000)
  await recordPill(page)
  await openPeer(page, net, 'flashes')
  await caughtUp(page, net, 60_000)
  await expect(page.locator('#pill')).toHaveText('verified')
  const pill = async (): Promise<Array<{ pill: string, head: string, banner: string }>> => await page.evaluate(() => (window as unknown as { __pill: Array<{ pill: string, head: string, banner: string }> }).__pill)
  const cold = await pill()
  note('cold-load-pill', cold.map((e) => e.pill).filter((p, i, a) => a[i - 1] !== p).join(' -> '))
  expectNoFlashes(cold, 'cold load')
  await page.reload()
  await expect(page.locator('#pill')).toHaveText('verified', { timeout: 30_000 })
  const reload = await pill()
  note('reload-pill', reload.map((e) => e.pill).filter((p, i, a) => a[i - 1] !== p).join(' -> '))
  expectNoFlashes(reload, 'reload')
})

test('reload resumes from IndexedDB at the verified head without re-syncing from genesis', async ({ page, net }) => {
  test.setTimeout(160_000) // the sum of its bounded waits (60 + 20 + 60 s) and the page load
  await openPeer(page, net, 'reload')
  const before = await caughtUp(page, net, 60_000)
  const t0 = Date.now()
  await page.reload()
  const started = await waitForStatus(page, 'peer started after reload', (s) => s.running && s.store.loadedHeight !== undefined, 20_000)
  expect(started.store.loadedHeight, 'height loaded (and re-verified) from IndexedDB').toBeGreaterThanOrEqual(before.height)
  expect(started.store.discarded).toBeUndefined()
  const after = await honestHead(page, net, before.height + 1, 60_000)
  note('reload-to-verified-head', `${Date.now() - t0} ms (head ${before.height} -> ${after.height})`)
  const ev = await events(page)
  const syncs = ev.filter((e) => e.type === 'sync') as Array<{ from: number }>
  for (const s of syncs) expect(s.from, 'a sync after reload starts from the stored head, not genesis').toBeGreaterThanOrEqual(before.height)
  const synced = ev.filter((e) => e.type === 'block' && e.source === 'sync').length
  expect(synced, `blocks fetched by sync after reload (head ${after.height})`).toBeLessThanOrEqual(after.height - before.height + 2)
  expect(synced).toBeLessThan(after.height / 2)
  expect(ev.some((e) => e.type === 'genesis'), 'no genesis re-acceptance after reload').toBe(false)
  await expectOnlyHonestBlocks(page, net)
})

test('corrupted IndexedDB data is detected on load, discarded and re-synced; nothing wrong is shown as verified', async ({ page, net }) => {
  test.setTimeout(120_000)
  const store = 'corrupt'
  await openPeer(page, net, store)
  const before = await honestHead(page, net, net.devnet.finalHeight, 45_000)
  await page.evaluate(async () => { await (globalThis as unknown as { lightpulse: { stop: () => Promise<void> } }).lightpulse.stop() })
  // Flip one byte in the first signature of the stored tip block, by hand (raw IndexedDB in the page).
  const tipBlock = await page.evaluate(async (name) => await new Promise<{ height: number, bytes: number[] }>((resolve, reject) => {
    const open = indexedDB.open(name)
    open.onerror = () => { reject(open.error) }
    open.onsuccess = () => {
      const db = open.result
      const tx = db.transaction(['chain', 'blocks'], 'readonly')
      const tipReq = tx.objectStore('chain').get('tip')
      tipReq.onsuccess = () => {
        const req = tx.objectStore('blocks').get(tipReq.result as number)
        req.onsuccess = () => { const v = req.result as { height: number, bytes: Uint8Array }; db.close(); resolve({ height: v.height, bytes: [...v.bytes] }) }
        req.onerror = () => { reject(req.error) }
      }
    }
  }), store)
  expect(tipBlock.height).toBeGreaterThanOrEqual(before.height)
  const { decodeBlock, encodeBlock } = await import('../../src/protocol/index.ts')
  const block = decodeBlock(new Uint8Array(tipBlock.bytes))
  block.signatures[0]!.signature[10]! ^= 0x01
  const corrupted = [...encodeBlock(block)]
  await page.evaluate(async ([name, height, bytes]) => await new Promise<void>((resolve, reject) => {
    const open = indexedDB.open(name)
    open.onerror = () => { reject(open.error) }
    open.onsuccess = () => {
      const db = open.result
      const tx = db.transaction(['blocks'], 'readwrite')
      const os = tx.objectStore('blocks')
      const req = os.get(height)
      req.onsuccess = () => { os.put({ ...req.result, bytes: new Uint8Array(bytes) }) }
      tx.oncomplete = () => { db.close(); resolve() }
      tx.onerror = () => { reject(tx.error) }
    }
  }), [store, tipBlock.height, corrupted] as const)

  // Sample the verified head all along: it must never show anything the devnet did not make.
  await page.reload()
  const seen: Array<{ height: number, hash: string }> = []
  const start = await waitForStatus(page, 'peer started after reload', (s) => {
    if (s.head !== undefined) seen.push({ height: s.head.height, hash: s.head.hash })
    return s.running && s.store.loadedHeight !== undefined
  }, 20_000)
  expect(start.store.discarded, 'the corrupted store is detected and discarded').toBe('BAD_SIGNATURE')
  expect(start.store.loadedHeight).toBe(-1)
  const errs = (await events(page)).filter((e) => e.type === 'error' && e.code === 'STORE_CORRUPT')
  expect(errs.length, 'a STORE_CORRUPT error event').toBeGreaterThanOrEqual(1)
  await expect(page.locator('#log')).toContainText('Stored chain failed verification')
  const after = await waitForStatus(page, 're-synced to the honest head', (s) => {
    if (s.head !== undefined) seen.push({ height: s.head.height, hash: s.head.hash })
    return s.head !== undefined && s.head.height >= before.height && net.isHonest(s.head.height, s.head.hash)
  }, 40_000)
  const ev = await events(page)
  expect(ev.some((e) => e.type === 'genesis'), 're-synced from genesis').toBe(true)
  expect(ev.filter((e) => e.type === 'block' && e.source === 'sync').length).toBeGreaterThanOrEqual(before.height - 2)
  await net.devnet.waitFor('devnet records for every sampled head', () => seen.every((h) => h.height === 0 ? net.devnet.genesisHash !== undefined : net.devnet.blocks.has(h.height)), 10_000)
  expect(seen.filter((h) => !net.isHonest(h.height, h.hash)), 'heads shown that are not the devnet\'s').toEqual([])
  expect(net.isHonest(after.head!.height, after.head!.hash)).toBe(true)
  await expectOnlyHonestBlocks(page, net)
})

test('a peer serving a forged block is rejected (BAD_SIGNATURE); the head keeps following the honest chain', async ({ page, net }) => {
  // The page syncs from the hostile node when it identifies it and then when its 3 s sync poll picks it
  // among ~16 connections (about every 45 s); every such attempt meets the forged fork (hostile-sync.ts).
  test.setTimeout(270_000)
  const { startHostileSyncProcess } = await import('./fixtures/hostile-sync-process.ts')
  const honestTcp = net.devnet.bootstrapAddrs[0]!
  const hostile = await startHostileSyncProcess(net.devnet.network, honestTcp)
  try {
    await net.devnet.waitFor('the hostile node to follow the chain', () => hostile.height >= net.devnet.finalHeight - 1 && net.devnet.finalHeight > 0, 30_000)
    const config = { ...net.config(), bootstraps: [hostile.wsAddr, net.devnet.bootstrapWsAddrs[0]!] }
    await page.route('**/hostile-config.json', async (route) => { await route.fulfill({ json: config }) })
    await recordEvents(page)
    const t0 = Date.now()
    await page.goto(net.pageUrl('hostile', { config: './hostile-config.json' }))
    const seen: Array<{ height: number, hash: string }> = []
    const rejected = await waitForStatus(page, 'the forged block rejected', (s) => {
      if (s.head !== undefined) seen.push({ height: s.head.height, hash: s.head.hash })
      return (s.stats.rejected.BAD_SIGNATURE ?? 0) >= 1
    }, 180_000).catch(async (err: Error) => {
      throw new Error(`${err.message}; the page is …${(await peerStatus(page).catch(() => undefined))?.peerId?.slice(-6) ?? '?'}; the hostile node is at height ${hostile.height} and answered ${JSON.stringify(hostile.served)}, last: ${hostile.recent.join('; ')}`)
    })
    const rejectedAt = Date.now()
    expect(hostile.served.forgedBlocks).toBeGreaterThanOrEqual(1)
    const rej = (await events(page)).filter((e) => e.type === 'rejected') as Array<{ code: string, topic: string, from?: string }>
    expect(rej.some((r) => r.code === 'BAD_SIGNATURE' && r.topic === 'sync' && r.from === hostile.peerId), `rejection attributed to the hostile peer: ${JSON.stringify(rej)}`).toBe(true)
    // The hostile node forges a new fork on every new tip; the one that was rejected is at most this high.
    const forgedHeight = Math.max(...hostile.forged.keys())
    const h0 = rejected.head?.height ?? 0
    await waitForStatus(page, `head follows the honest chain past the forged height ${forgedHeight}`, (s) => {
      if (s.head !== undefined) seen.push({ height: s.head.height, hash: s.head.hash })
      return s.head !== undefined && s.head.height >= Math.max(h0 + 2, forgedHeight + 1) && net.isHonest(s.head.height, s.head.hash)
    }, 40_000).catch(async (err: Error) => {
      const counts = await page.evaluate(() => {
        const c: Record<string, number> = {}
        for (const e of window.__lpEvents ?? []) c[e.type] = (c[e.type] ?? 0) + 1
        return c
      }, undefined).catch((e: Error) => e.message)
      throw new Error(`${err.message}; devnet height ${net.devnet.finalHeight}; page events by type ${JSON.stringify(counts)}`)
    })
    note('forged-block', `rejected ${JSON.stringify(rejected.stats.rejected)} ${Math.round((rejectedAt - t0) / 1000)} s after the page opened; forks forged at ${hostile.forged.size} heights; ${hostile.served.forgedBlocks} forged block(s) sent; hostile node's last answers: ${hostile.recent.slice(-4).join('; ')}`)
    const forgedHashes = new Set([...hostile.forged.values()].flatMap((set) => [...set]))
    expect(seen.filter((h) => forgedHashes.has(h.hash)), 'a forged hash shown as the head').toEqual([])
    const blocks = (await events(page)).filter((e) => e.type === 'block') as Array<{ hash: string }>
    expect(blocks.filter((b) => forgedHashes.has(b.hash)), 'a forged block accepted').toEqual([])
    await net.devnet.waitFor('devnet records for every sampled head', () => seen.every((h) => h.height === 0 ? net.devnet.genesisHash !== undefined : net.devnet.blocks.has(h.height)), 10_000)
    expect(seen.filter((h) => !net.isHonest(h.height, h.hash))).toEqual([])
    await expectOnlyHonestBlocks(page, net)
  } finally {
    await hostile.stop()
  }
})

test.describe('on a phone-sized screen', () => {
  test.use({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 })

  test('renders usably: no horizontal overflow, key elements visible', async ({ page, net }, testInfo: TestInfo) => {
    test.setTimeout(90_000)
    await openPeer(page, net, 'phone')
    await honestHead(page, net, net.devnet.finalHeight, 45_000)
    await expect(page.locator('#pill')).toHaveText('verified')
    // Let one render tick show the synced state.
    await expect(page.locator('#bootstraps')).toContainText('connected')
    const overflow = await page.evaluate(() => ({ scrollWidth: document.scrollingElement!.scrollWidth, innerWidth: window.innerWidth }))
    expect(overflow.scrollWidth, `page wider than the screen: ${JSON.stringify(overflow)}`).toBeLessThanOrEqual(overflow.innerWidth)
    for (const id of ['pill', 'head-height', 'head-hash', 'round-stage', 'bootstraps', 'transports', 'enroll', 'log']) {
      await expect(page.locator(`#${id}`), `#${id} visible`).toBeVisible()
    }
    // Every key element lies within the screen's width.
    const outside = await page.evaluate((ids) => ids.filter((id) => { const r = document.getElementById(id)!.getBoundingClientRect(); return r.left < 0 || r.right > window.innerWidth + 0.5 }), ['pill', 'head-height', 'head-hash', 'round-stage', 'bootstraps', 'transports', 'enroll'])
    expect(outside, 'elements sticking out to the side').toEqual([])
    const box = await page.locator('#enroll').boundingBox()
    expect(box!.height, 'the enroll button is big enough to tap').toBeGreaterThanOrEqual(32)
    const path = testInfo.outputPath('phone.png')
    await page.screenshot({ path, fullPage: true })
    await testInfo.attach('phone', { path, contentType: 'image/png' })
  })
})

test('enrolled as validator: registered, active, and signs blocks the Node validators accept', async ({ page, net }) => {
  test.setTimeout(180_000)
  await openPeer(page, net, 'validator')
  await honestHead(page, net, net.devnet.finalHeight, 45_000)
  await page.locator('#enroll').click()
  const reg = await waitForStatus(page, 'validator registered', (s) => s.validator?.registered === true, 45_000)
  const key = reg.validator!.publicKey
  await expect(page.locator('#validator-status')).toContainText(/registered|active/)
  await waitForStatus(page, 'validator active after the activation delay', (s) => s.validator?.active === true, 30_000)
  await expect(page.locator('#validator-status')).toContainText('active')
  // The registration is on chain: the tab gets it proven by its peers, against the block it verified itself.
  const proof = await page.evaluate(async () => {
    const c = (globalThis as unknown as { lightpulse: { enroll: () => Promise<{ txHash: string }>, getProof: (h: string) => Promise<{ txHash: string, height: number, blockHash: string, index: number, size: number }> } }).lightpulse
    const { txHash } = await c.enroll() // the same key, so the same registration (and hash) again
    return { txHash, got: await c.getProof(txHash) }
  })
  expect(proof.got.txHash).toBe(proof.txHash)
  expect(net.isHonest(proof.got.height, proof.got.blockHash), `the proven block ${proof.got.height} is the devnet's`).toBe(true)
  expect(proof.got.index).toBeLessThan(proof.got.size)
  const bad = await page.evaluate(async () => await (globalThis as unknown as { lightpulse: { getProof: (h: string) => Promise<unknown> } }).lightpulse.getProof('00'.repeat(32)).then(() => 'ok', (e: { code?: string }) => e.code))
  expect(bad, 'a transaction no peer holds').toBe('PROOF_NOT_FOUND')
  const from = net.devnet.finalHeight
  await net.devnet.waitFor('a block accepted by the Node validators carrying the browser validator\'s signature',
    () => [...net.devnet.blocks.values()].some((b) => b.signerKeys.includes(key)), 90_000)
  const signedBlocks = [...net.devnet.blocks.values()].filter((b) => b.signerKeys.includes(key)).map((b) => b.height)
  note('browser-validator', `active at ~${from}; signed heights ${signedBlocks.join(', ')}`)
  const s = await waitForStatus(page, 'status.validator.signed > 0', (st) => (st.validator?.signed ?? 0) > 0, 15_000)
  expect(s.validator!.signed).toBeGreaterThan(0)
  await expect(page.locator('#validator-signed')).not.toHaveText('0')
})

test('all bootstraps down: the UI says so plainly; one comes back and the peer reconnects by itself', async ({ page, net }) => {
  test.setTimeout(150_000)
  await openPeer(page, net, 'offline')
  await honestHead(page, net, net.devnet.finalHeight, 45_000)
  const bootstraps = net.devnet.opts.bootstraps
  try {
    net.devnet.killBootstraps()
    const down = await waitForStatus(page, 'no bootstrap connected', (s) => s.bootstraps.connected === 0, 30_000)
    await expect(page.locator('#banner')).toBeVisible()
    await expect(page.locator('#banner')).toContainText('No bootstrap peer is reachable')
    const now = await peerStatus(page)
    if (now.connections.length === 0) {
      await expect(page.locator('#pill')).toHaveText('offline')
    } else {
      // Still connected to non-bootstrap peers: the UI must not claim to be offline, and must say so.
      await expect(page.locator('#banner')).toContainText('other peer')
      await expect(page.locator('#pill')).not.toHaveText('offline')
    }
    note('while-bootstraps-down', `${down.connections.length} non-bootstrap connection(s), pill "${await page.locator('#pill').textContent() ?? ''}", banner "${await page.locator('#banner').textContent() ?? ''}"`)
    const h0 = (await peerStatus(page)).head!.height
    net.devnet.startBootstrap(0)
    await waitForStatus(page, 'reconnected to a bootstrap by itself', (s) => s.bootstraps.connected >= 1, 60_000)
    await expect(page.locator('#banner')).toBeHidden()
    await expect(page.locator('#pill')).not.toHaveText('offline')
    await honestHead(page, net, h0 + 2, 60_000)
    await expectOnlyHonestBlocks(page, net)
  } finally {
    for (let i = 0; i < bootstraps; i++) net.devnet.startBootstrap(i)
  }
})

test('a tab stopped for 30 s (its renderer SIGSTOPped, as a suspended phone) never shows its old head as current, and catches up by itself', async ({ page, net, browser }) => {
  test.setTimeout(180_000) // the sum of its bounded waits (60 s to the head, the 30 s stop, 60 s to catch up) and the load
  await recordPill(page)
  await openPeer(page, net, 'freeze')
  await caughtUp(page, net, 60_000)
  await expect(page.locator('#pill')).toHaveText('verified')
  // The Page Lifecycle events, so the client's handlers run. (CDP's Page.setWebLifecycleState fires neither
  // 'freeze' nor 'resume' in headless Chromium 156, tried on a plain page, and would freeze the page only,
  // not its worker; so the events are dispatched, and the stop below is a signal to the whole renderer.)
  await page.evaluate(() => { document.dispatchEvent(new Event('freeze')); document.dispatchEvent(new Event('resume')) })
  // Stop the renderer process, page and worker together, as a phone suspends a background tab.
  const browserCdp = await browser.newBrowserCDPSession()
  const { processInfo } = await browserCdp.send('SystemInfo.getProcessInfo') as { processInfo: Array<{ type: string, id: number }> }
  const renderers = processInfo.filter((p) => p.type === 'renderer').map((p) => p.id)
  expect(renderers.length, 'the page has a renderer process').toBeGreaterThan(0)
  const pill = async (): Promise<Array<{ pill: string, head: string, banner: string }>> => await page.evaluate(() => (window as unknown as { __pill: Array<{ pill: string, head: string, banner: string }> }).__pill)
  const mark = (await pill()).length
  const tipBefore = net.devnet.tipHeight
  for (const pid of renderers) process.kill(pid, 'SIGSTOP')
  try {
    await new Promise((resolve) => setTimeout(resolve, 30_000)) // the stop itself (the scenario), not a wait for an event
  } finally {
    for (const pid of renderers) process.kill(pid, 'SIGCONT')
  }
  const resumedAt = Date.now()
  const tipAtResume = net.devnet.tipHeight
  expect(tipAtResume, 'the chain went on while the tab was stopped').toBeGreaterThan(tipBefore + 5)
  const head = await honestHead(page, net, tipAtResume, 60_000)
  const took = Date.now() - resumedAt
  const after = (await pill()).slice(mark)
  note('resume-to-head', `${took} ms from SIGCONT to a verified head at the devnet's tip at resume (${tipAtResume}; head was ${tipBefore} when stopped, now ${head.height}); pill after resume: ${after.map((e) => e.pill).filter((p, i, a) => a[i - 1] !== p).join(' -> ')}`)
  // Until the head caught up, the page said so: nothing older than the tip at resume was called verified.
  const stale = after.filter((e) => e.pill === 'verified' && Number(e.head) < tipAtResume - 1)
  expect(stale, `old head shown as verified after the resume: ${JSON.stringify(after.map((e) => `${e.pill}|${e.head}`))}`).toEqual([])
  // Either the page said it was behind (or syncing) while it caught up, or it caught up before its first
  // render after the resume, so that the first head it showed was already the tip's (a fast catch-up needs
  // no warning; what it must never do is call the old head verified, checked above).
  const said = after.some((e) => e.pill === 'behind' || e.pill === 'syncing')
  const firstShown = after[0]
  expect(said || (firstShown !== undefined && Number(firstShown.head) >= tipAtResume - 1), `the page said it was behind (or syncing) after the resume, or showed the tip first: ${JSON.stringify(after.slice(0, 4))}`).toBe(true)
  await expect(page.locator('#pill')).toHaveText('verified', { timeout: 30_000 })
  const ev = await events(page)
  const wakes = ev.filter((e) => e.type === 'log' && /catching up after a pause/.test(e.message)).map((e) => String((e as { details?: { reason?: unknown } }).details?.reason))
  expect(wakes.some((r) => /^the page resumed/.test(r)), `the page's resume event reached the peer (${wakes.join('; ')})`).toBe(true)
  expect(wakes.some((r) => /^timers paused for \d+ s/.test(r)), `the worker noticed the stop by itself (${wakes.join('; ')})`).toBe(true)
})

test('started from a trusted checkpoint at the devnet\'s height: verifies every block after it, stores nothing below it, says so; an unknown checkpoint is refused plainly', async ({ page, net }) => {
  test.setTimeout(150_000) // the sum of its bounded waits (30 + 60 + 30 s) and the page loads
  await net.devnet.waitFor('a devnet block past the entropy window', () => net.devnet.tipHeight >= 25, 30_000)
  const h = net.devnet.tipHeight - 1
  const hashes = [...net.devnet.blocks.get(h)!.hashes]
  expect(hashes.length, `one block at height ${h}`).toBe(1)
  await recordEvents(page)
  await page.goto(net.pageUrl('from-checkpoint', { checkpoint: `${h}:${hashes[0]!}` }))
  const s = await waitForStatus(page, 'head 3 blocks past the checkpoint', (st) => st.head !== undefined && st.head.height >= h + 3 && net.isHonest(st.head.height, st.head.hash) && st.sync.compared, 60_000)
  expect(s.startedFrom).toEqual({ kind: 'checkpoint', height: h, hash: hashes[0] })
  expect(s.checkpoint?.state).toBe('verified')
  expect(s.store.firstHeight, 'nothing below the checkpoint is stored').toBe(h + 1)
  await expect(page.locator('#started-from')).toContainText(`trusted checkpoint #${h}`)
  await expect(page.locator('#pill')).toHaveText('verified')
  const ev = await events(page)
  expect(ev.some((e) => e.type === 'genesis'), 'no sync from genesis').toBe(false)
  const heights = (ev.filter((e) => e.type === 'block') as Array<{ height: number }>).map((b) => b.height)
  const head = Math.max(...heights)
  expect([...new Set(heights)].sort((a, b) => a - b), 'every block after the checkpoint was verified, none before').toEqual(Array.from({ length: head - h }, (_, i) => h + 1 + i))
  await expectOnlyHonestBlocks(page, net)

  // A checkpoint that names no block of this chain: no peer holds its state; nothing is verified or stored.
  const other = await page.context().newPage()
  await recordEvents(other)
  await other.goto(net.pageUrl('bad-checkpoint', { checkpoint: `${h}:${'ab'.repeat(32)}` }))
  const bad = await waitForStatus(other, 'CHECKPOINT_UNAVAILABLE', (st) => st.checkpoint?.code === 'CHECKPOINT_UNAVAILABLE', 30_000)
  expect(bad.genesis).toBe(false)
  expect(bad.head).toBeUndefined()
  await expect(other.locator('#banner')).toContainText(`trusted checkpoint ${h}`)
  await expect(other.locator('#pill')).not.toHaveText('verified')
  await other.close()
})
