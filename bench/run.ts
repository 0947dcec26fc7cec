/**
 * Node benchmarks: `npm run bench` (= node bench/run.ts) [--only NAME[,NAME]] [--quick]
 * Prints a table and merges the results into bench/results.json under the "node" key (other keys, e.g.
 * browser or launch-scale results, are kept; with --only, the other Node benchmarks' previous results too).
 */
import { parseArgs } from 'node:util'
import { cpus, loadavg, totalmem } from 'node:os'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BENCH_DIR } from './common.ts'
import type { BenchOptions, Entry, Metric } from './common.ts'
import { runBlockVerify } from './block-verify.ts'
import { runSyncCatchup } from './sync-catchup.ts'
import { runRoundLatency, runSilentCommitter } from './round-latency.ts'
import { runDevnetMemory } from './devnet-memory.ts'
import { runPackageBench } from './package.ts'
import { runConnectionFlood } from './connection-flood.ts'
import { runProofs } from './proofs.ts'
import { runGossipFlood } from './gossip-flood.ts'
import { runSyncStorm } from './sync-storm.ts'
import { runSoak } from './soak.ts'
import { runBytesPerHour } from './bytes-per-hour.ts'
import { runBrowserBench, writeBrowserResults } from './browser.ts'
import { runLaunchBench, writeLaunchResults } from './launch.ts'

const BENCHMARKS: Record<string, (o: BenchOptions) => Promise<Entry[]>> = {
  'block-verify': runBlockVerify,
  'sync-catchup': runSyncCatchup,
  'round-latency': runRoundLatency,
  'devnet-memory': runDevnetMemory,
  'silent-committer': runSilentCommitter,
  package: runPackageBench,
  'connection-flood': runConnectionFlood,
  proofs: runProofs,
  'gossip-flood': runGossipFlood,
  'sync-storm': runSyncStorm,
  soak: runSoak,
  'bytes-per-hour': runBytesPerHour
}

/** Benchmark groups that keep their own key in results.json (run after the Node ones). */
const GROUPS: Record<string, { run: (o: BenchOptions) => Promise<Entry[]>, write: (e: Entry[], quick: boolean) => Promise<void> }> = {
  browser: { run: runBrowserBench, write: async (e, q) => { await writeBrowserResults(e, q) } },
  launch: { run: runLaunchBench, write: writeLaunchResults }
}

const RESULTS = join(BENCH_DIR, 'results.json')

function usage (): string {
  return `usage: node bench/run.ts [--only ${[...Object.keys(BENCHMARKS), ...Object.keys(GROUPS)].join('|')}[,...]] [--quick] [--no-write] [--soak-minutes N]`
}

function machine (): Record<string, unknown> {
  const c = cpus()
  return {
    cpus: c.length,
    cpuModel: c[0]?.model ?? 'unknown',
    memGiB: Math.round(totalmem() / 2 ** 30 * 10) / 10,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
    date: new Date().toISOString()
  }
}

function fmt (v: number): string {
  return Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : String(v)
}

function isMetric (x: unknown): x is Metric {
  return typeof x === 'object' && x !== null && 'value' in x && 'unit' in x && 'runs' in x
}

function printTable (entries: Entry[]): void {
  const rows: string[][] = [['benchmark', 'value (median)', 'target', 'met', 'runs']]
  for (const e of entries) {
    rows.push([e.name, `${fmt(e.value)} ${e.unit}`, e.target.op === 'report' ? 'measured' : `${e.target.op} ${fmt(e.target.value)}`, e.target.op === 'report' ? '-' : e.met ? 'yes' : 'NO', e.runs.map(fmt).join(', ')])
    if (e.loadavg !== undefined) rows.push(['  load average (1 min)', `${e.loadavg.before} -> ${e.loadavg.after}`, '', '', ''])
    for (const [k, d] of Object.entries(e.details ?? {})) {
      if (isMetric(d)) rows.push([`  ${k}`, `${fmt(d.value)} ${d.unit}`, '', '', d.runs.map(fmt).join(', ')])
      else if (typeof d === 'number' || typeof d === 'string') rows.push([`  ${k}`, String(d), '', '', ''])
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()
  console.log(line(rows[0]!))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const r of rows.slice(1)) console.log(line(r))
  // Non-scalar details (e.g. stage breakdowns) after the table.
  for (const e of entries) {
    for (const [k, d] of Object.entries(e.details ?? {})) {
      if (!isMetric(d) && typeof d === 'object') console.log(`\n${e.name} ${k}:\n${JSON.stringify(d, null, 2)}`)
    }
  }
}

async function writeResults (entries: Entry[], quick: boolean): Promise<void> {
  let all: Record<string, unknown> = {}
  try { all = JSON.parse(await readFile(RESULTS, 'utf8')) as Record<string, unknown> } catch { /* first run */ }
  const prev = (typeof all.node === 'object' && all.node !== null ? all.node : {}) as { benchmarks?: Record<string, unknown> }
  const benchmarks: Record<string, unknown> = { ...(prev.benchmarks ?? {}) }
  for (const e of entries) benchmarks[e.name] = { ...e, quick, measuredAt: new Date().toISOString() }
  all.node = { machine: machine(), benchmarks }
  const tmp = `${RESULTS}.tmp-${process.pid}`
  await writeFile(tmp, JSON.stringify(all, null, 2) + '\n')
  await rename(tmp, RESULTS)
}

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { only: { type: 'string' }, quick: { type: 'boolean' }, 'no-write': { type: 'boolean' }, 'soak-minutes': { type: 'string' }, help: { type: 'boolean' } } })
  if (values.help === true) { console.log(usage()); return }
  const all = values.only !== undefined ? values.only.split(',').map((s) => s.trim()).filter(Boolean) : [...Object.keys(BENCHMARKS), ...Object.keys(GROUPS)]
  for (const n of all) if (BENCHMARKS[n] === undefined && GROUPS[n] === undefined) { console.error(`unknown benchmark "${n}"\n${usage()}`); process.exitCode = 2; return }
  const names = all.filter((n) => BENCHMARKS[n] !== undefined)
  const groups = all.filter((n) => GROUPS[n] !== undefined)
  const quick = values.quick === true
  const m = machine()
  console.log(`lightpulse node benchmarks${quick ? ' (--quick)' : ''}: ${m.cpus} x ${m.cpuModel as string}, node ${m.node as string}, load ${(m.loadavg as number[]).join(' ')}`)
  const soak = values['soak-minutes'] !== undefined ? Number(values['soak-minutes']) : undefined
  if (soak !== undefined && !(soak >= 2 && soak <= 24 * 60)) { console.error(`--soak-minutes must be between 2 and 1440\n${usage()}`); process.exitCode = 2; return }
  const o: BenchOptions = { quick, log: (line) => { process.stderr.write(line + '\n') }, ...(soak !== undefined ? { soakMinutes: soak } : {}) }
  const entries: Entry[] = []
  const failed: string[] = []
  for (const n of names) {
    o.log(`\n[${n}]`)
    const t = performance.now()
    const before = loadavg()[0]!
    let got: Entry[]
    try {
      got = await BENCHMARKS[n]!(o)
    } catch (err) {
      // Keep going with the other benchmarks; the failure is reported (and recorded) as a failed entry.
      o.log(`  FAILED: ${String(err)}`)
      failed.push(n)
      got = [{ name: n, value: NaN, unit: '', runs: [], target: { op: '>=', value: NaN }, met: false, details: { error: String(err) } }]
    }
    for (const e of got) e.loadavg = { before: Math.round(before * 100) / 100, after: Math.round(loadavg()[0]! * 100) / 100 }
    entries.push(...got)
    o.log(`  (${((performance.now() - t) / 1000).toFixed(0)} s)`)
  }
  if (names.length > 0 && values['no-write'] !== true) await writeResults(entries, quick)
  for (const g of groups) {
    o.log(`\n[${g}]`)
    const before = loadavg()[0]!
    try {
      const got = await GROUPS[g]!.run(o)
      for (const e of got) e.loadavg = { before: Math.round(before * 100) / 100, after: Math.round(loadavg()[0]! * 100) / 100 }
      if (values['no-write'] !== true) await GROUPS[g]!.write(got, quick)
      entries.push(...got)
    } catch (err) {
      o.log(`  FAILED: ${String(err)}`)
      failed.push(g)
    }
  }
  console.log('')
  printTable(entries)
  if (values['no-write'] !== true) console.log(`\nwrote ${RESULTS}`)
  if (failed.length > 0) process.exitCode = 1
}

await main()
