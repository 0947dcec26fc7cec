/**
 * ByteCounter on real libp2p nodes over loopback TCP: it counts a protocol's payload exactly, the connection's
 * bytes (payload plus noise and yamux framing), and takes nothing from the streams it counts (a stream buffers
 * data until its consumer listens; a counter that listened would consume it: both ends must still read all).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { ByteCounter } from '../../src/peer/byte-counter.ts'

const PROTOCOL = '/test/bytes/1.0.0'

async function node (bytes?: ByteCounter): Promise<Awaited<ReturnType<typeof createLibp2p>>> {
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(bytes !== undefined ? { metrics: bytes.metrics() } : {})
  })
}

test('counts a protocol\'s payload exactly and the connection\'s bytes with framing; the streams still get all their data', async () => {
  const counted = new ByteCounter()
  const server = await node(counted)
  const client = await node()
  try {
    const received: number[] = []
    await server.handle(PROTOCOL, async (stream) => {
      let n = 0
      for await (const chunk of stream) n += chunk.byteLength
      received.push(n)
      stream.send(new Uint8Array(1_000).fill(7))
      await stream.close()
    })
    const upload = 200_000
    const stream = await client.dialProtocol(server.getMultiaddrs()[0]!, PROTOCOL)
    for (let off = 0; off < upload; off += 10_000) {
      if (!stream.send(new Uint8Array(10_000).fill(1))) await new Promise((resolve) => stream.addEventListener('drain', resolve, { once: true }))
    }
    await stream.close()
    let back = 0
    for await (const chunk of stream) back += chunk.byteLength
    assert.deepEqual(received, [upload], 'the handler read every byte sent')
    assert.equal(back, 1_000, 'the client read the whole answer')
    const p = counted.byProtocol.get(PROTOCOL)
    assert.ok(p !== undefined, `the protocol is counted (${[...counted.byProtocol.keys()].join(', ')})`)
    assert.equal(p.in, upload, 'payload in, exactly')
    assert.equal(p.out, 1_000, 'payload out, exactly')
    assert.ok(counted.total.in > upload && counted.total.in < upload * 1.05, `connection bytes in: payload plus framing (${counted.total.in})`)
    assert.ok(counted.total.out > 1_000, `connection bytes out include the answer and the handshake (${counted.total.out})`)
  } finally {
    await client.stop()
    await server.stop()
  }
})
