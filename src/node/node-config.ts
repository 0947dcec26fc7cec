/**
 * Operational settings of a bootstrap or validator: connection watermarks, gossipsub heartbeat and mesh
 * degrees, metrics port. From a JSON file (`--config FILE`) and/or flags (flags win), validated with coded
 * errors (ConfigError: CONFIG_MISSING / CONFIG_INVALID, message carrying the offending values).
 *
 * JSON file (every key optional; unknown keys are an error so typos do not pass silently):
 *   { "lowWatermark": 160, "highWatermark": 192, "gracePeriodMs": 60000,
 *     "heartbeatMs": 700, "meshD": 8, "meshDlo": 6, "meshDhi": 12, "metricsPort": 9464,
 *     "pxHistory": 8, "pxHistorySize": 4096,
 *     "syncRequestsPerSecond": 20, "syncStreams": 4, "syncBytesPerSecond": 4194304 }
 * pxHistory / pxHistorySize matter on bootstraps only (src/peer/px-history.ts); the sync* keys are the
 * per-peer budgets of the sync server (src/peer/sync-budget.ts).
 */
import { readFile } from 'node:fs/promises'
import { ConfigError } from './files.ts'
import { DEFAULT_MESH } from '../peer/gossip-config.ts'
import type { MeshParams } from '../peer/gossip-config.ts'
import { DEFAULT_GRACE_MS } from '../peer/connection-trimmer.ts'
import { DEFAULT_PX_HISTORY } from '../peer/px-history.ts'
import type { PxHistoryParams } from '../peer/px-history.ts'
import type { SyncBudgetLimits } from '../peer/sync-budget.ts'

export interface OpsConfig {
  lowWatermark: number
  highWatermark: number
  gracePeriodMs: number
  /** Only the mesh settings given explicitly (the rest stay at the role's defaults). */
  mesh: Partial<MeshParams>
  metricsPort?: number
  /** Bootstraps: PX entries per PRUNE from the history cache, and its size. */
  pxHistory: PxHistoryParams
  /** Per-peer sync server budgets given explicitly (the rest stay at DEFAULT_SYNC_BUDGET). */
  syncBudget: Partial<SyncBudgetLimits>
}

/** Quilibrium's later defaults for bootstraps (160/192); validators keep fewer. */
export const DEFAULT_WATERMARKS: Record<'bootstrap' | 'validator', { low: number, high: number }> = {
  bootstrap: { low: 160, high: 192 },
  validator: { low: 48, high: 64 }
}

const FILE_KEYS: Record<string, [min: number, max: number]> = {
  lowWatermark: [0, 1_000_000],
  highWatermark: [1, 1_000_000],
  gracePeriodMs: [0, 3_600_000],
  heartbeatMs: [50, 60_000],
  meshD: [1, 64],
  meshDlo: [1, 64],
  meshDhi: [1, 128],
  metricsPort: [0, 65_535],
  pxHistory: [0, 64],
  pxHistorySize: [1, 1_000_000],
  syncRequestsPerSecond: [1, 10_000],
  syncStreams: [1, 64],
  syncBytesPerSecond: [65_536, 1_073_741_824]
}

const FLAG_OF: Record<string, string> = {
  lowWatermark: '--low-watermark',
  highWatermark: '--high-watermark',
  gracePeriodMs: '--grace-period-ms',
  heartbeatMs: '--heartbeat-ms',
  meshD: '--mesh-d',
  meshDlo: '--mesh-dlo',
  meshDhi: '--mesh-dhi',
  metricsPort: '--metrics-port',
  pxHistory: '--px-history',
  pxHistorySize: '--px-history-size',
  syncRequestsPerSecond: '--sync-rps',
  syncStreams: '--sync-streams',
  syncBytesPerSecond: '--sync-bytes-per-s'
}

/** Flag values as parsed by node:util parseArgs (strings). */
export interface OpsFlags {
  config?: string
  'low-watermark'?: string
  'high-watermark'?: string
  'max-connections'?: string
  'grace-period-ms'?: string
  'heartbeat-ms'?: string
  'mesh-d'?: string
  'mesh-dlo'?: string
  'mesh-dhi'?: string
  'metrics-port'?: string
  'px-history'?: string
  'px-history-size'?: string
  'sync-rps'?: string
  'sync-streams'?: string
  'sync-bytes-per-s'?: string
}

function checkInt (name: string, v: unknown, source: string): number {
  const [min, max] = FILE_KEYS[name]!
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError('CONFIG_INVALID', `${source === 'flag' ? FLAG_OF[name] : `"${name}" in ${source}`} must be an integer in ${min}..${max} (got ${JSON.stringify(v)})`)
  }
  return n
}

export async function loadOpsFile (path: string): Promise<Record<string, number>> {
  let text: string
  try { text = await readFile(path, 'utf8') } catch { throw new ConfigError('CONFIG_MISSING', `config file not found: ${path}`) }
  let obj: unknown
  try { obj = JSON.parse(text) } catch (err) { throw new ConfigError('CONFIG_INVALID', `config file ${path} is not valid JSON: ${(err as Error).message}`) }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new ConfigError('CONFIG_INVALID', `config file ${path} must hold a JSON object`)
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(obj)) {
    if (!(k in FILE_KEYS)) throw new ConfigError('CONFIG_INVALID', `unknown key "${k}" in ${path} (known: ${Object.keys(FILE_KEYS).join(', ')})`)
    out[k] = checkInt(k, v, path)
  }
  return out
}

/** Merges defaults < config file < flags and validates the whole. */
export async function resolveOpsConfig (role: 'bootstrap' | 'validator', flags: OpsFlags): Promise<OpsConfig> {
  const file = flags.config !== undefined ? await loadOpsFile(flags.config) : {}
  const v: Record<string, number> = { ...file }
  const fromFlag: Array<[keyof OpsFlags, string]> = [
    ['low-watermark', 'lowWatermark'], ['high-watermark', 'highWatermark'], ['grace-period-ms', 'gracePeriodMs'],
    ['heartbeat-ms', 'heartbeatMs'], ['mesh-d', 'meshD'], ['mesh-dlo', 'meshDlo'], ['mesh-dhi', 'meshDhi'], ['metrics-port', 'metricsPort'],
    ['px-history', 'pxHistory'], ['px-history-size', 'pxHistorySize'],
    ['sync-rps', 'syncRequestsPerSecond'], ['sync-streams', 'syncStreams'], ['sync-bytes-per-s', 'syncBytesPerSecond']
  ]
  for (const [flag, key] of fromFlag) if (flags[flag] !== undefined) v[key] = checkInt(key, flags[flag], 'flag')
  // --max-connections is the older name of --high-watermark.
  if (flags['max-connections'] !== undefined) {
    const n = checkInt('highWatermark', flags['max-connections'], 'flag')
    if (flags['high-watermark'] !== undefined && v.highWatermark !== n) {
      throw new ConfigError('CONFIG_INVALID', `--max-connections (${n}) and --high-watermark (${v.highWatermark}) disagree; --max-connections is the old name of --high-watermark, give one`)
    }
    v.highWatermark = n
  }
  const def = DEFAULT_WATERMARKS[role]
  let high = v.highWatermark ?? def.high
  let low = v.lowWatermark
  if (low === undefined) {
    // Only the high mark given: keep go-libp2p's proportion (160/192).
    low = v.highWatermark !== undefined ? Math.floor(high * 5 / 6) : def.low
  }
  if (v.lowWatermark !== undefined && v.highWatermark === undefined && low >= high) high = Math.ceil(low * 6 / 5) + 1
  if (low >= high) throw new ConfigError('CONFIG_INVALID', `the low watermark must be below the high watermark (got low=${low} high=${high})`)
  const mesh: Partial<MeshParams> = {}
  if (v.meshD !== undefined) mesh.D = v.meshD
  if (v.meshDlo !== undefined) mesh.Dlo = v.meshDlo
  if (v.meshDhi !== undefined) mesh.Dhi = v.meshDhi
  if (v.heartbeatMs !== undefined) mesh.heartbeatMs = v.heartbeatMs
  const m = { ...DEFAULT_MESH, ...mesh }
  if (!(m.Dlo <= m.D && m.D <= m.Dhi)) throw new ConfigError('CONFIG_INVALID', `mesh degrees must satisfy Dlo <= D <= Dhi (got Dlo=${m.Dlo} D=${m.D} Dhi=${m.Dhi})`)
  const pxHistory = { fromHistory: v.pxHistory ?? DEFAULT_PX_HISTORY.fromHistory, size: v.pxHistorySize ?? DEFAULT_PX_HISTORY.size }
  if (pxHistory.fromHistory > m.prunePeers) throw new ConfigError('CONFIG_INVALID', `--px-history (${pxHistory.fromHistory}) cannot exceed the PX list size (${m.prunePeers})`)
  const syncBudget: Partial<SyncBudgetLimits> = {}
  if (v.syncRequestsPerSecond !== undefined) { syncBudget.requestsPerSecond = v.syncRequestsPerSecond; syncBudget.requestBurst = 2 * v.syncRequestsPerSecond }
  if (v.syncStreams !== undefined) syncBudget.concurrentStreams = v.syncStreams
  if (v.syncBytesPerSecond !== undefined) { syncBudget.bytesPerSecond = v.syncBytesPerSecond; syncBudget.byteBurst = 2 * v.syncBytesPerSecond }
  return { lowWatermark: low, highWatermark: high, gracePeriodMs: v.gracePeriodMs ?? DEFAULT_GRACE_MS, mesh, pxHistory, syncBudget, ...(v.metricsPort !== undefined ? { metricsPort: v.metricsPort } : {}) }
}
