/**
 * bytes-per-hour: what following the chain costs in bytes, at mainnet timing (a block every 2 minutes), for
 * an observer (a light peer without a validator key: a browser tab or phone that follows the head), for a
 * validator, and for a bootstrap.
 *
 * A loopback devnet on the mainnet preset: 13 validators (8 to a process), 1 bootstrap, 3 release signers
 * (2 to release). Once the chain is past genesis, an observer starts in this process: the product's Node light
 * peer (`startNode({ role: 'light' })`, the same Peer the browser worker runs, with the product's default
 * mesh), dialing the bootstrap. Once it holds the head, the run takes 3 consecutive windows (4 minutes each;
 * 1 with --quick) and counts, in each, the bytes in and out on every libp2p connection (libp2p's metrics hooks,
 * src/peer/byte-counter.ts: encrypted and multiplexed bytes, short of TCP/IP framing): the observer's own
 * counter, each validator's and the bootstrap's `lightpulse_transport_bytes_total`. Each window is scaled to
 * an hour; the figure is the median of the windows, the validators' the median validator of each window.
 *
 * Reference in the same run: the encoded size of the blocks made in each window (fetched afterwards from the
 * bootstrap), scaled the same way: the bytes a peer must receive at the least to hold the head.
 * The devnet's validators run the loopback mesh (D 4, not the product's 8, docs/LIMITS.md) and 12 of the 13
 * are in every quorum: on a large network a validator serves a round far less often, so its figure here is
 * the busy end.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Devnet } from '../src/node/devnet.ts'
import type { NodeView } from '../src/node/devnet.ts'
import { startNode } from '../src/node/node.ts'
import { parseExposition } from '../src/node/metrics.ts'
import type { RunningNode } from '../src/node/node.ts'
import { computeNetworkId } from '../src/protocol/index.ts'
import { fetchBlock } from './abuse.ts'
import { entry, median, metric } from './common.ts'
import type { BenchOptions, Entry } from './common.ts'

const WINDOWS = 3
const HOUR = 3_600_000

interface Counts { in: number, out: number }

async function transportBytes (v: NodeView): Promise<Counts> {
  const m = parseExposition(await (await fetch(`http://127.0.0.1:${v.metricsPort!}/metrics`, { signal: AbortSignal.timeout(10_000) })).text())
  const get = (d: string): number => m.get(`lightpulse_transport_bytes_total{direction="${d}"}`) ?? NaN
  return { in: get('in'), out: get('out') }
}

interface Snapshot { at: number, height: number, observer: Counts, byProtocol: Map<string, Counts>, bootstrap: Counts, validators: Map<string, Counts> }

async function snapshot (devnet: Devnet, observer: RunningNode): Promise<Snapshot> {
  const validators = new Map<string, Counts>()
  for (const v of devnet.validatorViews) validators.set(v.name, await transportBytes(v))
  return {
    at: Date.now(),
    height: devnet.tipHeight,
    observer: { ...observer.bytes!.total },
    byProtocol: new Map([...observer.bytes!.byProtocol].map(([p, c]) => [p, { ...c }])),
    bootstrap: await transportBytes(devnet.bootstrapViews[0]!),
    validators
  }
}

const perHour = (a: Counts, b: Counts, ms: number): number => ((b.in - a.in) + (b.out - a.out)) / ms * HOUR

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

export async function runBytesPerHour (o: BenchOptions): Promise<Entry[]> {
  const windowMs = (o.quick ? 1 : 4) * 60_000
  const devnet = new Devnet({
    preset: 'mainnet', validators: 13, bootstraps: 1, releaseSigners: 3, threshold: 2,
    validatorArgs: ['--metrics-port', '0'], bootstrapArgs: ['--metrics-port', '0']
  })
  const dir = await mkdtemp(join(tmpdir(), 'lp-bytes-'))
  const snaps: Snapshot[] = []
  let observer: RunningNode | undefined
  const sizes = new Map<number, number>()
  const inbound = { observer: [] as number[], validator: [] as number[] }
  try {
    o.log(`  starting a devnet on the mainnet preset (13 validators, 1 bootstrap); ${WINDOWS} windows of ${windowMs / 60_000} min...`)
    await devnet.start()
    await devnet.runUntil(1, 300_000)
    observer = await startNode({ role: 'light', network: devnet.network, dataDir: dir, bootstraps: devnet.bootstrapAddrs, local: true, countBytes: true })
    const obs = observer
    for (let i = 0; i < 240 && obs.peer.chain.height < devnet.tipHeight; i++) await sleep(500)
    if (obs.peer.chain.height < devnet.tipHeight) throw new Error(`the observer did not reach the tip in 120 s (${obs.peer.chain.height} < ${devnet.tipHeight})`)
    snaps.push(await snapshot(devnet, observer))
    for (let w = 0; w < WINDOWS; w++) {
      await sleep(windowMs)
      snaps.push(await snapshot(devnet, observer))
      const [a, b] = snaps.slice(-2) as [Snapshot, Snapshot]
      o.log(`    window ${w + 1}: heights ${a.height}..${b.height}; observer ${(perHour(a.observer, b.observer, b.at - a.at) / 2 ** 20).toFixed(2)} MiB/h, bootstrap ${(perHour(a.bootstrap, b.bootstrap, b.at - a.at) / 2 ** 20).toFixed(2)} MiB/h`)
    }
    // The reference: every block of the windows, as encoded on the wire (one copy each).
    const addr = devnet.bootstrapAddrs.find((x) => x.includes('/tcp/') && !x.includes('/ws'))!
    const networkId = computeNetworkId(devnet.network)
    for (let h = snaps[0]!.height + 1; h <= snaps.at(-1)!.height; h++) {
      const b = await fetchBlock(observer.peer.libp2p, addr, networkId, h)
      if (b !== undefined) sizes.set(h, b.byteLength)
    }
  } finally {
    await observer?.stop()
    await devnet.stop()
    await rm(dir, { recursive: true, force: true })
  }
  const runs = { observer: [] as number[], validator: [] as number[], bootstrap: [] as number[], floor: [] as number[], blocks: [] as number[] }
  for (let w = 1; w < snaps.length; w++) {
    const a = snaps[w - 1]!
    const b = snaps[w]!
    const ms = b.at - a.at
    runs.observer.push(perHour(a.observer, b.observer, ms))
    inbound.observer.push((b.observer.in - a.observer.in) / ms * HOUR)
    runs.bootstrap.push(perHour(a.bootstrap, b.bootstrap, ms))
    // Each validator's counts in the window (one present at both ends), and their medians.
    const pairs = [...b.validators].flatMap(([name, c]) => { const c0 = a.validators.get(name); return c0 === undefined ? [] : [[c0, c] as const] })
    runs.validator.push(median(pairs.map(([c0, c]) => perHour(c0, c, ms))))
    inbound.validator.push(median(pairs.map(([c0, c]) => (c.in - c0.in) / ms * HOUR)))
    let floor = 0
    for (let h = a.height + 1; h <= b.height; h++) floor += sizes.get(h) ?? 0
    runs.floor.push(floor / ms * HOUR)
    runs.blocks.push((b.height - a.height) / ms * HOUR)
  }
  const mib = (xs: number[]): number[] => xs.map((x) => x / 2 ** 20)
  // The observer's stream payload by protocol over all the windows, per hour (the rest of its bytes are Noise,
  // yamux and multistream-select).
  const first = snaps[0]!
  const last = snaps.at(-1)!
  const observerByProtocol = Object.fromEntries([...last.byProtocol].map(([p, c]) => {
    const c0 = first.byProtocol.get(p) ?? { in: 0, out: 0 }
    return [p, `${((c.in - c0.in) / (last.at - first.at) * HOUR / 1024).toFixed(1)} KiB/h in, ${((c.out - c0.out) / (last.at - first.at) * HOUR / 1024).toFixed(1)} KiB/h out`]
  }))
  for (const [p, v] of Object.entries(observerByProtocol)) o.log(`    observer ${p}: ${v}`)
  const details = {
    referenceBlockBytes: metric(mib(runs.floor), 'MiB/h: the encoded blocks made in each window, one copy (the least a peer must receive)', 3),
    blocksPerHour: metric(runs.blocks, 'blocks/h in each window (mainnet target: 30)', 1),
    windowMinutes: windowMs / 60_000
  }
  return [
    entry('bytes-per-hour-observer', metric(mib(runs.observer), 'MiB/h in and out, light observer (mainnet timing; each run one window)', 2), { op: 'report', value: 0 }, {
      ...details, inbound: metric(mib(inbound.observer), 'MiB/h in', 2), observerByProtocol
    }),
    entry('bytes-per-hour-validator', metric(mib(runs.validator), 'MiB/h in and out, median validator (12 of 13 in every quorum)', 2), { op: 'report', value: 0 }, {
      ...details, inbound: metric(mib(inbound.validator), 'MiB/h in', 2)
    }),
    entry('bytes-per-hour-bootstrap', metric(mib(runs.bootstrap), 'MiB/h in and out, the bootstrap (serving 13 validators and the observer)', 2), { op: 'report', value: 0 }, details)
  ]
}
