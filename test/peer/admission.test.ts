/** InboundAdmission's budgets with stand-in sockets (no network): per IP, per /24 and /48, the reserve, release. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import type { MultiaddrConnection, PeerId } from '@libp2p/interface'
import { InboundAdmission, hostOf, subnetOf } from '../../src/node/admission.ts'

function socket (addr: string): MultiaddrConnection & { close: () => void, aborted?: Error } {
  const target = new EventTarget()
  const s = Object.assign(target, {
    remoteAddr: multiaddr(addr),
    close: () => { target.dispatchEvent(new Event('close')) },
    abort: (err: Error) => { s.aborted = err; target.dispatchEvent(new Event('close')) },
    aborted: undefined as Error | undefined
  })
  return s as unknown as MultiaddrConnection & { close: () => void, aborted?: Error }
}
const peer = {} as PeerId

test('hosts and subnets: IPv4 /24, IPv6 /48 (compressed forms too), relayed addresses have none', () => {
  assert.equal(hostOf(multiaddr('/ip4/10.1.2.3/tcp/4001')), '10.1.2.3')
  assert.equal(hostOf(multiaddr('/ip6/2001:db8::1/tcp/4001/ws')), '2001:db8::1')
  assert.equal(hostOf(multiaddr('/ip4/10.1.2.3/tcp/4001/p2p/12D3KooWGVmGXz6BTxdwwJrTuyHDTJjU7FAWKW1i5671SGihTCxC/p2p-circuit')), undefined)
  assert.equal(subnetOf('10.1.2.3'), '10.1.2')
  assert.equal(subnetOf('2001:db8::1'), '2001:db8:0')
  assert.equal(subnetOf('2001:0db8:0000:1::1'), '2001:db8:0')
  assert.equal(subnetOf('::1'), '0:0:0')
})

test('per IP: the 5th socket in the handshake is refused; a closed or upgraded one frees its place', () => {
  const a = new InboundAdmission(64, [], { cooldownMs: 0 })
  const s = Array.from({ length: 5 }, () => socket('/ip4/10.0.0.1/tcp/1'))
  assert.deepEqual(s.map((x) => a.gater.denyInboundConnection(x)), [false, false, false, false, true])
  assert.equal(a.refused.ip, 1)
  s[0]!.close()
  assert.equal(a.gater.denyInboundConnection(socket('/ip4/10.0.0.1/tcp/1')), false, 'a closed socket left the count')
  a.gater.denyInboundUpgradedConnection(peer, s[1]!)
  s[1]!.close() // the upgraded connection closes later: not counted twice
  assert.equal(a.inHandshake, 3, 's2, s3 and the one admitted after s0 closed')
  assert.equal(a.gater.denyInboundConnection(socket('/ip4/10.0.0.1/tcp/1')), false, 'an upgraded socket left the count')
  assert.equal(a.gater.denyInboundConnection(socket('/ip4/10.0.0.2/tcp/1')), false, 'another IP has its own budget')
})

test('per /24: 16 sockets from one subnet, then refusals; a known host is exempt from the subnet budget but not from its own', () => {
  const a = new InboundAdmission(64, ['10.9.9.9'])
  for (let i = 0; i < 16; i++) assert.equal(a.gater.denyInboundConnection(socket(`/ip4/10.9.9.${i + 10}/tcp/1`)), false)
  assert.equal(a.gater.denyInboundConnection(socket('/ip4/10.9.9.200/tcp/1')), true)
  assert.equal(a.refused.subnet, 1)
  assert.equal(a.gater.denyInboundConnection(socket('/ip4/10.9.9.9/tcp/1')), false, 'a configured bootstrap in that /24 still gets in')
  for (let i = 0; i < 3; i++) a.gater.denyInboundConnection(socket('/ip4/10.9.9.9/tcp/1'))
  assert.equal(a.gater.denyInboundConnection(socket('/ip4/10.9.9.9/tcp/1')), true, 'but at most 4 at once')
})

test('the reserve: strangers stop at maxPending - 8, known hosts (configured, or that completed a handshake) use the rest', () => {
  const a = new InboundAdmission(16)
  const first = socket('/ip4/10.0.1.1/tcp/1')
  a.gater.denyInboundConnection(first)
  a.gater.denyInboundUpgradedConnection(peer, first) // 10.0.1.1 is known from now on
  let n = 0
  for (let net = 2; net < 10; net++) for (let i = 1; i <= 4; i++) if (!a.gater.denyInboundConnection(socket(`/ip4/10.0.${net}.${i}/tcp/1`))) n++
  assert.equal(n, 8, 'strangers filled 16 - 8 slots')
  assert.ok(a.refused.capacity > 0)
  assert.equal(a.gater.denyInboundConnection(socket('/ip4/10.0.1.1/tcp/1')), false, 'a host that completed a handshake before gets a reserved slot')
  assert.equal(a.gater.denyInboundConnection(socket('/ip4/10.0.77.1/tcp/1')), true, 'a stranger does not')
})

test('addresses without an IP (relayed) are neither counted nor refused', () => {
  const a = new InboundAdmission(16, [], { perIp: 1 })
  for (let i = 0; i < 5; i++) assert.equal(a.gater.denyInboundConnection(socket('/ip4/10.1.1.1/tcp/1/p2p/12D3KooWGVmGXz6BTxdwwJrTuyHDTJjU7FAWKW1i5671SGihTCxC/p2p-circuit')), false)
  assert.equal(a.inHandshake, 0)
})

test('eviction: with the strangers\' slots full, a newcomer evicts the oldest stranger past evictAfterMs, never a younger one or a known host', () => {
  let t = 0
  const a = new InboundAdmission(16, ['10.5.0.1'], { cooldownMs: 0 }, () => t)
  const known = socket('/ip4/10.5.0.1/tcp/1')
  assert.equal(a.gater.denyInboundConnection(known), false, 'a configured host, oldest of all')
  const strangers = Array.from({ length: 7 }, (_, i) => socket(`/ip4/10.6.${i}.1/tcp/1`))
  for (const s of strangers) { assert.equal(a.gater.denyInboundConnection(s), false); t += 10 }
  assert.equal(a.check('10.7.0.1'), 'capacity', '16 - 8 reserved slots are full (the known host\'s and 7 strangers\'), all younger than 1 s')
  assert.equal(a.gater.denyInboundConnection(socket('/ip4/10.7.0.1/tcp/1')), true)
  t = 1_000 // strangers[0] has been in its handshake for 1,000 ms, strangers[1] for 990
  const newcomer = socket('/ip4/10.7.0.2/tcp/1')
  assert.equal(a.gater.denyInboundConnection(newcomer), false, 'admitted by evicting the oldest stranger')
  assert.ok(strangers[0]!.aborted instanceof Error, 'the oldest stranger was aborted')
  assert.equal(strangers[1]!.aborted, undefined)
  assert.equal(known.aborted, undefined, 'the known host is never evicted')
  assert.equal(a.evicted, 1)
  assert.equal(a.inHandshake, 8, 'known + 6 strangers + the newcomer: the evicted one left the count')
  assert.equal(a.gater.denyInboundConnection(socket('/ip4/10.7.0.3/tcp/1')), true, 'the next oldest is 990 ms in: not yet evictable')
  t = 1_010
  assert.equal(a.gater.denyInboundConnection(socket('/ip4/10.7.0.4/tcp/1')), false)
  assert.ok((strangers[1] as { aborted?: Error }).aborted instanceof Error, 'then the next oldest, 1,000 ms in')
  a.gater.denyInboundUpgradedConnection(peer, newcomer)
  assert.equal(a.inHandshake, 7, 'an upgraded socket leaves the handshake count')
})

test('cool-down: a stranger refused shuts out its IP (over perIp) or its /24 (otherwise) for cooldownMs, not extended by refusals; known hosts are exempt', () => {
  let t = 0
  const a = new InboundAdmission(64, ['10.8.8.8'], { perIp: 1, perSubnet: 2, cooldownMs: 2_000 }, () => t)
  assert.equal(a.gater.denyInboundConnection(socket('/ip4/10.8.8.1/tcp/1')), false)
  assert.equal(a.gater.denyInboundConnection(socket('/ip4/10.8.8.1/tcp/1')), true, 'over its per-IP budget')
  assert.equal(a.refused.ip, 1)
  assert.equal(a.check('10.8.8.1'), 'ip')
  assert.equal(a.gater.denyInboundConnection(socket('/ip4/10.8.8.2/tcp/1')), false, 'another host of that /24 is not cooling')
  assert.equal(a.gater.denyInboundConnection(socket('/ip4/10.8.8.3/tcp/1')), true, 'the /24 is over its budget of 2')
  assert.equal(a.refused.subnet, 1)
  assert.equal(a.check('10.8.8.4'), 'cooldown', 'now the whole /24 cools down')
  assert.equal(a.gater.denyInboundConnection(socket('/ip4/10.8.8.4/tcp/1')), true)
  assert.equal(a.refused.cooldown, 1)
  assert.equal(a.gater.denyInboundConnection(socket('/ip4/10.8.8.8/tcp/1')), false, 'a configured host in that /24 is not refused')
  assert.equal(a.gater.denyInboundConnection(socket('/ip4/10.9.0.1/tcp/1')), false, 'another /24 is not')
  t = 1_999
  assert.equal(a.check('10.8.8.4'), 'cooldown', 'refusals during the cool-down did not extend it')
  t = 2_000
  assert.equal(a.check('10.8.8.4'), 'subnet', 'the cool-down is over (the /24 still holds its 2)')
  const off = new InboundAdmission(64, [], { perIp: 1, cooldownMs: 0 }, () => 0)
  off.gater.denyInboundConnection(socket('/ip4/10.1.1.1/tcp/1'))
  off.gater.denyInboundConnection(socket('/ip4/10.1.1.1/tcp/1'))
  assert.equal(off.check('10.1.1.2'), undefined, 'cooldownMs 0 turns it off (--local)')
})

test('a /24 that took a slot by eviction cools down: one slot by eviction per /24 per cool-down', () => {
  let t = 0
  const a = new InboundAdmission(16, [], { cooldownMs: 2_000 }, () => t)
  for (let i = 0; i < 8; i++) assert.equal(a.gater.denyInboundConnection(socket(`/ip4/10.6.${i}.1/tcp/1`)), false)
  t = 5_000 // all 8 are evictable
  assert.equal(a.gater.denyInboundConnection(socket('/ip4/10.7.0.1/tcp/1')), false, 'evicts one')
  assert.equal(a.check('10.7.0.2'), 'cooldown', 'the same /24 may not evict again at once')
  assert.equal(a.gater.denyInboundConnection(socket('/ip4/10.7.1.1/tcp/1')), false, 'another /24 may')
  assert.equal(a.evicted, 2)
  t = 7_000
  assert.equal(a.check('10.7.0.2'), 'evict', 'after its cool-down it may again')
})
