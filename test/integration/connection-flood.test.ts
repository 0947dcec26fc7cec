/**
 * Admission during a connection flood (src/node/admission.ts), on loopback: a real bootstrap (startNode) on
 * 127.0.0.1, flooded with raw TCP sockets that never start the noise handshake, 1,000 attempts with up to 300
 * open at once, from other loopback addresses (all of 127.0.0.0/8 is loopback here: a socket bound to
 * 127.0.1.2 reaches 127.0.0.1). An honest libp2p node dialing from 127.0.0.1 while the flood holds its sockets
 * open must get in; the flooding host is refused before any handshake and counted; the chain-free bootstrap's
 * connections stay under the high watermark. Without the admission gater the flood fills libp2p's 64 pending
 * slots (each held for the 10 s upgrade timeout) and the honest dial is refused.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { startNode } from '../../src/node/node.ts'
import type { RunningNode } from '../../src/node/node.ts'
import { DEFAULT_ADMISSION, subnetOf } from '../../src/node/admission.ts'
import { createTestNetwork } from '../helpers/chain-builder.ts'
import { AT_ONCE, flood, floodUnderWay, honestDial } from '../helpers/flood.ts'

function portOf (addr: string): number {
  return Number(multiaddr(addr).getComponents().find((c) => c.name === 'tcp')!.value)
}

async function withBootstrap (fn: (boot: RunningNode, port: number, addr: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'lp-flood-'))
  const net = createTestNetwork({ validators: 12 })
  const boot = await startNode({
    role: 'bootstrap', network: net.config, dataDir: join(dir, 'boot'), bootstraps: [], local: true,
    listen: ['/ip4/127.0.0.1/tcp/0'], admission: DEFAULT_ADMISSION, watermarks: { lowWatermark: 40, highWatermark: 48 }
  })
  try {
    const addr = boot.addrs().find((a) => a.includes('/tcp/') && !a.includes('/ws'))!
    await fn(boot, portOf(addr), addr)
  } finally {
    await boot.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

test('one host floods a bootstrap with 1,000 sockets that never handshake: an honest newcomer still gets in', { timeout: 120_000 }, async () => {
  await withBootstrap(async (boot, port, addr) => {
    const f = flood(port, ['127.0.1.2'], { attempts: 1_000, atOnce: AT_ONCE })
    try {
      await floodUnderWay(f, AT_ONCE)
      const r = await honestDial(addr)
      assert.ok(r.ok, `the honest dial failed during the flood: ${r.error ?? ''}`)
      assert.ok(boot.admission.refused.ip > 0, 'the flooding host was refused at its per-IP budget')
      assert.ok(boot.admission.inHandshake <= 4 + 1, `at most the per-IP budget of its sockets in the handshake (${boot.admission.inHandshake})`)
      assert.ok(boot.peer.libp2p.getConnections().length <= 48, 'the high watermark holds')
    } finally {
      f.stop()
    }
    assert.ok(f.refusedEarly() > 0, 'refused sockets were closed at once')
  })
})

test('a flood spread over one /24 is held to the subnet budget; a host outside it still gets in', { timeout: 120_000 }, async () => {
  await withBootstrap(async (boot, _port, addr) => {
    const port = portOf(addr)
    const sources = Array.from({ length: 200 }, (_, i) => `127.0.2.${i + 1}`)
    assert.equal(new Set(sources.map(subnetOf)).size, 1)
    const f = flood(port, sources, { attempts: 1_000, atOnce: AT_ONCE })
    try {
      await floodUnderWay(f, AT_ONCE)
      const r = await honestDial(addr)
      assert.ok(r.ok, `the honest dial failed during the flood: ${r.error ?? ''}`)
      assert.ok(boot.admission.refused.subnet > 0, 'the /24 was refused at its budget')
      assert.ok(boot.admission.inHandshake <= 16 + 1, `at most the subnet budget in the handshake (${boot.admission.inHandshake})`)
    } finally {
      f.stop()
    }
  })
})
