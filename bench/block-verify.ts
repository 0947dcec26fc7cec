/**
 * block-verify: how fast Node verifies blocks with 7 signatures each.
 * - processBlocks (the sync path: every block's signature checks in flight at once) over ~2,000 blocks;
 * - processBlock one block at a time (the gossip path), for comparison;
 * - the ceiling: node:crypto Ed25519 verifies alone (same keys, messages and signatures, all in flight),
 *   expressed as blocks/s at 7 verifies per block; plus a single-thread synchronous figure.
 */
import { verify as nodeVerify } from 'node:crypto'
import { blockSigningMessage, computeBlockHash, computeNextQuorum, processBlock, processBlocks } from '../src/protocol/index.ts'
import type { Block, ChainState } from '../src/protocol/index.ts'
import { createNodeVerifier } from '../src/crypto/node.ts'
import { createPublicKey } from 'node:crypto'
import { availableParallelism } from 'node:os'
import type { KeyObject } from 'node:crypto'
import { concat } from '../src/protocol/bytes.ts'
import { entry, loadBenchChain, metric, settle } from './common.ts'
import type { BenchOptions, Entry } from './common.ts'

export const BLOCKS = 2_000
export const TARGET_BLOCKS_PER_S = 1_200

const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00])

interface Sig { key: KeyObject, msg: Uint8Array, sig: Uint8Array }

/** CPU time of the whole process (main thread + libuv pool threads), µs. */
function cpuNow (): number {
  const u = process.cpuUsage()
  return u.user + u.system
}

interface Timed { perS: number, cpuUs: number }

async function timeProcessBlocks (genesis: ChainState, blocks: Block[]): Promise<Timed> {
  const verifier = createNodeVerifier()
  const c = cpuNow()
  const t = performance.now()
  const { states } = await processBlocks(genesis, blocks, { verifier })
  const ms = performance.now() - t
  const cpuUs = cpuNow() - c
  if (states[states.length - 1]!.tip.header.height !== blocks.length) throw new Error('processBlocks did not reach the last block')
  return { perS: blocks.length / (ms / 1000), cpuUs: cpuUs / blocks.length }
}

async function timeProcessBlock (genesis: ChainState, blocks: Block[]): Promise<number> {
  const verifier = createNodeVerifier()
  let s = genesis
  const t = performance.now()
  for (const b of blocks) s = (await processBlock(s, b, { verifier })).state
  const ms = performance.now() - t
  if (s.tip.header.height !== blocks.length) throw new Error('processBlock did not reach the last block')
  return blocks.length / (ms / 1000)
}

/** The exact (key, message, signature) triples the chain's blocks carry, keys pre-parsed. */
function collectSignatures (genesis: ChainState, blocks: Block[], states: ChainState[]): Sig[] {
  const keys = new Map<string, KeyObject>()
  const keyOf = (pk: Uint8Array): KeyObject => {
    const id = Buffer.from(pk).toString('hex')
    let k = keys.get(id)
    if (k === undefined) { k = createPublicKey({ key: Buffer.from(concat(SPKI_PREFIX, pk)), format: 'der', type: 'spki' }); keys.set(id, k) }
    return k
  }
  const out: Sig[] = []
  blocks.forEach((b, i) => {
    const before = i === 0 ? genesis : states[i - 1]!
    const quorum = computeNextQuorum(before, b.header.round)
    const msg = blockSigningMessage(before.networkId, computeBlockHash(b.header))
    for (const s of b.signatures) out.push({ key: keyOf(quorum.validators[s.index]!), msg, sig: s.signature })
  })
  return out
}

/** All verifies in flight at once on libuv's pool (what processBlocks can at best achieve). Per verify. */
async function timeRawAsync (sigs: Sig[]): Promise<Timed> {
  const c = cpuNow()
  const t = performance.now()
  const ok = await Promise.all(sigs.map(async (s) => await new Promise<boolean>((resolve) => {
    nodeVerify(null, s.msg, s.key, s.sig, (err, v) => { resolve(err == null && v) })
  })))
  const ms = performance.now() - t
  const cpuUs = cpuNow() - c
  if (!ok.every(Boolean)) throw new Error('a signature failed to verify')
  return { perS: sigs.length / (ms / 1000), cpuUs: cpuUs / sigs.length }
}

/** Synchronous verifies on the main thread only (one core). Returns verifies/s. */
function timeRawSync (sigs: Sig[]): number {
  const t = performance.now()
  for (const s of sigs) if (!nodeVerify(null, s.msg, s.key, s.sig)) throw new Error('a signature failed to verify')
  return sigs.length / ((performance.now() - t) / 1000)
}

export async function runBlockVerify (o: BenchOptions): Promise<Entry[]> {
  const runs = o.quick ? 3 : 5
  const chain = await loadBenchChain(10_000, o.log)
  const blocks = chain.blocks.slice(0, BLOCKS)
  const genesis = chain.genesisState
  const sigsPerBlock = blocks.reduce((n, b) => n + b.signatures.length, 0) / blocks.length

  o.log(`  warm-up (processBlocks over ${blocks.length} blocks, not counted)`)
  const { states } = await processBlocks(genesis, blocks, { verifier: createNodeVerifier() })
  const sigs = collectSignatures(genesis, blocks, states)
  await timeRawAsync(sigs.slice(0, 2_000))

  const pipelined: Timed[] = []
  const sequential: number[] = []
  const rawAsync: Timed[] = []
  const rawSync: number[] = []
  for (let i = 0; i < runs; i++) {
    // Interleave the variants so machine noise hits them alike; the ratio is taken per run (paired).
    await settle(); pipelined.push(await timeProcessBlocks(genesis, blocks))
    await settle(); rawAsync.push(await timeRawAsync(sigs))
    await settle(); sequential.push(await timeProcessBlock(genesis, blocks))
    await settle(); rawSync.push(timeRawSync(sigs.slice(0, 7 * 500)))
    o.log(`  run ${i + 1}/${runs}: processBlocks ${pipelined[i]!.perS.toFixed(0)} blocks/s, processBlock ${sequential[i]!.toFixed(0)} blocks/s, ` +
      `raw ${rawAsync[i]!.perS.toFixed(0)} verifies/s (${(rawAsync[i]!.perS / sigsPerBlock).toFixed(0)} blocks/s), sync ${rawSync[i]!.toFixed(0)} verifies/s`)
  }
  const main = metric(pipelined.map((r) => r.perS), 'blocks/s', 0)
  const cpus = availableParallelism()
  const ceiling = metric(rawAsync.map((r) => r.perS / sigsPerBlock), 'blocks/s', 0)
  return [entry('block-verify', main, { op: '>=', value: TARGET_BLOCKS_PER_S }, {
    blocks: blocks.length,
    signaturesPerBlock: sigsPerBlock,
    sequentialProcessBlock: metric(sequential, 'blocks/s', 0),
    ceilingVerifiesPerS: metric(rawAsync.map((r) => r.perS), 'verifies/s', 0),
    ceilingBlocksPerS: ceiling,
    ratioToCeiling: metric(pipelined.map((r, i) => r.perS / (rawAsync[i]!.perS / sigsPerBlock)), 'x (paired per run)', 2),
    // CPU time (all threads) is far less sensitive to other load on the machine than wall time.
    cpuPerBlockProcessBlocks: metric(pipelined.map((r) => r.cpuUs), 'µs CPU/block', 0),
    cpuPerBlockRawVerifies: metric(rawAsync.map((r) => r.cpuUs * sigsPerBlock), 'µs CPU/block', 0),
    cpuEfficiencyVsRaw: metric(pipelined.map((r, i) => rawAsync[i]!.cpuUs * sigsPerBlock / r.cpuUs), 'x (raw CPU / processBlocks CPU)', 2),
    // What the CPU cost allows with every core free (wall-clock figures above suffer from other load).
    idleMachineEstimate: metric(pipelined.map((r) => cpus * 1e6 / r.cpuUs), `blocks/s (${cpus} cores / CPU per block)`, 0),
    idleMachineCeiling: metric(rawAsync.map((r) => cpus * 1e6 / (r.cpuUs * sigsPerBlock)), `blocks/s (${cpus} cores / raw CPU per block)`, 0),
    singleThreadSyncVerifiesPerS: metric(rawSync, 'verifies/s', 0)
  })]
}
