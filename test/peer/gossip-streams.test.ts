/**
 * gossipsub's outbound streams opened concurrently across peers, serially per peer: against a stand-in for
 * gossipsub's internals (unit), and on a real gossipsub on loopback (the private field it replaces exists in
 * the installed version, and streams still open and carry subscriptions).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { gossipsub } from '@libp2p/gossipsub'
import type { GossipSub } from '@libp2p/gossipsub'
import { concurrentOutboundStreams, keepOutboundStreams } from '../../src/peer/gossip-streams.ts'
import { systemClock } from '../../src/peer/clock.ts'
import { gossipOptions } from '../../src/peer/gossip-config.ts'
import { topicsFor } from '../../src/peer/topics.ts'

interface Deferred { promise: Promise<void>, resolve: () => void }
const deferred = (): Deferred => { let resolve!: () => void; const promise = new Promise<void>((r) => { resolve = r }); return { promise, resolve } }
const flush = async (): Promise<void> => { for (let i = 0; i < 10; i++) await Promise.resolve() }

class Stand {
  started: string[] = []
  finished: string[] = []
  gates = new Map<string, Deferred[]>()
  ended = 0
  outboundInflightQueue = { push: (_: unknown): void => { throw new Error('the sequential queue was used') }, end: (): void => { this.ended++ } }
  gate (id: string): Deferred { const d = deferred(); this.gates.set(id, [...(this.gates.get(id) ?? []), d]); return d }
  async createOutboundStream (peerId: { toString: () => string }): Promise<void> {
    const id = peerId.toString()
    this.started.push(id)
    const d = this.gates.get(id)?.shift()
    if (d !== undefined) await d.promise
    this.finished.push(id)
  }

  push (id: string): void { (this as unknown as { outboundInflightQueue: { push: (x: unknown) => void } }).outboundInflightQueue.push({ peerId: { toString: () => id }, connection: {} }) }
}

type GossipNode = Awaited<ReturnType<typeof createLibp2p<{ pubsub: GossipSub }>>>

/** A real libp2p node on loopback TCP with gossipsub as the light peers configure it. */
async function gossipNode (topics: ReturnType<typeof topicsFor>, mesh?: Parameters<typeof gossipOptions>[0]['mesh']): Promise<GossipNode> {
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
    services: { identify: identify(), pubsub: gossipsub(gossipOptions({ role: 'light', topics, isBootstrap: () => false, local: true, ...(mesh !== undefined ? { mesh } : {}) })) }
  })
}

test('a slow peer does not hold up others; one open at a time per peer; at most `concurrency` at once; end() stops it', async () => {
  const s = new Stand()
  assert.equal(concurrentOutboundStreams(s as unknown as GossipSub, { concurrency: 2 }), true)
  const slowA = s.gate('a')
  const a2 = s.gate('a')
  s.push('a')
  s.push('b')
  await flush()
  assert.deepEqual(s.finished, ['b'], 'b opened while a is still stuck (a sequential queue would wait for a)')
  s.push('a') // a second open for a waits for the first
  s.push('c')
  const slowC = s.gate('c')
  const slowD = s.gate('d')
  s.push('d') // a and c hold the 2 slots
  await flush()
  assert.deepEqual(s.started, ['a', 'b', 'c'], `d waits for a slot, a's second open waits for its first: ${s.started.join(',')}`)
  slowC.resolve()
  await flush()
  assert.deepEqual(s.started, ['a', 'b', 'c', 'd'], 'd got the slot c freed')
  slowA.resolve()
  await flush()
  assert.deepEqual(s.started, ['a', 'b', 'c', 'd', 'a'], "a's second open ran after its first")
  a2.resolve()
  slowD.resolve()
  await flush()
  assert.deepEqual(s.finished.sort(), ['a', 'a', 'b', 'c', 'd'])
  s.outboundInflightQueue.end()
  assert.equal(s.ended, 1, 'ends the queue gossipsub made, so its loop stops')
  s.push('e')
  await flush()
  assert.ok(!s.started.includes('e'), 'nothing opens after end()')
})

test('returns false and changes nothing without the internals', () => {
  const bare = { outboundInflightQueue: undefined }
  assert.equal(concurrentOutboundStreams(bare as unknown as GossipSub), false)
  assert.equal(bare.outboundInflightQueue, undefined)
})

test('real gossipsub on loopback: the queue is replaced, and outbound streams open and carry subscriptions', async () => {
  const topics = topicsFor(new Uint8Array(32))
  const mk = async (): Promise<GossipNode> => await gossipNode(topics)
  const nodes = [await mk(), await mk(), await mk()]
  try {
    for (const n of nodes) {
      assert.equal(concurrentOutboundStreams(n.services.pubsub), true, 'this gossipsub version has the queue')
      n.services.pubsub.subscribe(topics.blocks)
    }
    const [hub, x, y] = nodes as [typeof nodes[0], typeof nodes[0], typeof nodes[0]]
    await Promise.all([x.dial(hub.getMultiaddrs()[0]!), y.dial(hub.getMultiaddrs()[0]!)])
    // the hub learns both subscriptions over their outbound streams and they learn its over the hub's
    const deadline = Date.now() + 15_000
    const ok = (): boolean => hub.services.pubsub.getSubscribers(topics.blocks).length === 2 &&
      x.services.pubsub.getSubscribers(topics.blocks).length === 1 && y.services.pubsub.getSubscribers(topics.blocks).length === 1
    while (!ok() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    assert.ok(ok(), 'subscriptions exchanged both ways')
    const out = (hub.services.pubsub as unknown as { streamsOutbound: Map<string, unknown> }).streamsOutbound
    assert.equal(out.size, 2, 'one outbound stream per peer, no duplicates')
  } finally {
    await Promise.all(nodes.map(async (n) => { await n.stop() }))
  }
})

test('keeper: when the connection carrying our outbound stream closes and another remains, the stream reopens there and gossip flows', async () => {
  const topics = topicsFor(new Uint8Array(32))
  const mk = async (): Promise<GossipNode> => await gossipNode(topics, { heartbeatMs: 200 })
  const until = async (what: string, cond: () => boolean, ms = 15_000): Promise<void> => {
    const end = Date.now() + ms
    while (!cond()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  const outboundMeshsub = (n: Awaited<ReturnType<typeof mk>>, peer: string): Array<ReturnType<typeof n.getConnections>[number]> =>
    n.getConnections().filter((c) => c.remotePeer.toString() === peer && c.status === 'open' &&
      c.streams.some((s) => s.direction === 'outbound' && s.protocol?.startsWith('/meshsub') === true))
  // Without the keeper, gossipsub reopens the stream only if some later identify event happens to name the
  // remaining connection (an identify push, say): in a browser nothing does, and gossip to that peer stops.
  {
    const [a, b] = [await mk(), await mk()]
    // a long interval: the reopen comes from the connection close, not the periodic check
    const keeper = keepOutboundStreams(a.services.pubsub, a, systemClock, { intervalMs: 600_000 })
    try {
      for (const n of [a, b]) n.services.pubsub.subscribe(topics.txs)
      const bid = b.peerId.toString()
      let identified = 0
      a.addEventListener('peer:identify', (e) => { if (e.detail.peerId.equals(b.peerId)) identified++ })
      await a.dial(b.getMultiaddrs()[0]!)
      await until('a has an outbound stream to b', () => outboundMeshsub(a, bid).length === 1)
      await a.dial(b.getMultiaddrs()[0]!, { force: true })
      await until('two connections a→b', () => a.getConnections(b.peerId).filter((c) => c.status === 'open').length === 2)
      // Identify on the second connection has run: that is when the registrar tells gossipsub about it (and
      // gossipsub skips it, having a stream). A close before that would let gossipsub open one there itself.
      await until('identify on both connections', () => identified >= 2)
      const carrying = outboundMeshsub(a, bid)[0]!
      await carrying.close()
      await until('the carrying connection closed', () => a.getConnections(b.peerId).every((c) => c.id !== carrying.id))
      assert.equal(a.getConnections(b.peerId).length, 1, 'a is still connected to b')
      await until('the stream reopened on the remaining connection', () => outboundMeshsub(a, bid).length === 1)
      assert.ok(keeper.repairs >= 1, 'the keeper queued it')
      const got: Uint8Array[] = []
      b.services.pubsub.addEventListener('message', (e) => { got.push(e.detail.data) })
      await until('b sees a as a txs subscriber', () => b.services.pubsub.getSubscribers(topics.txs).some((p) => p.equals(a.peerId)))
      await a.services.pubsub.publish(topics.txs, new Uint8Array([1, 2, 3]))
      await until('b received a\'s message', () => got.length > 0)
    } finally {
      keeper.stop()
      await Promise.all([a, b].map(async (n) => { await n.stop() }))
    }
  }
})
