/**
 * connection-flood: how long an honest newcomer takes to connect to a bootstrap while one host floods it.
 *
 * A real bootstrap (`startNode`, as `lightpulse bootstrap --local` runs it; watermarks 160 / 192) on 127.0.0.1.
 * The flood: 1,000 raw TCP sockets from 127.0.1.2 that never send a byte, 300 open at once, reopened as they
 * close (test/helpers/flood.ts); and the same from 160 hosts in 40 /24s, each under its budgets (300 at once,
 * reopened at once, until the dial is done), which fills the 56 slots open to strangers; that dial is made in the
 * flood's steady state (once its sockets evict each other). Measured: a fresh
 * libp2p node (TCP, noise, yamux) dialing from 127.0.0.1 while the flood is under way, dial start ->
 * connection up. Reference in the same run, interleaved: the same
 * dial to the same bootstrap with no flood. Runs: 5 (3 with --quick); a failed dial counts as 10,000 ms.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNode } from '../src/node/node.ts'
import { DEFAULT_ADMISSION } from '../src/node/admission.ts'
import { createTestNetwork } from '../test/helpers/chain-builder.ts'
import { AT_ONCE, flood, floodUnderWay, honestDial } from '../test/helpers/flood.ts'
import { entry, metric } from './common.ts'
import type { BenchOptions, Entry } from './common.ts'

export async function runConnectionFlood (o: BenchOptions): Promise<Entry[]> {
  const runs = o.quick ? 3 : 5
  const dir = await mkdtemp(join(tmpdir(), 'lp-bench-flood-'))
  const net = createTestNetwork({ validators: 12 })
  const boot = await startNode({
    role: 'bootstrap', network: net.config, dataDir: join(dir, 'boot'), bootstraps: [], local: true,
    listen: ['/ip4/127.0.0.1/tcp/0'], admission: DEFAULT_ADMISSION, watermarks: { lowWatermark: 160, highWatermark: 192 }
  })
  const sources = {
    host: ['127.0.1.2'],
    // 160 hosts in 40 /24s: each host and each /24 under its budget, together over the strangers' 56 slots.
    subnets: Array.from({ length: 160 }, (_, i) => `127.0.${10 + (i % 40)}.${2 + Math.floor(i / 40)}`)
  }
  const flooded = { host: [] as number[], subnets: [] as number[] }
  const quiet: number[] = []
  let failed = 0
  let refused = 0
  try {
    const addr = boot.addrs().find((a) => a.includes('/tcp/') && !a.includes('/ws'))!
    const port = Number(addr.split('/tcp/')[1]!.split('/')[0])
    for (let i = 0; i < runs; i++) {
      const q = await honestDial(addr)
      quiet.push(q.ok ? q.ms : 10_000)
      for (const kind of ['host', 'subnets'] as const) {
        const before = Object.values(boot.admission.refused).reduce((a, b) => a + b, 0)
        const f = flood(port, sources[kind], { attempts: kind === 'host' ? 1_000 : 1_000_000, atOnce: AT_ONCE })
        try {
          await floodUnderWay(f, AT_ONCE)
          // Many /24s: dial in the flood's steady state, once it has held every strangers' slot past evictAfterMs
          // and its /24s evict each other (in its first second nothing is evictable: a newcomer is refused once).
          const evicted = boot.admission.evicted
          for (let k = 0; kind === 'subnets' && k < 200 && boot.admission.evicted === evicted; k++) await new Promise((resolve) => setTimeout(resolve, 50))
          const r = await honestDial(addr)
          if (!r.ok) failed++
          flooded[kind].push(r.ok ? r.ms : 10_000)
        } finally {
          f.stop()
        }
        const n = Object.values(boot.admission.refused).reduce((a, b) => a + b, 0) - before
        if (kind === 'host') refused += n
        o.log(`  run ${i + 1}/${runs}, flood from ${kind === 'host' ? 'one host' : '40 /24s'}: honest dial ${flooded[kind][i]!.toFixed(0)} ms (no flood: ${quiet[i]!.toFixed(0)} ms); flood sockets refused: ${n}`)
        // Let the bootstrap close what the flood left, and the cool-downs end, before the next dial.
        await new Promise((resolve) => setTimeout(resolve, 2_500))
      }
    }
  } finally {
    await boot.stop()
    await rm(dir, { recursive: true, force: true })
  }
  return [entry('connection-flood', metric(flooded.host, 'ms (honest dial during a 1,000-socket flood from one host)', 0), { op: '<=', value: 5_000 }, {
    referenceNoFlood: metric(quiet, 'ms (same dial, same bootstrap, no flood; interleaved)', 0),
    failedDials: failed,
    floodSocketsRefusedPerRun: Math.round(refused / runs)
  }), entry('connection-flood-many-subnets', metric(flooded.subnets, 'ms (honest dial while 160 hosts in 40 /24s hold the strangers\' slots)', 0), { op: '<=', value: 5_000 }, {
    referenceNoFlood: metric(quiet, 'ms (same dial, same bootstrap, no flood; interleaved)', 0),
    evictedInAll: boot.admission.evicted
  })]
}
