/** InboundAdmission's budgets with stand-in sockets (no network): per IP, per /24 and /48, the reserve, release. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import type { MultiaddrConnection, PeerId } from '@libp2p/interface'
import { InboundAdmission, hostOf, subnetOf } from '../../src/node/admission.ts'

function socket (addr: string): MultiaddrConnection & { close: () => void } {
  const target = new EventTarget()
  return Object.assign(target, { remoteAddr: multiaddr(addr), close: () => { target.dispatchEvent(new Event('close')) } }) as unknown as MultiaddrConnection & { close: () => void }
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
  const a = new InboundAdmission(64)
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
