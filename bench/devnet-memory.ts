/**
 * devnet-memory: the resident memory of what `npm start` runs (`lightpulse devnet`: 16 validators, 2
 * bootstraps, 5 release signers, the browser peer's page server), summed over its whole process tree
 * and sampled every second from start until height MEMORY_HEIGHT is final; the figure is the peak.
 * Reference in the same run: the same devnet with one process per validator (`--process-per-node`, what
 * the crash tests use and every node ran before). Linux only (/proc).
 */
import { spawn } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import { BENCH_DIR, entry, metric } from './common.ts'
import type { BenchOptions, Entry } from './common.ts'

export const TARGET_MIB = 1024
const MEMORY_HEIGHT = 15
const CLI = join(BENCH_DIR, '..', 'src', 'node', 'cli.ts')

/** pid -> [ppid, rss KiB] for every process (Linux /proc). */
async function processTable (): Promise<Map<number, [number, number]>> {
  const out = new Map<number, [number, number]>()
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const status = await readFile(`/proc/${d}/status`, 'utf8')
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1] ?? -1)
      const rss = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0)
      out.set(Number(d), [ppid, rss])
    } catch { /* exited meanwhile */ }
  }
  return out
}

/** Resident memory of `root` and all its descendants, MiB, and how many processes that is. */
export async function treeRssMiB (root: number): Promise<{ mib: number, processes: number }> {
  const table = await processTable()
  const inTree = new Set([root])
  for (let grew = true; grew;) {
    grew = false
    for (const [pid, [ppid]] of table) if (!inTree.has(pid) && inTree.has(ppid)) { inTree.add(pid); grew = true }
  }
  let kib = 0
  for (const pid of inTree) kib += table.get(pid)?.[1] ?? 0
  return { mib: kib / 1024, processes: inTree.size }
}

interface MemoryRun { peakMiB: number, peakProcesses: number, steadyMiB: number }

async function devnetMemoryOnce (o: BenchOptions, extra: string[]): Promise<MemoryRun> {
  const proc = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', CLI, 'devnet', '--port', '0', ...extra], { stdio: ['ignore', 'ignore', 'pipe'] })
  let height = -1
  const lines: string[] = []
  createInterface({ input: proc.stderr }).on('line', (l) => {
    lines.push(l); if (lines.length > 30) lines.shift()
    const m = /^block (\d+) /.exec(l)
    if (m !== null) height = Number(m[1])
  })
  const exited = new Promise<void>((resolve) => { proc.once('exit', () => { resolve() }) })
  let peak = { mib: 0, processes: 0 }
  let last = { mib: 0, processes: 0 }
  const deadline = Date.now() + 240_000
  try {
    while (height < MEMORY_HEIGHT) {
      if (proc.exitCode !== null) throw new Error(`devnet exited (${proc.exitCode}): ${lines.slice(-5).join(' | ')}`)
      if (Date.now() > deadline) throw new Error(`devnet did not reach height ${MEMORY_HEIGHT} in 240 s (at ${height})`)
      last = await treeRssMiB(proc.pid!)
      if (last.mib > peak.mib) peak = last
      await new Promise((resolve) => setTimeout(resolve, 1_000))
    }
  } finally {
    proc.kill('SIGTERM')
    const t = setTimeout(() => { proc.kill('SIGKILL') }, 15_000)
    await exited
    clearTimeout(t)
  }
  o.log(`    ${extra.join(' ') || 'default'}: peak ${peak.mib.toFixed(0)} MiB over ${peak.processes} processes; at height ${MEMORY_HEIGHT} ${last.mib.toFixed(0)} MiB over ${last.processes}`)
  return { peakMiB: peak.mib, peakProcesses: peak.processes, steadyMiB: last.mib }
}

export async function runDevnetMemory (o: BenchOptions): Promise<Entry[]> {
  if (process.platform !== 'linux') { o.log('  devnet-memory: skipped (needs Linux /proc)'); return [] }
  const runs = o.quick ? 1 : 3
  const grouped: MemoryRun[] = []
  const perNode: MemoryRun[] = []
  // Interleaved, so a machine that gets busier during the benchmark weighs on both alike.
  for (let i = 0; i < runs; i++) {
    o.log(`  run ${i + 1}/${runs}`)
    grouped.push(await devnetMemoryOnce(o, []))
    if (i < Math.max(1, runs - 1)) perNode.push(await devnetMemoryOnce(o, ['--process-per-node']))
  }
  return [entry('devnet-memory', metric(grouped.map((r) => r.peakMiB), 'MiB peak RSS (npm start, process tree)', 0), { op: '<=', value: TARGET_MIB }, {
    atHeight15: metric(grouped.map((r) => r.steadyMiB), `MiB at height ${MEMORY_HEIGHT}`, 0),
    processes: grouped[0]!.peakProcesses,
    referenceProcessPerNode: metric(perNode.map((r) => r.peakMiB), 'MiB peak RSS (--process-per-node)', 0),
    referenceProcesses: perNode[0]!.peakProcesses
  })]
}
