/**
 * sync-catchup: a fresh node catches up 10,000 blocks from a peer over real libp2p (TCP + noise + yamux on
 * 127.0.0.1), verifying every block (pipelined, processBlocks) and storing it in SQLite.
 *
 * The serving node is a real node (startNode) whose SQLite store was filled the way ChainService fills it
 * (acceptGenesis + acceptBatch: blocks and a checkpoint per transaction); it is kept in bench/out and reused
 * while the cached chain is unchanged. Each run starts a fresh node with an empty SQLite store, dials the
 * server, and the Peer syncs on identify. Timed: dial -> the fresh node's 'block' event for height 10,000.
 * Both nodes run in this one process (the server's work is small: reading and sending stored blocks).
 */
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { startNode } from '../src/node/node.ts'
import type { RunningNode } from '../src/node/node.ts'
import { openSqliteStore } from '../src/storage/sqlite-store.ts'
import { ChainService } from '../src/peer/chain-service.ts'
import { Emitter } from '../src/peer/events.ts'
import type { PeerEvents } from '../src/peer/events.ts'
import { systemClock } from '../src/peer/clock.ts'
import { silentLogger } from '../src/peer/logger.ts'
import { createNodeVerifier } from '../src/crypto/node.ts'
import { MAX_SYNC_BATCH, computeBlockHash, toHex } from '../src/protocol/index.ts'
import { OUT_DIR, entry, loadBenchChain, metric, settle } from './common.ts'
import type { BenchChain, BenchOptions, Entry } from './common.ts'

export const SYNC_BLOCKS = 10_000
export const TARGET_BLOCKS_PER_S = 1_000

/** Fills (or reuses) the server's data directory: genesis + SYNC_BLOCKS blocks in SQLite, as ChainService writes them. */
async function prepareServerDir (chain: BenchChain, log: (line: string) => void): Promise<string> {
  const dir = join(OUT_DIR, `sync-server-${toHex(computeBlockHash(chain.genesis.header)).slice(0, 12)}`)
  const store = await openSqliteStore(join(dir, 'chain'))
  try {
    const tip = await store.getTipHeight()
    if (tip === SYNC_BLOCKS && (await store.getCheckpoint()) !== undefined) {
      log(`  server store: reusing ${dir.slice(OUT_DIR.length - 3)}`)
      return dir
    }
    await store.clearChain()
    log(`  server store: filling ${SYNC_BLOCKS} blocks through ChainService (verified, batches of ${MAX_SYNC_BATCH})...`)
    const t = performance.now()
    const cs = new ChainService({ network: chain.net.config, store, verifier: createNodeVerifier(), clock: systemClock, log: silentLogger, events: new Emitter<PeerEvents>() })
    await cs.acceptGenesis(chain.genesis)
    for (let i = 0; i < SYNC_BLOCKS; i += MAX_SYNC_BATCH) await cs.acceptBatch(chain.blocks.slice(i, i + MAX_SYNC_BATCH))
    if (cs.height !== SYNC_BLOCKS || cs.storageError !== undefined) throw new Error(`server store filled to ${cs.height} (${String(cs.storageError)})`)
    log(`  server store: filled in ${((performance.now() - t) / 1000).toFixed(1)} s`)
    return dir
  } finally {
    await store.close()
  }
}

interface RunResult { blocksPerS: number, totalMs: number, firstBlockMs: number, acceptMs: number, fetchMs: number, batches: number }

async function syncOnce (chain: BenchChain, server: RunningNode, run: number): Promise<RunResult> {
  const dir = join(OUT_DIR, `sync-fresh-${process.pid}-${run}`)
  await rm(dir, { recursive: true, force: true })
  const fresh = await startNode({ role: 'validator', network: chain.net.config, dataDir: dir, bootstraps: [], listen: ['/ip4/127.0.0.1/tcp/0'], local: true })
  try {
    if (fresh.peer.chain.height !== -1) throw new Error('fresh node is not empty')
    // Instrument (on this instance only) how long verification+storage and block fetching take.
    let acceptMs = 0
    let fetchMs = 0
    let batches = 0
    const chainSvc = fresh.peer.chain
    const acceptBatch = chainSvc.acceptBatch.bind(chainSvc)
    chainSvc.acceptBatch = async (blocks) => { const t = performance.now(); try { return await acceptBatch(blocks) } finally { acceptMs += performance.now() - t; batches++ } }
    const syncSvc = fresh.peer.sync
    const fetchBlocks = syncSvc.blocks.bind(syncSvc)
    syncSvc.blocks = async (peer, from, count) => { const t = performance.now(); try { return await fetchBlocks(peer, from, count) } finally { fetchMs += performance.now() - t } }

    let firstBlockAt = 0
    const done = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`sync did not reach ${SYNC_BLOCKS} within 300 s (height ${fresh.peer.chain.height})`)) }, 300_000)
      fresh.peer.events.on('block', (b) => {
        if (firstBlockAt === 0) firstBlockAt = performance.now()
        if (b.height >= SYNC_BLOCKS) { clearTimeout(timer); resolve(performance.now()) }
      })
      fresh.peer.events.on('error', (e) => { clearTimeout(timer); reject(new Error(`fresh node error: ${e.code} ${e.message}`)) })
    })
    const addr = server.addrs().find((a) => a.includes('/tcp/') && !a.includes('/ws'))!
    const t0 = performance.now()
    await fresh.peer.libp2p.dial(multiaddr(addr))
    const end = await done
    const totalMs = end - t0
    if (toHex(fresh.peer.chain.state!.tip.hash) !== toHex(server.peer.chain.state!.tip.hash)) throw new Error('fresh node synced to a different tip')
    return { blocksPerS: SYNC_BLOCKS / (totalMs / 1000), totalMs, firstBlockMs: firstBlockAt - t0, acceptMs, fetchMs, batches }
  } finally {
    await fresh.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

export async function runSyncCatchup (o: BenchOptions): Promise<Entry[]> {
  const runs = o.quick ? 2 : 3
  const chain = await loadBenchChain(SYNC_BLOCKS, o.log)
  const serverDir = await prepareServerDir(chain, o.log)
  const server = await startNode({ role: 'validator', network: chain.net.config, dataDir: serverDir, bootstraps: [], listen: ['/ip4/127.0.0.1/tcp/0'], local: true })
  const results: RunResult[] = []
  try {
    if (server.peer.chain.height !== SYNC_BLOCKS) throw new Error(`server loaded height ${server.peer.chain.height}, expected ${SYNC_BLOCKS}`)
    for (let i = 0; i < runs; i++) {
      await settle()
      const r = await syncOnce(chain, server, i)
      results.push(r)
      o.log(`  run ${i + 1}/${runs}: ${r.blocksPerS.toFixed(0)} blocks/s (${(r.totalMs / 1000).toFixed(2)} s; first block after ${r.firstBlockMs.toFixed(0)} ms; ` +
        `verify+store ${(r.acceptMs / 1000).toFixed(2)} s, fetch ${(r.fetchMs / 1000).toFixed(2)} s over ${r.batches} batches)`)
    }
  } finally {
    await server.stop()
  }
  const main = metric(results.map((r) => r.blocksPerS), 'blocks/s', 0)
  return [entry('sync-catchup', main, { op: '>=', value: TARGET_BLOCKS_PER_S }, {
    blocks: SYNC_BLOCKS,
    totalTime: metric(results.map((r) => r.totalMs / 1000), 's', 2),
    dialToFirstBlock: metric(results.map((r) => r.firstBlockMs), 'ms', 0),
    verifyAndStore: metric(results.map((r) => r.acceptMs / 1000), 's (acceptBatch)', 2),
    fetch: metric(results.map((r) => r.fetchMs / 1000), 's (block requests)', 2)
  })]
}
