/**
 * round-latency: a loopback devnet (src/node/devnet.ts, default options: 16 validators 8 to a process,
 * the 2 bootstraps in one process, 5 release signers / threshold 3) runs to height ~25. Reference in the
 * same run: the devnet with round messages by gossip only (`--gossip-rounds`, interleaved), and one with a
 * process per node. One more run, profiled (`node --cpu-prof`), gives the
 * CPU per block by cause (bench/cpu-causes.ts).
 * Reported: Devnet.summary().roundLatencyMs (round start = block timestamp -> block accepted on every
 * node), the block interval, and the producer's stage times relative to round start from roundEvents:
 *   commit   = round started on the producer          template = template built (commits in)
 *   sign     = header complete (reveals in)           block    = block assembled (signatures in)
 *   accepted first / all = the block's 'block' event on the first / last node.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Devnet, percentile } from '../src/node/devnet.ts'
import type { DevnetOptions } from '../src/node/devnet.ts'
import { causesInDir } from './cpu-causes.ts'
import { entry, median, metric, round } from './common.ts'
import type { BenchOptions, Entry } from './common.ts'

export const TARGET_HEIGHT = 25
export const TARGET_P50_MS = 100
/** Heights excluded from the steady-state figures (nodes still connecting / meshes forming). */
const WARMUP_HEIGHTS = 5

const STAGES = ['commit', 'template', 'sign', 'block'] as const

/** CPU time (user + system) of every running node process, ms, from /proc (Linux only; 0 elsewhere). */
async function devnetCpuMs (d: Devnet): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  // Keyed by process: nodes that share one are counted once.
  for (const pid of new Set([...d.nodes.values()].filter((n) => n.running).map((n) => n.proc?.pid))) {
    if (pid === undefined) continue
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      out[String(pid)] = (Number(f[11]) + Number(f[12])) * 10 // utime + stime, clock ticks (USER_HZ = 100)
    } catch { /* not Linux, or exited */ }
  }
  return out
}

interface RunResult {
  p50: number
  p99: number
  intervalP50: number
  intervalP99: number
  steadyP50: number
  height: number
  rounds: Record<string, number>
  /** Rounds per block over the steady-state heights: mean of (round + 1); 1.0 = every block in round 0. */
  roundsPerBlock: number
  forks: number
  /** CPU ms per block, all node processes together, over the steady-state heights (0 if unavailable). */
  cpuMsPerBlock: number
  /** Wall ms per block over the same heights. */
  wallMsPerBlock: number
  /** Per block (steady state, round-0 and backup alike): stage -> ms after round start. */
  stages: Array<Record<string, number>>
}

async function devnetOnce (o: BenchOptions, run: number, extra: DevnetOptions = {}): Promise<RunResult> {
  const dataDir = await mkdtemp(join(tmpdir(), 'lightpulse-bench-devnet-'))
  const lines: string[] = []
  const d = new Devnet({ dataDir, log: (l) => { lines.push(l); if (lines.length > 200) lines.shift() }, ...extra })
  try {
    const t = performance.now()
    await d.start()
    o.log(`  run ${run + 1}: devnet up (genesis) after ${((performance.now() - t) / 1000).toFixed(1)} s; running to height ${TARGET_HEIGHT}...`)
    await d.runUntil(WARMUP_HEIGHTS, 30_000)
    const cpu0 = await devnetCpuMs(d)
    const h0 = d.finalHeight
    const w0 = performance.now()
    await d.runUntil(TARGET_HEIGHT, 30_000)
    const cpu1 = await devnetCpuMs(d)
    const blocks = Math.max(1, d.finalHeight - h0)
    const cpuMs = Object.keys(cpu1).reduce((sum, k) => sum + (cpu0[k] !== undefined ? cpu1[k]! - cpu0[k] : 0), 0)
    const wallMsPerBlock = (performance.now() - w0) / blocks
    const s = d.summary()
    const recs = [...d.blocks.values()].filter((r) => r.height > 0).sort((a, b) => a.height - b.height)
    const stages: Array<Record<string, number>> = []
    for (const r of recs) {
      if (r.height <= WARMUP_HEIGHTS) continue
      const ev = d.roundEvents.filter((e) => e.height === r.height && e.round === r.round && e.role === 'producer')
      const row: Record<string, number> = {}
      for (const st of STAGES) {
        const e = ev.find((x) => x.stage === st)
        if (e !== undefined) row[st] = e.at - r.timestamp
      }
      const accepted = [...r.acceptedBy.values()]
      row['accepted first'] = Math.min(...accepted) - r.timestamp
      row['accepted all'] = Math.max(...accepted) - r.timestamp
      stages.push(row)
    }
    const steady = stages.map((x) => x['accepted all']!)
    return {
      p50: s.roundLatencyMs.p50,
      p99: s.roundLatencyMs.p99,
      intervalP50: s.blockIntervalMs.p50,
      intervalP99: s.blockIntervalMs.p99,
      steadyP50: percentile(steady, 50),
      height: s.height,
      rounds: s.rounds,
      roundsPerBlock: s.roundsByHeight.slice(WARMUP_HEIGHTS).reduce((a, r) => a + r + 1, 0) / Math.max(1, s.roundsByHeight.length - WARMUP_HEIGHTS),
      forks: s.forks,
      cpuMsPerBlock: cpuMs / blocks,
      wallMsPerBlock,
      stages
    }
  } catch (err) {
    o.log(`  devnet failed: ${String(err)}\n  last log lines:\n${lines.slice(-20).map((l) => `    ${l}`).join('\n')}`)
    throw err
  } finally {
    await d.stop()
    await rm(dataDir, { recursive: true, force: true })
  }
}

export async function runRoundLatency (o: BenchOptions): Promise<Entry[]> {
  const runs = o.quick ? 2 : 3
  const results: RunResult[] = []
  const gossipOnly: RunResult[] = []
  const failures: string[] = []
  // A devnet run can fail to start or stall on an overloaded machine: record it, try once more per failure.
  for (let i = 0; results.length < runs && i < runs + 2; i++) {
    let r: RunResult
    try { r = await devnetOnce(o, i) } catch (err) { failures.push(String(err)); continue }
    results.push(r)
    o.log(`  run ${i + 1}/${runs}: round latency p50 ${r.p50} ms, p99 ${r.p99} ms; block interval p50 ${r.intervalP50} ms; ` +
      `height ${r.height}, rounds ${JSON.stringify(r.rounds)}, forks ${r.forks}; ` +
      `node processes used ${r.cpuMsPerBlock.toFixed(0)} ms CPU per ${r.wallMsPerBlock.toFixed(0)} ms wall per block`)
    // Interleaved reference: the same devnet with round messages by gossip only (--gossip-rounds).
    try {
      const g = await devnetOnce(o, i, { validatorArgs: ['--gossip-rounds'] })
      gossipOnly.push(g)
      o.log(`  reference (gossip only) ${i + 1}: p50 ${g.p50} ms, rounds ${JSON.stringify(g.rounds)}, ${g.cpuMsPerBlock.toFixed(0)} ms CPU per block`)
    } catch (err) { failures.push(`gossip-only reference: ${String(err)}`) }
  }
  // Reference: a process per node (what every devnet ran before), and one profiled run for CPU by cause.
  const reference: RunResult[] = []
  for (let i = 0; i < (o.quick ? 1 : 2); i++) {
    try {
      const r = await devnetOnce(o, i, { validatorsPerProcess: 1 })
      reference.push(r)
      o.log(`  reference (process per node) ${i + 1}: p50 ${r.p50} ms, rounds ${JSON.stringify(r.rounds)}, ${r.cpuMsPerBlock.toFixed(0)} ms CPU per block`)
    } catch (err) { failures.push(`reference: ${String(err)}`) }
  }
  const profDir = await mkdtemp(join(tmpdir(), 'lightpulse-bench-prof-'))
  const byCause: Record<string, unknown> = {}
  try {
    const r = await devnetOnce(o, 0, { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`] })
    const causes = await causesInDir(profDir)
    const total = [...causes.values()].reduce((a, b) => a + b, 0)
    for (const [c, ms] of [...causes].sort((a, b) => b[1] - a[1])) byCause[c] = `${(ms / r.height).toFixed(0)} ms/block (${(100 * ms / total).toFixed(1)}%)`
    o.log(`  profiled run: ${(total / r.height).toFixed(0)} ms CPU per block over ${r.height} blocks, start-up included`)
  } catch (err) { failures.push(`profiled: ${String(err)}`) } finally { await rm(profDir, { recursive: true, force: true }) }
  // Stage breakdown: per stage, the median over all steady-state blocks of all runs (and p90).
  if (results.length === 0) throw new Error(`every devnet run failed: ${failures.join('; ')}`)
  const all = results.flatMap((r) => r.stages)
  const breakdown: Record<string, unknown> = {}
  for (const st of [...STAGES, 'accepted first', 'accepted all']) {
    const xs = all.map((x) => x[st]).filter((v): v is number => v !== undefined)
    breakdown[st] = { p50: round(median(xs), 0), p90: percentile(xs, 90), n: xs.length }
  }
  return [entry('round-latency', metric(results.map((r) => r.p50), 'ms (p50)', 0), { op: '<=', value: TARGET_P50_MS }, {
    roundLatencyP99: metric(results.map((r) => r.p99), 'ms', 0),
    steadyStateP50: metric(results.map((r) => r.steadyP50), `ms (heights > ${WARMUP_HEIGHTS})`, 0),
    blockIntervalP50: metric(results.map((r) => r.intervalP50), 'ms', 0),
    blockIntervalP99: metric(results.map((r) => r.intervalP99), 'ms', 0),
    // All node processes' CPU per block vs wall time per block: ~cpus x wall means the devnet is CPU-bound.
    devnetCpuPerBlock: metric(results.map((r) => r.cpuMsPerBlock), 'ms CPU/block (all nodes)', 0),
    devnetWallPerBlock: metric(results.map((r) => r.wallMsPerBlock), 'ms wall/block', 0),
    ...(gossipOnly.length > 0
      ? {
          referenceGossipOnlyP50: metric(gossipOnly.map((r) => r.p50), 'ms (p50, round messages by gossip only)', 0),
          referenceGossipOnlyCpuPerBlock: metric(gossipOnly.map((r) => r.cpuMsPerBlock), 'ms CPU/block (gossip only)', 0),
          referenceGossipOnlyRoundsPerBlock: metric(gossipOnly.map((r) => r.roundsPerBlock), 'rounds per block (gossip only)', 2)
        }
      : {}),
    ...(reference.length > 0
      ? {
          referenceProcessPerNodeP50: metric(reference.map((r) => r.p50), 'ms (p50, a process per node)', 0),
          referenceProcessPerNodeCpuPerBlock: metric(reference.map((r) => r.cpuMsPerBlock), 'ms CPU/block (a process per node)', 0)
        }
      : {}),
    cpuPerBlockByCause: byCause,
    ...(failures.length > 0 ? { failedRuns: failures.join('; ') } : {}),
    roundsUsed: results.map((r) => JSON.stringify(r.rounds)).join(' '),
    producerStagesMsAfterRoundStart: breakdown
  })]
}

/**
 * silent-committer: the same devnet with validator 3 in the test-only hostile mode silent-reveal (commits
 * every round, never reveals): rounds per block over the steady-state heights, 1.0 = every block in round
 * 0. Reference, interleaved in the same run: the all-honest devnet.
 */
export async function runSilentCommitter (o: BenchOptions): Promise<Entry[]> {
  const runs = o.quick ? 1 : 2
  const silent: RunResult[] = []
  const honest: RunResult[] = []
  const failures: string[] = []
  for (let i = 0; i < runs + 2 && (silent.length < runs || honest.length < runs); i++) {
    try {
      if (silent.length < runs) {
        const r = await devnetOnce(o, i, { hostile: new Map([[3, 'silent-reveal']]) })
        silent.push(r)
        o.log(`  one silent committer: ${r.roundsPerBlock.toFixed(2)} rounds per block, rounds ${JSON.stringify(r.rounds)}`)
      }
      if (honest.length < runs) {
        const r = await devnetOnce(o, i)
        honest.push(r)
        o.log(`  all honest: ${r.roundsPerBlock.toFixed(2)} rounds per block, rounds ${JSON.stringify(r.rounds)}`)
      }
    } catch (err) { failures.push(String(err)) }
  }
  if (silent.length === 0) throw new Error(`every devnet run failed: ${failures.join('; ')}`)
  return [entry('silent-committer', metric(silent.map((r) => r.roundsPerBlock), 'rounds per block (one validator commits, never reveals)', 2), { op: '<=', value: 1.0 }, {
    referenceHonest: metric(honest.map((r) => r.roundsPerBlock), 'rounds per block (all honest)', 2),
    roundsUsed: silent.map((r) => JSON.stringify(r.rounds)).join(' '),
    ...(failures.length > 0 ? { failedRuns: failures.join('; ') } : {})
  })]
}
