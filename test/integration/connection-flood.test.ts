/**
 * Admission during a connection flood (src/node/admission.ts), on loopback: a real bootstrap (startNode) on
 * 127.0.0.1, flooded with raw TCP sockets that never start the noise handshake, 1,000 attempts with up to 300
 * open at once, from other loopback addresses (all of 127.0.0.0/8 is loopback here: a socket bound to
 * 127.0.1.2 reaches 127.0.0.1). An honest libp2p node dialing from 127.0.0.1 while the flood holds its sockets
 * open must get in; the flooding host is refused before any handshake and counted; the chain-free bootstrap's
 * connections stay under the high watermark. Without the admission gater the flood fills libp2p's 64 pending
 * slots (each held for the 10 s upgrade timeout) and the honest dial is refused. A flood from 40 /24s, each
 * under its budgets, fills the strangers' slots; the honest newcomer gets in by evicting a flood socket that
 * has been in its handshake for over a second, because the refused /24s wait out their cool-down.
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

test('a flood spread over 40 /24s, each under its budgets, fills the strangers\' slots: an honest newcomer from another /24 still gets in', { timeout: 120_000 }, async () => {
  await withBootstrap(async (boot, port, addr) => {
    // 40 subnets x 4 hosts: no host over its per-IP budget, no /24 over its subnet budget, together far over
    // the 56 pending slots strangers may hold; the sockets are reopened at once when the bootstrap closes them.
    const sources = Array.from({ length: 160 }, (_, i) => `127.0.${10 + (i % 40)}.${2 + Math.floor(i / 40)}`)
    assert.equal(new Set(sources.map(subnetOf)).size, 40)
    const f = flood(port, sources, { attempts: 1_000_000, atOnce: AT_ONCE })
    try {
      await floodUnderWay(f, AT_ONCE)
      for (let i = 0; i < 100 && boot.admission.refused.capacity === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50))
      assert.ok(boot.admission.refused.capacity > 0, 'the flood filled the strangers\' pending slots')
      // The steady state of the flood: its sockets have held their slots past evictAfterMs and its /24s, refused
      // and cooled down, come back and evict each other.
      for (let i = 0; i < 200 && boot.admission.evicted === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50))
      assert.ok(boot.admission.evicted > 0, 'flood sockets still in their handshake after 1 s were evicted for newer ones')
      const r = await honestDial(addr)
      assert.ok(r.ok, `the honest dial failed during the flood: ${r.error ?? ''}`)
      assert.ok(r.ms < 5_000, `the honest newcomer got in within 5 s (${r.ms.toFixed(0)} ms)`)
      assert.ok(boot.admission.refused.cooldown > 0, 'refused /24s were shut out for their cool-down')
      assert.ok(boot.admission.inHandshake <= 64 - DEFAULT_ADMISSION.reserved + 1, `the flood holds at most the strangers' slots (${boot.admission.inHandshake})`)
      assert.ok(boot.peer.libp2p.getConnections().length <= 48, 'the high watermark holds')
    } finally {
      f.stop()
    }
  })
})
