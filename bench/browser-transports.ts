/**
 * The browser bench's `transports` group: WebTransport against WebSockets, in one Chromium, on one loopback
 * devnet (13 validators and 1 bootstrap, all listening on both; WebTransport through the Deno sidecar), runs
 * alternating between the two so that load drifts hit both alike. Each run is a fresh context of the app page
 * configured with one transport only:
 *   first-connection-<t>   navigation -> the worker's first connection (startup phase `dial`)
 *   cold-tab-<t>           navigation -> the verified head at the devnet's height at goto
 *   gossip-delivery-<t>    a block's timestamp -> its `block` event in the page, over the next 8 blocks
 *                          (the producer's round takes part of it: the same part over both transports)
 * WebSockets is each figure's reference, measured in the same run.
 */
import type { Browser, Page } from 'playwright'
import { Devnet } from '../src/node/devnet.ts'
import { serveUi } from '../src/node/web.ts'
import type { UiServer } from '../src/node/web.ts'
import { networkToFile } from '../src/node/files.ts'
import type { ClientConfig } from '../src/client/types.ts'
import { entry, median, metric } from './common.ts'
import type { Entry } from './common.ts'
import { installHeadWatch, phaseBreakdown, waitReached } from './browser-helpers.ts'

const TRANSPORTS = ['websockets', 'webtransport'] as const
type T = typeof TRANSPORTS[number]
const GOSSIP_BLOCKS = 8

async function blockLatencies (page: Page, blocks: number, timeoutMs: number): Promise<number[]> {
  return await page.evaluate(async ({ blocks, timeoutMs }) => {
    const c = (globalThis as unknown as { lightpulse: { on: (fn: (e: { type: string, timestamp?: number }) => void) => Promise<() => void> } }).lightpulse
    const out: number[] = []
    let off: (() => void) | undefined
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs)
      void c.on((e) => {
        if (e.type !== 'block' || e.timestamp === undefined) return
        out.push(Date.now() - e.timestamp)
        if (out.length >= blocks) { clearTimeout(timer); resolve() }
      }).then((u) => { off = u })
    })
    off?.()
    return out
  }, { blocks, timeoutMs })
}

export async function transportRuns (browser: Browser, runs: number, log: (l: string) => void): Promise<Entry[]> {
  // The validators listen on WebTransport too, so that a WebTransport-only page meshes with them as a
  // WebSockets page does (bootstraps keep no mesh): the gossip figures then compare transports, not topologies.
  const devnet = new Devnet({
    validators: 13, bootstraps: 1, validatorsPerProcess: 1,
    validatorArgs: ['--listen', '/ip4/127.0.0.1/tcp/0', '--listen', '/ip4/127.0.0.1/tcp/0/ws', '--listen', '/ip4/127.0.0.1/udp/0/quic-v1/webtransport']
  })
  const uis: Partial<Record<T, UiServer>> = {}
  const first: Record<T, number[]> = { websockets: [], webtransport: [] }
  const cold: Record<T, number[]> = { websockets: [], webtransport: [] }
  const gossip: Record<T, number[]> = { websockets: [], webtransport: [] }
  try {
    log('  starting a devnet (13 validators, 1 bootstrap with WebSockets and WebTransport)...')
    await devnet.start()
    await devnet.runUntil(5, 90_000)
    if (devnet.bootstrapWtAddrs.length === 0) {
      log('  WebTransport not measured: the bootstrap has no WebTransport address (Deno missing)')
      return [entry('first-connection-webtransport', metric([], 'ms', 0), { op: 'report', value: 0 }, { notMeasured: 'no Deno' })]
    }
    for (const t of TRANSPORTS) {
      const config = (): ClientConfig => ({ network: networkToFile(devnet.network), bootstraps: t === 'websockets' ? devnet.bootstrapWsAddrs : devnet.bootstrapWtAddrs, transports: [t], local: true })
      uis[t] = await serveUi({ port: 0, config })
    }
    for (let i = 0; i < runs; i++) {
      for (const t of i % 2 === 0 ? TRANSPORTS : [...TRANSPORTS].reverse()) {
        const context = await browser.newContext()
        try {
          const page = await context.newPage()
          const target = devnet.finalHeight
          await page.addInitScript(installHeadWatch, { target, pollMs: 10 })
          const t0 = Date.now()
          await page.goto(`${uis[t]!.url}?store=bench-${t}`)
          const r = await waitReached(page, 60_000)
          cold[t].push(r.reachedAt - t0)
          const b = await phaseBreakdown(page)
          if (b.at.dial !== undefined) first[t].push(b.at.dial)
          const lat = await blockLatencies(page, GOSSIP_BLOCKS, 30_000)
          gossip[t].push(...lat)
          log(`  run ${i + 1}/${runs} ${t}: first connection ${b.at.dial ?? '?'} ms, verified head ${target} in ${cold[t].at(-1)} ms, blocks ${lat.length} at median ${median(lat).toFixed(0)} ms after their timestamp`)
        } finally {
          await context.close()
        }
      }
    }
  } finally {
    for (const ui of Object.values(uis)) await ui?.close()
    await devnet.stop()
  }
  const ref = (xs: number[], what: string): ReturnType<typeof metric> => metric(xs, `ms (${what} over WebSockets, same browser, same run)`, 0)
  return [
    entry('first-connection-webtransport', metric(first.webtransport, 'ms', 0), { op: 'report', value: 0 }, { reference: ref(first.websockets, 'first connection') }),
    entry('cold-tab-webtransport', metric(cold.webtransport, 'ms', 0), { op: 'report', value: 0 }, { reference: ref(cold.websockets, 'cold tab to verified head') }),
    entry('gossip-delivery-webtransport', metric(gossip.webtransport, 'ms', 0), { op: 'report', value: 0 }, { reference: ref(gossip.websockets, 'block timestamp to block event') })
  ]
}
