/**
 * A real bootstrap (`startNode`, as `lightpulse bootstrap` runs it) on loopback keeps in its PX history only
 * peers that are likely alive: a peer that closes its own connection is forgotten at once, while peers the
 * bootstrap itself trimmed at its watermark stay (they are still in the network, which is what PX from
 * history hands out).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLibp2p } from 'libp2p'
import type { Libp2p } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { gossipsub } from '@libp2p/gossipsub'
import type { GossipSub } from '@libp2p/gossipsub'
import { multiaddr } from '@multiformats/multiaddr'
import { startNode } from '../../src/node/node.ts'
import { gossipOptions } from '../../src/peer/gossip-config.ts'
import { topicsFor } from '../../src/peer/topics.ts'
import { createTestNetwork } from '../helpers/chain-builder.ts'
import { waitUntil } from '../helpers/wait.ts'

test('a bootstrap forgets a peer that left on its own and keeps the peers it trimmed in its PX history', async (t) => {
  const net = createTestNetwork({ label: 'px-liveness' })
  const topics = topicsFor(net.networkId)
  const dir = await mkdtemp(join(tmpdir(), 'lp-px-liveness-'))
  const boot = await startNode({
    role: 'bootstrap', network: net.config, dataDir: join(dir, 'boot'), bootstraps: [], local: true,
    listen: ['/ip4/127.0.0.1/tcp/0'], watermarks: { lowWatermark: 3, highWatermark: 5, gracePeriodMs: 0 }
  })
  const peers: Array<Libp2p<{ pubsub: GossipSub }>> = []
  t.after(async () => {
    for (const p of peers) await Promise.resolve(p.stop()).catch(() => {})
    await boot.stop()
    await rm(dir, { recursive: true, force: true })
  })
  const history = boot.pxHistory!
  const addr = multiaddr(boot.addrs().find((a) => a.includes('/tcp/') && !a.includes('/ws'))!)
  const join1 = async (): Promise<Libp2p<{ pubsub: GossipSub }>> => {
    const p = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
      connectionGater: { denyDialMultiaddr: () => false },
      services: { identify: identify(), pubsub: gossipsub(gossipOptions({ role: 'light', topics, isBootstrap: () => false, local: true })) }
    })
    peers.push(p)
    p.services.pubsub.subscribe(topics.blocks)
    await p.dial(addr)
    return p
  }
  const [a] = [await join1(), await join1(), await join1()]
  // Each subscriber is pruned with PX on arrival, and so recorded.
  await waitUntil('3 peers in the PX history', () => history.size(topics.blocks) === 3, 20_000)
  assert.equal(history.forgotten, 0)
  await a!.stop()
  await waitUntil('the peer that left forgotten', () => history.size(topics.blocks) === 2, 10_000)
  assert.equal(history.forgotten, 1)
  // Two more arrive (4 connections, under the high watermark of 5) and are recorded; a third reaches the watermark,
  // and the bootstrap trims down to 3.
  await join1()
  await join1()
  await waitUntil('4 peers in the PX history', () => history.size(topics.blocks) === 4, 20_000)
  await join1()
  await waitUntil('the bootstrap trimmed at its watermark', () => boot.trimmer!.stats().trimmed >= 1, 20_000)
  await waitUntil('a trimmed peer disconnected', () => peers.filter((p) => p.status === 'started' && p.getConnections().length === 0).length >= 1, 10_000)
  assert.ok(history.size(topics.blocks) >= 4, `the trimmed peers are still handed out (${history.size(topics.blocks)} entries)`)
  assert.equal(history.forgotten, 1, 'only the peer that left on its own was forgotten')
})
