/**
 * The private gossipsub members our peers extend: all present in the installed (pinned) version, and a
 * version without one is a coded start-up error that names it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { gossipsub } from '@libp2p/gossipsub'
import { GOSSIPSUB_INTERNALS, TESTED_GOSSIPSUB_VERSION, assertGossipsubInternals, missingGossipsubInternals } from '../../src/peer/gossipsub-internals.ts'
import { gossipOptions } from '../../src/peer/gossip-config.ts'
import { topicsFor } from '../../src/peer/topics.ts'

test('package.json pins @libp2p/gossipsub to exactly the tested version, and that version is installed', async () => {
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> }
  assert.equal(pkg.dependencies['@libp2p/gossipsub'], TESTED_GOSSIPSUB_VERSION, 'an exact pin, not a range')
  const installed = JSON.parse(await readFile(new URL('../../node_modules/@libp2p/gossipsub/package.json', import.meta.url), 'utf8')) as { version: string }
  assert.equal(installed.version, TESTED_GOSSIPSUB_VERSION)
})

test('a started gossipsub of the installed version has every member we extend', async () => {
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
    services: { identify: identify(), pubsub: gossipsub(gossipOptions({ role: 'bootstrap', topics: topicsFor(new Uint8Array(32)), isBootstrap: () => false, local: true })) }
  })
  try {
    assert.deepEqual(missingGossipsubInternals(node.services.pubsub), [])
    assert.doesNotThrow(() => { assertGossipsubInternals(node.services.pubsub) })
  } finally {
    await node.stop()
  }
})

test('a gossipsub without one of them is GOSSIPSUB_UNSUPPORTED, naming each missing member', () => {
  const complete: Record<string, unknown> = {
    makePrune: () => {}, sendRpc: () => {}, handlePrune: () => {}, createOutboundStream: () => {}, pxConnect: () => {},
    streamsOutbound: new Map(), peers: new Map(), outboundInflightQueue: { push: () => {}, end: () => {} }
  }
  assert.deepEqual(missingGossipsubInternals(complete), [])
  for (const { member } of GOSSIPSUB_INTERNALS) {
    const partial = { ...complete, [member]: undefined }
    assert.throws(() => { assertGossipsubInternals(partial) }, (err: Error & { code?: string, details?: { missing: string[] } }) => {
      assert.equal(err.code, 'GOSSIPSUB_UNSUPPORTED')
      assert.deepEqual(err.details?.missing, [member])
      assert.match(err.message, new RegExp(`${member}.*${TESTED_GOSSIPSUB_VERSION.replace(/\./g, '\\.')}`))
      return true
    })
  }
  // The wrong kind counts as missing too (a queue without end, a streams object that is not a Map).
  assert.deepEqual(missingGossipsubInternals({ ...complete, outboundInflightQueue: { push: () => {} }, streamsOutbound: {} }), ['streamsOutbound', 'outboundInflightQueue'])
})
