/**
 * Launch simulation at small sizes: the four launch figures pass where they should, fail where they should,
 * and the report is a pure function of the parameters.
 */
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { runLaunchSim } from '../../src/sim/launch-sim.ts'
import type { LaunchSimParams } from '../../src/sim/launch-sim.ts'
import { EventQueue } from '../../src/sim/event-queue.ts'
import { runUpperLimits } from '../../src/sim/upper-limits.ts'
import { main } from '../../src/sim/cli.ts'

/** A healthy small launch: 1,500 peers over ~7.5 s at 2 bootstraps, history PX for a small-world mesh. */
const SMALL: Partial<LaunchSimParams> = {
  peers: 1_500, bootstraps: 2, relays: 2, arrivalRate: 200, pxFromHistory: 8, settleMs: 10_000,
  publishers: 4, messagesPerPublisher: 2, drainMs: 5_000, seed: 11
}

describe('launch sim: healthy small launch', () => {
  const r = runLaunchSim(SMALL)

  test('peer exchange: every GRAFTing peer gets PX within 3 bootstrap heartbeats', () => {
    assert.equal(r.run.stoppedBy, 'done')
    assert.ok(r.peerExchange.pxSent > 0)
    assert.ok(r.peerExchange.heartbeatsOnBootstrap.max <= 3, `max ${r.peerExchange.heartbeatsOnBootstrap.max}`)
    assert.equal(r.peerExchange.over3Heartbeats, 0)
    assert.equal(r.peerExchange.graftsNeverPruned, 0)
    assert.equal(r.peerExchange.pass, true)
    assert.ok(r.peerExchange.meshDegree.p50 >= 6, `mesh p50 ${r.peerExchange.meshDegree.p50}`)
  })

  test('connection management: the high watermark is never breached', () => {
    assert.ok(r.connectionManagement.peak <= r.params.high)
    assert.equal(r.connectionManagement.breached, false)
    for (const b of r.connectionManagement.bootstraps) assert.ok(b.peak <= r.params.high)
  })

  test('routing: no loss with the loss model off', () => {
    assert.equal(r.routing.messages, 8)
    assert.ok(r.routing.expectedDeliveries > 8 * 1_400)
    assert.equal(r.routing.delivered, r.routing.expectedDeliveries)
    assert.equal(r.routing.loss, 0)
    assert.equal(r.routing.pass, true)
    assert.ok(r.routing.latencyMs.p50 > 0 && r.routing.latencyMs.p99 >= r.routing.latencyMs.p50)
    assert.ok(r.routing.duplicatesPerDelivery > 0)
    assert.ok(r.routing.maxHop <= r.params.maxHops)
  })

  test('upper limits at this setting: everyone reached a bootstrap and the mesh', () => {
    assert.equal(r.upperLimits.arrived, 1_500)
    assert.equal(r.upperLimits.neverReachedBootstrap, 0)
    assert.equal(r.upperLimits.neverMeshed, 0)
  })

  test('the report is JSON and deterministic for a fixed seed', () => {
    const again = runLaunchSim(SMALL)
    assert.deepEqual(again, r)
    assert.deepEqual(JSON.parse(JSON.stringify(r)), r)
    const other = runLaunchSim({ ...SMALL, seed: 12 })
    assert.notDeepEqual(other.routing, r.routing)
  })
})

describe('launch sim: failures show in the figures', () => {
  test('a watermark far too low for the flood: peers never reach a bootstrap, yet it is never breached', () => {
    const r = runLaunchSim({ peers: 1_000, bootstraps: 1, relays: 0, arrivalRate: 1_000, high: 4, low: 2, settleMs: 5_000, publishers: 0, seed: 3 })
    assert.ok(r.upperLimits.neverReachedBootstrap > 0, `never reached: ${r.upperLimits.neverReachedBootstrap}`)
    assert.equal(r.upperLimits.pass, false)
    assert.ok(r.connectionManagement.rejectedDials > 0)
    assert.ok(r.connectionManagement.peak <= 4)
  })

  test('reactive trimming (go-libp2p style, trim once per silence period) breaches the high watermark', () => {
    const r = runLaunchSim({ peers: 1_000, bootstraps: 1, relays: 0, arrivalRate: 500, high: 32, low: 24, trimMode: 'reactive', settleMs: 5_000, publishers: 0, seed: 4 })
    assert.ok(r.connectionManagement.peak > 32, `peak ${r.connectionManagement.peak}`)
    assert.equal(r.connectionManagement.pass, false)
  })

  test('a bootstrap PX budget below the arrival rate makes peers wait more than 3 heartbeats', () => {
    const r = runLaunchSim({ peers: 1_000, bootstraps: 1, relays: 0, arrivalRate: 500, bootstrapPxPerHeartbeat: 20, settleMs: 5_000, publishers: 0, seed: 5 })
    assert.ok(r.peerExchange.heartbeatsOnBootstrap.max > 3)
    assert.equal(r.peerExchange.pass, false)
  })

  test('PX from connected peers with one bootstrap per peer partitions the network by bootstrap', () => {
    const r = runLaunchSim({ ...SMALL, bootstrapsPerPeer: 1, pxFromHistory: 0, maxHops: 255 })
    assert.ok(r.routing.loss > 0.2, `loss ${r.routing.loss}`)
    assert.equal(r.routing.pass, false)
  })

  test('a 5 % loss model: gossip repair recovers most messages', () => {
    const r = runLaunchSim({ ...SMALL, lossRate: 0.05 })
    assert.ok(r.routing.droppedByLossModel > 0)
    assert.ok(r.routing.deliveredByGossip > 0)
    assert.ok(r.routing.loss < 0.01, `loss ${r.routing.loss}`)
  })
})

describe('launch sim: machinery', () => {
  test('event queue pops by time, ties in insertion order', () => {
    const q = new EventQueue(2)
    const input = [[5, 1], [1, 2], [5, 3], [0, 4], [3, 5], [1, 6], [9, 7], [0, 8]] as const
    for (const [t, a] of input) q.push(t, 1, a)
    const out: number[] = []
    while (q.pop()) out.push(q.evA)
    assert.deepEqual(out, [4, 8, 2, 6, 5, 1, 3, 7])
  })

  test('bounded: stops by itself at maxEvents', () => {
    const r = runLaunchSim({ peers: 500, bootstraps: 1, maxEvents: 2_000, seed: 1 })
    assert.equal(r.run.stoppedBy, 'maxEvents')
    assert.equal(r.run.events, 2_000)
  })

  test('churn: peers leave, crash and come back without breaking the run', () => {
    const r = runLaunchSim({ ...SMALL, churnPerMinute: 0.2, rejoinAfterMs: 3_000 })
    assert.ok(r.churn.left > 0 && r.churn.crashed > 0 && r.churn.rejoined > 0)
    assert.ok(r.connectionManagement.peak <= r.params.high)
    assert.ok(r.routing.delivered > 0)
  })

  test('upper-limit sweep finds the breaking point', () => {
    const s = runUpperLimits({ base: { bootstraps: 1, relays: 0, settleMs: 20_000, seed: 2 }, peers: [600], highs: [4, 192], arrivalWindowMs: 6_000 })
    assert.equal(s.rows.length, 2)
    assert.equal(s.rows[0]!.pass, false)
    assert.equal(s.rows[1]!.pass, true)
    assert.ok(s.rows[0]!.neverReachedBootstrap > 0)
    assert.deepEqual(s.minPassingHigh, [{ peers: 600, high: 192 }])
  })

  test('cli: --json prints the report; bad flags are usage errors', () => {
    const res = main(['--peers', '300', '--bootstraps', '1', '--relays', '1', '--high', '64', '--low', '48', '--seed', '9', '--publishers', '1', '--settleMs', '3000', '--json'])
    const rep = JSON.parse(res.stdout)
    assert.equal(rep.params.peers, 300)
    assert.equal(rep.params.high, 64)
    assert.match(res.stderr, /wall .* peak RSS/)
    assert.equal(main(['--nope', '1']).code, 2)
    assert.equal(main(['--high', '10', '--low', '20']).code, 2)
  })
})
