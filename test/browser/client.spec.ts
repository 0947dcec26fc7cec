/**
 * The client API as an embedder meets it, in Chromium: coded errors across the worker boundary, a worker
 * that never loads or that crashes rejects pending calls (WORKER_CRASHED) instead of leaving them hanging,
 * terminate() rejects them (WORKER_TERMINATED), and comlink behaves for other comlink users on the page
 * exactly as without lightpulse (no global transfer handler replaced).
 */
import { join } from 'node:path'
import { test as base, expect } from '@playwright/test'
import { buildFixture } from './fixtures/vite-build.ts'
import { startStaticServer } from './fixtures/static-server.ts'

const test = base.extend<{}, { clientPage: string }>({
  clientPage: [async ({}, use) => {
    const built = await buildFixture(join(import.meta.dirname, 'fixtures', 'client-page'))
    const server = await startStaticServer(built.outDir)
    try { await use(server.url) } finally { await server.close(); await built.remove() }
  }, { scope: 'worker', timeout: 120_000 }]
})

type Outcome = { ok: boolean, code?: string, lightpulseError: boolean, message?: string, ms: number }

async function scenario<T> (page: import('@playwright/test').Page, url: string, name: string): Promise<T> {
  await page.goto(url)
  await page.waitForFunction(() => (window as unknown as { scenarios?: unknown }).scenarios !== undefined)
  return await page.evaluate(async (n) => await (window as unknown as { scenarios: Record<string, () => Promise<unknown>> }).scenarios[n]!(), name) as T
}

test('a bad config is a LightpulseError with its code, and the worker keeps answering', async ({ page, clientPage }) => {
  const r = await scenario<{ start: Outcome, statusAfter: Outcome }>(page, clientPage, 'coded')
  expect(r.start).toMatchObject({ ok: false, code: 'CONFIG_INVALID', lightpulseError: true })
  expect(r.start.message).toContain('bootstrap')
  expect(r.statusAfter.ok).toBe(true)
})

test('a worker script that is not there: calls fail with WORKER_CRASHED, and so does every later call', async ({ page, clientPage }) => {
  const r = await scenario<{ status: Outcome, later: Outcome }>(page, clientPage, 'missing')
  expect(r.status).toMatchObject({ ok: false, code: 'WORKER_CRASHED', lightpulseError: true })
  expect(r.status.message).toMatch(/create a new client/)
  expect(r.later).toMatchObject({ ok: false, code: 'WORKER_CRASHED' })
  expect(r.later.ms, 'a dead client answers at once').toBeLessThan(100)
})

test('a worker that crashes after answering: the pending call fails with WORKER_CRASHED', async ({ page, clientPage }) => {
  const r = await scenario<{ before: Outcome, pending: Outcome }>(page, clientPage, 'crash')
  expect(r.before.ok).toBe(true)
  expect(r.pending).toMatchObject({ ok: false, code: 'WORKER_CRASHED', lightpulseError: true })
})

test('terminate() rejects the pending call and later ones with WORKER_TERMINATED', async ({ page, clientPage }) => {
  const r = await scenario<{ pending: Outcome, later: Outcome }>(page, clientPage, 'terminate')
  expect(r.pending).toMatchObject({ ok: false, code: 'WORKER_TERMINATED', lightpulseError: true })
  expect(r.later).toMatchObject({ ok: false, code: 'WORKER_TERMINATED', lightpulseError: true })
})

test("comlink's throw handler is left alone: another comlink user's errors stay comlink's plain errors", async ({ page, clientPage }) => {
  const r = await scenario<{ sameHandler: boolean, other: Outcome }>(page, clientPage, 'comlink')
  expect(r.sameHandler).toBe(true)
  expect(r.other.ok).toBe(false)
  expect(r.other.lightpulseError).toBe(false)
  expect(r.other.code, 'comlink keeps only name/message/stack').toBeUndefined()
  expect(r.other.message).toBe('mine')
})
