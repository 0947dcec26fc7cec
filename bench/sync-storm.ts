/**
 * sync-storm: the sync rate a serving node keeps for an honest peer while other peers storm it.
 *
 * A serving Peer (memory store, 600 blocks, the default per-peer sync budgets of src/peer/sync-budget.ts) on
 * 127.0.0.1. The storm: STORMERS raw libp2p nodes, each keeping 8 streams busy with BLOCKS requests for 64
 * blocks from random heights, as fast as the server answers or refuses them, for STORM_MS. Measured: an honest
 * peer that asks for 64 blocks HONEST_RPS times a second (within the per-peer budget of 20/s, as a syncing
 * peer does): the requests answered in full per second during the storm, and their latency. Reference in the
 * same run, before each storm: the same honest loop with no storm. Also reported: what the stormers got
 * (answered, refused) and whether the server blocked them. Runs: 3 (2 with --quick).
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { lpStream } from '@libp2p/utils'
import { Peer } from '../src/peer/peer.ts'
import { syncProtocolFor, topicsFor } from '../src/peer/topics.ts'
import { createNodeLibp2p } from '../src/node/libp2p-node.ts'
import { createMemoryStore } from '../src/storage/memory-store.ts'
import { createNodeVerifier } from '../src/crypto/node.ts'
import { MAX_BLOCK_SIZE, MAX_SYNC_BATCH, Writer } from '../src/protocol/index.ts'
import { buildChain, buildGenesis, createTestNetwork } from '../test/helpers/chain-builder.ts'
import { entry, metric } from './common.ts'
import type { BenchOptions, Entry } from './common.ts'

const BLOCKS = 600
const STORMERS = 6
const STREAMS_EACH = 8
const STORM_MS = 8_000
const HONEST_RPS = 15

export async function runSyncStorm (o: BenchOptions): Promise<Entry[]> {
  const runs = o.quick ? 2 : 3
  const net = createTestNetwork({ label: 'sync-storm' })
  const g = await buildGenesis(net)
  const built = await buildChain(net, g.state, BLOCKS)
  const topics = topicsFor(net.networkId)
  const node = async (role: 'validator' | 'light'): Promise<Awaited<ReturnType<typeof createNodeLibp2p>>> => await createNodeLibp2p({
    role, privateKey: await generateKeyPair('Ed25519'), topics, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrapIds: new Set(), blocklist: new Set(), local: true
  })
  const serverLibp2p = await node('validator')
  const server = new Peer({ network: net.config, libp2p: serverLibp2p, store: createMemoryStore(), verifier: createNodeVerifier(), role: 'light', bootstraps: [], minPeers: 0 })
  await server.chain.acceptGenesis(g.block)
  for (let i = 0; i < BLOCKS; i += MAX_SYNC_BATCH) await server.chain.acceptBatch(built.blocks.slice(i, i + MAX_SYNC_BATCH))
  await server.start()
  const addr = multiaddr(serverLibp2p.getMultiaddrs()[0]!.toString())
  const protocol = syncProtocolFor(net.networkId)
  const honestLibp2p = await node('light')
  const honest = new Peer({ network: net.config, libp2p: honestLibp2p, store: createMemoryStore(), verifier: createNodeVerifier(), role: 'light', bootstraps: [], minPeers: 0 })
  await honest.chain.acceptGenesis(g.block)
  await honest.start()
  await honestLibp2p.dial(addr)
  const quiet: number[] = []
  const stormed: number[] = []
  let answered = 0
  let refused = 0
  let blocked = 0
  let latencies: number[] = []
  const p50s: number[] = []
  const p99s: number[] = []
  const quietP50s: number[] = []
  const honestRate = async (ms: number, into: number[]): Promise<number> => {
    let n = 0
    const start = Date.now()
    for (let i = 0; Date.now() - start < ms; i++) {
      const due = start + i * (1000 / HONEST_RPS)
      if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now())) // the honest pace
      const t0 = performance.now()
      const from = 1 + Math.floor(Math.random() * (BLOCKS - 64))
      const got = await honest.sync.blocks(serverLibp2p.peerId, from, 64).catch(() => [])
      if (got.length === 64) { n++; into.push(performance.now() - t0) }
    }
    return n / ((Date.now() - start) / 1000)
  }
  try {
    for (let r = 0; r < runs; r++) {
      const quietLat: number[] = []
      quiet.push(await honestRate(STORM_MS, quietLat))
      quietLat.sort((a, b) => a - b)
      quietP50s.push(quietLat[Math.floor(quietLat.length / 2)] ?? NaN)
      const stormers = await Promise.all(Array.from({ length: STORMERS }, async () => await node('light')))
      let stop = false
      const loops: Array<Promise<void>> = []
      for (const s of stormers) {
        await s.start()
        await s.dial(addr).catch(() => {})
        for (let k = 0; k < STREAMS_EACH; k++) {
          loops.push((async () => {
            while (!stop) {
              try {
                const stream = await s.dialProtocol(addr, protocol)
                const lp = lpStream(stream, { maxDataLength: MAX_BLOCK_SIZE })
                await lp.write(new Writer(11).u8(2).u64(1 + Math.floor(Math.random() * (BLOCKS - 64))).u16(64).finish())
                for (let i = 0; i < 64; i++) await lp.read({ signal: AbortSignal.timeout(10_000) })
                answered++
                await stream.close().catch(() => {})
              } catch {
                refused++
                await new Promise((resolve) => setTimeout(resolve, 5)) // a refused stream: try again at once (bounded by `stop`)
              }
            }
          })())
        }
      }
      const rate = await honestRate(STORM_MS, latencies)
      stop = true
      await Promise.all(loops)
      blocked += stormers.filter((s) => server.blocklist.has(s.peerId.toString())).length
      await Promise.all(stormers.map(async (s) => { await s.stop() }))
      stormed.push(rate)
      latencies.sort((a, b) => a - b)
      p50s.push(latencies[Math.floor(latencies.length / 2)] ?? NaN)
      p99s.push(latencies[Math.min(latencies.length - 1, Math.ceil(latencies.length * 0.99) - 1)] ?? NaN)
      latencies = []
      o.log(`  run ${r + 1}/${runs}: honest peer ${rate.toFixed(1)} requests/s (64 blocks each) during a storm of ${STORMERS} peers x ${STREAMS_EACH} streams; ${quiet[r]!.toFixed(1)} requests/s with no storm`)
    }
  } finally {
    await honest.stop()
    await server.stop()
  }
  return [entry('sync-under-storm', metric(stormed, 'requests/s (honest peer, 64 blocks each, during the storm)', 1), { op: 'report', value: 0 }, {
    referenceNoStorm: metric(quiet, `requests/s (same honest loop at ${HONEST_RPS}/s, same server, no storm; interleaved)`, 1),
    honestLatencyP50DuringStorm: metric(p50s, 'ms per request (p50 of each run)', 1),
    honestLatencyP99DuringStorm: metric(p99s, 'ms per request (p99 of each run)', 1),
    referenceLatencyP50NoStorm: metric(quietP50s, 'ms per request (p50 of each run, no storm)', 1),
    honestBlocked: server.blocklist.has(honestLibp2p.peerId.toString()) ? 'yes' : 'no',
    stormerRequestsAnswered: Math.round(answered / runs),
    stormerRequestsRefused: Math.round(refused / runs),
    stormersBlocked: `${blocked} of ${STORMERS * runs}`
  })]
}
