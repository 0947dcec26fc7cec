/**
 * The IndexedDB ChainStore in real Chromium, on a page and in a module Web Worker (where the peer
 * runs): the shared conformance suite case by case, simulated quota exhaustion, and persistence (chain,
 * key pair, and a rebased + pruned chain) across a page reload and a browser restart.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from '@playwright/test'
import type { Browser, BrowserContext, Page } from '@playwright/test'
import { test, expect } from './fixtures/test.ts'
import { runStoreConformance } from '../storage/conformance.ts'
import { CONFORMANCE_NAME } from './fixtures/store-page/suite.ts'
import type { CaseResult, OpName, PersistRead, PersistWritten } from './fixtures/store-page/suite.ts'

type Where = 'page' | 'worker'

/** What persistRead reports for the rebased + pruned database persistWrite wrote (see suite.ts). */
const REBASED = { tip: 150, first: 131, blocksMatch: true, prunedAbsent: true, checkpointMatch: true, truncateBelowRebase: 'STORAGE_CONFLICT' }

/** The conformance case names, enumerated in Node with a harness that only records names. */
const conformanceNames: string[] = []
runStoreConformance(CONFORMANCE_NAME, async () => { throw new Error('not run in Node') }, {
  test: (name) => { conformanceNames.push(name) },
  assert: { equal: () => {}, deepEqual: () => {}, ok: () => {}, rejects: async () => {} }
}, { persistent: true })

async function openStorePage (context: BrowserContext, url: string): Promise<{ page: Page, errors: string[] }> {
  const page = await context.newPage()
  const errors: string[] = []
  page.on('pageerror', (err) => { errors.push(`pageerror: ${err.message}`) })
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(`console: ${msg.text()}`) })
  page.on('response', (res) => { if (res.status() >= 400) errors.push(`HTTP ${res.status()}: ${res.url()}`) })
  await page.goto(url)
  await waitReady(page)
  return { page, errors }
}

async function waitReady (page: Page): Promise<void> {
  await page.waitForFunction(() => window.__lp !== undefined)
  await page.evaluate(async () => { await window.__lp?.workerReady })
}

async function run<T> (page: Page, where: Where, op: OpName | 'unhandled', arg = ''): Promise<T> {
  return await page.evaluate(async ([w, o, a]) => await window.__lp!.run(w as Where, o as OpName, a), [where, op, arg] as const) as T
}

const failures = (results: CaseResult[]): string[] => results.filter((r) => !r.ok).map((r) => `${r.name}\n${r.error ?? ''}`)

for (const where of ['page', 'worker'] as const) {
  test.describe(`IndexedDB store in a ${where}`, () => {
    let context: BrowserContext
    let page: Page
    let errors: string[]
    let conformance: Map<string, CaseResult>

    test.beforeAll(async ({ browser, storePageUrl }: { browser: Browser, storePageUrl: string }) => {
      context = await browser.newContext()
      ;({ page, errors } = await openStorePage(context, storePageUrl))
      const results = await run<CaseResult[]>(page, where, 'runConformance', where)
      conformance = new Map(results.map((r) => [r.name, r]))
      expect(results.map((r) => r.name), 'the browser ran exactly the conformance cases').toEqual(conformanceNames)
    })

    test.afterAll(async () => { await context?.close() })

    for (const name of conformanceNames) {
      test(`conformance: ${name}`, () => {
        const result = conformance.get(name)
        expect(result, 'case ran').toBeDefined()
        expect(result?.error, name).toBeUndefined()
        expect(result?.ok).toBe(true)
      })
    }

    test('quota exceeded: STORAGE_FULL, nothing written, store keeps working', async () => {
      const results = await run<CaseResult[]>(page, where, 'runQuota', where)
      expect(results.length).toBeGreaterThan(5)
      expect(failures(results)).toEqual([])
    })

    test('storage estimate', async () => {
      const est = await run<{ usage?: number, quota?: number }>(page, where, 'estimate')
      expect(typeof est.usage).toBe('number')
      expect(est.quota).toBeGreaterThan(0)
    })

    test('data, a non-extractable key pair, rebase and pruning survive a page reload', async () => {
      const dbName = `lp-persist-${where}`
      const written = await run<PersistWritten>(page, where, 'persistWrite', dbName)
      expect(written.publicKey).toMatch(/^[0-9a-f]{64}$/)
      await page.reload()
      await waitReady(page)
      const read = await run<PersistRead>(page, where, 'persistRead', dbName)
      expect(read).toEqual({
        tip: 20,
        blocksMatch: true,
        checkpointMatch: true,
        meta: [4, 5, 6],
        keyPair: { publicKey: written.publicKey, privateExtractable: false, privateType: 'private', algorithm: 'Ed25519', signatureVerifies: true, exportPrivateFails: true },
        appendAfterReopen: true,
        rebased: REBASED
      })
    })

    test('no unhandled rejections or page errors', async () => {
      expect(await run<string[]>(page, where, 'unhandled')).toEqual([])
      expect(errors).toEqual([])
    })
  })
}

test.describe('IndexedDB store on disk', () => {
  test('data survives a browser restart (persistent profile)', async ({ storePageUrl, launchOptions }) => {
    const profile = await mkdtemp(join(tmpdir(), 'lightpulse-profile-'))
    const launch = async (): Promise<BrowserContext> => await chromium.launchPersistentContext(profile, { ...launchOptions, headless: true })
    try {
      let context = await launch()
      let page = context.pages()[0] ?? await context.newPage()
      await page.goto(storePageUrl)
      await waitReady(page)
      const written = await run<PersistWritten>(page, 'worker', 'persistWrite', 'lp-disk')
      await context.close()

      context = await launch()
      page = context.pages()[0] ?? await context.newPage()
      await page.goto(storePageUrl)
      await waitReady(page)
      const read = await run<PersistRead>(page, 'worker', 'persistRead', 'lp-disk')
      await context.close()
      expect(read.tip).toBe(20)
      expect(read.blocksMatch && read.checkpointMatch).toBe(true)
      expect(read.meta).toEqual([4, 5, 6])
      expect(read.keyPair?.publicKey).toBe(written.publicKey)
      expect(read.keyPair?.signatureVerifies).toBe(true)
      expect(read.keyPair?.privateExtractable).toBe(false)
      expect(read.rebased, 'rebase and pruning survive a browser restart').toEqual(REBASED)
    } finally {
      await rm(profile, { recursive: true, force: true })
    }
  })
})
