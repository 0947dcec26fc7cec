/**
 * gossip-flood: the block lag of a validator while a stock gossipsub peer floods it.
 *
 * A loopback devnet (13 validators, 1 bootstrap, as `lightpulse devnet` runs them). A stock js-libp2p node with
 * gossipsub (test/peer/gossip-penalty.test.ts's attacker) dials validator 0 and publishes Ignore-class junk on
 * three topics, RATE messages a second each, for FLOOD_MS: round messages for an old parent (STALE), that
 * old block again (STALE) and an expired data transaction (TX_EXPIRED) — every message distinct, so gossipsub's
 * dedup does not absorb them, and none invalid, so only the application's Ignore budget (gossip-penalty.ts)
 * can cost the sender. Sampled every 100 ms: how many blocks validator 0 is behind the devnet's tip. The
 * reference, in the same run: the same sampling for FLOOD_MS just before the flood. Runs: 3 (2 with --quick).
 */
import { multiaddr } from '@multiformats/multiaddr'
import { Devnet } from '../src/node/devnet.ts'
import { topicsFor } from '../src/peer/topics.ts'
import { computeNetworkId, fromHex } from '../src/protocol/index.ts'
import { createAttacker, fetchBlock, publishIgnoreJunk, tcpAddr } from './abuse.ts'
import { entry, metric } from './common.ts'
import type { BenchOptions, Entry } from './common.ts'

const RATE = 1_000
const FLOOD_MS = 10_000

async function sampleLag (devnet: Devnet, ms: number): Promise<number[]> {
  const out: number[] = []
  const end = Date.now() + ms
  while (Date.now() < end) {
    const victim = devnet.validatorViews.find((v) => v.index === 0)!
    out.push(Math.max(0, devnet.tipHeight - victim.height))
    await new Promise((resolve) => setTimeout(resolve, 100)) // sampling interval
  }
  return out
}

export async function runGossipFlood (o: BenchOptions): Promise<Entry[]> {
  const runs = o.quick ? 2 : 3
  const devnet = new Devnet({ validators: 13, bootstraps: 1 })
  const flooded: number[] = []
  const quiet: number[] = []
  const sent: number[] = []
  const sentTo: number[] = []
  try {
    o.log('  starting a devnet (13 validators, 1 bootstrap)...')
    await devnet.start()
    await devnet.runUntil(5, 120_000)
    const topics = topicsFor(computeNetworkId(devnet.network))
    const old = fromHex([...devnet.blocks.get(1)!.hashes][0]!)
    for (let r = 0; r < runs; r++) {
      const q = await sampleLag(devnet, FLOOD_MS)
      const attacker = await createAttacker(topics)
      let n = 0
      let delivered = 0
      let lag: number[] = []
      try {
        for (const t of [topics.rounds, topics.blocks, topics.txs]) attacker.services.pubsub.subscribe(t)
        const victim = devnet.validatorViews.find((v) => v.index === 0)!
        await attacker.dial(multiaddr(tcpAddr(victim.addrs)))
        for (let i = 0; i < 100 && attacker.services.pubsub.getSubscribers(topics.rounds).length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50))
        const oldBlock = await fetchBlock(attacker, tcpAddr(victim.addrs), computeNetworkId(devnet.network), 1)
        const sampling = sampleLag(devnet, FLOOD_MS)
        const junk = await publishIgnoreJunk(attacker, topics, computeNetworkId(devnet.network), { hash: old, block: oldBlock }, { perTick: RATE / 100, maxMs: FLOOD_MS })
        n = junk.sent
        delivered = junk.delivered
        lag = await sampling
      } finally {
        await attacker.stop()
      }
      const max = Math.max(...lag)
      flooded.push(max)
      quiet.push(Math.max(...q))
      sent.push(n)
      sentTo.push(delivered)
      o.log(`  run ${r + 1}/${runs}: ${n} messages on each of 3 topics in ${FLOOD_MS / 1000} s (${delivered} of them sent to the validator); validator 0 at most ${max} block(s) behind the tip during the flood (p50 ${lag.sort((a, b) => a - b)[Math.floor(lag.length / 2)]}), at most ${Math.max(...q)} before it`)
    }
  } finally {
    await devnet.stop()
  }
  return [entry('gossip-flood-block-lag', metric(flooded, 'blocks (max lag of the flooded validator behind the tip)', 0), { op: '<=', value: 1 }, {
    referenceQuiet: metric(quiet, 'blocks (max lag, same validator, the 10 s before the flood)', 0),
    messagesPerTopic: metric(sent, 'messages (each of rounds, blocks, txs)', 0),
    publishedToTheValidator: metric(sentTo, 'messages (of the 3 topics together) that gossipsub sent to the validator', 0),
    rate: `${RATE} messages/s per topic, ${FLOOD_MS / 1000} s`
  })]
}
