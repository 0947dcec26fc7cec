/** What `<lightpulse-status>` shows (src/widget/view.ts) for the peer's states, from status snapshots. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { widgetView } from '../../src/widget/view.ts'
import type { StatusSnapshot } from '../../src/client/types.ts'

const now = 1_800_000_000_000
const base: StatusSnapshot = {
  running: true, genesis: true, lockReported: false, sync: { height: 40, target: 40, syncing: false, compared: true },
  connections: [{ peer: 'a', direction: 'outbound', transport: 'websockets', bootstrap: true }, { peer: 'b', direction: 'inbound', transport: 'webrtc', bootstrap: false }],
  mesh: {}, bootstraps: { configured: 1, connected: 1, failedAttempts: 0 }, transports: ['websockets'], store: { kind: 'idb' }, crypto: 'webcrypto',
  stats: { rejected: {}, accepted: {} }, head: { height: 40, hash: 'ab', round: 0, signers: 9, timestamp: now - 4_000, verifiedAt: now - 3_900 }
}

test('verified: height, age, signers and peers', () => {
  assert.deepEqual(widgetView(base, now), { state: 'verified', label: 'verified', height: '#40', age: '4 s ago', signers: '9/11 signed', peers: '2 peers' })
})

test('syncing, behind, offline, stasis lock and starting', () => {
  assert.equal(widgetView({ ...base, sync: { ...base.sync, syncing: true } }, now).state, 'syncing')
  const behind = widgetView({ ...base, staleSince: now - 1_000, head: { ...base.head!, timestamp: now - 200_000 } }, now)
  assert.deepEqual([behind.state, behind.age], ['behind', '3 min ago'])
  assert.equal(widgetView({ ...base, connections: [], bootstraps: { configured: 1, connected: 0, failedAttempts: 2 } }, now).state, 'offline')
  // Not offline before a dial has failed: the first dial is still in flight.
  assert.equal(widgetView({ ...base, connections: [], bootstraps: { configured: 1, connected: 0, failedAttempts: 0 } }, now).state, 'verified')
  const locked = widgetView({ ...base, genesis: false, lockReported: true, head: undefined }, now)
  assert.deepEqual([locked.state, locked.height, locked.signers], ['locked', '—', ''])
  assert.equal(widgetView({ ...base, genesis: false, head: undefined }, now).state, 'starting', 'no stasis lock claimed before a peer reported it')
  assert.equal(widgetView(undefined, now).state, 'starting')
  assert.equal(widgetView({ ...base, running: false }, now).state, 'starting')
  assert.equal(widgetView({ ...base, connections: [base.connections[0]!] }, now).peers, '1 peer')
})
