/**
 * Helpers shared by the browser benchmarks (bench/browser.ts, bench/browser-long.ts): the head watch that a
 * page runs from its first script, the start-up phase breakdown, a CDP session on the peer's worker, and a
 * Node sync server holding a bench chain.
 */
import type { CDPSession, Page } from 'playwright'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createNodeLibp2p } from '../src/node/libp2p-node.ts'
import { Peer } from '../src/peer/peer.ts'
import { topicsFor } from '../src/peer/topics.ts'
import { createMemoryStore } from '../src/storage/memory-store.ts'
import { createNodeVerifier } from '../src/crypto/node.ts'
import { MAX_SYNC_BATCH, computeNetworkId } from '../src/protocol/index.ts'
import type { StatusSnapshot } from '../src/client/types.ts'
import { median } from './common.ts'
import type { BenchChain } from './common.ts'

export const LAUNCH_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']

export interface BenchWindow { __bench?: { reachedAt?: number, height?: number, polls: number, error?: string } }

/**
 * Init script: polls the page's client status every `pollMs` until the verified head reaches `target`,
 * then records the time. Runs before the page's scripts, on every navigation of the page.
 */
export function installHeadWatch (arg: { target: number, pollMs: number }): void {
  const w = window as unknown as BenchWindow
  w.__bench = { polls: 0 }
  const override = sessionStorage.getItem('benchTarget')
  const target = override !== null ? Number(override) : arg.target
  let busy = false
  const timer = setInterval(() => {
    const c = (globalThis as unknown as { lightpulse?: { status: () => Promise<StatusSnapshot> } }).lightpulse
    if (c === undefined || busy) return
    busy = true
    c.status().then((s) => {
      w.__bench!.polls++
      if (s.head !== undefined && s.head.height >= target && w.__bench!.reachedAt === undefined) {
        w.__bench!.reachedAt = Date.now()
        w.__bench!.height = s.head.height
        clearInterval(timer)
      }
    }, (err: unknown) => { w.__bench!.error = String(err) }).finally(() => { busy = false })
  }, arg.pollMs)
}

/**
 * Where a page load's time went, in ms since the navigation started (the page's timeOrigin): when the
 * worker started (`workerCreated`), the end of each start-up phase of status().startup (src/peer/startup.ts)
 * and its duration, and the first render of the verified head (the page's performance mark).
 */
export interface Breakdown { at: Record<string, number>, took: Record<string, number>, detail: Record<string, unknown> }

export async function phaseBreakdown (page: Page): Promise<Breakdown> {
  const got = await page.evaluate(async () => {
    const c = (globalThis as unknown as { lightpulse: { status: () => Promise<StatusSnapshot> } }).lightpulse
    const s = await c.status()
    const mark = performance.getEntriesByName('lightpulse:verified-head-rendered')[0]
    const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined
    return { pageOrigin: performance.timeOrigin, startup: s.startup, render: mark?.startTime, html: nav?.responseEnd, domInteractive: nav?.domInteractive }
  })
  const at: Record<string, number> = {}
  const took: Record<string, number> = {}
  const detail: Record<string, unknown> = {}
  if (got.startup === undefined) return { at, took, detail }
  if (got.html !== undefined) at.htmlReceived = Math.round(got.html)
  if (got.domInteractive !== undefined) at.domInteractive = Math.round(got.domInteractive)
  const shift = got.startup.timeOrigin - got.pageOrigin
  at.workerCreated = Math.round(shift)
  for (const p of got.startup.phases) {
    at[p.name] = Math.round(shift + p.endMs)
    took[p.name] = Math.round(p.endMs - p.startMs)
    if (p.detail !== undefined) detail[p.name] = p.detail
  }
  if (got.render !== undefined) at.render = Math.round(got.render)
  return { at, took, detail }
}

export function phaseLine (b: Breakdown): string {
  const parts = Object.entries(b.took).map(([k, v]) => `${k} ${v}${b.detail[k] !== undefined ? ` ${JSON.stringify(b.detail[k])}` : ''}`)
  return `html ${b.at.htmlReceived ?? '?'}, dom ${b.at.domInteractive ?? '?'}, worker created at ${b.at.workerCreated ?? '?'} ms; ${parts.join(', ')}; head at ${b.at.head ?? '?'} ms, rendered at ${b.at.render ?? '?'} ms (ms since navigation)`
}

/** Per key, the median over runs (keys missing from a run are left out of that key's median). */
export function medianByKey (runs: Array<Record<string, number>>): Record<string, number> {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r)))]
  return Object.fromEntries(keys.map((k) => [k, Math.round(median(runs.map((r) => r[k]).filter((v): v is number => v !== undefined)))]))
}

export async function waitReached (page: Page, timeoutMs: number): Promise<{ reachedAt: number, height: number }> {
  await page.waitForFunction(() => (window as unknown as BenchWindow).__bench?.reachedAt !== undefined, undefined, { timeout: timeoutMs, polling: 50 })
  return await page.evaluate(() => { const b = (window as unknown as BenchWindow).__bench!; return { reachedAt: b.reachedAt!, height: b.height! } })
}

/** A CDP session on the page's dedicated worker (auto-attach, non-flat), for Runtime/HeapProfiler calls. */
export async function workerCdp (page: Page): Promise<{ send: (method: string, params?: object) => Promise<Record<string, unknown>>, detach: () => Promise<void> }> {
  const cdp: CDPSession = await page.context().newCDPSession(page)
  const attached = new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => { reject(new Error('no worker target attached within 10 s')) }, 10_000)
    cdp.on('Target.attachedToTarget', (e: { sessionId: string, targetInfo: { type: string } }) => { if (e.targetInfo.type === 'worker') { clearTimeout(t); resolve(e.sessionId) } })
  })
  await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: false })
  const sessionId = await attached
  let id = 1
  const pending = new Map<number, (m: { result?: Record<string, unknown>, error?: unknown }) => void>()
  cdp.on('Target.receivedMessageFromTarget', (e: { message: string }) => {
    const m = JSON.parse(e.message) as { id?: number, result?: Record<string, unknown>, error?: unknown }
    if (m.id !== undefined) { pending.get(m.id)?.(m); pending.delete(m.id) }
  })
  return {
    send: async (method, params = {}) => {
      const i = id++
      const reply = new Promise<{ result?: Record<string, unknown>, error?: unknown }>((resolve) => { pending.set(i, resolve) })
      await cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id: i, method, params }) })
      const m = await reply
      if (m.error !== undefined) throw new Error(`${method}: ${JSON.stringify(m.error)}`)
      return m.result ?? {}
    },
    detach: async () => { await cdp.detach().catch(() => {}) }
  }
}

/** A Node peer with the first `count` blocks of a bench chain in a memory store, listening on WebSockets. */
export async function startSyncServer (chain: BenchChain, count: number, log: (l: string) => void): Promise<{ peer: Peer, wsAddr: string }> {
  const networkId = computeNetworkId(chain.net.config)
  const libp2p = await createNodeLibp2p({
    role: 'validator', privateKey: await generateKeyPair('Ed25519'), topics: topicsFor(networkId), listen: ['/ip4/127.0.0.1/tcp/0/ws'],
    bootstrapIds: new Set(), blocklist: new Set(), local: true
  })
  const peer = new Peer({ network: chain.net.config, libp2p, store: createMemoryStore(), verifier: createNodeVerifier(), role: 'light', bootstraps: [] })
  const t = performance.now()
  await peer.chain.acceptGenesis(chain.genesis)
  for (let i = 0; i < count; i += MAX_SYNC_BATCH) await peer.chain.acceptBatch(chain.blocks.slice(i, i + MAX_SYNC_BATCH))
  if (peer.chain.height !== count) throw new Error(`sync server filled to ${peer.chain.height}`)
  log(`  sync server: ${count} blocks verified into a memory store in ${((performance.now() - t) / 1000).toFixed(1)} s`)
  await peer.start()
  const ws = libp2p.getMultiaddrs().map((a) => a.toString()).find((a) => a.includes('/ws'))
  if (ws === undefined) throw new Error('sync server does not listen on /ws')
  return { peer, wsAddr: ws.includes('/p2p/') ? ws : `${ws}/p2p/${libp2p.peerId.toString()}` }
}

