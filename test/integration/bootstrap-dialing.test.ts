/**
 * A bootstrap is passive: it keeps the other bootstraps connected but never dials light peers to top up its
 * connections. If it did, a light peer that hangs up its bootstraps (the launch dial policy) would be dialed
 * straight back, handed PX again, and hang up again, every dialer pass: the mesh never settles.
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
import { multiaddr } from '@multiformats/multiaddr'
import { startNode } from '../../src/node/node.ts'
import { createTestNetwork } from '../helpers/chain-builder.ts'

async function until (what: string, ok: () => boolean, on: (wake: () => void) => () => void, ms = 15_000): Promise<void> {
  if (ok()) return
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error(`timed out after ${ms} ms waiting for ${what}`)) }, ms)
    const off = on(() => { if (ok()) { clearTimeout(timer); off(); resolve() } })
  })
}

test('a bootstrap does not dial light peers back after they hang up (it only keeps other bootstraps)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lp-bootdial-'))
  const net = createTestNetwork({ validators: 12 })
  const boot = await startNode({ role: 'bootstrap', network: net.config, dataDir: join(dir, 'boot'), bootstraps: [], local: true, listen: ['/ip4/127.0.0.1/tcp/0'] })
  const lights: Libp2p[] = []
  try {
    const bLibp2p = boot.peer.libp2p as unknown as Libp2p
    const dialed: string[] = []
    const dial = bLibp2p.dial.bind(bLibp2p)
    bLibp2p.dial = (async (...a: Parameters<Libp2p['dial']>) => { dialed.push(String(a[0])); return await dial(...a) }) as Libp2p['dial']
    for (let k = 0; k < 3; k++) {
      lights.push(await createLibp2p({
        addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
        transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
        connectionGater: { denyDialMultiaddr: () => false }, services: { identify: identify() }
      }))
    }
    const bAddr = multiaddr(boot.addrs().find((a) => a.includes('/tcp/') && !a.includes('/ws'))!)
    let identified = 0
    const onIdentify = (): void => { identified++ }
    bLibp2p.addEventListener('peer:identify', onIdentify)
    await Promise.all(lights.map(async (l) => await l.dial(bAddr)))
    // the bootstrap learns their listen addresses by identify: now it could dial them
    await until('identify of the 3 light peers', () => identified >= 3, (wake) => { bLibp2p.addEventListener('peer:identify', wake); return () => { bLibp2p.removeEventListener('peer:identify', wake) } })
    bLibp2p.removeEventListener('peer:identify', onIdentify)
    for (const l of lights) assert.ok((await bLibp2p.peerStore.get(l.peerId)).addresses.length > 0, 'the bootstrap knows a dialable address of each light peer')

    await Promise.all(lights.map(async (l) => { await l.hangUp(boot.peer.libp2p.peerId) }))
    await until('the bootstrap to see all 3 disconnect', () => bLibp2p.getConnections().length === 0, (wake) => { bLibp2p.addEventListener('connection:close', wake); return () => { bLibp2p.removeEventListener('connection:close', wake) } })
    // one full maintenance pass with no connection at all: a topping-up dialer would dial the light peers now
    await boot.peer.dialer.check()
    assert.deepEqual(dialed, [], 'the bootstrap dialed no one')
    assert.equal(bLibp2p.getConnections().length, 0)
    for (const l of lights) assert.equal(l.getConnections().length, 0, 'no light peer was dialed back')
  } finally {
    await Promise.allSettled(lights.map(async (l) => { await l.stop() }))
    await boot.stop()
    await rm(dir, { recursive: true, force: true })
  }
})
