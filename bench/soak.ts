/**
 * soak: a loopback devnet under steady mixed abuse for a long time (30 minutes by default), and whether the
 * attacked nodes' memory, file descriptors and streams stay flat.
 *
 * The devnet: 13 validators and 1 bootstrap, as `lightpulse devnet` runs them, except that validator 12 runs
 * in a process of its own (validatorsPerProcess 12), so that its memory is its own; it is the victim, with
 * the bootstrap. Both serve Prometheus metrics and write heap snapshots on SIGUSR2.
 *
 * The abuse, all at once and without pause, each attacker a fresh identity that is replaced once the victim
 * blocks it or after a minute (bench/abuse.ts):
 *   - Ignore-class gossip (stale round messages, stale blocks, expired data transactions, all distinct) at
 *     200 messages a second per topic to the victim validator;
 *   - sync storms (BLOCKS requests for 64 blocks, 2 streams at a time), malformed sync requests (2 a second)
 *     and requests whose answer is never read (one every 2 s), to the victim and to the bootstrap;
 *   - a connection flood at the bootstrap: 60 raw sockets at a time from three loopback hosts that never start
 *     a handshake, each replaced 20 ms after the bootstrap closes it.
 *
 * Sampled every 10 s: resident memory (/proc), open file descriptors (/proc/PID/fd), open streams and
 * connections (metrics), the victim's lag behind the tip. Judged: the median resident memory of the last
 * window against the median of the window just after the warm-up (the first 20 % of the run); target ≤ +10 %.
 * References in the same run: each process before any abuse (a quiet minute), and 30 s after the abuse ends.
 * Heap snapshots of both processes, 30 s and 90 s after the abuse (not before: writing one costs a process
 * some 100 MiB of resident memory that it keeps), give what holds the heap by cause (constructor), and what
 * still grows once the abuse is over.
 * One run (a 30-minute soak is not repeated); `--soak-minutes N` sets its length, `--quick` makes it 4.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { Devnet } from '../src/node/devnet.ts'
import type { NodeView } from '../src/node/devnet.ts'
import { topicsFor } from '../src/peer/topics.ts'
import { computeNetworkId, fromHex } from '../src/protocol/index.ts'
import { flood } from '../test/helpers/flood.ts'
import { createAttacker, fetchBlock, publishIgnoreJunk, syncAbuse, tcpAddr } from './abuse.ts'
import type { Attacker } from './abuse.ts'
import { grewMost, snapshotOf, totalBytes } from './heap-snapshot.ts'
import type { HeapSummary } from './heap-snapshot.ts'
import { entry, median, metric } from './common.ts'
import type { BenchOptions, Entry } from './common.ts'

const SAMPLE_MS = 10_000
const IDENTITY_MS = 60_000

interface Sample { at: number, rssMiB: number, fds: number, streams: number, connections: number, heapMiB: number, heapTotalMiB: number, newSpaceMiB: number, externalMiB: number }

async function rssMiB (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0) / 1024
}

/** Sum of a metric's samples in a Prometheus text page. */
function metricSum (page: string, name: string): number {
  let n = 0
  for (const m of page.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'gm'))) n += Number(m[1])
  return n
}

async function sample (v: NodeView): Promise<Sample> {
  const pid = v.proc!.pid!
  const page = await (await fetch(`http://127.0.0.1:${v.metricsPort!}/metrics`, { signal: AbortSignal.timeout(10_000) })).text()
  return {
    at: Date.now(),
    rssMiB: await rssMiB(pid),
    fds: (await readdir(`/proc/${pid}/fd`)).length,
    streams: metricSum(page, 'lightpulse_streams'),
    connections: metricSum(page, 'lightpulse_connections'),
    heapMiB: metricSum(page, 'nodejs_heap_used_bytes') / 2 ** 20,
    heapTotalMiB: metricSum(page, 'nodejs_heap_total_bytes') / 2 ** 20,
    newSpaceMiB: (Number(/^nodejs_heap_space_size_total_bytes\{space="new_space"\} ([0-9.e+-]+)$/m.exec(page)?.[1] ?? NaN)) / 2 ** 20,
    externalMiB: metricSum(page, 'nodejs_external_bytes') / 2 ** 20
  }
}

async function blocklisted (v: NodeView): Promise<number> {
  const page = await (await fetch(`http://127.0.0.1:${v.metricsPort!}/metrics`, { signal: AbortSignal.timeout(10_000) })).text()
  return metricSum(page, 'lightpulse_blocklisted_peers')
}

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Median of `key` over the samples taken in [from, to). */
function windowMedian (s: Sample[], key: keyof Sample, from: number, to: number): number {
  return median(s.filter((x) => x.at >= from && x.at < to).map((x) => x[key]))
}

export async function runSoak (o: BenchOptions): Promise<Entry[]> {
  if (process.platform !== 'linux') { o.log('  soak: skipped (needs Linux /proc)'); return [] }
  const minutes = o.soakMinutes ?? (o.quick ? 4 : 30)
  const totalMs = minutes * 60_000
  const warmMs = Math.max(60_000, totalMs * 0.2)
  const windowMs = Math.min(180_000, Math.max(30_000, totalMs * 0.1))
  const diag = await mkdtemp(join(tmpdir(), 'lp-soak-heap-'))
  const devnet = new Devnet({
    validators: 13, bootstraps: 1, validatorsPerProcess: 12,
    nodeArgs: ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${diag}`],
    validatorArgs: ['--metrics-port', '0'], bootstrapArgs: ['--metrics-port', '0']
  })
  const samples = { validator: [] as Sample[], bootstrap: [] as Sample[] }
  const quiet = { validator: [] as Sample[], bootstrap: [] as Sample[] }
  const lag: number[] = []
  const heaps: Record<'validator' | 'bootstrap', HeapSummary[]> = { validator: [], bootstrap: [] }
  const counts = { identities: 0, junk: 0, syncAnswered: 0, syncRefused: 0 }
  let stop = false
  const attackers = new Set<Attacker>()
  const loops: Array<Promise<void>> = []
  let f: ReturnType<typeof flood> | undefined
  let after = { validator: NaN, bootstrap: NaN }
  let blocked = { validator: 0, bootstrap: 0 }
  let heightAtAbuse = 0
  let heightAtEnd = 0
  try {
    o.log(`  starting a devnet (13 validators, validator 12 in its own process, 1 bootstrap); soak of ${minutes} min...`)
    await devnet.start()
    await devnet.runUntil(5, 120_000)
    const victim = devnet.validatorViews.find((v) => v.index === 12)!
    const boot = devnet.bootstrapViews[0]!
      const networkId = computeNetworkId(devnet.network)
    const topics = topicsFor(networkId)
    const old = fromHex([...devnet.blocks.get(1)!.hashes][0]!)
    const quietEnd = Date.now() + (o.quick ? 30_000 : 60_000)
    while (Date.now() < quietEnd) {
      quiet.validator.push(await sample(victim))
      quiet.bootstrap.push(await sample(boot))
      await sleep(SAMPLE_MS / 2)
    }
    heightAtAbuse = devnet.tipHeight
    const t0 = Date.now()
    const end = t0 + totalMs
    const fresh = async (): Promise<Attacker> => { const a = await createAttacker(topics); attackers.add(a); counts.identities++; return a }
    const retire = async (a: Attacker): Promise<void> => { attackers.delete(a); try { await a.stop() } catch { /* already stopping */ } }
    const oldBlock = await (async () => { const a = await fresh(); try { return await fetchBlock(a, tcpAddr(boot.addrs), networkId, 1) } finally { await retire(a) } })()
    // Ignore-class gossip to the victim validator.
    loops.push((async () => {
      while (!stop) {
        const a = await fresh()
        try {
          for (const t of [topics.rounds, topics.blocks, topics.txs]) a.services.pubsub.subscribe(t)
          const conn = await a.dial(multiaddr(tcpAddr(victim.addrs))).catch(() => undefined)
          for (let i = 0; i < 100 && !stop && a.services.pubsub.getSubscribers(topics.rounds).length === 0; i++) await sleep(50)
          if (conn !== undefined) {
            const r = await publishIgnoreJunk(a, topics, networkId, { hash: old, block: oldBlock }, { perTick: 2, maxMs: IDENTITY_MS, until: () => !stop && a.getConnections(conn.remotePeer).length > 0 })
            counts.junk += r.sent
          }
        } finally { await retire(a) }
        await sleep(100)
      }
    })())
    // Sync abuse at the victim and the bootstrap.
    for (const target of [victim, boot]) {
      loops.push((async () => {
        while (!stop) {
          const a = await fresh()
          const addr = tcpAddr(target.addrs)
          const until = Date.now() + IDENTITY_MS
          const conn = await a.dial(multiaddr(addr)).catch(() => undefined)
          const alive = (): boolean => !stop && Date.now() < until && conn !== undefined && a.getConnections(conn.remotePeer).length > 0
          const kind = async (k: 'storm' | 'malformed' | 'unread', pauseMs: number): Promise<void> => {
            for (let i = 0; alive(); i++) {
              if (await syncAbuse(a, addr, networkId, k, 1 + (i % 50))) counts.syncAnswered++
              else counts.syncRefused++
              await sleep(pauseMs)
            }
          }
          try {
            await Promise.all([kind('storm', 0), kind('storm', 0), kind('malformed', 500), kind('unread', 2_000)])
          } finally { await retire(a) }
          await sleep(100)
        }
      })())
    }
    // A steady connection flood at the bootstrap.
    const port = Number(tcpAddr(boot.addrs).split('/tcp/')[1]!.split('/')[0])
    f = flood(port, ['127.0.1.2', '127.0.1.3', '127.0.2.2'], { attempts: 100_000_000, atOnce: 60, reopenMs: 20 })
    let lastLog = t0
    while (Date.now() < end) {
      samples.validator.push(await sample(victim))
      samples.bootstrap.push(await sample(boot))
      lag.push(Math.max(0, devnet.tipHeight - victim.height))
      if (Date.now() - lastLog >= 60_000) {
        lastLog = Date.now()
        const v = samples.validator.at(-1)!
        const b = samples.bootstrap.at(-1)!
        o.log(`  ${Math.round((Date.now() - t0) / 60_000)} min: validator ${v.rssMiB.toFixed(0)} MiB (V8 ${v.heapTotalMiB.toFixed(0)}, young ${v.newSpaceMiB.toFixed(0)}), ${v.fds} fds, ${v.streams} streams; bootstrap ${b.rssMiB.toFixed(0)} MiB (V8 ${b.heapTotalMiB.toFixed(0)}, young ${b.newSpaceMiB.toFixed(0)}, external ${b.externalMiB.toFixed(0)}), ${b.fds} fds, ${b.connections} connections; height ${devnet.tipHeight}, lag ${lag.at(-1)}; attackers ${counts.identities}, flood sockets ${f.attempts()}`)
      }
      await sleep(SAMPLE_MS)
    }
    heightAtEnd = devnet.tipHeight
    blocked = { validator: await blocklisted(victim), bootstrap: await blocklisted(boot) }
    stop = true
    f.stop()
    await Promise.all(loops)
    await sleep(30_000)
    after = { validator: await rssMiB(victim.proc!.pid!), bootstrap: await rssMiB(boot.proc!.pid!) }
    // Only now: writing a snapshot costs the process some 100 MiB of resident memory that it keeps, which
    // would distort every later sample. The first is taken 30 s after the abuse, the second 60 s later.
    o.log('  heap snapshots 30 s and 90 s after the abuse...')
    for (let k = 0; k < 2; k++) {
      if (k === 1) await sleep(60_000)
      heaps.validator.push(await snapshotOf(victim.proc!.pid!, diag))
      heaps.bootstrap.push(await snapshotOf(boot.proc!.pid!, diag))
    }
  } finally {
    stop = true
    f?.stop()
    await Promise.allSettled(loops)
    await Promise.allSettled([...attackers].map(async (a) => { await a.stop() }))
    await devnet.stop()
    await rm(diag, { recursive: true, force: true })
  }
  const t0 = samples.validator[0]!.at
  const tEnd = samples.validator.at(-1)!.at + 1
  const entries: Entry[] = []
  for (const role of ['validator', 'bootstrap'] as const) {
    const s = samples[role]
    const base = { from: t0 + warmMs, to: t0 + warmMs + windowMs }
    const last = { from: tEnd - windowMs, to: tEnd }
    const growth = (k: keyof Sample): number => windowMedian(s, k, last.from, last.to) - windowMedian(s, k, base.from, base.to)
    const rssBase = windowMedian(s, 'rssMiB', base.from, base.to)
    const pct = growth('rssMiB') / rssBase * 100
    const [h0, h1] = heaps[role]
    const largest = h0 === undefined ? {} : Object.fromEntries([...h0].sort((x, y) => y[1].bytes - x[1].bytes).slice(0, 8).map(([cause, c]) => [cause, `${(c.bytes / 2 ** 20).toFixed(1)} MiB in ${c.count} objects`]))
    const causes = h0 !== undefined && h1 !== undefined
      ? Object.fromEntries(grewMost(h0, h1, 5).map((c) => [c.cause, `${((c.bytes - c.bytesBefore) / 1024).toFixed(0)} KiB (${c.countBefore} -> ${c.count} objects)`]))
      : {}
    o.log(`  ${role}: resident memory ${rssBase.toFixed(0)} MiB after the warm-up, ${windowMedian(s, 'rssMiB', last.from, last.to).toFixed(0)} MiB at the end (${pct >= 0 ? '+' : ''}${pct.toFixed(1)} %)`)
    entries.push(entry(`soak-rss-growth-${role}`, metric([pct], `% resident memory, last ${windowMs / 60_000} min vs the ${windowMs / 60_000} min after a ${warmMs / 60_000}-min warm-up (${minutes}-min soak under mixed abuse)`, 1), { op: '<=', value: 10 }, {
      rssAfterWarmUp: metric([rssBase], 'MiB (median of the window)', 0),
      rssAtEnd: metric([windowMedian(s, 'rssMiB', last.from, last.to)], 'MiB (median of the window)', 0),
      referenceQuiet: metric([median(quiet[role].map((x) => x.rssMiB))], 'MiB (same process, the minute before any abuse)', 0),
      rss30sAfterAbuse: metric([after[role]], 'MiB', 0),
      fdsGrowth: metric([growth('fds')], 'open file descriptors (end window median - post-warm-up median)', 0),
      streamsGrowth: metric([growth('streams')], 'open streams (same windows)', 0),
      connectionsGrowth: metric([growth('connections')], 'connections (same windows)', 0),
      heapUsedGrowth: metric([growth('heapMiB')], 'MiB V8 heap used (same windows)', 1),
      heapCommittedGrowth: metric([growth('heapTotalMiB')], 'MiB V8 heap committed (same windows; V8 grows its young generation under a high allocation rate and shrinks it after)', 1),
      youngGenerationGrowth: metric([growth('newSpaceMiB')], 'MiB V8 new space committed (same windows)', 1),
      heapCommittedAtEnd: metric([windowMedian(s, 'heapTotalMiB', last.from, last.to)], 'MiB V8 heap committed (end window median; resident memory also holds the node binary, about 60 MiB, and malloc\'s heap)', 0),
      externalAtEnd: metric([windowMedian(s, 'externalMiB', last.from, last.to)], 'MiB external/buffers (end window median)', 0),
      externalGrowth: metric([growth('externalMiB')], 'MiB external/buffers (same windows)', 1),
      heapSnapshotLiveMiB: h0 !== undefined && h1 !== undefined ? `${(totalBytes(h0) / 2 ** 20).toFixed(1)} MiB live 30 s after the abuse, ${(totalBytes(h1) / 2 ** 20).toFixed(1)} MiB 60 s later` : 'no snapshots',
      heapLargestCauses: largest,
      heapGrewAfterAbuse: causes,
      blockedAttackers: blocked[role]
    }))
  }
  const v = entries[0]!
  v.details = {
    ...v.details,
    victimLagMax: metric([Math.max(...lag)], 'blocks behind the tip (max of the 10 s samples)', 0),
    victimLagP50: metric([median(lag)], 'blocks behind the tip (median)', 0),
    blocksDuringSoak: heightAtEnd - heightAtAbuse,
    attackerIdentities: counts.identities,
    junkMessagesPerTopic: counts.junk,
    syncRequests: `${counts.syncAnswered} answered, ${counts.syncRefused} refused or reset`,
    floodSockets: f?.attempts() ?? 0
  }
  return entries
}
