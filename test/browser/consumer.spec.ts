/**
 * lightpulse as a dApp installs it: `npm pack` the repository, install the tarball into a project in the OS
 * temp folder, and there
 *   - run `npx lightpulse devnet` from the installed package (its processes, and the page it ships),
 *   - build a page with Vite (default worker) and one with esbuild (the embedder's own Worker), each
 *     importing `lightpulse`, and open both in Chromium until they show a verified head, with the worker
 *     loaded from the consumer's own build output,
 *   - type-check a TypeScript file against the published .d.ts files,
 *   - decode and verify blocks with `lightpulse/protocol` under Node,
 *   - run `npx lightpulse --help`, and on an older Node see one clear line.
 */
import { test, expect } from '@playwright/test'
import type { Page } from '@playwright/test'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { createInterface } from 'node:readline'
import { createConsumerProject, packTarball, run, viteWorkerFile, REPO } from '../consumer/consumer-project.ts'
import type { ConsumerProject, Packed } from '../consumer/consumer-project.ts'
import { serveUi } from '../../src/node/web.ts'
import type { UiServer } from '../../src/node/web.ts'
import { networkToFile } from '../../src/node/files.ts'
import { buildChain, buildGenesis, createTestNetwork } from '../helpers/chain-builder.ts'
import { toHex, encodeBlock } from '../../src/protocol/index.ts'
import type { ClientConfig, StatusSnapshot } from '../../src/client/types.ts'
import { networkFromFile } from '../../src/peer/network-file.ts'

// One install and one devnet for the whole file; a failure is a failure (no retry of the whole set-up).
test.describe.configure({ mode: 'serial', retries: 0 })

let packDir: string | undefined
let packed: Packed
let project: ConsumerProject | undefined
let devnet: ChildProcess | undefined
let devnetUrl: string
let devnetLog: string[] = []
let config: unknown

/** Starts `npx lightpulse devnet` in the consumer project; resolves with the page URL it prints. */
async function startInstalledDevnet (dir: string): Promise<{ proc: ChildProcess, url: string }> {
  const proc = spawn('npx', ['--no-install', 'lightpulse', 'devnet', '--validators', '13', '--bootstraps', '1', '--port', '0'], {
    cwd: dir, env: { ...process.env, PATH: `${join(REPO, 'node_modules', '.bin')}:${process.env.PATH ?? ''}` }, stdio: ['ignore', 'pipe', 'pipe'], detached: true
  })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`npx lightpulse devnet printed no page URL within 240 s:\n${devnetLog.slice(-30).join('\n')}`)) }, 240_000)
    for (const stream of [proc.stdout!, proc.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        devnetLog.push(line)
        const m = /browser peer: (http:\/\/\S+)/.exec(line)
        if (m !== null) { clearTimeout(timer); resolve(m[1]!) }
      })
    }
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`npx lightpulse devnet exited ${String(code)} before serving the page:\n${devnetLog.slice(-30).join('\n')}`)) })
  })
  return { proc, url }
}

test.beforeAll(async () => {
  test.setTimeout(900_000)
  packDir = await mkdtemp(join(tmpdir(), 'lightpulse-pack-'))
  packed = await packTarball(packDir)
  project = await createConsumerProject(packed.tarball, (l) => { process.stdout.write(`${l}\n`) })
  const d = await startInstalledDevnet(project.dir)
  devnet = d.proc
  devnetUrl = d.url
  config = await (await fetch(new URL('config.json', devnetUrl))).json()
})

test.afterAll(async () => {
  if (devnet?.pid !== undefined && devnet.exitCode === null) {
    const exited = new Promise<void>((resolve) => { devnet!.once('exit', () => { resolve() }) })
    process.kill(-devnet.pid, 'SIGINT')
    const timer = setTimeout(() => { try { process.kill(-devnet!.pid!, 'SIGKILL') } catch { /* gone */ } }, 30_000)
    await exited
    clearTimeout(timer)
  }
  await project?.remove()
  if (packDir !== undefined) await rm(packDir, { recursive: true, force: true })
})

async function consumerStatus (page: Page): Promise<StatusSnapshot | undefined> {
  return await page.evaluate(async () => {
    const c = (window as unknown as { consumer?: { client: { status: () => Promise<unknown> } } }).consumer
    return c === undefined ? undefined : await c.client.status() as never
  })
}

/** Opens a consumer build and waits (bounded) for a verified head; returns the worker URLs the page started. */
async function openConsumer (page: Page, root: string, store: string): Promise<{ workers: string[], ui: UiServer, status: StatusSnapshot }> {
  const ui = await serveUi({ port: 0, root, config: () => config })
  const workers: string[] = []
  page.on('worker', (w) => { workers.push(w.url()) })
  await page.goto(`${ui.url}?store=${store}`)
  const deadline = Date.now() + 120_000
  for (;;) {
    const s = await consumerStatus(page)
    if (s?.head !== undefined && s.head.height >= 2 && s.genesis && !s.sync.syncing) return { workers, ui, status: s }
    const failed = await page.evaluate(() => (window as unknown as { consumer?: { error?: string } }).consumer?.error)
    if (failed !== undefined) throw new Error(`the consumer page could not start the peer: ${failed}`)
    if (Date.now() > deadline) throw new Error(`no verified head within 120 s; last status: ${JSON.stringify(s?.head)} sync ${JSON.stringify(s?.sync)} conns ${s?.connections.length}`)
    await page.waitForTimeout(250) // poll interval
  }
}

test('the tarball carries the built package and no tests, bench data or sources', () => {
  const f = packed.files
  for (const need of ['package.json', 'README.md', 'bin/lightpulse.js', 'dist/lib/entry/client.js', 'dist/lib/entry/client.d.ts', 'dist/lib/entry/protocol.js', 'dist/lib/entry/node.js', 'dist/lib/node/cli.js', 'dist/lib/client/peer.worker.js', 'dist/app/index.html', 'docs/OPERATING.md']) {
    expect(f, need).toContain(need)
  }
  expect(f.filter((p) => /^(test|bench|src|scripts|worker|public)\//.test(p))).toEqual([])
  expect(f.filter((p) => p.endsWith('.ts') && !p.endsWith('.d.ts'))).toEqual([])
  expect(f.filter((p) => /results\.json$|\.spec\.|\.test\./.test(p))).toEqual([])
})

test('npx lightpulse devnet from the installed package serves its page, which reaches a verified head', async ({ page }) => {
  await page.goto(devnetUrl)
  await expect(page.locator('#head-height')).toHaveText(/^[1-9]\d*$/, { timeout: 120_000 })
  await expect(page.locator('#pill')).toHaveText('verified', { timeout: 60_000 })
  const s = await page.evaluate(async () => await (globalThis as unknown as { lightpulse: { status: () => Promise<StatusSnapshot> } }).lightpulse.status())
  expect(s.head?.height).toBeGreaterThanOrEqual(1)
  expect(s.bootstraps.connected).toBe(1)
})

test('a page built with Vite from the installed package: its own worker copy, a verified head, coded errors', async ({ page }) => {
  test.setTimeout(180_000) // openConsumer's bounded wait (120 s) and the checks after it
  const worker = basename(await viteWorkerFile(project!.viteOut))
  const { workers, ui, status } = await openConsumer(page, project!.viteOut, 'consumer-vite')
  try {
    expect(workers.some((u) => u === `${ui.url}assets/${worker}`), `worker from the Vite build (${workers.join(', ')})`).toBe(true)
    expect(status.head!.height).toBeGreaterThanOrEqual(2)
    const state = await page.evaluate(() => (window as unknown as { consumer: { started: boolean, probe?: string, events: string[] } }).consumer)
    expect(state.started).toBe(true)
    await expect.poll(async () => await page.evaluate(() => (window as unknown as { consumer: { probe?: string } }).consumer.probe), { timeout: 20_000 }).toBe('LightpulseError CONFIG_INVALID')
    expect(state.events).toContain('block')
    const proto = await page.evaluate(() => (window as unknown as { consumer: { protocolDecode?: string, protocolVerifier?: boolean } }).consumer)
    expect(proto.protocolDecode, 'lightpulse/protocol decodes in the page').toBe('TRUNCATED')
    expect(proto.protocolVerifier).toBe(true)
    expect(state.events.filter((e) => e.startsWith('error:LOG_'))).toEqual([])
  } finally {
    await ui.close()
  }
})

test('a page built with esbuild, passing its own Worker (lightpulse/worker), reaches a verified head', async ({ page }) => {
  test.setTimeout(180_000) // openConsumer's bounded wait (120 s) and the checks after it
  expect(existsSync(join(project!.esbuildOut, 'worker.js'))).toBe(true)
  const { workers, ui, status } = await openConsumer(page, project!.esbuildOut, 'consumer-esbuild')
  try {
    expect(workers, 'the embedder-provided worker, from the esbuild output').toContain(`${ui.url}worker.js`)
    expect(status.head!.height).toBeGreaterThanOrEqual(2)
    await expect.poll(async () => await page.evaluate(() => (window as unknown as { consumer: { probe?: string } }).consumer.probe), { timeout: 20_000 }).toBe('LightpulseError CONFIG_INVALID')
  } finally {
    await ui.close()
  }
})

test('the example message board, built from the installed package: one user posts, another reads it verified; the widget fits a phone', async ({ browser }) => {
  test.setTimeout(240_000) // two pages to a verified head (60 s each), the inclusion (120 s bound inside the page)
  const ui = await serveUi({ port: 0, root: project!.boardOut, config: () => config })
  const writerCtx = await browser.newContext()
  // The reader is a phone: a narrow touch screen, as Playwright's iPhone-sized profile (390 x 844).
  const readerCtx = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 3 })
  try {
    const writer = await writerCtx.newPage()
    const reader = await readerCtx.newPage()
    const started = async (p: Page): Promise<void> => {
      await expect.poll(async () => await p.evaluate(() => (window as unknown as { board?: { started?: boolean } }).board?.started === true), { timeout: 60_000, message: 'the board started its peer' }).toBe(true)
      // The widget in the page, from its shadow root: verified once the peer is at a verified head.
      await expect(p.locator('lightpulse-status').locator('[part=state]')).toHaveText('verified', { timeout: 60_000 })
    }
    await writer.goto(`${ui.url}?store=board-writer`)
    await reader.goto(`${ui.url}?store=board-reader`)
    await started(writer)
    await started(reader)
    await expect(reader.locator('lightpulse-status').locator('[part=height]')).toHaveText(/^#\d+$/)
    await expect(reader.locator('lightpulse-status').locator('[part=signers]')).toHaveText(/^\d+\/11 signed$/)
    const box = await reader.locator('lightpulse-status').boundingBox()
    expect(box, 'the widget is laid out').not.toBeNull()
    expect(box!.x + box!.width, 'the widget fits the phone\'s width').toBeLessThanOrEqual(390)
    await reader.screenshot({ path: test.info().outputPath('board-phone.png'), fullPage: true })

    const message = `hello from the writer at ${Date.now()}`
    await writer.locator('#text').fill(message)
    await writer.locator('#post').click()
    await expect(writer.locator('#compose-status')).toHaveText(/included in block #\d+/, { timeout: 120_000 })
    const post = reader.locator('#posts li', { hasText: message })
    await expect(post, 'the post reaches the reader').toHaveCount(1, { timeout: 30_000 })
    await expect(post.locator('.verified')).toHaveText(/verified in block #\d+/, { timeout: 10_000 })
    // A link to the post proves it from the peers' answers (sync PROOF), checked against the reader's own header.
    const txHash = await post.getAttribute('data-tx')
    await reader.goto(`${ui.url}?store=board-reader#tx=${txHash!}`)
    await expect(reader.locator('#lookup-result .verified')).toHaveText(/verified in block #\d+/, { timeout: 60_000 })
    await expect(reader.locator('#lookup-result .body')).toHaveText(message)
    await reader.screenshot({ path: test.info().outputPath('board-phone-post.png'), fullPage: true })
    const errors = await reader.evaluate(() => (window as unknown as { board: { errors: string[] } }).board.errors)
    expect(errors).toEqual([])
  } finally {
    await writerCtx.close()
    await readerCtx.close()
    await ui.close()
  }
})

test('the board against a hostile peer that serves forged proofs: PROOF_INVALID, counted against it, nothing shown as verified', async ({ page }) => {
  test.setTimeout(120_000)
  const { startHostileSyncProcess } = await import('./fixtures/hostile-sync-process.ts')
  const cfg = config as ClientConfig
  const hostile = await startHostileSyncProcess(networkFromFile(cfg.network), cfg.bootstraps[0]!, { forgeBlocks: false })
  const ui = await serveUi({ port: 0, root: project!.boardOut, config: () => ({ ...cfg, bootstraps: [hostile.wsAddr, ...cfg.bootstraps] }) })
  try {
    await expect.poll(() => hostile.height, { timeout: 30_000, message: 'the hostile node follows the chain' }).toBeGreaterThanOrEqual(1)
    await page.goto(`${ui.url}?store=board-hostile`)
    const peers = async (): Promise<string[]> => await page.evaluate(async () => {
      const b = (window as unknown as { board?: { client: { status: () => Promise<StatusSnapshot> }, started?: boolean } }).board
      return b?.started === true ? (await b.client.status()).connections.map((c) => c.peer) : []
    })
    await expect.poll(peers, { timeout: 60_000, message: 'the page connected to the hostile peer' }).toContain(hostile.peerId)
    // A link to a post that no block carries: the honest bootstrap holds nothing, the hostile one "proves" it.
    await page.evaluate((h) => { location.hash = `tx=${h}` }, hostile.claimedTxHash)
    await expect(page.locator('#lookup-result')).toContainText('could not be verified: PROOF_INVALID', { timeout: 30_000 })
    // The claimed post is not shown as verified (posts of earlier tests, in blocks this page verified, may be).
    await expect(page.locator('#lookup-result .verified')).toHaveCount(0)
    await expect(page.locator('#lookup-result .body')).toHaveCount(0)
    // The hostile process reports its counters every 250 ms: the answer the page refused shows up there within one report.
    await expect.poll(() => hostile.served.forgedProofs, { timeout: 5_000, message: 'the hostile peer answered' }).toBeGreaterThanOrEqual(1)
    const rejected = await page.evaluate(async () => (await (window as unknown as { board: { client: { status: () => Promise<StatusSnapshot> } } }).board.client.status()).stats.rejected)
    expect(rejected.PROOF_INVALID ?? 0, 'the forgery counts against its server').toBeGreaterThanOrEqual(1)
  } finally {
    await ui.close()
    await hostile.stop()
  }
})

test('the published types check in a TypeScript consumer (and reject a code outside the union)', async () => {
  const r = await run(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project!.dir], { cwd: project!.dir, timeoutMs: 120_000 })
  expect(r.stdout + r.stderr).toBe('')
  expect(r.code).toBe(0)
  // The @ts-expect-error line proves LightpulseErrorCode is a union, not string: drop it and tsc must fail.
  const types = join(project!.dir, 'types.ts')
  const { readFile } = await import('node:fs/promises')
  const text = await readFile(types, 'utf8')
  await writeFile(types, text.replace('// @ts-expect-error: not a lightpulse error code\n', ''))
  try {
    const bad = await run(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project!.dir], { cwd: project!.dir, timeoutMs: 120_000 })
    expect(bad.code).not.toBe(0)
    expect(bad.stdout).toContain("'\"NOT_A_CODE\"' is not assignable to type 'LightpulseErrorCode'")
  } finally {
    await writeFile(types, text)
  }
})

test('under Node, lightpulse/protocol decodes and verifies blocks, and rejects a tampered one with its code', async () => {
  const net = createTestNetwork({ label: 'consumer' })
  const g = await buildGenesis(net)
  const chain = await buildChain(net, g.state, 5)
  const file = join(project!.dir, 'chain.json')
  await writeFile(file, JSON.stringify({ network: networkToFile(net.config), genesis: toHex(encodeBlock(g.block)), blocks: chain.encoded.map(toHex) }))
  const r = await run('node', ['verify.mjs', file], { cwd: project!.dir, timeoutMs: 60_000 })
  expect(r.stderr).toBe('')
  const out = JSON.parse(r.stdout) as { height: number, hash: string, tampered: string, truncated: string }
  expect(out.height).toBe(5)
  expect(out.hash).toBe(toHex(chain.state.tip.hash))
  expect(out.tampered).toBe('BAD_SIGNATURE')
  expect(out.truncated).toBe('TRUNCATED')
})

test('npx lightpulse --help runs from the installed package; an older Node gets one clear line', async () => {
  const r = await run('npx', ['--no-install', 'lightpulse', '--help'], { cwd: project!.dir, timeoutMs: 60_000 })
  expect(r.code).toBe(0)
  expect(r.stdout).toContain('Usage: lightpulse <command>')
  expect(r.stderr).toBe('')
  // The machine's own Node (outside node_modules/.bin), when it is older than 22.13.
  const system = (process.env.PATH ?? '').split(':').filter((d) => !d.includes('node_modules')).join(':')
  const old = await run('sh', ['-c', 'node --version'], { cwd: project!.dir, env: { PATH: system } }).catch(() => undefined)
  const [major = 99, minor = 0] = (old?.stdout.trim().replace(/^v/, '') ?? '99').split('.').map(Number)
  test.skip(old === undefined || old.code !== 0 || major > 22 || (major === 22 && minor >= 13), `no Node older than 22.13 on this machine's PATH (${old?.stdout.trim() ?? 'none'})`)
  const bin = join(project!.dir, 'node_modules', 'lightpulse', 'bin', 'lightpulse.js')
  const r2 = await run('sh', ['-c', `node ${bin} --help`], { cwd: project!.dir, env: { PATH: system } })
  expect(r2.code).toBe(1)
  expect(r2.stdout).toBe('')
  expect(r2.stderr.trim().split('\n')).toHaveLength(1)
  expect(r2.stderr).toMatch(/^lightpulse needs Node\.js 22\.13 or later \(this is v\d+/)
})
