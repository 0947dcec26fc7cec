/** Shared helpers for the Node benchmarks: statistics, the cached benchmark chain, result entries. */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Reader, Writer, computeBlockHash, decodeBlock, equals, toHex } from '../src/protocol/index.ts'
import type { Block, ChainState } from '../src/protocol/index.ts'
import { buildChain, buildGenesis, createTestNetwork } from '../test/helpers/chain-builder.ts'
import type { TestNetwork } from '../test/helpers/chain-builder.ts'

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url))
export const OUT_DIR = join(BENCH_DIR, 'out')

/** A target to meet, or `report`: a figure that is measured and reported, with no target. */
export interface Target { op: '>=' | '<=' | 'report'; value: number }

export interface Metric {
  value: number
  unit: string
  /** Individual runs (value is their median). */
  runs: number[]
}

export interface Entry extends Metric {
  name: string
  target: Target
  met: boolean
  /** Supporting measurements (comparisons, ceilings, breakdowns). */
  details?: Record<string, Metric | number | string | Record<string, unknown>>
  /** 1-minute load average before and after the benchmark (the machine is shared: read values with it). */
  loadavg?: { before: number, after: number }
}

export interface BenchOptions {
  quick: boolean
  log: (line: string) => void
  /** Length of the soak benchmark, minutes (default 30, 4 with --quick). */
  soakMinutes?: number
}

export function median (xs: number[]): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

export function round (x: number, digits = 1): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

export function metric (runs: number[], unit: string, digits = 1): Metric {
  return { value: round(median(runs), digits), unit, runs: runs.map((r) => round(r, digits)) }
}

export function entry (name: string, m: Metric, target: Target, details?: Entry['details']): Entry {
  const met = target.op === 'report' ? Number.isFinite(m.value) : target.op === '>=' ? m.value >= target.value : m.value <= target.value
  return { name, ...m, target, met, ...(details !== undefined ? { details } : {}) }
}

/** Lets pending timers / I/O settle and gives GC a chance between timed runs. */
export async function settle (): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 50))
  ;(globalThis as { gc?: () => void }).gc?.()
}

// ---- The benchmark chain: built once with the chain builder (7 signatures per block), cached on disk. ----

const CHAIN_MAGIC = 'lightpulse-bench-chain/v1'
export const CHAIN_LABEL = 'bench'
export const CHAIN_SIGNERS = 7

export interface BenchChain {
  net: TestNetwork
  genesis: Block
  genesisState: ChainState
  blocks: Block[]
  encoded: Uint8Array[]
  /** True when the chain was read from the cache file. */
  cached: boolean
  buildMs: number
}

/**
 * The deterministic benchmark network (16 genesis validators, label "bench") and `count` blocks on top of
 * its genesis, every block signed by 7 of the 11 quorum members. Cached in bench/out/chain-<count>.bin
 * (format: magic, genesis hash, u32 count, count x (u32 length, encoded block)); a cache whose genesis or
 * count does not match is rebuilt. A longer cached chain is reused for a shorter request.
 */
/**
 * The bench chain's first `count` blocks, from bench/out/ when cached there. With `genesisTimestamp` the chain is
 * built afresh and not cached: a chain whose tip must be recent (a checkpoint within the trusting period).
 */
export async function loadBenchChain (count: number, log: (line: string) => void, opts: { genesisTimestamp?: number } = {}): Promise<BenchChain> {
  const net = createTestNetwork({ label: CHAIN_LABEL })
  const g = await buildGenesis(net, opts.genesisTimestamp)
  const genesisHash = computeBlockHash(g.block.header)
  const file = join(OUT_DIR, `chain-${count % 1000 === 0 ? `${count / 1000}k` : count}.bin`)
  const candidates = opts.genesisTimestamp !== undefined ? [] : [...new Set([file, join(OUT_DIR, 'chain-10k.bin')])]
  for (const f of candidates) {
    const encoded = await readCache(f, genesisHash, count)
    if (encoded === undefined) continue
    const blocks = encoded.map(decodeBlock)
    if (!equals(blocks[0]!.header.parentHash, genesisHash)) continue
    log(`  chain: ${count} blocks from ${f.slice(BENCH_DIR.length + 1)}`)
    return { net, genesis: g.block, genesisState: g.state, blocks, encoded, cached: true, buildMs: 0 }
  }
  log(`  chain: building ${count} blocks with the chain builder (${CHAIN_SIGNERS} signatures each${opts.genesisTimestamp === undefined ? '; cached for later runs' : ''})...`)
  const t = performance.now()
  const built = await buildChain(net, g.state, count, () => ({ signers: CHAIN_SIGNERS, unsignedRoundMessages: true }))
  const buildMs = performance.now() - t
  log(`  chain: built in ${(buildMs / 1000).toFixed(1)} s`)
  if (opts.genesisTimestamp === undefined) await writeCache(file, genesisHash, built.encoded)
  return { net, genesis: g.block, genesisState: g.state, blocks: built.blocks, encoded: built.encoded, cached: false, buildMs }
}

async function readCache (file: string, genesisHash: Uint8Array, count: number): Promise<Uint8Array[] | undefined> {
  let bytes: Uint8Array
  try { bytes = new Uint8Array(await readFile(file)) } catch { return undefined }
  try {
    const r = new Reader(bytes, 'bench-chain')
    const magic = new TextDecoder().decode(r.fixed(CHAIN_MAGIC.length, 'magic'))
    if (magic !== CHAIN_MAGIC) return undefined
    if (toHex(r.fixed(32, 'genesis')) !== toHex(genesisHash)) return undefined
    const n = r.u32('count')
    if (n < count) return undefined
    const out: Uint8Array[] = []
    for (let i = 0; i < count; i++) out.push(r.fixed(r.u32('len'), 'block'))
    return out
  } catch {
    return undefined
  }
}

async function writeCache (file: string, genesisHash: Uint8Array, encoded: Uint8Array[]): Promise<void> {
  await mkdir(dirname(file), { recursive: true })
  const w = new Writer(64 + encoded.reduce((n, b) => n + 4 + b.length, 0))
  w.raw(new TextEncoder().encode(CHAIN_MAGIC)).fixed(genesisHash, 32).u32(encoded.length)
  for (const b of encoded) w.u32(b.length).raw(b)
  const tmp = `${file}.tmp-${process.pid}`
  await writeFile(tmp, w.finish())
  await rename(tmp, file)
}
