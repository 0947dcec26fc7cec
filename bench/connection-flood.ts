/**
 * connection-flood: how long an honest newcomer takes to connect to a bootstrap while one host floods it.
 *
 * A real bootstrap (`startNode`, as `lightpulse bootstrap --local` runs it; watermarks 160 / 192) on 127.0.0.1.
 * The flood: 1,000 raw TCP sockets from 127.0.1.2 that never send a byte, 300 open at once, reopened as they
 * close (test/helpers/flood.ts). Measured: a fresh libp2p node (TCP, noise, yamux) dialing from 127.0.0.1
 * while the flood is under way, dial start -> connection up. Reference in the same run, interleaved: the same
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
  const flooded: number[] = []
  const quiet: number[] = []
  let failed = 0
  let refused = 0
  try {
    const addr = boot.addrs().find((a) => a.includes('/tcp/') && !a.includes('/ws'))!
    const port = Number(addr.split('/tcp/')[1]!.split('/')[0])
    for (let i = 0; i < runs; i++) {
      const q = await honestDial(addr)
      quiet.push(q.ok ? q.ms : 10_000)
      const before = boot.admission.refused.ip
      const f = flood(port, ['127.0.1.2'], { attempts: 1_000, atOnce: AT_ONCE })
      try {
        await floodUnderWay(f, AT_ONCE)
        const r = await honestDial(addr)
        if (!r.ok) failed++
        flooded.push(r.ok ? r.ms : 10_000)
      } finally {
        f.stop()
      }
      refused += boot.admission.refused.ip - before
      o.log(`  run ${i + 1}/${runs}: honest dial during the flood ${flooded[i]!.toFixed(0)} ms (no flood: ${quiet[i]!.toFixed(0)} ms); flood sockets refused at the per-IP budget: ${boot.admission.refused.ip - before}`)
      // Let the bootstrap close what the flood left before the next reference dial.
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
  } finally {
    await boot.stop()
    await rm(dir, { recursive: true, force: true })
  }
  return [entry('connection-flood', metric(flooded, 'ms (honest dial during a 1,000-socket flood from one host)', 0), { op: '<=', value: 5_000 }, {
    referenceNoFlood: metric(quiet, 'ms (same dial, same bootstrap, no flood; interleaved)', 0),
    failedDials: failed,
    floodSocketsRefusedPerRun: Math.round(refused / runs)
  })]
}
